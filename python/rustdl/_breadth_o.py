"""PyTorch API breadth O: names PyTorch programs reach for that were missing — the scatter-into-
view functions (``slice_scatter``, ``select_scatter``, ``diagonal_scatter``), ``gradient``,
``adjoint``, ``isposinf``/``isneginf``/``isreal``, ``narrow_copy``, ``resolve_conj``/
``resolve_neg``, the ``qr`` spelling, ``sum_to_size``, ``cond``, tensor layouts
(``rustdl.strided``, ``Tensor.layout``) and ``Tensor.is_quantized``.

The scatter functions write ``src`` into a copy of ``input`` through an ordinary view
assignment, so they are differentiable in both arguments exactly as the assignment is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

from . import _rustdl as _rd
from ._rustdl import Tensor

__all__ = [
    "OutOfMemoryError",
    "adjoint",
    "conj_physical",
    "get_num_interop_threads",
    "is_conj",
    "is_neg",
    "is_warn_always_enabled",
    "nonzero_static",
    "pca_lowrank",
    "set_flush_denormal",
    "set_num_interop_threads",
    "set_warn_always",
    "split_with_sizes",
    "svd_lowrank",
    "unsafe_chunk",
    "unsafe_split",
    "cond",
    "diagonal_scatter",
    "gradient",
    "isneginf",
    "isposinf",
    "isreal",
    "layout",
    "narrow_copy",
    "qr",
    "resolve_conj",
    "resolve_neg",
    "select_scatter",
    "slice_scatter",
    "sparse_bsc",
    "sparse_bsr",
    "sparse_coo",
    "sparse_csc",
    "sparse_csr",
    "strided",
]


class layout:  # noqa: N801 - PyTorch's spelling
    """A tensor memory layout (``rustdl.strided`` for every dense tensor)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"torch.{self._name}"

    def __reduce__(self) -> str:
        return self._name


strided = layout("strided")
sparse_coo = layout("sparse_coo")
# compressed layouts: named (library code compares layouts with them); no tensor has them
sparse_csr = layout("sparse_csr")
sparse_csc = layout("sparse_csc")
sparse_bsr = layout("sparse_bsr")
sparse_bsc = layout("sparse_bsc")
_mkldnn = layout("_mkldnn")

# The creation functions' keywords for memory placement, as PyTorch's: ``pin_memory`` (page-locked
# host memory for faster copies to a CUDA device; every rustdl host tensor can be copied to the
# GPU as it is, so it is checked and needs nothing more), ``layout`` (only ``strided``, dense
# tensors, is made by these) and, for the functions of the ``rustdl`` namespace, ``out=``.
_FACTORIES_WITH_OUT = (
    "zeros", "ones", "empty", "full", "rand", "randn", "randint", "randperm", "arange", "range",
    "linspace", "logspace", "eye", "normal",
)  # fmt: skip
_FACTORIES = (
    "empty_strided", "zeros_like", "ones_like", "empty_like", "full_like", "rand_like",
    "randn_like", "randint_like", "scalar_tensor", "tril_indices", "triu_indices",
    "hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window",
)  # fmt: skip
_NEW_METHODS = ("new_zeros", "new_ones", "new_empty", "new_full", "new_empty_strided")


