"""The models' input contract, in one place.

Every model takes float32 rows ``[N, 14]`` named ``input`` and returns float32
``[N, 1]`` named ``vmaf`` in [0, 100]. This module says, for each of the 14
features in graph order, its unit, how the consumer (vmaf-tune's runtime
predictor) measures it, and which measurement it belongs to. A feature that
was not measured is sent as 0.0, as the consumer sends it; every model is
trained on both forms of each optional measurement (measured, and 0.0), so
leaving one out gives a sensible answer. The corpus stage, the synthetic
stub corpus, the sweep, the runtime and the cards all follow this table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# The graph's input, float32 [N, 14], and output, float32 [N, 1] in [0, 100].
INPUT_NAME = "input"
OUTPUT_NAME = "vmaf"
# What a feature that was not measured is sent as.
NOT_MEASURED = 0.0


@dataclass(frozen=True)
class Feature:
    """One input of the model."""

    name: str
    unit: str
    measured: str  # how it is measured (the consumer's definition)
    # The measurement it comes from; a model is trained with each optional
    # measurement both present and sent as NOT_MEASURED. None: always known.
    optional: str | None = None


FEATURES: tuple[Feature, ...] = (
    Feature(
        "crf", "quality value", "the CRF / CQ / QP / global_quality to predict for"
    ),
    Feature(
        "probe_bitrate_kbps",
        "kbit/s",
        "bitrate of one fast probe encode of the shot (the codec's probe preset "
        "and fixed quality value, first 240 frames)",
    ),
    Feature(
        "probe_i_frame_avg_bytes",
        "bytes",
        "mean size of the probe's I frames (FFmpeg -vstats_file f_size, type=I)",
        optional="frame sizes",
    ),
    Feature(
        "probe_p_frame_avg_bytes",
        "bytes",
        "mean size of the probe's P frames (type=P)",
        optional="frame sizes",
    ),
    Feature(
        "probe_b_frame_avg_bytes",
        "bytes",
        "mean size of the probe's B frames (type=B); 0.0 when the encoder made none",
        optional="B frames",
    ),
    Feature(
        "saliency_mean",
        "0..1",
        "mean of a saliency map of the shot's centre frame (off by default in "
        "the consumer)",
        optional="saliency",
    ),
    Feature(
        "saliency_var",
        "(0..1)^2",
        "population variance of that saliency map",
        optional="saliency",
    ),
    Feature(
        "frame_diff_mean",
        "8-bit luma levels",
        "mean of FFmpeg signalstats YDIF over the analysed frames (the first "
        "frame's 0 included)",
        optional="signalstats",
    ),
    Feature(
        "y_avg",
        "8-bit luma levels",
        "mean of signalstats YAVG over the analysed frames",
        optional="signalstats",
    ),
    Feature(
        "y_var",
        "8-bit luma levels",
        "mean over the analysed frames of (YHIGH + YLOW) / 2: the consumer's "
        "proxy, a mid-range luma level, not a variance",
        optional="signalstats",
    ),
    Feature("shot_length_frames", "frames", "frames in the shot (>= 1)"),
    Feature("fps", "frames/s", "the stream's frame rate"),
    Feature("width", "pixels", "frame width"),
    Feature("height", "pixels", "frame height"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
N_FEATURES = len(FEATURE_NAMES)
# Optional measurement -> the graph columns it fills.
OPTIONAL_GROUPS: dict[str, tuple[int, ...]] = {}
for _index, _feature in enumerate(FEATURES):
    if _feature.optional:
        OPTIONAL_GROUPS.setdefault(_feature.optional, ())
        OPTIONAL_GROUPS[_feature.optional] += (_index,)


def contract_table() -> str:
    """The contract as a Markdown table (README and cards)."""
    rows = [
        f"| {i} | `{f.name}` | {f.unit} | {f.measured} | "
        + (
            f"optional ({f.optional}): {NOT_MEASURED} when not measured"
            if f.optional
            else "always"
        )
        + " |"
        for i, f in enumerate(FEATURES)
    ]
    return "\n".join(
        [
            "| # | feature | unit | how it is measured | when missing |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )


def round_decimal(values: np.ndarray, ndigits: int) -> np.ndarray:
    """Python's ``round(x, ndigits)`` of every value, exactly.

    ``rint(x * 10**n) / 10**n`` is the correctly rounded result (the division
    of two exact numbers rounds once, as Python's decimal round trip does)
    unless ``x * 10**n`` lies within its own rounding error of a tie, or is too
    large to have a fraction: those few values are rounded by Python itself.
    """
    scale = 10.0**ndigits
    with np.errstate(over="ignore", invalid="ignore"):  # inf and nan go to Python
        scaled = values * scale
        rounded = np.rint(scaled) / scale
        distance_to_tie = np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5)
        easy = (distance_to_tie > np.abs(scaled) * 2.0**-50) & (
            np.abs(scaled) < 2.0**51
        )
    for i in np.flatnonzero(~easy):
        rounded[i] = round(float(values[i]), ndigits)
    return rounded


def standin_columns(
    crf: np.ndarray,
    bitrate_kbps: np.ndarray,
    fps: np.ndarray,
    duration_s: np.ndarray,
    width: np.ndarray,
    height: np.ndarray,
) -> dict[str, np.ndarray]:
    """The features of corpus rows that carry no probe statistics, one
    column each, as the contract reads them: every optional measurement not
    measured (NOT_MEASURED), the shot's length from its duration, and the
    row's own bitrate standing in for the probe bitrate (the only size figure
    such a row has; the card says so). Elementwise IEEE arithmetic, then
    rounding, so every machine gets the same values. Width and height are
    truncated to whole pixels.
    """
    unmeasured = np.full_like(crf, NOT_MEASURED)
    columns = {
        "crf": crf,
        "probe_bitrate_kbps": round_decimal(bitrate_kbps, 3),
        "shot_length_frames": np.maximum(1.0, np.rint(duration_s * fps)),
        "fps": fps,
        "width": np.trunc(width),
        "height": np.trunc(height),
    }
    return {name: columns.get(name, unmeasured) for name in FEATURE_NAMES}


def standin_features(
    crf: float,
    bitrate_kbps: float,
    fps: float,
    duration_s: float,
    width: float,
    height: float,
) -> dict[str, float]:
    """:func:`standin_columns` of one row."""
    row = (crf, bitrate_kbps, fps, duration_s, width, height)
    columns = standin_columns(*(np.array([v], dtype=np.float64) for v in row))
    return {name: float(column[0]) for name, column in columns.items()}


def extreme_inputs(crfs: Sequence[float]) -> list[list[float]]:
    """Inputs a consumer might send that training never saw, at each CRF:
    all zeros, a huge bitrate, an 8K frame, 1 fps and 240 fps."""
    typical = {"bitrate": 3000.0, "i": 7.8e4, "p": 1.6e4, "b": 7.8e3}
    probe = [*typical.values(), 0.5, 0.05, 6.0, 110.0, 118.0]
    shapes = [
        [0.0] * (N_FEATURES - 1),
        [1e6, 1e7, 1e7, 1e7, 1.0, 1.0, 100.0, 255.0, 1e4, 1e5, 240.0, 7680.0, 4320.0],
        [*probe, 120.0, 30.0, 7680.0, 4320.0],
        [*probe, 5.0, 1.0, 1920.0, 1080.0],
        [*probe, 1200.0, 240.0, 1920.0, 1080.0],
    ]
    return [[float(crf), *shape] for crf in crfs for shape in shapes]


def spanning_rows(rows: Sequence[Sequence[float]], count: int) -> list[list[float]]:
    """``count`` feature vectors spanning the training rows: the rows
    themselves (evenly spaced when there are more), then midpoints of
    deterministic pairs of rows."""
    n = len(rows)
    if n >= count:
        return [list(rows[i * n // count]) for i in range(count)]
    spanning = [list(row) for row in rows]
    i = 0
    while len(spanning) < count:
        a, b = rows[i % n], rows[(i * 37 + 11) % n]
        spanning.append([(x + y) / 2.0 for x, y in zip(a, b, strict=True)])
        i += 1
    return spanning
