"""Second derivatives (`create_graph=True`) through the linear-algebra functions, strided views
(`trace`, `diagonal`, `as_strided`) and numpy-backed special functions. The reference is a
central finite difference of the first-order gradient along a random direction; the
first-order gradient itself is checked against finite differences of the value (numpy), so
the chain is independent of the second-order code under test. All float64 on the CPU.

These used to be silently wrong (the backward read numpy constants, so the second derivative
lost every term through them) or refused: det, slogdet/logdet, solve (and cholesky_solve,
solve_triangular, lu_solve), cholesky, pinv, svdvals (and the nuclear norm), trace/diagonal,
i0."""

import numpy as np
import pytest
import rustdl
from rustdl import autograd, linalg

RNG = np.random.default_rng(11)
EYE3 = np.eye(3)
W33 = np.arange(9.0).reshape(3, 3) - 4.0


def t64(a, grad=False):
    return rustdl.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def value(f, v):
    with rustdl.no_grad():
        return float(f(t64(v)).item())


def first_grad(f, v):
    x = t64(v, grad=True)
    (g,) = autograd.grad(f(x), x)
    return g.numpy()


def hvp_and_reference(f, v, u, eps):
    """The Hessian-vector product of ``f`` at ``v`` along ``u`` (create_graph), and its central
    finite difference of first-order gradients."""
    x = t64(v, grad=True)
    (g,) = autograd.grad(f(x), x, create_graph=True)
    assert g.requires_grad, "the gradient has no graph to differentiate"
    (hu,) = autograd.grad(g, x, grad_outputs=t64(u))
    num = (first_grad(f, v + eps * u) - first_grad(f, v - eps * u)) / (2 * eps)
    return hu.numpy(), num


def spd(x):
    """A symmetric positive-definite 3x3 matrix from the 4x3 input."""
    return x.T @ x + t64(EYE3)


CASES = [
    ("det", lambda x: linalg.det(spd(x))),
    ("det_general", lambda x: linalg.det(x[:3] + t64(EYE3))),
    ("det_batched", lambda x: linalg.det(rustdl.stack([x[:3], x[1:]])).sum()),
    ("torch_det", lambda x: rustdl.det(x[1:] * 2.0)),
    ("slogdet", lambda x: linalg.slogdet(spd(x))[1]),
    ("logdet", lambda x: rustdl.logdet(spd(x))),
    ("inv", lambda x: (linalg.inv(spd(x)) * t64(W33)).sum()),
    ("solve", lambda x: (linalg.solve(spd(x), t64([1.0, -2.0, 0.5])) ** 2).sum()),
    ("solve_matrix_B", lambda x: (linalg.solve(spd(x), x[:3] * x[:3]) * t64(W33)).sum()),
    ("cholesky", lambda x: (linalg.cholesky(spd(x)) * t64(W33)).sum()),
    ("cholesky_upper", lambda x: (linalg.cholesky(spd(x), upper=True) ** 2 * t64(W33)).sum()),
    (
        "cholesky_solve",
        lambda x: (rustdl.cholesky_solve(t64([[1.0], [0.0], [2.0]]), linalg.cholesky(spd(x))) ** 2).sum(),
    ),
    (
        "solve_triangular",
        lambda x: (
            linalg.solve_triangular(linalg.cholesky(spd(x)), t64([[1.0], [-1.0], [2.0]]), upper=False) ** 2
        ).sum(),
    ),
    (
        "lu_solve",
        lambda x: (linalg.lu_solve(*linalg.lu_factor(spd(x)), t64([[1.0], [2.0], [3.0]])) ** 2).sum(),
    ),
    (
        "lu_factors",
        lambda x: (linalg.lu(x[:3] + t64(EYE3))[1] * t64(W33)).sum() + (linalg.lu(x[:3])[2] ** 2).sum(),
    ),
    ("pinv_tall", lambda x: (linalg.pinv(x) * t64(np.arange(12.0).reshape(3, 4))).sum()),
    ("pinv_wide", lambda x: (linalg.pinv(x.T) ** 2 * t64(np.arange(12.0).reshape(4, 3))).sum()),
    ("pinv_batched", lambda x: (linalg.pinv(rustdl.stack([x, x * x])) ** 2).sum()),
    ("lstsq", lambda x: (linalg.lstsq(x, t64([[0.0], [1.0], [2.0], [3.0]])).solution ** 2).sum()),
    ("svdvals", lambda x: (linalg.svdvals(x) * t64([1.0, 2.0, 3.0])).sum()),
    ("nuclear_norm", lambda x: linalg.matrix_norm(x, "nuc")),
    ("spectral_norm", lambda x: linalg.matrix_norm(x, 2)),
    ("cond", lambda x: linalg.cond(x)),
    ("trace", lambda x: (x.T @ x).trace() ** 2),
    ("diagonal", lambda x: ((x.T @ x).diagonal() ** 3).sum()),
    ("diagonal_offset", lambda x: (x.diagonal(1) ** 3).sum() * x.sum()),
    ("as_strided_overlapping", lambda x: (x.as_strided((3, 3), (1, 1), 2) ** 3).sum()),
    ("unfold", lambda x: (x.unfold(0, 2, 1) ** 3).sum()),
    ("i0", lambda x: rustdl.i0(x).sum() * x.sum()),
]


