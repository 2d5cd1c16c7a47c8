"""``ExponentialFamily``: the base class of distributions of the form
``p(x; θ) = exp(⟨t(x), θ⟩ − F(θ) + k(x))``, as ``torch.distributions.ExponentialFamily``.

It lives in its own module (depending only on :class:`Distribution`) so that the existing
families (``Normal``, ``Bernoulli``, ``Gamma``, …) can derive from it without import cycles.
"""

from __future__ import annotations

from typing import Any

from .. import autograd as _autograd
from .._rustdl import Tensor
from .distribution import Distribution

__all__ = ["ExponentialFamily"]


def _bregman_inputs(params: tuple[Tensor, ...]) -> list[Tensor]:
    """The natural parameters to differentiate the log normaliser at.

    PyTorch detaches them (so its Bregman entropy and KL carry no gradient to the distribution's
    parameters); here a parameter that already requires grad becomes a clone of itself, so the
    values are the same and gradients still reach the parameters it was computed from. The clone
    matters: differentiating at the parameter itself would add, for ``Beta(s + 1, s)``, the path
    from the first parameter through ``s`` into the second one's gradient.
    """
    out = []
    for p in params:
        out.append(p.clone() if p.requires_grad else p.detach().requires_grad_())
    return out


class ExponentialFamily(Distribution):
    r"""Abstract base class of exponential-family distributions,
    ``p_F(x; θ) = exp(⟨t(x), θ⟩ − F(θ) + k(x))`` with natural parameters ``θ``, sufficient
    statistic ``t``, log normaliser ``F`` and carrier measure ``k``.

    A subclass provides :attr:`_natural_params` (a tuple of tensors), :meth:`_log_normalizer`
    (``F`` as a function of the natural parameters) and :attr:`_mean_carrier_measure`
    (``E[k(x)]``); :meth:`entropy` then follows from the Bregman divergence of ``F``:
    ``H = F(θ) − ⟨θ, ∇F(θ)⟩ − E[k(x)]``, and ``kl_divergence`` between two members of the same
    family falls back to ``F(θ_q) − F(θ_p) − ⟨θ_q − θ_p, ∇F(θ_p)⟩`` when no closed form is
    registered (Nielsen & Nock, *Entropies and cross-entropies of exponential families*).

    Example:
        >>> class MyExp(ExponentialFamily):  # the exponential distribution, θ = −rate
        ...     _mean_carrier_measure = 0
        ...     @property
        ...     def _natural_params(self):
        ...         return (-self.rate,)
        ...     def _log_normalizer(self, x):
        ...         return -(-x).log()
    """

    @property
    def _natural_params(self) -> tuple[Tensor, ...]:
        """The natural parameters ``θ`` (a tuple of tensors)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _natural_params")

    def _log_normalizer(self, *natural_params: Tensor) -> Tensor:
        """The log normaliser ``F(θ)`` at the given natural parameters (shape ``batch_shape``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _log_normalizer")

    @property
    def _mean_carrier_measure(self) -> Any:
        """``E[k(x)]``, the expected carrier measure (needed by the Bregman :meth:`entropy`)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _mean_carrier_measure")

    def entropy(self) -> Tensor:
        """The entropy from the Bregman divergence of the log normaliser (see the class doc)."""
        carrier = self._mean_carrier_measure
        with _autograd.enable_grad():
            nparams = _bregman_inputs(tuple(self._natural_params))
            log_norm = self._log_normalizer(*nparams)
            grads = _autograd.grad(log_norm.sum(), nparams, create_graph=True)
            result = log_norm - carrier
            for theta, g in zip(nparams, grads):
                result = result - (theta * g).reshape(*self._batch_shape, -1).sum(-1)
        return result
