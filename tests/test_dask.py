"""The match stage split into parts gives the results of one process: on a Dask cluster of two worker processes
through the daily flow, and in-process on a day with every phenomenon of real exports (roads across subdistricts,
shared phones, sparse rows, addresses only the token stage resolves), where a wrong split would show."""

from __future__ import annotations

import polars as pl
import pytest

from tests.conftest import RUN_DATE

# What identifies a row of match_results (the record_id is not in the file).
ROW_KEY = ["source", "source_file", "source_row"]


def test_daily_flow_on_a_dask_cluster_gives_the_local_run_row_for_row(district, flow_run, tmp_path):
    from distributed import Client, LocalCluster, get_task_stream

    from jingzhun.core.warehouse import connect, read_run
    from jingzhun.flows.daily import daily

    local_dir, _ = flow_run
    out = tmp_path / "out"
    with (
        LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
        get_task_stream(client) as stream,
    ):
        daily(
            inbox=district / "inbox",
            reference=district / "reference",
            out=out,
            run_date=RUN_DATE,
            dask_address=cluster.scheduler_address,
        )
    # The parts ran as tasks on both workers, the address parts and the person parts.
    keys = [task["key"] for task in stream.data]
    assert len({task["worker"] for task in stream.data}) == 2, stream.data
    assert any("resolve_part" in key for key in keys) and any("score_part" in key for key in keys), keys

    local = pl.read_parquet(local_dir / "match_results.parquet").sort(ROW_KEY)
    on_dask = pl.read_parquet(out / RUN_DATE.isoformat() / "match_results.parquet").sort(ROW_KEY)
    assert local.height > 300 and local["person_id"].is_not_null().sum() > 300
    assert on_dask.columns == local.columns
    assert on_dask.equals(local)
    # The pairs the model scored too, each with its weights and levels.
    with connect(local_dir.parent / "warehouse.duckdb") as con:
        local_pairs = read_run(con, "person_candidates", RUN_DATE).sort("record_id", "person_id")
    with connect(out / "warehouse.duckdb") as con:
        dask_pairs = read_run(con, "person_candidates", RUN_DATE).sort("record_id", "person_id")
    assert dask_pairs.equals(local_pairs)
    assert not list(out.glob(".*match-parts"))  # the parts' files are removed


@pytest.fixture(scope="module")
def messy_day(tmp_path_factory):
    """A small district whose day has every phenomenon, cleansed and ready to match."""
    import jingzhun.flows.steps as steps
    from jingzhun.core.run import Run
    from jingzhun.synthetic.generate import generate
    from jingzhun.synthetic.settings import Settings

    folder = tmp_path_factory.mktemp("messy")
    generate(
        folder / "district",
        persons=3000,
        seed=5,
        day=RUN_DATE,
        settings=Settings(
            day_rows=1000,
            away_from_home=0.4,
            sparse_hotline=0.3,
            household_phones=0.5,
            place_name_communities=0.3,
            short_town_names=0.3,
            numberless_addresses=0.1,
            numberless_places=0.2,
            empty_columns=0.3,
        ),
    )
    _roads_across_subdistricts(folder / "district" / "reference")
    run = Run(
        inbox=folder / "district" / "inbox",
        reference=folder / "district" / "reference",
        out=folder / "out",
        run_date=RUN_DATE,
    )
    steps.prepare(run)
    steps.ingest(run)
    steps.cleanse(run)
    return run


def _roads_across_subdistricts(reference):
    """A road runs on into the next subdistrict with the same numbers: a house of the same road, number, building
    and room in another subdistrict for one house in ten, so that an address naming neither town nor community
    resolves to no house, and one naming its town must not be resolved among that town's houses alone."""
    housing = pl.read_csv(reference / "housing.csv", infer_schema=False)
    grid = pl.read_csv(reference / "grid.csv", infer_schema=False).unique("grid_id").sort("grid_id")
    first_grids = grid.unique("subdistrict_code", keep="first").sort("subdistrict_code")
    town = dict(grid.select("grid_id", "subdistrict_name").iter_rows())
    grids = first_grids["grid_id"].to_list()
    next_grid = {sub: grids[(i + 1) % len(grids)] for i, sub in enumerate(first_grids["subdistrict_code"])}
    subdistrict = dict(grid.select("grid_id", "subdistrict_code").iter_rows())
    twins = pl.DataFrame(
        [
            {
                **house,
                "house_id": f"T{house['house_id']}",
                "grid_id": next_grid[subdistrict[house["grid_id"]]],
                "address": house["address"].replace(
                    town[house["grid_id"]], town[next_grid[subdistrict[house["grid_id"]]]]
                ),
            }
            for house in housing.gather_every(10).iter_rows(named=True)
        ],
        schema=housing.schema,
    )
    pl.concat([housing, twins]).write_csv(reference / "housing.csv")


