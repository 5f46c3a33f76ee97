"""The result of training one codec, as it passes from stage to stage."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters; every field reaches the train rule as a param."""

    hidden: int = 64
    epochs: int = 200
    batch_size: int = 32
    learning_rate: float = 5e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    seed: int = 42
    holdout_fraction: float = 0.2


@dataclass
class TrainedModel:
    """Everything export, card and report need from a training run."""

    codec: str
    settings: TrainSettings
    mean: list[float]
    std: list[float]
    layers: list[dict[str, Any]]  # {"weight": [K][M], "bias": [M]}
    n_train: int
    n_holdout: int
    metrics: dict[str, float]
    loss_curve: list[float] = field(default_factory=list)
    holdout_inputs: list[list[float]] = field(default_factory=list)
    holdout_targets: list[float] = field(default_factory=list)
    holdout_predictions: list[float] = field(default_factory=list)


def save(model: TrainedModel, path: Path) -> None:
    """Write a trained model as JSON (floats as exact shortest reprs)."""
    Path(path).write_text(json.dumps(asdict(model), sort_keys=True) + "\n")


def load(path: Path) -> TrainedModel:
    """Read a model written by :func:`save`."""
    data = json.loads(Path(path).read_text())
    data["settings"] = TrainSettings(**data["settings"])
    return TrainedModel(**data)
