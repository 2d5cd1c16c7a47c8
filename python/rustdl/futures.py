"""``torch.futures``: a value that may be set later, with callbacks.

rustdl runs every operation synchronously, so a :class:`Future` is usually complete when it is
returned (``torch.jit.fork``); code that makes one itself sets its result with
:meth:`Future.set_result`, which runs the callbacks registered so far."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Future", "collect_all", "wait_all"]

T = TypeVar("T")
_UNSET = object()


class Future(Generic[T]):
    """A result that is set once (:meth:`set_result` or :meth:`set_exception`); :meth:`wait`
    blocks until then."""

    def __init__(self, *, devices: Any = None) -> None:
        self._value: Any = _UNSET
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._callbacks: list[Callable[[Future[T]], Any]] = []

    def done(self) -> bool:
        return self._value is not _UNSET or self._error is not None

    def wait(self) -> T:
        with self._cond:
            self._cond.wait_for(self.done)
        return self.value()

    def value(self) -> T:
        if self._error is not None:
            raise self._error
        if self._value is _UNSET:
            raise RuntimeError("Future.value(): the future has no result yet (call wait())")
        return self._value

    def _complete(self) -> None:
        with self._cond:
            self._cond.notify_all()
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            cb(self)

    def set_result(self, result: T) -> None:
        if self.done():
            raise RuntimeError("Future.set_result(): the future is already completed")
        self._value = result
        self._complete()

    def set_exception(self, result: BaseException) -> None:
        if not isinstance(result, BaseException):
            raise TypeError(f"Future.set_exception(): expected an exception, got {type(result).__name__}")
        if self.done():
            raise RuntimeError("Future.set_exception(): the future is already completed")
        self._error = result
        self._complete()

    def add_done_callback(self, callback: Callable[[Future[T]], Any]) -> None:
        with self._cond:
            if not self.done():
                self._callbacks.append(callback)
                return
        callback(self)

    def then(self, callback: Callable[[Future[T]], Any]) -> Future[Any]:
        """A future of ``callback(self)``, completed when this one is."""
        out: Future[Any] = Future()

        def run(fut: Future[T]) -> None:
            try:
                out.set_result(callback(fut))
            except Exception as e:  # noqa: BLE001 - delivered through the chained future
                out.set_exception(e)

        self.add_done_callback(run)
        return out

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        return f"<Future ({state})>"


def _completed(value: Any) -> Future[Any]:
    fut: Future[Any] = Future()
    fut.set_result(value)
    return fut


def collect_all(futures: list[Future[Any]]) -> Future[list[Future[Any]]]:
    """A future completed with the list of ``futures`` once all of them are."""
    out: Future[list[Future[Any]]] = Future()
    remaining = [len(futures)]
    lock = threading.Lock()
    if not futures:
        out.set_result([])
        return out

    def one(_: Future[Any]) -> None:
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            out.set_result(list(futures))

    for f in futures:
        f.add_done_callback(one)
    return out


def wait_all(futures: list[Future[Any]]) -> list[Any]:
    """The values of ``futures``, waiting for each."""
    return [f.wait() for f in futures]
