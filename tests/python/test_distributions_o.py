"""LowRankMultivariateNormal, OneHotCategoricalStraightThrough, (Logit)RelaxedBernoulli,
GeneralizedPareto, ExponentialFamily (Bregman entropy and KL) and the CorrCholesky, Cat and Stack
transforms, against references independent of the code under test: scipy.stats, dense-matrix
numpy formulas, numerical integration, finite differences (with the generator reseeded so the
noise is fixed) and Monte-Carlo moments from fixed seeds."""

import math

import numpy as np
import pytest
import rustdl
from rustdl import distributions as D
from rustdl.distributions import transforms as T
from scipy import integrate, stats


def t64(v, requires_grad=False):
    return rustdl.tensor(np.asarray(v, dtype=np.float64), dtype=rustdl.float64, requires_grad=requires_grad)


def fd_grad(f, x0, eps=1e-6):
    """Central finite differences of a scalar function of a numpy array."""
    x0 = np.asarray(x0, dtype=np.float64)
    g = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        xp, xm = x0.copy(), x0.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


def autograd_of(f, *arrays):
    ts = [t64(a, requires_grad=True) for a in arrays]
    f(*ts).backward()
    return [t.grad.numpy() for t in ts]


def check_grads(loss, args, rtol, atol, eps=1e-6):
    """Autograd of the scalar ``loss(*tensors)`` against central differences in each argument."""
    grads = autograd_of(loss, *args)
    for i, g in enumerate(grads):

        def f(a, i=i):
            vals = [t64(v) for v in args]
            vals[i] = t64(a)
            return loss(*vals).item()

        np.testing.assert_allclose(g, fd_grad(f, args[i], eps), rtol=rtol, atol=atol)


RNG = np.random.default_rng(1234)


# ---------------------------------------------------------------- LowRankMultivariateNormal


def _lowrank_params(batch, n, m, rng=RNG):
    return (
        rng.normal(size=(*batch, n)),
        rng.normal(size=(*batch, n, m)),
        rng.uniform(0.3, 2.0, size=(*batch, n)),
    )


def _dense_cov(W, Dg):
    return W @ np.swapaxes(W, -1, -2) + np.einsum("...i,ij->...ij", Dg, np.eye(Dg.shape[-1]))


@pytest.mark.parametrize("batch,n,m", [((), 4, 2), ((3,), 5, 1), ((2, 2), 3, 4)])
def test_lowrank_mvn_matches_dense_gaussian(batch, n, m):
    loc, W, Dg = _lowrank_params(batch, n, m)
    d = D.LowRankMultivariateNormal(t64(loc), t64(W), t64(Dg))
    assert d.batch_shape == batch and d.event_shape == (n,)
    cov = _dense_cov(W, Dg)
    x = RNG.normal(size=(6, *batch, n))
    lp = d.log_prob(t64(x)).numpy()
    assert lp.shape == (6, *batch)
    flat_cov, flat_loc = cov.reshape(-1, n, n), loc.reshape(-1, n)
    xs = x.reshape(6, -1, n)
    ref = np.stack(
        [stats.multivariate_normal(flat_loc[b], flat_cov[b]).logpdf(xs[:, b]) for b in range(len(flat_cov))],
        -1,
    )
    np.testing.assert_allclose(lp, ref.reshape(6, *batch), rtol=1e-10)
    ent = [stats.multivariate_normal(flat_loc[b], flat_cov[b]).entropy() for b in range(len(flat_cov))]
    np.testing.assert_allclose(d.entropy().numpy(), np.reshape(ent, batch), rtol=1e-10)
    np.testing.assert_allclose(d.covariance_matrix.numpy(), cov, rtol=1e-10)
    np.testing.assert_allclose(d.precision_matrix.numpy(), np.linalg.inv(cov), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(d.scale_tril.numpy(), np.linalg.cholesky(cov), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(d.variance.numpy(), np.diagonal(cov, axis1=-2, axis2=-1), rtol=1e-12)
    np.testing.assert_allclose(d.stddev.numpy(), np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1)), rtol=1e-12)
    np.testing.assert_array_equal(d.mean.numpy(), loc)
    np.testing.assert_array_equal(d.mode.numpy(), loc)


