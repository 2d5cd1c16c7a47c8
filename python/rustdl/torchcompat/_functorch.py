"""``import functorch`` under torchcompat: the transforms of ``torch.func`` (functorch's old home)
plus its ``make_functional`` / ``make_functional_with_buffers``, built on ``functional_call``."""

from __future__ import annotations

from typing import Any

from rustdl import func as _func
from rustdl.func import *  # noqa: F401,F403  (grad, vmap, jvp, jacrev, ...)

__all__ = [*_func.__all__, "make_functional", "make_functional_with_buffers"]


class _Functional:
    """``fmodel(params, [buffers,] *args)``: the module run with the given parameters (and
    buffers) in place of its own, in ``named_parameters()`` / ``named_buffers()`` order."""

    def __init__(self, module: Any, param_names: list[str], buffer_names: list[str] | None) -> None:
        self.stateless_model = module
        self.param_names = param_names
        self.buffer_names = buffer_names

    def __call__(self, params: Any, *args: Any, **kwargs: Any) -> Any:
        state = dict(zip(self.param_names, params))
        if self.buffer_names is not None:
            buffers, *args = args
            state.update(zip(self.buffer_names, buffers))
        return _func.functional_call(self.stateless_model, state, tuple(args), kwargs)


def make_functional(model: Any, disable_autograd_tracking: bool = False) -> tuple[_Functional, tuple]:
    """``(fmodel, params)`` with ``fmodel(params, *args)`` calling ``model`` on ``params``."""
    names, params = zip(*model.named_parameters()) if list(model.parameters()) else ((), ())
    if disable_autograd_tracking:
        params = tuple(p.detach() for p in params)
    return _Functional(model, list(names), None), tuple(params)


def make_functional_with_buffers(model: Any, disable_autograd_tracking: bool = False) -> tuple:
    """``(fmodel, params, buffers)`` with ``fmodel(params, buffers, *args)``."""
    fmodel, params = make_functional(model, disable_autograd_tracking)
    named = list(model.named_buffers())
    fmodel.buffer_names = [n for n, _ in named]
    return fmodel, params, tuple(b for _, b in named)
