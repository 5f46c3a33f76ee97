"""`python -m vmaf_predictor evaluate`: the committed models scored on a
tiny corpus, checked against a hand computation."""

import csv
import json
import math

import numpy as np
import pytest

from vmaf_predictor.runtime import cli
from vmaf_predictor.runtime.features import FEATURE_NAMES
from vmaf_predictor.runtime.predictor import MODEL_DIR, codec_registry
from vmaf_predictor.runtime.session import open_session, predict

SHOT = {"probe_bitrate_kbps": 3000.0, "probe_i_frame_avg_bytes": 62500.0,
        "probe_p_frame_avg_bytes": 12500.0, "probe_b_frame_avg_bytes": 0.0,
        "saliency_mean": 0.0, "saliency_var": 0.0, "frame_diff_mean": 6.0,
        "y_avg": 110.0, "y_var": 118.0, "shot_length_frames": 120.0, "fps": 24.0,
        "width": 1920.0, "height": 1080.0}  # fmt: skip
ROWS = [("a", 20, 97.5), ("a", 30, 91.0), ("b", 40, 70.25), ("b", 45, 66.0)]


@pytest.fixture
def corpus(tmp_path):
    lines = [
        {"encoder": "libx264", "crf": crf, "vmaf_score": score, "src": src, **SHOT}
        for src, crf, score in ROWS
    ]
    lines.append({"encoder": "libx265", "crf": 28, "vmaf_score": 90.0, **SHOT})
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _hand():
    rows = np.array([[crf, *SHOT.values()] for _, crf, _ in ROWS], dtype=np.float32)
    assert list(SHOT) == list(FEATURE_NAMES[1:])
    predicted = [
        float(v)
        for v in predict(open_session(MODEL_DIR / "predictor_libx264.onnx"), rows)
    ]
    actual = [score for _, _, score in ROWS]
    errors = [p - a for p, a in zip(predicted, actual, strict=True)]
    return predicted, actual, errors


def test_evaluate_figures_match_a_hand_computation(corpus, tmp_path, capsys):
    out = tmp_path / "predictions.csv"
    status = cli.main(["evaluate", str(corpus), "--json", "--predictions", str(out)])
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    predicted, actual, errors = _hand()
    entry = result["codecs"]["libx264"]
    assert entry["rows"] == 4 and entry["stub"] is True
    model = entry["model"]
    assert model["rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / 4))
    assert model["max_abs_error"] == pytest.approx(max(map(abs, errors)))
    assert model["mean_signed_error"] == pytest.approx(sum(errors) / 4)
    x264 = codec_registry()["libx264"]
    fallback = [x264.analytical_vmaf(crf, 3000.0) for _, crf, _ in ROWS]
    expected = math.sqrt(
        sum((f - a) ** 2 for f, a in zip(fallback, actual, strict=True)) / 4
    )
    assert entry["analytical"]["rmse"] == pytest.approx(expected)
    with open(out, newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["src", "encoder", "crf", "vmaf_score", "predicted"]
    assert [line[:2] for line in lines[1:]] == [[s, "libx264"] for s, _, _ in ROWS]
    assert [float(line[4]) for line in lines[1:]] == pytest.approx(predicted)


def test_evaluate_lists_codecs_without_rows_as_skipped(corpus, capsys):
    assert cli.main(["evaluate", str(corpus), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "libx265" in result["skipped"] and "libx265" not in result["codecs"]
    assert set(result["codecs"]) == {"libx264"}


def test_evaluate_text_marks_a_stub(corpus, capsys):
    assert cli.main(["evaluate", str(corpus)]) == 0
    assert "model (synthetic stub)" in capsys.readouterr().out


def test_evaluate_skips_a_codec_without_a_model(corpus, tmp_path, capsys):
    assert cli.main(["evaluate", str(corpus), "--models", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["codecs"] == {} and "no model" in result["skipped"]["libx264"]


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["evaluate", "missing.jsonl"], "CORPUS 'missing.jsonl'"),
        (["evaluate", "CORPUS_PLACEHOLDER", "--models", "/nonexistent"], "--models="),
    ],
)
def test_evaluate_usage_errors_are_one_line_exit_2(corpus, capsys, argv, names):
    argv = [str(corpus) if a == "CORPUS_PLACEHOLDER" else a for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and names in err


def test_evaluate_names_the_first_bad_row(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"encoder": "libx264", "crf": 20, "vmaf_score": "x"}\n')
    assert cli.main(["evaluate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:1:" in err


def test_evaluate_groups_a_clips_shots_together(tmp_path, capsys):
    """Rows of two shots of clip a and one plain source b: two clips, each
    with the RMSE of its own rows (a hand computation)."""
    names = {"a": "a@shot000", "b": "b"}
    lines = [
        {"encoder": "libx264", "crf": crf, "vmaf_score": score, **SHOT,
         "src": names[src] if crf != 30 else "a@shot001"}
        for src, crf, score in ROWS
    ]  # fmt: skip
    path = tmp_path / "shots.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert cli.main(["evaluate", str(path), "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)["codecs"]["libx264"]
    _, _, errors = _hand()
    assert entry["clips"] == 2 and list(entry["by_clip"]) == ["a", "b"]
    for clip, mine in (("a", errors[:2]), ("b", errors[2:])):
        figures = entry["by_clip"][clip]
        assert figures["rows"] == 2
        expected = math.sqrt(sum(e * e for e in mine) / 2)
        assert figures["model_rmse"] == pytest.approx(expected)
    assert cli.main(["evaluate", str(path)]) == 0
    assert "libx264 model RMSE by clip (2 clips): a " in capsys.readouterr().out
