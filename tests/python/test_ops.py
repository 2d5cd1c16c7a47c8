"""Every op's forward against numpy, and its gradient against finite differences (float64)."""

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from conftest import assert_close
from nn_refs import np_conv2d
from rustdl.autograd import gradcheck

rng = np.random.default_rng(0)


def r(*shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape)


def leaf(a, device="cpu", dtype=rustdl.float64):
    return rustdl.tensor(a, dtype=dtype, device=device, requires_grad=True)


# The one-input elementwise ops and activations live in the per-op table (test_op_table.py),
# which covers both sides of every kink; this file keeps broadcasting and the multi-op cases.


BINARY = {
    "add": (lambda x, y: x + y, np.add),
    "sub": (lambda x, y: x - y, np.subtract),
    "mul": (lambda x, y: x * y, np.multiply),
    "div": (lambda x, y: x / y, np.divide),
    "pow": (lambda x, y: x**y, np.power),
    "maximum": (lambda x, y: rustdl.maximum(x, y), np.maximum),
    "minimum": (lambda x, y: rustdl.minimum(x, y), np.minimum),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 5)), ((), (2, 2))])
def test_binary_broadcast_forward_and_grad(name, shapes, device):
    f, ref = BINARY[name]
    a, b = r(*shapes[0], lo=0.5, hi=2), r(*shapes[1], lo=0.5, hi=2)
    assert_close(f(rustdl.tensor(a, device=device), rustdl.tensor(b, device=device)), ref(a, b), rtol=1e-5)
    if device == "cpu":
        gradcheck(f, [leaf(a), leaf(b)])


def test_scalar_operands_and_promotion():
    x = rustdl.tensor([1, 2, 3])
    assert (x + 1).dtype == rustdl.int64 and (x + 1).tolist() == [2, 3, 4]
    assert (x * 1.5).dtype == rustdl.float32
    assert (x / 2).tolist() == [0.5, 1.0, 1.5]
    assert (2 - x).tolist() == [1, 0, -1]
    assert (x.float() + x).dtype == rustdl.float32
    assert (rustdl.tensor([1.0], dtype=rustdl.float64) + rustdl.tensor([1.0])).dtype == rustdl.float64


def test_comparisons_give_bool(device):
    a, b = r(4, 5), r(4, 5)
    b[::2] = a[::2]  # ties in half the rows, values that differ both ways in the others
    x, y = rustdl.tensor(a, device=device), rustdl.tensor(b, device=device)
    for got, want in [
        (x < y, a < b),
        (x <= y, a <= b),
        (x > 0, a > 0),
        (x >= y, a >= b),
        (x == y, a == b),
        (x != y, a != b),
    ]:
        assert got.dtype == rustdl.bool
        np.testing.assert_array_equal(got.cpu().numpy(), want)
    np.testing.assert_array_equal(((x > 0) & (y > 0)).cpu().numpy(), (a > 0) & (b > 0))
    np.testing.assert_array_equal((~(x > 0)).cpu().numpy(), ~(a > 0))


def test_where_and_masked_fill(device):
    a, b = r(3, 4), r(3, 4)
    x, y = rustdl.tensor(a, device=device), rustdl.tensor(b, device=device)
    assert_close(rustdl.where(x > 0, x, y), np.where(a > 0, a, b))
    assert_close(x.masked_fill(x > 0, 0.0), np.where(a > 0, 0.0, a))
    gradcheck(lambda u, v: rustdl.where(u > 0, u, v), [leaf(a), leaf(b)])


REDUCE_DIMS = [None, 0, 1, (0, 2), -1]


