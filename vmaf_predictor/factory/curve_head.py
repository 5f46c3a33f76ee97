"""A logistic curve in CRF whose steepness follows the content (issue 16).

    VMAF = 100 * sigmoid(a - exp(g0 + g1 * z + g2 * m * p) * c)

``c`` is the CRF, ``z`` the log bits per pixel of the probe encode
(:func:`evaluation.log_bpp`) and ``p`` the log of the probe's mean P-frame
size per pixel, all standardised over the training rows (``p`` over the rows
that measured it). ``m`` is 1 when the frame sizes were measured and 0 when
they were sent as not measured (``clip(log max(P bytes, 1), 0, 1)``), so a
consumer that leaves them out gets the curve of ``z`` alone. The slope
``exp(...)`` is positive whatever the input, and neither ``z`` nor ``p``
depends on the CRF, so the curve never rises with CRF by construction.
``g1`` and ``g2`` are shrunk toward 0 by a ridge penalty: with no signal in
the probe the curve is the plain logistic curve in CRF, fitted per training
set. Unlike the parametric baseline, the probe's bitrate does not move the
level of the curve (at the training rows' mean CRF every shot gets
``100 * sigmoid(a)``), only how fast quality falls with CRF: measured on
the sweep corpus, where a source's level is not predictable from its probe
but its steepness is (grouped RMSE below the parametric baseline on 5 of 5
codecs; README, "How a model is scored").

Fitted as the baseline is, with the same exact arithmetic: a fixed number of
damped Gauss-Newton steps, exp and log by :func:`network.exact_exp` and
:func:`network.exact_log`, sums by ``math.fsum``, the 4x4 solve in plain
Python; the same bits on every CPU. The graph computes it with ONNX
``Gemm``, ``Clip``, ``Exp``, ``Mul``, ``Add``, ``Sub`` and ``Sigmoid`` in
float64.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from vmaf_predictor.factory import evaluation as ev
from vmaf_predictor.factory import network
from vmaf_predictor.factory.network import MODEL_COLUMNS, exact_exp, exact_log

KIND = "content_slope"
# Ridge on g1 and g2, per row and in VMAF^2 units:
# loss = SSE + RIDGE*100*n*(g1^2 + g2^2). Measured on the sweep corpus (5
# seeds, grouped CV): 0.3 with the P-frame term against 0.1 without it,
# libx265 17.15 against 17.74 (parametric 17.95), the other codecs within
# their seed spread.
RIDGE = 0.3
GAUSS_NEWTON_STEPS = 60
# Smallest starting slope (normalised CRF units) when the data do not fall.
_MIN_SLOPE = 1e-3
# exact_exp clips its argument to this; the graph clips the same way.
_EXP_LIMIT = 700.0


@dataclass(frozen=True)
class ContentSlopeCurve:
    """``100 * sigmoid(a - exp(g0 + g1*z + g2*m*p) * c)`` on standardised
    inputs."""

    kind: ClassVar[str] = KIND
    params: tuple[float, float, float, float]  # a, g0, g1, g2
    centre: tuple[float, float, float]  # of the CRF, log bpp and log P bpp
    scale: tuple[float, float, float]

    @classmethod
    def fit_columns(
        cls, columns: np.ndarray, targets: Sequence[float]
    ) -> ContentSlopeCurve:
        """Fitted on rows given as the network's columns (:func:`fit_columns`)."""
        return fit_columns(columns, targets)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContentSlopeCurve:
        """The curve :meth:`as_dict` wrote."""
        return cls(tuple(data["params"]), tuple(data["centre"]), tuple(data["scale"]))

    def graph(self, const: ev.Const, node: ev.Node) -> tuple[list, list]:
        """Initializers and nodes computing the curve as ``curve`` (sigmoid,
        0..1) from the graph's ``columns`` (:func:`graph`)."""
        return graph(self, const, node)

    def describe(self) -> str:
        """The curve and its coefficients, for the card."""
        a, g0, g1, g2 = self.params
        return (
            "a logistic curve whose CRF slope follows the probe, 100*sigmoid(a - "
            "exp(g0 + g1*log bpp' + g2*m*log P bpp')*crf'), crf', log bpp' and "
            "log P bpp' (the probe's mean P-frame bytes per pixel; m = 0 when "
            "frame sizes are not measured) standardised over the training rows, "
            f"a {a:.4f}, g0 {g0:.4f}, g1 {g1:.4f}, g2 {g2:.4f}"
        )

    def predict(self, features: np.ndarray) -> list[float]:
        return self.predict_columns(network.model_inputs(features))

    def predict_columns(self, columns: np.ndarray) -> list[float]:
        """The curve of rows given as the network's columns."""
        c, z, p, m = _inputs(columns, self.centre, self.scale)
        a, g0, g1, g2 = self.params
        slope = exact_exp(g0 + g1 * z + g2 * (m * p))
        return (100.0 * _sigmoid(a - slope * c)).tolist()

    def as_dict(self) -> dict:
        return {
            "kind": KIND,
            "params": list(self.params),
            "centre": list(self.centre),
            "scale": list(self.scale),
        }

    def graph_weights(self) -> dict[str, tuple[list[float], float]]:
        """The affine maps of the network's columns the graph needs: ``crf``
        (the standardised CRF), ``log_slope`` (``g0 + g1*z``), ``p_frames``
        (``g2*p``) and ``p_measured`` (the logged P-frame size, clipped to
        [0, 1] in the graph: ``m``)."""
        _, g0, g1, g2 = self.params
        crf_w = [0.0] * len(MODEL_COLUMNS)
        crf_w[0] = 1.0 / self.scale[0]
        crf_bias = -self.centre[0] / self.scale[0]
        slope_w = [0.0] * len(MODEL_COLUMNS)
        for name, sign in zip(ev._SIZES, (1.0, -1.0, -1.0, -1.0), strict=True):
            slope_w[ev._position(name)] = sign * g1 / self.scale[1]
        slope_bias = g0 - g1 * self.centre[1] / self.scale[1]
        p_w = [0.0] * len(MODEL_COLUMNS)
        for name, sign in zip(_P_SIZES, (1.0, -1.0, -1.0), strict=True):
            p_w[ev._position(name)] = sign * g2 / self.scale[2]
        p_bias = -g2 * self.centre[2] / self.scale[2]
        measured_w = [0.0] * len(MODEL_COLUMNS)
        measured_w[ev._position(_P_SIZES[0])] = 1.0
        return {
            "crf": (crf_w, crf_bias),
            "log_slope": (slope_w, slope_bias),
            "p_frames": (p_w, p_bias),
            "p_measured": (measured_w, 0.0),
        }


