"""Random-number generators: ``rustdl.Generator``, the global ``default_generator``, and the
module-level draws PyTorch offers with a ``generator=`` argument (``randperm``, ``normal``,
``bernoulli``), plus ``get_rng_state`` / ``set_rng_state`` / ``seed``.

A generator holds two streams. CPU draws come from a Mersenne Twister consumed as PyTorch's CPU
generator consumes its own, so ``manual_seed(s)`` followed by the same calls draws the same
values as PyTorch does on the CPU (random initialisation, dropout masks, shuffling). GPU draws
come from a counter-based (seed, offset) stream: a draw of ``n`` numbers takes the counters
``offset .. offset + n``, so GPU kernels draw in parallel. A draw given ``generator=g`` comes from
``g``'s streams and advances only ``g``; two generators seeded alike draw alike.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np

from . import _rustdl
from ._rustdl import Tensor

# the seed of a fresh Generator, as PyTorch's default
_DEFAULT_SEED = 67280421310721
_MASK = (1 << 64) - 1


class Generator:
    """A random stream of its own, as ``torch.Generator``.

    Pass it as ``generator=`` to ``rustdl.rand``/``randn``/``randint``/``randperm``/``normal``/
    ``bernoulli``, ``Tensor.normal_``/``uniform_``/``bernoulli_``/``multinomial``, the
    ``nn.init`` functions, ``DataLoader``, ``random_split`` and the samplers.

    Args:
        device: accepted for PyTorch compatibility (``"cpu"``, ``"cuda"``, ...): the stream is the
            same on every device.

    Example:
        >>> g = rustdl.Generator().manual_seed(0)
        >>> a = rustdl.randn(3, generator=g)
        >>> b = rustdl.randn(3, generator=rustdl.Generator().manual_seed(0))
        >>> bool((a == b).all())
        True
    """

    def __init__(self, device: Any = "cpu") -> None:
        self.device = _rustdl.device(str(device)) if not isinstance(device, _rustdl.device) else device
        self._state: tuple[int, int] = (_DEFAULT_SEED, 0)
        self._cpu = _rustdl._CpuGen(_DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        """Seeds the streams (and restarts them); returns the generator, as PyTorch."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise RuntimeError(f"manual_seed expected a long, but got {type(seed).__name__}")
        seed = int(seed)
        if not -(1 << 63) <= seed < (1 << 64):
            raise ValueError(f"manual_seed: Overflow when unpacking long long (seed {seed})")
        self._state = (seed & _MASK, 0)
        self._cpu = _rustdl._CpuGen(seed & _MASK)
        return self

    def seed(self) -> int:
        """Seeds the streams from the operating system's entropy; returns the seed."""
        s = int.from_bytes(os.urandom(8), "little") & ((1 << 63) - 1)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed the streams started from."""
        return self._cpu.seed

    def get_state(self) -> Tensor:
        """The streams' state as a uint8 tensor (for :meth:`set_state`)."""
        return _state_tensor(self._cpu.get_state(), self._state)

    def set_state(self, new_state: Tensor) -> Generator:
        """Restores a state from :meth:`get_state`."""
        cpu, counter = _state_from(new_state, "set_state")
        self._cpu.set_state(cpu)
        if counter is not None:  # a state PyTorch saved holds no GPU stream: it stays
            self._state = counter
        return self

    def clone_state(self) -> Generator:
        """A new generator at this one's state."""
        g = Generator(self.device)
        g._state = self._state
        g._cpu = self._cpu.clone()
        return g

    def __getstate__(self) -> dict:
        return {"device": str(self.device), "state": self._state, "cpu": self._cpu.get_state()}

    def __setstate__(self, d: dict) -> None:
        self.device = _rustdl.device(d["device"])
        self._state = tuple(d["state"])
        self._cpu = _rustdl._CpuGen(0)
        self._cpu.set_state(d["cpu"])

    # numpy-style draws, so the data utilities take a Generator as they take a numpy one

    def permutation(self, n: int) -> np.ndarray:
        """A random permutation of ``range(n)`` from this stream (int64 numpy array)."""
        return randperm(int(n), generator=self).numpy()

    def random(self, n: int) -> np.ndarray:
        """``n`` float64 draws from ``[0, 1)`` from this stream."""
        bits = _rustdl.randint(0, 1 << 53, (int(n),), generator=self, device="cpu").numpy()
        return bits.astype(np.float64) / float(1 << 53)

    def integers(self, low: int, high: int, n: int) -> np.ndarray:
        """``n`` int64 draws from ``[low, high)`` from this stream."""
        return (
            _rustdl.randint(int(low), int(high), (int(n),), generator=self, device="cpu")
            .numpy()
            .astype(np.int64)
        )

    def __repr__(self) -> str:
        return f"<rustdl.Generator seed={self._state[0]} offset={self._state[1]}>"


