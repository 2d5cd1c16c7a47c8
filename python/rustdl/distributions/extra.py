"""``HalfNormal``, ``HalfCauchy``, ``Chi2``, ``Weibull``, ``Pareto``, ``NegativeBinomial``,
``Multinomial``, ``Kumaraswamy``, ``FisherSnedecor``, ``ContinuousBernoulli`` and ``VonMises``, with PyTorch's parameterisations and formulas, composed from rustdl tensor ops
(``log_prob``, ``entropy``, ``cdf``/``icdf`` and, where PyTorch has it, ``rsample`` are
differentiable in the parameters).

``HalfNormal``, ``HalfCauchy``, ``Weibull``, ``Pareto``, ``Kumaraswamy`` and ``LogisticNormal``
are :class:`TransformedDistribution` objects built as PyTorch builds them (``base_dist`` and
``transforms``), so their seeded draws are the base distribution's draws transformed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Number
from typing import ClassVar

from .. import _rustdl
from .._rustdl import Tensor
from . import constraints
from .categorical import Categorical
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .gamma_family import Gamma, _as_dtype_of, digamma, lgamma, standard_gamma
from .heavy_tails import Cauchy
from .more import Exponential, _uniform
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import AbsTransform, AffineTransform, ExpTransform, PowerTransform, StickBreakingTransform
from .uniform import Uniform
from .utils import (
    broadcast_all,
    euler_constant,
    finfo_eps,
    finfo_tiny,
    lazy_property,
    probs_to_logits,
    softplus,
)

__all__ = [
    "Chi2",
    "ContinuousBernoulli",
    "FisherSnedecor",
    "HalfCauchy",
    "HalfNormal",
    "Kumaraswamy",
    "LogisticNormal",
    "Multinomial",
    "NegativeBinomial",
    "Pareto",
    "VonMises",
    "Weibull",
]


def _scalar_shape(*params) -> tuple[int, ...] | None:
    return () if all(isinstance(p, Number) for p in params) else None


def _inside_or(lp: Tensor, inside: Tensor, value: float) -> Tensor:
    """``lp`` where ``inside``, else ``value`` (a constant there, so no NaN reaches gradients)."""
    return _rustdl.where(inside, lp, _rustdl.full_like(lp.detach(), value))


def _outside_to(lp: Tensor, outside: Tensor, value: float) -> Tensor:
    """``lp`` with ``value`` where ``outside`` (a constant there, so no NaN reaches gradients)."""
    return _rustdl.where(outside, _rustdl.full_like(lp.detach(), value), lp)


class HalfNormal(TransformedDistribution):
    """``|X|`` for ``X ~ Normal(0, scale)``: a :class:`TransformedDistribution` of that normal
    (``base_dist``) through ``AbsTransform()``, as PyTorch's."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, scale, validate_args: bool | None = None) -> None:
        base = Normal(0, scale, validate_args=False)
        super().__init__(base, AbsTransform(), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance=None) -> HalfNormal:
        new = self._get_checked_instance(HalfNormal, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def scale(self) -> Tensor:
        return self.base_dist.scale

    @property
    def mean(self) -> Tensor:
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def mode(self) -> Tensor:
        return _rustdl.zeros_like(self.scale)

    @property
    def variance(self) -> Tensor:
        return self.scale.square() * (1 - 2 / math.pi)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        lp = self.base_dist.log_prob(value) + math.log(2)
        return _inside_or(lp, value >= 0, -math.inf)

    def cdf(self, value: Tensor) -> Tensor:
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob: Tensor) -> Tensor:
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self) -> Tensor:
        return self.base_dist.entropy() - math.log(2)


