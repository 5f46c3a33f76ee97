"""The search for the quality value that meets a VMAF target, measured.

A prediction is a first guess; the answer is a measurement. The search
encodes at a quality value, scores the encode with libvmaf, and chooses the
next value from what it has measured, until a measurement lands in the
window ``[target, target + tolerance]``, two neighbouring values bracket the
target, or the budget of encodes is spent. The answer is the highest
*measured* value that meets the target.

Two strategies choose the values, with the same window, stop rules and
encodes:

- ``model``: the first value is the predictor's pick (its ONNX model, or the
  analytical curve). Each next value comes from the predictor's curve
  corrected by every measurement so far (:func:`next_from_model`).
- ``crf-search``: no model. ab-av1's ``crf-search`` rule: the middle of the
  range first, then the 40/60 point toward the missing side, then linear
  interpolation between the bracketing measurements
  (:func:`next_crf_search`).

Where VMAF lives near a target (80-99) it follows a logistic curve in the
quality value closely, so the model strategy works in the logit domain,
``log(v / (100 - v))``, where the curve is nearly a straight line:

- bracketed (one measured value meets the target, a higher one misses):
  the predictor's curve between them, shifted by a residual that runs
  linearly from one measurement to the other, so that it passes through
  both; if that is not monotone (the predictor's shape contradicts the
  measurements), the straight line between the two measurements;
- not bracketed (all measurements on one side): a straight line from the
  nearest measurement, whose slope is the predictor's own (from that
  measurement to where the level-corrected curve meets the aim), or, with
  two measurements on that side, the measured one; either clamped to
  [0.6, 1.7] times the codec's prior slope (:data:`LOGIT_SLOPES`), so a
  flat, saturated curve (the stubs') still moves and a wild one does not
  jump across the range.

Every value after the first aims at the window's middle. A value already
measured is never proposed again, nor one outside the codec's range. All of
it is arithmetic on the measurements: the same clip and settings give the
same steps every run.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

STRATEGIES = ("model", "crf-search")
DEFAULT_TOLERANCE = 1.0  # VMAF points above the target a measurement may land
DEFAULT_MAX_ENCODES = 4
# The codec's prior slope of logit(VMAF) per quality step near a target: the
# median over neighbouring ladder values with VMAF in [80, 99] of the demo's
# sweep corpus (23 sources: lavfi patterns and real shots, none of the held-
# out clips; ladders every 3 values), printed by tools/search_slopes.py. A
# constant in the logit domain, not a constant VMAF per step: the slope
# measured at targets 88, 93 and 95 agrees in logit, while a VMAF-per-step
# prior converted at the aim was 1.7x too steep for the AV1 encoders and 0.6x
# too flat for libvvenc. Simulated on every quality value measured for the
# demo's 5 held-out clips (72 searches), this table and clamp instead of the
# codec's b and (0.5, 3): 3.17 -> 3.07 encodes per answer with the stubs, 3.04
# -> 3.03 with the analytical curve (crf-search: 3.86); on 3 real training
# clips (36 searches) 2.75 -> 2.58 (crf-search: 3.28); every answer meets the
# target.
LOGIT_SLOPES = {
    "libaom-av1": 0.058,
    "libsvtav1": 0.057,
    "libvvenc": 0.124,
    "libx264": 0.140,
    "libx265": 0.132,
}
# A codec not swept: its analytical curve's b (VMAF per step) at VMAF 90.
_FALLBACK_LEVEL = 90.0
# The slope used to extrapolate, as multiples of the codec's prior slope
# (chosen in the simulation above among (0.35-0.7, 1.5-3)).
SLOPE_CLAMP = (0.6, 1.7)
# VMAF is clamped into this before the logit. Near 100 VMAF saturates
# harder than a logistic curve (a plateau at 99.9), so a measurement there
# counts as 99.5: without the cap, a plateau point made the interpolation aim
# 1-2 values too high (libsvtav1 on a held-out clip: 4 encodes, no answer).
_LOGIT_BOUNDS = (1.0, 99.5)
# Why a search stopped.
IN_WINDOW = "in window"
BRACKET = "neighbours bracket the target"
BUDGET = "budget spent"
RANGE_EDGE = "range edge"
NOTHING_LEFT = "no unmeasured value left between the measurements"


@dataclass(frozen=True)
class Step:
    """One production encode, scored."""

    crf: int
    predicted_vmaf: float | None  # the predictor's raw value (None: no model)
    measured_vmaf: float
    encode_size_bytes: int
    bitrate_kbps: float
    encode_time_ms: int
    score_time_ms: int


@dataclass(frozen=True)
class Found:
    """The answer: the highest measured value meeting the target, or, when
    none does (``met`` False), the measured value closest to it."""

    crf: int
    measured_vmaf: float
    met: bool
    stop: str
    steps: tuple[Step, ...]

    @property
    def encodes(self) -> int:
        return len(self.steps)

    @property
    def answer(self) -> Step:
        return next(s for s in self.steps if s.crf == self.crf)

    def to_json(self) -> dict[str, Any]:
        return {
            "crf": self.crf,
            "measured_vmaf": self.measured_vmaf,
            "met": self.met,
            "stop": self.stop,
            "encodes": self.encodes,
            "steps": [asdict(s) for s in self.steps],
        }


@dataclass(frozen=True)
class Problem:
    """What a search is asked: the target, the window, the range, the budget."""

    target: float
    tolerance: float
    low: int
    high: int
    max_encodes: int
    prior_slope: float  # logit(VMAF) per quality step near a target: prior_slope()

    @property
    def aim(self) -> float:
        """The window's middle."""
        return self.target + self.tolerance / 2


