"""``torch.linalg`` for rustdl.

Norms are composed from tensor ops (autograd and the GPU work as for any op). The
factorizations and solvers run their forward pass in numpy (float32 / float64; a GPU tensor is
copied to the CPU and the result back) and their backward pass in tensor ops, through
:class:`rustdl.autograd.Function`:

- gradients: ``inv``, ``det``, ``slogdet`` (of ``logabsdet``), ``solve``, ``cholesky``, ``eigh`` /
  ``eigvalsh`` (values and vectors; eigenvalues must be distinct for the vectors' gradient),
  ``svd`` (values and vectors; distinct singular values for the vectors) / ``svdvals``, ``qr``,
  ``pinv`` (through ``svd``-free formula for full-rank inputs), ``lstsq`` (through ``pinv``);
- no gradient: ``matrix_rank`` (integer result).
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from . import _rustdl
from ._rustdl import Tensor
from ._tensor_api import _cross, _vector_norm_impl
from .autograd import Function
from .autograd import once_differentiable as _once_differentiable
from .return_types import structseq

__all__ = [
    "LinAlgError",
    "cholesky",
    "cholesky_ex",
    "cholesky_solve",
    "cond",
    "diagonal",
    "cross",
    "det",
    "eig",
    "eigh",
    "eigvals",
    "eigvalsh",
    "householder_product",
    "lu",
    "lu_factor",
    "lu_factor_ex",
    "lu_solve",
    "tensorinv",
    "tensorsolve",
    "inv",
    "lstsq",
    "matrix_exp",
    "matrix_norm",
    "matrix_power",
    "multi_dot",
    "matrix_rank",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "solve_ex",
    "solve_triangular",
    "svd",
    "svdvals",
    "vander",
    "vecdot",
    "vector_norm",
]

SlogdetResult = structseq("linalg_slogdet", ["sign", "logabsdet"])
QRResult = structseq("linalg_qr", ["Q", "R"])
SVDResult = structseq("linalg_svd", ["U", "S", "Vh"])
EighResult = structseq("linalg_eigh", ["eigenvalues", "eigenvectors"])
LstsqResult = structseq("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


# ---------------------------------------------------------------- helpers


def _check(op, A, min_dim=2, square=True):
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.{op}: expected a Tensor, got {type(A).__name__}")
    if not A.is_floating_point():
        raise TypeError(f"linalg.{op}: expected a float32 or float64 tensor, got {A.dtype}")
    if A.dim() < min_dim:
        raise _rustdl.ArgumentError(
            f"linalg.{op}: expected a tensor with at least {min_dim} dims, got shape {tuple(A.shape)}"
        )
    if square and A.shape[-1] != A.shape[-2]:
        raise _rustdl.ArgumentError(f"linalg.{op}: expected square matrices, got shape {tuple(A.shape)}")


def _np(t):
    return t.detach().cpu().numpy()


def _t(arr, like, dtype=None):
    a = np.asarray(arr)
    if not a.flags.c_contiguous:
        a = a.copy()
    if dtype is None:
        dtype = like.dtype
        a = a.astype(np.float64 if dtype == _rustdl.float64 else np.float32, copy=False)
    out = _rustdl.tensor(a, dtype=dtype, device="cpu")  # then to like's device (not the default)
    return out if like.device.type == "cpu" else out.to(like.device)


def _mT(x):  # noqa: N802
    return x.transpose(-2, -1)


class LinAlgError(RuntimeError, ValueError):
    """A matrix the operation cannot handle (singular, not positive-definite, ...): a
    ``RuntimeError`` as PyTorch's ``torch.linalg.LinAlgError``, and a ``ValueError``."""


def _run(op, fn, *arrays):
    try:
        with np.errstate(all="ignore"):
            return fn(*arrays)
    except np.linalg.LinAlgError as err:
        raise LinAlgError(f"linalg.{op}: {err}") from None


# ---------------------------------------------------------------- inverse, det, solve


def _cofactor_tensor(A):
    """The cofactor matrices of a batch of square matrices (also singular ones) in
    differentiable ops: each entry the signed determinant of its minor."""
    n = A.shape[-1]
    if n == 1:
        return _rustdl.ones_like(A)
    rows = []
    for i in range(n):
        keep_r = _rustdl.tensor([k for k in range(n) if k != i], device=A.device)
        without_row = A.index_select(-2, keep_r)
        row = []
        for j in range(n):
            keep_c = _rustdl.tensor([k for k in range(n) if k != j], device=A.device)
            row.append((-1) ** (i + j) * _Det.apply(without_row.index_select(-1, keep_c)))
        rows.append(_rustdl.stack(row, -1))
    return _rustdl.stack(rows, -2)


class _Inv(Function):
    @staticmethod
    def forward(ctx, A):
        Y = _t(_run("inv", np.linalg.inv, _np(A)), A)
        ctx.save_for_backward(Y)
        return Y

    @staticmethod
    def backward(ctx, g):
        (Y,) = ctx.saved_tensors
        Yt = _mT(Y)
        return -Yt.matmul(g).matmul(Yt)


def inv(A):
    """The inverse of square matrices (batched); singular input raises ``ValueError``."""
    _check("inv", A)
    return _Inv.apply(A)


class _Det(Function):
    @staticmethod
    def forward(ctx, A):
        a = _np(A)
        d = _run("det", np.linalg.det, a)
        out = _t(np.asarray(d), A)
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # d det / dA is the cofactor matrix: det · A⁻ᵀ when A is invertible, else the minors'
        # determinants; both in differentiable ops (of the saved input and output), so a
        # backward with create_graph gives the second derivative
        A, d = ctx.saved_tensors
        try:
            Ainv = _Inv.apply(A)
            ok = builtins.bool(np.isfinite(_np(Ainv)).all())
        except LinAlgError:
            ok = False
        cof = _mT(Ainv) * d.unsqueeze(-1).unsqueeze(-1) if ok else _cofactor_tensor(A)
        return g.unsqueeze(-1).unsqueeze(-1) * cof


def det(A):
    """Determinants of square matrices (batched), differentiable also at singular matrices
    (the gradient is the cofactor matrix)."""
    _check("det", A)
    return _Det.apply(A)


class _Logabsdet(Function):
    @staticmethod
    def forward(ctx, A):
        _, la = _run("slogdet", np.linalg.slogdet, _np(A))
        ctx.save_for_backward(A)
        return _t(np.asarray(la), A)

    @staticmethod
    def backward(ctx, g):
        (A,) = ctx.saved_tensors
        return g.unsqueeze(-1).unsqueeze(-1) * _mT(_Inv.apply(A))


def slogdet(A):
    """``(sign, logabsdet)`` of square matrices; the gradient flows through ``logabsdet``."""
    _check("slogdet", A)
    sign, _ = _run("slogdet", np.linalg.slogdet, _np(A))
    return SlogdetResult(_t(np.asarray(sign), A), _Logabsdet.apply(A))


