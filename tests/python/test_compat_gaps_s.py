"""Gaps found by listing PyTorch's public names against rustdl's and by hostile calls to in-place
methods: distribution constraints and the constraint registry (``biject_to`` / ``transform_to``),
discrete supports, matrix-argument validation, random fills' argument checks and generators,
``copy_(non_blocking=)`` and argument errors that are also ``RuntimeError``.
References: numpy, closed forms and finite differences."""

import math

import numpy as np
import pytest
import rustdl
from rustdl import distributions as D
from rustdl.distributions import biject_to, transform_to
from rustdl.distributions import constraints as C
from rustdl.distributions import transforms as T


def _a(seed, shape=(4, 3), scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def _t(a, **kw):
    return rustdl.tensor(np.asarray(a, dtype=np.float64), **kw)


# ------------------------------------------------------------------------------------------
# constraints
# ------------------------------------------------------------------------------------------


def test_integer_constraints_reject_fractions_and_negatives():
    v = np.array([0.0, 1.5, -1.0, 3.0, 1.0])
    np.testing.assert_array_equal(C.nonnegative_integer.check(_t(v)).numpy(), (v % 1 == 0) & (v >= 0))
    np.testing.assert_array_equal(C.positive_integer.check(_t(v)).numpy(), (v % 1 == 0) & (v >= 1))
    assert C.nonnegative_integer.is_discrete and C.positive_integer.is_discrete
    assert repr(C.positive_integer) == "IntegerGreaterThan(lower_bound=1)"


def test_bound_constraints_against_numpy():
    v = _a(0, (6,), 3.0)
    np.testing.assert_array_equal(C.less_than(0.5).check(_t(v)).numpy(), v < 0.5)
    np.testing.assert_array_equal(C.greater_than_eq(-1.0).check(_t(v)).numpy(), v >= -1.0)
    counts = np.array([[1.0, 2, 2], [3, 3, 0], [-1, 1, 1]])
    np.testing.assert_array_equal(
        C.multinomial(5).check(_t(counts)).numpy(), (counts >= 0).all(-1) & (counts.sum(-1) <= 5)
    )
    assert C.multinomial(5).event_dim == 1 and C.multinomial(5).is_discrete


def test_matrix_constraints_against_numpy():
    a = _a(1, (3, 3, 3))
    spd = a @ a.transpose(0, 2, 1) + np.eye(3)
    assert C.lower_triangular.check(_t(np.tril(a))).numpy().all()
    assert not C.lower_triangular.check(_t(a)).numpy().any()
    assert C.symmetric.check(_t(a + a.transpose(0, 2, 1))).numpy().all()
    assert not C.symmetric.check(_t(a)).numpy().any()
    np.testing.assert_array_equal(C.square.check(_t(np.zeros((2, 3, 4)))).numpy(), [False, False])
    np.testing.assert_array_equal(C.square.check(_t(np.zeros((2, 3, 3)))).numpy(), [True, True])
    # positive-definite: every eigenvalue > 0 (numpy's eigvalsh), on a batch with one indefinite matrix
    batch = spd.copy()
    batch[1] = -batch[1]
    expect = (np.linalg.eigvalsh(batch) > 0).all(-1)
    np.testing.assert_array_equal(C.positive_definite.check(_t(batch)).numpy(), expect)
    psd = np.zeros((2, 3, 3))
    psd[0] = np.diag([1.0, 2.0, 0.0])
    psd[1] = -np.eye(3)
    np.testing.assert_array_equal(C.positive_semidefinite.check(_t(psd)).numpy(), [True, False])
    chol = np.linalg.cholesky(spd)
    assert C.lower_cholesky.check(_t(chol)).numpy().all()
    assert not C.lower_cholesky.check(_t(-chol)).numpy().any()
    corr = chol / np.linalg.norm(chol, axis=-1, keepdims=True)
    assert C.corr_cholesky.check(_t(corr)).numpy().all() and not C.corr_cholesky.check(_t(chol)).numpy().any()


def test_cat_stack_and_mixture_constraints():
    v = np.array([[1.0, -1.0, 0.5], [-2.0, 3.0, 1.5]])
    cat = C.cat([C.positive, C.real, C.unit_interval], 1, [1, 1, 1])
    np.testing.assert_array_equal(
        cat.check(_t(v)).numpy(),
        np.stack([v[:, 0] > 0, v[:, 1] == v[:, 1], (v[:, 2] >= 0) & (v[:, 2] <= 1)], 1),
    )
    mix = C.MixtureSameFamilyConstraint(C.positive)
    np.testing.assert_array_equal(
        mix.check(_t([[1.0, -1.0], [2.0, 3.0]])).numpy(), [[True, False], [True, True]]
    )


# ------------------------------------------------------------------------------------------
# biject_to / transform_to
# ------------------------------------------------------------------------------------------


def _numeric_ladj(f, x, eps=1e-6):
    """log|f'(x)| elementwise by central differences (f elementwise)."""
    return np.log(np.abs((f(x + eps) - f(x - eps)) / (2 * eps)))


@pytest.mark.parametrize(
    "constraint,ref",
    [
        (C.positive, np.exp),
        (C.nonnegative, np.exp),
        (C.greater_than(2.0), lambda x: np.exp(x) + 2.0),
        (C.greater_than_eq(-1.0), lambda x: np.exp(x) - 1.0),
        (C.less_than(3.0), lambda x: 3.0 - np.exp(x)),
        (C.unit_interval, lambda x: 1 / (1 + np.exp(-x))),
        (C.interval(-2.0, 5.0), lambda x: -2.0 + 7.0 / (1 + np.exp(-x))),
        (C.half_open_interval(1.0, 4.0), lambda x: 1.0 + 3.0 / (1 + np.exp(-x))),
        (C.real, lambda x: x),
    ],
)
def test_elementwise_registry_maps_onto_the_set(constraint, ref):
    x = _a(2, (5,), 2.0)
    for registry in (biject_to, transform_to):
        tr = registry(constraint)
        y = tr(_t(x))
        np.testing.assert_allclose(y.numpy(), ref(x), rtol=1e-10, atol=1e-12)
        assert constraint.check(y).numpy().all()
        np.testing.assert_allclose(tr.inv(y).numpy(), x, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(
            tr.log_abs_det_jacobian(_t(x), y).numpy(), _numeric_ladj(ref, x), rtol=1e-5, atol=1e-6
        )


def test_registry_simplex_and_independent():
    x = _a(3, (4, 3))
    y = biject_to(C.simplex)(_t(x))  # stick-breaking: one more coordinate
    assert y.shape == (4, 4) and C.simplex.check(y).numpy().all()
    np.testing.assert_allclose(biject_to(C.simplex).inv(y).numpy(), x, rtol=1e-7, atol=1e-9)
    y = transform_to(C.simplex)(_t(x))  # softmax
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(y.numpy(), e / e.sum(-1, keepdims=True), rtol=1e-12)
    tr = biject_to(C.independent(C.positive, 1))
    y = tr(_t(x))
    np.testing.assert_allclose(y.numpy(), np.exp(x), rtol=1e-12)
    np.testing.assert_allclose(tr.log_abs_det_jacobian(_t(x), y).numpy(), x.sum(-1), rtol=1e-12)


def test_registry_cat_and_stack_apply_each_part():
    x = _a(4, (2, 3))
    y = biject_to(C.cat([C.positive, C.real, C.unit_interval], 1, [1, 1, 1]))(_t(x)).numpy()
    np.testing.assert_allclose(
        y, np.stack([np.exp(x[:, 0]), x[:, 1], 1 / (1 + np.exp(-x[:, 2]))], 1), rtol=1e-12
    )
    y = transform_to(C.stack([C.positive, C.real, C.less_than(0.0)], 1))(_t(x)).numpy()
    np.testing.assert_allclose(y, np.stack([np.exp(x[:, 0]), x[:, 1], -np.exp(x[:, 2])], 1), rtol=1e-12)


def test_registry_matrices_and_what_has_no_bijection():
    x = _a(5, (2, 3, 3))
    low = transform_to(C.lower_cholesky)(_t(x)).numpy()
    np.testing.assert_allclose(
        low, np.tril(x, -1) + np.exp(np.diagonal(x, 0, 1, 2))[..., None] * np.eye(3), rtol=1e-12
    )
    pd = transform_to(C.positive_definite)(_t(x))
    np.testing.assert_allclose(pd.numpy(), low @ low.transpose(0, 2, 1), rtol=1e-12)
    assert (np.linalg.eigvalsh(pd.numpy()) > 0).all() and C.positive_definite.check(pd).numpy().all()
    # the inverse goes through the Cholesky factor: back to the lower part of x with its diagonal
    np.testing.assert_allclose(
        transform_to(C.positive_definite).inv(pd).numpy(), np.tril(x), rtol=1e-8, atol=1e-10
    )
    corr = biject_to(C.corr_cholesky)(_t(_a(6, (4, 3))))
    assert corr.shape == (4, 3, 3) and C.corr_cholesky.check(corr).numpy().all()
    for c in (C.lower_cholesky, C.positive_definite, C.positive_semidefinite):
        with pytest.raises(NotImplementedError, match="Cannot transform"):
            biject_to(c)
    with pytest.raises(NotImplementedError):
        transform_to(C.boolean)


def test_registry_is_extensible():
    reg = D.constraint_registry.ConstraintRegistry()

    @reg.register(C.positive)
    def _softplus(constraint):
        return T.SoftplusTransform()

    x = _a(7, (5,))
    np.testing.assert_allclose(reg(C.positive)(_t(x)).numpy(), np.log1p(np.exp(x)), rtol=1e-12)
    with pytest.raises(TypeError):
        reg.register(3, _softplus)


def test_softplus_transform_value_inverse_and_jacobian():
    x = _a(8, (6,), 3.0)
    tr = T.SoftplusTransform()
    y = tr(_t(x))
    np.testing.assert_allclose(y.numpy(), np.log1p(np.exp(x)), rtol=1e-12)
    np.testing.assert_allclose(tr.inv(y).numpy(), x, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(tr.log_abs_det_jacobian(_t(x), y).numpy(), -np.log1p(np.exp(-x)), rtol=1e-12)
    # a distribution through it: log_prob of y = log_prob_base(x) - log|dy/dx|
    d = D.TransformedDistribution(D.Normal(0.0, 1.0), [tr])
    lp = d.log_prob(y).numpy()
    np.testing.assert_allclose(
        lp, -0.5 * x**2 - 0.5 * math.log(2 * math.pi) + np.log1p(np.exp(-x)), rtol=1e-9
    )


# ------------------------------------------------------------------------------------------
# supports and argument validation of distributions
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,bad",
    [
        (lambda: D.Poisson(2.0), 1.5),
        (lambda: D.Geometric(0.3), 0.5),
        (lambda: D.Binomial(5, 0.3), 2.5),
        (lambda: D.Binomial(5, 0.3), 6.0),
        (lambda: D.NegativeBinomial(5, 0.3), 1.5),
    ],
)
def test_discrete_distributions_refuse_values_off_their_support(make, bad):
    d = make()
    assert d.support.is_discrete
    with pytest.raises(ValueError, match="support"):
        d.log_prob(_t(bad))
    ok = D.Poisson(2.0).log_prob(_t(3.0)).item()
    assert ok == pytest.approx(3 * math.log(2.0) - 2.0 - math.log(6.0), rel=1e-6)


def test_multinomial_support_is_its_count_simplex():
    d = D.Multinomial(4, _t([0.2, 0.8]))
    assert d.support.event_dim == 1 and d.support.is_discrete
    assert d.support.check(_t([1.0, 3.0])).item() and not d.support.check(_t([-1.0, 2.0])).item()


def test_multivariate_normal_checks_its_matrix_before_factorising_it():
    loc = rustdl.zeros(2, dtype=rustdl.float64)
    not_symmetric = _t([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="covariance_matrix"):
        D.MultivariateNormal(loc, not_symmetric)
    with pytest.raises(ValueError, match="precision_matrix"):
        D.MultivariateNormal(loc, precision_matrix=-rustdl.eye(2, dtype=rustdl.float64))
    with pytest.raises(ValueError, match="scale_tril"):
        D.MultivariateNormal(loc, scale_tril=-rustdl.eye(2, dtype=rustdl.float64))
    with pytest.raises(ValueError, match="covariance_matrix"):
        D.Wishart(3.0, -rustdl.eye(2, dtype=rustdl.float64))
    # a valid covariance still gives numpy's density
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    x = np.array([0.4, -1.2])
    lp = D.MultivariateNormal(loc, _t(cov)).log_prob(_t(x)).item()
    ref = -0.5 * (x @ np.linalg.solve(cov, x) + np.log(np.linalg.det(cov)) + 2 * np.log(2 * np.pi))
    assert lp == pytest.approx(ref, rel=1e-12)
    assert sorted(D.MultivariateNormal.arg_constraints) == [
        "covariance_matrix",
        "loc",
        "precision_matrix",
        "scale_tril",
    ]


def test_distribution_submodules_import_under_torchcompat():
    from rustdl import torchcompat

    torchcompat.install()
    try:
        import importlib

        mvn = importlib.import_module("torch.distributions.multivariate_normal")
        registry = importlib.import_module("torch.distributions.constraint_registry")
        beta = importlib.import_module("torch.distributions.beta")
        assert mvn.MultivariateNormal is D.MultivariateNormal and beta.Beta is D.Beta
        assert registry.biject_to is biject_to
    finally:
        torchcompat.uninstall()


# ------------------------------------------------------------------------------------------
# in-place random fills, copy_(non_blocking=), argument errors
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.exponential_(0.0),
        lambda t: t.exponential_(-1.0),
        lambda t: t.geometric_(0.0),
        lambda t: t.geometric_(1.0),
        lambda t: t.cauchy_(0.0, -1.0),
        lambda t: t.log_normal_(0.0, 0.0),
    ],
)
def test_random_fills_refuse_bad_parameters_and_leave_the_tensor(call):
    t = rustdl.full((3,), 7.0)
    with pytest.raises(RuntimeError, match="expects"):
        call(t)
    np.testing.assert_array_equal(t.numpy(), [7.0, 7.0, 7.0])


def test_random_fills_follow_their_generator_and_distribution():
    for fill in (
        lambda t, g: t.exponential_(2.0, generator=g),
        lambda t, g: t.geometric_(0.3, generator=g),
        lambda t, g: t.cauchy_(1.0, 2.0, generator=g),
        lambda t, g: t.log_normal_(0.5, 0.25, generator=g),
        lambda t, g: t.random_(3, 9, generator=g),
    ):
        a = fill(rustdl.zeros(2000, dtype=rustdl.float64), rustdl.Generator().manual_seed(11)).numpy()
        b = fill(rustdl.zeros(2000, dtype=rustdl.float64), rustdl.Generator().manual_seed(11)).numpy()
        np.testing.assert_array_equal(a, b)
    e = rustdl.zeros(20000, dtype=rustdl.float64).exponential_(
        2.0, generator=rustdl.Generator().manual_seed(1)
    )
    assert e.numpy().mean() == pytest.approx(0.5, rel=0.05)
    g = (
        rustdl.zeros(20000, dtype=rustdl.float64)
        .geometric_(0.3, generator=rustdl.Generator().manual_seed(2))
        .numpy()
    )
    assert g.min() >= 1 and g.mean() == pytest.approx(1 / 0.3, rel=0.05)
    ln = rustdl.zeros(20000, dtype=rustdl.float64).log_normal_(
        0.5, 0.25, generator=rustdl.Generator().manual_seed(3)
    )
    assert np.log(ln.numpy()).mean() == pytest.approx(0.5, abs=0.01)


def test_copy_accepts_non_blocking():
    dst = rustdl.zeros(3)
    src = rustdl.tensor([1.0, 2.0, 3.0])
    assert dst.copy_(src, non_blocking=True) is dst
    np.testing.assert_array_equal(dst.numpy(), [1.0, 2.0, 3.0])
    dst.copy_(src * 2, False)
    np.testing.assert_array_equal(dst.numpy(), [2.0, 4.0, 6.0])


def test_argument_errors_are_runtime_errors_as_in_pytorch():
    for call in (lambda: rustdl.zeros(-1), lambda: rustdl.eye(-2), lambda: rustdl.linspace(0, 1, -3)):
        with pytest.raises(RuntimeError) as info:
            call()
        assert isinstance(info.value, ValueError) and type(info.value).__name__ == "ArgumentError"


# ------------------------------------------------------------------------------------------
# torch.* names with ATen's signatures, and small module/tensor names
# ------------------------------------------------------------------------------------------


def _ctc_brute_force(probs, target, blank=0):
    """-log of the summed probability of every alignment (length T) that collapses to ``target``."""
    import itertools

    T_, C_ = probs.shape
    total = 0.0
    for path in itertools.product(range(C_), repeat=T_):
        collapsed = [c for i, c in enumerate(path) if (i == 0 or c != path[i - 1]) and c != blank]
        if collapsed == list(target):
            total += np.prod([probs[t, c] for t, c in enumerate(path)])
    return -np.log(total)


def test_torch_ctc_loss_takes_atens_integer_reduction():
    logits = _a(20, (4, 2, 3))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    targets, in_len, tg_len = [[1, 2], [2, 0]], [4, 3], [2, 1]
    ref = np.array(
        [_ctc_brute_force(np.exp(log_probs[: in_len[n], n]), targets[n][: tg_len[n]]) for n in range(2)]
    )
    args = (_t(log_probs), rustdl.tensor(targets), rustdl.tensor(in_len), rustdl.tensor(tg_len))
    np.testing.assert_allclose(rustdl.ctc_loss(*args).numpy(), ref, rtol=1e-9)  # default: per sequence
    np.testing.assert_allclose(rustdl.ctc_loss(*args, 0, 2).item(), ref.sum(), rtol=1e-9)
    np.testing.assert_allclose(rustdl.ctc_loss(*args, reduction=1).item(), (ref / tg_len).mean(), rtol=1e-9)
    with pytest.raises(ValueError):
        rustdl.ctc_loss(*args, reduction=3)


def _conv2d_np(x, w, stride, padding, dilation):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[
                :,
                :,
                i * stride[0] : i * stride[0] + dilation[0] * (kh - 1) + 1 : dilation[0],
                j * stride[1] : j * stride[1] + dilation[1] * (kw - 1) + 1 : dilation[1],
            ]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return out


def test_torch_convolution_dispatches_on_rank_and_transposed():
    x, w, b = _a(21, (2, 3, 7, 6)), _a(22, (4, 3, 3, 2)), _a(23, (4,))
    out = rustdl.convolution(_t(x), _t(w), _t(b), [2, 1], [1, 0], [1, 2], False, [0, 0], 1)
    ref = _conv2d_np(x, w, (2, 1), (1, 0), (1, 2)) + b[:, None, None]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-12)
    # transposed, stride 2 with output padding: each input pixel scatters the kernel
    xt, wt = _a(24, (1, 2, 3, 3)), _a(25, (2, 3, 3, 3))
    out = rustdl.convolution(_t(xt), _t(wt), None, [2, 2], [1, 1], [1, 1], True, [1, 0], 1).numpy()
    full = np.zeros((1, 3, 2 * 2 + 3, 2 * 2 + 3))
    for i in range(3):
        for j in range(3):
            full[0, :, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3] += np.einsum("c,cokl->okl", xt[0, :, i, j], wt)
    np.testing.assert_allclose(out, full[:, :, 1 : 1 + 6, 1 : 1 + 5], rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError):
        rustdl.convolution(_t(x), _t(np.zeros((3, 3))), None, [1], [0], [1], False, [0], 1)


