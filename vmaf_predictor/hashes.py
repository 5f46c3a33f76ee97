"""Stage 6: sha256 of each artefact, in ``sha256sum`` format."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from vmaf_predictor.stage import write_atomic

SUMS_NAME = "SHA256SUMS"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(Path(path).read_bytes())


def sums_text(paths: Iterable[Path]) -> str:
    """``<sha256>  <file name>`` lines sorted by name: ``sha256sum -c`` reads it."""
    by_name = {Path(p).name: sha256_file(p) for p in paths}
    return "".join(f"{by_name[name]}  {name}\n" for name in sorted(by_name))


def write_sums(paths: Iterable[Path], sums_path: Path) -> str:
    """Stage entry point: write the SHA256SUMS of ``paths``, atomically."""
    text = sums_text(paths)
    write_atomic(sums_path, text.encode("utf-8"))
    return text


def parse_sums(text: str, source: str = SUMS_NAME) -> dict[str, str]:
    """File name -> sha256 from a SHA256SUMS text; bad lines raise naming the line."""
    sums = {}
    for number, line in enumerate(text.splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            raise ValueError(f"{source}:{number}: not a '<sha256>  <file>' line")
        sums[name] = digest
    return sums
