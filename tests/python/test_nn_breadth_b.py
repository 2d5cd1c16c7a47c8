"""Spatial layers composed in Python: padding modes and layers, 1-D / LP pooling, max unpooling,
instance and RMS norms, pixel and channel shuffles, fold / unfold, upsampling aliases and
EmbeddingBag, each against an independent numpy reference, with gradchecks in float64."""

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from rustdl import nn
from rustdl.autograd import gradcheck
from rustdl.nn import functional as F

F64 = rustdl.float64


def t(a, device="cpu", dtype=rustdl.float32, requires_grad=False):
    return rustdl.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=requires_grad)


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def r64(*shape, seed=0):
    return t(rnd(*shape, seed=seed), dtype=F64, requires_grad=True)


def idx(a, device="cpu"):
    return rustdl.tensor(np.asarray(a, dtype=np.int64), device=device)


# ---------------- numpy references ----------------


def np_pool1d(x, k, s, p, d, ceil, kind, count_include_pad=True):
    """Max or average pooling along the last axis, with PyTorch's output-size rule."""
    n_len = x.shape[-1]
    eff = d * (k - 1) + 1
    num = n_len + 2 * p - eff
    out_len = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out_len - 1) * s >= n_len + p:
        out_len -= 1
    vals, inds = [], []
    for o in range(out_len):
        pos = [o * s - p + j * d for j in range(k)]
        if kind == "max":
            valid = [q for q in pos if 0 <= q < n_len]
            w = x[..., valid]
            a = np.argmax(w, axis=-1)
            vals.append(np.take_along_axis(w, a[..., None], -1)[..., 0])
            inds.append(np.asarray(valid)[a])
        else:
            valid = [q for q in pos if 0 <= q < n_len]
            total = x[..., valid].sum(-1)
            if count_include_pad:
                div = len([q for q in pos if q < n_len + p])
            else:
                div = len(valid)
            vals.append(total / div)
    return np.stack(vals, -1), (np.stack(inds, -1) if inds else None)


def np_adaptive1d(x, o, kind):
    n_len = x.shape[-1]
    vals, inds = [], []
    for i in range(o):
        s, e = (i * n_len) // o, -(-((i + 1) * n_len) // o)
        w = x[..., s:e]
        if kind == "max":
            vals.append(w.max(-1))
            inds.append(w.argmax(-1) + s)
        else:
            vals.append(w.mean(-1))
    return np.stack(vals, -1), (np.stack(inds, -1) if inds else None)


def np_unfold(x, k, d, p, s):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.zeros((n, c, k[0], k[1], oh, ow))
    for i in range(k[0]):
        for j in range(k[1]):
            for y in range(oh):
                for z in range(ow):
                    out[:, :, i, j, y, z] = xp[:, :, y * s[0] + i * d[0], z * s[1] + j * d[1]]
    return out.reshape(n, c * k[0] * k[1], oh * ow)


def np_fold(cols, size, k, d, p, s):
    n, ck, _ = cols.shape
    c = ck // (k[0] * k[1])
    h, w = size
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    blocks = cols.reshape(n, c, k[0], k[1], oh, ow)
    out = np.zeros((n, c, h + 2 * p[0], w + 2 * p[1]))
    for i in range(k[0]):
        for j in range(k[1]):
            for y in range(oh):
                for z in range(ow):
                    out[:, :, y * s[0] + i * d[0], z * s[1] + j * d[1]] += blocks[:, :, i, j, y, z]
    return out[:, :, p[0] : p[0] + h, p[1] : p[1] + w]


def np_bilinear_align(x, oh, ow):
    n, c, h, w = x.shape
    out = np.zeros((n, c, oh, ow))
    for y in range(oh):
        sy = y * (h - 1) / (oh - 1) if oh > 1 else 0.0
        y0 = int(np.floor(sy))
        y1, fy = min(y0 + 1, h - 1), sy - y0
        for z in range(ow):
            sz = z * (w - 1) / (ow - 1) if ow > 1 else 0.0
            z0 = int(np.floor(sz))
            z1, fz = min(z0 + 1, w - 1), sz - z0
            out[:, :, y, z] = (
                x[:, :, y0, z0] * (1 - fy) * (1 - fz)
                + x[:, :, y0, z1] * (1 - fy) * fz
                + x[:, :, y1, z0] * fy * (1 - fz)
                + x[:, :, y1, z1] * fy * fz
            )
    return out


