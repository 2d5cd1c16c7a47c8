"""Adam and AdamW."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import _rustdl
from .._rustdl import Tensor
from .optimizer import _AdamFamily, _defaults


class Adam(_AdamFamily):
    """Adam, as PyTorch's: ``m ← β₁m + (1 − β₁)g``, ``v ← β₂v + (1 − β₂)g²``,
    ``p ← p − lr·(m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)``; ``weight_decay`` adds ``wd·p`` to ``g``.

    Args:
        params: tensors or parameter groups.
        lr: learning rate.
        betas: ``(β₁, β₂)``.
        eps: added to the denominator.
        weight_decay: L2 penalty (coupled; see :class:`AdamW` for the decoupled one).
        amsgrad: use the running maximum of ``v``.
        maximize: ascend instead of descend.
        decoupled_weight_decay: decay the parameters as :class:`AdamW` does instead.

    Example:
        >>> opt = optim.Adam(model.parameters(), lr=1e-3)
    """

    _kind = "adam"
    _hyper_keys = ("amsgrad",)

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        if isinstance(lr, Tensor):
            # PyTorch's foreach kernels take a Python lr unless capturable
            if foreach and not capturable:
                raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
            if lr.numel() != 1:
                raise ValueError("Tensor lr must be 1-element")
        super().__init__(params, _defaults(locals()))

    def _group_kind(self, group: dict[str, Any]) -> str:
        return "adamw" if group.get("decoupled_weight_decay") else self._kind

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        st = super()._init_state(p, group)
        if group["amsgrad"]:
            st["max_exp_avg_sq"] = _rustdl.zeros_like(p)
        return st

    def _state_tensors(self, state: dict[str, Any], group: dict[str, Any]) -> list[Tensor]:
        out = super()._state_tensors(state, group)
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = state["exp_avg_sq"].clone()
            out.append(state["max_exp_avg_sq"])
        return out


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p ← p·(1 − lr·wd)`` before the Adam update.

    Same arguments as :class:`Adam`; ``weight_decay`` defaults to ``1e-2``.

    Example:
        >>> opt = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    """

    _kind = "adamw"

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )
