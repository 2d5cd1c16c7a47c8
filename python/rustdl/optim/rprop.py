"""Rprop, as ``torch.optim.Rprop``; its update is composed from tensor ops (no fused kernel)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from .. import _complex, _rustdl
from .._rustdl import Tensor
from ..autograd import no_grad
from .optimizer import Optimizer, _check_nonnegative, _closure_loss, _defaults, _Step, _step_count

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Resilient backpropagation, PyTorch's update: per element, the step size is multiplied by
    ``etaplus`` where the gradient kept its sign, by ``etaminus`` where it flipped (and that
    element's gradient is then taken as 0: no move, no sign memory), and clamped to
    ``step_sizes``; then ``p ← p − sign(g)·step_size``.

    Args:
        params: tensors or parameter groups.
        lr: the initial step size.
        etas: ``(etaminus, etaplus)`` with ``0 < etaminus < 1 < etaplus``.
        step_sizes: ``(min, max)`` step size.
        maximize: ascend instead of descend.
        foreach, capturable, differentiable: accepted for PyTorch compatibility and ignored.

    State per parameter: ``step``, ``prev`` (the last gradient used) and ``step_size``.

    Example:
        >>> opt = optim.Rprop(model.parameters(), lr=0.01)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = _defaults(locals())
        defaults["etas"] = tuple(etas)
        defaults["step_sizes"] = tuple(step_sizes)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonnegative(group, "lr")
        etaminus, etaplus = group["etas"]
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"Invalid eta values: {etaminus}, {etaplus}")

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None):
        """Performs one Rprop step over every parameter that has a gradient; returns the
        closure's loss (or ``None``)."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            etaminus, etaplus = group["etas"]
            lo, hi = group["step_sizes"]
            for p in map(_complex.storage_of, group["params"]):
                if p.grad is None:
                    continue
                grad = -p.grad if group["maximize"] else p.grad
                st = self.state[p]
                if not st:
                    st["step"] = _Step(0)
                    st["prev"] = _rustdl.zeros_like(p)
                    st["step_size"] = _rustdl.full_like(p, group["lr"])
                st["step"] = _Step(_step_count(st["step"]) + 1)
                sign = (grad * st["prev"]).sign()
                # 0-d constants: where() would take Python floats through float32
                plus = _rustdl.full((), etaplus, dtype=p.dtype, device=p.device)
                minus = _rustdl.full((), etaminus, dtype=p.dtype, device=p.device)
                factor = _rustdl.where(sign > 0, plus, _rustdl.where(sign < 0, minus, 1.0))
                st["step_size"].mul_(factor).clamp_(lo, hi)
                grad = _rustdl.where(sign < 0, 0.0, grad)
                p.sub_(grad.sign() * st["step_size"])
                st["prev"].copy_(grad)
        return loss