class HalfCauchy(TransformedDistribution):
    """``|X|`` for ``X ~ Cauchy(0, scale)``: a :class:`TransformedDistribution` of that Cauchy
    (``base_dist``) through ``AbsTransform()``, as PyTorch's."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, scale, validate_args: bool | None = None) -> None:
        base = Cauchy(0, scale, validate_args=False)
        super().__init__(base, AbsTransform(), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance=None) -> HalfCauchy:
        new = self._get_checked_instance(HalfCauchy, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def scale(self) -> Tensor:
        return self.base_dist.scale

    @property
    def mean(self) -> Tensor:
        s = self.scale
        return _rustdl.full(self._extended_shape(), math.inf, dtype=s.dtype, device=s.device)

    @property
    def mode(self) -> Tensor:
        return _rustdl.zeros_like(self.scale)

    @property
    def variance(self) -> Tensor:
        return self.base_dist.variance

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        # cast to the parameter's dtype (a float64 value of a float32 HalfCauchy gives float32), as PyTorch
        value = _as_dtype_of(value, self.scale)
        lp = self.base_dist.log_prob(value) + math.log(2)
        return _inside_or(lp, value >= 0, -math.inf)

    def cdf(self, value: Tensor) -> Tensor:
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob: Tensor) -> Tensor:
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self) -> Tensor:
        return self.base_dist.entropy() - math.log(2)


class Chi2(Gamma):
    """The chi-squared distribution with ``df`` degrees of freedom: ``Gamma(df / 2, 1 / 2)``."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {"df": constraints.positive}

    def __init__(self, df, validate_args: bool | None = None) -> None:
        (df,) = broadcast_all(df) if not isinstance(df, Number) else (df,)
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    @property
    def df(self) -> Tensor:
        return self.concentration * 2


