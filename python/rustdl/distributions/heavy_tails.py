"""``StudentT``, ``Cauchy``, ``Gumbel``, ``OneHotCategorical``, ``RelaxedOneHotCategorical``
and ``TransformedDistribution``, composed from rustdl tensor ops (differentiable where
PyTorch's are)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Number
from typing import Any, ClassVar

from .. import _rustdl
from .._rustdl import Tensor
from ..autograd import no_grad
from . import constraints
from .categorical import Categorical
from .distribution import Distribution
from .gamma_family import digamma, lgamma, standard_gamma
from .more import _LocScale, _uniform
from .transforms import ExpTransform, Transform
from .utils import broadcast_all, clamp_probs

__all__ = [
    "Cauchy",
    "Gumbel",
    "OneHotCategorical",
    "RelaxedOneHotCategorical",
    "StudentT",
    "TransformedDistribution",
]

_EULER = 0.57721566490153286061


def _shape_of(*params: Any) -> tuple[int, ...]:
    return () if all(isinstance(p, Number) for p in params) else None  # type: ignore[return-value]


class StudentT(Distribution):
    """Student's t distribution with ``df`` degrees of freedom, location ``loc`` and ``scale``.

    ``rsample`` is reparameterised in ``loc`` and ``scale`` (a standard t draw scaled and
    shifted); a ``df`` that requires grad has no reparameterised gradient here and raises.
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "df": constraints.positive,
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args: bool | None = None) -> None:
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        shape = _shape_of(df, loc, scale)
        super().__init__(tuple(self.df.shape) if shape is None else shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        # constant NaN (a NaN product with loc would put NaN into loc's gradient)
        nan = _rustdl.full_like(self.loc.detach(), float("nan"))
        return _rustdl.where(self.df > 1, self.loc, nan)

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        df = self.df
        v = self.scale.square() * df / (df - 2).clamp(min=1e-30)
        inf = _rustdl.full_like(self.scale.detach(), float("inf"))
        nan = _rustdl.full_like(self.scale.detach(), float("nan"))
        return _rustdl.where(df > 2, v, _rustdl.where(df > 1, inf, nan))

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """``loc + scale · X / √(Z / df)`` with ``X`` standard normal and ``Z = 2·Gamma(df/2)`` a
        chi-squared draw: differentiable in ``loc``, ``scale`` and ``df`` (implicit Gamma
        gradients)."""
        shape = self._extended_shape(sample_shape)
        df = self.df.expand(*shape)
        x = _rustdl.randn(*shape, dtype=self.loc.dtype, device=self.loc.device)
        z = standard_gamma(0.5 * df) * 2
        return self.loc + self.scale * (x * (z / df).rsqrt())

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        df = self.df
        y = (value - self.loc) / self.scale
        z = (
            self.scale.log()
            + 0.5 * df.log()
            + 0.5 * math.log(math.pi)
            + lgamma(0.5 * df)
            - lgamma(0.5 * (df + 1))
        )
        return -0.5 * (df + 1) * (y.square() / df).log1p() - z

    def entropy(self) -> Tensor:
        df = self.df
        lbeta = lgamma(0.5 * df) + math.lgamma(0.5) - lgamma(0.5 * (df + 1))
        return (
            self.scale.log()
            + 0.5 * (df + 1) * (digamma(0.5 * (df + 1)) - digamma(0.5 * df))
            + 0.5 * df.log()
            + lbeta
        )


class Cauchy(_LocScale):
    """The Cauchy (Lorentz) distribution: density ``1 / (π scale (1 + ((x - loc) / scale)²))``."""

    @property
    def mean(self) -> Tensor:
        return _rustdl.full(
            self._extended_shape(), float("nan"), dtype=self.loc.dtype, device=self.loc.device
        )

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return _rustdl.full(
            self._extended_shape(), float("inf"), dtype=self.loc.dtype, device=self.loc.device
        )

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        if self.loc.device.type == "cpu":
            # PyTorch's draw: standard Cauchy values scaled and shifted
            return self.loc + _rustdl.empty(shape, dtype=self.loc.dtype).cauchy_() * self.scale
        u = _uniform(shape, self.loc)
        return self.loc + self.scale * (math.pi * (u - 0.5)).tan()

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return -math.log(math.pi) - self.scale.log() - ((value - self.loc) / self.scale).square().log1p()

    def cdf(self, value: Tensor) -> Tensor:
        return ((value - self.loc) / self.scale).atan() / math.pi + 0.5

    def icdf(self, value: Tensor) -> Tensor:
        return (math.pi * (value - 0.5)).tan() * self.scale + self.loc

    def entropy(self) -> Tensor:
        return math.log(4 * math.pi) + self.scale.log()


class Gumbel(_LocScale):
    """The Gumbel (type-I extreme value) distribution with ``loc`` and ``scale``."""

    @property
    def mean(self) -> Tensor:
        return self.loc + self.scale * _EULER

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return self.scale.square() * (math.pi**2 / 6)

    @property
    def stddev(self) -> Tensor:
        return self.scale * (math.pi / math.sqrt(6))

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        u = _uniform(self._extended_shape(sample_shape), self.loc)
        return self.loc - self.scale * (-u.log()).log()

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -(self.scale.log() + z + (-z).exp())

    def cdf(self, value: Tensor) -> Tensor:
        return (-(-(value - self.loc) / self.scale).exp()).exp()

    def icdf(self, value: Tensor) -> Tensor:
        return self.loc - self.scale * (-value.log()).log()

    def entropy(self) -> Tensor:
        return self.scale.log() + (1 + _EULER)


class OneHotCategorical(Distribution):
    """A categorical draw written as a one-hot vector of length ``K`` (event_shape ``(K,)``).

    Args as :class:`Categorical` (exactly one of ``probs`` and ``logits``).
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "probs": constraints.simplex,
        "logits": constraints.real_vector,
    }
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        k = self._categorical._num_events
        super().__init__(self._categorical.batch_shape, (k,), validate_args=validate_args)

    @property
    def probs(self) -> Tensor:
        return self._categorical.probs

    @property
    def logits(self) -> Tensor:
        return self._categorical.logits

    @property
    def param_shape(self) -> tuple[int, ...]:
        return self._categorical.param_shape

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        p = self.probs
        return _rustdl.zeros_like(p).scatter(-1, p.argmax(-1, keepdim=True), 1.0)

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        idx = self._categorical.sample(sample_shape)
        k = self._event_shape[0]
        p = self.probs
        out = _rustdl.zeros(tuple(idx.shape) + (k,), dtype=p.dtype, device=p.device)
        return out.scatter(-1, idx.unsqueeze(-1), 1.0)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self) -> Tensor:
        return self._categorical.entropy()

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """The ``K`` one-hot vectors along a new leading dimension."""
        k = self._event_shape[0]
        p = self.probs
        values = _rustdl.eye(k, dtype=p.dtype, device=p.device)
        values = values.reshape((k,) + (1,) * len(self._batch_shape) + (k,))
        if expand:
            values = values.expand(k, *self._batch_shape, k)
        return values


class TransformedDistribution(Distribution):
    """The distribution of ``transforms[-1](... transforms[0](x))`` with ``x ~ base_distribution``;
    ``log_prob`` adds the log-Jacobians of the inverse transforms (elementwise transforms,
    summed over the event dims)."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {}

    def __init__(
        self, base_distribution: Distribution, transforms: Any, validate_args: bool | None = None
    ) -> None:
        if isinstance(transforms, Transform):
            transforms = [transforms]
        elif not isinstance(transforms, (list, tuple)) or not all(
            isinstance(t, Transform) for t in transforms
        ):
            raise ValueError("transforms must be a Transform or a list of Transforms")
        self.transforms = list(transforms)
        # event dims at the input and output of the chain (as PyTorch's ComposeTransform)
        dom_ev, cod_ev = 0, 0
        if self.transforms:
            dom_ev = self.transforms[-1].codomain.event_dim
            for t in reversed(self.transforms):
                dom_ev = max(dom_ev + t.domain.event_dim - t.codomain.event_dim, t.domain.event_dim)
            cod_ev = self.transforms[0].domain.event_dim
            for t in self.transforms:
                cod_ev = max(cod_ev + t.codomain.event_dim - t.domain.event_dim, t.codomain.event_dim)
        base_shape = tuple(base_distribution.batch_shape) + tuple(base_distribution.event_shape)
        base_event_dim = len(base_distribution.event_shape)
        if len(base_shape) < dom_ev:
            raise ValueError(
                f"TransformedDistribution: base distribution needs at least {dom_ev} dims, got shape {base_shape}"
            )
        shape = base_shape
        for t in self.transforms:
            shape = tuple(t.forward_shape(shape))
        if dom_ev > base_event_dim:  # the transforms act on vectors: the base's batch dims become event dims
            from .more import Independent

            base_distribution = Independent(base_distribution, dom_ev - base_event_dim)
        self.base_dist = base_distribution
        event_dim = cod_ev + max(base_event_dim - dom_ev, 0)
        cut = len(shape) - event_dim
        super().__init__(shape[:cut], shape[cut:], validate_args=validate_args)

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_rsample

    @property
    def support(self) -> Any:  # type: ignore[override]
        return self.transforms[-1].codomain if self.transforms else self.base_dist.support

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
        event_dim = len(self._event_shape)
        lp: Any = 0.0
        y = value
        for t in reversed(self.transforms):
            x = t.inv(y)
            event_dim += t.domain.event_dim - t.codomain.event_dim
            term = t.log_abs_det_jacobian(x, y)
            for _ in range(event_dim - t.domain.event_dim):
                term = term.sum(-1)
            lp = lp - term
            y = x
        base_lp = self.base_dist.log_prob(y)
        for _ in range(event_dim - len(self.base_dist.event_shape)):
            base_lp = base_lp.sum(-1)
        return lp + base_lp

    def cdf(self, value: Tensor) -> Tensor:
        for t in reversed(self.transforms):
            value = t.inv(value)
        out = self.base_dist.cdf(value)
        sign = 1
        for t in self.transforms:
            s = t.sign
            sign = sign * s
        if isinstance(sign, Number) and sign == 1:
            return out
        return sign * (out - 0.5) + 0.5

    def icdf(self, value: Tensor) -> Tensor:
        x = self.base_dist.icdf(value)
        for t in self.transforms:
            x = t(x)
        return x


class _ExpRelaxedCategorical(Distribution):
    """Log of a relaxed one-hot draw (the concrete distribution in log space)."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "probs": constraints.simplex,
        "logits": constraints.real_vector,
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args: bool | None = None) -> None:
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        self.temperature = temperature
        super().__init__(
            self._categorical.batch_shape, (self._categorical._num_events,), validate_args=validate_args
        )

    @property
    def logits(self) -> Tensor:
        return self._categorical.logits

    @property
    def probs(self) -> Tensor:
        return self._categorical.probs

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        u = clamp_probs(_rustdl.rand(shape, dtype=self.logits.dtype, device=self.logits.device))
        gumbels = -(-u.log()).log()
        scores = (self.logits + gumbels) / self.temperature
        return scores - scores.logsumexp(-1, keepdim=True)

    def log_prob(self, value: Tensor) -> Tensor:
        k = self._event_shape[0]
        temp = self.temperature
        if isinstance(temp, Tensor):
            log_scale = math.lgamma(k) + (k - 1) * temp.log()
        else:
            log_scale = math.lgamma(k) + (k - 1) * math.log(temp)
        score = self.logits - value * temp
        score = (score - score.logsumexp(-1, keepdim=True)).sum(-1)
        return score + log_scale


class RelaxedOneHotCategorical(TransformedDistribution):
    """The Gumbel-softmax (concrete) relaxation of :class:`OneHotCategorical` at ``temperature``:
    ``rsample`` is ``softmax((logits + Gumbel noise) / temperature)``, differentiable in the logits.
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "probs": constraints.simplex,
        "logits": constraints.real_vector,
    }
    has_rsample = True  # type: ignore[assignment]

    def __init__(self, temperature, probs=None, logits=None, validate_args: bool | None = None) -> None:
        base = _ExpRelaxedCategorical(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    @property
    def support(self) -> Any:  # type: ignore[override]
        return constraints.simplex

    @property
    def temperature(self) -> Any:
        return self.base_dist.temperature

    @property
    def logits(self) -> Tensor:
        return self.base_dist.logits

    @property
    def probs(self) -> Tensor:
        return self.base_dist.probs
