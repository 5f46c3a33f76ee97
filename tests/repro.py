"""Reproducibility conditions: build under one, compare with model/.

Used by the fast subset in tests/test_repro.py (part of `make test`), by
the full matrix, `make test-repro` (tests/repro_matrix.py), and by the
aarch64 tier, `make test-arm64` (tests/repro_arm64.py).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from checkout import copy_workflow
from workflow_runs import real_rows, write_corpus

from vmaf_predictor.factory import verify
from vmaf_predictor.names import card_file_name, model_file_name

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "model"
QEMU = "qemu-x86_64"


@dataclass(frozen=True)
class Interpreter:
    """A Python of another architecture (tests/arm64.py makes the aarch64
    one): the command that starts it and the variables that replace the
    caller's Python settings (``PYTHONPATH`` at its own packages)."""

    argv: tuple[str, ...]
    env: dict[str, str]


@dataclass(frozen=True)
class Condition:
    """One way of running the build that must not change a byte."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    cpu_model: str | None = None  # run under qemu-x86_64 -cpu <model>
    cores: int = 2
    # Every stage, the checks and cards too, under this Python: what a user
    # of that architecture runs.
    interpreter: Interpreter | None = None


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
    if condition.interpreter is not None:
        # Nothing of this machine's Python (its venv, its packages) and no
        # x86 kernel name may reach the other architecture's Python.
        # The condition's own variables (PYTHONHASHSEED=random) still apply.
        for key in [k for k in env if k.startswith("PYTHON") or k == "VIRTUAL_ENV"]:
            if key not in condition.env:
                del env[key]
        if "OPENBLAS_CORETYPE" not in condition.env:
            env.pop("OPENBLAS_CORETYPE", None)
        env.update(condition.interpreter.env)
    return env


def build_in_process(
    condition: Condition, out: Path, codecs: list[str], config: Path | None = None
) -> Path:
    """All stages for ``codecs``, each group in one process (with ``config``
    instead of config.yaml, if given). Under a CPU model, the split, corpus
    and train run emulated (one qemu process); the export (a graph of the
    trained values, its checks and card), which only reads those bytes, runs
    natively. Under an interpreter of another
    architecture, every stage runs under it."""
    command = [sys.executable, str(ROOT / "tools" / "one_process.py"), str(out)]
    if config is not None:
        command += ["--config", str(config)]
    for codec in codecs:
        command += ["--codec", codec]
    if condition.interpreter is not None:
        runs = [[*condition.interpreter.argv, *command[1:]]]
    elif condition.cpu_model:
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


def real_corpus_config(directory: Path) -> Path:
    """A config for libx264 alone from a small real corpus (written into
    ``directory``): five sources, so the split is by source; grouped
    cross-validation (2 folds, 2 seeds), and the choice among the network,
    the curves and their blends on two inner folds (the final model ships
    the network, the outer folds the content-slope curve)."""

    # VMAF falls with CRF the faster, the more bits a source takes (the shape
    # the sweep measures: the content-slope curve follows it), and every
    # other source, a longer shot, scores 15 lower (only the network reads
    # the shot length).
    def vmaf(k: int, crf: int) -> float:
        curve = 100 / (1 + math.exp((0.1 + 0.03 * k) * (crf - 30) - 3))
        return round(curve - 15.0 * (k % 2), 4)

    rows = [
        {**row, "src": f"clip{k}.y4m", "bitrate_kbps": 600.0 * 1.7**k,
         "duration_s": 4.0 + 2.0 * (k % 2), "vmaf_score": vmaf(k, row["crf"])}
        for k in range(5)
        for row in real_rows("libx264", range(18, 46, 4))
    ]  # fmt: skip
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["corpus"] = str(write_corpus(directory / "real.jsonl", rows))
    config["codecs"] = {"libx264": config["codecs"]["libx264"]}
    config["train"]["epochs"] = 15
    config["evaluation"] = {
        "folds": 2, "seeds": 2, "early_stopping": True, "blend": True,
        "curves": ["logistic", "content_slope"], "selection_folds": 2,
    }  # fmt: skip
    settings = directory / "config.yaml"
    settings.write_text(yaml.safe_dump(config))
    return settings


def first_difference(mine: bytes, theirs: bytes, name: str) -> str:
    """Where two versions of a file first differ: the first field whose
    value differs (JSON files), else the first byte offset (and its line,
    for text)."""
    if name.endswith(".json"):
        try:
            field_path = _first_json_difference(json.loads(mine), json.loads(theirs))
        except ValueError:
            field_path = None
        if field_path is not None:
            return field_path
    offset = next(
        (i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b),
        min(len(mine), len(theirs)),
    )
    where = f"byte {offset} (sizes {len(mine)} and {len(theirs)})"
    if b"\0" in mine or b"\0" in theirs:
        return where  # binary (ONNX, Parquet)
    try:
        a, b = mine.decode(), theirs.decode()
    except UnicodeDecodeError:
        return where
    line = mine[:offset].count(b"\n")
    ours, other = (
        t.splitlines()[line] if line < len(t.splitlines()) else "(end of file)"
        for t in (a, b)
    )
    return f"{where}, line {line + 1}: {ours!r} != {other!r}"


def _first_json_difference(a: object, b: object, path: str = "") -> str | None:
    """The path of the first differing field of two decoded JSON values, and
    both values; None when they are equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            if key not in a or key not in b:
                return f"field {path}{key}: only in one of them"
            found = _first_json_difference(a[key], b[key], f"{path}{key}.")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = _first_json_difference(x, y, f"{path.rstrip('.')}[{i}].")
            if found is not None:
                return found
        if len(a) != len(b):
            return f"field {path.rstrip('.')}: {len(a)} items != {len(b)} items"
        return None
    if json.dumps(a) != json.dumps(b):  # by text: -0.0 is not 0.0 here
        return f"field {path.rstrip('.')}: {a!r} != {b!r}"
    return None


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
