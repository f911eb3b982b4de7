"""How the cleanse parses a day's addresses faster with the same results: parses kept in the warehouse
(`jingzhun/cleansing/parse_store.py`), read back equal, never across a change of the parser or the register's
names; a long column parsed in two processes, equal to one."""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from jingzhun.cleansing import pipeline
from jingzhun.cleansing.address import Gazetteer
from jingzhun.cleansing.parse_store import PARSES, AddressParses

ADDRESSES = [
    "上海市浦东新区碧波路455弄3号502室",
    "浦东新区张江镇祖冲之路88号汤臣豪园5号楼1201室",
    "金桥镇金桥路1号",
    "上海市浦東新區碧波路455弄3號",  # traditional: normalized before it is parsed
    "不详",  # a placeholder: empty
    "",
    "碧波路455弄3号502室",
    "碧波路455弄3号502室",  # a repeat: one parse
]


@pytest.fixture
def store():
    con = duckdb.connect()
    yield AddressParses(con)
    con.close()


def _day(addresses: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame({"address": addresses, "row": range(len(addresses))}, schema_overrides={"address": pl.Utf8})


def _not_parsed(text, *_args, **_kwargs):
    # normalize_column reads the result's keys off the empty value's result: that one is no address
    assert not text, f"{text} parsed again"
    return dict.fromkeys(pipeline.ADDRESS_FIELDS)


def _stored(store: AddressParses) -> int:
    return store.con.execute(f"SELECT count(*) FROM {PARSES}").fetchall()[0][0]


def test_kept_parses_are_read_back_equal_and_not_parsed_again(store, monkeypatch):
    gazetteer = Gazetteer(["金桥镇"], ["汤臣豪园"])
    plain = pipeline.normalize_column(_day([*ADDRESSES, None]), "address", "address", gazetteer)
    first = pipeline.normalize_column(_day([*ADDRESSES, None]), "address", "address", gazetteer, store)
    assert_frame_equal(first, plain)
    assert _stored(store) == len(set(ADDRESSES))  # each distinct value once, the null none

    monkeypatch.setattr(pipeline, "parse_address", _not_parsed)
    monkeypatch.setattr(pipeline, "parse_normalized_address", _not_parsed)
    reordered = [*reversed(ADDRESSES), None]
    again = pipeline.normalize_column(_day(reordered), "address", "address", gazetteer, store)
    assert_frame_equal(again, pipeline.normalize_column(_day(reordered), "address", "address", gazetteer, store))
    assert again.filter(pl.col("address_raw") == "上海市浦東新區碧波路455弄3號").row(0, named=True) | {
        "row": 0
    } == first.filter(pl.col("address_raw") == "上海市浦東新區碧波路455弄3號").row(0, named=True) | {"row": 0}
    assert again["addr_road"].to_list()[-2] == "碧波路"  # the repeat, read back


def test_another_gazetteer_or_parser_parses_again(store, monkeypatch):
    pipeline.normalize_column(_day(ADDRESSES), "address", "address", Gazetteer(["金桥镇"], []), store)
    pipeline.normalize_column(_day(ADDRESSES), "address", "address", None, store)  # the register's own: kept beside
    assert _stored(store) == 2 * len(set(ADDRESSES))

    calls = []
    parse = pipeline.parse_normalized_address
    monkeypatch.setattr(pipeline, "parse_normalized_address", lambda *a, **k: calls.append(a) or parse(*a, **k))
    other = Gazetteer(["金桥镇"], ["金桥路"])  # the register's names changed: its day's parses are of no use
    changed = pipeline.normalize_column(_day(ADDRESSES), "address", "address", other, store)
    assert len(calls) >= 4  # the simplified addresses written as they are: parsed again
    assert_frame_equal(changed, pipeline.normalize_column(_day(ADDRESSES), "address", "address", other))
    assert _stored(store) == 2 * len(set(ADDRESSES))  # the old gazetteer's rows dropped, the register's kept

    monkeypatch.setattr(pipeline, "parser_version", lambda *_: "another parser")
    calls.clear()
    pipeline.normalize_column(_day(ADDRESSES), "address", "address", other, store)
    assert calls
    assert _stored(store) == len(set(ADDRESSES))  # every row of the old parser dropped


def test_two_processes_give_what_one_gives(monkeypatch, tmp_path):
    gazetteer = Gazetteer(["金桥镇"], ["汤臣豪园"])
    rooms = [f"碧波路{lane}弄{n}号{room}室" for lane in (5, 455) for n in range(1, 9) for room in (101, 502, 1201)]
    day = _day([*ADDRESSES, *rooms, None])
    one = pipeline.normalize_column(day, "address", "address", gazetteer)
    real, marker = pipeline._normalized_forked, tmp_path / "forked"
    monkeypatch.setattr(
        pipeline, "_normalized_forked", lambda *args: marker.write_text(str(os.getpid())) and real(*args)
    )
    monkeypatch.setattr(pipeline, "PARALLEL_VALUES", 10)
    two = pipeline.normalize_column(day, "address", "address", gazetteer)
    assert_frame_equal(two, one)
    assert one["addr_room"].drop_nulls().len() >= len(rooms)
    assert int(marker.read_text()) != os.getpid()  # the second half ran in the other process


@pytest.mark.parametrize("fate", ["hangs", "dies"])
def test_a_second_process_that_hangs_or_dies_leaves_its_half_to_the_first(monkeypatch, fate):
    gazetteer = Gazetteer(["金桥镇"], ["汤臣豪园"])
    day = _day([f"碧波路{lane}弄{n}号{room}室" for lane in (5, 455) for n in range(1, 9) for room in (101, 502)])
    one = pipeline.normalize_column(day, "address", "address", gazetteer)

    def forked(*_args):  # the child, forked: a lock it waits for forever, or a death
        if fate == "hangs":
            threading.Event().wait()
        os._exit(1)

    monkeypatch.setattr(pipeline, "_normalized_forked", forked)
    monkeypatch.setattr(pipeline, "PARALLEL_VALUES", 10)
    monkeypatch.setattr(pipeline, "FORKED_PATIENCE", (1.0, 0.0))
    started = time.monotonic()
    assert_frame_equal(pipeline.normalize_column(day, "address", "address", gazetteer), one)
    assert time.monotonic() - started < 30
    assert not mp.active_children()  # the hung child is not left behind


def test_addresses_are_read_in_the_district_the_register_names_not_the_rules_default():
    # The rules' default district is 浦东新区; a register of 徐汇区 (its grid names 310104) is read as 徐汇's:
    # 天平 is 天平路街道 there, not the start of a road 天平和广路.
    from jingzhun.matching.reference import grid_district

    grid = pl.DataFrame({"district_code": ["310104", "310104"], "subdistrict_name": ["天平路街道", "湖南路街道"]})
    assert grid_district(grid) == "310104"
    assert grid_district(pl.DataFrame({"district_code": ["310104", "310115"]})) is None
    day = _day(["徐汇区天平和广路310号204室"])
    own = pipeline.normalize_column(day, "address", "address", Gazetteer(["天平路街道"], [], grid_district(grid)))
    assert (own["addr_town"][0], own["addr_road"][0]) == ("天平路街道", "和广路")
    default = pipeline.normalize_column(day, "address", "address", Gazetteer(["天平路街道"], []))
    assert (default["addr_town"][0], default["addr_road"][0]) == (None, "天平和广路")


def test_a_registers_community_column_is_written_as_the_parser_reads_the_place():
    # 乐山四、五村 in the housing register's column; addresses write it with or without its mark, in brackets too.
    written = pl.DataFrame({"community": ["乐山四、五村", "康健一村(南)"]})
    column = pipeline.normalize_column(written, "community", "place")
    names = column["community"].to_list()
    assert names == ["乐山四五村", "康健一村南"]
    gazetteer = Gazetteer(["徐家汇街道"], names)
    parsed = pipeline.normalize_column(_day(["徐家汇街道乐山四、五村2303室"]), "address", "address", gazetteer)
    assert parsed["addr_community"][0] == names[0]
