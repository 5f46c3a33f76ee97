"""How well a model predicts rows it was not trained on, and against what.

Real corpora hold a few source clips, each encoded at many quality values:
two rows of one source are nearly the same shot, so a random row split puts
every held-out source in training too and flatters the figures. A real
codec is therefore scored by cross-validation grouped by source (``src``,
which the split fills from ``src_sha256`` when ``src`` is missing), and a
swept clip's shots by their clip (:func:`grouped_folds`): every source (or
clip) is held out once, by k = min(folds, groups) seeded folds, and the
out-of-fold predictions of all rows are pooled. Synthetic stubs keep their
seeded row split (their shots are independent draws).

The same folds score three baselines a model has to beat:
  - ``fold mean``: the mean VMAF of the training fold, whatever the input;
  - ``analytical``: the codec's analytical fallback curve (no fitting);
  - ``parametric``: ``100 * sigmoid(a + b*crf + c*log bpp)``, ``b <= 0``
    (monotone in CRF), fitted per training fold by damped Gauss-Newton.

Every figure here reaches a card, whose bytes must not depend on the CPU:
only correctly rounded operations in a fixed order (exp and log by
:func:`network.exact_exp` / :func:`network.exact_log`, sums by ``math.fsum``,
a 3x3 solve in plain Python).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from vmaf_predictor.factory.network import (
    MODEL_COLUMNS,
    exact_exp,
    exact_log,
    model_inputs,
)
from vmaf_predictor.names import clip_of
from vmaf_predictor.registry import Codec
from vmaf_predictor.runtime import metrics
from vmaf_predictor.runtime.features import FEATURE_NAMES

LEARNER = "model"
# Folds.by of a grouped split (the card names the unit); otherwise "row".
GROUPED = ("source", "clip")
BASELINES = ("fold mean", "analytical", "parametric")
BASELINE_TEXT = {
    LEARNER: "this model",
    "fold mean": "training-fold mean VMAF",
    "analytical": "analytical fallback curve",
    "parametric": "logistic curve 100*sigmoid(a + b*crf + c*log bpp), b <= 0",
}
# The weights w of a curve a real-corpus model may take (selection.
# fit_selected): VMAF = (1 - w) * network + w * curve; 0 is the network
# alone, 1 the curve alone (no network in the graph).
BLEND_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
# The selection splits a training set's sources into this many grouped
# folds and watches the first ``selection_folds`` of them (selection.
# fit_selected).
INNER_FOLDS = 5
_LN10 = 2.302585092994046  # the double nearest ln 10
_COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}


@dataclass(frozen=True)
class Folds:
    """Held-out row indices per fold, and how they were made."""

    by: str  # "clip" (sources with shots), "source" or "row"
    groups: int  # clips, sources or rows the folds were made of
    held_out: list[list[int]]

    def training(self, fold: int, n_rows: int) -> list[int]:
        held = set(self.held_out[fold])
        return [i for i in range(n_rows) if i not in held]


def _shuffled(items: list, seed: int) -> list:
    # Fisher-Yates on random.random(), whose stream Python keeps stable.
    items, rng = list(items), random.Random(seed)
    for i in range(len(items) - 1, 0, -1):
        j = math.floor(rng.random() * (i + 1))
        items[i], items[j] = items[j], items[i]
    return items


def grouped_folds(sources: Sequence[str], folds: int, seed: int) -> Folds:
    """k = min(folds, groups) folds, every group's rows in exactly one.

    The group of a row is its source's *clip* (:func:`names.clip_of`): the
    shots of one clip share its content (its camera, its light, often its
    people), so they are held out together, never on both sides of a fold.
    A corpus without shots (every ``src`` a plain name) groups by source,
    exactly as before shots existed (``by`` "source"); with shots ``by`` is
    "clip". Groups are shuffled (seeded), then each goes to the fold with the
    fewest rows so far (the first such fold on a tie). Without at least two
    groups (no ``src`` recorded) the rows themselves are the groups.
    """
    clips = [clip_of(src) for src in sources]
    by = "clip" if clips != list(sources) else "source"
    names = sorted(set(clips))
    if len(names) < 2:
        names, clips, by = [str(i) for i in range(len(sources))], None, "row"
    rows: dict[str, list[int]] = {name: [] for name in names}
    for i, name in enumerate(clips if clips is not None else names):
        rows[name].append(i)
    k = min(folds, len(names))
    if k < 2:
        raise ValueError(f"need at least 2 sources or rows for folds, got {names}")
    held: list[list[int]] = [[] for _ in range(k)]
    for name in _shuffled(names, seed):
        smallest = min(range(k), key=lambda f: len(held[f]))
        held[smallest].extend(rows[name])
    return Folds(by, len(names), [sorted(fold) for fold in held])


# Baselines ------------------------------------------------------------------


def log_bpp(features: np.ndarray) -> np.ndarray:
    """log of the probe's bits per pixel (kbps over pixels per second), up to
    a constant: each size as log(max(x, 1)), as the network takes it."""
    f = np.asarray(features, dtype=np.float64)
    logged = exact_log(np.maximum(f[:, [_COLUMN[n] for n in _SIZES]], 1.0))
    return logged[:, 0] - logged[:, 1] - logged[:, 2] - logged[:, 3]


_SIZES = ("probe_bitrate_kbps", "width", "height", "fps")


def _position(name: str) -> int:
    return MODEL_COLUMNS.index(FEATURE_NAMES.index(name))


def columns_log_bpp(columns: np.ndarray) -> np.ndarray:
    """:func:`log_bpp` of rows given as the network's columns."""
    b, w, h, f = (columns[:, _position(name)] for name in _SIZES)
    return b - w - h - f


