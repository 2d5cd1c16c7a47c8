"""``rustdl.multiprocessing`` (``torch.multiprocessing``): Python's ``multiprocessing`` with
tensors that travel through shared memory.

Everything of the standard module is here (``Process``, ``Queue``, ``Pool``, ``get_context``,
``set_start_method``, ...). Importing it teaches the multiprocessing pickler to send a tensor in
shared memory (``Tensor.share_memory_``, ``Module.share_memory``) by that memory instead of by
value: the receiving process maps the same memory, so writes on either side are seen by both
(Hogwild! training with the ``spawn`` or ``forkserver`` start methods); the sender must still be
running when it is received. A CPU tensor given as an argument of a process being started
(``Process(target, args=(t,))`` with ``spawn`` or ``forkserver``) is moved into shared memory
first, as PyTorch does, so the child's in-place writes reach the parent. Other tensors (GPU ones,
CPU ones not shared, sent through a queue or pipe) travel by value — unlike PyTorch, which moves
every CPU tensor it sends into shared memory — so a worker may put its results on a queue and
exit (with PyTorch the receiver then fails to reach the exited sender). With ``fork`` nothing needs pickling: a module whose
``share_memory()`` ran before the fork is the same memory in the children.

``spawn(fn, args, nprocs)`` runs ``fn(i, *args)`` in ``nprocs`` processes, as
``torch.multiprocessing.spawn``.
"""

from __future__ import annotations

import multiprocessing as _mp
import os as _os
import traceback as _traceback
from multiprocessing import *  # noqa: F403
from multiprocessing import reduction as _reduction
from typing import Any, Callable

from . import _rustdl
from ._rustdl import Tensor

__all__ = list(_mp.__all__) + [
    "spawn",
    "start_processes",
    "ProcessContext",
    "ProcessRaisedException",
    "ProcessExitedException",
    "get_sharing_strategy",
    "set_sharing_strategy",
    "get_all_sharing_strategies",
]

_STRATEGIES = {"file_descriptor", "file_system"}
_strategy = ["file_descriptor"]


def get_all_sharing_strategies() -> set:
    """The sharing strategies accepted (both map memory through a file descriptor here)."""
    return set(_STRATEGIES)


def get_sharing_strategy() -> str:
    """The sharing strategy last set (``"file_descriptor"`` by default)."""
    return _strategy[0]


def set_sharing_strategy(new_strategy: str) -> None:
    """Accepts ``"file_descriptor"`` or ``"file_system"``; rustdl shares memory through a file
    descriptor handed to the receiving process either way."""
    if new_strategy not in _STRATEGIES:
        raise ValueError(f"set_sharing_strategy: expected one of {sorted(_STRATEGIES)}, got {new_strategy!r}")
    _strategy[0] = new_strategy


# ---- tensors through the pickler


def _rebuild_shared(
    dup, dtype: str, length: int, shape, strides, offset: int, requires_grad: bool, param: bool
):
    try:
        fd = dup.detach()
    except (OSError, EOFError) as e:
        raise RuntimeError(
            f"rustdl.multiprocessing: a shared tensor of shape {tuple(shape)} could not be received: the "
            "process that sent it must still be running when it is received (keep it alive, or send "
            "a tensor that is not in shared memory, which travels by value)"
        ) from e
    try:
        t = _rustdl._from_shared(_os.getpid(), fd, dtype, length, list(shape), list(strides), offset)
    finally:
        _os.close(fd)
    if param:
        from .nn.parameter import Parameter

        return Parameter(t, requires_grad)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _reduce_tensor(t: Tensor):
    if t.requires_grad and not t.is_leaf:
        raise RuntimeError(
            "Cowardly refusing to serialize a non-leaf tensor which requires grad: autograd does not "
            "cross process boundaries; send t.detach() to transfer the data"
        )
    from .nn.parameter import Parameter

    param = isinstance(t, Parameter)
    handle = t._shared_handle()
    if handle is None and t.device.type == "cpu" and _mp.context.get_spawning_popen() is not None:
        # an argument of a process being started (spawn, forkserver) moves into shared memory,
        # as PyTorch's: the child's in-place writes reach the parent's tensor
        try:
            t.share_memory_()
        except RuntimeError:
            pass  # its memory is lent out (a numpy view of it lives): it travels by value
        handle = t._shared_handle()
    if handle is None:
        # not in shared memory (a GPU tensor, or a CPU one nobody shared): by value, so a
        # process may send its results and exit before they are read
        if param:
            return (Parameter, (t.detach(), t.requires_grad))
        return t.__reduce__()
    _pid, fd, length, offset = handle
    dup = _reduction.DupFd(fd)
    return (
        _rebuild_shared,
        (
            dup,
            str(t.dtype).split(".")[-1],
            length,
            tuple(t.shape),
            tuple(t.stride()),
            offset,
            t.requires_grad,
            param,
        ),
    )


