"""Background loading for ``DataLoader(num_workers > 0)``: a pool of worker threads.

Threads (not processes) are enough here because collation and tensor creation run in Rust and numpy
releases the GIL for large copies, so a worker fetching a batch overlaps the training step of the
main thread. Each worker still has what a worker process has of its own (``_worker_state``): a
copy of the dataset, taken as it starts, and its own seeded Python ``random`` and numpy streams.
Each worker runs ``worker_init_fn(worker_id)`` once, then fetches the batches sent to it (round-robin); the main
thread keeps ``prefetch_factor`` batches per worker in flight and hands them out in order.
"""

from __future__ import annotations

import atexit
import copy
import itertools
import threading
import traceback
import weakref
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

from ._worker_state import enter_worker, worker_copy

__all__ = ["WorkerInfo", "get_worker_info"]


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker thread knows about itself (see :func:`get_worker_info`).

    Attributes:
        id: the worker's index, in ``[0, num_workers)``.
        num_workers: how many workers the loader runs.
        seed: ``base_seed + id``; a fresh ``base_seed`` per epoch unless the workers are persistent.
        dataset: the worker's copy of the loader's dataset (see ``_worker_state``).
    """

    id: int
    num_workers: int
    seed: int
    dataset: Any


_local = threading.local()


def _generate_state(base_seed: int, worker_id: int) -> list[int]:
    """The four 32-bit words that seed worker ``worker_id``'s numpy stream (PyTorch's
    ``torch.utils.data._utils.worker._generate_state``: numpy's SeedSequence of the worker id
    and the base seed's two halves)."""
    from ._worker_state import numpy_worker_seed

    return [int(w) for w in numpy_worker_seed(int(base_seed), int(worker_id))]


def get_worker_info() -> WorkerInfo | None:
    """Inside a ``DataLoader`` worker, its :class:`WorkerInfo`; None in the main thread.

    Example:
        >>> def worker_init_fn(worker_id):
        ...     info = get_worker_info()
        ...     info.dataset.shard(info.id, info.num_workers)
    """
    return getattr(_local, "info", None)


# Kinds of results a worker sends back.
_OK, _ERROR, _DONE = 0, 1, 2


class _Exhausted:
    """Sentinel returned by a fetcher when an iterable dataset's iterator has no batch left."""

    def __repr__(self) -> str:
        return "<exhausted>"


_EXHAUSTED = _Exhausted()


class _Shared:
    """State shared by the main thread and the workers of one pool. Workers hold only this object
    (never the loader or its iterator), so an abandoned iterator is collected and stops its pool."""

    def __init__(self, num_workers: int):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.inboxes: list[deque] = [deque() for _ in range(num_workers)]
        self.results: dict[tuple[int, int], tuple[int, Any, int]] = {}
        self.epoch = -1  # the epoch whose tasks are wanted; others are skipped or discarded
        self.stopped = False


@dataclass(frozen=True)
class _Job:
    """What every worker of a pool does: with ``fetcher`` over its own copy of ``dataset``,
    ``fetch`` the batch of a task from a map-style dataset, or take ``next_batch`` from its own
    iterator over an iterable one, after ``worker_init_fn``."""

    dataset: Any
    fetcher: Any
    iterable: bool
    worker_init_fn: Callable[[int], None] | None


