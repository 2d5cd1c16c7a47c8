"""The everyday tensor API (issue 14): each op against a numpy reference on cpu and gpu,
gradients against finite differences or closed forms."""

import collections
import math

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from conftest import assert_close


def T(a, device, dtype=None, requires_grad=False):
    a = np.asarray(a)
    if dtype is None and a.dtype == np.float64:
        dtype = rustdl.float32
    return rustdl.tensor(a, dtype=dtype, device=device, requires_grad=requires_grad)


def numgrad(f, x, eps=1e-6):
    """Central finite differences of scalar f at float64 array x."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


def cpu_grad(f, x):
    """Autograd gradient of scalar f(tensor) at float64 array x (CPU, float64)."""
    t = rustdl.tensor(x, dtype=rustdl.float64, requires_grad=True)
    f(t).backward()
    return t.grad.numpy()


# ---------------------------------------------------------------- type()


def test_type_names_and_conversion(device):
    x = T([1.5, 2.5], device)
    prefix = "torch.cuda." if device == "gpu" else "torch."
    assert x.type() == prefix + "FloatTensor"
    assert x.long().type() == prefix + "LongTensor"
    assert x.bool().type() == prefix + "BoolTensor"
    y = x.type(rustdl.int64)
    assert y.dtype == rustdl.int64 and y.tolist() == [1, 2]
    z = x.type("torch.LongTensor")
    assert z.dtype == rustdl.int64 and z.device.type == "cpu"
    if device == "cpu":
        assert x.type("torch.DoubleTensor").dtype == rustdl.float64
    with pytest.raises(TypeError):
        x.type("torch.SparseThing")


# ---------------------------------------------------------------- sort / topk


def test_sort_argsort_topk(device):
    a = np.array([[3.0, 1.0, 2.0, 1.0, np.nan], [0.5, -1.0, 4.0, 4.0, 2.0]], dtype=np.float32)
    x = T(a, device)
    v, i = x.sort()
    ref_i = np.argsort(a, axis=-1, kind="stable")
    assert i.tolist() == ref_i.tolist()
    assert_close(v, np.take_along_axis(a, ref_i, -1))
    vd, idd = x.sort(dim=1, descending=True)
    # descending and stable: NaN first, ties in their original order
    ref_d = [[4, 0, 2, 1, 3], [2, 3, 4, 0, 1]]
    assert idd.tolist() == ref_d
    assert x.argsort(dim=0).tolist() == np.argsort(a, axis=0, kind="stable").tolist()
    b = np.random.randn(4, 7).astype(np.float32)
    tv, ti = T(b, device).topk(3, dim=1)
    ref = np.sort(b, axis=1)[:, ::-1][:, :3]
    assert_close(tv, ref)
    assert_close(np.take_along_axis(b, ti.cpu().numpy(), 1), ref)
    sv, si = T(b, device).topk(2, dim=0, largest=False)
    assert_close(sv, np.sort(b, axis=0)[:2])
    values, indices = T(b, device).topk(1)
    assert values.shape == (4, 1) and indices.dtype == rustdl.int64
    with pytest.raises(IndexError):
        T(b, device).topk(8)
    ints = T(np.array([5, -2, 7, 0]), device)
    assert ints.sort().values.tolist() == [-2, 0, 5, 7]
    assert rustdl.argsort(ints, descending=True).tolist() == [2, 0, 3, 1]


def test_sort_zero_size_and_scalar(device):
    e = T(np.zeros((3, 0), dtype=np.float32), device)
    v, i = e.sort(dim=1)
    assert v.shape == (3, 0) and i.shape == (3, 0)
    assert e.topk(0, dim=1).values.shape == (3, 0)
    s = T(np.float32(2.0), device)
    assert s.sort().values.item() == 2.0


def test_topk_gradient(device):
    b = np.random.randn(3, 5).astype(np.float32)
    x = T(b, device, requires_grad=True)
    v, i = x.topk(2, dim=1)
    (v * T([[1.0, 2.0]], device)).sum().backward()
    ref = np.zeros_like(b)
    idx = np.argsort(-b, axis=1)[:, :2]
    for r in range(3):
        ref[r, idx[r, 0]] = 1.0
        ref[r, idx[r, 1]] = 2.0
    assert_close(x.grad, ref)


# ---------------------------------------------------------------- cumsum / cumprod / prod


def test_cumsum_cumprod_values(device):
    a = np.random.randn(3, 4, 5).astype(np.float32)
    x = T(a, device)
    for d in (0, 1, 2, -1):
        assert_close(x.cumsum(d), np.cumsum(a, axis=d), rtol=1e-5, atol=1e-5)
        assert_close(x.cumprod(d), np.cumprod(a, axis=d), rtol=1e-5, atol=1e-5)
    ints = T(np.array([[1, 2, 3], [4, 5, 6]]), device)
    c = ints.cumsum(1)
    assert c.dtype == rustdl.int64 and c.tolist() == np.cumsum([[1, 2, 3], [4, 5, 6]], 1).tolist()
    assert rustdl.cumprod(ints, 0).tolist() == [[1, 2, 3], [4, 10, 18]]
    assert T(np.array([True, True, False]), device).cumsum(0).tolist() == [1, 2, 2]
    assert x.cumsum(1, dtype=rustdl.float32).dtype == rustdl.float32
    assert T(np.zeros((0, 3), dtype=np.float32), device).cumsum(0).shape == (0, 3)
    with pytest.raises(IndexError):
        x.cumsum(3)


def test_prod(device):
    a = np.random.rand(3, 4).astype(np.float32) + 0.5
    x = T(a, device)
    assert_close(x.prod(), np.prod(a), rtol=1e-5)
    assert_close(x.prod(1), np.prod(a, 1), rtol=1e-5)
    assert x.prod(0, keepdim=True).shape == (1, 4)
    assert_close(T(np.zeros((2, 0), dtype=np.float32), device).prod(1), [1.0, 1.0])
    assert T(np.array([2, 3, 4]), device).prod().item() == 24


@pytest.mark.parametrize("with_zero", [False, True])
def test_cumprod_prod_gradients_with_zeros(with_zero):
    a = np.random.randn(2, 5)
    if with_zero:
        a[0, 1] = 0.0
        a[1, 3] = 0.0
        a[1, 0] = 0.0
    w = np.random.randn(2, 5)

    def f_np(v):
        return float((np.cumprod(v, axis=1) * w).sum())

    g = cpu_grad(lambda t: (t.cumprod(1) * rustdl.tensor(w)).sum(), a)
    np.testing.assert_allclose(g, numgrad(f_np, a), rtol=1e-6, atol=1e-7)
    gp = cpu_grad(lambda t: (t.prod(1) * rustdl.tensor(w[:, 0])).sum(), a)
    np.testing.assert_allclose(gp, numgrad(lambda v: float((np.prod(v, 1) * w[:, 0]).sum()), a), atol=1e-7)
    gs = cpu_grad(lambda t: (t.cumsum(0) * rustdl.tensor(w)).sum(), a)
    np.testing.assert_allclose(gs, np.cumsum(w[::-1], axis=0)[::-1], atol=1e-12)


def test_cumsum_gradient_gpu(device):
    w = np.random.randn(4, 3).astype(np.float32)
    x = T(np.random.randn(4, 3), device, requires_grad=True)
    (x.cumsum(1) * T(w, device)).sum().backward()
    assert_close(x.grad, np.cumsum(w[:, ::-1], axis=1)[:, ::-1], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- triangles


def test_tril_triu(device):
    a = np.random.randn(2, 4, 5).astype(np.float32)
    x = T(a, device)
    for k in (-2, -1, 0, 1, 3, 9):
        assert_close(x.tril(k), np.tril(a, k))
        assert_close(rustdl.triu(x, k), np.triu(a, k))
    y = T(a[0], device)
    y.tril_()
    assert_close(y, np.tril(a[0]))
    z = T(a[0], device)
    assert z.triu_(1) is z
    assert_close(z, np.triu(a[0], 1))
    assert T(np.zeros((0, 3), dtype=np.float32), device).tril().shape == (0, 3)
    assert T(np.ones((3, 3), dtype=bool), device).tril().tolist() == np.tril(np.ones((3, 3), bool)).tolist()
    with pytest.raises(ValueError):
        T(a[0, 0], device).tril()
    g = T(a[0], device, requires_grad=True)
    g.triu(1).sum().backward()
    assert_close(g.grad, np.triu(np.ones_like(a[0]), 1))


# ---------------------------------------------------------------- multinomial


def test_multinomial_with_replacement_frequencies(device):
    p = np.array([0.1, 0.0, 0.6, 0.3], dtype=np.float32)
    s = rustdl.multinomial(T(p, device), 20000, replacement=True)
    assert s.shape == (20000,) and s.dtype == rustdl.int64
    counts = np.bincount(s.cpu().numpy(), minlength=4) / 20000
    np.testing.assert_allclose(counts, p, atol=0.02)
    assert counts[1] == 0
    rows = T(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 5.0]]), device).multinomial(4, replacement=True)
    assert rows.tolist() == [[0] * 4, [2] * 4]


def test_multinomial_without_replacement(device):
    p = T(np.array([[0.2, 0.3, 0.5, 0.0], [1.0, 1.0, 1.0, 1.0]]), device)
    s = p.multinomial(3)
    assert s.shape == (2, 3)
    for row in s.tolist():
        assert len(set(row)) == 3
    assert 3 not in s.tolist()[0]
    # the first draw follows p
    first = np.array([T(np.array([0.2, 0.8]), device).multinomial(1).item() for _ in range(400)])
    assert abs(first.mean() - 0.8) < 0.08
    # row 0 has only 3 non-zero categories: its 4th sample is the zero-probability one, after
    # all positive ones (as PyTorch 2.x; older versions raised)
    four = p.multinomial(4).tolist()
    assert sorted(four[0][:3]) == [0, 1, 2] and four[0][3] == 3 and sorted(four[1]) == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        p.multinomial(5)  # more samples than categories
    with pytest.raises(ValueError):
        T(np.array([0.5, -0.1]), device).multinomial(1)
    with pytest.raises(ValueError):
        T(np.array([0.0, 0.0]), device).multinomial(1)
    with pytest.raises(ValueError):
        T(np.ones((2, 2, 2)), device).multinomial(1)


def test_multinomial_is_seeded(device):
    p = T(np.array([0.25, 0.25, 0.5]), device)
    rustdl.manual_seed(3)
    a = p.multinomial(10, replacement=True).tolist()
    rustdl.manual_seed(3)
    assert p.multinomial(10, replacement=True).tolist() == a


# ---------------------------------------------------------------- products


def test_dot_outer(device):
    a, b = np.random.randn(5).astype(np.float32), np.random.randn(5).astype(np.float32)
    assert_close(T(a, device).dot(T(b, device)), np.dot(a, b), rtol=1e-5)
    assert_close(rustdl.outer(T(a, device), T(b[:3], device)), np.outer(a, b[:3]))
    assert T(np.array([1, 2]), device).dot(T(np.array([3, 4]), device)).item() == 11
    with pytest.raises(ValueError):
        T(a, device).dot(T(b[:4], device))
    with pytest.raises(ValueError):
        T(np.ones((2, 2)), device).dot(T(np.ones((2, 2)), device))
    with pytest.raises(TypeError):
        T(a, device).dot(T(np.arange(5), device))
    x = T(a, device, requires_grad=True)
    x.dot(T(b, device)).backward()
    assert_close(x.grad, b)
    e = T(np.zeros(0, dtype=np.float32), device)
    assert e.dot(e).item() == 0.0 and e.outer(T(a, device)).shape == (0, 5)


# ---------------------------------------------------------------- rounding, division


def test_round_ceil_trunc(device):
    a = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 1.7, -1.7, 0.0], dtype=np.float32)
    x = T(a, device)
    assert_close(x.round(), np.round(a))
    assert_close(x.ceil(), np.ceil(a))
    assert_close(x.trunc(), np.trunc(a))
    assert_close(T(np.array([1.234, -5.678]), device).round(decimals=2), [1.23, -5.68], rtol=1e-5)
    ints = T(np.array([1, -2]), device)
    assert ints.round().tolist() == [1, -2] and ints.ceil().dtype == rustdl.int64
    g = T(a, device, requires_grad=True)
    g.round().sum().backward()
    assert_close(g.grad, np.zeros_like(a))


def test_remainder_fmod_floordiv_float(device):
    a = np.array([5.5, -5.5, 5.5, -5.5, 3.0, 0.0], dtype=np.float32)
    b = np.array([2.0, 2.0, -2.0, -2.0, 1.5, 3.0], dtype=np.float32)
    x, y = T(a, device), T(b, device)
    assert_close(x % y, np.remainder(a, b))
    assert_close(x.remainder(y), np.remainder(a, b))
    assert_close(x.fmod(y), np.fmod(a, b))
    assert_close(x // y, np.floor_divide(a, b))
    assert_close(x % 2, np.remainder(a, 2))
    assert_close(7.0 % y, np.remainder(7.0, b))
    assert_close(7 // y, np.floor_divide(7.0, b))


def test_remainder_fmod_floordiv_int(device):
    a = np.array([7, -7, 7, -7, 0, 9])
    b = np.array([2, 2, -2, -2, 3, 3])
    x, y = T(a, device), T(b, device)
    assert (x % y).tolist() == np.remainder(a, b).tolist()
    assert (x // y).tolist() == np.floor_divide(a, b).tolist()
    assert rustdl.fmod(x, y).tolist() == np.fmod(a, b).tolist()
    assert (x % y).dtype == rustdl.int64
    assert (x // 2).tolist() == np.floor_divide(a, 2).tolist()
    assert (x % 3.0).dtype == rustdl.float32
    if device == "cpu":
        with pytest.raises(ZeroDivisionError):
            x // 0
        with pytest.raises(ZeroDivisionError):
            x % T(np.array([1, 0, 1, 1, 1, 1]), device)


def test_remainder_gradient():
    a = np.array([5.3, -2.2, 7.9])
    b = np.array([2.0, 1.5, -3.0])
    x = rustdl.tensor(a, requires_grad=True)
    y = rustdl.tensor(b, requires_grad=True)
    (x % y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones(3))
    np.testing.assert_allclose(y.grad.numpy(), -np.floor(a / b))
    x2 = rustdl.tensor(a, requires_grad=True)
    y2 = rustdl.tensor(b, requires_grad=True)
    x2.fmod(y2).sum().backward()
    np.testing.assert_allclose(y2.grad.numpy(), -np.trunc(a / b))


# ---------------------------------------------------------------- NaN / inf


def test_isnan_isinf_isfinite_nan_to_num(device):
    a = np.array([1.0, np.nan, np.inf, -np.inf, -0.0, 3.5], dtype=np.float32)
    x = T(a, device)
    assert x.isnan().tolist() == np.isnan(a).tolist()
    assert x.isinf().tolist() == np.isinf(a).tolist()
    assert rustdl.isfinite(x).tolist() == np.isfinite(a).tolist()
    assert x.isnan().dtype == rustdl.bool
    assert_close(x.nan_to_num(), np.nan_to_num(a), rtol=1e-6)
    assert_close(
        x.nan_to_num(nan=2.0, posinf=9.0, neginf=-9.0), np.nan_to_num(a, nan=2.0, posinf=9.0, neginf=-9.0)
    )
    ints = T(np.array([1, 2]), device)
    assert ints.isnan().tolist() == [False, False] and ints.isfinite().tolist() == [True, True]
    assert T(np.zeros(0, dtype=np.float32), device).isnan().shape == (0,)


# ---------------------------------------------------------------- shapes


def test_unbind_roll_movedim_swapaxes(device):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = T(a, device)
    parts = x.unbind(1)
    assert isinstance(parts, tuple) and len(parts) == 3
    for k, p in enumerate(parts):
        assert_close(p, a[:, k])
    assert len(rustdl.unbind(x)) == 2
    assert_close(x.roll(1, 2), np.roll(a, 1, 2))
    assert_close(x.roll((-1, 5), (0, 2)), np.roll(a, (-1, 5), (0, 2)))
    assert_close(x.roll(5), np.roll(a, 5))
    assert_close(x.movedim(0, 2), np.moveaxis(a, 0, 2))
    assert_close(x.movedim((0, 1), (2, 0)), np.moveaxis(a, (0, 1), (2, 0)))
    assert_close(rustdl.swapaxes(x, 0, 2), np.swapaxes(a, 0, 2))
    assert_close(x.moveaxis(-1, 0), np.moveaxis(a, -1, 0))
    with pytest.raises(IndexError):
        x.movedim(3, 0)
    e = T(np.zeros((0, 2), dtype=np.float32), device)
    assert e.roll(1, 0).shape == (0, 2) and e.unbind(0) == ()
    g = T(a, device, requires_grad=True)
    (g.roll(1, 1) * T(a, device)).sum().backward()
    assert_close(g.grad, np.roll(a, -1, 1))


def test_diag(device):
    v = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    m = np.arange(12, dtype=np.float32).reshape(3, 4)
    for k in (-2, -1, 0, 1, 2):
        assert_close(T(v, device).diag(k), np.diag(v, k))
        assert_close(rustdl.diag(T(m, device), k), np.diag(m, k))
    assert T(m, device).diag(7).shape == (0,)
    g = T(m, device, requires_grad=True)
    g.diag(1).sum().backward()
    assert_close(g.grad, np.eye(3, 4, 1))


def test_repeat_interleave_broadcast(device):
    a = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    x = T(a, device)
    assert_close(x.repeat_interleave(2), np.repeat(a, 2))
    assert_close(x.repeat_interleave(3, dim=1), np.repeat(a, 3, axis=1))
    assert_close(x.repeat_interleave(T(np.array([1, 2]), device), dim=0), np.repeat(a, [1, 2], axis=0))
    with pytest.raises(ValueError):
        x.repeat_interleave(T(np.array([1, 2, 3]), device), dim=0)
    assert_close(x.broadcast_to((3, 2, 2)), np.broadcast_to(a, (3, 2, 2)))
    assert_close(T(a[:1], device).broadcast_to(4, -1), np.broadcast_to(a[:1], (4, 2)))
    with pytest.raises(ValueError):
        x.broadcast_to((3, 3))
    assert rustdl.broadcast_shapes((2, 1), (3, 1, 4), (4,)) == (3, 2, 4)
    with pytest.raises(ValueError):
        rustdl.broadcast_shapes((2,), (3,))
    p, q = rustdl.broadcast_tensors(T(np.ones((2, 1)), device), T(np.ones(3), device))
    assert p.shape == (2, 3) and q.shape == (2, 3)


def test_amax_amin(device):
    a = np.random.randn(3, 4, 5).astype(np.float32)
    x = T(a, device)
    assert_close(x.amax(), a.max())
    assert_close(x.amax(1), a.max(1))
    assert_close(x.amin((0, 2), keepdim=True), a.min((0, 2), keepdims=True))
    assert_close(rustdl.amax(x, -1), a.max(-1))
    g = T(np.array([1.0, 3.0, 3.0, 2.0]), device, requires_grad=True)
    g.amax().backward()
    assert_close(g.grad, [0.0, 0.5, 0.5, 0.0])
    with pytest.raises(IndexError):  # as PyTorch
        T(np.zeros((0, 2), dtype=np.float32), device).amax(0)


# ---------------------------------------------------------------- special functions


def test_erf_expm1_log2_log10(device):
    a = np.array([-3.0, -0.5, -1e-4, 0.0, 1e-6, 0.7, 2.0], dtype=np.float32)
    x = T(a, device)
    assert_close(x.erf(), [math.erf(v) for v in a.astype(np.float64)], rtol=1e-5, atol=1e-6)
    assert_close(x.expm1(), np.expm1(a.astype(np.float64)), rtol=1e-5, atol=1e-9)
    p = np.array([0.5, 1.0, 8.0, 1000.0], dtype=np.float32)
    assert_close(T(p, device).log2(), np.log2(p), rtol=1e-6, atol=1e-6)
    assert_close(rustdl.log10(T(p, device)), np.log10(p), rtol=1e-6, atol=1e-6)
    g = T(a, device, requires_grad=True)
    (g.erf().sum() + g.expm1().sum()).backward()
    ref = 2 / np.sqrt(np.pi) * np.exp(-(a.astype(np.float64) ** 2)) + np.exp(a.astype(np.float64))
    assert_close(g.grad, ref, rtol=1e-5)


def test_std_var_mean():
    a = np.random.randn(4, 5)
    s, m = rustdl.std_mean(rustdl.tensor(a), 1)
    assert_close(s, a.std(1, ddof=1))
    assert_close(m, a.mean(1))
    v, m = rustdl.var_mean(rustdl.tensor(a), dim=0, correction=0)
    assert_close(v, a.var(0))


# ---------------------------------------------------------------- einsum


@pytest.mark.parametrize(
    "eq,shapes",
    [
        ("ij,jk->ik", [(3, 4), (4, 5)]),
        ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
        ("i,i->", [(6,), (6,)]),
        ("ij->ji", [(3, 4)]),
        ("bi,bi->b", [(3, 5), (3, 5)]),
        ("ij,j->i", [(3, 4), (4,)]),
        ("ij->", [(3, 4)]),
        ("ii->i", [(4, 4)]),
        ("i,j->ij", [(3,), (4,)]),
        ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
        ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
        ("ij,kj", [(3, 4), (5, 4)]),
    ],
)
def test_einsum(device, eq, shapes):
    arrs = [np.random.randn(*s).astype(np.float32) for s in shapes]
    out = rustdl.einsum(eq, *[T(a, device) for a in arrs])
    assert_close(out, np.einsum(eq, *arrs), rtol=1e-4, atol=1e-5)


def test_einsum_gradient_and_errors():
    a, b = np.random.randn(3, 4), np.random.randn(4, 2)
    x = rustdl.tensor(a, requires_grad=True)
    rustdl.einsum("ij,jk->ik", x, rustdl.tensor(b)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones((3, 2)) @ b.T, rtol=1e-10)
    with pytest.raises(ValueError):
        rustdl.einsum("ij,jk->ik", x)
    with pytest.raises(ValueError):
        rustdl.einsum("ijk->i", x)


# ---------------------------------------------------------------- creation


def test_randint_signatures(device):
    a = rustdl.randint(10, (3, 4), device=device)
    assert a.shape == (3, 4) and a.dtype == rustdl.int64
    b = rustdl.randint(5, 8, size=(100,), device=device).cpu().numpy()
    assert b.min() >= 5 and b.max() < 8
    c = rustdl.randint(3, size=(50,)).numpy()
    assert c.min() >= 0 and c.max() < 3
    assert rustdl.randint(low=2, high=4, size=(5,)).numpy().min() >= 2
    assert rustdl.randint(0, 2, (4,), dtype=rustdl.float32).dtype == rustdl.float32
    assert rustdl.randint(4, (0,)).shape == (0,)
    with pytest.raises(ValueError):
        rustdl.randint(5, 5, (2,))


def test_tensor_from_sequences(device):
    assert rustdl.tensor((1, 2, 3), device=device).tolist() == [1, 2, 3]
    assert rustdl.tensor(collections.deque([1.5, 2.5])).tolist() == [1.5, 2.5]
    assert rustdl.tensor(range(4)).tolist() == [0, 1, 2, 3]
    assert rustdl.tensor(list(i * i for i in range(3))).tolist() == [0, 1, 4]
    t = rustdl.tensor([rustdl.tensor(1.0), rustdl.tensor(2.5)], device=device)
    assert t.tolist() == [1.0, 2.5] and t.dtype == rustdl.float32
    assert rustdl.tensor([rustdl.tensor(3), rustdl.tensor(4)]).dtype == rustdl.int64
    assert rustdl.tensor([np.float32(1.5), np.int64(2)]).tolist() == [1.5, 2.0]
    nested = rustdl.tensor(
        [[rustdl.tensor(1.0), rustdl.tensor(2.0)], [rustdl.tensor(3.0), rustdl.tensor(4.0)]]
    )
    assert nested.shape == (2, 2)
    # inside a list a tensor is one number, as PyTorch reads it (torch.stack joins tensors)
    with pytest.raises(ValueError, match="one element tensors"):
        rustdl.tensor([rustdl.tensor([1.0, 2.0]), rustdl.tensor([3.0, 4.0])])
    assert rustdl.tensor([(1, 2), (3, 4)]).shape == (2, 2)


def test_empty_new_empty_finfo_iinfo(device):
    e = rustdl.empty((2, 3), dtype=rustdl.int64, device=device)
    assert (
        e.shape == (2, 3)
        and e.dtype == rustdl.int64
        and e.device.type == ("gpu" if device == "gpu" else "cpu")
    )
    assert rustdl.empty(2, 3).shape == (2, 3)
    x = T(np.ones(3), device)
    n = x.new_empty((4, 1))
    assert n.shape == (4, 1) and n.dtype == x.dtype and n.device == x.device
    assert x.new_empty(2, dtype=rustdl.int64).dtype == rustdl.int64
    f = rustdl.finfo(rustdl.float32)
    assert f.eps == float(np.finfo(np.float32).eps) and f.max == float(np.finfo(np.float32).max)
    assert f.tiny == float(np.finfo(np.float32).tiny) and f.bits == 32 and f.min == -f.max
    assert rustdl.finfo(rustdl.float64).eps == float(np.finfo(np.float64).eps)
    assert rustdl.finfo().bits == 32
    i = rustdl.iinfo(rustdl.int64)
    assert i.max == np.iinfo(np.int64).max and i.min == np.iinfo(np.int64).min and i.bits == 64
    with pytest.raises(TypeError):
        rustdl.finfo(rustdl.int64)
    with pytest.raises(TypeError):
        rustdl.iinfo(rustdl.float32)
    for name in ("uint8", "int8", "int16", "int32"):
        info, ref = rustdl.iinfo(getattr(rustdl, name)), np.iinfo(name)
        assert (info.min, info.max, info.bits, info.dtype) == (ref.min, ref.max, ref.bits, name)
    with pytest.raises(TypeError):
        rustdl.iinfo(rustdl.bool)


# ---------------------------------------------------------------- indexing


def test_index_with_range_and_tuple_lists(device):
    a = np.arange(20, dtype=np.float32).reshape(4, 5)
    x = T(a, device)
    y = np.array([1, 0, 4, 2])
    assert_close(x[range(4), y.tolist()], a[range(4), y])
    assert_close(x[range(4), T(y, device)], a[np.arange(4), y])
    assert_close(x[[0, 2]], a[[0, 2]])
    assert_close(x[(0, 2), :], a[[0, 2], :])
    assert_close(x[range(1, 3)], a[1:3])
    assert x[[]].shape == (0, 5)
    z = T(a, device)
    z[range(4), y.tolist()] = 0.0
    ref = a.copy()
    ref[np.arange(4), y] = 0.0
    assert_close(z, ref)
    w = T(a, device)
    w[[0, 3]] = T(np.ones(5, dtype=np.float32), device)
    ref = a.copy()
    ref[[0, 3]] = 1.0
    assert_close(w, ref)


# ---------------------------------------------------------------- devices


def test_device_niceties(device):
    x = T(np.ones(2), device)
    assert x.is_mps is False and x.is_xpu is False and x.is_meta is False
    assert x.get_device() == (-1 if device == "cpu" else 0)
    assert x.device.type == ("cpu" if device == "cpu" else "gpu")
    assert rustdl.device("cuda") == rustdl.device("gpu")
    assert rustdl.device("cuda:0") == rustdl.device("gpu:0")
    if device == "gpu":
        y = T(np.ones(2), "cpu").cuda()
        assert y.device == rustdl.device("cuda") and y.is_cuda
        assert T(np.ones(2), "cpu").cuda(0).get_device() == 0
        assert T(np.ones(2), "cpu").cuda("cuda:0").device.type == "gpu"


# ---------------------------------------------------------------- exact gradients at 0


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_softplus_gradient_exact_at_zero(beta):
    pts = np.array([0.0, -0.0, 1e-3, -1e-3, 5.0, -5.0, 30.0, -30.0, 9.99, 10.01])
    x = rustdl.tensor(pts, requires_grad=True)
    F.softplus(x, beta=beta).sum().backward()
    bx = beta * pts
    ref = np.where(bx > 20, 1.0, 1.0 / (1.0 + np.exp(-bx)))
    np.testing.assert_allclose(x.grad.numpy(), ref, rtol=1e-10, atol=1e-12)
    assert x.grad.numpy()[0] == pytest.approx(0.5)

    def f(v):
        return float(np.sum(np.where(beta * v > 20, v, np.logaddexp(0, beta * v) / beta)))

    np.testing.assert_allclose(x.grad.numpy(), numgrad(f, pts), atol=1e-6)
    y = rustdl.tensor(pts, requires_grad=True)
    assert_close(F.softplus(y, beta=beta), np.where(bx > 20, pts, np.logaddexp(0, bx) / beta))


def test_softplus_gradient_gpu(device):
    x = T(np.array([0.0, 2.0, -2.0]), device, requires_grad=True)
    F.softplus(x).sum().backward()
    assert_close(x.grad, 1 / (1 + np.exp(-np.array([0.0, 2.0, -2.0]))), rtol=1e-5)


def test_bce_with_logits_gradient_exact_at_zero(device):
    logits = np.array([0.0, 0.0, -0.0, 50.0, -50.0, 1e-4, 3.0])
    target = np.array([1.0, 0.0, 0.3, 1.0, 0.0, 0.5, 0.2])
    x = T(logits, device, dtype=rustdl.float64 if device == "cpu" else rustdl.float32, requires_grad=True)
    t = T(target, device, dtype=x.dtype)
    F.binary_cross_entropy_with_logits(x, t, reduction="sum").backward()
    ref = 1 / (1 + np.exp(-logits)) - target
    assert_close(x.grad, ref, rtol=1e-6, atol=1e-7)

    def f(v):
        return float(np.sum(np.logaddexp(0, v) - target * v))

    assert_close(x.grad, numgrad(f, logits), rtol=1e-5, atol=1e-6)
    pw = T(np.array([2.0] * 7), device, dtype=x.dtype)
    x2 = T(logits, device, dtype=x.dtype, requires_grad=True)
    F.binary_cross_entropy_with_logits(x2, t, pos_weight=pw, reduction="sum").backward()
    s = 1 / (1 + np.exp(-logits))
    ref2 = (1 + target) * s - 2.0 * target
    assert_close(x2.grad, ref2, rtol=1e-6, atol=1e-7)
