"""Everyday API pieces that are pure shape or type arithmetic (no element loops in Python):
``finfo`` / ``iinfo``, ``broadcast_shapes`` / ``broadcast_tensors``, ``einsum`` (folded into
permute / reshape / ``bmm`` calls), ``std_mean`` / ``var_mean`` and ``Tensor.get_device``.
"""

from __future__ import annotations

import builtins

from ._rustdl import Tensor, float32, float64, int64
from ._rustdl import bool as _bool

__all__ = [
    "finfo",
    "iinfo",
    "broadcast_shapes",
    "broadcast_tensors",
    "einsum",
    "std_mean",
    "var_mean",
]


class finfo:
    """Machine limits of a floating dtype, as ``torch.finfo`` (default: float32)."""

    _TABLE = {
        "float32": (32, 1.1920928955078125e-07, 3.4028234663852886e38, 1.1754943508222875e-38, 6),
        "float64": (64, 2.220446049250313e-16, 1.7976931348623157e308, 2.2250738585072014e-308, 15),
    }

    def __init__(self, type=float32):  # noqa: A002
        name = getattr(type, "name", None)
        if name is None and type is builtins.float:
            name = "float32"
        if name not in self._TABLE:
            raise TypeError(f"finfo: expected a floating dtype (float32 or float64), got {type!r}")
        bits, eps, mx, tiny, resolution_digits = self._TABLE[name]
        self.dtype = name
        self.bits = bits
        self.eps = eps
        self.max = mx
        self.min = -mx
        self.tiny = tiny
        self.smallest_normal = tiny
        self.resolution = 10.0**-resolution_digits

    def __repr__(self):
        return (
            f"finfo(resolution={self.resolution}, min={self.min:e}, max={self.max:e}, "
            f"eps={self.eps:e}, smallest_normal={self.tiny:e}, tiny={self.tiny:e}, dtype={self.dtype})"
        )


class iinfo:
    """Limits of an integer (or bool) dtype, as ``torch.iinfo``."""

    _TABLE = {"int64": (64, -(2**63), 2**63 - 1), "bool": (8, 0, 1)}

    def __init__(self, type):  # noqa: A002
        name = getattr(type, "name", None)
        if name is None and type is builtins.int:
            name = "int64"
        if name not in self._TABLE:
            raise TypeError(f"iinfo: expected an integer dtype (int64 or bool), got {type!r}")
        self.dtype = name
        self.bits, self.min, self.max = self._TABLE[name]

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def broadcast_shapes(*shapes):
    """The shape the given shapes broadcast to (numpy rules), as ``torch.broadcast_shapes``."""
    dims = []
    for s in shapes:
        s = (s,) if isinstance(s, int) else tuple(s)
        for d in s:
            if not isinstance(d, int) or d < 0:
                raise ValueError(f"broadcast_shapes: invalid size {d!r} in shape {s}")
        dims.append(s)
    n = builtins.max((len(s) for s in dims), default=0)
    out = [1] * n
    for s in dims:
        for i, d in enumerate(s):
            j = n - len(s) + i
            if out[j] == 1:
                out[j] = d
            elif d != 1 and d != out[j]:
                raise ValueError(
                    f"broadcast_shapes: shape mismatch: objects cannot be broadcast to a single shape "
                    f"({', '.join(str(tuple(x)) for x in dims)})"
                )
    return tuple(out)


