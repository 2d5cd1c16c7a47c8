"""ShapeProp: runs a graph on example inputs and records, in each node's ``meta``, the shape,
dtype and layout of the tensors it produced."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..._rustdl import Tensor
from ..interpreter import Interpreter
from ..node import Node, map_aggregate

__all__ = ["ShapeProp", "TensorMetadata"]


class TensorMetadata(NamedTuple):
    """What ShapeProp records about a tensor."""

    shape: Any
    dtype: Any
    requires_grad: bool
    stride: tuple[int, ...]
    memory_format: Any
    is_quantized: bool
    qparams: dict[str, Any]


def _extract_tensor_metadata(result: Tensor) -> TensorMetadata:
    import rustdl

    memory_format = None
    if result.is_contiguous():
        memory_format = getattr(rustdl, "contiguous_format", None)
    return TensorMetadata(
        shape=result.shape,
        dtype=result.dtype,
        requires_grad=bool(result.requires_grad),
        stride=tuple(result.stride()),
        memory_format=memory_format,
        is_quantized=False,
        qparams={},
    )


class ShapeProp(Interpreter):
    """Runs the module's graph and sets ``node.meta['tensor_meta']`` on every node whose value
    holds tensors (a :class:`TensorMetadata`, or a list/tuple/dict of them, matching the value)
    and ``node.meta['type']`` to the value's type.

    Example:
        >>> ShapeProp(gm).propagate(rustdl.randn(2, 3))
        >>> [n.meta["tensor_meta"].shape for n in gm.graph.nodes if "tensor_meta" in n.meta]
    """

    def run_node(self, n: Node) -> Any:
        result = super().run_node(n)
        found = False

        def extract(obj: Any) -> Any:
            nonlocal found
            if isinstance(obj, Tensor):
                found = True
                return _extract_tensor_metadata(obj)
            return obj

        meta = map_aggregate(result, extract)
        if found:
            n.meta["tensor_meta"] = meta
        n.meta["type"] = type(result)
        return result

    def propagate(self, *args: Any) -> Any:
        """Runs the graph on ``args`` (recording metadata) and returns its output."""
        return self.run(*args)
