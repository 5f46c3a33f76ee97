"""The fit of the network (:class:`network.MonotoneNet`) on a codec's rows:
the split, the scaling, Adam and the flat training loop, bit-portably.

Why the bytes do not depend on the CPU: every floating-point operation here is
a correctly rounded IEEE-754 operation (+, -, *, /, sqrt, abs, max) applied
in a fixed order. Sums are explicit pairwise trees of element-wise adds, never
BLAS or ATen reductions, whose order varies with SIMD width, thread count and
library build; there is no exp/log (their libm results differ in the last bit
between CPU variants). The network is trained in float64 and its weights are
then rounded to float32 (round-to-nearest-even), the documented export rule.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vmaf_predictor.factory import curve_head, network
from vmaf_predictor.factory.network import (
    MonotoneNet,
    TrainSettings,
    epochs_for,
)
from vmaf_predictor.runtime.features import (
    N_FEATURES,
    OPTIONAL_GROUPS,
)

STD_FLOOR = 1e-6
# Rows beyond the held-out ones on which the validate stage compares
# onnxruntime with this float64 model.
PARITY_ROWS = 64


def split_indices(
    n_rows: int, holdout_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Seeded shuffle split: (train, held-out), at least one row in each."""
    if n_rows < 2:
        raise ValueError(f"need at least 2 rows to train and hold out, got {n_rows}")
    n_holdout = min(n_rows - 1, max(1, round(n_rows * holdout_fraction)))
    order = list(range(n_rows))
    _shuffle(order, random.Random(seed))
    return sorted(order[n_holdout:]), sorted(order[:n_holdout])


def _shuffle(items: list[int], rng: random.Random) -> None:
    # Fisher-Yates on random.random(), whose stream Python keeps stable.
    for i in range(len(items) - 1, 0, -1):
        j = math.floor(rng.random() * (i + 1))
        items[i], items[j] = items[j], items[i]


def to_float32(values: Sequence[float]) -> list[float]:
    """Round to the nearest float32 (ties to even): the export rule."""
    return torch.tensor(values, dtype=torch.float64).float().double().tolist()


