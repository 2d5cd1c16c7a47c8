"""``DataLoader``: batches of a dataset as rustdl tensors, reshuffled every epoch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable

import numpy as np

from .collate import default_collate
from .dataset import Dataset, randperm

__all__ = ["DataLoader"]


class DataLoader:
    """Iterates over ``dataset`` in batches, as ``torch.utils.data.DataLoader``.

    With the default ``collate_fn`` and a dataset that has ``get_batch`` (``TensorDataset``,
    ``Subset`` of one), each batch is one fancy-index of the stored arrays plus one vectorised
    transform; otherwise samples are fetched one by one and collated.

    Args:
        dataset: a map-style dataset (``__getitem__`` and ``__len__``).
        batch_size: samples per batch.
        shuffle: draw a new permutation at the start of every epoch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        collate_fn: merges a list of samples into a batch (default: :func:`default_collate`).
        generator: a ``numpy.random.Generator`` for the permutations; by default they are drawn
            from rustdl's global generator (seeded by ``rustdl.manual_seed``).
        seed: shorthand for ``generator=numpy.random.default_rng(seed)``.

    Example:
        >>> loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True, seed=0)
        >>> for xb, yb in loader:
        ...     loss = loss_fn(model(xb), yb)
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        collate_fn: Callable[[list], Any] | None = None,
        generator: Any = None,
        seed: int | None = None,
    ):
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(
                f"DataLoader: dataset must have __getitem__ and __len__, got {type(dataset).__name__}"
            )
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: pass either generator or seed, not both")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        if seed is not None:
            generator = np.random.default_rng(seed)
        elif isinstance(generator, (int, np.integer)):
            generator = np.random.default_rng(int(generator))
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            return randperm(n, generator=self.generator)
        return np.arange(n, dtype=np.int64)

    def _fetch(self, idx: np.ndarray) -> Any:
        if self.collate_fn is None and hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(idx)
        samples = [self.dataset[int(i)] for i in idx]
        return (self.collate_fn or default_collate)(samples)

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, len(order)), self.batch_size):
            yield self._fetch(order[start : start + self.batch_size])

    def __repr__(self) -> str:
        return (
            f"DataLoader(dataset={type(self.dataset).__name__}(len={len(self.dataset)}), batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last})"
        )
