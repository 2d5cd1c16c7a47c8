"""nn.functional ops against numpy references (refs.py)."""

import numpy as np
import pytest
import refs
from fuzzlib import (
    CONFIG_IDS,
    CONFIGS,
    MIN_SIDE,
    check_result,
    farrays,
    iarrays,
    need,
    ref64,
    run,
    tols,
    views,
)
from hypothesis import assume, given
from hypothesis import strategies as st


def _pair(data, lo, hi):
    a = data.draw(st.integers(lo, hi))
    return (a, a) if data.draw(st.booleans()) else (a, data.draw(st.integers(lo, hi)))


def _txt(p):
    return repr(p[0]) if p[0] == p[1] else repr(tuple(p))


@pytest.mark.parametrize("dev,dtype", CONFIGS, ids=CONFIG_IDS)
@given(data=st.data())
def test_conv2d(dev, dtype, data):
    need(dev)
    g = data.draw(st.integers(1, 3))
    cg, og = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    N = data.draw(st.integers(MIN_SIDE if MIN_SIDE else 1, 3))
    k = _pair(data, 1, 4)
    s, p, d = _pair(data, 1, 3), _pair(data, 0, 2), _pair(data, 1, 2)
    H = data.draw(st.integers(max(1, d[0] * (k[0] - 1) + 1 - 2 * p[0]), 9))
    W = data.draw(st.integers(max(1, d[1] * (k[1] - 1) + 1 - 2 * p[1]), 9))
    x = data.draw(farrays(dtype, (N, g * cg, H, W), lo=-2, hi=2, specials=False))
    w = data.draw(farrays(dtype, (g * og, cg, k[0], k[1]), lo=-2, hi=2, specials=False))
    bias = data.draw(st.booleans())
    b = data.draw(farrays(dtype, (g * og,), specials=False)) if bias else None
    view = data.draw(views(4))
    code = (
        f"out = F.conv2d(T(x, {view!r}), T(w), {'T(b)' if bias else 'None'}, stride={_txt(s)}, padding={_txt(p)}, "
        f"dilation={_txt(d)}, groups={g})"
    )
    inputs = {"x": x, "w": w} | ({"b": b} if bias else {})
    case, res = run(code, inputs, dev)
    rtol, atol = tols(dev, dtype, 20.0 * cg * k[0] * k[1])
    check_result(
        case, res, ref64(lambda x, w: refs.conv2d(x, w, b, s, p, d, g), x, w, out_dtype=dtype), rtol, atol * 4
    )


@pytest.mark.parametrize("dev,dtype", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d", "avg_pool2d_nopad"])
@given(data=st.data())
def test_pool(op, dev, dtype, data):
    need(dev)
    k = _pair(data, 1, 4)
    s = _pair(data, 1, 3)
    p = (data.draw(st.integers(0, k[0] // 2)), data.draw(st.integers(0, k[1] // 2)))
    H = data.draw(st.integers(max(1, k[0] - 2 * p[0]), 9))
    W = data.draw(st.integers(max(1, k[1] - 2 * p[1]), 9))
    x = data.draw(
        farrays(
            dtype,
            (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3)), H, W),
            dev=dev,
            specials=op == "max_pool2d",
        )
    )
    view = data.draw(views(4))
    if op == "max_pool2d":
        code = f"out = F.max_pool2d(T(x, {view!r}), {_txt(k)}, stride={_txt(s)}, padding={_txt(p)})"
        ref = lambda x: refs.max_pool2d(x, k, s, p)  # noqa: E731
    else:
        cip = op == "avg_pool2d"
        code = f"out = F.avg_pool2d(T(x, {view!r}), {_txt(k)}, stride={_txt(s)}, padding={_txt(p)}, count_include_pad={cip})"
        ref = lambda x: refs.avg_pool2d(x, k, s, p, cip)  # noqa: E731
    case, res = run(code, {"x": x}, dev)
    check_result(case, res, ref64(ref, x, out_dtype=dtype), *tols(dev, dtype, 10.0))


@pytest.mark.parametrize("dev,dtype", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("op", ["adaptive_avg_pool2d", "nearest", "bilinear", "bilinear_ac"])
@given(data=st.data())
def test_resize(op, dev, dtype, data):
    need(dev)
    H, W = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 8))
    x = data.draw(
        farrays(dtype, (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3)), H, W), specials=False)
    )
    o = (data.draw(st.integers(1, 10)), data.draw(st.integers(1, 10)))
    view = data.draw(views(4))
    if op == "adaptive_avg_pool2d":
        code = f"out = F.adaptive_avg_pool2d(T(x, {view!r}), {_txt(o)})"
        ref = lambda x: refs.adaptive_avg_pool2d(x, o)  # noqa: E731
    else:
        mode = "nearest" if op == "nearest" else "bilinear"
        ac = op == "bilinear_ac"
        extra = f", align_corners={ac}" if mode == "bilinear" else ""
        if data.draw(st.booleans()) and mode == "nearest":
            sf = data.draw(st.integers(1, 3))
            o = (H * sf, W * sf)
            code = f"out = F.interpolate(T(x, {view!r}), scale_factor={sf}, mode={mode!r}{extra})"
        else:
            code = f"out = F.interpolate(T(x, {view!r}), size={_txt(o)}, mode={mode!r}{extra})"
        ref = lambda x: refs.interpolate(x, o, mode, ac)  # noqa: E731
    case, res = run(code, {"x": x}, dev)
    check_result(case, res, ref64(ref, x, out_dtype=dtype), *tols(dev, dtype, 10.0))