def analytical(codec: Codec, features: np.ndarray) -> list[float]:
    """The codec's analytical fallback curve (log10 by the exact log)."""
    f = np.asarray(features, dtype=np.float64)
    delta = f[:, 0] - codec.crf_ref
    log10 = exact_log(np.maximum(f[:, _COLUMN["probe_bitrate_kbps"]], 1.0)) / _LN10
    vmaf = codec.a - codec.b * delta - codec.c * delta * delta + codec.d * log10
    return np.clip(vmaf, 0.0, 100.0).tolist()


def _sigmoid(eta: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + exact_exp(-eta))


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting, plain Python floats."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if m[col][col] == 0.0:
            return [0.0] * n
        for r in range(col + 1, n):
            factor = m[r][col] / m[col][col]
            m[r] = [x - factor * y for x, y in zip(m[r], m[col], strict=True)]
    out = [0.0] * n
    for r in range(n - 1, -1, -1):
        rest = math.fsum(m[r][c] * out[c] for c in range(r + 1, n))
        out[r] = (m[r][n] - rest) / m[r][r]
    return out


# s4_export's helpers, as a curve's graph takes them: const(name, values)
# -> an initializer, node(op, inputs, output, **attributes) -> a node.
Const = Callable[..., Any]
Node = Callable[..., Any]


