"""Stage 0 (with ``--config sources=...``): one production encode of a clip
at one quality value, scored with libvmaf (one job per clip, codec and
quality value; the rest of the sweep is :mod:`s0_sweep`).

A failed encode or score is a result with its non-zero exit status, not a
failed job: the sweep goes on, the row records it, and the job's log keeps
FFmpeg's stderr. This module imports only the encode's code, so editing the
feature definitions re-runs no encode.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from vmaf_predictor.factory.jobs import write_atomic
from vmaf_predictor.runtime import encode
from vmaf_predictor.runtime.encoders import SweepSettings

log = logging.getLogger(__name__)


def run(input: Any, output: Any, params: Any, codec: str) -> str:
    """Stage entry point of ``sweep_encode``."""
    sweep = params.sweep
    settings = SweepSettings.from_params(sweep)
    # The source's frames (sweep_clip counted them), so that an encode
    # short of frames is run again.
    with open(input.info, encoding="utf-8") as handle:
        frames = json.load(handle)["clip"]["frames"]
    result = encode.encode_and_score(
        input.clip, codec, params.quality, settings, frames
    )
    if result.exit_status != 0:
        log.warning("%s", result.error)
        if result.stderr:
            log.warning("FFmpeg's stderr:\n%s", result.stderr)
    text = json.dumps(result.to_json(), indent=1, sort_keys=True) + "\n"
    write_atomic(output.result, text.encode("utf-8"))
    if result.exit_status != 0:
        return f"{codec} {params.quality} of {input.clip}: {result.error}"
    return (
        f"{codec} {params.quality} of {input.clip}: {result.encode_size_bytes} bytes "
        f"in {result.encode_time_ms} ms, VMAF {result.vmaf_score} "
        f"({result.frames} frames, {result.score_time_ms} ms)"
    )