class _Solve(Function):
    @staticmethod
    def forward(ctx, A, B):
        X = _t(_run("solve", np.linalg.solve, _np(A), _np(B)), A)
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx, g):
        A, X = ctx.saved_tensors
        gB = _Solve.apply(_mT(A), g)  # differentiable, as gA through the saved solution X
        gA = -gB.matmul(_mT(X))
        return gA, gB


def solve(A, B, *, left=True):
    """``X`` with ``A @ X = B`` (``B`` a batch of vectors when it has one dim less than ``A``)."""
    _check("solve", A)
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg.solve: expected B to be a Tensor, got {type(B).__name__}")
    if not left:
        return _mT(solve(_mT(A), _mT(B)))
    vec = B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    X = _solve_matrix("solve", A, B.unsqueeze(-1) if vec else B)
    return X.squeeze(-1) if vec else X


def _solve_matrix(op, A, Bm):
    if Bm.dim() < 2 or Bm.shape[-2] != A.shape[-1]:
        raise _rustdl.ArgumentError(
            f"linalg.{op}: incompatible shapes {tuple(A.shape)} and {tuple(Bm.shape)}"
        )
    batch = tuple(np.broadcast_shapes(tuple(A.shape[:-2]), tuple(Bm.shape[:-2])))
    A2 = A.broadcast_to((*batch, *A.shape[-2:])) if tuple(A.shape[:-2]) != batch else A
    B2 = Bm.broadcast_to((*batch, *Bm.shape[-2:])) if tuple(Bm.shape[:-2]) != batch else Bm
    if B2.dtype != A2.dtype:
        raise TypeError(f"linalg.{op}: A and B must have the same dtype, got {A.dtype} and {Bm.dtype}")
    return _Solve.apply(A2, B2)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """``X`` with ``A @ X = B`` (``X @ A = B`` when ``left=False``) for triangular ``A``; only
    the triangle named by ``upper`` is read (and gets a gradient)."""
    _check("solve_triangular", A)
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg.solve_triangular: expected B to be a Tensor, got {type(B).__name__}")
    T = A.triu() if upper else A.tril()
    if unitriangular:
        T = T - _diag_only(T) + _rustdl.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    if not left:
        return _mT(_solve_matrix("solve_triangular", _mT(T), _mT(B)))
    return _solve_matrix("solve_triangular", T, B)


def cholesky_solve(B, L, upper=False):
    """``X`` with ``(L Lᵀ) X = B`` given the Cholesky factor ``L`` (``upper``: ``Lᵀ L``)."""
    _check("cholesky_solve", L)
    lower = _mT(L) if upper else L
    Y = solve_triangular(lower, B, upper=False)
    return solve_triangular(_mT(lower), Y, upper=True)


# ---------------------------------------------------------------- factorizations

LUResult = structseq("linalg_lu", ["P", "L", "U"])
LUFactorResult = structseq("linalg_lu_factor", ["LU", "pivots"])
LUFactorExResult = structseq("linalg_lu_factor_ex", ["LU", "pivots", "info"])
# PyTorch's result types of the *_ex functions (named fields: .inverse/.L/.result and .info)
InvExResult = structseq("linalg_inv_ex", ["inverse", "info"])
CholeskyExResult = structseq("linalg_cholesky_ex", ["L", "info"])
SolveExResult = structseq("linalg_solve_ex", ["result", "info"])


def _np_lu(a):
    """Partial-pivoting LU of a batch of ``m × n`` float64 matrices: ``(LU, pivots, info)``
    packed as LAPACK's getrf (unit-diagonal ``L`` below, ``U`` on and above the diagonal,
    ``min(m, n)`` 1-based row swaps; ``info`` = first zero pivot, 1-based, else 0)."""
    with np.errstate(all="ignore"):
        return _np_lu_raw(a)


def _np_lu_raw(a):
    lu = np.array(a, dtype=np.float64, copy=True)
    m, n = lu.shape[-2], lu.shape[-1]
    batch = lu.shape[:-2]
    lu = lu.reshape(int(np.prod(batch, dtype=np.int64)), m, n)  # explicit: -1 is ambiguous when empty
    piv = np.zeros((lu.shape[0], min(m, n)), dtype=np.int64)
    info = np.zeros(lu.shape[0], dtype=np.int64)
    rows = np.arange(lu.shape[0])
    for k in range(min(m, n)):
        p = k + np.argmax(np.abs(lu[:, k:, k]), axis=1)
        piv[:, k] = p + 1
        swap = lu[rows, p, :].copy()
        lu[rows, p, :] = lu[:, k, :]
        lu[:, k, :] = swap
        pivot = lu[:, k, k]
        zero = pivot == 0
        info[(info == 0) & zero] = k + 1
        safe = np.where(zero, 1.0, pivot)
        lu[:, k + 1 :, k] = np.where(zero[:, None], 0.0, lu[:, k + 1 :, k] / safe[:, None])
        lu[:, k + 1 :, k + 1 :] -= lu[:, k + 1 :, k : k + 1] * lu[:, k : k + 1, k + 1 :]
    return lu.reshape(*batch, m, n), piv.reshape(*batch, min(m, n)), info.reshape(batch)


def _perm_from_pivots(piv, n):
    """The permutation matrices ``P`` (``A = P L U``) of LAPACK row swaps ``piv``."""
    batch = piv.shape[:-1]
    flat = piv.reshape(int(np.prod(batch, dtype=np.int64)), piv.shape[-1]) - 1
    perm = np.tile(np.arange(n), (flat.shape[0], 1))
    for k in range(flat.shape[1]):
        p = flat[:, k]
        r = np.arange(flat.shape[0])
        a, b = perm[r, k].copy(), perm[r, p].copy()
        perm[r, k], perm[r, p] = b, a
    P = np.zeros((flat.shape[0], n, n))
    for i in range(flat.shape[0]):
        P[i, perm[i], np.arange(n)] = 1.0
    return P.reshape(*batch, n, n)


class _LU(Function):
    """``A = P L U`` (``P`` m × m, ``L`` m × k unit lower, ``U`` k × n upper, k = min(m, n));
    the backward is PyTorch's for full-rank square matrices:
    ``gA = P L⁻ᴴ (tril₋₁(Lᴴ gL) + triu(gU Uᴴ)) U⁻ᴴ``."""

    @staticmethod
    def forward(ctx, A):
        lu, piv, _ = _np_lu(_np(A))
        m, n = A.shape[-2], A.shape[-1]
        k = min(m, n)
        L = np.tril(lu[..., :, :k], -1) + np.eye(m, k)
        U = np.triu(lu[..., :k, :])
        P = _perm_from_pivots(piv, m)
        ctx.square = m == n
        ctx.set_materialize_grads(False)
        Pt, Lt, Ut = _t(P, A), _t(L, A), _t(U, A)
        ctx.mark_non_differentiable(Pt)
        ctx.save_for_backward(Pt, Lt, Ut)
        return Pt, Lt, Ut

    @staticmethod
    def backward(ctx, gP, gL, gU):
        # differentiable ops of the saved factors, so a backward with create_graph can be
        # differentiated again
        P, L, U = ctx.saved_tensors
        if not ctx.square:
            raise NotImplementedError(
                "linalg.lu: the gradient of the LU of a non-square matrix is not implemented in rustdl"
            )
        inner = None
        if gL is not None:
            inner = _mT(L).matmul(gL).tril(-1)
        if gU is not None:
            term = gU.matmul(_mT(U)).triu()
            inner = term if inner is None else inner + term
        if inner is None:
            return None
        left = _Solve.apply(_mT(L), inner)  # L⁻ᴴ (...)
        gA = _mT(_Solve.apply(U, _mT(left)))  # (...) U⁻ᴴ
        return P.matmul(gA)