@dataclass(frozen=True)
class Logistic:
    """``100 * sigmoid(a + b*crf + c*log bpp)`` on standardised inputs: the
    parametric baseline, and one of the curves a real-corpus model may be
    (alone or blended with the network; :mod:`curve_head` lists them)."""

    kind: ClassVar[str] = "logistic"
    # Logged features (network columns) beside log bpp, one term each.
    extra: ClassVar[tuple[str, ...]] = ()
    params: tuple[float, ...]  # a, b, c, then one per extra term
    centre: tuple[float, ...]  # of the CRF, log bpp, then each extra term
    scale: tuple[float, ...]

    @classmethod
    def fit_columns(cls, columns: np.ndarray, targets: Sequence[float]) -> Logistic:
        """Fitted on rows given as the network's columns."""
        extra = [columns[:, _position(name)] for name in cls.extra]
        return cls(
            *_fit_logistic(columns[:, 0], columns_log_bpp(columns), targets, extra)
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Logistic:
        """The curve :meth:`as_dict` wrote."""
        return cls(tuple(data["params"]), tuple(data["centre"]), tuple(data["scale"]))

    def predict(self, features: np.ndarray) -> list[float]:
        return self.predict_columns(model_inputs(features))

    def predict_columns(self, columns: np.ndarray) -> list[float]:
        """The curve of rows given as the network's columns
        (network.model_inputs), whose logged sizes are those :func:`log_bpp`
        takes."""
        extra = (columns[:, _position(name)] for name in self.extra)
        return self._curve(columns[:, 0], columns_log_bpp(columns), *extra)

    def _curve(self, crf: np.ndarray, lbpp: np.ndarray, *extra) -> list[float]:
        crf = (crf - self.centre[0]) / self.scale[0]
        bpp = (lbpp - self.centre[1]) / self.scale[1]
        a, b, c, *more = self.params
        eta = a * 1.0 + b * crf + c * bpp
        for d, column, centre, scale in zip(
            more, extra, self.centre[2:], self.scale[2:], strict=True
        ):
            eta = eta + d * ((column - centre) / scale)
        return (100.0 * _sigmoid(eta)).tolist()

    def graph_weights(self) -> tuple[list[float], float]:
        """``eta = columns @ w + bias``: the curve's argument as one affine
        map of the network's columns (for the ONNX graph)."""
        a, b, c, *more = self.params
        w = [0.0] * len(MODEL_COLUMNS)
        w[0] = b / self.scale[0]
        for name, sign in zip(_SIZES, (1.0, -1.0, -1.0, -1.0), strict=True):
            w[_position(name)] = sign * c / self.scale[1]
        bias = (
            a - b * self.centre[0] / self.scale[0] - c * self.centre[1] / self.scale[1]
        )
        for name, d, centre, scale in zip(
            self.extra, more, self.centre[2:], self.scale[2:], strict=True
        ):
            w[_position(name)] += d / scale
            bias -= d * centre / scale
        return w, bias

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "params": list(self.params),
            "centre": list(self.centre),
            "scale": list(self.scale),
        }

    def graph(self, const: Const, node: Node) -> tuple[list, list]:
        """Initializers and nodes computing the curve as ``curve`` (the
        sigmoid, 0..1) from the graph's ``columns``: one ``Gemm``, one
        ``Sigmoid``, in float64."""
        weights, bias = self.graph_weights()
        initializers = [
            const("curve_weights", [[v] for v in weights]),
            const("curve_bias", [bias]),
        ]
        nodes = [
            node("Gemm", ["columns", "curve_weights", "curve_bias"], "curve_eta"),
            node("Sigmoid", ["curve_eta"], "curve"),
        ]
        return initializers, nodes

    def describe(self) -> str:
        """The curve and its coefficients, for the card."""
        a, b, c = self.params
        return (
            "the logistic baseline curve 100*sigmoid(a + b*crf' + c*log bpp'), "
            f"crf' and log bpp' standardised over the training rows, a {a:.4f}, "
            f"b {b:.4f} (<= 0), c {c:.4f}"
        )


@dataclass(frozen=True)
class LogisticFps(Logistic):
    """``100 * sigmoid(a + b*crf + c*log bpp + d*log fps)``: the baseline
    with a term for the frame rate. Bits per pixel per frame overstate how
    hard a low-frame-rate shot is to code (its frames lie further apart, so
    each costs more bits at the same quality). Measured on the demo's real
    shots (8 clips, 2.3 to 30 frames/s; each clip held out in turn), RMSE
    of the baseline / this curve: libx264 13.88 / 8.29, libx265 8.50 / 7.83,
    libvvenc 12.99 / 9.74, but libsvtav1 5.88 / 7.45, libaom-av1 6.23 /
    7.36: a candidate the inner folds choose per codec, not a default."""

    kind: ClassVar[str] = "logistic_fps"
    extra: ClassVar[tuple[str, ...]] = ("fps",)

    def describe(self) -> str:
        a, b, c, d = self.params
        return (
            "a logistic curve with a frame-rate term, 100*sigmoid(a + b*crf' + "
            "c*log bpp' + d*log fps'), each standardised over the training rows, "
            f"a {a:.4f}, b {b:.4f} (<= 0), c {c:.4f}, d {d:.4f}"
        )


GAUSS_NEWTON_STEPS = 40


def fit_logistic(features: np.ndarray, targets: Sequence[float]) -> Logistic:
    """Least squares on the VMAF scale, b <= 0 (refitted with b = 0 when the
    free fit rises with CRF). A fixed number of damped Gauss-Newton steps
    from the linear fit of logit(VMAF/100): deterministic, no tolerance."""
    f = np.asarray(features, dtype=np.float64)
    return Logistic(*_fit_logistic(f[:, 0], log_bpp(f), targets))


