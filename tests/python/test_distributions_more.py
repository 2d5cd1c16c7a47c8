"""HalfNormal, HalfCauchy, Chi2, Weibull, Pareto, NegativeBinomial and Multinomial, and the
moments and quantiles added to the older families, against closed forms, numerical
integration and brute-force sums (independent of the code under test)."""

import itertools
import math

import numpy as np
import pytest
import rustdl
from rustdl import distributions as D


def _t(*v):
    return rustdl.tensor(v, dtype=rustdl.float64)


def _integrate(f, lo, hi, n=200_001):
    x = np.linspace(lo, hi, n)
    return np.trapezoid(f(x), x)


@pytest.mark.parametrize(
    "make,pdf,lo,hi",
    [
        (
            lambda: D.HalfNormal(_t(1.5)),
            lambda x: 2 * np.exp(-(x**2) / (2 * 1.5**2)) / (1.5 * math.sqrt(2 * math.pi)),
            0,
            20,
        ),
        (
            lambda: D.Weibull(_t(1.3), _t(2.2)),
            lambda x: (2.2 / 1.3) * (x / 1.3) ** 1.2 * np.exp(-((x / 1.3) ** 2.2)),
            0,
            20,
        ),
        (lambda: D.Pareto(_t(0.5), _t(3.5)), lambda x: 3.5 * 0.5**3.5 / x**4.5, 0.5, 2000),
        (lambda: D.Chi2(_t(5.0)), lambda x: x**1.5 * np.exp(-x / 2) / (2**2.5 * math.gamma(2.5)), 1e-9, 120),
    ],
)
def test_continuous_densities_match_closed_forms_and_moments(make, pdf, lo, hi):
    d = make()
    xs = np.linspace(lo + 1e-3, min(hi, lo + 6), 7)
    np.testing.assert_allclose(d.log_prob(rustdl.tensor(xs)).numpy(), np.log(pdf(xs)), rtol=1e-10)
    np.testing.assert_allclose(_integrate(pdf, lo, hi), 1.0, atol=2e-3)
    np.testing.assert_allclose(d.mean.item(), _integrate(lambda x: x * pdf(x), lo, hi), rtol=5e-3)
    if not isinstance(d, D.Pareto):
        var = _integrate(lambda x: (x - d.mean.item()) ** 2 * pdf(x), lo, hi)
        np.testing.assert_allclose(d.variance.item(), var, rtol=5e-3)
        ent = _integrate(lambda x: -pdf(x) * np.log(np.maximum(pdf(x), 1e-300)), lo, hi)
        np.testing.assert_allclose(d.entropy().item(), ent, rtol=5e-3, atol=1e-3)
    if not isinstance(d, D.Chi2):
        p = rustdl.tensor([0.1, 0.5, 0.93], dtype=rustdl.float64)
        np.testing.assert_allclose(d.cdf(d.icdf(p)).numpy(), p.numpy(), rtol=1e-10)
        x = float(xs[3])
        np.testing.assert_allclose(d.cdf(_t(x)).item(), _integrate(pdf, lo, x, 400_001), rtol=1e-3)


def test_half_cauchy_and_half_normal_shapes_and_sampling():
    rustdl.manual_seed(0)
    d = D.HalfCauchy(rustdl.ones(2, 3, dtype=rustdl.float64) * 2)
    assert d.batch_shape == (2, 3) and d.sample((5,)).shape == (5, 2, 3)
    assert bool((d.sample((100,)) >= 0).all()) and math.isinf(d.mean[0, 0].item())
    with pytest.raises(ValueError, match="support"):
        d.log_prob(_t(-1.0))
    unchecked = D.HalfCauchy(_t(2.0), validate_args=False)
    assert unchecked.log_prob(_t(-1.0)).item() == -math.inf
    # P(|X| <= x) = 2 atan(x / s) / pi
    np.testing.assert_allclose(d.cdf(_t(3.0))[0, 0].item(), 2 * math.atan(1.5) / math.pi, rtol=1e-12)
    h = D.HalfNormal(_t(0.7, 2.0))
    s = h.sample((40_000,))
    np.testing.assert_allclose(s.mean(0).numpy(), h.mean.numpy(), rtol=0.03)
    # rsample is reparameterised: d E|X| / d scale = sqrt(2 / pi)
    scale = rustdl.tensor(1.3, dtype=rustdl.float64, requires_grad=True)
    D.HalfNormal(scale).rsample((50_000,)).mean().backward()
    np.testing.assert_allclose(scale.grad.item(), math.sqrt(2 / math.pi), rtol=0.03)


