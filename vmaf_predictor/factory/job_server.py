"""The run's job server: one process that imports the stages once and forks
a fresh process for each job.

Starting a Python process for each job costs its imports every time (torch
alone about a second, pandas a third of one), more than most stages' own
work. The Snakemake process starts one server (:class:`JobServer`, the
first time a rule's ``run:`` needs it); the server imports the build's
modules, then forks one child per job request. Each job still runs in a
process of its own, as with ``script:``: its own signals, logging, memory
and exit status, its SIGINT held until its handler is in place, and it ends
with the server, which ends with the run (a SIGKILL of Snakemake included).

The protocol is two pipes of length-prefixed pickles between the Snakemake
process and the server it started, and nothing else holds them: requests
``(job id, "module:function", arguments)``, replies ``(job id, exit
status)``. Jobs keep the run's stdin, stdout and stderr (stdin as
/dev/null).

    python -m vmaf_predictor.factory.job_server RUN_PID REQUESTS_FD REPLIES_FD MODULE...
"""

from __future__ import annotations

import importlib
import itertools
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import traceback
from concurrent.futures import Future
from typing import Any

from vmaf_predictor.factory.jobs import FAILED, die_with_parent

_LENGTH = struct.Struct("<Q")
# What JobServer.run returns when the server ended before the job did.
SERVER_GONE = None


def _write_frame(fd: int, data: bytes) -> None:
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int) -> bytes | None:
    """One message, or None at the end of the pipe."""
    header = _read_exactly(fd, _LENGTH.size)
    if header is None:
        return None
    return _read_exactly(fd, _LENGTH.unpack(header)[0])


class JobServer:
    """The Snakemake process's side: starts the server, sends it jobs and
    waits for each one's exit status (from any number of threads)."""

    def __init__(self, preload: list[str]) -> None:
        # Not inherited by anything else this process starts (os.pipe's fds
        # are not inheritable; the server gets its two ends by pass_fds).
        requests_r, self._requests = os.pipe()
        self._replies, replies_w = os.pipe()
        command = [sys.executable, "-m", __name__, str(os.getpid())]
        command += [str(requests_r), str(replies_w), *preload]
        # The server, and so every job it forks, starts with SIGINT held: a
        # job unblocks it once its own handler is in place (stages._job).
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, pass_fds=(requests_r, replies_w)
            )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            os.close(requests_r)
            os.close(replies_w)
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._waiting: dict[int, Future] = {}
        self._gone = False
        threading.Thread(target=self._read_replies, daemon=True).start()

    @property
    def pid(self) -> int:
        return self._process.pid

    def run(self, function: str, *args: Any) -> int | None:
        """Call ``function`` ("module:name") with ``args`` in a process of its
        own; its exit status (-N: ended by signal N; 1: an exception, whose
        traceback went to stderr), or None if the server ended first."""
        future: Future = Future()
        with self._lock:
            if self._gone:
                return SERVER_GONE
            job_id = next(self._ids)
            request = pickle.dumps((job_id, function, args))
            self._waiting[job_id] = future
            try:
                _write_frame(self._requests, request)
            except BrokenPipeError:
                del self._waiting[job_id]
                return SERVER_GONE
        return future.result()

    def _read_replies(self) -> None:
        while (frame := _read_frame(self._replies)) is not None:
            job_id, status = pickle.loads(frame)
            with self._lock:
                future = self._waiting.pop(job_id)
            future.set_result(status)
        with self._lock:  # the server ended: no job it ran will reply
            self._gone = True
            waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            future.set_result(SERVER_GONE)


def serve(requests: int, replies: int) -> None:
    """The server's loop: fork a child per request, reply with each child's
    exit status, end when the requests pipe ends (the run ended)."""
    # SIGCHLD wakes the loop through a pipe (the handler itself does nothing).
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wake_w)
    running: dict[int, int] = {}  # pid -> job id
    while True:
        ready, _, _ = select.select([requests, wake_r], [], [])
        if wake_r in ready:
            _drain(wake_r)
            _reap(running, replies)
        if requests in ready:
            frame = _read_frame(requests)
            if frame is None:
                return  # the run ended; a job still running ends with us
            job_id, function, args = pickle.loads(frame)
            module, _, name = function.partition(":")
            job = getattr(importlib.import_module(module), name)
            server = os.getpid()
            pid = os.fork()
            if pid == 0:
                _child(job, args, server, (requests, replies, wake_r, wake_w))
            # Listed before the next select: its SIGCHLD waits in the pipe.
            running[pid] = job_id


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _reap(running: dict[int, int], replies: int) -> None:
    for pid in list(running):
        done, wait_status = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(wait_status)
            _write_frame(replies, pickle.dumps((running.pop(pid), status)))


def _child(job: Any, args: tuple, server: int, server_fds: tuple[int, ...]) -> None:
    """A job's process, just forked from the server: never returns."""
    status = FAILED
    try:
        die_with_parent(server)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in server_fds:
            os.close(fd)
        job(*args)
        status = 0
    except SystemExit as end:
        status = 0 if end.code is None else end.code
        status = status if isinstance(status, int) else FAILED
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def main(argv: list[str]) -> None:
    run_pid, requests, replies, *preload = argv
    die_with_parent(int(run_pid))
    for module in preload:
        importlib.import_module(module)
    serve(int(requests), int(replies))


if __name__ == "__main__":
    main(sys.argv[1:])
