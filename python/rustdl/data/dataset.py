"""Datasets, as ``torch.utils.data``: ``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``,
``random_split``.

``TensorDataset`` (and a ``Subset`` of one) also offers ``get_batch(indices)``, an already
collated batch; the ``DataLoader`` uses it (one fancy-index and one vectorised transform per batch,
no Python loop per sample) whenever its ``collate_fn`` is the default and no subclass changed how
samples are read (``__getitem__``, ``__getitems__``), so the batches are the same either way.
"""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Callable, Generic, TypeVar

import numpy as np

from .. import Tensor, from_numpy
from .. import bool as bool_
from .collate import default_collate, to_tensor

__all__ = [
    "ConcatDataset",
    "Dataset",
    "IterableDataset",
    "StackDataset",
    "Subset",
    "TensorDataset",
    "random_split",
    "randperm",
]


def randperm(n: int, generator: Any = None, seed: int | None = None) -> np.ndarray:
    """A random permutation of ``range(n)`` as an int64 numpy array.

    Args:
        n: length of the permutation.
        generator: a ``numpy.random.Generator`` (or anything with ``permutation``); None draws from
            rustdl's global generator, so ``rustdl.manual_seed`` makes the result reproducible.
        seed: shorthand for ``generator=numpy.random.default_rng(seed)``.
    """
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    if generator is None and seed is not None:
        generator = np.random.default_rng(seed)
    if generator is not None:
        if isinstance(generator, (int, np.integer)):
            generator = np.random.default_rng(int(generator))
        if not hasattr(generator, "permutation"):
            raise TypeError(
                f"randperm: generator must be a numpy.random.Generator or an int seed, got {type(generator).__name__}"
            )
        return np.asarray(generator.permutation(n), dtype=np.int64)
    from .. import _rustdl

    # the global stream's permutation, as PyTorch's ``randperm`` draws it
    return _rustdl._randperm_cpu(n).numpy().astype(np.int64, copy=False)


# datasets, samplers and loaders are generic in what they yield, as PyTorch's
# (``class Pairs(Dataset[tuple[Tensor, int]])``, ``Sampler[list[int]]``)
_T_co = TypeVar("_T_co", covariant=True)


class Dataset(Generic[_T_co]):
    """Abstract map-style dataset: implement ``__getitem__(i)`` and ``__len__()``.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self): return 10
        ...     def __getitem__(self, i): return np.float32(i), np.float32(i * i)
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    # No __len__ here, as in PyTorch: ``len()`` of a dataset without one raises TypeError, which
    # ``list()`` and ``operator.length_hint`` treat as "length unknown" (iterable datasets).

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[_T_co]):
    """Abstract iterable-style dataset: implement ``__iter__`` (and optionally ``__len__``).

    A ``DataLoader`` builds its batches from consecutive items of ``iter(dataset)``; samplers and
    ``shuffle`` do not apply. With ``num_workers > 0`` every worker iterates its own
    ``iter(dataset)``, so split the stream with :func:`rustdl.data.get_worker_info` to avoid
    duplicates.

    Example:
        >>> class Count(IterableDataset):
        ...     def __init__(self, n): self.n = n
        ...     def __iter__(self):
        ...         info = get_worker_info()
        ...         start, step = (0, 1) if info is None else (info.id, info.num_workers)
        ...         return iter(range(start, self.n, step))
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __getitem__(self, index: int) -> Any:
        # (NotImplementedError as PyTorch's Dataset.__getitem__, and a TypeError)
        raise _NotIndexable(f"{type(self).__name__} is an IterableDataset: iterate it instead of indexing")

    def __add__(self, other: Dataset) -> Dataset:
        """``a + b`` chains two iterable datasets (a :class:`ChainDataset`), as PyTorch."""
        return ChainDataset([self, other])


class _NotIndexable(NotImplementedError, TypeError):
    """An iterable dataset indexed: PyTorch's ``NotImplementedError``, and a ``TypeError``."""


class _ZeroDim(IndexError, ValueError):
    """A 0-d tensor given to :class:`TensorDataset`: the ``IndexError`` PyTorch's ``size(0)``
    raises, and a ``ValueError``."""


def _length(t: Any) -> int:
    if isinstance(t, Tensor):
        if t.ndim == 0:
            raise _ZeroDim("TensorDataset: tensors must have at least one dimension (got a 0-d tensor)")
        return int(t.shape[0])
    return len(t)


def _take(t: Any, idx: np.ndarray) -> Any:
    """Rows ``idx`` of a tensor or array (one gather, not a loop)."""
    if isinstance(t, Tensor):
        index = from_numpy(idx)
        if t.device.type != "cpu":
            index = index.to(t.device)
        return t.index_select(0, index)
    return np.asarray(t)[idx]


