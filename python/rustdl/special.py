"""Special functions, as ``torch.special`` (importable as ``torch.special`` under the compat
runner). Each is a rustdl op or a composition of them, differentiable where PyTorch's is.

Example:
    >>> from rustdl import special
    >>> special.ndtr(rustdl.tensor([0.0]))
    tensor([0.5000])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _rustdl as _rd
from ._breadth_g import _erfc_np, _i1_np, erfc, i0
from ._rustdl import Tensor
from ._tensor_api import (
    _back,
    _elem_np,
    _float,
    _hurwitz_zeta_np,
    _np_of,
    digamma,
    get_default_dtype,
    lgamma,
    logit,
    polygamma,
    xlogy,
)
from .autograd import Function

__all__ = [
    "chebyshev_polynomial_t",
    "chebyshev_polynomial_u",
    "chebyshev_polynomial_v",
    "chebyshev_polynomial_w",
    "hermite_polynomial_h",
    "hermite_polynomial_he",
    "laguerre_polynomial_l",
    "legendre_polynomial_p",
    "modified_bessel_i0",
    "modified_bessel_i1",
    "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u",
    "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w",
    "spherical_bessel_j0",
    "digamma",
    "entr",
    "erf",
    "erfc",
    "erfcx",
    "erfinv",
    "exp2",
    "expit",
    "expm1",
    "gammainc",
    "gammaincc",
    "gammaln",
    "i0",
    "i0e",
    "i1",
    "i1e",
    "log1p",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "multigammaln",
    "ndtr",
    "ndtri",
    "polygamma",
    "psi",
    "round",
    "sinc",
    "softmax",
    "xlog1py",
    "xlogy",
    "zeta",
]

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)

gammaln = lgamma
psi = digamma


def _t(op: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"special.{op}: argument 'input' must be a Tensor, got {type(x).__name__}")
    return x


def erf(input: Tensor) -> Tensor:  # noqa: A002
    """Error function."""
    return _t("erf", input).erf()


def erfinv(input: Tensor) -> Tensor:  # noqa: A002
    """Inverse error function on (-1, 1)."""
    return _t("erfinv", input).erfinv()


def expit(input: Tensor) -> Tensor:  # noqa: A002
    """Logistic sigmoid ``1 / (1 + exp(-x))``."""
    return _t("expit", input).sigmoid()


def exp2(input: Tensor) -> Tensor:  # noqa: A002
    """``2 ** x``."""
    return _t("exp2", input).exp2()


def expm1(input: Tensor) -> Tensor:  # noqa: A002
    """``exp(x) - 1``, accurate near 0."""
    return _t("expm1", input).expm1()


def log1p(input: Tensor) -> Tensor:  # noqa: A002
    """``log(1 + x)``, accurate near 0."""
    return _t("log1p", input).log1p()


def sinc(input: Tensor) -> Tensor:  # noqa: A002
    """Normalised sinc ``sin(πx) / (πx)`` (1 at 0)."""
    return _t("sinc", input).sinc()


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001,A002
    """Round half to even, to ``decimals`` places."""
    return _t("round", input).round(decimals=decimals)


def softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """Softmax along ``dim`` (computed in ``dtype`` when given)."""
    return _t("softmax", input).softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """Log-softmax along ``dim`` (computed in ``dtype`` when given)."""
    return _t("log_softmax", input).log_softmax(dim, dtype=dtype)


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:  # noqa: A002
    """``log(sum(exp(x)))`` over ``dim`` without overflow."""
    return _t("logsumexp", input).logsumexp(dim, keepdim=keepdim)


def xlog1py(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``input * log1p(other)``, 0 where ``input`` is 0 (NaN ``other`` still gives NaN)."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("special.xlog1py: one of 'input' or 'other' must be a Tensor")
    like = input if isinstance(input, Tensor) else other
    like = like if like.is_floating_point() else like.to(get_default_dtype())
    x = input if isinstance(input, Tensor) else like.new_full(tuple(like.shape), float(input))
    y = other if isinstance(other, Tensor) else like.new_full(tuple(like.shape), float(other))
    x, y = _float("xlog1py", x), _float("xlog1py", y)
    safe_y = _rd.where(x.eq(0), y.new_zeros(()), y)
    out = _rd.where(x.eq(0), x * 0, x * safe_y.log1p())
    return _rd.where(y.isnan(), y, out)


def ndtr(input: Tensor) -> Tensor:  # noqa: A002
    """Standard normal CDF ``(1 + erf(x / √2)) / 2``, accurate in the lower tail."""
    x = _float("ndtr", _t("ndtr", input))
    return erfc(-x / _SQRT2) * 0.5


def ndtri(input: Tensor) -> Tensor:  # noqa: A002
    """Inverse of :func:`ndtr` on [0, 1] (``±inf`` at the ends)."""
    p = _float("ndtri", _t("ndtri", input))
    return (p * 2 - 1).erfinv() * _SQRT2


def _log_ndtr_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    far = x < -20
    near = ~far
    with np.errstate(divide="ignore"):
        xn = x[near]
        # upper tail: log1p of the small complement keeps its (tiny, negative) value
        out[near] = np.where(
            xn > 0, np.log1p(-0.5 * _erfc_np(np.abs(xn) / _SQRT2)), np.log(0.5 * _erfc_np(-xn / _SQRT2))
        )
    z = x[far]
    iz2 = 1.0 / (z * z)
    # asymptotic series of the Mills ratio, far in the lower tail
    out[far] = -0.5 * z * z - np.log(-z) - _LOG_SQRT_2PI + np.log1p(-iz2 * (1 - 3 * iz2 * (1 - 5 * iz2)))
    return out


def log_ndtr(input: Tensor) -> Tensor:  # noqa: A002
    """``log(ndtr(x))``, accurate far into the lower tail (gradient: pdf / cdf)."""
    return _elem_np(
        "log_ndtr",
        _t("log_ndtr", input),
        _log_ndtr_np,
        lambda t: (-0.5 * t * t - log_ndtr(t) - _LOG_SQRT_2PI).exp(),
    )


def _erfcx_np(x: np.ndarray) -> np.ndarray:
    """``exp(x²) erfc(x)``: the product where it is finite (``x ≤ 26``; ``inf`` far below 0),
    the asymptotic series ``(1 − 1/(2x²) + 3/(4x⁴) − 15/(8x⁶) + ...) / (x √π)`` above."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    far = x > 26
    near = ~far
    with np.errstate(over="ignore", invalid="ignore"):
        xn = x[near]
        out[near] = np.exp(xn * xn) * _erfc_np(xn)
        out[near & (x < -26.7)] = np.inf
    z = x[far]
    iz2 = 1.0 / (z * z)
    series = 1 - iz2 * (0.5 - iz2 * (0.75 - iz2 * (1.875 - iz2 * (6.5625 - 29.53125 * iz2))))
    out[far] = series / (z * math.sqrt(math.pi))
    return np.where(np.isnan(x), x, out)


