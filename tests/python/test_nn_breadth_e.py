"""Breadth E: Embedding.from_pretrained, ConvTranspose1d, Conv3d, 3-D pooling, rustdl.testing,
the determinism flag and torch.__version__, each against an independent numpy reference."""

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
import rustdl.nn.functional as F
from rustdl.autograd import gradcheck
from rustdl.testing import assert_close, make_tensor


def r64(*shape, seed=0, grad=True):
    rng = np.random.default_rng(seed)
    return rustdl.tensor(rng.standard_normal(shape), dtype=rustdl.float64, requires_grad=grad)


def ref_conv3d(x, w, b, st, pd, dl, g):
    x = np.pad(x, ((0, 0), (0, 0), (pd[0], pd[0]), (pd[1], pd[1]), (pd[2], pd[2])))
    n, _, d, h, wd = x.shape
    o_ch, cg, kd, kh, kw = w.shape
    do = (d - dl[0] * (kd - 1) - 1) // st[0] + 1
    ho = (h - dl[1] * (kh - 1) - 1) // st[1] + 1
    wo = (wd - dl[2] * (kw - 1) - 1) // st[2] + 1
    out = np.zeros((n, o_ch, do, ho, wo))
    og = o_ch // g
    for o in range(o_ch):
        gi = o // og
        for a in range(kd):
            for bb in range(kh):
                for c in range(kw):
                    patch = x[
                        :,
                        gi * cg : (gi + 1) * cg,
                        a * dl[0] : a * dl[0] + (do - 1) * st[0] + 1 : st[0],
                        bb * dl[1] : bb * dl[1] + (ho - 1) * st[1] + 1 : st[1],
                        c * dl[2] : c * dl[2] + (wo - 1) * st[2] + 1 : st[2],
                    ]
                    out[:, o] += np.einsum("ncdhw,c->ndhw", patch, w[o, :, a, bb, c])
    if b is not None:
        out += b[None, :, None, None, None]
    return out


def ref_conv_transpose1d(x, w, b, s, p, op, g, d):
    n, c, length = x.shape
    _, og, k = w.shape
    cg = c // g
    lo = (length - 1) * s - 2 * p + d * (k - 1) + op + 1
    full = np.zeros((n, og * g, (length - 1) * s + d * (k - 1) + 1 + op + 2 * p))
    for ci in range(c):
        gi = ci // cg
        for i in range(length):
            for t in range(k):
                full[:, gi * og : (gi + 1) * og, i * s + t * d] += x[:, ci, i][:, None] * w[ci, :, t][None]
    out = full[:, :, p : p + lo]
    return out + b[None, :, None] if b is not None else out


# ---- Embedding.from_pretrained ----


def test_embedding_from_pretrained():
    table = rustdl.tensor(np.arange(12.0).reshape(4, 3), dtype=rustdl.float32)
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad
    assert (emb.num_embeddings, emb.embedding_dim) == (4, 3)
    out = emb(rustdl.tensor([[2, 0]]))
    np.testing.assert_array_equal(out.numpy(), np.arange(12.0).reshape(4, 3)[[[2, 0]]])
    emb2 = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=1)
    assert emb2.weight.requires_grad and emb2.padding_idx == 1
    emb2(rustdl.tensor([1, 3])).sum().backward()
    np.testing.assert_array_equal(emb2.weight.grad.numpy()[:, 0], [0, 0, 0, 1])
    with pytest.raises(ValueError, match="from_pretrained"):
        nn.Embedding.from_pretrained(rustdl.zeros(3))
    with pytest.raises(TypeError, match="from_pretrained"):
        nn.Embedding.from_pretrained([[1.0]])


def test_embedding_bag_from_pretrained():
    w = np.arange(8.0).reshape(4, 2)
    bag = nn.EmbeddingBag.from_pretrained(rustdl.tensor(w, dtype=rustdl.float32), mode="sum")
    assert not bag.weight.requires_grad
    out = bag(rustdl.tensor([[0, 1], [2, 3]]))
    np.testing.assert_allclose(out.numpy(), [w[0] + w[1], w[2] + w[3]])
    with pytest.raises(ValueError, match="EmbeddingBag.from_pretrained"):
        nn.EmbeddingBag.from_pretrained(rustdl.zeros(2, 2, 2))


# ---- ConvTranspose1d / conv_transpose1d ----


