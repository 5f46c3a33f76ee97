"""The sweep's own tier (`make test-sweep`; not in `make test`): the default
ladders of the five software encoders on clips this test makes, twice, in
two checkouts, and the one command from clips to real models.

About 5 minutes on 2 cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from checkout import ROOT, copy_workflow
from clips import make_clip
from workflow_runs import snakemake, vmaf_predictor

from vmaf_predictor.runtime.features import FEATURE_NAMES
from vmaf_predictor.runtime.rows import TIMING_KEYS

pytestmark = pytest.mark.sweep

SWEPT = ("libx264", "libx265", "libsvtav1", "libaom-av1", "libvvenc")
# 192x108, 16-20 frames; lavfi sources the demo does not use.
CLIPS = {
    "bars": ("smptebars=s=192x108:r=25,noise=alls=10:allf=t:all_seed=4", 20, ".y4m"),
    "carpet": ("sierpinski=s=192x108:r=24:seed=5:jump=8:type=triangle", 16, ".mkv"),
    "rgb": ("rgbtestsrc=s=192x108:r=30000/1001,hue=H=t*90", 18, ".mp4"),
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("clips")
    for name, (graph, frames, suffix) in CLIPS.items():
        make_clip(directory, name, graph, frames, suffix)
    return directory


def sweep(checkout: Path, clips: Path) -> list[dict]:
    result = snakemake(
        checkout, "--cores", "2", "sweep", "--config", f"sources={clips}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = (checkout / "results" / "sweep" / "corpus.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def without_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


def test_the_same_clips_and_settings_give_the_same_rows(clips, tmp_path):
    """Every encoder at the default settings (one pinned thread) in two
    checkouts, one in a path with a space: the same rows but the timings."""
    first = sweep(copy_workflow(tmp_path / "one", codecs=SWEPT), clips)
    second = sweep(copy_workflow(tmp_path / "an other", codecs=SWEPT), clips)
    assert len(first) == 3 * 51
    assert without_timing(first) == without_timing(second)
    assert all(r["exit_status"] == 0 for r in first)
    for row in first:
        assert all(row[name] > 0 for name in ("probe_bitrate_kbps", "y_avg", "fps"))


def test_one_command_from_clips_to_real_models(clips, tmp_path):
    """`snakemake --cores 2 --config sources=DIR` sweeps, then trains every
    swept codec; the other codecs stay their committed stubs."""
    all_codecs = list(yaml.safe_load((ROOT / "config.yaml").read_text())["codecs"])
    checkout = copy_workflow(tmp_path / "c", codecs=all_codecs)
    ladder = {codec: {"first": 20, "last": 38, "step": 6} for codec in SWEPT}
    settings = yaml.safe_load((checkout / "config.yaml").read_text())
    settings["sweep_ladder"] = ladder
    (checkout / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    result = snakemake(checkout, "--cores", "2", "--config", f"sources={clips}")
    assert result.returncode == 0, result.stderr[-3000:]
    model = checkout / "model"
    for codec in SWEPT:
        card = (model / f"predictor_{codec}_card.md").read_text()
        assert "`real-N=12`" in card, codec  # 3 clips x 4 quality values
    for codec in set(all_codecs) - set(SWEPT):
        for name in (f"predictor_{codec}.onnx", f"predictor_{codec}_card.md"):
            assert (model / name).read_bytes() == (ROOT / "model" / name).read_bytes()

    # verify checks the new models from the sweep's rows, without sweeping
    rows = checkout / "results" / "sweep" / "corpus.jsonl"
    verified = snakemake(
        checkout, "--cores", "2", "verify", "--config", f"corpus={rows}"
    )
    assert verified.returncode == 0, verified.stderr[-3000:]

    # predict, then verify, with the new model
    done = vmaf_predictor(
        checkout,
        "pick-crf",
        *("--source", str(clips / "carpet.mkv"), "--codec", "libx265"),
        *("--target", "90", "--verify", "--json"),
        *("--model-dir", str(model), "--config", str(checkout / "config.yaml")),
    )
    assert done.returncode == 0, done.stderr
    pick = json.loads(done.stdout)
    assert pick["model"]["corpus"] == "real-N=12"
    assert 0 <= pick["predicted_vmaf"] <= 100 and 0 <= pick["measured_vmaf"] <= 100
    assert list(pick["features"]) == list(FEATURE_NAMES[1:])
