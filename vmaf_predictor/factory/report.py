"""The HTML report's pages: per-codec figures, rendered cards, the overview.

Work products under results/report/, shown by ``snakemake --report``; they
read the build's outputs and never feed back into the model bytes, so their
own bytes need not be stable.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_predictor.factory import evaluation
from vmaf_predictor.factory import network as trained
from vmaf_predictor.factory import s2_corpus as corpus
from vmaf_predictor.factory import s5_allowlist as allowlist
from vmaf_predictor.factory import s6_validate as validate
from vmaf_predictor.factory.s8_hash import sha256_file
from vmaf_predictor.names import card_file_name, model_file_name
from vmaf_predictor.registry import Codec, codec_from_config
from vmaf_predictor.runtime.features import FEATURE_NAMES
from vmaf_predictor.runtime.predictor import encode_features
from vmaf_predictor.runtime.session import open_session, predict

# The curves follow one typical shot of each size: 30 fps, 6 s, a probe
# encode of 0.06 bits per pixel (the probe runs at a fixed quality value).
CURVE_RESOLUTIONS: tuple[tuple[int, int], ...] = (
    (1280, 720),
    (1920, 1080),
    (3840, 2160),
)
CURVE_FPS = 30
CURVE_DURATION_S = 6.0
CURVE_BPP = 0.06
COLOURS = ("#1f77b4", "#d62728", "#2ca02c")

PAGE_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em;
       color: #1d2330; line-height: 1.45; max-width: 72em; }
h1 { font-size: 1.5em; margin-top: 0; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #d5d9e2; padding: 0.35em 0.6em; text-align: left; }
th { background: #eef1f6; } tr:nth-child(even) td { background: #f8f9fb; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", monospace;
            font-size: 0.9em; }
pre { background: #f3f5f8; padding: 0.8em; overflow-x: auto; }
blockquote { border-left: 5px solid #d62728; background: #fdecea; margin: 1em 0;
             padding: 0.4em 1em; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #c62828; font-weight: 600; }
.stub { color: #9a6700; font-weight: 600; } .real { color: #1a7f37; font-weight: 600; }
.note { color: #596273; font-size: 0.9em; }
"""


def html_page(title: str, body: str) -> str:
    """A standalone page in the report's house style."""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def markdown_page(title: str, markdown_text: str) -> str:
    """A card or the corpus report, as HTML (tables and code blocks kept).

    The text may hold corpus strings (encoders, file names, error text),
    which anyone who writes a corpus controls. Raw HTML in it is shown as
    text, never parsed as markup, and a link or image keeps its URL only
    when that cannot run script or load from the network
    (:data:`SAFE_LINK`, :data:`SAFE_IMAGE`).
    """
    import markdown
    from markdown.treeprocessors import Treeprocessor

    class SafeUrls(Treeprocessor):
        def run(self, root):
            drop_unsafe_urls(root)

    converter = markdown.Markdown(extensions=["tables", "fenced_code"])
    # python-markdown passes raw HTML through: these two are what do it.
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    # After "unescape" (priority 0), which can complete a URL.
    converter.treeprocessors.register(SafeUrls(converter), "safe_urls", -10)
    return html_page(title, converter.convert(markdown_text))


# A link may go to the web, mail or a place on the page or beside it; an
# image only beside it (the report opens without network). Anything else
# (javascript:, data:, vbscript:, ...) is dropped.
SAFE_LINK = re.compile(r"(https?|mailto):|[^:]*(/|\?|#|$)", re.IGNORECASE)
SAFE_IMAGE = re.compile(r"[^:]*(/|\?|#|$)")
# What a browser ignores inside a URL's scheme ("java\tscript:").
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f]")


def safe_url(url: str, pattern: re.Pattern[str]) -> bool:
    """Whether ``url`` (as a browser reads it) matches ``pattern`` from its
    start: entities decoded, whitespace and control characters removed."""
    return pattern.match(_IGNORED_IN_URL.sub("", html.unescape(url))) is not None


