"""Distance layers: :class:`CosineSimilarity` and :class:`PairwiseDistance`."""

from __future__ import annotations

from ..._rustdl import Tensor
from .. import functional as F
from .module import Module


class CosineSimilarity(Module):
    """Cosine similarity of ``x1`` and ``x2`` along ``dim``, as ``torch.nn.CosineSimilarity``.

    Args:
        dim: the dimension the vectors lie along (default 1).
        eps: lower bound on each vector's norm, avoiding division by zero.

    Shape: ``x1`` and ``x2`` broadcast together; the output drops ``dim``.

    Example:
        >>> cos = nn.CosineSimilarity(dim=1)
        >>> cos(rustdl.randn(4, 8), rustdl.randn(4, 8)).shape
        (4,)
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}"


class PairwiseDistance(Module):
    """The p-norm distance ``‖x1 − x2 + eps‖_p`` over the last dim, as ``torch.nn.PairwiseDistance``.

    Args:
        p: the norm degree (default 2).
        eps: added to the difference, avoiding a zero norm's undefined gradient.
        keepdim: keep the reduced dim (size 1).

    Shape: ``(N, D)`` and ``(N, D)`` (or broadcastable) → ``(N)``.
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

    def extra_repr(self) -> str:
        return f"p={self.norm}, eps={self.eps}, keepdim={self.keepdim}"
