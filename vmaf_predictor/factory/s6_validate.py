"""Stage 6: check each exported model the way its consumer uses it.

Loads the file in onnxruntime (CPU provider) and stops the build, naming the
codec, the input and the values, unless
  - the input and output are the documented ones;
  - outputs are finite and inside [0, 100] over the training distribution
    and over extreme inputs;
  - predicted VMAF never rises as the quality value rises, at every integer
    and half-integer value of the codec's range, for 256 feature vectors
    spanning the training data (zero tolerance);
  - onnxruntime agrees with the trained float64 model within 1e-5.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vmaf_predictor.factory.network import TrainedModel
from vmaf_predictor.registry import Codec
from vmaf_predictor.runtime.features import (
    FEATURE_NAMES,
    INPUT_NAME,
    OUTPUT_NAME,
    extreme_inputs,
    spanning_rows,
)
from vmaf_predictor.runtime.session import open_session, predict

MONOTONE_VECTORS = 256
# How far onnxruntime may be from the trained float64 model (the graph
# computes in float64 too, so the gap is the float32 output cast).
PARITY_TOLERANCE = 1e-5
EXPECTED_IO = (
    (INPUT_NAME, "tensor(float)", ["N", len(FEATURE_NAMES)]),
    (OUTPUT_NAME, "tensor(float)", ["N", 1]),
)


class ValidationError(ValueError):
    """A model fails a check its consumer relies on."""


@dataclass(frozen=True)
class ValidationReport:
    codec: str
    status: str
    range_inputs: int
    lowest: float
    highest: float
    monotone_vectors: int
    quality_values: int
    largest_step: float  # the largest change of VMAF from one value to the next
    parity_rows: int


def quality_grid(codec: Codec) -> np.ndarray:
    """Every integer and half-integer quality value of the codec's range."""
    return np.arange(codec.quality_min, codec.quality_max + 0.25, 0.5)


def check_io(session, name: str) -> None:
    """The documented input and output names, types and shapes."""
    found = tuple(
        (arg.name, arg.type, list(arg.shape))
        for arg in (*session.get_inputs(), *session.get_outputs())
    )
    if found != EXPECTED_IO:
        raise ValidationError(f"{name}: graph has {found}, expected {EXPECTED_IO}")


def check_range(session, name: str, inputs: np.ndarray) -> np.ndarray:
    """Finite outputs inside [0, 100]; returns them."""
    vmaf = predict(session, inputs)
    bad = np.flatnonzero(~np.isfinite(vmaf) | (vmaf < 0.0) | (vmaf > 100.0))
    if bad.size:
        i = bad[0]
        raise ValidationError(
            f"{name}: output {vmaf[i]} outside [0, 100] for input {inputs[i].tolist()}"
        )
    return vmaf


def check_monotone(session, codec: Codec, vectors: list[list[float]]) -> float:
    """VMAF never rises along the quality grid, for each feature vector;
    returns the largest step (<= 0)."""
    grid = quality_grid(codec)
    batch = np.repeat(np.asarray(vectors), len(grid), axis=0)
    batch[:, 0] = np.tile(grid, len(vectors))
    curves = predict(session, batch).reshape(len(vectors), len(grid))
    steps = np.diff(curves, axis=1)
    if steps.max() > 0.0:
        v, j = np.unravel_index(np.argmax(steps), steps.shape)
        raise ValidationError(
            f"{codec.name}: predicted VMAF rises from {curves[v, j]} at crf "
            f"{grid[j]:g} to {curves[v, j + 1]} at crf {grid[j + 1]:g} for features "
            f"{dict(zip(FEATURE_NAMES[1:], vectors[v][1:], strict=True))}"
        )
    return float(steps.max())


def check_parity(session, trained: TrainedModel) -> int:
    """onnxruntime within 1e-5 of the trained float64 model; returns the rows."""
    inputs = trained.holdout_inputs + trained.check_inputs
    expected = np.asarray(trained.holdout_predictions + trained.check_predictions)
    produced = predict(session, np.asarray(inputs))
    gaps = np.abs(produced - expected)
    if not gaps.max() <= PARITY_TOLERANCE:
        i = int(np.argmax(gaps))
        raise ValidationError(
            f"{trained.codec}: onnxruntime gives {produced[i]}, the trained model "
            f"{expected[i]} (tolerance {PARITY_TOLERANCE:g}) for input {inputs[i]}"
        )
    return len(inputs)


def validate(
    model_bytes: bytes,
    trained: TrainedModel,
    codec: Codec,
    rows: list[list[float]],
) -> ValidationReport:
    """All checks; :class:`ValidationError` naming what failed."""
    session = open_session(model_bytes)
    check_io(session, codec.name)
    crfs = [codec.quality_min, codec.quality_default, codec.quality_max]
    probe = np.asarray(rows + extreme_inputs(crfs))
    vmaf = check_range(session, codec.name, probe)
    vectors = spanning_rows(rows, MONOTONE_VECTORS)
    largest_step = check_monotone(session, codec, vectors)
    parity_rows = check_parity(session, trained)
    return ValidationReport(
        codec=codec.name,
        status="pass",
        range_inputs=len(probe),
        lowest=round(float(vmaf.min()), 2),
        highest=round(float(vmaf.max()), 2),
        monotone_vectors=len(vectors),
        quality_values=len(quality_grid(codec)),
        largest_step=round(largest_step, 4) + 0.0,  # + 0.0: no "-0.0"
        parity_rows=parity_rows,
    )


def write_report(report: ValidationReport, path: str | Path) -> None:
    Path(path).write_text(json.dumps(asdict(report), indent=2) + "\n")


def read_report(path: Path) -> ValidationReport:
    return ValidationReport(**json.loads(Path(path).read_text()))
