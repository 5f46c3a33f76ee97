"""The content-slope curve (factory/curve_head.py): monotone in CRF by
construction, the same bits in every process, and its graph within the
parity budget of the float64 curve."""

import dataclasses
import math

import numpy as np
import pytest
from fresh_process import python_output

from vmaf_predictor.factory import curve_head, network, selection, training
from vmaf_predictor.factory import evaluation as ev
from vmaf_predictor.factory import s3_train as train
from vmaf_predictor.factory import s4_export as export
from vmaf_predictor.runtime.features import (
    FEATURE_NAMES,
    extreme_inputs,
    spanning_rows,
)
from vmaf_predictor.runtime.session import open_session, predict


def _sweep_like(x264):
    """Sources whose VMAF falls with CRF the faster, the more bits their probe
    takes (the shape measured on the sweep corpus), rounded as a sweep is."""
    rows, vmaf, src = [], [], []
    for s in range(8):
        bitrate = 60.0 * 1.7**s
        for j in range(8):
            crf = 18.0 + 4.0 * j
            row = [0.0] * len(FEATURE_NAMES)
            row[0], row[1] = crf, bitrate
            row[10:] = [48.0, 25.0, 320.0, 180.0]
            rows.append(training.to_float32(row))
            eta = 3.0 - (0.08 + 0.02 * s) * (crf - 30.0) - 0.1 * (s % 3)
            vmaf.append(round(100.0 / (1.0 + float(network.exact_exp(-eta))), 4))
            src.append(f"clip{s}")
    return np.array(rows), vmaf, src


def _p_frame_like():
    """One probe bitrate for all, but VMAF falls with CRF the faster, the
    larger the probe's mean P frame (sources that spend their bits on
    motion): only the P-frame term can follow it."""
    rows, vmaf = [], []
    for s in range(8):
        p_bytes = 40.0 * 1.8**s
        for j in range(8):
            crf = 18.0 + 4.0 * j
            row = [0.0] * len(FEATURE_NAMES)
            row[0], row[1], row[2], row[3] = crf, 500.0, 4000.0, p_bytes
            row[10:] = [48.0, 25.0, 320.0, 180.0]
            rows.append(training.to_float32(row))
            eta = 3.0 - (0.08 + 0.02 * s) * (crf - 30.0)
            vmaf.append(round(100.0 / (1.0 + float(network.exact_exp(-eta))), 4))
    return np.array(rows), vmaf


@pytest.fixture(scope="module")
def fitted_p():
    features, targets = _p_frame_like()
    return curve_head.fit_columns(network.model_inputs(features), targets), features


@pytest.fixture(scope="module")
def fitted(x264):
    features, targets, _ = _sweep_like(x264)
    return curve_head.fit_columns(network.model_inputs(features), targets), features


def test_the_slope_follows_the_probe_bitrate(fitted, x264):
    curve, features = fitted
    assert curve.params[2] > 0.0  # steeper for more bits per pixel, as the rows are
    _, targets, _ = _sweep_like(x264)
    err = np.array(curve.predict(features)) - np.array(targets)
    baseline = ev.fit_logistic(features, targets).predict(features)
    assert np.sqrt(np.mean(err**2)) < np.sqrt(
        np.mean((np.array(baseline) - targets) ** 2)
    )


def test_with_one_bitrate_it_is_the_logistic_curve_in_crf(x264):
    features, targets, _ = _sweep_like(x264)
    features[:, 1] = 500.0
    curve = curve_head.fit_columns(network.model_inputs(features), targets)
    assert curve.params[2] == 0.0


def test_the_slope_follows_the_probe_p_frame_size(fitted_p):
    curve, features = fitted_p
    assert curve.params[3] > 0.0  # steeper for larger P frames, as the rows are
    _, targets = _p_frame_like()
    unmeasured = features.copy()
    unmeasured[:, 3] = 0.0  # frame sizes sent as not measured
    alone = curve_head.fit_columns(network.model_inputs(unmeasured), targets)
    assert alone.params[3] == 0.0

    def rmse(c, f):
        return np.sqrt(np.mean((np.array(c.predict(f)) - np.array(targets)) ** 2))

    assert rmse(curve, features) < rmse(alone, unmeasured)