@pytest.mark.parametrize("s,p,op,g,d", [(1, 0, 0, 1, 1), (2, 1, 1, 2, 2), (3, 2, 0, 1, 1)])
def test_conv_transpose1d_matches_reference(s, p, op, g, d):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 6))
    w = rng.standard_normal((4, 3, 3))
    b = rng.standard_normal(3 * g)
    y = F.conv_transpose1d(rustdl.tensor(x), rustdl.tensor(w), rustdl.tensor(b), s, p, op, g, d)
    np.testing.assert_allclose(y.numpy(), ref_conv_transpose1d(x, w, b, s, p, op, g, d), atol=1e-10)


def test_conv_transpose1d_gradcheck():
    assert gradcheck(
        lambda a, c, b: F.conv_transpose1d(a, c, b, 2, 1, 1),
        [r64(2, 2, 4), r64(2, 3, 3, seed=1), r64(3, seed=2)],
    )


def test_conv_transpose1d_module():
    m = nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert tuple(m.weight.shape) == (4, 3, 3) and tuple(m.bias.shape) == (6,)
    bound = 1 / np.sqrt(3 * 3)  # PyTorch's fan_in of a transposed weight: size(1) * kernel
    assert np.abs(m.weight.detach().numpy()).max() <= bound + 1e-6
    x = rustdl.randn(2, 4, 5)
    y = m(x).detach()
    assert tuple(y.shape) == (2, 6, 10)
    ref = ref_conv_transpose1d(x.numpy(), m.weight.detach().numpy(), m.bias.detach().numpy(), 2, 1, 1, 2, 1)
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-5)
    assert tuple(m(rustdl.randn(4, 5)).shape) == (6, 10)
    with pytest.raises(ValueError, match="conv_transpose1d"):
        F.conv_transpose1d(rustdl.randn(1, 4, 5), rustdl.randn(4, 3))
    with pytest.raises(ValueError, match="ConvTranspose1d"):
        nn.ConvTranspose1d(4, 6, 3, padding="same")


# ---- Conv3d / conv3d ----


@pytest.mark.parametrize(
    "st,pd,dl,g",
    [
        ((1, 1, 1), (0, 0, 0), (1, 1, 1), 1),
        ((2, 1, 2), (1, 1, 0), (1, 1, 1), 2),
        ((1, 2, 1), (1, 0, 1), (2, 1, 1), 2),
    ],
)
def test_conv3d_matches_reference(st, pd, dl, g):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 6, 7, 5))
    w = rng.standard_normal((6, 4 // g, 3, 2, 3))
    b = rng.standard_normal(6)
    y = F.conv3d(rustdl.tensor(x), rustdl.tensor(w), rustdl.tensor(b), st, pd, dl, g)
    np.testing.assert_allclose(y.numpy(), ref_conv3d(x, w, b, st, pd, dl, g), atol=1e-10)


def test_conv3d_gradcheck():
    assert gradcheck(
        lambda a, c, b: F.conv3d(a, c, b, (2, 1, 1), 1, (1, 1, 2)),
        [r64(1, 2, 4, 4, 3), r64(2, 2, 2, 2, 2, seed=1), r64(2, seed=2)],
    )


def test_conv3d_module():
    m = nn.Conv3d(2, 4, 3, padding=1)
    assert tuple(m.weight.shape) == (4, 2, 3, 3, 3)
    assert np.abs(m.weight.detach().numpy()).max() <= 1 / np.sqrt(2 * 27) + 1e-6
    x = rustdl.randn(1, 2, 5, 6, 4)
    y = m(x).detach()
    ref = ref_conv3d(
        x.numpy(), m.weight.detach().numpy(), m.bias.detach().numpy(), (1, 1, 1), (1, 1, 1), (1, 1, 1), 1
    )
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-5)
    assert tuple(nn.Conv3d(2, 3, (2, 3, 3), padding="same")(x).shape) == (1, 3, 5, 6, 4)
    assert tuple(nn.Conv3d(2, 3, 3)(x[0]).shape) == (3, 3, 4, 2)
    with pytest.raises(ValueError, match="conv3d"):
        F.conv3d(rustdl.randn(1, 2, 4, 4), rustdl.randn(3, 2, 2, 2))
    with pytest.raises(ValueError, match="conv3d"):
        F.conv3d(rustdl.randn(1, 3, 4, 4, 4), rustdl.randn(3, 2, 2, 2, 2))
    with pytest.raises(TypeError, match="conv3d"):
        F.conv3d(np.zeros((1, 2, 4, 4, 4)), rustdl.randn(3, 2, 2, 2, 2))


def test_conv_device(device):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 4, 5, 5)).astype(np.float32)
    w = rng.standard_normal((3, 2, 2, 3, 3)).astype(np.float32)
    xt = rustdl.tensor(x, device=device, requires_grad=True)
    wt = rustdl.tensor(w, device=device, requires_grad=True)
    y = F.conv3d(xt, wt, None, 1, 1)
    np.testing.assert_allclose(
        y.detach().cpu().numpy(), ref_conv3d(x, w, None, (1, 1, 1), (1, 1, 1), (1, 1, 1), 1), atol=1e-4
    )
    y.sum().backward()
    assert tuple(wt.grad.shape) == w.shape
    x1 = rng.standard_normal((2, 4, 6)).astype(np.float32)
    w1 = rng.standard_normal((4, 3, 3)).astype(np.float32)
    y1 = F.conv_transpose1d(rustdl.tensor(x1, device=device), rustdl.tensor(w1, device=device), None, 2, 1)
    np.testing.assert_allclose(y1.cpu().numpy(), ref_conv_transpose1d(x1, w1, None, 2, 1, 0, 1, 1), atol=1e-4)


