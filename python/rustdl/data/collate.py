"""Collation: a list of samples (tensors, numpy arrays, numbers, tuples, dicts) into one batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import Tensor, float64, from_numpy, int64, stack, tensor

__all__ = ["default_collate", "to_tensor"]


def to_tensor(value: Any) -> Any:
    """Numpy arrays to rustdl tensors (integer arrays become int64, float16 becomes float32);
    tensors and anything else pass through unchanged."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "iu":
            value = value.astype(np.int64, copy=False)
        elif value.dtype == np.float16:
            value = value.astype(np.float32)
        return from_numpy(np.ascontiguousarray(value))
    return value


def default_collate(batch: Sequence[Any]) -> Any:
    """Stacks a list of samples along a new dim 0, recursing into tuples, lists and dicts.

    Tensors are stacked with ``rustdl.stack``; numpy arrays with ``numpy.stack`` and then
    converted; Python ints become an int64 tensor, floats a float64 tensor (as PyTorch);
    strings and other objects are returned as a list.

    Example:
        >>> x, y = default_collate([(np.zeros(3, np.float32), 1), (np.ones(3, np.float32), 0)])
        >>> x.shape, y.tolist()
        ((2, 3), [1, 0])
    """
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    first = batch[0]
    if isinstance(first, Tensor):
        shapes = {tuple(b.shape) for b in batch}
        if len(shapes) > 1:
            raise ValueError(
                f"default_collate: tensors in a batch must have equal shapes, got {sorted(shapes)}"
            )
        return stack(list(batch), 0)
    if isinstance(first, (np.ndarray, np.generic)) and not isinstance(first, (np.str_, np.bytes_)):
        arrays = [np.asarray(b) for b in batch]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(
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
        return list(batch)
    if isinstance(first, Mapping):
        return {k: default_collate([b[k] for b in batch]) for k in first}
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # namedtuple
        return type(first)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(first, (tuple, list)):
        n = len(first)
        if any(len(b) != n for b in batch):
            raise ValueError("default_collate: each sample in a batch must have the same number of fields")
        return (
            [default_collate(list(s)) for s in zip(*batch)]
            if isinstance(first, list)
            else tuple(default_collate(list(s)) for s in zip(*batch))
        )
    return list(batch)
