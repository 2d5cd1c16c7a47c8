"""PyTorch APIs added for unchanged programs: adaptive 3-D pooling, lazy convolutions,
index_reduce, histogram, frombuffer, skip_init and matrix_exp, each against an independent
reference (numpy loops, closed forms, finite differences)."""

import array
import itertools
import math

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from rustdl import nn


def _windows(n_in, n_out):
    # PyTorch's adaptive windows [floor(i n / o), ceil((i + 1) n / o))
    return [((i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)) for i in range(n_out)]


def _adaptive3d_ref(a, out, reduce):
    n, c, d, h, w = a.shape
    od, oh, ow = out
    r = np.empty((n, c, od, oh, ow))
    for (i, (d0, d1)), (j, (h0, h1)), (k, (w0, w1)) in itertools.product(
        enumerate(_windows(d, od)), enumerate(_windows(h, oh)), enumerate(_windows(w, ow))
    ):
        r[:, :, i, j, k] = reduce(a[:, :, d0:d1, h0:h1, w0:w1].reshape(n, c, -1), axis=-1)
    return r


@pytest.mark.parametrize(
    "shape,size",
    [
        ((2, 3, 5, 7, 6), (2, 3, 4)),
        ((1, 2, 3, 5, 7), (None, 2, 3)),
        ((1, 1, 6, 6, 6), 4),
        ((2, 1, 7, 3, 2), (3, 5, 1)),
    ],
)
def test_adaptive_pool3d_matches_a_window_loop(device, shape, size):
    a = np.random.default_rng(0).standard_normal(shape)
    triple = (
        (size,) * 3
        if isinstance(size, int)
        else tuple(s if s is not None else shape[2 + i] for i, s in enumerate(size))
    )
    x = rustdl.tensor(a, dtype=rustdl.float32, device=device, requires_grad=True)
    for f, reduce in ((F.adaptive_avg_pool3d, np.mean), (F.adaptive_max_pool3d, np.max)):
        y = f(x, size)
        np.testing.assert_allclose(
            y.detach().cpu().numpy(), _adaptive3d_ref(a, triple, reduce), rtol=1e-5, atol=1e-6
        )
    # the mean's gradient: each input gets 1/|window| from every window it lies in
    x.grad = None
    F.adaptive_avg_pool3d(x, size).sum().backward()
    ones = np.zeros(shape)
    for (d0, d1), (h0, h1), (w0, w1) in itertools.product(
        _windows(shape[2], triple[0]), _windows(shape[3], triple[1]), _windows(shape[4], triple[2])
    ):
        ones[:, :, d0:d1, h0:h1, w0:w1] += 1.0 / ((d1 - d0) * (h1 - h0) * (w1 - w0))
    np.testing.assert_allclose(x.grad.cpu().numpy(), ones, rtol=1e-5)
    # unbatched input and the module forms
    assert nn.AdaptiveAvgPool3d(size)(x[0]).shape == (shape[1], *triple)
    assert nn.AdaptiveMaxPool3d(size)(x).shape == (shape[0], shape[1], *triple)


def test_adaptive_pool3d_refuses_bad_input():
    with pytest.raises(ValueError, match="adaptive_avg_pool3d"):
        F.adaptive_avg_pool3d(rustdl.zeros(2, 3, 4), 2)
    with pytest.raises(ValueError, match="non-zero size"):
        F.adaptive_avg_pool3d(rustdl.zeros(1, 2, 0, 3, 3), 2)
    with pytest.raises(ValueError, match="output sizes"):
        F.adaptive_max_pool3d(rustdl.zeros(1, 2, 3, 3, 3), (2, 0, 1))


