"""What a run does at its start (``rules/common.smk``, at ``onstart``, in
Snakemake's main process, once it holds Snakemake's lock):

- :func:`signals_stop_jobs`: Ctrl-C and SIGTERM stop the running jobs at
  once. A workaround of two things Snakemake 9 does (no upstream issue found
  for either): its Ctrl-C waits for the running jobs to finish
  (``LocalExecutor.cancel`` shuts its thread pool down, waiting), and its
  SIGTERM handler (``JobScheduler.exit_gracefully``) takes the scheduler's
  lock, which the main thread holds while it selects jobs: a SIGTERM then
  hangs the run for ever (measured: 2 of 6 sweeps sent SIGTERM mid-run
  never ended).
- :func:`unwritable_outputs`: the first directory it would write in and
  cannot, named before any job starts.

And while the workflow is read, :func:`tolerate_released_locks`.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable
from pathlib import Path


def signals_stop_jobs() -> None:
    """On SIGINT or SIGTERM, send SIGTERM to the running jobs (this
    process's children), then exit with 128 + the signal's number
    (SystemExit, which Snakemake's scheduler handles as it does Ctrl-C)."""

    def stop(signum, frame):
        import psutil

        for child in psutil.Process().children():
            with contextlib.suppress(psutil.Error):
                child.terminate()
        if _exiting(frame):
            return  # Snakemake has finished; Python is ending its threads
        raise SystemExit(128 + signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)


def _exiting(frame) -> bool:
    """Whether the interpreter is ending (waiting for its threads): an
    exception raised there is printed with a traceback."""
    import threading

    code = getattr(frame, "f_code", None)
    return code is not None and (code.co_name, code.co_filename) == (
        "_shutdown",
        threading.__file__,
    )


def tolerate_released_locks() -> None:
    """A workaround of Snakemake 9's file lock (no upstream issue found). A
    run that ends removes the whole ``.snakemake/locks`` directory, while a
    run being started may be between listing the lock files and opening them
    (``FilePersistence._read_locks``), or between finding a free lock file
    name and writing it (``_write_locks``), or ending too
    (``_delete_locks``): that run then stops with a FileNotFoundError
    traceback instead of running, being refused or ending quietly (seen in
    1 of 40 and in 1 of 4 runs started in pairs). Read again, write again
    into the directory made anew, and take a directory already gone as
    removed: a lock file that vanished was released."""
    from snakemake.persistence.file import FilePersistence

    read, write = FilePersistence._read_locks, FilePersistence._write_locks
    delete = FilePersistence._delete_locks

    def read_locks(self):
        for _ in range(2):
            with contextlib.suppress(FileNotFoundError):
                return list(read(self))
        return list(read(self))

    def write_locks(self, lock_type, keys):
        keys = list(keys)
        for _ in range(2):
            os.makedirs(self._lockdir, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                return write(self, lock_type, keys)
        os.makedirs(self._lockdir, exist_ok=True)
        return write(self, lock_type, keys)

    def delete_locks(self):
        with contextlib.suppress(FileNotFoundError):
            delete(self)

    FilePersistence._read_locks = read_locks
    FilePersistence._write_locks = write_locks
    FilePersistence._delete_locks = delete_locks


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
