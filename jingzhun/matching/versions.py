"""The person-linkage model's versions, kept with the data (`OUT/models/`), never in the code checkout.

Each trained model is one JSON file `OUT/models/vN.json`: Splink's settings with the trained parameters, and under
`jingzhun_training` how, when and on which data (its fingerprint) it was trained and its measured figures.
`activations.jsonl` records, one line each, every activation (by the retrain, a promotion, a rollback): the active
version is the last one standing. Before any activation the model committed with the code (`builtin`) is active:
it is only the first day's default.

Must never rewrite or delete a version file, nor a line of the activation log: both are the audit trail of which
model decided which day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jingzhun.core.errors import UserError

BUILTIN = "builtin"
BUILTIN_PATH = Path(__file__).resolve().parent / "model" / "person_linkage.json"
# The model file is Splink's settings plus, under this key, how and on what it was trained.
TRAINING_KEY = "jingzhun_training"
ACTIVATIONS = "activations.jsonl"


@dataclass(frozen=True)
class Model:
    version: str
    settings: dict[str, Any]  # what Splink loads: comparisons, blocking rules, trained m and u
    training: dict[str, Any] = field(default_factory=dict)  # our notes: data fingerprint, figures, ...
    sha256: str = ""

    @classmethod
    def read(cls, path: Path, version: str) -> Model:
        text = path.read_text(encoding="utf-8")
        settings = json.loads(text)
        training = settings.pop(TRAINING_KEY, {})
        return cls(version, settings, training, hashlib.sha256(text.encode("utf-8")).hexdigest())

    def to_json(self) -> str:
        return json.dumps({**self.settings, TRAINING_KEY: self.training}, ensure_ascii=False, indent=2, sort_keys=True)


def builtin() -> Model:
    return Model.read(BUILTIN_PATH, BUILTIN)


def models_dir(out: Path) -> Path:
    """Where the versions of an output folder live: beside its warehouse."""
    return Path(out) / "models"


def versions(folder: Path) -> list[str]:
    """The builtin model, then the trained versions in the order they were made."""
    numbered = sorted(int(p.stem[1:]) for p in folder.glob("v*.json") if p.stem[1:].isdigit())
    return [BUILTIN, *(f"v{n}" for n in numbered)]


def load(folder: Path, version: str) -> Model:
    if version == BUILTIN:
        return builtin()
    path = folder / f"{version}.json"
    if not path.is_file():
        raise UserError(f"no model version {version} in {folder} (versions: {', '.join(versions(folder))})")
    return Model.read(path, version)


def save(folder: Path, settings: dict[str, Any], training: dict[str, Any]) -> Model:
    """A new version with the next number; never overwrites one."""
    folder.mkdir(parents=True, exist_ok=True)
    number = int(versions(folder)[-1][1:]) + 1 if len(versions(folder)) > 1 else 1
    model = Model(f"v{number}", settings, {**training, "version": f"v{number}"})
    path = folder / f"{model.version}.json"
    with path.open("x", encoding="utf-8") as f:  # "x": a version file is written once
        f.write(model.to_json())
    return Model.read(path, model.version)


def _activations(folder: Path) -> list[dict[str, Any]]:
    path = folder / ACTIVATIONS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _stack(folder: Path) -> list[str]:
    """Versions activated and not rolled back, oldest first; the builtin model is the bottom."""
    stack = [BUILTIN]
    for entry in _activations(folder):
        if entry["action"] == "rollback":
            stack.pop()
        else:
            stack.append(entry["version"])
    return stack


def active_version(folder: Path) -> str:
    return _stack(folder)[-1]


def active(folder: Path) -> Model:
    """The model the daily run uses."""
    return load(folder, active_version(folder))


def _log(folder: Path, version: str, action: str, reason: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    entry = {
        "at": dt.datetime.now().isoformat(timespec="seconds"),
        "version": version,
        "action": action,
        "reason": reason,
    }
    with (folder / ACTIVATIONS).open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def activate(folder: Path, version: str, action: str, reason: str) -> None:
    """Make `version` the active one (action: `retrain` when its figures were not worse, or `promote`)."""
    load(folder, version)  # exists
    if version == active_version(folder):
        raise UserError(f"model {version} is already active")
    _log(folder, version, action, reason)


def rollback(folder: Path) -> str:
    """Back to the version that was active before the current one; returns it."""
    stack = _stack(folder)
    if len(stack) == 1:
        raise UserError(f"nothing to roll back: the {BUILTIN} model is active")
    _log(folder, stack[-2], "rollback", f"rolled back from {stack[-1]}")
    return stack[-2]


def listing(folder: Path) -> str:
    """One line per version: version, active mark, when trained, on what, and its figures."""
    current = active_version(folder)
    lines = ["version   active  trained              m from     labelled pairs  labels P/R        holdout P/R"]
    for version in versions(folder):
        training = load(folder, version).training
        figures = training.get("figures", {})
        lines.append(
            f"{version:<9} {'*' if version == current else ' ':<7} {training.get('trained_at', '-'):<20} "
            f"{training.get('m_from', '-'):<10} {training.get('labelled_pairs', 0):<15} "
            f"{_pair(figures.get('labels')):<17} {_pair(figures.get('holdout'))}"
        )
    return "\n".join(lines)


def _pair(figures: dict[str, Any] | None) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.2f}%"

    if not figures or (figures.get("precision") is None and figures.get("recall") is None):
        return "-"
    return f"{pct(figures.get('precision'))}/{pct(figures.get('recall'))}"


def command(
    name: str, out: Path, version: str | None = None, inbox: Path | None = None, reference: Path | None = None
) -> str:
    """`jingzhun model list | promote VERSION | rollback | train`, on the output folder `out`."""
    folder = models_dir(out)
    if name == "promote":
        activate(folder, version or "", "promote", "promoted by an analyst")
        return f"model {version} is active"
    if name == "rollback":
        return f"model {rollback(folder)} is active"
    if name == "train":
        from jingzhun.matching import training

        if (inbox is None) != (reference is None):
            raise UserError("model train: give both --inbox and --reference, or neither (the latest run in --out)")
        if inbox is not None and reference is not None:
            data = training.inbox_data(inbox, reference)
        else:
            warehouse = Path(out) / "warehouse.duckdb"
            if not warehouse.is_file():
                raise UserError(f"no warehouse in {out}: run the daily flow first, or give --inbox and --reference")
            data = training.warehouse_data(warehouse)
        done = training.offer(data, folder)
        return f"model {done.model.version}: {done.reason}\n\n{listing(folder)}"
    return listing(folder)
