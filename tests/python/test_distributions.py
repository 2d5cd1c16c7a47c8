"""rustdl.distributions against closed forms computed with numpy/math, sample statistics and gradients."""

import math

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from rustdl.distributions import Bernoulli, Categorical, Distribution, Normal, Uniform, kl_divergence


def T(x, device="cpu", dtype=None, requires_grad=False):
    arr = np.asarray(x, dtype=np.float32 if dtype is None else dtype)
    t = rustdl.tensor(arr, device=device)
    return t.requires_grad_() if requires_grad else t


def np_(t):
    return t.detach().cpu().numpy().astype(np.float64)


def np_log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


# ---------------- Normal ----------------


def test_normal_closed_forms_broadcast(device):
    loc = np.array([[-1.0], [0.5], [2.0]])
    scale = np.array([0.5, 1.0, 2.0, 3.0])
    d = Normal(T(loc, device), T(scale, device))
    assert d.batch_shape == (3, 4) and d.event_shape == ()
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    ref_lp = np.array(
        [
            [
                -((x[i, j] - loc[i, 0]) ** 2) / (2 * scale[j] ** 2)
                - math.log(scale[j])
                - 0.5 * math.log(2 * math.pi)
                for j in range(4)
            ]
            for i in range(3)
        ]
    )
    assert_close(d.log_prob(T(x, device)), ref_lp, rtol=1e-5, atol=1e-5)
    ref_h = 0.5 * np.log(2 * math.pi * math.e * scale**2)
    assert_close(d.entropy(), np.broadcast_to(ref_h, (3, 4)), rtol=1e-5)
    assert_close(d.mean, np.broadcast_to(loc, (3, 4)))
    assert_close(d.variance, np.broadcast_to(scale**2, (3, 4)), rtol=1e-6)
    assert_close(d.stddev, np.broadcast_to(scale, (3, 4)))
    assert d.sample().shape == (3, 4)
    assert d.sample((5, 2)).shape == (5, 2, 3, 4)
    assert d.rsample((7,)).device == d.loc.device


def test_normal_numbers_give_scalar_batch():
    d = Normal(0.0, 1.0)
    assert d.batch_shape == ()
    assert d.sample().shape == ()
    assert d.sample((4,)).shape == (4,)
    assert abs(d.log_prob(rustdl.tensor(0.0)).item() + 0.5 * math.log(2 * math.pi)) < 1e-6


def test_normal_sample_statistics(device):
    n = 200_000
    loc, scale = np.array([-2.0, 3.0]), np.array([0.5, 2.0])
    s = np_(Normal(T(loc, device), T(scale, device)).sample((n,)))
    assert s.shape == (n, 2)
    # the sample mean's standard error is scale/sqrt(n); the sample std's is about scale/sqrt(2n)
    np.testing.assert_allclose(s.mean(0), loc, atol=float(5 * scale.max() / math.sqrt(n)))
    np.testing.assert_allclose(s.std(0), scale, atol=float(5 * scale.max() / math.sqrt(2 * n)))
    # a third central moment of ~0 and a kurtosis of ~3: the draws are Gaussian
    z = (s - loc) / scale
    assert abs((z**3).mean()) < 0.05
    assert abs((z**4).mean() - 3.0) < 0.1


def test_normal_reproducible_under_manual_seed(device):
    d = Normal(T([0.0, 1.0], device), T([1.0, 2.0], device))
    rustdl.manual_seed(123)
    a = np_(d.sample((10,)))
    rustdl.manual_seed(123)
    b = np_(d.sample((10,)))
    c = np_(d.sample((10,)))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_normal_sample_has_no_grad_rsample_has():
    loc = rustdl.tensor([0.0, 1.0], requires_grad=True)
    scale = rustdl.tensor([1.0, 2.0], requires_grad=True)
    d = Normal(loc, scale)
    assert not d.sample().requires_grad
    assert d.rsample().requires_grad
    assert Normal.has_rsample and not Categorical.has_rsample