@pytest.mark.parametrize("dev,dtype", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("training", [True, False])
@given(data=st.data())
def test_batch_norm(training, dev, dtype, data):
    need(dev)
    C = data.draw(st.integers(1, 4))
    shape = (data.draw(st.integers(2, 4)), C) + tuple(data.draw(st.lists(st.integers(1, 4), max_size=2)))
    x = data.draw(farrays(dtype, shape, specials=False))
    rm = data.draw(farrays(dtype, (C,), specials=False))
    rv = data.draw(farrays(dtype, (C,), lo=0.1, hi=3, specials=False))
    w = data.draw(farrays(dtype, (C,), specials=False))
    b = data.draw(farrays(dtype, (C,), specials=False))
    code = (
        f"rm, rv = T(rm0), T(rv0)\ny = F.batch_norm(T(x), rm, rv, T(w), T(b), training={training}, momentum=0.1, "
        f"eps=1e-5)\nout = (y, rm, rv)"
    )
    case, res = run(code, {"x": x, "rm0": rm, "rv0": rv, "w": w, "b": b}, dev)
    exp = ref64(
        lambda x, rm, rv, w, b: refs.batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5),
        x,
        rm,
        rv,
        w,
        b,
        out_dtype=dtype,
    )
    check_result(case, res, exp, *tols(dev, dtype, 200.0))


@pytest.mark.parametrize("dev,dtype", CONFIGS, ids=CONFIG_IDS)
@given(data=st.data())
def test_layer_norm(dev, dtype, data):
    need(dev)
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
    k = data.draw(st.integers(1, len(shape)))
    x = data.draw(farrays(dtype, shape, specials=False))
    affine = data.draw(st.booleans())
    ns = shape[len(shape) - k :]
    w = data.draw(farrays(dtype, ns, specials=False))
    b = data.draw(farrays(dtype, ns, specials=False))
    code = f"out = F.layer_norm(T(x, {data.draw(views(len(shape)))!r}), {ns!r}" + (
        ", T(w), T(b))" if affine else ")"
    )
    case, res = run(code, {"x": x, "w": w, "b": b}, dev)
    exp = ref64(
        lambda x, w, b: refs.layer_norm(x, k, w if affine else None, b, 1e-5), x, w, b, out_dtype=dtype
    )
    check_result(case, res, exp, *tols(dev, dtype, 200.0))


@pytest.mark.parametrize("dev,dtype", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=st.data())
def test_losses(reduction, dev, dtype, data):
    need(dev)
    N, C = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    if data.draw(st.booleans()):
        x = data.draw(farrays(dtype, (N, C), lo=-20, hi=20, specials=False))
        t = data.draw(iarrays((N,), 0, C - 1))
        weighted = data.draw(st.booleans())
        wt = data.draw(farrays(dtype, (C,), lo=0.1, hi=2, specials=False))
        code = (
            f"out = F.cross_entropy(T(x), T(t), {'T(wt)' if weighted else 'None'}, reduction={reduction!r})"
        )
        exp = ref64(
            lambda x, wt: refs.cross_entropy(x, t, wt if weighted else None, reduction),
            x,
            wt,
            out_dtype=dtype,
        )
        inputs = {"x": x, "t": t, "wt": wt}
    else:
        shape = (N, C)
        x = data.draw(farrays(dtype, shape, specials=False))
        y = data.draw(farrays(dtype, shape, specials=False))
        code = f"out = F.mse_loss(T(x, {data.draw(views(2))!r}), T(y), reduction={reduction!r})"
        exp = ref64(lambda x, y: refs.mse(x, y, reduction), x, y, out_dtype=dtype)
        inputs = {"x": x, "y": y}
    case, res = run(code, inputs, dev)
    check_result(case, res, exp, *tols(dev, dtype, 50.0))


@pytest.mark.parametrize("dev", ["cpu", "gpu"])
@pytest.mark.parametrize("op", ["relu", "clamp", "maximum", "max_pool2d", "max"])
@given(data=st.data())
def test_nan_propagates(op, dev, data):
    """PyTorch's NaN semantics: max/min/relu/clamp/pools propagate NaN."""
    need(dev)
    x = data.draw(farrays("float32", (1, 1, 3, 3), dev=dev, specials=False))
    pos = data.draw(st.tuples(st.integers(0, 2), st.integers(0, 2)))
    x[0, 0, pos[0], pos[1]] = np.nan
    code = {
        "relu": "out = F.relu(T(x))",
        "clamp": "out = T(x).clamp(-1.0, 1.0)",
        "maximum": "out = T(x).maximum(T(x) * 0)",
        "max_pool2d": "out = F.max_pool2d(T(x), 3, stride=1, padding=1)",
        "max": "out = T(x).max()",
    }[op]
    case, res = run(code, {"x": x}, dev)
    if res[0] == "ok" and res[1][0] == "tensor":
        got = np.asarray(res[1][1])
        assume(True)
        if op == "max" and not np.isnan(got).all():
            raise AssertionError(f"{op}: NaN did not propagate: {got}\n{code}")
        if op == "max_pool2d" and not np.isnan(got).any():
            raise AssertionError(f"{op}: NaN did not propagate: {got}\n{code}")
        if op in ("relu", "clamp", "maximum") and not np.isnan(got.reshape(3, 3)[pos]):
            raise AssertionError(f"{op}: NaN at {pos} did not propagate: {got}\n{code}")
    else:
        check_result(case, res, np.zeros(0))
