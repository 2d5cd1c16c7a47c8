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
