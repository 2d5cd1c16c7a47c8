"""``Normal``: the Gaussian distribution."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Number
from typing import ClassVar

from .. import _rustdl
from .._rustdl import Tensor
from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_all

__all__ = ["Normal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class Normal(ExponentialFamily):
    r"""The normal (Gaussian) distribution with mean ``loc`` and standard deviation ``scale``.

    .. math:: p(x) = \frac{1}{\sigma\sqrt{2\pi}} e^{-(x-\mu)^2 / 2\sigma^2}

    Args:
        loc: the mean (a number or a tensor).
        scale: the standard deviation, ``> 0`` (a number or a tensor); broadcast with ``loc``.
        validate_args: check the parameters and the values given to :meth:`log_prob`.

    Shape:
        - batch_shape: the broadcast shape of ``loc`` and ``scale``; event_shape: ``()``.

    Example:
        >>> m = Normal(rustdl.tensor([0.0]), rustdl.tensor([1.0]))
        >>> m.sample().shape
        (1,)
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, loc: Tensor | float, scale: Tensor | float, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        batch_shape = () if isinstance(loc, Number) and isinstance(scale, Number) else tuple(self.loc.shape)
        super().__init__(batch_shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale.square()

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """``loc + scale * eps`` with ``eps ~ N(0, 1)``: differentiable in ``loc`` and ``scale``."""
        shape = self._extended_shape(sample_shape)
        eps = _rustdl.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return -((value - self.loc).square()) / (2 * self.variance) - self.scale.log() - _HALF_LOG_2PI

    def entropy(self) -> Tensor:
        return self.scale.log() + (0.5 + _HALF_LOG_2PI)

    @property
    def _natural_params(self) -> tuple[Tensor, Tensor]:
        return (self.loc / self.scale.square(), -0.5 * self.scale.square().reciprocal())

    def _log_normalizer(self, x: Tensor, y: Tensor) -> Tensor:
        return -0.25 * x.square() / y + 0.5 * (-math.pi / y).log()

    def cdf(self, value: Tensor) -> Tensor:
        # divided by √2 after the promotion to value's dtype (a float32 scale · √2 would round √2)
        return 0.5 * (1 + ((value - self.loc) * self.scale.reciprocal() / math.sqrt(2)).erf())

    def icdf(self, value: Tensor) -> Tensor:
        return self.loc + self.scale * (2 * value - 1).erfinv() * math.sqrt(2)