@pytest.mark.parametrize("dim", REDUCE_DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean_var_std(dim, keepdim, device):
    a = r(3, 4, 5)
    x = rustdl.tensor(a, device=device)
    ax = None if dim is None else dim
    assert_close(x.sum(dim, keepdim), a.sum(axis=ax, keepdims=keepdim), rtol=1e-5)
    assert_close(x.mean(dim, keepdim), a.mean(axis=ax, keepdims=keepdim), rtol=1e-5)
    assert_close(x.var(dim, keepdim=keepdim), a.var(axis=ax, ddof=1, keepdims=keepdim), rtol=1e-4)
    assert_close(x.std(dim, keepdim=keepdim, unbiased=False), a.std(axis=ax, keepdims=keepdim), rtol=1e-4)
    if device == "cpu":
        gradcheck(lambda t: t.var(dim, keepdim=keepdim), [leaf(a)])
        gradcheck(lambda t: t.mean(dim, keepdim=keepdim), [leaf(a)])


def test_max_min_argmax(device):
    a = r(4, 6)
    x = rustdl.tensor(a, device=device)
    v, i = x.max(dim=1)
    assert_close(v, a.max(1))
    np.testing.assert_array_equal(i.cpu().numpy(), a.argmax(1))
    res = x.min(dim=0, keepdim=True)
    assert_close(res.values, a.min(0, keepdims=True))
    np.testing.assert_array_equal(res.indices.cpu().numpy(), a.argmin(0)[None])
    assert_close(x.max(), a.max())
    assert x.argmax().item() == a.argmax()
    np.testing.assert_array_equal(x.argmin(dim=1).cpu().numpy(), a.argmin(1))
    gradcheck(lambda t: t.max(dim=1).values, [leaf(a)])
    gradcheck(lambda t: t.min(), [leaf(a)])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_log_softmax(dim, device):
    a = r(3, 5) * 3
    x = rustdl.tensor(a, device=device)
    e = np.exp(a - a.max(axis=dim, keepdims=True))
    sm = e / e.sum(axis=dim, keepdims=True)
    assert_close(x.softmax(dim), sm, rtol=1e-5)
    assert_close(x.log_softmax(dim), np.log(sm), rtol=1e-5, atol=1e-5)
    gradcheck(lambda t: t.softmax(dim), [leaf(a)])
    gradcheck(lambda t: t.log_softmax(dim), [leaf(a)])
    gradcheck(lambda t: t.logsumexp(dim), [leaf(a)])


@pytest.mark.parametrize(
    "sa,sb",
    [
        ((5,), (5,)),
        ((3, 5), (5,)),
        ((5,), (5, 4)),
        ((3, 5), (5, 4)),
        ((2, 3, 5), (5, 4)),
        ((2, 1, 3, 5), (4, 5, 2)),
        ((67, 129), (129, 33)),
    ],
)
def test_matmul_shapes_and_grad(sa, sb, device):
    a, b = r(*sa), r(*sb)
    x, y = rustdl.tensor(a, device=device), rustdl.tensor(b, device=device)
    assert_close(x @ y, np.matmul(a, b), rtol=1e-4, atol=1e-5)
    if device == "cpu" and a.size < 200:
        gradcheck(lambda u, v: u @ v, [leaf(a), leaf(b)])


def test_matmul_transposed_views_need_no_copy_and_are_right():
    a = r(64, 32)
    x = rustdl.tensor(a)
    assert_close(x.t() @ x, a.T @ a, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "shape, dims",
    [
        ((50177, 6), (0,)),  # narrow columns, rows not a multiple of the lane block, parallel
        ((7, 3), (0,)),
        ((64, 6, 28, 28), (0, 1, 2, 3)),  # everything
        ((64, 6, 28, 28), (0, 2, 3)),  # the per-channel sum of NCHW
        ((300, 1000), (1,)),  # row sums
        ((4, 5, 6000), (1, 2)),
        ((5000, 130), (0,)),
        ((33,), (0,)),
    ],
)
def test_sum_over_leading_trailing_and_all_dims_matches_float64(shape, dims):
    a = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    got = rustdl.tensor(a).sum(dims)
    assert_close(got, a.astype(np.float64).sum(dims), rtol=1e-5, atol=1e-4)


def test_matmul_and_conv_outputs_never_show_stale_memory():
    # products and column buffers are written without a zero fill first; freed NaN-filled
    # blocks of many sizes are left around so a stale read would show up as NaN or garbage
    rng = np.random.default_rng(7)
    for _ in range(60):
        junk = [
            rustdl.full((int(rng.integers(1, 300)), int(rng.integers(1, 300))), float("nan"))
            for _ in range(3)
        ]
        del junk
        m, k, n = (int(v) for v in rng.integers(1, 200, 3))
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        assert_close(rustdl.tensor(a) @ rustdl.tensor(b), a @ b, rtol=1e-3, atol=1e-3)
    x = rng.standard_normal((3, 2, 9, 9)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    want = np.zeros((3, 4, 9, 9))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for i in range(3):
        for j in range(3):
            want += np.einsum("nchw,oc->nohw", xp[:, :, i : i + 9, j : j + 9], w[:, :, i, j])
    for _ in range(5):
        junk = [rustdl.full((int(rng.integers(100, 3000)),), float("nan")) for _ in range(4)]
        del junk
        got = rustdl.nn.functional.conv2d(rustdl.tensor(x), rustdl.tensor(w), padding=1)
        assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_index_ops(device):
    a = r(4, 5)
    x = rustdl.tensor(a, device=device)
    idx = rustdl.tensor([3, 0, 3], device=device)
    assert_close(x.index_select(0, idx), a[[3, 0, 3]])
    g = np.array([[0, 4], [1, 1], [2, 0], [3, 3]])
    assert_close(x.gather(1, rustdl.tensor(g, device=device)), np.take_along_axis(a, g, 1))
    src = r(4, 2)
    want = np.zeros((4, 5))
    np.add.at(want, (np.arange(4)[:, None], g), src)
    assert_close(
        rustdl.zeros(4, 5, dtype=rustdl.float32, device=device).scatter_add(
            1, rustdl.tensor(g, device=device), rustdl.tensor(src, dtype=rustdl.float32, device=device)
        ),
        want,
    )
    gradcheck(lambda t: t.index_select(0, rustdl.tensor([3, 0, 3])), [leaf(a)])
    gradcheck(lambda t: t.gather(1, rustdl.tensor(g)), [leaf(a)])
    gradcheck(lambda t: t[1:, ::2] * 2, [leaf(a)])
    gradcheck(lambda t: rustdl.cat([t, t[:2] * 3]), [leaf(a)])


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_scatter_add_last_axis_on_offset_views(dtype):
    # index and source are dense views that start inside their storage (row slices)
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 5, (4, 6))
    src = rng.integers(-3, 4, (4, 6)).astype(dtype)
    got = rustdl.zeros(3, 5, dtype=getattr(rustdl, dtype)).scatter_add(
        1, rustdl.tensor(idx)[1:], rustdl.tensor(src)[1:]
    )
    want = np.zeros((3, 5), dtype=dtype)
    for row in range(3):
        np.add.at(want[row], idx[1 + row], src[1 + row])
    np.testing.assert_array_equal(got.numpy(), want)
    with pytest.raises(IndexError, match="scatter_add: index 5 is out of bounds"):
        rustdl.zeros(3, 5).scatter_add(1, rustdl.tensor([[0, 1], [5, 0], [1, 1]]), rustdl.ones(3, 2))


def test_shape_op_grads():
    a = r(2, 3, 4)
    for f in [
        lambda t: t.permute(2, 0, 1),
        lambda t: t.reshape(6, 4).t(),
        lambda t: t[:, :1].expand(2, 3, 4) * t,
        lambda t: t.repeat(2, 1, 1),
        lambda t: rustdl.stack([t, t * 2], 1),
        lambda t: t.split(2, dim=2)[1],
        lambda t: t.flip(1),
        lambda t: t.unsqueeze(0).squeeze(0).flatten(),
    ]:
        gradcheck(f, [leaf(a)])


@pytest.mark.parametrize("stride,pad,dil,groups", [(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (1, 1, 1, 2)])
def test_conv2d(stride, pad, dil, groups, device):
    x, w, b = r(2, 4, 7, 6), r(6, 4 // groups, 3, 3), r(6)
    got = F.conv2d(
        rustdl.tensor(x, device=device),
        rustdl.tensor(w, device=device),
        rustdl.tensor(b, device=device),
        stride=stride,
        padding=pad,
        dilation=dil,
        groups=groups,
    )
    assert_close(got, np_conv2d(x, w, b, stride, pad, dil, groups), rtol=1e-4, atol=1e-5)
    if device == "cpu":
        xs, ws, bs = r(1, 2 * groups, 5, 4), r(2, 2, 2, 3), r(2)
        gradcheck(
            lambda u, v, c: F.conv2d(u, v, c, stride=stride, padding=pad, dilation=dil, groups=groups),
            [leaf(xs), leaf(ws), leaf(bs)],
        )


@pytest.mark.parametrize(
    "stride,pad,dil", [(1, 1, 1), (2, 0, 1), (1, 2, 2), ((2, 1), (0, 1), (1, 2)), (3, 2, 1)]
)
def test_conv2d_per_image_path_forward_and_grads(stride, pad, dil, device):
    # more taps than the direct kernel takes (C*kh*kw > 64) and a batch of several images: the
    # CPU's one-gemm-per-image path (forward, input and weight gradients); checked against
    # numpy and finite differences
    x, w, b = r(5, 9, 8, 7), r(4, 9, 3, 3), r(4)
    got = F.conv2d(
        rustdl.tensor(x, device=device),
        rustdl.tensor(w, device=device),
        rustdl.tensor(b, device=device),
        stride=stride,
        padding=pad,
        dilation=dil,
    )
    assert_close(got, np_conv2d(x, w, b, stride, pad, dil, 1), rtol=1e-4, atol=1e-4)
    if device == "cpu":
        conv = lambda u, v, c: F.conv2d(u, v, c, stride=stride, padding=pad, dilation=dil)  # noqa: E731
        gradcheck(conv, [leaf(r(3, 8, 5, 6)), leaf(r(2, 8, 3, 3)), leaf(r(2))])
        tconv = lambda u, v: F.conv_transpose2d(u, v, stride=stride, padding=pad, dilation=dil)  # noqa: E731
        gradcheck(tconv, [leaf(r(3, 2, 3, 4)), leaf(r(2, 8, 3, 3))])


def test_conv_transpose2d_is_adjoint_of_conv2d():
    # <conv(x), y> == <x, conv_transpose(y)> for the same weight
    x, w, y = r(2, 3, 7, 7), r(4, 3, 3, 3), r(2, 4, 4, 4)
    cx = F.conv2d(rustdl.tensor(x), rustdl.tensor(w), stride=2, padding=1).numpy()
    ty = F.conv_transpose2d(rustdl.tensor(y), rustdl.tensor(w), stride=2, padding=1).numpy()
    assert ty.shape == x.shape
    assert abs((cx * y).sum() - (x * ty).sum()) < 1e-3
    gradcheck(
        lambda u, v: F.conv_transpose2d(u, v, stride=2, padding=1, output_padding=1),
        [leaf(r(1, 2, 3, 3)), leaf(r(2, 3, 3, 3))],
    )


def pool_ref(x, k, s, p, op):
    n, c, h, w = x.shape
    fill = -np.inf if op == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=fill)
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * s : i * s + k, j * s : j * s + k]
            out[:, :, i, j] = win.max(axis=(2, 3)) if op == "max" else win.mean(axis=(2, 3))
    return out


@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 2, 1), (3, 1, 0)])
def test_pooling(k, s, p, device):
    a = r(2, 3, 8, 7)
    x = rustdl.tensor(a, device=device)
    assert_close(F.max_pool2d(x, k, s, p), pool_ref(a, k, s, p, "max"))
    assert_close(F.avg_pool2d(x, k, s, p), pool_ref(a, k, s, p, "avg"), rtol=1e-5)
    if device == "cpu":
        gradcheck(lambda t: F.max_pool2d(t, k, s, p), [leaf(r(1, 2, 5, 5))])
        gradcheck(lambda t: F.avg_pool2d(t, k, s, p), [leaf(r(1, 2, 5, 5))])


