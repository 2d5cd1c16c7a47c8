"""``Tensor.scatter`` / ``scatter_`` (replacing values, as PyTorch) and ``index_fill`` /
``index_fill_``, composed from ``scatter_add``, ``index_add_`` and ``where`` (so they have
gradients and run on every device)."""

from __future__ import annotations

import functools
import numbers
from typing import Any

from . import _rustdl
from ._rustdl import Tensor


def _scatter(
    self: Tensor, dim: int, index: Tensor, src: Any = None, value: Any = None, *, reduce: str | None = None
) -> Tensor:
    """``self`` with ``src`` (a tensor, or a number) written at ``index`` along ``dim``, as
    ``torch.Tensor.scatter``; ``reduce='add'`` adds instead (``scatter_add``). Where ``index``
    repeats a position the last write wins, as PyTorch's CPU kernel (a number is written once)."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter: expected src (a tensor) or value (a number)")
    if isinstance(index, Tensor) and index.dtype == _rustdl.int32:  # PyTorch takes int32 too
        index = index.long()
    if not isinstance(index, Tensor) or index.dtype != _rustdl.int64:
        raise TypeError("scatter: index must be an int64 or int32 tensor")
    if isinstance(src, numbers.Number):
        # an int stays an int (-3 is 253 in uint8, as PyTorch converts it)
        v = int(src) if isinstance(src, (int, numbers.Integral)) and not isinstance(src, bool) else float(src)
        src = _rustdl.full(tuple(index.shape), v, dtype=self.dtype, device=self.device)
    elif not isinstance(src, Tensor):
        raise TypeError(f"scatter: src must be a tensor or a number, got {type(src).__name__}")
    elif src.dtype != self.dtype:
        src = src.to(self.dtype)
    if self.dim() == 1 and index.dim() == 0:  # a scalar index is one element of one dim
        index = index.reshape(1)
        if src.dim() == 0:
            src = src.reshape(1)
    if index.dim() != self.dim():
        raise RuntimeError(
            f"scatter: index of shape {tuple(index.shape)} must have as many dims as the input {tuple(self.shape)}"
        )
    nd = max(self.dim(), 1)
    if not -nd <= dim < nd:
        raise IndexError(f"scatter: dim {dim} out of range for a tensor of {self.dim()} dims")
    dim = dim % nd
    if self.dim() and any(
        index.shape[d] > src.shape[d] or (d != dim and index.shape[d] > self.shape[d])
        for d in range(index.dim())
    ):
        raise RuntimeError(
            f"scatter: expected index {tuple(index.shape)} to be no larger than self {tuple(self.shape)} apart "
            f"from dimension {dim} and no larger than src {tuple(src.shape)}"
        )
    if index.numel():
        size = self.shape[dim] if self.dim() else 1
        lo, hi = int(index.min().item()), int(index.max().item())
        if lo < 0 or hi >= size:
            bad = lo if lo < 0 else hi
            # PyTorch's RuntimeError, and an IndexError
            raise _rustdl.OutOfRangeError(
                f"scatter: index {bad} is out of bounds for dimension {dim} with size {size}"
            )
    if tuple(src.shape) != tuple(index.shape):
        # PyTorch reads only the index's extent of src
        src = src[tuple(slice(0, n) for n in index.shape)]
    if reduce == "add":
        return self + _rustdl.zeros_like(self).scatter_add(dim, index, src)
    if reduce == "multiply":
        return self.scatter_reduce(dim, index, src, "prod", include_self=True)
    if reduce is not None:
        raise ValueError(f"scatter: reduce must be None, 'add' or 'multiply', got {reduce!r}")
    # Where index repeats a position the last write (in the index's row-major order) wins, as
    # PyTorch's CPU kernel: each target keeps the largest position that wrote to it.
    pos = _rustdl.arange(index.numel(), dtype=_rustdl.int64, device=self.device).reshape(tuple(index.shape))
    winner = _rustdl.full(tuple(self.shape), -1, dtype=_rustdl.int64, device=self.device)
    winner = winner.scatter_reduce(dim, index, pos, "amax")
    keep = (winner.gather(dim, index) == pos).to(self.dtype)
    return _scatter_function().apply(self, src, dim, index, keep, winner >= 0)


@functools.cache
def _scatter_function():
    """The autograd Function of :func:`_scatter`, made on first use (autograd imports this module)."""
    from .autograd import Function

    class ScatterBackward(Function):
        """The written values with PyTorch's gradients: every element of ``src`` gets the output's
        gradient at the position it was written to (a write a later one overwrote included), as
        ``grad.gather(dim, index)``; ``self`` gets it where nothing was written."""

        @staticmethod
        def forward(ctx, base, src, dim, index, keep, hit):
            ctx.dim = dim
            ctx.save_for_backward(index, hit)
            written = _rustdl.zeros_like(base).scatter_add(dim, index, src * keep)
            return _rustdl.where(hit, written, base)

        @staticmethod
        def backward(ctx, g):
            index, hit = ctx.saved_tensors
            return (
                _rustdl.where(hit, _rustdl.zeros_like(g), g),
                g.gather(ctx.dim, index),
                None,
                None,
                None,
                None,
            )

    return ScatterBackward


def _scatter_(
    self: Tensor, dim: int, index: Tensor, src: Any = None, value: Any = None, *, reduce: str | None = None
) -> Tensor:
    """In-place :meth:`scatter`."""
    if isinstance(src, Tensor) and src.dtype != self.dtype:
        raise _rustdl.DTypeError(
            f"scatter_: self ({self.dtype}) and src ({src.dtype}) must have the same dtype "
            f"(shapes {tuple(self.shape)} and {tuple(src.shape)})"
        )
    return self.copy_(_scatter(self, dim, index, src, value, reduce=reduce))


def _index_fill(self: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """``self`` with the slices at ``index`` along ``dim`` set to ``value``, as PyTorch."""
    nd = max(self.dim(), 1)
    if not -nd <= dim < nd:
        raise IndexError(f"index_fill: dim {dim} out of range for a tensor of {self.dim()} dims")
    dim = dim % nd
    size = self.shape[dim] if self.dim() else 1
    idx = index.reshape(-1)
    if idx.numel():
        # negative indices count from the end, as PyTorch
        idx = _rustdl.where(idx < 0, idx + size, idx)
    # hit counts in float32 (exact here; a narrow or bool dtype would wrap or saturate)
    mark = _rustdl.zeros(size, device=self.device)
    mark.index_add_(0, idx, _rustdl.ones(idx.shape[0], device=self.device))
    shape = [1] * self.dim()
    if shape:
        shape[dim] = size
    hit = (mark > 0).reshape(*shape) if shape else (mark > 0).reshape(())
    if isinstance(value, Tensor) and value.dim() != 0:
        raise RuntimeError(
            "index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
            f"{value.dim()} dimension(s) (shape {tuple(value.shape)})"
        )
    v = value if isinstance(value, Tensor) else _rustdl.tensor(value, dtype=self.dtype, device=self.device)
    return _rustdl.where(hit, v.to(self.dtype), self)


def _index_fill_(self: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """In-place :meth:`index_fill`."""
    return self.copy_(_index_fill(self, dim, index, value))


Tensor.scatter = _scatter
Tensor.scatter_ = _scatter_
Tensor.index_fill = _index_fill
Tensor.index_fill_ = _index_fill_


def scatter(
    input: Tensor, dim: int, index: Tensor, src: Any = None, value: Any = None, *, reduce: str | None = None
) -> Tensor:
    """Functional form of :meth:`Tensor.scatter`."""
    return _scatter(input, dim, index, src, value, reduce=reduce)


def index_fill(input: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """Functional form of :meth:`Tensor.index_fill`."""
    return _index_fill(input, dim, index, value)


def _segment_reduce(
    data: Tensor,
    reduce: str,
    *,
    lengths: Tensor | None = None,
    indices: Tensor | None = None,
    offsets: Tensor | None = None,
    axis: int = 0,
    unsafe: bool = False,
    initial: Any = None,
) -> Tensor:
    """Reduces consecutive segments of ``data`` along ``axis`` (``torch._segment_reduce``): the
    segments are given by their ``lengths`` or by ``offsets`` (n + 1 boundaries); ``reduce`` is
    ``'sum'``, ``'mean'``, ``'max'``, ``'min'`` or ``'prod'``. An empty segment gives
    ``initial`` if given, else 0 (sum), NaN (mean), -inf (max), +inf (min) or 1 (prod).
    Differentiable (a scatter reduction underneath)."""
    fills = {"sum": 0.0, "mean": float("nan"), "max": float("-inf"), "min": float("inf"), "prod": 1.0}
    reduce = {"amax": "max", "amin": "min"}.get(reduce, reduce)
    if reduce not in fills:
        raise ValueError(f"_segment_reduce: reduce must be one of {sorted(fills)}, got {reduce!r}")
    if indices is not None:
        raise NotImplementedError("_segment_reduce: indices= is not supported (give lengths or offsets)")
    if (lengths is None) == (offsets is None):
        raise ValueError("_segment_reduce: give exactly one of lengths and offsets")
    if data.dim() == 0:
        raise ValueError("_segment_reduce: data must have at least one dimension")
    axis = axis % data.dim()
    if lengths is None:
        if offsets.dim() != 1:
            raise NotImplementedError("_segment_reduce: only 1-D offsets are supported")
        lengths = offsets[1:] - offsets[:-1]
    if lengths.dim() != 1:
        raise NotImplementedError("_segment_reduce: only 1-D lengths are supported")
    lengths = lengths.to(device=data.device, dtype=_rustdl.int64)
    n = lengths.shape[0]
    if not unsafe and (bool((lengths < 0).any()) or int(lengths.sum()) != data.shape[axis]):
        raise RuntimeError(
            f"_segment_reduce: segment lengths must be non-negative and sum to {data.shape[axis]} "
            f"(data shape {tuple(data.shape)}, axis {axis})"
        )
    seg = _rustdl.arange(n, device=data.device).repeat_interleave(lengths)
    view = [1] * data.dim()
    view[axis] = data.shape[axis]
    idx = seg.reshape(view).expand(*data.shape)
    out_shape = list(data.shape)
    out_shape[axis] = n
    if reduce == "mean":
        # (initial + sum) / count, as PyTorch's (initial alone for an empty segment; NaN without one)
        start = 0.0 if initial is None else float(initial)
        total = _rustdl.full(out_shape, start, dtype=data.dtype, device=data.device).scatter_add(
            axis, idx, data
        )
        count_shape = [1] * data.dim()
        count_shape[axis] = n
        count = lengths.to(data.dtype).reshape(count_shape)
        return total / (count if initial is None else count.clamp_min(1.0))
    fill = fills[reduce] if initial is None else float(initial)
    base = _rustdl.full(out_shape, fill, dtype=data.dtype, device=data.device)
    how = {"max": "amax", "min": "amin"}.get(reduce, reduce)
    return base.scatter_reduce(axis, idx, data, how, include_self=initial is not None)


def _convert_indices_from_coo_to_csr(input: Tensor, size: int, *, out_int32: bool = False) -> Tensor:  # noqa: A002
    """Compressed row pointers (length ``size + 1``) of sorted COO row indices:
    ``out[i]`` is the number of indices below ``i``."""
    import rustdl

    bounds = _rustdl.arange(size + 1, device=input.device)
    out = rustdl.searchsorted(input.contiguous(), bounds)
    return out.to(_rustdl.int32 if out_int32 else _rustdl.int64)
