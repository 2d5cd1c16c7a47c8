"""Module paths and functions real PyTorch programs import that rustdl lacked (session of
2026-12-05 night): ``torch.nn.grad``, ``torch.functional``, ``torch.nn.common_types``,
``torch.utils._pytree``, DLPack exchange, ``torch.lstm_cell`` and friends, ``LazyModuleMixin``."""

import collections
import json

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from conftest import run_compat
from rustdl import nn
from rustdl.nn import grad as nn_grad
from rustdl.utils import _pytree as pytree

# ------------------------------------------------------------------------------------------
# torch.nn.grad: a convolution is linear in each operand, so its input and weight gradients
# are the adjoints: <conv(x, w), g> = <x, conv_input(g)> = <w, conv_weight(g)>
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rank,x_shape,w_shape,kw",
    [
        (1, (3, 2, 11), (4, 2, 3), {"dilation": 2}),
        (2, (2, 4, 9, 8), (6, 2, 3, 3), {"stride": 2, "padding": 1, "groups": 2}),
        (2, (1, 3, 7, 7), (5, 3, 2, 3), {"stride": (2, 1), "padding": (0, 1)}),
        (3, (1, 2, 4, 5, 4), (3, 2, 2, 2, 2), {}),
    ],
)
def test_conv_input_and_weight_gradients_are_the_adjoints(rank, x_shape, w_shape, kw):
    rs = np.random.RandomState(rank)
    x = rustdl.tensor(rs.randn(*x_shape))
    w = rustdl.tensor(rs.randn(*w_shape))
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[rank]
    out = conv(x, w, **kw)
    g = rustdl.tensor(rs.randn(*out.shape))
    gi = getattr(nn_grad, f"conv{rank}d_input")(x.shape, w, g, **kw)
    gw = getattr(nn_grad, f"conv{rank}d_weight")(x, w.shape, g, **kw)
    assert gi.shape == x_shape and gw.shape == w_shape
    lhs = float((out * g).sum())
    assert float((x * gi).sum()) == pytest.approx(lhs, rel=1e-10)
    assert float((w * gw).sum()) == pytest.approx(lhs, rel=1e-10)
    # and each is the gradient: a perturbation of x along gi changes <conv, g> by |gi|^2 * eps
    eps = 1e-6
    moved = float((conv(x + eps * gi, w, **kw) * g).sum())
    assert (moved - lhs) / eps == pytest.approx(float((gi * gi).sum()), rel=1e-6)


def test_conv_grad_functions_name_the_op_on_bad_shapes():
    w = rustdl.randn(4, 2, 3, 3)
    with pytest.raises(ValueError, match="conv2d_input"):
        nn_grad.conv2d_input((1, 2, 8), w, rustdl.randn(1, 4, 6, 6))
    with pytest.raises(ValueError, match="conv2d_weight.*grad_output"):
        nn_grad.conv2d_weight(rustdl.randn(1, 2, 8, 8), w.shape, rustdl.randn(1, 4, 5, 5))


# ------------------------------------------------------------------------------------------
# torch.lstm_cell / gru_cell / rnn_tanh_cell / rnn_relu_cell against numpy
# ------------------------------------------------------------------------------------------


def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def test_cell_functions_match_numpy_and_the_cell_modules():
    rs = np.random.RandomState(3)
    x, h, c = rs.randn(3, 4), rs.randn(3, 5), rs.randn(3, 5)
    for name, gates in (("lstm", 4), ("gru", 3), ("rnn_tanh", 1), ("rnn_relu", 1)):
        w_ih, w_hh = rs.randn(gates * 5, 4), rs.randn(gates * 5, 5)
        b_ih, b_hh = rs.randn(gates * 5), rs.randn(gates * 5)
        gx, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        if name == "lstm":
            i, f, g, o = np.split(gx + gh, 4, axis=1)
            c2 = _sig(f) * c + _sig(i) * np.tanh(g)
            want = (_sig(o) * np.tanh(c2), c2)
        elif name == "gru":
            r = _sig(gx[:, :5] + gh[:, :5])
            z = _sig(gx[:, 5:10] + gh[:, 5:10])
            n = np.tanh(gx[:, 10:] + r * gh[:, 10:])
            want = ((1 - z) * n + z * h,)
        else:
            want = (np.tanh(gx + gh) if name == "rnn_tanh" else np.maximum(gx + gh, 0),)
        T = rustdl.tensor
        hx = (T(h), T(c)) if name == "lstm" else T(h)
        got = getattr(rustdl, f"{name}_cell")(T(x), hx, T(w_ih), T(w_hh), T(b_ih), T(b_hh))
        got = got if isinstance(got, tuple) else (got,)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a.numpy(), b, rtol=1e-12, atol=1e-12)


def test_cell_functions_differentiate_and_refuse_bad_shapes():
    w_ih = rustdl.randn(20, 4, dtype=rustdl.float64, requires_grad=True)
    w_hh = rustdl.randn(20, 5, dtype=rustdl.float64)
    x = rustdl.randn(3, 4, dtype=rustdl.float64)
    hc = (rustdl.zeros(3, 5, dtype=rustdl.float64), rustdl.zeros(3, 5, dtype=rustdl.float64))
    h, c = rustdl.lstm_cell(x, hc, w_ih, w_hh)
    (h.sum() + c.sum()).backward()
    assert w_ih.grad is not None and w_ih.grad.shape == (20, 4)
    with pytest.raises(rustdl.ShapeError, match="gru_cell"):
        rustdl.gru_cell(x, hc[0], rustdl.randn(6, 4), rustdl.randn(15, 5))
    with pytest.raises(TypeError, match="lstm_cell"):
        rustdl.lstm_cell(x, hc[0], w_ih, w_hh)


# ------------------------------------------------------------------------------------------
# DLPack
# ------------------------------------------------------------------------------------------


