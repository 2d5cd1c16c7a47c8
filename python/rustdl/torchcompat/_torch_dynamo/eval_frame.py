"""``torch._dynamo.eval_frame``: the compiled-module type (no module is ever one in rustdl,
whose ``torch.compile`` returns the module itself)."""

from __future__ import annotations

from typing import Any

import rustdl

__all__ = ["OptimizedModule"]


class OptimizedModule(rustdl.nn.Module):
    """PyTorch's wrapper of a compiled module. ``torch.compile`` in rustdl returns the module
    unchanged (reachable as ``module._orig_mod`` too), so code that checks
    ``isinstance(m, OptimizedModule)`` to unwrap finds nothing to unwrap."""

    def __init__(self, mod: Any, dynamo_ctx: Any = None) -> None:
        super().__init__()
        self._orig_mod = mod

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._orig_mod(*args, **kwargs)
