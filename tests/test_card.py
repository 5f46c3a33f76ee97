import dataclasses
import hashlib
from pathlib import Path

import pytest
from fresh_process import python_output

from vmaf_predictor.factory import s7_card as card
from vmaf_predictor.factory import s8_hash as hashes
from vmaf_predictor.factory.s2_corpus import CorpusInfo
from vmaf_predictor.factory.s5_allowlist import AllowlistReport
from vmaf_predictor.factory.s6_validate import ValidationReport

VERSIONS = {"numpy": "1", "onnx": "2", "torch": "3"}


def _render(trained, onnx_bytes, kind="synthetic-stub", rows=100):
    info = CorpusInfo("libx264", kind, rows, "stand-in", "ab" * 32)
    report = AllowlistReport("libx264", "pass", ["Gemm"], 25)
    validation = ValidationReport("libx264", "pass", 115, 1.5, 99.1, 256, 103, 0.0, 84)
    sha = hashes.sha256_bytes(onnx_bytes)
    return card.render(trained, info, report, validation, onnx_bytes, sha, 18, VERSIONS)


def test_stub_card_carries_the_do_not_use_warning(trained_x264, onnx_x264):
    text = _render(trained_x264, onnx_x264)
    assert "DO NOT USE IN PRODUCTION" in text
    assert "synthetic-stub-N=100" in text


def test_real_corpus_card_has_no_warning(trained_x264, onnx_x264):
    text = _render(trained_x264, onnx_x264, kind="real", rows=2592)
    assert "DO NOT USE IN PRODUCTION" not in text
    assert "real-N=2592" in text


@pytest.mark.parametrize(
    "heading",
    [
        "## What it does",
        "## Output",
        "## Usage",
        "## Provenance",
        "## Known limitations",
    ],
)
def test_card_answers_the_five_points(trained_x264, onnx_x264, heading):
    assert heading in _render(trained_x264, onnx_x264)


def test_card_names_hash_size_nodes_opset_and_metrics(trained_x264, onnx_x264):
    text = _render(trained_x264, onnx_x264)
    assert hashes.sha256_bytes(onnx_x264) in text
    assert f"{len(onnx_x264)} bytes" in text and "25 nodes" in text
    assert "opset 18" in text
    assert f"{trained_x264.metrics['plcc']:.4f}" in text
    assert "numpy 1, onnx 2, torch 3" in text


def test_card_is_the_same_in_another_process_dir_and_zone(
    trained_x264, onnx_x264, tmp_path
):
    from vmaf_predictor.factory import network

    network.save(trained_x264, tmp_path / "trained.json")
    (tmp_path / "m.onnx").write_bytes(onnx_x264)
    here = _render(trained_x264, onnx_x264)
    there = python_output(
        f"""
        import hashlib, sys
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_card import _render
        from vmaf_predictor.factory import network
        text = _render(network.load("trained.json"), Path("m.onnx").read_bytes())
        print(hashlib.sha256(text.encode()).hexdigest())
        """,
        cwd=tmp_path,
    )
    assert there == hashlib.sha256(here.encode()).hexdigest()
    assert str(tmp_path) not in here and "2026" not in here


def test_card_usage_example_runs(trained_x264, onnx_x264, tmp_path, monkeypatch):
    text = _render(trained_x264, onnx_x264)
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "predictor_libx264.onnx").write_bytes(onnx_x264)
    monkeypatch.chdir(tmp_path)
    printed = []
    exec(code, {"print": printed.append})
    assert 0.0 < printed[0] < 100.0


def test_changing_the_model_changes_the_card(trained_x264, onnx_x264):
    other = dataclasses.replace(
        trained_x264,
        metrics={"plcc": 0, "srocc": 0, "rmse": 9, "rmse_unmeasured": 9},
    )
    assert _render(other, onnx_x264) != _render(trained_x264, onnx_x264)


def _real_card(model, onnx_bytes):
    return _render(model, onnx_bytes, kind="real", rows=model.n_train)


def test_a_real_corpus_card_names_its_split_and_the_baselines(x264, settings):
    from test_evaluation import real_table

    from vmaf_predictor.factory import s3_train, s4_export

    short = dataclasses.replace(settings, epochs=20)
    model = s3_train.train(
        "libx264", real_table(x264), short, x264, s3_train.EvaluationSettings(5, 2)
    )
    onnx_bytes = s4_export.build_model(model, 18).SerializeToString()
    text = _real_card(model, onnx_bytes)
    assert "Split by source: cross-validation grouped by source, 4 seeded folds" in text
    assert "| Folds | 4 |" in text and "Grouped RMSE over 2 training seeds" in text
    for name in ("training-fold mean VMAF", "analytical fallback curve", "logistic"):
        assert name in text.split("## Baselines", 1)[1]
    assert "Lowest RMSE: **" in text


def test_a_stub_card_says_its_split_is_by_row(trained_x264, onnx_x264):
    text = _render(trained_x264, onnx_x264)
    assert "Split by row: on 20 held-out rows" in text and "## Baselines" in text


