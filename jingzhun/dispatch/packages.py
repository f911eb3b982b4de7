"""The work lists of one run: per-subdistrict dispatch packages, the review queue and the quarantine."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl

from jingzhun.cleansing.idcard import id_details
from jingzhun.core import progress, rules
from jingzhun.core.masking import mask_raw_values, shown
from jingzhun.dispatch.encryption import Passwords, seal
from jingzhun.dispatch.files import Printout, Sheet, write_csv, write_table
from jingzhun.ingest.mapping import SOURCE_NAMES

# Left for staff to fill in; the feedback loop reads them back.
FEEDBACK_HEADERS = ("核查结果", "处置时间", "备注")
# The work list's columns written as they are: the person's phone and ID number as `jingzhun/rules/privacy.yaml` shows
# them to dispatch, and codes that are nobody's personal data and must survive intact (the feedback loop reads 派单编号
# back). Every other cell has ID numbers and phones masked (`jingzhun.dispatch.files`).
DISPATCH_SHOWN = ("派单编号", "手机号码", "证件号码", "网格")
# The same for the review workbooks, record and candidate side (审核编号 comes back from analysts).
REVIEW_SHOWN = (
    "审核编号",
    "候选人员编号",
    "证件号码",
    "手机号码",
    "记录证件号码",
    "记录手机号码",
    "候选证件号码",
    "候选手机号码",
)
# What a clerk on a visit reads and writes, in the order it prints, with each column's printed width (Excel
# character units; a Chinese character counts two). A4 landscape holds about 150 at full size; the rest of a
# line (status, masked ID, rules, lineage) follows in the sheet, grouped out of the printed view.
PRINTED_WIDTHS = {
    "居委": 10,
    "派单编号": 11,
    "优先级": 7,
    "截止时间": 11,
    "姓名": 8,
    "手机号码": 12,
    "登记地址": 28,
    "筛查原因": 32,
    "核查结果": 12,
    "处置时间": 11,
    "备注": 12,
}
# What the work lists, the review queue and the person candidates read of the standardized records (72 columns):
# only these are read from the warehouse for a day of a million records.
RECORD_COLUMNS = (
    "record_id",
    "source",
    "source_file",
    "source_row",
    "name",
    "id_number",
    "phone",
    "address",
    "event_at",
    "extras",
)

STATUS_NEW = "新派"
# Case columns as the warehouse table `cases` keeps them: one row per dispatched case per run date.
CASES_SCHEMA = {
    "dispatch_id": pl.Utf8,
    "case_key": pl.Utf8,
    "first_dispatched_on": pl.Date,
    "dispatched_at": pl.Datetime("us"),
    "deadline_hours": pl.Int64,
    "deadline_at": pl.Datetime("us"),
    "priority": pl.Int64,
    "rule_ids": pl.List(pl.Utf8),
    "show_id": pl.Boolean,
    "subdistrict_code": pl.Utf8,
    "subdistrict_name": pl.Utf8,
    "committee_code": pl.Utf8,
    "committee_name": pl.Utf8,
    "grid_id": pl.Utf8,
    "house_id": pl.Utf8,
    "person_id": pl.Utf8,
    "sources": pl.List(pl.Utf8),
    "records": pl.Int64,
}


def issued_at(run_date: dt.date) -> dt.datetime:
    """When the day's lists reach the subdistricts (`jingzhun/rules/screening.yaml`): deadlines count from it."""
    at = dt.time.fromisoformat(str(rules.load("screening").get("dispatch", {}).get("issued_at", "07:30")))
    return dt.datetime.combine(run_date, at)


def _lead_first() -> list[str]:
    # The most urgent record of a case decides where it goes; the rest is deterministic so reruns are identical.
    return ["dispatch_id", "priority", "source", "source_file", "source_row"]


