"""What the sharding entry points raise."""

from __future__ import annotations


def no_sharding(what: str) -> NotImplementedError:
    return NotImplementedError(
        f"{what}: rustdl has no sharded tensors or fully sharded data parallelism; its data "
        "parallelism is torch.nn.parallel.DistributedDataParallel over MPI (rustdl.distributed)"
    )
