"""The address matcher on real, human-labelled address pairs: CCKS 2021 address relevance, the development half.

    .venv/bin/python benchmarks/address_matching_ccks.py [EVAL_DIR] [--split dev] [--errors] [--misses] [--refusals]
        [--levels]

EVAL_DIR defaults to ../shared/eval (not part of the project: its publishers give no licence to redistribute it;
nothing of it is copied here, the files below are written to a temporary folder). Run as a user would: every
distinct candidate text is a house of `housing.csv` (all in one made-up grid cell), every query one health-cloud
row with only its address; the daily flow's steps (`flows.steps`) resolve it, and a resolved house is right when
it is a 完全匹配 (same place) of its query. Printed: precision (of the queries resolved to a house, the share
resolved to a same-place candidate), recall (of the queries that have a same-place candidate, the share resolved
to one), beside a naive rapidfuzz best match over the whole register in the same run, and the targets of issue 8.
Asserts nothing. Most of these addresses are from other cities than ours, typed by people, with shops and
crossings as places: far harder than a housing register's own addresses.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from eval_data import add_eval_dir, labelled_file
from matching_sweep import daily_flow

TARGETS = {"precision": 0.90, "recall": 0.60}
SAME_PLACE, PARTIAL = "完全匹配", "部分匹配"
# One made-up grid cell (one subdistrict, one committee) holds every house. The register holds places from all
# over China, with no geography to place them by; cells drawn at random (a hash of each text, as before) put two
# texts of one place in different subdistricts half the time, and a name held by one entry then fenced the text
# off from its same-place candidate (165 of the 972 same-place queries), while fencing off rivals by the same
# chance. A real register's cells follow its streets: the same place lies in one. One cell lets nothing in the
# grid speak for or against a candidate: the figures are the words' alone.
GRID = [
    {
        "grid_id": "G11",
        "grid_name": "评测网格",
        "committee_code": "CCKS11",
        "committee_name": "评测居委",
        "subdistrict_code": "CCKS1",
        "subdistrict_name": "评测街道",
        "district_code": "999999",
        "district_name": "评测区",
    }
]
PERSONS = ("赵一", "钱二", "孙三", "李四", "周五", "吴六", "郑七", "王八")


@dataclass(frozen=True)
class Query:
    row: int  # 1-based data row of the health file
    text: str
    candidates: frozenset[str]  # house_ids of its candidates
    same_place: frozenset[str]  # house_ids of its 完全匹配 candidates
    partial: frozenset[str]  # house_ids of its 部分匹配 candidates (a part or the whole of the place)


def read_pairs(path: Path) -> tuple[list[Query], dict[str, str]]:
    """The queries and house_id → address text of every distinct candidate."""
    houses: dict[str, str] = {}
    queries = []
    for row, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        item = json.loads(line)
        for candidate in item["candidate"]:
            houses.setdefault(candidate["text"], f"H{len(houses) + 1:05d}")
        labelled = {
            label: frozenset(houses[c["text"]] for c in item["candidate"] if c["label"] == label)
            for label in (SAME_PLACE, PARTIAL)
        }
        queries.append(
            Query(
                row,
                item["query"],
                frozenset(houses[c["text"]] for c in item["candidate"]),
                labelled[SAME_PLACE],
                labelled[PARTIAL],
            )
        )
    return queries, {house_id: text for text, house_id in houses.items()}


def write_day(folder: Path, queries: list[Query], houses: dict[str, str]) -> None:
    """reference/ (grid, housing, a few made-up persons) and inbox/health/ with one address-only row per query."""
    reference, health = folder / "reference", folder / "inbox" / "health"
    reference.mkdir(parents=True)
    health.mkdir(parents=True)
    pl.DataFrame(GRID).write_csv(reference / "grid.csv")
    housing = pl.DataFrame(
        {
            "house_id": list(houses),
            "address": list(houses.values()),
            "grid_id": GRID[0]["grid_id"],
        }
    )
    housing.write_csv(reference / "housing.csv")
    pl.DataFrame(
        {
            "person_id": [f"P{i:03d}" for i in range(len(PERSONS))],
            "name": list(PERSONS),
            "id_number": [None] * len(PERSONS),
            "phone": [f"1380000{i:04d}" for i in range(len(PERSONS))],
            "house_id": housing["house_id"].head(len(PERSONS)).to_list(),
        }
    ).write_csv(reference / "population.csv")
    with open(health / "健康云申报_ccks.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["居住地址"])
        writer.writerows([q.text] for q in queries)


def score(queries: list[Query], resolved: dict[int, str | None]) -> dict[str, float | int]:
    """Precision of the houses resolved and recall over the queries that have a same-place candidate."""
    answered = [q for q in queries if resolved.get(q.row)]
    right = [q for q in answered if resolved[q.row] in q.same_place]
    findable = [q for q in queries if q.same_place]
    return {
        "resolved": len(answered),
        "right": len(right),
        "findable": len(findable),
        "partial": sum(resolved[q.row] in q.partial for q in answered),
        "precision": len(right) / len(answered) if answered else 0.0,
        "recall": sum(resolved.get(q.row) in q.same_place for q in findable) / len(findable),
    }


def rapidfuzz_best(queries: list[Query], houses: dict[str, str]) -> dict[int, str | None]:
    """The naive baseline: every query resolved to the most similar address of the whole register."""
    from rapidfuzz import fuzz, process

    ids, texts = list(houses), list(houses.values())
    return {q.row: ids[process.extractOne(q.text, texts, scorer=fuzz.ratio)[2]] for q in queries}


def jingzhun(folder: Path, decided: dict[str, pl.DataFrame] | None = None) -> tuple[pl.DataFrame, str | None, float]:
    """match_results of the daily flow's steps on the written day (one row per query). With `decided`, what the
    token stage's decision was given (pairs, records, houses) is put in it."""
    if decided is not None:
        from jingzhun.matching import link

        decide = link.decide_address_tokens

        def kept(pairs: pl.DataFrame, records: pl.DataFrame, houses: pl.DataFrame, config: dict) -> pl.DataFrame:
            # (the match step reads the houses lazily, from a Parquet copy gone once the run ends)
            decided.update(pairs=pairs, records=records, houses=houses.lazy().collect())
            return decide(pairs, records, houses, config)

        link.decide_address_tokens = kept
    try:
        results, failure, seconds = daily_flow(folder)
    finally:
        if decided is not None:
            link.decide_address_tokens = decide
    if results is None:
        return (
            pl.DataFrame(schema={"source_row": pl.Int64, "house_id": pl.Utf8, "match_method": pl.Utf8}),
            failure,
            seconds,
        )
    return results.select("source_row", "house_id", "match_method", "outcome"), failure, seconds


