"""Tiny deterministic clips for the sweep's tests (FFmpeg lavfi sources the
demo does not use), and helpers around them."""

from __future__ import annotations

from pathlib import Path

from vmaf_predictor.runtime import ffmpeg as ff

# name: (lavfi graph, frames, file suffix). 160x90, 10-14 frames.
TINY = {
    "bars": ("smptebars=s=160x90:r=25,noise=alls=10:allf=t:all_seed=4", 12, ".y4m"),
    "carpet": ("sierpinski=s=160x90:r=24:seed=5:jump=8:type=triangle", 10, ".mkv"),
    "rgb": ("rgbtestsrc=s=160x90:r=30000/1001,hue=H=t*90", 14, ".mp4"),
}
TINY_ENCODE = {
    ".mkv": ["-c:v", "ffv1", "-level", "3", "-g", "1"],
    ".mp4": ["-c:v", "libx264", "-preset", "veryfast", "-qp", "0"],
    ".y4m": [],
}


def make_clip(directory: Path, name: str, graph: str, frames: int, suffix: str) -> Path:
    """One clip, written bit-exact (the same bytes every time)."""
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"{name}{suffix}"
    args = [*ff.base(ff.locate(None)), "-y", "-f", "lavfi", "-i", graph]
    args += ["-frames:v", str(frames), "-pix_fmt", "yuv420p", *TINY_ENCODE[suffix]]
    ff.run([*args, *ff.BITEXACT, str(out)]).check(f"making {name}")
    return out


def make_tiny_clips(directory: Path, names=tuple(TINY)) -> list[Path]:
    return [make_clip(directory, name, *TINY[name]) for name in names]


# Hostile clips ------------------------------------------------------------------
# Files the tools must refuse with a one-line reason, and valid but unusual
# video they must measure correctly. Tiny (160x90, 12 frames, except where the
# case needs a size), written bit-exact.

HOSTILE_SOURCE = "testsrc2=s=160x90:r=25"
HOSTILE_FRAMES = 12
# Frame intervals of the variable-frame-rate clip: six at 80 ms, then six at
# 160 ms (in 1/25 s ticks): its mean rate is 11 frames over 1.28 s.
VFR_PTS = "if(lt(N,6),N*2,12+(N-6)*4)"