def test_negative_binomial_pmf_sums_moments_and_samples():
    for probs in (0.3, 0.75):
        d = D.NegativeBinomial(_t(3.5), probs=_t(probs))
        ks = np.arange(0, 400.0)
        pmf = np.exp(d.log_prob(rustdl.tensor(ks)).numpy())
        # Γ(k + r) / (k! Γ(r)) p^k (1 - p)^r by hand
        by_hand = np.exp([math.lgamma(k + 3.5) - math.lgamma(k + 1) - math.lgamma(3.5) for k in ks])
        np.testing.assert_allclose(pmf, by_hand * probs**ks * (1 - probs) ** 3.5, rtol=1e-9)
        np.testing.assert_allclose(pmf.sum(), 1.0, rtol=1e-9)
        np.testing.assert_allclose(d.mean.item(), (ks * pmf).sum(), rtol=1e-9)
        np.testing.assert_allclose(d.variance.item(), ((ks - d.mean.item()) ** 2 * pmf).sum(), rtol=1e-8)
        assert d.mode.item() == ks[np.argmax(pmf)]
        rustdl.manual_seed(1)
        np.testing.assert_allclose(d.sample((40_000,)).mean().item(), d.mean.item(), rtol=0.03)
    same = D.NegativeBinomial(_t(2.0), logits=_t(math.log(0.3 / 0.7)))
    np.testing.assert_allclose(
        same.log_prob(_t(4.0)).item(),
        D.NegativeBinomial(_t(2.0), probs=_t(0.3)).log_prob(_t(4.0)).item(),
        rtol=1e-12,
    )


def test_multinomial_log_prob_and_entropy_by_enumeration():
    p = np.array([0.2, 0.5, 0.3])
    n = 4
    d = D.Multinomial(n, probs=rustdl.tensor(p))
    support = [c for c in itertools.product(range(n + 1), repeat=3) if sum(c) == n]
    logs = []
    for c in support:
        coef = math.factorial(n) / math.prod(math.factorial(k) for k in c)
        want = math.log(coef) + sum(k * math.log(q) for k, q in zip(c, p))
        got = d.log_prob(rustdl.tensor(c, dtype=rustdl.float64)).item()
        np.testing.assert_allclose(got, want, rtol=1e-12)
        logs.append(want)
    probs = np.exp(logs)
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(d.entropy().item(), -(probs * np.array(logs)).sum(), rtol=1e-10)
    np.testing.assert_allclose(d.mean.numpy(), n * p)
    rustdl.manual_seed(2)
    s = d.sample((3, 2))
    assert s.shape == (3, 2, 3) and (s.sum(-1) == n).all()
    logits = D.Multinomial(n, logits=rustdl.tensor(np.log(p) + 1.0))
    np.testing.assert_allclose(logits.probs.numpy(), p, rtol=1e-12)


def test_binomial_entropy_and_mode_and_beta_dirichlet_modes():
    d = D.Binomial(6, probs=_t(0.3, 0.85))
    ks = np.arange(7)
    for i, q in enumerate((0.3, 0.85)):
        pmf = np.array([math.comb(6, k) * q**k * (1 - q) ** (6 - k) for k in ks])
        np.testing.assert_allclose(d.entropy()[i].item(), -(pmf * np.log(pmf)).sum(), rtol=1e-10)
        assert d.mode[i].item() == ks[np.argmax(pmf)]
    b = D.Beta(_t(3.0, 1.5, 0.5), _t(2.0, 0.5, 0.7))
    # (a - 1) / (a + b - 2) inside, the boundary where b < 1 <= a, the larger side where both < 1
    np.testing.assert_allclose(b.mode.numpy(), [2.0 / 3.0, 1.0, 0.0])
    dd = D.Dirichlet(rustdl.tensor([[1.5, 3.0, 0.7], [0.2, 0.9, 0.5]], dtype=rustdl.float64))
    np.testing.assert_allclose(dd.mode.numpy(), [[0.2, 0.8, 0.0], [0.0, 1.0, 0.0]])