# The P-frame term: log mean P-frame bytes per pixel of the probe.
_P_SIZES = ("probe_p_frame_avg_bytes", "width", "height")


def _p_measured(columns: np.ndarray) -> np.ndarray:
    """``m``: 1 where the P-frame size was measured (its log column, 0.0
    when sent as not measured, clipped to [0, 1]), 0 where it was not."""
    return np.clip(columns[:, ev._position(_P_SIZES[0])], 0.0, 1.0)


def _log_p_bpp(columns: np.ndarray) -> np.ndarray:
    p, w, h = (columns[:, ev._position(name)] for name in _P_SIZES)
    return p - w - h


def _inputs(columns: np.ndarray, centre, scale):
    """Standardised CRF, log bpp and log P bpp of the rows, and ``m``."""
    c = (columns[:, 0] - centre[0]) / scale[0]
    z = (ev.columns_log_bpp(columns) - centre[1]) / scale[1]
    p = (_log_p_bpp(columns) - centre[2]) / scale[2]
    return c, z, p, _p_measured(columns)


def _sigmoid(eta: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + exact_exp(-eta))


def _standardised(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    v = values.tolist()
    mean = math.fsum(v) / len(v)
    spread = math.sqrt(math.fsum((x - mean) ** 2 for x in v) / len(v))
    spread = spread if spread > 1e-9 else 1.0
    return (values - mean) / spread, mean, spread


def fit_columns(
    columns: np.ndarray, targets: Sequence[float], ridge: float = RIDGE
) -> ContentSlopeCurve:
    """Least squares on the VMAF scale plus ``ridge*100*n*(g1^2 + g2^2)``:
    damped Gauss-Newton (fixed step count) from the logistic curve in CRF alone
    (``g1 = 0``, its slope from the linear fit of logit(VMAF/100))."""
    columns = np.asarray(columns, np.float64)
    _, crf_mean, crf_scale = _standardised(columns[:, 0])
    _, bpp_mean, bpp_scale = _standardised(ev.columns_log_bpp(columns))
    # log P bpp standardised over the rows that measured it (m == 1).
    measured = _p_measured(columns) == 1.0
    p_mean, p_scale = 0.0, 1.0
    if measured.any():
        _, p_mean, p_scale = _standardised(_log_p_bpp(columns)[measured])
    centre = (crf_mean, bpp_mean, p_mean)
    scale = (crf_scale, bpp_scale, p_scale)
    c, z, p, m = _inputs(columns, centre, scale)
    p_term = m * p
    y = np.asarray(targets, dtype=np.float64)
    n = len(y)
    clipped = np.clip(y, 1.0, 99.0)
    logit = exact_log(clipped) - exact_log(100.0 - clipped)
    # Start: linear least squares of logit on [1, c] (c has mean 0).
    cc = math.fsum((c * c).tolist())
    a = math.fsum(logit.tolist()) / n
    b = math.fsum((c * logit).tolist()) / cc if cc > 0.0 else 0.0
    theta = [a, float(exact_log(np.array([max(-b, _MIN_SLOPE)]))[0]), 0.0, 0.0]
    penalty = [0.0, 0.0, ridge * 100.0 * n, ridge * 100.0 * n]

    def state(theta: list[float]):
        a, g0, g1, g2 = theta
        slope = exact_exp(g0 + g1 * z + g2 * p_term)
        s = _sigmoid(a - slope * c)
        r = y - 100.0 * s
        value = (
            math.fsum((r * r).tolist()) + penalty[2] * g1 * g1 + penalty[3] * g2 * g2
        )
        return value, s, r, slope

    current, s, r, slope = state(theta)
    damping = 1e-3
    for _ in range(GAUSS_NEWTON_STEPS):
        d = 100.0 * s * (1.0 - s)
        u = -slope * c  # d eta / d g0
        jac = [d, d * u, d * u * z, d * u * p_term]
        jtj = [[math.fsum((p * q).tolist()) for q in jac] for p in jac]
        jtr = [
            math.fsum((p * r).tolist()) - penalty[i] * theta[i]
            for i, p in enumerate(jac)
        ]
        for i in range(len(jac)):
            jtj[i][i] += penalty[i]
            jtj[i][i] += damping * (jtj[i][i] + 1e-12)
        step = ev._solve(jtj, jtr)
        trial = [t + dt for t, dt in zip(theta, step, strict=True)]
        value, s_trial, r_trial, slope_trial = state(trial)
        if value <= current:
            theta, current, s, r, slope = trial, value, s_trial, r_trial, slope_trial
            damping = max(damping / 10.0, 1e-9)
        else:
            damping *= 10.0
    return ContentSlopeCurve(tuple(theta), centre, scale)


class Curve(Protocol):
    """What the selection, export and card need of a curve a real-corpus
    model may be or blend in (config ``evaluation.curves``)."""

    kind: ClassVar[str]

    @classmethod
    def fit_columns(cls, columns: np.ndarray, targets: Sequence[float]) -> Curve: ...

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Curve: ...

    def predict_columns(self, columns: np.ndarray) -> list[float]: ...

    def as_dict(self) -> dict[str, Any]: ...

    def graph(self, const: ev.Const, node: ev.Node) -> tuple[list, list]: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class CurveMean:
    """The mean of the logistic curve and the content-slope curve, each
    fitted on the same rows: neither curve is reliably the better one on a
    corpus of a few dozen clips (which one the inner folds prefer is mostly
    noise), and their mean is never far from the better. Measured by
    holding clips out (5 grouped outer folds x 5 seeds over the demo's 17
    clips; 6 draws of 8 clips, each held out in turn), RMSE of the logistic
    / content-slope / mean: the demo's corpus 12.12 / 11.07 / 11.50
    (libaom-av1), 9.85 / 9.42 / 9.54 (libsvtav1), 13.09 / 13.38 / 13.15
    (libvvenc), 15.58 / 15.84 / 15.60 (libx264), 11.20 / 10.97 / 11.01
    (libx265); in vmaf-tune's format, 8 clips: 14.37 / 12.94 / 13.42,
    11.78 / 10.92 / 11.22, 17.58 / 18.48 / 17.82, 17.68 / 16.77 / 17.16,
    13.64 / 13.00 / 13.26. Choosing the lower curve on the inner folds
    instead shipped worse than the logistic curve on 2 to 3 codecs of 5
    (:func:`selection.fit_selected` ships the mean unless another curve is
    lower on every inner fold)."""

    kind: ClassVar[str] = "curve_mean"
    parts: tuple[Curve, ...]

    @classmethod
    def fit_columns(cls, columns: np.ndarray, targets: Sequence[float]) -> CurveMean:
        return cls(tuple(part.fit_columns(columns, targets) for part in MEAN_PARTS))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CurveMean:
        return cls(tuple(curve_from_dict(part) for part in data["parts"]))

    def predict_columns(self, columns: np.ndarray) -> list[float]:
        """The parts summed in order, times 1/n (as the graph computes it)."""
        total = np.asarray(self.parts[0].predict_columns(columns))
        for part in self.parts[1:]:
            total = total + np.asarray(part.predict_columns(columns))
        return (total * (1.0 / len(self.parts))).tolist()

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "parts": [part.as_dict() for part in self.parts]}

    def graph(self, const: ev.Const, node: ev.Node) -> tuple[list, list]:
        """Each part's own nodes under a prefix of its own, then their mean
        as ``curve``."""
        initializers, nodes, outputs = [], [], []
        for i, part in enumerate(self.parts):
            prefix = f"mean{i}_"

            def named(op, inputs, output, _prefix=prefix, **attributes):
                inputs = [n if n == "columns" else _prefix + n for n in inputs]
                return node(op, inputs, _prefix + output, **attributes)

            inits, part_nodes = part.graph(
                lambda name, *a, _prefix=prefix, **k: const(_prefix + name, *a, **k),
                named,
            )
            initializers += inits
            nodes += part_nodes
            outputs.append(prefix + "curve")
        total = outputs[0]
        for i, output in enumerate(outputs[1:], 1):
            nodes.append(node("Add", [total, output], f"mean_sum{i}"))
            total = f"mean_sum{i}"
        initializers.append(const("mean_share", [1.0 / len(self.parts)]))
        nodes.append(node("Mul", [total, "mean_share"], "curve"))
        return initializers, nodes

    def describe(self) -> str:
        parts = "; and ".join(part.describe() for part in self.parts)
        return f"the mean of {len(self.parts)} curves, each fitted on all rows: {parts}"