def test_normal_rsample_gradient_closed_form(device):
    # VAE-style: loss = mean((loc + scale * eps)^2); dloss/dloc = mean(2x), dloss/dscale = mean(2x * eps)
    loc = T([0.3, -1.0], device, requires_grad=True)
    scale = T([0.7, 1.5], device, requires_grad=True)
    x = Normal(loc, scale).rsample((5000,))
    (x * x).mean(0).sum().backward()
    xs = np_(x)
    eps = (xs - np.array([0.3, -1.0])) / np.array([0.7, 1.5])
    assert_close(loc.grad, (2 * xs).mean(0), rtol=1e-3, atol=1e-4)
    assert_close(scale.grad, (2 * xs * eps).mean(0), rtol=1e-3, atol=1e-4)
    # and the expectation: d/dloc E[x^2] = 2 loc, d/dscale E[x^2] = 2 scale
    assert_close(loc.grad, [0.6, -2.0], atol=0.1)
    assert_close(scale.grad, [1.4, 3.0], atol=0.15)


def test_normal_log_prob_gradient_closed_form():
    loc = rustdl.tensor([0.5, -1.0], dtype=rustdl.float64, requires_grad=True)
    scale = rustdl.tensor([2.0, 0.5], dtype=rustdl.float64, requires_grad=True)
    x = np.array([1.5, 0.0])
    Normal(loc, scale).log_prob(rustdl.tensor(x, dtype=rustdl.float64)).sum().backward()
    mu, sd = np.array([0.5, -1.0]), np.array([2.0, 0.5])
    assert_close(loc.grad, (x - mu) / sd**2, rtol=1e-10)
    assert_close(scale.grad, -1 / sd + (x - mu) ** 2 / sd**3, rtol=1e-10)


def test_normal_gradcheck_log_prob_and_entropy():
    loc = rustdl.tensor([0.5, -1.0], dtype=rustdl.float64, requires_grad=True)
    scale = rustdl.tensor([2.0, 0.5], dtype=rustdl.float64, requires_grad=True)
    value = rustdl.tensor([0.1, 0.2], dtype=rustdl.float64)
    assert rustdl.autograd.gradcheck(lambda m, s: Normal(m, s).log_prob(value), (loc, scale))
    assert rustdl.autograd.gradcheck(lambda m, s: Normal(m, s).entropy(), (loc, scale))


# ---------------- Categorical ----------------

LOGITS = np.array(
    [
        [[0.1, -1.0, 2.0, 0.5], [3.0, 3.0, -2.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
        [[-0.5, 0.2, 0.2, 1.0], [1.0, -3.0, 0.5, 2.0], [4.0, 0.0, -1.0, 0.3]],
    ]
)


def test_categorical_logits_closed_forms(device):
    d = Categorical(logits=T(LOGITS, device))
    assert d.batch_shape == (2, 3) and d.event_shape == ()
    logp = np_log_softmax(LOGITS)
    assert_close(d.logits, logp, rtol=1e-5, atol=1e-5)
    assert_close(d.probs, np.exp(logp), rtol=1e-5, atol=1e-6)
    value = np.array([[2, 0, 3], [1, 3, 0]])
    ref = np.take_along_axis(logp, value[..., None], -1)[..., 0]
    assert_close(d.log_prob(rustdl.tensor(value, device=device)), ref, rtol=1e-5, atol=1e-5)
    assert_close(d.entropy(), -(np.exp(logp) * logp).sum(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(d.mode.cpu().numpy(), LOGITS.argmax(-1))
    assert np.isnan(np_(d.mean)).all() and d.mean.shape == (2, 3)


def test_categorical_probs_are_normalised(device):
    raw = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, 0.0, 0.25, 0.25]])
    d = Categorical(probs=T(raw, device))
    p = raw / raw.sum(-1, keepdims=True)
    assert_close(d.probs, p, rtol=1e-6)
    # log of a zero probability is clamped to log(eps), like PyTorch's probs_to_logits
    ref_logits = np.log(np.clip(p, np.finfo(np.float32).eps, 1 - np.finfo(np.float32).eps))
    assert_close(d.logits, ref_logits, rtol=1e-5)
    ref_h = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0).sum(-1)
    assert_close(d.entropy(), ref_h, rtol=1e-5, atol=1e-6)


