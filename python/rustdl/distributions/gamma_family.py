"""``Gamma``, ``Beta``, ``Dirichlet``, ``Poisson`` and ``Binomial``.

Their densities need ``lgamma``, computed here with numpy as an autograd function (gradient:
digamma), so ``log_prob`` is differentiable in the parameters. Draws come from numpy's
generators seeded from rustdl's generator (``rustdl.manual_seed`` makes them reproducible).
Gamma, Beta and Dirichlet have ``rsample``: a Gamma draw's gradient to its concentration is the
implicit one, ``dx/dα = −(∂P(α, x)/∂α) / pdf(x)`` with ``P`` the regularized incomplete gamma
function (as PyTorch's); Poisson and Binomial are discrete (no ``rsample``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Number
from typing import ClassVar

import numpy as np

from .. import _rustdl
from .._rustdl import Tensor
from ..autograd import Function, once_differentiable
from . import constraints
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .utils import broadcast_all

__all__ = ["Beta", "Binomial", "Dirichlet", "Gamma", "Poisson", "lgamma"]


def _xlogy(x, y):
    from .._tensor_api import xlogy

    return xlogy(x, y)


def _lgamma_or_inf(v: float) -> float:
    # log|Γ| is +inf at the poles 0, -1, -2, ... (torch.lgamma), where math.lgamma raises
    try:
        return math.lgamma(v)
    except ValueError:
        return math.inf


_np_lgamma = np.vectorize(_lgamma_or_inf, otypes=[np.float64])


def _np_digamma(x: np.ndarray) -> np.ndarray:
    x = np.array(x, dtype=np.float64, copy=True)
    out = np.zeros_like(x)
    while True:  # recurrence ψ(x) = ψ(x + 1) - 1/x up to x ≥ 10 (the series is then < 1e-15 off)
        small = x < 10
        if not small.any():
            break
        out[small] -= 1.0 / x[small]
        x[small] += 1.0
    inv2 = 1.0 / (x * x)
    return (
        out
        + np.log(x)
        - 0.5 / x
        - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))))
    )


def _like(arr: np.ndarray, t: Tensor) -> Tensor:
    dt = np.float64 if t.dtype == _rustdl.float64 else np.float32
    return _rustdl.tensor(np.array(arr, dtype=dt, order="C"), dtype=t.dtype, device=t.device)


class _Digamma(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _like(_np_digamma(x.detach().cpu().numpy()), x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        from .._tensor_api import polygamma  # differentiable to any order

        return g * polygamma(1, x)


class _Lgamma(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _like(_np_lgamma(x.detach().cpu().numpy()), x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _Digamma.apply(x)


def lgamma(x: Tensor) -> Tensor:
    """``log|Γ(x)|`` elementwise, differentiable (gradient ``digamma(x)``)."""
    return _Lgamma.apply(x)


def digamma(x: Tensor) -> Tensor:
    """``ψ(x) = d/dx log Γ(x)`` elementwise, differentiable (gradient ``trigamma(x)``)."""
    return _Digamma.apply(x)


def _tiny(t: Tensor) -> float:
    return float(np.finfo(np.float64 if t.dtype == _rustdl.float64 else np.float32).tiny)


def _np_rng() -> np.random.Generator:
    """A numpy generator seeded from rustdl's generator (reproducible under ``rustdl.manual_seed``)."""
    return np.random.default_rng(int(_rustdl.randint(0, 2**31 - 1, (2,), device="cpu").sum().item()))


