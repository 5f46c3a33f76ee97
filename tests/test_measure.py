"""The measured features: each definition on hand-made measurements, and
the FFmpeg passes on tiny clips (160x90, 10-14 frames)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest
from clips import TINY, make_clip, make_tiny_clips

from vmaf_predictor import config_file
from vmaf_predictor.runtime import ffmpeg as ff
from vmaf_predictor.runtime import measure
from vmaf_predictor.runtime.encoders import (
    SOFTWARE_CODECS,
    SweepSettings,
    codec_args,
    hardware_problem,
)
from vmaf_predictor.runtime.features import FEATURE_NAMES


@pytest.fixture(scope="module")
def settings() -> SweepSettings:
    return SweepSettings.from_config(config_file.load())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, object]:
    paths = make_tiny_clips(tmp_path_factory.mktemp("clips"))
    return {p.stem: p for p in paths}


def hand_made() -> measure.Measurements:
    clip = measure.Clip(640, 360, "yuv420p", 30000, 1001, 90)
    analysis = measure.Analysis(
        YAVG=(100.0, 110.0, 120.0),
        YDIF=(0.0, 2.0, 4.0),
        YHIGH=(200.0, 210.0, 220.0),
        YLOW=(10.0, 20.0, 30.0),
    )
    probe = measure.Probe("libx264", 3, (3000, 1000, 500), "IPP", "core 165", ())
    return measure.Measurements(clip, analysis, probe)


def test_the_features_are_the_contract_s_names_in_graph_order():
    assert tuple(measure.FEATURES) == FEATURE_NAMES[1:]


def test_each_definition_on_hand_made_measurements():
    f = measure.features(hand_made())
    seconds = Fraction(3) / Fraction(30000, 1001)
    assert f["probe_bitrate_kbps"] == round(float(4500 * 8 / seconds / 1000), 4)
    assert f["probe_i_frame_avg_bytes"] == 3000.0
    assert f["probe_p_frame_avg_bytes"] == 750.0
    assert f["probe_b_frame_avg_bytes"] == 0.0  # no B frame: 0.0
    assert (f["saliency_mean"], f["saliency_var"]) == (0.0, 0.0)
    assert f["frame_diff_mean"] == 2.0  # the first frame's 0 included
    assert f["y_avg"] == 110.0
    assert f["y_var"] == 115.0  # mean of (YHIGH + YLOW) / 2, not a variance
    assert f["shot_length_frames"] == 90.0  # the whole clip, not the window
    assert f["fps"] == 30000 / 1001
    assert (f["width"], f["height"]) == (640.0, 360.0)


def test_measured_floats_are_rounded_to_four_decimals():
    m = hand_made()
    m = replace(m, probe=replace(m.probe, sizes=(3001, 1000, 501)))
    assert measure.features(m)["probe_p_frame_avg_bytes"] == 750.5
    m = replace(m, analysis=replace(m.analysis, YAVG=(1.0, 1.0, 2.0)))
    assert measure.features(m)["y_avg"] == 1.3333


def test_a_clip_s_features_for_every_software_encoder(tiny, settings):
    for codec in SOFTWARE_CODECS:
        features, m = measure.measure(tiny["bars"], codec, settings)
        assert list(features) == list(FEATURE_NAMES[1:])
        assert features["probe_bitrate_kbps"] > 0
        assert features["probe_i_frame_avg_bytes"] > 0
        assert (features["width"], features["height"]) == (160.0, 90.0)
        assert features["fps"] == 25.0 and features["shot_length_frames"] == 12.0
        assert features["y_avg"] > 0 and features["frame_diff_mean"] > 0
        assert len(m.probe.sizes) == 12 and set(m.probe.types) <= set("IPB")
        assert m.probe.encoder_version != "unknown"


def test_libvvenc_picture_types_come_from_the_decoder(tiny, settings):
    _, m = measure.measure(tiny["bars"], "libvvenc", settings)
    assert m.probe.types.count("I") >= 1 and "?" not in m.probe.types


def test_the_analysis_window_caps_probe_and_signalstats_not_the_shot(tiny, settings):
    short = replace(settings, probe_max_frames=5)
    features, m = measure.measure(tiny["rgb"], "libx264", short)
    assert len(m.analysis.YAVG) == 5 and m.probe.frames == 5
    assert len(m.probe.sizes) == 5
    assert features["shot_length_frames"] == 14.0
    assert features["fps"] == 30000 / 1001  # the exact rational frame rate


def test_measuring_twice_gives_the_same_features(tiny, settings):
    for codec in ("libx264", "libaom-av1"):  # thread-dependent encoders
        first = measure.measure(tiny["carpet"], codec, settings)[0]
        assert measure.measure(tiny["carpet"], codec, settings)[0] == first


def test_paths_with_filter_graph_characters_are_escaped(tmp_path, settings):
    odd = tmp_path / "a:b,c;d[e]f'g\\h sp"
    clip = make_clip(odd, "bars", *TINY["bars"])
    features, _ = measure.measure(clip, "libx264", settings)
    assert features["y_avg"] > 0


def test_a_file_that_is_not_video_is_named_with_ffmpeg_s_reason(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video\n")
    with pytest.raises(ff.ClipError) as caught:
        measure.clip_facts(ff.locate(None), fake)
    assert str(fake) in str(caught.value)
    assert "Invalid data found when processing input" in str(caught.value)


def test_thread_pinning_merges_into_the_encoders_own_parameters():
    args = codec_args("libx265", ["-x265-params", "aq-mode=3"], 2, 28)
    assert args.count("-x265-params") == 1
    assert "aq-mode=3:pools=2:frame-threads=1" in args
    args = codec_args("libvvenc", ["-vvenc-params", "IntraPeriod=32"], 1, 32)
    assert "IntraPeriod=32:InternalBitDepth=8" in args


def test_a_hardware_codec_names_what_it_needs():
    message = hardware_problem("h264_nvenc")
    assert "NVIDIA GPU" in message and "/dev/nvidia0" in message
    assert "stays a synthetic stub" in message
    assert "Intel GPU" in hardware_problem("av1_qsv")


def test_an_encode_short_of_frames_is_run_again(tiny, settings, monkeypatch):
    """libvvenc through FFmpeg 9 now and then exits 0 without a packet: the
    probe and the encode are run again, and a success gives the same bytes."""
    from vmaf_predictor.runtime import encode

    expected = measure.measure(tiny["bars"], "libx264", settings)[0]
    real_probe, calls = measure._probe_once, []

    def flaky_probe(*args):
        calls.append(1)
        done, sizes, types = real_probe(*args)
        return (done, (), "") if len(calls) == 1 else (done, sizes, types)

    monkeypatch.setattr(measure, "_probe_once", flaky_probe)
    assert measure.measure(tiny["bars"], "libx264", settings)[0] == expected
    assert len(calls) == 2

    real_encode, attempts = encode._encode_and_score_once, []

    def flaky_encode(*args):
        attempts.append(1)
        result = real_encode(*args)
        if len(attempts) < 3:
            result.frames, result.vmaf_score = 0, None
        return result

    monkeypatch.setattr(encode, "_encode_and_score_once", flaky_encode)
    scored = encode.encode_and_score(tiny["bars"], "libx264", 30, settings, 12)
    assert scored.exit_status == 0 and scored.frames == 12 and len(attempts) == 3
    attempts.clear()
    monkeypatch.setattr(ff, "ATTEMPTS", 2)
    failed = encode.encode_and_score(tiny["bars"], "libx264", 30, settings, 12)
    assert failed.exit_status == 1 and failed.vmaf_score is None
    assert "libvmaf scored 0 frames, the source has 12" in failed.error
