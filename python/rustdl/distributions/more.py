"""``Laplace``, ``Exponential``, ``LogNormal``, ``Geometric``, ``Independent`` and
``MultivariateNormal``, composed from rustdl tensor ops (differentiable where PyTorch's are)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Number
from typing import Any, ClassVar

from .. import _rustdl
from .. import linalg as _linalg
from .._rustdl import Tensor
from . import constraints
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import ExpTransform
from .utils import broadcast_all, finfo_eps, lazy_property

__all__ = [
    "Exponential",
    "Geometric",
    "Independent",
    "Laplace",
    "LogNormal",
    "MixtureSameFamily",
    "MultivariateNormal",
]

_LOG_2PI = math.log(2 * math.pi)


def _uniform(shape, like: Tensor, low_eps: bool = True) -> Tensor:
    """Uniform draws in (0, 1) (open at 0 when ``low_eps``) of ``shape``, dtype/device of ``like``."""
    u = _rustdl.rand(shape, dtype=like.dtype, device=like.device)
    return u.clamp(min=finfo_eps(like), max=1 - finfo_eps(like)) if low_eps else u


class _LocScale(Distribution):
    """A real-valued distribution with a location ``loc`` and a positive ``scale`` (broadcast
    together; a batch shape of ``()`` when both are numbers), reparameterised sampling."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        shape = () if isinstance(loc, Number) and isinstance(scale, Number) else tuple(self.loc.shape)
        super().__init__(shape, validate_args=validate_args)


class Laplace(_LocScale):
    """The Laplace distribution: density ``exp(-|x - loc| / scale) / (2 scale)``."""

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return 2 * self.scale.square()

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """Inverse-CDF draw ``loc - scale·sign(u)·log1p(-|u|)``, ``u ~ U(eps - 1, 1)`` drawn by
        ``uniform_`` as PyTorch's (the same seeded values): differentiable."""
        eps = finfo_eps(self.loc)
        u = _rustdl.empty(self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        u = u.uniform_(eps - 1, 1)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value: Tensor) -> Tensor:
        z = (value - self.loc) / self.scale
        return 0.5 - 0.5 * z.sign() * ((-z.abs()).exp() - 1)

    def icdf(self, value: Tensor) -> Tensor:
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (-2 * term.abs()).log1p()

    def entropy(self) -> Tensor:
        return 1 + (2 * self.scale).log()


