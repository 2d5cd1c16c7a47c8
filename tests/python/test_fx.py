"""rustdl.fx: graphs built by hand and by symbolic tracing, graph editing and recompilation,
Interpreter/Transformer, ShapeProp, subgraph rewriting, and the torch.fx names under the compat
layer."""

import copy
import math
import operator
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
import rustdl.nn.functional as F
from rustdl import fx
from rustdl.fx.passes.shape_prop import ShapeProp, TensorMetadata
from rustdl.fx.proxy import GraphAppendingTracer, TraceError


def leaf_scale(x, k):
    """A function with control flow, made a leaf of tracing by fx.wrap below."""
    if k > 1:
        return x * k
    return x


fx.wrap("leaf_scale")


def close(a, b, tol=1e-6):
    np.testing.assert_allclose(
        np.asarray(a.detach().tolist()), np.asarray(b.detach().tolist()), atol=tol, rtol=tol
    )


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)
        self.scale = nn.Parameter(rustdl.randn(3))
        self.register_buffer("shift", rustdl.ones(3))

    def forward(self, x):
        h = rustdl.relu(self.fc1(x))
        h = F.relu(h) + 1
        return self.fc2(h) * self.scale + self.shift


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        y = self.body(x)
        y = F.adaptive_avg_pool2d(y, 1).flatten(1)
        return self.head(y)


def test_hand_built_graph_runs():
    g = fx.Graph()
    x = fx.Proxy(g.placeholder("x", rustdl.Tensor))
    g.output((x * 2 + 1).node)
    m = fx.GraphModule(nn.Module(), g)
    assert m(rustdl.ones(2)).tolist() == [3.0, 3.0]
    assert [n.op for n in g.nodes] == ["placeholder", "call_function", "call_function", "output"]
    assert [n.target for n in g.nodes][1:3] == [operator.mul, operator.add]
    assert "def forward(self, x" in m.code and "x * 2" in m.code


def test_graph_appending_tracer_and_torch_functions():
    g = fx.Graph()
    tracer = GraphAppendingTracer(g)
    a = fx.Proxy(g.placeholder("a"), tracer)
    b = fx.Proxy(g.placeholder("b"), tracer)
    c = rustdl.einsum("ij,jk->ik", a, b)
    d = F.relu(c).sum(dim=1)
    e = rustdl.cat([d, d], 0)
    g.output(e.node)
    kinds = [(n.op, n.target) for n in g.nodes]
    assert ("call_function", rustdl.einsum) in kinds
    assert ("call_function", F.relu) in kinds
    assert ("call_method", "sum") in kinds
    assert ("call_function", rustdl.cat) in kinds
    gm = fx.GraphModule({}, g)
    x, y = rustdl.randn(3, 4), rustdl.randn(4, 5)
    close(gm(x, y), rustdl.cat([F.relu(x @ y).sum(dim=1)] * 2, 0))
    assert "rustdl.einsum(" in gm.code and "rustdl.nn.functional.relu(" in gm.code


def test_einsum_tuple_form_is_recorded_variadic():
    g = fx.Graph()
    tracer = GraphAppendingTracer(g)
    a = fx.Proxy(g.placeholder("a"), tracer)
    out = rustdl.einsum("ij,jk->ik", (a, a))
    assert out.node.args == ("ij,jk->ik", a.node, a.node)


def test_trace_mlp_matches_eager_and_records_nodes():
    m = MLP()
    gm = fx.symbolic_trace(m)
    x = rustdl.randn(5, 4)
    close(gm(x), m(x))
    ops = [(n.op, n.target) for n in gm.graph.nodes]
    assert ops[0] == ("placeholder", "x")
    assert ("call_module", "fc1") in ops and ("call_module", "fc2") in ops
    assert ("call_function", rustdl.relu) in ops and ("call_function", F.relu) in ops
    assert ("get_attr", "scale") in ops and ("get_attr", "shift") in ops
    assert ops[-1][0] == "output"
    # the submodules and parameters are shared with the traced module
    assert gm.fc1 is m.fc1 and gm.scale is m.scale
    assert type(gm).__name__ == "MLP"
    gm.graph.lint()


