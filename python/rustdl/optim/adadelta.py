"""Adadelta, as ``torch.optim.Adadelta`` (written with tensor ops; not one fused kernel)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from .. import _rustdl
from .._rustdl import Tensor
from ..autograd import enable_grad, no_grad
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
        maximize: ascend instead of descend.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0.0, *, maximize: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        for k in ("lr", "eps", "weight_decay"):
            if group[k] < 0.0:
                raise ValueError(f"Invalid {k} value: {group[k]}")
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Invalid rho value: {group['rho']}")

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "square_avg": _rustdl.zeros_like(p), "acc_delta": _rustdl.zeros_like(p)}

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None):
        """One Adadelta update of every parameter with a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, rho, eps, wd = group["lr"], group["rho"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st.update(self._init_state(p, group))
                st["step"] += 1
                g = p.grad if not group["maximize"] else -p.grad
                if wd:
                    g = g + wd * p
                v = st["square_avg"] * rho + (g * g) * (1.0 - rho)
                delta = (st["acc_delta"] + eps).sqrt() / (v + eps).sqrt() * g
                u = st["acc_delta"] * rho + (delta * delta) * (1.0 - rho)
                st["square_avg"].copy_(v)
                st["acc_delta"].copy_(u)
                p.sub_(delta * lr)
        return loss