def lu(A, *, pivot=True):
    """``P, L, U`` with ``A = P @ L @ U`` (partial pivoting; ``L`` unit lower triangular,
    ``m × min(m, n)``; ``U`` ``min(m, n) × n``); differentiable for square ``A`` where it is
    invertible."""
    _check("lu", A, square=False)
    if not pivot:
        raise RuntimeError("linalg.lu: LU without pivoting is not implemented in rustdl (PyTorch: CUDA only)")
    return LUResult(*_LU.apply(A))


def lu_factor(A, *, pivot=True):
    """The packed LU factorization ``(LU, pivots)`` (LAPACK's getrf layout, 1-based int32
    pivots); ``LU`` is differentiable."""
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    bad = info.ne(0)
    if builtins.bool(bad.any().item()):
        raise LinAlgError(
            f"linalg.lu_factor: The factorization could not be completed because the input is not invertible "
            f"(U[{int(info.max().item())}, {int(info.max().item())}] is zero)."
        )
    return LUFactorResult(LU, piv)


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """:func:`lu_factor` with LAPACK's ``info`` (0, or the 1-based index of a zero pivot)."""
    _check("lu_factor", A, square=False)
    P, L, U = lu(A, pivot=pivot)
    m, n = A.shape[-2], A.shape[-1]
    if m == n:
        LU = L.tril(-1) + U
    elif m > n:  # tall: U's rows padded below
        LU = L.tril(-1) + _rustdl.cat([U, U.new_zeros(*A.shape[:-2], m - n, n)], dim=-2)
    else:  # wide: L's columns padded on the right
        LU = _rustdl.cat([L.tril(-1), L.new_zeros(*A.shape[:-2], m, n - m)], dim=-1) + U
    _, piv, info = _np_lu(_np(A))
    pivots = _rustdl.tensor(piv.astype(np.int32), dtype=_rustdl.int32, device="cpu")
    infos = _rustdl.tensor(info.astype(np.int32), dtype=_rustdl.int32, device="cpu")
    if A.device.type != "cpu":
        pivots, infos = pivots.to(A.device), infos.to(A.device)
    if check_errors and builtins.bool(infos.ne(0).any().item()):
        raise LinAlgError("linalg.lu_factor_ex: the input is not invertible")
    return LUFactorExResult(LU, pivots, infos)


def _need_tensors(op, **named):
    for name, t in named.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """``P, L, U`` from :func:`lu_factor`'s packed result (``torch.lu_unpack``)."""
    _need_tensors("lu_unpack", LU_data=LU_data, LU_pivots=LU_pivots)
    _check("lu_unpack", LU_data, square=False)
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    k = min(m, n)
    want = (*LU_data.shape[:-2], k)
    if LU_pivots.is_floating_point() or tuple(LU_pivots.shape) != want:
        raise _rustdl.ArgumentError(
            f"lu_unpack: expected integer pivots of shape {want}, got {LU_pivots.dtype} {tuple(LU_pivots.shape)}"
        )
    pv = LU_pivots.detach().cpu().numpy().astype(np.int64)
    if pv.size and (pv.min() < 1 or pv.max() > m):
        raise IndexError(f"lu_unpack: pivots must lie in [1, {m}], got {pv.min()}..{pv.max()}")
    L = LU_data[..., :, :k].tril(-1) + _rustdl.eye(m, k, dtype=LU_data.dtype, device=LU_data.device)
    U = LU_data[..., :k, :].triu()
    P = _t(_perm_from_pivots(pv, m), LU_data)
    return LUResult(P if unpack_pivots else None, L if unpack_data else None, U if unpack_data else None)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """``X`` with ``A X = B`` (``X A = B`` when ``left=False``; ``Aᴴ`` with ``adjoint``) for
    ``A = P L U`` given as :func:`lu_factor` returns it; differentiable in ``LU`` and ``B``."""
    if not isinstance(LU, Tensor) or not isinstance(B, Tensor):
        raise TypeError("linalg.lu_solve: expected LU and B to be Tensors")
    P, L, U = lu_unpack(LU, pivots)
    A = P.matmul(L).matmul(U)
    if adjoint:
        A = _mT(A)
    return solve(A, B, left=left)


def tensorinv(A, ind=2):
    """The inverse of ``A`` seen as a map from its last ``A.ndim − ind`` dims to its first
    ``ind`` (``torch.linalg.tensorinv``)."""
    _need_tensors("linalg.tensorinv", A=A)
    out_shape = tuple(A.shape[:ind])
    in_shape = tuple(A.shape[ind:])
    rows = math.prod(out_shape)
    if rows != math.prod(in_shape):
        raise _rustdl.ArgumentError(
            f"linalg.tensorinv: expected the product of the first {ind} dims to equal that of the rest, got shape {tuple(A.shape)}"
        )
    return inv(A.reshape(rows, rows)).reshape(*in_shape, *out_shape)


def tensorsolve(A, B, dims=None):
    """``X`` with ``tensordot(A, X, X.ndim) = B`` (``torch.linalg.tensorsolve``)."""
    _need_tensors("linalg.tensorsolve", A=A, B=B)
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        rest = [d for d in range(A.ndim) if d not in dims]
        A = A.permute(*rest, *dims)
    x_shape = tuple(A.shape[B.ndim :])
    rows = math.prod(tuple(B.shape))
    if rows != math.prod(x_shape):
        raise _rustdl.ArgumentError(
            f"linalg.tensorsolve: A's trailing dims {x_shape} do not match B's {tuple(B.shape)} in size"
        )
    return solve(A.reshape(rows, rows), B.reshape(rows)).reshape(x_shape)


def _absent(g):
    """No gradient reached this output (None, or the zeros the engine fills in)."""
    return g is None or not builtins.bool(g.ne(0).any().item())


def _phi(X):
    """Lower triangle with the diagonal halved."""
    return X.tril() - 0.5 * _diag_only(X)


def _diag_only(X):
    n = X.shape[-1]
    eye = _rustdl.eye(n, dtype=X.dtype, device=X.device)
    return X * eye


class _Cholesky(Function):
    @staticmethod
    def forward(ctx, A):
        L = _t(_run("cholesky", np.linalg.cholesky, _np(A)), A)
        ctx.save_for_backward(L)
        return L

    @staticmethod
    def backward(ctx, gL):
        (L,) = ctx.saved_tensors
        Linv = _Inv.apply(L)
        P = _phi(_mT(L).matmul(gL.tril()))
        S = _mT(Linv).matmul(P).matmul(Linv)
        return 0.5 * (S + _mT(S))


