"""The report's pages: the overview, cards as HTML, the inputs behind the
VMAF-against-CRF curves."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pytest
from checkout import ROOT

from vmaf_predictor.factory import report
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


# Corpus strings (encoders, file names, error text) are attacker-controlled;
# they reach a page only as text.

PAYLOADS = [
    "<script>alert(document.domain)</script>",
    "<img src=x onerror=alert(document.domain)>",
    "<svg/onload=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    '"><b onmouseover=alert(1)>x</b>',
]
PAYLOAD_TAGS = {"script", "img", "svg", "iframe", "b"}


class Markup(HTMLParser):
    """The elements, attributes and text a browser would see in a page."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self.text = ""
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(tag, name, value) for name, value in attrs]

    def handle_data(self, data):
        self.text += data

    def handlers(self) -> list[str]:
        return [name for _, name, _ in self.attributes if name.startswith("on")]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_raw_html_in_markdown_is_shown_as_text(payload):
    text = f"# Corpus report\n\nEncoder {payload} was dropped.\n\n{payload}\n"
    page = Markup(report.markdown_page("Corpus report", text))
    assert not PAYLOAD_TAGS & set(page.tags) and page.handlers() == []
    assert page.text.count(payload) == 2


@pytest.mark.parametrize("payload", PAYLOADS)
def test_raw_html_in_a_table_cell_is_shown_as_text(payload):
    text = f"| encoder | rows |\n|---|---|\n| {payload} | 3 |\n"
    page = Markup(report.markdown_page("Corpus report", text))
    assert "table" in page.tags
    assert not PAYLOAD_TAGS & set(page.tags) and page.handlers() == []


def test_character_references_from_the_split_stay_text():
    escaped = "&#60;img src&#61;x onerror&#61;alert&#40;1&#41;&#62;"
    page = Markup(report.markdown_page("Corpus report", f"- {escaped}\n"))
    assert "img" not in page.tags
    assert "<img src=x onerror=alert(1)>" in page.text


@pytest.mark.parametrize(
    "link",
    [
        "[x](javascript:alert(1))",
        "[x](JavaScript:alert(1))",
        "[x](java&#x09;script:alert(1))",
        "[x](javascript\\:alert(1))",
        "[x](<javascript:alert(1)>)",
        "[x](data:text/html,<script>alert(1)</script>)",
        "[x](vbscript:msgbox(1))",
    ],
)
def test_a_link_that_could_run_script_loses_its_url(link):
    page = Markup(report.markdown_page("card", link + "\n"))
    assert [a for a in page.attributes if a[1] == "href"] == []


def test_web_and_relative_links_are_kept():
    text = "[a](https://example.org/x) [b](mailto:a@example.org) [c](../card.html)\n"
    page = Markup(report.markdown_page("card", text))
    assert [value for _, name, value in page.attributes if name == "href"] == [
        "https://example.org/x",
        "mailto:a@example.org",
        "../card.html",
    ]


def test_an_image_never_loads_from_the_network():
    page = Markup(report.markdown_page("card", "![x](http://example.org/x.png)\n"))
    assert [a for a in page.attributes if a[1] == "src"] == []


def test_the_overview_escapes_every_string():
    payload = PAYLOADS[1]
    row = report.OverviewRow(
        payload, payload, 30, 0.99, 0.98, 1.5, payload, payload, payload, payload
    )
    page = Markup(report.overview_html([row], payload))
    assert "img" not in page.tags and page.handlers() == []
    assert page.text.count(payload) >= 5


def test_the_overview_shows_the_split_the_baselines_and_the_winner():
    row = report.OverviewRow(
        "libx264", "real-N=48", 48, 0.9, 0.9, 12.5, "ab" * 32, "pass", "pass",
        "differs", split="source",
        baselines={"fold mean": 20.0, "analytical": 15.0, "parametric": 11.0},
        winner="parametric",
    )  # fmt: skip
    page = report.overview_html([row], "git HEAD:model/SHA256SUMS")
    assert "<td>by source</td>" in page and "<th>lowest RMSE</th>" in page
    assert "<td class='num'>11.000</td>" in page
    assert "<span class='fail'>parametric</span>" in page
