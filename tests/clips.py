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