def broadcast_tensors(*tensors):
    """Views of the tensors expanded to one broadcast shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(t.broadcast_to(shape) for t in tensors)


def std_mean(input, dim=None, *, unbiased=None, correction=None, keepdim=False):  # noqa: A002
    """``(std, mean)`` over ``dim``."""
    return (
        input.std(dim, unbiased=unbiased, correction=correction, keepdim=keepdim),
        input.mean(dim, keepdim=keepdim),
    )


def var_mean(input, dim=None, *, unbiased=None, correction=None, keepdim=False):  # noqa: A002
    """``(var, mean)`` over ``dim``."""
    return (
        input.var(dim, unbiased=unbiased, correction=correction, keepdim=keepdim),
        input.mean(dim, keepdim=keepdim),
    )


def _get_device(self):
    """The GPU index, or -1 for a CPU tensor (as PyTorch)."""
    idx = self.device.index
    return -1 if idx is None else idx


Tensor.get_device = _get_device


# ---------------------------------------------------------------- einsum


def _parse_einsum(equation, n_ops):
    eq = equation.replace(" ", "")
    if "..." in eq:
        raise ValueError("einsum: ellipsis ('...') is not supported yet")
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs, out = eq, None
    ins = lhs.split(",")
    if len(ins) != n_ops:
        raise ValueError(f"einsum: the equation has {len(ins)} operands but {n_ops} tensors were given")
    for s in ins + ([out] if out is not None else []):
        if not all(c.isalpha() for c in s):
            raise ValueError(f"einsum: invalid subscripts '{s}' in '{equation}'")
    if out is None:
        # implicit output: the letters that occur once, in alphabetical order
        counts = {}
        for s in ins:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = "".join(sorted(c for c, k in counts.items() if k == 1))
    if len(set(out)) != len(out):
        raise ValueError(f"einsum: output subscripts '{out}' repeat a letter")
    return ins, out


def _diagonalize(t, sub):
    """Takes diagonals for letters repeated within one operand ('ii' -> 'i')."""
    while len(set(sub)) != len(sub):
        for i, c in enumerate(sub):
            j = sub.find(c, i + 1)
            if j >= 0:
                break
        n = t.shape[i]
        if t.shape[j] != n:
            raise ValueError(f"einsum: repeated subscript '{c}' with sizes {t.shape[i]} and {t.shape[j]}")
        # move i, j last, take the diagonal through a flat index
        order = [k for k in range(t.dim()) if k not in (i, j)] + [i, j]
        t = t.permute(*order).reshape(*[t.shape[k] for k in order[:-2]], n * n)
        idx = __import__("rustdl").arange(n, device=t.device) * (n + 1)
        t = t.index_select(t.dim() - 1, idx)
        sub = "".join(sub[k] for k in order[:-2]) + c
    return t, sub


def _sum_out(t, sub, keep):
    """Sums the letters of `sub` that are not in `keep`."""
    dims = [k for k, c in enumerate(sub) if c not in keep]
    if dims:
        t = t.sum(dim=tuple(dims))
        sub = "".join(c for c in sub if c in keep)
    return t, sub


def _contract(a, sa, b, sb, keep):
    """Contracts two operands, keeping the letters in `keep`; returns (tensor, subscripts)."""
    a, sa = _sum_out(a, sa, keep + sb)
    b, sb = _sum_out(b, sb, keep + sa)
    batch = [c for c in sa if c in sb and c in keep]
    summed = [c for c in sa if c in sb and c not in keep]
    left = [c for c in sa if c not in sb]
    right = [c for c in sb if c not in sa]
    size = {}
    for t, s in ((a, sa), (b, sb)):
        for c, n in zip(s, t.shape):
            if c in size and size[c] != n and 1 not in (size[c], n):
                raise ValueError(f"einsum: subscript '{c}' has sizes {size[c]} and {n}")
            size[c] = builtins.max(size.get(c, 1), n)

    def prod(cs):
        p = 1
        for c in cs:
            p *= size[c]
        return p

    def arrange(t, s, order):
        perm = [s.index(c) for c in order]
        t = t.permute(*perm) if perm != list(range(len(perm))) else t
        full = [size[c] for c in order]
        if list(t.shape) != full:
            t = t.expand(*full)
        return t

    a2 = arrange(a, sa, batch + left + summed).reshape(prod(batch), prod(left), prod(summed))
    b2 = arrange(b, sb, batch + summed + right).reshape(prod(batch), prod(summed), prod(right))
    r = a2.bmm(b2).reshape(*[size[c] for c in batch + left + right])
    return r, "".join(batch + left + right)


def einsum(equation, *operands):
    """Einstein summation over 1+ operands, folded left to right into ``bmm`` calls
    (``'ij,jk->ik'``, ``'bij,bjk->bik'``, ``'i,i->'``, ``'ij->ji'``, ``'bi,bi->b'``, ...).
    Repeated letters within one operand take diagonals; ellipsis is not supported."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: expected at least one operand")
    ins, out = _parse_einsum(equation, len(operands))
    for t, s in zip(operands, ins):
        if t.dim() != len(s):
            raise ValueError(
                f"einsum: subscripts '{s}' name {len(s)} dims but the operand has shape {tuple(t.shape)}"
            )
    for c in out:
        if not any(c in s for s in ins):
            raise ValueError(f"einsum: output subscript '{c}' does not appear in the inputs")
    ops = [_diagonalize(t, s) for t, s in zip(operands, ins)]
    acc, sacc = ops[0]
    for k in range(1, len(ops)):
        later = "".join(s for _, s in ops[k + 1 :])
        b, sb = ops[k]
        acc, sacc = _contract(acc, sacc, b, sb, out + later)
    acc, sacc = _sum_out(acc, sacc, out)
    if sacc != out:
        acc = acc.permute(*[sacc.index(c) for c in out])
    return acc


