"""``Uniform``: the continuous uniform distribution on ``[low, high)``."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Number
from typing import ClassVar

from .. import _rustdl
from .._rustdl import Tensor
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["Uniform"]


class Uniform(Distribution):
    """The uniform distribution on the half-open interval ``[low, high)``.

    Args:
        low: the lower bound, inclusive (a number or a tensor).
        high: the upper bound, exclusive, ``> low``; broadcast with ``low``.
        validate_args: check the parameters and the values given to :meth:`log_prob`.

    Shape:
        - batch_shape: the broadcast shape of ``low`` and ``high``; event_shape: ``()``.

    Example:
        >>> m = Uniform(rustdl.tensor([0.0]), rustdl.tensor([5.0]))
        >>> m.sample().shape
        (1,)
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "low": constraints.dependent(is_discrete=False, event_dim=0),
        "high": constraints.dependent(is_discrete=False, event_dim=0),
    }
    has_rsample = True

    def __init__(self, low: Tensor | float, high: Tensor | float, validate_args: bool | None = None) -> None:
        self.low, self.high = broadcast_all(low, high)
        batch_shape = () if isinstance(low, Number) and isinstance(high, Number) else tuple(self.low.shape)
        super().__init__(batch_shape, validate_args=validate_args)
        if self._validate_args and not bool((self.low < self.high).all().item()):
            raise ValueError("Uniform is not defined when low>= high")

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:
        return constraints.interval(self.low, self.high)

    @property
    def mean(self) -> Tensor:
        return (self.high + self.low) / 2

    @property
    def mode(self) -> Tensor:
        return self.low * float("nan")

    @property
    def stddev(self) -> Tensor:
        return (self.high - self.low) / 12**0.5

    @property
    def variance(self) -> Tensor:
        return (self.high - self.low).square() / 12

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """``low + u * (high - low)`` with ``u ~ U[0, 1)``: differentiable in ``low`` and ``high``."""
        shape = self._extended_shape(sample_shape)
        u = _rustdl.rand(shape, dtype=self.low.dtype, device=self.low.device)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        inside = ((self.low <= value) & (self.high > value)).to(dtype=self.low.dtype)
        return inside.log() - (self.high - self.low).log()

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(0.0, 1.0)

    def icdf(self, value: Tensor) -> Tensor:
        return self.low + value * (self.high - self.low)

    def entropy(self) -> Tensor:
        return (self.high - self.low).log()
