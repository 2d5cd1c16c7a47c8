"""Adadelta, as ``torch.optim.Adadelta``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._rustdl import Tensor
from .optimizer import Optimizer, _check_nonnegative, _defaults

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
    _state_names = ("square_avg", "acc_delta")
    _hyper_keys = ("lr", "rho", "eps", "weight_decay", "maximize")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(params, _defaults(locals()))

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonnegative(group, "lr")
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Invalid rho value: {group['rho']}")
        _check_nonnegative(group, "eps", "weight_decay")