_ = (float64, int64, _bool)


# ---------------------------------------------------------------- breadth: constructors, math, shapes
# Everything below is composed from existing tensor ops (so autograd and the GPU come for free),
# except the integer-valued counting ops (unique, bincount, histc), which go through numpy.

import math as _math  # noqa: E402
import warnings as _warnings  # noqa: E402

import numpy as _np  # noqa: E402

from . import _rustdl as _rd  # noqa: E402

pi = _math.pi
e = _math.e
inf = _math.inf
nan = _math.nan

_DTYPE_BY_TYPENAME = {
    "FloatTensor": float32,
    "DoubleTensor": float64,
    "LongTensor": int64,
    "IntTensor": int64,
    "ShortTensor": int64,
    "ByteTensor": int64,
    "CharTensor": int64,
    "BoolTensor": _bool,
    "HalfTensor": float32,
    "BFloat16Tensor": float32,
}


def as_tensor(data, dtype=None, device=None):
    """A tensor from ``data``, sharing it when it is already a tensor of the asked dtype and
    device (as ``torch.as_tensor``)."""
    if isinstance(data, Tensor):
        if dtype is not None and data.dtype != dtype:
            data = data.to(dtype)
        if device is not None and data.device != _rd.device(device):
            data = data.to(device)
        return data
    if isinstance(data, _np.ndarray) and data.dtype == _np.float16:
        data = data.astype(_np.float32)
    kwargs = {}
    if dtype is not None:
        kwargs["dtype"] = dtype
    if device is not None:
        kwargs["device"] = device
    if isinstance(data, (list, tuple)) and len(data) == 0 and dtype is None:
        kwargs["dtype"] = float32
    return _rd.tensor(data, **kwargs)


class _LegacyTensorMeta(type):
    def __instancecheck__(cls, obj):
        return (
            isinstance(obj, Tensor)
            and obj.dtype == cls.dtype
            and cls._typename != "IntTensor"
            and (obj.device.type != "cpu") == cls._cuda
        )

    def __repr__(cls):
        return f"<class 'torch.{'cuda.' if cls._cuda else ''}{cls._typename}'>"


class _LegacyTensorType(metaclass=_LegacyTensorMeta):
    """``torch.FloatTensor`` and friends: called with sizes gives a zero-filled tensor of that
    shape, called with data a tensor of the type's dtype; usable in ``x.type(torch.FloatTensor)``."""

    dtype = float32
    _typename = "FloatTensor"
    _cuda = False

    def __new__(cls, *args, device=None):
        if device is None and cls._cuda:
            import os

            forced = os.environ.get("RUSTDL_COMPAT_DEVICE", "").strip().lower() == "cpu"
            device = "cpu" if forced else "gpu"
        kw = {"dtype": cls.dtype}
        if device is not None:
            kw["device"] = device
        if not args:
            return _rd.zeros(0, **kw)
        if builtins.all(isinstance(a, int) and not isinstance(a, builtins.bool) for a in args):
            return _rd.zeros(*args, **kw)
        if len(args) != 1:
            raise TypeError(f"{cls._typename}: expected sizes (ints) or one sequence of data, got {args!r}")
        data = args[0]
        if isinstance(data, Tensor):
            return data.to(cls.dtype)
        if isinstance(data, (list, tuple)) and len(data) == 0:
            return _rd.zeros(0, **kw)
        return _rd.tensor(data, **kw)


def _legacy(name, cuda=False):
    attrs = {"dtype": _DTYPE_BY_TYPENAME[name], "_typename": name, "_cuda": cuda}
    return _LegacyTensorMeta(name, (_LegacyTensorType,), attrs)


FloatTensor = _legacy("FloatTensor")
DoubleTensor = _legacy("DoubleTensor")
LongTensor = _legacy("LongTensor")
IntTensor = _legacy("IntTensor")
BoolTensor = _legacy("BoolTensor")
HalfTensor = _legacy("HalfTensor")
BFloat16Tensor = _legacy("BFloat16Tensor")

_HALF_WARNED = [False]


def _warn_half(what):
    if not _HALF_WARNED[0]:
        _HALF_WARNED[0] = True
        _warnings.warn(
            f"{what}: rustdl has no 16-bit float storage; float16/bfloat16 map to float32 and "
            "computation stays in float32",
            UserWarning,
            stacklevel=3,
        )


_orig_type = Tensor.type