def case_table(decided: pl.DataFrame, run_date: dt.date) -> pl.DataFrame:
    """One row per dispatched case (all of a person's dispatched records of the day): where it goes, how urgent,
    since when. A continued case keeps the day and time of its first dispatch: its clock does not restart."""
    records = decided.filter(pl.col("outcome") == "dispatched").sort(_lead_first())
    first_day = pl.coalesce("continued_from", pl.lit(run_date))
    at = issued_at(run_date).time()
    cases = (
        records.group_by("dispatch_id", maintain_order=True)
        .agg(
            pl.col(
                "case_key",
                "continued_from",
                "subdistrict_code",
                "subdistrict_name",
                "committee_code",
                "committee_name",
                "grid_id",
                "house_id",
            ).first(),
            pl.col("person_id").drop_nulls().first(),
            pl.col("priority").min(),
            pl.col("deadline_hours").min(),
            pl.col("show_id").fill_null(False).any(),
            pl.col("rule_ids").list.explode(keep_nulls=False, empty_as_null=False).unique(maintain_order=True),
            pl.col("source").unique(maintain_order=True).alias("sources"),
            pl.len().alias("records"),
        )
        .with_columns(first_dispatched_on=first_day)
        .with_columns(dispatched_at=pl.col("first_dispatched_on").dt.combine(at))
        .with_columns(deadline_at=pl.col("dispatched_at") + pl.duration(hours=pl.col("deadline_hours")))
    )
    return cases.select([pl.col(c).cast(t) for c, t in CASES_SCHEMA.items()]).sort("dispatch_id")


def _distinct(column: str | pl.Expr, separator: str = "、") -> pl.Expr:
    expr = pl.col(column) if isinstance(column, str) else column
    joined = expr.drop_nulls().unique(maintain_order=True).str.join(separator)
    return pl.when(joined != "").then(joined)  # nothing known stays an empty cell


def work_list(
    cases: pl.DataFrame, decided: pl.DataFrame, standard: pl.DataFrame, houses: pl.DataFrame, run_date: dt.date
) -> pl.DataFrame:
    """A careful clerk's work list: one line per case, every source and record of it listed, Chinese headers,
    sorted by committee, priority and deadline. Personal fields as `jingzhun/rules/privacy.yaml` shows them to dispatch:
    the ID number masked unless a fired rule declares `show_id`, ID numbers and phones in the extra columns masked
    whatever their header. The columns 核查结果 / 处置时间 / 备注 are left for staff; the feedback loop reads them
    back."""
    records = (
        decided.filter(pl.col("outcome") == "dispatched")
        .join(
            standard.select("record_id", "name", "id_number", "phone", "address", "event_at", "extras"), on="record_id"
        )
        # `show_id` of the case, not of the record: a rule that needs the ID for one record needs it for the person.
        .join(cases.select("dispatch_id", case_show_id="show_id"), on="dispatch_id")
        .sort(_lead_first())
        .with_columns(
            id_shown=pl.when(pl.col("case_show_id"))
            .then("id_number")
            .otherwise(shown("dispatch", "id_number", "id_number")),
            name=shown("dispatch", "name", "name"),
            phone=shown("dispatch", "phone", "phone"),
            address=shown("dispatch", "address", "address"),
            position=pl.col("source_file") + pl.lit(" 第") + pl.col("source_row").cast(pl.Utf8) + pl.lit("行"),
            reason=pl.col("screening_reasons").str.split("；"),
            explanation=pl.col("match_explanation").str.split("；"),
            extras=shown("dispatch", "extras", pl.col("extras").map_elements(_extras_text, return_dtype=pl.Utf8)),
        )
    )
    per_case = records.group_by("dispatch_id", maintain_order=True).agg(
        _distinct("name"),
        _distinct("id_shown"),
        _distinct("phone"),
        _distinct("address", "；"),
        _distinct(pl.col("reason").list.explode(keep_nulls=False, empty_as_null=False), "；").alias("reasons"),
        _distinct(pl.col("explanation").list.explode(keep_nulls=False, empty_as_null=False), "；").alias(
            "match_explanation"
        ),
        pl.col("event_at").min(),
        pl.col("position").str.join("；"),
        # Extra columns of the exports stay with the record they came from, in the same order as the positions.
        pl.col("extras").fill_null("无").str.join("；"),
    )
    rows = (
        cases.join(per_case, on="dispatch_id")
        .join(houses.select("house_id", house_address="address"), on="house_id", how="left")
        .sort("subdistrict_code", "committee_name", "priority", "deadline_at", "dispatch_id")
    )
    status = (
        pl.when(pl.col("first_dispatched_on") < run_date)
        .then(pl.lit("延续（已于") + pl.col("first_dispatched_on").dt.strftime("%m-%d") + pl.lit("派发，未办结）"))
        .otherwise(pl.lit(STATUS_NEW))
    )
    return rows.select(
        pl.col("subdistrict_code").alias("__subdistrict_code"),
        pl.col("subdistrict_name").alias("__subdistrict_name"),
        # The printed columns (`PRINTED_WIDTHS`), staff's answers last,
        pl.col("committee_name").alias("居委"),
        pl.col("dispatch_id").alias("派单编号"),
        pl.col("priority").alias("优先级"),
        pl.col("deadline_at").alias("截止时间"),
        pl.col("name").alias("姓名"),
        pl.col("phone").alias("手机号码"),
        pl.col("address").alias("登记地址"),
        pl.col("reasons").alias("筛查原因"),
        *[pl.lit(None, pl.Utf8).alias(h) for h in FEEDBACK_HEADERS],
        # then what the office and the loop back need.
        status.alias("状态"),
        pl.col("deadline_hours").alias("处置时限(小时)"),
        pl.col("id_shown").alias("证件号码"),
        pl.col("rule_ids").list.join("、").alias("触发规则"),
        pl.col("sources").list.eval(pl.element().replace_strict(SOURCE_NAMES)).list.join("、").alias("来源"),
        pl.col("house_address").alias("匹配房屋"),
        pl.col("grid_id").alias("网格"),
        pl.col("match_explanation").alias("匹配说明"),
        pl.col("dispatched_at").alias("派发时间"),
        pl.col("event_at").alias("登记时间"),
        pl.col("records").alias("记录数"),
        pl.col("position").alias("来源文件及行号"),
        pl.col("extras").alias("其他信息"),
    )