def test_quantiles_of_exponential_laplace_lognormal_and_student_t_sampling():
    p = rustdl.tensor([0.05, 0.5, 0.9], dtype=rustdl.float64)
    e = D.Exponential(_t(2.0))
    np.testing.assert_allclose(e.icdf(p).numpy(), -np.log1p(-p.numpy()) / 2.0, rtol=1e-12)
    lap = D.Laplace(_t(1.0), _t(0.5))
    np.testing.assert_allclose(lap.cdf(lap.icdf(p)).numpy(), p.numpy(), rtol=1e-12)
    ln = D.LogNormal(_t(0.2), _t(0.7))
    np.testing.assert_allclose(
        ln.icdf(p).numpy(), np.exp(D.Normal(_t(0.2), _t(0.7)).icdf(p).numpy()), rtol=1e-12
    )
    np.testing.assert_allclose(ln.cdf(ln.icdf(p)).numpy(), p.numpy(), rtol=1e-10)
    # sample() needs no reparameterised gradient, even with a df that requires grad
    df = rustdl.tensor(4.0, requires_grad=True)
    assert D.StudentT(df).sample((3,)).shape == (3,)


@pytest.mark.parametrize(
    "make,pdf,lo,hi",
    [
        (lambda: D.Kumaraswamy(_t(1.5), _t(2.5)), lambda x: 1.5 * 2.5 * x**0.5 * (1 - x**1.5) ** 1.5, 0, 1),
        (
            lambda: D.FisherSnedecor(_t(5.0), _t(9.0)),
            lambda x: np.exp(
                math.lgamma(7)
                - math.lgamma(2.5)
                - math.lgamma(4.5)
                + 2.5 * math.log(5 / 9)
                + 1.5 * np.log(np.maximum(x, 1e-300))
                - 7 * np.log1p(5 / 9 * x)
            ),
            1e-9,
            400,
        ),
        (
            lambda: D.ContinuousBernoulli(_t(0.2)),
            lambda x: 0.2**x * 0.8 ** (1 - x) / _integrate(lambda t: 0.2**t * 0.8 ** (1 - t), 0, 1),
            0,
            1,
        ),
        (
            lambda: D.ContinuousBernoulli(_t(0.4999)),
            lambda x: (
                0.4999**x * 0.5001 ** (1 - x) / _integrate(lambda t: 0.4999**t * 0.5001 ** (1 - t), 0, 1)
            ),
            0,
            1,
        ),
    ],
)
def test_more_densities_match_numerical_integration(make, pdf, lo, hi):
    d = make()
    xs = np.linspace(lo + 0.05, min(hi, lo + 0.95), 5)
    np.testing.assert_allclose(d.log_prob(rustdl.tensor(xs)).numpy(), np.log(pdf(xs)), rtol=1e-7)
    np.testing.assert_allclose(d.mean.item(), _integrate(lambda x: x * pdf(x), lo, hi), rtol=2e-3)
    var = _integrate(lambda x: (x - d.mean.item()) ** 2 * pdf(x), lo, hi)
    np.testing.assert_allclose(d.variance.item(), var, rtol=5e-3)
    if not isinstance(d, D.FisherSnedecor):
        ent = _integrate(lambda x: -pdf(x) * np.log(np.maximum(pdf(x), 1e-300)), lo, hi)
        np.testing.assert_allclose(d.entropy().item(), ent, rtol=5e-3, atol=1e-4)
        p = rustdl.tensor([0.1, 0.5, 0.93], dtype=rustdl.float64)
        np.testing.assert_allclose(d.cdf(d.icdf(p)).numpy(), p.numpy(), rtol=1e-8, atol=1e-10)
        assert d.rsample((7,)).shape == (7, *d.batch_shape)
    rustdl.manual_seed(4)
    np.testing.assert_allclose(d.sample((40_000,)).mean().item(), d.mean.item(), rtol=0.03)


