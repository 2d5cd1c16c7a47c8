"""Helpers shared by the distributions: broadcasting parameters, probabilities ↔ logits."""

from __future__ import annotations

import math
from numbers import Number
from typing import Any, Callable

import numpy as np

from .. import _rustdl
from .._rustdl import Tensor

__all__ = [
    "broadcast_all",
    "clamp_probs",
    "euler_constant",
    "lazy_property",
    "logits_to_probs",
    "probs_to_logits",
    "softplus",
    "tril_matrix_to_vec",
    "vec_to_tril_matrix",
]

euler_constant = 0.57721566490153286060  # the Euler–Mascheroni constant, as torch.distributions.utils

# Machine epsilon of each float dtype (torch.finfo(dtype).eps).
_EPS = {"float32": float(np.finfo(np.float32).eps), "float64": float(np.finfo(np.float64).eps)}


def _dtype_name(t: Tensor) -> str:
    return str(t.dtype).rsplit(".", 1)[-1]


def finfo_eps(t: Tensor) -> float:
    """Machine epsilon of ``t``'s float dtype."""
    return _EPS.get(_dtype_name(t), _EPS["float32"])


def finfo_tiny(t: Tensor) -> float:
    """The smallest positive normal number of ``t``'s float dtype."""
    return float(np.finfo(np.float64 if _dtype_name(t) == "float64" else np.float32).tiny)


def finfo_min(t: Tensor) -> float:
    """The most negative finite number of ``t``'s float dtype."""
    return float(np.finfo(np.float64 if _dtype_name(t) == "float64" else np.float32).min)


def broadcast_all(*values: Any) -> tuple[Tensor, ...]:
    """Converts numbers to tensors and broadcasts every value to one common shape.

    Numbers take the dtype and device of the first floating-point tensor among ``values`` (the
    default dtype, :func:`rustdl.get_default_dtype`, on the CPU when there is none); integer
    tensors become that float dtype too.

    Raises:
        ValueError: a value is neither a number nor a Tensor, or the shapes do not broadcast.

    Example:
        >>> loc, scale = broadcast_all(0.0, rustdl.ones(3))
        >>> loc.shape
        (3,)
    """
    tensors_in = [v for v in values if isinstance(v, Tensor)]
    ref = next((v for v in tensors_in if v.is_floating_point()), tensors_in[0] if tensors_in else None)
    for v in values:
        if not isinstance(v, (Tensor, Number)):
            raise ValueError(  # noqa: TRY004 (as PyTorch)
                f"Input arguments must all be instances of numbers.Number or Tensor, got {type(v).__name__}"
            )
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else _rustdl._default_float()
    device = ref.device if ref is not None else None
    tensors = []
    for v in values:
        if isinstance(v, Tensor):
            if not v.is_floating_point():
                v = v.to(dtype=dtype)
            tensors.append(v)
        else:
            tensors.append(_rustdl.tensor(float(v), dtype=dtype, device=device))
    try:
        shape = np.broadcast_shapes(*(tuple(t.shape) for t in tensors))
    except ValueError:
        raise ValueError(
            "shapes " + ", ".join(str(tuple(t.shape)) for t in tensors) + " cannot be broadcast together"
        ) from None
    return tuple(t if tuple(t.shape) == shape else t.expand(*shape) for t in tensors)


def clamp_probs(probs: Tensor) -> Tensor:
    """Clamps probabilities into ``[eps, 1 - eps]`` so their logarithms stay finite."""
    eps = finfo_eps(probs)
    return probs.clamp(eps, 1.0 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Log-probabilities of categorical ``probs``, or log-odds of Bernoulli ``probs`` if ``is_binary``."""
    p = clamp_probs(probs)
    if is_binary:
        return p.log() - (-p).log1p()
    return p.log()


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """Probabilities from log-odds (``sigmoid``, if ``is_binary``) or from unnormalised log-probabilities (``softmax``)."""
    if is_binary:
        return logits.sigmoid()
    return logits.softmax(-1)


class lazy_property:
    """A property computed on first access and then cached in the instance's ``__dict__``."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self.fn(instance)
        instance.__dict__[self.fn.__name__] = value
        return value


def softplus(x: Tensor) -> Tensor:
    """``log(1 + e^x)``, stable for large ``|x|``, with the exact gradient ``sigmoid(x)`` everywhere.

    Computed as ``logsumexp([0, x])``: the core's ``softplus`` is built from ``relu`` and ``abs``,
    whose subgradients at 0 give a gradient of 0 instead of 1/2 at ``x = 0``.
    """
    return _rustdl.stack([_rustdl.zeros_like(x), x], -1).logsumexp(-1)


def _sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """``value`` summed over its ``dim`` rightmost dims (``value`` itself when ``dim`` is 0), as
    ``torch.distributions.utils._sum_rightmost``.

    Example:
        >>> _sum_rightmost(rustdl.ones(2, 3, 4), 2)
        tensor([12., 12.])
    """
    if dim == 0:
        return value
    shape = tuple(value.shape)
    return value.reshape(*shape[: len(shape) - dim], -1).sum(-1)


def _standard_normal(shape: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Standard normal draws of ``shape`` (``torch.distributions.utils._standard_normal``)."""
    return _rustdl.randn(tuple(shape), dtype=dtype, device=device)


def _tril_flat_index(n: int, diag: int) -> np.ndarray:
    """Flat (row-major) positions of the entries of an ``n × n`` matrix on or below diagonal
    ``diag``, in row order."""
    rows, cols = np.nonzero(np.tril(np.ones((n, n), dtype=bool), diag))
    return rows * n + cols


def vec_to_tril_matrix(vec: Tensor, diag: int = 0) -> Tensor:
    """``(*, N)`` vectors to ``(*, D, D)`` lower-triangular matrices (entries on or below
    diagonal ``diag`` filled in row order, zeros elsewhere), differentiably."""
    size = vec.shape[-1]
    b = 1 + 2 * diag
    root = (-b + math.sqrt(b * b + 8 * size + 4 * abs(diag) * (diag + 1))) / 2
    n = round(root)
    if abs(n - root) > finfo_eps(vec) or len(_tril_flat_index(n, diag)) != size:
        # a ShapeError is both a ValueError and a RuntimeError: PyTorch raises either, by the size
        raise _rustdl.ShapeError(
            f"The size of last dimension is {size} which cannot be expressed as "
            "the lower triangular part of a square D x D matrix."
        )
    gather = np.full(n * n, size, dtype=np.int64)  # position ``size`` is the appended zero
    gather[_tril_flat_index(n, diag)] = np.arange(size)
    batch = tuple(vec.shape[:-1])
    padded = _rustdl.cat([vec, vec.new_zeros((*batch, 1))], -1)
    index = _rustdl.tensor(gather, dtype=_rustdl.int64, device=vec.device)
    return padded.index_select(-1, index).reshape(*batch, n, n)


def tril_matrix_to_vec(mat: Tensor, diag: int = 0) -> Tensor:
    """The entries of ``(*, D, D)`` matrices on or below diagonal ``diag``, in row order."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    batch = tuple(mat.shape[:-2])
    index = _rustdl.tensor(_tril_flat_index(n, diag), dtype=_rustdl.int64, device=mat.device)
    return mat.reshape(*batch, n * n).index_select(-1, index)
