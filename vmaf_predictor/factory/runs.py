"""One run at a time in a checkout, and runs that stop cleanly.

Called from ``rules/common.smk`` in Snakemake's main process:

- :func:`claim_checkout` takes the checkout's lock (``flock`` on
  ``.snakemake/checkout.lock``) while the Snakefile is read, and holds it
  until the process ends, however it ends: the kernel drops it even after a
  SIGKILL, so it is never stale. Every run that executes jobs must hold it
  (:func:`require_checkout`, at ``onstart``), so two runs never mix their
  inputs, whatever their targets. Dry runs and reports do not need it; a
  run without it is told who holds it. It replaces Snakemake's own lock
  (``nolock`` in the profile), which covers only overlapping files, is
  checked and written in two steps (two runs started together can both
  pass), and is left behind by a killed run.
- Holding the lock proves that no other run of this workflow is alive, so
  a Snakemake lock (``.snakemake/locks``, from a run given its own profile)
  found then was left by a run that was killed: :func:`claim_checkout`
  removes it. The next plain run resumes (``rerun-incomplete`` in the
  profile).
- :func:`interrupt_stops_jobs`: Ctrl-C (SIGINT) stops the running jobs at
  once, instead of Snakemake waiting for them to finish (jobs start with
  SIGINT held until their own handler is in place, see ``job_server``).
- :func:`terminate_stops_jobs`: SIGTERM (a cluster's time limit, ``kill``)
  does the same, at ``onstart``. Snakemake's own SIGTERM handler takes the
  scheduler's lock, which the main thread holds while it selects jobs: a
  SIGTERM then hangs the run for ever (measured: 2 of 6 sweeps killed with
  SIGTERM mid-run never ended).
- :func:`unwritable_outputs`: the first directory a run would write in and
  cannot, named before any job starts.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vmaf_predictor.factory.jobs import INTERRUPTED

LOCK_FILE = Path(".snakemake") / "checkout.lock"
SNAKEMAKE_LOCKS = Path(".snakemake") / "locks"


@dataclass
class Claim:
    """The checkout lock as this process found it."""

    path: Path
    held: bool
    holder: str = ""  # who holds it, when this process does not
    note: str = ""  # something to tell the user (a stale lock removed, ...)
    fd: int | None = None


_claim: Claim | None = None


def _describe_self() -> str:
    command = shlex.join(["snakemake", *sys.argv[1:]])
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    return f"pid {os.getpid()}, started {started}: {command}"


def _try_lock(claim: Claim) -> bool:
    if claim.fd is None:
        claim.path.parent.mkdir(parents=True, exist_ok=True)
        # O_CLOEXEC: jobs do not inherit it; the lock ends with this process.
        claim.fd = os.open(claim.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(claim.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        with contextlib.suppress(OSError):
            claim.holder = os.pread(claim.fd, 4096, 0).decode(errors="replace").strip()
        return False
    except OSError as error:
        if error.errno not in (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
        # A file system without locks: run unguarded, and say so.
        claim.note = (
            f"note: {claim.path} cannot be locked on this file system "
            f"({error.strerror}); nothing stops a second run in this checkout"
        )
        return True
    os.ftruncate(claim.fd, 0)
    os.pwrite(claim.fd, (_describe_self() + "\n").encode(), 0)
    claim.holder = ""
    return True


def claim_checkout(directory: str | Path = ".") -> Claim:
    """Take the checkout lock if no other run holds it (never waits).

    Holding it, remove the Snakemake lock a killed run left behind.
    """
    global _claim
    directory = Path(directory)
    claim = Claim(directory / LOCK_FILE, held=False)
    claim.held = _try_lock(claim)
    locks = directory / SNAKEMAKE_LOCKS
    if claim.held and not claim.note and locks.is_dir() and any(locks.iterdir()):
        shutil.rmtree(locks)
        claim.note = (
            f"note: removed the lock in {locks} left by a run that was killed "
            "(no other run is using this checkout)"
        )
    elif not claim.held:
        claim.note = (
            f"note: another run is using this checkout ({claim.holder}); this "
            "one cannot run jobs until it ends (a dry run is fine)"
        )
    _claim = claim
    return claim


def require_checkout() -> str | None:
    """At the start of a run that executes jobs: None when this process
    holds the checkout lock, else the one-line reason it may not run.

    A run that did not get the lock while the Snakefile was read planned its
    jobs from files another run was writing: it never runs them.
    """
    claim = _claim
    if claim is None or claim.held:
        return None
    return (
        f"another run is using this checkout ({claim.holder}); wait for it to "
        "finish, or stop it, then run your command again"
    )


TERMINATED = 128 + signal.SIGTERM


def interrupt_stops_jobs() -> None:
    """On SIGINT, send SIGTERM to every process this one started (the
    running jobs and theirs), then exit with status 130 (SystemExit, which
    Snakemake's scheduler handles as it does Ctrl-C, and which prints no
    traceback while the Snakefile is read or the jobs are planned).

    Snakemake alone waits for running jobs to end after Ctrl-C, which takes
    as long as the slowest job when only it got the signal.
    """
    signal.signal(signal.SIGINT, _stop_jobs_and_exit(INTERRUPTED))


def terminate_stops_jobs() -> None:
    """On SIGTERM, what Ctrl-C does, exiting with status 143. Call it once
    Snakemake's scheduler exists (``onstart``): the scheduler installs its
    own SIGTERM handler, which waits for a lock the interrupted main thread
    may hold, and so never returns."""
    signal.signal(signal.SIGTERM, _stop_jobs_and_exit(TERMINATED))


def _stop_jobs_and_exit(status: int):
    def stop(signum, frame):
        import psutil

        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.terminate()
        if _exiting(frame):
            return  # Snakemake has finished; Python is ending its threads
        raise SystemExit(status)

    return stop


def _exiting(frame) -> bool:
    """Whether the interpreter is ending (waiting for its threads)."""
    import threading

    code = getattr(frame, "f_code", None)
    return code is not None and (code.co_name, code.co_filename) == (
        "_shutdown",
        threading.__file__,
    )


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path if path.is_dir() else path.parent


def unwritable_outputs(outputs: Iterable[str | Path]) -> str | None:
    """The first directory that an output would be written in (or created
    below) and this process cannot write, as a path relative to the working
    directory; None when all are writable."""
    seen: set[Path] = set()
    for output in outputs:
        directory = _existing_ancestor(Path(output).parent)
        if directory in seen:
            continue
        seen.add(directory)
        if not os.access(directory, os.W_OK | os.X_OK):
            with contextlib.suppress(ValueError):
                return f"{directory.relative_to(Path.cwd())}/"
            return f"{directory}/"
    return None
