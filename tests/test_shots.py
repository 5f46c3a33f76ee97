"""A clip into shots (vmaf_predictor.runtime.shots): FFmpeg's scene scores
find a hard cut, cuts leave no shot shorter than min_frames, long takes are
cut into equal pieces of at most max_frames; the shot names and their
inverse (vmaf_predictor.names)."""

from __future__ import annotations

import pytest
from clips import make_clip, make_multi_shot_clip

from vmaf_predictor import names
from vmaf_predictor.runtime import ffmpeg as ff
from vmaf_predictor.runtime import shots

SETTINGS = shots.ShotSettings(threshold=10.0, min_frames=4, max_frames=10)


def spans(found: list[shots.Shot]) -> list[tuple[int, int, str]]:
    return [(s.start, s.frames, s.starts_at) for s in found]


def test_a_hard_cut_between_two_sources_starts_a_shot(tmp_path):
    clip = make_multi_shot_clip(tmp_path, frames=(8, 10))
    found, scores = shots.find_shots(ff.locate(None), clip, SETTINGS)
    assert len(scores) == 18 and scores[8] >= 10 > max(scores[:8] + scores[9:])
    assert spans(found) == [(0, 8, "start"), (8, 10, "cut")]


def test_one_lavfi_source_is_one_shot(tmp_path):
    clip = make_clip(tmp_path, "bars", "smptebars=s=160x90:r=25", 10, ".y4m")
    found, _ = shots.find_shots(ff.locate(None), clip, SETTINGS)
    assert spans(found) == [(0, 10, "start")]


def test_a_long_take_is_cut_into_equal_pieces_of_at_most_max_frames():
    still = [0.0] * 25
    assert spans(shots.split(still, SETTINGS)) == [
        (0, 8, "start"), (8, 8, "length"), (16, 9, "length"),
    ]  # fmt: skip
    assert spans(shots.split([0.0] * 10, SETTINGS)) == [(0, 10, "start")]


def test_a_cut_too_near_another_or_an_end_is_not_taken():
    scores = [0.0] * 20
    scores[2] = 50.0  # 2 frames after the start: a flash, not a shot
    scores[9] = 20.0
    scores[11] = 30.0  # the stronger of two cuts 2 frames apart wins
    scores[18] = 40.0  # 2 frames before the end
    settings = shots.ShotSettings(threshold=10.0, min_frames=4, max_frames=20)
    assert spans(shots.split(scores, settings)) == [(0, 11, "start"), (11, 9, "cut")]


def test_a_clip_shorter_than_min_frames_is_one_shot():
    assert spans(shots.split([0.0, 99.0, 0.0], SETTINGS)) == [(0, 3, "start")]


def test_max_frames_must_allow_pieces_of_min_frames():
    with pytest.raises(ValueError, match=r"max_frames \(7\) must be at least twice"):
        shots.ShotSettings(threshold=10.0, min_frames=4, max_frames=7)


def test_a_shot_names_its_clip_and_the_clip_is_recovered():
    assert names.shot_name("bikes", 0, 1) == "bikes"  # one shot: the clip's name
    assert names.shot_name("bikes", 2, 5) == "bikes@shot002"
    for src in ("bikes", "bikes@shot002", "a.b__c@shot1000"):
        assert names.clip_of(src) in ("bikes", "a.b__c")
    # any other src (a corpus's own names) is its own clip, unchanged
    for src in ("clips/clip0001.y4m", "x@shot1", "@shot001", "3f9a..."):
        assert names.clip_of(src) == src
    with pytest.raises(ValueError):
        names.shot_name("bikes", 5, 5)
