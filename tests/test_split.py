"""Reading a corpus and the split: every kind of line and its outcome, pyarrow
reading each as json does, the rules' order, file:line numbering,
content-addressed tables and the report."""

from __future__ import annotations

import hashlib
import json
import os
import random
import struct
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import markdown
import numpy as np
import pyarrow.parquet as pq
import pytest
from workflow_runs import phase_a

from vmaf_predictor.factory import s1_split, s2_corpus
from vmaf_predictor.factory.s2_corpus import COLUMNS
from vmaf_predictor.runtime import corpus as reading
from vmaf_predictor.runtime import jsonl as decoder
from vmaf_predictor.runtime.features import (
    FEATURE_NAMES,
    round_decimal,
    standin_columns,
)

MAX_LINE = 4096
PROBE = {name: 2.5 for name in FEATURE_NAMES[1:]} | {"fps": 30.0}
ALIASES = {"encoder": ..., "crf": ..., "vmaf_score": ..., "bitrate_kbps": ...}
# Keys the rules never read, nested, with the rules' key names inside.
META = {"meta": {"crf": 99, "notes": ["q", {"vmaf": 1}]}}


def line(row: dict) -> bytes:
    return json.dumps(row | META).encode()


def raw(key: str, json_value: bytes) -> bytes:
    """A stand-in row whose ``key`` holds ``json_value`` verbatim."""
    return line(phase_a(**{key: "RAW"})).replace(b'"RAW"', json_value)


def kept(codec: str = "libx264", probe: bool = False) -> tuple:
    return ("kept", codec, probe)


def dropped(reason: str) -> tuple:
    return ("dropped", reason)


def unknown(encoder: str) -> tuple:
    return ("dropped", "encoder not one of the codecs", encoder)


