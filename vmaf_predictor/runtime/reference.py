"""The reference a clip is scored against: 8-bit 4:2:0, even dimensions,
constant frame rate, written losslessly.

The sweep's probes, encodes and libvmaf scores (and the runtime's
``pick-crf --verify``) assume a clean source: ``yuv420p``, even width and
height, one frame per frame interval. Real files often are not: 10-bit or
4:4:4 or RGB camera files, odd sizes (720x405), variable frame rates
(webcam recordings). :func:`write_reference` decodes such a clip, or a frame
range of it (a shot), into a clip that is clean, and every later step reads
that file instead of the original:

- **pixel format**: converted to ``yuv420p`` by swscale with
  ``accurate_rnd+bitexact+full_chroma_int`` (the same bytes on every CPU). An
  8-bit 4:2:0 source keeps its samples unchanged.
- **odd dimensions**: the last column and/or row is cropped (``crop`` at
  offset 0,0): an exact subset of the decoded samples, where scaling to an
  even size would resample every pixel. A 161x91 clip becomes 160x90.
- **variable frame rate**: every decoded frame is kept, in decode order, none
  dropped or repeated; the timestamps are rewritten to the average rate,
  (frames - 1) / (last - first timestamp), as the nearest fraction whose
  denominator is at most 1000 (exact for the usual time bases; the
  sweep's features and rows see that rate). A constant-rate clip keeps its
  exact rate (a frame interval off the nominal by at most
  :data:`CFR_TOLERANCE_S`, e.g. Matroska's millisecond timestamps of 29.97
  fps, is still constant).
- **downscale** (optional, ``height=``): lanczos, the width in proportion
  to the stored width, rounded to even; only ever smaller, never up. The
  demo uses it to sweep real footage on 2 cores.

Output: ``.y4m`` (raw frames; the default) or ``.mkv`` (FFV1 level 3,
intra-only), both lossless and written bit-exact (no muxer version, no
time of creation), so one source and one set of arguments give the same
bytes every time. y4m is what the sweep uses: it decodes a reference about
3 times per encode (frame count, encode, libvmaf), and measured on a
320x180 and a 720x404 shot of 190 frames y4m decodes in 0.023 / 0.042 s
against FFV1's 0.28 / 1.32 s, for files 2-2.5x larger; its header also
carries any rate exactly, where Matroska's millisecond timestamps cannot
(a 2.269 fps webcam clip reads back as 245/12 fps: the check below refuses
it). The file appears atomically (written beside it under a unique name,
checked, then renamed): a failed or interrupted write leaves nothing under
the final name, and two writers of one reference never collide.

    from vmaf_predictor.runtime import reference
    ref = reference.write_reference(ffmpeg, "cam.mp4", "cam.y4m", start=48, frames=96)
    ref.width, ref.height, ref.fps, ref.frames, ref.changes
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from vmaf_predictor.runtime import ffmpeg as ff

PIX_FMT = "yuv420p"
SUFFIXES = (".y4m", ".mkv")
# Frame intervals within this of the nominal one are a constant rate.
CFR_TOLERANCE_S = 0.001
# A variable rate's average is the nearest fraction with at most this
# denominator: the exact mean for timestamps in milliseconds or 1/25 s (a
# 1.28 s span of 11 intervals is 275/32 fps, as ffmpeg.Decoded.frame_rate
# measures a clip that is not retimed), and a y4m header's F num:den.
RATE_DENOMINATOR = 1000
SWS_FLAGS = "accurate_rnd+bitexact+full_chroma_int"
SCALE_FLAGS = f"lanczos+{SWS_FLAGS}"
_FFV1 = ("-c:v", "ffv1", "-level", "3", "-g", "1")
_Y4M = ("-c:v", "rawvideo", "-f", "yuv4mpegpipe", "-strict", "-1")
_FRAME_LINE = re.compile(r"\] n:\s*(\d+) pts:\s*\S+\s+pts_time:(\S+)")


class ReferenceError(ValueError):
    """A reference that cannot be made as asked (names the clip and why)."""


@dataclass(frozen=True)
class Timing:
    """A clip's first video stream as decoded: stream facts and every
    frame's timestamp (seconds, decode order; None when it has none)."""

    stream: ff.Stream
    pts_time: tuple[float | None, ...]

    @property
    def frames(self) -> int:
        return len(self.pts_time)

    @property
    def cfr(self) -> bool:
        """One frame per nominal interval (within :data:`CFR_TOLERANCE_S`);
        a clip without timestamps, or of one frame, counts as constant."""
        times = self.pts_time
        if len(times) < 2 or any(t is None for t in times):
            return True
        nominal = 1.0 / float(self.stream.fps)
        return all(
            abs((b - a) - nominal) <= CFR_TOLERANCE_S
            for a, b in itertools.pairwise(times)
        )

    @property
    def rate(self) -> Fraction:
        """The reference's frame rate: the stream's exact rate when the
        clip is constant-rate, else the average over its timestamps."""
        if self.cfr:
            return self.stream.fps
        first, last = self.pts_time[0], self.pts_time[-1]
        if last is None or first is None or last <= first:
            return self.stream.fps
        # showinfo prints pts_time in decimals: read them as decimals
        span = Fraction(repr(last)) - Fraction(repr(first))
        average = Fraction(self.frames - 1) / span
        rounded = average.limit_denominator(RATE_DENOMINATOR)
        return rounded if rounded > 0 else self.stream.fps

    @property
    def clean(self) -> bool:
        """Already what the sweep scores against: 8-bit 4:2:0, even size,
        constant rate (then a whole-clip reference would be a copy)."""
        s = self.stream
        return s.pix_fmt == PIX_FMT and s.width % 2 == 0 == s.height % 2 and self.cfr


