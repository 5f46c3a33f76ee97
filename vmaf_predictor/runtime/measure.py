"""The 13 measured features of a clip: each defined once, here, and used by
the sweep (whose rows train the models) and by the runtime
(``python -m vmaf_predictor features`` / ``pick-crf --source``), so what a
model is fed at runtime is what it was trained on.

A clip is one shot. Three measurements, each one FFmpeg pass (plus the
frame count):

- :func:`clip_facts`: width, height, pixel format and exact frame rate of the
  first video stream (one decoded frame), and its frame count (a full decode,
  whose timestamps give a variable-frame-rate clip its mean rate); a clip
  that cannot be measured is refused here, before any encode;
- :func:`analyse`: signalstats over the analysis window;
- :func:`probe`: the codec's probe encode of the analysis window (config
  ``sweep.probe``: a fast preset at a fixed quality value, threads pinned,
  8-bit 4:2:0), with each packet's size and picture type.

The analysis window is the first ``min(frames, probe_max_frames)`` frames
(config ``sweep.probe_max_frames``, default 240). Then :data:`FEATURES` maps
each feature name to the one function that computes it from the
:class:`Measurements`; :func:`features` applies them all. Measured floats are
rounded to 4 decimals (Python's ``round``, correctly rounded) so a row's
bytes do not carry noise digits; ``fps`` is exact. ``saliency_mean`` and
``saliency_var`` are not measured by this project: 0.0, as the consumer
sends today.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from vmaf_predictor.runtime import ffmpeg as ff
from vmaf_predictor.runtime.encoders import SweepSettings, codec_args

log = logging.getLogger(__name__)
DECIMALS = 4  # measured floats are rounded to this many decimals
SIGNALSTATS_KEYS = ("YAVG", "YDIF", "YHIGH", "YLOW")


class MeasureError(RuntimeError):
    """A measurement that did not give what its definition needs."""


# The measurements ---------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """The clip's first video stream: geometry, exact frame rate, frames."""

    width: int
    height: int
    pix_fmt: str
    fps_num: int
    fps_den: int
    frames: int

    @property
    def fps(self) -> Fraction:
        return Fraction(self.fps_num, self.fps_den)

    def window(self, probe_max_frames: int) -> int:
        """Frames in the analysis window."""
        return min(self.frames, probe_max_frames)


@dataclass(frozen=True)
class Analysis:
    """signalstats of each frame of the analysis window, in order."""

    YAVG: tuple[float, ...]
    YDIF: tuple[float, ...]
    YHIGH: tuple[float, ...]
    YLOW: tuple[float, ...]


@dataclass(frozen=True)
class Probe:
    """The probe encode: each packet's payload size (bytes) and picture type
    (I, P, B; another letter when the encoder reports none), in encoder
    output order, and the frames it encoded."""

    codec: str
    frames: int
    sizes: tuple[int, ...]
    types: str
    encoder_version: str
    args: tuple[str, ...]  # settings that made it (no paths)


@dataclass(frozen=True)
class Measurements:
    clip: Clip
    analysis: Analysis
    probe: Probe


def to_json(value: Clip | Analysis | Probe) -> dict[str, Any]:
    return asdict(value)


def clip_from_json(data: Mapping[str, Any]) -> Clip:
    return Clip(**data)


def analysis_from_json(data: Mapping[str, Any]) -> Analysis:
    return Analysis(**{k: tuple(map(float, data[k])) for k in SIGNALSTATS_KEYS})


def probe_from_json(data: Mapping[str, Any]) -> Probe:
    return Probe(
        codec=data["codec"],
        frames=int(data["frames"]),
        sizes=tuple(map(int, data["sizes"])),
        types=str(data["types"]),
        encoder_version=str(data["encoder_version"]),
        args=tuple(data["args"]),
    )


# The three FFmpeg passes -------------------------------------------------------


def clip_facts(ffmpeg: str, path: str | Path) -> Clip:
    """Stream facts and frame count, from the first decoded frame and a full
    decode; :class:`ffmpeg.ClipError` naming the file and the reason for a
    clip this project refuses (:func:`ffmpeg.open_clip`, :func:`ffmpeg.decode`:
    not a video, a still image, frames over the size limit, truncated or
    damaged). One frame is a clip: every feature is defined for it (its
    probe's P and B frame means are 0.0, as for a codec without B frames, and
    its frame_diff_mean is 0.0) and VMAF scores it.

    ``fps`` is the stream's exact rate, or for a variable-frame-rate clip the
    mean rate of its frames (:meth:`ffmpeg.Decoded.frame_rate`), so that
    frames / fps is its duration, which the bitrates divide by.
    """
    stream = ff.open_clip(ffmpeg, path)
    decoded = ff.decode(ffmpeg, path)
    if decoded.frames < 1:
        raise ff.ClipError(f"{path}: FFmpeg decoded no video frame from it")
    fps = decoded.frame_rate(stream.fps)
    return Clip(
        stream.width,
        stream.height,
        stream.pix_fmt,
        fps.numerator,
        fps.denominator,
        decoded.frames,
    )


