"""Breadth of the torch API: constructors and legacy types, blas-like ops, counting ops, shape
ops, cdist, torch.linalg, 16-bit dtype names. Forward against numpy, gradients with gradcheck
(float64), bad inputs naming the op, and a GPU pass for a few."""

import math
import warnings

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from conftest import assert_close
from rustdl.autograd import gradcheck


def D(a, requires_grad=False, device="cpu"):
    return rustdl.tensor(
        np.asarray(a, dtype=np.float64), dtype=rustdl.float64, requires_grad=requires_grad, device=device
    )


def R(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------- constructors and types


def test_as_tensor():
    x = rustdl.randn(3)
    assert rustdl.as_tensor(x) is x
    assert rustdl.as_tensor(x, dtype=rustdl.float64).dtype == rustdl.float64
    assert rustdl.as_tensor([1, 2]).dtype == rustdl.int64
    assert rustdl.as_tensor([1.0, 2.0]).dtype == rustdl.float32
    a = np.arange(4.0)
    t = rustdl.as_tensor(a)
    assert t.dtype == rustdl.float64
    assert_close(t, a)
    assert rustdl.as_tensor(np.ones(2, np.float16)).dtype == rustdl.float32
    assert rustdl.as_tensor([]).shape == (0,)
    assert rustdl.as_tensor(3.0, dtype=rustdl.float64).item() == 3.0


def test_legacy_types():
    assert rustdl.FloatTensor(2, 3).shape == (2, 3)
    assert rustdl.FloatTensor(2, 3).dtype == rustdl.float32
    assert rustdl.FloatTensor().shape == (0,)
    t = rustdl.LongTensor([1, 2, 3])
    assert t.dtype == rustdl.int64 and t.tolist() == [1, 2, 3]
    assert rustdl.DoubleTensor([1.5]).dtype == rustdl.float64
    assert rustdl.IntTensor([1]).dtype == rustdl.int32
    assert rustdl.BoolTensor([True, False]).dtype == rustdl.bool
    assert rustdl.FloatTensor([1, 2]).dtype == rustdl.float32
    x = rustdl.randn(2)
    assert isinstance(x, rustdl.FloatTensor)
    assert not isinstance(x, rustdl.LongTensor)
    assert x.type() == "torch.FloatTensor"
    assert x.type(rustdl.DoubleTensor).dtype == rustdl.float64
    assert x.type("torch.LongTensor").dtype == rustdl.int64
    assert x.type(rustdl.float64).dtype == rustdl.float64
    assert x.type(rustdl.FloatTensor) is x
    assert x.long().type() == "torch.LongTensor"
    with pytest.raises(TypeError, match="FloatTensor"):
        rustdl.FloatTensor([1], [2])


def test_cuda_legacy_types(device):
    t = rustdl.cuda.FloatTensor(2, 3, device=device)
    assert t.shape == (2, 3) and t.device.type == rustdl.device(device).type
    assert rustdl.cuda.LongTensor([1, 2], device=device).dtype == rustdl.int64
    assert isinstance(t, rustdl.cuda.FloatTensor) == (device != "cpu")
    assert isinstance(t, rustdl.FloatTensor) == (device == "cpu")
    x = rustdl.randn(2, device=device)
    assert x.type(rustdl.FloatTensor).device.type == "cpu"
    if device != "cpu":
        assert x.type(rustdl.cuda.FloatTensor) is x
        assert x.type(rustdl.cuda.LongTensor).device.type != "cpu"


def test_small_things():
    x = rustdl.zeros(2, 3, 4)
    assert x.ndimension() == 3 and x.nelement() == 24
    assert rustdl.pi == math.pi and rustdl.e == math.e
    assert rustdl.inf == math.inf and math.isnan(rustdl.nan)


def test_half_maps_to_float32():
    from rustdl import _tensor_api

    _tensor_api._HALF_WARNED[0] = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # naming the dtype warns of nothing (libraries' tables do)
        f16 = rustdl.float16
    with pytest.warns(UserWarning, match="float32"):  # converting a tensor to it does, once
        rustdl.ones(2).half()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # the 16-bit dtypes are their own objects (dtype-keyed tables keep their entries, with
        # PyTorch's item sizes), and tensors asked for in them are float32
        assert rustdl.half is f16 and f16 != rustdl.float32 and rustdl.bfloat16 not in (f16, rustdl.float32)
        assert len({f16: 2, rustdl.bfloat16: 2, rustdl.float32: 4}) == 3
        assert f16.itemsize == rustdl.bfloat16.itemsize == 2 and f16.is_floating_point
        assert rustdl.zeros(2, dtype=f16).dtype == rustdl.float32
        assert rustdl.ones(2).to(rustdl.bfloat16).dtype == rustdl.float32
        assert rustdl.randn(2, dtype=rustdl.float64).half().dtype == rustdl.float32
        assert rustdl.randn(2).bfloat16().dtype == rustdl.float32
        m = rustdl.nn.Linear(2, 2).double().half()
        assert m.weight.dtype == rustdl.float32
        assert rustdl.nn.Linear(2, 2).bfloat16().weight.dtype == rustdl.float32
    with pytest.raises(AttributeError):
        rustdl.float8  # noqa: B018


def test_default_dtype():
    assert rustdl.get_default_dtype() == rustdl.float32
    rustdl.set_default_dtype(rustdl.float32)
    with pytest.raises(TypeError, match="set_default_dtype"):
        rustdl.set_default_dtype(rustdl.int64)
    rustdl.set_default_tensor_type(rustdl.DoubleTensor)
    try:
        assert rustdl.get_default_dtype() == rustdl.float64
    finally:
        rustdl.set_default_tensor_type(rustdl.FloatTensor)
    rustdl.set_default_tensor_type("torch.FloatTensor")
    assert rustdl.get_default_dtype() == rustdl.float32
    with pytest.raises(TypeError, match="set_default_tensor_type"):
        rustdl.set_default_tensor_type(rustdl.LongTensor)


# ---------------------------------------------------------------- blas-like, lerp, isclose


def test_addmm_family_forward():
    i, a, b = R(3, 5), R(3, 4, seed=1), R(4, 5, seed=2)
    assert_close(rustdl.addmm(D(i), D(a), D(b)), i + a @ b)
    assert_close(rustdl.addmm(D(i), D(a), D(b), beta=0.5, alpha=2), 0.5 * i + 2 * a @ b)
    assert_close(D(i).addmm(D(a), D(b)), i + a @ b)
    bias = R(5)
    assert_close(rustdl.addmm(D(bias), D(a), D(b)), bias + a @ b)
    nan_in = np.full((3, 5), np.nan)
    assert_close(rustdl.addmm(D(nan_in), D(a), D(b), beta=0), a @ b)
    v = R(4, seed=3)
    assert_close(rustdl.addmv(D(R(3)), D(a), D(v), alpha=3), R(3) + 3 * a @ v)
    b1, b2 = R(2, 3, 4), R(2, 4, 5, seed=1)
    assert_close(rustdl.baddbmm(D(R(2, 3, 5)), D(b1), D(b2)), R(2, 3, 5) + b1 @ b2)
    assert_close(rustdl.addbmm(D(i), D(b1), D(b2), beta=2), 2 * i + (b1 @ b2).sum(0))
    with pytest.raises(ValueError, match="addmm"):
        rustdl.addmm(D(i), D(R(3)), D(b))
    with pytest.raises(TypeError, match="addmm"):
        rustdl.addmm(i, D(a), D(b))
    with pytest.raises(ValueError, match="baddbmm"):
        rustdl.baddbmm(D(i), D(a), D(b))


def test_addmm_lerp_gradcheck():
    i, a, b = D(R(3, 5), True), D(R(3, 4, seed=1), True), D(R(4, 5, seed=2), True)
    gradcheck(lambda i, a, b: rustdl.addmm(i, a, b, beta=0.7, alpha=1.3), [i, a, b])
    x, y, w = D(R(2, 3), True), D(R(2, 3, seed=1), True), D(R(2, 3, seed=2), True)
    gradcheck(lambda x, y, w: rustdl.lerp(x, y, w), [x, y, w])
    gradcheck(lambda x, y: x.lerp(y, 0.3), [x, y])


def test_lerp_forward():
    x, y, w = R(4), R(4, seed=1), R(4, seed=2)
    assert_close(rustdl.lerp(D(x), D(y), D(w)), x + w * (y - x))
    assert_close(rustdl.lerp(D(x), D(y), 0.25), x + 0.25 * (y - x))


def test_isclose_allclose():
    a = np.array([1.0, 2.0, np.nan, np.inf, -np.inf, 1e-9, 0.0])
    b = np.array([1.0 + 1e-6, 2.1, np.nan, np.inf, np.inf, 0.0, 0.0])
    got = rustdl.isclose(D(a), D(b)).numpy()
    assert got.tolist() == np.isclose(a, b).tolist()
    got = rustdl.isclose(D(a), D(b), equal_nan=True).numpy()
    assert got.tolist() == np.isclose(a, b, equal_nan=True).tolist()
    got = D(a).isclose(D(b), rtol=0.1).numpy()
    assert got.tolist() == np.isclose(a, b, rtol=0.1).tolist()
    assert rustdl.allclose(D([1.0, 2.0]), D([1.0, 2.0 + 1e-7]))
    assert not rustdl.allclose(D([1.0, np.nan]), D([1.0, np.nan]))
    assert rustdl.allclose(D([1.0, np.nan]), D([1.0, np.nan]), equal_nan=True)
    assert rustdl.isclose(rustdl.tensor([1, 2]), rustdl.tensor([1, 3])).tolist() == [True, False]
    assert rustdl.isclose(D([1.0]), 1.0).tolist() == [True]
    with pytest.raises(ValueError, match="isclose"):
        rustdl.isclose(D([1.0]), D([1.0]), rtol=-1)


# ---------------------------------------------------------------- counting


def test_unique():
    a = np.array([[3, 1, 3], [2, 1, 5]])
    t = rustdl.tensor(a)
    assert rustdl.unique(t).tolist() == [1, 2, 3, 5]
    vals, inv, cnt = rustdl.unique(t, return_inverse=True, return_counts=True)
    ev, ei, ec = np.unique(a, return_inverse=True, return_counts=True)
    assert vals.tolist() == ev.tolist() and cnt.tolist() == ec.tolist()
    assert inv.shape == (2, 3) and inv.numpy().reshape(-1).tolist() == ei.reshape(-1).tolist()
    assert t.unique().tolist() == [1, 2, 3, 5]
    rows = rustdl.tensor([[1, 2], [0, 1], [1, 2]])
    u, inv = rustdl.unique(rows, dim=0, return_inverse=True)
    assert u.tolist() == [[0, 1], [1, 2]] and inv.tolist() == [1, 0, 1]
    f = rustdl.unique(rustdl.tensor([2.5, 1.0, 2.5]))
    assert f.dtype == rustdl.float32 and f.tolist() == [1.0, 2.5]
    assert rustdl.unique(rustdl.zeros(0)).shape == (0,)
    with pytest.raises(ValueError, match="unique"):
        rustdl.unique(rows, dim=3)


def test_unique_consecutive():
    t = rustdl.tensor([1, 1, 2, 2, 3, 1, 1, 2])
    out, inv, cnt = rustdl.unique_consecutive(t, return_inverse=True, return_counts=True)
    assert out.tolist() == [1, 2, 3, 1, 2]
    assert inv.tolist() == [0, 0, 1, 1, 2, 3, 3, 4]
    assert cnt.tolist() == [2, 2, 1, 2, 1]
    rows = rustdl.tensor([[1, 2], [1, 2], [0, 0], [1, 2]])
    assert rustdl.unique_consecutive(rows, dim=0).tolist() == [[1, 2], [0, 0], [1, 2]]
    assert rustdl.unique_consecutive(rustdl.zeros(0, dtype=rustdl.int64)).shape == (0,)


def test_bincount_histc():
    x = rustdl.tensor([0, 1, 1, 3])
    assert rustdl.bincount(x).tolist() == [1, 2, 0, 1]
    assert rustdl.bincount(x, minlength=6).tolist() == [1, 2, 0, 1, 0, 0]
    w = rustdl.tensor([0.5, 1.0, 2.0, 1.0])
    assert_close(rustdl.bincount(x, weights=w), [0.5, 3.0, 0.0, 1.0])
    assert rustdl.bincount(w.new_zeros(0).long()).tolist() == []
    with pytest.raises(ValueError, match="bincount"):
        rustdl.bincount(rustdl.tensor([-1, 2]))
    with pytest.raises(ValueError, match="bincount"):
        rustdl.bincount(w)
    a = np.random.default_rng(0).standard_normal(100)
    got = rustdl.histc(D(a), bins=7, min=-1, max=1)
    ref, _ = np.histogram(a, bins=7, range=(-1, 1))
    assert_close(got, ref)
    assert got.dtype == rustdl.float64
    got = rustdl.histc(rustdl.tensor([1.0, 2.0, 1.0, 4.0]), bins=4)
    assert_close(got, np.histogram([1.0, 2.0, 1.0, 4.0], bins=4)[0])
    with pytest.raises(TypeError, match="histc"):
        rustdl.histc(x)
    with pytest.raises(ValueError, match="histc"):
        rustdl.histc(D(a), bins=0)


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing):
    a, b, c = np.arange(3.0), np.arange(2.0) + 10, np.arange(4.0) - 5
    got = rustdl.meshgrid(D(a), D(b), D(c), indexing=indexing)
    ref = np.meshgrid(a, b, c, indexing=indexing)
    for g, r in zip(got, ref):
        assert g.shape == r.shape
        assert_close(g, r)
    got = rustdl.meshgrid([D(a), D(b)], indexing=indexing)
    for g, r in zip(got, np.meshgrid(a, b, indexing=indexing)):
        assert_close(g, r)
    with pytest.raises(ValueError, match="meshgrid"):
        rustdl.meshgrid(D(a), indexing="zz")


