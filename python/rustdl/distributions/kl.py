"""``kl_divergence(p, q)`` and ``register_kl``: closed-form KL divergences between distributions."""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from .. import _rustdl
from .._rustdl import Tensor
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .gamma_family import lgamma
from .heavy_tails import Gumbel, OneHotCategorical
from .more import Independent, MultivariateNormal
from .normal import Normal
from .uniform import Uniform
from .utils import softplus

__all__ = ["kl_divergence", "register_kl"]

_KL_REGISTRY: dict[tuple[type, type], Callable[[Distribution, Distribution], Tensor]] = {}
_KL_CACHE: dict[tuple[type, type], Callable[[Distribution, Distribution], Tensor]] = {}


def register_kl(type_p: type, type_q: type) -> Callable:
    """Decorator registering a function ``kl(p, q)`` for ``p`` of ``type_p`` and ``q`` of ``type_q``.

    Any classes may be registered (a mixin shared by several distributions, say), as PyTorch
    allows. Lookup takes the most specific registration by subclass order; when the orders by
    ``p`` first and by ``q`` first disagree, the ``p``-first one is used and a ``RuntimeWarning``
    names the pair to register to break the tie (as PyTorch).

    Example:
        >>> @register_kl(MyDist, Normal)
        ... def _kl_mydist_normal(p, q):
        ...     return ...
    """
    if not isinstance(type_p, type):
        raise TypeError(f"Expected type_p to be a Distribution subclass but got {type_p}")
    if not isinstance(type_q, type):
        raise TypeError(f"Expected type_q to be a Distribution subclass but got {type_q}")

    def decorator(fn: Callable) -> Callable:
        _KL_REGISTRY[type_p, type_q] = fn
        _KL_CACHE.clear()
        return fn

    return decorator


def _more_specific(a: tuple[type, ...], b: tuple[type, ...]) -> bool:
    """Whether the registration ``a`` comes before ``b``: compared type by type, the first pair
    that differs decides (``a``'s type a subclass of ``b``'s), equal types defer to the next."""
    for x, y in zip(a, b):
        if not issubclass(x, y):
            return False
        if x is not y:
            break
    return True


def _most_specific(keys: list[tuple[type, ...]]) -> tuple[type, ...]:
    best = keys[0]
    for key in keys[1:]:
        if _more_specific(key, best) and key != best:
            best = key
    return best


def _dispatch(type_p: type, type_q: type) -> Callable | None:
    matches = [(tp, tq) for (tp, tq) in _KL_REGISTRY if issubclass(type_p, tp) and issubclass(type_q, tq)]
    if not matches:
        return None
    left = _most_specific(matches)
    right = _most_specific([(tq, tp) for tp, tq in matches])
    left_fn, right_fn = _KL_REGISTRY[left], _KL_REGISTRY[right[1], right[0]]
    if left_fn is not right_fn:
        warnings.warn(
            f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}). "
            f"Please register_kl({left[0].__name__}, {right[0].__name__})",
            RuntimeWarning,
            stacklevel=3,
        )
    return left_fn


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    r"""The Kullback-Leibler divergence :math:`KL(p \| q) = \int p(x) \log \frac{p(x)}{q(x)} dx`.

    Args:
        p: a distribution.
        q: a distribution with a broadcastable batch shape.

    Returns:
        A tensor of shape ``broadcast(p.batch_shape, q.batch_shape)``; differentiable in both
        distributions' parameters.

    Raises:
        NotImplementedError: no KL is registered for the two types.

    Example:
        >>> kl_divergence(Normal(0.0, 1.0), Normal(1.0, 2.0))
        tensor(0.4431)
    """
    key = (type(p), type(q))
    fn = _KL_CACHE.get(key)
    if fn is None:
        fn = _dispatch(*key)
        if fn is None:
            raise NotImplementedError(
                f"No KL(p || q) is implemented for p type {type(p).__name__} and q type {type(q).__name__}"
            )
        _KL_CACHE[key] = fn
    return fn(p, q)


_INF = float("inf")


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    # 0.5 * (s_p²/s_q² + (m_p - m_q)²/s_q² - 1 - log(s_p²/s_q²))
    var_ratio = (p.scale / q.scale).square()
    t1 = ((p.loc - q.loc) / q.scale).square()
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    # p log(p/q) + (1-p) log((1-p)/(1-q)), with log p = -softplus(-l) and log(1-p) = -softplus(l)
    sp = softplus
    t1 = p.probs * (sp(-q.logits) - sp(-p.logits))
    t1 = _rustdl.where(q.probs == 0, _INF, t1)
    t1 = _rustdl.where(p.probs == 0, 0.0, t1)
    t2 = (1 - p.probs) * (sp(q.logits) - sp(p.logits))
    t2 = _rustdl.where(q.probs == 1, _INF, t2)
    t2 = _rustdl.where(p.probs == 1, 0.0, t2)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    t = p.probs * (p.logits - q.logits)
    t = _rustdl.where(q.probs == 0, _INF, t)
    t = _rustdl.where(p.probs == 0, 0.0, t)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehot_onehot(p: OneHotCategorical, q: OneHotCategorical) -> Tensor:
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p: Gumbel, q: Gumbel) -> Tensor:
    ratio = p.scale / q.scale
    a = q.loc / q.scale
    b = p.loc / q.scale
    euler = 0.57721566490153286061
    return -ratio.log() - a + b + ratio * euler + (a + lgamma(1 + ratio) - b).exp() - (1 + euler)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p: Uniform, q: Uniform) -> Tensor:
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return _rustdl.where((q.low > p.low) | (q.high < p.high), _INF, result)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p: Uniform, q: Normal) -> Tensor:
    # -H(p) - E_p[log q(x)], with E_p[(x - m)²] = ((h - m)³ - (l - m)³) / (3 (h - l))
    width = p.high - p.low
    cube = ((p.high - q.loc) ** 3 - (p.low - q.loc) ** 3) / (3 * width)
    half_log_2pi = 0.9189385332046727
    return -width.log() + q.scale.log() + half_log_2pi + cube / (2 * q.scale.square())


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p: MultivariateNormal, q: MultivariateNormal) -> Tensor:
    # 0.5 (tr(Σq⁻¹ Σp) + |Lq⁻¹ (μq - μp)|² - k) + log|Lq| - log|Lp|
    from .. import linalg

    k = p.event_shape[0]
    if q.event_shape[0] != k:
        raise ValueError(f"kl_divergence: MultivariateNormals of event sizes {k} and {q.event_shape[0]}")
    batch = tuple(np.broadcast_shapes(p.batch_shape, q.batch_shape))
    lp = p.scale_tril.expand(*batch, k, k)
    lq = q.scale_tril.expand(*batch, k, k)
    m = linalg.solve_triangular(lq, lp, upper=False)
    d = linalg.solve_triangular(lq, (q.loc - p.loc).expand(*batch, k).unsqueeze(-1), upper=False)
    return (
        0.5 * (m.square().sum((-2, -1)) + d.square().sum((-2, -1)) - k)
        + q._half_log_det()
        - p._half_log_det()
    )


@register_kl(Independent, Independent)
def _kl_independent_independent(p: Independent, q: Independent) -> Tensor:
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("kl_divergence: Independents with different reinterpreted_batch_ndims")
    return p._sum_rightmost(kl_divergence(p.base_dist, q.base_dist))
