"""The corpus decoder: a chunk of JSONL bytes -> its rows, column by column.

``pyarrow.json`` is the one decoder. A line it could read otherwise than
Python's ``json`` (not one plain object, a null or NaN or Inf in it, a chunk
it rejects) is first read by ``json``, which names what is wrong with it, and
what ``json`` read is handed to pyarrow re-encoded plainly.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

# Canonical Phase A keys first, then the aliases older hardware sweeps use.
KEY_SPELLINGS = {
    "encoder": ("encoder", "codec"),
    "crf": ("crf", "q", "cq"),
    "vmaf_score": ("vmaf_score", "vmaf"),
    "bitrate_kbps": ("bitrate_kbps", "actual_kbps"),
}
STANDIN_KEYS = ("bitrate_kbps", "framerate", "duration_s", "width", "height")
STRING_KEYS = ("encoder", "codec", "src", "src_sha256")
# What a key holds in a row (true and false are numbers for exit_status alone).
ABSENT, NULL, NUMBER, STRING, OTHER = range(5)
TRUNCATED = (
    "truncated last line (no newline at the end of the file: "
    "was the sweep killed mid-write?)"
)
_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON can spell one; UTF-8 cannot
_ESCAPED_KEY_CHAR = re.compile(rb"\\u00[3-7]")  # a letter, digit or _ escaped


@cache
def row_keys() -> tuple[tuple[str, ...], tuple[str, ...], re.Pattern[bytes]]:
    """(the 13 probe statistics, every key the rules read, the pattern of a
    null as one's value); the features module is imported only when read."""
    from vmaf_predictor.runtime.features import FEATURE_NAMES

    numbers = [*KEY_SPELLINGS["crf"], *KEY_SPELLINGS["vmaf_score"]]
    numbers += [*KEY_SPELLINGS["bitrate_kbps"], *STANDIN_KEYS, "encode_size_bytes"]
    numbers += ["exit_status", *FEATURE_NAMES[1:]]
    keys = (*STRING_KEYS, *dict.fromkeys(numbers))
    names = "|".join(map(re.escape, keys)).encode()
    return FEATURE_NAMES[1:], keys, re.compile(rb'"(?:' + names + rb')"\s*:\s*null')


# The decoder: a chunk's bytes -> its rows, column by column ------------------


@dataclass
class Column:
    """A key over a chunk's rows: its kind in each row, its value (float64,
    NaN unless a number; a pyarrow string array for STRING_KEYS), and the
    JSON text of values of another type, for messages."""

    kind: np.ndarray
    value: Any
    shown: dict[int, str] = field(default_factory=dict)

    def text(self, row: int) -> str:
        return self.shown.get(row, "null")


@dataclass
class Rows:
    """A chunk's rows (a blank line is not a row)."""

    lines: int  # in the chunk
    line: np.ndarray  # each row's line in the chunk, from 0
    columns: dict[str, Column]
    error: dict[int, str]  # row -> why it holds no object


def _number(value: float) -> float:
    try:
        return float(value) + 0.0  # + 0.0: -0.0 is 0.0, as pyarrow reads -0
    except OverflowError:  # an integer beyond the float range
        return math.inf if value > 0 else -math.inf


def _exact(line: bytes, last: bool, max_line_bytes: int) -> tuple | None:
    """A line as Python's json reads it: (plain JSON of its read keys, {key:
    (kind, text)} of those holding null or another type, why it is no
    object); None for a blank line."""
    if not line.strip():
        return None
    if len(line) > max_line_bytes:
        return b"{}", {}, f"line is longer than {max_line_bytes} bytes"
    try:
        value = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as error:
        return b"{}", {}, f"not UTF-8 (byte {error.start + 1})"
    except RecursionError:  # pyarrow has no depth limit: read it as it does
        if _arrow(line + b"\n", _read_keys(True)) is None:
            return b"{}", {}, "not valid JSON (nested too deeply)"
        return line, {}, None
    except json.JSONDecodeError as error:
        reason = f"not valid JSON ({error.msg}, column {error.colno})"
        return b"{}", {}, TRUNCATED if last else reason
    if not isinstance(value, dict):
        return b"{}", {}, "not a JSON object"
    plain, odd = {}, {}
    for key in row_keys()[1] & value.keys():
        v, string = value[key], key in STRING_KEYS
        numbers = (int, float, bool) if key == "exit_status" else (int, float)
        if v is None:
            odd[key] = (NULL, "null")
        elif string and type(v) is str:
            plain[key] = _SURROGATE.sub("\ufffd", v)
        elif not string and type(v) in numbers:
            plain[key] = _number(v)
        else:
            odd[key] = (OTHER, json.dumps(v))
    return json.dumps(plain).encode(), odd, None


@cache
def _read_keys(probe: bool) -> tuple[str, ...]:
    """The keys pyarrow reads (``probe``: with those only probe rows hold)."""
    probe_keys, keys, _ = row_keys()
    return tuple(k for k in keys if probe or k not in probe_keys or k in STANDIN_KEYS)


def _arrow(data: bytes, keys: tuple[str, ...]) -> pa.Table | None:
    import pyarrow as pa
    import pyarrow.json as pa_json

    schema = pa.schema(
        [(k, pa.string() if k in STRING_KEYS else pa.float64()) for k in keys]
    )
    parse = pa_json.ParseOptions(
        explicit_schema=schema, unexpected_field_behavior="ignore"
    )
    read = pa_json.ReadOptions(use_threads=False, block_size=len(data) + 1)
    try:
        return pa_json.read_json(pa.py_buffer(data), read, parse)
    except pa.ArrowException:
        return None


def decode(data: bytes, max_line_bytes: int) -> Rows:
    """A chunk's rows, as Python's json reads each line."""
    import numpy as np

    buffer = np.frombuffer(data, np.uint8)
    complete = data.endswith(b"\n")
    ends = np.flatnonzero(buffer == ord("\n"))
    if not complete and data:
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)[: len(ends)]
    # pyarrow reads a line as json does when it is one object from "{" to "}"
    # (or "}\r") with no NaN or Inf in it and no null a read key may hold.
    last, before = buffer[ends - 1], buffer[np.maximum(ends - 2, 0)]
    plain = (buffer[np.minimum(starts, len(data) - 1)] == ord("{")) & (ends > starts)
    plain &= (last == ord("}")) | (last == ord("\r")) & (before == ord("}"))
    plain &= ends - starts <= max_line_bytes
    if not (data.isascii() or _is_utf8(data)):
        plain[:] = False  # pyarrow does not check UTF-8 in the strings it skips
    for token in (b"NaN", b"Inf"):
        plain[_lines_with(buffer, starts, token)] = False
    for i in _lines_with(buffer, starts, b"null").tolist():
        text = data[starts[i] : ends[i]]
        if row_keys()[2].search(text) or b"\\" in text:
            plain[i] = False
    probe = f'"{row_keys()[0][0]}"'.encode() in data or bool(
        b"\\" in data and _ESCAPED_KEY_CHAR.search(data)
    )
    keys = _read_keys(probe)
    rows = _rows(data, starts, ends, plain, complete, max_line_bytes, keys)
    if rows is None:  # pyarrow rejects a plain-looking line: json reads them all
        rows = _rows(data, starts, ends, plain & False, complete, max_line_bytes, keys)
    return rows


