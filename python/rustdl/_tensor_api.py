"""Everyday API pieces that are pure shape or type arithmetic (no element loops in Python):
``finfo`` / ``iinfo``, ``broadcast_shapes`` / ``broadcast_tensors``, ``einsum`` (folded into
permute / reshape / ``bmm`` calls), ``std_mean`` / ``var_mean`` and ``Tensor.get_device``.
"""

from __future__ import annotations

import builtins
import numbers as _numbers
import operator

from ._rustdl import Tensor, float32, float64, int32, int64
from ._rustdl import bool as _bool
from ._typed_errors import int_arg

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
        # the 16-bit formats' own limits (their tensors are stored as float32 here)
        "float16": (16, 2.0**-10, 65504.0, 2.0**-14, 3),
        "bfloat16": (16, 2.0**-7, 3.3895313892515355e38, 1.1754943508222875e-38, 2),
    }

    def __init__(self, type=float32):  # noqa: A002
        name = getattr(type, "name", None)
        if name is None and type is builtins.float:
            name = "float32"
        # a complex dtype's limits are its parts' (as PyTorch's: dtype names the part dtype)
        name = {"complex64": "float32", "complex128": "float64"}.get(name, name)
        if name not in self._TABLE:
            raise TypeError(
                f"finfo: expected a floating dtype (float32, float64, float16 or bfloat16), got {type!r}"
            )
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

    _TABLE = {
        "uint8": (8, 0, 2**8 - 1),
        "int8": (8, -(2**7), 2**7 - 1),
        "int16": (16, -(2**15), 2**15 - 1),
        "int32": (32, -(2**31), 2**31 - 1),
        "int64": (64, -(2**63), 2**63 - 1),
    }

    def __init__(self, type):  # noqa: A002
        name = getattr(type, "name", None)
        if name is None and type is builtins.int:
            name = "int64"
        if name not in self._TABLE:
            raise TypeError(
                f"iinfo: expected an integer dtype (uint8, int8, int16, int32 or int64), got {type!r}"
            )
        self.dtype = name
        self.bits, self.min, self.max = self._TABLE[name]

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def broadcast_shapes(*shapes):
    """The shape the given shapes broadcast to (numpy rules), as ``torch.broadcast_shapes``."""
    dims = []
    for s in shapes:
        if not isinstance(s, (int, tuple, list)):
            from ._rustdl import ArgumentError

            raise ArgumentError(
                "broadcast_shapes: input shapes should be of type ints, a tuple of ints, or a list "
                f"of ints, got {type(s).__name__}"
            )
        s = (s,) if isinstance(s, int) else tuple(s)
        for d in s:
            if not isinstance(d, int) or d < 0:
                raise _rd.ArgumentError(f"broadcast_shapes: invalid size {d!r} in shape {s}")
        dims.append(s)
    n = builtins.max((len(s) for s in dims), default=0)
    out = [1] * n
    for s in dims:
        for i, d in enumerate(s):
            j = n - len(s) + i
            if out[j] == 1:
                out[j] = d
            elif d != 1 and d != out[j]:
                raise _rd.ArgumentError(
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


def _unbiased_first(dim, unbiased):
    """PyTorch's ``std(input, unbiased)`` overload: a bool where ``dim`` goes is ``unbiased``."""
    if isinstance(dim, builtins.bool):
        if unbiased is not None:
            raise TypeError("std/var: got a bool for dim (the unbiased overload) and unbiased=")
        return None, dim
    return dim, unbiased


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """``(std, mean)`` over ``dim``."""
    dim, unbiased = _unbiased_first(dim, unbiased)
    return (
        input.std(dim, unbiased=unbiased, correction=correction, keepdim=keepdim),
        input.mean(dim, keepdim=keepdim),
    )


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """``(var, mean)`` over ``dim``."""
    dim, unbiased = _unbiased_first(dim, unbiased)
    return (
        input.var(dim, unbiased=unbiased, correction=correction, keepdim=keepdim),
        input.mean(dim, keepdim=keepdim),
    )


def _get_device(self):
    """The GPU index, or -1 for a CPU tensor (as PyTorch)."""
    idx = self.device.index
    return -1 if idx is None else idx


Tensor.get_device = _get_device
# an integer naming the tensor object (PyTorch's is its C++ object's address; libraries use it to
# tell parameters apart)
Tensor._cdata = property(lambda self: id(self), doc="An int identifying this tensor object.")


# ---------------------------------------------------------------- einsum


def _expand_ellipsis(equation, operands):
    """An equation with ``...`` rewritten with letters of its own (numpy's rules: each operand's
    ``...`` stands for its dims not named by letters, aligned from the right and broadcast; an
    implicit output puts them first), and the operands expanded where those dims broadcast."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(operands):
        raise _rd.ArgumentError(
            f"einsum: the equation has {len(ins)} operands but {len(operands)} tensors were given"
        )
    counts = []
    for s, t in zip(ins, operands):
        if s.count("...") > 1 or (s.replace("...", "").count(".")):
            raise _rd.ArgumentError(f"einsum: invalid subscripts '{s}' in '{equation}'")
        named = len(s.replace("...", ""))
        e = t.dim() - named if "..." in s else 0
        if e < 0:
            raise _rd.ArgumentError(
                f"einsum: subscripts '{s}' name {named} dims but the operand has shape {tuple(t.shape)}"
            )
        counts.append(e)
    width = builtins.max(counts, default=0)
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in eq][:width]
    if len(free) < width:
        raise _rd.ArgumentError(f"einsum: too many dims under '...' in '{equation}'")
    sizes = {}
    new_ins = []
    for s, t, e in zip(ins, operands, counts):
        letters = free[width - e :]
        at = s.find("...")
        for j, c in enumerate(letters):
            n = t.shape[at + j]
            if sizes.get(c, 1) != 1 and n not in (1, sizes[c]):
                raise _rd.ArgumentError(
                    f"einsum: the dims under '...' do not broadcast ({sizes[c]} and {n}) in '{equation}'"
                )
            # a size 1 broadcasts to the other (which may be 0)
            sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]
        new_ins.append(s.replace("...", "".join(letters)))
    expanded = []
    for s, t, e in zip(ins, operands, counts):
        at = s.find("...")
        shape = list(t.shape)
        for j, c in enumerate(free[width - e :]):
            shape[at + j] = sizes[c]
        expanded.append(t.expand(*shape) if shape != list(t.shape) else t)
    if arrow:
        if out.count("...") > 1:
            raise _rd.ArgumentError(f"einsum: invalid output subscripts '{out}' in '{equation}'")
        out = out.replace("...", "".join(free))
    else:
        once = {}
        for c in lhs.replace("...", "").replace(",", ""):
            once[c] = once.get(c, 0) + 1
        out = "".join(free) + "".join(sorted(c for c, k in once.items() if k == 1))
    return ",".join(new_ins) + "->" + out, expanded


def _parse_einsum(equation, n_ops):
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs, out = eq, None
    ins = lhs.split(",")
    if len(ins) != n_ops:
        raise _rd.ArgumentError(
            f"einsum: the equation has {len(ins)} operands but {n_ops} tensors were given"
        )
    for s in ins + ([out] if out is not None else []):
        if not all(c.isalpha() for c in s):
            raise _rd.ArgumentError(f"einsum: invalid subscripts '{s}' in '{equation}'")
    if out is None:
        # implicit output: the letters that occur once, in alphabetical order
        counts = {}
        for s in ins:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = "".join(sorted(c for c, k in counts.items() if k == 1))
    if len(set(out)) != len(out):
        raise _rd.ArgumentError(f"einsum: output subscripts '{out}' repeat a letter")
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
            raise _rd.ArgumentError(
                f"einsum: repeated subscript '{c}' with sizes {t.shape[i]} and {t.shape[j]}"
            )
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
                raise _rd.ShapeError(f"einsum: subscript '{c}' has sizes {size[c]} and {n}")
            # a size 1 broadcasts to the other (which may be 0)
            size[c] = n if size.get(c, 1) == 1 else size[c]

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


_SUBSCRIPT_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def einsum_sublists(args: tuple) -> tuple:
    """``einsum(op1, [0, 1], op2, [1, 2], [0, 2])`` (the sublist form) as ``("ab,bc->ac", op1,
    op2)``: each int 0-51 is a letter, ``...`` (Ellipsis) stays; a trailing list is the output."""

    def letters(sub: object) -> str:
        if not isinstance(sub, (list, tuple)):
            raise TypeError(f"einsum: a sublist must be a list of ints, got {type(sub).__name__}")
        out = []
        for v in sub:
            if v is Ellipsis:
                out.append("...")
            elif isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 52:
                out.append(_SUBSCRIPT_LETTERS[v])
            else:
                raise ValueError(f"einsum: subscripts in a sublist must be ints in [0, 52) or ..., got {v!r}")
        return "".join(out)

    pairs, rest = list(args), None
    if len(pairs) % 2 == 1:
        rest = pairs.pop()
    operands, subs = pairs[0::2], [letters(x) for x in pairs[1::2]]
    equation = ",".join(subs) + ("" if rest is None else "->" + letters(rest))
    return (equation, *operands)


def einsum(equation, *operands):
    """Einstein summation over 1+ operands, folded left to right into ``bmm`` calls
    (``'ij,jk->ik'``, ``'bij,bjk->bik'``, ``'i,i->'``, ``'ij->ji'``, ``'bi,bi->b'``, ...).
    Repeated letters within one operand take diagonals; ``...`` stands for the dims no letter
    names (broadcast, as numpy). The sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` is
    taken too."""
    if not isinstance(equation, str) and isinstance(equation, Tensor) and operands:
        equation, *operands = einsum_sublists((equation, *operands))
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise _rd.ArgumentError("einsum: expected at least one operand")
    if "..." in equation:
        equation, operands = _expand_ellipsis(equation, operands)
    ins, out = _parse_einsum(equation, len(operands))
    for t, s in zip(operands, ins):
        if t.dim() != len(s):
            raise _rd.ArgumentError(
                f"einsum: subscripts '{s}' name {len(s)} dims but the operand has shape {tuple(t.shape)}"
            )
    for c in out:
        if not any(c in s for s in ins):
            raise _rd.ArgumentError(f"einsum: output subscript '{c}' does not appear in the inputs")
    summed = {c: t.shape[k] for t, s in zip(operands, ins) for k, c in enumerate(s) if c not in out}
    if len({t.dtype for t in operands}) > 1 and all(n == 1 for n in summed.values()):
        # nothing summed (or only dims of size 1): PyTorch multiplies the operands element-wise,
        # promoting their dtypes (a product that sums runs as batched matmuls, which want one
        # dtype, and is refused)
        from ._breadth_g import promote_types

        dt = operands[0].dtype
        for t in operands[1:]:
            dt = promote_types(dt, t.dtype)
        operands = [t.to(dt) for t in operands]
    ops = [_diagonalize(t, s) for t, s in zip(operands, ins)]
    acc, sacc = ops[0]
    for k in range(1, len(ops)):
        later = "".join(s for _, s in ops[k + 1 :])
        b, sb = ops[k]
        acc, sacc = _contract(acc, sacc, b, sb, out + later)
    acc, sacc = _sum_out(acc, sacc, out)
    if sacc != out:
        acc = acc.permute(*[sacc.index(c) for c in out])
        if len(ops) > 1:  # a product's result is laid out in the output's order, as PyTorch's
            acc = acc.contiguous()
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
    "IntTensor": _rd.int32,
    "ShortTensor": _rd.int16,
    "ByteTensor": _rd.uint8,
    "CharTensor": _rd.int8,
    "BoolTensor": _bool,
    "HalfTensor": float32,
    "BFloat16Tensor": float32,
}


def _as_device(device):
    """A ``rustdl.device`` from a device or its spelling (``"cuda:0"``, ``0``)."""
    return device if isinstance(device, _rd.device) else _rd.device(device)


def as_tensor(data, dtype=None, device=None):
    """A tensor from ``data``, sharing it when it is already a tensor, or a numpy array (on the
    CPU), of the asked dtype and device (as ``torch.as_tensor``)."""
    if isinstance(data, Tensor):
        if dtype is not None and data.dtype != dtype:
            data = data.to(dtype)
        if device is not None and data.device != _as_device(device):
            data = data.to(device)
        return data
    if isinstance(data, _np.ndarray) and data.dtype == _np.float16:
        data = data.astype(_np.float32)
    if (
        isinstance(data, _np.ndarray)
        and (device is None or _as_device(device).type == "cpu")
        and (dtype is None or dtype == _rd.from_numpy(data.reshape(-1)[:0]).dtype)
    ):
        return _rd.from_numpy(data)  # shares the array's memory where it can, as PyTorch
    kwargs = {}
    if dtype is not None:
        kwargs["dtype"] = dtype
    if device is not None:
        kwargs["device"] = device
    if isinstance(data, (list, tuple)) and len(data) == 0 and dtype is None:
        kwargs["dtype"] = get_default_dtype()
    return _rd.tensor(data, **kwargs)


class _LegacyTensorMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and (obj.device.type != "cpu") == cls._cuda

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
            from . import cuda

            device = "cpu" if cuda._forced_cpu() else "gpu"
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
        if isinstance(data, tuple) and type(data).__name__ == "Size":
            return _rd.zeros(*data, **kw)  # `LongTensor(x.shape)`: a shape, as PyTorch (a tuple is data)
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
ShortTensor = _legacy("ShortTensor")
ByteTensor = _legacy("ByteTensor")
CharTensor = _legacy("CharTensor")
BoolTensor = _legacy("BoolTensor")
HalfTensor = _legacy("HalfTensor")
BFloat16Tensor = _legacy("BFloat16Tensor")

_HALF_WARNED = [False]


def _called_from_a_library():
    """Whether the code outside rustdl that led here is an installed package (its frames under
    site-packages), not the user's own script."""
    import sys

    f = sys._getframe(2)
    while f is not None and f.f_globals.get("__name__", "").split(".")[0] in ("rustdl", "importlib"):
        f = f.f_back
    name = f.f_code.co_filename if f is not None else ""
    return "site-packages" in name or "dist-packages" in name


def _warn_half(what):
    # a library merely naming torch.float16 (einops' dtype tables) is not the user using it
    if not _HALF_WARNED[0] and not _called_from_a_library():
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
    if dtype is Tensor:  # torch.Tensor: the default tensor type (FloatTensor), as PyTorch
        from . import get_default_dtype

        return self if self.dtype == get_default_dtype() else self.to(get_default_dtype())
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
    """A float32 copy (rustdl has no 16-bit storage; warns once): a new tensor, as PyTorch's
    conversion to another dtype is, so writing to it leaves ``self`` alone."""
    _warn_half("Tensor.half")
    return _sixteen_bit_copy(self)


def _bfloat16(self, memory_format=None):
    """A float32 copy (rustdl has no 16-bit storage; warns once); see :func:`_half`."""
    _warn_half("Tensor.bfloat16")
    return _sixteen_bit_copy(self)


def _sixteen_bit_copy(t):
    """``t`` "converted" to a 16-bit float: float32, in memory of its own, with a history."""
    out = t.float()
    return out.clone() if out is t or (out.numel() and out.data_ptr() == t.data_ptr()) else out


Tensor.type = _type
Tensor.ndimension = _ndimension
Tensor.half = _half


def _array_wrap(self, array, context=None, return_scalar=False):  # noqa: ARG001
    """numpy's hook for a ufunc or function applied to a tensor: the result comes back as a
    tensor (bool as uint8), as PyTorch's ``np.exp(t)`` / ``np.clip(t, 0, 1)`` do."""
    array = _np.asarray(array)
    if array.dtype == _np.bool_:
        array = array.astype(_np.uint8)
    return _rd.from_numpy(_np.ascontiguousarray(array) if array.ndim else array.copy())


Tensor.__array_wrap__ = _array_wrap
Tensor.bfloat16 = _bfloat16


def set_default_dtype(d):
    """Makes ``d`` the default float dtype, as ``torch.set_default_dtype``: what creation
    functions make from Python floats without ``dtype=`` (``tensor``, ``zeros``, ``rand``,
    ``arange(0.5)``, layers' parameters, ...) and what integer tensors promote to. ``float64``
    and ``float32`` are supported; ``float16``/``bfloat16`` mean float32 here (rustdl stores no
    16-bit floats). Any other dtype raises ``TypeError``."""
    if not isinstance(d, _rd.dtype) or not d.is_floating_point:
        raise TypeError(
            f"set_default_dtype: only floating-point types are supported as the default type, got {d!r}"
        )
    _rd._set_default_float(d)


def get_default_dtype():
    """The default float dtype (float32 unless :func:`set_default_dtype` changed it)."""
    return _rd._default_float()


def set_default_device(device):
    """Makes ``device`` where creation functions called without ``device=`` put their tensors
    (``tensor``, ``zeros``, ``randn``, ``arange``, layers' parameters, ...), as
    ``torch.set_default_device``; ``None`` means the CPU again. ``with rustdl.device("gpu"):``
    does the same for a block. ``from_numpy`` and an explicit ``device=`` are not affected."""
    _rd._set_default_device(device)


def get_default_device():
    """The device creation functions use without ``device=`` (the CPU unless changed)."""
    return _rd._get_default_device()


_TENSOR_TYPES = {"FloatTensor": "float32", "DoubleTensor": "float64"}


def set_default_tensor_type(t):
    """``torch.FloatTensor`` or ``torch.DoubleTensor`` (or their names): the default float dtype
    becomes float32 or float64 (CPU; the ``torch.cuda.*`` names are accepted too)."""
    name = t if isinstance(t, str) else getattr(t, "_typename", getattr(t, "__name__", repr(t)))
    kind = name.rsplit(".", 1)[-1]
    if kind not in _TENSOR_TYPES:
        raise TypeError(
            f"set_default_tensor_type: expected a float tensor type (FloatTensor, DoubleTensor), got {t!r}"
        )
    set_default_dtype(getattr(_rd, _TENSOR_TYPES[kind]))


# ---- blas-like


def _check_tensor(op, **named):
    for k, v in named.items():
        if not isinstance(v, Tensor):
            raise TypeError(f"{op}: argument '{k}' must be a Tensor, got {type(v).__name__}")


def _scaled_sum(op, input, prod, beta, alpha):  # noqa: A002
    out = prod if alpha == 1 else prod * alpha
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: argument 'input' must be a Tensor, got {type(input).__name__}")
    if input.dtype != prod.dtype:  # refused even when beta=0 ignores input, as PyTorch
        raise _rd.DTypeError(
            f"{op}: input of dtype {input.dtype} (shape {tuple(input.shape)}) and the product of dtype "
            f"{prod.dtype} must have the same dtype"
        )
    if beta == 0:
        if input.requires_grad and _rd.is_grad_enabled() and input.is_floating_point():
            # input's values are ignored (NaN and inf too), but it gets a zero gradient, as PyTorch's
            return out + (input * 0.0).nan_to_num(0.0, 0.0, 0.0)
        return out
    return out + (input if beta == 1 else input * beta)


def _out(out, result):
    """``result``, or copied into ``out`` (PyTorch's ``out=``)."""
    if out is None:
        return result
    import rustdl

    return rustdl._into(out, result)


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):  # noqa: A002
    """``beta * input + alpha * (mat1 @ mat2)`` (input broadcast; with beta=0 it is ignored)."""
    _check_tensor("addmm", input=input, mat1=mat1, mat2=mat2)
    if mat1.dim() != 2 or mat2.dim() != 2:
        raise _rd.ArgumentError(
            f"addmm: expected 2-D matrices, got shapes {tuple(mat1.shape)} and {tuple(mat2.shape)}"
        )
    return _out(out, _scaled_sum("addmm", input, mat1.mm(mat2), beta, alpha))


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):  # noqa: A002
    """``beta * input + alpha * (mat @ vec)``."""
    _check_tensor("addmv", input=input, mat=mat, vec=vec)
    if mat.dim() != 2 or vec.dim() != 1:
        raise _rd.ArgumentError(
            f"addmv: expected a matrix and a vector, got shapes {tuple(mat.shape)} and {tuple(vec.shape)}"
        )
    return _out(out, _scaled_sum("addmv", input, mat.matmul(vec), beta, alpha))


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):  # noqa: A002
    """``beta * input + alpha * bmm(batch1, batch2)``."""
    _check_tensor("baddbmm", input=input, batch1=batch1, batch2=batch2)
    if batch1.dim() != 3 or batch2.dim() != 3:
        raise _rd.ArgumentError(
            f"baddbmm: expected 3-D batches, got shapes {tuple(batch1.shape)} and {tuple(batch2.shape)}"
        )
    return _out(out, _scaled_sum("baddbmm", input, batch1.bmm(batch2), beta, alpha))


def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):  # noqa: A002
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``."""
    _check_tensor("addbmm", input=input, batch1=batch1, batch2=batch2)
    if batch1.dim() != 3 or batch2.dim() != 3:
        raise _rd.ArgumentError(
            f"addbmm: expected 3-D batches, got shapes {tuple(batch1.shape)} and {tuple(batch2.shape)}"
        )
    return _out(out, _scaled_sum("addbmm", input, batch1.bmm(batch2).sum(0), beta, alpha))


def lerp(input, end, weight):  # noqa: A002
    """``input + weight * (end - input)`` (weight a tensor or a number)."""
    _check_tensor("lerp", input=input, end=end)
    if not input.is_floating_point() or not end.is_floating_point():
        raise _rd.DTypeError(
            f"lerp: expected floating input and end, got {input.dtype.name} and {end.dtype.name}"
        )
    _lerp_dtypes("lerp", input, end, weight)
    return _lerp_value(input, end, weight)


def _lerp_dtypes(op, input, end, weight):  # noqa: A002
    """PyTorch's lerp computes in ``input``'s dtype: ``end`` (and a weight tensor of one or more
    dims) must have it."""
    if end.dtype != input.dtype:
        raise _rd.DTypeError(
            f"{op}: expected dtype {input.dtype.name} for `end` but got dtype {end.dtype.name} "
            f"(shapes {tuple(input.shape)} and {tuple(end.shape)})"
        )
    if isinstance(weight, Tensor) and weight.dim() > 0 and weight.dtype != input.dtype:
        raise _rd.DTypeError(
            f"{op}: expected dtype {input.dtype.name} for `weight` but got dtype {weight.dtype.name} "
            f"(shapes {tuple(input.shape)} and {tuple(weight.shape)})"
        )


def _lerp_value(start, end, weight):
    """PyTorch's lerp: ``start + w (end - start)`` for ``|w| < 0.5``, else from the other end,
    ``end - (end - start)(1 - w)`` (so ``w = 1`` gives ``end`` exactly, whatever the magnitudes)."""
    d = end - start
    if isinstance(weight, Tensor):
        return _rd.where(weight.abs() < 0.5, start + weight * d, end - d * (1 - weight))
    w = builtins.float(weight)
    if builtins.abs(w) < 0.5:
        return start + w * d
    # 1 - w in the tensors' precision, as PyTorch's kernel forms it (float32 for float32)
    one_minus = 1.0 - w if start.dtype == float64 else builtins.float(_np.float32(1.0) - _np.float32(w))
    return end - d * one_minus


_native_lerp_ = Tensor.lerp_


def _same_dtype(op, self, other, what):
    """PyTorch's check of in-place ops that write ``other``'s values into ``self``: the dtypes
    must be the same (no silent rounding of a float source into an integer tensor)."""
    if isinstance(other, Tensor) and other.dtype != self.dtype:
        raise _rd.DTypeError(
            f"{op}: self ({self.dtype}) and {what} ({other.dtype}) must have the same dtype "
            f"(shapes {tuple(self.shape)} and {tuple(other.shape)})"
        )


def _floating_kernel(op, self):
    """An in-place op with only floating kernels, as PyTorch's: refused on integer/bool tensors."""
    if not (self.is_floating_point() or self.is_complex()):
        raise _rd.DTypeError(f"{op}: not implemented for {self.dtype} tensors (shape {tuple(self.shape)})")


def _lerp_(self, end, weight):
    """In-place lerp, evaluated as :func:`lerp` is."""
    _floating_kernel("lerp_", self)
    _same_dtype("lerp_", self, end, "end")
    _same_dtype("lerp_", self, weight, "weight")
    if not isinstance(end, Tensor) or not self.is_floating_point() or not end.is_floating_point():
        return _native_lerp_(self, end, weight)  # its own checks and messages
    out = _lerp_value(self, end, weight)
    if tuple(out.shape) != tuple(self.shape):
        return _native_lerp_(self, end, weight)  # the broadcast error of an in-place op
    return self.copy_(out)


Tensor.lerp_ = _lerp_


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (infinities equal when equal)."""
    if not isinstance(other, Tensor):
        other = _rd.tensor(other, dtype=input.dtype, device=input.device)
    if input.dtype != other.dtype:
        if input.is_floating_point() or other.is_floating_point():
            dt = float64 if float64 in (input.dtype, other.dtype) else float32
            input, other = input.to(dt), other.to(dt)
    if rtol < 0 or atol < 0:
        raise _rd.ArgumentError(f"isclose: rtol and atol must be non-negative, got rtol={rtol}, atol={atol}")
    same = input.eq(other)
    if not input.is_floating_point():
        if input.dtype == _bool:
            return same
        # float64 where it exists (the GPU has float32 only)
        wide = float64 if input.device.type == "cpu" else float32
        diff = (input - other).abs().to(wide)
        return same.logical_or(diff.le(atol + rtol * other.abs().to(wide)))
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
    # a dense copy for a view with gaps (.numpy() would share its memory with its strides, and
    # an expanded tensor would reach numpy as a view of its few elements)
    return t.detach().cpu().contiguous().numpy()


_NARROW_NP = {"uint8": "uint8", "int8": "int8", "int16": "int16", "int32": "int32"}


def _back(arr, like, dtype=None):
    """``arr`` (numpy) as a tensor on ``like``'s device. Integer results are int64 unless they
    kept ``like``'s narrow integer dtype (``unique`` of uint8 values stays uint8)."""
    if dtype is None and arr.dtype.kind in "iu":
        narrow = _NARROW_NP.get(str(arr.dtype))
        dtype = like.dtype if narrow is not None and str(like.dtype) == "rustdl." + narrow else int64
    # made on the CPU (not the default device, which may be a GPU without float64), then moved
    out = _rd.tensor(_np.array(arr, order="C"), dtype=dtype, device="cpu")
    return out if like.device.type == "cpu" else out.to(like.device)


def _no_derivative(name, input, out):
    """``out`` computed from ``input`` by an op with no derivative: when ``input`` requires grad
    it requires grad too, and a backward through it raises ``NotImplementedError``, as
    PyTorch's ``unique`` (rather than treating the op as a constant without a word)."""
    if not (input.requires_grad and _rd.is_grad_enabled() and out.is_floating_point()):
        return out
    from .autograd import Function

    class _Undifferentiable(Function):
        @staticmethod
        def forward(ctx, x):
            return out.clone()

        @staticmethod
        def backward(ctx, g):
            raise NotImplementedError(f"the derivative for '{name}' is not implemented.")

    return _Undifferentiable.apply(input)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct values (sorted) of the flattened ``input``, or distinct slices along ``dim``;
    optionally the inverse indices and the counts."""
    _check_tensor("unique", input=input)
    a = _np_of(input)
    if dim is None:
        # each NaN is its own value, as PyTorch (numpy merges them by default)
        vals, inv, cnt = _np.unique(a.reshape(-1), return_inverse=True, return_counts=True, equal_nan=False)
        inv = inv.reshape(a.shape)
    else:
        if not -a.ndim <= dim < a.ndim:
            raise _rd.ArgumentError(f"unique: dim {dim} out of range for a {a.ndim}-d tensor")
        vals, inv, cnt = _np.unique(a, return_inverse=True, return_counts=True, axis=dim, equal_nan=False)
        inv = inv.reshape(-1)
    out = _no_derivative("_unique2", input, _back(vals, input, input.dtype))
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
            raise _rd.ArgumentError(f"unique_consecutive: dim {dim} out of range for a {a.ndim}-d tensor")
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
    out = _no_derivative("unique_consecutive", input, _back(vals, input, input.dtype))
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


def _host_room(op: str, bins: int, copies: int) -> None:
    """Raises MemoryError unless ``copies`` host arrays of ``bins`` 8-byte counts fit in memory,
    as a tensor's allocation is checked (the counts are made by numpy, then copied to a tensor)."""
    try:
        _rd._reserve_host(copies * bins, op)
    except (MemoryError, ValueError, OverflowError) as e:
        raise _rd.OutOfMemoryError(f"{op}: {bins} values do not fit in memory ({e})") from None


def bincount(input, weights=None, minlength=0):  # noqa: A002
    """Counts of each value of a 1-D non-negative int tensor (weighted sums with ``weights``)."""
    _check_tensor("bincount", input=input)
    if input.dim() != 1 or input.is_floating_point() or input.dtype == _bool:
        raise _rd.ArgumentError(
            f"bincount: expected a 1-D integer tensor, got {input.dtype} of shape {tuple(input.shape)}"
        )
    a = _np_of(input)
    if a.size and a.min() < 0:
        raise _rd.ArgumentError("bincount: input must be non-negative")
    if minlength < 0:
        raise _rd.ArgumentError(f"bincount: minlength must be non-negative, got {minlength}")
    # the counts are made by numpy: their size is checked against memory as a tensor's would be
    # (twice: numpy's array and the tensor made from it)
    _host_room("bincount", builtins.max(int(minlength), int(a.max()) + 1 if a.size else 0), 2)
    if weights is None or a.size == 0:
        # an empty input counts in int64 even with weights, as PyTorch's
        return _back(_np.bincount(a, minlength=minlength).astype(_np.int64), input, int64)
    w = _np_of(weights) if isinstance(weights, Tensor) else _np.asarray(weights)
    if w.shape != a.shape:
        raise _rd.ArgumentError(f"bincount: weights shape {w.shape} must match input shape {a.shape}")
    dt = weights.dtype if isinstance(weights, Tensor) and weights.is_floating_point() else float64
    return _back(_np.bincount(a, weights=w, minlength=minlength), input, dt)


def histc(input, bins=100, min=0, max=0):  # noqa: A002
    """Histogram of ``bins`` equal-width bins over ``[min, max]`` (both 0: the data's range);
    values outside are ignored."""
    _check_tensor("histc", input=input)
    if not input.is_floating_point():
        raise TypeError(f"histc: expected a floating tensor, got {input.dtype}")
    if bins <= 0:
        raise _rd.ArgumentError(f"histc: bins must be positive, got {bins}")
    _host_room("histc", int(bins), 3)
    a = _np_of(input).reshape(-1).astype(_np.float64)
    lo, hi = builtins.float(min), builtins.float(max)
    if lo == hi and a.size:  # as PyTorch: equal bounds take the data's range
        lo, hi = builtins.float(a.min()), builtins.float(a.max())
    if not (_math.isfinite(lo) and _math.isfinite(hi)):
        raise RuntimeError(f"histc: range of [{lo}, {hi}] is not finite")
    if lo > hi:
        raise _rd.ArgumentError(f"histc: max must be larger than min, got min={min}, max={max}")
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    a = a[(a >= lo) & (a <= hi)]
    idx = _np.floor((a - lo) * bins / (hi - lo)).astype(_np.int64)
    idx = _np.clip(idx, 0, bins - 1)
    counts = _np.bincount(idx, minlength=bins).astype(_np.float64)
    return _back(counts, input, input.dtype)


def _hist_result_type(name, doc):
    """The ``(hist, bin_edges)`` tuple class ``name`` returns (fields also by name)."""

    def __new__(cls, hist, bin_edges):
        return tuple.__new__(cls, (hist, bin_edges))

    def __repr__(self):
        return f"{name}(hist={self[0]!r}, bin_edges={self[1]!r})"

    return type(
        f"{name}_return_types",
        (tuple,),
        {
            "__slots__": (),
            "__doc__": doc,
            "__module__": __name__,
            "__new__": __new__,
            "__repr__": __repr__,
            "hist": property(lambda self: self[0]),
            "bin_edges": property(lambda self: self[1]),
        },
    )


histogram_return_types = _hist_result_type("histogram", "``(hist, bin_edges)`` of :func:`histogram`.")


def histogram(input, bins=100, *, range=None, weight=None, density=False):  # noqa: A002
    """Histogram of ``input`` as ``(hist, bin_edges)``, as ``torch.histogram``: ``bins`` equal
    bins over ``range`` (default the data's min and max), or the monotonic edges of a 1-D
    ``bins`` tensor; each bin holds ``[left, right)`` and the last also its right edge.
    ``weight`` weighs each element; ``density`` scales to a probability density."""
    _check_tensor("histogram", input=input)
    if not input.is_floating_point():
        raise TypeError(f"histogram: expected a floating tensor, got {input.dtype}")
    a = _np_of(input).reshape(-1).astype(_np.float64)
    w = None
    if weight is not None:
        _check_tensor("histogram", weight=weight)
        if tuple(weight.shape) != tuple(input.shape):
            raise _rd.ArgumentError(
                f"histogram: weight shape {tuple(weight.shape)} must match input shape {tuple(input.shape)}"
            )
        w = _np_of(weight).reshape(-1).astype(_np.float64)
    if isinstance(bins, Tensor):
        if bins.dim() != 1 or bins.numel() < 1:
            raise _rd.ArgumentError(
                f"histogram: bins must be a 1-D tensor of edges, got shape {tuple(bins.shape)}"
            )
        edges = _np_of(bins).astype(_np.float64)
        if _np.any(_np.diff(edges) < 0):
            raise _rd.ArgumentError("histogram: bin edges must be increasing")
    else:
        if isinstance(bins, bool) or not isinstance(bins, (int, _np.integer)) or bins <= 0:
            raise _rd.ArgumentError(
                f"histogram: bins must be a positive int or a tensor of edges, got {bins!r}"
            )
        _host_room("histogram", int(bins), 3)
        if range is not None:
            lo, hi = (builtins.float(v) for v in range)
        elif a.size:
            lo, hi = builtins.float(a.min()), builtins.float(a.max())
        else:  # no data: [0, 1], as PyTorch
            lo, hi = 0.0, 1.0
        if not (_math.isfinite(lo) and _math.isfinite(hi)):
            raise _rd.ArgumentError(f"histogram: range of [{lo}, {hi}] is not finite")
        if lo > hi:
            raise _rd.ArgumentError(f"histogram: min should not exceed max, got {lo} and {hi}")
        if lo == hi:  # as PyTorch: an empty range widens to one unit around it
            lo, hi = lo - 0.5, hi + 0.5
        edges = _np.linspace(lo, hi, int(bins) + 1)
    if edges.size < 2:
        hist = _np.zeros(0)
    else:
        hist, _ = _np.histogram(a, bins=edges, weights=w)
        hist = hist.astype(_np.float64)
        if density:
            total = hist.sum()
            hist = hist / (total * _np.diff(edges)) if total > 0 else hist * _np.nan
    return histogram_return_types(_back(hist, input, input.dtype), _back(edges, input, input.dtype))


histogramdd_return_types = _hist_result_type(
    "histogramdd", "``(hist, bin_edges)`` of :func:`histogramdd` (``bin_edges`` a list, one per dimension)."
)


def histogramdd(input, bins=10, *, range=None, weight=None, density=False):  # noqa: A002
    """D-dimensional histogram of the points in the last dimension of ``input`` (shape
    ``(..., D)``), as ``torch.histogramdd``: ``bins`` an int (every dimension), a list of D ints,
    or a list of D 1-D tensors of edges; ``range`` a flat list ``[lo0, hi0, lo1, hi1, ...]``
    (default each dimension's min and max); each bin holds ``[left, right)`` and the last also
    its right edge. Returns ``(hist, bin_edges)``."""
    _check_tensor("histogramdd", input=input)
    if not input.is_floating_point():
        raise TypeError(f"histogramdd: expected a floating tensor, got {input.dtype}")
    if input.dim() < 1:
        raise _rd.ArgumentError("histogramdd: input should have at least 1 dimension (the point coordinates)")
    d = int(input.shape[-1])
    pts = _np_of(input).reshape(-1, d).astype(_np.float64)
    w = None
    if weight is not None:
        _check_tensor("histogramdd", weight=weight)
        if tuple(weight.shape) != tuple(input.shape[:-1]):
            raise _rd.ArgumentError(
                f"histogramdd: weight shape {tuple(weight.shape)} must be input's shape without its last "
                f"dimension, {tuple(input.shape[:-1])}"
            )
        w = _np_of(weight).reshape(-1).astype(_np.float64)
    if isinstance(bins, (int, _np.integer)) and not isinstance(bins, bool):
        bins = [int(bins)] * d
    bins = list(bins) if isinstance(bins, (list, tuple)) else bins
    if not isinstance(bins, list) or len(bins) != d:
        raise _rd.ArgumentError(
            f"histogramdd: bins must be an int or hold one entry per dimension ({d}), got {bins!r}"
        )
    if range is not None:
        range = [builtins.float(v) for v in range]
        if len(range) != 2 * d:
            raise _rd.ArgumentError(f"histogramdd: range must hold 2 * {d} values, got {len(range)}")
    edges = []
    for k, b in enumerate(bins):
        if isinstance(b, Tensor):
            if b.dim() != 1 or b.numel() < 1:
                raise _rd.ArgumentError(f"histogramdd: bins[{k}] must be a 1-D tensor of edges")
            e = _np_of(b).astype(_np.float64)
            if _np.any(_np.diff(e) < 0):
                raise _rd.ArgumentError(f"histogramdd: the edges of bins[{k}] must be increasing")
        else:
            if isinstance(b, bool) or not isinstance(b, (int, _np.integer)) or b <= 0:
                raise _rd.ArgumentError(f"histogramdd: bins[{k}] must be a positive int, got {b!r}")
            _host_room("histogramdd", int(b), 2)
            if range is not None:
                lo, hi = range[2 * k], range[2 * k + 1]
            elif pts.shape[0]:
                lo, hi = builtins.float(pts[:, k].min()), builtins.float(pts[:, k].max())
            else:
                lo, hi = 0.0, 1.0
            if not (_math.isfinite(lo) and _math.isfinite(hi)):
                raise _rd.ArgumentError(f"histogramdd: range of [{lo}, {hi}] in dimension {k} is not finite")
            if lo > hi:
                raise _rd.ArgumentError(
                    f"histogramdd: min should not exceed max in dimension {k}, got {lo} and {hi}"
                )
            if lo == hi:
                lo, hi = lo - 0.5, hi + 0.5
            e = _np.linspace(lo, hi, int(b) + 1)
        edges.append(e)
    total = 1
    for e in edges:
        total *= builtins.max(e.size - 1, 0)
    _host_room("histogramdd", total, 2)
    if builtins.any(e.size < 2 for e in edges):
        hist = _np.zeros([builtins.max(e.size - 1, 0) for e in edges])
    else:
        hist, _ = _np.histogramdd(pts, bins=edges, weights=w)
        if density:
            s = hist.sum()
            vol = _np.ones(())
            for e in edges:
                vol = _np.multiply.outer(vol, _np.diff(e))
            hist = hist / (s * vol) if s > 0 else hist * _np.nan
    return histogramdd_return_types(
        _back(hist.astype(_np.float64), input, input.dtype), [_back(e, input, input.dtype) for e in edges]
    )


# ---- shapes


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors (``indexing='ij'`` matrix, ``'xy'`` Cartesian; not
    given: 'ij', with PyTorch's warning that it will be required)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        import warnings

        warnings.warn(
            "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
            UserWarning,
            stacklevel=2,
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise _rd.ArgumentError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if not tensors:
        raise RuntimeError("meshgrid: expects a non-empty list of tensors")
    for t in tensors:
        _check_tensor("meshgrid", tensors=t)
        if t.dim() > 1:
            raise _rd.ArgumentError(f"meshgrid: expected 0-D or 1-D tensors, got shape {tuple(t.shape)}")
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


def diagonal(input, offset=0, dim1=0, dim2=1):  # noqa: A002
    """The diagonal of the ``(dim1, dim2)`` planes as the last dim (differentiable)."""
    _check_tensor("diagonal", input=input)
    n = input.dim()
    if n < 2:
        raise _rd.ArgumentError(f"diagonal: expected at least 2 dims, got shape {tuple(input.shape)}")
    d1, d2 = _norm_dim("diagonal", dim1, n), _norm_dim("diagonal", dim2, n)
    if d1 == d2:
        raise _rd.ArgumentError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2}")
    rest = [i for i in range(n) if i not in (d1, d2)]
    r, c = input.shape[d1], input.shape[d2]
    if offset >= 0:
        k = builtins.max(0, builtins.min(r, c - offset))
    else:
        k = builtins.max(0, builtins.min(r + offset, c))
    lead = tuple(input.shape[i] for i in rest)
    strides = input.stride()
    # a view sharing storage with ``input`` whatever its layout (writes to it reach ``input``,
    # as in PyTorch): the diagonal walks both dims at once
    s1, s2 = strides[d1], strides[d2]
    start = input.storage_offset() + (offset * s2 if offset >= 0 else -offset * s1)
    if k == 0:
        start = input.storage_offset()
    size, stride = [*lead, k], [strides[i] for i in rest] + [s1 + s2]
    if input.requires_grad and _may_overlap(input):
        # elements sharing memory (an expand) each take their own gradient, as PyTorch's
        pos = _np.diagonal(_np.arange(input.numel()).reshape(tuple(input.shape)), offset, d1, d2)
        return input._as_strided_view_indexed(size, stride, start, _index_of(pos, input))
    return input._as_strided_view(size, stride, start)


def _may_overlap(t):
    """Whether two elements of ``t`` may share memory (an expand, ``unfold`` windows)."""
    extent = 1
    for st, n in sorted((st, n) for n, st in zip(t.shape, t.stride()) if n > 1):
        if st < extent:
            return True
        extent += (n - 1) * st
    return False


def _index_of(pos, like):
    """Row-major positions (numpy) as a flat int64 tensor on ``like``'s device."""
    return _rd.from_numpy(_np.ascontiguousarray(pos, dtype=_np.int64).reshape(-1)).to(like.device)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):  # noqa: A002
    """Tensors whose ``(dim1, dim2)`` planes have the last dim of ``input`` on a diagonal."""
    _check_tensor("diag_embed", input=input)
    if input.dim() < 1:
        raise _rd.ArgumentError("diag_embed: expected at least 1 dim")
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
        raise _rd.ArgumentError(f"diag_embed: dim1 and dim2 must differ, got {dim1} and {dim2}")
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
            raise _rd.ArgumentError(f"{op}: no dimension of size 3 in shape {tuple(a.shape)}")
        dim = dims[0]
    d = _norm_dim(op, dim, n)
    if op == "cross" and input.dim() != other.dim():
        raise _rd.ArgumentError(
            f"{op}: inputs must have the same number of dims, got shapes {tuple(input.shape)} and {tuple(other.shape)}"
        )
    # both inputs hold 3-vectors along dim: a size-1 dim does not broadcast into one (PyTorch)
    for t in (input, other):
        k = d - (n - t.dim())
        if k < 0 or t.shape[k] != 3:
            raise _rd.ArgumentError(
                f"{op}: dimension {dim} must have size 3 in both inputs, got shapes "
                f"{tuple(input.shape)} and {tuple(other.shape)}"
            )
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
    if n == 0:
        raise IndexError("unflatten: a 0-d tensor has no dimension to unflatten")
    d = _norm_dim("unflatten", dim, n)
    sizes = tuple(sizes)
    if not sizes:
        raise _rd.ArgumentError("unflatten: sizes must be non-empty")
    known = 1
    for s in sizes:
        if s != -1:
            known *= s
    if sizes.count(-1) > 1:
        raise _rd.ArgumentError("unflatten: only one size may be -1")
    if (-1 not in sizes and known != input.shape[d]) or (
        -1 in sizes and (known == 0 or input.shape[d] % known)
    ):
        raise _rd.ArgumentError(
            f"unflatten: sizes {sizes} don't multiply to dim {dim} of size {input.shape[d]}"
        )
    # the -1 is resolved from this dim alone (a reshape would read it from the whole tensor,
    # ambiguous when another dim is 0)
    sizes = tuple(input.shape[d] // known if s == -1 else s for s in sizes)
    return input.reshape(*input.shape[:d], *sizes, *input.shape[d + 1 :])


_orig_squeeze = Tensor.squeeze


def _squeeze(self, *dims, dim=None):
    """Drops size-1 dims: all of them, one ``dim``, or several (a tuple, or ``squeeze(0, 1)``)."""
    if dims:
        if dim is not None:
            raise TypeError("squeeze() got multiple values for argument 'dim'")
        dim = dims if len(dims) > 1 else dims[0]
    if isinstance(dim, (tuple, list)):
        n = self.dim()
        normed = [_norm_dim("squeeze", d, n) for d in dim]
        ds = set(normed)
        if len(ds) != len(normed):
            dup = next(d for d in normed if normed.count(d) > 1)
            raise _rd.ArgumentError(f"squeeze: dim {dup} appears multiple times in the list of dims")
        keep = [s for i, s in enumerate(self.shape) if not (i in ds and s == 1)]
        return self.reshape(*keep) if len(keep) != n else self
    return _orig_squeeze(self) if dim is None else _orig_squeeze(self, dim)


Tensor.squeeze = _squeeze

_orig_norm = Tensor.norm


def _norm(self, p=None, dim=None, keepdim=False, dtype=None):
    """The ``p``-norm over ``dim`` (all elements when omitted); ``'fro'`` is the 2-norm and
    ``'nuc'`` the nuclear norm (the sum of the singular values) of a matrix, or over the two
    ``dim``, as ``torch.Tensor.norm``."""
    if isinstance(p, str) and p == "nuc":
        from .linalg import matrix_norm

        if dim is None:
            if self.dim() != 2:
                raise _rd.ArgumentError(
                    f"norm: the nuclear norm needs a matrix (or two dims), got shape {tuple(self.shape)}"
                )
            dim = (-2, -1)
        return matrix_norm(self, "nuc", dim, keepdim, dtype=dtype)
    if (
        isinstance(p, (builtins.int, builtins.float))
        and not isinstance(p, builtins.bool)
        and p not in (0, 1, 2, _math.inf, -_math.inf)
        and self.is_floating_point()
    ):
        # a general p: the vector norm, whose gradient is 0 at a zero vector (and at the zero
        # entries for p < 1), as PyTorch's (the power formula gave NaN there)
        from .linalg import vector_norm

        return vector_norm(self, p, dim, keepdim, dtype=dtype)
    out = _orig_norm(self, p, dim, keepdim, dtype)
    if p == 0 and not isinstance(p, builtins.bool) and self.requires_grad and _rd.is_grad_enabled():
        # the 0-"norm" counts nonzeros: it requires grad with an undefined gradient, as PyTorch's
        from .linalg import _UndefinedGrad

        return _UndefinedGrad.apply(self, out.detach())
    return out


Tensor.norm = _norm


def squeeze(input, dim=None):  # noqa: A002
    """Drops size-1 dims: all of them, one ``dim``, or a tuple of dims."""
    return _squeeze(input, dim)


def _safe_sqrt(sq):
    """sqrt whose gradient at 0 is 0 (as PyTorch's norms and cdist), not inf/nan; a NaN stays NaN."""
    nz = sq.ne(0)
    return _rd.where(nz, _rd.where(nz, sq, sq.new_ones(())).sqrt(), sq.new_zeros(()))


def cdist(x1, x2, p=2.0, compute_mode=None):
    """p-norm distances between the rows of ``x1`` (..., P, M) and ``x2`` (..., R, M)."""
    _check_tensor("cdist", x1=x1, x2=x2)
    if x1.dim() < 2 or x2.dim() < 2 or x1.shape[-1] != x2.shape[-1]:
        raise _rd.ShapeError(
            f"cdist: expected (..., P, M) and (..., R, M), got {tuple(x1.shape)} and {tuple(x2.shape)}"
        )
    if not x1.is_floating_point():
        raise TypeError(f"cdist: expected floating tensors, got {x1.dtype}")
    if p < 0:
        raise _rd.ArgumentError(f"cdist: p must be non-negative, got {p}")
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")
    if compute_mode is not None and compute_mode not in modes:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    P, R, M = x1.shape[-2], x2.shape[-2], x1.shape[-1]
    # PyTorch's rule: the Euclidean distance through one matrix product once either side has
    # more than 25 rows (or when asked); the direct differences otherwise (here also when those
    # would not fit comfortably: more than 2^24 of them)
    if_necessary = compute_mode in (None, modes[0])
    if p == 2 and (
        compute_mode == modes[1] or (if_necessary and (P > 25 or R > 25 or P * R * M > (1 << 24)))
    ):
        # as PyTorch computes it: [-2·x1, |x1|², 1] · [x2, 1, |x2|²]ᵀ, clamped at 0
        n1 = x1.pow(2).sum(-1, keepdim=True)
        n2 = x2.pow(2).sum(-1, keepdim=True)
        a = _rd.cat([x1.mul(-2), n1, _rd.ones_like(n1)], -1)
        b = _rd.cat([x2, _rd.ones_like(n2), n2], -1)
        return _safe_sqrt(a.matmul(b.transpose(-2, -1)).clamp_min(0))
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if p == 2:
        return _safe_sqrt((diff * diff).sum(-1))
    if M == 0:
        # no coordinates: every distance is 0 (the inf norm included, as PyTorch's cdist)
        return diff.sum(-1)
    if p == _math.inf:
        # PyTorch's gradient: the full incoming gradient to every coordinate at the maximum
        # (ties included), signed by the difference
        a = diff.abs()
        top = a.amax(-1, keepdim=True).detach()
        at_top = a.detach() == top
        return top.squeeze(-1) + (a - a.detach()).masked_fill(~at_top, 0.0).sum(-1)
    if p == 0:
        # a count: differentiable with a zero gradient, as PyTorch's (its result requires grad)
        count = _vector_norm_impl(diff, 0, -1, False)
        return _rd.where(_rd.ones_like(count, dtype=_rd.bool), count, diff.sum(-1))
    return _vector_norm_impl(diff, p, -1, False)


def _as_dims(dim):
    return (dim,) if isinstance(dim, int) else tuple(dim)


def _vector_norm_impl(x, ord, dim, keepdim):  # noqa: A002
    a = x.abs()
    if ord == _math.inf:
        if a.numel() == 0 and (dim is None or dim == () or any(a.shape[d] == 0 for d in _as_dims(dim))):
            # max has no identity: PyTorch refuses the inf norm over an empty dim
            raise RuntimeError(
                f"linalg.vector_norm: cannot compute the inf norm over an empty dim of a tensor of shape {tuple(a.shape)}"
            )
        return a.amax(dim, keepdim=keepdim)
    if ord == -_math.inf:
        if a.numel() == 0 and (dim is None or dim == () or any(a.shape[d] == 0 for d in _as_dims(dim))):
            raise RuntimeError(
                f"linalg.vector_norm: cannot compute the -inf norm over an empty dim of a tensor of shape {tuple(a.shape)}"
            )
        return a.amin(dim, keepdim=keepdim)
    if ord == 0:
        return a.ne(0).to(x.dtype).sum(dim, keepdim=keepdim)
    if ord == 1:
        return a.sum(dim, keepdim=keepdim)
    if ord == 2:
        return _safe_sqrt((x * x).sum(dim, keepdim=keepdim))
    if ord < 0:
        # a zero makes the sum inf and the norm 0, as in PyTorch; min has no identity, so an
        # empty reduction is refused as PyTorch refuses it
        if a.numel() == 0 and (dim is None or dim == () or any(a.shape[d] == 0 for d in _as_dims(dim))):
            raise RuntimeError(
                f"linalg.vector_norm: cannot compute the {ord} norm over an empty dim of a tensor of shape {tuple(a.shape)}"
            )
        # a slice holding a zero has norm 0 and, as PyTorch's, no gradient (not the NaN of
        # 0^ord): its zeros are read as ones and its norm replaced by 0
        has_zero = a.eq(0).to(a.dtype).sum(dim, keepdim=True).gt(0)
        safe = _rd.where(has_zero, a.new_ones(()), a)
        n = safe.pow(ord).sum(dim, keepdim=True).pow(1.0 / ord)
        n = _rd.where(has_zero, n.new_zeros(()), n)
        # (dropping the kept size-1 dims: a max over one element, with its gradient whole)
        return n if keepdim else n.amax(dim)
    # zeros contribute nothing (and no inf/nan gradient); a NaN propagates, as in PyTorch
    s = _rd.where(a.ne(0), a, a.new_ones(())).pow(ord)
    s = _rd.where(a.ne(0), s, a.new_zeros(())).sum(dim, keepdim=keepdim)
    if ord > 0:
        return _rd.where(s.ne(0), _rd.where(s.ne(0), s, s.new_ones(())).pow(1.0 / ord), s.new_zeros(()))
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

    def tile(self, *dims):
        """As ``rustdl.tile`` with this tensor first; the repeats given as a sequence or one by
        one (``x.tile(1, 2)``), as PyTorch's method takes them."""
        if len(dims) == 1:
            dims = dims[0]
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


# ---- breadth D: math, reductions, shape helpers, indexing (composed from existing ops)

_elem_fn_classes: dict = {}


def _lazy_function(key, forward, backward):
    """An autograd ``Function`` class made on first use and cached under ``key`` (modules that
    load before ``rustdl.autograd`` define their custom nodes through this)."""
    cls = _elem_fn_classes.get(key)
    if cls is None:
        from .autograd import Function

        cls = type(key, (Function,), {"forward": staticmethod(forward), "backward": staticmethod(backward)})
        _elem_fn_classes[key] = cls
    return cls


def _zero_grad_link(out, other):
    """``out`` unchanged, with ``other`` joined to its graph by a zero gradient: ``other.grad``
    becomes zeros, not None, as for PyTorch's ops whose derivative in that argument is 0
    (``copysign``'s sign source, ``nextafter``'s direction)."""
    if not (isinstance(other, Tensor) and other.requires_grad and _rd.is_grad_enabled()):
        return out

    def forward(ctx, value, source):
        ctx.source_shape = tuple(source.shape)
        return value.view_as(value)

    def backward(ctx, grad):
        return grad, grad.new_zeros(ctx.source_shape)

    return _lazy_function("_ZeroGradLink", forward, backward).apply(out, other)


def _elem_np(op, x, fwd, bwd):
    """Elementwise ``fwd`` (numpy) with gradient ``grad * bwd(x)`` (rustdl ops, so it nests)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: argument 'input' must be a Tensor, got {type(x).__name__}")
    cls = _elem_fn_classes.get(op)
    if cls is None:
        from .autograd import Function

        class _Elem(Function):
            @staticmethod
            def forward(ctx, inp):
                ctx.save_for_backward(inp)
                arr = _np.asarray(fwd(_np_of(inp).astype(_np.float64)))
                return _back(arr.astype(_np.float64), inp, inp.dtype)

            @staticmethod
            def backward(ctx, grad):
                (inp,) = ctx.saved_tensors
                return grad * bwd(inp)

        _elem_fn_classes[op] = cls = _Elem
    if not x.is_floating_point():
        x = x.to(get_default_dtype())
    return cls.apply(x)


def atan(input):  # noqa: A002
    """Elementwise arctangent."""
    return _elem_np("atan", input, _np.arctan, lambda x: (x * x + 1.0).reciprocal())


def asin(input):  # noqa: A002
    """Elementwise arcsine (NaN outside [-1, 1])."""
    return _elem_np("asin", input, _np.arcsin, lambda x: (1.0 - x * x).rsqrt())


def acos(input):  # noqa: A002
    """Elementwise arccosine (NaN outside [-1, 1])."""
    return _elem_np("acos", input, _np.arccos, lambda x: -((1.0 - x * x).rsqrt()))


def _float(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: argument 'input' must be a Tensor, got {type(x).__name__}")
    return x if x.is_floating_point() else x.to(get_default_dtype())


def _sinh_value(x):
    # from expm1 below |x| = 1 (exp(x) - exp(-x) cancels there: sinh(1e-8) is 1e-8), from
    # h = exp(|x| / 2) above as h/2·h - 1/(2h)/h (no overflow before the result overflows)
    small = (x.clamp(-1.0, 1.0).expm1() - (-x.clamp(-1.0, 1.0)).expm1()) * 0.5
    h = (x.abs() * 0.5).exp()
    big = (h * 0.5) * h - (0.5 / h) / h
    return _rd.where(x.abs() < 1.0, small, _rd.where(x < 0, -big, big))


def _cosh_value(x):
    # 1 + 2·sinh(x/2)²: exact near 0 and finite up to where cosh overflows
    s = _sinh_value(x * 0.5)
    return 1.0 + 2.0 * (s * s)


def _hyperbolic(name, value, derivative):
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return value(x)

    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * derivative(x)  # through the public function: differentiable again

    cls = _lazy_function(name, forward, backward)
    if not hasattr(cls, "jvp"):
        cls.jvp = staticmethod(lambda ctx, t: t * derivative(ctx.saved_tensors[0]))
    return cls


def sinh(input):  # noqa: A002
    """Elementwise hyperbolic sine, accurate near 0 (sinh(1e-8) is 1e-8) and finite up to where
    it overflows (sinh(88.8) is 1.8e38); its gradient is :func:`cosh`."""
    x = _float("sinh", input)
    return _hyperbolic("SinhBackward0", _sinh_value, cosh).apply(x)


def cosh(input):  # noqa: A002
    """Elementwise hyperbolic cosine, finite up to where it overflows; its gradient is
    :func:`sinh`."""
    x = _float("cosh", input)
    return _hyperbolic("CoshBackward0", _cosh_value, sinh).apply(x)


# beyond this |x|, asinh(x) and acosh(x) are log(2|x|) to the last bit (and x² would overflow)
_HYP_BIG = 2.0**28
_LN2 = 0.6931471805599453


def asinh(input):  # noqa: A002
    """Elementwise inverse hyperbolic sine: ``log1p(a + a²/(1 + √(1 + a²)))`` for ``a = |x|``
    (exact near 0), ``log(2a)`` for huge ``a``, odd-symmetric."""
    x = _float("asinh", input)
    neg = x.lt(0)
    a = _rd.where(neg, -x, x)
    big = a.gt(_HYP_BIG)
    small_a = _rd.where(big, 0.0, a)  # keeps the unused branch finite (and its gradient 0)
    near = (small_a + small_a * small_a / ((small_a * small_a + 1.0).sqrt() + 1.0)).log1p()
    far = _rd.where(big, a, 1.0).log() + _LN2
    f = _rd.where(big, far, near)
    return _rd.where(x.eq(0), x, _rd.where(neg, -f, f))  # asinh(-0.0) is -0.0


def acosh(input):  # noqa: A002
    """Elementwise inverse hyperbolic cosine: ``log1p(t + √(t (t + 2)))`` for ``t = x − 1``
    (exact near 1), ``log(2x)`` for huge ``x``, NaN below 1."""
    x = _float("acosh", input)
    big = x.gt(_HYP_BIG)
    t = _rd.where(big, 0.0, x - 1.0)
    near = (t + t.sqrt() * (t + 2.0).sqrt()).log1p()  # √t first: the gradient at x = 1 is inf, not NaN
    far = _rd.where(big, x, 1.0).log() + _LN2
    out = _rd.where(big, far, near)
    return _rd.where(x.lt(1.0), _math.nan, out)


def atanh(input):  # noqa: A002
    """Elementwise inverse hyperbolic tangent."""
    x = _float("atanh", input)
    return ((x).log1p() - (-x).log1p()) * 0.5


def _float_pair(op, input, other, integers=True):  # noqa: A002
    """``input`` and ``other`` (a tensor or number) in their promoted dtype under PyTorch's
    rules (a 0-d side widens only across categories), made floating. With ``integers=False``
    an integer or bool promoted dtype is a DTypeError, as PyTorch's kernels for these ops
    (hypot, logaddexp) exist only for floating types."""
    from ._breadth_g import result_type

    x = _float(op, input)
    dt = result_type(input, other)
    if not integers and not dt.is_floating_point:
        raise _rd.DTypeError(f"{op}: not implemented for {dt.name} inputs; convert them with .float() first")
    if not dt.is_floating_point:
        dt = x.dtype
    y = _as_t(op, other, x)
    return x.to(dt), y.to(dt)


def atan2(input, other):  # noqa: A002
    """Elementwise arctangent of ``input / other`` using both signs for the quadrant; the
    gradient is ``(x, -y) / (x² + y²)`` (0 at the origin, as PyTorch), also where ``x = 0``."""
    y, x = _float_pair("atan2", input, other)
    if not _rd.is_grad_enabled() or not (y.requires_grad or x.requires_grad):
        return _atan2_value(y, x)
    global _ATAN2_FN
    if _ATAN2_FN is None:
        _ATAN2_FN = _make_atan2_function()
    return _ATAN2_FN.apply(y, x)


_ATAN2_FN = None


def _make_atan2_function():
    from .autograd import Function

    class Atan2(Function):
        @staticmethod
        def forward(ctx, y, x):
            ctx.save_for_backward(y, x)
            return _atan2_value(y, x)

        @staticmethod
        def backward(ctx, g):
            y, x = ctx.saved_tensors
            r2 = x * x + y * y
            origin = r2.eq(0)
            # 1 / r2 with the origin's 0 picked before dividing (no inf·0 in a second backward)
            recip = _rd.where(origin, r2.new_zeros(()), 1.0 / _rd.where(origin, r2.new_ones(()), r2))
            gy = (g * x * recip).sum_to_size(y.shape) if ctx.needs_input_grad[0] else None
            gx = (g * -y * recip).sum_to_size(x.shape) if ctx.needs_input_grad[1] else None
            return gy, gx

    return Atan2


def _atan2_value(y, x):
    """atan2's value (both already floating, of one dtype)."""
    pi = _math.pi
    safe_x = _rd.where(x.eq(0), x.new_ones(()), x)
    base = atan(y / safe_x)
    ypos = signbit(y).logical_not()
    # constants shaped like y (not y * 0 + c, which is NaN where y is infinite)
    zero = _rd.zeros_like(y)

    def signed(c):
        return _rd.where(ypos, zero + c, zero - c)

    half = signed(pi / 2)
    neg = _rd.where(ypos, base + pi, base - pi)
    # at y == 0 the sign of a zero x picks the quadrant: atan2(±0, -0) = ±pi, atan2(±0, +0) = ±0
    at_zero = _rd.where(signbit(x), signed(pi), y)
    out = _rd.where(x.gt(0), base, _rd.where(x.lt(0), neg, _rd.where(y.eq(0), at_zero, half)))
    # both infinite (inf / inf is NaN above): the diagonal directions, as IEEE atan2
    both_inf = x.isinf().logical_and(y.isinf())
    if bool(both_inf.any()):
        out = _rd.where(both_inf, _rd.where(x.gt(0), signed(pi / 4), signed(3 * pi / 4)), out)
    # a NaN in either argument gives NaN (the comparisons above would pick a quadrant)
    return _rd.where(x.isnan().logical_or(y.isnan()), x + y, out)


def _digamma_np(x):
    x = _np.asarray(x, dtype=_np.float64)
    out = _np.zeros_like(x)
    refl = x < 0.5
    z = _np.where(refl, 1.0 - x, x)
    acc = _np.zeros_like(z)
    while True:
        small = z < 10.0
        if not small.any():
            break
        acc -= _np.where(small, 1.0 / z, 0.0)
        z = _np.where(small, z + 1.0, z)
    z2 = 1.0 / (z * z)
    series = (
        _np.log(z) - 0.5 / z - z2 * (1 / 12 - z2 * (1 / 120 - z2 * (1 / 252 - z2 * (1 / 240 - z2 / 132))))
    )
    out = acc + series
    with _np.errstate(divide="ignore", invalid="ignore"):
        out = _np.where(refl, out - _math.pi / _np.tan(_math.pi * x), out)
        out = _np.where((x <= 0) & (x == _np.floor(x)), _np.nan, out)
        # the pole at 0 itself has a sign, as PyTorch: -inf at +0, +inf at -0
        out = _np.where(x == 0, _np.where(_np.signbit(x), _np.inf, -_np.inf), out)
    return out


def _trigamma_np(x):
    x = _np.asarray(x, dtype=_np.float64)
    refl = x < 0.5
    z = _np.where(refl, 1.0 - x, x)
    acc = _np.zeros_like(z)
    while True:
        small = z < 10.0
        if not small.any():
            break
        acc += _np.where(small, 1.0 / (z * z), 0.0)
        z = _np.where(small, z + 1.0, z)
    iz = 1.0 / z
    z2 = iz * iz
    series = iz + 0.5 * z2 + iz * z2 * (1 / 6 - z2 * (1 / 30 - z2 * (1 / 42 - z2 / 30)))
    out = acc + series
    with _np.errstate(divide="ignore", invalid="ignore"):
        out = _np.where(refl, (_math.pi / _np.sin(_math.pi * x)) ** 2 - out, out)
    return out


def _trigamma_t(x):
    return _back(_trigamma_np(_np_of(x)), x, x.dtype)


def digamma(input):  # noqa: A002
    """Logarithmic derivative of the gamma function (asymptotic series + recurrence shift +
    reflection); differentiable once (its derivative is the trigamma function)."""
    return _elem_np("digamma", input, _digamma_np, lambda x: polygamma(1, x))


def lgamma(input):  # noqa: A002
    """log|Gamma(x)|; its gradient is ``digamma`` (itself differentiable)."""
    return _elem_np("lgamma", input, _np.vectorize(_lgamma_scalar, otypes=[_np.float64]), digamma)


def _lgamma_scalar(v):
    try:
        return _math.lgamma(v)
    except (ValueError, OverflowError):
        return _math.inf if not _math.isnan(v) else v


# B_2j / (2j)! for j = 1..12: the Euler-Maclaurin tail of the Hurwitz zeta function.
_ZETA_EM = [
    1 / 12,
    -1 / 720,
    1 / 30240,
    -1 / 1209600,
    1 / 47900160,
    -691 / 1307674368000,
    1 / 74724249600,
    -3617 / 10670622842880000,
    43867 / 5109094217170944000,
    -174611 / 802857662698291200000,
    77683 / 14101100039391805440000,
    -236364091 / 1693824136731743669452800000,
]


def _hurwitz_zeta_np(s, q):
    """Hurwitz zeta ``sum_k (q + k)^-s`` (float64, broadcast): direct terms until ``q + k >= 10``,
    then the Euler-Maclaurin tail. ``inf`` at s = 1 and at the poles q = 0, -1, ...; NaN for
    s < 1 and for q < 0 with a non-integer s (as PyTorch / Cephes)."""
    s, q = _np.broadcast_arrays(_np.asarray(s, dtype=_np.float64), _np.asarray(q, dtype=_np.float64))
    s, q = s.copy(), q.copy()
    # Cephes' order: s = 1 is a pole, s < 1 is outside the domain (before the poles of q),
    # q = 0, -1, ... are poles, and q < 0 needs an integer s
    bad = (s < 1) | _np.isnan(s) | _np.isnan(q) | ((q < 0) & (s != _np.floor(s)))
    pole = (s == 1) | ((s > 1) & (q <= 0) & (q == _np.floor(q)))
    # q below -1000 (integer s): by the reflection formula, from zeta(s, 1 - q), in constant
    # time (walking up to q >= 10 one term at a time, as Cephes, took |q| steps: minutes for
    # q = -1e7); nearer zero the walk is kept, being the more accurate for a large s
    reflect = ~bad & ~pole & (q < -1000.0) & _np.isfinite(q)
    # a large s: the terms more than 8 below zero are below 8^-s, nothing beside the term
    # nearest zero (at least 2^s), so the sum starts near -8 (the reflection's polynomial of
    # degree s would take O(s^2) time)
    far = reflect & (s > 160)
    if far.any():
        q = _np.where(far, q + _np.ceil(_np.where(far, -q, 0.0) - 8.0), q)
        reflect &= ~far
    if reflect.any():
        out = _np.empty_like(q)
        keep = ~reflect
        out[keep] = _hurwitz_zeta_np(s[keep], q[keep])
        out[reflect] = _zeta_reflected(s[reflect], q[reflect])
        return out
    a = _np.where(bad | pole, 10.0, q)
    ss = _np.where(bad | pole, 2.0, s)
    acc = _np.zeros_like(a)
    with _np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        while True:
            small = a < 10.0
            if not small.any():
                break
            acc += _np.where(small, _np.power(_np.where(small, a, 1.0), -ss), 0.0)
            a = _np.where(small, a + 1.0, a)
        tail = _np.power(a, 1.0 - ss) / (ss - 1.0) + 0.5 * _np.power(a, -ss)
        rising = ss.copy()  # s (s+1) ... (s+2j-2)
        term = _np.power(a, -ss - 1.0)
        for j, coef in enumerate(_ZETA_EM):
            # a huge s underflows the term to 0 while its factor overflows: no NaN from 0 · inf
            tail += _np.where(term == 0, 0.0, coef * rising * term)
            rising = rising * (ss + 2 * j + 1) * (ss + 2 * j + 2)
            term = term / (a * a)
        out = acc + tail
    out = _np.where(pole, _np.inf, out)
    return _np.where(bad & ~pole, _np.nan, out)


def _cot_derivative_poly(m):
    """Coefficients (lowest first) of P_m with d^m/dx^m cot(pi x) = pi^m P_m(cot(pi x)):
    P_0(c) = c, P_{k+1}(c) = -(1 + c^2) P_k'(c)."""
    poly = _np.array([0.0, 1.0])
    for _ in range(m):
        d = _np.polynomial.polynomial.polyder(poly)
        poly = -_np.polynomial.polynomial.polymul([1.0, 0.0, 1.0], d)
    return poly


def _zeta_reflected(s, q):
    """Hurwitz zeta at q < -1 (integer s >= 2) from the polygamma reflection formula:
    zeta(s, q) = (-1)^(s+1) [pi^s P_(s-1)(cot(pi q)) / (s-1)! + zeta(s, 1 - q)]; cot(pi q) is taken
    at q's distance to the nearest integer (exact), so a large |q| keeps full accuracy."""
    out = _np.empty_like(q)
    frac = q - _np.round(q)
    with _np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        cot = 1.0 / _np.tan(_np.pi * frac)
        for sv in _np.unique(s):
            sel = s == sv
            m = int(sv) - 1
            try:
                scale = _math.exp((m + 1) * _math.log(_math.pi) - _math.lgamma(m + 1.0))
            except OverflowError:
                scale = _math.inf
            poly = _cot_derivative_poly(m)
            term = scale * _np.polynomial.polynomial.polyval(cot[sel], poly)
            sign = 1.0 if (m + 2) % 2 == 0 else -1.0
            out[sel] = sign * (term + _hurwitz_zeta_np(_np.full(sel.sum(), sv), 1.0 - q[sel]))
    return out


def _scaled_zeta(factor, s, q):
    with _np.errstate(invalid="ignore", over="ignore"):
        return factor * _hurwitz_zeta_np(s, q)


def polygamma(n, input):  # noqa: A002
    """The ``n``-th derivative of digamma: ``(-1)^(n+1) n! zeta(n + 1, x)`` for ``n >= 1``
    (Hurwitz zeta); differentiable to any order (the gradient is ``polygamma(n + 1, x)``)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"polygamma: n must be an int, got {type(n).__name__}")
    if n < 0:
        raise _rd.ArgumentError(f"polygamma: n must be non-negative, got {n}")
    if n == 0:
        return digamma(input)
    if n == 1:
        return _elem_np("polygamma1", input, lambda a: _hurwitz_zeta_np(2, a), lambda x: polygamma(2, x))
    # n! in float64, as PyTorch (exp(lgamma(n + 1)); inf past n = 170, never a huge integer)
    try:
        fact = _math.exp(_math.lgamma(n + 1.0))
    except OverflowError:
        fact = _math.inf
    sign_fact = (1.0 if n % 2 else -1.0) * fact
    return _elem_np(
        f"polygamma{n}",
        input,
        lambda a: _scaled_zeta(sign_fact, n + 1, a),
        lambda x: polygamma(n + 1, x),
    )


def logit(input, eps=None):  # noqa: A002
    """log(p / (1 - p)); ``eps`` clamps p to [eps, 1 - eps] first."""
    x = _float("logit", input)
    if eps is not None:
        # PyTorch's order: below eps gives eps, else above 1 - eps gives 1 - eps (so an eps over
        # 0.5 maps everything below it to eps)
        lo, hi = x.new_full((), float(eps)), x.new_full((), 1.0 - float(eps))
        x = _rd.where(x < eps, lo, _rd.where(x > 1.0 - eps, hi, x))
    else:
        # outside [0, 1] PyTorch's gradient is NaN, as the value is (log(x) - log(1 - x) alone
        # would give the finite 1/x + 1/(1 - x) there): a NaN constant added there does it
        oob = x.detach().lt(0).logical_or(x.detach().gt(1))
        x = x + _rd.where(oob, x.new_full((), float("nan")), x.new_zeros(()))
    return x.log() - (1.0 - x).log()


def _wrapped(number, other):
    """A Python number given where a tensor goes, as the 0-d tensor PyTorch makes of it: of the
    dtype of ``number op other`` (a number beside a tensor does not widen it, so
    ``torch.mul(2, int32_tensor)`` is int32) and on ``other``'s device."""
    if isinstance(other, Tensor) and isinstance(number, (builtins.bool, builtins.int, builtins.float)):
        from ._breadth_g import result_type

        return _rd.tensor(number, dtype=result_type(number, other), device=other.device)
    return _rd.tensor(number)


def _as_t(op, v, like):
    if isinstance(v, Tensor):
        return v
    if isinstance(v, (int, float, bool, _np.integer, _np.floating, _np.bool_)):
        base = like if like.is_floating_point() else like.to(get_default_dtype())
        return base.new_full(tuple(base.shape), float(v))
    raise TypeError(f"{op}: expected a Tensor or a number, got {type(v).__name__}")


def xlogy(input, other):  # noqa: A002
    """``input * log(other)``, 0 where ``input`` is 0 (NaN ``other`` still gives NaN)."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("xlogy: one of 'input' or 'other' must be a Tensor")
    x = _as_t("xlogy", input, other) if not isinstance(input, Tensor) else input
    y = _as_t("xlogy", other, x)
    from ._breadth_g import result_type

    dt = result_type(input, other)  # PyTorch's promotion (a 0-d float64 beside float32 stays float32)
    if dt in (_bool, int64) or not _rd.zeros((), dtype=dt).is_floating_point():
        dt = get_default_dtype()
    x, y = _float("xlogy", x).to(dt), _float("xlogy", y).to(dt)
    if (x.requires_grad or y.requires_grad) and _rd.is_grad_enabled():
        return _lazy_function("XlogyBackward", _xlogy_forward, _xlogy_backward).apply(x, y)
    return _xlogy_value(x, y)


def _xlogy_value(x, y):
    # where x == 0 meets a y whose log is not finite, log y is replaced by 0
    bad = x.eq(0).logical_and(y.le(0).logical_or(y.isinf()))
    out = x * _rd.where(bad, y.new_ones(()), y).log()
    out = _rd.where(x.eq(0), out.new_zeros(()), out)  # +0, never -0 (0 · log 0.5)
    return _rd.where(y.isnan(), y, out)


def _xlogy_forward(ctx, x, y):
    ctx.save_for_backward(x, y)
    return _xlogy_value(x, y)


def _xlogy_backward(ctx, g):
    # PyTorch's gradients: log y for x (0 where x == 0 meets y <= 0), x / y for y (NaN at
    # x == y == 0); differentiable ops, so second derivatives follow
    x, y = ctx.saved_tensors
    gx = gy = None
    if ctx.needs_input_grad[0]:
        zero = x.eq(0).logical_and(y.le(0))
        gx = g * _rd.where(zero, y.new_zeros(()), _rd.where(zero, y.new_ones(()), y).log())
    if ctx.needs_input_grad[1]:
        gy = g * x / y
    return gx, gy


def true_divide(input, other):  # noqa: A002
    """Division that always gives a floating result (``/``: PyTorch's type promotion, so an
    integer tensor over a 0-d float64 tensor is float64)."""
    if isinstance(input, (builtins.bool, builtins.int, builtins.float)) and isinstance(other, Tensor):
        input = _wrapped(input, other)
    _float("true_divide", input)  # a non-tensor ``input`` is a TypeError naming the op
    return input / other


def hypot(input, other):  # noqa: A002
    """sqrt(input**2 + other**2), with a finite gradient where both are 0."""
    x, y = _float_pair("hypot", input, other, integers=False)
    ax, ay = x.abs(), y.abs()
    # the longer side times sqrt(1 + ratio²): no overflow where x² or y² would (1e30)
    m = ax.maximum(ay)
    pos = m.gt(0)
    safe = _rd.where(pos, m, m.new_ones(()))
    r = ax.minimum(ay) / safe
    out = _rd.where(pos, safe * (r * r + 1).sqrt(), m * 0)
    # an infinite side makes the length infinite even beside a NaN (IEEE hypot)
    inf = x.isinf().logical_or(y.isinf())
    return _rd.where(inf, m.new_full((), float("inf")), out)


def signbit(input):  # noqa: A002
    """True where the sign bit is set (including -0.0)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"signbit: argument 'input' must be a Tensor, got {type(input).__name__}")
    return _back(_np.signbit(_np_of(input)), input, _bool)


def copysign(input, other):  # noqa: A002
    """|input| with the sign of ``other`` (sign bit, so -0.0 counts as negative), in the
    promoted dtype of both (a floating one), as PyTorch."""
    from ._breadth_g import result_type

    x = _float("copysign", input)
    dtype = result_type(input, other)
    if dtype.is_floating_point and dtype != x.dtype:
        x = x.to(dtype)
    a = x.abs()
    if not isinstance(other, Tensor):
        return -a if _math.copysign(1.0, other) < 0 else a
    neg = signbit(other)
    return _zero_grad_link(_rd.where(neg, -a, a), other)


def heaviside(input, values):  # noqa: A002
    """0 where input < 0, ``values`` where input == 0, 1 where input > 0."""
    _check_tensor("heaviside", input=input, values=values)
    one = input.new_ones(())
    zero = input.new_zeros(())
    return _rd.where(input.eq(0), values.to(input.dtype) * one, _rd.where(input.gt(0), one, zero))


def float_power(input, exponent):  # noqa: A002
    """``input ** exponent`` computed in float64 (CPU only: rustdl's GPU has no float64)."""
    x = _as_t("float_power", input, exponent) if not isinstance(input, Tensor) else input
    if x.device.type != "cpu":
        raise TypeError("float_power: the float64 result is only available on the CPU; use pow on the GPU")
    e = exponent.to(float64) if isinstance(exponent, Tensor) else exponent
    return x.to(float64).pow(e)


def nansum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """Sum treating NaN as 0."""
    x = _float("nansum", input) if input.is_floating_point() else input
    if dtype is not None:
        x = x.to(dtype)
    if x.is_floating_point():
        x = _rd.where(x.isnan(), x.new_zeros(()), x)
    if dtype is not None:  # the sum keeps the asked dtype (int16 stays int16)
        return x.sum(dim, keepdim=keepdim, dtype=dtype)
    return x.sum(dim, keepdim=keepdim)  # keepdim without dim keeps every dim as 1, as PyTorch


def nanmean(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """Mean over the non-NaN values (NaN where all are NaN)."""
    x = _float("nanmean", input)
    if dtype is not None:
        x = x.to(dtype)
    keep = x.isnan().logical_not().to(x.dtype)
    total = nansum(x, dim, keepdim)
    count = keep.sum(dim, keepdim=keepdim)
    return total / count


def _norm_dim(op, dim, n):
    if not isinstance(dim, int):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    d = dim + n if dim < 0 else dim
    if not 0 <= d < max(n, 1):
        raise IndexError(f"{op}: dim {dim} out of range for a tensor with {n} dimensions")
    return d


def diff(input, n=1, dim=-1, prepend=None, append=None):  # noqa: A002
    """n-th forward difference along ``dim`` (``prepend``/``append`` joined first)."""
    _check_tensor("diff", input=input)
    if input.dim() == 0:
        raise _rd.ArgumentError("diff: expected at least a 1-dimensional tensor")
    if not isinstance(n, int) or n < 0:
        raise RuntimeError(f"diff: order n must be a non-negative int, got {n!r}")
    d = _norm_dim("diff", dim, input.dim())
    if n == 0:
        return input.clone()  # no difference taken: prepend/append are not joined, as PyTorch
    parts = [p for p in (prepend, input, append) if p is not None]
    x = (
        _rd.cat(
            [
                p
                if p.dim() == input.dim()
                else p.reshape(*[1 if i == d else s for i, s in enumerate(input.shape)]).expand(
                    *[p.numel() if i == d else s for i, s in enumerate(input.shape)]
                )
                for p in parts
            ],
            d,
        )
        if len(parts) > 1
        else input
    )
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        if x.dtype == _bool:
            x = x.narrow(d, 1, m - 1).ne(x.narrow(d, 0, m - 1))
        else:
            x = x.narrow(d, 1, m - 1) - x.narrow(d, 0, m - 1)
    return x


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """Trapezoidal rule along ``dim`` with sample points ``x`` or spacing ``dx`` (default 1)."""
    _check_tensor("trapezoid", y=y)
    d = _norm_dim("trapezoid", dim, y.dim())
    m = y.shape[d]
    if m == 0:
        return y.sum(d) * 0
    avg = (y.narrow(d, 1, m - 1) + y.narrow(d, 0, m - 1)) * 0.5
    if x is not None:
        dxs = diff(x, dim=-1 if x.dim() == 1 else dim)
        if x.dim() == 1:
            dxs = dxs.reshape(*[dxs.numel() if i == d else 1 for i in range(y.dim())])
        return (avg * dxs).sum(d)
    return avg.sum(d) * (1.0 if dx is None else dx)


def trapz(y, x=None, *, dx=None, dim=-1):
    """Alias of :func:`trapezoid`."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """Running trapezoidal integral along ``dim`` (one fewer element than ``y``)."""
    _check_tensor("cumulative_trapezoid", y=y)
    d = _norm_dim("cumulative_trapezoid", dim, y.dim())
    m = y.shape[d]
    if m == 0:
        return y
    avg = (y.narrow(d, 1, m - 1) + y.narrow(d, 0, m - 1)) * 0.5
    if x is not None:
        dxs = diff(x, dim=-1 if x.dim() == 1 else dim)
        if x.dim() == 1:
            dxs = dxs.reshape(*[dxs.numel() if i == d else 1 for i in range(y.dim())])
        avg = avg * dxs
    elif dx is not None:
        avg = avg * dx
    return avg.cumsum(d)


def dist(input, other, p=2):  # noqa: A002
    """p-norm of ``input - other`` (broadcast)."""
    _check_tensor("dist", input=input, other=other)
    from . import linalg as _la

    return _la.vector_norm(input - other, p)


def renorm(input, p, dim, maxnorm):  # noqa: A002
    """Each slice along ``dim`` with p-norm above ``maxnorm`` is rescaled to norm ``maxnorm``."""
    _check_tensor("renorm", input=input)
    if input.dim() < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got shape {tuple(input.shape)}")
    if not p > 0:
        raise RuntimeError(f"renorm: p must be positive (non-positive norms are not supported), got {p}")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: maxnorm must be >= 0, got {maxnorm}")
    d = _norm_dim("renorm", dim, input.dim())
    others = [i for i in range(input.dim()) if i != d]

    def norms_of(a):
        # the vector norm's own rules: inf is a max, and zeros give no NaN gradient for p < 1
        return _vector_norm_impl(a, float(p), tuple(others), True)

    from .autograd import no_grad

    with no_grad():
        big = norms_of(input.abs()).gt(maxnorm)
    # the norms that matter are taken from the slices that are rescaled only: a slice left as
    # it is (an all-zero one included) must not send the NaN of the norm's gradient at 0 back
    norms = norms_of(_rd.where(big, input, input.new_ones(())).abs())
    scale = _rd.where(big, maxnorm / (norms + 1e-7), norms.new_ones(()))
    return input * scale


def atleast_1d(*tensors):
    """Views with at least 1 dimension (one tensor in, one out; several in, a tuple out)."""
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = tuple(t.reshape(1) if t.dim() == 0 else t for t in ts)
    return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else out


def atleast_2d(*tensors):
    """Views with at least 2 dimensions (a 1-d tensor becomes a row)."""
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = tuple(t.reshape(1, 1) if t.dim() == 0 else t.unsqueeze(0) if t.dim() == 1 else t for t in ts)
    return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else out


def atleast_3d(*tensors):
    """Views with at least 3 dimensions (1-d ``(n,)`` → ``(1, n, 1)``, 2-d → ``(m, n, 1)``)."""
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors

    def one(t):
        if t.dim() == 0:
            return t.reshape(1, 1, 1)
        if t.dim() == 1:
            return t.reshape(1, t.shape[0], 1)
        if t.dim() == 2:
            return t.unsqueeze(-1)
        return t

    out = tuple(one(t) for t in ts)
    return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else out


def _seq(op, tensors):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a sequence of Tensors, got {type(tensors).__name__}")
    if len(tensors) == 0:
        raise _rd.ArgumentError(f"{op}: expected a non-empty sequence of tensors")
    return list(tensors)


def hstack(tensors):
    """Concatenate column-wise (along dim 0 for 1-d inputs, else dim 1)."""
    ts = list(atleast_1d(_seq("hstack", tensors)))
    return _rd.cat(ts, 0 if ts[0].dim() == 1 else 1)


def vstack(tensors):
    """Concatenate row-wise after making each input at least 2-d."""
    return _rd.cat(list(atleast_2d(_seq("vstack", tensors))), 0)


def row_stack(tensors):
    """Alias of :func:`vstack`."""
    return vstack(tensors)


def dstack(tensors):
    """Concatenate depth-wise (dim 2) after making each input at least 3-d."""
    return _rd.cat(list(atleast_3d(_seq("dstack", tensors))), 2)


def column_stack(tensors):
    """Stack 0-d/1-d inputs as columns and concatenate the rest along dim 1."""
    ts = _seq("column_stack", tensors)
    cols = [t.reshape(t.numel(), 1) if t.dim() <= 1 else t for t in ts]
    return _rd.cat(cols, 1)


def count_nonzero(input, dim=None):  # noqa: A002
    """Number of non-zero elements (over ``dim``, an int or tuple), as int64."""
    _check_tensor("count_nonzero", input=input)
    nz = input.ne(0).to(int64)
    if dim is None:
        return nz.sum()
    return nz.sum(dim)


def kron(input, other):  # noqa: A002
    """Kronecker product (differentiable)."""
    _check_tensor("kron", input=input, other=other)
    n = max(input.dim(), other.dim())
    a = input.reshape(*([1] * (n - input.dim()) + list(input.shape)))
    b = other.reshape(*([1] * (n - other.dim()) + list(other.shape)))
    a_sh = []
    b_sh = []
    out = []
    for sa, sb in zip(a.shape, b.shape):
        a_sh += [sa, 1]
        b_sh += [1, sb]
        out.append(sa * sb)
    return (a.reshape(*a_sh) * b.reshape(*b_sh)).reshape(*out)


def rot90(input, k=1, dims=(0, 1)):  # noqa: A002
    """Rotate by 90° ``k`` times in the plane ``dims`` (from the first toward the second axis)."""
    _check_tensor("rot90", input=input)
    if len(dims) != 2:
        raise _rd.ArgumentError(f"rot90: expected 2 dims, got {len(dims)}")
    n = input.dim()
    if n < 2:
        raise _rd.ArgumentError(f"rot90: expected at least a 2-dimensional tensor, got {n}")
    d0, d1 = _norm_dim("rot90", dims[0], n), _norm_dim("rot90", dims[1], n)
    if d0 == d1:
        raise _rd.ArgumentError(f"rot90: dims must differ, got {tuple(dims)}")
    k = k % 4
    if k == 0:
        return input.clone()
    if k == 1:
        return input.flip([d1]).transpose(d0, d1)
    if k == 2:
        return input.flip([d0, d1])
    return input.transpose(d0, d1).flip([d1])


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """``steps`` values ``base ** linspace(start, end)``."""
    # float64 intermediates on the CPU (the GPU has no float64); the result then goes to
    # ``device`` or the default device
    # (pow, not exp(e * log(base)): integer exponents give exact powers, a negative base works)
    if _integral_dtype(dtype):  # PyTorch truncates the exponents' ends for an integer dtype
        start, end = builtins.int(start), builtins.int(end)
    e = _rd.linspace(float(start), float(end), steps, dtype=float64, device="cpu")
    with _np.errstate(invalid="ignore"):
        vals = _np.power(builtins.float(base), e.numpy())
    out = _rd.tensor(vals, dtype=float64, device="cpu").to(dtype or get_default_dtype())
    out = out.to(device if device is not None else get_default_device())
    if requires_grad:
        out.requires_grad_(True)
    return out


def _tri_indices(op, row, col, offset, upper, dtype, device):
    for nm, v in (("row", row), ("col", col)):
        if not isinstance(v, int) or v < 0:
            raise _rd.ArgumentError(f"{op}: {nm} must be a non-negative int, got {v!r}")
    if not isinstance(offset, int):
        raise _rd.ArgumentError(f"{op}: offset must be an int, got {offset!r}")
    # rows [r0, r1) hold count(r) > 0 entries each; only they are ever materialised (no dense
    # row × col mask), and the total is known before anything is allocated
    if upper:  # columns max(0, r + offset) .. col - 1
        r0, r1 = 0, max(0, min(row, col - offset))

        def first(r):
            return _np.maximum(r + offset, 0)

        def count(r):
            return col - first(r)
    else:  # columns 0 .. min(col, r + offset + 1) - 1
        r0, r1 = min(row, max(0, -offset)), row if col else 0

        def first(r):
            return _np.zeros_like(r)

        def count(r):
            return _np.minimum(r + offset + 1, col)

    def total(a, b):  # sum of count(r) over r in [a, b), in exact Python ints
        if b <= a:
            return 0
        if upper:  # col - max(r + offset, 0): the part below r = -offset counts col
            mid = min(max(a, -offset), b)
            return (mid - a) * col + sum_range(b - a - (mid - a), col - (mid + offset))
        mid = min(max(a, col - offset - 1), b)  # r + offset + 1 >= col from here on
        return sum_range(mid - a, a + offset + 1) + (b - mid) * col

    def sum_range(n, start):  # start + (start ∓ 1) + ... over n terms (rising for tril)
        step = -1 if upper else 1
        return n * start + step * n * (n - 1) // 2

    n = total(r0, r1)
    if 16 * n > 1 << 40:
        raise _rd.OutOfMemoryError(
            f"{op}: {n} indices of a {row} x {col} matrix (offset {offset}) need {16 * n} bytes"
        )
    rows = _np.arange(r0, r1, dtype=_np.int64)
    counts = count(rows)
    starts = _np.cumsum(counts) - counts
    r = _np.repeat(rows, counts)
    c = _np.arange(n, dtype=_np.int64) - _np.repeat(starts, counts) + _np.repeat(first(rows), counts)
    out = _rd.tensor(_np.stack([r, c]).reshape(2, -1), dtype=dtype or int64)
    return out if device is None else out.to(device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """Coordinates (2 × N) of the upper triangle of a ``row × col`` matrix."""
    return _tri_indices("triu_indices", row, col, offset, True, dtype, device)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """Coordinates (2 × N) of the lower triangle of a ``row × col`` matrix."""
    return _tri_indices("tril_indices", row, col, offset, False, dtype, device)


def vander(x, N=None, increasing=False):  # noqa: N803
    """Vandermonde matrix: columns ``x ** (N-1) … x ** 0`` (or increasing)."""
    _check_tensor("vander", x=x)
    if x.dim() != 1:
        raise _rd.ArgumentError(f"vander: x must be 1-dimensional, got {x.dim()} dimensions")
    if not x.is_floating_point():
        x = x.to(int64)  # integer and bool inputs are widened first, as PyTorch (20**2 in uint8)
    n = x.shape[0] if N is None else N
    if n < 0:
        raise _rd.ArgumentError(f"vander: N must be non-negative, got {n}")
    if n == 0:
        return _rd.zeros(x.shape[0], 0, dtype=x.dtype, device=x.device)
    # one broadcast power (its size checked by the core) rather than a Python loop over columns
    e = _rd.arange(n, dtype=x.dtype if x.dtype != _bool else int64, device=x.device)
    if not increasing:
        e = e.flip(0)
    return x.unsqueeze(1).pow(e.unsqueeze(0))


def block_diag(*tensors):
    """Block-diagonal matrix of the given 0-, 1- or 2-d tensors."""
    mats = []
    for t in tensors:
        _check_tensor("block_diag", tensor=t)
        if t.dim() > 2:
            raise _rd.ArgumentError(f"block_diag: inputs must have at most 2 dimensions, got {t.dim()}")
        mats.append(t.reshape(1, 1) if t.dim() == 0 else t.reshape(1, -1) if t.dim() == 1 else t)
    if not mats:
        return _rd.zeros(1, 0)
    floats = [m.dtype for m in mats if m.is_floating_point()]
    if floats:
        dt = float64 if float64 in floats else floats[0]
        mats = [m.to(dt) for m in mats]
    total_c = sum(m.shape[1] for m in mats)
    rows = []
    c0 = 0
    for m in mats:
        r, c = m.shape
        left = m.new_zeros((r, c0))
        right = m.new_zeros((r, total_c - c0 - c))
        rows.append(_rd.cat([left, m, right], 1))
        c0 += c
    return _rd.cat(rows, 0)


def cartesian_prod(*tensors):
    """Cartesian product of 1-d tensors as rows (a 1-d input is returned as is)."""
    for t in tensors:
        _check_tensor("cartesian_prod", tensor=t)
        if t.dim() != 1:
            raise _rd.ArgumentError(f"cartesian_prod: inputs must be 1-dimensional, got {t.dim()}")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return _rd.stack([g.reshape(-1) for g in grids], 1)


def combinations(input, r=2, with_replacement=False):  # noqa: A002
    """Length-``r`` combinations of a 1-d tensor's elements as rows (differentiable gather)."""
    import itertools

    _check_tensor("combinations", input=input)
    if input.dim() != 1:
        raise _rd.ArgumentError(f"combinations: expected a 1-dimensional tensor, got {input.dim()}")
    if r < 0:
        raise _rd.ArgumentError(f"combinations: r must be non-negative, got {r}")
    gen = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    n = input.shape[0]
    if r == 0:
        return input.new_zeros((0,))
    count = _math.comb(n + r - 1, r) if with_replacement else _math.comb(n, r)
    if count == 0:
        return input.new_zeros((0, r))
    # the index table is allocated (or refused with a MemoryError) before it is filled, in C
    try:
        flat = _np.empty(count * r, dtype=_np.int64)
    except MemoryError:
        raise _rd.OutOfMemoryError(
            f"combinations: {count} combinations of {r} of {n} elements do not fit in memory"
        ) from None
    flat[:] = _np.fromiter(itertools.chain.from_iterable(gen(range(n), r)), dtype=_np.int64, count=count * r)
    it = _rd.tensor(flat).to(input.device)
    return input.index_select(0, it).reshape(count, r)


ValuesIndicesResult = _rd.ValuesIndices  # the base of the (values, indices) named tuples


def _result(op, values, indices):
    """``rustdl.return_types.<op>(values, indices)``."""
    from . import return_types

    return getattr(return_types, op)(values, indices)


def _sorted_along(op, input, dim):  # noqa: A002
    _check_tensor(op, input=input)
    if input.dim() == 0:
        _norm_dim(op, dim, 1)  # a scalar takes dim 0 or -1 only
        return input.reshape(1), 0
    return input, _norm_dim(op, dim, input.dim())


def _pick(op, x, d, pos, keepdim):
    """Sorted values and original indices at per-slice position ``pos`` (keepdim-shaped int64)."""
    s = x.sort(d)
    v = s.values.gather(d, pos)
    i = s.indices.gather(d, pos)
    if not keepdim:
        v, i = v.squeeze(d), i.squeeze(d)
    return _result(op, v, i)


def _index_int(k):
    """A one-element integer tensor or numpy integer as a Python int (anything else unchanged)."""
    if isinstance(k, Tensor) and k.numel() == 1 and not k.is_floating_point() and k.dtype != _rd.bool:
        return builtins.int(k.item())
    if isinstance(k, _np.integer):
        return builtins.int(k)
    return k


def kthvalue(input, k, dim=-1, keepdim=False):  # noqa: A002
    """The ``k``-th smallest element (1-based) along ``dim`` and its index (among ties, the one
    PyTorch's selection picks)."""
    return _kthvalue(input, k, dim, keepdim, True)


def _kthvalue(input, k, dim, keepdim, select):  # noqa: A002
    scalar = isinstance(input, Tensor) and input.dim() == 0
    x, d = _sorted_along("kthvalue", input, dim)
    n = x.shape[d]
    k = _index_int(k)
    if not isinstance(k, int) or not 1 <= k <= n:
        raise IndexError(f"kthvalue: k ({k}) out of range for dimension of size {n}")
    shape = list(x.shape)
    shape[d] = 1
    pos = _rd.full(shape, k - 1, dtype=int64).to(x.device)
    r = _pick("kthvalue", x, d, pos, True)
    if select:
        picked = _kth_tie_indices(x, d, k, r.indices)
        if picked is not r.indices:  # the value (and its gradient) from the element picked
            r = _result("kthvalue", x.gather(d, picked), picked)
    if not (keepdim or scalar):
        r = _result("kthvalue", r.values.squeeze(d), r.indices.squeeze(d))
    return _result("kthvalue", r.values.reshape(()), r.indices.reshape(())) if scalar else r


# rows longer than this keep the sort's index among ties (the selection below runs in Python)
_KTH_SELECT_LIMIT = 1 << 16


def _kth_tie_indices(x, d, k, indices):
    """The index PyTorch's kthvalue gives where the k-th value is tied (or NaN) in its slice:
    the one its quickselect (median-of-three pivots, NaN greatest) leaves at position k - 1,
    not the sort's. ``indices``: the sort's, keepdim-shaped; returned with the tied slices'
    entries replaced."""
    n = x.shape[d]
    if n < 2 or n > _KTH_SELECT_LIMIT or x.dtype == _bool:
        return indices
    a = _np.moveaxis(_np_of(x), d, -1).reshape(-1, n)
    picked = _np.moveaxis(_np_of(indices), d, -1).reshape(-1)
    kth = a[_np.arange(a.shape[0]), picked]
    floating = a.dtype.kind == "f"
    with _np.errstate(invalid="ignore"):
        ties = (a == kth[:, None]).sum(1) > 1
        if floating:
            ties |= _np.isnan(kth)
    rows = _np.flatnonzero(ties)
    if rows.size == 0:
        return indices
    out = picked.copy()
    for r in rows:
        out[r] = _quickselect_index(a[r].tolist(), k - 1)
    shape = list(_np.moveaxis(_np_of(indices), d, -1).shape)
    fixed = _np.moveaxis(out.reshape(shape), -1, d)
    return _back(_np.ascontiguousarray(fixed), indices)


def _quickselect_index(values, k):
    """The original position of the element that PyTorch's CPU selection (a Numerical-Recipes
    quickselect with a median-of-three pivot; NaN above every number) leaves at position ``k``."""
    arr = values
    idx = list(range(len(arr)))

    def gt(a, b):
        return (a != a and b == b) or a > b  # NaN is greater than any number

    def swap(i, j):
        arr[i], arr[j] = arr[j], arr[i]
        idx[i], idx[j] = idx[j], idx[i]

    lo, hi = 0, len(arr) - 1
    while hi > lo:
        if hi == lo + 1:
            if gt(arr[lo], arr[hi]):
                swap(lo, hi)
            break
        swap(lo + (hi - lo) // 2, lo + 1)
        if gt(arr[lo + 1], arr[hi]):
            swap(lo + 1, hi)
        if gt(arr[lo], arr[hi]):
            swap(lo, hi)
        if gt(arr[lo + 1], arr[lo]):
            swap(lo + 1, lo)
        i, j, pivot = lo + 1, hi, arr[lo]
        while True:
            i += 1
            while gt(pivot, arr[i]):
                i += 1
            j -= 1
            while gt(arr[j], pivot):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(lo, j)
        if j <= k:
            lo = i
        if j >= k:
            hi = j - 1
    return idx[k]


def _spread_to_ties(flat, value):
    """``value`` (a 0-d pick from the 1-D ``flat``) whose gradient is shared evenly by every
    element of ``flat`` equal to it (NaN counting as equal to a NaN value), as PyTorch's
    full-reduction median; the forward value is ``value`` itself, bit for bit."""
    if not (flat.is_floating_point() and flat.requires_grad and _rd.is_grad_enabled()):
        return value
    v = value.detach()
    tie = (flat == v).logical_or(flat.isnan().logical_and(v.isnan()))
    ties = flat[tie]
    if bool(v.isnan()):
        return ties.mean()  # NaN, its gradient shared by the NaN elements
    # the ties are all equal to ``value``, and a max over equal values shares its gradient evenly
    return ties.amax()


def median(input, dim=None, keepdim=False):  # noqa: A002
    """Median (the lower of the two middle values); with ``dim``, values and indices."""
    _check_tensor("median", input=input)
    if dim is None:
        flat = input.reshape(-1)
        if flat.numel() == 0:
            # NaN, still attached to the input's graph (its gradient: an empty tensor)
            return flat.sum() + float("nan") if flat.is_floating_point() else flat.new_zeros(())
        mid = flat.sort(0).values[(flat.numel() - 1) // 2]
        if flat.is_floating_point():
            # a NaN anywhere makes the median NaN, as PyTorch
            mid = _rd.where(flat.isnan().any(), flat.new_full((), float("nan")), mid)
        return _spread_to_ties(flat, mid)
    x, d = _sorted_along("median", input, dim)
    n = x.shape[d]
    if n == 0:
        raise IndexError(f"median: cannot compute the median of an empty dimension {dim}")
    # (the sort's index among ties: PyTorch's median picks as a stable sort does)
    r = _kthvalue(input, (n - 1) // 2 + 1, dim, keepdim, False)
    if not x.is_floating_point():
        return _result("median", r.values, r.indices)
    nan = x.isnan()
    has = nan.any(d)
    first = nan.to(int64).argmax(d)
    # a slice holding NaN has NaN for its median, taken from its first NaN element so that the
    # gradient reaches that element (as PyTorch's index-based backward does)
    nan_val = x.gather(d, first.unsqueeze(d)).squeeze(d)
    if keepdim and input.dim() > 0:
        has, first, nan_val = has.unsqueeze(d), first.unsqueeze(d), nan_val.unsqueeze(d)
    elif input.dim() == 0:
        has, first, nan_val = has.reshape(()), first.reshape(()), nan_val.reshape(())
    return _result(
        "median",
        _rd.where(has, nan_val, r.values),
        _rd.where(has, first, r.indices),
    )


def nanmedian(input, dim=None, keepdim=False):  # noqa: A002
    """Median ignoring NaN (NaN where a slice is all NaN)."""
    _check_tensor("nanmedian", input=input)
    if not input.is_floating_point():
        return median(input, dim, keepdim)
    if dim is None:
        flat = input.reshape(-1)
        cnt = int(flat.isnan().logical_not().sum().item())
        if cnt == 0:
            return _spread_to_ties(flat, flat.new_full((), float("nan")))
        return _spread_to_ties(flat, flat.sort(0).values[(cnt - 1) // 2])
    x, d = _sorted_along("nanmedian", input, dim)
    if x.shape[d] == 0:
        raise IndexError(f"nanmedian: cannot compute the median of an empty dimension {dim}")
    cnt = x.isnan().logical_not().to(int64).sum(d, keepdim=True)
    pos = ((cnt - 1) // 2).clamp(0, None) if hasattr(cnt, "clamp") else cnt
    r = _pick("nanmedian", x, d, pos, keepdim or input.dim() == 0)
    if input.dim() == 0:  # a 0-d input gives 0-d results, as kthvalue and median
        return _result("nanmedian", r.values.reshape(()), r.indices.reshape(()))
    return r


def mode(input, dim=-1, keepdim=False):  # noqa: A002
    """Most frequent value along ``dim`` (smallest on ties) and the index of its last occurrence."""
    x, d = _sorted_along("mode", input, dim)
    if x.shape[d] == 0:
        raise IndexError(f"mode: cannot compute the mode of an empty dimension {dim}")
    a = _np.moveaxis(_np_of(x), d, -1)
    flat = a.reshape(-1, a.shape[-1])
    idx = _np.empty(flat.shape[0], dtype=_np.int64)
    for r, row in enumerate(flat):
        # a NaN equals nothing, so each one is a value seen once (as PyTorch counts them); a row
        # of NaN only has NaN for its mode, at its first position
        nan = _np.isnan(row) if row.dtype.kind == "f" else _np.zeros(row.shape, dtype=bool)
        vals, counts = _np.unique(row[~nan], return_counts=True)
        if not vals.size:
            idx[r] = 0
            continue
        best = vals[_np.argmax(counts)]
        idx[r] = _np.nonzero(row == best)[0][-1]
    pos = _back(_np.moveaxis(idx.reshape(a.shape[:-1] + (1,)), -1, d), x)
    v = x.gather(d, pos)
    if input.dim() == 0:
        v, pos = v.reshape(()), pos.reshape(())
    elif not keepdim:
        v, pos = v.squeeze(d), pos.squeeze(d)
    return _result("mode", v, pos)


_QUANTILE_MODES = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(op, input, q, dim, keepdim, interpolation, ignore_nan):  # noqa: A002
    _check_tensor(op, input=input)
    if not input.is_floating_point():
        raise _rd.DTypeError(f"{op}: input must be a floating tensor (float or double), got {input.dtype}")
    if isinstance(q, Tensor) and q.dtype != input.dtype:
        raise _rd.DTypeError(
            f"{op}: q tensor must be same dtype as the input tensor, got {q.dtype} and {input.dtype}"
        )
    if interpolation not in _QUANTILE_MODES:
        raise _rd.ArgumentError(
            f"{op}: interpolation must be one of {_QUANTILE_MODES}, got {interpolation!r}"
        )
    qs = _np.atleast_1d(_np_of(q) if isinstance(q, Tensor) else _np.asarray(q, dtype=_np.float64))
    if qs.ndim > 1:
        raise _rd.ArgumentError(f"{op}: q must be a scalar or 1-d tensor")
    if ((qs < 0) | (qs > 1)).any():
        raise _rd.ArgumentError(f"{op}: q values must be in [0, 1]")
    q_scalar = q.dim() == 0 if isinstance(q, Tensor) else _np.ndim(q) == 0
    if dim is None:
        x, d = input.reshape(-1), 0
    else:
        x, d = _sorted_along(op, input, dim)
    n = x.shape[d]
    if n == 0:
        raise IndexError(f"{op}: cannot compute a quantile of an empty dimension")
    sv = x.sort(d).values
    shape = list(x.shape)
    shape[d] = 1
    if ignore_nan:
        cnt = x.isnan().logical_not().to(x.dtype).sum(d, keepdim=True)
    else:
        cnt = _rd.full(shape, float(n), dtype=x.dtype).to(x.device)
    has_nan = x.isnan().to(int64).sum(d, keepdim=True).gt(0) if not ignore_nan else cnt.eq(0)
    outs = []
    for qv in qs:
        pos = (cnt - 1).clamp(0, None) * float(qv)
        lo = pos.floor()
        hi = pos.ceil()
        if interpolation == "lower":
            hi = lo
        elif interpolation == "higher":
            lo = hi
        elif interpolation == "nearest":
            lo = hi = _back(_np.round(_np_of(pos)), pos, pos.dtype)
        vlo = sv.gather(d, lo.to(int64))
        vhi = sv.gather(d, hi.to(int64))
        if interpolation in ("lower", "higher", "nearest"):
            v = vlo  # one order statistic: an infinity is kept as it is
        else:
            if interpolation == "midpoint":
                w = _rd.where(hi.gt(lo), lo * 0 + 0.5, lo * 0).to(x.dtype)
            else:
                w = (pos - lo).to(x.dtype)
            # lerp as PyTorch evaluates it, from the nearer end: -inf..-2 at 0.9 is -inf, and
            # equal infinite ends give NaN
            step = vhi - vlo
            v = _rd.where(w.lt(0.5), vlo + step * w, vhi - step * (1 - w))
        v = _rd.where(has_nan, v * 0 + float("nan"), v)
        if dim is None or input.dim() == 0:
            v = v.reshape(*([1] * input.dim())) if keepdim else v.reshape(())
        elif not keepdim:
            v = v.squeeze(d)
        outs.append(v)
    if not outs:  # an empty q: an empty first dim before the result's shape
        return _quantile(op, input, 0.5, dim, keepdim, interpolation, ignore_nan).unsqueeze(0)[:0]
    return outs[0] if q_scalar else _rd.stack(outs, 0)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):  # noqa: A002
    """``q``-th quantiles (float or 1-d tensor in [0, 1]) along ``dim`` (flattened if None)."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):  # noqa: A002
    """As :func:`quantile`, ignoring NaN (NaN where a slice is all NaN)."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None):  # noqa: A002
    """Insertion indices of ``values`` into the last dimension of ``sorted_sequence``
    (not differentiable; int64, or int32 with ``out_int32``)."""
    if not isinstance(sorted_sequence, Tensor):
        raise TypeError(
            f"searchsorted: sorted_sequence must be a Tensor, got {type(sorted_sequence).__name__}"
        )
    if side is not None:
        if side not in ("left", "right"):
            raise _rd.ArgumentError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise _rd.ArgumentError("searchsorted: side='left' conflicts with right=True")
        right = side == "right"
    seq = _np_of(sorted_sequence)
    if sorter is not None:
        seq = _np.take_along_axis(seq, _np_of(sorter), -1)
    scalar = not isinstance(values, Tensor)
    vals = _np.asarray(values) if scalar else _np_of(values)
    if seq.ndim == 1:
        fs, fv = seq.reshape(1, -1), vals.reshape(1, -1)
    else:
        if vals.shape[:-1] != seq.shape[:-1]:
            raise _rd.ArgumentError(
                f"searchsorted: leading dimensions of sorted_sequence {seq.shape} and values {vals.shape} must match"
            )
        rows = int(_np.prod(seq.shape[:-1]))
        fs, fv = seq.reshape(rows, seq.shape[-1]), vals.reshape(rows, vals.shape[-1])
    out = _binary_search(fs, fv, right).reshape(vals.shape)
    return _back(out, sorted_sequence, int32 if out_int32 else int64)


def _binary_search(seq, vals, right):
    """Per row of the 2-D ``seq``, where each value of that row of ``vals`` goes: the first
    position whose element is ``>=`` it (``>`` with ``right``). The bisection is PyTorch's,
    step for step, so NaN lands where PyTorch puts it (a NaN value after everything; a NaN in
    the sequence compares as smaller), which numpy's NaN-last order would not give."""
    n = seq.shape[-1]
    lo = _np.zeros(vals.shape, dtype=_np.int64)
    hi = _np.full(vals.shape, n, dtype=_np.int64)
    if not n or not vals.size:
        return lo
    with _np.errstate(invalid="ignore"):
        while True:
            active = lo < hi
            if not active.any():
                return lo
            mid = (lo + hi) >> 1
            at = _np.take_along_axis(seq, _np.minimum(mid, n - 1), -1)
            past = ~(at > vals) if right else ~(at >= vals)
            lo = _np.where(active & past, mid + 1, lo)
            hi = _np.where(active & ~past, mid, hi)


def bucketize(input, boundaries, *, out_int32=False, right=False):  # noqa: A002
    """Bucket index of each element of ``input`` in the 1-d ``boundaries``."""
    _check_tensor("bucketize", boundaries=boundaries)
    if boundaries.dim() != 1:
        raise _rd.ArgumentError(f"bucketize: boundaries must be 1-dimensional, got {boundaries.dim()}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def _prop_mT(self):  # noqa: N802
    """The last two dimensions transposed (a batch of matrices)."""
    if self.dim() < 2:
        raise _rd.ArgumentError(f"mT: expected a tensor with at least 2 dimensions, got {self.dim()}")
    return self.transpose(-2, -1)


def _prop_H(self):  # noqa: N802
    """Conjugate transpose of a 0-, 1- or 2-d tensor (rustdl tensors are real: the transpose)."""
    if self.dim() > 2:
        raise _rd.ArgumentError(f"H: expected a tensor with at most 2 dimensions, got {self.dim()}; use mH")
    return self.transpose(0, 1) if self.dim() == 2 else self


Tensor.mT = property(_prop_mT)
Tensor.mH = property(_prop_mT, doc="Conjugate transpose of the last two dims (real tensors: ``mT``).")
Tensor.H = property(_prop_H)

_orig_nonzero = Tensor.nonzero


def _nonzero(self, *, as_tuple=False):
    """Indices of the non-zero elements: an ``(n, dim)`` int64 tensor, or with ``as_tuple`` one
    1-d index tensor per dimension."""
    if not as_tuple:
        return _orig_nonzero(self)
    x = self.reshape(1) if self.dim() == 0 else self
    r = _orig_nonzero(x)
    return tuple(r[:, i] for i in range(x.dim()))


def _storage_offset(self):
    """Where this tensor's first element sits in its storage, in elements, as PyTorch."""
    return self._layout_offset()


def _new(self, *args, **kwargs):
    """The legacy constructor, as PyTorch's ``Tensor.new``: ``t.new()`` is empty, ``t.new(2, 3)``
    or ``t.new(other.size())`` uninitialised of that size, ``t.new([1, 2])`` that data; always
    of ``t``'s dtype and device (``device=`` may move it)."""
    from . import tensor as _make

    device = kwargs.pop("device", self.device)
    if kwargs:
        raise TypeError(f"new(): unexpected keyword arguments {sorted(kwargs)}")
    if not args:
        return self.new_empty((0,), device=device)
    if len(args) == 1 and isinstance(args[0], (list, Tensor, _np.ndarray)):
        return _make(args[0], dtype=self.dtype, device=device)
    from ._storage import _StorageBase, _tensor_over

    if len(args) == 1 and isinstance(args[0], _StorageBase):
        return _tensor_over(self, args[0])
    size = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
    if not all(isinstance(n, (int, _np.integer)) and not isinstance(n, builtins.bool) for n in size):
        raise TypeError(f"new(): expected a size (ints) or data (a list), got {args!r}")
    return self.new_empty(tuple(int(n) for n in size), device=device)


def _data_ptr(self):
    """The address of this tensor's first element, as PyTorch's: tensors sharing storage (views,
    ``detach()``, ``.data``, tied parameters) give addresses in the same buffer, a view its
    offset in bytes further on. On the GPU the storage's base is a stable number standing for it."""
    if self.numel() == 0:
        return 0  # no element to point at (PyTorch's too)
    return self._storage_address() + self._layout_offset() * self.element_size()


def _flat_index(op, self, index):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}: index must be a Tensor, got {type(index).__name__}")
    if index.is_floating_point():
        raise TypeError(f"{op}: index must be an integer tensor, got {index.dtype}")
    n = self.numel()
    idx = index.to(int64).reshape(-1)
    if idx.numel():
        lo, hi = int(idx.min().item()), int(idx.max().item())
        if lo < -n or hi >= n:
            raise IndexError(f"{op}: index out of range for a tensor of {n} elements")
    return _rd.where(idx.lt(0), idx + n, idx)


def take(input, index):  # noqa: A002
    """Elements of ``input`` viewed as 1-d at ``index`` (result has ``index``'s shape)."""
    _check_tensor("take", input=input)
    idx = _flat_index("take", input, index)
    return input.reshape(-1).index_select(0, idx).reshape(*index.shape)


def _put_(self, index, source, accumulate=False):
    """Writes ``source`` into ``self`` viewed as 1-d at ``index`` (adds with ``accumulate``)."""
    idx = _flat_index("put_", self, index)
    _check_tensor("put_", source=source)
    _same_dtype("put_", self, source, "source")
    if source.numel() != idx.numel():
        raise _rd.ArgumentError(f"put_: source has {source.numel()} elements but index has {idx.numel()}")
    flat = self.reshape(-1).clone()
    flat.index_put_((idx,), source.reshape(-1).to(self.dtype), accumulate)
    return self.copy_(flat.reshape(*self.shape))


def _put(self, index, source, accumulate=False):
    """Out-of-place :meth:`put_`."""
    return _put_(self.clone(), index, source, accumulate)


def _fill_diagonal_(self, fill_value, wrap=False):
    """Fills the main diagonal in place (all dims equal when more than 2; ``wrap`` continues
    down a tall matrix every ``cols + 1`` rows)."""
    if self.dim() < 2:
        raise _rd.ArgumentError(f"fill_diagonal_: expected at least 2 dimensions, got {self.dim()}")
    if self.dim() > 2 and len(set(self.shape)) != 1:
        raise _rd.ArgumentError(f"fill_diagonal_: all dimensions must be equal, got {tuple(self.shape)}")
    mask = _np.zeros(tuple(self.shape), dtype=bool)
    _np.fill_diagonal(mask, True, wrap=wrap)
    return self.masked_fill_(_back(mask, self, _bool), fill_value)


def _cpu_only(op, self):
    if self.device.type != "cpu":
        raise TypeError(f"{op}: only CPU tensors are supported, got device {self.device}")


def _apply_(self, callable):  # noqa: A002
    """Replaces each element by ``callable(element)`` in place (CPU only, slow; not differentiable)."""
    _cpu_only("apply_", self)
    arr = _np_of(self)
    out = _np.vectorize(callable, otypes=[arr.dtype])(arr) if arr.size else arr
    from .autograd import no_grad

    with no_grad():
        self.copy_(_rd.tensor(_np.asarray(out, dtype=arr.dtype), dtype=self.dtype, device=self.device))
    return self


def _map_(self, tensor, callable):  # noqa: A002
    """Replaces each element by ``callable(self_elem, other_elem)`` (``tensor`` broadcasts; CPU only)."""
    _cpu_only("map_", self)
    _check_tensor("map_", tensor=tensor)
    arr = _np_of(self)
    other = _np.broadcast_to(_np_of(tensor), arr.shape)
    out = _np.vectorize(callable, otypes=[arr.dtype])(arr, other) if arr.size else arr
    from .autograd import no_grad

    with no_grad():
        self.copy_(_rd.tensor(_np.asarray(out, dtype=arr.dtype), dtype=self.dtype, device=self.device))
    return self


def _unfold(self, dimension, size, step):
    """All length-``size`` windows along ``dimension`` every ``step``: that dimension becomes
    the window count and a new last dimension of ``size`` is added (differentiable)."""
    if self.dim() == 0:
        _norm_dim("unfold", dimension, 1)  # a scalar takes dim 0 or -1 only
        x, d = self.reshape(1), 0
    else:
        x, d = self, _norm_dim("unfold", dimension, self.dim())
    n = x.shape[d]
    size, step = int_arg(size), int_arg(step)
    if not isinstance(step, int) or step <= 0:
        raise _rd.ArgumentError(f"unfold: step must be a positive int, got {step!r}")
    if not isinstance(size, int) or size < 0 or size > n:
        raise _rd.ArgumentError(f"unfold: size ({size}) must be in [0, {n}] for dimension {dimension}")
    nw = (n - size) // step + 1
    # a view, as PyTorch's: dim d walks the windows (stride × step), a new last dim each window
    shape, strides = list(x.shape), list(x.stride())
    shape[d], last = nw, strides[d]
    strides[d] = strides[d] * step
    if x.requires_grad and _may_overlap(x):
        # elements sharing memory (an expand) each take their own gradient, as PyTorch's
        pos = _np.arange(x.numel()).reshape(tuple(x.shape))
        win = _np.arange(nw)[:, None] * step + _np.arange(size)[None, :]
        pos = _np.moveaxis(_np.take(pos, win, axis=d), d + 1, -1)
        out = x._as_strided_view_indexed(
            shape + [size], strides + [last], x.storage_offset(), _index_of(pos, x)
        )
    else:
        out = x._as_strided_view(shape + [size], strides + [last], x.storage_offset())
    return x[:size] if self.dim() == 0 else out  # a scalar's one window: shape [size]


def _positions(shape, strides, offset):
    """The storage position of each element of a layout, in row-major order (numpy int64)."""
    pos = _np.full(tuple(shape), offset, dtype=_np.int64)
    for k, (n, st) in enumerate(zip(shape, strides)):
        dims = [1] * len(shape)
        dims[k] = n
        pos = pos + (_np.arange(n, dtype=_np.int64) * st).reshape(dims)
    return pos.reshape(-1)


def _storage_lookup(self, positions):
    """For storage positions, the row-major index of the element of ``self`` stored there, and
    whether one is (rustdl reads a storage only through the tensors viewing it)."""
    base = self.storage_offset()
    if self.is_contiguous():
        logical = positions - base
        return logical, (logical >= 0) & (logical < self.numel())
    own = _positions(tuple(self.shape), tuple(self.stride()), base)
    order = _np.argsort(own, kind="stable")
    sorted_pos = own[order]
    j = _np.clip(_np.searchsorted(sorted_pos, positions), 0, max(len(own) - 1, 0))
    if not len(own):
        return _np.zeros_like(positions), _np.zeros(positions.shape, dtype=bool)
    return order[j], sorted_pos[j] == positions


def _as_strided(self, size, stride, storage_offset=None):
    """``Tensor.as_strided``: a tensor of ``size`` whose element ``i`` is the storage element at
    ``storage_offset + sum(i_k * stride_k)`` (``storage_offset`` defaults to this tensor's), as
    PyTorch: a view (writes reach the storage) when it starts at or after this tensor's first
    element; one starting before it is a gather (a copy), differentiable when every position read
    is one of this tensor's elements."""

    def ints(v, what):
        if isinstance(v, (int, _np.integer)) and not isinstance(v, bool):
            v = [v]
        if not isinstance(v, (tuple, list)) and type(v).__name__ != "Size":
            raise TypeError(f"as_strided: {what} must be a tuple of ints, got {type(v).__name__}")
        out = []
        for e in v:
            # ints, numpy ints and 0-d integer tensors (anything with __index__), as PyTorch's
            try:
                if isinstance(e, bool):
                    raise TypeError
                out.append(operator.index(e))
            except (TypeError, RuntimeError, ValueError):
                raise TypeError(f"as_strided: {what} must be a tuple of ints, got an element {e!r}") from None
        return out

    size, stride = ints(size, "size"), ints(stride, "stride")
    if storage_offset is None:
        storage_offset = self.storage_offset()
    if isinstance(storage_offset, bool) or not isinstance(storage_offset, (int, _np.integer)):
        raise TypeError(f"as_strided: storage_offset must be an int, got {type(storage_offset).__name__}")
    storage_offset = int(storage_offset)
    if len(size) != len(stride):
        raise _rd.ArgumentError(f"as_strided: size {size} and stride {stride} must have the same length")
    if any(s < 0 for s in size) or any(s < 0 for s in stride) or storage_offset < 0:
        raise _rd.ArgumentError("as_strided: size, stride and storage_offset must be non-negative")
    # checked in Python ints before anything is allocated (a hostile size must not reach numpy)
    count = 1
    for n in size:
        count *= n
    storage_len = self._storage_view().numel()
    if count:
        last = storage_offset + sum((n - 1) * st for n, st in zip(size, stride))
        if last >= storage_len:
            raise IndexError(
                f"as_strided: size {tuple(size)} and stride {tuple(stride)} at storage offset "
                f"{storage_offset} need storage element {last}, past the end of a storage of "
                f"{storage_len} elements"
            )
    if count > 2**32:
        raise _rd.OutOfMemoryError(
            f"as_strided: size {tuple(size)} has {count} elements, more than this machine can hold"
        )
    if storage_offset >= self.storage_offset():
        # a view from this tensor's first element on: writes through it reach this tensor, as
        # PyTorch's (its gradient goes back to the elements it reads, split evenly among
        # elements that share memory, as PyTorch's)
        return self._as_strided_view(size, stride, storage_offset)
    pos = _positions(size, stride, storage_offset)
    # a broadcast (stride-0) dim repeats the same storage: its first index stands for all, so an
    # expanded tensor is looked up (and read) through one slice of it, never materialised
    src = self
    for d, (n, st) in enumerate(zip(self.shape, self.stride())):
        if st == 0 and n > 1:
            src = src.narrow(d, 0, 1)
    logical, found = _storage_lookup(src, pos)
    if found.all():  # read through this tensor's own elements: differentiable
        return src.reshape(-1).index_select(0, _back(logical, self)).reshape(*size)
    if self.requires_grad and _rd.is_grad_enabled():
        miss = int(pos[~found][0])
        raise IndexError(
            f"as_strided: storage element {miss} is not one of this tensor's elements (shape "
            f"{tuple(self.shape)}, strides {tuple(self.stride())}, storage offset "
            f"{self.storage_offset()}), so no gradient can reach it"
        )
    return self._storage_view().index_select(0, _back(pos, self)).reshape(*size)


class _TensorMethodsD:
    """Tensor-method forms of the breadth-D functions (attached to Tensor below)."""

    def take(self, index):
        """As ``rustdl.take`` with this tensor first."""
        return take(self, index)


for _name, _fn in (
    ("nonzero", _nonzero),
    ("storage_offset", _storage_offset),
    ("data_ptr", _data_ptr),
    ("new", _new),
    ("take", _TensorMethodsD.take),
    ("put_", _put_),
    ("put", _put),
    ("fill_diagonal_", _fill_diagonal_),
    ("apply_", _apply_),
    ("map_", _map_),
    ("unfold", _unfold),
    ("as_strided", _as_strided),
):
    setattr(Tensor, _name, _fn)
for _name in (
    "atan", "asin", "acos", "sinh", "cosh", "asinh", "acosh", "atanh", "atan2", "digamma", "lgamma",
    "logit", "xlogy", "true_divide", "hypot", "signbit", "copysign", "heaviside", "float_power",
    "nansum", "nanmean", "diff", "dist", "renorm", "count_nonzero", "kron", "rot90", "kthvalue",
    "median", "nanmedian", "mode", "quantile", "nanquantile",
):  # fmt: skip
    setattr(Tensor, _name, globals()[_name])
Tensor.arcsin = asin
Tensor.arccos = acos
Tensor.arctan = atan
Tensor.arctan2 = atan2
Tensor.arcsinh = asinh
Tensor.arccosh = acosh
Tensor.arctanh = atanh
Tensor.polygamma = lambda self, n: polygamma(n, self)
del _name, _fn


# breadth F: PyTorch's alternative names and small compositions that scripts call as methods
# (the torch.* functional forms reach them through the compat facade).

from ._rustdl import ones_like as _ones_like  # noqa: E402
from ._rustdl import where as _where  # noqa: E402


def _mv(self, vec):
    """Matrix-vector product of an ``(n, m)`` matrix and an ``(m,)`` vector."""
    if self.dim() != 2 or vec.dim() != 1:
        raise _rd.ArgumentError(
            f"mv: expected a 2-D matrix and a 1-D vector, got shapes {tuple(self.shape)} and {tuple(vec.shape)}"
        )
    return self.matmul(vec)


def _tan(self):
    """Elementwise tangent, ``sin / cos``."""
    return self.sin() / self.cos()


def _frac(self):
    """Fractional part, ``x - trunc(x)`` (keeps the sign)."""
    return self - self.trunc()


def _exp2(self):
    """Elementwise ``2 ** x``."""
    return 2.0**self


def _ravel(self):
    """The elements as a 1-D tensor (a view when contiguous)."""
    return self.reshape(-1)


def _fliplr(self):
    """Flips dim 1 (left/right)."""
    return self.flip(1)


def _flipud(self):
    """Flips dim 0 (up/down)."""
    return self.flip(0)


def _deg2rad(self):
    """Degrees to radians."""
    return self * (_math.pi / 180.0)


def _rad2deg(self):
    """Radians to degrees."""
    return self * (180.0 / _math.pi)


def _logaddexp(self, other):
    """``log(exp(a) + exp(b))`` computed without overflow (floating inputs, as PyTorch)."""
    self, other = _float_pair("logaddexp", self, other, integers=False)
    hi = self.maximum(other)
    # equal operands (the same infinity among them) differ by 0, not by inf - inf = nan
    d = _where(self == other, self.new_zeros(()), (self - other).abs())
    return hi + (-d).exp().log1p()


def _logaddexp2(self, other):
    """``log2(2**a + 2**b)`` computed without overflow (floating inputs, as PyTorch)."""
    self, other = _float_pair("logaddexp2", self, other, integers=False)
    hi = self.maximum(other)
    d = _where(self == other, self.new_zeros(()), (self - other).abs())
    return hi + (-d * _math.log(2.0)).exp().log1p() / _math.log(2.0)


def _fmax(self, other):
    """Elementwise maximum that ignores NaN (a NaN only when both are)."""
    return _where(self.isnan(), other, _where(other.isnan(), self, self.maximum(other)))


def _fmin(self, other):
    """Elementwise minimum that ignores NaN (a NaN only when both are)."""
    return _where(self.isnan(), other, _where(other.isnan(), self, self.minimum(other)))


def _value_first(op, args, kwargs):
    """PyTorch's deprecated ``addcmul(value, tensor1, tensor2)`` order (older optimizers write
    ``exp_avg_sq.addcmul_(1 - beta2, grad, grad)``) as the current one, with PyTorch's warning;
    ``tensor1=`` / ``tensor2=`` given by keyword join the positional ones."""
    if "tensor1" in kwargs or "tensor2" in kwargs:
        kwargs = dict(kwargs)
        args = args + tuple(kwargs.pop(k) for k in ("tensor1", "tensor2") if k in kwargs)
    if len(args) != 2 and not (len(args) == 3 and "value" not in kwargs):
        raise TypeError(
            f"{op}(): expected tensor1 and tensor2 (and an optional value=), got {len(args)} arguments"
        )
    if len(args) == 3 and not isinstance(args[0], Tensor) and isinstance(args[1], Tensor):
        _warnings.warn(
            f"This overload of {op} is deprecated: {op}(Number value, Tensor tensor1, Tensor tensor2); "
            f"use {op}(Tensor tensor1, Tensor tensor2, *, Number value) instead",
            UserWarning,
            stacklevel=3,
        )
        return (args[1], args[2]), {**kwargs, "value": args[0]}
    return args, kwargs


def _addc_operands(op, self, tensor1, tensor2, value):
    """``tensor1`` and ``tensor2`` in the dtype ``op`` computes in (the promotion of all three
    tensors: narrow integers are multiplied in it, not in their own dtype), with PyTorch's
    checks of integer division and of a float ``value`` with an integral result."""
    from ._breadth_g import result_type_of

    _check_tensor(op, input=self, tensor1=tensor1, tensor2=tensor2)
    dt = result_type_of(self, tensor1, tensor2)
    if op.startswith("addcdiv") and not tensor1.is_floating_point() and not tensor2.is_floating_point():
        raise RuntimeError(
            f"{op}: Integer division with addcdiv is no longer supported (tensor1 {tensor1.dtype}, tensor2 "
            f"{tensor2.dtype}); use (input + value * torch.true_divide(tensor1, tensor2)) or "
            "(input + value * torch.div(tensor1, tensor2, rounding_mode='trunc')) instead"
        )
    if isinstance(value, float) and not (dt.is_floating_point or getattr(dt, "is_complex", False)):
        raise RuntimeError(
            f"{op}: For integral input tensors, argument value must not be a floating point number "
            f"(value={value}, dtype {dt})"
        )
    if tensor1.dtype != dt:
        tensor1 = tensor1.to(dt)
    if tensor2.dtype != dt:
        tensor2 = tensor2.to(dt)
    return tensor1, tensor2


def _addcmul(self, *args, **kwargs):
    """``self + value * tensor1 * tensor2`` (``(tensor1, tensor2, *, value=1)``)."""
    (tensor1, tensor2), kw = _value_first("addcmul", args, kwargs)
    value = kw.get("value", 1)
    tensor1, tensor2 = _addc_operands("addcmul", self, tensor1, tensor2, value)
    return self + tensor1 * tensor2 * value


def _addcdiv(self, *args, **kwargs):
    """``self + value * tensor1 / tensor2`` (``(tensor1, tensor2, *, value=1)``)."""
    (tensor1, tensor2), kw = _value_first("addcdiv", args, kwargs)
    value = kw.get("value", 1)
    tensor1, tensor2 = _addc_operands("addcdiv", self, tensor1, tensor2, value)
    return self + tensor1 / tensor2 * value


def _value_first_inplace(name):
    native = getattr(Tensor, name)

    def method(self, *args, **kwargs):
        args, kwargs = _value_first(name, args, kwargs)
        if len(args) == 2 and isinstance(args[0], Tensor) and isinstance(args[1], Tensor):
            value = kwargs.get("value", 1)
            args = _addc_operands(name, self, args[0], args[1], value)
        return native(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = native.__doc__
    return method


for _name in ("addcmul_", "addcdiv_"):
    setattr(Tensor, _name, _value_first_inplace(_name))


def _from_to(native):
    """``uniform_`` also taking PyTorch's keyword names ``from=`` / ``to=`` (``from`` is a Python
    keyword, so the native method names them ``a`` / ``b``)."""

    def uniform_(self, *args, **kwargs):
        for alias, name in (("from", "a"), ("to", "b")):
            if alias in kwargs:
                kwargs[name] = kwargs.pop(alias)
        return native(self, *args, **kwargs)

    uniform_.__doc__ = native.__doc__
    return uniform_


Tensor.uniform_ = _from_to(Tensor.uniform_)


def _equal(self, other):
    """True when both have the same shape and the same elements."""
    return tuple(self.shape) == tuple(other.shape) and bool(self.eq(other).all())


def _argwhere(self):
    """Indices of the nonzero elements, ``(n, ndim)``."""
    return self.nonzero()


def _logical_xor(self, other):
    """Elementwise exclusive or of the truth values."""
    return self.bool().ne(other.bool() if isinstance(other, Tensor) else builtins.bool(other))


def _sinc(self):
    """Normalised sinc, ``sin(pi x) / (pi x)``, 1 at 0. Near 0 (``|pi x| < 0.1``) its Taylor
    series ``1 - s²/6 + s⁴/120 - s⁶/5040`` is used, so the gradient does not come from the
    cancellation of ``cos(s)/s - sin(s)/s²`` (in float32 that gave gradients of ±2π at 1e-8)."""
    px = self * _math.pi
    small = px.abs() < 0.1
    one = _ones_like(px)
    big = _where(small, one, px)
    s2 = _where(small, px, px * 0) ** 2
    series = 1 - s2 / 6 + s2 * s2 / 120 - s2 * s2 * s2 / 5040
    return _where(small, series, big.sin() / big)


def _bool_condition(condition):
    """A ``where`` condition: a uint8 mask is read as bool, with PyTorch's deprecation warning."""
    if isinstance(condition, Tensor) and condition.dtype == _rd.uint8:
        _warnings.warn(
            "where received a uint8 condition tensor. This behavior is deprecated and will be "
            "removed in a future version of PyTorch. Use a boolean condition instead.",
            UserWarning,
            stacklevel=3,
        )
        return condition.bool()
    return condition


def _tensor_where(self, condition, other):
    """``self`` where ``condition`` holds, else ``other`` (``torch.where(condition, self, other)``)."""
    return _where(_bool_condition(condition), self, other)


def _wrap_negative(indices, size):
    """Integer indices with the negative ones counted from the end (``-1`` is ``size - 1``)."""
    if isinstance(indices, Tensor) and not indices.is_floating_point() and indices.numel():
        if builtins.bool((indices < 0).any()):
            return _rd.where(indices < 0, indices + size, indices)
    return indices


def _take_along_dim(self, indices, dim=None):
    """Picks values along ``dim`` at ``indices`` (broadcast against each other), as
    ``torch.take_along_dim``; without ``dim`` both are flattened first."""
    if dim is None:
        flat = indices.reshape(-1)
        return self.reshape(-1).gather(0, _wrap_negative(flat, self.numel()))
    d = dim % self.dim()
    indices = _wrap_negative(indices, self.shape[d])
    s, i = list(self.shape), list(indices.shape)
    s[d] = i[d] = 1
    shape = broadcast_shapes(tuple(s), tuple(i))
    src = self.expand(*[self.shape[k] if k == d else n for k, n in enumerate(shape)])
    idx = indices.expand(*[indices.shape[k] if k == d else n for k, n in enumerate(shape)])
    return src.gather(d, idx)


def _tensor_split(
    self, indices_or_sections=None, dim=0, *, sections=None, indices=None, tensor_indices_or_sections=None
):
    """Splits into ``n`` nearly equal parts (the first ``size % n`` one longer), or at the given
    indices, as ``torch.tensor_split``."""
    given = [v for v in (indices_or_sections, sections, indices, tensor_indices_or_sections) if v is not None]
    if len(given) != 1:
        raise TypeError("tensor_split(): expected one of indices_or_sections, sections= or indices=")
    indices_or_sections = given[0]
    if self.dim() == 0:
        raise _rd.ArgumentError("tensor_split: expected at least a 1-dimensional tensor, got a 0-d one")
    size = self.shape[_norm_dim("tensor_split", dim, self.dim())]
    if isinstance(indices_or_sections, Tensor):  # a 0-d tensor of sections or a 1-d one of indices
        t = indices_or_sections
        indices_or_sections = int(t) if t.dim() == 0 else t.tolist()
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        if n <= 0:
            raise _rd.ArgumentError(f"tensor_split: number of sections must be positive, got {n}")
        if n > _PIECES_NO_MACHINE_HOLDS:
            # one tensor object per section: a count no memory holds is refused, not looped over
            raise _rd.OutOfMemoryError(
                f"tensor_split: {n} sections of a tensor of shape {tuple(self.shape)} cannot be held"
            )
        q, r = divmod(size, n)
        bounds = [k * q + builtins.min(k, r) for k in range(n + 1)]
    else:
        # a negative index counts from the end, as in slicing
        cut = (int(i) + size if int(i) < 0 else int(i) for i in indices_or_sections)
        bounds = [0, *(builtins.min(builtins.max(i, 0), size) for i in cut), size]
    return tuple(self.narrow(dim, a, builtins.max(b - a, 0)) for a, b in zip(bounds, bounds[1:]))


# more pieces than this many would take more memory than a machine has (each piece is a tensor
# object of a few hundred bytes: 2**30 of them are hundreds of GB)
_PIECES_NO_MACHINE_HOLDS = 2**30


def _split_even(op, self, sections, dim, min_dims):
    """``tensor_split`` for ``hsplit``/``vsplit``: as PyTorch, a tensor with at least
    ``min_dims`` dims, and a number of sections that divides the dim evenly."""
    if self.dim() < min_dims:
        raise _rd.ArgumentError(
            f"{op}: expected a tensor with at least {min_dims} dimension(s), got shape {tuple(self.shape)}"
        )
    if isinstance(sections, Tensor) and sections.dim() == 0:
        sections = int(sections)
    if isinstance(sections, int) and not isinstance(sections, bool):
        size = self.shape[dim]
        if sections == 0 or (sections > 0 and size % sections):
            raise _rd.ArgumentError(
                f"{op}: dimension {dim} of size {size} (shape {tuple(self.shape)}) cannot be split "
                f"into {sections} equal sections"
            )
    return _tensor_split(self, sections, dim)


def _hsplit(self, sections):
    """``tensor_split`` along dim 1 (dim 0 for a 1-D tensor), into equal sections."""
    return _split_even("hsplit", self, sections, 1 if self.dim() > 1 else 0, 1)


def _vsplit(self, sections):
    """``tensor_split`` along dim 0, into equal sections (at least 2 dims)."""
    return _split_even("vsplit", self, sections, 0, 2)


def _pin_memory(self, device=None):
    """The tensor itself: rustdl has no pinned host memory."""
    return self


def _record_stream(self, stream):
    """Accepted for CUDA-stream code: rustdl keeps a tensor's memory alive while queued work uses it."""
    return None


def _bernoulli(self, p=None, *, generator=None):
    """0/1 samples with probabilities ``self`` (or ``p``)."""
    from . import bernoulli

    if p is None:
        return bernoulli(self, generator=generator)
    from ._rustdl import full_like

    return bernoulli(full_like(self, p), generator=generator)


for _name, _fn in (
    ("mv", _mv),
    ("tan", _tan),
    ("frac", _frac),
    ("exp2", _exp2),
    ("ravel", _ravel),
    ("fliplr", _fliplr),
    ("flipud", _flipud),
    ("deg2rad", _deg2rad),
    ("rad2deg", _rad2deg),
    ("logaddexp", _logaddexp),
    ("logaddexp2", _logaddexp2),
    ("fmax", _fmax),
    ("fmin", _fmin),
    ("addcmul", _addcmul),
    ("addcdiv", _addcdiv),
    ("equal", _equal),
    ("argwhere", _argwhere),
    ("logical_xor", _logical_xor),
    ("sinc", _sinc),
    ("take_along_dim", _take_along_dim),
    ("tensor_split", _tensor_split),
    ("hsplit", _hsplit),
    ("vsplit", _vsplit),
    ("pin_memory", _pin_memory),
    ("record_stream", _record_stream),
    ("bernoulli", _bernoulli),
    ("where", _tensor_where),
):
    setattr(Tensor, _name, _fn)
for _name, _target in (
    ("absolute", "abs"),
    ("absolute_", "abs_"),
    ("divide", "div"),
    ("multiply", "mul"),
    ("subtract", "sub"),
    ("negative", "neg"),
    ("negative_", "neg_"),
    ("greater", "gt"),
    ("greater_equal", "ge"),
    ("less", "lt"),
    ("less_equal", "le"),
    ("not_equal", "ne"),
    ("sgn", "sign"),
    ("positive", "__pos__"),
):
    setattr(Tensor, _name, getattr(Tensor, _target))
_div_true = Tensor.div
_div_true_ = Tensor.div_


def _div(self, other, *, rounding_mode=None):
    """``self / other``; ``rounding_mode`` ``"trunc"`` rounds toward zero, ``"floor"`` down (an
    integer result for integer inputs), as ``torch.div``."""
    if rounding_mode is None:
        return _div_true(self, other)
    if rounding_mode == "floor":
        return self.floor_divide(other)
    if rounding_mode != "trunc":
        raise _rd.ArgumentError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found {rounding_mode!r}"
        )
    other_float = isinstance(other, float) or (isinstance(other, Tensor) and other.is_floating_point())
    if self.is_floating_point() or other_float:
        return _div_true(self, other).trunc()
    # integers: floor division corrected toward zero where the signs differ and it was inexact
    q = self.floor_divide(other)
    inexact = self.remainder(other) != 0
    # both operands in the result's dtype (-3, or a 0-d int64 -3, is 253 beside uint8)
    o = _as_tensor_like(other, self).to(q.dtype)
    signs_differ = (self.to(q.dtype) < 0).logical_xor(o < 0)
    return q + inexact.logical_and(signs_differ).to(q.dtype)


def _category(dtype):
    """0 for bool, 1 for integers, 2 for floating (PyTorch's casting categories)."""
    if dtype == _bool:
        return 0
    return 2 if _rd.zeros((), dtype=dtype).is_floating_point() else 1


def _copy_result(op, self, out):
    """Writes an in-place op's result into ``self``, refusing a result of a higher category
    (float into an integer tensor, an integer into a bool one), as PyTorch."""
    if out.dtype != self.dtype and _category(out.dtype) > _category(self.dtype):
        raise _rd.DTypeError(
            f"{op}: result type {out.dtype} can't be cast to the desired output type {self.dtype} "
            f"(shape {tuple(self.shape)})"
        )
    return self.copy_(out)


def _div_(self, other, *, rounding_mode=None):
    """In-place :meth:`div` (with ``rounding_mode``)."""
    if rounding_mode is None:
        return _div_true_(self, other)
    return _copy_result("div_", self, _div(self, other, rounding_mode=rounding_mode))


def _as_tensor_like(x, like):
    """``x`` as a tensor on ``like``'s device (a Python number as a 0-d tensor)."""
    if isinstance(x, Tensor):
        return x
    from . import tensor

    return tensor(x, device=like.device)


def _rsub(self, other, *, alpha=1):
    """``other - alpha * self``, as ``torch.rsub``."""
    return _as_tensor_like(other, self) - self * alpha


for _name, _fn in (("div", _div), ("divide", _div), ("div_", _div_), ("divide_", _div_), ("rsub", _rsub)):
    setattr(Tensor, _name, _fn)
Tensor.is_cpu = property(lambda self: self.device.type == "cpu", doc="True for a tensor on the CPU.")
Tensor.is_pinned = lambda self: False
Tensor.is_signed = lambda self: self.dtype not in (_bool, _rd.uint8)
Tensor.is_complex = lambda self: False
Tensor.nbytes = property(lambda self: self.numel() * self.element_size(), doc="Bytes of the elements.")
Tensor.itemsize = property(lambda self: self.element_size(), doc="Bytes per element.")
del _name, _fn, _target


def tensordot(a, b, dims=2):
    """Sums products over ``dims`` (an int: the last ``dims`` of ``a`` with the first of ``b``;
    or two lists of dims), as ``torch.tensordot``; one reshape-matmul-reshape, differentiable."""
    if isinstance(dims, int):
        if dims < 0 or dims > builtins.min(a.dim(), b.dim()):
            raise _rd.ArgumentError(
                f"tensordot: dims must be in 0..{builtins.min(a.dim(), b.dim())}, got {dims}"
            )
        da, db = list(range(a.dim() - dims, a.dim())), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
        if len(da) != len(db):
            raise _rd.ArgumentError(f"tensordot: both dim lists must have one length, got {da} and {db}")
    if (da and not a.dim()) or (db and not b.dim()):
        raise IndexError("tensordot: a 0-d tensor has no dimension to contract")
    da = [_norm_dim("tensordot", d, a.dim()) for d in da]
    db = [_norm_dim("tensordot", d, b.dim()) for d in db]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise _rd.ArgumentError(
                f"tensordot: contracted dims differ in size: {a.shape[i]} (a dim {i}) vs {b.shape[j]} (b dim {j})"
            )
    fa = [d for d in range(a.dim()) if d not in da]
    fb = [d for d in range(b.dim()) if d not in db]
    k = 1
    for d in da:
        k *= a.shape[d]
    # free sizes spelled out: -1 cannot be inferred beside a contracted size of 0
    m = n = 1
    for d in fa:
        m *= a.shape[d]
    for d in fb:
        n *= b.shape[d]
    left = (a.permute(*fa, *da) if a.dim() else a).reshape(m, k)
    right = (b.permute(*db, *fb) if b.dim() else b).reshape(k, n)
    return (left @ right).reshape(*[a.shape[d] for d in fa], *[b.shape[d] for d in fb])


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of ``elements`` is in ``test_elements`` (a bool tensor of
    ``elements``' shape), as ``torch.isin``; computed by numpy, not differentiable."""
    el = elements if isinstance(elements, Tensor) else None
    a = _np.asarray(elements.detach().cpu().numpy() if isinstance(elements, Tensor) else elements)
    b = _np.asarray(
        test_elements.detach().cpu().numpy() if isinstance(test_elements, Tensor) else test_elements
    )
    out = _np.isin(a, b, assume_unique=assume_unique, invert=invert)
    from ._rustdl import tensor as _tensor

    return _tensor(out, device=el.device if el is not None else None)


def torch_range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Deprecated ``torch.range``: ``start .. end`` INCLUDING ``end``, of the default float dtype."""
    from ._rustdl import arange

    if end is None:
        start, end = 0, start
    if step == 0:
        raise _rd.ArgumentError("range: step must be nonzero")
    n = builtins.max(int(_math.floor((end - start) / step)) + 1, 0)
    # computed in float64 on the CPU (the GPU has no float64), then moved to the device
    out = arange(n, dtype=float64, device="cpu") * step + start
    out = out.to(dtype if dtype is not None else get_default_dtype())
    out = out.to(device if device is not None else get_default_device())
    return out.requires_grad_(requires_grad) if requires_grad else out


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    """A 0-dim tensor holding the number ``s`` (of the default float dtype unless ``dtype``)."""
    from ._rustdl import tensor as _tensor

    return _tensor(
        builtins.float(s), dtype=dtype or get_default_dtype(), device=device, requires_grad=requires_grad
    )


def is_nonzero(input):  # noqa: A002
    """Whether a one-element tensor is nonzero (an error for any other size)."""
    if input.numel() != 1:
        raise RuntimeError(f"is_nonzero: expected a tensor with one element, got {input.numel()}")
    return builtins.bool(input.item() != 0)


_PRINT_PROFILES = {
    "default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": dict(precision=4, threshold=_math.inf, edgeitems=3, linewidth=80),
}
# read by Tensor.__repr__ (in Rust) on every call
_PRINT_OPTIONS: dict = dict(_PRINT_PROFILES["default"], sci_mode=None)


def set_printoptions(
    precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None
):
    """How tensors print, as PyTorch: ``precision`` decimals, summarised with ``edgeitems`` per
    end above ``threshold`` elements, lines up to ``linewidth``; ``sci_mode`` True/False forces
    or forbids scientific notation (None: automatic); ``profile`` is "default", "short" or
    "full" and sets the first four before the others apply."""
    if profile is not None:
        if profile not in _PRINT_PROFILES:
            raise _rd.ArgumentError(f"set_printoptions: unknown profile {profile!r} (default, short or full)")
        _PRINT_OPTIONS.update(_PRINT_PROFILES[profile])
    for name, v in (
        ("precision", precision),
        ("threshold", threshold),
        ("edgeitems", edgeitems),
        ("linewidth", linewidth),
    ):
        if v is not None:
            _PRINT_OPTIONS[name] = v
    _PRINT_OPTIONS["sci_mode"] = sci_mode


def get_printoptions() -> dict:
    """The current print options (a copy)."""
    return dict(_PRINT_OPTIONS)


class printoptions:  # noqa: N801  (PyTorch's name)
    """``with rustdl.printoptions(precision=2): ...`` sets print options for a block."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs

    def __enter__(self):
        self._saved = dict(_PRINT_OPTIONS)
        set_printoptions(**self._kwargs)

    def __exit__(self, *exc):
        _PRINT_OPTIONS.clear()
        _PRINT_OPTIONS.update(self._saved)
        return False


# in-place random fills and a few in-place forms PyTorch scripts call (each writes through copy_)


_NO_BOUND = object()

# PyTorch's names of the integer dtypes in its bounds messages, and their ranges
_INT_BOUNDS = {
    "bool": ("bool", 0, 1),
    "uint8": ("unsigned char", 0, 2**8 - 1),
    "int8": ("signed char", -(2**7), 2**7 - 1),
    "int16": ("short", -(2**15), 2**15 - 1),
    "int32": ("int", -(2**31), 2**31 - 1),
    "int64": ("long", -(2**63), 2**63 - 1),
}


def _bound(v, what):
    import operator

    if isinstance(v, builtins.bool) or isinstance(v, builtins.float):
        raise TypeError(f"random_(): argument '{what}' must be int, not {type(v).__name__}")
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"random_(): argument '{what}' must be int, not {type(v).__name__}") from None


def _random_(self, *args, generator=None, **kwargs):
    """Fills with integers uniform in ``[from, to)``: ``random_(to)``, ``random_(from, to)``
    (``to=None``: up to the dtype's largest value), or with no bounds ``[0, 2**mantissa]`` of a
    float dtype (``[0, max]`` of an integer one); bounds outside an integer dtype are refused, as
    PyTorch's."""
    from ._rustdl import randint

    frm, to = kwargs.pop("from", _NO_BOUND), kwargs.pop("to", _NO_BOUND)
    if kwargs:
        raise TypeError(f"random_() got an unexpected keyword argument '{next(iter(kwargs))}'")
    if len(args) > 2 or (args and frm is not _NO_BOUND) or (len(args) == 2 and to is not _NO_BOUND):
        raise TypeError("random_() takes 'from' and 'to' (at most two bounds)")
    if len(args) == 2:
        frm, to = args
    elif len(args) == 1:
        if to is _NO_BOUND:
            frm, to = (0, args[0]) if frm is _NO_BOUND else (frm, args[0])
        else:
            frm = args[0]
    if frm is _NO_BOUND and to is _NO_BOUND:
        if self.device.type == "cpu":
            # PyTorch's draws: 64-bit ones for int64 and float64, 32-bit ones otherwise
            modulus, wide = _RANDOM_RANGE.get(self.dtype.name, (2**63, 1))
            return self.copy_(
                _in_memory_order(self, _cpu_draw("below", self.numel(), modulus, wide, generator))
            )
        lo, hi = 0, _RANDOM_RANGE.get(self.dtype.name, (2**63 - 1, 1))[0]
    else:
        lo = 0 if frm is _NO_BOUND else _bound(frm, "from")
        if to is None:
            bounds = _INT_BOUNDS.get(self.dtype.name)
            hi = bounds[2] + 1 if bounds else _RANDOM_RANGE.get(self.dtype.name, (2**53 + 1, 1))[0]
        else:
            hi = _bound(to, "to")
    if hi <= lo:
        raise _rd.ArgumentError(f"random_: expects 'from' < 'to', got from={lo} to={hi}")
    bounds = _INT_BOUNDS.get(self.dtype.name)
    if bounds is not None:
        name, lowest, highest = bounds
        if not lowest <= lo <= highest:
            raise RuntimeError(f"random_: from is out of bounds for {name} (from={lo})")
        if not lowest <= hi - 1 <= highest:
            raise RuntimeError(f"random_: to - 1 is out of bounds for {name} (to={hi})")
    drawn = randint(lo, min(hi, 2**63 - 1), (self.numel(),), device=self.device, generator=generator)
    return self.copy_(_in_memory_order(self, drawn).to(self.dtype))


# random_() without bounds: (modulus, whether each value takes a 64-bit draw), per dtype
_RANDOM_RANGE = {
    "float32": (2**24 + 1, 0),
    "float64": (2**53 + 1, 1),
    "float16": (2**11 + 1, 0),
    "bfloat16": (2**8 + 1, 0),
    "int64": (2**63, 1),
    "int32": (2**31, 0),
    "int16": (2**15, 0),
    "int8": (2**7, 0),
    "uint8": (2**8, 0),
    "bool": (2, 0),
}


def _cpu_draw(kind, n, a, b, generator):
    from ._rustdl import _cpu_draw as draw

    if kind == "below":
        return draw(kind, builtins.int(n), modulus=a, wide=builtins.bool(b), generator=generator)
    return draw(kind, builtins.int(n), builtins.float(a), builtins.float(b), generator=generator)


def _fill_parameter(op, name, value, ok, expects):
    """``value`` as a float, after checking it as PyTorch's in-place random fill ``op`` does."""
    if isinstance(value, builtins.bool) or not isinstance(value, (builtins.int, builtins.float)):
        if not (isinstance(value, Tensor) and value.numel() == 1):
            raise TypeError(f"{op}: {name} must be a number, got {type(value).__name__}")
    v = builtins.float(value)
    if not ok(v):
        from ._rustdl import ArgumentError

        raise ArgumentError(f"{op} expects {expects}, but found {name}={value}")
    return v


def _in_memory_order(self, flat):
    """``flat`` (values in the order of ``self``'s memory, outer to inner by stride) in
    ``self``'s logical order: a PyTorch CPU fill walks a permuted view as its storage."""
    shape, strides = tuple(self.shape), self.stride()
    order = sorted((d for d in range(len(shape)) if shape[d] != 1), key=lambda d: -strides[d])
    if order == sorted(order):
        return flat.reshape(shape)
    it = iter(order)
    full = [d if shape[d] == 1 else next(it) for d in range(len(shape))]
    inverse = [0] * len(full)
    for i, d in enumerate(full):
        inverse[d] = i
    return flat.reshape(tuple(shape[d] for d in full)).permute(*inverse)


def _cpu_fill(self, kind, a, b, generator):
    """Fills a CPU tensor with ``kind`` draws made in float64 one value at a time, as PyTorch's
    CPU kernels (then rounded to the tensor's dtype)."""
    return self.copy_(_in_memory_order(self, _cpu_draw(kind, self.numel(), a, b, generator)))


def _exponential_(self, lambd=1.0, *, generator=None):
    """Fills with samples of the exponential distribution of rate ``lambd``."""
    _floating_kernel("exponential_", self)
    lambd = _fill_parameter("exponential_", "lambda", lambd, lambda v: v > 0.0, "lambda > 0.0")
    if self.device.type == "cpu":
        return _cpu_fill(self, "exponential", lambd, 0.0, generator)
    u = _rustdl_rand_like(self, generator)
    return self.copy_(-(1.0 - u).log() / lambd)


def _log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """Fills with ``exp(N(mean, std²))`` samples."""
    _floating_kernel("log_normal_", self)
    from ._rustdl import randn

    mean = _fill_parameter("log_normal_", "mean", mean, _math.isfinite, "a finite mean")
    std = _fill_parameter("log_normal_", "std", std, lambda v: v > 0.0, "std > 0.0")
    if self.device.type == "cpu":
        return _cpu_fill(self, "log_normal", mean, std, generator)
    z = randn(*self.shape, dtype=_float_of(self), device=self.device, generator=generator)
    return self.copy_((z * std + mean).exp())


def _cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """Fills with Cauchy samples ``median + sigma·tan(π(U − ½))``."""
    _floating_kernel("cauchy_", self)
    median = _fill_parameter("cauchy_", "median", median, _math.isfinite, "a finite median")
    sigma = _fill_parameter("cauchy_", "sigma", sigma, lambda v: v > 0.0, "sigma > 0.0")
    if self.device.type == "cpu":
        return _cpu_fill(self, "cauchy", median, sigma, generator)
    u = _rustdl_rand_like(self, generator)
    return self.copy_(_tan((u - 0.5) * _math.pi) * sigma + median)


def _geometric_(self, p, *, generator=None):
    """Fills with the number of Bernoulli(``p``) trials up to the first success (1, 2, ...)."""
    p = _fill_parameter("geometric_", "p", p, lambda v: 0.0 < v < 1.0, "p to be in (0, 1)")
    if self.device.type == "cpu":
        return _cpu_fill(self, "geometric", p, 0.0, generator)
    u = _rustdl_rand_like(self, generator)
    return self.copy_(((1.0 - u).log() / _math.log1p(-p)).ceil().clamp(min=1))


def _float_of(t):
    return t.dtype if t.is_floating_point() else float32


def _rustdl_rand_like(t, generator=None):
    from ._rustdl import rand

    return rand(*t.shape, dtype=_float_of(t), device=t.device, generator=generator)


def _index_copy(self, dim, index, source):
    """A copy whose slices ``index`` along ``dim`` are replaced by ``source``'s."""
    return self.clone().index_copy_(dim, index, source)


def _index_copy_(self, dim, index, source):
    """Copies ``source``'s slices into the positions ``index`` along ``dim``."""
    _same_dtype("index_copy_", self, source, "source")
    if self.dim() == 0:  # a scalar is one slot along dim 0 (or -1), as PyTorch's
        _norm_dim("index_copy_", dim, 0)
        self.view(1)[index] = source.reshape(-1) if isinstance(source, Tensor) else source
        return self
    d = dim % self.dim()
    if isinstance(index, Tensor) and index.dim() == 0:
        index = index.reshape(1)  # one slot, keeping its dimension (source has it too)
    self[(slice(None),) * d + (index,)] = source
    return self


def _masked_scatter_(self, mask, source):
    """Copies ``source``'s leading elements, in order, into the positions where ``mask`` holds."""
    if not isinstance(mask, Tensor) or mask.dtype != _bool:
        raise TypeError("masked_scatter_: only supports boolean masks")
    _same_dtype("masked_scatter_", self, source, "source")
    m = mask.expand(*self.shape) if tuple(mask.shape) != tuple(self.shape) else mask
    n = int(m.sum().item())
    if source.numel() < n:
        raise _rd.ShapeError(
            f"masked_scatter: Number of elements of source < number of ones in mask "
            f"({source.numel()} < {n}; self {tuple(self.shape)}, mask {tuple(mask.shape)})"
        )
    self[m] = source.reshape(-1)[:n]
    return self


def _masked_scatter(self, mask, source):
    """Out-of-place :meth:`masked_scatter_` (self and mask broadcast together, as PyTorch's)."""
    if isinstance(mask, Tensor) and tuple(mask.shape) != tuple(self.shape):
        shape = broadcast_shapes(tuple(self.shape), tuple(mask.shape))
        return _masked_scatter_(self.expand(*shape).clone(), mask, source)
    return _masked_scatter_(self.clone(), mask, source)


for _name, _fn in (
    ("random_", _random_),
    ("exponential_", _exponential_),
    ("log_normal_", _log_normal_),
    ("cauchy_", _cauchy_),
    ("geometric_", _geometric_),
    ("index_copy", _index_copy),
    ("index_copy_", _index_copy_),
    ("masked_scatter", _masked_scatter),
    ("masked_scatter_", _masked_scatter_),
    ("frac_", lambda self: self.copy_(_frac(self))),
    (
        "addmm_",
        lambda self, mat1, mat2, *, beta=1, alpha=1: self.copy_(
            self.addmm(mat1, mat2, beta=beta, alpha=alpha)
        ),
    ),
    (
        "baddbmm_",
        lambda self, b1, b2, *, beta=1, alpha=1: self.copy_(self.baddbmm(b1, b2, beta=beta, alpha=alpha)),
    ),
    ("float_power_", lambda self, exponent: _float_power_(self, exponent)),
    ("to_sparse_coo", lambda self: self.to_sparse()),
):
    setattr(Tensor, _name, _fn)
del _name, _fn
# PyTorch's nested (jagged) tensors are not built here: every tensor is a plain strided one
Tensor.is_nested = property(lambda self: False, doc="False: rustdl has no nested tensors.")
# the backends PyTorch can place a tensor on that rustdl has not: every flag is False
for _name in ("is_mkldnn", "is_xla", "is_vulkan", "is_ipu", "is_maia", "is_mtia", "is_sparse_csr"):
    setattr(Tensor, _name, property(lambda self: False, doc="False: not a tensor of that backend or layout."))
Tensor.name = property(lambda self: None, doc="None: rustdl tensors have no name (PyTorch's legacy field).")
Tensor.output_nr = property(
    lambda self: 0, doc="0: the output index in the op that made the tensor (every rustdl op's first)."
)


def _volatile(self):
    _warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning, stacklevel=2)
    return False


def _is_set_to(self, tensor):
    """Whether both tensors view the same storage with the same offset, sizes and strides."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"is_set_to: expected a Tensor, got {type(tensor).__name__}")
    return (
        self.device == tensor.device
        and self.dtype == tensor.dtype
        and self.data_ptr() == tensor.data_ptr()
        and tuple(self.shape) == tuple(tensor.shape)
        and tuple(self.stride()) == tuple(tensor.stride())
    )


Tensor.volatile = property(_volatile)
Tensor.is_set_to = _is_set_to
Tensor.const_data_ptr = lambda self: self.data_ptr()
Tensor.unsafe_split_with_sizes = lambda self, split_sizes, dim=0: self.split_with_sizes(split_sizes, dim)
# reversed(t) iterates the rows last to first, as PyTorch (a 0-d tensor is returned as it is)
Tensor.__reversed__ = lambda self: self.flip(0) if self.dim() else self


def _contains(self, element):
    """``element in tensor``: whether any entry equals ``element`` (a number or a tensor that
    broadcasts against this one), as PyTorch; any other object is an error, not False."""
    if isinstance(element, (Tensor, _numbers.Number, _np.generic)):
        return builtins.bool((element == self).any().item())
    raise RuntimeError(
        f"Tensor.__contains__ only supports Tensor or scalar, but you passed in a {type(element)}."
    )


Tensor.__contains__ = _contains


def _float_power_(self, exponent):
    """In-place :func:`float_power`: the result is float64, so ``self`` must be float64 already."""
    if self.dtype != float64:
        raise _rd.DTypeError(
            f"float_power_: the base has dtype {self.dtype} but the result requires dtype "
            f"rustdl.float64 (shape {list(self.shape)})"
        )
    return self.copy_(float_power(self, exponent))


# ---- bitwise operators: bool masks stay on the fast logical path; int64 tensors are bitwise as
# in PyTorch (through numpy, no gradient); floating tensors are refused (PyTorch has no float
# bitwise ops)

_logical_and = Tensor.__and__
_logical_or = Tensor.__or__
_NP_BITWISE = {"and": _np.bitwise_and, "or": _np.bitwise_or, "xor": _np.bitwise_xor}


def _number(v):
    """``v`` as a Python number when it is one (numpy scalars included), else itself: a number
    beside a tensor keeps the tensor's dtype in PyTorch's promotion."""
    return v.item() if isinstance(v, _np.generic) else v


def _bitwise(op, a, b):
    name = f"bitwise_{op}"
    given = _number(b)
    if isinstance(b, builtins.bool):
        b = _rd.tensor(b, device=a.device)
    elif isinstance(b, builtins.int):
        b = _rd.tensor(b, dtype=int64, device=a.device)
    elif isinstance(b, _np.generic) and b.dtype.kind in "biu":
        b = _rd.tensor(b.item(), dtype=_bool if b.dtype.kind == "b" else int64, device=a.device)
    # (DTypeError: the TypeError rustdl raised before, and the NotImplementedError, a
    # RuntimeError, that PyTorch's bitwise kernels raise for a float)
    if isinstance(b, (builtins.float, _np.floating)):
        raise _rd.DTypeError(f"{name}: expected a tensor, bool or int operand, got {type(b).__name__}")
    if not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected a tensor, bool or int operand, got {type(b).__name__}")
    if a.is_floating_point() or b.is_floating_point():
        raise _rd.DTypeError(
            f"{name}: only integer and bool tensors are supported, got {a.dtype} (shape {tuple(a.shape)}) "
            f"and {b.dtype} (shape {tuple(b.shape)})"
        )
    if a.dtype == _bool and b.dtype == _bool:
        if op == "and":
            return _logical_and(a, b)
        if op == "or":
            return _logical_or(a, b)
        return a.ne(b)
    shape = broadcast_shapes(tuple(a.shape), tuple(b.shape))
    out = _NP_BITWISE[op](_np_of(a).astype(_np.int64), _np_of(b).astype(_np.int64))
    from ._breadth_g import result_type

    return _back(_np.broadcast_to(out, shape), a, result_type(a, given))


def bitwise_and(input, other):  # noqa: A002
    """Elementwise AND: logical for bool tensors, bitwise for integer ones."""
    return _bitwise("and", input, other)


def bitwise_or(input, other):  # noqa: A002
    """Elementwise OR: logical for bool tensors, bitwise for integer ones."""
    return _bitwise("or", input, other)


def bitwise_xor(input, other):  # noqa: A002
    """Elementwise XOR: logical for bool tensors, bitwise for integer ones."""
    return _bitwise("xor", input, other)


def bitwise_not(input):  # noqa: A002
    """Elementwise NOT: logical for bool tensors, ``-x - 1`` (two's complement) for integer ones."""
    if input.dtype == _bool:
        return input.logical_not()
    if input.is_floating_point():
        raise _rd.DTypeError(f"bitwise_not: only integer and bool tensors are supported, got {input.dtype}")
    return -input - 1


def _inplace_bitwise(op):
    def fn(self, other):
        out = _bitwise(op, self, other)
        if self.dtype == _bool and out.dtype != _bool:
            # PyTorch casts a result into a bool tensor only from bool
            raise _rd.DTypeError(
                f"bitwise_{op}_: result type {out.dtype} can't be cast to the desired output type "
                f"{self.dtype} (shape {tuple(self.shape)})"
            )
        return self.copy_(out)

    fn.__name__ = f"__i{op}__"
    return fn


class _BitwiseMethods:
    """Tensor-method forms of the bitwise ops (attached to Tensor below)."""

    def bitwise_and(self, other):
        """As ``rustdl.bitwise_and`` with this tensor first."""
        return _bitwise("and", self, other)

    def bitwise_or(self, other):
        """As ``rustdl.bitwise_or`` with this tensor first."""
        return _bitwise("or", self, other)

    def bitwise_xor(self, other):
        """As ``rustdl.bitwise_xor`` with this tensor first."""
        return _bitwise("xor", self, other)

    def bitwise_not(self):
        """As ``rustdl.bitwise_not``."""
        return bitwise_not(self)


def _dunder(fn):
    """A binary operator that returns ``NotImplemented`` for an operand that is no tensor or
    number (so Python tries the operand's reflected operator, as with PyTorch's operators)."""

    def op(self, other):
        if not isinstance(other, (Tensor, _numbers.Number, _np.generic, _np.ndarray, list, tuple)):
            return NotImplemented
        return fn(self, other)

    op.__name__ = op.__qualname__ = fn.__name__
    op.__doc__ = fn.__doc__
    return op


for _name, _fn in (
    ("__and__", _dunder(_BitwiseMethods.bitwise_and)),
    ("__or__", _dunder(_BitwiseMethods.bitwise_or)),
    ("__xor__", _dunder(_BitwiseMethods.bitwise_xor)),
    ("__rand__", _dunder(_BitwiseMethods.bitwise_and)),
    ("__ror__", _dunder(_BitwiseMethods.bitwise_or)),
    ("__rxor__", _dunder(_BitwiseMethods.bitwise_xor)),
    ("__iand__", _inplace_bitwise("and")),
    ("__ior__", _inplace_bitwise("or")),
    ("__ixor__", _inplace_bitwise("xor")),
    ("__invert__", _BitwiseMethods.bitwise_not),
    ("bitwise_and", _BitwiseMethods.bitwise_and),
    ("bitwise_or", _BitwiseMethods.bitwise_or),
    ("bitwise_xor", _BitwiseMethods.bitwise_xor),
    ("bitwise_not", _BitwiseMethods.bitwise_not),
):
    setattr(Tensor, _name, _fn)
del _name, _fn


# ---- bit shifts (int64 / bool; PyTorch promotes bool to int64 and rejects floats)


def _shift_operand(name, v, like):
    if isinstance(v, Tensor):
        return v
    if isinstance(v, (builtins.bool, builtins.int)) or (isinstance(v, _np.generic) and v.dtype.kind in "biu"):
        return _rd.tensor(builtins.int(v), dtype=int64, device=like.device)
    if isinstance(v, (builtins.float, _np.floating)):
        raise NotImplementedError(
            f"{name}: not implemented for float operands (got {v!r}); shifts need integers"
        )
    raise TypeError(f"{name}: expected a tensor or an int operand, got {type(v).__name__}")


def _shift(name, a, b, left):
    """``a << b`` (``left``) or ``a >> b`` elementwise on int64, as PyTorch: the left shift wraps
    in two's complement, the right shift is arithmetic (sign-filling); a shift by a negative
    amount or by 64 or more gives 0 (left) or the sign fill, 0 or -1 (right)."""
    like = a if isinstance(a, Tensor) else b
    given = (_number(a), _number(b))
    a, b = _shift_operand(name, a, like), _shift_operand(name, b, like)
    for t in (a, b):
        if t.is_floating_point():
            raise NotImplementedError(
                f"{name}: not implemented for {t.dtype} tensors (shape {tuple(t.shape)}); shifts need "
                "integer or bool tensors"
            )
    from ._breadth_g import result_type

    dtype = result_type(*given)  # an int beside a tensor keeps the tensor's dtype
    if dtype == _bool:
        dtype = int64
    # both operands are cast to the result's dtype first (wrapping, as PyTorch's cast), and the
    # shift is by up to the width of that dtype
    npd = _np.dtype(str(dtype).removeprefix("rustdl.").removeprefix("torch."))
    width = 8 * npd.itemsize
    x, n = (_np_of(t).astype(_np.int64).astype(npd).astype(_np.int64) for t in (a, b))
    x, n = _np.broadcast_arrays(x, n)
    ok = (n >= 0) & (n < width)
    safe = _np.where(ok, n, 0)
    if left:
        out = _np.where(ok, _np.left_shift(x, safe), 0)
    else:
        out = _np.where(ok, _np.right_shift(x, safe), _np.where(x < 0, -1, 0))
    return _back(out.astype(_np.int64), like, dtype)


def bitwise_left_shift(input, other):  # noqa: A002
    """``input << other`` elementwise (int64; two's-complement wrap), as ``torch.bitwise_left_shift``."""
    return _shift("bitwise_left_shift", input, other, True)


def bitwise_right_shift(input, other):  # noqa: A002
    """``input >> other`` elementwise (arithmetic shift of int64), as ``torch.bitwise_right_shift``."""
    return _shift("bitwise_right_shift", input, other, False)


class _ShiftMethods:
    """Tensor-method forms of the shifts (attached to Tensor below)."""

    def bitwise_left_shift(self, other):
        """As ``rustdl.bitwise_left_shift`` with this tensor first."""
        return _shift("bitwise_left_shift", self, other, True)

    def bitwise_right_shift(self, other):
        """As ``rustdl.bitwise_right_shift`` with this tensor first."""
        return _shift("bitwise_right_shift", self, other, False)

    def __rlshift__(self, other):
        """``other << self`` for a Python int ``other``."""
        return _shift("__rlshift__", other, self, True)

    def __rrshift__(self, other):
        """``other >> self`` for a Python int ``other``."""
        return _shift("__rrshift__", other, self, False)

    def bitwise_left_shift_(self, other):
        """In-place ``self <<= other``."""
        return _copy_result("bitwise_left_shift_", self, _shift("bitwise_left_shift_", self, other, True))

    def bitwise_right_shift_(self, other):
        """In-place ``self >>= other``."""
        return _copy_result("bitwise_right_shift_", self, _shift("bitwise_right_shift_", self, other, False))


for _name, _fn in (
    ("bitwise_left_shift", _ShiftMethods.bitwise_left_shift),
    ("bitwise_right_shift", _ShiftMethods.bitwise_right_shift),
    ("__lshift__", _dunder(_ShiftMethods.bitwise_left_shift)),
    ("__rshift__", _dunder(_ShiftMethods.bitwise_right_shift)),
    ("__rlshift__", _dunder(_ShiftMethods.__rlshift__)),
    ("__rrshift__", _dunder(_ShiftMethods.__rrshift__)),
    ("bitwise_left_shift_", _ShiftMethods.bitwise_left_shift_),
    ("bitwise_right_shift_", _ShiftMethods.bitwise_right_shift_),
    ("__ilshift__", _ShiftMethods.bitwise_left_shift_),
    ("__irshift__", _ShiftMethods.bitwise_right_shift_),
):
    setattr(Tensor, _name, _fn)
del _name, _fn


def _is_inference(self):
    """False: rustdl has no inference tensors. ``inference_mode`` only turns gradient recording
    off, and a tensor made inside it is an ordinary tensor (it may be used in autograd later),
    unlike PyTorch's inference tensors."""
    return False


Tensor.is_inference = _is_inference


# ---- PyTorch's dtype rules for rounding and logsumexp, and N-d inner products


def _integral(name, self):
    """``None`` for a float tensor; a copy of an integer one (already whole: PyTorch keeps its
    dtype); a TypeError for bool, which PyTorch does not round."""
    if self.dtype == _bool:
        raise TypeError(f"{name}: not implemented for bool tensors (shape {tuple(self.shape)})")
    if not self.is_floating_point():
        return self.clone()
    return None


_orig_rounding = {n: getattr(Tensor, n) for n in ("floor", "ceil", "round", "trunc")}


class _RoundingMethods:
    """``floor``/``ceil``/``trunc``/``round`` with PyTorch's integer rule (attached below)."""

    def floor(self):
        """Largest integer not above each element (integer input is returned as a copy)."""
        same = _integral("floor", self)
        return same if same is not None else _orig_rounding["floor"](self)

    def ceil(self):
        """Smallest integer not below each element (integer input is returned as a copy)."""
        same = _integral("ceil", self)
        return same if same is not None else _orig_rounding["ceil"](self)

    def trunc(self):
        """Each element rounded toward zero (integer input is returned as a copy)."""
        same = _integral("trunc", self)
        return same if same is not None else _orig_rounding["trunc"](self)

    def round(self, decimals=0):
        """Each element rounded half to even at ``decimals`` (integer input is returned as a copy)."""
        same = _integral("round", self)
        return same if same is not None else _orig_rounding["round"](self, decimals)


_orig_logsumexp = Tensor.logsumexp


def _logsumexp(self, dim, keepdim=False):
    """``log(sum(exp(x)))`` along ``dim``, computed stably; integer and bool input in float32."""
    x = self if self.is_floating_point() else self.to(float32)
    return _orig_logsumexp(x, dim, keepdim)


_orig_inner = Tensor.inner


def _inner(self, other):
    """Inner product over the last dims (a 0-d side multiplies), as ``torch.inner``."""
    if not isinstance(other, Tensor):
        raise TypeError(f"inner: expected a tensor, got {type(other).__name__}")
    if self.dim() == 0 or other.dim() == 0:
        return self * other
    if self.dim() == 1 and other.dim() == 1:
        return _orig_inner(self, other)
    k = self.shape[-1]
    if other.shape[-1] != k:
        raise _rd.ArgumentError(
            f"inner: the last dims must match, got shapes {tuple(self.shape)} and {tuple(other.shape)}"
        )
    rows, cols = _math.prod(self.shape[:-1]), _math.prod(other.shape[:-1])
    flat = self.reshape(rows, k).matmul(other.reshape(cols, k).t())
    return flat.reshape(*self.shape[:-1], *other.shape[:-1])


for _name in ("floor", "ceil", "round", "trunc"):
    setattr(Tensor, _name, getattr(_RoundingMethods, _name))
Tensor.logsumexp = _logsumexp
Tensor.inner = _inner
del _name


# ---- clamp of an integer tensor by float bounds: PyTorch's result type is float32


_orig_clamp = Tensor.clamp
_orig_clip = Tensor.clip


def _float_bound(self, *bounds):
    """Whether clamping this tensor by ``bounds`` promotes it to float32, as PyTorch's type
    promotion of an integer (or bool) tensor with a Python float or a floating tensor."""
    if self.is_floating_point():
        return False
    return any(
        isinstance(b, builtins.float) or (isinstance(b, Tensor) and b.is_floating_point()) for b in bounds
    )


_INT_RANGES = {
    "uint8": (0, 2**8 - 1),
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
}


def _check_int_bounds(self, lo, hi):
    """Integer bounds for an integer tensor, as PyTorch takes them: a lower bound above the
    dtype's range, or an upper bound below it, is refused; one beyond the range on its own side
    bounds nothing and is moved to the range's end (it would wrap around). Returns the bounds."""
    rng = _INT_RANGES.get(self.dtype.name) if isinstance(self, Tensor) else None
    if rng is None:
        return lo, hi

    def is_int(b):
        return isinstance(b, (builtins.int, _np.integer)) and not isinstance(b, builtins.bool)

    for b, name, bad in ((lo, "min", lambda v: v > rng[1]), (hi, "max", lambda v: v < rng[0])):
        if is_int(b) and bad(int(b)):
            raise _rd.ArgumentError(
                f"clamp: {name} value {int(b)} is outside the representable range of {self.dtype.name} "
                f"(it cannot be converted to type {self.dtype.name} without overflow)"
            )
    if is_int(lo):
        lo = builtins.max(int(lo), rng[0])
    if is_int(hi):
        hi = builtins.min(int(hi), rng[1])
    return lo, hi


def _clamp_input(self, lo, hi):
    """This tensor in the dtype PyTorch clamps it in: an integer (or bool) tensor with a float
    bound is promoted, to float32 for a Python float and to a floating tensor bound's dtype
    where that bound decides (a 0-d float64 bound makes float64). An integer bound outside an
    integer tensor's dtype is refused, as PyTorch's (it would wrap around)."""
    if not _float_bound(self, lo, hi):
        return self
    from ._breadth_g import result_type

    dt = self.dtype
    for b in (lo, hi):
        if b is not None:
            dt = result_type(self.to(dt), b)
    return self.to(dt if _rd.zeros((), dtype=dt).is_floating_point() else float32)


class _ClampMethods:
    """``clamp``/``clip`` with PyTorch's result type (attached to Tensor below)."""

    def clamp(self, min=None, max=None):  # noqa: A002
        """Elementwise ``min(max(x, min), max)``; an integer tensor with float bounds is promoted
        first (see ``_clamp_input``)."""
        x = _clamp_input(self, min, max)
        min, max = _check_int_bounds(x, min, max)  # noqa: A001
        return _orig_clamp(x, min, max)

    def clip(self, min=None, max=None):  # noqa: A002
        """Alias of :meth:`clamp`."""
        x = _clamp_input(self, min, max)
        min, max = _check_int_bounds(x, min, max)  # noqa: A001
        return _orig_clip(x, min, max)

    def clamp_min(self, min):  # noqa: A002
        """:meth:`clamp` with only a lower bound (the same result type)."""
        x = _clamp_input(self, min, None)
        min, _ = _check_int_bounds(x, min, None)  # noqa: A001
        return _orig_clamp_min(x, min)

    def clamp_max(self, max):  # noqa: A002
        """:meth:`clamp` with only an upper bound (the same result type)."""
        x = _clamp_input(self, None, max)
        _, max = _check_int_bounds(x, None, max)  # noqa: A001
        return _orig_clamp_max(x, max)


def _checked_inplace_clamp(native, which):
    def method(self, *args, **kwargs):
        if which == "both":
            lo = args[0] if args else kwargs.get("min")
            hi = args[1] if len(args) > 1 else kwargs.get("max")
            lo, hi = _check_int_bounds(self, lo, hi)
            return native(self, lo, hi)
        b = args[0] if args else kwargs.get(which)
        lo, hi = _check_int_bounds(self, b if which == "min" else None, b if which == "max" else None)
        return native(self, lo if which == "min" else hi)

    method.__name__ = method.__qualname__ = native.__name__
    method.__doc__ = native.__doc__
    return method


for _name, _which in (("clamp_", "both"), ("clip_", "both"), ("clamp_min_", "min"), ("clamp_max_", "max")):
    setattr(Tensor, _name, _checked_inplace_clamp(getattr(Tensor, _name), _which))

_orig_clamp_min = Tensor.clamp_min
_orig_clamp_max = Tensor.clamp_max
Tensor.clamp = _ClampMethods.clamp
Tensor.clip = _ClampMethods.clip
Tensor.clamp_min = _ClampMethods.clamp_min
Tensor.clamp_max = _ClampMethods.clamp_max


_native_mean = Tensor.mean


def _mean(self, dim=None, keepdim=False, *, dtype=None):
    """``Tensor.mean`` with PyTorch's ``dtype=``: the input is cast before averaging (so an
    integer tensor averages with ``dtype=torch.float32``)."""
    if dtype is not None:
        self = self.to(dtype)
    return _native_mean(self, dim, keepdim)


_mean.__doc__ = (_native_mean.__doc__ or "") + "\n\n" + (_mean.__doc__ or "")
Tensor.mean = _mean


# ---- PyTorch keyword spellings of the native constructors: cat/stack(axis=), arange(end=)


def _index_number(op, name, v):
    """A 0-d tensor given where a number is taken, as the Python number it holds (an int for an
    integer or bool tensor, a float otherwise), as PyTorch reads ``arange(lengths.max())``."""
    if not isinstance(v, Tensor):
        return v
    if v.dim() != 0:
        raise TypeError(
            f"{op}(): argument '{name}' must be a number or a 0-d tensor, got shape {tuple(v.shape)}"
        )
    v = v.item()
    return builtins.int(v) if isinstance(v, builtins.bool) else v


def cat(tensors, dim=0, *, axis=None, out=None):
    """Concatenates ``tensors`` along ``dim`` (``axis`` is accepted as its alias, as PyTorch's
    ``cat`` / ``concat`` / ``concatenate``)."""
    if axis is not None:
        dim = axis
    res = _rd.cat(tensors, dim)
    if out is None:
        return res
    from . import _into  # the functional forms' one out= helper

    return _into(out, res)


def stack(tensors, dim=0, *, axis=None, out=None):
    """Stacks ``tensors`` along a new dim ``dim`` (``axis`` is accepted as its alias, as PyTorch)."""
    if axis is not None:
        dim = axis
    res = _rd.stack(tensors, dim)
    if out is None:
        return res
    from . import _into

    return _into(out, res)


def arange(*args, **kwargs):
    """``arange(end)``, ``arange(start, end, step=1)`` with ``dtype`` / ``device`` /
    ``requires_grad``, as ``torch.arange``: int64 for integer bounds, the default float dtype
    otherwise. Bounds may be 0-d tensors (``arange(lengths.max())``: an integer tensor counts as
    an int) and ``end`` may be given alone by keyword (``arange(end=3)``)."""
    out = _arange(*args, **kwargs)
    if kwargs.get("requires_grad"):
        _rd._remember_leaf(out)  # the object AccumulateGrad.variable hands back
    return out


def _arange(*args, **kwargs):
    if kwargs:
        if not args and "start" not in kwargs and "end" in kwargs and "step" not in kwargs:
            args = (kwargs.pop("end"),)
        elif "start" in kwargs or "end" in kwargs:
            # bounds by keyword: the positional form, so every rule below applies to them too
            if len(args) > 1 or (args and "start" in kwargs):
                raise TypeError("arange() got multiple values for argument 'start'")
            if "end" not in kwargs:
                raise TypeError("arange() missing required argument 'end'")
            start = kwargs.pop("start") if "start" in kwargs else (args[0] if args else 0)
            args = (start, kwargs.pop("end"), kwargs.pop("step", 1))
        for name in ("start", "end", "step"):
            if isinstance(kwargs.get(name), Tensor):
                kwargs[name] = _index_number("arange", name, kwargs[name])
    for a in args:
        if isinstance(a, Tensor):
            names = ("end",) if len(args) == 1 else ("start", "end", "step")
            args = tuple(_index_number("arange", n, a) for n, a in zip(names, args[:3])) + args[3:]
            break
    dtype = kwargs.get("dtype")
    if _integral_dtype(dtype) and 1 <= len(args) <= 3 and "start" not in kwargs and "end" not in kwargs:
        start, end, step = (
            (0, args[0], 1)
            if len(args) == 1
            else (args[0], args[1], args[2] if len(args) == 3 else kwargs.get("step", 1))
        )
        if any(
            isinstance(v, builtins.float) and not builtins.float(v).is_integer() for v in (start, end, step)
        ):
            # PyTorch's integer arange with fractional bounds: the length from the values as
            # given, the elements from the start and step truncated to integers
            span = (builtins.float(end) - builtins.float(start)) / builtins.float(step) if step else -1.0
            if span < 0 or not _math.isfinite(span):
                return _rd.arange(
                    builtins.float(start), builtins.float(end), builtins.float(step)
                )  # its error
            n = _math.ceil(span)
            rest = {k: v for k, v in kwargs.items() if k != "step"}
            return _rd.arange(n, **rest) * builtins.int(step) + builtins.int(start)
    return _rd.arange(*args, **kwargs)


def _integral_dtype(dtype):
    """True for an integer dtype (not bool, not floating)."""
    return dtype is not None and dtype != _bool and not _rd.zeros((), dtype=dtype).is_floating_point()


def linspace(start, end, steps, *, dtype=None, **kwargs):
    """``steps`` evenly spaced values from ``start`` to ``end``, as ``torch.linspace``; with an
    integer ``dtype`` the end points are truncated to integers first, as PyTorch does."""
    if _integral_dtype(dtype) and not isinstance(start, Tensor) and not isinstance(end, Tensor):
        rng = _INT_RANGES.get(dtype.name)
        for v in (start, end):
            if rng is not None and _math.isfinite(v) and not rng[0] <= v <= rng[1]:
                raise _rd.ArgumentError(
                    f"linspace: value {v} cannot be converted to type {dtype.name} without overflow"
                )
        if steps == 0:  # no values: the end points are not read (NaN ones too)
            return _rd.linspace(0, 0, 0, dtype=dtype, **kwargs)
        start, end = builtins.int(start), builtins.int(end)
    return _rd.linspace(start, end, steps, dtype=dtype, **kwargs)


# ---- memory formats: torch.channels_last & co. rustdl keeps ONE layout (row-major, "contiguous
# format"): every memory_format= is checked as PyTorch checks it, then gives that layout.


class memory_format:
    """A memory layout name, as ``torch.memory_format`` (``contiguous_format``,
    ``channels_last``, ``channels_last_3d``, ``preserve_format``). rustdl stores every tensor in
    row-major (contiguous) order, so a ``memory_format=`` argument is accepted and checked (a
    channels-last format needs a 4-D, resp. 5-D, tensor) but the result is the ordinary
    contiguous tensor; :meth:`Tensor.is_contiguous` answers truthfully from the strides."""

    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"rustdl.{self._name}"

    def __reduce__(self):  # pickled as the module-level singleton of that name
        return self._name


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")

# the dims of a channels-last tensor from the fastest-varying outward: C, then W, H (, D), then N
_CHANNELS_LAST_ORDER = {"channels_last": (1, 3, 2, 0), "channels_last_3d": (1, 4, 3, 2, 0)}


def _check_memory_format(op, t, fmt, allow_none=True):
    """Raises as PyTorch for a ``memory_format=`` that is not one (``None`` where ``allow_none``),
    or a channels-last format for a tensor of the wrong rank."""
    if fmt is None and allow_none:
        return
    if not isinstance(fmt, memory_format):
        raise TypeError(f"{op}(): argument 'memory_format' must be a memory_format, got {type(fmt).__name__}")
    order = _CHANNELS_LAST_ORDER.get(fmt._name)
    if order is not None and t.dim() != len(order):
        raise RuntimeError(
            f"{op}: required rank {len(order)} tensor to use {fmt._name} format, got shape {tuple(t.shape)}"
        )


def _format_keyword(op, kwargs):
    """The ``memory_format`` of a method's keywords; any other keyword is a TypeError."""
    extra = set(kwargs) - {"memory_format"}
    if extra:
        raise TypeError(f"{op}() got an unexpected keyword argument '{sorted(extra)[0]}'")
    return kwargs["memory_format"]


def _check_contiguous_format(t, kwargs):
    """``Tensor.contiguous(memory_format=...)``'s check (the layout stays row-major)."""
    _check_memory_format("contiguous", t, _format_keyword("contiguous", kwargs), allow_none=False)


def _check_clone_format(t, kwargs):
    """``Tensor.clone(memory_format=...)``'s check (the layout stays row-major)."""
    _check_memory_format("clone", t, _format_keyword("clone", kwargs))


def _is_contiguous_in(t, fmt):
    """``Tensor.is_contiguous(memory_format=fmt)``: with ``channels_last`` (4-D) or
    ``channels_last_3d`` (5-D), whether the elements lie in that order (size-1 dims aside), as
    PyTorch decides from the strides; otherwise whether they lie in row-major order."""
    if fmt is contiguous_format or fmt is preserve_format:
        return t.is_contiguous()
    if not isinstance(fmt, memory_format):
        raise TypeError(
            f"is_contiguous(): argument 'memory_format' must be a memory_format, got {type(fmt).__name__}"
        )
    order = _CHANNELS_LAST_ORDER[fmt._name]
    if t.dim() != len(order):
        return False
    shape, strides = t.shape, t.stride()
    expected = 1
    for d in order:
        if shape[d] != 1:
            if strides[d] != expected:
                return False
            expected *= shape[d]
    return True


def _accepting_memory_format(fn):
    """``fn(input, ...)`` (a native ``*_like`` constructor) that also takes PyTorch's
    ``memory_format=``, checked and then ignored (one layout)."""
    import functools

    @functools.wraps(fn)
    def like(*args, **kwargs):
        if "memory_format" in kwargs:
            fmt = kwargs.pop("memory_format")
            if args:
                _check_memory_format(fn.__name__, args[0], fmt)
        return fn(*args, **kwargs)

    return like


empty_like = _accepting_memory_format(_rd.empty_like)
zeros_like = _accepting_memory_format(_rd.zeros_like)
ones_like = _accepting_memory_format(_rd.ones_like)
full_like = _accepting_memory_format(_rd.full_like)
rand_like = _accepting_memory_format(_rd.rand_like)
randn_like = _accepting_memory_format(_rd.randn_like)


# ---- integer helpers: gcd / lcm (Euclid's algorithm over whole tensors), unravel_index


def _int_operands(op, input, other):  # noqa: A002
    for name, t in (("input", input), ("other", other)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): argument '{name}' must be a Tensor, got {type(t).__name__}")
    from ._breadth_g import result_type

    dt = result_type(input, other)
    if dt.is_floating_point or getattr(dt, "is_complex", False) or dt == _bool:
        raise TypeError(f"{op}: expected integer tensors, got {input.dtype} and {other.dtype}")
    # a 0-d CPU operand joins the other's device, as in PyTorch's elementwise ops
    if input.device != other.device:
        if input.dim() == 0 and input.device.type == "cpu":
            input = input.to(other.device)
        elif other.dim() == 0 and other.device.type == "cpu":
            other = other.to(input.device)
    return broadcast_tensors(input.to(dt), other.to(dt))


def gcd(input, other):  # noqa: A002
    """Elementwise greatest common divisor of integer tensors (broadcast), non-negative, with
    ``gcd(0, 0) = 0``, as ``torch.gcd``. Runs Euclid's algorithm on all elements at once, one
    round of tensor ops per step (at most ~90 for int64)."""
    a, b = _int_operands("gcd", input, other)
    dt = a.dtype
    if dt != int64:  # |−128| does not fit in int8: Euclid runs in int64, the result is cast back
        a, b = a.to(int64), b.to(int64)
    a, b = a.abs(), b.abs()
    while True:
        nonzero = b.ne(0)
        if not builtins.bool(nonzero.any()):
            return a.to(dt)
        # where b == 0 the pair is done: keep a, and divide by 1 to stay defined
        r = a.remainder(_rd.where(nonzero, b, _rd.ones_like(b)))
        a, b = _rd.where(nonzero, b, a), _rd.where(nonzero, r, b)


def lcm(input, other):  # noqa: A002
    """Elementwise least common multiple of integer tensors (broadcast), non-negative, with
    ``lcm(a, 0) = 0``, as ``torch.lcm``."""
    a, b = _int_operands("lcm", input, other)
    g = gcd(a, b)
    zero = g.eq(0)
    return _rd.where(zero, g, (a.abs() // _rd.where(zero, _rd.ones_like(g), g)) * b.abs())


Tensor.gcd = gcd
Tensor.lcm = lcm


def unravel_index(indices, shape):
    """The coordinates of flat (row-major) ``indices`` in a tensor of ``shape``, one int64
    tensor per dim of ``shape`` (each of ``indices``' shape), as ``torch.unravel_index``.
    Indices outside ``[0, numel)`` wrap around (``-1`` is the last element), as PyTorch's."""
    import operator

    if not isinstance(indices, Tensor):
        raise TypeError(f"unravel_index: expected 'indices' to be a Tensor, got {type(indices).__name__}")
    if indices.is_floating_point() or indices.dtype == _bool:
        raise TypeError(f"unravel_index: expected 'indices' to be integer dtype, but got {indices.dtype}")
    dims = (shape,) if not isinstance(shape, (tuple, list)) else tuple(shape)
    try:
        dims = tuple(operator.index(d) for d in dims)
    except TypeError:
        raise TypeError(
            f"unravel_index: expected 'shape' to be an int or a sequence of ints, got {shape!r}"
        ) from None
    if builtins.any(d < 0 for d in dims):
        raise _rd.ArgumentError(f"unravel_index: 'shape' cannot have negative values, but got {dims}")
    if builtins.any(d == 0 for d in dims) and indices.numel() > 0:
        raise _rd.ArgumentError(
            f"unravel_index: 'shape' cannot have zero dimensions when 'indices' is non-empty, but got {dims}"
        )
    coords = []
    rest = indices
    for d in reversed(dims):
        coords.append(rest.remainder(d))  # floor remainder: negative indices wrap
        rest = rest.div(d, rounding_mode="floor")
    return tuple(reversed(coords))


def _format(self, format_spec):
    """``format(t, spec)`` / f-strings, as PyTorch: a 0-d tensor formats as the Python number it
    holds (``f"{loss:.3f}"``, ``"{}".format(t)`` gives ``"1.5"``); any other tensor only with an
    empty spec, as ``str(t)``. A subclass instance (a ``Parameter`` too) formats as its repr, as
    PyTorch's; rustdl's stand-ins for plain tensors (an optimizer's step count) as plain."""
    if self.dim() == 0 and (type(self) is Tensor or getattr(type(self), "_formats_as_plain", False)):
        return self.item().__format__(format_spec)
    return object.__format__(self, format_spec)


_format.__name__, _format.__qualname__ = "__format__", "Tensor.__format__"
Tensor.__format__ = _format


def _make_subclass(
    cls,
    data,
    require_grad=False,
    dispatch_sizes_strides_policy=None,
    dispatch_device=False,
    dispatch_layout=False,
):  # noqa: E501
    """``Tensor._make_subclass(cls, data, require_grad)``: a ``cls`` instance sharing ``data``'s
    values (a new leaf, detached from ``data``'s history), as subclasses' ``__new__`` builds them."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError(f"_make_subclass: expected a subclass of Tensor, got {cls!r}")
    if not isinstance(data, Tensor):
        raise TypeError(f"_make_subclass: data must be a Tensor, got {type(data).__name__}")
    out = Tensor.__new__(cls, _raw_detach(data))
    if require_grad:
        _raw_requires_grad_(out, True)
    return out


def _as_subclass(self, cls):
    """``t.as_subclass(cls)``: ``t`` as a ``cls`` instance sharing its memory, as PyTorch's. One
    that requires grad is an alias in the graph (a non-leaf whose gradient flows to ``t``)."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError(f"as_subclass: expected a subclass of Tensor, got {cls!r}")
    out = Tensor.__new__(cls, _raw_detach(self))
    alias = _raw_requires_grad(self) and _rd.is_grad_enabled()
    out._replace_with(_raw_view_as(self, self) if alias else self)
    return out


# the native methods these internals use, taken before __torch_function__ may wrap them (making
# a subclass instance is not an op a hook sees, as in PyTorch)
_raw_detach = Tensor.detach
_raw_requires_grad_ = Tensor.requires_grad_
_raw_view_as = Tensor.view_as
_raw_requires_grad = Tensor.requires_grad.__get__

Tensor._make_subclass = staticmethod(_make_subclass)
# PyTorch's Python 2 spellings of division, the same methods
Tensor.__div__, Tensor.__rdiv__, Tensor.__idiv__ = (
    Tensor.__truediv__,
    Tensor.__rtruediv__,
    Tensor.__itruediv__,
)
Tensor.as_subclass = _as_subclass


def _rewrap(t, cls):
    """``t`` as a ``cls`` instance standing for the same tensor (its values, leaf-ness, gradient and
    history): what a subclass's op results, copies and unpickled tensors become."""
    out = Tensor.__new__(cls, _raw_detach(t))
    out._replace_with(t)
    return out


_plain_deepcopy = Tensor.__deepcopy__
_plain_reduce = Tensor.__reduce__
_plain_copy = Tensor.__copy__


def _copy(self):
    """``copy.copy``: a tensor sharing storage (see the core's), of the tensor's own class with
    its attributes (a shallow copy of them), as PyTorch's."""

    out = _plain_copy(self)
    if type(self) is Tensor:
        return out
    sub = _rewrap(out, type(self))
    sub.__dict__.update(self.__dict__)
    return sub


def _deepcopy(self, memo):
    """``copy.deepcopy``: a new leaf with its own storage (see the core's), of the tensor's own
    class with its attributes deep-copied, as PyTorch keeps a subclass. A tensor with history
    (not a leaf) is refused, as PyTorch refuses it: its copy could not keep the graph."""
    if not self.is_leaf:
        raise RuntimeError(
            "Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol at the "
            "moment.  If you were attempting to deepcopy a module, this may be because of a torch.nn.utils."
            "weight_norm usage, see https://github.com/pytorch/pytorch/pull/103001"
        )
    out = _plain_deepcopy(self, memo)
    if type(self) is Tensor:
        return out
    sub = _rewrap(out, type(self))
    sub.__dict__.update(out.__dict__)
    return sub


def _reduce_parts(self):
    """The core's pickling of ``self``: the function and arguments rebuilding its values, and
    its attributes (None when it has none)."""
    reduced = _plain_reduce(self)
    return reduced[0], reduced[1], (reduced[2] if len(reduced) > 2 and reduced[2] else None)


def _reduce(self):
    """Pickling: see the core's ``__reduce__``; a subclass instance is rebuilt as its class, with
    its attributes. Always a pair, as PyTorch's (a subclass's own ``__reduce_ex__`` unpacks
    ``fn, args = super().__reduce_ex__(proto)``)."""
    rebuild, args, state = _reduce_parts(self)
    if type(self) is Tensor and state is None:
        return rebuild, args
    return (_rebuild_subclass, (type(self), rebuild, args, state))


def _rebuild_subclass(cls, rebuild, args, state=None):
    """Unpickles a Tensor subclass instance (see ``_reduce``)."""
    t = rebuild(*args)
    out = t if cls is Tensor else _rewrap(t, cls)
    if state:
        _set_state(out, state)
    return out


def _set_state(obj, state):
    """A rebuilt tensor's attributes: through its class's ``__setstate__`` where it has one."""
    setstate = getattr(type(obj), "__setstate__", None)
    if setstate is not None and setstate is not getattr(object, "__setstate__", None):
        obj.__setstate__(state)
    else:
        obj.__dict__.update(state)


for _f, _name in ((_deepcopy, "__deepcopy__"), (_reduce, "__reduce__"), (_copy, "__copy__")):
    _f.__name__, _f.__qualname__ = _name, f"Tensor.{_name}"
    setattr(Tensor, _name, _f)


# conversions that change nothing give the tensor itself back, as PyTorch's (a Parameter stays
# that Parameter: code storing ``p.to(device)`` back into a module keeps its parameter)
_IDENTITY_CONVERSIONS = (
    "to", "cpu", "gpu", "float", "double", "long", "int", "short", "bool", "byte", "char", "type",
)  # fmt: skip


def _asks_sixteen_bit(args, kwargs) -> bool:
    d = kwargs.get("dtype")
    if getattr(d, "name", None) in ("float16", "bfloat16"):
        return True
    return any(getattr(a, "name", None) in ("float16", "bfloat16") for a in args if isinstance(a, _rd.dtype))


def _keeping_identity(orig):
    def method(self, *args, **kwargs):
        out = orig(self, *args, **kwargs)
        if (args or kwargs) and _asks_sixteen_bit(args, kwargs):
            # a conversion to a 16-bit dtype is a new tensor in PyTorch (rustdl's is float32)
            if isinstance(out, Tensor) and (
                out is self or (out.numel() and out.data_ptr() == self.data_ptr())
            ):
                out = out.clone()
            return out
        if (
            out is not self
            and isinstance(out, Tensor)
            and out.dtype == self.dtype
            and out.device == self.device
            and out.shape == self.shape
            and out.data_ptr() == self.data_ptr()
            and out.stride() == self.stride()
            and self.numel()  # (an empty tensor's address tells a copy from itself apart)
        ):
            return self
        return out

    method.__name__ = getattr(orig, "__name__", "method")
    method.__qualname__ = f"Tensor.{method.__name__}"
    method.__doc__ = getattr(orig, "__doc__", None)
    method._keeps_identity = True
    return method


def _install_identity_conversions() -> None:
    for name in _IDENTITY_CONVERSIONS:
        orig = getattr(Tensor, name, None)
        if orig is not None and not getattr(orig, "_keeps_identity", False):
            setattr(Tensor, name, _keeping_identity(orig))
