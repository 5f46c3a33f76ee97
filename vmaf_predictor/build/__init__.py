"""The build stages, one module each, named in graph order.

    (s0_sweep + s0_encode) -> s1_split -> s2_corpus -> s3_train -> s4_export
        -> s5_allowlist -> s6_validate -> s7_card -> (publish) -> s8_hash

Each stage module has ``run(input, output, params, codec) -> str``: the
Snakemake rule of the same name calls it through ``scripts/stage.py`` with the
job's own input, output and params (``codec`` is the job's wildcard, None for
rules over all codecs), and it returns the line the job logs. Anything
that needs the stages in one process (the benchmark, the reproducibility
tier) calls the same functions through :data:`STAGES`. ``network`` is the
model shared by training and export; ``report`` and ``verify`` are the
workflow's report and CI check.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

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
    return f"{__name__}.{STAGES[rule].partition('.')[0]}"


def stage(rule: str) -> Callable[..., str]:
    """The function that runs ``rule`` (its module imported on first use)."""
    module = importlib.import_module(module_name(rule))
    return getattr(module, STAGES[rule].partition(".")[2])
