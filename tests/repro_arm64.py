"""Same bytes on aarch64: `make test-arm64 [ARM_CPU=neoverse-n1] [ARM_STUBS=...]`.

Prepares the emulated aarch64 environment (tests/arm64.py: cached outside the
repository, re-used when intact), then builds, every stage from the split to
the hashes in one Python process under `qemu-aarch64 -cpu <ARM_CPU>`:
  - stub codecs (synthetic corpus, 400 epochs): their ONNX files and cards
    must be the committed model/ bytes;
  - libx264 from a small real corpus (five sources: split by source, grouped
    cross-validation with two seeds, early stopping, the blended
    content-slope curve; the case tests/test_repro.py runs under Nehalem).
The same builds run natively (x86-64), and every file the aarch64 builds
produced (ONNX, cards, the float64 training results, corpus tables, checks,
hash lists) must equal the native file of the same name. Prints one line per
file and a count; a difference names the file and its first differing JSON
field or byte, and exits 1.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import sys
import time
from pathlib import Path

import arm64
import repro

from vmaf_predictor.names import card_file_name, model_file_name

REAL_CODEC = "libx264"


def produced_files(out: Path) -> list[Path]:
    """Every file a build wrote, relative to its directory, in a fixed order."""
    return sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())


def compare(
    label: str, emulated: Path, native: Path, committed: dict[str, Path]
) -> tuple[list[str], list[str]]:
    """Lines for each file of ``emulated``: equal to the committed file of its
    name when there is one, else to the native build's. Returns (lines of
    equal files, lines of differences)."""
    same, differing = [], []
    mine_files, native_files = produced_files(emulated), set(produced_files(native))
    for missing in sorted(native_files - set(mine_files)):
        differing.append(f"{label}/{missing}: not produced on aarch64")
    for relative in mine_files:
        mine = (emulated / relative).read_bytes()
        reference = committed.get(str(relative), native / relative)
        name = f"{label}/{relative}"
        if not reference.is_file():
            differing.append(f"{name}: no x86-64 file of that name ({reference})")
            continue
        theirs = reference.read_bytes()
        if mine == theirs:
            same.append(f"aarch64 == x86-64: {name} {hashlib.sha256(mine).hexdigest()}")
        else:
            where = repro.first_difference(mine, theirs, str(relative))
            differing.append(f"aarch64 != x86-64: {name} (vs {reference}): {where}")
    return same, differing


def run(cpu: str, stubs: list[str], scratch: Path) -> tuple[list[str], list[str]]:
    interpreter = arm64.prepare(cpu)
    emulated = repro.Condition(f"qemu-aarch64 -cpu {cpu}", interpreter=interpreter)
    native = repro.Condition("native")
    real_config = repro.real_corpus_config(scratch)
    builds = {  # label -> (codecs, config)
        "stubs": (stubs, None),
        "real-corpus": ([REAL_CODEC], real_config),
    }
    with concurrent.futures.ThreadPoolExecutor(len(builds)) as pool:
        arm = {
            label: pool.submit(
                repro.build_in_process,
                emulated,
                scratch / "aarch64" / label,
                codecs,
                config,
            )
            for label, (codecs, config) in builds.items()
        }
        x86 = {
            label: repro.build_in_process(
                native, scratch / "x86-64" / label, codecs, config
            )
            for label, (codecs, config) in builds.items()
        }
        arm = {label: future.result() for label, future in arm.items()}
    committed = {
        name: repro.COMMITTED / name
        for codec in stubs
        for name in (model_file_name(codec), card_file_name(codec))
    }
    same, differing = [], []
    for label in builds:
        s, d = compare(
            label, arm[label], x86[label], committed if label == "stubs" else {}
        )
        same += s
        differing += d
    return same, differing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", default="neoverse-n1", help="a qemu-aarch64 CPU model")
    parser.add_argument(
        "--stubs", default="libx264 av1_qsv", help="stub codecs to build"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    with repro.scratch() as tmp:
        try:
            same, differing = run(args.cpu, args.stubs.split(), Path(tmp))
        except (arm64.SetupError, RuntimeError) as error:
            sys.exit(f"test-arm64: {error}")
    for line in same + differing:
        print(line)
    seconds = time.perf_counter() - start
    print(
        f"{len(same)} of {len(same) + len(differing)} files identical on aarch64 "
        f"(qemu-aarch64 -cpu {args.cpu}) and x86-64, in {seconds:.0f} s"
    )
    if differing:
        sys.exit(1)


if __name__ == "__main__":
    main()
