"""Invertible transforms for :class:`TransformedDistribution`, as
``torch.distributions.transforms``: ``ExpTransform``, ``AffineTransform``, ``SigmoidTransform``,
``TanhTransform``, ``PowerTransform``, ``AbsTransform``, ``SoftmaxTransform``,
``StickBreakingTransform``, ``LowerCholeskyTransform``, ``CumulativeDistributionTransform``,
``IndependentTransform``, ``ReshapeTransform`` and ``ComposeTransform``.

``cache_size=1`` keeps the last ``(x, y)`` pair: the inverse of that very ``y`` object returns
``x`` itself (so ``log_prob`` of a tanh-squashed sample sees the pre-image exactly, not
``atanh(±1) = ±inf``)."""

from __future__ import annotations

import math
from numbers import Number
from typing import Any

from .._rustdl import Tensor
from . import constraints
from .utils import finfo_eps, finfo_tiny, softplus

__all__ = [
    "AbsTransform",
    "AffineTransform",
    "ComposeTransform",
    "CumulativeDistributionTransform",
    "ExpTransform",
    "IndependentTransform",
    "LowerCholeskyTransform",
    "PowerTransform",
    "ReshapeTransform",
    "SigmoidTransform",
    "SoftmaxTransform",
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
    codomain = constraints.independent(constraints.real, 2)

    def _call(self, x: Tensor) -> Tensor:
        return x.tril(-1) + x.diagonal(dim1=-2, dim2=-1).exp().diag_embed()

    def _inverse(self, y: Tensor) -> Tensor:
        return y.tril(-1) + y.diagonal(dim1=-2, dim2=-1).log().diag_embed()


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