@pytest.mark.parametrize("offset", [0, 1, -1, 2, -3, 5])
def test_diagonal(offset):
    a = R(3, 4, 5)
    for d1, d2 in [(0, 1), (1, 2), (2, 0), (-1, -2)]:
        got = rustdl.diagonal(D(a), offset, d1, d2)
        ref = np.diagonal(a, offset, d1, d2)
        assert got.shape == ref.shape
        assert_close(got, ref)
    assert_close(D(a[0]).diagonal(offset=offset), np.diagonal(a[0], offset))


def test_diagonal_diag_embed_grad():
    x = D(R(3, 4), True)
    gradcheck(lambda x: rustdl.diagonal(x, 1), [x])
    gradcheck(lambda x: x.diagonal(-1, 1, 0) * 2, [x])
    v = D(R(2, 3), True)
    gradcheck(lambda v: rustdl.diag_embed(v, -1), [v])


@pytest.mark.parametrize("offset", [0, 1, -2])
def test_diag_embed(offset):
    v = R(2, 3)
    got = rustdl.diag_embed(D(v), offset)
    ref = np.stack([np.diag(r, offset) for r in v])
    assert_close(got, ref)
    got = rustdl.diag_embed(D(v), offset, 0, 2)
    assert_close(got, np.moveaxis(ref, (1, 2), (0, 2)))
    assert_close(rustdl.diagonal(rustdl.diag_embed(D(v), offset), offset, -2, -1), v)
    with pytest.raises(ValueError, match="diag_embed"):
        rustdl.diag_embed(D(v), 0, 1, 1)


