"""The codec registry: analytical curve coefficients and quality ranges."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Codec:
    """One codec adapter and its analytical fallback curve."""

    name: str
    a: float
    b: float
    c: float
    d: float
    crf_ref: float
    quality_min: float
    quality_max: float
    quality_default: float

    def analytical_vmaf(self, crf: float, bitrate_kbps: float) -> float:
        """``a - b*D - c*D^2 + d*log10(max(bitrate, 1))``, clamped to [0, 100]."""
        delta = crf - self.crf_ref
        vmaf = (
            self.a
            - self.b * delta
            - self.c * delta * delta
            + self.d * math.log10(max(bitrate_kbps, 1.0))
        )
        return min(100.0, max(0.0, vmaf))


def codec_from_config(name: str, entry: Mapping[str, Any]) -> Codec:
    """Build a :class:`Codec` from one ``codecs:`` entry of ``config.yaml``."""
    low, high = entry["quality_range"]
    return Codec(
        name=name,
        a=float(entry["a"]),
        b=float(entry["b"]),
        c=float(entry["c"]),
        d=float(entry["d"]),
        crf_ref=float(entry["crf_ref"]),
        quality_min=float(low),
        quality_max=float(high),
        quality_default=float(entry["quality_default"]),
    )


def registry_from_config(config: Mapping[str, Any]) -> dict[str, Codec]:
    """All codecs of a validated config, in config order."""
    return {name: codec_from_config(name, e) for name, e in config["codecs"].items()}
