"""The report's pages: the overview, cards as HTML, the inputs behind the
VMAF-against-CRF curves."""

from __future__ import annotations

import numpy as np
from checkout import ROOT

from vmaf_predictor.build import report
from vmaf_predictor.runtime.features import FEATURE_NAMES
from vmaf_predictor.runtime.predictor import encode_features


def test_a_card_page_keeps_the_warning_tables_and_code():
    card = (ROOT / "model" / "predictor_libx264_card.md").read_text()
    page = report.markdown_page("libx264 model card", card)
    assert "<blockquote>" in page and "DO NOT USE IN PRODUCTION" in page
    rules = [line for line in card.splitlines() if line.startswith("|---")]
    assert page.count("<table>") == len(rules) and "<pre><code" in page


def test_overview_marks_each_codec_as_matching_or_differing():
    row = report.OverviewRow(
        "libx264", "real-N=30", 30, 0.99, 0.98, 1.5, "ab" * 32, "pass", "pass",
        "differs",
    )  # fmt: skip
    page = report.overview_html([row], "git HEAD:model/SHA256SUMS")
    assert "<span class='fail'>differs</span>" in page
    assert "<span class='real'>real-N=30</span>" in page
    assert "abababababab</code>" in page  # the short hash, full one on hover


def test_curves_follow_one_shot_probed_at_a_fixed_quality_value():
    crfs = [18.0, 30.0, 45.0]
    inputs = report.curve_inputs(1920, 1080, crfs)
    assert inputs.shape == (3, 14) and list(inputs[:, 0]) == crfs
    expected = encode_features(
        1920 * 1080 * report.CURVE_FPS * report.CURVE_BPP / 1000,
        report.CURVE_FPS, 1920, 1080, report.CURVE_DURATION_S,
    )  # fmt: skip
    for row in inputs:
        assert list(row[1:]) == [np.float32(expected[n]) for n in FEATURE_NAMES[1:]]
