"""A clip in, a quality value out: measure the clip's features exactly as the
sweep does (:mod:`measure`, same code, same settings), pick the highest
quality value predicted to meet a target, and, with ``verify``, search from
that pick on real encodes scored by libvmaf until the answer is measured
(:mod:`search`: predict, verify, correct).

    from vmaf_predictor.runtime.predictor import Predictor

    predictor = Predictor("model/predictor_libx264.onnx")
    pick = predictor.pick_crf_for_clip("shot.mkv", target_vmaf=93, codec="libx264",
                                       verify=True, max_encodes=4, tolerance=1.0)
    pick.crf, pick.measured_vmaf, pick.met, pick.search.encodes

With ``verify``, ``output`` keeps the answer's encode (no extra encode:
Matroska as encoded, or remuxed into the container its suffix names), and
``record`` appends every scored step to a Phase A JSONL corpus as the row
the sweep would have written (:mod:`rows`).

The settings (FFmpeg, probe and production encoder settings, thread count,
analysis window) are the sweep's: the checkout's config.yaml with the
schema's defaults, or another config file given as ``config``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmaf_predictor import config_file, names
from vmaf_predictor.runtime import encode, measure, reference, rows, search
from vmaf_predictor.runtime import ffmpeg as ff
from vmaf_predictor.runtime.encoders import (
    SOFTWARE_CODECS,
    SweepSettings,
    hardware_problem,
)
from vmaf_predictor.runtime.inputs import InputError

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
    settings = settings or sweep_settings()
    with clean_source(ff.locate(settings.ffmpeg), clip) as source:
        return measure.measure(source, codec, settings)[0]


@contextlib.contextmanager
def clean_source(ffmpeg: str, clip: str | Path) -> Iterator[Path]:
    """What the sweep would measure, encode and score for this clip as one
    shot: the clip itself when it is clean (8-bit 4:2:0, even size, constant
    rate), else its clean reference (:mod:`reference`: 10-bit converted to
    8-bit levels, an odd row or column cropped, a variable rate retimed to
    its mean with every frame kept), in a temporary directory removed
    afterwards."""
    timing = reference.inspect(ffmpeg, clip)
    if timing.clean:
        yield Path(clip)
        return
    with tempfile.TemporaryDirectory(prefix="vmaf-reference-") as tmp:
        made = reference.write_reference(
            ffmpeg, clip, Path(tmp) / "reference.y4m", timing=timing
        )
        yield made.path


def check_codec(codec: str) -> None:
    """ValueError unless ``codec`` is one of the five swept encoders."""
    if codec not in SOFTWARE_CODECS:
        raise ValueError(f"cannot measure a clip: {hardware_problem(codec)}")


class SearchError(RuntimeError):
    """An encode or a score of the search failed (names the step)."""


@dataclass(frozen=True)
class ClipPick:
    """What :meth:`Predictor.pick_crf_for_clip` returns: the prediction
    (``choice``; None for the crf-search strategy, which has no model) and,
    with ``verify``, the search (``search``) whose answer is measured."""

    clip: str
    codec: str
    target_vmaf: float
    choice: CrfChoice | None
    features: dict[str, float] | None
    model: dict[str, str | None]  # path (None: the analytical curve), corpus
    strategy: str = "model"
    search: search.Found | None = None
    output: str | None = None

    @property
    def crf(self) -> int:
        """The answer: the search's when there is one, else the prediction's."""
        return self.search.crf if self.search else self.choice.crf

    @property
    def met(self) -> bool:
        return self.search.met if self.search else self.choice.met

    @property
    def measured_vmaf(self) -> float | None:
        return self.search.measured_vmaf if self.search else None

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "clip": self.clip,
            "codec": self.codec,
            "target_vmaf": self.target_vmaf,
            "strategy": self.strategy,
        }
        if self.search is None:
            result.update(asdict(self.choice))
        else:
            first = self.search.steps[0].predicted_vmaf
            result.update(self.search.to_json())
            result["predicted_vmaf"] = first
            result["output"] = self.output
        result["model"] = self.model
        result["features"] = self.features
        return result


def model_info(predictor: Predictor | None) -> dict[str, str | None]:
    """The model's path and the corpus it was built from (its directory's
    PROVENANCE.json), the analytical curve, or none (crf-search)."""
    if predictor is None:
        return {"path": None, "corpus": "none (crf-search: no model)"}
    path = predictor.model_path
    if path is None:
        return {"path": None, "corpus": "analytical curve"}
    provenance = path.parent / "PROVENANCE.json"
    corpus = "unknown (no PROVENANCE.json beside the model)"
    if provenance.is_file():
        entry = json.loads(provenance.read_text(encoding="utf-8")).get(path.name)
        corpus = entry["corpus"] if entry else "unknown (not in PROVENANCE.json)"
    return {"path": str(path), "corpus": corpus}


def check_search(
    strategy: str,
    tolerance: float,
    max_encodes: int,
    output: str | Path | None,
    record: str | Path | None,
) -> None:
    """Every search argument in its domain (InputError names it), checked
    before anything is measured."""
    if strategy not in search.STRATEGIES:
        raise InputError("strategy", strategy, f"one of {', '.join(search.STRATEGIES)}")
    if isinstance(tolerance, bool) or not (
        isinstance(tolerance, int | float) and math.isfinite(tolerance)
    ):
        raise InputError("tolerance", tolerance, "a finite number of VMAF points >= 0")
    if tolerance < 0:
        raise InputError("tolerance", tolerance, "a finite number of VMAF points >= 0")
    if isinstance(max_encodes, bool) or not isinstance(max_encodes, int):
        raise InputError("max_encodes", max_encodes, "a whole number >= 1")
    if max_encodes < 1:
        raise InputError("max_encodes", max_encodes, "a whole number >= 1")
    for argument, path in (("output", output), ("record", record)):
        if path is None:
            continue
        path = Path(path)
        folder = path.parent if str(path.parent) else Path(".")
        if path.is_dir():
            raise InputError(argument, str(path), "a file path, not a directory")
        if not folder.is_dir():
            raise InputError(
                argument,
                str(path),
                f"a path in an existing directory ({folder} is not one)",
            )
        target = path if path.exists() else folder
        if not os.access(target, os.W_OK):
            raise InputError(
                argument, str(path), f"a writable path ({target} is not writable)"
            )


def pick_crf_for_clip(
    predictor: Predictor,
    clip: str | Path,
    target_vmaf: float,
    codec: str,
    *,
    verify_choice: bool = False,
    settings: SweepSettings | None = None,
    strategy: str = "model",
    tolerance: float = search.DEFAULT_TOLERANCE,
    max_encodes: int = search.DEFAULT_MAX_ENCODES,
    output: str | Path | None = None,
    record: str | Path | None = None,
    on_step: Callable[[search.Step], None] | None = None,
) -> ClipPick:
    """Measure ``clip`` (one probe, one analysis pass) and pick the highest
    quality value predicted to meet ``target_vmaf``; with ``verify_choice``,
    search from it on measured encodes (:func:`search.run_search`).

    ``strategy="crf-search"`` runs ab-av1's rule with no model (and no probe
    unless ``record`` needs the features). ``on_step`` is called with each
    scored step as it is measured."""
    check_codec(codec)
    check_search(strategy, tolerance, max_encodes, output, record)
    if not verify_choice and (output is not None or record is not None):
        raise InputError(
            "output" if output is not None else "record",
            str(output if output is not None else record),
            "a search to keep or record (give verify / --verify too)",
        )
    if not verify_choice and strategy != "model":
        raise InputError("strategy", strategy, "model, unless the search runs (verify)")
    settings = settings or sweep_settings()
    ffmpeg = ff.locate(settings.ffmpeg)
    with clean_source(ffmpeg, clip) as source:
        return _pick(
            predictor, clip, source, target_vmaf, codec, settings, ffmpeg,
            verify_choice, strategy, tolerance, max_encodes, output, record, on_step,
        )  # fmt: skip


def _pick(
    predictor: Predictor,
    clip: str | Path,
    source: Path,
    target_vmaf: float,
    codec: str,
    settings: SweepSettings,
    ffmpeg: str,
    verify_choice: bool,
    strategy: str,
    tolerance: float,
    max_encodes: int,
    output: str | Path | None,
    record: str | Path | None,
    on_step: Callable[[search.Step], None] | None,
) -> ClipPick:
    """:func:`pick_crf_for_clip` on the clip's clean ``source``."""
    entry = _registry_entry(codec)
    features = measured = choice = curve = None
    if strategy == "model" or record is not None:
        features, measured = measure.measure(source, codec, settings)
        facts = measured.clip
    else:
        facts = measure.clip_facts(ffmpeg, source)
    uses_model = strategy == "model"
    if uses_model:
        choice = predictor.pick_crf(features, target_vmaf, codec)
    info = model_info(predictor if uses_model else None)
    if not verify_choice:
        return ClipPick(str(clip), codec, target_vmaf, choice, features, info)
    low, high = int(entry.quality_min), int(entry.quality_max)
    problem = search.Problem(
        target=float(target_vmaf),
        tolerance=float(tolerance),
        low=low,
        high=high,
        max_encodes=max_encodes,
        prior_slope=search.prior_slope(codec, entry.b),
    )
    if uses_model:
        curve = predictor.curve(features, codec)
        first = choice.crf
    else:
        first = search.crf_search_first(problem)
    recorder = _Recorder(record, clip, source, codec, settings, ffmpeg, measured)
    with tempfile.TemporaryDirectory(prefix="vmaf-search-") as tmp:

        def measure_at(q: int) -> search.Step:
            keep = Path(tmp) / f"{q}.mkv"
            scored = encode.encode_and_score(
                source, codec, q, settings, facts.frames, keep=keep
            )
            if scored.exit_status != 0:
                raise SearchError(
                    f"{clip}: {codec} encode at {q} could not be scored: {scored.error}"
                )
            recorder.append(scored, q)
            predicted = curve[q - low] if curve is not None else None
            return step_of(scored, q, facts, predicted)

        found = search.run_search(problem, measure_at, first, curve, on_step)
        kept = None
        if output is not None:
            kept = str(
                keep_encode(ffmpeg, Path(tmp) / f"{found.crf}.mkv", Path(output))
            )
    return ClipPick(
        str(clip), codec, target_vmaf, choice, features, info, strategy, found, kept
    )


