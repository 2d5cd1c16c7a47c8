"""``torch.distributed._composable.fsdp``: ``fully_shard`` and ``FSDPModule`` (the class
``fully_shard`` mixes into a module; no rustdl module is one)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..._common import no_sharding

__all__ = ["FSDPModule", "MixedPrecisionPolicy", "fully_shard"]


class FSDPModule:
    """The class of modules ``fully_shard`` has sharded: none in rustdl."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise no_sharding("FSDPModule")


@dataclasses.dataclass
class MixedPrecisionPolicy:
    param_dtype: Any = None
    reduce_dtype: Any = None
    output_dtype: Any = None
    cast_forward_inputs: bool = True


def fully_shard(*args: Any, **kwargs: Any) -> Any:
    raise no_sharding("fully_shard")
