"""The runtime surface: Predictor, pick_crf and the command line."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import onnx
import pytest
from onnx import TensorProto, helper

from vmaf_predictor.names import model_file_name
from vmaf_predictor.runtime import cli
from vmaf_predictor.runtime.inputs import InputError
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


# Values outside their domain: a one-line error naming the argument, the
# value and what is allowed; never a prediction made up from them.


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``python -m vmaf_predictor ARGV``,
    in process (argparse exits through SystemExit)."""
    try:
        status = cli.main(argv)
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


def shot_args(**changes: str) -> list[str]:
    values = {"--bitrate": "3000", "--width": "1920", "--height": "1080", "--fps": "24"}
    values.update({f"--{k}": v for k, v in changes.items()})
    return [f"{flag}={value}" for flag, value in values.items()]


@pytest.mark.parametrize("crf", ["nan", "inf", "-inf"])
def test_cli_rejects_a_quality_value_that_is_not_finite(capsys, crf):
    argv = ["predict", "--codec", "libx264", f"--crf={crf}", *shot_args()]
    status, out, err = run_cli(argv, capsys)
    assert (status, out) == (2, "")
    assert err == (
        f"error: --crf={crf}: expected a finite number in libx264's quality "
        "range [0, 51]\n"
    )


@pytest.mark.parametrize(("codec", "crf"), [("libx264", "200"), ("libx265", "14")])
def test_cli_rejects_a_quality_value_outside_the_codecs_range(capsys, codec, crf):
    argv = ["predict", "--codec", codec, "--crf", crf, *shot_args()]
    status, _, err = run_cli(argv, capsys)
    low, high = lookup_codec(codec).quality_min, lookup_codec(codec).quality_max
    assert status == 2
    assert f"--crf={crf}: expected" in err and f"[{low:g}, {high:g}]" in err


@pytest.mark.parametrize(
    ("flag", "value", "allowed"),
    [
        ("bitrate", "-3000", "a finite number > 0"),
        ("bitrate", "0", "a finite number > 0"),
        ("bitrate", "inf", "a finite number > 0"),
        ("bitrate", "nan", "a finite number > 0"),
        ("fps", "0", "a finite number > 0"),
        ("fps", "-inf", "a finite number > 0"),
        ("duration", "0", "a finite number > 0"),
        ("width", "0", "a finite number >= 1"),
        ("height", "-1080", "a finite number >= 1"),
    ],
)
def test_cli_rejects_shot_values_outside_their_domain(capsys, flag, value, allowed):
    argv = ["predict", "--codec", "libx264", "--crf", "30"]
    argv += shot_args(**{flag: value})
    status, out, err = run_cli(argv, capsys)
    assert (status, out) == (2, "")
    assert err == f"error: --{flag}={value}: expected {allowed}\n"


@pytest.mark.parametrize("target", ["nan", "-1", "100.5", "inf"])
def test_cli_rejects_a_target_outside_0_to_100(capsys, target):
    argv = ["pick-crf", "--codec", "libx264", f"--target={target}", "--json"]
    status, out, err = run_cli([*argv, *shot_args()], capsys)
    assert (status, out) == (2, "")
    assert err == (
        f"error: --target={target}: expected a finite number in the VMAF "
        "scale [0, 100]\n"
    )


def test_cli_a_value_that_is_not_a_number_is_one_line_with_exit_2(capsys):
    argv = ["predict", "--codec", "libx264", "--crf", "thirty", *shot_args()]
    status, _, err = run_cli(argv, capsys)
    assert status == 2
    assert err.count("\n") == 1
    assert err.startswith("error: argument --crf: invalid float value: 'thirty'")


def test_cli_names_the_bad_value_even_when_the_model_is_missing(capsys, tmp_path):
    argv = ["predict", "--codec", "libx264", "--crf", "nan", *shot_args()]
    status, _, err = run_cli([*argv, "--model-dir", str(tmp_path)], capsys)
    assert status == 2 and err.startswith("error: --crf=nan")


