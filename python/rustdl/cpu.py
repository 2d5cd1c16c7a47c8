"""``torch.cpu``: the CPU device's small API (always available, one device, nothing to wait on)
and its ``amp`` namespace (:mod:`rustdl.amp`: ``torch.cpu.amp.autocast``)."""

from __future__ import annotations

from typing import Any

from . import amp  # noqa: F401  (torch.cpu.amp)

__all__ = ["amp", "current_device", "device_count", "is_available", "set_device", "synchronize"]


def is_available() -> bool:
    """True: the CPU is always there."""
    return True


def device_count() -> int:
    """1: rustdl treats the host as one CPU device."""
    return 1


def current_device() -> str:
    """``"cpu"``."""
    return "cpu"


def set_device(device: Any) -> None:
    """Accepted (the CPU is the only CPU device)."""


def synchronize(device: Any = None) -> None:
    """Returns at once: CPU ops have finished when they return."""
