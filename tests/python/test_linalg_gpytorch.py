"""torch.linalg as gpytorch (and PyTorch scripts) use it: ``out=`` everywhere PyTorch takes it,
LAPACK's ``info`` and partial results of the ``_ex`` forms (Cholesky of NaN / non-PD input,
inverse of a singular matrix), PyTorch's gradients of ``cholesky_solve`` / ``cholesky_inverse``
(not restricted to the triangle), dtype rules of the solvers, the 0-norm's and empty matrix
norms' ``requires_grad``, ``qr(mode='r')`` / ``lstsq`` result fields, ``torch.dsmm``, and the
LDLᵀ factorization and LOBPCG.

References are independent of the code under test: numpy (and scipy's LAPACK wrappers where
installed), finite differences, closed forms worked by hand, and PyTorch's documented rules."""

import math
import warnings

import numpy as np
import pytest
import rustdl
from rustdl import linalg

RNG = np.random.default_rng(2024)
SPD = np.array([[4.0, 1.0], [1.0, 3.0]])


def t(a, dtype=rustdl.float64, grad=False):
    return rustdl.tensor(np.asarray(a), dtype=dtype, requires_grad=grad)


def spd(n, rng=RNG):
    x = rng.standard_normal((n, n))
    return x @ x.T + n * np.eye(n)


# ---------------------------------------------------------------------------------- out=


@pytest.mark.parametrize(
    "name, args, kwargs, ref",
    [
        ("cholesky", (SPD,), {}, lambda: np.linalg.cholesky(SPD)),
        ("inv", (SPD,), {}, lambda: np.linalg.inv(SPD)),
        ("det", (SPD,), {}, lambda: np.linalg.det(SPD)),
        ("solve", (SPD, np.ones((2, 1))), {}, lambda: np.linalg.solve(SPD, np.ones((2, 1)))),
        (
            "solve_triangular",
            (np.tril(SPD), np.ones((2, 1))),
            {"upper": False},
            lambda: np.linalg.solve(np.tril(SPD), np.ones((2, 1))),
        ),
        ("eigvalsh", (SPD,), {}, lambda: np.linalg.eigvalsh(SPD)),
        ("svdvals", (SPD,), {}, lambda: np.linalg.svd(SPD, compute_uv=False)),
        ("pinv", (SPD,), {}, lambda: np.linalg.pinv(SPD)),
        ("matrix_norm", (SPD,), {}, lambda: np.linalg.norm(SPD)),
        ("vector_norm", (SPD,), {}, lambda: np.linalg.norm(SPD)),
        ("norm", (SPD,), {}, lambda: np.linalg.norm(SPD)),
        ("matrix_power", (SPD, 2), {}, lambda: SPD @ SPD),
        ("cond", (SPD,), {}, lambda: np.linalg.cond(SPD)),
        ("tensorinv", (SPD,), {"ind": 1}, lambda: np.linalg.inv(SPD)),
        ("vecdot", (SPD, SPD), {}, lambda: (SPD * SPD).sum(-1)),
    ],
)
def test_out_is_resized_written_and_returned(name, args, kwargs, ref):
    out = rustdl.empty(0, dtype=rustdl.float64)
    args = tuple(t(a) if isinstance(a, np.ndarray) else a for a in args)
    res = getattr(linalg, name)(*args, **kwargs, out=out)
    assert res is out
    np.testing.assert_allclose(out.numpy(), ref(), rtol=1e-12)
    # out=None is the plain call (gpytorch passes it)
    np.testing.assert_allclose(getattr(linalg, name)(*args, **kwargs, out=None).numpy(), ref(), rtol=1e-12)


