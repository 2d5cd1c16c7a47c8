"""Adamax, as ``torch.optim.Adamax``."""

from __future__ import annotations

from collections.abc import Iterable

from .._rustdl import Tensor
from .optimizer import _AdamFamily, _defaults

__all__ = ["Adamax"]


class Adamax(_AdamFamily):
    """Adamax (Adam with the infinity norm), PyTorch's update:

    ``m ← β₁m + (1 − β₁)g``, ``u ← max(β₂u, |g| + ε)``, ``p ← p − lr/(1 − β₁ᵗ) · m/u``
    (``g`` includes ``weight_decay·p``; negated with ``maximize``).

    Args:
        params: tensors or parameter groups.
        lr: learning rate.
        betas: ``(β₁, β₂)``.
        eps: added to ``|g|`` (keeps ``u`` positive).
        weight_decay: L2 penalty.
        foreach: accepted for PyTorch compatibility; the update is always one fused call.
        maximize: ascend instead of descend.
        differentiable, capturable: accepted for PyTorch compatibility and ignored.

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_inf`` (u).

    Example:
        >>> opt = optim.Adamax(model.parameters(), lr=2e-3)
    """

    _kind = "adamax"
    _state_names = ("exp_avg", "exp_inf")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        super().__init__(params, _defaults(locals()))
