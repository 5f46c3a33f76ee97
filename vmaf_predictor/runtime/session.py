"""The one way this project runs a model: onnxruntime on the CPU provider,
fed and read exactly as the consumer does (float32 rows in, ``vmaf`` out)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_predictor.runtime.features import INPUT_NAME, OUTPUT_NAME

# onnxruntime 1.32's POSIX telemetry writes a session-id file (``.ses``) into
# the temporary directory and tries to upload events; this project runs
# offline and leaves nothing behind. Read once, when onnxruntime initialises;
# a caller who sets the variable keeps its value.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def open_session(model: bytes | str | Path) -> Any:
    """An onnxruntime session on a model file or serialised bytes."""
    import onnxruntime as ort

    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"])


def predict(session: Any, rows: Any) -> np.ndarray:
    """Raw model output (float64, unclamped) for float32 rows [N, 14]."""
    inputs = np.asarray(rows, dtype=np.float64).astype(np.float32)
    (output,) = session.run([OUTPUT_NAME], {INPUT_NAME: inputs})
    return output[:, 0].astype(np.float64)