def test_dlpack_shares_cpu_memory_both_ways():
    t = rustdl.arange(6.0).reshape(2, 3)
    a = np.from_dlpack(t)
    a[0, 0] = 9.0
    assert t[0, 0].item() == 9.0  # numpy wrote into the tensor's memory
    np.testing.assert_array_equal(np.from_dlpack(t[:, 1]), [1.0, 4.0])
    x = np.zeros(3, dtype=np.int64)
    y = rustdl.from_dlpack(x)
    assert y.dtype == rustdl.int64
    y += 2
    np.testing.assert_array_equal(x, [2, 2, 2])
    # the narrow integer dtypes are stored widened, so they come in as a copy of their values
    narrow = rustdl.from_dlpack(np.arange(3, dtype=np.int32))
    assert narrow.dtype == rustdl.int32 and narrow.tolist() == [0, 1, 2]
    from rustdl.utils.dlpack import from_dlpack, to_dlpack

    back = from_dlpack(to_dlpack(rustdl.ones(3, dtype=rustdl.float64)))
    assert back.dtype == rustdl.float64 and back.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(BufferError, match="requires grad"):
        np.from_dlpack(rustdl.ones(2, requires_grad=True))


def test_dlpack_refuses_gpu_tensors_with_a_clear_error(gpu):
    with pytest.raises(BufferError, match=r"\.cpu\(\)"):
        np.from_dlpack(rustdl.ones(2, device="gpu"))


# ------------------------------------------------------------------------------------------
# torch.utils._pytree
# ------------------------------------------------------------------------------------------


def test_pytree_flattens_and_rebuilds_containers():
    NT = collections.namedtuple("NT", "x y")
    tree = [1, (2, None), {"b": 3, "a": NT(4, [5])}, collections.OrderedDict(z=6)]
    leaves, spec = pytree.tree_flatten(tree)
    assert leaves == [1, 2, None, 3, 4, 5, 6] and spec.num_leaves == 7
    doubled = pytree.tree_unflatten([v if v is None else 2 * v for v in leaves], spec)
    assert doubled == [2, (4, None), {"b": 6, "a": NT(8, [10])}, collections.OrderedDict(z=12)]
    assert isinstance(doubled[2]["a"], NT) and isinstance(doubled[3], collections.OrderedDict)
    assert pytree.tree_map(lambda p, q: p + q, [1, (2,)], [10, (20,)]) == [11, (22,)]
    dd = pytree.tree_map(lambda v: v * 3, collections.defaultdict(list, a=[1]))
    assert isinstance(dd, collections.defaultdict) and dd.default_factory is list and dd["a"] == [3]
    t = rustdl.ones(2)
    out = pytree.tree_map_only(rustdl.Tensor, lambda v: v * 2, {"t": t, "n": 3})
    assert out["n"] == 3 and out["t"].tolist() == [2.0, 2.0]
    assert pytree.tree_structure((1, 2)) == pytree.tree_structure((3, 4))
    assert pytree.tree_structure((1, 2)) != pytree.tree_structure([3, 4])
    assert pytree.tree_any(lambda v: v > 2, [1, [3]]) and not pytree.tree_all(lambda v: v > 2, [1, [3]])
    with pytest.raises(ValueError, match="length 1"):
        pytree.tree_unflatten([1], spec)


def test_pytree_registered_nodes():
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

    pytree.register_pytree_node(Pair, lambda p: ([p.a, p.b], None), lambda v, c: Pair(*v))
    try:
        out = pytree.tree_map(lambda v: v + 1, {"p": Pair(1, [2])})
        assert isinstance(out["p"], Pair) and out["p"].a == 2 and out["p"].b == [3]
        with pytest.raises(ValueError, match="already registered"):
            pytree.register_pytree_node(Pair, lambda p: ([], None), lambda v, c: None)
    finally:
        del pytree.SUPPORTED_NODES[Pair]


# ------------------------------------------------------------------------------------------
# LazyModuleMixin
# ------------------------------------------------------------------------------------------


