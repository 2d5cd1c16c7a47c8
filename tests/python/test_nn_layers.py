"""Every layer's forward against a numpy formula (CPU and GPU) and its gradients against gradcheck (float64)."""

import math

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from nn_refs import np_conv2d
from rustdl import nn
from rustdl.autograd import gradcheck
from rustdl.nn import functional as F

F64 = rustdl.float64


def t(a, device="cpu", dtype=rustdl.float32, requires_grad=False):
    return rustdl.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=requires_grad)


def params_np(m):
    return {n: p.detach().cpu().numpy().astype(np.float64) for n, p in m.named_parameters()}


def functional_call(module, values, inputs):
    """Runs ``module(*inputs)`` with its parameters temporarily replaced by ``values`` (name -> tensor)."""
    saved = []
    for name, v in values.items():
        owner, _, key = name.rpartition(".")
        sub = module.get_submodule(owner)
        saved.append((sub, key, sub._parameters[key]))
        sub._parameters[key] = v
    try:
        return module(*inputs)
    finally:
        for sub, key, p in saved:
            sub._parameters[key] = p


def check_grads(module, *inputs):
    """gradcheck (float64) of ``module`` with respect to its inputs and all its parameters."""
    module.double()
    names, params = zip(*module.named_parameters()) if list(module.parameters()) else ((), ())
    n = len(inputs)

    def fn(*args):
        return functional_call(module, dict(zip(names, args[n:])), args[:n])

    assert gradcheck(fn, [*inputs, *params])


def rand64(*shape, requires_grad=True, seed=0):
    return t(np.random.default_rng(seed).standard_normal(shape), dtype=F64, requires_grad=requires_grad)


# ---------------- numpy references ----------------


