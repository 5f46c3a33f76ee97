"""FFmpeg as this project runs it: which binary, argument lists (never a
shell), FFmpeg's reason when it fails, the stream facts of a clip, versions.

The binary is the static FFmpeg of the ``imageio-ffmpeg`` package pinned in
the lock (it has libvmaf and the five software encoders), or, when a path or
command name is configured (``ffmpeg: {path: ...}`` in config.yaml), that
one. File names only ever travel as single arguments; the one place a path
goes inside a filter graph, :func:`escape_filter_value` escapes it for both
of FFmpeg's escaping levels.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

# How many times an encode that exits 0 with too few frames is run (libvvenc
# through FFmpeg 9 now and then writes no packet at all and exits 0).
ATTEMPTS = 5
# Reproducible files: no muxer version or creation time, no random UIDs.
BITEXACT = ("-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1")


class FFmpegError(RuntimeError):
    """FFmpeg failed: the exit status and its reason (last stderr line)."""

    def __init__(self, what: str, returncode: int, reason: str) -> None:
        super().__init__(f"{what}: FFmpeg exit {returncode}: {reason}")
        self.returncode = returncode
        self.reason = reason


class ClipError(ValueError):
    """A clip FFmpeg cannot open as video (names the file and the reason)."""


@cache
def locate(configured: str | None = None) -> str:
    """The FFmpeg binary: ``configured`` (a path, or a command on PATH), or
    the static build of the pinned imageio-ffmpeg."""
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise FileNotFoundError(
                f"config key ffmpeg.path: {configured!r} is not an executable "
                "file nor a command on PATH"
            )
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        raise FileNotFoundError(
            "no FFmpeg: install the pinned imageio-ffmpeg (make all_stubs does), "
            "or set ffmpeg.path in config.yaml"
        ) from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def base(ffmpeg: str) -> list[str]:
    """The start of every command: no banner, no stdin, no progress lines."""
    return [ffmpeg, "-hide_banner", "-nostdin", "-nostats"]


@dataclass(frozen=True)
class Run:
    """A finished FFmpeg command."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    wall_s: float

    @property
    def reason(self) -> str:
        """FFmpeg's reason for a failure: its last non-empty stderr line."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def check(self, what: str) -> Run:
        if self.returncode != 0:
            raise FFmpegError(what, self.returncode, self.reason)
        return self


def run(args: list[str]) -> Run:
    """Run an argument list (no shell); output captured as text."""
    start = time.perf_counter()
    done = subprocess.run(
        args, capture_output=True, text=True, encoding="utf-8", errors="replace"
    )
    wall = time.perf_counter() - start
    return Run(list(args), done.returncode, done.stdout, done.stderr, wall)


def escape_filter_value(value: str) -> str:
    """A string (a file path) as a filter option value inside a filter graph
    given as one argument: escaped for the option level, then the graph level.
    (Verified with a directory named ``a:b,c;d[e]f'g\\h sp``.)"""
    value = "".join("\\" + c if c in "\\:'" else c for c in value)
    return "".join("\\" + c if c in "\\',;[]" else c for c in value)


def parse_progress(text: str) -> dict[str, str]:
    """The last block of ``-progress`` output (the one ending progress=end)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        current[key.strip()] = value.strip()
        if key.strip() == "progress":
            blocks.append(current)
            current = {}
    return blocks[-1] if blocks else current


# Stream facts -----------------------------------------------------------------

_CONFIG_LINE = re.compile(r"config in time_base: (\d+)/(\d+), frame_rate: (\d+)/(\d+)")
_FIRST_FRAME = re.compile(r"n:\s*0 .*?fmt:(\S+) .*?s:(\d+)x(\d+)")


@dataclass(frozen=True)
class Stream:
    """What one decoded frame says about a clip's video stream."""

    width: int
    height: int
    pix_fmt: str
    fps: Fraction  # exact, from the filter graph's frame rate


def open_clip(ffmpeg: str, path: str | Path) -> Stream:
    """Decode the first frame of ``path``'s first video stream.

    :class:`ClipError` naming the file and FFmpeg's reason when it is not a
    video FFmpeg can decode (also when FFmpeg exits 0 without a frame, as it
    does for a y4m header without a whole frame).
    """
    args = [*base(ffmpeg), "-i", str(path), "-map", "0:v:0", "-frames:v", "1"]
    done = run([*args, "-vf", "showinfo", "-f", "null", "-"])
    if done.returncode != 0:
        raise ClipError(
            f"{path}: FFmpeg cannot open it as video (exit {done.returncode}): "
            f"{done.reason}"
        )
    config, frame = _CONFIG_LINE.search(done.stderr), _FIRST_FRAME.search(done.stderr)
    if config is None or frame is None:
        raise ClipError(f"{path}: FFmpeg decoded no video frame from it")
    fps = Fraction(int(config.group(3)), int(config.group(4)))
    if fps <= 0:
        raise ClipError(f"{path}: no frame rate (FFmpeg reports {fps})")
    return Stream(int(frame.group(2)), int(frame.group(3)), frame.group(1), fps)


def count_frames(ffmpeg: str, path: str | Path) -> int:
    """The number of frames a full decode of the first video stream gives."""
    args = [*base(ffmpeg), "-i", str(path), "-map", "0:v:0", "-f", "null"]
    done = run([*args, "-progress", "pipe:1", "-"]).check(f"decoding {path}")
    return int(parse_progress(done.stdout).get("frame", "0"))


# Versions ---------------------------------------------------------------------

# Each encoder names its version on stderr when it opens (x264 writes its
# version string only when its headers are written: into a file, not -f null).
ENCODER_VERSION = {
    "libx264": re.compile(r"264 - (core \d+(?: r\d+ \w+)?)"),
    "libx265": re.compile(r"HEVC encoder version (\S+)"),
    "libsvtav1": re.compile(r"SVT-AV1 Encoder Lib (\S+)"),
    "libaom-av1": re.compile(r"\[libaom-av1 @ [^\]]+\] (v\S+)"),
    "libvvenc": re.compile(r"libvvenc version: (\S+)"),
}


@cache
def ffmpeg_version(ffmpeg: str) -> str:
    """``n9.0.2-...`` from ``ffmpeg -version``."""
    done = run([ffmpeg, "-hide_banner", "-version"]).check("ffmpeg -version")
    match = re.match(r"ffmpeg version (\S+)", done.stdout)
    return match.group(1) if match else "unknown"


def encoder_version(codec: str, stderr: str) -> str:
    """The encoder library's version, read from an encode's stderr."""
    pattern = ENCODER_VERSION.get(codec)
    match = pattern.search(stderr) if pattern else None
    return match.group(1) if match else "unknown"
