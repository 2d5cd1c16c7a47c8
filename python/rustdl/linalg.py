"""``torch.linalg`` for rustdl.

Norms are composed from tensor ops (autograd and the GPU work as for any op). The
factorizations and solvers run their forward pass in numpy (float32 / float64; a GPU tensor is
copied to the CPU and the result back) and their backward pass in tensor ops, through
:class:`rustdl.autograd.Function`:

- gradients: ``inv``, ``det``, ``slogdet`` (of ``logabsdet``), ``solve``, ``cholesky``, ``eigh`` /
  ``eigvalsh`` (values and vectors; eigenvalues must be distinct for the vectors' gradient),
  ``svd`` (values and vectors; distinct singular values for the vectors) / ``svdvals``, ``qr``,
  ``pinv`` (through ``svd``-free formula for full-rank inputs), ``lstsq`` (through ``pinv``);
  ``solve_triangular`` / ``cholesky_solve`` (PyTorch's gradients: the triangle for the first,
  the whole factor for the second);
- no gradient: ``matrix_rank`` (integer result), ``ldl_factor`` / ``ldl_solve`` (none in
  PyTorch either).

As PyTorch's (LAPACK's): the ``_ex`` forms report ``info`` and keep LAPACK's partial results (a
Cholesky factor up to the failing minor, inf/NaN from a zero pivot of an LU), the others raise
:class:`LinAlgError` with PyTorch's messages, and every function PyTorch gives ``out=`` takes
it (see :func:`_with_out`, applied at the end of this module).
"""

from __future__ import annotations

import builtins
import functools
import inspect
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
        # PyTorch's NotImplementedError; a DTypeError is also the TypeError rustdl raised before
        raise _rustdl.DTypeError(
            f"linalg.{op}: Expected a floating point or complex tensor as input. Got {_dtype_name(A.dtype)}"
        )
    if A.dim() < min_dim:
        raise _rustdl.ArgumentError(
            f"linalg.{op}: The input tensor A must have at least {min_dim} dimensions."
        )
    if square and A.shape[-1] != A.shape[-2]:
        raise _rustdl.ArgumentError(
            f"linalg.{op}: A must be batches of square matrices, but they are {A.shape[-2]} by "
            f"{A.shape[-1]} matrices"
        )


def _np(t):
    # a dense copy for a view with gaps (.numpy() would share its memory with its strides)
    return t.detach().cpu().contiguous().numpy()


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


_DTYPE_NAMES = {  # PyTorch's names of a dtype: in "Expected out tensor to have dtype float", "of type Float"
    "float32": ("float", "Float"),
    "float64": ("double", "Double"),
    "float16": ("c10::Half", "Half"),
    "bfloat16": ("c10::BFloat16", "BFloat16"),
    "int64": ("long int", "Long"),
    "int32": ("int", "Int"),
    "int16": ("short int", "Short"),
    "int8": ("signed char", "Char"),
    "uint8": ("unsigned char", "Byte"),
    "bool": ("bool", "Bool"),
    "complex64": ("c10::complex<float>", "ComplexFloat"),
    "complex128": ("c10::complex<double>", "ComplexDouble"),
}


def _dtype_name(dtype, scalar_type=True):
    """``Float`` (``scalar_type``) or ``float`` (the C++ type) for float32, as PyTorch's messages."""
    key = str(dtype).rsplit(".", 1)[-1]
    names = _DTYPE_NAMES.get(key, (key, key))
    return names[1] if scalar_type else names[0]


def _same_dtype(msg, a, b):
    """PyTorch's dtype check of two operands: ``msg`` formatted with their type names."""
    if a.dtype != b.dtype:
        raise _rustdl.DTypeError(msg.format(_dtype_name(a.dtype), _dtype_name(b.dtype)))


def _raise_info(op, batched, info, message):
    """PyTorch's ``LinAlgError`` for the first matrix whose LAPACK ``info`` is positive (its
    flat batch index named when the input is batched): ``message(info)`` after ``op: ``."""
    flat = np.asarray(info).reshape(-1)
    bad = np.nonzero(flat > 0)[0]
    if bad.size:
        i = int(bad[0])
        prefix = f"(Batch element {i}): " if batched else ""
        raise LinAlgError(f"{op}: {prefix}{message(int(flat[i]))}")


def _info_tensor(info, like):
    """LAPACK's ``info`` as PyTorch returns it: an int32 tensor on ``like``'s device."""
    return _t(np.asarray(info, dtype=np.int32), like, _rustdl.int32)


def _run(op, fn, *arrays):
    try:
        with np.errstate(all="ignore"):
            return fn(*arrays)
    except np.linalg.LinAlgError as err:
        raise LinAlgError(f"linalg.{op}: {err}") from None


def _np_svd(a, full_matrices=True, compute_uv=True):
    """numpy's SVD, except that a matrix holding inf or NaN gives NaN factors, as PyTorch's
    (LAPACK can loop forever on an infinite entry)."""
    finite = np.isfinite(a).all(axis=(-2, -1))
    if finite.all():
        return np.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    out = np.linalg.svd(
        np.where(finite[..., None, None], a, 0), full_matrices=full_matrices, compute_uv=compute_uv
    )
    parts = out if compute_uv else (out,)
    bad = ~finite
    for p in parts:
        p[bad] = np.nan
    return out


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
    def forward(ctx, A, Y=None):
        # Y: the inverse already computed (with inf/NaN for a singular matrix, as PyTorch's
        # inv_ex); without it a singular matrix raises
        Y = _t(_run("inv", np.linalg.inv, _np(A)) if Y is None else Y, A)
        ctx.save_for_backward(Y)
        return Y

    @staticmethod
    def backward(ctx, g):
        (Y,) = ctx.saved_tensors
        Yt = _mT(Y)
        return -Yt.matmul(g).matmul(Yt), None


def _np_lu_solve(lu, piv, b):
    """LAPACK getrs on a batch (``(b, n, n)`` packed LU, 1-based ``piv``, ``(b, n, k)`` right
    sides): the row swaps, then forward and back substitution without skipping anything, so a
    zero pivot gives the infinities and NaNs that LAPACK's (and PyTorch's) give."""
    x = np.array(b, copy=True)
    n = lu.shape[-1]
    rows = np.arange(x.shape[0])
    for k in range(n):
        p = piv[:, k] - 1
        top = x[rows, k].copy()
        x[rows, k] = x[rows, p]
        x[rows, p] = top
    for i in range(n - 1):
        x[:, i + 1 :, :] -= lu[:, i + 1 :, i, None] * x[:, i, None, :]
    for i in reversed(range(n)):
        x[:, i, :] /= lu[:, i, i, None]
        x[:, :i, :] -= lu[:, :i, i, None] * x[:, i, None, :]
    return x


def _np_solve_ex(a, b):
    """``(X, info)`` for ``a X = b`` (same batch shape): numpy's LAPACK solve, and where a
    matrix is singular PyTorch's result, LU with partial pivoting and getrs (inf/NaN), with
    ``info`` the 1-based index of the first zero pivot."""
    batch = a.shape[:-2]
    info = np.zeros(batch, dtype=np.int64)
    with np.errstate(all="ignore"):
        try:
            return np.linalg.solve(a, b), info
        except np.linalg.LinAlgError:
            pass
        n, k = a.shape[-1], b.shape[-1]
        count = int(np.prod(batch, dtype=np.int64))
        fa, fb = a.reshape(count, n, n), b.reshape(count, n, k)
        out = np.empty(fb.shape, dtype=np.result_type(a.dtype, b.dtype))
        finfo = info.reshape(count)
        for i in range(count):
            try:
                out[i] = np.linalg.solve(fa[i], fb[i])
                continue
            except np.linalg.LinAlgError:
                pass
            # (numpy's LAPACK met an exact zero pivot; the info is that of this LU, whose
            # rounding may differ: then it is 0 and the solution finite, as PyTorch's can be)
            lu, piv, inf_ = _np_lu_raw(fa[i : i + 1], dtype=fa.dtype)
            finfo[i] = int(inf_[0])
            out[i] = _np_lu_solve(lu, piv, fb[i : i + 1].astype(lu.dtype))[0]
        return out.reshape(b.shape), finfo.reshape(batch)


