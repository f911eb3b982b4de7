"""The analysts' review of person linkage: the candidate pairs the model would not decide, as rows with both
sides and the evidence (dispatch writes them to `review/person_candidates.xlsx`), and the decisions read back
from `INBOX/review/` as labelled pairs for the retrain.

Analysts see what they need to decide, as `jingzhun/rules/privacy.yaml` shows it to review: the masked ID number with
the birth date and area it encodes, the last four digits of the phone. A decision that cannot be read is skipped and
counted, never guessed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from jingzhun.cleansing.idcard import id_details
from jingzhun.core.masking import shown
from jingzhun.ingest.files import REVIEW_FOLDER, UnreadableFile, read_sheet, returned_files
from jingzhun.ingest.mapping import SOURCE_NAMES
from jingzhun.matching.person import Thresholds, explain

PAIR_HEADER = "审核编号"
DECISION_HEADER = "决定（是同一人/不是同一人）"
DECISIONS = {"是同一人": True, "是": True, "同一人": True, "不是同一人": False, "否": False, "不是": False}
LABEL_SCHEMA = {
    "label_run_date": pl.Date,
    "record_id": pl.Int64,
    "person_id": pl.Utf8,
    "is_match": pl.Boolean,
    "review_file": pl.Utf8,
    "review_row": pl.Int64,
}


def candidate_rows(
    candidates: pl.DataFrame, matched: pl.DataFrame, standard: pl.DataFrame, population: pl.DataFrame, run_date: dt.date
) -> pl.DataFrame:
    """Every candidate at or above the review threshold of a record the model did not link: both sides."""
    undecided = matched.filter(pl.col("person_id").is_null()).select("record_id")
    pairs = candidates.join(undecided, on="record_id").filter(pl.col("match_probability") >= Thresholds.load().review)
    return (
        pairs.join(
            standard.select(
                "record_id", "source", "source_file", "source_row", "name", "id_number", "phone", "address"
            ),
            on="record_id",
        )
        .join(
            population.select(
                "person_id", p_name="name", p_id_number="id_number", p_phone="phone", p_address="address"
            ),
            on="person_id",
            how="left",
        )
        # The person id last: candidates at the same weight (a household's phone) in one order whatever order the
        # warehouse gave them in, so that a rerun writes the same file.
        .sort("record_id", "match_weight", "person_id", descending=[False, True, False])
        .select(
            pl.concat_str(  # the pair's id, read back by `_label`: run date/record id/person id
                pl.lit(f"{run_date.isoformat()}/"), pl.col("record_id").cast(pl.Utf8), pl.lit("/"), "person_id"
            ).alias(PAIR_HEADER),
            pl.col("source").replace_strict(SOURCE_NAMES).alias("来源"),
            pl.col("source_file").alias("来源文件"),
            pl.col("source_row").alias("来源行号"),
            *_person("记录", "name", "id_number", "phone", "address"),
            pl.col("person_id").alias("候选人员编号"),
            *_person("候选", "p_name", "p_id_number", "p_phone", "p_address"),
            pl.col("match_probability").round(4).alias("匹配概率"),
            explain().alias("一致的证据"),
            pl.lit(None, pl.Utf8).alias(DECISION_HEADER),
            pl.lit(None, pl.Utf8).alias("备注"),
        )
    )


def _person(side: str, name: str, id_number: str, phone: str, address: str) -> list[pl.Expr]:
    """One side of a pair as analysts see it: name, masked ID number with its birth date and area, the phone's last
    four digits, address."""
    return [
        shown("review", "name", name).alias(f"{side}姓名"),
        shown("review", "id_number", id_number).alias(f"{side}证件号码"),
        *id_details(id_number, side),
        shown("review", "phone", phone).alias(f"{side}手机号码"),
        shown("review", "address", address).alias(f"{side}{'地址' if side == '记录' else '住址'}"),
    ]


def read_decisions(inbox: Path) -> tuple[pl.DataFrame, int]:
    """Labelled pairs from every decided workbook in `INBOX/review/`, and how many filled lines were unreadable
    (an unknown decision word, an edited pair id, a file that is not a review workbook)."""
    labels, unreadable = [], 0
    for path in returned_files(inbox / REVIEW_FOLDER):
        try:
            rows = read_sheet(path).rows
        except UnreadableFile:
            unreadable += 1
            continue
        header = [str(c).strip() if c else "" for c in rows[0]]
        if PAIR_HEADER not in header or DECISION_HEADER not in header:
            unreadable += 1
            continue
        at_pair, at_decision = header.index(PAIR_HEADER), header.index(DECISION_HEADER)
        for number, cells in enumerate(rows[1:], start=2):
            decision = cells[at_decision].strip() if at_decision < len(cells) and cells[at_decision] else None
            if decision is None:
                continue
            label = _label(cells[at_pair] if at_pair < len(cells) else None, decision)
            if label is None:
                unreadable += 1
                continue
            labels.append({**label, "review_file": path.name, "review_row": number})
    return pl.DataFrame(labels, schema=LABEL_SCHEMA), unreadable


def _label(pair: str | None, decision: str) -> dict | None:
    parts = (pair or "").removeprefix("'").split("/")
    if len(parts) != 3 or decision not in DECISIONS or not parts[1].isdigit():
        return None
    try:
        day = dt.date.fromisoformat(parts[0])
    except ValueError:
        return None
    return {"label_run_date": day, "record_id": int(parts[1]), "person_id": parts[2], "is_match": DECISIONS[decision]}
