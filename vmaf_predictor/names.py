"""Names: of the published artefacts (the one place they are spelled), and of
the clips a sweep or a search measures (a row's ``src``).

The workflow's rules, the runtime predictor, the card, the hash stage, verify
and the report all name ``model/`` files through these functions; the
sweep's shots are named here too, with the inverse (a shot's clip), which
grouped evaluation groups by.
"""

from __future__ import annotations

import re
from pathlib import Path

MODEL_DIR = "model"
SUMS_NAME = "SHA256SUMS"
PROVENANCE_NAME = "PROVENANCE.json"


def model_file_name(codec: str) -> str:
    """``predictor_<codec>.onnx``: the name the consumer loads."""
    return f"predictor_{codec}.onnx"


def card_file_name(codec: str) -> str:
    """``predictor_<codec>_card.md``: the model card beside it."""
    return f"predictor_{codec}_card.md"


# A clip's name (a row's ``src``, and its files under results/sweep/).
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def clip_name(relative: Path) -> str:
    """``shots/a b.mp4`` -> ``shots__a_b``: the path without its suffix,
    ``/`` as ``__``, other characters than letters, digits, ``.``, ``_`` and
    ``-`` as ``_``."""
    parts = [_UNSAFE.sub("_", part) for part in relative.with_suffix("").parts]
    name = "__".join(parts)
    return name if re.fullmatch(NAME_PATTERN, name) else f"clip_{name}"


# Shots -------------------------------------------------------------------------
# A sweep source is one shot. A clip the shot split finds one shot in is
# swept under its own name; a clip of several shots gives one source per shot,
# named ``<clip>@shot<NNN>`` (NNN from 000, in frame order). ``@`` is never in
# a clip's name (NAME_PATTERN), so the clip of a source is exact.
SHOT_SEPARATOR = "@shot"
SHOT_DIGITS = 3
_SHOT_SUFFIX = re.compile(rf"{re.escape(SHOT_SEPARATOR)}(\d{{{SHOT_DIGITS},}})\Z")


def shot_name(clip: str, index: int, shots: int) -> str:
    """The ``src`` of shot ``index`` (from 0) of a clip split into ``shots``:
    the clip's own name when it is one shot, ``<clip>@shot<NNN>`` otherwise."""
    if not 0 <= index < shots:
        raise ValueError(f"shot {index} of a clip of {shots} shots")
    if shots == 1:
        return clip
    return f"{clip}{SHOT_SEPARATOR}{index:0{SHOT_DIGITS}d}"


def clip_of(src: str) -> str:
    """The clip a source (a row's ``src``) comes from: the inverse of
    :func:`shot_name`. A ``src`` without a shot suffix (a clip swept whole,
    or any corpus's own names) is its own clip, unchanged."""
    match = _SHOT_SUFFIX.search(src)
    return src[: match.start()] if match and match.start() > 0 else src