def test_max_pool_indices_point_at_maxima():
    a = r(2, 3, 6, 6)
    v, i = F.max_pool2d(rustdl.tensor(a), 2, return_indices=True)
    flat = a.reshape(2, 3, 36)
    np.testing.assert_allclose(
        np.take_along_axis(flat, i.numpy().reshape(2, 3, -1), 2).reshape(v.shape), v.numpy(), rtol=1e-6
    )


def test_adaptive_avg_pool_and_interpolate(device):
    a = r(1, 2, 6, 9)
    x = rustdl.tensor(a, device=device)
    assert_close(F.adaptive_avg_pool2d(x, (3, 3)), a.reshape(1, 2, 3, 2, 3, 3).mean(axis=(3, 5)), rtol=1e-5)
    assert_close(F.adaptive_avg_pool2d(x, 1), a.mean(axis=(2, 3), keepdims=True), rtol=1e-5)
    up = F.interpolate(x, scale_factor=2, mode="nearest")
    assert_close(up, a.repeat(2, axis=2).repeat(2, axis=3))
    gradcheck(lambda t: F.adaptive_avg_pool2d(t, (2, 3)), [leaf(r(1, 1, 5, 7))])
    gradcheck(lambda t: F.interpolate(t, size=(5, 4), mode="bilinear"), [leaf(r(1, 1, 3, 3))])


