"""Reading a Phase A corpus (JSONL, a row per line): the row rules and the reading
(the decoder: :mod:`vmaf_predictor.runtime.jsonl`).

A corpus is read in chunks of a fixed size cut at line starts, so the work is
the same on every machine and memory stays flat. ``pyarrow.json`` is the one
decoder. A line it could read otherwise than Python's ``json`` (not one plain
object, a null or NaN or Inf in it, a chunk it rejects) is first read by
``json``, which names what is wrong with it, and what ``json`` read is handed
to pyarrow re-encoded plainly. The factory's split and ``evaluate`` share it.
"""

from __future__ import annotations

import math
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmaf_predictor.registry import Codec
from vmaf_predictor.runtime.jsonl import (
    ABSENT,
    KEY_SPELLINGS,
    NULL,
    NUMBER,
    STANDIN_KEYS,
    STRING,
    STRING_KEYS,
    Column,
    Rows,
    decode,
    row_keys,
)

if TYPE_CHECKING:
    import pyarrow as pa

TARGET = "vmaf"
# Fixed (not per machine): the chunks, and so the work, are the same anywhere.
CHUNK_BYTES = 8 << 20
MIN_ROWS = 2  # a codec with fewer rows keeps its synthetic stub

POSITIVE_KEYS = ("bitrate_kbps", "encode_size_bytes", "width", "height")
UNKNOWN_ENCODER = "encoder not one of the codecs"
SCORE_DROPPED = "score null or not finite"


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
        present = [rows.columns[k].kind != ABSENT for k in row_keys()[0]]
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
            for key in row_keys()[0]
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
    table = {key: columns[key].value[kept] for key in row_keys()[0]}
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
            values = [table[key][mine] for key in ("crf", *row_keys()[0], TARGET)]
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
    """Each codec's rows kept, as the split keeps them: the features and the
    target (NumPy arrays) and ``src`` (a list), by name. Raises CorpusError
    naming the first bad row and how many there are."""
    import numpy as np
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
    names = ("crf", *row_keys()[0], TARGET)
    return {
        codec: {
            n: np.concatenate([v[i] for v, _ in parts]) for i, n in enumerate(names)
        }
        | {"src": pa.concat_arrays([s for _, s in parts]).to_pylist()}
        for codec, parts in kept.items()
    }