class _SizeMismatch(ValueError, AssertionError):
    """Tensors of different lengths given to :class:`TensorDataset`: the ``AssertionError``
    PyTorch raises, and a ``ValueError``."""


class _InvalidIndex(TypeError, IndexError):
    """An index of a type no tensor takes (a string, a float): the ``IndexError`` PyTorch's tensor
    indexing raises, and a ``TypeError``."""


class TensorDataset(Dataset):
    """Wraps tensors or numpy arrays that share their first dimension; sample ``i`` is ``(t[i] for t)``.

    Args:
        *tensors: rustdl tensors or numpy arrays with the same length along dim 0.
        transform: applied to the first tensor's sample, or to a whole batch in ``get_batch``
            (every transform in ``rustdl.data.transforms`` takes both).
        target_transform: the same for the second tensor.

    Example:
        >>> ds = TensorDataset(np.zeros((100, 1, 28, 28), np.float32), np.zeros(100, np.int64))
        >>> x, y = ds[0]
    """

    def __init__(
        self, *tensors: Any, transform: Callable | None = None, target_transform: Callable | None = None
    ):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        tensors = tuple(t if isinstance(t, Tensor) else np.asarray(t) for t in tensors)
        lengths = [_length(t) for t in tensors]
        if any(n != lengths[0] for n in lengths):
            shapes = [tuple(t.shape) for t in tensors]
            raise _SizeMismatch(
                f"TensorDataset: size mismatch along dim 0 between tensors of shapes {shapes}"
            )
        self.tensors = tensors
        # the transforms given here are applied by this class; an attribute of the same name that
        # a subclass sets itself is its own (PyTorch's TensorDataset has none), never applied here
        self._transforms = (transform, target_transform)
        before = self.__dict__.get("_transform_attrs", [None, None])  # set by a subclass first
        self._transform_attrs = [
            transform if transform is not None else before[0],
            target_transform if target_transform is not None else before[1],
        ]

    @property
    def transform(self) -> Callable | None:
        return self._transform_attrs[0]

    @transform.setter
    def transform(self, fn: Callable | None) -> None:
        self._set_transform(0, fn)

    @property
    def target_transform(self) -> Callable | None:
        return self._transform_attrs[1]

    @target_transform.setter
    def target_transform(self, fn: Callable | None) -> None:
        self._set_transform(1, fn)

    def _set_transform(self, which: int, fn: Callable | None) -> None:
        if "_transform_attrs" not in self.__dict__:  # a subclass sets it before super().__init__
            self._transform_attrs = [None, None]
            self._transforms = (None, None)
        self._transform_attrs[which] = fn
        if type(self) is TensorDataset:  # rustdl's own class applies what is set on it later
            t = list(self._transforms)
            t[which] = fn
            self._transforms = tuple(t)

    def __len__(self) -> int:
        return _length(self.tensors[0])

    def _apply(self, items: list) -> tuple:
        transform, target_transform = self.__dict__.get("_transforms", (None, None))
        if transform is not None:
            items[0] = transform(items[0])
        if target_transform is not None and len(items) > 1:
            items[1] = target_transform(items[1])
        return tuple(items)

    def __getitem__(self, index: Any) -> tuple:
        """``tuple(t[index] for t in tensors)``: an int gives one sample; as in PyTorch, any
        other index the tensors take (a slice, a list, an integer or boolean tensor, a 0-d
        tensor, a numpy array) indexes every tensor alike, so ``X, y = ds[:]`` is the whole
        dataset."""
        if isinstance(index, (int, np.integer)) and not isinstance(index, (bool, np.bool_)):
            n = len(self)
            if not -n <= index < n:
                raise IndexError(f"TensorDataset: index {index} out of range for a dataset of length {n}")
            index = int(index) % n
        elif isinstance(index, (str, bytes, float, np.floating)):
            raise _InvalidIndex(
                "TensorDataset: only integers, slices, None, ..., lists and integer or boolean "
                f"tensors or arrays are valid indices (got {type(index).__name__})"
            )
        return self._apply([t[index] for t in self.tensors])

    def get_batch(self, indices: Sequence[int] | np.ndarray) -> tuple:
        """The samples at ``indices``, stacked along a new dim 0, as rustdl tensors."""
        idx = np.asarray(indices, dtype=np.int64)
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = int(idx[(idx < -n) | (idx >= n)][0])
            raise IndexError(f"TensorDataset: index {bad} out of range for a dataset of length {n}")
        idx = np.where(idx < 0, idx + n, idx)  # negative positions count from the end, as ds[i]
        items = [_take(t, idx) for t in self.tensors]
        items = list(self._apply(items))
        return tuple(to_tensor(v) for v in items)


