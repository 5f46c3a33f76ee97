"""What the models' named consumer (vmaf-tune's runtime predictor) sees:
the input contract, sensible picks for every form of input it sends, and
cards its tooling can read."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vmaf_predictor.names import card_file_name, model_file_name
from vmaf_predictor.runtime.features import (
    FEATURE_NAMES,
    FEATURES,
    NOT_MEASURED,
    OPTIONAL_GROUPS,
    contract_table,
    standin_features,
)
from vmaf_predictor.runtime.predictor import (
    MODEL_DIR,
    Predictor,
    codec_registry,
    encode_features,
)

ROOT = Path(__file__).resolve().parents[1]
CODECS = list(codec_registry())
# (probe kbps, fps, width, height, frames): 1080p and 720p, low and high bitrate
SHOTS = [
    (3000.0, 24.0, 1920, 1080, 120),
    (12000.0, 30.0, 1920, 1080, 150),
    (800.0, 30.0, 1280, 720, 240),
    (300.0, 24.0, 1280, 720, 96),
]
TARGETS = (90.0, 93.0, 95.0)


def consumer_inputs(bitrate, fps, width, height, frames) -> dict[str, dict]:
    """The forms in which vmaf-tune sends one shot: everything measured;
    every optional measurement left out (0.0); and its default run (saliency
    off, no B frames, signalstats on with its (YHIGH + YLOW) / 2 proxy)."""
    frame = bitrate * 1000 / 8 / fps
    base = {"bitrate_kbps": bitrate, "fps": fps, "width": width, "height": height,
            "duration_s": frames / fps}  # fmt: skip
    measured = {"probe_i_frame_avg_bytes": 4 * frame,
                "probe_p_frame_avg_bytes": 0.8 * frame,
                "probe_b_frame_avg_bytes": 0.3 * frame, "saliency_mean": 0.45,
                "saliency_var": 0.04, "frame_diff_mean": 6.0, "y_avg": 110.0,
                "y_var": 118.0}  # fmt: skip
    default_run = {**measured, "saliency_mean": 0.0, "saliency_var": 0.0,
                   "probe_b_frame_avg_bytes": 0.0, "y_var": 125.0}  # fmt: skip
    return {
        "measured": encode_features(**base, **measured),
        "not measured": encode_features(**base),
        "vmaf-tune default": encode_features(**base, **default_run),
    }


@pytest.mark.parametrize("codec", CODECS)
def test_stub_picks_track_the_fallback_for_every_input_form(codec):
    model = Predictor(MODEL_DIR / model_file_name(codec))
    fallback = Predictor()
    steps = []
    for shot in SHOTS:
        for form, features in consumer_inputs(*shot).items():
            for target in TARGETS:
                mine = model.pick_crf(features, target, codec).crf
                theirs = fallback.pick_crf(features, target, codec).crf
                steps.append((abs(mine - theirs), shot, form, target, mine, theirs))
    worst = max(steps)
    assert worst[0] <= 2, (
        f"{codec}: {worst[1:]} picks (model, fallback) differ by {worst[0]}"
    )


def test_the_contract_lists_the_14_features_in_graph_order():
    assert [f.name for f in FEATURES] == list(FEATURE_NAMES)
    assert len(FEATURES) == 14 and NOT_MEASURED == 0.0
    optional = {FEATURE_NAMES[i] for cols in OPTIONAL_GROUPS.values() for i in cols}
    assert {"saliency_mean", "y_avg", "y_var", "frame_diff_mean",
            "probe_b_frame_avg_bytes"} <= optional  # fmt: skip
    assert "crf" not in optional and "probe_bitrate_kbps" not in optional


def test_the_readme_shows_the_contract_table_as_the_code_defines_it():
    assert contract_table() in (ROOT / "README.md").read_text(encoding="utf-8")


def test_unknown_measurements_are_refused_by_name():
    with pytest.raises(ValueError, match="unknown feature y_mean"):
        encode_features(3000, 24, 1920, 1080, y_mean=3.0)


# The consumer's card reader, written from its format: a bold field is a
# line "- **Label**: value" (value optionally in backticks); a metric is a
# table row "| NAME | number"; stubs carry the phrase "synthetic-stub model".
def _field(text: str, label: str) -> str:
    match = re.search(rf"^- \*\*{re.escape(label)}\*\*:\s*`?([^`\n]+)`?", text, re.M)
    assert match, f"missing {label} field"
    return match.group(1).strip()


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^\|\s*{re.escape(name)}\s*\|\s*([0-9.]+)", text, re.M)
    assert match, f"missing {name} metric"
    return float(match.group(1))


@pytest.mark.parametrize("codec", CODECS)
def test_every_committed_card_reads_as_the_consumer_reads_it(codec):
    text = (MODEL_DIR / card_file_name(codec)).read_text(encoding="utf-8")
    provenance = json.loads((MODEL_DIR / "PROVENANCE.json").read_text())
    kind = _field(text, "Corpus kind")
    assert _field(text, "Codec adapter") == codec
    assert kind == provenance[model_file_name(codec)]["corpus"]
    for name in ("PLCC", "SROCC"):
        assert 0.0 <= _metric(text, name) <= 1.0
    assert 0.0 <= _metric(text, "RMSE") < 100.0
    assert ("synthetic-stub model" in text) == kind.startswith("synthetic-stub-N=")


def test_rows_without_probe_statistics_follow_the_contract():
    row = standin_features(30, 4200.12345, 30, 5.0, 1920.6, 1080)
    assert row["probe_bitrate_kbps"] == 4200.123  # the row's own bitrate
    assert (row["shot_length_frames"], row["width"]) == (150.0, 1920.0)
    optional = [FEATURE_NAMES[i] for cols in OPTIONAL_GROUPS.values() for i in cols]
    assert all(row[name] == NOT_MEASURED for name in optional)
