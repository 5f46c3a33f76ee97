"""The runtime surface: predict VMAF for a shot, and pick the CRF that meets a target.

from vmaf_predictor.runtime.predictor import Predictor, encode_features

predictor = Predictor("model/predictor_libx264.onnx")   # or Predictor() for the curve
features = encode_features(bitrate_kbps=3000, fps=24, width=1920, height=1080)
predictor.predict_vmaf(features, crf=30, codec="libx264")
predictor.pick_crf(features, target_vmaf=93, codec="libx264")
predictor.pick_crf_for_clip("shot.mkv", target_vmaf=93, codec="libx264", verify=True)
# verify=True searches on measured encodes: .crf, .measured_vmaf, .met, .search
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from vmaf_predictor import names
from vmaf_predictor.names import model_file_name
from vmaf_predictor.registry import Codec, registry_from_config
from vmaf_predictor.runtime import inputs
from vmaf_predictor.runtime.features import (
    FEATURE_NAMES,
    N_FEATURES,
    NOT_MEASURED,
    OUTPUT_NAME,
)
from vmaf_predictor.runtime.inputs import InputError
from vmaf_predictor.runtime.search import DEFAULT_MAX_ENCODES, DEFAULT_TOLERANCE
from vmaf_predictor.runtime.session import open_session, predict

if TYPE_CHECKING:
    from vmaf_predictor.runtime.clip import ClipPick
    from vmaf_predictor.runtime.search import Step

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / names.MODEL_DIR
BUILD_COMMAND = "make all_stubs (or: snakemake --cores 4 all_stubs)"
OTHER_FEATURES = FEATURE_NAMES[1:]
# The lowest value of a feature, and whether it is excluded; every other
# feature only needs to be finite. Byte sizes may be 0 (no B frames).
# (lowest value, whether it is excluded) per feature; the rest need only be
# finite. The probe's figures may be 0.0: not measured, as the contract says.
FEATURE_DOMAINS: dict[str, tuple[float, bool]] = {
    "probe_bitrate_kbps": (0.0, False),
    "probe_i_frame_avg_bytes": (0.0, False),
    "probe_p_frame_avg_bytes": (0.0, False),
    "probe_b_frame_avg_bytes": (0.0, False),
    "shot_length_frames": (1.0, False),
    "fps": (0.0, True),
    "width": (1.0, False),
    "height": (1.0, False),
}
TARGET_RANGE = (0.0, 100.0)


class ModelError(ValueError):
    """A file that is not a usable VMAF-predictor model."""


@cache
def codec_registry() -> dict[str, Codec]:
    """The 14 codecs of the repository's config.yaml."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    return registry_from_config(config)


def lookup_codec(name: str) -> Codec:
    """The registry entry of ``name``; InputError (a ValueError) listing the
    known codecs."""
    codecs = codec_registry()
    return codecs[inputs.one_of("codec", name, codecs)]


def encode_features(
    bitrate_kbps: float,
    fps: float,
    width: int,
    height: int,
    duration_s: float = 5.0,
    **measured: float,
) -> dict[str, float]:
    """The 13 non-CRF features of a shot, as the input contract defines them
    (:mod:`vmaf_predictor.runtime.features`): the probe bitrate, frame rate,
    size and length (``duration_s * fps`` frames), any optional measurement
    given by name (e.g. ``y_avg=110``), and NOT_MEASURED (0.0) for the rest.

    Bitrate, frame rate and duration must be finite and > 0, width and height
    finite and >= 1, a measurement given by name finite and in its domain;
    otherwise :class:`InputError` names the argument.
    """
    bitrate_kbps = inputs.positive("bitrate_kbps", bitrate_kbps)
    fps = inputs.positive("fps", fps)
    width = inputs.finite("width", width, 1.0)
    height = inputs.finite("height", height, 1.0)
    duration_s = inputs.positive("duration_s", duration_s)
    unknown = sorted(set(measured) - set(OTHER_FEATURES))
    if unknown:
        raise InputError(
            unknown[0], measured[unknown[0]], f"one of {', '.join(OTHER_FEATURES)}",
            template="unknown feature {name}: expected {allowed}",
        )  # fmt: skip
    features = dict.fromkeys(OTHER_FEATURES, NOT_MEASURED)
    features.update(
        probe_bitrate_kbps=bitrate_kbps,
        shot_length_frames=float(max(1, round(duration_s * fps))),
        fps=fps,
        width=width,
        height=height,
    )
    for name, value in measured.items():
        low, strict = FEATURE_DOMAINS.get(name, (None, False))
        features[name] = inputs.finite(name, value, low, strict)
    # Each value is finite and in range alone; the frame count derived from
    # two of them can still be too large for the model's float32 input.
    if not features["shot_length_frames"] <= inputs.FLOAT32_MAX:
        raise InputError(
            "duration_s",
            duration_s,
            f"a duration whose frame count at {inputs.shown(fps)} fps fits the "
            f"model's float32 input (frames = seconds * fps, at most "
            f"{inputs.FLOAT32_MAX:.4g})",
        )
    return features