def timing_to_json(timing: Timing) -> dict[str, Any]:
    """A :class:`Timing` as JSON (the sweep's shots manifest keeps it, so a
    shot's reference is written without decoding the clip once more)."""
    s = timing.stream
    return {
        "width": s.width,
        "height": s.height,
        "pix_fmt": s.pix_fmt,
        "fps": f"{s.fps.numerator}/{s.fps.denominator}",
        "pts_time": list(timing.pts_time),
    }


def timing_from_json(data: Mapping[str, Any]) -> Timing:
    stream = ff.Stream(
        int(data["width"]), int(data["height"]), str(data["pix_fmt"]),
        Fraction(data["fps"]),
    )  # fmt: skip
    times = tuple(None if t is None else float(t) for t in data["pts_time"])
    return Timing(stream, times)


@dataclass(frozen=True)
class Reference:
    """A written reference and what was done to the source to make it."""

    path: Path
    width: int
    height: int
    fps: Fraction
    frames: int
    start: int  # first source frame (decode order)
    changes: tuple[str, ...]  # e.g. "cropped 161x91 to 160x90"; () for none


def inspect(ffmpeg: str, path: str | Path) -> Timing:
    """Stream facts (:func:`ffmpeg.open_clip`) and the timestamp of every
    decoded frame of the first video stream (one decode, ``showinfo`` without
    its per-frame checksums)."""
    stream = ff.open_clip(ffmpeg, path)
    args = [*ff.base(ffmpeg), "-i", str(path), "-map", "0:v:0"]
    done = ff.run([*args, "-vf", "showinfo=checksum=0", "-f", "null", "-"])
    done.check(f"decoding {path}")
    times: list[float | None] = []
    for match in _FRAME_LINE.finditer(done.stderr):
        value = match.group(2)
        times.append(None if value in ("NOPTS", "nan") else float(value))
    if not times:
        raise ff.ClipError(f"{path}: FFmpeg decoded no video frame from it")
    return Timing(stream, tuple(times))


