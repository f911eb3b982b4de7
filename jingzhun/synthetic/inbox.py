"""One day of messy exports from the three sources, and the ground truth that explains them.

Decides who appears (residents at their own house or, at the rate asked, another one; arrivals from elsewhere
staying at a real house; the same people across sources), which defects each value gets, how rows are split into
files with varying headers, encodings and time layouts, and where empty and garbage rows go; the phenomena of
`jingzhun.synthetic.phenomena` are applied on the way. It must never write a data row without exactly one truth line
(nor a truth line without its row), and never record a defect or a phenomenon that is not visible in the written row.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from jingzhun.synthetic import exports, messy, phenomena
from jingzhun.synthetic.district import District
from jingzhun.synthetic.divisions import Divisions
from jingzhun.synthetic.idnumbers import id_numbers
from jingzhun.synthetic.names import full_names, surname_text
from jingzhun.synthetic.population import sample_identities
from jingzhun.synthetic.settings import Settings
from jingzhun.synthetic.sources import EXTRA_LEADING, EXTRA_TRAILING, REMARKS, SOURCES, Rows, Source, time_of_day

OUTSIDER_SHARE = 0.08  # rows about people not in the population register
HEALTH_ALSO_CHECKPOINT = 0.10  # of health declarants, also registered at a checkpoint
BOTH_ALSO_HOTLINE = 0.3  # of those in both, also calling 12345
HEALTH_ALSO_HOTLINE = 0.02  # of the other health declarants, also calling 12345
EMPTY_ROW_RATE = 0.005
GARBAGE_ROW_RATE = 0.005
REMARK_RATE = 0.08
FILES_PER_SOURCE = {"checkpoint": (2, 3), "hotline": (1, 2), "health": (2, 3)}
GARBAGE_CELLS = ("测试", "/////", "？？？", "——", "#N/A", "***", "。。。", "test", "，，")

TRUTH_COLUMNS = (
    "source",
    "source_file",
    "source_row",
    "person_id",  # empty for a person not in the population
    # Where the visit happens, so where the record must go: the house (or place) the row's address names, also
    # when the person is registered elsewhere; a row without an address goes to the registered home.
    "house_id",
    "committee_code",
    "subdistrict_code",
    "defects",
    "phenomena",  # the phenomena of `jingzhun.synthetic.phenomena.PHENOMENA` the row shows, "|"-separated
    "names_one_person",  # whether the row's evidence names one person of the population (see `finish_file`)
)
_ENTITY_COLUMNS = TRUTH_COLUMNS[3:]
# Helper columns of a source table that `phenomena.finish_file` reads, dropped before the truth is written.
_ROW_FACTS = ("resident", "at_home", "phone_shared")
MIN_SOURCE_ROWS = max(hi for _, hi in FILES_PER_SOURCE.values())  # every file of a source gets a row


@dataclass(frozen=True)
class InboxFile:
    source: str
    path: Path
    format: str  # one of exports.FORMATS
    rows: int  # data rows below the header, empty and garbage rows included


def row_counts(persons: int, day_rows: int | None = None) -> dict[str, int]:
    """Person rows per source: a share of the population, or ``day_rows`` split in the same proportions."""
    if day_rows is None:
        return {s.name: max(s.minimum, round(s.share * persons)) for s in SOURCES}
    shares = np.array([s.share for s in SOURCES])
    exact = day_rows * shares / shares.sum()
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact)[: day_rows - counts.sum()]] += 1  # largest remainders first
    return {s.name: max(MIN_SOURCE_ROWS, int(c)) for s, c in zip(SOURCES, counts, strict=True)}


def _subjects(
    rng: np.random.Generator, divisions: Divisions, population: pl.DataFrame, houses: int, counts: dict[str, int]
) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """Everybody appearing today, and per source the subject of each row.

    Health declarants are drawn first; a share of them also pass a checkpoint and some of those
    (and a few others) call 12345. The remaining rows go to fresh people, so nobody appears twice
    within one source.
    """
    n_health, n_checkpoint, n_hotline = counts["health"], counts["checkpoint"], counts["hotline"]
    both = min(round(HEALTH_ALSO_CHECKPOINT * n_health), n_checkpoint)
    both_hotline = min(round(BOTH_ALSO_HOTLINE * both), n_hotline)
    health_hotline = min(round(HEALTH_ALSO_HOTLINE * n_health), n_hotline - both_hotline)
    slots = n_health + (n_checkpoint - both) + (n_hotline - both_hotline - health_hotline)

    outsider = rng.random(slots) < OUTSIDER_SHARE
    n_out = int(outsider.sum())
    n_res = slots - n_out
    # A tiny population may have fewer people than rows; then residents repeat across slots.
    residents = rng.permutation(population.height)[np.arange(n_res) % population.height]
    resident_rows = population.with_columns(phone_shared=pl.col("phone").is_duplicated())[residents].select(
        "person_id",
        "name",
        "surname",
        (pl.col("gender") == "男").alias("male"),
        "id_number",
        "phone",
        "house_idx",
        "phone_shared",
        home_idx="house_idx",
    )
    arrivals = sample_identities(
        rng,
        n_out,
        divisions,
        shanghai_share=0.0,
        taken_ids=population["id_number"].str.slice(0, 17).cast(pl.Int64).to_numpy(),
        taken_phones=population["phone"].cast(pl.Int64).to_numpy(),
    )
    arrival_rows = pl.DataFrame(
        {
            "person_id": pl.Series([None] * n_out, dtype=pl.Utf8),
            "name": full_names(arrivals.surname_idx, arrivals.given_idx),
            "surname": surname_text(arrivals.surname_idx),
            "male": arrivals.male,
            "id_number": id_numbers(arrivals.id_bodies),
            "phone": pl.Series(arrivals.phones).cast(pl.Utf8),
            "house_idx": rng.integers(0, houses, n_out),  # staying with someone, or renting
            "phone_shared": np.zeros(n_out, dtype=bool),
            "home_idx": np.full(n_out, -1),
        }
    )
    subjects = pl.concat([resident_rows, arrival_rows])

    slot_subject = np.empty(slots, dtype=np.int64)
    slot_subject[~outsider] = np.arange(n_res)
    slot_subject[outsider] = n_res + np.arange(n_out)
    health, fresh = slot_subject[:n_health], slot_subject[n_health:]
    who = {
        "health": health,
        "checkpoint": np.concatenate([health[:both], fresh[: n_checkpoint - both]]),
        "hotline": np.concatenate(
            [health[:both_hotline], health[both : both + health_hotline], fresh[n_checkpoint - both :]]
        ),
    }
    return subjects, who


def _nearby_committees(district: District, divisions: Divisions) -> dict[str, tuple[str, ...]]:
    """Per committee in use, the colloquial names (竹园居委) of the committees next to it by code in
    its town: those in use when the town has several, else the town's other real committees."""
    nearby = {}
    for (town,), used in district.committees.group_by("subdistrict_code"):
        pool = used if used.height > 1 else divisions.committees.filter(pl.col("subdistrict_code") == town)
        pool = pool.sort("committee_code")
        codes = pool["committee_code"].to_list()
        labels = (pool["short_name"] + pool["kind"]).to_list()
        for code in used["committee_code"]:
            i = codes.index(code)
            nearby[code] = tuple(labels[j] for j in (i - 1, i + 1) if 0 <= j < len(labels))
    return nearby


