"""``Bernoulli``: a 0/1 coin with success probability ``probs`` (or log-odds ``logits``)."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Number
from typing import ClassVar

from .. import _rustdl
from .._rustdl import Tensor
from ..autograd import no_grad
from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_all, lazy_property, logits_to_probs, probs_to_logits, softplus

__all__ = ["Bernoulli"]


class Bernoulli(ExponentialFamily):
    """The Bernoulli distribution: ``1`` with probability ``probs``, else ``0``.

    Give exactly one of ``probs`` and ``logits`` (log-odds, ``probs = sigmoid(logits)``).

    Args:
        probs: the probability of ``1``, in ``[0, 1]`` (a number or a tensor).
        logits: the log-odds of ``1`` (a number or a tensor).
        validate_args: check the parameter and the values given to :meth:`log_prob`.

    Shape:
        - batch_shape: the parameter's shape; event_shape: ``()``. Samples are floats 0. or 1.

    Example:
        >>> m = Bernoulli(rustdl.tensor([0.3]))
        >>> m.sample()
        tensor([0.])
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "probs": constraints.unit_interval,
        "logits": constraints.real,
    }
    support = constraints.boolean
    has_enumerate_support = True
    _mean_carrier_measure = 0

    def __init__(
        self,
        probs: Tensor | float | None = None,
        logits: Tensor | float | None = None,
        validate_args: bool | None = None,
    ) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            is_scalar = isinstance(probs, Number)
            (self.probs,) = broadcast_all(probs)
            param = self.probs
        else:
            is_scalar = isinstance(logits, Number)
            (self.logits,) = broadcast_all(logits)
            param = self.logits
        self._param = param
        super().__init__(() if is_scalar else tuple(param.shape), validate_args=validate_args)

    @lazy_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self) -> tuple[int, ...]:
        return tuple(self._param.shape)

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        p = self.probs
        return _rustdl.where(p == 0.5, float("nan"), (p > 0.5).to(dtype=p.dtype))

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        with no_grad():
            p = self.probs.detach()
            u = _rustdl.rand(shape, dtype=p.dtype, device=p.device)
            return (u < p).to(dtype=p.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        # log p(v) = v * l - log(1 + e^l), i.e. minus binary cross-entropy with logits, whose
        # result takes the target's (value's) dtype in PyTorch
        out = value * logits - softplus(logits)
        return out if out.dtype == value.dtype else out.to(dtype=value.dtype)

    def entropy(self) -> Tensor:
        # H = log(1 + e^l) - p * l
        return softplus(self.logits) - self.probs * self.logits

    @property
    def _natural_params(self) -> tuple[Tensor]:
        return (self.probs.logit(),)

    def _log_normalizer(self, x: Tensor) -> Tensor:
        return softplus(x)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """``[0., 1.]`` along a new leading dimension (expanded over ``batch_shape`` if ``expand``)."""
        p = self._param
        values = _rustdl.arange(2, dtype=p.dtype, device=p.device).reshape(
            (-1,) + (1,) * len(self._batch_shape)
        )
        if expand:
            values = values.expand(2, *self._batch_shape)
        return values