def _worker_loop(shared: _Shared, worker_id: int, num_workers: int, seed: int, job: _Job) -> None:
    # the worker's own copy of the dataset, as a PyTorch worker process has one (see
    # _worker_state): sharding or lazily opened files stay the worker's
    dataset = worker_copy(job.dataset)
    fetcher = copy.copy(job.fetcher)
    fetcher.dataset = dataset
    _local.info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
    # the worker's CPU draws (random transforms in __getitem__) come from a generator of its own
    # seeded base_seed + worker_id, as each PyTorch worker process seeds its own: reproducible,
    # and the same draws as PyTorch's worker makes for the batches it is given (round-robin);
    # so do its Python `random` and numpy global draws
    from .. import _rustdl

    _rustdl._set_thread_generator(seed & ((1 << 64) - 1))
    enter_worker(seed, worker_id)
    init_error = None
    if job.worker_init_fn is not None:
        try:
            job.worker_init_fn(worker_id)
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            init_error = (exc, traceback.format_exc())
    inbox = shared.inboxes[worker_id]
    it, it_epoch, exhausted = None, None, False
    while True:
        with shared.cond:
            while not inbox and not shared.stopped:
                shared.cond.wait()
            if shared.stopped:
                return
            epoch, seq, task = inbox.popleft()
            if epoch != shared.epoch:
                continue
        kind: int
        value: Any
        try:
            if init_error is not None:
                raise init_error[0]
            if job.iterable:
                if it_epoch != epoch:
                    it, it_epoch, exhausted = iter(dataset), epoch, False
                value = _EXHAUSTED if exhausted else fetcher.next_batch(it)
                if value is _EXHAUSTED:
                    exhausted = True
                    kind = _DONE
                else:
                    kind = _OK
            else:
                kind, value = _OK, fetcher.fetch(task)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            tb = init_error[1] if init_error is not None else traceback.format_exc()
            kind, value = _ERROR, (exc, tb)
        with shared.cond:
            if epoch == shared.epoch and not shared.stopped:
                shared.results[(epoch, seq)] = (kind, value, worker_id)
                shared.cond.notify_all()
        del value


_live_pools: weakref.WeakSet = weakref.WeakSet()


class _WorkerPool:
    """``num_workers`` daemon threads with one inbox each; results are keyed by (epoch, sequence)."""

    def __init__(self, num_workers: int, base_seed: int, job: _Job):
        self.num_workers = num_workers
        self.shared = _Shared(num_workers)
        self._epochs = itertools.count()
        self.threads = []
        for wid in range(num_workers):
            t = threading.Thread(
                target=_worker_loop,
                args=(self.shared, wid, num_workers, base_seed + wid, job),
                name=f"rustdl-dataloader-worker-{wid}",
                daemon=True,
            )
            t.start()
            self.threads.append(t)
        _live_pools.add(self)

    def new_epoch(self) -> int:
        """Starts an epoch: queued tasks and results of earlier epochs are dropped."""
        with self.shared.cond:
            epoch = next(self._epochs)
            self.shared.epoch = epoch
            for inbox in self.shared.inboxes:
                inbox.clear()
            self.shared.results.clear()
            return epoch

    def end_epoch(self, epoch: int) -> None:
        with self.shared.cond:
            if self.shared.epoch == epoch:
                self.shared.epoch = -1
                for inbox in self.shared.inboxes:
                    inbox.clear()
                self.shared.results.clear()

    def submit(self, worker_id: int, epoch: int, seq: int, task: Any) -> None:
        with self.shared.cond:
            self.shared.inboxes[worker_id].append((epoch, seq, task))
            self.shared.cond.notify_all()

    def get(self, epoch: int, seq: int, timeout: float) -> tuple[int, Any, int] | None:
        """The result of task ``seq``; None when the epoch was superseded or the pool stopped.
        Raises ``TimeoutError`` after ``timeout`` seconds (0: wait forever)."""
        key = (epoch, seq)
        with self.shared.cond:
            ok = self.shared.cond.wait_for(
                lambda: key in self.shared.results or self.shared.epoch != epoch or self.shared.stopped,
                timeout if timeout > 0 else None,
            )
            if not ok:
                raise TimeoutError
            return self.shared.results.pop(key, None)

    def shutdown(self, join_timeout: float = 0.0) -> None:
        """Tells the workers to exit after their current task (threads are daemons: a stuck
        ``__getitem__`` never blocks the interpreter's exit)."""
        with self.shared.cond:
            self.shared.stopped = True
            self.shared.epoch = -1
            for inbox in self.shared.inboxes:
                inbox.clear()
            self.shared.results.clear()
            self.shared.cond.notify_all()
        if join_timeout > 0:
            for t in self.threads:
                if t is not threading.current_thread():
                    t.join(join_timeout)

    @property
    def alive(self) -> bool:
        return not self.shared.stopped


