"""Entry point of the synthetic data generator behind ``jingzhun reference generate`` and ``jingzhun demo``.

Writes a synthetic district on real Pudong divisions (``reference/``), one day of messy source
exports (``inbox/``) and the ground truth linking every inbox row to its person and house
(``truth.csv``). The same (persons, seed, day, settings) always gives byte-identical files, and the default
settings give the files of the generator before its phenomena options. It must never touch anything outside
``out`` nor use real personal data: every person is invented.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

from jingzhun.synthetic import phenomena
from jingzhun.synthetic.district import GRID_COLUMNS, HOUSING_COLUMNS, build_district
from jingzhun.synthetic.divisions import load_divisions
from jingzhun.synthetic.inbox import TRUTH_COLUMNS, build_inbox
from jingzhun.synthetic.population import POPULATION_COLUMNS, build_population
from jingzhun.synthetic.settings import Settings

# Independent random streams, so that e.g. the inbox does not shift when the district changes; the phenomena
# have one each (below _PHENOMENA), so that one turned on shifts nothing drawn for another.
_DISTRICT, _POPULATION, _INBOX, _PHENOMENA = range(4)


@dataclass(frozen=True)
class GenerateSummary:
    persons: int
    houses: int
    committees: int
    subdistricts: int
    grids: int
    rows: dict[str, int]  # inbox data rows per source, empty and garbage rows included
    reference_paths: tuple[Path, ...]
    inbox_paths: tuple[Path, ...]
    truth_path: Path

    def __str__(self) -> str:
        sources = ", ".join(f"{source} {count}" for source, count in self.rows.items())
        return (
            f"{self.persons} persons in {self.houses} houses, {self.grids} grids, {self.committees} committees "
            f"in {self.subdistricts} subdistricts -> {self.reference_paths[0].parent}\n"
            f"inbox rows: {sources} in {len(self.inbox_paths)} files -> {self.inbox_paths[0].parent.parent}\n"
            f"truth -> {self.truth_path}"
        )


def generate(
    out: Path,
    persons: int = 5000,
    seed: int = 7,
    day: datetime.date = datetime.date(2026, 11, 22),
    settings: Settings | None = None,
) -> GenerateSummary:
    settings = settings or Settings()
    out = Path(out)
    reference_dir = out / "reference"
    reference_dir.mkdir(parents=True, exist_ok=True)
    streams = {name: np.random.default_rng([seed, _PHENOMENA, i]) for i, name in enumerate(settings.rates())}

    divisions = load_divisions()
    district = build_district(divisions, persons, np.random.default_rng([seed, _DISTRICT]))
    district = replace(
        district,
        housing=phenomena.name_communities_after_places(
            district.housing, divisions, streams["place_name_communities"], settings.place_name_communities
        ),
    )
    population = build_population(np.random.default_rng([seed, _POPULATION]), persons, district.housing, divisions, day)
    population = phenomena.share_household_phones(population, streams["household_phones"], settings.household_phones)
    places = (
        phenomena.numberless_places(district.housing, streams["numberless_places"])
        if settings.numberless_places > 0
        else pl.DataFrame()
    )
    reference_paths = (reference_dir / "grid.csv", reference_dir / "housing.csv", reference_dir / "population.csv")
    district.grids.select(GRID_COLUMNS).write_csv(reference_paths[0])
    pl.concat([district.housing, places], how="diagonal").select(HOUSING_COLUMNS).write_csv(reference_paths[1])
    population.select(POPULATION_COLUMNS).write_csv(reference_paths[2])

    files, truth = build_inbox(
        out / "inbox",
        np.random.default_rng([seed, _INBOX]),
        divisions,
        district,
        places,
        population,
        day,
        settings,
        streams,
    )
    truth_path = out / "truth.csv"
    truth.select(TRUTH_COLUMNS).write_csv(truth_path)

    rows = {
        source: sum(f.rows for f in files if f.source == source) for source in dict.fromkeys(f.source for f in files)
    }
    return GenerateSummary(
        persons=persons,
        houses=district.housing.height,
        committees=district.committees.height,
        subdistricts=district.committees["subdistrict_code"].n_unique(),
        grids=district.grids.height,
        rows=rows,
        reference_paths=reference_paths,
        inbox_paths=tuple(f.path for f in files),
        truth_path=truth_path,
    )