# ---------------- padding ----------------

NP_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes_2d(mode, device):
    x = rnd(2, 3, 4, 5)
    pads = (2, 1, 3, 0)
    out = F.pad(t(x, device), pads, mode=mode)
    ref = np.pad(x, ((0, 0), (0, 0), (3, 0), (2, 1)), mode=NP_MODE[mode])
    assert_close(out, ref)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes_1d_unbatched_and_grad(mode):
    x = rnd(3, 6)
    assert_close(F.pad(t(x), (2, 3), mode=mode), np.pad(x, ((0, 0), (2, 3)), mode=NP_MODE[mode]))
    assert gradcheck(lambda a: F.pad(a, (2, 3, 1, 1), mode=mode), [r64(2, 4, 5)])


def test_pad_errors():
    x = t(rnd(1, 2, 3))
    with pytest.raises(ValueError, match=r"pad: reflect padding.*\(1, 2, 3\)"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="circular"):
        F.pad(x, (4, 0), mode="circular")
    with pytest.raises(ValueError, match="pad: mode"):
        F.pad(x, (1, 1), mode="symmetric")
    with pytest.raises(ValueError, match=r"pad: mode='reflect'.*shape \(1, 2, 3\)"):
        F.pad(x, (1, 1, 1, 1, 1, 1), mode="reflect")
    with pytest.raises(NotImplementedError):
        F.pad(t(rnd(3)), (1, 1), mode="replicate")


def test_padding_layers():
    x = rnd(2, 3, 4, 5)
    cases = [
        (nn.ZeroPad2d((1, 2, 0, 1)), np.pad(x, ((0, 0), (0, 0), (0, 1), (1, 2)))),
        (nn.ConstantPad2d(1, 3.5), np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=3.5)),
        (nn.ReflectionPad2d((1, 2, 3, 1)), np.pad(x, ((0, 0), (0, 0), (3, 1), (1, 2)), mode="reflect")),
        (nn.ReplicationPad2d(2), np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)), mode="edge")),
        (nn.CircularPad2d((1, 0, 2, 1)), np.pad(x, ((0, 0), (0, 0), (2, 1), (1, 0)), mode="wrap")),
    ]
    for layer, ref in cases:
        assert_close(layer(t(x)), ref)
        assert_close(layer(t(x[0])), ref[0])  # unbatched
    y = rnd(2, 3, 5)
    for layer, ref in [
        (nn.ZeroPad1d(2), np.pad(y, ((0, 0), (0, 0), (2, 2)))),
        (nn.ConstantPad1d((1, 3), -1.0), np.pad(y, ((0, 0), (0, 0), (1, 3)), constant_values=-1.0)),
        (nn.ReflectionPad1d((3, 2)), np.pad(y, ((0, 0), (0, 0), (3, 2)), mode="reflect")),
        (nn.ReplicationPad1d((0, 4)), np.pad(y, ((0, 0), (0, 0), (0, 4)), mode="edge")),
        (nn.CircularPad1d(2), np.pad(y, ((0, 0), (0, 0), (2, 2)), mode="wrap")),
    ]:
        assert_close(layer(t(y)), ref)
    z = rnd(1, 2, 3, 4, 2)
    assert_close(
        nn.ConstantPad3d(1, 2.0)(t(z)),
        np.pad(z, ((0, 0), (0, 0), (1, 1), (1, 1), (1, 1)), constant_values=2.0),
    )
    pw = ((0, 0), (0, 0), (1, 0), (2, 1), (0, 1))
    for layer, mode in [
        (nn.ReflectionPad3d((0, 1, 2, 1, 1, 0)), "reflect"),
        (nn.ReplicationPad3d((0, 1, 2, 1, 1, 0)), "edge"),
        (nn.CircularPad3d((0, 1, 2, 1, 1, 0)), "wrap"),
        (nn.ZeroPad3d((0, 1, 2, 1, 1, 0)), "constant"),
    ]:
        assert_close(layer(t(z)), np.pad(z, pw, mode=mode))
        assert_close(layer(t(z[0])), np.pad(z[0], pw[1:], mode=mode))
    with pytest.raises(TypeError, match="ReflectionPad2d"):
        nn.ReflectionPad2d((1, 2))
    with pytest.raises(ValueError, match=r"ReflectionPad1d.*\(2, 3, 4, 5\)"):
        nn.ReflectionPad1d(1)(t(x))
    assert "ZeroPad2d((1, 2, 0, 1))" in repr(nn.ZeroPad2d((1, 2, 0, 1)))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv_padding_modes(mode, device):
    x = rnd(2, 3, 6, 5)
    conv = nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode=mode)
    ref_in = np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)), mode=NP_MODE[mode])
    plain = nn.Conv2d(3, 4, 3)
    plain.load_state_dict(conv.state_dict())
    want = plain(t(ref_in)).detach().numpy()
    assert_close(conv.to(device)(t(x, device)), want, atol=1e-5)
    assert f"padding_mode={mode}" in repr(conv)
    same = nn.Conv1d(3, 2, 4, padding="same", padding_mode=mode)
    y = rnd(3, 7)
    plain1 = nn.Conv1d(3, 2, 4)
    plain1.load_state_dict(same.state_dict())
    assert_close(
        same(t(y)), plain1(t(np.pad(y, ((0, 0), (1, 2)), mode=NP_MODE[mode]))).detach().numpy(), atol=1e-5
    )
    with pytest.raises(ValueError, match="ConvTranspose2d: only padding_mode='zeros'"):
        nn.ConvTranspose2d(3, 4, 3, padding_mode=mode)


