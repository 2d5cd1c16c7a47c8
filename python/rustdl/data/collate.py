"""Collation: a list of samples (tensors, numpy arrays, numbers, tuples, dicts) into one batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import ShapeError, Tensor, float64, from_numpy, stack, tensor
from .._complex import ComplexTensor

__all__ = ["default_collate", "default_convert", "to_tensor"]

_UNSUPPORTED = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def to_tensor(value: Any) -> Any:
    """Numpy arrays to rustdl tensors of the same dtype, as PyTorch's ``as_tensor`` (the integer
    types rustdl lacks, uint16/32/64, become int64; float16 becomes float32); tensors and anything
    else pass through unchanged."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "u" and value.dtype != np.uint8:
            value = value.astype(np.int64, copy=False)
        elif value.dtype == np.float16:
            value = value.astype(np.float32)
        elif value.dtype.kind == "c":
            from .._complex import _r

            return _r().from_numpy(value)  # a complex tensor
        # (not np.ascontiguousarray: it turns a 0-d array into shape (1,))
        return from_numpy(value if value.flags.c_contiguous else np.ascontiguousarray(value))
    return value


_BOOL, _INT64, _FLOAT64 = np.dtype(np.bool_), np.dtype(np.int64), np.dtype(np.float64)


def _default_float() -> np.dtype:
    """The numpy dtype of rustdl's default float dtype (float32 unless changed)."""
    from .. import get_default_dtype

    return _FLOAT64 if get_default_dtype() == float64 else np.dtype(np.float32)


