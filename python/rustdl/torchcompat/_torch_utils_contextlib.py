"""``torch.utils._contextlib``: context managers that also decorate functions (the base of
PyTorch's ``no_grad``-style classes, which libraries subclass)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["_DecoratorContextManager", "_NoParamDecoratorContextManager", "context_decorator"]


def _wrap_generator(ctx_factory: Callable[[], Any], func: Callable) -> Callable:
    """``func`` (a generator function) run inside a fresh context at each step, as PyTorch's."""

    @functools.wraps(func)
    def generator_context(*args: Any, **kwargs: Any) -> Any:
        gen = func(*args, **kwargs)
        try:
            with ctx_factory():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with ctx_factory():
                        gen.close()
                    raise
                except BaseException as e:  # noqa: BLE001 - handed to the generator, as PyTorch's
                    with ctx_factory():
                        response = gen.throw(e)
                else:
                    with ctx_factory():
                        response = gen.send(request)
        except StopIteration as e:
            return e.value

    return generator_context


def context_decorator(ctx: Any, func: Callable) -> Callable:
    """``func`` run inside ``ctx()`` (a context factory, or a context manager used once)."""
    if not callable(ctx):
        manager = ctx

        def ctx_factory() -> Any:
            return manager
    else:
        ctx_factory = ctx
    if inspect.isclass(func):
        raise RuntimeError("Cannot decorate classes; it is ambiguous")
    if inspect.isgeneratorfunction(func):
        return _wrap_generator(ctx_factory, func)

    @functools.wraps(func)
    def decorate_context(*args: Any, **kwargs: Any) -> Any:
        with ctx_factory():
            return func(*args, **kwargs)

    return decorate_context


class _DecoratorContextManager:
    """A context manager that is also a decorator (``@Ctx()`` runs the function inside a fresh copy
    made by :meth:`clone`). Subclasses define ``__enter__`` and ``__exit__``."""

    def __call__(self, orig_func: Callable) -> Callable:
        if inspect.isclass(orig_func):
            raise RuntimeError("Cannot decorate classes; it is ambiguous")
        return context_decorator(self.clone, orig_func)

    def __enter__(self) -> None:
        raise NotImplementedError

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        raise NotImplementedError

    def clone(self) -> _DecoratorContextManager:
        return self.__class__()


class _NoParamDecoratorContextManager(_DecoratorContextManager):
    """A :class:`_DecoratorContextManager` that also decorates without parentheses (``@Ctx``)."""

    def __new__(cls, orig_func: Callable | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)
