"""Command line: predicted VMAF for a shot, or the CRF that meets a target.

    python -m vmaf_predictor predict  --codec libx264 --crf 30 --bitrate 3000 \\
        --width 1920 --height 1080 --fps 24
    python -m vmaf_predictor pick-crf --codec libx264 --target 93 --bitrate 3000 \\
        --width 1920 --height 1080 --fps 24 [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from vmaf_predictor.runtime.predictor import (
    MODEL_DIR,
    ModelError,
    Predictor,
    encode_features,
    lookup_codec,
    model_path_for,
)


def parser() -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--codec", required=True, help="codec adapter, e.g. libx264")
    shared.add_argument("--bitrate", type=float, required=True, help="probe kbps")
    shared.add_argument("--width", type=int, required=True)
    shared.add_argument("--height", type=int, required=True)
    shared.add_argument("--fps", type=float, required=True)
    shared.add_argument("--duration", type=float, default=5.0, help="shot seconds")
    source = shared.add_mutually_exclusive_group()
    source.add_argument(
        "--model-dir",
        type=Path,
        default=MODEL_DIR,
        help="directory of predictor_<codec>.onnx (default: the committed model/)",
    )
    source.add_argument(
        "--analytical", action="store_true", help="use the fallback curve, no model"
    )
    shared.add_argument("--json", action="store_true", help="print JSON")
    top = argparse.ArgumentParser(prog="python -m vmaf_predictor", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", parents=[shared], help="predicted VMAF")
    predict.add_argument("--crf", type=float, required=True, help="quality value")
    pick = commands.add_parser("pick-crf", parents=[shared], help="CRF for a target")
    pick.add_argument("--target", type=float, required=True, help="target VMAF")
    return top


def run(args: argparse.Namespace) -> dict:
    lookup_codec(args.codec)  # an unknown codec is named before any file is
    model = None if args.analytical else model_path_for(args.codec, args.model_dir)
    predictor = Predictor(model)
    features = encode_features(
        args.bitrate, args.fps, args.width, args.height, args.duration
    )
    source = str(model) if model else "analytical curve"
    if args.command == "predict":
        vmaf = predictor.predict_vmaf(features, args.crf, args.codec)
        return {"codec": args.codec, "crf": args.crf, "vmaf": vmaf, "source": source}
    choice = predictor.pick_crf(features, args.target, args.codec)
    return {"codec": args.codec, **asdict(choice), "source": source}


def text(result: dict) -> str:
    if "vmaf" in result:
        return (
            f"{result['codec']} at crf {result['crf']:g}: predicted VMAF "
            f"{result['vmaf']:.2f} ({result['source']})"
        )
    if not result["met"]:
        return (
            f"{result['codec']}: no quality value reaches VMAF "
            f"{result['target_vmaf']:g}; the best, crf {result['crf']}, predicts "
            f"{result['predicted_vmaf']:.2f} ({result['source']})"
        )
    return (
        f"{result['codec']}: crf {result['crf']} is the highest quality value "
        f"meeting VMAF {result['target_vmaf']:g} (predicted "
        f"{result['predicted_vmaf']:.2f}, {result['model_calls']} model calls; "
        f"{result['source']})"
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result = run(args)
    except (ValueError, FileNotFoundError, ModelError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True) if args.json else text(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
