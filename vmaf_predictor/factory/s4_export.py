"""Stage 4: write the trained network as an ONNX graph, built node by node.

The graph is assembled with ``onnx.helper`` rather than a torch exporter, so
no exporter version, source location or stack trace can reach the bytes:
they depend only on the weights and this file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vmaf_predictor import __version__
from vmaf_predictor.factory import curve_head, network
from vmaf_predictor.factory.network import TrainedModel
from vmaf_predictor.runtime.features import INPUT_NAME, N_FEATURES, OUTPUT_NAME

IR_VERSION = 8  # the IR version that goes with opset 18


def build_model(trained: TrainedModel, opset: int) -> onnx.ModelProto:
    """The graph of :class:`network.MonotoneNet`, node for node
    (blended with its curve, or the curve alone, as ``trained.blend`` says).

    It computes in float64 between a Cast in and a Cast out: the weights are
    float32 values (the export rule), but float32 arithmetic alone
    would leave onnxruntime only about one float32 step (7.6e-6 near 100) from
    the trained model, and that margin would depend on the CPU's GEMM kernel.
    """

    def const(name: str, values: Sequence, dtype=np.float64) -> TensorProto:
        return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)

    def node(op: str, inputs: list[str], output: str, **attributes) -> onnx.NodeProto:
        return helper.make_node(op, inputs, [output], name=output, **attributes)

    # network.model_inputs: linear columns, then log(max(x, 1)) of the rest
    column_initializers = [
        const("linear_columns", network.LINEAR_COLUMNS, np.int64),
        const("log_columns", network.LOG_COLUMNS, np.int64),
        const("log_floor", [1.0]),
    ]
    column_nodes = [
        node("Cast", [INPUT_NAME], "input64", to=TensorProto.DOUBLE),
        node("Gather", ["input64", "linear_columns"], "linear", axis=1),
        node("Gather", ["input64", "log_columns"], "sizes", axis=1),
        node("Max", ["sizes", "log_floor"], "sizes_at_least_1"),
        node("Log", ["sizes_at_least_1"], "logged"),
        node("Concat", ["linear", "logged"], "columns", axis=1),
    ]
    vmaf_range = [const("vmaf_min", 0.0), const("vmaf_max", 100.0)]
    curve = curve_head.curve_from_dict(trained.blend) if trained.blend else None
    w = trained.blend["weight"] if trained.blend else 0.0
    if curve is not None and w == 1.0:
        # The curve alone (the selection chose it): no network in the graph.
        curve_initializers, curve_nodes = curve.graph(const, node)
        initializers = [
            *column_initializers,
            *vmaf_range,
            *curve_initializers,
            const("curve_share", [100.0]),
        ]
        nodes = [
            *column_nodes,
            *curve_nodes,
            node("Mul", ["curve", "curve_share"], "curve_vmaf"),
            node("Clip", ["curve_vmaf", "vmaf_min", "vmaf_max"], "vmaf64"),
            node("Cast", ["vmaf64"], OUTPUT_NAME, to=TensorProto.FLOAT),
        ]
    else:
        initializers, nodes = network.graph(trained, const, node)
        initializers = [
            *initializers,
            *vmaf_range,
            const("zero", [0], np.int64),
            const("one", [1], np.int64),
            const("all", [N_FEATURES], np.int64),
            *column_initializers,
        ]
        nodes = [*column_nodes, *nodes]
    if curve is not None and w < 1.0:
        # clip((1 - w) * network + w * 100 * curve): the curve's own nodes
        # on the same columns (factory/curve_head.py lists the curves).
        curve_initializers, curve_nodes = curve.graph(const, node)
        initializers += [
            *curve_initializers,
            const("network_share", [1.0 - w]),
            const("curve_share", [100.0 * w]),
        ]
        nodes[-1:] = [
            *curve_nodes,
            node("Mul", ["curve", "curve_share"], "curve_part"),
            node("Mul", ["vmaf64", "network_share"], "network_part"),
            node("Add", ["network_part", "curve_part"], "blended"),
            node("Clip", ["blended", "vmaf_min", "vmaf_max"], "blended64"),
            node("Cast", ["blended64"], OUTPUT_NAME, to=TensorProto.FLOAT),
        ]
    graph = helper.make_graph(
        nodes,
        f"vmaf_predictor_{trained.codec}",
        [
            helper.make_tensor_value_info(
                INPUT_NAME, TensorProto.FLOAT, ["N", N_FEATURES]
            )
        ],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", 1])],
        initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        ir_version=IR_VERSION,
        producer_name="vmaf_predictor",
        producer_version=__version__,
        doc_string=f"Per-shot VMAF predictor for {trained.codec}; see its model card.",
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def run(input: Any, output: Any, params: Any, codec: str) -> str:
    """Stage entry point: the graph of the trained model, checked and
    documented in one job (onnx and onnxruntime load once a codec, and torch
    not at all): the libvmaf allowlist (s5_allowlist), onnxruntime as a
    consumer (s6_validate), then the card (s7_card). A check that fails
    raises before anything is written."""
    from vmaf_predictor.factory import s2_corpus, s5_allowlist, s6_validate, s7_card
    from vmaf_predictor.registry import codec_from_config

    trained = network.load(input.trained)
    model = build_model(trained, params.opset)
    data = model.SerializeToString()
    allowlist = s5_allowlist.check_model(
        model, codec, params.ops, params.loop_max_trip_count
    )
    rows = s2_corpus.table_rows(s2_corpus.read_columns(input.table))
    validation = s6_validate.validate(
        data, trained, codec_from_config(codec, params.codec), rows
    )
    card = s7_card.render(
        trained=trained,
        corpus=s2_corpus.read_info(input.corpus_info),
        allowlist=allowlist,
        validation=validation,
        onnx_bytes=data,
        onnx_sha256=hashlib.sha256(data).hexdigest(),
        opset=params.opset,
        versions=params.built_with,
    )
    Path(output.onnx).write_bytes(data)
    s5_allowlist.write_report(allowlist, output.allowlist)
    s6_validate.write_report(validation, output.validation)
    Path(output.card).write_text(card, encoding="utf-8", newline="\n")
    return (
        f"{codec}: {len(data)} bytes; allowlist {allowlist.status}, "
        f"{allowlist.nodes} nodes, ops {allowlist.ops}; {validation}"
    )