@pytest.mark.parametrize(
    "cls,plain,shape,kw",
    [
        (nn.LazyConv1d, nn.Conv1d, (5, 12), dict(out_channels=4, kernel_size=3)),
        (
            nn.LazyConv2d,
            nn.Conv2d,
            (2, 6, 7, 7),
            dict(out_channels=4, kernel_size=(3, 1), groups=2, bias=False),
        ),
        (nn.LazyConv3d, nn.Conv3d, (1, 2, 4, 5, 5), dict(out_channels=3, kernel_size=3, padding=1)),
        (nn.LazyConvTranspose1d, nn.ConvTranspose1d, (2, 3, 5), dict(out_channels=2, kernel_size=3)),
        (
            nn.LazyConvTranspose2d,
            nn.ConvTranspose2d,
            (2, 3, 4, 4),
            dict(out_channels=6, kernel_size=2, stride=2),
        ),
    ],
)
def test_lazy_convolutions_take_in_channels_from_the_first_input(cls, plain, shape, kw):
    rustdl.manual_seed(3)
    lazy = cls(**kw)
    assert lazy.has_uninitialized_params() and lazy.weight.numel() == 0
    x = rustdl.randn(*shape)
    y = lazy(x)
    cin = shape[-len(lazy.kernel_size) - 1]
    assert type(lazy) is plain and lazy.in_channels == cin
    # the same layer built eagerly, with the lazy one's weights, computes the same
    ref = plain(cin, **kw)
    ref.load_state_dict(lazy.state_dict())
    np.testing.assert_allclose(ref(x).detach().numpy(), y.detach().numpy(), rtol=1e-6)
    # PyTorch's initialisation bound for a convolution: 1/sqrt(fan_in)
    if not lazy.transposed:
        fan_in = lazy.weight[0].numel()
        assert float(lazy.weight.abs().max()) <= 1 / math.sqrt(fan_in) + 1e-6
    # a state dict materialises a fresh lazy layer
    again = cls(**kw)
    again.load_state_dict(lazy.state_dict())
    assert again.in_channels == cin and bool((again.weight == lazy.weight).all())


def _index_reduce_ref(a, dim, idx, src, reduce, include_self):
    a, src = np.moveaxis(a, dim, 0).copy(), np.moveaxis(src, dim, 0)
    groups = {}
    for j, i in enumerate(idx):
        groups.setdefault(int(i), []).append(src[j])
    out = a.copy()
    for i, rows in groups.items():
        vals = ([a[i]] if include_self else []) + rows
        stack = np.stack(vals)
        out[i] = {"prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}[reduce](stack, axis=0)
    return np.moveaxis(out, 0, dim)


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_reduce_matches_a_loop(reduce, include_self, dim):
    rng = np.random.default_rng(abs(dim) + 7 * include_self)
    a = rng.standard_normal((4, 3))
    src_shape = list(a.shape)
    src_shape[dim] = 5
    src = rng.standard_normal(src_shape)
    idx = rng.integers(0, a.shape[dim], size=5)
    x = rustdl.tensor(a)
    y = x.index_reduce(dim, rustdl.tensor(idx), rustdl.tensor(src), reduce, include_self=include_self)
    np.testing.assert_allclose(
        y.numpy(), _index_reduce_ref(a, dim, idx, src, reduce, include_self), rtol=1e-12
    )
    # in place, and the gradient of the mean against finite differences
    z = x.clone()
    z.index_reduce_(dim, rustdl.tensor(idx), rustdl.tensor(src), reduce, include_self=include_self)
    np.testing.assert_allclose(z.numpy(), y.numpy())
    if reduce == "mean":
        s = rustdl.tensor(src, requires_grad=True)
        w = rng.standard_normal(a.shape)
        (
            x.index_reduce(dim, rustdl.tensor(idx), s, "mean", include_self=include_self) * rustdl.tensor(w)
        ).sum().backward()
        eps, num = 1e-6, np.zeros_like(src)
        for k in np.ndindex(src.shape):
            p, m = src.copy(), src.copy()
            p[k] += eps
            m[k] -= eps
            f = lambda v: (_index_reduce_ref(a, dim, idx, v, "mean", include_self) * w).sum()  # noqa: E731
            num[k] = (f(p) - f(m)) / (2 * eps)
        np.testing.assert_allclose(s.grad.numpy(), num, rtol=1e-6, atol=1e-8)


def test_index_reduce_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="index_reduce"):
        rustdl.zeros(3, 2).index_reduce(0, rustdl.tensor([0, 1]), rustdl.ones(3, 2), "amax")
    with pytest.raises(ValueError, match="reduce argument"):
        rustdl.zeros(3, 2).index_reduce(0, rustdl.tensor([0]), rustdl.ones(1, 2), "sum")


