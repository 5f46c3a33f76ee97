"""What a real-corpus codec ships (selection.fit_selected): the network, a
curve alone or a blend, chosen on grouped folds of the training rows alone;
every candidate's graph passes the checks its consumer relies on."""

import dataclasses
import hashlib
import json
import math

import numpy as np
import pytest
import yaml
from fresh_process import ROOT, python_output

from vmaf_predictor.factory import (
    curve_head,
    network,
    s2_corpus,
    s5_allowlist,
    s6_validate,
    selection,
    training,
)
from vmaf_predictor.factory import evaluation as ev
from vmaf_predictor.factory import s3_train as train
from vmaf_predictor.factory import s4_export as export
from vmaf_predictor.runtime.features import FEATURE_NAMES

CURVES = ("curve_mean", "logistic", "content_slope")
FOUR_CURVES = (*CURVES, "logistic_fps")


def _row(crf: float, bitrate: float, shot_length: float = 48.0) -> list[float]:
    row = [0.0] * len(FEATURE_NAMES)
    row[0], row[1] = crf, bitrate
    row[10:] = [shot_length, 25.0, 320.0, 180.0]
    return training.to_float32(row)


def logistic_rows():
    """Stand-in rows (no probe statistics) of 8 sources whose VMAF is
    exactly a three-parameter logistic curve of CRF and log bits per pixel,
    rounded as a sweep rounds: nothing can beat that curve."""
    rows, vmaf, src = [], [], []
    for s in range(8):
        bitrate = 120.0 * 1.7**s
        for j in range(6):
            crf = 18.0 + 5.0 * j
            eta = 2.0 - 0.15 * (crf - 30.0) + 0.7 * math.log(bitrate / 600.0)
            rows.append(_row(crf, bitrate))
            vmaf.append(round(100.0 / (1.0 + math.exp(-eta)), 4))
            src.append(f"clip{s}")
    return np.array(rows), vmaf, src


def shot_length_rows():
    """8 sources of one bitrate whose VMAF level follows the shot length, a
    feature only the network reads: every curve misses the level."""
    rows, vmaf, src = [], [], []
    for s in range(8):
        length = 20.0 + 15.0 * s
        for j in range(6):
            crf = 18.0 + 5.0 * j
            rows.append(_row(crf, 500.0, length))
            vmaf.append(round(60.0 + 4.5 * s - 0.9 * (crf - 18.0), 4))
            src.append(f"clip{s}")
    return np.array(rows), vmaf, src


def _table(features, vmaf, src) -> dict[str, list]:
    return s2_corpus.table_of(np.asarray(features).tolist(), vmaf, src)


def _selected(rows, settings, epochs, folds=5):
    features, vmaf, src = rows
    columns = network.model_inputs(features)
    short = dataclasses.replace(settings, epochs=epochs)
    return selection.fit_selected(
        columns, vmaf, range(len(vmaf)), src, short, CURVES, selection_folds=folds
    )


def test_rows_of_a_logistic_curve_ship_the_logistic_curve_alone(settings):
    fitted = _selected(logistic_rows(), settings, epochs=40)
    assert fitted.selection["chosen"] == "logistic"
    assert fitted.model is None and fitted.loss_curve == []
    w, curve = fitted.blend
    assert w == 1.0 and isinstance(curve, ev.Logistic)
    figures = {c["name"]: c["rmse"] for c in fitted.selection["candidates"]}
    assert figures["logistic"] < 0.01 < figures["network"]


def test_where_every_curve_is_wrong_the_network_is_shipped(settings):
    fitted = _selected(shot_length_rows(), settings, epochs=150)
    figures = {c["name"]: c["rmse"] for c in fitted.selection["candidates"]}
    assert fitted.selection["chosen"] == "network", figures
    assert fitted.blend is None and fitted.model is not None
    assert figures["network"] < 0.5 * min(figures[kind] for kind in CURVES)


def test_a_tie_goes_to_the_first_curve_never_to_the_network():
    options = selection.candidates(CURVES)
    assert [o.name for o in options[:3]] == list(CURVES)
    assert options[-1].name == "network"
    # Every candidate errs the same on every fold and epoch count.
    errors = [[[4.0] * (1 if not o.trains_network else 3) for o in options]] * 2
    picked = selection.Selection.of(options, errors, 3, rows=8, sources=4)
    assert picked.chosen.name == "curve_mean"


