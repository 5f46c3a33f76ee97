"""Stage 1: read a real corpus once and split it into one table per codec.

The corpus is read by :mod:`vmaf_predictor.runtime.corpus` (the decoder and
the row rules). A codec with at least MIN_ROWS rows kept gets
``<codec>.<digest>.parquet``: the 14 model features in graph order and the
VMAF target (float64), then ``src``, in corpus order. ``digest`` begins the
content digest of its rows (:meth:`_Table.digest`), so a codec whose rows did
not change keeps its file and its mtime (what Snakemake compares): only a
changed codec retrains. ``manifest.json`` lists the tables; the corpus report
says what was read, kept and dropped, and why.

Importing this module is cheap (the standard library and the registry): the
Snakefile imports :func:`corpus_files` while it parses.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmaf_predictor.registry import Codec, codec_from_config
from vmaf_predictor.runtime.corpus import MIN_ROWS, CorpusError, corpus_files, read

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

# Fixed rows per Parquet row group, so a table's bytes do not depend on chunks.
ROW_GROUP_ROWS = 1 << 15
MANIFEST = "manifest.json"
BAD_ROWS_SHOWN = 20


@dataclass
class CodecTable:
    rows: int
    probe: bool  # every row carried real probe statistics
    sha256: str  # content digest of the rows
    table: str  # file name, beside the manifest


@dataclass
class SplitReport:
    """What was read, kept and dropped: the corpus report."""

    files: list[str]
    # Per file, [rows read, rows kept]: several files (a corpus and the
    # sweep's rows) say how many came from each.
    file_rows: dict[str, list[int]] = field(default_factory=dict)
    rows_read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    unknown_encoders: dict[str, int] = field(default_factory=dict)
    bad_rows: list[str] = field(default_factory=list)
    bad_total: int = 0
    codecs: dict[str, CodecTable] = field(default_factory=dict)
    stubs: list[str] = field(default_factory=list)  # codecs without a table
    digest: str = ""  # sha256 over the tables' digests


# Writing: content-addressed Parquet tables -----------------------------------


class _Table:
    """A codec's table, written as its rows come: to a temporary file beside
    its final place, in row groups of ROW_GROUP_ROWS whatever the chunks, and
    hashed column by column."""

    def __init__(self, out_dir: Path, codec: str) -> None:
        from vmaf_predictor.factory.s2_corpus import COLUMNS

        fd, path = tempfile.mkstemp(dir=out_dir, prefix=f".{codec}.", suffix=".partial")
        os.close(fd)
        self.path, self.names = Path(path), [*COLUMNS, "src"]
        self.rows, self.probe, self.pending, self.writer = 0, True, [], None
        self.hashes = {name: hashlib.sha256() for name in self.names}

    def add(self, values: list[np.ndarray], src: pa.Array, probe: bool) -> None:
        import pyarrow as pa

        for name, column in zip(self.names, values, strict=False):
            self.hashes[name].update(column.astype("<f8", copy=False).tobytes())
        self.hashes["src"].update(_terminated(src))
        self.pending.append(pa.table([*values, src], names=self.names))
        self.rows, self.probe = self.rows + len(src), self.probe and probe
        while sum(map(len, self.pending)) >= ROW_GROUP_ROWS:
            self._write(ROW_GROUP_ROWS)

    def _write(self, rows: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.concat_tables(self.pending)
        if self.writer is None:  # a dictionary only pays for src
            self.writer = pq.ParquetWriter(
                self.path, table.schema, compression="zstd", use_dictionary=["src"]
            )
        self.writer.write_table(table.slice(0, rows), row_group_size=rows)
        self.pending = [table.slice(rows)] if len(table) > rows else []

    def digest(self) -> str:
        """The content digest: sha256 of one line per column, in table order,
        ``<name> <sha256 of its values>\\n``, where a float column's values
        are little-endian float64 and src's are each one's UTF-8 then 0xFF.
        It depends on the rows alone, not on chunks or on Parquet."""
        lines = "".join(f"{name} {h.hexdigest()}\n" for name, h in self.hashes.items())
        return hashlib.sha256(lines.encode()).hexdigest()

    def install(self, out_dir: Path, codec: str) -> CodecTable:
        """Finish the table; a file of the same content stays untouched."""
        if self.pending:
            self._write(sum(map(len, self.pending)))
        self.writer.close()
        digest = self.digest()
        entry = CodecTable(
            self.rows, self.probe, digest, f"{codec}.{digest[:16]}.parquet"
        )
        if (out_dir / entry.table).is_file():
            self.path.unlink()
        else:
            os.chmod(self.path, 0o644)
            os.replace(self.path, out_dir / entry.table)
        return entry

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.path.unlink(missing_ok=True)


def _terminated(strings: pa.Array) -> bytes:
    """Each string's UTF-8 bytes followed by 0xFF, a byte UTF-8 never holds."""
    import numpy as np

    offsets = np.frombuffer(strings.buffers()[1], np.int32)
    offsets = offsets[strings.offset : strings.offset + len(strings) + 1]
    data = np.frombuffer(strings.buffers()[2] or b"", np.uint8)
    data = data[offsets[0] : offsets[-1]]
    return np.insert(data, offsets[1:] - offsets[0], 0xFF).tobytes()


# The stage -------------------------------------------------------------------


def split(
    corpus: str | Path,
    codecs: Mapping[str, Codec],
    out_dir: str | Path,
    bad_rows: str = "strict",
    max_line_bytes: int = 1 << 20,
    threads: int | None = None,
) -> SplitReport:
    """Split ``corpus`` into a table per codec in ``out_dir``, listed in its
    ``manifest.json``; return the report.

    Raises :class:`CorpusError` for bad rows, before any table is installed,
    unless ``bad_rows == "skip"`` (then the report lists each of them).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for leftover in out_dir.glob(".*.partial"):  # of a split that was killed
        leftover.unlink()
    files = corpus_files(corpus)
    report = SplitReport(files=[str(p) for p in files])
    keep_all = bad_rows == "skip"
    dropped: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    tables: dict[str, _Table] = {}
    chunks = read(files, codecs, max_line_bytes, threads)
    try:
        for path, chunk in chunks:
            shown = None if keep_all else BAD_ROWS_SHOWN - len(report.bad_rows)
            report.bad_rows += chunk.bad[:shown]
            report.bad_total += len(chunk.bad)
            report.rows_read += chunk.rows
            counts = report.file_rows.setdefault(str(path), [0, 0])
            counts[0] += chunk.rows
            dropped.update(chunk.dropped)
            unknown.update(chunk.unknown)
            for codec, (values, src, probe) in chunk.kept.items():
                if codec not in tables:
                    tables[codec] = _Table(out_dir, codec)
                tables[codec].add(values, src, probe)
                report.kept += len(src)
                counts[1] += len(src)
        if report.bad_total and not keep_all:
            raise CorpusError(_bad_rows_message(corpus, report))
        for codec in sorted(tables):
            if tables[codec].rows >= MIN_ROWS:
                report.codecs[codec] = tables.pop(codec).install(out_dir, codec)
    finally:
        chunks.close()
        for table in tables.values():
            table.discard()
    installed = {entry.table for entry in report.codecs.values()}
    for stale in out_dir.glob("*.parquet"):
        if stale.name not in installed:
            stale.unlink()
    report.dropped = dict(sorted(dropped.items()))
    report.unknown_encoders = dict(sorted(unknown.items()))
    report.stubs = [codec for codec in codecs if codec not in report.codecs]
    digests = "".join(f"{c} {e.sha256}\n" for c, e in report.codecs.items())
    report.digest = hashlib.sha256(digests.encode()).hexdigest()
    manifest = {key: asdict(report)[key] for key in ("codecs", "digest", "stubs")}
    _write(out_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return report


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


def _write(path: str | Path, text: str) -> None:
    from vmaf_predictor.factory.jobs import write_atomic

    write_atomic(path, text.encode("utf-8"))


def _md(text: object) -> str:
    """Corpus text (anyone's) for the Markdown report, which becomes HTML:
    every character but a few plain ones becomes an HTML character reference
    (as html.escape does for <>&"'), which Markdown leaves alone and a browser
    shows as the character, so it never becomes markup (a tag, a link, a
    table cell, emphasis, a new line)."""
    return re.sub(r"[^0-9A-Za-z .,:;/=@%-]", lambda m: f"&#{ord(m[0])};", str(text))


def write_report(
    report: SplitReport, json_path: str | Path, md_path: str | Path
) -> None:
    """The corpus report, as JSON and as Markdown."""
    _write(json_path, json.dumps(asdict(report), indent=2, sort_keys=True) + "\n")
    drops = [f"| {_md(reason)} | {n} |" for reason, n in report.dropped.items()]
    outside = [f"{_md(e)} ({n})" for e, n in report.unknown_encoders.items()]
    tables = [
        f"| {_md(c)} | {e.rows} | {'probe' if e.probe else 'stand-in'} | {e.sha256} |"
        for c, e in report.codecs.items()
    ]
    per_file = []  # several files (a corpus and the sweep's rows): each one's rows
    if len(report.files) > 1:
        per_file = ["| file | rows read | rows kept |", "|---|---|---|"]
        per_file += [
            f"| {_md(f)} | {n[0]} | {n[1]} |" for f, n in report.file_rows.items()
        ]
        per_file.append("")
    lines = [
        "# Corpus report",
        "",
        f"Corpus digest: {report.digest} (sha256 of the per-codec table digests)",
        "",
        f"Files read ({len(report.files)}): {', '.join(map(_md, report.files))}",
        "",
        *per_file,
        f"Rows read: {report.rows_read}; kept: {report.kept}; "
        f"dropped: {sum(report.dropped.values())}; bad: {report.bad_total}",
        "",
        *("| dropped because | rows |", "|---|---|", *drops, ""),
        f"Encoders outside the registry: {', '.join(outside) or 'none'}",
        "",
        *("| codec | rows kept | features | table sha256 |", "|---|---|---|---|"),
        *tables,
        "",
        f"Codecs with fewer than {MIN_ROWS} rows keep their synthetic stub: "
        + (", ".join(map(_md, report.stubs)) or "none"),
    ]
    if report.bad_rows:
        lines += ["", "## Bad rows", "", *(f"- {_md(row)}" for row in report.bad_rows)]
    _write(md_path, "\n".join(lines) + "\n")


def run(input: Any, output: Any, params: Any, codec: str | None = None) -> str:
    """The ``split`` rule's stage (see :mod:`vmaf_predictor.factory`): split
    ``params.corpus`` for the codecs of ``params.codecs`` (config["codecs"])
    beside ``output.manifest`` and write the corpus report. Returns the
    summary line, also printed to stderr so that it shows on the console."""
    manifest = Path(output.manifest)
    if manifest.name != MANIFEST:
        raise ValueError(f"the split's manifest must be named {MANIFEST}: {manifest}")
    codecs = {name: codec_from_config(name, e) for name, e in params.codecs.items()}
    options = (params.bad_rows, params.max_line_bytes, getattr(params, "threads", None))
    report = split(params.corpus, codecs, manifest.parent, *options)
    if report.kept == 0:
        dropped = sum(report.dropped.values())
        raise CorpusError(
            f"corpus {params.corpus}: no usable rows ({report.rows_read} read, "
            f"{dropped} dropped, {report.bad_total} bad): nothing to train on"
        )
    write_report(report, output.report_json, output.report_md)
    summary = (
        f"corpus {params.corpus}: {report.kept} rows kept for {len(report.codecs)} "
        f"codecs (see {output.report_md}); fewer than {MIN_ROWS} rows, so "
        f"synthetic stub: {', '.join(report.stubs) or 'none'}"
    )
    if report.bad_total:
        summary += f"; {report.bad_total} bad rows skipped (see {output.report_md})"
    print(summary, file=sys.stderr)
    return summary
