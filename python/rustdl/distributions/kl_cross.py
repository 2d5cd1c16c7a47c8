"""KL divergences between distributions of different families (and the few same-family pairs the
exponential-family fallback does not reach in closed form), for the pairs PyTorch registers.

Every pair is ``KL(p ‖ q) = −H(p) − E_p[log q(X)]``: the entropy of ``p`` and the cross entropy
of ``q`` under ``p``. The cross entropy needs a few expectations under ``p`` — ``E[X]``,
``E[X²]``, ``E[log X]``, ``E[log(1 − X)]``, ``E[e^(tX)]``, ``E|X − c|`` — which each family below
states in closed form. Where ``p`` puts mass outside the support of ``q`` the divergence is
infinite (per batch element when the supports are given by parameters, as for ``Uniform``).
"""

from __future__ import annotations

import math

import numpy as np

from .. import _rustdl
from .._rustdl import Tensor
from .bernoulli import Bernoulli
from .extra import ContinuousBernoulli, Pareto
from .gamma_family import Beta, Binomial, Gamma, Poisson, digamma, lgamma
from .heavy_tails import Gumbel
from .kl import register_kl
from .more import Exponential, Laplace
from .normal import Normal
from .uniform import Uniform

_INF = float("inf")
_EULER = 0.57721566490153286061
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _xlogx(x: Tensor) -> Tensor:
    """``x log x`` with ``0 log 0 = 0``."""
    return _rustdl.where(x == 0, _rustdl.zeros_like(x), x * x.log())


# ---------------------------------------------------------------- expectations under p
def _support(p) -> tuple[Tensor | float, Tensor | float]:
    """The closed interval ``[lo, hi]`` holding all of ``p``'s mass."""
    if isinstance(p, Uniform):
        return p.low, p.high
    if isinstance(p, (Beta, ContinuousBernoulli, Bernoulli)):
        return 0.0, 1.0
    if isinstance(p, Pareto):
        return p.scale, _INF
    if isinstance(p, (Exponential, Gamma, Poisson)):
        return 0.0, _INF
    return -_INF, _INF


def _first_moment(p) -> Tensor:
    if isinstance(p, Pareto):
        # infinite for α ≤ 1
        return _rustdl.where(p.alpha > 1, p.alpha * p.scale / (p.alpha - 1).clamp(min=1e-30), _INF)
    return p.mean


def _second_moment(p) -> Tensor:
    if isinstance(p, Pareto):
        # E[X²] = α x_m² / (α − 2), infinite for α ≤ 2
        return _rustdl.where(p.alpha > 2, p.alpha * p.scale.square() / (p.alpha - 2).clamp(min=1e-30), _INF)
    return p.variance + p.mean.square()


def _mean_log(p) -> Tensor:
    """``E[log X]`` for a distribution on the positive half-line or the unit interval."""
    if isinstance(p, Beta):
        return digamma(p.concentration1) - digamma(p.concentration1 + p.concentration0)
    if isinstance(p, Gamma):
        return digamma(p.concentration) - p.rate.log()
    if isinstance(p, Exponential):
        return -p.rate.log() - _EULER
    if isinstance(p, Pareto):
        return p.scale.log() + 1 / p.alpha
    if isinstance(p, Uniform):
        # (h log h − l log l) / (h − l) − 1
        return (_xlogx(p.high) - _xlogx(p.low)) / (p.high - p.low) - 1
    raise NotImplementedError(f"kl_divergence: E[log X] of {type(p).__name__}")


def _mean_log1m(p) -> Tensor:
    """``E[log(1 − X)]`` for a distribution on the unit interval."""
    if isinstance(p, Beta):
        return digamma(p.concentration0) - digamma(p.concentration1 + p.concentration0)
    if isinstance(p, Uniform):
        lo, hi = 1 - p.high, 1 - p.low  # X ~ U(l, h)  ⇔  1 − X ~ U(1 − h, 1 − l)
        return (_xlogx(hi) - _xlogx(lo)) / (hi - lo) - 1
    raise NotImplementedError(f"kl_divergence: E[log(1 - X)] of {type(p).__name__}")


def _mgf(p, t: Tensor) -> Tensor:
    """``E[e^(tX)]`` at ``t < 0``."""
    if isinstance(p, Normal):
        return (p.loc * t + 0.5 * (p.scale * t).square()).exp()
    if isinstance(p, Exponential):
        return p.rate / (p.rate - t)
    if isinstance(p, Gamma):
        return (1 - t / p.rate).pow(-p.concentration)
    if isinstance(p, Uniform):
        return ((t * p.high).exp() - (t * p.low).exp()) / (t * (p.high - p.low))
    raise NotImplementedError(f"kl_divergence: moment generating function of {type(p).__name__}")


def _mean_abs_dev(p, c: Tensor) -> Tensor:
    """``E|X − c|`` for a Normal ``p``: the folded normal's mean."""
    d = p.loc - c
    z = d / p.scale
    return p.scale * math.sqrt(2 / math.pi) * (-0.5 * z.square()).exp() + d * (z / math.sqrt(2)).erf()