def test_trace_cnn_with_sequential_and_batchnorm():
    m = CNN().eval()
    gm = fx.symbolic_trace(m)
    targets = [n.target for n in gm.graph.nodes if n.op == "call_module"]
    assert targets == ["body.0", "body.1", "body.2", "head"]  # Sequential traced through
    x = rustdl.randn(2, 3, 6, 6)
    close(gm(x), m(x))


def test_trace_resnet18_matches_eager():
    from rustdl.models import resnet18

    m = resnet18().eval()
    gm = fx.symbolic_trace(m)
    x = rustdl.randn(1, 3, 32, 32)
    close(gm(x), m(x), tol=1e-5)
    adds = [n for n in gm.graph.nodes if n.op == "call_function" and n.target is operator.add]
    assert len(adds) == 8  # one residual add per basic block
    assert "layer1.0.conv1" in [n.target for n in gm.graph.nodes]


def test_trace_function_and_shapes_and_unpacking():
    def f(x, y):
        b, c = x.shape
        return x.view(b * c) + y.flatten(), x.size(0)

    gm = fx.symbolic_trace(f)
    x, y = rustdl.randn(2, 3), rustdl.randn(3, 2)
    out, n = gm(x, y)
    close(out, x.view(6) + y.flatten())
    assert n == 2
    assert any(n.op == "call_method" and n.target == "view" for n in gm.graph.nodes)


def test_control_flow_on_proxy_raises_trace_error():
    def f(x):
        if x.sum() > 0:
            return x
        return -x

    with pytest.raises(TraceError, match="control flow"):
        fx.symbolic_trace(f)

    def g(x):
        return [v for v in x]

    with pytest.raises(TraceError):
        fx.symbolic_trace(g)

    def h(x):
        return len(x)

    with pytest.raises(RuntimeError, match="len"):
        fx.symbolic_trace(h)


def test_concrete_args_allow_branching():
    def f(x, flag):
        if flag:
            return x + 1
        return x - 1

    gm = fx.symbolic_trace(f, concrete_args={"flag": True})
    x = rustdl.zeros(2)
    assert gm(x).tolist() == [1.0, 1.0]
    assert not any(n.target is operator.sub for n in gm.graph.nodes)


def test_wrap_makes_a_leaf_and_math_is_recorded():
    def f(x):
        return leaf_scale(x, 3) * math.sqrt(4.0)

    gm = fx.symbolic_trace(f)
    assert any(n.op == "call_function" and n.target is leaf_scale for n in gm.graph.nodes)
    assert gm(rustdl.ones(2)).tolist() == [6.0, 6.0]
    # the patch is gone after tracing
    assert globals()["leaf_scale"].__name__ == "leaf_scale" and not hasattr(
        globals()["leaf_scale"], "_rustdl_fx_wrapped"
    )


def test_module_call_is_restored_after_failed_trace():
    call, getattr_ = nn.Module.__call__, nn.Module.__getattr__

    class Bad(nn.Module):
        def forward(self, x):
            if x:
                return x
            return x

    with pytest.raises(TraceError):
        fx.symbolic_trace(Bad())
    assert nn.Module.__call__ is call and nn.Module.__getattr__ is getattr_


def test_edit_graph_replace_relu_with_gelu():
    m = MLP()
    gm = fx.symbolic_trace(m)
    for n in gm.graph.nodes:
        if n.op == "call_function" and n.target in (rustdl.relu, F.relu):
            n.target = F.gelu
    gm.recompile()
    x = rustdl.randn(3, 4)
    expected = m.fc2(F.gelu(F.gelu(m.fc1(x))) + 1) * m.scale + m.shift
    close(gm(x), expected)
    assert "gelu(" in gm.code and "relu(" not in gm.code


