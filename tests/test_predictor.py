"""The runtime surface: Predictor, pick_crf and the command line."""

from __future__ import annotations

import json
import math

import onnx
import pytest
from onnx import TensorProto, helper

from vmaf_predictor.names import model_file_name
from vmaf_predictor.runtime import cli
from vmaf_predictor.runtime.predictor import (
    ModelError,
    Predictor,
    analytical_crf,
    codec_registry,
    encode_features,
    lookup_codec,
    model_path_for,
)

CODECS = list(codec_registry())
SHOTS = [
    encode_features(3000, 24, 1920, 1080),
    encode_features(800, 30, 1280, 720, duration_s=8),
    encode_features(15000, 60, 3840, 2160, duration_s=4),
]
TARGETS = [70.0, 85.0, 93.0, 97.0]


def test_without_a_model_predictions_are_the_analytical_curve():
    features = SHOTS[0]
    codec = lookup_codec("libx265")
    got = Predictor().predict_vmaf(features, 30, "libx265")
    assert got == codec.analytical_vmaf(30, features["probe_bitrate_kbps"])


@pytest.mark.parametrize("codec", CODECS)
def test_fallback_pick_crf_matches_the_analytical_inverse(codec):
    entry = lookup_codec(codec)
    predictor = Predictor()
    for features in SHOTS:
        for target in TARGETS:
            choice = predictor.pick_crf(features, target, codec)
            exact = analytical_crf(entry, features["probe_bitrate_kbps"], target)
            if exact < entry.quality_min:
                assert (choice.crf, choice.met) == (entry.quality_min, False)
            else:
                expected = min(math.floor(exact + 1e-9), int(entry.quality_max))
                assert (choice.crf, choice.met) == (expected, True)


def _brute_force(predictor, features, target, codec):
    entry = lookup_codec(codec)
    crfs = range(int(entry.quality_min), int(entry.quality_max) + 1)
    meeting = [c for c in crfs if predictor.predict_vmaf(features, c, codec) >= target]
    return (max(meeting), True) if meeting else (int(entry.quality_min), False)


@pytest.mark.parametrize("codec", CODECS)
def test_pick_crf_on_every_shipped_model_matches_a_brute_force_scan(codec):
    predictor = Predictor(model_path_for(codec))
    entry = lookup_codec(codec)
    budget = math.ceil(math.log2(entry.quality_max - entry.quality_min)) + 1
    for features in SHOTS:
        for target in TARGETS:
            choice = predictor.pick_crf(features, target, codec)
            assert (choice.crf, choice.met) == _brute_force(
                predictor, features, target, codec
            )
            assert choice.model_calls <= budget


def test_predictions_are_inside_0_100():
    predictor = Predictor(model_path_for("av1_qsv"))
    for crf in (1, 25, 51):
        assert 0.0 <= predictor.predict_vmaf(SHOTS[2], crf, "av1_qsv") <= 100.0


def test_an_unknown_codec_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown codec 'libx266'; known: libx264, "):
        Predictor().predict_vmaf(SHOTS[0], 30, "libx266")


def test_a_missing_model_names_the_path_and_the_build_command(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        Predictor(tmp_path / "predictor_libx264.onnx")
    assert str(tmp_path) in str(caught.value) and "make all_stubs" in str(caught.value)


def test_a_file_that_is_not_a_model_is_a_model_error(tmp_path):
    path = tmp_path / "predictor_libx264.onnx"
    path.write_bytes(b"not a protobuf")
    with pytest.raises(ModelError, match="is not a loadable ONNX model"):
        Predictor(path)


def test_a_model_with_the_wrong_input_shape_is_a_model_error(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["vmaf"])],
        "vmaf_predictor_libx264",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("vmaf", TensorProto.FLOAT, ["N", 3])],
    )
    path = tmp_path / "m.onnx"
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path
    )
    with pytest.raises(ModelError, match=r"expected one float input \[N, 14\]"):
        Predictor(path)


def test_a_model_is_not_used_for_another_codec():
    with pytest.raises(ValueError, match="built for libx264, not libx265"):
        Predictor(model_path_for("libx264")).predict_vmaf(SHOTS[0], 30, "libx265")


SHOT_ARGS = ["--bitrate", "3000", "--width", "1920", "--height", "1080", "--fps", "24"]


def test_cli_predict_prints_plain_text(capsys):
    assert cli.main(["predict", "--codec", "libx264", "--crf", "30", *SHOT_ARGS]) == 0
    out = capsys.readouterr().out
    assert out.startswith("libx264 at crf 30: predicted VMAF ")
    assert "predictor_libx264.onnx" in out


def test_cli_pick_crf_prints_json(capsys):
    args = ["pick-crf", "--codec", "libx264", "--target", "93", "--json", *SHOT_ARGS]
    assert cli.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    expected = Predictor(model_path_for("libx264")).pick_crf(SHOTS[0], 93, "libx264")
    assert (result["crf"], result["met"]) == (expected.crf, expected.met)


def _constant_model(directory, codec: str, vmaf: float):
    """A valid predictor file for ``codec`` that always answers ``vmaf``."""
    nodes = [
        helper.make_node("ReduceSum", ["input", "axis"], ["total"], keepdims=1),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
        helper.make_node("Add", ["nothing", "answer"], ["vmaf"]),
    ]
    graph = helper.make_graph(
        nodes,
        f"vmaf_predictor_{codec}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 14])],
        [helper.make_tensor_value_info("vmaf", TensorProto.FLOAT, ["N", 1])],
        [
            helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor("answer", TensorProto.FLOAT, [], [vmaf]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(model, directory / model_file_name(codec))
    return directory


def test_cli_says_clearly_when_no_crf_meets_the_target(capsys, tmp_path):
    model_dir = _constant_model(tmp_path, "libx264", 87.5)
    args = ["pick-crf", "--codec", "libx264", "--target", "90"]
    assert cli.main([*args, *SHOT_ARGS, "--model-dir", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert "no quality value reaches VMAF 90; the best, crf 0, predicts 87.50" in out


def test_cli_errors_are_one_line_with_exit_2(capsys):
    args = ["predict", "--codec", "libx266", "--crf", "30", *SHOT_ARGS]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown codec 'libx266'") and "Traceback" not in err


def test_encode_features_send_what_was_not_measured_as_0():
    features = encode_features(3000, 24, 1920, 1080, duration_s=5, y_avg=110)
    assert (features["probe_bitrate_kbps"], features["y_avg"]) == (3000.0, 110.0)
    assert features["shot_length_frames"] == 120.0
    assert features["probe_p_frame_avg_bytes"] == features["saliency_mean"] == 0.0
