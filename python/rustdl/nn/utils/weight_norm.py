"""Weight reparametrisations, as ``torch.nn.utils``: ``weight_norm`` (w = g·v/‖v‖) and
``spectral_norm`` (w = w_orig/σ, σ by power iteration), with ``remove_weight_norm`` /
``remove_spectral_norm``, each recomputing the weight before every
forward through a forward pre-hook (the older API; ``parametrizations`` has the newer one)."""

from __future__ import annotations

from typing import Any

from ... import _rustdl
from ..._rustdl import Tensor
from ...autograd import no_grad
from ..parameter import Parameter


def _norm_except_dim(v: Tensor, dim: int | None) -> Tensor:
    """‖v‖ over every dim but ``dim`` (kept, size 1 elsewhere); over all dims for ``None``."""
    if dim is None:
        return (v * v).sum().sqrt()
    dim = dim % v.dim()
    dims = [d for d in range(v.dim()) if d != dim]
    return (v * v).sum(dim=dims, keepdim=True).sqrt() if dims else v.abs()


class _WeightNorm:
    def __init__(self, name: str, dim: int | None) -> None:
        self.name, self.dim = name, dim

    def compute(self, module: Any) -> Tensor:
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module: Any, inputs: Any) -> None:
        object.__setattr__(module, self.name, self.compute(module))


def weight_norm(module: Any, name: str = "weight", dim: int | None = 0) -> Any:
    """Splits ``module.<name>`` into a magnitude ``<name>_g`` and a direction ``<name>_v``
    (``dim=None``: one magnitude for the whole tensor); the weight is rebuilt before each forward."""
    w = module._parameters.get(name)
    if w is None:
        raise ValueError(f"weight_norm: the module has no parameter '{name}'")
    if dim == -1:  # as PyTorch: -1 is the whole tensor (as None), not the last dim
        dim = None
    if dim is not None and dim < 0:
        dim += w.dim()
    fn = _WeightNorm(name, dim)
    del module._parameters[name]
    with no_grad():
        g = _norm_except_dim(w.detach(), dim).clone()
    module.register_parameter(name + "_g", Parameter(g))
    module.register_parameter(name + "_v", Parameter(w.detach().clone()))
    object.__setattr__(module, name, fn.compute(module))
    handle = module.register_forward_pre_hook(fn)
    hooks = module.__dict__.setdefault("_weight_norm_hooks", {})
    hooks[name] = handle
    return module


def remove_weight_norm(module: Any, name: str = "weight") -> Any:
    """Undoes :func:`weight_norm`: ``<name>`` becomes one parameter again."""
    hooks = module.__dict__.get("_weight_norm_hooks", {})
    if name not in hooks:
        raise ValueError(f"weight_norm of '{name}' not found in {type(module).__name__}")
    handle = hooks.pop(name)
    g = module._parameters.pop(name + "_g")
    v = module._parameters.pop(name + "_v")
    dim = None
    for hook in module.__dict__.get("_forward_pre_hooks", {}).values():
        if isinstance(hook, _WeightNorm) and hook.name == name:
            dim = hook.dim
    with no_grad():
        weight = (v * (g / _norm_except_dim(v, dim))).detach().clone()
    handle.remove()
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(weight))
    return module


class _SpectralNorm:
    def __init__(self, name: str, n_power_iterations: int, eps: float, dim: int) -> None:
        self.name, self.n, self.eps, self.dim = name, n_power_iterations, eps, dim

    def _matrix(self, w: Tensor) -> Tensor:
        if self.dim != 0:
            perm = [self.dim] + [d for d in range(w.dim()) if d != self.dim]
            w = w.permute(*perm)
        return w.reshape(w.shape[0], -1)

    def compute(self, module: Any, do_power_iteration: bool) -> Tensor:
        w = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        mat = self._matrix(w)
        if do_power_iteration:
            with no_grad():
                m = mat.detach()
                for _ in range(self.n):
                    v.copy_(_normalize(m.t() @ u, self.eps))
                    u.copy_(_normalize(m @ v, self.eps))
            # the buffers change in place at the next training forward, while this forward's
            # graph still holds them: it keeps copies (two forwards, one backward work)
            u, v = u.clone(), v.clone()
        sigma = (u.detach() * (mat @ v.detach())).sum()
        return w / sigma

    def __call__(self, module: Any, inputs: Any) -> None:
        object.__setattr__(module, self.name, self.compute(module, module.training))


def _normalize(x: Tensor, eps: float) -> Tensor:
    return x / ((x * x).sum().sqrt().clamp(min=eps))


def spectral_norm(
    module: Any, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim: int | None = None
) -> Any:
    """Divides ``module.<name>`` by its largest singular value, estimated with
    ``n_power_iterations`` power-iteration steps per training forward (keys ``<name>_orig``,
    buffers ``<name>_u``, ``<name>_v``)."""
    w = module._parameters.get(name)
    if w is None:
        raise ValueError(f"spectral_norm: the module has no parameter '{name}'")
    if n_power_iterations <= 0:
        raise ValueError(f"spectral_norm: expected n_power_iterations > 0, got {n_power_iterations}")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    fn = _SpectralNorm(name, n_power_iterations, eps, dim)
    del module._parameters[name]
    module.register_parameter(name + "_orig", Parameter(w.detach().clone()))
    mat = fn._matrix(w.detach())
    h, wd = mat.shape
    u = _normalize(_rustdl.randn(h, dtype=w.dtype, device=w.device), eps)
    v = _normalize(_rustdl.randn(wd, dtype=w.dtype, device=w.device), eps)
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    # until the first forward the attribute is the raw weight (PyTorch's: no power iteration
    # happens before that forward, so seeded runs stay in step)
    object.__setattr__(module, name, module._parameters[name + "_orig"].detach())
    handle = module.register_forward_pre_hook(fn)
    module.__dict__.setdefault("_spectral_norm_hooks", {})[name] = (handle, fn)
    return module


def remove_spectral_norm(module: Any, name: str = "weight") -> Any:
    """Undoes :func:`spectral_norm`: ``<name>`` becomes one parameter again, holding the current
    normalised weight (``<name>_orig`` / σ with the stored ``u``, ``v``)."""
    hooks = module.__dict__.get("_spectral_norm_hooks", {})
    if name not in hooks:
        raise ValueError(f"spectral_norm of '{name}' not found in {module}")
    handle, fn = hooks.pop(name)
    with no_grad():
        weight = fn.compute(module, False).detach().clone()
    handle.remove()
    module._parameters.pop(name + "_orig")
    module._buffers.pop(name + "_u")
    module._buffers.pop(name + "_v")
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(weight))
    return module
