"""``torch._C``: the few private probes model code calls (timm, torchvision)."""

from __future__ import annotations

from typing import Any

import rustdl


def _get_tracing_state() -> None:
    """None: nothing is ever being traced (rustdl runs eagerly)."""
    return None


def _set_grad_enabled(mode: bool) -> None:
    """Turns gradient recording on or off, as ``torch.set_grad_enabled(mode)`` used as a call."""
    rustdl.set_grad_enabled(bool(mode))


def _log_api_usage_once(*args: Any) -> None:
    """Accepted (rustdl logs no API usage)."""


def _disabled_torch_function_impl(func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
    """A subclass's ``__torch_function__`` that runs ``func`` unchanged (no subclass handling)."""
    return func(*args, **(kwargs or {}))


def __getattr__(name: str) -> Any:
    # torch._C's error classes are the ones rustdl raises
    if name == "_LinAlgError":
        return rustdl.linalg.LinAlgError
    raise AttributeError(f"module 'torch._C' has no attribute '{name}' in rustdl")
