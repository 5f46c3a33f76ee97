"""The models' input contract: graph I/O names, the 14 features in graph
order, and their stand-ins."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# The graph's input, float32 [N, 14], and output, float32 [N, 1] in [0, 100].
INPUT_NAME = "input"
OUTPUT_NAME = "vmaf"
FEATURE_NAMES: tuple[str, ...] = (
    "crf",
    "probe_bitrate_kbps",
    "probe_i_frame_avg_bytes",
    "probe_p_frame_avg_bytes",
    "probe_b_frame_avg_bytes",
    "saliency_mean",
    "saliency_var",
    "frame_diff_mean",
    "y_avg",
    "y_var",
    "shot_length_frames",
    "fps",
    "width",
    "height",
)
N_FEATURES = len(FEATURE_NAMES)

# Frame-size ratios of a typical long-GOP encode: an I frame costs about five
# average frames, a B frame about half of one.
_I_FRAME_RATIO = 5.0
_P_FRAME_RATIO = 1.0
_B_FRAME_RATIO = 0.5
# Neutral probe statistics for content that was never probed.
_SALIENCY_MEAN = 0.5
_SALIENCY_VAR = 0.05
_Y_AVG = 110.0
_Y_VAR = 2000.0


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
    """Features for rows that have no probe statistics, one column each.

    Derived only from bitrate, frame rate, duration and frame size with
    elementwise IEEE arithmetic (no libm, each operation rounded once, in a
    fixed order), then rounded, so every machine gets the same values.
    Width and height are truncated to whole pixels.
    """
    width, height = np.trunc(width), np.trunc(height)
    frame_bytes = bitrate_kbps * 1000.0 / 8.0 / fps
    bits_per_pixel = bitrate_kbps * 1000.0 / (fps * width * height)
    constant = np.ones_like(crf)
    return {
        "crf": crf,
        "probe_bitrate_kbps": round_decimal(bitrate_kbps, 3),
        "probe_i_frame_avg_bytes": round_decimal(frame_bytes * _I_FRAME_RATIO, 1),
        "probe_p_frame_avg_bytes": round_decimal(frame_bytes * _P_FRAME_RATIO, 1),
        "probe_b_frame_avg_bytes": round_decimal(frame_bytes * _B_FRAME_RATIO, 1),
        "saliency_mean": constant * _SALIENCY_MEAN,
        "saliency_var": constant * _SALIENCY_VAR,
        "frame_diff_mean": round_decimal(np.minimum(bits_per_pixel * 100.0, 50.0), 4),
        "y_avg": constant * _Y_AVG,
        "y_var": constant * _Y_VAR,
        "shot_length_frames": np.maximum(1.0, np.rint(duration_s * fps)),
        "fps": fps,
        "width": width,
        "height": height,
    }


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
    probe = [*typical.values(), 0.5, 0.05, 6.0, 110.0, 2e3]
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
