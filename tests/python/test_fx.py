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
