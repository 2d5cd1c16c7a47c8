"""``torch.backends.cuda`` switches scripts set at the top (``matmul.allow_tf32 = True``,
``enable_flash_sdp(False)``): accepted and stored, changing nothing (rustdl's GPU kernels compute in
float32 and ``scaled_dot_product_attention`` has one implementation)."""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = [
    "enable_flash_sdp",
    "enable_math_sdp",
    "enable_mem_efficient_sdp",
    "flash_sdp_enabled",
    "is_built",
    "math_sdp_enabled",
    "matmul",
    "mem_efficient_sdp_enabled",
    "sdp_kernel",
]


class _MatmulFlags:
    """``torch.backends.cuda.matmul``: ``allow_tf32`` and the reduced-precision flags."""

    def __init__(self) -> None:
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()
_SDP = {"flash": True, "mem_efficient": True, "math": True}


def is_built() -> bool:
    """Whether rustdl's GPU backend is compiled in (what ``"cuda"`` maps to): always True."""
    return True


def enable_flash_sdp(enabled: bool) -> None:
    """Stored; rustdl has one attention implementation."""
    _SDP["flash"] = bool(enabled)


def enable_mem_efficient_sdp(enabled: bool) -> None:
    """Stored; rustdl has one attention implementation."""
    _SDP["mem_efficient"] = bool(enabled)


def enable_math_sdp(enabled: bool) -> None:
    """Stored; rustdl has one attention implementation."""
    _SDP["math"] = bool(enabled)


def flash_sdp_enabled() -> bool:
    """The stored flag."""
    return _SDP["flash"]


def mem_efficient_sdp_enabled() -> bool:
    """The stored flag."""
    return _SDP["mem_efficient"]


def math_sdp_enabled() -> bool:
    """The stored flag."""
    return _SDP["math"]


@contextlib.contextmanager
def sdp_kernel(
    enable_flash: bool = True, enable_math: bool = True, enable_mem_efficient: bool = True, **_: Any
):
    """Context manager setting the three flags for its body (restored after)."""
    old = dict(_SDP)
    _SDP.update(flash=enable_flash, math=enable_math, mem_efficient=enable_mem_efficient)
    try:
        yield
    finally:
        _SDP.update(old)
