"""Stage 7: the model card (what the model does, its output, a runnable
example, provenance, known limitations), a pure function of its inputs:
nothing in it depends on the clock, the machine, the user or the path."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from vmaf_predictor.factory import (
    curve_head,
    evaluation,
)
from vmaf_predictor.factory.network import TrainedModel
from vmaf_predictor.factory.s2_corpus import CorpusInfo
from vmaf_predictor.factory.s5_allowlist import AllowlistReport
from vmaf_predictor.factory.s6_validate import PARITY_TOLERANCE, ValidationReport
from vmaf_predictor.names import model_file_name
from vmaf_predictor.runtime.features import NOT_MEASURED, contract_table

STUB_WARNING = (
    "> **WARNING: DO NOT USE IN PRODUCTION.** This is a synthetic-stub model: it was\n"
    "> trained on {rows} generated rows whose target is the analytical fallback\n"
    "> curve plus noise, not on measured VMAF. Its predictions only track that\n"
    "> curve, and its held-out PLCC/SROCC are artificially high. Rebuild it from a\n"
    "> real corpus before relying on it:\n"
    "> `snakemake --cores 4 --config corpus=real.jsonl`."
)


BUILT_WITH_PACKAGES = ("numpy", "onnx", "torch")
# CorpusInfo.features -> what the card says about where the features came from.
FEATURE_SOURCES = {
    "synthetic": "generated shots as the consumer measures them: probe, signalstats "
    "and saliency figures in their usual ranges, some with the probe not measured",
    "probe": "measured on each source clip as the input table below defines them",
    "stand-in": "no probe statistics in the corpus: each row's own bitrate stands "
    "in for the probe bitrate (a figure an encoding harness only has after "
    "encoding), the optional features are sent as not measured",
}


def built_with() -> dict[str, str]:
    """Installed releases of the packages the bytes depend on, without the
    local label (torch's ``+cpu`` on x86-64 only: `make test-arm64` gives the
    same model files, so the cards must be the same too)."""
    import importlib.metadata

    return {
        name: importlib.metadata.version(name).partition("+")[0]
        for name in BUILT_WITH_PACKAGES
    }


def render(
    trained: TrainedModel,
    corpus: CorpusInfo,
    allowlist: AllowlistReport,
    validation: ValidationReport,
    onnx_bytes: bytes,
    onnx_sha256: str,
    opset: int,
    versions: Mapping[str, str],
) -> str:
    """The card text for one codec."""
    codec = trained.codec
    stub = corpus.kind == "synthetic-stub"
    s = trained.settings
    title = f"# VMAF predictor: {codec}" + (" (synthetic stub)" if stub else "")
    warning = STUB_WARNING.format(rows=corpus.rows) + "\n\n" if stub else ""
    feature_source = FEATURE_SOURCES[corpus.features]
    versions_text = ", ".join(f"{k} {versions[k]}" for k in sorted(versions))
    corpus_line = "synthetic, seeded by the codec name" if stub else "measured"
    curve_alone = _curve_alone(trained)
    if curve_alone is None:
        model_rows = (
            (
                "network",
                f"monotone in CRF by construction: a 13 -> {s.hidden} -> {s.hidden} "
                "ReLU trunk on the other features (sizes, rates and counts as "
                "log(max(x, 1))) gives a level and "
                f"{2 * s.crf_knots + 1} non-negative weights of a CRF basis that "
                f"never decreases ({s.crf_knots} knots); VMAF = the level minus the "
                "weighted basis, scaled by the training targets' mean and spread "
                "and clipped to [0, 100]; input scaling and normalisation are part "
                "of the graph" + _blend_text(trained),
            ),
            (
                "training",
                f"Adam lr {s.learning_rate:g} (betas {s.beta1:g}, {s.beta2:g}), "
                f"batch {s.batch_size}, {_epochs(trained)}, MSE on VMAF, seed "
                f"{s.seed}, float64; each optional measurement of each row left out "
                f"(sent as {NOT_MEASURED}) with probability {s.unmeasured_rate:g} "
                "per epoch",
            ),
            (
                "export rule",
                "float64 weights rounded to float32 (nearest, ties to even)",
            ),
        )
    else:
        model_rows = (
            (
                "curve",
                f"{curve_alone.describe()}; never rises with CRF; clipped to "
                "[0, 100]; no network: the grouped validation folds chose this "
                "curve alone over the network and every blend (see Model "
                "selection); the input's logged sizes are part of the graph",
            ),
            (
                "training",
                "least squares on VMAF over all rows, a fixed number of damped "
                "Gauss-Newton steps (exp and log by exact series, sums by "
                "math.fsum), float64; no network was trained",
            ),
            ("export rule", "the curve's float64 coefficients, unrounded"),
        )
    provenance = _table(
        ("codec", f"`{codec}`"),
        ("corpus kind", f"`{corpus.label}` ({corpus_line})"),
        ("corpus digest", f"sha256 `{corpus.sha256}` of the canonical training table"),
        ("rows", _rows_line(trained, corpus)),
        ("features", feature_source),
        *model_rows,
        ("built with", versions_text),
        ("ONNX", f"opset {opset}, {allowlist.nodes} nodes, {len(onnx_bytes)} bytes"),
        ("ONNX sha256", f"`{onnx_sha256}`"),
        (
            "op allowlist",
            f"{allowlist.status} (libvmaf list; ops used: {', '.join(allowlist.ops)})",
        ),
    )
    monotone = "network" if curve_alone is None else "curve"
    return f"""{title}