def drop_unsafe_urls(root) -> None:
    """Remove every URL that is not safe, and any event-handler attribute,
    from an ElementTree of the page."""
    for element in root.iter():
        for attribute, pattern in (("href", SAFE_LINK), ("src", SAFE_IMAGE)):
            url = element.get(attribute)
            if url is not None and not safe_url(url, pattern):
                del element.attrib[attribute]
        for attribute in list(element.attrib):
            if attribute.lower().startswith("on"):
                del element.attrib[attribute]


# Figures --------------------------------------------------------------------


def curve_inputs(width: int, height: int, crfs: Sequence[float]) -> np.ndarray:
    """Model inputs [len(crfs), 14] for one shot size across ``crfs``: a
    probe of CURVE_BPP bits per pixel, optional measurements not measured."""
    bitrate = width * height * CURVE_FPS * CURVE_BPP / 1000.0
    shot = encode_features(bitrate, CURVE_FPS, width, height, CURVE_DURATION_S)
    rows = [[crf, *(shot[name] for name in FEATURE_NAMES[1:])] for crf in crfs]
    return np.array(rows, dtype=np.float32)


@dataclass(frozen=True)
class Curve:
    """Predicted and analytical VMAF of one shot size over the quality range."""

    width: int
    height: int
    crfs: np.ndarray
    model: np.ndarray
    analytical: np.ndarray


def vmaf_curves(codec: Codec, onnx_path: Path) -> list[Curve]:
    """The model (in onnxruntime, as consumers run it) and the analytical curve."""
    session = open_session(onnx_path)
    crfs = validate.quality_grid(codec)
    curves = []
    for width, height in CURVE_RESOLUTIONS:
        inputs = curve_inputs(width, height, crfs)
        vmaf = predict(session, inputs)
        analytical = [
            codec.analytical_vmaf(float(crf), float(bitrate))
            for crf, bitrate in zip(crfs, inputs[:, 1], strict=True)
        ]
        curves.append(Curve(width, height, crfs, vmaf, np.array(analytical)))
    return curves