def test_slice_copy_is_a_copy_of_the_slice():
    a = _a(26, (3, 8))
    t = _t(a)
    out = rustdl.slice_copy(t, 1, 1, 7, 2)
    np.testing.assert_array_equal(out.numpy(), a[:, 1:7:2])
    out.fill_(0.0)
    np.testing.assert_array_equal(t.numpy(), a)
    np.testing.assert_array_equal(rustdl.slice_copy(t, -1, -3).numpy(), a[:, -3:])
    with pytest.raises(ValueError):
        rustdl.slice_copy(t, 0, 0, 2, 0)


def test_float_power_in_place_needs_a_float64_base():
    a = np.arange(5.0)
    t = _t(a)
    assert t.float_power_(1.5) is t
    np.testing.assert_allclose(t.numpy(), a**1.5, rtol=1e-15)
    with pytest.raises(RuntimeError, match="float64"):
        rustdl.ones(2).float_power_(2)
    assert not rustdl.ones(2).is_nested
    assert rustdl.eye(2).to_sparse_coo().to_dense().numpy().tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_rnn_cell_base_is_the_cells_base_and_subclassable():
    nn = rustdl.nn
    assert all(isinstance(m, nn.RNNCellBase) for m in (nn.RNNCell(2, 3), nn.LSTMCell(2, 3), nn.GRUCell(2, 3)))

    class Cell(nn.RNNCellBase):
        def __init__(self, i, h):
            super().__init__(i, h, bias=True, num_chunks=2)

        def forward(self, x, hx):
            g = x @ self.weight_ih.t() + self.bias_ih + hx @ self.weight_hh.t() + self.bias_hh
            a, b = g.chunk(2, 1)
            return a.sigmoid() * b.tanh()

    cell = Cell(3, 4).double()
    assert [tuple(p.shape) for p in cell.parameters()] == [(8, 3), (8, 4), (8,), (8,)]
    bound = 1 / math.sqrt(4)
    assert all(float(p.abs().max()) <= bound for p in cell.parameters())
    x, h = _a(27, (2, 3)), _a(28, (2, 4))
    wi, wh, bi, bh = (p.detach().numpy() for p in cell.parameters())
    g = x @ wi.T + bi + h @ wh.T + bh
    np.testing.assert_allclose(
        cell(_t(x), _t(h)).detach().numpy(), np.tanh(g[:, 4:]) / (1 + np.exp(-g[:, :4])), rtol=1e-12
    )


