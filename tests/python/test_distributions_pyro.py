"""What Pyro relies on in ``torch.distributions``: transforms whose ``event_dim`` follows from
their constraints, transforms that are also ``nn.Module``s, the ``_cached_x_y`` cache, the
families PyTorch builds as ``TransformedDistribution``s (base distribution + transforms), KLs
registered against mixins, Binomial enumeration, the private helpers of
``torch.distributions.utils``, relaxed distributions after ``expand``, signs of transforms and
the implicit reparameterisation gradient of Beta/Dirichlet samples.

References are closed forms (numpy/scipy) and PyTorch's documented rules, never values read
back from rustdl."""

import math
import warnings

import numpy as np
import pytest
import rustdl
from rustdl import distributions as D
from rustdl import nn
from rustdl.distributions import constraints
from rustdl.distributions import transforms as T
from scipy import special, stats


def _t(*v):
    return rustdl.tensor(v, dtype=rustdl.float64)


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


# ---------------------------------------------------------------- Transform.event_dim


class _Double(T.Transform):
    """``y = 2x`` on vectors: only domain and codomain say it acts on whole vectors."""

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def _call(self, x):
        return x * 2

    def _inverse(self, y):
        return y / 2

    def log_abs_det_jacobian(self, x, y):
        return x.new_full(tuple(x.shape[:-1]), x.shape[-1] * math.log(2.0))


def test_event_dim_follows_domain_and_codomain():
    assert _Double().event_dim == 1
    assert T.ExpTransform().event_dim == 0
    assert T.StickBreakingTransform().event_dim == 1
    assert T.LowerCholeskyTransform().event_dim == 2
    assert T.IndependentTransform(T.ExpTransform(), 2).event_dim == 2
    assert T.AffineTransform(0.0, 2.0, event_dim=2).domain.event_dim == 2
    assert T.StickBreakingTransform().inv.event_dim == 1
    # the domain's and codomain's event dims differ: PyTorch raises, naming the alternatives
    with pytest.raises(ValueError, match="domain.event_dim"):
        T.CorrCholeskyTransform().event_dim  # noqa: B018
    chain = T.ComposeTransform([T.ExpTransform(), _Double()])
    assert (chain.domain.event_dim, chain.codomain.event_dim, chain.event_dim) == (1, 1, 1)


def test_vector_transform_log_prob_counts_the_jacobian_once_per_event():
    td = D.TransformedDistribution(D.Normal(rustdl.zeros(3, dtype=rustdl.float64), 1.0), [_Double()])
    assert (td.batch_shape, td.event_shape) == ((), (3,))
    y = np.array([[0.4, -1.0, 2.0], [1.0, 1.0, 1.0]])
    want = stats.norm.logpdf(y / 2).sum(-1) - 3 * math.log(2)
    np.testing.assert_allclose(_np(td.log_prob(rustdl.tensor(y))), want, rtol=1e-12)
    # a chain of an elementwise and a vector transform sums the elementwise terms per vector
    td2 = D.TransformedDistribution(
        D.Normal(rustdl.zeros(3, dtype=rustdl.float64), 1.0), [T.AffineTransform(1.0, 3.0), _Double()]
    )
    x = (y / 2 - 1) / 3
    want2 = stats.norm.logpdf(x).sum(-1) - 3 * math.log(3) - 3 * math.log(2)
    np.testing.assert_allclose(_np(td2.log_prob(rustdl.tensor(y))), want2, rtol=1e-12)


def test_compose_log_abs_det_jacobian_and_shapes():
    scale = np.array([2.0, 3.0, 4.0])
    c = T.ComposeTransform([T.AffineTransform(1.0, _t(*scale)), T.StickBreakingTransform()])
    x = _t(0.3, -1.0, 0.5)
    y = c(x)
    # affine part: Σ log|scale| over the vector (its event dim is raised to the chain's)
    z = 1.0 + scale * np.array([0.3, -1.0, 0.5])
    offset = np.log(np.arange(3, 0, -1.0))
    s = z - offset
    sig = 1 / (1 + np.exp(-s))
    stick = np.append(sig, 1.0) * np.concatenate([[1.0], np.cumprod(1 - sig)])
    np.testing.assert_allclose(_np(y), stick, rtol=1e-12)
    # stick breaking: log|det| = Σ log σ(s_i) + log(1 − σ(s_i)) + log(remaining stick)
    want = np.log(scale).sum() + np.sum(
        np.log(sig) + np.log(1 - sig) + np.log(np.concatenate([[1.0], np.cumprod(1 - sig)[:-1]]))
    )
    np.testing.assert_allclose(float(c.log_abs_det_jacobian(x, y)), want, rtol=1e-10)
    assert tuple(c.forward_shape((5, 3))) == (5, 4)
    assert tuple(c.inverse_shape((5, 4))) == (5, 3)


