"""Every stage for the chosen codecs in one Python process.

The workflow runs one job per codec and stage; this runs the same stage
functions one after another, the way the reference trainer did. It is the
baseline of the benchmark and lets the reproducibility checks run a whole
build under an emulated CPU in one process:

    python -m vmaf_predictor.inprocess OUT_DIR [--codec libx264 ...] [--stages train]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from vmaf_predictor import (
    allowlist,
    card,
    corpus,
    corpus_split,
    export,
    hashes,
    registry,
    trained,
    validate,
)
from vmaf_predictor.config import train_settings

ROOT = Path(__file__).resolve().parents[1]


def train_and_export(
    config: dict[str, Any], out: Path, codecs: Iterable[str] | None = None
) -> None:
    """Corpus, train and export for ``codecs``: the stages whose bytes could
    depend on the CPU. Writes the models into ``out``, the rest into out/work."""
    import torch

    from vmaf_predictor import train

    torch.set_num_threads(1)
    work = Path(out) / "work"
    work.mkdir(parents=True, exist_ok=True)
    split = corpus_split.prepare(
        config, registry.registry_from_config(config), work / "real", work
    )
    for name in codecs or config["codecs"]:
        codec = registry.codec_from_config(name, config["codecs"][name])
        table, info = work / f"{name}.csv", work / f"{name}.json"
        real = split.table(name, work / "real") if split else None
        features = "probe" if real and split.codecs[name].probe else "stand-in"
        corpus.build_corpus(
            codec, config["synthetic_rows"], real, features, table, info
        )
        model_json = work / f"{name}.trained.json"
        train.train_table(name, table, train_settings(config, name), model_json)
        model = trained.load(model_json)
        export.export(model, config["opset"], Path(out) / card.model_file_name(name))


def check_and_document(
    config: dict[str, Any], out: Path, codecs: Iterable[str] | None = None
) -> list[Path]:
    """Allowlist, validate, card and hash on what :func:`train_and_export`
    wrote; returns the published files."""
    out, work = Path(out), Path(out) / "work"
    allowed = config["allowlist"]
    published, infos = [], []
    for name in codecs or config["codecs"]:
        codec = registry.codec_from_config(name, config["codecs"][name])
        table, info = work / f"{name}.csv", work / f"{name}.json"
        model_json = work / f"{name}.trained.json"
        onnx_path = out / card.model_file_name(name)
        report = work / f"{name}.allowlist.json"
        allowlist.check_file(
            onnx_path, name, allowed["ops"], allowed["loop_max_trip_count"], report
        )
        validation = work / f"{name}.validation.json"
        validate.validate_file(onnx_path, model_json, codec, table, validation)
        card_path = out / card.card_file_name(name)
        card.write_card(
            model_json,
            info,
            report,
            validation,
            onnx_path,
            config["opset"],
            card.built_with(),
            card_path,
        )
        published += [onnx_path, card_path]
        infos.append(info)
    hashes.write_sums(published, out / hashes.SUMS_NAME, infos)
    return published


STAGES = {
    "all": (train_and_export, check_and_document),
    "train": (train_and_export,),
    "check": (check_and_document,),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory for models and cards")
    parser.add_argument("--codec", action="append", help="repeat; default all")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument(
        "--stages",
        choices=STAGES,
        default="all",
        help="train: corpus, train, export; check: allowlist, validate, card, hash",
    )
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    config.setdefault("corpus", None)
    for stage in STAGES[args.stages]:
        stage(config, args.out, args.codec)


if __name__ == "__main__":
    main()