def test_insert_erase_and_replace_all_uses():
    def f(x):
        return rustdl.relu(x) + 1

    gm = fx.symbolic_trace(f)
    relu = next(n for n in gm.graph.nodes if n.target is rustdl.relu)
    with gm.graph.inserting_after(relu):
        neg = gm.graph.call_function(operator.neg, (relu,))
    users = relu.replace_all_uses_with(neg, delete_user_cb=lambda u: u is not neg)
    assert [u.op for u in users] == ["call_function"] and neg.args == (relu,)
    gm.recompile()
    x = rustdl.tensor([-1.0, 2.0])
    assert gm(x).tolist() == [1.0, -1.0]
    # replace the relu input by x itself and erase the relu
    placeholder = next(iter(gm.graph.nodes))
    neg.replace_input_with(relu, placeholder)
    gm.graph.erase_node(relu)
    gm.recompile()
    assert gm(x).tolist() == [2.0, -1.0]
    with pytest.raises(RuntimeError, match="users"):
        gm.graph.erase_node(neg)
    gm.graph.lint()


def test_nodes_view_is_live_and_reversible():
    def f(x):
        a = x + 1
        b = a * 2
        x - 3  # unused: dead code
        return b

    gm = fx.symbolic_trace(f)
    names = [n.name for n in gm.graph.nodes]
    assert [n.name for n in reversed(gm.graph.nodes)] == names[::-1]
    assert len(gm.graph.nodes) == len(names)
    # erasing while iterating
    for n in gm.graph.nodes:
        if n.op == "call_function" and n.target is operator.sub:
            gm.graph.erase_node(n)
    assert operator.sub not in [n.target for n in gm.graph.nodes]
    assert gm.graph.eliminate_dead_code() is False
    # a fresh dead node is removed
    with gm.graph.inserting_before(next(iter(reversed(gm.graph.nodes)))):
        gm.graph.call_function(operator.mul, (next(iter(gm.graph.nodes)), 5))
    assert gm.graph.eliminate_dead_code() is True
    gm.recompile()
    assert gm(rustdl.ones(1)).tolist() == [4.0]


def test_node_args_are_immutable_and_setters_track_users():
    g = fx.Graph()
    x = g.placeholder("x")
    y = g.call_function(rustdl.add, (x, 1), {"alpha": 2})
    assert x.users == {y: None} and y.all_input_nodes == [x]
    with pytest.raises(NotImplementedError):
        y.kwargs["alpha"] = 3
    y.update_kwarg("alpha", 3)
    y.update_arg(1, 2)
    g.output(y)
    gm = fx.GraphModule(nn.Module(), g)
    assert gm(rustdl.zeros(1)).tolist() == [6.0]
    z = g.placeholder("z")
    y.args = (z, 1)
    assert x.users == {} and z.users == {y: None}
    assert fx.map_arg((x, [z], {"k": z}), lambda n: n.name) == ("x", ["z"], {"k": "z"})


def test_node_copy_graph_copy_and_deepcopy():
    gm = fx.symbolic_trace(MLP())
    g2 = fx.Graph()
    out = g2.graph_copy(gm.graph, {})
    g2.output(out)
    gm2 = fx.GraphModule(gm, g2)
    x = rustdl.randn(2, 4)
    close(gm2(x), gm(x))
    gm3 = copy.deepcopy(gm)
    close(gm3(x), gm(x))
    assert gm3.fc1 is not gm.fc1 and gm3.graph is not gm.graph
    gm4 = pickle.loads(pickle.dumps(gm))
    close(gm4(x), gm(x))


def test_interpreter_runs_and_can_be_customised():
    m = MLP()
    gm = fx.symbolic_trace(m)
    x = rustdl.randn(3, 4)
    close(fx.Interpreter(gm).run(x), m(x))

    class NegRelu(fx.Interpreter):
        def call_function(self, target, args, kwargs):
            if target in (rustdl.relu, F.relu):
                return -super().call_function(target, args, kwargs)
            return super().call_function(target, args, kwargs)

    h = -F.relu(-F.relu(m.fc1(x))) + 1
    close(NegRelu(gm).run(x), m.fc2(h) * m.scale + m.shift)