def test_bilinear_align_corners_endpoints():
    a = r(1, 1, 3, 3)
    out = F.interpolate(rustdl.tensor(a), size=(5, 5), mode="bilinear", align_corners=True).numpy()
    np.testing.assert_allclose(out[0, 0, ::2, ::2], a[0, 0], rtol=1e-6)


def test_batch_norm_layer_norm_group_norm(device):
    a = r(4, 3, 2, 2)
    x = rustdl.tensor(a, device=device)
    mu = a.mean(axis=(0, 2, 3), keepdims=True)
    var = a.var(axis=(0, 2, 3), keepdims=True)
    rm, rv = rustdl.zeros(3, device=device), rustdl.ones(3, device=device)
    out = F.batch_norm(x, rm, rv, training=True, momentum=0.1, eps=1e-5)
    assert_close(out, (a - mu) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)
    assert_close(rm, 0.1 * mu.reshape(3), rtol=1e-5, atol=1e-6)
    assert_close(rv, 0.9 + 0.1 * a.var(axis=(0, 2, 3), ddof=1), rtol=1e-5)
    ln = F.layer_norm(x, (2, 2))
    m2 = a.mean(axis=(2, 3), keepdims=True)
    assert_close(ln, (a - m2) / np.sqrt(a.var(axis=(2, 3), keepdims=True) + 1e-5), rtol=1e-4, atol=1e-5)
    gn = F.group_norm(rustdl.tensor(r(2, 4, 3), device=device), 2)
    assert gn.shape == (2, 4, 3)
    gradcheck(lambda t: F.batch_norm(t, None, None, training=True), [leaf(r(3, 2, 2))])
    gradcheck(lambda t, w, b: F.layer_norm(t, (4,), w, b), [leaf(r(3, 4)), leaf(r(4)), leaf(r(4))])
    gradcheck(lambda t: F.group_norm(t, 2), [leaf(r(2, 4, 3))])