def test_diagonal_errors():
    with pytest.raises(ValueError, match="diagonal"):
        rustdl.diagonal(D([1.0, 2.0]))
    with pytest.raises(ValueError, match="diagonal"):
        rustdl.diagonal(D(R(2, 2)), 0, 1, 1)


def test_cross():
    a, b = R(4, 3), R(4, 3, seed=1)
    assert_close(rustdl.cross(D(a), D(b)), np.cross(a, b))
    assert_close(rustdl.linalg.cross(D(a), D(b)), np.cross(a, b))
    assert_close(D(a).cross(D(b), dim=1), np.cross(a, b))
    a3, b3 = R(3, 5), R(3, 5, seed=1)
    assert_close(rustdl.cross(D(a3), D(b3)), np.cross(a3, b3, axis=0))
    assert_close(rustdl.linalg.cross(D(a), D(b[0])), np.cross(a, b[0]))
    x, y = D(a, True), D(b, True)
    gradcheck(lambda x, y: rustdl.linalg.cross(x, y), [x, y])
    with pytest.raises(ValueError, match="cross"):
        rustdl.linalg.cross(D(R(2, 4)), D(R(2, 4)))
    with pytest.raises(ValueError, match="cross"):
        rustdl.cross(D(R(2, 4)), D(R(2, 4)))


