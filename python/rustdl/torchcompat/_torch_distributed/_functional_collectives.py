"""``torch.distributed._functional_collectives``: collectives that return a new tensor instead
of writing into their argument, over rustdl's MPI process group. Reductions are named by string
(``"sum"``, ``"avg"``, ``"product"``, ``"min"``, ``"max"``) or :class:`ReduceOp`; every call
completes before it returns, so :func:`wait_tensor` returns its argument."""

from __future__ import annotations

from typing import Any

import rustdl
from rustdl import distributed as dist

__all__ = [
    "AsyncCollectiveTensor",
    "all_gather_tensor",
    "all_reduce",
    "all_reduce_coalesced",
    "all_to_all_single",
    "broadcast",
    "reduce_scatter_tensor",
    "wait_tensor",
]

_OPS = {
    "sum": dist.ReduceOp.SUM,
    "avg": dist.ReduceOp.AVG,
    "product": dist.ReduceOp.PRODUCT,
    "min": dist.ReduceOp.MIN,
    "max": dist.ReduceOp.MAX,
}


def _op(reduce_op: Any, what: str) -> Any:
    if isinstance(reduce_op, str):
        try:
            return _OPS[reduce_op.lower()]
        except KeyError:
            raise ValueError(f"{what}: unknown reduction {reduce_op!r}; use one of {sorted(_OPS)}") from None
    return reduce_op


def _group(group: Any) -> Any:
    # rustdl has the one default group: a list of all ranks, a mesh or None all name it
    return None


class AsyncCollectiveTensor(rustdl.Tensor):
    """The type results are checked against; rustdl's collectives finish before returning, so no
    result is ever pending."""

    def wait(self) -> Any:
        return self


def wait_tensor(tensor: Any) -> Any:
    """Returns ``tensor``: the collective that made it has already completed."""
    return tensor


def all_reduce(self: Any, reduceOp: Any, group: Any, tag: str = "") -> Any:  # noqa: N803 - PyTorch's name
    """The reduction of ``self`` over all ranks, as a new tensor (``self`` is unchanged)."""
    out = self.clone()
    dist.all_reduce(out, op=_op(reduceOp, "all_reduce"), group=_group(group))
    return out


def all_reduce_coalesced(self: list[Any], reduceOp: Any, group: Any, tag: str = "") -> list[Any]:  # noqa: N803
    """:func:`all_reduce` of each tensor of a list."""
    return [all_reduce(t, reduceOp, group, tag) for t in self]


def broadcast(self: Any, src: int, group: Any, tag: str = "") -> Any:
    """Rank ``src``'s ``self`` on every rank, as a new tensor."""
    out = self.clone()
    dist.broadcast(out, src, group=_group(group))
    return out


def all_gather_tensor(self: Any, gather_dim: int, group: Any, tag: str = "") -> Any:
    """Every rank's ``self`` concatenated along ``gather_dim``, in rank order."""
    parts = [rustdl.empty_like(self) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, self.contiguous(), group=_group(group))
    return rustdl.cat(parts, dim=gather_dim)


def reduce_scatter_tensor(self: Any, reduceOp: Any, scatter_dim: int, group: Any, tag: str = "") -> Any:  # noqa: N803
    """The reduction over ranks of ``self``, split along ``scatter_dim`` into one equal chunk per
    rank; each rank receives its chunk."""
    world = dist.get_world_size()
    if self.shape[scatter_dim] % world:
        raise ValueError(
            f"reduce_scatter_tensor: dim {scatter_dim} of shape {tuple(self.shape)} does not split into "
            f"{world} equal chunks"
        )
    reduced = all_reduce(self, reduceOp, group, tag)
    return reduced.chunk(world, dim=scatter_dim)[dist.get_rank()].contiguous()


def all_to_all_single(
    self: Any, output_split_sizes: Any, input_split_sizes: Any, group: Any, tag: str = ""
) -> Any:
    """Rank ``r`` receives, from every rank in order, that rank's ``r``-th split of ``self``
    along dim 0 (equal splits when the sizes are None)."""
    world, rank = dist.get_world_size(), dist.get_rank()
    sizes = list(input_split_sizes) if input_split_sizes is not None else None
    if sizes is None:
        if self.shape[0] % world:
            raise ValueError(
                f"all_to_all_single: dim 0 of shape {tuple(self.shape)} does not split into {world} equal parts"
            )
        sizes = [self.shape[0] // world] * world
    if len(sizes) != world or sum(sizes) != self.shape[0]:
        raise ValueError(
            f"all_to_all_single: input_split_sizes {sizes} do not split dim 0 of shape {tuple(self.shape)} "
            f"into {world} parts"
        )
    # every rank's split sizes, then every rank's whole input (padded to the longest, as the
    # gather wants one shape), of which each rank keeps the pieces addressed to it
    all_sizes: list[Any] = [None] * world
    dist.all_gather_object(all_sizes, sizes)
    longest = max(sum(s) for s in all_sizes)
    padded = rustdl.zeros((longest, *self.shape[1:]), dtype=self.dtype)
    padded[: self.shape[0]] = self
    everything = [rustdl.empty_like(padded) for _ in range(world)]
    dist.all_gather(everything, padded, group=_group(group))
    pieces = []
    for src in range(world):
        start = sum(all_sizes[src][:rank])
        pieces.append(everything[src][start : start + all_sizes[src][rank]])
    out = rustdl.cat(pieces, dim=0)
    if output_split_sizes is not None and sum(output_split_sizes) != out.shape[0]:
        raise ValueError(
            f"all_to_all_single: output_split_sizes {list(output_split_sizes)} do not add up to the "
            f"{out.shape[0]} rows received"
        )
    return out
