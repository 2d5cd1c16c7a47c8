"""``torch._C._nn``: the argument parser of ``Module.to`` that library code calls itself."""

from __future__ import annotations

from typing import Any

import rustdl


def _parse_to(*args: Any, **kwargs: Any) -> tuple[Any, Any, bool, Any]:
    """``(device, dtype, non_blocking, memory_format)`` of ``to(...)`` arguments, as
    ``Module.to`` reads them (a device as a ``torch.device``; None for what is not given)."""
    from rustdl.nn.modules.module import _parse_to as parse

    non_blocking = bool(kwargs.get("non_blocking", False))
    fmt = kwargs.get("memory_format")
    rest = [a for a in args if isinstance(a, bool)]
    args = tuple(a for a in args if not isinstance(a, bool))
    if rest:
        non_blocking = rest[0]
    device, dtype = parse(args, dict(kwargs))
    if device is not None and not isinstance(device, rustdl.device):
        device = rustdl.device(device)
    return device, dtype, non_blocking, fmt
