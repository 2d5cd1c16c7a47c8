"""Losses: ``MSELoss``, ``L1Loss``, ``SmoothL1Loss``, ``HuberLoss``, ``CrossEntropyLoss``,
``NLLLoss``, ``BCELoss``, ``BCEWithLogitsLoss`` and ``KLDivLoss``.

Each takes ``reduction`` in ``'mean'`` (default), ``'sum'`` or ``'none'``.
"""

from __future__ import annotations

from ..._rustdl import Tensor
from .. import functional as F
from .module import Module

_REDUCTIONS = ("none", "mean", "sum")


class _Loss(Module):
    def __init__(self, reduction: str = "mean", allowed: tuple[str, ...] = _REDUCTIONS) -> None:
        super().__init__()
        if reduction not in allowed:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {allowed}, got '{reduction}'")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error ``(x − y)²``.

    Shape:
        Input and target ``(*)``, the same shape; output a scalar, or ``(*)`` with ``'none'``.

    Example:
        >>> nn.MSELoss()(rustdl.zeros(3), rustdl.ones(3)).item()
        1.0
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``|x − y|``. Shape: as :class:`MSELoss`."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """``0.5·d²/beta`` if ``|d| < beta`` else ``|d| − 0.5·beta``, with ``d = x − y``."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """``0.5·d²`` if ``|d| < delta`` else ``delta·(|d| − 0.5·delta)``, with ``d = x − y``."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy between logits and class indices.

    Args:
        weight: a ``(C,)`` per-class weight.
        ignore_index: targets equal to it contribute nothing (nor to the mean's divisor).
        reduction: ``'mean'`` divides by the summed weights of the counted targets.
        label_smoothing: mixes the one-hot target with the uniform distribution.

    Shape:
        Input ``(N, C)`` or ``(N, C, d1, …)`` logits; target ``(N)`` or ``(N, d1, …)`` int64.

    Example:
        >>> loss = nn.CrossEntropyLoss()(rustdl.randn(3, 5, requires_grad=True), rustdl.tensor([1, 0, 4]))
        >>> loss.backward()
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be within [0, 1], got {label_smoothing}"
            )
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices given log-probabilities (``-input[n, target[n]]``).

    Shape:
        Input ``(N, C)`` or ``(N, C, d1, …)``; target ``(N)`` or ``(N, d1, …)`` int64.
    """

    def __init__(
        self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities: ``−w·(y·log x + (1 − y)·log(1 − x))``, logs clamped at −100."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid and binary cross-entropy in one numerically stable op.

    Args:
        weight: a weight broadcast over the batch.
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
        pos_weight: a weight on the positive term, per class.
    """

    def __init__(
        self, weight: Tensor | None = None, reduction: str = "mean", pos_weight: Tensor | None = None
    ) -> None:
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)


class KLDivLoss(_Loss):
    """Kullback–Leibler divergence ``y·(log y − x)`` with ``x`` log-probabilities.

    Args:
        reduction: ``'mean'`` (over elements), ``'batchmean'`` (the true KL: sum / N), ``'sum'`` or ``'none'``.
        log_target: the target is given as log-probabilities.
    """

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction, _REDUCTIONS + ("batchmean",))
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, self.reduction, self.log_target)