def cholesky(A, *, upper=False):
    """The lower Cholesky factor ``L`` (``A = L Lᵀ``) of symmetric positive-definite matrices
    (``upper=True``: ``Lᵀ``). Only the lower triangle of ``A`` is read; the gradient is
    symmetric."""
    _check("cholesky", A)
    L = _Cholesky.apply(A)
    return _mT(L) if upper else L


class _Eigh(Function):
    @staticmethod
    def forward(ctx, A, uplo):
        w, V = _run("eigh", lambda a: np.linalg.eigh(a, UPLO=uplo), _np(A))
        wt, Vt = _t(w, A), _t(V, A)
        ctx.save_for_backward(wt, Vt)
        ctx.set_materialize_grads(False)
        return wt, Vt

    @staticmethod
    def backward(ctx, gw, gV):
        w, V = ctx.saved_tensors
        inner = None
        if gw is not None:
            inner = gw.unsqueeze(-1) * _rustdl.eye(w.shape[-1], dtype=w.dtype, device=w.device)
        if not _absent(gV):
            diff = w.unsqueeze(-2) - w.unsqueeze(-1)  # [i, j] = w_j - w_i
            n = w.shape[-1]
            eye = _rustdl.eye(n, dtype=w.dtype, device=w.device)
            F = (1 - eye) / (diff + eye)
            # only the skew-symmetric part of VᵀgV moves the eigenvectors of a symmetric matrix
            # (the tangent space of the orthogonal group), as PyTorch projects it: the gradient
            # is then symmetric, and independent of the eigenvectors' signs for sign-free losses
            VtgV = _mT(V).matmul(gV)
            term = F * ((VtgV - _mT(VtgV)) * 0.5)
            inner = term if inner is None else inner + term
        if inner is None:
            return None, None
        gA = V.matmul(inner).matmul(_mT(V))
        return gA, None