def _fit_logistic(
    crf: np.ndarray,
    lbpp: np.ndarray,
    targets: Sequence[float],
    extra: Sequence[np.ndarray] = (),
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """The params, centre and scale of :func:`fit_logistic`'s curve, with a
    term for each column of ``extra``."""
    y = np.asarray(targets, dtype=np.float64)
    columns = (crf, lbpp, *extra)
    centre, scale = [], []
    for column in columns:
        values = column.tolist()
        mean = math.fsum(values) / len(values)
        spread = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
        centre.append(mean)
        scale.append(spread if spread > 1e-9 else 1.0)
    x = np.stack(
        [np.ones_like(crf)]
        + [(v - centre[i]) / scale[i] for i, v in enumerate(columns)],
        axis=1,
    )
    clipped = np.clip(y, 1.0, 99.0)
    logit = exact_log(clipped) - exact_log(100.0 - clipped)
    # An extra term whose column does not vary (one frame rate in the
    # corpus) stays 0: the curve is then the baseline's, to the bit.
    varying = [i for i, v in enumerate(columns) if i < 2 or np.any(v != v[0])]
    terms = [0, *(i + 1 for i in varying)]
    params = _gauss_newton(x, y, logit, free=terms)
    if params[1] > 0.0:
        params = _gauss_newton(x, y, logit, free=[0, *terms[2:]])
    return tuple(params), tuple(centre), tuple(scale)


def _gauss_newton(
    x: np.ndarray, y: np.ndarray, logit: np.ndarray, free: list[int]
) -> list[float]:
    cols = [x[:, j] for j in free]

    def normal(weights: np.ndarray, residual: np.ndarray):
        jtj = [
            [math.fsum((weights * weights * a * b).tolist()) for b in cols]
            for a in cols
        ]
        jtr = [math.fsum((weights * a * residual).tolist()) for a in cols]
        return jtj, jtr

    # Start: linear least squares on logit(VMAF / 100).
    jtj, jtr = normal(np.ones_like(logit), logit)
    theta = _solve(jtj, jtr)

    def loss(theta: list[float]) -> tuple[float, np.ndarray, np.ndarray]:
        eta = np.zeros_like(y)
        for t, a in zip(theta, cols, strict=True):
            eta = eta + t * a
        s = _sigmoid(eta)
        r = y - 100.0 * s
        return math.fsum((r * r).tolist()), s, r

    current, s, r = loss(theta)
    damping = 1e-3
    for _ in range(GAUSS_NEWTON_STEPS):
        jtj, jtr = normal(100.0 * s * (1.0 - s), r)
        for i in range(len(free)):
            jtj[i][i] += damping * (jtj[i][i] + 1e-12)
        step = _solve(jtj, jtr)
        trial = [t + d for t, d in zip(theta, step, strict=True)]
        value, s_trial, r_trial = loss(trial)
        if value <= current:
            theta, current, s, r = trial, value, s_trial, r_trial
            damping = max(damping / 10.0, 1e-9)
        else:
            damping *= 10.0
    full = [0.0] * x.shape[1]
    for j, t in zip(free, theta, strict=True):
        full[j] = t
    return full


def baseline_predictions(
    codec: Codec,
    features: np.ndarray,
    targets: Sequence[float],
    train: Sequence[int],
    held: Sequence[int],
) -> dict[str, list[float]]:
    """Each baseline's predictions of the ``held`` rows, fitted on ``train``."""
    f = np.asarray(features, dtype=np.float64)
    y = [targets[i] for i in train]
    mean = math.fsum(y) / len(y)
    return {
        "fold mean": [mean] * len(held),
        "analytical": analytical(codec, f[list(held)]),
        "parametric": fit_logistic(f[list(train)], y).predict(f[list(held)]),
    }


def rounded(figures: dict[str, float], digits: int = 6) -> dict[str, float]:
    """Figures as the card keeps them (``+ 0.0``: never ``-0.0``)."""
    return {k: round(v, digits) + 0.0 for k, v in figures.items()}


def scores(
    predictions: dict[str, Sequence[float]], targets: Sequence[float]
) -> dict[str, dict[str, float]]:
    """metrics.summary of each named set of predictions."""
    return {
        name: rounded(metrics.summary(list(p), list(targets)))
        for name, p in predictions.items()
    }


def winner(figures: dict[str, dict[str, float]]) -> str:
    """The name with the lowest RMSE (the learner on a tie, then name order)."""
    order = [LEARNER, *BASELINES]
    return min(figures, key=lambda n: (figures[n]["rmse"], order.index(n)))