@pytest.mark.parametrize("name,f", CASES, ids=[c[0] for c in CASES])
def test_second_derivative_matches_finite_differences(name, f):
    v = RNG.normal(size=(4, 3))
    u = RNG.normal(size=(4, 3))
    # the first-order gradient against finite differences of the value
    eps = 1e-6
    num1 = np.zeros_like(v)
    for idx in np.ndindex(*v.shape):
        e = np.zeros_like(v)
        e[idx] = eps
        num1[idx] = (value(f, v + e) - value(f, v - e)) / (2 * eps)
    np.testing.assert_allclose(first_grad(f, v), num1, rtol=1e-5, atol=1e-6)
    # the Hessian-vector product against finite differences of the gradient
    hu, num2 = hvp_and_reference(f, v, u, 1e-5)
    np.testing.assert_allclose(hu, num2, rtol=1e-5, atol=1e-6 * (1 + np.abs(num2).max()))


def test_det_second_derivative_at_a_singular_matrix():
    """The cofactor path (no inverse) is differentiable too: det is a polynomial, so its
    Hessian at a rank-deficient matrix is the finite difference of the gradient there."""
    v = RNG.normal(size=(3, 3))
    v[2] = 2.0 * v[0]

    def f(x):
        return linalg.det(x)

    hu, num = hvp_and_reference(f, v, RNG.normal(size=(3, 3)), 1e-4)
    np.testing.assert_allclose(hu, num, rtol=1e-6, atol=1e-8)


def test_gradient_penalty_through_log_determinant():
    """A gradient penalty (WGAN-GP style) whose critic takes a log-determinant: the optimizer
    step must see the penalty's dependence on the parameters (it was lost before)."""
    w0 = RNG.normal(size=(3, 3))
    xs = RNG.normal(size=(3, 3))

    def penalty(w_np):
        w = t64(w_np, grad=True)
        x = t64(xs, grad=True)
        m = x @ w
        critic = rustdl.logdet(m.T @ m + t64(EYE3))
        (gx,) = autograd.grad(critic, x, create_graph=True)
        p = (gx.norm() - 1.0) ** 2
        (gw,) = autograd.grad(p, w)
        return float(p.item()), gw.numpy()

    _, gw = penalty(w0)
    eps = 1e-6
    num = np.zeros_like(w0)
    for idx in np.ndindex(*w0.shape):
        e = np.zeros_like(w0)
        e[idx] = eps
        num[idx] = (penalty(w0 + e)[0] - penalty(w0 - e)[0]) / (2 * eps)
    np.testing.assert_allclose(gw, num, rtol=1e-5, atol=1e-7)


def test_lgamma_of_the_distributions_is_differentiable_three_times():
    from rustdl.distributions.gamma_family import lgamma

    x = t64([0.7, 2.5, 4.0], grad=True)
    (g,) = autograd.grad(lgamma(x).sum(), x, create_graph=True)
    (h,) = autograd.grad(g.sum(), x, create_graph=True)
    (k,) = autograd.grad(h.sum(), x)
    # psi''(x) = -2 * sum_k 1/(x+k)^3 (series, truncated far out plus its tail integral)
    xv = np.array([0.7, 2.5, 4.0])
    kk = np.arange(0, 200000)[:, None]
    ref = -2.0 * (1.0 / (xv + kk) ** 3).sum(0) - 1.0 / (xv + 200000 - 0.5) ** 2
    np.testing.assert_allclose(k.numpy(), ref, rtol=1e-6)


# --- activation checkpointing with create_graph and autograd.grad ---------------------------

from rustdl import nn  # noqa: E402
from rustdl.gradient_checkpoint import checkpoint  # noqa: E402

_W_GLOBAL = t64(RNG.normal(size=(4, 4)), grad=True)


def _uses_global_weight(a):
    return (a @ _W_GLOBAL).tanh() ** 3