def test_dropout_scaling_and_eval_identity():
    x = rustdl.ones(10_000)
    y = F.dropout(x, 0.25, training=True).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    np.testing.assert_array_equal(F.dropout(x, 0.25, training=False).numpy(), np.ones(10_000))


def test_embedding_and_padding_idx():
    w = r(5, 3)
    idx = rustdl.tensor([[0, 2], [4, 2]])
    assert_close(F.embedding(idx, rustdl.tensor(w)), w[[[0, 2], [4, 2]]])
    wt = leaf(w)
    F.embedding(idx, wt, padding_idx=2).sum().backward()
    g = wt.grad.numpy()
    np.testing.assert_array_equal(g[2], 0.0)
    np.testing.assert_array_equal(g[0], 1.0)
    np.testing.assert_array_equal(g[1], 0.0)


def log_softmax_np(a, axis=1):
    m = a.max(axis=axis, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=axis, keepdims=True))


def test_cross_entropy_variants(device):
    a = r(6, 4) * 2
    t = np.array([0, 3, 1, 1, 2, 0])
    x, tt = rustdl.tensor(a, device=device), rustdl.tensor(t, device=device)
    lp = log_softmax_np(a)
    nll = -lp[np.arange(6), t]
    assert_close(F.cross_entropy(x, tt), nll.mean(), rtol=1e-5)
    assert_close(F.cross_entropy(x, tt, reduction="sum"), nll.sum(), rtol=1e-5)
    assert_close(F.cross_entropy(x, tt, reduction="none"), nll, rtol=1e-5)
    w = np.array([1.0, 2.0, 0.5, 1.5])
    assert_close(
        F.cross_entropy(x, tt, weight=rustdl.tensor(w, dtype=rustdl.float32, device=device)),
        (nll * w[t]).sum() / w[t].sum(),
        rtol=1e-5,
    )
    ti = t.copy()
    ti[1] = -100
    keep = ti != -100
    assert_close(F.cross_entropy(x, rustdl.tensor(ti, device=device)), nll[keep].mean(), rtol=1e-5)
    eps = 0.1
    smooth = (1 - eps) * nll + eps * (-lp.mean(axis=1))
    assert_close(F.cross_entropy(x, tt, label_smoothing=eps), smooth.mean(), rtol=1e-5)
    assert_close(F.nll_loss(x.log_softmax(1), tt), nll.mean(), rtol=1e-5)
    probs = np.exp(lp)
    assert_close(
        F.cross_entropy(x, rustdl.tensor(probs, device=device)), (-(probs * lp).sum(1)).mean(), rtol=1e-5
    )
    # spatial targets (N, C, H, W)
    a4 = r(2, 3, 2, 2)
    t4 = rng.integers(0, 3, size=(2, 2, 2))
    lp4 = log_softmax_np(a4)
    want = -np.take_along_axis(lp4, t4[:, None], 1).mean()
    assert_close(
        F.cross_entropy(rustdl.tensor(a4, device=device), rustdl.tensor(t4, device=device)), want, rtol=1e-5
    )
    gradcheck(lambda u: F.cross_entropy(u, rustdl.tensor(t), label_smoothing=0.1), [leaf(a)])


