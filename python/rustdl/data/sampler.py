"""Samplers, as ``torch.utils.data.sampler``: which dataset indices a ``DataLoader`` visits, and in
which order.

Every random sampler takes ``generator``: a ``numpy.random.Generator``, an int seed, or None to
draw from rustdl's global generator (so ``rustdl.manual_seed`` makes it reproducible).

Example:
    >>> from rustdl.data import BatchSampler, RandomSampler
    >>> batches = list(BatchSampler(RandomSampler(range(10), generator=0), batch_size=4, drop_last=True))
    >>> [len(b) for b in batches]
    [4, 4]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any, Generic, TypeVar

import numpy as np

from .. import ArgumentError, randint
from .dataset import randperm

__all__ = [
    "BatchSampler",
    "DistributedSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
]


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_positive_int(owner: str, name: str, value: Any) -> None:
    """PyTorch's ``ValueError`` for an argument that is not a positive integer."""
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{owner}: {name} should be a positive integer value, but got {name}={value!r}")


def _check_bool(owner: str, name: str, value: Any, error: type[Exception] = TypeError) -> None:
    """PyTorch's error (``TypeError`` unless told) for an argument that is not a bool."""
    if not isinstance(value, bool):
        raise error(f"{owner}: {name} should be a boolean value, but got {name}={value!r}")


def _check_generator(generator: Any, owner: str) -> Any:
    """None, a numpy generator (or anything with ``permutation``), or an int seed turned into one."""
    if generator is None:
        return None
    if _is_int(generator):
        return np.random.default_rng(int(generator))
    if not hasattr(generator, "permutation"):
        raise TypeError(
            f"{owner}: generator must be a numpy.random.Generator, an int seed or None, "
            f"got {type(generator).__name__}"
        )
    return generator


def _is_stream(generator: Any) -> bool:
    """Whether ``generator`` draws from rustdl's streams (None: the global one, or a
    ``rustdl.Generator``), which the samplers consume as PyTorch's consume its generators."""
    from .._generator import Generator

    return generator is None or isinstance(generator, Generator)


def _epoch_generator(generator: Any) -> Any:
    """The generator an epoch draws from: without one, a fresh ``rustdl.Generator`` seeded by one
    draw of the global stream (as PyTorch's RandomSampler seeds its own)."""
    if generator is not None:
        return generator
    from .. import _rustdl
    from .._generator import Generator

    seed = int(_rustdl._cpu_draw("below", 1, modulus=2**63, wide=True).item())
    return Generator().manual_seed(seed)


def _uniform(n: int, generator: Any) -> np.ndarray:
    """``n`` float64 draws from ``[0, 1)``."""
    if generator is None:
        return randint(0, 2**53, (n,), device="cpu").numpy().astype(np.float64) / float(2**53)
    if hasattr(generator, "random"):
        return np.asarray(generator.random(n), dtype=np.float64)
    return np.asarray(generator.random_sample(n), dtype=np.float64)  # numpy.random.RandomState


def _integers(high: int, n: int, generator: Any) -> np.ndarray:
    """``n`` integers drawn uniformly from ``[0, high)``, as int64."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if generator is None:
        return randint(0, high, (n,), device="cpu").numpy().astype(np.int64)
    if hasattr(generator, "integers"):
        return np.asarray(generator.integers(0, high, n), dtype=np.int64)
    return np.asarray(generator.randint(0, high, n), dtype=np.int64)  # numpy.random.RandomState


class _EmptyPermutation(ValueError, ZeroDivisionError):
    """A permutation drawn from an empty dataset: PyTorch's ``ZeroDivisionError``, and a ``ValueError``."""


class _EmptyDraw(ValueError, RuntimeError):
    """An index drawn with replacement from an empty dataset: PyTorch's ``RuntimeError``, and a
    ``ValueError``."""


_T_co = TypeVar("_T_co", covariant=True)


class Sampler(Generic[_T_co]):
    """Base class of samplers: ``__iter__`` yields dataset indices (``__len__`` is optional).

    Args:
        data_source: accepted for PyTorch compatibility and ignored.

    Example:
        >>> class EvenFirst(Sampler):
        ...     def __init__(self, n): self.n = n
        ...     def __iter__(self): return iter([*range(0, self.n, 2), *range(1, self.n, 2)])
        ...     def __len__(self): return self.n
    """

    def __init__(self, data_source: Sized | None = None):
        pass

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


