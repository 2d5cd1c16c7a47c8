"""``torch.distributed.device_mesh``."""

from __future__ import annotations

from typing import Any

from ._common import no_sharding

__all__ = ["DeviceMesh", "init_device_mesh"]


class DeviceMesh:
    """A grid of devices to shard over: rustdl has none."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise no_sharding("DeviceMesh")


def init_device_mesh(*args: Any, **kwargs: Any) -> Any:
    raise no_sharding("init_device_mesh")
