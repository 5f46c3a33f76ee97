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