def test_nll_loss_2d_is_nll_loss():
    logits = _a(29, (2, 3, 2, 2))
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    target = np.array([[[0, 1], [2, 0]], [[2, 2], [1, 0]]])
    ref = -np.take_along_axis(logp, target[:, None], 1).mean()
    assert rustdl.nn.NLLLoss2d()(_t(logp), rustdl.tensor(target)).item() == pytest.approx(ref, rel=1e-12)


def test_binomial_draws():
    g = rustdl.Generator().manual_seed(4)
    draws = rustdl.binomial(rustdl.full((20000,), 10.0), rustdl.full((20000,), 0.3), generator=g).numpy()
    assert draws.min() >= 0 and draws.max() <= 10 and (draws % 1 == 0).all()
    assert draws.mean() == pytest.approx(3.0, rel=0.02) and draws.var() == pytest.approx(2.1, rel=0.05)
    again = rustdl.binomial(
        rustdl.full((20000,), 10.0), rustdl.full((20000,), 0.3), generator=rustdl.Generator().manual_seed(4)
    )
    np.testing.assert_array_equal(draws, again.numpy())
    # as PyTorch: a negative count draws 0, a probability past 1 or below 0 is taken at the end
    edge = rustdl.binomial(rustdl.tensor([-1.0, 5.0, 4.0]), rustdl.tensor([0.5, 1.5, -0.5])).numpy()
    np.testing.assert_array_equal(edge, [0.0, 5.0, 0.0])
    with pytest.raises(TypeError):
        rustdl.binomial(rustdl.tensor([3, 4]), rustdl.tensor([0.5, 0.5]))