def _personal_values(
    rng: np.random.Generator,
    rnd: random.Random,
    source: Source,
    people: pl.DataFrame,
    houses: pl.DataFrame,
    nearby: dict[str, tuple[str, ...]],
    cross: dict[str, str],
    address_defects: messy.FieldDefects,
) -> tuple[dict[str, list[str]], list[list[str]]]:
    """Name, ID, phone and address cells with their defects; returns the cells and per-row tags."""
    n = people.height
    name, surname, male, ids, phones = (people[c].to_list() for c in ("name", "surname", "male", "id_number", "phone"))
    house = {
        c: houses[c].to_list()
        for c in (
            "address",
            "town",
            "road",
            "lane",
            "number",
            "community",
            "building",
            "room",
            "committee_code",
            "place",
        )
    }

    def address_parts(i: int) -> messy.AddressParts:
        options = nearby[house["committee_code"][i]]
        return messy.AddressParts(
            town=house["town"][i],
            road=house["road"][i],
            lane=house["lane"][i],
            number=house["number"][i],
            community=house["community"][i],
            building=house["building"][i],
            room=house["room"][i],
            nearby_committee=rnd.choice(options) if options else "",
            cross_road=cross.get(house["road"][i], "") if house["place"][i] is None else "",
            place=house["place"][i],
        )

    name_defects = messy.HOTLINE_NAME_DEFECTS if source.name == "hotline" else messy.NAME_DEFECTS
    fields = {
        "name": (name_defects, name, lambda i, tags: messy.mess_name(name[i], surname[i], male[i], tags, rnd)),
        "id_number": (messy.ID_DEFECTS, ids, lambda i, tags: messy.mess_id(ids[i], tags, rnd)),
        "phone": (messy.PHONE_DEFECTS, phones, lambda i, tags: messy.mess_phone(phones[i], tags, rnd)),
        "address": (
            address_defects,
            house["address"],
            lambda i, tags: messy.mess_address(address_parts(i), tags, rnd),
        ),
    }
    wanted = {column.key for column in source.columns}
    values: dict[str, list[str]] = {}
    defects: list[list[str]] = [[] for _ in range(n)]
    for key, (catalogue, clean, mess) in fields.items():
        if key not in wanted:
            continue
        masks = catalogue.draw(rng, n)
        cells = list(clean)
        for i in np.flatnonzero(np.logical_or.reduce(list(masks.values()))):
            cells[i], applied = mess(i, [tag for tag, mask in masks.items() if mask[i]])
            defects[i].extend(applied)
        values[key] = cells
    return values, defects