# ---- 3-D pooling ----


def _pool_ref(x, k, s, p, fill, reduce):
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((v, v) for v in p), constant_values=fill)
    dims = [(xp.shape[2 + i] - k[i]) // s[i] + 1 for i in range(3)]
    out = np.zeros(x.shape[:2] + tuple(dims))
    for i in range(dims[0]):
        for j in range(dims[1]):
            for m in range(dims[2]):
                win = xp[
                    :, :, i * s[0] : i * s[0] + k[0], j * s[1] : j * s[1] + k[1], m * s[2] : m * s[2] + k[2]
                ]
                out[:, :, i, j, m] = reduce(win.reshape(*x.shape[:2], -1), axis=-1)
    return out


def test_pool3d_matches_reference():
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 6, 5))
    k, s, p = (3, 2, 2), (2, 2, 1), (1, 1, 0)
    y = F.max_pool3d(rustdl.tensor(x), k, s, p)
    np.testing.assert_allclose(y.numpy(), _pool_ref(x, k, s, p, -np.inf, np.max))
    y = nn.AvgPool3d(k, s, p)(rustdl.tensor(x))
    np.testing.assert_allclose(y.numpy(), _pool_ref(x, k, s, p, 0.0, np.mean), atol=1e-12)
    assert tuple(nn.MaxPool3d(2)(rustdl.randn(2, 4, 4, 4)).shape) == (2, 2, 2, 2)
    assert gradcheck(lambda a: F.avg_pool3d(a, 2, 1, 1), [r64(1, 1, 3, 3, 3)])
    with pytest.raises(ValueError, match="max_pool3d"):
        F.max_pool3d(rustdl.randn(2, 3), 2)
    # ceil_mode is supported (checked against a window loop in test_compat_gaps_n.py)
    assert tuple(nn.MaxPool3d(2, ceil_mode=True)(rustdl.randn(1, 1, 3, 3, 3)).shape) == (1, 1, 2, 2, 2)


# ---- rustdl.testing ----


def test_assert_close_tolerances():
    x = rustdl.tensor([1.0, 2.0])
    assert_close(x, x + 5e-6)  # within float32's default atol 1e-5
    with pytest.raises(AssertionError, match="not close"):
        assert_close(x, x + 1e-3)
    x64 = rustdl.tensor([1.0, 2.0], dtype=rustdl.float64)
    with pytest.raises(AssertionError):
        assert_close(x64, x64 + 5e-6)  # float64: rtol 1e-7, atol 1e-7
    assert_close(x64, x64 + 1e-8)
    with pytest.raises(AssertionError, match="dtype"):
        assert_close(x, x64)
    assert_close(x, x64.float(), check_dtype=False)
    nan = rustdl.tensor([float("nan")])
    with pytest.raises(AssertionError):
        assert_close(nan, nan)
    assert_close(nan, nan, equal_nan=True)
    assert_close([x, {"a": x}], [x, {"a": x}])
    assert_close(x, x + 0.5, rtol=0.0, atol=0.6)
    with pytest.raises(AssertionError, match="custom"):
        assert_close(x, x + 1, msg="custom")
    with pytest.raises(ValueError, match="rtol"):
        assert_close(x, x, rtol=1e-3)
    with pytest.raises(AssertionError, match="shape"):
        assert_close(x, rustdl.zeros(3))