def test_regression_and_binary_losses(device):
    a, b = r(5, 3), r(5, 3)
    p = 1 / (1 + np.exp(-a))
    y = (b > 0).astype(np.float64)
    x, t = rustdl.tensor(a, device=device), rustdl.tensor(b, device=device)
    assert_close(F.mse_loss(x, t), ((a - b) ** 2).mean(), rtol=1e-5)
    assert_close(F.l1_loss(x, t, reduction="sum"), np.abs(a - b).sum(), rtol=1e-5)
    d = np.abs(a - b)
    assert_close(
        F.smooth_l1_loss(x, t, beta=0.5), np.where(d < 0.5, 0.5 * d**2 / 0.5, d - 0.25).mean(), rtol=1e-5
    )
    assert_close(
        F.huber_loss(x, t, delta=0.5), np.where(d < 0.5, 0.5 * d**2, 0.5 * (d - 0.25)).mean(), rtol=1e-5
    )
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert_close(
        F.binary_cross_entropy(rustdl.tensor(p, device=device), rustdl.tensor(y, device=device)),
        bce.mean(),
        rtol=1e-5,
    )
    assert_close(
        F.binary_cross_entropy_with_logits(x, rustdl.tensor(y, device=device)), bce.mean(), rtol=1e-5
    )
    pw = np.array([2.0, 1.0, 0.5])
    want = -(pw * y * np.log(p) + (1 - y) * np.log(1 - p))
    assert_close(
        F.binary_cross_entropy_with_logits(
            x, rustdl.tensor(y, device=device), pos_weight=rustdl.tensor(pw, device=device)
        ),
        want.mean(),
        rtol=1e-5,
    )
    q = np.exp(log_softmax_np(b))
    lq = log_softmax_np(a)
    assert_close(
        F.kl_div(rustdl.tensor(lq, device=device), rustdl.tensor(q, device=device), reduction="batchmean"),
        (q * (np.log(q) - lq)).sum() / 5,
        rtol=1e-5,
    )
    yt = rustdl.tensor(y)
    for f in [
        lambda u: F.mse_loss(u, rustdl.tensor(b)),
        lambda u: F.smooth_l1_loss(u, rustdl.tensor(b)),
        lambda u: F.binary_cross_entropy_with_logits(u, yt),
        lambda u: F.binary_cross_entropy(u.sigmoid(), yt),
        lambda u: F.kl_div(u.log_softmax(1), rustdl.tensor(q), reduction="batchmean"),
    ]:
        gradcheck(f, [leaf(a)])


def test_max_pool_2x2_matches_numpy_ties_and_nan(device):
    # the dedicated 2×2 / stride-2 path: values, first maximum on ties (its gradient), NaN wins
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 4, 10, 9)).astype(np.float32)  # odd width: last column dropped
    a[0, 0, 0, 0] = a[0, 0, 0, 1] = 9.0  # tie inside one window
    a[1, 2, 4, 5] = np.nan
    x = rustdl.tensor(a, device=device, requires_grad=True)
    y = rustdl.nn.functional.max_pool2d(x, 2)
    win = a[:, :, :10, :8].reshape(3, 4, 5, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5).reshape(3, 4, 5, 4, 4)
    want = np.where(np.isnan(win).any(-1), np.nan, np.nanmax(win, -1))
    np.testing.assert_array_equal(y.detach().cpu().numpy(), want)
    y.sum().backward()
    g = x.grad.cpu().numpy()
    assert g[0, 0, 0, 0] == 1.0 and g[0, 0, 0, 1] == 0.0  # the first of the tied taps
    assert g[1, 2, 4, 5] == 1.0  # the NaN tap
    assert g.sum() == y.numel()


@pytest.mark.parametrize("shape", [(1024, 6, 128), (3, 50000), ()])
def test_strided_maps_write_every_element(shape):
    """Unary and binary maps over strided and broadcast views, large enough to split over
    threads: every element of the result is computed (none left as stale memory)."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape[:-1] + (1,) if shape else ()).astype(np.float32)
    for _ in range(3):  # reuse freed buffers between rounds
        ta, tb = rustdl.tensor(a), rustdl.tensor(b)
        np.testing.assert_allclose((ta * tb).numpy(), a * b, rtol=1e-6)
        if len(shape) >= 2:
            t = ta.transpose(0, -1)
            np.testing.assert_allclose(t.exp().numpy(), np.exp(np.swapaxes(a, 0, -1)), rtol=1e-5)
            np.testing.assert_allclose((t + t).numpy(), 2 * np.swapaxes(a, 0, -1), rtol=1e-6)


def test_clamp_with_tensor_bounds_matches_numpy(device):
    """``clamp``/``clip`` and their in-place and one-sided forms with tensor bounds (broadcast),
    as PyTorch since 1.9: ``min(max(x, lo), hi)``, the upper bound winning where ``lo > hi``."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 5))
    lo = rng.standard_normal((5,)) - 0.5
    hi = rng.standard_normal((4, 1)) + 0.5
    tx, tlo, thi = (rustdl.tensor(v, device=device, dtype=rustdl.float32) for v in (x, lo, hi))
    f32 = lambda v: v.astype(np.float32)  # noqa: E731
    expect = np.minimum(np.maximum(f32(x), f32(lo)), f32(hi))
    assert_close(rustdl.clamp(tx, tlo, thi), expect, rtol=0, atol=0)
    assert_close(tx.clip(min=tlo, max=thi), expect, rtol=0, atol=0)
    assert_close(tx.clamp(min=tlo), np.maximum(f32(x), f32(lo)), rtol=0, atol=0)
    assert_close(tx.clamp_max(thi), np.minimum(f32(x), f32(hi)), rtol=0, atol=0)
    assert_close(
        tx.clamp(tlo, 0.25), np.minimum(np.maximum(f32(x), f32(lo)), np.float32(0.25)), rtol=0, atol=0
    )
    y = tx.clone()
    y.clamp_(tlo, thi)
    assert_close(y, expect, rtol=0, atol=0)
    with pytest.raises(TypeError, match="clamp: min and max must be numbers or tensors"):
        tx.clamp("a")