def test_lowrank_mvn_broadcasts_parameter_batches():
    loc, W, Dg = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2)), RNG.uniform(0.5, 1.0, size=(2, 1, 4))
    d = D.LowRankMultivariateNormal(t64(loc), t64(W), t64(Dg))
    assert d.batch_shape == (2, 3)
    assert tuple(d.cov_factor.shape) == (2, 3, 4, 2) and tuple(d.cov_diag.shape) == (2, 3, 4)
    assert tuple(d.rsample((5,)).shape) == (5, 2, 3, 4)
    assert tuple(d.entropy().shape) == (2, 3)
    x = RNG.normal(size=(2, 3, 4))
    cov = _dense_cov(W, Dg[1, 0])
    ref = stats.multivariate_normal(loc[2], cov).logpdf(x[1, 2])
    np.testing.assert_allclose(d.log_prob(t64(x)).numpy()[1, 2], ref, rtol=1e-10)
    e = d.expand((4, 2, 3))
    assert e.batch_shape == (4, 2, 3) and e.event_shape == (4,)
    np.testing.assert_allclose(
        e.log_prob(t64(x)).numpy(), np.broadcast_to(d.log_prob(t64(x)).numpy(), (4, 2, 3))
    )
    assert tuple(e.sample((2,)).shape) == (2, 4, 2, 3, 4)


def test_lowrank_mvn_sample_moments():
    loc, W, Dg = (
        np.array([1.0, -2.0, 0.5]),
        np.array([[1.0, 0.0], [0.5, -1.0], [0.0, 2.0]]),
        np.array([0.5, 1.0, 0.2]),
    )
    rustdl.manual_seed(0)
    x = D.LowRankMultivariateNormal(t64(loc), t64(W), t64(Dg)).sample((40000,)).numpy()
    assert x.shape == (40000, 3)
    np.testing.assert_allclose(x.mean(0), loc, atol=0.05)
    np.testing.assert_allclose(np.cov(x.T), _dense_cov(W, Dg), atol=0.1)


def test_lowrank_mvn_gradients_match_finite_differences():
    loc, W, Dg = _lowrank_params((2,), 3, 2)
    x = RNG.normal(size=(4, 2, 3))

    def lp_loss(lo, w, dg):
        d = D.LowRankMultivariateNormal(lo, w, dg)
        return d.log_prob(t64(x)).sum() + d.entropy().sum()

    def rs_loss(lo, w, dg):
        rustdl.manual_seed(7)
        s = D.LowRankMultivariateNormal(lo, w, dg).rsample((3,))
        return (s.sin() * s).sum()

    for loss in (lp_loss, rs_loss):
        check_grads(loss, [loc, W, Dg], rtol=1e-5, atol=1e-6)


def _np_kl(mp, Sp, mq, Sq):
    n = mp.shape[-1]
    Sq_inv = np.linalg.inv(Sq)
    diff = mq - mp
    return 0.5 * (
        np.trace(Sq_inv @ Sp) + diff @ Sq_inv @ diff - n + np.linalg.slogdet(Sq)[1] - np.linalg.slogdet(Sp)[1]
    )


@pytest.mark.parametrize("kind", ["lr-lr", "mvn-lr", "lr-mvn"])
def test_lowrank_kl_divergences_match_dense_formula(kind):
    n = 4

    def make(lowrank, batch, m):
        loc, W, Dg = _lowrank_params(batch, n, m)
        cov = _dense_cov(W, Dg)
        if lowrank:
            return D.LowRankMultivariateNormal(t64(loc), t64(W), t64(Dg)), loc, cov
        return D.MultivariateNormal(t64(loc), covariance_matrix=t64(cov)), loc, cov

    p, mp, Sp = make(kind.startswith("lr"), (3,), 2)
    q, mq, Sq = make(kind.endswith("lr"), (), 3)
    kl = D.kl_divergence(p, q).numpy()
    assert kl.shape == (3,)
    ref = [_np_kl(mp[b], Sp[b], mq, Sq) for b in range(3)]
    np.testing.assert_allclose(kl, ref, rtol=1e-9)
    self_kl = D.kl_divergence(p, p).numpy()
    np.testing.assert_allclose(self_kl, 0.0, atol=1e-10)


