"""``make bench-pick``: the CRF for a target, by four strategies, side by side.

On clips no model trained on (the demo's held-out clips by default), for
each software codec and target, four strategies answer:

- ``one-probe``: the model's pick from one probe encode, not verified;
- ``model search``: ``pick-crf --verify`` from the model's pick;
- ``analytical search``: the same search from the analytical curve's pick;
- ``crf-search``: ab-av1's rule with no model (no encode budget: it runs
  until its own stop rules hold, as ab-av1 does).

Every value any strategy asks for is encoded with the sweep's production
settings and scored with libvmaf once, and shared (a memo per clip and
codec), so the strategies see identical measurements. The best value, the
highest one that meets the target, is then found by measuring around the
answers until two neighbouring values bracket the target. Printed per
strategy: the share of answers that meet the target as measured (and
within 0.5 below it), the answer's bitrate against the best value's
(geometric mean and worst), production encodes per answer (mean and worst)
and the wall time per answer (the probe, when the strategy uses one, plus
its encodes' and scores' own times).

    python tools/bench_pick.py [--clips DIR_OR_FILE ...] [--models DIR]
        [--codecs ...] [--targets 88 93 95] [--cores 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vmaf_predictor.runtime import encode, measure, search  # noqa: E402
from vmaf_predictor.runtime import ffmpeg as ff  # noqa: E402
from vmaf_predictor.runtime.clip import step_of, sweep_settings  # noqa: E402
from vmaf_predictor.runtime.encoders import SOFTWARE_CODECS  # noqa: E402
from vmaf_predictor.runtime.predictor import (  # noqa: E402
    Predictor,
    lookup_codec,
    model_path_for,
)

STRATEGIES = ("one-probe", "model search", "analytical search", "crf-search")
TARGETS = (88.0, 93.0, 95.0)
CLIP_SUFFIXES = (".y4m", ".mkv", ".mp4", ".mov", ".webm", ".avi", ".mpg")
NEAR = 0.5  # an answer "within 0.5": measured >= target - NEAR
# encode_and_score's own retries (libvvenc through FFmpeg 9 now and then
# writes an empty file) can all fail on a loaded machine: a benchmark of
# hundreds of encodes tries each value this many times over.
RETRIES = 3
FAILED: list[str] = []  # clip and codec pairs left out, and why


class Truth:
    """Real encodes of one clip and codec, each scored once."""

    def __init__(self, clip: Path, codec: str, settings, facts) -> None:
        self.clip, self.codec, self.settings, self.facts = clip, codec, settings, facts
        self.steps: dict[int, search.Step] = {}

    def __call__(self, q: int) -> search.Step:
        if q not in self.steps:
            for _ in range(RETRIES):
                scored = encode.encode_and_score(
                    self.clip, self.codec, q, self.settings, self.facts.frames
                )
                if scored.exit_status == 0:
                    break
            else:
                raise RuntimeError(f"{self.clip} {self.codec} {q}: {scored.error}")
            self.steps[q] = step_of(scored, q, self.facts, None)
        return self.steps[q]

    def best(self, target: float, low: int, high: int, hints: list[int]) -> int | None:
        """The highest value meeting ``target``: bisection from what is
        measured until neighbouring values bracket it (None: even the
        range's lowest value misses)."""
        for q in hints:
            self(q)
        while True:
            meets = [q for q, s in self.steps.items() if s.measured_vmaf >= target]
            good = max(meets) if meets else None
            misses = [
                q
                for q, s in self.steps.items()
                if s.measured_vmaf < target and (good is None or q > good)
            ]
            bad = min(misses) if misses else None
            if good is None:
                if low in self.steps:
                    return None
                self(low)
                continue
            if bad is None:
                if good == high:
                    return good
                self(high)
                continue
            if bad == good + 1:
                return good
            self((good + bad) // 2)


def clip_paths(specs: list[Path]) -> list[Path]:
    paths: list[Path] = []
    for spec in specs:
        if spec.is_dir():
            paths += sorted(p for p in spec.rglob("*") if p.suffix in CLIP_SUFFIXES)
        else:
            paths.append(spec)
    return paths


def one_clip(clip: Path, codec: str, models: Path, targets: list[float]) -> list[dict]:
    """Every strategy at every target on one clip and codec."""
    settings = sweep_settings()
    entry = lookup_codec(codec)
    low, high = int(entry.quality_min), int(entry.quality_max)
    start = time.perf_counter()
    features, measured = measure.measure(clip, codec, settings)
    probe_s = time.perf_counter() - start
    truth = Truth(clip, codec, settings, measured.clip)
    predictors = {
        "model search": Predictor(model_path_for(codec, models)),
        "analytical search": Predictor(),
    }
    curves = {k: p.curve(features, codec) for k, p in predictors.items()}
    cases = []
    slope = search.prior_slope(codec, entry.b)
    for target in targets:
        problem = search.Problem(
            target, search.DEFAULT_TOLERANCE, low, high, search.DEFAULT_MAX_ENCODES,
            slope,
        )  # fmt: skip
        answers: dict[str, tuple[int, list[int], float]] = {}
        pick = predictors["model search"].pick_crf(features, target, codec).crf
        answers["one-probe"] = (pick, [], probe_s)
        for kind, predictor in predictors.items():
            first = predictor.pick_crf(features, target, codec).crf
            found = search.run_search(problem, truth, first, curves[kind])
            answers[kind] = (found.crf, _values(found), probe_s + _seconds(found))
        unlimited = search.Problem(
            target, search.DEFAULT_TOLERANCE, low, high, high - low + 1, slope
        )
        found = search.run_search(unlimited, truth, search.crf_search_first(unlimited))
        answers["crf-search"] = (found.crf, _values(found), _seconds(found))
        best = truth.best(target, low, high, [q for q, _, _ in answers.values()])
        for kind, (q, values, seconds) in answers.items():
            step = truth(q)
            cases.append(
                {
                    "clip": clip.name,
                    "codec": codec,
                    "target": target,
                    "strategy": kind,
                    "crf": q,
                    "measured_vmaf": step.measured_vmaf,
                    "bitrate_kbps": step.bitrate_kbps,
                    "best_crf": best,
                    "best_kbps": truth(best).bitrate_kbps if best is not None else None,
                    "encodes": len(values),
                    "steps": values,
                    "seconds": round(seconds, 3),
                }
            )
    return cases


def _values(found: search.Found) -> list[int]:
    return [s.crf for s in found.steps]


def _seconds(found: search.Found) -> float:
    return sum(s.encode_time_ms + s.score_time_ms for s in found.steps) / 1000


def summary(cases: list[dict]) -> list[dict]:
    lines = []
    for kind in STRATEGIES:
        chosen = [c for c in cases if c["strategy"] == kind]
        if not chosen:
            continue
        reachable = [c for c in chosen if c["best_kbps"]]
        ratios = [c["bitrate_kbps"] / c["best_kbps"] for c in reachable]
        encodes = [c["encodes"] for c in chosen]
        lines.append(
            {
                "strategy": kind,
                "answers": len(chosen),
                "reachable": len(reachable),
                "met": sum(c["measured_vmaf"] >= c["target"] for c in reachable),
                "near": sum(
                    c["measured_vmaf"] >= c["target"] - NEAR for c in reachable
                ),
                "bitrate_geomean": math.exp(statistics.fmean(map(math.log, ratios))),
                "bitrate_worst": max(ratios),
                "bitrate_best": min(ratios),
                "encodes_mean": statistics.fmean(encodes),
                "encodes_worst": max(encodes),
                "seconds_median": statistics.median(c["seconds"] for c in chosen),
            }
        )
    return lines


def table(lines: list[dict]) -> str:
    out = [
        "| strategy | answers (reachable) | meet T | >= T-0.5 "
        "| bitrate / best (geo mean) "
        "| worst | lowest | encodes (mean) | worst | wall s per answer (median) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in lines:
        out.append(
            f"| {s['strategy']} | {s['answers']} ({s['reachable']}) "
            f"| {100 * s['met'] / s['reachable']:.0f}% "
            f"| {100 * s['near'] / s['reachable']:.0f}% | {s['bitrate_geomean']:.3f} "
            f"| {s['bitrate_worst']:.2f} | {s['bitrate_best']:.2f} "
            f"| {s['encodes_mean']:.2f} | {s['encodes_worst']} "
            f"| {s['seconds_median']:.2f} |"
        )
    return "\n".join(out)


def ratio_line(lines: list[dict]) -> str:
    by = {s["strategy"]: s for s in lines}
    if "model search" not in by or "crf-search" not in by:
        return ""
    ratio = by["model search"]["encodes_mean"] / by["crf-search"]["encodes_mean"]
    return f"model search / crf-search encodes per answer: {ratio:.2f}x"


def pick_table(
    clips: list[Path],
    models: Path,
    codecs: list[str],
    targets: list[float],
    cores: int,
) -> tuple[list[dict], list[dict]]:
    """Every case and the per-strategy summary (``cores`` clips and codecs
    at a time)."""
    tasks = [(clip, codec) for clip in clips for codec in codecs]
    cases: list[dict] = []
    with ProcessPoolExecutor(cores) as pool:
        futures = [pool.submit(one_clip, c, k, models, targets) for c, k in tasks]
        for (clip, codec), future in zip(tasks, futures, strict=True):
            try:
                cases += future.result()
            except RuntimeError as error:  # an encoder that cannot encode it
                FAILED.append(f"{clip.name} {codec}: {error}")
                print(f"  {clip.name} {codec}: FAILED: {error}", file=sys.stderr)
                continue
            print(f"  {clip.name} {codec}: done", file=sys.stderr, flush=True)
    return cases, summary(cases)


def main(argv: list[str] | None = None) -> int:
    top = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    demo = ROOT / "results" / "demo"
    top.add_argument(
        "--clips", type=Path, nargs="+", default=[demo / "clips" / "heldout"]
    )
    top.add_argument("--models", type=Path, default=demo / "model")
    top.add_argument("--codecs", nargs="+", default=list(SOFTWARE_CODECS))
    top.add_argument("--targets", type=float, nargs="+", default=list(TARGETS))
    top.add_argument("--cores", type=int, default=2)
    top.add_argument("--json", type=Path, help="write every case here")
    args = top.parse_args(argv)
    clips = clip_paths(args.clips)
    if not clips:
        print(f"error: no clips in {' '.join(map(str, args.clips))} (run make demo)")
        return 2
    for codec in args.codecs:
        if not model_path_for(codec, args.models).is_file():
            print(f"error: no {codec} model in {args.models} (run make demo)")
            return 2
    ff.locate(None)
    start = time.perf_counter()
    cases, lines = pick_table(clips, args.models, args.codecs, args.targets, args.cores)
    print(
        f"{len(clips)} clips x {len(args.codecs)} codecs x {len(args.targets)} "
        f"targets; models {args.models}; tolerance {search.DEFAULT_TOLERANCE:g}, "
        f"budget {search.DEFAULT_MAX_ENCODES} encodes (crf-search: none); "
        f"{time.perf_counter() - start:.0f} s"
    )
    print(table(lines))
    print(ratio_line(lines))
    for failed in FAILED:
        print(f"left out (an encode kept failing): {failed}")
    if args.json:
        args.json.write_text(json.dumps({"cases": cases, "summary": lines}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