# One line of each kind the rules tell apart, and what becomes of it: kept
# (codec, probe features), dropped (why), a bad row (its reason), or no row.
LINES: dict[str, tuple[bytes, object]] = {
    "stand-in row": (line(phase_a()), kept()),
    "probe row": (line(phase_a(**PROBE)), kept(probe=True)),
    "probe row with a null statistic": (
        line(phase_a(**PROBE | {"y_var": None})),
        "y_var must be a number, got null",
    ),
    "probe row missing one statistic": (
        line(phase_a(**PROBE | {"y_var": ...})),
        kept(),
    ),
    "aliases only": (
        line(phase_a(**ALIASES, codec="libx265", q=30, vmaf=80.0, actual_kbps=900.5)),
        kept("libx265"),
    ),
    "canonical and alias": (line(phase_a(q=40, vmaf=1.0, codec="libx265")), kept()),
    "null canonical beside an alias": (
        line(phase_a(crf=None, q=30)),
        "crf must be a number, got null",
    ),
    "failed encode": (
        line(phase_a(exit_status=1, vmaf_score=None)),
        dropped("exit_status not 0"),
    ),
    "exit status false": (line(phase_a(exit_status=False)), kept()),
    "exit status string": (
        line(phase_a(exit_status="0")),
        dropped("exit_status not 0"),
    ),
    "exit status null": (line(phase_a(exit_status=None)), dropped("exit_status not 0")),
    "exit status 0.0": (line(phase_a(exit_status=0.0)), kept()),
    "exit status huge": (
        line(phase_a(exit_status=10**30)),
        dropped("exit_status not 0"),
    ),
    "exit status beyond float range": (
        line(phase_a(exit_status=10**400)),
        dropped("exit_status not 0"),
    ),
    "failed encode with a bad crf": (
        line(phase_a(exit_status=2, crf=999)),
        dropped("exit_status not 0"),
    ),
    "null score": (line(phase_a(vmaf_score=None)), dropped("score null or not finite")),
    "failed encode with a null crf": (
        line(phase_a(exit_status=1, crf=None)),
        dropped("exit_status not 0"),
    ),
    "failed encode with a null encoder": (
        line(phase_a(exit_status=1, encoder=None)),
        "encoder must be a string, got null",
    ),
    "failed encode without a crf": (
        line(phase_a(exit_status=1, crf=...)),
        "missing key crf / q / cq",
    ),
    "null score and null crf": (
        line(phase_a(vmaf_score=None, crf=None)),
        dropped("score null or not finite"),
    ),
    "null score and negative bitrate": (
        line(phase_a(vmaf_score=None, bitrate_kbps=-1)),
        dropped("score null or not finite"),
    ),
    "null alias quality, no canonical": (
        line(phase_a(crf=..., q=None)),
        "crf must be a number, got null",
    ),
    "null alias beside a canonical": (line(phase_a(q=None, actual_kbps=None)), kept()),
    "unknown encoder with nulls": (
        line(phase_a(encoder="x", crf=None, width=None)),
        unknown("x"),
    ),
    "null statistic in a stand-in row": (line(phase_a(y_var=None, fps=None)), kept()),
    "null exit status and score": (
        line(phase_a(exit_status=None, vmaf_score=None)),
        dropped("exit_status not 0"),
    ),
    "infinite score": (
        raw("vmaf_score", b"1e999"),
        dropped("score null or not finite"),
    ),
    "NaN score": (raw("vmaf_score", b"NaN"), dropped("score null or not finite")),
    "unknown encoder": (line(phase_a(encoder="libvpx-vp9")), unknown("libvpx-vp9")),
    "null encoder": (line(phase_a(encoder=None)), "encoder must be a string, got null"),
    "number encoder": (line(phase_a(encoder=5)), "encoder must be a string, got 5"),
    "no encoder": (line(phase_a(encoder=...)), "missing key encoder / codec"),
    "escaped encoder": (raw("encoder", rb'"libx\u0032\u0036\u0034"'), kept()),
    "crf as a string": (line(phase_a(crf="23")), 'crf must be a number, got "23"'),
    "crf as a bool": (line(phase_a(crf=True)), "crf must be a number, got true"),
    "crf out of range": (
        line(phase_a(crf=99)),
        "crf 99 is outside libx264's range [0, 51]",
    ),
    "crf huge int": (
        line(phase_a(crf=10**30)),
        "crf 1e+30 is outside libx264's range [0, 51]",
    ),
    "no crf": (line(phase_a(crf=...)), "missing key crf / q / cq"),
    "score above 100": (
        line(phase_a(vmaf_score=100.5)),
        "vmaf_score 100.5 is outside [0, 100]",
    ),
    "negative score": (
        line(phase_a(vmaf_score=-1)),
        "vmaf_score -1 is outside [0, 100]",
    ),
    "no score": (line(phase_a(vmaf_score=...)), "missing key vmaf_score / vmaf"),
    "negative bitrate": (
        line(phase_a(bitrate_kbps=-5)),
        "bitrate_kbps must be finite and positive, got -5",
    ),
    "zero bitrate": (
        line(phase_a(bitrate_kbps=0)),
        "bitrate_kbps must be finite and positive, got 0",
    ),
    "huge bitrate": (line(phase_a(bitrate_kbps=10**30)), kept()),
    "null size": (
        line(phase_a(encode_size_bytes=None)),
        "encode_size_bytes must be a number, got null",
    ),
    "zero width": (
        line(phase_a(width=0)),
        "width must be finite and positive, got 0",
    ),
    "fractional width": (line(phase_a(width=1920.7)), kept()),
    "zero frame rate": (
        line(phase_a(framerate=0)),
        "framerate, width and height must be positive",
    ),
    "no duration": (line(phase_a(duration_s=...)), "missing key duration_s"),
    "no frame rate": (line(phase_a(framerate=...)), "missing key framerate"),
    "infinite bitrate": (
        raw("bitrate_kbps", b"Infinity"),
        "bitrate_kbps must be finite and positive, got inf",
    ),
    "infinite duration": (
        raw("duration_s", b"1e999"),
        "duration_s must be finite, got inf",
    ),
    "negative zero": (line(phase_a(crf=-0.0)), kept()),
    "tie-rounding values": (
        line(phase_a(bitrate_kbps=2.0005, duration_s=0.05)),
        kept(),
    ),
    "duplicate key": (line(phase_a())[:-1] + b', "crf": 31}', kept()),
    "blank": (b"", None),
    "whitespace": (b" \t ", None),
    "carriage return": (line(phase_a()) + b"\r", kept()),
    "form feed": (b"\x0c", None),
    "array": (b"[1, 2]", "not a JSON object"),
    "number": (b"5", "not a JSON object"),
    "empty object": (b"{}", "missing key encoder / codec"),
    "two objects": (
        line(phase_a()) + b" " + line(phase_a()),
        "not valid JSON (Extra data, column 267)",
    ),
    "half an object": (
        b'{"encoder": "libx264",',
        "not valid JSON (Expecting property name enclosed in double quotes, column 23)",
    ),
    "other half": (b'"crf": 23}', "not valid JSON (Extra data, column 6)"),
    "not UTF-8 in an ignored string": (raw("src", b'"\xff"'), "not UTF-8 (byte 225)"),
    "not UTF-8 in the encoder": (raw("encoder", b'"libx\xff"'), "not UTF-8 (byte 39)"),
    "lone surrogate": (line(phase_a(src="\ud800")), kept()),
    "byte order mark": (
        b"\xef\xbb\xbf" + line(phase_a()),
        "not valid JSON (Unexpected UTF-8 BOM (decode using utf-8-sig), column 1)",
    ),
    "overlong": (
        line(phase_a(src="x" * MAX_LINE)),
        f"line is longer than {MAX_LINE} bytes",
    ),
}
# Lines pyarrow alone would read otherwise than json (more leniently).
LENIENT: dict[str, bytes] = {
    "-NaN": raw("vmaf_score", b"-NaN"),
    "Inf": raw("vmaf_score", b"Inf"),
    "-Inf in an ignored key": raw("notes", b"-Inf"),
    "Infinity": raw("bitrate_kbps", b"-Infinity"),
    "null in an ignored key": line(phase_a(notes=None)),
    "escaped key holding null": (
        line(phase_a(framerate=...))[:-1] + b', "fr\\u0061merate": null}'
    ),
    "escaped duplicate key": line(phase_a())[:-1] + b', "cr\\u0066": 30}',
    "-0 crf": raw("crf", b"-0"),
    "1.8e308 crf": raw("crf", b"1.8e308"),
    "true exit status": raw("exit_status", b"true"),
    "leading space": b" " + line(phase_a()),
    "carriage return inside": line(phase_a()) + b"\r" + line(phase_a()),
    "object running on": b'{"encoder": "libx264", "meta":',
    "object going on": b'{"a": 1}, "crf": 23, "vmaf_score": 90}',
    "nested in a read key": raw("crf", b'{"a": 1}'),
    "control character in a string": raw("src", b'"a\x01b"'),
    "surrogate pair": raw("encoder", b'"\\ud83d\\ude00"'),
    "markup in the encoder": line(phase_a(encoder="<img src=x onerror=alert(1)>|x")),
    "escaped probe key": line(phase_a(**PROBE)).replace(
        b'"probe_bitrate_kbps"', b'"probe_bitr\\u0061te_kbps"'
    ),
}


