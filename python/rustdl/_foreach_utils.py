"""``torch.utils._foreach_utils``: grouping the tensors of an optimizer step by device and dtype
(hand-written optimizers batch their ``_foreach_*`` calls with it), and whether a device takes
the ``_foreach_*`` path (every rustdl device does)."""

from __future__ import annotations

from typing import Any

from ._rustdl import Tensor

__all__ = [
    "_device_has_foreach_support",
    "_get_foreach_kernels_supported_devices",
    "_get_fused_kernels_supported_devices",
    "_group_tensors_by_device_and_dtype",
    "_has_foreach_support",
]


def _get_foreach_kernels_supported_devices() -> list[str]:
    return ["cuda", "gpu"]


def _get_fused_kernels_supported_devices() -> list[str]:
    return ["cuda", "gpu"]


def _device_has_foreach_support(device: Any) -> bool:
    kind = getattr(device, "type", str(device).split(":")[0])
    return kind in (*_get_foreach_kernels_supported_devices(), "cpu")


def _has_foreach_support(tensors: list[Any], device: Any) -> bool:
    # plain tensors only (a Parameter or other subclass takes the per-tensor path), as PyTorch
    return _device_has_foreach_support(device) and all(t is None or type(t) is Tensor for t in tensors)


def _group_tensors_by_device_and_dtype(tensorlistlist: list[list[Any]], with_indices: bool = False) -> dict:
    """``{(device, dtype): ([list per input list], indices)}``: the tensors at position ``i`` of
    every list go to the group of ``tensorlistlist[0][i]``'s device and dtype, in order
    (``indices`` lists the positions when ``with_indices``, else it is empty). Entries of the
    other lists may be None; those of the first may not."""
    if not tensorlistlist:
        return {}
    n = len(tensorlistlist[0])
    for k, lst in enumerate(tensorlistlist):
        if len(lst) != n:
            raise RuntimeError(
                f"_group_tensors_by_device_and_dtype: list {k} has {len(lst)} tensors, list 0 has {n}"
            )
    groups: dict[tuple[Any, Any], tuple[list[list[Any]], list[int]]] = {}
    for i, first in enumerate(tensorlistlist[0]):
        if first is None:
            raise RuntimeError(
                "_group_tensors_by_device_and_dtype: the tensors of the first list must all be "
                f"defined, but entry {i} is None"
            )
        lists, indices = groups.setdefault((first.device, first.dtype), ([[] for _ in tensorlistlist], []))
        for lst, src in zip(lists, tensorlistlist):
            lst.append(src[i])
        if with_indices:
            indices.append(i)
    return groups
