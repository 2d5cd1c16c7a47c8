"""ASGD, as ``torch.optim.ASGD``; its update is composed from tensor ops (no fused kernel)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from .. import _complex, _rustdl
from .._rustdl import Tensor
from ..autograd import no_grad
from .optimizer import (
    Optimizer,
    _check_nonnegative,
    _closure_loss,
    _defaults,
    _get_scalar_dtype,
    _Step,
    _step_count,
)

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Averaged SGD, PyTorch's update: ``g ← g + weight_decay·p``, ``p ← p·(1 − lambd·η) − η·g``,
    ``ax ← ax + μ·(p − ax)`` (a copy of ``p`` while ``μ = 1``), then ``η = lr / (1 + lambd·lr·t)^alpha``
    and ``μ = 1 / max(1, t − t0)`` for the next step.

    Args:
        params: tensors or parameter groups.
        lr: learning rate.
        lambd: decay term.
        alpha: power of the ``η`` update.
        t0: the step at which averaging starts.
        weight_decay: L2 penalty.
        maximize: ascend instead of descend.
        foreach, capturable, differentiable: accepted for PyTorch compatibility and ignored.

    State per parameter: ``step``, ``eta``, ``mu`` and ``ax`` (the running average of the
    parameter).

    Example:
        >>> opt = optim.ASGD(model.parameters(), lr=0.01, t0=100)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        super().__init__(params, _defaults(locals()))

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonnegative(group, "lr", "weight_decay")

    def _load_state_value(self, p: Tensor, name: str, value: Any) -> Any:
        # eta and mu are 0-d tensors of the scalar dtype on the parameter's device (see step)
        if name in ("eta", "mu") and not isinstance(value, bool):
            v = value.item() if isinstance(value, Tensor) else float(value)
            return _rustdl.full((), v, dtype=_scalar_dtype(p), device=p.device)
        return super()._load_state_value(p, name, value)

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None):
        """Performs one ASGD step over every parameter that has a gradient; returns the
        closure's loss (or ``None``)."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            lr, lambd, alpha, t0, wd = (group[k] for k in ("lr", "lambd", "alpha", "t0", "weight_decay"))
            for p in map(_complex.storage_of, group["params"]):
                if p.grad is None:
                    continue
                grad = -p.grad if group["maximize"] else p.grad
                st = self.state[p]
                if not st:
                    st["step"] = _Step(0)
                    # 0-d tensors of the scalar dtype (float64 when that is the default dtype,
                    # else float32) on the parameter's device, as PyTorch's (``.item()``,
                    # ``torch.is_tensor``; the update reads eta rounded to that dtype, as there)
                    scalar = _scalar_dtype(p)
                    st["eta"] = _rustdl.full((), float(lr), dtype=scalar, device=p.device)
                    st["mu"] = _rustdl.ones((), dtype=scalar, device=p.device)
                    st["ax"] = _rustdl.zeros_like(p)
                step = _step_count(st["step"]) + 1
                st["step"] = _Step(step)
                if wd != 0:
                    grad = grad + p * wd
                eta = st["eta"].item()
                mu = st["mu"].item()
                p.mul_(1 - lambd * eta)
                p.sub_(grad * eta)
                if mu != 1:
                    st["ax"].add_((p - st["ax"]) * mu)
                else:
                    st["ax"].copy_(p)
                st["eta"].fill_(lr / ((1 + lambd * lr * step) ** alpha))
                st["mu"].fill_(1 / max(1, step - t0))
        return loss


def _scalar_dtype(p: Tensor) -> Any:
    """eta's and mu's dtype: PyTorch's scalar dtype (float64 when that is the default dtype),
    float32 on the GPU (which has no float64)."""
    return _get_scalar_dtype() if p.device.type == "cpu" else _rustdl.float32
