"""Gradients (float64, CPU) against central finite differences of the numpy references."""

import numpy as np
import pytest
import refs
from fuzzlib import check_result, farrays, iarrays, numgrad, run, shapes
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def _sm(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# name -> (number of inputs, rustdl expression over X0, X1..., numpy reference, input range)
OPS = {
    "exp": (1, "X0.exp()", np.exp, (-2, 2)),
    "tanh": (1, "X0.tanh()", np.tanh, (-2, 2)),
    "sigmoid": (1, "X0.sigmoid()", lambda x: 1 / (1 + np.exp(-x)), (-3, 3)),
    "sin": (1, "X0.sin()", np.sin, (-3, 3)),
    "log": (1, "X0.log()", np.log, (0.5, 3)),
    "sqrt": (1, "X0.sqrt()", np.sqrt, (0.5, 3)),
    "rsqrt": (1, "X0.rsqrt()", lambda x: 1 / np.sqrt(x), (0.5, 3)),
    "reciprocal": (1, "X0.reciprocal()", lambda x: 1 / x, (0.5, 3)),
    "square": (1, "X0.square()", np.square, (-2, 2)),
    "add": (2, "X0 + X1", np.add, (-2, 2)),
    "sub": (2, "X0 - X1", np.subtract, (-2, 2)),
    "mul": (2, "X0 * X1", np.multiply, (-2, 2)),
    "div": (2, "X0 / X1", np.divide, (0.5, 2)),
    "pow": (2, "X0 ** X1", np.power, (0.5, 2)),
    "maximum": (2, "X0.maximum(X1)", np.maximum, (-2, 2)),
    "sum_dim": (1, "X0.sum(dim=-1, keepdim=True)", lambda x: x.sum(-1, keepdims=True), (-2, 2)),
    "mean": (1, "X0.mean(0)", lambda x: x.mean(0), (-2, 2)),
    "var": (1, "X0.var(-1)", lambda x: x.var(-1, ddof=1), (-2, 2)),
    "std": (1, "X0.std()", lambda x: x.std(ddof=1), (-2, 2)),
    "norm": (1, "X0.norm()", lambda x: np.sqrt((x * x).sum()), (0.5, 2)),
    "softmax": (1, "X0.softmax(-1)", lambda x: _sm(x, -1), (-2, 2)),
    "log_softmax": (1, "X0.log_softmax(0)", lambda x: np.log(_sm(x, 0)), (-2, 2)),
    "logsumexp": (1, "X0.logsumexp(-1)", lambda x: np.log(np.exp(x).sum(-1)), (-2, 2)),
    "max_dim": (1, "X0.max(-1)[0]", lambda x: x.max(-1), (-2, 2)),
    "permute_expand": (
        1,
        "X0.transpose(-1, -2).unsqueeze(0).expand(2, *([-1] * X0.ndim)) * 1.5",
        lambda x: np.broadcast_to(np.swapaxes(x, -1, -2)[None], (2,) + np.swapaxes(x, -1, -2).shape) * 1.5,
        (-2, 2),
    ),
    "getitem": (1, "X0[..., ::2]", lambda x: x[..., ::2], (-2, 2)),
    "cat": (2, "rd.cat([X0, X1 * 2.0], -1)", lambda a, b: np.concatenate([a, b * 2.0], -1), (-2, 2)),
    "where_clamp": (1, "X0.clamp(-0.5, 0.5)", lambda x: np.clip(x, -0.5, 0.5), (-2, 2)),
}


@pytest.mark.parametrize("op", sorted(OPS))
@given(data=st.data())
def test_grad_elementwise_reduce(op, data):
    n, expr, ref, (lo, hi) = OPS[op]
    if n == 2 and op != "cat":
        bs = data.draw(
            hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, min_side=1, max_side=3)
        )
        shp = list(bs.input_shapes)
    else:
        s = data.draw(shapes(min_dims=2, max_dims=3, max_side=4, min_side=1))
        shp = [s] * n
    xs = [data.draw(farrays("float64", s, lo=lo, hi=hi, specials=False)) for s in shp]
    if op in ("maximum", "max_dim", "where_clamp"):  # keep away from kinks/ties
        xs = [x + np.arange(x.size).reshape(x.shape) * 1e-3 for x in xs]
        if op == "where_clamp":
            xs = [np.where(np.abs(np.abs(x) - 0.5) < 1e-3, 0.0, x) for x in xs]
        if op == "maximum" and np.any(np.abs(np.subtract(*xs)) < 1e-3):
            xs[1] = xs[1] + 0.01
    out_shape = np.shape(ref(*xs))
    W = data.draw(farrays("float64", out_shape, specials=False))
    names = {f"x{i}": x for i, x in enumerate(xs)}
    code = "\n".join(f"X{i} = T(x{i}, rg=True)" for i in range(n))
    code += (
        f"\ny = {expr}\n(y * T(W)).sum().backward()\nout = ["
        + ", ".join(f"X{i}.grad" for i in range(n))
        + "]"
    )
    case, res = run(code, {**names, "W": W}, "cpu")
    exp = [numgrad(lambda *a: float(np.sum(ref(*a) * W)), xs, i) for i in range(n)]
    check_result(case, res, exp, 1e-5, 1e-6)