def test_out_tuples_return_the_named_out_type_holding_the_out_tensors():
    w, V = rustdl.empty(0, dtype=rustdl.float64), rustdl.empty(0, dtype=rustdl.float64)
    res = linalg.eigh(t(SPD), out=(w, V))
    assert res.eigenvalues is w and res[1] is V and type(res).__name__ == "linalg_eigh_out"
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(SPD), rtol=1e-12)
    L, info = rustdl.empty(0, dtype=rustdl.float64), rustdl.empty(0, dtype=rustdl.int32)
    res = linalg.cholesky_ex(t(SPD), out=(L, info))
    assert res.L is L and res.info is info and info.item() == 0
    np.testing.assert_allclose(L.numpy(), np.linalg.cholesky(SPD), rtol=1e-12)
    assert linalg.cholesky_ex(t(SPD), out=None).info.item() == 0
    outs = (rustdl.empty(0, dtype=rustdl.float64), rustdl.empty(0, dtype=rustdl.float64))
    sign, logabs = linalg.slogdet(t(SPD), out=outs)
    assert sign is outs[0] and math.isclose(logabs.item(), math.log(11.0), rel_tol=1e-12)
    U, S, Vh = (rustdl.empty(0, dtype=rustdl.float64) for _ in range(3))
    linalg.svd(t(SPD), out=(U, S, Vh))
    np.testing.assert_allclose((U.numpy() * S.numpy()) @ Vh.numpy(), SPD, atol=1e-12)


