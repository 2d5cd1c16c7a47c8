"""Data loading, as ``torch.utils.data``: datasets, ``DataLoader`` and image ``transforms``.

Example:
    >>> from rustdl.data import DataLoader, TensorDataset, random_split, transforms as T
    >>> ds = TensorDataset(x, y, transform=T.RandomHorizontalFlip())
    >>> train, val = random_split(ds, [0.9, 0.1], seed=0)
    >>> for xb, yb in DataLoader(train, batch_size=128, shuffle=True):
    ...     ...
"""

from __future__ import annotations

from . import transforms
from .collate import default_collate, to_tensor
from .dataloader import DataLoader
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split, randperm

__all__ = [
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "Subset",
    "TensorDataset",
    "default_collate",
    "random_split",
    "randperm",
    "to_tensor",
    "transforms",
]
