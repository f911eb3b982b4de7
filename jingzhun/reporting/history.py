"""The history of the runs kept in one warehouse: the report's trends per source and its day-over-day alerts.

Every run stores a few small tables of figures, never a record: per source its volume, person match and routing
rates, quarantine and review shares (`source_daily`); per source and identity field how complete and valid it
arrived (`field_daily`); per subdistrict and for the district the disposal time of the cases closed that day
(`disposal_daily`). The report reads them back over the window of `jingzhun/rules/report.yaml` and compares the run with
the one before it, so that an export that changed shape (a renamed header, a garbled column) is seen the morning
it arrives, by source and field. The thresholds are the auditors' (`jingzhun/rules/report.yaml`), not this module's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from jingzhun.core import rules
from jingzhun.core.warehouse import has_table, replace_run
from jingzhun.ingest.mapping import IDENTIFYING_FIELDS, SOURCE_NAMES, SOURCES
from jingzhun.reporting.charts import percent
from jingzhun.reporting.figures import DEFINITIONS, FIELD_NAMES

_COUNT, _RATE = pl.Int64, pl.Float64
SOURCE_DAILY = {
    "source": pl.Utf8,
    "rows": _COUNT,
    "usable": _COUNT,
    "person_matched": _COUNT,
    "routed": _COUNT,
    "dispatched": _COUNT,
    "no_action": _COUNT,
    "review": _COUNT,
    "quarantined": _COUNT,
    "person_match_rate": _RATE,
    "routing_rate": _RATE,
    "quarantine_share": _RATE,
    "review_share": _RATE,
}
FIELD_DAILY = {
    "source": pl.Utf8,
    "field": pl.Utf8,
    "rows": _COUNT,
    "filled": _COUNT,
    "valid": _COUNT,
    "repaired": _COUNT,
    "completeness": _RATE,
    "validity": _RATE,
    "repair_rate": _RATE,
}
DISPOSAL_DAILY = {
    "subdistrict_code": pl.Utf8,
    "subdistrict_name": pl.Utf8,
    "day_closed": _COUNT,
    "day_median_hours": _RATE,
    "day_p90_hours": _RATE,
}
DISTRICT = "全区"  # the disposal row of the whole district, as `figures.disposal_by_subdistrict` names it

# The rates compared day over day, each with the count it is a share of: a rate is compared only when that
# count reaches `min_rows` on both days.
SOURCE_RATES = {
    "person_match_rate": "usable",
    "routing_rate": "usable",
    "quarantine_share": "rows",
    "review_share": "rows",
}
FIELD_RATES = {"completeness": "rows", "validity": "filled"}


def store_day(
    con: duckdb.DuckDBPyConnection,
    run_date: dt.date,
    *,
    by_source: pl.DataFrame,
    fields: pl.DataFrame,
    disposal: pl.DataFrame,
) -> None:
    """Keep the run's figures for the trend: `by_source` from `figures.by_group`, `fields` from
    `figures.field_quality`, `disposal` from `figures.disposal_by_subdistrict` over the cases closed today."""
    # A source without a file today is a volume of 0, not a gap: that is what the alert must see.
    sources = (
        pl.DataFrame({"source": SOURCES})
        .join(by_source, on="source", how="left")
        .with_columns(pl.col(c).fill_null(0) for c, kind in SOURCE_DAILY.items() if kind == _COUNT)
    )
    replace_run(con, "source_daily", run_date, _typed(sources, SOURCE_DAILY))
    replace_run(con, "field_daily", run_date, _typed(fields, FIELD_DAILY))
    day = disposal.rename({"closed": "day_closed", "median_hours": "day_median_hours", "p90_hours": "day_p90_hours"})
    replace_run(con, "disposal_daily", run_date, _typed(day, DISPOSAL_DAILY))


def _typed(frame: pl.DataFrame, schema: dict[str, Any]) -> pl.DataFrame:
    return frame.select(pl.col(c).cast(t) for c, t in schema.items())


@dataclass(frozen=True)
class Move:
    """One figure of one source that moved: `before` on the previous run, `after` on this one."""

    figure: str
    before: float
    after: float
    is_rate: bool = True

    def __str__(self) -> str:
        shown = percent if self.is_rate else (lambda v: f"{v:,.0f}")
        return f"{self.figure} {shown(self.before)} → {shown(self.after)}"


@dataclass(frozen=True)
class Alert:
    source: str
    moves: list[Move] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{SOURCE_NAMES.get(self.source, self.source)} " + "；".join(str(m) for m in self.moves)


@dataclass(frozen=True)
class History:
    """The runs of the window, oldest first, and how this run compares with the one before it."""

    dates: list[dt.date]
    sources: pl.DataFrame
    fields: pl.DataFrame
    disposal: pl.DataFrame
    overall: pl.DataFrame
    previous: dt.date | None
    alerts: list[Alert]
    thresholds: dict[str, Any]

    def series(self, figure: str) -> list[tuple[str, list[float | None]]]:
        """One series per source of `figure` over the window's dates (None where a day has no value)."""
        return [
            (SOURCE_NAMES[source], _over(self.dates, self.sources.filter(pl.col("source") == source), figure))
            for source in SOURCES
        ]

    def district_disposal(self) -> list[tuple[str, list[float | None]]]:
        district = self.disposal.filter(pl.col("subdistrict_name") == DISTRICT)
        return [(DEFINITIONS[f][0], _over(self.dates, district, f)) for f in ("day_median_hours", "day_p90_hours")]