def test_out_dtype_kind_and_autograd_rules_are_pytorchs():
    A = t(SPD)
    # the factorizations' out must have the result's dtype ...
    with pytest.raises(RuntimeError, match="Expected out tensor to have dtype double, but got float"):
        linalg.inv(A, out=rustdl.empty(0))
    with pytest.raises(RuntimeError, match="dtype int, but got long int"):
        linalg.cholesky_ex(
            A, out=(rustdl.empty(0, dtype=rustdl.float64), rustdl.empty(0, dtype=rustdl.int64))
        )
    # ... the composite ones cast (pinv, cond, matrix_rank)
    assert linalg.pinv(A, out=rustdl.empty(0)).dtype == rustdl.float32
    assert linalg.matrix_rank(A, out=rustdl.empty(0)).item() == 2.0
    with pytest.raises(TypeError, match="must be tuple of Tensors"):
        linalg.eigh(A, out=rustdl.empty(0, dtype=rustdl.float64))
    with pytest.raises(TypeError, match="must be Tensor, not tuple"):
        linalg.inv(A, out=(rustdl.empty(0, dtype=rustdl.float64),))
    with pytest.raises(TypeError, match="expected tuple of 2 elements"):
        linalg.eigh(A, out=(rustdl.empty(0, dtype=rustdl.float64),))
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        linalg.cholesky(t(SPD, grad=True), out=rustdl.empty(0, dtype=rustdl.float64))
    with rustdl.no_grad():
        linalg.cholesky(t(SPD, grad=True), out=rustdl.empty(0, dtype=rustdl.float64))
    # an out of another (non-empty) shape is resized with PyTorch's warning
    out = rustdl.zeros(3, dtype=rustdl.float64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        linalg.inv(A, out=out)
    assert tuple(out.shape) == (2, 2) and any("resized" in str(w.message) for w in caught)
    # PyTorch takes no out= here
    for fn in (linalg.matrix_exp, linalg.vander, rustdl.det, rustdl.logdet, rustdl.pinverse):
        with pytest.raises(TypeError):
            fn(A, out=rustdl.empty(0, dtype=rustdl.float64))


def test_torch_level_functions_take_out():
    A, B = t(SPD), t(np.ones((2, 1)))
    L = np.linalg.cholesky(SPD)
    out = rustdl.empty(0, dtype=rustdl.float64)
    assert rustdl.inverse(A, out=out) is out
    np.testing.assert_allclose(out.numpy(), np.linalg.inv(SPD), rtol=1e-12)
    out = rustdl.empty(0, dtype=rustdl.float64)
    assert rustdl.cholesky_solve(B, t(L), out=out) is out
    np.testing.assert_allclose(out.numpy(), np.linalg.solve(SPD, np.ones((2, 1))), rtol=1e-12)
    out = rustdl.empty(0, dtype=rustdl.float64)
    assert rustdl.cholesky_inverse(t(L), out=out) is out  # (was ignored)
    np.testing.assert_allclose(out.numpy(), np.linalg.inv(SPD), rtol=1e-12)
    outs = (rustdl.empty(0, dtype=rustdl.float64), rustdl.empty(0, dtype=rustdl.float64))
    res = rustdl.slogdet(A, out=outs)
    assert res.sign is outs[0] and type(res).__name__ == "slogdet_out"


# ---------------------------------------------------------------------------------- Cholesky


NOT_PD = np.array([[4.0, 2, 1, 0], [2, 5, 3, 1], [1, 3, 1, 2], [0, 1, 2, 6]])


def partial_factor(a, j):
    """LAPACK's potf2 result when the leading minor of order ``j`` fails, from its definition:
    the first ``j - 1`` columns of the factor (L11 = chol(A11), L21 = A21 L11⁻ᵀ), the failing
    diagonal entry its Schur-complement value, the rest A's lower triangle."""
    out = np.tril(a).copy()
    k = j - 1
    L11 = np.linalg.cholesky(a[:k, :k])
    out[:k, :k] = L11
    out[k:, :k] = np.linalg.solve(L11, a[k:, :k].T).T
    out[k, k] = a[k, k] - out[k, :k] @ out[k, :k]
    return out


def test_cholesky_ex_of_a_matrix_that_is_not_positive_definite_gives_lapacks_partial_factor():
    for dtype in (rustdl.float32, rustdl.float64):
        L, info = linalg.cholesky_ex(t(NOT_PD, dtype))
        assert info.item() == 3 and info.dtype == rustdl.int32
        np.testing.assert_allclose(L.numpy(), partial_factor(NOT_PD, 3), rtol=1e-6)
        U, info = linalg.cholesky_ex(t(NOT_PD, dtype), upper=True)
        np.testing.assert_allclose(U.numpy(), partial_factor(NOT_PD, 3).T, rtol=1e-6)
    L, info = linalg.cholesky_ex(t([[1.0, 2.0], [2.0, 1.0]]))
    assert info.item() == 2 and L.tolist() == [[1.0, 0.0], [2.0, -3.0]]  # 1 - 2·2
    L, info = linalg.cholesky_ex(t(-np.eye(3)))
    assert info.item() == 1 and np.array_equal(L.numpy(), -np.eye(3))


def test_cholesky_of_nan_fails_at_the_nan_pivot():
    a = NOT_PD + 10 * np.eye(4)
    a[1, 1] = np.nan
    L, info = linalg.cholesky_ex(t(a))
    assert info.item() == 2 and np.isnan(L[1, 1].item())
    # column 0 computed (a10 / sqrt(a00)), the entries right of the failing column untouched
    assert math.isclose(L[1, 0].item(), 2 / math.sqrt(14)) and L[2, 1].item() == 3.0
    assert linalg.cholesky_ex(t(np.full((2, 2), np.nan))).info.item() == 1
    # a NaN outside the triangle that is read changes nothing
    b = spd(3)
    b[0, 2] = np.nan
    L, info = linalg.cholesky_ex(t(b))
    assert info.item() == 0 and np.isfinite(L.numpy()).all()
    assert linalg.cholesky_ex(t(b), upper=True).info.item() == 3
    with pytest.raises(linalg.LinAlgError, match="order 1 is not positive-definite"):
        linalg.cholesky(t(np.full((2, 2), np.nan)))


def test_cholesky_errors_are_pytorchs():
    msg = (
        "linalg.cholesky: The factorization could not be completed because the input is not "
        "positive-definite (the leading minor of order 3 is not positive-definite)."
    )
    with pytest.raises(RuntimeError) as err:
        linalg.cholesky(t(NOT_PD))
    assert str(err.value) == msg
    batch = t(np.stack([np.eye(4), NOT_PD, NOT_PD]))
    with pytest.raises(linalg.LinAlgError, match=r"^linalg.cholesky: \(Batch element 1\): The factorization"):
        linalg.cholesky(batch)
    with pytest.raises(linalg.LinAlgError, match=r"^linalg.cholesky_ex: \(Batch element 1\)"):
        linalg.cholesky_ex(batch, check_errors=True)
    L, info = linalg.cholesky_ex(batch)
    assert info.tolist() == [0, 3, 3]


# ---------------------------------------------------------------------------------- inverse


def test_inv_ex_of_a_singular_matrix_is_lapacks_solve_with_infinities():
    # LU of ones(2, 2): L = [[1, 0], [1, 1]], U = [[1, 1], [0, 0]]; L⁻¹ = [[1, 0], [-1, 1]], then
    # back substitution divides by U[1, 1] = 0: row 1 = [-1, 1] / 0, row 0 = [1, 0] - row 1
    for dtype in (rustdl.float32, rustdl.float64):
        inv, info = linalg.inv_ex(rustdl.ones(2, 2, dtype=dtype))
        assert info.item() == 2 and info.dtype == rustdl.int32
        assert inv.tolist() == [[math.inf, -math.inf], [-math.inf, math.inf]]
    # zeros: the first pivot is zero (info 1), 0/0 = NaN in the first column, 1/0 = inf
    inv, info = linalg.inv_ex(rustdl.zeros(2, 2))
    got = inv.numpy()
    assert info.item() == 1 and np.isnan(got[:, 0]).all() and np.isnan(got[0, 1]) and got[1, 1] == math.inf
    # pivoted 3×3: rows swapped to [2 4 6], then [1 1 1]; U[2, 2] = 0
    inv, info = linalg.inv_ex(t([[1.0, 2, 3], [2, 4, 6], [1, 1, 1]]))
    got = inv.numpy()
    assert info.item() == 3 and np.isnan(got[0]).all() and np.isnan(got[:, 2]).all()
    assert got[1, :2].tolist() == [-math.inf, math.inf] and got[2, :2].tolist() == [math.inf, -math.inf]
    # batched: each matrix on its own
    inv, info = linalg.inv_ex(t(np.stack([SPD, np.ones((2, 2))])))
    assert info.tolist() == [0, 2]
    np.testing.assert_allclose(inv[0].numpy(), np.linalg.inv(SPD), rtol=1e-12)
    X, info = linalg.solve_ex(rustdl.ones(2, 2), rustdl.ones(2, 1))
    assert info.item() == 2 and np.isnan(X.numpy()).all()  # [1, 0] after L⁻¹, then 0/0


def test_inv_and_solve_errors_are_pytorchs():
    with pytest.raises(linalg.LinAlgError) as err:
        linalg.inv(rustdl.ones(2, 2))
    assert str(err.value) == (
        "linalg.inv: The diagonal element 2 is zero, the inversion could not be completed because the "
        "input matrix is singular."
    )
    with pytest.raises(RuntimeError, match=r"^linalg.inv: \(Batch element 1\): The diagonal element 2"):
        linalg.inv(t(np.stack([SPD, np.ones((2, 2))])))
    with pytest.raises(RuntimeError, match="^torch.linalg.solve: The solver failed because the input matrix"):
        linalg.solve(rustdl.ones(2, 2), rustdl.ones(2))
    with pytest.raises(RuntimeError, match="^linalg.inv_ex: The diagonal element 2 is zero"):
        linalg.inv_ex(rustdl.ones(2, 2), check_errors=True)
    with pytest.raises(RuntimeError, match=r"^cholesky_inverse: The diagonal element 2 is zero"):
        rustdl.cholesky_inverse(t([[1.0, 0.0], [2.0, 0.0]]))


def test_inverse_gradient_still_flows():
    A = t(SPD, grad=True)
    linalg.inv_ex(A).inverse.sum().backward()
    inv = np.linalg.inv(SPD)
    np.testing.assert_allclose(A.grad.numpy(), -inv.T @ np.ones((2, 2)) @ inv.T, rtol=1e-12)


# ---------------------------------------------------------------------------------- cholesky_solve


def numeric_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[idx] = eps
        g[idx] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_gradient_of_L_is_pytorchs_unrestricted_one(upper):
    # PyTorch's gradient is that of L ↦ (L Lᵀ)⁻¹ B (Lᵀ L with upper) for the whole matrix L
    n = 3
    L = RNG.standard_normal((n, n)) + 3 * np.eye(n)
    L = np.triu(L) if upper else np.tril(L)  # a factor; the other triangle's zeros get a gradient too
    B = RNG.standard_normal((n, 2))
    W = RNG.standard_normal((n, 2))

    def f(l):
        a = l.T @ l if upper else l @ l.T
        return float((W * np.linalg.solve(a, B)).sum())

    Lt = t(L, grad=True)
    Bt = t(B, grad=True)
    (rustdl.cholesky_solve(Bt, Lt, upper=upper) * t(W)).sum().backward()
    np.testing.assert_allclose(Lt.grad.numpy(), numeric_grad(f, L), rtol=1e-6, atol=1e-8)
    tri = np.triu(L) if upper else np.tril(L)
    a = tri.T @ tri if upper else tri @ tri.T
    np.testing.assert_allclose(Bt.grad.numpy(), np.linalg.solve(a, W), rtol=1e-10)
    # the forward reads only the triangle
    X = rustdl.cholesky_solve(t(B), t(L), upper=upper).numpy()
    np.testing.assert_allclose(X, np.linalg.solve(a, B), rtol=1e-10)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inverse_gradient_is_pytorchs_unrestricted_one(upper):
    n = 3
    L = RNG.standard_normal((n, n)) + 3 * np.eye(n)
    L = np.triu(L) if upper else np.tril(L)
    W = RNG.standard_normal((n, n))

    def f(l):
        a = l.T @ l if upper else l @ l.T
        return float((W * np.linalg.inv(a)).sum())

    Lt = t(L, grad=True)
    (rustdl.cholesky_inverse(Lt, upper=upper) * t(W)).sum().backward()
    np.testing.assert_allclose(Lt.grad.numpy(), numeric_grad(f, L), rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------------- dtypes


def test_solve_triangular_casts_B_to_As_dtype():
    A = np.array([[2.0, 0.0], [1.0, 3.0]])
    for bdtype in (rustdl.int64, rustdl.int32, rustdl.bool, rustdl.float64):
        X = linalg.solve_triangular(t(A, rustdl.float32), rustdl.ones(2, 1, dtype=bdtype), upper=False)
        assert X.dtype == rustdl.float32
        np.testing.assert_allclose(X.numpy(), np.linalg.solve(A, np.ones((2, 1))), rtol=1e-6)
    X = linalg.solve_triangular(t(A), rustdl.ones(1, 2, dtype=rustdl.int64), upper=False, left=False)
    np.testing.assert_allclose(X.numpy(), np.ones((1, 2)) @ np.linalg.inv(A), rtol=1e-12)
    B = t(np.ones((2, 1)), grad=True)
    linalg.solve_triangular(t(A, rustdl.float32, grad=True), B, upper=False).sum().backward()
    assert B.grad.dtype == rustdl.float64
    np.testing.assert_allclose(B.grad.numpy(), np.linalg.solve(A.T, np.ones((2, 1))), rtol=1e-6)
    # a zero on the diagonal: BLAS's 1/0, no error
    X = linalg.solve_triangular(t([[1.0, 0.0], [2.0, 0.0]]), rustdl.ones(2, 1), upper=False)
    assert X.tolist() == [[1.0], [-math.inf]]


def test_solve_triangular_gradient_lies_in_the_triangle():
    A = np.array([[2.0, 5.0, 7.0], [1.0, 3.0, 11.0], [4.0, -1.0, 5.0]])
    B = RNG.standard_normal((3, 2))
    for upper in (False, True):
        for unit in (False, True):
            tri = np.triu(A) if upper else np.tril(A)
            if unit:
                tri = tri - np.diag(np.diag(tri)) + np.eye(3)

            def f(a, upper=upper, unit=unit):
                m = np.triu(a) if upper else np.tril(a)
                if unit:
                    m = m - np.diag(np.diag(m)) + np.eye(3)
                return float(np.linalg.solve(m, B).sum())

            At = t(A, grad=True)
            X = linalg.solve_triangular(At, t(B), upper=upper, unitriangular=unit)
            np.testing.assert_allclose(X.detach().numpy(), np.linalg.solve(tri, B), rtol=1e-12)
            X.sum().backward()
            np.testing.assert_allclose(At.grad.numpy(), numeric_grad(f, A), rtol=1e-6, atol=1e-9)


def test_solve_and_cholesky_solve_refuse_another_dtype():
    A = rustdl.tensor(SPD, dtype=rustdl.float32)
    with pytest.raises(RuntimeError, match="found A of type Float and B of type Long instead"):
        linalg.solve(A, rustdl.ones(2, 1, dtype=rustdl.int64))
    with pytest.raises(RuntimeError, match="found A of type Float and B of type Double"):
        linalg.solve(A, rustdl.ones(2, dtype=rustdl.float64))
    with pytest.raises(RuntimeError, match="found b of type Long and A of type Float instead"):
        rustdl.cholesky_solve(rustdl.ones(2, 1, dtype=rustdl.int64), A)
    with pytest.raises(RuntimeError, match="found b of type Long and A of type Float"):
        rustdl.triangular_solve(rustdl.ones(2, 1, dtype=rustdl.int64), A)
    with pytest.raises(RuntimeError, match="other's dtype Long"):
        linalg.lstsq(A, rustdl.ones(2, 1, dtype=rustdl.int64))
    with pytest.raises(
        NotImplementedError, match="Expected a floating point or complex tensor as input. Got Long"
    ):
        linalg.solve(rustdl.ones(2, 2, dtype=rustdl.int64), rustdl.ones(2, 1))


# ---------------------------------------------------------------------------------- norms


def test_zero_norm_requires_grad_without_a_gradient():
    x = t([1.0, 0.0, math.inf, -2.0], grad=True)
    n = linalg.vector_norm(x, ord=0)
    assert n.item() == 3.0 and n.requires_grad
    n.backward()
    assert x.grad is None
    assert linalg.vector_norm(x.detach(), ord=0).requires_grad is False
    assert linalg.vector_norm(x, ord=0, dim=0, keepdim=True).tolist() == [3.0]


def test_matrix_norms_of_empty_matrices_require_grad_as_pytorchs():
    # the max over no row/column or no singular value is the constant 0; a min of none is refused
    wide, tall = rustdl.zeros(2, 0, requires_grad=True), rustdl.zeros(0, 2, requires_grad=True)
    for A, ord_, grad in [
        (wide, 1, False),
        (wide, 2, False),
        (wide, math.inf, True),
        (wide, -math.inf, True),
        (wide, "fro", True),
        (wide, "nuc", True),
        (tall, 1, True),
        (tall, -1, True),
        (tall, 2, False),
        (tall, math.inf, False),
    ]:
        out = linalg.matrix_norm(A, ord=ord_)
        assert out.item() == 0.0 and out.requires_grad is grad, (tuple(A.shape), ord_)
    for A, ord_ in [(wide, -1), (wide, -2), (tall, -2), (tall, -math.inf)]:
        with pytest.raises(IndexError):
            linalg.matrix_norm(A, ord=ord_)


# ---------------------------------------------------------------------------------- qr, lstsq


def test_qr_mode_r_q_placeholder_is_an_empty_vector():
    Q, R = linalg.qr(t(RNG.standard_normal((3, 4, 2))), mode="r")
    assert tuple(Q.shape) == (0,) and tuple(R.shape) == (3, 2, 2)


def test_lstsq_fields_follow_the_driver():
    A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])
    b = np.array([[1.0], [2.0], [4.0]])
    x_ref, res_ref, rank_ref, sv_ref = np.linalg.lstsq(A, b, rcond=None)
    r = linalg.lstsq(t(A), t(b))  # CPU default: gelsy (rank, no residuals or singular values)
    np.testing.assert_allclose(r.solution.numpy(), x_ref, rtol=1e-10)
    assert r.rank.dim() == 0 and r.rank.dtype == rustdl.int64 and r.rank.item() == rank_ref == 2
    assert tuple(r.residuals.shape) == (0,) and tuple(r.singular_values.shape) == (0,)
    for driver in ("gelsd", "gelss"):
        r = linalg.lstsq(t(A), t(b), driver=driver)
        np.testing.assert_allclose(r.singular_values.numpy(), sv_ref, rtol=1e-12)
        np.testing.assert_allclose(r.residuals.numpy(), res_ref, rtol=1e-10)
        assert r.rank.item() == 2
    r = linalg.lstsq(t(A), t(b), driver="gels")
    assert tuple(r.rank.shape) == (0,) and tuple(r.singular_values.shape) == (0,)
    np.testing.assert_allclose(r.residuals.numpy(), res_ref, rtol=1e-10)
    # a batch with a rank-deficient matrix: per-matrix ranks, no residuals
    batch = np.stack([[[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]], A])
    r = linalg.lstsq(t(batch), t(np.ones((2, 3, 1))))
    assert r.rank.tolist() == [1, 2] and tuple(r.residuals.shape) == (0,)
    np.testing.assert_allclose(r.solution[0].numpy(), np.linalg.pinv(batch[0]) @ np.ones((3, 1)), rtol=1e-10)
    with pytest.raises(
        linalg.LinAlgError, match=r"\(Batch element 0\).*does not have full rank \(error code: 2\)"
    ):
        linalg.lstsq(t(batch), t(np.ones((2, 3, 1))), driver="gels")
    with pytest.raises(RuntimeError, match="driver"):
        linalg.lstsq(t(A), t(b), driver="nope")


