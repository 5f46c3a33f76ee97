"""A clip in, a quality value out: measure the clip's features exactly as the
sweep does (:mod:`measure`, same code, same settings), pick the highest
quality value predicted to meet a target, and optionally check it with a
real encode scored by libvmaf (predict, then verify).

    from vmaf_predictor.runtime.predictor import Predictor

    predictor = Predictor("model/predictor_libx264.onnx")
    pick = predictor.pick_crf_for_clip("shot.mkv", target_vmaf=93, codec="libx264",
                                       verify=True)
    pick.choice.crf, pick.choice.predicted_vmaf, pick.measured_vmaf

The settings (FFmpeg, probe and production encoder settings, thread count,
analysis window) are the sweep's: the checkout's config.yaml with the
schema's defaults, or another config file given as ``config``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmaf_predictor import config_file
from vmaf_predictor.runtime import encode, measure
from vmaf_predictor.runtime.encoders import (
    SOFTWARE_CODECS,
    SweepSettings,
    hardware_problem,
)

if TYPE_CHECKING:
    from vmaf_predictor.runtime.predictor import CrfChoice, Predictor


def sweep_settings(config: str | Path | None = None) -> SweepSettings:
    """The sweep's settings from a config file (default: the checkout's)."""
    path = Path(config) if config else config_file.CONFIG
    return SweepSettings.from_config(config_file.load(path))


def measure_features(
    clip: str | Path, codec: str, settings: SweepSettings | None = None
) -> dict[str, float]:
    """The 13 measured features of ``clip`` for ``codec`` (graph order, no
    crf), exactly as a sweep row of the clip carries them."""
    check_codec(codec)
    return measure.measure(clip, codec, settings or sweep_settings())[0]


def check_codec(codec: str) -> None:
    """ValueError unless ``codec`` is one of the five swept encoders."""
    if codec not in SOFTWARE_CODECS:
        raise ValueError(f"cannot measure a clip: {hardware_problem(codec)}")


@dataclass(frozen=True)
class Verified:
    """The encode at the chosen quality value, scored."""

    measured_vmaf: float | None
    exit_status: int
    error: str
    encode_size_bytes: int
    bitrate_kbps: float
    encode_time_ms: int


@dataclass(frozen=True)
class ClipPick:
    """What :meth:`Predictor.pick_crf_for_clip` returns."""

    clip: str
    codec: str
    choice: CrfChoice
    features: dict[str, float]
    model: dict[str, str | None]  # path (None: the analytical curve), corpus
    verified: Verified | None = None

    @property
    def measured_vmaf(self) -> float | None:
        return self.verified.measured_vmaf if self.verified else None

    def to_json(self) -> dict[str, Any]:
        result = {
            "clip": self.clip,
            "codec": self.codec,
            **asdict(self.choice),
            "model": self.model,
            "features": self.features,
        }
        if self.verified is not None:
            result["measured_vmaf"] = self.verified.measured_vmaf
            result["verify"] = asdict(self.verified)
        return result


def model_info(predictor: Predictor) -> dict[str, str | None]:
    """The model's path and the corpus it was built from (its directory's
    PROVENANCE.json), or the analytical curve."""
    import json

    path = predictor.model_path
    if path is None:
        return {"path": None, "corpus": "analytical curve"}
    provenance = path.parent / "PROVENANCE.json"
    corpus = "unknown (no PROVENANCE.json beside the model)"
    if provenance.is_file():
        entry = json.loads(provenance.read_text(encoding="utf-8")).get(path.name)
        corpus = entry["corpus"] if entry else "unknown (not in PROVENANCE.json)"
    return {"path": str(path), "corpus": corpus}


def pick_crf_for_clip(
    predictor: Predictor,
    clip: str | Path,
    target_vmaf: float,
    codec: str,
    *,
    verify_choice: bool = False,
    settings: SweepSettings | None = None,
) -> ClipPick:
    """Measure ``clip`` (one probe, one analysis pass), pick the highest
    quality value predicted to meet ``target_vmaf``; with ``verify_choice``,
    encode at it and score the encode (``measured_vmaf``)."""
    check_codec(codec)
    settings = settings or sweep_settings()
    features, measured = measure.measure(clip, codec, settings)
    choice = predictor.pick_crf(features, target_vmaf, codec)
    verified = None
    if verify_choice:
        scored = encode.encode_and_score(
            clip, codec, choice.crf, settings, measured.clip.frames
        )
        seconds = Fraction(measured.clip.frames) / measured.clip.fps
        kbps = Fraction(scored.encode_size_bytes * 8, 1000) / seconds
        verified = Verified(
            measured_vmaf=scored.vmaf_score,
            exit_status=scored.exit_status,
            error=scored.error,
            encode_size_bytes=scored.encode_size_bytes,
            bitrate_kbps=round(float(kbps), 3),
            encode_time_ms=scored.encode_time_ms,
        )
    return ClipPick(str(clip), codec, choice, features, model_info(predictor), verified)