def test_lazy_module_mixin_materialises_on_the_first_call():
    from rustdl.nn.modules.lazy import LazyModuleMixin
    from rustdl.nn.parameter import Parameter, UninitializedParameter

    class LazyScale(LazyModuleMixin, nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = UninitializedParameter()

        def initialize_parameters(self, x):
            if self.has_uninitialized_params():
                with rustdl.no_grad():
                    self.weight.materialize((x.shape[-1],))
                    self.weight.fill_(2.0)

        def forward(self, x):
            return x * self.weight

    m = LazyScale()
    assert m.has_uninitialized_params()
    y = m(rustdl.ones(2, 3))
    assert y.tolist() == [[2.0] * 3] * 2
    assert type(m.weight) is Parameter and not m.has_uninitialized_params()
    opt = rustdl.optim.SGD(m.parameters(), lr=0.5)
    y.sum().backward()
    opt.step()
    assert m.weight.tolist() == [1.0, 1.0, 1.0]

    class Incomplete(LazyModuleMixin, nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = UninitializedParameter()

        def initialize_parameters(self, x):
            pass

    with pytest.raises(RuntimeError, match="not been fully initialized"):
        Incomplete()(rustdl.ones(2))


# ------------------------------------------------------------------------------------------
# the module paths through the compat runner
# ------------------------------------------------------------------------------------------


def test_module_paths_programs_import(tmp_path):
    src = """
import json
import torch
from torch.nn.common_types import _size_2_t
from torch.nn.grad import conv2d_weight
from torch.functional import einsum, split
from torch.nn.utils.clip_grad import clip_grad_norm_
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.modules.transformer import _get_activation_fn, _get_clones
from torch.utils._pytree import tree_map
from torch.utils import dlpack
from torch._C import _LinAlgError
import torch.nn as nn

p = nn.Parameter(torch.full((3,), 4.0)); p.grad = torch.full((3,), 4.0)
norm = clip_grad_norm_([p], 1.0)
try:
    torch.linalg.cholesky(-torch.eye(2))
    caught = False
except _LinAlgError:
    caught = True
print(json.dumps({
    "einsum": einsum("i,i->", torch.ones(3), torch.ones(3)).item(),
    "split": [t.tolist() for t in split(torch.arange(4), 2)],
    "norm": round(norm.item(), 6), "clipped": round(p.grad.norm().item(), 6),
    "act": _get_activation_fn("gelu")(torch.zeros(1)).item(),
    "clones": len(_get_clones(nn.Linear(2, 2), 3)),
    "tree": tree_map(lambda v: v * 2, {"a": [1, 2]}),
    "dl": dlpack.from_dlpack(torch.arange(3)).tolist(),
    "lstm_cell": [tuple(t.shape) for t in torch.lstm_cell(
        torch.ones(2, 3), (torch.zeros(2, 4), torch.zeros(2, 4)),
        torch.ones(16, 3), torch.ones(16, 4))],
    "caught": caught,
}))
"""
    out = json.loads(run_compat(tmp_path, src).stdout.strip().splitlines()[-1])
    assert out == {
        "einsum": 3.0,
        "split": [[0, 1], [2, 3]],
        "norm": pytest.approx(np.sqrt(48.0), rel=1e-6),
        "clipped": pytest.approx(1.0, rel=1e-5),
        "act": 0.0,
        "clones": 3,
        "tree": {"a": [2, 4]},
        "dl": [0, 1, 2],
        "lstm_cell": [[2, 4], [2, 4]],
        "caught": True,
    }


# ------------------------------------------------------------------------------------------
# complex buffers (rotary position tables: LLaMA's freqs_cis is a complex buffer)
# ------------------------------------------------------------------------------------------


class _Rotary(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        angles = rustdl.outer(rustdl.arange(4.0), rustdl.tensor([1.0, 0.01]))
        self.register_buffer("freqs", rustdl.polar(rustdl.ones_like(angles), angles))
        self.register_buffer("scratch", rustdl.complex(rustdl.ones(2), rustdl.zeros(2)), persistent=False)


def _parts(z):
    return np.stack([z.real.numpy(), z.imag.numpy()])


def test_complex_buffers_save_load_and_move(tmp_path):
    m = _Rotary()
    angles = np.outer(np.arange(4.0), [1.0, 0.01])
    np.testing.assert_allclose(
        _parts(m.freqs), np.stack([np.cos(angles), np.sin(angles)]), rtol=1e-6, atol=1e-7
    )
    sd = m.state_dict()
    assert list(sd) == ["freqs", "lin.weight", "lin.bias"]  # the non-persistent one is left out
    rustdl.save(sd, tmp_path / "ck.pt")
    back = rustdl.load(tmp_path / "ck.pt")  # weights_only: a complex tensor is plain data
    assert back["freqs"].dtype == rustdl.complex64
    other = _Rotary()
    with rustdl.no_grad():
        other.freqs.mul_(0)
    other.load_state_dict(back)
    np.testing.assert_array_equal(_parts(other.freqs), _parts(m.freqs))
    with pytest.raises(RuntimeError, match="size mismatch for freqs"):
        other.load_state_dict({**back, "freqs": rustdl.polar(rustdl.ones(3), rustdl.ones(3))})
    m.double()  # casts floating tensors only, as PyTorch
    assert m.freqs.dtype == rustdl.complex64 and m.lin.weight.dtype == rustdl.float64
    m.float()
    assert m.freqs.dtype == rustdl.complex64
    with pytest.warns(UserWarning, match="imaginary part"):
        m.to(rustdl.float64)  # Module.to(dtype) casts complex buffers too, as PyTorch
    assert m.freqs.dtype == rustdl.float64
    with pytest.raises(TypeError, match="buffer 'bad'"):
        m.register_buffer("bad", [1, 2])


def test_complex_buffers_move_to_the_gpu(gpu):
    m = _Rotary().to(gpu)
    assert m.freqs.device.type == "gpu" and m.freqs.dtype == rustdl.complex64
    z = (m.freqs * m.freqs).cpu()
    want = _parts(_Rotary().freqs)
    np.testing.assert_allclose(_parts(z)[0], want[0] ** 2 - want[1] ** 2, atol=1e-6)


def test_complex_tensors_are_tensors_to_is_tensor_from_numpy_and_collate():
    from rustdl.data import DataLoader, default_collate

    a = np.array([[1 + 2j, 3j], [2, -1j]], dtype=np.complex64)
    t = rustdl.from_numpy(a)
    assert t.dtype == rustdl.complex64 and rustdl.is_tensor(t)
    np.testing.assert_array_equal(t.real.numpy() + 1j * t.imag.numpy(), a)
    assert rustdl.from_numpy(a.astype(np.complex128)).dtype == rustdl.complex128
    b = default_collate([a, 2 * a])
    assert b.dtype == rustdl.complex64 and b.shape == (2, 2, 2)
    np.testing.assert_array_equal(b.real.numpy() + 1j * b.imag.numpy(), np.stack([a, 2 * a]))
    zs = [rustdl.polar(rustdl.ones(3), rustdl.arange(3.0) * i) for i in range(4)]
    batch = next(iter(DataLoader(zs, batch_size=2)))
    assert batch.dtype == rustdl.complex64 and batch.shape == (2, 3)
    np.testing.assert_allclose(batch.imag.numpy()[1], np.sin(np.arange(3.0)), rtol=1e-6)


# ------------------------------------------------------------------------------------------
# a non-tensor where a tensor belongs: a TypeError naming the function (was an AttributeError)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: rustdl.var_mean([rustdl.ones(2)]), "var_mean"),
        (lambda: rustdl.abs(None), "abs"),
        (lambda: rustdl.where([]), "where"),
        (lambda: rustdl.atleast_1d(rustdl.ones(2), 1), "atleast_1d"),
        (lambda: rustdl.ones(2).addr(1, 2), "(Tensor\\.)?addr"),
        (lambda: rustdl.ones(2).fmax(None), "Tensor.fmax"),
        (lambda: rustdl.ones(2, 2).take_along_dim([1], 0), "Tensor.take_along_dim"),
        (lambda: rustdl.linalg.diagonal(None), "diagonal"),
        (lambda: rustdl.broadcast_tensors(rustdl.ones(2), 3), "broadcast_tensors"),
    ],
)
def test_a_non_tensor_argument_is_a_type_error_naming_the_function(call, name):
    with pytest.raises(TypeError, match=rf"^{name}\(\): argument"):
        call()


def test_zero_dim_random_draws_and_copy_variants_take_no_extra_argument():
    assert rustdl.poisson(rustdl.tensor(1.5)).shape == ()
    assert rustdl.binomial(rustdl.tensor(5.0), rustdl.tensor(0.5)).shape == ()
    with pytest.raises(TypeError, match="values_copy"):
        rustdl.values_copy(rustdl.ones(2), "abc")


# ------------------------------------------------------------------------------------------
# scatter_reduce / index_reduce with infinite values under autograd (a GAT edge softmax fills
# its segment maxima with -inf): values as without grad, gradients by the local derivatives
# ------------------------------------------------------------------------------------------


def test_scatter_reduce_keeps_infinities_when_differentiated(device):
    idx = rustdl.tensor([0, 0, 2], device=device)
    e = rustdl.tensor([1.0, 3.0, -1.0], device=device, requires_grad=True)
    out = rustdl.full((3,), float("-inf"), device=device).scatter_reduce(0, idx, e, reduce="amax")
    assert out.tolist() == [3.0, float("-inf"), -1.0]
    out.clamp(min=-5).sum().backward()
    assert e.grad.tolist() == [0.0, 1.0, 1.0]
    src = rustdl.tensor([1.0, float("-inf"), -1.0], device=device, requires_grad=True)
    out = rustdl.zeros(3, device=device).scatter_reduce(0, idx, src, "amax", include_self=False)
    assert out.tolist() == [1.0, 0.0, -1.0]
    out.sum().backward()
    assert src.grad.tolist() == [1.0, 0.0, 1.0]
    # +inf in self under sum/mean/amax: the scattered-to values stay finite where they are
    base = rustdl.tensor([float("inf"), 0.0, 2.0], device=device, requires_grad=True)
    s = rustdl.tensor([1.0, 2.0, 4.0], device=device, requires_grad=True)
    for reduce, want, g_base, g_src in [
        ("sum", [float("inf"), 0.0, 6.0], [1.0, 2.0, 3.0], [1.0, 1.0, 3.0]),
        ("mean", [float("inf"), 0.0, 3.0], [1 / 3, 2.0, 1.5], [1 / 3, 1 / 3, 1.5]),
        ("amax", [float("inf"), 0.0, 4.0], [1.0, 2.0, 0.0], [0.0, 0.0, 3.0]),
    ]:
        base.grad = s.grad = None
        out = base.scatter_reduce(0, idx, s, reduce)
        assert out.tolist() == want
        (out * rustdl.tensor([1.0, 2.0, 3.0], device=device)).sum().backward()
        np.testing.assert_allclose(base.grad.tolist(), g_base, rtol=1e-6)
        np.testing.assert_allclose(s.grad.tolist(), g_src, rtol=1e-6)
    x = rustdl.tensor([[1.0, 2.0], [3.0, float("inf")]], device=device, requires_grad=True)
    r = rustdl.zeros(2, 2, device=device).index_reduce(
        0, rustdl.tensor([1, 1], device=device), x, "amax", include_self=False
    )
    assert r.tolist() == [[0.0, 0.0], [3.0, float("inf")]]
    r.clamp(max=9).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0], [1.0, 0.0]]