def test_small_autograd_and_determinism_names():
    rustdl.set_deterministic_debug_mode("warn")
    try:
        assert (
            rustdl.get_deterministic_debug_mode() == 1
            and rustdl.is_deterministic_algorithms_warn_only_enabled()
        )
        rustdl.set_deterministic_debug_mode(2)
        assert rustdl.get_deterministic_debug_mode() == 2 and rustdl.are_deterministic_algorithms_enabled()
        with pytest.raises(RuntimeError):
            rustdl.set_deterministic_debug_mode("sometimes")
    finally:
        rustdl.set_deterministic_debug_mode("default")
    assert rustdl.get_deterministic_debug_mode() == 0
    from rustdl.autograd.anomaly_mode import detect_anomaly
    from rustdl.autograd.variable import Variable

    assert Variable(rustdl.ones(2), requires_grad=True).requires_grad
    with detect_anomaly():
        assert rustdl.is_anomaly_enabled()
    with rustdl.autograd.set_multithreading_enabled(False):
        assert not rustdl.autograd.is_multithreading_enabled()
    assert rustdl.autograd.is_multithreading_enabled()
    assert rustdl.is_storage(rustdl.ones(2).untyped_storage()) and not rustdl.is_storage(rustdl.ones(2))
    assert rustdl.get_device_module("cuda") is rustdl.cuda and rustdl.get_device_module("cpu") is rustdl.cpu


