"""Reductions over random dims (with keepdim) and matmul (1-D, 2-D, batched with broadcasting) against numpy."""

import numpy as np
import pytest
from fuzzlib import (
    CONFIG_IDS,
    CONFIGS,
    MIN_SIDE,
    RefError,
    check_result,
    expect_error,
    farrays,
    need,
    ref64,
    run,
    shapes,
    tols,
    views,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def _nan_first_argmax(x, axis, sign):
    """PyTorch's argmax/argmin: the first NaN if any, else the first extreme value."""
    y = x if sign > 0 else -x
    idx = np.argmax(np.where(np.isnan(y), np.inf, y), axis=axis)
    has_nan = np.isnan(x).any(axis=axis)
    first_nan = np.argmax(np.isnan(x), axis=axis)
    return np.where(has_nan, first_nan, idx)


def _lse(x, axis, keepdims):
    if x.shape[axis] == 0:
        return np.full(np.sum(x, axis=axis, keepdims=keepdims).shape, -np.inf)
    m = np.max(x, axis=axis, keepdims=True)
    ms = np.where(np.isinf(m), 0.0, m)
    r = np.log(np.sum(np.exp(x - ms), axis=axis, keepdims=True)) + ms
    return r if keepdims else np.squeeze(r, axis=axis)


def _softmax(x, axis, log=False):
    if x.size == 0:
        return x
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    s = np.sum(e, axis=axis, keepdims=True)
    return (x - m - np.log(s)) if log else e / s


REDUCE = [
    "sum",
    "mean",
    "var",
    "std",
    "max",
    "min",
    "argmax",
    "argmin",
    "norm",
    "logsumexp",
    "softmax",
    "log_softmax",
]
ONLY_NONFINITE = {"sum", "mean", "var", "std", "norm", "logsumexp", "softmax", "log_softmax"}


@pytest.mark.parametrize("dev,dtype", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("op", REDUCE)
@given(data=st.data())
def test_reduction(op, dev, dtype, data):
    need(dev)
    shape = data.draw(shapes(max_dims=4, max_side=6))
    a = data.draw(farrays(dtype, shape, lo=-3, hi=3, dev=dev, specials=True))
    if op in ONLY_NONFINITE:  # huge finite values make the summation order matter: keep only nan/inf
        a = np.where(np.isfinite(a) & (np.abs(a) > 3), np.float32(1.5), a).astype(dtype)
    if op in ("softmax", "log_softmax"):
        a = np.where(np.isinf(a), np.float32(0.5), a).astype(dtype)
    nd = a.ndim
    view = data.draw(views(nd))
    dim_choices = [None] + list(range(-max(nd, 1), max(nd, 1)))
    if op in ("logsumexp", "softmax", "log_softmax"):
        dim_choices = dim_choices[1:]
    dim = data.draw(st.sampled_from(dim_choices))
    keepdim = data.draw(st.booleans()) if dim is not None and op not in ("softmax", "log_softmax") else False
    if op in ("sum", "mean") and nd >= 2 and data.draw(st.booleans()):
        dim = tuple(sorted(data.draw(st.sets(st.integers(0, nd - 1), min_size=1, max_size=nd))))
    extra = ""
    p = 2.0
    if op == "norm":
        p = data.draw(st.sampled_from([1.0, 2.0, 3.0]))
        extra = f"p={p!r}, "
    args = f"{extra}dim={dim!r}" + (f", keepdim={keepdim}" if keepdim else "")
    if op in ("softmax", "log_softmax", "logsumexp"):
        args = f"{dim!r}" + (f", keepdim={keepdim}" if keepdim else "")
    if op in ("max", "min", "argmax", "argmin") and dim is None:
        args = ""
    code = f"out = T(a, {view!r}).{op}({args})"
    case, res = run(code, {"a": a}, dev)

    axis = dim if not (nd == 0 and isinstance(dim, int)) else None
    x = a.astype(np.float64)
    with np.errstate(all="ignore"):
        try:
            if op == "sum":
                exp = np.sum(x, axis=axis, keepdims=keepdim and nd > 0).astype(dtype)
            elif op == "mean":
                exp = np.mean(x, axis=axis, keepdims=keepdim and nd > 0).astype(dtype)
            elif op in ("var", "std"):
                v = np.var(x, axis=axis, ddof=1, keepdims=keepdim and nd > 0)
                n = x.size if axis is None else int(np.prod([x.shape[d] for d in np.atleast_1d(axis)]))
                if n <= 1:
                    v = np.full(np.shape(v), np.nan)
                exp = (v if op == "var" else np.sqrt(v)).astype(dtype)
            elif op == "norm":
                exp = (np.sum(np.abs(x) ** p, axis=axis, keepdims=keepdim and nd > 0) ** (1 / p)).astype(
                    dtype
                )
            elif op in ("max", "min", "argmax", "argmin"):
                # PyTorch refuses only a full reduction of an empty tensor or one over a zero-size dim;
                # over a non-empty dim of an empty tensor it returns empty values/indices
                if (dim is None and x.size == 0) or (axis is not None and nd > 0 and x.shape[axis] == 0):
                    raise RefError
                sign = 1 if op in ("max", "argmax") else -1
                if dim is None:
                    if op in ("argmax", "argmin"):
                        exp = np.asarray(_nan_first_argmax(x.ravel(), 0, sign), dtype=np.int64)
                    else:
                        exp = np.asarray((np.max if sign > 0 else np.min)(x)).astype(dtype)
                else:
                    xx = x if nd > 0 else x.reshape(1)
                    ax = axis if nd > 0 else 0
                    vals = (np.max if sign > 0 else np.min)(xx, axis=ax, keepdims=keepdim)
                    idx = _nan_first_argmax(xx, ax, sign)
                    if keepdim:
                        idx = np.expand_dims(idx, ax)
                    if nd == 0:
                        vals, idx = vals.reshape(()), np.asarray(idx).reshape(())
                    exp = (
                        np.asarray(idx, dtype=np.int64)
                        if op.startswith("arg")
                        else [vals.astype(dtype), np.asarray(idx, dtype=np.int64)]
                    )
            elif op == "logsumexp":
                xx = x if nd > 0 else x.reshape(1)
                exp = _lse(xx, axis if nd > 0 else 0, keepdim and nd > 0)
                exp = (
                    np.asarray(exp)
                    .reshape(np.sum(x, axis=axis, keepdims=keepdim and nd > 0).shape)
                    .astype(dtype)
                )
            else:
                xx = x if nd > 0 else x.reshape(1)
                exp = (
                    _softmax(xx, axis if nd > 0 else 0, log=op == "log_softmax")
                    .reshape(x.shape)
                    .astype(dtype)
                )
        except RefError:
            expect_error(case, res)
            return
    n = max(a.size, 1)
    rtol, atol = tols(dev, dtype, 10.0 + n / 10)
    check_result(case, res, exp, rtol, atol)


@st.composite
def matmul_shapes(draw):
    kind = draw(st.sampled_from(["1x1", "2x1", "1x2", "2x2", "bxb", "bx1", "1xb"]))
    big = draw(st.integers(0, 4)) == 0
    side = st.integers(MIN_SIDE, 70) if big else st.integers(MIN_SIDE, 6)
    n, k, m = draw(side), draw(side), draw(side)
    bshapes = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=2, min_side=MIN_SIDE, max_side=3)
    )
    ba, bb = bshapes.input_shapes
    sa = {"1": (k,), "2": (n, k), "b": tuple(ba) + (n, k)}[kind[0]]
    sb = {"1": (k,), "2": (k, m), "b": tuple(bb) + (k, m)}[kind[2]]
    return kind, sa, sb


