"""Reading a Phase A corpus (JSONL, a row per line): the decoder and the row rules.

A corpus is read in chunks of a fixed size cut at line starts, so the work is
the same on every machine and memory stays flat. ``pyarrow.json`` is the one
decoder. A line it could read otherwise than Python's ``json`` (not one plain
object, a null or NaN or Inf in it, a chunk it rejects) is first read by
``json``, which names what is wrong with it, and what ``json`` read is handed
to pyarrow re-encoded plainly. The factory's split and ``evaluate`` share it.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmaf_predictor.registry import Codec

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

TARGET = "vmaf"
# Fixed (not per machine): the chunks, and so the work, are the same anywhere.
CHUNK_BYTES = 8 << 20
MIN_ROWS = 2  # a codec with fewer rows keeps its synthetic stub
# Canonical Phase A keys first, then the aliases older hardware sweeps use.
KEY_SPELLINGS = {
    "encoder": ("encoder", "codec"),
    "crf": ("crf", "q", "cq"),
    "vmaf_score": ("vmaf_score", "vmaf"),
    "bitrate_kbps": ("bitrate_kbps", "actual_kbps"),
}
POSITIVE_KEYS = ("bitrate_kbps", "encode_size_bytes", "width", "height")
STANDIN_KEYS = ("bitrate_kbps", "framerate", "duration_s", "width", "height")
STRING_KEYS = ("encoder", "codec", "src", "src_sha256")
# What a key holds in a row (true and false are numbers for exit_status alone).
ABSENT, NULL, NUMBER, STRING, OTHER = range(5)
UNKNOWN_ENCODER = "encoder not one of the codecs"
SCORE_DROPPED = "score null or not finite"
TRUNCATED = (
    "truncated last line (no newline at the end of the file: "
    "was the sweep killed mid-write?)"
)
_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON can spell one; UTF-8 cannot
_ESCAPED_KEY_CHAR = re.compile(rb"\\u00[3-7]")  # a letter, digit or _ escaped


class CorpusError(ValueError):
    """The corpus has bad rows (strict mode)."""


class Drop(str):
    """Why a well-formed row that is not training data is dropped (a bad
    row's reason is a plain str)."""


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
def _keys() -> tuple[tuple[str, ...], tuple[str, ...], re.Pattern[bytes]]:
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
    for key in _keys()[1] & value.keys():
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
    probe_keys, keys, _ = _keys()
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
        if _keys()[2].search(text) or b"\\" in text:
            plain[i] = False
    probe = f'"{_keys()[0][0]}"'.encode() in data or bool(
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
    for key in _keys()[1]:
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


# The row rules, in order: a row's first broken rule decides it -------------


class _Facts:
    """What the rules read of a chunk's rows: keys under their spellings."""

    def __init__(self, rows: Rows, codecs: Mapping[str, Codec]) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        self.rows, self.codecs, self.names = rows, codecs, list(codecs)
        self.cached: dict[str, Column] = {}
        self.encoder, self.crf, self.score = map(
            self.spelled, ("encoder", "crf", "vmaf_score")
        )
        names = pa.array(self.names, pa.string())
        code = pc.index_in(self.encoder.value, value_set=names).fill_null(-1)
        self.code = code.to_numpy(zero_copy_only=False)
        limits = [[c.quality_min, c.quality_max] for c in codecs.values()]
        self.limits = np.array([*limits, [math.nan] * 2])[self.code].T
        present = [rows.columns[k].kind != ABSENT for k in _keys()[0]]
        self.probe = np.logical_and.reduce(present)

    def spelled(self, key: str) -> Column:
        """``key`` under its canonical spelling where present (even null),
        else under its first alias present."""
        if key not in self.cached:
            self.cached[key] = self._spelled(key)
        return self.cached[key]

    def _spelled(self, key: str) -> Column:
        import pyarrow as pa
        import pyarrow.compute as pc

        canonical, *aliases = KEY_SPELLINGS.get(key, (key,))
        column = self.rows.columns[canonical]
        for alias in aliases:
            other = self.rows.columns[alias]
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
                column = Column(kind, value, shown)
        return column

    # The rules, one method each: (the rows that break it, their reason: a
    # text, a Drop, or a function of the row giving the text).

    def no_object(self) -> tuple:
        import numpy as np

        error = self.rows.error
        return np.isin(np.arange(len(self.rows.line)), list(error)), error.get

    def no_encoder(self) -> tuple:
        return self.encoder.kind == ABSENT, "missing key encoder / codec"

    def encoder_not_a_string(self) -> tuple:
        text = self.encoder.text
        reason = lambda i: f"encoder must be a string, got {text(i)}"  # noqa: E731
        return self.encoder.kind != STRING, reason

    def no_crf(self) -> tuple:
        return self.crf.kind == ABSENT, "missing key crf / q / cq"

    def no_score(self) -> tuple:
        return self.score.kind == ABSENT, "missing key vmaf_score / vmaf"

    def failed_encode(self) -> tuple:
        status = self.rows.columns["exit_status"]
        zero = (status.kind == NUMBER) & (status.value == 0)
        return (status.kind != ABSENT) & ~zero, Drop("exit_status not 0")

    def null_score(self) -> tuple:
        return self.score.kind == NULL, Drop(SCORE_DROPPED)

    def score_not_a_number(self) -> tuple:
        return self.score.kind != NUMBER, self.not_a_number_text("vmaf_score")

    def score_not_finite(self) -> tuple:
        import numpy as np

        return ~np.isfinite(self.score.value), Drop(SCORE_DROPPED)

    def unknown_encoder(self) -> tuple:
        return self.code < 0, Drop(UNKNOWN_ENCODER)

    def score_out_of_range(self) -> tuple:
        score = self.score.value
        reason = lambda i: f"vmaf_score {score[i]:g} is outside [0, 100]"  # noqa: E731
        return ~((score >= 0) & (score <= 100)), reason

    def crf_not_a_number(self) -> tuple:
        return self.crf.kind != NUMBER, self.not_a_number_text("crf")

    def crf_out_of_range(self) -> tuple:
        def reason(i: int) -> str:
            c = self.codecs[self.names[self.code[i]]]
            return (
                f"crf {self.crf.value[i]:g} is outside {c.name}'s range "
                f"[{c.quality_min:g}, {c.quality_max:g}]"
            )

        low, high = self.limits
        return ~((low <= self.crf.value) & (self.crf.value <= high)), reason

    def not_a_number(self, key: str, where: str) -> tuple:
        """Where ``key`` is present (``where="any"``), or the row has
        (``"probe"``) or lacks (``"standin"``) probe statistics."""
        kind = self.spelled(key).kind
        mask = {"any": kind != ABSENT, "probe": self.probe, "standin": ~self.probe}
        return mask[where] & (kind != NUMBER), self.not_a_number_text(key)

    def not_positive(self, key: str) -> tuple:
        import numpy as np

        c = self.spelled(key)
        fine = np.isfinite(c.value) & (c.value > 0)
        reason = lambda i: f"{key} must be finite and positive, got {c.value[i]:g}"  # noqa: E731
        return (c.kind == NUMBER) & ~fine, reason

    def not_finite(self, key: str, where: str) -> tuple:
        import numpy as np

        c, rows = self.spelled(key), self.probe if where == "probe" else ~self.probe
        reason = lambda i: f"{key} must be finite, got {float(c.value[i])}"  # noqa: E731
        return rows & ~np.isfinite(c.value), reason

    def no_standin(self, key: str) -> tuple:
        spellings = " / ".join(KEY_SPELLINGS.get(key, (key,)))
        missing = ~self.probe & (self.spelled(key).kind == ABSENT)
        return missing, f"missing key {spellings}"

    def standin_not_positive(self) -> tuple:
        fps, width, height = (
            self.spelled(k).value for k in ("framerate", "width", "height")
        )
        positive = (fps > 0) & (width >= 1) & (height >= 1)
        return ~self.probe & ~positive, "framerate, width and height must be positive"

    def not_a_number_text(self, key: str) -> Callable[[int], str]:
        text = self.spelled(key).text
        return lambda i: f"{key} must be a number, got {text(i)}"


@cache
def rules() -> list[Callable[[_Facts], tuple]]:
    """The row rules, in order: a row's first broken rule decides it (the
    order says which reason a row with several problems gets)."""
    f = _Facts
    return [
        f.no_object,
        f.no_encoder,
        f.encoder_not_a_string,
        f.no_crf,
        f.no_score,
        f.failed_encode,
        f.null_score,
        f.score_not_a_number,
        f.score_not_finite,
        f.unknown_encoder,
        f.score_out_of_range,
        f.crf_not_a_number,
        f.crf_out_of_range,
        *(
            rule
            for key in POSITIVE_KEYS
            for rule in (
                partial(f.not_a_number, key=key, where="any"),
                partial(f.not_positive, key=key),
            )
        ),
        *(
            rule
            for key in _keys()[0]
            for rule in (
                partial(f.not_a_number, key=key, where="probe"),
                partial(f.not_finite, key=key, where="probe"),
            )
        ),
        *(
            rule
            for key in STANDIN_KEYS
            for rule in (
                partial(f.no_standin, key=key),
                partial(f.not_a_number, key=key, where="standin"),
                partial(f.not_finite, key=key, where="standin"),
            )
        ),
        f.standin_not_positive,
    ]


@dataclass
class Chunk:
    """What a chunk held: its bad rows (``file:line: reason``), drops, and
    its rows kept by codec (COLUMNS, src, whether all had probe statistics)."""

    lines: int
    rows: int
    dropped: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)
    bad: list = field(default_factory=list)  # (line, reason); read(): file:line: reason
    kept: dict[str, tuple[list, pa.Array, bool]] = field(default_factory=dict)


def decide(rows: Rows, codecs: Mapping[str, Codec]) -> Chunk:
    """Apply the rules to a chunk's rows; bad rows as (line in the chunk, reason)."""
    import numpy as np
    import pyarrow.compute as pc

    from vmaf_predictor.runtime.features import standin_columns

    facts, order = _Facts(rows, codecs), rules()
    with np.errstate(invalid="ignore"):
        broken = [rule(facts) for rule in order]
    first = np.full(len(rows.line), len(order))  # each row's first broken rule
    for number in reversed(range(len(order))):
        first[broken[number][0]] = number
    chunk, bad = Chunk(rows.lines, len(rows.line)), []
    for number in np.unique(first[first < len(order)]).tolist():
        outcome, hit = broken[number][1], np.flatnonzero(first == number)
        if isinstance(outcome, Drop):
            chunk.dropped[outcome] += len(hit)
            if outcome == UNKNOWN_ENCODER:
                chunk.unknown.update(facts.encoder.value.take(hit).to_pylist())
        else:
            text = isinstance(outcome, str)
            bad += [(i, outcome if text else outcome(i)) for i in hit.tolist()]
    chunk.bad = [(int(rows.line[i]), reason) for i, reason in sorted(bad)]

    kept = np.flatnonzero(first == len(order))  # in line order
    columns = rows.columns
    table = {key: columns[key].value[kept] for key in _keys()[0]}
    table |= {"crf": facts.crf.value[kept], TARGET: facts.score.value[kept]}
    uses_standin = ~facts.probe[kept]
    if uses_standin.any():  # crf, bitrate, framerate, duration, width, height
        inputs = [facts.crf, *map(facts.spelled, STANDIN_KEYS)]
        inputs = [c.value[kept][uses_standin] for c in inputs]
        for key, values in standin_columns(*inputs).items():
            table[key][uses_standin] = values
    src = pc.coalesce(columns["src"].value, columns["src_sha256"].value, "")
    src = src.take(kept)
    code = facts.code[kept]
    by_codec = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[by_codec], np.arange(len(codecs) + 1))
    for number, name in enumerate(codecs):
        mine = by_codec[bounds[number] : bounds[number + 1]]
        if len(mine):
            values = [table[key][mine] for key in ("crf", *_keys()[0], TARGET)]
            chunk.kept[name] = (values, src.take(mine), not uses_standin[mine].any())
    return chunk


