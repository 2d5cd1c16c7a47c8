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
    """Base of the losses, with PyTorch's ``(size_average, reduce, reduction)`` arguments (the
    first two deprecated, mapped onto ``reduction``; a string first is taken as ``reduction``).
    Subclasses name further reductions they accept in ``_reductions``."""

    _reductions: tuple[str, ...] = _REDUCTIONS

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        reduction = _legacy(size_average, reduce, reduction)
        if reduction not in self._reductions:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {self._reductions}, got '{reduction}'"
            )
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with per-class ``weight`` (a buffer), as PyTorch's ``_WeightedLoss``."""

    def __init__(
        self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean"
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


def _legacy(size_average, reduce, reduction: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` constructor arguments onto ``reduction``
    (a string in ``size_average``'s place is rustdl's older positional ``reduction``)."""
    if isinstance(size_average, str):
        return size_average
    return F._legacy_reduction(size_average, reduce, reduction)


class MSELoss(_Loss):
    """Mean squared error ``(x − y)²``.

    Shape:
        Input and target ``(*)``, the same shape; output a scalar, or ``(*)`` with ``'none'``.

    Example:
        >>> nn.MSELoss()(rustdl.zeros(3), rustdl.ones(3)).item()
        1.0
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(_legacy(size_average, reduce, reduction))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``|x − y|``. Shape: as :class:`MSELoss`."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(_legacy(size_average, reduce, reduction))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """``0.5·d²/beta`` if ``|d| < beta`` else ``|d| − 0.5·beta``, with ``d = x − y``."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0) -> None:
        if isinstance(reduce, (int, float)) and not isinstance(reduce, bool):  # older (reduction, beta)
            beta, reduce = reduce, None
        super().__init__(_legacy(size_average, reduce, reduction))
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


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
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        if isinstance(size_average, int) and not isinstance(size_average, bool):
            # rustdl's older positional (weight, ignore_index, reduction, label_smoothing)
            if isinstance(reduce, (int, float)) and not isinstance(reduce, bool):
                label_smoothing = reduce
            size_average, ignore_index, reduce, reduction = None, size_average, None, ignore_index
        super().__init__(weight, _legacy(size_average, reduce, reduction))
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be within [0, 1], got {label_smoothing}"
            )
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices given log-probabilities (``-input[n, target[n]]``).

    Shape:
        Input ``(N, C)`` or ``(N, C, d1, …)``; target ``(N)`` or ``(N, d1, …)`` int64.
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
    ) -> None:
        if isinstance(size_average, int) and not isinstance(size_average, bool):
            # rustdl's older positional (weight, ignore_index, reduction)
            size_average, ignore_index, reduction = None, size_average, ignore_index
        super().__init__(weight, _legacy(size_average, reduce, reduction))
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class NLLLoss2d(NLLLoss):
    """The old name of :class:`NLLLoss` for ``(N, C, H, W)`` inputs (PyTorch keeps it as a
    deprecated subclass); it computes the same loss."""


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities: ``−w·(y·log x + (1 − y)·log(1 − x))``, logs clamped at −100."""

    def __init__(
        self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean"
    ) -> None:
        super().__init__(weight, _legacy(size_average, reduce, reduction))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid and binary cross-entropy in one numerically stable op.

    Args:
        weight: a weight broadcast over the batch.
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
        pos_weight: a weight on the positive term, per class.
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        if isinstance(size_average, str) and reduce is not None and not isinstance(reduce, bool):
            # rustdl's older positional (weight, reduction, pos_weight)
            pos_weight, reduce = reduce, None
        super().__init__(weight, _legacy(size_average, reduce, reduction))
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class KLDivLoss(_Loss):
    """Kullback–Leibler divergence ``y·(log y − x)`` with ``x`` log-probabilities.

    Args:
        reduction: ``'mean'`` (over elements), ``'batchmean'`` (the true KL: sum / N), ``'sum'`` or ``'none'``.
        log_target: the target is given as log-probabilities.
    """

    _reductions = _REDUCTIONS + ("batchmean",)

    def __init__(
        self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False
    ) -> None:
        if isinstance(size_average, str) and isinstance(reduce, bool):  # older (reduction, log_target)
            log_target, reduce = reduce, None
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class _LegacyLoss(_Loss):
    """A loss taking PyTorch's deprecated ``size_average``/``reduce`` as well as ``reduction``."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(F._legacy_reduction(size_average, reduce, reduction))


class CosineEmbeddingLoss(_LegacyLoss):
    """``1 − cos(x1, x2)`` for ``y = 1``, ``max(0, cos(x1, x2) − margin)`` for ``y = −1``.

    Shape: inputs ``(N, D)`` or ``(D,)``; target ``(N,)`` or ``()`` of ±1.
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, self.margin, reduction=self.reduction)


class MarginRankingLoss(_LegacyLoss):
    """``max(0, −y·(x1 − x2) + margin)``. Shape: all three ``(N,)`` (or scalars)."""

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, self.margin, reduction=self.reduction)


class TripletMarginLoss(_LegacyLoss):
    """``max(d(a, p) − d(a, n) + margin, 0)`` with the ``p``-norm distance ``‖x − y + eps‖``.

    Shape: anchor, positive, negative ``(N, D)`` or ``(D,)``; output ``(N,)`` with ``'none'``.
    """

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(
            anchor, positive, negative, self.margin, self.p, self.eps, self.swap, reduction=self.reduction
        )


class HingeEmbeddingLoss(_LegacyLoss):
    """``x`` for ``y = 1``, ``max(0, margin − x)`` for ``y = −1``. Shape: any; target the same."""

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.hinge_embedding_loss(input, target, self.margin, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_LegacyLoss):
    """Per-sample mean over classes of the binary logistic loss. Shape: input and target ``(N, C)``."""

    def __init__(
        self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean"
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multilabel_soft_margin_loss(input, target, self.weight, reduction=self.reduction)


class MultiMarginLoss(_LegacyLoss):
    """Multi-class hinge ``Σ_{i≠y} w_y·max(0, margin − x_y + x_i)^p / C``.

    Shape: input ``(N, C)`` or ``(C,)``; target ``(N,)`` or ``()`` int64 class indices.
    """

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Tensor | None = None,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 supported, got {p}")
        if weight is not None and weight.ndim != 1:
            raise ValueError(f"MultiMarginLoss: weight must be 1-D, got shape {tuple(weight.shape)}")
        self.p = p
        self.margin = margin
        self.register_buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multi_margin_loss(input, target, self.p, self.margin, self.weight, reduction=self.reduction)


class PoissonNLLLoss(_LegacyLoss):
    """Poisson negative log-likelihood: ``eˣ − y·x`` (``log_input``) or ``x − y·log(x + eps)``;
    ``full`` adds the Stirling term."""

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        size_average=None,
        eps: float = 1e-8,
        reduce=None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        return F.poisson_nll_loss(
            log_input, target, self.log_input, self.full, eps=self.eps, reduction=self.reduction
        )


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood ``½·(log var + (x − y)² / var)`` with ``var`` clamped at
    ``eps``; ``full`` adds ``½·log 2π``. ``var`` is the input's shape or lacks (or has 1 as) the last dim."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)


class SoftMarginLoss(_LegacyLoss):
    """Two-class logistic loss ``log(1 + exp(−y·x))``. Shape: any; target the same."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """:class:`TripletMarginLoss` with any ``distance_function(x, y)`` (default the pairwise
    Euclidean distance)."""

    def __init__(
        self, *, distance_function=None, margin: float = 1.0, swap: bool = False, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: margin must be greater than 0, got {margin}")
        self.distance_function = distance_function
        self.margin = margin
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_with_distance_loss(
            anchor,
            positive,
            negative,
            distance_function=self.distance_function,
            margin=self.margin,
            swap=self.swap,
            reduction=self.reduction,
        )


class MultiLabelMarginLoss(_LegacyLoss):
    """Multi-label hinge loss; each target row lists the sample's classes, ended by ``−1``.

    Shape: input ``(N, C)`` or ``(C,)``; target the same shape, int64.
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class CTCLoss(_Loss):
    """Connectionist temporal classification loss (see :func:`rustdl.nn.functional.ctc_loss`).

    Example:
        >>> ctc = nn.CTCLoss(blank=0)
        >>> loss = ctc(log_probs, targets, input_lengths, target_lengths)
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs: Tensor, targets: Tensor, input_lengths, target_lengths) -> Tensor:
        return F.ctc_loss(
            log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction, self.zero_infinity
        )


class LinearCrossEntropyLoss(Module):
    """A linear layer to ``num_classes`` (times ``out_features``) logits followed by the cross
    entropy, as PyTorch's ``nn.LinearCrossEntropyLoss``: its parameters are ``linear.weight``
    (``(num_classes·∏out_features, in_features)``) and ``linear.bias``.

    Example:
        >>> head = nn.LinearCrossEntropyLoss(16, 10)
        >>> loss = head(rustdl.randn(4, 16), rustdl.tensor([1, 0, 9, 3]))
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        out_features: tuple = (),
        bias: bool = False,
        device=None,
        dtype=None,
        reduction: str = "mean",
        weight: Tensor | None = None,
        ignore_index: int | None = None,
        label_smoothing: float = 0.0,
        options=None,
    ) -> None:
        super().__init__()
        from .linear import Linear

        self.num_classes = num_classes
        self.out_features = tuple(out_features)
        n_out = num_classes
        for f in self.out_features:
            n_out *= f
        self.linear = Linear(in_features, n_out, bias=bias, device=device, dtype=dtype)
        self.reduction = reduction
        self.weight = weight
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.options = options

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        w = self.linear.weight.reshape(self.num_classes, *self.out_features, self.linear.in_features)
        b = (
            None
            if self.linear.bias is None
            else self.linear.bias.reshape(self.num_classes, *self.out_features)
        )
        return F.linear_cross_entropy(
            input,
            w,
            target,
            linear_bias=b,
            weight=self.weight,
            reduction=self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            options=self.options,
        )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
            f"out_features={self.out_features}, bias={self.linear.bias is not None}, reduction={self.reduction}, "
            f"ignore_index={self.ignore_index}, label_smoothing={self.label_smoothing}, options={self.options}"
        )
