"""``Tensor.view(dtype)``: the elements' bytes read as another dtype, as PyTorch's.

rustdl stores narrow integers widened (see ``DType::storage``), so the bytes are rebuilt through
numpy rather than aliased: the result has PyTorch's values and shape but its own memory, so an
in-place write to it (or a view of it), which would not reach the source, raises instead. Bytes viewed as float16/bfloat16 give those values in a float32
tensor (rustdl has no 16-bit float storage): how serialized half-precision weights are read."""

from __future__ import annotations

import numpy as np

from . import _rustdl
from ._rustdl import Tensor

_NUMPY = {
    "float32": np.float32,
    "float64": np.float64,
    "int64": np.int64,
    "int32": np.int32,
    "int16": np.int16,
    "int8": np.int8,
    "uint8": np.uint8,
    "bool": np.bool_,
}


# the 16-bit floats, read from their bytes into float32 tensors (rustdl stores no 16-bit floats):
# float16 through numpy's half, bfloat16 as the top half of a float32
_HALF = {"float16": np.float16, "bfloat16": np.uint16}


def _from_half(bits: np.ndarray, name: str) -> np.ndarray:
    if name == "float16":
        return bits.astype(np.float32)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _np_dtype(dtype: _rustdl.dtype) -> type:
    name = dtype.name
    if name in _HALF:
        return _HALF[name]
    if name not in _NUMPY:
        raise TypeError(f"view: viewing a tensor as {dtype} is not supported")
    return _NUMPY[name]


def view_dtype(t: Tensor, dtype: _rustdl.dtype) -> Tensor:
    """``t`` with its bytes read as ``dtype`` (the last dim scaled by the ratio of the sizes)."""
    if not isinstance(dtype, _rustdl.dtype):
        raise TypeError(f"view: expected a dtype, got {type(dtype).__name__}")
    if dtype == t.dtype or (dtype.name in _HALF and t.dtype == _rustdl.float32):
        # (a float32 tensor stands for 16-bit data already: it was made as float16/bfloat16)
        return t.view(tuple(t.shape))
    src, dst = _np_dtype(t.dtype), _np_dtype(dtype)
    a, b = np.dtype(src).itemsize, np.dtype(dst).itemsize
    shape = tuple(t.shape)
    if a != b:
        if t.dim() == 0:
            raise RuntimeError(
                f"view: self.dim() cannot be 0 to view {t.dtype} as {dtype} (different element sizes)"
            )
        if t.stride(-1) != 1 and shape[-1] != 1:
            raise RuntimeError(
                f"view: self.stride(-1) must be 1 to view {t.dtype} as {dtype} (different element sizes)"
            )
        if (shape[-1] * a) % b:
            raise RuntimeError(
                f"view: self.size(-1) must be divisible by {b // a if b > a else 1} to view {t.dtype} as {dtype} "
                f"(shape {shape})"
            )
    host = np.ascontiguousarray(t.detach().cpu().numpy().astype(src, copy=False))
    if host.ndim == 0:
        out = host.reshape(1).view(dst).reshape(())
    else:
        out = host.view(dst)
    if dtype.name in _HALF:
        out = _from_half(out, dtype.name)
    res = _rustdl.from_numpy(out.copy()).to(t.device)
    res = res.reshape(()) if t.dim() == 0 else res
    # a copy, not a view: an in-place write to it (which PyTorch would make reach ``t``) raises
    res._mark_dtype_view_copy()
    return res
