"""Reading the returned work lists in `INBOX/feedback/` (any subdistrict, any earlier day): one row per line
staff worked on.

People do things to spreadsheets: dates typed as text or stored as dates, CSV saved again by Excel as GBK,
sheets renamed, a package sealed with the wrong password. What cannot be read becomes an `issue` in words; this
module never raises on a file's content.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from jingzhun.cleansing.datetimes import parse_datetime
from jingzhun.core import rules
from jingzhun.dispatch.encryption import PACKAGE_SUFFIX, PackageError, Passwords, open_package
from jingzhun.dispatch.packages import FEEDBACK_HEADERS
from jingzhun.ingest.files import FEEDBACK_FOLDER, SUPPORTED_SUFFIXES, UnreadableFile, read_sheet, returned_files

QUARANTINE_FILE_REASONS: dict[str, str] = rules.load("quarantine")["files"]

ID_HEADER = "派单编号"
WORK_SHEET = "派单"
RETURNED_SCHEMA = {
    "feedback_file": pl.Utf8,
    "feedback_row": pl.Int64,
    "file_subdistrict_code": pl.Utf8,
    "dispatch_id": pl.Utf8,
    "result": pl.Utf8,
    "disposed_at_raw": pl.Utf8,
    "disposed_at": pl.Datetime("us"),
    "note": pl.Utf8,
    "issue": pl.Utf8,
}


def read_returned(inbox: Path, passwords: Passwords | None = None) -> pl.DataFrame:
    """Every filled line of every returned `.xlsx` / `.csv`, and of those in a returned package (`.zip`, opened with
    its subdistrict's password), in file order; lines nobody touched are skipped."""
    folder = inbox / FEEDBACK_FOLDER
    packages = (
        [p for p in sorted(folder.rglob(f"*{PACKAGE_SUFFIX}")) if not p.name.startswith(("~$", "."))]
        if folder.is_dir()
        else []
    )
    rows: list[dict[str, Any]] = []
    for path in sorted([*returned_files(folder), *packages]):
        name = str(path.relative_to(folder))
        rows += _read_package(path, name, passwords) if path in packages else _read_file(path, name)
    return pl.DataFrame(rows, schema=RETURNED_SCHEMA, orient="row") if rows else pl.DataFrame(schema=RETURNED_SCHEMA)


def _read_package(path: Path, name: str, passwords: Passwords | None) -> list[dict[str, Any]]:
    """The work lists in a returned zip, each read as if returned alone (named `package.zip/member.xlsx`)."""
    try:
        members = open_package(path, passwords)
    except PackageError as error:
        return _file_issue(name, _code(path), str(error))
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="jingzhun-returned-") as unpacked:
        for member, content in members:
            copy = Path(unpacked) / Path(member).name  # never a path of the zip's choosing
            if copy.suffix.lower() not in SUPPORTED_SUFFIXES or copy.name.startswith(("~$", ".")):
                continue
            copy.write_bytes(content)
            rows += _read_file(copy, f"{name}/{member}")
    return rows or _file_issue(name, _code(path), "压缩文件中没有派单文件（.xlsx 或 .csv）")


def _code(path: Path) -> str | None:
    prefix = path.stem.split("_")[0]
    return prefix if prefix.isdigit() else None  # dispatch/<code>_<name>.xlsx, unless someone renamed it


def _file_issue(name: str, code: str | None, issue: str) -> list[dict[str, Any]]:
    return [{**dict.fromkeys(RETURNED_SCHEMA), "feedback_file": name, "file_subdistrict_code": code, "issue": issue}]


def _read_file(path: Path, name: str) -> list[dict[str, Any]]:
    code = _code(path)

    def file_issue(issue: str) -> list[dict[str, Any]]:
        return _file_issue(name, code, issue)

    try:
        table = read_sheet(path, WORK_SHEET).rows
    except UnreadableFile as error:
        reasons = rules.load("quarantine")["files"]  # read at use: the rules in force may differ per run
        return file_issue(f"文件无法读取（{reasons.get(error.code, error.code)}）")
    header = [_text(c) for c in table[0]] if table else []
    if ID_HEADER not in header:
        return file_issue(f"不是派单文件：缺少“{ID_HEADER}”列")
    missing = [h for h in FEEDBACK_HEADERS if h not in header]
    if missing:
        return file_issue("缺少回填列：" + "、".join(missing))
    at = {h: header.index(h) for h in (ID_HEADER, *FEEDBACK_HEADERS)}
    rows = []
    for number, cells in enumerate(table[1:], start=2):  # the row number staff see in Excel
        value = {h: cells[i] if i < len(cells) else None for h, i in at.items()}
        result, note, when = _text(value["核查结果"]), _text(value["备注"]), value["处置时间"]
        if result is None and note is None and _text(when) is None:
            continue
        disposed = parse_datetime(_text(when))
        rows.append(
            {
                "feedback_file": name,
                "feedback_row": number,
                "file_subdistrict_code": code,
                "dispatch_id": _text(value[ID_HEADER]),
                "result": result,
                "disposed_at_raw": _text(when),
                "disposed_at": disposed,
                "note": note,
                "issue": None,
            }
        )
    return rows


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = str(value).strip().removeprefix("'")  # the apostrophe `safe_cell` may have added
    return text or None


def issues_table(checked: pl.DataFrame) -> pl.DataFrame:
    """The lines that closed nothing, in words, for the staff who returned them."""
    return checked.filter(pl.col("issue").is_not_null()).select(
        pl.col("feedback_file").alias("回流文件"),
        pl.col("feedback_row").alias("行号"),
        pl.col("dispatch_id").alias("派单编号"),
        pl.col("issue").alias("问题"),
    )