def _type(self, dtype=None, non_blocking=False, **kwargs):
    """With no argument the type name (``'torch.FloatTensor'``); with a dtype, a legacy type
    such as ``torch.FloatTensor`` or a name such as ``'torch.DoubleTensor'``, a cast."""
    if dtype is None:
        return _orig_type(self)
    if isinstance(dtype, type) and issubclass(dtype, _LegacyTensorType):
        if isinstance(self, dtype) and dtype._typename != "HalfTensor":
            return self
        dtype = ("torch.cuda." if dtype._cuda else "torch.") + dtype._typename
    if isinstance(dtype, str) and dtype.rsplit(".", 1)[-1] in ("HalfTensor", "BFloat16Tensor"):
        _warn_half("Tensor.type")
    return _orig_type(self, dtype)


def _ndimension(self):
    """The number of dims (as ``Tensor.dim()``)."""
    return self.dim()


def _half(self, memory_format=None):
    """float32 (rustdl has no 16-bit storage; warns once)."""
    _warn_half("Tensor.half")
    return self.float()


def _bfloat16(self, memory_format=None):
    """float32 (rustdl has no 16-bit storage; warns once)."""
    _warn_half("Tensor.bfloat16")
    return self.float()


Tensor.type = _type
Tensor.ndimension = _ndimension
Tensor.half = _half
Tensor.bfloat16 = _bfloat16


def set_default_dtype(d):
    """Only float32 is supported as the default float dtype (creation functions live in the
    Rust core and make float32); anything else raises ``TypeError``."""
    if getattr(d, "name", None) != "float32":
        raise TypeError(
            f"set_default_dtype: rustdl only supports float32 as the default dtype, got {d!r}; "
            "pass dtype= to creation functions instead"
        )


def get_default_dtype():
    """The default float dtype: float32."""
    return float32


def set_default_tensor_type(t):
    """Only ``torch.FloatTensor`` (float32) is supported; anything else raises ``TypeError``."""
    name = t if isinstance(t, str) else getattr(t, "_typename", repr(t))
    if name.rsplit(".", 1)[-1] != "FloatTensor":
        raise TypeError(f"set_default_tensor_type: rustdl only supports torch.FloatTensor, got {t!r}")


# ---- blas-like


def _check_tensor(op, **named):
    for k, v in named.items():
        if not isinstance(v, Tensor):
            raise TypeError(f"{op}: argument '{k}' must be a Tensor, got {type(v).__name__}")