@dataclass(frozen=True)
class Day:
    """What every source table of the day is drawn against."""

    divisions: Divisions
    sites: pl.DataFrame  # the houses, then the places without a number (`phenomena.numberless_places`)
    houses: int  # how many of the sites are houses
    nearby: dict[str, tuple[str, ...]]
    cross: dict[str, str]
    address_defects: messy.FieldDefects
    settings: Settings
    streams: dict[str, np.random.Generator]  # one per phenomenon, named as the settings' fields
    day: datetime.date


def _source_table(
    rng: np.random.Generator, rnd: random.Random, source: Source, people: pl.DataFrame, day: Day
) -> pl.DataFrame:
    """All rows of one source for the day, in time order: cell values, the truth columns, and the row facts
    `phenomena.finish_file` reads."""
    site = people["house_idx"].to_numpy()
    hotline = source.name == "hotline"
    if hotline:
        site = phenomena.place_reports(
            site,
            day.streams["numberless_places"],
            day.settings.numberless_places,
            day.houses,
            day.sites.height - day.houses,
        )
    values, defects = _personal_values(
        rng, rnd, source, people, day.sites[site], day.nearby, day.cross, day.address_defects
    )
    sparse = np.zeros(people.height, dtype=bool)
    if hotline:
        sparse, site = phenomena.sparse_hotline(
            values, defects, people, site, day.streams["sparse_hotline"], day.settings.sparse_hotline
        )
    known = site >= 0  # a sparse row without an address, of a person not in the population, is nowhere
    houses = day.sites[np.where(known, site, 0)].with_columns(
        pl.when(pl.Series(known)).then(pl.col(c)).alias(c) for c in ("house_id", "committee_code", "subdistrict_code")
    )
    home = people["home_idx"].to_numpy()
    is_place = site >= day.houses
    written_defects = pl.Series(["|".join(tags) or None for tags in defects], dtype=pl.Utf8)
    address_tags = written_defects.fill_null("").str.split("|")
    shown = {
        "away_from_home": pl.Series((home >= 0) & known & ~is_place & (site != home)),
        "sparse_hotline": pl.Series(sparse),
        "place_name_community": houses["place_named"]
        & pl.Series(values["address"]).str.contains(houses["community"], literal=True).fill_null(False),
        "short_town": address_tags.list.contains("addr_short_town"),
        "no_number": pl.Series(is_place) | address_tags.list.contains("addr_no_number"),
    }
    shown_phenomena = pl.select(
        pl.concat_list(pl.when(mask).then(pl.lit(name)) for name, mask in shown.items()).list.drop_nulls()
    ).to_series()
    rows = Rows(
        resident=people["person_id"].is_not_null().to_numpy(),
        id_province=people["id_number"].str.slice(0, 2).to_numpy(),
    )
    seconds = time_of_day(rng, people.height, source.hours)
    table = pl.DataFrame(
        {
            **values,
            **source.fields(rng, rows, day.divisions),
            "time": (np.datetime64(day.day, "s") + seconds).astype("datetime64[ms]"),
            "person_id": people["person_id"],
            "house_id": houses["house_id"],
            "committee_code": houses["committee_code"],
            "subdistrict_code": houses["subdistrict_code"],
            "defects": written_defects,
            "phenomena": shown_phenomena,
            "resident": rows.resident,
            "at_home": (site == home) & (home >= 0),
            "phone_shared": people["phone_shared"],
        }
    ).sort("time", maintain_order=True)
    if "order_no" in {column.key for column in source.columns}:
        table = table.with_columns(
            pl.format(
                "HL{}{}", pl.lit(f"{day.day:%Y%m%d}"), pl.int_range(1, pl.len() + 1).cast(pl.Utf8).str.zfill(6)
            ).alias("order_no")
        )
    return table


