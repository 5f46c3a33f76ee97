"""Stage 0 (with ``--config sources=...``): each clip of the sweep into
shots (``sweep_shots``, per clip), every shot one sweep source, and the list
of every clip's shots (``sweep_sources``, the checkpoint after which
Snakemake plans each source's jobs).

The job decodes the clip twice (its frame timestamps, then FFmpeg's scene
scores), cuts it (:func:`vmaf_predictor.runtime.shots.split`, config
``shots``) and writes ``results/sweep/shots/<clip>.json``: the clip's stream
facts and timestamps, and each shot's source name
(:func:`vmaf_predictor.names.shot_name`), first frame, frame count, why it
starts there (the clip's start, a cut with its score, or the maximum
length), and whether it is swept from a reference of its own
(``sweep_reference``) or from the clip file itself: a clip that is one
shot and already clean (8-bit 4:2:0, even size, constant rate) is swept as
it is, so its rows are exactly those of a sweep without shots.
"""

from __future__ import annotations

import json
from typing import Any

from vmaf_predictor.factory.jobs import write_atomic
from vmaf_predictor.runtime import ffmpeg as ff
from vmaf_predictor.runtime import reference, shots


def plan(clip: str, timing: reference.Timing, found: list[shots.Shot]) -> list[dict]:
    """The manifest's shot entries (:func:`shots.sources`)."""
    return [
        {
            "src": source.src,
            "start": source.shot.start,
            "frames": source.shot.frames,
            "starts_at": source.shot.starts_at,
            "reference": source.own_reference,
        }
        for source in shots.sources(clip, timing, found)
    ]


def run(input: Any, output: Any, params: Any, codec: None = None) -> str:
    """Stage entry point of ``sweep_shots``."""
    ffmpeg = ff.locate(params.sweep.get("ffmpeg"))
    settings = shots.ShotSettings(
        threshold=float(params.shots["threshold"]),
        min_frames=int(params.shots["min_frames"]),
        max_frames=int(params.shots["max_frames"]),
    )
    timing = reference.inspect(ffmpeg, input.clip)
    found, scores = shots.find_shots(ffmpeg, input.clip, settings)
    if len(scores) != timing.frames:
        raise ff.ClipError(
            f"{input.clip}: {len(scores)} frames scored for scene cuts, "
            f"{timing.frames} decoded"
        )
    entries = plan(params.clip, timing, found)
    for entry in entries:
        entry["score"] = round(scores[entry["start"]], 4)
    manifest = {
        "clip": params.clip,
        "frames": timing.frames,
        "clean": timing.clean,
        "cfr": timing.cfr,
        "rate": f"{timing.rate.numerator}/{timing.rate.denominator}",
        "timing": reference.timing_to_json(timing),
        "shots": entries,
    }
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    write_atomic(output.shots, text.encode("utf-8"))
    cuts = [e["start"] for e in entries if e["starts_at"] == shots.CUT]
    pieces = sum(e["starts_at"] == shots.LENGTH for e in entries)
    whole = "" if entries[0]["reference"] else ", swept from the clip file itself"
    return (
        f"{input.clip}: {timing.frames} frames, {len(entries)} shot(s): cuts at "
        f"frames {cuts or 'none'}, {pieces} more at the maximum length{whole}"
    )


def run_sources(input: Any, output: Any, params: Any, codec: None = None) -> str:
    """Stage entry point of ``sweep_sources``: every clip's shot entries,
    in sources order (``results/sweep/sources.json``)."""
    clips = {}
    for clip, path in zip(params.clips, input.shots, strict=True):
        with open(path, encoding="utf-8") as handle:
            clips[clip] = json.load(handle)["shots"]
    text = json.dumps({"clips": clips}, indent=1, sort_keys=True) + "\n"
    write_atomic(output.sources, text.encode("utf-8"))
    count = sum(len(entries) for entries in clips.values())
    return f"{count} sources (shots) from {len(clips)} clips"
