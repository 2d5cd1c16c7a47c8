"""Behaviour that real PyTorch programs relied on and rustdl lacked (found by running them
through ``python -m rustdl.torchcompat``); each case checks values against references taken
from PyTorch's documented formulas or written out in numpy."""

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
import rustdl.nn.functional as F
from conftest import compat_report, run_compat_file


def _np(t):
    return t.detach().numpy()


# --- interpolate: bicubic / linear / area / nearest-exact, 3-D and 5-D, scale_factor coordinates

# PyTorch's outputs for x = arange(12)**2 reshaped (1, 1, 3, 4).
BICUBIC_4x6 = [
    [-1.185398, -1.162964, -0.414388, 0.97819, 4.143433, 6.513089],
    [4.506226, 6.901489, 11.532371, 15.687681, 22.735229, 27.477715],
    [33.946899, 40.051636, 50.751772, 59.226092, 72.342896, 80.794854],
    [65.919773, 74.397339, 88.979782, 100.216833, 117.215942, 128.040731],
]
BICUBIC_ALIGNED_X15 = [
    [0.0, 0.288, 1.504, 3.016, 6.264, 9.0],
    [5.62963, 8.232296, 12.865185, 16.691852, 23.356741, 28.407407],
    [32.888889, 38.926222, 48.629333, 55.890667, 67.625778, 76.111111],
    [64.0, 72.352, 85.472, 95.048, 110.2, 121.0],
]


def test_interpolate_bicubic_matches_reference():
    x = (rustdl.arange(12, dtype=rustdl.float64) ** 2).reshape(1, 1, 3, 4)
    out = F.interpolate(x, size=(4, 6), mode="bicubic", align_corners=False)
    np.testing.assert_allclose(_np(out)[0, 0], BICUBIC_4x6, atol=1e-5)
    out = F.interpolate(x, scale_factor=1.5, mode="bicubic", align_corners=True)
    np.testing.assert_allclose(_np(out)[0, 0], BICUBIC_ALIGNED_X15, atol=1e-5)


def test_interpolate_bicubic_gradient_is_the_transposed_map():
    # out = Mh x Mw^T, so d(sum out)/dx = Mh^T 1 1^T Mw: rows of Mh and Mw each sum to 1 (cubic
    # weights interpolate constants), and the gradient's total is the number of outputs.
    x = rustdl.ones(1, 1, 3, 4, requires_grad=True)
    out = F.interpolate(x, size=(4, 6), mode="bicubic")
    np.testing.assert_allclose(_np(out), np.ones((1, 1, 4, 6)), atol=1e-6)
    out.sum().backward()
    g = _np(x.grad)[0, 0]
    assert g.sum() == pytest.approx(24.0, abs=1e-4)
    np.testing.assert_allclose(g[0], [1.9604, 2.0064, 2.0064, 1.9604], atol=1e-4)


def test_interpolate_scale_factor_uses_its_own_coordinates():
    # PyTorch maps output i to floor(i / scale_factor), not floor(i * in / out)
    x = rustdl.arange(5.0).reshape(1, 1, 5)
    expect = [0, 0, 1, 1, 2, 2, 3, 4]
    np.testing.assert_array_equal(_np(F.interpolate(x, scale_factor=1.7))[0, 0], expect)
    np.testing.assert_array_equal(
        _np(F.interpolate(x.reshape(1, 1, 1, 5), scale_factor=(1, 1.7)))[0, 0, 0], expect
    )
    # recompute_scale_factor=True maps through in / out instead
    np.testing.assert_array_equal(
        _np(F.interpolate(x, scale_factor=1.7, recompute_scale_factor=True))[0, 0], [0, 0, 1, 1, 2, 3, 3, 4]
    )


def test_interpolate_1d_linear_area_and_5d_trilinear():
    x = rustdl.arange(4.0).reshape(1, 1, 4)
    np.testing.assert_allclose(
        _np(F.interpolate(x, size=7, mode="linear"))[0, 0],
        [0.0, 0.357143, 0.928571, 1.5, 2.071429, 2.642857, 3.0],
        atol=1e-5,
    )
    np.testing.assert_allclose(
        _np(F.interpolate(rustdl.arange(5.0).reshape(1, 1, 5), size=3, mode="area"))[0, 0], [0.5, 2, 3.5]
    )
    # trilinear with align_corners=True on a volume linear in each axis reproduces it exactly
    d, h, w = np.meshgrid(np.arange(2.0), np.arange(3.0), np.arange(4.0), indexing="ij")
    vol = rustdl.tensor((d + 2 * h + 3 * w)[None, None])
    out = _np(F.interpolate(vol, size=(3, 5, 7), mode="trilinear", align_corners=True))[0, 0]
    dd, hh, ww = np.meshgrid(np.linspace(0, 1, 3), np.linspace(0, 2, 5), np.linspace(0, 3, 7), indexing="ij")
    np.testing.assert_allclose(out, dd + 2 * hh + 3 * ww, atol=1e-5)
    up = nn.Upsample(scale_factor=2, mode="bicubic", align_corners=False)
    assert tuple(up(rustdl.randn(2, 3, 4, 5)).shape) == (2, 3, 8, 10)
    with pytest.raises(ValueError, match="bicubic"):
        F.interpolate(x, size=7, mode="bicubic")