@pytest.mark.parametrize("dev,dtype", CONFIGS, ids=CONFIG_IDS)
@given(data=st.data())
def test_matmul(dev, dtype, data):
    need(dev)
    kind, sa, sb = data.draw(matmul_shapes())
    a = data.draw(farrays(dtype, sa, lo=-2, hi=2, specials=False))
    b = data.draw(farrays(dtype, sb, lo=-2, hi=2, specials=False))
    va, vb = data.draw(views(a.ndim)), data.draw(views(b.ndim))
    forms = ["@", "matmul", "rd.matmul"]
    if kind == "2x2":
        forms.append("mm")
    if kind == "bxb" and len(sa) == 3 and len(sb) == 3 and sa[0] == sb[0]:
        forms.append("bmm")
    form = data.draw(st.sampled_from(forms))
    A, B = f"T(a, {va!r})", f"T(b, {vb!r})"
    code = {"@": f"out = {A} @ {B}", "rd.matmul": f"out = rd.matmul({A}, {B})"}.get(
        form, f"out = {A}.{form}({B})"
    )
    case, res = run(code, {"a": a, "b": b}, dev)
    k = sa[-1]
    rtol, atol = tols(dev, dtype, 10.0)
    check_result(case, res, ref64(np.matmul, a, b, out_dtype=dtype), rtol, atol * 4 * (k + 1) * 10)