@pytest.fixture
def split(codecs, tmp_path):
    def run(source, **options):
        options.setdefault("max_line_bytes", MAX_LINE)
        return s1_split.split(source, codecs, tmp_path / "split", **options)

    return run


def write(path: Path, *lines: bytes | str | dict) -> str:
    """``lines`` (bytes, text or rows) as a JSONL file, each ended by \\n."""
    data = b"".join(
        (
            x
            if isinstance(x, bytes)
            else (x if isinstance(x, str) else json.dumps(x)).encode()
        )
        + b"\n"
        for x in lines
    )
    path.write_bytes(data)
    return str(path)


def table(report, codec: str, tmp_path: Path) -> dict[str, np.ndarray]:
    return s2_corpus.read_table(tmp_path / "split" / report.codecs[codec].table)


def outcome(report) -> object:
    """What became of the one kind of line a corpus holds (twice)."""
    if report.rows_read == 0:
        return None
    if report.bad_rows:
        return report.bad_rows[0].split(": ", 1)[1]
    if report.unknown_encoders:
        ((encoder, _),) = report.unknown_encoders.items()
        return unknown(encoder)
    if report.dropped:
        ((reason, _),) = report.dropped.items()
        return dropped(reason)
    ((codec, entry),) = report.codecs.items()
    return kept(codec, entry.probe)


@pytest.mark.parametrize("kind", LINES)
def test_each_kind_of_line_has_its_outcome(kind, split, tmp_path):
    text, expected = LINES[kind]
    report = split(write(tmp_path / "c.jsonl", text, text), bad_rows="skip")
    assert outcome(report) == expected


def plain(chunk: reading.Chunk) -> tuple:
    """A decided chunk as comparable values (floats by their bytes)."""
    tables = {
        codec: ([v.astype("<f8").tobytes() for v in values], src.to_pylist(), probe)
        for codec, (values, src, probe) in chunk.kept.items()
    }
    counts = (dict(chunk.dropped), dict(chunk.unknown))
    return chunk.lines, chunk.rows, counts, chunk.bad, tables


def as_read_and_by_json(codecs, data: bytes, monkeypatch) -> tuple:
    """A chunk decided as it is read, then with every line read by json."""
    as_read = plain(reading.decide(reading.decode(data, MAX_LINE), codecs))
    rows = decoder._rows
    with monkeypatch.context() as patch:
        patch.setattr(
            decoder, "_rows", lambda d, s, e, p, *a: rows(d, s, e, p & False, *a)
        )
        by_json = plain(reading.decide(reading.decode(data, MAX_LINE), codecs))
    return as_read, by_json


@pytest.mark.parametrize("kind", [*LINES, *LENIENT])
def test_pyarrow_reads_each_kind_of_line_as_json_does(kind, codecs, monkeypatch):
    text = LINES[kind][0] if kind in LINES else LENIENT[kind]
    good = line(phase_a())
    for data in (
        b"\n".join([good, text, good, text, good]) + b"\n",
        b"\n".join([good, text, good]),  # the kind last, without its newline
        b"\n".join([good, b"", text, good + b" " + good]) + b"\n",  # rows == lines
    ):
        as_read, by_json = as_read_and_by_json(codecs, data, monkeypatch)
        assert as_read == by_json


