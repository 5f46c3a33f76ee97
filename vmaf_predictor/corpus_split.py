"""Read a real corpus once and split it into one canonical table per codec.

The workflow calls :func:`split` when it starts, before any job: bad rows stop
the build there, and each codec's table is rewritten only when its content
changes, so its mtime (what Snakemake compares) moves only then. Touching or
rewriting the corpus with the same rows retrains nothing; editing one codec's
rows retrains that codec only.

The corpus is cut into fixed-size chunks at line starts, split by one worker
process per CPU, and joined back in order: the tables, the report and the
line numbers of bad rows are the same as from one process, whatever the CPU
count. A chunk is decided column by column (:mod:`corpus_columns`), with the
per-row rules (:mod:`corpus_rows`) for every row that needs them; memory
stays flat however large the corpus is. A codec's table is a ``.npy`` of
float64 rows in COLUMNS order.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_predictor.build.s2_corpus import COLUMNS
from vmaf_predictor.corpus_columns import split_lines
from vmaf_predictor.corpus_rows import (
    BAD_ROWS_SHOWN,
    ROW_FORMAT,
    ChunkResult,
    read_line,
)
from vmaf_predictor.registry import Codec
from vmaf_predictor.build.jobs import write_atomic

MANIFEST = "manifest.json"
TABLE_SUFFIX = ".npy"
# Fixed, so the work (and its order) never depends on the machine.
CHUNK_BYTES = 8 << 20


class CorpusError(ValueError):
    """The corpus has bad rows (strict mode) or cannot be read."""


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
        if entry is None or entry.rows < 2:
            return None
        return Path(out_dir) / f"{codec}{TABLE_SUFFIX}"


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


def _lines(
    path: Path, max_line_bytes: int, start: int = 0, end: int | None = None
) -> Iterator[tuple[bytes | None, bool]]:
    """(bytes without the newline, or None when too long; it ended with a
    newline) for each line that starts in [start, end)."""
    with open(path, "rb") as handle:
        handle.seek(start)
        position = start
        while end is None or position < end:
            line = handle.readline(max_line_bytes + 1)
            if not line:
                return
            position += len(line)
            if len(line) > max_line_bytes and not line.endswith(b"\n"):
                # Skip the rest of the line without holding it in memory.
                while line and not line.endswith(b"\n"):
                    line = handle.readline(1 << 20)
                    position += len(line)
                yield None, True
            elif line.endswith(b"\n"):
                yield line[:-1], True
            else:
                yield line, False


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
    """Split ``corpus`` into ``out_dir/<codec>.npy``; return the report.

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
    work = out_dir / ".chunks"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        chunks = list(chunks_of(files, CHUNK_BYTES))
        results = _split_chunks(chunks, codecs, max_line_bytes, bad_rows, work)
        _merge(chunks, results, report, bad_rows)
        if report.bad_total and bad_rows != "skip":
            raise CorpusError(_bad_rows_message(corpus, report))
        # Threads: hashing and file I/O release the GIL.
        with ThreadPoolExecutor(os.cpu_count()) as pool:
            digests = pool.map(
                lambda codec: _join_table(
                    out_dir,
                    codec,
                    report.codecs[codec].rows,
                    [work / f"{i}.{codec}.rows" for i in range(len(chunks))],
                ),
                report.codecs,
            )
            for entry, digest in zip(report.codecs.values(), digests, strict=True):
                entry.sha256 = digest
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for stale in out_dir.glob(f"*{TABLE_SUFFIX}"):
        if stale.stem not in report.codecs:
            stale.unlink()
    report.codecs = dict(sorted(report.codecs.items()))
    report.digest = hashlib.sha256(
        "".join(f"{c} {e.sha256}\n" for c, e in report.codecs.items()).encode()
    ).hexdigest()
    _write_manifest(out_dir, report)
    return report


@dataclass(frozen=True)
class Chunk:
    """Lines of one file starting in [start, end); ``end`` is a line start."""

    path: str
    start: int
    end: int


