"""The search for the quality value that meets a target: its rule on
known curves, then ``pick-crf --verify`` on tiny clips with real encodes and
libvmaf scores."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from clips import make_tiny_clips
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from vmaf_predictor.runtime import search
from vmaf_predictor.runtime.features import INPUT_NAME, N_FEATURES, OUTPUT_NAME
from vmaf_predictor.runtime.search import Problem, Step, prior_slope, run_search

ROOT = Path(__file__).resolve().parents[1]
TIMING = ("encode_time_ms", "score_time_ms")


def logistic(a: float, b: float):
    """A VMAF curve falling with the quality value, as real ones do."""
    return lambda q: round(100 / (1 + math.exp(-(a - b * q))), 4)


def measured_by(truth):
    return lambda q: Step(q, None, truth(q), 0, 0.0, 0, 0)


def x264(target: float, budget: int = 4, tolerance: float = 1.0) -> Problem:
    return Problem(target, tolerance, 0, 51, budget, prior_slope("libx264", 1.2))


def best_value(truth, problem: Problem) -> int | None:
    meets = [
        q for q in range(problem.low, problem.high + 1) if truth(q) >= problem.target
    ]
    return max(meets) if meets else None


# The rule, on known curves -------------------------------------------------------


def test_a_flat_saturated_model_still_converges_on_the_best_value():
    truth = logistic(8.0, 0.2)  # 93 at about crf 27
    flat = [99.0] * 52  # the model says 99 everywhere: its pick is crf 51
    found = run_search(x264(93), measured_by(truth), 51, flat)
    assert found.met and found.encodes <= 4
    assert found.crf == best_value(truth, x264(93))


def test_a_model_off_in_level_and_slope_converges_on_the_best_value():
    truth = logistic(9.0, 0.22)
    wrong = [100 / (1 + math.exp(-(12.0 - 0.08 * q))) for q in range(52)]
    first = max(q for q in range(52) if wrong[q] >= 93)
    found = run_search(x264(93), measured_by(truth), first, wrong)
    assert found.met and found.crf == best_value(truth, x264(93))


def test_neighbouring_values_that_bracket_the_target_stop_the_search():
    # 93 lies between crf 30 (95) and 31 (91): no value lands in the window
    def truth(q: int) -> float:
        return 95 + (30 - q) * 0.5 if q <= 30 else 91 - (q - 31) * 0.5

    found = run_search(x264(93, budget=8), measured_by(truth), 31, [93.5] * 52)
    assert found.stop == search.BRACKET
    assert (found.crf, found.met) == (30, True)
    assert {30, 31} <= {s.crf for s in found.steps}


def test_a_measurement_in_the_window_stops_the_search():
    truth = logistic(8.0, 0.2)
    q = max(q for q in range(52) if 93 <= truth(q) <= 94)
    found = run_search(x264(93), measured_by(truth), q, [93.5] * 52)
    assert (found.stop, found.encodes, found.crf) == (search.IN_WINDOW, 1, q)


def test_the_budget_stops_the_search_with_the_best_measured_so_far():
    truth = logistic(8.0, 0.2)
    found = run_search(x264(93, budget=1), measured_by(truth), 10, [99.0] * 52)
    assert (found.stop, found.encodes, found.crf, found.met) == (
        search.BUDGET,
        1,
        10,
        True,
    )


def test_no_value_meeting_the_target_gives_met_false_and_the_closest():
    truth = logistic(2.0, 0.2)  # at most 88 at crf 0
    found = run_search(x264(93, budget=6), measured_by(truth), 30, [99.0] * 52)
    assert not found.met
    assert found.crf == 0 and found.stop == search.RANGE_EDGE


def test_the_range_s_highest_value_meeting_the_target_is_the_answer():
    truth = logistic(30.0, 0.2)  # 99.99 everywhere in range
    found = run_search(x264(93), measured_by(truth), 40, [80.0] * 52)
    assert (found.crf, found.met, found.stop) == (51, True, search.RANGE_EDGE)


def test_the_crf_search_rule_is_ab_av1_s():
    truth = logistic(8.0, 0.2)
    problem = x264(93, budget=10)
    found = run_search(problem, measured_by(truth), search.crf_search_first(problem))
    values = [s.crf for s in found.steps]
    # the middle, then the 40/60 point toward the missing side, then linear
    # interpolation between the bracketing measurements
    assert values[0] == 25
    assert truth(25) >= 94 and values[1] == round(25 * 0.4 + 51 * 0.6)
    good, bad = 25, values[1]
    factor = (93 - truth(bad)) / (truth(good) - truth(bad))
    assert values[2] == round(bad - (bad - good) * factor)
    assert found.crf == best_value(truth, problem)


monotone_curves = st.tuples(
    st.floats(2.0, 14.0),
    st.floats(0.05, 0.5),
    st.floats(-8.0, 8.0),
    st.floats(0.2, 3.0),
)


@settings(max_examples=300, deadline=None)
@given(
    monotone_curves,
    st.floats(80.0, 97.0),
    st.integers(1, 8),
    st.floats(0.0, 2.0),
    st.sampled_from(["model", "crf-search"]),
)
def test_steps_are_distinct_in_range_and_the_answer_is_the_best_measured(
    shape, target, budget, tolerance, strategy
):
    a, b, level_error, slope_error = shape
    truth = logistic(a, b)
    problem = x264(target, budget, tolerance)
    if strategy == "model":
        curve = [
            100 / (1 + math.exp(-(a + level_error - b * slope_error * q)))
            for q in range(52)
        ]
        first = max((q for q in range(52) if curve[q] >= target), default=0)
    else:
        curve, first = None, search.crf_search_first(problem)
    found = run_search(problem, measured_by(truth), first, curve)
    values = [s.crf for s in found.steps]
    assert len(values) == len(set(values)) <= budget
    assert all(0 <= q <= 51 for q in values)
    meeting = [s.crf for s in found.steps if s.measured_vmaf >= target]
    assert found.met == bool(meeting)
    if meeting:
        assert found.crf == max(meeting)


# pick-crf --verify on clips ------------------------------------------------------


def flat_model(path: Path, codec: str, vmaf: float, per_crf: float = 0.0) -> Path:
    """A deliberately wrong predictor: ``vmaf + per_crf * crf`` whatever the
    clip (a flat, saturated curve when per_crf is 0)."""
    weights = np.zeros((N_FEATURES, 1), dtype=np.float32)
    weights[0, 0] = per_crf
    graph = helper.make_graph(
        [helper.make_node("Gemm", [INPUT_NAME, "w", "b"], [OUTPUT_NAME])],
        f"vmaf_predictor_{codec}",
        [
            helper.make_tensor_value_info(
                INPUT_NAME, TensorProto.FLOAT, ["N", N_FEATURES]
            )
        ],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", 1])],
        [
            onnx.numpy_helper.from_array(weights, "w"),
            onnx.numpy_helper.from_array(np.array([vmaf], dtype=np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    path.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path / f"predictor_{codec}.onnx")
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    made = make_tiny_clips(tmp_path_factory.mktemp("clips"))
    return {p.stem: p for p in made}


@pytest.fixture()
def tmpdir_env(tmp_path) -> dict[str, str]:
    """An environment whose temporary directory is a fresh one of the test's."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}