def _np_inv_ex(a):
    """``(inverse, info)`` of a batch of square matrices, as PyTorch's ``inv_ex`` (``a X = I``
    solved as :func:`_np_solve_ex`)."""
    with np.errstate(all="ignore"):
        try:
            return np.linalg.inv(a), np.zeros(a.shape[:-2], dtype=np.int64)
        except np.linalg.LinAlgError:
            pass
    eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
    return _np_solve_ex(a, eye)


def _inv_parts(op, A):
    _check(op, A)
    Y, info = _np_inv_ex(_np(A))
    return _Inv.apply(A, Y), info


def _singular_message(k):
    return f"The diagonal element {k} is zero, the inversion could not be completed because the input matrix is singular."


def inv(A):
    """The inverse of square matrices (batched); a singular one raises :class:`LinAlgError`
    (PyTorch's message, naming the zero pivot)."""
    Y, info = _inv_parts("inv", A)
    _raise_info("linalg.inv", A.dim() > 2, info, _singular_message)
    return Y


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
            Ainv = _Inv.apply(A, None)
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
        # A⁻ᵀ; at a singular A the LU solve's infinities and NaNs, as PyTorch's gradient
        Y, _ = _np_inv_ex(_np(A))
        return g.unsqueeze(-1).unsqueeze(-1) * _mT(_Inv.apply(A, Y))


def slogdet(A):
    """``(sign, logabsdet)`` of square matrices; the gradient flows through ``logabsdet``."""
    _check("slogdet", A)
    sign, _ = _run("slogdet", np.linalg.slogdet, _np(A))
    return SlogdetResult(_t(np.asarray(sign), A), _Logabsdet.apply(A))


class _Solve(Function):
    @staticmethod
    def forward(ctx, A, B, X=None):
        # X: the solution already computed (inf/NaN for a singular A, as PyTorch's solve_ex)
        X = _t(_np_solve_ex(_np(A), _np(B))[0] if X is None else X, A)
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx, g):
        A, X = ctx.saved_tensors
        gB = _Solve.apply(_mT(A), g, None)  # differentiable, as gA through the saved solution X
        gA = -gB.matmul(_mT(X))
        return gA, gB, None


def _broadcast_batch(A, B):
    """``A`` and ``B`` (``(..., n, *)``) broadcast to their common batch shape (autograd sums
    the gradients back)."""
    batch = tuple(np.broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2])))
    A2 = A.broadcast_to((*batch, *A.shape[-2:])) if tuple(A.shape[:-2]) != batch else A
    B2 = B.broadcast_to((*batch, *B.shape[-2:])) if tuple(B.shape[:-2]) != batch else B
    return A2, B2


def _solve_parts(op, A, B, left):
    """``(X, info)`` of ``linalg.solve_ex``; ``X`` holds inf/NaN where ``A`` is singular."""
    _check(op, A)
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg.{op}: expected B to be a Tensor, got {type(B).__name__}")
    _same_dtype(
        f"linalg.{op}: Expected A and B to have the same dtype, but found A of type {{}} and B of type {{}} instead",
        A,
        B,
    )
    if not left:
        X, info = _solve_parts(op, _mT(A), _mT(B), True)
        return _mT(X), info
    vec = B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    Bm = B.unsqueeze(-1) if vec else B
    if Bm.dim() < 2 or Bm.shape[-2] != A.shape[-1]:
        raise _rustdl.ArgumentError(f"linalg.{op}: incompatible shapes {tuple(A.shape)} and {tuple(B.shape)}")
    A2, B2 = _broadcast_batch(A, Bm)
    x, info = _np_solve_ex(_np(A2), _np(B2))
    X = _Solve.apply(A2, B2, x)
    return (X.squeeze(-1) if vec else X), info


def solve(A, B, *, left=True):
    """``X`` with ``A @ X = B`` (``B`` a batch of vectors when it has one dim less than ``A``);
    a singular ``A`` raises :class:`LinAlgError` (PyTorch's message)."""
    X, info = _solve_parts("solve", A, B, left)
    _raise_info(
        "torch.linalg.solve",
        A.dim() > 2,
        info,
        lambda k: "The solver failed because the input matrix is singular.",
    )
    return X


def _np_trsm(t, b, lower, unit):
    """``X`` with ``T X = B`` for the triangle of ``t`` named by ``lower`` (``unit``: its
    diagonal taken as ones), batched and broadcast, in ``t``'s dtype: blocked substitution,
    reading only that triangle and skipping nothing, so a zero on the diagonal gives the
    infinities and NaNs that BLAS trsm (and PyTorch) give."""
    batch = np.broadcast_shapes(t.shape[:-2], b.shape[:-2])
    x = np.array(np.broadcast_to(b, batch + b.shape[-2:]), dtype=t.dtype, copy=True)
    n, nb = t.shape[-1], 64
    with np.errstate(all="ignore"):
        starts = range(0, n, nb) if lower else reversed(range(0, n, nb))
        for i0 in starts:
            i1 = builtins.min(i0 + nb, n)
            for i in range(i0, i1) if lower else reversed(range(i0, i1)):
                if not unit:
                    x[..., i, :] /= t[..., i, i, None]
                if lower and i + 1 < i1:
                    x[..., i + 1 : i1, :] -= t[..., i + 1 : i1, i, None] * x[..., i, None, :]
                elif not lower and i > i0:
                    x[..., i0:i, :] -= t[..., i0:i, i, None] * x[..., i, None, :]
            if lower and i1 < n:
                x[..., i1:, :] -= t[..., i1:, i0:i1] @ x[..., i0:i1, :]
            elif not lower and i0 > 0:
                x[..., :i0, :] -= t[..., :i0, i0:i1] @ x[..., i0:i1, :]
    return x


class _TriSolve(Function):
    """``X`` with ``A X = B`` for triangular ``A`` (only its ``upper``/lower triangle read, the
    diagonal too unless ``unit``); the gradient of ``A`` lies in that triangle, as PyTorch's."""

    @staticmethod
    def forward(ctx, A, B, upper, unit):
        X = _t(_np_trsm(_np(A), _np(B), not upper, unit), A)
        ctx.save_for_backward(A, X)
        ctx.upper, ctx.unit = upper, unit
        return X

    @staticmethod
    def backward(ctx, g):
        A, X = ctx.saved_tensors
        gB = _TriSolve.apply(_mT(A), g, not ctx.upper, ctx.unit)
        gA = -gB.matmul(_mT(X))
        off = 1 if ctx.unit else 0
        gA = gA.triu(off) if ctx.upper else gA.tril(-off)
        return gA, gB, None, None


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """``X`` with ``A @ X = B`` (``X @ A = B`` when ``left=False``) for triangular ``A``; only
    the triangle named by ``upper`` is read (and gets a gradient). ``B`` is cast to ``A``'s
    dtype, as PyTorch's (an integer ``B`` too); a zero on the diagonal gives inf/NaN."""
    _check("solve_triangular", A)
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg.solve_triangular: expected B to be a Tensor, got {type(B).__name__}")
    if B.dtype != A.dtype:
        B = B.to(A.dtype)
    if not left:
        return _mT(solve_triangular(_mT(A), _mT(B), upper=not upper, unitriangular=unitriangular))
    if B.dim() < 2:
        raise _rustdl.ArgumentError(
            "linalg.solve_triangular: The input tensor B must have at least 2 dimensions."
        )
    if B.shape[-2] != A.shape[-1]:
        raise _rustdl.ArgumentError(
            f"linalg.solve_triangular: incompatible shapes {tuple(A.shape)} and {tuple(B.shape)}"
        )
    A2, B2 = _broadcast_batch(A, B)
    return _TriSolve.apply(A2, B2, builtins.bool(upper), builtins.bool(unitriangular))


