"""A fused kernel in the graph that can also be differentiated twice.

The fused kernels (a recurrent layer, attention) compute their gradient in one Rust pass that
cannot itself be differentiated. :func:`record` puts such a kernel in the graph as one node whose
backward is the kernel's own (run on an inner graph over detached copies of the inputs), except
in a backward with ``create_graph`` (gradient penalties, second-order meta-learning): there it
recomputes the outputs from differentiable ops (``composite``) and differentiates those, so the
gradient has a history of its own, as PyTorch's. A second backward through a retained graph also
recomputes (the inner graph is spent by the first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import _rustdl
from .autograd import enable_grad, grad

__all__ = ["record"]


def record(
    name: str,
    tensors: Sequence[Any],
    fused: Callable[..., Sequence[Any]],
    composite: Callable[..., Sequence[Any]],
) -> list:
    """``fused(*tensors)``'s outputs (``None`` entries stay ``None``), recorded as one node named
    ``name`` (see the module's docstring); ``composite(*tensors)`` must give the same outputs."""
    tensors = tuple(tensors)
    inner = tuple(None if t is None else t.detach().requires_grad_(t.requires_grad) for t in tensors)
    outs = list(fused(*inner))
    present = [k for k, t in enumerate(tensors) if t is not None]
    state = {"spent": False}

    def backward(*grads: Any) -> tuple:
        create_graph = _rustdl.is_grad_enabled()
        if create_graph or state["spent"]:
            inputs = list(tensors)
            with enable_grad():
                produced = [o for o in composite(*inputs) if o is not None]
            keep = {"create_graph": create_graph}
        else:
            state["spent"] = True
            inputs, produced, keep = list(inner), [o for o in outs if o is not None], {}
        pairs = [(o, g) for o, g in zip(produced, grads) if g is not None]
        wanted = [k for k in present if inputs[k].requires_grad]
        result: list = [None] * len(tensors)
        if pairs and wanted:
            got = grad(
                [o for o, _ in pairs],
                [inputs[k] for k in wanted],
                [g for _, g in pairs],
                allow_unused=True,
                **keep,
            )
            for k, g in zip(wanted, got):
                result[k] = g
        return tuple(result[k] for k in present)

    fresh = [o.detach() for o in outs if o is not None]
    _rustdl._attach_function(
        name, fresh, [tensors[k] for k in present], [], backward, True, [], [False] * len(fresh)
    )
    it = iter(fresh)
    return [None if o is None else next(it) for o in outs]
