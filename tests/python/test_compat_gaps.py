"""PyTorch-compatibility gaps: keyword spellings (dims=, axis=, shape=, mat2=, ...), anomaly
mode as a context manager, autograd.backward, memory formats, implicit softmax dims,
arange / sizes from 0-d integer tensors, deprecated init aliases, gcd / lcm / unravel_index,
legacy integer tensor types, Module.get_parameter / get_buffer and Tensor.__format__."""

import math
import pickle
import warnings

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from rustdl import nn

A = np.arange(6, dtype=np.float32).reshape(2, 3)


def t(a):
    return rustdl.tensor(np.asarray(a))


# ---------------------------------------------------------------- 1. keyword spellings


def test_flip_permute_reshape_expand_take_pytorch_keywords():
    x = t(A)
    np.testing.assert_array_equal(rustdl.flip(x, dims=[0]).numpy(), A[::-1])
    np.testing.assert_array_equal(x.flip(dims=(0, 1)).numpy(), A[::-1, ::-1])
    np.testing.assert_array_equal(x.permute(dims=(1, 0)).numpy(), A.T)
    np.testing.assert_array_equal(rustdl.permute(x, dims=[1, 0]).numpy(), A.T)
    np.testing.assert_array_equal(rustdl.reshape(x, shape=(3, 2)).numpy(), A.reshape(3, 2))
    np.testing.assert_array_equal(x.reshape(shape=[-1]).numpy(), A.reshape(-1))
    np.testing.assert_array_equal(x[:1].expand(size=(4, 3)).numpy(), np.broadcast_to(A[:1], (4, 3)))
    # positional calls are unchanged; giving the sequence both ways is an error
    np.testing.assert_array_equal(x.reshape(3, 2).numpy(), A.reshape(3, 2))
    with pytest.raises(TypeError):
        x.reshape(3, 2, shape=(3, 2))


def test_cat_concat_concatenate_and_stack_take_axis():
    x = t(A)
    np.testing.assert_array_equal(rustdl.cat([x, x], axis=1).numpy(), np.concatenate([A, A], 1))
    np.testing.assert_array_equal(rustdl.concatenate([x, x], axis=0).numpy(), np.concatenate([A, A], 0))
    np.testing.assert_array_equal(rustdl.concat((x, x), axis=-1).numpy(), np.concatenate([A, A], -1))
    np.testing.assert_array_equal(rustdl.stack([x, x], axis=2).numpy(), np.stack([A, A], 2))
    np.testing.assert_array_equal(rustdl.cat([x, x], 1).numpy(), np.concatenate([A, A], 1))
    out = rustdl.zeros(4, 3)
    assert rustdl.cat([x, x], dim=0, out=out) is out
    np.testing.assert_array_equal(out.numpy(), np.concatenate([A, A], 0))


def test_functional_forms_take_pytorch_argument_names():
    x = t(A)
    np.testing.assert_allclose(rustdl.matmul(input=x, other=x.t()).numpy(), A @ A.T)
    np.testing.assert_allclose(rustdl.mm(x, mat2=x.t()).numpy(), A @ A.T)
    b = rustdl.randn(2, 3, 4)
    np.testing.assert_allclose(
        rustdl.bmm(input=b, mat2=b.transpose(1, 2)).numpy(),
        b.numpy() @ b.numpy().transpose(0, 2, 1),
        rtol=1e-5,
    )
    np.testing.assert_array_equal(rustdl.mul(input=x, other=x).numpy(), A * A)
    np.testing.assert_array_equal(rustdl.mul(2, x).numpy(), 2 * A)
    np.testing.assert_array_equal(rustdl.pow(x, exponent=2).numpy(), A**2)
    np.testing.assert_allclose(rustdl.pow(2, x).numpy(), 2.0**A)