- **Codec adapter**: `{codec}`
- **Corpus kind**: `{corpus.label}`

{warning}## What it does

Predicts the VMAF score that encoding a shot with `{codec}` at a given
quality value (CRF/CQ/QP) will reach, from cheap signals measured before the
encode. An encoding harness uses it to pick the quality value per shot.

Input `input`: float32 `[N, 14]`, one row per shot and candidate quality
value, in this order (a feature that was not measured is sent as
{NOT_MEASURED}, as vmaf-tune sends it; the model was trained with each
optional measurement both present and left out):

{contract_table()}

## Output

Output `vmaf`: float32 `[N, 1]`, the predicted VMAF, always inside [0, 100]
(the graph ends in a clip to that range). Read it like a VMAF score: 100 is
indistinguishable from the source, about 93 is the usual "visually lossless"
target, below about 70 is visibly degraded. With the other features fixed,
the prediction never rises as the quality value (CRF) rises: the {monotone} is
monotone by construction, so a search over CRF is well defined.

## Usage

```python
import numpy as np
import onnxruntime as ort

session = ort.InferenceSession(
    "model/{model_file_name(codec)}", providers=["CPUExecutionProvider"]
)
# One 1080p shot at 24 fps, 120 frames: the probe encode's bitrate and I/P
# frame sizes measured, no B frames, signalstats measured, saliency not
# measured (0.0); asking about quality value 30.
features = np.array(
    [[30, 3000, 62500, 12500, 0, 0, 0, 6.0, 110, 118, 120, 24, 1920, 1080]],
    dtype=np.float32,
)
(vmaf,) = session.run(["vmaf"], {{"input": features}})
print(float(vmaf[0, 0]))
```

## Provenance

{provenance}

## Validation

{_validation(validation, trained)}

{_held_out(trained)}
## Known limitations