def test_python_protocols_reversed_index_of_bool_and_grad_dtype():
    t = rustdl.tensor([[1, 2], [3, 4], [5, 6]])
    assert [r.tolist() for r in reversed(t)] == [[5, 6], [3, 4], [1, 2]]
    assert reversed(rustdl.tensor(7)).item() == 7
    assert [10, 20][rustdl.tensor(True)] == 20 and [10, 20][rustdl.tensor(False)] == 10
    with pytest.raises(TypeError):
        [10, 20][rustdl.tensor([True, False])]
    leaf = rustdl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="dtype"):
        leaf.grad = rustdl.ones(2, dtype=rustdl.int64)
    with pytest.raises(TypeError):
        leaf.grad = rustdl.ones(2, dtype=rustdl.int64)


# ------------------------------------------------------------------------------------------
# autograd graph nodes: hooks, and mean as one node
# ------------------------------------------------------------------------------------------


def test_node_post_hook_sees_and_replaces_the_input_gradients():
    a_np, b_np = _a(30, (2, 3)), _a(31, (3,))
    a, b = _t(a_np, requires_grad=True), _t(b_np, requires_grad=True)
    prod = a * b
    seen = []

    def post(grad_inputs, grad_outputs):
        seen.append(
            (
                [None if g is None else tuple(g.shape) for g in grad_inputs],
                [tuple(g.shape) for g in grad_outputs],
            )
        )
        return tuple(None if g is None else g * 10 for g in grad_inputs)

    handle = prod.grad_fn.register_hook(post)
    (prod.sum(1).exp()).sum().backward()
    # d/da sum(exp(sum_j a_ij b_j)) = exp(row_i) b_j, ten times over through the hook
    rows = np.exp((a_np * b_np).sum(1, keepdims=True))
    np.testing.assert_allclose(a.grad.numpy(), 10 * rows * b_np, rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), 10 * (rows * a_np).sum(0), rtol=1e-12)
    assert seen == [([(2, 3), (3,)], [(2, 3)])]
    handle.remove()
    a.grad = None
    (a * b).sum().backward()  # a new node: no hook
    np.testing.assert_allclose(a.grad.numpy(), np.broadcast_to(b_np, (2, 3)), rtol=1e-12)


