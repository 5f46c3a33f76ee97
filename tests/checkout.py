"""A copy of the workflow in another directory, for tests, benchmarks and tiers.

A copy (not a git clone) so that uncommitted work is what gets exercised. It
includes the package: run Snakemake there with ``PYTHONPATH`` set to the copy
(:func:`workflow_runs.snakemake` does) and the copy's code is what runs, and
what its rules list as code inputs.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# What a run of the workflow reads.
WORKFLOW_FILES = (
    "vmaf_predictor",
    "Snakefile",
    "rules",
    "scripts",
    "schemas",
    "profiles",
    "report",
    "config.yaml",
)


def copy_workflow(
    destination: str | Path,
    with_models: bool = False,
    codecs: Sequence[str] | None = None,
) -> Path:
    """Copy the workflow (and, with ``with_models``, the committed model/);
    with ``codecs``, its config keeps only those."""
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES + (("model",) if with_models else ()):
        source = ROOT / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(source, destination / name, ignore=ignore)
        else:
            shutil.copy(source, destination / name)
    config_path = destination / "config.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    if codecs is not None:
        config["codecs"] = {name: config["codecs"][name] for name in codecs}
    # Real-corpus codecs are cross-validated: the cheapest form (2 folds, one
    # seed, epochs chosen on one inner fold) keeps the workflow tests fast;
    # stubs do not depend on it (tests/test_curve_head.py covers the rest).
    config["evaluation"] = {
        **config["evaluation"], "folds": 2, "seeds": 1, "selection_folds": 1,
    }  # fmt: skip
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return destination