def test_categorical_log_prob_broadcasts_value(device):
    d = Categorical(logits=T(LOGITS, device))
    # one value per sample, broadcast over the batch
    value = rustdl.tensor([[[0]], [[3]]], device=device)  # shape (2, 1, 1) -> (2, 2, 3)
    out = d.log_prob(value)
    assert out.shape == (2, 2, 3)
    logp = np_log_softmax(LOGITS)
    assert_close(out[0], logp[..., 0], rtol=1e-5, atol=1e-5)
    assert_close(out[1], logp[..., 3], rtol=1e-5, atol=1e-5)
    samples = d.sample((5,))
    assert d.log_prob(samples).shape == (5, 2, 3)


def test_categorical_sample_frequencies(device):
    p = np.array([[0.1, 0.2, 0.0, 0.7], [0.25, 0.25, 0.25, 0.25]])
    n = 100_000
    s = Categorical(probs=T(p, device)).sample((n,))
    assert s.shape == (n, 2) and s.dtype == rustdl.int64
    assert str(s.device) == str(T([0.0], device).device)
    s = s.cpu().numpy()
    for row in range(2):
        freq = np.bincount(s[:, row], minlength=4) / n
        tol = 5 * np.sqrt(p[row] * (1 - p[row]) / n) + 1e-12
        assert np.all(np.abs(freq - p[row]) <= tol), (freq, p[row])
    assert not (s[:, 0] == 2).any()  # a zero-probability category is never drawn


def test_categorical_scalar_batch_and_sample_shapes():
    d = Categorical(probs=rustdl.tensor([0.2, 0.8]))
    assert d.batch_shape == () and d.sample().shape == ()
    assert d.sample((3, 2)).shape == (3, 2)
    assert d.enumerate_support().tolist() == [0, 1]
    d2 = Categorical(logits=rustdl.zeros(4, 3))
    assert d2.enumerate_support().shape == (3, 4)
    assert d2.enumerate_support(expand=False).shape == (3, 1)


def test_categorical_reproducible_under_manual_seed(device):
    d = Categorical(logits=T(LOGITS, device))
    rustdl.manual_seed(7)
    a = d.sample((50,)).cpu().numpy()
    rustdl.manual_seed(7)
    b = d.sample((50,)).cpu().numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, d.sample((50,)).cpu().numpy())


def test_categorical_reinforce_gradient_logits(device):
    # loss = -sum_b r_b log softmax(theta_b)[a_b]  =>  dloss/dtheta = -r (onehot(a) - softmax(theta))
    theta = T(LOGITS.reshape(6, 4), device, requires_grad=True)
    policy = Categorical(logits=theta)
    action = policy.sample()
    reward = np.array([1.0, -0.5, 2.0, 0.0, 0.3, -1.2])
    loss = -(policy.log_prob(action) * T(reward, device)).sum()
    loss.backward()
    a = action.cpu().numpy()
    onehot = np.eye(4)[a]
    ref = -reward[:, None] * (onehot - np.exp(np_log_softmax(LOGITS.reshape(6, 4))))
    assert_close(theta.grad, ref, rtol=1e-5, atol=1e-6)


def test_categorical_reinforce_gradient_through_a_policy_network():
    # logits = obs @ W; the gradient w.r.t. W is obs^T @ dloss/dlogits
    rng = np.random.default_rng(0)
    obs, w = rng.normal(size=(8, 5)), rng.normal(size=(5, 3))
    W = rustdl.tensor(w, dtype=rustdl.float64, requires_grad=True)
    policy = Categorical(logits=rustdl.tensor(obs, dtype=rustdl.float64) @ W)
    action = policy.sample()
    reward = rng.normal(size=8)
    (-(policy.log_prob(action) * rustdl.tensor(reward, dtype=rustdl.float64)).mean()).backward()
    logits = obs @ w
    dlogits = -reward[:, None] * (np.eye(3)[action.numpy()] - np.exp(np_log_softmax(logits))) / 8
    assert_close(W.grad, obs.T @ dlogits, rtol=1e-9, atol=1e-12)


