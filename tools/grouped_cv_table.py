"""The learner against the baselines on a real corpus: by grouped
cross-validation over several training seeds (the table of issue 16), or by
holding each source out in turn and scoring the shipped model on it (issue 22).

    .venv/bin/python tools/grouped_cv_table.py CORPUS [--seeds 5] [--codec X ...]
    .venv/bin/python tools/grouped_cv_table.py CORPUS --leave-one-out [--codec X ...]

Reads CORPUS with the training rules (the split stage), then for each codec
with rows:

- default: runs the train stage's cross-validation with config.yaml's
  settings: the learner's grouped RMSE per seed (mean and population
  standard deviation), beside the fold mean, analytical and parametric
  baselines on the same folds (what the card reports).
- ``--leave-one-out``: what a new user who brings the corpus sees. Each
  source (``--group``: of the sources whose names match the same regex
  group, one clip's shots) is held out in turn; the model is built on the
  others as the workflow builds it (the train stage with config.yaml's
  settings, its choice among the network, the curves and their blends made
  on the training rows alone; export; the validate stage's checks), and
  scored on the held-out rows in onnxruntime by ``python -m vmaf_predictor
  evaluate``'s own code. Beside it, the baselines fitted on the same
  training rows, and the card's own figure for the logistic curve (its
  k-fold grouped cross-validation on all rows); the last column counts what
  the inner folds chose.

One process, one thread: minutes for a few hundred rows.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import inspect
import math
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vmaf_predictor.factory import evaluation as ev  # noqa: E402
from vmaf_predictor.factory import (  # noqa: E402
    s1_split,
    s2_corpus,
    s3_train,
    s4_export,
    s6_validate,
    training,
)
from vmaf_predictor.factory.network import TrainSettings  # noqa: E402
from vmaf_predictor.names import model_file_name  # noqa: E402
from vmaf_predictor.registry import registry_from_config  # noqa: E402
from vmaf_predictor.runtime import evaluate as runtime_evaluate  # noqa: E402
from vmaf_predictor.runtime import metrics  # noqa: E402


def grouped_cv(args, config, codecs, settings, evaluation, tables) -> None:
    """The card's cross-validation over ``--seeds`` seeds, per codec."""
    evaluation = dataclasses.replace(evaluation, seeds=args.seeds)
    print(
        "| codec | rows | sources | folds | learner RMSE (mean ± sd over "
        f"{args.seeds} seeds) | fold mean | analytical | parametric | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, table in tables.items():
        start = time.perf_counter()
        features = [training.to_float32(row) for row in s2_corpus.table_rows(table)]
        result = s3_train.cross_validate(
            codecs[name],
            features,
            table["vmaf"].tolist(),
            [str(v) for v in table["src"]],
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


def _group_of(pattern: str | None):
    """src -> its group: the first regex group of ``pattern`` (or the whole
    match) where it matches, else the src itself."""
    if pattern is None:
        return lambda src: src
    compiled = re.compile(pattern)

    def group(src: str) -> str:
        found = compiled.search(src)
        if found is None:
            return src
        return found.group(1) if compiled.groups else found.group(0)

    return group


def _build(name, table, settings, entry, evaluation, opset) -> tuple[bytes, str]:
    """The model the workflow would ship from ``table`` (train, export,
    validate), and what its inner folds chose."""
    extra = {}
    if "cross_validated" in inspect.signature(s3_train.train).parameters:
        extra["cross_validated"] = False  # the card's figures are not needed
    else:  # an older checkout: the cheapest cross-validation, same model
        evaluation = dataclasses.replace(evaluation, folds=2, seeds=1)
    trained = s3_train.train(name, table, settings, entry, evaluation, **extra)
    graph = s4_export.build_model(trained, opset).SerializeToString()
    rows = s2_corpus.table_rows(table)
    s6_validate.validate(graph, trained, entry, rows)
    selection = trained.evaluation.get("selection", {})
    chosen = selection.get("chosen")
    if chosen is None:  # before the selection: the network, maybe blended
        blend = trained.blend
        chosen = "network"
        if blend:
            chosen += f" + {blend['weight']:g} {blend.get('kind', 'logistic')}"
    return graph, chosen


def leave_one_out(args, config, codecs, settings, evaluation, tables) -> None:
    """Each group held out in turn, the shipped model scored on it."""
    group_of = _group_of(args.group)
    groups = sorted({group_of(s) for t in tables.values() for s in t["src"]})
    pooled = {name: {"actual": [], "model": [], **{b: [] for b in ev.BASELINES}}
              for name in tables}  # fmt: skip
    chosen: dict[str, Counter] = {name: Counter() for name in tables}
    seconds = dict.fromkeys(tables, 0.0)
    for g, held_group in enumerate(groups, 1):
        with tempfile.TemporaryDirectory(prefix="vmaf-loo-") as models:
            held_rows: dict[str, list[int]] = {}
            for name, table in tables.items():
                start = time.perf_counter()
                in_group = [group_of(s) == held_group for s in table["src"]]
                held = [i for i, inside in enumerate(in_group) if inside]
                rest = [i for i, inside in enumerate(in_group) if not inside]
                if not held or len({group_of(table["src"][i]) for i in rest}) < 2:
                    continue
                graph, choice = _build(
                    name,
                    {key: np.asarray(v)[rest] for key, v in table.items()},
                    settings,
                    codecs[name],
                    evaluation,
                    config["opset"],
                )
                (Path(models) / model_file_name(name)).write_bytes(graph)
                chosen[name][choice] += 1
                held_rows[name] = held
                features = np.array(
                    [training.to_float32(row) for row in s2_corpus.table_rows(table)]
                )
                targets = [float(v) for v in table["vmaf"]]
                baselines = ev.baseline_predictions(
                    codecs[name], features, targets, rest, held
                )
                for baseline, values in baselines.items():
                    pooled[name][baseline] += values
                seconds[name] += time.perf_counter() - start
            # The held-out rows, scored as `python -m vmaf_predictor evaluate
            # CORPUS --models DIR --predictions rows.csv` scores them.
            predictions = Path(models) / "rows.csv"
            runtime_evaluate.evaluate(args.corpus, models, predictions)
            with predictions.open(encoding="utf-8", newline="") as handle:
                lines = list(csv.DictReader(handle))
            for name, held in held_rows.items():
                mine = [line for line in lines if line["encoder"] == name]
                if len(mine) != len(tables[name]["vmaf"]):
                    raise RuntimeError(f"{name}: evaluate scored {len(mine)} rows")
                for i in held:
                    pooled[name]["actual"].append(float(mine[i]["vmaf_score"]))
                    pooled[name]["model"].append(float(mine[i]["predicted"]))
        print(f"  held out {held_group} ({g} of {len(groups)})", file=sys.stderr)
    print(
        "| codec | rows | held-out groups | shipped model (held-out group, "
        "`evaluate`) | fold mean | analytical | parametric | card's parametric "
        f"({evaluation.folds}-fold) | chosen on the inner folds | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, table in tables.items():
        p = pooled[name]
        if not p["actual"]:
            continue
        figures = {
            key: metrics.rmse(p[key], p["actual"]) for key in ("model", *ev.BASELINES)
        }
        card = _card_parametric(codecs[name], table, evaluation, settings, group_of)
        choices = ", ".join(f"{c} {n}" for c, n in chosen[name].most_common())
        print(
            f"| {name} | {len(p['actual'])} | {sum(chosen[name].values())} | "
            f"{figures['model']:.2f} | {figures['fold mean']:.2f} | "
            f"{figures['analytical']:.2f} | {figures['parametric']:.2f} | "
            f"{card:.2f} | {choices} | {seconds[name]:.0f} |",
            flush=True,
        )


def _card_parametric(entry, table, evaluation, settings, group_of) -> float:
    """The logistic baseline's RMSE as the card reports it: grouped k-fold
    cross-validation on all rows (the card's folds)."""
    features = np.array([training.to_float32(r) for r in s2_corpus.table_rows(table)])
    targets = [float(v) for v in table["vmaf"]]
    groups = [group_of(s) for s in [str(v) for v in table["src"]]]
    folds = ev.grouped_folds(groups, evaluation.folds, settings.seed)
    pooled = [math.nan] * len(targets)
    for k, held in enumerate(folds.held_out):
        train_idx = folds.training(k, len(targets))
        values = ev.baseline_predictions(entry, features, targets, train_idx, held)
        for i, v in zip(held, values["parametric"], strict=True):
            pooled[i] = v
    return metrics.rmse(pooled, targets)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--codec", action="append", default=[])
    parser.add_argument(
        "--leave-one-out",
        action="store_true",
        help="hold each source out in turn; score the shipped model on it",
    )
    parser.add_argument(
        "--group",
        metavar="REGEX",
        help="with --leave-one-out: hold out together the sources whose "
        "names give the same first regex group (e.g. one clip's shots)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    codecs = registry_from_config(config)
    settings = TrainSettings(**config["train"])
    evaluation = s3_train.EvaluationSettings(**config["evaluation"])
    with tempfile.TemporaryDirectory() as work:
        report = s1_split.split(args.corpus, codecs, work)
        tables = {
            name: s2_corpus.read_table(Path(work) / entry.table)
            for name, entry in report.codecs.items()
            if not args.codec or name in args.codec
        }
    run = leave_one_out if args.leave_one_out else grouped_cv
    run(args, config, codecs, settings, evaluation, tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
