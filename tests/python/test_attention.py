"""Attention: F.scaled_dot_product_attention, nn.MultiheadAttention and the Transformer modules,
each against an independent numpy float64 reference of its documented equations."""

import copy
import math

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from rustdl import nn
from rustdl.autograd import gradcheck
from rustdl.nn import functional as F

F64 = rustdl.float64


def t(a, device="cpu", dtype=F64, requires_grad=False):
    a = np.asarray(a)
    if a.dtype == np.bool_:
        return rustdl.tensor(a, device=device)
    return rustdl.tensor(a, dtype=dtype, device=device, requires_grad=requires_grad)


def npy(x):
    return x.detach().cpu().numpy().astype(np.float64)


def rng(seed=0):
    return np.random.default_rng(seed)


# ---------------- numpy references ----------------


def np_softmax_safe(s):
    """Softmax over the last axis; a row of all -inf gives zeros (PyTorch 2.x's safe softmax)."""
    dead = np.all(np.isneginf(s), axis=-1, keepdims=True)
    s = np.where(dead, 0.0, s)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    return np.where(dead, 0.0, p)


def np_softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_additive(mask, shape):
    """SDPA's mask convention as an additive float mask: bool True = take part."""
    if mask is None:
        return np.zeros(shape)
    if mask.dtype == np.bool_:
        return np.broadcast_to(np.where(mask, 0.0, -np.inf), shape)
    return np.broadcast_to(mask, shape)


def np_sdpa(q, k, v, mask=None, causal=False, scale=None):
    """Returns the output and the softmax weights (float64)."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = scale * q @ np.swapaxes(k, -1, -2)
    if causal:
        ql, sl = s.shape[-2:]
        mask = np.tril(np.ones((ql, sl), bool))
    s = s + np_additive(mask, s.shape)
    p = np_softmax_safe(s)
    return p @ v, p


def np_sdpa_grads(q, k, v, g, mask=None, causal=False, scale=None):
    """Closed-form gradients of sum(out * g) with respect to q, k, v."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    _, p = np_sdpa(q, k, v, mask, causal, scale)
    dv = np.swapaxes(p, -1, -2) @ g
    dp = g @ np.swapaxes(v, -1, -2)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True))
    dq = scale * ds @ k
    dk = scale * np.swapaxes(ds, -1, -2) @ q
    return dq, dk, dv


def np_linear(x, w, b):
    return x @ w.T + (0.0 if b is None else b)


def np_layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def np_mha(m, query, key, value, key_padding_mask=None, attn_mask=None):
    """nn.MultiheadAttention's equations on seq-first (L, N, E) numpy inputs, using the module's own
    weights; masks: bool True = not allowed, float = added. Returns output and per-head weights."""
    P = {n: npy(p) for n, p in m.named_parameters()}
    e, h = m.embed_dim, m.num_heads
    hd = e // h
    if m._qkv_same_embed_dim:
        wq, wk, wv = np.split(P["in_proj_weight"], 3)
    else:
        wq, wk, wv = P["q_proj_weight"], P["k_proj_weight"], P["v_proj_weight"]
    bq, bk, bv = np.split(P["in_proj_bias"], 3) if "in_proj_bias" in P else (None, None, None)
    q, k, v = np_linear(query, wq, bq), np_linear(key, wk, bk), np_linear(value, wv, bv)
    L, N, _ = q.shape
    S = k.shape[0]
    extra = 0
    if "bias_k" in P:
        k = np.concatenate([k, np.broadcast_to(P["bias_k"], (1, N, e))])
        v = np.concatenate([v, np.broadcast_to(P["bias_v"], (1, N, e))])
        extra += 1
    if m.add_zero_attn:
        k = np.concatenate([k, np.zeros((1, N, e))])
        v = np.concatenate([v, np.zeros((1, N, e))])
        extra += 1

    def additive(mask):
        if mask is None:
            return 0.0
        add = np.where(mask, -np.inf, 0.0) if mask.dtype == np.bool_ else mask
        return np.concatenate([add, np.zeros(add.shape[:-1] + (extra,))], -1)

    am = additive(attn_mask)
    kpm = additive(key_padding_mask)
    out = np.zeros((L, N, e))
    weights = np.zeros((N, h, L, S + extra))
    for n in range(N):
        for i in range(h):
            sl = slice(i * hd, (i + 1) * hd)
            s = q[:, n, sl] @ k[:, n, sl].T / math.sqrt(hd)
            if attn_mask is not None:
                s = s + (am[n * h + i] if am.ndim == 3 else am)
            if key_padding_mask is not None:
                s = s + kpm[n][None, :]
            p = np_softmax(s)
            weights[n, i] = p
            out[:, n, sl] = p @ v[:, n, sl]
    out = np_linear(out, P["out_proj.weight"], P.get("out_proj.bias"))
    return out, weights


def _np_act(name):
    if name == "relu":
        return lambda x: np.maximum(x, 0.0)
    erf = np.vectorize(math.erf)
    return lambda x: 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def np_encoder_layer(layer, src, src_mask=None, kpm=None, act="relu"):
    """Seq-first (L, N, E) numpy reference of nn.TransformerEncoderLayer in eval mode."""
    P = {n: npy(p) for n, p in layer.named_parameters()}

    def norm(x, i):
        return np_layer_norm(x, P[f"norm{i}.weight"], P[f"norm{i}.bias"], layer.norm1.eps)

    def sa(x):
        return np_mha(layer.self_attn, x, x, x, kpm, src_mask)[0]

    def ff(x):
        hdn = _np_act(act)(np_linear(x, P["linear1.weight"], P["linear1.bias"]))
        return np_linear(hdn, P["linear2.weight"], P["linear2.bias"])

    x = src
    if layer.norm_first:
        x = x + sa(norm(x, 1))
        return x + ff(norm(x, 2))
    x = norm(x + sa(x), 1)
    return norm(x + ff(x), 2)


