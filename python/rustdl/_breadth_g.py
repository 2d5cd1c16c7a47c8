"""PyTorch API breadth G: running extrema (``cummax`` / ``cummin`` / ``logcumsumexp``),
``aminmax``, ``cov`` / ``corrcoef``, ``scatter_reduce``, dtype promotion helpers, spectral
windows, ``frexp`` / ``ldexp`` / ``nextafter`` / ``i0`` and the in-place shape methods.

Composed from existing rustdl ops where PyTorch is differentiable; where the forward pass is
computed on the host (numpy), the gradient is still built from rustdl ops, so it is exact.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np

from . import _rustdl as _rd
from ._rustdl import Tensor, float32, float64, int64
from ._rustdl import bool as _bool
from ._tensor_api import _back, _elem_np, _np_of, _result, get_default_dtype
from ._typed_errors import int_arg
from .autograd import Function, once_differentiable
from .return_types import structseq

__all__ = [
    "aminmax",
    "asarray",
    "bartlett_window",
    "blackman_window",
    "can_cast",
    "chain_matmul",
    "corrcoef",
    "cov",
    "cummax",
    "cummin",
    "diagflat",
    "erfc",
    "frexp",
    "frombuffer",
    "from_file",
    "hamming_window",
    "hann_window",
    "kaiser_window",
    "i0",
    "index_add",
    "index_reduce",
    "ldexp",
    "logcumsumexp",
    "msort",
    "nextafter",
    "binomial",
    "poisson",
    "promote_types",
    "randint_like",
    "result_type",
    "scatter_reduce",
]

ValuesIndices = _rd.ValuesIndices  # the one (values, indices) named tuple
AminmaxResult = structseq("aminmax", ["min", "max"])
FrexpResult = structseq("frexp", ["mantissa", "exponent"])


def _tensor_arg(op: str, x: Any, name: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: argument '{name}' must be a Tensor, got {type(x).__name__}")
    return x


def _dim(op: str, dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dim {dim} out of range for a tensor of {ndim} dims (expected [{-n}, {n - 1}])"
        )
    return dim % n


# ---- running extrema


def _cum_extreme(op: str, input: Tensor, dim: int, accumulate) -> ValuesIndices:  # noqa: A002
    _tensor_arg(op, input)
    d = _dim(op, dim, input.dim())
    if input.dim() == 0:
        return _result(op, input.clone(), _rd.zeros((), dtype=int64, device=input.device))
    a = _np_of(input)
    run = accumulate(a, axis=d) if a.size else a
    # the running extreme changes only where an element equals it, so its index is the last
    # such position so far; equal values move it forward and a NaN takes over (as PyTorch)
    hit = a == run
    if a.dtype.kind == "f":
        hit |= np.isnan(a)
    shape = [1] * a.ndim
    shape[d] = a.shape[d]
    pos = np.where(hit, np.arange(a.shape[d]).reshape(shape), 0)
    idx = np.maximum.accumulate(pos, axis=d) if a.size else pos.astype(np.int64)
    indices = _back(np.ascontiguousarray(idx.astype(np.int64)), input, int64)
    return _result(op, input.gather(d, indices), indices)


def cummax(input: Tensor, dim: int) -> ValuesIndices:  # noqa: A002
    """Running maximum along ``dim`` and the index where each was reached, as ``torch.cummax``
    (``values`` is differentiable; equal values move the index to the later one)."""
    return _cum_extreme("cummax", input, dim, np.maximum.accumulate)


def cummin(input: Tensor, dim: int) -> ValuesIndices:  # noqa: A002
    """Running minimum along ``dim`` and its indices, as ``torch.cummin``."""
    return _cum_extreme("cummin", input, dim, np.minimum.accumulate)


def _lcse_np(a: np.ndarray, d: int) -> np.ndarray:
    if a.shape[d] == 0:
        return a.copy()
    with np.errstate(invalid="ignore"):
        return np.logaddexp.accumulate(a, axis=d)


class _LogCumSumExpFn:
    cls = None


def _lcse_function():
    if _LogCumSumExpFn.cls is None:
        from .autograd import Function

        class _LogCumSumExp(Function):
            @staticmethod
            def forward(ctx, x, d):
                out = _back(_lcse_np(_np_of(x).astype(np.float64), d), x, x.dtype)
                ctx.save_for_backward(x, out)
                ctx.d = d
                return out

            @staticmethod
            def backward(ctx, grad):
                # d out_i / d x_j = exp(x_j - out_i) for i >= j: split the gradient by sign and
                # sum each part in log space (a reversed logcumsumexp), so nothing overflows
                x, out = ctx.saved_tensors
                d = ctx.d

                def rev_lcse(t):
                    return logcumsumexp(t.flip([d]), d).flip([d])

                ninf = float("-inf")
                pos = _rd.where(
                    grad > 0, grad.clamp(min=1e-300 if grad.dtype == float64 else 1e-38), grad * 0 + 1
                )
                neg = _rd.where(
                    grad < 0, (-grad).clamp(min=1e-300 if grad.dtype == float64 else 1e-38), grad * 0 + 1
                )
                lp = _rd.where(grad > 0, pos.log() - out, grad * 0 + ninf)
                ln = _rd.where(grad < 0, neg.log() - out, grad * 0 + ninf)
                return (rev_lcse(lp) + x).exp() - (rev_lcse(ln) + x).exp(), None

        _LogCumSumExpFn.cls = _LogCumSumExp
    return _LogCumSumExpFn.cls


def logcumsumexp(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """``log(cumsum(exp(input), dim))`` computed without overflow, as ``torch.logcumsumexp``."""
    _tensor_arg("logcumsumexp", input)
    d = _dim("logcumsumexp", dim, input.dim())
    if not input.is_floating_point():
        input = input.to(get_default_dtype())
    if input.dim() == 0:
        return input.clone()
    return _lcse_function().apply(input, d)


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False) -> AminmaxResult:  # noqa: A002
    """Minimum and maximum (over all elements or along ``dim``) as ``(min, max)``, as ``torch.aminmax``."""
    _tensor_arg("aminmax", input)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError(
                "aminmax(): cannot compute aminmax over an empty dimension as the operation has no identity"
            )
        lo, hi = input.amin(), input.amax()
        if keepdim:
            shape = (1,) * input.dim()
            lo, hi = lo.reshape(shape), hi.reshape(shape)
        return AminmaxResult(lo, hi)
    d = _dim("aminmax", dim, input.dim())
    if input.dim() > 0 and input.shape[d] == 0:
        raise IndexError(
            f"aminmax(): expected reduction dim {d} to have non-zero size (input shape {tuple(input.shape)})"
        )
    if input.dim() == 0:
        return AminmaxResult(input.clone(), input.clone())
    return AminmaxResult(input.amin(d, keepdim=keepdim), input.amax(d, keepdim=keepdim))


# ---- statistics


def cov(
    input: Tensor, *, correction: int = 1, fweights: Tensor | None = None, aweights: Tensor | None = None
) -> Tensor:  # noqa: A002
    """Covariance of the variables in the rows of ``input`` (observations in columns), as ``torch.cov``."""
    _tensor_arg("cov", input)
    if input.dim() > 2:
        raise ValueError(
            f"cov(): expected input to have two or fewer dimensions but got an input of shape {tuple(input.shape)}"
        )
    x = input if input.is_floating_point() else input.to(get_default_dtype())
    x = x.reshape(1, -1) if x.dim() < 2 else x
    n = x.shape[1]
    w = None
    for name, wt in (("fweights", fweights), ("aweights", aweights)):
        if wt is None:
            continue
        _tensor_arg("cov", wt, name)
        if wt.dim() > 1 or wt.numel() != n:
            raise ValueError(
                f"cov(): expected {name} to have one dimension of size {n}, got shape {tuple(wt.shape)}"
            )
        if name == "fweights" and wt.is_floating_point():
            raise TypeError("cov(): expected fweights to have an integral dtype")
        if name == "aweights" and not wt.is_floating_point():
            raise TypeError("cov(): expected aweights to have a floating point dtype")
        wt = wt.reshape(-1).to(x.dtype)
        w = wt if w is None else w * wt
    if w is None:
        avg = x.mean(1)
        norm = float(n - correction)
    else:
        w_sum_t = w.sum()
        avg = (x * w).sum(1) / w_sum_t
        if correction == 0:
            norm = w_sum_t
        elif aweights is None:
            norm = w_sum_t - correction
        else:
            norm = w_sum_t - correction * (w * aweights.reshape(-1).to(x.dtype)).sum() / w_sum_t
    if isinstance(norm, float):
        if norm <= 0:
            warnings.warn(
                "cov(): degrees of freedom is <= 0. Correction should be strictly less than the number of observations.",
                UserWarning,
                stacklevel=2,
            )
        norm = max(norm, 0.0)
    else:
        norm = norm.clamp(min=0)
    xm = x - avg.unsqueeze(1)
    xw = xm if w is None else xm * w
    c = xw.matmul(xm.t()) / norm
    return c.squeeze()


def corrcoef(input: Tensor) -> Tensor:  # noqa: A002
    """Pearson correlation coefficients of the rows of ``input``, clipped to [-1, 1], as ``torch.corrcoef``."""
    _tensor_arg("corrcoef", input)
    if input.dim() > 2:
        raise ValueError(
            f"corrcoef(): expected input to have two or fewer dimensions but got an input of shape {tuple(input.shape)}"
        )
    c = cov(input)
    if c.dim() == 0:
        return c / c
    sd = c.diagonal().sqrt()
    c = c / sd.unsqueeze(1)
    c = c / sd.unsqueeze(0)
    return c.clamp(-1, 1)


def diagflat(input: Tensor, offset: int = 0) -> Tensor:  # noqa: A002
    """A 2-D tensor with the flattened ``input`` on its ``offset``-th diagonal, as ``torch.diagflat``."""
    _tensor_arg("diagflat", input)
    return input.reshape(-1).diag(offset)


def msort(input: Tensor) -> Tensor:  # noqa: A002
    """``input`` sorted along its first dim, as ``torch.msort``."""
    _tensor_arg("msort", input)
    if input.dim() == 0:
        return input.clone()
    return input.sort(0).values


def _erfc_np(a):
    return np.vectorize(math.erfc, otypes=[np.float64])(a) if a.size else a.astype(np.float64)


def erfc(input: Tensor) -> Tensor:  # noqa: A002
    """Complementary error function ``1 - erf(x)``, accurate in the tail, as ``torch.erfc``."""
    return _elem_np("erfc", input, _erfc_np, lambda t: (-(t * t)).exp() * (-2.0 / math.sqrt(math.pi)))


# ---- scatter_reduce / index_add

_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _scatter_positions(dim: int, idx: np.ndarray) -> tuple:
    grid = list(np.indices(idx.shape, sparse=False)) if idx.ndim else []
    grid[dim] = idx
    return tuple(grid)


def _scatter_reduce(
    self: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    op = "scatter_reduce"
    _tensor_arg(op, self, "self")
    _tensor_arg(op, index, "index")
    _tensor_arg(op, src, "src")
    if reduce not in _REDUCES:
        raise ValueError(f"{op}: reduce argument must be one of {_REDUCES}, got {reduce!r}")
    if index.dtype == _rd.int32:  # PyTorch takes int32 indices too
        index = index.long()
    if index.dtype != int64:
        raise TypeError(f"{op}(): Expected dtype int64 or int32 for index, got {index.dtype}")
    if src.dtype != self.dtype:
        raise TypeError(
            f"{op}(): expected self and src to have the same dtype, got {self.dtype} and {src.dtype}"
        )
    d = _dim(op, dim, self.dim())
    nd = max(self.dim(), 1)
    if max(index.dim(), 1) != nd or max(src.dim(), 1) != nd:
        raise ValueError(
            f"{op}: index {tuple(index.shape)}, self {tuple(self.shape)} and src {tuple(src.shape)} must have the same number of dims"
        )
    ishape = tuple(index.shape) or (1,)
    sshape = tuple(self.shape) or (1,)
    srcshape = tuple(src.shape) or (1,)
    for k in range(nd):
        if ishape[k] > srcshape[k] or (k != d and ishape[k] > sshape[k]):
            raise ValueError(
                f"{op}: expected index {tuple(index.shape)} to be no larger than self {tuple(self.shape)} "
                f"apart from dimension {d} and to be no larger than src {tuple(src.shape)}"
            )
    base = _np_of(self).reshape(sshape)
    work = base.astype(np.float64) if base.dtype.kind == "f" else base.copy()
    idx = _np_of(index).reshape(ishape)
    s = _np_of(src).reshape(srcshape)[tuple(slice(0, n) for n in ishape)]
    s = s.astype(work.dtype)
    if idx.size and (idx.min() < 0 or idx.max() >= sshape[d]):  # no negative wrap, as PyTorch
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise _rd.OutOfRangeError(
            f"{op}: index {bad} is out of bounds for dimension {d} with size {sshape[d]}"
        )
    pos = _scatter_positions(d, idx)
    hits = np.zeros(sshape, dtype=np.int64)
    np.add.at(hits, pos, 1)
    scattered = hits > 0
    keep_self = np.ones(sshape, dtype=bool) if include_self else ~scattered
    if reduce in ("sum", "mean"):
        out = np.where(keep_self, work, 0).astype(work.dtype)
        np.add.at(out, pos, s)
    elif reduce == "prod":
        out = np.where(keep_self, work, 1).astype(work.dtype)
        np.multiply.at(out, pos, s)
    else:
        if work.dtype.kind == "f":
            ident = -np.inf if reduce == "amax" else np.inf
        else:
            info = np.iinfo(work.dtype) if work.dtype != np.bool_ else None
            ident = (info.min if reduce == "amax" else info.max) if info else (reduce != "amax")
        out = np.where(keep_self, work, ident).astype(work.dtype)
        (np.maximum if reduce == "amax" else np.minimum).at(out, pos, s)
    count = hits + keep_self.astype(np.int64)
    if reduce == "mean":
        if work.dtype.kind == "f":
            out = np.where(count > 0, out / np.maximum(count, 1), out)
        else:
            out = np.where(count > 0, np.floor_divide(out, np.maximum(count, 1)), out)
    result = _back(out.reshape(tuple(self.shape)), self, self.dtype)
    if not (self.is_floating_point() and (self.requires_grad or src.requires_grad) and _rd.is_grad_enabled()):
        return result
    if reduce == "prod":
        composed = _scatter_prod_composed(self, src, ishape, srcshape, pos, hits, keep_self)
        if composed is not None:
            return composed
    # local derivatives (host-computed), then a linear term whose value is zero but whose
    # gradient is exactly d result / d self and d result / d src
    if reduce == "sum":
        dself = keep_self.astype(np.float64)
        dsrc = np.ones(ishape)
    elif reduce == "mean":
        inv = 1.0 / np.maximum(count, 1)
        dself = keep_self * inv
        dsrc = inv[pos]
    elif reduce in ("amax", "amin"):
        mself = keep_self & ((work == out) | (np.isnan(work) & np.isnan(out)))
        msrc = (s == out[pos]) | (np.isnan(s) & np.isnan(out[pos]))
        ties = mself.astype(np.float64)
        np.add.at(ties, pos, msrc.astype(np.float64))
        ties = np.maximum(ties, 1)
        dself = mself / ties
        dsrc = msrc / ties[pos]
    else:
        zs = np.where(keep_self & (work == 0), 1, 0)
        np.add.at(zs, pos, (s == 0).astype(np.int64))
        nzp = np.where(keep_self & (work != 0), work, 1.0)
        np.multiply.at(nzp, pos, np.where(s == 0, 1.0, s))

        def local(v, z, p):
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(
                    v != 0, np.where(z == 0, p / np.where(v == 0, 1, v), 0.0), np.where(z == 1, p, 0.0)
                )

        dself = np.where(keep_self, local(work, zs, nzp), 0.0)
        dsrc = local(s, zs[pos], nzp[pos])
    shape = tuple(self.shape)
    src_used = src.reshape(srcshape)[tuple(slice(0, n) for n in ishape)]
    dself_t = _back(dself.reshape(shape), self, self.dtype)
    dsrc_t = _back(dsrc.reshape(ishape), self, self.dtype)
    idx_t = _back(idx.reshape(ishape), self, int64)
    grad_fn = _ScatterProdGradOnce if reduce == "prod" else _ScatterReduceGrad
    return grad_fn.apply(self, src_used, result, dself_t, dsrc_t, idx_t, d, sshape)


def _scatter_prod_composed(self, src, ishape, srcshape, pos, hits, keep_self):
    """A product scatter built from differentiable ops, so that its gradient can be
    differentiated again (create_graph): each target position's factors (itself where kept,
    then its scattered elements in order) laid out in one row of a padded matrix whose rows
    ``prod`` reduces. None when the rows would be too uneven to pad (one position taking far
    more elements than the others); the caller then uses the host-computed derivatives."""
    sshape = hits.shape
    size = int(np.prod(sshape))
    flat_pos = np.ravel_multi_index(pos, sshape).reshape(-1) if len(pos) else np.zeros(0, np.int64)
    k = flat_pos.size
    hit_flat = hits.reshape(-1)
    rows = np.flatnonzero(hit_flat)
    width = int(hit_flat.max()) if k else 0
    if rows.size * (width + 1) > max(8 * (size + k), 1 << 22):
        return None
    dev, dt = self.device, self.dtype
    self_flat = self.reshape(-1)
    keep = keep_self.reshape(-1)
    if k == 0:
        return self_flat.clone().reshape(tuple(self.shape))
    order = np.argsort(flat_pos, kind="stable")
    ranked = flat_pos[order]
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k) - np.searchsorted(ranked, ranked, side="left")
    slot = np.searchsorted(rows, flat_pos) * width + rank
    src_used = src.reshape(srcshape)[tuple(slice(0, n) for n in ishape)].reshape(-1)
    slots = _rd.ones(rows.size * width, dtype=dt, device=dev).scatter(0, _back(slot, self, int64), src_used)
    rows_t = _back(rows.astype(np.int64), self, int64)
    own = self_flat.index_select(0, rows_t)
    own = _rd.where(_back(keep[rows], self, _rd.bool), own, _rd.ones_like(own))
    factors = _rd.cat([own.unsqueeze(1), slots.reshape(rows.size, width)], 1)
    out = self_flat.index_put((rows_t,), factors.prod(1))
    return out.reshape(tuple(self.shape))


class _ScatterReduceGrad(Function):
    """Carries a scatter_reduce result (computed on the host) into the graph with the local
    derivatives ``dself`` (per element of ``self``) and ``dsrc`` (per scattered element):
    ``g_self = g * dself`` and ``g_src = g[index] * dsrc``, differentiable ops of ``g``. (A linear
    term ``dself * (self - self.detach())`` would be NaN wherever ``self`` or ``src`` is ±inf.)"""

    @staticmethod
    def forward(ctx, self_, src_used, result, dself_t, dsrc_t, idx_t, d, sshape):
        ctx.save_for_backward(dself_t, dsrc_t, idx_t)
        ctx.d, ctx.sshape, ctx.src_shape = d, sshape, tuple(src_used.shape)
        return result.clone()

    @staticmethod
    def backward(ctx, g):
        dself_t, dsrc_t, idx_t = ctx.saved_tensors
        g_self = g * dself_t
        g_src = g.reshape(ctx.sshape).gather(ctx.d, idx_t) * dsrc_t
        return g_self, g_src.reshape(ctx.src_shape), None, None, None, None, None, None


class _ScatterProdGradOnce(_ScatterReduceGrad):
    """A product scatter too uneven to compose (see ``_scatter_prod_composed``): its local
    derivatives are host-computed constants, so a gradient of its gradient would be wrong, and
    is refused instead."""

    backward = staticmethod(once_differentiable(_ScatterReduceGrad.backward))


def scatter_reduce(
    input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:  # noqa: A002
    """``input`` with ``src`` reduced into it at ``index`` along ``dim`` (``reduce`` one of
    "sum", "prod", "mean", "amax", "amin"), as ``torch.scatter_reduce``; with
    ``include_self=False`` the scattered-to positions forget their own values. Gradients as
    PyTorch (ties in amax/amin share the gradient evenly)."""
    return _scatter_reduce(input, dim, index, src, reduce, include_self=include_self)


def _scatter_reduce_(
    self: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    return self.copy_(_scatter_reduce(self, dim, index, src, reduce, include_self=include_self))


def _index_add(self: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    _tensor_arg("index_add", self, "self")
    _tensor_arg("index_add", source, "source")
    return self.clone().index_add_(dim, index, source, alpha=alpha)


_native_index_add_ = Tensor.index_add_


def _index_add_(self: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """In-place ``self[index] += alpha * source`` along ``dim``, as ``Tensor.index_add_``."""
    if isinstance(source, Tensor) and source.dtype != self.dtype:
        raise _rd.DTypeError(
            f"index_add_: self ({self.dtype}) and source ({source.dtype}) must have the same dtype "
            f"(shapes {tuple(self.shape)} and {tuple(source.shape)})"
        )
    if alpha != 1:
        if not self.is_floating_point() and isinstance(alpha, float) and math.isfinite(alpha):
            alpha = int(alpha)  # an integral self takes alpha truncated to an int, as PyTorch
        source = source * alpha
    return _native_index_add_(self, dim, index, source)


Tensor.index_add_ = _index_add_


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:  # noqa: A002
    """``input`` plus ``alpha * source`` added at ``index`` along ``dim`` (out of place), as ``torch.index_add``."""
    return _index_add(input, dim, index, source, alpha=alpha)


def _index_reduce(
    self: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    """``self`` with the slices of ``source`` along ``dim`` reduced into the slices ``index``
    names (``reduce`` one of "prod", "mean", "amax", "amin"), as ``Tensor.index_reduce``: a
    scatter_reduce whose index is ``index`` spread over ``source``'s other dims."""
    op = "index_reduce"
    _tensor_arg(op, self, "self")
    _tensor_arg(op, index, "index")
    _tensor_arg(op, source, "source")
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise ValueError(
            f"{op}: reduce argument must be one of 'prod', 'mean', 'amax', 'amin', got {reduce!r}"
        )
    if index.dim() > 1 or index.is_floating_point() or index.dtype == _rd.bool:
        raise IndexError(
            f"{op}: index must be a 1-D integer tensor, got {index.dtype} of shape {tuple(index.shape)}"
        )
    d = _dim(op, dim, self.dim())
    sshape, srcshape = tuple(self.shape) or (1,), tuple(source.shape) or (1,)
    n = index.numel()
    if (
        len(sshape) != len(srcshape)
        or n != srcshape[d]
        or any(a != b for k, (a, b) in enumerate(zip(sshape, srcshape)) if k != d)
    ):
        raise ValueError(
            f"{op}: source {tuple(source.shape)} must match self {tuple(self.shape)} apart from dim {d}, "
            f"whose size must be the index's length {n}"
        )
    spread = [1] * len(srcshape)
    spread[d] = n
    idx = index.to(int64).reshape(spread).expand(*srcshape).contiguous().reshape(tuple(source.shape))
    return _scatter_reduce(self, dim, idx, source, reduce, include_self=include_self)