def token_config() -> dict:
    from jingzhun.core import rules

    return rules.load("thresholds")["address"]["tokens"]


def rule(config: dict, name: str) -> pl.Expr:
    """A rule of the token decision's settings (`house_requires`, `never`, ...) over a pair's levels."""
    from jingzhun.matching.person import exact_rule_met

    return exact_rule_met(({c: tuple(levels) for c, levels in config[name].items()},))


def with_source_row(records: pl.DataFrame) -> pl.DataFrame:
    """The records the token decision was given, with the 1-based data row of their query: record_id numbers a
    run's records in inbox order (`ingest/inbox.py`), and this day has one file of one row per query."""
    if "source_row" in records.columns:
        return records
    return records.with_columns(source_row=pl.col("record_id") + 1)


def flagged_pairs(pairs: pl.DataFrame, records: pl.DataFrame, houses: pl.DataFrame, config: dict) -> pl.DataFrame:
    """The token stage's scored pairs with the source_row of their query and, step by step of its decision
    (`matching/address.py` `decide_address_tokens`), what each step does to them: never, allowed (meets
    house_requires), fenced, stepped, open, beside, kept, best, best_probability, near."""
    return (
        pairs.join(
            houses.select("house_id", h_committee="committee_code", h_subdistrict="subdistrict_code"), on="house_id"
        )
        .join(
            with_source_row(records).select("record_id", "source_row", "written_subdistrict_code", "committee_code"),
            on="record_id",
        )
        .with_columns(
            never=rule(config, "never"),
            allowed=rule(config, "house_requires"),
            fenced=(pl.col("written_subdistrict_code") != pl.col("h_subdistrict")).fill_null(False)
            | (pl.col("committee_code") != pl.col("h_committee")).fill_null(False),
        )
        .with_columns(
            stepped=rule(config, "enclosing")
            & (rule(config, "numbered") & ~pl.col("never") & ~pl.col("fenced")).any().over("record_id")
        )
        .with_columns(open=~pl.col("never") & ~pl.col("fenced") & ~pl.col("stepped"))
        .with_columns(
            beside=~pl.col("allowed")
            & (pl.col("open") & pl.col("allowed") & (pl.col("match_probability") >= config["accept"]))
            .any()
            .over("record_id")
        )
        .with_columns(kept=pl.col("open") & ~pl.col("beside"))
        .with_columns(
            best=pl.col("match_weight").filter("kept").max().over("record_id"),
            best_probability=pl.col("match_probability").filter("kept").max().over("record_id"),
        )
        .with_columns(near=pl.col("kept") & (pl.col("match_weight") >= pl.col("best") - config["min_weight_gap"]))
    )