def test_tile_unflatten_squeeze():
    a = R(2, 3)
    assert_close(rustdl.tile(D(a), (2,)), np.tile(a, (2,)))
    assert_close(rustdl.tile(D(a), (2, 1, 2)), np.tile(a, (2, 1, 2)))
    assert_close(D(a).tile((3, 2)), np.tile(a, (3, 2)))
    x = rustdl.zeros(2, 12, 5)
    assert x.unflatten(1, (3, 4)).shape == (2, 3, 4, 5)
    assert rustdl.unflatten(x, -1, (5, -1)).shape == (2, 12, 5, 1)
    with pytest.raises(ValueError, match="unflatten"):
        x.unflatten(1, (5, 3))
    y = rustdl.zeros(1, 3, 1, 1)
    assert y.squeeze((0, 2)).shape == (3, 1)
    assert y.squeeze((1,)).shape == (1, 3, 1, 1)
    assert rustdl.squeeze(y, (0, -1)).shape == (3, 1)
    assert y.squeeze().shape == (3,) and y.squeeze(0).shape == (3, 1, 1)
    g = D(R(1, 3, 1), True)
    gradcheck(lambda g: g.squeeze((0, 2)) * 3, [g])


def _cdist_ref(a, b, p):
    d = np.abs(a[..., :, None, :] - b[..., None, :, :])
    if p == np.inf:
        return d.max(-1)
    if p == 0:
        return (d != 0).sum(-1).astype(float)
    return (d**p).sum(-1) ** (1 / p)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.0, math.inf])
