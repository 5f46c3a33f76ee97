"""The workflow on a real one-node Slurm (`make test-slurm`; not in `make test`).

Brings up munged, slurmctld and slurmd on loopback (local_slurm.py), runs
`snakemake --profile profiles/slurm --forceall all_stubs` in a temporary
checkout, and checks the bytes, that every job really went through Slurm
with its rule's resources, a real-corpus build against the same build run
locally, and that a job failing on the cluster fails the run with its log
path.

The checkout is a copy of the working tree (tests/checkout.py), not a
git clone: a clone holds only committed files, and the tier must exercise
the profile and rules being worked on, as the other tiers do. In CI, which
runs in a fresh clone, the two are the same.
"""

from __future__ import annotations

import hashlib
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from checkout import ROOT, copy_workflow
from local_slurm import LocalSlurm, client_env
from workflow_runs import real_rows, snakemake, write_corpus

pytestmark = pytest.mark.slurm

CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
CODECS = list(CONFIG["codecs"])
STAGES = ("corpus", "train", "export", "publish")
# What Snakemake submits for all_stubs: seven stages per codec and hash
# (all_stubs itself only collects, and runs in the main process).
EXPECTED_JOBS = {(stage, codec) for stage in STAGES for codec in CODECS} | {
    ("hash", "")
}
# The plugin's line for each submission.
SUBMITTED = re.compile(
    r"^Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.$",
    re.M,
)
# Snakemake's description of each job: its rule, jobid and resources.
JOB_BLOCK = re.compile(
    r"^rule (\w+):\n(?:    .*\n)*?    jobid: (\d+)\n(?:    .*\n)*?    resources: (.*)$",
    re.M,
)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def slurm():
    """The cluster for the whole session; stopped, and its state removed,
    whatever the tests found, and also on Ctrl-C or SIGTERM (a CI limit)."""
    cluster = LocalSlurm()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        start = time.monotonic()
        cluster.start()
        print(f"one-node Slurm up in {time.monotonic() - start:.1f} s")
        yield cluster
    finally:
        signal.signal(signal.SIGTERM, previous)
        problems = cluster.stop()
        assert not problems, problems


