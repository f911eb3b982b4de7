"""The reference tables (grid, housing, population) read from a reference folder and checked against the contract.

A missing table or column is a `UserError` (the run cannot be done); a bad row is reported, never dropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cleansing.address import Gazetteer
from jingzhun.errors import UserError

REQUIRED = {
    "grid": ("grid_id", "grid_name", "committee_code", "committee_name", "subdistrict_code", "subdistrict_name",
             "district_code", "district_name"),
    "housing": ("house_id", "address", "grid_id"),
    "population": ("person_id", "name", "id_number", "phone", "house_id"),
}


@dataclass(frozen=True)
class Reference:
    grid: pl.DataFrame
    housing: pl.DataFrame
    population: pl.DataFrame
    files: dict[str, Path]

    def fingerprint(self) -> str:
        """sha256 over the three files' contents: equal fingerprints, equal reference."""
        digest = hashlib.sha256()
        for name in sorted(self.files):
            with open(self.files[name], "rb") as f:
                digest.update(hashlib.file_digest(f, "sha256").digest())
        return digest.hexdigest()


def load_reference(folder: Path, header_only: bool = False) -> Reference:
    """The three tables; with `header_only`, just their columns (enough to check them before a run, without
    reading ten million persons)."""
    tables, files = {}, {}
    for name, required in REQUIRED.items():
        path = next((p for p in (folder / f"{name}.parquet", folder / f"{name}.csv") if p.is_file()), None)
        if path is None:
            raise UserError(f"reference table missing: {folder / name}.csv (or .parquet) (参照表缺失)")
        try:
            frame = (pl.read_parquet(path, n_rows=0 if header_only else None) if path.suffix == ".parquet"
                     else pl.read_csv(path, infer_schema=False, encoding="utf8", n_rows=0 if header_only else None))
        except (pl.exceptions.PolarsError, OSError) as error:
            raise UserError(f"reference table {path} cannot be read: {error} (参照表无法读取)") from error
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise UserError(f"reference table {path} lacks required columns: {', '.join(missing)} (参照表缺少必需的列)")
        tables[name] = frame.with_columns(pl.col(c).cast(pl.Utf8) for c in required)
        files[name] = path
    return Reference(**tables, files=files)


def gazetteer(houses: pl.DataFrame, grid: pl.DataFrame) -> Gazetteer:
    """The district's own names from its standardized houses and its grid: the towns (subdistricts) and the
    communities and roads of the housing register, which the parser reads before the national names."""
    places = [houses.get_column(c).drop_nulls().unique() for c in ("addr_community", "addr_road")]
    return Gazetteer(grid.get_column("subdistrict_name").drop_nulls().unique().to_list(),
                     pl.concat(places).to_list())
