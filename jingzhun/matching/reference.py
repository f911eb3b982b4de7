"""The reference tables (grid, housing, population) read from a reference folder and checked against the contract.

A missing table or column is a `UserError` (the run cannot be done). The checks of
`jingzhun/rules/reference_checks.yaml` (keys twice, houses on unknown grids, committees without a subdistrict, persons
on unknown houses) count the bad rows; above a limit the run cannot be done either, under it the counts are reported and
the rows a key names twice, or that route to no subdistrict, are set aside: never silently, never a guess between two
rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from jingzhun.cleansing.address import Gazetteer
from jingzhun.core import rules
from jingzhun.core.errors import UserError

# The columns the checks read: the keys and what they point to.
KEY_COLUMNS = {
    "grid": ("grid_id", "committee_code", "subdistrict_code"),
    "housing": ("house_id", "grid_id"),
    "population": ("person_id", "id_number", "house_id"),
}
REQUIRED = {
    "grid": (
        "grid_id",
        "grid_name",
        "committee_code",
        "committee_name",
        "subdistrict_code",
        "subdistrict_name",
        "district_code",
        "district_name",
    ),
    "housing": ("house_id", "address", "grid_id"),
    "population": ("person_id", "name", "id_number", "phone", "house_id"),
}
# The key of the tables `load_reference` may defer: a run uses the first row of each.
KEYS = {"housing": "house_id", "population": "person_id"}


@dataclass(frozen=True)
class Reference:
    grid: pl.DataFrame
    housing: pl.DataFrame
    population: pl.DataFrame
    files: dict[str, Path]
    # Tables `load_reference` was asked to read only when needed (`persons`, `houses`): in `files`, empty until then.
    deferred: tuple[str, ...] = ()

    def persons(self) -> pl.DataFrame:
        """The population, read now if it was deferred: ten million persons that a day whose standardized
        population is cached in the warehouse never needs."""
        return self._table("population")

    def houses(self) -> pl.DataFrame:
        """The housing table, read now if it was deferred: four million houses (a gigabyte with their columns)
        that a day whose standardized houses are cached never needs whole."""
        return self._table("housing")

    def _table(self, name: str) -> pl.DataFrame:
        if name not in self.deferred:
            return getattr(self, name)
        return _read_table(self.files[name], name).filter(_first_of(KEYS[name]))

    def persons_in_chunks(self, rows: int) -> Iterator[pl.DataFrame]:
        """The rows of `persons`, in order, about `rows` at a time: a deferred population is scanned, never read
        whole (ten million persons with all their columns are gigabytes)."""
        if "population" not in self.deferred:
            yield from self.population.iter_slices(rows)
            return
        scan = _scan(self.files["population"], "population")
        try:
            # Which rows are the first of their person_id is a property of the whole file: found on that one
            # column, then applied to each chunk by its place in the file.
            first = scan.select(_first_of(KEYS["population"])).collect().to_series()
            done = 0
            for chunk in scan.collect_batches(chunk_size=rows):
                yield chunk.filter(first.slice(done, chunk.height))
                done += chunk.height
        except (pl.exceptions.PolarsError, OSError) as error:
            raise _unreadable(self.files["population"], error) from error

    def persons_of(self, person_ids: pl.Series) -> pl.DataFrame:
        """The rows of `persons` whose person_id is one of `person_ids`; a deferred population is scanned for them,
        not read: a day's review names a few thousand persons of ten million."""
        return self._rows_of("population", person_ids)

    def houses_of(self, house_ids: pl.Series) -> pl.DataFrame:
        """The rows of `houses` whose house_id is one of `house_ids` (scanned for, when deferred: a day's work
        lists name the houses of its cases only)."""
        return self._rows_of("housing", house_ids)

    def _rows_of(self, name: str, keys: pl.Series) -> pl.DataFrame:
        key = KEYS[name]
        wanted = pl.col(key).is_in(keys.drop_nulls().unique().implode())
        if name not in self.deferred:
            return getattr(self, name).filter(wanted)
        # (The first row of a key among its own rows is its first row in the file: `_table`'s rows.)
        return _scanned_rows(self.files[name], name, wanted).filter(_first_of(key))

    def fingerprint(self, tables: tuple[str, ...] | None = None) -> str:
        """sha256 over the files' contents (of `tables`, default all three): equal fingerprints, equal tables."""
        digest = hashlib.sha256()
        for name in sorted(tables or self.files):
            digest.update(file_digest(self.files[name]))
        return digest.hexdigest()


def file_digest(path: Path) -> bytes:
    """sha256 of a file's contents, hashed once per process while the file is unchanged: a run asks for the
    reference's fingerprint in several steps, and hashing a million persons' file takes a fraction of a second."""
    stat = path.stat()  # what make and rsync trust to say a file is unchanged
    state = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if state not in _digests:
        with open(path, "rb") as f:
            _digests[state] = hashlib.file_digest(f, "sha256").digest()
    return _digests[state]


_digests: dict[tuple[object, ...], bytes] = {}  # `file_digest` by the file's path and state


