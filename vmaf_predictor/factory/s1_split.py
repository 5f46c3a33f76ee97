"""Stage 1: read a real corpus once and split it into one table per codec.

The corpus (JSONL, a vmaf-tune Phase A row per line) is read in chunks of a
fixed size cut at line starts: the work is the same on every machine and
memory stays flat however large the file. ``pyarrow.json.read_json`` decodes
a chunk against the keys the rules read. It is more lenient than the rules
(it skips blank lines, reads two objects on one line, takes ``-NaN`` and
``Inf``, reads a ``null`` as an absent key), so a chunk where that could
matter is decoded line by line with msgspec/json into the same columns, and
so is each line with a ``null`` or ``NaN`` in it. The rules are written
once, column by column (:func:`_decide`), for the rows of either decoder;
the tests hold the two decoders to the same result.

A codec with at least 2 rows kept gets ``<codec>.<digest>.parquet``: the 14
model features in graph order and the VMAF target (float64), then ``src``,
in corpus order. ``digest`` begins the content digest of its rows
(:meth:`_Table.digest`), so a codec whose rows did not change keeps its file
and its mtime (what Snakemake compares): only a changed codec retrains.
``manifest.json`` lists the tables; the corpus report says what was read,
kept and dropped, and why.

Importing this module is cheap (the standard library and the registry): the
Snakefile imports :func:`corpus_files` while it parses.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmaf_predictor.registry import Codec, codec_from_config

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

# Fixed (not per machine): the chunks, and so the work, are the same anywhere.
CHUNK_BYTES = 8 << 20
# Fixed rows per Parquet row group, so a table's bytes do not depend on chunks.
ROW_GROUP_ROWS = 1 << 15
MANIFEST = "manifest.json"
BAD_ROWS_SHOWN = 20
MIN_ROWS = 2  # a codec with fewer rows keeps its synthetic stub

# Canonical Phase A keys first, then the aliases older hardware sweeps use.
KEY_SPELLINGS = {
    "encoder": ("encoder", "codec"),
    "crf": ("crf", "q", "cq"),
    "vmaf_score": ("vmaf_score", "vmaf"),
    "bitrate_kbps": ("bitrate_kbps", "actual_kbps"),
}
# Keys that, when a row has them, must be finite numbers > 0.
POSITIVE_KEYS = ("bitrate_kbps", "encode_size_bytes", "width", "height")
STANDIN_KEYS = ("bitrate_kbps", "framerate", "duration_s", "width", "height")
STRING_KEYS = ("encoder", "codec", "src", "src_sha256")
# What a key holds in a row. true and false are numbers for exit_status alone
# (its rule is ``exit_status != 0``).
ABSENT, NULL, NUMBER, STRING, OTHER = range(5)
UNKNOWN_ENCODER = "encoder not one of the codecs"
SCORE_DROPPED = "score null or not finite"
TRUNCATED = (
    "truncated last line (no newline at the end of the file: "
    "was the sweep killed mid-write?)"
)


class CorpusError(ValueError):
    """The corpus has bad rows (strict mode)."""


@dataclass
class CodecTable:
    rows: int
    probe: bool  # every row carried real probe statistics
    sha256: str  # content digest of the rows
    table: str  # file name, beside the manifest


@dataclass
class SplitReport:
    """What was read, kept and dropped: the corpus report."""

    files: list[str]
    # Per file, [rows read, rows kept]: several files (a corpus and the
    # sweep's rows) say how many came from each.
    file_rows: dict[str, list[int]] = field(default_factory=dict)
    rows_read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    unknown_encoders: dict[str, int] = field(default_factory=dict)
    bad_rows: list[str] = field(default_factory=list)
    bad_total: int = 0
    codecs: dict[str, CodecTable] = field(default_factory=dict)
    stubs: list[str] = field(default_factory=list)  # codecs without a table
    digest: str = ""  # sha256 over the tables' digests


def corpus_files(path: str | Path | list[str | Path]) -> list[Path]:
    """A JSONL file, or the ``*.jsonl`` shards below a directory, sorted; or
    those of each of several such paths, in order (a corpus and the sweep's
    rows)."""
    if isinstance(path, (list, tuple)):
        return [file for each in path for file in corpus_files(each)]
    path = Path(path)
    if path.is_dir():
        shards = sorted(path.rglob("*.jsonl"))
        if not shards:
            raise FileNotFoundError(f"corpus directory {path} holds no *.jsonl shards")
        return shards
    if not path.is_file():
        raise FileNotFoundError(f"corpus {path} does not exist")
    return [path]


@cache
def _keys() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the 13 probe statistics, every number key the rules read)."""
    from vmaf_predictor.runtime.features import FEATURE_NAMES

    spelled = [
        s for k in ("crf", "vmaf_score", "bitrate_kbps") for s in KEY_SPELLINGS[k]
    ]
    numbers = (*spelled, *STANDIN_KEYS, "encode_size_bytes", "exit_status")
    return FEATURE_NAMES[1:], tuple(dict.fromkeys(numbers + FEATURE_NAMES[1:]))