def test_node_prehook_replaces_the_incoming_gradient_and_checks_its_result():
    x = _t(_a(32, (4,)), requires_grad=True)
    y = x.exp()
    calls = []
    y.grad_fn.register_prehook(lambda go: calls.append(len(go)) or (go[0] * 3,))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.exp(x.detach().numpy()), rtol=1e-12)
    assert calls == [1]
    z = x.exp()
    z.grad_fn.register_prehook(lambda go: (go[0], go[0]))
    with pytest.raises(RuntimeError, match="expected 1"):
        z.sum().backward()
    with pytest.raises(TypeError):
        x.exp().grad_fn.register_hook(3)


def test_mean_is_one_graph_node_with_the_right_gradients():
    x_np = _a(33, (3, 4))
    x = _t(x_np, requires_grad=True)
    m = x.mean()
    assert m.grad_fn.name() == "MeanBackward0"
    ((acc, _),) = m.grad_fn.next_functions
    assert acc.name() == "torch::autograd::AccumulateGrad"
    m1 = x.mean(1)
    assert m1.grad_fn.name() == "MeanBackward1" and m1.grad_fn.next_functions[0][0].name().endswith(
        "AccumulateGrad"
    )
    (m1 * _t([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.repeat([[1.0], [2.0], [3.0]], 4, 1) / 4, rtol=1e-15)
    # twice differentiable: d/dx of |d(mean(x)^3)/dx|^2 = d/dx sum((3 m^2 / n)^2) = 36 m^3 / n^2
    x.grad = None
    (g,) = rustdl.autograd.grad(x.mean() ** 3, x, create_graph=True)
    (g**2).sum().backward()
    m_val, n = x_np.mean(), x_np.size
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 4), 36 * m_val**3 / n**2), rtol=1e-10)


