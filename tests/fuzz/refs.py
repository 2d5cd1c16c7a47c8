"""numpy references for the nn functional ops (written from PyTorch's documented definitions)."""

import numpy as np


def conv2d(x, w, b, stride, padding, dilation, groups):
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    (s0, s1), (p0, p1), (d0, d1) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (p0, p0), (p1, p1)))
    Ho = (H + 2 * p0 - d0 * (kh - 1) - 1) // s0 + 1
    Wo = (W + 2 * p1 - d1 * (kw - 1) - 1) // s1 + 1
    out = np.zeros((N, O, max(Ho, 0), max(Wo, 0)))
    Og = O // groups
    for g in range(groups):
        xs = xp[:, g * Cg : (g + 1) * Cg]
        ws = w[g * Og : (g + 1) * Og]
        for i in range(kh):
            for j in range(kw):
                patch = xs[
                    :, :, i * d0 : i * d0 + s0 * (Ho - 1) + 1 : s0, j * d1 : j * d1 + s1 * (Wo - 1) + 1 : s1
                ]
                out[:, g * Og : (g + 1) * Og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def _taps(x, k, s, p, pad_value, d=(1, 1)):
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=pad_value)
    Ho = (H + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    Wo = (W + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    taps = []
    for i in range(k[0]):
        for j in range(k[1]):
            taps.append(
                xp[
                    :,
                    :,
                    i * d[0] : i * d[0] + s[0] * (Ho - 1) + 1 : s[0],
                    j * d[1] : j * d[1] + s[1] * (Wo - 1) + 1 : s[1],
                ]
            )
    return np.stack(taps, 0)


def max_pool2d(x, k, s, p, d=(1, 1)):
    return np.max(_taps(x, k, s, p, -np.inf, d), axis=0)  # np.max propagates NaN, as PyTorch's pools


def avg_pool2d(x, k, s, p, count_include_pad=True):
    t = _taps(x, k, s, p, 0.0).sum(0)
    if count_include_pad:
        return t / (k[0] * k[1])
    ones = np.ones((1, 1) + x.shape[2:])
    cnt = _taps(ones, k, s, p, 0.0).sum(0)
    return t / cnt


def adaptive_avg_pool2d(x, out):
    N, C, H, W = x.shape
    oh, ow = out
    y = np.zeros((N, C, oh, ow))
    for i in range(oh):
        h0, h1 = (i * H) // oh, -((-(i + 1) * H) // oh)
        for j in range(ow):
            w0, w1 = (j * W) // ow, -((-(j + 1) * W) // ow)
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y


def interpolate(x, size, mode, align_corners):
    N, C, H, W = x.shape
    oh, ow = size
    if mode == "nearest":
        hi = np.minimum(np.floor(np.arange(oh) * (H / oh)).astype(int), H - 1)
        wi = np.minimum(np.floor(np.arange(ow) * (W / ow)).astype(int), W - 1)
        return x[:, :, hi][:, :, :, wi]

    def coords(o, n):
        if align_corners:
            src = np.arange(o) * ((n - 1) / (o - 1)) if o > 1 else np.zeros(o)
        else:
            src = np.maximum((np.arange(o) + 0.5) * (n / o) - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(int), n - 1)
        i1 = np.minimum(i0 + 1, n - 1)
        return i0, i1, src - i0

    h0, h1, lh = coords(oh, H)
    w0, w1, lw = coords(ow, W)
    lh = lh.reshape(1, 1, -1, 1)
    lw = lw.reshape(1, 1, 1, -1)
    top = x[:, :, h0][:, :, :, w0] * (1 - lw) + x[:, :, h0][:, :, :, w1] * lw
    bot = x[:, :, h1][:, :, :, w0] * (1 - lw) + x[:, :, h1][:, :, :, w1] * lw
    return top * (1 - lh) + bot * lh


def batch_norm(x, rm, rv, w, b, training, momentum, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    shp = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        n = x.size // x.shape[1]
        new_rm = (1 - momentum) * rm + momentum * mean
        new_rv = (1 - momentum) * rv + momentum * var * n / max(n - 1, 1)
    else:
        mean, var, new_rm, new_rv = rm, rv, rm, rv
    y = (x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + eps)
    if w is not None:
        y = y * w.reshape(shp) + b.reshape(shp)
    return y, new_rm, new_rv


def layer_norm(x, k, w, b, eps):
    axes = tuple(range(x.ndim - k, x.ndim))
    m = x.mean(axis=axes, keepdims=True)
    v = x.var(axis=axes, keepdims=True)
    y = (x - m) / np.sqrt(v + eps)
    if w is not None:
        y = y * w + b
    return y


def cross_entropy(x, t, weight, reduction):
    m = x.max(axis=1, keepdims=True)
    lse = np.log(np.exp(x - m).sum(axis=1, keepdims=True)) + m
    logp = x - lse
    picked = np.take_along_axis(logp, t.reshape(-1, 1), axis=1)[:, 0]
    wt = np.ones(len(t)) if weight is None else weight[t]
    loss = -picked * wt
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / wt.sum()


def mse(a, b, reduction):
    d = (a - b) ** 2
    return d if reduction == "none" else (d.sum() if reduction == "sum" else d.mean())