def _file_cells(
    rng: np.random.Generator, source: Source, part: pl.DataFrame, fmt: str
) -> tuple[list[str], list[list[exports.Cell]]]:
    """Header (one spelling per column, optional extra columns) and cells of one file's data rows."""
    header = [str(rng.choice(column.spellings)) for column in source.columns]
    layouts = exports.XLSX_TIME_LAYOUTS if fmt == exports.XLSX else exports.TEXT_TIME_LAYOUTS
    time_layout = str(rng.choice(layouts))
    # Excel exports often turn plain phone numbers into numbers; formatted ones and 0086… stay text.
    phone_as_number = fmt == exports.XLSX and rng.random() < 0.5
    columns: list[list[exports.Cell]] = []
    for column in source.columns:
        cells: list[exports.Cell] = part[column.key].to_list()
        if column.key == "time":
            cells = exports.render_times(part["time"], time_layout)
        elif column.key == "phone" and phone_as_number:
            cells = [int(v) if v.isascii() and v.isdigit() and v[0] != "0" else v for v in part["phone"]]
        columns.append(cells)

    n = part.height
    if rng.random() < 0.5:
        header.insert(0, EXTRA_LEADING)
        columns.insert(0, list(range(1, n + 1)) if fmt == exports.XLSX else [str(i) for i in range(1, n + 1)])
    for extra in EXTRA_TRAILING:
        if rng.random() < 0.4:
            header.append(extra)
            if extra == "备注":
                remark = rng.random(n) < REMARK_RATE
                columns.append([str(rng.choice(REMARKS)) if r else "" for r in remark])
            else:
                columns.append([str(rng.choice(source.feeds))] * n)
    return header, [list(row) for row in zip(*columns, strict=True)] if columns else []


def _special_rows(
    rng: np.random.Generator, header: list[str], n_data: int, ensure: bool
) -> list[tuple[int, list[exports.Cell], str]]:
    """Empty and garbage rows as (index of the data row they precede, cells, truth tag).

    They always precede a data row: a trailing all-empty row would vanish from an .xlsx sheet.
    """
    width = len(header)
    n_empty = max(int(ensure), rng.binomial(n_data, EMPTY_ROW_RATE))
    n_garbage = max(int(ensure), rng.binomial(n_data, GARBAGE_ROW_RATE))
    empty: list[exports.Cell] = [None] * width
    specials = [(int(rng.integers(n_data)), empty, "empty_row") for _ in range(n_empty)]
    for _ in range(n_garbage):
        kind = rng.integers(3)
        if kind == 0:  # the header pasted again
            cells: list[exports.Cell] = list(header)
        else:  # junk typed into one or a few cells
            cells = [None] * width
            for c in rng.choice(width, size=1 if kind == 1 else min(3, width), replace=False):
                cells[c] = str(rng.choice(GARBAGE_CELLS))
        specials.append((int(rng.integers(n_data)), cells, "garbage_row"))
    return specials