def erfcx(input: Tensor) -> Tensor:  # noqa: A002
    """The scaled complementary error function ``exp(x²) erfc(x)``, finite for large ``x``
    (gradient ``2x erfcx(x) − 2/√π``)."""
    return _elem_np(
        "erfcx", _t("erfcx", input), _erfcx_np, lambda t: 2 * t * erfcx(t) - 2 / math.sqrt(math.pi)
    )


def _entr_np(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x > 0, -x * np.log(np.where(x > 0, x, 1.0)), np.where(x == 0, 0.0, -np.inf))
    return np.where(np.isnan(x), x, out)


def entr(input: Tensor) -> Tensor:  # noqa: A002
    """Elementwise entropy ``-x log x`` (0 at 0, ``-inf`` below 0)."""
    return _elem_np("entr", _t("entr", input), _entr_np, lambda t: -(t.log() + 1))


_BESSEL_SWITCH = 50.0


def _bessel_scaled_asym(nu: int, x: np.ndarray) -> np.ndarray:
    """``I_nu(|x|) exp(-|x|)`` by its large-argument expansion (used for ``|x| > 50``)."""
    ax = np.abs(x)
    mu = 4.0 * nu * nu
    term = np.ones_like(ax)
    total = np.ones_like(ax)
    for k in range(1, 12):
        term = term * -(mu - (2 * k - 1) ** 2) / (k * 8.0 * ax)
        total = total + term
    return total / np.sqrt(2 * np.pi * ax)