def test_categorical_log_prob_gradient_probs():
    # log_prob(a) = log p_a - log sum(p)  =>  d/dp_k = [k == a] / p_a - 1 / sum(p)
    raw = np.array([[1.0, 2.0, 3.0], [0.5, 0.3, 0.2]])
    p = rustdl.tensor(raw, dtype=rustdl.float64, requires_grad=True)
    a = np.array([2, 0])
    r = np.array([1.5, -2.0])
    (
        Categorical(probs=p).log_prob(rustdl.tensor(a)) * rustdl.tensor(r, dtype=rustdl.float64)
    ).sum().backward()
    ref = r[:, None] * (np.eye(3)[a] / raw[np.arange(2), a][:, None] - 1 / raw.sum(-1, keepdims=True))
    assert_close(p.grad, ref, rtol=1e-9)


def test_categorical_entropy_gradient():
    theta = rustdl.tensor(LOGITS[0], dtype=rustdl.float64, requires_grad=True)
    assert rustdl.autograd.gradcheck(lambda t: Categorical(logits=t).entropy(), (theta,))
    # closed form: dH/dtheta_k = -p_k (log p_k + H)
    theta.grad = None
    Categorical(logits=theta).entropy().sum().backward()
    logp = np_log_softmax(LOGITS[0])
    h = -(np.exp(logp) * logp).sum(-1, keepdims=True)
    assert_close(theta.grad, -np.exp(logp) * (logp + h), rtol=1e-9, atol=1e-12)


# ---------------- Bernoulli ----------------


def test_bernoulli_closed_forms(device):
    p = np.array([0.1, 0.5, 0.8, 0.999])
    for d in (Bernoulli(probs=T(p, device)), Bernoulli(logits=T(np.log(p / (1 - p)), device))):
        assert d.batch_shape == (4,)
        v = np.array([1.0, 0.0, 0.0, 1.0])
        ref = v * np.log(p) + (1 - v) * np.log(1 - p)
        assert_close(d.log_prob(T(v, device)), ref, rtol=1e-4, atol=1e-5)
        assert_close(d.entropy(), -(p * np.log(p) + (1 - p) * np.log(1 - p)), rtol=1e-4, atol=1e-5)
        assert_close(d.mean, p, rtol=1e-5)
        assert_close(d.variance, p * (1 - p), rtol=1e-4, atol=1e-6)
        assert_close(d.probs, p, rtol=1e-5)
        assert_close(d.logits, np.log(p / (1 - p)), rtol=1e-4, atol=1e-5)


def test_bernoulli_sample_frequencies(device):
    p = np.array([0.05, 0.5, 0.9])
    n = 100_000
    s = Bernoulli(T(p, device)).sample((n,))
    assert s.shape == (n, 3) and s.dtype == rustdl.float32
    s = np_(s)
    assert set(np.unique(s)) <= {0.0, 1.0}
    np.testing.assert_allclose(s.mean(0), p, atol=float(5 * np.sqrt(0.25 / n)))


def test_bernoulli_numbers_and_support():
    d = Bernoulli(0.3)
    assert d.batch_shape == () and d.sample().shape == ()
    assert d.enumerate_support().tolist() == [0.0, 1.0]
    assert_close(d.log_prob(rustdl.tensor(1.0)), math.log(0.3), rtol=1e-6)


def test_bernoulli_log_prob_gradient():
    # d/dl [v l - log(1 + e^l)] = v - sigmoid(l)
    lg = np.array([-2.0, 0.0, 3.0])
    logits = rustdl.tensor(lg, dtype=rustdl.float64, requires_grad=True)
    v = np.array([1.0, 0.0, 1.0])
    Bernoulli(logits=logits).log_prob(rustdl.tensor(v, dtype=rustdl.float64)).sum().backward()
    assert_close(logits.grad, v - np_sigmoid(lg), rtol=1e-9)
    probs = rustdl.tensor([0.2, 0.6], dtype=rustdl.float64, requires_grad=True)
    Bernoulli(probs=probs).log_prob(rustdl.tensor([1.0, 0.0], dtype=rustdl.float64)).sum().backward()
    assert_close(probs.grad, [1 / 0.2, -1 / 0.4], rtol=1e-6)


