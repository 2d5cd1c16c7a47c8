"""Breadth D: math, order statistics, shape and index helpers, each against numpy, with
gradients checked by finite differences in float64."""

import math

import numpy as np
import pytest
import rustdl
from rustdl.autograd import gradcheck


def T(a, device="cpu", dtype=None, requires_grad=False):
    a = np.asarray(a)
    if dtype is None and a.dtype == np.float64:
        dtype = rustdl.float32
    return rustdl.tensor(a, dtype=dtype, device=device, requires_grad=requires_grad)


def D(a, requires_grad=True):
    return rustdl.tensor(np.asarray(a, dtype=np.float64), dtype=rustdl.float64, requires_grad=requires_grad)


def close(t, ref, tol=1e-5):
    np.testing.assert_allclose(t.detach().cpu().numpy(), ref, rtol=tol, atol=tol)


RNG = np.random.default_rng(0)

UNARY = [
    ("sinh", np.sinh, (-2, 2)),
    ("cosh", np.cosh, (-2, 2)),
    ("asinh", np.arcsinh, (-3, 3)),
    ("acosh", np.arccosh, (1.2, 4)),
    ("atanh", np.arctanh, (-0.9, 0.9)),
    ("atan", np.arctan, (-3, 3)),
    ("asin", np.arcsin, (-0.9, 0.9)),
    ("acos", np.arccos, (-0.9, 0.9)),
    ("arcsin", np.arcsin, (-0.9, 0.9)),
    ("arctan", np.arctan, (-3, 3)),
    ("lgamma", np.vectorize(math.lgamma), (0.2, 6)),
]


@pytest.mark.parametrize("name,ref,rng", UNARY, ids=[u[0] for u in UNARY])
def test_unary_forward_and_grad(device, name, ref, rng):
    a = RNG.uniform(*rng, size=(3, 4))
    close(getattr(rustdl, name)(T(a, device)), ref(a), 1e-4)
    close(getattr(T(a, device), name)(), ref(a), 1e-4)
    assert gradcheck(lambda x: getattr(rustdl, name)(x), [D(a)])


def test_digamma_values_and_grads():
    x = np.array([0.1, 0.5, 1.0, 2.5, 7.0, 30.0, -0.5, -2.3])
    ref = {1.0: -0.5772156649015329, 0.5: -1.9635100260214235, 2.5: 0.7031566406452432}
    out = rustdl.digamma(D(x, False)).numpy()
    for i, v in enumerate(x):
        if v in ref:
            assert abs(out[i] - ref[v]) < 1e-10
    # digamma(x+1) = digamma(x) + 1/x, also through the reflection branch
    shifted = rustdl.digamma(D(x + 1, False)).numpy()
    np.testing.assert_allclose(shifted, out + 1 / x, rtol=1e-9, atol=1e-9)
    assert gradcheck(rustdl.digamma, [D([0.3, 1.7, 4.0, -0.4])])
    assert gradcheck(lambda t: rustdl.lgamma(t).sum(), [D([0.3, 1.7, 4.0])])
    # trigamma(1) = pi^2 / 6
    assert abs(rustdl.polygamma(1, D([1.0], False)).item() - math.pi**2 / 6) < 1e-9
    # PyTorch: the pole at 0 is -inf, the negative integers are NaN
    pole = rustdl.digamma(D([0.0, -2.0], False)).numpy()
    assert pole[0] == -np.inf and np.isnan(pole[1])
    # psi''(1) = -2 zeta(3)
    assert abs(rustdl.polygamma(2, D([1.0], False)).item() + 2 * 1.2020569031595942) < 1e-12
    with pytest.raises(ValueError, match="polygamma"):
        rustdl.polygamma(-1, D([1.0], False))


def test_atan2_quadrants_and_grad(device):
    y = np.array([1.0, 1.0, -1.0, -1.0, 0.0, 0.0, 2.0, -2.0, 0.0])
    x = np.array([1.0, -1.0, -1.0, 1.0, -1.0, 1.0, 0.0, 0.0, 0.0])
    close(rustdl.atan2(T(y, device), T(x, device)), np.arctan2(y, x))
    close(T(y, device).arctan2(T(x, device)), np.arctan2(y, x))
    assert gradcheck(rustdl.atan2, [D(y[:4]), D(x[:4])])


