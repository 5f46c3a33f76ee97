"""What a run checks before its first job (vmaf_predictor.factory.runs)."""

from __future__ import annotations

import os

from vmaf_predictor.factory import runs


def test_an_output_below_a_writable_directory_is_writable(tmp_path):
    assert runs.unwritable_outputs([tmp_path / "results" / "x" / "y.json"]) is None


def test_an_output_in_a_directory_without_write_permission_is_named(tmp_path):
    locked = tmp_path / "model"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        found = runs.unwritable_outputs([locked / "m.onnx"])
    finally:
        locked.chmod(0o755)
    # root may write anywhere
    assert found == (None if os.geteuid() == 0 else f"{locked}/")