@pytest.mark.parametrize(
    "bins,kw",
    [(10, {}), (4, dict(range=(-1.0, 1.0))), (6, dict(density=True)), ("edges", {}), (3, dict(weight=True))],
)
def test_histogram_matches_numpy(bins, kw):
    rng = np.random.default_rng(5)
    a = rng.standard_normal(200)
    x = rustdl.tensor(a)
    np_kw = dict(kw)
    if bins == "edges":
        bins = rustdl.tensor([-2.0, -0.5, 0.0, 3.0])
        np_bins = bins.numpy()
    else:
        np_bins = bins
        np_kw.setdefault("range", (a.min(), a.max()))
    if kw.get("weight"):
        wt = rng.random(200)
        kw = dict(weight=rustdl.tensor(wt))
        np_kw = dict(weights=wt, range=(a.min(), a.max()))
    hist, edges = rustdl.histogram(x, bins, **kw)
    want_h, want_e = np.histogram(a, np_bins, **np_kw)
    np.testing.assert_allclose(hist.numpy(), want_h, rtol=1e-12)
    np.testing.assert_allclose(edges.numpy(), want_e, rtol=1e-12)
    r = rustdl.histogram(x, bins, **kw)
    assert r.hist is r[0] and r.bin_edges is r[1]


def test_histogram_edges_of_a_constant_or_empty_input():
    h, e = rustdl.histogram(rustdl.ones(4), 2)
    assert h.tolist() == [0.0, 4.0] and e.tolist() == [0.5, 1.0, 1.5]
    h, e = rustdl.histogram(rustdl.tensor([]), 2)
    assert h.tolist() == [0.0, 0.0] and e.tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(TypeError, match="histogram"):
        rustdl.histogram(rustdl.tensor([1, 2]), 2)


def test_frombuffer_reads_and_shares_a_writable_buffer():
    buf = bytearray(array.array("f", [1.0, 2.0, 3.0, 4.0]).tobytes())
    t = rustdl.frombuffer(buf, dtype=rustdl.float32)
    assert t.tolist() == [1.0, 2.0, 3.0, 4.0]
    t[0] = 9.0
    assert array.array("f", bytes(buf)).tolist()[0] == 9.0
    assert rustdl.frombuffer(buf, dtype=rustdl.float32, count=2, offset=4).tolist() == [2.0, 3.0]
    u = rustdl.frombuffer(bytes([1, 2, 255]), dtype=rustdl.uint8)
    assert u.dtype == rustdl.uint8 and u.tolist() == [1, 2, 255]
    assert rustdl.frombuffer(array.array("i", [5, -6]), dtype=rustdl.int32).tolist() == [5, -6]
    for bad in (b"", b"abc"):
        with pytest.raises(ValueError, match="frombuffer"):
            rustdl.frombuffer(bad, dtype=rustdl.float32)
    with pytest.raises(ValueError, match="frombuffer"):
        rustdl.frombuffer(buf, dtype=rustdl.float32, count=5)


def test_skip_init_builds_the_module():
    m = nn.utils.skip_init(nn.Linear, 4, 3, bias=False)
    assert isinstance(m, nn.Linear) and m.weight.shape == (3, 4) and m.bias is None

    class NoDevice(nn.Module):
        pass

    with pytest.raises(RuntimeError, match="device"):
        nn.utils.skip_init(NoDevice)