def _placement_keywords(fn: Callable, name: str, *, with_out: bool, with_layout: bool = True) -> Callable:
    """``fn`` also taking ``pin_memory=`` (and ``layout=``, ``out=`` where PyTorch's does)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "pin_memory" in kwargs:
            pin = kwargs.pop("pin_memory")
            if not isinstance(pin, (bool, type(None))):
                raise TypeError(f"{name}(): argument 'pin_memory' must be bool, not {type(pin).__name__}")
        if with_layout and "layout" in kwargs:
            lay = kwargs.pop("layout")
            if lay is not None and lay is not strided:
                if not isinstance(lay, layout):
                    raise TypeError(
                        f"{name}(): argument 'layout' must be torch.layout, not {type(lay).__name__}"
                    )
                raise NotImplementedError(f"{name}: only the strided layout is made here, not {lay!r}")
        fmt = kwargs.pop("memory_format", None) if name == "empty" else None
        out = kwargs.pop("out", None) if with_out else None
        if out is None:
            res = fn(*args, **kwargs)
            if fmt is not None:
                from ._tensor_api import _check_memory_format, preserve_format

                if fmt is preserve_format:
                    raise RuntimeError("empty: unsupported memory format preserve_format")
                _check_memory_format(name, res, fmt)
            return res
        if not isinstance(out, Tensor):
            raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
        kwargs.setdefault("dtype", out.dtype)
        kwargs.setdefault("device", out.device)
        res = fn(*args, **kwargs)
        if out.requires_grad and _root().is_grad_enabled():
            raise RuntimeError(
                f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                "but one of the arguments requires grad."
            )
        if tuple(out.shape) != tuple(res.shape):
            out.resize_(tuple(res.shape))
        with _root().no_grad():
            out.copy_(res)
        return out

    return wrapper


def install_placement_keywords(ns: Any) -> None:
    """Lets the creation functions of the namespace ``ns`` (and ``Tensor.new_*``) take
    ``pin_memory=``, ``layout=`` and ``out=`` as PyTorch's do."""
    for name in _FACTORIES_WITH_OUT + _FACTORIES:
        if hasattr(ns, name):
            setattr(
                ns, name, _placement_keywords(getattr(ns, name), name, with_out=name in _FACTORIES_WITH_OUT)
            )
    ns.tensor = _placement_keywords(ns.tensor, "tensor", with_out=False, with_layout=False)
    for name in _NEW_METHODS:
        setattr(Tensor, name, _placement_keywords(getattr(Tensor, name), name, with_out=False))


def _need_tensor(op: str, name: str, v: Any) -> Tensor:
    if not isinstance(v, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(v).__name__}")
    return v


def _scatter_into_view(op: str, input: Tensor, src: Tensor, view: Callable[[Tensor], Tensor]) -> Tensor:  # noqa: A002
    _need_tensor(op, "input", input)
    _need_tensor(op, "src", src)
    out = input.clone()
    target = view(out)
    if tuple(target.shape) != tuple(src.shape):
        raise RuntimeError(
            f"{op}: expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
            f"slice size = {list(target.shape)}"
        )
    target.copy_(src)
    return out


def slice_scatter(
    input: Tensor,  # noqa: A002
    src: Tensor,
    dim: int = 0,
    start: int | None = None,
    end: int | None = None,
    step: int = 1,
) -> Tensor:
    """``input`` with ``src`` written into ``input[..., start:end:step, ...]`` along ``dim``
    (a new tensor; differentiable in both)."""

    def view(t: Tensor) -> Tensor:
        nd = t.dim()
        if not -nd <= dim < nd:
            raise IndexError(f"slice_scatter: dim {dim} out of range for a tensor of {nd} dims")
        idx = [slice(None)] * nd
        idx[dim % nd] = slice(start, end, step)
        return t[tuple(idx)]

    return _scatter_into_view("slice_scatter", input, src, view)


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:  # noqa: A002
    """``input`` with ``src`` written into ``input.select(dim, index)`` (a new tensor)."""
    return _scatter_into_view("select_scatter", input, src, lambda t: t.select(dim, index))


def diagonal_scatter(
    input: Tensor,  # noqa: A002
    src: Tensor,
    offset: int = 0,
    dim1: int = 0,
    dim2: int = 1,
) -> Tensor:
    """``input`` with ``src`` written into ``input.diagonal(offset, dim1, dim2)`` (a new tensor)."""
    return _scatter_into_view(
        "diagonal_scatter", input, src, lambda t: t.diagonal(offset=offset, dim1=dim1, dim2=dim2)
    )


