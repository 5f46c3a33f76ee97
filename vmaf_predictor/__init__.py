"""Reproducible per-codec VMAF-predictor models.

The modules follow the pipeline: ``corpus`` -> ``train`` -> ``export`` ->
``allowlist`` -> ``card`` -> ``hashes`` (and ``verify`` for CI).
"""

__version__ = "0.1.0"