def _registry_entry(codec: str):
    from vmaf_predictor.runtime.predictor import lookup_codec

    return lookup_codec(codec)


def step_of(
    scored: encode.Scored, q: int, facts: measure.Clip, predicted: float | None
) -> search.Step:
    """A search step from a scored encode (bitrate as the sweep's rows)."""
    seconds = Fraction(facts.frames) / facts.fps
    kbps = Fraction(scored.encode_size_bytes * 8, 1000) / seconds
    return search.Step(
        crf=q,
        predicted_vmaf=predicted,
        measured_vmaf=float(scored.vmaf_score),
        encode_size_bytes=scored.encode_size_bytes,
        bitrate_kbps=round(float(kbps), 3),
        encode_time_ms=scored.encode_time_ms,
        score_time_ms=scored.score_time_ms,
    )


def keep_encode(ffmpeg: str, encoded: Path, output: Path) -> Path:
    """The answer's encode at ``output``, whole or not at all: Matroska is
    moved there; another suffix gets the stream remuxed (``-c copy``, no
    re-encode). Written beside ``output`` first, then renamed."""
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial{output.suffix}")
    try:
        if output.suffix.lower() == ".mkv":
            shutil.copyfile(encoded, partial)
        else:
            args = [*ff.base(ffmpeg), "-y", "-i", str(encoded), "-map", "0:v:0"]
            args += ["-c", "copy", *ff.BITEXACT, str(partial)]
            ff.run(args).check(f"remuxing the answer's encode into {output}")
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return output


class _Recorder:
    """Appends each scored step to a corpus as the sweep's row (one locked
    write per line, so concurrent searches never interleave lines)."""

    def __init__(
        self,
        path: str | Path | None,
        clip: str | Path,
        source: Path,
        codec: str,
        settings: SweepSettings,
        ffmpeg: str,
        measured: measure.Measurements | None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        if self.path is None:
            return
        self.codec = codec
        self.name = names.clip_name(Path(Path(clip).name))
        window = measured.clip.window(settings.probe_max_frames)
        sha = rows.sha256_file(source)  # as the sweep: the shot's reference
        self.info = rows.clip_info(sha, measured.clip, window, measured.analysis)
        self.probe = {"exit_status": 0, **measure.to_json(measured.probe)}
        self.meta = {
            "vmaf_model": settings.vmaf_model,
            "ffmpeg_version": ff.ffmpeg_version(ffmpeg),
        }

    def append(self, scored: encode.Scored, q: int) -> None:
        if self.path is None:
            return
        row = rows.row(
            self.name, self.info, self.probe, scored.to_json(), self.codec, q, self.meta
        )
        line = (json.dumps(row, sort_keys=True) + "\n").encode("utf-8")
        with open(self.path, "ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
