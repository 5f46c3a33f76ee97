"""File names of the published artefacts: the one place they are spelled.

The workflow's rules, the runtime predictor, the card, the hash stage, verify
and the report all name ``model/`` files through these functions.
"""

from __future__ import annotations

MODEL_DIR = "model"
SUMS_NAME = "SHA256SUMS"
PROVENANCE_NAME = "PROVENANCE.json"


def model_file_name(codec: str) -> str:
    """``predictor_<codec>.onnx``: the name the consumer loads."""
    return f"predictor_{codec}.onnx"


def card_file_name(codec: str) -> str:
    """``predictor_<codec>_card.md``: the model card beside it."""
    return f"predictor_{codec}_card.md"