def _write_file(
    path: Path,
    fmt: str,
    header: list[str],
    data: list[list[exports.Cell]],
    truth: pl.DataFrame,
    specials: list[tuple[int, list[exports.Cell], str]],
    source: str,
) -> pl.DataFrame:
    """Interleave special rows with data rows, write the file, return its truth lines in row order."""
    # Sort keys: data row i -> 2i+1, a special row before data row j -> 2j.
    keys = np.r_[np.arange(len(data)) * 2 + 1, np.array([2 * j for j, _, _ in specials], dtype=np.int64)]
    order = np.argsort(keys, kind="stable")
    rows = data + [cells for _, cells, _ in specials]
    ordered_rows = [rows[i] for i in order]
    if fmt == exports.XLSX:
        exports.write_xlsx(path, header, ordered_rows)
    else:
        exports.write_csv(path, header, ordered_rows, fmt)
    special_truth = pl.DataFrame({"defects": [tag for _, _, tag in specials]}, schema={"defects": pl.Utf8}).select(
        *(pl.lit(None, pl.Utf8).alias(c) for c in _ENTITY_COLUMNS if c not in ("defects", "names_one_person")),
        "defects",
        names_one_person=pl.lit(False),
    )
    return pl.concat([truth.select(_ENTITY_COLUMNS), special_truth.select(_ENTITY_COLUMNS)])[order].select(
        pl.lit(source).alias("source"),
        pl.lit(path.name).alias("source_file"),
        pl.int_range(1, pl.len() + 1).alias("source_row"),
        *_ENTITY_COLUMNS,
    )


def _file_formats(rng: np.random.Generator) -> dict[str, list[str]]:
    """Formats of every file, per source; each of the four formats is used at least once."""
    counts = {name: int(rng.integers(lo, hi + 1)) for name, (lo, hi) in FILES_PER_SOURCE.items()}
    total = sum(counts.values())
    formats = [*exports.FORMATS, *(str(f) for f in rng.choice(exports.FORMATS, total - len(exports.FORMATS)))]
    rng.shuffle(formats)
    result, start = {}, 0
    for name, count in counts.items():
        result[name] = formats[start : start + count]
        start += count
    return result


def build_inbox(
    inbox_dir: Path,
    rng: np.random.Generator,
    divisions: Divisions,
    district: District,
    places: pl.DataFrame,
    population: pl.DataFrame,
    day: datetime.date,
    settings: Settings,
    streams: dict[str, np.random.Generator],
) -> tuple[list[InboxFile], pl.DataFrame]:
    """Write ``inbox_dir/{checkpoint,hotline,health}/`` and return the files and the truth table.

    ``places`` are the places without a number the housing table holds besides the houses (may be empty);
    ``streams`` one random stream per phenomenon of ``settings``."""
    rnd = random.Random(int(rng.integers(2**63)))  # per-value choices inside the defect functions
    counts = row_counts(population.height, settings.day_rows)
    houses = district.housing.height
    subjects, who = _subjects(rng, divisions, population, houses, counts)
    subjects = subjects.with_columns(
        house_idx=pl.Series(
            phenomena.away_from_home(
                subjects["house_idx"].to_numpy(),
                subjects["home_idx"].to_numpy(),
                streams["away_from_home"],
                settings.away_from_home,
                houses,
            )
        )
    )
    context = Day(
        divisions=divisions,
        sites=pl.concat([district.housing.with_columns(place=pl.lit(None, pl.Utf8)), places], how="diagonal"),
        houses=houses,
        nearby=_nearby_committees(district, divisions),
        cross=phenomena.cross_roads(district.housing),
        address_defects=messy.address_defects(settings.short_town_names, settings.numberless_addresses),
        settings=settings,
        streams=streams,
        day=day,
    )
    formats = _file_formats(rng)
    emptied = phenomena.empty_column_files(formats, streams["empty_columns"], settings.empty_columns)

    files: list[InboxFile] = []
    truths: list[pl.DataFrame] = []
    for source in SOURCES:
        table = _source_table(rng, rnd, source, subjects[who[source.name]], context)
        source_formats = formats[source.name]
        file_of_row = rng.integers(0, len(source_formats), table.height)
        file_of_row[rng.choice(table.height, len(source_formats), replace=False)] = np.arange(len(source_formats))
        folder = inbox_dir / source.name
        folder.mkdir(parents=True, exist_ok=True)
        for k, fmt in enumerate(source_formats):
            part = phenomena.finish_file(table.filter(pl.Series(file_of_row == k)), emptied.get((source.name, k), ()))
            extension = "xlsx" if fmt == exports.XLSX else "csv"
            path = folder / f"{source.file_stem}_{day:%Y%m%d}_{k + 1}.{extension}"
            header, data = _file_cells(rng, source, part, fmt)
            specials = _special_rows(rng, header, part.height, ensure=k == 0)
            truths.append(_write_file(path, fmt, header, data, part, specials, source.name))
            files.append(InboxFile(source.name, path, fmt, part.height + len(specials)))
    return files, pl.concat(truths)
