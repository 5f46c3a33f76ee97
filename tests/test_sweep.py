"""The sweep in the real workflow, on tiny clips this test makes (160x90,
10-14 frames, lavfi sources the demo does not use) and short ladders."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from checkout import ROOT, copy_workflow
from clips import make_multi_shot_clip, make_tiny_clips
from workflow_runs import real_rows, snakemake, vmaf_predictor, write_corpus

from vmaf_predictor.runtime import ffmpeg as ff
from vmaf_predictor.runtime.clip import measure_features, sweep_settings
from vmaf_predictor.runtime.features import FEATURE_NAMES
from vmaf_predictor.runtime.predictor import lookup_codec
from vmaf_predictor.runtime.rows import sha256_file

pytestmark = pytest.mark.slow

SWEPT = ("libx264", "libx265", "libsvtav1", "libaom-av1", "libvvenc")
# Short ladders: seven rows per clip.
LADDERS = {
    "libx264": [24, 36],
    "libx265": [30],
    "libsvtav1": [30, 45],
    "libaom-av1": [40],
    "libvvenc": [37],
}
CANONICAL = (
    *("src", "src_sha256", "width", "height", "pix_fmt", "framerate"),
    *("duration_s", "encoder", "encoder_version", "preset", "crf"),
    *("extra_params", "encode_size_bytes", "bitrate_kbps", "encode_time_ms"),
    *("vmaf_score", "vmaf_model", "score_time_ms", "ffmpeg_version"),
    *("exit_status", "clip_mode"),
)


def checkout_with(path: Path, codecs=(*SWEPT, "av1_qsv"), **config) -> Path:
    """A copy of the workflow with ``codecs`` and the given config keys."""
    copy_workflow(path, codecs=codecs)
    settings = yaml.safe_load((path / "config.yaml").read_text())
    settings.update(config)
    (path / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def rows_of(checkout: Path) -> list[dict]:
    text = (checkout / "results" / "sweep" / "corpus.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    clips = root / "clips with space"
    make_tiny_clips(clips)
    checkout = checkout_with(root / "c", sweep_ladder=LADDERS)
    result = snakemake(
        checkout, "--cores", "2", "sweep", "--config", f"sources={clips}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return checkout, clips


def test_one_row_per_clip_codec_and_ladder_value_in_a_fixed_order(swept):
    checkout, _ = swept
    rows = rows_of(checkout)
    expected = [
        (clip, codec, q)
        for clip in ("bars", "carpet", "rgb")  # sorted file names
        for codec in SWEPT
        for q in LADDERS[codec]
    ]
    assert [(r["src"], r["encoder"], r["crf"]) for r in rows] == expected
    for row in rows:
        assert set(CANONICAL) <= set(row) and row["schema_version"] == 3
        assert row["exit_status"] == 0 and 0 < row["vmaf_score"] <= 100
        assert len(row["src_sha256"]) == 64 and row["clip_mode"] == "full"
        assert row["ffmpeg_version"].startswith("n") and row["encoder_version"]
        for name in FEATURE_NAMES[1:]:
            assert isinstance(row[name], (int, float)), name
        for name in ("probe_bitrate_kbps", "probe_i_frame_avg_bytes", "y_avg"):
            assert row[name] > 0, (row["src"], row["encoder"], name)
    presets = {r["encoder"]: r["preset"] for r in rows}
    assert presets == {
        "libx264": "medium",
        "libx265": "medium",
        "libsvtav1": "8",
        "libaom-av1": "6",
        "libvvenc": "fast",
    }


def test_the_runtime_measures_exactly_the_row_features(swept):
    """Train/serve parity: the features a swept clip gets at runtime are
    the features of its rows, exactly."""
    checkout, clips = swept
    settings = sweep_settings(checkout / "config.yaml")
    rows = rows_of(checkout)
    for clip, codec in (("rgb", "libx264"), ("carpet", "libvvenc")):
        path = next(clips.glob(f"{clip}.*"))
        runtime = measure_features(path, codec, settings)
        row = next(r for r in rows if r["src"] == clip and r["encoder"] == codec)
        assert runtime == {name: row[name] for name in FEATURE_NAMES[1:]}


def test_the_cli_prints_the_same_features(swept):
    checkout, clips = swept
    row = next(r for r in rows_of(checkout) if r["src"] == "bars")
    done = vmaf_predictor(
        checkout,
        "features",
        *(str(clips / "bars.y4m"), "--codec", "libx264", "--json"),
        *("--config", str(checkout / "config.yaml")),
    )
    assert done.returncode == 0, done.stderr
    features = json.loads(done.stdout)["features"]
    assert features == {name: row[name] for name in FEATURE_NAMES[1:]}


def test_a_second_run_has_nothing_to_do(swept):
    checkout, clips = swept
    result = snakemake(checkout, "-n", "sweep", "--config", f"sources={clips}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_every_job_leaves_a_log_and_a_benchmark(swept):
    checkout, _ = swept
    for codec in SWEPT:
        for q in LADDERS[codec]:
            log = checkout / "logs" / "sweep_encode" / "bars" / codec / f"{q}.log"
            assert "VMAF" in log.read_text()
            bench = checkout / "benchmarks" / "sweep_encode" / "bars" / codec
            assert (bench / f"{q}.tsv").is_file()


def _run_plan(checkout: Path, *args: str) -> set[tuple[str, ...]]:
    result = snakemake(checkout, "--cores", "2", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return set(
        re.findall(
            r"^(?:local)?rule (sweep_\w+):\n(?:    .*\n)*?    wildcards: ([^\n]+)",
            result.stdout + result.stderr,
            flags=re.M,
        )
    )


def test_a_new_clip_sweeps_only_that_clip(swept):
    checkout, clips = swept
    (new,) = make_tiny_clips(clips / "new", names=("bars",))
    try:
        jobs = _run_plan(checkout, "sweep", "--config", f"sources={clips}")
        # its shots' split (clip=) and its one source's jobs (src=), no other
        assert jobs and all(
            w.startswith(("clip=new__bars", "src=new__bars")) for _, w in jobs
        )
        assert len(rows_of(checkout)) == 28
    finally:
        new.unlink()
        new.parent.rmdir()
    # and back to the three clips: nothing is recomputed
    assert _run_plan(checkout, "sweep", "--config", f"sources={clips}") == set()
    assert len(rows_of(checkout)) == 21


def test_a_multi_shot_clip_is_one_source_per_shot(tmp_path):
    """A clip of two lavfi sources (8 frames, a hard cut, 10 frames), shots
    of 4 to 8 frames: a source per shot, the take after the cut in two; an
    odd-size clip beside it is one source, swept from its cropped reference."""
    clips = tmp_path / "clips"
    make_multi_shot_clip(clips, "multi", frames=(8, 10))
    odd = clips / "odd.mkv"
    args = [
        *ff.base(ff.locate(None)),
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc=s=161x91:r=25",
    ]
    args += ["-frames:v", "8", "-pix_fmt", "yuv420p", "-c:v", "ffv1", *ff.BITEXACT]
    ff.run([*args, str(odd)]).check("odd clip")
    checkout = checkout_with(
        tmp_path / "c", sweep_ladder={"libx264": [30]}, sweep_codecs=["libx264"],
        shots={"min_frames": 4, "max_frames": 8},
    )  # fmt: skip
    result = snakemake(
        checkout, "--cores", "2", "sweep", "--config", f"sources={clips}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = rows_of(checkout)
    # the cut at frame 8; the 10 frames after it are longer than 8: two of 5
    assert [(r["src"], round(r["duration_s"] * 25)) for r in rows] == [
        ("multi@shot000", 8), ("multi@shot001", 5), ("multi@shot002", 5),
        ("odd", 8),
    ]  # fmt: skip
    references = checkout / "results" / "sweep" / "references"
    for row in rows:
        swept = references / f"{row['src']}.y4m"
        assert row["src_sha256"] == sha256_file(swept)
    assert (rows[-1]["width"], rows[-1]["height"]) == (160, 90)  # cropped
    shots = json.loads((checkout / "results/sweep/shots/multi.json").read_text())
    assert [s["starts_at"] for s in shots["shots"]] == ["start", "cut", "length"]
    summary = json.loads((checkout / "results/sweep/summary.json").read_text())
    assert (summary["clips"], summary["sources"]) == (2, 4)
    # the runtime measures a shot's reference exactly as its row says
    settings = sweep_settings(checkout / "config.yaml")
    features = measure_features(references / "multi@shot001.y4m", "libx264", settings)
    assert features == {name: rows[1][name] for name in FEATURE_NAMES[1:]}


def test_a_file_that_is_not_video_stops_the_run_before_any_encode(tmp_path):
    clips = tmp_path / "clips"
    make_tiny_clips(clips, names=("bars",))
    (clips / "zz_notes.mkv").write_text("not a video\n")
    checkout = checkout_with(tmp_path / "c", sweep_ladder=LADDERS)
    result = snakemake(
        checkout, "--cores", "2", "sweep", "--config", f"sources={clips}"
    )
    assert result.returncode != 0
    assert f"{clips / 'zz_notes.mkv'}: FFmpeg cannot open it as video" in result.stderr
    assert "Invalid data found when processing input" in result.stderr
    assert not (checkout / "results" / "sweep" / "encodes").exists()


def test_a_failed_encode_is_a_row_and_the_sweep_goes_on(tmp_path):
    clips = tmp_path / "clips"
    make_tiny_clips(clips, names=("carpet",))
    broken = {"production": {"libx265": ["-preset", "no-such-preset"]}}
    checkout = checkout_with(
        tmp_path / "c", sweep_ladder=LADDERS, sweep=broken,
        sweep_codecs=["libx264", "libx265"],
    )  # fmt: skip
    result = snakemake(
        checkout, "--cores", "2", "sweep", "--config", f"sources={clips}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = rows_of(checkout)
    assert [(r["encoder"], r["exit_status"] != 0) for r in rows] == [
        ("libx264", False),
        ("libx264", False),
        ("libx265", True),
    ]
    assert rows[2]["vmaf_score"] is None and "FFmpeg exit" in rows[2]["error"]
    log = checkout / "logs" / "sweep_encode" / "carpet" / "libx265" / "30.log"
    assert "no-such-preset" in log.read_text()  # FFmpeg's stderr, kept


def _kill_mid_sweep(checkout: Path, clips: Path, kill) -> dict[Path, int]:
    """Start the sweep, kill it once 10 encodes are done; the finished
    encodes' results and their mtimes."""
    encodes = checkout / "results" / "sweep" / "encodes"
    sweep = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            "2",
            "sweep",
            "--config",
            f"sources={clips}",
        ],
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while len(list(encodes.rglob("*.json"))) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    kill(sweep)
    try:
        sweep.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(sweep.pid, signal.SIGKILL)
        pytest.fail("the sweep was still running 60 s after the signal")
    return {p: p.stat().st_mtime_ns for p in encodes.rglob("*.json")}


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_killed_sweep_resumes_without_recomputing_finished_rows(tmp_path, how):
    """SIGTERM (a cluster's time limit) or SIGKILL of everything (power
    loss): the same command again resumes (after a SIGKILL, which leaves
    Snakemake's lock behind, `snakemake --unlock` first: docs/recovery.md);
    the jobs that were running are rerun (rerun-incomplete in the profile),
    the finished ones are not."""
    clips = tmp_path / "clips"
    make_tiny_clips(clips, names=("bars", "carpet"))
    ladder = {"libx264": {"first": 24, "last": 51, "step": 1}}
    checkout = checkout_with(
        tmp_path / "c", sweep_ladder=ladder, sweep_codecs=["libx264"]
    )
    if how == "SIGTERM":
        finished = _kill_mid_sweep(checkout, clips, lambda p: p.terminate())
    else:
        finished = _kill_mid_sweep(
            checkout, clips, lambda p: os.killpg(p.pid, signal.SIGKILL)
        )
    assert 10 <= len(finished) < 2 * 28
    if how == "SIGKILL":
        refused = snakemake(
            checkout, "--cores", "2", "sweep", "--config", f"sources={clips}"
        )
        assert refused.returncode != 0
        assert "Directory cannot be locked" in refused.stderr
        assert "--unlock" in refused.stderr
        assert snakemake(checkout, "--unlock").returncode == 0
    result = snakemake(
        checkout, "--cores", "2", "sweep", "--config", f"sources={clips}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(rows_of(checkout)) == 2 * 28
    rerun = [p for p, mtime in finished.items() if p.stat().st_mtime_ns != mtime]
    # At most the jobs running when it was killed (--cores 2: two at a time).
    assert len(rerun) <= 2, rerun


def test_a_hardware_codec_is_a_clear_error(tmp_path):
    clips = tmp_path / "clips"
    make_tiny_clips(clips, names=("bars",))
    checkout = checkout_with(tmp_path / "c")
    result = snakemake(
        checkout, "-n", "sweep", "--config", f"sources={clips}",
        "sweep_codecs=[libx264, av1_qsv]",
    )  # fmt: skip
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "key sweep_codecs: av1_qsv is a hardware encoder" in output
    assert "Intel GPU" in output and "/dev/dri/renderD128" in output


def test_a_sources_sheet_names_the_clips(tmp_path):
    clips = tmp_path / "clips"
    make_tiny_clips(clips, names=("bars", "carpet"))
    sheet = tmp_path / "sources.tsv"
    sheet.write_text("name\tpath\nshot-1\tclips/bars.y4m\nshot-2\tclips/carpet.mkv\n")
    checkout = checkout_with(tmp_path / "c", sweep_ladder=LADDERS)
    result = snakemake(checkout, "-n", "sweep", "--config", f"sources={sheet}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "clip=shot-1" in result.stdout and "clip=shot-2" in result.stdout

    sheet.write_text("name\tpath\nshot 1\tclips/bars.y4m\n")
    result = snakemake(checkout, "-n", "sweep", "--config", f"sources={sheet}")
    assert result.returncode != 0
    assert f"{sheet}:2: name: 'shot 1' does not match" in result.stdout + result.stderr


def test_sweep_without_sources_says_how_to_give_them(tmp_path):
    checkout = checkout_with(tmp_path / "c", codecs=("libx264",))
    result = snakemake(checkout, "-n", "sweep")
    assert result.returncode != 0
    assert "snakemake sweep --config sources=DIR" in result.stdout + result.stderr


def test_clips_to_real_models_and_a_corpus_beside_them(tmp_path):
    """`snakemake --config sources=DIR` sweeps and trains the swept codec;
    with corpus= as well, the rows are combined and the corpus report says
    how many came from each file."""
    clips = tmp_path / "clips"
    make_tiny_clips(clips, names=("bars", "carpet"))
    checkout = checkout_with(
        tmp_path / "c", codecs=("libx264", "libx265", "av1_qsv"),
        sweep_codecs=["libx264"], sweep_ladder={"libx264": [20, 27, 34, 41]},
    )  # fmt: skip
    result = snakemake(checkout, "--cores", "2", "--config", f"sources={clips}")
    assert result.returncode == 0, result.stderr[-3000:]
    card = (checkout / "model" / "predictor_libx264_card.md").read_text()
    assert "`real-N=8`" in card  # 2 clips x 4 quality values
    assert (
        "`synthetic-stub-N="
        in (checkout / "model" / "predictor_av1_qsv_card.md").read_text()
    )
    assert not (checkout / "results" / "report").exists()  # no report asked
    pages = snakemake(
        checkout, "--cores", "2", "report_pages", "--config", f"sources={clips}"
    )
    assert pages.returncode == 0, pages.stderr[-3000:]
    assert (checkout / "results" / "report" / "libx264" / "sweep.png").stat().st_size
    assert not (checkout / "results" / "report" / "libx265" / "sweep.png").exists()

    corpus = write_corpus(tmp_path / "hw.jsonl", real_rows("libx265", range(15, 30)))
    result = snakemake(
        checkout, "--cores", "2", "--config", f"sources={clips}", f"corpus={corpus}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = (checkout / "results" / "corpus_report.md").read_text()
    assert f"| {corpus} | 15 | 15 |" in report.replace("&#95;", "_")
    assert "| results/sweep/corpus.jsonl | 8 | 8 |" in report.replace("&#95;", "_")
    card = (checkout / "model" / "predictor_libx265_card.md").read_text()
    assert "`real-N=15`" in card


def test_pick_crf_on_a_clip_prints_the_answer_then_one_line_per_step(swept):
    checkout, clips = swept
    done = vmaf_predictor(
        checkout,
        "pick-crf",
        *("--source", str(clips / "rgb.mp4"), "--codec", "libx264"),
        *("--target", "90", "--verify", "--model-dir", str(ROOT / "model")),
    )
    assert done.returncode == 0, done.stderr
    first, *steps = done.stdout.splitlines()
    assert re.match(r"libx264: crf \d+ meets VMAF 90: measured \d+\.\d\d \(", first)
    assert 1 <= len(steps) <= 4
    for line in steps:
        assert re.match(
            r"  crf +\d+  predicted +\d+\.\d\d  measured +\d+\.\d\d +\d+\.\d "
            r"kbit/s +\d+\.\d s$",
            line,
        ), line


def test_a_recorded_search_step_is_the_row_the_sweep_wrote(swept, tmp_path):
    checkout, clips = swept
    clip = str(clips / "rgb.mp4")
    shown = vmaf_predictor(checkout, "features", clip, "--codec", "libx264", "--json")
    bitrate = json.loads(shown.stdout)["features"]["probe_bitrate_kbps"]
    # the analytical curve's pick is crf 24 exactly at this target (a ladder value)
    target = lookup_codec("libx264").analytical_vmaf(24, bitrate)
    record = tmp_path / "mine.jsonl"
    done = vmaf_predictor(
        checkout, "pick-crf", "--source", clip, "--codec", "libx264",
        "--target", repr(target), "--analytical", "--verify", "--max-encodes", "1",
        "--record", str(record),
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    (recorded,) = [json.loads(line) for line in record.read_text().splitlines()]
    (swept_row,) = [
        r
        for r in rows_of(checkout)
        if (r["src"], r["encoder"], r["crf"]) == ("rgb", "libx264", 24)
    ]
    untimed = ("encode_time_ms", "score_time_ms")
    assert {k: v for k, v in recorded.items() if k not in untimed} == {
        k: v for k, v in swept_row.items() if k not in untimed
    }
