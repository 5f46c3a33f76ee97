"""Stage 3: train one codec's model (:mod:`training`, chosen by
:mod:`selection` for a real corpus), with its grouped cross-validation."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vmaf_predictor.factory import evaluation as ev
from vmaf_predictor.factory import network
from vmaf_predictor.factory.network import (
    TrainedModel,
    TrainSettings,
)
from vmaf_predictor.factory.s2_corpus import (
    TARGET,
    Columns,
    read_columns,
    read_info,
    table_rows,
)
from vmaf_predictor.registry import Codec, codec_from_config
from vmaf_predictor.runtime import metrics
from vmaf_predictor.runtime.features import (
    extreme_inputs,
    spanning_rows,
)

if TYPE_CHECKING:
    pass

from vmaf_predictor.factory.selection import (
    fit_selected,
)
from vmaf_predictor.factory.training import (
    PARITY_ROWS,
    Fit,
    fit,
    split_indices,
    to_float32,
)


@dataclass(frozen=True)
class EvaluationSettings:
    """How a real codec is scored (config.yaml ``evaluation``)."""

    folds: int  # k = min(folds, sources)
    seeds: int  # training seeds whose grouped RMSE spread the card reports
    # Epochs chosen on grouped inner folds of the training rows (fit_selected)
    early_stopping: bool = False
    # With early stopping: the same folds choose among the network, each
    # curve of ``curves`` alone and their blends with the network
    blend: bool = False
    # The curves (curve_head.CURVES) the choice may take or blend in
    curves: tuple[str, ...] = ()
    # Inner folds on which the choice (and the epochs) is made
    selection_folds: int = 1

    def fit(
        self,
        columns: np.ndarray,
        targets: Sequence[float],
        train_idx: Sequence[int],
        sources: Sequence[str],
        settings: TrainSettings,
    ) -> Fit:
        """A real-corpus training on ``train_idx`` as these settings say:
        the network for every epoch, or :func:`fit_selected`."""
        if not self.early_stopping:
            return fit(columns, targets, train_idx, settings)
        curves = tuple(self.curves) if self.blend else ()
        return fit_selected(
            columns,
            targets,
            train_idx,
            sources,
            settings,
            curves,
            self.selection_folds,
        )


def cross_validate(
    codec: Codec,
    features: list[list[float]],
    targets: list[float],
    sources: list[str],
    settings: TrainSettings,
    evaluation: EvaluationSettings,
) -> dict[str, Any]:
    """Grouped k-fold cross-validation of the learner and the baselines
    (:mod:`evaluation`): pooled out-of-fold predictions of every row, their
    figures, and the learner's grouped RMSE for each of ``evaluation.seeds``
    training seeds (settings.seed, +1, ...; the folds stay those of
    settings.seed). The figures of settings.seed are the card's."""
    folds = ev.grouped_folds(sources, evaluation.folds, settings.seed)
    columns = network.model_inputs(np.array(features))
    n = len(targets)
    pooled: dict[str, list[float]] = {
        name: [0.0] * n for name in (ev.LEARNER, *ev.BASELINES)
    }
    bare = [0.0] * n
    seed_rmse = []
    # Of settings.seed: what each outer fold's own choice was (made on its
    # training rows alone: the held-out sources never take part).
    fold_choices: list[str] = []
    for offset in range(evaluation.seeds):
        seeded = dataclasses.replace(settings, seed=settings.seed + offset)
        predicted = [0.0] * n
        for k, held in enumerate(folds.held_out):
            train_idx = folds.training(k, n)
            fitted = evaluation.fit(columns, targets, train_idx, sources, seeded)
            for i, p in zip(held, fitted.predict(columns[held]), strict=True):
                predicted[i] = p
            if offset == 0:
                if fitted.selection:
                    fold_choices.append(fitted.selection["chosen"])
                blank = fitted.predict(columns[held], bare=True)
                fitted_baselines = ev.baseline_predictions(
                    codec, np.array(features), targets, train_idx, held
                )
                for j, i in enumerate(held):
                    bare[i] = blank[j]
                    for name, values in fitted_baselines.items():
                        pooled[name][i] = values[j]
        if offset == 0:
            pooled[ev.LEARNER] = predicted
        seed_rmse.append(round(metrics.rmse(predicted, targets), 6))
    figures = ev.scores(pooled, targets)
    figures[ev.LEARNER]["rmse_unmeasured"] = round(metrics.rmse(bare, targets), 6)
    return {
        "split": folds.by,
        "groups": folds.groups,
        "folds": len(folds.held_out),
        "rows": n,
        "figures": figures,
        "winner": ev.winner(figures),
        "seed_rmse": seed_rmse,
        "fold_choices": fold_choices,
        "targets": list(targets),
        "predictions": pooled[ev.LEARNER],
    }


