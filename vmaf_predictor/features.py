"""The model's 14 input features, in graph order, and their stand-ins."""

from __future__ import annotations

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