# What CurveMean averages, in order.
MEAN_PARTS: tuple[type[Curve], ...] = (ev.Logistic, ContentSlopeCurve)

# kind -> the curve (config evaluation.curves names them).
CURVES: dict[str, type[Curve]] = {
    curve.kind: curve
    for curve in (CurveMean, ev.Logistic, ContentSlopeCurve, ev.LogisticFps)
}


def fit_curve(kind: str, columns: np.ndarray, targets: Sequence[float]) -> Curve:
    """The curve of ``kind`` fitted on rows given as the network's columns."""
    if kind not in CURVES:
        raise ValueError(f"unknown curve {kind!r}: one of {sorted(CURVES)}")
    return CURVES[kind].fit_columns(columns, targets)


def curve_from_dict(data: Mapping[str, Any]) -> Curve:
    """The curve of a trained model's ``blend`` (``TrainedModel.blend``)."""
    return CURVES[data["kind"]].from_dict(data)


def graph(curve: ContentSlopeCurve, const, node) -> tuple[list, list]:
    """Initializers and nodes computing ``curve`` (sigmoid, 0..1) from the
    graph's ``columns``; ``const`` and ``node`` are s4_export's helpers."""
    maps = curve.graph_weights()
    initializers = [
        const("curve_crf_weights", [[v] for v in maps["crf"][0]]),
        const("curve_crf_bias", [maps["crf"][1]]),
        const("curve_slope_weights", [[v] for v in maps["log_slope"][0]]),
        const("curve_slope_bias", [maps["log_slope"][1]]),
        const("curve_p_weights", [[v] for v in maps["p_frames"][0]]),
        const("curve_p_bias", [maps["p_frames"][1]]),
        const("curve_p_measured_weights", [[v] for v in maps["p_measured"][0]]),
        const("curve_p_measured_bias", [maps["p_measured"][1]]),
        const("curve_level", [curve.params[0]]),
        const("curve_exp_min", -_EXP_LIMIT),
        const("curve_exp_max", _EXP_LIMIT),
        const("curve_measured_min", 0.0),
        const("curve_measured_max", 1.0),
    ]
    nodes = [
        node("Gemm", ["columns", "curve_crf_weights", "curve_crf_bias"], "curve_crf"),
        node(
            "Gemm",
            ["columns", "curve_slope_weights", "curve_slope_bias"],
            "curve_log_slope_bpp",
        ),
        node("Gemm", ["columns", "curve_p_weights", "curve_p_bias"], "curve_p_raw"),
        node(
            "Gemm",
            ["columns", "curve_p_measured_weights", "curve_p_measured_bias"],
            "curve_p_log_bytes",
        ),
        node(
            "Clip",
            ["curve_p_log_bytes", "curve_measured_min", "curve_measured_max"],
            "curve_p_measured",
        ),
        node("Mul", ["curve_p_measured", "curve_p_raw"], "curve_p_term"),
        node("Add", ["curve_log_slope_bpp", "curve_p_term"], "curve_log_slope_raw"),
        node(
            "Clip",
            ["curve_log_slope_raw", "curve_exp_min", "curve_exp_max"],
            "curve_log_slope",
        ),
        node("Exp", ["curve_log_slope"], "curve_slope"),
        node("Mul", ["curve_slope", "curve_crf"], "curve_fall"),
        node("Sub", ["curve_level", "curve_fall"], "curve_eta"),
        node("Sigmoid", ["curve_eta"], "curve"),
    ]
    return initializers, nodes
