"""``torch.distributed.nn``: the collectives as differentiable functions (see :mod:`.functional`)."""

from .functional import all_gather, all_reduce, all_to_all, broadcast, reduce, reduce_scatter

__all__ = ["all_gather", "all_reduce", "all_to_all", "broadcast", "reduce", "reduce_scatter"]
