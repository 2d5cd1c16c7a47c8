"""``torch.cuda``-shaped device probes that answer for rustdl's GPU (wgpu: Vulkan/Metal/DX12/GL).

rustdl has no CUDA; "cuda" here means "rustdl's GPU", so scripts written for PyTorch that ask
``torch.cuda.is_available()`` get a truthful answer about the device rustdl can use. Setting
``RUSTDL_COMPAT_DEVICE=cpu`` makes :func:`is_available` answer False (the CPU is forced).

Example:
    >>> import rustdl
    >>> dev = "cuda" if rustdl.cuda.is_available() else "cpu"
"""

from __future__ import annotations

import os

from . import _rustdl, amp, gpu  # noqa: F401  (amp: torch.cuda.amp)

__all__ = [
    "current_device",
    "device_count",
    "empty_cache",
    "get_device_capability",
    "get_device_name",
    "is_available",
    "is_bf16_supported",
    "manual_seed",
    "manual_seed_all",
    "max_memory_allocated",
    "max_memory_reserved",
    "memory_allocated",
    "memory_reserved",
    "reset_peak_memory_stats",
    "set_device",
    "synchronize",
]


def _forced_cpu() -> bool:
    return os.environ.get("RUSTDL_COMPAT_DEVICE", "").strip().lower() == "cpu"


def is_available() -> bool:
    """True when rustdl found a GPU adapter and ``RUSTDL_COMPAT_DEVICE`` is not ``cpu``."""
    return not _forced_cpu() and gpu.is_available()


def device_count() -> int:
    """Number of GPU adapters rustdl can use (0 when the CPU is forced)."""
    return 0 if _forced_cpu() else gpu.device_count()


def current_device() -> int:
    """Index of the current GPU: always 0 (rustdl uses the first adapter by default)."""
    return 0


def set_device(device: object) -> None:
    """Accepted for compatibility; rustdl picks devices per tensor (``t.to('gpu:N')``)."""


def get_device_name(device: object = None) -> str:
    """The adapter's name, e.g. ``'llvmpipe (LLVM 15.0.7, 256 bits)'``."""
    index = device if isinstance(device, int) else 0
    return str(gpu.adapter_info(index).get("name", "gpu"))


def manual_seed(seed: int) -> None:
    """Seeds rustdl's generator (shared by the CPU and GPU kernels)."""
    _rustdl.manual_seed(int(seed))


manual_seed_all = manual_seed


def synchronize(device: object = None) -> None:
    """Waits for all queued GPU work to finish (no-op without a GPU)."""
    if gpu.is_available():
        gpu.synchronize()


def empty_cache() -> None:
    """Frees the GPU buffer pool (no-op without a GPU)."""
    if gpu.is_available():
        gpu.empty_cache()


def memory_allocated(device: object = None) -> int:
    """Bytes the GPU buffer pool has allocated (rustdl's ``bytes_allocated`` counter)."""
    if not gpu.is_available():
        return 0
    return int(gpu.stats().get("bytes_allocated", 0))


def max_memory_allocated(device: object = None) -> int:
    """The GPU pool's bytes: its buffers are reused, not returned, so it is also the peak."""
    return memory_allocated(device)


def memory_reserved(device: object = None) -> int:
    """The GPU pool's bytes (as :func:`memory_allocated`)."""
    return memory_allocated(device)


def max_memory_reserved(device: object = None) -> int:
    """The GPU pool's bytes (as :func:`memory_allocated`)."""
    return memory_allocated(device)


def reset_peak_memory_stats(device: object = None) -> None:
    """Accepted; the pool's counter is not reset."""


def get_device_capability(device: object = None) -> tuple[int, int]:
    """``(0, 0)``: no CUDA compute capability (so capability-gated fast paths stay off)."""
    return (0, 0)


def is_bf16_supported() -> bool:
    """False: rustdl has no bfloat16."""
    return False


# legacy tensor types on the GPU (``torch.cuda.FloatTensor(...)``; the CPU when it is forced)
from ._tensor_api import _legacy  # noqa: E402

FloatTensor = _legacy("FloatTensor", cuda=True)
DoubleTensor = _legacy("DoubleTensor", cuda=True)
LongTensor = _legacy("LongTensor", cuda=True)
IntTensor = _legacy("IntTensor", cuda=True)
BoolTensor = _legacy("BoolTensor", cuda=True)
HalfTensor = _legacy("HalfTensor", cuda=True)