def checked_features(features: object, required: Sequence[str]) -> list[float]:
    """The ``required`` features of a mapping as floats, each in its domain
    (:data:`FEATURE_DOMAINS`, else only finite), or InputError naming it."""
    if not isinstance(features, Mapping):
        raise InputError(
            "features", features, "a mapping of feature name to number (see "
            "encode_features)"
        )  # fmt: skip
    absent = [name for name in required if name not in features]
    if absent:
        raise InputError(
            "features",
            absent,
            ", ".join(absent),
            template="{name} are missing {allowed} (encode_features gives all 13)",
        )
    values = []
    for name in required:
        low, strict = FEATURE_DOMAINS.get(name, (None, False))
        values.append(inputs.finite(f"features[{name!r}]", features[name], low, strict))
    return values


def model_path_for(codec: str, model_dir: str | Path = MODEL_DIR) -> Path:
    return Path(model_dir) / model_file_name(codec)


@dataclass(frozen=True)
class CrfChoice:
    """The result of :meth:`Predictor.pick_crf`."""

    crf: int
    predicted_vmaf: float
    target_vmaf: float
    met: bool  # False: no quality value reaches the target; crf is the range's lowest
    model_calls: int


class Predictor:
    """Predicted VMAF from the ONNX model, or from the analytical curve.

    ``Predictor()`` uses each codec's analytical fallback curve;
    ``Predictor(model_path)`` loads one codec's ONNX model in onnxruntime.
    """

    def __init__(self, model_path: str | Path | None = None) -> None:
        if model_path is not None and not isinstance(model_path, str | Path):
            raise InputError("model_path", model_path, "a path to a .onnx file")
        self.model_path = Path(model_path) if model_path is not None else None
        self.model_codec: str | None = None
        self._session = None
        if self.model_path is not None:
            self._session, self.model_codec = _load(self.model_path)

    def predict_vmaf(
        self, features: Mapping[str, float], crf: float, codec: str
    ) -> float:
        """Predicted VMAF in [0, 100] for ``features`` encoded at ``crf``
        (a finite number in the codec's quality range)."""
        entry = lookup_codec(codec)
        crf = quality_value(entry, crf)
        return self._predict(features, [crf], entry)[0]

    def pick_crf(
        self, features: Mapping[str, float], target_vmaf: float, codec: str
    ) -> CrfChoice:
        """The highest quality value whose prediction still meets the target.

        Binary search over the codec's integer quality range (predictions
        never rise with CRF), at most ceil(log2(range)) + 1 model calls. When
        no value meets the target, the lowest value of the range, with
        ``met=False``. ``target_vmaf`` must be a finite number in [0, 100].
        """
        entry = lookup_codec(codec)
        target_vmaf = inputs.in_range(
            "target_vmaf", target_vmaf, *TARGET_RANGE, "the VMAF scale"
        )
        low, high = int(entry.quality_min), int(entry.quality_max)
        calls = 1
        best_vmaf = self._predict(features, [low], entry)[0]
        if best_vmaf < target_vmaf:
            return CrfChoice(low, best_vmaf, target_vmaf, False, calls)
        good, bad = low, high + 1  # prediction(good) meets the target; bad may not
        while bad - good > 1:
            middle = (good + bad) // 2
            vmaf = self._predict(features, [middle], entry)[0]
            calls += 1
            if vmaf >= target_vmaf:
                good, best_vmaf = middle, vmaf
            else:
                bad = middle
        return CrfChoice(good, best_vmaf, target_vmaf, True, calls)

    def curve(self, features: Mapping[str, float], codec: str) -> list[float]:
        """Predicted VMAF at every integer quality value of the codec's range,
        lowest first (one model call)."""
        entry = lookup_codec(codec)
        low, high = int(entry.quality_min), int(entry.quality_max)
        return self._predict(features, list(range(low, high + 1)), entry)

    def pick_crf_for_clip(
        self,
        clip: str | Path,
        target_vmaf: float,
        codec: str,
        *,
        verify: bool = False,
        config: str | Path | None = None,
        strategy: str = "model",
        tolerance: float = DEFAULT_TOLERANCE,
        max_encodes: int = DEFAULT_MAX_ENCODES,
        output: str | Path | None = None,
        record: str | Path | None = None,
        on_step: Callable[[Step], None] | None = None,
    ) -> ClipPick:
        """:meth:`pick_crf` for a clip: its features measured as the sweep
        measures them (one probe encode, one analysis pass; the sweep's
        settings from ``config``, default the checkout's config.yaml).

        With ``verify``, the search: encode at the pick with the sweep's
        production settings, score with libvmaf, and correct, until a
        measurement lands in ``[target, target + tolerance]``, two
        neighbouring values bracket the target, or ``max_encodes`` encodes
        are scored (1: predict, then verify). The answer (``.crf``,
        ``.measured_vmaf``, ``.met``) is the highest measured value meeting
        the target. ``strategy="crf-search"``: the same loop with ab-av1's
        rule and no model. ``output`` keeps the answer's encode; ``record``
        appends each scored step to a corpus as a sweep row. See
        :mod:`vmaf_predictor.runtime.clip` and :mod:`.search`."""
        from vmaf_predictor.runtime import clip as clips

        lookup_codec(codec)
        inputs.in_range("target_vmaf", target_vmaf, *TARGET_RANGE, "the VMAF scale")
        settings = clips.sweep_settings(config)
        return clips.pick_crf_for_clip(
            self,
            clip,
            target_vmaf,
            codec,
            verify_choice=verify,
            settings=settings,
            strategy=strategy,
            tolerance=tolerance,
            max_encodes=max_encodes,
            output=output,
            record=record,
            on_step=on_step,
        )

    def _predict(
        self, features: Mapping[str, float], crfs: list[float], codec: Codec
    ) -> list[float]:
        if self._session is None:
            (bitrate,) = checked_features(features, ["probe_bitrate_kbps"])
            return [codec.analytical_vmaf(crf, bitrate) for crf in crfs]
        if self.model_codec != codec.name:
            raise ValueError(
                f"{self.model_path} was built for {self.model_codec}, not {codec.name}"
            )
        values = checked_features(features, OTHER_FEATURES)
        rows = [[crf, *values] for crf in crfs]
        vmaf = [float(v) for v in predict(self._session, rows)]
        if not all(math.isfinite(v) for v in vmaf):
            # Never turned into a confident 0 or 100 by the clamp below.
            raise ModelError(
                f"{self.model_path} returned {vmaf} for finite inputs {rows}: "
                "the model is broken; rebuild it with " + BUILD_COMMAND
            )
        return [min(100.0, max(0.0, v)) for v in vmaf]


