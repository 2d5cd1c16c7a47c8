"""``torch.cuda.amp`` (and ``torch.cpu.amp``): the older, device-bound spellings of ``torch.amp``,
whose ``autocast`` takes ``enabled`` first (``torch.cuda.amp.autocast(True)``) and whose
``GradScaler`` has no ``device`` argument, as PyTorch's. Everything else is :mod:`rustdl.amp`'s."""

from __future__ import annotations

import warnings
from typing import Any

from rustdl import amp as _amp
from rustdl.amp import *  # noqa: F403
from rustdl.amp import OptState  # noqa: F401  (torch.cuda.amp.grad_scaler.OptState)

__all__ = [*_amp.__all__, "OptState"]

_DEVICE = "cuda"


def _deprecated(name: str, device: str) -> None:
    warnings.warn(
        f"`torch.{device}.amp.{name}(args...)` is deprecated. Please use "
        f"`torch.amp.{name}('{device}', args...)` instead.",
        FutureWarning,
        stacklevel=3,
    )


def _bound_to(device: str) -> tuple[type, type]:
    """``autocast`` and ``GradScaler`` bound to ``device``, with the older spellings' signatures
    (``enabled`` first; no ``device`` argument)."""

    class autocast(_amp.autocast):  # noqa: N801  (PyTorch's name)
        def __init__(self, enabled: bool = True, dtype: Any = None, cache_enabled: bool = True) -> None:
            _deprecated("autocast", device)
            super().__init__(device, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    class GradScaler(_amp.GradScaler):
        def __init__(
            self,
            init_scale: float = 2.0**16,
            growth_factor: float = 2.0,
            backoff_factor: float = 0.5,
            growth_interval: int = 2000,
            enabled: bool = True,
        ) -> None:
            _deprecated("GradScaler", device)
            super().__init__(device, init_scale, growth_factor, backoff_factor, growth_interval, enabled)

    autocast.__doc__ = f"``torch.{device}.amp.autocast(enabled=True, dtype=..., cache_enabled=True)``."
    GradScaler.__doc__ = f"``torch.{device}.amp.GradScaler(...)``: the ``torch.amp`` scaler for {device}."
    return autocast, GradScaler


autocast, GradScaler = _bound_to(_DEVICE)


def custom_fwd(fwd: Any = None, *, cast_inputs: Any = None) -> Any:
    """``torch.cuda.amp.custom_fwd``: :func:`rustdl.amp.custom_fwd` for CUDA."""
    return _amp.custom_fwd(fwd, device_type=_DEVICE, cast_inputs=cast_inputs)


def custom_bwd(bwd: Any = None) -> Any:
    """``torch.cuda.amp.custom_bwd``: :func:`rustdl.amp.custom_bwd` for CUDA."""
    return _amp.custom_bwd(bwd, device_type=_DEVICE)
