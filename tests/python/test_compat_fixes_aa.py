"""Gradients at the edges of their ops, checked against the closed-form derivative PyTorch's
backward formulas give: clamp with tensor bounds at a tie, renorm of an all-zero slice, and
logit outside [0, 1] without ``eps``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rustdl
from conftest import run_compat


def _grad(f, values):
    x = rustdl.tensor(values, requires_grad=True)
    f(x).sum().backward()
    return x.grad.tolist()


def test_clamp_tensor_bounds_give_a_tie_its_whole_gradient(device):
    x = rustdl.tensor([0.0, 1.0, 2.0, 0.5, -1.0], device=device, requires_grad=True)
    lo = rustdl.tensor([1.0, 1.0, 1.0, 0.0, 0.0], device=device, requires_grad=True)
    hi = rustdl.tensor([1.0, 1.0, 1.0, 2.0, -0.5], device=device, requires_grad=True)
    y = x.clamp(lo, hi)
    y.backward(rustdl.tensor([1.0, 2.0, 3.0, 4.0, 5.0], device=device))
    assert y.tolist() == [1.0, 1.0, 1.0, 0.5, -0.5]
    # the input's gradient where lo <= x <= hi; lo's where x < lo <= hi; hi's where the result
    # is hi (x > hi, or lo > hi)
    assert x.grad.tolist() == [0.0, 2.0, 0.0, 4.0, 0.0]
    assert lo.grad.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert hi.grad.tolist() == [0.0, 0.0, 3.0, 0.0, 5.0]


def test_clamp_one_tensor_bound_at_a_tie_and_nan():
    # one tensor bound is maximum/minimum: a tie splits the gradient (PyTorch 2.15)
    assert _grad(lambda x: x.clamp(min=rustdl.ones(3)), [1.0, 0.0, 2.0]) == [0.5, 0.0, 1.0]
    assert _grad(lambda x: x.clamp(max=rustdl.ones(3)), [1.0, 0.0, 2.0]) == [0.5, 1.0, 0.0]
    out = rustdl.tensor([0.5, float("nan")]).clamp(rustdl.tensor([float("nan"), 0.0]), rustdl.ones(2))
    assert all(math.isnan(v) for v in out.tolist())
    x = rustdl.tensor([0.5, 3.0])
    x.clamp_(rustdl.tensor([1.0, 0.0]), rustdl.tensor([2.0, 2.0]))
    assert x.tolist() == [1.0, 2.0]


def test_renorm_leaves_an_all_zero_slice_with_gradient_one():
    x = rustdl.tensor([[0.0, 0.0], [0.3, 0.4], [3.0, 4.0]], requires_grad=True)
    y = x.renorm(2, 0, 1.0)
    np.testing.assert_allclose(y.detach().numpy(), [[0, 0], [0.3, 0.4], [0.6, 0.8]], rtol=1e-6)
    y.sum().backward()
    g = x.grad.numpy()
    assert np.isfinite(g).all()
    np.testing.assert_array_equal(g[:2], np.ones((2, 2)))
    # the rescaled slice: d/dx of x / |x| summed, (1 - x·sum(x)/|x|²) / |x|
    v = np.array([3.0, 4.0])
    expected = (1.0 - v * v.sum() / 25.0) / 5.0
    np.testing.assert_allclose(g[2], expected, rtol=1e-5, atol=1e-7)


def test_logit_gradient_is_nan_outside_the_unit_interval_without_eps():
    g = _grad(rustdl.logit, [2.0, -1.0, 0.5])
    assert math.isnan(g[0]) and math.isnan(g[1]) and g[2] == pytest.approx(4.0)
    g = _grad(lambda x: rustdl.logit(x, eps=0.1), [2.0, -1.0, 0.5])
    assert g == [0.0, 0.0, pytest.approx(4.0)]


def test_data_assignment_shares_the_source_storage():
    a, b = rustdl.nn.Linear(3, 3), rustdl.nn.Linear(3, 3)
    b.weight.data = a.weight.data  # old-style weight tying
    with rustdl.no_grad():
        a.weight.add_(1.0)
    assert rustdl.equal(a.weight, b.weight) and a.weight.data_ptr() == b.weight.data_ptr()
    p = rustdl.nn.Parameter(rustdl.ones(2, 2))
    pre = rustdl.zeros(2, 2)
    p.data = pre
    pre.fill_(5.0)
    assert p.sum().item() == 20.0 and p.requires_grad and isinstance(p, rustdl.nn.Parameter)
    # an optimizer step on the parameter is seen by the source
    opt = rustdl.optim.SGD([p], lr=1.0)
    (p * 2).sum().backward()
    opt.step()
    assert pre.tolist() == [[3.0, 3.0], [3.0, 3.0]]


def test_data_assignment_leaves_earlier_views_and_aliases_on_the_old_storage():
    a = rustdl.zeros(3)
    v, d = a[:2], a.data
    a.data = rustdl.ones(3)
    assert v.tolist() == [0.0, 0.0] and d.tolist() == [0.0, 0.0, 0.0] and a.tolist() == [1.0] * 3
    assert a._version == 0


def test_data_assignment_keeps_a_graph_built_before_it(device):
    w = rustdl.nn.Parameter(rustdl.ones(2, device=device))
    y = (w * rustdl.tensor([2.0, 3.0], device=device)).sum()
    w.data = w.data.clamp(0, 0.5)
    y.backward()
    assert w.grad.tolist() == [2.0, 3.0] and w.tolist() == [0.5, 0.5]
    t = rustdl.ones(2, 3)
    t.data = rustdl.zeros(3, 2).t()  # another layout: the object takes it as it is
    assert t.stride() == (1, 2) and t.tolist() == [[0.0] * 3] * 2
    with pytest.raises(RuntimeError):
        w.data = rustdl.ones(2, dtype=rustdl.int64)


@pytest.mark.parametrize(
    ("op", "label"),
    [
        (lambda t: t.reshape(2, 3), "ViewBackward0"),
        (lambda t: t.reshape_as(t), "ViewBackward0"),
        (lambda t: t.squeeze(), "SqueezeBackward0"),
        (lambda t: t.squeeze(0), "SqueezeBackward1"),
        (lambda t: t.expand(2, 3), "ExpandBackward0"),
        (lambda t: t.expand_as(t), "ExpandBackward0"),
        (lambda t: t.broadcast_to(2, 3), "ExpandBackward0"),
        (lambda t: t[...], "AliasBackward0"),
    ],
)
def test_a_shape_op_that_changes_nothing_gives_a_view_of_its_own(op, label):
    x = rustdl.ones(2, 3, requires_grad=True)
    y = x * 2
    v = op(y)
    assert type(v.grad_fn).__name__ == label
    # a hook on the view scales the view's gradient only: 2·(1 + 10)
    v.register_hook(lambda g: g * 10)
    (y.sum() + v.sum()).backward()
    assert x.grad.tolist() == [[22.0] * 3] * 2
    leaf = rustdl.ones(2, 3, requires_grad=True)
    w = op(leaf)
    assert not w.is_leaf and type(w.grad_fn).__name__ == label
    plain = rustdl.ones(2, 3)
    op(plain).requires_grad_()
    assert not plain.requires_grad


def test_float32_exp_keeps_subnormal_results():
    x = np.linspace(-104.5, -86.0, 4001, dtype=np.float32)
    got = rustdl.tensor(x).exp().numpy()
    ref = np.exp(x.astype(np.float64)).astype(np.float32)
    # within one unit in the last place of the float32 result (subnormals included), not 0
    assert np.abs(got.view(np.int32) - ref.view(np.int32)).max() <= 1
    assert got[x > -103.0].min() > 0
    assert math.isfinite(rustdl.tensor([-100.0]).exp().log().item())
    assert rustdl.softmax(rustdl.tensor([0.0, -95.0]), 0)[1].item() > 0


def test_classes_reached_through_torch_name_torch_modules(tmp_path):
    src = """
