"""``torch.functional``: the tensor functions PyTorch defines in Python, under that module's name
(``from torch.functional import einsum`` and the like); each is the ``rustdl`` function."""

from __future__ import annotations

import rustdl as _r

_NAMES = (
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "block_diag",
    "broadcast_shapes",
    "broadcast_tensors",
    "cartesian_prod",
    "cdist",
    "chain_matmul",
    "einsum",
    "lu",
    "meshgrid",
    "norm",
    "split",
    "stft",
    "istft",
    "tensordot",
    "unique",
    "unique_consecutive",
    "unravel_index",
)

__all__ = list(_NAMES)

globals().update({name: getattr(_r, name) for name in _NAMES})