{_limitations(stub, corpus, trained)}
"""


def _curve_alone(trained: TrainedModel) -> curve_head.Curve | None:
    """The curve of a model that is its curve alone (weight 1), else None."""
    if trained.blend and trained.blend["weight"] == 1.0:
        return curve_head.curve_from_dict(trained.blend)
    return None


def _blend_text(trained: TrainedModel) -> str:
    if not trained.blend:
        return ""
    w = trained.blend["weight"]
    curve = curve_head.curve_from_dict(trained.blend)
    return (
        f"; blended with {curve.describe()}: VMAF = clip({1 - w:g} x network + "
        f"{w:g} x curve, 0, 100); the weight chosen on the grouped validation "
        "folds that chose the epochs (see Model selection)"
    )


def _epochs(trained: TrainedModel) -> str:
    s = trained.settings
    epochs = len(trained.loss_curve)
    if "epochs" in trained.evaluation and epochs != s.epochs:
        return (
            f"{epochs} epochs (early stopping: the count with the lowest MSE on "
            f"grouped validation folds of the rows, at most {s.epochs} and at most "
            f"{s.max_steps} batches; each cross-validation fold chose its own)"
        )
    if epochs != s.epochs:
        return f"{epochs} epochs ({s.max_steps} batches at most)"
    return f"{epochs} epochs"


def _rows_line(trained: TrainedModel, corpus: CorpusInfo) -> str:
    e = trained.evaluation
    if e.get("split") in evaluation.GROUPED or trained.n_holdout == 0:
        unit = f"{e['split']}s" if e.get("split") in evaluation.GROUPED else "rows"
        return (
            f"{corpus.rows}, all trained on; scored by {e.get('folds')}-fold "
            f"cross-validation split by {e.get('split')} ({e.get('groups')} {unit})"
        )
    ratio = _split_ratio(trained.settings.holdout_fraction)
    return (
        f"{corpus.rows} ({trained.n_train} train, {trained.n_holdout} held out, "
        f"seeded {ratio} split by row)"
    )


def _held_out(trained: TrainedModel) -> str:
    """The held-out figures (the consumer reads the first table's PLCC,
    SROCC and RMSE rows), the baselines on the same rows, the selection."""
    m = trained.metrics
    e = trained.evaluation
    grouped = trained.n_holdout == 0
    if grouped:
        unit = e["split"] if e["split"] in evaluation.GROUPED else "row"
        units = f"{unit}s"
        intro = (
            f"Split by {unit}: cross-validation grouped by {unit}, {e['folds']} "
            f"seeded folds over {e['groups']} {units}, every {unit} held out once "
            "and predicted by a model trained on the other folds (seed "
            f"{trained.settings.seed}); the figures are those of the {e['rows']} "
            "pooled out-of-fold predictions. The model itself is trained on all "
            "rows. The RMSE line with optional features not measured sends every "
            "optional measurement of the same rows as not measured."
        )
    else:
        ratio = _split_ratio(trained.settings.holdout_fraction)
        intro = (
            f"Split by row: on {trained.n_holdout} held-out rows (a seeded "
            f"{ratio} split of the rows), as measured; the RMSE line with optional "
            "features not measured sends every optional measurement of the same "
            "rows as not measured."
        )
    rows = [
        f"| PLCC | {m['plcc']:.4f} |",
        f"| SROCC | {m['srocc']:.4f} |",
        f"| RMSE | {m['rmse']:.3f} VMAF |",
        f"| RMSE, optional features not measured | {m['rmse_unmeasured']:.3f} VMAF |",
    ]
    if grouped:
        rows += [
            f"| Max absolute error | {m['max_abs_error']:.3f} VMAF |",
            f"| Mean signed error (predicted - actual) | "
            f"{_signed(m['mean_signed_error'])} VMAF |",
            f"| Folds | {e['folds']} |",
        ]
    text = f"## Held-out metrics\n\n{intro}\n\n| Metric | Value |\n|---|---|\n"
    text += "\n".join(rows) + "\n"
    spread = e.get("seed_rmse") or []
    if len(spread) > 1:
        mean = math.fsum(spread) / len(spread)
        text += (
            f"\nGrouped RMSE over {len(spread)} training seeds ({trained.settings.seed}"
            f" to {trained.settings.seed + len(spread) - 1}, the same folds): mean "
            f"{mean:.3f}, lowest {min(spread):.3f}, highest {max(spread):.3f} VMAF.\n"
        )
    if e.get("figures"):
        text += "\n" + _baselines(e) + "\n"
    if e.get("selection"):
        text += "\n" + _selection(e, trained) + "\n"
    return text


def _baselines(e: Mapping[str, Any]) -> str:
    """The learner beside the baselines, on the same held-out rows."""
    grouped = e["split"] in evaluation.GROUPED or e["folds"] > 1
    where = "the same folds" if grouped else "the same held-out rows"
    lines = [
        "## Baselines",
        "",
        f"On {where}, each fitted on the training part only:",
        "",
        "| Predictor | RMSE | PLCC | SROCC | Max abs. error | Mean signed error |",
        "|---|---|---|---|---|---|",
    ]
    for name in (evaluation.LEARNER, *evaluation.BASELINES):
        f = e["figures"][name]
        label = evaluation.BASELINE_TEXT[name]
        label = f"**{label}**" if name == e["winner"] else label
        lines.append(
            f"| {label} | {f['rmse']:.3f} | {f['plcc']:.4f} | {f['srocc']:.4f} | "
            f"{f['max_abs_error']:.3f} | {_signed(f['mean_signed_error'])} |"
        )
    lines += ["", f"Lowest RMSE: **{evaluation.BASELINE_TEXT[e['winner']]}**."]
    return "\n".join(lines)


def _selection(e: Mapping[str, Any], trained: TrainedModel) -> str:
    """How the shipped model was chosen: every candidate's figure on the
    inner folds of the training rows, and what each outer fold chose."""
    chosen = e["selection"]
    lines = [
        "## Model selection",
        "",
        f"What this file computes was chosen on its training rows alone: their "
        f"{chosen['sources']} {chosen.get('by', 'source')}s split into "
        f"{evaluation.INNER_FOLDS} grouped "
        f"folds (seed {trained.settings.seed}), {chosen['folds']} of them watched "
        "in turn, the network trained and each curve fitted on the other "
        f"folds. Each candidate's RMSE on the {chosen['rows']} watched rows; a "
        "candidate with the network is scored on each watched fold at the epoch count "
        "the other watched folds chose, so its many epoch counts are no edge "
        f"over a curve's single fit. `{chosen['candidates'][0]['name']}` ships "
        "unless other curves alone are lower on every watched fold, then the "
        "lowest of those, and that curve unless a candidate with the network "
        "beats it by more than "
        f"{_number(_needed(chosen))} standard errors of their paired per-fold "
        "difference; a network then trains on all rows for the epoch count "
        "best over every watched fold." + _evidence(chosen),
        "",
        "| Candidate | Inner-fold RMSE | Epochs |",
        "|---|---|---|",
    ]
    for candidate in chosen["candidates"]:
        name = f"`{candidate['name']}`"
        if candidate["name"] == chosen["chosen"]:
            name = f"**{name}** (shipped)"
        epochs = candidate["epochs"] if candidate["epochs"] is not None else "-"
        lines.append(f"| {name} | {candidate['rmse']:.3f} | {epochs} |")
    choices = e.get("fold_choices") or []
    if choices:
        counts = {name: choices.count(name) for name in dict.fromkeys(choices)}
        made = ", ".join(f"`{name}` in {n}" for name, n in counts.items())
        lines += [
            "",
            f"The cross-validation above made this choice again inside each of "
            f"its {len(choices)} outer folds, on that fold's training rows alone "
            f"(its held-out sources took no part; seed {trained.settings.seed}): "
            f"{made}.",
        ]
    return "\n".join(lines)


def _needed(selection: Mapping[str, Any]) -> float:
    """The standard errors a network needed (as recorded with the choice)."""
    return selection.get("evidence", {}).get("needed", 0.0)


def _evidence(selection: Mapping[str, Any]) -> str:
    """The best network candidate's lead over the best curve, in words."""
    evidence = selection.get("evidence")
    if not evidence:
        return ""
    verdict = "enough" if selection["chosen"] == evidence["network"] else "not enough"
    return (
        f" Here the best with the network, `{evidence['network']}`, leads "
        f"`{evidence['curve']}` by {evidence['lead']:.1f} (squared VMAF error "
        f"summed over the watched rows) with a standard error of "
        f"{evidence['standard_error']:.1f}: {verdict}."
    )


