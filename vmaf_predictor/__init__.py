"""Reproducible per-codec VMAF-predictor models.

The modules follow the pipeline: ``corpus`` -> ``train`` -> ``export`` ->
``allowlist`` -> ``card`` -> ``hashes`` (and ``verify`` for CI).
"""

import os

# onnxruntime's Linux wheels (1.32) carry Microsoft's 1DS telemetry: loading
# the library writes $TMPDIR/.ses (a session id) and queues events to upload.
# Off unless the user set it otherwise; it must be set before onnxruntime loads.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
