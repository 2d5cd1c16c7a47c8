"""``DataLoader``: batches of a dataset as rustdl tensors, reshuffled every epoch, optionally
prefetched by background worker threads."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import sys
import warnings
from collections.abc import Iterable, Iterator
from typing import Any, Callable, Generic, TypeVar

import numpy as np

from .. import _rustdl
from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset, batched_reads
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    _batches_of,
    _check_generator,
    _is_int,
    _is_stream,
)
from .worker import _EXHAUSTED, _BaseDataLoaderIter, _Job, _ThreadedIter, _WorkerPool, get_worker_info

__all__ = ["DataLoader", "get_worker_info"]


class _Fetcher:
    """Turns one task (a batch of indices, one index, or "the next batch" of an iterable dataset)
    into a batch. Holds no reference to the loader, so worker threads never keep it alive."""

    def __init__(
        self,
        dataset: Any,
        collate_fn: Callable[[Any], Any],
        auto_collation: bool,
        batch_size: int | None,
        drop_last: bool,
    ):
        self.dataset = dataset
        self.collate_fn = collate_fn
        self.auto_collation = auto_collation
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.use_get_batch = auto_collation and collate_fn is default_collate and batched_reads(dataset)

    def fetch(self, task: Any) -> Any:
        """A map-style batch: ``task`` is a batch of indices (or one index without auto-collation)."""
        if not self.auto_collation:
            return self.collate_fn(self.dataset[task])
        if self.use_get_batch:
            batch = self.dataset.get_batch(np.asarray(task, dtype=np.int64))
            # default_collate gives a list for tuple samples (PyTorch's too): so does the fast path
            return list(batch) if type(batch) is tuple else batch
        if isinstance(task, np.ndarray):
            task = task.tolist()
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems:
            # as PyTorch's fetcher: a dataset's ``__getitems__`` gets the whole batch of indices
            return self.collate_fn(getitems(task))
        return self.collate_fn([self.dataset[i] for i in task])

    def next_batch(self, it: Iterator[Any]) -> Any:
        """The next batch built from the iterator of an iterable dataset, or ``_EXHAUSTED``."""
        # next() only: a for loop or islice would call iter() on `it` again, which restarts an
        # iterator whose __iter__ resets it and returns itself (PyTorch calls iter() once per epoch)
        if not self.auto_collation:
            try:
                return self.collate_fn(next(it))
            except StopIteration:
                return _EXHAUSTED
        items = []
        for _ in range(self.batch_size):
            try:
                items.append(next(it))
            except StopIteration:
                break
        if not items or (self.drop_last and len(items) < self.batch_size):
            return _EXHAUSTED
        return self.collate_fn(items)


def _base_seed(generator: Any) -> int | None:
    """The base seed PyTorch's loader iterator draws (``torch.empty((), dtype=torch.int64)
    .random_(generator=...)``) before its sampler's first draw, so the stream stays in step with
    PyTorch's; workers are seeded from it. None for a generator that is no torch stream."""
    if not _is_stream(generator):
        return None
    drawn = _rustdl._cpu_draw("below", 1, modulus=2**63, wide=True, generator=generator)
    return int(drawn.item())


