"""``StudentT``, ``Cauchy``, ``Gumbel``, ``OneHotCategorical`` and ``RelaxedOneHotCategorical``,
composed from rustdl tensor ops (differentiable where PyTorch's are). ``Gumbel`` and
``RelaxedOneHotCategorical`` are :class:`TransformedDistribution` objects (re-exported here from
:mod:`.transformed_distribution`), built from the same base distributions and transforms as
PyTorch's."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Number
from typing import Any, ClassVar

from .. import _rustdl
from .._rustdl import Tensor
from . import constraints
from .categorical import Categorical
from .distribution import Distribution
from .gamma_family import digamma, lgamma, standard_gamma
from .more import _LocScale, _uniform
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, ExpTransform
from .uniform import Uniform
from .utils import broadcast_all, clamp_probs, euler_constant, finfo_eps, finfo_tiny

__all__ = [
    "Cauchy",
    "Gumbel",
    "OneHotCategorical",
    "RelaxedOneHotCategorical",
    "StudentT",
    "TransformedDistribution",
]


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


class Gumbel(TransformedDistribution):
    """The Gumbel (type-I extreme value) distribution with ``loc`` and ``scale``, built as
    PyTorch's: ``loc − scale · log(−log u)`` for ``u`` from ``Uniform(tiny, 1 − eps)`` (the base
    distribution), through ``[ExpTransform().inv, AffineTransform(0, −1), ExpTransform().inv,
    AffineTransform(loc, −scale)]``."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real

    def __init__(self, loc, scale, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        tiny, eps = finfo_tiny(self.loc), finfo_eps(self.loc)
        if isinstance(loc, Number) and isinstance(scale, Number):
            base: Distribution = Uniform(tiny, 1 - eps, validate_args=validate_args)
        else:
            base = Uniform(
                _rustdl.full_like(self.loc, tiny),
                _rustdl.full_like(self.loc, 1 - eps),
                validate_args=validate_args,
            )
        transforms = [
            ExpTransform().inv,
            AffineTransform(loc=0, scale=-_rustdl.ones_like(self.scale)),
            ExpTransform().inv,
            AffineTransform(loc=loc, scale=-self.scale),
        ]
        super().__init__(base, transforms, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Gumbel:
        new = self._get_checked_instance(Gumbel, _instance)
        batch = tuple(batch_shape) if not isinstance(batch_shape, int) else (batch_shape,)
        new.loc = self.loc.expand(*batch)
        new.scale = self.scale.expand(*batch)
        return super().expand(batch, _instance=new)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        y = (self.loc - value) / self.scale
        return (y - y.exp()) - self.scale.log()

    @property
    def mean(self) -> Tensor:
        return self.loc + self.scale * euler_constant

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return (math.pi / math.sqrt(6)) * self.scale

    @property
    def variance(self) -> Tensor:
        return self.stddev.pow(2)

    def entropy(self) -> Tensor:
        return self.scale.log() + (1 + euler_constant)


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


class ExpRelaxedCategorical(Distribution):
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

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> ExpRelaxedCategorical:
        """This distribution with its logits expanded to ``batch_shape`` (the temperature kept)."""
        new = self._get_checked_instance(ExpRelaxedCategorical, _instance)
        batch = (batch_shape,) if isinstance(batch_shape, int) else tuple(int(d) for d in batch_shape)
        new.temperature = self.temperature
        new._categorical = self._categorical.expand(batch)
        Distribution.__init__(new, batch, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def param_shape(self) -> tuple[int, ...]:
        return self._categorical.param_shape

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
        if self._validate_args:
            self._validate_sample(value)
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
        base = ExpRelaxedCategorical(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> RelaxedOneHotCategorical:
        new = self._get_checked_instance(RelaxedOneHotCategorical, _instance)
        return super().expand(batch_shape, _instance=new)

    support = constraints.simplex

    @property
    def temperature(self) -> Any:
        return self.base_dist.temperature

    @property
    def logits(self) -> Tensor:
        return self.base_dist.logits

    @property
    def probs(self) -> Tensor:
        return self.base_dist.probs


_ExpRelaxedCategorical = ExpRelaxedCategorical  # the older name
