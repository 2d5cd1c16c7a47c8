"""Data loading, as ``torch.utils.data``: datasets, samplers, ``DataLoader`` and image ``transforms``.

Example:
    >>> from rustdl.data import DataLoader, TensorDataset, random_split, transforms as T
    >>> ds = TensorDataset(x, y, transform=T.RandomHorizontalFlip())
    >>> train, val = random_split(ds, [0.9, 0.1], seed=0)
    >>> for xb, yb in DataLoader(train, batch_size=128, shuffle=True, num_workers=2):
    ...     ...
"""

from __future__ import annotations

from . import datapipes, sampler, transforms
from .collate import default_collate, default_convert, to_tensor
from .dataloader import DataLoader
from .datapipes import IterDataPipe, MapDataPipe, functional_datapipe
from .dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
    randperm,
)
from .sampler import (
    BatchSampler,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .worker import WorkerInfo, get_worker_info

# torch.utils.data._utils's polling interval of worker status, in seconds (read by code that
# mirrors PyTorch's loader; rustdl's worker threads need none)
MP_STATUS_CHECK_INTERVAL = 5.0

__all__ = [
    "BatchSampler",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "IterDataPipe",
    "IterableDataset",
    "MapDataPipe",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "StackDataset",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "WorkerInfo",
    "default_collate",
    "default_convert",
    "functional_datapipe",
    "get_worker_info",
    "random_split",
    "randperm",
    "datapipes",
    "sampler",
    "to_tensor",
    "transforms",
]
