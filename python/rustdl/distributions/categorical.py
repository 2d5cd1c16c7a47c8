"""``Categorical``: a draw among ``K`` categories with probabilities ``probs`` (or ``logits``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from .. import _rustdl
from .._rustdl import Tensor
from . import constraints
from .distribution import Distribution, _numel
from .utils import finfo_min, lazy_property, logits_to_probs, probs_to_logits

__all__ = ["Categorical"]


class Categorical(Distribution):
    """The categorical distribution over ``{0, …, K-1}``.

    Give exactly one of ``probs`` (non-negative, normalised over the last dimension) and
    ``logits`` (unnormalised log-probabilities, normalised with ``logsumexp``). Gradients flow
    through :meth:`log_prob` and :meth:`entropy` to either parameter (REINFORCE).

    Args:
        probs: ``(*batch_shape, K)`` event probabilities (need not sum to 1).
        logits: ``(*batch_shape, K)`` event log-probabilities (unnormalised).
        validate_args: check the parameter and the values given to :meth:`log_prob`.

    Shape:
        - batch_shape: ``param.shape[:-1]``; event_shape: ``()``. Samples are int64 indices.

    Example:
        >>> m = Categorical(probs=rustdl.tensor([0.25, 0.25, 0.25, 0.25]))
        >>> m.sample()
        tensor(3)
        >>> policy = Categorical(logits=net(obs))
        >>> action = policy.sample()
        >>> (-(policy.log_prob(action) * reward).sum()).backward()
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "probs": constraints.simplex,
        "logits": constraints.real_vector,
    }
    has_enumerate_support = True

    def __init__(
        self,
        probs: Tensor | None = None,
        logits: Tensor | None = None,
        validate_args: bool | None = None,
    ) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            probs = _as_float_tensor(probs)
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
            param = self.probs
        else:
            logits = _as_float_tensor(logits)
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
            param = self.logits
        self._param = param
        self._num_events = int(param.shape[-1])
        super().__init__(tuple(param.shape[:-1]), validate_args=validate_args)

    @lazy_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def param_shape(self) -> tuple[int, ...]:
        return tuple(self._param.shape)

    @property
    def mean(self) -> Tensor:
        p = self._param
        return _rustdl.full(self._extended_shape(), float("nan"), dtype=p.dtype, device=p.device)

    @property
    def mode(self) -> Tensor:
        return self.probs.argmax(-1)

    @property
    def variance(self) -> Tensor:
        return self.mean

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """Draws int64 category indices of shape ``sample_shape + batch_shape`` (no gradient).

        The draws are ``multinomial(probs, n, replacement=True)`` over the rows of the
        probabilities, as PyTorch's (so a seeded program samples the same categories).
        """
        shape = self._extended_shape(sample_shape)
        k = self._num_events
        n = _numel(tuple(sample_shape) if not isinstance(sample_shape, int) else (sample_shape,))
        probs_2d = self.probs.detach().reshape(-1, k).cpu()
        if n == 0 or probs_2d.shape[0] == 0:
            return _rustdl.zeros(shape, dtype=_rustdl.int64, device=self._param.device)
        # PyTorch's draw: multinomial with replacement over the rows, transposed
        samples_2d = probs_2d.multinomial(n, True).t()
        return samples_2d.reshape(shape).to(self._param.device)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value.long()
        try:
            shape = np.broadcast_shapes(tuple(value.shape), self._batch_shape)
        except ValueError:
            raise ValueError(
                f"Value is not broadcastable with batch_shape: {tuple(value.shape)} vs {self._batch_shape}."
            ) from None
        index = value.unsqueeze(-1).expand(*shape, 1)
        log_pmf = self.logits.expand(*shape, self._num_events)
        return log_pmf.gather(-1, index).squeeze(-1)

    def entropy(self) -> Tensor:
        logits = self.logits.clamp(min=finfo_min(self.logits))
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """``0 … K-1`` (int64) along a new leading dimension, expanded over ``batch_shape`` if ``expand``."""
        values = _rustdl.arange(self._num_events, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand(self._num_events, *self._batch_shape)
        return values


def _as_float_tensor(x: Tensor | Sequence[float]) -> Tensor:
    if not isinstance(x, Tensor):
        x = _rustdl.tensor(x, dtype=_rustdl._default_float())
    elif not x.is_floating_point():
        x = x.to(dtype=_rustdl._default_float())
    return x
