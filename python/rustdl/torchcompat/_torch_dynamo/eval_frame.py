"""``torch._dynamo.eval_frame``: the compiled-module type ``torch.compile(module)`` returns."""

from __future__ import annotations

from rustdl.compiler import OptimizedModule

__all__ = ["OptimizedModule"]
