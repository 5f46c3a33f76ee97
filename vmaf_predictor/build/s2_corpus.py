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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmaf_predictor.registry import Codec, codec_from_config
from vmaf_predictor.runtime.features import FEATURE_NAMES, standin_features

if TYPE_CHECKING:  # pandas is imported where it is used: parsing stays cheap
    import pandas as pd

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
    """The deterministic stub corpus of ``codec``.

    Per row: CRF uniform in 18..45; frame size cycling over RESOLUTIONS and
    frame rate over FRAME_RATES; 4-10 s; a complexity factor 0.6-1.8 scaling
    the bitrate; target = the codec's analytical curve plus Gaussian noise
    (sigma NOISE_SIGMA), clamped to [0, 100].

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


def synthetic_table(codec: Codec, n_rows: int) -> pd.DataFrame:
    """:func:`synthetic_rows` as a training table (``src`` empty)."""
    import pandas as pd

    table = pd.DataFrame(synthetic_rows(codec, n_rows), columns=list(COLUMNS))
    table["src"] = ""
    return table


def table_bytes(rows: pd.DataFrame) -> bytes:
    """The canonical text of training rows, whose sha256 is the corpus
    digest on the card: a CSV of COLUMNS with shortest exact ``repr`` floats,
    LF line ends. Defined by the values alone, not by any file format."""
    lines = [",".join(COLUMNS)]
    lines += [
        ",".join(map(repr, row)) for row in rows[list(COLUMNS)].to_numpy().tolist()
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def read_table(path: str | Path) -> pd.DataFrame:
    """A codec's training table (Parquet): COLUMNS as float64, then ``src``."""
    import pandas as pd

    table = pd.read_parquet(path)
    if tuple(table.columns[: len(COLUMNS)]) != COLUMNS:
        raise ValueError(
            f"{path}: columns {list(table.columns)} do not start with {COLUMNS}"
        )
    return table


def write_corpus(
    rows: pd.DataFrame, info_fields: dict[str, str], table_path: Path, info_path: Path
) -> CorpusInfo:
    """Write the training table (Parquet) and its info JSON; return the info."""
    info = CorpusInfo(
        rows=len(rows),
        sha256=hashlib.sha256(table_bytes(rows)).hexdigest(),
        **info_fields,
    )
    rows.to_parquet(table_path, index=False)
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
    import pandas as pd

    if input.real:
        rows = pd.read_parquet(input.real)
        fields = {"kind": "real", "features": params.real_features}
    else:
        entry = codec_from_config(codec, params.codec)
        rows = synthetic_table(entry, params.synthetic_rows)
        fields = {"kind": "synthetic-stub", "features": "stand-in"}
    info = write_corpus(rows, {"codec": codec, **fields}, output.table, output.info)
    return f"{info.codec}: {info.label}, sha256 {info.sha256}"