def _gradient_1d(f: Tensor, axis: int, coords: Tensor | None, h: float, edge_order: int) -> Tensor:
    n = f.shape[axis]
    if n < edge_order + 1:
        raise RuntimeError(
            f"torch.gradient expected each dimension size to be at least edge_order+1, got size {n} "
            f"along dim {axis}"
        )

    def sl(a: int, b: int | None) -> Tensor:
        return f.narrow(axis, a, (n if b is None else b) - a)

    def shaped(v: Tensor) -> Tensor:
        shape = [1] * f.dim()
        shape[axis] = -1
        return v.reshape(shape)

    if coords is None:
        interior = (sl(2, None) - sl(0, n - 2)) / (2 * h)
        if edge_order == 1:
            first = (sl(1, 2) - sl(0, 1)) / h
            last = (sl(n - 1, n) - sl(n - 2, n - 1)) / h
        else:
            first = (-1.5 * sl(0, 1) + 2 * sl(1, 2) - 0.5 * sl(2, 3)) / h
            last = (0.5 * sl(n - 3, n - 2) - 2 * sl(n - 2, n - 1) + 1.5 * sl(n - 1, n)) / h
        return _rd.cat([first, interior, last], axis)
    # non-uniform spacing: second-order interior formula on neighbouring differences
    dx = coords[1:] - coords[:-1]
    hl, hr = shaped(dx[:-1]), shaped(dx[1:])
    a = -hr / (hl * (hl + hr))
    b = (hr - hl) / (hl * hr)
    c = hl / (hr * (hl + hr))
    interior = a * sl(0, n - 2) + b * sl(1, n - 1) + c * sl(2, None)
    if edge_order == 1:
        first = (sl(1, 2) - sl(0, 1)) / shaped(dx[:1])
        last = (sl(n - 1, n) - sl(n - 2, n - 1)) / shaped(dx[-1:])
    else:
        h1, h2 = shaped(dx[0:1]), shaped(dx[1:2])
        first = (
            -(2 * h1 + h2) / (h1 * (h1 + h2)) * sl(0, 1)
            + (h1 + h2) / (h1 * h2) * sl(1, 2)
            - h1 / (h2 * (h1 + h2)) * sl(2, 3)
        )
        g1, g2 = shaped(dx[-1:]), shaped(dx[-2:-1])
        last = (
            g1 / (g2 * (g1 + g2)) * sl(n - 3, n - 2)
            - (g1 + g2) / (g1 * g2) * sl(n - 2, n - 1)
            + (2 * g1 + g2) / (g1 * (g1 + g2)) * sl(n - 1, n)
        )
    return _rd.cat([first, interior, last], axis)


def gradient(
    input: Tensor,  # noqa: A002
    *,
    spacing: Any = 1,
    dim: int | Sequence[int] | None = None,
    edge_order: int = 1,
) -> tuple[Tensor, ...]:
    """Estimates the derivative of a sampled function along each of ``dim`` (all dims by default)
    by central differences inside and one-sided differences of order ``edge_order`` (1 or 2) at
    the ends, as ``numpy.gradient``. ``spacing`` is a number or one per dim (a uniform step), or
    one coordinate tensor per dim. Returns one tensor per dim; differentiable."""
    _need_tensor("gradient", "input", input)
    if edge_order not in (1, 2):
        raise RuntimeError(f"torch.gradient only supports edge_order=1 and edge_order=2, got {edge_order}")
    nd = input.dim()
    if nd == 0:
        raise RuntimeError("torch.gradient expected a tensor with at least one dimension")
    dims = list(range(nd)) if dim is None else ([dim] if isinstance(dim, int) else list(dim))
    for d in dims:
        if not -nd <= d < nd:
            raise IndexError(f"gradient: dim {d} out of range for a tensor of {nd} dims")
    dims = [d % nd for d in dims]
    if isinstance(spacing, (int, float, Tensor)) and not (isinstance(spacing, Tensor) and spacing.dim() == 1):
        spacings: list[Any] = [spacing] * len(dims)
    else:
        spacings = list(spacing)
        if len(spacings) != len(dims):
            raise RuntimeError(
                f"torch.gradient expected spacing to be unspecified, a scalar or a list of length {len(dims)}, "
                f"got a list of length {len(spacings)}"
            )
    f = input if input.is_floating_point() else input.to(_root().get_default_dtype())
    out = []
    for d, sp in zip(dims, spacings):
        if isinstance(sp, Tensor) and sp.dim() == 1:
            if sp.shape[0] != f.shape[d]:
                raise RuntimeError(
                    f"torch.gradient expected each tensor of spacing to have as many entries ({sp.shape[0]}) "
                    f"as input has along dim {d} ({f.shape[d]})"
                )
            out.append(_gradient_1d(f, d, sp.to(f.dtype), 1.0, edge_order))
        else:
            h = float(sp.item() if isinstance(sp, Tensor) else sp)
            out.append(_gradient_1d(f, d, None, h, edge_order))
    return tuple(out)


