"""Module semantics: registration, names, traversal, state dicts, modes, devices, printing."""

import math

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from rustdl import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
        self.scale = nn.Parameter(rustdl.ones(1))
        self.register_buffer("steps", rustdl.zeros(1))
        self.register_buffer("cache", rustdl.zeros(2), persistent=False)
        self.note = "plain attribute"

    def forward(self, x):
        return self.head(self.body(x)) * self.scale


def test_parameter_names_follow_pytorch():
    names = [n for n, _ in Net().named_parameters()]
    assert names == [
        "scale",
        "body.0.weight",
        "body.0.bias",
        "body.1.weight",
        "body.1.bias",
        "head.0.weight",
        "head.0.bias",
        "head.2.weight",
        "head.2.bias",
    ]


def test_buffers_and_state_dict_keys():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == [
        "steps",
        "cache",
        "body.1.running_mean",
        "body.1.running_var",
        "body.1.num_batches_tracked",
    ]
    keys = list(net.state_dict())
    assert keys == [
        "scale",
        "steps",
        "body.0.weight",
        "body.0.bias",
        "body.1.weight",
        "body.1.bias",
        "body.1.running_mean",
        "body.1.running_var",
        "body.1.num_batches_tracked",
        "head.0.weight",
        "head.0.bias",
        "head.2.weight",
        "head.2.bias",
    ]
    assert "cache" not in keys  # non-persistent
    assert len(list(net.parameters())) == 9
    assert len(list(net.buffers())) == 5


def test_attribute_registration_rules():
    net = Net()
    assert net.note == "plain attribute"
    assert "note" not in dict(net.named_parameters())
    with pytest.raises(TypeError, match="parameter 'scale'"):
        net.scale = rustdl.ones(1)  # a plain tensor cannot replace a parameter
    net.steps = rustdl.ones(1)  # a buffer can be reassigned with a tensor
    assert_close(net.steps, [1.0])
    net.scale = None
    assert "scale" not in dict(net.named_parameters())
    del net.head
    assert not any(n.startswith("head") for n, _ in net.named_parameters())
    with pytest.raises(AttributeError):
        _ = net.head
    with pytest.raises(KeyError):
        net.register_buffer("a.b", rustdl.zeros(1))


def test_assign_before_init_is_an_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


def test_children_modules_named_modules():
    net = Net()
    assert [type(m).__name__ for m in net.children()] == ["Sequential", "Sequential"]
    names = [n for n, _ in net.named_modules()]
    assert names == ["", "body", "body.0", "body.1", "body.2", "head", "head.0", "head.1", "head.2"]
    assert len(list(net.modules())) == 9
    assert net.get_submodule("head.2") is net.head[2]


def test_shared_parameters_are_listed_once():
    fc = nn.Linear(3, 3)
    seq = nn.Sequential(fc, nn.ReLU(), fc)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_sequential_indexing_and_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Linear)
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2
    assert [n for n, _ in sub.named_parameters()] == ["2.weight", "2.bias"]
    with pytest.raises(IndexError):
        seq[3]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4
    x = rustdl.randn(5, 2)
    ref = seq[3](seq[2](seq[1](seq[0](x))))
    assert_close(seq(x), ref.detach().numpy())

    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 4))
    assert len(ml) == 4 and ml[-1].out_features == 4
    assert [n for n, _ in ml.named_parameters()][-2:] == ["3.weight", "3.bias"]
    ml.insert(0, nn.Identity())
    assert isinstance(ml[0], nn.Identity) and [n for n, _ in ml.named_parameters()][:2] == [
        "1.weight",
        "1.bias",
    ]

    md = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ReLU()})
    md["c"] = nn.Linear(2, 1)
    assert list(md.keys()) == ["a", "b", "c"] and "c" in md
    assert [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias", "c.weight", "c.bias"]
    md.pop("a")
    assert list(md) == ["b", "c"]


def test_train_eval_propagate():
    net = Net()
    assert net.training and net.body[1].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_state_dict_round_trip_gives_identical_outputs():
    a, b = Net(), Net()
    a.body[1].running_mean.fill_(0.5)
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    a.eval(), b.eval()
    x = rustdl.randn(6, 4)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())


def test_load_state_dict_reports_missing_unexpected_and_shapes():
    net = Net()
    sd = net.state_dict()
    del sd["head.2.bias"]
    sd["extra.weight"] = rustdl.zeros(1)
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(sd)
    msg = str(e.value)
    assert 'Missing key(s) in state_dict: "head.2.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["head.2.bias"] and res.unexpected_keys == ["extra.weight"]

    sd = net.state_dict()
    sd["head.2.weight"] = rustdl.zeros(3, 7)
    with pytest.raises(
        RuntimeError,
        match=r"size mismatch for head.2.weight: copying a param with shape torch.Size\(\[3, 7\]\)",
    ):
        net.load_state_dict(sd, strict=False)
    with pytest.raises(TypeError):
        net.load_state_dict([1, 2])


