"""``torch.fx``: the names model code touches at import time. rustdl runs eagerly and has no
graph tracer, so :func:`wrap` (which marks a function as a leaf for tracing) returns its argument
and :func:`symbolic_trace` raises."""

from __future__ import annotations

from typing import Any

__all__ = ["symbolic_trace", "wrap"]


def wrap(fn_or_name: Any) -> Any:
    """Marks a function as a leaf for symbolic tracing; a no-op here (nothing is traced)."""
    return fn_or_name


def symbolic_trace(root: Any, concrete_args: Any = None) -> Any:
    """Raises NotImplementedError: rustdl has no graph tracer (call the module eagerly)."""
    raise NotImplementedError("rustdl.fx.symbolic_trace: rustdl runs eagerly and has no FX graph tracer")
