"""``torch._foreach_*``: an op applied to every tensor of a list (what EMA helpers and
hand-written optimizers call, e.g. ``torch._foreach_lerp_(ema, params, 1 - decay)``).

Each ``_foreach_<op>(tensors, ...)`` returns the list of ``<op>`` results; ``_foreach_<op>_``
changes every tensor in place and returns the list it was given. A second argument is one value
for all (a number, or a 0-d tensor where PyTorch takes one) or a list with one entry per tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._rustdl import Tensor

_UNARY = (
    "abs acos asin atan ceil cos cosh erf erfc exp expm1 floor frac lgamma log log10 log1p log2 neg "
    "reciprocal round rsqrt sigmoid sign sin sinh sqrt tan tanh trunc"
).split()
# ops with a second operand: a number, a 0-d tensor, or a list (numbers or tensors)
_BINARY = "add sub mul div maximum minimum clamp_max clamp_min pow".split()


def _tensors(op: str, tensors: Any, what: str = "self") -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: {what} must be a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise RuntimeError(f"{op}: tensor list must have at least one tensor")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {what}[{i}] must be a Tensor, got {type(t).__name__}")
    return list(tensors)


def _per_tensor(op: str, value: Any, n: int, single_tensor_ok: bool, what: str) -> list:
    """``value`` spread to ``n`` entries: a list is taken as one entry per tensor."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise RuntimeError(f"{op}: {what} has {len(value)} entries for {n} tensors")
        return list(value)
    if isinstance(value, Tensor):
        if not single_tensor_ok:
            raise TypeError(f"{op}: {what} must be a number or a list, got a tensor")
        if value.dim() != 0:
            raise RuntimeError(
                f"{op}: a single {what} tensor must be 0-dim (a scalar), got shape {tuple(value.shape)}"
            )
    return [value] * n


def _as_operand(t: Tensor, o: Any) -> Any:
    """A number as a 0-d tensor of ``t``'s dtype and device (for ops that take tensors only)."""
    if isinstance(o, Tensor):
        return o
    from . import tensor

    return tensor(o, dtype=t.dtype, device=t.device)


def _inplace(t: Tensor, name: str, *args: Any, **kwargs: Any) -> None:
    method = getattr(t, name + "_", None)
    if method is not None:
        method(*args, **kwargs)
    else:  # maximum_/minimum_ have no in-place method: the same write through copy_
        t.copy_(getattr(t, name)(*args, **kwargs))


def _unary(name: str, inplace: bool) -> Callable:
    op = f"_foreach_{name}{'_' if inplace else ''}"

    def fn(self: Any) -> Any:
        ts = _tensors(op, self)
        if inplace:
            for t in ts:
                _inplace(t, name)
            return self
        return [getattr(t, name)() for t in ts]

    fn.__name__ = op
    fn.__doc__ = f"``{name}`` of every tensor{' in place' if inplace else ''}."
    return fn


def _binary(name: str, inplace: bool) -> Callable:
    op = f"_foreach_{name}{'_' if inplace else ''}"

    def fn(self: Any, other: Any, *, alpha: Any = None) -> Any:
        if name == "pow" and not inplace and not isinstance(self, (list, tuple)):
            # a number to the power of every tensor: _foreach_pow(2.0, exponents)
            from . import pow as _pow

            return [_pow(self, e) for e in _tensors(op, other, "exponent")]
        ts = _tensors(op, self)
        others = _per_tensor(op, other, len(ts), True, "other")
        kw = {} if alpha is None else {"alpha": alpha}
        if alpha is not None and name not in ("add", "sub"):
            raise TypeError(f"{op}() got an unexpected keyword argument 'alpha'")
        if name in ("maximum", "minimum"):
            others = [_as_operand(t, o) for t, o in zip(ts, others)]
        if inplace:
            for t, o in zip(ts, others):
                _inplace(t, name, o, **kw)
            return self
        return [getattr(t, name)(o, **kw) for t, o in zip(ts, others)]

    fn.__name__ = op
    fn.__doc__ = f"``{name}`` of every tensor with its other operand{' in place' if inplace else ''}."
    return fn


