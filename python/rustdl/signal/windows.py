"""``torch.signal.windows``: window functions with SciPy's conventions (``sym=True`` gives the
symmetric window for filter design; ``sym=False`` the periodic one for spectral analysis, the
first ``M`` points of the symmetric window of length ``M + 1``).

Example:
    >>> rustdl.signal.windows.gaussian(5, std=1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._rustdl import Tensor
from .._rustdl import tensor as _tensor
from .._typed_errors import int_arg

__all__ = [
    "bartlett",
    "blackman",
    "cosine",
    "exponential",
    "gaussian",
    "general_cosine",
    "general_hamming",
    "hamming",
    "hann",
    "kaiser",
    "nuttall",
]


def _make(
    op: str,
    M: Any,
    sym: bool,
    dtype: Any,
    device: Any,
    requires_grad: bool,
    fn: Callable[[np.ndarray, int], np.ndarray],
    one_point: bool = False,
) -> Tensor:
    """The window of ``M`` points: ``fn(n, L)`` over ``n = 0..L-1`` with ``L = M`` (symmetric) or
    ``M + 1`` (periodic, last point dropped). A one-point window is ``[1]``, or ``fn([0], 1)``
    with ``one_point``."""
    M = int_arg(M)
    if isinstance(M, bool) or not isinstance(M, int):
        raise TypeError(f"signal.windows.{op}: M must be an int, got {type(M).__name__}")
    if M < 0:
        raise ValueError(f"signal.windows.{op}: requires non-negative window length, got M={M}")
    from .. import get_default_dtype

    dtype = dtype if dtype is not None else get_default_dtype()
    if getattr(dtype, "name", None) not in ("float32", "float64"):
        raise ValueError(f"signal.windows.{op}: expected a floating point dtype, got {dtype}")
    from .._tensor_api import _host_room

    _host_room(f"signal.windows.{op}", M, 8)  # numpy's float64 temporaries, then the tensor
    if M == 0 or (M == 1 and not one_point):
        vals = np.ones(M)
    else:
        length = M if sym or M == 1 else M + 1
        vals = fn(np.arange(length, dtype=np.float64), length)[:M]
    out = _tensor(vals, dtype=dtype)
    if device is not None:
        out = out.to(device)
    return out.requires_grad_() if requires_grad else out


def _check_positive(op: str, name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"signal.windows.{op}: {name} must be positive, got {value}")


def general_cosine(
    M: int, *, a: Sequence[float], sym: bool = True, dtype: Any = None, layout: Any = None,
    device: Any = None, requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    """``Σ_k (-1)^k a_k cos(2πkn / (L - 1))``."""
    if isinstance(a, Tensor):
        a = a.tolist()
    if not isinstance(a, (list, tuple)) or not a:
        raise TypeError("signal.windows.general_cosine: a must be a non-empty list of coefficients")
    coeffs = [float(c) for c in a]

    def fn(n: np.ndarray, length: int) -> np.ndarray:
        x = 2 * np.pi * n / (length - 1)
        return sum((-1) ** k * c * np.cos(k * x) for k, c in enumerate(coeffs))

    return _make("general_cosine", M, sym, dtype, device, requires_grad, fn)


def general_hamming(
    M: int, *, alpha: float = 0.54, sym: bool = True, dtype: Any = None, layout: Any = None,
    device: Any = None, requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    """``alpha - (1 - alpha) cos(2πn / (L - 1))``."""
    return general_cosine(
        M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, device=device, requires_grad=requires_grad
    )


def hamming(
    M: int,
    *,
    sym: bool = True,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Hamming window (``general_hamming`` with ``alpha = 0.54``)."""
    return general_hamming(M, alpha=0.54, sym=sym, dtype=dtype, device=device, requires_grad=requires_grad)


def hann(
    M: int,
    *,
    sym: bool = True,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Hann window (``general_hamming`` with ``alpha = 0.5``)."""
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, device=device, requires_grad=requires_grad)


def blackman(
    M: int,
    *,
    sym: bool = True,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Blackman window (``general_cosine`` with ``a = [0.42, 0.5, 0.08]``)."""
    return general_cosine(
        M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, device=device, requires_grad=requires_grad
    )


def nuttall(
    M: int,
    *,
    sym: bool = True,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Nuttall's minimum 4-term Blackman-Harris window."""
    a = [0.3635819, 0.4891775, 0.1365995, 0.0106411]
    return general_cosine(M, a=a, sym=sym, dtype=dtype, device=device, requires_grad=requires_grad)


def bartlett(
    M: int,
    *,
    sym: bool = True,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Triangular window ``1 - |2n / (L - 1) - 1|``."""
    return _make(
        "bartlett",
        M,
        sym,
        dtype,
        device,
        requires_grad,
        lambda n, length: 1 - np.abs(2 * n / (length - 1) - 1),
    )


def cosine(
    M: int,
    *,
    sym: bool = True,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Cosine (sine) window ``sin(π (n + 1/2) / L)``."""
    return _make(
        "cosine", M, sym, dtype, device, requires_grad, lambda n, length: np.sin(np.pi * (n + 0.5) / length)
    )


def gaussian(
    M: int, *, std: float = 1.0, sym: bool = True, dtype: Any = None, layout: Any = None,
    device: Any = None, requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    """Gaussian window ``exp(-(n - (L - 1)/2)² / (2 std²))``."""
    _check_positive("gaussian", "std", std)
    return _make(
        "gaussian", M, sym, dtype, device, requires_grad,
        lambda n, length: np.exp(-((n - (length - 1) / 2.0) ** 2) / (2.0 * std * std)),
    )  # fmt: skip


def exponential(
    M: int, *, center: float | None = None, tau: float = 1.0, sym: bool = True, dtype: Any = None,
    layout: Any = None, device: Any = None, requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    """Exponential (Poisson) window ``exp(-|n - center| / tau)``; ``center`` defaults to the
    middle, and may be given only for the periodic window (``sym=False``)."""
    _check_positive("exponential", "tau", tau)
    if sym and center is not None:
        raise ValueError("signal.windows.exponential: center must be None for symmetric windows")

    def fn(n: np.ndarray, length: int) -> np.ndarray:
        c = (length - 1) / 2.0 if center is None else float(center)
        return np.exp(-np.abs(n - c) / tau)

    return _make("exponential", M, sym, dtype, device, requires_grad, fn, one_point=True)


def kaiser(
    M: int, *, beta: float = 12.0, sym: bool = True, dtype: Any = None, layout: Any = None,
    device: Any = None, requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    """Kaiser window ``I0(β √(1 − (2n/(L − 1) − 1)²)) / I0(β)``."""
    if beta < 0 or math.isnan(beta):
        raise ValueError(f"signal.windows.kaiser: beta must be non-negative, got {beta}")
    return _make(
        "kaiser", M, sym, dtype, device, requires_grad,
        lambda n, length: np.i0(beta * np.sqrt(np.clip(1 - (2 * n / (length - 1) - 1) ** 2, 0, None))) / np.i0(beta),
    )  # fmt: skip
