"""``torch.utils.data._utils.pin_memory``: pinning is a no-op here (host tensors need none), so
``pin_memory`` returns the batch it is given."""

from __future__ import annotations

from typing import Any

__all__ = ["pin_memory"]


def pin_memory(data: Any, device: Any = None) -> Any:  # noqa: ARG001
    """The batch ``data`` itself: rustdl's host tensors need no pinning."""
    return data