def np_conv_transpose2d(x, w, b, stride, pad, out_pad, groups, dil):
    n, cin, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = cin // groups
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, pad, out_pad, dil
    fh = (h - 1) * sh + dh * (kh - 1) + 1 + oph
    fw = (wd - 1) * sw + dw * (kw - 1) + 1 + opw
    full = np.zeros((n, og * groups, fh, fw))
    for g in range(groups):
        xs = x[:, g * cg : (g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                contrib = np.einsum("nchw,co->nohw", xs, w[g * cg : (g + 1) * cg, :, i, j])
                full[
                    :,
                    g * og : (g + 1) * og,
                    i * dh : i * dh + sh * (h - 1) + 1 : sh,
                    j * dw : j * dw + sw * (wd - 1) + 1 : sw,
                ] += contrib
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    ow = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    out = full[:, :, ph : ph + oh, pw : pw + ow]
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out


def np_pool(x, k, s, p, op, pad_value):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=pad_value)
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = op(xp[:, :, i * s : i * s + k, j * s : j * s + k], axis=(2, 3))
    return out


def np_adaptive_avg(x, oh, ow):
    n, c, h, w = x.shape
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        h0, h1 = (i * h) // oh, -(-((i + 1) * h) // oh)
        for j in range(ow):
            w0, w1 = (j * w) // ow, -(-((j + 1) * w) // ow)
            out[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return out


def np_upsample(x, oh, ow, mode, align_corners=False):
    n, c, h, w = x.shape
    if mode == "nearest":
        hi = np.minimum(np.floor(np.arange(oh) * (h / oh)).astype(int), h - 1)
        wi = np.minimum(np.floor(np.arange(ow) * (w / ow)).astype(int), w - 1)
        return x[:, :, hi][:, :, :, wi]

    def coords(o, i):
        if align_corners:
            src = np.arange(o) * ((i - 1) / (o - 1) if o > 1 else 0.0)
        else:
            src = np.maximum((np.arange(o) + 0.5) * (i / o) - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(int), i - 1)
        i1 = np.minimum(i0 + 1, i - 1)
        return i0, i1, src - i0

    h0, h1, lh = coords(oh, h)
    w0, w1, lw = coords(ow, w)
    top = x[:, :, h0][:, :, :, w0] * (1 - lw) + x[:, :, h0][:, :, :, w1] * lw
    bot = x[:, :, h1][:, :, :, w0] * (1 - lw) + x[:, :, h1][:, :, :, w1] * lw
    return top * (1 - lh)[:, None] + bot * lh[:, None]


# ---------------- linear / conv ----------------


def test_linear_forward(device):
    fc = nn.Linear(5, 3).to(device)
    x = np.random.randn(4, 5)
    p = params_np(fc)
    assert_close(fc(t(x, device)), x @ p["weight"].T + p["bias"], rtol=1e-5, atol=1e-5)
    y = fc(t(np.random.randn(2, 6, 5), device))
    assert y.shape == (2, 6, 3)
    nobias = nn.Linear(5, 3, bias=False).to(device)
    assert nobias.bias is None and len(list(nobias.parameters())) == 1
    assert_close(nobias(t(x, device)), x @ params_np(nobias)["weight"].T, rtol=1e-5, atol=1e-5)


def test_linear_bad_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="linear"):
        nn.Linear(5, 3)(rustdl.zeros(4, 6))


def test_linear_grads():
    check_grads(nn.Linear(3, 2), rand64(4, 3))


@pytest.mark.parametrize(
    "kw",
    [
        dict(stride=1, padding=0, dilation=1, groups=1),
        dict(stride=2, padding=1, dilation=1, groups=1),
        dict(stride=1, padding=2, dilation=2, groups=2),
    ],
)
def test_conv2d_forward(device, kw):
    conv = nn.Conv2d(4, 6, 3, **kw).to(device)
    x = np.random.randn(2, 4, 7, 8)
    p = params_np(conv)
    ref = np_conv2d(x, p["weight"], p["bias"], conv.stride, conv.padding, conv.dilation, conv.groups)
    out = conv(t(x, device))
    assert out.shape == ref.shape
    assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_conv2d_same_padding(device):
    conv = nn.Conv2d(2, 3, (2, 3), padding="same").to(device)
    x = np.random.randn(1, 2, 5, 6)
    p = params_np(conv)
    # 'same' with an even kernel pads one more on the bottom, as PyTorch
    xp = np.pad(x, ((0, 0), (0, 0), (0, 1), (1, 1)))
    ref = np_conv2d(xp, p["weight"], p["bias"], (1, 1), (0, 0), (1, 1), 1)
    out = conv(t(x, device))
    assert out.shape == (1, 3, 5, 6)
    assert_close(out, ref, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="same"):
        nn.Conv2d(2, 3, 3, stride=2, padding="same")


def test_conv1d_forward(device):
    conv = nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2).to(device)
    x = np.random.randn(2, 4, 11)
    p = params_np(conv)
    ref = np_conv2d(x[:, :, None], p["weight"][:, :, None], p["bias"], (1, 2), (0, 1), (1, 1), 2)[:, :, 0]
    out = conv(t(x, device))
    assert out.shape == (2, 6, 6)
    assert_close(out, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "kw", [dict(stride=2, padding=0, output_padding=0), dict(stride=2, padding=1, output_padding=1, groups=2)]
)
def test_conv_transpose2d_forward(device, kw):
    conv = nn.ConvTranspose2d(4, 6, 3, **kw).to(device)
    x = np.random.randn(2, 4, 4, 5)
    p = params_np(conv)
    ref = np_conv_transpose2d(
        x, p["weight"], p["bias"], conv.stride, conv.padding, conv.output_padding, conv.groups, conv.dilation
    )
    out = conv(t(x, device))
    assert out.shape == ref.shape
    assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_conv_grads():
    check_grads(nn.Conv2d(2, 3, 3, stride=2, padding=1), rand64(1, 2, 5, 5))
    check_grads(nn.Conv2d(4, 2, 2, dilation=2, groups=2), rand64(1, 4, 5, 5))
    check_grads(nn.Conv1d(2, 3, 3, padding=1), rand64(2, 2, 5))
    check_grads(nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1), rand64(1, 2, 3, 3))


def test_conv_errors():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 3)(rustdl.zeros(1, 2, 5, 5))
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="symmetric")


# ---------------- pooling / upsampling ----------------


def test_pooling_forward(device):
    x = np.random.randn(2, 3, 7, 6)
    xt = t(x, device)
    assert_close(nn.MaxPool2d(2)(xt), np_pool(x, 2, 2, 0, np.max, -np.inf))
    assert_close(nn.MaxPool2d(3, stride=2, padding=1)(xt), np_pool(x, 3, 2, 1, np.max, -np.inf))
    assert_close(nn.AvgPool2d(2)(xt), np_pool(x, 2, 2, 0, np.mean, 0.0), rtol=1e-5, atol=1e-6)
    assert_close(
        nn.AvgPool2d(3, stride=2, padding=1)(xt), np_pool(x, 3, 2, 1, np.mean, 0.0), rtol=1e-5, atol=1e-6
    )
    assert_close(nn.AdaptiveAvgPool2d((3, 4))(xt), np_adaptive_avg(x, 3, 4), rtol=1e-5, atol=1e-6)
    assert_close(nn.AdaptiveAvgPool2d(1)(xt), x.mean(axis=(2, 3), keepdims=True), rtol=1e-5, atol=1e-6)
    vals, idx = nn.MaxPool2d(2, return_indices=True)(xt)
    flat = x.reshape(2, 3, -1)
    assert_close(
        vals, np.take_along_axis(flat, idx.cpu().numpy().reshape(2, 3, -1), axis=2).reshape(vals.shape)
    )


