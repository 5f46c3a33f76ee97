"""The CI check: regenerate every artefact from scratch, compare the bytes.

The rebuild runs the same workflow in a work area of its own under
``results/verify/`` (one per run, renamed to ``results/verify/last`` when it
ends), so the committed ``model/`` is only ever read and two runs never share
files. Each file is compared three ways: the hash recorded in the committed
SHA256SUMS, the committed file itself, and the freshly produced file.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vmaf_predictor.factory.s8_hash import parse_sums, read_provenance, sha256_file
from vmaf_predictor.names import SUMS_NAME

log = logging.getLogger(__name__)
MISSING = "(missing)"


# The rebuild's own progress lines, shown while it runs.
PROGRESS = re.compile(r"^\d+ of \d+ steps \(\d+%\) done$")
LAST = "last"


class VerifyError(ValueError):
    """The regenerated artefacts do not match the committed ones, or could
    not be regenerated (a job's own error: logged without a traceback)."""


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


def _stale_work_areas(root: Path) -> list[Path]:
    """Work areas of verify runs that ended without renaming theirs (killed):
    ``run-<pid>-*`` whose process is gone."""
    stale = []
    for area in root.glob("run-*-*"):
        pid = area.name.split("-")[1]
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            stale.append(area)
        except PermissionError:  # alive, another user's
            pass
    return stale


def _keep_as_last(area: Path) -> Path:
    """Rename a finished work area to ``last`` (replacing the previous one).

    Two verify runs may end at once (Snakemake's lock lets them: verify has
    no outputs): each moves ``last`` aside and renames its own area, again
    until it wins; the one that ends last is kept."""
    last = area.parent / LAST
    old = area.parent / f"{LAST}.old-{os.getpid()}"
    while True:
        with contextlib.suppress(FileNotFoundError):  # none, or moved by another
            last.rename(old)
        shutil.rmtree(old, ignore_errors=True)
        try:
            area.rename(last)
            return last
        except OSError as error:  # another run renamed its area in between
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise


def regenerate(
    snakefile: Path, config: Mapping[str, Any], work_area: Path, cores: int
) -> Path:
    """Build everything from scratch in a new directory under ``work_area``;
    return its model directory (kept as ``work_area/last`` by
    :func:`keep_as_last`, once it has been compared).

    The rebuild's progress ("N of M steps done") is shown on stderr as it
    runs; everything it prints goes to ``snakemake.log`` beside its model.
    """
    root = Path(work_area).resolve()
    root.mkdir(parents=True, exist_ok=True)
    for stale in _stale_work_areas(root):
        shutil.rmtree(stale, ignore_errors=True)
    area = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=root))
    config = dict(config)
    for key in ("corpus", "sources"):  # paths as the rebuild sees them
        if config.get(key):
            config[key] = str(Path(config[key]).resolve())
    # The Snakefile reads "config.yaml" from its working directory.
    (area / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "all_stubs",
        "--snakefile",
        str(Path(snakefile).resolve()),
        "--directory",
        str(area),
        "--cores",
        str(cores),
    ]
    log.info("regenerating in %s", area)
    print(
        f"verify: rebuilding every model from scratch in {area} (kept as "
        f"{root / LAST} when it ends)",
        file=sys.stderr,
    )
    status = _run_showing_progress(command, area / "snakemake.log")
    if status != 0:
        last = _keep_as_last(area)
        tail = (last / "snakemake.log").read_text(errors="replace")[-3000:]
        raise VerifyError(
            f"the rebuild in {last} failed (exit {status}); see "
            f"{last / 'snakemake.log'}:\n{tail}"
        )
    return area / "model"


def keep_as_last(produced: Path) -> Path:
    """Keep the work area of ``produced`` (what :func:`regenerate` returned)
    as ``last``; its model directory there."""
    return _keep_as_last(produced.parent) / "model"


def _run_showing_progress(command: list[str], log_path: Path) -> int:
    """Run ``command``, its output into ``log_path``; show its progress lines.
    The rebuild ends with this process, however it ends."""
    from vmaf_predictor.factory.jobs import die_with_parent

    with open(log_path, "w", encoding="utf-8") as log_file:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            preexec_fn=die_with_parent,
        )
        try:
            for line in process.stdout:
                log_file.write(line)
                if PROGRESS.match(line.strip()):
                    print(f"verify: {line.strip()}", file=sys.stderr, flush=True)
            return process.wait()
        finally:
            if process.poll() is None:  # interrupted: stop the rebuild too
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=10)
                process.kill()


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
    try:  # in its own work area: another verify may replace last meanwhile
        rows = compare(Path(committed), produced)
        failures = [r for r in rows if not r.ok]
        notes = corpus_notes(Path(committed), produced, failures)
    finally:
        keep_as_last(produced)
    if failures:
        raise VerifyError(
            f"verify: {len(failures)} of {len(rows)} files differ from "
            f"{committed}/{SUMS_NAME}:\n{table(rows, only_failures=True)}"
            + "".join(f"\n{note}" for note in notes)
        )
    log.info("\n%s", table(rows))
    print(f"verify: all {len(rows)} files match {committed}/{SUMS_NAME}")
    return rows
