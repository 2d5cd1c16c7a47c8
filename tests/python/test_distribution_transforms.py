"""Transforms of ``rustdl.distributions.transforms`` inside TransformedDistribution: log-densities
against the change-of-variables formula written out by hand, shapes as PyTorch's rules give them,
and the ``cache_size=1`` inverse that keeps tanh-squashed samples finite (SAC's policy)."""

import math

import numpy as np
import pytest
import rustdl
from rustdl.distributions import Independent, Normal, TransformedDistribution, Uniform
from rustdl.distributions.transforms import (
    AbsTransform,
    AffineTransform,
    ComposeTransform,
    CumulativeDistributionTransform,
    ExpTransform,
    IndependentTransform,
    LowerCholeskyTransform,
    PowerTransform,
    ReshapeTransform,
    SoftmaxTransform,
    StickBreakingTransform,
    TanhTransform,
)


def D(v, requires_grad=False):
    return rustdl.tensor(np.asarray(v, dtype=np.float64), dtype=rustdl.float64, requires_grad=requires_grad)


def normal_lp(x, m, s):
    return -0.5 * ((x - m) / s) ** 2 - np.log(s) - 0.5 * math.log(2 * math.pi)


MU = np.array([[0.3, -1.2], [0.0, 2.0], [1.5, -0.4]])
SD = np.array([[0.5, 1.0], [2.0, 0.7], [1.1, 0.3]])
V = np.array([[0.3, -0.9], [0.99, 0.0], [-0.5, 0.7]])


def test_tanh_squashed_normal_log_prob_and_gradient():
    mu, sd = D(MU, True), D(SD, True)
    d = TransformedDistribution(Normal(mu, sd), [TanhTransform(cache_size=1)])
    lp = d.log_prob(D(V))
    want = normal_lp(np.arctanh(V), MU, SD) - np.log1p(-(V**2))
    np.testing.assert_allclose(lp.detach().numpy(), want, rtol=1e-12)
    lp.sum().backward()
    z = (np.arctanh(V) - MU) / SD
    np.testing.assert_allclose(mu.grad.numpy(), z / SD, rtol=1e-10)


def test_cached_inverse_keeps_saturated_samples_finite():
    rustdl.manual_seed(0)
    d = TransformedDistribution(Normal(D([0.0]), D([30.0])), [TanhTransform(cache_size=1)])
    y = d.rsample((1000,))
    assert float(y.abs().max()) == 1.0  # some draws saturate in float64
    assert np.isfinite(d.log_prob(y).numpy()).all()
    assert not np.isfinite(TanhTransform().inv(y).numpy()).all()  # without the cache: ±inf
    t = TanhTransform(cache_size=1)
    x = D([40.0])
    assert t.inv(t(x)) is x
    with pytest.raises(ValueError, match="cache_size"):
        TanhTransform(cache_size=2)


def test_tanh_log_det_is_stable_far_out():
    x = D([-40.0, -3.0, 0.0, 3.0, 40.0])
    got = TanhTransform().log_abs_det_jacobian(x, None).numpy()
    ax = np.abs(x.numpy())
    want = 2 * (math.log(2) - ax - np.log1p(np.exp(-2 * ax)))  # log(1 − tanh² x)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_event_dims_through_independent_and_vector_transforms():
    base = Independent(Normal(D(MU), D(SD)), 1)
    d = TransformedDistribution(base, [TanhTransform(), AffineTransform(2.0, 3.0)])
    assert tuple(d.batch_shape) == (3,) and tuple(d.event_shape) == (2,)
    y = V * 3 + 2
    want = (normal_lp(np.arctanh(V), MU, SD) - np.log1p(-(V**2)) - math.log(3)).sum(-1)
    np.testing.assert_allclose(d.log_prob(D(y)).numpy(), want, rtol=1e-12)
    d = TransformedDistribution(Normal(D(MU), 1.0), [IndependentTransform(ExpTransform(), 1)])
    assert tuple(d.batch_shape) == (3,) and tuple(d.event_shape) == (2,)
    v = np.abs(V) + 0.1
    np.testing.assert_allclose(
        d.log_prob(D(v)).numpy(), (normal_lp(np.log(v), MU, 1.0) - np.log(v)).sum(-1), rtol=1e-12
    )
    scale = np.array([1.0, 2.0, 3.0])
    d = TransformedDistribution(
        Normal(D(np.zeros(3)), 1.0), [AffineTransform(D(np.ones(3)), D(scale), event_dim=1)]
    )
    assert tuple(d.batch_shape) == () and tuple(d.event_shape) == (3,)
    y = np.array([0.5, 1.5, -2.0])
    np.testing.assert_allclose(
        float(d.log_prob(D(y))), (normal_lp((y - 1) / scale, 0, 1) - np.log(scale)).sum(), rtol=1e-12
    )