class Weibull(TransformedDistribution):
    """The Weibull distribution with ``scale`` λ and ``concentration`` k: density
    ``(k/λ) (x/λ)^(k-1) exp(-(x/λ)^k)`` on ``x > 0``. Built as PyTorch's: ``Exponential(1)``
    (``base_dist``) through ``PowerTransform(1/k)`` and ``AffineTransform(0, λ)``."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "scale": constraints.positive,
        "concentration": constraints.positive,
    }
    support = constraints.positive

    def __init__(self, scale, concentration, validate_args: bool | None = None) -> None:
        self.scale, self.concentration = broadcast_all(scale, concentration)
        self.concentration_reciprocal = self.concentration.reciprocal()
        base = Exponential(_rustdl.ones_like(self.scale), validate_args=validate_args)
        transforms = [
            PowerTransform(exponent=self.concentration_reciprocal),
            AffineTransform(loc=0, scale=self.scale),
        ]
        super().__init__(base, transforms, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance=None) -> Weibull:
        new = self._get_checked_instance(Weibull, _instance)
        batch = (batch_shape,) if isinstance(batch_shape, int) else tuple(batch_shape)
        new.scale = self.scale.expand(*batch)
        new.concentration = self.concentration.expand(*batch)
        new.concentration_reciprocal = new.concentration.reciprocal()
        transforms = [
            PowerTransform(exponent=new.concentration_reciprocal),
            AffineTransform(loc=0, scale=new.scale),
        ]
        TransformedDistribution.__init__(new, self.base_dist.expand(batch), transforms, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return self.scale * lgamma(1 + self.concentration_reciprocal).exp()

    @property
    def mode(self) -> Tensor:
        k = self.concentration
        return self.scale * ((k - 1) / k) ** k.reciprocal()  # NaN for k < 1, as PyTorch

    @property
    def variance(self) -> Tensor:
        r = self.concentration_reciprocal
        return self.scale.square() * (lgamma(1 + 2 * r).exp() - (2 * lgamma(1 + r)).exp())

    def entropy(self) -> Tensor:
        r = self.concentration_reciprocal
        return euler_constant * (1 - r) + (self.scale * r).log() + 1


class Pareto(TransformedDistribution):
    """The Pareto (type I) distribution with ``scale`` x_m and ``alpha``: density
    ``α x_m^α / x^(α+1)`` on ``x ≥ x_m``. Built as PyTorch's: ``Exponential(α)`` (``base_dist``)
    through ``ExpTransform()`` and ``AffineTransform(0, x_m)``."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "alpha": constraints.positive,
        "scale": constraints.positive,
    }

    def __init__(self, scale, alpha, validate_args: bool | None = None) -> None:
        self.scale, self.alpha = broadcast_all(scale, alpha)
        base = Exponential(self.alpha, validate_args=validate_args)
        transforms = [ExpTransform(), AffineTransform(loc=0, scale=self.scale)]
        super().__init__(base, transforms, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance=None) -> Pareto:
        new = self._get_checked_instance(Pareto, _instance)
        batch = (batch_shape,) if isinstance(batch_shape, int) else tuple(batch_shape)
        new.scale = self.scale.expand(*batch)
        new.alpha = self.alpha.expand(*batch)
        return super().expand(batch, _instance=new)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):  # type: ignore[override]
        return constraints.greater_than_eq(self.scale)

    @property
    def mean(self) -> Tensor:
        a = self.alpha.clamp(min=1)  # infinite for α ≤ 1, as PyTorch
        return a * self.scale / (a - 1)

    @property
    def mode(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        a = self.alpha.clamp(min=2)  # infinite for α ≤ 2, as PyTorch
        return self.scale.square() * a / ((a - 1).square() * (a - 2))

    def entropy(self) -> Tensor:
        return (self.scale / self.alpha).log() + (1 + self.alpha.reciprocal())


class NegativeBinomial(Distribution):
    """Successes (each with probability ``probs``) before ``total_count`` failures, as
    PyTorch's; give ``probs`` or ``logits``."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "total_count": constraints.greater_than_eq(0),
        "probs": constraints.half_open_interval(0.0, 1.0),
        "logits": constraints.real,
    }
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("NegativeBinomial: either `probs` or `logits` must be specified, but not both.")
        given = probs if probs is not None else logits
        self.total_count, p = broadcast_all(total_count, given)
        # logits of clamped probabilities, as PyTorch's probs_to_logits(is_binary=True)
        self.logits = probs_to_logits(p, is_binary=True) if probs is not None else p
        self.probs = p if probs is not None else p.sigmoid()
        shape = _scalar_shape(total_count, given)
        super().__init__(tuple(self.probs.shape) if shape is None else shape, validate_args=validate_args)

    @property
    def param_shape(self) -> tuple[int, ...]:
        """The shape of the probabilities (or logits) parameter."""
        return tuple(self.probs.shape)

    @property
    def mean(self) -> Tensor:
        return self.total_count * self.logits.exp()

    @property
    def mode(self) -> Tensor:
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self) -> Tensor:
        return self.mean / (-self.logits).sigmoid()

    @lazy_property
    def _gamma(self) -> Gamma:
        # the Poisson rate's mixing distribution (not validated: total_count may be 0), as PyTorch's
        return Gamma(concentration=self.total_count, rate=(-self.logits).exp(), validate_args=False)

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """A Gamma–Poisson mixture drawn as PyTorch's: ``torch.poisson(self._gamma.sample(sample_shape))``
        (the same seeded stream)."""
        from .._breadth_g import poisson
        from ..autograd import no_grad

        with no_grad():
            rate = self._gamma.sample(sample_shape)
            return poisson(rate)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        r, logits = self.total_count, self.logits
        log_unnormalized = r * (-softplus(logits)) + value * (-softplus(-logits))
        # 0 · log p where both the count and total_count are 0
        zero = (r + value) == 0
        log_norm = (
            -lgamma(r + value)
            + lgamma(1 + value)
            + _rustdl.where(zero, _rustdl.zeros_like(r), lgamma(_rustdl.where(zero, _rustdl.ones_like(r), r)))
        )
        log_norm = _rustdl.where(zero, _rustdl.zeros_like(log_norm), log_norm)
        return log_unnormalized - log_norm


class Multinomial(Distribution):
    """Counts of ``total_count`` draws from ``Categorical(probs or logits)``: event shape
    ``(k,)``."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "probs": constraints.simplex,
        "logits": constraints.real_vector,
    }

    def __init__(
        self, total_count: int = 1, probs=None, logits=None, validate_args: bool | None = None
    ) -> None:
        if not isinstance(total_count, int):
            raise NotImplementedError("Multinomial: inhomogeneous total_count is not supported")
        if (probs is None) == (logits is None):
            raise ValueError("Multinomial: either `probs` or `logits` must be specified, but not both.")
        given = probs if probs is not None else logits
        if not isinstance(given, Tensor) or given.dim() < 1:
            raise ValueError("Multinomial: `probs`/`logits` must be a tensor of at least one dimension")
        if not given.is_floating_point():
            given = given.float()
        self.total_count = total_count
        # probs and logits are those of a Categorical over the categories, as PyTorch's (its
        # draws make the counts)
        self._categorical = Categorical(
            probs=given if probs is not None else None, logits=given if logits is not None else None
        )
        shape = tuple(given.shape)
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    @property
    def probs(self) -> Tensor:
        return self._categorical.probs

    @property
    def logits(self) -> Tensor:
        return self._categorical.logits

    @property
    def param_shape(self) -> tuple[int, ...]:
        """The shape of the probabilities (or logits) parameter."""
        return tuple(self.probs.shape)

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):  # type: ignore[override]
        return constraints.multinomial(self.total_count)

    @property
    def mean(self) -> Tensor:
        return self.probs * self.total_count

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """As PyTorch's: ``total_count`` draws of the categorical (``(n, *sample_shape, *batch_shape)``,
        the same seeded stream), counted per category."""
        from ..autograd import no_grad

        sample_shape = (sample_shape,) if isinstance(sample_shape, int) else tuple(sample_shape)
        with no_grad():
            draws = self._categorical.sample((self.total_count, *sample_shape))
            draws = draws.movedim(0, -1)  # (*sample_shape, *batch_shape, n)
            probs = self.probs
            counts = _rustdl.zeros(self._extended_shape(sample_shape), dtype=probs.dtype, device=probs.device)
            ones = _rustdl.ones(tuple(draws.shape), dtype=probs.dtype, device=probs.device)
            return counts.scatter_add(-1, draws, ones)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        # 0 · log 0 is 0 (a category of probability 0 that was never drawn)
        terms = _rustdl.where(value == 0, _rustdl.zeros_like(value * logits), value * logits)
        # log n! from the value's own total, as PyTorch
        return lgamma(value.sum(-1) + 1) - lgamma(value + 1).sum(-1) + terms.sum(-1)

    def entropy(self) -> Tensor:
        """``−log n! − n Σ p log p + Σ_i E[log x_i!]`` with ``x_i ~ Binomial(n, p_i)``, as PyTorch."""
        n = self.total_count
        p = self.probs
        plogp = _rustdl.where(p == 0, _rustdl.zeros_like(p), p * self.logits)
        ks = _rustdl.arange(n + 1, dtype=p.dtype, device=p.device)
        shape = (n + 1,) + (1,) * p.dim()
        ks = ks.reshape(*shape)
        log_comb = math.lgamma(n + 1) - lgamma(ks + 1) - lgamma(n - ks + 1)
        lp = p.clamp(min=finfo_tiny(p)).log()
        lq = (1 - p).clamp(min=finfo_tiny(p)).log()
        pmf = (log_comb + ks * lp + (n - ks) * lq).exp()
        expected = (pmf * lgamma(ks + 1)).sum(0)
        return -math.lgamma(n + 1) - n * plogp.sum(-1) + expected.sum(-1)


