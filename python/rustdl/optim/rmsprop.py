"""RMSprop and Adagrad."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import _complex, _rustdl
from .._rustdl import Tensor
from .optimizer import Optimizer, _check_nonnegative, _defaults, _Step


class RMSprop(Optimizer):
    """RMSprop, as PyTorch's: ``v ← αv + (1 − α)g²``; with ``centered`` also ``ḡ ← αḡ + (1 − α)g``
    and ``v̂ = v − ḡ²``; then ``p ← p − lr·g / (√v̂ + ε)`` (through a momentum buffer if ``momentum > 0``).

    Args:
        params: tensors or parameter groups.
        lr: learning rate.
        alpha: smoothing constant.
        eps: added to the denominator.
        weight_decay: L2 penalty.
        momentum: momentum factor.
        centered: normalise by the estimated variance of the gradient.
        maximize: ascend instead of descend.
    """

    _kind = "rmsprop"
    _hyper_keys = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(params, _defaults(locals()))

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonnegative(group, "lr", "eps", "momentum", "weight_decay", "alpha", labels={})

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        st = {"step": 0, "square_avg": _rustdl.zeros_like(p)}
        if group["momentum"] > 0:
            st["momentum_buffer"] = _rustdl.zeros_like(p)
        if group["centered"]:
            st["grad_avg"] = _rustdl.zeros_like(p)
        return st

    def _state_tensors(self, state: dict[str, Any], group: dict[str, Any]) -> list[Tensor]:
        out = [state["square_avg"]]
        if group["momentum"] > 0:
            out.append(state.setdefault("momentum_buffer", _rustdl.zeros_like(state["square_avg"])))
        if group["centered"]:
            out.append(state.setdefault("grad_avg", _rustdl.zeros_like(state["square_avg"])))
        return out


class Adagrad(Optimizer):
    """Adagrad, as PyTorch's: ``s ← s + g²``, ``p ← p − lr_t·g / (√s + ε)`` with
    ``lr_t = lr / (1 + (t − 1)·lr_decay)``.

    Args:
        params: tensors or parameter groups.
        lr: learning rate.
        lr_decay: learning-rate decay.
        weight_decay: L2 penalty.
        initial_accumulator_value: starting value of ``s``.
        eps: added to the denominator.
        maximize: ascend instead of descend.
    """

    _kind = "adagrad"
    _state_names = ("sum",)
    _hyper_keys = ("lr", "lr_decay", "weight_decay", "eps", "maximize")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(params, _defaults(locals()))
        # the accumulator starts at initial_accumulator_value from the constructor on, as
        # PyTorch's (state_dict before the first step, differentiable-optimizer wrappers)
        for group in self.param_groups:
            for p in map(_complex.storage_of, group["params"]):
                if p not in self.state or not self.state[p]:
                    self.state[p] = {**self._init_state(p, group), "step": _Step(0)}

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonnegative(
            group, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", labels={}
        )

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "sum": _rustdl.full_like(p, group["initial_accumulator_value"])}