def _extras_text(extras: str | None) -> str | None:
    """`{"序号": "1", "数据来源": "健康云"}` as 序号：1，数据来源：健康云 — readable, nothing dropped."""
    values = json.loads(extras) if extras else {}
    return "，".join(f"{k}：{v}" for k, v in values.items()) or None


def _summary(work: pl.DataFrame) -> pl.DataFrame:
    """Counts per committee and in total, for the subdistrict's duty officer."""
    counts = [
        pl.len().alias("派单数"),
        (pl.col("状态") != STATUS_NEW).sum().alias("其中延续"),
        *[
            (pl.col("优先级") == p).sum().alias(f"{label}")
            for p, label in ((1, "一级(最紧急)"), (2, "二级"), (3, "三级"))
        ],
        pl.col("截止时间").min().alias("最早截止"),
    ]
    per_committee = work.group_by("居委").agg(counts).sort("居委")
    total = work.select(pl.lit("合计").alias("居委"), *counts)
    return pl.concat([per_committee, total], how="vertical_relaxed")


def write_dispatch(
    run_dir: Path, rows: pl.DataFrame, run_date: dt.date, passwords: Passwords | None = None
) -> list[Path]:
    """One `.xlsx` and one `.csv` per subdistrict with work: `dispatch/<code>_<name>.*`; with `passwords` (packages
    encrypted, `jingzhun/rules/packages.yaml`) the two sealed in `dispatch/<code>_<name>.zip` with the subdistrict's
    password.

    One sheet with a filterable committee column rather than a sheet per committee: the feedback loop reads one
    sheet back, the `.csv` holds exactly the sheet, and a duty officer sorts the whole subdistrict by deadline.
    The sheet prints as the clerks' paper list: the columns of `PRINTED_WIDTHS`, one page wide."""
    written = []
    results = rules.load("feedback")["results"]
    validations = {
        "核查结果": {
            "validate": "list",
            "source": results,
            "error_type": "information",
            "input_title": "核查结果",
            "input_message": "可从列表选择，也可填写其他情况",
        },
        "处置时间": {"validate": "any", "input_title": "处置时间", "input_message": "如 2026-11-22 14:30"},
    }
    subdistricts = rows.group_by("__subdistrict_code", "__subdistrict_name", maintain_order=True)
    count = rows.select(pl.struct("__subdistrict_code", "__subdistrict_name").n_unique()).item()
    for done, ((code, name), group) in enumerate(subdistricts):
        progress.doing("the subdistricts' work lists", done, count)
        work = group.drop("__subdistrict_code", "__subdistrict_name")
        files = write_table(
            run_dir / "dispatch" / f"{code}_{name}",
            [
                Sheet(
                    "派单",
                    work,
                    freeze_columns=2,
                    validations=validations,
                    shown=DISPATCH_SHOWN,
                    printout=Printout(f"{name}（{code}）派单", f"运行日期 {run_date.isoformat()}", PRINTED_WIDTHS),
                ),
                Sheet("汇总", _summary(work)),
            ],
            run_date,
        )
        written += [seal(files, passwords.by_subdistrict[code], run_date)] if passwords else files
    return written