class _CholeskySolve(Function):
    """``X`` with ``A X = B``, ``A = L Lᵀ`` (``Lᵀ L`` with ``upper``), reading only ``L``'s
    triangle. The gradient of ``L`` is PyTorch's, that of ``L ↦ (L Lᵀ)⁻¹ B`` for the whole
    matrix (not restricted to the triangle): ``−(G + Gᵀ) L`` (``−L (G + Gᵀ)``) with
    ``G = gB Xᵀ``, ``gB = A⁻¹ g``."""

    @staticmethod
    def forward(ctx, B, L, upper):
        l, b = _np(L), _np(B)
        lt = np.swapaxes(l, -1, -2)
        if upper:  # Uᵀ Y = B, then U X = Y
            X = _np_trsm(l, _np_trsm(lt, b, True, False), False, False)
        else:  # L Y = B, then Lᵀ X = Y
            X = _np_trsm(lt, _np_trsm(l, b, True, False), False, False)
        X = _t(X, L)
        ctx.save_for_backward(L, X)
        ctx.upper = upper
        return X

    @staticmethod
    def backward(ctx, g):
        L, X = ctx.saved_tensors
        gB = _CholeskySolve.apply(g, L, ctx.upper)
        common = gB.matmul(_mT(X))
        common = common + _mT(common)
        gL = -L.matmul(common) if ctx.upper else -common.matmul(L)
        return gB, gL, None


def cholesky_solve(B, L, upper=False):
    """``X`` with ``(L Lᵀ) X = B`` given the Cholesky factor ``L`` (``upper``: ``Lᵀ L``), as
    ``torch.cholesky_solve``: only ``L``'s triangle is read, ``L``'s gradient is PyTorch's
    (unrestricted) one, and ``B`` must have ``L``'s dtype."""
    _need_tensors("cholesky_solve", B=B, L=L)
    _check("cholesky_solve", L)
    _same_dtype(
        "Expected b and A to have the same dtype, but found b of type {} and A of type {} instead.", B, L
    )
    if B.dim() < 2 or B.shape[-2] != L.shape[-1]:
        raise _rustdl.ArgumentError(
            f"cholesky_solve: incompatible shapes {tuple(B.shape)} and {tuple(L.shape)}"
        )
    L2, B2 = _broadcast_batch(L, B)
    return _CholeskySolve.apply(B2, L2, builtins.bool(upper))


def _cholesky_inverse(L, upper=False):
    """``(L Lᵀ)⁻¹`` from a Cholesky factor (``Lᵀ L`` with ``upper``), as
    ``torch.cholesky_inverse``: a zero on ``L``'s diagonal raises PyTorch's error; the gradient
    is PyTorch's (that of :func:`cholesky_solve` of the identity)."""
    _need_tensors("cholesky_inverse", L=L)
    _check("cholesky_inverse", L)
    d = np.diagonal(_np(L), axis1=-2, axis2=-1)
    zero = d == 0
    info = np.where(zero.any(-1), zero.argmax(-1) + 1, 0) if d.shape[-1] else np.zeros(d.shape[:-1])
    _raise_info("cholesky_inverse", L.dim() > 2, info, _singular_message)
    eye = _rustdl.eye(L.shape[-1], dtype=L.dtype, device=L.device)
    return cholesky_solve(eye.expand(*L.shape), L, upper)


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


def _np_lu_raw(a, dtype=np.float64):
    lu = np.array(a, dtype=dtype, copy=True)
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
    _same_dtype(
        "linalg.lu_solve: Expected LU and B to have the same dtype, but found LU of type {} and B of type {} instead",
        LU,
        B,
    )
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


def _np_potf2(m):
    """LAPACK's unblocked Cholesky (potf2, lower) of one matrix in its dtype: ``(factor, info)``.
    Where the leading minor of order ``info`` is not positive-definite (a NaN pivot included)
    the factor is LAPACK's partial one: the columns before it computed, the failing diagonal
    entry holding its updated value, the rest of the lower triangle as in ``m``."""
    m = np.tril(m)
    n = m.shape[-1]
    for j in range(n):
        ajj = m[j, j] - m[j, :j] @ m[j, :j]
        if not ajj > 0:
            m[j, j] = ajj
            return m, j + 1
        ajj = np.sqrt(ajj)
        m[j, j] = ajj
        if j + 1 < n:
            m[j + 1 :, j] = (m[j + 1 :, j] - m[j + 1 :, :j] @ m[j, :j]) / ajj
    return m, 0


def _np_cholesky_ex(a):
    """``(L, info)`` of a batch of matrices (only their lower triangle read), as PyTorch's
    ``cholesky_ex``: numpy's factor where it succeeds; where not (or where it has inf/NaN:
    LAPACK treats a NaN pivot as a failure) :func:`_np_potf2`'s partial factor and ``info``."""
    a = np.tril(a)
    n = a.shape[-1]
    batch = a.shape[:-2]
    count = int(np.prod(batch, dtype=np.int64))
    info = np.zeros(count, dtype=np.int64)
    if count == 0 or n == 0:
        return a, info.reshape(batch)
    with np.errstate(all="ignore"):
        try:
            L = np.linalg.cholesky(a)
            if np.isfinite(L).all():
                return L, info.reshape(batch)
        except np.linalg.LinAlgError:
            pass
        flat = a.reshape(count, n, n)
        out = np.empty_like(flat)
        for i in range(count):
            try:
                L = np.linalg.cholesky(flat[i])
                if np.isfinite(L).all():
                    out[i] = L
                    continue
            except np.linalg.LinAlgError:
                pass
            out[i], info[i] = _np_potf2(flat[i])
    return out.reshape(a.shape), info.reshape(batch)


class _Cholesky(Function):
    @staticmethod
    def forward(ctx, A, L):
        L = _t(L, A)
        ctx.save_for_backward(L)
        return L

    @staticmethod
    def backward(ctx, gL):
        (L,) = ctx.saved_tensors
        Linv = _Inv.apply(L, None)
        P = _phi(_mT(L).matmul(gL.tril()))
        S = _mT(Linv).matmul(P).matmul(Linv)
        return 0.5 * (S + _mT(S)), None


def _cholesky_parts(op, A, upper):
    """``(L, info)``: the factor (``Lᵀ`` with ``upper``, computed from ``A``'s upper triangle as
    PyTorch's) and LAPACK's ``info`` per matrix."""
    _check(op, A)
    src = _mT(A) if upper else A  # the upper factor of A is the transposed lower one of Aᵀ
    L, info = _np_cholesky_ex(_np(src))
    L = _Cholesky.apply(src, L)
    return (_mT(L) if upper else L), info