def test_logit_xlogy_hypot(device):
    p = RNG.uniform(0.05, 0.95, size=(5,))
    close(rustdl.logit(T(p, device)), np.log(p / (1 - p)), 1e-4)
    close(
        rustdl.logit(T([0.0, 1.0], device), eps=0.1),
        np.log(np.array([0.1, 0.9]) / np.array([0.9, 0.1])),
        1e-4,
    )
    assert gradcheck(rustdl.logit, [D(p)])
    x = np.array([0.0, 1.0, 2.0, 0.0])
    y = np.array([0.0, 3.0, 0.5, np.nan])
    out = rustdl.xlogy(T(x, device), T(y, device)).cpu().numpy()
    assert out[0] == 0 and np.isnan(out[3])
    np.testing.assert_allclose(out[1:3], x[1:3] * np.log(y[1:3]), rtol=1e-6)
    assert gradcheck(rustdl.xlogy, [D([0.5, 2.0]), D([1.5, 3.0])])
    a, b = RNG.normal(size=4), RNG.normal(size=4)
    close(rustdl.hypot(T(a, device), T(b, device)), np.hypot(a, b))
    assert gradcheck(rustdl.hypot, [D(a), D(b)])


def test_misc_elementwise(device):
    a = np.array([-2.0, -0.0, 0.0, 3.0])
    assert rustdl.signbit(T(a, device)).tolist() == np.signbit(a).tolist()
    close(rustdl.copysign(T([1.0, 2.0, 3.0], device), T([-1.0, -0.0, 1.0], device)), [-1.0, -2.0, 3.0])
    close(rustdl.heaviside(T(a, device), T([0.5], device)), np.heaviside(a, 0.5))
    if device == "cpu":
        fp = rustdl.float_power(T([2, 3], device, dtype=rustdl.int64), 2)
        assert fp.dtype == rustdl.float64 and fp.tolist() == [4.0, 9.0]
    else:
        with pytest.raises(TypeError, match="float_power"):
            rustdl.float_power(T([2.0], device), 2)
    td = rustdl.true_divide(T([1, 3], device, dtype=rustdl.int64), 2)
    assert td.is_floating_point() and td.tolist() == [0.5, 1.5]


def test_nan_reductions(device):
    a = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])
    close(rustdl.nansum(T(a, device)), np.nansum(a))
    close(rustdl.nansum(T(a, device), 1, keepdim=True), np.nansum(a, 1, keepdims=True))
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        ref = np.nanmean(a, 1)
    close(rustdl.nanmean(T(a, device), 1), ref)
    close(T(a, device).nanmean(), np.nanmean(a))


def test_diff_trapezoid(device):
    a = RNG.normal(size=(3, 5))
    close(rustdl.diff(T(a, device)), np.diff(a), 1e-5)
    close(rustdl.diff(T(a, device), n=2, dim=0), np.diff(a, 2, axis=0), 1e-5)
    pre, app = np.ones((3, 1)), np.zeros((3, 2))
    close(
        rustdl.diff(T(a, device), prepend=T(pre, device), append=T(app, device)),
        np.diff(a, prepend=pre, append=app),
        1e-5,
    )
    assert rustdl.diff(T([True, True, False], device)).tolist() == [False, True]
    assert gradcheck(lambda t: rustdl.diff(t, n=2), [D(a)])
    xs = np.sort(RNG.uniform(size=5))
    close(rustdl.trapezoid(T(a, device)), np.trapezoid(a) if hasattr(np, "trapezoid") else np.trapz(a), 1e-5)
    close(
        rustdl.trapz(T(a, device), T(xs, device)),
        np.trapz(a, xs) if hasattr(np, "trapz") else np.trapezoid(a, xs),
        1e-5,
    )
    close(rustdl.trapezoid(T(a, device), dx=0.5, dim=0), 0.5 * ((a[1:] + a[:-1]) / 2).sum(0), 1e-5)
    ref = np.concatenate([np.zeros((3, 0)), np.cumsum((a[:, 1:] + a[:, :-1]) / 2, 1)], 1)
    close(rustdl.cumulative_trapezoid(T(a, device)), ref, 1e-5)
    assert gradcheck(lambda y, x: rustdl.trapezoid(y, x), [D(a), D(xs)])
    with pytest.raises(IndexError, match="diff"):
        rustdl.diff(T(a), dim=3)
    with pytest.raises(ValueError, match="diff"):
        rustdl.diff(T(1.0))


