"""What a real-corpus model ships: the network, a curve or a blend, and its
epochs, chosen on grouped inner folds of the training rows."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vmaf_predictor.factory import curve_head
from vmaf_predictor.factory import evaluation as ev
from vmaf_predictor.factory.network import (
    TrainSettings,
)

if TYPE_CHECKING:
    pass

from vmaf_predictor.factory.training import (
    Fit,
    fit,
)


@dataclass(frozen=True)
class Candidate:
    """One way a real-corpus model may predict: the network alone (no
    curve), a curve alone (weight 1) or the blend ``(1 - w) * network + w *
    curve`` (:data:`evaluation.BLEND_WEIGHTS`)."""

    curve: str | None
    weight: float

    @property
    def name(self) -> str:
        if self.curve is None:
            return NETWORK
        if self.weight == 1.0:
            return self.curve
        return f"{NETWORK} + {self.weight:g} {self.curve}"

    @property
    def trains_network(self) -> bool:
        return self.weight < 1.0


NETWORK = "network"
# How many standard errors a candidate with the network must beat the best
# curve alone by (the paired difference of their squared errors over the
# watched folds). With a handful of sources the network's lead on the inner
# folds is mostly noise, and it runs against its lead on the held-out
# source: the source it fits worst is the one the outer fold holds out, so
# the inner folds never see it. Measured by holding each source out in turn
# (tools/grouped_cv_table.py --leave-one-out; README, "How a model is
# scored") on three corpora of 8 to 12 sources (140 held-out source and
# codec pairs): the lowest figure alone ships a network for 66 of them, and
# against it 3 standard errors give a lower RMSE on 14 of the 15 codecs and
# a higher one on none; 2 give a higher one on 1, 4 the same as 3.
NETWORK_EVIDENCE = 3.0


def candidates(curves: Sequence[str]) -> list[Candidate]:
    """Every candidate with ``curves``, in the order that wins a tie: each
    curve alone (in the given order), then the blends from the most curve
    to the least, then the network alone. Fewer parameters first: a tie is
    no evidence for the network."""
    shares = sorted((w for w in ev.BLEND_WEIGHTS if 0.0 < w < 1.0), reverse=True)
    return [
        *(Candidate(kind, 1.0) for kind in curves),
        *(Candidate(kind, w) for w in shares for kind in curves),
        Candidate(None, 0.0),
    ]


def _first_lowest(values: Sequence[float]) -> int:
    """The index of the lowest value, the first on a tie."""
    return min(range(len(values)), key=lambda i: (values[i], i))


def fit_selected(
    columns: np.ndarray,
    targets: Sequence[float],
    train_idx: Sequence[int],
    sources: Sequence[str],
    settings: TrainSettings,
    curves: Sequence[str] = (),
    selection_folds: int = 1,
) -> Fit:
    """Choose, on grouped folds of the training rows alone, how to predict,
    and fit that on all of them (real corpora).

    The training rows' sources are split as the evaluation splits them
    (:func:`evaluation.grouped_folds`, seeded, :data:`evaluation.INNER_FOLDS`
    folds). For each of the first ``selection_folds`` of them the network is
    trained on the other rows for up to ``settings.epochs`` epochs with that
    fold watched, and each curve of ``curves`` (config ``evaluation.curves``,
    :data:`curve_head.CURVES`) is fitted on the same other rows. Every
    :func:`candidates` entry (the network, each curve alone, each blend) is
    then scored on the watched rows by its squared error summed over all
    watched folds. A candidate with the network needs an epoch count too:
    its figure is honest about that choice, each watched fold scored at the
    epoch count the *other* watched folds chose (one watched fold: its own
    best, an optimistic figure), so the network's many epoch counts give it
    no edge over a curve's single fit. The first curve of ``curves`` alone
    is shipped unless other curves alone are lower on every watched fold
    (then the lowest of those), and that one unless a candidate with the
    network beats it by more than :data:`NETWORK_EVIDENCE` standard errors
    (:meth:`Selection.of`);
    the winner's network trains on all ``train_idx`` rows for the epoch
    count with the lowest error summed over every watched fold (the fewest
    on a tie), and its curve is fitted on them. Every candidate never rises
    with CRF, so neither does the winner. Without two sources among the
    rows: the network alone, every epoch.

    One watched fold holds a fifth of the training sources (two or three of
    a dozen): choosing among 5 weights x ``epochs`` epoch counts on it picks
    the network's luckiest epoch. Measured on the sweep corpus (5 seeds),
    libaom-av1: 16.11 +- 0.98 chosen on one fold, 15.21 +- 0.33 on five.
    """
    train_idx = list(train_idx)
    names = [sources[i] for i in train_idx]
    if len(set(names)) < 2:
        return fit(columns, targets, train_idx, settings)
    inner = ev.grouped_folds(names, ev.INNER_FOLDS, settings.seed)
    options = candidates(curves)
    # errors[k][c][e]: the squared error summed over watched fold k's rows
    # of candidate c at epoch count e + 1 (one entry for a curve alone).
    errors: list[list[list[float]]] = []
    watched_rows = 0
    # Only epoch counts every watched training reached (epochs follow the
    # row count, so folds of different sizes may stop at different counts).
    reached = settings.epochs
    for k in range(min(selection_folds, len(inner.held_out))):
        held = [train_idx[j] for j in inner.held_out[k]]
        rest = [train_idx[j] for j in inner.training(k, len(train_idx))]
        watched = fit(columns, targets, rest, settings, monitor=held)
        reached = min(reached, len(watched.monitor_predictions))
        actual = np.array([targets[i] for i in held])
        by_epoch = np.array(watched.monitor_predictions)
        on_held = {
            kind: np.array(
                curve_head.fit_curve(
                    kind, columns[rest], [targets[i] for i in rest]
                ).predict_columns(columns[held])
            )
            for kind in curves
        }
        fold = []
        for option in options:
            if option.curve is None:
                mixed = by_epoch
            elif not option.trains_network:
                mixed = on_held[option.curve][None, :]
            else:
                w = option.weight
                mixed = (1.0 - w) * by_epoch + w * on_held[option.curve][None, :]
            miss = np.clip(mixed, 0.0, 100.0) - actual
            fold.append([math.fsum(epoch) for epoch in (miss * miss).tolist()])
        errors.append(fold)
        watched_rows += len(held)
    selection = Selection.of(options, errors, reached, watched_rows, inner.groups)
    selection = dataclasses.replace(selection, grouped_by=inner.by)
    chosen = selection.chosen
    if chosen.trains_network:
        epochs = selection.epochs[options.index(chosen)]
        final = fit(
            columns, targets, train_idx, dataclasses.replace(settings, epochs=epochs)
        )
    else:
        final = Fit(None, [], [], (0.0, 0.0), [])
    if chosen.curve is not None:
        curve = curve_head.fit_curve(
            chosen.curve, columns[train_idx], [targets[i] for i in train_idx]
        )
        final.blend = (chosen.weight, curve)
    final.selection = selection.as_dict()
    return final


@dataclass(frozen=True)
class Selection:
    """What :func:`fit_selected` chose and every candidate's figure."""

    options: list[Candidate]
    figures: list[float]  # honest squared error summed over the watched rows
    epochs: list[int | None]  # the final epoch count (None: a curve alone)
    chosen: Candidate
    folds: int  # watched inner folds
    rows: int  # watched rows
    sources: int  # groups (clips or sources) of the training rows
    # The best candidate with the network against the best curve alone:
    # (network's index, curve's index, the curve's figure minus the
    # network's, the standard error of that difference); None without both.
    evidence: tuple[int, int, float, float] | None = None
    grouped_by: str = "source"  # what the inner folds held out together

    @classmethod
    def of(
        cls,
        options: list[Candidate],
        errors: list[list[list[float]]],
        reached: int,
        rows: int,
        sources: int,
    ) -> Selection:
        """``errors[k][c][e]``: watched fold k's squared error of candidate c
        at epoch count e + 1. Each candidate's figure sums its folds' errors,
        a network's each at the epoch count the other folds chose. The first
        curve alone, unless other curves alone are lower on every watched
        fold (then the lowest of those); a candidate with the network
        replaces that curve only when its own figure (the lowest of theirs)
        is lower by more than :data:`NETWORK_EVIDENCE` standard errors of the
        paired per-fold difference (one watched fold: by any amount). Ties:
        the order of ``options``."""
        folds = len(errors)
        per_fold, epochs = [], []
        for c, option in enumerate(options):
            if not option.trains_network:
                per_fold.append([errors[k][c][0] for k in range(folds)])
                epochs.append(None)
                continue

            def summed(watched: Sequence[int], c: int = c) -> list[float]:
                return [
                    math.fsum(errors[k][c][e] for k in watched) for e in range(reached)
                ]

            everywhere = range(folds)
            honest = []
            for k in everywhere:
                others = [j for j in everywhere if j != k] or [k]
                honest.append(errors[k][c][_first_lowest(summed(others))])
            per_fold.append(honest)
            epochs.append(_first_lowest(summed(everywhere)) + 1)
        figures = [math.fsum(errors) for errors in per_fold]

        def best(indices: list[int]) -> int:
            return min(indices, key=lambda i: (figures[i], i))

        def lead(challenger: int, holder: int) -> tuple[float, float]:
            """The challenger's lead over the holder and its standard error."""
            ahead = figures[holder] - figures[challenger]
            pairs = zip(per_fold[holder], per_fold[challenger], strict=True)
            return ahead, _standard_error([a - b for a, b in pairs])

        def replaces(challenger: int, holder: int, needed: float) -> bool:
            ahead, error = lead(challenger, holder)
            return ahead > needed * error if folds > 1 else ahead > 0.0

        curves = [i for i, o in enumerate(options) if not o.trains_network]
        networks = [i for i, o in enumerate(options) if o.trains_network]
        # The first curve alone (config evaluation.curves' first: the mean
        # of the others, curve_head.CurveMean, which says what was measured)
        # unless other curves are lower on every watched fold: then the best
        # of those. The inner folds' preference between curves is mostly
        # noise: shipping the lowest figure lost to the logistic curve on 2
        # to 3 codecs of 5, and 3 standard errors of the paired difference
        # kept the mean on rows that are exactly a logistic curve (5 folds,
        # one of them holding most of the error: 2.6 standard errors).
        curve = curves[0] if curves else None
        rivals = [
            i
            for i in curves[1:]
            if all(a > b for a, b in zip(per_fold[curve], per_fold[i], strict=True))
        ]
        if rivals:
            curve = best(rivals)
        if curve is None or not networks:
            chosen = curve if curve is not None else best(networks)
            return cls(options, figures, epochs, options[chosen], folds, rows, sources)
        net = best(networks)
        chosen = net if replaces(net, curve, NETWORK_EVIDENCE) else curve
        ahead, error = lead(net, curve)
        evidence = (net, curve, ahead, error)
        return cls(
            options, figures, epochs, options[chosen], folds, rows, sources, evidence
        )

    def as_dict(self) -> dict[str, Any]:
        """For the trained model's evaluation (the card's selection table):
        each candidate's RMSE over the watched rows, rounded as the card
        keeps figures, and the network's evidence against the best curve."""
        result: dict[str, Any] = {
            "chosen": self.chosen.name,
            "folds": self.folds,
            "rows": self.rows,
            "sources": self.sources,
            "by": self.grouped_by,
            "candidates": [
                {
                    "name": option.name,
                    "rmse": round(math.sqrt(figure / self.rows), 6) + 0.0,
                    "epochs": epochs,
                }
                for option, figure, epochs in zip(
                    self.options, self.figures, self.epochs, strict=True
                )
            ],
        }
        if self.evidence is not None:
            net, curve, lead, error = self.evidence
            result["evidence"] = {
                "network": self.options[net].name,
                "curve": self.options[curve].name,
                "lead": round(lead, 6) + 0.0,
                "standard_error": round(error, 6) + 0.0,
                "needed": NETWORK_EVIDENCE,
            }
        return result


def _standard_error(differences: Sequence[float]) -> float:
    """The standard error of the sum of ``differences`` (one per watched
    fold): sqrt(n) times their sample standard deviation; 0 for one."""
    n = len(differences)
    if n < 2:
        return 0.0
    mean = math.fsum(differences) / n
    spread = math.fsum((d - mean) * (d - mean) for d in differences) / (n - 1)
    return math.sqrt(n) * math.sqrt(spread)
