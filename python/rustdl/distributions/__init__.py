"""Probability distributions, as ``torch.distributions``.

Parameters may be numbers or tensors and broadcast like numpy. ``sample`` draws from rustdl's
seeded generator (``rustdl.manual_seed`` makes it reproducible) without gradient; ``rsample``
(where ``has_rsample``) is reparameterised so gradients reach the parameters (VAEs);
``log_prob`` and ``entropy`` are differentiable (REINFORCE). Invalid parameters or values
outside the support raise ``ValueError`` unless ``validate_args=False``.

Example:
    >>> from rustdl.distributions import Categorical, Normal, kl_divergence
    >>> policy = Categorical(logits=logits)
    >>> action = policy.sample()
    >>> loss = -(policy.log_prob(action) * reward).sum()
    >>> kl_divergence(Normal(mu, sigma), Normal(0.0, 1.0)).sum()
"""

from . import constraint_registry, constraints, transforms
from .bernoulli import Bernoulli
from .categorical import Categorical
from .constraint_registry import biject_to, transform_to
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .extra import (
    Chi2,
    ContinuousBernoulli,
    FisherSnedecor,
    HalfCauchy,
    HalfNormal,
    Kumaraswamy,
    LogisticNormal,
    Multinomial,
    NegativeBinomial,
    Pareto,
    VonMises,
    Weibull,
)
from .extra_o import (
    GeneralizedPareto,
    LogitRelaxedBernoulli,
    LowRankMultivariateNormal,
    OneHotCategoricalStraightThrough,
    RelaxedBernoulli,
)
from .gamma_family import Beta, Binomial, Dirichlet, Gamma, Poisson
from .heavy_tails import (
    Cauchy,
    ExpRelaxedCategorical,  # noqa: F401  (torch.distributions.relaxed_categorical's, not in __all__)
    Gumbel,
    OneHotCategorical,
    RelaxedOneHotCategorical,
    StudentT,
)
from .kl import kl_divergence, register_kl
from .matrix import InverseGamma, LKJCholesky, Wishart
from .more import (
    Exponential,
    Geometric,
    Independent,
    Laplace,
    LogNormal,
    MixtureSameFamily,
    MultivariateNormal,
)
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import (
    AbsTransform,
    AffineTransform,
    CatTransform,
    ComposeTransform,
    CorrCholeskyTransform,
    CumulativeDistributionTransform,
    ExpTransform,
    IndependentTransform,
    LowerCholeskyTransform,
    PositiveDefiniteTransform,
    PowerTransform,
    ReshapeTransform,
    SigmoidTransform,
    SoftmaxTransform,
    SoftplusTransform,
    StackTransform,
    StickBreakingTransform,
    TanhTransform,
    Transform,
    identity_transform,
)
from .uniform import Uniform

__all__ = [
    "PositiveDefiniteTransform",
    "SoftplusTransform",
    "biject_to",
    "identity_transform",
    "transform_to",
    "constraint_registry",
    "AbsTransform",
    "AffineTransform",
    "CumulativeDistributionTransform",
    "IndependentTransform",
    "LowerCholeskyTransform",
    "PowerTransform",
    "ReshapeTransform",
    "SoftmaxTransform",
    "TanhTransform",
    "Cauchy",
    "ComposeTransform",
    "ExpTransform",
    "Gumbel",
    "OneHotCategorical",
    "RelaxedOneHotCategorical",
    "SigmoidTransform",
    "StickBreakingTransform",
    "StudentT",
    "Transform",
    "TransformedDistribution",
    "transforms",
    "Beta",
    "Binomial",
    "Chi2",
    "InverseGamma",
    "LKJCholesky",
    "Wishart",
    "ContinuousBernoulli",
    "FisherSnedecor",
    "HalfCauchy",
    "HalfNormal",
    "Kumaraswamy",
    "LogisticNormal",
    "Multinomial",
    "NegativeBinomial",
    "Pareto",
    "VonMises",
    "Weibull",
    "Dirichlet",
    "Gamma",
    "Poisson",
    "Bernoulli",
    "Categorical",
    "Distribution",
    "Exponential",
    "Geometric",
    "Independent",
    "Laplace",
    "LogNormal",
    "MixtureSameFamily",
    "MultivariateNormal",
    "Normal",
    "Uniform",
    "CatTransform",
    "CorrCholeskyTransform",
    "StackTransform",
    "ExponentialFamily",
    "GeneralizedPareto",
    "LogitRelaxedBernoulli",
    "LowRankMultivariateNormal",
    "OneHotCategoricalStraightThrough",
    "RelaxedBernoulli",
    "constraints",
    "kl_divergence",
    "register_kl",
]

from . import kl_cross as _kl_cross  # noqa: E402,F401  (registers the cross-family KLs)
from . import kl_families as _kl_families  # noqa: E402,F401  (registers the within-family KLs)

# torch.distributions.(lowrank_)multivariate_normal's helpers (those modules map to this package)
from .extra_o import _capacitance_tril as _batch_capacitance_tril  # noqa: E402,F401
from .extra_o import _lowrank_logdet as _batch_lowrank_logdet  # noqa: E402,F401
from .extra_o import _lowrank_mahalanobis as _batch_lowrank_mahalanobis  # noqa: E402,F401
from .more import _batch_mahalanobis, _batch_mv, _precision_to_scale_tril  # noqa: E402,F401
