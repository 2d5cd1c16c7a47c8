"""Collation: a list of samples (tensors, numpy arrays, numbers, tuples, dicts) into one batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import ShapeError, Tensor, float64, from_numpy, int64, stack, tensor
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


def default_collate(batch: Sequence[Any]) -> Any:
    """Stacks a list of samples along a new dim 0, recursing into tuples, lists and dicts.

    Tensors are stacked with ``rustdl.stack``; numpy arrays and numpy scalars with ``numpy.stack``
    and then converted; Python ints become an int64 tensor, floats a float64 tensor and bools a
    bool tensor (as PyTorch); strings and bytes are returned as they come (a list at the top, a
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
        return to_tensor(np.stack(arrays))
    if isinstance(first, bool):
        return tensor(list(batch))
    if isinstance(first, int):
        return tensor(list(batch), dtype=int64)
    if isinstance(first, float):
        return tensor(list(batch), dtype=float64)
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