# Decoding: a chunk -> _Rows --------------------------------------------------


@dataclass
class _Column:
    """A key over a chunk's rows: its kind in each row, its value (float64,
    NaN unless a number; for STRING_KEYS a pyarrow array, null unless a
    string), and for messages the JSON text of values of another type."""

    kind: np.ndarray
    value: Any
    shown: dict[int, str] = field(default_factory=dict)

    def text(self, row: int) -> str:
        return self.shown.get(row, "null")


@dataclass
class _Rows:
    """A chunk's rows (a blank line is not a row)."""

    lines: int  # in the chunk
    line: np.ndarray  # each row's line in the chunk, from 0
    columns: dict[str, _Column]
    error: dict[int, str] = field(default_factory=dict)  # row -> why no object

    def put(self, rows: np.ndarray, new: _Rows) -> None:
        """Overwrite ``rows`` (no ``shown`` or ``error`` yet) with ``new``."""
        import numpy as np
        import pyarrow as pa

        order = np.arange(len(self.line))
        order[rows] = len(self.line) + np.arange(len(rows))
        for key, column in self.columns.items():
            other = new.columns[key]
            column.kind[rows] = other.kind
            if key in STRING_KEYS:
                both = pa.concat_arrays([column.value, other.value])
                column.value = both.take(order)
            else:
                column.value[rows] = other.value
            column.shown.update({int(rows[i]): t for i, t in other.shown.items()})
        self.error.update({int(rows[i]): why for i, why in new.error.items()})


class _BadLine(ValueError):
    """A line without a JSON value; args[0] says why."""


_MISSING = object()  # an absent key's value, when decoding line by line
_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON can spell one; UTF-8 cannot
_ESCAPED_KEY_CHAR = re.compile(rb"\\u00[3-7]")  # a letter, digit or _ escaped


def _json_value(line: bytes, complete: bool) -> Any:
    """One line's JSON value, as Python's json reads it."""
    import msgspec

    try:
        return msgspec.json.decode(line)  # fast; json below names problems
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        pass
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _BadLine(f"not UTF-8 (byte {error.start + 1})") from None
    try:
        return json.loads(text)
    except RecursionError:  # pyarrow has no depth limit: read it as it does
        read = _arrow_read(line + b"\n", len(line))
        if read is None or read[1]:
            raise _BadLine("not valid JSON (nested too deeply)") from None
        columns = read[0].columns.items()
        return {
            k: c.value[0].as_py() if k in STRING_KEYS else float(c.value[0])
            for k, c in columns
            if c.kind[0] != ABSENT
        }
    except json.JSONDecodeError as error:
        if not complete:
            raise _BadLine(TRUNCATED) from None
        raise _BadLine(f"not valid JSON ({error.msg}, column {error.colno})") from None


def _column(key: str, values: list[Any]) -> _Column:
    """A key's decoded values (``_MISSING`` where absent) as a column."""
    import numpy as np
    import pyarrow as pa

    string = key in STRING_KEYS
    if string:
        wanted: tuple[type, ...] = (str,)
    else:  # bool is no number, but exit_status's rule is != 0
        wanted = (int, float, bool) if key == "exit_status" else (int, float)
    kinds, shown = [], {}
    for row, value in enumerate(values):
        if value is _MISSING:
            kinds.append(ABSENT)
        elif value is None:
            kinds.append(NULL)
        elif type(value) in wanted:
            kinds.append(STRING if string else NUMBER)
        else:
            kinds.append(OTHER)
            shown[row] = json.dumps(value)
    pairs = zip(values, kinds, strict=True)
    if string:
        strings = [
            _SURROGATE.sub("\ufffd", v) if k == STRING else None for v, k in pairs
        ]
        return _Column(np.array(kinds, np.int8), pa.array(strings, pa.string()), shown)
    numbers = [_number(v) if k == NUMBER else math.nan for v, k in pairs]
    return _Column(np.array(kinds, np.int8), np.array(numbers, np.float64), shown)


