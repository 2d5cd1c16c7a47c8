"""``torch.distributed.nn.functional``: collectives that return new tensors and carry gradients
back across the ranks, as PyTorch's.

Each runs the collective of :mod:`rustdl.distributed` (MPI) on a copy of its input; backward runs
the adjoint collective on the incoming gradients:

- ``all_reduce`` (sum or average): the gradients are all-reduced the same way;
- ``broadcast`` from ``src``: the gradients are summed into ``src`` (the other ranks' inputs get
  zero);
- ``reduce`` into ``dst``: ``dst``'s gradient is broadcast to every rank;
- ``all_gather``: each rank's input gets the sum over ranks of the gradients of its slot
  (a reduce-scatter);
- ``reduce_scatter``: each input slot gets the gathered gradients (an all-gather);
- ``all_to_all``: the gradients go back the way they came (another all-to-all).
"""

from __future__ import annotations

from typing import Any

from ... import _rustdl
from ...autograd import Function
from .. import ReduceOp, get_rank, get_world_size
from .. import all_gather as _all_gather
from .. import all_reduce as _all_reduce
from .. import broadcast as _broadcast
from .. import reduce as _reduce
from .. import reduce_scatter as _reduce_scatter

__all__ = ["all_gather", "all_reduce", "all_to_all", "broadcast", "reduce", "reduce_scatter"]

_LINEAR = (ReduceOp.SUM, ReduceOp.AVG)


def _check_linear(op: Any, what: str) -> None:
    if op not in _LINEAR:
        raise NotImplementedError(
            f"torch.distributed.nn.{what}: only SUM and AVG are differentiable here, got {op}"
        )


class _AllReduce(Function):
    @staticmethod
    def forward(ctx: Any, op: Any, group: Any, tensor: Any) -> Any:
        ctx.op, ctx.group = op, group
        out = tensor.clone()
        _all_reduce(out, op=op, group=group)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        _check_linear(ctx.op, "all_reduce")
        g = grad.contiguous().clone()
        _all_reduce(g, op=ctx.op, group=ctx.group)
        return None, None, g


def all_reduce(tensor: Any, op: Any = ReduceOp.SUM, group: Any = None) -> Any:
    """The reduction of ``tensor`` over every rank, as a new tensor (the input is unchanged)."""
    return _AllReduce.apply(op, group, tensor)


class _Broadcast(Function):
    @staticmethod
    def forward(ctx: Any, src: int, group: Any, tensor: Any) -> Any:
        ctx.src, ctx.group = src, group
        out = tensor.clone()
        _broadcast(out, src, group=group)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        g = grad.contiguous().clone()
        _reduce(g, ctx.src, op=ReduceOp.SUM, group=ctx.group)
        if get_rank() != ctx.src:
            g = _rustdl.zeros_like(g)
        return None, None, g


def broadcast(tensor: Any, src: int, group: Any = None) -> Any:
    """Rank ``src``'s ``tensor`` on every rank, as a new tensor."""
    return _Broadcast.apply(src, group, tensor)


class _Reduce(Function):
    @staticmethod
    def forward(ctx: Any, dst: int, op: Any, group: Any, tensor: Any) -> Any:
        ctx.dst, ctx.op, ctx.group = dst, op, group
        out = tensor.clone()
        _reduce(out, dst, op=op, group=group)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        _check_linear(ctx.op, "reduce")
        g = grad.contiguous().clone()
        _broadcast(g, ctx.dst, group=ctx.group)
        if ctx.op == ReduceOp.AVG:
            g = g / get_world_size()
        return None, None, None, g


def reduce(tensor: Any, dst: int, op: Any = ReduceOp.SUM, group: Any = None) -> Any:
    """The reduction over every rank on rank ``dst`` (the others get their own input back)."""
    return _Reduce.apply(dst, op, group, tensor)


class _AllGather(Function):
    @staticmethod
    def forward(ctx: Any, group: Any, tensor: Any) -> Any:
        ctx.group = group
        out = [_rustdl.empty_like(tensor) for _ in range(get_world_size())]
        _all_gather(out, tensor.contiguous(), group=group)
        return tuple(out)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        mine = _rustdl.empty_like(grads[get_rank()])
        _reduce_scatter(mine, [g.contiguous() for g in grads], op=ReduceOp.SUM, group=ctx.group)
        return None, mine


def all_gather(tensor: Any, group: Any = None) -> tuple:
    """Every rank's ``tensor``, in rank order (a tuple of new tensors)."""
    return _AllGather.apply(group, tensor)


class _ReduceScatter(Function):
    @staticmethod
    def forward(ctx: Any, op: Any, group: Any, output: Any, *inputs: Any) -> Any:
        ctx.op, ctx.group = op, group
        out = _rustdl.empty_like(output)
        _reduce_scatter(out, [t.contiguous() for t in inputs], op=op, group=group)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        _check_linear(ctx.op, "reduce_scatter")
        parts = [_rustdl.empty_like(grad) for _ in range(get_world_size())]
        _all_gather(parts, grad.contiguous(), group=ctx.group)
        if ctx.op == ReduceOp.AVG:
            parts = [p / get_world_size() for p in parts]
        return (None, None, None, *parts)


def reduce_scatter(output: Any, input_list: list, op: Any = ReduceOp.SUM, group: Any = None) -> Any:
    """Rank ``r`` gets the reduction over ranks of their ``input_list[r]`` (a new tensor shaped
    as ``output``)."""
    return _ReduceScatter.apply(op, group, output, *input_list)


class _AllToAll(Function):
    @staticmethod
    def forward(ctx: Any, group: Any, *inputs: Any) -> Any:
        ctx.group = group
        return tuple(_exchange(list(inputs), group))

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        return (None, *_exchange([g.contiguous() for g in grads], ctx.group))


def _exchange(inputs: list, group: Any) -> list:
    """``out[r]`` = rank ``r``'s ``inputs[me]``: one all-gather per slot (every rank's tensors of a
    slot must have one shape)."""
    n, me = get_world_size(), get_rank()
    if len(inputs) != n:
        raise ValueError(f"all_to_all: expected {n} input tensors (one per rank), got {len(inputs)}")
    out = [None] * n
    for slot in range(n):
        gathered = [_rustdl.empty_like(inputs[slot]) for _ in range(n)]
        _all_gather(gathered, inputs[slot].contiguous(), group=group)
        if slot == me:
            out = gathered
    return out


def all_to_all(output_tensor_list: list, input_tensor_list: list, group: Any = None) -> tuple:
    """Rank ``r``'s ``input_tensor_list[me]`` lands in this rank's slot ``r`` (new tensors)."""
    if len(output_tensor_list) != len(input_tensor_list):
        raise ValueError("all_to_all: the output and input lists must have one tensor per rank")
    return _AllToAll.apply(group, *input_tensor_list)
