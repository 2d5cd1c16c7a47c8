"""``torch.nn.parallel``: ``DataParallel`` as a transparent wrapper (rustdl runs a module on one
device; the wrapper calls it), and ``DistributedDataParallel``: one process per rank on MPI
(:mod:`rustdl.distributed`), gradients averaged across ranks after every ``backward``.

Example:
    >>> model = rustdl.nn.parallel.DataParallel(net)   # model(x) == net(x); model.module is net
    >>> dist.init_process_group("mpi"); model = rustdl.nn.parallel.DistributedDataParallel(net)
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import distributed as dist
from .._rustdl import Tensor, _pack_grads, _unpack_grads, is_grad_enabled
from .modules.module import Module

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel", "gather", "scatter", "scatter_kwargs"]


class DataParallel(Module):
    """Wraps ``module`` and calls it on the inputs' device: no replication, same results.

    Args:
        module: the module to run; reachable as ``.module`` (state_dict keys get ``module.``).
        device_ids, output_device, dim: accepted for compatibility and ignored.
    """

    def __init__(
        self, module: Module, device_ids: Sequence[Any] | None = None, output_device: Any = None, dim: int = 0
    ) -> None:
        super().__init__()
        self.module = module
        self.device_ids = list(device_ids) if device_ids is not None else []
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)


def data_parallel(
    module: Module,
    inputs: Any,
    device_ids: Sequence[Any] | None = None,
    output_device: Any = None,
    dim: int = 0,
    module_kwargs: dict | None = None,
) -> Any:
    """Functional ``DataParallel``: calls ``module`` on ``inputs`` once."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    return module(*inputs, **(module_kwargs or {}))


def _np_dtype(t: Tensor) -> np.dtype:
    return np.dtype(str(t.dtype).split(".")[-1])


def _describe(named: Sequence[tuple[str, Tensor]]) -> list[tuple[str, tuple[int, ...], str]]:
    return [(name, tuple(t.shape), str(t.dtype)) for name, t in named]