# ---------------- Uniform ----------------


def test_uniform_closed_forms(device):
    low, high = np.array([0.0, -2.0, 1.0]), np.array([1.0, 2.0, 1.5])
    d = Uniform(T(low, device), T(high, device))
    assert d.batch_shape == (3,)
    v = np.array([0.5, -2.0, 1.25])
    assert_close(d.log_prob(T(v, device)), -np.log(high - low), rtol=1e-6)
    assert_close(d.entropy(), np.log(high - low), rtol=1e-6, atol=1e-7)
    assert_close(d.mean, (low + high) / 2)
    assert_close(d.variance, (high - low) ** 2 / 12, rtol=1e-6)
    assert_close(d.stddev, (high - low) / math.sqrt(12), rtol=1e-6)
    assert_close(d.cdf(T(v, device)), (v - low) / (high - low), rtol=1e-6)
    outside = Uniform(T(low, device), T(high, device), validate_args=False)
    lp = np_(outside.log_prob(T([1.0, 3.0, 0.0], device)))  # high is excluded
    assert np.all(np.isneginf(lp))


def test_uniform_sample_statistics(device):
    n = 200_000
    d = Uniform(T([-1.0, 2.0], device), T([1.0, 10.0], device))
    s = np_(d.sample((n,)))
    assert np.all(s[:, 0] >= -1.0) and np.all(s[:, 0] < 1.0)
    assert np.all(s[:, 1] >= 2.0) and np.all(s[:, 1] < 10.0)
    width = np.array([2.0, 8.0])
    np.testing.assert_allclose(s.mean(0), [0.0, 6.0], atol=float(5 * width.max() / math.sqrt(12 * n)))
    np.testing.assert_allclose(s.var(0), width**2 / 12, rtol=0.02)


def test_uniform_rsample_gradient():
    # x = low + u (high - low): dx/dlow = 1 - u, dx/dhigh = u
    low = rustdl.tensor([0.0, -1.0], requires_grad=True)
    high = rustdl.tensor([2.0, 3.0], requires_grad=True)
    x = Uniform(low, high).rsample((100,))
    x.sum().backward()
    u = (np_(x) - np.array([0.0, -1.0])) / np.array([2.0, 4.0])
    assert_close(low.grad, (1 - u).sum(0), rtol=1e-4)
    assert_close(high.grad, u.sum(0), rtol=1e-4)


def test_uniform_reproducible(device):
    d = Uniform(0.0, T([1.0, 2.0], device))
    rustdl.manual_seed(3)
    a = np_(d.sample((4,)))
    rustdl.manual_seed(3)
    np.testing.assert_array_equal(a, np_(d.sample((4,))))


# ---------------- KL divergence ----------------


def _kl_by_quadrature(logp, logq, lo, hi, n=400_001):
    x = np.linspace(lo, hi, n)
    p = np.exp(logp(x))
    return (
        np.trapezoid(p * (logp(x) - logq(x)), x)
        if hasattr(np, "trapezoid")
        else np.trapz(p * (logp(x) - logq(x)), x)
    )


def _np_normal_logpdf(mu, sd):
    return lambda x: -((x - mu) ** 2) / (2 * sd**2) - math.log(sd) - 0.5 * math.log(2 * math.pi)