def test_an_object_running_over_a_newline_is_two_bad_lines(codecs, monkeypatch):
    # Two lines pyarrow would read as one object, and a line it would read as
    # two: as many rows as lines, all of them wrong.
    running_on, going_on = LENIENT["object running on"], LENIENT["object going on"]
    two = line(phase_a()) + b" " + line(phase_a())
    data = b"\n".join([line(phase_a()), running_on, going_on, two]) + b"\n"
    as_read, by_json = as_read_and_by_json(codecs, data, monkeypatch)
    assert as_read == by_json and len(as_read[3]) == 3


def random_corpus(codecs, rows: int, seed: int) -> bytes:
    """Mostly good rows of every codec (some with probe statistics), with
    every kind of line mixed in."""
    rng = random.Random(seed)
    kinds = [text for text, _ in LINES.values()] + list(LENIENT.values())
    mixed = []
    for _ in range(rows):
        if rng.random() < 0.9:
            row = phase_a(
                encoder=rng.choice([*codecs, "libvpx-vp9"]),
                crf=rng.randint(0, 51),
                vmaf_score=round(rng.uniform(0, 100), 4)
                if rng.random() > 0.02
                else None,
                bitrate_kbps=round(rng.uniform(0, 40000), 3),
                framerate=rng.choice([23.976, 24, 25, 30, 59.94]),
                duration_s=round(rng.uniform(0.1, 20), 3),
                width=rng.choice([640, 1280, 1920, 3840]),
                height=rng.choice([360, 720, 1080, 2160]),
                src=f"clip{rng.randint(0, 20)}",
            )
            mixed.append(line(row | PROBE) if rng.random() < 0.2 else line(row))
        else:
            mixed.append(rng.choice(kinds))
    return b"\n".join(mixed) + b"\n"


@pytest.mark.parametrize("seed", [1, 2])
def test_pyarrow_reads_a_random_mix_as_json_does(seed, codecs, monkeypatch):
    data = random_corpus(codecs, 2000, seed)
    as_read, by_json = as_read_and_by_json(codecs, data, monkeypatch)
    assert as_read == by_json
    assert sum(len(src) for _, src, _ in as_read[4].values()) > 1000


def test_only_lines_pyarrow_may_misread_are_read_by_json(codecs, monkeypatch):
    read_by_json = []

    def spy(text, *args):
        read_by_json.append(text)
        return exact(text, *args)

    exact = decoder._exact
    monkeypatch.setattr(decoder, "_exact", spy)
    rows = [line(phase_a(crf=c, notes=None)) for c in range(10, 40)]  # null, not read
    rows[3] = line(phase_a(vmaf_score=None))
    rows[7] = raw("vmaf_score", b"NaN")
    data = b"\n".join(rows) + b"\n"
    chunk = reading.decide(reading.decode(data, MAX_LINE), codecs)
    assert read_by_json == [rows[3], rows[7]]
    assert chunk.dropped == {"score null or not finite": 2}


def test_a_split_does_not_depend_on_chunk_size_or_threads(
    codecs, tmp_path, monkeypatch
):
    corpus = tmp_path / "c.jsonl"
    corpus.write_bytes(random_corpus(codecs, 3000, 3))
    one = s1_split.split(corpus, codecs, tmp_path / "one", "skip", MAX_LINE, threads=1)
    monkeypatch.setattr(reading, "CHUNK_BYTES", 5000)  # many chunks, some by line
    monkeypatch.setattr(s1_split, "ROW_GROUP_ROWS", 100)
    many = s1_split.split(
        corpus, codecs, tmp_path / "many", "skip", MAX_LINE, threads=3
    )
    assert asdict(one) == asdict(many)
    for entry in one.codecs.values():
        first, second = tmp_path / "one" / entry.table, tmp_path / "many" / entry.table
        assert pq.read_table(first).equals(pq.read_table(second))


def test_parquet_row_groups_do_not_depend_on_chunks(codecs, tmp_path, monkeypatch):
    corpus = tmp_path / "c.jsonl"
    corpus.write_bytes(random_corpus(codecs, 3000, 4))
    monkeypatch.setattr(s1_split, "ROW_GROUP_ROWS", 64)
    one = s1_split.split(corpus, codecs, tmp_path / "one", "skip", MAX_LINE)
    monkeypatch.setattr(reading, "CHUNK_BYTES", 3000)
    s1_split.split(corpus, codecs, tmp_path / "many", "skip", MAX_LINE)
    for entry in one.codecs.values():
        first = (tmp_path / "one" / entry.table).read_bytes()
        assert first == (tmp_path / "many" / entry.table).read_bytes()
        groups = pq.ParquetFile(tmp_path / "one" / entry.table).metadata
        sizes = [groups.row_group(i).num_rows for i in range(groups.num_row_groups)]
        assert set(sizes[:-1]) <= {64} and sizes[-1] <= 64