def test_scatter_reduce_second_derivative():
    idx = rustdl.tensor([0, 0, 2])
    a = rustdl.tensor([1.0, 2.0, 3.0], dtype=rustdl.float64, requires_grad=True)
    o = rustdl.zeros(3, dtype=rustdl.float64).scatter_reduce(0, idx, a * a, "sum")
    (g,) = rustdl.autograd.grad(o.sum(), a, create_graph=True)
    (h,) = rustdl.autograd.grad(g.sum(), a)
    assert g.tolist() == [2.0, 4.0, 6.0] and h.tolist() == [2.0, 2.0, 2.0]


# ------------------------------------------------------------------------------------------
# samplers with an "infinite" epoch (makemore's InfiniteDataLoader: num_samples=int(1e10))
# ------------------------------------------------------------------------------------------


def test_samplers_draw_huge_epochs_lazily():
    from rustdl.data import DataLoader, RandomSampler, TensorDataset, WeightedRandomSampler

    ds = TensorDataset(rustdl.arange(100.0), rustdl.arange(100))
    sampler = RandomSampler(ds, replacement=True, num_samples=int(1e10))
    loader = DataLoader(ds, sampler=sampler, batch_size=4)
    assert len(loader) == 2_500_000_000
    it = iter(loader)
    for _ in range(3):
        x, y = next(it)
        assert x.shape == (4,) and (x.numpy() == y.numpy()).all()
    draws = iter(sampler)
    assert all(0 <= next(draws) < 100 for _ in range(1000))
    w = iter(WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=10**10, replacement=True))
    d = np.array([next(w) for _ in range(4000)])
    assert (d != 0).all() and 0.7 < (d == 2).mean() < 0.8


