"""``out=`` for the functions whose own definitions do not take it (or took it and ignored it):
the result is computed as without it, then copied into ``out`` (resized as PyTorch resizes a
mis-shaped one), which is returned, as PyTorch's ``out=`` variants do."""

from __future__ import annotations

import functools
from typing import Any

# the functions, by namespace, that PyTorch gives an ``out=``
NAMES = {
    "torch": """alias_copy angle arcsinh arctan arctan2 asinh atan atan2 bucketize chain_matmul
        conj_physical copysign cosh cross detach_copy diagonal_copy diff digamma dsmm erfc
        float_power hardshrink heaviside histc hypot i0 igamma igammac isin isneginf isposinf
        kron ldexp lerp lgamma matrix_power msort mvlgamma nanmean nansum nextafter nuclear_norm
        searchsorted signbit sinh slice_copy slice_scatter spmm squeeze_copy t_copy tensordot
        true_divide unsqueeze_copy vdot xlogy complex polar""",
    "special": """chebyshev_polynomial_t chebyshev_polynomial_u chebyshev_polynomial_v
        chebyshev_polynomial_w digamma entr erf erfc erfcx exp2 expit expm1 gammainc gammaincc
        gammaln hermite_polynomial_h hermite_polynomial_he i0 i0e i1 i1e laguerre_polynomial_l
        legendre_polynomial_p log1p log_ndtr modified_bessel_i0 modified_bessel_i1 multigammaln
        ndtr psi round shifted_chebyshev_polynomial_t shifted_chebyshev_polynomial_u
        shifted_chebyshev_polynomial_v shifted_chebyshev_polynomial_w sinc spherical_bessel_j0
        xlog1py xlogy""",
    "fft": """fft ifft fft2 ifft2 fftn ifftn rfft irfft rfft2 irfft2 rfftn irfftn hfft ihfft
        hfft2 ihfft2 hfftn ihfftn fftfreq rfftfreq""",
}


def with_out(fn: Any, into: Any) -> Any:
    """``fn`` taking an ``out=`` keyword (``into(out, result)`` does the copy)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, out: Any = None, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        return result if out is None else into(out, result)

    wrapper._takes_out = True  # type: ignore[attr-defined]
    return wrapper


def install(ns: Any, key: str, into: Any) -> None:
    for name in NAMES[key].split():
        fn = getattr(ns, name, None)
        if fn is not None and callable(fn) and not getattr(fn, "_takes_out", False):
            setattr(ns, name, with_out(fn, into))
