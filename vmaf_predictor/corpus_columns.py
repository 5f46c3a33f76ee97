"""The split's fast path: a chunk's lines decoded into typed columns and
turned into canonical rows with numpy.

msgspec decodes each line against the keys the rules read, as strictly as
they do: a number is an int or a float (never a bool or a string) and parses
to the same double as Python's; JSON has no NaN, so NaN marks an absent key.
A row is decided here only when the outcome is certain: kept, dropped for
its exit status, or dropped for an encoder outside the registry. Every other
row (a null where the rules read, a line msgspec rejects, a rule broken, a
blank or overlong line) goes through :func:`corpus_rows.read_line`, the
reference, which also names the problem. Tests hold both paths to the same
bytes and counts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from itertools import repeat
from operator import attrgetter

import msgspec
import numpy as np
from msgspec import UNSET, UnsetType

from vmaf_predictor.corpus_rows import (
    KEY_SPELLINGS,
    NON_NEGATIVE_KEYS,
    PROBE_FEATURES,
    STANDIN_KEYS,
    ChunkResult,
    read_line,
)
from vmaf_predictor.runtime.features import FEATURE_NAMES, standin_columns
from vmaf_predictor.registry import Codec

_NUMBER_KEYS = sorted(
    {
        *KEY_SPELLINGS["crf"],
        *KEY_SPELLINGS["vmaf_score"],
        *KEY_SPELLINGS["bitrate_kbps"],
        *NON_NEGATIVE_KEYS,
        *STANDIN_KEYS,
        *PROBE_FEATURES,
    }
)
# JSON has no NaN: NaN is the value of an absent key (this one object).
_ABSENT_NUMBER = math.nan
CorpusLine = msgspec.defstruct(
    "CorpusLine",
    [(name, str | None | UnsetType, UNSET) for name in KEY_SPELLINGS["encoder"]]
    + [(name, float | None, _ABSENT_NUMBER) for name in _NUMBER_KEYS]
    + [("exit_status", int | float | None, 0)],
    gc=False,
)
_DECODER = msgspec.json.Decoder(CorpusLine)
_UNDECODED = CorpusLine()  # the placeholder of a line msgspec rejects
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError)
# Codes of an encoder value that is not a registry name.
_UNKNOWN, _ABSENT, _NULL = -1, -2, -3


def _decode_one(line: bytes, max_line_bytes: int) -> CorpusLine | None:
    # msgspec does not look inside strings it skips: check UTF-8 first.
    if len(line) > max_line_bytes or not (line.isascii() or _is_utf8(line)):
        return None
    try:
        return _DECODER.decode(line)
    except _DECODE_ERRORS:
        return None


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode(lines: list[bytes], max_line_bytes: int) -> tuple[list, list[int]]:
    """Every line decoded (the placeholder where it could not be), and the
    indices of the lines that could not."""
    if all(map(bytes.isascii, lines)) and max(map(len, lines)) <= max_line_bytes:
        try:
            return list(map(_DECODER.decode, lines)), []
        except _DECODE_ERRORS:
            pass  # some line is irregular: find which, line by line
    decoded = [_decode_one(line, max_line_bytes) for line in lines]
    irregular = [i for i, row in enumerate(decoded) if row is None]
    for i in irregular:
        decoded[i] = _UNDECODED
    return decoded, irregular


class _Columns:
    """Columns of the decoded lines, taken on first use; a number is NaN
    where its key is absent or null. ``null`` marks the rows with a null in
    any column taken, ``irregular`` the lines msgspec rejected."""

    def __init__(self, decoded: list, irregular: list[int]) -> None:
        self.decoded = decoded
        self.irregular = np.zeros(len(decoded), dtype=bool)
        self.irregular[irregular] = True
        self.null = np.zeros(len(decoded), dtype=bool)
        self._numbers: dict[str, np.ndarray] = {}
        self._nulls: dict[str, np.ndarray] = {}

    def values(self, name: str) -> list:
        return list(map(attrgetter(name), self.decoded))

    def number(self, name: str) -> np.ndarray:
        if name not in self._numbers:
            values = self.values(name)
            numbers = np.array(values, dtype=np.float64)  # null becomes NaN too
            nan = np.flatnonzero(np.isnan(numbers)).tolist()
            # Absent everywhere: every value is the one default object.
            if nan and values.count(_ABSENT_NUMBER) != len(nan):
                nulls = np.zeros(len(values), dtype=bool)
                nulls[[i for i in nan if values[i] is None]] = True
                self._nulls[name] = nulls
                self.null |= nulls
            self._numbers[name] = numbers
        return self._numbers[name]

    def present(self, name: str) -> np.ndarray:
        """Where the key is in the line, null or not."""
        present = ~np.isnan(self.number(name))
        return present | self._nulls[name] if name in self._nulls else present

    def spelled(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """The key under its canonical spelling, else its first alias that
        is present; and where some spelling is present."""
        canonical, *aliases = KEY_SPELLINGS.get(key, (key,))
        values, present = self.number(canonical), self.present(canonical)
        for alias in aliases:
            absent = ~present & ~self.irregular
            if not absent.any():
                break
            values = np.where(absent, self.number(alias), values)
            present = present | (absent & self.present(alias))
        return values, present

    def encoders(self) -> list:
        canonical, alias = KEY_SPELLINGS["encoder"]
        values = self.values(canonical)
        if values.count(UNSET):
            pairs = zip(values, self.values(alias), strict=True)
            values = [a if v is UNSET else v for v, a in pairs]
        return values

    def exit_failed(self) -> np.ndarray:
        """``exit_status != 0`` (absent is 0, null is not): no non-zero
        number becomes 0.0, and null becomes NaN."""
        values = self.values("exit_status")
        try:
            return np.array(values, dtype=np.float64) != 0
        except OverflowError:  # an integer beyond float range
            return np.array([value != 0 for value in values], dtype=bool)

    def has_probe(self) -> np.ndarray:
        present = ~np.isnan(self.number(PROBE_FEATURES[0]))
        if present.any():
            for name in PROBE_FEATURES[1:]:
                present &= ~np.isnan(self.number(name))
        return present


def split_lines(
    lines: list[bytes],
    complete: bool,
    codecs: Mapping[str, Codec],
    max_line_bytes: int,
    result: ChunkResult,
    keep_every_bad_row: bool,
) -> dict[str, np.ndarray]:
    """Count ``lines`` (a chunk split at its newlines; ``complete``: the last
    one ended with a newline) in ``result``; return each codec's canonical
    rows, in line order."""
    result.lines += len(lines)
    if not lines:
        return {}
    columns = _Columns(*_decode(lines, max_line_bytes))
    names = list(codecs)
    code_of = {name: code for code, name in enumerate(names)}
    encoders = columns.encoders()
    codes = np.fromiter(
        map((code_of | {UNSET: _ABSENT, None: _NULL}).get, encoders, repeat(_UNKNOWN)),
        dtype=np.int64,
        count=len(lines),
    )
    crf, crf_present = columns.spelled("crf")
    score, score_present = columns.spelled("vmaf_score")
    non_negative = [columns.spelled(key)[0] for key in NON_NEGATIVE_KEYS]
    bitrate, framerate, duration, width, height = (
        columns.spelled(key)[0] for key in STANDIN_KEYS
    )
    probe = columns.has_probe()
    failed = columns.exit_failed()
    # Every column is taken now. The rules first need an encoder string and
    # the quality and score keys (null or not); then they drop failed
    # encodes, null scores and unknown encoders whatever else the row holds.
    # A row they would go on to read with a null in it is theirs to decide.
    slow = columns.irregular | (codes <= _ABSENT) | ~crf_present | ~score_present
    result.drop("exit_status not 0", int(np.count_nonzero(~slow & failed)))
    undecided = ~slow & ~failed
    null_score = undecided & np.isnan(score)  # present, so null
    result.drop("score null or not finite", int(np.count_nonzero(null_score)))
    undecided &= ~null_score
    unknown = np.flatnonzero(undecided & (codes == _UNKNOWN)).tolist()
    for encoder, rows in Counter(encoders[i] for i in unknown).items():
        result.drop_unknown(encoder, rows)
    candidate = undecided & (codes >= 0)
    slow |= candidate & columns.null
    candidate &= ~columns.null
    limits = np.array([[c.quality_min, c.quality_max] for c in codecs.values()])
    quality_min, quality_max = limits[np.maximum(codes, 0)].T
    fine = (score >= 0) & (score <= 100) & (quality_min <= crf) & (crf <= quality_max)
    for values in non_negative:
        fine &= ~(values < 0)  # absent (NaN) is fine
    standin = ~np.isnan(bitrate) & ~np.isnan(duration)
    standin &= (framerate > 0) & (width >= 1) & (height >= 1)
    fine &= probe | standin
    slow |= candidate & ~fine
    kept = candidate & fine
    result.rows_read += int(np.count_nonzero(~slow))

    table = np.empty((len(lines), len(FEATURE_NAMES) + 1))
    probe_rows, standin_rows = kept & probe, kept & ~probe
    if probe_rows.any():
        features = [crf, *map(columns.number, PROBE_FEATURES), score]
        table[probe_rows] = np.column_stack(features)[probe_rows]
    if standin_rows.any():
        inputs = (crf, bitrate, framerate, duration, width, height)
        derived = standin_columns(*(column[standin_rows] for column in inputs))
        features = [derived[name] for name in FEATURE_NAMES]
        table[standin_rows] = np.column_stack([*features, score[standin_rows]])
    row_codes = np.where(kept, codes, _UNKNOWN)
    for i in np.flatnonzero(slow).tolist():
        line = lines[i] if len(lines[i]) <= max_line_bytes else None
        has_newline = complete or i < len(lines) - 1
        outcome = read_line(
            result, i + 1, line, has_newline, codecs, max_line_bytes, keep_every_bad_row
        )
        if outcome is not None:
            codec, row, probe[i] = outcome
            table[i] = row
            row_codes[i] = code_of[codec]

    tables = {}
    for code, name in enumerate(names):
        rows = row_codes == code
        if rows.any():
            result.keep(name, int(np.count_nonzero(rows)), bool(probe[rows].all()))
            tables[name] = table[rows]
    return tables
