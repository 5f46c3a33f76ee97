"""Stage 0 (with ``--config sources=...``): the encode + libvmaf sweep, but
for the ladder's encodes (:mod:`s0_encode`).

- ``sweep_check`` (a checkpoint, one job): every clip must decode as video
  in FFmpeg, whole and undamaged (:func:`measure.clip_facts`), or the run
  stops here, before any encode, naming each file and the reason;
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
from pathlib import Path
from typing import Any

from vmaf_predictor.factory.jobs import write_atomic
from vmaf_predictor.names import clip_of
from vmaf_predictor.runtime import ffmpeg as ff
from vmaf_predictor.runtime import measure
from vmaf_predictor.runtime import rows as phase_a
from vmaf_predictor.runtime.encoders import SweepSettings

log = logging.getLogger(__name__)


def _write_json(path: str | Path, data: Any) -> None:
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    write_atomic(path, text.encode("utf-8"))


def _read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


# sweep_check -------------------------------------------------------------------


def run_check(input: Any, output: Any, params: Any, codec: None = None) -> str:
    """Check every clip as the runtime does (:func:`measure.clip_facts`: the
    first frame, then a full decode); stop naming every clip that cannot be
    swept, with the reason (not a video, a still image, frames over the size
    limit, truncated or damaged)."""
    ffmpeg = ff.locate(params.sweep.get("ffmpeg"))
    clips, problems = [], []
    for name, path in params.sources:
        try:
            clip = measure.clip_facts(ffmpeg, path)
        except ff.ClipError as error:
            problems.append(str(error))
            continue
        clips.append({"name": name, **measure.to_json(clip)})
    if problems:
        raise ff.ClipError(
            f"{len(problems)} of {len(params.sources)} clips cannot be swept; "
            "nothing was encoded:\n  " + "\n  ".join(problems)
        )
    manifest = {"ffmpeg_version": ff.ffmpeg_version(ffmpeg), "clips": clips}
    _write_json(output.manifest, manifest)
    return f"{len(clips)} clips decode as video in FFmpeg {manifest['ffmpeg_version']}"


# sweep_clip --------------------------------------------------------------------


def run_clip(input: Any, output: Any, params: Any, codec: None = None) -> str:
    """A clip's stream facts, frame count, sha256 and window signalstats."""
    settings = SweepSettings.from_params(params.sweep)
    ffmpeg = ff.locate(settings.ffmpeg)
    clip = measure.clip_facts(ffmpeg, input.clip)
    window = clip.window(settings.probe_max_frames)
    analysis = measure.analyse(ffmpeg, input.clip, window)
    info = phase_a.clip_info(phase_a.sha256_file(input.clip), clip, window, analysis)
    _write_json(output.info, info)
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
    settings = SweepSettings.from_params(params.sweep)
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


def content_digest(rows: list[dict[str, Any]]) -> str:
    """sha256 of the rows without their timing fields, one canonical JSON
    line each: equal for reruns of the same clips and settings."""
    digest = hashlib.sha256()
    for r in rows:
        kept = {k: v for k, v in r.items() if k not in phase_a.TIMING_KEYS}
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
            phase_a.row(
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
