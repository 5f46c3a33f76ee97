"""One corpus line in, one canonical training row out: the exact rules.

This is the reference the split is held to. The split's fast path
(:mod:`vmaf_predictor.corpus_columns`) decides whole columns at once and
hands every row it cannot decide exactly the same way to :func:`read_line`.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from vmaf_predictor.build.s2_corpus import COLUMNS
from vmaf_predictor.runtime.features import FEATURE_NAMES, standin_features
from vmaf_predictor.registry import Codec

# Canonical Phase A keys first, then the aliases older hardware sweeps use.
KEY_SPELLINGS: dict[str, tuple[str, ...]] = {
    "encoder": ("encoder", "codec"),
    "crf": ("crf", "q", "cq"),
    "vmaf_score": ("vmaf_score", "vmaf"),
    "bitrate_kbps": ("bitrate_kbps", "actual_kbps"),
}
PROBE_FEATURES = tuple(name for name in FEATURE_NAMES if name != "crf")
STANDIN_KEYS = ("bitrate_kbps", "framerate", "duration_s", "width", "height")
NON_NEGATIVE_KEYS = ("bitrate_kbps", "encode_size_bytes", "width", "height")
SPELLINGS_OF = {key: KEY_SPELLINGS.get(key, (key,)) for key in NON_NEGATIVE_KEYS}
PROBE_KEYS = frozenset(PROBE_FEATURES)
BAD_ROWS_SHOWN = 20
# A canonical row as the split stores it: COLUMNS as little-endian float64.
ROW_FORMAT = struct.Struct(f"<{len(COLUMNS)}d")
UNKNOWN_ENCODER = "encoder not one of the codecs"


class BadRow(ValueError):
    """One line that is not a well-formed corpus row."""


class Dropped(Exception):
    """A well-formed row that is not training data; args[0] is the reason."""


@dataclass
class ChunkResult:
    """What a run of lines held; the rows kept are written elsewhere."""

    lines: int = 0
    rows_read: int = 0
    kept: dict[str, list] = field(default_factory=dict)  # codec -> [rows, probe]
    dropped: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)
    bad_rows: list[list] = field(default_factory=list)  # [line in chunk, reason]
    bad_total: int = 0

    def keep(self, codec: str, rows: int, probe: bool) -> None:
        entry = self.kept.setdefault(codec, [0, True])
        entry[0] += rows
        entry[1] = entry[1] and probe

    def drop(self, reason: str, rows: int = 1) -> None:
        if rows:
            self.dropped[reason] = self.dropped.get(reason, 0) + rows

    def drop_unknown(self, encoder: str, rows: int = 1) -> None:
        self.drop(UNKNOWN_ENCODER, rows)
        self.unknown[encoder] = self.unknown.get(encoder, 0) + rows

    def bad(self, line: int, reason: str, keep_every_bad_row: bool) -> None:
        self.bad_total += 1
        if keep_every_bad_row or len(self.bad_rows) < BAD_ROWS_SHOWN:
            self.bad_rows.append([line, reason])


def _get(record: Mapping[str, Any], key: str) -> Any:
    if key in record:  # the canonical spelling: the common, fast case
        return record[key]
    spellings = KEY_SPELLINGS.get(key, (key,))
    for spelling in spellings:
        if spelling in record:
            return record[spelling]
    raise BadRow(f"missing key {' / '.join(spellings)}")


def _number(record: Mapping[str, Any], key: str) -> float:
    value = _get(record, key)
    # type() rather than isinstance(): bool is an int subclass, and not a number.
    if type(value) is not float and type(value) is not int:
        raise BadRow(f"{key} must be a number, got {json.dumps(value)}")
    return float(value)


def _finite(record: Mapping[str, Any], key: str) -> float:
    value = _number(record, key)
    if not math.isfinite(value):
        raise BadRow(f"{key} must be finite, got {value}")
    return value


def training_row(
    record: Any, codecs: Mapping[str, Codec]
) -> tuple[str, list[float], bool]:
    """(codec, canonical row in COLUMNS order, has probe features) of one
    decoded JSON line.

    Raises :class:`BadRow` for a malformed row and :class:`Dropped` for a
    well-formed one that is not training data.
    """
    if not isinstance(record, dict):
        raise BadRow("not a JSON object")
    encoder = _get(record, "encoder")
    if not isinstance(encoder, str):
        raise BadRow(f"encoder must be a string, got {json.dumps(encoder)}")
    _get(record, "crf")
    score = _get(record, "vmaf_score")
    if record.get("exit_status", 0) != 0:
        raise Dropped("exit_status not 0")
    if score is None:
        raise Dropped("score null or not finite")
    vmaf = _number(record, "vmaf_score")
    if not math.isfinite(vmaf):
        raise Dropped("score null or not finite")
    if encoder not in codecs:
        raise Dropped(f"encoder {encoder}")
    codec = codecs[encoder]
    if not 0.0 <= vmaf <= 100.0:
        raise BadRow(f"vmaf_score {vmaf:g} is outside [0, 100]")
    crf = _number(record, "crf")
    if not codec.quality_min <= crf <= codec.quality_max:
        raise BadRow(
            f"crf {crf:g} is outside {encoder}'s range "
            f"[{codec.quality_min:g}, {codec.quality_max:g}]"
        )
    for key in NON_NEGATIVE_KEYS:
        if any(spelling in record for spelling in SPELLINGS_OF[key]):
            value = _number(record, key)
            if not (math.isfinite(value) and value >= 0):
                raise BadRow(f"{key} must be finite and not negative, got {value:g}")
    has_probe = record.keys() >= PROBE_KEYS
    if has_probe:
        features = [_finite(record, name) for name in PROBE_FEATURES]
    else:
        values = {key: _finite(record, key) for key in STANDIN_KEYS}
        if values["framerate"] <= 0 or values["width"] < 1 or values["height"] < 1:
            raise BadRow("framerate, width and height must be positive")
        standin = standin_features(crf, *values.values())
        features = [standin[name] for name in PROBE_FEATURES]
    return encoder, [crf, *features, vmaf], has_probe


def decode_line(line: bytes, complete: bool) -> Any:
    """One line's JSON value; :class:`BadRow` naming why it has none."""
    try:
        return msgspec.json.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError):
        pass  # json names the exact problem (and accepts NaN and huge numbers)
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRow(f"not UTF-8 (byte {error.start + 1})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if not complete:
            raise BadRow(
                "truncated last line (no newline at the end of the file: "
                "was the sweep killed mid-write?)"
            ) from None
        raise BadRow(f"not valid JSON ({error.msg}, column {error.colno})") from None


def read_line(
    result: ChunkResult,
    number: int,
    line: bytes | None,
    complete: bool,
    codecs: Mapping[str, Codec],
    max_line_bytes: int,
    keep_every_bad_row: bool,
) -> tuple[str, list[float], bool] | None:
    """Count line ``number`` (None: over the length limit) in ``result``;
    return (codec, canonical row, has probe features) when it is training
    data. Blank lines are not rows."""
    if line is not None and not line.strip():
        return None
    result.rows_read += 1
    try:
        if line is None:
            raise BadRow(f"line is longer than {max_line_bytes} bytes")
        return training_row(decode_line(line, complete), codecs)
    except Dropped as reason:
        if reason.args[0].startswith("encoder "):
            result.drop_unknown(reason.args[0].removeprefix("encoder "))
        else:
            result.drop(reason.args[0])
    except BadRow as error:
        result.bad(number, str(error), keep_every_bad_row)
    return None
