"""``torch.distributed.fsdp``: the FSDP classes and options, for ``isinstance`` checks and
configuration objects; wrapping a module raises ``NotImplementedError``."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from .._common import no_sharding
from .._composable.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard

__all__ = [
    "BackwardPrefetch",
    "CPUOffload",
    "FSDPModule",
    "FullOptimStateDictConfig",
    "FullStateDictConfig",
    "FullyShardedDataParallel",
    "MixedPrecision",
    "MixedPrecisionPolicy",
    "ShardedStateDictConfig",
    "ShardingStrategy",
    "StateDictType",
    "fully_shard",
]


class ShardingStrategy(enum.Enum):
    FULL_SHARD = enum.auto()
    SHARD_GRAD_OP = enum.auto()
    NO_SHARD = enum.auto()
    HYBRID_SHARD = enum.auto()
    _HYBRID_SHARD_ZERO2 = enum.auto()


class BackwardPrefetch(enum.Enum):
    BACKWARD_PRE = enum.auto()
    BACKWARD_POST = enum.auto()


class StateDictType(enum.Enum):
    FULL_STATE_DICT = enum.auto()
    LOCAL_STATE_DICT = enum.auto()
    SHARDED_STATE_DICT = enum.auto()


@dataclasses.dataclass
class CPUOffload:
    offload_params: bool = False


@dataclasses.dataclass
class MixedPrecision:
    param_dtype: Any = None
    reduce_dtype: Any = None
    buffer_dtype: Any = None
    keep_low_precision_grads: bool = False
    cast_forward_inputs: bool = False
    cast_root_forward_inputs: bool = True


@dataclasses.dataclass
class FullStateDictConfig:
    offload_to_cpu: bool = False
    rank0_only: bool = False


@dataclasses.dataclass
class FullOptimStateDictConfig:
    offload_to_cpu: bool = False
    rank0_only: bool = False


@dataclasses.dataclass
class ShardedStateDictConfig:
    offload_to_cpu: bool = False


class FullyShardedDataParallel:
    """Fully sharded data parallelism: rustdl has none (no rustdl module is an instance)."""

    def __init__(self, module: Any = None, *args: Any, **kwargs: Any) -> None:
        raise no_sharding("FullyShardedDataParallel")

    @staticmethod
    def state_dict_type(*args: Any, **kwargs: Any) -> Any:
        raise no_sharding("FullyShardedDataParallel.state_dict_type")

    @staticmethod
    def summon_full_params(*args: Any, **kwargs: Any) -> Any:
        raise no_sharding("FullyShardedDataParallel.summon_full_params")
