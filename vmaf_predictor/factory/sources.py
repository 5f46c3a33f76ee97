"""The clips a sweep encodes, listed while Snakemake parses (no clip is
opened here: the ``sweep_check`` job does that).

``sources`` is a directory, searched recursively for ``.y4m``, ``.mkv``,
``.mp4``, ``.mov``, ``.webm``, ``.avi``, ``.mpg`` and ``.mpeg`` files (sorted
by path), or a sources sheet: a ``.tsv`` with a header line and the columns
``name`` and ``path`` (a path relative to the sheet's directory, or
absolute), each line checked against ``schemas/sources.schema.yaml``. The
sweep cuts each clip into shots (``sweep_shots``); a shot's source name is
:func:`vmaf_predictor.names.shot_name` of the clip's (:data:`SRC_PATTERN`).

A clip's name comes from its file name (from its path below the directory,
without the suffix; ``/`` becomes ``__``), or from the sheet. It names the
clip's files under ``results/sweep/`` and is the rows' ``src``; characters
other than letters, digits, ``.``, ``_`` and ``-`` become ``_``. Neither a
name nor a path ever reaches a shell: the jobs pass paths to FFmpeg as
single arguments.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from vmaf_predictor.names import NAME_PATTERN, SHOT_DIGITS, SHOT_SEPARATOR, clip_name

SUFFIXES = (".y4m", ".mkv", ".mp4", ".mov", ".webm", ".avi", ".mpg", ".mpeg")
# A sweep source: a clip's name, or a clip's name and its shot (no braces:
# Snakemake's wildcard constraints cannot hold a regex repetition count).
_SHOT_NUMBER = r"\d" * SHOT_DIGITS + r"\d*"  # SHOT_DIGITS digits or more
SRC_PATTERN = rf"{NAME_PATTERN}(?:{re.escape(SHOT_SEPARATOR)}{_SHOT_NUMBER})?"


class SourcesError(ValueError):
    """The sources cannot be listed (names the file, line or clip)."""


@dataclass(frozen=True)
class Source:
    name: str
    path: str  # as found: relative when ``sources`` is


def list_sources(spec: str | Path, schema_path: str | Path) -> list[Source]:
    """The clips of a directory or a sources sheet, in order."""
    spec = Path(spec)
    if spec.is_dir():
        sources = _directory(spec)
    elif spec.is_file():
        sources = _sheet(spec, Path(schema_path))
    else:
        raise SourcesError(f"sources {spec} does not exist")
    names: dict[str, str] = {}
    for source in sources:
        if source.name in names:
            raise SourcesError(
                f"sources {spec}: two clips are named {source.name}: "
                f"{names[source.name]} and {source.path} (rename one, or list "
                "the clips in a sources sheet with a name each)"
            )
        names[source.name] = source.path
    return sources


def _directory(directory: Path) -> list[Source]:
    root = directory
    clips = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in SUFFIXES and p.is_file() and not p.name.startswith(".")
    )
    if not clips:
        raise SourcesError(
            f"sources directory {directory} holds no clips "
            f"({', '.join(SUFFIXES)}, searched recursively)"
        )
    return [Source(clip_name(p.relative_to(root)), str(p)) for p in clips]


def _sheet(sheet: Path, schema_path: Path) -> list[Source]:
    import jsonschema
    import yaml

    schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    try:
        text = sheet.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SourcesError(f"sources sheet {sheet}: not UTF-8 text") from None
    lines = list(csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    if not lines or [c.strip() for c in lines[0]] != ["name", "path"]:
        raise SourcesError(
            f"sources sheet {sheet}:1: the header must be the two columns "
            "'name' and 'path', tab-separated"
        )
    sources, problems = [], []
    for number, cells in enumerate(lines[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != 2:
            problems.append(f"{sheet}:{number}: {len(cells)} columns, expected 2")
            continue
        row = {"name": cells[0], "path": cells[1]}
        errors = sorted(validator.iter_errors(row), key=lambda e: list(e.path))
        if errors:
            where = ".".join(map(str, errors[0].absolute_path)) or "row"
            problems.append(f"{sheet}:{number}: {where}: {errors[0].message}")
            continue
        path = Path(row["path"])
        path = path if path.is_absolute() else sheet.parent / path
        if not path.is_file():
            problems.append(f"{sheet}:{number}: clip {row['path']} does not exist")
            continue
        sources.append(Source(row["name"], str(path)))
    if problems:
        raise SourcesError("sources sheet problems:\n  " + "\n  ".join(problems))
    if not sources:
        raise SourcesError(f"sources sheet {sheet} lists no clips")
    return sources