# ------------------------------------------------------------------------------------------
# saved_tensors_hooks
# ------------------------------------------------------------------------------------------


class _Square(rustdl.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


def test_saved_tensors_hooks_pack_on_record_and_unpack_on_backward():
    graph = rustdl.autograd.graph
    a_np, b_np = _a(40, (3,)), _a(41, (3,))
    a, b = _t(a_np, requires_grad=True), _t(b_np, requires_grad=True)
    log = []

    def pack(t):
        log.append("pack")
        return t.detach().clone()  # an offloaded copy

    def unpack(t):
        log.append("unpack")
        return t

    with graph.saved_tensors_hooks(pack, unpack):
        y = (a.exp() * b).sin().sum()
    packs = log.count("pack")
    assert packs > 0 and "unpack" not in log
    y.backward()
    assert log.count("unpack") == packs
    inner = np.exp(a_np) * b_np
    np.testing.assert_allclose(a.grad.numpy(), np.cos(inner) * inner, rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), np.cos(inner) * np.exp(a_np), rtol=1e-12)
    # outside the context nothing is packed
    log.clear()
    (a * b).sum().backward()
    assert log == []


def test_saved_tensors_hooks_on_a_function_use_what_unpack_returns():
    graph = rustdl.autograd.graph
    x_np = _a(42, (4,))
    x = _t(x_np, requires_grad=True)
    with graph.saved_tensors_hooks(lambda t: ("boxed", t * 10), lambda p: p[1]):
        out = _Square.apply(x)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 20 * x_np, rtol=1e-12)  # the hooks' tenfold tensor
    calls = []

    def pack(t):
        calls.append(1)
        _ = t * 2  # not hooked itself
        return t

    with graph.saved_tensors_hooks(pack, lambda t: t):
        v = _Square.apply(x).sum()
    assert calls == [1]
    unpacked = []
    with graph.saved_tensors_hooks(lambda t: t, lambda t: unpacked.append(1) or t):
        v = _Square.apply(x).sum()
    v.backward(retain_graph=True)
    v.backward()
    assert len(unpacked) == 2