def test_clamp_tensor_bounds_gradient():
    rng = np.random.default_rng(12)
    x = rustdl.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    lo = rustdl.tensor(rng.standard_normal((4,)) - 0.3, requires_grad=True)
    hi = rustdl.tensor(rng.standard_normal((3, 1)) + 0.8, requires_grad=True)
    assert gradcheck(lambda a, b, c: a.clamp(b, c), (x, lo, hi))


def test_clamp_inplace_tensor_bounds_on_graph_tensor():
    """``y.clamp_(lo, hi)`` on a non-leaf keeps a valid graph (PyTorch: grad 2 where inside)."""
    x = rustdl.tensor([-1.0, 0.3, 2.0], requires_grad=True)
    y = x * 2
    y.clamp_(rustdl.zeros(3), rustdl.ones(3))
    y.sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), np.array([0.0, 0.6, 1.0], np.float32))
    np.testing.assert_array_equal(x.grad.numpy(), np.array([0.0, 2.0, 0.0], np.float32))


def test_where_python_float_takes_the_tensors_float_dtype():
    x = rustdl.tensor([1.0, -2.0], dtype=rustdl.float64)
    out = rustdl.where(x > 0, x, 0.01)
    assert out.dtype == rustdl.float64 and out.tolist() == [1.0, 0.01]
    out = rustdl.where(x > 0, 0.1, x)
    assert out.tolist() == [0.1, -2.0]
    # next to an int tensor a float is float32, as PyTorch
    assert rustdl.where(x > 0, rustdl.tensor([1, 2]), 0.5).dtype == rustdl.float32


@pytest.mark.parametrize(
    "k,pad,dil,dtype",
    [
        ((3, 3), (1, 1), (1, 1), "float32"),
        ((5, 3), (2, 0), (1, 2), "float64"),
        ((3, 1), (3, 3), (2, 1), "float64"),
    ],
)
def test_conv2d_input_gradient_on_large_images(k, pad, dil, dtype):
    # stride-1 layers on 30x32 images take the CPU's shifted products; the input gradient runs as
    # a forward convolution of the output gradient with the flipped, channel-swapped weight —
    # checked against the definition (a sum over taps of shifted weighted output gradients)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 9, 30, 32)).astype(dtype)
    w = rng.standard_normal((6, 9) + k).astype(dtype)
    xt = rustdl.tensor(x, requires_grad=True)
    y = F.conv2d(xt, rustdl.tensor(w), padding=pad, dilation=dil)
    gy = rng.standard_normal(tuple(y.shape))
    y.backward(rustdl.tensor(gy.astype(dtype)))
    (ph, pw), (dh, dw) = pad, dil
    dxp = np.zeros((3, 9, 30 + 2 * ph, 32 + 2 * pw))
    oh, ow = gy.shape[2:]
    for i in range(k[0]):
        for j in range(k[1]):
            dxp[:, :, i * dh : i * dh + oh, j * dw : j * dw + ow] += np.einsum(
                "noyx,oc->ncyx", gy, w[:, :, i, j]
            )
    ref = dxp[:, :, ph : ph + 30, pw : pw + 32]
    tol = 1e-4 if dtype == "float32" else 1e-10
    assert_close(xt.grad, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "shape,out,pad,dtype",
    [
        ((2, 64, 8, 8), 64, 1, "float32"),
        ((3, 65, 9, 9), 70, 1, "float64"),
        ((2, 64, 6, 18), 66, 0, "float32"),
        ((2, 64, 7, 14), 64, 2, "float64"),
    ],
)
def test_conv2d_3x3_with_many_channels_forward_and_input_gradient(shape, out, pad, dtype):
    # 3x3 stride-1 layers with 64+ channels each side run on the CPU as Winograd F(2x2, 3x3)
    # products (tiles of 2x2 outputs; odd sizes leave half tiles), as does their input gradient
    # (a forward convolution of the output gradient): both checked against the definition in
    # float64
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((out, shape[1], 3, 3)).astype(dtype)
    b = rng.standard_normal(out).astype(dtype)
    xt = rustdl.tensor(x, requires_grad=True)
    y = F.conv2d(xt, rustdl.tensor(w), rustdl.tensor(b), padding=pad)
    tol = 1e-4 if dtype == "float32" else 1e-10
    ref = np_conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), 1, pad, 1, 1)
    assert tuple(y.shape) == ref.shape
    assert_close(y, ref, rtol=tol, atol=tol)
    gy = rng.standard_normal(ref.shape)
    y.backward(rustdl.tensor(gy.astype(dtype)))
    n, c, h, wd = shape
    dxp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad))
    oh, ow = ref.shape[2:]
    for i in range(3):
        for j in range(3):
            dxp[:, :, i : i + oh, j : j + ow] += np.einsum("noyx,oc->ncyx", gy, w[:, :, i, j])
    assert_close(xt.grad, dxp[:, :, pad : pad + h, pad : pad + wd], rtol=tol, atol=tol)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan, 3e37])
