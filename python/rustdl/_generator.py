"""Random-number generators: ``rustdl.Generator``, the global ``default_generator``, and the
module-level draws PyTorch offers with a ``generator=`` argument (``randperm``, ``normal``,
``bernoulli``), plus ``get_rng_state`` / ``set_rng_state`` / ``seed``.

rustdl's random kernels are counter-based: a stream is a (seed, offset) pair, and a draw of ``n``
numbers takes the counters ``offset .. offset + n`` of that seed, on the CPU and the GPU alike.
A :class:`Generator` is such a pair of its own: a draw given ``generator=g`` comes from ``g``'s
stream and advances only ``g``, so the global stream (``rustdl.manual_seed``) is untouched, and
two generators seeded alike draw alike.
"""

from __future__ import annotations

import os
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

    def manual_seed(self, seed: int) -> Generator:
        """Seeds the stream (and restarts it); returns the generator, as PyTorch."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"manual_seed: expected an int seed, got {type(seed).__name__}")
        self._state = (int(seed) & _MASK, 0)
        return self

    def seed(self) -> int:
        """Seeds the stream from the operating system's entropy; returns the seed."""
        s = int.from_bytes(os.urandom(8), "little") & ((1 << 63) - 1)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed the stream started from."""
        return self._state[0]

    def get_state(self) -> Tensor:
        """The stream's state as an int64 tensor ``[seed, offset]`` (for :meth:`set_state`)."""
        seed, offset = self._state
        as_signed = [v - (1 << 64) if v >= 1 << 63 else v for v in (seed, offset)]
        # always on the CPU (a default device set to the GPU would not hold 64-bit values)
        return _rustdl.tensor(as_signed, dtype=_rustdl.int64, device="cpu")

    def set_state(self, new_state: Tensor) -> Generator:
        """Restores a state from :meth:`get_state`."""
        self._state = _state_from(new_state, "set_state")
        return self

    def clone_state(self) -> Generator:
        """A new generator at this one's state."""
        g = Generator(self.device)
        g._state = self._state
        return g

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


def _state_from(state: Any, op: str) -> tuple[int, int]:
    vals = state.tolist() if isinstance(state, Tensor) else list(state)
    if len(vals) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
        raise ValueError(f"{op}: expected the [seed, offset] state get_state returns, got {str(vals)[:80]}")
    return (int(vals[0]) & _MASK, int(vals[1]) & _MASK)


class _DefaultGenerator(Generator):
    """The global stream (the one ``rustdl.manual_seed`` seeds) seen as a :class:`Generator`."""

    def __init__(self) -> None:
        self.device = _rustdl.device("cpu")

    @property  # type: ignore[override]
    def _state(self) -> tuple[int, int]:
        return _rustdl._rng_state()

    @_state.setter
    def _state(self, value: tuple[int, int]) -> None:
        _rustdl._rng_set_state(int(value[0]) & _MASK, int(value[1]) & _MASK)


default_generator: Generator = _DefaultGenerator()


def get_rng_state() -> Tensor:
    """The global stream's state (an int64 tensor ``[seed, offset]``), as ``torch.get_rng_state``."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Restores the global stream from :func:`get_rng_state`, as ``torch.set_rng_state``."""
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
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    n = int(n)
    # sorting random 62-bit keys gives a uniform permutation; the stable sort breaks ties
    try:
        keys = _rustdl.randint(0, 1 << 62, (n,), generator=generator, device="cpu").numpy()
    except MemoryError as e:
        raise _rustdl.OutOfMemoryError(f"randperm: cannot draw a permutation of {n} elements ({e})") from None
    perm = np.argsort(keys, kind="stable").astype(np.int64)
    out = _rustdl.tensor(perm, device=device)
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
            raise ValueError(f"normal: expects std >= 0.0, got {std}")
        shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        out = _rustdl.randn(*shape, generator=generator, dtype=dtype, device=device) * float(std) + float(
            mean
        )
    return out.requires_grad_(True) if requires_grad else out


def bernoulli(input: Tensor, p: float | None = None, *, generator: Generator | None = None) -> Tensor:
    """Bernoulli draws, as ``torch.bernoulli``: 1 with probability ``input`` (or ``p``)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli: expected a Tensor, got {type(input).__name__}")
    u = _rustdl.rand(*input.shape, generator=generator, dtype=input.dtype, device=input.device)
    if p is None:
        inside = (input >= 0).logical_and(input <= 1)  # False at NaN
        if input.numel() and not bool(inside.all()):
            raise ValueError("bernoulli: expected all probabilities in [0, 1]")
        return (u < input.detach()).to(input.dtype)
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"bernoulli: expected 0 <= p <= 1, got {p}")
    return (u < float(p)).to(input.dtype)
