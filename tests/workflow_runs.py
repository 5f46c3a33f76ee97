"""Helpers of the tests that run the real workflow: Snakemake in a checkout,
and small real (Phase A) corpora."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path


def python_module(
    checkout: Path, module: str, *args: str
) -> subprocess.CompletedProcess:
    """``python -m MODULE ARGS`` in ``checkout`` with its own copy of the
    package, output captured."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
    )


def snakemake(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m snakemake ARGS`` in ``checkout`` (its own package)."""
    return python_module(checkout, "snakemake", *args)


def vmaf_predictor(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m vmaf_predictor ARGS`` in ``checkout`` (its own package)."""
    return python_module(checkout, "vmaf_predictor", *args)


def real_rows(encoder: str, crfs: Iterable[int], offset: float = 0.0) -> list[dict]:
    """Phase A rows of one encoder at 1080p, VMAF falling one point per CRF."""
    return [
        {"encoder": encoder, "crf": crf, "vmaf_score": 99.0 - crf + offset,
         "width": 1920, "height": 1080, "framerate": 30, "duration_s": 4.0,
         "bitrate_kbps": 9000.0 - 150 * crf, "exit_status": 0}
        for crf in crfs
    ]  # fmt: skip


def phase_a(**changes: object) -> dict:
    """One well-formed Phase A row of libx264 (stand-in features); each
    change sets a key, ``...`` removes it."""
    row = {
        "schema_version": 3,
        "encoder": "libx264",
        "crf": 23,
        "vmaf_score": 91.5,
        "bitrate_kbps": 4200.0,
        "framerate": 30.0,
        "duration_s": 5.0,
        "width": 1920,
        "height": 1080,
        "encode_size_bytes": 2_625_000,
        "exit_status": 0,
    }
    row.update(changes)
    return {key: value for key, value in row.items() if value is not ...}


def write_corpus(path: Path, rows: list[dict]) -> Path:
    """``rows`` as a JSONL corpus file."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path
