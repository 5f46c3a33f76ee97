"""A production encode scored with libvmaf: one sweep row's measurement, and
what ``pick-crf --verify`` runs to check a prediction.

The encode uses the codec's production settings (config ``sweep.production``)
at one quality value, 8-bit 4:2:0, threads pinned, into Matroska written
bit-exact. The score is libvmaf (``vmaf_v0.6.1``) of the decoded encode
(input 0, "distorted") against the source (input 1, "reference"), both
converted to yuv420p and paired by frame index (``settb=AVTB,setpts=N``:
pairing by timestamp pairs the wrong frames when the containers' time bases
differ), pooled as the mean of the per-frame scores.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmaf_predictor.runtime import ffmpeg as ff
from vmaf_predictor.runtime.encoders import SweepSettings, codec_args

log = logging.getLogger(__name__)


@dataclass
class Scored:
    """One encode and its score. ``exit_status`` is 0, or the non-zero exit
    status of the first step that failed (its reason in ``error``)."""

    exit_status: int = 0
    error: str = ""
    encode_size_bytes: int = 0
    encode_time_ms: int = 0
    frames: int = 0  # frames libvmaf scored
    vmaf_score: float | None = None
    vmaf_frames: list[float] = field(default_factory=list)
    score_time_ms: int = 0
    encoder_version: str = "unknown"
    args: list[str] = field(default_factory=list)  # the encoder's settings
    stderr: str = ""  # FFmpeg's stderr of the failed step (for the log)

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data.pop("stderr")
        return data


def encode_args(codec: str, quality: float, settings: SweepSettings) -> list[str]:
    """The production encode's encoder arguments at ``quality``."""
    return codec_args(codec, settings.production[codec], settings.threads, quality)


def encode_and_score(
    source: str | Path,
    codec: str,
    quality: float,
    settings: SweepSettings,
    expected_frames: int | None = None,
    keep: Path | None = None,
) -> Scored:
    """Encode ``source`` at ``quality`` and score it. A failed step is a
    result (non-zero ``exit_status``), not an exception: one bad encode does
    not stop a sweep.

    An encode that exits 0 but cannot be scored, or (with
    ``expected_frames``, the source's frame count) whose score covers fewer
    frames, is run again, up to :data:`ffmpeg.ATTEMPTS` times: libvvenc
    through FFmpeg 9 now and then writes no packet and exits 0 (libvmaf then
    finds an empty file). The encoders are bit-exact run to run, so a retry
    gives the bytes a first success would; after the last attempt it is a
    failed result. An encoder's own refusal (non-zero exit) is not retried.

    With ``keep`` (a path on the file system of the temporary directory),
    the encode of a successful attempt is moved there (Matroska)."""
    for attempt in range(1, ff.ATTEMPTS + 1):
        result = _encode_and_score_once(source, codec, quality, settings, keep)
        if result.error.startswith("encode failed"):
            break  # the encoder refused: the same every time
        if result.exit_status == 0 and result.frames and expected_frames is None:
            break
        if result.exit_status == 0 and result.frames == expected_frames:
            break
        if result.exit_status == 0:
            result.exit_status = 1
            result.error = (
                f"libvmaf scored {result.frames} frames, the source has "
                f"{expected_frames}"
            )
            result.vmaf_score = None
        result.error += f" (attempt {attempt} of {ff.ATTEMPTS})"
        log.warning("%s %s of %s: %s", codec, quality, source, result.error)
    return result


def _encode_and_score_once(
    source: str | Path,
    codec: str,
    quality: float,
    settings: SweepSettings,
    keep: Path | None = None,
) -> Scored:
    ffmpeg = ff.locate(settings.ffmpeg)
    argv = encode_args(codec, quality, settings)
    result = Scored(args=argv)
    with tempfile.TemporaryDirectory(prefix="vmaf-encode-") as tmp:
        encoded, scores = Path(tmp) / "encode.mkv", Path(tmp) / "vmaf.json"
        args = [*ff.base(ffmpeg), "-y", "-i", str(source), "-map", ff.VIDEO_STREAM]
        args += argv
        done = ff.run([*args, *ff.BITEXACT, str(encoded)])
        result.encode_time_ms = round(done.wall_s * 1000)
        result.encoder_version = ff.encoder_version(codec, done.stderr)
        if done.returncode != 0:
            return _failed(result, done, "encode")
        result.encode_size_bytes = encoded.stat().st_size
        start = time.perf_counter()
        done = ff.run(vmaf_args(ffmpeg, encoded, source, scores, settings))
        result.score_time_ms = round((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            return _failed(result, done, "libvmaf score")
        report = json.loads(scores.read_text(encoding="utf-8"))
        if keep is not None:
            shutil.move(encoded, keep)
    result.vmaf_frames = [f["metrics"]["vmaf"] for f in report["frames"]]
    result.frames = len(result.vmaf_frames)
    if result.frames:
        result.vmaf_score = float(report["pooled_metrics"]["vmaf"]["mean"])
    return result


def _failed(result: Scored, done: ff.Run, step: str) -> Scored:
    result.exit_status = done.returncode
    result.error = f"{step} failed (FFmpeg exit {done.returncode}): {done.reason}"
    result.stderr = done.stderr
    return result


def vmaf_args(
    ffmpeg: str,
    distorted: Path,
    reference: str | Path,
    log: Path,
    settings: SweepSettings,
) -> list[str]:
    """libvmaf of ``distorted`` against ``reference``, frame index aligned."""
    align = "format=yuv420p,settb=AVTB,setpts=N"
    graph = (
        f"[0:v]{align}[dis];[1:v]{align}[ref];[dis][ref]libvmaf="
        f"model=version={settings.vmaf_model}:log_fmt=json:"
        f"log_path={ff.escape_filter_value(str(log))}:"
        f"n_threads={settings.threads}:shortest=1"
    )
    inputs = ["-i", str(distorted), "-i", str(reference)]
    return [*ff.base(ffmpeg), *inputs, "-lavfi", graph, "-f", "null", "-"]
