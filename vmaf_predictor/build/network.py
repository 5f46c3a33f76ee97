"""The network's shape, shared by training and export, and the trained
network as it passes from stage to stage (a JSON file per codec)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vmaf_predictor.runtime.features import N_FEATURES


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters; every field reaches the train rule as a param.

    No defaults here: config.yaml (validated by its schema) is the one place
    they are set."""

    hidden: int
    crf_knots: int
    epochs: int
    batch_size: int
    learning_rate: float
    beta1: float
    beta2: float
    eps: float
    seed: int
    holdout_fraction: float


def crf_knots(count: int) -> list[float]:
    """Knots of the CRF basis, evenly over [-2, 2] normalised CRF.

    Plain Python arithmetic (not torch.linspace, whose vector kernel may
    round differently per CPU).
    """
    if count == 1:
        return [0.0]
    return [-2.0 + 4.0 * i / (count - 1) for i in range(count)]


def parameter_shapes(hidden: int, knots: int) -> dict[str, tuple[int, ...]]:
    """Name -> shape, in the order of the flat parameter vector.

    A trunk (13 non-CRF features -> hidden -> hidden) feeds two heads: ``f``,
    the VMAF level, and ``a``, the non-negative weights of the CRF basis.
    """
    basis = 2 * knots + 1
    return {
        "w1": (N_FEATURES - 1, hidden),
        "b1": (hidden,),
        "w2": (hidden, hidden),
        "b2": (hidden,),
        "wf": (hidden, 1),
        "bf": (1,),
        "wa": (hidden, basis),
        "ba": (basis,),
    }


@dataclass
class TrainedModel:
    """Everything export, card and report need from a training run."""

    codec: str
    settings: TrainSettings
    mean: list[float]
    std: list[float]
    weights: dict[str, Any]  # name -> nested lists (see parameter_shapes)
    n_train: int
    n_holdout: int
    metrics: dict[str, float]
    loss_curve: list[float] = field(default_factory=list)
    holdout_inputs: list[list[float]] = field(default_factory=list)
    holdout_targets: list[float] = field(default_factory=list)
    holdout_predictions: list[float] = field(default_factory=list)
    # Extremes and rows spanning the training data, for the validate stage.
    check_inputs: list[list[float]] = field(default_factory=list)
    check_predictions: list[float] = field(default_factory=list)


def save(model: TrainedModel, path: Path) -> None:
    """Write a trained model as JSON (floats as exact shortest reprs)."""
    Path(path).write_text(json.dumps(asdict(model), sort_keys=True) + "\n")


def load(path: Path) -> TrainedModel:
    """Read a model written by :func:`save`."""
    data = json.loads(Path(path).read_text())
    data["settings"] = TrainSettings(**data["settings"])
    return TrainedModel(**data)
