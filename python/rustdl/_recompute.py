"""The second-order gradient of a fused kernel.

The fused kernels (a recurrent layer, attention) compute their gradient in one Rust pass that
cannot itself be differentiated. Their bindings take a ``double_backward`` callable, which the
node runs instead of the kernel's own gradient pass in a backward with ``create_graph``
(gradient penalties, second-order meta-learning): :func:`double_backward` makes it, recomputing
the outputs from differentiable ops (``composite``) and differentiating those, so the gradient
has a history of its own, as PyTorch's. Every other backward runs the kernel's own pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import _rustdl
from .autograd import enable_grad, grad

__all__ = ["double_backward"]


def double_backward(
    tensors: Sequence[Any], composite: Callable[..., Sequence[Any]]
) -> Callable[[Any], tuple]:
    """The node's ``create_graph`` rule for a kernel over ``tensors`` (``None`` entries are absent
    inputs, not inputs of the node): ``composite(*tensors)`` must give the kernel's outputs
    (``None`` entries skipped), whose gradient the node receives flattened one after another (a
    single output: as it is)."""
    tensors = tuple(tensors)
    present = [k for k, t in enumerate(tensors) if t is not None]

    def rule(g: Any) -> tuple:
        wanted = [k for k in present if tensors[k].requires_grad]
        result: list = [None] * len(tensors)
        if wanted:
            with enable_grad():
                produced = [o for o in composite(*tensors) if o is not None]
                out = produced[0] if len(produced) == 1 else _rustdl.cat([o.reshape(-1) for o in produced])
            got = grad(
                [out],
                [tensors[k] for k in wanted],
                [g.reshape(out.shape)],
                allow_unused=True,
                create_graph=True,
            )
            for k, gk in zip(wanted, got):
                result[k] = gk
        return tuple(result[k] for k in present)

    return rule