def _index_reduce_(
    self: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    return self.copy_(_index_reduce(self, dim, index, source, reduce, include_self=include_self))


def index_reduce(
    input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:  # noqa: A002
    """Functional form of :meth:`Tensor.index_reduce`."""
    return _index_reduce(input, dim, index, source, reduce, include_self=include_self)


# ---- dtype helpers

_INT_BITS = {"uint8": 16, "int8": 8, "int16": 16, "int32": 32, "int64": 64}  # signed bits to hold
_FLOATS = ("float16", "bfloat16", "float32", "float64")
_CATEGORY = {"bool": 0, **{k: 2 for k in _FLOATS}, **{k: 1 for k in _INT_BITS}}
_RANK = {"bool": 0, "float16": 2, "bfloat16": 2, "float32": 3, "float64": 4, **{k: 1 for k in _INT_BITS}}
_BY_NAME = {
    "bool": _bool,
    "float32": float32,
    "float64": float64,
    "float16": _rd.float16,
    "bfloat16": _rd.bfloat16,
    **{k: getattr(_rd, k) for k in _INT_BITS},
}


def _promote_names(a: str, b: str) -> str:
    """PyTorch's promotion of two dtype names: the higher category wins; two integers give the
    smallest integer holding both ranges (uint8 with int8 is int16)."""
    if a == b:
        return a
    if a in _INT_BITS and b in _INT_BITS:
        bits = max(_INT_BITS[a], _INT_BITS[b])
        return {8: "int8", 16: "int16", 32: "int32"}.get(bits, "int64")
    if {a, b} == {"float16", "bfloat16"}:
        return "float32"
    return a if _RANK[a] >= _RANK[b] else b


def _dtype_name(op: str, d: Any) -> str:
    name = getattr(d, "name", None)
    if name not in _RANK:
        raise TypeError(f"{op}: expected a rustdl dtype, got {d!r}")
    return name


def promote_types(type1: Any, type2: Any) -> Any:
    """The smallest dtype both ``type1`` and ``type2`` convert to without losing category, as ``torch.promote_types``."""
    a, b = _dtype_name("promote_types", type1), _dtype_name("promote_types", type2)
    return _BY_NAME[_promote_names(a, b)]


def can_cast(from_: Any, to: Any) -> bool:
    """Whether PyTorch's casting rules allow ``from_`` → ``to`` (no float→int, no int→bool), as ``torch.can_cast``."""
    a, b = _dtype_name("can_cast", from_), _dtype_name("can_cast", to)
    return _CATEGORY[a] <= _CATEGORY[b]


def _operand_dtype(x: Any) -> tuple[int, str]:
    if isinstance(x, Tensor):
        return (0 if x.dim() > 0 else 1), x.dtype.name
    if isinstance(x, (bool, np.bool_)):
        return 2, "bool"
    if isinstance(x, (int, np.integer)):  # numpy scalars count as Python numbers, as PyTorch's
        return 2, "int64"
    if isinstance(x, (float, np.floating)):
        return 2, get_default_dtype().name
    raise TypeError(f"result_type: expected a Tensor or a Python number, got {type(x).__name__}")


def result_type(tensor1: Any, tensor2: Any) -> Any:
    """The dtype an arithmetic op on the two operands returns (tensors with dims first, then
    0-dim tensors, then Python numbers, each winning only with a higher category), as ``torch.result_type``."""
    return result_type_of(tensor1, tensor2)


def result_type_of(*operands: Any) -> Any:
    """:func:`result_type` of any number of operands (``addcmul``'s three)."""
    groups: dict[int, str] = {}
    for x in operands:
        g, name = _operand_dtype(x)
        groups[g] = name if g not in groups else _promote_names(groups[g], name)
    result = None
    for g in (0, 1, 2):
        if g in groups and (result is None or _CATEGORY[groups[g]] > _CATEGORY[result]):
            result = groups[g]
    return _BY_NAME[result]


# ---- creation helpers


def randint_like(
    input: Tensor,
    low: int = 0,
    high: int | None = None,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = None,
    **_: Any,
) -> Tensor:  # noqa: A002
    """Integers uniform in [low, high) of ``input``'s shape (and dtype unless given), as ``torch.randint_like``."""
    _tensor_arg("randint_like", input)
    if high is None:
        low, high = 0, low
    # drawn in the input's memory order with its strides (a permuted input), as PyTorch's
    shape, strides = tuple(input.shape), input.stride()
    order = sorted((d for d in range(len(shape)) if shape[d] != 1), key=lambda d: -strides[d])
    it = iter(order)
    full = [d if shape[d] == 1 else next(it) for d in range(len(shape))]
    out = _rd.randint(
        int(low),
        int(high),
        tuple(shape[d] for d in full),
        device=device if device is not None else input.device,
    )
    if full != sorted(full):
        inverse = [0] * len(full)
        for i, d in enumerate(full):
            inverse[d] = i
        out = out.permute(*inverse)
    out = out.to(dtype if dtype is not None else input.dtype)
    return out.requires_grad_() if requires_grad else out


def poisson(input: Tensor, generator: Any = None) -> Tensor:  # noqa: A002
    """A Poisson draw with rate ``input`` per element (same shape and dtype), as ``torch.poisson``."""
    _tensor_arg("poisson", input)
    rates = _np_of(input).astype(np.float64)
    if rates.size and (np.isnan(rates).any() or rates.min() < 0):
        raise RuntimeError("poisson: invalid Poisson rate, expected rate to be non-negative")
    if input.device.type == "cpu":
        # PyTorch's draws from the CPU stream, one rate after another
        flat = _rd._cpu_draw_each("poisson", rates.ravel().tolist(), generator=generator).numpy()
        return _back(flat.reshape(rates.shape), input, input.dtype)
    seed = int(_rd.randint(0, 2**31 - 1, (2,), generator=generator, device="cpu").sum().item())
    draws = np.asarray(np.random.default_rng(seed).poisson(rates), dtype=np.float64)  # 0-d: a scalar
    return _back(draws, input, input.dtype)


def binomial(count: Tensor, prob: Tensor, generator: Any = None) -> Tensor:
    """Binomial draws: successes in ``count`` trials of probability ``prob`` per element (the two
    broadcast; float tensors of one dtype), as ``torch.binomial``. As there, a negative count
    draws 0 and a probability outside ``[0, 1]`` is taken at the nearer end."""
    _tensor_arg("binomial", count)
    _tensor_arg("binomial", prob)
    if not count.is_floating_point():
        raise TypeError(f"binomial: only floating-point dtypes are supported for count, got {count.dtype}")
    if prob.dtype != count.dtype:
        raise TypeError(f"binomial: count is {count.dtype} but prob is {prob.dtype}; expected one dtype")
    n, p = np.broadcast_arrays(_np_of(count).astype(np.float64), _np_of(prob).astype(np.float64))
    if np.isnan(n).any() or np.isnan(p).any():
        raise RuntimeError("binomial: count and prob must not be NaN")
    if count.device.type == "cpu":
        # PyTorch's draws (BTRS or geometric waiting times) from the CPU stream, element by element
        pairs = np.stack([n.ravel(), p.ravel()], axis=1).ravel().tolist()
        single = count.dtype != _rd.float64
        flat = _rd._cpu_draw_each("binomial", pairs, single, generator=generator).numpy()
        return _back(flat.reshape(n.shape), count, count.dtype)
    trials = np.floor(np.maximum(n, 0.0)).astype(np.int64)
    seed = int(_rd.randint(0, 2**31 - 1, (2,), generator=generator, device="cpu").sum().item())
    draws = np.asarray(np.random.default_rng(seed).binomial(trials, np.clip(p, 0.0, 1.0)), dtype=np.float64)
    return _back(draws, count, count.dtype)


def _window(
    op: str, window_length: int, periodic: bool, dtype: Any, device: Any, requires_grad: bool, fn
) -> Tensor:
    window_length = int_arg(window_length)
    if isinstance(window_length, float) or not isinstance(window_length, int):
        raise TypeError(f"{op}(): argument 'window_length' must be int, not {type(window_length).__name__}")
    if window_length < 0:
        raise RuntimeError(f"{op}: requires non-negative window_length, got window_length={window_length}")
    dtype = dtype if dtype is not None else get_default_dtype()
    if getattr(dtype, "name", None) not in ("float32", "float64"):
        raise TypeError(f"{op}: expected a floating point dtype, got {dtype}")
    from ._tensor_api import _host_room

    _host_room(op, window_length, 8)  # numpy's float64 temporaries, then the tensor
    if window_length <= 1:
        vals = np.ones(window_length)
    else:
        n = window_length + 1 if periodic else window_length
        vals = fn(np.arange(window_length, dtype=np.float64), n - 1)
    out = _rd.tensor(vals, dtype=dtype)
    if device is not None:
        out = out.to(device)
    return out.requires_grad_() if requires_grad else out


def hann_window(
    window_length: int,
    periodic: bool = True,
    *,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Hann window ``0.5 - 0.5 cos(2πn / (N - 1))``, as ``torch.hann_window``."""
    return _window(
        "hann_window",
        window_length,
        periodic,
        dtype,
        device,
        requires_grad,
        lambda n, m: 0.5 - 0.5 * np.cos(2 * np.pi * n / m),
    )


def hamming_window(
    window_length: int,
    periodic: bool = True,
    alpha: float = 0.54,
    beta: float = 0.46,
    *,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Hamming window ``alpha - beta cos(2πn / (N - 1))``, as ``torch.hamming_window``."""
    return _window(
        "hamming_window",
        window_length,
        periodic,
        dtype,
        device,
        requires_grad,
        lambda n, m: alpha - beta * np.cos(2 * np.pi * n / m),
    )


def blackman_window(
    window_length: int,
    periodic: bool = True,
    *,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Blackman window, as ``torch.blackman_window``."""
    return _window(
        "blackman_window", window_length, periodic, dtype, device, requires_grad,
        # summed in PyTorch's order, so the end points are exactly 0
        lambda n, m: 0.08 * np.cos(4 * np.pi * n / m) - 0.5 * np.cos(2 * np.pi * n / m) + 0.42,
    )  # fmt: skip


def bartlett_window(
    window_length: int,
    periodic: bool = True,
    *,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Triangular (Bartlett) window ``1 - |2n / (N - 1) - 1|``, as ``torch.bartlett_window``."""
    return _window(
        "bartlett_window",
        window_length,
        periodic,
        dtype,
        device,
        requires_grad,
        lambda n, m: 1 - np.abs(2 * n / m - 1),
    )


def asarray(
    obj: Any, *, dtype: Any = None, device: Any = None, copy: bool | None = None, requires_grad: bool = False
) -> Tensor:
    """``obj`` as a tensor, sharing a tensor's data unless a copy is asked or needed, as ``torch.asarray``."""
    from ._storage import TypedStorage, UntypedStorage

    if isinstance(obj, UntypedStorage):
        # the bytes, read as dtype (uint8 by default), as PyTorch's asarray of a storage
        data = obj._bytes()
        obj = data if dtype is None or dtype == data.dtype else data.view(dtype)
        dtype = None
    elif isinstance(obj, TypedStorage):
        obj = obj._flat
    if isinstance(obj, Tensor):
        from . import device as _device

        out = obj
        if dtype is not None and obj.dtype != dtype:
            if copy is False:
                raise ValueError(f"asarray: copy=False but converting {obj.dtype} to {dtype} needs a copy")
            out = out.to(dtype)
        if device is not None and out.device != _device(device):
            if copy is False:
                raise ValueError(f"asarray: copy=False but moving from {out.device} to {device} needs a copy")
            out = out.to(device)
        if copy and out is obj:
            out = obj.clone()
    else:
        from ._tensor_api import as_tensor

        out = as_tensor(np.array(obj) if copy else obj, dtype=dtype, device=device)
    if requires_grad:
        out.requires_grad_()
    return out


def frombuffer(
    buffer: Any, *, dtype: Any, count: int = -1, offset: int = 0, requires_grad: bool = False
) -> Tensor:
    """A 1-D tensor of ``dtype`` read from the bytes of a Python buffer (``bytes``,
    ``bytearray``, ``memoryview``, ``array.array``...), skipping ``offset`` bytes and reading
    ``count`` elements (-1: all that remain), as ``torch.frombuffer``. A writable buffer of
    float32, float64, int64 or bool elements is shared (writes show on both sides); other
    buffers and dtypes are copied."""
    name = str(dtype).rsplit(".", 1)[-1]
    if name not in (
        "float32",
        "float64",
        "int64",
        "int32",
        "int16",
        "int8",
        "uint8",
        "bool",
        "float16",
        "bfloat16",
    ):
        raise TypeError(f"frombuffer: unsupported dtype {dtype}")
    half = name if name in ("float16", "bfloat16") else None
    if half is not None:  # 16-bit floats: read as such, held as float32 (a copy)
        name = "float16" if half == "float16" else "uint16"
    try:
        view = memoryview(buffer)
    except TypeError:
        raise TypeError(
            f"frombuffer: expected an object with the buffer protocol, got {type(buffer).__name__}"
        ) from None
    nbytes = view.nbytes
    item = np.dtype(name).itemsize
    if nbytes == 0:
        raise ValueError("frombuffer: both buffer length (0) and count (-1) must not be 0")
    if not 0 <= offset < nbytes:
        raise ValueError(
            f"frombuffer: offset ({offset} bytes) must be non-negative and no greater than buffer length ({nbytes} bytes) minus 1"
        )
    if count == 0 or count < -1:
        raise ValueError(f"frombuffer: count must be -1 or positive, got {count}")
    if count == -1 and (nbytes - offset) % item:
        raise ValueError(
            f"frombuffer: buffer length ({nbytes - offset} bytes) after offset ({offset} bytes) must be a multiple of element size ({item})"
        )
    if count > 0 and offset + count * item > nbytes:
        raise ValueError(
            f"frombuffer: requested buffer length ({count} * {item} bytes) after offset ({offset} bytes) must not be greater than actual buffer length ({nbytes} bytes)"
        )
    arr = np.frombuffer(
        view.cast("B") if view.ndim != 1 or view.format != "B" else view,
        dtype=name,
        count=count,
        offset=offset,
    )
    if half is not None:
        from ._dtype_view import _from_half

        arr = _from_half(arr, half)
    out = _rd.from_numpy(arr) if arr.flags.writeable else _rd.from_numpy(arr.copy())
    if requires_grad:
        out.requires_grad_()
    return out


# dtypes whose tensors can live in a file's mapped memory (rustdl stores narrower integers widened)
_MAPPABLE = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}


def from_file(
    filename: Any,
    shared: Any = None,
    size: int = 0,
    *,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    pin_memory: bool = False,
    requires_grad: bool = False,
) -> Tensor:
    """A 1-D tensor of ``size`` elements of ``dtype`` (the default dtype) from a file's bytes, as
    ``torch.from_file``. ``shared=True`` maps the file: writes to the tensor reach the file (which
    grows to the size asked for, as PyTorch's); it needs a dtype rustdl can keep in the file's
    memory (float32, float64, int64, bool). Otherwise the bytes are read into memory."""
    import os

    dtype = _rd._default_float() if dtype is None else dtype
    name = str(dtype).rsplit(".", 1)[-1]
    from ._dtype_view import _NUMPY

    if name not in _NUMPY and name not in ("float16", "bfloat16"):
        raise TypeError(f"from_file: unsupported dtype {name} (rustdl has no tensors of it)")
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 0:
        raise ValueError(f"from_file: size must be a non-negative number of elements, got {size!r}")
    size = int(size)
    path = os.fspath(filename)
    if not os.path.isfile(path) and not (shared and not os.path.exists(path)):
        # (a missing file is made when shared; otherwise PyTorch's RuntimeError)
        raise RuntimeError(f"from_file: unable to open file <{path}> in read-only mode: no such file")
    if shared:
        np_dtype = _MAPPABLE.get(name)
        if np_dtype is None:
            raise NotImplementedError(
                f"from_file(shared=True): rustdl cannot keep {name} tensors in a file's memory "
                f"(float32, float64, int64 and bool it can); use shared=False for a copy"
            )
        nbytes = size * np.dtype(np_dtype).itemsize
        with open(path, "ab") as f:  # made if missing; grown (zeros) to the size asked for
            if f.tell() < nbytes:
                f.truncate(nbytes)
        if size == 0:
            out = _rd.empty(0, dtype=dtype)
        else:
            out = _rd.from_numpy(np.memmap(path, dtype=np_dtype, mode="r+", shape=(size,)))
    else:
        if name in ("float16", "bfloat16"):  # held as float32 (rustdl stores no 16-bit floats)
            raw = np.fromfile(path, dtype=np.float16 if name == "float16" else np.uint16, count=size)
            if raw.size < size:
                raise RuntimeError(
                    f"from_file: the file {path!r} holds {raw.size} {name} elements, fewer than the {size} asked for"
                )
            from ._dtype_view import _from_half

            arr = _from_half(raw, name)
            dtype = _rd.float32
        else:
            arr = np.fromfile(path, dtype=_NUMPY[name], count=size)
        if arr.size < size:
            raise RuntimeError(
                f"from_file: the file {path!r} holds {arr.size} {name} elements, fewer than the {size} asked for"
            )
        out = _rd.from_numpy(arr).to(dtype)
    if device is not None:
        out = out.to(device)
    if requires_grad:
        out.requires_grad_()
    return out


def chain_matmul(*matrices: Tensor, out: Any = None) -> Tensor:
    """Product of a chain of 2-D matrices, as the (deprecated) ``torch.chain_matmul``."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for k, m in enumerate(matrices):
        _tensor_arg("chain_matmul", m, f"matrices[{k}]")
        if m.dim() != 2:
            raise ValueError(
                f"chain_matmul(): Tensor at position {k} must be two-dimensional, got shape {tuple(m.shape)}"
            )
    if len(matrices) == 1:
        return matrices[0].clone()
    return functools.reduce(lambda a, b: a.matmul(b), matrices)


# ---- floating-point decomposition


def frexp(input: Tensor) -> FrexpResult:  # noqa: A002
    """Mantissa in (-1, 1) and integer exponent with ``input = mantissa * 2**exponent``, as ``torch.frexp``."""
    _tensor_arg("frexp", input)
    if not input.is_floating_point():
        raise TypeError(f"frexp: only supports floating-point dtypes, got {input.dtype}")
    m, e = np.frexp(_np_of(input))
    return FrexpResult(
        _back(m.astype(np.float64), input, input.dtype), _back(e.astype(np.int64), input, int64).to(_rd.int32)
    )


def ldexp(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """``input * 2**other``, as ``torch.ldexp`` (differentiable in ``input``)."""
    _tensor_arg("ldexp", input)
    if not isinstance(other, Tensor):
        other = _rd.tensor(other, device=input.device)
    # the promoted dtype of both (float32 x float64 is float64), floating as PyTorch's
    dtype = result_type(input, other)
    if not dtype.is_floating_point:
        dtype = get_default_dtype()
    x = input.to(dtype) if input.dtype != dtype else input
    p = other.to(dtype) if other.dtype != dtype else other
    # exact powers of two (exp(p·ln 2) was off by an ulp: 1·2³ gave 7.999…), in two halves so
    # that 1e-30·2²⁰⁰ does not pass through an infinite 2²⁰⁰; ±inf, NaN and 0 stay as they are
    half = (p * 0.5).floor()
    out = x * 2.0**half * 2.0 ** (p - half)
    return _rd.where(x.isfinite().logical_and(x.ne(0)), out, x)


def nextafter(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The next representable float after ``input`` towards ``other``, as ``torch.nextafter`` (no gradient)."""
    _tensor_arg("nextafter", input)
    if not isinstance(other, Tensor):
        raise TypeError(f"nextafter: argument 'other' must be a Tensor, got {type(other).__name__}")
    dtype = result_type(input, other)  # an integer side is promoted, as PyTorch
    if not dtype.is_floating_point:
        raise TypeError(f"nextafter: expected floating tensors, got {input.dtype} and {other.dtype}")
    npd = np.float64 if dtype == _rd.float64 else np.float32
    a, b = np.broadcast_arrays(_np_of(input).astype(npd), _np_of(other).astype(npd))
    like = input if input.dtype == dtype else input.to(dtype)
    out = _back(np.nextafter(a, b), like, dtype)
    if _rd.is_grad_enabled() and (input.requires_grad or other.requires_grad):
        # as PyTorch: the gradient passes to input unchanged (a one-ulp step), other's is zero
        from ._tensor_api import _zero_grad_link

        step = out.detach() - like.detach()  # exact; NaN at ±inf, where the value is kept
        out = _zero_grad_link(_rd.where(step.isfinite(), like + step, out.detach()), other)
    return out


def _i1_np(x: np.ndarray) -> np.ndarray:
    """Modified Bessel function of the first kind, order 1 (power series, float64)."""
    x = np.asarray(x, dtype=np.float64)
    h = x / 2
    term = h.copy()
    total = term.copy()
    for k in range(1, 800):
        term = term * h * h / (k * (k + 1))
        total = total + term
        if not np.any(np.abs(term) > 1e-17 * np.abs(total)):
            break
    return total


def _i0_t(x):
    return _back(np.i0(_np_of(x).astype(np.float64)), x, x.dtype)


def i0(input: Tensor) -> Tensor:  # noqa: A002
    """Modified Bessel function of the first kind, order 0, as ``torch.i0`` (gradient ``i1``)."""
    from .special import i1  # differentiable again (a backward with create_graph)

    return _elem_np("i0", input, np.i0, i1)


# ---- in-place shape methods: the Python object comes to stand for the reshaped tensor (a view of
# the same storage), as PyTorch changes a tensor's sizes in place


def _inplace_shape(op: str, self: Tensor, make: Any) -> Tensor:
    if not isinstance(self, Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(self).__name__}")
    if self.is_leaf and self.requires_grad:
        if _rd.is_grad_enabled():
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad (shape {tuple(self.shape)}) cannot change "
                "its shape in place; do it under torch.no_grad() or use the out-of-place form"
            )
        # the leaf keeps its storage and stays a leaf (not a view of its former self)
        new = self.detach()._relaid_as(make(self.detach()))
        new.requires_grad_(True)
        grad = self.grad
        if grad is not None and tuple(grad.shape) == tuple(new.shape):
            new.grad = grad
    else:
        if self._is_view_of_grad_leaf() and _rd.is_grad_enabled():
            raise RuntimeError(
                f"{op}: a view of a leaf tensor that requires grad (shape {tuple(self.shape)}) is "
                "being used in an in-place operation; do it under torch.no_grad() or use the "
                "out-of-place form"
            )
        if self.requires_grad and not _rd.is_grad_enabled():
            # a shape change is no computation: under no_grad the tensor keeps its history (its
            # gradient still reaches what it was computed from), as PyTorch's
            from .autograd import enable_grad

            with enable_grad():
                new = make(self)
        else:
            new = make(self)
        if self._base is None:
            # a tensor that was no view stays none (no _base), as PyTorch's (its history kept
            # under no_grad too, as above)
            if new.requires_grad:
                from .autograd import enable_grad

                with enable_grad():
                    new = new._unviewed()
            else:
                new = self._relaid_as(new)
    self._replace_with(new)
    _rd._mark_written(self)  # an in-place op: the version moves, as PyTorch's
    return self


def _t_(self: Tensor) -> Tensor:
    return _inplace_shape("t_", self, lambda x: x.t())


def _transpose_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    return _inplace_shape("transpose_", self, lambda x: x.transpose(dim0, dim1))


def _squeeze_(self: Tensor, *dims: Any, dim: Any = None) -> Tensor:
    return _inplace_shape("squeeze_", self, lambda x: x.squeeze(*dims, dim=dim))


def _unsqueeze_(self: Tensor, dim: int) -> Tensor:
    return _inplace_shape("unsqueeze_", self, lambda x: x.unsqueeze(dim))


def _as_strided_(self: Tensor, size: Any, stride: Any, storage_offset: Any = None) -> Tensor:
    def make(x: Tensor) -> Tensor:
        if storage_offset is None:
            return x.as_strided(size, stride)
        return x.as_strided(size, stride, storage_offset)

    return _inplace_shape("as_strided_", self, make)


def _resize_sizes(op: str, sizes: tuple) -> tuple:
    if not sizes:
        raise TypeError(f"{op}: missing the new size (give ints or a tuple of ints)")
    if (
        len(sizes) == 1
        and isinstance(sizes[0], (tuple, list))
        or (len(sizes) == 1 and type(sizes[0]).__name__ == "Size")
    ):
        sizes = tuple(sizes[0])
    out = []
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            if isinstance(s, Tensor) and s.numel() == 1 and not s.dtype.is_floating_point:
                s = int(s.item())
            else:
                raise TypeError(f"{op}: sizes must be ints, got {type(s).__name__}")
        if not -(2**63) <= s < 2**63:
            raise TypeError(f"{op}: size {int(s)} does not fit in a 64-bit integer")
        if s < 0:
            raise RuntimeError(f"{op}: negative size {int(s)} in {tuple(out) + (int(s),)}")
        out.append(int(s))
    return tuple(out)


def _resize_(self: Tensor, *sizes: Any, memory_format: Any = None) -> Tensor:
    """``Tensor.resize_``, as PyTorch: the storage from this tensor's offset on, read as
    C-contiguous under the new sizes (a transposed tensor comes out in storage order), shared
    with the old tensor; elements past the storage's end are zero (PyTorch leaves them
    uninitialised)."""
    shape = _resize_sizes("resize_", sizes)
    if self.requires_grad:
        raise RuntimeError(
            f"resize_: cannot resize a tensor that requires grad (shape {tuple(self.shape)}); "
            "use view/reshape, or resize a detached copy"
        )
    n = 1
    for d in shape:  # Python ints: a product past int64 must not wrap around
        n *= d
    if n >= 2**63:
        raise RuntimeError(f"resize_: the element count of {shape} overflows")
    if n > 2**40:
        raise _rd.OutOfMemoryError(f"resize_: {shape} needs {n} elements, more than this machine can hold")
    if tuple(self.shape) == shape:
        return self
    # as PyTorch: the storage from this tensor's offset on, read as C-contiguous (ignoring the
    # strides), shared while it is long enough; past its end the new elements are zero
    storage = self._storage_view()
    off = self.storage_offset()
    if off + n <= storage.numel():
        new = storage[off : off + n].view(shape)
    else:
        new = _rd.zeros(shape, dtype=self.dtype, device=self.device)
        k = storage.numel() - off
        if k > 0:
            new.view(-1)[:k].copy_(storage[off:])
    self._replace_with(new)
    return self


def _resize_as_(self: Tensor, other: Tensor, memory_format: Any = None) -> Tensor:
    if not isinstance(other, Tensor):
        raise TypeError(f"resize_as_: expected a tensor, got {type(other).__name__}")
    return _resize_(self, tuple(other.shape))


def _set_node() -> Any:
    """The node a ``set_`` inside the graph leaves: its backward refuses, as PyTorch's."""
    from ._tensor_api import _lazy_function

    def backward(ctx, grad):
        raise RuntimeError("derivative for set_ is not implemented")

    # the same storage: set_ shares the source's data
    return _lazy_function("_set_has_no_derivative", lambda ctx, x: x.view_as(x), backward)


def _set_(
    self: Tensor, source: Any = None, storage_offset: Any = None, size: Any = None, stride: Any = None
) -> Tensor:
    """``Tensor.set_``: this tensor comes to share ``source``'s data (and sizes, or the given
    ``size``/``stride``/``storage_offset`` view of it); ``set_()`` makes it empty."""
    if self.is_leaf and self.requires_grad and _rd.is_grad_enabled():
        raise RuntimeError("set_: a leaf tensor that requires grad cannot be set in place")
    if source is not None and not isinstance(source, Tensor):
        source = _storage_source("set_", self, source)
        if storage_offset is not None and not isinstance(storage_offset, (int, np.integer)):
            storage_offset = int(storage_offset)  # a 0-d tensor offset
    if source is None:
        new = _rd.empty(0, dtype=self.dtype, device=self.device)
    elif isinstance(source, Tensor):
        if source.dtype != self.dtype:
            raise RuntimeError(f"set_: source dtype {source.dtype} does not match {self.dtype}")
        if source.device != self.device:
            raise RuntimeError(
                f"set_: cannot set the data of a tensor on {self.device} to a source on {source.device}"
            )
        if (storage_offset is None) != (size is None) or (stride is not None and size is None):
            raise TypeError(
                "set_: expected set_(source) or set_(source, storage_offset, size, stride=None), got "
                f"storage_offset={storage_offset!r}, size={size!r}, stride={stride!r}"
            )
        new = source.detach()
        if size is not None:
            size = _resize_sizes("set_", (size,))
            strides = tuple(stride) if stride is not None else _contiguous_strides(size)
            n = int(np.prod(size, dtype=object)) if size else 1
            storage = source._storage_view()
            if isinstance(storage_offset, (int, np.integer)) and not isinstance(storage_offset, bool):
                # as PyTorch, the offset counts from the source's own first element
                storage_offset = source.storage_offset() + int(storage_offset)
            if (
                strides == _contiguous_strides(size)
                and isinstance(storage_offset, (int, np.integer))
                and not isinstance(storage_offset, bool)
                and 0 <= storage_offset
                and storage_offset + n <= storage.numel()
            ):
                # a C-contiguous window of the storage: shared, as PyTorch
                new = storage[storage_offset : storage_offset + n].view(size)
            else:  # any other layout is read as a copy (or refused with as_strided's errors)
                new = new.as_strided(size, strides, storage_offset)
    else:
        raise TypeError(f"set_: expected a tensor or storage source, got {type(source).__name__}")
    if self.requires_grad and self.is_leaf:
        new.requires_grad_(True)
    elif _rd.is_grad_enabled() and (
        self.requires_grad or (isinstance(source, Tensor) and source.requires_grad)
    ):
        # as PyTorch: the result is part of the graph, but set_ has no derivative, so a backward
        # through it raises instead of silently treating the new data as a constant
        new = _set_node().apply(new.detach().requires_grad_())
    self._replace_with(new)
    return self


def _storage_source(op: str, self: Tensor, source: Any) -> Tensor:
    """A storage given to ``set_`` as the 1-D tensor of ``self``'s dtype over it (its elements
    counted from the storage's start): the storage itself where it holds ``self``'s dtype, else its
    bytes read as that dtype (a copy: rustdl stores narrow integers widened)."""
    from ._storage import _StorageBase

    if not isinstance(source, _StorageBase):
        raise TypeError(f"{op}: expected a tensor or storage source, got {type(source).__name__}")
    flat = source._flat
    if flat is None:
        raise RuntimeError(f"{op}: the storage has no memory until a tensor is made over it")
    from ._storage import TypedStorage

    if isinstance(source, TypedStorage) and flat.dtype != self.dtype:
        raise RuntimeError(f"{op}: expected a storage of type {self.dtype}, got one of {flat.dtype}")
    if flat.dtype != self.dtype:
        raw = flat if flat.dtype == _rd.uint8 else flat.view(_rd.uint8)
        if raw.numel() % self.element_size():
            raise RuntimeError(
                f"{op}: a storage of {raw.numel()} bytes does not hold whole {self.dtype} elements"
            )
        flat = raw.view(self.dtype)
    return flat


def _contiguous_strides(size: tuple) -> tuple:
    out, acc = [], 1
    for s in reversed(size):
        out.append(acc)
        acc *= max(int(s), 1)
    return tuple(reversed(out))


def _erfc_(self: Tensor) -> Tensor:
    return self.copy_(erfc(self))


_METHODS = {
    "cummax": cummax,
    "cummin": cummin,
    "logcumsumexp": logcumsumexp,
    "aminmax": aminmax,
    "cov": cov,
    "corrcoef": corrcoef,
    "diagflat": diagflat,
    "erfc": erfc,
    "erfc_": _erfc_,
    "msort": msort,
    "scatter_reduce": _scatter_reduce,
    "scatter_reduce_": _scatter_reduce_,
    "index_add": _index_add,
    "index_reduce": _index_reduce,
    "index_reduce_": _index_reduce_,
    "frexp": frexp,
    "ldexp": ldexp,
    "nextafter": nextafter,
    "i0": i0,
    "t_": _t_,
    "transpose_": _transpose_,
    "squeeze_": _squeeze_,
    "unsqueeze_": _unsqueeze_,
    "swapdims_": _transpose_,
    "swapaxes_": _transpose_,
    "as_strided_": _as_strided_,
    "resize_": _resize_,
    "resize_as_": _resize_as_,
    "set_": _set_,
}
for _name, _fn in _METHODS.items():
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, _fn)
del _name, _fn


def kaiser_window(
    window_length: int,
    periodic: bool = True,
    beta: float = 12.0,
    *,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Kaiser window ``I0(β √(1 − (2n/(N − 1) − 1)²)) / I0(β)``, as ``torch.kaiser_window``."""
    return _window(
        "kaiser_window",
        window_length,
        periodic,
        dtype,
        device,
        requires_grad,
        lambda n, m: np.i0(beta * np.sqrt(np.clip(1 - (2 * n / m - 1) ** 2, 0, None))) / np.i0(beta),
    )