def test_lowrank_kl_gradient_matches_finite_differences():
    (lp, Wp, Dp), (lq, Wq, Dq) = _lowrank_params((), 3, 2), _lowrank_params((), 3, 1)

    def kl(wp, dq):
        p = D.LowRankMultivariateNormal(t64(lp), wp, t64(Dp))
        q = D.LowRankMultivariateNormal(t64(lq), t64(Wq), dq)
        return D.kl_divergence(p, q)

    g_w, g_d = autograd_of(kl, Wp, Dq)
    np.testing.assert_allclose(g_w, fd_grad(lambda a: kl(t64(a), t64(Dq)).item(), Wp), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g_d, fd_grad(lambda a: kl(t64(Wp), t64(a)).item(), Dq), rtol=1e-6, atol=1e-8)


def test_lowrank_mvn_argument_errors():
    z = np.zeros
    LR = D.LowRankMultivariateNormal
    with pytest.raises(ValueError, match="at least one-dimensional"):
        LR(t64(0.0), t64(z((1, 1))), t64([1.0]))
    with pytest.raises(ValueError, match="two-dimensional"):
        LR(t64(z(2)), t64(z(2)), t64([1.0, 1.0]))
    with pytest.raises(ValueError, match="cov_factor"):
        LR(t64(z(2)), t64(z((3, 1))), t64([1.0, 1.0]))
    with pytest.raises(ValueError, match="cov_diag"):
        LR(t64(z(2)), t64(z((2, 1))), t64([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="Incompatible batch shapes"):
        LR(t64(z((3, 2))), t64(z((4, 2, 1))), t64([1.0, 1.0]))
    with pytest.raises(ValueError, match="cov_diag"):
        LR(t64(z(2)), t64(z((2, 1))), t64([1.0, -1.0]), validate_args=True)
    d = LR(t64(z(2)), t64(z((2, 1))), t64([1.0, 1.0]))
    with pytest.raises(ValueError):
        d.log_prob(t64(z(3)))
    with pytest.raises(ValueError, match="event shapes"):
        D.kl_divergence(d, LR(t64(z(3)), t64(z((3, 1))), t64([1.0, 1.0, 1.0])))
    assert LR.has_rsample and LR.support.event_dim == 1
    assert set(LR.arg_constraints) == {"loc", "cov_factor", "cov_diag"}


# ---------------------------------------------------------------- OneHotCategoricalStraightThrough


def test_one_hot_straight_through_rsample():
    logits = RNG.normal(size=(3, 5))
    w = RNG.normal(size=(3, 5))
    lt = t64(logits, requires_grad=True)
    d = D.OneHotCategoricalStraightThrough(logits=lt)
    assert isinstance(d, D.OneHotCategorical) and d.has_rsample
    s = d.rsample((4,))
    assert tuple(s.shape) == (4, 3, 5)
    v = s.detach().numpy()
    assert set(np.unique(v)) <= {0.0, 1.0} and np.all(v.sum(-1) == 1)
    (s * t64(w)).sum().backward()
    # straight-through: the gradient of 4 · Σ w · softmax(logits)
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    ref = 4 * p * (w - (w * p).sum(-1, keepdims=True))
    np.testing.assert_allclose(lt.grad.numpy(), ref, rtol=1e-10)
    e = d.expand((2, 3))
    assert type(e) is D.OneHotCategoricalStraightThrough and e.batch_shape == (2, 3) and e.event_shape == (5,)
    assert tuple(e.rsample().shape) == (2, 3, 5)
    x = np.eye(5)[[1, 4, 0]]
    np.testing.assert_allclose(
        e.log_prob(t64(x)).detach().numpy(),
        np.broadcast_to(np.log(p[[0, 1, 2], [1, 4, 0]]), (2, 3)),
        rtol=1e-10,
    )


# ---------------------------------------------------------------- (Logit)RelaxedBernoulli


def _binary_concrete_pdf(y, p, tau):
    a = p / (1 - p)
    return tau * a * y ** (-tau - 1) * (1 - y) ** (-tau - 1) / (a * y ** (-tau) + (1 - y) ** (-tau)) ** 2


@pytest.mark.parametrize("p,tau", [(0.3, 0.7), (0.8, 2.2), (0.5, 1.0)])
def test_relaxed_bernoulli_density(p, tau):
    d = D.RelaxedBernoulli(t64(tau), probs=t64([p]))
    y = np.array([0.05, 0.3, 0.5, 0.77, 0.95])
    np.testing.assert_allclose(
        d.log_prob(t64(y[:, None])).numpy()[:, 0],
        np.log(_binary_concrete_pdf(y, p, tau)),
        rtol=1e-9,
        atol=1e-14,
    )
    assert math.isclose(integrate.quad(lambda v: _binary_concrete_pdf(v, p, tau), 0, 1)[0], 1.0, rel_tol=1e-6)
    logit = D.LogitRelaxedBernoulli(t64(tau), logits=t64([math.log(p / (1 - p))]))
    x = np.array([-3.0, -0.2, 0.0, 1.5, 4.0])
    a = p / (1 - p)
    ref = np.log(tau * a * np.exp(-tau * x) / (1 + a * np.exp(-tau * x)) ** 2)
    np.testing.assert_allclose(logit.log_prob(t64(x[:, None])).numpy()[:, 0], ref, rtol=1e-9, atol=1e-14)


def test_relaxed_bernoulli_sampling_and_gradients():
    probs = np.array([0.1, 0.45, 0.9])
    rustdl.manual_seed(3)
    d = D.RelaxedBernoulli(t64(0.5), probs=t64(probs))
    assert d.has_rsample and not D.LogitRelaxedBernoulli.has_rsample  # as PyTorch
    s = d.sample((20000,)).numpy()
    assert s.shape == (20000, 3) and np.all((s > 0) & (s < 1))
    # P(Y > 1/2) = P(logit(u) + logits > 0) = probs, at any temperature
    np.testing.assert_allclose((s > 0.5).mean(0), probs, atol=0.015)

    def loss(temp, pr):
        rustdl.manual_seed(11)
        y = D.RelaxedBernoulli(temp, probs=pr).rsample((4,))
        return (y * y).sum()

    g_t, g_p = autograd_of(loss, 0.7, probs)
    np.testing.assert_allclose(
        g_t, fd_grad(lambda a: loss(t64(a), t64(probs)).item(), np.array(0.7)), rtol=1e-6
    )
    np.testing.assert_allclose(g_p, fd_grad(lambda a: loss(t64(0.7), t64(a)).item(), probs), rtol=1e-6)


def test_relaxed_bernoulli_shapes_expand_and_errors():
    d = D.RelaxedBernoulli(t64(1.5), logits=t64([[0.2, -1.0]]))
    assert d.batch_shape == (1, 2) and d.event_shape == ()
    assert tuple(d.sample((3,)).shape) == (3, 1, 2)
    np.testing.assert_allclose(d.probs.numpy(), 1 / (1 + np.exp(-np.array([[0.2, -1.0]]))))
    e = d.expand((4, 2))
    assert type(e) is D.RelaxedBernoulli and e.batch_shape == (4, 2)
    y = np.full((4, 2), 0.3)
    np.testing.assert_allclose(
        e.log_prob(t64(y)).numpy(), np.broadcast_to(d.log_prob(t64(y[:1])).numpy(), (4, 2))
    )
    assert D.RelaxedBernoulli(t64(1.0), probs=0.3).batch_shape == ()
    with pytest.raises(ValueError):
        D.RelaxedBernoulli(t64(1.0), probs=t64([0.5]), logits=t64([0.0]))
    with pytest.raises(ValueError):
        D.RelaxedBernoulli(t64(1.0))
    with pytest.raises(ValueError):
        D.RelaxedBernoulli(t64(1.0), probs=t64([1.5]))
    with pytest.raises(ValueError):
        D.RelaxedBernoulli(t64(1.0), probs=t64([0.5])).log_prob(t64([1.5]))
    with pytest.raises(ValueError):
        D.LogitRelaxedBernoulli(t64(1.0), probs=t64([-0.1]))


# ---------------------------------------------------------------- GeneralizedPareto

GPD_CASES = [(0.3, 1.5, 0.4), (-1.0, 0.7, -0.3), (0.0, 2.0, 0.0), (1.0, 1.0, -1.0), (0.5, 0.8, 0.8)]


@pytest.mark.parametrize("loc,scale,c", GPD_CASES)
def test_generalized_pareto_matches_scipy(loc, scale, c):
    d = D.GeneralizedPareto(t64(loc), t64(scale), t64(c))
    ref = stats.genpareto(c, loc=loc, scale=scale)
    hi = loc - scale / c if c < 0 else loc + 10 * scale
    x = loc + (hi - loc) * np.array([0.01, 0.2, 0.5, 0.9, 0.99])
    np.testing.assert_allclose(d.log_prob(t64(x)).numpy(), ref.logpdf(x), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(d.cdf(t64(x)).numpy(), ref.cdf(x), rtol=1e-9)
    np.testing.assert_allclose(d.log_survival_function(t64(x)).numpy(), ref.logsf(x), rtol=1e-9, atol=1e-12)
    q = np.array([0.01, 0.3, 0.5, 0.95])
    np.testing.assert_allclose(d.icdf(t64(q)).numpy(), ref.ppf(q), rtol=1e-9)
    np.testing.assert_allclose(d.entropy().item(), ref.entropy(), rtol=1e-9)
    if c < 1:
        np.testing.assert_allclose(d.mean.item(), ref.mean(), rtol=1e-9)
    else:
        assert math.isnan(d.mean.item())
    if c < 0.5:
        np.testing.assert_allclose(d.variance.item(), ref.var(), rtol=1e-9)
    else:
        assert math.isnan(d.variance.item())
    upper = d.support.upper_bound.item()
    assert upper == (math.inf if c >= 0 else hi)
    assert d.mode.item() == loc


def test_generalized_pareto_sampling_gradients_and_shapes():
    loc, scale, c = np.array([0.0, 1.0, -0.5]), np.array([1.0, 0.5, 2.0]), np.array([0.2, 0.0, -0.4])
    d = D.GeneralizedPareto(t64(loc), t64(scale), t64(c))
    assert d.batch_shape == (3,) and d.has_rsample
    rustdl.manual_seed(5)
    s = d.sample((40000,)).numpy()
    ref = stats.genpareto(c, loc=loc, scale=scale)
    np.testing.assert_allclose(s.mean(0), ref.mean(), rtol=0.03, atol=0.02)
    np.testing.assert_allclose(np.median(s, 0), ref.median(), rtol=0.03, atol=0.02)
    x = np.array([0.4, 1.3, 0.2])

    def lp_loss(lo, sc, co):
        return (
            D.GeneralizedPareto(lo, sc, co).log_prob(t64(x)) + D.GeneralizedPareto(lo, sc, co).cdf(t64(x))
        ).sum()

    def rs_loss(lo, sc, co):
        rustdl.manual_seed(9)
        return D.GeneralizedPareto(lo, sc, co).rsample((4,)).square().sum()

    c_nz = np.array([0.2, 0.3, -0.4])  # finite differences need ξ away from the ξ = 0 switch
    for loss in (lp_loss, rs_loss):
        check_grads(loss, [loc, scale, c_nz], rtol=1e-6, atol=1e-8)
    scalar = D.GeneralizedPareto(0.0, 1.0, 0.1)
    assert scalar.batch_shape == () and tuple(scalar.sample((2,)).shape) == (2,)
    e = d.expand((2, 3))
    assert e.batch_shape == (2, 3) and tuple(e.entropy().shape) == (2, 3)


def test_generalized_pareto_validation():
    with pytest.raises(ValueError):
        D.GeneralizedPareto(t64(0.0), t64(-1.0), t64(0.1))
    d = D.GeneralizedPareto(t64(0.0), t64(1.0), t64(-0.5))  # support [0, 2]
    with pytest.raises(ValueError):
        d.log_prob(t64(-0.1))
    with pytest.raises(ValueError):
        d.log_prob(t64(2.5))
    with pytest.raises(ValueError):
        d.cdf(t64(-0.1))
    assert math.isfinite(d.log_prob(t64(1.9)).item())


# ---------------------------------------------------------------- ExponentialFamily


@pytest.mark.parametrize(
    "name",
    [
        "Normal",
        "Bernoulli",
        "Gamma",
        "Exponential",
        "Beta",
        "Dirichlet",
        "Poisson",
        "ContinuousBernoulli",
        "Wishart",
        "Chi2",
    ],
)
def test_exponential_family_membership(name):
    assert issubclass(getattr(D, name), D.ExponentialFamily)


def test_non_members():
    for name in ["Categorical", "Binomial", "Uniform", "Laplace", "LowRankMultivariateNormal"]:
        assert not issubclass(getattr(D, name), D.ExponentialFamily)


@pytest.mark.parametrize(
    "make",
    [
        lambda: D.Normal(t64([0.3, -1.0]), t64([1.2, 0.4])),
        lambda: D.Bernoulli(t64([0.3, 0.8])),
        lambda: D.Gamma(t64([2.0, 0.5]), t64([1.5, 3.0])),
        lambda: D.Exponential(t64([2.0, 0.5])),
        lambda: D.ContinuousBernoulli(t64([0.2, 0.7])),
        lambda: D.Chi2(t64([3.0, 0.7])),
        lambda: D.Wishart(t64(4.0), covariance_matrix=t64([[2.0, 0.3], [0.3, 1.0]])),
    ],
)
def test_bregman_entropy_equals_closed_form(make):
    d = make()
    np.testing.assert_allclose(
        D.ExponentialFamily.entropy(d).detach().numpy(), d.entropy().detach().numpy(), rtol=1e-8
    )


def _np_kl_gamma(a1, b1, a2, b2):
    from scipy.special import digamma, gammaln

    return (
        (a1 - a2) * digamma(a1)
        - gammaln(a1)
        + gammaln(a2)
        + a2 * (np.log(b1) - np.log(b2))
        + a1 * (b2 - b1) / b1
    )


def _np_kl_beta(a1, b1, a2, b2):
    from scipy.special import betaln, digamma

    return (
        betaln(a2, b2)
        - betaln(a1, b1)
        + (a1 - a2) * digamma(a1)
        + (b1 - b2) * digamma(b1)
        + (a2 - a1 + b2 - b1) * digamma(a1 + b1)
    )


@pytest.mark.parametrize(
    "name,p,q,ref",
    [
        ("Gamma", ([2.0, 0.5], [1.5, 3.0]), ([1.0, 0.7], [2.5, 1.0]), _np_kl_gamma),
        ("Chi2", ([2.0, 0.5],), ([1.0, 0.7],), lambda k1, k2: _np_kl_gamma(k1 / 2, 0.5, k2 / 2, 0.5)),
        ("Beta", ([2.0, 0.5], [1.5, 3.0]), ([1.0, 0.7], [2.5, 1.0]), _np_kl_beta),
        ("Exponential", ([2.0, 0.5],), ([1.0, 0.7],), lambda r1, r2: np.log(r1 / r2) + r2 / r1 - 1),
        ("Poisson", ([2.0, 0.5],), ([1.0, 0.7],), lambda l1, l2: l1 * np.log(l1 / l2) - l1 + l2),
    ],
)
def test_bregman_kl_values_and_gradients(name, p, q, ref):
    cls = getattr(D, name)
    p_np, q_np = [np.array(v) for v in p], [np.array(v) for v in q]
    expected = ref(*p_np, *q_np)

    def kl(*p_t):
        return D.kl_divergence(cls(*p_t), cls(*[t64(v) for v in q_np]))

    np.testing.assert_allclose(kl(*[t64(v) for v in p_np]).detach().numpy(), expected, rtol=1e-8)
    # the gradients reach p's parameters too (PyTorch's Bregman path detaches them)
    # (a wide step: the distributions' float64 digamma is accurate to about 1e-10 only)
    check_grads(lambda *a: kl(*a).sum(), p_np, rtol=2e-5, atol=1e-8, eps=1e-4)


def test_bregman_kl_dirichlet_and_cross_family_error():
    from scipy.special import digamma, gammaln

    a, b = np.array([2.0, 0.5, 1.0]), np.array([1.0, 0.7, 3.0])
    ref = (
        gammaln(a.sum())
        - gammaln(a).sum()
        - gammaln(b.sum())
        + gammaln(b).sum()
        + ((a - b) * (digamma(a) - digamma(a.sum()))).sum()
    )
    kl = D.kl_divergence(D.Dirichlet(t64(a)), D.Dirichlet(t64(b)))
    assert tuple(kl.shape) == ()
    np.testing.assert_allclose(kl.item(), ref, rtol=1e-8)
    with pytest.raises(NotImplementedError):
        D.kl_divergence(
            D.Gamma(t64(1.0), t64(1.0)), D.Poisson(t64(1.0))
        )  # no rule between these (as PyTorch)


def test_exponential_family_subclass():
    class Rayleigh2(D.ExponentialFamily):
        """The exponential distribution of x² for a Rayleigh x: natural parameter −rate."""

        arg_constraints = {}
        _mean_carrier_measure = 0

        def __init__(self, rate):
            self.rate = rate
            super().__init__(tuple(rate.shape))

        @property
        def _natural_params(self):
            return (-self.rate,)

        def _log_normalizer(self, x):
            return -(-x).log()

    rate = np.array([0.5, 2.0])
    np.testing.assert_allclose(Rayleigh2(t64(rate)).entropy().detach().numpy(), 1 - np.log(rate), rtol=1e-10)
    kl = D.kl_divergence(Rayleigh2(t64(rate)), Rayleigh2(t64([1.0, 1.0]))).detach().numpy()
    np.testing.assert_allclose(kl, np.log(rate) + 1 / rate - 1, rtol=1e-10)
    with pytest.raises(NotImplementedError):
        D.ExponentialFamily().entropy()


# ---------------------------------------------------------------- transforms


def _np_corr_cholesky(x):
    """Reference: fill tanh(x) row by row, then y_ij = z_ij · √(1 − Σ_{k<j} y_ik²)."""
    n = round((0.25 + 2 * len(x)) ** 0.5 + 0.5)
    z = np.tanh(x)
    y = np.zeros((n, n))
    k = 0
    for i in range(n):
        for j in range(i):
            y[i, j] = z[k] * math.sqrt(1 - (y[i, :j] ** 2).sum())
            k += 1
        y[i, i] = math.sqrt(1 - (y[i, :i] ** 2).sum())
    return y


@pytest.mark.parametrize("n_vec", [1, 3, 6, 10])
def test_corr_cholesky_transform(n_vec):
    t = T.CorrCholeskyTransform()
    x = RNG.normal(size=(2, n_vec))
    y = t(t64(x))
    d = round((0.25 + 2 * n_vec) ** 0.5 + 0.5)
    assert (
        tuple(y.shape) == (2, d, d)
        and t.forward_shape((2, n_vec)) == (2, d, d)
        and t.inverse_shape((2, d, d)) == (2, n_vec)
    )
    for b in range(2):
        np.testing.assert_allclose(y.numpy()[b], _np_corr_cholesky(x[b]), rtol=1e-12, atol=1e-14)
    assert bool(t.codomain.check(y).all().item())
    np.testing.assert_allclose(t.inv(y).numpy(), x, rtol=1e-9, atol=1e-10)
    # log|det| of x ↦ strictly-lower part of y
    rows, cols = np.tril_indices(d, -1)
    for b in range(2):
        jac = np.zeros((n_vec, n_vec))
        for k in range(n_vec):
            e = np.zeros(n_vec)
            e[k] = 1e-6
            jac[:, k] = (
                _np_corr_cholesky(x[b] + e)[rows, cols] - _np_corr_cholesky(x[b] - e)[rows, cols]
            ) / 2e-6
        ladj = t.log_abs_det_jacobian(t64(x[b]), t64(_np_corr_cholesky(x[b]))).item()
        np.testing.assert_allclose(ladj, np.linalg.slogdet(jac)[1], rtol=1e-6, atol=1e-7)


def test_corr_cholesky_errors_and_constraint():
    t = T.CorrCholeskyTransform()
    with pytest.raises(ValueError):
        t.forward_shape((4,))
    with pytest.raises(ValueError):
        t(t64(np.zeros(4)))
    with pytest.raises(ValueError):
        t.inverse_shape((2, 3))
    assert not bool(t.codomain.check(t64([[1.0, 0.0], [0.5, 0.5]])).item())
    assert not bool(t.codomain.check(t64([[1.0, 0.1], [0.0, 1.0]])).item())
    assert t.domain.event_dim == 1 and t.codomain.event_dim == 2


def test_corr_cholesky_in_transformed_distribution():
    base = D.Independent(D.Normal(t64(np.zeros(3)), t64(np.ones(3))), 1)
    d = D.TransformedDistribution(base, T.CorrCholeskyTransform())
    assert d.batch_shape == () and d.event_shape == (3, 3)
    x = RNG.normal(size=3)
    y = _np_corr_cholesky(x)
    normal = -0.5 * (x**2).sum() - 1.5 * math.log(2 * math.pi)
    ladj = T.CorrCholeskyTransform().log_abs_det_jacobian(t64(x), t64(y)).item()
    np.testing.assert_allclose(d.log_prob(t64(y)).item(), normal - ladj, rtol=1e-9)


def test_cat_transform():
    x = RNG.normal(size=(5, 4))
    t = T.CatTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.5)], dim=0, lengths=[2, 3])
    y = t(t64(x))
    ref = np.concatenate([np.exp(x[:2]), 1 + 2.5 * x[2:]], 0)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(t.inv(y).numpy(), x, rtol=1e-10)
    ladj = t.log_abs_det_jacobian(t64(x), y).numpy()
    np.testing.assert_allclose(ladj, np.concatenate([x[:2], np.full((3, 4), math.log(2.5))], 0), rtol=1e-12)
    assert t.bijective and t.event_dim == 0 and t.length == 5
    assert t.codomain.check(y).numpy().all()
    # vector transforms along the event dim: their per-vector log-Jacobians are summed
    x = RNG.normal(size=(2, 3, 4))
    t = T.CatTransform(
        [T.IndependentTransform(T.ExpTransform(), 1), T.AffineTransform(0.0, 3.0, event_dim=1)],
        dim=-1,
        lengths=[2, 2],
    )
    ladj = t.log_abs_det_jacobian(t64(x), t(t64(x))).numpy()
    np.testing.assert_allclose(ladj, x[..., :2].sum(-1) + 2 * math.log(3.0), rtol=1e-12)
    # ... and concatenated along a batch dim
    t = T.CatTransform(
        [T.IndependentTransform(T.ExpTransform(), 1), T.AffineTransform(0.0, 3.0, event_dim=1)],
        dim=1,
        lengths=[1, 2],
    )
    ladj = t.log_abs_det_jacobian(t64(x), t(t64(x))).numpy()
    np.testing.assert_allclose(
        ladj, np.concatenate([x[:, :1].sum(-1), np.full((2, 2), 4 * math.log(3.0))], 1)
    )
    with pytest.raises(AssertionError):
        T.CatTransform([T.ExpTransform()], 0, [3])(t64(np.zeros((2, 3))))
    with pytest.raises(AssertionError):
        T.CatTransform([T.ExpTransform()], 0, [1, 2])
    with pytest.raises(AssertionError):
        T.CatTransform([1], 0)