def test_cli_json_is_strict_json(capsys):
    def no_constants(name):
        raise AssertionError(f"{name} is not JSON")

    argv = ["pick-crf", "--codec", "libx264", "--target", "0", "--json"]
    status, out, _ = run_cli([*argv, *shot_args()], capsys)
    assert status == 0
    result = json.loads(out, parse_constant=no_constants)
    assert (result["crf"], result["met"]) == (51, True)


def test_the_command_prints_no_traceback_for_a_bad_value():
    argv = ["predict", "--codec", "libx264", "--crf", "nan", *shot_args()]
    result = subprocess.run(
        [sys.executable, "-m", "vmaf_predictor", *argv],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert (
        result.stderr.startswith("error: --crf=nan") and result.stderr.count("\n") == 1
    )


@pytest.mark.parametrize(
    "predictor", [Predictor(), Predictor(model_path_for("libx264"))]
)
@pytest.mark.parametrize("crf", [math.nan, math.inf, -1.0, 51.5, 200])
def test_predict_vmaf_rejects_a_quality_value_outside_the_range(predictor, crf):
    with pytest.raises(InputError, match=r"^crf=.*: expected a finite number in "
                       r"libx264's quality range \[0, 51\]$"):  # fmt: skip
        predictor.predict_vmaf(SHOTS[0], crf, "libx264")


@pytest.mark.parametrize("target", [math.nan, -1.0, 100.01, -math.inf])
def test_pick_crf_rejects_a_target_outside_0_to_100(target):
    with pytest.raises(InputError, match=r"^target_vmaf=.*\[0, 100\]$"):
        Predictor(model_path_for("libx264")).pick_crf(SHOTS[0], target, "libx264")


@pytest.mark.parametrize("target", [0.0, 100.0])
def test_pick_crf_accepts_the_ends_of_the_vmaf_scale(target):
    choice = Predictor(model_path_for("libx264")).pick_crf(SHOTS[0], target, "libx264")
    assert 0 <= choice.crf <= 51
    assert choice.met == (choice.predicted_vmaf >= target)


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("bitrate_kbps", -3000.0),
        ("bitrate_kbps", math.inf),
        ("fps", 0.0),
        ("fps", math.nan),
        ("width", 0),
        ("height", 0.5),
        ("duration_s", -1.0),
        ("bitrate_kbps", "3000"),
        ("fps", True),
        ("width", 10**400),
    ],
)
def test_encode_features_names_a_value_outside_its_domain(argument, value):
    shot = {"bitrate_kbps": 3000, "fps": 24, "width": 1920, "height": 1080}
    with pytest.raises(InputError, match=rf"^{argument}=.*: expected a finite number"):
        encode_features(**{**shot, argument: value})


def test_encode_features_rejects_values_whose_frames_overflow_float32():
    with pytest.raises(InputError, match=r"^duration_s=1e\+37: expected a duration"):
        encode_features(3000, 1e6, 1920, 1080, duration_s=1e37)


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, 1e39])
def test_a_model_is_never_fed_a_feature_outside_its_domain(value):
    features = {**SHOTS[0], "probe_p_frame_avg_bytes": value}
    with pytest.raises(InputError, match=r"^features\['probe_p_frame_avg_bytes'\]="):
        Predictor(model_path_for("libx264")).predict_vmaf(features, 30, "libx264")


def test_missing_features_are_listed():
    features = {"probe_bitrate_kbps": 3000.0}
    with pytest.raises(InputError, match="features are missing probe_i_frame"):
        Predictor(model_path_for("libx264")).predict_vmaf(features, 30, "libx264")


def test_a_non_finite_model_output_is_an_error_not_a_clamped_answer(monkeypatch):
    from vmaf_predictor.runtime import predictor as module

    monkeypatch.setattr(module, "predict", lambda session, rows: [math.nan])
    with pytest.raises(ModelError, match="returned \\[nan\\]"):
        Predictor(model_path_for("libx264")).predict_vmaf(SHOTS[0], 30, "libx264")