def test_transformer_rewrites_graph():
    def f(x):
        return rustdl.relu(x) + 1

    gm = fx.symbolic_trace(f)

    class ToSigmoid(fx.Transformer):
        def call_function(self, target, args, kwargs):
            if target is rustdl.relu:
                target = rustdl.sigmoid
            return super().call_function(target, args, kwargs)

    new = ToSigmoid(gm).transform()
    x = rustdl.randn(4)
    close(new(x), rustdl.sigmoid(x) + 1)
    assert rustdl.sigmoid in [n.target for n in new.graph.nodes]


def test_shape_prop_fills_tensor_meta():
    gm = fx.symbolic_trace(CNN().eval())
    ShapeProp(gm).propagate(rustdl.randn(2, 3, 5, 5))
    metas = {n.name: n.meta.get("tensor_meta") for n in gm.graph.nodes}
    assert isinstance(metas["x"], TensorMetadata) and tuple(metas["x"].shape) == (2, 3, 5, 5)
    assert tuple(metas["body_0"].shape) == (2, 4, 5, 5)
    assert tuple(metas["head"].shape) == (2, 2) and metas["head"].dtype == rustdl.float32


def test_replace_pattern():
    def f(x):
        return rustdl.relu(x) * 2 + rustdl.relu(x + 1)

    def pattern(x):
        return rustdl.relu(x)

    def replacement(x):
        return rustdl.sigmoid(x)

    gm = fx.symbolic_trace(f)
    matches = fx.replace_pattern(gm, pattern, replacement)
    assert len(matches) == 2
    x = rustdl.randn(3)
    close(gm(x), rustdl.sigmoid(x) * 2 + rustdl.sigmoid(x + 1))
    assert rustdl.relu not in [n.target for n in gm.graph.nodes]


def test_graph_module_submodule_management_and_printing(capsys):
    gm = fx.symbolic_trace(CNN())
    assert gm.add_submodule("extra.act", nn.ReLU())
    assert isinstance(gm.get_submodule("extra.act"), nn.ReLU)
    gm.delete_all_unused_submodules()
    assert not hasattr(gm, "extra")
    assert gm.delete_submodule("head") and not gm.delete_submodule("head")
    src = gm.print_readable(print_output=False)
    assert src.startswith("class CNN(") and "def forward(self, x" in src
    gm.graph.print_tabular()
    assert "call_module" in capsys.readouterr().out
    assert "%x" in str(gm.graph)


def test_graph_module_from_dict_root_and_graph_setter():
    g = fx.Graph()
    x = g.placeholder("x")
    w = g.get_attr("w")
    g.output(g.call_function(rustdl.mul, (x, w)))
    gm = fx.GraphModule({"w": rustdl.tensor([2.0, 3.0])}, g, "Scaled")
    assert gm(rustdl.ones(2)).tolist() == [2.0, 3.0]
    assert type(gm).__name__ == "Scaled"
    g2 = fx.Graph()
    y = g2.placeholder("x")
    g2.output(g2.call_method("neg", (y,)))
    gm.graph = g2
    assert gm(rustdl.ones(2)).tolist() == [-1.0, -1.0] and "neg()" in gm.code
    with pytest.raises(RuntimeError, match="not provided"):
        fx.GraphModule({}, g)


def test_backward_through_graph_module():
    m = MLP()
    gm = fx.symbolic_trace(m)
    x = rustdl.randn(2, 4)
    gm(x).sum().backward()
    assert m.fc1.weight.grad is not None and m.scale.grad is not None


