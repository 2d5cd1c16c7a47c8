"""``torch.sparse`` on dense storage: rustdl has no sparse layout, so a COO tensor is built as the
dense tensor it stands for (duplicate entries summed, as ``coalesce``) and the sparse products
are the dense ones. Results equal PyTorch's; memory is that of the dense tensor."""

from __future__ import annotations

import math

from ._rustdl import Tensor, int64

__all__ = [
    "sparse_coo_tensor",
    "mm",
    "addmm",
    "sum",
    "FloatTensor",
    "DoubleTensor",
    "HalfTensor",
    "LongTensor",
    "spmm",
    "dsmm",
]


def sparse_coo_tensor(
    indices=None,
    values=None,
    size=None,
    *,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    check_invariants=None,
    is_coalesced=None,
):
    """The dense tensor of ``size`` with ``values[k]`` summed in at ``indices[:, k]``;
    differentiable in ``values``."""
    import rustdl

    op = "sparse_coo_tensor"
    if values is None and size is None and isinstance(indices, (tuple, list)):
        indices, size = None, indices  # the size-only overload, sparse_coo_tensor((5, 3))
    if indices is None and values is None:
        # PyTorch's empty sparse tensor of ``size`` (held dense here: zeros)
        if size is None:
            raise TypeError(f"{op}: expected indices and values, or a size")
        out = rustdl.zeros(tuple(int(s) for s in size), dtype=dtype, device=device)
        return out.requires_grad_(True) if requires_grad else out
    if indices is None or values is None:
        raise TypeError(f"{op}: expected both indices and values (or only a size)")
    if not isinstance(indices, Tensor):
        indices = rustdl.tensor(indices, dtype=int64)
    if not isinstance(values, Tensor):
        values = rustdl.tensor(values, dtype=dtype)
    if indices.dtype != int64:
        raise TypeError(f"{op}: indices must be an int64 tensor, got {indices.dtype}")
    if indices.ndim != 2:
        raise ValueError(f"{op}: indices must be 2-D (sparse_dim, nnz), got shape {tuple(indices.shape)}")
    sparse_dim, nnz = indices.shape
    if values.ndim < 1 or values.shape[0] != nnz:
        raise ValueError(
            f"{op}: values must have nnz={nnz} entries along dim 0, got shape {tuple(values.shape)}"
        )
    dense_shape = tuple(values.shape[1:])
    if size is None:
        if nnz == 0:
            raise ValueError(f"{op}: the size cannot be inferred from empty indices; pass size")
        size = tuple(int(m) + 1 for m in indices.max(1)[0].tolist()) + dense_shape
    size = tuple(int(s) for s in size)
    if any(s < 0 for s in size):
        raise ValueError(f"{op}: size must be non-negative, got {size}")
    if len(size) != sparse_dim + len(dense_shape) or size[sparse_dim:] != dense_shape:
        raise ValueError(
            f"{op}: size {size} does not match {sparse_dim} sparse dims and values of shape "
            f"{tuple(values.shape)}"
        )
    if nnz:
        lo, hi = indices.min(1)[0].tolist(), indices.max(1)[0].tolist()
        for d in range(sparse_dim):
            if lo[d] < 0 or hi[d] >= size[d]:
                raise IndexError(f"{op}: indices in dim {d} must lie in [0, {size[d]}), got {lo[d]}..{hi[d]}")
    if dtype is not None:
        values = values.to(dtype)
    if device is not None:
        values = values.to(device)
        indices = indices.to(device)
    rows = math.prod(size[:sparse_dim])
    flat = rustdl.zeros(nnz, dtype=int64, device=indices.device)
    stride = 1
    for d in reversed(range(sparse_dim)):
        flat = flat + indices[d] * stride
        stride *= size[d]
    out = rustdl.zeros((rows, *dense_shape), dtype=values.dtype, device=values.device)
    if nnz:
        out = out.index_add(0, flat, values)
    out = out.reshape(size)
    if requires_grad:
        out = out.detach().requires_grad_(True)
    return out


def FloatTensor(indices, values, size=None):  # noqa: N802  (PyTorch's legacy constructor name)
    """``torch.sparse.FloatTensor(indices, values, size)``: a float32 COO tensor."""
    import rustdl

    return sparse_coo_tensor(indices, values, size, dtype=rustdl.float32)


def DoubleTensor(indices, values, size=None):  # noqa: N802
    """``torch.sparse.DoubleTensor(indices, values, size)``: a float64 COO tensor."""
    import rustdl

    return sparse_coo_tensor(indices, values, size, dtype=rustdl.float64)


def HalfTensor(indices, values, size=None):  # noqa: N802
    """``torch.sparse.HalfTensor(indices, values, size)``: a COO tensor of float16 (held as
    float32: rustdl has no 16-bit storage)."""
    import rustdl

    return sparse_coo_tensor(indices, values, size, dtype=rustdl.float32)


def LongTensor(indices, values, size=None):  # noqa: N802
    """``torch.sparse.LongTensor(indices, values, size)``: an int64 COO tensor."""
    import rustdl

    return sparse_coo_tensor(indices, values, size, dtype=rustdl.int64)


def mm(mat1, mat2):
    """Sparse-by-dense (or dense) matrix product."""
    return mat1.mm(mat2)


spmm = mm


def dsmm(input, mat2):  # noqa: A002
    """``torch.dsmm``: the dense product ``input @ mat2`` of a sparse (or dense) matrix and a
    dense one, differentiable in both."""
    return input.mm(mat2)


def addmm(mat, mat1, mat2, *, beta=1, alpha=1):
    """``beta * mat + alpha * (mat1 @ mat2)``."""
    return mat * beta + mat1.mm(mat2) * alpha


def sum(input, dim=None, dtype=None):  # noqa: A001
    """Sum of all entries, or over ``dim``."""
    out = input.sum() if dim is None else input.sum(dim)
    return out if dtype is None else out.to(dtype)


def _to_dense(self, dtype=None, *, masked_grad=None):
    return self if dtype is None else self.to(dtype)


def _to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    return self


def _coalesce(self):
    return self


def _is_coalesced(self):
    return True


def _indices(self):
    """The coordinates of the nonzero entries, ``(ndim, nnz)``."""
    return self.nonzero().t()


def _values(self):
    """The nonzero entries, in :meth:`indices` order."""
    return self[self != 0]


def _nnz(self):
    """The number of stored entries: the nonzero entries of the dense storage."""
    return int(self.count_nonzero().item())


def _sparse_dim(self):
    return self.ndim


def _dense_dim(self):
    return 0


Tensor.to_dense = _to_dense
Tensor.to_sparse = _to_sparse
Tensor.coalesce = _coalesce
Tensor.indices = _indices
Tensor.values = _values
Tensor._indices = _indices
Tensor._values = _values
Tensor._nnz = _nnz
Tensor.sparse_dim = _sparse_dim
Tensor.dense_dim = _dense_dim
Tensor.is_sparse = False
Tensor.is_coalesced = _is_coalesced
