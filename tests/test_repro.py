"""Fast guard of the byte-stability promise (the full matrix: make test-repro).

Each condition rebuilds two codecs in one process and compares them with the
committed model/ files.
"""

from __future__ import annotations

import pytest
import repro

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
