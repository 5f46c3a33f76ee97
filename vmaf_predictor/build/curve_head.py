"""A logistic curve in CRF whose steepness follows the content (issue 16).

    VMAF = 100 * sigmoid(a - exp(g0 + g1 * z) * c)

``c`` is the CRF and ``z`` the log bits per pixel of the probe encode
(:func:`evaluation.log_bpp`), both standardised over the training rows. The
slope ``exp(g0 + g1 * z)`` is positive whatever the input, and ``z`` does
not depend on the CRF, so the curve never rises with CRF by construction.
``g1`` is shrunk toward 0 by a ridge penalty: with no signal in the probe's
bitrate the curve is the plain logistic curve in CRF, fitted per training
set. Unlike the parametric baseline, the probe's bitrate does not move the
level of the curve (at the training rows' mean CRF every shot gets
``100 * sigmoid(a)``), only how fast quality falls with CRF: measured on
the sweep corpus, where a source's level is not predictable from its probe
but its steepness is (grouped RMSE below the parametric baseline on 5 of 5
codecs; README, "How a model is scored").

Fitted as the baseline is, with the same exact arithmetic: a fixed number of
damped Gauss-Newton steps, exp and log by :func:`network.exact_exp` and
:func:`network.exact_log`, sums by ``math.fsum``, the 3x3 solve in plain
Python; the same bits on every CPU. The graph computes it with ONNX
``Gemm``, ``Clip``, ``Exp``, ``Mul``, ``Sub`` and ``Sigmoid`` in float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vmaf_predictor.build import evaluation as ev
from vmaf_predictor.build.network import MODEL_COLUMNS, exact_exp, exact_log

KIND = "content_slope"
# Ridge on g1, per row and in VMAF^2 units: loss = SSE + RIDGE*100*n*g1^2.
RIDGE = 0.1
GAUSS_NEWTON_STEPS = 60
# Smallest starting slope (normalised CRF units) when the data do not fall.
_MIN_SLOPE = 1e-3
# exact_exp clips its argument to this; the graph clips the same way.
_EXP_LIMIT = 700.0


@dataclass(frozen=True)
class ContentSlopeCurve:
    """``100 * sigmoid(a - exp(g0 + g1*z) * c)`` on standardised inputs."""

    params: tuple[float, float, float]  # a, g0, g1
    centre: tuple[float, float]  # of the CRF and of log bpp
    scale: tuple[float, float]

    def predict(self, features: np.ndarray) -> list[float]:
        f = np.asarray(features, dtype=np.float64)
        return self._curve(f[:, 0], ev.log_bpp(f))

    def predict_columns(self, columns: np.ndarray) -> list[float]:
        """The curve of rows given as the network's columns."""
        return self._curve(columns[:, 0], ev.columns_log_bpp(columns))

    def _curve(self, crf: np.ndarray, lbpp: np.ndarray) -> list[float]:
        c = (crf - self.centre[0]) / self.scale[0]
        z = (lbpp - self.centre[1]) / self.scale[1]
        a, g0, g1 = self.params
        slope = exact_exp(g0 + g1 * z)
        return (100.0 * _sigmoid(a - slope * c)).tolist()

    def as_dict(self) -> dict:
        return {
            "kind": KIND,
            "params": list(self.params),
            "centre": list(self.centre),
            "scale": list(self.scale),
        }

    def graph_weights(self) -> dict[str, tuple[list[float], float]]:
        """The two affine maps of the network's columns the graph needs:
        ``crf`` (the standardised CRF) and ``log_slope`` (``g0 + g1*z``)."""
        _, g0, g1 = self.params
        crf_w = [0.0] * len(MODEL_COLUMNS)
        crf_w[0] = 1.0 / self.scale[0]
        crf_bias = -self.centre[0] / self.scale[0]
        slope_w = [0.0] * len(MODEL_COLUMNS)
        for name, sign in zip(ev._SIZES, (1.0, -1.0, -1.0, -1.0), strict=True):
            slope_w[ev._position(name)] = sign * g1 / self.scale[1]
        slope_bias = g0 - g1 * self.centre[1] / self.scale[1]
        return {"crf": (crf_w, crf_bias), "log_slope": (slope_w, slope_bias)}


