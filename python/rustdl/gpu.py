"""GPU device queries: availability, adapter info, counters, synchronisation, cache control."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from . import _rustdl


def is_available() -> bool:
    """True when a GPU adapter was found (``RUSTDL_GPU_BACKEND`` picks vulkan/gl/metal/dx12)."""
    return bool(_rustdl.gpu_is_available())


def device_count() -> int:
    """Number of GPU adapters found."""
    return int(_rustdl.gpu_device_count())


def adapter_info(index: int = 0) -> dict:
    """Name, backend, device type and driver of adapter ``index``."""
    return dict(_rustdl.gpu_adapter_info(index))


def stats() -> dict:
    """Counters: submits, dispatches, pipelines_compiled, pool_hits, bytes_allocated."""
    return dict(_rustdl.gpu_stats())


def synchronize() -> None:
    """Submits pending work and waits for the GPU to finish it."""
    _rustdl.gpu_synchronize()


def empty_cache() -> None:
    """Frees the buffers held by the pool."""
    _rustdl.gpu_empty_cache()


@contextlib.contextmanager
def trace() -> Iterator[list]:
    """Records every GPU dispatch made inside the block.

    The list it yields is filled when the block ends, one ``(kernel, (x, y, z))`` per dispatch:
    the shader entry point and its workgroup grid, in dispatch order::

        with rustdl.gpu.trace() as t:
            step()
        print(len(t), collections.Counter(k for k, _ in t))
    """
    out: list = []
    _rustdl.gpu_trace_start()
    try:
        yield out
    finally:
        out.extend(_rustdl.gpu_trace_stop())