def run_snakemake(checkout: Path, *args: str) -> tuple[int, str, float]:
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", *args],
        cwd=checkout,
        env=client_env(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - start


def submissions(log: str) -> dict[str, tuple[str, str]]:
    """Snakemake job id -> (Slurm job id, Slurm log path)."""
    return {job: (slurm_id, path) for job, slurm_id, path in SUBMITTED.findall(log)}


def rule_and_codec(comment: str) -> tuple[str, str]:
    """The plugin's job comment, rule_<rule>[_wildcards_<codec>], split."""
    rule, _, codec = comment.removeprefix("rule_").partition("_wildcards_")
    return rule, codec


def sha256s(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
    }


@pytest.fixture(scope="module")
def cluster_build(slurm, tmp_path_factory):
    """The full build, every job on the cluster: (checkout, log)."""
    checkout = copy_workflow(tmp_path_factory.mktemp("slurm") / "wf", with_models=True)
    status, log, seconds = run_snakemake(checkout, "--forceall", "all_stubs")
    assert status == 0, log[-5000:]
    (checkout / "snakemake-slurm.log").write_text(log)
    print(f"cluster build: {len(submissions(log))} Slurm jobs in {seconds:.0f} s")
    return checkout, log


def test_the_cluster_build_gives_the_committed_bytes(cluster_build):
    checkout, _ = cluster_build
    committed = ROOT / "model"
    names = sorted(p.name for p in committed.iterdir())
    assert sorted(p.name for p in (checkout / "model").iterdir()) == names
    for name in names:  # every model, card, PROVENANCE.json and SHA256SUMS
        produced = (checkout / "model" / name).read_bytes()
        assert produced == (committed / name).read_bytes(), name


def test_every_job_went_through_slurm_once(slurm, cluster_build):
    checkout, log = cluster_build
    submitted = submissions(log)
    slurm_ids = [slurm_id for slurm_id, _ in submitted.values()]
    assert len(slurm_ids) == len(set(slurm_ids)) == len(EXPECTED_JOBS)

    seen = []
    for slurm_id in slurm_ids:
        job = slurm.show_job(slurm_id)
        assert job, f"Slurm has no job {slurm_id}"
        assert job["JobState"] == "COMPLETED", (slurm_id, job["JobState"])
        assert job["WorkDir"] == str(checkout), slurm_id
        assert job["NodeList"] == slurm.node, slurm_id
        seen.append(rule_and_codec(job["Comment"]))
    assert sorted(seen) == sorted(EXPECTED_JOBS)
    print(f"{len(seen)} Slurm job ids logged by Snakemake, all found, all completed")


def test_each_job_asks_slurm_for_its_rules_resources(slurm, cluster_build):
    _, log = cluster_build
    submitted = submissions(log)
    described = {jobid: (rule, res) for rule, jobid, res in JOB_BLOCK.findall(log)}
    for jobid, (slurm_id, _) in submitted.items():
        rule, listed = described[jobid]
        resources = dict(item.split("=", 1) for item in listed.split(", "))
        assert "mem_mb" in resources and "runtime" in resources, (rule, resources)
        job = slurm.show_job(slurm_id)
        assert job["MinMemoryNode"] == f"{resources['mem_mb']}M", (rule, job)
        minutes = int(resources["runtime"])
        assert job["TimeLimit"] == f"{minutes // 60:02d}:{minutes % 60:02d}:00", rule
        assert job["NumCPUs"] == "1", (rule, job["NumCPUs"])


def test_a_real_corpus_on_the_cluster_gives_the_bytes_of_a_local_build(slurm, tmp_path):
    """With --config corpus=...: the split is one more Slurm job, and every
    other job waits for it; two codecs, one from rows."""
    corpus = tmp_path / "real.jsonl"
    write_corpus(corpus, real_rows("libx264", range(10, 40)))
    codecs = ["libx264", "av1_qsv"]
    local = copy_workflow(tmp_path / "local", with_models=True, codecs=codecs)
    on_slurm = copy_workflow(tmp_path / "slurm", with_models=True, codecs=codecs)
    target = ("--forceall", "all_stubs", "--config", f"corpus={corpus}")

    built = snakemake(local, *target)
    assert built.returncode == 0, built.stderr[-5000:]
    status, log, _ = run_snakemake(on_slurm, *target)
    assert status == 0, log[-5000:]

    # per codec its stages, then hash, and the split
    assert len(submissions(log)) == len(codecs) * len(STAGES) + 2
    assert sha256s(on_slurm / "model") == sha256s(local / "model")
    card = (on_slurm / "model" / "predictor_libx264_card.md").read_text()
    assert "`real-N=30`" in card


def test_a_job_failing_on_the_cluster_fails_the_run_with_its_log_path(slurm, tmp_path):
    """An allowlist without Log (an op every model uses): the export job
    fails its allowlist check inside Slurm; nothing reaches model/."""
    checkout = copy_workflow(tmp_path / "wf", with_models=True, codecs=["libx264"])
    forbid = tmp_path / "forbid_log.yaml"
    ops = [op for op in CONFIG["allowlist"]["ops"] if op != "Log"]
    forbid.write_text(yaml.safe_dump({"allowlist": {"ops": ops}}))
    before = sha256s(checkout / "model")

    status, log, _ = run_snakemake(
        checkout, "--forceall", "all_stubs", "--configfile", str(forbid)
    )

    assert status != 0
    failed = [
        (slurm_id, path)
        for slurm_id, path in submissions(log).values()
        if "/rule_export/" in path
    ]
    assert len(failed) == 1, log[-5000:]
    slurm_id, slurm_log = failed[0]
    assert slurm.show_job(slurm_id)["JobState"] == "FAILED"
    assert f"SLURM-job '{slurm_id}' failed" in log
    assert "logs/export/libx264.log" in log  # the rule's log ...
    assert slurm_log in log and Path(slurm_log).is_file()  # ... and Slurm's
    assert "op Log" in log  # the reason, from the log shown
    assert not any("/rule_publish/" in p for _, p in submissions(log).values())
    assert sha256s(checkout / "model") == before