def test_matrix_exp_closed_forms_and_gradient(device):
    t = 0.7
    rot = rustdl.tensor([[0.0, -t], [t, 0.0]], device=device)
    want = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    np.testing.assert_allclose(rustdl.linalg.matrix_exp(rot).cpu().numpy(), want, rtol=1e-5, atol=1e-6)
    d = np.array([-3.0, 0.5, 12.0])
    np.testing.assert_allclose(
        rustdl.matrix_exp(rustdl.tensor(np.diag(d))).numpy(), np.diag(np.exp(d)), rtol=1e-13
    )
    # a nilpotent matrix: exp(N) = I + N + N²/2 exactly
    n = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(rustdl.tensor(n).matrix_exp().numpy(), np.eye(3) + n + n @ n / 2, rtol=1e-14)
    # batches, exp(A)exp(-A) = I, and the gradient against central differences
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 4, 4)) * 3
    e = rustdl.linalg.matrix_exp(rustdl.tensor(a)).numpy()
    e_neg = rustdl.linalg.matrix_exp(rustdl.tensor(-a)).numpy()
    np.testing.assert_allclose(e @ e_neg, np.broadcast_to(np.eye(4), (2, 4, 4)), atol=1e-9)
    x = rustdl.tensor(a[0], requires_grad=True)
    w = rng.standard_normal((4, 4))
    (rustdl.linalg.matrix_exp(x) * rustdl.tensor(w)).sum().backward()

    def f(m):
        return (rustdl.linalg.matrix_exp(rustdl.tensor(m)).numpy() * w).sum()

    num = np.zeros((4, 4))
    for k in np.ndindex(4, 4):
        p, m = a[0].copy(), a[0].copy()
        p[k] += 1e-6
        m[k] -= 1e-6
        num[k] = (f(p) - f(m)) / 2e-6
    np.testing.assert_allclose(x.grad.numpy(), num, rtol=1e-5)
    assert bool(rustdl.linalg.matrix_exp(rustdl.tensor([[math.inf, 0.0], [0.0, 1.0]])).isnan().all())


def _central_differences(f, a, eps=1e-6):
    num = np.zeros_like(a)
    for k in np.ndindex(a.shape):
        p, m = a.copy(), a.copy()
        p[k] += eps
        m[k] -= eps
        num[k] = (f(p) - f(m)) / (2 * eps)
    return num


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (4, 4), (2, 3, 4)])
@pytest.mark.parametrize("full", [False, True])
def test_svd_gradient_through_singular_vectors(shape, full):
    rng = np.random.default_rng(sum(shape) + full)
    a = rng.standard_normal(shape)
    k = min(shape[-2:])
    wu, ws, wv = (
        rng.standard_normal((*shape[:-1], k)),
        rng.standard_normal((*shape[:-2], k)),
        rng.standard_normal((*shape[:-2], k, shape[-1])),
    )
    wa = rng.standard_normal(shape)

    def f(x, grad=False):
        X = rustdl.tensor(x, requires_grad=grad)
        U, S, Vh = rustdl.linalg.svd(X, full_matrices=full)
        U, Vh = U[..., :k], Vh[..., :k, :]
        # sign-invariant: squared vector entries, the values, and U Vh
        val = ((U * rustdl.tensor(wu)) ** 2).sum() + (S * rustdl.tensor(ws)).sum()
        val = val + ((Vh * rustdl.tensor(wv)) ** 2).sum() + (U.matmul(Vh) * rustdl.tensor(wa)).sum()
        if grad:
            val.backward()
            return X.grad.numpy()
        return val.item()

    np.testing.assert_allclose(f(a, True), _central_differences(f, a), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (4, 4), (2, 5, 3), (2, 2, 4)])
@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_qr_gradient_against_central_differences(shape, mode):
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal(shape)
    q, r = np.linalg.qr(a, mode=mode)
    use_q = not (mode == "complete" and shape[-2] > shape[-1])
    wq, wr = rng.standard_normal(q.shape), rng.standard_normal(r.shape)

    def f(x, grad=False):
        X = rustdl.tensor(x, requires_grad=grad)
        Q, R = rustdl.linalg.qr(X, mode=mode)
        val = (R * rustdl.tensor(wr)).sum() + ((Q * rustdl.tensor(wq)).sum() if use_q else 0)
        if grad:
            val.backward()
            return X.grad.numpy()
        return val.item()

    np.testing.assert_allclose(f(a, True), _central_differences(f, a), rtol=1e-5, atol=1e-6)