def test_chunks_are_whole_lines_that_cover_the_file(tmp_path, monkeypatch):
    path = tmp_path / "c.jsonl"
    write(path, *[phase_a(crf=c) for c in range(10, 50)])
    monkeypatch.setattr(reading, "CHUNK_BYTES", 500)
    chunks = [reading.read_bytes(path, *b) for b in reading.chunks(path, 999)]
    assert len(chunks) > 5 and b"".join(chunks) == path.read_bytes()
    assert all(chunk.endswith(b"\n") for chunk in chunks)


# What the split keeps, and how --------------------------------------------


GOOD = [phase_a(crf=c) for c in (20, 25, 30)]


def test_rows_of_a_codec_become_its_table(split, tmp_path):
    report = split(write(tmp_path / "c.jsonl", *GOOD))
    rows = table(report, "libx264", tmp_path)
    assert list(rows) == [*COLUMNS, "src"]
    assert rows["crf"].tolist() == [20, 25, 30]
    assert report.codecs["libx264"].rows == 3 and not report.codecs["libx264"].probe


def test_the_table_is_float64_features_then_the_target_then_src(split, tmp_path):
    rows = [phase_a(src="a.y4m"), phase_a(src_sha256="cafe"), phase_a()]
    report = split(write(tmp_path / "c.jsonl", *rows))
    frame = table(report, "libx264", tmp_path)
    assert list(frame) == [*FEATURE_NAMES, "vmaf", "src"]
    assert all(frame[c].dtype == np.float64 for c in COLUMNS)
    assert frame["src"].tolist() == ["a.y4m", "cafe", ""]


def test_the_digest_is_the_documented_hash_of_the_columns(split, tmp_path):
    report = split(write(tmp_path / "c.jsonl", *GOOD, phase_a(src="é.y4m")))
    entry = report.codecs["libx264"]
    frame = table(report, "libx264", tmp_path)
    lines = [
        f"{n} {hashlib.sha256(np.asarray(frame[n], '<f8').tobytes()).hexdigest()}\n"
        for n in COLUMNS
    ]
    src = b"".join(s.encode() + b"\xff" for s in frame["src"])
    lines.append(f"src {hashlib.sha256(src).hexdigest()}\n")
    assert entry.sha256 == hashlib.sha256("".join(lines).encode()).hexdigest()
    assert entry.table == f"libx264.{entry.sha256[:16]}.parquet"


def test_a_codec_with_one_row_keeps_its_stub(split, tmp_path):
    report = split(write(tmp_path / "c.jsonl", phase_a(encoder="av1_qsv", crf=30)))
    assert report.kept == 1 and "av1_qsv" not in report.codecs
    assert "av1_qsv" in report.stubs
    assert not list((tmp_path / "split").glob("av1_qsv*"))


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
    rows = table(split(write(tmp_path / "c.jsonl", alias, both)), "libx264", tmp_path)
    assert [rows["crf"].tolist(), rows["vmaf"].tolist()] == [[22, 30], [93.0, 80.0]]
    assert rows["probe_bitrate_kbps"].tolist() == [5000.0, 4200.0]


def test_rows_with_probe_statistics_use_them(split, tmp_path):
    rows = [phase_a(crf=c, **PROBE | {"width": 1280.5}) for c in (20, 30)]
    report = split(write(tmp_path / "c.jsonl", *rows))
    frame = table(report, "libx264", tmp_path)
    assert report.codecs["libx264"].probe
    assert frame["saliency_mean"].tolist() == [2.5, 2.5]
    assert frame["width"].tolist() == [1280.5, 1280.5]  # as probed, not truncated


def test_rows_without_probe_statistics_get_the_stand_ins(split, tmp_path):
    rows = [phase_a(crf=20, width=1920.7), phase_a(crf=30)]
    frame = table(split(write(tmp_path / "c.jsonl", *rows)), "libx264", tmp_path)
    inputs = [
        np.array([float(r[k]) for r in rows])
        for k in ("crf", "bitrate_kbps", "framerate", "duration_s", "width", "height")
    ]
    expected = standin_columns(*inputs)
    assert np.column_stack([frame[n] for n in FEATURE_NAMES]).tolist() == (
        np.column_stack([expected[n] for n in FEATURE_NAMES]).tolist()
    )


def test_a_duplicate_key_takes_its_last_value(split, tmp_path):
    text = line(phase_a())[:-1] + b', "crf": 31}'
    frame = table(split(write(tmp_path / "c.jsonl", text, text)), "libx264", tmp_path)
    assert frame["crf"].tolist() == [31, 31]


