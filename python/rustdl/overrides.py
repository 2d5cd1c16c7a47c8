"""``torch.overrides``: the ``__torch_function__`` protocol's public API.

Tensor subclasses and objects whose type defines ``__torch_function__`` see the calls of the
public API made with them, and a :class:`TorchFunctionMode` sees every call made while it is
active, as in PyTorch (the rules are in :mod:`rustdl._dispatch`). This module gives the probes
library code calls (:func:`has_torch_function`, :func:`handle_torch_function`), the mode class and
the lists of the API that takes part.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import _dispatch
from . import _dispatch_names as _names
from ._dispatch import _state, get_default_nowrap_functions, overriding_types
from ._rustdl import Tensor

__all__ = [
    "BaseTorchFunctionMode",
    "TorchFunctionMode",
    "enable_reentrant_dispatch",
    "get_default_nowrap_functions",
    "get_ignored_functions",
    "get_overridable_functions",
    "handle_torch_function",
    "has_torch_function",
    "has_torch_function_unary",
    "has_torch_function_variadic",
    "is_tensor_like",
    "is_tensor_method_or_property",
    "resolve_name",
    "wrap_torch_function",
]


def has_torch_function(relevant_args: Iterable[Any]) -> bool:
    """True when a call with ``relevant_args`` would be handed to ``__torch_function__``: a mode is
    active, or an argument's type overrides it (plain tensors and ``Parameter`` do not)."""
    st = _state
    if st.all_off:
        return False
    if st.modes:
        return True
    if st.subclass_off:
        return False
    return bool(overriding_types(tuple(relevant_args)))


def has_torch_function_unary(obj: Any) -> bool:
    """:func:`has_torch_function` of one argument."""
    return has_torch_function((obj,))


def has_torch_function_variadic(*args: Any) -> bool:
    """:func:`has_torch_function` of the arguments given."""
    return has_torch_function(args)


def handle_torch_function(
    public_api: Callable, relevant_args: Iterable[Any], *args: Any, **kwargs: Any
) -> Any:
    """Hands a call of ``public_api`` to the active mode, else to the overriding types among
    ``relevant_args`` (subclasses before their bases, in argument order); raises TypeError when
    every one returns ``NotImplemented``."""
    st = _state
    found = overriding_types(tuple(relevant_args))
    if st.modes and not st.all_off:
        mode = st.modes.pop()
        try:
            out = mode.__torch_function__(public_api, tuple(found), args, kwargs)
        finally:
            st.modes.append(mode)
        if out is not NotImplemented:
            return out
        if not found:
            name = getattr(public_api, "__name__", repr(public_api))
            raise TypeError(f"no implementation found for '{name}': the active mode returned NotImplemented")
    if not found:
        return public_api(*args, **kwargs)  # nothing overrides: the function itself, as PyTorch's
    return _dispatch._call_overrides(public_api, found, args, kwargs)


def is_tensor_like(inp: Any) -> bool:
    """True for tensors and for objects whose type defines ``__torch_function__``."""
    return isinstance(inp, Tensor) or getattr(type(inp), "__torch_function__", None) is not None