# --- numpy argument names: axis / keepdims (d2l's `A.sum(axis=0)`, `y_hat.argmax(axis=1)`)


def test_reductions_take_axis_and_keepdims():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = rustdl.tensor(a)
    np.testing.assert_allclose(_np(t.sum(axis=1)), a.sum(axis=1))
    np.testing.assert_allclose(_np(t.mean(axis=[0, 2], keepdims=True)), a.mean(axis=(0, 2), keepdims=True))
    np.testing.assert_array_equal(_np(t.argmax(axis=2)), a.argmax(axis=2))
    np.testing.assert_allclose(_np(t.max(axis=0)[0]), a.max(axis=0))
    np.testing.assert_allclose(_np(t.cumsum(axis=1)), a.cumsum(axis=1))
    np.testing.assert_allclose(_np(t.std(axis=1)), a.std(axis=1, ddof=1))
    np.testing.assert_allclose(_np(rustdl.sum(t, axis=0)), a.sum(axis=0))
    np.testing.assert_allclose(_np(t.softmax(axis=-1).sum(-1)), np.ones((2, 3)), atol=1e-12)
    with pytest.raises(TypeError, match="alias"):
        t.sum(dim=0, axis=1)


def test_all_any_keepdim():
    a = np.array([[True, False, True], [True, True, True]])
    t = rustdl.tensor(a)
    np.testing.assert_array_equal(_np(t.all(1, keepdim=True)), a.all(axis=1, keepdims=True))
    np.testing.assert_array_equal(_np(t.any(0, keepdim=True)), a.any(axis=0, keepdims=True))
    np.testing.assert_array_equal(_np(t.all(axis=-1, keepdims=True)), a.all(axis=-1, keepdims=True))
    assert tuple(t.any(-1, keepdim=False).shape) == (2,)


# --- data conversion


def test_tensor_from_a_list_of_arrays_stacks_them_keeping_dtype():
    t = rustdl.tensor([np.arange(3), np.arange(3) * 2])
    assert t.dtype == rustdl.int64
    np.testing.assert_array_equal(_np(t), [[0, 1, 2], [0, 2, 4]])
    t = rustdl.tensor((np.ones(2), np.zeros(2)))
    assert t.dtype == rustdl.float64 and tuple(t.shape) == (2, 2)
    assert rustdl.tensor([np.ones(2, np.float32)], dtype=rustdl.float64).dtype == rustdl.float64


def test_narrow_integer_dtypes_are_their_own():
    assert rustdl.int is rustdl.int32 and rustdl.short is rustdl.int16 and rustdl.int32 != rustdl.int64
    t = rustdl.tensor([1, 2, 3], dtype=rustdl.int32)
    assert t.dtype == rustdl.int32 and t.sum().item() == 6 and t.sum().dtype == rustdl.int64
    assert rustdl.arange(4, dtype=rustdl.int32).tolist() == [0, 1, 2, 3]
    assert rustdl.tensor([1.7, -2.2]).short().tolist() == [1, -2]
    assert rustdl.tensor([3.9, 258.0]).byte().tolist() == [3, 2]


# --- devices: CPU scalars with GPU tensors, assignment across devices, float64 of a GPU tensor


def test_cpu_scalar_tensor_combines_with_gpu_tensor(gpu):
    g = rustdl.tensor([1.0, 2.0, 3.0], device=gpu, requires_grad=True)
    s = rustdl.tensor(2.0, dtype=rustdl.float64)
    out = g * s
    assert out.device.type == "gpu" and out.dtype == rustdl.float32
    np.testing.assert_allclose(_np(out.cpu()), [2, 4, 6])
    np.testing.assert_allclose(_np((rustdl.tensor(10) - g).cpu()), [9, 8, 7])
    assert (g > rustdl.tensor(1.5)).cpu().tolist() == [False, True, True]
    w = rustdl.tensor(3.0, requires_grad=True)
    (g * w).sum().backward()
    np.testing.assert_allclose(_np(g.grad.cpu()), [3, 3, 3])
    assert w.grad.item() == pytest.approx(6.0)
    with pytest.raises(RuntimeError, match="same device"):
        g + rustdl.ones(3)