def test_upsample_forward(device):
    x = np.random.randn(1, 2, 3, 4)
    xt = t(x, device)
    assert_close(nn.Upsample(scale_factor=2)(xt), np_upsample(x, 6, 8, "nearest"))
    assert_close(nn.Upsample(size=(5, 7))(xt), np_upsample(x, 5, 7, "nearest"))
    assert_close(
        nn.Upsample(scale_factor=2, mode="bilinear")(xt),
        np_upsample(x, 6, 8, "bilinear"),
        rtol=1e-5,
        atol=1e-5,
    )
    assert_close(
        nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True)(xt),
        np_upsample(x, 5, 7, "bilinear", True),
        rtol=1e-5,
        atol=1e-5,
    )
    with pytest.raises(ValueError):
        nn.Upsample(scale_factor=2, mode="cubic")  # not a mode ("bicubic" is)


def test_pool_and_upsample_grads():
    x = rand64(1, 2, 4, 5)
    check_grads(nn.MaxPool2d(2, stride=1), x)
    check_grads(nn.AvgPool2d(3, stride=2, padding=1), x)
    check_grads(nn.AdaptiveAvgPool2d((3, 2)), x)
    check_grads(nn.Upsample(scale_factor=2), x)
    check_grads(nn.Upsample(size=(5, 7), mode="bilinear"), x)


# ---------------- normalisation ----------------


