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
    "airy_ai",
    "bessel_j0",
    "bessel_j1",
    "bessel_y0",
    "bessel_y1",
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
    "modified_bessel_k0",
    "modified_bessel_k1",
    "scaled_modified_bessel_k0",
    "scaled_modified_bessel_k1",
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


def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:  # noqa: A002
    """Softmax along ``dim`` (computed in ``dtype`` when given)."""
    return _t("softmax", input).softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:  # noqa: A002
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
    # as xlogy: x·log1p(y) itself where finite, so the gradient for x is log1p(y) also at x == 0
    bad = x.eq(0).logical_and(y.le(-1).logical_or(y.isinf()))
    out = x * _rd.where(bad, y.new_zeros(()), y).log1p()
    return _rd.where(y.isnan(), y, out)


def ndtr(input: Tensor) -> Tensor:  # noqa: A002
    """Standard normal CDF ``(1 + erf(x / √2)) / 2``, accurate in the lower tail."""
    x = _float("ndtr", _t("ndtr", input))
    return erfc(-x / _SQRT2) * 0.5


# P. J. Acklam's rational approximations of the normal quantile (relative error 1.15e-9),
# central region and tails; one Halley step on ndtr(x) = p then brings it to double precision.
_NDTRI_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
            -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
_NDTRI_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
            -1.328068155288572e01, 1.0)  # fmt: skip
_NDTRI_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
            4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
_NDTRI_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00, 1.0)