_COUNTER_BYTES = 16
# rustdl's own CPU stream bytes (seed, position, the 624 words, a cached normal) and the older
# state it returned: those bytes then the GPU stream's (seed, offset)
_CPU_BYTES = len(_rustdl._cpu_rng_state())
_OLD_STATE_BYTES = _CPU_BYTES + _COUNTER_BYTES
_MT_N = 624
# PyTorch's CPU generator state (CPUGeneratorImplState): the legacy POD (initial seed, left,
# seeded, next, the 624 words as uint64, normal_x/normal_y/normal_rho, normal_is_valid) and then
# a cached float normal; 5048 bytes in PyTorch's older form without the latter
_TORCH_STATE_BYTES = 5056
_TORCH_LEGACY_BYTES = 5048
# the GPU stream's (seed, offset) ride in normal_x and normal_rho, which PyTorch writes as 0 and
# never reads, marked by this tag in the padding after normal_is_valid
_GPU_TAG = b"rdl\x01"


def _state_tensor(cpu: bytes, counter: tuple[int, int]) -> Tensor:
    """A generator state as the uint8 tensor PyTorch's ``get_state`` gives (5056 bytes, its
    layout: PyTorch's ``set_state`` reads it, and a state PyTorch saved restores here), with the
    GPU stream's seed and offset in two fields PyTorch leaves unused."""
    seed = int.from_bytes(cpu[0:8], "little")
    idx = int.from_bytes(cpu[8:12], "little")
    words = np.frombuffer(cpu, dtype="<u4", count=_MT_N, offset=12)
    has_normal = cpu[12 + 4 * _MT_N]
    cached = cpu[13 + 4 * _MT_N : 21 + 4 * _MT_N]
    if idx >= _MT_N:  # a twist comes first: PyTorch's left == 1
        nxt = 0 if int(words[0]) == seed & 0xFFFFFFFF else _MT_N
        left = 1
    else:
        nxt, left = idx, _MT_N + 1 - idx
    out = bytearray(_TORCH_STATE_BYTES)
    struct.pack_into("<QiiQ", out, 0, seed, left, 1, nxt)
    out[24 : 24 + 8 * _MT_N] = words.astype("<u8").tobytes()
    struct.pack_into("<Q", out, 5016, int(counter[0]) & _MASK)
    out[5024:5032] = cached
    struct.pack_into("<Q", out, 5032, int(counter[1]) & _MASK)
    struct.pack_into("<i", out, 5040, 1 if has_normal else 0)
    out[5044:5048] = _GPU_TAG
    return _rustdl.tensor(np.frombuffer(bytes(out), dtype=np.uint8).copy(), device="cpu")


