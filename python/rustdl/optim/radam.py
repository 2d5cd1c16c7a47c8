"""RAdam, as ``torch.optim.RAdam``."""

from __future__ import annotations

from collections.abc import Iterable

from .._rustdl import Tensor
from .optimizer import _AdamFamily, _defaults

__all__ = ["RAdam"]


class RAdam(_AdamFamily):
    """RAdam (rectified Adam, Liu et al. 2019), PyTorch's update:

    ``m ← β₁m + (1 − β₁)g``, ``v ← β₂v + (1 − β₂)g²``, ``m̂ = m/(1 − β₁ᵗ)``,
    ``ρ∞ = 2/(1 − β₂) − 1``, ``ρ_t = ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)``; when ``ρ_t > 5``
    ``p ← p − lr·m̂·r_t·√(1 − β₂ᵗ)/(√v + ε)`` with
    ``r_t = √((ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t))``, else ``p ← p − lr·m̂``.
    ``weight_decay`` adds ``wd·p`` to ``g``, or with ``decoupled_weight_decay`` multiplies ``p`` by
    ``1 − lr·wd`` first; ``g`` is negated with ``maximize``.

    Args:
        params: tensors or parameter groups.
        lr: learning rate.
        betas: ``(β₁, β₂)``.
        eps: added to the denominator.
        weight_decay: weight decay.
        decoupled_weight_decay: decay the weights directly (AdamW-style) instead of an L2 term.
        foreach: accepted for PyTorch compatibility; the update is always one fused call.
        maximize: ascend instead of descend.
        capturable, differentiable: accepted for PyTorch compatibility and ignored.

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v).

    Example:
        >>> opt = optim.RAdam(model.parameters(), lr=1e-3)
    """

    _kind = "radam"
    _hyper_keys = ("decoupled_weight_decay",)

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(params, _defaults(locals()))
