"""The clean reference a clip is swept and scored against
(vmaf_predictor.runtime.reference): odd sizes cropped exactly, 10-bit and
RGB converted to 8-bit 4:2:0, variable frame rates retimed with every frame
kept, frame ranges, atomic writes. Tiny clips made here (160x90, 10 frames)."""

from __future__ import annotations

import re
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from vmaf_predictor.runtime import ffmpeg as ff
from vmaf_predictor.runtime import reference

FFMPEG = ff.locate(None)


def lavfi(path: Path, graph: str, *options: str, frames: int = 10) -> Path:
    """A lossless (FFV1) clip of a lavfi source."""
    args = [*ff.base(FFMPEG), "-y", "-f", "lavfi", "-i", graph]
    args += ["-frames:v", str(frames), *options, "-c:v", "ffv1", *ff.BITEXACT]
    ff.run([*args, str(path)]).check(f"making {path.name}")
    return path


def tiny(directory: Path, size: str = "160x90") -> Path:
    """A clean 8-bit 4:2:0 clip of 10 frames at 25 fps."""
    graph = f"testsrc2=s={size}:r=25"
    return lavfi(directory / "src.mkv", graph, "-pix_fmt", "yuv420p")


def planes(path: Path, width: int, height: int, pix_fmt: str = "yuv420p"):
    """Every frame of ``path`` as (Y, U, V) arrays, decoded to ``pix_fmt``
    (no conversion when the file already is; 10-bit as uint16), each decoded
    frame once (passthrough: a raw output would otherwise be made constant-rate)."""
    args = [*ff.base(FFMPEG), "-i", str(path), "-fps_mode", "passthrough"]
    args += ["-f", "rawvideo", "-pix_fmt", pix_fmt]
    data = subprocess.run([*args, "-"], capture_output=True, check=True).stdout
    dtype = np.dtype("<u2") if pix_fmt.endswith("10le") else np.dtype(np.uint8)
    samples = np.frombuffer(data, dtype)
    cw, ch = (width + 1) // 2, (height + 1) // 2
    luma, chroma = width * height, cw * ch
    size = luma + 2 * chroma
    frames = []
    for i in range(len(samples) // size):
        frame = samples[i * size : (i + 1) * size]
        y = frame[:luma].reshape(height, width)
        u = frame[luma : luma + chroma].reshape(ch, cw)
        v = frame[luma + chroma :].reshape(ch, cw)
        frames.append((y, u, v))
    return frames


def test_an_odd_size_is_cropped_to_even_keeping_every_other_sample(tmp_path):
    source = lavfi(tmp_path / "odd.mkv", "testsrc=s=161x91:r=25", "-pix_fmt", "yuv420p")
    ref = reference.write_reference(FFMPEG, source, tmp_path / "odd.y4m")
    assert (ref.width, ref.height, ref.frames) == (160, 90, 10)
    assert ref.changes == ("cropped 161x91 to 160x90",)
    original, cropped = planes(source, 161, 91), planes(ref.path, 160, 90)
    assert len(cropped) == len(original) == 10
    for (y, u, v), (y2, u2, v2) in zip(original, cropped, strict=True):
        assert np.array_equal(y[:90, :160], y2)  # the last row and column gone
        assert np.array_equal(u[:45, :80], u2) and np.array_equal(v[:45, :80], v2)


def test_a_10_bit_clip_becomes_8_bit_4_2_0(tmp_path):
    source = lavfi(
        tmp_path / "ten.mkv", "testsrc2=s=160x90:r=24", "-pix_fmt", "yuv420p10le"
    )
    timing = reference.inspect(FFMPEG, source)
    assert timing.stream.pix_fmt == "yuv420p10le" and not timing.clean
    ref = reference.write_reference(FFMPEG, source, tmp_path / "ten.y4m")
    stream = ff.open_clip(FFMPEG, ref.path)
    assert (stream.pix_fmt, stream.width, stream.height) == ("yuv420p", 160, 90)
    assert (ref.fps, ref.frames) == (Fraction(24), 10)
    assert ref.changes == ("converted yuv420p10le to yuv420p",)
    # each 8-bit sample is its 10-bit one over 4, rounded
    ten, eight = planes(source, 160, 90, "yuv420p10le"), planes(ref.path, 160, 90)
    assert len(eight) == len(ten) == 10
    for high, low in zip(ten, eight, strict=True):
        for a, b in zip(high, low, strict=True):
            assert np.abs(a.astype(int) / 4 - b.astype(int)).max() <= 0.75


def test_a_variable_frame_rate_keeps_every_frame_at_the_average_rate(tmp_path):
    # frames at 0, 40, 80, 160, 200, 240, 320, ... ms: every third interval
    # is a dropped frame (80 ms), as webcams do
    source = lavfi(
        tmp_path / "vfr.mkv", "testsrc2=s=160x90:r=25",
        "-vf", "settb=1/1000,setpts='(N+floor(N/3))*40'", "-fps_mode", "passthrough",
        "-pix_fmt", "yuv420p",
    )  # fmt: skip
    timing = reference.inspect(FFMPEG, source)
    assert timing.pts_time[:5] == (0.0, 0.04, 0.08, 0.16, 0.2)
    assert not timing.cfr and timing.rate == Fraction(9, Fraction("0.48"))
    ref = reference.write_reference(FFMPEG, source, tmp_path / "vfr.y4m")
    assert ref.frames == 10 and ref.fps == Fraction(75, 4)  # 9 intervals in 480 ms
    assert ff.open_clip(FFMPEG, ref.path).fps == Fraction(75, 4)
    assert ff.count_frames(FFMPEG, ref.path) == 10
    # every decoded frame, in order, none repeated or dropped
    before, after = planes(source, 160, 90), planes(ref.path, 160, 90)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(before, after, strict=True))
    assert "retimed to the average 18.75 fps" in ref.changes[-1]