def test_assigning_a_gpu_value_into_a_cpu_view_copies_it(gpu):
    a = rustdl.zeros(3, 4)
    a[1] = rustdl.arange(4.0, device=gpu)
    a[2, 1:3] = rustdl.ones(2, device=gpu)
    np.testing.assert_array_equal(_np(a), [[0, 0, 0, 0], [0, 1, 2, 3], [0, 1, 1, 0]])
    b = rustdl.zeros(2, 3, device=gpu)
    b[0] = rustdl.ones(3)
    np.testing.assert_array_equal(_np(b.cpu()), [[1, 1, 1], [0, 0, 0]])
    with pytest.raises(RuntimeError, match="setitem"):  # index_put with a tensor index stays strict
        a[rustdl.tensor([0, 1])] = rustdl.ones(2, 4, device=gpu)


def test_compat_double_of_a_gpu_tensor_gives_float64_on_the_cpu(gpu):
    from rustdl.torchcompat import _overrides

    g = rustdl.tensor([1.0, 2.5], device=gpu)
    with pytest.warns(UserWarning, match="float64"):
        _overrides._F64_GPU_WARNED[0] = False
        d = _overrides._tensor_double(g)
    assert d.dtype == rustdl.float64 and d.device.type == "cpu"
    np.testing.assert_array_equal(_np(d), [1.0, 2.5])
    assert _overrides._tensor_to(g, rustdl.float64).dtype == rustdl.float64
    c = _overrides._tensor_double(rustdl.ones(2))
    assert c.dtype == rustdl.float64 and c.device.type == "cpu"
    with pytest.raises(TypeError, match="float64"):  # asked for on the GPU explicitly
        _overrides._tensor_to(g, gpu, rustdl.float64)


# --- PyTorch's alternative method names and small compositions


def test_alias_methods_match_numpy():
    x = np.array([0.0, 0.5, -1.2, 1.0, 2.5])
    t = rustdl.tensor(x)
    m = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    tm = rustdl.tensor(m)
    np.testing.assert_allclose(_np(tm.mv(rustdl.tensor([1.0, -1.0], dtype=rustdl.float64))), m @ [1, -1])
    with pytest.raises(ValueError, match="mv"):
        tm.mv(tm)
    np.testing.assert_allclose(_np(t.tan()), np.tan(x), rtol=1e-12)
    np.testing.assert_allclose(_np(t.frac()), x - np.trunc(x))
    np.testing.assert_allclose(_np(t.exp2()), np.exp2(x))
    np.testing.assert_allclose(_np(t.sinc()), np.sinc(x), atol=1e-12)
    np.testing.assert_allclose(_np(tm.ravel()), m.ravel())
    np.testing.assert_allclose(_np(tm.fliplr()), np.fliplr(m))
    np.testing.assert_allclose(_np(tm.flipud()), np.flipud(m))
    np.testing.assert_allclose(_np(t.deg2rad()), np.deg2rad(x))
    np.testing.assert_allclose(_np(t.rad2deg()), np.rad2deg(x))
    y = x[::-1] * 300
    np.testing.assert_allclose(_np(t.logaddexp(rustdl.tensor(y))), np.logaddexp(x, y))
    np.testing.assert_allclose(_np(t.logaddexp2(rustdl.tensor(y))), np.logaddexp2(x, y))
    a = np.array([1.0, np.nan, 3.0, np.nan])
    b = np.array([2.0, 5.0, np.nan, np.nan])
    np.testing.assert_array_equal(_np(rustdl.tensor(a).fmax(rustdl.tensor(b))), np.fmax(a, b))
    np.testing.assert_array_equal(_np(rustdl.tensor(a).fmin(rustdl.tensor(b))), np.fmin(a, b))
    np.testing.assert_allclose(_np(t.addcmul(t, t, value=0.5)), x + 0.5 * x * x)
    np.testing.assert_allclose(_np(t.addcdiv(t, t + 3, value=2)), x + 2 * x / (x + 3))
    assert tm.equal(tm.clone()) and not tm.equal(tm[:2]) and not tm.equal(tm + 1)
    np.testing.assert_array_equal(_np(rustdl.tensor([[0, 1], [2, 0]]).argwhere()), [[0, 1], [1, 0]])
    p, q = rustdl.tensor([True, False, True, False]), rustdl.tensor([True, True, False, False])
    assert p.logical_xor(q).tolist() == [False, True, True, False]
    assert tm.where(tm > 2, 0.0).tolist() == [[0, 0], [3, 4], [5, 6]]
    for name, ref in (
        ("divide", x / 2), ("multiply", x * 2), ("subtract", x - 2), ("greater", x > 2),
        ("less_equal", x <= 2), ("not_equal", x != 2), ("greater_equal", x >= 2), ("less", x < 2),
    ):  # fmt: skip
        np.testing.assert_array_equal(_np(getattr(t, name)(2)), ref)
    np.testing.assert_array_equal(_np(t.negative()), -x)
    np.testing.assert_array_equal(_np(t.absolute()), np.abs(x))
    np.testing.assert_array_equal(_np(t.sgn()), np.sign(x))