def test_batches_cross_the_samplers_draw_chunks(monkeypatch):
    from rustdl.data import DataLoader, RandomSampler, sampler

    monkeypatch.setattr(sampler, "_CHUNK", 5)  # batches of 3 over draws of 5: slices straddle chunks
    s = RandomSampler(range(10), replacement=True, num_samples=13, generator=0)
    loader = DataLoader(list(range(10)), batch_size=3, sampler=s)
    batches = [b.tolist() for b in loader]
    assert [len(b) for b in batches] == [3, 3, 3, 3, 1]
    assert all(0 <= v < 10 for b in batches for v in b)
    s = RandomSampler(range(10), replacement=True, num_samples=13, generator=0)
    assert sum(batches, []) == list(s)  # the same draws as iterating the sampler
    dropped = DataLoader(list(range(10)), batch_size=3, sampler=s, drop_last=True)
    assert [len(b) for b in dropped] == [3, 3, 3, 3]
    no_repl = RandomSampler(range(4), num_samples=10, generator=1)
    got = list(no_repl)
    assert len(got) == 10 and sorted(got[:4]) == [0, 1, 2, 3] and sorted(got[4:8]) == [0, 1, 2, 3]


def test_torchvision_models_namespace_lists_every_builder():
    # examples/imagenet picks its architecture from models.__dict__
    from rustdl.torchcompat.torchvision import models

    names = sorted(
        n for n in vars(models) if n.islower() and not n.startswith("__") and callable(vars(models)[n])
    )
    assert {"resnet18", "vgg11", "mobilenet_v2", "densenet121"} <= set(names)
    assert set(models.list_models()) <= set(names)
    net = vars(models)["resnet18"](num_classes=3)
    assert net(rustdl.randn(2, 3, 32, 32)).shape == (2, 3)


# ------------------------------------------------------------------------------------------
# smaller differences found by the program runs
# ------------------------------------------------------------------------------------------


def test_repeat_interleave_of_counts_alone_is_a_batch_vector():
    assert rustdl.repeat_interleave(rustdl.tensor([2, 1])).tolist() == [0, 0, 1]
    assert rustdl.repeat_interleave(rustdl.tensor([0, 3]), output_size=3).tolist() == [1, 1, 1]
    assert rustdl.repeat_interleave(rustdl.tensor([], dtype=rustdl.int64)).tolist() == []
    assert rustdl.repeat_interleave(rustdl.tensor([1, 2]), 2).tolist() == [1, 1, 2, 2]
    for bad in (rustdl.tensor([[1, 2]]), rustdl.tensor([1.0, 2.0]), rustdl.tensor([1, -2])):
        with pytest.raises(RuntimeError, match="repeat_interleave"):
            rustdl.repeat_interleave(bad)


def test_einsum_sublist_form_matches_the_equation_form():
    a, b = rustdl.randn(2, 3), rustdl.randn(3, 4)
    np.testing.assert_allclose(
        rustdl.einsum(a, [0, 1], b, [1, 2], [0, 2]).numpy(), (a @ b).numpy(), rtol=1e-6
    )
    np.testing.assert_allclose(rustdl.einsum(a, [0, 1], b, [1, 2]).numpy(), (a @ b).numpy(), rtol=1e-6)
    np.testing.assert_allclose(rustdl.einsum(a, [1, 0]).numpy(), a.numpy().T)
    x = rustdl.randn(2, 3, 4)
    np.testing.assert_allclose(rustdl.einsum(x, [..., 2], [...]).numpy(), x.numpy().sum(-1), rtol=1e-6)
    with pytest.raises(ValueError, match="sublist"):
        rustdl.einsum(a, [0, 60])


def test_lbfgs_line_search_spends_only_what_max_eval_leaves():
    def run(max_iter):
        x = rustdl.tensor([-1.5, 2.0], dtype=rustdl.float64, requires_grad=True)
        opt = rustdl.optim.LBFGS([x], lr=1, max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        return x.tolist(), opt.state[x]["func_evals"]

    # max_iter=1 gives max_eval=1: no evaluation is left for a search, so the step is 0 (as
    # PyTorch); with more the search moves downhill
    assert run(1) == ([-1.5, 2.0], 6)
    moved, evals = run(20)
    assert np.allclose(moved, [1.0, 1.0], atol=1e-4) and evals > 6


def test_optimizer_step_count_answers_as_a_0d_float_tensor():
    p = nn.Parameter(rustdl.ones(2))
    opt = rustdl.optim.Adam([p])
    p.grad = rustdl.ones(2)
    opt.step()
    opt.step()
    s = opt.state[p]["step"]
    assert (s.item(), s.dtype, s.shape, s.ndim, s.requires_grad) == (2.0, rustdl.float32, (), 0, False)
    assert s.device.type == "cpu" and s.is_floating_point() and repr(s) == "tensor(2.)"


def test_torchcompat_version_scaler_and_file(tmp_path):
    src = """
import json, os, warnings
import torch
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    scaler = torch.cuda.amp.GradScaler(enabled=True)
v = torch.__version__
print(json.dumps({
    "cmp": [v >= (2, 0), v >= "1.13", v < "3.0", v > (2, 5, 9), v < (2, 6, 1), isinstance(v, str)],
    "split": v.split("+")[0].count("."),
    "scaler": [scaler.is_enabled(), scaler.get_scale(), any("Disabling" in str(x.message) for x in w)],
    "cpu_scaler": torch.amp.GradScaler("cpu").is_enabled(),
    "file": os.path.isfile(torch.__file__),
}))
"""
    out = json.loads(
        run_compat(tmp_path, src, env={"RUSTDL_COMPAT_DEVICE": "cpu"}).stdout.strip().splitlines()[-1]
    )
    assert out == {
        "cmp": [True, True, True, True, True, True],
        "split": 2,
        "scaler": [False, 1.0, True],
        "cpu_scaler": True,
        "file": True,
    }


# ------------------------------------------------------------------------------------------
# TransformerEncoder: PyTorch's nested-tensor fast path returns zeros at padded positions
# ------------------------------------------------------------------------------------------


def test_transformer_encoder_zeroes_padded_positions_where_the_fast_path_would_run():
    rustdl.manual_seed(3)
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2).eval()
    plain = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    plain.load_state_dict(enc.state_dict())
    x = rustdl.randn(2, 5, 8)
    pad = rustdl.tensor([[False] * 5, [False] * 3 + [True] * 2])
    with rustdl.no_grad():
        fast, slow = enc(x, src_key_padding_mask=pad), plain(x, src_key_padding_mask=pad)
    keep = ~pad.numpy()
    np.testing.assert_allclose(fast.numpy()[keep], slow.numpy()[keep], rtol=1e-6)
    assert (fast.numpy()[~keep] == 0).all() and (slow.numpy()[~keep] != 0).any()
    # not where PyTorch keeps its regular path: gradients wanted, training, a padding that is
    # not at the end of a row, or an attention mask
    assert (enc(x, src_key_padding_mask=pad).detach().numpy()[~keep] != 0).any()
    with rustdl.no_grad():
        ragged = rustdl.tensor([[False] * 5, [True] + [False] * 4])
        assert (enc(x, src_key_padding_mask=ragged).numpy()[1, 0] != 0).any()
        masked = enc(x, mask=rustdl.zeros(5, 5, dtype=rustdl.bool), src_key_padding_mask=pad)
        assert (masked.numpy()[~keep] != 0).any()
        rustdl.backends.mha.set_fastpath_enabled(False)
        try:
            assert (enc(x, src_key_padding_mask=pad).numpy()[~keep] != 0).any()
        finally:
            rustdl.backends.mha.set_fastpath_enabled(True)
        enc.train()
        assert (enc(x, src_key_padding_mask=pad).numpy()[~keep] != 0).any()


