"""Grouped evaluation and the baselines (vmaf_predictor.factory.evaluation)."""

import dataclasses
import itertools
import math

import numpy as np
import pytest

from vmaf_predictor.factory import evaluation as ev
from vmaf_predictor.factory import network, s2_corpus, selection, training
from vmaf_predictor.factory import s3_train as train
from vmaf_predictor.factory.network import exact_exp
from vmaf_predictor.runtime import metrics


@pytest.mark.parametrize(("sources", "seed"), [(3, 0), (8, 1), (12, 7), (5, 42)])
def test_grouped_folds_never_share_a_source(sources, seed):
    names = [f"clip{i % sources}" for i in range(6 * sources)]
    folds = ev.grouped_folds(names, 5, seed)
    assert folds.by == "source" and len(folds.held_out) == min(5, sources)
    seen = [{names[i] for i in fold} for fold in folds.held_out]
    for a in range(len(seen)):
        for b in range(a + 1, len(seen)):
            assert not seen[a] & seen[b]
    assert sorted(i for fold in folds.held_out for i in fold) == list(range(len(names)))


def test_grouped_folds_are_seeded():
    names = [f"s{i % 10}" for i in range(40)]
    assert ev.grouped_folds(names, 5, 1) == ev.grouped_folds(names, 5, 1)
    assert ev.grouped_folds(names, 5, 1) != ev.grouped_folds(names, 5, 2)


@pytest.mark.parametrize("seed", [0, 3, 42])
def test_two_shots_of_one_clip_are_never_on_both_sides_of_a_fold(seed):
    """Shots (clip@shotNNN) of one clip share its content: the fold holds
    the clip out, all its shots at once."""
    names = [
        f"clip{c}@shot{s:03d}" if c % 2 else f"clip{c}"  # odd clips have shots
        for c in range(7)
        for s in range(c % 3 + 1)
        for _ in range(4)
    ]
    folds = ev.grouped_folds(names, 5, seed)
    assert folds.by == "clip" and folds.groups == 7 and len(folds.held_out) == 5
    for k, held in enumerate(folds.held_out):
        held_clips = {names[i].split("@")[0] for i in held}
        trained = {names[i].split("@")[0] for i in folds.training(k, len(names))}
        assert held_clips and not held_clips & trained


def test_plain_sources_group_exactly_as_before_shots():
    """Without a shot suffix, grouping by clip is grouping by source: the
    same folds as grouping the names themselves (what the committed real
    cards were made with)."""
    names = [f"clips/clip{i % 9:04d}.y4m" for i in range(45)]
    folds = ev.grouped_folds(names, 5, 42)
    assert folds.by == "source" and folds.groups == 9
    by_hand = {name: [i for i, n in enumerate(names) if n == name] for name in names}
    held, sizes = [[] for _ in range(5)], [0] * 5
    for name in ev._shuffled(sorted(by_hand), 42):
        k = min(range(5), key=lambda f: sizes[f])
        held[k] += by_hand[name]
        sizes[k] += len(by_hand[name])
    assert folds.held_out == [sorted(fold) for fold in held]


def test_without_sources_the_folds_split_by_row():
    folds = ev.grouped_folds([""] * 7, 5, 0)
    assert folds.by == "row" and len(folds.held_out) == 5 and folds.groups == 7


def test_exact_exp_is_within_a_few_ulp_of_libm():
    x = np.linspace(-60.0, 60.0, 2001)
    ours = exact_exp(x)
    assert np.max(np.abs(ours / np.array([math.exp(v) for v in x]) - 1)) < 1e-14


def _rows(crf, bitrate, width=1920.0, height=1080.0, fps=30.0):
    rows = np.zeros((len(crf), 14))
    rows[:, 0], rows[:, 1] = crf, bitrate
    rows[:, 11], rows[:, 12], rows[:, 13] = fps, width, height
    return rows


def test_the_fold_mean_baseline_predicts_the_training_mean(x264):
    rows = _rows([20, 30, 40, 25], [1000] * 4)
    got = ev.baseline_predictions(x264, rows, [90.0, 70.0, 50.0, 10.0], [0, 1, 2], [3])
    assert got["fold mean"] == [70.0]


def test_the_analytical_baseline_is_the_fallback_curve(x264):
    rows = _rows([18, 23, 35, 51], [300, 3000, 12000, 0.5])
    ours = ev.analytical(x264, rows)
    theirs = [x264.analytical_vmaf(r[0], r[1]) for r in rows]
    assert ours == pytest.approx(theirs, abs=1e-12)