def logit(vmaf: float) -> float:
    v = min(max(vmaf, _LOGIT_BOUNDS[0]), _LOGIT_BOUNDS[1])
    return math.log(v / (100.0 - v))


def run_search(
    problem: Problem,
    measure: Callable[[int], Step],
    first: int,
    curve: Sequence[float] | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> Found:
    """Measure ``first``, then the values the strategy proposes, until a
    stop rule holds. ``curve`` is the predictor's VMAF at every quality
    value of the range (index 0 is ``problem.low``; None: the crf-search
    rule). ``measure(q)`` encodes and scores at ``q``."""
    steps: dict[int, Step] = {}
    q: int | None = first
    stop = BUDGET
    while q is not None:
        step = measure(q)
        steps[q] = step
        if on_step is not None:
            on_step(step)
        stop = stop_reason(problem, steps, q)
        if stop:
            break
        if curve is None:
            q = next_crf_search(problem, steps, len(steps))
        else:
            q = next_from_model(problem, steps, curve)
        stop = NOTHING_LEFT
    return found(problem, steps, stop)


def stop_reason(problem: Problem, steps: dict[int, Step], last: int) -> str:
    """Why the search stops after measuring ``last`` ('' to go on)."""
    t = problem.target
    if t <= steps[last].measured_vmaf <= t + problem.tolerance:
        return IN_WINDOW
    good, bad = bracket(problem, steps)
    if good is not None and bad is not None and bad == good + 1:
        return BRACKET
    if good == problem.high or (good is None and bad == problem.low):
        return RANGE_EDGE
    if len(steps) >= problem.max_encodes:
        return BUDGET
    return ""


def bracket(problem: Problem, steps: dict[int, Step]) -> tuple[int | None, int | None]:
    """The highest measured value meeting the target and the lowest measured
    value above it that misses (None where there is none)."""
    meets = [q for q, s in steps.items() if s.measured_vmaf >= problem.target]
    good = max(meets) if meets else None
    above = [
        q
        for q, s in steps.items()
        if s.measured_vmaf < problem.target and (good is None or q > good)
    ]
    return good, (min(above) if above else None)


def found(problem: Problem, steps: dict[int, Step], stop: str) -> Found:
    good, _ = bracket(problem, steps)
    ordered = tuple(steps.values())
    if good is not None:
        return Found(good, steps[good].measured_vmaf, True, stop, ordered)
    closest = max(steps, key=lambda q: (steps[q].measured_vmaf, q))
    return Found(closest, steps[closest].measured_vmaf, False, stop, ordered)


def _unmeasured(
    q: float, low: int, high: int, steps: dict[int, Step], upward: bool
) -> int | None:
    """``q`` rounded into ``[low, high]``; if measured already, the next
    unmeasured value in the search's direction (None: none left)."""
    if low > high:
        return None
    value = min(max(round(q), low), high)
    while low <= value <= high:
        if value not in steps:
            return value
        value += 1 if upward else -1
    return None


# ab-av1's crf-search rule -----------------------------------------------------


def crf_search_first(problem: Problem) -> int:
    """The middle of the range."""
    return (problem.low + problem.high) // 2


def next_crf_search(problem: Problem, steps: dict[int, Step], run: int) -> int | None:
    """ab-av1's next value: linear interpolation between the bracketing
    measurements; without a bracket, the 40/60 point toward the missing
    side on the second encode, the range's end after that."""
    good, bad = bracket(problem, steps)
    low, high = problem.low, problem.high
    if good is not None and bad is not None:
        better, worse = steps[good].measured_vmaf, steps[bad].measured_vmaf
        factor = (problem.target - worse) / (better - worse)
        q = round(bad - (bad - good) * factor)
        return _unmeasured(q, good + 1, bad - 1, steps, True)
    last = max(steps) if good is not None else min(steps)
    if good is not None:  # every measurement meets the target: go higher
        q = round(last * 0.4 + high * 0.6) if run == 1 and last + 1 < high else high
        return _unmeasured(q, last + 1, high, steps, True)
    q = round(last * 0.4 + low * 0.6) if run == 1 and last > low + 1 else low
    return _unmeasured(q, low, last - 1, steps, False)


# The model's curve, corrected by the measurements ------------------------------


def prior_slope(codec: str, vmaf_per_step: float) -> float:
    """The codec's prior logit slope: measured (:data:`LOGIT_SLOPES`), or
    its analytical ``vmaf_per_step`` converted at VMAF 90."""
    if codec in LOGIT_SLOPES:
        return LOGIT_SLOPES[codec]
    v = _FALLBACK_LEVEL
    return vmaf_per_step * 100.0 / (v * (100.0 - v))


def next_from_model(
    problem: Problem, steps: dict[int, Step], curve: Sequence[float]
) -> int | None:
    """The value where the model's curve, corrected through the
    measurements, meets the window's middle (see the module's docstring)."""
    low, high = problem.low, problem.high
    u = [logit(v) for v in curve]  # index q - low
    aim = logit(problem.aim)
    good, bad = bracket(problem, steps)
    if good is not None and bad is not None:
        return _between(problem, steps, u, aim, good, bad)
    lo_clamp, hi_clamp = (k * problem.prior_slope for k in SLOPE_CLAMP)
    upward = good is not None  # every measurement meets the target: go higher
    side = sorted(steps) if upward else sorted(steps, reverse=True)
    anchor = side[-1]
    level = logit(steps[anchor].measured_vmaf)
    if len(side) >= 2:  # the measured slope between the two nearest
        other = side[-2]
        beta = (logit(steps[other].measured_vmaf) - level) / (anchor - other)
    else:  # the model's own, from the anchor to where its shifted curve meets aim
        shift = level - u[anchor - low]
        values = range(anchor, high + 1) if upward else range(anchor, low - 1, -1)
        crossing = next(
            (q for q in values if (u[q - low] + shift <= aim) == upward), None
        )
        flat = crossing is None or crossing == anchor
        beta = 0.0 if flat else (level - aim) / (crossing - anchor)
    beta = min(max(beta, lo_clamp), hi_clamp)
    q = anchor + (level - aim) / beta
    if upward:
        return _unmeasured(max(q, anchor + 1), anchor + 1, high, steps, True)
    return _unmeasured(min(q, anchor - 1), low, anchor - 1, steps, False)


def _between(
    problem: Problem,
    steps: dict[int, Step],
    u: list[float],
    aim: float,
    good: int,
    bad: int,
) -> int | None:
    """Inside a bracket: the model's curve through both measurements, or the
    straight line between them where that curve is not monotone."""
    low = problem.low
    lg, lb = logit(steps[good].measured_vmaf), logit(steps[bad].measured_vmaf)
    rg, rb = lg - u[good - low], lb - u[bad - low]
    span = bad - good
    corrected = [
        u[q - low] + rg + (rb - rg) * (q - good) / span for q in range(good, bad + 1)
    ]
    if any(b > a for a, b in itertools.pairwise(corrected)):
        corrected = [lg + (lb - lg) * (q - good) / span for q in range(good, bad + 1)]
    inside = range(good + 1, bad)
    if not inside:
        return None
    best = min(inside, key=lambda q: (abs(corrected[q - good] - aim), -q))
    return _unmeasured(best, good + 1, bad - 1, steps, True)
