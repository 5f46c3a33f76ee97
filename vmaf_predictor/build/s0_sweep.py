"""Stage 0 (with ``--config sources=...``): the encode + libvmaf sweep, but
for the ladder's encodes (:mod:`s0_encode`).

- ``sweep_check`` (a checkpoint, one job): every clip must open as video in
  FFmpeg, or the run stops here, before any encode, naming each file and
  FFmpeg's reason;
- ``sweep_shots`` (per clip, :mod:`s0_shots`) cuts it into shots and
  ``sweep_reference`` (per shot, :mod:`s0_reference`) writes a shot's clean
  reference; each shot is one source, swept by the steps below;
- ``sweep_clip`` (per source): stream facts, frame count, sha256 and the
  signalstats of the analysis window;
- ``sweep_probe`` (per source and codec): the codec's probe encode;
- ``sweep_gather`` (one job): one Phase A schema-v3 row per source, codec and
  quality value, in a fixed order, into ``results/sweep/corpus.jsonl``: the
  canonical keys from the encode and the clip, and the 13 measured features
  computed by :func:`vmaf_predictor.runtime.measure.features`, the function
  the runtime uses.

Each job's output holds measurements, not features, so a feature's
definition lives in one place. A row's ``src`` names the shot
(:func:`vmaf_predictor.names.shot_name`), its ``src_sha256`` is the sha256
of the file the shot is swept from. Apart from ``encode_time_ms`` and
``score_time_ms``, a row depends only on the clips and the settings (the
encoders were measured bit-exact at pinned threads; README "The sweep").
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from vmaf_predictor.build.jobs import write_atomic
from vmaf_predictor.names import clip_of
from vmaf_predictor.runtime import ffmpeg as ff
from vmaf_predictor.runtime import measure
from vmaf_predictor.runtime.encoders import SweepSettings

log = logging.getLogger(__name__)
SCHEMA_VERSION = 3
CLIP_MODE = "full"  # every row encodes and scores the whole clip
# Timing fields: left out of the rows' content digest (they differ run to run).
TIMING_KEYS = ("encode_time_ms", "score_time_ms")
# The option whose value is a row's preset, per encoder argument list.
PRESET_OPTIONS = ("-preset", "-cpu-used")


def settings_from(params: Mapping[str, Any]) -> SweepSettings:
    """The :class:`SweepSettings` of a job from the part of the sweep's
    settings it was given as params (only what decides its bytes)."""
    return SweepSettings(
        ffmpeg=params.get("ffmpeg"),
        threads=int(params.get("threads", 1)),
        probe_max_frames=int(params.get("probe_max_frames", 1)),
        vmaf_model=str(params.get("vmaf_model", "")),
        probe={c: tuple(a) for c, a in params.get("probe", {}).items()},
        production={c: tuple(a) for c, a in params.get("production", {}).items()},
    )


def _write_json(path: str | Path, data: Any) -> None:
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    write_atomic(path, text.encode("utf-8"))


def _read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


# sweep_check -------------------------------------------------------------------


def run_check(input: Any, output: Any, params: Any, codec: None = None) -> str:
    """Open every clip (one decoded frame each); stop naming every clip that
    FFmpeg cannot open, with FFmpeg's reason."""
    ffmpeg = ff.locate(params.sweep.get("ffmpeg"))
    clips, problems = [], []
    for name, path in params.sources:
        try:
            stream = ff.open_clip(ffmpeg, path)
        except ff.ClipError as error:
            problems.append(str(error))
            continue
        clips.append(
            {
                "name": name,
                "width": stream.width,
                "height": stream.height,
                "pix_fmt": stream.pix_fmt,
                "fps": str(stream.fps),
            }
        )
    if problems:
        raise ff.ClipError(
            f"{len(problems)} of {len(params.sources)} clips cannot be swept; "
            "nothing was encoded:\n  " + "\n  ".join(problems)
        )
    manifest = {"ffmpeg_version": ff.ffmpeg_version(ffmpeg), "clips": clips}
    _write_json(output.manifest, manifest)
    return f"{len(clips)} clips open as video in FFmpeg {manifest['ffmpeg_version']}"


