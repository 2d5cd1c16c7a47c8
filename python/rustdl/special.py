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
from ._breadth_g import _erfc_np, erfc, i0
from ._rustdl import Tensor
from ._tensor_api import _elem_np, _float, digamma, get_default_dtype, lgamma, logit, xlogy

__all__ = [
    "digamma",
    "entr",
    "erf",
    "erfc",
    "erfinv",
    "exp2",
    "expit",
    "expm1",
    "gammaln",
    "i0",
    "log1p",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "ndtr",
    "ndtri",
    "psi",
    "round",
    "sinc",
    "softmax",
    "xlog1py",
    "xlogy",
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
        out[near] = np.log(0.5 * _erfc_np(-x[near] / _SQRT2))
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


def _entr_np(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x > 0, -x * np.log(np.where(x > 0, x, 1.0)), np.where(x == 0, 0.0, -np.inf))
    return np.where(np.isnan(x), x, out)


def entr(input: Tensor) -> Tensor:  # noqa: A002
    """Elementwise entropy ``-x log x`` (0 at 0, ``-inf`` below 0)."""
    return _elem_np("entr", _t("entr", input), _entr_np, lambda t: -(t.log() + 1))