def _ndtri_np(p: np.ndarray) -> np.ndarray:
    """The standard normal quantile in float64, accurate in both tails (``p`` down to the
    smallest subnormal). The upper half is ``−ndtri(1 − p)`` (``1 − p`` is exact there); the
    rational first guess is refined by one Newton step on ``log ndtr(x) = log p``, which stays
    finite where the density underflows."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full_like(p, np.nan)
    valid = (p > 0) & (p < 1)
    pv = p[valid]
    upper = pv > 0.5
    s = np.where(upper, 1 - pv, pv)  # in (0, 0.5]
    x = np.empty_like(s)
    mid = s >= 0.02425
    q = s[mid] - 0.5
    r = q * q
    x[mid] = _polevl(r, _NDTRI_A) * q / _polevl(r, _NDTRI_B)
    t = np.sqrt(-2 * np.log(s[~mid]))
    x[~mid] = _polevl(t, _NDTRI_C) / _polevl(t, _NDTRI_D)
    log_cdf = _log_ndtr_np(x)
    x = x - (log_cdf - np.log(s)) / np.exp(-0.5 * x * x - _LOG_SQRT_2PI - log_cdf)
    out[valid] = np.where(upper, -x, x)
    out[p == 0] = -np.inf
    out[p == 1] = np.inf
    return out


def ndtri(input: Tensor) -> Tensor:  # noqa: A002
    """Inverse of :func:`ndtr` on [0, 1] (``±inf`` at the ends, NaN outside), accurate far into
    both tails; its gradient is ``√(2π) e^(x²/2)``."""
    x = _t("ndtri", input)
    return _elem_np("ndtri", x, _ndtri_np, lambda t: (0.5 * ndtri(t).square()).exp() * math.sqrt(2 * math.pi))


def _log_ndtr_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    far = x < -37  # erfc is a normal float down to here
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
    series = 1 - 3 * iz2 * (1 - 5 * iz2 * (1 - 7 * iz2 * (1 - 9 * iz2)))
    out[far] = -0.5 * z * z - np.log(-z) - _LOG_SQRT_2PI + np.log1p(-iz2 * series)
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
    # one lgamma over all p shifted copies at once (p·numel values, as PyTorch's own arange)
    shifts = _rd.arange(p, dtype=x.dtype, device=x.device) / 2
    return lgamma(x.unsqueeze(-1) - shifts).sum(-1) + p * (p - 1) / 4 * math.log(math.pi)


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


# the largest degree evaluated by a recurrence (one numpy step per degree): beyond it an
# orthogonal polynomial without a closed form is refused rather than computed for hours
_MAX_DEGREE = 100_000
# from this degree on the Chebyshev polynomials are evaluated by their closed forms
_CHEB_CLOSED_FROM = 1_000


def _poly(op: str, input: Any, n: Any, start, step, closed=None) -> Tensor:  # noqa: A002
    """``P_n(input)`` by its three-term recurrence, elementwise over broadcast ``input`` and
    ``n`` (a number or a tensor of integer values; negative ``n`` gives 0, as PyTorch).
    ``start(x)`` gives ``(P_0, P_1)``; ``step(x, k, p_k, p_km1)`` gives ``P_{k+1}``; ``closed(x, n)``,
    where given, evaluates any degree directly (used for high degrees)."""
    x_t = _t(op, input) if isinstance(input, Tensor) else _rd.tensor(input)
    n_arr = n.detach().cpu().numpy() if isinstance(n, Tensor) else np.asarray(n)
    x = x_t.detach().cpu().numpy().astype(np.float64)
    x, n_arr = np.broadcast_arrays(x, n_arr)
    if not np.all(np.isfinite(n_arr)) or np.any(np.asarray(n_arr) != np.floor(n_arr)):
        raise ValueError(f"special.{op}: n must hold integer values")
    if n_arr.size and np.abs(n_arr).max() > 2**62:
        raise ValueError(f"special.{op}: n = {n_arr.max()} is out of range")
    n_int = n_arr.astype(np.int64)
    top = int(n_int.max()) if n_int.size else 0
    if closed is not None and top >= _CHEB_CLOSED_FROM:
        with np.errstate(all="ignore"):
            out = np.where(n_int < 0, 0.0, closed(x, np.maximum(n_int, 0).astype(np.float64)))
    else:
        if top > _MAX_DEGREE:
            raise ValueError(
                f"special.{op}: degree n = {top} is above the {_MAX_DEGREE} rustdl evaluates (by the "
                "three-term recurrence, one step per degree)"
            )
        p0, p1 = start(x)
        out = np.where(n_int == 0, p0, np.where(n_int == 1, p1, 0.0))
        prev, cur = p0, p1
        with np.errstate(all="ignore"):
            for k in range(1, top):
                prev, cur = cur, step(x, k, cur, prev)
                out = np.where(n_int == k + 1, cur, out)
        out = np.where(n_int < 0, 0.0, out)
    dtype = x_t.dtype if x_t.dtype.is_floating_point else get_default_dtype()
    # (np.ascontiguousarray would make a 0-d result 1-d)
    res = _rd.tensor(np.array(out, order="C"), dtype=dtype, device="cpu")
    return res if x_t.device.type == "cpu" else res.to(x_t.device)


def _cheb(first):
    return lambda x: (np.ones_like(x), first(x)), lambda x, k, p, q: 2 * x * p - q


def _cheb_closed(kind: str):
    """``P_n(x)`` of a Chebyshev kind in closed form: with ``x = cos θ`` inside [-1, 1] and
    ``x = ±cosh t`` outside, ``T = cos nθ``, ``U = sin (n+1)θ / sin θ``,
    ``V = cos (n+½)θ / cos ½θ``, ``W = sin (n+½)θ / sin ½θ`` (their hyperbolic counterparts
    outside, with the parity of each kind for negative x), the end points by their limits."""

    def inside(x, n):
        th = np.arccos(np.clip(x, -1.0, 1.0))
        if kind == "t":
            return np.cos(n * th)
        if kind == "u":
            return np.sin((n + 1) * th) / np.sin(th)
        if kind == "v":
            return np.cos((n + 0.5) * th) / np.cos(th / 2)
        return np.sin((n + 0.5) * th) / np.sin(th / 2)

    def outside(x, n):  # x > 1
        t = np.arccosh(np.maximum(x, 1.0))
        if kind == "t":
            return np.cosh(n * t)
        if kind == "u":
            return np.sinh((n + 1) * t) / np.sinh(t)
        if kind == "v":
            return np.cosh((n + 0.5) * t) / np.cosh(t / 2)
        return np.sinh((n + 0.5) * t) / np.sinh(t / 2)

    def at_one(n):  # P_n(1)
        return {"t": np.ones_like(n), "u": n + 1, "v": np.ones_like(n), "w": 2 * n + 1}[kind]

    def at_minus_one(n):  # P_n(-1)
        sign = np.where(n % 2 == 0, 1.0, -1.0)
        return sign * {"t": np.ones_like(n), "u": n + 1, "v": 2 * n + 1, "w": np.ones_like(n)}[kind]

    # x < -1: T and U have the parity of n; V(x) = (-1)^n W(-x) and W(x) = (-1)^n V(-x)
    mirror = {"t": "t", "u": "u", "v": "w", "w": "v"}[kind]

    def closed(x, n):
        sign = np.where(n % 2 == 0, 1.0, -1.0)
        far = _cheb_closed(mirror).outside(-x, n) * sign
        val = np.where(np.abs(x) < 1, inside(x, n), np.where(x > 1, outside(x, n), far))
        val = np.where(x == 1, at_one(n), val)
        return np.where(x == -1, at_minus_one(n), val)

    closed.outside = outside  # type: ignore[attr-defined]
    return closed


def chebyshev_polynomial_t(input: Any, n: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """Chebyshev polynomial of the first kind ``T_n(x)``."""
    return _poly("chebyshev_polynomial_t", input, n, *_cheb(lambda x: x), _cheb_closed("t"))


def chebyshev_polynomial_u(input: Any, n: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """Chebyshev polynomial of the second kind ``U_n(x)``."""
    return _poly("chebyshev_polynomial_u", input, n, *_cheb(lambda x: 2 * x), _cheb_closed("u"))


def chebyshev_polynomial_v(input: Any, n: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """Chebyshev polynomial of the third kind ``V_n(x)``."""
    return _poly("chebyshev_polynomial_v", input, n, *_cheb(lambda x: 2 * x - 1), _cheb_closed("v"))


def chebyshev_polynomial_w(input: Any, n: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """Chebyshev polynomial of the fourth kind ``W_n(x)``."""
    return _poly("chebyshev_polynomial_w", input, n, *_cheb(lambda x: 2 * x + 1), _cheb_closed("w"))


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


# ---------- Bessel J/Y of orders 0 and 1, K0/K1 (and scaled), Airy Ai ----------
# numpy float64 kernels. The rational and Chebyshev fits are the published coefficients of the
# Cephes Math Library (S. L. Moshier; j0.c, j1.c, k0.c, k1.c, airy.c), evaluated with the leading 1
# of each monic denominator. Around them: the first zero of J0 and of J1 is factored out as a
# double-double (relative accuracy there), the phase x - (2n+1)π/4 is built from cos x and sin x
# (exact argument reduction, so J/Y keep full accuracy out to x ~ 1e308), Airy's ζ = ⅔|x|^1.5 is a
# double-double before exp / sin, and Ai on [0.8, 2.09) is a Taylor series about two nodes (the
# series at 0 cancels there).

_INV_SQRT_PI = 0.5641895835477563  # 1 / sqrt(pi)
_TWO_OVER_PI = 0.6366197723675814
_LN2 = math.log(2.0)


def _polevl(z: np.ndarray, coef: tuple) -> np.ndarray:
    """``coef[0] z^n + ... + coef[n]`` by Horner's rule."""
    out = np.full_like(z, coef[0])
    for c in coef[1:]:
        out = out * z + c
    return out


