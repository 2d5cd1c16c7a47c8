"""``torch._dynamo`` under :mod:`rustdl.torchcompat`, consistent with ``torch.compile`` (which
rustdl accepts and runs eagerly): ``disable``/``allow_in_graph`` return the function unchanged,
``is_compiling()`` is False, ``reset()`` has nothing to clear, and ``config`` holds dynamo's
common flags (``suppress_errors``, ``cache_size_limit``, ...) that scripts set — they have no
effect since nothing is compiled."""

from __future__ import annotations

from typing import Any, Callable

from rustdl.compiler import allow_in_graph, assume_constant_result, is_compiling, reset  # noqa: F401

from . import config, eval_frame  # noqa: F401
from .eval_frame import OptimizedModule

__all__ = [
    "OptimizedModule",
    "allow_in_graph",
    "assume_constant_result",
    "config",
    "disable",
    "explain",
    "is_compiling",
    "mark_dynamic",
    "mark_static",
    "mark_static_address",
    "maybe_mark_dynamic",
    "optimize",
    "reset",
]


def disable(
    fn: Callable | None = None, recursive: bool = True, *, reason: str | None = None, wrapping: bool = True
) -> Any:
    """``torch._dynamo.disable``: ``fn`` itself (a decorator without ``fn``); nothing is compiled."""
    from rustdl.compiler import disable as _disable

    return _disable(fn, recursive, reason=reason)


def optimize(backend: Any = "inductor", *, nopython: bool = False, **kwargs: Any) -> Callable:
    """``torch._dynamo.optimize(backend)``: a decorator returning the function unchanged, as
    ``torch.compile`` does in rustdl."""
    return lambda fn: fn


def explain(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Not available: rustdl traces no graphs, so there is nothing to explain."""
    raise NotImplementedError("torch._dynamo.explain: rustdl runs eagerly and traces no graphs")


def mark_static_address(t: Any, guard: bool = True) -> None:
    """Tells the compiler a tensor's address will not change (static caches): nothing is
    compiled here, so there is nothing to record."""


def mark_dynamic(t: Any, index: Any, **kwargs: Any) -> None:
    """Marks a dim as dynamic for the compiler: nothing is compiled here."""


def maybe_mark_dynamic(t: Any, index: Any) -> None:
    """As :func:`mark_dynamic`."""


def mark_static(t: Any, index: Any = None) -> None:
    """Marks a dim as static for the compiler: nothing is compiled here."""