def _np_gammainc(a: np.ndarray, x: np.ndarray, upper: bool = False) -> np.ndarray:
    """The regularized incomplete gamma function ``P(a, x)`` (or ``Q = 1 − P`` with ``upper``) in
    float64: its power series where ``x < a + 1``, else the continued fraction of ``Q`` (modified
    Lentz), each summed until the terms fall below 1e-16 relative."""
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    a, x = a.copy(), x.copy()
    out = np.full(a.shape, np.nan)
    valid = (a > 0) & (x >= 0) & ~np.isnan(a) & ~np.isnan(x)
    zero = valid & (x == 0)
    out[zero] = 1.0 if upper else 0.0
    inf = valid & np.isinf(x)
    out[inf] = 0.0 if upper else 1.0
    rest = valid & ~zero & ~inf
    ser = rest & (x < a + 1)
    cf = rest & ~ser
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        if ser.any():
            aa, xx = a[ser], x[ser]
            term = 1.0 / aa
            total = term.copy()
            ap = aa.copy()
            active = np.ones(aa.shape, bool)
            for _ in range(100000):
                ap[active] += 1.0
                term[active] *= xx[active] / ap[active]
                total[active] += term[active]
                active &= np.abs(term) > np.abs(total) * 1e-16
                if not active.any():
                    break
            p = total * np.exp(-xx + aa * np.log(xx) - _np_lgamma(aa))
            out[ser] = 1.0 - p if upper else p
        if cf.any():
            aa, xx = a[cf], x[cf]
            tiny = 1e-300
            b = xx + 1.0 - aa
            c = np.full(aa.shape, 1.0 / tiny)
            d = 1.0 / b
            h = d.copy()
            active = np.ones(aa.shape, bool)
            for i in range(1, 100000):
                an = -i * (i - aa)
                b = b + 2.0
                d = an * d + b
                d = np.where(np.abs(d) < tiny, tiny, d)
                c = b + an / c
                c = np.where(np.abs(c) < tiny, tiny, c)
                d = 1.0 / d
                delta = d * c
                h = np.where(active, h * delta, h)
                active &= np.abs(delta - 1.0) > 1e-16
                if not active.any():
                    break
            q = np.exp(-xx + aa * np.log(xx) - _np_lgamma(aa)) * h
            out[cf] = q if upper else 1.0 - q
    return out


