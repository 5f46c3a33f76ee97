"""Which function runs which rule, and running a rule's job (every rule's
``run:`` calls :func:`run_job`, through ``rules/common.smk``'s ``stage_job``).

No stage imports this module, so editing the table reruns nothing.
"""

from __future__ import annotations

import importlib
import signal
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from vmaf_predictor.factory.job_server import JobServer
from vmaf_predictor.factory.jobs import _interrupted, logged_to

PACKAGE = "vmaf_predictor.factory"

# Rule name -> "module.function" that does the rule's work, in graph order.
STAGES: dict[str, str] = {
    "sweep_check": "s0_sweep.run_check",
    "sweep_shots": "s0_shots.run",
    "sweep_sources": "s0_shots.run_sources",
    "sweep_reference": "s0_reference.run",
    "sweep_clip": "s0_sweep.run_clip",
    "sweep_probe": "s0_sweep.run_probe",
    "sweep_encode": "s0_encode.run",
    "sweep_gather": "s0_sweep.run_gather",
    "split": "s1_split.run",
    "corpus": "s2_corpus.run",
    "train": "s3_train.run",
    "export": "s4_export.run",
    "allowlist": "s5_allowlist.run",
    "validate": "s6_validate.run",
    "card": "s7_card.run",
    "hash": "s8_hash.run",
    "report_codec": "report.run_codec",
    "report_overview": "report.run_overview",
    "report_corpus": "report.run_corpus",
    "report_sweep": "report_sweep.run",
    "verify": "verify.run",
}


def module_name(rule: str) -> str:
    """The dotted name of the module that runs ``rule``."""
    return f"{PACKAGE}.{STAGES[rule].partition('.')[0]}"


# The stages of a build and the libraries they import when they run: what the
# job server imports once per run (see run_job). Not the report's: it is not
# part of every build, and matplotlib is slow to import.
PRELOAD: tuple[str, ...] = (
    *dict.fromkeys(module_name(rule) for rule in (
        "sweep_check", "sweep_shots", "sweep_reference", "sweep_encode",
        "split", "corpus", "train", "export", "allowlist", "validate", "card",
        "hash",
    )),
    "pandas",
    "pyarrow.parquet",
)  # fmt: skip


def stage(rule: str) -> Callable[..., str]:
    """The function that runs ``rule`` (its module imported on first use)."""
    module = importlib.import_module(module_name(rule))
    return getattr(module, STAGES[rule].partition(".")[2])


def _job(
    rule: str,
    input: dict[str, Any],
    output: dict[str, Any],
    params: dict[str, Any],
    log_path: str,
    codec: str | None,
) -> None:
    """A job's process (forked by the job server): log into the rule's log
    and call the rule's stage with the job's own input, output and params."""
    signal.signal(signal.SIGINT, _interrupted)
    # Forked with SIGINT held (job_server.JobServer): a Ctrl-C that came
    # meanwhile arrives now, in the handler.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    files = SimpleNamespace(
        input=SimpleNamespace(**input),
        output=SimpleNamespace(**output),
        params=SimpleNamespace(**params),
    )
    with logged_to(log_path) as log:
        log.info("%s", stage(rule)(files.input, files.output, files.params, codec))


# The run's job server (build.job_server), started by the first job.
_server_lock = threading.Lock()
_server: JobServer | None = None


class JobError(Exception):
    """A job's process ended with a non-zero status (its log says why)."""


def run_job(
    rule: str,
    input: Any,
    output: Any,
    params: Any,
    log: Any,
    wildcards: Any,
    preload: list[str],
) -> None:
    """What every rule's ``run:`` does: run the job in a process of its own,
    forked from the run's job server, which imported ``preload`` once.

    The server starts with the first job. Raises :class:`JobError` (which
    Snakemake reports as the job's failure, beside its log) unless the job
    ended with status 0.
    """
    global _server
    with _server_lock:
        if _server is None:
            _server = JobServer(preload)
    codec = wildcards.get("codec")
    status = _server.run(
        f"{__name__}:_job",
        rule,
        dict(input.items()),
        dict(output.items()),
        dict(params.items()),
        log[0],
        codec,
    )
    if status != 0:
        job = f"{rule} {codec}" if codec else rule
        ended = "the job server ended" if status is None else f"status {status}"
        raise JobError(f"job {job} failed ({ended}); its log: {log[0]}")
