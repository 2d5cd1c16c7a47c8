"""``torch.distributed.rpc.api``: the :class:`RRef` type (nothing is ever one in rustdl)."""

from __future__ import annotations

from typing import Any

__all__ = ["RRef"]


class RRef:
    """A remote reference; rustdl has no RPC framework, so none can be made."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("torch.distributed.rpc.RRef: rustdl has no RPC framework")


def _require_initialized(func: Any) -> Any:
    """Decorator for functions that need a running RPC agent: calling one raises, as none can
    be started in rustdl."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            "RPC has not been initialized. Call torch.distributed.rpc.init_rpc first "
            "(rustdl has no RPC framework)"
        )

    return wrapper
