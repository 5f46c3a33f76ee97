"""The HTML report, opened in a real headless Chromium (`make test-report`).

Builds a two-codec run (libx264 from real rows, av1_qsv a synthetic stub),
makes the report with `snakemake --report`, and reads it the way a person
does: the page loads without errors or network, the overview and both codec
sections are there, and screenshots land in results/report_tier/ to look at.
The corpus also holds script payloads (an encoder, a shard's file name, a
bad row): they must show as text and never run.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import pytest
from browser import Browser
from checkout import ROOT, copy_workflow
from workflow_runs import snakemake, write_corpus

pytestmark = pytest.mark.browser

CODECS = ("libx264", "av1_qsv")
SCREENSHOTS = ROOT / "results" / "report_tier"
CODEC_FIGURES = (
    "1. VMAF against CRF",
    "2. held-out predictions",
    "3. training loss",
    "4. model card",
)

# Clicks the first link of the table row whose text contains a label (the
# report's "view" button for that result) or the menu entry with that text.
OPEN_RESULT = """(label => {
  const row = [...document.querySelectorAll('tr')]
    .find(r => r.textContent.includes(label));
  const link = row && row.querySelector('a');
  if (link) { link.click(); return true; }
  return false;
})(%s)"""
OPEN_MENU = """(label => {
  const entry = [...document.querySelectorAll('span')]
    .find(s => s.textContent.trim() === label);
  if (entry) { entry.click(); return true; }
  return false;
})(%s)"""
SHOWN_PAGE = """(() => {
  const frame = document.querySelector('iframe');
  return frame && frame.src.startsWith('data:text/html')
    ? atob(frame.src.split(',')[1]) : null;
})()"""
# Corpus strings that would run script if they reached the page as markup.
ENCODER_PAYLOAD = "<img src=x onerror=alert(document.domain)>"
FILE_PAYLOAD = "<svg onload=alert(1)>"
SHOWN_IMAGE = (
    "(document.querySelector('img[src^=\"data:image/png\"]') || {}).src || null"
)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    # Measured-looking rows for libx264 at three sizes: quality falls
    # faster with CRF than the analytical curve says.
    rows = [
        {"encoder": "libx264", "crf": crf, "width": width, "height": height,
         "vmaf_score": round(min(100.0, 101.0 - 0.028 * max(0, crf - 12) ** 2), 3),
         "framerate": 30, "duration_s": 6.0, "exit_status": 0,
         "bitrate_kbps": round(width * height * math.exp(-(crf - 23) / 20) / 800, 3)}
        for crf in range(10, 46)
        for width, height in ((1280, 720), (1920, 1080), (3840, 2160))
    ]  # fmt: skip
    corpus = root / "corpus"
    corpus.mkdir()
    write_corpus(corpus / "real.jsonl", rows)
    # Dropped (an encoder outside the registry) and bad (a quality value
    # that is text) rows, in a shard whose name is markup too.
    hostile = {**rows[0], "encoder": ENCODER_PAYLOAD}
    bad = {**rows[0], "crf": "<script>alert(2)</script>"}
    write_corpus(corpus / f"{FILE_PAYLOAD}.jsonl", [hostile, bad])
    checkout = copy_workflow(root / "checkout", with_models=True, codecs=CODECS)
    config = ("--config", f"corpus={corpus}", "corpus_bad_rows=skip")
    for args in (("--cores", "2"), ("--report", "report.html")):
        result = snakemake(checkout, *args, "report_pages", *config)
        assert result.returncode == 0, result.stderr[-3000:]
    return checkout / "report.html"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with Browser(tmp_path_factory.mktemp("chromium-profile")) as chromium:
        yield chromium


@pytest.fixture
def opened(report, browser):
    """The report freshly loaded, on its start page."""
    return browser.open(report.as_uri())


def js(template: str, value: str) -> str:
    return template % json.dumps(value)


def test_the_report_loads_without_errors(opened):
    assert opened.errors == []


def test_the_report_loads_nothing_from_the_network(opened, report):
    assert report.as_uri() in opened.requests
    assert opened.remote_requests == []


def test_the_start_page_says_what_the_models_are(opened, browser):
    text = browser.evaluate("document.body.innerText")
    assert "VMAF-predictor model factory" in text
    assert "do not use them in production" in text
    browser.screenshot(SCREENSHOTS / "start.png")


def test_the_menu_lists_the_overview_and_both_codecs(opened, browser):
    menu = browser.evaluate("document.body.innerText").splitlines()
    assert "1. Overview" in menu
    for codec in CODECS:
        assert codec in menu


def test_the_overview_has_a_line_per_codec_with_corpus_and_checks(opened, browser):
    assert browser.evaluate(js(OPEN_MENU, "1. Overview"))
    assert browser.evaluate(js(OPEN_RESULT, "all codecs"))
    page = browser.wait_for(SHOWN_PAGE)
    assert "real-N=108" in page and "synthetic-stub-N=100" in page
    for codec in CODECS:
        assert f"<code>{codec}</code>" in page
    assert page.count("<span class='pass'>pass</span>") == 2 * len(CODECS)
    browser.screenshot(SCREENSHOTS / "overview.png")


def test_the_corpus_report_is_shown_for_a_real_corpus_build(opened, browser):
    assert browser.evaluate(js(OPEN_MENU, "1. Overview"))
    assert browser.evaluate(js(OPEN_RESULT, "corpus report"))
    page = browser.wait_for(SHOWN_PAGE)
    assert "Corpus report" in page and "libx264" in page


@pytest.mark.parametrize("codec", CODECS)
def test_each_codec_section_shows_its_figures_and_card(opened, browser, codec):
    assert browser.evaluate(js(OPEN_MENU, codec)), f"no menu entry {codec}"
    text = browser.evaluate("document.body.innerText")
    for figure in CODEC_FIGURES:
        assert figure in text
    assert browser.evaluate(js(OPEN_RESULT, "1. VMAF against CRF"))
    image = browser.wait_for(SHOWN_IMAGE)
    assert base64.b64decode(image.split(",", 1)[1]).startswith(b"\x89PNG")
    browser.screenshot(SCREENSHOTS / f"{codec}_vmaf_vs_crf.png")


def test_no_corpus_string_runs_as_script_in_the_report(opened, browser):
    assert browser.evaluate(js(OPEN_MENU, "1. Overview"))
    assert browser.evaluate(js(OPEN_RESULT, "corpus report"))
    page = browser.wait_for(SHOWN_PAGE)
    browser.evaluate("new Promise(done => setTimeout(done, 1000))")
    load = browser.page_load()
    assert load.dialogs == [] and load.errors == []
    assert load.remote_requests == []
    assert ENCODER_PAYLOAD not in page and FILE_PAYLOAD not in page


def test_the_corpus_report_shows_the_payloads_as_text(report, browser):
    page = report.parent / "results" / "report" / "corpus_report.html"
    load = browser.open(page.as_uri())
    assert load.dialogs == [] and load.errors == []
    assert load.requests == [page.as_uri()]  # no image "x" was fetched
    text = browser.evaluate("document.body.innerText")
    assert ENCODER_PAYLOAD in text and FILE_PAYLOAD in text
    assert browser.evaluate("document.querySelectorAll('img, svg, script').length") == 0
    browser.screenshot(SCREENSHOTS / "corpus_report_payloads.png")
