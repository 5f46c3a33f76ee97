"""Every stage for the chosen codecs in one Python process.

The workflow runs one job per codec and stage; this calls the same stage
functions (the one each rule's script in ``scripts/`` names, what the rules'
jobs call) one after another, the shape of the reference trainer. It is the baseline of
``make bench`` and lets the reproducibility tier run the stages whose bytes
could depend on the CPU under an emulated CPU:

    python tools/one_process.py OUT_DIR [--codec libx264 ...] [--stages train]

Models and cards land in OUT_DIR, everything else in OUT_DIR/work.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace as Files
from typing import Any

import yaml

from vmaf_predictor import config_file as workflow_config
from vmaf_predictor.factory.code import script_stage
from vmaf_predictor.factory.jobs import stage_function
from vmaf_predictor.factory.s7_card import built_with
from vmaf_predictor.names import (
    PROVENANCE_NAME,
    SUMS_NAME,
    card_file_name,
    model_file_name,
)

ROOT = Path(__file__).resolve().parents[1]
# What may depend on the CPU (run emulated by the repro tier), then the rest:
# the export turns the trained float64 values into constants of a graph (no
# arithmetic), checks it in onnxruntime and writes the card.
GROUPS = {
    "train": ("split", "corpus", "train"),
    "check": ("export", "hash"),
}
GROUPS["all"] = GROUPS["train"] + GROUPS["check"]


def stage(rule: str):
    """The stage function the rule's script runs."""
    return stage_function(script_stage(ROOT / "scripts" / f"{rule}.py"))


def codec_files(out: Path, codec: str) -> dict[str, Any]:
    """Where each stage's files go for one codec."""
    work = out / "work"
    return {
        "table": work / f"{codec}.parquet",
        "info": work / f"{codec}.json",
        "trained": work / f"{codec}.trained.json",
        "onnx": out / model_file_name(codec),
        "allowlist": work / f"{codec}.allowlist.json",
        "validation": work / f"{codec}.validation.json",
        "card": out / card_file_name(codec),
    }


def run(config: dict[str, Any], out: Path, codecs: list[str], rules: tuple) -> None:
    """Call the stages in ``rules`` (graph order) for ``codecs``."""
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "split" / "manifest.json"
    if "split" in rules and config["corpus"]:
        manifest.parent.mkdir(exist_ok=True)
        stage("split")(
            Files(corpus=[]),
            Files(
                manifest=manifest,
                report_json=work / "corpus_report.json",
                report_md=work / "corpus_report.md",
            ),
            Files(
                corpus=config["corpus"],
                codecs=config["codecs"],
                bad_rows=config["corpus_bad_rows"],
                max_line_bytes=config["corpus_max_line_bytes"],
            ),
            None,
        )
    split = json.loads(manifest.read_text())["codecs"] if config["corpus"] else {}
    for codec in codecs:
        f = codec_files(out, codec)
        real = split.get(codec)
        real = real if real and real["rows"] >= 2 else None
        calls = {
            "corpus": (
                Files(real=str(manifest.parent / real["table"]) if real else []),
                Files(table=f["table"], info=f["info"]),
                Files(
                    codec=config["codecs"][codec],
                    synthetic_rows=config["synthetic_rows"],
                    real_features="probe" if real and real["probe"] else "stand-in",
                ),
            ),
            "train": (
                Files(table=f["table"], info=f["info"]),
                Files(trained=f["trained"]),
                Files(
                    settings=workflow_config.train_settings(config, codec),
                    codec=config["codecs"][codec],
                    evaluation=config["evaluation"],
                ),
            ),
            "export": (
                Files(trained=f["trained"], table=f["table"], corpus_info=f["info"]),
                Files(
                    onnx=f["onnx"],
                    allowlist=f["allowlist"],
                    validation=f["validation"],
                    card=f["card"],
                ),
                Files(
                    opset=config["opset"],
                    ops=sorted(config["allowlist"]["ops"]),
                    loop_max_trip_count=config["allowlist"]["loop_max_trip_count"],
                    codec=config["codecs"][codec],
                    built_with=built_with(),
                ),
            ),
        }
        for rule in rules:
            if rule in calls:
                stage(rule)(*calls[rule], codec)
    if "hash" in rules:
        files = [codec_files(out, c) for c in codecs]
        stage("hash")(
            Files(
                artefacts=[f[k] for f in files for k in ("onnx", "card")],
                corpus_infos=[f["info"] for f in files],
            ),
            Files(provenance=out / PROVENANCE_NAME, sums=out / SUMS_NAME),
            Files(),
            None,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory for models and cards")
    parser.add_argument("--codec", action="append", help="repeat; default all")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--stages", choices=GROUPS, default="all")
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    workflow_config.validate(config, ROOT / "schemas" / "config.schema.yaml")
    run(config, args.out, args.codec or list(config["codecs"]), GROUPS[args.stages])


if __name__ == "__main__":
    sys.exit(main())