@pytest.mark.parametrize(
    "op",
    [
        "matmul",
        "conv2d",
        "layer_norm",
        "cross_entropy",
        "mse",
        "gather",
        "max_pool2d",
        "avg_pool2d",
        "batch_norm",
        "interpolate",
    ],
)
@given(data=st.data())
def test_grad_nn(op, data):
    d = lambda lo, hi: data.draw(st.integers(lo, hi))  # noqa: E731
    f64 = lambda s, lo=-2, hi=2: data.draw(farrays("float64", s, lo=lo, hi=hi, specials=False))  # noqa: E731
    extra = {}
    if op == "matmul":
        k = d(1, 4)
        sa = data.draw(st.sampled_from([(k,), (d(1, 3), k), (d(1, 2), d(1, 3), k)]))
        sb = data.draw(st.sampled_from([(k,), (k, d(1, 3)), (d(1, 2), k, d(1, 3))]))
        xs = [f64(sa), f64(sb)]
        expr, ref = "X0 @ X1", np.matmul
    elif op == "conv2d":
        g = d(1, 2)
        s, p = d(1, 2), d(0, 1)
        xs = [f64((d(1, 2), g * d(1, 2), d(3, 5), d(3, 5))), f64((g * d(1, 2), 0, 2, 2))]
        xs[1] = f64((xs[1].shape[0], xs[0].shape[1] // g, d(1, 3), d(1, 3)))
        xs.append(f64((xs[1].shape[0],)))
        expr = f"F.conv2d(X0, X1, X2, stride={s}, padding={p}, groups={g})"
        ref = lambda x, w, b: refs.conv2d(x, w, b, (s, s), (p, p), (1, 1), g)  # noqa: E731
    elif op == "layer_norm":
        x = f64((d(1, 3), d(2, 4)))
        xs = [x, f64(x.shape[1:]), f64(x.shape[1:])]
        expr, ref = (
            f"F.layer_norm(X0, {x.shape[1:]!r}, X1, X2)",
            lambda x, w, b: refs.layer_norm(x, 1, w, b, 1e-5),
        )
    elif op == "cross_entropy":
        N, C = d(1, 4), d(2, 5)
        t = data.draw(iarrays((N,), 0, C - 1))
        extra["t"] = t
        xs = [f64((N, C))]
        expr, ref = "F.cross_entropy(X0, T(t))", lambda x: refs.cross_entropy(x, t, None, "mean")
    elif op == "mse":
        s = (d(1, 3), d(1, 3))
        xs = [f64(s), f64(s)]
        expr, ref = "F.mse_loss(X0, X1)", lambda a, b: refs.mse(a, b, "mean")
    elif op == "gather":
        x = f64((d(1, 3), d(1, 4)))
        idx = data.draw(iarrays((x.shape[0], d(1, 4)), 0, x.shape[1] - 1))
        extra["idx"] = idx
        xs = [x]
        expr, ref = "X0.gather(1, T(idx))", lambda x: np.take_along_axis(x, idx, 1)
    elif op in ("max_pool2d", "avg_pool2d"):
        k = d(1, 2)
        # a window of k + 1 must fit (PyTorch refuses an empty max_pool2d output: "Output size is too small")
        x = f64((1, d(1, 2), d(k + 1, 5), d(k + 1, 5)))
        x = x + np.arange(x.size).reshape(x.shape) * 1e-2  # distinct values: no ties at the max
        xs = [x]
        if op == "max_pool2d":
            expr, ref = (
                f"F.max_pool2d(X0, {k + 1}, stride={k})",
                lambda x: refs.max_pool2d(x, (k + 1,) * 2, (k,) * 2, (0, 0)),
            )
        else:
            expr, ref = (
                f"F.avg_pool2d(X0, {k + 1}, stride={k}, padding=1)",
                lambda x: refs.avg_pool2d(x, (k + 1,) * 2, (k,) * 2, (1, 1)),
            )
    elif op == "batch_norm":
        x = f64((d(2, 4), d(1, 3), d(1, 3)))
        # a channel of (near-)constant values has no usable central difference: the normalised
        # output is flat there and the reference's rounding (~1e-6) would be the whole "gradient"
        assume(x.var(axis=(0, 2)).min() > 1e-2)
        xs = [x, f64(x.shape[1:2]), f64(x.shape[1:2])]
        expr = "F.batch_norm(X0, None, None, X1, X2, training=True)"
        ref = lambda x, w, b: refs.batch_norm(x, None, None, w, b, True, 0.1, 1e-5)[0]  # noqa: E731
    else:
        x = f64((1, d(1, 2), d(1, 4), d(1, 4)))
        o = (d(1, 6), d(1, 6))
        ac = data.draw(st.booleans())
        xs = [x]
        expr = f"F.interpolate(X0, size={o!r}, mode='bilinear', align_corners={ac})"
        ref = lambda x: refs.interpolate(x, o, "bilinear", ac)  # noqa: E731
    n = len(xs)
    if op == "batch_norm":

        def ref_bn(x, w, b):
            axes = (0, 2)
            m = x.mean(axis=axes, keepdims=True)
            v = x.var(axis=axes, keepdims=True)
            return (x - m) / np.sqrt(v + 1e-5) * w.reshape(1, -1, 1) + b.reshape(1, -1, 1)

        ref = ref_bn
    W = f64(np.shape(ref(*xs)))
    code = "\n".join(f"X{i} = T(x{i}, rg=True)" for i in range(n))
    code += (
        f"\ny = {expr}\n(y * T(W)).sum().backward()\nout = ["
        + ", ".join(f"X{i}.grad" for i in range(n))
        + "]"
    )
    case, res = run(code, {**{f"x{i}": x for i, x in enumerate(xs)}, **extra, "W": W}, "cpu")
    exp = [numgrad(lambda *a: float(np.sum(ref(*a) * W)), xs, i) for i in range(n)]
    check_result(case, res, exp, 1e-5, 1e-6)
