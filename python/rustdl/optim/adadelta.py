"""Adadelta, as ``torch.optim.Adadelta``."""

from __future__ import annotations

from typing import Any, Iterable

from .. import _rustdl
from .._rustdl import Tensor
from .optimizer import Optimizer

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012), PyTorch's update:

    ``v ← ρv + (1−ρ)g²``, ``Δ = √(u + ε) / √(v + ε) · g``, ``u ← ρu + (1−ρ)Δ²``, ``p ← p − lr·Δ``
    (``g`` includes ``weight_decay·p``; negated with ``maximize``).

    Args:
        params: tensors or parameter groups.
        lr: scale of the update (PyTorch's default 1.0).
        rho: decay of the running averages.
        eps: added inside the square roots.
        weight_decay: L2 penalty.
        foreach: accepted for PyTorch compatibility; the update is always one fused call.
        maximize: ascend instead of descend.
        capturable, differentiable: accepted for PyTorch compatibility and ignored.

    State per parameter: ``step``, ``square_avg`` (v), ``acc_delta`` (u).

    Example:
        >>> opt = optim.Adadelta(model.parameters(), lr=1.0)
    """

    _kind = "adadelta"

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            foreach=foreach,
            capturable=capturable,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Invalid rho value: {group['rho']}")
        if not 0.0 <= group["eps"]:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "square_avg": _rustdl.zeros_like(p), "acc_delta": _rustdl.zeros_like(p)}

    def _state_tensors(self, state: dict[str, Any], group: dict[str, Any]) -> list[Tensor]:
        return [state["square_avg"], state["acc_delta"]]

    def _hyper(self, group: dict[str, Any]) -> dict[str, Any]:
        return {k: group[k] for k in ("lr", "rho", "eps", "weight_decay", "maximize")}