def test_max_min_other_and_split_size_keywords():
    x = t(A)
    y = t(A[::-1].copy())
    np.testing.assert_array_equal(rustdl.max(x, other=y).numpy(), np.maximum(A, A[::-1]))
    np.testing.assert_array_equal(x.min(other=y).numpy(), np.minimum(A, A[::-1]))
    parts = x.split(split_size=2, dim=1)
    assert [tuple(p.shape) for p in parts] == [(2, 2), (2, 1)]
    np.testing.assert_array_equal(parts[1].numpy(), A[:, 2:])
    parts = rustdl.split(x, split_size_or_sections=[1, 1])
    np.testing.assert_array_equal(parts[1].numpy(), A[1:])
    # the reduction forms keep working beside other=
    np.testing.assert_array_equal(x.max(dim=1).values.numpy(), A.max(1))


def test_arange_end_keyword():
    r = rustdl.arange(end=3)
    assert r.dtype == rustdl.int64 and r.tolist() == [0, 1, 2]
    assert rustdl.arange(end=2.5).tolist() == [0.0, 1.0, 2.0]
    assert rustdl.arange(start=1, end=7, step=3).tolist() == [1, 4]


# ---------------------------------------------------------------- 2. anomaly mode, autograd.backward


def test_set_detect_anomaly_is_a_call_and_a_context_manager():
    ag = rustdl.autograd
    assert not ag.is_anomaly_enabled()
    with ag.set_detect_anomaly(True):
        assert ag.is_anomaly_enabled() and rustdl.is_anomaly_enabled()
        with ag.set_detect_anomaly(False, check_nan=False):
            assert not ag.is_anomaly_enabled()
        assert ag.is_anomaly_enabled() and ag.is_anomaly_check_nan_enabled()
    assert not ag.is_anomaly_enabled()
    ag.set_detect_anomaly(True)
    try:
        assert ag.is_anomaly_enabled()
    finally:
        ag.set_detect_anomaly(False)
    assert not ag.is_anomaly_enabled()
    with ag.detect_anomaly():
        assert ag.is_anomaly_enabled()
    assert not ag.is_anomaly_enabled()

    @ag.detect_anomaly()
    def inside():
        return ag.is_anomaly_enabled()

    assert inside() and not ag.is_anomaly_enabled()


def test_autograd_backward_sums_the_weighted_roots_in_one_pass():
    xv = np.array([1.0, 2.0, -3.0], dtype=np.float32)
    x = rustdl.tensor(xv, requires_grad=True)
    rustdl.autograd.backward([x.sum(), (x * x).sum()])
    np.testing.assert_allclose(x.grad.numpy(), 1 + 2 * xv)

    x.grad = None
    w = np.array([1.0, 0.0, 2.0], dtype=np.float32)
    rustdl.autograd.backward([x * 3, x * x], grad_tensors=[t(w), rustdl.ones(3)])
    np.testing.assert_allclose(x.grad.numpy(), 3 * w + 2 * xv)

    # a hook on a shared intermediate sees the summed gradient once
    x.grad = None
    seen = []
    h = x * 2
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    rustdl.autograd.backward((h.sum(), (h * h).sum()))
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 1 + 2 * (2 * xv))
    np.testing.assert_allclose(x.grad.numpy(), 2 * (1 + 4 * xv))

    # one tensor with inputs=: only that input accumulates
    a = rustdl.tensor([2.0], requires_grad=True)
    b = rustdl.tensor([5.0], requires_grad=True)
    rustdl.autograd.backward((a * b).sum(), inputs=[a])
    assert a.grad.tolist() == [5.0] and b.grad is None

    with pytest.raises(RuntimeError):
        rustdl.autograd.backward([x * 2])  # not a scalar and no gradient given
    with pytest.raises(RuntimeError):
        rustdl.autograd.backward([rustdl.ones(1)])  # does not require grad


