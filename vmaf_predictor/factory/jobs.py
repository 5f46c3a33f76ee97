"""What every job shares: the stage call, logging into the rule's log file,
atomic writes, and dying with the run that started it."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("vmaf_predictor")


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
