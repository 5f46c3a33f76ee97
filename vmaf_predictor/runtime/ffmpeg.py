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

import itertools
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

# What every pass over a clip reads: its first video stream that is a picture
# sequence (FFmpeg's "V"; "v" also selects cover art, the one "video" stream
# of an audio file with a picture).
VIDEO_STREAM = "0:V:0"
# The largest frame a clip may have: the largest picture the top level of
# H.264 (6.2: 139,264 macroblocks), HEVC (6.2: MaxLumaPs) and AV1 (6.x:
# MaxPicSize) allows, 35,651,584 pixels (8192x4352), and no side over AV1's
# 16384 (H.264 and HEVC allow 16,888). A bigger frame has no conforming
# stream in these codecs. A header that claims more is refused before FFmpeg
# allocates a frame (its decoders' max_pixels): a few kB of Matroska can
# claim 12288x12288, and every pass would decode gigabytes of it.
MAX_PIXELS = 8192 * 4352
MAX_SIDE = 16384
# FFmpeg's demuxers of a single image (png_pipe, jpeg_pipe, ..., image2): the
# frame rate they report is FFmpeg's default, not the file's.
_IMAGE_DEMUXER = re.compile(r"image2(?:pipe)?|\w+_pipe")
_LEVELS = "quiet|panic|fatal|error|warning|info|verbose|debug|trace"
# A line of stderr at -loglevel level+...: contexts, [level], the message.
_LEVELLED = re.compile(rf"^((?:\[[^\]]* @ [^\]]*\] )*)\[({_LEVELS})\] (.*)$")
_SHOWINFO = r"^\[Parsed_showinfo_\d+ @ [^\]]+\] \[info\] "
_CONFIG_LINE = re.compile(
    _SHOWINFO + r"config in time_base: (\d+)/(\d+), frame_rate: (\d+)/(\d+)", re.M
)
_FIRST_FRAME = re.compile(_SHOWINFO + r"n:\s*0 .*?fmt:(\S+) .*?s:(\d+)x(\d+)", re.M)
_STREAM_LINE = re.compile(r"^\s+Stream #0:\d+\S*: (\w+): (.*)$")
_STREAM_SIZE = re.compile(r"(?:^|, )(\d+)x(\d+)(?=$|[ ,])")
_PICTURE_SIZE = re.compile(r"Picture size (\d+)x(\d+) ")


@dataclass(frozen=True)
class Stream:
    """What one decoded frame says about a clip's video stream."""

    width: int
    height: int
    pix_fmt: str
    fps: Fraction  # exact, from the filter graph's frame rate


def _levelled(stderr: str) -> list[tuple[str, str, str]]:
    """(contexts, level, message) of each line FFmpeg logged with a level."""
    return [m.groups() for m in map(_LEVELLED.match, stderr.splitlines()) if m]


def _errors(lines: list[tuple[str, str, str]]) -> list[str]:
    return [text for _, level, text in lines if level in ("panic", "fatal", "error")]


def _input_streams(lines: list[tuple[str, str, str]]) -> tuple[str | None, list]:
    """The demuxer FFmpeg chose (``mov,mp4,...``, ``png_pipe``; None when it
    opened none) and (kind, description) of each stream of input 0."""
    demuxer, streams = None, []
    for contexts, level, text in lines:
        if demuxer is None and level == "info" and text.startswith("Input #0, "):
            demuxer = text[len("Input #0, ") :].split(", from '", 1)[0]
        elif demuxer is not None:
            if level != "info" or contexts or not text.startswith(" "):
                break  # the end of input 0's description
            stream = _STREAM_LINE.match(text)
            if stream:
                streams.append(stream.groups())
    return demuxer, streams


def too_large(width: int, height: int) -> bool:
    """A frame over :data:`MAX_PIXELS` or :data:`MAX_SIDE`."""
    return width * height > MAX_PIXELS or max(width, height) > MAX_SIDE


