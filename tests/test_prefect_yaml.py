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


def test_weekly_retrain_writes_beside_the_data_never_into_the_code_checkout():
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    retrain = next(d for d in config["deployments"] if d["name"] == "weekly-retrain")
    assert all("JINGZHUN_HOME" not in str(value) for value in retrain["parameters"].values())
    assert retrain["parameters"]["warehouse"].startswith("{{ $JINGZHUN_DATA }}")