def chunks_of(files: list[Path], chunk_bytes: int) -> Iterator[Chunk]:
    """The files cut into chunks of about ``chunk_bytes``, each ending at a
    line start (an empty file is one empty chunk)."""
    for path in files:
        size = path.stat().st_size
        start = 0
        with open(path, "rb") as handle:
            while start < size:
                end = min(size, start + chunk_bytes)
                handle.seek(end)
                while end < size:  # move to the start of the next line
                    block = handle.read(1 << 16)
                    newline = block.find(b"\n")
                    if newline >= 0:
                        end += newline + 1
                        break
                    end += len(block)
                yield Chunk(str(path), start, min(end, size))
                start = end
        if size == 0:
            yield Chunk(str(path), 0, 0)


def split_chunk(
    chunk: Chunk,
    index: int,
    codecs: Mapping[str, Codec],
    max_line_bytes: int,
    keep_every_bad_row: bool,
    work: Path,
    columnar: bool = True,
) -> ChunkResult:
    """Split one chunk: rows written to <work>/<index>.<codec>.rows, the rest
    counted.

    The chunk is read whole and decided column by column, unless it holds a
    line over the limit (which could be any size): then, as with
    ``columnar=False``, it is streamed through the per-row rules alone.
    """
    result = ChunkResult()
    if columnar and chunk.end - chunk.start <= CHUNK_BYTES + max_line_bytes + 1:
        with open(chunk.path, "rb") as handle:
            handle.seek(chunk.start)
            lines = handle.read(chunk.end - chunk.start).split(b"\n")
        complete = lines[-1] == b""  # the chunk ended with a newline
        if complete:
            lines.pop()
        tables = split_lines(
            lines, complete, codecs, max_line_bytes, result, keep_every_bad_row
        )
        for codec, rows in tables.items():
            (work / f"{index}.{codec}.rows").write_bytes(
                rows.astype("<f8", copy=False).tobytes()
            )
        return result
    handles: dict[str, Any] = {}
    try:
        lines = _lines(Path(chunk.path), max_line_bytes, chunk.start, chunk.end)
        for number, (line, complete) in enumerate(lines, start=1):
            result.lines += 1
            outcome = read_line(
                result,
                number,
                line,
                complete,
                codecs,
                max_line_bytes,
                keep_every_bad_row,
            )
            if outcome is None:
                continue
            codec, row, probe = outcome
            if codec not in handles:
                handles[codec] = open(work / f"{index}.{codec}.rows", "wb")  # noqa: SIM115
            handles[codec].write(ROW_FORMAT.pack(*row))
            result.keep(codec, 1, probe)
    finally:
        for handle in handles.values():
            handle.close()
    return result


def _split_chunks(
    chunks: list[Chunk],
    codecs: Mapping[str, Codec],
    max_line_bytes: int,
    bad_rows: str,
    work: Path,
) -> list[ChunkResult]:
    """Every chunk's result, in order: one worker process per CPU for a
    corpus of several chunks, this process for a small one."""
    keep_all = bad_rows == "skip"
    workers = min(len(chunks), os.cpu_count() or 1)
    if workers == 1:
        return [
            split_chunk(c, i, codecs, max_line_bytes, keep_all, work)
            for i, c in enumerate(chunks)
        ]
    job = {
        "chunks": [asdict(c) for c in chunks],
        "codecs": {name: asdict(c) for name, c in codecs.items()},
        "max_line_bytes": max_line_bytes,
        "keep_every_bad_row": keep_all,
        "work": str(work),
    }
    (work / "job.json").write_text(json.dumps(job), encoding="utf-8")
    # Plain processes (not multiprocessing): this runs inside Snakemake.
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                __name__,
                str(work / "job.json"),
                str(w),
                str(workers),
            ]
        )
        for w in range(workers)
    ]
    failed = [p.args for p in processes if p.wait() != 0]
    if failed:
        raise CorpusError(f"corpus split worker failed: {failed[0]}")
    return [
        ChunkResult(**json.loads((work / f"{i}.json").read_text(encoding="utf-8")))
        for i in range(len(chunks))
    ]


