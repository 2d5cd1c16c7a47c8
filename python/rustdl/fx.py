"""``torch.fx``: the names model code touches at import time. rustdl runs eagerly and has no
graph tracer, so :func:`wrap` (which marks a function as a leaf for tracing) returns its argument
and :func:`symbolic_trace` raises."""

from __future__ import annotations

from typing import Any

__all__ = ["Graph", "Node", "Proxy", "Tracer", "symbolic_trace", "wrap"]


def wrap(fn_or_name: Any) -> Any:
    """Marks a function as a leaf for symbolic tracing; a no-op here (nothing is traced)."""
    return fn_or_name


def symbolic_trace(root: Any, concrete_args: Any = None) -> Any:
    """Raises NotImplementedError: rustdl has no graph tracer (call the module eagerly)."""
    raise NotImplementedError("rustdl.fx.symbolic_trace: rustdl runs eagerly and has no FX graph tracer")


def _no_graphs(what: str) -> NotImplementedError:
    return NotImplementedError(f"rustdl.fx.{what}: rustdl runs eagerly and builds no FX graphs")


class Graph:
    """An FX graph. The type exists (annotations and ``isinstance`` checks name it); none can be
    built, as rustdl has no tracer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _no_graphs("Graph")


class Node:
    """A node of an FX graph (none exist in rustdl)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _no_graphs("Node")


class Proxy:
    """A traced value (none exist in rustdl)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _no_graphs("Proxy")


class Tracer:
    """The FX tracer (tracing raises in rustdl)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _no_graphs("Tracer")


def __getattr__(name: str) -> Any:
    # GraphModule is an nn.Module subclass: made on first use (nn imports later than fx)
    if name == "GraphModule":
        from . import nn

        class GraphModule(nn.Module):
            """A module made from an FX graph (none can be made in rustdl)."""

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                raise _no_graphs("GraphModule")

        GraphModule.__module__ = __name__
        globals()["GraphModule"] = GraphModule
        return GraphModule
    raise AttributeError(f"module 'rustdl.fx' has no attribute '{name}'")
