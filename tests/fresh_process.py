"""Run a snippet in a new Python process: determinism claims are about
processes (hash seeds, time zones, working directories, import order), so
their tests compare a result made here with one made there."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Settings a second process gets unless a test says otherwise: whatever the
# result must not depend on.
OTHER_PROCESS = {
    "PYTHONHASHSEED": "12345",
    "TZ": "Pacific/Kiritimati",
    "LANG": "C",
    "LC_ALL": "C",
    "USER": "someone-else",
}


def python_output(
    code: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> str:
    """stdout of ``code`` run by this interpreter in a new process."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **OTHER_PROCESS, **(env or {})},
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise AssertionError(f"the other process failed:\n{result.stderr}")
    return result.stdout.strip()
