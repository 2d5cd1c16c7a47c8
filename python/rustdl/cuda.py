"""``torch.cuda``-shaped device probes that answer for rustdl's GPU (wgpu: Vulkan/Metal/DX12/GL).

rustdl has no CUDA; "cuda" here means "rustdl's GPU", so scripts written for PyTorch that ask
``torch.cuda.is_available()`` get a truthful answer about the accelerator rustdl can use.

Which device "cuda" means is set by ``RUSTDL_COMPAT_DEVICE``:

- unset (or ``auto``): rustdl's GPU when its adapter is a real GPU. An adapter that is the CPU
  emulating a GPU (Mesa's lavapipe, WARP, SwiftShader: wgpu reports its type as ``Cpu``) is not
  an accelerator: :func:`is_available` answers False and "cuda" requests land on the CPU, where
  rustdl's native kernels are many times faster than the emulation;
- ``gpu`` (or ``cuda``): rustdl's GPU whatever its adapter is (to test the GPU path on lavapipe);
- ``cpu``: always the CPU.

``rustdl.gpu`` and ``device="gpu"`` are not affected: they always mean the wgpu adapter.

Example:
    >>> import rustdl
    >>> dev = "cuda" if rustdl.cuda.is_available() else "cpu"
"""

from __future__ import annotations

import os

from . import _cuda_nvtx as nvtx  # noqa: F401  (torch.cuda.nvtx)
from . import _rustdl, amp, gpu  # noqa: F401  (amp: torch.cuda.amp)

__all__ = [
    "Event",
    "Stream",
    "current_device",
    "current_stream",
    "default_stream",
    "device",
    "device_count",
    "empty_cache",
    "get_device_capability",
    "get_device_name",
    "get_device_properties",
    "init",
    "is_available",
    "is_bf16_supported",
    "is_initialized",
    "manual_seed",
    "manual_seed_all",
    "max_memory_allocated",
    "max_memory_reserved",
    "mem_get_info",
    "memory_allocated",
    "memory_reserved",
    "reset_peak_memory_stats",
    "set_device",
    "stream",
    "synchronize",
]


_COMPAT_MODES = ("", "auto", "cpu", "gpu", "cuda")
_software: bool | None = None


def __getattr__(name: str):
    # ``torch.cuda.random``: the GPU generator's functions (torch.cuda.random.manual_seed, ...)
    if name == "random":
        import types

        names = (
            "manual_seed", "manual_seed_all", "seed", "seed_all", "initial_seed",
            "get_rng_state", "set_rng_state", "get_rng_state_all", "set_rng_state_all",
        )  # fmt: skip
        mod = types.ModuleType(f"{__name__}.random", "The GPU random-number generator's functions.")
        for n in names:
            setattr(mod, n, globals()[n])
        mod.__all__ = list(names)
        globals()["random"] = mod
        return mod
    # ``except torch.cuda.OutOfMemoryError`` must name a class (the one rustdl raises)
    if name == "OutOfMemoryError":
        from ._breadth_o import OutOfMemoryError

        return OutOfMemoryError
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")


def _compat_mode() -> str:
    mode = os.environ.get("RUSTDL_COMPAT_DEVICE", "").strip().lower()
    if mode not in _COMPAT_MODES:
        raise ValueError(f"RUSTDL_COMPAT_DEVICE={mode!r}: expected 'cpu', 'gpu' or 'auto' (or unset)")
    return mode


def software_adapter() -> bool:
    """True when rustdl's GPU adapter is the CPU emulating a GPU (wgpu device type ``Cpu``:
    Mesa's lavapipe, WARP, SwiftShader)."""
    global _software
    if _software is None:
        _software = gpu.is_available() and str(gpu.adapter_info(0).get("device_type", "")).lower() == "cpu"
    return _software


def _forced_cpu() -> bool:
    """True when "cuda" means the CPU: ``RUSTDL_COMPAT_DEVICE=cpu``, no GPU adapter, or (unless
    ``RUSTDL_COMPAT_DEVICE=gpu``) a software adapter."""
    mode = _compat_mode()
    if mode == "cpu" or not gpu.is_available():
        return True
    return mode not in ("gpu", "cuda") and software_adapter()