def test_batchnorm_train_and_eval_like_pytorch(device):
    bn = nn.BatchNorm1d(3, momentum=0.2).to(device)
    with rustdl.no_grad():
        bn.weight.copy_(t([1.0, 2.0, 0.5], device))
        bn.bias.copy_(t([0.0, -1.0, 1.0], device))
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(3):
        x = np.random.randn(8, 3) * (step + 1) + step
        out = bn(t(x, device))
        mean, var = x.mean(0), x.var(0)
        ref = (x - mean) / np.sqrt(var + 1e-5) * [1.0, 2.0, 0.5] + [0.0, -1.0, 1.0]
        assert_close(out, ref, rtol=1e-4, atol=1e-4)
        rm = 0.8 * rm + 0.2 * mean
        rv = 0.8 * rv + 0.2 * x.var(0, ddof=1)  # running variance is unbiased
        assert_close(bn.running_mean, rm, rtol=1e-5, atol=1e-5)
        assert_close(bn.running_var, rv, rtol=1e-5, atol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 3
    bn.eval()
    x = np.random.randn(5, 3)
    out = bn(t(x, device))
    assert_close(
        out, (x - rm) / np.sqrt(rv + 1e-5) * [1.0, 2.0, 0.5] + [0.0, -1.0, 1.0], rtol=1e-4, atol=1e-4
    )
    assert_close(bn.running_mean, rm, rtol=1e-5, atol=1e-5)  # eval leaves the statistics alone
    assert int(bn.num_batches_tracked.item()) == 3


def test_batchnorm2d_and_options(device):
    bn = nn.BatchNorm2d(2).to(device)
    x = np.random.randn(4, 2, 3, 3)
    ref = (x - x.mean((0, 2, 3), keepdims=True)) / np.sqrt(x.var((0, 2, 3), keepdims=True) + 1e-5)
    assert_close(bn(t(x, device)), ref, rtol=1e-4, atol=1e-4)
    assert_close(bn.running_var, 0.9 + 0.1 * x.var((0, 2, 3), ddof=1), rtol=1e-5)
    # momentum=None: cumulative moving average
    cum = nn.BatchNorm1d(2, momentum=None).to(device)
    xs = [np.random.randn(6, 2) for _ in range(3)]
    for xi in xs:
        cum(t(xi, device))
    assert_close(cum.running_mean, np.mean([xi.mean(0) for xi in xs], axis=0), rtol=1e-5, atol=1e-6)
    # no running statistics: batch statistics in eval too
    nostats = nn.BatchNorm1d(2, track_running_stats=False, affine=False).to(device).eval()
    assert nostats.running_mean is None and list(nostats.parameters()) == []
    assert_close(
        nostats(t(xs[0], device)),
        (xs[0] - xs[0].mean(0)) / np.sqrt(xs[0].var(0) + 1e-5),
        rtol=1e-4,
        atol=1e-4,
    )
    # 3-D input (N, C, L)
    x3 = np.random.randn(4, 2, 5)
    ref3 = (x3 - x3.mean((0, 2), keepdims=True)) / np.sqrt(x3.var((0, 2), keepdims=True) + 1e-5)
    assert_close(nn.BatchNorm1d(2).to(device)(t(x3, device)), ref3, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="BatchNorm2d"):
        bn(t(np.zeros((4, 2)), device))
    with pytest.raises(ValueError, match="more than 1 value"):
        nn.BatchNorm1d(2).to(device)(t(np.zeros((1, 2)), device))
    # an empty batch: an empty output, running statistics untouched, zero parameter gradients
    empty = nn.BatchNorm2d(3).to(device)
    for shape in [(0, 3, 4, 4), (2, 3, 0, 4)]:
        xe = rustdl.zeros(*shape, device=device, requires_grad=True)
        out = empty(xe)
        assert out.shape == shape
        out.sum().backward()
        assert xe.grad.shape == shape
    assert_close(empty.running_mean, np.zeros(3))
    assert_close(empty.running_var, np.ones(3))
    assert_close(empty.weight.grad, np.zeros(3))


def test_layernorm_groupnorm_forward(device):
    x = np.random.randn(3, 4, 6)
    ln = nn.LayerNorm(6).to(device)
    with rustdl.no_grad():
        ln.weight.copy_(t(np.linspace(0.5, 1.5, 6), device))
        ln.bias.copy_(t(np.linspace(-1, 1, 6), device))
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * np.linspace(
        0.5, 1.5, 6
    ) + np.linspace(-1, 1, 6)
    assert_close(ln(t(x, device)), ref, rtol=1e-4, atol=1e-4)
    ln2 = nn.LayerNorm((4, 6), elementwise_affine=False).to(device)
    ref2 = (x - x.mean((1, 2), keepdims=True)) / np.sqrt(x.var((1, 2), keepdims=True) + 1e-5)
    assert_close(ln2(t(x, device)), ref2, rtol=1e-4, atol=1e-4)

    gn = nn.GroupNorm(2, 4).to(device)
    xg = np.random.randn(2, 4, 3, 3)
    g = xg.reshape(2, 2, -1)
    refg = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(xg.shape)
    assert_close(gn(t(xg, device)), refg, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(3, 4)


def test_norm_grads():
    bn = nn.BatchNorm2d(2)
    with rustdl.no_grad():
        bn.weight.copy_(t([1.5, 0.5]))
    check_grads(bn, rand64(3, 2, 2, 2))
    check_grads(nn.BatchNorm1d(3), rand64(5, 3))
    check_grads(nn.LayerNorm(4), rand64(3, 4))
    check_grads(nn.GroupNorm(2, 4), rand64(2, 4, 2, 1))


def test_batch_norm_grads_with_running_stats_and_without_affine(device):
    # eval mode normalises with the running statistics (constants for the gradient)
    bn = nn.BatchNorm2d(3)
    with rustdl.no_grad():
        bn.running_mean.copy_(t([0.5, -1.0, 2.0]))
        bn.running_var.copy_(t([0.5, 2.0, 1.5]))
        bn.weight.copy_(t([1.5, -0.5, 2.0]))
        bn.bias.copy_(t([0.1, 0.2, -0.3]))
    check_grads(bn.eval(), rand64(2, 3, 2, 3))
    check_grads(nn.BatchNorm2d(3, affine=False), rand64(4, 3, 2, 2))
    check_grads(nn.BatchNorm1d(2, affine=False).eval(), rand64(3, 2, 4))
    # forward against numpy on the device, a batch large enough for the threaded kernels
    x = np.random.default_rng(1).standard_normal((16, 8, 17, 15)) * 3 + 2
    bn = nn.BatchNorm2d(8).to(device)
    with rustdl.no_grad():
        bn.weight.copy_(t(np.linspace(0.5, 2.0, 8), device))
        bn.bias.copy_(t(np.linspace(-1.0, 1.0, 8), device))
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    ref = (x - mean) / np.sqrt(var + 1e-5) * np.linspace(0.5, 2.0, 8)[None, :, None, None]
    ref = ref + np.linspace(-1.0, 1.0, 8)[None, :, None, None]
    assert_close(bn(t(x, device)), ref, rtol=1e-4, atol=1e-4)
    n = x.size / 8
    assert_close(bn.running_var, 0.9 + 0.1 * var.ravel() * n / (n - 1), rtol=1e-5, atol=1e-5)


# ---------------- dropout / embedding ----------------


def test_dropout_scales_in_training_and_is_identity_in_eval(device):
    x = np.random.rand(200, 50) + 1.0
    drop = nn.Dropout(0.3)
    out = drop(t(x, device)).cpu().numpy()
    kept = out != 0
    assert 0.6 < kept.mean() < 0.8
    np.testing.assert_allclose(out[kept], x[kept] / 0.7, rtol=1e-5)
    drop.eval()
    np.testing.assert_array_equal(drop(t(x, device)).cpu().numpy(), x.astype(np.float32))
    assert (nn.Dropout(1.0)(t(x, device)).cpu().numpy() == 0).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout2d_drops_whole_channels(device):
    x = np.random.rand(20, 30, 4, 4) + 1.0
    out = nn.Dropout2d(0.5)(t(x, device)).cpu().numpy()
    per_channel = out.reshape(20, 30, -1)
    zero = (per_channel == 0).all(-1)
    full = (per_channel != 0).all(-1)
    assert (zero | full).all()
    assert 0.35 < zero.mean() < 0.65
    np.testing.assert_allclose(out[full], (x * 2.0)[full], rtol=1e-5)
    np.testing.assert_array_equal(nn.Dropout2d(0.5).eval()(t(x, device)).cpu().numpy(), x.astype(np.float32))


def test_dropout_gradient_masks_like_forward():
    x = t(np.ones((50, 40)), requires_grad=True)
    out = nn.Dropout(0.5)(x)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())


def test_embedding_forward_and_padding_idx(device):
    emb = nn.Embedding(10, 4, padding_idx=2).to(device)
    w = emb.weight.detach().cpu().numpy()
    assert (w[2] == 0).all()
    idx = np.array([[1, 2, 9], [2, 0, 1]])
    out = emb(rustdl.tensor(idx, device=device))
    assert_close(out, w[idx])
    out.sum().backward()
    grad = emb.weight.grad.cpu().numpy()
    counts = np.bincount(idx.ravel(), minlength=10).astype(np.float64)
    counts[2] = 0.0  # the padding row gets no gradient
    assert_close(grad, np.repeat(counts[:, None], 4, axis=1))
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4
    with pytest.raises(ValueError):
        nn.Embedding(5, 2, padding_idx=5)


def _np_renorm(w, ids, max_norm, p):
    """PyTorch's embedding_renorm_ in numpy: looked-up rows above max_norm scaled to it."""
    w = w.astype(np.float64).copy()
    for i in np.unique(ids):
        norm = np.max(np.abs(w[i])) if np.isinf(p) else np.sum(np.abs(w[i]) ** p) ** (1.0 / p)
        if norm > max_norm:
            w[i] *= max_norm / (norm + 1e-7)
    return w


@pytest.mark.parametrize("p", [2.0, 1.0, math.inf])
def test_embedding_max_norm_renormalises_looked_up_rows_in_place(device, p):
    rng = np.random.default_rng(0)
    w0 = (rng.normal(size=(8, 5)) * 2.0).astype(np.float32)
    w0[6] *= 0.01  # looked up, but already inside the ball: must stay as it is
    ids = np.array([[1, 3, 3], [6, 1, 0]])
    weight = t(w0, device, requires_grad=True)
    out = nn.functional.embedding(rustdl.tensor(ids, device=device), weight, max_norm=1.5, norm_type=p)
    want = _np_renorm(w0, ids, 1.5, p)
    got = weight.detach().cpu().numpy()
    assert_close(got, want, rtol=1e-5, atol=1e-6)  # the weight itself was renormalised
    untouched = [2, 4, 5, 7]
    np.testing.assert_array_equal(got[untouched], w0[untouched])
    np.testing.assert_array_equal(got[6], w0[6])
    looked = np.unique(ids)
    norms = np.abs(got[looked]).max(1) if np.isinf(p) else (np.abs(got[looked]) ** p).sum(1) ** (1 / p)
    assert (norms <= 1.5 + 1e-5).all(), norms
    assert_close(out, want[ids], rtol=1e-5, atol=1e-6)  # looked up after the renormalisation
    out.sum().backward()  # and the gradient still reaches the weight
    counts = np.bincount(ids.ravel(), minlength=8).astype(np.float64)
    assert_close(weight.grad, np.repeat(counts[:, None], 5, axis=1))


def test_embedding_module_max_norm():
    emb = nn.Embedding(10, 4, max_norm=1.0)
    assert "max_norm=1.0" in repr(emb)
    w0 = emb.weight.detach().numpy().copy()
    emb(rustdl.tensor([2, 7, 2]))
    w = emb.weight.detach().numpy()
    np.testing.assert_allclose(w, _np_renorm(w0, [2, 7], 1.0, 2.0), rtol=1e-5, atol=1e-6)
    assert np.linalg.norm(w[[2, 7]], axis=1).max() <= 1.0 + 1e-6
    np.testing.assert_array_equal(np.delete(w, [2, 7], axis=0), np.delete(w0, [2, 7], axis=0))
    # sparse=True is accepted (the gradient stays dense; see test_compat_gaps_j.py)
    assert nn.Embedding(10, 4, sparse=True).sparse


# ---------------- activations ----------------


def _erf(x):
    return np.vectorize(math.erf)(x)


ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x >= 0, x, 0.2 * x)),
    (nn.ELU(0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1))),
    (nn.GELU(), lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    (nn.LogSoftmax(dim=-1), lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
    (nn.Identity(), lambda x: x),
]


@pytest.mark.parametrize(
    "module,ref", ACTIVATIONS, ids=[type(m).__name__ + str(i) for i, (m, _) in enumerate(ACTIVATIONS)]
)
def test_activation_forward(device, module, ref):
    x = np.random.randn(4, 5) * 2
    assert_close(module(t(x, device)), ref(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "module,ref", ACTIVATIONS, ids=[type(m).__name__ + str(i) for i, (m, _) in enumerate(ACTIVATIONS)]
)
def test_activation_grads(module, ref):
    a = np.random.default_rng(0).standard_normal((3, 4))
    a += np.sign(a) * 0.05  # keep away from the kinks at 0
    assert gradcheck(module, [t(a, dtype=F64, requires_grad=True)])


def test_softmax_default_dim_and_flatten_unflatten():
    x = np.random.randn(2, 3, 4)
    assert_close(nn.Softmax()(t(x)), np.exp(x) / np.exp(x).sum(0, keepdims=True), rtol=1e-5)
    y = nn.Flatten()(t(x))
    assert y.shape == (2, 12)
    assert_close(y, x.reshape(2, 12))
    assert nn.Flatten(0, 1)(t(x)).shape == (6, 4)
    z = nn.Unflatten(1, (3, 4))(y)
    assert z.shape == (2, 3, 4)
    assert_close(z, x)
    assert nn.Unflatten(-1, (2, 2))(t(x)).shape == (2, 3, 2, 2)


# ---------------- losses ----------------


def log_softmax(x, axis=1):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


def np_cross_entropy(x, y, weight=None, ignore_index=-100, reduction="mean", ls=0.0):
    c = x.shape[1]
    logp = log_softmax(x)
    w = np.ones(c) if weight is None else weight
    mask = y != ignore_index
    ys = np.where(mask, y, 0)
    picked = np.take_along_axis(logp, ys[:, None], 1)[:, 0]
    nll = np.where(mask, -w[ys] * picked, 0.0)
    smooth = np.where(mask, -(logp * w).sum(1), 0.0)
    if reduction == "none":
        return (1 - ls) * nll + ls / c * smooth
    if reduction == "sum":
        return (1 - ls) * nll.sum() + ls / c * smooth.sum()
    denom = (w[ys] * mask).sum()
    return (1 - ls) * nll.sum() / denom + ls / c * smooth.sum() / denom


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "weighted,ignore,ls", [(False, False, 0.0), (True, False, 0.0), (True, True, 0.1), (False, True, 0.2)]
)
def test_cross_entropy(device, reduction, weighted, ignore, ls):
    x = np.random.randn(6, 4)
    y = np.array([0, 3, 1, 1, 2, 3])
    if ignore:
        y[2] = -1
    w = np.array([0.5, 1.0, 2.0, 1.5]) if weighted else None
    loss = nn.CrossEntropyLoss(
        weight=None if w is None else t(w, device),
        ignore_index=-1 if ignore else -100,
        reduction=reduction,
        label_smoothing=ls,
    )
    out = loss(t(x, device), rustdl.tensor(y, device=device))
    assert_close(out, np_cross_entropy(x, y, w, -1 if ignore else -100, reduction, ls), rtol=1e-5, atol=1e-6)


def test_cross_entropy_spatial_and_nll(device):
    x = np.random.randn(2, 3, 4)
    y = np.random.randint(0, 3, size=(2, 4))
    flat_x = x.transpose(0, 2, 1).reshape(-1, 3)
    out = nn.CrossEntropyLoss()(t(x, device), rustdl.tensor(y, device=device))
    assert_close(out, np_cross_entropy(flat_x, y.ravel()), rtol=1e-5)
    logp = log_softmax(np.random.randn(5, 3))
    tgt = np.array([0, 2, 1, 2, 0])
    w = np.array([1.0, 2.0, 0.5])
    out = nn.NLLLoss(weight=t(w, device))(t(logp, device), rustdl.tensor(tgt, device=device))
    picked = logp[np.arange(5), tgt]
    assert_close(out, -(w[tgt] * picked).sum() / w[tgt].sum(), rtol=1e-5)
    out = nn.NLLLoss(ignore_index=2, reduction="sum")(t(logp, device), rustdl.tensor(tgt, device=device))
    assert_close(out, -picked[tgt != 2].sum(), rtol=1e-5)


def test_regression_losses(device):
    x, y = np.random.randn(4, 3) * 2, np.random.randn(4, 3)
    d = x - y
    xt, yt = t(x, device), t(y, device)
    assert_close(nn.MSELoss()(xt, yt), (d**2).mean(), rtol=1e-5)
    assert_close(nn.MSELoss(reduction="sum")(xt, yt), (d**2).sum(), rtol=1e-5)
    assert_close(nn.L1Loss(reduction="none")(xt, yt), np.abs(d), rtol=1e-5)
    sl1 = np.where(np.abs(d) < 0.5, 0.5 * d**2 / 0.5, np.abs(d) - 0.25)
    assert_close(nn.SmoothL1Loss(beta=0.5)(xt, yt), sl1.mean(), rtol=1e-5)
    hub = np.where(np.abs(d) < 1.5, 0.5 * d**2, 1.5 * (np.abs(d) - 0.75))
    assert_close(nn.HuberLoss(delta=1.5, reduction="sum")(xt, yt), hub.sum(), rtol=1e-5)


def test_binary_and_kl_losses(device):
    p = np.random.uniform(0.05, 0.95, size=(5, 2))
    y = np.random.randint(0, 2, size=(5, 2)).astype(np.float64)
    w = np.array([0.5, 2.0])
    bce = -w * (y * np.log(p) + (1 - y) * np.log(1 - p))
    assert_close(nn.BCELoss(weight=t(w, device))(t(p, device), t(y, device)), bce.mean(), rtol=1e-5)
    z = np.random.randn(5, 2) * 3
    pw = np.array([3.0, 0.5])
    sig = 1 / (1 + np.exp(-z))
    bcel = -(pw * y * np.log(sig) + (1 - y) * np.log(1 - sig))
    out = nn.BCEWithLogitsLoss(pos_weight=t(pw, device), reduction="none")(t(z, device), t(y, device))
    assert_close(out, bcel, rtol=1e-5, atol=1e-6)
    # stable for large logits
    big = nn.BCEWithLogitsLoss()(t([[100.0, -100.0]], device), t([[0.0, 1.0]], device))
    assert_close(big, 100.0, rtol=1e-5)

    logq = log_softmax(np.random.randn(3, 4))
    tgt = np.exp(log_softmax(np.random.randn(3, 4)))
    tgt[0, 0] = 0.0  # 0·log 0 = 0
    kl = np.where(tgt > 0, tgt * (np.log(np.where(tgt > 0, tgt, 1)) - logq), 0.0)
    assert_close(
        nn.KLDivLoss(reduction="batchmean")(t(logq, device), t(tgt, device)),
        kl.sum() / 3,
        rtol=1e-5,
        atol=1e-6,
    )
    assert_close(
        nn.KLDivLoss(reduction="sum")(t(logq, device), t(tgt, device)), kl.sum(), rtol=1e-5, atol=1e-6
    )
    logt = log_softmax(np.random.randn(3, 4))
    klt = np.exp(logt) * (logt - logq)
    assert_close(
        nn.KLDivLoss(log_target=True)(t(logq, device), t(logt, device)), klt.mean(), rtol=1e-5, atol=1e-6
    )


def test_loss_grads():
    x = rand64(4, 3)
    y = t(np.random.randn(4, 3), dtype=F64)
    for loss in (nn.MSELoss(), nn.L1Loss(), nn.SmoothL1Loss(beta=0.7), nn.HuberLoss(delta=0.8)):
        assert gradcheck(lambda a, loss=loss: loss(a, y), [x])
    labels = rustdl.tensor([0, 2, 1, 2])
    w = t([0.5, 1.0, 2.0], dtype=F64)
    assert gradcheck(
        lambda a: nn.CrossEntropyLoss(weight=w, label_smoothing=0.1, ignore_index=1)(a, labels), [x]
    )
    assert gradcheck(lambda a: nn.NLLLoss(weight=w)(a.log_softmax(1), labels), [x])
    probs = t(np.random.uniform(0.1, 0.9, (4, 3)), dtype=F64, requires_grad=True)
    target = t(np.random.randint(0, 2, (4, 3)), dtype=F64)
    assert gradcheck(lambda a: nn.BCELoss()(a, target), [probs])
    assert gradcheck(lambda a: nn.BCEWithLogitsLoss(pos_weight=t([1.0, 2.0, 0.5], dtype=F64))(a, target), [x])
    q = t(np.exp(log_softmax(np.random.randn(4, 3))), dtype=F64)
    assert gradcheck(lambda a: nn.KLDivLoss(reduction="batchmean")(a.log_softmax(1), q), [x])


def test_loss_errors():
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError):
        nn.MSELoss()(rustdl.zeros(3), rustdl.zeros(4))
    with pytest.raises((ValueError, TypeError)):
        nn.CrossEntropyLoss()(rustdl.zeros(3, 4), rustdl.zeros(3))  # float targets are not class indices
    with pytest.raises((ValueError, IndexError)):
        nn.CrossEntropyLoss()(rustdl.zeros(3, 4), rustdl.tensor([0, 1, 7]))


