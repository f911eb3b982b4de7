"""The warehouse keeps each table's types across days, also when the first day had a column empty in every row."""

from __future__ import annotations

import datetime as dt

import polars as pl

from jingzhun.core.warehouse import MEMORY_LIMIT_ENV, connect, open_duckdb, read_run, replace_latest, replace_run

DAY1, DAY2 = dt.date(2026, 11, 22), dt.date(2026, 11, 23)


def test_a_column_empty_on_the_first_day_takes_the_type_of_the_first_day_with_values(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    empty = pl.DataFrame({"name": [None, None], "name_traditional": [None, None], "seen_at": [None, None]})
    filled = pl.DataFrame(
        {"name": ["王伟", "張三"], "name_traditional": [False, True], "seen_at": [dt.datetime(2026, 11, 23, 8), None]}
    )
    with connect(path) as con:
        replace_run(con, "standard_records", DAY1, empty)
        replace_run(con, "standard_records", DAY2, filled)
        # A rerun of the empty day after that leaves the types alone.
        replace_run(con, "standard_records", DAY1, empty)
        day2 = read_run(con, "standard_records", DAY2)
        day1 = read_run(con, "standard_records", DAY1)
    assert day2.schema["name_traditional"] == pl.Boolean
    assert day2.schema["seen_at"] == pl.Datetime("us")
    assert day2["name_traditional"].to_list() == [False, True]
    assert day1["name_traditional"].to_list() == [None, None] and day1.schema["name_traditional"] == pl.Boolean


def test_a_text_column_with_values_is_never_retyped(tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as con:
        replace_run(con, "t", DAY1, pl.DataFrame({"code": ["A1"]}))
        replace_run(con, "t", DAY2, pl.DataFrame({"code": [7]}))
        assert con.sql("SELECT code FROM t ORDER BY run_date").fetchall() == [("A1",), ("7",)]


def test_every_duckdb_connection_is_bounded_in_memory_and_spills_beside_its_file(tmp_path, monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    with connect(tmp_path / "warehouse.duckdb") as con:
        limit, spill = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchall()[0]
    assert limit == "3.7 GiB"  # 4GB, as DuckDB says it
    assert spill == str(tmp_path / "warehouse.duckdb.tmp")
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1GB")
    in_memory = open_duckdb()
    try:
        assert in_memory.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == "953.6 MiB"
        # A sort larger than the limit spills to the temporary folder rather than failing.
        in_memory.execute("SET memory_limit = '50MB'")
        rows = in_memory.execute(
            "SELECT count(*) FROM (SELECT range % 1000003 AS k, repeat('x', 40) AS pad "
            "FROM range(3000000) ORDER BY k, pad)"
        ).fetchall()[0][0]
    finally:
        in_memory.close()
    assert rows == 3_000_000


def test_the_latest_rows_are_stored_once_and_only_redated_while_they_do_not_change(tmp_path):
    """The population's features (a million rows) are written again only when they changed; the same rows get the
    new run's date, a changed frame replaces them whole, a changed type too."""
    path = tmp_path / "warehouse.duckdb"
    persons = pl.DataFrame({"person_id": ["P1", "P2", "P3"], "name_pinyin": ["wang wei", None, "li qiang"]})
    day3 = dt.date(2026, 11, 24)
    stored = []
    for day, frame in (
        (DAY1, persons),
        (DAY2, persons),
        (day3, persons.with_columns(name_pinyin=pl.lit("x"))),
        (dt.date(2026, 11, 25), persons.with_columns(pl.col("person_id").str.slice(1).cast(pl.Int64))),
    ):
        with connect(path) as con:
            replace_latest(con, "person_features_population", day, frame)
        with connect(path) as con:
            stored.append(
                (
                    con.execute("SELECT DISTINCT run_date FROM person_features_population").fetchall(),
                    read_run(con, "person_features_population", day),
                )
            )
    assert [dates for dates, _ in stored] == [[(DAY1,)], [(DAY2,)], [(day3,)], [(dt.date(2026, 11, 25),)]]
    assert stored[0][1].equals(persons) and stored[1][1].equals(persons)
    assert stored[2][1]["name_pinyin"].to_list() == ["x", "x", "x"]
    assert stored[3][1].schema["person_id"] == pl.Int64 and stored[3][1]["person_id"].to_list() == [1, 2, 3]


def test_threads_that_open_the_warehouse_at_once_all_get_it(tmp_path):
    # The validate step runs beside the match step, and both open the warehouse: two threads connecting to one
    # file at once made DuckDB open it twice, and the second failed (a unique file handle conflict).
    import threading

    from jingzhun.core.warehouse import open_duckdb

    errors: list[BaseException] = []

    def connect_often(path):
        for _ in range(20):
            try:
                con = open_duckdb(path)
                con.execute("SELECT 1")
                con.close()
            except Exception as error:  # what a thread raised is asserted on below
                errors.append(error)

    for trial in range(20):
        path = tmp_path / f"warehouse{trial}.duckdb"
        open_duckdb(path).close()
        threads = [threading.Thread(target=connect_often, args=(path,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
