"""Iterable pipes, each registered under its chaining name."""

from __future__ import annotations

import copy
import random
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..collate import default_collate
from ._base import IterDataPipe, _batch_count, _batch_size, _pipes, functional_datapipe

__all__ = [
    "Batcher", "Collator", "Concater", "Enumerator", "Filter", "Header", "IterableWrapper",
    "Mapper", "Multiplexer", "Sampler", "ShardingFilter", "Shuffler", "UnBatcher", "Zipper",
]  # fmt: skip


def _apply(fn: Callable[..., Any], data: Any, input_col: Any, output_col: Any) -> Any:
    """``fn`` of the whole item, or of the columns ``input_col`` written to ``output_col``."""
    if input_col is None:
        return fn(data)
    cols = input_col if isinstance(input_col, (list, tuple)) else [input_col]
    res = fn(*(data[c] for c in cols))
    if output_col is None and isinstance(input_col, (list, tuple)):
        if len(cols) > 1:
            raise ValueError("Mapper: output_col must be given when input_col names several columns")
        output_col = cols[0]
    elif output_col is None:
        output_col = input_col
    out = list(data) if isinstance(data, tuple) else copy.copy(data)
    if output_col == -1 and isinstance(out, list):
        out.append(res)
    else:
        out[output_col] = res
    return tuple(out) if isinstance(data, tuple) else out


class IterableWrapper(IterDataPipe):
    """Wraps an iterable (deep-copied each pass unless ``deepcopy=False``)."""

    def __init__(self, iterable: Iterable[Any], deepcopy: bool = True) -> None:
        self.iterable, self.deepcopy = iterable, deepcopy

    def __iter__(self) -> Iterator[Any]:
        source = self.iterable
        if self.deepcopy:
            try:
                source = copy.deepcopy(self.iterable)
            except TypeError:
                warnings.warn(
                    "IterableWrapper: the iterable cannot be deep-copied; it is used as it is", stacklevel=2
                )
        yield from source

    def __len__(self) -> int:
        return len(self.iterable)  # type: ignore[arg-type]


@functional_datapipe("map")
class Mapper(IterDataPipe):
    """Applies ``fn`` to each item (or to its ``input_col``, written to ``output_col``)."""

    def __init__(
        self, datapipe: Any, fn: Callable[..., Any], input_col: Any = None, output_col: Any = None
    ) -> None:
        self.datapipe, self.fn, self.input_col, self.output_col = datapipe, fn, input_col, output_col

    def __iter__(self) -> Iterator[Any]:
        for d in self.datapipe:
            yield _apply(self.fn, d, self.input_col, self.output_col)

    def __len__(self) -> int:
        return len(self.datapipe)


@functional_datapipe("filter")
class Filter(IterDataPipe):
    """Keeps the items for which ``filter_fn`` is true."""

    def __init__(self, datapipe: Any, filter_fn: Callable[..., bool], input_col: Any = None) -> None:
        self.datapipe, self.filter_fn, self.input_col = datapipe, filter_fn, input_col

    def __iter__(self) -> Iterator[Any]:
        for d in self.datapipe:
            if self.input_col is None:
                keep = self.filter_fn(d)
            elif isinstance(self.input_col, (list, tuple)):
                keep = self.filter_fn(*(d[c] for c in self.input_col))
            else:
                keep = self.filter_fn(d[self.input_col])
            if not isinstance(keep, bool):
                raise ValueError(
                    f"Boolean output is required for `filter_fn` of FilterIterDataPipe, got {type(keep)}."
                )
            if keep:
                yield d