# ---------------- 1-D pooling ----------------


@pytest.mark.parametrize(
    ("k", "s", "p", "d", "ceil"), [(3, 2, 1, 1, False), (2, 1, 0, 2, False), (3, 2, 1, 1, True)]
)
def test_max_pool1d(k, s, p, d, ceil, device):
    x = rnd(2, 3, 9)
    out, ind = F.max_pool1d(t(x, device), k, s, p, d, ceil, return_indices=True)
    rv, ri = np_pool1d(x, k, s, p, d, ceil, "max")
    assert_close(out, rv)
    np.testing.assert_array_equal(ind.cpu().numpy(), ri)
    assert_close(nn.MaxPool1d(k, s, p, d, ceil_mode=ceil)(t(x[0], device)), rv[0])  # unbatched


@pytest.mark.parametrize(
    ("k", "s", "p", "cip", "ceil"), [(3, 2, 1, True, False), (3, 2, 1, False, False), (2, 2, 0, True, True)]
)
def test_avg_pool1d(k, s, p, cip, ceil):
    x = rnd(2, 3, 9)
    out = F.avg_pool1d(t(x), k, s, p, ceil, cip)
    assert_close(out, np_pool1d(x, k, s, p, 1, ceil, "avg", cip)[0])
    assert_close(nn.AvgPool1d(k, s, p, ceil, cip)(t(x[1])), np_pool1d(x[1], k, s, p, 1, ceil, "avg", cip)[0])


def test_adaptive_pool1d():
    x = rnd(2, 3, 10)
    assert_close(F.adaptive_avg_pool1d(t(x), 4), np_adaptive1d(x, 4, "avg")[0])
    assert_close(nn.AdaptiveAvgPool1d(3)(t(x[0])), np_adaptive1d(x[0], 3, "avg")[0])
    v, i = F.adaptive_max_pool1d(t(x), 4, return_indices=True)
    rv, ri = np_adaptive1d(x, 4, "max")
    assert_close(v, rv)
    np.testing.assert_array_equal(i.numpy(), ri)
    assert_close(nn.AdaptiveMaxPool1d(5)(t(x)), np_adaptive1d(x, 5, "max")[0])


def test_pool1d_grads_and_errors():
    assert gradcheck(lambda a: F.max_pool1d(a, 3, 2, 1), [r64(2, 3, 8)])
    assert gradcheck(lambda a: F.avg_pool1d(a, 3, 2, 1, count_include_pad=False), [r64(2, 3, 8)])
    assert gradcheck(lambda a: F.adaptive_avg_pool1d(a, 3), [r64(3, 7)])
    with pytest.raises(ValueError, match=r"max_pool1d.*\(2, 3, 4, 5\)"):
        F.max_pool1d(t(rnd(2, 3, 4, 5)), 2)
    with pytest.raises(ValueError, match="max_pool1d: padding should be .* at most half of kernel_size 2"):
        F.max_pool1d(t(rnd(2, 3, 8)), 2, 1, 2)
    with pytest.raises(ValueError, match=r"avg_pool1d: input of shape \(3, 4\) padded by 0 is smaller"):
        F.avg_pool1d(t(rnd(3, 4)), 5)
    with pytest.raises(ValueError, match="adaptive_max_pool1d: output_size must be non-negative"):
        F.adaptive_max_pool1d(t(rnd(3, 4)), -1)
    assert F.adaptive_max_pool1d(t(rnd(3, 4)), 0).shape == (3, 0)  # empty, as PyTorch's
    with pytest.raises(TypeError, match="avg_pool1d: kernel_size"):
        F.avg_pool1d(t(rnd(2, 3, 8)), 2.5)


def test_lp_pool():
    x = np.abs(rnd(2, 3, 8)) + 0.1
    ref = (x.reshape(2, 3, 4, 2) ** 3).sum(-1) ** (1 / 3)
    assert_close(F.lp_pool1d(t(x), 3, 2), ref, rtol=1e-4)
    assert_close(nn.LPPool1d(3, 2)(t(x[0])), ref[0], rtol=1e-4)
    y = np.abs(rnd(2, 3, 6, 4)) + 0.1
    ref2 = np.sqrt((y.reshape(2, 3, 3, 2, 2, 2) ** 2).sum((3, 5)))
    assert_close(nn.LPPool2d(2, 2)(t(y)), ref2, rtol=1e-4)
    assert_close(F.lp_pool2d(t(y[0]), 2, (2, 2), stride=2), ref2[0], rtol=1e-4)
    a = t(y, dtype=F64, requires_grad=True)
    assert gradcheck(lambda v: F.lp_pool2d(v, 2, 2), [a])


def test_max_unpool(device):
    x = rnd(2, 3, 4, 6)
    v, i = F.max_pool2d(t(x, device), 2, 2, 0, 1, False, True)
    out = nn.MaxUnpool2d(2)(v, i)
    ref = np.zeros((2, 3, 4, 6))
    vn, inn = v.cpu().numpy(), i.cpu().numpy()
    for a in range(2):
        for b in range(3):
            ref[a, b].reshape(-1)[inn[a, b].reshape(-1)] = vn[a, b].reshape(-1)
    assert_close(out, ref)
    assert tuple(F.max_unpool2d(v, i, 2, output_size=(5, 7)).shape) == (2, 3, 5, 7)
    assert_close(F.max_unpool2d(v[0], i[0], 2), ref[0])
    y = rnd(2, 3, 8)
    v1, i1 = F.max_pool1d(t(y), 2, return_indices=True)
    ref1 = np.zeros((2, 3, 8))
    np.put_along_axis(ref1, i1.numpy(), v1.numpy(), -1)
    assert_close(nn.MaxUnpool1d(2)(v1, i1), ref1)
    vv = t(v.cpu().numpy(), dtype=F64, requires_grad=True)
    assert gradcheck(lambda a: F.max_unpool2d(a, i.cpu(), 2), [vv])
    with pytest.raises(ValueError, match=r"max_unpool2d: invalid output_size \(2, 2\)"):
        F.max_unpool2d(v, i, 2, output_size=(2, 2))  # as PyTorch: within a stride of (4, 6)
    # the last window of a 4x6 image holds positions 16, 17, 22 and 23: outside a 3x5 output
    with pytest.raises(ValueError, match=r"max_unpool2d: indices must be in \[0, 15\)"):
        F.max_unpool2d(v, i, 2, output_size=(3, 5))
    with pytest.raises(ValueError, match="max_unpool2d: indices shape"):
        F.max_unpool2d(v, i[:1], 2)


# ---------------- normalisation ----------------


def np_instance_norm(x, eps=1e-5):
    dims = tuple(range(2, x.ndim))
    m = x.mean(dims, keepdims=True)
    v = x.var(dims, keepdims=True)
    return (x - m) / np.sqrt(v + eps)