class _SingleThreadIter(_BaseDataLoaderIter):
    """One epoch of ``loader`` loaded in the main thread (PyTorch's
    ``_SingleProcessDataLoaderIter(loader)``, which libraries make themselves: made so, it
    draws the loader's base seed as ``iter(loader)`` does). As PyTorch's iterator it has a
    length (the loader's), and a ``StopIteration`` raised by the dataset ends the epoch.

    ``loader`` may also be any object with the attributes PyTorch's iterator reads from a
    DataLoader (``dataset``, ``_dataset_kind``, ``_index_sampler``, ``_auto_collation``,
    ``collate_fn``, ``drop_last``, ``generator``): fastai hands its own loader so."""

    def __init__(self, loader: Any, _seed_drawn: bool = False):
        self._loader = loader
        if not isinstance(loader, DataLoader):
            self._init_duck_typed(loader)
            return
        self._duck = False
        if not _seed_drawn:
            _base_seed(loader.generator)
        self._fetcher = loader._fetcher()
        self._it = iter(loader.dataset) if loader._iterable else None
        self._tasks = loader._tasks()

    def _init_duck_typed(self, loader: Any) -> None:
        self._duck = True
        self._dataset = loader.dataset
        self._iterable_kind = getattr(loader, "_dataset_kind", _DatasetKind.Map) == _DatasetKind.Iterable
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._collate_fn = loader.collate_fn
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = _base_seed(getattr(loader, "generator", None))
        self._num_yielded = 0
        self._dataset_iter = iter(self._dataset) if self._iterable_kind else None
        self._ended = False

    def __iter__(self) -> _SingleThreadIter:
        return self

    def _next_duck_typed(self) -> Any:
        index = next(self._sampler_iter)
        if self._iterable_kind:
            if self._ended:
                raise StopIteration
            if self._auto_collation:
                data = []
                for _ in index:
                    try:
                        data.append(next(self._dataset_iter))
                    except StopIteration:
                        self._ended = True
                        break
                if not data or (self._drop_last and len(data) < len(index)):
                    raise StopIteration
            else:
                data = next(self._dataset_iter)
        elif self._auto_collation:
            data = [self._dataset[i] for i in index]
        else:
            data = self._dataset[index]
        self._num_yielded += 1
        return self._collate_fn(data)

    def __next__(self) -> Any:
        if self._duck:
            return self._next_duck_typed()
        if self._it is not None:
            batch = self._fetcher.next_batch(self._it)
            if batch is _EXHAUSTED:
                raise StopIteration
            return batch
        return self._fetcher.fetch(next(self._tasks))

    def __len__(self) -> int:
        return len(self._index_sampler) if self._duck else len(self._loader)


class _WorkersIter(_ThreadedIter):
    """PyTorch's ``_MultiProcessingDataLoaderIter``: the loader's worker iterator (rustdl's workers
    are threads). Made by a library from a loader, ``_MultiProcessingDataLoaderIter(loader)``
    is ``iter(loader)``; from an object that only has a DataLoader's attributes (fastai's), its
    batches are loaded in the main thread, in the order PyTorch's workers hand them over."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs:
            loader = args[0]
            if isinstance(loader, DataLoader):
                return iter(loader)
            return _SingleThreadIter(loader)
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) == 1 and not kwargs:
            return  # made whole by __new__ (iter(loader))
        super().__init__(*args, **kwargs)


# PyTorch's names for the loader's iterators (code that subclasses, makes or checks them)
_SingleProcessDataLoaderIter = _SingleThreadIter
_MultiProcessingDataLoaderIter = _WorkersIter


class _DatasetKind:
    Map = 0
    Iterable = 1


class _InfiniteConstantSampler(Sampler):
    """The sampler of an iterable dataset's loader: ``None`` for ever (the dataset itself says
    what comes next)."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


def _check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"DataLoader: {name} must be a bool, got {value!r}")
    return bool(value)


_FROZEN = ("dataset", "batch_size", "batch_sampler", "sampler", "drop_last", "persistent_workers")


_T_co = TypeVar("_T_co", covariant=True)
_T = TypeVar("_T")
# the callable types PyTorch's dataloader module names (libraries annotate with them)
_worker_init_fn_t = Callable[[int], None]
_collate_fn_t = Callable[[list[_T]], Any]


