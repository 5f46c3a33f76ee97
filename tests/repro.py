"""Reproducibility conditions: build under one, compare with model/.

Used by the fast subset in tests/test_repro.py (part of `make test`) and by
the full matrix, `make test-repro` (tests/repro_matrix.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from checkout import copy_workflow

from vmaf_predictor.build import verify
from vmaf_predictor.names import card_file_name, model_file_name

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "model"
QEMU = "qemu-x86_64"


@dataclass(frozen=True)
class Condition:
    """One way of running the build that must not change a byte."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    cpu_model: str | None = None  # run under qemu-x86_64 -cpu <model>
    cores: int = 2


@dataclass(frozen=True)
class Outcome:
    condition: str
    compared: int
    differing: list[str]

    @property
    def identical(self) -> bool:
        return not self.differing


ENV_CONDITIONS = (
    Condition(
        "OMP/MKL_NUM_THREADS=1", {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    ),
    Condition(
        "OMP/MKL_NUM_THREADS=2", {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    ),
    Condition(
        "OMP/MKL_NUM_THREADS=4", {"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4"}
    ),
    Condition("ATEN_CPU_CAPABILITY=default", {"ATEN_CPU_CAPABILITY": "default"}),
    Condition("ATEN_CPU_CAPABILITY=avx2", {"ATEN_CPU_CAPABILITY": "avx2"}),
    Condition("ATEN_CPU_CAPABILITY=avx512", {"ATEN_CPU_CAPABILITY": "avx512"}),
    Condition("MKL_ENABLE_INSTRUCTIONS=AVX2", {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}),
    Condition("PYTHONHASHSEED=random", {"PYTHONHASHSEED": "random"}),
    Condition("TZ=Pacific/Kiritimati", {"TZ": "Pacific/Kiritimati"}),
    Condition("LANG=C", {"LANG": "C", "LC_ALL": "C"}),
    Condition("LANG=C.UTF-8", {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}),
)


def _environment(condition: Condition) -> dict[str, str]:
    env = {**os.environ, **condition.env}
    # The caller's own settings must not leak into a condition that omits them.
    for key in ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS"):
        if key not in condition.env:
            env.pop(key, None)
    # A machine may pin OpenBLAS's kernel to its own CPU (OPENBLAS_CORETYPE);
    # under an emulated CPU that kernel is an illegal instruction, so pin the
    # emulated CPU's own kernel instead (OpenBLAS names them alike).
    if condition.cpu_model and "OPENBLAS_CORETYPE" in env:
        env["OPENBLAS_CORETYPE"] = condition.cpu_model
    return env


def build_in_process(
    condition: Condition, out: Path, codecs: list[str], config: Path | None = None
) -> Path:
    """All stages for ``codecs``, each group in one process (with ``config``
    instead of config.yaml, if given). Under a CPU model, the split, corpus,
    train and export run emulated (one qemu process); the checks and cards,
    which only read those bytes, run natively."""
    command = [sys.executable, str(ROOT / "tools" / "one_process.py"), str(out)]
    if config is not None:
        command += ["--config", str(config)]
    for codec in codecs:
        command += ["--codec", codec]
    if condition.cpu_model:
        emulated = [QEMU, "-cpu", condition.cpu_model, *command, "--stages", "train"]
        runs = [emulated, [*command, "--stages", "check"]]
    else:
        runs = [command]
    for run in runs:
        result = subprocess.run(
            run, env=_environment(condition), capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"{condition.name}: build failed:\n{result.stderr}")
    return out


def compare_subset(
    produced: Path, codecs: list[str], reference: Path | None = None
) -> Outcome:
    """Compare the model files of ``codecs`` with the committed ones and, given
    a ``reference`` build, the float64 training results too: rounding to
    float32 could hide a difference in training, the exact loss curve cannot.
    (SHA256SUMS is left out: it lists all 14 codecs.)"""
    pairs = [
        (produced / name, COMMITTED / name)
        for c in codecs
        for name in (model_file_name(c), card_file_name(c))
    ]
    if reference is not None:
        pairs += [
            (produced / "work" / name, reference / "work" / name)
            for c in codecs
            for name in (f"{c}.json", f"{c}.trained.json")
        ]
    differing = [
        str(mine.relative_to(produced))
        for mine, theirs in pairs
        if mine.read_bytes() != theirs.read_bytes()
    ]
    return Outcome("", len(pairs), differing)


def make_checkout(parent: Path, name: str = "checkout") -> Path:
    """A copy of the workflow and the committed model/, as a clone has them."""
    return copy_workflow(parent / name, with_models=True)


def verify_in_checkout(condition: Condition, checkout: Path) -> Outcome:
    """`snakemake verify` under ``condition``; every file of model/ compared."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", str(condition.cores), "verify"],
        cwd=checkout,
        env=_environment(condition),
        capture_output=True,
        text=True,
    )
    produced = checkout / "results" / "verify" / "last" / "model"
    if not produced.is_dir():
        raise RuntimeError(f"{condition.name}: verify did not build:\n{result.stderr}")
    rows = verify.compare(checkout / "model", produced)
    return Outcome(condition.name, len(rows), [r.file for r in rows if not r.ok])


def scratch() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="vmaf-repro-")


def qemu_available() -> bool:
    return shutil.which(QEMU) is not None
