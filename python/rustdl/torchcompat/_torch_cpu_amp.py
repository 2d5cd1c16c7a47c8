"""``torch.cpu.amp``: ``autocast(enabled=True, dtype=torch.bfloat16, cache_enabled=True)`` and
``GradScaler`` bound to the CPU, as PyTorch's older spellings; the rest is :mod:`rustdl.amp`'s."""

from __future__ import annotations

from rustdl import amp as _amp
from rustdl.amp import *  # noqa: F403

from ._torch_cuda_amp import _bound_to

__all__ = list(_amp.__all__)

autocast, GradScaler = _bound_to("cpu")
