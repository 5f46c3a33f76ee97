"""Fast guard of the byte-stability promise (the full matrix: make test-repro).

Each condition rebuilds two codecs in one process and compares them with the
committed model/ files.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import repro
from test_curve_head import PINNED

CODECS = ["libx264", "av1_qsv"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    """This machine, untouched environment: the float64 reference."""
    out = tmp_path_factory.mktemp("native")
    return repro.build_in_process(repro.Condition("native"), out, CODECS)


def test_native_build_gives_the_committed_bytes(native):
    assert repro.compare_subset(native, CODECS).differing == []


@pytest.mark.parametrize("condition", repro.ENV_CONDITIONS, ids=lambda c: c.name)
def test_caller_environment_changes_no_bit_of_training(condition, native, tmp_path):
    produced = repro.build_in_process(condition, tmp_path, CODECS)
    assert repro.compare_subset(produced, CODECS, native).differing == []


@pytest.mark.skipif(not repro.qemu_available(), reason="qemu-x86_64 is not installed")
def test_an_sse4_2_only_cpu_changes_no_bit_of_training(native, tmp_path):
    # Nehalem: no AVX at all, so torch, NumPy and glibc all take other code paths.
    condition = repro.Condition("qemu -cpu Nehalem", cpu_model="Nehalem")
    produced = repro.build_in_process(condition, tmp_path, CODECS)
    assert repro.compare_subset(produced, CODECS, native).differing == []


@pytest.mark.skipif(not repro.qemu_available(), reason="qemu-x86_64 is not installed")
def test_grouped_cross_validation_is_the_same_on_an_sse4_2_only_cpu(tmp_path):
    """A real corpus: the split, the grouped folds, the choice among the
    network, the curves and their blends on two inner folds (the final model
    ships the network, the outer folds the content-slope curve, whose
    predictions the training results keep), and the baselines' figures,
    natively and under Nehalem."""

    settings = repro.real_corpus_config(tmp_path)
    native = repro.build_in_process(
        repro.Condition("native"), tmp_path / "native", ["libx264"], settings
    )
    nehalem = repro.build_in_process(
        repro.Condition("qemu -cpu Nehalem", cpu_model="Nehalem"),
        tmp_path / "nehalem",
        ["libx264"],
        settings,
    )
    trained = json.loads((native / "work" / "libx264.trained.json").read_text())
    assert trained["evaluation"]["split"] == "source"
    assert trained["evaluation"]["selection"]["chosen"] == "network"
    assert trained["evaluation"]["fold_choices"] == ["content_slope"] * 2
    assert (
        trained["evaluation"]["folds"] == 2
        and len(trained["evaluation"]["seed_rmse"]) == 2
    )
    for name in (
        "predictor_libx264.onnx",
        "predictor_libx264_card.md",
        "work/libx264.trained.json",
    ):
        assert (nehalem / name).read_bytes() == (native / name).read_bytes(), name


@pytest.mark.skipif(not repro.qemu_available(), reason="qemu-x86_64 is not installed")
def test_the_p_frame_curve_fit_is_the_same_bits_on_an_sse4_2_only_cpu():
    """The content-slope curve with its P-frame term (g2 > 0), fitted under
    Nehalem, gives the pinned bits of this machine's fit."""
    fit = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from test_curve_head import _p_frame_like\n"
        "from vmaf_predictor.factory import curve_head, network\n"
        "features, targets = _p_frame_like()\n"
        "curve = curve_head.fit_columns(network.model_inputs(features), targets)\n"
        "print(' '.join(float(p).hex() for p in curve.params))\n"
    )
    condition = repro.Condition("qemu -cpu Nehalem", cpu_model="Nehalem")
    result = subprocess.run(
        [repro.QEMU, "-cpu", "Nehalem", sys.executable, "-c", fit],
        cwd=repro.ROOT,
        env=repro._environment(condition),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == PINNED["fitted_p"]