@functional_datapipe("batch")
class Batcher(IterDataPipe):
    """Groups consecutive items into lists of ``batch_size`` (the last shorter unless ``drop_last``)."""

    def __init__(
        self, datapipe: Any, batch_size: int, drop_last: bool = False, wrapper_class: type = list
    ) -> None:
        self.datapipe, self.drop_last, self.wrapper_class = datapipe, drop_last, wrapper_class
        self.batch_size = _batch_size(batch_size)

    def __iter__(self) -> Iterator[Any]:
        batch: list[Any] = []
        for d in self.datapipe:
            batch.append(d)
            if len(batch) == self.batch_size:
                yield self.wrapper_class(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.wrapper_class(batch)

    def __len__(self) -> int:
        return _batch_count(len(self.datapipe), self.batch_size, self.drop_last)


@functional_datapipe("unbatch")
class UnBatcher(IterDataPipe):
    """Flattens ``unbatch_level`` levels of batches (-1: all)."""

    def __init__(self, datapipe: Any, unbatch_level: int = 1) -> None:
        self.datapipe, self.unbatch_level = datapipe, unbatch_level

    def _dive(self, element: Any, level: int) -> Iterator[Any]:
        if level == 0 or (level < 0 and not isinstance(element, list)):
            yield element
        elif isinstance(element, list):
            for item in element:
                yield from self._dive(item, level - 1 if level > 0 else level)
        else:
            raise IndexError(f"unbatch_level {self.unbatch_level} exceeds the depth of the DataPipe")

    def __iter__(self) -> Iterator[Any]:
        for element in self.datapipe:
            yield from self._dive(element, self.unbatch_level)


@functional_datapipe("collate")
class Collator(IterDataPipe):
    """Applies ``collate_fn`` (default: :func:`default_collate`) to each batch."""

    def __init__(
        self, datapipe: Any, conversion: Callable[..., Any] | None = default_collate, collate_fn: Any = None
    ) -> None:
        self.datapipe = datapipe
        self.fn = collate_fn if collate_fn is not None else conversion

    def __iter__(self) -> Iterator[Any]:
        for d in self.datapipe:
            yield self.fn(d) if self.fn is not None else d

    def __len__(self) -> int:
        return len(self.datapipe)


@functional_datapipe("shuffle")
class Shuffler(IterDataPipe):
    """Shuffles through a buffer of ``buffer_size`` items (seeded from rustdl's generator)."""

    def __init__(self, datapipe: Any, *, buffer_size: int = 10000, unbatch_level: int = 0) -> None:
        if buffer_size <= 0:
            raise AssertionError("buffer_size should be larger than 0")
        self.datapipe = datapipe if unbatch_level == 0 else UnBatcher(datapipe, unbatch_level)
        self.buffer_size = buffer_size
        self._enabled = True
        self._seed: int | None = None

    def set_shuffle(self, shuffle: bool = True) -> Shuffler:
        self._enabled = shuffle
        return self

    def set_seed(self, seed: int) -> Shuffler:
        self._seed = seed
        return self

    def __iter__(self) -> Iterator[Any]:
        if not self._enabled:
            yield from self.datapipe
            return
        if self._seed is None:
            import rustdl

            seed = int(rustdl.empty((), dtype=rustdl.int64).random_().item())
        else:
            seed = self._seed
        rng = random.Random(seed)
        buf: list[Any] = []
        for d in self.datapipe:
            if len(buf) == self.buffer_size:
                i = rng.randint(0, len(buf) - 1)
                buf[i], d = d, buf[i]
                yield d
            else:
                buf.append(d)
        rng.shuffle(buf)
        yield from buf

    def __len__(self) -> int:
        return len(self.datapipe)


@functional_datapipe("header")
class Header(IterDataPipe):
    """The first ``limit`` items."""

    def __init__(self, source_datapipe: Any, limit: int | None = 10) -> None:
        self.source_datapipe, self.limit = source_datapipe, limit

    def __iter__(self) -> Iterator[Any]:
        for i, d in enumerate(self.source_datapipe):
            if self.limit is not None and i >= self.limit:
                return
            yield d


@functional_datapipe("concat")
class Concater(IterDataPipe):
    """The items of each pipe in turn."""

    def __init__(self, *datapipes: Any) -> None:
        self.datapipes = _pipes(datapipes)

    def __iter__(self) -> Iterator[Any]:
        for dp in self.datapipes:
            yield from dp

    def __len__(self) -> int:
        return sum(len(dp) for dp in self.datapipes)


@functional_datapipe("zip")
class Zipper(IterDataPipe):
    """Tuples of the pipes' items, up to the shortest."""

    def __init__(self, *datapipes: Any) -> None:
        self.datapipes = _pipes(datapipes)

    def __iter__(self) -> Iterator[Any]:
        yield from zip(*self.datapipes)

    def __len__(self) -> int:
        return min(len(dp) for dp in self.datapipes)


@functional_datapipe("mux")
class Multiplexer(IterDataPipe):
    """One item from each pipe in turn, until the shortest ends."""

    def __init__(self, *datapipes: Any) -> None:
        self.datapipes = datapipes

    def __iter__(self) -> Iterator[Any]:
        its = [iter(dp) for dp in self.datapipes]
        while True:
            out = []
            for it in its:
                try:
                    out.append(next(it))
                except StopIteration:
                    yield from out
                    return
            yield from out


@functional_datapipe("enumerate")
class Enumerator(IterDataPipe):
    """``(index, item)`` pairs from ``starting_index``."""

    def __init__(self, source_datapipe: Any, starting_index: int = 0) -> None:
        self.source_datapipe, self.starting_index = source_datapipe, starting_index

    def __iter__(self) -> Iterator[Any]:
        yield from enumerate(self.source_datapipe, self.starting_index)

    def __len__(self) -> int:
        return len(self.source_datapipe)


@functional_datapipe("sharding_filter")
class ShardingFilter(IterDataPipe):
    """This process's share of the items: every ``num_of_instances``-th from ``instance_id``
    (set by :meth:`apply_sharding`, or by the loader worker it runs in)."""

    def __init__(self, source_datapipe: Any, sharding_group_filter: Any = None) -> None:
        self.source_datapipe = source_datapipe
        self.num_of_instances, self.instance_id = 1, 0

    def apply_sharding(self, num_of_instances: int, instance_id: int, sharding_group: Any = None) -> None:
        self.num_of_instances, self.instance_id = num_of_instances, instance_id

    def __iter__(self) -> Iterator[Any]:
        from ..worker import get_worker_info

        n, k = self.num_of_instances, self.instance_id
        info = get_worker_info()
        if n == 1 and info is not None:
            n, k = info.num_workers, info.id
        for i, d in enumerate(self.source_datapipe):
            if i % n == k:
                yield d


class Sampler(IterDataPipe):
    """The items of a map-style pipe in the order of ``sampler`` (sequential by default)."""

    def __init__(
        self, datapipe: Any, sampler: Any = None, sampler_args: Any = None, sampler_kwargs: Any = None
    ) -> None:
        from ..sampler import SequentialSampler

        self.datapipe = datapipe
        cls = SequentialSampler if sampler is None else sampler
        self.sampler = cls(*(sampler_args or ()), data_source=datapipe, **(sampler_kwargs or {}))

    def __iter__(self) -> Iterator[Any]:
        return iter(self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


# the classes under their ``*IterDataPipe`` names (``torch.utils.data.datapipes.iter.<module>``
# resolves to this module, whose submodules these names come from)
ShufflerIterDataPipe, SamplerIterDataPipe = Shuffler, Sampler
MapperIterDataPipe, CollatorIterDataPipe, FilterIterDataPipe = Mapper, Collator, Filter
BatcherIterDataPipe, UnBatcherIterDataPipe = Batcher, UnBatcher
ConcaterIterDataPipe, ZipperIterDataPipe, MultiplexerIterDataPipe = Concater, Zipper, Multiplexer
ShardingFilterIterDataPipe, IterableWrapperIterDataPipe = ShardingFilter, IterableWrapper
