"""``LowRankMultivariateNormal``, ``OneHotCategoricalStraightThrough``, ``LogitRelaxedBernoulli``,
``RelaxedBernoulli`` and ``GeneralizedPareto`` with PyTorch's parameterisations, plus the KL
divergences PyTorch registers for them and the Bregman-divergence KL between two members of one
:class:`ExponentialFamily`.

Everything is composed from rustdl tensor ops, so ``log_prob``, ``entropy``, ``cdf``/``icdf`` and
``rsample`` are differentiable in the parameters. Each class has ``expand(batch_shape)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Number
from typing import Any, ClassVar

import numpy as np

from .. import _rustdl
from .. import autograd as _autograd
from .. import linalg as _linalg
from .._rustdl import Tensor
from . import constraints
from .categorical import Categorical
from .distribution import Distribution
from .exp_family import ExponentialFamily, _bregman_inputs
from .heavy_tails import OneHotCategorical, TransformedDistribution
from .kl import register_kl
from .more import MultivariateNormal
from .transforms import SigmoidTransform
from .utils import broadcast_all, clamp_probs, lazy_property, logits_to_probs, probs_to_logits, softplus

__all__ = [
    "ExponentialFamily",
    "GeneralizedPareto",
    "LogitRelaxedBernoulli",
    "LowRankMultivariateNormal",
    "OneHotCategoricalStraightThrough",
    "RelaxedBernoulli",
]

_LOG_2PI = math.log(2 * math.pi)


# ---------------------------------------------------------------- helpers


def _new_instance(self: Distribution, cls: type, _instance: Any) -> Any:
    """A bare instance for ``expand`` (PyTorch's rule: a subclass with its own ``__init__`` must
    write its own ``expand``)."""
    if _instance is None and type(self).__init__ is not cls.__init__:
        raise NotImplementedError(
            f"Subclass {type(self).__name__} of {cls.__name__} that defines a custom __init__ method "
            "must also define a custom .expand() method."
        )
    return type(self).__new__(type(self)) if _instance is None else _instance


def _init_expanded(new: Distribution, old: Distribution, batch_shape, event_shape=()) -> None:
    Distribution.__init__(new, batch_shape, event_shape, validate_args=False)
    new._validate_args = old._validate_args


def _as_batch_shape(batch_shape: Any) -> tuple[int, ...]:
    return (int(batch_shape),) if isinstance(batch_shape, int) else tuple(int(s) for s in batch_shape)


def _mv(mat: Tensor, vec: Tensor) -> Tensor:
    """Batched matrix–vector product (batch dims broadcast)."""
    return (mat @ vec.unsqueeze(-1)).squeeze(-1)


def _shape(t: Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def _sq_mahalanobis(tril: Tensor, x: Tensor) -> Tensor:
    """``xᵀ (L Lᵀ)⁻¹ x`` for a lower-triangular ``L`` (``(*, n, n)``) and ``x`` (``(*, n)``), the
    batch dims of both broadcast together."""
    n = x.shape[-1]
    batch = tuple(np.broadcast_shapes(_shape(tril)[:-2], _shape(x)[:-1]))
    z = _linalg.solve_triangular(tril.expand(*batch, n, n), x.expand(*batch, n).unsqueeze(-1), upper=False)
    return z.square().sum((-2, -1))


def _trace_xxt(x: Tensor) -> Tensor:
    """``tr(X Xᵀ)`` over the last two dims."""
    return x.square().sum((-2, -1))


def _capacitance_tril(W: Tensor, D: Tensor) -> Tensor:
    """Cholesky factor of the capacitance matrix ``I + Wᵀ D⁻¹ W`` (``(*, m, m)``)."""
    m = W.shape[-1]
    K = (W.mT / D.unsqueeze(-2)) @ W
    return _linalg.cholesky(K + _rustdl.eye(m, dtype=K.dtype, device=K.device))


def _lowrank_logdet(W: Tensor, D: Tensor, cap_tril: Tensor) -> Tensor:
    """``log det(W Wᵀ + D) = log det C + log det D`` (matrix determinant lemma)."""
    return 2 * cap_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1) + D.log().sum(-1)


def _lowrank_mahalanobis(W: Tensor, D: Tensor, x: Tensor, cap_tril: Tensor) -> Tensor:
    """``xᵀ (W Wᵀ + D)⁻¹ x`` by the Woodbury identity
    ``(W Wᵀ + D)⁻¹ = D⁻¹ − D⁻¹ W C⁻¹ Wᵀ D⁻¹``."""
    Wt_Dinv = W.mT / D.unsqueeze(-2)
    return (x.square() / D).sum(-1) - _sq_mahalanobis(cap_tril, _mv(Wt_Dinv, x))


# ---------------------------------------------------------------- LowRankMultivariateNormal


class LowRankMultivariateNormal(Distribution):
    """The multivariate normal whose covariance is ``cov_factor @ cov_factorᵀ + diag(cov_diag)``.

    Determinants and inverses go through the ``m × m`` capacitance matrix
    ``I + cov_factorᵀ diag(cov_diag)⁻¹ cov_factor`` (the matrix determinant lemma and the Woodbury
    identity), so ``log_prob`` and ``entropy`` cost ``O(n m²)`` instead of ``O(n³)``.

    Args:
        loc: the mean, ``(*batch_shape, n)``.
        cov_factor: the low-rank factor ``W``, ``(*batch_shape, n, m)``.
        cov_diag: the positive diagonal ``D``, ``(*batch_shape, n)``.
        validate_args: check the parameters and the values given to :meth:`log_prob`.

    Raises:
        ValueError: a parameter has too few dims, the shapes do not match ``n``, the batch shapes
            do not broadcast, or (when validating) ``cov_diag`` is not positive.

    Example:
        >>> m = LowRankMultivariateNormal(rustdl.zeros(2), rustdl.tensor([[1.0], [0.0]]), rustdl.ones(2))
        >>> m.rsample((5,)).shape
        (5, 2)
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "loc": constraints.real_vector,
        "cov_factor": constraints.independent(constraints.real, 2),
        "cov_diag": constraints.independent(constraints.positive, 1),
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(
        self, loc: Tensor, cov_factor: Tensor, cov_diag: Tensor, validate_args: bool | None = None
    ) -> None:
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        n = loc.shape[-1]
        if cov_factor.dim() < 2:
            raise ValueError(
                "cov_factor must be at least two-dimensional, with optional leading batch dimensions"
            )
        if cov_factor.shape[-2] != n:
            raise ValueError(f"cov_factor must be a batch of matrices with shape {n} x m")
        if cov_diag.dim() < 1 or cov_diag.shape[-1] != n:
            raise ValueError(f"cov_diag must be a batch of vectors with shape {(n,)}")
        m = cov_factor.shape[-1]
        try:
            batch = tuple(
                np.broadcast_shapes(_shape(loc)[:-1], _shape(cov_factor)[:-2], _shape(cov_diag)[:-1])
            )
        except ValueError:
            raise ValueError(
                f"Incompatible batch shapes: loc {_shape(loc)}, cov_factor {_shape(cov_factor)}, "
                f"cov_diag {_shape(cov_diag)}"
            ) from None
        self.loc = loc.expand(*batch, n)
        self.cov_factor = cov_factor.expand(*batch, n, m)
        self.cov_diag = cov_diag.expand(*batch, n)
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        self._capacitance_tril = _capacitance_tril(cov_factor, cov_diag)
        super().__init__(batch, (n,), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> LowRankMultivariateNormal:
        """This distribution with its parameters expanded to ``batch_shape`` (no copy)."""
        new = _new_instance(self, LowRankMultivariateNormal, _instance)
        batch = _as_batch_shape(batch_shape)
        n, m = self.cov_factor.shape[-2:]
        new.loc = self.loc.expand(*batch, n)
        new.cov_diag = self.cov_diag.expand(*batch, n)
        new.cov_factor = self.cov_factor.expand(*batch, n, m)
        new._unbroadcasted_cov_factor = self._unbroadcasted_cov_factor
        new._unbroadcasted_cov_diag = self._unbroadcasted_cov_diag
        new._capacitance_tril = self._capacitance_tril
        _init_expanded(new, self, batch, self.event_shape)
        return new

    def _full(self, t: Tensor, *event: int) -> Tensor:
        return t.expand(*self._batch_shape, *event)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @lazy_property
    def variance(self) -> Tensor:
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        return self._full(W.square().sum(-1) + D, *self._event_shape)

    @lazy_property
    def scale_tril(self) -> Tensor:
        """The Cholesky factor of the covariance, as ``D^½ · chol(I + D^-½ W Wᵀ D^-½)`` (a
        well-conditioned matrix: its eigenvalues are at least 1)."""
        n = self._event_shape[0]
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        d_sqrt = D.sqrt().unsqueeze(-1)
        scaled = W / d_sqrt
        K = scaled @ scaled.mT + _rustdl.eye(n, dtype=W.dtype, device=W.device)
        return self._full(d_sqrt * _linalg.cholesky(K), n, n)

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        n = self._event_shape[0]
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        return self._full(W @ W.mT + D.diag_embed(), n, n)

    @lazy_property
    def precision_matrix(self) -> Tensor:
        """``D⁻¹ − Aᵀ A`` with ``A = C⁻¹ᐟ² Wᵀ D⁻¹`` (the Woodbury identity)."""
        n = self._event_shape[0]
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        Wt_Dinv = W.mT / D.unsqueeze(-2)
        batch = tuple(np.broadcast_shapes(_shape(self._capacitance_tril)[:-2], _shape(Wt_Dinv)[:-2]))
        m = W.shape[-1]
        A = _linalg.solve_triangular(
            self._capacitance_tril.expand(*batch, m, m), Wt_Dinv.expand(*batch, m, n), upper=False
        )
        return self._full(D.reciprocal().diag_embed() - A.mT @ A, n, n)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """``loc + W ε_W + √D ⊙ ε_D`` with ``ε_W ~ N(0, I_m)`` and ``ε_D ~ N(0, I_n)`` (drawn in
        that order): differentiable in every parameter."""
        shape = self._extended_shape(sample_shape)
        m = self.cov_factor.shape[-1]
        opts = {"dtype": self.loc.dtype, "device": self.loc.device}
        eps_w = _rustdl.randn((*shape[:-1], m), **opts)
        eps_d = _rustdl.randn(shape, **opts)
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        return self.loc + _mv(W, eps_w) + D.sqrt() * eps_d

    def _log_det(self) -> Tensor:
        return _lowrank_logdet(
            self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag, self._capacitance_tril
        )

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        M = _lowrank_mahalanobis(
            self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag, diff, self._capacitance_tril
        )
        return -0.5 * (self._event_shape[0] * _LOG_2PI + self._log_det() + M)

    def entropy(self) -> Tensor:
        h = 0.5 * (self._event_shape[0] * (1.0 + _LOG_2PI) + self._log_det())
        return h if not self._batch_shape else h.expand(*self._batch_shape)


# ---------------------------------------------------------------- OneHotCategoricalStraightThrough


def _expand_categorical(cat: Categorical, batch: tuple[int, ...]) -> Categorical:
    new = Categorical.__new__(Categorical)
    k = cat._num_events
    if "probs" in cat.__dict__:
        new.probs = cat.probs.expand(*batch, k)
        new._param = new.probs
    if "logits" in cat.__dict__:
        new.logits = cat.logits.expand(*batch, k)
        new._param = new.logits
    new._num_events = k
    _init_expanded(new, cat, batch)
    return new


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """:class:`OneHotCategorical` with a straight-through ``rsample`` (Bengio et al., 2013): the
    value is a one-hot draw, the gradient that of ``probs`` (``sample + probs − probs.detach()``).

    Example:
        >>> d = OneHotCategoricalStraightThrough(logits=logits)
        >>> (d.rsample() * weights).sum().backward()  # gradients reach logits
    """

    has_rsample = True

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> OneHotCategoricalStraightThrough:
        """This distribution with its parameters expanded to ``batch_shape`` (no copy)."""
        new = _new_instance(self, OneHotCategoricalStraightThrough, _instance)
        batch = _as_batch_shape(batch_shape)
        new._categorical = _expand_categorical(self._categorical, batch)
        _init_expanded(new, self, batch, self.event_shape)
        return new

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        samples = self.sample(sample_shape)
        probs = self._categorical.probs
        return samples + (probs - probs.detach())


# ---------------------------------------------------------------- LogitRelaxedBernoulli / RelaxedBernoulli


def _log_of(t: Any) -> Any:
    return math.log(t) if isinstance(t, Number) else t.log()


class LogitRelaxedBernoulli(Distribution):
    """The logit of a :class:`RelaxedBernoulli` draw (the binary concrete distribution in log-odds
    space): ``(logit(u) + logits) / temperature`` for ``u ~ U(0, 1)``.

    Args:
        temperature: the relaxation temperature (a tensor, or a number).
        probs: the probability of ``1`` (give exactly one of ``probs`` and ``logits``).
        logits: the log-odds of ``1``.
        validate_args: check the parameter and the values given to :meth:`log_prob`.

    Note:
        As PyTorch's, ``has_rsample`` is ``False`` although :meth:`rsample` is reparameterised.
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "probs": constraints.unit_interval,
        "logits": constraints.real,
    }
    support = constraints.real

    def __init__(self, temperature, probs=None, logits=None, validate_args: bool | None = None) -> None:
        self.temperature = temperature
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
        super().__init__(() if is_scalar else _shape(param), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> LogitRelaxedBernoulli:
        """This distribution with its parameters expanded to ``batch_shape`` (no copy)."""
        new = _new_instance(self, LogitRelaxedBernoulli, _instance)
        batch = _as_batch_shape(batch_shape)
        new.temperature = self.temperature
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(*batch)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(*batch)
            new._param = new.logits
        _init_expanded(new, self, batch)
        return new

    @lazy_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self) -> tuple[int, ...]:
        return _shape(self._param)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        probs = clamp_probs(self.probs.expand(*shape))
        u = clamp_probs(_rustdl.rand(shape, dtype=probs.dtype, device=probs.device))
        return (u.log() - (-u).log1p() + probs.log() - (-probs).log1p()) / self.temperature

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        diff = logits - value * self.temperature
        # log τ + d − 2 log(1 + e^d), with a softplus that stays finite for large d
        return _log_of(self.temperature) + diff - 2 * softplus(diff)


class RelaxedBernoulli(TransformedDistribution):
    """The binary concrete (relaxed Bernoulli) distribution on ``(0, 1)``:
    ``sigmoid((logit(u) + logits) / temperature)``, reparameterised in ``probs``/``logits`` and
    ``temperature``.

    Args:
        temperature: the relaxation temperature (a tensor, or a number).
        probs: the probability of ``1`` (give exactly one of ``probs`` and ``logits``).
        logits: the log-odds of ``1``.
        validate_args: check the values given to :meth:`log_prob` (the parameters are always
            checked by the underlying :class:`LogitRelaxedBernoulli`, as PyTorch's).

    Example:
        >>> m = RelaxedBernoulli(rustdl.tensor([2.2]), rustdl.tensor([0.1, 0.2, 0.3, 0.99]))
        >>> m.rsample().shape
        (4,)
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "probs": constraints.unit_interval,
        "logits": constraints.real,
    }
    support = constraints.unit_interval  # type: ignore[assignment]
    has_rsample = True  # type: ignore[assignment]

    def __init__(self, temperature, probs=None, logits=None, validate_args: bool | None = None) -> None:
        base = LogitRelaxedBernoulli(temperature, probs, logits)
        super().__init__(base, SigmoidTransform(), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> RelaxedBernoulli:
        """This distribution with its parameters expanded to ``batch_shape`` (no copy)."""
        new = _new_instance(self, RelaxedBernoulli, _instance)
        return super().expand(_as_batch_shape(batch_shape), _instance=new)

    @property
    def temperature(self) -> Any:
        return self.base_dist.temperature

    @property
    def logits(self) -> Tensor:
        return self.base_dist.logits

    @property
    def probs(self) -> Tensor:
        return self.base_dist.probs


# ---------------------------------------------------------------- GeneralizedPareto


class GeneralizedPareto(Distribution):
    """The generalized Pareto distribution with ``loc`` μ, ``scale`` σ and ``concentration`` ξ:
    survival function ``(1 + ξ z)^(−1/ξ)`` (``e^(−z)`` at ξ = 0) for ``z = (x − μ) / σ``, on
    ``[μ, ∞)`` (``[μ, μ − σ/ξ]`` for ξ < 0). ξ = 0 is the exponential, ξ = −1 the uniform
    distribution. A ``|ξ| ≤ 1e-8`` counts as 0 (PyTorch's ``isclose``).

    ``rsample`` inverts the CDF at a uniform draw: differentiable in all three parameters.

    Example:
        >>> m = GeneralizedPareto(rustdl.tensor([0.1]), rustdl.tensor([2.0]), rustdl.tensor([0.4]))
        >>> m.sample().shape
        (1,)
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "concentration": constraints.real,
    }
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args: bool | None = None) -> None:
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        scalar = all(isinstance(p, Number) for p in (loc, scale, concentration))
        super().__init__(() if scalar else _shape(self.loc), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> GeneralizedPareto:
        """This distribution with its parameters expanded to ``batch_shape`` (no copy)."""
        new = _new_instance(self, GeneralizedPareto, _instance)
        batch = _as_batch_shape(batch_shape)
        new.loc = self.loc.expand(*batch)
        new.scale = self.scale.expand(*batch)
        new.concentration = self.concentration.expand(*batch)
        _init_expanded(new, self, batch)
        return new

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:
        c = self.concentration
        upper = _rustdl.where(
            c < 0, self.loc - self.scale / c, _rustdl.full_like(self.loc.detach(), math.inf)
        )
        return constraints.interval(self.loc, upper)

    def _zero_and_safe(self) -> tuple[Tensor, Tensor]:
        """Where ξ counts as 0, and ξ with those entries replaced by 1 (so no branch divides by 0)."""
        c = self.concentration
        zero = c.abs() <= 1e-8
        return zero, _rustdl.where(zero, _rustdl.ones_like(c), c)

    def _z(self, x: Tensor) -> Tensor:
        return (x - self.loc) / self.scale

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        u = _rustdl.rand(self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        return self.icdf(u)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        zero, safe = self._zero_and_safe()
        power = safe.reciprocal() + 1  # 1/ξ + 1: zero for ξ = −1, the uniform case
        nonzero = _rustdl.where(power == 0, power * _rustdl.ones_like(z), power * (safe * z).log1p())
        return -self.scale.log() - _rustdl.where(zero, z, nonzero)

    def log_survival_function(self, value: Tensor) -> Tensor:
        """``log P(X > value)``."""
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        zero, safe = self._zero_and_safe()
        return _rustdl.where(zero, -z, -(safe * z).log1p() / safe)

    def log_cdf(self, value: Tensor) -> Tensor:
        """``log P(X ≤ value)``."""
        return (-self.log_survival_function(value).exp()).log1p()

    def cdf(self, value: Tensor) -> Tensor:
        return self.log_cdf(value).exp()

    def icdf(self, value: Tensor) -> Tensor:
        zero, safe = self._zero_and_safe()
        log_q = (-value).log1p()
        at_zero = self.loc - self.scale * log_q
        elsewhere = self.loc + self.scale / safe * (-safe * log_q).expm1()
        return _rustdl.where(zero, at_zero, elsewhere)

    @property
    def mean(self) -> Tensor:
        c = self.concentration
        ok = c < 1
        safe = _rustdl.where(ok, c, _rustdl.full_like(c.detach(), 0.5))
        result = self.loc + self.scale / (1 - safe)
        return _rustdl.where(ok, result, _rustdl.full_like(result.detach(), math.nan))

    @property
    def variance(self) -> Tensor:
        c = self.concentration
        ok = c < 0.5
        safe = _rustdl.where(ok, c, _rustdl.full_like(c.detach(), 0.25))
        result = self.scale.square() / ((1 - safe).square() * (1 - 2 * safe))
        return _rustdl.where(ok, result, _rustdl.full_like(result.detach(), math.nan))

    @property
    def mode(self) -> Tensor:
        return self.loc

    def entropy(self) -> Tensor:
        h = self.scale.log() + self.concentration + 1
        return h.expand(*self._batch_shape) if self._batch_shape else h


# ---------------------------------------------------------------- KL divergences


def _check_same_event(p: Distribution, q: Distribution, what: str) -> None:
    if p.event_shape != q.event_shape:
        raise ValueError(f"KL-divergence between two {what} with different event shapes cannot be computed")


def _woodbury_a(q: LowRankMultivariateNormal) -> Tensor:
    """``A = C_q⁻¹ᐟ² W_qᵀ D_q⁻¹``, so that ``Σ_q⁻¹ = D_q⁻¹ − Aᵀ A``."""
    W, D = q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag
    Wt_Dinv = W.mT / D.unsqueeze(-2)
    C = q._capacitance_tril
    batch = tuple(np.broadcast_shapes(_shape(C)[:-2], _shape(Wt_Dinv)[:-2]))
    m, n = Wt_Dinv.shape[-2:]
    return _linalg.solve_triangular(C.expand(*batch, m, m), Wt_Dinv.expand(*batch, m, n), upper=False)


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrank_lowrank(p: LowRankMultivariateNormal, q: LowRankMultivariateNormal) -> Tensor:
    # 0.5 (log|Σq| − log|Σp| + tr(Σq⁻¹ Σp) + (μq − μp)ᵀ Σq⁻¹ (μq − μp) − n)
    _check_same_event(p, q, "Low Rank Multivariate Normals")
    pW, pD = p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag
    qD = q._unbroadcasted_cov_diag
    logdets = q._log_det() - p._log_det()
    maha = _lowrank_mahalanobis(q._unbroadcasted_cov_factor, qD, q.loc - p.loc, q._capacitance_tril)
    A = _woodbury_a(q)
    # tr((Dq⁻¹ − AᵀA)(Dp + Wp Wpᵀ)), term by term
    trace = (
        (pD / qD).sum(-1)
        + _trace_xxt(pW * qD.rsqrt().unsqueeze(-1))
        - _trace_xxt(A * pD.sqrt().unsqueeze(-2))
        - _trace_xxt(A @ pW)
    )
    return 0.5 * (logdets + trace + maha - p.event_shape[0])


@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_mvn_lowrank(p: MultivariateNormal, q: LowRankMultivariateNormal) -> Tensor:
    _check_same_event(p, q, "(Low Rank) Multivariate Normals")
    Lp = p.scale_tril
    qD = q._unbroadcasted_cov_diag
    logdets = q._log_det() - 2 * Lp.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    maha = _lowrank_mahalanobis(q._unbroadcasted_cov_factor, qD, q.loc - p.loc, q._capacitance_tril)
    A = _woodbury_a(q)
    # tr((Dq⁻¹ − AᵀA) Lp Lpᵀ)
    trace = _trace_xxt(Lp * qD.rsqrt().unsqueeze(-1)) - _trace_xxt(A @ Lp)
    return 0.5 * (logdets + trace + maha - p.event_shape[0])


@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrank_mvn(p: LowRankMultivariateNormal, q: MultivariateNormal) -> Tensor:
    _check_same_event(p, q, "(Low Rank) Multivariate Normals")
    Lq = q.scale_tril
    n = p.event_shape[0]
    logdets = 2 * Lq.diagonal(dim1=-2, dim2=-1).log().sum(-1) - p._log_det()
    maha = _sq_mahalanobis(Lq, q.loc - p.loc)
    pW, pD = p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag
    batch = tuple(np.broadcast_shapes(_shape(Lq)[:-2], _shape(pW)[:-2], _shape(pD)[:-1]))
    Lq_b = Lq.expand(*batch, n, n)
    m = pW.shape[-1]
    # tr(Σq⁻¹ (Wp Wpᵀ + Dp)) = ‖Lq⁻¹ Wp‖² + ‖Lq⁻¹ Dp^½‖²
    trace = _trace_xxt(_linalg.solve_triangular(Lq_b, pW.expand(*batch, n, m), upper=False)) + _trace_xxt(
        _linalg.solve_triangular(Lq_b, pD.sqrt().diag_embed().expand(*batch, n, n), upper=False)
    )
    return 0.5 * (logdets + trace + maha - n)


def _sum_rightmost(t: Tensor, n: int) -> Tensor:
    for _ in range(n):
        t = t.sum(-1)
    return t


@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p: ExponentialFamily, q: ExponentialFamily) -> Tensor:
    """The Bregman divergence ``F(θq) − F(θp) − ⟨θq − θp, ∇F(θp)⟩`` of the log normaliser (only
    between two distributions of the same family, as PyTorch)."""
    if type(p) is not type(q):
        raise NotImplementedError(
            "The cross KL-divergence between different exponential families cannot be computed using "
            "Bregman divergences"
        )
    with _autograd.enable_grad():
        p_params = _bregman_inputs(tuple(p._natural_params))
        q_params = tuple(q._natural_params)
        log_norm = p._log_normalizer(*p_params)
        grads = _autograd.grad(log_norm.sum(), p_params, create_graph=True)
        result = q._log_normalizer(*q_params) - log_norm
        for pt, qt, g in zip(p_params, q_params, grads):
            result = result - _sum_rightmost((qt - pt) * g, len(q.event_shape))
    return result
