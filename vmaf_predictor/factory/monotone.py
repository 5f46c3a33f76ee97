"""The monotone VMAF network: forward, hand-written backward, Adam, and its
fit on a codec's rows, bit-portably.

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
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vmaf_predictor.factory import curve_head, network
from vmaf_predictor.factory.network import (
    TrainSettings,
    crf_knots,
    epochs_for,
    parameter_shapes,
)
from vmaf_predictor.runtime.features import (
    N_FEATURES,
    OPTIONAL_GROUPS,
)

if TYPE_CHECKING:
    pass


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


def tree_sum(tensor: torch.Tensor, dim: int) -> torch.Tensor:
    """Sum over ``dim`` by pairwise halving: the same order on every machine.

    Each round adds the first half to the second, element by element; an odd
    last element is carried to the next round."""
    while (n := tensor.shape[dim]) > 1:
        half = n // 2
        if n % 2:
            first, second, last = tensor.split_with_sizes([half, half, 1], dim)
            tensor = torch.cat([first + second, last], dim)
        else:
            first, second = tensor.split_with_sizes([half, half], dim)
            tensor = first + second
    return tensor.squeeze(dim)


def dense(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``x @ weight + bias`` with a tree sum (no BLAS: its order varies)."""
    return tree_sum(x.unsqueeze(2) * weight.unsqueeze(0), 1) + bias


def dense_backward(
    x: torch.Tensor, weight: torch.Tensor, grad: torch.Tensor, need_x: bool = True
) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """Of :func:`dense`, given the output's ``grad`` [B, out]: the gradient in
    ``x`` (a tree sum over out), and each row's own gradient in the weight
    [B, in * out] and the bias [B, out]; their tree sums over the rows are
    the gradients in weight and bias (taken once for every layer, see
    :meth:`MonotoneNet.loss_and_gradient`)."""
    grad_x = tree_sum(grad.unsqueeze(1) * weight.unsqueeze(0), 2) if need_x else None
    per_row_weight = (x.unsqueeze(2) * grad.unsqueeze(1)).flatten(1)
    return grad_x, per_row_weight, grad