def analyse(ffmpeg: str, path: str | Path, window: int) -> Analysis:
    """signalstats of the first ``window`` frames (exactly those: ``trim``,
    since ``-frames:v N`` lets the filter see one frame more)."""
    with tempfile.TemporaryDirectory(prefix="vmaf-analyse-") as tmp:
        stats = Path(tmp) / "signalstats.txt"
        graph = (
            f"trim=end_frame={window},signalstats,"
            f"metadata=mode=print:file={ff.escape_filter_value(str(stats))}"
        )
        args = [*ff.base(ffmpeg), "-i", str(path), "-map", ff.VIDEO_STREAM]
        args += ["-vf", graph]
        ff.run([*args, "-f", "null", "-"]).check(f"signalstats of {path}")
        frames = _signalstats(stats.read_text(encoding="utf-8"))
    if len(frames) != window:
        raise MeasureError(
            f"signalstats of {path}: {len(frames)} frames, expected {window}"
        )
    return Analysis(**{k: tuple(f[k] for f in frames) for k in SIGNALSTATS_KEYS})


def _signalstats(text: str) -> list[dict[str, float]]:
    frames: list[dict[str, float]] = []
    for line in text.splitlines():
        if line.startswith("frame:"):
            frames.append({})
        elif line.startswith("lavfi.signalstats.") and frames:
            key, _, value = line[len("lavfi.signalstats.") :].partition("=")
            if key in SIGNALSTATS_KEYS:
                frames[-1][key] = float(value)
    missing = [f for f in frames if set(f) != set(SIGNALSTATS_KEYS)]
    if missing:
        raise MeasureError(f"signalstats output without {SIGNALSTATS_KEYS}")
    return frames


_VSTATS = re.compile(r"frame=\s*(\d+)\s.*?f_size=\s*(\d+)\s.*?type=\s*(\S)")
_DECODED_TYPE = re.compile(r"n:\s*\d+ .*? type:(\S)")


def probe(
    ffmpeg: str,
    path: str | Path,
    codec: str,
    settings: SweepSettings,
    window: int,
) -> Probe:
    """The probe encode of the first ``window`` frames, into Matroska (so
    parameter sets sit in the header, as in a real file, not in packet 0).

    Packet sizes and types come from ``-vstats_file`` (``f_size`` is the
    encoder's packet in bytes). libvvenc reports no picture type there: its
    types come from decoding the probe (``showinfo``), joined to the packets
    of ``-stats_enc_post`` by display index; the join reproduces vstats
    exactly for the four other encoders.

    An encode that exits 0 with fewer packets than frames is run again (up
    to :data:`ffmpeg.ATTEMPTS` times): libvvenc through FFmpeg now and then
    writes nothing at all ("Output file is empty"); the encoders are
    bit-exact run to run, so a retry gives the bytes a first success would.
    """
    argv = codec_args(codec, settings.probe[codec], settings.threads)
    for attempt in range(1, ff.ATTEMPTS + 1):
        done, sizes, types = _probe_once(ffmpeg, path, codec, argv, window)
        if len(sizes) == window:
            break
        problem = (
            f"{codec} probe of {path}: {len(sizes)} packets for {window} frames "
            f"(attempt {attempt} of {ff.ATTEMPTS}; FFmpeg: {done.reason})"
        )
        log.warning("%s", problem)
    else:
        raise MeasureError(problem)
    return Probe(
        codec=codec,
        frames=window,
        sizes=sizes,
        types=types,
        encoder_version=ff.encoder_version(codec, done.stderr),
        args=tuple(argv),
    )


def _probe_once(
    ffmpeg: str, path: str | Path, codec: str, argv: list[str], window: int
) -> tuple[ff.Run, tuple[int, ...], str]:
    with tempfile.TemporaryDirectory(prefix="vmaf-probe-") as tmp:
        out, vstats, posts = (Path(tmp) / n for n in ("probe.mkv", "vstats", "post"))
        args = [*ff.base(ffmpeg), "-y", "-i", str(path), "-map", ff.VIDEO_STREAM]
        args += ["-frames:v", str(window), *argv]
        args += ["-vstats_file", str(vstats), "-stats_enc_post", str(posts)]
        args += ["-stats_enc_post_fmt", "{n} {pts} {key} {size}", *ff.BITEXACT]
        done = ff.run([*args, str(out)]).check(f"{codec} probe of {path}")
        if not vstats.is_file():  # no packet at all
            return done, (), ""
        packets = [
            (int(m.group(1)), int(m.group(2)), m.group(3))
            for m in map(_VSTATS.search, vstats.read_text().splitlines())
            if m
        ]
        sizes = tuple(size for _, size, _ in packets)
        types = "".join(kind for _, _, kind in packets)
        if any(kind not in "IPB" for kind in types):
            sizes, types = _sizes_by_decoded_type(ffmpeg, out, posts)
    return done, sizes, types