def test_load_state_dict_copies_in_place_without_aliasing():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    w = b.weight
    b.load_state_dict(a.state_dict())
    assert b.weight is w  # same Parameter object, new values
    with rustdl.no_grad():
        a.weight.fill_(7.0)
    assert not np.allclose(b.weight.detach().numpy(), 7.0)


def test_state_dict_shares_storage_and_is_detached():
    fc = nn.Linear(2, 2)
    sd = fc.state_dict()
    assert not sd["weight"].requires_grad
    with rustdl.no_grad():
        fc.weight.fill_(3.0)
    assert_close(sd["weight"], np.full((2, 2), 3.0))
    assert fc.state_dict(keep_vars=True)["weight"] is fc.weight


def test_zero_grad_and_requires_grad():
    fc = nn.Linear(3, 2)
    fc(rustdl.randn(4, 3)).sum().backward()
    assert fc.weight.grad is not None
    fc.zero_grad(set_to_none=False)
    assert_close(fc.weight.grad, np.zeros((2, 3)))
    fc.zero_grad()
    assert fc.weight.grad is None and fc.bias.grad is None
    fc.requires_grad_(False)
    assert not any(p.requires_grad for p in fc.parameters())


def test_apply_visits_children_first():
    seen = []
    net = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.ReLU()))
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]

    def init_zero(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    net.apply(init_zero)
    assert_close(net[0].weight, [[0.0]])


def test_to_dtype_casts_floating_tensors_only():
    bn = nn.BatchNorm1d(3)
    bn.to(rustdl.float64)
    assert bn.weight.dtype == rustdl.float64 and isinstance(bn.weight, nn.Parameter)
    assert bn.running_mean.dtype == rustdl.float64
    assert bn.num_batches_tracked.dtype == rustdl.int64
    assert bn.weight.requires_grad
    out = bn(rustdl.randn(4, 3, dtype=rustdl.float64))
    assert out.dtype == rustdl.float64
    bn.float()
    assert bn.weight.dtype == rustdl.float32
    with pytest.raises(TypeError):
        bn.to(rustdl.int64)


def test_to_device(device):
    net = Net().to(device)
    for t in list(net.parameters()) + list(net.buffers()):
        assert t.device.type == rustdl.device(device).type
    out = net(rustdl.randn(5, 4, device=device))
    assert out.device.type == rustdl.device(device).type
    net.to("cpu")
    assert all(p.device.type == "cpu" for p in net.parameters())


def test_to_same_device_keeps_parameter_objects():
    fc = nn.Linear(2, 2)
    w = fc.weight
    fc.to("cpu")
    fc.to(rustdl.float32)
    assert fc.weight is w


def test_repr_like_pytorch():
    net = nn.Sequential(
        nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Dropout(0.25))
    )
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "    (1): Dropout(p=0.25, inplace=False)\n"
        "  )\n"
        ")"
    )
    assert (
        repr(nn.BatchNorm2d(4))
        == "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    )
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"
    assert repr(nn.Parameter(rustdl.zeros(1))).startswith("Parameter containing:\ntensor(")


def test_parameter_shares_storage_and_requires_grad():
    t = rustdl.zeros(3)
    p = nn.Parameter(t)
    assert p.requires_grad and p.is_leaf and isinstance(p, rustdl.Tensor)
    with rustdl.no_grad():
        p.fill_(2.0)
    assert_close(t, [2.0, 2.0, 2.0])
    assert not nn.Parameter(rustdl.zeros(1), requires_grad=False).requires_grad
    with pytest.raises(TypeError):
        nn.Parameter([1.0, 2.0])


def test_forward_not_implemented():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(rustdl.zeros(1))


def test_default_init_bounds():
    fc = nn.Linear(64, 300)
    bound = 1 / math.sqrt(64)
    w = fc.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.mean()) < 0.01 and abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound * 3
    assert np.abs(fc.bias.detach().numpy()).max() <= bound
    conv = nn.Conv2d(4, 50, 3)
    cb = 1 / math.sqrt(4 * 9)
    cw = conv.weight.detach().numpy()
    assert np.abs(cw).max() <= cb and np.abs(cw).max() > 0.9 * cb
    tconv = nn.ConvTranspose2d(4, 6, 3)  # fan_in uses weight.shape[1] * k*k, as PyTorch
    tb = 1 / math.sqrt(6 * 9)
    assert np.abs(tconv.weight.detach().numpy()).max() <= tb
    emb = nn.Embedding(500, 20).weight.detach().numpy()
    assert abs(emb.std() - 1.0) < 0.05


