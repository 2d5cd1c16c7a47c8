"""Transforms from unconstrained space onto a constraint's set, as
``torch.distributions.constraint_registry``.

``biject_to(c)`` gives a bijective transform whose ``codomain`` is ``c``: an optimizer can then
work on ``x`` freely and the model uses ``biject_to(c)(x)``, with ``log_abs_det_jacobian``
available for densities. ``transform_to(c)`` gives a transform onto ``c`` that need not be
bijective (the simplex through softmax rather than stick-breaking). Both registries can be
extended with ``register``, for a constraint object or for a constraint class.

Example:
    >>> from rustdl.distributions import biject_to, constraints
    >>> unconstrained = rustdl.zeros(3, requires_grad=True)
    >>> scale = biject_to(constraints.positive)(unconstrained)  # exp: all ones
"""

from __future__ import annotations

from typing import Any, Callable

from . import constraints, transforms

__all__ = ["ConstraintRegistry", "biject_to", "transform_to"]


class ConstraintRegistry:
    """Maps constraints (by object, or by class for parametrised ones such as ``interval``) to
    factories ``factory(constraint) -> Transform``."""

    def __init__(self) -> None:
        self._registry: dict[type, Callable[[Any], transforms.Transform]] = {}

    def register(self, constraint: Any, factory: Callable[[Any], transforms.Transform] | None = None):
        """Registers ``factory`` for ``constraint`` (a Constraint subclass or a singleton object);
        without ``factory`` it returns a decorator."""
        if factory is None:
            return lambda f: self.register(constraint, f)
        if isinstance(constraint, constraints.Constraint):
            constraint = type(constraint)
        if not isinstance(constraint, type) or not issubclass(constraint, constraints.Constraint):
            raise TypeError(
                f"register: expected a constraints.Constraint subclass or object, got {constraint!r}"
            )
        self._registry[constraint] = factory
        return factory

    def __call__(self, constraint: Any) -> transforms.Transform:
        """The transform registered for ``constraint``'s exact class, built for this constraint
        (``positive`` is a ``greater_than(0)``, so it gets that class's ``exp`` then shift by 0)."""
        factory = self._registry.get(type(constraint))
        if factory is None:
            raise NotImplementedError(f"Cannot transform {type(constraint).__name__} constraints")
        return factory(constraint)


biject_to = ConstraintRegistry()
transform_to = ConstraintRegistry()


def _real(constraint: Any) -> transforms.Transform:
    return transforms.identity_transform


def _independent(registry: ConstraintRegistry) -> Callable[[Any], transforms.Transform]:
    def factory(constraint: Any) -> transforms.Transform:
        base = registry(constraint.base_constraint)
        return transforms.IndependentTransform(base, constraint.reinterpreted_batch_ndims)

    return factory


def _positive(constraint: Any) -> transforms.Transform:
    return transforms.ExpTransform()


def _greater_than(constraint: Any) -> transforms.Transform:
    return transforms.ComposeTransform(
        [transforms.ExpTransform(), transforms.AffineTransform(constraint.lower_bound, 1)]
    )


def _less_than(constraint: Any) -> transforms.Transform:
    return transforms.ComposeTransform(
        [transforms.ExpTransform(), transforms.AffineTransform(constraint.upper_bound, -1)]
    )


def _interval(constraint: Any) -> transforms.Transform:
    lower, upper = constraint.lower_bound, constraint.upper_bound
    unit = _is_number(lower, 0) and _is_number(upper, 1)
    if unit:
        return transforms.SigmoidTransform()
    return transforms.ComposeTransform(
        [transforms.SigmoidTransform(), transforms.AffineTransform(lower, upper - lower)]
    )


def _is_number(value: Any, target: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == target


def _cat(registry: ConstraintRegistry) -> Callable[[Any], transforms.Transform]:
    def factory(constraint: Any) -> transforms.Transform:
        parts = [registry(c) for c in constraint.cseq]
        return transforms.CatTransform(parts, constraint.dim, constraint.lengths)

    return factory


def _stack(registry: ConstraintRegistry) -> Callable[[Any], transforms.Transform]:
    def factory(constraint: Any) -> transforms.Transform:
        return transforms.StackTransform([registry(c) for c in constraint.cseq], constraint.dim)

    return factory


for _registry in (biject_to, transform_to):
    _registry.register(constraints.real, _real)
    _registry.register(constraints.independent, _independent(_registry))
    # positive and nonnegative share their classes with greater_than(_eq): registered after
    # them, the shifted exp stands for all four, as in PyTorch
    _registry.register(constraints.positive, _positive)
    _registry.register(constraints.nonnegative, _positive)
    _registry.register(constraints.greater_than, _greater_than)
    _registry.register(constraints.greater_than_eq, _greater_than)
    _registry.register(constraints.less_than, _less_than)
    _registry.register(constraints.interval, _interval)
    _registry.register(constraints.half_open_interval, _interval)
    _registry.register(constraints.cat, _cat(_registry))
    _registry.register(constraints.stack, _stack(_registry))
    _registry.register(constraints.corr_cholesky, lambda c: transforms.CorrCholeskyTransform())

# the simplex: stick-breaking is a bijection (one coordinate fewer); softmax covers it too
biject_to.register(constraints.simplex, lambda c: transforms.StickBreakingTransform())
transform_to.register(constraints.simplex, lambda c: transforms.SoftmaxTransform())
# matrices: these transforms are onto but not bijections, so only transform_to offers them
transform_to.register(constraints.lower_cholesky, lambda c: transforms.LowerCholeskyTransform())
transform_to.register(constraints.positive_definite, lambda c: transforms.PositiveDefiniteTransform())
transform_to.register(constraints.positive_semidefinite, lambda c: transforms.PositiveDefiniteTransform())