def _not_pd_message(k):
    return (
        "The factorization could not be completed because the input is not positive-definite "
        f"(the leading minor of order {k} is not positive-definite)."
    )


def cholesky(A, *, upper=False):
    """The lower Cholesky factor ``L`` (``A = L Lᵀ``) of symmetric positive-definite matrices
    (``upper=True``: ``Lᵀ``, from the upper triangle). Only one triangle of ``A`` is read; the
    gradient is symmetric. A matrix that is not positive-definite (or has a NaN pivot) raises
    :class:`LinAlgError` with PyTorch's message."""
    L, info = _cholesky_parts("cholesky", A, upper)
    _raise_info("linalg.cholesky", A.dim() > 2, info, _not_pd_message)
    return L


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
        U, S, Vh = _run("svd", lambda a: _np_svd(a, full_matrices=full_matrices), _np(A))
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
    return _t(_run("svdvals", lambda a: _np_svd(a, compute_uv=False), _np(A)), A)


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
        return QRResult(_t(np.zeros((0,)), A), _t(r, A))  # Q: PyTorch's placeholder, shape [0]
    Q, R = _Qr.apply(A, mode)
    return QRResult(Q, R)


def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None):
    """Moore-Penrose pseudo-inverse from numpy's SVD (singular values at most
    ``max(atol, rtol·σ_max)`` count as zero), of any rank. Differentiable: the gradient is the
    pseudo-inverse's derivative at constant rank, as PyTorch's,
    ``dP = −P dA P + P Pᵀ dAᵀ (I − A P) + (I − P A) dAᵀ Pᵀ P``."""
    _check("pinv", A, square=hermitian)
    if rcond is not None and rtol is None:
        rtol = rcond
    return _Pinv.apply(A, atol, rtol, hermitian)


def _lower_symmetric(A):
    """The symmetric matrix of ``A``'s lower triangle: what ``hermitian=True`` reads (as
    PyTorch's eigh-based paths, which ignore the upper triangle)."""
    low = A.tril()
    return low + _mT(A.tril(-1))


def _np_pinv(a, atol, rtol):
    if rtol is None:
        rtol = (builtins.max(a.shape[-2:]) * np.finfo(a.dtype).eps) if atol is None or atol == 0 else 0.0
    if atol is None:
        atol = 0.0
    u, s, vh = _run("pinv", lambda x: _np_svd(x, full_matrices=False), a)
    smax = s.max(axis=-1, keepdims=True) if s.size else s
    cutoff = np.maximum(atol, rtol * smax) if s.size else s
    sinv = np.where(s > cutoff, 1.0 / np.where(s > cutoff, s, 1), 0)
    return np.swapaxes(vh, -1, -2) @ (sinv[..., :, None] * np.swapaxes(u, -1, -2))


class _Pinv(Function):
    """The pseudo-inverse ``P`` of ``A``; the backward is the adjoint of ``dP`` (see
    :func:`pinv`), ``gA = −Pᵀ G Pᵀ + (I − A P) Gᵀ P Pᵀ + Pᵀ P Gᵀ (I − P A)``, in differentiable
    ops of the saved ``A`` and ``P`` (so it can be differentiated again)."""

    @staticmethod
    def forward(ctx, A, atol, rtol, hermitian=False):
        # hermitian: the pseudo-inverse of the lower triangle's symmetric matrix; the backward
        # formula still takes A itself, as PyTorch's
        a = _np(_lower_symmetric(A) if hermitian else A)
        P = _t(_np_pinv(a, atol, rtol), A)
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
        return gA, None, None, None


def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None):
    """The numerical rank (an int64 tensor)."""
    _check("matrix_rank", A, square=hermitian)
    a = _np(_lower_symmetric(A) if hermitian else A)
    s = _run("matrix_rank", lambda x: _np_svd(x, compute_uv=False), a)
    if tol is not None:
        atol, rtol = tol, 0.0
    if rtol is None:
        rtol = (builtins.max(a.shape[-2:]) * np.finfo(a.dtype).eps) if atol is None or atol == 0 else 0.0
    if atol is None:
        atol = 0.0
    smax = s.max(axis=-1, keepdims=True) if s.size else np.zeros(s.shape[:-1] + (1,))
    rank = (s > np.maximum(atol, rtol * smax)).sum(axis=-1).astype(np.int64)
    return _t(np.asarray(rank), A, dtype=_rustdl.int64)


_LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def lstsq(A, B, rcond=None, *, driver=None):
    """Least-squares solution of ``A X = B`` (``B`` a batch of vectors when it has one dim less
    than ``A``), as ``torch.linalg.lstsq`` on the CPU: ``(solution, residuals, rank,
    singular_values)``, filled as the LAPACK ``driver`` (default 'gelsy') fills them: ``rank``
    for all but 'gels', ``singular_values`` for 'gelsd'/'gelss', ``residuals`` (squared
    residual norms, per column of ``B``) for all but 'gelsy' when ``m > n`` and every matrix
    has full rank; the others empty. The rank counts the singular values above
    ``rcond·σ_max`` (``rcond`` default: eps · max(m, n)), for 'gelsy' too (whose LAPACK rank
    comes from a pivoted QR and can differ in borderline cases). Differentiable through
    ``pinv`` for full-rank ``A``; 'gels' refuses a rank-deficient ``A``."""
    _check("lstsq", A, square=False)
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg.lstsq: expected B to be a Tensor, got {type(B).__name__}")
    _same_dtype(
        "torch.linalg.lstsq: Expected input and other to have the same dtype, but got input's dtype {} "
        "and other's dtype {}",
        A,
        B,
    )
    driver = "gelsy" if driver is None else driver
    if driver not in _LSTSQ_DRIVERS:
        raise _rustdl.ArgumentError(
            "torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)"
        )
    vec = B.dim() == A.dim() - 1
    Bm = B.unsqueeze(-1) if vec else B
    if Bm.shape[-2] != A.shape[-2]:
        raise _rustdl.ArgumentError(
            f"linalg.lstsq: incompatible shapes {tuple(A.shape)} and {tuple(B.shape)}"
        )
    m, n = A.shape[-2], A.shape[-1]
    a = _np(A)
    sv = _run("lstsq", lambda x: _np_svd(x, compute_uv=False), a)
    cut = (np.finfo(a.dtype).eps * builtins.max(m, n)) if rcond is None else rcond
    smax = sv.max(axis=-1, keepdims=True) if sv.shape[-1] else np.zeros(sv.shape[:-1] + (1,))
    rank = (sv > cut * smax).sum(axis=-1).astype(np.int64)
    full = builtins.bool((rank == builtins.min(m, n)).all())
    if driver == "gels":
        _raise_info(
            "torch.linalg.lstsq",
            A.dim() > 2,
            np.where(rank < builtins.min(m, n), rank + 1, 0),
            lambda k: (
                "The least squares solution could not be computed because the input matrix does "
                f"not have full rank (error code: {k})."
            ),
        )
    X = pinv(A, rtol=cut).matmul(Bm)
    empty = _rustdl.zeros(0, dtype=A.dtype, device=A.device)
    residuals = empty
    if driver != "gelsy" and m > n and full:
        r = A.matmul(X) - Bm
        residuals = (r * r).sum(-2)
    ranks = _rustdl.zeros(0, dtype=_rustdl.int64, device=A.device)
    if driver != "gels":
        ranks = _t(rank, A, _rustdl.int64)
    svals = _t(sv, A) if driver in ("gelsd", "gelss") else empty
    if vec:
        X = X.squeeze(-1)
    return LstsqResult(X, residuals, ranks, svals)


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