def is_available() -> bool:
    """True when "cuda" means rustdl's GPU: an adapter was found, it is a real GPU (or
    ``RUSTDL_COMPAT_DEVICE=gpu`` asks for it anyway), and ``RUSTDL_COMPAT_DEVICE`` is not ``cpu``."""
    return not _forced_cpu()


def device_count() -> int:
    """Number of GPU adapters "cuda" can reach (0 when "cuda" means the CPU)."""
    return 0 if _forced_cpu() else gpu.device_count()


def current_device() -> int:
    """Index of the current GPU: always 0 (rustdl uses the first adapter by default)."""
    return 0


def set_device(device: object) -> None:
    """Accepted for compatibility; rustdl picks devices per tensor (``t.to('gpu:N')``)."""


class device:
    """``with torch.cuda.device(i): ...``, as PyTorch's context manager that makes GPU ``i`` the
    current one: accepted as a no-op, since rustdl places every tensor by its own device
    (``t.to('gpu:N')``) and :func:`current_device` stays 0. ``idx`` is the index asked for."""

    def __init__(self, device: object) -> None:
        if device is None:
            self.idx = -1
        elif isinstance(device, int):
            self.idx = device
        elif isinstance(device, str):  # "cuda", "cuda:1"
            num = device.partition(":")[2]
            self.idx = int(num) if num.isdigit() else 0
        else:  # a device object
            self.idx = getattr(device, "index", None) or 0

    def __enter__(self) -> device:
        return self

    def __exit__(self, *exc: object) -> bool:
        return False


def get_device_name(device: object = None) -> str:
    """The adapter's name, e.g. ``'llvmpipe (LLVM 15.0.7, 256 bits)'``."""
    index = device if isinstance(device, int) else 0
    return str(gpu.adapter_info(index).get("name", "gpu"))


def manual_seed(seed: int) -> None:
    """Seeds the GPU kernels' stream only (as ``torch.cuda.manual_seed`` leaves the CPU
    generator alone; ``rustdl.manual_seed`` seeds both)."""
    _rustdl._rng_set_state(int(seed) & ((1 << 64) - 1), 0)


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


def is_bf16_supported() -> bool:
    """False: rustdl has no bfloat16."""
    return False


def is_initialized() -> bool:
    """Whether rustdl's GPU is usable (it starts on first use)."""
    return is_available()


def init() -> None:
    """Accepted for compatibility: rustdl's GPU starts on first use."""


def memory_reserved(device: object = None) -> int:
    """Bytes the GPU buffer pool holds (live and pooled buffers)."""
    if not gpu.is_available():
        return 0
    st = gpu.stats()
    return int(st.get("bytes_live", 0)) + int(st.get("bytes_pooled", 0))


def max_memory_allocated(device: object = None) -> int:
    """Bytes the GPU buffer pool ever allocated (the pool keeps what it allocates, so this is
    also its high-water mark)."""
    return memory_allocated(device)


max_memory_reserved = max_memory_allocated


def reset_peak_memory_stats(device: object = None) -> None:
    """Accepted for compatibility (the pool's counter is cumulative)."""


reset_max_memory_allocated = reset_peak_memory_stats
reset_max_memory_cached = reset_peak_memory_stats
reset_accumulated_memory_stats = reset_peak_memory_stats
memory_cached = memory_reserved
max_memory_cached = max_memory_reserved


def memory_stats(device: object = None) -> dict[str, int]:
    """The pool's counters under PyTorch's key names (``allocated_bytes.all.current``, ...)."""
    allocated, reserved = memory_allocated(device), memory_reserved(device)
    return {
        "allocated_bytes.all.current": allocated,
        "allocated_bytes.all.peak": max_memory_allocated(device),
        "reserved_bytes.all.current": reserved,
        "reserved_bytes.all.peak": reserved,
        "active_bytes.all.current": allocated,
        "num_alloc_retries": 0,
        "num_ooms": 0,
    }