def test_torch_fx_names_under_compat(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import json
            import torch
            from torch import fx
            from torch.fx.node import Node
            from torch.fx.proxy import GraphAppendingTracer
            from torch.fx.passes.shape_prop import ShapeProp
            from torch.fx.immutable_collections import immutable_list

            class M(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.lin = torch.nn.Linear(3, 2)
                def forward(self, x):
                    return torch.nn.functional.relu(self.lin(x)) * 2

            m = M()
            gm = fx.symbolic_trace(m)
            x = torch.randn(4, 3)
            ShapeProp(gm).propagate(x)
            print(json.dumps({
                "same": bool((gm(x) - m(x)).abs().max() < 1e-6),
                "node": isinstance(list(gm.graph.nodes)[0], Node),
                "ops": [n.op for n in gm.graph.nodes],
                "shape": list(list(gm.graph.nodes)[-2].meta["tensor_meta"].shape),
                "tracer": GraphAppendingTracer.__module__,
                "gm": isinstance(gm, torch.fx.GraphModule) and isinstance(gm.graph, torch.fx.Graph),
            }))
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "rustdl.torchcompat", str(script)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["same"] and out["node"] and out["gm"]
    assert out["ops"] == ["placeholder", "call_module", "call_function", "call_function", "output"]
    assert out["shape"] == [4, 2]


def test_concrete_args_are_guarded_and_asserts_survive_dead_code_elimination():
    def f(x, flag):
        return x * 2 if flag else x + 100

    gm = fx.symbolic_trace(f, concrete_args={"flag": True})
    assert gm(rustdl.tensor([1.0, 2.0]), True).tolist() == [2.0, 4.0]
    with pytest.raises(AssertionError, match="flag has been specialized to have value True"):
        gm(rustdl.tensor([1.0, 2.0]), False)

    def g(x, y=None):
        return x if y is None else x + y

    gm = fx.symbolic_trace(g, concrete_args={"y": None})
    assert gm(rustdl.ones(1)).tolist() == [1.0]
    with pytest.raises(AssertionError, match="y has been specialized to have value None"):
        gm(rustdl.ones(1), rustdl.ones(1))

    def h(x):
        rustdl._assert(x.sum() > 0, "must be positive")
        return x * 2

    gm = fx.symbolic_trace(h)
    gm.graph.eliminate_dead_code()
    gm.recompile()
    assert [n.op for n in gm.graph.nodes].count("call_function") == 3  # gt, _assert, mul
    with pytest.raises(AssertionError, match="must be positive"):
        gm(-rustdl.ones(2))
    # math functions of traced values are recorded (math itself is restored afterwards)
    gm = fx.symbolic_trace(lambda x: x / math.sqrt(x.shape[-1]))
    assert gm(rustdl.ones(4)).tolist() == [0.5] * 4
    assert math.sqrt in [n.target for n in gm.graph.nodes]
    assert math.sqrt(4.0) == 2.0 and not hasattr(math.sqrt, "_rustdl_fx_wrapped")


@pytest.mark.parametrize(
    "fn, want",
    [
        (lambda x: x + rustdl.ones(2, dtype=x.dtype), [2.0, 2.0]),
        (lambda x: x + rustdl.zeros(x.shape), [1.0, 1.0]),
        (lambda x: x + rustdl.full((2,), 3.0, dtype=x.dtype, device=x.device), [4.0, 4.0]),
        (lambda x: x + rustdl.arange(x.size(0)), [1.0, 2.0]),
        (lambda x: rustdl.eye(x.shape[0]) @ x, [1.0, 1.0]),
    ],
)
def test_factories_given_traced_shapes_dtypes_and_devices_are_recorded(fn, want):
    gm = fx.symbolic_trace(fn)
    assert gm(rustdl.ones(2)).tolist() == want
    if "dtype" in fn.__code__.co_names:  # the factory follows the input's dtype
        assert gm(rustdl.ones(2, dtype=rustdl.float64)).dtype == rustdl.float64
    assert any(n.op == "call_function" for n in gm.graph.nodes)
    assert rustdl.zeros(2, 3).shape == (2, 3)  # plain calls are untouched


def test_concrete_args_with_placeholders_inside_structures():
    gm = fx.symbolic_trace(lambda x, y: x + y[0] * y[1], concrete_args={"y": (fx.PH, fx.PH)})
    phs = [n for n in gm.graph.nodes if n.op == "placeholder"]
    assert [n.name for n in phs] == ["x", "y_1", "y_2"]
    assert "def forward(self, x, y):" in gm.code
    x, a, b = rustdl.randn(3), rustdl.randn(3), rustdl.randn(3)
    close(gm(x, (a, b)), x + a * b)
    close(fx.Interpreter(gm).run(x, (a, b)), x + a * b)
    close(copy.deepcopy(gm)(x, (a, b)), x + a * b)
    close(pickle.loads(pickle.dumps(gm))(x, (a, b)), x + a * b)
    close(fx.Transformer(gm).transform()(x, (a, b)), x + a * b)

    # dicts are read by key; the result keeps its structure
    gm2 = fx.symbolic_trace(
        lambda x, d: {"out": x * d["a"] + d["b"], "pair": (x, d["a"])},
        concrete_args={"d": {"a": fx.PH, "b": fx.PH}},
    )
    out = gm2(x, {"b": b, "a": a})
    assert set(out) == {"out", "pair"} and isinstance(out["pair"], tuple)
    close(out["out"], x * a + b)
    close(out["pair"][1], a)

    # a leaf that is not PH is fixed (and checked)
    gm3 = fx.symbolic_trace(lambda x, y: x + y[0] - y[1], concrete_args={"y": (fx.PH, 3)})
    close(gm3(x, (a, 3)), x + a - 3)
    with pytest.raises(AssertionError, match="specialized"):
        gm3(x, (a, 4))


def test_tracing_star_args_and_star_kwargs():
    class Star(nn.Module):
        def forward(self, *xs):
            return xs[0] + xs[1] * 2

    gm = fx.symbolic_trace(Star())
    ph = [n for n in gm.graph.nodes if n.op == "placeholder"]
    assert len(ph) == 1 and ph[0].target == "*xs"
    assert "def forward(self, *xs):" in gm.code
    a, b = rustdl.randn(4), rustdl.randn(4)
    close(gm(a, b), a + b * 2)
    close(gm(a, b, a), a + b * 2)  # variadic: extra inputs are accepted
    close(fx.Interpreter(gm).run(a, b), a + b * 2)

    class Mixed(nn.Module):
        def forward(self, x, *rest, **kw):
            return x * kw["scale"] + rest[0]

    gm2 = fx.symbolic_trace(Mixed())
    assert [n.target for n in gm2.graph.nodes if n.op == "placeholder"] == ["x", "*rest", "**kw"]
    close(gm2(a, b, scale=3.0), a * 3.0 + b)

    def fn(x, *ys):
        return x - ys[-1]

    gm3 = fx.symbolic_trace(fn)
    close(gm3(a, b, a), a - a)
    close(gm3(a, b), a - b)


def test_interpreter_boxed_run_and_transformer_keeps_output_meta():
    gm = fx.symbolic_trace(lambda x, y: x * y + 1)
    x, y = rustdl.randn(3), rustdl.randn(3)
    args = [x, y]
    close(fx.Interpreter(gm).boxed_run(args), x * y + 1)
    assert args == []

    out_node = gm.graph.find_nodes(op="output")[0]
    out_node.meta["note"] = "kept"
    new = fx.Transformer(gm).transform()
    assert new.graph.find_nodes(op="output")[0].meta["note"] == "kept"
    close(new(x, y), x * y + 1)


def test_replace_pattern_with_tuple_outputs():
    def f(x, y):
        a = x + y
        b = a * 2
        return b - a, a

    def pattern(x, y):
        a = x + y
        return a, a * 2

    def replacement(x, y):
        return x - y, x * y

    gm = fx.symbolic_trace(f)
    res = fx.subgraph_rewriter.replace_pattern_with_filters(gm, pattern, replacement)
    assert len(res) == 1 and isinstance(res[0], fx.subgraph_rewriter.ReplacedPatterns)
    assert [n.op for n in res[0].replacements] == ["call_function", "call_function"]
    x = rustdl.tensor([1.0, 2.0])
    y = rustdl.tensor([3.0, 5.0])
    first, second = gm(x, y)
    np.testing.assert_allclose(first.tolist(), [3.0 - -2.0, 10.0 - -3.0])
    np.testing.assert_allclose(second.tolist(), [-2.0, -3.0])
    assert operator.add not in [n.target for n in gm.graph.nodes]


def test_replace_pattern_matches_in_graph_order_and_binds_constants():
    def f(x):
        return rustdl.relu(rustdl.relu(rustdl.relu(x))) + rustdl.sigmoid(x) * 2 + rustdl.sigmoid(x) * 3

    gm = fx.symbolic_trace(f)
    matches = fx.replace_pattern(gm, lambda x: rustdl.relu(rustdl.relu(x)), lambda x: rustdl.tanh(x))
    assert len(matches) == 1 and isinstance(matches[0], fx.subgraph_rewriter.Match)
    # the first two relus are replaced (matches are taken in graph order)
    assert sorted(g.name for p, g in matches[0].nodes_map.items() if p.op != "placeholder") == [
        "relu",
        "relu_1",
    ]
    x = rustdl.randn(5)
    close(gm(x), rustdl.relu(rustdl.tanh(x)) + rustdl.sigmoid(x) * 5)

    # a pattern input matches a constant, which the replacement receives
    gm = fx.symbolic_trace(f)

    def pat(x, c):
        return rustdl.sigmoid(x) * c

    def rep(x, c):
        return rustdl.tanh(x) * (c + 1)

    matches = fx.replace_pattern(gm, pat, rep)
    assert [m.nodes_map[list(m.nodes_map)[-1]] for m in matches] == [2, 3]
    close(gm(x), rustdl.relu(x) + rustdl.tanh(x) * 3 + rustdl.tanh(x) * 4)


def test_replace_pattern_with_filters_and_ignore_literals():
    from rustdl.fx.passes.utils.matcher_utils import InternalMatch

    def f(x):
        return rustdl.sigmoid(x) * 2 + rustdl.sigmoid(x) * 3

    def pattern(x):
        return rustdl.sigmoid(x) * 2

    def replacement(x):
        return rustdl.tanh(x)

    x = rustdl.randn(4)
    # without ignore_literals, only `* 2` matches
    gm = fx.symbolic_trace(f)
    assert len(fx.subgraph_rewriter.replace_pattern_with_filters(gm, pattern, replacement)) == 1
    close(gm(x), rustdl.tanh(x) + rustdl.sigmoid(x) * 3)
    # with ignore_literals both do
    gm = fx.symbolic_trace(f)
    res = fx.subgraph_rewriter.replace_pattern_with_filters(gm, pattern, replacement, ignore_literals=True)
    assert len(res) == 2
    close(gm(x), rustdl.tanh(x) * 2)

    seen = []

    def only_times_three(match, original_graph, pattern_graph):
        assert isinstance(match, InternalMatch) and original_graph is gm.graph
        seen.append(match.returning_nodes[0].name)
        return 3 in match.returning_nodes[0].args

    gm = fx.symbolic_trace(f)
    res = fx.subgraph_rewriter.replace_pattern_with_filters(
        gm, pattern, replacement, [only_times_three], ignore_literals=True
    )
    assert seen == ["mul", "mul_1"] and len(res) == 1
    close(gm(x), rustdl.sigmoid(x) * 2 + rustdl.tanh(x))


def _randomize_bn(bn):
    with rustdl.no_grad():
        n = bn.num_features
        bn.running_mean.copy_(rustdl.linspace(-1.0, 1.0, n))
        bn.running_var.copy_(rustdl.linspace(0.5, 2.0, n))
        bn.weight.copy_(rustdl.linspace(0.5, 1.5, n))
        bn.bias.copy_(rustdl.linspace(-0.3, 0.3, n))


def test_optimization_fuse_folds_batchnorm():
    from rustdl.fx.experimental.optimization import fuse

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.b1 = nn.Conv1d(3, 4, 3), nn.BatchNorm1d(4)
            self.c2, self.b2 = nn.Conv2d(3, 5, 3, bias=False), nn.BatchNorm2d(5)
            self.c3, self.b3 = nn.Conv3d(2, 3, 2), nn.BatchNorm3d(3)
            self.lin, self.bl = nn.Linear(6, 4), nn.BatchNorm1d(4)

        def forward(self, a, b, c, d):
            return self.b1(self.c1(a)), self.b2(self.c2(b)), self.b3(self.c3(c)), self.bl(self.lin(d))

    rustdl.manual_seed(0)
    m = Net()
    for bn in (m.b1, m.b2, m.b3, m.bl):
        _randomize_bn(bn)
    m.eval()
    xs = (rustdl.randn(2, 3, 8), rustdl.randn(2, 3, 6, 6), rustdl.randn(1, 2, 4, 4, 4), rustdl.randn(5, 6))
    fused = fuse(m)
    assert isinstance(fused, fx.GraphModule)
    bns = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
    assert not any(isinstance(mod, bns) for mod in fused.modules())
    assert [n.op for n in fused.graph.nodes].count("call_module") == 4
    for got, want in zip(fused(*xs), m(*xs), strict=True):
        close(got, want, tol=1e-4)
    # the original is untouched (inplace=False)
    assert isinstance(m.b1, nn.BatchNorm1d) and m.c1.weight is not fused.c1.weight
    # closed form for the linear layer: w' = w * g / sqrt(v + eps)
    scale = m.bl.weight / (m.bl.running_var + m.bl.eps).sqrt()
    close(fused.lin.weight, m.lin.weight * scale.unsqueeze(1), tol=1e-5)
    close(fused.lin.bias, (m.lin.bias - m.bl.running_mean) * scale + m.bl.bias, tol=1e-5)


def test_code_names_hand_built_graph_functions_by_path():
    g = fx.Graph()
    x, w = g.placeholder("x"), g.placeholder("w")
    mm = g.call_function(rustdl.matmul, (x, w))
    s = g.call_function(rustdl.sum, (mm,), {"dim": 0})
    g.output(s)
    gm = fx.GraphModule(nn.Module(), g)
    assert "rustdl.matmul(x, w)" in gm.code and "rustdl.sum(matmul, dim = 0)" in gm.code
    a, b = rustdl.randn(2, 3), rustdl.randn(3, 2)
    close(gm(a, b), (a @ b).sum(0), tol=1e-5)
    gm.recompile()
    close(gm(a, b), (a @ b).sum(0), tol=1e-5)


def test_compat_torch_names_and_fx_experimental(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(
        textwrap.dedent(
            """
            import json
            import torch
            import torch.fx as fx
            from torch.fx.experimental.optimization import fuse

            g = fx.Graph()
            x, w = g.placeholder("x"), g.placeholder("w")
            g.output(g.call_function(torch.matmul, (x, w)))
            gm = fx.GraphModule(torch.nn.Module(), g)
            a = torch.ones(2, 2)
            m = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)).eval()
            y = torch.randn(1, 1, 5, 5)
            f = fuse(m)
            print(json.dumps({
                "code": "torch.matmul(x, w)" in gm.code,
                "value": gm(a, a).tolist(),
                "fused": bool((f(y) - m(y)).abs().max() < 1e-5),
                "mods": [type(c).__name__ for c in f.children()],
            }))
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "rustdl.torchcompat", str(script)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["code"] and out["value"] == [[2.0, 2.0], [2.0, 2.0]]
    assert out["fused"] and out["mods"] == ["Conv2d"]