def test_kl_normal_normal_vs_quadrature(device):
    mp, sp = np.array([0.0, 1.0, -2.0]), np.array([1.0, 0.5, 2.0])
    mq, sq = np.array([1.0, 1.0, 0.0]), np.array([2.0, 1.5, 1.0])
    kl = np_(kl_divergence(Normal(T(mp, device), T(sp, device)), Normal(T(mq, device), T(sq, device))))
    ref = [
        _kl_by_quadrature(_np_normal_logpdf(mp[i], sp[i]), _np_normal_logpdf(mq[i], sq[i]), -30, 30)
        for i in range(3)
    ]
    np.testing.assert_allclose(kl, ref, rtol=1e-4, atol=1e-6)
    same = np_(kl_divergence(Normal(T(mp, device), T(sp, device)), Normal(T(mp, device), T(sp, device))))
    np.testing.assert_allclose(same, 0.0, atol=1e-6)


def test_kl_normal_standard_normal_gradient():
    # KL(N(mu, s) || N(0, 1)) = (s^2 + mu^2 - 1)/2 - log s: d/dmu = mu, d/ds = s - 1/s
    mu = rustdl.tensor([0.5, -1.0], dtype=rustdl.float64, requires_grad=True)
    s = rustdl.tensor([2.0, 0.3], dtype=rustdl.float64, requires_grad=True)
    kl = kl_divergence(Normal(mu, s), Normal(0.0, 1.0))
    assert kl.shape == (2,)
    kl.sum().backward()
    assert_close(mu.grad, [0.5, -1.0], rtol=1e-9)
    assert_close(s.grad, [2.0 - 0.5, 0.3 - 1 / 0.3], rtol=1e-9)


def test_kl_categorical_bernoulli_uniform():
    p, q = np.array([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]]), np.array([[0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    kl = np_(
        kl_divergence(
            Categorical(probs=rustdl.tensor(p, dtype=rustdl.float64)),
            Categorical(probs=rustdl.tensor(q, dtype=rustdl.float64)),
        )
    )
    ref = [sum(pi * math.log(pi / qi) for pi, qi in zip(pr, qr) if pi > 0) for pr, qr in zip(p, q)]
    np.testing.assert_allclose(kl, ref, rtol=1e-9)
    kl_inf = kl_divergence(
        Categorical(probs=rustdl.tensor([0.5, 0.5])), Categorical(probs=rustdl.tensor([1.0, 0.0]))
    )
    assert math.isinf(kl_inf.item())

    bp, bq = np.array([0.2, 0.9, 0.5]), np.array([0.4, 0.5, 0.5])
    kl = np_(
        kl_divergence(
            Bernoulli(rustdl.tensor(bp, dtype=rustdl.float64)),
            Bernoulli(rustdl.tensor(bq, dtype=rustdl.float64)),
        )
    )
    ref = bp * np.log(bp / bq) + (1 - bp) * np.log((1 - bp) / (1 - bq))
    np.testing.assert_allclose(kl, ref, rtol=1e-7, atol=1e-12)

    kl = np_(kl_divergence(Uniform(0.0, rustdl.tensor([1.0, 1.0])), Uniform(rustdl.tensor([-1.0, 0.5]), 3.0)))
    assert math.isclose(kl[0], math.log(4.0), rel_tol=1e-6)
    assert math.isinf(kl[1])  # p's support is not inside q's


def test_kl_uniform_normal_vs_quadrature():
    kl = kl_divergence(Uniform(-0.5, 2.0), Normal(0.3, 1.7)).item()
    ref = _kl_by_quadrature(lambda x: np.full_like(x, -math.log(2.5)), _np_normal_logpdf(0.3, 1.7), -0.5, 2.0)
    assert math.isclose(kl, ref, rel_tol=1e-4)


def test_kl_not_implemented():
    with pytest.raises(NotImplementedError):
        kl_divergence(Normal(0.0, 1.0), Bernoulli(0.5))


# ---------------- argument validation ----------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Normal(0.0, 0.0), "Expected parameter scale"),
        (lambda: Normal(rustdl.tensor([0.0, 1.0]), rustdl.tensor([1.0, -1.0])), "GreaterThan"),
        (lambda: Normal(float("nan"), 1.0), "Expected parameter loc"),
        (lambda: Categorical(), "Either `probs` or `logits` must be specified, but not both."),
        (lambda: Categorical(probs=rustdl.tensor([0.5]), logits=rustdl.tensor([0.0])), "but not both"),
        (
            lambda: Categorical(probs=rustdl.tensor(1.0)),
            "`probs` parameter must be at least one-dimensional.",
        ),
        (
            lambda: Categorical(logits=rustdl.tensor(1.0)),
            "`logits` parameter must be at least one-dimensional.",
        ),
        (lambda: Categorical(probs=rustdl.tensor([-1.0, 2.0])), "Simplex"),
        (lambda: Bernoulli(), "Either `probs` or `logits`"),
        (lambda: Bernoulli(probs=1.5), "Expected parameter probs"),
        (lambda: Bernoulli(probs=rustdl.tensor([0.5, -0.1])), "Interval"),
        (lambda: Uniform(1.0, 1.0), "Uniform is not defined when low>= high"),
        (lambda: Uniform(rustdl.tensor([0.0, 2.0]), 1.0), "Uniform is not defined when low>= high"),
        (lambda: Normal(rustdl.zeros(2), rustdl.ones(3)), "broadcast"),
    ],
)
def test_bad_parameters_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "dist, value, match",
    [
        (lambda: Categorical(probs=rustdl.tensor([0.2, 0.8])), rustdl.tensor(2), "within the support"),
        (lambda: Categorical(probs=rustdl.tensor([0.2, 0.8])), rustdl.tensor(-1), "IntegerInterval"),
        (lambda: Categorical(probs=rustdl.tensor([0.2, 0.8])), rustdl.tensor(0.5), "within the support"),
        (lambda: Bernoulli(0.3), rustdl.tensor(0.5), "Boolean"),
        (lambda: Uniform(0.0, 1.0), rustdl.tensor(2.0), "within the support"),
        (lambda: Normal(rustdl.zeros(3), 1.0), rustdl.zeros(2), "not broadcastable"),
        (lambda: Normal(0.0, 1.0), 0.5, "must be a Tensor"),
    ],
)
def test_bad_values_raise_value_error(dist, value, match):
    with pytest.raises(ValueError, match=match):
        dist().log_prob(value)