def _scaled_sum(op, input, prod, beta, alpha):  # noqa: A002
    out = prod if alpha == 1 else prod * alpha
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: argument 'input' must be a Tensor, got {type(input).__name__}")
    if beta == 0:
        return out
    return out + (input if beta == 1 else input * beta)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):  # noqa: A002
    """``beta * input + alpha * (mat1 @ mat2)`` (input broadcast; with beta=0 it is ignored)."""
    _check_tensor("addmm", input=input, mat1=mat1, mat2=mat2)
    if mat1.dim() != 2 or mat2.dim() != 2:
        raise ValueError(
            f"addmm: expected 2-D matrices, got shapes {tuple(mat1.shape)} and {tuple(mat2.shape)}"
        )
    return _scaled_sum("addmm", input, mat1.mm(mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):  # noqa: A002
    """``beta * input + alpha * (mat @ vec)``."""
    _check_tensor("addmv", input=input, mat=mat, vec=vec)
    if mat.dim() != 2 or vec.dim() != 1:
        raise ValueError(
            f"addmv: expected a matrix and a vector, got shapes {tuple(mat.shape)} and {tuple(vec.shape)}"
        )
    return _scaled_sum("addmv", input, mat.matmul(vec), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):  # noqa: A002
    """``beta * input + alpha * bmm(batch1, batch2)``."""
    _check_tensor("baddbmm", input=input, batch1=batch1, batch2=batch2)
    if batch1.dim() != 3 or batch2.dim() != 3:
        raise ValueError(
            f"baddbmm: expected 3-D batches, got shapes {tuple(batch1.shape)} and {tuple(batch2.shape)}"
        )
    return _scaled_sum("baddbmm", input, batch1.bmm(batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):  # noqa: A002
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``."""
    _check_tensor("addbmm", input=input, batch1=batch1, batch2=batch2)
    if batch1.dim() != 3 or batch2.dim() != 3:
        raise ValueError(
            f"addbmm: expected 3-D batches, got shapes {tuple(batch1.shape)} and {tuple(batch2.shape)}"
        )
    return _scaled_sum("addbmm", input, batch1.bmm(batch2).sum(0), beta, alpha)


def lerp(input, end, weight):  # noqa: A002
    """``input + weight * (end - input)`` (weight a tensor or a number)."""
    _check_tensor("lerp", input=input, end=end)
    return input + weight * (end - input)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (infinities equal when equal)."""
    if not isinstance(other, Tensor):
        other = _rd.tensor(other, dtype=input.dtype, device=input.device)
    if input.dtype != other.dtype:
        if input.is_floating_point() or other.is_floating_point():
            dt = float64 if float64 in (input.dtype, other.dtype) else float32
            input, other = input.to(dt), other.to(dt)
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be non-negative, got rtol={rtol}, atol={atol}")
    same = input.eq(other)
    if not input.is_floating_point():
        if input.dtype == _bool:
            return same
        diff = (input - other).abs().double()
        return same.logical_or(diff.le(atol + rtol * other.abs().double()))
    finite = input.isfinite().logical_and(other.isfinite())
    a = input.nan_to_num(0.0, 0.0, 0.0)
    b = other.nan_to_num(0.0, 0.0, 0.0)
    close = (a - b).abs().le((b.abs() * rtol) + atol).logical_and(finite)
    out = same.logical_or(close)
    if equal_nan:
        out = out.logical_or(input.isnan().logical_and(other.isnan()))
    return out


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002
    """True when every element is ``isclose``."""
    return builtins.bool(isclose(input, other, rtol, atol, equal_nan).all().item())


# ---- counting (numpy forward; results are integer tensors, no gradient)


def _np_of(t):
    return t.detach().cpu().numpy()


def _back(arr, like, dtype=None):
    out = _rd.tensor(
        _np.array(arr, order="C"),
        dtype=dtype if dtype is not None else (int64 if arr.dtype.kind in "iu" else None),
    )
    return out if like.device.type == "cpu" else out.to(like.device)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct values (sorted) of the flattened ``input``, or distinct slices along ``dim``;
    optionally the inverse indices and the counts."""
    _check_tensor("unique", input=input)
    a = _np_of(input)
    if dim is None:
        vals, inv, cnt = _np.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(a.shape)
    else:
        if not -a.ndim <= dim < a.ndim:
            raise ValueError(f"unique: dim {dim} out of range for a {a.ndim}-d tensor")
        vals, inv, cnt = _np.unique(a, return_inverse=True, return_counts=True, axis=dim)
        inv = inv.reshape(-1)
    out = _back(vals, input, input.dtype)
    if not (return_inverse or return_counts):
        return out
    res = [out]
    if return_inverse:
        res.append(_back(inv.astype(_np.int64), input, int64))
    if return_counts:
        res.append(_back(cnt.astype(_np.int64), input, int64))
    return tuple(res)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """Collapses runs of equal consecutive values (or slices along ``dim``)."""
    _check_tensor("unique_consecutive", input=input)
    a = _np_of(input)
    if dim is None:
        flat = a.reshape(-1)
        units = flat
        ax = 0
    else:
        if not -a.ndim <= dim < a.ndim:
            raise ValueError(f"unique_consecutive: dim {dim} out of range for a {a.ndim}-d tensor")
        ax = dim % a.ndim
        units = _np.moveaxis(a, ax, 0)
    n = units.shape[0]
    if n == 0:
        starts = _np.zeros(0, dtype=_np.int64)
    else:
        change = _np.ones(n, dtype=builtins.bool)
        if n > 1:
            neq = units[1:] != units[:-1]
            change[1:] = neq.reshape(n - 1, -1).any(axis=1) if units.ndim > 1 else neq
        starts = _np.flatnonzero(change)
    vals = units[starts]
    if dim is not None:
        vals = _np.moveaxis(vals, 0, ax)
    out = _back(vals, input, input.dtype)
    if not (return_inverse or return_counts):
        return out
    res = [out]
    if return_inverse:
        inv = _np.cumsum(change) - 1 if n else _np.zeros(0, dtype=_np.int64)
        if dim is None:
            inv = inv.reshape(a.shape)
        res.append(_back(inv.astype(_np.int64), input, int64))
    if return_counts:
        cnt = _np.diff(_np.append(starts, n)).astype(_np.int64)
        res.append(_back(cnt, input, int64))
    return tuple(res)


def bincount(input, weights=None, minlength=0):  # noqa: A002
    """Counts of each value of a 1-D non-negative int tensor (weighted sums with ``weights``)."""
    _check_tensor("bincount", input=input)
    if input.dim() != 1 or input.is_floating_point() or input.dtype == _bool:
        raise ValueError(
            f"bincount: expected a 1-D integer tensor, got {input.dtype} of shape {tuple(input.shape)}"
        )
    a = _np_of(input)
    if a.size and a.min() < 0:
        raise ValueError("bincount: input must be non-negative")
    if minlength < 0:
        raise ValueError(f"bincount: minlength must be non-negative, got {minlength}")
    if weights is None:
        return _back(_np.bincount(a, minlength=minlength).astype(_np.int64), input, int64)
    w = _np_of(weights) if isinstance(weights, Tensor) else _np.asarray(weights)
    if w.shape != a.shape:
        raise ValueError(f"bincount: weights shape {w.shape} must match input shape {a.shape}")
    dt = weights.dtype if isinstance(weights, Tensor) and weights.is_floating_point() else float64
    return _back(_np.bincount(a, weights=w, minlength=minlength), input, dt)


def histc(input, bins=100, min=0, max=0):  # noqa: A002
    """Histogram of ``bins`` equal-width bins over ``[min, max]`` (both 0: the data's range);
    values outside are ignored."""
    _check_tensor("histc", input=input)
    if not input.is_floating_point():
        raise TypeError(f"histc: expected a floating tensor, got {input.dtype}")
    if bins <= 0:
        raise ValueError(f"histc: bins must be positive, got {bins}")
    a = _np_of(input).reshape(-1).astype(_np.float64)
    lo, hi = builtins.float(min), builtins.float(max)
    if lo == 0 and hi == 0 and a.size:
        lo, hi = builtins.float(a.min()), builtins.float(a.max())
    if lo > hi:
        raise ValueError(f"histc: max must be larger than min, got min={min}, max={max}")
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    a = a[(a >= lo) & (a <= hi)]
    idx = _np.floor((a - lo) * bins / (hi - lo)).astype(_np.int64)
    idx = _np.clip(idx, 0, bins - 1)
    counts = _np.bincount(idx, minlength=bins).astype(_np.float64)
    return _back(counts, input, input.dtype)


# ---- shapes


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors (``indexing='ij'`` matrix, ``'xy'`` Cartesian)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        _check_tensor("meshgrid", tensors=t)
        if t.dim() > 1:
            raise ValueError(f"meshgrid: expected 0-D or 1-D tensors, got shape {tuple(t.shape)}")
    ts = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    n = len(ts)
    out = []
    for i, t in enumerate(ts):
        view = [1] * n
        view[i] = shape[i]
        out.append(t.reshape(*view).expand(*shape))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def _norm_dim(op, d, n):
    if not -n <= d < builtins.max(n, 1):
        raise ValueError(f"{op}: dim {d} out of range for a {n}-d tensor")
    return d % n if n else 0


def diagonal(input, offset=0, dim1=0, dim2=1):  # noqa: A002
    """The diagonal of the ``(dim1, dim2)`` planes as the last dim (differentiable)."""
    _check_tensor("diagonal", input=input)
    n = input.dim()
    if n < 2:
        raise ValueError(f"diagonal: expected at least 2 dims, got shape {tuple(input.shape)}")
    d1, d2 = _norm_dim("diagonal", dim1, n), _norm_dim("diagonal", dim2, n)
    if d1 == d2:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2}")
    rest = [i for i in range(n) if i not in (d1, d2)]
    x = input.permute(*rest, d1, d2)
    r, c = input.shape[d1], input.shape[d2]
    if offset >= 0:
        k = builtins.max(0, builtins.min(r, c - offset))
        idx = [i * c + i + offset for i in range(k)]
    else:
        k = builtins.max(0, builtins.min(r + offset, c))
        idx = [(i - offset) * c + i for i in range(k)]
    lead = tuple(input.shape[i] for i in rest)
    flat = x.reshape(*lead, r * c)
    index = _rd.tensor(idx, dtype=int64, device=input.device)
    return flat.index_select(len(lead), index) if k else flat.narrow(len(lead), 0, 0)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):  # noqa: A002
    """Tensors whose ``(dim1, dim2)`` planes have the last dim of ``input`` on a diagonal."""
    _check_tensor("diag_embed", input=input)
    if input.dim() < 1:
        raise ValueError("diag_embed: expected at least 1 dim")
    k = input.shape[-1]
    m = k + builtins.abs(offset)
    lead = tuple(input.shape[:-1])
    zero = _rd.zeros(*lead, 1, dtype=input.dtype, device=input.device)
    padded = _rd.cat([input, zero], -1)
    idx = [k] * (m * m)
    for i in range(k):
        r, c = (i, i + offset) if offset >= 0 else (i - offset, i)
        idx[r * m + c] = i
    index = _rd.tensor(idx, dtype=int64, device=input.device)
    out = padded.index_select(len(lead), index).reshape(*lead, m, m)
    n = out.dim()
    d1, d2 = _norm_dim("diag_embed", dim1, n), _norm_dim("diag_embed", dim2, n)
    if d1 == d2:
        raise ValueError(f"diag_embed: dim1 and dim2 must differ, got {dim1} and {dim2}")
    # out has the planes at (n-2, n-1); move them to (d1, d2)
    order = [None] * n
    order[d1] = n - 2
    order[d2] = n - 1
    others = iter(range(n - 2))
    perm = [o if o is not None else next(others) for o in order]
    return out.permute(*perm)


def _cross(op, input, other, dim):  # noqa: A002
    _check_tensor(op, input=input, other=other)
    a, b = broadcast_tensors(input, other)
    n = a.dim()
    if dim is None:
        dims = [i for i, s in enumerate(a.shape) if s == 3]
        if not dims:
            raise ValueError(f"{op}: no dimension of size 3 in shape {tuple(a.shape)}")
        dim = dims[0]
    d = _norm_dim(op, dim, n)
    if a.shape[d] != 3:
        raise ValueError(f"{op}: dimension {dim} must have size 3, got shape {tuple(a.shape)}")
    a0, a1, a2 = (a.narrow(d, i, 1) for i in range(3))
    b0, b1, b2 = (b.narrow(d, i, 1) for i in range(3))
    return _rd.cat([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def cross(input, other, dim=None):  # noqa: A002
    """Cross product of 3-vectors along ``dim`` (default: the first dim of size 3)."""
    return _cross("cross", input, other, dim)


def tile(input, dims):  # noqa: A002
    """Repeats ``input`` ``dims`` times per dim (ones prepended to whichever is shorter)."""
    _check_tensor("tile", input=input)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    x = input
    if len(dims) > x.dim():
        x = x.reshape(*([1] * (len(dims) - x.dim())), *x.shape)
    dims = (1,) * (x.dim() - len(dims)) + dims
    return x.repeat(*dims)


def unflatten(input, dim, sizes):  # noqa: A002
    """Splits ``dim`` into ``sizes`` (one entry may be -1)."""
    _check_tensor("unflatten", input=input)
    n = input.dim()
    d = _norm_dim("unflatten", dim, n)
    sizes = tuple(sizes)
    if not sizes:
        raise ValueError("unflatten: sizes must be non-empty")
    known = 1
    for s in sizes:
        if s != -1:
            known *= s
    if sizes.count(-1) > 1:
        raise ValueError("unflatten: only one size may be -1")
    if (-1 not in sizes and known != input.shape[d]) or (
        -1 in sizes and (known == 0 or input.shape[d] % known)
    ):
        raise ValueError(f"unflatten: sizes {sizes} don't multiply to dim {dim} of size {input.shape[d]}")
    return input.reshape(*input.shape[:d], *sizes, *input.shape[d + 1 :])


_orig_squeeze = Tensor.squeeze


def _squeeze(self, dim=None):
    """Drops size-1 dims: all of them, one ``dim``, or a tuple of dims."""
    if isinstance(dim, (tuple, list)):
        n = self.dim()
        ds = {_norm_dim("squeeze", d, n) for d in dim}
        keep = [s for i, s in enumerate(self.shape) if not (i in ds and s == 1)]
        return self.reshape(*keep) if len(keep) != n else self
    return _orig_squeeze(self) if dim is None else _orig_squeeze(self, dim)


Tensor.squeeze = _squeeze


def squeeze(input, dim=None):  # noqa: A002
    """Drops size-1 dims: all of them, one ``dim``, or a tuple of dims."""
    return _squeeze(input, dim)


def _safe_sqrt(sq):
    """sqrt whose gradient at 0 is 0 (as PyTorch's norms and cdist), not inf/nan."""
    pos = sq.gt(0)
    return _rd.where(pos, _rd.where(pos, sq, sq.new_ones(())).sqrt(), sq.new_zeros(()))


def cdist(x1, x2, p=2.0, compute_mode=None):
    """p-norm distances between the rows of ``x1`` (..., P, M) and ``x2`` (..., R, M)."""
    _check_tensor("cdist", x1=x1, x2=x2)
    if x1.dim() < 2 or x2.dim() < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(
            f"cdist: expected (..., P, M) and (..., R, M), got {tuple(x1.shape)} and {tuple(x2.shape)}"
        )
    if not x1.is_floating_point():
        raise TypeError(f"cdist: expected floating tensors, got {x1.dtype}")
    if p < 0:
        raise ValueError(f"cdist: p must be non-negative, got {p}")
    P, R, M = x1.shape[-2], x2.shape[-2], x1.shape[-1]
    big = P * R * M > (1 << 22)
    if p == 2 and (
        compute_mode == "use_mm_for_euclid_dist" or (big and compute_mode != "donot_use_mm_for_euclid_dist")
    ):
        sq = (
            (x1 * x1).sum(-1, keepdim=True)
            + (x2 * x2).sum(-1).unsqueeze(-2)
            - 2 * x1.matmul(x2.transpose(-2, -1))
        )
        return _safe_sqrt(sq.clamp_min(0))
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if p == 2:
        return _safe_sqrt((diff * diff).sum(-1))
    return _vector_norm_impl(diff, p, -1, False)


def _vector_norm_impl(x, ord, dim, keepdim):  # noqa: A002
    a = x.abs()
    if ord == _math.inf:
        return a.amax(dim, keepdim=keepdim) if a.numel() else a.sum(dim, keepdim=keepdim)
    if ord == -_math.inf:
        return a.amin(dim, keepdim=keepdim)
    if ord == 0:
        return a.ne(0).to(x.dtype).sum(dim, keepdim=keepdim)
    if ord == 1:
        return a.sum(dim, keepdim=keepdim)
    if ord == 2:
        return _safe_sqrt((x * x).sum(dim, keepdim=keepdim))
    s = _rd.where(a.gt(0), a, a.new_ones(())).pow(ord)
    s = _rd.where(a.gt(0), s, a.new_zeros(())).sum(dim, keepdim=keepdim)
    if ord > 0:
        return _rd.where(s.gt(0), _rd.where(s.gt(0), s, s.new_ones(())).pow(1.0 / ord), s.new_zeros(()))
    return s.pow(1.0 / ord)


_orig_softmax = Tensor.softmax
_orig_log_softmax = Tensor.log_softmax


def _softmax(self, dim=-1, dtype=None):
    """Softmax along ``dim``; ``dtype`` casts the input first."""
    x = self if dtype is None else self.to(dtype)
    return _orig_softmax(x, dim)


def _log_softmax(self, dim=-1, dtype=None):
    """Log-softmax along ``dim``; ``dtype`` casts the input first."""
    x = self if dtype is None else self.to(dtype)
    return _orig_log_softmax(x, dim)


Tensor.softmax = _softmax
Tensor.log_softmax = _log_softmax


class _TensorMethods:
    """Tensor-method forms of the functions above (attached to Tensor below)."""

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        """As ``rustdl.addmm`` with this tensor first."""
        return addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        """As ``rustdl.addmv`` with this tensor first."""
        return addmv(self, mat, vec, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """As ``rustdl.baddbmm`` with this tensor first."""
        return baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """As ``rustdl.addbmm`` with this tensor first."""
        return addbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def lerp(self, end, weight):
        """As ``rustdl.lerp`` with this tensor first."""
        return lerp(self, end, weight)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """As ``rustdl.isclose`` with this tensor first."""
        return isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """As ``rustdl.allclose`` with this tensor first."""
        return allclose(self, other, rtol, atol, equal_nan)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
        """As ``rustdl.unique`` with this tensor first."""
        return unique(self, sorted, return_inverse, return_counts, dim)

    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
        """As ``rustdl.unique_consecutive`` with this tensor first."""
        return unique_consecutive(self, return_inverse, return_counts, dim)

    def bincount(self, weights=None, minlength=0):
        """As ``rustdl.bincount`` with this tensor first."""
        return bincount(self, weights, minlength)

    def histc(self, bins=100, min=0, max=0):  # noqa: A002
        """As ``rustdl.histc`` with this tensor first."""
        return histc(self, bins, min, max)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        """As ``rustdl.diagonal`` with this tensor first."""
        return diagonal(self, offset, dim1, dim2)

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        """As ``rustdl.diag_embed`` with this tensor first."""
        return diag_embed(self, offset, dim1, dim2)

    def cross(self, other, dim=None):
        """As ``rustdl.cross`` with this tensor first."""
        return cross(self, other, dim)

    def tile(self, dims):
        """As ``rustdl.tile`` with this tensor first."""
        return tile(self, dims)

    def unflatten(self, dim, sizes):
        """As ``rustdl.unflatten`` with this tensor first."""
        return unflatten(self, dim, sizes)


for _name in (
    "addmm",
    "addmv",
    "baddbmm",
    "addbmm",
    "lerp",
    "isclose",
    "allclose",
    "unique",
    "unique_consecutive",
    "bincount",
    "histc",
    "diagonal",
    "diag_embed",
    "cross",
    "tile",
    "unflatten",
):
    setattr(Tensor, _name, getattr(_TensorMethods, _name))
del _name
