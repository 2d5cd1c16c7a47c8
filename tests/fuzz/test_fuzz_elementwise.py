"""Elementwise unary / binary (with broadcasting) / comparison ops against numpy."""

import numpy as np
import pytest
from fuzzlib import (
    CONFIG_IDS,
    CONFIGS,
    broadcast_pair,
    check_result,
    farrays,
    iarrays,
    need,
    ref64,
    run,
    shapes,
    tols,
    views,
)
from hypothesis import given
from hypothesis import strategies as st

UNARY = {
    "abs": np.abs,
    "neg": np.negative,
    "exp": np.exp,
    "log": np.log,
    "log1p": np.log1p,
    "sqrt": np.sqrt,
    "rsqrt": lambda x: 1.0 / np.sqrt(x),
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "relu": lambda x: np.where(np.isnan(x), x, np.maximum(x, 0.0)),
    "square": np.square,
    "sign": lambda x: np.where(np.isnan(x), 0.0, np.sign(x)),  # PyTorch: sign(nan) is 0 (numpy: nan)
    "floor": np.floor,
    "reciprocal": lambda x: 1.0 / x,
}


@pytest.mark.parametrize("dev,dtype", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("op", sorted(UNARY))
@given(data=st.data())
def test_unary(op, dev, dtype, data):
    need(dev)
    shape = data.draw(shapes())
    bounded = dev == "gpu" and op in ("sin", "cos")  # GPU trig is only specified on a bounded range
    a = data.draw(
        farrays(dtype, shape, lo=-30, hi=30, specials=not bounded, dev=dev)
        if not bounded
        else farrays(dtype, shape, lo=-30, hi=30, specials=False)
    )
    view = data.draw(views(a.ndim))
    form = data.draw(st.sampled_from(["method", "function"]))
    code = f"out = T(a, {view!r}).{op}()" if form == "method" else f"out = rd.{op}(T(a, {view!r}))"
    if op == "neg" and form == "function":
        code = f"out = -T(a, {view!r})"
    case, res = run(code, {"a": a}, dev)
    rtol, atol = tols(dev, dtype, 5.0 if op in ("sigmoid", "tanh", "exp", "log1p") else 1.0)
    check_result(case, res, ref64(UNARY[op], a, out_dtype=dtype), rtol, atol)


@pytest.mark.parametrize("dev,dtype", CONFIGS, ids=CONFIG_IDS)
@given(data=st.data())
def test_clamp(dev, dtype, data):
    need(dev)
    a = data.draw(farrays(dtype, data.draw(shapes()), dev=dev))
    lo = data.draw(st.none() | st.floats(-5, 5))
    hi = data.draw(st.none() | st.floats(-5, 5))
    if lo is None and hi is None:
        lo = 0.0
    view = data.draw(views(a.ndim))
    case, res = run(f"out = T(a, {view!r}).clamp({lo!r}, {hi!r})", {"a": a}, dev)

    def ref(x):
        y = x if lo is None else np.where(np.isnan(x), x, np.maximum(x, lo))
        return y if hi is None else np.where(np.isnan(y), y, np.minimum(y, hi))

    check_result(case, res, ref64(ref, a, out_dtype=dtype), *tols(dev, dtype))


BINARY = {
    "add": (np.add, "+"),
    "sub": (np.subtract, "-"),
    "mul": (np.multiply, "*"),
    "div": (np.divide, "/"),
    "pow": (np.power, "**"),
    "maximum": (np.maximum, None),
    "minimum": (np.minimum, None),
}


@pytest.mark.parametrize("dev,dtype", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("op", sorted(BINARY))
@given(data=st.data())
def test_binary_broadcast(op, dev, dtype, data):
    need(dev)
    sa, sb = data.draw(broadcast_pair(max_dims=4))
    out_shape = np.broadcast_shapes(sa, sb)
    lo = 0.1 if op == "pow" and data.draw(st.booleans()) else -10.0
    a = data.draw(farrays(dtype, sa, lo=lo, hi=4.0 if op == "pow" else 10.0, dev=dev))
    b = data.draw(
        farrays(dtype, sb, lo=-4.0 if op == "pow" else -10.0, hi=4.0 if op == "pow" else 10.0, dev=dev)
    )
    if op == "pow" and data.draw(st.booleans()):
        b = np.round(b)  # integer exponents of negative bases are well defined
    va, vb = data.draw(views(a.ndim)), data.draw(views(b.ndim))
    fn, sym = BINARY[op]
    form = data.draw(
        st.sampled_from(["method", "operator", "expand"] if sym else ["method", "function", "expand"])
    )
    if form == "method":
        code = f"out = T(a, {va!r}).{op}(T(b, {vb!r}))"
    elif form == "function":
        code = f"out = rd.{op}(T(a, {va!r}), T(b, {vb!r}))"
    elif form == "operator":
        code = f"out = T(a, {va!r}) {sym} T(b, {vb!r})"
    else:  # both operands as expanded (stride-0) views of the broadcast shape
        code = (
            f"out = T(a).expand(*{out_shape!r}).{op}(E(b, {out_shape!r}))"
            if a.ndim <= len(out_shape)
            else f"out = T(a).{op}(T(b))"
        )
    case, res = run(code, {"a": a, "b": b}, dev)
    rtol, atol = tols(dev, dtype, 10.0 if op == "pow" else 1.0)
    check_result(case, res, ref64(fn, a, b, out_dtype=dtype), rtol, atol)


@pytest.mark.parametrize("dev,dtype", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**", "r+", "r-", "r*", "r/", "r**"])
@given(data=st.data())
def test_binary_scalar(op, dev, dtype, data):
    need(dev)
    a = data.draw(farrays(dtype, data.draw(shapes()), lo=-5, hi=5, dev=dev))
    s = data.draw(
        st.sampled_from([0.0, -0.0, 1.0, 2.0, -1.5, 0.5, 3.0, float("nan"), float("inf")]) | st.floats(-5, 5)
    )
    if "**" in op and data.draw(st.booleans()):
        s = float(round(s)) if np.isfinite(s) else s
    sym = op.lstrip("r")
    code = f"out = T(a) {sym} ({s!r})" if not op.startswith("r") else f"out = ({s!r}) {sym} T(a)"
    code = code.replace("nan", "float('nan')").replace("inf", "float('inf')")
    fns = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power}
    f = fns[sym]
    # PyTorch casts a Python float operand to the tensor's dtype before the op (float32(0) / 1.1e-308 is NaN:
    # the scalar underflows to 0; 1e-300 * inf is NaN), except the exponent of `tensor ** scalar`, which
    # pow(Tensor, Scalar) keeps in double (float32(0) ** 1e-300 is 0, not 0 ** 0 = 1).
    with np.errstate(all="ignore"):
        sc = s if op == "**" else float(np.asarray(s, dtype=dtype))
    ref = (lambda x: f(x, sc)) if not op.startswith("r") else (lambda x: f(sc, x))
    case, res = run(code, {"a": a}, dev)
    check_result(case, res, ref64(ref, a, out_dtype=dtype), *tols(dev, dtype, 10.0))


CMP = {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}
CMP_SYM = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


@pytest.mark.parametrize(
    "dev,dtype", CONFIGS + [("cpu", "int64"), ("gpu", "int64")], ids=CONFIG_IDS + ["cpu-int64", "gpu-int64"]
)
@pytest.mark.parametrize("op", sorted(CMP))
@given(data=st.data())
def test_compare(op, dev, dtype, data):
    need(dev)
    sa, sb = data.draw(broadcast_pair())
    if dtype == "int64":
        a, b = data.draw(iarrays(sa, -3, 3)), data.draw(iarrays(sb, -3, 3))
    else:
        a = data.draw(farrays(dtype, sa, lo=-2, hi=2, dev=dev))
        b = data.draw(farrays(dtype, sb, lo=-2, hi=2, dev=dev))
        if a.size and b.size and data.draw(st.booleans()):
            b = np.broadcast_to(a.reshape(a.shape + (1,) * 0).flat[0], sb).copy()  # force some ties
    form = data.draw(st.sampled_from(["method", "operator", "scalar"]))
    if form == "method":
        code, ref = f"out = T(a).{op}(T(b))", CMP[op](a, b)
    elif form == "operator":
        code, ref = f"out = T(a) {CMP_SYM[op]} T(b)", CMP[op](a, b)
    else:
        s = 1 if dtype == "int64" else 0.5
        code, ref = f"out = T(a) {CMP_SYM[op]} {s!r}", CMP[op](a, s)
    case, res = run(code, {"a": a, "b": b}, dev)
    check_result(case, res, np.asarray(ref, dtype=bool))


INT_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "maximum": np.maximum,
    "minimum": np.minimum,
}


@pytest.mark.parametrize("dev", ["cpu", "gpu"])
@pytest.mark.parametrize("op", sorted(INT_BINARY) + ["div"])
@given(data=st.data())
def test_int64_binary(op, dev, data):
    """int64 arithmetic stays int64 (true division gives float32, as PyTorch's default dtype)."""
    need(dev)
    sa, sb = data.draw(broadcast_pair())
    a = data.draw(iarrays(sa, -1000, 1000))
    b = data.draw(iarrays(sb, 1, 1000))
    case, res = run(f"out = T(a).{op}(T(b))", {"a": a, "b": b}, dev)
    if op == "div":
        check_result(case, res, (a / b).astype(np.float32), *tols(dev, "float32"))
    else:
        check_result(case, res, INT_BINARY[op](a, b).astype(np.int64))


@pytest.mark.parametrize("dev", ["cpu"])
@given(data=st.data())
def test_mixed_dtype_promotion(dev, data):
    """float32 op float64 -> float64; int64 op float32 -> float32 (PyTorch's promotion)."""
    need(dev)
    shape = data.draw(shapes(max_dims=2, max_side=3))
    kinds = data.draw(st.sampled_from([("float32", "float64"), ("int64", "float32"), ("int64", "float64")]))
    arrs = []
    for k in kinds:
        arrs.append(
            data.draw(iarrays(shape, -5, 5)) if k == "int64" else data.draw(farrays(k, shape, specials=False))
        )
    op = data.draw(st.sampled_from(["+", "*", "-"]))
    case, res = run(f"out = T(a) {op} T(b)", {"a": arrs[0], "b": arrs[1]}, dev)
    out_dtype = "float64" if "float64" in kinds else "float32"
    f = {"+": np.add, "*": np.multiply, "-": np.subtract}[op]
    check_result(
        case, res, ref64(f, arrs[0].astype(np.float64), arrs[1], out_dtype=out_dtype), *tols(dev, "float32")
    )