def test_is_inference_mode_enabled():
    assert rustdl.is_inference_mode_enabled() is False
    with rustdl.inference_mode():
        assert rustdl.is_inference_mode_enabled() is True
        with rustdl.inference_mode(False):
            assert rustdl.is_inference_mode_enabled() is False
        assert rustdl.is_inference_mode_enabled() is True
    with rustdl.no_grad():
        assert rustdl.is_inference_mode_enabled() is False
    assert rustdl.is_inference_mode_enabled() is False


# ---------------------------------------------------------------- 3. memory formats


def test_memory_format_arguments_are_checked_and_give_the_one_layout():
    x = rustdl.randn(2, 3, 4, 5)
    ref = x.numpy()
    for fmt in (rustdl.contiguous_format, rustdl.channels_last, rustdl.preserve_format):
        y = x.contiguous(memory_format=fmt)
        np.testing.assert_array_equal(y.numpy(), ref)
        assert y.is_contiguous()
        np.testing.assert_array_equal(x.clone(memory_format=fmt).numpy(), ref)
        np.testing.assert_array_equal(x.to(memory_format=fmt).numpy(), ref)
        assert rustdl.zeros_like(x, memory_format=fmt).numpy().sum() == 0
        assert tuple(rustdl.empty_like(x, memory_format=fmt).shape) == (2, 3, 4, 5)
        np.testing.assert_array_equal(
            rustdl.full_like(x, 2.0, memory_format=fmt).numpy(), np.full(ref.shape, 2.0)
        )
    assert repr(rustdl.channels_last) == "rustdl.channels_last"
    assert pickle.loads(pickle.dumps(rustdl.channels_last)) is rustdl.channels_last
    # PyTorch's checks: a channels-last format needs a 4-D (3d: 5-D) tensor; not a format at all
    with pytest.raises(RuntimeError, match="required rank 4"):
        rustdl.randn(3, 4).contiguous(memory_format=rustdl.channels_last)
    with pytest.raises(RuntimeError, match="required rank 5"):
        x.clone(memory_format=rustdl.channels_last_3d)
    with pytest.raises(RuntimeError):
        rustdl.ones_like(rustdl.randn(3), memory_format=rustdl.channels_last)
    with pytest.raises(TypeError):
        x.contiguous(memory_format=None)
    with pytest.raises(TypeError):
        x.contiguous(rustdl.channels_last)  # keyword-only, as PyTorch


def test_is_contiguous_memory_format_follows_the_strides():
    cl = rustdl.channels_last
    x = rustdl.randn(2, 3, 4, 5)
    assert x.is_contiguous(memory_format=rustdl.contiguous_format)
    assert not x.is_contiguous(memory_format=cl)
    # an NHWC tensor seen as NCHW is channels-last and not row-major contiguous
    nhwc = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
    assert nhwc.is_contiguous(memory_format=cl) and not nhwc.is_contiguous()
    # size-1 dims do not count; other ranks are never channels-last
    assert rustdl.randn(2, 1, 4, 5).is_contiguous(memory_format=cl)
    assert rustdl.randn(2, 3, 1, 1).is_contiguous(memory_format=cl)
    assert not rustdl.randn(3, 4).is_contiguous(memory_format=cl)
    assert not x.is_contiguous(memory_format=rustdl.channels_last_3d)
    assert rustdl.randn(1, 2, 1, 1, 1).is_contiguous(memory_format=rustdl.channels_last_3d)
    assert not x[:, :, ::2].is_contiguous(memory_format=cl)


def test_module_to_accepts_memory_format():
    m = nn.Conv2d(2, 3, 3)
    w = m.weight.detach().numpy().copy()
    assert m.to(memory_format=rustdl.channels_last) is m
    assert m.to("cpu", non_blocking=True) is m
    np.testing.assert_array_equal(m.weight.detach().numpy(), w)
    with pytest.raises(TypeError):
        m.to(memory_format="channels_last")


# ---------------------------------------------------------------- 4. implicit softmax dim


