"""``torch.quasirandom``: :class:`SobolEngine`, (scrambled) Sobol' low-discrepancy sequences.

The direction numbers are Joe and Kuo's (search criterion D(6), up to 21,201 dimensions), read
from the table scipy ships; the generator state, the Gray-code walk, the scrambling (a random
lower-triangular binary matrix per dimension and a random digital shift, drawn from rustdl's
generator) and the float conversion follow PyTorch's engine, so a seeded engine gives PyTorch's
points.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _rustdl

__all__ = ["SobolEngine"]

_MAXBIT = 30
_MAXDIM = 21201
_TABLE: tuple[np.ndarray, np.ndarray] | None = None


def _direction_table() -> tuple[np.ndarray, np.ndarray]:
    """``(poly, vinit)``: each dimension's primitive polynomial (bits, leading 1 included) and
    its initial direction numbers."""
    global _TABLE
    if _TABLE is None:
        try:
            import scipy.stats
        except ImportError as e:  # pragma: no cover - scipy is installed with the test deps
            raise ImportError(
                "SobolEngine reads Joe and Kuo's direction numbers from scipy: pip install scipy"
            ) from e
        path = os.path.join(os.path.dirname(scipy.stats.__file__), "_sobol_direction_numbers.npz")
        with np.load(path) as table:
            _TABLE = (table["poly"].astype(np.int64), table["vinit"].astype(np.int64))
    return _TABLE


def _initial_state(dimension: int) -> np.ndarray:
    """The ``(dimension, 30)`` direction numbers, column ``i`` scaled by ``2^(29 - i)``: the first
    dimension all ones (van der Corput), the others from their polynomial's recurrence (Bratley
    and Fox, Algorithm 659)."""
    poly, vinit = _direction_table()
    v = np.zeros((dimension, _MAXBIT), dtype=np.int64)
    v[0, :] = 1
    if dimension > 1:
        p = poly[1:dimension]
        degree = np.array([int(x).bit_length() - 1 for x in p], dtype=np.int64)
        for m in np.unique(degree):
            rows = np.nonzero(degree == m)[0] + 1
            pr = poly[rows]
            v[rows, :m] = vinit[rows, :m]
            for j in range(m, _MAXBIT):
                new = v[rows, j - m].copy()
                for k in range(m):
                    take = ((pr >> (m - 1 - k)) & 1).astype(bool)
                    new[take] ^= v[rows[take], j - k - 1] << (k + 1)
                v[rows, j] = new
    return v * (np.int64(1) << np.arange(_MAXBIT - 1, -1, -1, dtype=np.int64))


def _scrambled(state: np.ndarray, ltm: np.ndarray) -> np.ndarray:
    """Owen's linear matrix scrambling: bit ``29 - p`` of each new direction number is the parity
    of row ``p`` of the dimension's lower-triangular matrix (diagonal set to 1, column 0 the
    highest bit) against the old number's bits."""
    dims = state.shape[0]
    rows = ltm.astype(np.uint8)
    idx = np.arange(_MAXBIT)
    rows[:, idx, idx] = 1
    # bit k of row p's integer is column 29 - k
    row_bits = rows[:, :, ::-1]
    old_bits = ((state[:, :, None] >> np.arange(_MAXBIT, dtype=np.int64)) & 1).astype(np.uint8)
    parity = np.einsum("dpk,djk->djp", row_bits, old_bits, dtype=np.int64) & 1
    weights = np.int64(1) << np.arange(_MAXBIT - 1, -1, -1, dtype=np.int64)
    return (parity * weights).sum(-1).reshape(dims, _MAXBIT)


def _points(state: np.ndarray, shift: np.ndarray, first: int, n: int) -> np.ndarray:
    """The integer points ``first .. first + n - 1`` of the walk (point ``k`` is the shift xor the
    direction numbers of the bits of ``k``'s Gray code)."""
    k = np.arange(first, first + n, dtype=np.int64)
    gray = k ^ (k >> 1)
    out = np.broadcast_to(shift, (n, shift.shape[0])).copy()
    for b in range(_MAXBIT):
        on = ((gray >> b) & 1).astype(bool)
        if on.any():
            out[on] ^= state[:, b]
    return out