def _signed(value: float) -> str:
    text = f"{value:+.3f}"
    return "+0.000" if text == "-0.000" else text


def _loses_to_parametric(trained: TrainedModel) -> str:
    """The prominent limitation of a real-corpus model that the parametric
    baseline beats; empty when it does not."""
    figures = trained.evaluation.get("figures", {})
    if not figures:
        return ""
    mine = figures[evaluation.LEARNER]["rmse"]
    theirs = figures["parametric"]["rmse"]
    if mine <= theirs:
        return ""
    return (
        f"**It does not beat the parametric baseline**: grouped RMSE {mine:.3f} "
        f"VMAF against {theirs:.3f} for the three-parameter logistic curve on the "
        "same folds (see Baselines). On this corpus that curve predicts unseen "
        "sources better than this model does."
    )


def _validation(v: ValidationReport, trained: TrainedModel) -> str:
    return (
        f"Checked in onnxruntime (CPU), loaded as a consumer would: **{v.status}**.\n"
        "\n"
        "- input `input` float32 `[N, 14]`, output `vmaf` float32 `[N, 1]`;\n"
        f"- outputs finite and inside [0, 100] over {v.range_inputs} inputs (the "
        "training rows, and all zeros, a huge bitrate, 8K frames, 1 fps and "
        "240 fps at the lowest, default and highest quality value): lowest "
        f"{v.lowest:.2f}, highest {v.highest:.2f};\n"
        "- predicted VMAF never rises with the quality value: "
        f"{v.monotone_vectors} feature vectors x {v.quality_values} values (every "
        "integer and half-integer of the range), largest change from one value "
        f"to the next {v.largest_step:+.4f};\n"
        "- onnxruntime agrees with the trained float64 model within "
        f"{_number(PARITY_TOLERANCE)} on "
        f"{v.parity_rows} rows ({trained.n_holdout} held out, the rest extremes "
        "and rows spanning the training data)."
    )


