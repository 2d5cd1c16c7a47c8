"""``import functorch`` under torchcompat: the transforms of ``torch.func`` (functorch's old home)
plus its ``make_functional`` / ``make_functional_with_buffers`` and the module classes they
return, built on ``functional_call``."""

from __future__ import annotations

import copy
from typing import Any

from rustdl import func as _func
from rustdl import nn
from rustdl.func import *  # noqa: F401,F403  (grad, vmap, jvp, jacrev, ...)

__all__ = [
    *_func.__all__,
    "FunctionalModule",
    "FunctionalModuleWithBuffers",
    "make_functional",
    "make_functional_with_buffers",
]


def _stateless_copy(model: Any) -> Any:
    """A deep copy of ``model`` for the functional module to run (the user's stays untouched)."""
    return copy.deepcopy(model)


class FunctionalModule(nn.Module):
    """``fmodel(params, *args)``: ``stateless_model`` run with ``params`` (in
    ``named_parameters()`` order, ``param_names``) in place of its own parameters."""

    def __init__(
        self, stateless_model: Any, param_names: tuple | list, names_map: dict | None = None
    ) -> None:
        super().__init__()
        self.stateless_model = stateless_model
        self.param_names = tuple(param_names)
        self.names_map = names_map or {}

    @staticmethod
    def _create_from(model: Any, disable_autograd_tracking: bool = False) -> tuple[FunctionalModule, tuple]:
        names, params = zip(*model.named_parameters()) if list(model.parameters()) else ((), ())
        if disable_autograd_tracking:
            params = tuple(p.detach() for p in params)
        return FunctionalModule(_stateless_copy(model), names), tuple(params)

    def forward(self, params: Any, *args: Any, **kwargs: Any) -> Any:
        if len(params) != len(self.param_names):
            raise ValueError(
                f"FunctionalModule: expected {len(self.param_names)} parameters, got {len(params)}"
            )
        state = dict(zip(self.param_names, params))
        return _func.functional_call(self.stateless_model, state, tuple(args), kwargs)


class FunctionalModuleWithBuffers(nn.Module):
    """``fmodel(params, buffers, *args)``: ``stateless_model`` run with ``params`` and ``buffers``
    (``param_names``, ``buffer_names`` order) in place of its own."""

    def __init__(
        self,
        stateless_model: Any,
        param_names: tuple | list,
        buffer_names: tuple | list,
        param_names_map: dict | None = None,
        buffer_names_map: dict | None = None,
    ) -> None:
        super().__init__()
        self.stateless_model = stateless_model
        self.param_names = tuple(param_names)
        self.buffer_names = tuple(buffer_names)
        self.all_names_map = {**(param_names_map or {}), **(buffer_names_map or {})}

    @staticmethod
    def _create_from(model: Any, disable_autograd_tracking: bool = False) -> tuple:
        fmodel, params = FunctionalModule._create_from(model, disable_autograd_tracking)
        named = list(model.named_buffers())
        out = FunctionalModuleWithBuffers(fmodel.stateless_model, fmodel.param_names, [n for n, _ in named])
        return out, params, tuple(b for _, b in named)

    def forward(self, params: Any, buffers: Any, *args: Any, **kwargs: Any) -> Any:
        if len(params) != len(self.param_names) or len(buffers) != len(self.buffer_names):
            raise ValueError(
                f"FunctionalModuleWithBuffers: expected {len(self.param_names)} parameters and "
                f"{len(self.buffer_names)} buffers, got {len(params)} and {len(buffers)}"
            )
        state = dict(zip(self.param_names, params))
        state.update(zip(self.buffer_names, buffers))
        return _func.functional_call(self.stateless_model, state, tuple(args), kwargs)


def make_functional(model: Any, disable_autograd_tracking: bool = False) -> tuple[FunctionalModule, tuple]:
    """``(fmodel, params)`` with ``fmodel(params, *args)`` calling (a copy of) ``model`` on
    ``params`` (its buffers its own)."""
    return FunctionalModule._create_from(model, disable_autograd_tracking)


def make_functional_with_buffers(model: Any, disable_autograd_tracking: bool = False) -> tuple:
    """``(fmodel, params, buffers)`` with ``fmodel(params, buffers, *args)``."""
    return FunctionalModuleWithBuffers._create_from(model, disable_autograd_tracking)
