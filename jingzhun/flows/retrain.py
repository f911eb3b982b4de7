"""The weekly retrain of the person-linkage model, as Prefect runs it: one task, thin by design.

The training itself is the matching engineers' (`jingzhun.matching.training.retrain_model`): a new model version in the
data folder (`OUT/models/`, beside the warehouse), active only when it is not worse than the one in force. This
flow only schedules it and shows what it did. It never touches the code checkout nor a day's outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact


@task(name="retrain_model", retries=1, retry_delay_seconds=60)
def _retrain(warehouse: Path, models: Path | None, holdout_persons: int | None) -> dict[str, Any]:
    # Imported here: Splink is heavy, and the daily deployment need not load it to import this module.
    from jingzhun.matching.training import retrain_model

    done = retrain_model(warehouse, models, holdout_persons=holdout_persons)
    return {
        "version": done.model.version,
        "activated": done.activated,
        "reason": done.reason,
        "figures": done.model.training["figures"],
        "compared_with": done.model.training["compared_with"],
    }


@flow(name="jingzhun-retrain", log_prints=True)
def retrain(warehouse: Path, models: Path | None = None, holdout_persons: int | None = None) -> dict[str, Any]:
    """Retrain from the warehouse (the latest run's records, the analysts' `person_labels` and the staff's
    `feedback_labels`) into `models` (default: `models/` beside the warehouse); the held-out synthetic day has
    `holdout_persons` (default: `jingzhun/rules/thresholds.yaml`)."""
    done = _retrain(Path(warehouse), Path(models) if models else None, holdout_persons)
    create_markdown_artifact(
        key="jingzhun-model", markdown=_summary(done), description="Retrained person-linkage model"
    )
    print(f"model {done['version']}: {done['reason']}")
    return done


def _summary(done: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value * 100:.2f}%"

    baseline = done["compared_with"]
    rows = "".join(
        f"| {name} | {pct(figures['precision'])} / {pct(figures['recall'])} | "
        f"{pct(baseline['figures'][name]['precision'])} / {pct(baseline['figures'][name]['recall'])} |\n"
        for name, figures in done["figures"].items()
    )
    state = "已启用" if done["activated"] else "未启用（可由分析人员 `jingzhun model promote` 启用）"
    return (
        f"# 人员匹配模型 {done['version']}：{state}\n\n{done['reason']}\n\n"
        f"| 评估集 | 新模型 精确率 / 召回率 | 原模型 {baseline['version']} |\n|---|---|---|\n{rows}"
    )
