"""Stage 5: every op of a graph must be one the libvmaf ONNX loader accepts.

The check walks subgraphs (Loop/If bodies, and any other graph attribute) and
requires each Loop's trip count to be a constant int64 within the configured
bound. It imports nothing optional, so it cannot silently pass. onnx is
imported by the functions that read a graph: the card and the report import
this module for its report alone.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

DEFAULT_DOMAINS = ("", "ai.onnx")


class ForbiddenOpError(ValueError):
    """A graph uses an op, domain or Loop the allowlist does not accept."""


@dataclass(frozen=True)
class AllowlistReport:
    codec: str
    status: str
    ops: list[str]
    nodes: int


def _subgraphs(node: onnx.NodeProto) -> Iterator[onnx.GraphProto]:
    from onnx import AttributeProto

    for attribute in node.attribute:
        if attribute.type == AttributeProto.GRAPH:
            yield attribute.g
        elif attribute.type == AttributeProto.GRAPHS:
            yield from attribute.graphs


def _constants(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    """Initializers and Constant-node outputs of one graph, by name."""
    found = {tensor.name: tensor for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in DEFAULT_DOMAINS:
            for attribute in node.attribute:
                if attribute.name == "value":
                    found[node.output[0]] = attribute.t
    return found


def _loop_problem(
    node: onnx.NodeProto, constants: dict[str, onnx.TensorProto], max_trips: int
) -> str | None:
    trip_name = node.input[0] if node.input else ""
    if not trip_name:
        return "Loop without a trip count (unbounded)"
    tensor = constants.get(trip_name)
    if tensor is None:
        return f"Loop trip count {trip_name!r} is not a constant"
    from onnx import TensorProto, numpy_helper

    if tensor.data_type != TensorProto.INT64:
        return f"Loop trip count {trip_name!r} is not int64"
    values = numpy_helper.to_array(tensor).reshape(-1)
    if values.size != 1 or not 0 <= int(values[0]) <= max_trips:
        return f"Loop trip count {values.tolist()} is outside [0, {max_trips}]"
    return None


def violations(
    graph: onnx.GraphProto,
    allowed: Collection[str],
    max_trips: int,
    outer_constants: dict[str, onnx.TensorProto] | None = None,
    where: str = "graph",
) -> Iterator[str]:
    """Every problem in ``graph`` and its subgraphs, as readable strings."""
    constants = {**(outer_constants or {}), **_constants(graph)}
    for node in graph.node:
        label = f"{where}/{node.name or node.op_type}"
        if node.domain not in DEFAULT_DOMAINS:
            yield f"op {node.domain}::{node.op_type} at {label}: not in the allowlist"
        elif node.op_type not in allowed:
            yield f"op {node.op_type} at {label}: not in the allowlist"
        elif node.op_type == "Loop":
            problem = _loop_problem(node, constants, max_trips)
            if problem:
                yield f"op Loop at {label}: {problem}"
        for sub in _subgraphs(node):
            yield from violations(sub, allowed, max_trips, constants, label)


def used_ops(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    """All nodes of ``graph``, subgraphs included."""
    for node in graph.node:
        yield node
        for sub in _subgraphs(node):
            yield from used_ops(sub)


def check_model(
    model: onnx.ModelProto, codec: str, allowed: Collection[str], max_trips: int
) -> AllowlistReport:
    """Raise :class:`ForbiddenOpError` naming the codec and every bad op."""
    problems = list(violations(model.graph, set(allowed), max_trips))
    for function in model.functions:
        problems.append(f"model-local function {function.name}: not in the allowlist")
    if problems:
        raise ForbiddenOpError(
            f"{codec}: the graph fails the libvmaf op allowlist:\n  "
            + "\n  ".join(problems)
        )
    nodes = list(used_ops(model.graph))
    return AllowlistReport(
        codec=codec,
        status="pass",
        ops=sorted({node.op_type for node in nodes}),
        nodes=len(nodes),
    )


def write_report(report: AllowlistReport, path: str | Path) -> None:
    Path(path).write_text(json.dumps(asdict(report), indent=2) + "\n")


def read_report(path: Path) -> AllowlistReport:
    return AllowlistReport(**json.loads(Path(path).read_text()))