def _p1evl(z: np.ndarray, coef: tuple) -> np.ndarray:
    """The monic ``z^(n+1) + coef[0] z^n + ... + coef[n]``."""
    out = z + coef[0]
    for c in coef[1:]:
        out = out * z + c
    return out


def _chbevl(y: np.ndarray, coef: tuple) -> np.ndarray:
    """Chebyshev series ``sum' coef[k] T_k(y / 2)`` (highest order first), Clenshaw's recurrence."""
    b0, b1, b2 = np.full_like(y, coef[0]), np.zeros_like(y), np.zeros_like(y)
    for c in coef[1:]:
        b2, b1 = b1, b0
        b0 = y * b1 - b2 + c
    return 0.5 * (b0 - b2)


_SPLITTER = 134217729.0  # 2^27 + 1


def _two_prod(a: np.ndarray, b) -> tuple:
    """``a * b`` as ``(p, e)`` with ``p + e`` exact (Dekker; ``|a|, |b| < 1e290``)."""
    p = a * b
    ta = _SPLITTER * a
    ah = ta - (ta - a)
    al = a - ah
    tb = _SPLITTER * b
    bh = tb - (tb - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


_TWO_THIRDS_LO = 3.700743415417188e-17  # 2/3 - float(2/3)


def _airy_zeta(a: np.ndarray) -> tuple:
    """``zeta = 2/3 a^1.5`` for ``a > 0`` as a double-double ``(hi, lo)``: ``exp(-zeta)`` and
    ``sin(zeta)`` then keep full accuracy for large ``a`` (plain double above ``a = 1e100``)."""
    big = a > 1e100
    aa = np.where(big, 1.0, a)
    s = np.sqrt(aa)
    p, e = _two_prod(s, s)
    s_lo = ((aa - p) - e) / (2.0 * s)
    h, l = _two_prod(aa, s)
    l = l + aa * s_lo
    h2, l2 = _two_prod(h, 2.0 / 3.0)
    l2 = l2 + h * _TWO_THIRDS_LO + l * (2.0 / 3.0)
    hi = h2 + l2
    lo = l2 - (hi - h2)
    with np.errstate(over="ignore"):
        plain = 2.0 / 3.0 * a * np.sqrt(a)
    return np.where(big, plain, hi), np.where(big, 0.0, lo)


# J0 / Y0 (Cephes j0.c)
# fmt: off
_J0_RP = (
    -4.79443220978201773821e09, 1.95617491946556577543e12, -2.49248344360967716204e14,
    9.70862251047306323952e15,
)
_J0_RQ = (
    4.99563147152651017219e02, 1.73785401676374683123e05, 4.84409658339962045305e07,
    1.11855537045356834862e10, 2.11277520115489217587e12, 3.10518229857422583814e14,
    3.18121955943204943306e16, 1.71086294081043136091e18,
)
_J0_PP = (
    7.96936729297347051624e-04, 8.28352392107440799803e-02, 1.23953371646414299388e00,
    5.44725003058768775090e00, 8.74716500199817011941e00, 5.30324038235394892183e00,
    9.99999999999999997821e-01,
)
_J0_PQ = (
    9.24408810558863637013e-04, 8.56288474354474431428e-02, 1.25352743901058953537e00,
    5.47097740330417105182e00, 8.76190883237069594232e00, 5.30605288235394617618e00,
    1.00000000000000000218e00,
)
_J0_QP = (
    -1.13663838898469149931e-02, -1.28252718670509318512e00, -1.95539544257735972385e01,
    -9.32060152123768231369e01, -1.77681167980488050595e02, -1.47077505154951170175e02,
    -5.14105326766599330220e01, -6.05014350600728481186e00,
)
_J0_QQ = (
    6.43178256118178023184e01, 8.56430025976980587198e02, 3.88240183605401609683e03,
    7.24046774195652478189e03, 5.93072701187316984827e03, 2.06209331660327847417e03,
    2.42005740240291393179e02,
)
_Y0_YP = (
    1.55924367855235737965e04, -1.46639295903971606143e07, 5.43526477051876500413e09,
    -9.82136065717911466409e11, 8.75906394395366999549e13, -3.46628303384729719441e15,
    4.42733268572569800351e16, -1.84950800436986690637e16,
)
_Y0_YQ = (
    1.04128353664259848412e03, 6.26107330137134956842e05, 2.68919633393814121987e08,
    8.64002487103935000337e10, 2.02979612750105546709e13, 3.17157752842975028269e15,
    2.50596256172653059228e17,
)
# J1 / Y1 (Cephes j1.c)
_J1_RP = (
    -8.99971225705559398224e08, 4.52228297998194034323e11, -7.27494245221818276015e13,
    3.68295732863852883286e15,
)
_J1_RQ = (
    6.20836478118054335476e02, 2.56987256757748830383e05, 8.35146791431949253037e07,
    2.21511595479792499675e10, 4.74914122079991414898e12, 7.84369607876235854894e14,
    8.95222336184627338078e16, 5.32278620332680085395e18,
)
_J1_PP = (
    7.62125616208173112003e-04, 7.31397056940917570436e-02, 1.12719608129684925192e00,
    5.11207951146807644818e00, 8.42404590141772420927e00, 5.21451598682361504063e00,
    1.00000000000000000254e00,
)
_J1_PQ = (
    5.71323128072548699714e-04, 6.88455908754495404082e-02, 1.10514232634061696926e00,
    5.07386386128601488557e00, 8.39985554327604159757e00, 5.20982848682361821619e00,
    9.99999999999999997461e-01,
)
_J1_QP = (
    5.10862594750176621635e-02, 4.98213872951233449420e00, 7.58238284132545283818e01,
    3.66779609360150777800e02, 7.10856304998926107277e02, 5.97489612400613639965e02,
    2.11688757100572135698e02, 2.52070205858023719784e01,
)
_J1_QQ = (
    7.42373277035675149943e01, 1.05644886038262816351e03, 4.98641058337653607651e03,
    9.56231892404756170795e03, 7.99704160447350683650e03, 2.82619278517639096600e03,
    3.36093607810698293419e02,
)
_Y1_YP = (
    1.26320474790178026440e09, -6.47355876379160291031e11, 1.14509511541823727583e14,
    -8.12770255501325109621e15, 2.02439475713594898196e17, -7.78877196265950026825e17,
)
_Y1_YQ = (
    5.94301592346128195359e02, 2.35564092943068577943e05, 7.34811944459721705660e07,
    1.87601316108706159478e10, 3.88231277496238566008e12, 6.20557727146953693363e14,
    6.87141087355300489866e16, 3.97270608116560655612e18,
)
# fmt: on
# first two zeros of J0 and J1: the first as a double-double (hi, lo), the second squared
_J0_Z1 = (2.404825557695773, -1.176691651530894e-16)
_J0_Z2SQ = 3.04712623436620863991e01
_J1_Z1 = (3.8317059702075125, -1.5269184090088067e-16)
_J1_Z2SQ = 4.92184563216946036703e01


def _jy_far(order: int, x: np.ndarray) -> tuple:
    """``(J_n(x), Y_n(x))`` for ``x > 5`` from the Hankel-type rational forms ``P``, ``Q``; the
    phase ``x - (2n+1) pi/4`` comes from ``cos x`` and ``sin x`` (exact argument reduction)."""
    w = 5.0 / x
    q = w * w
    if order == 0:
        p = _polevl(q, _J0_PP) / _polevl(q, _J0_PQ)
        r = w * _polevl(q, _J0_QP) / _p1evl(q, _J0_QQ)
    else:
        p = _polevl(q, _J1_PP) / _polevl(q, _J1_PQ)
        r = w * _polevl(q, _J1_QP) / _p1evl(q, _J1_QQ)
    c, s = np.cos(x), np.sin(x)
    amp = _INV_SQRT_PI / np.sqrt(x)
    if order == 0:  # cos(x - pi/4) = (c + s)/sqrt2, sin(x - pi/4) = (s - c)/sqrt2
        return amp * (p * (c + s) - r * (s - c)), amp * (p * (s - c) + r * (c + s))
    # cos(x - 3pi/4) = (s - c)/sqrt2, sin(x - 3pi/4) = -(s + c)/sqrt2
    return amp * (p * (s - c) + r * (s + c)), amp * (r * (s - c) - p * (s + c))


def _j0_near(ax: np.ndarray) -> np.ndarray:
    """``J0`` on ``[0, 5]``: ``(x² − j₁²)(x² − j₂²) R(x²)``; the power series below ``1e-3``."""
    z = ax * ax
    hi, lo = _J0_Z1
    fit = (ax - hi - lo) * (ax + hi) * (z - _J0_Z2SQ) * (_polevl(z, _J0_RP) / _p1evl(z, _J0_RQ))
    return np.where(ax < 1e-3, 1.0 - z / 4 * (1.0 - z / 16 * (1.0 - z / 36)), fit)


def _j1_near(x: np.ndarray) -> np.ndarray:
    """``J1`` on ``[-5, 5]``: ``x (x² − j₁²)(x² − j₂²) R(x²)``; the power series below ``1e-3``."""
    ax = np.abs(x)
    z = x * x
    hi, lo = _J1_Z1
    fit = x * (ax - hi - lo) * (ax + hi) * (z - _J1_Z2SQ) * (_polevl(z, _J1_RP) / _p1evl(z, _J1_RQ))
    return np.where(ax < 1e-3, x / 2 * (1.0 - z / 8 * (1.0 - z / 24 * (1.0 - z / 48))), fit)


def _bessel_j0_np(x: np.ndarray) -> np.ndarray:
    ax = np.abs(np.asarray(x, dtype=np.float64))
    near = ax <= 5.0
    with np.errstate(all="ignore"):
        far = _jy_far(0, np.where(near, 10.0, ax))[0]
    return np.where(near, _j0_near(np.where(near, ax, 0.0)), far)


def _bessel_j1_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    near = ax <= 5.0
    with np.errstate(all="ignore"):
        far = np.where(x < 0, -1.0, 1.0) * _jy_far(1, np.where(near, 10.0, ax))[0]
    return np.where(near, _j1_near(np.where(near, x, 0.0)), far)


def _bessel_y0_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    near = (x > 0) & (x <= 5.0)
    xn = np.where(near, x, 1.0)
    z = xn * xn
    small = _polevl(z, _Y0_YP) / _p1evl(z, _Y0_YQ) + _TWO_OVER_PI * np.log(xn) * _j0_near(xn)
    with np.errstate(all="ignore"):
        far = _jy_far(0, np.where(x > 5.0, x, 10.0))[1]
    out = np.where(near, small, np.where(x > 5.0, far, np.nan))
    return np.where(x == 0, -np.inf, np.where(np.isnan(x), x, out))


def _bessel_y1_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    near = (x > 0) & (x <= 5.0)
    xn = np.where(near, x, 1.0)
    z = xn * xn
    with np.errstate(over="ignore", divide="ignore"):
        small = xn * (_polevl(z, _Y1_YP) / _p1evl(z, _Y1_YQ)) + _TWO_OVER_PI * (
            _j1_near(xn) * np.log(xn) - 1.0 / xn
        )
    with np.errstate(all="ignore"):
        far = _jy_far(1, np.where(x > 5.0, x, 10.0))[1]
    out = np.where(near, small, np.where(x > 5.0, far, np.nan))
    return np.where(x == 0, -np.inf, np.where(np.isnan(x), x, out))


# K0 / K1 (Cephes k0.c, k1.c): Chebyshev series on (0, 2] (in x^2 - 2) and on (2, inf) (in 8/x - 2)
# fmt: off
_K0_A = (
    1.37446543561352307156e-16, 4.25981614279661018399e-14, 1.03496952576338420167e-11,
    1.90451637722020886025e-09, 2.53479107902614945675e-07, 2.28621210311945178607e-05,
    1.26461541144692592338e-03, 3.59799365153615016266e-02, 3.44289899924628486886e-01,
    -5.35327393233902768720e-01,
)
_K0_B = (
    5.30043377268626276149e-18, -1.64758043015242134646e-17, 5.21039150503902756861e-17,
    -1.67823109680541210385e-16, 5.51205597852431940784e-16, -1.84859337734377901440e-15,
    6.34007647740507060557e-15, -2.22751332699166985548e-14, 8.03289077536357521100e-14,
    -2.98009692317273043925e-13, 1.14034058820847496303e-12, -4.51459788337394416547e-12,
    1.85594911495471785253e-11, -7.95748924447710747776e-11, 3.57739728140030116597e-10,
    -1.69753450938905987466e-09, 8.57403401741422608519e-09, -4.66048989768794782956e-08,
    2.76681363944501510342e-07, -1.83175552271911948767e-06, 1.39498137188764993662e-05,
    -1.28495495816278026384e-04, 1.56988388573005337491e-03, -3.14481013119645005427e-02,
    2.44030308206595545468e00,
)
_K1_A = (
    -7.02386347938628759343e-18, -2.42744985051936593393e-15, -6.66690169419932900609e-13,
    -1.41148839263352776110e-10, -2.21338763073472585583e-08, -2.43340614156596823496e-06,
    -1.73028895751305206302e-04, -6.97572385963986435018e-03, -1.22611180822657148235e-01,
    -3.53155960776544875667e-01, 1.52530022733894777053e00,
)
_K1_B = (
    -5.75674448366501715755e-18, 1.79405087314755922667e-17, -5.68946255844285935196e-17,
    1.83809354436663880070e-16, -6.05704724837331885336e-16, 2.03870316562433424052e-15,
    -7.01983709041831346144e-15, 2.47715442448130437068e-14, -8.97670518232499435011e-14,
    3.34841966607842919884e-13, -1.28917396095102890680e-12, 5.13963967348173025100e-12,
    -2.12996783842756842877e-11, 9.21831518760500529508e-11, -4.19035475934189648750e-10,
    2.01504975519703286596e-09, -1.03457624656780970260e-08, 5.74108412545004946722e-08,
    -3.50196060308781257119e-07, 2.40648494783721712015e-06, -1.93619797416608296024e-05,
    1.95215518471351631108e-04, -2.85781685962277938680e-03, 1.03923736576817238437e-01,
    2.72062619048444266945e00,
)
# fmt: on


def _i01_small(order: int, x: np.ndarray) -> np.ndarray:
    """``I_0`` or ``I_1`` on ``[0, 2]`` by the power series (positive terms, 20 of them)."""
    q = x * x / 4
    term = x / 2 if order else np.ones_like(x)
    total = term
    for k in range(1, 20):
        term = term * q / (k * (k + order))
        total = total + term
    return total


def _bessel_k_np(order: int, scaled: bool, x: np.ndarray) -> np.ndarray:
    """``K_order(x)`` for ``order`` 0 or 1, times ``exp(x)`` when ``scaled``: ``inf`` at 0, NaN
    below, 0 at ``inf``."""
    x = np.asarray(x, dtype=np.float64)
    near = (x > 0) & (x <= 2.0)
    xn = np.where(near, x, 1.0)
    with np.errstate(over="ignore", divide="ignore"):
        # log(x/2), exact also where x/2 would lose bits (subnormal x)
        log_half = np.where(xn > 1e-300, np.log(0.5 * xn), np.log(xn) - _LN2)
        if order == 0:
            small = _chbevl(xn * xn - 2.0, _K0_A) - log_half * _i01_small(0, xn)
        else:
            small = log_half * _i01_small(1, xn) + _chbevl(xn * xn - 2.0, _K1_A) / xn
    if scaled:
        small = small * np.exp(xn)
    far_x = np.where(x > 2.0, x, 4.0)
    with np.errstate(all="ignore"):
        far = _chbevl(8.0 / far_x - 2.0, _K1_B if order else _K0_B) / np.sqrt(far_x)
        if not scaled:
            far = np.exp(-far_x) * far
    out = np.where(near, small, np.where(x > 2.0, far, np.nan))
    out = np.where(np.isposinf(x), 0.0, out)
    return np.where(x == 0, np.inf, np.where(np.isnan(x), x, out))


# Airy Ai (Cephes airy.c): power series on |x| < 2.09 (Taylor nodes on [0.8, 2.09)), rational fits
# in 1/zeta outside
# fmt: off
_AI_AN = (
    3.46538101525629032477e-01, 1.20075952739645805542e01, 7.62796053615234516538e01,
    1.68089224934630576269e02, 1.59756391350164413639e02, 7.05360906840444183113e01,
    1.40264691163389668864e01, 9.99999999999999995305e-01,
)
_AI_AD = (
    5.67594532638770212846e-01, 1.47562562584847203173e01, 8.45138970141474626562e01,
    1.77318088145400459522e02, 1.64234692871529701831e02, 7.14778400825575695274e01,
    1.40959135607834029598e01, 1.00000000000000000470e00,
)
_AI_AFN = (
    -1.31696323418331795333e-01, -6.26456544431912369773e-01, -6.93158036036933542233e-01,
    -2.79779981545119124951e-01, -4.91900132609500318020e-02, -4.06265923594885404393e-03,
    -1.59276496239262096340e-04, -2.77649108155232920844e-06, -1.67787698489114633780e-08,
)
_AI_AFD = (
    1.33560420706553243746e01, 3.26825032795224613948e01, 2.67367040941499554804e01,
    9.18707402907259625840e00, 1.47529146771666414581e00, 1.15687173795188044134e-01,
    4.40291641615211203805e-03, 7.54720348287414296618e-05, 4.51850092970580378464e-07,
)
_AI_AGN = (
    1.97339932091685679179e-02, 3.91103029615688277255e-01, 1.06579897599595591108e00,
    9.39169229816650230044e-01, 3.51465656105547619242e-01, 6.33888919628925490927e-02,
    5.85804113048388458567e-03, 2.82851600836737019778e-04, 6.98793669997260967291e-06,
    8.11789239554389293311e-08, 3.41551784765923618484e-10,
)
_AI_AGD = (
    9.30892908077441974853e00, 1.98352928718312140417e01, 1.55646628932864612953e01,
    5.47686069422975497931e00, 9.54293611618961883998e-01, 8.64580826352392193095e-02,
    4.12656523824222607191e-03, 1.01259085116509135510e-04, 1.17166733214413521882e-06,
    4.91834570062930015649e-09,
)
# fmt: on
_AI_0 = 0.355028053887817239260  # Ai(0)
_AI_D0 = 0.258819403792806798405  # -Ai'(0)
_AI_CUT = 2.09
# Taylor nodes for 0.8 <= x < 2.09, where the series at 0 cancels: (from x, x0, Ai(x0), Ai'(x0))
_AI_NODES = (
    (0.8, 1.1, 0.12004942735539767, -0.14576640734501625),
    (1.4, 1.7, 0.054324792732919465, -0.07737488952532502),
)


def _airy_taylor(h: np.ndarray, x0: float, a0: float, a1: float) -> np.ndarray:
    """``Ai(x0 + h)`` from its Taylor series at ``x0`` (Ai'' = x Ai gives
    ``(n+1)(n+2) c[n+2] = x0 c[n] + c[n-1]``); 24 terms for ``|h| <= 0.4``."""
    c = [a0, a1]
    for n in range(22):
        c.append((x0 * c[n] + (c[n - 1] if n else 0.0)) / ((n + 1) * (n + 2)))
    return _polevl(h, tuple(reversed(c)))


def _airy_ai_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    mid = np.abs(x) < _AI_CUT
    xm = np.where(mid, x, 0.0)
    z = xm * xm * xm
    f, g = np.ones_like(xm), xm.copy()
    m, n = np.ones_like(xm), xm.copy()
    for k in range(1, 16):
        m = m * z / ((3 * k - 1) * (3 * k))
        n = n * z / ((3 * k) * (3 * k + 1))
        f = f + m
        g = g + n
    series = _AI_0 * f - _AI_D0 * g
    for lo, x0, a0, a1 in _AI_NODES:
        series = np.where(xm >= lo, _airy_taylor(xm - x0, x0, a0, a1), series)

    pos = x >= _AI_CUT  # finite or +inf
    neg = x <= -_AI_CUT
    a = np.where(pos | neg, np.abs(x), 4.0)
    a = np.where(np.isinf(a), 4.0, a)
    zh, zl = _airy_zeta(a)
    with np.errstate(all="ignore"):
        r = 1.0 / zh
        # x > 0: Ai = exp(-zeta) AN/AD (1/zeta) / (2 sqrt(pi) x^(1/4))
        decay = _INV_SQRT_PI * (_polevl(r, _AI_AN) / _polevl(r, _AI_AD)) / (2.0 * np.sqrt(np.sqrt(a)))
        decay = decay * (np.exp(-zh) * (1.0 - zl))
        # x < 0: Ai = (sin(zeta + pi/4) uf - cos(zeta + pi/4) ug) / (sqrt(pi) |x|^(1/4))
        rr = r * r
        uf = 1.0 + rr * _polevl(rr, _AI_AFN) / _p1evl(rr, _AI_AFD)
        ug = r * _polevl(rr, _AI_AGN) / _p1evl(rr, _AI_AGD)
        s0, c0 = np.sin(zh), np.cos(zh)
        s1, c1 = np.sin(zl), np.cos(zl)
        sz, cz = s0 * c1 + c0 * s1, c0 * c1 - s0 * s1
        sin_t, cos_t = (sz + cz) / math.sqrt(2.0), (cz - sz) / math.sqrt(2.0)
        osc = _INV_SQRT_PI / np.sqrt(np.sqrt(a)) * (sin_t * uf - cos_t * ug)
    out = np.where(mid, series, np.where(pos, decay, np.where(neg, osc, np.nan)))
    return np.where(np.isinf(x), np.nan, out)


def _with_out(out: Any, result: Tensor) -> Tensor:
    if out is None:
        return result
    import rustdl

    return rustdl._into(out, result)


def _patched(t: Tensor, mask: Tensor, value: float, expr) -> Tensor:
    """``expr(t)``, but ``value`` where ``mask`` (``expr`` sees 1 there, so no NaN leaks into
    a double backward)."""
    safe = _rd.where(mask, t.new_ones(()), t)
    return _rd.where(mask, t * 0 + value, expr(safe))


def _values_np(op: str, input: Any, fwd) -> Tensor:  # noqa: A002
    """``fwd`` elementwise, as a tensor outside autograd (PyTorch marks these non-differentiable:
    the result does not require grad)."""
    x = _float(op, _t(op, input))
    return _back(np.asarray(fwd(_np_of(x).astype(np.float64))), x, x.dtype)


def bessel_j0(input: Tensor, *, out: Any = None) -> Tensor:  # noqa: A002
    """Bessel function of the first kind, order 0 (NaN at ``±inf``, as PyTorch); gradient
    ``-J1(x)``."""
    x = _t("bessel_j0", input)
    return _with_out(out, _elem_np("special.bessel_j0", x, _bessel_j0_np, lambda t: -bessel_j1(t)))


def bessel_j1(input: Tensor, *, out: Any = None) -> Tensor:  # noqa: A002
    """Bessel function of the first kind, order 1 (odd; NaN at ``±inf``); gradient
    ``J0(x) - J1(x)/x`` (1/2 at 0)."""
    x = _t("bessel_j1", input)
    return _with_out(
        out,
        _elem_np(
            "special.bessel_j1",
            x,
            _bessel_j1_np,
            lambda t: _patched(t, t.abs() < 1e-30, 0.5, lambda s: bessel_j0(s) - bessel_j1(s) / s),
        ),
    )


def bessel_y0(input: Tensor, *, out: Any = None) -> Tensor:  # noqa: A002
    """Bessel function of the second kind, order 0 (``-inf`` at 0, NaN below 0 and at ``±inf``);
    gradient ``-Y1(x)``."""
    x = _t("bessel_y0", input)
    return _with_out(out, _elem_np("special.bessel_y0", x, _bessel_y0_np, lambda t: -bessel_y1(t)))


def bessel_y1(input: Tensor, *, out: Any = None) -> Tensor:  # noqa: A002
    """Bessel function of the second kind, order 1 (``-inf`` at 0, NaN below 0 and at ``±inf``);
    gradient ``Y0(x) - Y1(x)/x`` (``+inf`` at 0)."""
    x = _t("bessel_y1", input)
    return _with_out(
        out,
        _elem_np(
            "special.bessel_y1",
            x,
            _bessel_y1_np,
            lambda t: _patched(t, t.eq(0), math.inf, lambda s: bessel_y0(s) - bessel_y1(s) / s),
        ),
    )


def modified_bessel_k0(input: Tensor, *, out: Any = None) -> Tensor:  # noqa: A002
    """Modified Bessel function of the second kind, order 0 (``inf`` at 0, NaN below 0, 0 at
    ``inf``); gradient ``-K1(x)``."""
    x = _t("modified_bessel_k0", input)
    return _with_out(
        out,
        _elem_np(
            "special.modified_bessel_k0",
            x,
            lambda a: _bessel_k_np(0, False, a),
            lambda t: -modified_bessel_k1(t),
        ),
    )


def modified_bessel_k1(input: Tensor, *, out: Any = None) -> Tensor:  # noqa: A002
    """Modified Bessel function of the second kind, order 1 (``inf`` at 0, NaN below 0, 0 at
    ``inf``); gradient ``-K0(x) - K1(x)/x``."""
    x = _t("modified_bessel_k1", input)
    return _with_out(
        out,
        _elem_np(
            "special.modified_bessel_k1",
            x,
            lambda a: _bessel_k_np(1, False, a),
            lambda t: -modified_bessel_k0(t) - modified_bessel_k1(t) / t,
        ),
    )


def scaled_modified_bessel_k0(input: Tensor, *, out: Any = None) -> Tensor:  # noqa: A002
    """``K0(x) · exp(x)``, finite for large ``x``. Not differentiable, as PyTorch: the result does
    not require grad."""
    return _with_out(out, _values_np("scaled_modified_bessel_k0", input, lambda a: _bessel_k_np(0, True, a)))


def scaled_modified_bessel_k1(input: Tensor, *, out: Any = None) -> Tensor:  # noqa: A002
    """``K1(x) · exp(x)``, finite for large ``x``. Not differentiable, as PyTorch: the result does
    not require grad."""
    return _with_out(out, _values_np("scaled_modified_bessel_k1", input, lambda a: _bessel_k_np(1, True, a)))


def airy_ai(input: Tensor, *, out: Any = None) -> Tensor:  # noqa: A002
    """Airy function ``Ai(x)`` (NaN at ``±inf``, as PyTorch). Not differentiable, as PyTorch: the
    result does not require grad."""
    return _with_out(out, _values_np("airy_ai", input, _airy_ai_np))