class DistributedDataParallel(Module):
    """Data-parallel training over the ranks of :mod:`rustdl.distributed`, as PyTorch's.

    Each rank runs the same script on its own share of the data (see
    :class:`rustdl.data.DistributedSampler`); the wrapper keeps the ranks' models identical:

    * at construction, every rank checks that all ranks wrap the same parameter and buffer names,
      shapes and dtypes (``ValueError`` naming the first difference otherwise), then takes rank
      0's values;
    * ``forward`` calls the module (broadcasting rank 0's buffers first when
      ``broadcast_buffers`` and training with grad enabled);
    * when a ``backward`` that reaches the module's parameters returns, their ``.grad`` hold the
      average over the ranks: gradients are packed (in reverse order) into buckets of at most
      ``bucket_cap_mb``, each bucket all-reduced as one non-blocking MPI message, then
      unpacked. A bucket's all-reduce starts during backward, as soon as its last gradient is
      accumulated (a post-accumulate-grad hook on every parameter; buckets start in order, the
      same on every rank), so communication overlaps the rest of backward; when backward
      returns the wrapper waits for the messages still in flight. So ``clip_grad_norm_`` and
      any optimizer see averaged gradients, as with PyTorch.

    Inside ``with model.no_sync():`` gradients only accumulate locally; the first backward after
    it averages the accumulated gradients.

    Args:
        module: the module to replicate; reachable as ``.module``.
        broadcast_buffers: sync buffers (BatchNorm's running stats) from rank 0 at each forward.
        bucket_cap_mb: the largest bucket of gradients all-reduced as one message.
        find_unused_parameters: a parameter without a gradient after backward on some rank counts
            as zero there (unused on every rank: its grad stays None); when False (default) it is
            an error that names the parameter, raised on every rank.
        device_ids, output_device, dim, process_group, check_reduction, gradient_as_bucket_view,
            static_graph: accepted for compatibility.

    Example:
        >>> dist.init_process_group("mpi")
        >>> model = DistributedDataParallel(net)
        >>> loss_fn(model(x), y).backward()   # grads now averaged over the ranks
        >>> opt.step()
    """

    def __init__(
        self,
        module: Module,
        device_ids: Sequence[Any] | None = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float = 25,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
    ) -> None:
        super().__init__()
        if not dist.is_initialized():
            raise RuntimeError(
                "DistributedDataParallel: the default process group has not been initialized; call "
                'rustdl.distributed.init_process_group("mpi") first (and start the script with mpiexec)'
            )
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.device_ids = list(device_ids) if device_ids is not None else []
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = bucket_cap_mb
        self.find_unused_parameters = bool(find_unused_parameters)
        self.require_backward_grad_sync = True
        self._param_ids: set[int] = set()
        self._check_same_model()
        for _, t in [*self._named_params(), *module.named_buffers()]:
            dist._broadcast_unchecked(t, 0, blocking=True)  # the model check proved all ranks here
        # the buckets are fixed: every parameter, whether or not a backward reaches it
        named = self._named_params()
        self._bucket_list = self._buckets(named)
        self._bucket_of = {hash(p): i for i, b in enumerate(self._bucket_list) for _, p in b}
        # one host array per bucket, reused every step (a GPU bucket is staged through it too)
        self._bucket_arrays = [self._bucket_array(b) for b in self._bucket_list]
        # bucket messages travel on their own communicator, so the gradient check's exchange
        # can never be matched with a bucket that one rank started and another did not
        self._bucket_comm = dist._comm().Dup()
        self._armed = False
        self._ready: set[int] = set()
        self._in_flight: list[tuple[int, np.ndarray, Any]] = []
        # seconds waited for all-reduces after backward returned, and the buckets started inside it
        self.comm_stats = {"steps": 0, "exposed_wait_s": 0.0, "buckets_started_in_backward": 0, "buckets": 0}
        self._hook_handles = [p.register_post_accumulate_grad_hook(self._grad_ready) for _, p in named]
        dist._install_backward_hook()

    def _named_params(self) -> list[tuple[str, Tensor]]:
        from .._complex import storage_of

        return [(n, storage_of(p)) for n, p in self.module.named_parameters() if p.requires_grad]

    def _check_same_model(self) -> None:
        """Raises ``ValueError`` on every rank unless all ranks wrap the same parameters and buffers."""
        desc_buffers = _describe(self.module.named_buffers())
        desc = [("parameter", *d) for d in _describe(self._named_params())] + [
            ("buffer", *d) for d in desc_buffers
        ]
        digest = np.frombuffer(hashlib.sha256(repr(desc).encode()).digest(), dtype=np.int64)
        comm = dist._comm()
        every = np.empty((comm.Get_size(), digest.size), dtype=np.int64)
        dist._wait(comm.Iallgather(digest, every), "DistributedDataParallel (model check)")
        if (every == digest).all():
            return
        descs = comm.allgather(desc)  # every rank got here: this exchange cannot hang
        for r, other in enumerate(descs):
            if other == desc:
                continue
            diff = next(
                (
                    f"{a[0]} {a[1]!r}: {a[2]} {a[3]} here, {b[0]} {b[1]!r}: {b[2]} {b[3]} on rank {r}"
                    for a, b in zip(desc, other)
                    if a != b
                ),
                f"{len(desc)} tensors here, {len(other)} on rank {r}",
            )
            raise ValueError(
                f"DistributedDataParallel: rank {comm.Get_rank()} and rank {r} wrap different models ({diff}); "
                "every rank must build the same model"
            )
        raise ValueError("DistributedDataParallel: the ranks wrap different models")

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        grad = is_grad_enabled()
        if self.broadcast_buffers and self.training and grad:
            for _, b in self.module.named_buffers():
                dist._broadcast_unchecked(b, 0)
        if grad and self.require_backward_grad_sync:
            self._param_ids = {hash(p) for _, p in self._named_params()}
            dist._pending.add(self)
            if not self._in_flight:
                self._armed, self._ready = True, set()
        return self.module(*inputs, **kwargs)

    def _grad_ready(self, p: Tensor) -> None:
        """Post-accumulate hook: starts every bucket, in order, whose gradients are all ready."""
        if not self._armed:
            return
        self._ready.add(hash(p))
        while len(self._in_flight) < len(self._bucket_list):
            bucket = self._bucket_list[len(self._in_flight)]
            if not all(hash(q) in self._ready for _, q in bucket):
                break
            self._start_bucket(len(self._in_flight))
            self.comm_stats["buckets_started_in_backward"] += 1
        for _, _, req in self._in_flight:  # MPI moves non-blocking messages on inside its calls
            req.Test()

    def _start_bucket(self, i: int) -> None:
        """Packs bucket ``i``'s gradients (zeros for a parameter without one) into its host array,
        in Rust (one copy per gradient), and starts its non-blocking sum over the ranks."""
        flat = self._bucket_arrays[i]
        if flat.dtype != _np_dtype(self._bucket_list[i][0][1]):  # the module changed dtype since
            flat = self._bucket_arrays[i] = self._bucket_array(self._bucket_list[i])
        _pack_grads([p for _, p in self._bucket_list[i]], flat)
        mpi = dist._State.mpi
        self._in_flight.append((i, flat, self._bucket_comm.Iallreduce(mpi.IN_PLACE, flat, mpi.SUM)))

    @staticmethod
    def _bucket_array(bucket: list[tuple[str, Tensor]]) -> np.ndarray:
        return np.empty(sum(p.numel() for _, p in bucket), dtype=_np_dtype(bucket[0][1]))

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Gradients accumulate locally inside the block; the first backward after it averages them.

        Example:
            >>> with model.no_sync():
            ...     loss_fn(model(x1), y1).backward()
            >>> loss_fn(model(x2), y2).backward()   # averages the sum of both micro-batches
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def _buckets(self, named: list[tuple[str, Tensor]]) -> list[list[tuple[str, Tensor]]]:
        """Parameters in reverse order (the order backward finishes them), grouped by dtype and
        device into buckets of at most ``bucket_cap_mb``."""
        cap = self.bucket_cap_mb * 1024 * 1024
        buckets: list[list[tuple[str, Tensor]]] = []
        open_: dict[tuple[str, str], tuple[list, list[float]]] = {}
        for name, p in reversed(named):
            key = (str(p.dtype), str(p.device))
            size = float(p.numel() * p.element_size())
            if key not in open_ or (open_[key][0] and open_[key][1][0] + size > cap):
                open_[key] = ([], [0.0])
                buckets.append(open_[key][0])
            open_[key][0].append((name, p))
            open_[key][1][0] += size
        return buckets

    def _sync_gradients(self) -> None:
        """Completes the gradient average once backward has returned.

        First the ranks exchange which parameters got a gradient (a bounded wait: a rank that is
        gone raises ``DistBackendError`` instead of hanging); then every bucket not yet started
        during backward is started (so every rank sends every bucket, in the same order, even
        when some parameter had no gradient somewhere), all are waited for, and the averages
        are written into ``.grad``. An unused parameter raises the same error on every rank
        (after the messages completed), and one unused everywhere keeps ``grad=None`` (as
        PyTorch's)."""
        import time

        named = self._named_params()
        comm = dist._comm()
        n = comm.Get_size()
        start = time.perf_counter()
        try:
            has = np.asarray([p.grad is not None for _, p in named], dtype=np.int8)
            every = np.empty((n, has.size), dtype=np.int8)
            dist._wait(comm.Iallgather(has, every), "DistributedDataParallel (gradient check)")
            while len(self._in_flight) < len(self._bucket_list):
                self._start_bucket(len(self._in_flight))
            for i, _, req in self._in_flight:
                dist._wait(req, f"DistributedDataParallel (gradient bucket {i})")
            flights, self._in_flight = self._in_flight, []
        finally:
            self._armed = False
        self.comm_stats["steps"] += 1
        self.comm_stats["buckets"] += len(self._bucket_list)
        self.comm_stats["exposed_wait_s"] += time.perf_counter() - start
        if not self.find_unused_parameters and not every.all():
            i = int(np.flatnonzero(every.min(axis=0) == 0)[0])
            ranks = [r for r in range(n) if not every[r, i]]
            raise RuntimeError(
                f"DistributedDataParallel: parameter {named[i][0]!r} got no gradient in this backward on "
                f"rank(s) {ranks}; pass find_unused_parameters=True to treat unused parameters' gradients "
                "as zero"
            )
        used = {hash(p) for (_, p), anywhere in zip(named, every.max(axis=0)) if anywhere}
        for i, flat, _ in flights:
            params = [p for _, p in self._bucket_list[i]]
            # new .grad tensors: the bucket's slices divided by the world size, one copy each
            _unpack_grads(params, flat, n, [hash(p) in used for p in params])


