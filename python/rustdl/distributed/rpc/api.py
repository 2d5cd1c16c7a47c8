"""``torch.distributed.rpc.api``: the :class:`RRef` type (nothing is ever one in rustdl)."""

from __future__ import annotations

from typing import Any

__all__ = ["RRef"]


class RRef:
    """A remote reference; rustdl has no RPC framework, so none can be made."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("torch.distributed.rpc.RRef: rustdl has no RPC framework")
