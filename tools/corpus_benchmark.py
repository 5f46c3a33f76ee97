"""Split speed and memory on a generated Phase A corpus (issue: scale).

    .venv/bin/python tools/corpus_benchmark.py                 # 1M and 5M rows
    .venv/bin/python tools/corpus_benchmark.py --rows 200000 1000000

For each size: writes a realistic corpus under /tmp (all 14 codecs plus a
codec outside the registry, some failed encodes, full Phase A keys; about
490 bytes a row), then prints, each the median of --runs, in a fresh process:
- `wc -l` of the file: reading it once, as fast as it gets;
- decode only: the split's chunks decoded (``runtime.corpus.decode``), on as
  many threads, and no rule applied (the floor of the split);
- the split itself (``s1_split.split``), with rows/s, MB/s and its peak RSS.
Peak RSS staying flat from one size to the next shows memory does not grow
with the file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

SPLIT_ONCE = """
import sys, yaml
from vmaf_predictor.factory import s1_split
from vmaf_predictor import registry
config = yaml.safe_load(open(sys.argv[3]))
s1_split.split(sys.argv[1], registry.registry_from_config(config), sys.argv[2])
"""


def generate(path: Path, rows: int, codecs: dict) -> None:
    rng = random.Random(7)
    names = [*codecs, "libvpx-vp9"]
    with open(path, "w") as handle:
        for i in range(rows):
            encoder = names[i % len(names)]
            low, high = codecs.get(encoder, {"quality_range": [0, 63]})["quality_range"]
            crf = rng.randint(int(low), int(high))
            ok = rng.random() > 0.01
            row = {
                "schema_version": 3,
                "run_id": f"run-{i // 1000:06d}",
                "timestamp": "2026-05-01T12:00:00Z",
                "src": f"clips/clip{i % 500:04d}.y4m",
                "width": 1920,
                "height": 1080,
                "pix_fmt": "yuv420p",
                "framerate": 30.0,
                "duration_s": 10.0,
                "encoder": encoder,
                "encoder_version": "1.0",
                "preset": "medium",
                "crf": crf,
                "encode_size_bytes": rng.randint(10**5, 10**8),
                "bitrate_kbps": round(rng.uniform(200, 40000), 3),
                "encode_time_ms": rng.randint(100, 100000),
                "vmaf_score": round(rng.uniform(20, 100), 4) if ok else None,
                "vmaf_model": "vmaf_v0.6.1",
                "exit_status": 0 if ok else 1,
                "adm2_mean": round(rng.random(), 6),
                "motion2_mean": round(rng.uniform(0, 20), 6),
            }
            handle.write(json.dumps(row) + "\n")


def decode_only(corpus: Path) -> None:
    """Decode every chunk as the split does, and nothing else."""
    from vmaf_predictor.runtime import corpus as reading

    def decode(bounds: tuple[int, int]) -> int:
        return len(reading.decode(reading.read_bytes(corpus, *bounds), 1 << 20).line)

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        print(sum(pool.map(decode, reading.chunks(corpus, 1 << 20))))


def timed(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run, measured by GNU time."""
    start = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *command],
        check=True,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    return elapsed, int(result.stderr.strip().splitlines()[-1])


def median_seconds(command: list[str], runs: int) -> float:
    return statistics.median(timed(command)[0] for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--decode-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.decode_only:
        decode_only(args.decode_only)
        return
    config_path = ROOT / "config.yaml"
    codecs = yaml.safe_load(config_path.read_text())["codecs"]
    print(f"{'rows':>10} {'MB':>6} {'wc -l s':>8} {'decode s':>9} {'split s':>8} "
          f"{'/wc -l':>7} {'/decode':>8} {'rows/s':>9} {'MB/s':>6} "
          f"{'peak RSS MiB':>13}")  # fmt: skip
    for rows in args.rows:
        with tempfile.TemporaryDirectory(dir="/tmp") as scratch:
            corpus = Path(scratch) / "corpus.jsonl"
            generate(corpus, rows, codecs)
            megabytes = corpus.stat().st_size / 1e6
            wc = median_seconds(["wc", "-l", str(corpus)], args.runs)
            decode = median_seconds(
                [sys.executable, __file__, "--decode-only", str(corpus)], args.runs
            )
            splits, peaks = [], []
            for run in range(args.runs):
                out = Path(scratch) / f"split{run}"
                # A fresh process per run, so its peak RSS is this split's alone.
                elapsed, peak = timed(
                    [sys.executable, "-c", SPLIT_ONCE, str(corpus), str(out),
                     str(config_path)]
                )  # fmt: skip
                splits.append(elapsed)
                peaks.append(peak)
            split = statistics.median(splits)
            print(
                f"{rows:>10} {megabytes:>6.0f} {wc:>8.2f} {decode:>9.2f} "
                f"{split:>8.2f} {split / wc:>6.1f}x {split / decode:>7.2f}x "
                f"{rows / split:>9.0f} {megabytes / split:>6.1f} "
                f"{max(peaks) / 1024:>13.0f}"
            )


if __name__ == "__main__":
    main()
