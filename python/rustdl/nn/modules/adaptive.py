"""``AdaptiveLogSoftmaxWithLoss``: the efficient softmax of Grave et al. for large vocabularies."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence

import numpy as np

from ... import _rustdl
from ..._rustdl import Tensor
from .. import functional as F
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Log-probabilities over ``n_classes`` split into a frequent *shortlist* and rarer clusters.

    Classes ``[0, cutoffs[0])`` are scored by the head directly; cluster ``i`` (classes
    ``[cutoffs[i], cutoffs[i+1])``) gets one head logit, and within it a small projection
    ``in_features -> in_features // div_value**(i+1) -> cluster size`` scores its classes:
    ``log p(c) = log p_head(cluster) + log p_cluster(c)``.

    Args:
        in_features: input size.
        n_classes: number of classes.
        cutoffs: increasing class indices in ``[1, n_classes - 1]`` where clusters start.
        div_value: how much each cluster's hidden size shrinks.
        head_bias: whether the head has a bias.

    ``forward(input, target)`` returns ``(output, loss)``: each row's log-probability of its
    target and the mean negative of those. :meth:`log_prob` gives all classes, :meth:`predict`
    the most likely one.

    Example:
        >>> asm = nn.AdaptiveLogSoftmaxWithLoss(16, 1000, cutoffs=[10, 100])
        >>> out, loss = asm(hidden, targets)
    """

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        cutoffs: Sequence[int],
        div_value: float = 4.0,
        head_bias: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (
            any(isinstance(c, bool) or int(c) != c for c in cutoffs)
            or cutoffs != sorted(cutoffs)
            or min(cutoffs) <= 0
            or max(cutoffs) > n_classes - 1
            or len(set(cutoffs)) != len(cutoffs)
        ):
            raise ValueError(
                "cutoffs should be a sequence of unique, positive integers sorted in an increasing order, "
                "where each value is between 1 and n_classes-1"
            )
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = [int(c) for c in cutoffs] + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        kw = {"device": device, "dtype": dtype}
        self.head = Linear(in_features, self.head_size, bias=head_bias, **kw)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(
                Sequential(
                    Linear(in_features, hidden, bias=False, **kw), Linear(hidden, size, bias=False, **kw)
                )
            )

    def reset_parameters(self) -> None:
        self.head.reset_parameters()
        for proj in self.tail:
            for layer in proj:
                layer.reset_parameters()

    def forward(self, input: Tensor, target: Tensor) -> _ASMoutput:  # noqa: A002
        if not isinstance(input, Tensor) or not isinstance(target, Tensor):
            raise TypeError("AdaptiveLogSoftmaxWithLoss: input and target must be tensors")
        if target.dim() == 1:
            if input.shape[0] != target.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch dimension.")
            if input.dim() != 2:
                raise RuntimeError(
                    f"1D target tensor expects 2D input tensors, but found inputs with size {tuple(input.shape)}"
                )
        elif target.dim() == 0:
            if input.dim() != 1:
                raise RuntimeError(
                    f"0D target tensor expects 1D input tensors, but found inputs with size {tuple(input.shape)}"
                )
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target.dim() > 0
        if not batched:
            input, target = input.unsqueeze(0), target.reshape(1)
        tgt = target.detach().cpu().numpy().astype(np.int64)
        if tgt.size and (tgt.min() < 0 or tgt.max() >= self.n_classes):
            raise RuntimeError(
                f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                f"[{tgt.min()}, {tgt.max()}] were found. "
            )
        dev = input.device
        head_logprob = F.log_softmax(self.head(input), dim=1)
        # the head column each row reads: its class in the shortlist, else its cluster's
        head_cols = tgt.copy()
        pieces, rows_seen = [], []
        for i in range(self.n_clusters):
            low, high = self.cutoffs[i], self.cutoffs[i + 1]
            rows = np.nonzero((tgt >= low) & (tgt < high))[0]
            if rows.size == 0:
                continue
            head_cols[rows] = self.shortlist_size + i
            idx = _rustdl.tensor(rows, dtype=_rustdl.int64, device=dev)
            local = F.log_softmax(self.tail[i](input.index_select(0, idx)), dim=1)
            rel = _rustdl.tensor(tgt[rows] - low, dtype=_rustdl.int64, device=dev)
            pieces.append(local.gather(1, rel.unsqueeze(1)).squeeze(1))
            rows_seen.append(rows)
        cols = _rustdl.tensor(head_cols, dtype=_rustdl.int64, device=dev)
        output = head_logprob.gather(1, cols.unsqueeze(1)).squeeze(1)
        if pieces:
            in_short = np.nonzero(tgt < self.shortlist_size)[0]
            zeros = _rustdl.zeros(in_short.size, dtype=output.dtype, device=dev)
            order = np.concatenate([in_short, *rows_seen])
            inverse = np.empty_like(order)
            inverse[order] = np.arange(order.size)
            stacked = _rustdl.cat([zeros, *pieces])
            output = output + stacked[_rustdl.tensor(inverse, dtype=_rustdl.int64, device=dev)]
        loss = (-output).mean()
        if not batched:
            output = output.squeeze(0)
        return _ASMoutput(output, loss)

    def _full_log_prob(self, input: Tensor, head_output: Tensor) -> Tensor:
        head_logprob = F.log_softmax(head_output, dim=1)
        parts = [head_logprob[:, : self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster = F.log_softmax(self.tail[i](input), dim=1)
            parts.append(cluster + head_logprob[:, self.shortlist_size + i].unsqueeze(1))
        return _rustdl.cat(parts, dim=1)

    def log_prob(self, input: Tensor) -> Tensor:  # noqa: A002
        """Log-probabilities of every class: ``(batch, n_classes)`` (or ``(n_classes,)``)."""
        batched = input.dim() > 1
        x = input if batched else input.unsqueeze(0)
        out = self._full_log_prob(x, self.head(x))
        return out if batched else out.squeeze(0)

    def predict(self, input: Tensor) -> Tensor:  # noqa: A002
        """The most likely class of each row (the same as ``log_prob(input).argmax(1)``, but
        rows whose best head entry is a shortlist class skip the clusters)."""
        batched = input.dim() > 1
        x = input if batched else input.unsqueeze(0)
        head_output = self.head(x)
        best = head_output.argmax(dim=1)
        outside = (best >= self.shortlist_size).detach().cpu().numpy()
        if outside.any():
            rows = _rustdl.tensor(np.nonzero(outside)[0], dtype=_rustdl.int64, device=x.device)
            full = self._full_log_prob(x.index_select(0, rows), head_output.index_select(0, rows))
            best = best.clone()
            best[rows] = full.argmax(dim=1)
        return best if batched else best.squeeze(0)