def test_householder_product_rebuilds_q_of_a_qr():
    # LAPACK's geqrf reflectors (computed here by hand) give back numpy's Q up to column signs
    rng = np.random.default_rng(4)
    a = rng.standard_normal((5, 3))
    r = a.copy()
    vs, taus = np.zeros((5, 3)), np.zeros(3)
    for i in range(3):
        x = r[i:, i]
        alpha = -np.copysign(np.linalg.norm(x), x[0])
        v = x.copy()
        v[0] -= alpha
        v /= v[0]
        tau = 2.0 / (v @ v)
        r[i:, :] -= tau * np.outer(v, v @ r[i:, :])
        vs[i + 1 :, i], taus[i] = v[1:], tau
    q = rustdl.linalg.householder_product(rustdl.tensor(vs), rustdl.tensor(taus)).numpy()
    np.testing.assert_allclose(q @ np.triu(r[:3]), a, atol=1e-12)
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-12)
    with pytest.raises(ValueError, match="householder_product"):
        rustdl.linalg.householder_product(rustdl.zeros(3, 4), rustdl.zeros(3))


def test_logdet_gradient_and_student_t_moments_stay_finite():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((3, 3))
    x = rustdl.tensor(a, requires_grad=True)
    rustdl.logdet(x @ x.T + rustdl.eye(3, dtype=rustdl.float64)).backward()
    spd = a @ a.T + np.eye(3)
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.linalg.inv(spd) @ a, rtol=1e-10)
    assert np.isnan(rustdl.logdet(rustdl.tensor([[-1.0, 0.0], [0.0, 2.0]])).item())
    loc = rustdl.tensor([0.5, 1.0], requires_grad=True)
    d = rustdl.distributions.StudentT(rustdl.tensor([3.0, 0.5]), loc, rustdl.ones(2))
    assert np.isnan(d.mean[1].item())
    d.mean.sum().backward()
    assert loc.grad.tolist() == [1.0, 0.0]


def test_grid_sample_3d_identity_shift_and_midpoints(device):
    rng = np.random.default_rng(6)
    a = rng.standard_normal((2, 3, 4, 5, 6))
    x = rustdl.tensor(a, dtype=rustdl.float32, device=device)
    eye = rustdl.eye(3, 4, device=device).expand(2, 3, 4).contiguous()
    grid = F.affine_grid(eye, [2, 3, 4, 5, 6], align_corners=True)
    assert grid.shape == (2, 4, 5, 6, 3)
    for mode in ("bilinear", "nearest"):
        same = F.grid_sample(x, grid, mode=mode, align_corners=True)
        np.testing.assert_allclose(same.cpu().numpy(), a, rtol=1e-5, atol=1e-5)
    # one voxel along x (2 / (W - 1) in normalised units): a shift, zeros past the edge
    shift = F.grid_sample(x, grid + rustdl.tensor([2.0 / 5, 0.0, 0.0], device=device), align_corners=True)
    want = np.concatenate([a[..., 1:], np.zeros_like(a[..., :1])], -1)
    np.testing.assert_allclose(shift.cpu().numpy(), want, rtol=1e-5, atol=1e-5)
    # the centre of the first 2x2x2 cell is the mean of its 8 corners
    centre = rustdl.tensor([[[[[-1 + 1.0 / 5, -1 + 1.0 / 4, -1 + 1.0 / 3]]]]], device=device).expand(
        2, 1, 1, 1, 3
    )
    mid = F.grid_sample(x, centre.contiguous(), align_corners=True)
    np.testing.assert_allclose(
        mid.cpu().numpy()[..., 0, 0, 0], a[:, :, :2, :2, :2].mean((2, 3, 4)), rtol=1e-5
    )
    with pytest.raises(ValueError, match="bicubic"):
        F.grid_sample(x, grid, mode="bicubic")