def _absent(key: str, rows: int) -> _Column:
    import numpy as np
    import pyarrow as pa

    if key in STRING_KEYS:
        return _Column(np.zeros(rows, np.int8), pa.nulls(rows, pa.string()))
    return _Column(np.zeros(rows, np.int8), np.full(rows, math.nan))


def _number(value: float) -> float:
    try:
        return float(value) + 0.0  # + 0.0: -0.0 is 0.0, as pyarrow reads -0
    except OverflowError:  # an integer beyond the float range
        return math.inf if value > 0 else -math.inf


def _decode_lines(lines: list[bytes], complete: bool, max_line_bytes: int) -> _Rows:
    """The rows of ``lines`` (split at newlines; ``complete``: the last had
    one), decoded one at a time."""
    import numpy as np

    records, numbers, error = [], [], {}
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        row, record = len(records), {}
        numbers.append(number)
        if len(line) > max_line_bytes:
            error[row] = f"line is longer than {max_line_bytes} bytes"
        else:
            try:
                record = _json_value(line, complete or number < len(lines) - 1)
            except _BadLine as bad:
                error[row] = bad.args[0]
            if not isinstance(record, dict):
                error[row], record = "not a JSON object", {}
        records.append(record)
    keys = (*STRING_KEYS, *_keys()[1])
    present = set().union(*records)
    columns = {
        k: _column(k, [r.get(k, _MISSING) for r in records])
        if k in present
        else _absent(k, len(records))
        for k in keys
    }
    return _Rows(len(lines), np.array(numbers, np.int64), columns, error)


@cache
def _arrow_options(probe: bool) -> tuple[Any, re.Pattern[bytes]]:
    """pyarrow's parse options (``probe``: with the keys that only rows with
    probe statistics read); the pattern of a null as a read key's value."""
    import pyarrow as pa
    import pyarrow.json as pa_json

    keys = (*STRING_KEYS, *_keys()[1])
    read = [k for k in keys if probe or k not in _keys()[0] or k in STANDIN_KEYS]
    schema = [(k, pa.string() if k in STRING_KEYS else pa.float64()) for k in read]
    options = pa_json.ParseOptions(
        explicit_schema=pa.schema(schema), unexpected_field_behavior="ignore"
    )
    names = "|".join(map(re.escape, keys)).encode()
    return options, re.compile(rb'"(?:' + names + rb')"\s*:\s*null')


def _may_have_probe(data: bytes) -> bool:
    """Whether a row of ``data`` may have probe statistics: none has them all
    unless the first one's key is in it (spelled plainly, or escaped). An
    absent key in the schema costs pyarrow almost as much as a present one."""
    if f'"{_keys()[0][0]}"'.encode() in data:
        return True
    return b"\\" in data and bool(_ESCAPED_KEY_CHAR.search(data))


