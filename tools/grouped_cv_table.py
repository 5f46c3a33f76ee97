"""The learner against the baselines on a real corpus, by grouped
cross-validation, over several training seeds (the table of issue 16).

    .venv/bin/python tools/grouped_cv_table.py CORPUS [--seeds 5] [--codec X ...]

Reads CORPUS with the training rules (the split stage), then for each codec
with rows runs the train stage's cross-validation with config.yaml's
settings: the learner's grouped RMSE per seed (mean and population standard
deviation), beside the fold mean, analytical and parametric baselines on the
same folds. One process, one thread: minutes for a few hundred rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vmaf_predictor.build import s1_split, s3_train  # noqa: E402
from vmaf_predictor.build.network import TrainSettings  # noqa: E402
from vmaf_predictor.registry import registry_from_config  # noqa: E402
from vmaf_predictor.runtime.features import FEATURE_NAMES  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--codec", action="append", default=[])
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    codecs = registry_from_config(config)
    settings = TrainSettings(**config["train"])
    evaluation = s3_train.EvaluationSettings(
        **{**config["evaluation"], "seeds": args.seeds}
    )
    print(
        "| codec | rows | sources | folds | learner RMSE (mean ± sd over "
        f"{args.seeds} seeds) | fold mean | analytical | parametric | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        report = s1_split.split(args.corpus, codecs, work)
        for name, entry in report.codecs.items():
            if args.codec and name not in args.codec:
                continue
            start = time.perf_counter()
            table = s1_split.read_table(Path(work) / entry.table)
            features = [
                s3_train.to_float32(row)
                for row in table[list(FEATURE_NAMES)].to_numpy().tolist()
            ]
            result = s3_train.cross_validate(
                codecs[name],
                features,
                table["vmaf"].tolist(),
                table["src"].astype(str).tolist(),
                dataclasses.replace(settings),
                evaluation,
            )
            rmse = result["seed_rmse"]
            spread = statistics.pstdev(rmse) if len(rmse) > 1 else 0.0
            f = result["figures"]
            print(
                f"| {name} | {result['rows']} | {result['groups']} | "
                f"{result['folds']} | {statistics.mean(rmse):.2f} ± {spread:.2f} "
                f"| {f['fold mean']['rmse']:.2f} | {f['analytical']['rmse']:.2f} | "
                f"{f['parametric']['rmse']:.2f} | {time.perf_counter() - start:.0f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