def test_rows_without_frame_sizes_get_the_curve_of_bpp_alone(fitted_p):
    curve, features = fitted_p
    unmeasured = features.copy()
    unmeasured[:, 3] = 0.0
    a, g0, g1, _ = curve.params
    without = dataclasses.replace(curve, params=(a, g0, g1, 0.0))
    assert curve.predict(unmeasured) == without.predict(unmeasured)


@pytest.mark.parametrize("which", ["fitted", "fitted_p"])
def test_never_rises_with_crf_for_any_content(which, request):
    curve, features = request.getfixturevalue(which)
    contents = [*extreme_inputs([0.0, 63.0]), *spanning_rows(features.tolist(), 32)]
    grid = np.arange(0.0, 63.5, 0.5)
    for row in contents:
        batch = np.repeat(np.array([row], dtype=np.float64), len(grid), axis=0)
        batch[:, 0] = grid
        values = np.array(curve.predict(batch))
        assert np.all(np.diff(values) <= 0.0)
        assert np.all((values >= 0.0) & (values <= 100.0))


def test_the_fit_is_the_same_bits_in_another_process(fitted, x264):
    curve, _ = fitted
    there = python_output("""
        import numpy as np
        from vmaf_predictor import registry
        from vmaf_predictor.factory import curve_head, network
        import sys; sys.path.insert(0, "tests")
        from test_curve_head import _sweep_like
        features, targets, _ = _sweep_like(None)
        curve = curve_head.fit_columns(network.model_inputs(features), targets)
        print(" ".join(float(p).hex() for p in curve.params))
    """)
    assert there == " ".join(float(p).hex() for p in curve.params)


# Pinned: a change of these bits changes real models' bytes.
PINNED = {
    "fitted": "0x1.56381e542f732p+1 0x1.57a54dc0d21dbp-2 0x1.2dcf1ab1542f8p-2 0x0.0p+0",
    "fitted_p": (
        "0x1.62527c13f3645p+1 0x1.5a043dff08d73p-2 0x0.0p+0 0x1.2cded4ee1073cp-2"
    ),
}


@pytest.mark.parametrize("which", sorted(PINNED))
def test_the_fit_is_pinned(which, request):
    curve, _ = request.getfixturevalue(which)
    got = " ".join(float(p).hex() for p in curve.params)
    assert got == PINNED[which]


def _blended(trained_x264, fitted):
    curve, _ = fitted
    blend = {"weight": 0.5, **curve.as_dict()}
    return dataclasses.replace(trained_x264, blend=blend), curve


def test_the_blended_graph_matches_the_float64_model(trained_x264, fitted):
    model, curve = _blended(trained_x264, fitted)
    graph = export.build_model(model, opset=18)
    ops = {n.op_type for n in graph.graph.node}
    assert {"Exp", "Sigmoid"} <= ops
    rows = trained_x264.holdout_inputs + trained_x264.check_inputs
    network_part = trained_x264.holdout_predictions + trained_x264.check_predictions
    expected = training.blended(network_part, curve.predict(np.array(rows)), 0.5)
    produced = predict(open_session(graph.SerializeToString()), rows)
    assert np.max(np.abs(produced - np.array(expected))) <= 1e-5


def test_the_p_frame_term_in_the_graph_matches_the_float64_curve(
    trained_x264, fitted_p, x264
):
    curve, features = fitted_p
    model = dataclasses.replace(trained_x264, blend={"weight": 1.0, **curve.as_dict()})
    session = open_session(export.build_model(model, opset=18).SerializeToString())
    unmeasured = features.copy()
    unmeasured[:, 3] = 0.0
    rows = [*features.tolist(), *unmeasured.tolist(), *extreme_inputs([0.0, 51.0])]
    expected = np.clip(curve.predict(np.array(rows)), 0.0, 100.0)
    assert np.max(np.abs(predict(session, rows) - expected)) <= 1e-5


def test_the_blended_graph_never_rises_with_crf(trained_x264, fitted, x264, config):
    from vmaf_predictor.factory import s6_validate

    model, _ = _blended(trained_x264, fitted)
    graph = export.build_model(model, opset=18)
    allowed = set(config["allowlist"]["ops"])
    assert {n.op_type for n in graph.graph.node} <= allowed
    session = open_session(graph.SerializeToString())
    vectors = spanning_rows(trained_x264.check_inputs, 64) + extreme_inputs([0, 51])
    assert s6_validate.check_monotone(session, x264, vectors) <= 0.0


