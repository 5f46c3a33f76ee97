"""The split's columnar fast path decides every line exactly as the per-row
rules do: same tables (bytes), same counts, same bad rows and line numbers."""

from __future__ import annotations

import json
import random
import struct
from dataclasses import asdict

import numpy as np
import pytest
from workflow_runs import phase_a

from vmaf_predictor import corpus_columns, corpus_rows, corpus_split
from vmaf_predictor.features import round_decimal, standin_columns

MAX_LINE = 4096


PROBE = {name: 2.5 for name in corpus_rows.PROBE_FEATURES} | {"fps": 30.0}
ALIASES = {"encoder": ..., "crf": ..., "vmaf_score": ..., "bitrate_kbps": ...}


# Keys the rules never read, nested, with the rules' key names inside.
META = {"meta": {"crf": 99, "notes": ["q", {"vmaf": 1}]}}


def line(row: dict) -> bytes:
    return json.dumps(row | META).encode()


def raw(key: str, json_value: bytes) -> bytes:
    """A stand-in row whose ``key`` holds ``json_value`` verbatim."""
    return line(phase_a(**{key: "RAW"})).replace(b'"RAW"', json_value)


# One line of each kind the rules tell apart (keys, values, JSON and bytes).
LINES: dict[str, bytes] = {
    "stand-in row": line(phase_a()),
    "probe row": line(phase_a(**PROBE)),
    "probe row with a null statistic": line(phase_a(**PROBE | {"y_var": None})),
    "probe row missing one statistic": line(phase_a(**PROBE | {"y_var": ...})),
    "aliases only": line(
        phase_a(**ALIASES, codec="libx265", q=30, vmaf=80.0, actual_kbps=900.5)
    ),
    "canonical and alias": line(phase_a(q=40, vmaf=1.0, codec="libx265")),
    "null canonical beside an alias": line(phase_a(crf=None, q=30)),
    "failed encode": line(phase_a(exit_status=1, vmaf_score=None)),
    "exit status false": line(phase_a(exit_status=False)),
    "exit status string": line(phase_a(exit_status="0")),
    "exit status null": line(phase_a(exit_status=None)),
    "exit status 0.0": line(phase_a(exit_status=0.0)),
    "exit status huge": line(phase_a(exit_status=10**30)),
    "exit status beyond float range": line(phase_a(exit_status=10**400)),
    "failed encode with a bad crf": line(phase_a(exit_status=2, crf=999)),
    "null score": line(phase_a(vmaf_score=None)),
    "failed encode with a null crf": line(phase_a(exit_status=1, crf=None)),
    "failed encode with a null encoder": line(phase_a(exit_status=1, encoder=None)),
    "failed encode without a crf": line(phase_a(exit_status=1, crf=...)),
    "null score and null crf": line(phase_a(vmaf_score=None, crf=None)),
    "null score and negative bitrate": line(phase_a(vmaf_score=None, bitrate_kbps=-1)),
    "null alias quality, no canonical": line(phase_a(crf=..., q=None)),
    "null alias beside a canonical": line(phase_a(q=None, actual_kbps=None)),
    "unknown encoder with nulls": line(phase_a(encoder="x", crf=None, width=None)),
    "null statistic in a stand-in row": line(phase_a(y_var=None, fps=None)),
    "null exit status and score": line(phase_a(exit_status=None, vmaf_score=None)),
    "infinite score": raw("vmaf_score", b"1e999"),
    "NaN score": raw("vmaf_score", b"NaN"),
    "unknown encoder": line(phase_a(encoder="libvpx-vp9")),
    "null encoder": line(phase_a(encoder=None)),
    "number encoder": line(phase_a(encoder=5)),
    "no encoder": line(phase_a(encoder=...)),
    "escaped encoder": raw("encoder", rb'"libx\u0032\u0036\u0034"'),
    "crf as a string": line(phase_a(crf="23")),
    "crf as a bool": line(phase_a(crf=True)),
    "crf out of range": line(phase_a(crf=99)),
    "crf huge int": line(phase_a(crf=10**30)),
    "no crf": line(phase_a(crf=...)),
    "score above 100": line(phase_a(vmaf_score=100.5)),
    "negative score": line(phase_a(vmaf_score=-1)),
    "no score": line(phase_a(vmaf_score=...)),
    "negative bitrate": line(phase_a(bitrate_kbps=-5)),
    "huge bitrate": line(phase_a(bitrate_kbps=10**30)),
    "null size": line(phase_a(encode_size_bytes=None)),
    "zero width": line(phase_a(width=0)),
    "fractional width": line(phase_a(width=1920.7)),
    "zero frame rate": line(phase_a(framerate=0)),
    "no duration": line(phase_a(duration_s=...)),
    "infinite duration": raw("duration_s", b"1e999"),
    "negative zero": line(phase_a(crf=-0.0, bitrate_kbps=-0.0)),
    "tie-rounding values": line(phase_a(bitrate_kbps=2.0005, duration_s=0.05)),
    "duplicate key": line(phase_a())[:-1] + b', "crf": 31}',
    "blank": b"",
    "whitespace": b" \t ",
    "carriage return": line(phase_a()) + b"\r",
    "form feed": b"\x0c",
    "array": b"[1, 2]",
    "number": b"5",
    "empty object": b"{}",
    "two objects": line(phase_a()) + b" " + line(phase_a()),
    "half an object": b'{"encoder": "libx264",',
    "other half": b'"crf": 23}',
    "not UTF-8 in an ignored string": raw("src", b'"\xff"'),
    "not UTF-8 in the encoder": raw("encoder", b'"libx\xff"'),
    "lone surrogate": line(phase_a(src="\ud800")),
    "overlong": line(phase_a(src="x" * MAX_LINE)),
}


