"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import _rustdl
from .._rustdl import Tensor
from .optimizer import Optimizer, _check_nonnegative, _defaults


class SGD(Optimizer):
    """Stochastic gradient descent, as PyTorch's:

    ``g ← g + wd·p``; with momentum ``b ← μ·b + (1 − τ)·g`` (``b ← g`` on the first step) and
    ``g ← g + μ·b`` (Nesterov) or ``g ← b``; then ``p ← p − lr·g``.

    Args:
        params: tensors or parameter groups.
        lr: learning rate (1e-3 when not given, as PyTorch's).
        momentum: momentum factor μ.
        dampening: dampening τ of the momentum.
        weight_decay: L2 penalty wd.
        nesterov: Nesterov momentum (needs μ > 0 and τ = 0).
        maximize: ascend instead of descend.

    Example:
        >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    _kind = "sgd"
    _hyper_keys = ("lr", "momentum", "dampening", "nesterov", "weight_decay", "maximize")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = _defaults(locals())
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonnegative(group, "lr", "momentum", "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _prepare_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> bool:
        # The buffer is created on the first step with momentum, where the kernel sets it to the grad.
        if group["momentum"] != 0 and state.get("momentum_buffer") is None:
            state["momentum_buffer"] = _rustdl.zeros_like(p)
            return True
        return False

    def _state_tensors(self, state: dict[str, Any], group: dict[str, Any]) -> list[Tensor]:
        return [state["momentum_buffer"]] if group["momentum"] != 0 else []
