"""NAdam, as ``torch.optim.NAdam``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._rustdl import Tensor
from .optimizer import _AdamFamily, _check_nonnegative, _defaults, _ScalarState, _step_count

__all__ = ["NAdam"]


class NAdam(_AdamFamily):
    """NAdam (Adam with Nesterov momentum, Dozat 2016), PyTorch's update:

    ``μ_t = β₁(1 − ½·0.96^(tψ))``, ``m ← β₁m + (1 − β₁)g``, ``v ← β₂v + (1 − β₂)g²``,
    ``p ← p − lr·[(1 − μ_t)/(1 − Πᵢ≤ₜμᵢ)·g + μ_{t+1}/(1 − Πᵢ≤ₜ₊₁μᵢ)·m] / (√(v/(1 − β₂ᵗ)) + ε)``.
    ``weight_decay`` adds ``wd·p`` to ``g``, or with ``decoupled_weight_decay`` multiplies ``p`` by
    ``1 − lr·wd`` first (NAdamW); ``g`` is negated with ``maximize``.

    Args:
        params: tensors or parameter groups.
        lr: learning rate.
        betas: ``(β₁, β₂)``.
        eps: added to the denominator.
        weight_decay: weight decay.
        momentum_decay: ψ of the momentum schedule.
        decoupled_weight_decay: decay the weights directly (AdamW-style) instead of an L2 term.
        foreach: accepted for PyTorch compatibility; the update is always one fused call.
        maximize: ascend instead of descend.
        capturable, differentiable: accepted for PyTorch compatibility and ignored.

    State per parameter: ``step``, ``mu_product`` (the running product of μ, a float),
    ``exp_avg`` (m), ``exp_avg_sq`` (v).

    Example:
        >>> opt = optim.NAdam(model.parameters(), lr=2e-3)
    """

    _kind = "nadam"
    _hyper_keys = ("decoupled_weight_decay",)

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(params, _defaults(locals()))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        _check_nonnegative(group, "momentum_decay")

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "mu_product": _ScalarState(1.0), **super()._init_state(p, group)}

    def _step_scalars(self, state: dict[str, Any], group: dict[str, Any]) -> tuple:
        # μ_t and μ_{t+1} of the schedule, and the product μ_1·…·μ_t kept in the state
        t = _step_count(state["step"])
        b1, psi = group["betas"][0], group["momentum_decay"]
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        product = _ScalarState(float(state.get("mu_product", 1.0)) * mu)
        state["mu_product"] = product
        return (("mu", mu), ("mu_next", mu_next), ("mu_product", float(product)))

    def _load_state_value(self, p: Tensor, name: str, value: Any) -> Any:
        # PyTorch keeps mu_product as a 0-d tensor; here it is a float that answers ``.item()``
        if name == "mu_product":
            return _ScalarState(value.item() if isinstance(value, Tensor) else value)
        return super()._load_state_value(p, name, value)
