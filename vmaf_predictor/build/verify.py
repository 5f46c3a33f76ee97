"""The CI check: regenerate every artefact from scratch, compare the bytes.

The rebuild runs the same workflow in a separate work area, so the committed
``model/`` is only ever read. Each file is compared three ways: the hash
recorded in the committed SHA256SUMS, the committed file itself, and the
freshly produced file.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vmaf_predictor.build.s8_hash import parse_sums, read_provenance, sha256_file
from vmaf_predictor.names import SUMS_NAME

log = logging.getLogger(__name__)
MISSING = "(missing)"


class VerifyError(RuntimeError):
    """The regenerated artefacts do not match the committed ones."""


@dataclass(frozen=True)
class Comparison:
    file: str
    expected: str  # from the committed SHA256SUMS
    committed: str  # the committed file's own hash
    produced: str  # the regenerated file's hash

    @property
    def ok(self) -> bool:
        return self.expected == self.committed == self.produced != MISSING


def _hash_or_missing(path: Path) -> str:
    return sha256_file(path) if path.is_file() else MISSING


def compare(committed: Path, produced: Path) -> list[Comparison]:
    """One row per file named in either SHA256SUMS, plus SHA256SUMS itself."""
    committed, produced = Path(committed), Path(produced)
    expected = parse_sums(
        (committed / SUMS_NAME).read_text(encoding="utf-8"),
        str(committed / SUMS_NAME),
    )
    produced_sums = produced / SUMS_NAME
    names = set(expected)
    if produced_sums.is_file():
        names |= set(parse_sums(produced_sums.read_text(encoding="utf-8")))
    rows = [
        Comparison(
            file=name,
            expected=expected.get(name, MISSING),
            committed=_hash_or_missing(committed / name),
            produced=_hash_or_missing(produced / name),
        )
        for name in sorted(names)
    ]
    sums_hash = _hash_or_missing(committed / SUMS_NAME)
    rows.append(
        Comparison(SUMS_NAME, sums_hash, sums_hash, _hash_or_missing(produced_sums))
    )
    return rows


def table(rows: list[Comparison], only_failures: bool = False) -> str:
    """A plain-text table: file, expected, committed and produced sha256."""
    shown = [r for r in rows if not (only_failures and r.ok)]
    width = max([len("file")] + [len(r.file) for r in shown])
    lines = [f"{'file':<{width}}  {'expected':<64}  {'committed':<64}  produced"]
    for r in shown:
        mark = "" if r.ok else "  <-- MISMATCH"
        lines.append(
            f"{r.file:<{width}}  {r.expected:<64}  {r.committed:<64}  "
            f"{r.produced}{mark}"
        )
    return "\n".join(lines)


def corpus_notes(
    committed: Path, produced: Path, failures: list[Comparison]
) -> list[str]:
    """Explain mismatches of models that a different corpus built."""
    built_from = read_provenance(committed)
    rebuilt_from = read_provenance(produced)
    notes = []
    for row in failures:
        then, now = built_from.get(row.file), rebuilt_from.get(row.file)
        if then and now and then["corpus_sha256"] != now["corpus_sha256"]:
            notes.append(
                f"{row.file}: built from corpus {then['corpus']} (training rows "
                f"sha256 {then['corpus_sha256']}), rebuilt from {now['corpus']}: "
                "pass that corpus to verify (snakemake verify --config corpus=PATH)"
            )
    return notes


def regenerate(
    snakefile: Path, config: Mapping[str, Any], work_area: Path, cores: int
) -> Path:
    """Build everything from scratch in ``work_area``; return its model dir."""
    work_area = Path(work_area).resolve()
    if work_area.exists():
        shutil.rmtree(work_area)
    work_area.mkdir(parents=True)
    config = dict(config)
    if config.get("corpus"):
        config["corpus"] = str(Path(config["corpus"]).resolve())
    # The Snakefile reads "config.yaml" from its working directory.
    (work_area / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "all_stubs",
        "--snakefile",
        str(Path(snakefile).resolve()),
        "--directory",
        str(work_area),
        "--cores",
        str(cores),
        "--quiet",
        "rules",
    ]
    log.info("regenerating in %s", work_area)
    result = subprocess.run(command, capture_output=True, text=True)
    (work_area / "snakemake.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise VerifyError(
            f"the rebuild in {work_area} failed (exit {result.returncode}); "
            f"see {work_area / 'snakemake.log'}:\n{result.stderr[-3000:]}"
        )
    return work_area / "model"


def run(input: Any, output: Any, params: Any, codec: None = None) -> str:
    """Stage entry point of the verify rule."""
    rows = verify(
        params.snakefile,
        params.config,
        params.work_area,
        params.committed,
        params.cores,
    )
    return f"all {len(rows)} files match"


def verify(
    snakefile: Path,
    config: Mapping[str, Any],
    work_area: Path,
    committed: Path,
    cores: int,
) -> list[Comparison]:
    """Regenerate, compare, raise with a table on mismatch."""
    produced = regenerate(snakefile, config, work_area, cores)
    rows = compare(Path(committed), produced)
    failures = [r for r in rows if not r.ok]
    report = table(rows)
    log.info("\n%s", report)
    if failures:
        notes = corpus_notes(Path(committed), produced, failures)
        raise VerifyError(
            f"verify: {len(failures)} of {len(rows)} files differ from "
            f"{committed}/{SUMS_NAME}:\n{table(rows, only_failures=True)}"
            + "".join(f"\n{note}" for note in notes)
        )
    print(f"verify: all {len(rows)} files match {committed}/{SUMS_NAME}")
    return rows
