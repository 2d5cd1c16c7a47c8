"""``torch.distributed.tensor.experimental`` (also ``torch.distributed._tensor.experimental``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .._common import no_sharding

__all__ = ["implicit_replication", "local_map", "register_sharding"]


@contextlib.contextmanager
def implicit_replication() -> Iterator[None]:
    """Lets plain tensors mix with DTensors as replicated ones; with no DTensors it changes
    nothing."""
    yield


def local_map(*args: Any, **kwargs: Any) -> Any:
    raise no_sharding("local_map")


def register_sharding(*args: Any, **kwargs: Any) -> Any:
    raise no_sharding("register_sharding")