def test_negative_zero_is_stored_as_zero(split, tmp_path):
    rows = [raw("crf", b"-0"), raw("crf", b"-0.0")]
    frame = table(split(write(tmp_path / "c.jsonl", *rows)), "libx264", tmp_path)
    assert frame["crf"].tolist() == [0.0, 0.0]
    assert not np.signbit(frame["crf"]).any()


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


def test_strict_mode_stops_naming_file_line_and_reason(split, tmp_path):
    source = write(tmp_path / "c.jsonl", *GOOD, phase_a(crf="23"))
    with pytest.raises(s1_split.CorpusError) as caught:
        split(source)
    assert f"1 bad row(s), nothing was trained:\n  {source}:4: " in str(caught.value)
    assert 'crf must be a number, got "23"' in str(caught.value)


def test_skip_mode_drops_a_bad_row_and_lists_it(split, tmp_path):
    source = write(tmp_path / "c.jsonl", *GOOD, phase_a(crf="23"))
    report = split(source, bad_rows="skip")
    assert report.kept == 3 and report.bad_total == 1
    assert report.bad_rows == [f'{source}:4: crf must be a number, got "23"']


SEVERAL_PROBLEMS = [
    (
        phase_a(crf="x", vmaf_score=101, bitrate_kbps=-1, framerate=...),
        "vmaf_score 101 is outside [0, 100]",
    ),
    (phase_a(crf="x", bitrate_kbps=-1, framerate=...), 'crf must be a number, got "x"'),
    (
        phase_a(width=-1, bitrate_kbps="1", framerate=...),
        'bitrate_kbps must be a number, got "1"',
    ),
    (
        phase_a(**PROBE | {"y_var": "x", "saliency_var": None, "framerate": 0}),
        "saliency_var must be a number, got null",
    ),
    (
        phase_a(width=0, framerate=..., duration_s=None),
        "width must be finite and positive, got 0",
    ),
]


@pytest.mark.parametrize(("row", "reason"), SEVERAL_PROBLEMS)
def test_the_first_broken_rule_names_a_row_with_several_problems(
    split, tmp_path, row, reason
):
    report = split(write(tmp_path / "c.jsonl", row), bad_rows="skip")
    assert report.bad_rows[0].endswith(f": {reason}")


def test_strict_mode_installs_no_table_and_leaves_no_partial_file(split, tmp_path):
    split(write(tmp_path / "c.jsonl", *GOOD))
    before = sorted(p.name for p in (tmp_path / "split").iterdir())
    with pytest.raises(s1_split.CorpusError):
        split(write(tmp_path / "c.jsonl", phase_a(crf=11), phase_a(crf=12), "{oops"))
    assert sorted(p.name for p in (tmp_path / "split").iterdir()) == before


def test_a_truncated_last_line_is_named_as_such(split, tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(GOOD[0]) + "\n" + json.dumps(GOOD[1])[:40])
    with pytest.raises(s1_split.CorpusError, match="2: truncated last line"):
        split(str(path))


def test_a_complete_last_line_without_a_newline_is_a_row(split, tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(GOOD[0]) + "\n" + json.dumps(GOOD[1]))
    assert split(str(path)).kept == 2


@pytest.mark.parametrize("chunk_bytes", [1 << 20, 3000])
def test_a_huge_line_is_a_bad_row_and_never_read_whole(
    split, tmp_path, monkeypatch, chunk_bytes
):
    monkeypatch.setattr(reading, "CHUNK_BYTES", chunk_bytes)
    path = tmp_path / "c.jsonl"
    with open(path, "w") as handle:
        handle.write(json.dumps(GOOD[0]) + "\n")
        handle.write('{"junk": "' + "x" * (8 << 20) + '"}\n')
        handle.write(json.dumps(GOOD[1]) + "\n{oops\n")
    read, decode = [], reading.decode
    monkeypatch.setattr(
        reading, "decode", lambda data, m: read.append(len(data)) or decode(data, m)
    )
    report = split(str(path), bad_rows="skip")
    assert report.kept == 2 and max(read) <= chunk_bytes + MAX_LINE + 1
    assert report.bad_rows == [
        f"{path}:2: line is longer than {MAX_LINE} bytes",
        f"{path}:4: not valid JSON (Expecting property name enclosed in double "
        "quotes, column 2)",
    ]


def test_strict_mode_shows_the_first_20_bad_rows_and_the_total(split, tmp_path):
    source = write(tmp_path / "c.jsonl", *["{oops"] * 25)
    with pytest.raises(s1_split.CorpusError) as caught:
        split(source)
    message = str(caught.value)
    assert "25 bad row(s)" in message and "... and 5 more" in message
    assert f"{source}:20: " in message and f"{source}:21: " not in message


