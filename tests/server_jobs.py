"""Jobs for tests/test_job_server.py: the job server imports them by name
(``tests`` is on its PYTHONPATH there)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def exit_with(status: int) -> None:
    os._exit(status)


def fail() -> None:
    raise RuntimeError("this job fails")


def describe(path: str, module: str) -> None:
    """Write this process's pid, its parent's, and whether ``module`` was
    imported before the job began."""
    imported = module in sys.modules
    Path(path).write_text(f"{os.getpid()} {os.getppid()} {imported}\n")


def sleep_after_writing_pid(path: str) -> None:
    Path(path).write_text(f"{os.getpid()}\n")
    time.sleep(120)
