"""Which function runs which rule, and running a rule's job (``scripts/stage.py``).

No stage imports this module, so editing the table reruns nothing.
"""

from __future__ import annotations

import importlib
import os
import signal
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from vmaf_predictor.build.jobs import (
    RUN_PID,
    _interrupted,
    die_with_parent,
    logged_to,
)

PACKAGE = "vmaf_predictor.build"

# Rule name -> "module.function" that does the rule's work, in graph order.
STAGES: dict[str, str] = {
    "sweep_check": "s0_sweep.run_check",
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


def stage(rule: str) -> Callable[..., str]:
    """The function that runs ``rule`` (its module imported on first use)."""
    module = importlib.import_module(module_name(rule))
    return getattr(module, STAGES[rule].partition(".")[2])


def run_stage(smk: Any) -> None:
    """What ``scripts/stage.py`` does for every rule: log into the rule's log
    and call the rule's stage with the job's own input, output and params."""
    run_pid = os.environ.get(RUN_PID, "")
    die_with_parent(int(run_pid) if run_pid.isdigit() else None)
    signal.signal(signal.SIGINT, _interrupted)
    # Started with SIGINT held (build.runs): a Ctrl-C that came meanwhile
    # arrives now, in the handler.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    job = SimpleNamespace(
        input=SimpleNamespace(**dict(smk.input.items())),
        output=SimpleNamespace(**dict(smk.output.items())),
        params=SimpleNamespace(**dict(smk.params.items())),
    )
    with logged_to(smk.log[0]) as log:
        codec = smk.wildcards.get("codec")
        log.info("%s", stage(smk.rule)(job.input, job.output, job.params, codec))
