"""The encoders the sweep and the runtime run, and their settings.

What is fixed here is plumbing every encode needs to be correct and
reproducible: the FFmpeg encoder, its quality option, 8-bit 4:2:0 output and
how its thread count is pinned (libx264 and libaom-av1 give other bytes at
other thread counts, and their defaults follow the machine's cores). What an
operator may choose (presets, the probe's quality value, the thread count,
the VMAF model) are :class:`SweepSettings`, read from config.yaml, whose
schema holds the documented defaults.

The nine hardware codecs have no entry: they cannot be swept without their
hardware, and :func:`hardware_problem` says what is missing.
"""

from __future__ import annotations

import ctypes.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Encoder:
    """How FFmpeg runs one software encoder."""

    codec: str
    quality_option: str  # the ladder's axis: -crf, or -qp for libvvenc
    output_format: tuple[str, ...]  # 8-bit 4:2:0
    thread_option: str  # -threads, or the encoder's own parameter string
    thread_value: str  # "{n}" is the thread count

    def thread_args(self, threads: int) -> list[str]:
        return [self.thread_option, self.thread_value.format(n=threads)]


ENCODERS: dict[str, Encoder] = {
    e.codec: e
    for e in (
        Encoder("libx264", "-crf", ("-pix_fmt", "yuv420p"), "-threads", "{n}"),
        # -threads has no effect on x265: its pool and frame threads do.
        Encoder(
            "libx265",
            "-crf",
            ("-pix_fmt", "yuv420p"),
            "-x265-params",
            "pools={n}:frame-threads=1",
        ),
        Encoder(
            "libsvtav1", "-crf", ("-pix_fmt", "yuv420p"), "-svtav1-params", "lp={n}"
        ),
        Encoder("libaom-av1", "-crf", ("-pix_fmt", "yuv420p"), "-threads", "{n}"),
        # libvvenc takes only 10-bit input; InternalBitDepth=8 makes an 8-bit
        # stream (the 8 -> 10-bit conversion is an exact shift), decoded as yuv420p.
        Encoder(
            "libvvenc",
            "-qp",
            ("-pix_fmt", "yuv420p10le", "-vvenc-params", "InternalBitDepth=8"),
            "-threads",
            "{n}",
        ),
    )
}
SOFTWARE_CODECS: tuple[str, ...] = tuple(ENCODERS)

# Options whose values are ":"-joined key=value lists: given twice, FFmpeg
# keeps the last, so they are merged instead.
_PARAM_LISTS = ("-x265-params", "-svtav1-params", "-vvenc-params", "-x264-params")


def _merged(args: Sequence[str]) -> list[str]:
    """``args`` with each parameter-list option given once (values joined)."""
    out: list[str] = []
    where: dict[str, int] = {}
    i = 0
    while i < len(args):
        option = args[i]
        if option in _PARAM_LISTS and i + 1 < len(args):
            if option in where:
                out[where[option]] += ":" + args[i + 1]
            else:
                where[option] = len(out) + 1
                out += [option, args[i + 1]]
            i += 2
        else:
            out.append(option)
            i += 1
    return out


def codec_args(
    codec: str, settings: Sequence[str], threads: int, quality: float | None = None
) -> list[str]:
    """The encoder's FFmpeg arguments: ``-c:v``, the configured ``settings``,
    the quality value (unless the settings hold it, as the probe's do), the
    output format and the pinned thread count."""
    encoder = ENCODERS[codec]
    args = ["-c:v", codec, *settings]
    if quality is not None:
        args += [encoder.quality_option, format_quality(quality)]
    args += [*encoder.output_format, *encoder.thread_args(threads)]
    return _merged(args)


def format_quality(quality: float) -> str:
    """``23`` for 23.0: every ladder value of these encoders is an integer."""
    return str(int(quality)) if float(quality).is_integer() else repr(float(quality))


# Hardware ---------------------------------------------------------------------

_HARDWARE = {
    "nvenc": (
        "an NVIDIA GPU with NVENC and its driver",
        ("/dev/nvidia0",),
        "cuda",
    ),
    "amf": (
        "an AMD GPU with the AMF runtime",
        ("/dev/dri/renderD128",),
        "amfrt64",
    ),
    "qsv": (
        "an Intel GPU with Quick Sync and oneVPL",
        ("/dev/dri/renderD128",),
        "vpl",
    ),
}


def hardware_problem(codec: str) -> str:
    """Why ``codec`` cannot be swept here (every codec that is not one of the
    five software encoders)."""
    family = codec.rsplit("_", 1)[-1]
    if family not in _HARDWARE:
        return (
            f"{codec} has no sweep settings: the sweep runs the software encoders "
            f"{', '.join(SOFTWARE_CODECS)}"
        )
    needs, devices, library = _HARDWARE[family]
    missing = [d for d in devices if not Path(d).exists()]
    if ctypes.util.find_library(library) is None:
        missing.append(f"lib{library}")
    found = (
        f"missing here: {', '.join(missing)}"
        if missing
        else "found here, but this sweep has no settings for hardware encoders"
    )
    return (
        f"{codec} is a hardware encoder: sweeping it needs {needs} ({found}). "
        "Sweep it on its hardware (vmaf-tune corpus) and pass the rows with "
        "corpus=; without them it stays a synthetic stub. The sweep runs "
        f"{', '.join(SOFTWARE_CODECS)}"
    )


# Settings ---------------------------------------------------------------------


@dataclass(frozen=True)
class SweepSettings:
    """What decides the bytes of a probe, an encode and a score."""

    ffmpeg: str | None  # configured path or command; None: imageio-ffmpeg's
    threads: int  # every encoder's and libvmaf's thread count, pinned
    probe_max_frames: int  # the analysis window: the first frames of a clip
    vmaf_model: str
    probe: Mapping[str, tuple[str, ...]]  # codec -> preset and quality value
    production: Mapping[str, tuple[str, ...]]  # codec -> preset and options

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SweepSettings:
        """From a validated config (schema defaults filled in)."""
        return cls.from_params({"ffmpeg": config["ffmpeg"]["path"], **config["sweep"]})

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SweepSettings:
        """From the part of the sweep's settings a job was given (only what
        decides its bytes: a setting left out is one the job never uses)."""
        return cls(
            ffmpeg=params.get("ffmpeg"),
            threads=int(params.get("threads", 1)),
            probe_max_frames=int(params.get("probe_max_frames", 1)),
            vmaf_model=str(params.get("vmaf_model", "")),
            probe={c: tuple(map(str, a)) for c, a in params.get("probe", {}).items()},
            production={
                c: tuple(map(str, a)) for c, a in params.get("production", {}).items()
            },
        )