@pytest.mark.parametrize("shape, dim", [((5,), 0), ((2, 3), 1), ((2, 3, 4), 0), ((2, 3, 4, 5), 1)])
def test_softmax_without_dim_uses_the_legacy_dim_and_warns(shape, dim):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    ref = e / e.sum(axis=dim, keepdims=True)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        got = F.softmax(t(x))
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-7)
    with pytest.warns(UserWarning, match="log_softmax"):
        got = F.log_softmax(t(x))
    np.testing.assert_allclose(got.numpy(), np.log(ref), rtol=1e-4, atol=1e-5)
    with pytest.warns(UserWarning, match="softmin"):
        F.softmin(t(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(F.softmax(t(x), dim=dim).numpy(), ref, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- 5-6. 0-d integer tensors as numbers


def test_arange_of_a_0d_tensor_takes_its_type():
    lengths = rustdl.tensor([2, 5, 3])
    r = rustdl.arange(lengths.max())
    assert r.dtype == rustdl.int64 and r.tolist() == [0, 1, 2, 3, 4]
    r = rustdl.arange(rustdl.tensor(3.0))
    assert r.dtype == rustdl.float32 and r.tolist() == [0.0, 1.0, 2.0]
    assert rustdl.arange(rustdl.tensor(1), 7, rustdl.tensor(2)).tolist() == [1, 3, 5]
    assert rustdl.arange(rustdl.tensor(1), rustdl.tensor(3.0)).dtype == rustdl.float32
    assert rustdl.arange(end=rustdl.tensor(2)).tolist() == [0, 1]
    assert rustdl.arange(rustdl.tensor(3), dtype=rustdl.float64).dtype == rustdl.float64
    with pytest.raises(TypeError):
        rustdl.arange(rustdl.tensor([3]))


def test_0d_integer_tensors_as_sizes():
    n2, n3 = rustdl.tensor(2), rustdl.tensor(3)
    x = t(A)
    assert tuple(x.view(n3, -1).shape) == (3, 2)
    assert tuple(x.reshape(n2, n3).shape) == (2, 3)
    np.testing.assert_array_equal(x.repeat(n2, 1).numpy(), np.tile(A, (2, 1)))
    assert tuple(rustdl.zeros(n3).shape) == (3,)
    assert sorted(rustdl.randperm(n3).tolist()) == [0, 1, 2]
    img = rustdl.randn(1, 1, 4, 4)
    up = F.interpolate(img, size=rustdl.tensor(8))
    np.testing.assert_array_equal(up.numpy(), img.numpy().repeat(2, axis=2).repeat(2, axis=3))
    assert tuple(F.interpolate(img, size=(n3, rustdl.tensor(6)), mode="bilinear").shape) == (1, 1, 3, 6)
    np.testing.assert_array_equal(F.pad(x, (rustdl.tensor(1), 0)).numpy(), np.pad(A, ((0, 0), (1, 0))))
    np.testing.assert_array_equal(
        F.pad(x, (n2, n2), mode="reflect").numpy(), np.pad(A, ((0, 0), (2, 2)), mode="reflect")
    )
    seq = rustdl.randn(1, 2, 6)
    np.testing.assert_allclose(
        F.max_pool1d(seq, n2).numpy(), seq.numpy().reshape(1, 2, 3, 2).max(-1), rtol=0, atol=0
    )
    np.testing.assert_allclose(
        F.adaptive_avg_pool1d(seq, n3).numpy(), seq.numpy().reshape(1, 2, 3, 2).mean(-1), rtol=1e-6
    )
    np.testing.assert_allclose(
        F.adaptive_avg_pool2d(img, n2).numpy(), img.numpy().reshape(1, 1, 2, 2, 2, 2).mean((3, 5)), rtol=1e-6
    )
    with pytest.raises(TypeError):
        F.pad(x, (rustdl.tensor(1.0), 0))


# ---------------------------------------------------------------- 7. names


@pytest.mark.parametrize(
    "old, args",
    [
        ("xavier_uniform", ()),
        ("xavier_normal", ()),
        ("kaiming_uniform", ()),
        ("kaiming_normal", ()),
        ("uniform", (-0.5, 0.5)),
        ("normal", (0.0, 0.1)),
        ("constant", (0.25,)),
    ],
)
def test_deprecated_init_aliases_warn_and_fill_as_the_new_names(old, args):
    new = getattr(nn.init, old + "_")
    a, b = rustdl.empty(30, 40), rustdl.empty(30, 40)
    rustdl.manual_seed(3)
    with pytest.warns(FutureWarning, match=f"nn.init.{old}_"):
        assert getattr(nn.init, old)(a, *args) is a
    rustdl.manual_seed(3)
    new(b, *args)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_clip_grad_norm_alias_warns_and_clips():
    p = nn.Parameter(rustdl.ones(4))
    p.grad = rustdl.full((4,), 3.0)
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        total = nn.utils.clip_grad_norm([p], max_norm=1.0)
    assert math.isclose(total.item(), 6.0, rel_tol=1e-6)
    np.testing.assert_allclose(p.grad.numpy(), np.full(4, 0.5), rtol=1e-5)


def test_sparse_init_zeros_ceil_sparsity_rows_per_column():
    w = rustdl.empty(10, 400)
    assert nn.init.sparse_(w, sparsity=0.25, std=2.0) is w
    a = w.numpy()
    np.testing.assert_array_equal((a == 0).sum(axis=0), np.full(400, math.ceil(0.25 * 10)))
    nz = a[a != 0]
    assert abs(nz.std() - 2.0) < 0.1 and abs(nz.mean()) < 0.1
    # the zeroed rows differ from column to column, and a generator makes the draw repeatable
    assert len({tuple(np.flatnonzero(a[:, j] == 0)) for j in range(400)}) > 50
    g1, g2 = rustdl.Generator().manual_seed(7), rustdl.Generator().manual_seed(7)
    b, c = rustdl.empty(6, 5), rustdl.empty(6, 5)
    nn.init.sparse_(b, 0.5, generator=g1)
    nn.init.sparse_(c, 0.5, generator=g2)
    np.testing.assert_array_equal(b.numpy(), c.numpy())
    with pytest.raises(ValueError):
        nn.init.sparse_(rustdl.empty(3, 4, 5), 0.1)


def test_cuda_device_context_manager_is_a_no_op():
    with rustdl.cuda.device(0) as d:
        assert d.idx == 0
        assert rustdl.ones(2).sum().item() == 2.0
    assert rustdl.cuda.device("cuda:1").idx == 1


def test_module_get_parameter_and_get_buffer():
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    assert m.get_parameter("0.weight") is m[0].weight
    assert m.get_parameter("1.bias") is m[1].bias
    assert m.get_buffer("1.running_var") is m[1].running_var
    assert m.get_submodule("1") is m[1]
    with pytest.raises(AttributeError, match="not an nn.Parameter"):
        m.get_parameter("1.running_mean")
    with pytest.raises(AttributeError, match="not a buffer"):
        m.get_buffer("0.weight")
    with pytest.raises(AttributeError):
        m.get_parameter("0.missing")
    with pytest.raises(AttributeError):
        m.get_buffer("7.running_mean")


def test_unravel_index_matches_numpy():
    flat = np.array([[0, 5, 11], [7, 3, 2]])
    got = rustdl.unravel_index(t(flat), (3, 4))
    want = np.unravel_index(flat, (3, 4))
    assert len(got) == 2
    for g, w in zip(got, want):
        assert g.dtype == rustdl.int64
        np.testing.assert_array_equal(g.numpy(), w)
    r, c = rustdl.unravel_index(rustdl.tensor(5), (2, 3))
    assert (r.item(), c.item()) == (1, 2) and r.dim() == 0
    # negative indices wrap, as PyTorch's
    assert [v.item() for v in rustdl.unravel_index(rustdl.tensor(-1), (2, 3))] == [1, 2]
    (only,) = rustdl.unravel_index(t([4, 1]), 5)
    assert only.tolist() == [4, 1]
    with pytest.raises(TypeError):
        rustdl.unravel_index(rustdl.tensor(1.0), (2, 3))
    with pytest.raises(ValueError):
        rustdl.unravel_index(rustdl.tensor(1), (2, -1))


def test_gcd_lcm_match_numpy():
    rng = np.random.default_rng(1)
    a = rng.integers(-10_000, 10_000, size=500)
    b = rng.integers(-10_000, 10_000, size=500)
    a[:5], b[:5] = [0, 0, 7, 0, 12], [0, 5, 0, -3, 18]
    np.testing.assert_array_equal(rustdl.gcd(t(a), t(b)).numpy(), np.gcd(a, b))
    np.testing.assert_array_equal(rustdl.lcm(t(a), t(b)).numpy(), np.lcm(a, b))
    np.testing.assert_array_equal(t(a).gcd(t(b)).numpy(), np.gcd(a, b))
    # Fibonacci neighbours: Euclid's worst case
    f = [1, 1]
    while len(f) < 80:
        f.append(f[-1] + f[-2])
    big = rustdl.gcd(t(np.array([f[-1], 6 * f[-3]])), t(np.array([f[-2], 4 * f[-3]])))
    assert big.tolist() == [1, 2 * f[-3]]
    # broadcasting
    np.testing.assert_array_equal(
        rustdl.gcd(t([[12], [18]]), t([8, 27])).numpy(), np.gcd([[12], [18]], [8, 27])
    )
    with pytest.raises(TypeError):
        rustdl.gcd(rustdl.tensor([1.0]), rustdl.tensor([2.0]))


def test_legacy_integer_tensor_types():
    for name in ("IntTensor", "ShortTensor", "ByteTensor", "CharTensor"):
        cls = getattr(rustdl, name)
        want = {"IntTensor": "int32", "ShortTensor": "int16", "ByteTensor": "uint8", "CharTensor": "int8"}
        dt = getattr(rustdl, want[name])
        z = cls(2, 3)
        d = cls([1, 2, 3])
        c = rustdl.tensor([1.7, -2.2]).type(cls)
        assert z.dtype == dt and tuple(z.shape) == (2, 3) and z.numpy().sum() == 0
        assert d.dtype == dt and d.tolist() == [1, 2, 3]
        assert c.dtype == dt and c.tolist() == ([1, 254] if name == "ByteTensor" else [1, -2])
        assert isinstance(d, cls)
        assert not isinstance(rustdl.tensor([1]), cls)  # only LongTensor is int64
    assert isinstance(rustdl.tensor([1]), rustdl.LongTensor)


# ---------------------------------------------------------------- 9. hook exceptions


def test_an_exception_raised_by_a_tensor_hook_propagates_with_its_type():
    x = rustdl.ones(3, requires_grad=True)
    x.register_hook(lambda g: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        (x * 2).sum().backward()


# ---------------------------------------------------------------- 8. __format__


def test_format_of_0d_tensors_is_the_python_number_format():
    assert "{}".format(rustdl.tensor(1.5)) == "1.5"  # noqa: UP032  (str.format is the point)
    assert format(rustdl.tensor(1.5), "") == "1.5"
    assert f"{rustdl.tensor(1.0 / 3):.3f}" == "0.333"
    assert f"{rustdl.tensor(1.0 / 3, dtype=rustdl.float64)}" == str(1.0 / 3)
    assert f"{rustdl.tensor(7):>4d}" == "   7"
    assert f"{rustdl.tensor(True)}" == "True"
    assert f"{rustdl.tensor(2.5, requires_grad=True):.1f}" == "2.5"
    v = rustdl.tensor([1.5, 2.0])
    assert f"{v}" == str(v)
    with pytest.raises(TypeError):
        f"{v:.2f}"
