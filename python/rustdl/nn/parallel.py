"""``torch.nn.parallel``: ``DataParallel`` as a transparent wrapper (rustdl runs a module on one
device; the wrapper calls it), ``DistributedDataParallel`` not supported.

Example:
    >>> model = rustdl.nn.parallel.DataParallel(net)   # model(x) == net(x); model.module is net
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .modules.module import Module

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]


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


class DistributedDataParallel(Module):
    """Not supported: rustdl has no multi-process training (rustdl.distributed does not exist)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "rustdl.nn.parallel.DistributedDataParallel: multi-process training is not supported "
            "(there is no rustdl.distributed); train in one process, or wrap with "
            "rustdl.nn.parallel.DataParallel, which calls the module as is"
        )