def test_affine_log_abs_det_jacobian_with_event_dims_and_shapes():
    a = T.AffineTransform(_t(1.0, 2.0), _t(2.0, -3.0), event_dim=1)
    x = rustdl.ones(4, 2, dtype=rustdl.float64)
    np.testing.assert_allclose(_np(a.log_abs_det_jacobian(x, a(x))), np.full(4, math.log(6.0)))
    assert tuple(a.forward_shape((4, 2))) == (4, 2)
    assert tuple(T.AffineTransform(_t(1.0, 2.0, 3.0), 2.0).forward_shape((1,))) == (3,)
    assert tuple(T.PowerTransform(_t(1.0, 2.0)).forward_shape(())) == (2,)


def test_transformed_distribution_expands_the_base_to_the_transforms_parameters():
    td = D.TransformedDistribution(D.Normal(0.0, 1.0), [T.AffineTransform(_t(1.0, 2.0, 3.0), 2.0)])
    assert td.batch_shape == (3,)
    assert td.base_dist.batch_shape == (3,)
    v = np.array([1.0, 1.0, 1.0])
    np.testing.assert_allclose(
        _np(td.log_prob(rustdl.tensor(v))), stats.norm.logpdf(v, [1, 2, 3], 2), rtol=1e-12
    )


# ---------------------------------------------------------------- Transform as nn.Module, cache


def test_transform_cooperates_with_nn_module():
    class Flow(T.Transform, nn.Module):
        domain = constraints.real
        codomain = constraints.real
        bijective = True

        def __init__(self):
            super().__init__(cache_size=1)
            self.shift = nn.Parameter(rustdl.tensor([0.5, -1.0]))

        __hash__ = object.__hash__

        def _call(self, x):
            return x + self.shift

        def _inverse(self, y):
            return y - self.shift

        def log_abs_det_jacobian(self, x, y):
            return rustdl.zeros_like(x)

    f = Flow()
    assert [n for n, _ in f.named_parameters()] == ["shift"]
    x = rustdl.tensor([1.0, 2.0])
    y = f(x)
    np.testing.assert_allclose(_np(y), [1.5, 1.0])
    assert f._cached_x_y[0] is x and f._cached_x_y[1] is y
    assert f.inv(y) is x  # the cached pre-image, as PyTorch
    td = D.TransformedDistribution(D.Normal(rustdl.zeros(2), 1.0), [f])
    (-td.log_prob(rustdl.tensor([0.0, 0.0])).sum()).backward()
    # −log N(x = −shift) = shift²/2 + const: the gradient is the shift itself
    np.testing.assert_allclose(_np(f.shift.grad), [0.5, -1.0], rtol=1e-6)


def test_cached_x_y_follows_cache_size():
    e = T.ExpTransform(cache_size=1)
    assert e._cached_x_y == (None, None)
    x = _t(0.5)
    y = e(x)
    assert e._cached_x_y[0] is x and e._cached_x_y[1] is y
    assert e(x) is y and e.inv(y) is x
    e.clear_cache()
    assert e._cached_x_y == (None, None)
    # writing the attribute (as Pyro's flows do) is what the next call reads
    y2 = _t(3.0)
    e._cached_x_y = x, y2
    assert e(x) is y2
    assert not hasattr(T.ExpTransform(), "_cached_x_y")  # cache_size 0 keeps nothing
    assert T.ExpTransform().with_cache(1)._cache_size == 1
    assert e.with_cache(1) is e
    with pytest.raises(ValueError, match="cache_size"):
        T.ExpTransform(cache_size=2)


# ---------------------------------------------------------------- signs, equality, inverses


