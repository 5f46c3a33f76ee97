"""What every job shares: the stage call, logging into the rule's log file,
and atomic writes."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

log = logging.getLogger("vmaf_predictor")


@contextlib.contextmanager
def logged_to(log_path: str | Path) -> Iterator[logging.Logger]:
    """Send the stage's logging (and any error) to the rule's log file.

    The error is logged and re-raised, so Snakemake fails the job and shows
    the log, which then holds the reason.
    """
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield log
    except Exception as error:
        log.error("%s", error, exc_info=not isinstance(error, ValueError))
        print(f"error: {error}", file=sys.stderr)
        raise
    finally:
        root.removeHandler(handler)
        handler.close()


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write beside ``path`` and rename: readers never see half a file."""
    path = Path(path)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def run_stage(smk: Any) -> None:
    """What ``scripts/stage.py`` does for every rule: log into the rule's log
    and call the rule's stage with the job's own input, output and params."""
    from vmaf_predictor.build import stage

    job = SimpleNamespace(
        input=SimpleNamespace(**dict(smk.input.items())),
        output=SimpleNamespace(**dict(smk.output.items())),
        params=SimpleNamespace(**dict(smk.params.items())),
    )
    with logged_to(smk.log[0]) as log:
        codec = smk.wildcards.get("codec")
        log.info("%s", stage(smk.rule)(job.input, job.output, job.params, codec))