def test_cdist(p):
    a, b = R(2, 5, 3), R(2, 4, 3, seed=1)
    assert_close(rustdl.cdist(D(a), D(b), p=p), _cdist_ref(a, b, p))
    if p != 0:
        x, y = D(a[0], True), D(b[0], True)
        gradcheck(lambda x, y: rustdl.cdist(x, y, p=p), [x, y])


def test_cdist_zero_distance_and_mm():
    x = D([[0.0, 1.0], [2.0, 3.0]], True)
    rustdl.cdist(x, x).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    a, b = R(6, 3), R(7, 3, seed=1)
    got = rustdl.cdist(D(a), D(b), compute_mode="use_mm_for_euclid_dist")
    assert_close(got, _cdist_ref(a, b, 2), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="cdist"):
        rustdl.cdist(D(a), D(R(3, 2)))


def test_softmax_dtype():
    x = rustdl.randn(3, 4)
    for fn in (rustdl.softmax, F.softmax, rustdl.log_softmax, F.log_softmax):
        out = fn(x, -1, dtype=rustdl.float64)
        assert out.dtype == rustdl.float64
    assert x.softmax(dim=1, dtype=rustdl.float64).dtype == rustdl.float64
    assert_close(F.softmax(x, dim=-1), x.softmax(-1))
    assert_close(x.log_softmax(-1, dtype=rustdl.float64), x.log_softmax(-1), rtol=1e-5)


# ---------------------------------------------------------------- linalg


def test_vector_norm():
    a = R(3, 4)
    for ord in [2, 1, 3, 0, math.inf, -math.inf, 0.5]:
        assert_close(rustdl.linalg.vector_norm(D(a), ord), np.linalg.norm(a.reshape(-1), ord))
        got = rustdl.linalg.vector_norm(D(a), ord, dim=1, keepdim=True)
        assert_close(got, np.linalg.norm(a, ord, axis=1, keepdims=True))
    got = rustdl.linalg.vector_norm(D(R(2, 3, 4)), dim=(0, 2))
    assert_close(got, np.sqrt((R(2, 3, 4) ** 2).sum((0, 2))))
    assert rustdl.linalg.vector_norm(rustdl.randn(3), dtype=rustdl.float64).dtype == rustdl.float64
    with pytest.raises(TypeError, match="vector_norm"):
        rustdl.linalg.vector_norm(rustdl.tensor([1, 2]))


def test_matrix_norm_and_norm():
    a = R(2, 4, 3)
    for ord in ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf]:
        got = rustdl.linalg.matrix_norm(D(a), ord)
        assert_close(got, np.linalg.norm(a, ord, axis=(-2, -1)))
    got = rustdl.linalg.matrix_norm(D(a), 1, dim=(0, 2), keepdim=True)
    assert_close(got, np.linalg.norm(a, 1, axis=(0, 2), keepdims=True))
    m = a[0]
    assert_close(rustdl.linalg.norm(D(a)), np.linalg.norm(a.reshape(-1)))
    assert_close(rustdl.linalg.norm(D(m), "fro"), np.linalg.norm(m, "fro"))
    assert_close(rustdl.linalg.norm(D(m), 2), np.linalg.norm(m, 2))
    assert_close(rustdl.linalg.norm(D(m), math.inf), np.linalg.norm(m, math.inf))
    assert_close(rustdl.linalg.norm(D(m[0]), math.inf), np.linalg.norm(m[0], math.inf))
    assert_close(rustdl.linalg.norm(D(a), dim=1), np.linalg.norm(a, axis=1))
    assert_close(rustdl.linalg.norm(D(a), dim=(1, 2)), np.linalg.norm(a, axis=(1, 2)))
    assert_close(rustdl.linalg.norm(D(a), 1, dim=-1), np.linalg.norm(a, 1, axis=-1))
    with pytest.raises(ValueError, match="norm"):
        rustdl.linalg.norm(D(a), 2)
    with pytest.raises(ValueError, match="matrix_norm"):
        rustdl.linalg.matrix_norm(D(a), "bad")


def test_norm_gradcheck():
    x = D(R(3, 4), True)
    gradcheck(lambda x: rustdl.linalg.norm(x), [x])
    gradcheck(lambda x: rustdl.linalg.vector_norm(x, 3, dim=1), [x])
    gradcheck(lambda x: rustdl.linalg.vector_norm(x, 1, dim=0), [x])
    gradcheck(lambda x: rustdl.linalg.matrix_norm(x), [x])
    gradcheck(lambda x: rustdl.linalg.matrix_norm(x, "nuc"), [x])
    gradcheck(lambda x: rustdl.linalg.norm(x, 2), [x])
    z = D([0.0, 0.0], True)
    rustdl.linalg.vector_norm(z).backward()
    assert z.grad.tolist() == [0.0, 0.0]