def memory_summary(device: object = None, abbreviated: bool = False) -> str:
    """A short table of the pool's counters (PyTorch prints its caching allocator's)."""
    lines = [f"rustdl GPU memory ({get_device_name(device) if gpu.is_available() else 'no GPU'})"]
    lines += [f"  {k:<32} {v:>16,}" for k, v in memory_stats(device).items()]
    return "\n".join(lines) + "\n"


def memory_snapshot() -> list:
    """The allocator's segments (none listed: the pool does not expose them)."""
    return []


def set_per_process_memory_fraction(fraction: float, device: object = None) -> None:
    """Checks ``fraction`` (in [0, 1]) as PyTorch; the pool grows as needed regardless."""
    if not isinstance(fraction, (int, float)) or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"set_per_process_memory_fraction: invalid fraction {fraction!r}, expected 0~1")


def ipc_collect() -> None:
    """Accepted for compatibility (no inter-process GPU memory)."""


def get_arch_list() -> list[str]:
    """The CUDA architectures compiled for: none (rustdl's kernels are WGSL)."""
    return []


def is_current_stream_capturing() -> bool:
    """False: rustdl does not capture CUDA graphs."""
    return False


def seed() -> None:
    """Seeds rustdl's generator from a fresh random number."""
    import rustdl

    rustdl.seed()


seed_all = seed


def initial_seed() -> int:
    """The seed of the GPU kernels' stream."""
    return int(_rustdl._rng_state()[0])


def get_rng_state(device: object = None) -> object:
    """The GPU kernels' stream state: its seed and offset as 16 bytes (a uint8 tensor). Where
    "cuda" is the CPU (no accelerator), the state of the streams "cuda" tensors draw from: the
    whole of ``rustdl.get_rng_state()``."""
    import numpy as np

    import rustdl

    if not is_available():
        return rustdl.get_rng_state()
    seed, offset = _rustdl._rng_state()
    raw = int(seed).to_bytes(8, "little") + int(offset).to_bytes(8, "little")
    return _rustdl.tensor(np.frombuffer(raw, dtype=np.uint8).copy(), device="cpu")


def set_rng_state(new_state: object, device: object = None) -> None:
    """Restores a state from :func:`get_rng_state`."""
    import numpy as np

    import rustdl

    if not is_available():
        rustdl.set_rng_state(new_state)
        return
    if not isinstance(new_state, _rustdl.Tensor) or new_state.dtype != _rustdl.uint8:
        raise TypeError("set_rng_state: RNG state must be a uint8 tensor (as get_rng_state returns)")
    raw = np.asarray(new_state.cpu().numpy(), dtype=np.uint8).tobytes()
    if len(raw) != 16:
        raise _rustdl.ArgumentError(f"set_rng_state: expected a GPU stream state of 16 bytes, got {len(raw)}")
    _rustdl._rng_set_state(int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:], "little"))


def get_rng_state_all() -> list:
    return [get_rng_state()]


def set_rng_state_all(new_states: list) -> None:
    for state in new_states[:1]:
        set_rng_state(state)


def _limit(index: int) -> int:
    info = gpu.adapter_info(index)
    return int(info.get("max_buffer_size", 0) or 0)


def mem_get_info(device: object = None) -> tuple[int, int]:
    """``(free, total)`` bytes as far as rustdl can tell: wgpu reports no memory size, so the
    total is the adapter's largest buffer and free is that minus what the pool holds."""
    index = device if isinstance(device, int) else 0
    total = _limit(index) if gpu.is_available() else 0
    return max(total - memory_reserved(), 0), total


def get_device_capability(device: object = None) -> tuple[int, int]:
    """``(0, 0)``: rustdl's GPU is not a CUDA device, so no CUDA compute capability applies
    (scripts that enable CUDA-only features by capability leave them off)."""
    return (0, 0)


class _DeviceProperties:
    """What ``get_device_properties`` returns: the adapter's name and limits under PyTorch's
    attribute names."""

    def __init__(self, index: int) -> None:
        info = gpu.adapter_info(index)
        self.name = str(info.get("name", "gpu"))
        self.total_memory = _limit(index)
        self.major, self.minor = get_device_capability(index)
        self.multi_processor_count = 1
        self.is_integrated = str(info.get("device_type", "")).lower() in ("integratedgpu", "cpu")

    def __repr__(self) -> str:
        return f"_DeviceProperties(name='{self.name}', total_memory={self.total_memory // 2**20}MB)"


