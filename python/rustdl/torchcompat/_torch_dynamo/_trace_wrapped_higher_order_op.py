"""``torch._dynamo._trace_wrapped_higher_order_op``: :class:`TransformGetItemToIndex`, the mode
under which PyTorch's compiler reads ``tensor[idx_tensor]`` inside mask functions as an index
op. Eager rustdl indexes with tensors directly, so the mode changes nothing."""

from __future__ import annotations

from typing import Any

__all__ = ["TransformGetItemToIndex"]


class TransformGetItemToIndex:
    """A context manager with no effect here (see the module's docstring)."""

    def __enter__(self) -> TransformGetItemToIndex:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None