def test_a_shipped_blend_predicts_the_blend_of_its_parts(x264, settings, monkeypatch):
    # Offered only the half-and-half blend with the content-slope curve.
    blend = selection.Candidate("content_slope", 0.5)
    monkeypatch.setattr(selection, "candidates", lambda curves: [blend])
    features, targets, src = _sweep_like(x264)
    columns = network.model_inputs(features)
    short = dataclasses.replace(settings, epochs=15)
    fitted = selection.fit_selected(
        columns, targets, range(64), src, short, ("content_slope",), 2
    )
    w, curve = fitted.blend
    assert isinstance(curve, curve_head.ContentSlopeCurve) and w == 0.5
    network_only = dataclasses.replace(fitted, blend=None).predict(columns)
    expected = training.blended(network_only, curve.predict_columns(columns), w)
    assert fitted.predict(columns) == expected


def test_the_stub_path_never_blends(trained_x264):
    assert trained_x264.blend == {}


def test_selection_on_several_inner_folds_sums_their_errors(x264, settings):
    features, targets, src = _sweep_like(x264)
    columns = network.model_inputs(features)
    short = dataclasses.replace(settings, epochs=8)
    fitted = selection.fit_selected(
        columns, targets, range(64), src, short, selection_folds=2
    )
    inner = ev.grouped_folds(src, ev.INNER_FOLDS, short.seed)
    total = [[] for _ in range(8)]
    for k in range(2):
        held = inner.held_out[k]
        watched = training.fit(
            columns, targets, inner.training(k, 64), short, monitor=held
        )
        for e, predicted in enumerate(watched.monitor_predictions):
            total[e] += [
                (p - targets[i]) * (p - targets[i])
                for p, i in zip(predicted, held, strict=True)
            ]
    sums = [math.fsum(t) for t in total]
    assert len(fitted.loss_curve) == sums.index(min(sums)) + 1
    assert fitted.blend is None


def test_the_settings_reach_the_selection(x264, settings):
    features, targets, src = _sweep_like(x264)
    columns = network.model_inputs(features)
    short = dataclasses.replace(settings, epochs=6)
    fitted = selection.fit_selected(
        columns, targets, range(64), src, short, ("content_slope",), 3
    )
    assert fitted.selection["folds"] == 3
    assert {c["name"] for c in fitted.selection["candidates"]} == {
        c.name for c in selection.candidates(("content_slope",))
    }
    assert len(fitted.loss_curve) <= 6


def test_a_real_codec_trains_exports_and_validates_with_the_curve(x264, settings):
    from vmaf_predictor.factory import s2_corpus, s6_validate, s7_card

    features, targets, src = _sweep_like(x264)
    table = s2_corpus.table_of(np.asarray(features).tolist(), targets, src)
    evaluation = train.EvaluationSettings(
        folds=4,
        seeds=1,
        early_stopping=True,
        blend=True,
        curves=("content_slope",),
        selection_folds=2,
    )
    short = dataclasses.replace(settings, epochs=12)
    trained = train.train("libx264", table, short, x264, evaluation)
    session = open_session(export.build_model(trained, opset=18).SerializeToString())
    assert s6_validate.check_parity(session, trained) > 0
    vectors = spanning_rows(trained.check_inputs, 32)
    assert s6_validate.check_monotone(session, x264, vectors) <= 0.0
    assert (trained.blend["kind"], trained.blend["weight"]) == ("content_slope", 1.0)
    assert "exp(g0 + g1*log bpp' + g2*m*log P bpp')" in s7_card._blend_text(trained)


def test_the_curve_mean_is_the_mean_of_its_parts_fitted_on_the_same_rows(x264):
    features, targets, _ = _sweep_like(x264)
    columns = network.model_inputs(features)
    mean = curve_head.fit_curve("curve_mean", columns, targets)
    parts = [
        np.array(curve.fit_columns(columns, targets).predict_columns(columns))
        for curve in curve_head.MEAN_PARTS
    ]
    assert [type(p) for p in mean.parts] == list(curve_head.MEAN_PARTS)
    assert mean.predict_columns(columns) == ((parts[0] + parts[1]) * 0.5).tolist()
    assert curve_head.curve_from_dict(mean.as_dict()) == mean
