"""Evaluation counts against ground truth the way the issue defines precision, recall and routing accuracy."""

from __future__ import annotations

import polars as pl
import pytest

from evaluation.metrics import evaluate_run
from jingzhun.errors import UserError


def test_precision_recall_and_routing_from_hand_counted_rows(tmp_path):
    keys = {"source": ["health"] * 5, "source_file": ["a.csv"] * 5, "source_row": [1, 2, 3, 4, 5]}
    pl.DataFrame({
        **keys,
        "outcome": ["dispatched", "no_action", "review", "no_action", "quarantined"],
        "person_id": ["P1", "P9", None, None, None],       # one right, one wrong, three not linked
        "house_id": ["H1", None, None, "H4", None],
        "committee_code": ["C1", "C2", None, "C9", None],  # right, right, none, wrong
    }).write_parquet(tmp_path / "match_results.parquet")
    pl.DataFrame({
        **keys,
        "person_id": ["P1", "P2", "P3", None, None],
        "house_id": ["H1", "H2", "H3", "H4", None],
        "committee_code": ["C1", "C2", "C3", "C4", None],
        "subdistrict_code": ["S"] * 4 + [None],
        "defects": [""] * 4 + ["empty_row"],
    }).write_csv(tmp_path / "truth.csv")
    figures = evaluate_run(tmp_path, tmp_path / "truth.csv")
    assert figures["person_precision"] == pytest.approx(1 / 2)
    assert figures["person_recall"] == pytest.approx(1 / 3)
    assert figures["routing_accuracy"] == pytest.approx(2 / 4)
    assert figures["routing_precision"] == pytest.approx(2 / 3)
    assert figures["house_accuracy"] == pytest.approx(2 / 4)
    assert figures["review_share"] == pytest.approx(1 / 5)


def test_a_folder_without_results_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="match_results.parquet"):
        evaluate_run(tmp_path, tmp_path / "truth.csv")
