"""The weekly retrain of the person-linkage model, as Prefect runs it: one task, thin by design.

The training itself is the matching engineers' (`matching.training.retrain_model`); this flow only schedules it
and names the model file it wrote. It never touches a day's outputs.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

MODEL_DIR = Path(__file__).resolve().parent.parent / "matching" / "model"


@task(name="retrain_model", retries=1, retry_delay_seconds=60)
def _retrain(warehouse: Path, model_dir: Path) -> Path:
    # Imported here: Splink is heavy, and the daily deployment need not load it to import this module.
    from matching.training import retrain_model

    return Path(retrain_model(warehouse, model_dir))


@flow(name="jingzhun-retrain", log_prints=True)
def retrain(warehouse: Path, model_dir: Path = MODEL_DIR) -> str:
    """Retrain from the warehouse (the latest run's records and the staff's `feedback_labels`) into `model_dir`."""
    model = _retrain(Path(warehouse), Path(model_dir))
    create_markdown_artifact(key="jingzhun-model", markdown=f"# 人员匹配模型已重新训练\n\n模型文件：`{model}`\n",
                             description="Retrained person-linkage model")
    return str(model)
