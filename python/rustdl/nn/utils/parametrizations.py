"""``torch.nn.utils.parametrizations``: ``weight_norm`` and ``spectral_norm`` with PyTorch's
newer state-dict keys (``parametrizations.<name>.original...``)."""

from __future__ import annotations

from typing import Any

from ... import _rustdl
from ..._rustdl import Tensor
from ...autograd import no_grad
from ..parameter import Parameter
from .weight_norm import _parametrized_weight_norm as weight_norm

__all__ = ["spectral_norm", "weight_norm"]


def _normalize(x: Tensor, eps: float) -> Tensor:
    return x / x.square().sum().sqrt().clamp(min=eps)


def _spectral_holder(w: Tensor, dim: int, eps: float, n_power_iterations: int) -> Any:
    """The ``parametrizations.<name>`` module: ``original`` and a child ``0`` holding ``_u``, ``_v``."""
    from ..modules.module import Module

    class _SpectralNorm(Module):
        def __init__(self) -> None:
            super().__init__()
            self.dim, self.eps, self.n_power_iterations = dim, eps, n_power_iterations
            if w.dim() > 1:
                mat = self.matrix(w.detach())
                h, k = mat.shape
                self.register_buffer("_u", _normalize(_rustdl.randn(h, dtype=w.dtype, device=w.device), eps))
                self.register_buffer("_v", _normalize(_rustdl.randn(k, dtype=w.dtype, device=w.device), eps))
                self.power_method(mat, 15)

        def matrix(self, weight: Tensor) -> Tensor:
            if self.dim != 0:
                weight = weight.permute(self.dim, *[d for d in range(weight.dim()) if d != self.dim])
            return weight.reshape(weight.shape[0], -1)

        def power_method(self, mat: Tensor, n: int) -> None:
            with no_grad():
                m = mat.detach()
                for _ in range(n):
                    self._v.copy_(_normalize(m.t().mv(self._u), self.eps))
                    self._u.copy_(_normalize(m.mv(self._v), self.eps))

        def forward(self, weight: Tensor) -> Tensor:
            if weight.dim() == 1:
                return _normalize(weight, self.eps)
            mat = self.matrix(weight)
            if self.training:
                self.power_method(mat, self.n_power_iterations)
            u, v = self._u.clone(), self._v.clone()
            sigma = (u * mat.mv(v)).sum()
            return weight / sigma

    from ..modules.container import ModuleList

    holder = ModuleList([_SpectralNorm()])
    holder.register_parameter("original", Parameter(w.detach().clone()))
    return holder


def spectral_norm(
    module: Any, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim: int | None = None
) -> Any:
    """Divides ``module.<name>`` by its largest singular value, estimated by power iteration
    (``n_power_iterations`` steps before each training forward; none in eval mode), as
    ``torch.nn.utils.parametrizations.spectral_norm``. Keys: ``parametrizations.<name>.original``
    and buffers ``parametrizations.<name>.0._u`` / ``._v``.

    Example:
        >>> layer = spectral_norm(nn.Linear(20, 40))
        >>> layer.parametrizations.weight.original.shape
        (40, 20)
    """
    from ..modules.container import ModuleDict

    w = module._parameters.get(name)
    if w is None:
        raise ValueError(f"spectral_norm: module {type(module).__name__} has no parameter '{name}'")
    if not isinstance(n_power_iterations, int) or n_power_iterations <= 0:
        raise ValueError(
            f"spectral_norm: expected n_power_iterations to be positive, got {n_power_iterations}"
        )
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    if w.dim() > 0:
        dim = dim % w.dim()
    holder = _spectral_holder(w, dim, eps, n_power_iterations)
    del module._parameters[name]
    if "parametrizations" not in module._modules:
        module.add_module("parametrizations", ModuleDict())
    module.parametrizations[name] = holder

    def rebuild(mod: Any, inputs: Any) -> None:
        p = mod.parametrizations[name]
        object.__setattr__(mod, name, p[0](p.original))

    rebuild(module, ())
    module.register_forward_pre_hook(rebuild)
    return module