def test_make_tensor():
    t = make_tensor(3, 4, dtype=rustdl.float64, low=-2, high=3)
    assert tuple(t.shape) == (3, 4) and t.dtype == rustdl.float64
    assert -2 <= float(t.min()) and float(t.max()) < 3
    i = make_tensor((5,), dtype=rustdl.int64, exclude_zero=True)
    assert i.dtype == rustdl.int64 and (i.numpy() != 0).all()
    assert make_tensor(2, dtype=rustdl.float32, requires_grad=True).requires_grad


# ---- determinism flag and versions ----


def test_deterministic_flag_and_version():
    assert isinstance(rustdl.__version__, str)
    rustdl.use_deterministic_algorithms(True, warn_only=True)
    assert rustdl.are_deterministic_algorithms_enabled()
    assert rustdl.is_deterministic_algorithms_warn_only_enabled()
    rustdl.use_deterministic_algorithms(False)
    assert not rustdl.are_deterministic_algorithms_enabled()
    with pytest.raises(TypeError, match="use_deterministic_algorithms"):
        rustdl.use_deterministic_algorithms("yes")


def test_torch_version_through_facade():
    from rustdl import torchcompat

    was = torchcompat.installed()
    torchcompat.install()
    try:
        import torch
        import torch.testing

        assert torch.__version__.startswith("2.") and "rustdl" in torch.__version__
        assert torch.__version__ >= "1.8"
        major, minor = (int(v) for v in torch.__version__.split("+")[0].split(".")[:2])
        assert (major, minor) >= (1, 8)
        torch.testing.assert_close(torch.ones(2), torch.ones(2))
    finally:
        if not was:
            torchcompat.uninstall()


# ---- distributions ----


def _spd(k, seed):
    a = np.random.default_rng(seed).standard_normal((k, k))
    return a @ a.T + k * np.eye(k)


def test_multivariate_normal():
    from rustdl.distributions import MultivariateNormal

    rng = np.random.default_rng(5)
    cov, mu, x = _spd(3, 0), rng.standard_normal(3), rng.standard_normal((4, 3))
    inv, logdet = np.linalg.inv(cov), np.log(np.linalg.det(cov))
    ref = np.array([-0.5 * (3 * np.log(2 * np.pi) + logdet + (v - mu) @ inv @ (v - mu)) for v in x])
    for kw in (
        {"covariance_matrix": rustdl.tensor(cov)},
        {"precision_matrix": rustdl.tensor(inv)},
        {"scale_tril": rustdl.tensor(np.linalg.cholesky(cov))},
    ):
        d = MultivariateNormal(rustdl.tensor(mu), **kw)
        assert d.batch_shape == () and d.event_shape == (3,)
        np.testing.assert_allclose(d.log_prob(rustdl.tensor(x)).numpy(), ref, atol=1e-10)
        np.testing.assert_allclose(
            d.entropy().item(), 1.5 * (1 + np.log(2 * np.pi)) + 0.5 * logdet, atol=1e-10
        )
        np.testing.assert_allclose(d.variance.numpy(), np.diag(cov), atol=1e-10)
        np.testing.assert_allclose(d.covariance_matrix.numpy(), cov, atol=1e-10)
    rustdl.manual_seed(0)
    s = d.sample((20000,)).numpy()
    assert s.shape == (20000, 3)
    np.testing.assert_allclose(s.mean(0), mu, atol=0.08)
    np.testing.assert_allclose(np.cov(s.T), cov, atol=0.25)
    loc = rustdl.tensor(mu, requires_grad=True)
    c = rustdl.tensor(cov)
    assert gradcheck(lambda m: MultivariateNormal(m, covariance_matrix=c).log_prob(rustdl.tensor(x)), [loc])
    with pytest.raises(ValueError, match="MultivariateNormal"):
        MultivariateNormal(rustdl.tensor(mu))
    with pytest.raises(ValueError, match="MultivariateNormal"):
        MultivariateNormal(rustdl.tensor(mu), covariance_matrix=rustdl.eye(2, dtype=rustdl.float64))