def test_discrete_distributions_have_param_shape_as_a_torch_size(tmp_path):
    src = """
import json, torch
from torch.distributions import Bernoulli, Binomial, Categorical, ContinuousBernoulli, Multinomial
from torch.distributions import NegativeBinomial, OneHotCategorical
p = torch.tensor([[0.2, 0.8], [0.5, 0.5], [0.1, 0.9]])
ds = [Categorical(p), Bernoulli(p), OneHotCategorical(p), Binomial(3, p), Multinomial(3, p),
      NegativeBinomial(3, logits=p), ContinuousBernoulli(p)]
print(json.dumps([[type(d.param_shape).__name__, list(d.param_shape)] for d in ds]))
"""
    out = json.loads(run_compat(tmp_path, src).stdout.strip().splitlines()[-1])
    assert out == [["Size", [3, 2]]] * 7


def test_graph_nodes_are_classes_named_after_their_op():
    from rustdl.autograd.graph import Node

    x = rustdl.ones(2, requires_grad=True)
    y = (x * 2).exp().sum()
    fn = y.grad_fn
    assert type(fn).__name__ == "SumBackward0" == fn.name() and isinstance(fn, Node)
    ((exp_fn, _),) = fn.next_functions
    assert type(exp_fn).__name__ == "ExpBackward0"
    ((mul_fn, _),) = exp_fn.next_functions
    assert type(mul_fn).__name__ == "MulBackward0"
    assert type(mul_fn.next_functions[0][0]).__name__ == "AccumulateGrad"
    assert type((x * 3).grad_fn) is type(mul_fn)  # one class per op name
    # hooks and metadata still work on the renamed nodes
    seen = []
    fn.register_prehook(lambda g: seen.append(g[0].shape))
    y.backward()
    assert seen == [()] and x.grad.tolist() == pytest.approx([2 * np.exp(2.0)] * 2)


def test_a_tied_weight_is_saved_once_and_loads_back_shared(tmp_path):
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(50, 8)
            self.head = nn.Linear(8, 50, bias=False)
            self.head.weight = self.wte.weight

    m = Tied()
    rustdl.save({"model": m.state_dict(), "iter": 3}, tmp_path / "ck.pt")
    untied = {"model": {"a": rustdl.randn(50, 8), "b": rustdl.randn(50, 8)}}
    rustdl.save(untied, tmp_path / "two.pt")
    # one 50x8 matrix stored, not two
    assert (tmp_path / "ck.pt").stat().st_size < (tmp_path / "two.pt").stat().st_size - 50 * 8 * 4 // 2
    back = rustdl.load(tmp_path / "ck.pt")["model"]
    assert back["wte.weight"] is back["head.weight"]
    np.testing.assert_array_equal(back["head.weight"].numpy(), m.wte.weight.detach().numpy())
    other = Tied()
    other.load_state_dict(back)
    assert other.head.weight is other.wte.weight
    np.testing.assert_array_equal(other.head.weight.detach().numpy(), m.wte.weight.detach().numpy())
    # views of one storage with different layouts stay separate entries
    base = rustdl.arange(6.0).reshape(2, 3)
    rustdl.save({"x": base, "t": base.t(), "row": base[1]}, tmp_path / "views.pt")
    got = rustdl.load(tmp_path / "views.pt")
    assert got["t"].tolist() == base.t().tolist() and got["row"].tolist() == [3.0, 4.0, 5.0]


# ------------------------------------------------------------------------------------------
# torch.jit: a scripted/traced module keeps being the eager module, with the methods programs
# call on it (``torch.jit.script(model).save(path)``)
# ------------------------------------------------------------------------------------------