def misses(queries: list[Query], resolved: dict[int, str | None], decided: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Why each query with a same-place candidate is not resolved to one: the first step of the token decision
    (`matching/address.py` `decide_address_tokens`, its rules in thresholds.yaml) that loses all its same-place
    candidates, and for a lone candidate the rules of `house_requires` it fails."""
    config = token_config()
    pairs, records, houses = decided.get("pairs"), decided.get("records"), decided.get("houses")
    if pairs is None or pairs.is_empty():
        return {"the token stage scored nothing": sum(bool(q.same_place) for q in queries)}
    flagged = flagged_pairs(pairs, records, houses, config)
    by_row = {key[0]: frame for key, frame in flagged.partition_by("source_row", as_dict=True).items()}
    open_rows = set(with_source_row(records)["source_row"])
    counts: dict[str, int] = {}
    for q in queries:
        if not q.same_place:
            continue
        got, mine, theirs = resolved.get(q.row), None, by_row.get(q.row)
        if theirs is not None:
            mine = theirs.filter(pl.col("house_id").is_in(list(q.same_place)))
        if got:
            why = "resolved right" if got in q.same_place else "resolved to another house"
        elif q.row not in open_rows:
            why = "not open to the token stage (an exact stage's house)"
        elif mine is None or mine.is_empty():
            why = "blocking: no same-place candidate shares a rare word"
        elif mine["never"].all():
            why = "numbers contradict (never)"
        elif mine.filter(~pl.col("never"))["fenced"].all():
            why = "fenced: another subdistrict or committee than the text names (made-up grid)"
        elif mine.filter(~pl.col("never") & ~pl.col("fenced"))["stepped"].all():
            why = "stepped aside for a house holding the written numbers"
        elif mine.filter(~pl.col("never") & ~pl.col("fenced") & ~pl.col("stepped"))["beside"].all():
            why = "stepped aside for a sure house that meets house_requires"
        elif theirs["best_probability"].max() < config["accept"]:
            why = "best candidate below accept"
        elif not mine["near"].any():
            why = "another house scores higher (beyond the gap)"
        elif theirs.filter("near")["house_id"].n_unique() > 1:
            others = theirs.filter(pl.col("near") & ~pl.col("house_id").is_in(list(q.same_place)))
            why = "near-equal: " + ("another house within the gap" if others.height else "several same-place ones")
        else:
            lone = mine.filter("near").row(0, named=True)
            failed = [c for c, levels in config["house_requires"].items() if lone[f"level_{c}"] not in levels]
            why = "house_requires fails: " + "+".join(failed)
        counts[why] = counts.get(why, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def pair_labels(queries: list[Query]) -> pl.DataFrame:
    """source_row, house_id and label of every query's candidates: same (完全匹配), partial (部分匹配) or other."""
    return pl.DataFrame(
        [
            (q.row, house, "same" if house in q.same_place else "partial" if house in q.partial else "other")
            for q in queries
            for house in q.candidates
        ],
        schema={"source_row": pl.Int64, "house_id": pl.Utf8, "label": pl.Utf8},
        orient="row",
    )


def refusals(queries: list[Query], decided: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Which refusals of `house_requires` protect precision and which only cost recall: the open candidate the
    model ranks first for each query, when it reaches `accept`, grouped by the rules of `house_requires` it fails
    and by whether the next candidate is beyond `min_weight_gap`; how many of each group are a same-place
    (完全匹配) candidate, a 部分匹配 one, or neither (another query's candidate or 不匹配). A group whose refusal
    costs few wrong houses per right one is where a rule may be relaxed; the first line (fails nothing, past the
    gap) is what the stage resolves by the words."""
    config = token_config()
    labels = pair_labels(queries)
    fails = pl.concat_list(
        pl.when(~pl.col(f"level_{c}").is_in(levels)).then(pl.lit(c)) for c, levels in config["house_requires"].items()
    ).list.drop_nulls()
    best = (
        flagged_pairs(decided["pairs"], decided["records"], decided["houses"], config)
        .filter("open")
        .sort(["record_id", "match_weight"], descending=[False, True])
        .group_by("record_id", maintain_order=True)
        .agg(pl.all().first(), second=pl.col("match_weight").get(1, null_on_oob=True))
        .filter(pl.col("match_probability") >= config["accept"])
        .join(labels, on=["source_row", "house_id"], how="left")
    )
    return (
        best.with_columns(
            fails=fails.list.join("+").replace("", "(none)"),
            past_gap=(pl.col("match_weight") - pl.col("second")).fill_null(float("inf")) >= config["min_weight_gap"],
            label=pl.col("label").fill_null("other"),
        )
        .group_by("fails", "past_gap")
        .agg(
            best=pl.len(),
            same=(pl.col("label") == "same").sum(),
            partial=(pl.col("label") == "partial").sum(),
            other=(pl.col("label") == "other").sum(),
        )
        .with_columns(same_share=pl.col("same") / pl.col("best"))
        .sort("best", descending=True)
    )


def ranked_first(queries: list[Query], decided: dict[str, pl.DataFrame]) -> dict[str, int]:
    """How far the model's ranking goes: the queries with a same-place candidate among their open ones, and with
    one ranked first (of every open candidate; ties count), and first where the first reaches `accept`."""
    config = token_config()
    same = pl.DataFrame(
        [(q.row, house) for q in queries for house in q.same_place],
        schema={"source_row": pl.Int64, "house_id": pl.Utf8},
        orient="row",
    )
    open_pairs = (
        flagged_pairs(decided["pairs"], decided["records"], decided["houses"], config)
        .filter("open")
        .with_columns(
            top=pl.col("match_weight") == pl.col("match_weight").max().over("record_id"),
            top_probability=pl.col("match_probability").max().over("record_id"),
        )
        .join(same, on=["source_row", "house_id"], how="semi")
    )
    first = open_pairs.filter("top")
    return {
        "findable": sum(bool(q.same_place) for q in queries),
        "scored": open_pairs["source_row"].n_unique(),
        "first": first["source_row"].n_unique(),
        "first_at_accept": first.filter(pl.col("top_probability") >= config["accept"])["source_row"].n_unique(),
    }


# The parsed levels of an address, coarse to fine, as `jingzhun address parse` reads them (addr_*), and the finer
# ones: a level one side writes and the other does not is a part (the house writes it) or the place a part lies
# in (the text writes it).
LEVELS = ("district", "town", "road", "road_number", "community", "building", "unit", "floor", "room")
FINER = ("road_number", "community", "building", "unit", "floor", "room")


def level_states(pairs: pl.DataFrame, records: pl.DataFrame, houses: pl.DataFrame) -> pl.DataFrame:
    """`pairs` with each level's state between the text and the house: agree, inside (one written inside the
    other), text_only, house_only, differ or neither; `differ`, `part` (levels of FINER only the house writes) and
    `container` (only the text), and the pair's `relation`: differs (a level differs: a neighbour, another number,
    the same name elsewhere), part, container, both (each writes a finer level the other lacks) or same_levels."""

    def normalized(side: str, level: str) -> pl.Expr:
        text = pl.col(f"{side}_{level}").str.replace_all(r"[·•\s()（）,，-]", "")
        return pl.when(text.str.len_chars() > 0).then(text)

    sides = [f"addr_{level}" for level in LEVELS]
    frame = pairs.join(
        records.select("record_id", *[pl.col(c).alias(f"r_{c[5:]}") for c in sides]), on="record_id", how="left"
    ).join(houses.select("house_id", *[pl.col(c).alias(f"h_{c[5:]}") for c in sides]), on="house_id", how="left")
    states = []
    for level in LEVELS:
        r, h = normalized("r", level), normalized("h", level)
        states.append(
            pl.when(r.is_null() & h.is_null())
            .then(pl.lit("neither"))
            .when(h.is_null())
            .then(pl.lit("text_only"))
            .when(r.is_null())
            .then(pl.lit("house_only"))
            .when(r == h)
            .then(pl.lit("agree"))
            .when(r.str.contains(h, literal=True) | h.str.contains(r, literal=True))
            .then(pl.lit("inside"))
            .otherwise(pl.lit("differ"))
            .alias(f"s_{level}")
        )

    def count(state: str, levels: tuple[str, ...]) -> pl.Expr:
        return pl.sum_horizontal([(pl.col(f"s_{level}") == state).cast(pl.Int32) for level in levels])

    return (
        frame.with_columns(states)
        .with_columns(
            differ=count("differ", LEVELS), part=count("house_only", FINER), container=count("text_only", FINER)
        )
        .with_columns(
            relation=pl.when(pl.col("differ") > 0)
            .then(pl.lit("differs"))
            .when((pl.col("part") > 0) & (pl.col("container") > 0))
            .then(pl.lit("both"))
            .when(pl.col("part") > 0)
            .then(pl.lit("part"))
            .when(pl.col("container") > 0)
            .then(pl.lit("container"))
            .otherwise(pl.lit("same_levels"))
        )
        .drop(pl.selectors.starts_with("r_", "h_"))
    )


def level_ranking(queries: list[Query], decided: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame | dict]:
    """What outranks the same-place candidate, by parsed levels, and whether they rank it better. Over the open
    candidates (as `ranked_first`): for the queries with a same-place candidate open whose first (by the model's
    weight) is not one, the first's label and relation to the text beside the same-place one's (`winners`), and
    each level's state of the two (`by_level`). Then the weight less a penalty per differing level, per finer
    level only the house writes, per finer level only the text writes and per name end (`tails`) not written,
    each of 0, 4, 8 or 16 bits, chosen by 5-fold cross-validation by query (the most queries whose one first is
    same-place on the four other folds): the held-out folds' count beside the weight's alone (`ranking`). And over
    every open pair, how many of each relation are same-place or 部分匹配 (`relations`)."""
    config = token_config()
    scored = level_states(
        flagged_pairs(decided["pairs"], decided["records"], decided["houses"], config).filter("open"),
        decided["records"],
        decided["houses"],
    ).join(pair_labels(queries), on=["source_row", "house_id"], how="left")
    scored = scored.with_columns(
        label=pl.col("label").fill_null("other"),
        tails_else=(pl.col("level_tails") == "else").cast(pl.Int32),
        fold=pl.col("source_row").hash(7) % 5,
    )
    # Over every open pair: how often a pair of each relation, its name's end written by the other or not, is
    # the same place by the labels.
    relations = (
        scored.group_by("relation", "level_tails")
        .agg(
            pairs=pl.len(),
            same=(pl.col("label") == "same").sum(),
            partial=(pl.col("label") == "partial").sum(),
        )
        .with_columns(same_share=(pl.col("same") / pl.col("pairs")).round(3))
        .sort("pairs", descending=True)
    )
    with_same = scored.filter((pl.col("label") == "same").any().over("record_id"))
    ranked = with_same.sort(["record_id", "match_weight"], descending=[False, True])
    winners = ranked.group_by("record_id", maintain_order=True).first()
    same = ranked.filter(pl.col("label") == "same").group_by("record_id", maintain_order=True).first()
    lost = winners.filter(pl.col("label") != "same").join(same, on="record_id", suffix="_same")
    table = (
        lost.group_by("label", "relation", "relation_same")
        .len()
        .sort("len", descending=True)
        .rename({"label": "first", "relation": "first_is", "relation_same": "same_place_is", "len": "queries"})
    )
    by_level = pl.DataFrame(
        [
            (level, *[(lost[f"s_{level}{side}"] == state).sum() for side in ("", "_same") for state in STATES])
            for level in LEVELS
        ],
        schema=["level", *[f"{who}_{state}" for who in ("first", "same") for state in STATES]],
        orient="row",
    )

    def firsts(frame: pl.DataFrame, penalty: tuple[int, ...]) -> int:
        weight = pl.col("match_weight") - sum(
            p * pl.col(c) for p, c in zip(penalty, ("differ", "part", "container", "tails_else"), strict=True)
        )
        top = frame.with_columns(w=weight).filter(pl.col("w") == pl.col("w").max().over("record_id"))
        return top.group_by("record_id").agg(ok=(pl.col("label") == "same").all())["ok"].sum()

    penalties = list(itertools.product((0, 4, 8, 16), repeat=4))
    folds = {k: with_same.filter(pl.col("fold") == k) for k in range(5)}
    counts = {p: {k: firsts(folds[k], p) for k in folds} for p in penalties}
    chosen = {k: max(penalties, key=lambda p: sum(n for j, n in counts[p].items() if j != k)) for k in folds}
    ranking = {
        "queries": with_same["record_id"].n_unique(),
        "weight": sum(counts[(0, 0, 0, 0)].values()),
        "held_out": sum(counts[chosen[k]][k] for k in folds),
        "chosen": sorted(set(chosen.values())),
    }
    return {"winners": table, "by_level": by_level, "ranking": ranking, "relations": relations}


STATES = ("agree", "inside", "text_only", "house_only", "differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_eval_dir(parser)
    parser.add_argument("--split", default="dev", choices=("dev",), help="only the development half exists here")
    parser.add_argument("--errors", action="store_true", help="print the queries resolved to a wrong house")
    parser.add_argument("--misses", action="store_true", help="print where the same-place queries are lost")
    parser.add_argument(
        "--refusals",
        action="store_true",
        help="print the model's best candidates by the house_requires rules they fail, and how many are same-place",
    )
    parser.add_argument(
        "--levels",
        action="store_true",
        help="print what outranks the same-place candidates by parsed levels, and a re-ranking by them (5-fold)",
    )
    args = parser.parse_args()
    path = labelled_file(args.eval_dir, "CCKS 2021", f"ccks2021/{args.split}.jsonl")
    if path is None:
        return
    queries, houses = read_pairs(path)
    logging.getLogger("splink").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        write_day(Path(tmp), queries, houses)
        decided: dict[str, pl.DataFrame] | None = {} if args.misses or args.refusals or args.levels else None
        results, failure, seconds = jingzhun(Path(tmp), decided)
    resolved = dict(results.select("source_row", "house_id").iter_rows())
    started = time.perf_counter()
    baseline = rapidfuzz_best(queries, houses)
    baseline_seconds = time.perf_counter() - started
    figures = {"jingzhun": score(queries, resolved), "rapidfuzz best match": score(queries, baseline)}
    print(
        f"address matching on CCKS 2021 {args.split}: {len(queries):,} queries (one health-cloud row each, "
        f"address only), {len(houses):,} distinct candidates as houses"
    )
    if failure:
        print(f"  jingzhun failed at {failure}")
    print(
        f"  {'matcher':22s} {'resolved':>9s} {'right':>6s} {'partial':>8s} {'precision':>10s} {'recall':>8s} "
        f"{'seconds':>8s}"
    )
    for name, f in figures.items():
        spent = seconds if name == "jingzhun" else baseline_seconds
        print(
            f"  {name:22s} {f['resolved']:9,d} {f['right']:6,d} {f['partial']:8,d} {f['precision']:10.3f} "
            f"{f['recall']:8.3f} {spent:8.1f}"
        )
    print(
        f"  {'target (issue 8)':22s} {'':9s} {'':6s} {'':8s} {'≥ ' + format(TARGETS['precision'], '.2f'):>10s} "
        f"{'≥ ' + format(TARGETS['recall'], '.2f'):>8s}"
    )
    methods = results.group_by(pl.col("match_method").fill_null("(none)")).len().sort("len", descending=True)
    print("  jingzhun's queries by match_method: " + ", ".join(f"{m} {n:,}" for m, n in methods.iter_rows()))
    print(
        f"  precision: of the queries resolved to a house, the share resolved to a same-place (完全匹配) candidate; "
        f"recall: over the {figures['jingzhun']['findable']:,} queries that have one; partial: resolved to a "
        f"candidate labelled 部分匹配 (a part of the place or the whole it lies in), counted wrong"
    )
    if args.misses and decided is not None:
        lost = misses(queries, resolved, decided)
        print(f"  where the {sum(lost.values()):,} queries with a same-place candidate go:")
        for why, n in lost.items():
            print(f"    {n:5,d} {n / sum(lost.values()):6.1%}  {why}")
    if args.refusals and decided is not None and decided.get("pairs") is not None:
        table = refusals(queries, decided)
        print(
            "  the model's best open candidate of each query, where it reaches accept, by the house_requires rules "
            "it fails:"
        )
        with pl.Config(tbl_rows=-1, tbl_width_chars=160, fmt_str_lengths=80, tbl_hide_dataframe_shape=True):
            print(table)
        first = ranked_first(queries, decided)
        print(
            f"  of the {first['findable']:,} queries with a same-place candidate, {first['scored']:,} have one open "
            f"(scored, numbers not contradicting); the model ranks one first for {first['first']:,}, and first at "
            f"accept for {first['first_at_accept']:,}: what a decision on the ranking as it is could resolve at most"
        )
    if args.levels and decided is not None and decided.get("pairs") is not None:
        found = level_ranking(queries, decided)
        print(
            "  the queries whose first open candidate is not same-place while one is open: the first's label and "
            "relation to the text (by parsed levels), beside the same-place candidate's:"
        )
        with pl.Config(tbl_rows=-1, tbl_width_chars=160, tbl_hide_dataframe_shape=True):
            print(found["winners"])
            print("  each level's state, of the first and of the same-place candidate:")
            print(found["by_level"])
            print("  every open pair by its relation to the text and whether each name's end is written by the other:")
            print(found["relations"])
        r = found["ranking"]
        print(
            f"  of the {r['queries']:,} queries with a same-place candidate open, one is first alone by the weight for "
            f"{r['weight']:,}; by the weight less level penalties (5-fold by query, held-out folds) for "
            f"{r['held_out']:,} (penalties chosen per fold, bits for differ/part/container/tails: {r['chosen']})"
        )
    if args.errors:
        wrong = [q for q in queries if resolved.get(q.row) and resolved[q.row] not in q.same_place]
        for q in wrong:
            print(
                f"{q.text}\t{houses[resolved[q.row]]}\t"
                f"{'|'.join(houses[h] for h in q.same_place) or '(no same-place candidate)'}"
            )


if __name__ == "__main__":
    sys.exit(main())