def test_stack_transform():
    x = RNG.normal(size=(4, 3)) * 0.5
    t = T.StackTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.5), T.TanhTransform()], dim=1)
    xt = t64(x, requires_grad=True)
    y = t(xt)
    ref = np.stack([np.exp(x[:, 0]), 1 + 2.5 * x[:, 1], np.tanh(x[:, 2])], 1)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(t.inv(y).detach().numpy(), x, rtol=1e-9)
    ladj = t.log_abs_det_jacobian(xt, y)
    ref_ladj = np.stack([x[:, 0], np.full(4, math.log(2.5)), np.log(1 - np.tanh(x[:, 2]) ** 2)], 1)
    np.testing.assert_allclose(ladj.detach().numpy(), ref_ladj, rtol=1e-10)
    (y.sum() + ladj.sum()).backward()
    ref_grad = np.stack(
        [np.exp(x[:, 0]) + 1, np.full(4, 2.5), (1 - np.tanh(x[:, 2]) ** 2) - 2 * np.tanh(x[:, 2])], 1
    )
    np.testing.assert_allclose(xt.grad.numpy(), ref_grad, rtol=1e-10)
    assert t.codomain.check(y).numpy().all() and t.domain.event_dim == 0
    with pytest.raises(AssertionError):
        T.StackTransform([T.ExpTransform()], 0)(t64(np.zeros((2, 3))))
    with pytest.raises(AssertionError):
        T.StackTransform([T.ExpTransform()], 3)(t64(np.zeros((1, 3))))