def test_scripted_and_traced_modules_save_and_stay_the_same_module(tmp_path):
    import copy

    from rustdl import jit

    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = rustdl.optim.SGD(m.parameters(), lr=0.1)
    x = rustdl.randn(5, 3)
    before = m(x).detach().numpy()
    keys = list(m.state_dict())
    s = jit.script(m)
    assert s is m and type(s).__name__ == "Sequential" and isinstance(s, nn.Sequential)
    assert isinstance(s, jit.ScriptModule) and not isinstance(nn.Linear(2, 2), jit.ScriptModule)
    assert list(s.state_dict()) == keys and isinstance(s.code, str)
    np.testing.assert_array_equal(s(x).detach().numpy(), before)
    s.save(str(tmp_path / "m.pt"))
    loaded = jit.load(str(tmp_path / "m.pt"))
    np.testing.assert_allclose(loaded(x).detach().numpy(), before, rtol=1e-6)
    assert isinstance(loaded, jit.ScriptModule)
    twin = copy.deepcopy(s)
    np.testing.assert_allclose(twin(x).detach().numpy(), before, rtol=1e-6)
    # the optimizer built before scripting still trains the same parameters
    s(x).sum().backward()
    opt.step()
    assert not np.allclose(m(x).detach().numpy(), before)
    assert (twin(x).detach().numpy() == before).all()
    t = jit.trace(nn.Linear(3, 1), x)
    t.save(str(tmp_path / "t.pt"))
    np.testing.assert_allclose(jit.load(str(tmp_path / "t.pt"))(x).detach().numpy(), t(x).detach().numpy())

    class C(jit.ScriptModule):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 1)

        @jit.script_method
        def forward(self, x):
            return self.lin(x)

    c = C()
    assert c(x).shape == (5, 1) and isinstance(c, C) and not isinstance(m, C)
    assert jit.wait(jit.fork(lambda a: a * 2, 3)) == 6 and jit.freeze(m) is m


def test_compiled_module_is_pytorchs_wrapper():
    m = nn.Linear(2, 2)
    c = rustdl.compile(m)
    assert c is not m and c._orig_mod is m  # `model._orig_mod.state_dict()`, as PyTorch's wrapper
    # the wrapper's state dict keys carry the prefix PyTorch's do; attributes read through
    assert list(c.state_dict()) == ["_orig_mod.weight", "_orig_mod.bias"] and len(list(c.modules())) == 2
    assert c.weight is m.weight and c.in_features == 2
    c2 = rustdl.compile(nn.Linear(2, 2))
    c2.load_state_dict(c.state_dict())
    assert rustdl.equal(c2._orig_mod.weight, m.weight)
    c.eval()
    assert not m.training


# ------------------------------------------------------------------------------------------
# a DDP script written for gloo/nccl runs as a single process (torchrun --nproc_per_node=1)
# ------------------------------------------------------------------------------------------


def test_a_gloo_ddp_script_runs_as_one_process(tmp_path):
    src = """
import json, os
import torch, torch.nn as nn, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
os.environ.setdefault("MASTER_ADDR", "127.0.0.1"); os.environ.setdefault("MASTER_PORT", "29533")
dist.init_process_group("gloo", rank=0, world_size=1)
model = nn.Linear(3, 1)
with torch.no_grad():
    model.weight.fill_(0.5); model.bias.fill_(0.0)
ddp = DDP(model)
loss = (ddp(torch.ones(2, 3)) ** 2).mean()
loss.backward()
t = torch.tensor([loss.item()]); dist.all_reduce(t)
out = {"backend": dist.get_backend(), "rank": dist.get_rank(), "size": dist.get_world_size(),
       "loss": t.item(), "grad": model.weight.grad.tolist()}
dist.destroy_process_group()
print(json.dumps(out))
"""
    out = json.loads(run_compat(tmp_path, src).stdout.strip().splitlines()[-1])
    # loss = mean((0.5 * 3)^2) = 2.25, d/dw = 2 * 1.5 * 1 = 3 per weight
    assert out == {"backend": "gloo", "rank": 0, "size": 1, "loss": 2.25, "grad": [[3.0, 3.0, 3.0]]}


def test_a_multi_process_launch_without_mpi_is_refused_clearly(tmp_path):
    src = """
import torch.distributed as dist
dist.init_process_group("nccl")
"""
    proc = run_compat(tmp_path, src, env={"WORLD_SIZE": "2", "RANK": "0"}, check=False)
    assert proc.returncode != 0 and "mpiexec" in proc.stderr and "WORLD_SIZE=2" in proc.stderr


def test_cuda_memory_rng_and_nvtx_helpers(tmp_path):
    src = """
import json, torch
import torch.cuda.nvtx as nvtx
depth = torch.cuda.nvtx.range_push("fwd"); torch.cuda.nvtx.range_pop()
with nvtx.range("step {}", 3):
    pass
st = torch.cuda.get_rng_state(); a = torch.randn(3); torch.cuda.set_rng_state(st); b = torch.randn(3)
stats = torch.cuda.memory_stats()
print(json.dumps({"depth": depth, "rng": torch.equal(a, b), "keys": "allocated_bytes.all.current" in stats,
                  "summary": isinstance(torch.cuda.memory_summary(), str), "arch": torch.cuda.get_arch_list(),
                  "cached": torch.cuda.memory_cached() >= 0}))
"""
    out = json.loads(
        run_compat(tmp_path, src, env={"RUSTDL_COMPAT_DEVICE": "cpu"}).stdout.strip().splitlines()[-1]
    )
    assert out == {"depth": 0, "rng": True, "keys": True, "summary": True, "arch": [], "cached": True}
    with pytest.raises(ValueError, match="fraction"):
        rustdl.cuda.set_per_process_memory_fraction(1.5)


# ------------------------------------------------------------------------------------------
# piecewise activations at NaN, ±inf and their breakpoints: PyTorch's branch rules
# (a NaN fails every comparison, so it takes the branch the rule's `else` names)
# ------------------------------------------------------------------------------------------

_NAN, _INF = float("nan"), float("inf")
_PTS = [-3.0, 3.0, -_INF, _INF, _NAN, -1.0, 0.5, 1.0, 6.0, 0.0, -0.5]


