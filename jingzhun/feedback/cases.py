"""Cases across days: which returned lines can be trusted, which cases they close, which stay open, and how long
disposal took against the deadline.

Reads the warehouse tables `cases` (written by the dispatch step, one row per case per run date), `feedback`
and `match_results`; never writes them. A case's clock runs from its first dispatch (`dispatched_at`), so a
continued case does not restart it.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from jingzhun.core import rules
from jingzhun.core.warehouse import has_table
from jingzhun.dispatch.packages import CASES_SCHEMA

FIRST_DISPATCH_COLUMNS = (
    "dispatch_id",
    "case_key",
    "first_dispatched_on",
    "dispatched_at",
    "deadline_hours",
    "deadline_at",
    "subdistrict_code",
    "subdistrict_name",
)
LABELS_SCHEMA = {
    "dispatch_id": pl.Utf8,
    "case_key": pl.Utf8,
    "dispatched_on": pl.Date,
    "source": pl.Utf8,
    "source_file": pl.Utf8,
    "source_row": pl.Int64,
    "person_id": pl.Utf8,
    "house_id": pl.Utf8,
    "match_method": pl.Utf8,
    "match_probability": pl.Float64,
    "result": pl.Utf8,
    "label": pl.Utf8,
    "note": pl.Utf8,
}
CLOSED_SCHEMA = {
    **{c: CASES_SCHEMA[c] for c in FIRST_DISPATCH_COLUMNS},
    "result": pl.Utf8,
    "disposed_at": pl.Datetime("us"),
    "hours": pl.Float64,
    "within_deadline": pl.Boolean,
}


def dispatched_cases(con: duckdb.DuckDBPyConnection, up_to: dt.date, *, before: bool = False) -> pl.DataFrame:
    """Every case dispatched up to `up_to` (or strictly before it), as first dispatched: one row per id."""
    if not has_table(con, "cases"):
        return pl.DataFrame(schema={c: CASES_SCHEMA[c] for c in FIRST_DISPATCH_COLUMNS})
    return con.sql(
        f"""
        SELECT {", ".join(FIRST_DISPATCH_COLUMNS)} FROM cases WHERE run_date {"<" if before else "<="} ?
        QUALIFY row_number() OVER (PARTITION BY dispatch_id ORDER BY run_date) = 1 ORDER BY dispatch_id
    """,
        params=[up_to],
    ).pl()


def check(con: duckdb.DuckDBPyConnection, returned: pl.DataFrame, run_date: dt.date) -> pl.DataFrame:
    """The returned lines with `issue` set where a line cannot close a case; a line without issue closes one."""
    known = dispatched_cases(con, run_date).select(
        "dispatch_id", case_subdistrict="subdistrict_code", case_dispatched_at="dispatched_at"
    )
    latest = dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time())
    rows = returned.join(known, on="dispatch_id", how="left")
    issue = (
        pl.when(pl.col("issue").is_not_null())
        .then("issue")
        .when(pl.col("dispatch_id").is_null())
        .then(pl.lit("派单编号为空"))
        .when(pl.col("case_subdistrict").is_null())
        .then(pl.lit("派单编号不存在（可能被改动）：") + pl.col("dispatch_id"))
        .when(
            pl.col("file_subdistrict_code").is_not_null()
            & (pl.col("file_subdistrict_code") != pl.col("case_subdistrict"))
        )
        .then(pl.lit("派单编号不属于本街镇的派单文件（可能被改动）：") + pl.col("dispatch_id"))
        .when(pl.col("result").is_null())
        .then(pl.lit("核查结果未填"))
        .when(pl.col("disposed_at_raw").is_null())
        .then(pl.lit("处置时间未填"))
        .when(pl.col("disposed_at").is_null())
        .then(pl.lit("处置时间无法识别：") + pl.col("disposed_at_raw"))
        .when(pl.col("disposed_at") < pl.col("case_dispatched_at"))
        .then(pl.lit("处置时间早于派发时间"))
        .when(pl.col("disposed_at") >= latest)
        .then(pl.lit("处置时间晚于本次运行日"))
    )
    return rows.with_columns(issue=issue).select(list(returned.columns))


def closed_cases(con: duckdb.DuckDBPyConnection, run_date: dt.date) -> pl.DataFrame:
    """The cases closed by feedback read up to `run_date`, with hours from dispatch to disposal.

    The same file may be read on several days; per case the latest read wins, and within it the last line."""
    if not has_table(con, "feedback"):
        return pl.DataFrame(schema=CLOSED_SCHEMA)
    answers = con.sql(
        """
        SELECT dispatch_id, result, disposed_at FROM feedback WHERE issue IS NULL AND run_date <= ?
        QUALIFY row_number() OVER (PARTITION BY dispatch_id
                                   ORDER BY run_date DESC, feedback_file DESC, feedback_row DESC) = 1
    """,
        params=[run_date],
    ).pl()
    return (
        dispatched_cases(con, run_date)
        .join(answers, on="dispatch_id")
        .with_columns(hours=(pl.col("disposed_at") - pl.col("dispatched_at")).dt.total_seconds() / 3600)
        .with_columns(within_deadline=pl.col("hours") <= pl.col("deadline_hours"))
        .select([pl.col(c).cast(t) for c, t in CLOSED_SCHEMA.items()])
        .sort("dispatch_id")
    )


def open_cases(con: duckdb.DuckDBPyConnection, run_date: dt.date, *, before: bool = True) -> pl.DataFrame:
    """Cases dispatched before `run_date` (or up to it) that no trusted feedback has closed."""
    closed = closed_cases(con, run_date).select("dispatch_id")
    return (
        dispatched_cases(con, run_date, before=before)
        .join(closed, on="dispatch_id", how="anti")
        .sort("first_dispatched_on", "dispatch_id")
        .unique("case_key", keep="first", maintain_order=True)
    )


def labels(con: duckdb.DuckDBPyConnection, checked: pl.DataFrame) -> pl.DataFrame:
    """What staff said about each record of the cases they answered, with the match the pipeline made: labels
    for the matching engineers (`jingzhun/rules/feedback.yaml` maps a 核查结果 to a label)."""
    answered = checked.filter(pl.col("issue").is_null()).unique("dispatch_id", keep="last", maintain_order=True)
    if answered.is_empty() or not has_table(con, "match_results"):
        return pl.DataFrame(schema=LABELS_SCHEMA)
    label = pl.lit(None, pl.Utf8)
    for entry in reversed(rules.load("feedback")["labels"]):  # the first entry that applies wins
        label = (
            pl.when(pl.col("result").str.contains(entry["contains"], literal=True))
            .then(pl.lit(entry["label"]))
            .otherwise(label)
        )
    con.register("answered", answered.select("dispatch_id", "result", "note"))
    records = con.sql("""
        SELECT m.dispatch_id, m.case_key, m.run_date AS dispatched_on, m.source, m.source_file, m.source_row,
               m.person_id, m.house_id, m.match_method, m.match_probability, a.result, a.note
        FROM match_results m JOIN answered a USING (dispatch_id)
        ORDER BY m.dispatch_id, m.run_date, m.source, m.source_file, m.source_row
    """).pl()
    con.unregister("answered")
    return records.with_columns(label=label).select([pl.col(c).cast(t) for c, t in LABELS_SCHEMA.items()])
