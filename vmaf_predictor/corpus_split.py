"""Read a real corpus once and split it into one canonical table per codec.

The workflow calls :func:`split` when it starts, before any job: bad rows stop
the build there, and each codec's table is rewritten only when its content
changes, so its mtime (what Snakemake compares) moves only then. Touching or
rewriting the corpus with the same rows retrains nothing; editing one codec's
rows retrains that codec only.

Lines are read in bytes with a length limit and written straight to the
per-codec tables, so memory stays flat however large the corpus is.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vmaf_predictor.corpus import COLUMNS, TARGET, table_header, table_line
from vmaf_predictor.features import FEATURE_NAMES, standin_features
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
SPELLINGS_OF = {
    key: frozenset(KEY_SPELLINGS.get(key, (key,))) for key in NON_NEGATIVE_KEYS
}
PROBE_KEYS = frozenset(PROBE_FEATURES)
BAD_ROWS_SHOWN = 20
MANIFEST = "manifest.json"


class CorpusError(ValueError):
    """The corpus has bad rows (strict mode) or cannot be read."""


class BadRow(ValueError):
    """One line that is not a well-formed corpus row."""


class Dropped(Exception):
    """A well-formed row that is not training data; args[0] is the reason."""


@dataclass
class CodecRows:
    rows: int = 0
    sha256: str = ""
    probe: bool = True  # every row carried real probe statistics


@dataclass
class SplitReport:
    """What was read, kept and dropped; written as the corpus report."""

    files: list[str]
    rows_read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    unknown_encoders: dict[str, int] = field(default_factory=dict)
    bad_rows: list[str] = field(default_factory=list)
    bad_total: int = 0
    codecs: dict[str, CodecRows] = field(default_factory=dict)
    digest: str = ""
    fingerprint: list[Any] = field(default_factory=list)

    def table(self, codec: str, out_dir: Path) -> Path | None:
        """The codec's table when it has enough rows to train on."""
        entry = self.codecs.get(codec)
        return Path(out_dir) / f"{codec}.csv" if entry and entry.rows >= 2 else None


def corpus_files(path: str | Path) -> list[Path]:
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


