"""Names: of the published artefacts (the one place they are spelled), and of
the clips a sweep or a search measures (a row's ``src``).

The workflow's rules, the runtime predictor, the card, the hash stage, verify
and the report all name ``model/`` files through these functions.
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
