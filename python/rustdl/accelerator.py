"""``torch.accelerator``-shaped probes (PyTorch 2.6+ API) answering for rustdl's GPU.

Example:
    >>> device = rustdl.accelerator.current_accelerator() if rustdl.accelerator.is_available() else rustdl.device("cpu")
"""

from __future__ import annotations

from . import _rustdl, cuda

__all__ = ["current_accelerator", "current_device_index", "device_count", "is_available", "synchronize"]


def is_available() -> bool:
    """True when rustdl can use a GPU (see :func:`rustdl.cuda.is_available`)."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False):
    """The GPU as a ``rustdl.device`` (``gpu:0``), or None when there is none."""
    if not cuda.is_available():
        return None
    return _rustdl.device("gpu")


def device_count() -> int:
    """Number of GPUs rustdl can use."""
    return cuda.device_count()


def current_device_index() -> int:
    """Index of the current accelerator: 0."""
    return 0


def synchronize(device: object = None) -> None:
    """Waits for queued GPU work to finish."""
    cuda.synchronize()
