"""Closed-form KL divergences within a family, for the families whose PyTorch counterparts have
one (registered with ``register_kl``; imported by the package for that effect): Laplace, Cauchy,
Binomial, Geometric, Pareto, ContinuousBernoulli, and the families defined through a bijection of
another, whose KL is the base pair's (LogNormal, HalfNormal, HalfCauchy, LogisticNormal, and
TransformedDistributions whose transforms are the same)."""

from __future__ import annotations

from .. import _rustdl
from .._rustdl import Tensor
from .extra import ContinuousBernoulli, HalfCauchy, HalfNormal, Kumaraswamy, LogisticNormal, Pareto, Weibull
from .gamma_family import Binomial
from .heavy_tails import Cauchy, TransformedDistribution
from .kl import kl_divergence, register_kl
from .more import Geometric, Laplace, LogNormal
from .normal import Normal
from .utils import softplus

_INF = float("inf")


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p: Laplace, q: Laplace) -> Tensor:
    # E_p|x - m_q| = |Δ| + b_p e^(-|Δ|/b_p) for Laplace(m_p, b_p)
    ratio = p.scale / q.scale
    gap = (p.loc - q.loc).abs()
    return -ratio.log() + gap / q.scale + ratio * (-gap / p.scale).exp() - 1


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p: Cauchy, q: Cauchy) -> Tensor:
    # Chyzak & Nielsen (2019): log(((γ_p + γ_q)² + (x_p − x_q)²) / (4 γ_p γ_q))
    return ((p.scale + q.scale) ** 2 + (p.loc - q.loc) ** 2).log() - (4 * p.scale * q.scale).log()


def _safe_log(x: Tensor) -> Tensor:
    return x.clamp(min=1e-300 if x.dtype == _rustdl.float64 else 1e-38).log()


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p: Binomial, q: Binomial) -> Tensor:
    n_p = p.total_count if isinstance(p.total_count, Tensor) else _rustdl.tensor(float(p.total_count))
    n_q = q.total_count if isinstance(q.total_count, Tensor) else _rustdl.tensor(float(q.total_count))
    if bool((n_p < n_q).any()):
        raise NotImplementedError("KL between Binomials where q has more trials than p is not implemented")
    a, b = p.probs, q.probs
    kl = n_p * (
        _rustdl.where(a > 0, a * (_safe_log(a) - _safe_log(b)), a * 0)
        + _rustdl.where(a < 1, (1 - a) * (_safe_log(1 - a) - _safe_log(1 - b)), a * 0)
    )
    # more trials in p than in q: p puts mass where q has none
    return _rustdl.where(n_p > n_q, kl * 0 + _INF, kl)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p: Geometric, q: Geometric) -> Tensor:
    # failures before the first success: E_p[x] = (1 − p)/p
    return -p.entropy() - (1 - q.probs).log() * (1 - p.probs) / p.probs - q.probs.log()


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p: Pareto, q: Pareto) -> Tensor:
    scale_ratio = p.scale / q.scale
    alpha_ratio = q.alpha / p.alpha
    kl = q.alpha * scale_ratio.log() - alpha_ratio.log() + alpha_ratio - 1
    # p's support starts below q's: infinite
    return _rustdl.where(p.scale < q.scale, kl * 0 + _INF, kl)


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_contbern_contbern(p: ContinuousBernoulli, q: ContinuousBernoulli) -> Tensor:
    # log f(x) = x·logit − softplus(logit) + log C(λ)
    return (
        p.mean * (p.logits - q.logits)
        - softplus(p.logits)
        + softplus(q.logits)
        + p._log_norm()
        - q._log_norm()
    )


@register_kl(LogNormal, LogNormal)
def _kl_lognormal_lognormal(p: LogNormal, q: LogNormal) -> Tensor:
    return kl_divergence(Normal(p.loc, p.scale), Normal(q.loc, q.scale))


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p: HalfNormal, q: HalfNormal) -> Tensor:
    return kl_divergence(Normal(p.scale * 0, p.scale), Normal(q.scale * 0, q.scale))


@register_kl(HalfCauchy, HalfCauchy)
def _kl_halfcauchy_halfcauchy(p: HalfCauchy, q: HalfCauchy) -> Tensor:
    return _kl_cauchy_cauchy(Cauchy(p.scale * 0, p.scale), Cauchy(q.scale * 0, q.scale))


@register_kl(LogisticNormal, LogisticNormal)
def _kl_logisticnormal_logisticnormal(p: LogisticNormal, q: LogisticNormal) -> Tensor:
    return kl_divergence(Normal(p.loc, p.scale), Normal(q.loc, q.scale)).sum(-1)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p: TransformedDistribution, q: TransformedDistribution) -> Tensor:
    # a bijection applied to both leaves the KL unchanged
    if list(p.transforms) != list(q.transforms):  # the transforms' own __eq__, as PyTorch
        raise NotImplementedError(
            "KL between TransformedDistributions with different transforms is not implemented"
        )
    if tuple(p.event_shape) != tuple(q.event_shape):
        raise NotImplementedError(
            "KL between TransformedDistributions with different event shapes is not implemented"
        )
    # the base distributions already carry the chain's event dims (as Independent)
    return kl_divergence(p.base_dist, q.base_dist)


def _identical_or_raise(p, q, names: tuple[str, ...], family: str) -> Tensor:
    """KL of two members of a family PyTorch defines through parameter-dependent transforms: 0
    when every parameter is the same (the transforms then agree), else not implemented (as
    PyTorch)."""
    for n in names:
        a, b = getattr(p, n), getattr(q, n)
        if tuple(a.shape) != tuple(b.shape) or not bool((a == b).all()):
            raise NotImplementedError(
                f"KL between {family} distributions with different parameters is not implemented"
            )
    return getattr(p, names[0]) * 0


@register_kl(Weibull, Weibull)
def _kl_weibull_weibull(p: Weibull, q: Weibull) -> Tensor:
    return _identical_or_raise(p, q, ("scale", "concentration"), "Weibull")


@register_kl(Kumaraswamy, Kumaraswamy)
def _kl_kumaraswamy_kumaraswamy(p: Kumaraswamy, q: Kumaraswamy) -> Tensor:
    return _identical_or_raise(p, q, ("concentration1", "concentration0"), "Kumaraswamy")
