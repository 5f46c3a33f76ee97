"""Stage 0 (with ``--config sources=...``): a shot's reference
(``sweep_reference``): its frames of the clip, decoded to the clean clip
the sweep probes, encodes and scores against
(:func:`vmaf_predictor.runtime.reference.write_reference`: 8-bit 4:2:0,
even size, constant rate, y4m), from the clip's shots manifest.

This module imports only the reference's code: editing the scene detection
re-runs the split, and a shot whose frames stay the same is not rewritten.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vmaf_predictor.runtime import ffmpeg as ff
from vmaf_predictor.runtime import reference


def run(input: Any, output: Any, params: Any, codec: None = None) -> str:
    """Stage entry point of ``sweep_reference``."""
    ffmpeg = ff.locate(params.sweep.get("ffmpeg"))
    manifest = json.loads(Path(input.shots).read_text(encoding="utf-8"))
    timing = reference.timing_from_json(manifest["timing"])
    ref = reference.write_reference(
        ffmpeg,
        input.clip,
        output.reference,
        start=int(params.shot["start"]),
        frames=int(params.shot["frames"]),
        timing=timing,
    )
    changes = "; ".join(ref.changes) or "frames as decoded"
    return (
        f"{input.clip} frames {ref.start}-{ref.start + ref.frames - 1} -> "
        f"{output.reference}: {ref.width}x{ref.height} at {ref.fps} fps ({changes})"
    )
