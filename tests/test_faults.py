"""Faults: runs at the same time in one checkout, builds killed at random
points, a model/ that cannot be written.

`make test` runs each with a few rounds; `make test-faults` (-m faults) runs
the long variants: 20 concurrent rounds, 10 kills.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from checkout import ROOT, copy_workflow
from workflow_runs import real_rows, snakemake, write_corpus

pytestmark = pytest.mark.slow

CODEC = "libx264"
# Snakemake's lock refusing a second run (.snakemake/locks).
REFUSED = "Directory cannot be locked"
# A second run that planned from the split's manifest while the first
# rewrote it (Snakemake's lock is taken after planning): rules/common.smk.
VANISHED = "vanished while this run read it (another run in this checkout"
# What a build of one codec with a real corpus produces from its corpus.
BUILT_FROM_CORPUS = (
    "results/split/manifest.json",
    "results/corpus/libx264.json",
    "model/PROVENANCE.json",
    "model/SHA256SUMS",
    "model/predictor_libx264.onnx",
    "model/predictor_libx264_card.md",
)
MODEL_FILES = {
    "PROVENANCE.json",
    "SHA256SUMS",
    "predictor_libx264.onnx",
    "predictor_libx264_card.md",
}


@dataclass
class Run:
    name: str
    process: subprocess.Popen
    out: Path
    ended: float = 0.0

    @property
    def stderr(self) -> str:
        return self.out.with_suffix(".err").read_text()


def start(checkout: Path, name: str, *args: str) -> Run:
    """``snakemake ARGS`` in ``checkout``, in its own process group (as a
    terminal starts it), output into files beside the checkout."""
    out = checkout.parent / f"{name}.out"
    process = subprocess.Popen(
        [sys.executable, "-m", "snakemake", *args],
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout)},
        stdout=out.open("w"),
        stderr=out.with_suffix(".err").open("w"),
        start_new_session=True,
    )
    return Run(name, process, out)


def wait_all(runs: list[Run], timeout: float = 300) -> list[Run]:
    """Wait for every run; return them in the order they ended."""
    deadline = time.monotonic() + timeout
    while any(run.process.poll() is None for run in runs):
        assert time.monotonic() < deadline, "a run did not end"
        for run in runs:
            if run.process.poll() is not None and not run.ended:
                run.ended = time.monotonic()
        time.sleep(0.05)
    for run in runs:
        run.ended = run.ended or time.monotonic()
    return sorted(runs, key=lambda run: run.ended)


def outputs(checkout: Path, names=BUILT_FROM_CORPUS) -> dict[str, bytes]:
    return {name: (checkout / name).read_bytes() for name in names}


# Two builds with different corpora at once ----------------------------------


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpora")
    return {
        name: write_corpus(
            root / f"{name}.jsonl", real_rows(CODEC, range(10, 40), offset=offset)
        )
        for name, offset in (("a", 0.0), ("b", 0.5))
    }


@pytest.fixture(scope="module")
def built_alone(corpora, tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """What each corpus builds when it has the checkout to itself."""
    expected = {}
    for name, corpus in corpora.items():
        checkout = copy_workflow(tmp_path_factory.mktemp(name) / "c", codecs=[CODEC])
        result = snakemake(
            checkout, "--cores", "2", "all_stubs", "--config", f"corpus={corpus}"
        )
        assert result.returncode == 0, result.stderr[-3000:]
        expected[name] = outputs(checkout)
    assert expected["a"] != expected["b"]
    return expected


@pytest.mark.parametrize(
    "rounds", [2, pytest.param(20, marks=pytest.mark.faults)], ids=lambda n: f"{n}x"
)
def test_concurrent_builds_never_train_on_the_other_corpus(
    corpora, built_alone, tmp_path, rounds
):
    checkout = copy_workflow(tmp_path / "c", codecs=[CODEC])
    for i in range(rounds):
        names = ["a", "b"] if i % 2 == 0 else ["b", "a"]
        runs = [
            start(checkout, f"{i}{name}", "--cores", "2", "all_stubs",
                  "--config", f"corpus={corpora[name]}")
            for name in names
        ]  # fmt: skip
        ended = wait_all(runs)
        succeeded = [run for run in ended if run.process.returncode == 0]
        assert succeeded, ended[0].stderr[-3000:]
        for run in ended:
            assert "Traceback" not in run.stderr
            refused = REFUSED in run.stderr or VANISHED in run.stderr
            if run.process.returncode != 0:  # refused, and says so
                assert refused, run.stderr[-3000:]
        last = succeeded[-1].name[-1]
        assert outputs(checkout) == built_alone[last], f"round {i}: {last}"


def test_a_second_run_while_one_runs_is_refused_with_a_clear_message(tmp_path):
    checkout = copy_workflow(tmp_path / "c", codecs=[CODEC])
    first = start(checkout, "first", "--cores", "2", "all_stubs")
    wait_until_locked(checkout, first)
    second = start(checkout, "second", "--cores", "2", "all_stubs")
    wait_all([first, second])
    assert first.process.returncode == 0, first.stderr[-3000:]
    assert second.process.returncode != 0
    assert REFUSED in second.stderr, second.stderr[-3000:]
    assert "--unlock" in second.stderr
    assert "Traceback" not in second.stderr


def test_two_verify_runs_at_once_never_share_a_work_area(tmp_path):
    checkout = copy_workflow(tmp_path / "c", codecs=[CODEC])
    assert snakemake(checkout, "--cores", "2", "all_stubs").returncode == 0
    runs = [start(checkout, name, "--cores", "2", "verify") for name in "ab"]
    ended = wait_all(runs)
    assert [run.process.returncode for run in ended].count(0) >= 1
    for run in ended:
        assert "Traceback" not in run.stderr
        if run.process.returncode == 0:
            assert "verify: all 4 files match" in run.out.read_text()
        else:
            assert REFUSED in run.stderr, run.stderr[-3000:]
    assert (checkout / "results" / "verify" / "last" / "model" / "SHA256SUMS").is_file()


# Builds killed at random points -----------------------------------------------


def wait_until_locked(checkout: Path, run: Run) -> float:
    """Seconds until ``run`` holds Snakemake's lock (.snakemake/locks), which
    it takes once it has planned its jobs, just before running them."""
    started = time.monotonic()
    locks = checkout / ".snakemake" / "locks"
    while run.process.poll() is None:
        if locks.is_dir() and any(locks.iterdir()):
            break
        time.sleep(0.01)
    return time.monotonic() - started


def group_processes(pgid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["pid", "status"]):
        try:
            if (
                os.getpgid(process.pid) == pgid
                and process.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(process)
        except (ProcessLookupError, psutil.Error):
            pass
    return found


@pytest.mark.parametrize(
    "kills",
    [3, pytest.param(12, marks=pytest.mark.faults)],
    ids=lambda n: f"{n}x",
)
def test_the_next_plain_run_finishes_a_build_killed_at_any_point(tmp_path, kills):
    checkout = copy_workflow(tmp_path / "c", codecs=[CODEC])
    started = time.monotonic()
    assert snakemake(checkout, "--cores", "2", "all_stubs").returncode == 0
    duration = time.monotonic() - started
    rng = random.Random(17)
    for i in range(kills):
        how = ("SIGINT", "SIGKILL", "SIGTERM")[i % 3]
        run = start(checkout, f"kill{i}", "--cores", "2", "--forceall", "all_stubs")
        # Any point once it runs jobs (a Ctrl-C while Snakemake starts or
        # plans is Snakemake's own: it may print a traceback).
        locked = wait_until_locked(checkout, run)
        time.sleep(rng.uniform(0, max(0.1, duration - locked)))
        interrupted = time.monotonic()
        if how == "SIGINT":  # Ctrl-C in a terminal: the whole process group
            os.killpg(run.process.pid, signal.SIGINT)
        elif how == "SIGTERM":  # kill, or a cluster's time limit: Snakemake only
            run.process.terminate()
        else:
            run.process.kill()
        run.process.wait(timeout=60)
        stopped = time.monotonic() - interrupted
        if how != "SIGKILL":
            assert stopped < 5, f"{how} took {stopped:.1f} s"
            assert "Traceback" not in run.stderr
        time.sleep(1)
        assert group_processes(run.process.pid) == [], f"{how}: jobs outlived it"

        # The documented recovery (docs/recovery.md): the same command again;
        # after a SIGKILL, which leaves Snakemake's lock behind, that command
        # says to unlock first.
        result = snakemake(checkout, "--cores", "2", "all_stubs")
        if how == "SIGKILL" and result.returncode != 0:
            assert REFUSED in result.stderr and "--unlock" in result.stderr
            assert snakemake(checkout, "--unlock").returncode == 0
            result = snakemake(checkout, "--cores", "2", "all_stubs")
        assert result.returncode == 0, f"after {how}:\n{result.stderr[-3000:]}"
        assert "Traceback" not in result.stderr
        model = checkout / "model"
        assert {p.name for p in model.iterdir()} == MODEL_FILES, f"after {how}"
        for name in ("predictor_libx264.onnx", "predictor_libx264_card.md"):
            assert (model / name).read_bytes() == (ROOT / "model" / name).read_bytes()


# A model/ that cannot be written ------------------------------------------------


def _user_namespaces() -> bool:
    """Whether ``unshare --user`` can run a command as a user other than
    root (root ignores a directory's permissions)."""
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "--user", "--map-user=1000", "--map-group=1000", "id", "-u"],
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0 and probe.stdout.strip() == "1000"


@pytest.mark.skipif(
    os.geteuid() == 0 and not _user_namespaces(),
    reason="as root a read-only directory is writable, and no user namespace",
)
def test_an_unwritable_model_directory_is_named_before_any_job(tmp_path):
    checkout = copy_workflow(tmp_path / "c", with_models=True, codecs=[CODEC])
    # Older than the code, so that the run has model/ files to write however
    # the checkout's mtimes fell (freshly rebuilt models are newer than it).
    # Not 0: Snakemake skips its newer-input check for an mtime of 0.
    for path in (checkout / "model").iterdir():
        os.utime(path, (1, 1))
    (checkout / "model").chmod(0o555)
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "all_stubs"]
    if os.geteuid() == 0:
        command = ["unshare", "--user", "--map-user=1000", "--map-group=1000", *command]
    try:
        result = subprocess.run(
            command,
            cwd=checkout,
            env={**os.environ, "PYTHONPATH": str(checkout)},
            capture_output=True,
            text=True,
        )
    finally:
        (checkout / "model").chmod(0o755)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "rror" in line]
    assert errors == [
        "error: model/ is not writable, and this run writes there; make it "
        "writable (chmod u+w) or run in a checkout you can write"
    ]
    assert not (checkout / "results").exists()