def train(
    codec: str,
    table: Columns,
    settings: TrainSettings,
    entry: Codec | None = None,
    evaluation: EvaluationSettings | None = None,
    cross_validated: bool = True,
) -> TrainedModel:
    """Train on one codec's table and say how well it predicts unseen rows.

    Without ``evaluation`` (synthetic stubs): a seeded row split, the model
    trained on its training part and scored on the held-out part (beside
    the baselines, when ``entry`` is given). With it (real corpora): grouped
    cross-validation by source (:func:`cross_validate`), then the model
    trained on all rows. ``cross_validated=False`` (real corpora) leaves the
    cross-validation out: the same model, no figures (a held-out-source
    test that scores the model itself, tools/grouped_cv_table.py).
    """
    features = [to_float32(row) for row in table_rows(table)]
    targets = [float(v) for v in table[TARGET]]
    columns = network.model_inputs(np.array(features))
    if evaluation is None:
        train_idx, holdout_idx = split_indices(
            len(targets), settings.holdout_fraction, settings.seed
        )
        fitted = fit(columns, targets, train_idx, settings)
    else:
        train_idx, holdout_idx = list(range(len(targets))), []
        sources = [str(v) for v in table["src"]] if "src" in table else []
        sources = sources or [""] * len(targets)
        fitted = evaluation.fit(columns, targets, train_idx, sources, settings)

    crfs = [row[0] for row in features]
    check_inputs = [
        to_float32(row)
        for row in extreme_inputs([min(crfs), max(crfs)])
        + spanning_rows(features, PARITY_ROWS)
    ]
    check_predictions = fitted.predict(network.model_inputs(np.array(check_inputs)))
    held_targets = [targets[i] for i in holdout_idx]
    if evaluation is None:
        held_columns = columns[holdout_idx]
        predictions = fitted.predict(held_columns)
        bare_predictions = fitted.predict(held_columns, bare=True)
        figures = {
            "plcc": metrics.plcc(predictions, held_targets),
            "srocc": metrics.srocc(predictions, held_targets),
            "rmse": metrics.rmse(predictions, held_targets),
            "rmse_unmeasured": metrics.rmse(bare_predictions, held_targets),
        }
        scored: dict[str, Any] = {}
        if entry is not None:
            baselines = ev.baseline_predictions(
                entry, np.array(features), targets, train_idx, holdout_idx
            )
            table_figures = ev.scores(
                {ev.LEARNER: predictions, **baselines}, held_targets
            )
            scored = {
                "split": "row",
                "groups": len(targets),
                "folds": 1,
                "rows": len(holdout_idx),
                "figures": table_figures,
                "winner": ev.winner(table_figures),
                "seed_rmse": [],
            }
    else:
        if entry is None:
            raise ValueError("grouped evaluation needs the codec's registry entry")
        predictions = bare_predictions = []
        figures = {}
        result: dict[str, Any] = {}
        if cross_validated:
            result = cross_validate(
                entry, features, targets, sources, settings, evaluation
            )
            learner = result["figures"][ev.LEARNER]
            figures = {
                key: learner[key]
                for key in (
                    "plcc",
                    "srocc",
                    "rmse",
                    "rmse_unmeasured",
                    "max_abs_error",
                    "mean_signed_error",
                )
            }
        result["epochs"] = len(fitted.loss_curve)
        if fitted.selection:
            result["selection"] = fitted.selection
        scored = result
    blend = {}
    if fitted.blend is not None:
        blend = {"weight": fitted.blend[0], **fitted.blend[1].as_dict()}
    return TrainedModel(
        codec=codec,
        settings=settings,
        mean=fitted.mean,
        std=fitted.std,
        target_scale=list(fitted.target_scale),
        weights=fitted.model.weights_as_lists() if fitted.model else {},
        n_train=len(train_idx),
        n_holdout=len(holdout_idx),
        metrics=figures,
        loss_curve=fitted.loss_curve,
        holdout_inputs=[features[i] for i in holdout_idx],
        holdout_targets=held_targets,
        holdout_predictions=predictions,
        check_inputs=check_inputs,
        check_predictions=check_predictions,
        evaluation=scored,
        blend=blend,
    )


def run(input: Any, output: Any, params: Any, codec: str) -> str:
    """Stage entry point: train on the codec's table, save the result."""
    # Tensors this small run faster on one thread (the bytes never depend on it).
    torch.set_num_threads(1)
    entry = codec_from_config(codec, params.codec)
    real = read_info(input.info).kind == "real"
    evaluation = EvaluationSettings(**params.evaluation) if real else None
    model = train(
        codec,
        read_columns(input.table),
        TrainSettings(**params.settings),
        entry,
        evaluation,
    )
    network.save(model, output.trained)
    chosen = model.evaluation.get("selection", {}).get("chosen")
    loss = f"final loss {model.loss_curve[-1]:.4f}" if model.loss_curve else ""
    return (
        f"{codec}: {model.n_train} train / {model.n_holdout} held out, "
        + (f"chose {chosen}, " if chosen else "")
        + (f"{loss}, " if loss else "")
        + "held-out "
        + ", ".join(f"{k} {v:.4f}" for k, v in sorted(model.metrics.items()))
    )