class Kumaraswamy(TransformedDistribution):
    """The Kumaraswamy distribution on ``(0, 1)`` with ``concentration1`` a and
    ``concentration0`` b: density ``a b x^(a-1) (1 - x^a)^(b-1)``. Built as PyTorch's:
    ``Uniform(0, 1)`` (``base_dist``) through ``PowerTransform(1/b)``,
    ``AffineTransform(1, −1)`` and ``PowerTransform(1/a)``."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args: bool | None = None) -> None:
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        base = Uniform(
            _rustdl.full_like(self.concentration0, 0),
            _rustdl.full_like(self.concentration0, 1),
            validate_args=validate_args,
        )
        transforms = [
            PowerTransform(exponent=self.concentration0.reciprocal()),
            AffineTransform(loc=1.0, scale=-1.0),
            PowerTransform(exponent=self.concentration1.reciprocal()),
        ]
        super().__init__(base, transforms, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance=None) -> Kumaraswamy:
        new = self._get_checked_instance(Kumaraswamy, _instance)
        batch = (batch_shape,) if isinstance(batch_shape, int) else tuple(batch_shape)
        new.concentration1 = self.concentration1.expand(*batch)
        new.concentration0 = self.concentration0.expand(*batch)
        return super().expand(batch, _instance=new)

    def _moment(self, n: int) -> Tensor:
        a, b = self.concentration1, self.concentration0
        t = 1 + n / a
        return b * (lgamma(t) + lgamma(b) - lgamma(t + b)).exp()

    @property
    def mean(self) -> Tensor:
        return self._moment(1)

    @property
    def variance(self) -> Tensor:
        return self._moment(2) - self.mean.pow(2)

    @property
    def mode(self) -> Tensor:
        """``((a − 1) / (a b − 1))^(1/a)`` where ``a, b ≥ 1`` (not both 1); NaN elsewhere."""
        a, b = self.concentration1, self.concentration0
        m = ((a - 1) / (a * b - 1)) ** a.reciprocal()
        return _outside_to(m, (a < 1) | (b < 1), math.nan)

    def entropy(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        harmonic = digamma(b + 1) + euler_constant
        return (1 - b.reciprocal()) + (1 - a.reciprocal()) * harmonic - a.log() - b.log()


class FisherSnedecor(Distribution):
    """The F distribution with ``df1`` and ``df2`` degrees of freedom."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "df1": constraints.positive,
        "df2": constraints.positive,
    }
    support = constraints.positive

    def __init__(self, df1, df2, validate_args: bool | None = None) -> None:
        self.df1, self.df2 = broadcast_all(df1, df2)
        shape = _scalar_shape(df1, df2)
        super().__init__(tuple(self.df1.shape) if shape is None else shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        d2 = self.df2
        return _outside_to(d2 / (d2 - 2), d2 <= 2, math.nan)

    @property
    def mode(self) -> Tensor:
        m = (self.df1 - 2) / self.df1
        return _outside_to(m * self.df2 / (self.df2 + 2), m <= 0, math.nan)

    @property
    def variance(self) -> Tensor:
        d1, d2 = self.df1, self.df2
        v = 2 * d2.square() * (d1 + d2 - 2) / (d1 * (d2 - 2).square() * (d2 - 4))
        return _outside_to(v, d2 <= 4, math.nan)

    has_rsample = True

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """``(X₁/df1) / (X₂/df2)`` with ``Xᵢ`` chi-squared draws (implicit Gamma gradients)."""
        shape = self._extended_shape(sample_shape)
        d1, d2 = self.df1.expand(*shape), self.df2.expand(*shape)
        x1 = standard_gamma(0.5 * d1) / (0.5 * d1)
        x2 = standard_gamma(0.5 * d2) / (0.5 * d2)
        return (x1 / x2).clamp(min=finfo_tiny(x1))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        h1, h2 = self.df1 * 0.5, self.df2 * 0.5
        ratio = self.df1 / self.df2
        t1 = lgamma(h1 + h2) - lgamma(h1) - lgamma(h2)
        t2 = h1 * ratio.log() + (h1 - 1) * value.log()
        t3 = (h1 + h2) * (ratio * value).log1p()
        return t1 + t2 - t3


class ContinuousBernoulli(ExponentialFamily):
    """The continuous Bernoulli distribution on ``[0, 1]`` (density ∝ ``p^x (1 − p)^(1 − x)``),
    give ``probs`` or ``logits``; near ``p = 1/2`` (inside ``lims``) Taylor expansions keep the
    normaliser and moments stable, as PyTorch's."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "probs": constraints.unit_interval,
        "logits": constraints.real,
    }
    support = constraints.unit_interval
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(
        self, probs=None, logits=None, lims=(0.499, 0.501), validate_args: bool | None = None
    ) -> None:
        if (probs is None) == (logits is None):
            raise ValueError(
                "ContinuousBernoulli: either `probs` or `logits` must be specified, but not both."
            )
        given = probs if probs is not None else logits
        (p,) = broadcast_all(given)
        if probs is not None:
            eps = finfo_eps(p)
            self.probs = p.clamp(eps, 1 - eps)
            self.logits = self.probs.log() - (-self.probs).log1p()
        else:
            self.logits = p
            self.probs = p.sigmoid()
        self._lims = lims
        shape = _scalar_shape(given)
        super().__init__(tuple(self.probs.shape) if shape is None else shape, validate_args=validate_args)

    @property
    def param_shape(self) -> tuple[int, ...]:
        """The shape of the probabilities (or logits) parameter."""
        return tuple(self.probs.shape)

    def _outside(self) -> Tensor:
        return (self.probs <= self._lims[0]) | (self.probs >= self._lims[1])

    def _cut(self) -> Tensor:
        return _rustdl.where(
            self._outside(), self.probs, _rustdl.full_like(self.probs.detach(), self._lims[0])
        )

    def _log_norm(self) -> Tensor:
        cut = self._cut()
        below = _rustdl.where(cut <= 0.5, cut, _rustdl.zeros_like(cut))
        above = _rustdl.where(cut >= 0.5, cut, _rustdl.ones_like(cut))
        exact = ((-cut).log1p() - cut.log()).abs().log() - _rustdl.where(
            cut <= 0.5, (-2.0 * below).log1p(), (2.0 * above - 1.0).log()
        )
        x = (self.probs - 0.5).square()
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return _rustdl.where(self._outside(), exact, taylor)

    @property
    def mean(self) -> Tensor:
        cut = self._cut()
        exact = cut / (2.0 * cut - 1.0) + 1.0 / ((-cut).log1p() - cut.log())
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x.square()) * x
        return _rustdl.where(self._outside(), exact, taylor)

    @property
    def variance(self) -> Tensor:
        cut = self._cut()
        exact = cut * (cut - 1.0) / (1.0 - 2.0 * cut).square() + 1.0 / ((-cut).log1p() - cut.log()).square()
        x = (self.probs - 0.5).square()
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return _rustdl.where(self._outside(), exact, taylor)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        u = _uniform(self._extended_shape(sample_shape), self.probs)
        return self.icdf(u)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        # broadcast first, as PyTorch: a 0-d float64 value of a batched float32 CB gives float64
        logits, value = broadcast_all(self.logits, value)
        return value * (-softplus(-logits)) + (1 - value) * (-softplus(logits)) + self._log_norm()

    def cdf(self, value: Tensor) -> Tensor:
        cut = self._cut()
        exact = (cut**value * (1.0 - cut) ** (1.0 - value) + cut - 1.0) / (2.0 * cut - 1.0)
        inner = _rustdl.where(self._outside(), exact, value)
        zeros, ones = _rustdl.zeros_like(inner), _rustdl.ones_like(inner)
        return _rustdl.where(value <= 0.0, zeros, _rustdl.where(value >= 1.0, ones, inner))

    def icdf(self, value: Tensor) -> Tensor:
        cut = self._cut()
        exact = ((-cut + value * (2.0 * cut - 1.0)).log1p() - (-cut).log1p()) / (cut.log() - (-cut).log1p())
        return _rustdl.where(self._outside(), exact, value)

    def entropy(self) -> Tensor:
        log0, log1 = (-self.probs).log1p(), self.probs.log()
        return self.mean * (log0 - log1) - self._log_norm() - log0

    @property
    def _natural_params(self) -> tuple[Tensor]:
        return (self.logits,)

    def _log_normalizer(self, x: Tensor) -> Tensor:
        """``log((e^x − 1) / x)``; a Taylor series where ``x`` is within ``lims − ½`` of 0 (as
        PyTorch, which compares the natural parameter with ``lims − ½``)."""
        outside = (x <= self._lims[0] - 0.5) | (x > self._lims[1] - 0.5)
        cut = _rustdl.where(outside, x, _rustdl.full_like(x.detach(), self._lims[0] - 0.5))
        exact = cut.expm1().abs().log() - cut.abs().log()
        taylor = 0.5 * x + x.square() / 24.0 - x.square().square() / 2880.0
        return _rustdl.where(outside, exact, taylor)


class VonMises(Distribution):
    """The von Mises (circular normal) distribution with ``loc`` μ and ``concentration`` κ:
    density ``exp(κ cos(x − μ)) / (2π I₀(κ))``; draws in ``[−π, π)`` through numpy (no
    ``rsample``)."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "loc": constraints.real,
        "concentration": constraints.positive,
    }
    support = constraints.real

    def __init__(self, loc, concentration, validate_args: bool | None = None) -> None:
        self.loc, self.concentration = broadcast_all(loc, concentration)
        shape = _scalar_shape(loc, concentration)
        super().__init__(tuple(self.loc.shape) if shape is None else shape, validate_args=validate_args)

    @staticmethod
    def _log_i(order: int, k: Tensor) -> Tensor:
        """``log I_order(κ)`` through the scaled Bessel functions (no overflow for large κ)."""
        from .. import special

        scaled = special.i0e(k) if order == 0 else special.i1e(k)
        return scaled.log() + k

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        """The circular variance ``1 − I₁(κ) / I₀(κ)``."""
        k = self.concentration
        return 1 - (self._log_i(1, k) - self._log_i(0, k)).exp()

    @lazy_property
    def _loc(self) -> Tensor:
        return self.loc.to(dtype=_rustdl.float64)

    @lazy_property
    def _concentration(self) -> Tensor:
        return self.concentration.to(dtype=_rustdl.float64)

    @lazy_property
    def _proposal_r(self) -> Tensor:
        """Best & Fisher's (1979) wrapped-Cauchy envelope parameter ``r = (1 + ρ²) / (2ρ)`` with
        ``ρ = (τ − √(2τ)) / (2κ)``, ``τ = 1 + √(1 + 4κ²)``; ``1/κ + κ`` (its expansion) for tiny κ."""
        k = self._concentration
        tau = 1 + (1 + 4 * k.square()).sqrt()
        rho = (tau - (2 * tau).sqrt()) / (2 * k)
        return _rustdl.where(k < 1e-5, k.reciprocal() + k, (1 + rho.square()) / (2 * rho))

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """Best & Fisher's rejection sampler in float64, as PyTorch's (the same seeded stream):
        each round draws ``rand((3, *shape))`` for every element, and every element accepted in a
        round takes that round's value, until all have been accepted once."""
        from ..autograd import no_grad

        with no_grad():
            shape = self._extended_shape(sample_shape)
            loc, k, r = self._loc, self._concentration, self._proposal_r
            opts = {"dtype": _rustdl.float64, "device": loc.device}
            x = _rustdl.zeros(shape, **opts)
            done = _rustdl.zeros(shape, dtype=_rustdl.bool, device=loc.device)
            while not bool(done.all().item()):
                u1, u2, u3 = _rustdl.rand((3, *shape), **opts).unbind(0)
                z = (math.pi * u1).cos()
                f = (1 + r * z) / (r + z)
                c = k * (r - f)
                accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
                if bool(accept.any().item()):
                    x = _rustdl.where(accept, (u3 - 0.5).sign() * f.acos(), x)
                    done = done | accept
            return ((x + math.pi + loc) % (2 * math.pi) - math.pi).to(dtype=self.loc.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        k = self.concentration
        return k * (value - self.loc).cos() - math.log(2 * math.pi) - self._log_i(0, k)


class LogisticNormal(TransformedDistribution):
    """``StickBreakingTransform(X)`` for ``X ~ Normal(loc, scale)`` over the last dim: a
    distribution on the ``K``-simplex from ``K − 1`` normal coordinates, as PyTorch's (the
    ``base_dist`` is that normal made ``Independent`` over its last dim)."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc, scale, validate_args: bool | None = None) -> None:
        base: Distribution = Normal(loc, scale, validate_args=validate_args)
        if not base.batch_shape:
            base = base.expand((1,))
        super().__init__(base, StickBreakingTransform(), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance=None) -> LogisticNormal:
        new = self._get_checked_instance(LogisticNormal, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def loc(self) -> Tensor:
        return self.base_dist.base_dist.loc

    @property
    def scale(self) -> Tensor:
        return self.base_dist.base_dist.scale