@atexit.register
def _shutdown_all() -> None:
    pools = list(_live_pools)
    for pool in pools:
        pool.shutdown()
    for pool in pools:
        for t in pool.threads:
            t.join(0.5)


def _reraise(exc: BaseException, tb: str, worker_id: int) -> None:
    """Raises ``exc`` from a worker in the main thread: the same type when it takes a message, with
    the worker id and the worker's traceback in the message."""
    msg = f"Caught {type(exc).__name__} in DataLoader worker {worker_id}.\nOriginal {tb}"
    try:
        new = type(exc)(msg)
    except Exception:  # noqa: BLE001 - constructors with other signatures
        new = RuntimeError(msg)
    if isinstance(exc, KeyError):  # KeyError's str() would quote the message: keep it readable
        try:
            new = type(exc)(_KeyErrorMessage(msg))
        except Exception:  # noqa: BLE001
            new = RuntimeError(msg)
    raise new from exc


class _KeyErrorMessage(str):
    """A message whose repr is itself (``str(KeyError(m))`` is ``repr(m)``)."""

    def __repr__(self) -> str:
        return str(self)


class _BaseDataLoaderIter:
    """What every DataLoader iterator is (PyTorch's name, for ``isinstance`` checks)."""


class _ThreadedIter(_BaseDataLoaderIter):
    """One epoch over a :class:`_WorkerPool`: sends tasks round-robin (at most ``prefetch`` in
    flight), returns results in order, and stops the pool when done or abandoned (unless it is
    persistent)."""

    def __init__(
        self,
        pool: _WorkerPool,
        tasks: Iterator[Any],
        prefetch: int,
        timeout: float,
        persistent: bool,
        owner: Any = None,
    ):
        self._finished = False
        self._owner = owner  # keeps the loader (owner of a persistent pool) alive while iterating
        self._pool = pool
        self._tasks = tasks
        self._timeout = timeout
        self._persistent = persistent
        self._epoch = pool.new_epoch()
        n = pool.num_workers
        self._active = [True] * n
        self._workers = itertools.cycle(range(n))
        self._send, self._rcvd = 0, 0
        self._tasks_done = False
        try:
            for _ in range(prefetch * n):
                self._put_next()
        except BaseException:  # a failing sampler: stop the pool before re-raising
            self._finish()
            raise

    def _put_next(self) -> None:
        if self._tasks_done:
            return
        for _ in range(len(self._active)):
            wid = next(self._workers)
            if self._active[wid]:
                break
        else:
            return
        try:
            task = next(self._tasks)
        except StopIteration:
            self._tasks_done = True
            return
        self._pool.submit(wid, self._epoch, self._send, task)
        self._send += 1

    def __iter__(self) -> _ThreadedIter:
        return self

    def __next__(self) -> Any:
        while True:
            if self._finished or self._rcvd >= self._send:
                self._finish()
                raise StopIteration
            try:
                result = self._pool.get(self._epoch, self._rcvd, self._timeout)
            except TimeoutError:
                self._finish()
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds") from None
            if result is None:  # superseded by a newer epoch of a persistent pool, or shut down
                self._finished = True
                raise StopIteration
            self._rcvd += 1
            kind, value, wid = result
            if kind == _DONE:
                self._active[wid] = False
                self._put_next()
                continue
            self._put_next()
            if kind == _ERROR:
                _reraise(value[0], value[1], wid)
            return value

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        if self._persistent:
            self._pool.end_epoch(self._epoch)
        else:
            self._pool.shutdown()

    close = _finish

    def __len__(self) -> int:
        return len(self._owner)

    def __del__(self) -> None:
        try:
            self._finish()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass
