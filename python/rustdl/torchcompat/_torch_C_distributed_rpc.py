"""``torch._C._distributed_rpc``: the RPC types libraries test values against (torchrl's
collectors check ``isinstance(x, PyRRef)``). rustdl has no RPC framework, so no value is a
remote reference; ``torch.distributed.rpc`` itself is not served."""

from __future__ import annotations

from typing import Any

__all__ = ["PyRRef", "WorkerInfo"]


class PyRRef:
    """A remote reference (none exist in rustdl: making one raises)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("PyRRef: rustdl has no RPC framework (torch.distributed.rpc is not supported)")


class WorkerInfo:
    """An RPC worker's identity (none exist in rustdl: making one raises)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("WorkerInfo: rustdl has no RPC framework (torch.distributed.rpc is not supported)")