def test_saved_tensors_hooks_errors():
    graph = rustdl.autograd.graph
    x = _t(_a(43, (3,)), requires_grad=True)
    with pytest.raises(RuntimeError, match="no hooks here"):
        with graph.disable_saved_tensors_hooks("no hooks here"):
            with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
                pass
    with pytest.raises(ZeroDivisionError):
        with graph.saved_tensors_hooks(lambda t: 1 / 0, lambda t: t):
            w = (x * x).sum()
        w.backward()
    with pytest.raises(RuntimeError, match="unpack_hook"):
        with graph.saved_tensors_hooks(lambda t: t, lambda t: rustdl.zeros(7)):
            w = (x * x.exp()).sum()
        w.backward()
    with pytest.raises(TypeError):
        graph.saved_tensors_hooks(3, 4)
    # a context that raised leaves no hooks behind
    assert rustdl.autograd._saved_hooks_top() is None


def test_integer_division_by_zero_is_also_a_runtime_error():
    for call in (lambda: rustdl.tensor([4, 1]) // 0, lambda: rustdl.tensor([4, 1]) % rustdl.tensor([0, 1])):
        with pytest.raises(RuntimeError, match="division by zero") as info:
            call()
        assert isinstance(info.value, ZeroDivisionError)
    np.testing.assert_array_equal((rustdl.tensor([4.0, -1.0]) // 0).numpy(), [np.inf, -np.inf])


def test_node_metadata_is_one_dict_per_node_and_empty_weighted_bincount():
    x = rustdl.ones(2, requires_grad=True)
    y = x * 2
    y.grad_fn.metadata["tag"] = "scaled"
    assert y.grad_fn.metadata == {"tag": "scaled"} and (x * 3).grad_fn.metadata == {}
    empty = rustdl.bincount(
        rustdl.tensor([], dtype=rustdl.int64), weights=rustdl.tensor([], dtype=rustdl.float64), minlength=3
    )
    assert empty.dtype == rustdl.int64 and empty.tolist() == [0, 0, 0]
    full = rustdl.bincount(
        rustdl.tensor([0, 2, 2]), weights=rustdl.tensor([0.5, 1.0, 2.0], dtype=rustdl.float64)
    )
    assert full.dtype == rustdl.float64 and full.tolist() == [0.5, 0.0, 3.0]


def test_a_second_backward_through_nodes_that_saved_no_tensor_works_as_in_pytorch():
    leaf = _t(_a(50, (2, 3)), requires_grad=True)
    v = leaf.view(6).permute(0)[1:]
    v.sum().backward()
    (v * 2).sum().backward()  # through view, permute and slice again
    (v.mean() + rustdl.cat([v, v]).sum()).backward()
    expect = np.zeros(6)
    expect[1:] = 1 + 2 + 1 / 5 + 2
    np.testing.assert_allclose(leaf.grad.numpy().reshape(-1), expect, rtol=1e-12)
    total = leaf.exp().sum()
    total.backward()
    with pytest.raises(RuntimeError, match="second time"):
        total.backward()  # exp saved its result: freed after the first backward


def test_add_sub_and_scalar_nodes_read_no_tensor_and_can_be_run_again():
    x_np = _a(51, (3,))
    x = _t(x_np, requires_grad=True)
    y = (x + 1.0) - x.neg() - 2.0  # adds, subtractions and a negation: no tensor saved
    y.sum().backward()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 4.0), rtol=1e-15)
    w = _t(_a(52, (3,)), requires_grad=True)
    z = (x + w).neg()
    z.sum().backward()
    (z * 2).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.full(3, -3.0), rtol=1e-15)
    # products save a tensor in PyTorch (a number as a 0-d one): a second pass is refused
    for p in (x * w, x * 2.0):
        p.sum().backward()
        with pytest.raises(RuntimeError, match="second time"):
            p.sum().backward()


def test_arange_counts_numpy_integers_as_integers():
    assert rustdl.arange(np.int64(3)).dtype == rustdl.int64
    assert rustdl.arange(np.int32(1), np.int64(7), np.int16(2)).tolist() == [1, 3, 5]
    assert rustdl.arange(np.float64(3)).dtype == rustdl.float32
    assert rustdl.arange(np.int64(1), 2.5).dtype == rustdl.float32
