"""The job server: every job in a process of its own, forked from one
process that imported the build once, its exit status back to its caller."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from vmaf_predictor.factory.job_server import SERVER_GONE, JobServer

TESTS = Path(__file__).resolve().parent
JOBS = "server_jobs"


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    )
    started = JobServer([JOBS, "wave"])
    yield started
    _kill(started.pid)


def _kill(pid: int) -> None:
    try:
        process = psutil.Process(pid)
        process.kill()
        process.wait(10)
    except psutil.NoSuchProcess:
        pass


def _gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _wait_for_text(path: Path, within_s: float = 30) -> str:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


def test_each_of_many_concurrent_jobs_gets_its_own_exit_status(server):
    statuses: dict[int, int | None] = {}

    def run(n: int) -> None:
        statuses[n] = server.run(f"{JOBS}:exit_with", n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == {n: n for n in range(24)}


def test_a_job_that_raises_ends_with_status_1(server):
    assert server.run(f"{JOBS}:fail") == 1


def test_a_job_ended_by_a_signal_reports_minus_the_signal(server):
    assert server.run("signal:raise_signal", signal.SIGKILL) == -signal.SIGKILL


def test_a_job_is_a_new_child_of_the_server_with_the_preloaded_modules(
    server, tmp_path
):
    first, second = tmp_path / "first", tmp_path / "second"
    assert server.run(f"{JOBS}:describe", str(first), "wave") == 0
    assert server.run(f"{JOBS}:describe", str(second), "wave") == 0
    pid_1, parent_1, imported_1 = first.read_text().split()
    pid_2, parent_2, _ = second.read_text().split()
    assert int(parent_1) == int(parent_2) == server.pid
    assert len({int(pid_1), int(pid_2), os.getpid(), server.pid}) == 4
    assert imported_1 == "True"  # imported by the server, not by the job


def test_a_job_waiting_when_the_server_ends_gets_server_gone(server, tmp_path):
    pid_file = tmp_path / "pid"
    result: list[int | None] = []
    waiter = threading.Thread(
        target=lambda: result.append(
            server.run(f"{JOBS}:sleep_after_writing_pid", str(pid_file))
        )
    )
    waiter.start()
    job = int(_wait_for_text(pid_file))
    os.kill(server.pid, signal.SIGKILL)
    waiter.join(10)
    assert result == [SERVER_GONE]
    assert _gone(job, within_s=5)  # it ended with its server
    assert server.run(f"{JOBS}:exit_with", 0) is SERVER_GONE


def test_the_server_and_a_running_job_end_when_the_run_is_killed(tmp_path):
    pid_file = tmp_path / "pid"
    run = textwrap.dedent(
        f"""
        import sys
        from vmaf_predictor.factory.job_server import JobServer
        server = JobServer(["{JOBS}"])
        print(server.pid, flush=True)
        server.run("{JOBS}:sleep_after_writing_pid", sys.argv[1])
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.getcwd()])}
    starter = subprocess.Popen(
        [sys.executable, "-c", run, str(pid_file)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        server_pid = int(starter.stdout.readline())
        job = int(_wait_for_text(pid_file))
        starter.kill()  # SIGKILL: nothing of the run gets to clean up
        starter.wait(10)
        assert _gone(server_pid, within_s=5)
        assert _gone(job, within_s=5)
    finally:
        starter.kill()
        for pid in (locals().get("server_pid"), locals().get("job")):
            if pid:
                _kill(pid)