def np_decoder_layer(layer, tgt, memory, tgt_mask=None, memory_mask=None, tgt_kpm=None, mem_kpm=None):
    """Seq-first numpy reference of nn.TransformerDecoderLayer in eval mode (relu)."""
    P = {n: npy(p) for n, p in layer.named_parameters()}

    def norm(x, i):
        return np_layer_norm(x, P[f"norm{i}.weight"], P[f"norm{i}.bias"], layer.norm1.eps)

    def sa(x):
        return np_mha(layer.self_attn, x, x, x, tgt_kpm, tgt_mask)[0]

    def ca(x):
        return np_mha(layer.multihead_attn, x, memory, memory, mem_kpm, memory_mask)[0]

    def ff(x):
        hdn = np.maximum(np_linear(x, P["linear1.weight"], P["linear1.bias"]), 0.0)
        return np_linear(hdn, P["linear2.weight"], P["linear2.bias"])

    x = tgt
    if layer.norm_first:
        x = x + sa(norm(x, 1))
        x = x + ca(norm(x, 2))
        return x + ff(norm(x, 3))
    x = norm(x + sa(x), 1)
    x = norm(x + ca(x), 2)
    return norm(x + ff(x), 3)


# ---------------- scaled_dot_product_attention ----------------


def _sdpa_case(L, S, E=8, Ev=5, batch=(2, 3), seed=0):
    r = rng(seed)
    return (
        r.standard_normal((*batch, L, E)),
        r.standard_normal((*batch, S, E)),
        r.standard_normal((*batch, S, Ev)),
    )


def _mask_case(kind, L, S, seed=1):
    r = rng(seed)
    if kind is None:
        return None
    if kind == "bool":
        m = r.random((L, S)) < 0.7
        m[:, 0] = True  # no fully masked rows here (a separate test covers them)
        return m
    if kind == "bool_bcast":  # per batch, broadcast over heads
        m = r.random((2, 1, L, S)) < 0.7
        m[..., 0] = True
        return m
    if kind == "float":
        return r.standard_normal((L, S))
    raise AssertionError(kind)