def _rows(data, starts, ends, plain, complete, max_line_bytes, keys) -> Rows | None:
    """The chunk as pyarrow reads its plain lines and json the others; None
    when pyarrow rejects it."""
    import numpy as np
    import pyarrow as pa

    pieces, blank, odd, error, start = [], [], {}, {}, 0
    for i in np.flatnonzero(~plain).tolist():
        pieces.append(data[start : starts[i]])
        start = ends[i] + 1
        last = not complete and i == len(starts) - 1
        exact = _exact(data[starts[i] : ends[i]], last, max_line_bytes)
        if exact is None:
            blank.append(i)
            continue
        row = i - len(blank)
        text, odd[row], why = exact
        if why:
            error[row] = why
        pieces.append(text + b"\n")
    pieces.append(data[start:])
    line = np.delete(np.arange(len(starts)), blank)
    n = len(line)
    table = _arrow(b"".join(pieces), keys) if n else None
    if n and (table is None or table.num_rows != n):
        return None  # e.g. a string for a number, or two objects on one line
    columns = {}
    for key in row_keys()[1]:
        string = key in STRING_KEYS
        if table is None or key not in table.column_names:
            kind = np.zeros(n, np.int8)
            value = pa.nulls(n, pa.string()) if string else np.full(n, math.nan)
        else:
            value = table.column(key).combine_chunks()
            kind = np.where(value.is_valid(), STRING if string else NUMBER, ABSENT)
            kind = kind.astype(np.int8)
            if not string:
                value = value.to_numpy(zero_copy_only=False) + 0.0  # -0 is 0
        columns[key] = Column(kind, value)
    for row, keys_odd in odd.items():
        for key, (kind, text) in keys_odd.items():
            columns[key].kind[row] = kind
            if kind == OTHER:
                columns[key].shown[row] = text
    return Rows(len(starts), line, columns, error)


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