def load_reference(
    folder: Path, header_only: bool = False, read: tuple[str, ...] = tuple(REQUIRED), later: tuple[str, ...] = ()
) -> Reference:
    """The three tables, with the rows the checks set aside left out; with `header_only`, just their columns
    (enough to check them before a run, without reading ten million persons). Only the tables named in `read`
    are read: the others are empty, with their required columns (the houses need no population). Those named in
    `later` (the population, the houses) are found and fingerprinted but read only when asked
    (`Reference.persons`, `Reference.houses`)."""
    tables, files = {}, {}
    for name, required in REQUIRED.items():
        if name not in read or name in later:
            tables[name] = pl.DataFrame(schema={c: pl.Utf8 for c in required})
            if name in later:
                files[name] = _table_path(folder, name)
            continue
        path = _table_path(folder, name)
        tables[name] = _read_table(path, name, 0 if header_only else None)
        files[name] = path
    grid = tables["grid"].filter(_first_of("grid_id") & pl.col("subdistrict_code").is_not_null())
    return Reference(
        grid=grid,
        housing=tables["housing"].filter(_first_of(KEYS["housing"])),
        population=tables["population"].filter(_first_of(KEYS["population"])),
        files=files,
        deferred=tuple(name for name in later if name in files),
    )


def _read_table(path: Path, name: str, rows: int | None = None) -> pl.DataFrame:
    """The reference table `name` from `path` (all text, blanks null); its required columns must be there."""
    required = REQUIRED[name]
    try:
        frame = (
            pl.read_parquet(path, n_rows=rows)
            if path.suffix == ".parquet"
            else pl.read_csv(path, infer_schema=False, encoding="utf8", n_rows=rows)
        )
    except (pl.exceptions.PolarsError, OSError) as error:
        raise _unreadable(path, error) from error
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise UserError(f"reference table {path} lacks required columns: {', '.join(missing)} (参照表缺少必需的列)")
    return _blank_is_null(frame.with_columns(pl.col(c).cast(pl.Utf8) for c in required), required)


def _scanned_rows(path: Path, name: str, keep: pl.Expr) -> pl.DataFrame:
    """The rows of `_read_table` that `keep` holds true of, filtered as the file is scanned (never read whole)."""
    try:
        return _scan(path, name).filter(keep).collect()
    except (pl.exceptions.PolarsError, OSError) as error:
        raise _unreadable(path, error) from error


def _scan(path: Path, name: str) -> pl.LazyFrame:
    """`_read_table` of `path` as a scan: read when collected."""
    required = REQUIRED[name]
    scan = (
        pl.scan_parquet(path) if path.suffix == ".parquet" else pl.scan_csv(path, infer_schema=False, encoding="utf8")
    )
    return _blank_is_null(scan.with_columns(pl.col(c).cast(pl.Utf8) for c in required), required)


def _unreadable(path: Path, error: Exception) -> UserError:
    """What the user is told when a reference table cannot be read: the file (the folder, for the checks that scan
    all three tables at once) and the reader's own words."""
    what = f"reference tables in {path}" if path.is_dir() else f"reference table {path}"
    return UserError(f"{what} cannot be read: {error} (参照表无法读取)")


def _table_path(folder: Path, name: str) -> Path:
    path = next((p for p in (folder / f"{name}.parquet", folder / f"{name}.csv") if p.is_file()), None)
    if path is None:
        raise UserError(f"reference table missing: {folder / name}.csv (or .parquet) (参照表缺失)")
    return path


def _blank_is_null(frame: pl.DataFrame | pl.LazyFrame, columns: tuple[str, ...]) -> Any:
    return frame.with_columns(pl.when(pl.col(c).str.strip_chars() != "").then(pl.col(c)) for c in columns)


def _first_of(key: str) -> pl.Expr:
    """The first row of each key (rows without a key are kept: nothing can name them twice)."""
    return pl.col(key).is_null() | pl.col(key).is_first_distinct()