def _sizes_by_decoded_type(
    ffmpeg: str, encoded: Path, posts: Path
) -> tuple[tuple[int, ...], str]:
    """Packet sizes (``-stats_enc_post``, encoder output order) and the
    decoder's picture type of each, matched by display index (pts)."""
    args = [*ff.base(ffmpeg), "-i", str(encoded), "-map", "0:v:0", "-vf", "showinfo"]
    done = ff.run([*args, "-f", "null", "-"]).check(f"decoding {encoded.name}")
    decoded = _DECODED_TYPE.findall(done.stderr)
    lines = [line.split() for line in posts.read_text().splitlines() if line.strip()]
    first = min(int(pts) for _, pts, _, _ in lines)
    sizes = tuple(int(size) for *_, size in lines)
    types = "".join(decoded[int(pts) - first] for _, pts, _, _ in lines)
    return sizes, types


# The features: one function each ------------------------------------------------


def _rounded(value: float) -> float:
    return round(float(value), DECIMALS)


def _mean(values: tuple[float, ...]) -> float:
    return math.fsum(values) / len(values)  # correctly rounded sum


def probe_bitrate_kbps(m: Measurements) -> float:
    """The probe's packet bytes x 8 / (window frames / fps) / 1000: kbit/s of
    the payload, independent of the container (FFmpeg's own ``bitrate=`` is
    the file size over a codec-dependent end time, and the consumer's
    ``-f null`` probe never gets one)."""
    seconds = Fraction(m.probe.frames) / m.clip.fps
    return _rounded(Fraction(sum(m.probe.sizes) * 8) / seconds / 1000)


def _frame_avg_bytes(m: Measurements, kind: str) -> float:
    """Mean packet size (bytes) of the probe's ``kind`` pictures; 0.0 when
    the probe has none (AV1 encoders report I and P only)."""
    sizes = [s for s, t in zip(m.probe.sizes, m.probe.types, strict=True) if t == kind]
    return _rounded(Fraction(sum(sizes), len(sizes))) if sizes else 0.0


def probe_i_frame_avg_bytes(m: Measurements) -> float:
    return _frame_avg_bytes(m, "I")


def probe_p_frame_avg_bytes(m: Measurements) -> float:
    return _frame_avg_bytes(m, "P")


def probe_b_frame_avg_bytes(m: Measurements) -> float:
    return _frame_avg_bytes(m, "B")


def saliency_mean(m: Measurements) -> float:
    """Not measured by this project: 0.0 (the consumer's is 0.0 today)."""
    return 0.0


def saliency_var(m: Measurements) -> float:
    """Not measured by this project: 0.0 (the consumer's is 0.0 today)."""
    return 0.0


def frame_diff_mean(m: Measurements) -> float:
    """Mean of signalstats YDIF (mean absolute luma difference to the
    previous frame) over the window, the first frame's 0 included, as the
    consumer computes it."""
    return _rounded(_mean(m.analysis.YDIF))


def y_avg(m: Measurements) -> float:
    """Mean of signalstats YAVG (mean luma, in the clip's code values)."""
    return _rounded(_mean(m.analysis.YAVG))


def y_var(m: Measurements) -> float:
    """Mean over frames of (YHIGH + YLOW) / 2: the consumer's proxy, the
    mid-point of the 10th and 90th luma percentiles. Not a variance."""
    pairs = zip(m.analysis.YHIGH, m.analysis.YLOW, strict=True)
    return _rounded(_mean(tuple((h + low) / 2 for h, low in pairs)))


def shot_length_frames(m: Measurements) -> float:
    """The clip's frame count (each clip is one shot; not capped)."""
    return float(m.clip.frames)


def fps(m: Measurements) -> float:
    """The exact frame rate, rational to float."""
    return float(m.clip.fps)


def width(m: Measurements) -> float:
    return float(m.clip.width)


def height(m: Measurements) -> float:
    return float(m.clip.height)


# Feature name -> its definition, in graph order (crf, index 0, is the
# quality value being asked about, not a measurement).
FEATURES: dict[str, Callable[[Measurements], float]] = {
    "probe_bitrate_kbps": probe_bitrate_kbps,
    "probe_i_frame_avg_bytes": probe_i_frame_avg_bytes,
    "probe_p_frame_avg_bytes": probe_p_frame_avg_bytes,
    "probe_b_frame_avg_bytes": probe_b_frame_avg_bytes,
    "saliency_mean": saliency_mean,
    "saliency_var": saliency_var,
    "frame_diff_mean": frame_diff_mean,
    "y_avg": y_avg,
    "y_var": y_var,
    "shot_length_frames": shot_length_frames,
    "fps": fps,
    "width": width,
    "height": height,
}


def features(m: Measurements) -> dict[str, float]:
    """Every measured feature of a clip, by name, in graph order."""
    return {name: define(m) for name, define in FEATURES.items()}


def measure(
    path: str | Path, codec: str, settings: SweepSettings
) -> tuple[dict[str, float], Measurements]:
    """Measure a clip for ``codec`` exactly as the sweep does: the features
    and what they were computed from."""
    ffmpeg = ff.locate(settings.ffmpeg)
    clip = clip_facts(ffmpeg, path)
    window = clip.window(settings.probe_max_frames)
    measured = Measurements(
        clip,
        analyse(ffmpeg, path, window),
        probe(ffmpeg, path, codec, settings, window),
    )
    return features(measured), measured
