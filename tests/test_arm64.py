"""The pieces of the aarch64 tier that need neither qemu nor its downloads
(the tier itself: make test-arm64)."""

from __future__ import annotations

import json

import arm64
import pytest
import repro


def test_the_aarch64_lock_pins_the_x86_64_versions():
    """A re-pin of envs/requirements.txt must re-make the aarch64 lock too
    (`make lock` does both), or the tier would test other releases."""
    x86 = arm64.x86_versions()
    pins = arm64.read_lock()
    shared = [p for p in pins if p.name in x86]
    assert {"torch", "numpy", "onnx", "onnxruntime", "pyarrow"} <= {
        p.name for p in shared
    }
    assert [(p.name, p.version) for p in shared] == [
        (p.name, x86[p.name]) for p in shared
    ]


def test_the_aarch64_lock_has_one_hashed_wheel_per_package_and_no_triton():
    pins = arm64.read_lock()
    assert len({p.name for p in pins}) == len(pins)
    assert all(p.file.endswith(".whl") and len(p.sha256) == 64 for p in pins)
    assert "triton" not in {p.name for p in pins}


def test_cpu_files_are_what_linux_shows_for_a_neoverse_n1():
    # MIDR_EL1 and HWCAP as qemu-aarch64 -cpu neoverse-n1 reports them.
    files = arm64.cpu_files(0x414FD0C1, 0x119FFB, 0, cpus=2)
    cpuinfo = files["proc/cpuinfo"]
    assert cpuinfo.count("processor\t:") == 2
    assert "CPU implementer\t: 0x41\n" in cpuinfo
    assert "CPU variant\t: 0x4\nCPU part\t: 0xd0c\nCPU revision\t: 1\n" in cpuinfo
    features = cpuinfo.split("Features\t: ")[1].split("\n")[0].split()
    # A real Neoverse N1's list, but for evtstrm and ssbs, which qemu lacks.
    expected = "fp asimd aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid"
    assert features == [*expected.split(), "asimdrdm", "lrcpc", "dcpop", "asimddp"]
    midr = "sys/devices/system/cpu/cpu1/regs/identification/midr_el1"
    assert files[midr] == "0x00000000414fd0c1\n"
    assert files["sys/devices/system/cpu/possible"] == "0-1\n"


def test_a_json_difference_is_named_by_its_first_field():
    mine = json.dumps({"codec": "libx264", "loss": [1.5, 0.25], "rmse": 2.0})
    theirs = json.dumps({"codec": "libx264", "loss": [1.5, 0.2500001], "rmse": 3.0})
    where = repro.first_difference(mine.encode(), theirs.encode(), "x.trained.json")
    assert where == "field loss[1]: 0.25 != 0.2500001"


def test_a_json_difference_in_the_sign_of_zero_is_found():
    where = repro.first_difference(b'{"a": 0.0}', b'{"a": -0.0}', "x.json")
    assert where == "field a: 0.0 != -0.0"


def test_a_binary_difference_is_named_by_its_byte_offset():
    where = repro.first_difference(b"\0\1\2\3", b"\0\1\7\3", "predictor_x.onnx")
    assert where == "byte 2 (sizes 4 and 4)"


def test_a_text_difference_names_its_line():
    mine, theirs = b"# card\n| torch | 2.13.0 |\n", b"# card\n| torch | 2.13.0+cpu |\n"
    where = repro.first_difference(mine, theirs, "card.md")
    assert where == (
        "byte 23 (sizes 26 and 30), line 2: "
        "'| torch | 2.13.0 |' != '| torch | 2.13.0+cpu |'"
    )


def test_a_cpu_name_that_is_no_qemu_model_name_fails_before_anything_runs(tmp_path):
    with pytest.raises(arm64.SetupError, match=r"ARM_CPU='a72; rm -rf x': not a qemu"):
        arm64.cpu_sysroot(tmp_path / "sysroot", tmp_path, "a72; rm -rf x")
    assert list(tmp_path.iterdir()) == []


def test_the_other_python_gets_its_own_paths_and_the_condition_s_variables():
    interpreter = repro.Interpreter(("python3.11",), {"PYTHONPATH": "/site"})
    condition = repro.Condition(
        "hash seed", {"PYTHONHASHSEED": "random"}, interpreter=interpreter
    )
    env = repro._environment(condition)
    assert env["PYTHONPATH"] == "/site" and env["PYTHONHASHSEED"] == "random"
    assert "VIRTUAL_ENV" not in env and "OPENBLAS_CORETYPE" not in env
