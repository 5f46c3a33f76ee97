"""Sweep throughput, and the workflow's overhead over FFmpeg's own time.

    .venv/bin/python tools/sweep_benchmark.py [--cores 2] [--clips N]

1. Makes the first N of the demo's training clips (tools/demo.py).
2. Times `snakemake --cores C sweep` in a fresh copy of the workflow (every
   job: check, clip facts, probes, encodes, gather).
3. Times the same work run by hand: the same measurement and encode+score
   functions the jobs call, C processes at a time, no Snakemake.
4. Checks that both gave the same VMAF scores, and
   prints encodes and scores per minute for both and the overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the workflow-copy helper
sys.path.insert(0, str(ROOT / "tools"))

import demo  # noqa: E402
from checkout import copy_workflow  # noqa: E402

from vmaf_predictor import config_file  # noqa: E402
from vmaf_predictor import config_file as workflow_config  # noqa: E402
from vmaf_predictor.runtime import encode, measure  # noqa: E402
from vmaf_predictor.runtime import ffmpeg as ff  # noqa: E402
from vmaf_predictor.runtime.encoders import SweepSettings  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def by_hand_clip(clip: str, settings: SweepSettings, codecs: list[str]) -> str:
    ffmpeg = ff.locate(settings.ffmpeg)
    facts = measure.clip_facts(ffmpeg, clip)
    window = facts.window(settings.probe_max_frames)
    measure.analyse(ffmpeg, clip, window)
    for codec in codecs:
        measure.probe(ffmpeg, clip, codec, settings, window)
    return clip


def by_hand_encode(
    clip: str, codec: str, q: int, settings: SweepSettings
) -> tuple[tuple[str, str, int], float]:
    result = encode.encode_and_score(clip, codec, q, settings)
    return (Path(clip).stem, codec, q), result.vmaf_score


def main() -> int:
    top = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    top.add_argument("--cores", type=int, default=2)
    top.add_argument("--clips", type=int, default=4, help="demo clips to sweep")
    args = top.parse_args()
    config = config_file.load()
    settings = SweepSettings.from_config(config)
    codecs = list(config["sweep_codecs"])
    plan = [(c, q) for c in codecs for q in workflow_config.ladder(config, c)]
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as scratch:
        scratch = Path(scratch)
        names = dict(list(demo.TRAIN.items())[: args.clips])
        clips = demo.make_clips(ff.locate(settings.ffmpeg), scratch / "clips", names)
        encodes = len(clips) * len(plan)

        checkout = copy_workflow(scratch / "wf")
        command = [sys.executable, "-m", "snakemake", "--cores", str(args.cores)]
        command += ["sweep", "--config", f"sources={scratch / 'clips'}"]
        cpu, start = children_cpu(), time.perf_counter()
        env = {**os.environ, "PYTHONPATH": str(checkout)}  # the copy's code
        done = subprocess.run(
            command, cwd=checkout, env=env, capture_output=True, text=True
        )
        workflow_s = time.perf_counter() - start
        workflow_cpu = children_cpu() - cpu
        if done.returncode != 0:
            sys.exit(done.stderr[-3000:])
        corpus = (checkout / "results" / "sweep" / "corpus.jsonl").read_text()
        rows = [json.loads(line) for line in corpus.splitlines()]
        ffmpeg_s = sum(r["encode_time_ms"] + r["score_time_ms"] for r in rows) / 1000

        cpu, start = children_cpu(), time.perf_counter()
        with ProcessPoolExecutor(args.cores) as pool:
            list(pool.map(by_hand_clip, map(str, clips), [settings] * len(clips),
                          [codecs] * len(clips)))  # fmt: skip
            jobs = [(str(clip), c, q) for clip in clips for c, q in plan]
            scores = list(
                pool.map(
                    by_hand_encode,
                    *zip(*jobs, strict=True),
                    [settings] * len(jobs),
                )
            )
        by_hand_s = time.perf_counter() - start
        by_hand_cpu = children_cpu() - cpu
    in_rows = {(r["src"], r["encoder"], r["crf"]): r["vmaf_score"] for r in rows}
    differ = {k: (v, in_rows.get(k)) for k, v in scores if in_rows.get(k) != v}
    same = not differ and len(in_rows) == len(scores)
    errors = {(r["src"], r["encoder"], r["crf"]): r.get("error") for r in rows}
    for key, (by_hand, row) in sorted(differ.items()):
        print(f"  differs: {key}: by hand {by_hand}, row {row} {errors.get(key)}")
    print(f"{len(clips)} clips x {len(plan)} (codec, quality value) = {encodes} rows")
    print(f"  snakemake --cores {args.cores} sweep: {workflow_s:.1f} s wall "
          f"({encodes / workflow_s * 60:.1f} encodes+scores per minute)")  # fmt: skip
    print(f"  the same by hand, {args.cores} processes: {by_hand_s:.1f} s wall "
          f"({encodes / by_hand_s * 60:.1f} per minute)")  # fmt: skip
    print(f"  workflow overhead: {workflow_s - by_hand_s:+.1f} s "
          f"({(workflow_s / by_hand_s - 1) * 100:+.0f} %)")  # fmt: skip
    print(f"  FFmpeg's own time in the rows (encode + score): {ffmpeg_s:.1f} s")
    print(
        f"  CPU (children): workflow {workflow_cpu:.0f} s, by hand {by_hand_cpu:.0f} s"
    )
    print(f"  same VMAF scores both ways: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
