"""``torch._guards``: the tracing-context probes libraries call in eager code (tensordict asks
``active_fake_mode()`` before writing to disk). rustdl never traces nor fakes tensors, so no
fake mode or tracing context is ever active."""

from __future__ import annotations

from typing import Any

__all__ = ["TracingContext", "active_fake_mode", "detect_fake_mode"]


def active_fake_mode() -> None:
    """None: no FakeTensorMode is active (rustdl's tensors are always real)."""
    return None


def detect_fake_mode(inputs: Any = None) -> None:
    """None: no fake mode is active and no input is a fake tensor."""
    return None


class TracingContext:
    """PyTorch's compiler tracing context; none is ever active in rustdl."""

    @staticmethod
    def try_get() -> None:
        return None

    @staticmethod
    def get() -> Any:
        raise AssertionError("TracingContext.get() must be called within an ongoing trace.")
