"""PyTorch's symbolic-shape and checking helpers, as they behave in eager code.

rustdl runs eagerly with concrete sizes: ``SymInt``/``SymFloat``/``SymBool`` are types no value
ever has (code tests ``isinstance(n, (int, torch.SymInt))``), the ``sym_*`` functions are their
plain-number forms, and ``_check*``/``_assert_async`` raise the error PyTorch raises when the
condition is false. Also the dtypes rustdl names but has no tensors of (``uint16``, ``uint32``,
``uint64``, ``complex32``): they compare, hash and print as PyTorch's, and using one to make a
tensor raises."""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable
from typing import Any

__all__ = [
    "SymBool", "SymFloat", "SymInt", "_assert_async", "_check", "_check_index", "_check_is_size",
    "_check_not_implemented", "_check_type", "_check_value", "_check_with", "chalf", "complex32",
    "sym_float", "sym_int", "sym_ite", "sym_max", "sym_min", "sym_not", "sym_sqrt", "uint16", "uint32", "uint64",
    "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2",
    "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
]  # fmt: skip


class SymInt:
    """A symbolic integer size (none exist here: every size is an ``int``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("SymInt: rustdl has concrete sizes only (use int)")


class SymFloat:
    """A symbolic float (none exist here)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("SymFloat: rustdl has concrete values only (use float)")


class SymBool:
    """A symbolic bool (none exist here)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("SymBool: rustdl has concrete values only (use bool)")


def sym_int(a: Any) -> int:
    return builtins.int(math.trunc(a)) if isinstance(a, float) else builtins.int(a)


def sym_float(a: Any) -> float:
    return builtins.float(a)


def sym_max(a: Any, b: Any) -> Any:
    return builtins.max(a, b)


def sym_min(a: Any, b: Any) -> Any:
    return builtins.min(a, b)


def sym_not(a: Any) -> bool:
    return not a


def sym_ite(b: Any, t: Any, f: Any) -> Any:
    return t if b else f


def sym_sqrt(a: Any) -> float:
    return math.sqrt(a)


def _truth(cond: Any, what: str) -> bool:
    if isinstance(cond, builtins.bool):
        return cond
    from ._rustdl import Tensor

    if isinstance(cond, Tensor):
        if cond.numel() != 1:
            raise RuntimeError(f"{what}: expected a one-element condition, got shape {tuple(cond.shape)}")
        return builtins.bool(cond.item())
    raise TypeError(f"{what}: cond must be a bool, but got {type(cond)}")


def _message(message: Any, default: str) -> str:
    if message is None:
        return default
    return str(message() if callable(message) else message)


def _check_with(error_type: type, cond: Any, message: Callable[[], str] | None = None) -> None:
    """Raises ``error_type`` (with ``message()``) when ``cond`` is false; ``cond`` must be a
    bool (a tensor condition is a ``TypeError``, as PyTorch's)."""
    if not isinstance(cond, builtins.bool):
        raise TypeError(
            f"cond must be a bool, but got {type(cond)}. For tensor conditions, use "
            "torch._check_tensor_all() to assert that all elements are true."
        )
    if not cond:
        raise error_type(
            _message(
                message,
                "Expected cond to be True, but got False. (Could this error message be improved? If so, please report an enhancement request to PyTorch.)",
            )
        )


def _check(cond: Any, message: Callable[[], str] | None = None) -> None:
    _check_with(RuntimeError, cond, message)


def _check_is_size(i: Any, message: Callable[[], str] | None = None, *, max: Any = None) -> None:  # noqa: A002
    _check(i >= 0 and (max is None or i <= max), message)


def _check_index(cond: Any, message: Callable[[], str] | None = None) -> None:
    _check_with(IndexError, cond, message)


def _check_value(cond: Any, message: Callable[[], str] | None = None) -> None:
    _check_with(ValueError, cond, message)


def _check_type(cond: Any, message: Callable[[], str] | None = None) -> None:
    _check_with(TypeError, cond, message)


def _check_not_implemented(cond: Any, message: Callable[[], str] | None = None) -> None:
    _check_with(NotImplementedError, cond, message)


def _assert_async(cond: Any, assert_msg: str | None = None) -> None:
    """Raises ``RuntimeError`` when the one-element tensor ``cond`` is false (checked now:
    rustdl's GPU work completes before this returns)."""
    if not _truth(cond, "_assert_async"):
        raise RuntimeError(assert_msg or "Expected Tensor with single nonzero value, but got zero")


class _NamedDType:
    """A dtype PyTorch has and rustdl has no tensors of: it compares, hashes and prints as a
    dtype; making a tensor of it raises ``TypeError``."""

    is_complex = False
    is_floating_point = False

    def __init__(
        self,
        name: str,
        itemsize: int,
        signed: bool | None,
        complex_: bool = False,
        floating: bool = False,
    ) -> None:
        self.name = name
        self.itemsize = itemsize
        self._signed = signed
        self.is_complex = complex_
        self.is_floating_point = floating

    @property
    def is_signed(self) -> bool:
        if self._signed is None:
            raise RuntimeError("isSignedType not supported for quantized types")
        return self._signed

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_named_dtype, (self.name,))


uint16 = _NamedDType("uint16", 2, False)
uint32 = _NamedDType("uint32", 4, False)
uint64 = _NamedDType("uint64", 8, False)
complex32 = chalf = _NamedDType("complex32", 4, True, True)
# the 8-bit floats (and the packed 4-bit one) of PyTorch's low-precision kernels
float8_e4m3fn = _NamedDType("float8_e4m3fn", 1, True, floating=True)
float8_e4m3fnuz = _NamedDType("float8_e4m3fnuz", 1, True, floating=True)
float8_e5m2 = _NamedDType("float8_e5m2", 1, True, floating=True)
float8_e5m2fnuz = _NamedDType("float8_e5m2fnuz", 1, True, floating=True)
float8_e8m0fnu = _NamedDType("float8_e8m0fnu", 1, False, floating=True)
float4_e2m1fn_x2 = _NamedDType("float4_e2m1fn_x2", 1, True, floating=True)
# the quantized integer types (rustdl has no quantized tensors)
qint8 = _NamedDType("qint8", 1, None)
quint8 = _NamedDType("quint8", 1, None)
qint32 = _NamedDType("qint32", 4, None)
quint4x2 = _NamedDType("quint4x2", 1, None)
quint2x4 = _NamedDType("quint2x4", 1, None)

_NAMED = {
    d.name: d
    for d in (
        uint16, uint32, uint64, complex32, float8_e4m3fn, float8_e4m3fnuz, float8_e5m2,
        float8_e5m2fnuz, float8_e8m0fnu, float4_e2m1fn_x2, qint8, quint8, qint32, quint4x2, quint2x4,
    )
}  # fmt: skip


def _named_dtype(name: str) -> _NamedDType:
    return _NAMED[name]