def quality_value(codec: Codec, crf: object) -> float:
    """``crf`` if it is a finite number in the codec's quality range."""
    return inputs.in_range(
        "crf",
        crf,
        codec.quality_min,
        codec.quality_max,
        f"{codec.name}'s quality range",
    )


def _load(path: Path):
    """An onnxruntime session and the codec of a predictor file, checked."""
    if not path.is_file():
        raise FileNotFoundError(
            f"no model at {path}: build the models with {BUILD_COMMAND}"
        )
    try:
        session = open_session(path)
    except Exception as error:  # onnxruntime raises several unrelated types
        raise ModelError(f"{path} is not a loadable ONNX model: {error}") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    shape_ok = (
        len(inputs) == 1
        and inputs[0].type == "tensor(float)"
        and len(inputs[0].shape) == 2
        and inputs[0].shape[1] == N_FEATURES
    )
    if not shape_ok or [o.name for o in outputs] != [OUTPUT_NAME]:
        found = ", ".join(f"{i.name} {i.type} {i.shape}" for i in inputs)
        raise ModelError(
            f"{path} is not a VMAF predictor: expected one float input [N, "
            f"{N_FEATURES}] and output {OUTPUT_NAME!r}, found inputs {found}"
        )
    graph_name = session.get_modelmeta().graph_name
    codec = graph_name.removeprefix("vmaf_predictor_")
    if graph_name == codec or codec not in codec_registry():
        raise ModelError(f"{path}: graph {graph_name!r} names no known codec")
    return session, codec


def analytical_crf(codec: Codec, bitrate_kbps: float, target_vmaf: float) -> float:
    """The real-valued CRF at which the analytical curve equals the target.

    Solves ``c*D^2 + b*D - (a + d*log10(bitrate) - target) = 0`` for the root
    on the falling side of the curve; used to check :meth:`Predictor.pick_crf`.
    """
    rhs = codec.a + codec.d * math.log10(max(bitrate_kbps, 1.0)) - target_vmaf
    delta = (-codec.b + math.sqrt(codec.b * codec.b + 4 * codec.c * rhs)) / (
        2 * codec.c
    )
    return codec.crf_ref + delta
