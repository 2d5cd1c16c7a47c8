"""The two kinds of data pipe and the registry of their chaining names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..dataset import Dataset, IterableDataset


def _chain(cls: type, pipe_cls: type) -> Callable[..., Any]:
    def fn(source: Any, *args: Any, **kwargs: Any) -> Any:
        return pipe_cls(source, *args, **kwargs)

    fn.__name__ = pipe_cls.__name__
    fn.__doc__ = pipe_cls.__doc__
    return fn


class _Registry:
    """A chaining name looked up on a pipe (``dp.map``) gives a function of the pipe."""

    functions: dict[str, Callable[..., Any]]

    def __getattr__(self, name: str) -> Any:
        fn = type(self).functions.get(name)
        if fn is None:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        return lambda *args, **kwargs: fn(self, *args, **kwargs)

    @classmethod
    def register_function(cls, function_name: str, function: Callable[..., Any]) -> None:
        cls.functions[function_name] = function

    @classmethod
    def register_datapipe_as_function(cls, function_name: str, cls_to_register: type, **kwargs: Any) -> None:
        if function_name in cls.functions:
            raise Exception(f"Unable to add DataPipe function name {function_name} as it is already taken")
        cls.functions[function_name] = _chain(cls, cls_to_register)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(type(self).functions))


class IterDataPipe(_Registry, IterableDataset):
    """An iterable-style pipe: implement ``__iter__``; chain stages by name."""

    functions: dict[str, Callable[..., Any]] = {}

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __repr__(self) -> str:
        return type(self).__qualname__

    def reset(self) -> None:
        """Called before a new iteration (stateless pipes need nothing)."""


class MapDataPipe(_Registry, Dataset):
    """A map-style pipe: implement ``__getitem__`` and ``__len__``; chain stages by name."""

    functions: dict[str, Callable[..., Any]] = {}

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __repr__(self) -> str:
        return type(self).__qualname__


def _batch_size(batch_size: int) -> int:
    if batch_size <= 0:
        raise AssertionError("Batch size is required to be larger than 0!")
    return batch_size


def _batch_count(n: int, batch_size: int, drop_last: bool) -> int:
    """How many batches ``n`` items make (the last one shorter unless ``drop_last``)."""
    return n // batch_size if drop_last else -(-n // batch_size)


def _pipes(datapipes: tuple) -> tuple:
    if not datapipes:
        raise ValueError("Expected at least one DataPipe, but got nothing")
    return datapipes


class functional_datapipe:  # noqa: N801 - PyTorch's spelling
    """Class decorator registering a pipe under ``name``: ``dp.name(...)`` makes ``cls(dp, ...)``."""

    def __init__(self, name: str, enable_df_api_tracing: bool = False) -> None:
        self.name = name

    def __call__(self, cls: type) -> type:
        if issubclass(cls, IterDataPipe):
            IterDataPipe.register_datapipe_as_function(self.name, cls)
        elif issubclass(cls, MapDataPipe):
            MapDataPipe.register_datapipe_as_function(self.name, cls)
        else:
            raise TypeError(
                f"`functional_datapipe` can only decorate IterDataPipe or MapDataPipe, not {cls.__name__}"
            )
        return cls