def test_take_along_dim_and_tensor_split():
    m = np.arange(12.0).reshape(3, 4)
    idx = np.array([[3, 0], [1, 1], [0, 2]])
    t = rustdl.tensor(m)
    np.testing.assert_array_equal(
        _np(t.take_along_dim(rustdl.tensor(idx), dim=1)), np.take_along_axis(m, idx, 1)
    )
    # broadcasting: one row of indices used for every row
    np.testing.assert_array_equal(
        _np(t.take_along_dim(rustdl.tensor([[0, 3]]), dim=1)),
        np.take_along_axis(m, np.array([[0, 3]] * 3), 1),
    )
    np.testing.assert_array_equal(_np(t.take_along_dim(rustdl.tensor([0, 11]))), [0, 11])
    parts = rustdl.arange(10.0).tensor_split(3)
    assert [p.tolist() for p in parts] == [list(a) for a in np.array_split(np.arange(10.0), 3)]
    parts = rustdl.arange(10.0).tensor_split([2, 7, 20])
    assert [len(p) for p in parts] == [2, 5, 3, 0]
    assert [tuple(p.shape) for p in t.hsplit(2)] == [(3, 2), (3, 2)]
    assert [tuple(p.shape) for p in t.vsplit([1])] == [(1, 4), (2, 4)]


# --- module-level functions: tensordot, isin, range, scalar_tensor, is_nonzero, concat


def test_tensordot_matches_numpy_and_differentiates():
    a = np.arange(24.0).reshape(2, 3, 4)
    b = np.arange(12.0).reshape(4, 3)
    np.testing.assert_allclose(
        _np(rustdl.tensordot(rustdl.tensor(a), rustdl.tensor(b), dims=([2, 1], [0, 1]))),
        np.tensordot(a, b, axes=([2, 1], [0, 1])),
    )
    c = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(_np(rustdl.tensordot(rustdl.tensor(a), rustdl.tensor(c))), np.tensordot(a, c))
    np.testing.assert_allclose(
        _np(rustdl.tensordot(rustdl.tensor([1.0, 2.0]), rustdl.tensor([3.0, 4.0, 5.0]), dims=0)),
        np.multiply.outer([1.0, 2.0], [3.0, 4.0, 5.0]),
    )
    ta = rustdl.tensor(a, requires_grad=True)
    rustdl.tensordot(ta, rustdl.tensor(c)).sum().backward()
    np.testing.assert_allclose(_np(ta.grad), np.broadcast_to(c, a.shape))
    with pytest.raises(ValueError, match="tensordot"):
        rustdl.tensordot(rustdl.tensor(a), rustdl.tensor(b), dims=([0], [0]))


def test_isin_range_scalar_tensor_is_nonzero_concat():
    out = rustdl.isin(rustdl.tensor([[1, 2], [3, 4]]), rustdl.tensor([2, 3]))
    assert out.dtype == rustdl.bool and out.tolist() == [[False, True], [True, False]]
    assert rustdl.isin(rustdl.tensor([1, 2]), [2], invert=True).tolist() == [True, False]
    r = rustdl.range(0, 1, 0.25)
    assert r.dtype == rustdl.float32 and r.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert rustdl.range(1, 4).tolist() == [1, 2, 3, 4]
    s = rustdl.scalar_tensor(3)
    assert s.dim() == 0 and s.dtype == rustdl.float32 and s.item() == 3.0
    assert rustdl.is_nonzero(rustdl.tensor([0.5])) and not rustdl.is_nonzero(rustdl.tensor(0))
    with pytest.raises(RuntimeError):
        rustdl.is_nonzero(rustdl.ones(2))
    assert tuple(rustdl.concat([rustdl.ones(2, 3), rustdl.zeros(1, 3)]).shape) == (3, 3)
    rustdl.set_printoptions(precision=2, sci_mode=False)
    assert repr(rustdl.tensor([1e-6, 1.0])) == "tensor([0.00, 1.00])"
    rustdl.set_printoptions(profile="default")