class Exponential(ExponentialFamily):
    """The exponential distribution with ``rate``: density ``rate·exp(-rate·x)`` on ``x ≥ 0``."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, rate, validate_args: bool | None = None) -> None:
        (self.rate,) = broadcast_all(rate)
        shape = () if isinstance(rate, Number) else tuple(self.rate.shape)
        super().__init__(shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.rate.reciprocal()

    @property
    def mode(self) -> Tensor:
        return _rustdl.zeros_like(self.rate)

    @property
    def variance(self) -> Tensor:
        return self.rate.square().reciprocal()

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """``-log(u) / rate``, ``u ~ U(0, 1)``: differentiable in ``rate``."""
        shape = self._extended_shape(sample_shape)
        if self.rate.device.type == "cpu":
            # PyTorch's draw: standard exponentials divided by the rate
            return _rustdl.empty(shape, dtype=self.rate.dtype).exponential_() / self.rate
        return -_uniform(shape, self.rate).log() / self.rate

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value: Tensor) -> Tensor:
        return 1 - (-self.rate * value).exp()

    def icdf(self, value: Tensor) -> Tensor:
        return -(-value).log1p() / self.rate

    def entropy(self) -> Tensor:
        return 1.0 - self.rate.log()

    @property
    def _natural_params(self) -> tuple[Tensor]:
        return (-self.rate,)

    def _log_normalizer(self, x: Tensor) -> Tensor:
        return -(-x).log()


class LogNormal(TransformedDistribution):
    """``exp(X)`` for ``X ~ Normal(loc, scale)``: a :class:`TransformedDistribution` of that
    normal (``base_dist``) through ``ExpTransform()``, as PyTorch's."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc, scale, validate_args: bool | None = None) -> None:
        base = Normal(loc, scale, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> LogNormal:
        new = self._get_checked_instance(LogNormal, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def loc(self) -> Tensor:
        return self.base_dist.loc

    @property
    def scale(self) -> Tensor:
        return self.base_dist.scale

    @property
    def mean(self) -> Tensor:
        return (self.loc + self.scale.square() / 2).exp()

    @property
    def mode(self) -> Tensor:
        return (self.loc - self.scale.square()).exp()

    @property
    def variance(self) -> Tensor:
        s2 = self.scale.square()
        return s2.expm1() * (2 * self.loc + s2).exp()

    def entropy(self) -> Tensor:
        return self.base_dist.entropy() + self.loc


class Geometric(Distribution):
    """Number of failures before the first success of Bernoulli(``probs``) trials:
    ``P(k) = (1 - p)^k · p``. Give ``probs`` or ``logits``."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "probs": constraints.unit_interval,
        "logits": constraints.real,
    }
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Geometric: either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
        else:
            (lg,) = broadcast_all(logits)
            self.probs = lg.sigmoid()
        given = probs if probs is not None else logits
        shape = () if isinstance(given, Number) else tuple(self.probs.shape)
        super().__init__(shape, validate_args=validate_args)
        if self._validate_args and not bool((self.probs > 0).all().item()):
            raise ValueError("Geometric: probs must be in (0, 1]")

    @property
    def logits(self) -> Tensor:
        return self.probs.log() - (1 - self.probs).log()

    @property
    def mean(self) -> Tensor:
        return 1.0 / self.probs - 1.0

    @property
    def mode(self) -> Tensor:
        return _rustdl.zeros_like(self.probs)

    @property
    def variance(self) -> Tensor:
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        from ..autograd import no_grad

        with no_grad():
            u = _uniform(self._extended_shape(sample_shape), self.probs)
            return (u.log() / (1 - self.probs).clamp(min=finfo_eps(self.probs)).log()).floor()

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        # broadcast first, as PyTorch (a 0-d float64 value of a batched float32 Geometric gives float64)
        value, probs = broadcast_all(value, self.probs)
        q = 1 - probs
        # value·log(1-p), taken as 0 where value = 0 (p = 1 included)
        term = _rustdl.where(value == 0, _rustdl.zeros_like(value * q), value * q.clamp(min=1e-300).log())
        return term + probs.log()

    def entropy(self) -> Tensor:
        p = self.probs
        q = 1 - p
        qlogq = _rustdl.where(q == 0, _rustdl.zeros_like(q), q * q.clamp(min=1e-300).log())
        return -(qlogq + p * p.log()) / p


class Independent(Distribution):
    """Reinterprets the rightmost ``reinterpreted_batch_ndims`` batch dims of ``base_distribution``
    as event dims: ``log_prob`` sums over them."""

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_dist}, {self.reinterpreted_batch_ndims})"

    def __init__(
        self, base_distribution: Distribution, reinterpreted_batch_ndims: int, validate_args=None
    ) -> None:
        if not isinstance(base_distribution, Distribution):
            raise TypeError(
                f"Independent: base_distribution must be a Distribution, got {type(base_distribution).__name__}"
            )
        n = reinterpreted_batch_ndims
        shape = base_distribution.batch_shape + base_distribution.event_shape
        if not isinstance(n, int) or n < 0 or n > len(base_distribution.batch_shape):
            raise ValueError(
                f"Independent: reinterpreted_batch_ndims must be in [0, {len(base_distribution.batch_shape)}], got {n}"
            )
        cut = len(base_distribution.batch_shape) - n
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = n
        super().__init__(shape[:cut], shape[cut:], validate_args=False)
        if validate_args is not None:
            self._validate_args = validate_args

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_rsample

    @property
    def support(self) -> Any:  # type: ignore[override]
        # the base support with the reinterpreted dims folded into the event, as PyTorch
        # (its check answers once per batch entry)
        base = self.base_dist.support
        if self.reinterpreted_batch_ndims and not constraints.is_dependent(base):
            return constraints.independent(base, self.reinterpreted_batch_ndims)
        return base

    @property
    def mean(self) -> Tensor:
        return self.base_dist.mean

    @property
    def mode(self) -> Tensor:
        return self.base_dist.mode

    @property
    def variance(self) -> Tensor:
        return self.base_dist.variance

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        return self.base_dist.rsample(sample_shape)

    def _sum_rightmost(self, x: Tensor) -> Tensor:
        n = self.reinterpreted_batch_ndims
        return x.sum(tuple(range(-n, 0))) if n else x

    def log_prob(self, value: Tensor) -> Tensor:
        return self._sum_rightmost(self.base_dist.log_prob(value))

    def entropy(self) -> Tensor:
        return self._sum_rightmost(self.base_dist.entropy())


def _batch_mv(mat: Tensor, vec: Tensor) -> Tensor:
    return (mat @ vec.unsqueeze(-1)).squeeze(-1)


def _numel(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _batch_mahalanobis(L: Tensor, x: Tensor) -> Tensor:
    """``|L⁻¹ x|²`` over the last dim, broadcasting ``L``'s batch ``(*b, k, k)`` with ``x``'s
    ``(*, k)``. Leading dims of ``x`` beyond ``L``'s batch become extra right-hand-side columns
    of one triangular solve (no copy of ``L`` per sample)."""
    import numpy as np

    k = L.shape[-1]
    bl, bx = tuple(L.shape[:-2]), tuple(x.shape[:-1])
    full = tuple(np.broadcast_shapes(bl, bx))
    extra = len(full) - len(bl)
    if extra > 0 and full[extra:] == bl:
        n = _numel(full[:extra])
        cols = x.expand(*full, k).reshape(n, *bl, k).movedim(0, -1)  # (*bl, k, n)
        z = _linalg.solve_triangular(L, cols, upper=False)
        return z.square().sum(-2).movedim(-1, 0).reshape(*full)
    z = _linalg.solve_triangular(L.expand(*full, k, k), x.expand(*full, k).unsqueeze(-1), upper=False)
    return z.squeeze(-1).square().sum(-1)


def _precision_to_scale_tril(P: Tensor) -> Tensor:
    """The lower Cholesky factor of ``P⁻¹`` without inverting ``P``: with ``J`` the exchange
    matrix, ``J P J = F Fᵀ`` (Cholesky) gives ``P = U Uᵀ`` for the upper-triangular
    ``U = J F J``, so ``P⁻¹ = U⁻ᵀ (U⁻ᵀ)ᵀ`` and ``U⁻ᵀ`` (lower, positive diagonal) is the factor:
    one triangular solve ``Uᵀ X = I``."""
    U = _linalg.cholesky(P.flip(-2, -1)).flip(-2, -1)
    eye = _rustdl.eye(P.shape[-1], dtype=P.dtype, device=P.device).expand(*U.shape)
    return _linalg.solve_triangular(U.mT, eye, upper=False)


def _check_matrix(dist: Distribution, validate_args, covariance_matrix, precision_matrix, scale_tril) -> None:
    """Checks the one given matrix of a MultivariateNormal or Wishart before it is factorised:
    a covariance or precision must be symmetric positive-definite, a ``scale_tril``
    lower-triangular with a positive diagonal (PyTorch's ``ValueError`` otherwise; a
    non-symmetric covariance would else be read through its lower triangle alone)."""
    if not dist._validating(validate_args):
        return
    for name, mat, constraint in (
        ("covariance_matrix", covariance_matrix, constraints.positive_definite),
        ("precision_matrix", precision_matrix, constraints.positive_definite),
        ("scale_tril", scale_tril, constraints.lower_cholesky),
    ):
        if mat is not None:
            dist._check_parameter(name, mat, constraint)


class MultivariateNormal(Distribution):
    """The multivariate normal with mean ``loc`` (``(*, k)``) and exactly one of
    ``covariance_matrix``, ``precision_matrix`` or ``scale_tril`` (``(*, k, k)``); event shape ``(k,)``.

    As PyTorch's, everything goes through the (unbroadcast) Cholesky factor
    ``_unbroadcasted_scale_tril``, set at construction; the given matrix is stored expanded to
    ``batch_shape + event_shape + event_shape`` and the other two are lazy properties computed from
    the factor (subclasses such as gpytorch's rely on these names). ``rsample``, ``log_prob`` and
    ``entropy`` are differentiable in every parameter.
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "loc": constraints.real_vector,
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
    }
    support = constraints.real_vector
    _checked_when_given: ClassVar[tuple[str, ...]] = ("covariance_matrix", "precision_matrix", "scale_tril")
    has_rsample = True

    def __init__(
        self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None
    ) -> None:
        op = "MultivariateNormal"
        if not isinstance(loc, Tensor) or loc.dim() < 1:
            raise ValueError(f"{op}: loc must be at least one-dimensional Tensor.")
        if (covariance_matrix is not None) + (precision_matrix is not None) + (scale_tril is not None) != 1:
            raise ValueError(
                f"{op}: exactly one of covariance_matrix or precision_matrix or scale_tril may be specified."
            )
        name, mat = next(
            (n, m)
            for n, m in (
                ("scale_tril", scale_tril),
                ("covariance_matrix", covariance_matrix),
                ("precision_matrix", precision_matrix),
            )
            if m is not None
        )
        if not isinstance(mat, Tensor) or mat.dim() < 2:
            raise ValueError(
                f"{op}: {name} matrix must be at least two-dimensional, with optional leading batch dimensions"
            )
        k = loc.shape[-1]
        if mat.shape[-1] != mat.shape[-2] or mat.shape[-1] != k:
            raise ValueError(f"{op}: loc has event size {k} but {name} is {mat.shape[-2]}x{mat.shape[-1]}")
        import numpy as np

        _check_matrix(self, validate_args, covariance_matrix, precision_matrix, scale_tril)
        try:
            batch = tuple(np.broadcast_shapes(tuple(mat.shape[:-2]), tuple(loc.shape[:-1])))
        except ValueError:
            raise RuntimeError(
                f"Shape mismatch: objects cannot be broadcast to a single shape.  Mismatch is between "
                f"{tuple(mat.shape[:-2])} and {tuple(loc.shape[:-1])}."
            ) from None
        setattr(self, name, mat.expand(*batch, k, k))
        self.loc = loc.expand(*batch, k)
        super().__init__(batch, (k,), validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = _linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> MultivariateNormal:
        """This distribution with its batch shape expanded to ``batch_shape`` (views, no copies);
        ``_unbroadcasted_scale_tril`` is shared, the matrices already computed are expanded."""
        new = self._get_checked_instance(MultivariateNormal, _instance)
        batch = tuple(int(s) for s in batch_shape)
        ev = tuple(self.event_shape)
        new.loc = self.loc.expand(*batch, *ev)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, getattr(self, name).expand(*batch, *ev, *ev))
        super(MultivariateNormal, new).__init__(batch, ev, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self) -> tuple[int, ...]:
        return (*self._batch_shape, *self._event_shape, *self._event_shape)

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

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return self._unbroadcasted_scale_tril.square().sum(-1).expand(*self._batch_shape, *self._event_shape)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """``loc + L·eps`` with ``eps ~ N(0, I)``: differentiable in ``loc`` and the matrix."""
        eps = _rustdl.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + _batch_mv(self._unbroadcasted_scale_tril, eps)

    def _half_log_det(self) -> Tensor:
        return self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        m = _batch_mahalanobis(self._unbroadcasted_scale_tril, diff)
        return -0.5 * (self._event_shape[0] * _LOG_2PI + m) - self._half_log_det()

    def entropy(self) -> Tensor:
        h = 0.5 * self._event_shape[0] * (1.0 + _LOG_2PI) + self._half_log_det()
        return h.expand(*self._batch_shape) if self._batch_shape else h


class MixtureSameFamily(Distribution):
    """A mixture of ``k`` components of one family: ``mixture_distribution`` a ``Categorical``
    over the rightmost batch dim of ``component_distribution``.

    ``log_prob(x) = logsumexp_k(log π_k + log p_k(x))``; ``sample`` draws a component, then
    from it (not reparameterised, as PyTorch).

    Example:
        >>> mix = Categorical(probs=rustdl.tensor([0.3, 0.7]))
        >>> gmm = MixtureSameFamily(mix, Normal(rustdl.tensor([-1.0, 1.0]), rustdl.tensor([0.5, 0.5])))
        >>> gmm.log_prob(rustdl.tensor(0.2)).shape
        ()
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {}
    has_rsample = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(\n  {self._mixture_distribution},\n  {self._component_distribution})"

    def __init__(self, mixture_distribution: Any, component_distribution: Any, validate_args=None) -> None:
        from .categorical import Categorical

        op = "MixtureSameFamily"
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError(
                f"{op}: the mixture distribution must be a Categorical, got {type(mixture_distribution).__name__}"
            )
        if not isinstance(component_distribution, Distribution):
            raise ValueError(
                f"{op}: the component distribution must be a Distribution, got {type(component_distribution).__name__}"
            )
        cshape = tuple(component_distribution.batch_shape)
        mshape = tuple(mixture_distribution.batch_shape)
        if len(cshape) < 1:
            raise ValueError(
                f"{op}: the component distribution needs a batch dim of components, got batch_shape ()"
            )
        k = mixture_distribution.logits.shape[-1]
        if cshape[-1] != k:
            raise ValueError(
                f"{op}: the mixture's number of components ({k}) must equal the component distribution's "
                f"rightmost batch size ({cshape[-1]})"
            )
        cdbs = cshape[:-1]
        for a, b in zip(reversed(mshape), reversed(cdbs)):
            if a != 1 and b != 1 and a != b:
                raise ValueError(
                    f"{op}: the mixture's batch_shape {mshape} is not compatible with the components' {cdbs}"
                )
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        self._num_component = k
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(cdbs, tuple(component_distribution.event_shape), validate_args=False)
        if validate_args is not None:
            self._validate_args = validate_args

    @property
    def mixture_distribution(self) -> Any:
        return self._mixture_distribution

    @property
    def component_distribution(self) -> Any:
        return self._component_distribution

    @constraints.dependent_property(is_discrete=False)
    def support(self) -> Any:  # type: ignore[override]
        return constraints.MixtureSameFamilyConstraint(self._component_distribution.support)

    def _pad_mixture(self, t: Tensor) -> Tensor:
        """Mixture weights ``(..., k)`` shaped to multiply component values ``(..., k, *event)``."""
        for _ in range(self._event_ndims):
            t = t.unsqueeze(-1)
        return t

    @property
    def mean(self) -> Tensor:
        probs = self._pad_mixture(self._mixture_distribution.probs)
        return (probs * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self) -> Tensor:
        probs = self._pad_mixture(self._mixture_distribution.probs)
        d = -1 - self._event_ndims
        mean_cond_var = (probs * self._component_distribution.variance).sum(d)
        diff = self._component_distribution.mean - self.mean.unsqueeze(d)
        return mean_cond_var + (probs * diff * diff).sum(d)

    def log_prob(self, value: Tensor) -> Tensor:
        if not isinstance(value, Tensor):
            value = _rustdl.tensor(value, dtype=self._mixture_distribution.logits.dtype)
        if self._validate_args:
            self._validate_sample(value)
        x = value.unsqueeze(-1 - self._event_ndims)
        log_prob_x = self._component_distribution.log_prob(x)
        log_mix = self._mixture_distribution.logits.log_softmax(-1)
        return (log_prob_x + log_mix).logsumexp(-1)

    def cdf(self, value: Tensor) -> Tensor:
        x = value.unsqueeze(-1 - self._event_ndims)
        return (self._component_distribution.cdf(x) * self._mixture_distribution.probs).sum(-1)

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        from ..autograd import no_grad

        sample_shape = tuple(sample_shape)
        with no_grad():
            mix = self._mixture_distribution.sample(sample_shape)
            comp = self._component_distribution.sample(sample_shape)
            lead = tuple(mix.shape)
            comp_shape = tuple(comp.shape)
            at = len(comp_shape) - 1 - self._event_ndims
            # broadcast the chosen index over the batch and event dims, then pick along k
            idx = mix.reshape(lead + (1,) * (len(comp_shape) - len(lead)))
            idx = idx.expand(comp_shape[:at] + (1,) + comp_shape[at + 1 :])
            return comp.gather(at, idx).squeeze(at)
