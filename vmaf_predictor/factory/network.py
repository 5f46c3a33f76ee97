"""The model, in one place: the network's input columns and shape, its
forward pass, its hand-written backward pass and its ONNX graph side by
side, and the trained network as it passes from stage to stage (a JSON file
per codec). Its training loop is :mod:`training`; the curves a real-corpus
model may be or blend in are :mod:`curve_head`'s and :mod:`evaluation`'s.

torch is imported by the functions that compute with it, not here: the
export job builds the graph from this module without loading torch (1.5 s
a job).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vmaf_predictor.runtime.features import FEATURE_NAMES, N_FEATURES, OUTPUT_NAME

if TYPE_CHECKING:
    import torch

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


# The network: forward, hand-written backward, its ONNX graph ---------------


def tree_sum(tensor: torch.Tensor, dim: int) -> torch.Tensor:
    """Sum over ``dim`` by pairwise halving: the same order on every machine.

    Each round adds the first half to the second, element by element; an odd
    last element is carried to the next round."""
    import torch

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
    import torch

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
        import torch

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
        import torch

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
        import torch

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
        import torch

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
        import torch

        return torch.cat(
            [crf, torch.relu(crf - self.knots), -torch.relu(self.knots - crf)], 1
        )

    def weights_as_lists(self) -> dict[str, Any]:
        return {name: view.tolist() for name, view in self.parameters().items()}


def graph(trained: TrainedModel, const: Any, node: Any) -> tuple[list, list]:
    """The ONNX graph of :meth:`MonotoneNet._forward`, node for node: its
    initializers (before the ones s4_export shares) and its nodes from the
    graph's ``columns`` to ``vmaf64`` and the Cast out. ``const`` and
    ``node`` are s4_export's helpers."""
    from onnx import TensorProto

    w = trained.weights
    initializers = [
        const("mean", [trained.mean]),
        const("std", [trained.std]),
        *(const(name, w[name]) for name in ("w1", "b1", "w2", "b2", "wf", "bf")),
        *(const(name, w[name]) for name in ("wa", "ba")),
        const("knots", crf_knots(trained.settings.crf_knots)),
        const("target_mean", [trained.target_scale[0]]),
        const("target_std", [trained.target_scale[1]]),
    ]
    nodes = [
        node("Sub", ["columns", "mean"], "centred"),
        node("Div", ["centred", "std"], "normalised"),
        node("Slice", ["normalised", "zero", "one", "one"], "crf"),
        node("Slice", ["normalised", "one", "all", "one"], "others"),
        node("Gemm", ["others", "w1", "b1"], "linear1"),
        node("Relu", ["linear1"], "hidden1"),
        node("Gemm", ["hidden1", "w2", "b2"], "linear2"),
        node("Relu", ["linear2"], "hidden2"),
        node("Gemm", ["hidden2", "wf", "bf"], "level"),
        node("Gemm", ["hidden2", "wa", "ba"], "linear_a"),
        node("Relu", ["linear_a"], "basis_weights"),
        node("Sub", ["crf", "knots"], "above_knots"),
        node("Relu", ["above_knots"], "rising"),
        node("Sub", ["knots", "crf"], "below_knots"),
        node("Relu", ["below_knots"], "falling"),
        node("Neg", ["falling"], "rising_to_zero"),
        node("Concat", ["crf", "rising", "rising_to_zero"], "basis", axis=1),
        node("Mul", ["basis_weights", "basis"], "terms"),
        node("ReduceSum", ["terms", "one"], "crf_penalty", keepdims=1),
        node("Sub", ["level", "crf_penalty"], "z"),
        node("Mul", ["z", "target_std"], "spread"),
        node("Add", ["spread", "target_mean"], "unclipped"),
        node("Clip", ["unclipped", "vmaf_min", "vmaf_max"], "vmaf64"),
        node("Cast", ["vmaf64"], OUTPUT_NAME, to=TensorProto.FLOAT),
    ]
    return initializers, nodes


# Settings and the trained model as it passes from stage to stage -----------


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
    # rows (factory/evaluation.py): split ("source" or "row"), groups, folds,
    # rows, figures per name, winner, seed_rmse; for a grouped evaluation
    # also the pooled out-of-fold targets and predictions.
    evaluation: dict[str, Any] = field(default_factory=dict)
    # A real-corpus model may be a curve of factory/curve_head.py's CURVES
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