class TorchFunctionMode:
    """A context under which every call of the public API — functions, Tensor methods, property
    getters, factories — goes to :meth:`__torch_function__` first (``func`` is what was called).
    While the hook runs, the mode is off the stack: calls it makes go on to the modes below it
    and then run. Subclass it and override :meth:`__torch_function__`.

    Example:
        >>> class Log(TorchFunctionMode):
        ...     def __torch_function__(self, func, types, args=(), kwargs=None):
        ...         print(func.__name__)
        ...         return func(*args, **(kwargs or {}))
        >>> with Log():
        ...     y = rustdl.ones(2) + 1
    """

    def __init__(self) -> None:
        pass

    def __torch_function__(self, func: Callable, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        raise NotImplementedError

    def __enter__(self) -> TorchFunctionMode:
        _dispatch.push_mode(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _dispatch.pop_mode()

    @classmethod
    def push(cls, *args: Any, **kwargs: Any) -> TorchFunctionMode:
        """A new mode of this class, to be used as a context (``with Mode.push():``)."""
        return cls(*args, **kwargs)


class BaseTorchFunctionMode(TorchFunctionMode):
    """A mode whose hook runs the call unchanged (a base for modes that override a few calls)."""

    def __torch_function__(self, func: Callable, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        return func(*args, **(kwargs or {}))


def _get_current_function_mode() -> TorchFunctionMode | None:
    modes = _state.modes
    return modes[-1] if modes else None


def _get_current_function_mode_stack() -> list[TorchFunctionMode]:
    return list(_state.modes)


@contextlib.contextmanager
def _pop_mode_temporarily() -> Iterator[TorchFunctionMode | None]:
    mode = _dispatch.pop_mode() if _state.modes else None
    try:
        yield mode
    finally:
        if mode is not None:
            _dispatch.push_mode(mode)


@contextlib.contextmanager
def enable_reentrant_dispatch() -> Iterator[None]:
    """Accepted for PyTorch's ``__torch_dispatch__`` code (rustdl has no dispatcher levels)."""
    yield


def get_ignored_functions() -> set[Callable]:
    """Public callables that do not take part (rustdl's: those outside the overridable lists)."""
    import rustdl

    out = set()
    for name in dir(rustdl):
        value = getattr(rustdl, name, None)
        if callable(value) and not isinstance(value, type) and not name.startswith("_"):
            if name not in _names.TORCH:
                out.add(value)
    return out


def get_overridable_functions() -> dict[Any, list[Callable]]:
    """The functions and Tensor methods that take part, by namespace (those rustdl has)."""
    import rustdl

    from . import fft, linalg, special
    from .nn import functional

    out: dict[Any, list[Callable]] = {}
    for module, names in (
        (rustdl, _names.TORCH),
        (functional, _names.FUNCTIONAL),
        (linalg, _names.LINALG),
        (fft, _names.FFT),
        (special, _names.SPECIAL),
    ):
        fns = [getattr(module, n) for n in sorted(names) if callable(getattr(module, n, None))]
        out[module] = [f for f in fns if not isinstance(f, type)]
    out[Tensor] = [getattr(Tensor, n) for n in sorted(_names.TENSOR_METHODS) if hasattr(Tensor, n)]
    return out


def is_tensor_method_or_property(func: Callable) -> bool:
    """True for a Tensor method or property getter (``Tensor.add``, ``Tensor.shape.__get__``)."""
    name = getattr(func, "__name__", None)
    if name == "__get__":
        owner = getattr(func, "__self__", None)
        return any(Tensor.__dict__.get(n) is owner for n in _names.TENSOR_PROPERTIES)
    return name is not None and getattr(Tensor, name, None) is func


def resolve_name(f: Callable) -> str | None:
    """``torch.add`` style name of a public function or Tensor method."""
    name = getattr(f, "__name__", None)
    if name is None:
        return None
    if is_tensor_method_or_property(f):
        if name == "__get__":
            owner = getattr(f, "__self__", None)
            prop = next((n for n in _names.TENSOR_PROPERTIES if Tensor.__dict__.get(n) is owner), name)
            return f"torch.Tensor.{prop}.__get__"
        return f"torch.Tensor.{name}"
    import rustdl

    from . import fft, linalg, special
    from .nn import functional, init

    # the namespace that holds the very object (F.linear is a native function of the core)
    for module, theirs, prefix in (
        (functional, "torch.nn.functional", ""),
        (init, "torch.nn.init", ""),
        (linalg, "torch.linalg", "linalg_"),
        (fft, "torch.fft", "fft_"),
        (special, "torch.special", "special_"),
        (rustdl, "torch", ""),
    ):
        short = name[len(prefix) :] if name.startswith(prefix) else name
        if vars(module).get(short) is f:
            return f"{theirs}.{short}"
    return None


def wrap_torch_function(dispatcher: Callable) -> Callable[[Callable], Callable]:
    """Decorator making a function take part: ``dispatcher(*args, **kwargs)`` names the relevant
    arguments, and calls with overriding types among them are handed to their hooks."""

    def inner(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            relevant = dispatcher(*args, **kwargs)
            if has_torch_function(relevant):
                return handle_torch_function(wrapped, relevant, *args, **kwargs)
            return func(*args, **kwargs)

        return wrapped

    return inner