# ---------------------------------------------------------------------------------- dsmm


def test_dsmm_is_the_dense_product_of_a_sparse_matrix():
    i = rustdl.tensor([[0, 1], [1, 0]])
    v = rustdl.tensor([2.0, 3.0], requires_grad=True)
    s = rustdl.sparse_coo_tensor(i, v, (2, 2))
    d = rustdl.ones(2, 3, requires_grad=True)
    out = rustdl.dsmm(s, d)
    assert out.tolist() == (np.array([[0.0, 2.0], [3.0, 0.0]]) @ np.ones((2, 3))).tolist()
    out.sum().backward()
    assert v.grad.tolist() == [3.0, 3.0] and d.grad.tolist() == [[3.0] * 3, [2.0] * 3]


# ---------------------------------------------------------------------------------- LDLᵀ, LOBPCG


def ldl_matrices():
    rng = np.random.default_rng(7)
    mats = [np.array([[0.0, 1, 2], [1, 0, 3], [2, 3, 1]]), SPD, np.array([[1.0, 7.0], [7.0, 2.0]])]
    for n in (1, 4, 9, 20):
        x = rng.standard_normal((n, n))
        a = x + x.T
        mats.append(a)
        b = a.copy()
        b[np.diag_indices(n)] *= 0.01  # small diagonal: 2×2 pivots
        mats.append(b)
    return mats


