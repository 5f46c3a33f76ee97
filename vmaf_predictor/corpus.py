"""Stage 1: the training rows of one codec.

A codec is trained from a real corpus when one is configured and has rows for
it; otherwise from a deterministic synthetic stub corpus seeded by its name.
Either way the stage writes the same canonical table: one CSV row per
training example, the 14 model features in graph order plus the VMAF target.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vmaf_predictor.features import FEATURE_NAMES, standin_features
from vmaf_predictor.registry import Codec

TARGET = "vmaf"
COLUMNS: tuple[str, ...] = (*FEATURE_NAMES, TARGET)

RESOLUTIONS: tuple[tuple[int, int], ...] = (
    (1920, 1080),
    (1280, 720),
    (3840, 2160),
    (854, 480),
)
FRAME_RATES: tuple[int, ...] = (24, 30, 60)
SYNTHETIC_CRF_RANGE = (18, 45)
NOISE_SIGMA = 0.5


@dataclass(frozen=True)
class CorpusInfo:
    """What the card and the report need to know about a codec's rows."""

    codec: str
    kind: str  # "synthetic-stub" or "real"
    rows: int
    features: str  # "probe" or "stand-in"
    sha256: str

    @property
    def label(self) -> str:
        """``synthetic-stub-N=100`` or ``real-N=<rows>``, as on the card."""
        return f"{self.kind}-N={self.rows}"


def codec_seed(codec_name: str) -> int:
    """The synthetic corpus seed: sha256 of the codec name, mod 2**31."""
    digest = hashlib.sha256(codec_name.encode("utf-8")).digest()
    return int.from_bytes(digest, "big") % 2**31


def _gaussian(rng: random.Random) -> float:
    # Box-Muller from random.random(): the one stream Python promises to keep
    # stable across versions (random.gauss is not covered by that promise).
    u1, u2 = rng.random(), rng.random()
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def synthetic_bitrate(width: int, height: int, crf: float, complexity: float) -> float:
    """The probe bitrate (kbps) of a synthetic shot: falls as CRF rises."""
    return round(width * height / 1000.0 * math.exp(-(crf - 23) * 0.05) * complexity, 3)


def synthetic_rows(codec: Codec, n_rows: int) -> list[dict[str, float]]:
    """The deterministic stub corpus of ``codec`` (recipe in facts.md).

    Values are rounded to the precision a real sweep records (kbps to 1e-3,
    VMAF to 1e-4), which also absorbs the last-bit differences between libm
    builds of exp/log/cos on different CPUs.
    """
    rng = random.Random(codec_seed(codec.name))
    crf_low, crf_high = SYNTHETIC_CRF_RANGE
    rows = []
    for i in range(n_rows):
        crf = crf_low + math.floor(rng.random() * (crf_high - crf_low + 1))
        width, height = RESOLUTIONS[i % len(RESOLUTIONS)]
        fps = FRAME_RATES[i % len(FRAME_RATES)]
        duration_s = round(4.0 + 6.0 * rng.random(), 3)
        complexity = 0.6 + 1.2 * rng.random()
        bitrate = synthetic_bitrate(width, height, crf, complexity)
        vmaf = codec.analytical_vmaf(crf, bitrate) + NOISE_SIGMA * _gaussian(rng)
        row = standin_features(crf, bitrate, fps, duration_s, width, height)
        row[TARGET] = round(min(100.0, max(0.0, vmaf)), 4)
        rows.append(row)
    return rows


def table_header() -> bytes:
    """The first line of a canonical table."""
    return (",".join(COLUMNS) + "\n").encode("utf-8")


def table_line(row: Mapping[str, float]) -> bytes:
    """One row of a canonical table: shortest exact ``repr`` floats, LF."""
    return (",".join([repr(float(row[name])) for name in COLUMNS]) + "\n").encode()


def table_bytes(rows: Sequence[Mapping[str, float]]) -> bytes:
    """The canonical CSV encoding of training rows."""
    return table_header() + b"".join(table_line(row) for row in rows)


def read_table(path: Path) -> list[dict[str, float]]:
    """Read a canonical table written by :func:`write_corpus`."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = tuple(next(reader))
        if header != COLUMNS:
            raise ValueError(f"{path}: header {header!r} is not {COLUMNS!r}")
        return [dict(zip(COLUMNS, map(float, line), strict=True)) for line in reader]


def read_split_table(path: Path) -> list[dict[str, float]]:
    """Read a codec's table from the corpus split: float64 rows of COLUMNS."""
    array = np.load(path, allow_pickle=False)
    if array.ndim != 2 or array.shape[1] != len(COLUMNS):
        raise ValueError(f"{path}: shape {array.shape} is not (rows, {len(COLUMNS)})")
    return [dict(zip(COLUMNS, row, strict=True)) for row in array.tolist()]


def write_corpus(
    rows: Sequence[dict[str, float]],
    info_fields: dict[str, str],
    table_path: Path,
    info_path: Path,
) -> CorpusInfo:
    """Write the canonical table and its info JSON; return the info."""
    data = table_bytes(rows)
    info = CorpusInfo(
        rows=len(rows), sha256=hashlib.sha256(data).hexdigest(), **info_fields
    )
    Path(table_path).write_bytes(data)
    Path(info_path).write_text(
        json.dumps(asdict(info), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return info


def read_info(path: Path) -> CorpusInfo:
    """Read the info JSON written by :func:`write_corpus`."""
    return CorpusInfo(**json.loads(Path(path).read_text(encoding="utf-8")))


def build_corpus(
    codec: Codec,
    synthetic_rows_count: int,
    real_table: Path | None,
    real_features: str,
    table_path: Path,
    info_path: Path,
) -> CorpusInfo:
    """Stage entry point: write the codec's training rows and their info.

    ``real_table`` is the codec's table from the corpus split (None when the
    corpus has fewer than two rows for it, or there is no corpus): the
    codec then falls back to its synthetic stub.
    """
    if real_table is not None:
        rows = read_split_table(real_table)
        fields = {"kind": "real", "features": real_features}
    else:
        rows = synthetic_rows(codec, synthetic_rows_count)
        fields = {"kind": "synthetic-stub", "features": "stand-in"}
    return write_corpus(rows, {"codec": codec.name, **fields}, table_path, info_path)