def test_kl_divergences():
    from rustdl.distributions import (
        Bernoulli,
        Categorical,
        Independent,
        MultivariateNormal,
        Normal,
        kl_divergence,
    )

    c1, c2 = _spd(3, 1), _spd(3, 2)
    m1, m2 = np.zeros(3), np.arange(3.0)
    kl = kl_divergence(
        MultivariateNormal(rustdl.tensor(m1), rustdl.tensor(c1)),
        MultivariateNormal(rustdl.tensor(m2), rustdl.tensor(c2)),
    ).item()
    i2 = np.linalg.inv(c2)
    ref = 0.5 * (
        np.trace(i2 @ c1) + (m2 - m1) @ i2 @ (m2 - m1) - 3 + np.log(np.linalg.det(c2) / np.linalg.det(c1))
    )
    np.testing.assert_allclose(kl, ref, rtol=1e-10)
    p, q = np.array([0.2, 0.3, 0.5]), np.array([0.4, 0.4, 0.2])
    kl = kl_divergence(Categorical(probs=rustdl.tensor(p)), Categorical(probs=rustdl.tensor(q))).item()
    np.testing.assert_allclose(kl, (p * np.log(p / q)).sum(), rtol=1e-5)
    kl = kl_divergence(Bernoulli(0.3), Bernoulli(0.6)).item()
    np.testing.assert_allclose(kl, 0.3 * np.log(0.3 / 0.6) + 0.7 * np.log(0.7 / 0.4), rtol=1e-5)
    a = Independent(Normal(rustdl.zeros(2, 3), rustdl.ones(2, 3)), 1)
    b = Independent(Normal(rustdl.ones(2, 3), rustdl.ones(2, 3)), 1)
    np.testing.assert_allclose(kl_divergence(a, b).numpy(), [1.5, 1.5], rtol=1e-6)


def test_simple_distributions():
    import math

    from rustdl.distributions import Exponential, Geometric, Independent, Laplace, LogNormal, Normal

    f64 = rustdl.float64
    lap = Laplace(rustdl.tensor([0.5], dtype=f64), 2.0)
    np.testing.assert_allclose(lap.log_prob(rustdl.tensor([1.5], dtype=f64)).item(), -math.log(4) - 0.5)
    np.testing.assert_allclose(lap.variance.item(), 8.0)
    np.testing.assert_allclose(lap.entropy().item(), 1 + math.log(4))
    ex = Exponential(rustdl.tensor(2.0, dtype=f64))
    np.testing.assert_allclose(ex.log_prob(rustdl.tensor(0.7, dtype=f64)).item(), math.log(2) - 1.4)
    np.testing.assert_allclose((ex.mean.item(), ex.variance.item()), (0.5, 0.25))
    ln = LogNormal(rustdl.tensor(0.2, dtype=f64), 0.5)
    v = 1.7
    ref = -math.log(v * 0.5 * math.sqrt(2 * math.pi)) - (math.log(v) - 0.2) ** 2 / (2 * 0.25)
    np.testing.assert_allclose(ln.log_prob(rustdl.tensor(v, dtype=f64)).item(), ref)
    np.testing.assert_allclose(ln.mean.item(), math.exp(0.2 + 0.125))
    geo = Geometric(0.3)
    np.testing.assert_allclose(geo.log_prob(rustdl.tensor(2.0)).item(), math.log(0.49 * 0.3), rtol=1e-6)
    np.testing.assert_allclose((geo.mean.item(), geo.variance.item()), (0.7 / 0.3, 0.7 / 0.09), rtol=1e-6)
    rustdl.manual_seed(1)
    np.testing.assert_allclose(Laplace(1.0, 2.0).sample((40000,)).numpy().var(), 8.0, rtol=0.05)
    np.testing.assert_allclose(Exponential(2.0).sample((40000,)).numpy().mean(), 0.5, rtol=0.03)
    np.testing.assert_allclose(
        LogNormal(0.0, 0.5).sample((40000,)).numpy().mean(), math.exp(0.125), rtol=0.03
    )
    np.testing.assert_allclose(geo.sample((40000,)).numpy().mean(), 0.7 / 0.3, rtol=0.05)
    ind = Independent(Normal(rustdl.zeros(2, 3), rustdl.ones(2, 3)), 1)
    assert (ind.batch_shape, ind.event_shape) == ((2,), (3,))
    np.testing.assert_allclose(
        ind.log_prob(rustdl.zeros(2, 3)).numpy(), [-1.5 * math.log(2 * math.pi)] * 2, rtol=1e-6
    )
    assert tuple(ind.entropy().shape) == (2,)
    with pytest.raises(ValueError, match="Independent"):
        Independent(Normal(0.0, 1.0), 1)
    with pytest.raises(TypeError, match="Independent"):
        Independent("normal", 0)
    with pytest.raises(ValueError, match="Geometric"):
        Geometric()