def test_dist_renorm(device):
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(4,))
    for p in (1, 2, 3.5, float("inf")):
        close(rustdl.dist(T(a, device), T(b, device), p), np.linalg.norm((a - b).ravel(), p), 1e-4)
    assert gradcheck(lambda x, y: rustdl.dist(x, y, 3), [D(a), D(b)])
    out = rustdl.renorm(T(a, device), 2, 0, 1.0).cpu().numpy()
    norms = np.linalg.norm(a, axis=1)
    ref = a * np.where(norms > 1.0, 1.0 / (norms + 1e-7), 1.0)[:, None]
    np.testing.assert_allclose(out, ref, rtol=1e-5)
    assert gradcheck(lambda x: rustdl.renorm(x, 2, 1, 0.7), [D(a)])


def test_stacks_and_atleast(device):
    s, v, m = T(1.0, device), T([1.0, 2.0], device), T(np.ones((2, 2)), device)
    assert rustdl.atleast_1d(s).shape == (1,)
    assert [t.shape for t in rustdl.atleast_2d(s, v, m)] == [(1, 1), (1, 2), (2, 2)]
    assert [t.shape for t in rustdl.atleast_3d((s, v, m))] == [(1, 1, 1), (1, 2, 1), (2, 2, 1)]
    a, b = np.arange(3.0), np.arange(3.0, 6.0)
    for fn in ("hstack", "vstack", "row_stack", "dstack", "column_stack"):
        ref = getattr(np, fn if fn != "row_stack" else "vstack")([a, b])
        close(getattr(rustdl, fn)([T(a, device), T(b, device)]), ref)
    c = np.ones((3, 2))
    close(rustdl.column_stack([T(a, device), T(c, device)]), np.column_stack([a, c]))
    with pytest.raises(TypeError, match="hstack"):
        rustdl.hstack(T(a))
    with pytest.raises(ValueError, match="vstack"):
        rustdl.vstack([])