def test_line_numbers_count_per_file_across_shards_and_chunks(
    split, tmp_path, monkeypatch
):
    monkeypatch.setattr(reading, "CHUNK_BYTES", 600)
    shards = tmp_path / "shards"
    shards.mkdir()
    rows = [*[phase_a(crf=c) for c in range(10, 30)], "{oops", "", phase_a(crf=99)]
    first, second = write(shards / "a.jsonl", *rows), write(shards / "b.jsonl", *rows)
    report = split(str(shards), bad_rows="skip")
    reason = "crf 99 is outside libx264's range [0, 51]"
    assert [r.split(": ")[0] for r in report.bad_rows] == [
        f"{first}:21",
        f"{first}:23",
        f"{second}:21",
        f"{second}:23",
    ]
    assert report.bad_rows[1].endswith(reason)


def test_shards_are_read_recursively_in_sorted_order(split, tmp_path):
    shards = tmp_path / "shards"
    (shards / "b").mkdir(parents=True)
    write(shards / "b" / "1.jsonl", phase_a(crf=31))
    write(shards / "a.jsonl", phase_a(crf=11))
    write(shards / "b" / "0.jsonl", phase_a(crf=21))
    write(shards / "notes.txt", "not a shard")
    report = split(str(shards))
    assert table(report, "libx264", tmp_path)["crf"].tolist() == [11, 21, 31]
    relative = [os.path.relpath(f, shards) for f in report.files]
    assert relative == ["a.jsonl", "b/0.jsonl", "b/1.jsonl"]


def test_a_missing_corpus_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        s1_split.corpus_files(tmp_path / "nope.jsonl")
    with pytest.raises(FileNotFoundError, match="holds no"):
        s1_split.corpus_files(tmp_path)


# Content addressing ----------------------------------------------------------


def test_an_unchanged_table_keeps_its_file_and_mtime(split, tmp_path):
    source = tmp_path / "c.jsonl"
    write(source, *GOOD, phase_a(encoder="av1_qsv", crf=20), phase_a(encoder="av1_qsv"))
    first = split(str(source))
    x264 = tmp_path / "split" / first.codecs["libx264"].table
    os.utime(x264, ns=(1, 1))
    write(
        source,
        *GOOD,
        phase_a(encoder="av1_qsv", crf=20),
        phase_a(encoder="av1_qsv", crf=40),
    )
    second = split(str(source))
    assert second.codecs["libx264"] == first.codecs["libx264"]
    assert x264.stat().st_mtime_ns == 1  # same rows: untouched
    assert second.codecs["av1_qsv"].table != first.codecs["av1_qsv"].table
    tables = sorted(p.name for p in (tmp_path / "split").glob("*.parquet"))
    assert tables == sorted(e.table for e in second.codecs.values())  # old one gone


def test_the_manifest_lists_the_tables(split, tmp_path):
    report = split(write(tmp_path / "c.jsonl", *GOOD, phase_a(encoder="av1_qsv")))
    manifest = json.loads((tmp_path / "split" / s1_split.MANIFEST).read_text())
    assert manifest["codecs"] == {"libx264": asdict(report.codecs["libx264"])}
    assert manifest["digest"] == report.digest and "av1_qsv" in manifest["stubs"]
    digests = f"libx264 {report.codecs['libx264'].sha256}\n".encode()
    assert report.digest == hashlib.sha256(digests).hexdigest()


# The report and the stage ----------------------------------------------------


def test_the_report_lists_counts_and_digests(split, tmp_path):
    report = split(write(tmp_path / "c.jsonl", *GOOD, "{bad"), bad_rows="skip")
    s1_split.write_report(report, tmp_path / "r.json", tmp_path / "r.md")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["kept"] == 3 and data["bad_total"] == 1 and data["digest"]
    text = (tmp_path / "r.md").read_text()
    assert "| libx264 | 3 | stand-in |" in text and "## Bad rows" in text


def test_corpus_text_in_the_markdown_report_never_becomes_markup(split, tmp_path):
    evil = "<img src=x onerror=alert(1)>|[x](javascript:alert(1))*_"
    rows = [phase_a(encoder=evil), phase_a(encoder=evil, crf=...), *GOOD]
    shard = tmp_path / f"{evil.replace('/', '')}.jsonl"
    report = split(write(shard, *rows), bad_rows="skip")
    s1_split.write_report(report, tmp_path / "r.json", tmp_path / "r.md")
    page = markdown.markdown((tmp_path / "r.md").read_text(), extensions=["tables"])
    assert "<img" not in page and "<a " not in page and "<em>" not in page
    assert page.count("<td>") == 2 + 4  # the tables' cells: one drop, one codec
    assert "&#60;img src=x onerror=alert&#40;1&#41;&#62;&#124;" in page


def _run_stage(config, tmp_path: Path, source: str) -> tuple[SimpleNamespace, str]:
    """The split rule's stage on ``source`` (skip mode): its outputs, summary."""
    output = SimpleNamespace(
        manifest=tmp_path / "split" / "manifest.json",
        report_json=tmp_path / "r.json",
        report_md=tmp_path / "r.md",
    )
    params = SimpleNamespace(
        corpus=source, codecs=config["codecs"], bad_rows="skip", max_line_bytes=MAX_LINE
    )
    return output, s1_split.run(SimpleNamespace(corpus=[source]), output, params, None)


