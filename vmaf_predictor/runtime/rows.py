"""A Phase A schema-v3 corpus row of one scored encode: the canonical keys
from the encode and the clip, and the 13 measured features
(:func:`vmaf_predictor.runtime.measure.features`).

Written by the sweep (``sweep_gather``) and by ``pick-crf --verify
--record``, from the same measurements, so a user's searches are rows the
sweep would have written: equal in every field but the timings
(:data:`TIMING_KEYS`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from vmaf_predictor.runtime import measure
from vmaf_predictor.runtime.encoders import ENCODERS

SCHEMA_VERSION = 3
CLIP_MODE = "full"  # every row encodes and scores the whole clip
# Timing fields: left out of the rows' content digest (they differ run to run).
TIMING_KEYS = ("encode_time_ms", "score_time_ms")
# The option whose value is a row's preset, per encoder argument list.
PRESET_OPTIONS = ("-preset", "-cpu-used")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def clip_info(
    sha256: str, clip: measure.Clip, window: int, analysis: measure.Analysis
) -> dict[str, Any]:
    """What a row takes from its clip (the sweep's per-clip JSON)."""
    return {
        "sha256": sha256,
        "clip": measure.to_json(clip),
        "window": window,
        "analysis": measure.to_json(analysis),
    }


def preset_and_extra(codec: str, args: list[str]) -> tuple[str, str]:
    """A row's ``preset`` (the value of -preset or -cpu-used) and
    ``extra_params`` (the other encoder options, without codec and quality)."""

    preset, extra, i = "", [], 0
    quality_option = ENCODERS[codec].quality_option
    while i < len(args):
        option = args[i]
        value = args[i + 1] if i + 1 < len(args) else ""
        if option in PRESET_OPTIONS and not preset:
            preset = value
        elif option not in ("-c:v", quality_option):
            extra += [option, value]
        i += 2
    return preset, " ".join(extra)


def row(
    name: str,
    info: Mapping[str, Any],
    probe: Mapping[str, Any],
    encoded: Mapping[str, Any],
    codec: str,
    quality: int,
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """One Phase A schema-v3 row: canonical keys and the measured features."""
    clip = measure.clip_from_json(info["clip"])
    duration = Fraction(clip.frames) / clip.fps
    preset, extra = preset_and_extra(codec, encoded["args"])
    size = encoded["encode_size_bytes"]
    exit_status, error = encoded["exit_status"], encoded["error"]
    vmaf = encoded["vmaf_score"]
    if exit_status == 0 and encoded["frames"] != clip.frames:
        exit_status, vmaf = 1, None
        error = f"libvmaf scored {encoded['frames']} frames of {clip.frames}"
    result = {
        "schema_version": SCHEMA_VERSION,
        "src": name,
        "src_sha256": info["sha256"],
        "width": clip.width,
        "height": clip.height,
        "pix_fmt": clip.pix_fmt,
        "framerate": float(clip.fps),
        "duration_s": round(float(duration), 6),
        "encoder": codec,
        "encoder_version": encoded["encoder_version"],
        "preset": preset,
        "crf": quality,
        "extra_params": extra,
        "encode_size_bytes": size,
        "bitrate_kbps": round(float(Fraction(size * 8, 1000) / duration), 3),
        "encode_time_ms": encoded["encode_time_ms"],
        "vmaf_score": vmaf,
        "vmaf_model": meta["vmaf_model"],
        "score_time_ms": encoded["score_time_ms"],
        "ffmpeg_version": meta["ffmpeg_version"],
        "exit_status": exit_status,
        "clip_mode": CLIP_MODE,
    }
    if probe["exit_status"] != 0:
        result["exit_status"] = exit_status or probe["exit_status"]
        error = error or f"probe: {probe['error']}"
    else:
        measured = measure.Measurements(
            clip,
            measure.analysis_from_json(info["analysis"]),
            measure.probe_from_json(probe),
        )
        for name, value in measure.features(measured).items():
            # width and height are canonical keys too: the same number, kept
            # as the canonical integer.
            if name not in result:
                result[name] = value
            elif result[name] != value:
                raise ValueError(f"{name}: row {result[name]}, feature {value}")
    if error:
        result["error"] = error
    return result