def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices. Gradients flow through
    both (the eigenvectors' needs distinct eigenvalues); the input's gradient is PyTorch's,
    a symmetric matrix."""
    _check("eigh", A)
    if UPLO not in ("L", "U"):
        raise _rustdl.ArgumentError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    w, V = _Eigh.apply(A, UPLO)
    return EighResult(w, V)


def eigvalsh(A, UPLO="L"):
    """Eigenvalues (ascending) of symmetric matrices."""
    return eigh(A, UPLO).eigenvalues


EigResult = structseq("linalg_eig", ["eigenvalues", "eigenvectors"])


class _Eig(Function):
    """Eigen-decomposition of real square matrices (numpy's LAPACK geev), as the real and
    imaginary parts of ``L`` and ``V`` (columns of unit norm). The backward is PyTorch's:
    ``gA = Re(V⁻ᴴ (diag(gL) + (VᴴgV − VᴴV Re(diag(VᴴgV))) / Ē) Vᴴ)`` with
    ``Ē_ij = conj(λ_j − λ_i)`` off the diagonal."""

    @staticmethod
    def forward(ctx, A):
        w, V = _run("eig", np.linalg.eig, _np(A).astype(np.float64))
        w = w.astype(np.complex128)
        V = V.astype(np.complex128)
        ctx.w, ctx.V = w, V
        ctx.set_materialize_grads(False)
        return _t(w.real, A), _t(w.imag, A), _t(V.real, A), _t(V.imag, A)

    @staticmethod
    def backward(ctx, gwr, gwi, gVr, gVi):
        w, V = ctx.w, ctx.V
        n = w.shape[-1]
        Vh = np.conj(np.swapaxes(V, -1, -2))
        gA = np.zeros(V.shape, np.complex128)
        if gVr is not None or gVi is not None:
            gV = (0 if gVr is None else _np(gVr).astype(np.float64)) + 1j * (
                0 if gVi is None else _np(gVi).astype(np.float64)
            )
            gV = np.broadcast_to(gV, V.shape)
            VhgV = Vh @ gV
            diag = np.real(np.diagonal(VhgV, axis1=-2, axis2=-1))
            gA = VhgV - Vh @ (V * diag[..., None, :])
            E = np.conj(w[..., None, :] - w[..., :, None])
            idx = np.arange(n)
            E[..., idx, idx] = 1.0
            with np.errstate(divide="ignore", invalid="ignore"):
                gA = gA / E
            gA[..., idx, idx] = 0.0
        if gwr is not None or gwi is not None:
            gw = (0 if gwr is None else _np(gwr).astype(np.float64)) + 1j * (
                0 if gwi is None else _np(gwi).astype(np.float64)
            )
            idx = np.arange(n)
            gA[..., idx, idx] += np.broadcast_to(gw, w.shape)
        out = np.linalg.solve(Vh, gA @ Vh)
        like = gwr if gwr is not None else gwi if gwi is not None else gVr if gVr is not None else gVi
        return _t(np.real(out), like)


_Eig.backward = _once_differentiable(_Eig.backward)


def eig(A):
    """Eigenvalues and eigenvectors of real square matrices, as complex tensors
    (``rustdl.ComplexTensor``); differentiable (the eigenvectors need distinct eigenvalues).
    Eigenvectors have unit norm; their phase is LAPACK's, as in PyTorch."""
    from ._complex import ComplexTensor

    _check("eig", A)
    wr, wi, Vr, Vi = _Eig.apply(A)
    return EigResult(ComplexTensor(wr, wi), ComplexTensor(Vr, Vi))


def eigvals(A):
    """Eigenvalues of real square matrices, as a complex tensor; differentiable."""
    return eig(A).eigenvalues


class _Svd(Function):
    @staticmethod
    def forward(ctx, A, full_matrices):
        U, S, Vh = _run("svd", lambda a: np.linalg.svd(a, full_matrices=full_matrices), _np(A))
        Ut, St, Vht = _t(U, A), _t(S, A), _t(Vh, A)
        ctx.save_for_backward(Ut, Vht)
        ctx.S = St
        ctx.set_materialize_grads(False)
        return Ut, St, Vht

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, Vh = ctx.saved_tensors
        k = builtins.min(U.shape[-2], Vh.shape[-1])
        # the extra columns of full_matrices=True are not determined by A: only the first k count
        U, Vh = U.narrow(-1, 0, k), Vh.narrow(-2, 0, k)
        no_u, no_v = _absent(gU), _absent(gVh)
        if no_u and no_v:
            if gS is None:
                return None, None
            return (U * gS.unsqueeze(-2)).matmul(Vh), None
        return _svd_backward(U, ctx.S, Vh, gU, gS, gVh, no_u, no_v), None


def _svd_backward(U, S, Vh, gU, gS, gVh, no_u, no_v):
    """The real SVD's reverse mode, for ``A = U diag(S) Vh`` with ``k = min(m, n)`` columns:
    ``gA = U [(skew(UᵀgU) S + S skew(VᵀgV)) / (S_j² − S_i²) + diag(gS)] Vh`` plus the parts of
    ``gU`` and ``gV`` outside the spans of ``U`` and ``V`` (``(I − UUᵀ) gU S⁻¹ Vh`` and
    ``U S⁻¹ gVᵀ (I − VVᵀ)``). Repeated singular values give inf/NaN, as in PyTorch."""
    k = S.shape[-1]
    V = _mT(Vh)
    eye = _rustdl.eye(k, dtype=S.dtype, device=S.device)
    s_row, s_col = S.unsqueeze(-2), S.unsqueeze(-1)  # [i, j] = S_j and S_i
    inner = None
    if not no_u:
        gU = gU.narrow(-1, 0, k)
        utg = _mT(U).matmul(gU)
        inner = (utg - _mT(utg)) * s_row
    if not no_v:
        gV = _mT(gVh.narrow(-2, 0, k))
        vtg = _mT(V).matmul(gV)
        term = s_col * (vtg - _mT(vtg))
        inner = term if inner is None else inner + term
    denom = s_row * s_row - s_col * s_col + eye  # S_j² − S_i², 1 on the diagonal
    inner = inner / denom * (1 - eye)
    if gS is not None:
        inner = inner + gS.unsqueeze(-1) * eye
    gA = U.matmul(inner).matmul(Vh)
    m, n = U.shape[-2], Vh.shape[-1]
    if not no_u and m > k:
        gA = gA + (gU - U.matmul(utg)).div(s_row).matmul(Vh)
    if not no_v and n > k:
        gA = gA + U.matmul(_mT((gV - V.matmul(vtg)).div(s_row)))
    return gA


def svd(A, full_matrices=True, *, driver=None):
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``, differentiable through all three (as PyTorch:
    singular vectors need distinct singular values, and with ``full_matrices=True`` only the
    first ``min(m, n)`` singular vectors carry a gradient)."""
    _check("svd", A, square=False)
    U, S, Vh = _Svd.apply(A, builtins.bool(full_matrices))
    return SVDResult(U, S, Vh)


def svdvals(A, *, driver=None):
    """Singular values (descending), differentiable (twice: with a graph to differentiate, the
    values come from the SVD's own node, whose backward is made of differentiable ops)."""
    _check("svdvals", A, square=False)
    if A.requires_grad and _rustdl.is_grad_enabled():
        return _Svd.apply(A, False)[1]
    return _t(_run("svdvals", lambda a: np.linalg.svd(a, compute_uv=False), _np(A)), A)


class _Qr(Function):
    @staticmethod
    def forward(ctx, A, mode):
        q, r = _run("qr", lambda x: np.linalg.qr(x, mode=mode), _np(A))
        Q, R = _t(q, A), _t(r, A)
        ctx.save_for_backward(Q, R)
        ctx.mode = mode
        ctx.set_materialize_grads(False)
        return Q, R

    @staticmethod
    def backward(ctx, gQ, gR):
        Q, R = ctx.saved_tensors
        m, n = Q.shape[-2], R.shape[-1]
        if ctx.mode == "complete" and m > n and not _absent(gQ):
            raise NotImplementedError(
                "linalg.qr: the gradient of Q with mode='complete' and more rows than columns is not "
                "defined (its last columns are not determined by A); use mode='reduced'"
            )
        if ctx.mode == "complete" and m > n:
            Q = Q.narrow(-1, 0, n)
            R = R.narrow(-2, 0, n)
            gQ = None
            gR = gR.narrow(-2, 0, n) if gR is not None else None
        gQ = _rustdl.zeros_like(Q) if gQ is None else gQ
        gR = _rustdl.zeros_like(R) if gR is None else gR
        if m >= n:
            return _qr_backward_tall(Q, R, gQ, gR), None
        # wide: A = Q [X Y] with X = Q R1 square; Y = Q R2 moves Q too
        R1, R2 = R.narrow(-1, 0, m), R.narrow(-1, m, n - m)
        gR1, gR2 = gR.narrow(-1, 0, m), gR.narrow(-1, m, n - m)
        Y = Q.matmul(R2)
        gX = _qr_backward_tall(Q, R1, gQ + Y.matmul(_mT(gR2)), gR1)
        gY = Q.matmul(gR2)
        return _rustdl.cat([gX, gY], -1), None


def _qr_backward_tall(Q, R, gQ, gR):
    """Reverse mode of the reduced QR of a tall (or square) full-rank ``A = Q R``:
    ``gA = (gQ + Q copyltu(M)) R⁻ᵀ`` with ``M = R gRᵀ − gQᵀ Q`` and ``copyltu`` mirroring the
    lower triangle onto the upper."""
    M = R.matmul(_mT(gR)) - _mT(gQ).matmul(Q)
    low = M.tril(-1)
    sym = low + _mT(low) + M.diagonal(0, -2, -1).diag_embed()
    B = gQ + Q.matmul(sym)
    # B R⁻ᵀ, i.e. (R⁻¹ Bᵀ)ᵀ, by a triangular solve
    return _mT(solve_triangular(R, _mT(B), upper=True))


def qr(A, mode="reduced"):
    """``(Q, R)`` (``mode`` 'reduced', 'complete' or 'r'), differentiable as PyTorch's for
    full-rank input (not with ``mode='r'``, nor through ``Q`` of ``mode='complete'`` with more
    rows than columns)."""
    _check("qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise _rustdl.ArgumentError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    if mode == "r":
        if A.requires_grad and _rustdl.is_grad_enabled():
            raise RuntimeError(
                "linalg.qr: the derivative of linalg.qr depends on Q, which is not computed when "
                "mode='r'; use mode='reduced'"
            )
        a = _np(A)
        r = _run("qr", lambda x: np.linalg.qr(x, mode="r"), a)
        return QRResult(_t(np.zeros(a.shape[:-2] + (0,)), A), _t(r, A))
    Q, R = _Qr.apply(A, mode)
    return QRResult(Q, R)


def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None):
    """Moore-Penrose pseudo-inverse from numpy's SVD (singular values at most
    ``max(atol, rtol·σ_max)`` count as zero), of any rank. Differentiable: the gradient is the
    pseudo-inverse's derivative at constant rank, as PyTorch's,
    ``dP = −P dA P + P Pᵀ dAᵀ (I − A P) + (I − P A) dAᵀ Pᵀ P``."""
    _check("pinv", A, square=False)
    if rcond is not None and rtol is None:
        rtol = rcond
    return _Pinv.apply(A, atol, rtol)


def _np_pinv(a, atol, rtol):
    if rtol is None:
        rtol = (builtins.max(a.shape[-2:]) * np.finfo(a.dtype).eps) if atol is None or atol == 0 else 0.0
    if atol is None:
        atol = 0.0
    u, s, vh = _run("pinv", lambda x: np.linalg.svd(x, full_matrices=False), a)
    smax = s.max(axis=-1, keepdims=True) if s.size else s
    cutoff = np.maximum(atol, rtol * smax) if s.size else s
    sinv = np.where(s > cutoff, 1.0 / np.where(s > cutoff, s, 1), 0)
    return np.swapaxes(vh, -1, -2) @ (sinv[..., :, None] * np.swapaxes(u, -1, -2))


class _Pinv(Function):
    """The pseudo-inverse ``P`` of ``A``; the backward is the adjoint of ``dP`` (see
    :func:`pinv`), ``gA = −Pᵀ G Pᵀ + (I − A P) Gᵀ P Pᵀ + Pᵀ P Gᵀ (I − P A)``, in differentiable
    ops of the saved ``A`` and ``P`` (so it can be differentiated again)."""

    @staticmethod
    def forward(ctx, A, atol, rtol):
        P = _t(_np_pinv(_np(A), atol, rtol), A)
        ctx.save_for_backward(A, P)
        return P

    @staticmethod
    def backward(ctx, g):
        A, P = ctx.saved_tensors
        m, n = A.shape[-2], A.shape[-1]
        Pt, gt = _mT(P), _mT(g)
        eye_m = _rustdl.eye(m, dtype=A.dtype, device=A.device)
        eye_n = _rustdl.eye(n, dtype=A.dtype, device=A.device)
        gA = (
            -Pt.matmul(g).matmul(Pt)
            + (eye_m - A.matmul(P)).matmul(gt).matmul(P.matmul(Pt))
            + Pt.matmul(P).matmul(gt).matmul(eye_n - P.matmul(A))
        )
        return gA, None, None


def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None):
    """The numerical rank (an int64 tensor)."""
    _check("matrix_rank", A, square=False)
    a = _np(A)
    s = _run("matrix_rank", lambda x: np.linalg.svd(x, compute_uv=False), a)
    if tol is not None:
        atol, rtol = tol, 0.0
    if rtol is None:
        rtol = (builtins.max(a.shape[-2:]) * np.finfo(a.dtype).eps) if atol is None or atol == 0 else 0.0
    if atol is None:
        atol = 0.0
    smax = s.max(axis=-1, keepdims=True) if s.size else np.zeros(s.shape[:-1] + (1,))
    rank = (s > np.maximum(atol, rtol * smax)).sum(axis=-1).astype(np.int64)
    return _t(np.asarray(rank), A, dtype=_rustdl.int64)


def lstsq(A, B, rcond=None, *, driver=None):
    """Least-squares solution of ``A X = B``: a tuple with ``.solution`` (and ``.residuals``,
    ``.rank``, ``.singular_values`` as empty tensors unless computed). Differentiable through
    ``pinv`` for full-rank ``A``."""
    _check("lstsq", A, square=False)
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg.lstsq: expected B to be a Tensor, got {type(B).__name__}")
    vec = B.dim() == A.dim() - 1
    Bm = B.unsqueeze(-1) if vec else B
    if Bm.shape[-2] != A.shape[-2]:
        raise _rustdl.ArgumentError(
            f"linalg.lstsq: incompatible shapes {tuple(A.shape)} and {tuple(B.shape)}"
        )
    X = pinv(A, rtol=rcond).matmul(Bm)
    if vec:
        X = X.squeeze(-1)
    empty = _rustdl.zeros(0, dtype=A.dtype, device=A.device)
    return LstsqResult(X, empty, _rustdl.zeros(0, dtype=_rustdl.int64, device=A.device), empty)


# ---------------------------------------------------------------- norms (tensor ops)


def _dims(op, dim, n):
    if dim is None:
        return tuple(range(n))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -n <= d < builtins.max(n, 1):
            raise _rustdl.ArgumentError(f"linalg.{op}: dim {d} out of range for a {n}-d tensor")
        out.append(d % n if n else 0)
    if len(set(out)) != len(out):
        raise _rustdl.ArgumentError(f"linalg.{op}: repeated dim in {dim}")
    return tuple(out)


def _is_complex(x) -> bool:
    from ._complex import ComplexTensor

    return isinstance(x, ComplexTensor)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """The vector ``ord``-norm over ``dim`` (all elements when None); ``ord`` any real or
    ±inf. The gradient at 0 is 0."""
    if _is_complex(x):  # the norm of a complex tensor is that of its moduli
        x = x.abs()
    if not isinstance(x, Tensor):
        raise TypeError(f"linalg.vector_norm: expected a Tensor, got {type(x).__name__}")
    if dtype is not None:
        x = x.to(dtype)
    if not x.is_floating_point():
        raise TypeError(f"linalg.vector_norm: expected a floating tensor, got {x.dtype}")
    if isinstance(ord, str):
        raise _rustdl.ArgumentError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    if x.dim() == 0:
        _dims("vector_norm", dim, 1)  # a scalar takes dim 0 or -1 only
        x = x.reshape(1)
        out = _vector_norm_impl(x, ord, 0, False)
        return out
    if dim is not None and not isinstance(dim, int) and len(dim) == 0:
        dim = None  # an empty dim list reduces over every dim, as in PyTorch
    dims = _dims("vector_norm", dim, x.dim())
    if dim is None and not keepdim:
        return _vector_norm_impl(x.reshape(-1), ord, 0, False)
    return _vector_norm_impl(x, ord, dims if len(dims) > 1 else dims[0], keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):  # noqa: A002
    """Matrix norms over the two ``dim``: 'fro', 'nuc', 2 / -2 (largest / smallest singular
    value), 1 / -1 (max / min column sum), inf / -inf (max / min row sum)."""
    if _is_complex(A):  # entrywise norms of a complex matrix are those of its moduli
        if ord in ("nuc", 2, -2):
            raise NotImplementedError(
                f"linalg.matrix_norm: ord={ord!r} of a complex matrix is not supported by rustdl"
            )
        A = A.abs()
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.matrix_norm: expected a Tensor, got {type(A).__name__}")
    if dtype is not None:
        A = A.to(dtype)
    if A.dim() < 2:
        raise _rustdl.ArgumentError(
            f"linalg.matrix_norm: expected at least 2 dims, got shape {tuple(A.shape)}"
        )
    dims = _dims("matrix_norm", dim, A.dim())
    if len(dims) != 2:
        raise _rustdl.ArgumentError(f"linalg.matrix_norm: dim must name 2 dims, got {dim}")
    r, c = dims
    if ord == "fro":
        return _vector_norm_impl(A, 2, (r, c), keepdim)
    if ord in ("nuc", 2, -2):
        n = A.dim()
        rest = [i for i in range(n) if i not in (r, c)]
        s = svdvals(A.permute(*rest, r, c))
        if ord == "nuc":
            out = s.sum(-1)
        elif ord == 2:
            out = s.amax(-1) if s.shape[-1] else s.sum(-1)  # no singular value: the norm is 0
        else:
            out = s.amin(-1)
        if keepdim:
            for d in sorted((r, c)):
                out = out.unsqueeze(d)
        return out
    if ord in (1, -1, math.inf, -math.inf):
        sum_dim, red_dim = (r, c) if ord in (1, -1) else (c, r)
        s = A.abs().sum(sum_dim, keepdim=True)
        if ord < 0:
            out = s.amin(red_dim, keepdim=True)
        else:  # sums are >= 0: the max over no row or column is 0, as in PyTorch
            out = s.amax(red_dim, keepdim=True) if s.shape[red_dim] else s.sum(red_dim, keepdim=True)
        if not keepdim:
            for d in sorted((r, c), reverse=True):
                out = out.squeeze(d)
        return out
    raise _rustdl.ArgumentError(f"linalg.matrix_norm: unsupported ord {ord!r}")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """``vector_norm`` or ``matrix_norm`` as ``torch.linalg.norm``: with ``ord`` None, the 2-norm
    of the flattened input (or of ``dim``); with ``ord``, a 1-D input / int ``dim`` takes a
    vector norm and a 2-D input / 2-tuple ``dim`` a matrix norm."""
    if _is_complex(A):  # entrywise norms of a complex tensor are those of its moduli
        if ord in ("nuc", 2, -2) and (A.ndim == 2 and dim is None or isinstance(dim, (tuple, list))):
            raise NotImplementedError(
                f"linalg.norm: ord={ord!r} matrix norm of a complex matrix is not supported by rustdl"
            )
        A = A.abs()
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.norm: expected a Tensor, got {type(A).__name__}")
    if dim is not None and not isinstance(dim, int):
        dim = tuple(dim)
        if len(dim) == 1:
            dim = dim[0]
    if ord is None:
        if isinstance(dim, tuple) and len(dim) == 2:
            return matrix_norm(A, "fro", dim, keepdim, dtype=dtype)
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if dim is None:
        if A.dim() == 1:
            return vector_norm(A, ord, None, keepdim, dtype=dtype)
        if A.dim() == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
        raise _rustdl.ArgumentError(
            f"linalg.norm: with ord={ord!r} the input must be 1-D or 2-D or dim given, got shape {tuple(A.shape)}"
        )
    if isinstance(dim, int):
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    if len(dim) == 2:
        return matrix_norm(A, ord, dim, keepdim, dtype=dtype)
    raise _rustdl.ArgumentError(f"linalg.norm: dim must be an int or a 2-tuple, got {dim}")


def cross(input, other, *, dim=-1):  # noqa: A002
    """Cross product of 3-vectors along ``dim`` (default -1), broadcasting."""
    return _cross("linalg.cross", input, other, dim)


def inv_ex(A, *, check_errors=False):
    """``(inverse, info)``: info is 0 where the matrix was inverted and positive where it is
    singular (its inverse then holds NaN); ``check_errors`` raises on a singular matrix instead."""
    _check("inv_ex", A)
    try:
        return InvExResult(inv(A), _rustdl.zeros(*A.shape[:-2], dtype=_rustdl.int32, device=A.device))
    except LinAlgError:
        if check_errors:
            raise
    # some matrix of the batch is singular: invert each one alone, NaN for the singular ones
    a = _np(A)
    batch = a.reshape(-1, *a.shape[-2:])
    out = np.full_like(batch, np.nan)
    info = np.zeros(batch.shape[0], dtype=np.int64)
    for i, m in enumerate(batch):
        try:
            out[i] = np.linalg.inv(m)
        except np.linalg.LinAlgError:
            info[i] = 1
    return InvExResult(_t(out.reshape(a.shape), A), _t(info.reshape(a.shape[:-2]), A, _rustdl.int32))


def _per_matrix(A, fn, fill):
    """``fn`` on each matrix of ``A``'s batch alone: ``(results, info)``, ``fill`` (and info
    from ``fn``'s LinAlgError) where it fails."""
    a = _np(A)
    batch = a.reshape(-1, *a.shape[-2:])
    outs, info = [], np.zeros(batch.shape[0], dtype=np.int64)
    for i, m in enumerate(batch):
        try:
            outs.append(fn(m))
        except _InfoError as err:
            info[i] = err.info
            outs.append(fill(m))
    return outs, info.reshape(a.shape[:-2])


class _InfoError(Exception):
    def __init__(self, info):
        super().__init__(info)
        self.info = info


def _cholesky_info(m):
    """LAPACK potrf's info: the order of the first leading minor that is not positive-definite."""
    n = m.shape[-1]
    for k in range(1, n + 1):
        try:
            np.linalg.cholesky(np.tril(m[:k, :k]) + np.tril(m[:k, :k], -1).T)
        except np.linalg.LinAlgError:
            return k
    return 0


def _lu_info(m):
    """LAPACK getrf's info: 1 + the index of the first exactly zero pivot of Gaussian
    elimination with partial pivoting (0 when there is none)."""
    u = np.array(m, dtype=np.float64)
    n = u.shape[-1]
    info = 0
    for j in range(n):
        p = j + int(np.argmax(np.abs(u[j:, j])))
        if u[p, j] == 0:
            info = info or j + 1
            continue
        u[[j, p]] = u[[p, j]]
        u[j + 1 :, j:] -= np.outer(u[j + 1 :, j] / u[j, j], u[j, j:])
    return info


def cholesky_ex(A, *, upper=False, check_errors=False):
    """``(L, info)``: the Cholesky factor, and per matrix 0, or the order of the first leading
    minor that is not positive-definite (its factor then holds NaN), as
    ``torch.linalg.cholesky_ex``; ``check_errors`` raises instead."""
    _check("cholesky_ex", A)
    try:
        return CholeskyExResult(
            cholesky(A, upper=upper), _rustdl.zeros(*A.shape[:-2], dtype=_rustdl.int32, device=A.device)
        )
    except LinAlgError:
        if check_errors:
            raise

    def one(m):
        k = _cholesky_info(m)
        if k:
            raise _InfoError(k)
        sym = np.tril(m) + np.tril(m, -1).T
        return np.linalg.cholesky(sym)

    outs, info = _per_matrix(A, one, lambda m: np.full_like(m, np.nan))
    L = _t(np.stack(outs).reshape(tuple(A.shape)), A)
    return CholeskyExResult(_mT(L) if upper else L, _t(info, A, _rustdl.int32))


def solve_ex(A, B, *, left=True, check_errors=False):
    """``(X, info)``: the solution of ``A X = B``, and per matrix 0, or LAPACK's index of the
    first zero pivot of a singular ``A`` (its solution then holds NaN), as
    ``torch.linalg.solve_ex``; ``check_errors`` raises instead."""
    _check("solve_ex", A)
    try:
        return SolveExResult(
            solve(A, B, left=left), _rustdl.zeros(*A.shape[:-2], dtype=_rustdl.int32, device=A.device)
        )
    except LinAlgError:
        if check_errors:
            raise

    def pivots(m):
        k = _lu_info(m)
        if k:
            raise _InfoError(k)
        return 0

    _, info = _per_matrix(A, pivots, lambda m: 0)
    bad = _t(info, A, _rustdl.int64) > 0
    safe = _rustdl.where(
        bad.unsqueeze(-1).unsqueeze(-1), _rustdl.eye(A.shape[-1], dtype=A.dtype, device=A.device), A
    )
    X = solve(safe, B, left=left)
    nan = _rustdl.full((), float("nan"), dtype=X.dtype, device=X.device)
    vec = X.dim() == A.dim() - 1
    mask = bad.reshape(*bad.shape, *([1] * (X.dim() - bad.dim())))
    if vec and mask.dim() > X.dim():
        mask = mask.squeeze(-1)
    return SolveExResult(
        _rustdl.where(mask, nan, X), _t(info, A, _rustdl.int32)
    )  # LAPACK's info is int32, as PyTorch's


def cond(A, p=None):
    """The condition number ``‖A‖_p ‖A⁻¹‖_p``, as ``torch.linalg.cond``: for ``p`` None or 2
    (and -2) the ratio of the largest to the smallest singular value (inverted for -2), which
    also takes non-square matrices; for ``'fro'``, ``'nuc'``, ±1 and ±inf the norms of ``A`` and
    its inverse. Differentiable."""
    _check("cond", A, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = svdvals(A)
        big, small = s.narrow(-1, 0, 1).squeeze(-1), s.narrow(-1, s.shape[-1] - 1, 1).squeeze(-1)
        return big / small if p != -2 else small / big
    if p not in ("fro", "nuc", 1, -1, math.inf, -math.inf):
        raise _rustdl.ArgumentError(f"linalg.cond: unsupported order {p!r}")
    inverse, info = inv_ex(A)
    out = matrix_norm(A, p) * matrix_norm(inverse, p)
    return _rustdl.where(info > 0, _rustdl.full((), math.inf, dtype=out.dtype, device=out.device), out)


def vecdot(x, y, *, dim=-1):
    """The dot products of ``x`` and ``y`` (broadcast) along ``dim``, as ``torch.linalg.vecdot``."""
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError("linalg.vecdot: expected two Tensors")
    return (x * y).sum(dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """``A.diagonal(offset, dim1, dim2)``, as ``torch.linalg.diagonal``."""
    return A.diagonal(offset, dim1, dim2)


def vander(x, *, N=None):
    """``(..., n, N)`` Vandermonde matrices of increasing powers ``x⁰ … x^(N-1)``, as
    ``torch.linalg.vander`` (``N`` defaults to ``n``). Differentiable."""
    if not isinstance(x, Tensor) or x.dim() < 1:
        raise _rustdl.ArgumentError("linalg.vander: expected a tensor with at least one dim")
    n = x.shape[-1] if N is None else N
    if n < 1:
        raise _rustdl.ArgumentError(f"linalg.vander: N must be at least 1, got {N}")
    cols = [_rustdl.ones_like(x)]
    for _ in range(1, n):
        cols.append(cols[-1] * x)
    return _rustdl.stack(cols, -1)


def matrix_power(A, n):
    """``A`` multiplied by itself ``n`` times (``n < 0``: powers of the inverse; 0: identity),
    by repeated squaring."""
    _check("matrix_power", A)
    if not isinstance(n, int):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {type(n).__name__}")
    if n == 0:
        eye = _rustdl.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        return eye.expand(*A.shape) if A.dim() > 2 else eye
    base = inv(A) if n < 0 else A
    n = builtins.abs(n)
    result = None
    while n:
        if n & 1:
            result = base if result is None else result.matmul(base)
        n >>= 1
        if n:
            base = base.matmul(base)
    return result


def matrix_exp(A):
    """The matrix exponential ``Σ Aᵏ/k!`` of each square matrix in ``A`` (``(..., n, n)``), as
    ``torch.linalg.matrix_exp``: scaling and squaring, ``exp(A) = exp(A / 2ˢ)^(2ˢ)`` with ``s``
    chosen so that ``‖A / 2ˢ‖₁ ≤ 1/2``, where a degree-18 Taylor polynomial is exact to double
    precision. Built of matmuls, so it is differentiable (the derivative of the same
    approximation) and runs on any device. Non-finite input gives NaN."""
    _check("matrix_exp", A)
    n = A.shape[-1]
    if n == 0 or A.numel() == 0:
        return A.clone()
    norm = float(A.detach().abs().sum(-2).amax())
    if not math.isfinite(norm):
        return A * float("nan")
    s = builtins.max(0, math.ceil(math.log2(norm)) + 1) if norm > 0 else 0
    x = A / float(2**s) if s else A
    eye = _rustdl.eye(n, dtype=A.dtype, device=A.device)
    p = eye + x / 18.0
    for k in range(17, 0, -1):  # Horner: I + x/k · (I + x/(k+1) · (...))
        p = eye + x.matmul(p) / float(k)
    for _ in range(s):
        p = p.matmul(p)
    return p


def householder_product(A, tau):
    """The first ``n`` columns of ``H_1 ⋯ H_k``, ``H_i = I − τ_i v_i v_iᵀ``, where ``v_i`` is
    column ``i`` of ``A`` (``(..., m, n)``) below the diagonal with a 1 on it, and ``k`` the length
    of ``tau`` (``k ≤ n ≤ m``), as ``torch.linalg.householder_product`` (LAPACK's orgqr). Built
    of matmuls, so it is differentiable in both arguments."""
    _check("householder_product", A, square=False)
    if not isinstance(tau, Tensor):
        raise TypeError(f"linalg.householder_product: expected tau to be a Tensor, got {type(tau).__name__}")
    m, n, k = A.shape[-2], A.shape[-1], tau.shape[-1] if tau.dim() else -1
    if n > m or tau.dim() != A.dim() - 1 or k > n or tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise _rustdl.ArgumentError(
            f"linalg.householder_product: expected A (..., m, n) with m >= n and tau (..., k) with k <= n "
            f"and the same batch, got {tuple(A.shape)} and {tuple(tau.shape)}"
        )
    vs = A.tril(-1) + _rustdl.eye(m, n, dtype=A.dtype, device=A.device)
    q = _rustdl.eye(m, dtype=A.dtype, device=A.device)
    for i in range(k):
        col = vs[..., :, i : i + 1]
        q = q - q.matmul(col).matmul(_mT(col) * tau[..., i : i + 1].unsqueeze(-1))
    return q[..., :, :n]


def multi_dot(tensors):
    """The product of a chain of matrices (the first may be a vector, as may the last)."""
    if isinstance(tensors, Tensor):
        raise TypeError("linalg.multi_dot: expected a tuple or list of Tensors, got a Tensor")
    tensors = list(tensors)
    if len(tensors) < 2:
        raise _rustdl.ArgumentError(f"linalg.multi_dot: expected at least 2 tensors, got {len(tensors)}")
    for i, t in enumerate(tensors):
        ok = t.dim() in (1, 2) if i in (0, len(tensors) - 1) else t.dim() == 2
        if not ok:
            raise _rustdl.ArgumentError(
                f"linalg.multi_dot: tensor {i} must be 2-D (the first and last may be 1-D), got shape {tuple(t.shape)}"
            )
    out = tensors[0]
    for t in tensors[1:]:
        out = out.matmul(t)
    return out


def matmul(input, other):  # noqa: A002
    """Matrix product (as ``rustdl.matmul``)."""
    return input.matmul(other)
