"""Collation: a list of samples (tensors, numpy arrays, numbers, tuples, dicts) into one batch."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
from typing import Any

import numpy as np

from .. import ShapeError, Tensor, float64, from_numpy, stack, tensor
from .._complex import ComplexTensor

__all__ = ["collate", "default_collate", "default_collate_fn_map", "default_convert", "to_tensor"]

_UNSUPPORTED = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
# PyTorch's names for the message and for the numpy dtype kinds collation refuses (strings,
# bytes, unicode, objects), which custom collate functions copied from PyTorch's read
default_collate_err_msg_format = _UNSUPPORTED
np_str_obj_array_pattern = re.compile(r"[SaUO]")


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


_NOT_A_CONTAINER = object()


def _collate_fields(batch: Sequence[Any], first: Any, recurse: Any) -> Any:
    """A batch of mappings, namedtuples or sequences collated field by field with ``recurse``
    (as PyTorch: a copy of the first sample's mapping, so a defaultdict stays one; tuples give a
    list; other sequences are rebuilt as their type where it takes a list, a range cannot be);
    ``_NOT_A_CONTAINER`` for anything else."""
    if isinstance(first, Mapping):
        collated = {k: recurse([b[k] for b in batch]) for k in first}
        if isinstance(first, MutableMapping):
            try:
                clone = copy.copy(first)
                clone.update(collated)
                return clone
            except Exception:  # noqa: BLE001 - mappings that cannot be copied
                pass
        try:
            return type(first)(collated)
        except Exception:  # noqa: BLE001 - mapping types that cannot be built from a dict
            return collated
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # namedtuple
        return type(first)(*(recurse(s) for s in zip(*batch)))
    if isinstance(first, Sequence) and not isinstance(first, (str, bytes)):
        n = len(first)
        if any(len(b) != n for b in batch):
            # a ShapeError is both PyTorch's RuntimeError here and a ValueError
            raise ShapeError("default_collate: each element in list of batch should be of equal size")
        fields = [recurse(s) for s in zip(*batch)]
        if isinstance(first, tuple) or type(first) is list:
            return fields
        try:
            return type(first)(fields)
        except TypeError:
            return fields
    return _NOT_A_CONTAINER


class _EmptyBatch(IndexError, ValueError):
    """An empty batch: the ``IndexError`` PyTorch's collate raises reading its first sample."""


def _numbers_tensor(batch: Sequence[Any], dtype: np.dtype | None) -> Any:
    """``torch.tensor(batch, dtype=dtype)`` for a batch of numbers (``dtype`` None: inferred as
    PyTorch infers it); one-element (0-d) tensors count as their numbers, as in ``torch.tensor``."""
    if any(isinstance(b, Tensor) for b in batch):
        batch = [b.item() if isinstance(b, Tensor) and b.numel() == 1 else b for b in batch]
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
    return _collate(batch, default_collate_fn_map)


def _collate(batch: Sequence[Any], fn_map: dict | None) -> Any:
    """``default_collate`` with the collate functions ``fn_map`` adds: a sample type mapped to a
    function of the user's is collated by it, at any depth; the others by the built-in rules."""
    if len(batch) == 0:
        raise _EmptyBatch("default_collate: got an empty batch (list index out of range)")
    first = batch[0]
    if fn_map is not None:
        user = _user_collate_fn(fn_map, first)
        if user is not None:
            return user(batch, collate_fn_map=fn_map)
    if isinstance(first, (Tensor, ComplexTensor)):
        shape = tuple(first.shape)
        for k, b in enumerate(batch):
            if not isinstance(b, (Tensor, ComplexTensor)):
                raise TypeError(
                    f"default_collate: expected Tensor as element {k} in a batch of tensors, but got "
                    f"{type(b).__name__}"
                )
            if tuple(b.shape) != shape:
                # a ShapeError is also the RuntimeError PyTorch's stack raises here
                raise ShapeError(
                    f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 and "
                    f"{list(b.shape)} at entry {k}"
                )
        if isinstance(first, ComplexTensor):
            from .._complex import _r

            return _r().stack(list(batch), 0)  # the complex-aware stack
        return stack(list(batch), 0)
    if isinstance(first, (np.str_, np.bytes_)):
        return list(batch)  # numpy strings are str / bytes: kept as they are, as PyTorch's
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
    out = _collate_fields(batch, first, lambda part: _collate(part, fn_map))
    if out is not _NOT_A_CONTAINER:
        return out
    raise TypeError(_UNSUPPORTED.format(type(first).__name__))