def test_grid_sample_3d_gradient_against_central_differences():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((1, 2, 3, 4, 3))
    g = rng.uniform(-1.1, 1.1, (1, 2, 2, 3, 3))
    w = rng.standard_normal((1, 2, 2, 2, 3))
    for padding_mode in ("zeros", "border", "reflection"):

        def f(inp, grd, grad=False, padding_mode=padding_mode):
            X = rustdl.tensor(inp, requires_grad=grad)
            G = rustdl.tensor(grd, requires_grad=grad)
            val = (
                F.grid_sample(X, G, padding_mode=padding_mode, align_corners=False) * rustdl.tensor(w)
            ).sum()
            if grad:
                val.backward()
                return X.grad.numpy(), G.grad.numpy()
            return val.item()

        gx, gg = f(a, g, True)
        np.testing.assert_allclose(gx, _central_differences(lambda v: f(v, g), a), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(gg, _central_differences(lambda v: f(a, v), g), rtol=1e-4, atol=1e-6)


def test_linalg_cond_vecdot_vander_and_the_ex_forms():
    rng = np.random.default_rng(12)
    a = rng.standard_normal((2, 3, 3))
    A = rustdl.tensor(a)
    for p in (None, 2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf):
        np.testing.assert_allclose(rustdl.linalg.cond(A, p).numpy(), np.linalg.cond(a, p), rtol=1e-10)
    wide = rng.standard_normal((3, 5))
    np.testing.assert_allclose(
        rustdl.linalg.cond(rustdl.tensor(wide)).item(), np.linalg.cond(wide), rtol=1e-10
    )
    # d cond_2 / dA = (u1 v1ᵀ σn − un vnᵀ σ1) / σn² against central differences
    x = rustdl.tensor(a[0], requires_grad=True)
    rustdl.linalg.cond(x).backward()
    num = _central_differences(lambda m: np.linalg.cond(m), a[0])
    np.testing.assert_allclose(x.grad.numpy(), num, rtol=1e-5)
    np.testing.assert_allclose(
        rustdl.linalg.vecdot(rustdl.tensor(a), rustdl.tensor(a[0, 0]), dim=-1).numpy(),
        a @ a[0, 0],
        rtol=1e-12,
    )
    assert rustdl.linalg.diagonal(rustdl.tensor(a), offset=1).tolist() == np.diagonal(a, 1, -2, -1).tolist()
    v = rustdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    V = rustdl.linalg.vander(v, N=4)
    assert V.tolist() == np.vander([1.0, 2.0, 3.0], 4, increasing=True).tolist()
    V.sum().backward()
    assert v.grad.tolist() == [1 + 2 * 1 + 3 * 1, 1 + 2 * 2 + 3 * 4, 1 + 2 * 3 + 3 * 9]
    # info: LAPACK's (first non-positive-definite leading minor; first zero pivot)
    S = rustdl.tensor([[[4.0, 2.0], [2.0, 3.0]], [[1.0, 2.0], [2.0, 1.0]], [[-1.0, 0.0], [0.0, 1.0]]])
    L, info = rustdl.linalg.cholesky_ex(S)
    assert info.tolist() == [0, 2, 1]
    # LAPACK's partial factors, as PyTorch's: the columns before the failing minor computed, the
    # failing diagonal entry its updated value (1 - 2², and -1), the rest A's lower triangle
    assert L[1:].tolist() == [[[1.0, 0.0], [2.0, -3.0]], [[-1.0, 0.0], [0.0, 1.0]]]
    np.testing.assert_allclose(L[0].numpy(), np.linalg.cholesky(S[0].numpy()), rtol=1e-6)
    M = rustdl.tensor([[[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 1.0]]])
    X, info = rustdl.linalg.solve_ex(M, rustdl.ones(3, 2))
    assert info.tolist() == [0, 2, 1]
    np.testing.assert_allclose(X[0].numpy(), np.linalg.solve(M[0].numpy(), np.ones(2)), rtol=1e-6)
    with pytest.raises(rustdl.linalg.LinAlgError):
        rustdl.linalg.cholesky_ex(S, check_errors=True)


def test_hostile_sizes_and_values_get_clear_errors():
    with pytest.raises(ValueError, match="affine_grid"):
        F.affine_grid(rustdl.zeros(1, 3, 4), [1, 1, 0, 2, 2])
    with pytest.raises(ValueError, match="affine_grid"):
        F.affine_grid(rustdl.zeros(1, 2, 3), [1, 1, 0, 2])
    # an int beyond int64 is a float to a float dtype, an overflow to any other
    big = rustdl.tensor([10**30, 2], dtype=rustdl.float64)
    assert big.tolist() == [1e30, 2.0]
    with pytest.raises(ValueError, match="int64"):
        rustdl.tensor([10**30])
    # a bool dtype= is a logical or (sum) or and (prod), as PyTorch
    x = rustdl.tensor([[1, 0, 2], [0, 0, 3]], dtype=rustdl.uint8)
    assert x.sum(dtype=rustdl.bool).item() is True and x.sum(dtype=rustdl.bool).dtype == rustdl.bool
    assert x.prod(1, dtype=rustdl.bool).tolist() == [False, False]


def test_atan2_and_hypot_promote_as_elementwise_ops():
    i8 = rustdl.tensor([-100, 7, 1], dtype=rustdl.int8)
    f64 = rustdl.tensor(3.5, dtype=rustdl.float64)
    # a 0-d float64 beside an integer tensor: a higher category, so float64 (PyTorch's rule)
    for f, ref in ((rustdl.atan2, np.arctan2), (rustdl.hypot, np.hypot)):
        r = f(i8, f64)
        assert r.dtype == rustdl.float64
        np.testing.assert_allclose(r.numpy(), ref(np.array([-100.0, 7.0, 1.0]), 3.5), rtol=1e-12)
    # a 0-d float64 beside a float32 tensor does not widen it
    assert rustdl.atan2(f64, rustdl.ones(3)).dtype == rustdl.float32
    assert rustdl.hypot(rustdl.ones(3), f64).dtype == rustdl.float32


def test_cat_with_legacy_empty_tensors_keeps_the_graph():
    # a [0] tensor beside 1-d tensors, beside 2-d ones (skipped, as PyTorch), and alone
    e = rustdl.zeros(0, requires_grad=True)
    one = rustdl.cat([rustdl.full((1,), 2.0), e, rustdl.full((1,), 3.0)])
    assert one.tolist() == [2.0, 3.0] and one.requires_grad
    b = rustdl.ones(2, 3, requires_grad=True)
    two = rustdl.cat([e, b, rustdl.zeros(0, 3)])
    assert two.shape == (2, 3) and two.requires_grad
    two.sum().backward()
    assert e.grad.shape == (0,) and b.grad.tolist() == [[1.0] * 3] * 2
    assert rustdl.cat([rustdl.zeros(0), rustdl.ones(2, 3, dtype=rustdl.float64)], 1).dtype == rustdl.float64
    assert F.pad(rustdl.zeros(0, requires_grad=True), (1, 1)).requires_grad
    assert rustdl.einsum("...i->...", rustdl.zeros(0, 3)).shape == (0,)
    with pytest.raises(ValueError, match="sizes of tensors must match"):
        rustdl.cat([rustdl.ones(2), rustdl.ones(2, 3)])


def test_adaptive_max_pool3d_indices_point_at_the_first_maximum():
    rng = np.random.default_rng(13)
    a = np.round(rng.standard_normal((2, 3, 5, 7, 6)), 1)  # rounded: ties inside windows
    x = rustdl.tensor(a, dtype=rustdl.float64)
    v, idx = F.adaptive_max_pool3d(x, (2, 3, 4), return_indices=True)
    assert idx.dtype == rustdl.int64 and idx.shape == v.shape == (2, 3, 2, 3, 4)
    flat = a.reshape(2, 3, -1)
    for (i, (d0, d1)), (j, (h0, h1)), (k, (w0, w1)) in itertools.product(
        enumerate(_windows(5, 2)), enumerate(_windows(7, 3)), enumerate(_windows(6, 4))
    ):
        win = a[:, :, d0:d1, h0:h1, w0:w1]
        for b, ch in itertools.product(range(2), range(3)):
            # the first maximum in (d, h, w) order, as a flat index of the whole volume
            dd, hh, ww = np.unravel_index(np.argmax(win[b, ch]), win[b, ch].shape)
            want = ((d0 + dd) * 7 + (h0 + hh)) * 6 + (w0 + ww)
            assert idx[b, ch, i, j, k].item() == want
            assert v[b, ch, i, j, k].item() == flat[b, ch, want]
    module = nn.AdaptiveMaxPool3d((2, 3, 4), return_indices=True)
    assert module(x[0])[1].tolist() == idx[0].tolist()
