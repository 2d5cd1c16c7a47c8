"""Reparameterised sampling of Gamma, Beta, Dirichlet, Chi2, StudentT and FisherSnedecor: the
implicit gradient of a Gamma draw against finite differences of the inverse CDF, and the
gradients of sample means against the closed-form derivatives of the means; the regularized
incomplete gamma functions against closed forms."""

import math

import numpy as np
import pytest
import rustdl
from rustdl.autograd import gradcheck
from rustdl.distributions import Beta, Chi2, Dirichlet, FisherSnedecor, Gamma, StudentT
from rustdl.distributions.gamma_family import _np_gamma_sample_grad, _np_gammainc


def D(v, requires_grad=True):
    return rustdl.tensor(v, dtype=rustdl.float64, requires_grad=requires_grad)


def test_incomplete_gamma_matches_closed_forms():
    x = np.array([1e-8, 0.01, 0.5, 1.0, 2.0, 5.0, 30.0, 200.0])
    np.testing.assert_allclose(_np_gammainc(1.0, x), -np.expm1(-x), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(_np_gammainc(0.5, x), [math.erf(math.sqrt(v)) for v in x], rtol=1e-13)
    q3 = np.exp(-x) * (1 + x + x**2 / 2)
    np.testing.assert_allclose(_np_gammainc(3.0, x, upper=True), q3, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(_np_gammainc(3.0, x), 1 - q3, rtol=1e-12, atol=1e-15)
    edge = _np_gammainc(np.array([2.0, 2.0, -1.0, np.nan]), np.array([0.0, np.inf, 1.0, 1.0]))
    np.testing.assert_array_equal(edge[:2], [0.0, 1.0])
    assert np.isnan(edge[2:]).all()
    a = D([0.5, 1.0, 3.0], False)
    x = D([0.3, 2.0, 1.5])
    np.testing.assert_allclose(
        rustdl.special.gammainc(a, x).detach().numpy(),
        [math.erf(math.sqrt(0.3)), 1 - math.exp(-2), 1 - math.exp(-1.5) * (1 + 1.5 + 1.125)],
        rtol=1e-12,
    )
    assert gradcheck(lambda t: rustdl.special.gammainc(a, t), (x,))
    assert gradcheck(lambda t: rustdl.igammac(a, t), (x,))
    with pytest.raises(RuntimeError, match="first argument"):
        rustdl.special.gammainc(D([2.0]), D([1.0], False)).sum().backward()


def _quantile(a, u):
    """P⁻¹(a, u) by bisection, elementwise over arrays."""
    a, u = np.broadcast_arrays(np.asarray(a, float), np.asarray(u, float))
    lo, hi = np.full(a.shape, -700.0), np.log(a + 40 * np.sqrt(a) + 40)  # in log x
    for _ in range(120):
        mid = (lo + hi) / 2
        below = _np_gammainc(a, np.exp(mid)) < u
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return np.exp((lo + hi) / 2)


@pytest.mark.parametrize("a", [0.05, 0.3, 1.0, 2.5, 10.0, 150.0, 800.0])
def test_implicit_gamma_gradient_is_the_quantiles_derivative(a):
    u = np.array([1e-4, 0.1, 0.5, 0.9, 0.999])
    x = _quantile(a, u)
    h = 1e-6 * a
    fd = (_quantile(a + h, u) - _quantile(a - h, u)) / (2 * h)
    got = _np_gamma_sample_grad(np.full(5, a), x)
    np.testing.assert_allclose(got, fd, rtol=1e-4 if a >= 500 else 1e-6)


def _mean_grads(dist_fn, params, n=200_000, reduce=lambda x: x.mean()):
    rustdl.manual_seed(0)
    x = dist_fn(*params).rsample((n,))
    reduce(x).backward()
    return [p.grad.item() for p in params]


def test_sample_mean_gradients_match_the_derivatives_of_the_means():
    a, b = D(2.5), D(1.5)
    ga, gb = _mean_grads(Gamma, [a, b])  # E = a / b
    assert ga == pytest.approx(1 / 1.5, rel=0.01) and gb == pytest.approx(-2.5 / 1.5**2, rel=0.01)
    a, b = D(2.5), D(1.5)
    ga, gb = _mean_grads(Beta, [a, b])  # E = a / (a + b)
    assert ga == pytest.approx(1.5 / 16, rel=0.02) and gb == pytest.approx(-2.5 / 16, rel=0.02)
    c = D([1.0, 2.0, 3.0])
    rustdl.manual_seed(0)
    x = Dirichlet(c).rsample((200_000,))
    x[:, 0].mean().backward()  # E[x0] = c0 / Σc
    np.testing.assert_allclose(c.grad.numpy(), [5 / 36, -1 / 36, -1 / 36], rtol=0.02)
    df = D(6.0)
    (g,) = _mean_grads(StudentT, [df], reduce=lambda x: x.square().mean())  # Var = df / (df − 2)
    assert g == pytest.approx(-2 / 16, rel=0.03)
    k = D(3.0)
    (g,) = _mean_grads(Chi2, [k])  # E = k
    assert g == pytest.approx(1.0, rel=0.01)
    d1, d2 = D(5.0), D(9.0)
    g1, g2 = _mean_grads(FisherSnedecor, [d1, d2])  # E = d2 / (d2 − 2)
    assert abs(g1) < 0.005 and g2 == pytest.approx(-2 / 49, rel=0.03)


def test_rsample_shapes_flags_and_tiny_concentrations():
    a = rustdl.tensor([0.01, 1.0])
    g = Gamma(a, rustdl.tensor([1.0, 2.0]))
    assert g.has_rsample and Beta(a, a).has_rsample and Dirichlet(a).has_rsample
    s = g.rsample((4, 3))
    assert tuple(s.shape) == (4, 3, 2) and bool((s > 0).all())
    assert not g.sample((2,)).requires_grad
    p = rustdl.tensor([0.01, 0.02], requires_grad=True)
    x = Gamma(p, 1.0).rsample((1000,))
    x.sum().backward()
    assert np.isfinite(p.grad.numpy()).all()
    assert np.isfinite(Gamma(p, 1.0).log_prob(x.detach()).detach().numpy()).all()
    d = Dirichlet(rustdl.tensor([[0.5, 0.5, 2.0]])).rsample((5,))
    assert tuple(d.shape) == (5, 1, 3)
    np.testing.assert_allclose(d.sum(-1).numpy(), 1.0, rtol=1e-5)


def test_inverse_gamma_density_moments_and_rsample():
    from rustdl.distributions import InverseGamma

    a, b = D([2.5, 4.0]), D([1.5, 0.5])
    x = np.array([0.7, 0.2])
    ig = InverseGamma(a, b)
    want = (
        2.5 * 0
        + np.array([2.5, 4.0]) * np.log([1.5, 0.5])
        - (np.array([2.5, 4.0]) + 1) * np.log(x)
        - np.array([1.5, 0.5]) / x
        - np.array([math.lgamma(2.5), math.lgamma(4.0)])
    )
    np.testing.assert_allclose(ig.log_prob(D(x, False)).detach().numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(ig.mean.detach().numpy(), [1.5 / 1.5, 0.5 / 3.0], rtol=1e-12)
    rustdl.manual_seed(0)
    s = InverseGamma(D(5.0), D(2.0)).rsample((200_000,))
    assert float(s.mean()) == pytest.approx(2.0 / 4.0, rel=0.01)


def _wishart_lp_ref(X, df, S):
    p = S.shape[0]
    mvlg = p * (p - 1) / 4 * math.log(math.pi) + sum(math.lgamma(df / 2 - j / 2) for j in range(p))
    return (
        0.5 * (df - p - 1) * np.linalg.slogdet(X)[1]
        - 0.5 * np.trace(np.linalg.solve(S, X))
        - 0.5 * df * p * math.log(2)
        - 0.5 * df * np.linalg.slogdet(S)[1]
        - mvlg
    )


def test_wishart_density_moments_and_rsample():
    from rustdl.distributions import Wishart

    S = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 1.5]])
    X = np.array([[3.0, 0.5, 0.2], [0.5, 2.0, 0.1], [0.2, 0.1, 4.0]])
    for kw in (
        {"covariance_matrix": D(S, False)},
        {"precision_matrix": D(np.linalg.inv(S), False)},
        {"scale_tril": D(np.linalg.cholesky(S), False)},
    ):
        W = Wishart(D(5.5, False), **kw)
        assert float(W.log_prob(D(X, False))) == pytest.approx(_wishart_lp_ref(X, 5.5, S), rel=1e-10)
    df = D(5.5)
    W = Wishart(df, covariance_matrix=D(S, False))
    np.testing.assert_allclose(W.mean.detach().numpy(), 5.5 * S, rtol=1e-12)
    rustdl.manual_seed(0)
    draws = W.rsample((40_000,))
    np.testing.assert_allclose(draws.mean(0).detach().numpy(), 5.5 * S, atol=0.08)
    draws[:, 0, 0].mean().backward()  # d E[X₀₀] / d df = S₀₀
    assert float(df.grad) == pytest.approx(S[0, 0], rel=0.03)
    with pytest.raises(ValueError, match="df"):
        Wishart(D(1.5, False), covariance_matrix=D(S, False))