def test_signs_of_transforms():
    assert T.ComposeTransform([T.AffineTransform(0.0, -2.0), T.ExpTransform()]).sign == -1
    s = T.ComposeTransform([T.AffineTransform(0.0, _t(-2.0, 3.0)), T.PowerTransform(_t(-1.0))]).sign
    np.testing.assert_array_equal(_np(s), [1.0, -1.0])
    assert T.AffineTransform(0.0, -2.0).inv.sign == -1
    assert T.IndependentTransform(T.AffineTransform(0.0, -2.0), 1).sign == -1
    assert float(T.PowerTransform(2.0).sign) == 1.0
    assert T.identity_transform.sign == 1
    for t in (T.TanhTransform(), T.SigmoidTransform(), T.SoftplusTransform(), T.ExpTransform()):
        assert t.sign == 1
    with pytest.raises(NotImplementedError):
        T.AbsTransform().sign  # noqa: B018  (not bijective: no sign, as PyTorch)


def test_transform_equality_and_inverse_type():
    assert T.ExpTransform() == T.ExpTransform()
    assert T.AffineTransform(0.0, 2.0) == T.AffineTransform(0.0, 2.0)
    assert T.AffineTransform(0.0, 2.0) != T.AffineTransform(0.0, 3.0)
    assert T.PowerTransform(_t(2.0)) == T.PowerTransform(_t(2.0))
    assert T.ComposeTransform([T.ExpTransform()]) == T.ComposeTransform([T.ExpTransform()])
    assert T.Transform() != T.Transform()  # identity by default
    e = T.ExpTransform()
    assert type(e.inv).__name__ == "_InverseTransform"
    assert e.inv is e.inv and e.inv.inv is e
    assert type(D.biject_to(constraints.real)).__name__ == "ComposeTransform"
    assert type(D.transform_to(constraints.real)).__name__ == "ComposeTransform"


# ---------------------------------------------------------------- TransformedDistribution families


_FAMILIES = [
    # name, factory, base type, transform types, value, scipy logpdf / cdf / ppf / mean / var / entropy
    (
        "LogNormal",
        lambda: D.LogNormal(_t(0.2, 1.0), _t(1.0, 0.5)),
        "Normal",
        ["ExpTransform"],
        np.array([0.3, 2.0]),
        stats.lognorm([1.0, 0.5], scale=np.exp([0.2, 1.0])),
    ),
    (
        "HalfNormal",
        lambda: D.HalfNormal(_t(1.0, 2.0)),
        "Normal",
        ["AbsTransform"],
        np.array([0.3, 2.0]),
        stats.halfnorm(scale=[1.0, 2.0]),
    ),
    (
        "HalfCauchy",
        lambda: D.HalfCauchy(_t(1.0, 2.0)),
        "Cauchy",
        ["AbsTransform"],
        np.array([0.3, 2.0]),
        stats.halfcauchy(scale=[1.0, 2.0]),
    ),
    (
        "Gumbel",
        lambda: D.Gumbel(_t(0.0, 1.0), _t(1.0, 2.0)),
        "Uniform",
        ["_InverseTransform", "AffineTransform", "_InverseTransform", "AffineTransform"],
        np.array([0.3, -1.0]),
        stats.gumbel_r(loc=[0.0, 1.0], scale=[1.0, 2.0]),
    ),
    (
        "Weibull",
        lambda: D.Weibull(_t(1.0, 2.0), _t(1.5, 0.7)),
        "Exponential",
        ["PowerTransform", "AffineTransform"],
        np.array([0.3, 2.0]),
        stats.weibull_min([1.5, 0.7], scale=[1.0, 2.0]),
    ),
    (
        "Pareto",
        lambda: D.Pareto(_t(1.0, 2.0), _t(3.0, 4.5)),
        "Exponential",
        ["ExpTransform", "AffineTransform"],
        np.array([1.3, 2.5]),
        stats.pareto([3.0, 4.5], scale=[1.0, 2.0]),
    ),
]