# indices drawn at a time by the samplers whose epoch can be arbitrarily long (num_samples=10**10
# with replacement: an "infinite" loader), so an epoch never has to exist in memory at once
_CHUNK = 1 << 20


class _ArraySampler(Sampler):
    """A sampler whose epoch is a sequence of int64 arrays (``_index_chunks``; one array,
    ``_index_array``, unless overridden), so a ``BatchSampler`` over it can slice arrays instead of
    looping in Python."""

    def _index_array(self) -> np.ndarray:
        raise NotImplementedError

    def _index_chunks(self) -> Iterator[np.ndarray]:
        yield self._index_array()

    def __iter__(self) -> Iterator[int]:
        for chunk in self._index_chunks():
            yield from chunk.tolist()


def _index_chunks_of(sampler: Any) -> Iterator[np.ndarray] | None:
    """The epoch's indices as arrays when ``sampler`` is a built-in one whose ``__iter__`` is not
    overridden; otherwise None."""
    if isinstance(sampler, _ArraySampler) and (
        type(sampler).__iter__ is _ArraySampler.__iter__ or getattr(sampler, "_yields_ints", False)
    ):
        return sampler._index_chunks()
    return None


class SequentialSampler(_ArraySampler):
    """Yields ``0, 1, ..., len(data_source) - 1``.

    Example:
        >>> list(SequentialSampler(range(3)))
        [0, 1, 2]
    """

    def __init__(self, data_source: Sized):
        self.data_source = data_source

    def _index_array(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(_ArraySampler):
    """Yields the indices of ``data_source`` in random order.

    Without replacement, each epoch is a fresh permutation (``num_samples`` larger than the dataset
    chains several permutations); with replacement, ``num_samples`` independent uniform draws.

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw with replacement.
        num_samples: how many indices per epoch (default ``len(data_source)``).
        generator: a ``numpy.random.Generator`` or int seed; None uses rustdl's global generator.

    Example:
        >>> sorted(RandomSampler(range(5), generator=0))
        [0, 1, 2, 3, 4]
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Any = None,
    ):
        _check_bool("RandomSampler", "replacement", replacement)
        if num_samples is not None:
            _check_positive_int("RandomSampler", "num_samples", num_samples)
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = None if num_samples is None else int(num_samples)
        self.generator = _check_generator(generator, "RandomSampler")
        if num_samples is None:
            # as PyTorch, which checks the (default) num_samples too: an empty dataset is refused
            _check_positive_int("RandomSampler", "num_samples", len(data_source))

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _index_array(self) -> np.ndarray:
        return np.concatenate([np.zeros(0, dtype=np.int64), *self._index_chunks()])

    def _index_chunks(self) -> Iterator[np.ndarray]:
        """The epoch drawn lazily: ``_CHUNK`` draws at a time with replacement, one permutation at
        a time without."""
        n, k = len(self.data_source), self.num_samples
        if self.replacement and n == 0:
            raise _EmptyDraw("RandomSampler: cannot draw with replacement from an empty data_source")
        if not self.replacement and n == 0:
            raise _EmptyPermutation(f"RandomSampler: cannot draw num_samples={k} from an empty data_source")
        gen = _epoch_generator(self.generator)
        if self.replacement:
            # PyTorch draws 32 at a time; each index is one draw of the stream either way, so
            # larger chunks give the same indices
            for start in range(0, k, _CHUNK):
                yield _integers(n, min(_CHUNK, k - start), gen)
            return
        for _ in range(k // n):
            yield randperm(n, generator=gen)
        if k % n or _is_stream(self.generator):
            # PyTorch's draw sequence from its generators: one more permutation for the
            # remainder, drawn (when the epoch is run to its end) even when the remainder is
            # empty, so later epochs stay in step (a numpy generator draws only what is used)
            yield randperm(n, generator=gen)[: k % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(_ArraySampler):
    """Yields the given ``indices`` in a new random order every epoch.

    Args:
        indices: the dataset indices to visit.
        generator: a ``numpy.random.Generator`` or int seed; None uses rustdl's global generator.

    Example:
        >>> sorted(SubsetRandomSampler([3, 7, 9], generator=0))
        [3, 7, 9]
    """

    def __init__(self, indices: Sequence[int], generator: Any = None):
        arr = np.asarray(indices)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise ValueError(
                f"SubsetRandomSampler: indices must be a 1-D sequence of ints, got shape {arr.shape} "
                f"and dtype {arr.dtype}"
            )
        self.indices = indices
        self._indices = arr.astype(np.int64)
        self.generator = _check_generator(generator, "SubsetRandomSampler")

    @property
    def _yields_ints(self) -> bool:
        return isinstance(self.indices, (list, range))

    def _index_array(self) -> np.ndarray:
        return self._indices[randperm(len(self._indices), generator=self.generator)]

    def __iter__(self) -> Iterator[Any]:
        perm = randperm(len(self._indices), generator=self.generator)
        if self._yields_ints:
            yield from self._indices[perm].tolist()
            return
        # the elements of ``indices`` themselves, as PyTorch (0-d tensors of a tensor,
        # numpy integers of an array)
        for i in perm.tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self._indices)


class WeightedRandomSampler(_ArraySampler):
    """Yields ``num_samples`` indices in ``[0, len(weights))``, index ``i`` drawn with probability
    proportional to ``weights[i]`` (the weights need not sum to one).

    Without replacement an index is drawn at most once, each draw proportional to the weights of
    the indices not yet drawn (as ``torch.multinomial``).

    Args:
        weights: non-negative weights, one per index.
        num_samples: indices per epoch.
        replacement: draw with replacement.
        generator: a ``numpy.random.Generator`` or int seed; None uses rustdl's global generator.

    Example:
        >>> draws = list(WeightedRandomSampler([0.0, 1.0, 3.0], 1000, generator=0))
        >>> draws.count(2) / draws.count(1)  # about 3; index 0 never appears
        3.0...
    """

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: Any = None,
    ):
        _check_positive_int("WeightedRandomSampler", "num_samples", num_samples)
        _check_bool("WeightedRandomSampler", "replacement", replacement)
        w = np.asarray(weights.numpy() if hasattr(weights, "numpy") else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(
                f"WeightedRandomSampler: weights should be a 1d sequence but given weights have shape {w.shape}"
            )
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            # (ArgumentError: the RuntimeError PyTorch's multinomial raises, and a ValueError)
            raise ArgumentError(
                "WeightedRandomSampler: invalid multinomial distribution (weights must be finite and non-negative)"
            )
        if not w.sum() > 0:
            raise ArgumentError(
                "WeightedRandomSampler: invalid multinomial distribution (sum of probabilities <= 0)"
            )
        # without replacement, indices of zero weight come last, in random order (as PyTorch's
        # multinomial draws them once the others are used up)
        if not replacement and num_samples > len(w):
            raise ValueError(
                f"WeightedRandomSampler: cannot draw num_samples={num_samples} without replacement from "
                f"{len(w)} indices"
            )
        self._set_weights(w)
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = _check_generator(generator, "WeightedRandomSampler")

    def _set_weights(self, w: np.ndarray) -> None:
        self._w = w
        self._cdf = np.cumsum(w)
        nonzero = np.flatnonzero(w)
        self._last = int(nonzero[-1]) if len(nonzero) else 0

    @property
    def weights(self) -> Any:
        """The weights, a float64 tensor (as PyTorch's)."""
        from .. import tensor

        return tensor(self._w, device="cpu")

    @weights.setter
    def weights(self, weights: Any) -> None:
        # code that reweights the sampler between epochs assigns a new tensor here
        self._set_weights(
            np.asarray(weights.numpy() if hasattr(weights, "numpy") else weights, dtype=np.float64).reshape(
                -1
            )
        )

    def _multinomial(self, k: int) -> np.ndarray:
        from .. import tensor

        w = tensor(self._w, device="cpu")
        return w.multinomial(k, self.replacement, generator=self.generator).numpy().astype(np.int64)

    def _index_chunks(self) -> Iterator[np.ndarray]:
        if not self.replacement:
            yield self._index_array()
            return
        if _is_stream(self.generator):
            # PyTorch's multinomial over float64 weights (one uniform per draw, so chunks continue
            # the same stream)
            for start in range(0, self.num_samples, _CHUNK):
                yield self._multinomial(min(_CHUNK, self.num_samples - start))
            return
        for start in range(0, self.num_samples, _CHUNK):
            u = _uniform(min(_CHUNK, self.num_samples - start), self.generator)
            # inverse CDF: index i covers [cdf[i-1], cdf[i]); zero weights cover nothing
            idx = np.searchsorted(self._cdf, u * self._cdf[-1], side="right")
            yield np.minimum(idx, self._last).astype(np.int64)

    def _index_array(self) -> np.ndarray:
        if self.replacement:
            return np.concatenate([np.zeros(0, dtype=np.int64), *self._index_chunks()])
        if _is_stream(self.generator):
            return self._multinomial(self.num_samples)
        # successive draws without replacement = the first num_samples arrivals of independent
        # exponential clocks with rates ``weights`` (zero weights never arrive)
        u = _uniform(len(self._w), self.generator)
        with np.errstate(divide="ignore"):
            arrival = -np.log1p(-u) / self._w
        # zero weights arrive after every other index, in the order of their clocks
        arrival = np.where(self._w > 0, arrival, np.inf)
        order = np.lexsort((-np.log1p(-u), arrival))
        return order[: self.num_samples].astype(np.int64)

    def __len__(self) -> int:
        return self.num_samples


class DistributedSampler(_ArraySampler, Generic[_T_co]):
    """Each rank's share of the dataset, as ``torch.utils.data.distributed.DistributedSampler``.

    An epoch's indices (shuffled with ``seed + epoch`` when ``shuffle``, so every rank draws the
    same permutation) are padded by repeating them from the start up to a multiple of
    ``num_replicas`` (or cut down to one when ``drop_last``); rank ``r`` takes
    ``indices[r::num_replicas]``. Call :meth:`set_epoch` at the start of each epoch to reshuffle.

    Args:
        dataset: the dataset (only its length is used).
        num_replicas: the number of ranks (default: ``rustdl.distributed.get_world_size()``).
        rank: this rank (default: ``rustdl.distributed.get_rank()``).
        shuffle: shuffle the indices each epoch.
        seed: the shuffle's seed; must be the same on every rank.
        drop_last: drop the tail that does not divide evenly instead of padding.

    Example:
        >>> sampler = DistributedSampler(range(10), num_replicas=3, rank=0, shuffle=False)
        >>> list(sampler)
        [0, 3, 6, 9]
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ):
        if num_replicas is None or rank is None:
            from .. import distributed as dist

            if not dist.is_initialized():
                raise RuntimeError(
                    "DistributedSampler: pass num_replicas and rank, or call "
                    'rustdl.distributed.init_process_group("mpi") first'
                )
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        _check_positive_int("DistributedSampler", "num_replicas", num_replicas)
        if not _is_int(rank) or not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch, whose number seeds the shuffle (call it before each epoch)."""
        self.epoch = int(epoch)

    def _index_array(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            from .._generator import Generator

            # PyTorch's shuffle: a generator seeded with seed + epoch
            indices = randperm(n, generator=Generator().manual_seed(self.seed + self.epoch))
        else:
            indices = np.arange(n, dtype=np.int64)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0 and n > 0:
                indices = np.concatenate([indices, np.resize(indices, pad)])
        else:
            indices = indices[: self.total_size]
        return indices[self.rank : self.total_size : self.num_replicas]

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``.

    Args:
        sampler: a sampler or any iterable of indices.
        batch_size: indices per batch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False))
        [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    """

    def __init__(self, sampler: Sampler | Iterable[Any], batch_size: int, drop_last: bool):
        _check_positive_int("BatchSampler", "batch_size", batch_size)
        _check_bool("BatchSampler", "drop_last", drop_last, ValueError)
        # not checked for __iter__, as PyTorch: a sequence (__len__ and __getitem__, a
        # ConcatDataset) iterates through the sequence protocol
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def _array_batches(self) -> Iterator[Any]:
        """Batches as int64 array slices when the sampler can give its epoch as one array, else lists."""
        chunks = _index_chunks_of(self.sampler)
        if chunks is None:
            yield from self
            return
        bs = self.batch_size
        carry = np.zeros(0, dtype=np.int64)
        for chunk in chunks:
            order = np.concatenate([carry, chunk]) if carry.size else chunk
            full = (len(order) // bs) * bs
            for start in range(0, full, bs):
                yield order[start : start + bs]
            carry = order[full:]
        if carry.size and not self.drop_last:
            yield carry

    def __iter__(self) -> Iterator[list]:
        batch: list = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def _batches_of(batch_sampler: Any) -> Iterator[Any]:
    """Iterates a batch sampler, by array slices when it is an unmodified :class:`BatchSampler`."""
    if isinstance(batch_sampler, BatchSampler) and type(batch_sampler).__iter__ is BatchSampler.__iter__:
        return batch_sampler._array_batches()
    return iter(batch_sampler)
