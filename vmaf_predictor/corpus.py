"""Stage 1: the training rows of one codec.

A codec is trained from a real corpus when one is configured and has rows for
it; otherwise from a deterministic synthetic stub corpus seeded by its name.
Either way the stage writes the same canonical table: one CSV row per
training example, the 14 model features in graph order plus the VMAF target.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from vmaf_predictor.features import FEATURE_NAMES, standin_features
from vmaf_predictor.registry import Codec

log = logging.getLogger(__name__)

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
        bitrate = width * height / 1000.0 * math.exp(-(crf - 23) * 0.05) * complexity
        bitrate = round(bitrate, 3)
        vmaf = codec.analytical_vmaf(crf, bitrate) + NOISE_SIGMA * _gaussian(rng)
        row = standin_features(crf, bitrate, fps, duration_s, width, height)
        row[TARGET] = round(min(100.0, max(0.0, vmaf)), 4)
        rows.append(row)
    return rows


def table_bytes(rows: Sequence[dict[str, float]]) -> bytes:
    """The canonical CSV encoding of training rows (``repr`` floats, LF)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([repr(float(row[name])) for name in COLUMNS])
    return buffer.getvalue().encode("utf-8")


def read_table(path: Path) -> list[dict[str, float]]:
    """Read a canonical table written by :func:`write_corpus`."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = tuple(next(reader))
        if header != COLUMNS:
            raise ValueError(f"{path}: header {header!r} is not {COLUMNS!r}")
        return [dict(zip(COLUMNS, map(float, line), strict=True)) for line in reader]


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


# Canonical Phase A keys first, then the aliases older hardware sweeps use.
KEY_SPELLINGS: dict[str, tuple[str, ...]] = {
    "encoder": ("encoder", "codec"),
    "crf": ("crf", "q", "cq"),
    "vmaf_score": ("vmaf_score", "vmaf"),
    "bitrate_kbps": ("bitrate_kbps", "actual_kbps"),
}
PROBE_FEATURES = tuple(name for name in FEATURE_NAMES if name != "crf")


def corpus_files(path: Path) -> list[Path]:
    """A JSONL file, or the ``*.jsonl`` shards below a directory, sorted."""
    path = Path(path)
    if path.is_dir():
        shards = sorted(path.rglob("*.jsonl"))
        if not shards:
            raise FileNotFoundError(f"corpus directory {path} holds no *.jsonl shards")
        return shards
    if not path.is_file():
        raise FileNotFoundError(f"corpus {path} does not exist")
    return [path]


def _get(row: dict, key: str) -> object:
    for spelling in KEY_SPELLINGS.get(key, (key,)):
        if spelling in row:
            return row[spelling]
    return None


def _number(row: dict, key: str, where: str) -> float:
    value = _get(row, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)


def real_rows(
    codec: Codec, files: Sequence[Path]
) -> tuple[list[dict[str, float]], bool]:
    """The training rows of ``codec`` in a Phase A corpus, and whether every
    one of them carried real probe statistics.

    Rows of other encoders, failed encodes and rows without a finite score
    are not training data and are skipped; a malformed row stops the build
    with ``file:line: reason``.
    """
    rows, probed = [], True
    for path in files:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{where}: not valid JSON ({error.msg})") from None
                if not isinstance(record, dict):
                    raise ValueError(f"{where}: not a JSON object")
                if _get(record, "encoder") != codec.name:
                    continue
                if record.get("exit_status", 0) != 0:
                    continue
                score = _get(record, "vmaf_score")
                if not isinstance(score, int | float) or not math.isfinite(score):
                    continue
                row, has_probe = _training_row(codec, record, where)
                rows.append(row)
                probed = probed and has_probe
    return rows, probed


def _training_row(
    codec: Codec, record: dict, where: str
) -> tuple[dict[str, float], bool]:
    crf = _number(record, "crf", where)
    if not codec.quality_min <= crf <= codec.quality_max:
        raise ValueError(
            f"{where}: crf {crf:g} is outside {codec.name}'s range "
            f"[{codec.quality_min:g}, {codec.quality_max:g}]"
        )
    vmaf = _number(record, "vmaf_score", where)
    if not 0.0 <= vmaf <= 100.0:
        raise ValueError(f"{where}: vmaf_score {vmaf:g} is outside [0, 100]")
    has_probe = all(name in record for name in PROBE_FEATURES)
    if has_probe:
        row = {name: _number(record, name, where) for name in PROBE_FEATURES}
        row["crf"] = crf
    else:
        row = standin_features(
            crf,
            _number(record, "bitrate_kbps", where),
            _number(record, "framerate", where),
            _number(record, "duration_s", where),
            int(_number(record, "width", where)),
            int(_number(record, "height", where)),
        )
    row[TARGET] = vmaf
    return {name: row[name] for name in COLUMNS}, has_probe


def build_corpus(
    codec: Codec,
    synthetic_rows_count: int,
    real_corpus: Path | None,
    table_path: Path,
    info_path: Path,
) -> CorpusInfo:
    """Stage entry point: write the codec's training rows and their info.

    Real rows when the corpus has at least two for this codec (one to train
    on, one to hold out); otherwise the synthetic stub.
    """
    rows, probed = (
        real_rows(codec, corpus_files(real_corpus)) if real_corpus else ([], False)
    )
    if len(rows) >= 2:
        fields = {"kind": "real", "features": "probe" if probed else "stand-in"}
    else:
        if real_corpus:
            log.info(
                "%s: %d usable rows in %s, falling back to the synthetic stub",
                codec.name,
                len(rows),
                real_corpus,
            )
        rows = synthetic_rows(codec, synthetic_rows_count)
        fields = {"kind": "synthetic-stub", "features": "stand-in"}
    return write_corpus(rows, {"codec": codec.name, **fields}, table_path, info_path)
