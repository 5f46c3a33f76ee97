"""Stage 2: the training rows of one codec.

A codec is trained from a real corpus when one is configured and has rows for
it; otherwise from a deterministic synthetic stub corpus seeded by its name.
Either way the stage writes the same table: a Parquet file with one row per
training example, the 14 model features in graph order, the VMAF target and
the row's source clip (``src``, empty for synthetic rows).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmaf_predictor.registry import Codec, codec_from_config
from vmaf_predictor.runtime.corpus import TARGET
from vmaf_predictor.runtime.features import FEATURE_NAMES, NOT_MEASURED

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

# A table as the jobs pass it: column name -> values (lists, or NumPy arrays
# for tests and tools). Parquet is read and written with pyarrow alone: the
# environment has no pandas (importing it cost every job, and every
# Snakemake start, 0.3 s; docs/speed.md).
Columns = Mapping[str, Sequence]

COLUMNS: tuple[str, ...] = (*FEATURE_NAMES, TARGET)

RESOLUTIONS: tuple[tuple[int, int], ...] = (
    (1920, 1080),
    (1280, 720),
    (3840, 2160),
    (854, 480),
)
FRAME_RATES: tuple[int, ...] = (24, 30, 60)
# Bits per pixel of a fast probe encode, from flat content to heavy grain.
PROBE_BPP = (0.01, 0.4)
# Share of shots whose probe was not measured.
PROBE_FAILED = 0.1
PROBE_FEATURES = (
    "probe_bitrate_kbps",
    "probe_i_frame_avg_bytes",
    "probe_p_frame_avg_bytes",
    "probe_b_frame_avg_bytes",
)
NOISE_SIGMA = 0.5


@dataclass(frozen=True)
class CorpusInfo:
    """What the card and the report need to know about a codec's rows."""

    codec: str
    kind: str  # "synthetic-stub" or "real"
    rows: int
    features: str  # "synthetic", "probe" or "stand-in" (see s7_card)
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


def synthetic_rows(codec: Codec, n_rows: int) -> list[dict[str, float]]:
    """The deterministic stub corpus of ``codec``: shots as the consumer
    measures them (see :mod:`vmaf_predictor.runtime.features`).

    Per row: a quality value uniform over the codec's whole range; frame size
    cycling over RESOLUTIONS, frame rate over FRAME_RATES; 4-10 s; a probe
    encode of PROBE_BPP bits per pixel (log-uniform, independent of the
    quality value, as the probe runs at a fixed one), with I/P/B frame sizes
    around its average frame (B frames in half of the shots); saliency and
    signalstats figures in their usual ranges (``y_var`` is the consumer's
    (YHIGH + YLOW) / 2 proxy, near ``y_avg``). In PROBE_FAILED of the rows the
    probe was not measured (0.0, as the consumer sends when its probe fails).
    Target: the codec's analytical curve at that quality value and probe
    bitrate, plus Gaussian noise (sigma NOISE_SIGMA), clamped to [0, 100].

    Values are rounded to the precision a real sweep records, which also
    absorbs last-bit differences between libm builds of exp/log/cos.
    """
    rng = random.Random(codec_seed(codec.name))
    low, high = int(codec.quality_min), int(codec.quality_max)
    bpp_low, bpp_high = PROBE_BPP
    rows = []
    for i in range(n_rows):
        crf = low + math.floor(rng.random() * (high - low + 1))
        width, height = RESOLUTIONS[i % len(RESOLUTIONS)]
        fps = FRAME_RATES[i % len(FRAME_RATES)]
        duration_s = 4.0 + 6.0 * rng.random()
        bpp = bpp_low * (bpp_high / bpp_low) ** rng.random()
        bitrate = round(width * height * fps * bpp / 1000.0, 3)
        frame_bytes = bitrate * 1000.0 / 8.0 / fps
        with_b_frames = rng.random() < 0.5
        y_avg = 40.0 + 160.0 * rng.random()
        # Drawn in this order (the corpus bytes depend on it).
        i_frame = frame_bytes * (2.0 + 6.0 * rng.random())
        p_frame = frame_bytes * (0.5 + 0.5 * rng.random())
        b_frame = frame_bytes * 0.5 * rng.random() if with_b_frames else 0.0
        saliency_mean = 0.2 + 0.6 * rng.random()
        saliency_var = 0.01 + 0.07 * rng.random()
        frame_diff = 0.5 + 19.5 * rng.random()
        y_var = min(235.0, max(16.0, y_avg - 20.0 + 40.0 * rng.random()))
        row = {
            "crf": float(crf),
            "probe_bitrate_kbps": bitrate,
            "probe_i_frame_avg_bytes": round(i_frame, 1),
            "probe_p_frame_avg_bytes": round(p_frame, 1),
            "probe_b_frame_avg_bytes": round(b_frame, 1),
            "saliency_mean": round(saliency_mean, 4),
            "saliency_var": round(saliency_var, 4),
            "frame_diff_mean": round(frame_diff, 3),
            "y_avg": round(y_avg, 2),
            "y_var": round(y_var, 2),
            "shot_length_frames": float(max(1, round(duration_s * fps))),
            "fps": float(fps),
            "width": float(width),
            "height": float(height),
        }
        if rng.random() < PROBE_FAILED:
            for name in PROBE_FEATURES:
                row[name] = NOT_MEASURED
        vmaf = codec.analytical_vmaf(crf, row["probe_bitrate_kbps"])
        vmaf += NOISE_SIGMA * _gaussian(rng)
        row[TARGET] = round(min(100.0, max(0.0, vmaf)), 4)
        rows.append(row)
    return rows


