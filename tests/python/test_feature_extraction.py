"""rustdl.models.feature_extraction: FX-based node names and feature extractors, with
torchvision's naming and selection rules."""

import copy
import warnings

import numpy as np
import pytest
import rustdl
from rustdl import Tensor, fx, nn
from rustdl.models import mobilenet_v2, resnet18
from rustdl.models.feature_extraction import (
    DualGraphModule,
    NodePathTracer,
    create_feature_extractor,
    get_graph_node_names,
)


def _np(t):
    return t.detach().numpy()


@pytest.fixture(scope="module")
def net():
    rustdl.manual_seed(0)
    return resnet18(num_classes=10).double().eval()


def _x(seed=1, n=2, size=32):
    rustdl.manual_seed(seed)
    return rustdl.randn(n, 3, size, size, dtype=rustdl.float64)


def test_resnet18_node_names_follow_module_paths_and_local_counters(net):
    train, eval_ = get_graph_node_names(net)
    assert train == eval_
    assert train[:12] == [
        "x", "conv1", "bn1", "relu", "maxpool",
        "layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu", "layer1.0.conv2", "layer1.0.bn2",
        "layer1.0.add", "layer1.0.relu_1",
    ]  # fmt: skip
    assert train[-4:] == ["layer4.1.relu_1", "avgpool", "flatten", "fc"]
    assert "layer2.0.downsample.0" in train and "layer3.1.add" in train
    assert len(train) == len(set(train)) == 70
    assert net.training is False  # the mode is put back


def test_tracer_is_an_fx_tracer_and_records_names_per_node(net):
    tracer = NodePathTracer()
    assert isinstance(tracer, fx.Tracer)
    graph = tracer.trace(net)
    named = {n.name: q for n, q in tracer.node_to_qualname.items()}
    # the graph numbers "add" over the whole model; the node names count per module
    assert named["add_1"] == "layer1.1.add" and named["layer1_1_relu_1"] == "layer1.1.relu_1"
    assert [n.op for n in graph.nodes][-1] == "output"