def _register() -> None:
    from .nn.parameter import Parameter

    for cls in (Tensor, Parameter):
        _reduction.ForkingPickler.register(cls, _reduce_tensor)


_register()


# ---- spawn


class ProcessRaisedException(Exception):
    """A process started by :func:`spawn` raised: the message carries its traceback."""

    def __init__(self, msg: str, error_index: int, error_pid: int):
        super().__init__(msg)
        self.error_index = error_index
        self.pid = error_pid


class ProcessExitedException(Exception):
    """A process started by :func:`spawn` exited with a non-zero code (or a signal)."""

    def __init__(
        self, msg: str, error_index: int, error_pid: int, exit_code: int, signal_name: str | None = None
    ):
        super().__init__(msg)
        self.error_index = error_index
        self.pid = error_pid
        self.exit_code = exit_code
        self.signal_name = signal_name


def _wrap(fn: Callable, i: int, args: tuple, error_queue) -> None:
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass
    except Exception:
        error_queue.put(_traceback.format_exc())
        raise SystemExit(1) from None


class ProcessContext:
    """The processes of one :func:`spawn` call; ``join()`` waits for them and raises for the
    first one that failed."""

    def __init__(self, processes: list, error_queues: list):
        self.processes = processes
        self.error_queues = error_queues

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def join(self, timeout: float | None = None) -> bool:
        """Waits for every process; True when all ended. A failure terminates the others and
        raises :class:`ProcessRaisedException` or :class:`ProcessExitedException`."""
        for p in self.processes:
            p.join(timeout)
        for i, p in enumerate(self.processes):
            if p.exitcode not in (None, 0):
                for q in self.processes:
                    if q.is_alive():
                        q.terminate()
                q = self.error_queues[i]
                tb = None if q.empty() else q.get()
                if tb is not None:
                    raise ProcessRaisedException(
                        f"\n\n-- Process {i} terminated with the following error:\n{tb}", i, p.pid
                    )
                raise ProcessExitedException(
                    f"process {i} terminated with exit code {p.exitcode}", i, p.pid, p.exitcode
                )
        return all(p.exitcode is not None for p in self.processes)


def start_processes(
    fn: Callable,
    args: tuple = (),
    nprocs: int = 1,
    join: bool = True,
    daemon: bool = False,
    start_method: str = "spawn",
) -> ProcessContext | None:
    """Runs ``fn(i, *args)`` for ``i`` in ``range(nprocs)``, each in its own process started
    with ``start_method``; waits for them when ``join`` (else returns the context)."""
    if not callable(fn):
        raise TypeError(f"spawn: fn must be callable, got {type(fn).__name__}")
    if isinstance(nprocs, bool) or not isinstance(nprocs, int) or nprocs < 1:
        raise ValueError(f"spawn: nprocs must be a positive int, got {nprocs!r}")
    ctx = _mp.get_context(start_method)
    processes, queues = [], []
    for i in range(nprocs):
        q = ctx.SimpleQueue()
        p = ctx.Process(target=_wrap, args=(fn, i, tuple(args), q), daemon=daemon)
        p.start()
        processes.append(p)
        queues.append(q)
    context = ProcessContext(processes, queues)
    if not join:
        return context
    context.join()
    return None


def spawn(
    fn: Callable,
    args: tuple = (),
    nprocs: int = 1,
    join: bool = True,
    daemon: bool = False,
    start_method: str = "spawn",
) -> Any:
    """``torch.multiprocessing.spawn``: :func:`start_processes` with the ``spawn`` method."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)
