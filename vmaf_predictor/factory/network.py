"""The network's shape, shared by training and export, and the trained
network as it passes from stage to stage (a JSON file per codec)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_predictor.runtime.features import FEATURE_NAMES, N_FEATURES

# Sizes, rates and counts enter the network as log(max(x, 1)): a bitrate
# spans 20 kbps to 50 Mbps, and VMAF follows its logarithm (as the
# analytical curve does). A feature sent as not measured (0.0) stays 0.
LOG_FEATURES: tuple[str, ...] = (
    "probe_bitrate_kbps",
    "probe_i_frame_avg_bytes",
    "probe_p_frame_avg_bytes",
    "probe_b_frame_avg_bytes",
    "shot_length_frames",
    "fps",
    "width",
    "height",
)
# The network's column order: CRF first, the other linear features, then the
# logged ones (the graph gathers them in this order).
LINEAR_COLUMNS: tuple[int, ...] = tuple(
    i for i, name in enumerate(FEATURE_NAMES) if name not in LOG_FEATURES
)
LOG_COLUMNS: tuple[int, ...] = tuple(FEATURE_NAMES.index(n) for n in LOG_FEATURES)
MODEL_COLUMNS: tuple[int, ...] = LINEAR_COLUMNS + LOG_COLUMNS
_LN2 = 0.6931471805599453  # the double nearest ln 2
_SQRT_HALF = 0.7071067811865476


def exact_log(x: np.ndarray) -> np.ndarray:
    """Natural log of ``x >= 1``, the same bits on every CPU.

    libm and NumPy's vectorised ``log`` differ in the last bit between CPU
    code paths, which training would amplify; this uses only exact
    operations (frexp, and correctly rounded + - * /) in a fixed order:
    ``x = m * 2**e`` with ``m`` in [sqrt(1/2), sqrt(2)), then
    ``log m = 2 atanh(s)``, ``s = (m - 1) / (m + 1)``, by its series (|s| <=
    0.172: 13 terms reach 1e-21). Within 2e-16 of the true log, so the ONNX
    ``Log`` that replaces it in the graph agrees far inside the parity bound.
    """
    m, e = np.frexp(np.asarray(x, dtype=np.float64))
    low = m < _SQRT_HALF
    m = np.where(low, m * 2.0, m)
    e = np.where(low, e - 1, e).astype(np.float64)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    series = np.full_like(s, 1.0 / 25.0)
    for k in range(11, -1, -1):  # 1/23, 1/21, ..., 1/1
        series = series * s2 + 1.0 / (2 * k + 1)
    return e * _LN2 + 2.0 * s * series


_INV_LN2 = 1.4426950408889634  # the double nearest 1 / ln 2


def exact_exp(x: np.ndarray) -> np.ndarray:
    """``exp(x)`` for ``|x| <= 700``, the same bits on every CPU (for the
    baselines' logistic curve, which only the card's figures depend on).

    ``x = k ln2 + r`` with ``k = rint(x / ln2)`` and ``|r| <= 0.35``; ``exp r``
    by its Taylor series to the 18th power (Horner: + and * only), then
    ``ldexp``: exact operations in a fixed order, within a few ulp of libm.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), -700.0, 700.0)
    k = np.rint(x * _INV_LN2)
    r = x - k * _LN2
    series = np.full_like(r, 1.0)
    for n in range(18, 0, -1):
        series = series * r / n + 1.0
    return np.ldexp(series, k.astype(np.int64))


def model_inputs(features: np.ndarray) -> np.ndarray:
    """Raw feature rows [N, 14] (graph order) -> the network's columns:
    LINEAR_COLUMNS as they are, then log(max(x, 1)) of LOG_COLUMNS."""
    features = np.asarray(features, dtype=np.float64)
    logged = exact_log(np.maximum(features[:, list(LOG_COLUMNS)], 1.0))
    return np.concatenate([features[:, list(LINEAR_COLUMNS)], logged], axis=1)


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters; every field reaches the train rule as a param.

    No defaults here: config.yaml (validated by its schema) is the one place
    they are set."""

    hidden: int
    crf_knots: int
    epochs: int
    max_steps: int
    batch_size: int
    learning_rate: float
    beta1: float
    beta2: float
    eps: float
    seed: int
    holdout_fraction: float
    unmeasured_rate: float


def epochs_for(rows: int, settings: TrainSettings) -> int:
    """Epochs of a training on ``rows`` rows: ``settings.epochs``, or fewer
    when they would take more than ``settings.max_steps`` batches (a large
    corpus needs fewer passes; the time then stops growing with the rows)."""
    batches = math.ceil(rows / settings.batch_size)
    return max(1, min(settings.epochs, settings.max_steps // batches))


# Measured on the 2-core machine (make bench): about 0.45 ms per batch of 32
# at hidden 32, one thread; peak RSS about 310 MiB, +4 MiB per 1,000 rows.
_SECONDS_PER_BATCH = 0.00045


def train_job_resources(
    rows: int, settings: TrainSettings, evaluation: dict[str, Any] | None
) -> dict[str, int]:
    """Memory (MB) and run time (minutes) to ask a cluster for, for the train
    job of a codec with ``rows`` rows: one training for a stub; for a real
    corpus, ``folds * seeds`` cross-validation trainings and the final one,
    each with early stopping also one watched training per selection fold.
    Three times the measured figures."""
    trainings = 1
    if evaluation is not None:
        trainings = evaluation["folds"] * evaluation["seeds"] + 1
        if evaluation["early_stopping"]:
            trainings *= evaluation.get("selection_folds", 1) + 1
    batches = math.ceil(rows / settings.batch_size)
    steps = batches * epochs_for(rows, settings)
    seconds = 30 + trainings * steps * _SECONDS_PER_BATCH
    return {
        "mem_mb": 1000 + 3 * (4 * rows // 1000),
        "runtime": math.ceil(3 * seconds / 60),
    }


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
    mean: list[float]  # of the network's columns (MODEL_COLUMNS order)
    std: list[float]
    target_scale: list[float]  # VMAF = target_scale[0] + target_scale[1] * z
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
    # How well it predicts unseen rows beside the baselines, on the same
    # rows (build/evaluation.py): split ("source" or "row"), groups, folds,
    # rows, figures per name, winner, seed_rmse; for a grouped evaluation
    # also the pooled out-of-fold targets and predictions.
    evaluation: dict[str, Any] = field(default_factory=dict)
    # A real-corpus model may be a curve of build/curve_head.py's CURVES
    # blended with the network, or the curve alone (weight 1: weights, mean,
    # std, target_scale and loss_curve are then empty):
    # {"weight": w, "kind": ..., "params": [...], "centre": [...],
    # "scale": [...]}; empty: the network alone. How it was chosen:
    # evaluation["selection"] (selection.fit_selected).
    blend: dict[str, Any] = field(default_factory=dict)


def save(model: TrainedModel, path: Path) -> None:
    """Write a trained model as JSON (floats as exact shortest reprs)."""
    Path(path).write_text(json.dumps(asdict(model), sort_keys=True) + "\n")


def load(path: Path) -> TrainedModel:
    """Read a model written by :func:`save`."""
    data = json.loads(Path(path).read_text())
    data["settings"] = TrainSettings(**data["settings"])
    return TrainedModel(**data)