def pick(env: dict, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "vmaf_predictor", "pick-crf", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True)


def search_json(env: dict, clip: Path, *args: str) -> tuple[int, dict]:
    done = pick(env, "--source", str(clip), "--verify", "--json", *args)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def measure_vmaf(clip: Path, codec: str, q: int) -> float:
    from vmaf_predictor.runtime import encode
    from vmaf_predictor.runtime.clip import sweep_settings

    return encode.encode_and_score(clip, codec, q, sweep_settings()).vmaf_score


def test_the_search_converges_from_a_flat_wrong_model_on_a_clip(
    clips, tmp_path, tmpdir_env
):
    models = flat_model(tmp_path / "flat", "libx264", 99.5)
    status, result = search_json(
        tmpdir_env, clips["bars"], "--codec", "libx264", "--target", "90",
        "--model-dir", str(models),
    )  # fmt: skip
    assert status == 0 and result["met"]
    assert result["steps"][0]["crf"] == 51  # the wrong model's pick
    assert result["encodes"] == len(result["steps"]) <= 4
    # the answer meets the target, measured again independently, and the
    # next value up does not meet it, or the answer landed in the window
    answer = result["crf"]
    assert measure_vmaf(clips["bars"], "libx264", answer) >= 90
    if result["stop"] != search.IN_WINDOW:
        assert measure_vmaf(clips["bars"], "libx264", answer + 1) < 90
    assert not any(Path(tmpdir_env["TMPDIR"]).iterdir())


def test_each_step_reports_its_measurement_and_costs(clips, tmpdir_env):
    _, result = search_json(
        tmpdir_env, clips["carpet"], "--codec", "libx265", "--target", "88",
        "--analytical",
    )  # fmt: skip
    for step in result["steps"]:
        assert set(step) == {
            "crf", "predicted_vmaf", "measured_vmaf", "encode_size_bytes",
            "bitrate_kbps", "encode_time_ms", "score_time_ms",
        }  # fmt: skip
        assert 15 <= step["crf"] <= 40 and step["encode_size_bytes"] > 0
    assert result["predicted_vmaf"] == result["steps"][0]["predicted_vmaf"]
    assert set(result["features"]) >= {"probe_bitrate_kbps", "y_avg"}
    assert result["model"] == {"path": None, "corpus": "analytical curve"}


def test_one_encode_is_predict_then_verify(clips, tmpdir_env):
    _, result = search_json(
        tmpdir_env, clips["bars"], "--codec", "libx264", "--target", "93",
        "--max-encodes", "1", "--model-dir", str(ROOT / "model"),
    )  # fmt: skip
    done = pick(
        tmpdir_env, "--source", str(clips["bars"]), "--codec", "libx264",
        "--target", "93", "--json", "--model-dir", str(ROOT / "model"),
    )  # fmt: skip
    predicted = json.loads(done.stdout)
    assert result["encodes"] == 1
    assert result["steps"][0]["crf"] == predicted["crf"] == result["crf"]