def _i0e_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    small = np.abs(x) <= _BESSEL_SWITCH
    xs = np.where(small, x, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        far = _bessel_scaled_asym(0, np.where(small, _BESSEL_SWITCH * 2, x))
    return np.where(small, np.i0(xs) * np.exp(-np.abs(xs)), far)


def _i1e_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    small = np.abs(x) <= _BESSEL_SWITCH
    xs = np.where(small, x, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        far = np.sign(x) * _bessel_scaled_asym(1, np.where(small, _BESSEL_SWITCH * 2, x))
    return np.where(small, _i1_np(xs) * np.exp(-np.abs(xs)), far)


def _i1_full_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    small = np.abs(x) <= _BESSEL_SWITCH
    with np.errstate(over="ignore"):
        far = _i1e_np(np.where(small, _BESSEL_SWITCH * 2, x)) * np.exp(np.abs(x))
    return np.where(small, _i1_np(np.where(small, x, 1.0)), far)


def _at_zero(t: Tensor, value: float, expr) -> Tensor:
    safe = _rd.where(t.eq(0), t.new_ones(()), t)
    return _rd.where(t.eq(0), t * 0 + value, expr(safe))


def i1(input: Tensor) -> Tensor:  # noqa: A002
    """Modified Bessel function of the first kind, order 1 (gradient ``i0(x) - i1(x)/x``)."""
    return _elem_np(
        "i1", _t("i1", input), _i1_full_np, lambda t: _at_zero(t, 0.5, lambda s: i0(s) - i1(s) / s)
    )


def i0e(input: Tensor) -> Tensor:  # noqa: A002
    """Exponentially scaled ``i0(x) · exp(-|x|)``, finite for large ``|x|``."""
    return _elem_np("i0e", _t("i0e", input), _i0e_np, lambda t: i1e(t) - t.sign() * i0e(t))


def i1e(input: Tensor) -> Tensor:  # noqa: A002
    """Exponentially scaled ``i1(x) · exp(-|x|)``."""
    return _elem_np(
        "i1e",
        _t("i1e", input),
        _i1e_np,
        lambda t: _at_zero(t, 0.5, lambda s: i0e(s) - i1e(s) * (s.sign() + 1 / s)),
    )


def multigammaln(input: Tensor, p: int) -> Tensor:  # noqa: A002
    """Multivariate log-gamma ``p(p-1)/4 · log π + Σ_{j<p} lgamma(x - j/2)`` (defined for
    ``x > (p - 1)/2``; below, the lgamma terms give what they give, as PyTorch)."""
    x = _float("multigammaln", _t("multigammaln", input))
    if not isinstance(p, int) or p < 1:
        raise RuntimeError(f"special.multigammaln: p has to be greater than or equal to 1, got {p}")
    out = x * 0 + p * (p - 1) / 4 * math.log(math.pi)
    for j in range(p):
        out = out + lgamma(x - j / 2)
    return out


class _GammaInc(Function):
    """``P(a, x)`` (or ``Q``) elementwise; differentiable in ``x`` (``±x^(a−1) e^(−x) / Γ(a)``)."""

    @staticmethod
    def forward(ctx, a, x, upper):
        from .distributions.gamma_family import _like, _np_gammainc

        an = a.detach().cpu().numpy().astype(np.float64)
        xn = x.detach().cpu().numpy().astype(np.float64)
        ctx.save_for_backward(a, x)
        ctx.upper = upper
        return _like(_np_gammainc(an, xn, upper), x)

    @staticmethod
    def backward(ctx, g):
        from .distributions.gamma_family import lgamma

        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError(
                "gammainc: the derivative with respect to the first argument (a) is not implemented"
            )
        d = ((a - 1) * x.log() - x - lgamma(a)).exp()
        d = _rd.where(x > 0, d, _rd.zeros_like(d))
        return None, (-d if ctx.upper else d) * g, None


def _gammainc_args(op: str, input: Any, other: Any) -> tuple[Tensor, Tensor]:  # noqa: A002
    a = input if isinstance(input, Tensor) else _rd.tensor(input)
    x = other if isinstance(other, Tensor) else _rd.tensor(other)
    if not a.is_floating_point() and not x.is_floating_point():
        a, x = a.to(get_default_dtype()), x.to(get_default_dtype())
    dt = _rd.float64 if _rd.float64 in (a.dtype, x.dtype) else (a.dtype if a.is_floating_point() else x.dtype)
    return a.to(dt), x.to(dt)


def gammainc(input: Any, other: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """The regularized lower incomplete gamma function ``P(input, other)`` (``torch.igamma``);
    differentiable in ``other``."""
    import rustdl

    a, x = rustdl.broadcast_tensors(*_gammainc_args("gammainc", input, other))
    return _GammaInc.apply(a.contiguous(), x.contiguous(), False)


def gammaincc(input: Any, other: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """The regularized upper incomplete gamma function ``Q = 1 − P`` (``torch.igammac``)."""
    import rustdl

    a, x = rustdl.broadcast_tensors(*_gammainc_args("gammaincc", input, other))
    return _GammaInc.apply(a.contiguous(), x.contiguous(), True)


# ---------- orthogonal polynomials (values only, as PyTorch: no gradient) ----------


def _poly(op: str, input: Any, n: Any, start, step) -> Tensor:  # noqa: A002
    """``P_n(input)`` by its three-term recurrence, elementwise over broadcast ``input`` and
    ``n`` (a number or a tensor of integer values; negative ``n`` gives 0, as PyTorch).
    ``start(x)`` gives ``(P_0, P_1)``; ``step(x, k, p_k, p_km1)`` gives ``P_{k+1}``."""
    x_t = _t(op, input) if isinstance(input, Tensor) else _rd.tensor(input)
    n_arr = n.detach().cpu().numpy() if isinstance(n, Tensor) else np.asarray(n)
    x = x_t.detach().cpu().numpy().astype(np.float64)
    x, n_arr = np.broadcast_arrays(x, n_arr)
    if np.any(np.asarray(n_arr) != np.floor(n_arr)):
        raise ValueError(f"special.{op}: n must hold integer values")
    n_int = n_arr.astype(np.int64)
    p0, p1 = start(x)
    out = np.where(n_int == 0, p0, np.where(n_int == 1, p1, 0.0))
    top = int(n_int.max()) if n_int.size else 0
    prev, cur = p0, p1
    with np.errstate(all="ignore"):
        for k in range(1, top):
            prev, cur = cur, step(x, k, cur, prev)
            out = np.where(n_int == k + 1, cur, out)
    out = np.where(n_int < 0, 0.0, out)
    dtype = x_t.dtype if x_t.dtype.is_floating_point else get_default_dtype()
    res = _rd.tensor(np.ascontiguousarray(out), dtype=dtype)
    return res if x_t.device.type == "cpu" else res.to(x_t.device)


def _cheb(first):
    return lambda x: (np.ones_like(x), first(x)), lambda x, k, p, q: 2 * x * p - q


def chebyshev_polynomial_t(input: Any, n: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """Chebyshev polynomial of the first kind ``T_n(x)``."""
    return _poly("chebyshev_polynomial_t", input, n, *_cheb(lambda x: x))


def chebyshev_polynomial_u(input: Any, n: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """Chebyshev polynomial of the second kind ``U_n(x)``."""
    return _poly("chebyshev_polynomial_u", input, n, *_cheb(lambda x: 2 * x))


def chebyshev_polynomial_v(input: Any, n: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """Chebyshev polynomial of the third kind ``V_n(x)``."""
    return _poly("chebyshev_polynomial_v", input, n, *_cheb(lambda x: 2 * x - 1))


def chebyshev_polynomial_w(input: Any, n: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """Chebyshev polynomial of the fourth kind ``W_n(x)``."""
    return _poly("chebyshev_polynomial_w", input, n, *_cheb(lambda x: 2 * x + 1))


def _shifted(fn):
    def shifted(input: Any, n: Any, *, out: Any = None) -> Tensor:  # noqa: A002
        x = _t(fn.__name__, input) if isinstance(input, Tensor) else _rd.tensor(input)
        return fn(2 * x - 1, n)

    shifted.__name__ = "shifted_" + fn.__name__
    shifted.__doc__ = f"``{fn.__name__}`` at ``2x − 1`` (the polynomial shifted to [0, 1])."
    return shifted


shifted_chebyshev_polynomial_t = _shifted(chebyshev_polynomial_t)
shifted_chebyshev_polynomial_u = _shifted(chebyshev_polynomial_u)
shifted_chebyshev_polynomial_v = _shifted(chebyshev_polynomial_v)
shifted_chebyshev_polynomial_w = _shifted(chebyshev_polynomial_w)


def hermite_polynomial_h(input: Any, n: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """Physicists' Hermite polynomial ``H_n(x)``."""
    return _poly(
        "hermite_polynomial_h",
        input,
        n,
        lambda x: (np.ones_like(x), 2 * x),
        lambda x, k, p, q: 2 * x * p - 2 * k * q,
    )


def hermite_polynomial_he(input: Any, n: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """Probabilists' Hermite polynomial ``He_n(x)``."""
    return _poly(
        "hermite_polynomial_he", input, n, lambda x: (np.ones_like(x), x), lambda x, k, p, q: x * p - k * q
    )


def laguerre_polynomial_l(input: Any, n: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """Laguerre polynomial ``L_n(x)``."""
    return _poly(
        "laguerre_polynomial_l",
        input,
        n,
        lambda x: (np.ones_like(x), 1 - x),
        lambda x, k, p, q: ((2 * k + 1 - x) * p - k * q) / (k + 1),
    )


def legendre_polynomial_p(input: Any, n: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """Legendre polynomial ``P_n(x)``."""
    return _poly(
        "legendre_polynomial_p",
        input,
        n,
        lambda x: (np.ones_like(x), x),
        lambda x, k, p, q: ((2 * k + 1) * x * p - k * q) / (k + 1),
    )


def spherical_bessel_j0(input: Tensor, *, out: Any = None) -> Tensor:  # noqa: A002
    """Spherical Bessel function of the first kind, order 0: ``sin(x) / x`` (1 at 0)."""
    x = _t("spherical_bessel_j0", input)
    x = x if x.is_floating_point() else x.to(get_default_dtype())
    return _at_zero(x, 1.0, lambda s: s.sin() / s)


modified_bessel_i0 = i0
modified_bessel_i1 = i1


class _Zeta(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, q: Tensor) -> Tensor:
        ctx.save_for_backward(x, q)
        return _back(_hurwitz_zeta_np(_np_of(x), _np_of(q)), x, x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Any, Any]:
        x, q = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError(
                "zeta: the derivative with respect to the exponent x is not implemented"
            )
        gq = grad * (-x) * zeta(x + 1, q)
        return None, _sum_to(gq, tuple(q.shape))


def _sum_to(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    while g.dim() > len(shape):
        g = g.sum(0)
    for d, n in enumerate(shape):
        if n == 1 and g.shape[d] != 1:
            g = g.sum(d, keepdim=True)
    return g


def zeta(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Hurwitz zeta function ``sum_{k>=0} (other + k)^(-input)`` (the Riemann zeta at
    ``other = 1``), broadcast; either argument may be a number. ``inf`` at ``input = 1`` and at
    the poles ``other = 0, -1, ...``, NaN for ``input < 1``. Differentiable in ``other``
    (``-input * zeta(input + 1, other)``), as PyTorch."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("zeta: at least one argument must be a Tensor")
    like = input if isinstance(input, Tensor) else other
    dtype = like.dtype if like.is_floating_point() else get_default_dtype()
    x = input if isinstance(input, Tensor) else _rd.tensor(float(input), dtype=dtype, device=like.device)
    q = other if isinstance(other, Tensor) else _rd.tensor(float(other), dtype=dtype, device=like.device)
    if not x.is_floating_point():
        x = x.to(dtype)
    if not q.is_floating_point():
        q = q.to(dtype)
    try:
        shape = tuple(np.broadcast_shapes(tuple(x.shape), tuple(q.shape)))
    except ValueError:
        raise ValueError(f"zeta: shapes {tuple(x.shape)} and {tuple(q.shape)} do not broadcast") from None
    x = x.expand(*shape) if tuple(x.shape) != shape else x
    return _Zeta.apply(x, q)