def _as_index(value: Any) -> Any:
    """A scalar position (numpy integer, 0-d integer tensor) as a plain int; anything else as it
    comes."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if (
        isinstance(value, Tensor)
        and value.ndim == 0
        and not value.dtype.is_floating_point
        and value.dtype != bool_
    ):
        return int(value.item())
    return value


class Subset(Dataset[_T_co]):
    """The samples of ``dataset`` at ``indices``.

    Example:
        >>> train = Subset(full, range(50000))
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = indices

    @property
    def indices(self) -> Sequence[int]:
        """The indices as given (a list stays a list, as PyTorch's ``Subset.indices``)."""
        return self._indices

    @indices.setter
    def indices(self, indices: Sequence[int]) -> None:
        arr = np.asarray(indices, dtype=np.int64)
        if arr.ndim != 1:
            raise ValueError(f"Subset: indices must be 1-D, got shape {arr.shape}")
        self._indices, self._array = indices, arr

    def _index_array(self) -> np.ndarray:
        # the int64 copy used for batched lookups, rebuilt if the caller grew or shrank the list
        if len(self._array) != len(self._indices):
            self._array = np.asarray(self._indices, dtype=np.int64)
        return self._array

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, index: Any) -> Any:
        """``dataset[indices[index]]``; as in PyTorch, a list of positions fetches
        ``dataset[[indices[i] for i in index]]`` and a slice ``dataset[indices[slice]]``."""
        if isinstance(index, list):
            return self.dataset[[_as_index(self._indices[i]) for i in index]]
        picked = self._indices[index]
        if isinstance(picked, (list, tuple, range)):
            picked = [_as_index(i) for i in picked]
        return self.dataset[_as_index(picked)]

    def __getitems__(self, indices: list) -> list:
        """The samples at ``indices`` (through the wrapped dataset's ``__getitems__`` if it has
        one), as PyTorch's ``Subset.__getitems__``."""
        if type(self).__getitem__ is not Subset.__getitem__:
            # a subclass that reads samples its own way but kept this batched read: its
            # ``__getitem__`` gives the samples
            return [self[i] for i in indices]
        positions = [_as_index(self._indices[i]) for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(positions)
        return [self.dataset[i] for i in positions]

    def get_batch(self, indices: Sequence[int] | np.ndarray) -> Any:
        """The collated samples at ``indices`` (one call to the wrapped dataset's ``get_batch`` if it has one)."""
        idx = self._index_array()[np.asarray(indices, dtype=np.int64)]
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(idx)
        return default_collate([self.dataset[int(i)] for i in idx])


def batched_reads(dataset: Any) -> bool:
    """Whether ``dataset.get_batch`` gives the same batch as collating its samples one by one:
    rustdl's ``TensorDataset`` and ``Subset`` (of such a dataset) whose subclasses, if any, left
    the reading of samples as it is."""
    cls = type(dataset)
    if isinstance(dataset, TensorDataset):
        return (
            cls.__getitem__ is TensorDataset.__getitem__
            and cls.get_batch is TensorDataset.get_batch
            and cls._apply is TensorDataset._apply
            and getattr(cls, "__getitems__", None) is None
        )
    if isinstance(dataset, Subset):
        return (
            cls.__getitem__ is Subset.__getitem__
            and cls.__getitems__ is Subset.__getitems__
            and cls.get_batch is Subset.get_batch
            and batched_reads(dataset.dataset)
        )
    return False


class _NegativeIndex(IndexError, ValueError):
    """An index below ``-len(dataset)``: the ``ValueError`` PyTorch's ``ConcatDataset`` raises,
    and an ``IndexError``."""


class _DatasetKindError(AssertionError, TypeError):
    """A dataset of the wrong kind for a combinator: PyTorch's ``AssertionError``, and a
    ``TypeError``."""


class _EmptyDatasets(AssertionError, ValueError):
    """No dataset to concatenate: PyTorch's ``AssertionError``, and a ``ValueError``."""


class ConcatDataset(Dataset[_T_co]):
    """The concatenation of several datasets."""

    def __init__(self, datasets: Sequence[Dataset]):
        self.datasets = list(datasets)
        if not self.datasets:
            raise _EmptyDatasets("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise _DatasetKindError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    @staticmethod
    def cumsum(sequence: Sequence[Any]) -> list[int]:
        """The running totals of the lengths of ``sequence``'s items."""
        return [int(c) for c in np.cumsum([len(d) for d in sequence])]

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if index < -n:
            # PyTorch's ValueError ("absolute value of index should not exceed dataset length")
            raise _NegativeIndex(f"ConcatDataset: index {index} out of range for a dataset of length {n}")
        if not index < n:
            raise IndexError(f"ConcatDataset: index {index} out of range for a dataset of length {n}")
        index %= n
        d = bisect.bisect_right(self.cumulative_sizes, index)
        start = 0 if d == 0 else int(self.cumulative_sizes[d - 1])
        return self.datasets[d][index - start]


class StackDataset(Dataset[_T_co]):
    """Several datasets of one length side by side, as ``torch.utils.data.StackDataset``: item
    ``i`` is ``(d1[i], d2[i], ...)`` for positional datasets or ``{"name": d[i], ...}`` for
    keyword ones (not both).

    Example:
        >>> pairs = StackDataset(images, labels)        # pairs[0] == (images[0], labels[0])
        >>> named = StackDataset(image=images, text=texts)  # named[0]["image"]
    """

    def __init__(self, *args: Dataset, **kwargs: Dataset) -> None:
        if args and kwargs:
            raise ValueError(
                "Supported either ``tuple``- (via ``args``) or ``dict``- (via ``kwargs``) like "
                "input/output, but both types are given."
            )
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed")
        parts = list(args) if args else list(kwargs.values())
        self._length = len(parts[0])
        if any(len(d) != self._length for d in parts):
            raise ValueError("Size mismatch between datasets")
        self.datasets: tuple | dict = tuple(args) if args else dict(kwargs)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> Any:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __getitems__(self, indices: list) -> list:
        """The samples at ``indices`` (through each dataset's own ``__getitems__`` if it has one)."""

        def column(d: Any) -> list:
            if callable(getattr(d, "__getitems__", None)):
                items = list(d.__getitems__(indices))
                if len(items) != len(indices):
                    raise ValueError(
                        f"Nested dataset's output size mismatch. Expected {len(indices)}, got {len(items)}"
                    )
                return items
            return [d[i] for i in indices]

        if isinstance(self.datasets, dict):
            cols = {k: column(d) for k, d in self.datasets.items()}
            return [{k: cols[k][j] for k in cols} for j in range(len(indices))]
        cols2 = [column(d) for d in self.datasets]
        return [tuple(c[j] for c in cols2) for j in range(len(indices))]


class ChainDataset(IterableDataset):
    """Iterable datasets chained one after the other (built lazily, on iteration), as
    ``torch.utils.data.ChainDataset``.

    Example:
        >>> list(ChainDataset([stream_a, stream_b]))  # every item of a, then every item of b
    """

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise _DatasetKindError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")
            yield from d

    def __len__(self) -> int:
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise _DatasetKindError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")
            total += len(d)  # type: ignore[arg-type]
        return total


def random_split(
    dataset: Dataset, lengths: Sequence[int | float], generator: Any = None, seed: int | None = None
) -> list[Subset]:
    """Splits ``dataset`` at random into non-overlapping subsets of the given lengths.

    Args:
        dataset: the dataset to split.
        lengths: integer lengths summing to ``len(dataset)``, or fractions summing to 1 (the
            remainder after flooring is handed out one by one from the first subset, as PyTorch).
        generator, seed: the randomness, as in :func:`randperm`.

    Example:
        >>> train, val = random_split(ds, [0.9, 0.1], seed=0)
    """
    n = len(dataset)
    # (a tensor of lengths, or 0-d tensors in a list, count as their numbers)
    lengths = [x.item() if hasattr(x, "item") and getattr(x, "ndim", None) == 0 else x for x in lengths]
    if (
        lengths
        and all(isinstance(x, float) for x in lengths)
        and math.isclose(sum(lengths), 1.0, abs_tol=1e-6)
    ):
        if any(x < 0 or x > 1 for x in lengths):
            raise ValueError(f"random_split: fractions must lie in [0, 1], got {lengths}")
        sizes = [math.floor(n * f) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.", stacklevel=2
                )
    else:
        if not all(isinstance(x, (int, np.integer)) and x >= 0 for x in lengths):
            raise ValueError(
                f"random_split: lengths must be non-negative ints or fractions summing to 1, got {lengths}"
            )
        sizes = [int(x) for x in lengths]
        if sum(sizes) != n:
            raise ValueError(
                f"random_split: sum of lengths {sum(sizes)} does not equal the dataset length {n}"
            )
    perm = randperm(n, generator=generator, seed=seed)
    out, start = [], 0
    for size in sizes:
        # plain ints, as PyTorch's ``randperm(...).tolist()``: ``a.indices + b.indices`` concatenates
        out.append(Subset(dataset, perm[start : start + size].tolist()))
        start += size
    return out