def test_order_statistics(device):
    a = RNG.normal(size=(4, 5))
    v, i = rustdl.kthvalue(T(a, device), 2, 1)
    close(v, np.sort(a, 1)[:, 1])
    assert i.cpu().numpy().tolist() == np.argsort(a, 1)[:, 1].tolist()
    assert rustdl.kthvalue(T(a, device), 1, 0, keepdim=True).values.shape == (1, 5)
    close(rustdl.median(T(a, device)), np.sort(a.ravel())[(a.size - 1) // 2])
    mv, mi = rustdl.median(T(a, device), 0)
    close(mv, np.sort(a, 0)[1])
    close(T(a, device).gather(0, mi.unsqueeze(0)).squeeze(0), np.sort(a, 0)[1])
    b = a.copy()
    b[0, :3] = np.nan
    nv = rustdl.nanmedian(T(b, device), 1).values.cpu().numpy()
    for r in range(4):
        row = np.sort(b[r][~np.isnan(b[r])])
        assert abs(nv[r] - row[(len(row) - 1) // 2]) < 1e-6
    mv, mi = rustdl.mode(T([[1, 2, 2, 3, 3], [4, 4, 1, 1, 0]], device, dtype=rustdl.int64), 1)
    assert mv.tolist() == [2, 1] and mi.tolist() == [2, 3]
    with pytest.raises(IndexError, match="kthvalue"):
        rustdl.kthvalue(T(a), 9, 1)
    x = D(a)
    rustdl.median(x, 1).values.sum().backward()
    assert x.grad.numpy().sum() == 4


@pytest.mark.parametrize("interp", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile(device, interp):
    a = RNG.normal(size=(4, 6))
    q = [0.1, 0.5, 0.9]
    close(
        rustdl.quantile(T(a, device), 0.3, 1, interpolation=interp),
        np.quantile(a, 0.3, 1, method=interp),
        1e-5,
    )
    close(
        rustdl.quantile(T(a, device), T(q, device), 0, keepdim=True, interpolation=interp),
        np.quantile(a, q, 0, keepdims=True, method=interp),
        1e-5,
    )
    close(T(a, device).quantile(0.75, interpolation=interp), np.quantile(a, 0.75, method=interp), 1e-5)
    b = a.copy()
    b[1, 2:] = np.nan
    close(
        rustdl.nanquantile(T(b, device), 0.4, 1, interpolation=interp),
        np.nanquantile(b, 0.4, 1, method=interp),
        1e-5,
    )
    assert np.isnan(rustdl.quantile(T(b, device), 0.4, 1).cpu().numpy()[1])


def test_quantile_errors():
    with pytest.raises(ValueError, match="quantile"):
        rustdl.quantile(T([1.0, 2.0]), 1.5)
    with pytest.raises(ValueError, match="quantile"):
        rustdl.quantile(T([1.0, 2.0]), 0.5, interpolation="cubic")
    with pytest.raises(TypeError, match="quantile"):
        rustdl.quantile(T([1, 2], dtype=rustdl.int64), 0.5)


def test_search_and_counts(device):
    seq = np.array([1.0, 3.0, 5.0, 7.0])
    vals = np.array([[0.0, 3.0, 6.0], [7.0, 8.0, 5.0]])
    for right in (False, True):
        got = rustdl.searchsorted(T(seq, device), T(vals, device), right=right)
        assert got.tolist() == np.searchsorted(seq, vals, side="right" if right else "left").tolist()
        assert rustdl.bucketize(T(vals, device), T(seq, device), right=right).tolist() == got.tolist()
    assert (
        rustdl.searchsorted(T(seq), T(vals), side="right").tolist()
        == np.searchsorted(seq, vals, "right").tolist()
    )
    seq2 = np.sort(RNG.normal(size=(2, 4)), 1)
    got = rustdl.searchsorted(T(seq2, dtype=rustdl.float64), T(vals, dtype=rustdl.float64))
    assert got.tolist() == [np.searchsorted(seq2[r], vals[r]).tolist() for r in range(2)]
    with pytest.raises(ValueError, match="searchsorted"):
        rustdl.searchsorted(T(seq), T(vals), right=True, side="left")
    a = np.array([[0, 1, 0], [2, 0, 3]])
    assert rustdl.count_nonzero(T(a, device)).item() == 3
    assert rustdl.count_nonzero(T(a, device), 1).tolist() == [1, 2]
    assert rustdl.count_nonzero(T(np.zeros((0, 2)), device)).item() == 0


def test_index_construction(device):
    for off in (-1, 0, 2):
        assert rustdl.triu_indices(3, 4, off).tolist() == np.stack(np.triu_indices(3, off, 4)).tolist()
        assert rustdl.tril_indices(4, 3, off).tolist() == np.stack(np.tril_indices(4, off, 3)).tolist()
    assert rustdl.triu_indices(0, 0).shape == (2, 0)
    x = T([1.0, 2.0, 3.0], device)
    assert rustdl.combinations(x).tolist() == [[1, 2], [1, 3], [2, 3]]
    assert rustdl.combinations(x, 2, with_replacement=True).shape == (6, 2)
    assert rustdl.combinations(x, 4).shape == (0, 4)
    assert rustdl.cartesian_prod(x, T([4.0, 5.0], device)).tolist() == [
        [1, 4],
        [1, 5],
        [2, 4],
        [2, 5],
        [3, 4],
        [3, 5],
    ]
    close(rustdl.logspace(0, 3, 4), [1, 10, 100, 1000], 1e-3)
    close(rustdl.logspace(0, 3, 4, base=2), [1, 2, 4, 8])
    close(rustdl.vander(x), np.vander([1.0, 2.0, 3.0]))
    close(rustdl.vander(x, 4, increasing=True), np.vander([1.0, 2.0, 3.0], 4, increasing=True))
    m = np.arange(4.0).reshape(2, 2)
    ref = np.zeros((4, 5))
    ref[:2, :2] = m
    ref[2, 2:4] = [7, 8]
    ref[3, 4] = 9
    close(rustdl.block_diag(T(m, device), T([7.0, 8.0], device), T(9.0, device)), ref)


def test_kron_rot90(device):
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 2))
    close(rustdl.kron(T(a, device), T(b, device)), np.kron(a, b), 1e-5)
    close(rustdl.kron(T(a[0], device), T(b, device)), np.kron(a[0], b), 1e-5)
    assert gradcheck(rustdl.kron, [D(a), D(b)])
    c = RNG.normal(size=(2, 3, 4))
    for k in range(-3, 6):
        close(rustdl.rot90(T(c, device), k, (1, 2)), np.rot90(c, k, (1, 2)))
        close(T(c, device).rot90(k, [0, -1]), np.rot90(c, k, (0, 2)))
    assert gradcheck(lambda t: rustdl.rot90(t, 1, (0, 1)), [D(a)])
    with pytest.raises(ValueError, match="rot90"):
        rustdl.rot90(T(a), 1, (0, 0))
    with pytest.raises(ValueError, match="rot90"):
        rustdl.rot90(T([1.0]), 1)


def test_transposes_and_nonzero(device):
    a = RNG.normal(size=(2, 3, 4))
    x = T(a, device)
    close(x.mT, np.swapaxes(a, -1, -2))
    close(x.mH, np.swapaxes(a, -1, -2))
    close(x[0].H, a[0].T)
    with pytest.raises(ValueError, match="mT"):
        _ = T([1.0]).mT
    m = T([[0.0, 1.0], [2.0, 0.0]], device)
    assert m.nonzero().tolist() == [[0, 1], [1, 0]]
    r, c = m.nonzero(as_tuple=True)
    assert r.tolist() == [0, 1] and c.tolist() == [1, 0]
    assert rustdl.nonzero(m, as_tuple=True)[1].tolist() == [1, 0]
    assert x.storage_offset() == 0 and isinstance(x.data_ptr(), int) and x.data_ptr() == x.data_ptr()


def test_take_put(device):
    a = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0, -1], [5, 7]])
    close(rustdl.take(T(a, device), T(idx, device)), np.take(a, idx))
    close(T(a, device).take(T(idx, device)), np.take(a, idx))
    y = T(a, device).clone()
    y.put_(T([0, 11], device), T([-1.0, -2.0], device))
    ref = a.copy()
    np.put(ref, [0, 11], [-1, -2])
    close(y, ref)
    y.put_(T([1, 1], device), T([1.0, 1.0], device), accumulate=True)
    ref[0, 1] += 2
    close(y, ref)
    with pytest.raises(IndexError, match="take"):
        rustdl.take(T(a), T([12]))
    with pytest.raises(TypeError, match="put_"):
        T(a).put_(T([0.5]), T([1.0]))
    x = D(a)
    rustdl.take(x, T(idx)).sum().backward()
    g = np.zeros(12)
    np.add.at(g, idx.ravel() % 12, 1)
    np.testing.assert_allclose(x.grad.numpy().ravel(), g)