def _too_large_error(path: str | Path, width: int, height: int) -> ClipError:
    return ClipError(
        f"{path}: its frames are {width}x{height}, larger than any this project "
        f"measures (at most {MAX_PIXELS:,} pixels, as 8192x4352, and "
        f"{MAX_SIDE} a side: the largest picture of H.264, HEVC and AV1)"
    )


def _input(path: str | Path) -> list[str]:
    """A clip as an input: its decoders refuse a frame over MAX_PIXELS
    before allocating it."""
    return ["-max_pixels", str(MAX_PIXELS), "-i", str(path)]


def _is_mp4(path: str | Path) -> bool:
    """The file starts as an MP4 does (an ``ftyp`` box)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(8)[4:] == b"ftyp"
    except OSError:
        return False


def open_clip(ffmpeg: str, path: str | Path) -> Stream:
    """Decode the first frame of ``path``'s first video stream.

    :class:`ClipError` naming the file and the reason for what cannot be
    measured: a file FFmpeg cannot open (its reason; an MP4 without its
    index is called truncated), one without a video stream (audio only,
    cover art only), a still image (FFmpeg's image demuxers invent 25 fps),
    a frame over :data:`MAX_PIXELS` or :data:`MAX_SIDE` (the size the header
    claims, refused before FFmpeg allocates a frame of it), and a file that
    gives no frame (a y4m header without a whole frame).
    """
    args = [*base(ffmpeg), "-loglevel", "level+info", *_input(path)]
    args += ["-map", VIDEO_STREAM, "-frames:v", "1", "-vf", "showinfo"]
    done = run([*args, "-f", "null", "-"])
    lines = _levelled(done.stderr)
    errors = _errors(lines)
    demuxer, streams = _input_streams(lines)
    pictures = [d for kind, d in streams if kind == "Video"]
    videos = [d for d in pictures if "(attached pic)" not in d]
    claimed = _STREAM_SIZE.search(videos[0]) if videos else None
    refused = _PICTURE_SIZE.search("\n".join(errors))
    for size in (claimed, refused):
        if size and too_large(int(size.group(1)), int(size.group(2))):
            raise _too_large_error(path, int(size.group(1)), int(size.group(2)))
    if demuxer is not None and not videos:
        kinds = [kind.lower() for kind, _ in streams if kind != "Video"]
        kinds += ["cover picture"] * len(pictures)
        found = ", ".join(
            f"{kinds.count(k)} {k} stream{'s' * (kinds.count(k) > 1)}"
            for k in dict.fromkeys(kinds)
        )
        raise ClipError(f"{path}: no video stream (FFmpeg finds {found or 'none'})")
    if demuxer is not None and _IMAGE_DEMUXER.fullmatch(demuxer):
        raise ClipError(
            f"{path}: a still image ({demuxer}), not a video: it has no frame "
            "rate (FFmpeg would call it 25 fps)"
        )
    no_index = any("moov atom not found" in error for error in errors)
    if done.returncode != 0 and no_index and _is_mp4(path):
        raise ClipError(
            f"{path}: truncated or never finished: its MP4 index (the moov atom) "
            "is missing"
        )
    if done.returncode != 0:  # FFmpeg's last error sums it up
        reason = errors[-1] if errors else done.reason
        raise ClipError(
            f"{path}: FFmpeg cannot open it as video (exit {done.returncode}): {reason}"
        )
    config, frame = _CONFIG_LINE.search(done.stderr), _FIRST_FRAME.search(done.stderr)
    if config is None or frame is None:
        why = f" ({errors[0]})" if errors else ""
        raise ClipError(f"{path}: FFmpeg decoded no video frame from it{why}")
    width, height = int(frame.group(2)), int(frame.group(3))
    if too_large(width, height):
        raise _too_large_error(path, width, height)
    fps = Fraction(int(config.group(3)), int(config.group(4)))
    if fps <= 0:
        raise ClipError(f"{path}: no frame rate (FFmpeg reports {fps})")
    return Stream(width, height, frame.group(1), fps)


@dataclass(frozen=True)
class Decoded:
    """A full decode of a clip's video stream: every frame, none dropped or
    repeated, with its timestamp (seconds, exact; None when the stream has
    none) and the time base the timestamps were counted in."""

    timestamps: tuple[Fraction, ...] | None
    frames: int
    tick: Fraction | None

    def constant_rate(self, stated: Fraction) -> bool:
        """Every frame interval is 1/``stated`` to within one tick of the
        time base (containers round: Matroska's milliseconds store 29.97 fps
        as 33 and 34 ms)."""
        if self.timestamps is None or self.tick is None or self.frames < 2:
            return True
        stamps = self.timestamps
        return all(
            abs(b - a - 1 / stated) <= self.tick for a, b in itertools.pairwise(stamps)
        )

    def frame_rate(self, stated: Fraction) -> Fraction:
        """The clip's frame rate: ``stated`` (the stream's) when it is
        constant; for a variable-frame-rate clip the mean over its frame
        intervals, (frames - 1) / (last - first timestamp): the rate that
        makes frames / rate its duration, which the bitrates divide by."""
        if self.timestamps is None or self.constant_rate(stated):
            return stated
        span = self.timestamps[-1] - self.timestamps[0]
        return Fraction(self.frames - 1) / span if span > 0 else stated


def decode(ffmpeg: str, path: str | Path) -> Decoded:
    """Decode every frame of ``path``'s first video stream.

    A truncated or damaged file is refused (:class:`ClipError`): FFmpeg
    decodes what it can of one and exits 0, but logs the damage as an error
    (an MP4 cut short: "corrupt input packet", "partial file"; Matroska and
    WebM: "File ended prematurely"; y4m: "Truncating packet"; a broken frame:
    "error while decoding MB"), so a decode with any error line is refused:
    its frames are not the clip's frames.
    """
    args = [*base(ffmpeg), "-loglevel", "level+error", *_input(path)]
    args += ["-map", VIDEO_STREAM, "-fps_mode", "passthrough"]
    args += ["-stats_enc_pre", "pipe:1", "-stats_enc_pre_fmt", "{ptsi} {tbi}"]
    done = run([*args, "-f", "null", "-"])
    errors = _errors(_levelled(done.stderr))
    if done.returncode != 0:
        raise ClipError(
            f"{path}: FFmpeg cannot decode it (exit {done.returncode}): "
            f"{errors[0] if errors else done.reason}"
        )
    frames = [line.split() for line in done.stdout.splitlines() if line.strip()]
    if errors:
        raise ClipError(
            f"{path}: truncated or damaged: FFmpeg decodes {len(frames)} frames "
            f"of it, reporting: {errors[0]}"
        )
    return _timestamps(frames)


def _timestamps(frames: list[list[str]]) -> Decoded:
    """The decode's frames from ``-stats_enc_pre`` lines ("{ptsi} {tbi}")."""
    try:
        pts = [int(p) for p, _ in frames]
        bases = [Fraction(tb) for _, tb in frames]
    except (ValueError, ZeroDivisionError):  # "N/A", 0/0: no timestamps
        return Decoded(None, len(frames), None)
    if not frames or any(abs(p) >= 2**62 for p in pts):  # AV_NOPTS_VALUE
        return Decoded(None, len(frames), None)
    stamps = tuple(p * tb for p, tb in zip(pts, bases, strict=True))
    return Decoded(stamps, len(frames), min(bases))


def count_frames(ffmpeg: str, path: str | Path) -> int:
    """The number of frames a full decode of the first video stream gives
    (:class:`ClipError` for a truncated or damaged file, see :func:`decode`)."""
    return decode(ffmpeg, path).frames


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