def test_reshape_stick_breaking_and_power():
    d = TransformedDistribution(Normal(D(np.zeros((2, 6))), 1.0), [ReshapeTransform((6,), (2, 3))])
    assert tuple(d.batch_shape) == (2,) and tuple(d.event_shape) == (2, 3)
    v = np.arange(12.0).reshape(2, 2, 3) / 10
    np.testing.assert_allclose(d.log_prob(D(v)).numpy(), normal_lp(v, 0, 1).reshape(2, 6).sum(-1), rtol=1e-12)
    d = TransformedDistribution(Normal(D(np.zeros(4)), 1.0), [StickBreakingTransform()])
    assert tuple(d.batch_shape) == () and tuple(d.event_shape) == (5,)
    x = D([0.1, -0.4, 0.3, 0.2])
    y = StickBreakingTransform()(x)
    ladj = float(StickBreakingTransform().log_abs_det_jacobian(x, y))
    np.testing.assert_allclose(float(d.log_prob(y)), normal_lp(x.numpy(), 0, 1).sum() - ladj, rtol=1e-10)
    d = TransformedDistribution(Uniform(D([0.5]), 2.0), [PowerTransform(D(2.0))])
    y = np.array([1.0, 2.0, 3.5])
    want = np.where((y > 0.25) & (y < 4.0), -math.log(1.5) - np.log(2 * np.sqrt(y)), -np.inf)
    np.testing.assert_allclose(d.log_prob(D(y)).numpy(), want, rtol=1e-12)


def test_other_transforms_values():
    np.testing.assert_allclose(
        SoftmaxTransform()(D([1.0, 2.0, 3.0])).numpy(), np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum()
    )
    np.testing.assert_allclose(SoftmaxTransform().inv(D([0.2, 0.8])).numpy(), np.log([0.2, 0.8]))
    np.testing.assert_allclose(
        LowerCholeskyTransform()(D([[0.0, 5.0], [2.0, 1.0]])).numpy(), [[1.0, 0.0], [2.0, math.e]]
    )
    c = CumulativeDistributionTransform(Normal(0.0, 1.0))
    np.testing.assert_allclose(
        c(D([0.0, 1.0])).numpy(), [0.5, 0.5 * (1 + math.erf(1 / math.sqrt(2)))], rtol=1e-12
    )
    np.testing.assert_allclose(
        c.log_abs_det_jacobian(D([1.0]), None).numpy(), normal_lp(1.0, 0, 1), rtol=1e-12
    )
    np.testing.assert_array_equal(AbsTransform()(D([-2.0, 3.0])).numpy(), [2.0, 3.0])
    ct = ComposeTransform([AffineTransform(0.0, 2.0), ExpTransform()])
    x = D([0.1, 0.5])
    np.testing.assert_allclose(
        ct.log_abs_det_jacobian(x, ct(x)).numpy(), math.log(2) + 2 * x.numpy(), rtol=1e-12
    )
    assert TanhTransform().sign == 1 and AffineTransform(0.0, -2.0).sign == -1
