"""``torch._functorch.vmap``: ``vmap_impl`` and the helpers libraries import by name.

rustdl's ``vmap`` (:func:`rustdl.func.vmap`) calls the function once per sample and stacks the
results, so there are no batched tensors: ``_add_batch_dim`` / ``_remove_batch_dim`` raise (see
:mod:`._torch_C_functorch`), ``_maybe_remove_batch_dim`` and ``is_batchedtensor`` answer as for
ordinary tensors. Libraries that replace ``_process_batched_inputs`` / ``_create_batched_inputs``
/ ``_unwrap_batched`` here (to let their containers through PyTorch's vmap) change nothing in
rustdl's, which maps any pytree node its inputs are made of.
"""

from __future__ import annotations

from typing import Any

from rustdl import Tensor
from rustdl.func import vmap
from rustdl.utils._pytree import tree_flatten, tree_map_, tree_unflatten

from .._torch_C_functorch import (
    _add_batch_dim,
    _remove_batch_dim,
    _vmap_decrement_nesting,
    _vmap_increment_nesting,
    is_batchedtensor,
)

__all__ = [
    "Tensor",
    "_add_batch_dim",
    "_broadcast_to_and_flatten",
    "_get_name",
    "_maybe_remove_batch_dim",
    "_remove_batch_dim",
    "_vmap_decrement_nesting",
    "_vmap_increment_nesting",
    "is_batchedtensor",
    "tree_flatten",
    "tree_map_",
    "tree_unflatten",
    "vmap_impl",
]


def _get_name(func: Any) -> str:
    """A function's name for vmap's error messages (its repr where it has none)."""
    return getattr(func, "__name__", repr(func))


def _broadcast_to_and_flatten(tree: Any, treespec: Any) -> list | None:
    """``tree`` (an int/None, or a pytree prefix of ``treespec``'s structure) repeated for each
    leaf of ``treespec``, flat; None where it does not fit the structure."""
    leaves, spec = tree_flatten(tree)
    if spec == treespec:
        return leaves
    if len(leaves) == 1 and spec.num_leaves == 1 and not spec.children_specs:
        return leaves * treespec.num_leaves
    return None


def _maybe_remove_batch_dim(
    name: str, batched_output: Any, vmap_level: int, batch_size: int, out_dim: Any
) -> Any:
    """The output as it is: rustdl's vmap never hands out batched tensors."""
    return batched_output


def vmap_impl(
    func: Any, in_dims: Any, out_dims: Any, randomness: str, chunk_size: Any, *args: Any, **kwargs: Any
) -> Any:
    """``vmap(func, in_dims, out_dims, randomness, chunk_size=chunk_size)(*args, **kwargs)``."""
    return vmap(func, in_dims, out_dims, randomness, chunk_size=chunk_size)(*args, **kwargs)