def get_device_properties(device: object = None) -> _DeviceProperties:
    """The adapter's name and limits (``total_memory``: the largest buffer it allows, as wgpu
    reports no memory size)."""
    index = device if isinstance(device, int) else getattr(device, "index", None) or 0
    if not is_available():
        raise RuntimeError(
            "get_device_properties: rustdl has no GPU here (torch.cuda.is_available() is False)"
        )
    return _DeviceProperties(index)


class Event:
    """``torch.cuda.Event``: with ``enable_timing=True`` on an adapter that writes timestamps,
    ``start.elapsed_time(end)`` is GPU time from timestamps (:class:`rustdl.gpu.Event`);
    otherwise ``record()`` waits for the queued GPU work and notes the host's clock."""

    def __init__(
        self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False
    ) -> None:
        self._t: float | None = None
        self._gpu: gpu.Event | None = None
        if enable_timing and is_available():
            try:
                self._gpu = gpu.Event()
            except RuntimeError:  # no timestamps on this adapter: host timing
                self._gpu = None

    def record(self, stream: object = None) -> None:
        import time

        if self._gpu is not None:
            self._gpu.record()
            self._t = 0.0
            return
        synchronize()
        self._t = time.perf_counter()

    def synchronize(self) -> None:
        synchronize()

    def query(self) -> bool:
        return True

    def wait(self, stream: object = None) -> None:
        synchronize()

    def elapsed_time(self, end: Event) -> float:
        if self._t is None or end._t is None:
            raise RuntimeError("Event.elapsed_time: both events must have been recorded")
        if self._gpu is not None and end._gpu is not None:
            return self._gpu.elapsed_time(end._gpu)
        return (end._t - self._t) * 1e3


# legacy tensor types on the GPU (``torch.cuda.FloatTensor(...)``; the CPU when it is forced)
from ._tensor_api import _legacy  # noqa: E402

FloatTensor = _legacy("FloatTensor", cuda=True)
DoubleTensor = _legacy("DoubleTensor", cuda=True)
LongTensor = _legacy("LongTensor", cuda=True)
IntTensor = _legacy("IntTensor", cuda=True)
ShortTensor = _legacy("ShortTensor", cuda=True)
ByteTensor = _legacy("ByteTensor", cuda=True)
CharTensor = _legacy("CharTensor", cuda=True)
BoolTensor = _legacy("BoolTensor", cuda=True)
HalfTensor = _legacy("HalfTensor", cuda=True)


class Stream:
    """``torch.cuda.Stream``: rustdl runs GPU work in one ordered queue, so every stream is that
    queue — work "on" a stream is ordered with all other work, and waiting is synchronising."""

    def __init__(self, device: object = None, priority: int = 0, **kwargs: object) -> None:
        self.device = device
        self.priority = priority

    def wait_stream(self, stream: object) -> None:
        """Nothing to wait for: the queue is already ordered."""

    def wait_event(self, event: object) -> None:
        """Nothing to wait for: the queue is already ordered."""

    def record_event(self, event: Event | None = None) -> Event:
        event = event if event is not None else Event()
        event.record(self)
        return event

    def synchronize(self) -> None:
        synchronize()

    def query(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stream)

    def __hash__(self) -> int:
        return 0


_STREAM = Stream()


def current_stream(device: object = None) -> Stream:
    """The (one) queue, as ``torch.cuda.current_stream``."""
    return _STREAM


def default_stream(device: object = None) -> Stream:
    return _STREAM


class stream:  # noqa: N801  (PyTorch's name)
    """``with torch.cuda.stream(s):`` — work inside goes to rustdl's one ordered queue."""

    def __init__(self, stream: object) -> None:
        self.stream = stream

    def __enter__(self) -> object:
        return self.stream

    def __exit__(self, *exc: object) -> bool:
        return False