def _pointwise3(name: str, inplace: bool) -> Callable:
    op = f"_foreach_{name}{'_' if inplace else ''}"

    def fn(self: Any, tensor1: Any, tensor2: Any, value: Any = 1) -> Any:
        ts = _tensors(op, self)
        t1 = _tensors(op, tensor1, "tensor1")
        t2 = _tensors(op, tensor2, "tensor2")
        if not len(ts) == len(t1) == len(t2):
            raise RuntimeError(f"{op}: the tensor lists have {len(ts)}, {len(t1)} and {len(t2)} tensors")
        if isinstance(value, Tensor) and value.dim() == 1:
            value = value.tolist()  # one scale per tensor, as PyTorch's Tensor scalars
        vals = _per_tensor(op, value, len(ts), False, "value")
        if inplace:
            for t, a, b, v in zip(ts, t1, t2, vals):
                getattr(t, name + "_")(a, b, value=v)
            return self
        return [getattr(t, name)(a, b, value=v) for t, a, b, v in zip(ts, t1, t2, vals)]

    fn.__name__ = op
    fn.__doc__ = f"``{name}`` of every tensor{' in place' if inplace else ''}."
    return fn


def _lerp(inplace: bool) -> Callable:
    op = f"_foreach_lerp{'_' if inplace else ''}"

    def fn(self: Any, tensors1: Any, weight: Any) -> Any:
        ts = _tensors(op, self)
        ends = _tensors(op, tensors1, "tensors1")
        if len(ends) != len(ts):
            raise RuntimeError(f"{op}: the tensor lists have {len(ts)} and {len(ends)} tensors")
        ws = _per_tensor(op, weight, len(ts), False, "weight")
        if inplace:
            for t, e, w in zip(ts, ends, ws):
                t.lerp_(e, w)
            return self
        return [t.lerp(e, w) for t, e, w in zip(ts, ends, ws)]

    fn.__name__ = op
    fn.__doc__ = "``lerp`` of every tensor towards its end" + (" in place." if inplace else ".")
    return fn


def _foreach_norm(self: Any, ord: Any = 2, dtype: Any = None) -> list:  # noqa: A002
    """The ``ord``-norm of every tensor (each a 0-d tensor), as ``torch._foreach_norm``."""
    from . import linalg

    ts = _tensors("_foreach_norm", self)
    return [linalg.vector_norm(t, ord, dtype=dtype) for t in ts]


def _foreach_max(self: Any) -> list:
    """The maximum of every tensor (each a 0-d tensor)."""
    return [t.max() for t in _tensors("_foreach_max", self)]


def _foreach_powsum(self: Any, ord: Any = 2, dtype: Any = None) -> list:  # noqa: A002
    """``Σ |x|^ord`` of every tensor (the norm before its root)."""
    out = []
    for t in _tensors("_foreach_powsum", self):
        x = t if dtype is None else t.to(dtype)
        out.append(x.abs().pow(ord).sum())
    return out


def _foreach_zero_(self: Any) -> Any:
    """Zeroes every tensor in place."""
    for t in _tensors("_foreach_zero_", self):
        t.zero_()
    return self


def _foreach_copy_(self: Any, src: Any, non_blocking: bool = False) -> Any:
    """Copies ``src[i]`` into ``self[i]`` for every i."""
    ts, ss = _tensors("_foreach_copy_", self), _tensors("_foreach_copy_", src, "src")
    if len(ts) != len(ss):
        raise RuntimeError(f"_foreach_copy_: the tensor lists have {len(ts)} and {len(ss)} tensors")
    for t, s in zip(ts, ss):
        t.copy_(s)
    return self


def _foreach_clone(self: Any) -> list:
    """A copy of every tensor."""
    return [t.clone() for t in _tensors("_foreach_clone", self)]


def _foreach_mm(self: Any, mat2: Any) -> list:
    """``self[i] @ mat2[i]`` for every i."""
    ts, ms = _tensors("_foreach_mm", self), _tensors("_foreach_mm", mat2, "mat2")
    if len(ts) != len(ms):
        raise RuntimeError(f"_foreach_mm: the tensor lists have {len(ts)} and {len(ms)} tensors")
    return [a.mm(b) for a, b in zip(ts, ms)]


def functions() -> dict[str, Callable]:
    """Every ``_foreach_*`` function by name."""
    out: dict[str, Callable] = {}
    for name in _UNARY:
        for inplace in (False, True):
            f = _unary(name, inplace)
            out[f.__name__] = f
    for name in _BINARY:
        for inplace in (False, True):
            f = _binary(name, inplace)
            out[f.__name__] = f
    for name in ("addcmul", "addcdiv"):
        for inplace in (False, True):
            f = _pointwise3(name, inplace)
            out[f.__name__] = f
    for inplace in (False, True):
        f = _lerp(inplace)
        out[f.__name__] = f
    for f in (
        _foreach_norm,
        _foreach_max,
        _foreach_powsum,
        _foreach_zero_,
        _foreach_copy_,
        _foreach_clone,
        _foreach_mm,
    ):
        out[f.__name__] = f
    return out