def _state_from(state: Any, op: str) -> tuple[bytes, tuple[int, int] | None]:
    """(CPU stream bytes, GPU stream (seed, offset) or None to leave it) from a state
    :func:`_state_tensor` made, one PyTorch's ``get_state`` made (either of its sizes), or one
    an older rustdl made."""
    if not isinstance(state, Tensor):
        raise TypeError(
            f"{op}: expected the uint8 state tensor get_state returns, got {type(state).__name__}"
        )
    if state.dtype != _rustdl.uint8 or state.dim() != 1:
        raise TypeError(
            f"{op}: expected the 1-D uint8 state tensor get_state returns, got {state.dtype} of shape "
            f"{tuple(state.shape)}"
        )
    raw = np.asarray(state.cpu().numpy(), dtype=np.uint8).tobytes()
    if len(raw) == _OLD_STATE_BYTES:
        cpu, tail = raw[:-_COUNTER_BYTES], raw[-_COUNTER_BYTES:]
        return cpu, (int.from_bytes(tail[:8], "little"), int.from_bytes(tail[8:], "little"))
    if len(raw) not in (_TORCH_STATE_BYTES, _TORCH_LEGACY_BYTES):
        raise _rustdl.ArgumentError(
            f"{op}: expected a generator state of {_TORCH_STATE_BYTES} bytes (as get_state returns), "
            f"got {len(raw)}"
        )
    seed, left, _seeded, nxt = struct.unpack_from("<QiiQ", raw, 0)
    words = np.frombuffer(raw, dtype="<u8", count=_MT_N, offset=24)
    (valid,) = struct.unpack_from("<i", raw, 5040)
    if not 0 <= nxt <= _MT_N or left < 1:
        raise _rustdl.ArgumentError(f"{op}: a generator state with position {nxt} (left {left}) is invalid")
    idx = _MT_N if left == 1 else int(nxt)
    cpu = (
        struct.pack("<QI", seed, idx)
        + (words & 0xFFFFFFFF).astype("<u4").tobytes()
        + bytes([1 if valid else 0])
        + raw[5024:5032]
    )
    gpu = None
    if raw[5044:5048] == _GPU_TAG:
        gpu = (int.from_bytes(raw[5016:5024], "little"), int.from_bytes(raw[5032:5040], "little"))
    return cpu, gpu


class _DefaultGenerator(Generator):
    """The global streams (the ones ``rustdl.manual_seed`` seeds) seen as a :class:`Generator`."""

    # draws given this generator use the global streams directly
    _cpu = None  # type: ignore[assignment]

    def __init__(self) -> None:
        self.device = _rustdl.device("cpu")

    @property  # type: ignore[override]
    def _state(self) -> tuple[int, int]:
        return _rustdl._rng_state()

    @_state.setter
    def _state(self, value: tuple[int, int]) -> None:
        _rustdl._rng_set_state(int(value[0]) & _MASK, int(value[1]) & _MASK)

    def manual_seed(self, seed: int) -> Generator:
        Generator.manual_seed(Generator(), seed)  # the same checks
        _rustdl.manual_seed(int(seed) & _MASK)
        return self

    def initial_seed(self) -> int:
        return _rustdl.initial_seed()

    def get_state(self) -> Tensor:
        return _state_tensor(_rustdl._cpu_rng_state(), self._state)

    def set_state(self, new_state: Tensor) -> Generator:
        cpu, counter = _state_from(new_state, "set_state")
        _rustdl._cpu_rng_set_state(cpu)
        if counter is not None:
            self._state = counter
        return self

    def clone_state(self) -> Generator:
        g = Generator(self.device)
        g.set_state(self.get_state())
        return g

    def __reduce__(self):
        return (_default_generator, ())


def _default_generator() -> Generator:
    return default_generator


default_generator: Generator = _DefaultGenerator()


def get_rng_state() -> Tensor:
    """The global streams' state (a uint8 tensor), as ``torch.get_rng_state``."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Restores the global streams from :func:`get_rng_state`, as ``torch.set_rng_state``."""
    default_generator.set_state(new_state)


def seed() -> int:
    """Seeds the global stream from the operating system's entropy; returns the seed."""
    return default_generator.seed()