def write_reference(
    ffmpeg: str,
    source: str | Path,
    destination: str | Path,
    *,
    start: int = 0,
    frames: int | None = None,
    height: int | None = None,
    timing: Timing | None = None,
) -> Reference:
    """Decode frames ``start`` .. ``start + frames - 1`` of ``source``
    (decode order; ``frames`` None: to the end) into the clean reference
    ``destination`` (``.y4m`` or ``.mkv``), atomically.

    ``height`` (optional): downscale to that height (even; never up).
    ``timing``: the source's :func:`inspect`, when the caller has it (saves
    a decode). Raises :class:`ReferenceError` for a range outside the clip
    or a bad argument, :class:`ffmpeg.ClipError` for a file that is not
    video, :class:`ffmpeg.FFmpegError` when FFmpeg fails; in each case
    nothing is left at ``destination`` or beside it.
    """
    destination = Path(destination)
    if destination.suffix not in SUFFIXES:
        raise ReferenceError(
            f"{destination}: a reference is {' or '.join(SUFFIXES)}, "
            f"not {destination.suffix or 'a file without suffix'}"
        )
    timing = timing or inspect(ffmpeg, source)
    total = timing.frames
    count = total - start if frames is None else frames
    if start < 0 or count < 1 or start + count > total:
        raise ReferenceError(
            f"{source}: frames {start} to {start + count - 1} asked, the clip "
            f"has {total} (0 to {total - 1})"
        )
    if height is not None and (height < 2 or height % 2):
        raise ReferenceError(f"{source}: height {height} is not an even number >= 2")
    graph, changes, size = _graph(timing, start, count, height)
    rate = timing.rate
    container = _FFV1 if destination.suffix == ".mkv" else _Y4M
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=destination.suffix,
        dir=destination.parent,
    )  # fmt: skip
    os.close(handle)
    partial = Path(name)
    try:
        args = [*ff.base(ffmpeg), "-y", "-i", str(source), "-map", "0:v:0"]
        args += ["-an", "-sn", "-dn", "-vf", graph, "-fps_mode", "cfr"]
        args += ["-r", _rational(rate), *container, *ff.BITEXACT, str(partial)]
        ff.run(args).check(f"writing the reference of {source}")
        os.chmod(partial, 0o644)
        written = ff.open_clip(ffmpeg, partial)
        got = ff.count_frames(ffmpeg, partial)
        facts = (written.width, written.height, written.pix_fmt, written.fps, got)
        if facts != (*size, PIX_FMT, rate, count):
            raise ReferenceError(
                f"{source}: the reference came out {written.width}x"
                f"{written.height} {written.pix_fmt} at {written.fps} fps, "
                f"{got} frames; expected {size[0]}x{size[1]} {PIX_FMT} at "
                f"{rate} fps, {count} frames"
            )
        partial.replace(destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    if not timing.cfr:
        changes.append(
            f"variable frame rate: {count} frames kept, retimed to the "
            f"average {float(rate):g} fps"
        )
    return Reference(destination, *size, rate, count, start, tuple(changes))


def _graph(
    timing: Timing, start: int, count: int, height: int | None
) -> tuple[str, list[str], tuple[int, int]]:
    """The filter graph, what it changes, and the output size."""
    s = timing.stream
    steps, changes = [], []
    if start or count != timing.frames:
        # trim counts decoded frames: exact, whatever the timestamps
        steps.append(f"trim=start_frame={start}:end_frame={start + count}")
    width, tall = s.width - s.width % 2, s.height - s.height % 2
    if (width, tall) != (s.width, s.height):
        steps.append(f"crop={width}:{tall}:0:0")
        changes.append(f"cropped {s.width}x{s.height} to {width}x{tall}")
    if height is not None and height < tall:
        scaled = 2 * round(width * height / tall / 2)
        steps.append(f"scale={scaled}:{height}:flags={SCALE_FLAGS}")
        changes.append(f"scaled {width}x{tall} to {scaled}x{height}")
        width, tall = scaled, height
    else:
        steps.append(f"scale=flags={SCALE_FLAGS}")
    if s.pix_fmt != PIX_FMT:
        changes.append(f"converted {s.pix_fmt} to {PIX_FMT}")
    rate = timing.rate
    # settb + setpts=N: frame n at exactly n / rate
    steps += [
        f"format={PIX_FMT}",
        f"settb={rate.denominator}/{rate.numerator}",
        "setpts=N",
    ]
    return ",".join(steps), changes, (width, tall)


def _rational(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"