class _UndefinedGrad(Function):
    """``value`` as a result of ``x`` with no gradient (an undefined one, as PyTorch's for the
    0-"norm", a count): it requires grad when ``x`` does; ``x.grad`` stays None."""

    @staticmethod
    def forward(ctx, x, value):
        return value

    @staticmethod
    def backward(ctx, g):
        return None, None


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """The vector ``ord``-norm over ``dim`` (all elements when None); ``ord`` any real or
    ±inf. The gradient at 0 is 0; the 0-"norm" (a count of nonzeros) requires grad when ``x``
    does, with no gradient, as PyTorch's."""
    out = _vector_norm(x, ord, dim, keepdim, dtype)
    if ord == 0 and isinstance(x, Tensor) and x.requires_grad and _rustdl.is_grad_enabled():
        return _UndefinedGrad.apply(x, out.detach())
    return out


def _vector_norm(x, ord, dim, keepdim, dtype):  # noqa: A002
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
            # no singular value: the norm is 0, a constant (no gradient), as PyTorch's
            out = s.amax(-1) if s.shape[-1] else s.detach().sum(-1)
        else:
            if not s.shape[-1]:
                raise IndexError("amin(): Expected reduction dim -1 to have non-zero size.")
            out = s.amin(-1)
        if keepdim:
            for d in sorted((r, c)):
                out = out.unsqueeze(d)
        return out
    if ord in (1, -1, math.inf, -math.inf):
        sum_dim, red_dim = (r, c) if ord in (1, -1) else (c, r)
        s = A.abs().sum(sum_dim, keepdim=True)
        if ord < 0:
            if not s.shape[red_dim]:
                raise IndexError(f"amin(): Expected reduction dim {red_dim} to have non-zero size.")
            out = s.amin(red_dim, keepdim=True)
        else:  # sums are >= 0: the max over no row or column is 0, a constant as in PyTorch
            out = s.amax(red_dim, keepdim=True) if s.shape[red_dim] else s.detach().sum(red_dim, keepdim=True)
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
    """``(inverse, info)`` as ``torch.linalg.inv_ex``: ``info`` is 0 where the matrix was
    inverted, else the 1-based index of the zero pivot of its LU, and its "inverse" is then
    PyTorch's (LAPACK's solve of ``A X = I``, with inf/NaN); ``check_errors`` raises instead."""
    Y, info = _inv_parts("inv_ex", A)
    if check_errors:
        _raise_info("linalg.inv_ex", A.dim() > 2, info, _singular_message)
    return InvExResult(Y, _info_tensor(info, A))


def cholesky_ex(A, *, upper=False, check_errors=False):
    """``(L, info)`` as ``torch.linalg.cholesky_ex``: per matrix 0, or the order of the first
    leading minor that is not positive-definite (a NaN pivot counts), whose factor is then
    LAPACK's partial one; ``check_errors`` raises instead."""
    L, info = _cholesky_parts("cholesky_ex", A, upper)
    if check_errors:
        _raise_info("linalg.cholesky_ex", A.dim() > 2, info, _not_pd_message)
    return CholeskyExResult(L, _info_tensor(info, A))


def solve_ex(A, B, *, left=True, check_errors=False):
    """``(X, info)`` as ``torch.linalg.solve_ex``: per matrix 0, or LAPACK's index of the first
    zero pivot of a singular ``A``, whose solution is then PyTorch's (with inf/NaN);
    ``check_errors`` raises instead."""
    X, info = _solve_parts("solve_ex", A, B, left)
    if check_errors:
        _raise_info(
            "torch.linalg.solve_ex",
            A.dim() > 2,
            info,
            lambda k: "The solver failed because the input matrix is singular.",
        )
    return SolveExResult(X, _info_tensor(info, A))


def cond(A, p=None):
    """The condition number ``‖A‖_p ‖A⁻¹‖_p``, as ``torch.linalg.cond``: for ``p`` None or 2
    (and -2) the ratio of the largest to the smallest singular value (inverted for -2), which
    also takes non-square matrices; for ``'fro'``, ``'nuc'``, ±1 and ±inf the norms of ``A`` and
    its inverse. Differentiable."""
    _check("cond", A, square=p not in (None, 2, -2))
    if A.shape[-1] == 0 or A.shape[-2] == 0:  # empty matrices: 0, as PyTorch
        return _rustdl.zeros(*A.shape[:-2], dtype=A.dtype, device=A.device)
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
        return _Constant.apply(eye.expand(*A.shape), True, A)
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
    q = _rustdl.eye(m, dtype=A.dtype, device=A.device).expand(*A.shape[:-2], m, m)
    if k == 0:
        return _Constant.apply(q[..., :, :n], False, A, tau)
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


# ---------------------------------------------------------------- LDLᵀ (Bunch-Kaufman)

LDLFactorResult = structseq("linalg_ldl_factor", ["LD", "pivots"])
LDLFactorExResult = structseq("linalg_ldl_factor_ex", ["LD", "pivots", "info"])
_BK_ALPHA = (1.0 + math.sqrt(17.0)) / 8.0


def _np_sytf2(a):
    """LAPACK's sytf2 (lower) of one symmetric matrix (only its lower triangle read), in its
    dtype: ``(LD, pivots, info)`` in LAPACK's compact form, the Bunch-Kaufman diagonal pivoting
    of ``A = P L D Lᵀ Pᵀ`` (``D`` with 1×1 and 2×2 blocks; a pivot ``k`` > 0 a 1×1 block with
    rows ``k`` swapped in, a pair of equal negative pivots a 2×2 block), ``info`` the first
    exactly zero diagonal block (the factorization is completed anyway)."""
    A = np.tril(a).astype(a.dtype, copy=True)
    n = A.shape[-1]
    ipiv = np.zeros(n, dtype=np.int64)
    info = 0
    k = 0
    while k < n:
        kstep = 1
        absakk = abs(A[k, k])
        if k + 1 < n:
            imax = k + 1 + int(np.argmax(np.abs(A[k + 1 :, k])))
            colmax = abs(A[imax, k])
        else:
            imax, colmax = k, 0.0
        if builtins.max(absakk, colmax) == 0 or np.isnan(absakk):
            info = info or k + 1
            kp = k
        else:
            if absakk >= _BK_ALPHA * colmax:
                kp = k
            else:
                row = np.abs(A[imax, k:imax])  # row imax left of the diagonal
                rowmax = row.max()
                if imax + 1 < n:
                    rowmax = builtins.max(rowmax, np.abs(A[imax + 1 :, imax]).max())
                if absakk >= _BK_ALPHA * colmax * (colmax / rowmax):
                    kp = k
                elif abs(A[imax, imax]) >= _BK_ALPHA * rowmax:
                    kp = imax
                else:
                    kp, kstep = imax, 2
            kk = k + kstep - 1
            if kp != kk:  # swap rows and columns kk and kp of the trailing lower triangle
                if kp + 1 < n:
                    A[kp + 1 :, [kk, kp]] = A[kp + 1 :, [kp, kk]]
                mid = A[kk + 1 : kp, kk].copy()
                A[kk + 1 : kp, kk] = A[kp, kk + 1 : kp]
                A[kp, kk + 1 : kp] = mid
                A[kk, kk], A[kp, kp] = A[kp, kp], A[kk, kk]
                if kstep == 2:
                    A[k + 1, k], A[kp, k] = A[kp, k], A[k + 1, k]
            if kstep == 1:
                if k + 1 < n:
                    d11 = 1.0 / A[k, k]
                    x = A[k + 1 :, k].copy()
                    A[k + 1 :, k + 1 :] -= np.tril(d11 * np.outer(x, x))
                    A[k + 1 :, k] = x * d11
            elif k + 2 < n:
                d21 = A[k + 1, k]
                d11 = A[k + 1, k + 1] / d21
                d22 = A[k, k] / d21
                t = 1.0 / (d11 * d22 - 1.0)
                d21 = t / d21
                ck, ck1 = A[k + 2 :, k].copy(), A[k + 2 :, k + 1].copy()
                wk = d21 * (d11 * ck - ck1)
                wkp1 = d21 * (d22 * ck1 - ck)
                A[k + 2 :, k + 2 :] -= np.tril(np.outer(ck, wk) + np.outer(ck1, wkp1))
                A[k + 2 :, k] = wk
                A[k + 2 :, k + 1] = wkp1
        if kstep == 1:
            ipiv[k] = kp + 1
        else:
            ipiv[k] = ipiv[k + 1] = -(kp + 1)
        k += kstep
    return A, ipiv, info


