"""Activation checkpointing, as ``torch.utils.checkpoint``.

rustdl keeps every activation its backward needs, so :func:`checkpoint` runs the function
directly: the same outputs and gradients as PyTorch's, without the memory saving (the
recomputation PyTorch trades for it is not done).
"""

from __future__ import annotations

from typing import Any

__all__ = ["checkpoint", "checkpoint_sequential"]


def checkpoint(function: Any, *args: Any, use_reentrant: bool | None = None, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` (PyTorch's keyword arguments ``preserve_rng_state``,
    ``context_fn``, ``determinism_check``, ``debug`` are accepted and ignored)."""
    for key in ("preserve_rng_state", "context_fn", "determinism_check", "debug"):
        kwargs.pop(key, None)
    return function(*args, **kwargs)


def checkpoint_sequential(
    functions: Any, segments: int, input: Any, use_reentrant: bool | None = None, **kwargs: Any
) -> Any:
    """Runs ``functions`` (a ``Sequential`` or a list of modules) one after another on ``input``."""
    if segments < 1:
        raise ValueError(f"checkpoint_sequential: segments must be >= 1, got {segments}")
    mods = list(functions.children()) if hasattr(functions, "children") else list(functions)
    out = input
    for f in mods:
        out = f(out)
    return out
