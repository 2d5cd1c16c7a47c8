"""``torch.distributed.tensor``: the DTensor types, for ``isinstance`` checks (no rustdl tensor
is a DTensor); creating one raises ``NotImplementedError``."""

from __future__ import annotations

from typing import Any

from ..._torch_distributed._common import no_sharding
from ..device_mesh import DeviceMesh, init_device_mesh

__all__ = [
    "DTensor",
    "DeviceMesh",
    "Partial",
    "Placement",
    "Replicate",
    "Shard",
    "distribute_module",
    "distribute_tensor",
    "init_device_mesh",
]


class DTensor:
    """A tensor sharded over a device mesh: rustdl has none."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise no_sharding("DTensor")

    @staticmethod
    def from_local(*args: Any, **kwargs: Any) -> Any:
        raise no_sharding("DTensor.from_local")


class Placement:
    """How a DTensor's dim maps onto a mesh dim."""

    def is_shard(self, dim: int | None = None) -> bool:
        return False

    def is_replicate(self) -> bool:
        return False

    def is_partial(self) -> bool:
        return False


class Shard(Placement):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def is_shard(self, dim: int | None = None) -> bool:
        return dim is None or dim == self.dim

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Shard) and other.dim == self.dim

    def __hash__(self) -> int:
        return hash(("Shard", self.dim))

    def __repr__(self) -> str:
        return f"Shard(dim={self.dim})"


class Replicate(Placement):
    def is_replicate(self) -> bool:
        return True

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Replicate)

    def __hash__(self) -> int:
        return hash("Replicate")

    def __repr__(self) -> str:
        return "Replicate()"


class Partial(Placement):
    def __init__(self, reduce_op: str = "sum") -> None:
        self.reduce_op = reduce_op

    def is_partial(self) -> bool:
        return True

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Partial) and other.reduce_op == self.reduce_op

    def __hash__(self) -> int:
        return hash(("Partial", self.reduce_op))

    def __repr__(self) -> str:
        return f"Partial({self.reduce_op})"


def distribute_tensor(*args: Any, **kwargs: Any) -> Any:
    raise no_sharding("distribute_tensor")


def distribute_module(*args: Any, **kwargs: Any) -> Any:
    raise no_sharding("distribute_module")