def _problems(grid: pl.LazyFrame, housing: pl.LazyFrame, population: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
    """Per check, a one-row frame: how many rows of its table have the problem (`rows`) and of how many (`of`)."""

    def surplus(frame: pl.LazyFrame, key: str) -> pl.LazyFrame:
        return frame.select(rows=pl.col(key).count() - pl.col(key).drop_nulls().n_unique(), of=pl.len())

    def not_in(frame: pl.LazyFrame, key: str, other: pl.LazyFrame, other_key: str) -> pl.LazyFrame:
        known = other.select(pl.col(other_key).drop_nulls().unique().alias(key))
        unknown = frame.filter(pl.col(key).is_not_null()).join(known, on=key, how="anti")
        return unknown.select(rows=pl.len()).join(frame.select(of=pl.len()), how="cross")

    return {
        "duplicate_grid_id": surplus(grid, "grid_id"),
        "committee_without_subdistrict": grid.select(
            rows=(pl.col("committee_code").is_not_null() & pl.col("subdistrict_code").is_null()).sum(), of=pl.len()
        ),
        "duplicate_house_id": surplus(housing, "house_id"),
        # A grid without a subdistrict is set aside: its houses are on no grid the run knows.
        "house_on_unknown_grid": not_in(
            housing, "grid_id", grid.filter(pl.col("subdistrict_code").is_not_null()), "grid_id"
        ),
        "duplicate_person_id": surplus(population, "person_id"),
        "duplicate_id_number": surplus(population, "id_number"),
        "person_on_unknown_house": not_in(population, "house_id", housing, "house_id"),
    }


CHECKS_SCHEMA = {
    "check": pl.Utf8,
    "table": pl.Utf8,
    "file": pl.Utf8,
    "title": pl.Utf8,
    "rows": pl.Int64,
    "table_rows": pl.Int64,
    "share": pl.Float64,
    "limit": pl.Utf8,
    "over": pl.Boolean,
}


def check_reference(folder: Path) -> pl.DataFrame:
    """The checks of `jingzhun/rules/reference_checks.yaml` on the reference in `folder`, one row each: the table, its
    file, the problem in words, how many rows have it, the limit and whether the count is above it. Scans only the key
    columns, so that it can run before every run on ten million persons."""
    load_reference(folder, header_only=True)  # a missing table or column is said first, and said plainly
    paths = {name: _table_path(folder, name) for name in REQUIRED}
    scans = {}
    for name, path in paths.items():
        scan = (
            pl.scan_parquet(path)
            if path.suffix == ".parquet"
            else pl.scan_csv(path, infer_schema=False, encoding="utf8")
        )
        scans[name] = _blank_is_null(scan.select(pl.col(c).cast(pl.Utf8) for c in KEY_COLUMNS[name]), KEY_COLUMNS[name])
    problems = _problems(scans["grid"], scans["housing"], scans["population"])
    try:
        counted = dict(zip(problems, pl.collect_all(list(problems.values())), strict=True))
    except (pl.exceptions.PolarsError, OSError) as error:
        raise _unreadable(folder, error) from error
    rows = []
    for check, spec in rules.load("reference_checks")["checks"].items():
        found, of = counted[check].row(0)
        share = found / of if of else 0.0
        max_rows, max_share = spec.get("max_rows"), spec.get("max_share")
        rows.append(
            {
                "check": check,
                "table": spec["table"],
                "file": paths[spec["table"]].name,
                "title": spec["title"],
                "rows": found,
                "table_rows": of,
                "share": share,
                "limit": "；".join(
                    [
                        *([f"≤{max_rows}行"] if max_rows is not None else []),
                        *([f"≤{max_share:.2%}"] if max_share is not None else []),
                    ]
                ),
                "over": (max_rows is not None and found > max_rows) or (max_share is not None and share > max_share),
            }
        )
    return pl.DataFrame(rows, schema=CHECKS_SCHEMA)


def failed_checks_message(checks: pl.DataFrame) -> str | None:
    """One line, in Chinese and English, naming an empty table (nothing could be matched against it) or else each
    check above its limit; None when all is well."""
    empty = checks.filter(pl.col("table_rows") == 0)["file"].unique(maintain_order=True).to_list()
    if empty:
        return f"参考数据表为空（只有表头） / reference table has no rows: {', '.join(empty)}"
    over = checks.filter(pl.col("over"))
    if over.is_empty():
        return None
    said = "; ".join(
        f"{r['file']} {r['title']} {r['rows']} 行 ({r['check']}: {r['rows']} rows, limit {r['limit']})"
        for r in over.iter_rows(named=True)
    )
    return f"参考数据检查未通过 / reference check failed: {said} — 限值见 jingzhun/rules/reference_checks.yaml"


def gazetteer(houses: pl.DataFrame, grid: pl.DataFrame) -> Gazetteer:
    """The district's own names from its standardized houses and its grid: the towns (subdistricts) and the
    communities and roads of the housing register, which the parser reads before the national names."""
    places = [houses.get_column(c).drop_nulls().unique() for c in ("addr_community", "addr_road")]
    towns = grid.get_column("subdistrict_name").drop_nulls().unique().to_list()
    return Gazetteer(towns, pl.concat(places).to_list(), grid_district(grid))


def grid_district(grid: pl.DataFrame) -> str | None:
    """The district code of the grid when it names one district (the context its addresses are read in, over the
    cleansing rules' default `district_code`): a register of 徐汇区 read as 浦东新区's took 天平 (天平路街道) and
    湖南 (湖南路街道) for the start of a road's name."""
    codes = grid.get_column("district_code").cast(pl.Utf8).drop_nulls().unique()
    return codes[0] if codes.len() == 1 else None


def subdistrict_codes(folder: Path) -> list[str]:
    """The subdistricts the grid names: each may get a work list (and, encrypted, needs a password)."""
    path = _table_path(folder, "grid")
    scan = pl.scan_parquet(path) if path.suffix == ".parquet" else pl.scan_csv(path, infer_schema=False)
    try:
        codes = _blank_is_null(scan.select(pl.col("subdistrict_code").cast(pl.Utf8)), ("subdistrict_code",))
        return sorted(codes.drop_nulls().unique().collect()["subdistrict_code"])
    except (pl.exceptions.PolarsError, OSError) as error:
        raise _unreadable(path, error) from error