def test_torch_namespace_programs_run_through_the_compat_runner(tmp_path):

    script = tmp_path / "prog.py"
    script.write_text(
        "import json, torch, torch.nn.functional as F\n"
        "x = torch.arange(12.).reshape(1, 2, 6)\n"
        "w = torch.ones(1, 2, 3)\n"
        "y = torch.conv1d(x, w, padding=1)\n"
        "A = torch.arange(6, dtype=torch.int32).reshape(2, 3)\n"
        "print(json.dumps({'conv': y.tolist(), 'same': bool(torch.equal(y, F.conv1d(x, w, padding=1))),\n"
        "  'sum0': A.sum(axis=0).tolist(), 'int32': str(A.dtype),\n"
        "  'mv': torch.mv(A.float(), torch.ones(3)).tolist(), 'div': torch.divide(A, 2).tolist(),\n"
        "  'shape': repr(A.shape), 'size': str(A.size()), 'numel': A.shape.numel(), 'dim1': A.size(1),\n"
        "  'is_size': isinstance(A.shape, torch.Size) and A.shape == (2, 3) and A.shape[1:] == torch.Size([3]),\n"
        "  'dtype': str(torch.ones(1).dtype), 'where': [t.tolist() for t in torch.where(A > 3)]}))\n"
    )
    proc = run_compat_file(script, env={"RUSTDL_NUM_THREADS": "1"}, timeout=120)
    out = compat_report(proc)
    xs = np.arange(12.0).reshape(2, 6)
    padded = np.pad(xs, ((0, 0), (1, 1)))
    ref = [sum(padded[c, i : i + 3].sum() for c in range(2)) for i in range(6)]
    np.testing.assert_allclose(out["conv"][0][0], ref)
    assert out["same"] and out["sum0"] == [3, 5, 7] and out["int32"] == "torch.int32"
    assert out["mv"] == [3.0, 12.0] and out["div"] == [[0, 0.5, 1], [1.5, 2, 2.5]]
    assert out["shape"] == out["size"] == "torch.Size([2, 3])" and out["numel"] == 6 and out["dim1"] == 3
    assert out["is_size"] and out["dtype"] == "torch.float32" and out["where"] == [[1, 1], [1, 2]]


# --- optimizer keywords PyTorch programs pass (nanoGPT: AdamW(..., fused=use_fused))


def test_optimizers_accept_foreach_fused_capturable():
    import rustdl.optim as optim

    for make in (
        lambda ps: optim.AdamW(ps, lr=0.1, betas=(0.9, 0.95), fused=False, foreach=None),
        lambda ps: optim.Adam(ps, lr=0.1, fused=True, capturable=False),
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, foreach=True, fused=None),
        lambda ps: optim.RMSprop(ps, lr=0.1, capturable=False, foreach=None),
        lambda ps: optim.Adagrad(ps, lr=0.1, foreach=None, fused=None),
    ):
        w = rustdl.tensor([1.0, -2.0], requires_grad=True)
        opt = make([w])
        (w * w).sum().backward()
        opt.step()
        assert np.all(np.abs(_np(w)) < [1.0, 2.0])  # a step toward the minimum at 0
    with pytest.raises(NotImplementedError, match="differentiable"):
        optim.Adam([rustdl.zeros(2, requires_grad=True)], differentiable=True)
    # AdamW with fused=... gives the same update as without
    a = rustdl.tensor([1.0, -2.0], requires_grad=True)
    b = rustdl.tensor([1.0, -2.0], requires_grad=True)
    oa, ob = optim.AdamW([a], lr=0.1, fused=True), optim.AdamW([b], lr=0.1)
    for t, o in ((a, oa), (b, ob)):
        (t * t).sum().backward()
        o.step()
    np.testing.assert_array_equal(_np(a), _np(b))


# --- LSTM(proj_size=...)


def _np_lstm_proj(x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr, reverse=False):
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    outs = [None] * len(x)
    for t in reversed(range(len(x))) if reverse else range(len(x)):
        g = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, gg, o = np.split(g, 4, axis=-1)
        c = sig(f) * c + sig(i) * np.tanh(gg)
        h = (sig(o) * np.tanh(c)) @ w_hr.T
        outs[t] = h
    return np.stack(outs), h, c


