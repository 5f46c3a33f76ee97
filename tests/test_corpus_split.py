"""Reading a real corpus: every bad-row class, drops, shards, aliases, reruns."""

from __future__ import annotations

import itertools
import json
import os
import re

import pytest
from workflow_runs import phase_a

from vmaf_predictor import corpus, corpus_rows, corpus_split


def write(path, *lines) -> str:
    text = "".join(
        (line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines
    )
    path.write_text(text)
    return str(path)


@pytest.fixture
def split(codecs, tmp_path):
    def run(source, **options):
        return corpus_split.split(source, codecs, tmp_path / "split", **options)

    return run


GOOD = [phase_a(crf=c) for c in (20, 25, 30)]


def test_rows_of_a_codec_become_its_canonical_table(split, tmp_path):
    report = split(write(tmp_path / "c.jsonl", *GOOD))
    table = report.table("libx264", tmp_path / "split")
    rows = corpus.read_split_table(table)
    assert [r["crf"] for r in rows] == [20, 25, 30]
    assert report.codecs["libx264"].rows == 3 and not report.codecs["libx264"].probe


def test_a_codec_with_one_row_keeps_its_stub(split, tmp_path):
    report = split(write(tmp_path / "c.jsonl", phase_a(encoder="av1_qsv", crf=30)))
    assert report.codecs["av1_qsv"].rows == 1
    assert report.table("av1_qsv", tmp_path / "split") is None


def test_aliases_are_read_and_canonical_keys_win(split, tmp_path):
    alias = {
        "codec": "libx264",
        "q": 22,
        "vmaf": 93.0,
        "actual_kbps": 5000.0,
        "framerate": 24,
        "duration_s": 4,
        "width": 1280,
        "height": 720,
    }
    both = {**phase_a(crf=30, vmaf_score=80.0), "q": 99, "vmaf": 1.0}
    report = split(write(tmp_path / "c.jsonl", alias, both))
    rows = corpus.read_split_table(report.table("libx264", tmp_path / "split"))
    assert [(r["crf"], r["vmaf"]) for r in rows] == [(22, 93.0), (30, 80.0)]


def test_rows_with_probe_statistics_use_them(split, tmp_path):
    probe = {name: 2.5 for name in corpus_rows.PROBE_FEATURES}
    report = split(
        write(tmp_path / "c.jsonl", *[phase_a(crf=c, **probe) for c in (20, 30)])
    )
    rows = corpus.read_split_table(report.table("libx264", tmp_path / "split"))
    assert report.codecs["libx264"].probe and rows[0]["saliency_mean"] == 2.5


def test_well_formed_rows_that_are_not_training_data_are_dropped_and_counted(
    split, tmp_path
):
    source = write(
        tmp_path / "c.jsonl",
        *GOOD,
        phase_a(exit_status=1),
        phase_a(vmaf_score=None),
        '{"encoder": "libx264", "crf": 23, "vmaf_score": NaN}',
        phase_a(encoder="libvpx-vp9"),
        phase_a(encoder="libvpx-vp9"),
    )
    report = split(source)
    assert report.kept == 3 and report.rows_read == 8
    assert report.dropped == {
        "encoder not one of the codecs": 2,
        "exit_status not 0": 1,
        "score null or not finite": 2,
    }
    assert report.unknown_encoders == {"libvpx-vp9": 2}


BAD_LINES = [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"crf": 23, "vmaf_score": 90}', "missing key encoder / codec"),
    ('{"encoder": "libx264", "vmaf_score": 90}', "missing key crf / q / cq"),
    ('{"encoder": "libx264", "crf": 23}', "missing key vmaf_score / vmaf"),
    (json.dumps(phase_a(crf="23")), 'crf must be a number, got "23"'),
    (json.dumps(phase_a(vmaf_score=True)), "vmaf_score must be a number, got true"),
    (json.dumps(phase_a(vmaf_score=100.5)), "vmaf_score 100.5 is outside [0, 100]"),
    (json.dumps(phase_a(crf=52)), "crf 52 is outside libx264's range [0, 51]"),
    (json.dumps(phase_a(bitrate_kbps=-1)), "bitrate_kbps must be finite and not"),
    ('{"encoder": "libx264", "crf": 23, "vmaf_score": 90, "bitrate_kbps": Infinity}',
     "bitrate_kbps must be finite"),
    (json.dumps(phase_a(encode_size_bytes=-5)), "encode_size_bytes must be finite"),
    (json.dumps(phase_a(framerate=...)),
     "missing key framerate"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "reason"), BAD_LINES)