def _promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch's type promotion of two dtypes: as numpy's, except that an integer (or bool) meeting
    a float or complex dtype gives that dtype unchanged (``int64`` with ``float32`` is ``float32``)."""
    if a == b:
        return a
    a_float, b_float = a.kind in "fc", b.kind in "fc"
    if a_float != b_float:
        return a if a_float else b
    return np.promote_types(a, b)


def _inferred_dtype(value: Any) -> np.dtype | None:
    """The dtype ``torch.tensor(value)`` infers, as a numpy dtype: Python bools, ints, floats and
    complex numbers are bool, int64, the default float dtype and its complex counterpart; numpy
    scalars and arrays keep their dtype; sequences promote their elements' dtypes (PyTorch's rule,
    so ``[1, 2.5]`` is float32). None for anything else (tensors, strings, objects)."""
    if isinstance(value, (np.ndarray, np.generic)):  # first: numpy.float64 is a float too
        return None if value.dtype.kind in "USOVMm" else value.dtype
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int):
        return _INT64
    if isinstance(value, float):
        return _default_float()
    if isinstance(value, complex):
        return np.dtype(np.complex128 if _default_float() == _FLOAT64 else np.complex64)
    if isinstance(value, (list, tuple)):
        result: np.dtype | None = None
        for item in value:
            dt = _inferred_dtype(item)
            if dt is None:
                return None
            result = dt if result is None else _promote(result, dt)
        return result
    return None


def _numbers_tensor(batch: Sequence[Any], dtype: np.dtype | None) -> Any:
    """``torch.tensor(batch, dtype=dtype)`` for a batch of numbers (``dtype`` None: inferred as
    PyTorch infers it)."""
    if dtype is None:
        dtype = _inferred_dtype(list(batch))
        if dtype is None:
            raise TypeError(_UNSUPPORTED.format(sorted({type(b).__name__ for b in batch})))
    # (the dtypes rustdl lacks, uint16/32/64 and float16, become int64 and float32, as to_tensor)
    if dtype.kind == "u" and dtype != np.uint8:
        dtype = _INT64
    elif dtype == np.float16:
        dtype = np.dtype(np.float32)
    values = np.array(list(batch), dtype=dtype)
    return to_tensor(values) if dtype.kind == "c" else tensor(values)


def default_collate(batch: Sequence[Any]) -> Any:
    """Stacks a list of samples along a new dim 0, recursing into tuples, lists and dicts.

    Tensors are stacked with ``rustdl.stack``; numpy arrays and numpy scalars with ``numpy.stack``
    and then converted (mixed dtypes promoted as PyTorch promotes them); a batch whose first
    element is a Python float becomes a float64 tensor, one whose first element is an int or bool
    the dtype ``torch.tensor(batch)`` infers (ints int64, bools bool, ``[1, 2.5]`` the default
    float dtype), as PyTorch; strings and bytes are returned as they come (a list at the top, a
    tuple inside a collated tuple, as PyTorch); mappings (of the same type when it can be rebuilt
    from a dict) and namedtuples are collated field by field, tuples and lists field by field
    into a list.
    Anything else (``None``, arbitrary objects, numpy arrays of strings or objects) raises
    ``TypeError``.

    Example:
        >>> x, y = default_collate([(np.zeros(3, np.float32), 1), (np.ones(3, np.float32), 0)])
        >>> x.shape, y.tolist()
        ((2, 3), [1, 0])
    """
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    first = batch[0]
    if isinstance(first, (Tensor, ComplexTensor)):
        shapes = {tuple(b.shape) for b in batch}
        if len(shapes) > 1:
            # a ShapeError is also the RuntimeError PyTorch's stack raises here
            raise ShapeError(
                f"default_collate: tensors in a batch must have equal shapes, got {sorted(shapes)}"
            )
        if isinstance(first, ComplexTensor):
            from .._complex import _r

            return _r().stack(list(batch), 0)  # the complex-aware stack
        return stack(list(batch), 0)
    if isinstance(first, (np.str_, np.bytes_)):
        return [str(b) if isinstance(b, np.str_) else bytes(b) for b in batch]
    if isinstance(first, (np.ndarray, np.generic)):
        if first.dtype.kind in "USOV":
            raise TypeError(_UNSUPPORTED.format(f"numpy array of dtype {first.dtype}"))
        arrays = [np.asarray(b) for b in batch]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ShapeError(
                f"default_collate: arrays in a batch must have equal shapes, got {sorted(shapes)}"
            )
        stacked = np.stack(arrays)
        if any(not isinstance(b, (np.ndarray, np.generic)) or b.dtype != first.dtype for b in batch):
            # mixed dtypes (or Python numbers and lists after a numpy first element): PyTorch's
            # promotion (its as_tensor and stack), not numpy's: int64 with float32 is float32
            dtype = _inferred_dtype(list(batch))
            if dtype is not None and dtype != stacked.dtype:
                stacked = stacked.astype(dtype)
        return to_tensor(stacked)
    if isinstance(first, int):
        # as PyTorch, ``torch.tensor(batch)``: the dtype is inferred from every element (bools
        # alone are bool, ints int64, a float anywhere makes it the default float dtype)
        return _numbers_tensor(batch, None)
    if isinstance(first, float):
        # as PyTorch, ``torch.tensor(batch, dtype=torch.float64)``
        return _numbers_tensor(batch, _FLOAT64)
    if isinstance(first, (str, bytes)):
        # as PyTorch, the batch itself: a list at the top, a tuple inside a collated tuple
        return batch if isinstance(batch, (list, tuple)) else list(batch)
    if isinstance(first, Mapping):
        collated = {k: default_collate([b[k] for b in batch]) for k in first}
        try:
            return type(first)(collated)
        except Exception:  # noqa: BLE001 - mapping types that cannot be built from a dict
            return collated
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # namedtuple
        return type(first)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(first, (tuple, list)):
        n = len(first)
        if any(len(b) != n for b in batch):
            # a ShapeError is both PyTorch's RuntimeError here and a ValueError
            raise ShapeError("default_collate: each element in list of batch should be of equal size")
        # a list either way, as PyTorch (tuples too, "for backwards compatibility")
        return [default_collate(s) for s in zip(*batch)]
    raise TypeError(_UNSUPPORTED.format(type(first).__name__))


def default_convert(data: Any) -> Any:
    """Converts one sample without batching it: numpy arrays and numpy scalars become tensors,
    recursing into tuples (which become lists, as in PyTorch), lists, namedtuples and dicts;
    everything else passes through. The
    ``DataLoader``'s collation when ``batch_size=None``.

    Example:
        >>> default_convert({"x": np.zeros(3, np.float32), "name": "a"})["x"].shape
        (3,)
    """
    if isinstance(data, (np.str_, np.bytes_)):
        return data
    if isinstance(data, (np.ndarray, np.generic)):
        if data.dtype.kind in "USOV":
            return data
        return to_tensor(np.asarray(data))
    if isinstance(data, Mapping):
        converted = {k: default_convert(v) for k, v in data.items()}
        try:
            return type(data)(converted)
        except Exception:  # noqa: BLE001 - mapping types that cannot be built from a dict
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, tuple):
        return [default_convert(v) for v in data]  # a list, as PyTorch
    if isinstance(data, list):
        return [default_convert(v) for v in data]
    return data