def from_dict(blend: dict) -> ContentSlopeCurve:
    return ContentSlopeCurve(
        tuple(blend["params"]), tuple(blend["centre"]), tuple(blend["scale"])
    )


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
    """Least squares on the VMAF scale plus ``ridge*100*n*g1^2``: damped
    Gauss-Newton (fixed step count) from the logistic curve in CRF alone
    (``g1 = 0``, its slope from the linear fit of logit(VMAF/100))."""
    c, crf_mean, crf_scale = _standardised(np.asarray(columns[:, 0], np.float64))
    z, bpp_mean, bpp_scale = _standardised(ev.columns_log_bpp(columns))
    y = np.asarray(targets, dtype=np.float64)
    n = len(y)
    clipped = np.clip(y, 1.0, 99.0)
    logit = exact_log(clipped) - exact_log(100.0 - clipped)
    # Start: linear least squares of logit on [1, c] (c has mean 0).
    cc = math.fsum((c * c).tolist())
    a = math.fsum(logit.tolist()) / n
    b = math.fsum((c * logit).tolist()) / cc if cc > 0.0 else 0.0
    theta = [a, float(exact_log(np.array([max(-b, _MIN_SLOPE)]))[0]), 0.0]
    penalty = [0.0, 0.0, ridge * 100.0 * n]

    def state(theta: list[float]):
        a, g0, g1 = theta
        slope = exact_exp(g0 + g1 * z)
        s = _sigmoid(a - slope * c)
        r = y - 100.0 * s
        value = math.fsum((r * r).tolist()) + penalty[2] * g1 * g1
        return value, s, r, slope

    current, s, r, slope = state(theta)
    damping = 1e-3
    for _ in range(GAUSS_NEWTON_STEPS):
        d = 100.0 * s * (1.0 - s)
        u = -slope * c  # d eta / d g0
        jac = [d, d * u, d * u * z]
        jtj = [[math.fsum((p * q).tolist()) for q in jac] for p in jac]
        jtr = [
            math.fsum((p * r).tolist()) - penalty[i] * theta[i]
            for i, p in enumerate(jac)
        ]
        for i in range(3):
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
    return ContentSlopeCurve(tuple(theta), (crf_mean, bpp_mean), (crf_scale, bpp_scale))


def fit_curve(kind: str, columns: np.ndarray, targets: Sequence[float]):
    """The blended curve of ``kind`` (config ``evaluation.curve``) fitted on
    rows given as the network's columns."""
    if kind == KIND:
        return fit_columns(columns, targets)
    if kind == "logistic":
        return ev.fit_logistic_columns(columns, targets)
    raise ValueError(f"unknown curve {kind!r}")


def blend_graph(blend: dict, const, node) -> tuple[list, list]:
    """Initializers and nodes computing a trained model's blended curve
    (``TrainedModel.blend``, either kind) as ``curve`` (sigmoid, 0..1) from
    the graph's ``columns``; ``const`` and ``node`` are s4_export's helpers."""
    if blend.get("kind") == KIND:
        return graph(from_dict(blend), const, node)
    logistic = ev.Logistic(
        tuple(blend["params"]), tuple(blend["centre"]), tuple(blend["scale"])
    )
    weights, bias = logistic.graph_weights()
    initializers = [
        const("curve_weights", [[v] for v in weights]),
        const("curve_bias", [bias]),
    ]
    nodes = [
        node("Gemm", ["columns", "curve_weights", "curve_bias"], "curve_eta"),
        node("Sigmoid", ["curve_eta"], "curve"),
    ]
    return initializers, nodes


def graph(curve: ContentSlopeCurve, const, node) -> tuple[list, list]:
    """Initializers and nodes computing ``curve`` (sigmoid, 0..1) from the
    graph's ``columns``; ``const`` and ``node`` are s4_export's helpers."""
    maps = curve.graph_weights()
    initializers = [
        const("curve_crf_weights", [[v] for v in maps["crf"][0]]),
        const("curve_crf_bias", [maps["crf"][1]]),
        const("curve_slope_weights", [[v] for v in maps["log_slope"][0]]),
        const("curve_slope_bias", [maps["log_slope"][1]]),
        const("curve_level", [curve.params[0]]),
        const("curve_exp_min", -_EXP_LIMIT),
        const("curve_exp_max", _EXP_LIMIT),
    ]
    nodes = [
        node("Gemm", ["columns", "curve_crf_weights", "curve_crf_bias"], "curve_crf"),
        node(
            "Gemm",
            ["columns", "curve_slope_weights", "curve_slope_bias"],
            "curve_log_slope_raw",
        ),
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
