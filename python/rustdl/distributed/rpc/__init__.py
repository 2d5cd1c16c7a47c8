"""``torch.distributed.rpc``: the names programs test against, without an RPC runtime.

rustdl's distributed training is data-parallel over MPI (see :mod:`rustdl.distributed`); it has
no remote-procedure-call framework. Code that only checks ``isinstance(x, rpc.api.RRef)`` or
``rpc.is_available()`` runs (no object is ever an :class:`RRef`); starting RPC raises a
``RuntimeError`` that says so."""

from __future__ import annotations

from typing import Any

from . import api
from .api import RRef

__all__ = ["RRef", "api", "init_rpc", "is_available", "remote", "rpc_async", "rpc_sync", "shutdown"]


def is_available() -> bool:
    """False: rustdl has no RPC framework."""
    return False


def _unsupported(name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"torch.distributed.rpc.{name}: rustdl has no RPC framework (its distributed training is "
            "data-parallel over MPI: rustdl.distributed)"
        )

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"Raises: rustdl has no RPC framework ({name})."
    return call


init_rpc = _unsupported("init_rpc")
rpc_sync = _unsupported("rpc_sync")
rpc_async = _unsupported("rpc_async")
remote = _unsupported("remote")
shutdown = _unsupported("shutdown")