# ---------------------------------------------------------------- cross entropies −E_p[log q(X)]
def _cross_entropy(p, q) -> Tensor:
    if isinstance(q, Normal):
        # E[(X − μ)²] = E[X²] − 2μ E[X] + μ², infinite with E[X²] (inf − inf would be NaN)
        m1, m2 = _first_moment(p), _second_moment(p)
        spread = _rustdl.where(m2 == _INF, _INF, m2 - 2 * q.loc * m1 + q.loc.square())
        return q.scale.log() + _HALF_LOG_2PI + spread / (2 * q.scale.square())
    if isinstance(q, Laplace):
        return (2 * q.scale).log() + _mean_abs_dev(p, q.loc) / q.scale
    if isinstance(q, Gumbel):
        # log q(x) = −log β − z − e^(−z), z = (x − μ)/β;  E[e^(−z)] = e^(μ/β) E[e^(−X/β)]
        m1 = _first_moment(p)
        return q.scale.log() + (m1 - q.loc) / q.scale + (q.loc / q.scale).exp() * _mgf(p, -1 / q.scale)
    if isinstance(q, Exponential):
        return -q.rate.log() + q.rate * _first_moment(p)
    if isinstance(q, Gamma):
        a, b = q.concentration, q.rate
        return -a * b.log() + lgamma(a) - (a - 1) * _mean_log(p) + b * _first_moment(p)
    if isinstance(q, Beta):
        a, b = q.concentration1, q.concentration0
        lbeta = lgamma(a) + lgamma(b) - lgamma(a + b)
        return lbeta - (a - 1) * _mean_log(p) - (b - 1) * _mean_log1m(p)
    if isinstance(q, Uniform):
        return (q.high - q.low).log()
    if isinstance(q, Pareto):
        return -q.alpha.log() - q.alpha * q.scale.log() + (q.alpha + 1) * _mean_log(p)
    if isinstance(q, ContinuousBernoulli):
        # log q(x) is affine in x on [0, 1]
        dtype = q.probs.dtype
        lp0 = q.log_prob(_rustdl.zeros((), dtype=dtype))
        lp1 = q.log_prob(_rustdl.ones((), dtype=dtype))
        return -(lp0 + _first_moment(p) * (lp1 - lp0))
    if isinstance(q, Poisson):
        # p on {0, 1}: log k! = 0 there
        return q.rate - _first_moment(p) * q.rate.log()
    raise NotImplementedError(f"kl_divergence: cross entropy of {type(q).__name__}")


def _kl_by_cross_entropy(p, q) -> Tensor:
    ref = _a_parameter(p)
    p_lo, p_hi = (_as_tensor(v, ref) for v in _support(p))
    q_lo, q_hi = (_as_tensor(v, ref) for v in _support(q))
    inside = (p_lo >= q_lo) & (p_hi <= q_hi)
    return _rustdl.where(inside, -p.entropy() + _cross_entropy(p, q), _INF)


def _a_parameter(p) -> Tensor:
    """One of ``p``'s parameter tensors: the dtype and device of the result."""
    return next(v for v in vars(p).values() if isinstance(v, Tensor))


def _as_tensor(v, ref: Tensor) -> Tensor:
    return v if isinstance(v, Tensor) else _rustdl.full((), v, dtype=ref.dtype, device=ref.device)


def _infinite(p, q) -> Tensor:
    """``p`` has mass where ``q`` has none, for every parameter value."""
    ref = _a_parameter(p)
    shape = tuple(np.broadcast_shapes(tuple(p.batch_shape), tuple(q.batch_shape)))
    return _rustdl.full(shape, _INF, dtype=ref.dtype, device=ref.device)


# pairs whose value depends on the parameters (and becomes infinite only where p's support leaves q's)
_CLOSED = [
    (Bernoulli, Poisson),
    (Beta, Beta), (Exponential, Exponential), (Gamma, Gamma),
    (Beta, ContinuousBernoulli), (Beta, Exponential), (Beta, Gamma), (Beta, Normal), (Beta, Uniform),
    (ContinuousBernoulli, Exponential), (ContinuousBernoulli, Normal), (ContinuousBernoulli, Uniform),
    (Exponential, Gamma), (Exponential, Gumbel), (Exponential, Normal),
    (Gamma, Exponential), (Gamma, Gumbel), (Gamma, Normal),
    (Gumbel, Normal),
    (Laplace, Normal),
    (Normal, Gumbel), (Normal, Laplace),
    (Pareto, Exponential), (Pareto, Gamma), (Pareto, Normal),
    (Uniform, Beta), (Uniform, ContinuousBernoulli), (Uniform, Exponential), (Uniform, Gamma), (Uniform, Gumbel),
    (Uniform, Pareto),
]  # fmt: skip
# pairs where p always has mass outside q's support
_ALWAYS_INFINITE = [
    (Beta, Pareto), (ContinuousBernoulli, Pareto),
    (Exponential, Beta), (Exponential, ContinuousBernoulli), (Exponential, Pareto), (Exponential, Uniform),
    (Gamma, Beta), (Gamma, ContinuousBernoulli), (Gamma, Pareto), (Gamma, Uniform),
    (Gumbel, Beta), (Gumbel, ContinuousBernoulli), (Gumbel, Exponential), (Gumbel, Gamma), (Gumbel, Pareto),
    (Gumbel, Uniform),
    (Laplace, Beta), (Laplace, ContinuousBernoulli), (Laplace, Exponential), (Laplace, Gamma), (Laplace, Pareto),
    (Laplace, Uniform),
    (Normal, Beta), (Normal, ContinuousBernoulli), (Normal, Exponential), (Normal, Gamma), (Normal, Pareto),
    (Normal, Uniform),
    (Pareto, Beta), (Pareto, ContinuousBernoulli), (Pareto, Uniform),
    (Poisson, Bernoulli), (Poisson, Binomial),
]  # fmt: skip

for _p, _q in _CLOSED:
    register_kl(_p, _q)(_kl_by_cross_entropy)
for _p, _q in _ALWAYS_INFINITE:
    register_kl(_p, _q)(_infinite)