def normalisation(rows: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    """Per-feature mean and population std, std floored at 1e-6 -> 1."""
    n = len(rows)
    mean, std = [], []
    for column in zip(*rows, strict=True):
        m = math.fsum(column) / n
        s = math.sqrt(math.fsum((v - m) * (v - m) for v in column) / n)
        mean.append(m)
        std.append(s if s >= STD_FLOOR else 1.0)
    return to_float32(mean), to_float32(std)


class Adam:
    """Adam on one flat vector; bias corrections by running products."""

    def __init__(self, theta: torch.Tensor, settings: TrainSettings) -> None:
        self.theta = theta
        self.s = settings
        self.m = torch.zeros_like(theta)
        self.v = torch.zeros_like(theta)
        self.beta1_power = 1.0
        self.beta2_power = 1.0

    @torch.no_grad()
    def step(self, grad: torch.Tensor) -> None:
        s = self.s
        self.beta1_power *= s.beta1
        self.beta2_power *= s.beta2
        self.m.mul_(s.beta1).add_(grad * (1.0 - s.beta1))
        self.v.mul_(s.beta2).add_((grad * grad) * (1.0 - s.beta2))
        m_hat = self.m / (1.0 - self.beta1_power)
        v_hat = self.v / (1.0 - self.beta2_power)
        self.theta.sub_(s.learning_rate * m_hat / (exact_sqrt(v_hat) + s.eps))


def exact_sqrt(tensor: torch.Tensor) -> torch.Tensor:
    """Correctly rounded square root.

    ``torch.sqrt`` on float64 goes through SLEEF, which picks its code by the
    CPUID at run time and is not correctly rounded on every path (measured:
    SSE4.2-only CPUs differ in the last bit); NumPy uses the hardware
    instruction, which IEEE-754 requires to be exact.
    """
    return torch.from_numpy(np.sqrt(tensor.numpy()))


def normalised(
    columns: np.ndarray, mean: list[float], std: list[float]
) -> torch.Tensor:
    """The network's columns, centred and scaled as the graph does."""
    return (torch.from_numpy(columns) - torch.tensor(mean, dtype=torch.float64)) / (
        torch.tensor(std, dtype=torch.float64)
    )


# Optional measurement -> its positions among the network's columns.
_OPTIONAL_POSITIONS = [
    [network.MODEL_COLUMNS.index(i) for i in columns]
    for columns in OPTIONAL_GROUPS.values()
]
# [groups, 14]: which of the network's columns each optional measurement fills.
_GROUP_COLUMNS = torch.tensor(
    [[i in positions for i in range(N_FEATURES)] for positions in _OPTIONAL_POSITIONS]
)


def unmeasured_mask(rows: int, rate: float, rng: random.Random) -> torch.Tensor:
    """[rows, 14] booleans over the network's columns: True where an optional
    measurement is left out (each one of each row with probability ``rate``;
    one ``rng.random()`` per row and measurement, row by row)."""
    draws = [rng.random() for _ in range(rows * len(_OPTIONAL_POSITIONS))]
    left_out = torch.tensor(draws, dtype=torch.float64).view(rows, -1) < rate
    return (left_out.unsqueeze(2) & _GROUP_COLUMNS.unsqueeze(0)).any(1)


@dataclass
class Fit:
    """A network trained on some rows, with its input and output scaling,
    maybe blended with a curve; or a curve alone (``model`` None, ``blend``
    weight 1: the selection chose the curve over every network)."""

    model: MonotoneNet | None
    mean: list[float]
    std: list[float]
    target_scale: tuple[float, float]
    loss_curve: list[float]
    # The monitored rows' predictions after each epoch.
    monitor_predictions: list[list[float]] = dataclasses.field(default_factory=list)
    # (w, curve): VMAF = clip((1 - w) * network + w * curve, 0, 100)
    blend: tuple[float, curve_head.Curve] | None = None
    # How fit_selected chose (Selection.as_dict); empty: no choice was made.
    selection: dict[str, Any] = dataclasses.field(default_factory=dict)

    def inputs(self, columns: np.ndarray) -> torch.Tensor:
        return normalised(columns, self.mean, self.std)

    def unmeasured(self) -> torch.Tensor:
        """The network's columns of a feature sent as not measured (0.0),
        normalised with the same exact ops as the measured ones."""
        nothing = network.model_inputs(np.zeros((1, N_FEATURES)))
        return normalised(nothing, self.mean, self.std)[0]

    def predict(self, columns: np.ndarray, bare: bool = False) -> list[float]:
        """VMAF of the rows' network columns; ``bare``: every optional
        measurement sent as not measured."""
        curve_columns = _unmeasured_columns(columns) if bare else columns
        if self.model is None:
            assert self.blend is not None and self.blend[0] == 1.0
            return blended(
                [0.0] * len(columns), self.blend[1].predict_columns(curve_columns), 1.0
            )
        x = self.inputs(columns)
        if bare:
            optional = torch.zeros(N_FEATURES, dtype=torch.bool)
            for positions in _OPTIONAL_POSITIONS:
                optional[positions] = True
            every = torch.ones_like(x, dtype=torch.bool)
            x = torch.where(every & optional, self.unmeasured(), x)
        vmaf = self.model.predict(x)
        if self.blend is None:
            return vmaf
        w, curve = self.blend
        return blended(vmaf, curve.predict_columns(curve_columns), w)


def _unmeasured_columns(columns: np.ndarray) -> np.ndarray:
    """The rows' network columns with every optional measurement sent as not
    measured (the value 0.0 takes in the network's columns)."""
    nothing = network.model_inputs(np.zeros((1, N_FEATURES)))[0]
    out = np.array(columns, dtype=np.float64)
    for positions in _OPTIONAL_POSITIONS:
        out[:, positions] = nothing[positions]
    return out


def blended(network_vmaf: Sequence[float], curve: Sequence[float], w: float) -> list:
    """``clip((1 - w) * network + w * curve, 0, 100)``, as the graph does."""
    return [
        min(100.0, max(0.0, (1.0 - w) * n + w * c))
        for n, c in zip(network_vmaf, curve, strict=True)
    ]


def fit(
    columns: np.ndarray,
    targets: Sequence[float],
    train_idx: Sequence[int],
    settings: TrainSettings,
    monitor: Sequence[int] = (),
) -> Fit:
    """Train the network on the ``train_idx`` rows of ``columns`` (the
    network's columns, :func:`network.model_inputs`); its weights are then
    rounded to float32, the export rule. With ``monitor`` rows, their
    predictions after each epoch are kept in ``Fit.monitor_predictions``
    (they never train)."""
    mean, std = normalisation(columns[list(train_idx)].tolist())
    x_train = normalised(columns, mean, std)[list(train_idx)]
    y_train = torch.tensor(targets, dtype=torch.float64)[list(train_idx)]
    # An optional measurement left out is sent as NOT_MEASURED (0.0): its
    # value in the network's columns, normalised with the same exact ops.
    nothing = network.model_inputs(np.zeros((1, N_FEATURES)))
    unmeasured = normalised(nothing, mean, std)[0]

    # The head maps z to VMAF by the training targets' mean and spread, so
    # the network starts at the mean and learns in units of the spread.
    target_scale = tuple(normalisation([[targets[i]] for i in train_idx]))
    target_scale = (target_scale[0][0], target_scale[1][0])
    rng = random.Random(settings.seed + 1)
    model = MonotoneNet.initialised(
        settings.hidden, settings.crf_knots, rng, target_scale
    )
    optimiser = Adam(model.theta, settings)
    loss_curve: list[float] = []
    monitor_predictions: list[list[float]] = []
    x_monitor = normalised(columns[list(monitor)], mean, std) if monitor else None
    order = list(range(len(train_idx)))
    for _ in range(epochs_for(len(order), settings)):
        _shuffle(order, rng)
        shuffled = torch.tensor(order)
        x_epoch, y_epoch = x_train[shuffled], y_train[shuffled]
        epoch_losses = []
        for start in range(0, len(order), settings.batch_size):
            x = x_epoch[start : start + settings.batch_size]
            # Every optional measurement of every row is left out with
            # probability unmeasured_rate, drawn afresh each epoch: the
            # network learns to answer from what the consumer measured, so
            # a feature sent as 0.0 is never an extrapolation.
            left_out = unmeasured_mask(x.shape[0], settings.unmeasured_rate, rng)
            x = torch.where(left_out, unmeasured, x)
            y = y_epoch[start : start + settings.batch_size]
            loss, grad = model.loss_and_gradient(x, y)
            optimiser.step(grad)
            epoch_losses.append(loss)
        loss_curve.append(math.fsum(epoch_losses) / len(epoch_losses))
        if monitor:
            monitor_predictions.append(model.predict(x_monitor))
    model.theta.copy_(model.theta.float().double())
    return Fit(model, mean, std, target_scale, loss_curve, monitor_predictions)