def synthetic_columns(codec: Codec, n_rows: int) -> dict[str, list]:
    """:func:`synthetic_rows` as a training table (``src`` empty)."""
    rows = synthetic_rows(codec, n_rows)
    return {name: [row[name] for row in rows] for name in COLUMNS} | {
        "src": [""] * n_rows
    }


def table_of(
    features: Sequence[Sequence[float]], targets: Sequence[float], src: Sequence[str]
) -> dict[str, list]:
    """A training table of feature rows (FEATURE_NAMES order), their targets
    and sources."""
    columns = [list(column) for column in zip(*features, strict=True)]
    return dict(zip(FEATURE_NAMES, columns, strict=True)) | {
        TARGET: list(targets),
        "src": list(src),
    }


def table_rows(table: Columns, names: Sequence[str] = FEATURE_NAMES) -> list[list]:
    """The rows of ``table``'s columns ``names``, as Python floats."""
    columns = (table[name] for name in names)
    return [[float(v) for v in row] for row in zip(*columns, strict=True)]


def table_bytes(rows: Columns) -> bytes:
    """The canonical text of training rows, whose sha256 is the corpus
    digest on the card: a CSV of COLUMNS with shortest exact ``repr`` floats,
    LF line ends. Defined by the values alone, not by any file format."""
    lines = [",".join(COLUMNS)]
    lines += [",".join(map(repr, row)) for row in table_rows(rows, COLUMNS)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _check_columns(path: str | Path, names: Sequence[str]) -> None:
    if tuple(names[: len(COLUMNS)]) != COLUMNS:
        raise ValueError(f"{path}: columns {list(names)} do not start with {COLUMNS}")


def _read(path: str | Path) -> pa.Table:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path).read()
    _check_columns(path, table.column_names)
    return table


def read_table(path: str | Path) -> dict[str, np.ndarray]:
    """:func:`read_columns` as NumPy arrays (``src`` an object array)."""
    table = _read(path)
    return {n: table.column(n).to_numpy() for n in table.column_names}


def read_columns(path: str | Path) -> dict[str, list]:
    """A codec's training table (Parquet): COLUMNS as float64, then ``src``,
    as lists."""
    return _read(path).to_pydict()


def write_corpus(
    rows: Columns, info_fields: dict[str, str], table_path: Path, info_path: Path
) -> CorpusInfo:
    """Write the training table (Parquet) and its info JSON; return the info."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    info = CorpusInfo(
        rows=len(rows[TARGET]),
        sha256=hashlib.sha256(table_bytes(rows)).hexdigest(),
        **info_fields,
    )
    pq.write_table(pa.table({name: pa.array(rows[name]) for name in rows}), table_path)
    Path(info_path).write_text(
        json.dumps(asdict(info), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return info


def read_info(path: Path) -> CorpusInfo:
    """Read the info JSON written by :func:`write_corpus`."""
    return CorpusInfo(**json.loads(Path(path).read_text(encoding="utf-8")))


def run(input: Any, output: Any, params: Any, codec: str) -> str:
    """Stage entry point: the codec's training table and its info.

    ``input.real`` is the codec's table from the corpus split ([] when the
    corpus has fewer than two rows for it, or there is no corpus): the codec
    then falls back to its synthetic stub.
    """
    if input.real:
        rows = read_columns(input.real)
        fields = {"kind": "real", "features": params.real_features}
    else:
        entry = codec_from_config(codec, params.codec)
        rows = synthetic_columns(entry, params.synthetic_rows)
        fields = {"kind": "synthetic-stub", "features": "synthetic"}
    info = write_corpus(rows, {"codec": codec, **fields}, output.table, output.info)
    return f"{info.codec}: {info.label}, sha256 {info.sha256}"
