"""``torch.nn.attention``: :class:`SDPBackend` and the :func:`sdpa_kernel` context manager.

rustdl has one implementation of :func:`rustdl.nn.functional.scaled_dot_product_attention`
(the math one, on its native kernels), so choosing backends changes nothing: ``sdpa_kernel``
checks its argument as PyTorch does, records the choice for the block (:func:`current_backends`),
and results are the same inside and outside it."""

from __future__ import annotations

import contextlib
import enum
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["SDPBackend", "current_backends", "sdpa_kernel"]


class SDPBackend(enum.IntEnum):
    """The fused-attention backends PyTorch can pick (values as PyTorch's)."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


_ALL = [
    SDPBackend.MATH,
    SDPBackend.FLASH_ATTENTION,
    SDPBackend.EFFICIENT_ATTENTION,
    SDPBackend.CUDNN_ATTENTION,
    SDPBackend.OVERRIDEABLE,
]
_STATE = threading.local()


def current_backends() -> list[SDPBackend]:
    """The backends the innermost :func:`sdpa_kernel` block allows (all of them outside one)."""
    return list(getattr(_STATE, "backends", _ALL))


@contextlib.contextmanager
def sdpa_kernel(backends: Any, set_priority: bool = False) -> Iterator[None]:
    """Limits scaled-dot-product attention to ``backends`` (an :class:`SDPBackend` or a list of
    them) inside the block; rustdl's single implementation gives the same results either way.

    Raises:
        AssertionError: ``backends`` is not an SDPBackend or a list of them (as PyTorch).
    """
    if isinstance(backends, SDPBackend):
        chosen = [backends]
    elif isinstance(backends, (list, tuple, set)) and all(isinstance(b, SDPBackend) for b in backends):
        chosen = list(backends)
    else:
        raise AssertionError(
            "Backend must be an instance of SDPBackend or a list of SDPBackend instances, "
            f"got {type(backends).__name__}"
        )
    prev = getattr(_STATE, "backends", None)
    _STATE.backends = chosen
    try:
        yield
    finally:
        if prev is None:
            del _STATE.backends
        else:
            _STATE.backends = prev
