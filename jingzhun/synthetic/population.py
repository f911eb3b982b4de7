"""The synthetic resident population: identities, phones and households.

``sample_identities`` draws people (name, sex, birth date, GB 11643 ID number, mobile phone);
``build_population`` places residents into the district's houses at about 2.5 per house, with
relatives often sharing a surname and young children sharing a parent's phone. All per-person
work is vectorised; this module must never loop per person, and never emit an invalid or
duplicate ID number.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import polars as pl

from jingzhun.synthetic import idnumbers, names
from jingzhun.synthetic.divisions import DISTRICT_CODE, SHANGHAI_PROVINCE, Divisions
from jingzhun.synthetic.unique import draw_unique

SHANGHAI_ID_SHARE = 0.6  # residents whose ID was issued in a Shanghai county
PUDONG_ID_SHARE = 0.45  # of those, issued in Pudong itself
MALE_SHARE = 0.505
# Where people born outside Shanghai come from (relative to 1 for any other province).
ORIGIN_PROVINCE_WEIGHTS = {"34": 8, "32": 7, "41": 5, "33": 4, "51": 4, "36": 4, "42": 4, "37": 3, "43": 3, "35": 2}

FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR = 1930, 2022
# Relative births per year at decade anchors: the shape of Shanghai's age pyramid.
_BIRTH_ANCHORS = {
    1930: 0.2,
    1940: 0.5,
    1950: 0.9,
    1960: 1.3,
    1965: 1.5,
    1975: 1.1,
    1987: 1.4,
    1995: 1.0,
    2005: 0.8,
    2015: 0.9,
    2022: 0.5,
}

MOBILE_PREFIXES = np.array(
    [
        130,
        131,
        132,
        133,
        134,
        135,
        136,
        137,
        138,
        139,
        150,
        151,
        152,
        153,
        155,
        156,
        157,
        158,
        159,
        170,
        171,
        173,
        175,
        176,
        177,
        178,
        180,
        181,
        182,
        183,
        184,
        185,
        186,
        187,
        188,
        189,
        191,
        193,
        195,
        196,
        197,
        198,
        199,
    ]
)

# Probability of 0..6 residents in a house (mean ~2.5); empty houses are let or vacant.
HOUSEHOLD_SIZE_P = np.array([0.06, 0.18, 0.30, 0.26, 0.12, 0.05, 0.03])
SHARED_SURNAME_P = 0.55  # a resident carries the household's surname (spouses often do not)
CHILD_AGE = 12
CHILD_SHARES_PHONE_P = 0.6
ADULT_SHARES_PHONE_P = 0.01

GENDERS = pl.Series(["女", "男"])  # indexed by the male flag
POPULATION_COLUMNS = ("person_id", "name", "id_number", "phone", "house_id", "gender", "birth_date")


@dataclass(frozen=True)
class Identities:
    surname_idx: np.ndarray
    given_idx: np.ndarray
    male: np.ndarray
    birth: np.ndarray  # datetime64[D]
    id_bodies: np.ndarray  # int64, the first 17 digits
    phones: np.ndarray  # int64, 11 digits


def sample_area_codes(rng: np.random.Generator, n: int, divisions: Divisions, shanghai_share: float) -> np.ndarray:
    counties = divisions.counties
    province = counties["province_code"].to_numpy()
    codes = counties["area_code"].cast(pl.Int64).to_numpy()
    in_shanghai = province == SHANGHAI_PROVINCE
    pudong = codes == int(DISTRICT_CODE)

    shanghai_p = np.where(pudong, PUDONG_ID_SHARE, (1 - PUDONG_ID_SHARE) / (in_shanghai.sum() - 1))
    shanghai_p = np.where(in_shanghai, shanghai_p, 0.0) * shanghai_share
    other_p = np.where(in_shanghai, 0.0, [ORIGIN_PROVINCE_WEIGHTS.get(p, 1.0) for p in province])
    other_p = other_p / other_p.sum() * (1 - shanghai_share)
    return rng.choice(codes, size=n, p=shanghai_p + other_p)


def sample_birth_dates(rng: np.random.Generator, n: int) -> np.ndarray:
    years = np.arange(FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR + 1)
    weights = np.interp(years, list(_BIRTH_ANCHORS), list(_BIRTH_ANCHORS.values()))
    year = rng.choice(years, size=n, p=weights / weights.sum())
    start = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    length = (year + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]") - start
    return start + (rng.random(n) * length.astype(np.int64)).astype(np.int64)


def sample_phones(rng: np.random.Generator, n: int, taken: np.ndarray | None = None) -> np.ndarray:
    def draw(positions: np.ndarray) -> np.ndarray:
        return rng.choice(MOBILE_PREFIXES, positions.size) * 10**8 + rng.integers(0, 10**8, positions.size)

    return draw_unique(draw, n, taken)


def sample_identities(
    rng: np.random.Generator,
    n: int,
    divisions: Divisions,
    shanghai_share: float = SHANGHAI_ID_SHARE,
    taken_ids: np.ndarray | None = None,
    taken_phones: np.ndarray | None = None,
) -> Identities:
    male = rng.random(n) < MALE_SHARE
    birth = sample_birth_dates(rng, n)
    area = sample_area_codes(rng, n, divisions, shanghai_share)
    return Identities(
        surname_idx=names.sample_surnames(rng, n),
        given_idx=names.sample_given(rng, male),
        male=male,
        birth=birth,
        id_bodies=idnumbers.unique_bodies(rng, area, birth, male, taken_ids),
        phones=sample_phones(rng, n, taken_phones),
    )


def _household_of_each_person(rng: np.random.Generator, persons: int, houses: int) -> np.ndarray:
    """Sorted house index per person, household sizes drawn from HOUSEHOLD_SIZE_P."""
    sizes = rng.choice(HOUSEHOLD_SIZE_P.size, size=houses, p=HOUSEHOLD_SIZE_P)
    house = np.repeat(np.arange(houses), sizes)
    if house.size < persons:
        house = np.concatenate([house, rng.integers(0, houses, persons - house.size)])
    elif house.size > persons:
        house = house[rng.choice(house.size, persons, replace=False)]
    return np.sort(house)


def build_population(
    rng: np.random.Generator, persons: int, housing: pl.DataFrame, divisions: Divisions, day: datetime.date
) -> pl.DataFrame:
    """population.csv columns plus ``surname`` and ``house_idx`` for the inbox generator."""
    house = _household_of_each_person(rng, persons, housing.height)
    people = sample_identities(rng, persons, divisions)

    first_of_house = np.r_[True, house[1:] != house[:-1]]
    head = np.maximum.accumulate(np.where(first_of_house, np.arange(persons), 0))
    surname_idx = np.where(rng.random(persons) < SHARED_SURNAME_P, people.surname_idx[head], people.surname_idx)

    child = people.birth > np.datetime64(day.replace(year=day.year - CHILD_AGE))
    share_phone = rng.random(persons) < np.where(child, CHILD_SHARES_PHONE_P, ADULT_SHARES_PHONE_P)
    phones = np.where(share_phone & ~first_of_house, people.phones[head], people.phones)

    return pl.DataFrame(
        {
            "person_id": pl.Series(np.arange(1, persons + 1)).cast(pl.Utf8).str.zfill(8),
            "name": names.full_names(surname_idx, people.given_idx),
            "id_number": idnumbers.id_numbers(people.id_bodies),
            "phone": pl.Series(phones).cast(pl.Utf8),
            "house_id": housing["house_id"].gather(house),
            "gender": GENDERS.gather(people.male.astype(np.int64)),
            "birth_date": people.birth,
            "surname": names.surname_text(surname_idx),
            "house_idx": house,
        }
    ).with_columns(("P" + pl.col("person_id")).alias("person_id"))
