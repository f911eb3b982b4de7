"""Parsed addresses kept in the warehouse: an address written once is parsed once, not again on every later day
nor when the housing file is replaced by one that holds mostly the same houses.

What `normalize_column` makes of an address (its normalized text, whether it was traditional, the parsed fields)
depends only on the value as written, the parser's code and tables, the district the data comes from and the
district's gazetteer (the parser is pure: `jingzhun/cleansing/address.py`). The first three, with the placeholders
read as "empty", make the `parser_version` a kept parse is stored under; the gazetteer's digest is a column of its
own (the housing register's own addresses are parsed without one, a day's with the one built from them). A parse
is read back only under the same version and gazetteer: any change of the code, the tables, the rules or the
register's names parses again, and the rows of another version (and of a replaced gazetteer) are dropped then.

The key is the value as written, not its normalized text: a value read back costs no Python at all (one join in
DuckDB), where looking up a normalized text would first normalize each value (OpenCC, a fifth of a parse).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import duckdb
import polars as pl

from jingzhun.core.code_version import code_digest
from jingzhun.core.warehouse import has_table

PARSES = "address_parses"
_RAW = "__raw"  # the value as written, as `normalize_column`'s lookup names it
_CLEANSING = Path(__file__).resolve().parent
# The code an address's result runs through: the parser, the text normalization before it, the pipeline's
# wrapper that joins them, and this file (how a result is stored).
_CODE = ("address.py", "text.py", "pipeline.py", "parse_store.py")


@lru_cache(maxsize=8)
def parser_version(district_code: str | None, placeholders: frozenset[str]) -> str:
    """The digest of everything but the value and the gazetteer that an address's result depends on."""
    return code_digest((_CLEANSING / name for name in _CODE), district_code or "", *sorted(placeholders))


class AddressParses:
    """The parses kept in one warehouse (`con`), read and added by `normalize_column`."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def known(self, version: str, gazetteer: str | None, values: pl.Series, schema: pl.Schema) -> pl.DataFrame:
        """`__raw` and the stored columns (`schema`, the normalizer's result keys) of the `values` kept."""
        if not has_table(self.con, PARSES):
            return pl.DataFrame(schema={_RAW: pl.Utf8, **schema})
        wanted = pl.DataFrame({"raw": values})  # noqa: F841 (read by DuckDB)
        columns = ", ".join(f'p."{key}"' for key in schema)
        found = self.con.sql(
            f"SELECT p.raw AS {_RAW}, {columns} FROM {PARSES} p SEMI JOIN wanted w ON p.raw = w.raw "
            "WHERE p.parser_version = ? AND p.gazetteer IS NOT DISTINCT FROM ?",
            params=[version, gazetteer],
        ).pl()
        return found.cast({_RAW: pl.Utf8, **schema})

    def keep(self, version: str, gazetteer: str | None, parsed: pl.DataFrame) -> None:
        """Store `parsed` (`__raw` and the result keys; values not kept yet); drop the rows no run reads again: of
        another version, or of another gazetteer when this one has one (the register's names changed)."""
        rows = parsed.rename({_RAW: "raw"}).with_columns(  # noqa: F841 (read by DuckDB)
            parser_version=pl.lit(version, pl.Utf8), gazetteer=pl.lit(gazetteer, pl.Utf8)
        )
        self.con.begin()
        try:
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {PARSES} AS SELECT * FROM rows LIMIT 0")
            self.con.execute(
                f"DELETE FROM {PARSES} WHERE parser_version <> ? OR (? IS NOT NULL AND gazetteer <> ?)",
                [version, gazetteer, gazetteer],
            )
            self.con.execute(f"INSERT INTO {PARSES} BY NAME SELECT * FROM rows")
        except BaseException:
            self.con.rollback()
            raise
        self.con.commit()