def relu_backward(output: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Gradient through ``output = relu(input)`` (0 where output <= 0)."""
    return torch.where(output <= 0.0, 0.0, grad)


class MonotoneNet:
    """VMAF that cannot rise with CRF, by construction.

    ``z = f(o) - sum_j a_j(o) * phi_j(c)`` where ``c`` is the normalised CRF,
    ``o`` the other 13 features, ``a_j = relu(...) >= 0`` and every basis
    function ``phi_j`` is non-decreasing in ``c``: ``c`` itself,
    ``relu(c - t_k)`` and ``-relu(t_k - c)`` for the knots ``t_k``. So ``z``
    never increases with CRF, and neither does the clipped affine head.
    Floating point keeps this: each op is monotone in its inputs and the
    rounding of IEEE-754 operations is monotone too.

    The parameters are views into one flat float64 vector, so the optimiser
    updates all of them with a handful of element-wise ops per step. The
    gradient is written out by hand (:meth:`loss_and_gradient`): autograd
    would reduce broadcast products with ATen sums, whose order is not fixed,
    and its bookkeeping costs more than these tiny tensors' arithmetic.
    """

    def __init__(
        self,
        hidden: int,
        knots: int,
        theta: torch.Tensor,
        target_scale: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        self.shapes = parameter_shapes(hidden, knots)
        self.knots = torch.tensor(crf_knots(knots), dtype=torch.float64)
        self.theta = theta
        self.target_mean, self.target_std = target_scale

    @classmethod
    def initialised(
        cls,
        hidden: int,
        knots: int,
        rng: random.Random,
        target_scale: tuple[float, float] = (0.0, 1.0),
    ) -> MonotoneNet:
        """PyTorch's default Linear init, U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        values: list[float] = []
        fan_in = N_FEATURES - 1
        for name, shape in parameter_shapes(hidden, knots).items():
            if name.startswith("w"):
                fan_in = shape[0]
            bound = 1.0 / math.sqrt(fan_in)
            count = math.prod(shape)
            values.extend(bound * (2.0 * rng.random() - 1.0) for _ in range(count))
        theta = torch.tensor(values, dtype=torch.float64)
        return cls(hidden, knots, theta, target_scale)

    def parameters(self, theta: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Name -> view of ``theta`` (the model's own vector by default)."""
        theta = self.theta if theta is None else theta
        views, offset = {}, 0
        for name, shape in self.shapes.items():
            count = math.prod(shape)
            views[name] = theta[offset : offset + count].view(shape)
            offset += count
        return views

    def forward(
        self, x: torch.Tensor, theta: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Normalised network columns [N, 14] -> VMAF [N, 1] in [0, 100].

        ``z`` is in units of the training targets' spread: VMAF is
        ``target_mean + target_std * z``, clipped to [0, 100] (the analytical
        curve is clipped the same way; clipping keeps monotonicity).
        """
        return self._forward(x, self.parameters(theta))["vmaf"]

    def _forward(self, x: torch.Tensor, p: dict[str, torch.Tensor]) -> dict:
        """The forward pass, keeping what the backward pass needs."""
        crf, others = x[:, :1], x[:, 1:]
        h1 = torch.relu(dense(others, p["w1"], p["b1"]))
        h2 = torch.relu(dense(h1, p["w2"], p["b2"]))
        # The level and the CRF weights both read h2: one product, whose
        # columns are summed as two separate layers' would be.
        heads = dense(
            h2, torch.cat([p["wf"], p["wa"]], 1), torch.cat([p["bf"], p["ba"]])
        )
        level, weights = heads[:, :1], torch.relu(heads[:, 1:])
        basis = self.basis(crf)
        z = level - tree_sum(weights * basis, 1).unsqueeze(1)
        raw = self.target_mean + self.target_std * z
        vmaf = torch.clamp(raw, 0.0, 100.0)
        return dict(
            others=others, h1=h1, h2=h2, weights=weights, basis=basis, raw=raw,
            vmaf=vmaf,
        )  # fmt: skip

    def predict(self, x: torch.Tensor, chunk: int = 4096) -> list[float]:
        """VMAF of normalised rows, ``chunk`` rows at a time (the dense
        layers' products are [rows, in, out]: memory stays flat)."""
        return [
            v
            for start in range(0, x.shape[0], chunk)
            for v in self.forward(x[start : start + chunk]).squeeze(1).tolist()
        ]

    def loss_and_gradient(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[float, torch.Tensor]:
        """The batch's mean squared error and its gradient in ``theta``.

        The chain rule written out, backwards through :meth:`_forward`; each
        step is what autograd computes for that operation (with tree sums in
        the dense layers), so the gradient has the bits autograd gave when it
        trained the committed models.
        """
        p = self.parameters()
        f = self._forward(x, p)
        diff = f["vmaf"].squeeze(1) - y
        n = diff.shape[0]
        loss = tree_sum(diff * diff, 0) / n
        # d(sum(diff^2) / n) / d diff: autograd adds the two factors' terms.
        g = (1.0 / n) * diff
        g_raw = torch.where(
            (f["raw"] >= 0.0) & (f["raw"] <= 100.0), (g + g).unsqueeze(1), 0.0
        )
        g_level = g_raw * self.target_std
        g_weights = relu_backward(f["weights"], (-g_level) * f["basis"])
        g_h2_a, g_wa, g_ba = dense_backward(f["h2"], p["wa"], g_weights)
        g_h2_f, g_wf, g_bf = dense_backward(f["h2"], p["wf"], g_level)
        g_a2 = relu_backward(f["h2"], g_h2_f + g_h2_a)
        g_h1, g_w2, g_b2 = dense_backward(f["h1"], p["w2"], g_a2)
        g_a1 = relu_backward(f["h1"], g_h1)
        _, g_w1, g_b1 = dense_backward(f["others"], p["w1"], g_a1, need_x=False)
        # Each row's gradient in theta's order, then one tree sum over the
        # rows: column by column the same sums as one tree per parameter.
        per_row = torch.cat([g_w1, g_b1, g_w2, g_b2, g_wf, g_bf, g_wa, g_ba], 1)
        return loss.item(), tree_sum(per_row, 0)

    def basis(self, crf: torch.Tensor) -> torch.Tensor:
        """The CRF basis [N, 2 * knots + 1] of normalised CRFs [N, 1]:
        ``c``, ``relu(c - t_k)`` and ``-relu(t_k - c)``, each non-decreasing."""
        return torch.cat(
            [crf, torch.relu(crf - self.knots), -torch.relu(self.knots - crf)], 1
        )

    def weights_as_lists(self) -> dict[str, Any]:
        return {name: view.tolist() for name, view in self.parameters().items()}


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