def adjoint(input: Tensor) -> Tensor:  # noqa: A002
    """The conjugate transpose of the last two dims (the transpose, for real tensors)."""
    _need_tensor("adjoint", "input", input)
    if input.dim() < 2:
        raise RuntimeError(
            f"adjoint() is only supported on matrices or batches of matrices. Got {input.dim()}-D tensor."
        )
    return input.transpose(-2, -1)


def isposinf(input: Tensor) -> Tensor:  # noqa: A002
    """True where ``input`` is +inf."""
    _need_tensor("isposinf", "input", input)
    return input.isinf().logical_and(input > 0)


def isneginf(input: Tensor) -> Tensor:  # noqa: A002
    """True where ``input`` is -inf."""
    _need_tensor("isneginf", "input", input)
    return input.isinf().logical_and(input < 0)


def isreal(input: Tensor) -> Tensor:  # noqa: A002
    """True everywhere for a real tensor (its imaginary part is zero)."""
    _need_tensor("isreal", "input", input)
    return _rd.ones_like(input, dtype=_rd.bool)


def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:  # noqa: A002
    """``input.narrow(dim, start, length)`` as a new contiguous tensor."""
    _need_tensor("narrow_copy", "input", input)
    return input.narrow(dim, start, length).clone()


def resolve_conj(input: Tensor) -> Tensor:  # noqa: A002
    """``input`` itself: real tensors carry no lazy conjugation."""
    return _need_tensor("resolve_conj", "input", input)


def resolve_neg(input: Tensor) -> Tensor:  # noqa: A002
    """``input`` itself: rustdl tensors carry no lazy negation."""
    return _need_tensor("resolve_neg", "input", input)


def qr(input: Tensor, some: bool = True) -> tuple[Tensor, Tensor]:  # noqa: A002
    """``torch.qr``: ``linalg.qr`` with ``mode="reduced"`` (``some=True``) or ``"complete"``."""
    from . import linalg

    return linalg.qr(input, mode="reduced" if some else "complete")


def cond(pred: Any, true_fn: Callable[..., Any], false_fn: Callable[..., Any], operands: Any = ()) -> Any:
    """``torch.cond``: ``true_fn(*operands)`` if ``pred`` (a bool or a one-element tensor) holds,
    else ``false_fn(*operands)`` — run eagerly."""
    if isinstance(pred, Tensor):
        if pred.numel() != 1:
            raise RuntimeError(
                f"cond: expected pred to be a bool or a one-element tensor, got shape {tuple(pred.shape)}"
            )
        pred = bool(pred.item())
    return (true_fn if pred else false_fn)(*tuple(operands))