def test_a_real_model_the_parametric_curve_beats_says_so_first(trained_x264, onnx_x264):
    figures = {
        name: {"rmse": rmse, "plcc": 0.5, "srocc": 0.5, "max_abs_error": 9.0,
               "mean_signed_error": 0.0}
        for name, rmse in (("model", 9.0), ("fold mean", 12.0),
                           ("analytical", 11.0), ("parametric", 7.0))
    }  # fmt: skip
    evaluation = {"split": "source", "groups": 8, "folds": 5, "rows": 48,
                  "figures": figures, "winner": "parametric",
                  "seed_rmse": []}  # fmt: skip
    metrics = {**figures["model"], "rmse_unmeasured": 9.0}
    model = dataclasses.replace(
        trained_x264, n_holdout=0, evaluation=evaluation, metrics=metrics
    )
    limitations = _real_card(model, onnx_x264).split("## Known limitations", 1)[1]
    first = limitations.strip().splitlines()[0]
    assert first.startswith("- **It does not beat the parametric baseline**")
    beaten = dict(figures, parametric={**figures["parametric"], "rmse": 10.0})
    model = dataclasses.replace(model, evaluation={**evaluation, "figures": beaten})
    assert "does not beat" not in _real_card(model, onnx_x264)


def test_a_card_names_the_releases_not_how_their_wheels_were_built(monkeypatch):
    """torch 2.13.0 is '2.13.0+cpu' from the CPU wheel index (the x86-64 lock)
    and '2.13.0' from PyPI on aarch64: the same release, whose builds give
    the same model bytes (make test-arm64), so the cards must agree too."""
    import importlib.metadata

    installed = {"numpy": "2.4.6", "onnx": "1.23.2", "torch": "2.13.0+cpu"}
    monkeypatch.setattr(importlib.metadata, "version", installed.__getitem__)
    on_x86_64 = card.built_with()
    installed["torch"] = "2.13.0"
    on_aarch64 = card.built_with()
    assert (
        on_x86_64
        == on_aarch64
        == {"numpy": "2.4.6", "onnx": "1.23.2", "torch": "2.13.0"}
    )


@pytest.fixture(scope="module")
def selected_logistic(x264, settings):
    """A real codec whose rows are a logistic curve: it ships the curve alone."""
    from test_selection import CURVES, _table, logistic_rows

    from vmaf_predictor.factory import s3_train, s4_export

    evaluation = s3_train.EvaluationSettings(
        folds=3, seeds=1, early_stopping=True, blend=True, curves=CURVES,
        selection_folds=2,
    )  # fmt: skip
    short = dataclasses.replace(settings, epochs=10)
    model = s3_train.train("libx264", _table(*logistic_rows()), short, x264, evaluation)
    return model, s4_export.build_model(model, 18).SerializeToString()


def test_a_real_card_gives_every_candidates_inner_figure_and_the_choice(
    selected_logistic,
):
    model, onnx_bytes = selected_logistic
    section = _real_card(model, onnx_bytes).split("## Model selection", 1)[1]
    section = section.split("\n## ", 1)[0]
    selection = model.evaluation["selection"]
    assert "their 8 sources split into 5 grouped folds (seed 42), 2 of them" in section
    for candidate in selection["candidates"]:
        assert f"`{candidate['name']}`" in section
        assert f"{candidate['rmse']:.3f}" in section
    assert "| **`logistic`** (shipped) |" in section
    evidence = selection["evidence"]
    assert "beats it by more than 3 standard errors" in section
    assert f"leads `logistic` by {evidence['lead']:.1f}" in section
    assert section.count(": not enough.") == 1
    assert "inside each of its 3 outer folds" in section
    assert "`logistic` in 3" in section


def test_a_card_of_a_curve_alone_describes_the_curve_not_a_network(
    selected_logistic,
):
    model, onnx_bytes = selected_logistic
    text = _real_card(model, onnx_bytes)
    assert "| curve | the logistic baseline curve 100*sigmoid(a + b*crf'" in text
    assert "| network |" not in text and "no network was trained" in text
    assert "the curve is\nmonotone by construction" in text


def test_a_card_of_shots_says_its_folds_are_grouped_by_clip(trained_x264, onnx_x264):
    figures = {
        name: {"rmse": 9.0, "plcc": 0.5, "srocc": 0.5, "max_abs_error": 9.0,
               "mean_signed_error": 0.0}
        for name in ("model", "fold mean", "analytical", "parametric")
    }  # fmt: skip
    evaluation = {"split": "clip", "groups": 6, "folds": 5, "rows": 48,
                  "figures": figures, "winner": "model",
                  "seed_rmse": []}  # fmt: skip
    model = dataclasses.replace(
        trained_x264, n_holdout=0, evaluation=evaluation,
        metrics={**figures["model"], "rmse_unmeasured": 9.0},
    )  # fmt: skip
    text = _real_card(model, onnx_x264)
    assert "Split by clip: cross-validation grouped by clip, 5 seeded folds" in text
    assert "over 6 clips, every clip held out once" in text
    assert "split by clip (6 clips)" in text