def test_lstm_proj_size_matches_numpy_reference():
    rustdl.manual_seed(0)
    m = nn.LSTM(5, 8, proj_size=3, bidirectional=True, batch_first=True, dtype=rustdl.float64)
    names = [n for n, _ in m.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"]
    assert tuple(m.weight_hh_l0.shape) == (32, 3) and tuple(m.weight_hr_l0_reverse.shape) == (3, 8)
    x = np.random.RandomState(1).randn(2, 4, 5)
    h0 = np.random.RandomState(2).randn(2, 2, 3)
    c0 = np.random.RandomState(3).randn(2, 2, 8)
    out, (h, c) = m(rustdl.tensor(x), (rustdl.tensor(h0), rustdl.tensor(c0)))
    assert tuple(out.shape) == (2, 4, 6) and tuple(h.shape) == (2, 2, 3) and tuple(c.shape) == (2, 2, 8)
    p = {n: _np(v) for n, v in m.named_parameters()}
    xs = x.transpose(1, 0, 2)
    for d, sfx in enumerate(("_l0", "_l0_reverse")):
        ref_out, ref_h, ref_c = _np_lstm_proj(
            xs,
            h0[d],
            c0[d],
            *(p[k + sfx] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")),
            d == 1,
        )
        np.testing.assert_allclose(_np(out)[:, :, 3 * d : 3 * d + 3], ref_out.transpose(1, 0, 2), atol=1e-12)
        np.testing.assert_allclose(_np(h)[d], ref_h, atol=1e-12)
        np.testing.assert_allclose(_np(c)[d], ref_c, atol=1e-12)
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(5, 8, proj_size=8)


def test_lstm_proj_size_gradients_and_packed_input():
    rustdl.manual_seed(1)
    m = nn.LSTM(3, 5, num_layers=2, proj_size=2, dtype=rustdl.float64)
    x = rustdl.randn(4, 2, 3, dtype=rustdl.float64)
    w = m.weight_hr_l1
    out, (h, c) = m(x)
    (out.pow(2).sum() + c.sum()).backward()
    g = _np(w.grad).copy()
    eps = 1e-6
    for idx in ((0, 0), (1, 3)):
        with rustdl.no_grad():
            w[idx] += eps
            o1, (_, c1) = m(x)
            f1 = (o1.pow(2).sum() + c1.sum()).item()
            w[idx] -= 2 * eps
            o2, (_, c2) = m(x)
            f2 = (o2.pow(2).sum() + c2.sum()).item()
            w[idx] += eps
        assert g[idx] == pytest.approx((f1 - f2) / (2 * eps), rel=1e-5, abs=1e-8)
    # a packed batch gives each sequence what it gets alone
    from rustdl.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    xs = rustdl.randn(5, 3, 3, dtype=rustdl.float64)
    packed = pack_padded_sequence(xs, rustdl.tensor([5, 2, 4]), enforce_sorted=False)
    pout, (ph, pc) = m(packed)
    padded, _ = pad_packed_sequence(pout)
    for b, n in enumerate((5, 2, 4)):
        alone, (ah, ac) = m(xs[:n, b : b + 1])
        np.testing.assert_allclose(_np(padded)[:n, b], _np(alone)[:, 0], atol=1e-12)
        np.testing.assert_allclose(_np(padded)[n:, b], 0.0)
        np.testing.assert_allclose(_np(ph)[:, b], _np(ah)[:, 0], atol=1e-12)


# --- printing as PyTorch prints (tutorial output compared by eye)


def test_tensor_repr_matches_pytorch_layout():
    assert repr(rustdl.tensor([0.1, 0.5, 2.0])) == "tensor([0.1000, 0.5000, 2.0000])"
    assert repr(rustdl.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(rustdl.tensor([1e-5, 0.5, 2.0])) == "tensor([1.0000e-05, 5.0000e-01, 2.0000e+00])"
    assert repr(rustdl.tensor([[1.5, -2.25], [3.0, 400.0]])) == (
        "tensor([[  1.5000,  -2.2500],\n        [  3.0000, 400.0000]])"
    )
    assert repr(rustdl.tensor([float("nan"), 1.5, float("inf")])) == "tensor([   nan, 1.5000,    inf])"
    assert repr(rustdl.tensor([True, True])) == "tensor([True, True])"
    assert repr(rustdl.tensor([True, False])) == "tensor([ True, False])"
    assert repr(rustdl.tensor(2.5)) == "tensor(2.5000)"


def test_empty_list_gives_a_float32_tensor():
    t = rustdl.tensor([])
    assert t.dtype == rustdl.float32 and tuple(t.shape) == (0,)
    assert rustdl.tensor([[], []]).dtype == rustdl.float32
    assert rustdl.tensor([True]).dtype == rustdl.bool
    assert "dtype=rustdl.float64" in repr(rustdl.tensor([0.5], dtype=rustdl.float64))


# --- torchvision shim: the augmentations of a CIFAR-style pipeline, before and after ToTensor


def test_torchvision_shim_random_augmentations_on_images_and_tensors():
    from rustdl.torchcompat.torchvision import transforms as T

    img = (np.arange(8 * 6 * 3) % 256).astype(np.uint8).reshape(8, 6, 3)  # (H, W, C) like a PIL image
    flipped = T.RandomHorizontalFlip(p=1.0)(img)
    assert flipped.dtype == np.uint8 and flipped.shape == img.shape
    np.testing.assert_array_equal(flipped, img[:, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(img[..., 0]), img[::-1, :, 0])  # gray (H, W)
    crop = T.RandomCrop(4)(img)
    assert crop.shape == (4, 4, 3)
    # the crop is a window of the image: find it
    found = any(np.array_equal(crop, img[i : i + 4, j : j + 4]) for i in range(5) for j in range(3))
    assert found
    padded = T.RandomCrop(8, padding=2)(rustdl.tensor(img.transpose(2, 0, 1).astype(np.float32)))
    assert tuple(padded.shape) == (3, 8, 8)
    pipeline = T.Compose(
        [
            T.RandomCrop(6, padding=1),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize((0.5,) * 3, (0.5,) * 3),
        ]
    )
    out = pipeline(img)
    assert tuple(out.shape) == (3, 6, 6) and out.dtype == rustdl.float32 and float(out.abs().max()) <= 1.0
    pil = T.ToPILImage()(rustdl.tensor(img.transpose(2, 0, 1) / 255.0, dtype=rustdl.float32))
    np.testing.assert_array_equal(np.asarray(pil), img)


def test_torchvision_shim_models_beyond_resnet18(tmp_path, monkeypatch):
    import rustdl.hub
    from rustdl.torchcompat.torchvision import models

    def offline(url, dst, *args, **kwargs):
        raise RuntimeError(f"offline: {url}")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(rustdl.hub, "download_url_to_file", offline)

    # the big ones are only looked up (vgg11 alone holds 133M parameters); googlenet is built
    names = set(models.list_models())
    assert {"resnet50", "vgg11", "vgg16_bn", "alexnet", "googlenet"} <= names
    assert all(callable(getattr(models, n)) for n in names)
    m = models.googlenet(weights=None, num_classes=3, aux_logits=False, init_weights=False)
    assert tuple(m.fc.weight.shape) == (3, 1024) and "conv1.conv.weight" in m.state_dict()
    # published weights come through the hub (here offline: the download's error reaches the caller)
    with pytest.raises(RuntimeError, match="vgg16-397923af.pth"):
        models.vgg16(weights="IMAGENET1K_V1")


# --- in-place random fills and copies; SyncBatchNorm


def test_inplace_random_fills_have_their_distributions():
    rustdl.manual_seed(0)
    t = rustdl.zeros(20000, dtype=rustdl.float64)
    t.random_(3, 7)
    assert set(np.unique(_np(t))) == {3.0, 4.0, 5.0, 6.0}
    assert t.random_(5).max().item() <= 4 and t.min().item() >= 0
    assert abs(t.exponential_(2.0).mean().item() - 0.5) < 0.02
    g = t.geometric_(0.25)
    assert g.min().item() == 1 and abs(g.mean().item() - 4.0) < 0.1  # mean 1/p
    ln = t.log_normal_(0.5, 0.25).log()
    assert abs(ln.mean().item() - 0.5) < 0.01 and abs(ln.std().item() - 0.25) < 0.01
    c = _np(t.cauchy_(1.0, 2.0))
    assert abs(np.median(c) - 1.0) < 0.1 and abs(np.percentile(c, 75) - 3.0) < 0.2  # quartiles at ±sigma


def test_index_copy_masked_scatter_frac_addmm_inplace():
    x = rustdl.zeros(3, 4)
    x.index_copy_(1, rustdl.tensor([3, 0]), rustdl.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(_np(x), [[1, 0, 0, 0], [3, 0, 0, 2], [5, 0, 0, 4]])
    y = rustdl.zeros(2, 3).masked_scatter(rustdl.tensor([True, False, True]), rustdl.arange(1.0, 7.0))
    np.testing.assert_array_equal(_np(y), [[1, 0, 2], [3, 0, 4]])  # mask broadcast over rows
    z = rustdl.tensor([1.5, -2.25])
    assert z.frac_().tolist() == [0.5, -0.25]
    a = rustdl.ones(2, 2)
    a.addmm_(rustdl.eye(2), rustdl.full((2, 2), 3.0), beta=2)
    np.testing.assert_array_equal(_np(a), np.full((2, 2), 5.0))


def test_sync_batchnorm_converts_and_normalizes():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.BatchNorm1d(2)))
    m[1].running_mean.fill_(0.5)
    w = m[1].weight
    m = nn.SyncBatchNorm.convert_sync_batchnorm(m)
    assert type(m[1]).__name__ == "SyncBatchNorm" and type(m[2][0]).__name__ == "SyncBatchNorm"
    assert m[1].weight is w and m[1].running_mean.tolist() == [0.5] * 4
    x = rustdl.randn(8, 4, 5, 5, dtype=rustdl.float64) * 3 + 1
    bn = nn.SyncBatchNorm(4, dtype=rustdl.float64)
    out = _np(bn(x))
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-10)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-3)


def test_tensor_of_a_gpu_tensor_stays_on_the_gpu(gpu):
    # the neural-style tutorial: torch.tensor(cuda_mean).view(-1, 1, 1)
    g = rustdl.tensor([0.5, 0.25], device=gpu)
    c = rustdl.tensor(g)
    assert c.device.type == "gpu" and c.tolist() == [0.5, 0.25]
    assert rustdl.tensor(g, device="cpu").device.type == "cpu"
    assert rustdl.tensor(rustdl.ones(2)).device.type == "cpu"


def test_functional_forms_take_out():
    a = rustdl.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = rustdl.zeros(2, 2)
    res = rustdl.matmul(a, a.T, out=out)
    assert res is out
    np.testing.assert_array_equal(_np(out), _np(a) @ _np(a).T)
    e = rustdl.empty(2, 2)
    rustdl.exp(a, out=e)
    np.testing.assert_allclose(_np(e), np.exp(_np(a)), rtol=1e-6)
    vals, idx = rustdl.zeros(2), rustdl.zeros(2, dtype=rustdl.int64)
    rustdl.max(a, 1, out=(vals, idx))
    assert vals.tolist() == [2.0, 4.0] and idx.tolist() == [1, 1]
    # a mis-shaped out= is resized to the result, as PyTorch (warning when it held elements)
    with pytest.warns(UserWarning, match="was resized"):
        r = rustdl.exp(a, out=rustdl.zeros(3))
    assert tuple(r.shape) == (2, 2)
    np.testing.assert_allclose(_np(r), np.exp(_np(a)), rtol=1e-6)
    with pytest.raises(rustdl.DTypeError, match="can't be cast"):
        rustdl.exp(a, out=rustdl.zeros(2, 2, dtype=rustdl.int64))


def test_backends_cuda_switches_and_cuda_memory_probes():
    from rustdl import backends, cuda

    backends.cuda.matmul.allow_tf32 = True  # nanoGPT's first lines
    assert backends.cuda.matmul.allow_tf32 is True and backends.cuda.is_built()
    backends.cuda.enable_flash_sdp(False)
    assert not backends.cuda.flash_sdp_enabled()
    with backends.cuda.sdp_kernel(enable_flash=True, enable_math=False):
        assert backends.cuda.flash_sdp_enabled() and not backends.cuda.math_sdp_enabled()
    assert not backends.cuda.flash_sdp_enabled() and backends.cuda.math_sdp_enabled()
    backends.cuda.enable_flash_sdp(True)
    assert cuda.max_memory_allocated() == cuda.memory_allocated() >= 0
    assert cuda.memory_reserved() >= 0 and cuda.get_device_capability() == (0, 0)
    cuda.reset_peak_memory_stats()


def test_pointwise_losses_broadcast_with_a_warning():
    out = rustdl.tensor([[1.0], [2.0], [4.0]], requires_grad=True)  # (N, 1) output
    target = rustdl.tensor([1.0, 2.0, 3.0])  # (N,) target: PyTorch broadcasts to (N, N)
    with pytest.warns(UserWarning, match="broadcasting"):
        loss = F.mse_loss(out, target)
    ref = ((np.array([[1.0], [2.0], [4.0]]) - np.array([1.0, 2.0, 3.0])) ** 2).mean()
    assert loss.item() == pytest.approx(ref)
    loss.backward()
    o, t = np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(_np(out.grad)[:, 0], (2 * (o[:, None] - t[None, :])).sum(1) / 9, rtol=1e-6)
    with pytest.warns(UserWarning):
        assert F.l1_loss(rustdl.ones(2, 3), rustdl.zeros(3)).item() == 1.0
    with pytest.raises(ValueError, match="same shape"):
        F.mse_loss(rustdl.ones(2, 3), rustdl.ones(2, 4))