class DataLoader(Generic[_T_co]):
    """Iterates over ``dataset`` in batches, as ``torch.utils.data.DataLoader``.

    With the default ``collate_fn`` and a ``TensorDataset`` (or ``Subset`` of one) whose subclass,
    if any, reads samples as it does, each batch is one fancy-index of the stored arrays plus one vectorised
    transform; otherwise samples are fetched one by one and collated.

    ``num_workers > 0`` loads in background *threads* (not processes): collation and tensor creation
    run in Rust and numpy releases the GIL for large copies, so loading overlaps the training step.
    The order of batches does not depend on ``num_workers``. As a PyTorch worker process, each
    worker has its own copy of the dataset, taken when it starts (arrays, tensors and open files in
    it are shared; a dataset of very many Python objects gets a shallow copy), and its own rustdl,
    Python ``random`` and numpy streams, seeded as PyTorch seeds them from ``base_seed +
    worker_id``; batches go to the workers in turn, so random transforms are reproducible.

    Args:
        dataset: a map-style dataset (``__getitem__``, and ``__len__`` unless a sampler is given)
            or an :class:`IterableDataset`.
        batch_size: samples per batch; None disables batching (each sample is yielded on its own,
            converted by :func:`default_convert`).
        shuffle: draw a new permutation at the start of every epoch (map-style only).
        sampler: the order of indices (a :class:`Sampler` or any iterable); excludes ``shuffle``.
        batch_sampler: yields whole batches of indices; excludes ``batch_size``, ``shuffle``,
            ``sampler`` and ``drop_last``.
        num_workers: background worker threads; 0 loads in the main thread.
        collate_fn: merges a list of samples into a batch (default: :func:`default_collate`).
        pin_memory: accepted for compatibility; a no-op (CPU tensors need no pinning here).
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        timeout: seconds to wait for a batch from the workers before raising ``RuntimeError``
            (0: forever).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` once in each worker thread.
        multiprocessing_context: accepted (validated as a start method or context) and ignored:
            the workers are threads.
        generator: a ``numpy.random.Generator`` (or int seed) for the shuffling; by default
            permutations come from rustdl's global generator (seeded by ``rustdl.manual_seed``).
        prefetch_factor: batches in flight per worker (default 2 when ``num_workers > 0``).
        persistent_workers: keep the worker threads alive between epochs.
        pin_memory_device: accepted for compatibility; a no-op.
        in_order: accepted for compatibility; batches always come in the sampler's order
            (``in_order=False`` only permits, and never requires, out-of-order delivery).
        seed: shorthand for ``generator=numpy.random.default_rng(seed)`` (rustdl extra).

    Example:
        >>> loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True, seed=0, num_workers=2)
        >>> for xb, yb in loader:
        ...     loss = loss_fn(model(xb), yb)
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable[Any] | None = None,
        batch_sampler: Sampler | Iterable[Any] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | None = None,
    ):
        # --- the dataset ---------------------------------------------------------------------
        iterable = isinstance(dataset, IterableDataset)
        if not iterable and not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: dataset must have __getitem__ and __len__ (or be an IterableDataset), "
                f"got {type(dataset).__name__}"
            )
        if not iterable and sampler is None and batch_sampler is None and not hasattr(dataset, "__len__"):
            raise TypeError(
                f"DataLoader: dataset must have __getitem__ and __len__ (or be an IterableDataset), "
                f"got {type(dataset).__name__}"
            )
        # --- workers -------------------------------------------------------------------------
        if not _is_int(num_workers):
            raise TypeError(f"DataLoader: num_workers must be an int, got {num_workers!r}")
        if num_workers < 0:
            raise ValueError(
                "DataLoader: num_workers option should be non-negative; use num_workers=0 to disable "
                f"background loading, got num_workers={num_workers}"
            )
        num_workers = int(num_workers)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float, np.integer, np.floating)):
            raise TypeError(f"DataLoader: timeout must be a number of seconds, got {timeout!r}")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got timeout={timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "DataLoader: prefetch_factor option could only be specified with background workers: "
                "let num_workers > 0 to enable them, otherwise set prefetch_factor to None"
            )
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and (not _is_int(prefetch_factor) or prefetch_factor <= 0):
            raise ValueError(
                f"DataLoader: prefetch_factor should be a positive integer, got prefetch_factor={prefetch_factor!r}"
            )
        persistent_workers = _check_flag(persistent_workers, "persistent_workers")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(
                f"DataLoader: worker_init_fn must be callable, got {type(worker_init_fn).__name__}"
            )
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        pin_memory = _check_flag(pin_memory, "pin_memory")
        if not isinstance(pin_memory_device, str):
            raise TypeError(f"DataLoader: pin_memory_device must be a str, got {pin_memory_device!r}")
        drop_last = _check_flag(drop_last, "drop_last")
        # --- generator -----------------------------------------------------------------------
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: pass either generator or seed, not both")
        if seed is not None:
            if not _is_int(seed):
                raise TypeError(f"DataLoader: seed must be an int, got {seed!r}")
            generator = np.random.default_rng(int(seed))
        generator = _check_generator(generator, "DataLoader")
        # --- sampling ------------------------------------------------------------------------
        if batch_size is not None and (not _is_int(batch_size) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive int or None, got {batch_size!r}")
        for name, value in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            # iterable, or a sequence (__getitem__ up to IndexError: a Dataset), as PyTorch's
            if value is not None and not (hasattr(value, "__iter__") or hasattr(value, "__getitem__")):
                raise TypeError(f"DataLoader: {name} must be iterable, got {type(value).__name__}")
        if iterable:
            if shuffle not in (None, False):
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified sampler option, but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                    f"but got batch_sampler={batch_sampler}"
                )
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size = None
        elif batch_size is None and drop_last:
            raise ValueError(
                "DataLoader: batch_size=None option disables auto-batching and is mutually exclusive "
                "with drop_last"
            )
        if sampler is None:
            if iterable:
                # as PyTorch's: an iterable dataset's "indices" are placeholders (None)
                sampler = _InfiniteConstantSampler()
            else:
                sampler = (
                    RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
                )
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, int(batch_size), drop_last)
        if collate_fn is None:
            batching = batch_size is not None or batch_sampler is not None
            collate_fn = default_collate if batching else default_convert

        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self._shuffle = shuffle
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.drop_last = drop_last
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        self.generator = generator
        self.prefetch_factor = None if prefetch_factor is None else int(prefetch_factor)
        self.persistent_workers = persistent_workers
        self._iterable = iterable
        # worker seeds come from their own stream, so that num_workers never changes the shuffling
        self._seed_stream = np.random.default_rng(seed)
        self._pool: _WorkerPool | None = None
        self._iterator: Any = None
        self._initialized = True
        self.check_worker_number_rationality()

    # --- attributes --------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FROZEN and self.__dict__.get("_initialized", False):
            raise ValueError(
                f"DataLoader: {name} attribute should not be set after DataLoader is initialized"
            )
        if name == "multiprocessing_context":
            # a property's value kept under PyTorch's private name: the loader's public
            # attributes are its constructor's arguments (code rebuilds a loader from them)
            if value is not None:
                self._check_context(value)
            name = "_DataLoader__multiprocessing_context"
        super().__setattr__(name, value)

    @property
    def multiprocessing_context(self) -> Any:
        return self.__dict__.get("_DataLoader__multiprocessing_context")

    def _check_context(self, context: Any) -> None:
        if self.num_workers == 0:
            raise ValueError(
                "DataLoader: multiprocessing_context can only be used with background workers "
                f"(num_workers > 0), but got num_workers={self.num_workers}"
            )
        if isinstance(context, str):
            methods = multiprocessing.get_all_start_methods()
            if context not in methods:
                raise ValueError(
                    f"DataLoader: multiprocessing_context option should specify a valid start method in "
                    f"{methods!r}, but got multiprocessing_context={context!r}"
                )
        elif not isinstance(context, multiprocessing.context.BaseContext):
            raise TypeError(
                "DataLoader: multiprocessing_context option must be a valid context object or a string "
                f"specifying the start method, but got multiprocessing_context={context!r}"
            )

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _dataset_kind(self) -> int:
        """PyTorch's ``_DatasetKind`` of the dataset (``Map`` 0, ``Iterable`` 1)."""
        return _DatasetKind.Iterable if self._iterable else _DatasetKind.Map

    @property
    def _index_sampler(self) -> Any:
        """What the iterator draws each batch's indices from: the batch sampler when batching,
        else the sampler (PyTorch's private attribute, read by libraries)."""
        return self.batch_sampler if self._auto_collation else self.sampler

    def check_worker_number_rationality(self) -> None:
        """Warns when ``num_workers`` exceeds the CPUs this process may use (as PyTorch's)."""
        if self.num_workers <= 1:
            return
        try:
            cpus = len(os.sched_getaffinity(0))
            cpuset = True
        except AttributeError:
            cpus, cpuset = os.cpu_count(), False
        if cpus is not None and self.num_workers > cpus:
            note = "" if cpuset else " (`cpuset` is not taken into account)"
            warnings.warn(
                f"This DataLoader will create {self.num_workers} worker threads in total. Our "
                f"suggested max number of worker in current system is {cpus}{note}, which is smaller "
                "than what this DataLoader is going to create. Please be aware that excessive worker "
                "creation might get DataLoader running slow or even freeze, lower the worker number "
                "to avoid potential slowness/freeze if necessary.",
                UserWarning,
                stacklevel=3,
            )

    # --- iteration ---------------------------------------------------------------------------

    def __len__(self) -> int:
        if self._iterable:
            try:
                n = len(self.dataset)
            except NotImplementedError:
                raise TypeError(f"DataLoader: {type(self.dataset).__name__} has no __len__") from None
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def _fetcher(self) -> _Fetcher:
        return _Fetcher(self.dataset, self.collate_fn, self._auto_collation, self.batch_size, self.drop_last)

    def _tasks(self) -> Iterator[Any]:
        if self._iterable:
            return itertools.repeat(None)
        if self.batch_sampler is not None:
            return _batches_of(self.batch_sampler)
        return iter(self.sampler)

    def _single_thread_iter(self) -> Iterator[Any]:
        return _SingleThreadIter(self, _seed_drawn=True)

    def _new_pool(self, base_seed: int | None = None) -> _WorkerPool:
        fetcher = self._fetcher()
        if base_seed is None:
            base_seed = int(self._seed_stream.integers(0, 2**62))
        job = _Job(self.dataset, fetcher, self._iterable, self.worker_init_fn)
        return _WorkerPool(self.num_workers, base_seed, job)

    def __iter__(self) -> Iterator[Any]:
        iterator = self._get_iterator()
        if self.persistent_workers and self.num_workers > 0:
            self._iterator = iterator
        return iterator

    def _get_iterator(self) -> Iterator[Any]:
        """A new epoch's iterator (PyTorch's hook: a subclass that overrides it is iterated
        through its own)."""
        base_seed = None
        # a persistent pool goes on with its workers (PyTorch resets its iterator: no new seed)
        reuse = (
            self.num_workers > 0 and self.persistent_workers and self._pool is not None and self._pool.alive
        )
        if not reuse:
            base_seed = _base_seed(self.generator)
        if self.num_workers == 0:
            return self._single_thread_iter()
        if self.persistent_workers:
            if self._pool is None or not self._pool.alive:
                self._pool = self._new_pool(base_seed)
            pool = self._pool
        else:
            pool = self._new_pool(base_seed)
        return _WorkersIter(
            pool, self._tasks(), self.prefetch_factor, self.timeout, self.persistent_workers, owner=self
        )

    def __del__(self) -> None:
        pool = self.__dict__.get("_pool")
        if pool is not None:
            try:
                pool.shutdown()
            except Exception:  # noqa: BLE001 - never raise from a finalizer
                pass

    def __repr__(self) -> str:
        try:
            size = f"(len={len(self.dataset)})"
        except Exception:  # noqa: BLE001 - iterable datasets may have no length
            size = ""
        workers = f", num_workers={self.num_workers}" if self.num_workers else ""
        return (
            f"DataLoader(dataset={type(self.dataset).__name__}{size}, batch_size={self.batch_size}, "
            f"shuffle={self._shuffle}, drop_last={self.drop_last}{workers})"
        )


# ``torch.utils.data.dataloader._utils`` (the package's collate and worker helpers; the package
# is still being imported here, so it is taken from sys.modules)
_utils = sys.modules[__package__]
