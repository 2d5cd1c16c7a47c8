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