def test_init_functions():
    w = rustdl.empty(200, 100)
    nn.init.xavier_uniform_(w, gain=2.0)
    a = 2.0 * math.sqrt(6 / 300)
    assert np.abs(w.numpy()).max() <= a and np.abs(w.numpy()).max() > 0.95 * a
    nn.init.xavier_normal_(w)
    assert abs(w.numpy().std() - math.sqrt(2 / 300)) < 0.005
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    b = math.sqrt(2) * math.sqrt(3 / 100)
    assert np.abs(w.numpy()).max() <= b and np.abs(w.numpy()).max() > 0.95 * b
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 200)) < 0.005
    nn.init.normal_(w, 3.0, 0.5)
    assert abs(w.numpy().mean() - 3.0) < 0.01 and abs(w.numpy().std() - 0.5) < 0.01
    nn.init.uniform_(w, -2.0, -1.0)
    assert w.numpy().min() >= -2.0 and w.numpy().max() <= -1.0
    nn.init.constant_(w, 0.25)
    assert (w.numpy() == 0.25).all()
    nn.init.ones_(w)
    assert (w.numpy() == 1).all()
    nn.init.zeros_(w)
    assert (w.numpy() == 0).all()
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError):
        nn.init.xavier_uniform_(rustdl.empty(3))
    with pytest.raises(ValueError):
        nn.init.kaiming_uniform_(w, mode="fan_sideways")
    p = nn.Parameter(rustdl.zeros(3, 3))
    nn.init.normal_(p)  # works on a leaf that requires grad
    assert p.requires_grad and p.grad_fn is None


def test_clip_grad_norm_returns_total_norm_and_scales(device):
    a = nn.Parameter(rustdl.zeros(3, device=device))
    b = nn.Parameter(rustdl.zeros(2, device=device))
    ga, gb = np.array([3.0, 0.0, 4.0]), np.array([12.0, 0.0])
    a.grad = rustdl.tensor(ga, dtype=rustdl.float32, device=device)
    b.grad = rustdl.tensor(gb, dtype=rustdl.float32, device=device)
    total = nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert float(total.item()) == pytest.approx(13.0, rel=1e-6)
    coef = 1.0 / (13.0 + 1e-6)
    assert_close(a.grad, ga * coef, rtol=1e-5)
    assert_close(b.grad, gb * coef, rtol=1e-5)
    # below the threshold nothing changes
    total = nn.utils.clip_grad_norm_([a, b], max_norm=10.0)
    assert float(total.item()) == pytest.approx(1.0, rel=1e-5)
    assert_close(a.grad, ga * coef, rtol=1e-5)
    a.grad = rustdl.tensor([1.0, -5.0, 2.0], device=device)
    total = nn.utils.clip_grad_norm_(a, max_norm=2.5, norm_type=float("inf"))
    assert float(total.item()) == pytest.approx(5.0)
    assert_close(a.grad, np.array([1.0, -5.0, 2.0]) * 2.5 / (5.0 + 1e-6), rtol=1e-5)


def test_clip_grad_norm_nonfinite():
    a = nn.Parameter(rustdl.zeros(2))
    a.grad = rustdl.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([a], 1.0, error_if_nonfinite=True)


def test_clip_grad_value_and_vectors(device):
    fc = nn.Linear(3, 2).to(device)
    fc.weight.grad = rustdl.tensor([[5.0, -5.0, 0.1], [0.2, 2.0, -0.3]], device=device)
    nn.utils.clip_grad_value_(fc.parameters(), 1.0)
    assert_close(fc.weight.grad, [[1.0, -1.0, 0.1], [0.2, 1.0, -0.3]])
    vec = nn.utils.parameters_to_vector(fc.parameters())
    expect = np.concatenate([fc.weight.detach().cpu().numpy().ravel(), fc.bias.detach().cpu().numpy()])
    assert vec.shape == (8,)
    assert_close(vec, expect)
    nn.utils.vector_to_parameters(rustdl.arange(8, dtype=rustdl.float32, device=device), fc.parameters())
    assert_close(fc.bias, [6.0, 7.0])
    with pytest.raises(ValueError):
        nn.utils.vector_to_parameters(rustdl.zeros(5, device=device), fc.parameters())


def test_deepcopy_gives_independent_equal_module():
    import copy

    net = Net()
    net.body[1].running_mean.fill_(0.25)
    twin = copy.deepcopy(net)
    assert list(twin.state_dict()) == list(net.state_dict())
    for (n, a), b in zip(net.state_dict().items(), twin.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=n)
    assert twin.body[0].weight is not net.body[0].weight and isinstance(twin.body[0].weight, nn.Parameter)
    assert twin.body[0].weight.requires_grad
    with rustdl.no_grad():
        twin.body[0].weight.fill_(0.0)
    twin.body[1].running_mean.fill_(9.0)
    assert not (net.body[0].weight.detach().numpy() == 0).all()
    assert_close(net.body[1].running_mean, np.full(8, 0.25))
    shared = nn.Linear(2, 2)
    seq = copy.deepcopy(nn.Sequential(shared, shared))
    assert seq[0] is seq[1]  # sharing is preserved
