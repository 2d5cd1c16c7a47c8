"""``torch.overrides``: the ``__torch_function__`` protocol probes that library code calls.

rustdl has no ``__torch_function__`` dispatch of its own, but objects of other types may define
one: :func:`has_torch_function` finds those among the arguments, and
:func:`handle_torch_function` hands the call to them as PyTorch does (the first such type, in
argument order with subclasses before their bases, whose result is not ``NotImplemented``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ._rustdl import Tensor

__all__ = [
    "TorchFunctionMode",
    "handle_torch_function",
    "has_torch_function",
    "has_torch_function_unary",
    "has_torch_function_variadic",
    "is_tensor_like",
]


def _overriding_types(args: Iterable[Any]) -> list[type]:
    found: list[type] = []
    for a in args:
        t = type(a)
        if t in found or (isinstance(a, Tensor) and t is Tensor):
            continue
        if getattr(t, "__torch_function__", None) is None:
            continue
        # subclasses go before their bases
        pos = next((i for i, f in enumerate(found) if issubclass(t, f)), len(found))
        found.insert(pos, t)
    return found


def has_torch_function(relevant_args: Iterable[Any]) -> bool:
    """True if an argument's type defines ``__torch_function__`` (plain tensors do not)."""
    return bool(_overriding_types(relevant_args))


def has_torch_function_unary(obj: Any) -> bool:
    """:func:`has_torch_function` of one argument."""
    return has_torch_function((obj,))


def has_torch_function_variadic(*args: Any) -> bool:
    """:func:`has_torch_function` of the arguments given."""
    return has_torch_function(args)


def handle_torch_function(
    public_api: Callable, relevant_args: Iterable[Any], *args: Any, **kwargs: Any
) -> Any:
    """Calls ``__torch_function__`` of the overriding types among ``relevant_args``; raises
    TypeError when every one returns ``NotImplemented``."""
    relevant = list(relevant_args)
    types_ = tuple(_overriding_types(relevant))
    for t in types_:
        out = t.__torch_function__(public_api, types_, args, kwargs)
        if out is not NotImplemented:
            return out
    name = getattr(public_api, "__name__", repr(public_api))
    raise TypeError(
        f"no implementation found for '{name}' on types that implement __torch_function__: "
        f"{[t.__name__ for t in types_]}"
    )


def is_tensor_like(inp: Any) -> bool:
    """True for tensors and for objects whose type defines ``__torch_function__``."""
    return isinstance(inp, Tensor) or getattr(type(inp), "__torch_function__", None) is not None


class TorchFunctionMode:
    """A context under which PyTorch hands every torch call to :meth:`__torch_function__`.

    rustdl does not dispatch calls through modes: a mode can be entered and left (library code
    subclasses this class and uses it as a context manager), and calls inside run unchanged. A
    subclass that defines ``__torch_function__`` gets a ``UserWarning`` on entering, once, since
    its hook will not be called."""

    _warned = False

    def __torch_function__(self, func: Callable, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        return func(*args, **(kwargs or {}))

    def __enter__(self) -> TorchFunctionMode:
        if (
            type(self).__torch_function__ is not TorchFunctionMode.__torch_function__
            and not TorchFunctionMode._warned
        ):
            import warnings

            TorchFunctionMode._warned = True
            warnings.warn(
                f"{type(self).__name__}: rustdl does not dispatch torch calls through TorchFunctionMode; "
                "its __torch_function__ is not called and calls run unchanged",
                UserWarning,
                stacklevel=2,
            )
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    @classmethod
    def push(cls, *args: Any, **kwargs: Any) -> TorchFunctionMode:
        return cls(*args, **kwargs)
