"""Hostile clips: what `features`, `pick-crf --source` (with and without
--verify) and the sweep do with a file that is not measurable video, and
with valid but unusual video.

A file that cannot be measured (truncated, audio only, a still image, a
header claiming a huge frame) is one line on stderr naming the file and the
reason, exit status 2, nothing left in the temporary directory; the sweep
names every such clip before any encode. Valid video (one frame, a variable
frame rate, 10-bit, odd dimensions) gets a correct answer: measured,
encoded and scored on its clean reference (runtime/reference.py), as the
sweep does a shot.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import clips
import pytest
from checkout import ROOT
from test_sweep import checkout_with, rows_of
from workflow_runs import snakemake

from vmaf_predictor.runtime import ffmpeg as ff
from vmaf_predictor.runtime import measure

# file name: (maker, the reason the one-line error gives, a regular expression)
REFUSED = {
    "truncated.mp4": (
        clips.truncated_mp4,
        r"truncated or damaged: FFmpeg decodes \d+ frames of it, reporting: \S",
    ),
    "moovless.mp4": (
        clips.moovless_mp4,
        r"truncated or never finished: its MP4 index \(the moov atom\) is missing",
    ),
    "cut.mkv": (
        clips.truncated_mkv,
        r"truncated or damaged: FFmpeg decodes \d+ frames of it, reporting: "
        "File ended prematurely",
    ),
    "audio.mp4": (clips.audio_only, r"no video stream \(FFmpeg finds 1 audio stream\)"),
    "still.mp4": (
        clips.still_image,
        r"a still image \(png_pipe\), not a video: it has no frame rate",
    ),
    "huge.y4m": (
        clips.huge_y4m,
        r"its frames are 100000x100000, larger than any this project measures "
        r"\(at most 35,651,584 pixels",
    ),
    "claims_huge.mkv": (clips.huge_mkv, r"its frames are 12288x12288, larger than any"),
}
COMMANDS = {
    "features": ("features", "{clip}", "--codec", "libx264"),
    "pick-crf": ("pick-crf", "--source", "{clip}", "--codec", "libx264"),
    "pick-crf --verify": (
        *("pick-crf", "--source", "{clip}", "--codec", "libx264", "--verify"),
    ),
}
TARGET = ("--target", "90")


@pytest.fixture(scope="module")
def refused(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("refused")
    for name, (make, _) in REFUSED.items():
        assert make(directory).name == name
    return directory


@pytest.fixture(scope="module")
def unusual(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("unusual")
    return {
        "one": clips.one_frame(directory),
        "vfr": clips.variable_rate(directory),
        "bits10": clips.ten_bit(directory),
        "bits8": clips.ten_bit(directory, bits=8),
        "odd": clips.odd_size(directory),
    }


def command(name: str, clip: Path) -> list[str]:
    args = [a.format(clip=clip) for a in COMMANDS[name]]
    return args + list(TARGET) if name.startswith("pick-crf") else args


def cli(tmp: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[Path]]:
    """``python -m vmaf_predictor ARGS`` with a temporary directory of its
    own; its result and what it left in that directory."""
    temporary = tmp / "TMPDIR"
    temporary.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-m", "vmaf_predictor", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(temporary)},
        capture_output=True,
        text=True,
    )
    return done, sorted(temporary.rglob("*"))


def verified(result: dict) -> dict:
    """The scored encode of a ``pick-crf --verify --json`` answer (today's
    ``verify`` block, or the last step of a search)."""
    return result["steps"][-1] if "steps" in result else result["verify"]


# Files that cannot be measured --------------------------------------------------


@pytest.mark.parametrize("what", COMMANDS)
@pytest.mark.parametrize("name", REFUSED)
def test_a_clip_that_cannot_be_measured_is_one_line_naming_it_and_why(
    refused, tmp_path, name, what
):
    clip = refused / name
    done, left = cli(tmp_path, *command(what, clip))
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr  # one line, no traceback
    assert done.stderr.startswith(f"error: {clip}: "), done.stderr
    assert re.search(REFUSED[name][1], done.stderr), done.stderr
    assert left == []


def test_a_huge_frame_is_refused_before_ffmpeg_allocates_one(refused, tmp_path):
    """claims_huge.mkv (15 kB) claims 12288x12288: FFmpeg accepts that size and,
    unchecked, pick-crf --verify took 44 s and 7.6 GB decoding it."""
    wrapper = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], check=False, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    args = command("pick-crf --verify", refused / "claims_huge.mkv")
    done = subprocess.run(
        [sys.executable, "-c", wrapper, sys.executable, "-m", "vmaf_predictor", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    peak_mb = int(done.stdout) / 1024  # ru_maxrss is in kB on Linux
    assert peak_mb < 400, f"the largest process took {peak_mb:.0f} MB"


def test_the_size_limit_is_the_largest_picture_of_the_codecs_levels():
    assert not ff.too_large(8192, 4352) and not ff.too_large(16384, 2176)
    assert ff.too_large(8192, 4353) and ff.too_large(16385, 64)


@pytest.mark.slow
def test_the_sweep_names_every_clip_it_cannot_measure_before_any_encode(
    refused, tmp_path
):
    sources = tmp_path / "clips"
    sources.mkdir()
    for name in REFUSED:
        (sources / name).write_bytes((refused / name).read_bytes())
    (good,) = clips.make_tiny_clips(sources, names=("bars",))
    checkout = checkout_with(
        tmp_path / "c", codecs=("libx264",), sweep_codecs=["libx264"],
        sweep_ladder={"libx264": [30]},
    )  # fmt: skip
    done = snakemake(
        checkout, "--cores", "2", "sweep", "--config", f"sources={sources}"
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"{len(REFUSED)} of {len(REFUSED) + 1} clips cannot be swept" in output
    for name, (_, reason) in REFUSED.items():
        line = re.search(rf"^ *{re.escape(str(sources / name))}: (.*)$", output, re.M)
        assert line and re.match(reason, line.group(1)), (name, output[-3000:])
    assert str(good) not in output.split("cannot be swept")[1]
    assert "Traceback" not in output
    assert not (checkout / "results" / "sweep" / "encodes").exists()
    assert not (checkout / "results" / "sweep" / "clips.json").exists()


# Valid but unusual video --------------------------------------------------------


def features_of(tmp: Path, clip: Path) -> dict[str, float]:
    done, left = cli(tmp, "features", str(clip), "--codec", "libx264", "--json")
    assert done.returncode == 0, done.stderr
    assert left == []
    return json.loads(done.stdout)["features"]


def pick_and_verify(tmp: Path, clip: Path) -> dict:
    """pick-crf --verify --json on ``clip``: its answer, after checking it
    printed one (a target not met is an answer too) and left nothing behind."""
    done, left = cli(tmp, *command("pick-crf --verify", clip), "--json")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout, done.stderr
    assert left == []
    result = json.loads(done.stdout)
    assert 0 <= result["measured_vmaf"] <= 100
    return result


def test_one_frame_is_a_clip_with_every_feature_defined(unusual, tmp_path):
    features = features_of(tmp_path, unusual["one"])
    assert features["shot_length_frames"] == 1.0
    assert features["probe_i_frame_avg_bytes"] > 0
    assert features["probe_bitrate_kbps"] > 0
    # Nothing to predict from: 0.0, the contract's value for "not measured".
    assert features["probe_p_frame_avg_bytes"] == 0.0
    assert features["probe_b_frame_avg_bytes"] == 0.0
    assert features["frame_diff_mean"] == 0.0


def test_one_frame_is_encoded_and_scored(unusual, tmp_path):
    result = pick_and_verify(tmp_path, unusual["one"])
    assert result["features"]["shot_length_frames"] == 1.0


def test_a_variable_frame_rate_clip_is_measured_at_its_mean_rate(unusual, tmp_path):
    """Matroska states 25 fps for it (and MP4 12.5); its 12 frames span
    1.28 s: 11 intervals / 1.28 s = 8.59375 fps, so frames / fps is its
    duration and the bitrates are per second of it."""
    features = features_of(tmp_path, unusual["vfr"])
    assert features["fps"] == float(Fraction(11) / Fraction("1.28"))
    assert features["shot_length_frames"] == 12.0
    result = pick_and_verify(tmp_path / "verify", unusual["vfr"])
    encode = verified(result)
    seconds = 12 / features["fps"]
    assert encode["bitrate_kbps"] == pytest.approx(
        encode["encode_size_bytes"] * 8 / 1000 / seconds, abs=0.001
    )


def test_a_constant_rate_keeps_its_exact_value_when_the_container_rounds(tmp_path):
    """Matroska's millisecond timestamps store 29.97 fps as 33 and 34 ms
    intervals: still 30000/1001, not a variable rate."""
    clip = clips.make_clip(
        tmp_path, "ntsc", "testsrc2=s=160x90:r=30000/1001", 10, ".mkv"
    )
    assert measure.clip_facts(ff.locate(None), clip).fps == Fraction(30000, 1001)


def test_a_ten_bit_clip_is_measured_in_eight_bit_levels(unusual, tmp_path):
    """The contract's luma features are 8-bit levels: the 10-bit clip
    measures as its 8-bit twin does (today: its 10-bit code values, 4x)."""
    ten = features_of(tmp_path / "10", unusual["bits10"])
    eight = features_of(tmp_path / "8", unusual["bits8"])
    for name in ("y_avg", "y_var", "frame_diff_mean"):
        assert ten[name] == pytest.approx(eight[name], abs=0.5), name


def test_a_ten_bit_clip_is_encoded_and_scored(unusual, tmp_path):
    pick_and_verify(tmp_path, unusual["bits10"])


def test_odd_dimensions_are_measured_for_an_encoder_that_needs_even_ones(
    unusual, tmp_path
):
    """641x361: libx264 (and libx265, libvvenc) refuse odd 4:2:0 sizes
    (today: "libx264 probe of ...: FFmpeg exit 187: Conversion failed!")."""
    features = features_of(tmp_path, unusual["odd"])
    for name, odd in (("width", 641), ("height", 361)):
        assert features[name] % 2 == 0 and abs(features[name] - odd) <= 1, name


def test_odd_dimensions_are_encoded_and_scored(unusual, tmp_path):
    pick_and_verify(tmp_path, unusual["odd"])


# The sweep of valid but unusual video ---------------------------------------------


@pytest.fixture(scope="module")
def swept_unusual(unusual, tmp_path_factory) -> dict[str, dict]:
    """One libx264 row (crf 30) per unusual clip: {clip stem: row}."""
    root = tmp_path_factory.mktemp("sweep-unusual")
    sources = root / "clips"
    sources.mkdir()
    for clip in unusual.values():
        (sources / clip.name).write_bytes(clip.read_bytes())
    checkout = checkout_with(
        root / "c", codecs=("libx264",), sweep_codecs=["libx264"],
        sweep_ladder={"libx264": [30]},
    )  # fmt: skip
    done = snakemake(
        checkout, "--cores", "2", "sweep", "--config", f"sources={sources}"
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return {row["src"]: row for row in rows_of(checkout)}


@pytest.mark.slow
def test_the_sweep_scores_a_one_frame_clip(swept_unusual):
    row = swept_unusual["one"]
    assert row["exit_status"] == 0 and 0 <= row["vmaf_score"] <= 100
    assert row["shot_length_frames"] == 1.0 and row["duration_s"] == 0.04


@pytest.mark.slow
def test_the_sweep_times_a_variable_frame_rate_clip_by_its_mean_rate(swept_unusual):
    row = swept_unusual["vfr"]
    assert row["exit_status"] == 0
    assert row["framerate"] == row["fps"] == 8.59375
    assert row["duration_s"] == round(12 / 8.59375, 6)


@pytest.mark.slow
def test_the_sweep_measures_a_ten_bit_clip_in_eight_bit_levels(swept_unusual):
    ten, eight = swept_unusual["bits10"], swept_unusual["bits8"]
    assert ten["exit_status"] == 0
    assert ten["y_avg"] == pytest.approx(eight["y_avg"], abs=0.5)


@pytest.mark.slow
def test_the_sweep_encodes_odd_dimensions(swept_unusual):
    row = swept_unusual["odd"]
    assert row["exit_status"] == 0 and row["vmaf_score"] is not None