def test_a_target_no_value_meets_exits_1_with_the_closest(clips, tmpdir_env):
    status, result = search_json(
        tmpdir_env, clips["bars"], "--codec", "libx265", "--target", "99.9",
        "--analytical",
    )  # fmt: skip
    assert status == 1 and result["met"] is False
    closest = max(result["steps"], key=lambda s: s["measured_vmaf"])
    assert result["crf"] == closest["crf"] and result["measured_vmaf"] < 99.9


def test_the_same_clip_gives_the_same_steps_in_another_process(clips, tmpdir_env):
    args = ("--codec", "libsvtav1", "--target", "90", "--analytical")
    runs = [search_json(tmpdir_env, clips["rgb"], *args)[1] for _ in range(2)]
    steps = [
        [{k: v for k, v in s.items() if k not in TIMING} for s in r["steps"]]
        for r in runs
    ]
    assert steps[0] == steps[1] and runs[0]["crf"] == runs[1]["crf"]


def test_crf_search_needs_no_model_and_starts_mid_range(clips, tmpdir_env):
    _, result = search_json(
        tmpdir_env, clips["bars"], "--codec", "libx264", "--target", "90",
        "--strategy", "crf-search", "--max-encodes", "8",
    )  # fmt: skip
    assert result["steps"][0]["crf"] == 25
    assert all(s["predicted_vmaf"] is None for s in result["steps"])
    assert result["features"] is None and result["model"]["path"] is None


def test_output_keeps_the_answer_s_encode(clips, tmp_path, tmpdir_env):
    out = tmp_path / "answer.mp4"
    _, result = search_json(
        tmpdir_env, clips["bars"], "--codec", "libx264", "--target", "90",
        "--analytical", "--output", str(out),
    )  # fmt: skip
    assert result["output"] == str(out)
    from vmaf_predictor.runtime import ffmpeg as ff

    stream = ff.open_clip(ff.locate(None), out)
    assert (stream.width, stream.height) == (160, 90)
    assert ff.count_frames(ff.locate(None), out) == 12
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_output_needs_a_search(clips, tmp_path, tmpdir_env):
    done = pick(
        tmpdir_env, "--source", str(clips["bars"]), "--codec", "libx264",
        "--target", "90", "--output", str(tmp_path / "a.mkv"),
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--output" in done.stderr


def test_a_bad_tolerance_is_named(clips, tmpdir_env):
    done = pick(
        tmpdir_env, "--source", str(clips["bars"]), "--codec", "libx264",
        "--target", "90", "--verify", "--tolerance", "-1",
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: --tolerance=-1: expected")


def test_ctrl_c_removes_the_partial_encode_and_exits_130(clips, tmp_path, tmpdir_env):
    out = tmp_path / "kept.mkv"
    models = flat_model(tmp_path / "flat", "libaom-av1", 99.5)
    command = [
        sys.executable, "-m", "vmaf_predictor", "pick-crf", "--source",
        str(clips["rgb"]), "--codec", "libaom-av1", "--target", "97",
        "--verify", "--output", str(out), "--model-dir", str(models),
        "--tolerance", "0", "--max-encodes", "20",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, env=tmpdir_env, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    tmp = Path(tmpdir_env["TMPDIR"])
    deadline = time.monotonic() + 60
    while not list(tmp.glob("vmaf-search-*/*.mkv")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp.glob("vmaf-search-*")), "the search never started"
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C does: the whole group
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted")
    assert not out.exists()
    assert not list(tmp.rglob("*")), "left in the temporary directory"


def test_two_searches_of_one_clip_at_once_do_not_collide(clips, tmp_path, tmpdir_env):
    outs = [tmp_path / f"{n}.mkv" for n in "ab"]
    command = [
        sys.executable, "-m", "vmaf_predictor", "pick-crf", "--source",
        str(clips["carpet"]), "--codec", "libx264", "--target", "90",
        "--verify", "--json", "--analytical",
    ]  # fmt: skip
    runs = [
        subprocess.Popen(
            [*command, "--output", str(out)],
            env=tmpdir_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for out in outs
    ]
    results = [json.loads(r.communicate(timeout=120)[0]) for r in runs]
    assert [r.returncode for r in runs] == [0, 0]
    assert results[0]["crf"] == results[1]["crf"]
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert not any(Path(tmpdir_env["TMPDIR"]).iterdir())


def test_the_prior_slope_tool_recovers_a_logistic_ladders_logit_slope(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    from search_slopes import slopes

    rows = [
        {
            "encoder": "libx264",
            "src": src,
            "crf": q,
            "vmaf_score": 100 / (1 + math.exp(k * (q - 30))),
        }
        for src, k in (("a", 0.2), ("b", 0.2))
        for q in range(0, 52, 3)
    ]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert slopes(corpus)["libx264"] == pytest.approx(
        [0.2] * 8
    )  # 9-12, ..., 18-21 of each