def _models():
    rustdl.manual_seed(0)
    crit = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    pre = nn.Linear(4, 4).double()
    return crit, pre


@pytest.mark.parametrize("form", ["module", "bound_lambda", "partial"])
def test_gradient_penalty_through_a_checkpointed_critic(form):
    """WGAN-GP with a checkpointed critic: the penalty's parameter gradients equal the plain
    graph's, and the inner autograd.grad leaves every .grad untouched."""
    import functools

    x0 = t64(RNG.normal(size=(3, 4)))

    def run(ckpt):
        crit, pre = _models()
        x = pre(x0)
        if not ckpt:
            y = crit(x)
        elif form == "module":
            y = checkpoint(crit, x, use_reentrant=False)
        elif form == "bound_lambda":
            y = checkpoint(lambda a: crit(a), x, use_reentrant=False)
        else:
            y = checkpoint(functools.partial(crit.forward), x, use_reentrant=False)
        (g,) = autograd.grad(y.sum(), x, create_graph=True)
        untouched = all(p.grad is None for p in list(crit.parameters()) + list(pre.parameters()))
        (y.mean() + 10 * ((g.norm(dim=1) - 1) ** 2).mean()).backward()
        grads = [p.grad.numpy().ravel() for p in list(crit.parameters()) + list(pre.parameters())]
        return np.concatenate(grads), untouched

    ref, _ = run(False)
    got, untouched = run(True)
    assert untouched
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_checkpoint_second_derivative_with_a_global_weight():
    x0 = RNG.normal(size=(3, 4))

    def hess_sum(ckpt):
        _W_GLOBAL.grad = None
        x = t64(x0, grad=True)
        y = checkpoint(_uses_global_weight, x, use_reentrant=False) if ckpt else _uses_global_weight(x)
        (g,) = autograd.grad(y.sum(), x, create_graph=True)
        (h,) = autograd.grad((g**2).sum(), _W_GLOBAL)
        return h.numpy(), _W_GLOBAL.grad

    ref, _ = hess_sum(False)
    got, polluted = hess_sum(True)
    assert polluted is None
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_checkpoint_parameter_passed_as_an_argument_is_not_counted_twice():
    lin = nn.Linear(3, 2).double()
    x = t64(RNG.normal(size=(4, 3)))

    def f(a, w):
        return lin(a) * w.sum()

    w = lin.weight
    checkpoint(f, x, w, use_reentrant=False).sum().backward()
    ckpt = lin.weight.grad.numpy().copy()
    lin.weight.grad = None
    lin.bias.grad = None
    f(x, w).sum().backward()
    np.testing.assert_allclose(ckpt, lin.weight.grad.numpy(), rtol=1e-12)


# --- in-place ops on views and copies under create_graph ------------------------------------


def _setitem(x):
    y = x.clone()
    y[:, 0] = x[:, 1] ** 3
    return (y * y).sum()


def _view_add(x):
    y = x.clone()
    y[:, :2].add_(x[:, :2] ** 2)
    return (y**3).sum()


def _diag_add(x):
    y = x.clone()
    y.diagonal().add_(x[0, :3] ** 2)
    return (y * y.tanh()).sum()


def _transpose_mul(x):
    y = x.clone()
    y.t().mul_(x.t())
    return (y**2).sum()


def _copy_rows(x):
    y = x.clone()
    y[1:].copy_(x[:-1] ** 2)
    return (y * x).sum()


def _elu_(x):
    return (F.elu_(x.clone() * x) * x).sum()


def _hardtanh_(x):
    return (F.hardtanh_(x.clone() * 3) * x * x).sum()


def _scatter_(x):
    return (x.clone().scatter_(1, rustdl.zeros(4, 1, dtype=rustdl.int64), x[:, 1:2] ** 3) ** 2).sum()


def _tanh_chain(x):
    return (x.clone().tanh_().mul_(x).add_(x**2) ** 2).sum()


from rustdl.nn import functional as F  # noqa: E402

INPLACE = [
    _setitem,
    _view_add,
    _diag_add,
    _transpose_mul,
    _copy_rows,
    _elu_,
    _hardtanh_,
    _scatter_,
    _tanh_chain,
]


@pytest.mark.parametrize("f", INPLACE, ids=[f.__name__ for f in INPLACE])
def test_second_derivative_through_in_place_ops(f):
    """These raised ("double backward through copy_slices / copy_ is not supported")."""
    hu, num = hvp_and_reference(f, RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3)), 1e-5)
    np.testing.assert_allclose(hu, num, rtol=1e-5, atol=1e-6 * (1 + np.abs(num).max()))