# ---- PyTorch's extensible collation: ``collate(batch, collate_fn_map=...)`` and the map of
# per-type functions ``default_collate`` uses (adding a type to it extends ``default_collate``)


def _builtin_leaf(batch: Sequence[Any], *, collate_fn_map: dict | None = None) -> Any:  # noqa: ARG001
    return _collate(batch, None)


def collate_tensor_fn(batch: Sequence[Any], *, collate_fn_map: dict | None = None) -> Any:
    """Stacks a batch of tensors (``default_collate``'s rule for tensors)."""
    return _builtin_leaf(batch)


def collate_numpy_array_fn(batch: Sequence[Any], *, collate_fn_map: dict | None = None) -> Any:
    """Stacks a batch of numpy arrays into a tensor (``default_collate``'s rule for arrays)."""
    return _builtin_leaf(batch)


def collate_numpy_scalar_fn(batch: Sequence[Any], *, collate_fn_map: dict | None = None) -> Any:
    """A tensor of a batch of numpy scalars."""
    return _builtin_leaf(batch)


def collate_float_fn(batch: Sequence[Any], *, collate_fn_map: dict | None = None) -> Any:
    """A float64 tensor of a batch of Python floats."""
    return _builtin_leaf(batch)


def collate_int_fn(batch: Sequence[Any], *, collate_fn_map: dict | None = None) -> Any:
    """An int64 tensor of a batch of Python ints."""
    return _builtin_leaf(batch)


def collate_str_fn(batch: Sequence[Any], *, collate_fn_map: dict | None = None) -> Any:
    """A batch of strings (or bytes) as it is."""
    return batch


default_collate_fn_map: dict = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}
_BUILTIN_FNS = frozenset(
    {
        collate_tensor_fn,
        collate_numpy_array_fn,
        collate_numpy_scalar_fn,
        collate_float_fn,
        collate_int_fn,
        collate_str_fn,
    }
)


def _user_collate_fn(fn_map: dict, elem: Any) -> Any:
    """The function of ``fn_map`` other than a built-in rule that collates ``elem``'s type
    (its exact type first, then the first key it is an instance of), or None."""
    fn = fn_map.get(type(elem))
    if fn is not None:
        return None if fn in _BUILTIN_FNS else fn
    for key, fn in fn_map.items():
        if fn not in _BUILTIN_FNS and isinstance(elem, key):
            return fn
    return None


def collate(batch: Sequence[Any], *, collate_fn_map: dict | None = None) -> Any:
    """PyTorch's general collation: a batch whose first sample's type (or a base of it) is a key
    of ``collate_fn_map`` goes to that function, called as ``fn(batch, collate_fn_map=...)``;
    mappings, namedtuples and sequences are collated field by field with the same map; anything
    else raises ``TypeError``."""
    if len(batch) == 0:
        raise _EmptyBatch("collate: got an empty batch (list index out of range)")
    elem = batch[0]
    if collate_fn_map is not None:
        fn = collate_fn_map.get(type(elem))
        if fn is None:
            fn = next((f for k, f in collate_fn_map.items() if isinstance(elem, k)), None)
        if fn is not None:
            return fn(batch, collate_fn_map=collate_fn_map)
    out = _collate_fields(batch, elem, lambda part: collate(part, collate_fn_map=collate_fn_map))
    if out is not _NOT_A_CONTAINER:
        return out
    raise TypeError(_UNSUPPORTED.format(type(elem).__name__))


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
        converted = {k: default_convert(data[k]) for k in data}
        try:
            if isinstance(data, MutableMapping):
                # a copy of the same mapping (a defaultdict keeps its factory), values converted
                clone = copy.copy(data)
                clone.update(converted)
                return clone
            return type(data)(converted)
        except TypeError:  # mapping types that cannot be copied or built from a dict
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, tuple):
        return [default_convert(v) for v in data]  # a list, as PyTorch
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        converted_items = [default_convert(v) for v in data]
        try:
            if isinstance(data, MutableSequence):
                clone = copy.copy(data)  # the same kind of sequence (a deque stays a deque)
                for i, v in enumerate(converted_items):
                    clone[i] = v
                return clone
            return type(data)(converted_items)
        except TypeError:  # a sequence type not built from a list (range): a list, as PyTorch
            return converted_items
    return data
