"""``TransformedDistribution``: the distribution of ``f(X)`` for ``X`` from a base distribution and
``f`` a chain of :mod:`transforms <rustdl.distributions.transforms>`, as
``torch.distributions.TransformedDistribution``.

The chain's domain and codomain event dims decide the shapes: when the transforms act on
vectors (``event_dim`` 1) and the base distribution is elementwise, the base's rightmost batch
dim becomes part of each event (an :class:`Independent`), and a transform whose parameters have
more batch dims than the base expands the base to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .._rustdl import Tensor
from ..autograd import no_grad
from . import constraints
from .distribution import Distribution, _as_shape
from .transforms import ComposeTransform, Transform
from .utils import _sum_rightmost

__all__ = ["TransformedDistribution"]


class TransformedDistribution(Distribution):
    """The distribution of ``transforms[-1](... transforms[0](x))`` with ``x ~ base_distribution``.

    ``log_prob(y)`` inverts the chain and adds the base's log density to minus each transform's
    log-Jacobian (each summed over the event dims it does not already cover); ``sample`` and
    ``rsample`` draw from the base and apply the transforms, so a seeded draw is the base's draw
    transformed.

    Args:
        base_distribution: the distribution of ``x``.
        transforms: a :class:`Transform` or a list of them.
        validate_args: check the values given to :meth:`log_prob`.

    Example:
        >>> logistic = TransformedDistribution(Uniform(0.0, 1.0), [SigmoidTransform().inv])
        >>> logistic.log_prob(rustdl.tensor(0.3))
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {}

    def __init__(
        self, base_distribution: Distribution, transforms: Any, validate_args: bool | None = None
    ) -> None:
        if isinstance(transforms, Transform):
            self.transforms = [transforms]
        elif isinstance(transforms, (list, tuple)):
            if not all(isinstance(t, Transform) for t in transforms):
                raise ValueError("transforms must be a Transform or a list of Transforms")
            self.transforms = transforms if isinstance(transforms, list) else list(transforms)
        else:
            raise ValueError(f"transforms must be a Transform or list, but was {transforms}")
        base_shape = tuple(base_distribution.batch_shape) + tuple(base_distribution.event_shape)
        base_event_dim = len(base_distribution.event_shape)
        chain = ComposeTransform(self.transforms)
        domain_event_dim = chain.domain.event_dim
        if len(base_shape) < domain_event_dim:
            raise ValueError(
                f"base_distribution needs to have shape with size at least {domain_event_dim}, "
                f"but got {base_shape}."
            )
        forward_shape = tuple(chain.forward_shape(base_shape))
        # parameters of the transforms with more batch dims than the base: expand the base
        needed = tuple(chain.inverse_shape(forward_shape))
        if needed != base_shape:
            base_distribution = base_distribution.expand(needed[: len(needed) - base_event_dim])
        if domain_event_dim > base_event_dim:
            from .more import Independent

            base_distribution = Independent(base_distribution, domain_event_dim - base_event_dim)
        self.base_dist = base_distribution
        codomain_event_dim = chain.codomain.event_dim
        event_dim = max(codomain_event_dim, base_event_dim + codomain_event_dim - domain_event_dim)
        if len(forward_shape) < event_dim:
            raise ValueError(
                f"TransformedDistribution: shape {forward_shape} has fewer than {event_dim} dims"
            )
        cut = len(forward_shape) - event_dim
        super().__init__(forward_shape[:cut], forward_shape[cut:], validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> TransformedDistribution:
        """This distribution with its batch shape broadcast to ``batch_shape``: the base
        distribution expanded to the matching shape, the same transforms."""
        new = self._get_checked_instance(TransformedDistribution, _instance)
        batch = _as_shape(batch_shape)
        shape: Any = batch + tuple(self.event_shape)
        for t in reversed(self.transforms):
            shape = t.inverse_shape(shape)
        shape = tuple(shape)
        new.base_dist = self.base_dist.expand(shape[: len(shape) - len(self.base_dist.event_shape)])
        new.transforms = self.transforms
        super(TransformedDistribution, new).__init__(batch, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=False)
    def support(self) -> Any:  # type: ignore[override]
        if not self.transforms:
            return self.base_dist.support
        support = self.transforms[-1].codomain
        if len(self.event_shape) > support.event_dim:
            support = constraints.independent(support, len(self.event_shape) - support.event_dim)
        return support

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_rsample

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        with no_grad():
            x = self.base_dist.sample(sample_shape)
            for t in self.transforms:
                x = t(x)
            return x

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        x = self.base_dist.rsample(sample_shape)
        for t in self.transforms:
            x = t(x)
        return x

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        event_dim = len(self.event_shape)
        lp: Any = 0.0
        y = value
        for t in reversed(self.transforms):
            x = t.inv(y)
            event_dim += t.domain.event_dim - t.codomain.event_dim
            lp = lp - _sum_rightmost(t.log_abs_det_jacobian(x, y), event_dim - t.domain.event_dim)
            y = x
        return lp + _sum_rightmost(self.base_dist.log_prob(y), event_dim - len(self.base_dist.event_shape))

    def _monotonize_cdf(self, value: Any) -> Any:
        """``value``, or ``1 − value`` where the chain decreases (its sign is −1)."""
        sign: Any = 1
        for t in self.transforms:
            sign = sign * t.sign
        if isinstance(sign, int) and sign == 1:
            return value
        return sign * (value - 0.5) + 0.5

    def cdf(self, value: Tensor) -> Tensor:
        for t in reversed(self.transforms):
            value = t.inv(value)
        if self._validate_args:
            self.base_dist._validate_sample(value)
        return self._monotonize_cdf(self.base_dist.cdf(value))

    cdf._validates = True  # type: ignore[attr-defined]  (checked against the base's support instead)

    def icdf(self, value: Tensor) -> Tensor:
        x = self.base_dist.icdf(self._monotonize_cdf(value))
        for t in self.transforms:
            x = t(x)
        return x