def _np_adaptive_max(x, oh, ow):
    """numpy: PyTorch's adaptive windows [floor(i*H/oh), ceil((i+1)*H/oh)), values and flat
    indices (first maximum in row-major order)."""
    *lead, h, w = x.shape
    vals = np.zeros((*lead, oh, ow), x.dtype)
    idx = np.zeros((*lead, oh, ow), np.int64)
    for i in range(oh):
        hs, he = (i * h) // oh, -(-((i + 1) * h) // oh)
        for j in range(ow):
            ws, we = (j * w) // ow, -(-((j + 1) * w) // ow)
            win = x[..., hs:he, ws:we].reshape(*lead, -1)
            k = win.argmax(-1)
            vals[..., i, j] = win.max(-1)
            idx[..., i, j] = (hs + k // (we - ws)) * w + ws + k % (we - ws)
    return vals, idx


@pytest.mark.parametrize(
    "shape,out", [((2, 3, 7, 5), (3, 2)), ((2, 3, 8, 6), (4, 3)), ((3, 9, 9), 4), ((1, 2, 5, 7), (None, 3))]
)
def test_adaptive_max_pool2d_matches_numpy(device, shape, out):
    rng = np.random.default_rng(3)
    a = rng.standard_normal(shape).astype(np.float32)
    oh = out if isinstance(out, int) else (out[0] or shape[-2])
    ow = out if isinstance(out, int) else out[1]
    ev, ei = _np_adaptive_max(a, oh, ow)
    x = rustdl.tensor(a, device=device, requires_grad=True)
    v, i = nn.AdaptiveMaxPool2d(out, return_indices=True)(x)
    assert_close(v, ev, rtol=0, atol=0)
    assert np.array_equal(i.cpu().numpy(), ei)
    y = F.adaptive_max_pool2d(x, out)
    assert_close(y, ev, rtol=0, atol=0)
    g = rng.standard_normal(ev.shape).astype(np.float32)
    y.backward(rustdl.tensor(g, device=device))
    # each output's gradient lands on its window's maximum (summed where windows overlap)
    expect = np.zeros_like(a).reshape(*a.shape[:-2], -1)
    np.add.at(
        expect.reshape(-1, expect.shape[-1]),
        (np.arange(expect.size // expect.shape[-1])[:, None], ei.reshape(-1, oh * ow)),
        g.reshape(-1, oh * ow),
    )
    assert_close(x.grad, expect.reshape(a.shape), rtol=1e-6, atol=1e-6)


def test_adaptive_max_pool2d_bad_input():
    with pytest.raises(ValueError, match="adaptive_max_pool2d.*\\(2, 7\\)"):
        F.adaptive_max_pool2d(rustdl.zeros(2, 7), 2)
    with pytest.raises(ValueError, match="adaptive_max_pool2d: output"):
        F.adaptive_max_pool2d(rustdl.zeros(1, 2, 4, 4), (0, 2))
    with pytest.raises(ValueError, match="adaptive_max_pool2d.*non-empty"):
        F.adaptive_max_pool2d(rustdl.zeros(1, 2, 0, 4), 2)


@pytest.mark.parametrize("size", [1, 2, 5])
def test_local_response_norm_matches_numpy(device, size):
    rng = np.random.default_rng(4)
    a = rng.standard_normal((2, 7, 3, 4))
    alpha, beta, k = 0.3, 0.75, 2.0
    expect = np.empty_like(a)
    for c in range(7):
        lo, hi = max(0, c - size // 2), min(7, c + (size - 1) // 2 + 1)
        expect[:, c] = a[:, c] / (k + alpha / size * (a[:, lo:hi] ** 2).sum(1)) ** beta
    dt = rustdl.float64 if device == "cpu" else rustdl.float32
    x = rustdl.tensor(a, dtype=dt, device=device)
    assert_close(nn.LocalResponseNorm(size, alpha, beta, k)(x), expect, rtol=1e-5, atol=1e-6)
    if device == "cpu":
        xx = rustdl.tensor(a[:1, :, :2, :2], requires_grad=True)
        assert gradcheck(lambda t: F.local_response_norm(t, size, alpha, beta, k), (xx,))
