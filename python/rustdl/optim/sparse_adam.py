"""SparseAdam, as ``torch.optim.SparseAdam``; its update is composed from tensor ops (no fused kernel)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from .. import _complex, _rustdl
from .._rustdl import Tensor
from ..autograd import no_grad
from .optimizer import Optimizer, _closure_loss, _defaults

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Lazy Adam for embedding tables: only the rows that received a gradient move, and only
    their moments decay. Per such row, PyTorch's update ``m ← β₁m + (1−β₁)g``,
    ``v ← β₂v + (1−β₂)g²``, ``p ← p − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + eps)``, with ``t`` the
    parameter's step count.

    rustdl's ``Embedding(sparse=True)`` gives a dense gradient, so a row counts as updated when
    any entry of its gradient (``p.grad[i]``) is non-zero; a row looked up whose gradient is
    exactly zero is left alone, where PyTorch would still decay its moments.

    Args:
        params: tensors or parameter groups.
        lr: learning rate.
        betas: ``(β₁, β₂)``.
        eps: added to ``√v``.
        maximize: ascend instead of descend.

    State per parameter: ``step``, ``exp_avg`` and ``exp_avg_sq``.

    Example:
        >>> opt = optim.SparseAdam(list(model.embed.parameters()), lr=1e-2)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
    ) -> None:
        defaults = _defaults(locals())
        defaults["betas"] = tuple(betas)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        # PyTorch's checks: strictly positive lr and eps, betas in [0, 1)
        if not 0.0 < group["lr"]:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not 0.0 < group["eps"]:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")
        b1, b2 = group["betas"]
        if not 0.0 <= b1 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {b1}")
        if not 0.0 <= b2 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {b2}")

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None):
        """Performs one lazy Adam step over every parameter that has a gradient; returns the
        closure's loss (or ``None``)."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            b1, b2 = group["betas"]
            lr, eps = group["lr"], group["eps"]
            for p in map(_complex.storage_of, group["params"]):
                if p.grad is None:
                    continue
                grad = -p.grad if group["maximize"] else p.grad
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = _rustdl.zeros_like(p)
                    st["exp_avg_sq"] = _rustdl.zeros_like(p)
                st["step"] += 1
                m, v = st["exp_avg"], st["exp_avg_sq"]
                # the rows (dim 0) that received a gradient, broadcast over the other dims
                hit = grad != 0
                if grad.ndim > 1:
                    hit = (
                        hit.reshape(grad.shape[0], -1)
                        .any(1)
                        .reshape((grad.shape[0],) + (1,) * (grad.ndim - 1))
                    )
                m_new = m + (grad - m) * (1.0 - b1)
                v_new = v + (grad * grad - v) * (1.0 - b2)
                bias1 = 1.0 - b1 ** st["step"]
                bias2 = 1.0 - b2 ** st["step"]
                step_size = lr * bias2**0.5 / bias1
                update = m_new / (v_new.sqrt() + eps) * step_size
                m.copy_(_rustdl.where(hit, m_new, m))
                v.copy_(_rustdl.where(hit, v_new, v))
                p.sub_(_rustdl.where(hit, update, update.new_zeros(())))
        return loss