@pytest.mark.parametrize("name,make,base,parts,value,ref", _FAMILIES, ids=[f[0] for f in _FAMILIES])
def test_families_are_transformed_distributions_with_scipy_values(name, make, base, parts, value, ref):
    d = make()
    assert isinstance(d, D.TransformedDistribution)
    assert type(d.base_dist).__name__ == base
    assert [type(t).__name__ for t in d.transforms] == parts
    v = rustdl.tensor(value)
    np.testing.assert_allclose(_np(d.log_prob(v)), ref.logpdf(value), rtol=1e-10)
    np.testing.assert_allclose(_np(d.cdf(v)), ref.cdf(value), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(_np(d.icdf(_t(0.1, 0.7))), ref.ppf([0.1, 0.7]), rtol=1e-8)
    if name != "HalfCauchy":
        np.testing.assert_allclose(_np(d.mean), ref.mean(), rtol=1e-10)
        np.testing.assert_allclose(_np(d.variance), ref.var(), rtol=1e-10)
    np.testing.assert_allclose(_np(d.entropy()), ref.entropy(), rtol=1e-9)
    e = d.expand((3, 2))
    assert type(e) is type(d) and e.batch_shape == (3, 2)
    np.testing.assert_allclose(_np(e.log_prob(v)), np.broadcast_to(ref.logpdf(value), (3, 2)), rtol=1e-10)


def test_kumaraswamy_and_logistic_normal_closed_forms():
    a, b = np.array([1.5, 0.7]), np.array([2.0, 3.0])
    k = D.Kumaraswamy(_t(*a), _t(*b))
    assert isinstance(k, D.TransformedDistribution) and type(k.base_dist).__name__ == "Uniform"
    x = np.array([0.3, 0.6])
    pdf = a * b * x ** (a - 1) * (1 - x**a) ** (b - 1)
    np.testing.assert_allclose(_np(k.log_prob(rustdl.tensor(x))), np.log(pdf), rtol=1e-10)
    np.testing.assert_allclose(_np(k.cdf(rustdl.tensor(x))), 1 - (1 - x**a) ** b, rtol=1e-10)
    m1 = b * special.beta(1 + 1 / a, b)
    m2 = b * special.beta(1 + 2 / a, b)
    np.testing.assert_allclose(_np(k.mean), m1, rtol=1e-10)
    np.testing.assert_allclose(_np(k.variance), m2 - m1**2, rtol=1e-9)

    loc, scale = np.array([0.0, 1.0]), np.array([1.0, 0.5])
    ln = D.LogisticNormal(_t(*loc), _t(*scale))
    assert ln.batch_shape == () and ln.event_shape == (3,)
    assert type(ln.base_dist).__name__ == "Independent"
    np.testing.assert_allclose(_np(ln.loc), loc)
    y = np.array([0.2, 0.3, 0.5])
    # the stick-breaking inverse: x_i = logit(y_i / (1 − Σ_{j<i} y_j)) + log(K − 1 − i)
    rest = 1 - np.concatenate([[0.0], np.cumsum(y[:-1])])
    z = y[:-1] / rest[:-1]
    xs = np.log(z) - np.log1p(-z) + np.log(np.arange(2, 0, -1.0))
    # |dy/dx| = Π z_i (1 − z_i) · rest_i
    logdet = np.sum(np.log(z) + np.log1p(-z) + np.log(rest[:-1]))
    want = stats.norm.logpdf(xs, loc, scale).sum() - logdet
    np.testing.assert_allclose(float(ln.log_prob(rustdl.tensor(y))), want, rtol=1e-10)
    scalar = D.LogisticNormal(0.3, 0.5)  # a 0-dim base is expanded to one coordinate (as PyTorch)
    assert scalar.event_shape == (2,)


def test_subclass_building_the_transformed_distribution_itself():
    class MyLogNormal(D.LogNormal):  # what pyro.distributions.LogNormal does
        def __init__(self, loc, scale, validate_args=None):
            super(D.LogNormal, self).__init__(
                D.Normal(loc, scale), T.ExpTransform(), validate_args=validate_args
            )

        def expand(self, batch_shape, _instance=None):
            new = self._get_checked_instance(MyLogNormal, _instance)
            return super(D.LogNormal, self).expand(batch_shape, _instance=new)

    d = MyLogNormal(_t(0.0), _t(1.0))
    np.testing.assert_allclose(float(d.log_prob(_t(2.0))), stats.lognorm(1.0).logpdf(2.0), rtol=1e-12)
    np.testing.assert_allclose(float(d.mean), math.exp(0.5), rtol=1e-12)
    assert type(d.expand((4,))) is MyLogNormal and d.expand((4,)).batch_shape == (4,)


@pytest.mark.parametrize(
    "make,through_base",
    [
        (
            lambda: D.LogNormal(_t(0.2, 1.0), _t(1.0, 0.5)),
            lambda: D.Normal(_t(0.2, 1.0), _t(1.0, 0.5)).sample((3,)).exp(),
        ),
        (lambda: D.HalfNormal(_t(1.0, 2.0)), lambda: D.Normal(0.0, _t(1.0, 2.0)).sample((3,)).abs()),
        (lambda: D.HalfCauchy(_t(1.0, 2.0)), lambda: D.Cauchy(0.0, _t(1.0, 2.0)).sample((3,)).abs()),
        (
            lambda: D.Weibull(_t(1.0, 2.0), _t(1.5, 0.7)),
            lambda: _t(1.0, 2.0) * D.Exponential(_t(1.0, 1.0)).sample((3,)) ** (1 / _t(1.5, 0.7)),
        ),
        (
            lambda: D.Pareto(_t(1.0, 2.0), _t(3.0, 4.5)),
            lambda: _t(1.0, 2.0) * D.Exponential(_t(3.0, 4.5)).sample((3,)).exp(),
        ),
        (
            lambda: D.Kumaraswamy(_t(1.5, 0.7), _t(2.0, 3.0)),
            lambda: (
                (1 - D.Uniform(_t(0.0, 0.0), _t(1.0, 1.0)).sample((3,)) ** (1 / _t(2.0, 3.0)))
                ** (1 / _t(1.5, 0.7))
            ),
        ),
        (
            lambda: D.Gumbel(_t(0.0, 1.0), _t(1.0, 2.0)),
            lambda: (
                _t(0.0, 1.0)
                - _t(1.0, 2.0)
                * (
                    -D.Uniform(
                        _t(np.finfo(np.float64).tiny, np.finfo(np.float64).tiny),
                        _t(1 - np.finfo(np.float64).eps, 1 - np.finfo(np.float64).eps),
                    )
                    .sample((3,))
                    .log()
                ).log()
            ),
        ),
    ],
    ids=["LogNormal", "HalfNormal", "HalfCauchy", "Weibull", "Pareto", "Kumaraswamy", "Gumbel"],
)
def test_seeded_samples_are_the_base_distributions_draws_transformed(make, through_base):
    # PyTorch samples these families through their base distribution: the same seed gives the
    # base's draw pushed through the transforms
    rustdl.manual_seed(7)
    got = _np(make().sample((3,)))
    rustdl.manual_seed(7)
    want = _np(through_base())
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_kl_of_transformed_families_is_the_base_kl():
    p, q = D.LogNormal(_t(0.0, 1.0), _t(1.0, 0.5)), D.LogNormal(_t(0.5, 1.0), _t(2.0, 0.5))
    m1, s1, m2, s2 = np.array([0.0, 1.0]), np.array([1.0, 0.5]), np.array([0.5, 1.0]), np.array([2.0, 0.5])
    want = np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
    np.testing.assert_allclose(_np(D.kl_divergence(p, q)), want, rtol=1e-12)
    td_p = D.TransformedDistribution(D.Normal(_t(0.0, 1.0), 1.0), [T.ExpTransform()])
    td_q = D.TransformedDistribution(D.Normal(_t(0.5, 1.0), 2.0), [T.ExpTransform()])
    np.testing.assert_allclose(
        _np(D.kl_divergence(td_p, td_q)),
        np.log(2.0) + (1 + (np.array([0.0, 1.0]) - [0.5, 1.0]) ** 2) / 8 - 0.5,
    )
    with pytest.raises(NotImplementedError):
        D.kl_divergence(td_p, D.TransformedDistribution(D.Normal(_t(0.5, 1.0), 2.0), [T.SigmoidTransform()]))


# ---------------------------------------------------------------- register_kl, utils, Binomial


def test_register_kl_accepts_mixins_and_dispatches_by_subclass():
    from rustdl.distributions import kl as _klmod

    class Mixin:  # Pyro registers KLs against its distribution mixins
        pass

    class MyDist(D.Distribution, Mixin):
        def __init__(self):
            super().__init__(validate_args=False)

    class MyNormal(D.Normal, Mixin):
        pass

    D.register_kl(Mixin, Mixin)(lambda p, q: "mixin")
    try:
        assert D.kl_divergence(MyDist(), MyDist()) == "mixin"
        # (Normal, Normal) and (Mixin, Mixin) are unordered for two MyNormals: PyTorch's
        # lexicographic rule keeps the earlier registration, the closed form
        assert float(D.kl_divergence(MyNormal(_t(0.0), 1.0), MyNormal(_t(0.0), 1.0))) == 0.0
    finally:
        del _klmod._KL_REGISTRY[Mixin, Mixin]
        _klmod._KL_CACHE.clear()


def test_register_kl_warns_on_ambiguity_and_takes_the_p_first_order():
    from rustdl.distributions import kl as _klmod

    class P0(D.Distribution):
        pass

    class P1(P0):
        pass

    class Q0(D.Distribution):
        pass

    class Q1(Q0):
        pass

    D.register_kl(P0, Q1)(lambda p, q: "p0q1")
    D.register_kl(P1, Q0)(lambda p, q: "p1q0")
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert D.kl_divergence(P1(), Q1()) == "p1q0"  # most specific in p first
        assert any(issubclass(x.category, RuntimeWarning) and "Ambiguous" in str(x.message) for x in w)
    finally:
        del _klmod._KL_REGISTRY[P0, Q1]
        del _klmod._KL_REGISTRY[P1, Q0]
        _klmod._KL_CACHE.clear()


def test_private_utils_helpers():
    from rustdl.distributions.utils import (
        _sum_rightmost,
        euler_constant,
        tril_matrix_to_vec,
        vec_to_tril_matrix,
    )

    a = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_allclose(_np(_sum_rightmost(rustdl.tensor(a), 2)), a.sum((-2, -1)))
    assert _sum_rightmost(rustdl.tensor(a), 0).shape == (2, 3, 4)
    assert abs(euler_constant - np.euler_gamma) < 1e-15
    m = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(_np(tril_matrix_to_vec(rustdl.tensor(m))), m[np.tril_indices(3)])
    np.testing.assert_allclose(_np(tril_matrix_to_vec(rustdl.tensor(m), -1)), m[np.tril_indices(3, -1)])
    want = np.zeros((3, 3))
    want[np.tril_indices(3)] = [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(_np(vec_to_tril_matrix(_t(1, 2, 3, 4, 5, 6))), want)


def test_binomial_enumerate_support():
    b = D.Binomial(3, _t(0.2, 0.7))
    assert b.has_enumerate_support
    full = b.enumerate_support()
    assert full.shape == (4, 2)
    np.testing.assert_array_equal(_np(full), np.repeat(np.arange(4.0)[:, None], 2, 1))
    compact = b.enumerate_support(expand=False)
    assert compact.shape == (4, 1)
    # the enumerated values carry all the mass
    np.testing.assert_allclose(_np(b.log_prob(full).exp().sum(0)), [1.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(
        _np(b.log_prob(full)), stats.binom(3, [0.2, 0.7]).logpmf(_np(full)), rtol=1e-10
    )
    assert D.Binomial(2, rustdl.tensor(0.3)).enumerate_support().shape == (3,)
    with pytest.raises(NotImplementedError, match="Inhomogeneous"):
        D.Binomial(_t(3.0, 4.0), _t(0.2, 0.7)).enumerate_support()


# ---------------------------------------------------------------- relaxed families after expand


def test_relaxed_one_hot_categorical_expand_then_log_prob():
    temp, probs = 0.5, np.array([0.2, 0.5, 0.3])
    d = D.RelaxedOneHotCategorical(_t(temp), probs=_t(*probs)).expand((4,))
    assert d.batch_shape == (4,) and d.event_shape == (3,)
    y = np.array([0.1, 0.6, 0.3])
    # the concrete density (Maddison et al.): (K−1)! τ^(K−1) Π (p_k y_k^(−τ−1)) / (Σ p_k y_k^(−τ))^K
    k = 3
    want = (
        math.lgamma(k)
        + (k - 1) * math.log(temp)
        + np.sum(np.log(probs) - (temp + 1) * np.log(y))
        - k * np.log(np.sum(probs * y**-temp))
    )
    np.testing.assert_allclose(_np(d.log_prob(rustdl.tensor(y))), np.full(4, want), rtol=1e-10)
    assert type(d.base_dist).__name__ == "ExpRelaxedCategorical"
    assert d.base_dist.temperature is not None and float(d.temperature) == temp


def test_relaxed_bernoulli_expand_then_log_prob():
    temp, p = 0.5, np.array([0.3, 0.8])
    d = D.RelaxedBernoulli(_t(temp), probs=_t(*p)).expand((4, 2))
    y = 0.4
    # binary concrete density: τ α y^(−τ−1) (1−y)^(−τ−1) / (α y^(−τ) + (1−y)^(−τ))², α = p/(1−p)
    alpha = p / (1 - p)
    want = np.log(
        temp * alpha * y ** (-temp - 1) * (1 - y) ** (-temp - 1) / (alpha * y**-temp + (1 - y) ** -temp) ** 2
    )
    np.testing.assert_allclose(_np(d.log_prob(_t(y))), np.broadcast_to(want, (4, 2)), rtol=1e-10)


# ---------------------------------------------------------------- MixtureSameFamily support


def test_mixture_same_family_support_is_the_mixture_constraint():
    m = D.MixtureSameFamily(D.Categorical(_t(0.3, 0.7)), D.Normal(_t(-1.0, 1.0), 1.0))
    assert type(m.support).__name__ == "MixtureSameFamilyConstraint"
    assert m.support.check(_t(0.0, 1.0)).shape == (2,)
    mv = D.MixtureSameFamily(
        D.Categorical(rustdl.tensor([[0.3, 0.7]])),
        D.Independent(D.Normal(rustdl.zeros(1, 2, 2), 1.0), 1),
    )
    # one answer per sample and batch entry (the component dim and the event dim reduced)
    assert mv.support.check(rustdl.zeros(5, 1, 2)).shape == (5, 1)


# ---------------------------------------------------------------- Beta / Dirichlet rsample gradients


def _beta_implicit(x, a, b, h=1e-7):
    """dx/da and dx/db of a Beta(a, b) draw held at its quantile: −∂I_x/∂(a, b) / pdf(x)."""
    pdf = stats.beta.pdf(x, a, b)
    da = -(special.betainc(a + h, b, x) - special.betainc(a - h, b, x)) / (2 * h) / pdf
    db = -(special.betainc(a, b + h, x) - special.betainc(a, b - h, x)) / (2 * h) / pdf
    return da, db


def test_beta_rsample_gradient_is_the_implicit_one():
    a_np, b_np = np.array([1.5, 0.3, 4.0, 0.8]), np.array([2.0, 0.4, 0.7, 6.0])
    a = rustdl.tensor(a_np, requires_grad=True)
    b = rustdl.tensor(b_np, requires_grad=True)
    rustdl.manual_seed(3)
    x = D.Beta(a, b).rsample()
    ga, gb = rustdl.autograd.grad(x.sum(), [a, b])
    da, db = _beta_implicit(_np(x), a_np, b_np)
    np.testing.assert_allclose(_np(ga), da, rtol=1e-5)
    np.testing.assert_allclose(_np(gb), db, rtol=1e-5)


def test_dirichlet_rsample_gradient_follows_the_beta_marginals():
    conc = np.array([1.5, 3.0, 0.5])
    c = rustdl.tensor(conc, requires_grad=True)
    rustdl.manual_seed(5)
    x = D.Dirichlet(c).rsample()
    xs = _np(x)
    total = conc.sum()
    # PyTorch's rule: dx_j/dα_i = G_i (δ_ij − x_j), G_i = (dx_i/dα_i)/(1 − x_i) of the marginal
    # Beta(α_i, α_0 − α_i) with its second parameter held
    g = np.array([_beta_implicit(xs[i], conc[i], total - conc[i])[0] / (1 - xs[i]) for i in range(3)])
    for j in range(3):
        (gj,) = rustdl.autograd.grad(x[j], [c], retain_graph=True)
        want = g * ((np.arange(3) == j) - xs[j])
        np.testing.assert_allclose(_np(gj), want, rtol=1e-5, atol=1e-9)


def test_beta_implicit_gradient_is_accurate_across_parameter_ranges():
    from rustdl.distributions.gamma_family import _np_beta_sample_grad

    rng = np.random.default_rng(0)
    for a, b in [(0.05, 0.02), (5.0, 0.1), (50.0, 70.0), (1000.0, 3.0), (0.5, 500.0), (1.0, 1.0)]:
        x = stats.beta.rvs(a, b, size=200, random_state=rng)
        x = x[(x > 1e-250) & (x < 1 - 1e-12) & (stats.beta.pdf(x, a, b) > 1e-250)]
        got = _np_beta_sample_grad(x, a, b) * (1 - x)
        want, _ = _beta_implicit(x, a, b, h=1e-6 * a)
        np.testing.assert_allclose(got, want, rtol=2e-5)