def _np_sytrs(ld, ipiv, b):
    """LAPACK's sytrs (lower): ``X`` with ``A X = B`` from :func:`_np_sytf2`'s factors."""
    x = np.array(b, copy=True)
    n = ld.shape[-1]
    k = 0
    while k < n:  # P L D y = b
        if ipiv[k] > 0:
            kp = ipiv[k] - 1
            x[[k, kp]] = x[[kp, k]]
            x[k + 1 :] -= np.outer(ld[k + 1 :, k], x[k])
            x[k] /= ld[k, k]
            k += 1
        else:
            kp = -ipiv[k] - 1
            x[[k + 1, kp]] = x[[kp, k + 1]]
            x[k + 2 :] -= np.outer(ld[k + 2 :, k], x[k]) + np.outer(ld[k + 2 :, k + 1], x[k + 1])
            akm1k = ld[k + 1, k]
            akm1, ak = ld[k, k] / akm1k, ld[k + 1, k + 1] / akm1k
            denom = akm1 * ak - 1.0
            bkm1, bk = x[k] / akm1k, x[k + 1] / akm1k
            x[k], x[k + 1] = (ak * bkm1 - bk) / denom, (akm1 * bk - bkm1) / denom
            k += 2
    k = n - 1
    while k >= 0:  # Lᵀ Pᵀ x = y
        if ipiv[k] > 0:
            x[k] -= ld[k + 1 :, k] @ x[k + 1 :]
            kp = ipiv[k] - 1
            x[[k, kp]] = x[[kp, k]]
            k -= 1
        else:
            x[k] -= ld[k + 1 :, k] @ x[k + 1 :]
            x[k - 1] -= ld[k + 1 :, k - 1] @ x[k + 1 :]
            kp = -ipiv[k] - 1
            x[[k, kp]] = x[[kp, k]]
            k -= 2
    return x


class _Constant(Function):
    """A result that does not depend on the inputs' values (``matrix_power(A, 0)``, a product of
    no reflections): it still requires grad when they do, as PyTorch's, with zero gradients."""

    @staticmethod
    def forward(ctx, value, zero_grads, *inputs):
        ctx.shapes = [(tuple(t.shape), t.dtype, t.device) for t in inputs]
        ctx.zero_grads = zero_grads  # zeros, or no gradient at all (None), as PyTorch gives each
        return value.clone()

    @staticmethod
    def backward(ctx, g):
        if not ctx.zero_grads:
            return (None, None, *(None for _ in ctx.shapes))
        return (None, None, *(_rustdl.zeros(*s, dtype=d, device=dev) for s, d, dev in ctx.shapes))


class _NoDerivative(Function):
    """The results of an op PyTorch has no derivative for: they require grad as PyTorch's
    do, and a backward through them raises as PyTorch's."""

    @staticmethod
    def forward(ctx, A, value, name):
        ctx.name = name
        return value

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(f"derivative for aten::{ctx.name} is not implemented")


def _batch_apply(a, fn):
    """``fn`` on each matrix of the batch ``a``: the list of its results."""
    count = int(np.prod(a.shape[:-2], dtype=np.int64))
    flat = a.reshape(count, *a.shape[-2:])
    with np.errstate(all="ignore"):
        return [fn(flat[i]) for i in range(count)]


def ldl_factor_ex(A, *, hermitian=False, check_errors=False):
    """``(LD, pivots, info)`` as ``torch.linalg.ldl_factor_ex``: the Bunch-Kaufman ``LDLᵀ``
    factorization of symmetric matrices (only the lower triangle read) in LAPACK's compact form
    (sytrf): ``L``'s multipliers below the diagonal of ``LD``, ``D``'s 1×1 and 2×2 blocks on
    and below it, int32 1-based ``pivots`` (a pair of equal negative ones: a 2×2 block); ``info``
    the first zero diagonal block (1-based), else 0. ``hermitian`` is the same for real input."""
    _check("ldl_factor_ex", A)
    a = _np(A)
    parts = _batch_apply(a, _np_sytf2)
    batch = a.shape[:-2]
    n = a.shape[-1]
    ld = np.stack([p[0] for p in parts]).reshape(a.shape) if parts else a.copy()
    piv = np.stack([p[1] for p in parts]).reshape(*batch, n) if parts else np.zeros((*batch, n), np.int64)
    info = np.array([p[2] for p in parts], dtype=np.int64).reshape(batch)
    if check_errors:
        _raise_info(
            "torch.linalg.ldl_factor_ex",
            A.dim() > 2,
            info,
            lambda k: f"The factorization could not be completed because the D[{k}, {k}] block is zero.",
        )
    LD = _t(ld, A)
    if A.requires_grad and _rustdl.is_grad_enabled():
        LD = _NoDerivative.apply(A, LD, "linalg_ldl_factor_ex")
    return LDLFactorExResult(LD, _info_tensor(piv, A), _info_tensor(info, A))


def ldl_factor(A, *, hermitian=False):
    """``(LD, pivots)`` of :func:`ldl_factor_ex`; a zero diagonal block raises
    :class:`LinAlgError` (PyTorch reaches an internal assert there)."""
    LD, piv, info = ldl_factor_ex(A, hermitian=hermitian)
    _raise_info(
        "torch.linalg.ldl_factor",
        A.dim() > 2,
        info.cpu().numpy(),
        lambda k: f"The factorization could not be completed because the D[{k}, {k}] block is zero.",
    )
    return LDLFactorResult(LD, piv)


