"""Padding layers: ``ZeroPad``, ``ConstantPad``, ``ReflectionPad``, ``ReplicationPad`` and
``CircularPad`` in 1-D, 2-D and 3-D, each one :func:`rustdl.nn.functional.pad`."""

from __future__ import annotations

from ... import _rustdl
from ..._rustdl import Tensor
from .. import functional as F
from .module import Module


def _expand(padding, n: int, name: str, loose: bool = False) -> tuple[int, ...]:
    """An int (same amount on every side of the ``n`` last dims) or a ``2·n``-tuple of ints; with
    ``loose`` (constant pads) any even number of them, two per dim from the last (``(2, 1)`` in a
    2-D constant pad pads the last dim only, as PyTorch's)."""
    if isinstance(padding, int) and not isinstance(padding, bool):
        return (padding,) * (2 * n)
    p = tuple(padding)
    bad_len = (not p or len(p) % 2) if loose else len(p) != 2 * n
    if bad_len or any(isinstance(v, bool) or not isinstance(v, int) for v in p):
        sizes = "an even number of ints" if loose else f"a {2 * n}-tuple of ints"
        raise TypeError(f"{name}: padding must be an int or {sizes}, got {padding!r}")
    return p


class _PadNd(Module):
    _n = 1
    _mode = "constant"

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _expand(padding, self._n, type(self).__name__)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (self._n + 1, self._n + 2):
            raise ValueError(
                f"{type(self).__name__}: expected a {self._n + 1}-D or {self._n + 2}-D input, "
                f"got shape {tuple(input.shape)}"
            )
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float) -> None:
        Module.__init__(self)
        self.padding = _expand(padding, self._n, type(self).__name__, loose=True)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        # a constant pad takes any input with the padded dims (as PyTorch: no batch rule)
        if input.ndim < self._n:
            raise _rustdl.ArgumentError(
                f"{type(self).__name__}: expected an input of at least {self._n} dims, "
                f"got shape {tuple(input.shape)}"
            )
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ReflectionPadNd(_PadNd):
    """The reflection pads' base (PyTorch's class of that name)."""

    _mode = "reflect"


class _ReplicationPadNd(_PadNd):
    """The replication pads' base (PyTorch's class of that name)."""

    _mode = "replicate"


class _CircularPadNd(_PadNd):
    """The circular pads' base (PyTorch's class of that name)."""

    _mode = "circular"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim of a ``(C, W)`` or ``(N, C, W)`` input with ``value``;
    ``padding`` is an int or ``(left, right)``."""

    _n = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dims of a ``(C, H, W)`` or ``(N, C, H, W)`` input with ``value``;
    ``padding`` is an int or ``(left, right, top, bottom)``."""

    _n = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dims of a ``(C, D, H, W)`` or ``(N, C, D, H, W)`` input with ``value``;
    ``padding`` is an int or ``(left, right, top, bottom, front, back)``."""

    _n = 3


class ZeroPad1d(ConstantPad1d):
    """Zero padding of the last dim; ``padding`` is an int or ``(left, right)``."""

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Zero padding of the last two dims; ``padding`` is an int or ``(left, right, top, bottom)``.

    Example:
        >>> nn.ZeroPad2d((1, 1, 2, 0))(rustdl.randn(1, 1, 3, 3)).shape
        (1, 1, 5, 5)
    """

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_ReflectionPadNd):
    """Pads the last dim with its reflection (edge not repeated); each amount must be smaller
    than that dim."""

    _n, _mode = 1, "reflect"


class ReflectionPad2d(_ReflectionPadNd):
    """Pads the last two dims with their reflection (edge not repeated); each amount must be
    smaller than its dim.

    Example:
        >>> nn.ReflectionPad2d(2)(rustdl.randn(1, 1, 3, 3)).shape
        (1, 1, 7, 7)
    """

    _n, _mode = 2, "reflect"


class ReplicationPad1d(_ReplicationPadNd):
    """Pads the last dim by repeating its edge values."""

    _n, _mode = 1, "replicate"


class ReplicationPad2d(_ReplicationPadNd):
    """Pads the last two dims by repeating their edge values."""

    _n, _mode = 2, "replicate"


class CircularPad1d(_CircularPadNd):
    """Pads the last dim with the wrapped-around input (periodic boundary)."""

    _n, _mode = 1, "circular"


class CircularPad2d(_CircularPadNd):
    """Pads the last two dims with the wrapped-around input (periodic boundary)."""

    _n, _mode = 2, "circular"


class ZeroPad3d(ConstantPad3d):
    """Zero padding of the last three dims; ``padding`` is an int or a 6-tuple."""

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad3d(_ReflectionPadNd):
    """Pads the last three dims with their reflection (edge not repeated)."""

    _n, _mode = 3, "reflect"


class ReplicationPad3d(_ReplicationPadNd):
    """Pads the last three dims by repeating their edge values."""

    _n, _mode = 3, "replicate"


class CircularPad3d(_CircularPadNd):
    """Pads the last three dims with the wrapped-around input (periodic boundary)."""

    _n, _mode = 3, "circular"