def test_parts_in_process_give_the_one_process_match_on_a_messy_day(messy_day, tmp_path):
    from jingzhun.core.warehouse import connect, read_run
    from jingzhun.matching.link import match
    from jingzhun.matching.partitions import in_process
    from jingzhun.matching.reference import load_reference

    reference = load_reference(messy_day.reference)
    with connect(messy_day.warehouse) as con:
        standard = read_run(con, "standard_records", RUN_DATE)
        whole = match(con, standard, reference)
        parts = match(con, standard, reference, partitions=in_process(tmp_path / "parts", width=3))
    matched = whole.matched.sort("record_id")
    # A day that exercises the split: routed across subdistricts, ambiguous, sent to review, unlinked.
    assert matched["review_reason"].is_not_null().sum() > 0 and matched["ambiguous"].sum() > 0
    assert matched["subdistrict_code"].n_unique() > 3 and matched["person_id"].is_null().sum() > 0
    # The token stage, trained on the whole day's open records, resolved some of them.
    assert matched["address_method"].str.ends_with("_tokens").sum() > 0
    assert parts.matched.sort("record_id").equals(matched)
    assert parts.candidates.sort("record_id", "person_id").equals(whole.candidates.sort("record_id", "person_id"))
    assert not (tmp_path / "parts").exists()


@pytest.mark.parametrize(
    ("rule", "keys"),
    [
        ("l.phone = r.phone", [("phone", "phone")]),
        (
            "l.name_key = r.name_key AND right(l.id_digits, 4) = right(r.id_digits, 4)",
            [("name_key", "name_key"), ("right(id_digits, 4)", "right(id_digits, 4)")],
        ),
        ("l.name_key = r.name_key OR l.phone = r.phone", None),
        ("levenshtein(l.name, r.name) <= 1", None),
        ("l.surname = r.surname AND l.house_id <> r.house_id", None),
        ("l.a = l.b", None),
    ],
)
def test_a_blocking_rule_is_split_by_hash_only_when_it_is_an_equality_of_keys(rule, keys):
    from jingzhun.matching.partitions import rule_keys

    assert rule_keys(rule) == keys


def test_the_houses_read_from_their_copy_as_each_stage_needs_give_the_match_of_all_houses_read(messy_day, monkeypatch):
    """The match step reads the houses from their Parquet copy, each address stage only the rows the day's records
    can meet: the same addresses (exact, fuzzy, token, every level) as all the houses in memory."""
    from jingzhun.core.warehouse import connect, read_run
    from jingzhun.matching import link, standardized
    from jingzhun.matching.reference import load_reference

    reference = load_reference(messy_day.reference)
    with connect(messy_day.warehouse) as con:
        standard = read_run(con, "standard_records", RUN_DATE)
        scanned = link.match(con, standard, reference)
        copies = list((messy_day.warehouse.parent / ".reference-cache").glob(f"{standardized.HOUSES}-*.parquet"))
        monkeypatch.setattr(
            link, "houses_scan", lambda con, reference: standardized.standardize_houses(con, reference).lazy()
        )
        whole = link.match(con, standard, reference)
    assert copies
    methods = set(whole.matched["address_method"].drop_nulls())
    assert {"house", "house_fuzzy", "person_home"} <= methods and any("tokens" in m for m in methods)
    assert scanned.matched.equals(whole.matched)
    assert scanned.candidates.equals(whole.candidates)


def test_persons_scored_a_few_records_at_a_time_give_the_match_of_all_at_once(messy_day, monkeypatch):
    """The one-process person stage scores the pairs of `RECORDS_SCORED_AT_ONCE` records a statement and decides
    `RECORDS_PER_BATCH` records at a time (a million records' pairs do not fit in memory at once): the same
    decisions, routings and kept candidates as all records in one batch."""
    from jingzhun.core.warehouse import connect, read_run
    from jingzhun.matching import link
    from jingzhun.matching.reference import load_reference

    reference = load_reference(messy_day.reference)
    with connect(messy_day.warehouse) as con:
        standard = read_run(con, "standard_records", RUN_DATE)
        whole = link.match(con, standard, reference)
        monkeypatch.setattr(link, "RECORDS_PER_BATCH", 7)
        monkeypatch.setattr(link, "RECORDS_SCORED_AT_ONCE", 30)
        batched = link.match(con, standard, reference)
    assert standard.height > 3 * 30  # several statements of several batches, the last of them short
    # Decided by phone households and by the model, linked and unlinked: the batches change none of them.
    assert whole.matched["address_method"].is_in(["phone_home", "person_home"]).sum() > 0
    assert whole.matched["person_id"].is_not_null().sum() > 0 and whole.matched["person_id"].is_null().sum() > 0
    assert batched.matched.equals(whole.matched)
    assert batched.candidates.equals(whole.candidates)
    assert batched.record_features.equals(whole.record_features)