def ldl_solve(LD, pivots, B, *, hermitian=False):
    """``X`` with ``A X = B`` from :func:`ldl_factor`'s ``(LD, pivots)`` (LAPACK's sytrs), as
    ``torch.linalg.ldl_solve``: ``B`` a (batch of) matrices of ``LD``'s dtype; no gradient
    (PyTorch has none)."""
    _need_tensors("linalg.ldl_solve", LD=LD, pivots=pivots, B=B)
    _check("ldl_solve", LD)
    if B.dim() < 2:
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got -2)")
    _same_dtype(
        "Expected b and A to have the same dtype, but found b of type {} and A of type {} instead.", B, LD
    )
    if pivots.is_floating_point() or tuple(pivots.shape) != tuple(LD.shape[:-1]):
        raise _rustdl.ArgumentError(
            f"linalg.ldl_solve: expected integer pivots of shape {tuple(LD.shape[:-1])}, got {tuple(pivots.shape)}"
        )
    if B.shape[-2] != LD.shape[-1]:
        raise _rustdl.ArgumentError(
            f"linalg.ldl_solve: incompatible shapes {tuple(LD.shape)} and {tuple(B.shape)}"
        )
    batch = tuple(np.broadcast_shapes(tuple(LD.shape[:-2]), tuple(B.shape[:-2])))
    n, k = LD.shape[-1], B.shape[-1]
    ld = np.broadcast_to(_np(LD), (*batch, n, n)).reshape(-1, n, n)
    pv = np.broadcast_to(pivots.detach().cpu().numpy().astype(np.int64), (*batch, n)).reshape(-1, n)
    b = np.broadcast_to(_np(B), (*batch, n, k)).reshape(-1, n, k)
    with np.errstate(all="ignore"):
        x = np.stack([_np_sytrs(ld[i], pv[i], b[i]) for i in range(ld.shape[0])]) if ld.shape[0] else b.copy()
    X = _t(x.reshape(*batch, n, k), LD)
    if (LD.requires_grad or B.requires_grad) and _rustdl.is_grad_enabled():
        X = _NoDerivative.apply(B, X, "linalg_ldl_solve")
    return X


# ---------------------------------------------------------------- LOBPCG


def _np_b_orthonormal(S, B):
    """A ``B``-orthonormal basis (``B`` None: the identity) of the span of ``S``'s columns,
    near-dependent directions dropped (twice, for accuracy)."""
    for _ in range(2):
        BS = S if B is None else B @ S
        G = S.T @ BS
        w, V = np.linalg.eigh((G + G.T) / 2)
        keep = w > (w[-1] if w.size else 0.0) * 1e-13
        S = S @ (V[:, keep] / np.sqrt(w[keep]))
    return S


def _np_lobpcg(A, B, iK, X, k, largest, tol, niter):
    """LOBPCG (Knyazev) for the ``k`` extremal eigenpairs of ``A x = λ B x``, iterating on
    ``X``'s columns (``n ≥ k``) with the preconditioner ``iK``: Rayleigh-Ritz on the span of
    ``X``, the preconditioned residuals ``W`` and the previous directions ``P`` until every
    one of the first ``k`` relative residuals ``‖A x − λ B x‖ / ((‖A‖ + |λ| ‖B‖) ‖x‖)`` is
    below ``tol`` (or ``niter`` iterations). Returns the ``n`` Ritz values and vectors."""
    n = X.shape[1]

    def ritz(S):
        T = S.T @ A @ S
        w, C = np.linalg.eigh((T + T.T) / 2)
        order = np.argsort(-w, kind="stable") if largest else np.argsort(w, kind="stable")
        return w[order][:n], S @ C[:, order][:, :n]

    bnorm = 1.0 if B is None else np.linalg.norm(B, 2)
    lam, X = ritz(_np_b_orthonormal(X, B))
    P = None
    limit = niter if niter is not None and niter >= 0 else 10000
    anorm = builtins.max(np.abs(lam).max(), np.finfo(np.float64).tiny)
    for it in range(limit + 1):
        BX = X if B is None else B @ X
        R = A @ X - BX * lam
        anorm = builtins.max(anorm, np.abs(lam).max())
        rerr = np.linalg.norm(R, axis=0) / ((anorm + np.abs(lam) * bnorm) * np.linalg.norm(X, axis=0))
        if (rerr[:k] < tol).all() or it == limit:
            break
        W = R if iK is None else iK @ R
        S = _np_b_orthonormal(np.hstack([X, W] if P is None else [X, W, P]), B)
        lam, Xn = ritz(S)
        P = Xn - X @ (X.T @ (Xn if B is None else B @ Xn))  # the new directions outside span(X)
        X = Xn
    return lam, X


def _lobpcg(
    A,
    k=None,
    B=None,
    X=None,
    n=None,
    iK=None,
    niter=None,
    tol=None,
    largest=None,
    method=None,
    tracker=None,
    ortho_iparams=None,
    ortho_fparams=None,
    ortho_bparams=None,
):
    """``torch.lobpcg``: the ``k`` largest (``largest=False``: smallest) eigenvalues ``E`` of
    the symmetric positive-definite problem ``A x = λ B x`` (``B`` default the identity) and
    their ``B``-orthonormal eigenvectors ``X`` (``(*, m, k)``), by LOBPCG from ``X`` (default
    ``n`` (= ``k``) random columns from the global generator), to the relative residual
    ``tol`` (default ``sqrt(eps)`` of the dtype). ``E`` is differentiable in ``A`` (the
    eigenvalues' derivative ``x xᵀ``); ``X``'s gradient is not implemented."""
    _check("lobpcg", A)
    m = A.shape[-1]
    if X is not None:
        _need_tensors("lobpcg", X=X)
        n = X.shape[-1] if n is None else n
        k = X.shape[-1] if k is None else k
    k = 1 if k is None else k
    n = k if n is None else n
    if m < 3 * n:
        raise ValueError(
            f"LOBPCG algorithm is not applicable when the number of A rows (={m}) is smaller than 3 x the "
            f"number of requested eigenpairs (={n})"
        )
    if k > n:
        raise ValueError(f"lobpcg: k (={k}) must not exceed n (={n})")
    largest = True if largest is None else builtins.bool(largest)
    tol = (
        float(np.finfo(np.float32 if A.dtype == _rustdl.float32 else np.float64).eps) ** 0.5
        if tol is None
        else tol
    )
    batch = tuple(A.shape[:-2])
    if X is None:
        X = _rustdl.randn(*batch, m, n, dtype=A.dtype)
    a = _np(A).astype(np.float64).reshape(-1, m, m)
    x0 = np.broadcast_to(_np(X).astype(np.float64), (*batch, m, X.shape[-1])).reshape(a.shape[0], m, -1)
    b = None if B is None else np.broadcast_to(_np(B).astype(np.float64), (*batch, m, m)).reshape(-1, m, m)
    ik = None if iK is None else np.broadcast_to(_np(iK).astype(np.float64), (*batch, m, m)).reshape(-1, m, m)
    vecs = []
    with np.errstate(all="ignore"):
        for i in range(a.shape[0]):
            xi = x0[i][:, :n] if x0.shape[-1] >= n else np.hstack([x0[i], np.ones((m, n - x0.shape[-1]))])
            _, v = _np_lobpcg(
                a[i], None if b is None else b[i], None if ik is None else ik[i], xi, k, largest, tol, niter
            )
            vecs.append(v[:, :k])
    V = _t(np.stack(vecs).reshape(*batch, m, k) if vecs else np.zeros((*batch, m, k)), A)
    # the Ritz values as differentiable functions of A: xᵀ A x for the B-normalized x
    E = (V * A.matmul(V)).sum(-2)
    if A.requires_grad and _rustdl.is_grad_enabled():
        V = _NoDerivative.apply(A, V, "lobpcg (eigenvectors, in rustdl)")
    return E, V


# ---------------------------------------------------------------- out=


_OUT_RESULT_TYPES: dict = {}


def _out_result_type(cls):
    """PyTorch's ``<name>_out`` result type of a named result (``linalg_eigh_out``)."""
    if cls not in _OUT_RESULT_TYPES:
        _OUT_RESULT_TYPES[cls] = structseq(f"{cls.__name__}_out", list(cls._fields))
    return _OUT_RESULT_TYPES[cls]