def test_a_frame_range_is_exactly_those_frames(tmp_path):
    source = lavfi(
        tmp_path / "src.mkv", "testsrc2=s=160x90:r=25", "-pix_fmt", "yuv420p"
    )
    ref = reference.write_reference(
        FFMPEG, source, tmp_path / "part.y4m", start=3, frames=4
    )
    assert (ref.start, ref.frames, ref.changes) == (3, 4, ())
    whole, part = planes(source, 160, 90), planes(ref.path, 160, 90)
    assert all(
        np.array_equal(a[0], b[0]) for a, b in zip(whole[3:7], part, strict=True)
    )


def test_a_downscale_keeps_the_aspect_with_an_even_width(tmp_path):
    source = lavfi(
        tmp_path / "src.mkv", "testsrc2=s=320x180:r=25", "-pix_fmt", "yuv420p"
    )
    ref = reference.write_reference(FFMPEG, source, tmp_path / "s.y4m", height=90)
    assert (ref.width, ref.height) == (160, 90)
    same = reference.write_reference(FFMPEG, source, tmp_path / "t.y4m", height=360)
    assert (same.width, same.height) == (320, 180)  # never up


def test_the_same_source_gives_the_same_bytes(tmp_path):
    source = lavfi(tmp_path / "odd.mkv", "testsrc=s=161x91:r=25", "-pix_fmt", "yuv420p")
    one = reference.write_reference(FFMPEG, source, tmp_path / "a.y4m")
    two = reference.write_reference(FFMPEG, source, tmp_path / "b.y4m")
    assert one.path.read_bytes() == two.path.read_bytes()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"start": 8, "frames": 5}, "frames 8 to 12 asked, the clip has 10 (0 to 9)"),
        ({"start": -1}, "frames -1 to 9 asked"),
        ({"height": 45}, "height 45 is not an even number >= 2"),
    ],
)
def test_a_request_outside_the_clip_is_a_clear_error(tmp_path, options, message):
    source = lavfi(
        tmp_path / "src.mkv", "testsrc2=s=160x90:r=25", "-pix_fmt", "yuv420p"
    )
    with pytest.raises(reference.ReferenceError, match=re.escape(message)):
        reference.write_reference(FFMPEG, source, tmp_path / "out.y4m", **options)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.mkv"]


def test_a_failed_write_leaves_nothing_beside_the_destination(tmp_path):
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video\n")
    out = tmp_path / "out"
    with pytest.raises(ff.ClipError, match=r"notes\.mp4: FFmpeg cannot open it"):
        reference.write_reference(FFMPEG, not_video, out / "x.y4m")
    assert not out.exists() or list(out.iterdir()) == []
    with pytest.raises(reference.ReferenceError, match=r"x\.avi: a reference is"):
        reference.write_reference(FFMPEG, not_video, out / "x.avi")


def test_a_clean_clip_says_so(tmp_path):
    source = lavfi(
        tmp_path / "src.mkv", "testsrc2=s=160x90:r=25", "-pix_fmt", "yuv420p"
    )
    timing = reference.inspect(FFMPEG, source)
    assert timing.clean and timing.cfr and timing.frames == 10
    assert timing.rate == Fraction(25)