def test_validate_args_false_and_default():
    Normal(0.0, -1.0, validate_args=False)  # no check
    d = Bernoulli(0.3, validate_args=False)
    d.log_prob(rustdl.tensor(0.5))  # outside the support, but not checked
    Distribution.set_default_validate_args(False)
    try:
        Uniform(1.0, 0.0)
    finally:
        Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        Uniform(1.0, 0.0)


def test_reinforce_learns_a_bandit():
    # a 3-armed bandit with deterministic rewards; policy gradient should pick the best arm
    logits = rustdl.zeros(3, requires_grad=True)
    opt = rustdl.optim.Adam([logits], lr=0.1)
    rewards = rustdl.tensor([0.1, 1.0, 0.3])
    for _ in range(150):
        policy = Categorical(logits=logits)
        actions = policy.sample((32,))
        r = rewards[actions]
        advantage = r - r.mean()
        loss = -(policy.log_prob(actions) * advantage).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    probs = np_(Categorical(logits=logits).probs)
    assert probs.argmax() == 1 and probs[1] > 0.9


def test_vae_style_training_through_rsample_and_kl():
    # minimise E_q[(x - 2)^2] + KL(q || N(0, 1)) over q = N(m, s): the optimum is m = 4/3, s = 1/sqrt(3)
    m = rustdl.tensor([0.0], requires_grad=True)
    log_s = rustdl.tensor([0.0], requires_grad=True)
    opt = rustdl.optim.Adam([m, log_s], lr=0.05)
    for _ in range(600):
        q = Normal(m, log_s.exp())
        x = q.rsample((256,))
        loss = ((x - 2) ** 2).mean() + kl_divergence(q, Normal(0.0, 1.0)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    # E[(x-2)^2] = (m-2)^2 + s^2; KL = (s^2 + m^2 - 1)/2 - log s  =>  m = 4/3, s^2 = 1/3
    assert abs(m.item() - 4 / 3) < 0.05
    assert abs(log_s.exp().item() - 1 / np.sqrt(3)) < 0.05
