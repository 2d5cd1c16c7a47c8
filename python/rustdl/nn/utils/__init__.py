"""Gradient clipping, parameter/vector conversion, (in ``rnn``) variable-length batches,
``parametrize`` / ``parametrizations`` and ``prune``, as ``torch.nn.utils``."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ... import _rustdl
from ..._rustdl import Tensor
from ...autograd import no_grad
from . import rnn, stateless  # noqa: F401
from . import spectral_norm as _spectral_norm_module  # noqa: F401  (torch.nn.utils.spectral_norm, the module)
from .weight_norm import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm  # noqa: F401

_LAZY_NAMES = {
    "fuse_conv_bn_eval": "fusion",
    "fuse_conv_bn_weights": "fusion",
    "fuse_linear_bn_eval": "fusion",
    "fuse_linear_bn_weights": "fusion",
}

_LAZY = ("parametrize", "parametrizations", "prune", "fusion")


def __getattr__(name: str):
    # these build on nn.Module, which itself imports this package: loaded on first use
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_NAMES:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")


def convert_conv2d_weight_memory_format(module, memory_format):
    """Returns ``module``: rustdl keeps one (contiguous) memory format, so there is nothing to
    convert (``torch.channels_last`` and friends are accepted)."""
    return module


def convert_conv3d_weight_memory_format(module, memory_format):
    """Returns ``module`` (see :func:`convert_conv2d_weight_memory_format`)."""
    return module


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    # a complex parameter stands for its real storage (its gradient's norm is the same)
    from ..._complex import ComplexParameter, storage_of

    if isinstance(parameters, (Tensor, ComplexParameter)):
        return [storage_of(parameters)]
    return [storage_of(p) for p in parameters]


def _zero_grads(parameters: Iterable[Tensor], set_to_none: bool = True) -> None:
    """Resets the gradients of ``parameters`` to ``None`` (or, with ``set_to_none=False``, to
    zeros); what ``Module.zero_grad`` and ``Optimizer.zero_grad`` do."""
    from ..._complex import storage_of

    for p in map(storage_of, parameters):
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            p.grad.zero_()


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scales the gradients so that their joint norm is at most ``max_norm``, in place.

    The norm is taken over all gradients together, as if concatenated into one vector.

    Args:
        parameters: tensors (or one tensor) whose ``.grad`` is clipped.
        max_norm: the largest allowed norm.
        norm_type: the p of the p-norm; ``inf`` for the max norm.
        error_if_nonfinite: raise if the total norm is nan or inf.
        foreach: accepted for PyTorch scripts (PyTorch's choice of kernel; same result).

    Returns:
        The total norm of the gradients before clipping (a 0-d tensor).

    Example:
        >>> loss.backward()
        >>> total = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    norm_type = float(norm_type)
    if not grads:
        return _rustdl.tensor(0.0)
    with no_grad():
        norms = _rustdl.stack([g.norm(norm_type) for g in grads])
        total = norms.norm(norm_type)  # ±inf: the largest or smallest of the norms
        if error_if_nonfinite:
            value = float(total.item())
            if math.isnan(value) or math.isinf(value):
                raise RuntimeError(
                    f"clip_grad_norm_: the total norm of order {norm_type} for gradients is non-finite ({value}); "
                    "set error_if_nonfinite=False to clip anyway"
                )
        coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.device, g.dtype))
    return total


def get_total_norm(
    tensors: Tensor | Iterable[Tensor],
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """The ``norm_type``-norm of ``tensors`` taken together (as if concatenated into one
    vector), as ``torch.nn.utils.get_total_norm``: usually the gradients, ``[p.grad for p in
    params]``; ``None`` entries are skipped. ``inf`` gives the largest absolute value.

    Args:
        tensors: a tensor or tensors.
        norm_type: the p of the p-norm.
        error_if_nonfinite: raise RuntimeError if the total is nan or inf.
        foreach: accepted for PyTorch scripts (PyTorch's choice of kernel; same result).

    Returns:
        A 0-d tensor (on the first tensor's device; ``tensor(0.)`` for no tensors).
    """
    ts = [g for g in _as_list(tensors) if g is not None]
    norm_type = float(norm_type)
    if not ts:
        return _rustdl.tensor(0.0)
    dev = ts[0].device
    with no_grad():
        norms = _rustdl.stack([g.norm(norm_type).to(dev) for g in ts])
        if math.isinf(norm_type):
            total = norms.max() if norm_type > 0 else norms.min()
        else:
            total = norms.norm(norm_type)
    if error_if_nonfinite:
        value = float(total.item())
        if math.isnan(value) or math.isinf(value):
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients from `parameters` is non-finite "
                f"({value}), so it cannot be clipped. To disable this error and scale the gradients "
                "by the non-finite norm anyway, set `error_if_nonfinite=False`"
            )
    return total


def clip_grads_with_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    total_norm: Tensor | float,
    foreach: bool | None = None,
) -> None:
    """Scales the gradients of ``parameters`` in place by ``min(1, max_norm / (total_norm +
    1e-6))``, as ``torch.nn.utils.clip_grads_with_norm_``: the second half of
    :func:`clip_grad_norm_`, with the norm computed beforehand (:func:`get_total_norm`)."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    if not isinstance(total_norm, Tensor):
        total_norm = _rustdl.tensor(float(total_norm), device=grads[0].device)
    with no_grad():
        coef = (float(max_norm) / (total_norm.detach() + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.device, g.dtype))


def clip_grad_norm(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Deprecated alias of :func:`clip_grad_norm_` (warns with a ``FutureWarning``, as PyTorch)."""
    import warnings

    warnings.warn(
        "`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
        FutureWarning,
        stacklevel=2,
    )
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor],
    clip_value: float,
    foreach: bool | None = None,  # noqa: ARG001
) -> None:
    """Clamps every gradient into ``[-clip_value, clip_value]``, in place (``foreach`` is
    accepted for compatibility: the clamp is one pass either way)."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Concatenates the flattened parameters into one 1-D tensor (a copy).

    Example:
        >>> nn.utils.parameters_to_vector(nn.Linear(3, 2).parameters()).shape
        (8,)
    """
    params = _as_list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    device = params[0].device
    for p in params:
        if str(p.device) != str(device):
            raise RuntimeError(
                f"parameters_to_vector: parameters are on different devices ({device} and {p.device})"
            )
    return _rustdl.cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copies consecutive slices of the 1-D ``vec`` into ``parameters``, in place."""
    params = _as_list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(
            f"vector_to_parameters: expected a 1-D vector of {total} elements, got shape {tuple(vec.shape)}"
        )
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec.narrow(0, offset, n).reshape(*p.shape))
            offset += n


def skip_init(module_cls, *args, **kwargs):
    """An instance of ``module_cls(*args, **kwargs)``, as ``torch.nn.utils.skip_init``. PyTorch
    leaves the parameters uninitialised to save the initialisation's time; here they are
    initialised as usual (the caller overwrites them either way). Like PyTorch, the class must
    take a ``device`` keyword argument."""
    import inspect

    if not isinstance(module_cls, type):
        raise TypeError(f"skip_init: expected a module class, got {module_cls!r}")
    try:
        params = inspect.signature(module_cls).parameters
    except (TypeError, ValueError):
        params = {}
    if "device" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    return module_cls(*args, **kwargs)