def test_conv2d_3x3_with_many_channels_keeps_infinities_where_the_definition_has_them(bad):
    # the Winograd transforms add and subtract inputs, so an infinity could meet itself with the
    # opposite sign (NaN where the definition gives +-inf), and huge values could overflow: such
    # inputs, weights and gradients take the direct algorithm
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 64, 8, 8)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    x[1, 3, 4, 5] = bad
    xt = rustdl.tensor(x, requires_grad=True)
    wt = rustdl.tensor(w, requires_grad=True)
    y = F.conv2d(xt, wt, padding=1)
    with np.errstate(invalid="ignore", over="ignore"):
        ref = np_conv2d(x.astype(np.float64), w.astype(np.float64), None, 1, 1, 1, 1)
    np.testing.assert_allclose(y.detach().numpy(), ref.astype(np.float32), rtol=1e-4, atol=1e-4)
    assert np.isfinite(y.detach().numpy()[0]).all()
    gy = np.ones(ref.shape, np.float32)
    gy[0, 2, 1, 1] = bad
    y.backward(rustdl.tensor(gy))
    with np.errstate(invalid="ignore", over="ignore"):
        xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
        dw = np.zeros(w.shape)
        for i in range(3):
            for j in range(3):
                dw[:, :, i, j] = np.einsum(
                    "noyx,ncyx->oc", gy.astype(np.float64), xp[:, :, i : i + 8, j : j + 8]
                )
    np.testing.assert_allclose(wt.grad.numpy(), dw.astype(np.float32), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(
    "k,pad,dil,dtype", [((3, 3), (1, 1), (1, 1), "float32"), ((5, 3), (2, 0), (1, 2), "float64")]
)
def test_conv2d_weight_gradient_on_large_images(k, pad, dil, dtype):
    # stride-1 layers on 30x32 images: the weight gradient from shifted products over the
    # padded channels-last input, checked against the definition (after a no_grad forward of
    # the same layer too)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 9, 30, 32)).astype(dtype)
    w = rng.standard_normal((6, 9) + k).astype(dtype)
    wt = rustdl.tensor(w, requires_grad=True)
    with rustdl.no_grad():
        F.conv2d(rustdl.tensor(x), wt, padding=pad, dilation=dil)
    y = F.conv2d(rustdl.tensor(x), wt, padding=pad, dilation=dil)
    gy = rng.standard_normal(tuple(y.shape))
    y.backward(rustdl.tensor(gy.astype(dtype)))
    (ph, pw), (dh, dw) = pad, dil
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = gy.shape[2:]
    ref = np.zeros(w.shape)
    for i in range(k[0]):
        for j in range(k[1]):
            win = xp[:, :, i * dh : i * dh + oh, j * dw : j * dw + ow]
            ref[:, :, i, j] = np.einsum("noyx,ncyx->oc", gy, win)
    tol = 1e-4 if dtype == "float32" else 1e-10
    assert_close(wt.grad, ref, rtol=tol, atol=tol)