def test_ldl_factor_is_lapacks_sytrf():
    lapack = pytest.importorskip("scipy.linalg.lapack")
    for a in ldl_matrices():
        ld_ref, piv_ref, info_ref = lapack.dsytrf(a, lower=1)
        LD, piv = linalg.ldl_factor(t(a))
        assert piv.dtype == rustdl.int32 and piv.tolist() == piv_ref.tolist()
        np.testing.assert_allclose(LD.numpy(), np.tril(ld_ref), rtol=1e-10, atol=1e-12)


def test_ldl_factor_closed_forms():
    # symmetric [[0, 1, 2], [1, 0, 3], [2, 3, 1]]: |a00| = 0 < α·2, and |a22| = 1 < α·3: a 2×2
    # pivot with row 3 swapped in: D = [[0, 2], [2, 1]], L's last row solves [l1 l2] D = [1, 3]
    LD, piv = linalg.ldl_factor(t([[0.0, 1, 2], [1, 0, 3], [2, 3, 1]]))
    assert piv.tolist() == [-3, -3, 3]
    np.testing.assert_allclose(LD.numpy(), [[0, 0, 0], [2, 1, 0], [1.25, 0.5, -2.75]], rtol=1e-12)
    LD, piv, info = linalg.ldl_factor_ex(rustdl.zeros(2, 2))
    assert info.item() == 1 and piv.tolist() == [1, 2]
    with pytest.raises(linalg.LinAlgError):
        linalg.ldl_factor(rustdl.zeros(2, 2))


