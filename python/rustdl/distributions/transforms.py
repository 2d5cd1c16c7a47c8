"""Invertible transforms for :class:`TransformedDistribution`, as
``torch.distributions.transforms``: ``ExpTransform``, ``AffineTransform``, ``SigmoidTransform``,
``SoftplusTransform``, ``TanhTransform``, ``PowerTransform``, ``AbsTransform``, ``SoftmaxTransform``,
``StickBreakingTransform``, ``LowerCholeskyTransform``, ``PositiveDefiniteTransform``, ``CorrCholeskyTransform``,
``CumulativeDistributionTransform``, ``IndependentTransform``, ``ReshapeTransform``,
``ComposeTransform``, ``CatTransform`` and ``StackTransform``.

``cache_size=1`` keeps the last ``(x, y)`` pair: the inverse of that very ``y`` object returns
``x`` itself (so ``log_prob`` of a tanh-squashed sample sees the pre-image exactly, not
``atanh(±1) = ±inf``)."""

from __future__ import annotations

import math
from numbers import Number
from typing import Any

import numpy as np

from .. import _rustdl
from .._rustdl import Tensor
from . import constraints
from .utils import finfo_eps, finfo_tiny, softplus

__all__ = [
    "AbsTransform",
    "AffineTransform",
    "CatTransform",
    "ComposeTransform",
    "CorrCholeskyTransform",
    "CumulativeDistributionTransform",
    "ExpTransform",
    "IndependentTransform",
    "LowerCholeskyTransform",
    "PositiveDefiniteTransform",
    "PowerTransform",
    "ReshapeTransform",
    "SigmoidTransform",
    "SoftmaxTransform",
    "SoftplusTransform",
    "StackTransform",
    "StickBreakingTransform",
    "TanhTransform",
    "Transform",
    "identity_transform",
]