def test_strict_mode_stops_naming_file_line_and_reason(split, tmp_path, line, reason):
    source = write(tmp_path / "c.jsonl", *GOOD, line)
    with pytest.raises(corpus_split.CorpusError) as caught:
        split(source)
    assert f"{source}:4: " in str(caught.value)
    assert reason in str(caught.value)
    assert "1 bad row(s)" in str(caught.value)


@pytest.mark.parametrize(("line", "reason"), BAD_LINES)
def test_skip_mode_drops_a_bad_row_and_lists_it(split, tmp_path, line, reason):
    source = write(tmp_path / "c.jsonl", *GOOD, line)
    report = split(source, bad_rows="skip")
    assert report.kept == 3 and report.bad_total == 1
    assert (
        report.bad_rows[0].startswith(f"{source}:4: ") and reason in report.bad_rows[0]
    )


def test_a_line_that_is_not_utf8_is_a_bad_row(split, tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(json.dumps(GOOD[0]).encode() + b"\n" + b'{"encoder": "x\xff"}\n')
    with pytest.raises(
        corpus_split.CorpusError, match=re.escape(f"{path}:2: not UTF-8")
    ):
        split(str(path))


def test_a_truncated_last_line_is_named_as_such(split, tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(GOOD[0]) + "\n" + json.dumps(GOOD[1])[:40])
    with pytest.raises(corpus_split.CorpusError, match="2: truncated last line"):
        split(str(path))


def test_a_huge_line_is_a_bad_row_and_never_read_whole(split, tmp_path):
    path = tmp_path / "c.jsonl"
    with open(path, "w") as handle:
        handle.write(json.dumps(GOOD[0]) + "\n")
        handle.write('{"junk": "' + "x" * (8 << 20) + '"}\n')
        handle.write(json.dumps(GOOD[1]) + "\n")
    report = split(str(path), bad_rows="skip", max_line_bytes=4096)
    assert report.kept == 2
    assert report.bad_rows == [f"{path}:2: line is longer than 4096 bytes"]


def test_strict_mode_shows_the_first_20_bad_rows_and_the_total(split, tmp_path):
    source = write(tmp_path / "c.jsonl", *["{oops"] * 25)
    with pytest.raises(corpus_split.CorpusError) as caught:
        split(source)
    message = str(caught.value)
    assert "25 bad row(s)" in message and "... and 5 more" in message
    assert f"{source}:20: " in message and f"{source}:21: " not in message


def test_shards_are_read_recursively_in_sorted_order(split, tmp_path):
    shards = tmp_path / "shards"
    (shards / "b").mkdir(parents=True)
    write(shards / "b" / "1.jsonl", phase_a(crf=31))
    write(shards / "a.jsonl", phase_a(crf=11))
    write(shards / "b" / "0.jsonl", phase_a(crf=21))
    write(shards / "notes.txt", "not a shard")
    report = split(str(shards))
    rows = corpus.read_split_table(report.table("libx264", tmp_path / "split"))
    assert [r["crf"] for r in rows] == [11, 21, 31]
    assert [os.path.relpath(f, shards) for f in report.files] == [
        "a.jsonl",
        "b/0.jsonl",
        "b/1.jsonl",
    ]


def test_an_unchanged_table_keeps_its_mtime_when_the_corpus_is_rewritten(
    split, tmp_path
):
    source = tmp_path / "c.jsonl"
    write(source, *GOOD, phase_a(encoder="av1_qsv", crf=20), phase_a(encoder="av1_qsv"))
    split(str(source))
    x264 = tmp_path / "split" / "libx264.npy"
    qsv = tmp_path / "split" / "av1_qsv.npy"
    os.utime(x264, ns=(1, 1))
    os.utime(qsv, ns=(1, 1))
    write(
        source,
        *GOOD,
        phase_a(encoder="av1_qsv", crf=20),
        phase_a(encoder="av1_qsv", crf=40),
    )
    split(str(source))
    assert x264.stat().st_mtime_ns == 1  # same rows: untouched
    assert qsv.stat().st_mtime_ns != 1  # edited rows: rewritten


def test_an_unchanged_corpus_is_not_read_again(split, tmp_path):
    source = write(tmp_path / "c.jsonl", *GOOD)
    first = split(source)
    manifest = tmp_path / "split" / corpus_split.MANIFEST
    os.utime(manifest, ns=(1, 1))
    assert split(source) == first
    assert manifest.stat().st_mtime_ns == 1


def test_the_report_lists_counts_and_digests(split, tmp_path):
    report = split(write(tmp_path / "c.jsonl", *GOOD, "{bad"), bad_rows="skip")
    corpus_split.write_report(report, tmp_path / "r.json", tmp_path / "r.md")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["kept"] == 3 and data["bad_total"] == 1 and data["digest"]
    text = (tmp_path / "r.md").read_text()
    assert "| libx264 | 3 | stand-in |" in text and "## Bad rows" in text


def _mixed_shards(directory):
    """Two shards of good, dropped and bad rows for several codecs."""
    rows = []
    for i in range(60):
        encoder = ("libx264", "av1_qsv", "libvpx-vp9")[i % 3]
        rows.append(phase_a(encoder=encoder, crf=20 + i % 20, vmaf_score=50 + i / 2))
        if i % 7 == 0:
            rows.append("{bad json")
        if i % 11 == 0:
            rows.append(phase_a(exit_status=1))
    directory.mkdir()
    write(directory / "a.jsonl", *rows[:40])
    write(directory / "b.jsonl", *rows[40:], "")
    return str(directory)


def test_a_chunked_split_by_worker_processes_equals_one_pass(
    codecs, tmp_path, monkeypatch
):
    source = _mixed_shards(tmp_path / "shards")
    one = corpus_split.split(source, codecs, tmp_path / "one", bad_rows="skip")
    monkeypatch.setattr(corpus_split, "CHUNK_BYTES", 700)  # many chunks per file
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    chunked = corpus_split.split(source, codecs, tmp_path / "chunked", bad_rows="skip")
    assert len(list(corpus_split.chunks_of([tmp_path / "shards" / "a.jsonl"], 700))) > 3
    assert (chunked.rows_read, chunked.kept, chunked.dropped, chunked.bad_rows) == (
        one.rows_read,
        one.kept,
        one.dropped,
        one.bad_rows,
    )
    assert chunked.codecs == one.codecs and chunked.digest == one.digest
    for codec in one.codecs:
        assert (tmp_path / "chunked" / f"{codec}.npy").read_bytes() == (
            tmp_path / "one" / f"{codec}.npy"
        ).read_bytes()
    assert not (tmp_path / "chunked" / ".chunks").exists()


def test_chunks_start_at_line_starts_and_cover_the_file(tmp_path):
    path = tmp_path / "c.jsonl"
    write(path, *[phase_a(crf=c) for c in range(10, 50)])
    data = path.read_bytes()
    chunks = list(corpus_split.chunks_of([path], 500))
    assert chunks[0].start == 0 and chunks[-1].end == len(data)
    for before, after in itertools.pairwise(chunks):
        assert (
            before.end == after.start and data[after.start - 1 : after.start] == b"\n"
        )


def test_an_unchanged_report_is_not_rewritten(split, tmp_path):
    report = split(write(tmp_path / "c.jsonl", *GOOD))
    paths = (tmp_path / "r.json", tmp_path / "r.md")
    corpus_split.write_report(report, *paths)
    for path in paths:
        os.utime(path, ns=(1, 1))
    corpus_split.write_report(report, *paths)
    assert [path.stat().st_mtime_ns for path in paths] == [1, 1]