def test_lkj_cholesky_density_integrates_and_draws_are_correlation_factors():
    from rustdl.distributions import LKJCholesky

    for eta in (0.5, 1.0, 3.0):
        theta = np.linspace(-np.pi / 2, np.pi / 2, 20001)[1:-1]  # r = sin θ: no endpoint singularity
        r = np.sin(theta)
        L = np.zeros((r.size, 2, 2))
        L[:, 0, 0] = 1
        L[:, 1, 0] = r
        L[:, 1, 1] = np.sqrt(1 - r**2)
        dens = np.exp(LKJCholesky(2, D(eta, False)).log_prob(D(L, False)).numpy())
        assert np.trapezoid(dens * np.cos(theta), theta) == pytest.approx(1.0, abs=2e-4)  # ends left out
    rustdl.manual_seed(0)
    s = LKJCholesky(4, 2.0).sample((5000,)).numpy()
    np.testing.assert_allclose(np.linalg.norm(s, axis=-1), 1.0, rtol=1e-5)
    assert np.all(np.triu(s, 1) == 0) and np.all(np.diagonal(s, axis1=-2, axis2=-1) > 0)
    corr = s @ np.swapaxes(s, -1, -2)
    # the marginal of an off-diagonal correlation: Beta(η−1+d/2, same) on (−1, 1), variance 1/(2η+d−1)
    assert corr[:, 1, 0].var() == pytest.approx(1 / (2 * 2.0 + 3), rel=0.08)
