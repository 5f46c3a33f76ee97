"""The report's sweep page of a codec: measured VMAF and bitrate against the
quality value, one line per clip, from the sweep's rows
(``results/sweep/corpus.jsonl``). A work product, like the rest of the report.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any


def curves(
    corpus: str | Path, codec: str
) -> dict[str, list[tuple[float, float, float]]]:
    """Clip -> [(quality value, VMAF, kbps)] of the codec's scored rows,
    ascending in quality value."""
    lines: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    with open(corpus, encoding="utf-8") as handle:
        for text in handle:
            row = json.loads(text)
            if row["encoder"] != codec or row["exit_status"] != 0:
                continue
            if row["vmaf_score"] is None:
                continue
            point = (row["crf"], row["vmaf_score"], row["bitrate_kbps"])
            lines[row["src"]].append(point)
    return {clip: sorted(points) for clip, points in sorted(lines.items())}


def plot(codec: str, lines: dict[str, list[tuple]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (vmaf_axes, rate_axes) = plt.subplots(1, 2, figsize=(11, 4.5))
    for clip, points in lines.items():
        q = [p[0] for p in points]
        vmaf_axes.plot(q, [p[1] for p in points], marker="o", ms=3, label=clip)
        rate_axes.plot(q, [p[2] for p in points], marker="o", ms=3, label=clip)
    quality = "QP" if codec == "libvvenc" else "CRF"
    vmaf_axes.set(xlabel=quality, ylabel="VMAF (vmaf_v0.6.1)", title="VMAF")
    rate_axes.set(xlabel=quality, ylabel="kbit/s", title="bitrate", yscale="log")
    for axes in (vmaf_axes, rate_axes):
        axes.grid(True, alpha=0.3)
    if lines:
        rate_axes.legend(fontsize=7, loc="upper right", ncol=1 + len(lines) // 12)
    else:
        vmaf_axes.text(0.5, 0.5, "no scored rows", ha="center")
    figure.suptitle(f"{codec}: the sweep, one line per clip")
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(figure)


def run(input: Any, output: Any, params: Any, codec: str) -> str:
    """Stage entry point of ``report_sweep``."""
    lines = curves(input.corpus, codec)
    plot(codec, lines, Path(output.figure))
    rows = sum(map(len, lines.values()))
    return f"{codec}: {rows} scored rows of {len(lines)} clips in {output.figure}"
