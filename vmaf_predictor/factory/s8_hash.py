"""Stage 8: which corpus built each model (PROVENANCE.json) and the sha256
of every published file (SHA256SUMS, in ``sha256sum`` format)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vmaf_predictor.factory.jobs import write_atomic
from vmaf_predictor.factory.s2_corpus import read_info
from vmaf_predictor.names import (
    MODEL_DIR,
    PROVENANCE_NAME,
    SUMS_NAME,
    model_file_name,
)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(Path(path).read_bytes())


def sums_text(paths: Iterable[Path]) -> str:
    """``<sha256>  <file name>`` lines sorted by name: ``sha256sum -c`` reads it."""
    by_name = {Path(p).name: sha256_file(p) for p in paths}
    return "".join(f"{by_name[name]}  {name}\n" for name in sorted(by_name))


def provenance_text(corpus_infos: Iterable[Path]) -> str:
    """Which corpus built each model: its label and training-table sha256."""
    entries = {}
    for path in corpus_infos:
        info = read_info(path)
        entries[model_file_name(info.codec)] = {
            "corpus": info.label,
            "corpus_sha256": info.sha256,
            "features": info.features,
        }
    return json.dumps(entries, indent=2, sort_keys=True) + "\n"


def run(input: Any, output: Any, params: Any, codec: None = None) -> str:
    """Stage entry point: PROVENANCE.json, then the SHA256SUMS of the
    published files and it, each written atomically."""
    provenance = provenance_text(input.corpus_infos).encode("utf-8")
    write_atomic(output.provenance, provenance)
    text = sums_text([*input.artefacts, output.provenance])
    write_atomic(output.sums, text.encode("utf-8"))
    return f"{text.count(chr(10))} files hashed"


def read_provenance(model_dir: Path) -> dict[str, dict[str, str]]:
    """``PROVENANCE.json`` of a model directory ({} when there is none)."""
    path = Path(model_dir) / PROVENANCE_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def parse_sums(text: str, source: str = SUMS_NAME) -> dict[str, str]:
    """File name -> sha256 from a SHA256SUMS text; bad lines raise naming the line."""
    sums = {}
    for number, line in enumerate(text.splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            raise ValueError(f"{source}:{number}: not a '<sha256>  <file>' line")
        sums[name] = digest
    return sums


def committed_sums(root: Path) -> tuple[dict[str, str], str]:
    """The committed model/SHA256SUMS of a checkout, and where it came from.

    From git's HEAD when ``root`` is a git checkout (what is committed, even
    after a build rewrote model/), else the file in model/.
    """
    result = subprocess.run(
        ["git", "-C", str(root), "show", f"HEAD:{MODEL_DIR}/{SUMS_NAME}"],
        capture_output=True,
        text=True,
    )
    if result.returncode == 0:
        source = f"git HEAD:{MODEL_DIR}/{SUMS_NAME}"
        return parse_sums(result.stdout, source), source
    path = Path(root) / MODEL_DIR / SUMS_NAME
    if not path.is_file():
        return {}, f"none (no {MODEL_DIR}/{SUMS_NAME})"
    source = f"{MODEL_DIR}/{SUMS_NAME}"
    return parse_sums(path.read_text(encoding="utf-8"), source), source
