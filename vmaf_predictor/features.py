"""The model's 14 input features, in graph order, and their stand-ins."""

from __future__ import annotations

from collections.abc import Sequence

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


def standin_features(
    crf: float,
    bitrate_kbps: float,
    fps: float,
    duration_s: float,
    width: int,
    height: int,
) -> dict[str, float]:
    """Features for a row that has no probe statistics.

    Derived only from bitrate, frame rate, duration and frame size with plain
    arithmetic (no libm), then rounded, so every machine gets the same values.
    """
    frame_bytes = bitrate_kbps * 1000.0 / 8.0 / fps
    bits_per_pixel = bitrate_kbps * 1000.0 / (fps * width * height)
    return {
        "crf": float(crf),
        "probe_bitrate_kbps": round(bitrate_kbps, 3),
        "probe_i_frame_avg_bytes": round(frame_bytes * _I_FRAME_RATIO, 1),
        "probe_p_frame_avg_bytes": round(frame_bytes * _P_FRAME_RATIO, 1),
        "probe_b_frame_avg_bytes": round(frame_bytes * _B_FRAME_RATIO, 1),
        "saliency_mean": _SALIENCY_MEAN,
        "saliency_var": _SALIENCY_VAR,
        "frame_diff_mean": round(min(bits_per_pixel * 100.0, 50.0), 4),
        "y_avg": _Y_AVG,
        "y_var": _Y_VAR,
        "shot_length_frames": float(max(1, round(duration_s * fps))),
        "fps": float(fps),
        "width": float(width),
        "height": float(height),
    }


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
