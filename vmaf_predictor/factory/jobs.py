"""What every job shares: the stage call (:func:`run_stage`, what every
rule's script in ``scripts/`` does), logging into the rule's log file, atomic
writes, and dying with the run that started it."""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

log = logging.getLogger("vmaf_predictor")

# The package of the stage modules that scripts name ("s3_train.run").
STAGE_PACKAGE = "vmaf_predictor.factory"
# The environment variable that names the Snakemake process a job dies with.
RUN_PID = "VMAF_PREDICTOR_RUN_PID"


# A stage's own failure (bad input, a check that fails, a file it cannot
# write): the message says it all, so it is logged without a traceback.
EXPECTED_ERRORS = (ValueError, OSError)
FAILED = 1
INTERRUPTED = 128 + signal.SIGINT


class JobFailed(SystemExit):
    """Ends the job with a non-zero status, its reason already logged."""


@contextlib.contextmanager
def logged_to(log_path: str | Path) -> Iterator[logging.Logger]:
    """Send the stage's logging (and any error) to the rule's log file.

    A stage's own error (:data:`EXPECTED_ERRORS`) is logged as one message
    and ends the job with :class:`JobFailed`, so Snakemake fails the job
    and shows the log (the profile's ``show-failed-logs``): the reason
    appears once, without a traceback. Anything else is a bug, logged and
    re-raised with its traceback.
    """
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield log
    except EXPECTED_ERRORS as error:
        log.error("%s", error)
        raise JobFailed(FAILED) from None
    except Exception as error:
        log.error("%s", error, exc_info=True)
        raise
    finally:
        root.removeHandler(handler)
        handler.close()


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write beside ``path`` and rename: readers never see half a file.

    The partial file has a fixed name, ``.<name>.partial``, so a write that
    was killed leaves at most one, which the next write of the file replaces.
    """
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "wb") as handle:
            handle.write(data)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def die_with_parent(parent: int | None = None) -> None:
    """Linux: end this process with SIGKILL when the process that started it
    ends, however it ends (a SIGKILL of Snakemake too), so no job outlives
    its run. ``parent``: the process that should have started this one; if
    it has ended already (before this call), end now. Elsewhere, nothing."""
    if not sys.platform.startswith("linux"):
        return
    parent = parent or os.getppid()
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) != 0:
        return  # not fatal: the job only loses this guarantee
    if os.getppid() != parent:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:  # the run ended before prctl
            os.kill(os.getpid(), signal.SIGKILL)
        except PermissionError:
            pass


def _interrupted(signum: int, frame: object) -> None:
    """Ctrl-C ends a job quietly (no traceback); Snakemake reports it."""
    raise SystemExit(INTERRUPTED)


def stage_function(stage: str) -> Callable[..., str]:
    """The function ``stage`` names ("s3_train.run": ``run`` of the module
    ``vmaf_predictor.factory.s3_train``), its module imported."""
    module, _, function = stage.partition(".")
    return getattr(importlib.import_module(f"{STAGE_PACKAGE}.{module}"), function)


def run_stage(snakemake: Any, stage: str) -> None:
    """What every rule's script does: call the stage function ``stage``
    (see :func:`stage_function`) with the job's input, output and params (as
    namespaces) and its codec wildcard (None without one), logging into the
    rule's log (:func:`logged_to`).

    The job ends quietly on Ctrl-C, and with the Snakemake process that
    started it (:func:`die_with_parent`; ``rules/common.smk`` names it in
    :data:`RUN_PID`).
    """
    signal.signal(signal.SIGINT, _interrupted)
    die_with_parent(int(os.environ.get(RUN_PID, 0)) or None)
    files = {
        name: SimpleNamespace(**dict(getattr(snakemake, name).items()))
        for name in ("input", "output", "params")
    }
    codec = snakemake.wildcards.get("codec")
    with logged_to(snakemake.log[0]) as job_log:
        run = stage_function(stage)
        job_log.info("%s", run(files["input"], files["output"], files["params"], codec))
