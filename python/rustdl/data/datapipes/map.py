"""Map-style pipes, each registered under its chaining name."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from ._base import MapDataPipe, _batch_count, _batch_size, _pipes, functional_datapipe

__all__ = ["Batcher", "Concater", "Mapper", "SequenceWrapper", "Shuffler", "Zipper"]


class SequenceWrapper(MapDataPipe):
    """Wraps a sequence (deep-copied unless ``deepcopy=False``)."""

    def __init__(self, sequence: Sequence[Any], deepcopy: bool = True) -> None:
        self.sequence = copy.deepcopy(sequence) if deepcopy else sequence

    def __getitem__(self, index: Any) -> Any:
        return self.sequence[index]

    def __len__(self) -> int:
        return len(self.sequence)


@functional_datapipe("map")
class Mapper(MapDataPipe):
    """``fn`` of each item."""

    def __init__(self, datapipe: Any, fn: Callable[..., Any]) -> None:
        self.datapipe, self.fn = datapipe, fn

    def __getitem__(self, index: Any) -> Any:
        return self.fn(self.datapipe[index])

    def __len__(self) -> int:
        return len(self.datapipe)


@functional_datapipe("batch")
class Batcher(MapDataPipe):
    """Item ``i`` is the list of items ``i*batch_size`` onward."""

    def __init__(
        self, datapipe: Any, batch_size: int, drop_last: bool = False, wrapper_class: type = list
    ) -> None:
        self.datapipe, self.drop_last, self.wrapper_class = datapipe, drop_last, wrapper_class
        self.batch_size = _batch_size(batch_size)

    def __getitem__(self, index: int) -> Any:
        if index < 0 or index >= len(self):
            raise IndexError(f"Index {index} is out of bound.")
        start = index * self.batch_size
        stop = min(start + self.batch_size, len(self.datapipe))
        return self.wrapper_class([self.datapipe[i] for i in range(start, stop)])

    def __len__(self) -> int:
        return _batch_count(len(self.datapipe), self.batch_size, self.drop_last)


@functional_datapipe("concat")
class Concater(MapDataPipe):
    """The pipes one after another."""

    def __init__(self, *datapipes: Any) -> None:
        self.datapipes = _pipes(datapipes)

    def __getitem__(self, index: int) -> Any:
        offset = index
        for dp in self.datapipes:
            if offset < len(dp):
                return dp[offset]
            offset -= len(dp)
        raise IndexError(f"Index {index} is out of range.")

    def __len__(self) -> int:
        return sum(len(dp) for dp in self.datapipes)


@functional_datapipe("zip")
class Zipper(MapDataPipe):
    """Tuples of the pipes' items."""

    def __init__(self, *datapipes: Any) -> None:
        self.datapipes = _pipes(datapipes)

    def __getitem__(self, index: int) -> Any:
        return tuple(dp[index] for dp in self.datapipes)

    def __len__(self) -> int:
        return min(len(dp) for dp in self.datapipes)


@functional_datapipe("shuffle")
class Shuffler(MapDataPipe):
    """The items in a random order (a fresh order each pass, from rustdl's generator)."""

    def __init__(self, datapipe: Any, *, indices: Sequence[int] | None = None) -> None:
        self.datapipe = datapipe
        self.indices = list(range(len(datapipe))) if indices is None else list(indices)
        self._order = list(self.indices)
        self._shuffle()

    def _shuffle(self) -> None:
        import rustdl

        perm = rustdl.randperm(len(self.indices)).tolist()
        self._order = [self.indices[i] for i in perm]

    def __getitem__(self, index: int) -> Any:
        return self.datapipe[self._order[index]]

    def __iter__(self) -> Any:
        self._shuffle()
        return (self.datapipe[i] for i in self._order)

    def __len__(self) -> int:
        return len(self.indices)


# the classes under their ``*MapDataPipe`` names (``torch.utils.data.datapipes.map.<module>``)
SequenceWrapperMapDataPipe, MapperMapDataPipe, BatcherMapDataPipe = SequenceWrapper, Mapper, Batcher
ConcaterMapDataPipe, ZipperMapDataPipe, ShufflerIterDataPipe = Concater, Zipper, Shuffler