def _device_of(target: Any) -> Any:
    """A ``target_gpus`` entry (an index, a device or a name) as a device rustdl has."""
    import rustdl

    if isinstance(target, int) and not isinstance(target, bool):
        target = f"cuda:{target}"
    return rustdl.device(target) if isinstance(target, str) else target


def scatter(inputs: Any, target_gpus: Sequence[Any], dim: int = 0) -> tuple:
    """``torch.nn.parallel.scatter``: one piece of ``inputs`` per target device, tensors split
    into that many chunks along ``dim`` (and moved there), other objects repeated, containers
    split element by element."""
    n = len(target_gpus)
    if n == 0:
        raise ValueError("scatter: target_gpus must name at least one device")

    def split(obj: Any) -> list:
        if isinstance(obj, Tensor):
            chunks = obj.chunk(n, dim) if obj.dim() else [obj] * n
            return [c.to(_device_of(t)) for c, t in zip(chunks, target_gpus)]
        if isinstance(obj, tuple) and obj and not hasattr(obj, "_fields"):
            return [tuple(parts) for parts in zip(*(split(o) for o in obj))]
        if isinstance(obj, tuple) and obj:
            return [type(obj)(*parts) for parts in zip(*(split(o) for o in obj))]
        if isinstance(obj, list) and obj:
            return [list(parts) for parts in zip(*(split(o) for o in obj))]
        if isinstance(obj, dict) and obj:
            return [type(obj)(zip(obj.keys(), parts)) for parts in zip(*(split(o) for o in obj.values()))]
        return [obj] * n

    return tuple(split(inputs))