def test_the_parametric_baseline_recovers_a_logistic_curve():
    crf = np.repeat(np.arange(15.0, 50.0, 5.0), 4)
    bitrate = np.tile([500.0, 1500.0, 4000.0, 9000.0], 7)
    rows = _rows(crf, bitrate)
    eta = 4.0 - 0.15 * (crf - 30.0) + 0.8 * np.log(bitrate / 1500.0)
    vmaf = (100.0 / (1.0 + np.exp(-eta))).tolist()
    fitted = ev.fit_logistic(rows, vmaf)
    assert fitted.params[1] < 0.0
    assert fitted.predict(rows) == pytest.approx(vmaf, abs=1e-6)


def test_the_parametric_baseline_never_rises_with_crf():
    crf = np.arange(10.0, 50.0, 2.0)
    rows = _rows(crf, [2000.0] * len(crf))
    rising = (40.0 + crf).tolist()  # VMAF rising with CRF: b is held at 0
    fitted = ev.fit_logistic(rows, rising)
    assert fitted.params[1] == 0.0
    predicted = fitted.predict(rows)
    assert all(b <= a for a, b in itertools.pairwise(predicted))


def _frame_rate_rows():
    """Rows of four frame rates whose VMAF follows log fps as well as CRF
    and log bits per pixel."""
    crf = np.repeat(np.arange(15.0, 50.0, 5.0), 8)
    bitrate = np.tile([500.0, 1500.0, 4000.0, 9000.0] * 2, 7)
    fps = np.tile([5.0, 5.0, 10.0, 10.0, 25.0, 25.0, 60.0, 60.0], 7)
    rows = _rows(crf, bitrate)
    rows[:, 11] = fps
    lbpp = np.log(bitrate * 1000.0 / (1920.0 * 1080.0 * fps))
    eta = 3.0 - 0.15 * (crf - 30.0) + 0.8 * (lbpp + 6.0) + 1.2 * np.log(fps / 20.0)
    return rows, (100.0 / (1.0 + np.exp(-eta))).tolist()


def test_the_frame_rate_term_recovers_a_curve_that_follows_the_frame_rate():
    rows, vmaf = _frame_rate_rows()
    fitted = ev.LogisticFps.fit_columns(network.model_inputs(rows), vmaf)
    baseline = ev.Logistic.fit_columns(network.model_inputs(rows), vmaf)
    assert fitted.predict(rows) == pytest.approx(vmaf, abs=1e-6)
    assert metrics.rmse(baseline.predict(rows), vmaf) > 1.0


def test_with_one_frame_rate_the_frame_rate_term_is_the_baseline_to_the_bit():
    crf = np.repeat(np.arange(15.0, 50.0, 5.0), 4)
    rows = _rows(crf, np.tile([500.0, 1500.0, 4000.0, 9000.0], 7))
    vmaf = (90.0 - 0.8 * (crf - 15.0)).tolist()
    fitted = ev.LogisticFps.fit_columns(network.model_inputs(rows), vmaf)
    baseline = ev.Logistic.fit_columns(network.model_inputs(rows), vmaf)
    assert fitted.params == (*baseline.params, 0.0)
    assert fitted.predict(rows) == baseline.predict(rows)


def test_the_frame_rate_curves_graph_map_is_its_argument():
    """The graph computes the curve as sigmoid(columns @ w + bias)."""
    rows, vmaf = _frame_rate_rows()
    columns = network.model_inputs(rows)
    fitted = ev.LogisticFps.fit_columns(columns, vmaf)
    w, bias = fitted.graph_weights()
    eta = columns @ np.array(w) + bias
    assert (100.0 / (1.0 + np.exp(-eta))).tolist() == pytest.approx(
        fitted.predict(rows), abs=1e-9
    )


def test_the_winner_is_the_lowest_rmse_and_the_model_on_a_tie():
    figures = {"model": {"rmse": 2.0}, "fold mean": {"rmse": 9.0},
               "analytical": {"rmse": 2.0}, "parametric": {"rmse": 1.0}}  # fmt: skip
    assert ev.winner(figures) == "parametric"
    figures["parametric"]["rmse"] = 3.0
    assert ev.winner(figures) == "model"


def real_table(x264, sources=4, per_source=6):
    """A small real-like table: a few sources, each at several CRFs."""
    rows, vmaf, src = [], [], []
    for s in range(sources):
        bitrate = 800.0 * (s + 1)
        for j in range(per_source):
            crf = 18.0 + 5.0 * j
            rows.append(_rows([crf], [bitrate])[0])
            vmaf.append(round(x264.analytical_vmaf(crf, bitrate) - 2.0 * s, 4))
            src.append(f"clip{s}")
    return s2_corpus.table_of(np.array(rows).tolist(), vmaf, src)


@pytest.fixture(scope="module")
def grouped_x264(x264, settings):
    short = dataclasses.replace(settings, epochs=30)
    evaluation = train.EvaluationSettings(folds=5, seeds=2)
    return train.train("libx264", real_table(x264), short, x264, evaluation)


def test_a_real_corpus_is_scored_by_source_folds_and_trained_on_all_rows(
    grouped_x264,
):
    e = grouped_x264.evaluation
    assert e["split"] == "source" and e["folds"] == 4 and e["groups"] == 4
    assert grouped_x264.n_train == 24 and grouped_x264.n_holdout == 0
    assert len(e["predictions"]) == len(e["targets"]) == 24
    assert len(e["seed_rmse"]) == 2
    assert set(e["figures"]) == {"model", "fold mean", "analytical", "parametric"}
    assert grouped_x264.metrics["rmse"] == e["figures"]["model"]["rmse"]


def test_the_fold_mean_figures_are_a_hand_computation_on_the_same_folds(
    x264, grouped_x264
):
    table = real_table(x264)
    targets = list(table["vmaf"])
    folds = ev.grouped_folds(list(table["src"]), 5, 42)
    pooled = [0.0] * len(targets)
    for k, held in enumerate(folds.held_out):
        train_idx = folds.training(k, len(targets))
        mean = sum(targets[i] for i in train_idx) / len(train_idx)
        for i in held:
            pooled[i] = mean
    rmse = math.sqrt(
        sum((p - t) ** 2 for p, t in zip(pooled, targets, strict=True)) / 24
    )
    figures = grouped_x264.evaluation["figures"]["fold mean"]
    assert figures["rmse"] == pytest.approx(rmse, abs=1e-6)


def _columns(table):
    features = np.array(s2_corpus.table_rows(table))
    return train.network.model_inputs(features), list(table["vmaf"])


def test_monitoring_rows_never_changes_the_training(x264, settings):
    columns, targets = _columns(real_table(x264))
    short = dataclasses.replace(settings, epochs=10)
    plain = training.fit(columns, targets, range(18), short)
    watched = training.fit(columns, targets, range(18), short, monitor=range(18, 24))
    assert plain.model.weights_as_lists() == watched.model.weights_as_lists()
    assert len(watched.monitor_predictions) == 10 and plain.monitor_predictions == []


def test_early_stopping_trains_for_the_best_validation_epoch_count(x264, settings):
    table = real_table(x264, sources=6)
    columns, targets = _columns(table)
    sources = list(table["src"])
    short = dataclasses.replace(settings, epochs=60)
    stopped = selection.fit_selected(columns, targets, range(36), sources, short)
    inner = ev.grouped_folds(sources, ev.INNER_FOLDS, short.seed)
    held = inner.held_out[0]
    watched = training.fit(columns, targets, inner.training(0, 36), short, monitor=held)
    errors = [
        math.fsum((p - targets[i]) ** 2 for p, i in zip(epoch, held, strict=True))
        for epoch in watched.monitor_predictions
    ]
    assert len(stopped.loss_curve) == errors.index(min(errors)) + 1 <= 60


def test_without_two_sources_early_stopping_trains_every_epoch(x264, settings):
    columns, targets = _columns(real_table(x264))
    short = dataclasses.replace(settings, epochs=7)
    fitted = selection.fit_selected(columns, targets, range(24), [""] * 24, short)
    assert len(fitted.loss_curve) == 7


def test_a_blend_mixes_network_and_curve_and_clips():
    assert training.blended([80.0, 100.0], [60.0, 120.0], 0.25) == [75.0, 100.0]


def test_the_blend_weight_is_chosen_with_the_epochs_on_the_validation_fold(
    x264, settings
):
    table = real_table(x264, sources=6)
    columns, targets = _columns(table)
    short = dataclasses.replace(settings, epochs=15)
    fitted = selection.fit_selected(
        columns, targets, range(36), list(table["src"]), short, ("logistic",)
    )
    if fitted.blend is not None:
        w, curve = fitted.blend
        assert w in ev.BLEND_WEIGHTS and w > 0.0
        if fitted.model is not None:
            network_only = dataclasses.replace(fitted, blend=None).predict(columns)
            expected = training.blended(network_only, curve.predict_columns(columns), w)
            assert fitted.predict(columns) == expected
    assert len(fitted.loss_curve) <= 15