def write_review(run_dir: Path, decided: pl.DataFrame, standard: pl.DataFrame, run_date: dt.date) -> list[Path]:
    rows = (
        decided.filter(pl.col("outcome") == "review")
        .join(standard.select("record_id", "name", "id_number", "phone", "address"), on="record_id")
        .sort("record_id")
        .select(
            pl.col("source").replace_strict(SOURCE_NAMES).alias("来源"),
            pl.col("source_file").alias("来源文件"),
            pl.col("source_row").alias("来源行号"),
            pl.col("reasons").alias("需判断的问题"),
            shown("review", "name", "name").alias("姓名"),
            shown("review", "id_number", "id_number").alias("证件号码"),
            *id_details("id_number"),
            shown("review", "phone", "phone").alias("手机号码"),
            shown("review", "address", "address").alias("登记地址"),
            pl.col("committee_name").alias("系统建议居委"),
            pl.col("match_explanation").alias("匹配说明"),
            pl.lit(None, pl.Utf8).alias("分析员决定(居委编码)"),
            pl.lit(None, pl.Utf8).alias("备注"),
        )
    )
    return write_table(run_dir / "review" / "review", [Sheet("待人工判断", rows, shown=REVIEW_SHOWN)], run_date)


def write_person_candidates(run_dir: Path, rows: pl.DataFrame, run_date: dt.date) -> list[Path]:
    """The person pairs the model would not decide (`jingzhun.matching.review`), for analysts to mark
    是同一人/不是同一人 and put back in `INBOX/review/`."""
    return write_table(
        run_dir / "review" / "person_candidates", [Sheet("人员候选", rows, shown=REVIEW_SHOWN)], run_date
    )


def quarantine_rows(decided: pl.DataFrame, raw: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    """Every quarantined row with its position, reason code, reason and the values as they arrived (unmasked:
    each output masks them as `jingzhun/rules/privacy.yaml` says, `jingzhun.core.masking.mask_raw_values`)."""
    quarantined = decided.filter(pl.col("outcome") == "quarantined")
    # Only the quarantined rows' values are turned into text: a day has millions of raw rows.
    raw_values = raw.join(quarantined.select("record_id"), on="record_id").select(
        "record_id",
        "source_line",
        pl.struct([*fields, "extras"])
        .map_elements(
            lambda r: json.dumps(
                {k: json.loads(v) if k == "extras" else v for k, v in r.items() if v is not None}, ensure_ascii=False
            ),
            return_dtype=pl.Utf8,
        )
        .alias("raw_values"),
    )
    return (
        quarantined.join(raw_values, on="record_id")
        .sort("record_id")
        .select(
            "source",
            "source_file",
            "source_row",
            "source_line",
            reason_code="quarantine_code",
            reason="reasons",
            raw_values="raw_values",
        )
    )


def write_quarantine(run_dir: Path, rows: pl.DataFrame, unreadable: pl.DataFrame) -> list[Path]:
    folder = run_dir / "quarantine"
    write_csv(folder / "rows.csv", mask_raw_values(rows, "quarantine"))
    write_csv(folder / "files.csv", unreadable)
    return [folder / "rows.csv", folder / "files.csv"]


def unreadable_files(files: list) -> pl.DataFrame:
    """Every file and sheet that was not read, with its rows where they can be counted, and why."""
    reasons = rules.load("quarantine")["files"]
    return pl.DataFrame(
        [
            {
                "source": f.source,
                "source_file": f.name,
                "path": f.path,
                "sheet": f.sheet,
                "rows": f.unread_rows,
                "reason_code": f.error_code,
                "reason": reasons.get(f.error_code, f.error_code),
                "detail": f.error_detail,
            }
            for f in files
            if f.error_code
        ],
        schema={
            "source": pl.Utf8,
            "source_file": pl.Utf8,
            "path": pl.Utf8,
            "sheet": pl.Utf8,
            "rows": pl.Int64,
            **{c: pl.Utf8 for c in ("reason_code", "reason", "detail")},
        },
    )
