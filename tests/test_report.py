"""The report's pages: the overview, cards as HTML, the inputs behind the
VMAF-against-CRF curves."""

from __future__ import annotations

from checkout import ROOT

from vmaf_predictor.build import report
from vmaf_predictor.build import s2_corpus as corpus


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


def test_curves_follow_a_shot_whose_bitrate_falls_with_crf():
    crfs = [18.0, 30.0, 45.0]
    inputs = report.curve_inputs(1920, 1080, crfs)
    assert inputs.shape == (3, 14) and list(inputs[:, 0]) == crfs
    bitrates = list(inputs[:, 1])
    assert bitrates == sorted(bitrates, reverse=True)
    assert bitrates[0] == float(
        inputs.dtype.type(corpus.synthetic_bitrate(1920, 1080, 18.0, 1.2))
    )
