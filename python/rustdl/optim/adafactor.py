"""Adafactor, as ``torch.optim.Adafactor`` (PyTorch 2.5+); its update is composed from tensor ops."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Callable

from .. import _complex, _rustdl
from .._rustdl import Tensor
from .._tensor_api import finfo
from ..autograd import no_grad
from .optimizer import Optimizer, _closure_loss, _Step, _step_count

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018) with PyTorch's update. At step ``t``:

    ``β₂ₜ' = t^beta2_decay`` (the weight of the new square), ``ρ = min(lr, 1/√t)``,
    ``α = max(eps2, RMS(p)) · ρ``; weight decay ``p ← p(1 − lr·weight_decay)``. For a
    parameter of 2+ dims the second moment is factored over the last two dims: row and column
    means of ``g²`` are averaged into ``row_var`` / ``col_var`` and
    ``v̂ = row_var @ col_var / max(mean(row_var), eps1)``; a vector keeps the full ``variance``.
    Then ``u = g / √max(v̂, eps1²)``, and ``p ← p − α / max(1, RMS(u)/d) · u``.

    Args:
        params: tensors or parameter groups.
        lr: the cap on the relative step size ``ρ``.
        beta2_decay: the exponent of the second-moment decay (<= 0).
        eps: ``(eps1, eps2)``: eps1 guards the variance (``None``: the dtype's machine epsilon),
            eps2 the parameter scale.
        d: the clipping threshold on the update's RMS (>= 1).
        weight_decay: decoupled weight decay coefficient.
        foreach: accepted for PyTorch compatibility (same result).
        maximize: ascend instead of descend.

    State per parameter: ``step`` and ``row_var`` / ``col_var`` (2+ dims) or ``variance``.

    Example:
        >>> opt = optim.Adafactor(model.parameters(), lr=1e-2)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "beta2_decay": beta2_decay,
            "eps": eps,
            "d": d,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        lr, eps = group["lr"], group["eps"]
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= group["beta2_decay"]:
            raise ValueError(f"beta2_decay should be <= 0 but is: {group['beta2_decay']}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= group["d"]:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {group['d']}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"weight_decay should be >= 0 but is: {group['weight_decay']}")

    def _load_state_value(self, p: Tensor, name: str, value: Any) -> Any:
        if name in ("row_var", "col_var") and isinstance(value, Tensor):
            return value.detach().to(p.device, p.dtype).clone()
        return super()._load_state_value(p, name, value)

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None):
        """Performs one Adafactor step over every parameter that has a gradient; returns the
        closure's loss (or ``None``)."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            lr, decay, d, wd = (float(group[k]) for k in ("lr", "beta2_decay", "d", "weight_decay"))
            eps1_cfg, eps2 = group["eps"]
            for p in map(_complex.storage_of, group["params"]):
                if p.grad is None:
                    continue
                grad = -p.grad if group["maximize"] else p.grad
                st = self.state[p]
                if not st:
                    st["step"] = _Step(0)
                    if grad.ndim > 1:
                        st["row_var"] = _rustdl.zeros(*grad.shape[:-1], 1, device=p.device, dtype=p.dtype)
                        col_shape = list(grad.shape)
                        col_shape[-2] = 1
                        st["col_var"] = _rustdl.zeros(*col_shape, device=p.device, dtype=p.dtype)
                    else:
                        st["variance"] = _rustdl.zeros_like(p)
                eps1 = eps1_cfg if eps1_cfg is not None else finfo(p.dtype).eps
                t = _step_count(st["step"]) + 1
                st["step"] = _Step(t)
                t = float(t)
                one_minus_beta2 = t**decay
                rho = min(lr, 1 / math.sqrt(t))
                n = max(p.numel(), 1)
                alpha = max(eps2, float(p.norm(2).item()) / math.sqrt(n)) * rho
                if wd != 0:
                    p.mul_(1 - lr * wd)
                if grad.ndim > 1:
                    row_var, col_var = st["row_var"], st["col_var"]
                    sq = grad * grad
                    row_var.add_((sq.mean(dim=-1, keepdim=True) - row_var) * one_minus_beta2)
                    col_var.add_((sq.mean(dim=-2, keepdim=True) - col_var) * one_minus_beta2)
                    var_est = (row_var @ col_var) / row_var.mean(dim=-2, keepdim=True).clamp(min=eps1)
                else:
                    variance = st["variance"]
                    variance.add_((grad * grad - variance) * one_minus_beta2)
                    var_est = variance.clone()
                update = var_est.clamp(min=eps1 * eps1).rsqrt() * grad
                denom = max(1.0, float(update.norm(2).item()) / (math.sqrt(max(update.numel(), 1)) * d))
                p.sub_(update * (alpha / denom))
        return loss