def _sum_to_size(self: Tensor, *size: Any) -> Tensor:
    """Sums this tensor down to ``size`` (which it must broadcast to), as a gradient is reduced
    to its input's shape."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = tuple(int(s) for s in size)
    lead = self.dim() - len(shape)
    ok = lead >= 0 and all(s == 1 or s == t for s, t in zip(shape, self.shape[lead:]))
    if not ok:
        raise RuntimeError(
            f"size {{{', '.join(map(str, shape))}}} is not expandable to size {{{', '.join(map(str, self.shape))}}}."
        )
    out = self
    if lead:
        out = out.sum(tuple(range(lead)))
    dims = tuple(i for i, s in enumerate(shape) if s == 1 and out.shape[i] != 1)
    if dims:
        out = out.sum(dims, keepdim=True)
    return out


# ---------------------------------------------------------------------------------------------
# method spellings of existing functions, and small torch-level names
# ---------------------------------------------------------------------------------------------


def _root():
    import rustdl

    return rustdl


def _imag(self: Tensor) -> Tensor:
    raise TypeError("imag is not implemented for tensors with non-complex dtypes.")


def _is_nonzero(self: Tensor) -> bool:
    if self.numel() != 1:
        if self.numel() == 0:
            raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(self.item() != 0)


def _cholesky(self: Tensor, upper: bool = False) -> Tensor:
    from . import linalg

    low = linalg.cholesky(self)
    return low.transpose(-2, -1) if upper else low


def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:  # noqa: A002
    """The indices of the non-zero elements as ``nonzero()``, cut or padded with ``fill_value``
    to exactly ``size`` rows (a fixed output shape)."""
    _need_tensor("nonzero_static", "input", input)
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, got {size}")
    idx = input.nonzero()
    n = idx.shape[0]
    if n >= size:
        return idx[:size]
    pad = _rd.full(
        (size - n, max(input.dim(), 1) if input.dim() else 0), fill_value, dtype=idx.dtype, device=idx.device
    )
    return _rd.cat([idx, pad], 0)


def _dim_order(self: Tensor) -> tuple[int, ...]:
    """The dims from outermost to innermost in memory (by decreasing stride)."""
    strides = self.stride()
    return tuple(sorted(range(self.dim()), key=lambda d: (-strides[d], d)))


def _new_empty_strided(
    self: Tensor,
    size: Any,
    stride: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    out = _root().empty_strided(
        tuple(size), tuple(stride), dtype=dtype or self.dtype, device=device or self.device
    )
    return out.requires_grad_() if requires_grad else out


def split_with_sizes(input: Tensor, split_sizes: Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """``input.split(list(split_sizes), dim)``; the sizes must add up to the dim's length."""
    _need_tensor("split_with_sizes", "input", input)
    sizes = [int(s) for s in split_sizes]
    if sum(sizes) != input.shape[dim]:
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {input.shape[dim]} (input tensor's size at "
            f"dimension {dim}), but got split_sizes={sizes}"
        )
    return tuple(input.split(sizes, dim))


def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """``chunk`` (the views are ordinary, checked views here)."""
    return tuple(_need_tensor("unsafe_chunk", "input", input).chunk(chunks, dim))


def unsafe_split(input: Tensor, split_size: Any, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """``split`` (the views are ordinary, checked views here)."""
    return tuple(_need_tensor("unsafe_split", "input", input).split(split_size, dim))


def conj_physical(input: Tensor) -> Tensor:  # noqa: A002
    """A copy of ``input`` (the conjugate of a real tensor is itself)."""
    return _need_tensor("conj_physical", "input", input).clone()


def is_conj(input: Tensor) -> bool:  # noqa: A002
    """False: no lazy conjugation bit on rustdl tensors."""
    _need_tensor("is_conj", "input", input)
    return False


def is_neg(input: Tensor) -> bool:  # noqa: A002
    """False: no lazy negation bit on rustdl tensors."""
    _need_tensor("is_neg", "input", input)
    return False


def svd_lowrank(
    A: Tensor, q: int | None = 6, niter: int = 2, M: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:  # noqa: N803
    """``(U, S, V)`` of a rank-``q`` approximation of ``A - M``: the leading ``q`` singular
    triplets, computed exactly (a full SVD; PyTorch's randomized method approximates the same
    triplets, so ``niter`` is accepted and unused)."""
    _need_tensor("svd_lowrank", "A", A)
    X = A if M is None else A - M
    q = 6 if q is None else q
    m, n = X.shape[-2], X.shape[-1]
    if not 0 <= q <= min(m, n):
        raise ValueError(
            f"svd_lowrank: q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}"
        )
    from . import linalg

    U, S, Vh = linalg.svd(X, full_matrices=False)
    return U[..., :q], S[..., :q], Vh[..., :q, :].transpose(-2, -1)


def pca_lowrank(
    A: Tensor, q: int | None = None, center: bool = True, niter: int = 2
) -> tuple[Tensor, Tensor, Tensor]:  # noqa: N803
    """Principal components of ``A`` (rows are samples): :func:`svd_lowrank` of the
    column-centred matrix (``center=True``), ``q`` defaulting to ``min(6, m, n)``."""
    _need_tensor("pca_lowrank", "A", A)
    m, n = A.shape[-2], A.shape[-1]
    q = min(6, m, n) if q is None else q
    M = A.mean(-2, keepdim=True) if center else None
    return svd_lowrank(A, q, niter, M)


_INTEROP_THREADS = [1]


def get_num_interop_threads() -> int:
    """The inter-op thread count last set (rustdl runs ops one at a time; 1 by default)."""
    return _INTEROP_THREADS[0]


def set_num_interop_threads(num: int) -> None:
    """Records the inter-op thread count (ops run one at a time; intra-op threads are
    ``set_num_threads``)."""
    if not isinstance(num, int) or num < 1:
        raise RuntimeError(f"Expected positive number of threads, got {num}")
    _INTEROP_THREADS[0] = num


def set_flush_denormal(mode: bool) -> bool:
    """False: flushing denormals is not supported (PyTorch also answers False where it cannot)."""
    return False


_WARN_ALWAYS = [False]


def set_warn_always(b: bool) -> None:
    """Records PyTorch's warn-always flag (rustdl warns through ``warnings``, whose filters decide)."""
    _WARN_ALWAYS[0] = bool(b)


def is_warn_always_enabled() -> bool:
    """The flag :func:`set_warn_always` set."""
    return _WARN_ALWAYS[0]


# an allocation that does not fit (``torch.OutOfMemoryError``, ``torch.cuda.OutOfMemoryError``):
# the core's class, both a MemoryError and the RuntimeError PyTorch raises
OutOfMemoryError = _rd.OutOfMemoryError


def _method_of(name: str) -> Callable[..., Any]:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return getattr(_root(), name)(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Method form of ``rustdl.{name}``."
    return method


def _method(fn: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = getattr(fn, "__name__", "method")
    method.__doc__ = fn.__doc__
    return method


for _name in (
    "angle",
    "histogram",
    "stft",
    "istft",
    "cholesky_inverse",
    "cholesky_solve",
    "lu",
    "lu_solve",
    "triangular_solve",
    "svd",
    "vdot",
    "is_same_size",
):
    setattr(Tensor, _name, _method_of(_name))
del _name
Tensor.imag = property(_imag)
Tensor.conj = _method(lambda self: self)
Tensor.conj_physical = _method(conj_physical)
Tensor.is_conj = _method(is_conj)
Tensor.is_neg = _method(is_neg)
Tensor.is_nonzero = _method(_is_nonzero)
Tensor.cholesky = _method(_cholesky)
Tensor.nonzero_static = _method(nonzero_static)
Tensor.dim_order = _method(_dim_order)
Tensor.new_empty_strided = _method(_new_empty_strided)
Tensor.split_with_sizes = _method(split_with_sizes)
Tensor.unsafe_chunk = _method(unsafe_chunk)
Tensor.unsafe_split = _method(unsafe_split)
Tensor.hardshrink = _method(lambda self, lambd=0.5: _root().nn.functional.hardshrink(self, lambd))
Tensor.prelu = _method(lambda self, weight: _root().nn.functional.prelu(self, weight))
Tensor.sum_to_size = _sum_to_size
Tensor.qr = lambda self, some=True: qr(self, some)
Tensor.adjoint = _method(adjoint)
Tensor.isposinf = _method(isposinf)
Tensor.isneginf = _method(isneginf)
Tensor.isreal = _method(isreal)
Tensor.narrow_copy = _method(narrow_copy)
Tensor.resolve_conj = _method(resolve_conj)
Tensor.resolve_neg = _method(resolve_neg)
Tensor.slice_scatter = _method(slice_scatter)
Tensor.select_scatter = _method(select_scatter)
Tensor.diagonal_scatter = _method(diagonal_scatter)
Tensor.layout = property(lambda self: sparse_coo if getattr(self, "is_sparse", False) else strided)
Tensor.is_quantized = property(lambda self: False)
