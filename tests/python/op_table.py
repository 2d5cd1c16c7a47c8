"""The per-op table behind test_op_table.py: each elementwise, activation and reduction op once.

An `OpInfo` says how to call the op in rustdl, its numpy reference, and how to draw inputs that
cover every branch: a range that straddles each kink, with points kept a margin away from it so
that central finite differences never step across.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable

import numpy as np
import rustdl
import rustdl.nn.functional as F

Sampler = Callable[[np.random.Generator], list]

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _erfinv_scalar(y: float) -> float:
    """erf⁻¹ by bisection on math.erf, or on math.erfc = 1 - |y| in the tails (independent of
    rustdl's Halley iteration)."""
    a = abs(y)
    if a >= 1.0 or a != a:
        return math.copysign(math.inf, y) if a == 1.0 else math.nan
    below = (lambda x: math.erf(x) < a) if a < 0.5 else (lambda x: math.erfc(x) > 1.0 - a)
    lo, hi = 0.0, 6.0
    while hi - lo > 1e-17 * max(hi, 1e-300) and lo < 0.5 * (lo + hi) < hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if below(mid) else (lo, mid)
    return math.copysign(0.5 * (lo + hi), y)


_erfinv = np.vectorize(_erfinv_scalar, otypes=[np.float64])


def away(a: np.ndarray, kinks: Sequence[float], margin: float) -> np.ndarray:
    """Moves every value closer than `margin` to a kink out to exactly `margin` on its own side."""
    a = np.array(a, dtype=np.float64)
    for k in kinks:
        near = np.abs(a - k) < margin
        side = np.where(a[near] >= k, 1.0, -1.0)
        a[near] = k + side * margin
    return a


def uniform(shape, lo, hi, kinks=(), margin=0.05) -> Sampler:
    """Uniform values in [lo, hi), kept `margin` away from `kinks`, with both sides of each present."""
    for k in kinks:
        assert lo < k - margin and k + margin < hi, f"range ({lo}, {hi}) does not straddle kink {k}"

    def draw(rng):
        a = away(rng.uniform(lo, hi, size=shape), kinks, margin)
        for k in kinks:
            assert (a < k).any() and (a > k).any(), f"sample misses a side of kink {k}"
        return a

    return draw


def inputs(*samplers: Sampler) -> Sampler:
    return lambda rng: [s(rng) for s in samplers]


def distinct(shape, lo=-2.0, hi=2.0) -> Sampler:
    """A permutation of evenly spaced values: no ties, so max/min/sort have one answer and a gap."""
    n = int(np.prod(shape))
    return lambda rng: rng.permutation(np.linspace(lo, hi, n)).reshape(shape)


def apart(shape, gap=0.1) -> Sampler:
    """A pair (x, y) with |x - y| >= gap everywhere and both orders present: maximum/minimum kinks."""

    def draw(rng):
        x = rng.uniform(-2, 2, size=shape)
        d = rng.uniform(gap, 1.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
        d.flat[0], d.flat[1] = gap, -gap
        return [x, x + d]

    return draw


def with_ties(shape) -> Sampler:
    """A pair (x, y) where about a third of the entries are equal and the rest differ both ways."""

    def draw(rng):
        x = np.round(rng.uniform(-2, 2, size=shape), 1)
        y = np.where(rng.uniform(size=shape) < 0.35, x, np.round(rng.uniform(-2, 2, size=shape), 1))
        y.flat[0], y.flat[1], y.flat[2] = x.flat[0], x.flat[1] + 0.5, x.flat[2] - 0.5
        return [x, y]

    return draw


def ints(shape, lo, hi) -> Sampler:
    return lambda rng: [rng.integers(lo, hi, size=shape)]


def int_pair(sa, sb, lo=-5, hi=6) -> Sampler:
    return lambda rng: [rng.integers(lo, hi, size=sa), rng.integers(lo, hi, size=sb)]


@dataclass(frozen=True)
class OpInfo:
    """One op: rustdl call, numpy reference, inputs, and what is checked.

    Args:
        name: the test id.
        fn: calls rustdl on tensors.
        ref: the same on numpy float64 arrays.
        sample: draws the numpy inputs (a list, one array per tensor argument).
        grad: whether backward is checked (finite differences on the CPU, CPU parity on the GPU).
        dtypes: float dtypes checked on the CPU; the GPU runs float32 only.
        gpu: whether the op runs on the GPU.
        exact: the output is bool or integer and must match exactly.
        int_input: the inputs are int64, not a float dtype.
        rtol32/atol32: forward tolerances in float32 (float64 uses rtol 1e-9, atol 1e-10 unless
            `rtol64` says otherwise).
    """

    name: str
    fn: Callable
    ref: Callable
    sample: Sampler
    grad: bool = True
    dtypes: tuple = (rustdl.float32, rustdl.float64)
    gpu: bool = True
    exact: bool = False
    int_input: bool = False
    rtol32: float = 1e-5
    atol32: float = 1e-6
    rtol64: float = 1e-9
    atol64: float = 1e-10


S = (3, 4)
KINK0 = {"kinks": (0.0,)}


def unary(name, fn, ref, lo, hi, **kw) -> OpInfo:
    sample_kw = {k: kw.pop(k) for k in ("kinks", "margin") if k in kw}
    return OpInfo(name, fn, ref, inputs(uniform(S, lo, hi, **sample_kw)), **kw)


def binary(name, fn, ref, a=(-2, 2), b=(-2, 2), b_kinks=(), shapes=(S, S), **kw) -> OpInfo:
    sample = inputs(uniform(shapes[0], *a), uniform(shapes[1], *b, kinks=b_kinks, margin=0.3))
    return OpInfo(name, fn, ref, sample, **kw)


def exact(name, fn, ref, sample, **kw) -> OpInfo:
    """An op with a bool or integer result, no gradient, compared exactly."""
    return OpInfo(name, fn, ref, sample, grad=False, exact=True, **kw)


def _softplus_ref(beta, threshold):
    return lambda a: np.where(beta * a > threshold, a, np.log1p(np.exp(beta * a)) / beta)


def _elu_ref(alpha):
    return lambda a: np.where(a > 0, a, alpha * np.expm1(a))


def _softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _logsumexp(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return np.squeeze(m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True)), axis=axis)


def _one_hot(a, n):
    return (a[..., None] == np.arange(n)).astype(np.int64)


R = (3, 4, 5)  # reductions


def signs(rng) -> list:
    """Rows that are all positive, all negative and mixed: both answers of all() and any()."""
    return [np.array([[1.0, 2, 3], [-1, 2, 3], [-1, -2, -3], [0.5, -0.5, 1]])]


def steps(rng) -> list:
    """Both sides of every integer and half-integer in (-3, 3), 0.15 or more from each: the jumps
    of floor/ceil/trunc and the ties of round."""
    return [(np.arange(-2.75, 2.8, 0.5) + rng.uniform(-0.1, 0.1, size=12)).reshape(S)]


OPS: list[OpInfo] = [
    # elementwise, one input
    unary("neg", lambda x: -x, np.negative, -2, 2),
    unary("abs", lambda x: x.abs(), np.abs, -2, 2, **KINK0),
    unary("exp", lambda x: x.exp(), np.exp, -2, 2),
    unary("log", lambda x: x.log(), np.log, 0.2, 3),
    unary("sqrt", lambda x: x.sqrt(), np.sqrt, 0.2, 3),
    unary("rsqrt", lambda x: x.rsqrt(), lambda a: 1 / np.sqrt(a), 0.2, 3),
    unary("sin", lambda x: x.sin(), np.sin, -3, 3),
    unary("cos", lambda x: x.cos(), np.cos, -3, 3),
    unary("tanh", lambda x: x.tanh(), np.tanh, -3, 3),
    unary("sigmoid", lambda x: x.sigmoid(), lambda a: 1 / (1 + np.exp(-a)), -4, 4),
    unary("relu", lambda x: x.relu(), lambda a: np.maximum(a, 0), -2, 2, **KINK0),
    unary("gelu", F.gelu, lambda a: 0.5 * a * (1 + _erf(a / math.sqrt(2))), -3, 3),
    unary("silu", F.silu, lambda a: a / (1 + np.exp(-a)), -3, 3),
    unary("elu", lambda x: F.elu(x, 1.5), _elu_ref(1.5), -2, 2, **KINK0),
    unary(
        "leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda a: np.where(a > 0, a, 0.2 * a), -2, 2, **KINK0
    ),
    unary("softplus", F.softplus, _softplus_ref(1.0, 20.0), -3, 3),
    # beta * x crosses the threshold at x = 1.5, where softplus switches to the identity
    unary(
        "softplus_threshold",
        lambda x: F.softplus(x, beta=2.0, threshold=3.0),
        _softplus_ref(2.0, 3.0),
        -2,
        3,
        kinks=(1.5,),
    ),
    unary("clamp", lambda x: x.clamp(-0.5, 0.8), lambda a: np.clip(a, -0.5, 0.8), -2, 2, kinks=(-0.5, 0.8)),
    unary("clamp_min", lambda x: x.clamp(min=0.3), lambda a: np.maximum(a, 0.3), -2, 2, kinks=(0.3,)),
    unary("clamp_max", lambda x: x.clamp(max=-0.3), lambda a: np.minimum(a, -0.3), -2, 2, kinks=(-0.3,)),
    unary("sign", lambda x: x.sign(), np.sign, -2, 2, **KINK0),
    unary("reciprocal", lambda x: x.reciprocal(), np.reciprocal, -3, 3, kinks=(0.0,), margin=0.3),
    unary("square", lambda x: x.square(), np.square, -2, 2),
    unary("log1p", lambda x: x.log1p(), np.log1p, -0.5, 2),
    unary("expm1", lambda x: x.expm1(), np.expm1, -2, 2),
    unary("erf", lambda x: x.erf(), _erf, -2.5, 2.5),
    unary("logsigmoid", F.logsigmoid, lambda a: -np.logaddexp(0.0, -a), -30, 30),
    unary("erfinv", lambda x: x.erfinv(), _erfinv, -0.97, 0.97, rtol32=2e-5),
    OpInfo("floor", lambda x: x.floor(), np.floor, steps, grad=False),
    OpInfo("ceil", lambda x: x.ceil(), np.ceil, steps, grad=False),
    OpInfo("round", lambda x: x.round(), np.round, steps, grad=False),
    OpInfo("trunc", lambda x: x.trunc(), np.trunc, steps, grad=False),
    # exact halves: round to even, as numpy and PyTorch do
    OpInfo(
        "round_half_even",
        lambda x: x.round(),
        np.round,
        lambda rng: [np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, -3.5])],
        grad=False,
    ),
    unary("pow_int", lambda x: x**3, lambda a: a**3, -2, 2),
    unary("pow_frac", lambda x: x**2.5, lambda a: a**2.5, 0.2, 3),
    unary("rpow", lambda x: 2.0**x, lambda a: 2.0**a, -2, 2),
    unary("add_scalar", lambda x: x + 2.5, lambda a: a + 2.5, -2, 2),
    unary("rsub_scalar", lambda x: 3 - x, lambda a: 3 - a, -2, 2),
    unary("mul_scalar", lambda x: x * -1.5, lambda a: a * -1.5, -2, 2),
    unary("rdiv_scalar", lambda x: 2 / x, lambda a: 2 / a, -3, 3, kinks=(0.0,), margin=0.3),
    # elementwise, two inputs (the second with broadcasting where shapes differ)
    binary("add", lambda x, y: x + y, np.add),
    binary("sub", lambda x, y: x - y, np.subtract, shapes=((2, 3, 4), (3, 1))),
    binary("mul", lambda x, y: x * y, np.multiply, shapes=(S, (4,))),
    binary("div", lambda x, y: x / y, np.divide, b_kinks=(0.0,)),
    binary("pow", lambda x, y: x**y, np.power, a=(0.2, 3)),
    OpInfo("maximum", rustdl.maximum, np.maximum, apart(S)),
    OpInfo("minimum", rustdl.minimum, np.minimum, apart(S)),
    OpInfo(
        "where",
        lambda x, y: rustdl.where(x > 0, x, y),
        lambda a, b: np.where(a > 0, a, b),
        inputs(uniform(S, -2, 2, **KINK0), uniform(S, -2, 2)),
    ),
    # comparisons on operands that differ both ways and tie
    exact("eq", lambda x, y: x == y, np.equal, with_ties(S)),
    exact("ne", lambda x, y: x != y, np.not_equal, with_ties(S)),
    exact("lt", lambda x, y: x < y, np.less, with_ties(S)),
    exact("le", lambda x, y: x <= y, np.less_equal, with_ties(S)),
    exact("gt", lambda x, y: x > y, np.greater, with_ties(S)),
    exact("ge", lambda x, y: x >= y, np.greater_equal, with_ties(S)),
    # reductions
    OpInfo("sum", lambda x: x.sum(), np.sum, inputs(uniform(R, -2, 2))),
    OpInfo("sum_dim", lambda x: x.sum(dim=1), lambda a: a.sum(axis=1), inputs(uniform(R, -2, 2))),
    OpInfo(
        "sum_keepdim",
        lambda x: x.sum(dim=(0, 2), keepdim=True),
        lambda a: a.sum(axis=(0, 2), keepdims=True),
        inputs(uniform(R, -2, 2)),
    ),
    OpInfo("mean", lambda x: x.mean(), np.mean, inputs(uniform(R, -2, 2))),
    OpInfo("mean_dim", lambda x: x.mean(dim=-1), lambda a: a.mean(axis=-1), inputs(uniform(R, -2, 2))),
    OpInfo("max", lambda x: x.max(), np.max, inputs(distinct(R))),
    OpInfo("max_dim", lambda x: x.max(dim=1).values, lambda a: a.max(axis=1), inputs(distinct(R))),
    OpInfo("min", lambda x: x.min(), np.min, inputs(distinct(R))),
    OpInfo("min_dim", lambda x: x.min(dim=2).values, lambda a: a.min(axis=2), inputs(distinct(R))),
    OpInfo("amax", lambda x: x.amax(dim=0), lambda a: a.max(axis=0), inputs(distinct(R))),
    exact(
        "argmax",
        lambda x: x.argmax(dim=1),
        lambda a: a.argmax(axis=1),
        inputs(distinct(R)),
    ),
    exact(
        "argmin",
        lambda x: x.argmin(dim=2),
        lambda a: a.argmin(axis=2),
        inputs(distinct(R)),
    ),
    # both signs, none near zero (where the product's gradient changes form)
    OpInfo(
        "prod", lambda x: x.prod(dim=1), lambda a: a.prod(axis=1), inputs(uniform(R, -1.5, 1.5, (0.0,), 0.3))
    ),
    OpInfo("var", lambda x: x.var(dim=1), lambda a: a.var(axis=1, ddof=1), inputs(uniform(R, -2, 2))),
    OpInfo("var_all", lambda x: x.var(), lambda a: a.var(ddof=1), inputs(uniform(R, -2, 2))),
    OpInfo(
        "std_biased",
        lambda x: x.std(dim=2, correction=0),
        lambda a: a.std(axis=2),
        inputs(uniform(R, -2, 2)),
    ),
    OpInfo("logsumexp", lambda x: x.logsumexp(dim=1), lambda a: _logsumexp(a, 1), inputs(uniform(R, -3, 3))),
    OpInfo("softmax", lambda x: F.softmax(x, dim=-1), lambda a: _softmax(a, -1), inputs(uniform(R, -3, 3))),
    OpInfo(
        "log_softmax",
        lambda x: F.log_softmax(x, dim=1),
        lambda a: np.log(_softmax(a, 1)),
        inputs(uniform(R, -3, 3)),
    ),
    # int64 in, int64 out
    exact("neg_int64", lambda x: -x, np.negative, ints(S, -5, 6), int_input=True),
    exact("abs_int64", lambda x: x.abs(), np.abs, ints(S, -5, 6), int_input=True),
    exact("add_int64", lambda x, y: x + y, np.add, int_pair(S, (4,)), int_input=True),
    exact("mul_int64", lambda x, y: x * y, np.multiply, int_pair(S, S), int_input=True),
    exact("maximum_int64", rustdl.maximum, np.maximum, int_pair(S, S), int_input=True),
    exact("sum_int64", lambda x: x.sum(dim=1), lambda a: a.sum(axis=1), ints(R, -5, 6), int_input=True),
    exact("eq_int64", lambda x, y: x == y, np.equal, int_pair(S, S, -2, 3), int_input=True),
    # boolean reductions and masks
    exact(
        "all",
        lambda x: (x > 0).all(dim=1),
        lambda a: (a > 0).all(axis=1),
        signs,
    ),
    exact(
        "any",
        lambda x: (x > 0).any(dim=1),
        lambda a: (a > 0).any(axis=1),
        signs,
    ),
    exact(
        "all_full",
        lambda x: (x > -2.5).all(),
        lambda a: (a > -2.5).all(),
        inputs(uniform(S, -2, 2)),
    ),
    exact(
        "any_full",
        lambda x: (x > 2.5).any(),
        lambda a: (a > 2.5).any(),
        inputs(uniform(S, -2, 2)),
    ),
    OpInfo(
        "masked_select",
        lambda x, m: x.masked_select(m > 0),
        lambda a, m: a[m > 0],
        inputs(uniform(S, -2, 2), uniform(S, -1, 1, **KINK0)),
    ),
    exact(
        "one_hot",
        lambda i: F.one_hot(i, 6),
        lambda a: _one_hot(a, 6),
        ints((3, 4), 0, 6),
        int_input=True,
    ),
]
