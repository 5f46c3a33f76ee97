"""Command line: predicted VMAF for a shot, the CRF that meets a target, and
the features of a clip.

    python -m vmaf_predictor predict  --codec libx264 --crf 30 --bitrate 3000 \\
        --width 1920 --height 1080 --fps 24
    python -m vmaf_predictor pick-crf --codec libx264 --target 93 --bitrate 3000 \\
        --width 1920 --height 1080 --fps 24 [--json]
    python -m vmaf_predictor features CLIP --codec libx264 [--json]
    python -m vmaf_predictor pick-crf --source CLIP --codec libx264 --target 93 \\
        [--verify [--tolerance 1] [--max-encodes 4] [--strategy crf-search] \\
        [--output FILE] [--record CORPUS.jsonl]] [--json]

With a clip (``features``, ``--source``), the features are measured exactly
as the sweep measures them (one probe encode, one analysis pass; FFmpeg and
settings from config.yaml, or ``--config FILE``). ``--verify`` searches:
it encodes at the pick with the sweep's production settings, scores it with
libvmaf and corrects, until a measurement lands in [target, target +
tolerance], two neighbouring values bracket the target, or --max-encodes
encodes are scored; the answer is the highest measured value meeting the
target (exit status 1 when none does). ``--strategy crf-search`` runs
ab-av1's rule instead, with no model.
    python -m vmaf_predictor evaluate CORPUS [--models DIR] [--json] \\
        [--predictions FILE]

A value outside its domain (not finite, --crf outside the codec's quality
range, --bitrate/--fps/--duration not > 0, --width/--height not >= 1,
--target outside [0, 100]) is an error: one line on stderr naming the flag,
the value and what is allowed, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn

from vmaf_predictor.runtime import inputs, search
from vmaf_predictor.runtime.inputs import InputError
from vmaf_predictor.runtime.predictor import (
    MODEL_DIR,
    TARGET_RANGE,
    Predictor,
    encode_features,
    lookup_codec,
    model_path_for,
    quality_value,
)

# The API's argument names, as the command line spells them.
FLAGS = {
    "crf": "--crf",
    "target_vmaf": "--target",
    "bitrate_kbps": "--bitrate",
    "fps": "--fps",
    "width": "--width",
    "height": "--height",
    "duration_s": "--duration",
    "models": "--models",
    "corpus": "CORPUS",
    "strategy": "--strategy",
    "tolerance": "--tolerance",
    "max_encodes": "--max-encodes",
    "output": "--output",
    "record": "--record",
}
INTERRUPTED = 130  # as a shell reports SIGINT
NOT_MET = 1  # the search measured no value meeting the target
USAGE_ERROR = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage block), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"error: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    settings = Parser(add_help=False)
    settings.add_argument("--codec", required=True, help="codec adapter, e.g. libx264")
    settings.add_argument(
        "--config",
        type=Path,
        help="config.yaml whose sweep settings measure a clip (default: the "
        "checkout's)",
    )
    settings.add_argument("--json", action="store_true", help="print JSON")
    shared = Parser(add_help=False, parents=[settings])
    shot = shared.add_argument_group(
        "the shot: a clip to measure (--source), or its probe figures"
    )
    shot.add_argument("--source", type=Path, help="a clip (one shot): measured")
    shot.add_argument("--bitrate", type=float, help="probe kbps")
    shot.add_argument("--width", type=int)
    shot.add_argument("--height", type=int)
    shot.add_argument("--fps", type=float)
    shot.add_argument("--duration", type=float, default=5.0, help="shot seconds")
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
    top = Parser(
        prog="python -m vmaf_predictor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    predict = commands.add_parser("predict", parents=[shared], help="predicted VMAF")
    predict.add_argument("--crf", type=float, required=True, help="quality value")
    pick = commands.add_parser("pick-crf", parents=[shared], help="CRF for a target")
    pick.add_argument("--target", type=float, required=True, help="target VMAF")
    pick.add_argument(
        "--verify",
        action="store_true",
        help="with --source: search on encodes scored with libvmaf, from the pick",
    )
    pick.add_argument(
        "--tolerance",
        type=float,
        default=search.DEFAULT_TOLERANCE,
        help="VMAF points above the target a measurement may land "
        f"(default {search.DEFAULT_TOLERANCE:g})",
    )
    pick.add_argument(
        "--max-encodes",
        type=int,
        default=search.DEFAULT_MAX_ENCODES,
        help=f"encodes the search may score (default {search.DEFAULT_MAX_ENCODES}; "
        "1: predict, then verify)",
    )
    pick.add_argument(
        "--strategy",
        choices=search.STRATEGIES,
        default="model",
        help="model: start from the prediction (default); crf-search: ab-av1's "
        "rule, no model",
    )
    pick.add_argument(
        "--output", type=Path, metavar="FILE", help="keep the answer's encode here"
    )
    pick.add_argument(
        "--record",
        type=Path,
        metavar="CORPUS",
        help="append every scored step to this Phase A JSONL corpus",
    )
    features = commands.add_parser(
        "features", parents=[settings], help="the measured features of a clip"
    )
    features.add_argument("clip", type=Path, help="the clip (one shot)")
    score = commands.add_parser(
        "evaluate",
        help="score the models on a corpus's rows, beside the analytical curve",
        description="Per codec with rows in CORPUS (a Phase A JSONL file or a "
        "directory of shards, read with the training rules): rows, RMSE, PLCC, "
        "SROCC, max absolute error and mean signed error of the model and of "
        "the analytical fallback curve. Codecs without rows or without a model "
        "are skipped and listed; a synthetic-stub model is marked.",
    )
    score.add_argument("corpus", metavar="CORPUS", help="JSONL file or directory")
    score.add_argument(
        "--models",
        type=Path,
        default=MODEL_DIR,
        help="directory of predictor_<codec>.onnx (default: the committed model/)",
    )
    score.add_argument("--json", action="store_true", help="print JSON")
    score.add_argument(
        "--predictions",
        type=Path,
        metavar="FILE",
        help="write a CSV line per row: src,encoder,crf,vmaf_score,predicted",
    )
    return top


SHOT_FIGURES = ("bitrate", "width", "height", "fps")


def run(args: argparse.Namespace) -> dict:
    if args.command == "evaluate":
        from vmaf_predictor.runtime import evaluate

        return evaluate.evaluate(args.corpus, args.models, args.predictions)
    # Every value is checked before any file is opened: a bad value is named
    # even when the model is missing.
    entry = lookup_codec(args.codec)
    if args.command == "features":
        return features_of(args)
    if args.source is None:
        missing = [f"--{n}" for n in SHOT_FIGURES if getattr(args, n) is None]
        if missing:
            raise ValueError(f"give --source CLIP, or {', '.join(missing)}")
        if getattr(args, "verify", False):
            raise ValueError("--verify needs --source CLIP (a clip to encode)")
        for flag in ("output", "record"):
            if getattr(args, flag, None) is not None:
                raise ValueError(f"{FLAGS[flag]} needs --source CLIP --verify")
        features = encode_features(
            args.bitrate, args.fps, args.width, args.height, args.duration
        )
    if args.command == "predict":
        quality_value(entry, args.crf)
    else:
        inputs.in_range("target_vmaf", args.target, *TARGET_RANGE, "the VMAF scale")
    model = None if args.analytical else model_path_for(args.codec, args.model_dir)
    predictor = Predictor(model)
    source = str(model) if model else "analytical curve"
    if args.source is not None and args.command == "pick-crf":
        pick = predictor.pick_crf_for_clip(
            args.source,
            args.target,
            args.codec,
            verify=args.verify,
            config=args.config,
            strategy=args.strategy,
            tolerance=args.tolerance,
            max_encodes=args.max_encodes,
            output=args.output,
            record=args.record,
            on_step=progress if sys.stderr.isatty() else None,
        )
        if args.strategy == "crf-search":
            source = "crf-search, no model"
        return {**pick.to_json(), "source": source}
    if args.source is not None:
        from vmaf_predictor.runtime.clip import measure_features, sweep_settings

        features = measure_features(
            args.source, args.codec, sweep_settings(args.config)
        )
    if args.command == "predict":
        vmaf = predictor.predict_vmaf(features, args.crf, args.codec)
        return {"codec": args.codec, "crf": args.crf, "vmaf": vmaf, "source": source}
    choice = predictor.pick_crf(features, args.target, args.codec)
    return {"codec": args.codec, **asdict(choice), "source": source}


def features_of(args: argparse.Namespace) -> dict:
    from vmaf_predictor.runtime.clip import measure_features, sweep_settings

    features = measure_features(args.clip, args.codec, sweep_settings(args.config))
    return {"clip": str(args.clip), "codec": args.codec, "features": features}


def text(result: dict) -> str:
    if "features" in result and "crf" not in result:
        width = max(map(len, result["features"]))
        lines = [f"{result['clip']} ({result['codec']}):"]
        lines += [f"  {n:<{width}}  {v:g}" for n, v in result["features"].items()]
        return "\n".join(lines)
    if "codecs" in result:
        from vmaf_predictor.runtime import evaluate

        return evaluate.text(result)
    if "vmaf" in result:
        return (
            f"{result['codec']} at crf {result['crf']:g}: predicted VMAF "
            f"{result['vmaf']:.2f} ({result['source']})"
        )
    if "steps" in result:
        return search_text(result)
    if not result["met"]:
        line = (
            f"{result['codec']}: no quality value reaches VMAF "
            f"{result['target_vmaf']:g}; the best, crf {result['crf']}, predicts "
            f"{result['predicted_vmaf']:.2f} ({result['source']})"
        )
    else:
        line = (
            f"{result['codec']}: crf {result['crf']} is the highest quality value "
            f"meeting VMAF {result['target_vmaf']:g} (predicted "
            f"{result['predicted_vmaf']:.2f}, {result['model_calls']} model calls; "
            f"{result['source']})"
        )
    return line


def step_line(step: dict) -> str:
    """One search step: value, predicted, measured, bitrate, seconds."""
    predicted = step["predicted_vmaf"]
    shown = "-" if predicted is None else f"{predicted:.2f}"
    seconds = (step["encode_time_ms"] + step["score_time_ms"]) / 1000
    return (
        f"  crf {step['crf']:>3}  predicted {shown:>6}  measured "
        f"{step['measured_vmaf']:6.2f}  {step['bitrate_kbps']:10.1f} kbit/s  "
        f"{seconds:5.1f} s"
    )


def progress(step: search.Step) -> None:
    print(step_line(asdict(step)), file=sys.stderr, flush=True)


def search_text(result: dict) -> str:
    """The answer line, then one line per step."""
    encodes = f"{result['encodes']} encode{'s' if result['encodes'] != 1 else ''}"
    if result["met"]:
        line = (
            f"{result['codec']}: crf {result['crf']} meets VMAF "
            f"{result['target_vmaf']:g}: measured {result['measured_vmaf']:.2f} "
            f"({encodes}, stopped: {result['stop']}; {result['source']})"
        )
    else:
        line = (
            f"{result['codec']}: no measured value meets VMAF "
            f"{result['target_vmaf']:g} ({encodes}, stopped: {result['stop']}); "
            f"the closest, crf {result['crf']}, measured "
            f"{result['measured_vmaf']:.2f} ({result['source']})"
        )
    lines = [line, *map(step_line, result["steps"])]
    if result.get("output"):
        lines.append(f"kept: {result['output']} (crf {result['crf']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 with the answer on stdout; 1 when a search measured no
    value meeting the target (the closest on stdout); 2 with one line on
    stderr for a usage error (a value outside its domain, an unknown codec,
    a missing or unusable model, a clip FFmpeg cannot use); 130 on Ctrl-C
    (the partial encode removed, nothing kept)."""
    args = parser().parse_args(argv)
    try:
        result = run(args)
    except KeyboardInterrupt:
        print("interrupted: nothing kept", file=sys.stderr)
        return INTERRUPTED
    except InputError as error:
        flag = FLAGS.get(error.argument, error.argument)
        print(f"error: {error.message(flag)}", file=sys.stderr)
        return USAGE_ERROR
    # ModelError, FFmpeg's ClipError and MeasureError are ValueError or
    # RuntimeError; FileNotFoundError is an OSError.
    except (ValueError, OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    # Strict JSON: a NaN or infinity would be a bug, never printed as NaN.
    # Keys in the order the answer is built (features in contract order).
    print(json.dumps(result, allow_nan=False) if args.json else text(result))
    return NOT_MET if "steps" in result and not result["met"] else 0


if __name__ == "__main__":
    sys.exit(main())
