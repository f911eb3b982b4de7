"""prefect.yaml declares deployments whose entrypoints import and whose schedules Prefect accepts."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_deployments_point_at_flows_with_valid_schedules():
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.flows import Flow

    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    names = {d["name"] for d in config["deployments"]}
    assert {"daily", "weekly-retrain"} <= names
    for deployment in config["deployments"]:
        path, function = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, function)
        assert isinstance(flow, Flow)
        assert set(deployment.get("parameters", {})) <= set(flow.parameters.properties)
        for schedule in deployment["schedules"]:
            CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])


def test_weekly_retrain_calls_the_matching_training_with_the_warehouse(tmp_path, monkeypatch):
    import sys
    import types

    from flows.retrain import retrain

    calls = []
    fake = types.ModuleType("matching.training")
    fake.retrain_model = lambda warehouse, model_dir: calls.append((warehouse, model_dir)) or model_dir / "m.json"
    monkeypatch.setitem(sys.modules, "matching.training", fake)
    assert retrain.fn(tmp_path / "warehouse.duckdb", tmp_path / "model") == str(tmp_path / "model" / "m.json")
    assert calls == [(tmp_path / "warehouse.duckdb", tmp_path / "model")]
