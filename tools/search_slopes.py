"""The search's prior slope per codec, measured on a sweep corpus.

Near a target, VMAF follows a logistic curve in the quality value, so the
search extrapolates in logit(VMAF) per quality step. This prints, per codec,
the median of that slope between neighbouring ladder values whose VMAF lies
in [LOW, HIGH] (every source of the corpus, each pair counted once), in the
form of runtime/search.py's ``LOGIT_SLOPES``:

    python tools/search_slopes.py results/demo/results/sweep/corpus.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
from collections import defaultdict
from pathlib import Path

from vmaf_predictor.runtime.search import logit

LOW, HIGH = 80.0, 99.0


def slopes(corpus: Path) -> dict[str, list[float]]:
    """Every neighbouring-pair logit slope per codec, from a Phase A JSONL."""
    ladders: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for line in corpus.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("exit_status", 0) == 0:
            ladders[row["encoder"], row["src"]][int(row["crf"])] = row["vmaf_score"]
    out: dict[str, list[float]] = defaultdict(list)
    for (codec, _), ladder in sorted(ladders.items()):
        for a, b in itertools.pairwise(sorted(ladder)):
            va, vb = ladder[a], ladder[b]
            if LOW <= vb < va <= HIGH:
                out[codec].append((logit(va) - logit(vb)) / (b - a))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    measured = slopes(parser.parse_args().corpus)
    for codec, values in measured.items():
        median = statistics.median(values)
        print(f'    "{codec}": {median:.3f},  # {len(values)} pairs')


if __name__ == "__main__":
    main()