def test_fill_diagonal_apply_map(device):
    for shape, wrap in (((3, 3), False), ((7, 3), False), ((7, 3), True), ((3, 5), False)):
        y = T(np.zeros(shape), device)
        y.fill_diagonal_(2.0, wrap=wrap)
        ref = np.zeros(shape)
        np.fill_diagonal(ref, 2.0, wrap=wrap)
        close(y, ref)
    with pytest.raises(ValueError, match="fill_diagonal_"):
        T(np.zeros((2, 3, 3))).fill_diagonal_(1.0)
    z = T([1.0, 2.0, 3.0])
    assert z.apply_(lambda v: v * v + 1) is z and z.tolist() == [2.0, 5.0, 10.0]
    z.map_(T([1.0]), lambda u, v: u - v)
    assert z.tolist() == [1.0, 4.0, 9.0]
    if device != "cpu":
        with pytest.raises(TypeError, match="apply_"):
            T([1.0], device).apply_(abs)


def test_unfold_as_strided(device):
    a = RNG.normal(size=(3, 7))
    out = T(a, device).unfold(1, 3, 2)
    ref = np.lib.stride_tricks.sliding_window_view(a, 3, axis=1)[:, ::2]
    close(out, ref)
    assert T(a, device).unfold(0, 3, 1).shape == (1, 7, 3)
    assert T(a, device).unfold(1, 0, 1).shape == (3, 8, 0)
    assert gradcheck(lambda t: t.unfold(1, 3, 2), [D(a)])
    s = T(a, device).as_strided((2, 3), (1, 2), 1)
    flat = a.ravel()
    close(s, [[flat[1 + i + 2 * j] for j in range(3)] for i in range(2)])
    assert gradcheck(lambda t: t.as_strided((3, 3), (7, 1), 2), [D(a)])
    with pytest.raises(IndexError, match="as_strided"):
        T(a).as_strided((3, 3), (10, 1))
    with pytest.raises(ValueError, match="unfold"):
        T(a).unfold(1, 8, 1)


