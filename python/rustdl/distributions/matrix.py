"""``InverseGamma``, ``Wishart`` and ``LKJCholesky``, with PyTorch's parameterisations:
densities from rustdl tensor ops (differentiable in the parameters), reparameterised draws
through the implicit Gamma gradients where PyTorch has ``rsample``."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from numbers import Number
from typing import ClassVar

import numpy as np

from .. import _rustdl
from .. import linalg as _linalg
from .._rustdl import Tensor
from . import constraints
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .extra import Chi2
from .gamma_family import Beta, Gamma, digamma, lgamma
from .heavy_tails import TransformedDistribution
from .transforms import PowerTransform
from .utils import broadcast_all, finfo_tiny, lazy_property

__all__ = ["InverseGamma", "LKJCholesky", "Wishart"]


def _mvlgamma(a: Tensor, p: int) -> Tensor:
    """``log Γ_p(a) = p(p−1)/4 · log π + Σ_{j<p} log Γ(a − j/2)`` (differentiable in ``a``)."""
    out = a * 0 + p * (p - 1) / 4 * math.log(math.pi)
    for j in range(p):
        out = out + lgamma(a - 0.5 * j)
    return out


class InverseGamma(TransformedDistribution):
    """The distribution of ``1 / X`` for ``X ~ Gamma(concentration, rate)``: density
    ``β^α x^(−α−1) e^(−β/x) / Γ(α)`` on ``x > 0`` (``rsample`` reparameterised)."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "concentration": constraints.positive,
        "rate": constraints.positive,
    }
    support = constraints.positive

    def __init__(self, concentration, rate, validate_args: bool | None = None) -> None:
        base = Gamma(concentration, rate, validate_args=validate_args)
        neg_one = -base.rate.new_ones(())
        super().__init__(base, PowerTransform(neg_one), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> InverseGamma:
        new = self._get_checked_instance(InverseGamma, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def concentration(self) -> Tensor:
        return self.base_dist.concentration

    @property
    def rate(self) -> Tensor:
        return self.base_dist.rate

    @property
    def mean(self) -> Tensor:
        a, b = self.concentration, self.rate
        inf = _rustdl.full_like(b.detach(), math.inf)
        return _rustdl.where(a > 1, b / (a - 1).clamp(min=1e-30), inf)

    @property
    def mode(self) -> Tensor:
        return self.rate / (self.concentration + 1)

    @property
    def variance(self) -> Tensor:
        a, b = self.concentration, self.rate
        inf = _rustdl.full_like(b.detach(), math.inf)
        return _rustdl.where(a > 2, b.square() / ((a - 1).square() * (a - 2)).clamp(min=1e-30), inf)

    def entropy(self) -> Tensor:
        a, b = self.concentration, self.rate
        return a + b.log() + lgamma(a) - (1 + a) * digamma(a)


class Wishart(ExponentialFamily):
    """The Wishart distribution over ``p × p`` positive-definite matrices with ``df`` degrees of
    freedom (``df > p − 1``) and scale given by exactly one of ``covariance_matrix``,
    ``precision_matrix`` or ``scale_tril``; event shape ``(p, p)``.

    Built as PyTorch's: the unbroadcast Cholesky factor ``_unbroadcasted_scale_tril`` is set at
    construction (the given matrix is kept, the other two are lazy), and draws use the Bartlett
    decomposition ``L A Aᵀ Lᵀ`` from ``_dist_chi2`` (a ``Chi2`` with ``df − i`` on row ``i``) and
    ``randn`` below the diagonal, in PyTorch's order, so seeded draws are PyTorch's; differentiable
    in ``df`` and the scale."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
        "df": constraints.greater_than(0),
    }
    _checked_when_given: ClassVar[tuple[str, ...]] = ("covariance_matrix", "precision_matrix", "scale_tril")
    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(
        self,
        df,
        covariance_matrix=None,
        precision_matrix=None,
        scale_tril=None,
        validate_args: bool | None = None,
    ) -> None:
        op = "Wishart"
        given = [
            (n, m)
            for n, m in (
                ("covariance_matrix", covariance_matrix),
                ("precision_matrix", precision_matrix),
                ("scale_tril", scale_tril),
            )
            if m is not None
        ]
        if len(given) != 1:
            raise ValueError(
                f"{op}: exactly one of covariance_matrix or precision_matrix or scale_tril may be specified."
            )
        name, mat = given[0]
        if not isinstance(mat, Tensor) or mat.dim() < 2 or mat.shape[-1] != mat.shape[-2]:
            raise ValueError(f"{op}: the matrix argument must be a square Tensor of at least two dimensions.")
        p = mat.shape[-1]
        if isinstance(df, Number):
            batch = tuple(mat.shape[:-2])
            self.df = _rustdl.tensor(float(df), dtype=mat.dtype, device=mat.device)
        elif isinstance(df, Tensor):
            batch = tuple(_broadcast_shapes(tuple(mat.shape[:-2]), tuple(df.shape)))
            self.df = df.expand(*batch)
        else:
            raise TypeError(f"{op}: df must be a number or a Tensor, got {type(df).__name__}")
        from .more import _check_matrix, _precision_to_scale_tril

        _check_matrix(self, validate_args, covariance_matrix, precision_matrix, scale_tril)
        if bool((self.df <= p - 1).any().item()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {p - 1}.")
        setattr(self, name, mat.expand(*batch, p, p))
        if bool((self.df < p).any().item()):
            warnings.warn(
                "Low df values detected. Singular samples are highly likely to occur for ndim - 1 < df < ndim.",
                stacklevel=2,
            )
        super().__init__(batch, (p, p), validate_args=validate_args)
        self._batch_dims = [-(x + 1) for x in range(len(self._batch_shape))]
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = _linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)
        self._dist_chi2 = self._make_chi2(self.df, batch)

    def _make_chi2(self, df: Tensor, batch: tuple[int, ...]) -> Chi2:
        p = self._event_shape[-1]
        L = self._unbroadcasted_scale_tril
        rows = _rustdl.arange(p, dtype=L.dtype, device=L.device).expand(*batch, p)
        return Chi2(df=df.unsqueeze(-1) - rows)

    def expand(self, batch_shape: Sequence[int], _instance=None) -> Wishart:
        """This distribution with its batch shape expanded to ``batch_shape`` (views, no copies)."""
        new = self._get_checked_instance(Wishart, _instance)
        batch = tuple(int(s) for s in batch_shape)
        cov_shape = (*batch, *self._event_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(*cov_shape)
        new.df = self.df.expand(*batch)
        new._batch_dims = [-(x + 1) for x in range(len(batch))]
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, getattr(self, name).expand(*cov_shape))
        super(Wishart, new).__init__(batch, self._event_shape, validate_args=False)
        new._dist_chi2 = new._make_chi2(new.df, batch)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self) -> tuple[int, ...]:
        return (*self._batch_shape, *self._event_shape)

    @lazy_property
    def scale_tril(self) -> Tensor:
        return self._unbroadcasted_scale_tril.expand(*self._matrix_shape())

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        return (L @ L.mT).expand(*self._matrix_shape())

    @lazy_property
    def precision_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        eye = _rustdl.eye(L.shape[-1], dtype=L.dtype, device=L.device)
        return _linalg.cholesky_solve(eye.expand(*L.shape), L).expand(*self._matrix_shape())

    def _df_matrix(self) -> Tensor:
        return self.df.expand(*self._batch_shape)[..., None, None]

    @property
    def mean(self) -> Tensor:
        return self._df_matrix() * self.covariance_matrix

    @property
    def mode(self) -> Tensor:
        factor = self.df - self._event_shape[-1] - 1
        nan = _rustdl.full_like(factor.detach(), math.nan)
        factor = _rustdl.where(factor > 0, factor, nan)
        return factor.expand(*self._batch_shape)[..., None, None] * self.covariance_matrix

    @property
    def variance(self) -> Tensor:
        cov = self.covariance_matrix
        diag = cov.diagonal(dim1=-2, dim2=-1)
        return self._df_matrix() * (cov.square() + diag[..., :, None] * diag[..., None, :])

    def _bartlett_sampling(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """One Bartlett draw: the diagonal ``√χ²(df − i)`` (clamped to eps) first, then ``randn`` for
        the ``p(p−1)/2`` entries below it in row-major order (PyTorch's draws, in its order)."""
        p = self._event_shape[-1]
        sample_shape = tuple(sample_shape)
        diag = self._dist_chi2.rsample(sample_shape).sqrt()
        diag = diag.clamp(
            min=float(np.finfo(np.float64 if diag.dtype == _rustdl.float64 else np.float32).eps)
        )
        shape = (*sample_shape, *self._batch_shape)
        below = _rustdl.randn((*shape, p * (p - 1) // 2), dtype=diag.dtype, device=diag.device)
        rows, cols = np.tril_indices(p, -1)
        flat = _rustdl.zeros((*shape, p * p), dtype=diag.dtype, device=diag.device)
        flat[..., _rustdl.tensor((rows * p + cols).tolist(), dtype=_rustdl.int64, device=diag.device)] = below
        noise = diag.diag_embed() + flat.reshape(*shape, p, p)
        chol = self._unbroadcasted_scale_tril @ noise
        return chol @ chol.mT

    def _flags(self, sample: Tensor) -> np.ndarray:
        ok = self.support.check(sample)
        if self._batch_shape:
            ok = ok.reshape(*ok.shape[: ok.dim() - len(self._batch_shape)], -1).any(-1)
        return ok.cpu().numpy().astype(bool)

    def rsample(self, sample_shape: Sequence[int] = (), max_try_correction: int | None = None) -> Tensor:
        """A Bartlett draw, with PyTorch's correction loop (the same seeded stream and warning).

        PyTorch's loop starts from ``support.check(sample)`` itself, true for a positive-definite
        draw: it warns "Singular sample detected." and draws every such sample once more (then
        stops, the redraws being positive-definite), which is reproduced here."""
        if max_try_correction is None:
            max_try_correction = 10
        sample_shape = (sample_shape,) if isinstance(sample_shape, int) else tuple(sample_shape)
        sample = self._bartlett_sampling(sample_shape)
        flag = self._flags(sample)  # shape sample_shape
        if flag.any():
            warnings.warn("Singular sample detected.", stacklevel=2)
            tail = tuple(sample.shape[len(sample_shape) :])
            flat = sample.reshape(-1, *tail)
            flag = flag.reshape(-1)
            for _ in range(max_try_correction):
                idx = np.nonzero(flag)[0]
                new = self._bartlett_sampling((len(idx),))
                flat = flat.index_copy(
                    0, _rustdl.tensor(idx.tolist(), dtype=_rustdl.int64, device=flat.device), new
                )
                flag[idx] = ~self._flags(new)
                if not flag.any():
                    break
            sample = flat.reshape(*sample_shape, *tail)
        return sample

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        p = self._event_shape[-1]
        nu = self.df
        L = self.scale_tril
        logdet_scale = 2 * self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        logdet_x = _linalg.slogdet(value)[1]
        # tr(Σ⁻¹ X) with Σ = L Lᵀ: solve L Y = X, then Lᵀ Z = Y
        Y = _linalg.solve_triangular(L, value, upper=False)
        Z = _linalg.solve_triangular(L.transpose(-2, -1), Y, upper=True)
        trace = Z.diagonal(dim1=-2, dim2=-1).sum(-1)
        return (
            0.5 * (nu - p - 1) * logdet_x
            - 0.5 * trace
            - 0.5 * nu * p * math.log(2)
            - 0.5 * nu * logdet_scale
            - _mvlgamma(0.5 * nu, p)
        )

    def entropy(self) -> Tensor:
        p = self._event_shape[-1]
        nu = self.df
        logdet_scale = 2 * self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        psi = sum(digamma(0.5 * (nu - j)) for j in range(p))
        return (
            0.5 * (p + 1) * logdet_scale
            + 0.5 * p * (p + 1) * math.log(2)
            + _mvlgamma(0.5 * nu, p)
            - 0.5 * (nu - p - 1) * psi
            + 0.5 * nu * p
        )

    @property
    def _natural_params(self) -> tuple[Tensor, Tensor]:
        return (-self.precision_matrix / 2, (self.df - self._event_shape[-1] - 1) / 2)

    def _log_normalizer(self, x: Tensor, y: Tensor) -> Tensor:
        p = self._event_shape[-1]
        a = y + (p + 1) / 2
        return a * (-_linalg.slogdet(-2 * x).logabsdet + p * math.log(2)) + _mvlgamma(a, p)


class LKJCholesky(Distribution):
    """The LKJ distribution over Cholesky factors ``L`` of ``dim × dim`` correlation matrices:
    density ∝ ``det(L Lᵀ)^(concentration − 1)`` in the correlation matrix, expressed in ``L``
    (PyTorch's normalisation). Draws use the onion method."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim: int, concentration=1.0, validate_args: bool | None = None) -> None:
        if not isinstance(dim, int) or dim < 2:
            raise ValueError(f"LKJCholesky: expected dim to be an integer of at least 2, got {dim!r}")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        batch = tuple(self.concentration.shape)
        # the onion method's Beta marginals, one per row
        offset = _rustdl.arange(dim - 1, dtype=self.concentration.dtype, device=self.concentration.device)
        offset = _rustdl.cat([offset.new_zeros(1), offset])
        marginal = self.concentration + 0.5 * (dim - 2)
        self._beta_conc1 = offset + 0.5
        self._beta_conc0 = marginal.unsqueeze(-1) - 0.5 * offset
        super().__init__(batch, (dim, dim), validate_args=validate_args)

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        from ..autograd import no_grad

        with no_grad():
            shape = tuple(sample_shape) + tuple(self.batch_shape)
            c1 = self._beta_conc1.expand(*shape, self.dim)
            c0 = self._beta_conc0.expand(*shape, self.dim)
            y = Beta(c1, c0, validate_args=False).sample().unsqueeze(-1)
            u = _rustdl.randn(*shape, self.dim, self.dim, dtype=c1.dtype, device=c1.device).tril(-1)
            norm = u.norm(dim=-1, keepdim=True)
            sphere = u / _rustdl.where(norm > 0, norm, _rustdl.ones_like(norm))
            w = y.sqrt() * sphere
            diag = (1 - w.square().sum(-1)).clamp(min=finfo_tiny(w)).sqrt()
            return w + diag.diag_embed()

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        d = self.dim
        diag = value.diagonal(dim1=-2, dim2=-1)[..., 1:]
        order = _rustdl.arange(2, d + 1, dtype=value.dtype, device=value.device)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + d - order
        unnormalized = (order * diag.log()).sum(-1)
        dm1 = d - 1
        alpha = self.concentration + 0.5 * dm1
        normalize = 0.5 * dm1 * math.log(math.pi) + _mvlgamma(alpha - 0.5, dm1) - lgamma(alpha) * dm1
        return unnormalized - normalize


def _broadcast_shapes(*shapes):
    import numpy as np

    return np.broadcast_shapes(*shapes)