def _np_gamma_sample_grad(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``dx/da`` of a standard Gamma(a) draw ``x`` held at its quantile (implicit
    reparameterisation): ``−(∂P(a, x)/∂a) / pdf(x; a)``, ``∂P/∂a`` by central differences of the
    float64 ``P``; for tiny ``x`` the series' leading term gives ``x (ψ(a + 1) − ln x) / a``."""
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    big = a >= 500
    if big.any():  # the series would need thousands of terms: Wilson–Hilferty instead
        out = np.empty(a.shape)
        out[big] = _wilson_hilferty_grad(a[big], x[big])
        if (~big).any():
            out[~big] = _np_gamma_sample_grad(a[~big], x[~big])
        return out
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        h = 1e-5 * np.maximum(a, 1e-3)
        dp = (_np_gammainc(a + h, x) - _np_gammainc(a - h, x)) / (2 * h)
        logpdf = (a - 1) * np.log(x) - x - _np_lgamma(a)
        grad = -dp / np.exp(logpdf)
        small = x * (_np_digamma(a + 1) - np.log(x)) / a
        use_small = (x < 1e-10) | ~np.isfinite(grad)
        grad = np.where(use_small, small, grad)
        return np.where(x > 0, grad, 0.0)


def _wilson_hilferty_grad(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``dx/da`` at the draw's normal quantile ``z`` of the Wilson–Hilferty approximation
    ``x ≈ a (1 − 1/(9a) + z/(3√a))³`` (relative error below 2e-5 for ``a ≥ 500``)."""
    with np.errstate(all="ignore"):
        return _wilson_hilferty_grad_raw(a, x)


def _wilson_hilferty_grad_raw(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    s = np.sqrt(1 / (9 * a))
    z = (np.cbrt(x / a) - (1 - 1 / (9 * a))) / s
    t = 1 - 1 / (9 * a) + z * s
    dt = 1 / (9 * a * a) - z / (6 * a**1.5)
    return t**3 + 3 * a * t * t * dt


class _StandardGamma(Function):
    """Draws ``Gamma(alpha, 1)`` (numpy, seeded from rustdl's generator), clamped to the dtype's
    smallest normal number as PyTorch does; the gradient to ``alpha`` is the implicit one."""

    @staticmethod
    def forward(ctx, alpha, wide=False):
        a = alpha.detach().cpu().numpy().astype(np.float64)
        tiny = np.finfo(np.float64 if alpha.dtype == _rustdl.float64 else np.float32).tiny
        if alpha.device.type == "cpu":
            # PyTorch's draws (Marsaglia–Tsang from the CPU stream); ``wide``: in float64
            # arithmetic whatever the dtype, as PyTorch's Dirichlet draws its gammas
            single = alpha.dtype != _rustdl.float64 and not wide
            x = _rustdl._cpu_draw_each("gamma", a.ravel().tolist(), single).numpy().reshape(a.shape)
        else:
            x = _np_rng().standard_gamma(a)
        x = np.maximum(x, tiny)
        grad = np.zeros(a.shape)
        pos = a > 0  # alpha = 0 draws 0 (then tiny) with no gradient, as PyTorch's sampler
        if pos.any():
            grad[pos] = _np_gamma_sample_grad(a[pos], x[pos])
        ctx.grad = grad
        return _like(x, alpha)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        return g * _like(ctx.grad, g), None


def standard_gamma(concentration: Tensor, _wide: bool = False) -> Tensor:
    """A ``Gamma(concentration, 1)`` draw per element, differentiable in ``concentration`` by
    implicit reparameterisation (as PyTorch's ``_standard_gamma``)."""
    if not concentration.is_floating_point():
        concentration = concentration.float()
    return _StandardGamma.apply(concentration.contiguous(), _wide)


def _np_beta_cf(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The continued fraction of the regularized incomplete beta function,
    ``I_x(a, b) = x^a (1 − x)^b / (a B(a, b)) · cf``, in float64 by the modified Lentz method
    (it converges fast for ``x < (a + 1) / (a + b + 2)``)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < tiny, tiny, d)
    d = 1.0 / d
    h = d.copy()
    active = np.ones(x.shape, bool)
    for m in range(1, 20000):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = np.where(np.abs(d) < tiny, tiny, d)
            c = 1.0 + aa / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            d = 1.0 / d
            delta = d * c
            h = np.where(active, h * delta, h)
        active &= np.abs(delta - 1.0) > 1e-15
        if not active.any():
            break
    return h


def _np_beta_sample_grad(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(dx/da) / (1 − x)`` for ``x ~ Beta(a, b)`` held at its quantile (``b`` fixed): the implicit
    reparameterisation ``dx/da = −(∂I_x(a, b)/∂a) / pdf(x)`` with ``I`` the regularized incomplete
    beta function, divided by ``1 − x`` (PyTorch's ``_dirichlet_grad`` quantity).

    With ``I_x(a, b) = x^a (1 − x)^b cf / (a B(a, b))`` the ratio ``I / pdf`` is
    ``x (1 − x) cf / a`` and ``∂ log I / ∂a = log x − 1/a − ψ(a) + ψ(a + b) + ∂ log cf / ∂a``;
    only the smooth ``log cf`` is differentiated numerically (central differences in float64).
    Past the continued fraction's range the same is done for ``1 − I_x(a, b) = I_{1−x}(b, a)``.
    """
    x, a, b = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (x, a, b)))
    out = np.zeros(x.shape)
    ok = (x > 0) & (x < 1) & (a > 0) & (b > 0)
    if not ok.any():
        return out
    x, a, b = x[ok], a[ok], b[ok]
    lower = x < (a + 1.0) / (a + b + 2.0)
    dpsi = _np_digamma(a + b) - _np_digamma(a)
    res = np.empty(x.shape)
    with np.errstate(all="ignore"):
        if lower.any():
            xa, aa, ba = x[lower], a[lower], b[lower]
            h = 1e-5 * np.maximum(aa, 1e-3)
            h = np.minimum(h, 0.5 * aa)
            cf = _np_beta_cf(aa, ba, xa)
            dlog = (np.log(_np_beta_cf(aa + h, ba, xa)) - np.log(_np_beta_cf(aa - h, ba, xa))) / (2 * h)
            res[lower] = -(xa / aa) * cf * (np.log(xa) - 1.0 / aa + dpsi[lower] + dlog)
        upper = ~lower
        if upper.any():
            xb, ab, bb = x[upper], a[upper], b[upper]
            h = 1e-5 * np.maximum(ab, 1e-3)
            h = np.minimum(h, 0.5 * ab)
            y = 1.0 - xb
            cf = _np_beta_cf(bb, ab, y)
            dlog = (np.log(_np_beta_cf(bb, ab + h, y)) - np.log(_np_beta_cf(bb, ab - h, y))) / (2 * h)
            res[upper] = (xb / bb) * cf * (np.log(xb) + dpsi[upper] + dlog)
    out[ok] = np.where(np.isfinite(res), res, 0.0)
    return out


class _DirichletSample(Function):
    """Draws ``Dirichlet(concentration)`` (normalised standard Gamma draws, as PyTorch's, in
    float64 arithmetic) with PyTorch's implicit reparameterisation gradient: each ``x_i`` is held
    at its quantile of its ``Beta(α_i, α_0 − α_i)`` marginal, giving
    ``dx_j/dα_i = G_i (δ_ij − x_j)`` with ``G_i = (dx_i/dα_i) / (1 − x_i)``."""

    @staticmethod
    def forward(ctx, concentration):
        g = standard_gamma(concentration.detach(), _wide=True)
        x = g / g.sum(-1, keepdim=True)
        x = x.clamp(min=_tiny(x))
        a = concentration.detach().cpu().numpy().astype(np.float64)
        xs = x.detach().cpu().numpy().astype(np.float64)
        total = np.broadcast_to(a.sum(-1, keepdims=True), a.shape)
        ctx.grad = _np_beta_sample_grad(xs, a, total - a)
        ctx.x = xs
        return x

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        go = g.detach().cpu().numpy().astype(np.float64)
        grad = ctx.grad * (go - (ctx.x * go).sum(-1, keepdims=True))
        return _like(grad, g)


class _NoRsample(Distribution):
    has_rsample = False

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        raise NotImplementedError(
            f"{type(self).__name__}: rsample (reparameterised sampling) is not supported by rustdl"
        )

    def _draw(self, arr: np.ndarray, like: Tensor) -> Tensor:
        return _like(arr, like)


def _as_dtype_of(value, like: Tensor) -> Tensor:
    """``torch.as_tensor(value, dtype=like.dtype, device=like.device)`` (differentiable when
    ``value`` is a tensor; no copy when it already matches)."""
    if isinstance(value, Tensor):
        if value.dtype == like.dtype and value.device == like.device:
            return value
        return value.to(dtype=like.dtype, device=like.device)
    return _rustdl.tensor(value, dtype=like.dtype, device=like.device)


class Gamma(ExponentialFamily):
    """The Gamma distribution with ``concentration`` α and ``rate`` β:
    density ``β^α x^(α-1) e^(-βx) / Γ(α)`` on ``x > 0``."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "concentration": constraints.positive,
        "rate": constraints.positive,
    }
    support = constraints.nonnegative
    _mean_carrier_measure = 0

    def __init__(self, concentration, rate, validate_args: bool | None = None) -> None:
        self.concentration, self.rate = broadcast_all(concentration, rate)
        shape = (
            () if isinstance(concentration, Number) and isinstance(rate, Number) else tuple(self.rate.shape)
        )
        super().__init__(shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> Tensor:
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> Tensor:
        return self.concentration / self.rate.square()

    has_rsample = True

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """A reparameterised draw: ``standard_gamma(α) / β``, differentiable in both."""
        shape = self._extended_shape(sample_shape)
        x = standard_gamma(self.concentration.expand(*shape)) / self.rate.expand(*shape)
        return x.clamp(min=_tiny(x))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        # cast to the parameters' dtype (float32 Gamma + float64 value gives float32), as PyTorch
        value = _as_dtype_of(value, self.rate)
        a, b = self.concentration, self.rate
        # xlogy: 0 (not 0 · -inf) at value 0 when a == 1, as PyTorch
        return a * b.log() + _xlogy(a - 1, value) - b * value - lgamma(a)

    def cdf(self, value: Tensor) -> Tensor:
        """``P(α, βx)``, the regularized lower incomplete gamma function (differentiable in
        ``value``)."""
        if self._validate_args:
            self._validate_sample(value)
        from ..special import gammainc

        x = value if isinstance(value, Tensor) else _rustdl.tensor(value, dtype=self.rate.dtype)
        return gammainc(self.concentration, (self.rate * x).clamp(min=0))

    def entropy(self) -> Tensor:
        a = self.concentration
        return a - self.rate.log() + lgamma(a) + (1 - a) * digamma(a)

    @property
    def _natural_params(self) -> tuple[Tensor, Tensor]:
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x: Tensor, y: Tensor) -> Tensor:
        return lgamma(x + 1) + (x + 1) * (-y.reciprocal()).log()


class Dirichlet(ExponentialFamily):
    """The Dirichlet distribution over the simplex with ``concentration`` ``(*, k)``; event shape ``(k,)``."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "concentration": constraints.independent(constraints.positive, 1)
    }
    support = constraints.simplex

    def __init__(self, concentration, validate_args: bool | None = None) -> None:
        if not isinstance(concentration, Tensor) or concentration.dim() < 1:
            raise ValueError("Dirichlet: concentration must be a Tensor of at least one dimension")
        if not concentration.is_floating_point():
            concentration = concentration.float()
        self.concentration = concentration
        shape = tuple(concentration.shape)
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self) -> Tensor:
        """``(α − 1)⁺ / Σ(α − 1)⁺``; where every α < 1, the vertex of the largest α (PyTorch's)."""
        a = self.concentration
        am1 = (a - 1).clamp(min=0.0)
        mode = am1 / am1.sum(-1, keepdim=True)
        low = (a < 1).all(-1, keepdim=True)
        vertex = (a == a.amax(-1, keepdim=True)).to(a.dtype)
        vertex = vertex * (vertex.cumsum(-1) == 1).to(a.dtype)  # the first largest
        return _rustdl.where(low, vertex, mode)

    @property
    def variance(self) -> Tensor:
        a = self.concentration
        a0 = a.sum(-1, keepdim=True)
        return a * (a0 - a) / (a0.square() * (a0 + 1))

    has_rsample = True

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """A reparameterised draw: independent standard Gamma draws, normalised; the gradient to
        the concentration is the implicit one (PyTorch's), through each coordinate's Beta marginal."""
        shape = self._extended_shape(sample_shape)
        conc = self.concentration.expand(*shape)
        if not conc.is_floating_point():
            conc = conc.float()
        return _DirichletSample.apply(conc.contiguous())

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        a = self.concentration
        return _xlogy(a - 1, value).sum(-1) + lgamma(a.sum(-1)) - lgamma(a).sum(-1)

    def entropy(self) -> Tensor:
        a = self.concentration
        k = a.shape[-1]
        a0 = a.sum(-1)
        return lgamma(a).sum(-1) - lgamma(a0) - (k - a0) * digamma(a0) - ((a - 1) * digamma(a)).sum(-1)

    @property
    def _natural_params(self) -> tuple[Tensor]:
        return (self.concentration,)

    def _log_normalizer(self, x: Tensor) -> Tensor:
        return lgamma(x).sum(-1) - lgamma(x.sum(-1))


class Beta(ExponentialFamily):
    """The Beta distribution on ``(0, 1)``: density ``x^(α-1) (1-x)^(β-1) / B(α, β)``."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.unit_interval

    def __init__(self, concentration1, concentration0, validate_args: bool | None = None) -> None:
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        scalar = isinstance(concentration1, Number) and isinstance(concentration0, Number)
        super().__init__(() if scalar else tuple(self.concentration1.shape), validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self) -> Tensor:
        """The Dirichlet mode of ``(α, β)``, first coordinate (PyTorch's rule at α or β ≤ 1)."""
        a, b = self.concentration1, self.concentration0
        return Dirichlet(_rustdl.stack([a, b], -1), validate_args=False).mode[..., 0]

    @property
    def variance(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        t = a + b
        return a * b / (t.square() * (t + 1))

    has_rsample = True

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """A reparameterised draw: the first coordinate of ``Dirichlet([α, β])``."""
        conc = _rustdl.stack([self.concentration1, self.concentration0], -1)
        return Dirichlet(conc, validate_args=False).rsample(sample_shape)[..., 0]

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        # PyTorch stacks [value, 1 - value] (at least 1-d) for a Dirichlet, so a 0-d value takes part
        # in type promotion as a dimensioned tensor (float64 value + float32 Beta → float64)
        scalar = isinstance(value, Tensor) and value.dim() == 0
        if scalar:
            value = value.reshape(1)
        # xlogy: finite at the ends of [0, 1] where a or b is 1, as PyTorch
        out = _xlogy(a - 1, value) + _xlogy(b - 1, 1 - value) - (lgamma(a) + lgamma(b) - lgamma(a + b))
        return out.reshape(*self._batch_shape) if scalar else out

    def entropy(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        t = a + b
        return (
            lgamma(a)
            + lgamma(b)
            - lgamma(t)
            - (a - 1) * digamma(a)
            - (b - 1) * digamma(b)
            + (t - 2) * digamma(t)
        )

    @property
    def _natural_params(self) -> tuple[Tensor, Tensor]:
        return (self.concentration1, self.concentration0)

    def _log_normalizer(self, x: Tensor, y: Tensor) -> Tensor:
        return lgamma(x) + lgamma(y) - lgamma(x + y)


class Poisson(_NoRsample, ExponentialFamily):
    """The Poisson distribution with ``rate`` λ: ``P(k) = λ^k e^(-λ) / k!``."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args: bool | None = None) -> None:
        (self.rate,) = broadcast_all(rate)
        super().__init__(
            () if isinstance(rate, Number) else tuple(self.rate.shape), validate_args=validate_args
        )

    @property
    def mean(self) -> Tensor:
        return self.rate

    @property
    def mode(self) -> Tensor:
        return self.rate.floor()

    @property
    def variance(self) -> Tensor:
        return self.rate

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        if self.rate.device.type == "cpu":
            # PyTorch's draw: torch.poisson of the expanded rates
            from .._breadth_g import poisson

            return poisson(self.rate.detach().expand(*shape).contiguous())
        lam = np.broadcast_to(self.rate.detach().cpu().numpy(), shape)
        return self._draw(_np_rng().poisson(lam).astype(np.float64), self.rate)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        # broadcast first, as PyTorch (a 0-d float64 value of a batched float32 Poisson gives float64)
        r, value = broadcast_all(self.rate, value)
        term = _rustdl.where(value == 0, _rustdl.zeros_like(value * r), value * r.clamp(min=1e-300).log())
        return term - r - lgamma(value + 1)

    @property
    def _natural_params(self) -> tuple[Tensor]:
        return (self.rate.log(),)

    def _log_normalizer(self, x: Tensor) -> Tensor:
        return x.exp()


class Binomial(_NoRsample):
    """Successes in ``total_count`` Bernoulli(``probs``) trials; give ``probs`` or ``logits``."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "total_count": constraints.nonnegative_integer,
        "probs": constraints.unit_interval,
        "logits": constraints.real,
    }

    def __init__(self, total_count=1, probs=None, logits=None, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Binomial: either `probs` or `logits` must be specified, but not both.")
        given = probs if probs is not None else logits
        self.total_count, p = broadcast_all(total_count, given)
        self.probs = p if probs is not None else p.sigmoid()
        scalar = isinstance(total_count, Number) and isinstance(given, Number)
        super().__init__(() if scalar else tuple(self.probs.shape), validate_args=validate_args)

    has_enumerate_support = True

    @property
    def param_shape(self) -> tuple[int, ...]:
        """The shape of the probabilities (or logits) parameter."""
        return tuple(self.probs.shape)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):  # type: ignore[override]
        return constraints.integer_interval(0, self.total_count)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """The values ``0, 1, …, total_count`` along a new leading dim (``(n + 1, 1, …)``, or
        ``(n + 1, *batch_shape)`` with ``expand``); ``total_count`` must be the same across the
        batch (``NotImplementedError`` otherwise, as PyTorch)."""
        counts = self.total_count.detach()
        n = int(counts.max().item()) if counts.numel() else 0
        if counts.numel() and int(counts.min().item()) != n:
            raise NotImplementedError("Inhomogeneous total count not supported by `enumerate_support`.")
        values = _rustdl.arange(1 + n, dtype=self.probs.dtype, device=self.probs.device)
        values = values.reshape(-1, *([1] * len(self._batch_shape)))
        if expand:
            values = values.expand(-1, *self._batch_shape)
        return values

    @property
    def logits(self) -> Tensor:
        return self.probs.log() - (1 - self.probs).log()

    @property
    def mean(self) -> Tensor:
        return self.total_count * self.probs

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    @property
    def mode(self) -> Tensor:
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    def entropy(self) -> Tensor:
        """``−Σ_k P(k) log P(k)`` over the support ``0..n`` (one ``total_count`` for the batch,
        as PyTorch)."""
        counts = self.total_count.detach().cpu().numpy()
        n = int(counts.max()) if counts.size else 0
        if counts.size and counts.min() != n:
            raise NotImplementedError("Binomial.entropy: inhomogeneous total_count is not supported")
        ks = _rustdl.arange(n + 1, dtype=self.probs.dtype, device=self.probs.device)
        ks = ks.reshape(n + 1, *([1] * self.probs.dim()))
        lp = self.log_prob(ks.expand(n + 1, *self.probs.shape)) if self.probs.dim() else self.log_prob(ks)
        return -(lp.exp() * lp).sum(0)

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        if self.probs.device.type == "cpu":
            # PyTorch's draw: torch.binomial of the expanded counts and probabilities
            from .._breadth_g import binomial

            probs = self.probs.detach().expand(*shape).contiguous()
            count = self.total_count.detach().to(probs.dtype).expand(*shape).contiguous()
            return binomial(count, probs)
        n = np.broadcast_to(self.total_count.detach().cpu().numpy(), shape).astype(np.int64)
        p = np.broadcast_to(self.probs.detach().cpu().numpy(), shape)
        return self._draw(_np_rng().binomial(n, p).astype(np.float64), self.probs)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        n, p = self.total_count, self.probs
        log_comb = lgamma(n + 1) - lgamma(value + 1) - lgamma(n - value + 1)
        zero = _rustdl.zeros_like(value * p)
        t1 = _rustdl.where(value == 0, zero, value * p.clamp(min=1e-300).log())
        t2 = _rustdl.where(value == n, zero, (n - value) * (1 - p).clamp(min=1e-300).log())
        return log_comb + t1 + t2
