"""Cross-family KL divergences, ``Distribution.expand``, and the Bregman KL of parameters that
share a history, checked against numerical integration (scipy) and closed forms."""

import math

import numpy as np
import pytest
import rustdl
import rustdl.distributions as D
from scipy import integrate, stats


def t(*v):
    return rustdl.tensor(list(v), dtype=rustdl.float64)


# (name, rustdl maker, scipy frozen distribution) for one parameter set each
CONT = {
    "normal": (lambda: D.Normal(t(0.3), t(1.2)), stats.norm(0.3, 1.2)),
    "laplace": (lambda: D.Laplace(t(-0.4), t(0.7)), stats.laplace(-0.4, 0.7)),
    "gumbel": (lambda: D.Gumbel(t(0.2), t(0.9)), stats.gumbel_r(0.2, 0.9)),
    "exponential": (lambda: D.Exponential(t(1.7)), stats.expon(scale=1 / 1.7)),
    "gamma": (lambda: D.Gamma(t(2.5), t(1.5)), stats.gamma(2.5, scale=1 / 1.5)),
    "beta": (lambda: D.Beta(t(2.0), t(3.5)), stats.beta(2.0, 3.5)),
    "uniform": (lambda: D.Uniform(t(0.2), t(0.9)), stats.uniform(0.2, 0.7)),
    "pareto": (lambda: D.Pareto(t(0.6), t(3.5)), stats.pareto(3.5, scale=0.6)),
}


def _cb_logpdf(lam):
    # continuous Bernoulli: x^λ... density λ^x (1-λ)^(1-x) C(λ), C = 2 atanh(1-2λ) / (1-2λ)
    c = 2 * math.atanh(1 - 2 * lam) / (1 - 2 * lam)
    return lambda x: x * math.log(lam) + (1 - x) * math.log(1 - lam) + math.log(c)


def _support(name):
    return {
        "normal": (-np.inf, np.inf),
        "laplace": (-np.inf, np.inf),
        "gumbel": (-np.inf, np.inf),
        "exponential": (0, np.inf),
        "gamma": (0, np.inf),
        "beta": (0, 1),
        "uniform": (0.2, 0.9),
        "pareto": (0.6, np.inf),
    }[name]


def _numeric_kl(p, q_logpdf, lo, hi, q_lo, q_hi):
    if lo < q_lo or hi > q_hi:
        return math.inf

    def f(x):
        lp = p.logpdf(x)
        if not np.isfinite(lp) or math.exp(lp) == 0.0:
            return 0.0  # no mass here (the far tails, where q's log density may overflow)
        return math.exp(lp) * (lp - q_logpdf(x))

    val, _ = integrate.quad(f, lo, hi, limit=400, epsabs=1e-11, epsrel=1e-10)
    return val


PAIRS = [
    ("beta", "exponential"), ("beta", "gamma"), ("beta", "normal"), ("beta", "uniform"), ("beta", "beta"),
    ("exponential", "gamma"), ("exponential", "gumbel"), ("exponential", "normal"), ("exponential", "exponential"),
    ("gamma", "exponential"), ("gamma", "gumbel"), ("gamma", "normal"), ("gamma", "gamma"),
    ("gumbel", "normal"), ("laplace", "normal"), ("normal", "gumbel"), ("normal", "laplace"),
    ("pareto", "exponential"), ("pareto", "gamma"), ("pareto", "normal"),
    ("uniform", "beta"), ("uniform", "exponential"), ("uniform", "gamma"), ("uniform", "gumbel"), ("uniform", "pareto"),
    ("normal", "exponential"), ("gumbel", "beta"), ("gamma", "uniform"), ("pareto", "uniform"), ("laplace", "pareto"),
]  # fmt: skip


