"""Held-out metrics: PLCC, SROCC (average ranks for ties), RMSE, the largest
absolute error and the mean signed error.

Plain Python with ``math.fsum`` (exactly rounded sums), so the figures on a
card are the same on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def rmse(predicted: Sequence[float], actual: Sequence[float]) -> float:
    """Root-mean-square error, in the units of the inputs (VMAF points)."""
    _check(predicted, actual)
    n = len(actual)
    return math.sqrt(
        math.fsum((p - a) * (p - a) for p, a in zip(predicted, actual, strict=True)) / n
    )


def max_abs_error(predicted: Sequence[float], actual: Sequence[float]) -> float:
    """The largest ``|predicted - actual|``."""
    _check(predicted, actual)
    return max(abs(p - a) for p, a in zip(predicted, actual, strict=True))


def mean_signed_error(predicted: Sequence[float], actual: Sequence[float]) -> float:
    """Mean of ``predicted - actual``: > 0 when the predictions run high."""
    _check(predicted, actual)
    return math.fsum(p - a for p, a in zip(predicted, actual, strict=True)) / len(
        actual
    )


def summary(predicted: Sequence[float], actual: Sequence[float]) -> dict[str, float]:
    """Every figure a card reports for one set of predictions."""
    return {
        "rmse": rmse(predicted, actual),
        "plcc": plcc(predicted, actual),
        "srocc": srocc(predicted, actual),
        "max_abs_error": max_abs_error(predicted, actual),
        "mean_signed_error": mean_signed_error(predicted, actual),
    }


def plcc(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson linear correlation; 0.0 when either side is constant."""
    _check(x, y)
    n = len(x)
    mean_x, mean_y = math.fsum(x) / n, math.fsum(y) / n
    dx = [v - mean_x for v in x]
    dy = [v - mean_y for v in y]
    sxx = math.fsum(v * v for v in dx)
    syy = math.fsum(v * v for v in dy)
    if sxx == 0.0 or syy == 0.0:
        return 0.0
    return math.fsum(a * b for a, b in zip(dx, dy, strict=True)) / math.sqrt(sxx * syy)


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the mean of their positions."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def srocc(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation: PLCC of the average ranks."""
    _check(x, y)
    return plcc(average_ranks(x), average_ranks(y))


def _check(x: Sequence[float], y: Sequence[float]) -> None:
    if len(x) != len(y):
        raise ValueError(f"length mismatch: {len(x)} != {len(y)}")
    if not x:
        raise ValueError("metrics need at least one row")