def _figure(size: tuple[float, float] = (7.2, 4.5)):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=size, dpi=110)
    axes.grid(True, color="#e3e6ec", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return figure, axes


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, format="png", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(figure)


def plot_vmaf_vs_crf(
    codec: Codec, curves: Sequence[Curve], corpus_label: str, path: Path
) -> None:
    figure, axes = _figure()
    for curve, colour in zip(curves, COLOURS, strict=False):
        size = f"{curve.width}x{curve.height}"
        axes.plot(
            curve.crfs, curve.model, color=colour, linewidth=2, label=f"model {size}"
        )
        axes.plot(
            curve.crfs,
            curve.analytical,
            color=colour,
            linewidth=1.2,
            linestyle="--",
            label=f"analytical {size}",
        )
    axes.set_xlim(codec.quality_min, codec.quality_max)
    axes.set_ylim(0, 101)
    axes.set_xlabel("quality value (CRF / CQ / QP)")
    axes.set_ylabel("VMAF")
    axes.set_title(f"{codec.name}: predicted VMAF against CRF ({corpus_label})")
    axes.legend(fontsize=8, ncol=2, loc="lower left", frameon=False)
    _save(figure, path)


def plot_holdout(model: trained.TrainedModel, path: Path) -> None:
    figure, axes = _figure((5.6, 5.0))
    actual, predicted = model.holdout_targets, model.holdout_predictions
    grouped = model.n_holdout == 0 and "predictions" in model.evaluation
    if grouped:  # pooled out-of-fold predictions of every row
        actual = model.evaluation["targets"]
        predicted = model.evaluation["predictions"]
    low = math.floor(min(actual + predicted) / 5) * 5 - 1
    high = min(100, math.ceil(max(actual + predicted) / 5) * 5) + 1
    axes.plot([low, high], [low, high], color="#596273", linewidth=1, label="identity")
    axes.scatter(
        actual,
        predicted,
        color=COLOURS[0],
        s=28,
        alpha=0.85,
        label=(
            f"out-of-fold rows ({len(actual)}, split by "
            f"{model.evaluation.get('split', 'source')})"
            if grouped
            else f"held-out rows ({len(actual)})"
        ),
    )
    metrics = model.metrics
    axes.set_title(
        f"{model.codec}: held out, PLCC {metrics['plcc']:.4f}, "
        f"SROCC {metrics['srocc']:.4f}, RMSE {metrics['rmse']:.3f}"
    )
    axes.set_xlim(low, high)
    axes.set_ylim(low, high)
    axes.set_aspect("equal")
    axes.set_xlabel("actual VMAF")
    axes.set_ylabel("predicted VMAF")
    axes.legend(fontsize=8, loc="upper left", frameon=False)
    _save(figure, path)


def plot_loss(model: trained.TrainedModel, path: Path) -> None:
    figure, axes = _figure()
    if not model.loss_curve:  # the curve alone was chosen: no network trained
        axes.text(0.5, 0.5, "no network trained: the curve alone was chosen",
                  ha="center", va="center", transform=axes.transAxes)  # fmt: skip
        axes.set_title(f"{model.codec}: no training loss")
        _save(figure, path)
        return
    epochs = range(1, len(model.loss_curve) + 1)
    axes.plot(epochs, model.loss_curve, color=COLOURS[0], linewidth=1.8)
    axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("training MSE (VMAF points squared, log scale)")
    axes.set_title(
        f"{model.codec}: training loss, final {model.loss_curve[-1]:.3f} "
        f"after {len(model.loss_curve)} epochs"
    )
    _save(figure, path)


def run_codec(input: Any, output: Any, params: Any, codec: str) -> str:
    """Stage entry point: one codec's figures and its card as HTML."""
    entry = codec_from_config(codec, params.codec)
    model = trained.load(input.trained)
    label = corpus.read_info(input.corpus_info).label
    plot_vmaf_vs_crf(entry, vmaf_curves(entry, input.onnx), label, Path(output.curves))
    plot_holdout(model, Path(output.holdout))
    plot_loss(model, Path(output.loss))
    card = Path(input.card).read_text("utf-8")
    Path(output.card).write_text(markdown_page(f"{codec} model card", card), "utf-8")
    return f"wrote {output.curves}, {output.holdout}, {output.loss}, {output.card}"


def run_corpus(input: Any, output: Any, params: Any, codec: None = None) -> str:
    """Stage entry point: the corpus report as a page."""
    text = Path(input.report).read_text(encoding="utf-8")
    Path(output.page).write_text(markdown_page("Corpus report", text), "utf-8")
    return f"wrote {output.page}"


# The overview ---------------------------------------------------------------


# The per-codec build outputs one overview line is made of.
OVERVIEW_INPUTS = ("trained", "corpus_info", "allowlist", "validation", "onnx", "card")


@dataclass(frozen=True)
class OverviewRow:
    codec: str
    corpus: str
    rows: int
    plcc: float
    srocc: float
    rmse: float
    onnx_sha256: str
    allowlist: str
    validation: str
    committed: str  # "match", "differs" or "not committed"
    split: str = "row"  # "source" or "clip" (grouped cross-validation), "row"
    baselines: dict[str, float] = field(default_factory=dict)  # name -> RMSE
    winner: str = ""  # the lowest RMSE: evaluation.LEARNER or a baseline


def overview_row(
    codec: str,
    files: Mapping[str, Path],
    committed: Mapping[str, str],
) -> OverviewRow:
    """One codec's line; ``files`` maps each of OVERVIEW_INPUTS to a path."""
    model = trained.load(files["trained"])
    info = corpus.read_info(files["corpus_info"])
    built = {
        model_file_name(codec): sha256_file(files["onnx"]),
        card_file_name(codec): sha256_file(files["card"]),
    }
    if not all(name in committed for name in built):
        status = "not committed"
    elif all(committed[name] == digest for name, digest in built.items()):
        status = "match"
    else:
        status = "differs"
    return OverviewRow(
        codec=codec,
        corpus=info.label,
        rows=info.rows,
        plcc=model.metrics["plcc"],
        srocc=model.metrics["srocc"],
        rmse=model.metrics["rmse"],
        split=model.evaluation.get("split", "row"),
        baselines={
            name: figures["rmse"]
            for name, figures in model.evaluation.get("figures", {}).items()
            if name != evaluation.LEARNER
        },
        winner=model.evaluation.get("winner", ""),
        onnx_sha256=built[model_file_name(codec)],
        allowlist=allowlist.read_report(files["allowlist"]).status,
        validation=validate.read_report(files["validation"]).status,
        committed=status,
    )


def _status(value: str) -> str:
    kind = "pass" if value in ("pass", "match") else "fail"
    return f"<span class='{kind}'>{html.escape(value)}</span>"


def _winner(name: str) -> str:
    if not name:
        return "-"
    kind = "pass" if name == evaluation.LEARNER else "fail"
    text = "this model" if name == evaluation.LEARNER else name
    return f"<span class='{kind}'>{html.escape(text)}</span>"


def overview_html(rows: Sequence[OverviewRow], committed_source: str) -> str:
    """The table of every codec, first page of the report."""
    stubs = sum(row.corpus.startswith("synthetic") for row in rows)
    lines = [
        "<h1>VMAF predictor models: overview</h1>",
        f"<p>{len(rows)} codecs; {len(rows) - stubs} trained on a real corpus, "
        f"{stubs} synthetic stubs (not for production: see each card). "
        "Held-out metrics: real-corpus models by cross-validation split by "
        "source (pooled out-of-fold predictions), stubs on their seeded row "
        "split. The baselines' RMSE is on the same rows; <em>lowest RMSE</em> "
        "names the winner. "
        f"<em>Committed</em> compares the built ONNX file and card with "
        f"<code>{html.escape(committed_source)}</code>.</p>",
        "<table><tr><th>codec</th><th>corpus</th><th>rows</th><th>PLCC</th>"
        "<th>SROCC</th><th>RMSE</th><th>split</th>"
        + "".join(f"<th>RMSE: {html.escape(n)}</th>" for n in evaluation.BASELINES)
        + "<th>lowest RMSE</th><th>ONNX sha256</th><th>allowlist</th>"
        "<th>validation</th><th>committed</th></tr>",
    ]
    for row in rows:
        kind = "stub" if row.corpus.startswith("synthetic") else "real"
        lines.append(
            f"<tr><td><code>{html.escape(row.codec)}</code></td>"
            f"<td><span class='{kind}'>{html.escape(row.corpus)}</span></td>"
            f"<td class='num'>{row.rows}</td><td class='num'>{row.plcc:.4f}</td>"
            f"<td class='num'>{row.srocc:.4f}</td><td class='num'>{row.rmse:.3f}</td>"
            f"<td>by {html.escape(row.split)}</td>"
            + "".join(
                f"<td class='num'>{row.baselines[n]:.3f}</td>"
                if n in row.baselines
                else "<td>-</td>"
                for n in evaluation.BASELINES
            )
            + f"<td>{_winner(row.winner)}</td>"
            f"<td><code title='{html.escape(row.onnx_sha256)}'>"
            f"{html.escape(row.onnx_sha256[:12])}</code></td>"
            f"<td>{_status(row.allowlist)}</td><td>{_status(row.validation)}</td>"
            f"<td>{_status(row.committed)}</td></tr>"
        )
    lines.append("</table>")
    lines.append(
        "<p class='note'>Per codec: VMAF against CRF (model and analytical "
        "curve), held-out scatter, loss curve and the card, under the codec's "
        "category.</p>"
    )
    return html_page("VMAF predictor overview", "\n".join(lines))


def run_overview(input: Any, output: Any, params: Any, codec: None = None) -> str:
    """Stage entry point: each of OVERVIEW_INPUTS holds one path per codec,
    in ``params.codecs`` order; ``params.committed`` is what
    :func:`s8_hash.committed_sums` read."""
    rows = [
        overview_row(
            name,
            {kind: getattr(input, kind)[i] for kind in OVERVIEW_INPUTS},
            params.committed["sums"],
        )
        for i, name in enumerate(params.codecs)
    ]
    page = overview_html(rows, params.committed["source"])
    Path(output.page).write_text(page, encoding="utf-8")
    return f"wrote {output.page} ({len(rows)} codecs)"