def test_gamma_family():
    import math

    from rustdl.distributions import Beta, Binomial, Dirichlet, Gamma, Poisson
    from rustdl.distributions.gamma_family import digamma, lgamma

    def t(v):
        return rustdl.tensor(v, dtype=rustdl.float64)

    np.testing.assert_allclose(
        lgamma(t([0.5, 3.0, 10.5])).numpy(), [math.lgamma(v) for v in (0.5, 3.0, 10.5)]
    )
    np.testing.assert_allclose(digamma(t(1.0)).item(), -0.5772156649015329, rtol=1e-9)
    assert gradcheck(lgamma, [t([0.7, 2.5, 4.0]).requires_grad_(True)])

    g = Gamma(t(2.5), t(1.5))
    ref = 2.5 * math.log(1.5) + 1.5 * math.log(1.3) - 1.5 * 1.3 - math.lgamma(2.5)
    np.testing.assert_allclose(g.log_prob(t(1.3)).item(), ref)
    np.testing.assert_allclose((g.mean.item(), g.variance.item()), (2.5 / 1.5, 2.5 / 2.25))
    assert g.has_rsample  # implicit reparameterisation (test_distributions_rsample.py)
    assert tuple(g.rsample((4,)).shape) == (4,)
    conc = t(2.5).requires_grad_(True)
    assert gradcheck(lambda c: Gamma(c, t(1.5)).log_prob(t([1.3, 0.4])), [conc])

    b = Beta(t(2.0), t(3.0))
    ref = math.log(0.3) + 2 * math.log(0.7) - (math.lgamma(2) + math.lgamma(3) - math.lgamma(5))
    np.testing.assert_allclose(b.log_prob(t(0.3)).item(), ref)
    np.testing.assert_allclose(b.entropy().item(), -0.2349066497880004, rtol=1e-8)
    np.testing.assert_allclose((b.mean.item(), b.variance.item()), (0.4, 6 / 150))

    d = Dirichlet(t([1.0, 2.0, 3.0]))
    xv = [0.2, 0.3, 0.5]
    ref = (
        sum((a - 1) * math.log(q) for a, q in zip([1, 2, 3], xv))
        + math.lgamma(6)
        - sum(map(math.lgamma, [1, 2, 3]))
    )
    np.testing.assert_allclose(d.log_prob(t(xv)).item(), ref)
    assert d.event_shape == (3,)

    p = Poisson(t(3.0))
    np.testing.assert_allclose(p.log_prob(t(2.0)).item(), 2 * math.log(3) - 3 - math.log(2))
    bn = Binomial(10, t(0.3))
    np.testing.assert_allclose(bn.log_prob(t(4.0)).item(), math.log(math.comb(10, 4) * 0.3**4 * 0.7**6))
    np.testing.assert_allclose(bn.variance.item(), 2.1)
    with pytest.raises(ValueError, match="Binomial"):
        Binomial(10)

    rustdl.manual_seed(0)
    np.testing.assert_allclose(g.sample((40000,)).numpy().mean(), 2.5 / 1.5, rtol=0.03)
    np.testing.assert_allclose(b.sample((40000,)).numpy().mean(), 0.4, rtol=0.03)
    np.testing.assert_allclose(d.sample((20000,)).numpy().mean(0), [1 / 6, 1 / 3, 1 / 2], rtol=0.03)
    np.testing.assert_allclose(p.sample((40000,)).numpy().mean(), 3.0, rtol=0.03)
    np.testing.assert_allclose(bn.sample((40000,)).numpy().mean(), 3.0, rtol=0.03)
    rustdl.manual_seed(7)
    first = g.sample((5,)).numpy()
    rustdl.manual_seed(7)
    np.testing.assert_array_equal(g.sample((5,)).numpy(), first)


def test_version_parses_and_mvn_batches():
    packaging_version = pytest.importorskip("packaging.version")
    v = packaging_version.parse(rustdl.__torch_compat_version__)
    assert v >= packaging_version.parse("1.8") and v.local.startswith("rustdl")
    from rustdl.distributions import Laplace, MultivariateNormal

    m = MultivariateNormal(rustdl.zeros(2, 3), rustdl.eye(3))
    s = m.sample((5,))
    assert tuple(s.shape) == (5, 2, 3) and tuple(m.log_prob(s).shape) == (5, 2) and m.batch_shape == (2,)
    np.testing.assert_allclose(
        Laplace(0.0, 1.0).cdf(rustdl.tensor([-1.0, 0.0, 1.0])).numpy(),
        [0.5 * np.exp(-1), 0.5, 1 - 0.5 * np.exp(-1)],
        rtol=1e-6,
    )