def test_von_mises_against_quadrature():
    t = np.linspace(0, np.pi, 200_001)
    loc = rustdl.tensor([0.3, -1.0, 2.5], dtype=rustdl.float64, requires_grad=True)
    kap = rustdl.tensor([1.5, 0.4, 80.0], dtype=rustdl.float64)
    d = D.VonMises(loc, kap)
    x = np.array([0.2, 1.0, 2.4])
    for i, k in enumerate((1.5, 0.4, 80.0)):
        # I_n(k) e^(-k) = (1/π) ∫_0^π e^(k (cos t − 1)) cos(n t) dt (the trapezoid rule is exact to
        # rounding for this smooth periodic integrand)
        i0 = np.trapezoid(np.exp(k * (np.cos(t) - 1)), t) / np.pi
        i1 = np.trapezoid(np.exp(k * (np.cos(t) - 1)) * np.cos(t), t) / np.pi
        want = k * math.cos(x[i] - loc[i].item()) - math.log(2 * math.pi) - (math.log(i0) + k)
        np.testing.assert_allclose(d.log_prob(rustdl.tensor(x))[i].item(), want, rtol=1e-10)
        np.testing.assert_allclose(d.variance[i].item(), 1 - i1 / i0, rtol=1e-8)
    d.log_prob(rustdl.tensor(x)).sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), kap.numpy() * np.sin(x - loc.detach().numpy()), rtol=1e-12)
    rustdl.manual_seed(5)
    s = D.VonMises(_t(2.0), _t(4.0)).sample((20_000,))
    assert float(s.min()) >= -math.pi and float(s.max()) < math.pi
    # the circular mean of the draws is loc
    np.testing.assert_allclose(math.atan2(s.sin().mean().item(), s.cos().mean().item()), 2.0, atol=0.03)


def test_erfcx_matches_the_scaled_complement_and_its_tail():
    x = rustdl.tensor(
        [-3.0, -0.5, 0.0, 0.5, 3.0, 10.0, 25.0, 27.0, 1e5], dtype=rustdl.float64, requires_grad=True
    )
    y = rustdl.special.erfcx(x)
    xs = x.detach().numpy()
    small = np.abs(xs) <= 25
    want = np.array([math.exp(v * v) * math.erfc(v) for v in xs[small]])
    np.testing.assert_allclose(y.detach().numpy()[small], want, rtol=1e-12)
    # far tail: erfcx(x) → 1/(x √π)
    np.testing.assert_allclose(y[-1].item(), 1 / (1e5 * math.sqrt(math.pi)), rtol=1e-10)
    # erfcx(x) = 1 / (√π (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...))))), the continued fraction
    frac = 27.0
    for n in range(200, 0, -1):
        frac = 27.0 + (n / 2) / frac
    np.testing.assert_allclose(y[-2].item(), 1 / (math.sqrt(math.pi) * frac), rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(
        x.grad.numpy(), 2 * xs * y.detach().numpy() - 2 / math.sqrt(math.pi), rtol=1e-9, atol=1e-15
    )


def test_logistic_normal_and_stick_breaking():
    # K = 2: the logit-normal density N(logit y; μ, σ) / (y (1 − y)) of the first coordinate
    mu, sigma = 0.4, 0.8
    d = D.LogisticNormal(_t(mu), _t(sigma))
    assert d.batch_shape == () and d.event_shape == (2,)
    for y1 in (0.1, 0.5, 0.85):
        z = math.log(y1 / (1 - y1))
        want = (
            -0.5 * ((z - mu) / sigma) ** 2
            - math.log(sigma * math.sqrt(2 * math.pi))
            - math.log(y1 * (1 - y1))
        )
        np.testing.assert_allclose(d.log_prob(_t(y1, 1 - y1)).item(), want, rtol=1e-12)
    # the transform: onto the simplex, inverse, and log|det| of x -> y[:-1] by central differences
    t = D.StickBreakingTransform()
    x = np.array([0.3, -2.0, 1.0])
    y = t(rustdl.tensor(x))
    assert abs(y.sum().item() - 1) < 1e-12 and bool((y > 0).all())
    np.testing.assert_allclose(t.inv(y).numpy(), x, rtol=1e-10)
    jac = np.zeros((3, 3))
    for j in range(3):
        p, m = x.copy(), x.copy()
        p[j] += 1e-6
        m[j] -= 1e-6
        jac[:, j] = (t(rustdl.tensor(p)).numpy()[:3] - t(rustdl.tensor(m)).numpy()[:3]) / 2e-6
    np.testing.assert_allclose(
        t.log_abs_det_jacobian(rustdl.tensor(x), y).item(), math.log(abs(np.linalg.det(jac))), rtol=1e-7
    )
    loc = rustdl.zeros(2, 3, dtype=rustdl.float64, requires_grad=True)
    s = D.LogisticNormal(loc, rustdl.ones(2, 3, dtype=rustdl.float64)).rsample((5,))
    assert s.shape == (5, 2, 4)
    np.testing.assert_allclose(s.sum(-1).detach().numpy(), np.ones((5, 2)), rtol=1e-12)
    s[..., 0].sum().backward()
    assert loc.grad is not None and loc.grad.shape == (2, 3)