import io, json, pickle
import torch
from torch import nn
from torch.optim import lr_scheduler
from torch.utils.data import DataLoader
opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
s = lr_scheduler.MultiStepLR(opt, milestones=[15], gamma=0.5)
m = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
back = pickle.loads(pickle.dumps(m))
print(json.dumps([s.__module__ == lr_scheduler.__name__, nn.Linear.__module__, DataLoader.__module__,
                  type(back[0]).__name__, bool(torch.equal(back[0].weight, m[0].weight))]))
"""
    out = json.loads(
        run_compat(tmp_path, src, env={"RUSTDL_COMPAT_DEVICE": "cpu"}).stdout.strip().splitlines()[-1]
    )
    assert out == [True, "torch.nn.modules.linear", "torch.utils.data.dataloader", "Linear", True]
    # outside the compat layer the classes keep rustdl's names
    assert rustdl.nn.Linear.__module__ == "rustdl.nn.modules.linear"


@pytest.mark.parametrize("cls", [rustdl.nn.LazyBatchNorm1d, rustdl.nn.LazyInstanceNorm1d])
def test_lazy_norm_parameters_follow_a_move_made_before_the_first_forward(cls, device):
    m = cls().double() if device == "cpu" else cls().to(device)
    dtype = rustdl.float64 if device == "cpu" else rustdl.float32
    y = m(rustdl.randn(4, 3, 5, dtype=dtype, device=device))
    assert y.dtype == dtype and m.num_features == 3
    for t in (m.weight, m.bias, m.running_mean, m.running_var):
        assert t.dtype == dtype and t.device.type == rustdl.device(device).type


def test_every_tensor_is_a_variable_and_variable_makes_a_leaf():
    from rustdl.autograd import Variable

    assert isinstance(rustdl.ones(2), Variable) and not isinstance(3, Variable)
    v = Variable(rustdl.ones(2), requires_grad=True)
    assert v.requires_grad and v.is_leaf


def test_packed_sequence_casts_and_moves(device):
    from rustdl.nn.utils.rnn import pack_sequence

    p = pack_sequence([rustdl.tensor([1.5, 2.0]), rustdl.tensor([3.0])])
    assert p.long().data.tolist() == [1, 3, 2] and p.long().data.dtype == rustdl.int64
    assert p.int().data.dtype == rustdl.int32 and p.byte().data.dtype == rustdl.uint8
    assert p.short().data.dtype == rustdl.int16 and p.char().data.dtype == rustdl.int8
    assert p.pin_memory() is p
    assert p.long().batch_sizes.tolist() == [2, 1]
    if device == "gpu":
        q = p.cuda()
        assert q.data.device.type != "cpu" and q.batch_sizes.device.type == "cpu"


def test_pad_sequence_takes_the_first_sequence_dtype():
    from rustdl.nn.utils.rnn import pad_sequence

    out = pad_sequence([rustdl.tensor([1, 2]), rustdl.tensor([3.5])])
    assert out.dtype == rustdl.int64 and out.tolist() == [[1, 3], [2, 0]]


def test_value_tensors_of_fills_must_be_0d():
    mask = rustdl.tensor([True, False, True])
    with pytest.raises(RuntimeError, match="0-dimensional"):
        rustdl.zeros(3).masked_fill(mask, rustdl.tensor([5.0]))
    with pytest.raises(RuntimeError, match="0-dimensional"):
        rustdl.zeros(3).masked_fill_(mask, rustdl.tensor([5.0], requires_grad=True))
    with pytest.raises(RuntimeError, match="0-dimensional"):
        rustdl.zeros(3).index_fill(0, rustdl.tensor([1]), rustdl.tensor([5.0]))
    assert rustdl.zeros(3).masked_fill(mask, rustdl.tensor(5.0)).tolist() == [5.0, 0.0, 5.0]


def test_one_layer_rnn_with_dropout_warns():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        rustdl.nn.LSTM(4, 3, 1, dropout=0.5)


def test_retain_grad_needs_requires_grad():
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        rustdl.ones(2).retain_grad()


def test_manual_seed_takes_int_of_its_argument():
    rustdl.manual_seed(1337.0)
    assert rustdl.initial_seed() == 1337
    rustdl.manual_seed("5")
    assert rustdl.initial_seed() == 5
    rustdl.manual_seed(-1)
    assert rustdl.initial_seed() == 2**64 - 1
    with pytest.raises(ValueError):
        rustdl.manual_seed(2**64)
    with pytest.raises(ValueError):
        rustdl.Generator().manual_seed(2**64)
    with pytest.raises(RuntimeError):
        rustdl.Generator().manual_seed(1.5)


def test_a_tensor_hook_keeps_the_second_order_graph():
    x = rustdl.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = x * x
    y.register_hook(lambda g: g)
    (g,) = rustdl.autograd.grad(y.sin().sum(), x, create_graph=True)
    (g * g).sum().backward()
    # d/dx of (2x cos x²)² = 8x cos²(x²) - 16x³ sin(x²) cos(x²)
    v = np.array([0.5, -1.0, 2.0])
    c, s = np.cos(v * v), np.sin(v * v)
    np.testing.assert_allclose(x.grad.numpy(), 8 * v * c * c - 16 * v**3 * s * c, rtol=1e-5)
    leaf = rustdl.tensor([0.5, -1.0, 2.0], requires_grad=True)
    leaf.register_hook(lambda g: g * 2)
    (g,) = rustdl.autograd.grad((leaf**3).sum(), leaf, create_graph=True)
    assert g.requires_grad
    g.sum().backward()
    # the hook doubles both gradients: 2·(6x)
    assert leaf.grad.tolist() == [12.0, -24.0, 48.0]


def _torch_layout_state(seed: int, draws_done: int = 0) -> bytes:
    """PyTorch's 5056-byte CPU generator state for a freshly seeded Mersenne Twister, built from
    its documented layout (initial seed, left, seeded, next, 624 words as uint64, three
    doubles, normal_is_valid, then a float normal cache)."""
    import struct

    words = [seed & 0xFFFFFFFF]
    for i in range(1, 624):
        p = words[-1]
        words.append((1812433253 * (p ^ (p >> 30)) + i) & 0xFFFFFFFF)
    out = bytearray(5056)
    struct.pack_into("<QiiQ", out, 0, seed, 1, 1, 0)
    out[24 : 24 + 8 * 624] = np.array(words, dtype="<u8").tobytes()
    return bytes(out)


def test_generator_state_has_pytorchs_layout_and_reads_pytorchs():
    state = rustdl.tensor(np.frombuffer(_torch_layout_state(42), dtype=np.uint8).copy())
    rustdl.manual_seed(0)
    rustdl.set_rng_state(state)
    got = rustdl.rand(5).tolist()
    rustdl.manual_seed(42)
    mine = rustdl.get_rng_state()
    assert mine.shape == (5056,) and mine.dtype == rustdl.uint8
    # the CPU part, byte for byte, is what PyTorch's layout holds after seeding
    assert mine.numpy().tobytes()[:5016] == _torch_layout_state(42)[:5016]
    assert got == rustdl.rand(5).tolist()
    # a state taken mid-stream (a cached float64 normal included) restores the stream, GPU part too
    rustdl.manual_seed(7)
    rustdl.rand(700)
    rustdl.randn((), dtype=rustdl.float64)
    g = rustdl.Generator().manual_seed(3)
    rustdl.rand(3, generator=g)
    saved, gsaved = rustdl.get_rng_state(), g.get_state()
    a = (
        rustdl.randn(3, dtype=rustdl.float64).tolist(),
        rustdl.rand(2).tolist(),
        rustdl.rand(2, generator=g).tolist(),
    )
    rustdl.manual_seed(1)
    rustdl.set_rng_state(saved)
    g2 = rustdl.Generator()
    g2.set_state(gsaved)
    assert a == (
        rustdl.randn(3, dtype=rustdl.float64).tolist(),
        rustdl.rand(2).tolist(),
        rustdl.rand(2, generator=g2).tolist(),
    )
    with pytest.raises(ValueError):
        rustdl.set_rng_state(rustdl.zeros(100, dtype=rustdl.uint8))


@pytest.mark.parametrize("dtype", [rustdl.float32, rustdl.float64])
def test_arange_float_steps_round_each_block_start_once(dtype):
    from fractions import Fraction

    start, step = -8.0, 0.1
    x = rustdl.arange(start, 8.0, step, dtype=dtype).numpy()
    assert len(x) == 160
    # element 80 is start + 80·step rounded once from the exact product (4.4e-16, not 0)
    exact = float(Fraction(start) + 80 * Fraction(step))
    assert x[80] == np.dtype(x.dtype).type(exact) and x[80] > 0
    # every element within one unit in the last place of the range's largest magnitude (a block's
    # lanes are counted from its rounded start)
    ref = np.array([float(Fraction(start) + k * Fraction(step)) for k in range(160)])
    ulp = float(np.spacing(np.array(8.0, dtype=x.dtype)))
    assert np.all(np.abs(x.astype(np.float64) - ref) <= ulp)
    # the relu gradient counts the 80 positive values, 4.4e-16 included
    t = rustdl.arange(start, 8.0, step, dtype=dtype, requires_grad=True)
    rustdl.relu(t).backward(rustdl.ones_like(t))
    assert t.grad.sum().item() == 80.0


def test_to_with_dtype_none_keeps_the_dtype(device):
    a = rustdl.ones(3, device=device)
    assert a.to(dtype=None).dtype == rustdl.float32 and a.to(dtype=None).device == a.device
    assert rustdl.arange(3).to("cpu", dtype=None).dtype == rustdl.int64


def test_addmm_family_write_into_out():
    x = rustdl.arange(6.0).reshape(2, 3)
    a = rustdl.empty(2, 2)
    assert rustdl.addmm(a, x, x.mT, beta=0.0, out=a) is a
    np.testing.assert_array_equal(a.numpy(), x.numpy() @ x.numpy().T)
    b = rustdl.empty(1, 2, 2)
    rustdl.baddbmm(rustdl.ones(1, 2, 2), x[None], x.mT[None], beta=2.0, out=b)
    np.testing.assert_array_equal(b.numpy()[0], x.numpy() @ x.numpy().T + 2)
    v = rustdl.empty(2)
    rustdl.addmv(rustdl.ones(2), x, rustdl.ones(3), out=v)
    assert v.tolist() == [4.0, 13.0]


def test_data_classes_are_generic():
    from rustdl.data import DataLoader, Dataset, Sampler

    class Batches(Sampler[list[int]]):
        def __iter__(self):
            return iter([[0, 1], [2, 3]])

        def __len__(self):
            return 2

    class Pairs(Dataset[tuple[rustdl.Tensor, int]]):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return rustdl.ones(2) * i, i

    batches = [b[1].tolist() for b in DataLoader[int](Pairs(), batch_sampler=Batches())]
    assert batches == [[0, 1], [2, 3]]


def test_names_libraries_import_from_torch(tmp_path):
    src = """
