"""``torch._utils``: the private helpers library code imports from it (device lookup, flattening
a list of tensors into one buffer and back)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import rustdl


def _get_available_device_type() -> str | None:
    """``"cuda"`` when the GPU answers to that name (see rustdl.torchcompat), else None."""
    return "cuda" if rustdl.cuda.is_available() else None


def _get_device_module(device_type: str | None = None) -> Any:
    """The ``torch.<device_type>`` module (``torch.cuda`` by default)."""
    import importlib

    name = device_type or _get_available_device_type() or "cuda"
    return importlib.import_module(f"torch.{name}")


def _get_device_index(device: Any, optional: bool = False, allow_cpu: bool = False) -> int:
    """The index of ``device`` (a device, a string such as ``"cuda:1"``, or an int); -1 for the CPU
    when ``allow_cpu``; the current device when ``optional`` and no index is given."""
    if isinstance(device, str):
        # read as written ("cuda:1" is index 1 even where "cuda" runs on the CPU)
        kind, _, index = device.partition(":")
        if kind == "cpu" and allow_cpu:
            return -1
        if index:
            return int(index)
        device = rustdl.device(device)
    if isinstance(device, int):
        return device
    if device is None:
        if optional:
            return 0
        raise ValueError("Expected a torch.device with a specified index or an integer, but got: None")
    if device.type == "cpu":
        if allow_cpu:
            return -1
        raise ValueError(f"Expected a non-CPU device, but got: {device}")
    if device.index is None:
        if optional:
            return 0
        raise ValueError(f"Expected a torch.device with a specified index or an integer, but got: {device}")
    return int(device.index)


def _flatten_dense_tensors(tensors: Sequence[Any]) -> Any:
    """One 1-D tensor holding the values of ``tensors`` one after another."""
    if len(tensors) == 1:
        return tensors[0].contiguous().view(-1)
    return rustdl.cat([t.contiguous().view(-1) for t in tensors], 0)


def _unflatten_dense_tensors(flat: Any, tensors: Sequence[Any]) -> tuple:
    """Views of ``flat`` shaped as ``tensors`` (the inverse of :func:`_flatten_dense_tensors`)."""
    outputs = []
    offset = 0
    for t in tensors:
        n = t.numel()
        outputs.append(flat.narrow(0, offset, n).view_as(t))
        offset += n
    return tuple(outputs)


def _accumulate(iterable: Iterable[Any], fn: Callable[[Any, Any], Any] = operator.add) -> Iterable[Any]:
    """Running totals: ``[1, 2, 3]`` gives 1, 3, 6."""
    it = iter(iterable)
    try:
        total = next(it)
    except StopIteration:
        return
    yield total
    for element in it:
        total = fn(total, element)
        yield total


# ---- what PyTorch's tensors pickle to (plain ``pickle``, ``copy``, joblib): rebuilt here


def _rebuild_tensor(storage: Any, storage_offset: int, size: Any, stride: Any) -> Any:
    """``torch._utils._rebuild_tensor``: a tensor of ``size``/``stride`` over ``storage`` from
    ``storage_offset`` (the same memory: tensors pickled over one storage stay views of it)."""
    from rustdl._storage import _StorageBase

    if not isinstance(storage, _StorageBase) or storage._flat is None:
        raise TypeError(f"_rebuild_tensor: expected a storage, got {type(storage).__name__}")
    return storage._flat.as_strided(tuple(size), tuple(stride), int(storage_offset))


def _rebuild_tensor_v2(
    storage: Any,
    storage_offset: int,
    size: Any,
    stride: Any,
    requires_grad: bool,
    backward_hooks: Any,
    metadata: Any = None,
) -> Any:
    """``torch._utils._rebuild_tensor_v2``, what a pickled PyTorch tensor names."""
    t = _rebuild_tensor(storage, storage_offset, size, stride)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_parameter(data: Any, requires_grad: bool, backward_hooks: Any) -> Any:
    """``torch._utils._rebuild_parameter``: an ``nn.Parameter`` over ``data``."""
    return rustdl.nn.Parameter(data, requires_grad)


def _rebuild_parameter_with_state(data: Any, requires_grad: bool, backward_hooks: Any, state: Any) -> Any:
    """``torch._utils._rebuild_parameter_with_state``: a parameter with its Python attributes."""
    p = _rebuild_parameter(data, requires_grad, backward_hooks)
    if isinstance(state, dict):
        p.__dict__.update(state)
    return p