# sweep_clip --------------------------------------------------------------------


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_clip(input: Any, output: Any, params: Any, codec: None = None) -> str:
    """A clip's stream facts, frame count, sha256 and window signalstats."""
    settings = settings_from(params.sweep)
    ffmpeg = ff.locate(settings.ffmpeg)
    clip = measure.clip_facts(ffmpeg, input.clip)
    window = clip.window(settings.probe_max_frames)
    analysis = measure.analyse(ffmpeg, input.clip, window)
    _write_json(
        output.info,
        {
            "sha256": sha256_file(input.clip),
            "clip": measure.to_json(clip),
            "window": window,
            "analysis": measure.to_json(analysis),
        },
    )
    return (
        f"{input.clip}: {clip.width}x{clip.height} {clip.pix_fmt} at "
        f"{clip.fps} fps, {clip.frames} frames (window {window})"
    )


# sweep_probe -------------------------------------------------------------------


def run_probe(input: Any, output: Any, params: Any, codec: str) -> str:
    """The codec's probe encode of the clip's window. A probe FFmpeg fails
    (the encoder refuses the clip or the settings) is written down: its rows
    carry its exit status. One that keeps exiting 0 with too few packets
    (:func:`measure.probe` retries) fails the job: the next run retries it."""
    settings = settings_from(params.sweep)
    ffmpeg = ff.locate(settings.ffmpeg)
    window = _read_json(input.info)["window"]
    try:
        probe = measure.probe(ffmpeg, input.clip, codec, settings, window)
    except ff.FFmpegError as error:
        log.warning("%s", error)
        _write_json(
            output.probe, {"exit_status": error.returncode, "error": str(error)}
        )
        return f"{codec} probe of {input.clip} failed: {error}"
    _write_json(output.probe, {"exit_status": 0, **measure.to_json(probe)})
    counts = Counter(probe.types)
    return (
        f"{codec} probe of {input.clip}: {window} frames, {sum(probe.sizes)} bytes, "
        f"types {dict(sorted(counts.items()))}"
    )


# sweep_gather ------------------------------------------------------------------


def _preset_and_extra(codec: str, args: list[str]) -> tuple[str, str]:
    """A row's ``preset`` (the value of -preset or -cpu-used) and
    ``extra_params`` (the other encoder options, without codec and quality)."""
    from vmaf_predictor.runtime.encoders import ENCODERS

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
    preset, extra = _preset_and_extra(codec, encoded["args"])
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


def content_digest(rows: list[dict[str, Any]]) -> str:
    """sha256 of the rows without their timing fields, one canonical JSON
    line each: equal for reruns of the same clips and settings."""
    digest = hashlib.sha256()
    for r in rows:
        kept = {k: v for k, v in r.items() if k not in TIMING_KEYS}
        digest.update((json.dumps(kept, sort_keys=True) + "\n").encode("utf-8"))
    return digest.hexdigest()


def run_gather(input: Any, output: Any, params: Any, codec: None = None) -> str:
    """Every row, in the order of ``params.plan`` (sources, i.e. shots, in
    clip order then frame order; codecs in sweep_codecs order, quality values
    ascending), one JSON line each (keys sorted), and a summary with the
    rows' content digest. ``params.clips`` are the sources."""
    manifest = _read_json(input.manifest)
    meta = {
        "vmaf_model": params.vmaf_model,
        "ffmpeg_version": manifest["ffmpeg_version"],
    }
    infos = dict(zip(params.clips, input.infos, strict=True))
    probes = dict(zip(map(tuple, params.probes), input.probes, strict=True))
    rows, loaded = [], {}

    def cached(path: str) -> Any:
        if path not in loaded:
            loaded[path] = _read_json(path)
        return loaded[path]

    for (name, codec, quality), encoded in zip(params.plan, input.encodes, strict=True):
        rows.append(
            row(
                name,
                cached(infos[name]),
                cached(probes[(name, codec)]),
                _read_json(encoded),
                codec,
                quality,
                meta,
            )
        )
    lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    write_atomic(output.corpus, lines.encode("utf-8"))
    failed = [r for r in rows if r["exit_status"] != 0]
    for r in failed:
        log.warning(
            "%s %s %s: exit %s: %s",
            r["src"],
            r["encoder"],
            r["crf"],
            r["exit_status"],
            r.get("error"),
        )
    summary = {
        "rows": len(rows),
        "failed": len(failed),
        "clips": len({clip_of(src) for src in params.clips}),
        "sources": len(params.clips),
        "rows_per_codec": dict(Counter(r["encoder"] for r in rows)),
        "content_sha256": content_digest(rows),
        "ffmpeg_version": manifest["ffmpeg_version"],
    }
    _write_json(output.summary, summary)
    return (
        f"{len(rows)} rows ({len(failed)} failed) from {summary['sources']} "
        f"sources ({summary['clips']} clips) into {output.corpus}; "
        f"content sha256 {summary['content_sha256']}"
    )