def test_another_curve_replaces_the_first_only_if_lower_on_every_fold():
    """Lower in total but not on one fold: the first curve ships. Lower on
    every fold: the other curve ships."""
    first, other = (selection.Candidate(kind, 1.0) for kind in CURVES[:2])
    uneven = [[[10.0], [e]] for e in (4.0, 10.5, 9.0, 9.0)]
    picked = selection.Selection.of([first, other], uneven, 1, rows=8, sources=4)
    assert picked.figures == [40.0, 32.5] and picked.chosen == first
    even = [[[10.0], [e]] for e in (4.0, 9.9, 9.0, 9.0)]
    picked = selection.Selection.of([first, other], even, 1, rows=8, sources=4)
    assert picked.chosen == other


def test_of_the_curves_lower_on_every_fold_the_lowest_ships():
    """The lowest curve in total is not lower on every fold; of the two
    that are, the lower ships."""
    first, *others = (selection.Candidate(kind, 1.0) for kind in FOUR_CURVES)
    folds = [[[10.0], [e], [9.0], [8.0]] for e in (1.0, 10.5, 9.0, 9.0)]
    picked = selection.Selection.of([first, *others], folds, 1, rows=8, sources=4)
    assert picked.figures == [40.0, 29.5, 36.0, 32.0]
    assert picked.chosen == others[2]


def test_a_network_is_scored_at_the_epochs_the_other_folds_chose():
    """Each watched fold is best at a different epoch count: summed over all
    folds every count errs 19, but a fold scored at the count the other two
    chose errs 9, so the honest figure is 27 and the curve (21) wins."""
    curve, net = selection.Candidate("logistic", 1.0), selection.Candidate(None, 0.0)
    by_fold = [[1.0, 9.0, 9.0], [9.0, 1.0, 9.0], [9.0, 9.0, 1.0]]
    errors = [[[7.0], by_fold[k]] for k in range(3)]
    picked = selection.Selection.of([curve, net], errors, 3, rows=6, sources=3)
    assert picked.figures == [21.0, 27.0]
    assert picked.epochs == [None, 1]  # all tie at 19: the fewest
    assert picked.chosen.name == "logistic"


def test_a_network_must_beat_the_best_curve_by_three_standard_errors():
    """Lower in total but on one fold only (a lead of 6 against a standard
    error of 6): the curve ships. Lower by the same 6 on every fold (no
    spread): the network ships."""
    curve, net = selection.Candidate("logistic", 1.0), selection.Candidate(None, 0.0)
    uneven = [[[10.0], [e]] for e in (4.0, 10.0, 10.0, 10.0)]
    picked = selection.Selection.of([curve, net], uneven, 1, rows=8, sources=4)
    assert picked.figures == [40.0, 34.0] and picked.chosen == curve
    assert picked.evidence == (1, 0, 6.0, 6.0)
    even = [[[10.0], [8.5]] for _ in range(4)]
    picked = selection.Selection.of([curve, net], even, 1, rows=8, sources=4)
    assert picked.chosen == net and picked.evidence == (1, 0, 6.0, 0.0)


def test_an_outer_fold_never_sees_its_own_clip_in_the_choice(x264, settings):
    """Rewriting the VMAF of the clip one outer fold holds out changes
    nothing that fold chose or predicted; the folds that train on it move."""
    features, vmaf, src = logistic_rows()
    evaluation = train.EvaluationSettings(
        folds=4, seeds=1, early_stopping=True, blend=True, curves=CURVES,
        selection_folds=2,
    )  # fmt: skip
    short = dataclasses.replace(settings, epochs=15)
    folds = ev.grouped_folds(src, evaluation.folds, short.seed)
    clip = src[folds.held_out[0][0]]
    garbage = [100.0 - v if s == clip else v for v, s in zip(vmaf, src, strict=True)]
    feats = features.tolist()
    one = train.cross_validate(x264, feats, vmaf, src, short, evaluation)
    two = train.cross_validate(x264, feats, garbage, src, short, evaluation)
    held = folds.held_out[0]
    assert one["fold_choices"][0] == two["fold_choices"][0]
    assert [one["predictions"][i] for i in held] == [
        two["predictions"][i] for i in held
    ]
    others = [i for fold in folds.held_out[1:] for i in fold]
    assert [one["predictions"][i] for i in others] != [
        two["predictions"][i] for i in others
    ]


