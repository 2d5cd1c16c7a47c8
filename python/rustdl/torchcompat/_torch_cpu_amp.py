"""``torch.cpu.amp``: ``autocast(enabled=True, dtype=torch.bfloat16, cache_enabled=True)`` and
``GradScaler`` bound to the CPU, as PyTorch's older spellings; the rest is :mod:`rustdl.amp`'s."""

from __future__ import annotations

from typing import Any

from rustdl import amp as _amp
from rustdl.amp import *  # noqa: F403

from ._torch_cuda_amp import _deprecated

__all__ = list(_amp.__all__)


class autocast(_amp.autocast):  # noqa: N801  (PyTorch's name)
    """``torch.cpu.amp.autocast(enabled=True, dtype=torch.bfloat16, cache_enabled=True)``."""

    def __init__(self, enabled: bool = True, dtype: Any = None, cache_enabled: bool = True) -> None:
        _deprecated("autocast", "cpu")
        super().__init__("cpu", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_amp.GradScaler):
    """``torch.cpu.amp.GradScaler(...)``: the ``torch.amp`` scaler for the CPU."""

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        _deprecated("GradScaler", "cpu")
        super().__init__("cpu", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