def split_both_ways(tmp_path, codecs, data: bytes, keep_every_bad_row=True):
    """(result, tables) of one chunk, columnar and row by row."""
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(data)
    chunk = corpus_split.Chunk(str(path), 0, len(data))
    outcomes = []
    for columnar in (True, False):
        work = tmp_path / f"columnar-{columnar}"
        work.mkdir()
        result = corpus_split.split_chunk(
            chunk, 0, codecs, MAX_LINE, keep_every_bad_row, work, columnar
        )
        tables = {p.name: p.read_bytes() for p in sorted(work.iterdir())}
        outcomes.append((asdict(result), tables))
    return outcomes


@pytest.mark.parametrize("kind", LINES)
def test_each_kind_of_line_is_decided_as_the_per_row_rules_decide_it(
    kind, codecs, tmp_path
):
    good = line(phase_a())
    data = b"\n".join([good, LINES[kind], good, LINES[kind], good]) + b"\n"
    columnar, row_by_row = split_both_ways(tmp_path, codecs, data)
    assert columnar == row_by_row


@pytest.mark.parametrize("last", [b"truncated", b"complete"])
def test_a_last_line_without_a_newline_is_decided_as_the_per_row_rules_decide_it(
    last, codecs, tmp_path
):
    final = line(phase_a()) if last == b"complete" else line(phase_a())[:-9]
    data = line(phase_a()) + b"\n" + final
    columnar, row_by_row = split_both_ways(tmp_path, codecs, data)
    assert columnar == row_by_row


@pytest.mark.parametrize("keep_every_bad_row", [True, False])
def test_a_random_mix_of_every_kind_is_split_as_the_per_row_rules_split_it(
    keep_every_bad_row, codecs, tmp_path
):
    rng = random.Random(11)
    kinds = list(LINES.values())
    mixed = []
    for _ in range(3000):
        if rng.random() < 0.7:
            row = phase_a(
                encoder=rng.choice([*codecs, "libvpx-vp9"]),
                crf=rng.randint(0, 51),
                vmaf_score=round(rng.uniform(0, 100), 4),
                bitrate_kbps=round(rng.uniform(0, 40000), 3),
                framerate=rng.choice([23.976, 24, 25, 30, 59.94]),
                duration_s=round(rng.uniform(0.1, 20), 3),
                width=rng.choice([640, 1280, 1920, 3840]),
                height=rng.choice([360, 720, 1080, 2160]),
            )
            mixed.append(line(row | PROBE) if rng.random() < 0.2 else line(row))
        else:
            mixed.append(rng.choice(kinds))
    data = b"\n".join(mixed) + b"\n"
    columnar, row_by_row = split_both_ways(tmp_path, codecs, data, keep_every_bad_row)
    assert columnar == row_by_row
    assert sum(rows for rows, _ in columnar[0]["kept"].values()) > 1500


def test_only_rows_the_columns_cannot_decide_reach_the_per_row_rules(
    codecs, tmp_path, monkeypatch
):
    calls = []

    def counted(result, number, *args):
        calls.append(number)
        return corpus_rows.read_line(result, number, *args)

    monkeypatch.setattr(corpus_columns, "read_line", counted)
    rows = [phase_a(crf=c) for c in range(10, 40)]
    rows[3] = phase_a(exit_status=1, vmaf_score=None, crf=None)
    rows[4] = phase_a(exit_status=1, crf=..., q=None)
    rows[5] = phase_a(vmaf_score=None)
    rows[6] = phase_a(encoder="libvpx-vp9", encode_size_bytes=None)
    rows[7] = phase_a(crf=99)
    rows[9] = phase_a(encode_size_bytes=None)
    data = b"\n".join(map(line, rows)) + b"\n"
    columnar, row_by_row = split_both_ways(tmp_path, codecs, data)
    assert columnar == row_by_row
    assert calls == [8, 10]


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
        assert struct.pack(f"<{len(values)}d", *rounded) == struct.pack(
            f"<{len(values)}d", *expected
        )


def standin_in_plain_python(crf, bitrate, fps, duration, width, height) -> list:
    """The documented stand-in, one row in Python floats: the oracle."""
    width, height = int(width), int(height)
    frame_bytes = bitrate * 1000.0 / 8.0 / fps
    bits_per_pixel = bitrate * 1000.0 / (fps * width * height)
    return [
        crf,
        round(bitrate, 3),
        round(frame_bytes * 5.0, 1),
        round(frame_bytes * 1.0, 1),
        round(frame_bytes * 0.5, 1),
        0.5,
        0.05,
        round(min(bits_per_pixel * 100.0, 50.0), 4),
        110.0,
        2000.0,
        float(max(1, round(duration * fps))),
        fps,
        float(width),
        float(height),
    ]


def test_stand_in_columns_equal_the_documented_formula_in_python_floats():
    rng = random.Random(9)
    rows = [
        [
            float(rng.randint(0, 63)),
            round(rng.uniform(0, 50000), rng.choice([1, 3, 4])),
            rng.choice([23.976, 24.0, 30.0, 59.94, 120.0]),
            round(rng.uniform(0, 30), 3),
            rng.choice([640.0, 1280.0, 1920.5, 3840.0]),
            rng.choice([360.0, 720.0, 1080.0, 2160.0]),
        ]
        for _ in range(20000)
    ]
    columns = standin_columns(*np.array(rows).T)
    derived = np.column_stack(list(columns.values())).tolist()
    assert derived == [standin_in_plain_python(*row) for row in rows]