@pytest.fixture(scope="module")
def allowed():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    return config["allowlist"]


@pytest.mark.parametrize(
    "candidate", selection.candidates(CURVES), ids=lambda c: c.name.replace(" ", "")
)
def test_every_candidate_ships_a_graph_that_passes_the_checks(
    candidate, x264, settings, allowed, monkeypatch
):
    """Offered only this candidate, the selection ships it: its graph is
    on the op allowlist, matches the float64 model it was trained as
    (parity), stays in [0, 100] and never rises with CRF."""
    monkeypatch.setattr(selection, "candidates", lambda curves: [candidate])
    evaluation = train.EvaluationSettings(
        folds=2, seeds=1, early_stopping=True, blend=True, curves=CURVES,
        selection_folds=2,
    )  # fmt: skip
    table = _table(*logistic_rows())
    short = dataclasses.replace(settings, epochs=10)
    trained = train.train("libx264", table, short, x264, evaluation, False)
    assert trained.evaluation["selection"]["chosen"] == candidate.name
    assert (trained.blend.get("weight", 0.0), trained.blend.get("kind")) == (
        candidate.weight,
        candidate.curve,
    )
    graph = export.build_model(trained, opset=18)
    s5_allowlist.check_model(
        graph, "libx264", allowed["ops"], allowed["loop_max_trip_count"]
    )
    rows = s2_corpus.table_rows(table)
    report = s6_validate.validate(graph.SerializeToString(), trained, x264, rows)
    assert report.status == "pass" and report.parity_rows > 0
    ops = {node.op_type for node in graph.graph.node}
    assert ("Relu" in ops) == candidate.trains_network


def test_the_selection_gives_the_same_bytes_in_another_process(x264, settings):
    evaluation = train.EvaluationSettings(
        folds=2, seeds=1, early_stopping=True, blend=True, curves=CURVES,
        selection_folds=2,
    )  # fmt: skip
    short = dataclasses.replace(settings, epochs=12)
    here = train.train("libx264", _table(*shot_length_rows()), short, x264, evaluation)
    digest = hashlib.sha256(
        json.dumps(dataclasses.asdict(here), sort_keys=True).encode()
        + export.build_model(here, 18).SerializeToString()
    ).hexdigest()
    there = python_output(f"""
        import dataclasses, hashlib, json, sys, yaml
        sys.path.insert(0, "tests")
        from test_selection import _table, shot_length_rows
        from vmaf_predictor.factory import s3_train, s4_export
        from vmaf_predictor.factory.network import TrainSettings
        from vmaf_predictor.registry import registry_from_config
        codec = registry_from_config(yaml.safe_load(open("config.yaml")))["libx264"]
        settings = TrainSettings(**{dataclasses.asdict(short)!r})
        evaluation = s3_train.EvaluationSettings(**{dataclasses.asdict(evaluation)!r})
        model = s3_train.train(
            "libx264", _table(*shot_length_rows()), settings, codec, evaluation
        )
        print(hashlib.sha256(
            json.dumps(dataclasses.asdict(model), sort_keys=True).encode()
            + s4_export.build_model(model, 18).SerializeToString()
        ).hexdigest())
    """)
    assert there == digest
    assert here.evaluation["selection"]["chosen"] in {
        c.name for c in selection.candidates(CURVES)
    }


def test_the_config_offers_exactly_the_curves_the_code_has():
    schema = yaml.safe_load((ROOT / "schemas" / "config.schema.yaml").read_text())
    curves = schema["properties"]["evaluation"]["properties"]["curves"]
    assert sorted(curves["items"]["enum"]) == sorted(curve_head.CURVES)
    assert sorted(curves["default"]) == sorted(curve_head.CURVES)