class SobolEngine:
    """An engine drawing (scrambled) Sobol' sequences, as ``torch.quasirandom.SobolEngine``.

    Args:
        dimension: the dimension of the points (1 to 21,201).
        scramble: Owen's linear matrix scrambling plus a random digital shift.
        seed: the seed of the scrambling's generator; ``None`` draws from the global generator.

    Example:
        >>> eng = SobolEngine(dimension=2)
        >>> eng.draw(4).tolist()
        [[0.0, 0.0], [0.5, 0.5], [0.75, 0.25], [0.25, 0.75]]
    """

    MAXBIT = _MAXBIT
    MAXDIM = _MAXDIM

    def __init__(self, dimension: int, scramble: bool = False, seed: int | None = None) -> None:
        if not isinstance(dimension, (int, np.integer)) or isinstance(dimension, bool):
            raise TypeError(f"SobolEngine: dimension must be an int, got {type(dimension).__name__}")
        if dimension > self.MAXDIM or dimension < 1:
            raise ValueError(f"Supported range of dimensionality for SobolEngine is [1, {self.MAXDIM}]")
        self.seed = seed
        self.scramble = scramble
        self.dimension = int(dimension)
        state = _initial_state(self.dimension)
        if scramble:
            generator = None
            if seed is not None:
                from ._generator import Generator

                generator = Generator()
                generator.manual_seed(seed)
            shift_bits = _rustdl.randint(2, (self.dimension, self.MAXBIT), generator=generator).numpy()
            shift = shift_bits @ (np.int64(1) << np.arange(self.MAXBIT, dtype=np.int64))
            ltm = np.tril(
                _rustdl.randint(2, (self.dimension, self.MAXBIT, self.MAXBIT), generator=generator).numpy()
            )
            state = _scrambled(state, ltm)
        else:
            shift = np.zeros(self.dimension, dtype=np.int64)
        self._state = state
        self._shift = shift.astype(np.int64)
        self.sobolstate = _rustdl.tensor(state, dtype=_rustdl.int64)
        self.shift = _rustdl.tensor(self._shift, dtype=_rustdl.int64)
        self.quasi = self.shift.clone()
        # as PyTorch: the integer shift divided in the default float dtype (float32)
        self._first_point = (self.shift / 2**self.MAXBIT).reshape(1, -1)
        self.num_generated = 0

    def _walk_to(self, last: int) -> None:
        """``quasi`` becomes integer point ``last`` (the last one drawn or skipped)."""
        self.quasi = _rustdl.tensor(_points(self._state, self._shift, last, 1)[0], dtype=_rustdl.int64)

    def draw(self, n: int = 1, out: Any = None, dtype: Any = None) -> Any:
        """The next ``n`` points, ``(n, dimension)`` in ``[0, 1)`` (the default float dtype, or
        ``dtype``; float32 points are the integer point rounded to float32, then scaled)."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"SobolEngine.draw: n must be a non-negative int, got {n!r}")
        n = int(n)
        if dtype is None:
            import rustdl

            dtype = rustdl.get_default_dtype()
        if dtype not in (_rustdl.float32, _rustdl.float64):
            raise TypeError(f"SobolEngine.draw: dtype must be a floating dtype, got {dtype}")
        if self.num_generated + n > 2**self.MAXBIT:
            raise ValueError(
                f"SobolEngine.draw: at most 2**{self.MAXBIT} points can be drawn "
                f"({self.num_generated} drawn, {n} asked)"
            )
        ints = _points(self._state, self._shift, self.num_generated, n)
        np_dtype = np.float32 if dtype == _rustdl.float32 else np.float64
        values = ints.astype(np_dtype) * np_dtype(1.0 / 2**self.MAXBIT)
        result = _rustdl.tensor(values.reshape(n, self.dimension), dtype=dtype)
        if self.num_generated == 0 and n > 0:
            result[0] = self._first_point[0].to(dtype)
        if n > 0:
            self._walk_to(self.num_generated + n - 1)
        self.num_generated += n
        if out is not None:
            out.resize_as_(result).copy_(result)
            return out
        return result

    def draw_base2(self, m: int, out: Any = None, dtype: Any = None) -> Any:
        """The next ``2**m`` points; the total drawn must stay a power of 2 (the balance
        property of Sobol' points)."""
        n = 2**m
        total_n = self.num_generated + n
        if total_n & (total_n - 1) != 0:
            raise ValueError(
                "The balance properties of Sobol' points require n to be a power of 2. "
                f"{self.num_generated} points have been previously generated, then: "
                f"n={self.num_generated}+2**{m}={total_n}. If you still want to do this, please use "
                "'SobolEngine.draw()' instead."
            )
        return self.draw(n=n, out=out, dtype=dtype)

    def reset(self) -> SobolEngine:
        """Back to the first point."""
        self.quasi = self.shift.clone()
        self.num_generated = 0
        return self

    def fast_forward(self, n: int) -> SobolEngine:
        """Skips ``n`` points (as drawing them and dropping them)."""
        if n < 0:
            raise ValueError(f"SobolEngine.fast_forward: n must be non-negative, got {n}")
        if n == 0:
            return self
        self._walk_to(self.num_generated + n - 1)
        self.num_generated += n
        return self

    def __repr__(self) -> str:
        parts = [f"dimension={self.dimension}"]
        if self.scramble:
            parts.append("scramble=True")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return f"{type(self).__name__}({', '.join(parts)})"