def _arrow_read(data: bytes, max_line_bytes: int) -> tuple[_Rows, dict] | None:
    """The rows of ``data`` as pyarrow reads them, and the lines it may read
    otherwise than the rules ({line: bytes}, to decode again one by one);
    None when it cannot read the chunk exactly."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.json as pa_json

    if not data or not (data.isascii() or _is_utf8(data)):
        return None  # pyarrow does not check UTF-8 in the strings it skips
    buffer = np.frombuffer(data, np.uint8)
    newlines = np.flatnonzero(buffer == ord("\n"))
    ends = newlines if data.endswith(b"\n") else np.append(newlines, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1))
    # Each line one object, from "{" to "}" (or "}\r"): no line is blank and
    # no object runs on past its line.
    last, before = buffer[ends - 1], buffer[np.maximum(ends - 2, 0)]
    closed = (last == ord("}")) | (last == ord("\r")) & (before == ord("}"))
    opened = buffer[starts] == ord("{")
    if not (opened.all() and closed.all()) or (ends - starts).max() > max_line_bytes:
        return None
    options, null_value = _arrow_options(_may_have_probe(data))
    read = pa_json.ReadOptions(use_threads=False, block_size=len(data) + 1)
    try:
        table = pa_json.read_json(pa.py_buffer(data), read, options)
    except pa.ArrowException:
        return None
    if table.num_rows != len(starts):
        return None  # e.g. two objects on one line
    n = len(starts)
    columns = {key: _absent(key, n) for key in _keys()[1]}  # left out of the schema
    for key in table.column_names:
        value = table.column(key).combine_chunks()
        kind = np.where(value.is_valid(), STRING if key in STRING_KEYS else NUMBER, 0)
        if key not in STRING_KEYS:
            value = value.to_numpy(zero_copy_only=False) + 0.0  # -0 is 0
        columns[key] = _Column(kind.astype(np.int8), value)
    # Lines pyarrow may read otherwise: with a number token Python's json
    # rejects (-NaN, Inf), or a null that may be a read key's value.
    found = [_lines_with(buffer, starts, t) for t in (b"NaN", b"Inf", b"null")]
    again = {i: data[starts[i] : ends[i]] for i in np.union1d(*found[:2]).tolist()}
    for i in found[2].tolist():
        text = data[starts[i] : ends[i]]
        if null_value.search(text) or b"\\" in text:
            again[i] = text
    return _Rows(n, np.arange(n), columns), dict(sorted(again.items()))


def _lines_with(buffer: np.ndarray, starts: np.ndarray, token: bytes) -> np.ndarray:
    """The lines (by index) where ``token`` occurs."""
    import numpy as np

    at = np.flatnonzero(buffer[: len(buffer) - len(token) + 1] == token[0])
    for k in range(1, len(token)):
        at = at[buffer[at + k] == token[k]]
    return np.unique(np.searchsorted(starts, at, side="right") - 1)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode(data: bytes, max_line_bytes: int) -> _Rows:
    """A chunk's rows: by pyarrow where it reads them exactly, else (the
    whole chunk, or the lines it may misread) line by line."""
    import numpy as np

    read = _arrow_read(data, max_line_bytes)
    complete = data.endswith(b"\n")
    if read is None:
        lines = data.split(b"\n")
        return _decode_lines(
            lines[:-1] if complete else lines, complete, max_line_bytes
        )
    rows, again = read
    if again:  # only the chunk's last line can lack its newline
        complete = complete or max(again) < rows.lines - 1
        lines = _decode_lines(list(again.values()), complete, max_line_bytes)
        rows.put(np.array(list(again)), lines)
    return rows


# The rules, column by column -------------------------------------------------


class _Drop(str):
    """Why a well-formed row that is not training data is dropped (a bad
    row's reason is a plain str)."""


@dataclass
class _Chunk:
    """What a chunk held; its rows kept by codec (COLUMNS, src, all probe)."""

    lines: int
    rows: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    kept: dict[str, tuple[list, pa.Array, bool]] = field(default_factory=dict)


def _spelled(columns: dict[str, _Column], key: str) -> _Column:
    """``key`` under its canonical spelling where present (even null), else
    under its first alias present."""
    import pyarrow as pa
    import pyarrow.compute as pc

    canonical, *aliases = KEY_SPELLINGS.get(key, (key,))
    column = columns[canonical]
    for alias in aliases:
        other = columns[alias]
        take = (column.kind == ABSENT) & (other.kind != ABSENT)
        if take.any():
            if key in STRING_KEYS:
                value = pc.if_else(pa.array(take), other.value, column.value)
            else:
                value = column.value.copy()
                value[take] = other.value[take]
            kind = column.kind.copy()
            kind[take] = other.kind[take]
            shown = column.shown | {i: t for i, t in other.shown.items() if take[i]}
            column = _Column(kind, value, shown)
    return column


def _decide(rows: _Rows, codecs: Mapping[str, Codec]) -> _Chunk:
    """Apply the rules to a chunk's rows.

    Each rule is the mask of the rows that break it and what becomes of them;
    a row's first broken rule, in this order, decides it. The order is part
    of the contract: it says which reason a row with several problems gets.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from vmaf_predictor.factory.s2_corpus import COLUMNS, TARGET
    from vmaf_predictor.runtime.features import standin_columns

    columns, probe_keys = rows.columns, _keys()[0]
    encoder, crf, score = (
        _spelled(columns, k) for k in ("encoder", "crf", "vmaf_score")
    )
    names = list(codecs)
    code = pc.index_in(encoder.value, value_set=pa.array(names, pa.string()))
    code = code.fill_null(-1).to_numpy(zero_copy_only=False)
    limits = [[c.quality_min, c.quality_max] for c in codecs.values()]
    quality_min, quality_max = np.array([*limits, [math.nan] * 2])[code].T
    exit_status = columns["exit_status"]
    exit_zero = (exit_status.kind == NUMBER) & (exit_status.value == 0)

    def not_number(key: str, column: _Column) -> Callable[[int], str]:
        return lambda i: f"{key} must be a number, got {column.text(i)}"

    def finite(where: np.ndarray, key: str, column: _Column) -> list:
        def message(i: int) -> str:
            return f"{key} must be finite, got {float(column.value[i])}"

        number = column.kind == NUMBER
        return [
            (where & ~number, not_number(key, column)),
            (where & ~np.isfinite(column.value), message),
        ]

    def crf_range(i: int) -> str:
        c = codecs[names[code[i]]]
        return (
            f"crf {crf.value[i]:g} is outside {c.name}'s range "
            f"[{c.quality_min:g}, {c.quality_max:g}]"
        )

    def not_positive(key: str, values: np.ndarray) -> Callable[[int], str]:
        return lambda i: f"{key} must be finite and positive, got {values[i]:g}"

    with np.errstate(invalid="ignore"):
        rules = [
            (np.isin(np.arange(len(rows.line)), list(rows.error)), rows.error.get),
            (encoder.kind == ABSENT, "missing key encoder / codec"),
            (
                encoder.kind != STRING,
                lambda i: f"encoder must be a string, got {encoder.text(i)}",
            ),
            (crf.kind == ABSENT, "missing key crf / q / cq"),
            (score.kind == ABSENT, "missing key vmaf_score / vmaf"),
            ((exit_status.kind != ABSENT) & ~exit_zero, _Drop("exit_status not 0")),
            (score.kind == NULL, _Drop(SCORE_DROPPED)),
            (score.kind != NUMBER, not_number("vmaf_score", score)),
            (~np.isfinite(score.value), _Drop(SCORE_DROPPED)),
            (code < 0, _Drop(UNKNOWN_ENCODER)),
            (
                ~((score.value >= 0) & (score.value <= 100)),
                lambda i: f"vmaf_score {score.value[i]:g} is outside [0, 100]",
            ),
            (crf.kind != NUMBER, not_number("crf", crf)),
            (~((quality_min <= crf.value) & (crf.value <= quality_max)), crf_range),
        ]
        for key in POSITIVE_KEYS:
            c = _spelled(columns, key)
            number, fine = c.kind == NUMBER, np.isfinite(c.value) & (c.value > 0)
            rules.append(((c.kind != ABSENT) & ~number, not_number(key, c)))
            rules.append((number & ~fine, not_positive(key, c.value)))
        probe = np.logical_and.reduce([columns[k].kind != ABSENT for k in probe_keys])
        for key in probe_keys:
            rules += finite(probe, key, columns[key])
        standin = {key: _spelled(columns, key) for key in STANDIN_KEYS}
        for key, c in standin.items():
            missing = "missing key " + " / ".join(KEY_SPELLINGS.get(key, (key,)))
            rules += [(~probe & (c.kind == ABSENT), missing), *finite(~probe, key, c)]
        fps, width, height = (
            standin[k].value for k in ("framerate", "width", "height")
        )
        positive = (fps > 0) & (width >= 1) & (height >= 1)
        rules.append(
            (~probe & ~positive, "framerate, width and height must be positive")
        )

    first = np.full(len(rows.line), len(rules))  # each row's first broken rule
    for number in reversed(range(len(rules))):
        first[rules[number][0]] = number
    chunk, bad = _Chunk(rows.lines, len(rows.line)), []
    for number in np.unique(first[first < len(rules)]).tolist():
        outcome, hit = rules[number][1], np.flatnonzero(first == number)
        if isinstance(outcome, _Drop):
            chunk.dropped[outcome] += len(hit)
            if outcome == UNKNOWN_ENCODER:
                chunk.unknown.update(encoder.value.take(hit).to_pylist())
        else:
            text = isinstance(outcome, str)
            bad += [(i, outcome if text else outcome(i)) for i in hit.tolist()]
    chunk.bad = [(int(rows.line[i]), reason) for i, reason in sorted(bad)]

    kept = np.flatnonzero(first == len(rules))  # in line order
    table = {key: columns[key].value[kept] for key in probe_keys}
    table |= {"crf": crf.value[kept], TARGET: score.value[kept]}
    uses_standin = ~probe[kept]
    if uses_standin.any():  # crf, bitrate, framerate, duration, width, height
        inputs = [c.value[kept][uses_standin] for c in (crf, *standin.values())]
        for key, values in standin_columns(*inputs).items():
            table[key][uses_standin] = values
    src = pc.coalesce(columns["src"].value, columns["src_sha256"].value, "")
    src = src.take(kept)
    by_codec = np.argsort(code[kept], kind="stable")
    bounds = np.searchsorted(code[kept][by_codec], np.arange(len(names) + 1))
    for number, name in enumerate(names):
        mine = by_codec[bounds[number] : bounds[number + 1]]
        if len(mine):
            values = [table[key][mine] for key in COLUMNS]
            chunk.kept[name] = (values, src.take(mine), not uses_standin[mine].any())
    return chunk


# Reading, chunk by chunk -----------------------------------------------------


def _chunks(path: Path, max_line_bytes: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of whole lines of about CHUNK_BYTES, in
    order. A run whose last line is over ``max_line_bytes`` ends after its
    first ``max_line_bytes + 1`` bytes (enough to call it too long): the rest
    of it is in no run, and never read. Only the file's last run may end
    without a newline."""
    with open(path, "rb") as handle:
        size, start = os.fstat(handle.fileno()).st_size, 0
        while start < size:
            handle.seek(start + CHUNK_BYTES)
            tail = handle.readline(max_line_bytes + 1)  # to the next line start
            end = min(handle.tell(), size)
            yield start, end
            if len(tail) > max_line_bytes and not tail.endswith(b"\n"):
                while (rest := handle.readline(CHUNK_BYTES)) and rest[-1:] != b"\n":
                    pass
            start = handle.tell()


def _read(path: Path, start: int, end: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(start)
        return handle.read(end - start)


def _split_chunk(
    path: Path, start: int, end: int, codecs: Mapping[str, Codec], max_line_bytes: int
) -> _Chunk:
    return _decide(_decode(_read(path, start, end), max_line_bytes), codecs)


def _split_files(
    files: list[Path], codecs: Mapping[str, Codec], max_line_bytes: int, threads: int
) -> Iterator[tuple[Path, _Chunk]]:
    """Every chunk of the files read and split, in order: ``threads`` at a
    time (pyarrow and numpy mostly run outside the GIL), one more ahead."""
    with ThreadPoolExecutor(threads) as pool:
        running: deque = deque()
        for path in files:
            for start, end in _chunks(path, max_line_bytes):
                args = (path, start, end, codecs, max_line_bytes)
                running.append((path, pool.submit(_split_chunk, *args)))
                if len(running) > threads:
                    done, job = running.popleft()
                    yield done, job.result()
        for done, job in running:
            yield done, job.result()


# Writing: content-addressed Parquet tables -----------------------------------


class _Table:
    """A codec's table, written as its rows come: to a temporary file beside
    its final place, in row groups of ROW_GROUP_ROWS whatever the chunks, and
    hashed column by column."""

    def __init__(self, out_dir: Path, codec: str) -> None:
        from vmaf_predictor.factory.s2_corpus import COLUMNS

        fd, path = tempfile.mkstemp(dir=out_dir, prefix=f".{codec}.", suffix=".partial")
        os.close(fd)
        self.path, self.names = Path(path), [*COLUMNS, "src"]
        self.rows, self.probe, self.pending, self.writer = 0, True, [], None
        self.hashes = {name: hashlib.sha256() for name in self.names}

    def add(self, values: list[np.ndarray], src: pa.Array, probe: bool) -> None:
        import pyarrow as pa

        for name, column in zip(self.names, values, strict=False):
            self.hashes[name].update(column.astype("<f8", copy=False).tobytes())
        self.hashes["src"].update(_terminated(src))
        self.pending.append(pa.table([*values, src], names=self.names))
        self.rows, self.probe = self.rows + len(src), self.probe and probe
        while sum(map(len, self.pending)) >= ROW_GROUP_ROWS:
            self._write(ROW_GROUP_ROWS)

    def _write(self, rows: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.concat_tables(self.pending)
        if self.writer is None:  # a dictionary only pays for src
            self.writer = pq.ParquetWriter(
                self.path, table.schema, compression="zstd", use_dictionary=["src"]
            )
        self.writer.write_table(table.slice(0, rows), row_group_size=rows)
        self.pending = [table.slice(rows)] if len(table) > rows else []

    def digest(self) -> str:
        """The content digest: sha256 of one line per column, in table order,
        ``<name> <sha256 of its values>\\n``, where a float column's values
        are little-endian float64 and src's are each one's UTF-8 then 0xFF.
        It depends on the rows alone, not on chunks or on Parquet."""
        lines = "".join(f"{name} {h.hexdigest()}\n" for name, h in self.hashes.items())
        return hashlib.sha256(lines.encode()).hexdigest()

    def install(self, out_dir: Path, codec: str) -> CodecTable:
        """Finish the table; a file of the same content stays untouched."""
        if self.pending:
            self._write(sum(map(len, self.pending)))
        self.writer.close()
        digest = self.digest()
        entry = CodecTable(
            self.rows, self.probe, digest, f"{codec}.{digest[:16]}.parquet"
        )
        if (out_dir / entry.table).is_file():
            self.path.unlink()
        else:
            os.chmod(self.path, 0o644)
            os.replace(self.path, out_dir / entry.table)
        return entry

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.path.unlink(missing_ok=True)


def _terminated(strings: pa.Array) -> bytes:
    """Each string's UTF-8 bytes followed by 0xFF, a byte UTF-8 never holds."""
    import numpy as np

    offsets = np.frombuffer(strings.buffers()[1], np.int32)
    offsets = offsets[strings.offset : strings.offset + len(strings) + 1]
    data = np.frombuffer(strings.buffers()[2] or b"", np.uint8)
    data = data[offsets[0] : offsets[-1]]
    return np.insert(data, offsets[1:] - offsets[0], 0xFF).tobytes()


def read_table(path: str | Path) -> pd.DataFrame:
    """A codec's table from the split: COLUMNS (float64), then ``src``."""
    import pandas as pd

    return pd.read_parquet(path)


# The stage -------------------------------------------------------------------


def split(
    corpus: str | Path,
    codecs: Mapping[str, Codec],
    out_dir: str | Path,
    bad_rows: str = "strict",
    max_line_bytes: int = 1 << 20,
    threads: int | None = None,
) -> SplitReport:
    """Split ``corpus`` into a table per codec in ``out_dir``, listed in its
    ``manifest.json``; return the report.

    Raises :class:`CorpusError` for bad rows, before any table is installed,
    unless ``bad_rows == "skip"`` (then the report lists each of them).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for leftover in out_dir.glob(".*.partial"):  # of a split that was killed
        leftover.unlink()
    files = corpus_files(corpus)
    report = SplitReport(files=[str(p) for p in files])
    keep_all = bad_rows == "skip"
    lines_before: Counter[Path] = Counter()  # lines of each file read so far
    dropped: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    tables: dict[str, _Table] = {}
    if threads is None:  # the CPUs this process may run on (Slurm, taskset)
        mine = getattr(os, "sched_getaffinity", None)
        threads = len(mine(0)) if mine else os.cpu_count() or 1
    chunks = _split_files(files, codecs, max_line_bytes, threads)
    try:
        for path, chunk in chunks:
            for line, reason in chunk.bad:
                if keep_all or len(report.bad_rows) < BAD_ROWS_SHOWN:
                    number = lines_before[path] + line + 1
                    report.bad_rows.append(f"{path}:{number}: {reason}")
            report.bad_total += len(chunk.bad)
            lines_before[path] += chunk.lines
            report.rows_read += chunk.rows
            counts = report.file_rows.setdefault(str(path), [0, 0])
            counts[0] += chunk.rows
            dropped.update(chunk.dropped)
            unknown.update(chunk.unknown)
            for codec, (values, src, probe) in chunk.kept.items():
                if codec not in tables:
                    tables[codec] = _Table(out_dir, codec)
                tables[codec].add(values, src, probe)
                report.kept += len(src)
                counts[1] += len(src)
        if report.bad_total and not keep_all:
            raise CorpusError(_bad_rows_message(corpus, report))
        for codec in sorted(tables):
            if tables[codec].rows >= MIN_ROWS:
                report.codecs[codec] = tables.pop(codec).install(out_dir, codec)
    finally:
        chunks.close()
        for table in tables.values():
            table.discard()
    installed = {entry.table for entry in report.codecs.values()}
    for stale in out_dir.glob("*.parquet"):
        if stale.name not in installed:
            stale.unlink()
    report.dropped = dict(sorted(dropped.items()))
    report.unknown_encoders = dict(sorted(unknown.items()))
    report.stubs = [codec for codec in codecs if codec not in report.codecs]
    digests = "".join(f"{c} {e.sha256}\n" for c, e in report.codecs.items())
    report.digest = hashlib.sha256(digests.encode()).hexdigest()
    manifest = {key: asdict(report)[key] for key in ("codecs", "digest", "stubs")}
    _write(out_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return report


def _bad_rows_message(corpus: str | Path, report: SplitReport) -> str:
    shown = "\n  ".join(report.bad_rows[:BAD_ROWS_SHOWN])
    more = report.bad_total - min(report.bad_total, BAD_ROWS_SHOWN)
    tail = f"\n  ... and {more} more" if more else ""
    return (
        f"corpus {corpus}: {report.bad_total} bad row(s), nothing was trained:\n"
        f"  {shown}{tail}\n"
        "Fix them, or set corpus_bad_rows: skip to drop them (each is then "
        "listed in results/corpus_report.md)."
    )


def _write(path: str | Path, text: str) -> None:
    from vmaf_predictor.factory.jobs import write_atomic

    write_atomic(path, text.encode("utf-8"))


def _md(text: object) -> str:
    """Corpus text (anyone's) for the Markdown report, which becomes HTML:
    every character but a few plain ones becomes an HTML character reference
    (as html.escape does for <>&"'), which Markdown leaves alone and a browser
    shows as the character, so it never becomes markup (a tag, a link, a
    table cell, emphasis, a new line)."""
    return re.sub(r"[^0-9A-Za-z .,:;/=@%-]", lambda m: f"&#{ord(m[0])};", str(text))


def write_report(
    report: SplitReport, json_path: str | Path, md_path: str | Path
) -> None:
    """The corpus report, as JSON and as Markdown."""
    _write(json_path, json.dumps(asdict(report), indent=2, sort_keys=True) + "\n")
    drops = [f"| {_md(reason)} | {n} |" for reason, n in report.dropped.items()]
    outside = [f"{_md(e)} ({n})" for e, n in report.unknown_encoders.items()]
    tables = [
        f"| {_md(c)} | {e.rows} | {'probe' if e.probe else 'stand-in'} | {e.sha256} |"
        for c, e in report.codecs.items()
    ]
    per_file = []  # several files (a corpus and the sweep's rows): each one's rows
    if len(report.files) > 1:
        per_file = ["| file | rows read | rows kept |", "|---|---|---|"]
        per_file += [
            f"| {_md(f)} | {n[0]} | {n[1]} |" for f, n in report.file_rows.items()
        ]
        per_file.append("")
    lines = [
        "# Corpus report",
        "",
        f"Corpus digest: {report.digest} (sha256 of the per-codec table digests)",
        "",
        f"Files read ({len(report.files)}): {', '.join(map(_md, report.files))}",
        "",
        *per_file,
        f"Rows read: {report.rows_read}; kept: {report.kept}; "
        f"dropped: {sum(report.dropped.values())}; bad: {report.bad_total}",
        "",
        *("| dropped because | rows |", "|---|---|", *drops, ""),
        f"Encoders outside the registry: {', '.join(outside) or 'none'}",
        "",
        *("| codec | rows kept | features | table sha256 |", "|---|---|---|---|"),
        *tables,
        "",
        f"Codecs with fewer than {MIN_ROWS} rows keep their synthetic stub: "
        + (", ".join(map(_md, report.stubs)) or "none"),
    ]
    if report.bad_rows:
        lines += ["", "## Bad rows", "", *(f"- {_md(row)}" for row in report.bad_rows)]
    _write(md_path, "\n".join(lines) + "\n")


def run(input: Any, output: Any, params: Any, codec: str | None = None) -> str:
    """The ``split`` rule's stage (see :mod:`vmaf_predictor.factory`): split
    ``params.corpus`` for the codecs of ``params.codecs`` (config["codecs"])
    beside ``output.manifest`` and write the corpus report. Returns the
    summary line, also printed to stderr so that it shows on the console."""
    manifest = Path(output.manifest)
    if manifest.name != MANIFEST:
        raise ValueError(f"the split's manifest must be named {MANIFEST}: {manifest}")
    codecs = {name: codec_from_config(name, e) for name, e in params.codecs.items()}
    options = (params.bad_rows, params.max_line_bytes, getattr(params, "threads", None))
    report = split(params.corpus, codecs, manifest.parent, *options)
    if report.kept == 0:
        dropped = sum(report.dropped.values())
        raise CorpusError(
            f"corpus {params.corpus}: no usable rows ({report.rows_read} read, "
            f"{dropped} dropped, {report.bad_total} bad): nothing to train on"
        )
    write_report(report, output.report_json, output.report_md)
    summary = (
        f"corpus {params.corpus}: {report.kept} rows kept for {len(report.codecs)} "
        f"codecs (see {output.report_md}); fewer than {MIN_ROWS} rows, so "
        f"synthetic stub: {', '.join(report.stubs) or 'none'}"
    )
    if report.bad_total:
        summary += f"; {report.bad_total} bad rows skipped (see {output.report_md})"
    print(summary, file=sys.stderr)
    return summary