def test_instance_norm(device):
    x = rnd(2, 3, 5, 4)
    assert_close(nn.InstanceNorm2d(3)(t(x, device)), np_instance_norm(x), atol=1e-5)
    assert_close(nn.InstanceNorm2d(3)(t(x[0], device)), np_instance_norm(x[:1])[0], atol=1e-5)
    y = rnd(2, 3, 7)
    assert_close(F.instance_norm(t(y, device)), np_instance_norm(y), atol=1e-5)
    m = nn.InstanceNorm1d(3, affine=True).to(device)
    assert not m.track_running_stats and m.running_mean is None
    assert_close(m(t(y, device)), np_instance_norm(y), atol=1e-5)


def test_instance_norm_running_stats():
    y = rnd(4, 3, 6) * 2 + 1
    m = nn.InstanceNorm1d(3, momentum=0.2, track_running_stats=True)
    out = m(t(y))
    assert_close(out, np_instance_norm(y), atol=1e-5)
    rm = 0.8 * 0 + 0.2 * y.mean(2).mean(0)
    rv = 0.8 * 1 + 0.2 * y.var(2, ddof=1).mean(0)
    assert_close(m.running_mean, rm, atol=1e-5)
    assert_close(m.running_var, rv, atol=1e-5)
    m.eval()
    z = rnd(2, 3, 6, seed=1)
    assert_close(m(t(z)), (z - rm[:, None]) / np.sqrt(rv[:, None] + 1e-5), atol=1e-5)
    assert set(dict(m.named_buffers())) == {"running_mean", "running_var", "num_batches_tracked"}


def test_instance_norm_grads_and_errors():
    m = nn.InstanceNorm2d(3, affine=True).double()
    with rustdl.no_grad():
        m.weight.copy_(t(rnd(3, seed=2), dtype=F64))
        m.bias.copy_(t(rnd(3, seed=3), dtype=F64))
    w, b = m.weight, m.bias
    assert gradcheck(lambda a, ww, bb: F.instance_norm(a, weight=ww, bias=bb), [r64(2, 3, 3, 4), w, b])
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected a 3-D or 4-D input.*\(2, 3\)"):
        nn.InstanceNorm2d(3)(t(rnd(2, 3)))
    with pytest.raises(ValueError, match="instance_norm: expected more than 1 spatial element"):
        F.instance_norm(t(rnd(2, 3, 1)))
    with pytest.raises(ValueError, match="InstanceNorm1d: expected 4 channels"):
        nn.InstanceNorm1d(4, affine=True)(t(rnd(2, 3, 5)))


def test_rms_norm(device):
    x = rnd(2, 4, 6)
    w = rnd(6, seed=1)
    eps = np.finfo(np.float32).eps
    ref = x / np.sqrt((x**2).mean(-1, keepdims=True) + eps) * w
    assert_close(F.rms_norm(t(x, device), (6,), t(w, device)), ref, atol=1e-5)
    m = nn.RMSNorm([4, 6], eps=1e-3).to(device)
    assert tuple(m.weight.shape) == (4, 6) and list(dict(m.named_parameters())) == ["weight"]
    assert_close(m(t(x, device)), x / np.sqrt((x**2).mean((1, 2), keepdims=True) + 1e-3), atol=1e-5)
    assert nn.RMSNorm(3, elementwise_affine=False).weight is None
    assert gradcheck(lambda a, ww: F.rms_norm(a, [6], ww), [r64(3, 6), r64(6, seed=1)])
    with pytest.raises(ValueError, match=r"rms_norm: normalized_shape \(5,\).*\(2, 4, 6\)"):
        F.rms_norm(t(x), 5)


def test_batchnorm3d():
    x = rnd(3, 2, 2, 3, 4)
    m = nn.BatchNorm3d(2)
    out = m(t(x))
    mean = x.mean((0, 2, 3, 4), keepdims=True)
    var = x.var((0, 2, 3, 4), keepdims=True)
    assert_close(out, (x - mean) / np.sqrt(var + 1e-5), atol=1e-5)
    with pytest.raises(ValueError, match="BatchNorm3d"):
        m(t(rnd(3, 2, 4, 4)))


# ---------------- shuffles, fold / unfold, upsampling ----------------