def _spd(n, seed=0, batch=()):
    m = R(*batch, n, n, seed=seed)
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


@pytest.mark.parametrize("dt", [rustdl.float32, rustdl.float64])
def test_linalg_forward(dt):
    tol = dict(rtol=1e-4, atol=1e-4) if dt == rustdl.float32 else {}
    a = R(2, 3, 3) + 3 * np.eye(3)
    A = rustdl.tensor(a, dtype=dt)
    inv = rustdl.linalg.inv(A)
    assert inv.dtype == dt
    assert_close(inv, np.linalg.inv(a), **tol)
    assert_close(rustdl.inverse(A), np.linalg.inv(a), **tol)
    assert_close(A.inverse(), np.linalg.inv(a), **tol)
    assert_close(rustdl.linalg.det(A), np.linalg.det(a), **tol)
    assert_close(rustdl.det(A), np.linalg.det(a), **tol)
    sign, la = rustdl.linalg.slogdet(A)
    es, el = np.linalg.slogdet(a)
    assert_close(sign, es)
    assert_close(la, el, **tol)
    b = R(2, 3, 2)
    assert_close(rustdl.linalg.solve(A, rustdl.tensor(b, dtype=dt)), np.linalg.solve(a, b), **tol)
    v = R(2, 3)
    assert_close(
        rustdl.linalg.solve(A, rustdl.tensor(v, dtype=dt)), np.linalg.solve(a, v[..., None])[..., 0], **tol
    )
    s = _spd(4)
    S = rustdl.tensor(s, dtype=dt)
    assert_close(rustdl.linalg.cholesky(S), np.linalg.cholesky(s), **tol)
    assert_close(rustdl.linalg.cholesky(S, upper=True), np.linalg.cholesky(s).T, **tol)
    w, V = rustdl.linalg.eigh(S)
    ew, eV = np.linalg.eigh(s)
    assert_close(w, ew, **tol)
    assert_close(np.abs(V.numpy()), np.abs(eV), **tol)
    assert_close(rustdl.linalg.eigvalsh(S), ew, **tol)
    m = R(4, 3)
    M = rustdl.tensor(m, dtype=dt)
    U, Sv, Vh = rustdl.linalg.svd(M, full_matrices=False)
    assert U.shape == (4, 3) and Sv.shape == (3,) and Vh.shape == (3, 3)
    assert_close((U * Sv.unsqueeze(0)).matmul(Vh), m, **tol)
    assert rustdl.linalg.svd(M).U.shape == (4, 4)
    assert_close(rustdl.linalg.svdvals(M), np.linalg.svd(m, compute_uv=False), **tol)
    U2, S2, V2 = rustdl.svd(M)
    assert U2.shape == (4, 3) and V2.shape == (3, 3)
    assert_close((U2 * S2.unsqueeze(0)).matmul(V2.t()), m, **tol)
    Q, Rm = rustdl.linalg.qr(M)
    assert_close(Q.matmul(Rm), m, **tol)
    assert_close(rustdl.linalg.pinv(M), np.linalg.pinv(m), **tol)
    assert_close(rustdl.pinverse(M), np.linalg.pinv(m), **tol)
    low = rustdl.tensor(np.outer(R(4), R(3, seed=1)), dtype=dt)
    assert rustdl.linalg.matrix_rank(low).item() == 1
    assert rustdl.linalg.matrix_rank(M).item() == 3
    y = R(4, 2)
    sol = rustdl.linalg.lstsq(M, rustdl.tensor(y, dtype=dt)).solution
    assert_close(sol, np.linalg.lstsq(m, y, rcond=None)[0], **tol)


def test_trace_matrix_power_multi_dot():
    a = R(3, 3)
    assert_close(rustdl.trace(D(a)), np.trace(a))
    assert_close(D(a).trace(), np.trace(a))
    for n in (0, 1, 2, 5, -3):
        assert_close(rustdl.linalg.matrix_power(D(a), n), np.linalg.matrix_power(a, n), rtol=1e-6, atol=1e-8)
    b = R(2, 3, 3)
    assert_close(D(b).matrix_power(3), np.linalg.matrix_power(b, 3))
    assert_close(rustdl.matrix_power(D(b), 0), np.broadcast_to(np.eye(3), (2, 3, 3)))
    ms = [R(2, 3), R(3, 4, seed=1), R(4, seed=2)]
    assert_close(rustdl.linalg.multi_dot([D(m) for m in ms]), np.linalg.multi_dot(ms))
    x = D(a, True)
    gradcheck(lambda x: rustdl.linalg.matrix_power(x, 3), [x])
    gradcheck(lambda x: rustdl.trace(x), [x])
    with pytest.raises(ValueError, match="trace"):
        rustdl.trace(D(R(3)))
    with pytest.raises(ValueError, match="multi_dot"):
        rustdl.linalg.multi_dot([D(a)])