def _ffmpeg(out: Path, *args: str) -> Path:
    """Write ``out`` with FFmpeg from a lavfi graph or a file (bit-exact)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [*ff.base(ff.locate(None)), "-y", "-loglevel", "error", *args]
    ff.run([*command, *ff.BITEXACT, str(out)]).check(f"making {out.name}")
    return out


def _lavfi(out: Path, graph: str, frames: int, *encode: str) -> Path:
    return _ffmpeg(out, "-f", "lavfi", "-i", graph, "-frames:v", str(frames), *encode)


def _first_half(source: Path, out: Path) -> Path:
    data = source.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    source.unlink()
    return out


X264_LOSSLESS = ("-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast")
FFV1 = ("-c:v", "ffv1", "-level", "3", "-g", "1")


def truncated_mp4(directory: Path) -> Path:
    """An MP4 with its index first (faststart), cut in half: FFmpeg decodes
    the first frames and exits 0."""
    whole = _lavfi(
        directory / "whole.mp4", HOSTILE_SOURCE, HOSTILE_FRAMES,
        *X264_LOSSLESS, "-qp", "0", "-movflags", "+faststart",
    )  # fmt: skip
    return _first_half(whole, directory / "truncated.mp4")


def moovless_mp4(directory: Path) -> Path:
    """An MP4 whose index (moov, written last) is cut off: a recording that
    never finished."""
    whole = _lavfi(
        directory / "whole.mp4", HOSTILE_SOURCE, HOSTILE_FRAMES,
        *X264_LOSSLESS, "-qp", "0",
    )  # fmt: skip
    return _first_half(whole, directory / "moovless.mp4")


def truncated_mkv(directory: Path) -> Path:
    whole = _lavfi(directory / "whole.mkv", HOSTILE_SOURCE, HOSTILE_FRAMES, *FFV1)
    return _first_half(whole, directory / "cut.mkv")


def audio_only(directory: Path) -> Path:
    return _ffmpeg(
        directory / "audio.mp4", "-f", "lavfi", "-i", "sine=f=440:d=0.2", "-c:a", "aac"
    )


def still_image(directory: Path) -> Path:
    """A PNG named .mp4."""
    return _lavfi(
        directory / "still.mp4", HOSTILE_SOURCE, 1, "-c:v", "png", "-f", "image2"
    )


def one_frame(directory: Path) -> Path:
    return _lavfi(directory / "one.mp4", HOSTILE_SOURCE, 1, *X264_LOSSLESS, "-qp", "0")


def huge_y4m(directory: Path) -> Path:
    """A y4m header claiming 100000x100000 frames, then 1000 bytes."""
    out = directory / "huge.y4m"
    directory.mkdir(parents=True, exist_ok=True)
    header = b"YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\nFRAME\n"
    out.write_bytes(header + bytes(1000))
    return out


def huge_mkv(directory: Path) -> Path:
    """Matroska of two 256x256 FFV1 frames (15 kB) whose header claims
    12288x12288 (FFmpeg's own limits accept it; it would decode 151 Mpixel
    frames of garbage)."""
    small = _lavfi(directory / "small.mkv", "testsrc2=s=256x256:r=25", 2, *FFV1)
    data = small.read_bytes()
    for element in (b"\xb0", b"\xba"):  # PixelWidth, PixelHeight: 2-byte 256
        size = element + b"\x82\x01\x00"
        assert data.count(size) == 1, f"no single {size!r} in {small}"
        data = data.replace(size, element + b"\x82\x30\x00")  # 12288
    small.unlink()
    out = directory / "claims_huge.mkv"
    out.write_bytes(data)
    return out


def ten_bit(directory: Path, bits: int = 10) -> Path:
    """The tiny source as 10-bit 4:2:0 (``bits=8``: its 8-bit twin)."""
    pix_fmt = "yuv420p10le" if bits == 10 else "yuv420p"
    name = f"bits{bits}.mkv"
    return _lavfi(
        directory / name, HOSTILE_SOURCE, HOSTILE_FRAMES, "-pix_fmt", pix_fmt, *FFV1
    )


def variable_rate(directory: Path) -> Path:
    """The tiny source with frame intervals of 80 ms, then 160 ms
    (:data:`VFR_PTS`), in Matroska, which states 25 fps for it."""
    return _lavfi(
        directory / "vfr.mkv", f"{HOSTILE_SOURCE},setpts='{VFR_PTS}'",
        HOSTILE_FRAMES, "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", *FFV1,
    )  # fmt: skip


def odd_size(directory: Path) -> Path:
    """641x361, 4:2:0 (the chroma planes round up)."""
    return _lavfi(
        directory / "odd.mkv", "testsrc2=s=640x360:r=25,scale=641:361", 8,
        "-pix_fmt", "yuv420p", *FFV1,
    )  # fmt: skip


def make_multi_shot_clip(
    directory: Path, name: str = "multi", frames: tuple[int, int] = (8, 10)
) -> Path:
    """Two different lavfi sources one after the other (a hard cut between
    them): ``frames[0]`` of testsrc2, then ``frames[1]`` of a mandelbrot, as
    one 160x90 25 fps y4m, bit-exact."""
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"{name}.y4m"
    first, second = frames
    graph = (
        f"testsrc2=s=160x90:r=25,trim=end_frame={first}[a];"
        f"mandelbrot=s=160x90:r=25,trim=end_frame={second},format=yuv420p[b];"
        "[a][b]concat=n=2:v=1"
    )
    args = [*ff.base(ff.locate(None)), "-y", "-filter_complex", graph]
    ff.run([*args, "-pix_fmt", "yuv420p", *ff.BITEXACT, str(out)]).check(name)
    return out