def _over(dates: list[dt.date], frame: pl.DataFrame, figure: str) -> list[float | None]:
    values = dict(zip(frame["run_date"], frame[figure], strict=True))
    return [values.get(d) for d in dates]


def load(con: duckdb.DuckDBPyConnection, run_date: dt.date) -> History:
    """The window of `jingzhun/rules/report.yaml` up to `run_date`, and the day-over-day alerts of `run_date`."""
    config = rules.load("report")
    since = run_date - dt.timedelta(days=config["history"]["days"] - 1)

    def read(table: str, schema: dict[str, Any], where: str, *params: dt.date) -> pl.DataFrame:
        if not has_table(con, table):
            return pl.DataFrame(schema={**schema, "run_date": pl.Date})
        return con.sql(f"SELECT * FROM {table} WHERE {where} ORDER BY run_date", params=list(params)).pl()

    window = "run_date BETWEEN ? AND ?"
    sources = read("source_daily", SOURCE_DAILY, window, since, run_date)
    previous = (
        con.execute("SELECT max(run_date) FROM source_daily WHERE run_date < ?", [run_date]).fetchall()[0][0]
        if has_table(con, "source_daily")
        else None
    )
    alerts = []
    if previous is not None:
        on = "run_date = ?"
        alerts = day_over_day(
            read("source_daily", SOURCE_DAILY, on, previous),
            read("source_daily", SOURCE_DAILY, on, run_date),
            read("field_daily", FIELD_DAILY, on, previous),
            read("field_daily", FIELD_DAILY, on, run_date),
            config["alerts"],
        )
    return History(
        dates=sorted(set(sources["run_date"])),
        sources=sources,
        fields=read("field_daily", FIELD_DAILY, window, since, run_date),
        disposal=read("disposal_daily", DISPOSAL_DAILY, window, since, run_date),
        overall=read("run_summary", {}, window, since, run_date),
        previous=previous,
        alerts=alerts,
        thresholds=config["alerts"],
    )


def day_over_day(
    sources_before: pl.DataFrame,
    sources_after: pl.DataFrame,
    fields_before: pl.DataFrame,
    fields_after: pl.DataFrame,
    thresholds: dict[str, Any],
) -> list[Alert]:
    """Per source, the figures that moved past the thresholds since the previous run: input rows, the rates of
    `SOURCE_RATES` and each identity field's completeness and validity."""
    points, min_rows = thresholds["rate_points"] / 100, thresholds["min_rows"]

    def rate_moved(before: dict[str, Any], after: dict[str, Any], rate: str, under: str) -> bool:
        return (
            before[rate] is not None
            and after[rate] is not None
            and min(before[under], after[under]) >= min_rows
            and abs(after[rate] - before[rate]) > points
        )

    alerts = []
    for source in SOURCES:
        before, after = _row(sources_before, source), _row(sources_after, source)
        moves = []
        if max(before["rows"], after["rows"]) >= min_rows and abs(after["rows"] - before["rows"]) > thresholds[
            "volume_change"
        ] * max(before["rows"], 1):
            moves.append(Move("输入行数", before["rows"], after["rows"], is_rate=False))
        moves += [
            Move(DEFINITIONS[rate][0], before[rate], after[rate])
            for rate, under in SOURCE_RATES.items()
            if rate_moved(before, after, rate, under)
        ]
        for name in IDENTIFYING_FIELDS:
            was, now = _row(fields_before, source, name), _row(fields_after, source, name)
            moves += [
                Move(f"{FIELD_NAMES[name]} {DEFINITIONS[rate][0]}", was[rate], now[rate])
                for rate, under in FIELD_RATES.items()
                if was and now and rate_moved(was, now, rate, under)
            ]
        if moves:
            alerts.append(Alert(source, moves))
    return alerts


def _row(frame: pl.DataFrame, source: str, field_name: str | None = None) -> dict[str, Any]:
    """The figures of one source (and field) on one day; a source that sent nothing has 0 rows."""
    rows = frame.filter(pl.col("source") == source)
    if field_name is not None:
        rows = rows.filter(pl.col("field") == field_name)
        return rows.row(0, named=True) if rows.height else {}
    return rows.row(0, named=True) if rows.height else {"rows": 0, **dict.fromkeys(SOURCE_RATES)}