def _merge(
    chunks: list[Chunk], results: list[ChunkResult], report: SplitReport, bad_rows: str
) -> None:
    """Add the chunks' counts to ``report``, numbering bad rows per file."""
    dropped: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    first_line = {}
    for chunk, result in zip(chunks, results, strict=True):
        offset = first_line.get(chunk.path, 0)
        first_line[chunk.path] = offset + result.lines
        report.rows_read += result.rows_read
        report.bad_total += result.bad_total
        for line, reason in result.bad_rows:
            if bad_rows == "skip" or len(report.bad_rows) < BAD_ROWS_SHOWN:
                report.bad_rows.append(f"{chunk.path}:{offset + line}: {reason}")
        dropped.update(result.dropped)
        unknown.update(result.unknown)
        for codec, (rows, probe) in result.kept.items():
            entry = report.codecs.setdefault(codec, CodecRows())
            entry.rows += rows
            entry.probe = entry.probe and probe
            report.kept += rows
    report.dropped = dict(sorted(dropped.items()))
    report.unknown_encoders = dict(sorted(unknown.items()))


def _join_table(out_dir: Path, codec: str, rows: int, parts: list[Path]) -> str:
    """The codec's table from its chunks' rows, installed; its sha256."""
    partial = out_dir / f".{codec}{TABLE_SUFFIX}.partial"
    digest = hashlib.sha256()
    with open(partial, "wb") as table:
        for data in _table_blocks(rows, parts):
            table.write(data)
            digest.update(data)
    _install(out_dir, codec, digest.hexdigest())
    return digest.hexdigest()


def _table_blocks(rows: int, parts: list[Path]) -> Iterator[bytes]:
    header = io.BytesIO()
    shape = {"descr": "<f8", "fortran_order": False, "shape": (rows, len(COLUMNS))}
    np.lib.format.write_array_header_1_0(header, shape)
    yield header.getvalue()
    for part in parts:
        if part.is_file():
            with open(part, "rb") as handle:
                while block := handle.read(1 << 20):
                    yield block


def _install(out_dir: Path, codec: str, sha256: str) -> None:
    """Keep an unchanged table (and its mtime); replace a changed one."""
    final = out_dir / f"{codec}{TABLE_SUFFIX}"
    partial = out_dir / f".{codec}{TABLE_SUFFIX}.partial"
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
    tables_present = all(
        (out_dir / f"{c}{TABLE_SUFFIX}").is_file() for c in report.codecs
    )
    return report if tables_present else None


def _write_manifest(out_dir: Path, report: SplitReport) -> None:
    text = json.dumps(asdict(report), indent=2, sort_keys=True) + "\n"
    (out_dir / MANIFEST).write_text(text, encoding="utf-8")


def write_report(report: SplitReport, json_path: Path, markdown_path: Path) -> None:
    """``results/corpus_report.json`` and ``.md``: what was read and kept."""
    data = asdict(report)
    data.pop("fingerprint")
    _write_unless_same(json_path, json.dumps(data, indent=2, sort_keys=True) + "\n")
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
    _write_unless_same(markdown_path, "\n".join(lines) + "\n")


def _write_unless_same(path: str | Path, text: str) -> None:
    # Every Snakemake process (each cluster job's too) writes the report when
    # it starts: atomically, and only when it changes, so a reader never sees
    # half a file and the report's page is not remade for nothing.
    data = text.encode("utf-8")
    path = Path(path)
    if not path.is_file() or path.read_bytes() != data:
        write_atomic(path, data)


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


def _worker(job_path: str, worker: int, workers: int) -> None:
    """Split chunks worker, worker + workers, ... of a job; results as JSON."""
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    codecs = {name: Codec(**entry) for name, entry in job["codecs"].items()}
    work = Path(job["work"])
    for index in range(worker, len(job["chunks"]), workers):
        result = split_chunk(
            Chunk(**job["chunks"][index]),
            index,
            codecs,
            job["max_line_bytes"],
            job["keep_every_bad_row"],
            work,
        )
        (work / f"{index}.json").write_text(json.dumps(asdict(result)))


if __name__ == "__main__":
    _worker(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