def scatter_kwargs(
    inputs: tuple, kwargs: dict | None, target_gpus: Sequence[Any], dim: int = 0
) -> tuple[tuple, tuple]:
    """``scatter`` of the positional and keyword arguments, padded to the same length."""
    scattered_inputs = scatter(inputs, target_gpus, dim) if inputs else ()
    scattered_kwargs = scatter(kwargs, target_gpus, dim) if kwargs else ()
    if len(scattered_inputs) < len(scattered_kwargs):
        scattered_inputs += tuple(() for _ in range(len(scattered_kwargs) - len(scattered_inputs)))
    elif len(scattered_kwargs) < len(scattered_inputs):
        scattered_kwargs += tuple({} for _ in range(len(scattered_inputs) - len(scattered_kwargs)))
    return tuple(scattered_inputs), tuple(scattered_kwargs)


def gather(outputs: Any, target_device: Any, dim: int = 0) -> Any:
    """``torch.nn.parallel.gather``: the per-device ``outputs`` joined on ``target_device``,
    tensors concatenated along ``dim`` (0-d ones stacked), containers element by element."""
    import rustdl

    first = outputs[0]
    if isinstance(first, Tensor):
        dev = _device_of(target_device) if target_device != -1 else rustdl.device("cpu")
        parts = [o.to(dev) for o in outputs]
        return rustdl.stack(parts) if first.dim() == 0 else rustdl.cat(parts, dim)
    if first is None:
        return None
    if isinstance(first, dict):
        return type(first)((k, gather([o[k] for o in outputs], target_device, dim)) for k in first)
    if isinstance(first, (tuple, list)):
        joined = [gather(list(parts), target_device, dim) for parts in zip(*outputs)]
        if hasattr(first, "_fields"):
            return type(first)(*joined)
        return type(first)(joined)
    return first
