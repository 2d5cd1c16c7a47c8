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
    """Reduces consecutive segments of ``data`` along ``axis``, as ``torch.segment_reduce``.

    The segments are given by their ``lengths`` or by ``offsets`` (n + 1 boundaries); with more
    than one dimension these hold one segmentation per position of ``data``'s leading dims, and
    ``axis`` is their last dim. ``reduce`` is ``'sum'``, ``'mean'``, ``'max'``/``'amax'``,
    ``'min'``/``'amin'`` or ``'prod'``. ``initial`` joins every segment's reduction (a mean
    still divides by the segment's length); an empty segment gives ``initial`` if given, else
    0 (sum), NaN (mean), -inf (max), +inf (min) or 1 (prod). Differentiable (a scatter
    reduction underneath); ties in max/min share the gradient, and an element tying with
    ``initial`` takes all of it (as PyTorch's)."""
    import numpy as np

    from . import ArgumentError

    op = "segment_reduce"
    fills = {"sum": 0.0, "mean": float("nan"), "max": float("-inf"), "min": float("inf"), "prod": 1.0}
    reduce = {"amax": "max", "amin": "min"}.get(reduce, reduce)
    if reduce not in fills:
        raise ArgumentError(
            f"{op}(): reduce argument must be either sum, prod, mean, amax or amin, got {reduce!r}"
        )
    if not isinstance(data, Tensor):
        raise TypeError(f"{op}(): data must be a Tensor, not {type(data).__name__}")
    if indices is not None:
        raise NotImplementedError(
            f"{op}(): indices based reduction is not supported yet (give lengths or offsets)"
        )
    if lengths is None and offsets is None:
        raise ArgumentError(f"{op}(): Either lengths or offsets must be defined.")
    if data.dim() == 0:
        raise ArgumentError(f"{op}(): data must have at least one dimension")
    given = lengths if lengths is not None else offsets
    if not isinstance(given, Tensor) or given.is_floating_point() or given.dtype == _rustdl.bool:
        raise TypeError(f"{op}(): lengths and offsets must be integer tensors")
    if given.dim() == 0 or given.dim() > data.dim():
        raise ArgumentError(
            f"{op}(): lengths/offsets of shape {tuple(given.shape)} do not fit data of shape {tuple(data.shape)}"
        )
    if not -data.dim() <= axis < data.dim():
        raise IndexError(
            f"{op}(): Dimension out of range (expected to be in range of [{-data.dim()}, {data.dim() - 1}], "
            f"but got {axis})"
        )
    axis = axis % data.dim()
    if axis != given.dim() - 1:
        raise ArgumentError(
            f"{op}(): Expected axis to be the last dimension of lengths but got {axis} "
            f"(lengths/offsets of shape {tuple(given.shape)})"
        )
    lead = tuple(data.shape[:axis])
    if tuple(given.shape[:-1]) != lead:
        raise ArgumentError(
            f"{op}(): lengths/offsets of shape {tuple(given.shape)} must match data {tuple(data.shape)} "
            f"in the dims before axis {axis}"
        )
    g = np.asarray(given.detach().cpu().numpy(), dtype=np.int64).reshape(
        int(np.prod(lead, dtype=np.int64)), given.shape[-1]
    )
    if lengths is None:
        if g.shape[1] == 0:
            raise ArgumentError(f"{op}(): offsets must hold at least one boundary")
        g = np.diff(g, axis=1)
    n_seg, size = g.shape[1], data.shape[axis]
    if (g < 0).any():
        raise ArgumentError(f"{op}(): lengths contains negative value! (lengths {g.tolist()})")
    if not unsafe and (g.sum(axis=1) != size).any():
        raise ArgumentError(
            f"{op}(): Expected all rows of lengths along axis to sum to data.size({axis}) = {size} "
            f"when !unsafe (row sums {g.sum(axis=1).tolist()})"
        )
    # each element's segment within its row (n_seg: past the last segment, dropped)
    rows = g.shape[0]
    ends = np.cumsum(g, axis=1)
    stride = int(max(size, int(ends.max()) if ends.size else 0)) + 1
    shift = np.arange(rows, dtype=np.int64)[:, None] * stride
    flat_ends = (ends + shift).reshape(-1)
    queries = (np.arange(size, dtype=np.int64)[None, :] + shift).reshape(-1)
    seg = np.searchsorted(flat_ends, queries, side="right") - np.repeat(np.arange(rows) * n_seg, size)
    seg = np.minimum(seg, n_seg).reshape(*lead, size, *([1] * (data.dim() - axis - 1)))
    idx = _rustdl.from_numpy(np.ascontiguousarray(seg)).to(data.device).expand(*data.shape)
    out_shape = list(data.shape)
    out_shape[axis] = n_seg + 1  # one spare slot for elements past the segments (unsafe)

    def kept(t: Tensor) -> Tensor:
        return t.narrow(axis, 0, n_seg)

    def full(value: float) -> Tensor:
        return _rustdl.full(out_shape, value, dtype=data.dtype, device=data.device)

    if reduce == "mean":
        # (initial + sum) / length, as PyTorch's (initial alone for an empty segment; NaN without one)
        total = kept(full(0.0 if initial is None else float(initial)).scatter_add(axis, idx, data))
        count = _rustdl.from_numpy(g.astype(np.float64)).to(device=data.device, dtype=data.dtype)
        count = count.reshape(*lead, n_seg, *([1] * (data.dim() - axis - 1)))
        return total / (count if initial is None else count.clamp_min(1.0))
    if reduce in ("sum", "prod"):
        start = fills[reduce] if initial is None else float(initial)
        return kept(full(start).scatter_reduce(axis, idx, data, reduce, include_self=True))
    how = "amax" if reduce == "max" else "amin"
    out = kept(full(fills[reduce]).scatter_reduce(axis, idx, data, how, include_self=False))
    if initial is None:
        return out
    init = _rustdl.full((), float(initial), dtype=data.dtype, device=data.device)
    # an element tying with initial keeps all the gradient; NaN stays NaN
    worse = out < init if reduce == "max" else out > init
    return _rustdl.where(worse, init, out)


segment_reduce = _segment_reduce


def _convert_indices_from_coo_to_csr(input: Tensor, size: int, *, out_int32: bool = False) -> Tensor:  # noqa: A002
    """Compressed row pointers (length ``size + 1``) of sorted COO row indices:
    ``out[i]`` is the number of indices below ``i``."""
    import rustdl

    bounds = _rustdl.arange(size + 1, device=input.device)
    out = rustdl.searchsorted(input.contiguous(), bounds)
    return out.to(_rustdl.int32 if out_int32 else _rustdl.int64)
