"""Property tests of the runtime surface: arbitrary floats, strings and sizes
at the command line and the API. Either a clean error (InputError, or exit 2
with one line naming the flag) or a finite answer in range; never a
traceback, never NaN."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from vmaf_predictor.runtime import cli
from vmaf_predictor.runtime.inputs import InputError
from vmaf_predictor.runtime.predictor import (
    CrfChoice,
    Predictor,
    codec_registry,
    encode_features,
    lookup_codec,
    model_path_for,
)

CODECS = list(codec_registry())
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
PREDICTORS = {codec: Predictor(model_path_for(codec)) for codec in CODECS}
ANALYTICAL = Predictor()

# Anything a caller might pass as a number.
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6),  # plausible magnitudes too
    st.integers(min_value=-(10**400), max_value=10**400),
    st.text(max_size=12),
    st.booleans(),
    st.none(),
)
# Anything a user might type after a flag.
typed = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(min_value=0.001, max_value=1e5).map(lambda x: f"{x:g}"),
    st.text(max_size=12),
)


def sometimes(bad: st.SearchStrategy, good: st.SearchStrategy) -> st.SearchStrategy:
    """``bad`` about one time in three, else ``good``."""
    return st.integers(0, 2).flatmap(lambda i: bad if i == 0 else good)


codecs = sometimes(st.text(max_size=10), st.sampled_from(CODECS))
PLAUSIBLE_SHOT = {
    "bitrate_kbps": st.floats(1, 1e5),
    "fps": st.floats(1, 240),
    "width": st.integers(1, 8192),
    "height": st.integers(1, 8192),
    "duration_s": st.floats(0.1, 60),
}


@st.composite
def shots(draw) -> dict:
    """A plausible shot with none, one or several values replaced by
    anything at all."""
    shot = {name: draw(strategy) for name, strategy in PLAUSIBLE_SHOT.items()}
    for name in draw(st.lists(st.sampled_from(list(shot)), max_size=3)):
        shot[name] = draw(values)
    return shot


def in_vmaf_range(value: object) -> bool:
    return isinstance(value, float) and math.isfinite(value) and 0 <= value <= 100


def one_line_naming(error: InputError) -> bool:
    text = str(error)
    named = text.startswith((error.argument, f"unknown {error.argument} "))
    return named and "\n" not in text


@FUZZ
@given(shot=shots())
def test_encode_features_gives_finite_features_or_names_the_argument(shot):
    try:
        features = encode_features(**shot)
    except InputError as error:
        assert error.argument in shot and one_line_naming(error)
        return
    assert all(math.isfinite(v) and abs(v) <= 3.5e38 for v in features.values())


@FUZZ
@given(
    shot=shots(),
    crf=sometimes(values, st.floats(0, 63)),
    codec=codecs,
    model=st.booleans(),
)
def test_predict_vmaf_is_in_range_or_a_clean_error(shot, crf, codec, model):
    try:
        features = encode_features(**shot)
        predictor = PREDICTORS.get(codec, ANALYTICAL) if model else ANALYTICAL
        vmaf = predictor.predict_vmaf(features, crf, codec)
    except InputError as error:
        assert one_line_naming(error)
        event(f"error: {error.argument}")
        return
    entry = lookup_codec(codec)
    assert entry.quality_min <= crf <= entry.quality_max
    assert in_vmaf_range(vmaf)
    event("answer")


@FUZZ
@given(
    shot=shots(),
    target=sometimes(values, st.floats(0, 100)),
    codec=st.sampled_from(CODECS),
    model=st.booleans(),
)
def test_pick_crf_is_in_range_or_a_clean_error(shot, target, codec, model):
    try:
        features = encode_features(**shot)
        choice = (PREDICTORS[codec] if model else ANALYTICAL).pick_crf(
            features, target, codec
        )
    except InputError as error:
        assert one_line_naming(error)
        return
    entry = lookup_codec(codec)
    assert isinstance(choice, CrfChoice) and 0 <= target <= 100
    assert entry.quality_min <= choice.crf <= entry.quality_max
    assert in_vmaf_range(choice.predicted_vmaf)
    assert choice.met == (choice.predicted_vmaf >= target)


@FUZZ
@given(
    command=st.sampled_from(["predict", "pick-crf"]),
    codec=codecs,
    flags=st.fixed_dictionaries(
        {
            "--crf": sometimes(typed, st.integers(0, 63).map(str)),
            "--target": sometimes(typed, st.integers(0, 100).map(str)),
            "--bitrate": sometimes(typed, st.just("3000")),
            "--fps": sometimes(typed, st.just("24")),
            "--width": sometimes(typed, st.just("1920")),
            "--height": sometimes(typed, st.just("1080")),
            "--duration": sometimes(typed, st.just("5")),
        }
    ),
    analytical=st.booleans(),
)
def test_the_cli_answers_in_range_or_exits_2_with_one_line(
    capsys, command, codec, flags, analytical
):
    skip = "--target" if command == "predict" else "--crf"
    argv = [command, f"--codec={codec}", "--json"]
    argv += [f"{flag}={value}" for flag, value in flags.items() if flag != skip]
    argv += ["--analytical"] if analytical else []
    try:
        status = cli.main(argv)
    except SystemExit as exit:  # argparse: a value that is not a number
        status = exit.code
    out, err = capsys.readouterr()
    if status != 0:
        assert status == 2 and out == ""
        assert err.startswith("error: ") and err.count("\n") == 1
        return
    assert err == ""
    result = json.loads(out, parse_constant=pytest.fail)  # strict JSON
    entry = lookup_codec(codec)
    if command == "predict":
        assert in_vmaf_range(result["vmaf"])
        assert entry.quality_min <= result["crf"] <= entry.quality_max
    else:
        assert in_vmaf_range(result["predicted_vmaf"])
        assert entry.quality_min <= result["crf"] <= entry.quality_max
        assert 0 <= result["target_vmaf"] <= 100