class Transform:
    """An invertible map ``y = f(x)`` with a computable ``log |det df/dx|``.

    Attributes:
        domain, codomain: constraints on ``x`` and ``y``.
        bijective: always True here.
        event_dim: how many rightmost dims form one event (0: elementwise).
    """

    domain: Any = constraints.real
    codomain: Any = constraints.real
    bijective = True
    event_dim = 0
    _cache_size = 0
    _cached: Any = None

    def __init__(self, cache_size: int = 0) -> None:
        if cache_size not in (0, 1):
            raise ValueError(f"cache_size must be 0 or 1, got {cache_size}")
        self._cache_size = cache_size
        self._cached = None

    def with_cache(self, cache_size: int = 1) -> Transform:
        """This transform with ``cache_size`` (a copy when it differs)."""
        if self._cache_size == cache_size:
            return self
        import copy

        out = copy.copy(self)
        out._cache_size = cache_size
        out._cached = None
        return out

    def __call__(self, x: Tensor) -> Tensor:
        if self._cache_size:
            cached = self._cached
            if cached is not None and cached[0] is x:
                return cached[1]
            y = self._call(x)
            self._cached = (x, y)
            return y
        return self._call(x)

    def _inv_call(self, y: Tensor) -> Tensor:
        if self._cache_size:
            cached = self._cached
            if cached is not None and cached[1] is y:
                return cached[0]
            x = self._inverse(y)
            self._cached = (x, y)
            return x
        return self._inverse(y)

    @property
    def input_event_dim(self) -> int:
        return self.event_dim

    def forward_shape(self, shape):
        return shape

    def inverse_shape(self, shape):
        return shape

    @property
    def inv(self) -> Transform:
        """The inverse transform."""
        return _Inverse(self)

    @property
    def sign(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement sign")

    def _call(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement __call__")

    def _inverse(self, y: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement inverse")

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        """``log |dy/dx|`` elementwise (shape of ``x``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement log_abs_det_jacobian")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _Inverse(Transform):
    def __init__(self, t: Transform) -> None:
        self._inv = t
        self.domain, self.codomain = t.codomain, t.domain
        self.event_dim = t.event_dim

    @property
    def inv(self) -> Transform:
        return self._inv

    @property
    def sign(self) -> Any:
        return self._inv.sign

    def __call__(self, x: Tensor) -> Tensor:
        return self._inv._inv_call(x)

    def _inv_call(self, y: Tensor) -> Tensor:
        return self._inv(y)

    def _call(self, x: Tensor) -> Tensor:
        return self._inv._inverse(x)

    def _inverse(self, y: Tensor) -> Tensor:
        return self._inv._call(y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return -self._inv.log_abs_det_jacobian(y, x)

    def __repr__(self) -> str:
        return f"_InverseTransform({self._inv!r})"


class ExpTransform(Transform):
    """``y = exp(x)``."""

    codomain = constraints.positive
    sign = 1

    def _call(self, x: Tensor) -> Tensor:
        return x.exp()

    def _inverse(self, y: Tensor) -> Tensor:
        return y.log()

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return x


class SigmoidTransform(Transform):
    """``y = 1 / (1 + exp(-x))``."""

    codomain = constraints.unit_interval
    sign = 1

    def _call(self, x: Tensor) -> Tensor:
        eps = finfo_eps(x)
        return x.sigmoid().clamp(eps, 1 - eps)

    def _inverse(self, y: Tensor) -> Tensor:
        eps = finfo_eps(y)
        y = y.clamp(eps, 1 - eps)
        return y.log() - (-y).log1p()

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return -softplus(-x) - softplus(x)


class SoftplusTransform(Transform):
    """``y = log(1 + exp(x))``; the inverse is ``x = y + log(1 - exp(-y))``."""

    codomain = constraints.positive
    sign = 1

    def _call(self, x: Tensor) -> Tensor:
        return softplus(x)

    def _inverse(self, y: Tensor) -> Tensor:
        return (-(-y).expm1()).log() + y

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return -softplus(-x)


class AffineTransform(Transform):
    """``y = loc + scale * x`` (``loc`` and ``scale`` numbers or broadcastable tensors)."""

    def __init__(self, loc: Any, scale: Any, event_dim: int = 0, cache_size: int = 0) -> None:
        super().__init__(cache_size)
        self.loc = loc
        self.scale = scale
        self.event_dim = event_dim
        if event_dim:
            self.domain = self.codomain = constraints.independent(constraints.real, event_dim)

    @property
    def sign(self) -> Any:
        if isinstance(self.scale, Number):
            return 1 if float(self.scale) > 0 else -1 if float(self.scale) < 0 else 0
        return self.scale.sign()

    def _call(self, x: Tensor) -> Tensor:
        return self.loc + self.scale * x

    def _inverse(self, y: Tensor) -> Tensor:
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        scale = self.scale
        if isinstance(scale, Number):
            out = x.new_full(tuple(x.shape), float(abs(scale))).log()
        else:
            out = (scale.abs().log() + x * 0) if tuple(scale.shape) != tuple(x.shape) else scale.abs().log()
        for _ in range(self.event_dim):
            out = out.sum(-1)
        return out

    def __repr__(self) -> str:
        return f"AffineTransform(loc={self.loc}, scale={self.scale})"


class ComposeTransform(Transform):
    """Applies ``parts`` in order: ``y = parts[-1](... parts[0](x))``."""

    def __init__(self, parts: list[Transform], cache_size: int = 0) -> None:
        super().__init__(cache_size)
        self.parts = list(parts)
        self.event_dim = max((p.event_dim for p in self.parts), default=0)
        if self.parts:
            self.domain, self.codomain = self.parts[0].domain, self.parts[-1].codomain

    def _call(self, x: Tensor) -> Tensor:
        for p in self.parts:
            x = p(x)
        return x

    def _inverse(self, y: Tensor) -> Tensor:
        for p in reversed(self.parts):
            y = p._inv_call(y)
        return y

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        total: Any = 0
        for p in self.parts:
            nxt = p(x)
            term = p.log_abs_det_jacobian(x, nxt)
            for _ in range(self.event_dim - p.event_dim):
                term = term.sum(-1)
            total = total + term
            x = nxt
        return total if isinstance(total, Tensor) else x.new_zeros(tuple(x.shape))

    def __repr__(self) -> str:
        return f"ComposeTransform({self.parts!r})"


class StickBreakingTransform(Transform):
    """Unconstrained ``(..., K−1)`` vectors to points of the ``K``-simplex by stick breaking, as
    PyTorch's: ``z_i = σ(x_i − log(K − i))`` takes that share of the stick left over
    (``event_dim`` 1; the log-Jacobian is per vector)."""

    domain = constraints.real_vector
    codomain = constraints.simplex
    event_dim = 1

    @staticmethod
    def _offset_log(x: Tensor, n: int) -> Tensor:
        from .. import _rustdl

        return _rustdl.arange(n, 0, -1, dtype=x.dtype, device=x.device).log()

    def _call(self, x: Tensor) -> Tensor:
        from .. import _rustdl

        n = x.shape[-1]
        z = (x - self._offset_log(x, n)).sigmoid()
        eps = finfo_eps(z)
        z = z.clamp(min=eps, max=1 - eps)
        rest = (1 - z).cumprod(-1)
        ones = _rustdl.ones(*x.shape[:-1], 1, dtype=x.dtype, device=x.device)
        return _rustdl.cat([z, ones], -1) * _rustdl.cat([ones, rest], -1)

    def _inverse(self, y: Tensor) -> Tensor:
        crop = y[..., :-1]
        n = crop.shape[-1]
        left = (1 - crop.cumsum(-1)).clamp(min=finfo_tiny(y))
        return crop.log() - left.log() + self._offset_log(y, n)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        s = x - self._offset_log(x, x.shape[-1])
        return (-s - softplus(-s) + y[..., :-1].log()).sum(-1)

    def forward_shape(self, shape):
        return (*shape[:-1], shape[-1] + 1)

    def inverse_shape(self, shape):
        return (*shape[:-1], shape[-1] - 1)


def _sum_rightmost(t: Tensor, n: int) -> Tensor:
    for _ in range(n):
        t = t.sum(-1)
    return t


class TanhTransform(Transform):
    """``y = tanh(x)``; pass ``cache_size=1`` to invert samples at ±1 exactly (as PyTorch)."""

    codomain = constraints.interval(-1.0, 1.0)
    sign = 1

    def _call(self, x: Tensor) -> Tensor:
        return x.tanh()

    def _inverse(self, y: Tensor) -> Tensor:
        return 0.5 * (y.log1p() - (-y).log1p())

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        # log(1 − tanh²x) = 2 (log 2 − x − softplus(−2x)), stable for large |x|
        return 2.0 * (math.log(2.0) - x - softplus(-2.0 * x))


class PowerTransform(Transform):
    """``y = x ** exponent`` on positive ``x``."""

    domain = constraints.positive
    codomain = constraints.positive

    def __init__(self, exponent: Any, cache_size: int = 0) -> None:
        super().__init__(cache_size)
        self.exponent = exponent

    @property
    def sign(self) -> Any:
        e = self.exponent
        return (1 if e > 0 else -1 if e < 0 else 0) if isinstance(e, Number) else e.sign()

    def _call(self, x: Tensor) -> Tensor:
        return x.pow(self.exponent)

    def _inverse(self, y: Tensor) -> Tensor:
        return y.pow(1 / self.exponent)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return (self.exponent * y / x).abs().log()


class AbsTransform(Transform):
    """``y = |x|`` (not bijective: the inverse is the positive branch)."""

    codomain = constraints.positive
    bijective = False

    def _call(self, x: Tensor) -> Tensor:
        return x.abs()

    def _inverse(self, y: Tensor) -> Tensor:
        return y


class SoftmaxTransform(Transform):
    """Unconstrained vectors to the simplex by ``softmax`` (not bijective; the inverse is
    ``log``)."""

    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = False
    event_dim = 1

    def _call(self, x: Tensor) -> Tensor:
        probs = (x - x.amax(-1, keepdim=True)).exp()
        return probs / probs.sum(-1, keepdim=True)

    def _inverse(self, y: Tensor) -> Tensor:
        return y.log()


class LowerCholeskyTransform(Transform):
    """Square matrices to lower-triangular ones with a positive diagonal: the strictly lower
    part kept, the diagonal exponentiated (not bijective)."""

    bijective = False
    event_dim = 2
    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.lower_cholesky

    def _call(self, x: Tensor) -> Tensor:
        return x.tril(-1) + x.diagonal(dim1=-2, dim2=-1).exp().diag_embed()

    def _inverse(self, y: Tensor) -> Tensor:
        return y.tril(-1) + y.diagonal(dim1=-2, dim2=-1).log().diag_embed()


class PositiveDefiniteTransform(Transform):
    """Square matrices to symmetric positive-definite ones: ``L Lᵀ`` of the
    :class:`LowerCholeskyTransform` ``L`` of the input (not bijective)."""

    bijective = False
    event_dim = 2
    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.positive_definite

    def _call(self, x: Tensor) -> Tensor:
        low = LowerCholeskyTransform()(x)
        return low @ low.transpose(-2, -1)

    def _inverse(self, y: Tensor) -> Tensor:
        from .. import linalg

        return LowerCholeskyTransform().inv(linalg.cholesky(y))


class CumulativeDistributionTransform(Transform):
    """``y = distribution.cdf(x)``; the log-Jacobian is ``distribution.log_prob(x)``."""

    codomain = constraints.unit_interval
    sign = 1

    def __init__(self, distribution: Any, cache_size: int = 0) -> None:
        super().__init__(cache_size)
        self.distribution = distribution

    @property
    def domain(self) -> Any:  # type: ignore[override]
        return self.distribution.support

    def _call(self, x: Tensor) -> Tensor:
        return self.distribution.cdf(x)

    def _inverse(self, y: Tensor) -> Tensor:
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return self.distribution.log_prob(x)


class IndependentTransform(Transform):
    """``base_transform`` with ``reinterpreted_batch_ndims`` more rightmost dims in each event:
    its log-Jacobian summed over them."""

    def __init__(
        self, base_transform: Transform, reinterpreted_batch_ndims: int, cache_size: int = 0
    ) -> None:
        super().__init__(cache_size)
        self.base_transform = base_transform.with_cache(cache_size)
        self.reinterpreted_batch_ndims = int(reinterpreted_batch_ndims)
        self.event_dim = base_transform.event_dim + self.reinterpreted_batch_ndims
        self.bijective = base_transform.bijective
        self.domain = constraints.independent(base_transform.domain, self.reinterpreted_batch_ndims)
        self.codomain = constraints.independent(base_transform.codomain, self.reinterpreted_batch_ndims)

    @property
    def sign(self) -> Any:
        return self.base_transform.sign

    def _call(self, x: Tensor) -> Tensor:
        return self.base_transform(x)

    def _inverse(self, y: Tensor) -> Tensor:
        return self.base_transform._inv_call(y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return _sum_rightmost(self.base_transform.log_abs_det_jacobian(x, y), self.reinterpreted_batch_ndims)

    def forward_shape(self, shape):
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base_transform.inverse_shape(shape)

    def __repr__(self) -> str:
        return f"IndependentTransform({self.base_transform!r}, {self.reinterpreted_batch_ndims})"


class ReshapeTransform(Transform):
    """Reshapes the rightmost ``in_shape`` dims of each event to ``out_shape`` (same number of
    elements; log-Jacobian 0)."""

    def __init__(self, in_shape, out_shape, cache_size: int = 0) -> None:
        super().__init__(cache_size)
        self.in_shape = tuple(int(d) for d in in_shape)
        self.out_shape = tuple(int(d) for d in out_shape)
        if math.prod(self.in_shape) != math.prod(self.out_shape):
            raise ValueError(
                f"ReshapeTransform: in_shape {self.in_shape} and out_shape {self.out_shape} differ in size"
            )
        self.event_dim = len(self.in_shape)
        self.domain = constraints.independent(constraints.real, len(self.in_shape))
        self.codomain = constraints.independent(constraints.real, len(self.out_shape))

    def _call(self, x: Tensor) -> Tensor:
        batch = tuple(x.shape)[: x.ndim - len(self.in_shape)]
        return x.reshape(*batch, *self.out_shape)

    def _inverse(self, y: Tensor) -> Tensor:
        batch = tuple(y.shape)[: y.ndim - len(self.out_shape)]
        return y.reshape(*batch, *self.in_shape)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        batch = tuple(x.shape)[: x.ndim - len(self.in_shape)]
        return x.new_zeros(batch)

    def forward_shape(self, shape):
        shape = tuple(shape)
        return shape[: len(shape) - len(self.in_shape)] + self.out_shape

    def inverse_shape(self, shape):
        shape = tuple(shape)
        return shape[: len(shape) - len(self.out_shape)] + self.in_shape


class _Identity(ComposeTransform):
    def __init__(self) -> None:
        super().__init__([])

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return x.new_zeros(tuple(x.shape))


identity_transform = _Identity()


# ---------------------------------------------------------------- CorrCholeskyTransform


def _tril_flat_index(n: int, diag: int) -> np.ndarray:
    """Flat (row-major) positions of the entries of an ``n × n`` matrix on or below diagonal
    ``diag``, in row order."""
    rows, cols = np.nonzero(np.tril(np.ones((n, n), dtype=bool), diag))
    return rows * n + cols


def _vec_to_tril_matrix(vec: Tensor, diag: int = 0) -> Tensor:
    """``(*, N)`` vectors to ``(*, D, D)`` lower-triangular matrices (entries on or below
    diagonal ``diag`` filled in row order, zeros elsewhere), differentiably."""
    size = vec.shape[-1]
    b = 1 + 2 * diag
    root = (-b + math.sqrt(b * b + 8 * size + 4 * abs(diag) * (diag + 1))) / 2
    n = round(root)
    if abs(n - root) > finfo_eps(vec) or len(_tril_flat_index(n, diag)) != size:
        # a ShapeError is both a ValueError and a RuntimeError: PyTorch raises either, by the size
        raise _rustdl.ShapeError(
            f"The size of last dimension is {size} which cannot be expressed as "
            "the lower triangular part of a square D x D matrix."
        )
    gather = np.full(n * n, size, dtype=np.int64)  # position ``size`` is the appended zero
    gather[_tril_flat_index(n, diag)] = np.arange(size)
    batch = tuple(vec.shape[:-1])
    padded = _rustdl.cat([vec, vec.new_zeros((*batch, 1))], -1)
    index = _rustdl.tensor(gather, dtype=_rustdl.int64, device=vec.device)
    return padded.index_select(-1, index).reshape(*batch, n, n)


def _tril_matrix_to_vec(mat: Tensor, diag: int = 0) -> Tensor:
    """The entries of ``(*, D, D)`` matrices on or below diagonal ``diag``, in row order."""
    n = mat.shape[-1]
    batch = tuple(mat.shape[:-2])
    index = _rustdl.tensor(_tril_flat_index(n, diag), dtype=_rustdl.int64, device=mat.device)
    return mat.reshape(*batch, n * n).index_select(-1, index)


def _pad_left_one(t: Tensor) -> Tensor:
    """``t`` with a column of ones prepended along the last dim."""
    return _rustdl.cat([t.new_ones((*t.shape[:-1], 1)), t], -1)


class CorrCholeskyTransform(Transform):
    """Unconstrained vectors of length ``D(D−1)/2`` to Cholesky factors of ``D × D`` correlation
    matrices (lower-triangular, positive diagonal, unit-length rows), as PyTorch's:

    1. ``r = tanh(x)`` fills the strictly lower triangle row by row;
    2. each row goes through a signed stick-breaking: ``y_ij = r_ij · √(Π_{k<j} (1 − r_ik²))``,
       the diagonal taking the length that is left.

    ``log_abs_det_jacobian`` is that of ``x`` and the strictly lower triangle of ``y`` (the two
    spaces have different dimensions): one value per vector.

    Example:
        >>> t = CorrCholeskyTransform()
        >>> L = t(rustdl.randn(5, 6))  # (5, 4, 4)
        >>> (L @ L.mT).diagonal(dim1=-2, dim2=-1)  # all ones
    """

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky
    event_dim = 1  # the domain's (the codomain's is 2)

    def _call(self, x: Tensor) -> Tensor:
        eps = finfo_eps(x)
        r = _vec_to_tril_matrix(x.tanh().clamp(min=-1 + eps, max=1 - eps), diag=-1)
        # y = sign(r)·√(z·Π(1 − z)) with z = r²: that is r·√(Π(1 − z)) over the earlier columns
        remaining = (1 - r.square()).sqrt().cumprod(-1)
        n = r.shape[-1]
        r = r + _rustdl.eye(n, dtype=r.dtype, device=r.device)
        return r * _pad_left_one(remaining[..., :-1])

    def _inverse(self, y: Tensor) -> Tensor:
        left = _pad_left_one((1 - (y * y).cumsum(-1))[..., :-1])
        t = _tril_matrix_to_vec(y, diag=-1) / _tril_matrix_to_vec(left, diag=-1).sqrt()
        return 0.5 * (t.log1p() - (-t).log1p())

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        # stick breaking: ½ Σ log(1 − Σ_{k≤j} y_ik²) over j < i − 1; tanh: Σ log(1 − tanh² x)
        left = 1 - (y * y).cumsum(-1)
        below = _tril_matrix_to_vec(left, diag=-2)
        stick = 0.5 * below.log().sum(-1) if below.shape[-1] else below.sum(-1)
        tanh = -2 * (x + softplus(-2 * x) - math.log(2.0)).sum(-1)
        return stick + tanh

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("Too few dimensions on input")
        size = shape[-1]
        d = round((0.25 + 2 * size) ** 0.5 + 0.5)
        if d * (d - 1) // 2 != size:
            raise ValueError("Input is not a flattened lower-diagonal number")
        return (*shape[:-1], d, d)

    def inverse_shape(self, shape):
        if len(shape) < 2:
            raise ValueError("Too few dimensions on input")
        if shape[-2] != shape[-1]:
            raise ValueError("Input is not square")
        d = shape[-1]
        return (*shape[:-2], d * (d - 1) // 2)


# ---------------------------------------------------------------- CatTransform / StackTransform


def _check_dim(t: Tensor, dim: int, size: int, what: str, name: str) -> None:
    if not -t.dim() <= dim < t.dim():
        raise AssertionError(f"dim {dim} out of range for {name} with {t.dim()} dimensions")
    if t.shape[dim] != size:
        raise AssertionError(f"{name}.size({dim}) = {t.shape[dim]} must equal {what} {size}")


def _check_transforms(tseq: Any) -> list[Transform]:
    tseq = list(tseq)
    if not all(isinstance(t, Transform) for t in tseq):
        raise AssertionError("All elements of tseq must be Transform instances")
    return tseq


class CatTransform(Transform):
    """Applies ``tseq[i]`` to the ``i``-th block of ``lengths[i]`` entries along ``dim`` (as
    ``torch.cat`` joins them; ``lengths`` defaults to all ones).

    The log-Jacobians of the blocks are summed over their own event dims up to the largest
    ``event_dim``, then concatenated along ``dim`` (or summed, when ``dim`` lies inside the event).

    Example:
        >>> t = CatTransform([ExpTransform(), identity_transform], dim=0, lengths=[10, 10])
        >>> y = t(rustdl.randn(20))  # exp of the first 10 entries, the rest unchanged
    """

    def __init__(self, tseq: Any, dim: int = 0, lengths: Any = None, cache_size: int = 0) -> None:
        tseq = _check_transforms(tseq)
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size)
        self.transforms = tseq
        self.lengths = [1] * len(tseq) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.transforms):
            raise AssertionError(
                f"lengths ({len(self.lengths)}) must match transforms ({len(self.transforms)})"
            )
        self.dim = dim
        self.event_dim = max(t.event_dim for t in self.transforms)

    @property
    def length(self) -> int:
        return sum(self.lengths)

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return CatTransform(self.transforms, self.dim, self.lengths, cache_size)

    def _blocks(self, t: Tensor):
        start = 0
        for trans, length in zip(self.transforms, self.lengths):
            yield trans, t.narrow(self.dim, start, length)
            start = start + length

    def _call(self, x: Tensor) -> Tensor:
        _check_dim(x, self.dim, self.length, "length", "x")
        return _rustdl.cat([trans(xs) for trans, xs in self._blocks(x)], self.dim)

    def _inverse(self, y: Tensor) -> Tensor:
        _check_dim(y, self.dim, self.length, "length", "y")
        return _rustdl.cat([trans.inv(ys) for trans, ys in self._blocks(y)], self.dim)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        _check_dim(x, self.dim, self.length, "length", "x")
        _check_dim(y, self.dim, self.length, "length", "y")
        terms = []
        for (trans, xs), (_, ys) in zip(self._blocks(x), self._blocks(y)):
            term = trans.log_abs_det_jacobian(xs, ys)
            if trans.event_dim < self.event_dim:
                term = _sum_rightmost(term, self.event_dim - trans.event_dim)
            terms.append(term)
        dim = self.dim - x.dim() if self.dim >= 0 else self.dim
        dim = dim + self.event_dim
        if dim < 0:
            return _rustdl.cat(terms, dim)
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    @property
    def bijective(self) -> bool:  # type: ignore[override]
        return all(t.bijective for t in self.transforms)

    @property
    def domain(self) -> Any:  # type: ignore[override]
        return constraints.cat([t.domain for t in self.transforms], self.dim, self.lengths)

    @property
    def codomain(self) -> Any:  # type: ignore[override]
        return constraints.cat([t.codomain for t in self.transforms], self.dim, self.lengths)

    def __repr__(self) -> str:
        return f"CatTransform({self.transforms!r}, dim={self.dim}, lengths={self.lengths})"


class StackTransform(Transform):
    """Applies ``tseq[i]`` to the ``i``-th slice along ``dim`` (as ``torch.stack`` joins them);
    the log-Jacobians are stacked along ``dim``.

    Example:
        >>> t = StackTransform([ExpTransform(), identity_transform], dim=1)
        >>> y = t(rustdl.randn(10, 2))  # exp of column 0, column 1 unchanged
    """

    def __init__(self, tseq: Any, dim: int = 0, cache_size: int = 0) -> None:
        tseq = _check_transforms(tseq)
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size)
        self.transforms = tseq
        self.dim = dim

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return StackTransform(self.transforms, self.dim, cache_size)

    def _slice(self, z: Tensor) -> list[Tensor]:
        return [z.select(self.dim, i) for i in range(z.shape[self.dim])]

    def _call(self, x: Tensor) -> Tensor:
        _check_dim(x, self.dim, len(self.transforms), "len(transforms)", "x")
        return _rustdl.stack([t(xs) for xs, t in zip(self._slice(x), self.transforms)], self.dim)

    def _inverse(self, y: Tensor) -> Tensor:
        _check_dim(y, self.dim, len(self.transforms), "len(transforms)", "y")
        return _rustdl.stack([t.inv(ys) for ys, t in zip(self._slice(y), self.transforms)], self.dim)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        _check_dim(x, self.dim, len(self.transforms), "len(transforms)", "x")
        _check_dim(y, self.dim, len(self.transforms), "len(transforms)", "y")
        terms = [
            t.log_abs_det_jacobian(xs, ys)
            for xs, ys, t in zip(self._slice(x), self._slice(y), self.transforms)
        ]
        return _rustdl.stack(terms, self.dim)

    @property
    def bijective(self) -> bool:  # type: ignore[override]
        return all(t.bijective for t in self.transforms)

    @property
    def domain(self) -> Any:  # type: ignore[override]
        return constraints.stack([t.domain for t in self.transforms], self.dim)

    @property
    def codomain(self) -> Any:  # type: ignore[override]
        return constraints.stack([t.codomain for t in self.transforms], self.dim)

    def __repr__(self) -> str:
        return f"StackTransform({self.transforms!r}, dim={self.dim})"
