"""``python -m vmaf_predictor evaluate CORPUS``: score models on a corpus.

The corpus is read as the factory's split reads it
(:mod:`vmaf_predictor.runtime.corpus`), so its rows are exactly the rows
training would take: bad rows
stop it (``file:line: reason``), dropped rows are dropped, aliases and
stand-in features are applied. Each codec with rows is scored with its model
in ``--models`` (default: the committed ``model/``) run in onnxruntime as a
consumer runs it, beside the analytical fallback curve on the same rows,
overall and per clip (a swept clip's shots together, as grouped
cross-validation holds them out).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from vmaf_predictor.names import card_file_name, clip_of, model_file_name
from vmaf_predictor.runtime.features import FEATURE_NAMES
from vmaf_predictor.runtime.inputs import InputError
from vmaf_predictor.runtime.predictor import _load, codec_registry
from vmaf_predictor.runtime.session import predict

STUB_MARK = "synthetic-stub model"
PREDICTION_COLUMNS = ("src", "encoder", "crf", "vmaf_score", "predicted")


def _figures(predicted: list[float], actual: list[float]) -> dict[str, float]:
    from vmaf_predictor.runtime import metrics

    return metrics.summary(predicted, actual)


def is_stub(models: Path, codec: str) -> bool | None:
    """Whether the model's card says it is a synthetic stub (None: no card)."""
    card = models / card_file_name(codec)
    if not card.is_file():
        return None
    return STUB_MARK in card.read_text(encoding="utf-8", errors="replace")


def evaluate(
    corpus: str | Path, models: str | Path, predictions: str | Path | None = None
) -> dict[str, Any]:
    """Per codec: rows and the figures of the model and of the analytical
    curve; codecs skipped, with why. Raises InputError (a usage error) for a
    corpus that cannot be read or has bad rows, or a models path that is
    not a directory."""
    import numpy as np

    from vmaf_predictor.runtime import corpus as reading

    models = Path(models)
    if not models.is_dir():
        raise InputError("models", str(models), "a directory of predictor_*.onnx")
    codecs = codec_registry()
    try:
        tables = reading.tables(corpus, codecs)
    except (FileNotFoundError, reading.CorpusError) as error:
        raise InputError(
            "corpus", str(corpus), str(error), template="{name} {value}: {allowed}"
        ) from None
    result: dict[str, Any] = {"corpus": str(corpus), "models": str(models)}
    scored: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    lines: list[list[object]] = []
    for codec in codecs:
        table = tables.get(codec)
        if table is None or len(table[reading.TARGET]) < reading.MIN_ROWS:
            skipped[codec] = f"fewer than {reading.MIN_ROWS} rows in the corpus"
            continue
        path = models / model_file_name(codec)
        if not path.is_file():
            skipped[codec] = f"no model at {path}"
            continue
        session, _ = _load(path)
        rows = np.column_stack([table[name] for name in FEATURE_NAMES])
        actual = [float(v) for v in table[reading.TARGET]]
        predicted = [float(v) for v in predict(session, rows)]
        spec = codecs[codec]
        fallback = [
            spec.analytical_vmaf(float(r[0]), float(r[1])) for r in rows.tolist()
        ]
        sources = [str(s) for s in table["src"]]
        scored[codec] = {
            "rows": len(actual),
            "stub": is_stub(models, codec),
            "model": _figures(predicted, actual),
            "analytical": _figures(fallback, actual),
            **by_clip(sources, predicted, fallback, actual),
        }
        lines += [
            [src, codec, crf, score, p]
            for src, crf, score, p in zip(
                sources, rows[:, 0], actual, predicted, strict=True
            )
        ]
    if predictions is not None:
        with open(predictions, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(PREDICTION_COLUMNS)
            writer.writerows(
                [src, codec, repr(float(crf)), repr(float(score)), repr(p)]
                for src, codec, crf, score, p in lines
            )
    result["codecs"] = scored
    result["skipped"] = skipped
    return result


def by_clip(
    sources: list[str],
    predicted: list[float],
    fallback: list[float],
    actual: list[float],
) -> dict[str, Any]:
    """The rows grouped by clip (:func:`names.clip_of`: a clip's shots
    together, as grouped evaluation holds them out): how many clips, and
    per clip its rows and the RMSE of the model and of the analytical curve.
    Rows without a ``src`` are one group, named ""."""
    from vmaf_predictor.runtime import metrics

    groups: dict[str, list[int]] = {}
    for i, src in enumerate(sources):
        groups.setdefault(clip_of(src), []).append(i)
    per_clip = {
        clip: {
            "rows": len(rows),
            "model_rmse": metrics.rmse(
                [predicted[i] for i in rows], [actual[i] for i in rows]
            ),
            "analytical_rmse": metrics.rmse(
                [fallback[i] for i in rows], [actual[i] for i in rows]
            ),
        }
        for clip, rows in sorted(groups.items())
    }
    return {"clips": len(per_clip), "by_clip": per_clip}


def text(result: dict[str, Any]) -> str:
    """The result as a table, then the codecs skipped."""
    lines = [
        f"corpus {result['corpus']}, models in {result['models']}",
        f"{'codec':<12} {'rows':>6}  {'predictor':<22} {'RMSE':>7} {'PLCC':>7} "
        f"{'SROCC':>7} {'max|e|':>7} {'mean e':>7}",
    ]
    for codec, entry in result["codecs"].items():
        kind = {True: " (synthetic stub)", False: "", None: " (no card)"}
        for name in ("model", "analytical"):
            f = entry[name]
            label = "model" + kind[entry["stub"]] if name == "model" else name
            lines.append(
                f"{codec if name == 'model' else '':<12} "
                f"{entry['rows'] if name == 'model' else '':>6}  {label:<22} "
                f"{f['rmse']:7.3f} {f['plcc']:7.4f} {f['srocc']:7.4f} "
                f"{f['max_abs_error']:7.3f} {f['mean_signed_error']:+7.3f}"
            )
    for codec, entry in result["codecs"].items():
        clips = entry.get("by_clip", {})
        if len(clips) > 1:
            each = ", ".join(
                f"{clip or '(no src)'} {f['model_rmse']:.3f} ({f['rows']} rows)"
                for clip, f in clips.items()
            )
            lines.append(f"{codec} model RMSE by clip ({len(clips)} clips): {each}")
    if result["skipped"]:
        skipped = result["skipped"].items()
        lines.append("skipped: " + "; ".join(f"{c} ({why})" for c, why in skipped))
    return "\n".join(lines)
