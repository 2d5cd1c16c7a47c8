"""``Distribution``: the base class of every probability distribution, as ``torch.distributions``."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .._rustdl import Tensor
from ..autograd import no_grad
from . import constraints
from .utils import lazy_property

__all__ = ["Distribution"]

_Shape = tuple


def _as_shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, int):
        return (shape,)
    return tuple(int(s) for s in shape)


class Distribution:
    """Base class of probability distributions.

    A distribution has a ``batch_shape`` (independent, not necessarily identical distributions)
    and an ``event_shape`` (the shape of one draw); ``sample(sample_shape)`` returns a tensor of
    shape ``sample_shape + batch_shape + event_shape``.

    Args:
        batch_shape: the shape over which parameters are batched.
        event_shape: the shape of a single sample.
        validate_args: whether to check parameters and the values given to :meth:`log_prob`
            (default: :meth:`set_default_validate_args`'s value, ``True``). Invalid ones raise
            ``ValueError``.

    Attributes:
        arg_constraints: ``{parameter name: constraint}`` checked when ``validate_args``.
        support: the constraint a sample satisfies.
        has_rsample: whether :meth:`rsample` (reparameterised sampling) is implemented.
    """

    has_rsample: bool = False
    has_enumerate_support: bool = False
    _validate_args: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # every cdf checks its value against the support first (with validate_args), as
        # PyTorch's: a value outside it raises instead of giving an impossible probability
        super().__init_subclass__(**kwargs)
        fn = cls.__dict__.get("cdf")
        if fn is None or getattr(fn, "_validates", False):
            return

        @functools.wraps(fn)
        def cdf(self, value):
            if self._validate_args:
                self._validate_sample(value)
            return fn(self, value)

        cdf._validates = True  # type: ignore[attr-defined]
        cls.cdf = cdf  # type: ignore[method-assign]

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {}
    support: Any = None
    _checked_when_given: ClassVar[tuple[str, ...]] = ()

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Sets whether distributions validate their arguments by default (``True`` initially).

        Example:
            >>> Distribution.set_default_validate_args(False)
        """
        if value not in (True, False):
            raise ValueError("set_default_validate_args: value must be True or False")
        Distribution._validate_args = value

    def __init__(
        self,
        batch_shape: Sequence[int] = (),
        event_shape: Sequence[int] = (),
        validate_args: bool | None = None,
    ) -> None:
        self._batch_shape = _as_shape(batch_shape)
        self._event_shape = _as_shape(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            for param, constraint in self.arg_constraints.items():
                if constraints.is_dependent(constraint):
                    continue
                if param not in self.__dict__ and isinstance(getattr(type(self), param, None), lazy_property):
                    continue  # a parameter that was not given and would be derived from another
                if param in self._checked_when_given:
                    continue  # a matrix the constructor checked (if given) before factorising it
                self._check_parameter(param, getattr(self, param), constraint)

    def _check_parameter(self, param: str, value: Tensor, constraint: constraints.Constraint) -> None:
        """Raises PyTorch's ``ValueError`` when ``value`` (parameter ``param``) breaks ``constraint``."""
        if not bool(constraint.check(value).all().item()):
            raise ValueError(
                f"Expected parameter {param} ({type(value).__name__} of shape {tuple(value.shape)}) "
                f"of distribution {self!r} to satisfy the constraint {constraint!r}, "
                f"but found invalid values:\n{value}"
            )

    def _validating(self, validate_args: bool | None) -> bool:
        """Whether a constructor given ``validate_args`` checks its arguments."""
        return self._validate_args if validate_args is None else bool(validate_args)

    # ---------- shapes ----------

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The shape of a single sample (without batching)."""
        return self._event_shape

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Distribution:
        """This distribution with its batch shape broadcast to ``batch_shape`` (parameters are
        expanded views, no copies), as ``torch.distributions.Distribution.expand``.

        Every tensor attribute and every inner distribution whose leading dims are the current
        batch shape is expanded to ``batch_shape`` followed by its own trailing dims (``probs``'s
        categories, a covariance's matrix dims, an ``Independent``'s reinterpreted dims).

        Example:
            >>> Normal(loc, scale).expand((5, 3)).sample().shape   # loc, scale of shape (3,)
            (5, 3)
        """
        batch = _as_shape(batch_shape)
        old = self._batch_shape
        try:
            fits = len(batch) >= len(old) and tuple(np.broadcast_shapes(old, batch)) == batch
        except ValueError:
            fits = False
        if not fits:
            raise RuntimeError(
                f"{type(self).__name__}.expand: the batch shape {old} cannot be expanded to {batch}"
            )
        new = type(self).__new__(type(self)) if _instance is None else _instance
        k = len(old)
        for name, value in self.__dict__.items():
            if isinstance(value, Tensor) and tuple(value.shape[:k]) == old and value.dim() >= k:
                value = value.expand(*batch, *value.shape[k:])
            elif isinstance(value, Distribution) and tuple(value.batch_shape[:k]) == old:
                value = value.expand(batch + tuple(value.batch_shape[k:]))
            new.__dict__.setdefault(name, value)
        new._batch_shape = batch
        new._event_shape = self._event_shape
        new._validate_args = self._validate_args
        return new

    def _get_checked_instance(self, cls: type, _instance: Any = None) -> Any:
        """A bare instance for a subclass's ``expand`` (PyTorch's helper of the same name): a
        subclass of ``cls`` with an ``__init__`` of its own must write its own ``expand``."""
        if _instance is None and type(self).__init__ is not cls.__init__:
            raise NotImplementedError(
                f"Subclass {type(self).__name__} of {cls.__name__} that defines a custom __init__ method "
                "must also define a custom .expand() method."
            )
        return type(self).__new__(type(self)) if _instance is None else _instance

    def _extended_shape(self, sample_shape: Sequence[int] = ()) -> tuple[int, ...]:
        """``sample_shape + batch_shape + event_shape``."""
        return _as_shape(sample_shape) + self._batch_shape + self._event_shape

    # ---------- statistics ----------

    @property
    def mean(self) -> Tensor:
        """The mean of the distribution."""
        raise NotImplementedError(f"{type(self).__name__} does not implement mean")

    @property
    def mode(self) -> Tensor:
        """The mode of the distribution."""
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        """The variance of the distribution."""
        raise NotImplementedError(f"{type(self).__name__} does not implement variance")

    @property
    def stddev(self) -> Tensor:
        """The standard deviation of the distribution (``variance.sqrt()``)."""
        return self.variance.sqrt()

    # ---------- sampling and densities ----------

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """Draws a sample of shape ``sample_shape + batch_shape + event_shape``, without gradient.

        Draws come from rustdl's seeded generator, so ``rustdl.manual_seed`` makes them reproducible.
        """
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """Draws a reparameterised sample: gradients flow from it back to the parameters."""
        raise NotImplementedError(f"{type(self).__name__} does not implement rsample")

    def log_prob(self, value: Tensor) -> Tensor:
        """The log of the probability density (or mass) at ``value``.

        Shape:
            - value: ``(*, *batch_shape, *event_shape)`` (broadcastable)
            - output: ``(*, *batch_shape)``
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob")

    def cdf(self, value: Tensor) -> Tensor:
        """The cumulative distribution function at ``value``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement cdf")

    def icdf(self, value: Tensor) -> Tensor:
        """The inverse cumulative distribution function at ``value``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement icdf")

    def entropy(self) -> Tensor:
        """The entropy, one value per batch entry (shape ``batch_shape``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement entropy")

    def perplexity(self) -> Tensor:
        """``exp(entropy)``."""
        return self.entropy().exp()

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """Every value of a discrete support, along a new leading dimension."""
        raise NotImplementedError(f"{type(self).__name__} does not implement enumerate_support")

    # ---------- validation ----------

    def _validate_sample(self, value: Any) -> None:
        """Raises ``ValueError`` if ``value`` has the wrong type or shape or lies outside the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")  # noqa: TRY004 (as PyTorch)
        event_dim_start = len(value.shape) - len(self._event_shape)
        if tuple(value.shape[event_dim_start:]) != self._event_shape:
            raise ValueError(
                f"The right-most size of value must match event_shape: {tuple(value.shape)} vs {self._event_shape}."
            )
        actual = tuple(value.shape)
        expected = self._batch_shape + self._event_shape
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(
                    f"Value is not broadcastable with batch_shape+event_shape: {actual} vs {expected}."
                )
        support = self.support
        if support is None or constraints.is_dependent(support):
            return
        if not bool(support.check(value).all().item()):
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {tuple(value.shape)}) "
                f"to be within the support ({support!r}) of the distribution {self!r}, "
                f"but found invalid values:\n{value}"
            )

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        parts = []
        for k in names:
            v = self.__dict__[k]
            parts.append(f"{k}: {v if v.numel() == 1 else v.size()}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _numel(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