def test_outputs_equal_hooks_and_manual_computation(net):
    x = _x()
    fe = create_feature_extractor(net, ["layer1.0.add", "layer1.0.relu_1", "layer2", "flatten", "fc", "x"])
    out = fe(x)
    assert list(out) == ["x", "layer1.0.add", "layer1.0.relu_1", "layer2", "flatten", "fc"]
    seen = {}
    hooks = [
        net.maxpool.register_forward_hook(lambda m, a, o: seen.__setitem__("maxpool", o)),
        net.layer1[0].bn2.register_forward_hook(lambda m, a, o: seen.__setitem__("bn2", o)),
        net.layer2.register_forward_hook(lambda m, a, o: seen.__setitem__("layer2", o)),
        net.avgpool.register_forward_hook(lambda m, a, o: seen.__setitem__("avgpool", o)),
    ]
    try:
        logits = net(x)
    finally:
        for h in hooks:
            h.remove()
    add = seen["bn2"] + seen["maxpool"]
    # resnet's ReLU works in place, so (as in torchvision) the sum's value is the ReLU'd one
    np.testing.assert_allclose(_np(out["layer1.0.add"]), _np(add.relu()), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_np(out["layer1.0.relu_1"]), _np(add.relu()), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_np(out["layer2"]), _np(seen["layer2"]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        _np(out["flatten"]), _np(rustdl.flatten(seen["avgpool"], 1)), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(_np(out["fc"]), _np(logits), rtol=1e-12, atol=1e-12)
    assert out["x"] is x
    assert out["fc"].dtype == rustdl.float64


def test_add_before_an_out_of_place_relu_is_the_plain_sum(net):
    m = copy.deepcopy(net)
    for mod in m.modules():
        if isinstance(mod, nn.ReLU):
            mod.inplace = False
    x = _x()
    out = create_feature_extractor(m, ["layer1.0.bn2", "maxpool", "layer1.0.add", "layer1.0.relu_1"])(x)
    add = out["layer1.0.bn2"] + out["maxpool"]
    np.testing.assert_allclose(_np(out["layer1.0.add"]), _np(add), rtol=1e-12, atol=1e-12)
    assert (_np(out["layer1.0.add"]) < 0).any()
    np.testing.assert_allclose(_np(out["layer1.0.relu_1"]), _np(add.relu()), rtol=1e-12, atol=1e-12)


def test_output_names_from_a_dict_and_graph_order(net):
    fe = create_feature_extractor(net, {"layer3": "c4", "layer1": "c2"})
    out = fe(_x())
    # in the order the nodes run, whatever the order of the request
    assert list(out) == ["c2", "c4"]
    assert out["c2"].shape == (2, 64, 8, 8) and out["c4"].shape == (2, 256, 2, 2)


def test_unneeded_code_and_submodules_are_dropped(net):
    fe = create_feature_extractor(net, ["layer2"])
    want = {k for k in net.state_dict() if k.split(".")[0] in ("conv1", "bn1", "layer1", "layer2")}
    assert set(fe.state_dict()) == want
    assert not hasattr(fe, "layer3") and not hasattr(fe, "fc")
    assert isinstance(fe, DualGraphModule) and isinstance(fe, fx.GraphModule)
    assert isinstance(fe.graph, fx.Graph) and "layer3" not in fe.code
    assert [n.op for n in fe.graph.nodes].count("output") == 1
    # shared with the model, not copied
    assert fe.conv1.weight is net.conv1.weight


def test_prefix_requests_take_the_last_node_inside(net):
    x = _x()
    fe = create_feature_extractor(net, ["layer1", "layer1.0", "layer4.1.relu_1"])
    ref = create_feature_extractor(net, ["layer1.1.relu_1", "layer1.0.relu_1", "layer4"])
    a, b = fe(x), ref(x)
    np.testing.assert_array_equal(_np(a["layer1"]), _np(b["layer1.1.relu_1"]))
    np.testing.assert_array_equal(_np(a["layer1.0"]), _np(b["layer1.0.relu_1"]))
    np.testing.assert_array_equal(_np(a["layer4.1.relu_1"]), _np(b["layer4"]))
    # a prefix counts only up to a '.'
    with pytest.raises(ValueError, match="'lay' is not present in model"):
        create_feature_extractor(net, ["lay"])
    with pytest.raises(ValueError, match="'layer1.0.relu_2' is not present in model"):
        create_feature_extractor(net, ["layer1.0.relu_2"])


def test_unknown_nodes_and_bad_arguments_are_value_errors(net):
    with pytest.raises(ValueError, match="get_graph_node_names") as info:
        create_feature_extractor(net, {"layer9": "out"})
    assert "layer1.0.add" in str(info.value)  # the message lists the node names
    with pytest.raises(ValueError, match="should be specified"):
        create_feature_extractor(net)
    with pytest.raises(ValueError, match="both should be specified"):
        create_feature_extractor(net, train_return_nodes=["layer1"])
    with pytest.raises(ValueError):
        create_feature_extractor(
            net, return_nodes=["layer1"], train_return_nodes=["layer1"], eval_return_nodes=["layer1"]
        )


def test_train_and_eval_graphs_switch_with_the_mode():
    rustdl.manual_seed(0)
    m = resnet18(num_classes=10).double().train()
    fe = create_feature_extractor(m, train_return_nodes=["layer1", "fc"], eval_return_nodes=["layer2"])
    assert fe.training and m.training
    assert fe.graph is fe.train_graph
    x = _x()
    assert list(fe(x)) == ["layer1", "fc"]
    # the modules of both graphs are kept
    assert hasattr(fe, "fc") and hasattr(fe, "layer2")
    fe.eval()
    assert not fe.training and fe.graph is fe.eval_graph and not fe.get_submodule("layer1.0.bn1").training
    out = fe(x)
    assert list(out) == ["layer2"]
    m.eval()
    seen = {}
    h = m.layer2.register_forward_hook(lambda mod, a, o: seen.__setitem__("l2", o))
    m(x)
    h.remove()
    np.testing.assert_allclose(_np(out["layer2"]), _np(seen["l2"]), rtol=1e-12, atol=1e-12)
    fe.train()
    assert fe.graph is fe.train_graph and list(fe(x)) == ["layer1", "fc"]
    # an eval-mode model gives an eval-mode extractor, and stays in eval mode
    fe2 = create_feature_extractor(m, ["layer1"])
    assert not fe2.training and not m.training and fe2.graph is fe2.eval_graph


def test_train_mode_output_uses_batch_statistics():
    rustdl.manual_seed(0)
    m = resnet18(num_classes=10).double()
    fe = create_feature_extractor(copy.deepcopy(m).train(), ["layer1.0.bn1"])
    x = _x()
    seen = {}
    h = m.layer1[0].bn1.register_forward_hook(lambda mod, a, o: seen.__setitem__("bn", o.clone()))
    m.train()(x)
    h.remove()
    np.testing.assert_allclose(_np(fe(x)["layer1.0.bn1"]), _np(seen["bn"]), rtol=1e-10, atol=1e-10)


def test_mode_dependent_graphs_warn_unless_suppressed():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            x = self.lin(x)
            if self.training:
                x = x * 2
            return x.relu()

    with pytest.warns(UserWarning, match="eval mode are a subsequence"):
        train, eval_ = get_graph_node_names(Net())
    assert train == ["x", "lin", "mul", "relu"] and eval_ == ["x", "lin", "relu"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_graph_node_names(Net(), suppress_diff_warning=True)
        create_feature_extractor(
            Net(), train_return_nodes=["mul"], eval_return_nodes=["lin"], suppress_diff_warning=True
        )


def leaf_function(x):
    # not traceable: control flow on a value
    return x if int(x.shape[0]) > 0 else -x


class NotTraceable(nn.Module):
    def forward(self, x):
        if int(x.shape[0]) > 0:
            return x + 4
        return x


class WithLeaves(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)
        self.leaf = NotTraceable()

    def forward(self, x):
        x = leaf_function(self.conv(x))
        return self.leaf(x) * 2


def test_leaf_modules_and_autowrap_functions_from_tracer_kwargs():
    m = WithLeaves()
    with pytest.raises(Exception):  # noqa: B017 (whichever error tracing int() gives)
        get_graph_node_names(m)
    kwargs = {"leaf_modules": [NotTraceable], "autowrap_functions": [leaf_function]}
    train, _ = get_graph_node_names(m, tracer_kwargs=dict(kwargs))
    assert train == ["x", "conv", "leaf_function", "leaf", "mul"]
    fe = create_feature_extractor(m, ["leaf", "leaf_function"], tracer_kwargs=dict(kwargs))
    x = rustdl.randn(1, 3, 4, 4)
    out = fe(x)
    np.testing.assert_allclose(_np(out["leaf_function"]), _np(m.conv(x)), rtol=1e-6)
    np.testing.assert_allclose(_np(out["leaf"]), _np(m.conv(x) + 4), rtol=1e-6)


def test_concrete_args_are_passed_to_the_tracer():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x, scale=None):
            y = self.lin(x)
            if scale is not None:
                y = y * scale
            return y.sigmoid()

    names, _ = get_graph_node_names(Net(), concrete_args={"scale": None})
    assert "lin" in names and "sigmoid" in names and "mul" not in names
    fe = create_feature_extractor(Net(), ["lin"], concrete_args={"scale": None})
    assert list(fe(rustdl.randn(2, 3))) == ["lin"]


def test_torchvision_ops_modules_are_leaves():
    m = mobilenet_v2(num_classes=10).eval()
    names, _ = get_graph_node_names(m)
    # Conv2dNormActivation is one node, as torchvision's ops modules
    assert names[:3] == ["x", "features.0", "features.1.conv.0"]
    assert "features.0.0" not in names and "features.3.add" in names
    assert names[-4:] == ["adaptive_avg_pool2d", "flatten", "classifier.0", "classifier.1"]


def test_deepcopy_keeps_both_graphs(net):
    fe = create_feature_extractor(net, train_return_nodes=["layer1"], eval_return_nodes=["layer2"])
    fe.eval()
    dup = copy.deepcopy(fe)
    assert isinstance(dup, DualGraphModule) and not dup.training
    assert dup.conv1.weight is not fe.conv1.weight
    x = _x()
    np.testing.assert_array_equal(_np(dup(x)["layer2"]), _np(fe(x)["layer2"]))
    dup.train()
    assert list(dup(x)) == ["layer1"]


class TopLevel(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x):
        # names of the torchvision.ops namespace seen by the traced forward stay themselves
        assert isinstance(Tensor, type)
        if isinstance(x, (list, tuple)):
            x = x[0]
        y = self.a(x).relu()
        z = self.b(y).relu() + y
        return z.relu()


def test_top_level_repeats_and_the_globals_of_the_traced_forward():
    m = TopLevel()
    names, _ = get_graph_node_names(m)
    assert names == ["x", "a", "relu", "b", "relu_1", "add", "relu_2"]
    x = rustdl.randn(3, 4)
    out = create_feature_extractor(m, ["relu_1", "add"])(x)
    y = m.a(x).relu()
    np.testing.assert_allclose(_np(out["relu_1"]), _np(m.b(y).relu()), rtol=1e-6)
    np.testing.assert_allclose(_np(out["add"]), _np(m.b(y).relu() + y), rtol=1e-6)