@pytest.mark.parametrize(("pn", "qn"), PAIRS)
def test_cross_family_kl_matches_numerical_integration(pn, qn):
    p_mk, p_ref = CONT[pn]
    q_mk, q_ref = CONT[qn]
    got = D.kl_divergence(p_mk(), q_mk()).item()
    lo, hi = _support(pn)
    q_lo, q_hi = _support(qn)
    want = _numeric_kl(p_ref, q_ref.logpdf, lo, hi, q_lo, q_hi)
    if math.isinf(want):
        assert got == math.inf
    else:
        assert got == pytest.approx(want, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("pn", ["beta", "uniform", "exponential", "gamma", "normal"])
def test_kl_into_continuous_bernoulli(pn):
    lam = 0.3
    q = D.ContinuousBernoulli(t(lam))
    p_mk, p_ref = CONT[pn]
    lo, hi = _support(pn)
    got = D.kl_divergence(p_mk(), q).item()
    want = _numeric_kl(p_ref, _cb_logpdf(lam), lo, hi, 0.0, 1.0)
    if math.isinf(want):
        assert got == math.inf
    else:
        assert got == pytest.approx(want, rel=1e-6)


def test_kl_from_continuous_bernoulli():
    lam = 0.8
    p = D.ContinuousBernoulli(t(lam))
    logp = _cb_logpdf(lam)
    for q, q_logpdf, name in [
        (D.Normal(t(0.1), t(0.5)), stats.norm(0.1, 0.5).logpdf, "normal"),
        (D.Exponential(t(2.0)), stats.expon(scale=0.5).logpdf, "exponential"),
        (D.Uniform(t(-0.5), t(1.5)), stats.uniform(-0.5, 2.0).logpdf, "uniform"),
    ]:
        want, _ = integrate.quad(
            lambda x, ql=q_logpdf: math.exp(logp(x)) * (logp(x) - ql(x)), 0, 1, epsabs=1e-12
        )
        assert D.kl_divergence(p, q).item() == pytest.approx(want, rel=1e-6), name
    assert D.kl_divergence(p, D.Pareto(t(0.5), t(2.0))).item() == math.inf
    assert D.kl_divergence(p, D.Uniform(t(0.2), t(1.0))).item() == math.inf


def test_kl_discrete_cross_pairs():
    pi, lam = 0.3, 1.7
    got = D.kl_divergence(D.Bernoulli(t(pi)), D.Poisson(t(lam))).item()
    want = sum(pk * (math.log(pk) - stats.poisson(lam).logpmf(k)) for k, pk in [(0, 1 - pi), (1, pi)])
    assert got == pytest.approx(want, rel=1e-10)
    assert D.kl_divergence(D.Poisson(t(lam)), D.Bernoulli(t(pi))).item() == math.inf
    assert D.kl_divergence(D.Poisson(t(lam)), D.Binomial(5, t(pi))).item() == math.inf


def test_kl_support_is_checked_per_batch_element():
    p = D.Uniform(t(0.1, -0.5, 1.0), t(0.5, 0.5, 2.0))
    got = D.kl_divergence(p, D.Exponential(t(2.0, 2.0, 2.0)))
    assert got[1].item() == math.inf
    for i, (lo, hi) in enumerate([(0.1, 0.5), (1.0, 2.0)]):
        want, _ = integrate.quad(
            lambda x, lo=lo, hi=hi: (-math.log(hi - lo) - stats.expon(scale=0.5).logpdf(x)) / (hi - lo),
            lo,
            hi,
        )
        assert got[[0, 2][i]].item() == pytest.approx(want, rel=1e-8)
    # a Pareto with alpha <= 2 has no second moment: its KL to a Normal is infinite, not NaN
    inf_kl = D.kl_divergence(D.Pareto(t(1.0, 1.0), t(1.5, 0.8)), D.Normal(t(0.0, 0.0), t(1.0, 1.0)))
    assert inf_kl.tolist() == [math.inf, math.inf]


def test_kl_subclass_uses_parent_rule():
    # Chi2 is a Gamma: Gamma-Gamma's closed form applies to it
    got = D.kl_divergence(D.Gamma(t(2.0), t(0.7)), D.Chi2(t(3.0))).item()
    want = _numeric_kl(stats.gamma(2.0, scale=1 / 0.7), stats.chi2(3.0).logpdf, 0, np.inf, 0, np.inf)
    assert got == pytest.approx(want, rel=1e-6)


def test_cross_kl_gradient_matches_finite_differences():
    def kl(s):
        return (
            D.kl_divergence(D.Gamma(s + 1, s), D.Normal(s, s + 1))
            + D.kl_divergence(D.Uniform(s * 0, s), D.Gumbel(s, s))
            + D.kl_divergence(D.Normal(s, s), D.Laplace(-s, s))
        ).sum()

    s0 = np.array([1.0, 0.4, 2.5])
    s = rustdl.tensor(s0, requires_grad=True)
    (g,) = rustdl.autograd.grad(kl(s), s)
    eps = 1e-6
    for i in range(3):
        hi, lo = s0.copy(), s0.copy()
        hi[i] += eps
        lo[i] -= eps
        fd = (kl(rustdl.tensor(hi)).item() - kl(rustdl.tensor(lo)).item()) / (2 * eps)
        assert g[i].item() == pytest.approx(fd, rel=1e-5)


def test_bregman_kl_with_parameters_sharing_a_history():
    # Beta(s + 1, s): differentiating the log normaliser at s itself would add the path through
    # s + 1 into the second parameter's gradient (the KL came out 1.5 instead of 1)
    s = rustdl.tensor([1.0, 0.5, 2.0], dtype=rustdl.float64, requires_grad=True)
    got = D.kl_divergence(D.Beta(s + 1, s), D.Beta(s, s + 1))
    for i, v in enumerate([1.0, 0.5, 2.0]):
        want = _numeric_kl(stats.beta(v + 1, v), stats.beta(v, v + 1).logpdf, 0, 1, 0, 1)
        assert got[i].item() == pytest.approx(want, rel=1e-6)
    # the same through the exponential-family fallback (Dirichlet has no closed form here)
    c = rustdl.tensor([1.0, 2.0], dtype=rustdl.float64, requires_grad=True)
    conc_p = rustdl.stack([c[0] + 1, c[0], c[1]])
    conc_q = rustdl.tensor([2.0, 1.0, 3.0], dtype=rustdl.float64)
    got = D.kl_divergence(D.Dirichlet(conc_p), D.Dirichlet(conc_q)).item()
    from scipy.special import digamma, gammaln

    a, b = np.array([2.0, 1.0, 2.0]), conc_q.numpy()
    want = gammaln(a.sum()) - gammaln(a).sum() - gammaln(b.sum()) + gammaln(b).sum()
    want += ((a - b) * (digamma(a) - digamma(a.sum()))).sum()
    assert got == pytest.approx(want, rel=1e-9)


def test_grad_is_grads_batched_stacks_one_vjp_per_row():
    a = rustdl.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = a * a
    (g,) = rustdl.autograd.grad(y, a, grad_outputs=rustdl.eye(3), is_grads_batched=True)
    np.testing.assert_allclose(g.numpy(), np.diag(2 * np.array([0.5, -1.0, 2.0])), rtol=1e-6)
    # two outputs, two inputs, a batch of 2
    b = rustdl.tensor([1.0, 3.0], requires_grad=True)
    o1, o2 = a.sum() * b, (a * 3).sum()
    gos = [rustdl.tensor([[1.0, 0.0], [0.0, 2.0]]), rustdl.tensor([1.0, -1.0])]
    ga, gb = rustdl.autograd.grad([o1, o2], [a, b], grad_outputs=gos, is_grads_batched=True)
    # row k: d/da (go1_k · b) sum + go2_k * 3 ; d/db go1_k * sum(a)
    want_a = np.stack([np.full(3, 1.0 * 1 + 0 * 3 + 3.0), np.full(3, 0 * 1 + 2 * 3 - 3.0)])
    np.testing.assert_allclose(ga.numpy(), want_a, rtol=1e-6)
    np.testing.assert_allclose(gb.numpy(), np.array([[1.5, 0.0], [0.0, 3.0]]), rtol=1e-6)
    with pytest.raises(RuntimeError, match="batch size"):
        rustdl.autograd.grad([o1, o2], [a, b], grad_outputs=[gos[0], rustdl.ones(3)], is_grads_batched=True)


@pytest.mark.parametrize(
    "mk",
    [
        lambda: D.Normal(t(0.1, 0.2, 0.3), t(1.0, 2.0, 3.0)),
        lambda: D.Categorical(probs=rustdl.tensor([0.2, 0.5, 0.3])),
        lambda: D.MultivariateNormal(
            t(0.0, 1.0), rustdl.tensor([[2.0, 0.3], [0.3, 1.0]], dtype=rustdl.float64)
        ),
        lambda: D.Independent(D.Normal(t(0.1, 0.2, 0.3), t(1.0, 2.0, 3.0)), 1),
        lambda: D.LogNormal(t(0.1, 0.2, 0.3), t(1.0, 2.0, 3.0)),
        lambda: D.MixtureSameFamily(D.Categorical(t(0.5, 0.5)), D.Normal(t(-1.0, 1.0), t(1.0, 1.0))),
        lambda: D.Dirichlet(t(1.0, 2.0, 3.0)),
    ],
)
def test_expand_broadcasts_the_batch_and_keeps_the_density(mk):
    d = mk()
    shape = (4, *d.batch_shape)
    e = d.expand(shape)
    assert e.batch_shape == shape and e.event_shape == d.event_shape
    x = e.sample()
    assert tuple(x.shape) == shape + tuple(d.event_shape)
    # each row of the expanded distribution is the original one
    lp_e = e.log_prob(x)
    for i in range(4):
        np.testing.assert_allclose(lp_e[i].numpy(), d.log_prob(x[i]).numpy(), rtol=1e-6)
    if d.batch_shape:
        with pytest.raises(RuntimeError, match="expand"):
            d.expand((5, *d.batch_shape[:-1], d.batch_shape[-1] + 1))
    else:
        assert e.expand((3, 4)).batch_shape == (3, 4)