def _branch_grads(name):
    """The derivative each rule gives at _PTS, written from its branches."""
    import math as m

    def elu_d(x, a=1.0, scale=1.0):
        return scale * (a * m.exp(x) if x <= 0 else 1.0)

    rules = {
        # x <= lo || x >= hi ? 0 : 1
        "hardtanh": lambda x: 0.0 if (x <= -1 or x >= 1) else 1.0,
        "relu6": lambda x: 0.0 if (x <= 0 or x >= 6) else 1.0,
        # -λ <= x <= λ ? 0 : 1
        "softshrink": lambda x: 0.0 if (-0.5 <= x <= 0.5) else 1.0,
        # x <= -3 ? 0 : x < 3 ? x/3 + 1/2 : 1
        "hardswish": lambda x: 0.0 if x <= -3 else (x / 3 + 0.5 if x < 3 else 1.0),
        # x <= 0 ? a·e^x : 1  (celu with alpha = 2: e^(x/2))
        "elu": lambda x: elu_d(x) if not m.isnan(x) else 1.0,
        "celu": lambda x: (m.exp(x / 2.0) if x <= 0 else 1.0) if not m.isnan(x) else 1.0,
        "selu": lambda x: (
            elu_d(x, 1.6732632423543772, 1.0507009873554805) if not m.isnan(x) else 1.0507009873554805
        ),
    }
    return [rules[name](x) for x in _PTS]


@pytest.mark.parametrize("name", ["hardtanh", "relu6", "softshrink", "hardswish", "elu", "celu", "selu"])
def test_piecewise_activation_gradients_at_nan_inf_and_breakpoints(name, device):
    x = rustdl.tensor(_PTS, device=device, requires_grad=True)
    kw = {"alpha": 2.0} if name == "celu" else {}
    y = getattr(F, name)(x, **kw)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.tolist(), _branch_grads(name), rtol=1e-6, atol=1e-7)
    assert np.isnan(y.tolist()[4])  # NaN in, NaN out


def test_elu_second_derivative_is_zero_from_zero_on():
    x = rustdl.tensor([-1.0, -0.5, 0.0, 0.5, _NAN], dtype=rustdl.float64, requires_grad=True)
    (g,) = rustdl.autograd.grad(F.elu(x).sum(), x, create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.tolist(), [np.exp(-1.0), np.exp(-0.5), 0.0, 0.0, 0.0], rtol=1e-12)


def test_hardtanh_of_an_integer_tensor_stays_integer():
    x = rustdl.tensor([[-2, 0, 3, 1, 7]])
    assert F.hardtanh(x).dtype == rustdl.int64 and F.hardtanh(x).tolist() == [[-1, 0, 1, 1, 1]]
    assert F.relu6(x).tolist() == [[0, 0, 3, 1, 6]] and F.hardtanh(x, -1.5, 2.5).tolist() == [
        [-1, 0, 2, 1, 2]
    ]


def test_tensor_subclasses_by_make_subclass_and_as_subclass():
    class Tagged(rustdl.Tensor):
        @staticmethod
        def __new__(cls, data, tag=None):
            t = rustdl.Tensor._make_subclass(cls, rustdl.as_tensor(data), False)
            t.tag = tag
            return t

    a = Tagged([1.0, 2.0], tag="x")
    assert type(a) is Tagged and a.tag == "x" and (a * 2).tolist() == [2.0, 4.0]
    base = rustdl.zeros(2)
    b = base.as_subclass(Tagged)
    assert type(b) is Tagged
    b.add_(1.0)
    assert base.tolist() == [1.0, 1.0]  # shares memory
    g = rustdl.Tensor._make_subclass(Tagged, rustdl.ones(2), True)
    assert g.requires_grad and g.is_leaf
    # one that requires grad stays in the graph, as PyTorch's: an alias whose gradient flows back
    x = rustdl.ones(2, requires_grad=True)
    y = (x * 2).as_subclass(Tagged)
    assert type(y) is Tagged and y.requires_grad and not y.is_leaf
    (y * 3).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    alias = x.as_subclass(Tagged)
    assert not alias.is_leaf
    (alias * 5).sum().backward()
    assert x.grad.tolist() == [11.0, 11.0]
    with rustdl.no_grad():
        assert type(rustdl.ones(2, requires_grad=True).as_subclass(Tagged)) is Tagged


def test_an_allocation_that_does_not_fit_is_pytorchs_runtime_error_and_a_memory_error():
    # code written for PyTorch halves its batch on `except RuntimeError` whose message says
    # "out of memory"; Python code catches MemoryError
    with pytest.raises(RuntimeError, match="out of memory") as info:
        rustdl.ones(2**20).repeat(2**20)
    assert isinstance(info.value, MemoryError) and isinstance(info.value, rustdl.OutOfMemoryError)
    assert rustdl.cuda.OutOfMemoryError is rustdl.OutOfMemoryError
    with pytest.raises(MemoryError):
        rustdl.eye(10**7)


def test_new_entry_points_with_empty_and_bad_inputs():
    assert rustdl.nn.grad.conv2d_input(
        (0, 2, 5, 5), rustdl.ones(3, 2, 3, 3), rustdl.ones(0, 3, 3, 3)
    ).shape == (0, 2, 5, 5)
    with pytest.raises(BufferError, match="from_dlpack"):
        rustdl.from_dlpack(5)
    h, c = rustdl.lstm_cell(
        rustdl.ones(0, 3), (rustdl.ones(0, 4), rustdl.ones(0, 4)), rustdl.ones(16, 3), rustdl.ones(16, 4)
    )
    assert h.shape == c.shape == (0, 4)
    assert rustdl.repeat_interleave(rustdl.tensor([0, 0])).tolist() == []
    assert rustdl.multinomial(rustdl.zeros(0, 3), 2).shape == (0, 2)
