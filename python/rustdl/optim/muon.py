"""Muon, as ``torch.optim.Muon``: momentum orthogonalised by a Newton–Schulz iteration, for 2-D
parameters (the weight matrices of linear layers); its update is composed from tensor ops."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Callable

from .. import _complex, _rustdl
from .._rustdl import Tensor
from ..autograd import no_grad
from .optimizer import Optimizer, _closure_loss

__all__ = ["Muon"]

_ADJUSTMENTS = ("original", "match_rms_adamw", "spectral_unclamped")


def _orthogonalize(g: Tensor, coefficients: tuple[float, float, float], steps: int, eps: float) -> Tensor:
    """``steps`` rounds of the quintic Newton–Schulz map ``X ← aX + (bA + cA²)X`` with
    ``A = XXᵀ``, from ``X = G / max(‖G‖_F, eps)`` taken with its short side first: an approximate
    ``UVᵀ`` of ``G = USVᵀ`` (singular values pushed towards 1, not exactly onto it).
    PyTorch iterates in bfloat16; rustdl in the gradient's own dtype."""
    if steps >= 100:
        raise ValueError("Muon: ns_steps must be less than 100")
    if g.ndim != 2:
        raise ValueError(f"Muon: the gradient must be a 2-D matrix, got shape {tuple(g.shape)}")
    a, b, c = coefficients
    tall = g.shape[0] > g.shape[1]
    x = g.t() if tall else g
    x = x / x.norm().clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.t()
        x = a * x + (b * gram + c * (gram @ gram)) @ x
    return x.t() if tall else x


def _adjusted_lr(lr: float, how: str | None, shape: tuple[int, ...]) -> float:
    rows, cols = shape[:2]
    if how is None or how == "original":
        return lr * math.sqrt(max(1.0, rows / cols))
    if how == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    return lr * math.sqrt(rows / cols)  # "spectral_unclamped"


class Muon(Optimizer):
    """Muon (MomentUm Orthogonalized by Newton–Schulz) with PyTorch's update, for 2-D parameters.
    Per step: ``B ← μB + (1−μ)g`` (the momentum buffer, an average), ``U = (1−μ)g + μB`` with
    ``nesterov`` (else ``U = B``), ``O = NS(U)`` (see ``_orthogonalize``), then
    ``p ← p(1 − lr·weight_decay) − lr' O`` with ``lr'`` the learning rate scaled for the matrix's
    shape by ``adjust_lr_fn``: ``"original"`` (default) ``√max(1, rows/cols)``,
    ``"match_rms_adamw"`` ``0.2·√max(rows, cols)``, ``"spectral_unclamped"`` ``√(rows/cols)``.

    Other parameters (biases, norms, embeddings, convolutions) belong to another optimizer, such
    as AdamW, as with PyTorch's Muon.

    Example:
        >>> matrices = [p for p in model.parameters() if p.ndim == 2]
        >>> opt = optim.Muon(matrices, lr=0.02)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = (3.4445, -4.775, 2.0315),
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "nesterov": nesterov,
            "ns_coefficients": ns_coefficients,
            "eps": eps,
            "ns_steps": ns_steps,
            "adjust_lr_fn": adjust_lr_fn,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        lr = group["lr"]
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= float(lr):
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= group["momentum"]:
            raise ValueError(f"momentum should be >= 0 but is: {group['momentum']}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"weight decay should be >= 0 but is: {group['weight_decay']}")
        if group["adjust_lr_fn"] is not None and group["adjust_lr_fn"] not in _ADJUSTMENTS:
            raise ValueError(f"Adjust learning rate function {group['adjust_lr_fn']} is not supported")
        if len(tuple(group["ns_coefficients"])) != 3:
            raise ValueError("Muon: ns_coefficients must be a tuple of exactly 3 values")
        for p in map(_complex.storage_of, group["params"]):
            if p.ndim != 2:
                raise ValueError(
                    f"Muon only supports 2D parameters whereas we found a parameter with size: {tuple(p.shape)}"
                )

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None):
        """Performs one Muon step over every parameter that has a gradient; returns the
        closure's loss (or ``None``)."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            lr, wd, mu = float(group["lr"]), float(group["weight_decay"]), float(group["momentum"])
            coefficients = tuple(float(v) for v in group["ns_coefficients"])
            for p in map(_complex.storage_of, group["params"]):
                if p.grad is None:
                    continue
                if p.is_complex():
                    raise RuntimeError("Muon does not support complex parameters")
                grad = p.grad
                st = self.state[p]
                if "momentum_buffer" not in st:
                    st["momentum_buffer"] = _rustdl.zeros_like(grad)
                buf = st["momentum_buffer"]
                buf.lerp_(grad, 1 - mu)
                update = grad.lerp(buf, mu) if group["nesterov"] else buf
                ortho = _orthogonalize(update, coefficients, int(group["ns_steps"]), float(group["eps"]))
                p.mul_(1 - lr * wd)
                p.add_(ortho, alpha=-_adjusted_lr(lr, group["adjust_lr_fn"], tuple(p.shape)))
        return loss