import json
import torch
from torch.hub import HASH_REGEX, urlparse
from torch.jit.annotations import List, Tuple
from torchvision.datasets import KMNIST
out = [HASH_REGEX.search("resnet18-5c106cde.pth").group(1), urlparse("http://a/b").path, str(List[int])]
try:
    torch.distributed.get_rank()
except ValueError:
    out.append("ValueError")
print(json.dumps(out))
"""
    out = json.loads(
        run_compat(tmp_path, src, env={"RUSTDL_COMPAT_DEVICE": "cpu"}).stdout.strip().splitlines()[-1]
    )
    assert out == ["5c106cde", "/b", "typing.List[int]", "ValueError"]


def test_elu_family_near_zero_and_far_below():
    x = rustdl.tensor([-1e-8, -1e-5, -1e-3], dtype=rustdl.float32)
    ref = np.expm1(np.array([-1e-8, -1e-5, -1e-3], dtype=np.float32).astype(np.float64))
    np.testing.assert_allclose(rustdl.nn.functional.elu(x).numpy(), ref, rtol=1e-6)
    np.testing.assert_allclose(
        rustdl.nn.functional.selu(x).numpy(), 1.0507009873554805 * 1.6732632423543772 * ref, rtol=1e-6
    )
    x = rustdl.tensor([-20.0, -10.0], requires_grad=True)
    rustdl.nn.functional.celu(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([-20.0, -10.0]), rtol=1e-5)


def test_bce_with_logits_gradient_is_sigmoid_minus_target():
    F = rustdl.nn.functional
    v = np.array([-20.0, -10.0, 3.0, 20.0])
    sig = 1 / (1 + np.exp(-v))
    for t, pw in [(np.zeros(4), None), (np.ones(4), None), (np.array([0, 1, 0.3, 1.0]), 2.0)]:
        x = rustdl.tensor(v, dtype=rustdl.float32, requires_grad=True)
        pos = None if pw is None else rustdl.tensor(pw)
        F.binary_cross_entropy_with_logits(
            x, rustdl.tensor(t, dtype=rustdl.float32), reduction="sum", pos_weight=pos
        ).backward()
        p = 1.0 if pw is None else pw
        lw = 1 + (p - 1) * t
        # float32's σ(20) is 1: the gradient's error is one float32 step of the sigmoid
        np.testing.assert_allclose(x.grad.numpy(), lw * sig - p * t, rtol=1e-5, atol=1e-7)
        if not t.any():
            # far below zero it is σ(x) itself, not 1 − σ(−x) (which cancels to 0)
            np.testing.assert_allclose(x.grad.numpy()[:2], sig[:2], rtol=1e-5)
    x = rustdl.tensor([float("inf"), -float("inf")], requires_grad=True)
    F.binary_cross_entropy_with_logits(x, rustdl.zeros(2), reduction="sum").backward()
    assert x.grad.tolist() == [1.0, 0.0]


def test_division_gradient_for_huge_and_tiny_divisors(device):
    a = rustdl.tensor([1e30, 1e-30], device=device)
    b = rustdl.tensor([1e20, 1e-23], device=device, requires_grad=True)
    (a / b).sum().backward()
    np.testing.assert_allclose(b.grad.cpu().numpy(), [-1e-10, -1e16], rtol=1e-5)
    x = rustdl.tensor([50.0], device=device, requires_grad=True)
    e, em = x.exp(), (-x).exp()
    ((e - em) / (e + em)).backward()
    assert abs(x.grad.item()) < 1e-30


def test_tanh_gradient_rounds_one_minus_y_squared_once(device):
    x = rustdl.linspace(-9, 9, 2001, device=device, requires_grad=True)
    rustdl.tanh(x).sum().backward()
    y = rustdl.tanh(x.detach()).cpu().numpy().astype(np.float64)
    want = (1.0 - y * y).astype(np.float32)
    if device == "cpu":
        np.testing.assert_array_equal(x.grad.numpy(), want)
    else:  # the shader's fma: a driver may round its product (one float32 step near 1)
        np.testing.assert_allclose(x.grad.cpu().numpy(), want, rtol=1e-6, atol=1.2e-7)


def test_scatter_out_of_range_is_a_runtime_error():
    with pytest.raises(RuntimeError):
        rustdl.zeros(2, 3).scatter_(1, rustdl.tensor([[3], [0]]), 1.0)
    with pytest.raises(IndexError):
        rustdl.zeros(3).scatter_reduce(0, rustdl.tensor([5]), rustdl.ones(1), "sum")


def test_make_grid_keeps_the_dtype_and_refuses_unknown_keywords():
    from rustdl.torchcompat.torchvision import utils as tv_utils

    x = (rustdl.arange(8).view(2, 1, 2, 2) % 2).to(rustdl.uint8)
    g = tv_utils.make_grid(x, nrow=2, pad_value=1)
    assert g.dtype == rustdl.uint8 and tuple(g.shape) == (3, 6, 10)
    with pytest.raises(TypeError):
        tv_utils.make_grid(rustdl.zeros(2, 3, 2, 2), normalize=True, range=(-1, 1))


def test_storage_item_assignment_writes_through():
    points = rustdl.tensor([[4.0, 1.0], [5.0, 3.0], [2.0, 1.0]])
    points.storage()[0] = 2.0
    points[1:].storage()[1] = 9.0  # the whole storage, whatever view it is taken from
    assert points.tolist() == [[2.0, 9.0], [5.0, 3.0], [2.0, 1.0]]
    points.storage().fill_(0.0)
    assert points.tolist() == [[0.0, 0.0]] * 3


def test_autograd_grad_fills_retained_gradients():
    x = rustdl.ones(3, requires_grad=True)
    y = x * 2
    y.retain_grad()
    z = y * 3
    (gx,) = rustdl.autograd.grad(z.sum(), x)
    assert gx.tolist() == [6.0] * 3 and y.grad.tolist() == [3.0] * 3 and x.grad is None