@pytest.mark.parametrize("L", [1, 7, 129])
@pytest.mark.parametrize("mask", [None, "bool", "bool_bcast", "float", "causal"])
def test_sdpa_forward_and_grads_vs_numpy(L, mask):
    S = 5 if L != 129 else 33
    q, k, v = _sdpa_case(L, S)
    causal = mask == "causal"
    m = None if causal else _mask_case(mask, L, S)
    g = rng(9).standard_normal((2, 3, L, 5))
    qt, kt, vt = (t(a, requires_grad=True) for a in (q, k, v))
    out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=None if m is None else t(m), is_causal=causal)
    ref, _ = np_sdpa(q, k, v, m, causal)
    assert out.dtype == F64 and tuple(out.shape) == ref.shape
    assert_close(out, ref, rtol=1e-10, atol=1e-12)
    (out * t(g)).sum().backward()
    for got, want in zip((qt.grad, kt.grad, vt.grad), np_sdpa_grads(q, k, v, g, m, causal)):
        assert_close(got, want, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("L,S", [(65, 200), (130, 70), (129, 129)])
@pytest.mark.parametrize("mask", [None, "batch_bool", "shared_float", "half_dead", "causal"])
def test_sdpa_fused_tiles_vs_numpy(L, S, mask):
    # several 64×64 tiles each way, ragged last tiles, a mask per batch entry or shared, rows
    # with no key at all: the CPU's fused kernel against the closed form, float64
    r = rng(L + S)
    q, k, v = (
        r.standard_normal((2, 2, L, 8)),
        r.standard_normal((2, 2, S, 8)),
        r.standard_normal((2, 2, S, 6)),
    )
    g = r.standard_normal((2, 2, L, 6))
    causal = mask == "causal"
    m = None
    if mask == "batch_bool":
        m = r.random((2, 2, L, S)) > 0.3
    elif mask == "shared_float":
        m = np.where(r.random((L, S)) < 0.2, -np.inf, r.standard_normal((L, S)))
    elif mask == "half_dead":
        m = np.ones((2, 1, L, S), bool)
        m[:, :, : L // 2] = False
    qt, kt, vt = (t(a, requires_grad=True) for a in (q, k, v))
    out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=None if m is None else t(m), is_causal=causal)
    assert_close(out, np_sdpa(q, k, v, m, causal)[0], rtol=1e-10, atol=1e-12)
    (out * t(g)).sum().backward()
    for got, want in zip((qt.grad, kt.grad, vt.grad), np_sdpa_grads(q, k, v, g, m, causal)):
        assert_close(got, want, rtol=1e-9, atol=1e-11)


def test_sdpa_fused_memory_grows_with_length_not_its_square():
    # (1, 8, 4096, 64) float32: q + k + v are 24 MiB; one score matrix would be 512 MiB
    import subprocess
    import sys

    code = """
import numpy as np, rustdl
import rustdl.nn.functional as F
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
r = np.random.default_rng(0)
q, k, v = (rustdl.tensor(r.standard_normal((1, 8, 4096, 64)).astype(np.float32), requires_grad=True) for _ in range(3))
before = hwm()
out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
out.backward(rustdl.ones_like(out))
assert np.isfinite(q.grad.numpy()).all()
print(hwm() - before)
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    grown = float(res.stdout.strip().splitlines()[-1])
    assert grown < 6 * 24, f"peak RSS grew {grown:.0f} MiB"


def test_sdpa_gradcheck_finite_differences():
    q, k, v = _sdpa_case(3, 4, E=3, Ev=2, batch=(2,))
    m = t(_mask_case("float", 3, 4))
    inputs = [t(a, requires_grad=True) for a in (q, k, v)] + [
        t(_mask_case("float", 3, 4), requires_grad=True)
    ]
    assert gradcheck(lambda a, b, c, mm: F.scaled_dot_product_attention(a, b, c, attn_mask=mm), inputs)
    inputs = [t(a, requires_grad=True) for a in (q, k, v)]
    assert gradcheck(
        lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True, scale=0.3), inputs
    )
    assert m.shape == (3, 4)


def test_sdpa_scale_float32_and_broadcast_batch():
    q, k, v = _sdpa_case(4, 6, batch=(2, 3))
    out = F.scaled_dot_product_attention(t(q), t(k[:1]), t(v[:1]), scale=0.25)  # key/value batch broadcast
    ref, _ = np_sdpa(q, np.broadcast_to(k[:1], k.shape), np.broadcast_to(v[:1], v.shape), scale=0.25)
    assert_close(out, ref, rtol=1e-10, atol=1e-12)
    out32 = F.scaled_dot_product_attention(*(t(a, dtype=rustdl.float32) for a in (q, k, v)))
    assert out32.dtype == rustdl.float32
    assert_close(out32, np_sdpa(q, k, v)[0], rtol=1e-4, atol=1e-5)
    # unbatched 2-D inputs
    assert_close(
        F.scaled_dot_product_attention(t(q[0, 0]), t(k[0, 0]), t(v[0, 0])),
        np_sdpa(q[0, 0], k[0, 0], v[0, 0])[0],
    )


@pytest.mark.parametrize("L,S", [(6, 3), (3, 6)])
def test_sdpa_causal_is_top_left_aligned(L, S):
    q, k, v = _sdpa_case(L, S)
    out = F.scaled_dot_product_attention(t(q), t(k), t(v), is_causal=True)
    ref, _ = np_sdpa(q, k, v, np.tril(np.ones((L, S), bool)))
    assert_close(out, ref, rtol=1e-10, atol=1e-12)
    # query 0 sees only key 0
    assert_close(out[..., 0, :], v[..., 0, :], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_rows_give_zeros_and_finite_grads(kind):
    q, k, v = _sdpa_case(4, 5)
    m = np.ones((4, 5), bool)
    m[2] = False
    mask = m if kind == "bool" else np.where(m, 0.0, -np.inf)
    qt, kt, vt = (t(a, requires_grad=True) for a in (q, k, v))
    out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=t(mask))
    ref, _ = np_sdpa(q, k, v, m)
    assert_close(out, ref, rtol=1e-10, atol=1e-12)
    assert np.all(npy(out)[..., 2, :] == 0.0)
    g = rng(5).standard_normal(out.shape)
    (out * t(g)).sum().backward()
    for got, want in zip((qt.grad, kt.grad, vt.grad), np_sdpa_grads(q, k, v, g, m)):
        assert np.isfinite(npy(got)).all()
        assert_close(got, want, rtol=1e-9, atol=1e-11)


def test_sdpa_enable_gqa_repeats_key_value_heads():
    r = rng(3)
    q = r.standard_normal((2, 4, 5, 8))
    k = r.standard_normal((2, 2, 6, 8))
    v = r.standard_normal((2, 2, 6, 3))
    out = F.scaled_dot_product_attention(t(q), t(k), t(v), enable_gqa=True)
    ref, _ = np_sdpa(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1))
    assert_close(out, ref, rtol=1e-10, atol=1e-12)


def test_sdpa_dropout():
    q, k, v = _sdpa_case(4, 5, batch=(2,))
    out = F.scaled_dot_product_attention(t(q), t(k), t(v), dropout_p=1.0)
    assert np.all(npy(out) == 0.0)
    assert_close(F.scaled_dot_product_attention(t(q), t(k), t(v), dropout_p=0.0), np_sdpa(q, k, v)[0])


@pytest.mark.parametrize("L,S,E", [(0, 3, 4), (3, 0, 4), (3, 4, 0)])
def test_sdpa_zero_size(device, L, S, E):
    r = rng(2)
    dt = F64 if device == "cpu" else rustdl.float32
    q, k, v = r.standard_normal((2, L, E)), r.standard_normal((2, S, E)), r.standard_normal((2, S, 5))
    for kw in (
        {},
        {"is_causal": True},
        {"attn_mask": t(np.ones((L, S), bool), device=device)},
        {"attn_mask": t(np.zeros((L, S)), device=device, dtype=dt)},
    ):
        qt, kt, vt = (t(a, device=device, dtype=dt, requires_grad=True) for a in (q, k, v))
        out = F.scaled_dot_product_attention(qt, kt, vt, **kw)
        out.sum().backward()
        mask = np.tril(np.ones((L, S), bool)) if kw.get("is_causal") else None
        assert_close(
            out,
            np_sdpa(q, k, v, mask, scale=1.0 if E == 0 else None)[0] if S else np.zeros((2, L, 5)),
            rtol=1e-5,
            atol=1e-6,
        )
        for x, a in zip((qt, kt, vt), (q, k, v)):
            assert x.grad.shape == a.shape and np.isfinite(npy(x.grad)).all()


def test_sdpa_bad_inputs():
    q, k, v = (t(a) for a in _sdpa_case(4, 5))
    sdpa = F.scaled_dot_product_attention
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention.*\(2, 3, 4, 8\)"):
        sdpa(q, k[..., :3], v)  # E mismatch
    with pytest.raises(ValueError, match="scaled_dot_product_attention"):
        sdpa(q, k, v[..., :4, :])  # S mismatch
    with pytest.raises(ValueError, match="batch dims"):
        sdpa(q, k[:, :2], v[:, :2])  # batch (2, 3) vs (2, 2)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 4\)"):
        sdpa(q, k, v, attn_mask=t(np.ones((4, 4), bool)))
    with pytest.raises(TypeError, match="attn_mask"):
        sdpa(q, k, v, attn_mask=rustdl.ones(4, 5, dtype=rustdl.int64))
    with pytest.raises(TypeError, match="scaled_dot_product_attention"):
        sdpa(q, k.float(), v)
    with pytest.raises(RuntimeError, match="is_causal"):  # a ValueError too
        sdpa(q, k, v, attn_mask=t(np.ones((4, 5), bool)), is_causal=True)
    with pytest.raises(ValueError, match="is_causal"):
        sdpa(q, k, v, attn_mask=t(np.ones((4, 5), bool)), is_causal=True)
    with pytest.raises(ValueError, match="at least 2 dims"):
        sdpa(t(np.ones(3)), t(np.ones(3)), t(np.ones(3)))
    with pytest.raises(ValueError, match="enable_gqa"):
        sdpa(q, k[:, :2], v[:, :2], enable_gqa=True)  # 3 query heads, 2 key heads


# ---------------- MultiheadAttention ----------------


def _seq(L, N, E, seed, batch_first=False):
    x = rng(seed).standard_normal((L, N, E))
    return x, (np.swapaxes(x, 0, 1) if batch_first else x)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize(
    "masks", ["none", "kpm_bool", "attn_bool", "attn_float", "both", "attn3d", "kpm_float"]
)
@pytest.mark.parametrize("average", [True, False])
def test_mha_vs_numpy(batch_first, masks, average):
    E, H, L, S, N = 12, 3, 5, 7, 2
    m = nn.MultiheadAttention(E, H, batch_first=batch_first, dtype=F64)
    with rustdl.no_grad():
        m.in_proj_bias.copy_(t(rng(7).standard_normal(3 * E)))  # nonzero biases for the test
        m.out_proj.bias.copy_(t(rng(8).standard_normal(E)))
    q_np, q_in = _seq(L, N, E, 1, batch_first)
    k_np, k_in = _seq(S, N, E, 2, batch_first)
    v_np, v_in = _seq(S, N, E, 3, batch_first)
    r = rng(4)
    kpm = am = None
    if masks in ("kpm_bool", "both"):
        kpm = np.zeros((N, S), bool)
        kpm[0, -2:] = True
        kpm[1, 1] = True  # row 0 keeps key 0 under the causal attn_mask of "both"
    if masks == "kpm_float":
        kpm = r.standard_normal((N, S))
    if masks in ("attn_bool", "both"):
        am = np.triu(np.ones((L, S), bool), 1)
    if masks == "attn_float":
        am = r.standard_normal((L, S))
    if masks == "attn3d":
        am = r.random((N * H, L, S)) < 0.3
        am[..., 0] = False
    out, w = m(
        t(q_in),
        t(k_in),
        t(v_in),
        key_padding_mask=None if kpm is None else t(kpm),
        attn_mask=None if am is None else t(am),
        average_attn_weights=average,
    )
    ref, ref_w = np_mha(m, q_np, k_np, v_np, kpm, am)
    assert_close(out, np.swapaxes(ref, 0, 1) if batch_first else ref, rtol=1e-10, atol=1e-12)
    assert_close(w, ref_w.mean(1) if average else ref_w, rtol=1e-10, atol=1e-12)
    out2, w2 = m(
        t(q_in),
        t(k_in),
        t(v_in),
        key_padding_mask=None if kpm is None else t(kpm),
        attn_mask=None if am is None else t(am),
        need_weights=False,
    )
    assert w2 is None
    assert_close(out2, out, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "opts", [{"kdim": 6, "vdim": 4}, {"add_bias_kv": True}, {"add_zero_attn": True}, {"bias": False}]
)
def test_mha_variants_vs_numpy(opts):
    E, H, L, S, N = 8, 2, 4, 6, 3
    m = nn.MultiheadAttention(E, H, dtype=F64, **opts)
    q = rng(1).standard_normal((L, N, E))
    k = rng(2).standard_normal((S, N, opts.get("kdim", E)))
    v = rng(3).standard_normal((S, N, opts.get("vdim", E)))
    kpm = np.zeros((N, S), bool)
    kpm[1, :2] = True
    am = rng(4).standard_normal((L, S))
    for need in (True, False):
        out, w = m(t(q), t(k), t(v), key_padding_mask=t(kpm), attn_mask=t(am), need_weights=need)
        ref, ref_w = np_mha(m, q, k, v, kpm, am)
        assert_close(out, ref, rtol=1e-10, atol=1e-12)
        if need:
            assert_close(w, ref_w.mean(1), rtol=1e-10, atol=1e-12)


def test_mha_unbatched_and_grads():
    E, H, L, S = 8, 4, 3, 5
    m = nn.MultiheadAttention(E, H, dtype=F64)
    q, k, v = (rng(i).standard_normal(s) for i, s in enumerate([(L, E), (S, E), (S, E)]))
    kpm = np.array([False, False, True, False, True])
    am = np.triu(np.ones((L, S), bool), 2)
    out, w = m(t(q), t(k), t(v), key_padding_mask=t(kpm), attn_mask=t(am), average_attn_weights=False)
    ref, ref_w = np_mha(m, q[:, None], k[:, None], v[:, None], kpm[None], am)
    assert tuple(out.shape) == (L, E) and tuple(w.shape) == (H, L, S)
    assert_close(out, ref[:, 0], rtol=1e-10, atol=1e-12)
    assert_close(w, ref_w[0], rtol=1e-10, atol=1e-12)
    names, params = zip(*m.named_parameters())
    inputs = [t(a, requires_grad=True) for a in (q, k, v)]

    def fn(a, b, c, *ps):
        saved = {}
        for name, p in zip(names, ps):
            owner, _, key = name.rpartition(".")
            sub = m.get_submodule(owner)
            saved[(owner, key)] = sub._parameters[key]
            sub._parameters[key] = p
        try:
            return m(a, b, c, key_padding_mask=t(kpm), attn_mask=t(am))[0]
        finally:
            for (owner, key), p in saved.items():
                m.get_submodule(owner)._parameters[key] = p

    assert gradcheck(fn, [*inputs, *params])


def test_mha_fully_masked_row_matches_pytorch():
    # PyTorch: need_weights=True runs a plain softmax (NaN for a batch whose keys are all
    # padded); need_weights=False goes through SDPA's safe softmax (zeros before out_proj).
    m = nn.MultiheadAttention(4, 2, dtype=F64)
    x = t(rng(0).standard_normal((3, 2, 4)))
    kpm = t(np.array([[False, False, False], [True, True, True]]))
    out, _ = m(x, x, x, key_padding_mask=kpm)
    assert np.isnan(npy(out)[:, 1]).all() and np.isfinite(npy(out)[:, 0]).all()
    out2, _ = m(x, x, x, key_padding_mask=kpm, need_weights=False)
    assert_close(out2[:, 1], np.broadcast_to(npy(m.out_proj.bias), (3, 4)))
    assert_close(out2[:, 0], out[:, 0], rtol=1e-10, atol=1e-12)


def test_mha_init_and_dropout_modes():
    m = nn.MultiheadAttention(16, 4, dropout=0.5)
    assert np.all(npy(m.in_proj_bias) == 0) and np.all(npy(m.out_proj.bias) == 0)
    bound = math.sqrt(6.0 / (16 + 48))
    w = npy(m.in_proj_weight)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    x = rustdl.randn(5, 2, 16)
    m.eval()
    a, _ = m(x, x, x)
    b, _ = m(x, x, x)
    assert_close(a, npy(b))
    m.train()
    _, wt = m(x, x, x, average_attn_weights=False)
    vals = npy(wt)
    assert np.any(vals == 0.0)  # dropped weights (the returned weights are after dropout, as PyTorch)


def test_mha_bad_inputs():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="greater than 0"):
        nn.MultiheadAttention(8, 0)
    m = nn.MultiheadAttention(8, 2)
    x = rustdl.randn(5, 2, 8)
    with pytest.raises(ValueError, match=r"2D attn_mask is \(5, 4\)"):
        m(x, x, x, attn_mask=rustdl.zeros(5, 4))
    with pytest.raises(ValueError, match=r"3D attn_mask"):
        m(x, x, x, attn_mask=rustdl.zeros(2, 5, 5))
    with pytest.raises(ValueError, match="key_padding_mask"):
        m(x, x, x, key_padding_mask=rustdl.zeros(2, 4, dtype=rustdl.bool))
    with pytest.raises(TypeError, match="attn_mask"):
        m(x, x, x, attn_mask=rustdl.zeros(5, 5, dtype=rustdl.int64))
    with pytest.raises(TypeError, match="key_padding_mask"):
        m(x, x, x, key_padding_mask=rustdl.zeros(2, 5, dtype=rustdl.int64))
    with pytest.raises(ValueError, match="query of embedding size 8"):
        m(rustdl.randn(5, 2, 6), x, x)
    with pytest.raises(ValueError, match="key and value"):
        m(x, rustdl.randn(5, 8), x)
    with pytest.raises(RuntimeError, match="is_causal"):
        m(x, x, x, is_causal=True)


# ---------------- Transformer layers ----------------


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_encoder_layer_vs_numpy(norm_first, batch_first, act):
    E, L, N = 16, 7, 2
    layer = nn.TransformerEncoderLayer(
        16, 4, dim_feedforward=32, activation=act, norm_first=norm_first, batch_first=batch_first, dtype=F64
    )
    with rustdl.no_grad():
        for name, p in layer.named_parameters():
            if "norm" in name or "bias" in name:
                p.copy_(
                    t(
                        rng(len(name)).standard_normal(tuple(p.shape)) * 0.3
                        + (1.0 if "norm" in name and "weight" in name else 0.0)
                    )
                )
    layer.eval()
    src, src_in = _seq(L, N, E, 1, batch_first)
    mask = nn.Transformer.generate_square_subsequent_mask(L, dtype=F64)
    kpm = np.zeros((N, L), bool)
    kpm[1, -3:] = True
    out = layer(t(src_in), src_mask=mask, src_key_padding_mask=t(kpm), is_causal=True)
    ref = np_encoder_layer(layer, src, npy(mask), kpm, act)
    assert_close(out, np.swapaxes(ref, 0, 1) if batch_first else ref, rtol=1e-9, atol=1e-11)
    plain = layer(t(src_in))
    ref = np_encoder_layer(layer, src, act=act)
    assert_close(plain, np.swapaxes(ref, 0, 1) if batch_first else ref, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_vs_numpy(norm_first):
    E, T, S, N = 16, 5, 6, 2
    layer = nn.TransformerDecoderLayer(16, 4, dim_feedforward=24, norm_first=norm_first, dtype=F64).eval()
    tgt = rng(1).standard_normal((T, N, E))
    mem = rng(2).standard_normal((S, N, E))
    tmask = npy(nn.Transformer.generate_square_subsequent_mask(T, dtype=F64))
    mkpm = np.zeros((N, S), bool)
    mkpm[0, -1] = True
    out = layer(t(tgt), t(mem), tgt_mask=t(tmask), memory_key_padding_mask=t(mkpm), tgt_is_causal=True)
    ref = np_decoder_layer(layer, tgt, mem, tgt_mask=tmask, mem_kpm=mkpm)
    assert_close(out, ref, rtol=1e-9, atol=1e-11)


def test_encoder_decoder_stacks_and_transformer_vs_numpy():
    E = 16
    model = nn.Transformer(
        E, 4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=32, dtype=F64
    ).eval()
    src = rng(1).standard_normal((6, 2, E))
    tgt = rng(2).standard_normal((4, 2, E))
    tmask = nn.Transformer.generate_square_subsequent_mask(4, dtype=F64)
    out = model(t(src), t(tgt), tgt_mask=tmask)
    mem = src
    for layer in model.encoder.layers:
        mem = np_encoder_layer(layer, mem)
    n = model.encoder.norm
    mem = np_layer_norm(mem, npy(n.weight), npy(n.bias))
    x = tgt
    for layer in model.decoder.layers:
        x = np_decoder_layer(layer, x, mem, tgt_mask=npy(tmask))
    n = model.decoder.norm
    assert_close(out, np_layer_norm(x, npy(n.weight), npy(n.bias)), rtol=1e-9, atol=1e-10)


def test_generate_square_subsequent_mask():
    m = npy(nn.Transformer.generate_square_subsequent_mask(4))
    want = np.where(np.triu(np.ones((4, 4), bool), 1), -np.inf, 0.0)
    np.testing.assert_array_equal(m, want)
    assert nn.Transformer.generate_square_subsequent_mask(3).dtype == rustdl.float32


def test_encoder_layer_train_backward_and_bad_activation():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1)
    x = rustdl.randn(5, 3, 8, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in layer.parameters())
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    act = nn.GELU()
    assert nn.TransformerEncoderLayer(8, 2, activation=act).activation is act
    with pytest.raises(ValueError, match="batch number"):
        nn.Transformer(8, 2, 1, 1, 16)(rustdl.randn(5, 3, 8), rustdl.randn(4, 2, 8))
    with pytest.raises(ValueError, match="d_model"):
        nn.Transformer(8, 2, 1, 1, 16)(rustdl.randn(5, 3, 6), rustdl.randn(4, 3, 6))


# ---------------- names, counts, copies ----------------

MHA_KEYS = ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
ENC_KEYS = [
    "self_attn.in_proj_weight",
    "self_attn.in_proj_bias",
    "self_attn.out_proj.weight",
    "self_attn.out_proj.bias",
    "linear1.weight",
    "linear1.bias",
    "linear2.weight",
    "linear2.bias",
    "norm1.weight",
    "norm1.bias",
    "norm2.weight",
    "norm2.bias",
]
DEC_KEYS = [
    "self_attn.in_proj_weight",
    "self_attn.in_proj_bias",
    "self_attn.out_proj.weight",
    "self_attn.out_proj.bias",
    "multihead_attn.in_proj_weight",
    "multihead_attn.in_proj_bias",
    "multihead_attn.out_proj.weight",
    "multihead_attn.out_proj.bias",
    "linear1.weight",
    "linear1.bias",
    "linear2.weight",
    "linear2.bias",
    "norm1.weight",
    "norm1.bias",
    "norm2.weight",
    "norm2.bias",
    "norm3.weight",
    "norm3.bias",
]


def _count(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(
    "make,keys,count",
    [
        (lambda: nn.MultiheadAttention(16, 4), MHA_KEYS, 1088),
        (
            lambda: nn.MultiheadAttention(16, 4, kdim=8, vdim=12),
            [
                "q_proj_weight",
                "k_proj_weight",
                "v_proj_weight",
                "in_proj_bias",
                "out_proj.weight",
                "out_proj.bias",
            ],
            256 + 128 + 192 + 48 + 272,
        ),
        (
            lambda: nn.MultiheadAttention(16, 4, add_bias_kv=True),
            ["in_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj.weight", "out_proj.bias"],
            1088 + 32,
        ),
        (lambda: nn.MultiheadAttention(16, 4, bias=False), ["in_proj_weight", "out_proj.weight"], 1024),
        (lambda: nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32), ENC_KEYS, 2224),
        (lambda: nn.TransformerDecoderLayer(d_model=16, nhead=4, dim_feedforward=32), DEC_KEYS, 3344),
        (
            lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4, 32), 2),
            [f"layers.{i}.{k}" for i in range(2) for k in ENC_KEYS],
            2 * 2224,
        ),
        (
            lambda: nn.Transformer(16, 4, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=32),
            [f"encoder.layers.{i}.{k}" for i in range(2) for k in ENC_KEYS]
            + ["encoder.norm.weight", "encoder.norm.bias"]
            + [f"decoder.layers.0.{k}" for k in DEC_KEYS]
            + ["decoder.norm.weight", "decoder.norm.bias"],
            2 * 2224 + 32 + 3344 + 32,
        ),
    ],
)
def test_state_dict_keys_and_parameter_counts_match_pytorch(make, keys, count):
    m = make()
    assert list(m.state_dict()) == keys
    assert _count(m) == count


def test_default_transformer_parameter_count():
    # torch.nn.Transformer() has 44,140,544 parameters
    assert _count(nn.Transformer()) == 44_140_544


def test_pytorch_module_paths_and_deepcopy():
    from rustdl.nn.modules.activation import MultiheadAttention
    from rustdl.nn.modules.transformer import (
        Transformer,
        TransformerDecoder,
        TransformerDecoderLayer,
        TransformerEncoder,
        TransformerEncoderLayer,
    )

    assert MultiheadAttention is nn.MultiheadAttention and Transformer is nn.Transformer
    assert (
        TransformerEncoder is nn.TransformerEncoder and TransformerEncoderLayer is nn.TransformerEncoderLayer
    )
    assert (
        TransformerDecoder is nn.TransformerDecoder and TransformerDecoderLayer is nn.TransformerDecoderLayer
    )
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    enc = nn.TransformerEncoder(layer, 3)
    assert len(enc.layers) == 3
    for sub in enc.layers:
        assert sub is not layer and sub.linear1.weight is not layer.linear1.weight
        np.testing.assert_array_equal(npy(sub.linear1.weight), npy(layer.linear1.weight))
    with rustdl.no_grad():
        enc.layers[0].linear1.weight.fill_(0.0)
    assert np.any(npy(enc.layers[1].linear1.weight) != 0)
    clone = copy.deepcopy(nn.MultiheadAttention(8, 2))
    x = rustdl.randn(3, 1, 8)
    assert tuple(clone(x, x, x)[0].shape) == (3, 1, 8)


# ---------------- GPU ----------------


def test_sdpa_and_encoder_layer_on_gpu_match_cpu(gpu):
    q, k, v = _sdpa_case(7, 5, E=8, Ev=4)
    m = _mask_case("bool", 7, 5)
    outs, grads = [], []
    for dev in ("cpu", gpu):
        qt, kt, vt = (t(a, device=dev, dtype=rustdl.float32, requires_grad=True) for a in (q, k, v))
        out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=t(m, device=dev))
        causal = F.scaled_dot_product_attention(qt, kt, vt, is_causal=True)
        (out.sum() + (causal * causal).sum()).backward()
        outs.append(npy(out))
        grads.append([npy(x.grad) for x in (qt, kt, vt)])
    assert_close(outs[1], outs[0], rtol=1e-4, atol=1e-5)
    for a, b in zip(grads[1], grads[0]):
        assert_close(a, b, rtol=1e-4, atol=1e-4)

    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0).eval()
    x = rng(1).standard_normal((5, 2, 8))
    kpm = np.zeros((2, 5), bool)
    kpm[1, -1] = True
    results = []
    for dev in ("cpu", gpu):
        layer.to(dev)
        layer.zero_grad()
        xt = t(x, device=dev, dtype=rustdl.float32, requires_grad=True)
        mask = nn.Transformer.generate_square_subsequent_mask(5, device=dev)
        y = layer(xt, src_mask=mask, src_key_padding_mask=t(kpm, device=dev))
        (y * y).sum().backward()
        results.append((npy(y), npy(xt.grad), [npy(p.grad) for p in layer.parameters()]))
    assert_close(results[1][0], results[0][0], rtol=1e-4, atol=1e-4)
    assert_close(results[1][1], results[0][1], rtol=1e-3, atol=1e-4)
    for a, b in zip(results[1][2], results[0][2]):
        assert_close(a, b, rtol=1e-3, atol=1e-4)


def _gpu_sdpa_case(L, S, mask, E=37, Ev=33, seed=0):
    """Float32-exact inputs (float64 arrays holding float32 values), an output gradient and a
    mask of the kind: per batch entry bool, shared float with -inf holes, fully masked rows
    (bool per batch, and a float -inf row), or causal."""
    r = rng(seed + 7 * L + S)
    f32 = lambda a: a.astype(np.float32).astype(np.float64)  # noqa: E731
    q, k, v = (f32(r.standard_normal(sh)) for sh in ((2, 2, L, E), (2, 2, S, E), (2, 2, S, Ev)))
    g = f32(r.standard_normal((2, 2, L, Ev)))
    m = None
    if mask == "batch_bool":
        m = r.random((2, 2, L, S)) > 0.3
    elif mask == "shared_float":
        m = f32(np.where(r.random((L, S)) < 0.2, -np.inf, r.standard_normal((L, S))))
    elif mask == "dead_bool":
        m = r.random((2, 1, L, S)) > 0.5
        m[:, :, ::3] = False  # every third query sees no key
    elif mask == "dead_float":
        m = f32(r.standard_normal((L, S)))
        m[L // 2] = -np.inf
    return q, k, v, g, m


@pytest.mark.parametrize("L,S", [(1, 1), (1, 7), (7, 1), (7, 129), (129, 7), (129, 129)])
@pytest.mark.parametrize("mask", [None, "batch_bool", "shared_float", "dead_bool", "dead_float", "causal"])
def test_sdpa_gpu_fused_vs_numpy(gpu, L, S, mask):
    # the GPU's WGSL kernel (16-query blocks, 32-key tiles, head dims in chunks of 32) against
    # the float64 closed form: ragged tiles, widths across a chunk edge, masks per batch entry
    # or shared, rows with no key at all (zeros and zero gradients), causal both ways
    q, k, v, g, m = _gpu_sdpa_case(L, S, mask)
    causal = mask == "causal"
    qt, kt, vt = (t(a, device=gpu, dtype=rustdl.float32, requires_grad=True) for a in (q, k, v))
    mt = None if m is None else t(m, device=gpu, dtype=rustdl.float32)
    before = rustdl.gpu.stats()["dispatches"]
    out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mt, is_causal=causal)
    if m is None or m.dtype != np.bool_:
        # one fused dispatch (the composed path takes a matmul, a softmax, a matmul, ...)
        assert rustdl.gpu.stats()["dispatches"] - before == 1
    assert out.device.type == "gpu" and out.dtype == rustdl.float32
    ref = np_sdpa(q, k, v, m, causal)[0]
    assert_close(out, ref, rtol=1e-4, atol=2e-5)
    (out * t(g, device=gpu, dtype=rustdl.float32)).sum().backward()
    for got, want in zip((qt.grad, kt.grad, vt.grad), np_sdpa_grads(q, k, v, g, m, causal)):
        assert np.isfinite(npy(got)).all()
        assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_sdpa_gpu_fused_strided_inputs_and_wide_heads(gpu):
    # (N, L, H, E) tensors viewed as (N, H, L, E): the fused op reads dense copies; heads wider
    # than the kernel's 128 are composed, and both agree with the closed form
    r = rng(3)
    for e in (128, 130):
        q, k, v = (r.standard_normal((2, L, 2, e)).astype(np.float32).astype(np.float64) for L in (9, 20, 20))
        qt, kt, vt = (t(a, device=gpu, dtype=rustdl.float32, requires_grad=True) for a in (q, k, v))
        out = F.scaled_dot_product_attention(*(x.transpose(1, 2) for x in (qt, kt, vt)), is_causal=True)
        qn, kn, vn = (np.swapaxes(a, 1, 2) for a in (q, k, v))
        assert_close(out, np_sdpa(qn, kn, vn, causal=True)[0], rtol=1e-4, atol=2e-5)
        g = r.standard_normal(out.shape)
        (out * t(g, device=gpu, dtype=rustdl.float32)).sum().backward()
        for got, want in zip((qt.grad, kt.grad, vt.grad), np_sdpa_grads(qn, kn, vn, g, causal=True)):
            assert_close(got, np.swapaxes(want, 1, 2), rtol=1e-4, atol=1e-4)
    # called directly, the GPU op refuses what its kernel cannot hold, naming the op
    x = rustdl.zeros(1, 3, 130, device=gpu)
    with pytest.raises(RuntimeError, match="scaled_dot_product_attention: .* up to 128"):
        rustdl._rustdl._sdpa_fused(x, x, x)


def test_sdpa_gpu_fused_memory_grows_with_length_not_its_square(gpu):
    # L = S = 2048: one float32 score matrix per (batch, head) is 16 MiB; the fused forward and
    # backward allocate buffers for q, k, v, the output, the gradients and a workspace only
    L, E = 2048, 16
    r = rng(5)
    q, k, v = (
        t(r.standard_normal((1, 1, L, E)), device=gpu, dtype=rustdl.float32, requires_grad=True)
        for _ in range(3)
    )
    g = t(r.standard_normal((1, 1, L, E)), device=gpu, dtype=rustdl.float32)
    rustdl.gpu.synchronize()
    rustdl.gpu.empty_cache()
    start = rustdl.gpu.stats()["bytes_allocated"]
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    (out * g).sum().backward()
    rustdl.gpu.synchronize()
    grown = rustdl.gpu.stats()["bytes_allocated"] - start
    assert np.isfinite(npy(q.grad)).all()
    score_bytes = L * L * 4
    assert grown < score_bytes // 4, f"the GPU allocated {grown} bytes (one score matrix: {score_bytes})"


def test_sdpa_output_too_large_is_a_memory_error():
    # a million queries against a million-wide value: a 4 TB output, refused before allocation
    q, k, v = rustdl.zeros(1, 10**6, 1), rustdl.zeros(1, 1, 1), rustdl.zeros(1, 1, 10**6)
    with pytest.raises(MemoryError, match="scaled_dot_product_attention"):
        F.scaled_dot_product_attention(q, k, v)