def test_triangular_and_cholesky_solve():
    a = R(3, 3) + 3 * np.eye(3)
    b = R(3, 2, seed=1)
    lo, up = np.tril(a), np.triu(a)
    assert_close(rustdl.linalg.solve_triangular(D(a), D(b), upper=False), np.linalg.solve(lo, b))
    assert_close(rustdl.linalg.solve_triangular(D(a), D(b), upper=True), np.linalg.solve(up, b))
    uni = np.tril(a, -1) + np.eye(3)
    got = rustdl.linalg.solve_triangular(D(a), D(b), upper=False, unitriangular=True)
    assert_close(got, np.linalg.solve(uni, b))
    bt = R(2, 3, seed=2)
    got = rustdl.linalg.solve_triangular(D(a), D(bt), upper=True, left=False)
    assert_close(got, bt @ np.linalg.inv(up))
    s = _spd(3)
    L = np.linalg.cholesky(s)
    assert_close(rustdl.cholesky_solve(D(b), D(L)), np.linalg.solve(s, b))
    assert_close(rustdl.linalg.cholesky_solve(D(b), D(L.T), upper=True), np.linalg.solve(s, b))
    x, y = D(a, True), D(b, True)
    gradcheck(lambda x, y: rustdl.linalg.solve_triangular(x, y, upper=False), [x, y])
    with pytest.raises(ValueError, match="solve_triangular"):
        rustdl.linalg.solve_triangular(D(a), D(R(3)), upper=True)


def test_logdet():
    a = _spd(3)
    assert_close(rustdl.logdet(D(a)), np.log(np.linalg.det(a)))
    assert_close(D(a).logdet(), np.log(np.linalg.det(a)))
    assert math.isnan(rustdl.logdet(D(np.diag([1.0, -2.0, 1.0]))).item())
    assert rustdl.logdet(D(np.zeros((2, 2)))).item() == -math.inf
    sign, la = D(np.diag([1.0, -2.0])).slogdet()
    assert sign.item() == -1.0 and la.item() == pytest.approx(math.log(2))
    x = D(a, True)
    gradcheck(lambda x: rustdl.logdet(x), [x])


def test_linalg_empty_batch():
    A = D(np.zeros((0, 3, 3)))
    assert rustdl.linalg.inv(A).shape == (0, 3, 3)
    assert rustdl.linalg.det(A).shape == (0,)


def test_linalg_errors():
    with pytest.raises(ValueError, match="linalg.inv"):
        rustdl.linalg.inv(D(R(2, 3)))
    with pytest.raises(ValueError, match="linalg.inv"):
        rustdl.linalg.inv(D(np.zeros((2, 2))))
    with pytest.raises(TypeError, match="linalg.det"):
        rustdl.linalg.det(rustdl.tensor([[1, 2], [3, 4]]))
    with pytest.raises(ValueError, match="linalg.cholesky"):
        rustdl.linalg.cholesky(D(-np.eye(2)))
    with pytest.raises(RuntimeError, match="linalg.cholesky"):  # as torch's LinAlgError
        rustdl.linalg.cholesky(D(-np.eye(2)))
    assert issubclass(rustdl.linalg.LinAlgError, RuntimeError)
    with pytest.raises(ValueError, match="linalg.solve"):
        rustdl.linalg.solve(D(np.eye(2)), D(R(3, 1)))
    with pytest.raises(TypeError, match="linalg.solve"):
        rustdl.linalg.solve(D(np.eye(2)), [1.0, 2.0])


def test_linalg_gradcheck():
    a = D(R(3, 3) + 3 * np.eye(3), True)
    gradcheck(lambda a: rustdl.linalg.inv(a), [a])
    gradcheck(lambda a: rustdl.linalg.det(a), [a])
    gradcheck(lambda a: rustdl.linalg.slogdet(a).logabsdet, [a])
    sing = D([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 2.0]], True)
    gradcheck(lambda a: rustdl.linalg.det(a), [sing])
    ab = D(R(2, 3, 3) + 3 * np.eye(3), True)
    gradcheck(lambda a: rustdl.linalg.det(a), [ab])
    b = D(R(3, 2), True)
    gradcheck(lambda a, b: rustdl.linalg.solve(a, b), [a, b])
    v = D(R(3), True)
    gradcheck(lambda a, v: rustdl.linalg.solve(a, v), [a, v])
    m = D(R(3, 3), True)

    def sym(m):
        return m.matmul(m.t()) + 3 * rustdl.eye(3, dtype=rustdl.float64)

    gradcheck(lambda m: rustdl.linalg.cholesky(sym(m)), [m])
    gradcheck(lambda m: rustdl.linalg.eigvalsh(sym(m)), [m])
    # eigenvectors up to sign: a sign-invariant function of them
    gradcheck(lambda m: rustdl.linalg.eigh(sym(m)).eigenvectors.square(), [m])
    r = D(R(4, 3), True)
    gradcheck(lambda r: rustdl.linalg.svdvals(r), [r])
    gradcheck(lambda r: rustdl.linalg.pinv(r), [r])


