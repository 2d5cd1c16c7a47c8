"""Invertible elementwise transforms for :class:`TransformedDistribution`, as
``torch.distributions.transforms``: ``ExpTransform``, ``AffineTransform``, ``SigmoidTransform``,
``StickBreakingTransform`` and ``ComposeTransform``."""

from __future__ import annotations

from numbers import Number
from typing import Any

from .._rustdl import Tensor
from . import constraints
from .utils import finfo_eps, finfo_tiny, softplus

__all__ = [
    "AffineTransform",
    "ComposeTransform",
    "ExpTransform",
    "SigmoidTransform",
    "StickBreakingTransform",
    "Transform",
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

    def __call__(self, x: Tensor) -> Tensor:
        return self._call(x)

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

    def __init__(self, loc: Any, scale: Any, event_dim: int = 0) -> None:
        self.loc = loc
        self.scale = scale
        self.event_dim = event_dim

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

    def __init__(self, parts: list[Transform]) -> None:
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
            y = p.inv(y)
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