def test_ldl_solve_solves():
    for a in ldl_matrices():
        n = a.shape[0]
        B = RNG.standard_normal((n, 3))
        LD, piv = linalg.ldl_factor(t(a))
        X = linalg.ldl_solve(LD, piv, t(B))
        np.testing.assert_allclose(X.numpy(), np.linalg.solve(a, B), rtol=1e-8, atol=1e-8)
    batch = np.stack([spd(4), spd(4)])
    LD, piv = linalg.ldl_factor(t(batch))
    X = linalg.ldl_solve(LD, piv, t(np.ones((2, 4, 1))))
    np.testing.assert_allclose(X.numpy(), np.linalg.solve(batch, np.ones((2, 4, 1))), rtol=1e-10)
    with pytest.raises(RuntimeError, match="same dtype"):
        linalg.ldl_solve(LD, piv, rustdl.ones(2, 4, 1))


def test_lobpcg_finds_the_extremal_eigenpairs():
    rustdl.manual_seed(0)
    A = spd(30, np.random.default_rng(3))
    w = np.linalg.eigvalsh(A)
    E, X = rustdl.lobpcg(t(A), k=3)
    np.testing.assert_allclose(E.numpy(), w[::-1][:3], rtol=1e-6)
    np.testing.assert_allclose(A @ X.numpy(), X.numpy() * E.numpy(), atol=1e-5 * w[-1])
    E, X = rustdl.lobpcg(t(A), k=2, largest=False)
    np.testing.assert_allclose(E.numpy(), w[:2], rtol=1e-6)
    # generalized: A x = λ B x with B-orthonormal x
    B = np.diag(np.linspace(1.0, 3.0, 30))
    wg = np.linalg.eigvalsh(np.linalg.inv(np.linalg.cholesky(B)) @ A @ np.linalg.inv(np.linalg.cholesky(B)).T)
    E, X = rustdl.lobpcg(t(A), k=2, B=t(B))
    np.testing.assert_allclose(E.numpy(), wg[::-1][:2], rtol=1e-6)
    np.testing.assert_allclose(X.numpy().T @ B @ X.numpy(), np.eye(2), atol=1e-8)
    # float32, a diagonal matrix, and the eigenvalue's gradient x xᵀ
    D = rustdl.diag(rustdl.arange(1.0, 11.0)).requires_grad_(True)
    E, X = rustdl.lobpcg(D, k=1)
    assert abs(E.item() - 10.0) < 1e-3
    E.sum().backward()
    np.testing.assert_allclose(D.grad.numpy(), np.diag([0.0] * 9 + [1.0]), atol=1e-3)
    with pytest.raises(ValueError, match="smaller than 3 x the number of requested eigenpairs"):
        rustdl.lobpcg(t(A[:9, :9]), k=4)
