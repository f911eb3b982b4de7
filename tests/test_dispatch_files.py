"""Files people open: no cell a spreadsheet would execute, headers in view, the same rows in .xlsx and .csv."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from jingzhun.core.masking import mask_id_number, mask_phone
from jingzhun.dispatch.files import FORMULA_STARTS, Printout, Sheet, safe_cell, write_csv, write_workbook
from jingzhun.reporting.manifest import count_rows


@given(st.text())
def test_no_written_cell_starts_like_a_formula(text):
    assert not safe_cell(text).startswith(FORMULA_STARTS)


@given(st.text(alphabet=st.characters(blacklist_characters="=+-@\t\r"), min_size=1))
def test_ordinary_text_is_written_unchanged(text):
    assert safe_cell(text) == text


def test_workbook_and_csv_hold_the_same_safe_rows(tmp_path):
    frame = pl.DataFrame(
        {"姓名": ["王伟", "李娜"], "诉求内容": ['=HYPERLINK("http://x","点我")', "+1 楼道"], "派单数": [3, 4]}
    )
    created = dt.datetime(2026, 11, 22)
    write_workbook(tmp_path / "a.xlsx", [Sheet("派单", frame)], created)
    write_csv(tmp_path / "a.csv", frame)

    book = openpyxl.load_workbook(tmp_path / "a.xlsx")
    sheet = book["派单"]
    assert [c.value for c in sheet[1]] == ["姓名", "诉求内容", "派单数"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref is not None
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert sheet["B2"].value == "'" + '=HYPERLINK("http://x","点我")'
    assert sheet["C3"].value == 4

    raw = (tmp_path / "a.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(tmp_path / "a.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[1][1] == sheet["B2"].value and rows[2][1] == "'+1 楼道"


def test_same_inputs_give_byte_identical_workbooks(tmp_path):
    frame = pl.DataFrame({"姓名": ["王伟"]})
    for name in ("a.xlsx", "b.xlsx"):
        write_workbook(tmp_path / name, [Sheet("派单", frame)], dt.datetime(2026, 11, 22))
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_a_printed_sheet_grows_rows_for_long_text_and_hides_the_rest(tmp_path):
    long_reason = "来沪人员落地核实：核实是否在居住地，登记健康状况" * 2  # 48 characters, 96 columns wide
    frame = pl.DataFrame(
        {"姓名": ["王伟", "李娜"], "筛查原因": ["红码", long_reason], "来源文件及行号": ["a.csv 第2行"] * 2}
    )
    printout = Printout("A&B街道", "运行日期 2026-11-22", {"姓名": 8, "筛查原因": 20})
    write_workbook(tmp_path / "a.xlsx", [Sheet("派单", frame, printout=printout)], dt.datetime(2026, 11, 22))

    sheet = openpyxl.load_workbook(tmp_path / "a.xlsx")["派单"]
    assert sheet.oddHeader.left.text == "A&&B街道"  # a lone `&` would start a control code
    assert (sheet.column_dimensions["A"].hidden, sheet.column_dimensions["B"].hidden) == (False, False)
    assert sheet.column_dimensions["C"].hidden is True and sheet.column_dimensions["C"].outlineLevel == 1
    assert sheet["C2"].value == "a.csv 第2行"  # hidden from print, still in the sheet
    assert sheet.row_dimensions[2].height >= 36
    # 96 columns of text in a 20-wide column take at least five lines of at least 14 points (11-point text).
    assert sheet.row_dimensions[3].height >= 5 * 14
    assert sheet["B3"].alignment.wrap_text is True


def test_masks_keep_only_what_tells_people_apart():
    assert mask_id_number("31011519900101123X") == "310115********123X"
    assert mask_phone("13812345678") == "138****5678"


def test_address_mask_hides_house_numbers_in_any_numerals():
    from jingzhun.core.masking import mask_address

    assert mask_address("碧源路四二七号六〇一室") == "碧源路***号***室"
    assert mask_address("碧波路455弄3号502室") == "碧波路***弄*号***室"
    assert mask_address("福华大道１５８弄３６号") == "福华大道***弄**号"  # full-width digits, as exported


def test_report_records_mask_everything_not_known_to_be_harmless():
    from jingzhun.core.masking import mask_record

    record = {"name": "王伟", "phone": "13812345678", "plate": "沪A12345", "category": "疫情防控", "content": "长文本"}
    assert mask_record(record) == {"name": "王*", "phone": "138****5678", "plate": "沪******", "category": "疫情防控"}
    # A ragged row: the phone sits under 车牌号码, so no header says what a value is.
    shifted = {"checkpoint": "G15", "plate": "13812345678", "origin": "沪A12345"}
    masked = mask_record(shifted, columns_trusted=False)
    assert masked == {"checkpoint": "G**", "plate": "***********", "origin": "沪******"}


# Texts a hotline caller or an export may hold: formula starts, XML's special characters, control characters,
# Excel's own `_xHHHH_` escapes, whitespace at either end, CJK, quotes, commas and line breaks.
_CELL_TEXT = st.lists(
    st.sampled_from([*"=+-@\t\r\n &<>\"',;_x0F", "\x01", "\x1f", "_x0041_", "王", "伟", "　"]), max_size=8
).map("".join)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), _CELL_TEXT), st.one_of(st.none(), st.integers(-(10**6), 10**6))),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),
)
def test_every_cell_reads_back_as_written_and_the_csv_is_what_csv_writer_writes(tmp_path_factory, rows, printed):
    """What a spreadsheet reads back is `safe_cell` of each value (a number as the number), in a printed sheet
    too; the `.csv` is byte for byte what Python's `csv.writer` writes of `safe_cell` of each value. Texts are read
    with calamine (`fastexcel`), which undoes Excel's `_xHHHH_` escapes as Excel does; openpyxl leaves them."""
    import fastexcel

    tmp_path = tmp_path_factory.mktemp("cells")
    frame = pl.DataFrame(rows, schema={"内容": pl.Utf8, "数量": pl.Int64}, orient="row")
    printout = Printout("街道", "运行日期", {"内容": 10}) if printed else None
    write_workbook(tmp_path / "a.xlsx", [Sheet("派单", frame, printout=printout)], dt.datetime(2026, 11, 22))
    write_csv(tmp_path / "a.csv", frame)

    sheet = openpyxl.load_workbook(tmp_path / "a.xlsx")["派单"]
    texts = fastexcel.read_excel(tmp_path / "a.xlsx").load_sheet(0, header_row=None, dtypes="string").to_polars()
    for at, (text, number) in enumerate(rows, start=2):
        read = texts[at - 1, 0] if at - 1 < texts.height else None
        assert read is None if text is None else read == safe_cell(text) or (text == "" and read is None)
        assert sheet.cell(at, 2).value == number
        if printed:
            assert sheet.row_dimensions[at].height >= 36
    # The manifest's count of the workbook's rows is what a spreadsheet reads (calamine), not what was meant.
    assert count_rows(tmp_path / "a.xlsx") == max(texts.height - 1, 0)
    expected = io.StringIO(newline="")
    writer = csv.writer(expected)
    writer.writerow(frame.columns)
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    assert (tmp_path / "a.csv").read_bytes() == ("\ufeff" + expected.getvalue()).encode()


def test_a_one_column_csv_quotes_an_empty_row_as_csv_writer_does(tmp_path):
    write_csv(tmp_path / "a.csv", pl.DataFrame({"备注": ["a", "", None]}))
    assert (tmp_path / "a.csv").read_bytes() == '\ufeff备注\r\na\r\n""\r\n""\r\n'.encode()