def randperm(
    n: int,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A random permutation of ``0 .. n-1``, as ``torch.randperm`` (int64 unless ``dtype``);
    ``n`` may be a 0-d integer tensor."""
    if isinstance(n, Tensor) and n.dim() == 0 and not n.is_floating_point():
        n = n.__index__()
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise _rustdl.ArgumentError(f"randperm: n must be a non-negative int, got {n!r}")
    n = int(n)
    try:
        perm = _rustdl._randperm_cpu(n, generator=generator)
    except MemoryError as e:
        raise _rustdl.OutOfMemoryError(f"randperm: cannot draw a permutation of {n} elements ({e})") from None
    out = perm if device is None else perm.to(device)
    if dtype is not None:
        out = out.to(dtype)
    return out.requires_grad_(True) if requires_grad else out


def normal(
    mean: Any = 0.0,
    std: Any = 1.0,
    size: Any = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Normal draws, as ``torch.normal``: ``normal(mean, std, size)`` with numbers, or elementwise
    means and standard deviations from tensors (broadcast together)."""
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if size is not None and tensors and all(t.ndim == 0 for t in tensors):
        # 0-d tensors stand for numbers here, as PyTorch's (mean: float, std: float, size) form
        # takes them
        mean, std = (float(v) if isinstance(v, Tensor) else v for v in (mean, std))
        tensors = []
    if size is not None and tensors:
        raise TypeError("normal: size goes with a float mean and std, not tensors")
    if tensors:
        if isinstance(std, Tensor):
            if std.numel() and not bool((std >= 0).all()):  # negative or NaN
                raise ValueError("normal: expects all elements of std >= 0.0")
        elif not float(std) >= 0:
            raise ValueError(f"normal: expects std >= 0.0, got {std}")
        ref = tensors[0]
        shape = np.broadcast_shapes(*(tuple(v.shape) for v in tensors))
        z = _rustdl.randn(*shape, generator=generator, dtype=dtype or ref.dtype, device=ref.device)
        out = (z * std + mean).detach()
    else:
        if size is None:
            raise TypeError("normal: give size with a float mean and std (or tensors for them)")
        if not float(std) >= 0:  # negative or NaN
            raise _rustdl.ArgumentError(f"normal: expects std >= 0.0, got {std}")
        shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        out = _rustdl.empty(*shape, dtype=dtype, device=device).normal_(
            float(mean), float(std), generator=generator
        )
    return out.requires_grad_(True) if requires_grad else out


def bernoulli(
    input: Tensor, p: float | None = None, *, generator: Generator | None = None, out: Tensor | None = None
) -> Tensor:
    """Bernoulli draws, as ``torch.bernoulli``: 1 with probability ``input`` (or ``p``); with
    ``out`` the draws are written into it in its own dtype (a bool ``out`` takes them too)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli: expected a Tensor, got {type(input).__name__}")
    if out is not None:
        if not isinstance(out, Tensor):
            raise TypeError(f"bernoulli: out must be a Tensor, got {type(out).__name__}")
        drawn = bernoulli(input, p, generator=generator)
        if tuple(out.shape) != tuple(drawn.shape):
            out.resize_(drawn.shape)
        from .autograd import no_grad

        with no_grad():
            out.copy_(drawn.to(out.dtype))
        return out
    if p is None:
        u = _rustdl.rand(*input.shape, generator=generator, dtype=input.dtype, device=input.device)
        inside = (input >= 0).logical_and(input <= 1)  # False at NaN
        if input.numel() and not bool(inside.all()):
            raise _rustdl.ArgumentError("bernoulli: expected all probabilities in [0, 1]")
        return (u < input.detach()).to(input.dtype)
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"bernoulli: expected 0 <= p <= 1, got {p}")
    return _rustdl.empty(*input.shape, dtype=input.dtype, device=input.device).bernoulli_(
        float(p), generator=generator
    )


_native_bernoulli_ = Tensor.bernoulli_


def _bernoulli_(self: Tensor, p: Any = 0.5, *, generator: Generator | None = None) -> Tensor:
    """In-place Bernoulli draws, as ``Tensor.bernoulli_``: ``p`` a probability, or a tensor of
    them broadcast to ``self`` (each element 1 with its own probability), in ``self``'s dtype."""
    if not isinstance(p, Tensor):
        return _native_bernoulli_(self, p, generator=generator)
    try:
        probs = p.detach().to(device=self.device, dtype=_rustdl.float64).expand(*self.shape)
    except Exception as e:  # noqa: BLE001 - a shape error, named with both shapes
        raise _rustdl.ShapeError(
            f"bernoulli_: p of shape {tuple(p.shape)} cannot be broadcast to self of shape {tuple(self.shape)}"
        ) from e
    drawn = bernoulli(probs.contiguous(), generator=generator)
    return self.copy_(drawn.to(self.dtype))


Tensor.bernoulli_ = _bernoulli_
