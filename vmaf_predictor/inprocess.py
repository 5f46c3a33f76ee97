"""Every stage for the chosen codecs in one Python process.

The workflow runs one job per codec and stage; this runs the same stage
functions one after another, the way the reference trainer did. It is the
baseline of the benchmark and lets the reproducibility checks run a whole
build under an emulated CPU in one process:

    python -m vmaf_predictor.inprocess OUT_DIR [--codec libx264 ...]
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


def build(
    config: dict[str, Any],
    out: Path,
    codecs: Iterable[str] | None = None,
    built_with: dict[str, str] | None = None,
) -> list[Path]:
    """Write models, cards and SHA256SUMS for ``codecs`` into ``out``."""
    import torch

    from vmaf_predictor import train

    torch.set_num_threads(1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    work.mkdir(exist_ok=True)
    allowed = config["allowlist"]
    split = corpus_split.prepare(
        config, registry.registry_from_config(config), work / "real", work
    )
    published, infos = [], []
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
        onnx_path = out / card.model_file_name(name)
        export.export(trained.load(model_json), config["opset"], onnx_path)
        report = work / f"{name}.allowlist.json"
        allowlist.check_file(
            onnx_path, name, allowed["ops"], allowed["loop_max_trip_count"], report
        )
        validation = work / f"{name}.validation.json"
        validate.validate_file(onnx_path, model_json, codec, table, validation)
        card_path = out / card.card_file_name(name)
        versions = built_with if built_with is not None else card.built_with()
        card.write_card(
            model_json,
            info,
            report,
            validation,
            onnx_path,
            config["opset"],
            versions,
            card_path,
        )
        published += [onnx_path, card_path]
        infos.append(info)
    hashes.write_sums(published, out / hashes.SUMS_NAME, infos)
    return published


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory for models and cards")
    parser.add_argument("--codec", action="append", help="repeat; default all")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    config.setdefault("corpus", None)
    build(config, args.out, args.codec)


if __name__ == "__main__":
    main()