def test_pixel_shuffle_roundtrip(device):
    x = rnd(2, 8, 3, 4)
    out = nn.PixelShuffle(2)(t(x, device))
    ref = np.zeros((2, 2, 6, 8))
    for c in range(2):
        for i in range(2):
            for j in range(2):
                ref[:, c, i::2, j::2] = x[:, c * 4 + i * 2 + j]
    assert_close(out, ref)
    assert_close(nn.PixelUnshuffle(2)(out), x)
    assert_close(F.pixel_shuffle(t(x[0]), 2), ref[0])  # unbatched
    assert gradcheck(lambda a: F.pixel_unshuffle(F.pixel_shuffle(a, 2) * 2.0, 2), [r64(1, 4, 2, 3)])
    with pytest.raises(ValueError, match=r"pixel_shuffle.*\(2, 6, 3, 4\)"):
        F.pixel_shuffle(t(rnd(2, 6, 3, 4)), 2)
    with pytest.raises(ValueError, match="pixel_unshuffle"):
        F.pixel_unshuffle(t(rnd(2, 6, 3, 4)), 2)


def test_channel_shuffle():
    x = rnd(2, 6, 3)
    out = nn.ChannelShuffle(3)(t(x))
    ref = np.stack([x[:, (j % 3) * 2 + j // 3] for j in range(6)], 1)
    assert_close(out, ref)
    with pytest.raises(ValueError, match="channel_shuffle"):
        F.channel_shuffle(t(x), 4)


@pytest.mark.parametrize(
    ("k", "d", "p", "s"), [((2, 3), (1, 1), (0, 0), (1, 1)), ((3, 2), (2, 1), (1, 2), (2, 1))]
)
def test_unfold_fold(k, d, p, s, device):
    x = rnd(2, 3, 6, 5)
    cols = F.unfold(t(x, device), k, d, p, s)
    ref = np_unfold(x, k, d, p, s)
    assert_close(cols, ref)
    assert_close(nn.Unfold(k, d, p, s)(t(x[0], device)), ref[0])
    c = rnd(*ref.shape, seed=1)
    assert_close(F.fold(t(c, device), (6, 5), k, d, p, s), np_fold(c, (6, 5), k, d, p, s))
    assert_close(nn.Fold((6, 5), k, d, p, s)(t(c[0], device)), np_fold(c, (6, 5), k, d, p, s)[0])


def test_unfold_fold_grads_and_errors():
    assert gradcheck(lambda a: F.unfold(a, (2, 2), padding=1, stride=2), [r64(1, 2, 4, 3)])
    assert gradcheck(lambda a: F.fold(a, (4, 3), (2, 2), padding=1, stride=1), [r64(1, 8, 20)])
    with pytest.raises(ValueError, match=r"fold: input shape \(1, 8, 7\)"):
        F.fold(t(rnd(1, 8, 7)), (4, 3), 2)
    with pytest.raises(ValueError, match=r"unfold: expected a 3-D .*\(4, 3\)"):
        F.unfold(t(rnd(4, 3)), 2)
    with pytest.raises(ValueError, match="unfold: the kernel"):
        F.unfold(t(rnd(1, 1, 2, 2)), 3)


def test_upsampling_aliases():
    x = rnd(1, 2, 3, 4)
    up = nn.UpsamplingNearest2d(scale_factor=2)(t(x))
    assert_close(up, x.repeat(2, 2).repeat(2, 3))
    out = nn.UpsamplingBilinear2d(size=(5, 7))(t(x))
    assert_close(out, np_bilinear_align(x, 5, 7), atol=1e-5)
    assert isinstance(nn.UpsamplingBilinear2d(scale_factor=2), nn.Upsample)


# ---------------- EmbeddingBag ----------------


def np_bag(w, ids, starts, mode, psw=None, padding_idx=None):
    ends = list(starts[1:]) + [len(ids)]
    out = []
    for s, e in zip(starts, ends):
        sel = [j for j in range(s, e) if ids[j] != padding_idx]
        rows = w[ids[sel]] * (psw[sel][:, None] if psw is not None else 1)
        if not sel:
            out.append(np.zeros(w.shape[1]))
        elif mode == "sum":
            out.append(rows.sum(0))
        elif mode == "mean":
            out.append(rows.mean(0))
        else:
            out.append(rows.max(0))
    return np.stack(out)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag(mode, device):
    bag = nn.EmbeddingBag(10, 4, mode=mode).to(device)
    w = bag.weight.detach().cpu().numpy().astype(np.float64)
    ids = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    out = bag(idx(ids, device), idx([0, 3, 3], device))
    assert_close(out, np_bag(w, ids, [0, 3, 3], mode), atol=1e-5)
    out2 = bag(idx(ids.reshape(2, 4), device))
    assert_close(out2, np_bag(w, ids, [0, 4], mode), atol=1e-5)
    assert list(dict(bag.named_parameters())) == ["weight"]


def test_embedding_bag_options():
    w = rnd(10, 3)
    ids = np.array([0, 2, 0, 5, 7, 0])
    out = F.embedding_bag(
        idx(ids), t(w), idx([0, 2, 6]), mode="mean", include_last_offset=True, padding_idx=0
    )
    assert_close(out, np_bag(w, ids, [0, 2], "mean", padding_idx=0), atol=1e-6)
    psw = rnd(6, seed=4)
    out = F.embedding_bag(idx(ids), t(w), idx([0, 4]), mode="sum", per_sample_weights=t(psw))
    assert_close(out, np_bag(w, ids, [0, 4], "sum", psw=psw), atol=1e-5)
    bag = nn.EmbeddingBag(10, 3, mode="sum", padding_idx=2)
    assert_close(bag.weight[2], np.zeros(3))
    with pytest.raises(
        ValueError, match="embedding_bag: per_sample_weights is only supported for mode='sum'"
    ):
        F.embedding_bag(idx(ids), t(w), idx([0]), mode="mean", per_sample_weights=t(psw))
    with pytest.raises(ValueError, match="embedding_bag: a 1-D input needs 1-D offsets"):
        F.embedding_bag(idx(ids), t(w))
    with pytest.raises(ValueError, match=r"embedding_bag: indices must be in \[0, 10\)"):
        F.embedding_bag(idx([[1, 12]]), t(w))
    with pytest.raises(TypeError, match="embedding_bag: expected integer indices"):
        F.embedding_bag(t(w), t(w))
    with pytest.raises(ValueError, match="EmbeddingBag: mode"):
        nn.EmbeddingBag(3, 2, mode="min")


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_grads(mode):
    ids, offs = idx([1, 2, 4, 1, 3]), idx([0, 2])
    assert gradcheck(lambda w: F.embedding_bag(ids, w, offs, mode=mode), [r64(6, 3)])
    if mode == "sum":
        assert gradcheck(
            lambda w, p: F.embedding_bag(ids, w, offs, mode="sum", per_sample_weights=p),
            [r64(6, 3), r64(5, seed=2)],
        )


def test_max_unpool_overlapping_windows():
    # stride < kernel: the same element wins two windows; it appears once in the value and
    # both copies get the gradient at its position (PyTorch's scatter forward, gather backward)
    x = t([[[1.0, 5.0, 2.0, 0.0]]])
    v, i = F.max_pool1d(x, 2, 1, return_indices=True)
    np.testing.assert_array_equal(i.numpy(), [[[1, 1, 2]]])
    vv = t(v.numpy(), requires_grad=True)
    out = F.max_unpool1d(vv, i, 2, 1)
    assert_close(out, [[[0.0, 5.0, 2.0, 0.0]]])
    (out * t([[[1.0, 2.0, 3.0, 4.0]]])).sum().backward()
    assert_close(vv.grad, [[[2.0, 2.0, 3.0]]])


def test_upsample_functions():
    x = rnd(1, 2, 3, 4)
    assert_close(F.upsample_bilinear(t(x), (5, 7)), np_bilinear_align(x, 5, 7), atol=1e-5)
    assert_close(F.upsample_nearest(t(x), scale_factor=2), x.repeat(2, 2).repeat(2, 3))
    with pytest.warns(UserWarning, match="upsample is deprecated"):
        F.upsample(t(x), scale_factor=2)


# ---------------- affine_grid / grid_sample ----------------


def np_affine_grid(theta, h, w, align):
    def axis(k):
        if k == 1:
            return np.zeros(1)
        v = np.linspace(-1, 1, k)
        return v if align else v * (k - 1) / k

    xs, ys = np.meshgrid(axis(w), axis(h))
    base = np.stack([xs, ys, np.ones_like(xs)], -1)  # (h, w, 3)
    return np.einsum("hwk,njk->nhwj", base, theta)


def np_reflect(p, size, align):
    lo, hi = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
    if hi <= lo:
        return 0.0
    while p < lo or p > hi:
        p = 2 * lo - p if p < lo else 2 * hi - p
    return min(max(p, 0.0), size - 1.0)


def np_grid_sample(x, grid, mode, pad, align):
    n, c, h, w = x.shape
    _, ho, wo, _ = grid.shape
    out = np.zeros((n, c, ho, wo))
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                gx, gy = grid[b, i, j]
                px = (gx + 1) / 2 * (w - 1) if align else ((gx + 1) * w - 1) / 2
                py = (gy + 1) / 2 * (h - 1) if align else ((gy + 1) * h - 1) / 2
                if pad == "border":
                    px, py = min(max(px, 0), w - 1), min(max(py, 0), h - 1)
                elif pad == "reflection":
                    px, py = np_reflect(px, w, align), np_reflect(py, h, align)

                def at(yy, xx, b=b):
                    return x[b, :, yy, xx] if 0 <= yy < h and 0 <= xx < w else np.zeros(c)

                if mode == "nearest":
                    out[b, :, i, j] = at(int(np.rint(py)), int(np.rint(px)))
                else:
                    x0, y0 = int(np.floor(px)), int(np.floor(py))
                    fx, fy = px - x0, py - y0
                    out[b, :, i, j] = (
                        at(y0, x0) * (1 - fx) * (1 - fy)
                        + at(y0, x0 + 1) * fx * (1 - fy)
                        + at(y0 + 1, x0) * (1 - fx) * fy
                        + at(y0 + 1, x0 + 1) * fx * fy
                    )
    return out


@pytest.mark.parametrize("align", [False, True])
def test_affine_grid(align, device):
    theta = rnd(2, 2, 3)
    out = F.affine_grid(t(theta, device), (2, 3, 4, 5), align_corners=align)
    assert_close(out, np_affine_grid(theta, 4, 5, align), atol=1e-5)
    with pytest.raises(ValueError, match=r"affine_grid: expected theta of shape \(2, 2, 3\)"):
        F.affine_grid(t(rnd(2, 3, 3)), (2, 3, 4, 5))


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("pad", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample(mode, pad, align):
    x = rnd(2, 3, 4, 5)
    grid = rnd(2, 3, 6, 2, seed=1) * 0.9  # some points fall outside [-1, 1]
    out = F.grid_sample(t(x), t(grid), mode, pad, align)
    assert_close(out, np_grid_sample(x, grid, mode, pad, align), atol=1e-5)


def test_grid_sample_gpu_grads_and_errors(device):
    x = rnd(1, 2, 5, 4)
    theta = np.array([[[0.8, 0.3, 0.1], [-0.2, 1.1, 0.05]]])
    grid = np_affine_grid(theta, 3, 3, False)
    out = F.grid_sample(t(x, device), F.affine_grid(t(theta, device), (1, 2, 3, 3), False))
    assert_close(out, np_grid_sample(x, grid, "bilinear", "zeros", False), atol=1e-5)
    if device == "cpu":
        g = t(rnd(1, 3, 2, 2, seed=3) * 0.8, dtype=F64, requires_grad=True)
        assert gradcheck(lambda a, gg: F.grid_sample(a, gg, padding_mode="border"), [r64(1, 2, 4, 5), g])
        th = t(theta, dtype=F64, requires_grad=True)
        assert gradcheck(
            lambda a, tt: F.grid_sample(a, F.affine_grid(tt, (1, 2, 3, 3), False)), [r64(1, 2, 5, 4), th]
        )
    with pytest.raises(ValueError, match=r"grid_sample: expected a 4-D input .*\(1, 2, 5\)"):
        F.grid_sample(t(rnd(1, 2, 5), device), t(grid, device))
    with pytest.raises(ValueError, match="grid_sample: padding_mode"):
        F.grid_sample(t(x), t(grid), padding_mode="wrap")