def test_the_stage_splits_writes_the_report_and_says_what_it_did(
    config, tmp_path, capsys
):
    source = write(tmp_path / "c.jsonl", *GOOD, "{bad")
    output, summary = _run_stage(config, tmp_path, source)
    assert summary.startswith(f"corpus {source}: 3 rows kept for 1 codecs (see ")
    assert "synthetic stub: libx265, libsvtav1" in summary
    assert summary.endswith(f"; 1 bad rows skipped (see {tmp_path / 'r.md'})")
    assert summary in capsys.readouterr().err
    assert output.manifest.is_file() and output.report_json.is_file()


@pytest.mark.parametrize(
    "lines",
    [[], [""], ["{bad", "not json"], [json.dumps(phase_a(encoder="x265-fork"))]],
    ids=["empty", "blank", "all bad", "nothing for a codec"],
)
def test_a_corpus_with_no_usable_rows_fails_the_stage(config, tmp_path, lines):
    source = write(tmp_path / "c.jsonl", *lines)
    with pytest.raises(s1_split.CorpusError, match=r"no usable rows .*to train"):
        _run_stage(config, tmp_path, source)


def test_importing_the_stage_loads_no_data_library():
    code = (
        "import sys, vmaf_predictor.factory.s1_split; "
        "print(sorted({'numpy', 'pyarrow', 'pandas', 'msgspec'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_the_runtime_reads_a_corpus_without_the_factory(tmp_path):
    source = write(tmp_path / "c.jsonl", *GOOD)
    code = (
        "import sys, yaml; sys.modules['vmaf_predictor.factory'] = None\n"
        "from vmaf_predictor.registry import registry_from_config\n"
        "from vmaf_predictor.runtime import corpus\n"
        "codecs = registry_from_config(yaml.safe_load(open('config.yaml')))\n"
        f"print(corpus.tables({source!r}, codecs)['libx264']['crf'].tolist())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.stdout.strip() == "[20.0, 25.0, 30.0]", result.stderr


# Where the rules had no answer before ----------------------------------------


def test_a_lone_surrogate_becomes_the_replacement_character(split, tmp_path):
    rows = [raw("encoder", b'"x\\ud800"'), raw("src", b'"a\\udfffb"'), *GOOD]
    report = split(write(tmp_path / "c.jsonl", *rows))
    assert report.unknown_encoders == {"x\ufffd": 1}
    assert table(report, "libx264", tmp_path)["src"].tolist()[0] == "a\ufffdb"


def test_an_integer_beyond_float_range_is_infinite(split, tmp_path):
    report = split(
        write(tmp_path / "c.jsonl", raw("crf", b"1" + b"0" * 400)), bad_rows="skip"
    )
    assert report.bad_rows[0].endswith(": crf inf is outside libx264's range [0, 51]")


@pytest.mark.parametrize("depth", [10, 1500])
def test_deep_nesting_in_an_ignored_key_is_read_as_pyarrow_reads_it(
    split, tmp_path, depth
):
    deep = line(phase_a())[:-1] + b', "deep": ' + b"[" * depth + b"]" * depth + b"}"
    report = split(write(tmp_path / "c.jsonl", deep, deep, b"{}"), bad_rows="skip")
    assert report.kept == 2 and len(report.bad_rows) == 1


# The rounding the split's stand-ins rely on (runtime.features) ---------------


def test_decimal_rounding_equals_pythons_round_on_ties_and_random_doubles():
    rng = random.Random(5)
    values = [0.5, 1.5, 2.5, 0.05, 0.15, 0.25, 2.675, 1.0005, -0.0, 1e300, 2.0**52]
    values += [rng.randint(0, 10**7) / 10 ** rng.randint(1, 6) for _ in range(20000)]
    values += [rng.uniform(-1e5, 1e5) for _ in range(20000)]
    values += [
        struct.unpack("<d", struct.pack("<Q", rng.getrandbits(62)))[0]
        for _ in range(20000)
    ]
    values += [float("inf"), float("nan")]
    for ndigits in (1, 3, 4):
        rounded = round_decimal(np.array(values), ndigits)
        expected = [round(v, ndigits) for v in values]
        assert np.array(rounded).tobytes() == np.array(expected).tobytes()


def test_the_line_kinds_cover_every_outcome():
    outcomes = {o if not isinstance(o, str) else "bad" for _, o in LINES.values()}
    assert {None, "bad", kept(), kept(probe=True), kept("libx265")} <= outcomes
    assert len(LINES) == 70 and not set(LINES) & set(LENIENT)