def training_row(
    record: Any, codecs: Mapping[str, Codec]
) -> tuple[str, dict[str, float], bool]:
    """(codec, canonical row, has probe features) of one decoded JSON line.

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
        if not SPELLINGS_OF[key].isdisjoint(record):
            value = _number(record, key)
            if not (math.isfinite(value) and value >= 0):
                raise BadRow(f"{key} must be finite and not negative, got {value:g}")
    has_probe = record.keys() >= PROBE_KEYS
    if has_probe:
        row = {name: _number(record, name) for name in PROBE_FEATURES}
        row["crf"] = crf
    else:
        values = {key: _number(record, key) for key in STANDIN_KEYS}
        if values["framerate"] <= 0 or values["width"] < 1 or values["height"] < 1:
            raise BadRow("framerate, width and height must be positive")
        row = standin_features(
            crf,
            values["bitrate_kbps"],
            values["framerate"],
            values["duration_s"],
            int(values["width"]),
            int(values["height"]),
        )
    row[TARGET] = vmaf
    return encoder, {name: row[name] for name in COLUMNS}, has_probe


def _lines(path: Path, max_line_bytes: int) -> Iterator[tuple[int, bytes | None, bool]]:
    """(line number, bytes or None when too long, ends with a newline)."""
    with open(path, "rb") as handle:
        number = 0
        while True:
            line = handle.readline(max_line_bytes + 1)
            if not line:
                return
            number += 1
            if len(line) > max_line_bytes and not line.endswith(b"\n"):
                # Skip the rest of the line without holding it in memory.
                while line and not line.endswith(b"\n"):
                    line = handle.readline(1 << 20)
                yield number, None, True
            else:
                yield number, line, line.endswith(b"\n")


def _decode(line: bytes, complete: bool) -> Any:
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


def fingerprint(files: list[Path], options: Mapping[str, Any]) -> list[Any]:
    """Cheap identity of the corpus files and split options (no reading)."""
    stats = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return [[list(s) for s in stats], dict(options)]


def split(
    corpus: str | Path,
    codecs: Mapping[str, Codec],
    out_dir: str | Path,
    bad_rows: str = "strict",
    max_line_bytes: int = 1 << 20,
) -> SplitReport:
    """Split ``corpus`` into ``out_dir/<codec>.csv``; return the report.

    Reuses the previous split when the files and options are unchanged.
    Raises :class:`CorpusError` for bad rows unless ``bad_rows == "skip"``.
    """
    out_dir = Path(out_dir)
    files = corpus_files(corpus)
    options = {"bad_rows": bad_rows, "max_line_bytes": max_line_bytes}
    options["codecs"] = sorted((name, asdict(c)) for name, c in codecs.items())
    stamp = json.loads(json.dumps(fingerprint(files, options)))
    previous = _read_manifest(out_dir)
    if previous is not None and previous.fingerprint == stamp:
        return previous

    out_dir.mkdir(parents=True, exist_ok=True)
    report = SplitReport(files=[str(p) for p in files], fingerprint=stamp)
    dropped: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    writers: dict[str, tuple[Any, Any]] = {}
    try:
        for path in files:
            for number, line, complete in _lines(path, max_line_bytes):
                if line is not None and not line.strip():
                    continue
                report.rows_read += 1
                try:
                    if line is None:
                        raise BadRow(f"line is longer than {max_line_bytes} bytes")
                    record = _decode(line, complete)
                    codec, row, has_probe = training_row(record, codecs)
                except Dropped as reason:
                    key = reason.args[0]
                    if key.startswith("encoder "):
                        unknown[key.removeprefix("encoder ")] += 1
                        key = "encoder not one of the codecs"
                    dropped[key] += 1
                    continue
                except BadRow as error:
                    report.bad_total += 1
                    if bad_rows == "skip" or len(report.bad_rows) < BAD_ROWS_SHOWN:
                        report.bad_rows.append(f"{path}:{number}: {error}")
                    continue
                handle, digest = writers.get(codec) or _open_table(out_dir, codec)
                writers[codec] = (handle, digest)
                data = table_line(row)
                handle.write(data)
                digest.update(data)
                entry = report.codecs.setdefault(codec, CodecRows())
                entry.rows += 1
                entry.probe = entry.probe and has_probe
                report.kept += 1
    finally:
        for handle, _ in writers.values():
            handle.close()
    if report.bad_total and bad_rows != "skip":
        for partial in out_dir.glob(".*.csv.partial"):
            partial.unlink()
        raise CorpusError(_bad_rows_message(corpus, report))
    report.dropped = dict(sorted(dropped.items()))
    report.unknown_encoders = dict(sorted(unknown.items()))
    for codec, (_, digest) in writers.items():
        report.codecs[codec].sha256 = digest.hexdigest()
        _install(out_dir, codec, report.codecs[codec].sha256)
    for stale in out_dir.glob("*.csv"):
        if stale.stem not in report.codecs:
            stale.unlink()
    report.codecs = dict(sorted(report.codecs.items()))
    report.digest = hashlib.sha256(
        "".join(f"{c} {e.sha256}\n" for c, e in report.codecs.items()).encode()
    ).hexdigest()
    _write_manifest(out_dir, report)
    return report


def _open_table(out_dir: Path, codec: str) -> tuple[Any, Any]:
    handle = open(out_dir / f".{codec}.csv.partial", "wb")  # noqa: SIM115
    header = table_header()
    handle.write(header)
    return handle, hashlib.sha256(header)


def _install(out_dir: Path, codec: str, sha256: str) -> None:
    """Keep an unchanged table (and its mtime); replace a changed one."""
    partial, final = out_dir / f".{codec}.csv.partial", out_dir / f"{codec}.csv"
    if final.is_file() and hashlib.sha256(final.read_bytes()).hexdigest() == sha256:
        partial.unlink()
    else:
        os.replace(partial, final)


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


def _read_manifest(out_dir: Path) -> SplitReport | None:
    path = out_dir / MANIFEST
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    data["codecs"] = {c: CodecRows(**e) for c, e in data["codecs"].items()}
    report = SplitReport(**data)
    tables_present = all((out_dir / f"{c}.csv").is_file() for c in report.codecs)
    return report if tables_present else None


def _write_manifest(out_dir: Path, report: SplitReport) -> None:
    text = json.dumps(asdict(report), indent=2, sort_keys=True) + "\n"
    (out_dir / MANIFEST).write_text(text, encoding="utf-8")


def write_report(report: SplitReport, json_path: Path, markdown_path: Path) -> None:
    """``results/corpus_report.json`` and ``.md``: what was read and kept."""
    data = asdict(report)
    data.pop("fingerprint")
    Path(json_path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    lines = [
        "# Corpus report",
        "",
        f"Corpus digest: `{report.digest}` (sha256 of the per-codec table digests)",
        "",
        f"Files read ({len(report.files)}): "
        + ", ".join(f"`{f}`" for f in report.files),
        "",
        f"Rows read: {report.rows_read}; kept: {report.kept}; "
        f"dropped: {sum(report.dropped.values())}; bad: {report.bad_total}",
        "",
        "| dropped because | rows |",
        "|---|---|",
        *(f"| {reason} | {n} |" for reason, n in report.dropped.items()),
        "",
        "Encoders outside the registry: "
        + (
            ", ".join(f"{e} ({n})" for e, n in report.unknown_encoders.items())
            or "none"
        ),
        "",
        "| codec | rows kept | features | table sha256 |",
        "|---|---|---|---|",
        *(
            f"| {c} | {e.rows} | {'probe' if e.probe else 'stand-in'} | `{e.sha256}` |"
            for c, e in report.codecs.items()
        ),
        "",
        "Codecs with fewer than 2 rows keep their synthetic stub.",
    ]
    if report.bad_rows:
        lines += ["", "## Bad rows", "", *(f"- {row}" for row in report.bad_rows)]
    Path(markdown_path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def prepare(
    config: Mapping[str, Any],
    codecs: Mapping[str, Codec],
    out_dir: str | Path,
    report_dir: str | Path,
    say: Callable[[str], None] = print,
) -> SplitReport | None:
    """What the workflow runs at start-up: split the configured corpus (None
    without one), write the corpus report, and say which codecs stay stubs."""
    if not config.get("corpus"):
        return None
    report = split(
        config["corpus"],
        codecs,
        out_dir,
        config.get("corpus_bad_rows", "strict"),
        config.get("corpus_max_line_bytes", 1 << 20),
    )
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    write_report(
        report, report_dir / "corpus_report.json", report_dir / "corpus_report.md"
    )
    stubs = [c for c in codecs if report.table(c, out_dir) is None]
    say(
        f"corpus {config['corpus']}: {report.kept} rows kept for "
        f"{len(codecs) - len(stubs)} codecs (see {report_dir}/corpus_report.md); "
        f"fewer than 2 rows, so synthetic stub: {', '.join(stubs) or 'none'}"
    )
    return report
