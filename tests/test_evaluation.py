"""Evaluation counts against ground truth the way the issue defines precision, recall and routing accuracy."""

from __future__ import annotations

import polars as pl
import pytest

from jingzhun.core.errors import UserError
from jingzhun.evaluation.metrics import evaluate_run, format_evaluation, target_met


def test_precision_recall_and_routing_from_hand_counted_rows(tmp_path):
    keys = {"source": ["health"] * 5, "source_file": ["a.csv"] * 5, "source_row": [1, 2, 3, 4, 5]}
    pl.DataFrame(
        {
            **keys,
            "outcome": ["dispatched", "no_action", "review", "no_action", "quarantined"],
            "person_id": ["P1", "P9", None, None, None],  # one right, one wrong, three not linked
            "house_id": ["H1", None, None, "H4", None],
            "committee_code": ["C1", "C2", None, "C9", None],  # right, right, none, wrong
            "subdistrict_code": ["S", "S", None, "T", None],  # the wrong committee is in another subdistrict
        }
    ).write_parquet(tmp_path / "match_results.parquet")
    pl.DataFrame(
        {
            **keys,
            "person_id": ["P1", "P2", "P3", None, None],
            "house_id": ["H1", "H2", "H3", "H4", None],
            "committee_code": ["C1", "C2", "C3", "C4", None],
            "subdistrict_code": ["S"] * 4 + [None],
            "defects": [""] * 4 + ["empty_row"],
        }
    ).write_csv(tmp_path / "truth.csv")
    figures = evaluate_run(tmp_path, tmp_path / "truth.csv")
    assert figures["person_precision"] == pytest.approx(1 / 2)
    assert figures["person_recall"] == pytest.approx(1 / 3)
    assert figures["routing_accuracy"] == pytest.approx(2 / 4)
    assert figures["routing_precision"] == pytest.approx(2 / 3)
    assert figures["house_accuracy"] == pytest.approx(2 / 4)
    assert figures["review_share"] == pytest.approx(1 / 5)
    assert figures["wrong_subdistrict"] == 1 and figures["wrong_subdistrict_dispatched"] == 0
    assert "by_phenomenon" not in figures  # a truth file of the older generator has no phenomena column


def test_recall_counts_rows_that_name_one_person_and_figures_split_by_phenomenon(tmp_path):
    keys = {"source": ["hotline"] * 6, "source_file": ["h.csv"] * 6, "source_row": [1, 2, 3, 4, 5, 6]}
    pl.DataFrame(
        {
            **keys,
            "outcome": ["dispatched", "dispatched", "no_action", "review", "dispatched", "no_action"],
            "person_id": ["P1", None, None, None, "P5", "P9"],
            "house_id": ["H1", "H2", "H8", None, "H5", "H6"],
            "committee_code": ["C1", "C2", "C8", None, "C5", "C6"],
            "subdistrict_code": ["S1", "S1", "S8", None, "S1", "S1"],
        }
    ).write_parquet(tmp_path / "match_results.parquet")
    pl.DataFrame(
        {
            **keys,
            "person_id": ["P1", "P2", "P3", "P4", "P5", "P6"],
            "house_id": ["H1", "H2", "H3", "H4", "H5", "H6"],
            "committee_code": ["C1", "C2", "C3", "C4", "C5", "C6"],
            "subdistrict_code": ["S1"] * 6,
            "defects": [None] * 6,
            # row 2: a shared phone and no name names nobody; row 3 was away from home and routed to another town
            "phenomena": [
                "away_from_home",
                "sparse_hotline|shared_phone",
                "away_from_home",
                None,
                None,
                "shared_phone",
            ],
            "names_one_person": ["true", "false", "true", "true", "true", "true"],
        }
    ).write_csv(tmp_path / "truth.csv")
    figures = evaluate_run(tmp_path, tmp_path / "truth.csv")
    assert figures["persons_named"] == 5
    assert figures["person_recall"] == pytest.approx(2 / 5)  # P1 and P5 of the five named rows
    assert figures["person_precision"] == pytest.approx(2 / 3)  # P9 is wrong
    assert figures["wrong_subdistrict"] == 1 and figures["wrong_subdistrict_dispatched"] == 0
    split = figures["by_phenomenon"]
    assert list(split) == ["away_from_home", "shared_phone", "sparse_hotline", "none"]
    assert split["away_from_home"]["rows"] == 2
    assert split["away_from_home"]["person_recall"] == pytest.approx(1 / 2)
    assert split["away_from_home"]["wrong_subdistrict"] == 1
    assert split["away_from_home"]["routing_accuracy"] == pytest.approx(1 / 2)
    assert split["sparse_hotline"]["person_recall"] is None  # no row of it names one person
    assert split["sparse_hotline"]["routing_accuracy"] == 1.0
    assert split["shared_phone"]["person_precision"] == 0.0
    assert split["none"]["rows"] == 2 and split["none"]["review_share"] == pytest.approx(1 / 2)
    printed = format_evaluation(figures)
    assert "wrong subdistrict         1 rows" in printed and "away_from_home" in printed


def test_a_folder_without_results_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="match_results.parquet"):
        evaluate_run(tmp_path, tmp_path / "truth.csv")


def test_targets_of_issue_8_are_marked_met_or_not():
    assert target_met("person_precision", 0.9995) is True
    assert target_met("person_recall", 0.99) is False
    assert target_met("wrong_subdistrict", 0) is True and target_met("wrong_subdistrict", 1) is False
    assert target_met("review_share", 0.02) is False
    assert target_met("person_recall", None) is None and target_met("house_accuracy", 0.5) is None


def _naacl_file(tmp_path, *addresses: list[tuple[str, str]]):
    """A made-up file in the NAACL 2019 format: (text, label) spans per address, BIO-tagged a character a line."""
    lines = []
    for spans in addresses:
        for text, label in spans:
            for i, char in enumerate(text):
                lines.append(f"{char} {'O' if label == 'O' else ('B-' if i == 0 else 'I-') + label}")
        lines.append("")
    path = tmp_path / "labelled.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_naacl_labels_map_to_the_parsers_fields(tmp_path):
    from jingzhun.evaluation.address_parsing import read_labelled

    path = _naacl_file(
        tmp_path,
        [("青松路", "road"), ("8号", "roadno"), ("白鹭苑", "poi"), ("二期", "subpoi"), ("3幢", "houseno")],
        [("白鹭苑", "poi"), ("东区", "subpoi"), ("5幢", "houseno")],
        [("石门乡", "town"), ("上坪村", "community"), ("7组", "road")],
        [("上坪村", "community"), ("新华小区", "poi"), ("门口", "assist")],
    )
    phase, zone, village, both = (a.fields for a in read_labelled(path))
    assert phase == {"road": "青松路", "road_number": "8号", "community": "白鹭苑二期", "building": "3幢"}
    assert zone["community"] == "白鹭苑"  # a zone is a subpoi in the guide: not part of the poi
    assert village == {"town": "石门乡", "community": "上坪村", "road": "7组"}
    assert both["community"] == "新华小区"
