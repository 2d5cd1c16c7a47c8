"""The API of a device kind rustdl has no backend for (``torch.mps``, ``torch.xpu``): scripts
that probe for it (``torch.mps.is_available()``) or tidy up after it (``empty_cache()``,
``synchronize()``, ``manual_seed(s)``) run, and find none. rustdl's GPU is reached as ``cuda``
or ``gpu`` whatever the hardware (Vulkan, Metal, DX12)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "current_allocated_memory",
    "device_count",
    "driver_allocated_memory",
    "empty_cache",
    "is_available",
    "manual_seed",
    "manual_seed_all",
    "seed",
    "synchronize",
]


def is_available() -> bool:
    """False: rustdl has no backend of this kind (its GPU is ``cuda``/``gpu``)."""
    return False


def device_count() -> int:
    """0."""
    return 0


def synchronize(device: Any = None) -> None:
    """Returns at once (no such device runs anything)."""


def empty_cache() -> None:
    """Returns at once (no such device holds memory)."""


def manual_seed(seed: int) -> None:
    """Accepted (no such device draws random numbers)."""


def manual_seed_all(seed: int) -> None:
    """Accepted (no such device draws random numbers)."""


def seed() -> None:
    """Accepted (no such device draws random numbers)."""


def current_allocated_memory() -> int:
    """0 bytes."""
    return 0


def driver_allocated_memory() -> int:
    """0 bytes."""
    return 0
