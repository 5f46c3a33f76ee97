"""The runtime (what programs import) never imports the factory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vmaf_predictor"
RUNTIME = sorted(
    [f"vmaf_predictor.runtime.{p.stem}" for p in (PACKAGE / "runtime").glob("*.py")]
    + ["vmaf_predictor.registry", "vmaf_predictor.names", "vmaf_predictor.config_file"]
)
BLOCKED = "import sys; sys.modules['vmaf_predictor.factory'] = None; import {}"


def _import_without_factory(module: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCKED.format(module)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("module", RUNTIME)
def test_a_runtime_module_imports_with_the_factory_absent(module: str) -> None:
    done = _import_without_factory(module)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1]


def test_a_module_that_needs_the_factory_fails_the_check() -> None:
    done = _import_without_factory("vmaf_predictor.factory.s8_hash")
    assert done.returncode != 0 and "vmaf_predictor.factory" in done.stderr