def _any_requires_grad(values):
    for v in values:
        if isinstance(v, (list, tuple)):
            if _any_requires_grad(v):
                return True
        elif (isinstance(v, Tensor) or _is_complex(v)) and v.requires_grad:
            return True
    return False


def _write_out(o, r, cast):
    """``r`` written into the ``out=`` tensor ``o`` (resized as PyTorch resizes it); ``o``."""
    if _is_complex(r) or _is_complex(o):
        if not (_is_complex(r) and _is_complex(o)):
            raise _rustdl.DTypeError(
                f"Expected out tensor to have dtype {_dtype_name(r.dtype, False)}, but got "
                f"{_dtype_name(o.dtype, False)} instead"
            )
        _write_out(o._re, r._re, True)
        _write_out(o._im, r._im, True)
        return o
    if not isinstance(o, Tensor):
        raise TypeError(f"argument 'out' must be Tensor, not {type(o).__name__}")
    if o.device != r.device:
        raise RuntimeError(f"Expected out tensor to have device {r.device}, but got {o.device} instead")
    if not cast and o.dtype != r.dtype:
        raise RuntimeError(
            f"Expected out tensor to have dtype {_dtype_name(r.dtype, False)}, but got "
            f"{_dtype_name(o.dtype, False)} instead"
        )
    import rustdl

    return rustdl._into(o, r)


def _with_out(fn, name, nout=1, cast=False):
    """``fn`` also taking PyTorch's ``out=``: None, or a tensor (``nout`` > 1: a tuple of
    tensors) that the result is written into, resized as needed, and returned (a named result
    as PyTorch's ``<name>_out`` type holding the ``out`` tensors). As PyTorch: ``out``'s dtype
    must be the result's (``cast``: one it can be cast to), and no argument may require grad
    while grad mode is on."""

    @functools.wraps(fn)
    def wrapper(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        if nout == 1 and not (isinstance(out, Tensor) or _is_complex(out)):
            raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
        if nout > 1:
            if not isinstance(out, (tuple, list)):
                raise TypeError(
                    f"{name}(): argument 'out' must be tuple of Tensors, not {type(out).__name__}"
                )
            if len(out) != nout:
                raise TypeError(f"expected tuple of {nout} elements but got {len(out)}")
        if _rustdl.is_grad_enabled() and _any_requires_grad((*args, *kwargs.values(), out)):
            raise RuntimeError(
                f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                "but one of the arguments requires grad."
            )
        res = fn(*args, **kwargs)
        if nout == 1:
            return _write_out(out, res, cast)
        written = [_write_out(o, r, cast) for o, r in zip(out, res)]
        return _out_result_type(type(res))(*written) if hasattr(res, "_fields") else tuple(written)

    wrapper.__signature__ = inspect.Signature(
        [
            *inspect.signature(fn).parameters.values(),
            inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None),
        ]
    )
    return wrapper


# the functions of torch.linalg that take out= in PyTorch: (aten name, outputs, whether out may
# have another dtype the result casts to, as PyTorch's composite functions allow)
_OUT_FUNCTIONS = {
    "cholesky": ("linalg_cholesky", 1, False),
    "cholesky_ex": ("linalg_cholesky_ex", 2, False),
    "cond": ("linalg_cond", 1, True),
    "cross": ("linalg_cross", 1, False),
    "det": ("linalg_det", 1, False),
    "eig": ("linalg_eig", 2, True),
    "eigh": ("linalg_eigh", 2, False),
    "eigvals": ("linalg_eigvals", 1, True),
    "eigvalsh": ("linalg_eigvalsh", 1, False),
    "householder_product": ("linalg_householder_product", 1, True),
    "inv": ("linalg_inv", 1, False),
    "inv_ex": ("linalg_inv_ex", 2, False),
    "ldl_factor": ("linalg_ldl_factor", 2, False),
    "ldl_factor_ex": ("linalg_ldl_factor_ex", 3, False),
    "ldl_solve": ("linalg_ldl_solve", 1, False),
    "lstsq": ("linalg_lstsq", 4, True),
    "lu": ("linalg_lu", 3, False),
    "lu_factor": ("linalg_lu_factor", 2, False),
    "lu_factor_ex": ("linalg_lu_factor_ex", 3, False),
    "lu_solve": ("linalg_lu_solve", 1, False),
    "matmul": ("linalg_matmul", 1, False),
    "matrix_norm": ("linalg_matrix_norm", 1, False),
    "matrix_power": ("linalg_matrix_power", 1, False),
    "matrix_rank": ("linalg_matrix_rank", 1, True),
    "multi_dot": ("linalg_multi_dot", 1, False),
    "norm": ("linalg_norm", 1, False),
    "pinv": ("linalg_pinv", 1, True),
    "qr": ("linalg_qr", 2, False),
    "slogdet": ("linalg_slogdet", 2, False),
    "solve": ("linalg_solve", 1, False),
    "solve_ex": ("linalg_solve_ex", 2, False),
    "solve_triangular": ("linalg_solve_triangular", 1, False),
    "svd": ("linalg_svd", 3, False),
    "svdvals": ("linalg_svdvals", 1, False),
    "tensorinv": ("linalg_tensorinv", 1, True),
    "tensorsolve": ("linalg_tensorsolve", 1, True),
    "vecdot": ("linalg_vecdot", 1, False),
    "vector_norm": ("linalg_vector_norm", 1, False),
}

for _name, (_aten, _nout, _cast) in _OUT_FUNCTIONS.items():
    if _name in globals():
        globals()[_name] = _with_out(globals()[_name], _aten, _nout, _cast)
del _name, _aten, _nout, _cast


# ---------------------------------------------------------------- torch-level functions

_TorchSlogdetResult = structseq("slogdet", ["sign", "logabsdet"])


def _torch_inverse(input):  # noqa: A002
    """``torch.inverse``: :func:`inv`."""
    return inv(input)


def _torch_slogdet(input):  # noqa: A002
    """``torch.slogdet``: :func:`slogdet` as ``torch.return_types.slogdet``."""
    return _TorchSlogdetResult(*slogdet(input))


def _torch_triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):  # noqa: N803
    """The deprecated ``torch.triangular_solve``: ``(X, A.clone())`` with ``A X = b`` (``Aᵀ X =
    b`` with ``transpose``); ``b`` must have ``A``'s dtype."""
    _need_tensors("triangular_solve", b=b, A=A)
    _same_dtype(
        "Expected b and A to have the same dtype, but found b of type {} and A of type {} instead.", b, A
    )
    T = _mT(A) if transpose else A
    X = solve_triangular(T, b, upper=upper != transpose, unitriangular=unitriangular)
    return _TriangularSolveResult(X, A.clone())


_TriangularSolveResult = structseq("triangular_solve", ["solution", "cloned_coefficient"])


def _torch_functions():
    """The ``torch.*`` linear-algebra functions defined here (``torch.inverse``,
    ``torch.cholesky_solve``, ...), taking ``out=`` as PyTorch's; ``rustdl`` binds them."""
    from .sparse import dsmm

    return {
        "dsmm": dsmm,
        "lobpcg": _lobpcg,
        "inverse": _with_out(_torch_inverse, "inverse", 1, False),
        "cholesky_solve": _with_out(cholesky_solve, "cholesky_solve", 1, True),
        "cholesky_inverse": _with_out(_cholesky_inverse, "cholesky_inverse", 1, True),
        "slogdet": _with_out(_torch_slogdet, "slogdet", 2, False),
        "triangular_solve": _with_out(_torch_triangular_solve, "triangular_solve", 2, False),
    }