def test_svd_values_gradient_is_u_vt():
    r = D(R(4, 3), True)
    U, S, Vh = rustdl.linalg.svd(r, full_matrices=False)
    S.sum().backward()
    assert_close(r.grad, (U.detach().numpy() @ Vh.detach().numpy()))
    # mode='r' computes no Q, so no gradient can be formed (as PyTorch)
    with pytest.raises(RuntimeError, match="mode='r'"):
        rustdl.linalg.qr(r, mode="r")


# ---------------------------------------------------------------- GPU


def test_on_device(device):
    a = R(3, 3) + 3 * np.eye(3)
    A = rustdl.tensor(a, dtype=rustdl.float32, device=device, requires_grad=True)
    inv = rustdl.linalg.inv(A)
    assert inv.device.type == A.device.type
    assert_close(inv, np.linalg.inv(a), rtol=1e-4, atol=1e-5)
    inv.sum().backward()
    Ai = np.linalg.inv(a)
    assert_close(A.grad, -(Ai.T @ np.ones((3, 3)) @ Ai.T), rtol=1e-3, atol=1e-4)
    x = rustdl.tensor(R(5, 3), dtype=rustdl.float32, device=device)
    y = rustdl.tensor(R(4, 3, seed=1), dtype=rustdl.float32, device=device)
    assert_close(rustdl.cdist(x, y), _cdist_ref(R(5, 3), R(4, 3, seed=1), 2), rtol=1e-4, atol=1e-5)
    assert_close(rustdl.diagonal(x, 1), np.diagonal(R(5, 3), 1))
    assert_close(rustdl.linalg.norm(x), np.linalg.norm(R(5, 3)), rtol=1e-5)
    assert_close(
        rustdl.addmm(y.t()[0], x, y.t()),
        R(4, 3, seed=1).T[0] + R(5, 3) @ R(4, 3, seed=1).T,
        rtol=1e-4,
        atol=1e-5,
    )
    u = rustdl.unique(rustdl.tensor([3, 1, 3], device=device))
    assert u.device.type == x.device.type and u.tolist() == [1, 3]
    assert rustdl.as_tensor(x, device="cpu").device.type == "cpu"


# ---------------------------------------------------------------- through `import torch`


def test_through_torchcompat(tmp_path):
    import json
    import os
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, warnings
            import torch
            import torch.nn.functional as F
            from torch import linalg as LA
            warnings.simplefilter("ignore")
            x = torch.as_tensor([[1.0, 2.0], [3.0, 4.0]])
            out = {
                "type": x.type(), "long": x.type(torch.LongTensor).type(),
                "ft": list(torch.FloatTensor(2, 3).shape), "ndim": x.ndimension(),
                "half": str(x.half().dtype), "f16": torch.float16 != torch.float32,
                "default": str(torch.get_default_dtype()),
                "norm": round(float(torch.linalg.norm(x)), 4),
                "la_inv": LA.inv(x).tolist(), "det": round(float(torch.det(x)), 4),
                "unique": torch.unique(torch.tensor([2, 1, 2])).tolist(),
                "softmax": str(F.softmax(x, dim=-1, dtype=torch.float64).dtype),
                "pi": torch.pi,
            }
            print(json.dumps(out))
            """
        )
    )
    env = dict(os.environ, RUSTDL_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "rustdl.torchcompat", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["type"] == "torch.FloatTensor" and r["long"] == "torch.LongTensor"
    assert r["ft"] == [2, 3] and r["ndim"] == 2 and r["f16"]
    assert r["half"].endswith("float32") and r["default"].endswith("float32")
    assert r["norm"] == round(float(np.sqrt(30.0)), 4)
    np.testing.assert_allclose(r["la_inv"], np.linalg.inv([[1.0, 2.0], [3.0, 4.0]]), rtol=1e-5)
    assert r["det"] == -2.0 and r["unique"] == [1, 2]
    assert r["softmax"].endswith("float64") and r["pi"] == math.pi