def test_edge_cases(device):
    e = T(np.zeros(0), device)
    assert np.isnan(rustdl.median(e).item())
    assert rustdl.diff(e).shape == (0,)
    assert rustdl.nansum(e).item() == 0
    assert rustdl.atan(e).shape == (0,)
    assert rustdl.kron(e, T([1.0, 2.0], device)).shape == (0,)
    assert rustdl.take(e, T(np.zeros(0, dtype=np.int64), device)).shape == (0,)
    assert rustdl.median(T(np.zeros((0, 3)), device), 1).values.shape == (0,)
    with pytest.raises(IndexError, match="median"):
        rustdl.median(T(np.zeros((3, 0)), device), 1)
    assert rustdl.count_nonzero(T(np.ones((2, 3)), device), (0, 1)).item() == 6
    assert rustdl.nansum(T([1, 2], device, dtype=rustdl.int64)).item() == 3
    close(rustdl.atan2(T([1.0, -1.0], device), 1.0), np.arctan2([1.0, -1.0], 1.0))
    close(rustdl.hypot(T([3.0], device), 4), [5.0])
    v = T(5.0, device)
    assert rustdl.kthvalue(v, 1).values.item() == 5.0 and rustdl.median(v, 0).indices.item() == 0


def test_grad_at_special_points():
    x = D([0.0, -1000.0, 1000.0])
    rustdl.asinh(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 / np.sqrt(x.detach().numpy() ** 2 + 1))
    h = D([0.0, 3.0])
    rustdl.hypot(h, D([0.0, 4.0], False)).sum().backward()
    assert np.isfinite(h.grad.numpy()).all()
    out = rustdl.lgamma(D([0.0, -2.0, -2.5], False)).numpy()
    assert np.isinf(out[:2]).all() and abs(out[2] - math.lgamma(-2.5)) < 1e-12
    with pytest.raises(TypeError, match="atan"):
        rustdl.atan([1.0])
    with pytest.raises(TypeError, match="kron"):
        rustdl.kron(np.ones(2), T([1.0]))


def test_scalar_operands_with_inf(device):
    x = T([np.inf, 2.0], device)
    close(rustdl.copysign(x, -0.0), [-np.inf, -2.0])
    close(rustdl.atan2(x, 2.0), np.arctan2([np.inf, 2.0], 2.0))
    close(rustdl.hypot(x, 1), [np.inf, np.sqrt(5.0)])
    close(rustdl.vander(x, 2), [[np.inf, 1.0], [2.0, 1.0]])