# Reading, chunk by chunk -----------------------------------------------------


def chunks(path: Path, max_line_bytes: int) -> Iterator[tuple[int, int]]:
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


def read_bytes(path: Path, start: int, end: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(start)
        return handle.read(end - start)


def read(
    files: list[Path],
    codecs: Mapping[str, Codec],
    max_line_bytes: int = 1 << 20,
    threads: int | None = None,
) -> Iterator[tuple[Path, Chunk]]:
    """Every chunk of the files decoded and decided, in order: ``threads``
    at a time (pyarrow and numpy mostly run outside the GIL; default: the
    CPUs this process may run on), one more ahead."""
    if threads is None:
        mine = getattr(os, "sched_getaffinity", None)
        threads = len(mine(0)) if mine else os.cpu_count() or 1

    def one(path: Path, start: int, end: int) -> Chunk:
        return decide(decode(read_bytes(path, start, end), max_line_bytes), codecs)

    def numbered(path: Path, chunk: Chunk) -> tuple[Path, Chunk]:
        chunk.bad = [f"{path}:{before[path] + n + 1}: {why}" for n, why in chunk.bad]
        before[path] += chunk.lines
        return path, chunk

    before: Counter[Path] = Counter()  # lines of each file done so far
    with ThreadPoolExecutor(threads) as pool:
        running: deque = deque()
        for path in files:
            for start, end in chunks(path, max_line_bytes):
                running.append((path, pool.submit(one, path, start, end)))
                if len(running) > threads:
                    done, job = running.popleft()
                    yield numbered(done, job.result())
        for done, job in running:
            yield numbered(done, job.result())


def tables(corpus: str | Path, codecs: Mapping[str, Codec]) -> dict[str, Any]:
    """Each codec's rows kept, as the split keeps them: a DataFrame of the
    features, the target and ``src``. Raises CorpusError naming the first bad
    row and how many there are."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    kept: dict[str, list] = {}
    bad: list[str] = []
    total = 0
    for _, chunk in read(corpus_files(corpus), codecs):
        bad, total = bad or chunk.bad[:1], total + len(chunk.bad)
        for codec, (values, src, _) in chunk.kept.items():
            kept.setdefault(codec, []).append((values, src))
    if total:
        raise CorpusError(f"{total} bad row(s), the first {bad[0]}")
    names = ("crf", *_keys()[0], TARGET)
    return {
        codec: pd.DataFrame(
            {n: np.concatenate([v[i] for v, _ in parts]) for i, n in enumerate(names)}
            | {"src": pa.concat_arrays([s for _, s in parts]).to_pylist()}
        )
        for codec, parts in kept.items()
    }
