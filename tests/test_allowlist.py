import onnx
import pytest
from onnx import TensorProto, helper

from vmaf_predictor.factory import s5_allowlist as allowlist


@pytest.fixture(scope="module")
def allowed(config) -> list[str]:
    return config["allowlist"]["ops"]


def _model(nodes, initializers=(), opset=18) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        list(initializers),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _body(op="Identity") -> onnx.GraphProto:
    """A Loop body: (iteration, cond, carried) -> (cond, carried)."""
    return helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node(op, ["carried_in"], ["carried_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("carried_in", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("carried_out", TensorProto.FLOAT, [1]),
        ],
    )


def _trip_count(value: int) -> onnx.TensorProto:
    return helper.make_tensor("trips", TensorProto.INT64, [], [value])


def _loop(trip_input="trips", body_op="Identity") -> onnx.NodeProto:
    return helper.make_node(
        "Loop", [trip_input, "", "x"], ["y"], name="loop", body=_body(body_op)
    )


def test_the_exported_model_passes(onnx_x264, allowed):
    report = allowlist.check_model(
        onnx.load_from_string(onnx_x264), "libx264", allowed, 1024
    )
    assert report.status == "pass"
    assert set(report.ops) <= set(allowed)
    assert report.nodes == len(onnx.load_from_string(onnx_x264).graph.node) == 30


def test_a_forbidden_op_fails_naming_the_op_and_the_codec(allowed):
    model = _model([helper.make_node("NonZero", ["x"], ["y"], name="nz")])
    with pytest.raises(allowlist.ForbiddenOpError) as caught:
        allowlist.check_model(model, "libx265", allowed, 1024)
    assert "libx265" in str(caught.value) and "NonZero" in str(caught.value)


def test_scan_is_refused(allowed):
    model = _model([helper.make_node("Scan", ["x"], ["y"], num_scan_inputs=1)])
    with pytest.raises(allowlist.ForbiddenOpError, match="Scan"):
        allowlist.check_model(model, "c", allowed, 1024)


def test_a_forbidden_op_inside_a_subgraph_fails(allowed):
    model = _model([_loop(body_op="Scan")], [_trip_count(4)])
    with pytest.raises(allowlist.ForbiddenOpError, match=r"op Scan at graph/loop/"):
        allowlist.check_model(model, "c", allowed, 1024)


def test_a_forbidden_op_inside_an_if_branch_fails(allowed):
    def branch(op):
        return helper.make_graph(
            [helper.make_node(op, ["x"], ["out"])],
            "branch",
            [],
            [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1])],
        )

    node = helper.make_node(
        "If", ["x"], ["y"], then_branch=branch("Relu"), else_branch=branch("TopK")
    )
    with pytest.raises(allowlist.ForbiddenOpError, match="TopK"):
        allowlist.check_model(_model([node]), "c", allowed, 1024)


def test_a_loop_with_a_constant_bounded_trip_count_passes(allowed):
    model = _model([_loop()], [_trip_count(1024)])
    assert allowlist.check_model(model, "c", allowed, 1024).status == "pass"


def test_a_loop_trip_count_from_a_constant_node_passes(allowed):
    const = helper.make_node("Constant", [], ["trips"], value=_trip_count(3))
    model = _model([const, _loop()])
    assert allowlist.check_model(model, "c", allowed, 1024).status == "pass"


def test_a_loop_without_a_trip_count_fails(allowed):
    with pytest.raises(allowlist.ForbiddenOpError, match="unbounded"):
        allowlist.check_model(_model([_loop(trip_input="")]), "c", allowed, 1024)


def test_a_loop_with_a_computed_trip_count_fails(allowed):
    model = _model([_loop(trip_input="x")])
    with pytest.raises(allowlist.ForbiddenOpError, match="not a constant"):
        allowlist.check_model(model, "c", allowed, 1024)


def test_a_loop_over_the_bound_fails(allowed):
    model = _model([_loop()], [_trip_count(1025)])
    with pytest.raises(allowlist.ForbiddenOpError, match=r"outside \[0, 1024\]"):
        allowlist.check_model(model, "c", allowed, 1024)


def test_an_op_from_another_domain_fails(allowed):
    node = helper.make_node("Relu", ["x"], ["y"], domain="com.microsoft")
    with pytest.raises(allowlist.ForbiddenOpError, match=r"com\.microsoft::Relu"):
        allowlist.check_model(_model([node]), "c", allowed, 1024)