def _split_ratio(holdout_fraction: float) -> str:
    """``80/20`` for a hold-out fraction of 0.2."""
    held = round(holdout_fraction * 100, 6)
    return f"{100 - held:g}/{held:g}"


def _number(value: float) -> str:
    """``1e-5`` rather than Python's ``1e-05``."""
    mantissa, _, exponent = f"{value:g}".partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


def _table(*rows: tuple[str, str]) -> str:
    return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def _limitations(stub: bool, corpus: CorpusInfo, trained: TrainedModel) -> str:
    items = [
        "Only as good as its corpus: outside the resolutions, frame rates and "
        "quality values it was trained on, predictions are extrapolations.",
        "Its CRF curve is piecewise linear between the basis knots and flat "
        "where the model has no evidence of change.",
    ]
    if stub:
        items.insert(
            0,
            "Trained on synthetic rows: it reproduces the analytical fallback "
            "curve, so it adds nothing over that curve and says nothing about "
            "real content.",
        )
    else:
        items.append(
            f"Held-out metrics come from {corpus.rows} rows of one corpus, "
            "scored on sources the model was not trained on; real-corpus RMSE "
            "of 8-14 VMAF points is typical for hardware sweeps."
        )
        loses = _loses_to_parametric(trained)
        if loses:
            items.insert(0, loses)
    if corpus.features == "stand-in":
        items.append(
            "Probe features are stand-ins: the model cannot react to content "
            "complexity beyond what bitrate implies, and it learnt from each "
            "encode's own bitrate, not a probe's."
        )
    return "\n".join(f"- {item}" for item in items)
