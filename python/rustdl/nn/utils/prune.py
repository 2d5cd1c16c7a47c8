"""``torch.nn.utils.prune``: zero out entries (or whole channels) of a module's tensor.

Pruning ``module.weight`` moves the parameter to ``weight_orig``, adds the buffer
``weight_mask`` and sets ``module.weight = weight_orig * weight_mask`` (recomputed by a forward
pre-hook before every call, so gradients reach ``weight_orig`` only through unmasked entries).
Pruning the same tensor again composes the masks (a :class:`PruningContainer`), the new method
seeing only the entries (or channels) still unpruned; :func:`remove` makes it permanent.

``amount`` is a fraction of the entries in [0, 1] (rounded with Python's ``round``) or a
non-negative count. Among equal scores, the entries of lower flat index are pruned first.

Example:
    >>> layer = nn.Linear(4, 3)
    >>> prune.l1_unstructured(layer, "weight", amount=0.5)
    >>> sorted(layer.state_dict())
    ['bias', 'weight_mask', 'weight_orig']
    >>> prune.remove(layer, "weight")
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import numpy as np

from ... import _rustdl
from ..._rustdl import Tensor
from ...autograd import no_grad
from ..modules.module import Module

__all__ = [
    "BasePruningMethod",
    "CustomFromMask",
    "Identity",
    "L1Unstructured",
    "LnStructured",
    "PruningContainer",
    "RandomStructured",
    "RandomUnstructured",
    "custom_from_mask",
    "global_unstructured",
    "identity",
    "is_pruned",
    "l1_unstructured",
    "ln_structured",
    "random_structured",
    "random_unstructured",
    "remove",
]


class BasePruningMethod(ABC):
    """Base class of pruning methods: subclasses set ``PRUNING_TYPE`` (``"unstructured"``,
    ``"structured"`` with a ``dim`` attribute, or ``"global"``) and define
    ``compute_mask(t, default_mask)``; :meth:`apply` installs one on a module's tensor."""

    PRUNING_TYPE: str | None = None
    _tensor_name: str | None = None

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """The new mask for tensor ``t`` given the current one (same shape)."""

    def apply_mask(self, module: Module) -> Tensor:
        """``<name>_orig * <name>_mask`` for this method's tensor of ``module``."""
        if self._tensor_name is None:
            raise RuntimeError(f"Module {type(module).__name__} has to be pruned")
        orig = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module: Module, name: str, *args, importance_scores: Tensor | None = None, **kwargs):
        """Prunes ``module.<name>`` with ``cls(*args, **kwargs)``, composing with any pruning
        already there; the mask is computed from ``importance_scores`` (default: the tensor).
        Returns the method installed as the forward pre-hook (a container if composed)."""
        if not isinstance(module, Module):
            raise TypeError(f"prune: expected a Module, got {type(module).__name__}")
        hooks = module._hook_dict("_forward_pre_hooks")
        old_method = None
        found = []
        for key, hook in hooks.items():
            if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
                old_method = hook
                found.append(key)
        if len(found) > 1:
            raise RuntimeError(
                f"Avoid adding multiple pruning hooks to the same tensor {name} of module "
                f"{type(module).__name__}. Use a PruningContainer."
            )
        method = cls(*args, **kwargs)
        method._tensor_name = name
        orig = getattr(module, name)  # AttributeError for a tensor the module lacks
        if not isinstance(orig, Tensor):
            raise TypeError(f"prune: '{name}' of {type(module).__name__} is not a tensor")
        if old_method is not None:
            if isinstance(old_method, PruningContainer):
                old_method.add_pruning_method(method)
                method = old_method
            else:
                container = PruningContainer(old_method)
                container.add_pruning_method(method)
                method = container
        if importance_scores is not None:
            if not isinstance(importance_scores, Tensor) or tuple(importance_scores.shape) != tuple(
                orig.shape
            ):
                raise ValueError(
                    f"importance_scores should have the same shape as parameter {name} of {type(module).__name__}"
                )
        else:
            importance_scores = orig
        if old_method is None:
            if name not in module._parameters:
                raise TypeError(
                    f"cannot prune '{name}' of {type(module).__name__}: only parameters can be pruned"
                )
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = _rustdl.ones_like(orig).detach()
        else:
            default_mask = getattr(module, name + "_mask").detach().clone()
        try:
            with no_grad():
                mask = method.compute_mask(importance_scores.detach(), default_mask=default_mask)
            if name + "_mask" in module._buffers:
                module._buffers[name + "_mask"] = mask
            else:
                module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
        except Exception:
            if old_method is None:
                orig = module._parameters.pop(name + "_orig")
                module._buffers.pop(name + "_mask", None)
                module.register_parameter(name, orig)
            raise
        for key in found:
            del hooks[key]
        module.register_forward_pre_hook(method)
        return method

    def prune(self, t: Tensor, default_mask: Tensor | None = None, importance_scores: Tensor | None = None):
        """``t`` times the mask this method computes for it (``t`` left unchanged)."""
        scores = t if importance_scores is None else importance_scores
        if default_mask is None:
            default_mask = _rustdl.ones_like(t)
        with no_grad():
            mask = self.compute_mask(scores.detach(), default_mask=default_mask)
        return t * mask.to(dtype=t.dtype)

    def remove(self, module: Module) -> None:
        """Makes the pruning permanent: ``<name>`` becomes a parameter again (the ``_orig``
        Parameter object, now holding the pruned values); ``_orig`` and ``_mask`` go away."""
        if self._tensor_name is None:
            raise RuntimeError(
                f"Module {type(module).__name__} has to be pruned before pruning can be removed"
            )
        name = self._tensor_name
        with no_grad():
            weight = self.apply_mask(module).detach()
        module.__dict__.pop(name, None)
        orig = module._parameters.pop(name + "_orig")
        with no_grad():
            orig.copy_(weight)
        module._buffers.pop(name + "_mask", None)
        module.register_parameter(name, orig)

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__name__} object at {hex(id(self))}>"


class PruningContainer(BasePruningMethod):
    """The sequence of pruning methods applied to one tensor; the last one added computes its
    mask on the part of the tensor the earlier ones left."""

    def __init__(self, *args: BasePruningMethod) -> None:
        self._pruning_methods: tuple = ()
        self._tensor_name = None
        if len(args) == 1:
            self._tensor_name = getattr(args[0], "_tensor_name", None)
            self.add_pruning_method(args[0])
        else:
            for method in args:
                self.add_pruning_method(method)

    def add_pruning_method(self, method: BasePruningMethod | None) -> None:
        """Appends ``method``, which must act on this container's tensor."""
        if method is not None and not isinstance(method, BasePruningMethod):
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(
                f"Can only add pruning methods acting on the parameter named '{self._tensor_name}' "
                f"to PruningContainer {self}. Found '{method._tensor_name}'"
            )
        if method is not None:
            self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx: int) -> BasePruningMethod:
        return self._pruning_methods[idx]

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        if not self._pruning_methods:
            return default_mask
        method = self._pruning_methods[-1]
        new_mask = default_mask.to(dtype=t.dtype).clone()
        kind = method.PRUNING_TYPE
        if kind == "unstructured":
            sel = default_mask == 1
            part = method.compute_mask(t[sel], default_mask=default_mask[sel])
            new_mask[sel] = part.to(dtype=new_mask.dtype)
        elif kind == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError(
                    "Pruning methods of PRUNING_TYPE 'structured' need to have the attribute `dim` defined."
                )
            n_dims = t.dim()
            dim = method.dim + n_dims if method.dim < 0 else method.dim
            if dim < 0 or dim >= n_dims:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {n_dims}")
            others = [d for d in range(n_dims) if d != dim]
            keep = (default_mask.sum(dim=others) != 0) if others else (default_mask != 0)
            idx = tuple(keep if d == dim else slice(None) for d in range(n_dims))
            part = method.compute_mask(t[idx], default_mask=default_mask[idx])
            new_mask[idx] = part.to(dtype=new_mask.dtype)
        elif kind == "global":
            new_mask = method.compute_mask(t, default_mask=new_mask).to(dtype=new_mask.dtype)
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {kind}")
        return new_mask


class Identity(BasePruningMethod):
    """Prunes nothing: the mask is all ones (a way to get the ``_orig`` / ``_mask`` layout)."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        return default_mask

    @classmethod
    def apply(cls, module: Module, name: str):  # type: ignore[override]
        return super().apply(module, name)


def _validate_amount_init(amount: Any) -> None:
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
        not isinstance(amount, numbers.Integral) and not 0.0 <= float(amount) <= 1.0
    ):
        raise ValueError(
            f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer"
        )


def _validate_amount(amount: Any, tensor_size: int) -> None:
    if isinstance(amount, numbers.Integral) and amount > tensor_size:
        raise ValueError(
            f"amount={amount} should be smaller than the number of parameters to prune={tensor_size}"
        )


def _n_to_prune(amount: Any, tensor_size: int) -> int:
    if isinstance(amount, numbers.Integral):
        return int(amount)
    return round(amount * tensor_size)


def _validate_structured(t: Tensor) -> None:
    if t.dim() <= 1:
        raise ValueError(
            "Structured pruning can only be applied to multidimensional tensors. "
            f"Found tensor of shape {tuple(t.shape)} with {t.dim()} dims"
        )


def _validate_dim(t: Tensor, dim: int) -> None:
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if dim >= t.dim() or dim < -t.dim():
        raise IndexError(f"Invalid index {dim} for tensor of size {tuple(t.shape)}")


def _zero_flat(mask: Tensor, flat_idx: np.ndarray) -> Tensor:
    if len(flat_idx):
        flat = mask.reshape(-1).clone()
        flat[_rustdl.tensor(flat_idx.astype(np.int64), device=mask.device)] = 0
        mask = flat.reshape(*mask.shape)
    return mask


def _smallest(scores: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the ``k`` smallest scores; ties go to the lower index."""
    return np.argsort(scores.reshape(-1), kind="stable")[:k]


def _largest(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores; ties go to the lower index."""
    return np.argsort(-scores.reshape(-1), kind="stable")[:k]


def _channel_mask(t: Tensor, dim: int, keep: np.ndarray) -> Tensor:
    """Ones on the kept slices of ``t`` along ``dim``, zeros elsewhere."""
    shape = [1] * t.dim()
    shape[dim] = t.shape[dim]
    sel = np.zeros(t.shape[dim])
    sel[keep] = 1.0
    line = _rustdl.tensor(sel.reshape(shape), dtype=t.dtype, device=t.device)
    return line.expand(*t.shape).contiguous()


class _ByScore(BasePruningMethod):
    """Unstructured pruning of the ``amount`` entries of smallest score (``_scores``)."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount: int | float) -> None:
        _validate_amount_init(amount)
        self.amount = amount

    def _scores(self, t: Tensor) -> np.ndarray:
        raise NotImplementedError

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        size = t.numel()
        k = _n_to_prune(self.amount, size)
        _validate_amount(k, size)
        mask = default_mask.clone()
        if k:
            mask = _zero_flat(mask, _smallest(self._scores(t), k))
        return mask


class RandomUnstructured(_ByScore):
    """Prunes ``amount`` of the entries, chosen uniformly at random."""

    def _scores(self, t: Tensor) -> np.ndarray:
        # PyTorch prunes the entries holding the k largest uniform draws
        return -_rustdl.rand_like(t).detach().cpu().numpy()

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float):  # type: ignore[override]
        return super().apply(module, name, amount=amount)


class L1Unstructured(_ByScore):
    """Prunes the ``amount`` entries of smallest absolute value."""

    def _scores(self, t: Tensor) -> np.ndarray:
        return np.abs(t.detach().cpu().numpy())

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float, importance_scores: Tensor | None = None):  # type: ignore[override]
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class RandomStructured(BasePruningMethod):
    """Prunes ``amount`` of the slices along ``dim`` (whole channels), chosen at random."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount: int | float, dim: int = -1) -> None:
        _validate_amount_init(amount)
        self.amount, self.dim = amount, dim

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        _validate_structured(t)
        _validate_dim(t, self.dim)
        dim = self.dim % t.dim()
        size = t.shape[dim]
        k = _n_to_prune(self.amount, size)
        _validate_amount(k, size)
        if k == 0:
            return default_mask
        scores = _rustdl.rand(size).numpy()
        keep = _largest(scores, size - k)
        return _channel_mask(t, dim, keep) * default_mask.to(dtype=t.dtype)

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float, dim: int = -1):  # type: ignore[override]
        return super().apply(module, name, amount=amount, dim=dim)


def _lp_norms(t: np.ndarray, n: Any, dim: int) -> np.ndarray:
    a = np.abs(np.moveaxis(t, dim, 0).reshape(t.shape[dim], -1))
    if n == "fro":
        n = 2
    if n == "nuc":
        return np.array([np.linalg.norm(np.moveaxis(t, dim, 0)[i], "nuc") for i in range(t.shape[dim])])
    if not isinstance(n, numbers.Real) or isinstance(n, bool):
        raise TypeError(f"ln_structured: the norm order n must be a number, 'fro' or 'nuc', got {n!r}")
    if n == float("inf"):
        return a.max(axis=1)
    if n == float("-inf"):
        return a.min(axis=1)
    if n == 0:
        return (a != 0).sum(axis=1).astype(np.float64)
    return (a.astype(np.float64) ** n).sum(axis=1) ** (1.0 / n)


class LnStructured(BasePruningMethod):
    """Prunes the ``amount`` slices along ``dim`` of smallest L``n`` norm (``n``: a number,
    ``inf``, ``-inf``, ``"fro"`` or ``"nuc"``)."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount: int | float, n: Any, dim: int = -1) -> None:
        _validate_amount_init(amount)
        self.amount, self.n, self.dim = amount, n, dim

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        _validate_structured(t)
        _validate_dim(t, self.dim)
        dim = self.dim % t.dim()
        size = t.shape[dim]
        k = _n_to_prune(self.amount, size)
        _validate_amount(k, size)
        norms = _lp_norms(t.detach().cpu().numpy(), self.n, dim)
        keep = _largest(norms, size - k)
        return _channel_mask(t, dim, keep) * default_mask.to(dtype=t.dtype)

    @classmethod
    def apply(  # type: ignore[override]
        cls,
        module: Module,
        name: str,
        amount: int | float,
        n: Any,
        dim: int,
        importance_scores: Tensor | None = None,
    ):
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes where the given ``mask`` is zero."""

    PRUNING_TYPE = "global"

    def __init__(self, mask: Tensor) -> None:
        if not isinstance(mask, Tensor):
            raise TypeError(f"CustomFromMask: mask must be a Tensor, got {type(mask).__name__}")
        self.mask = mask

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        if tuple(default_mask.shape) != tuple(self.mask.shape):
            raise ValueError(
                f"CustomFromMask: the mask has shape {tuple(self.mask.shape)}, the tensor {tuple(default_mask.shape)}"
            )
        return default_mask * self.mask.to(device=default_mask.device, dtype=default_mask.dtype)

    @classmethod
    def apply(cls, module: Module, name: str, mask: Tensor):  # type: ignore[override]
        return super().apply(module, name, mask=mask)


def identity(module: Module, name: str) -> Module:
    """Prunes nothing, but gives ``module.<name>`` the ``_orig`` / ``_mask`` layout. Returns ``module``."""
    Identity.apply(module, name)
    return module


def random_unstructured(module: Module, name: str, amount: int | float) -> Module:
    """Prunes ``amount`` (fraction or count) of the entries of ``module.<name>`` at random."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(
    module: Module, name: str, amount: int | float, importance_scores: Tensor | None = None
) -> Module:
    """Prunes the ``amount`` (fraction or count) entries of ``module.<name>`` with the smallest
    absolute value (of ``importance_scores`` if given)."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module: Module, name: str, amount: int | float, dim: int) -> Module:
    """Prunes ``amount`` of the slices of ``module.<name>`` along ``dim`` at random."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(
    module: Module, name: str, amount: int | float, n: Any, dim: int, importance_scores: Tensor | None = None
) -> Module:
    """Prunes the ``amount`` slices of ``module.<name>`` along ``dim`` of smallest L``n`` norm."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(
    parameters: Iterable[tuple[Module, str]],
    pruning_method: type,
    importance_scores: dict | None = None,
    **kwargs,
) -> None:
    """Prunes the tensors ``(module, name)`` in ``parameters`` together: the scores of all of
    them are pooled, so ``amount`` applies to the total and layers lose different fractions.

    Args:
        parameters: ``(module, name)`` pairs.
        pruning_method: an unstructured method class, e.g. ``L1Unstructured``.
        importance_scores: optional ``{(module, name): scores}``.
        **kwargs: the method's arguments (``amount=``).
    """
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    if importance_scores is None:
        importance_scores = {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    if not isinstance(pruning_method, type) or not issubclass(pruning_method, BasePruningMethod):
        raise TypeError(f"global_unstructured(): {pruning_method!r} is not a BasePruningMethod subclass")
    for entry in parameters:
        if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], Module)):
            raise TypeError("global_unstructured(): parameters must be (module, name) pairs")
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(
            'Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
            f"Found method {pruning_method} of type {method.PRUNING_TYPE}"
        )
    with no_grad():
        scores = _rustdl.cat(
            [importance_scores.get((m, n), getattr(m, n)).detach().reshape(-1) for m, n in parameters]
        )
        default = _rustdl.cat(
            [
                getattr(m, n + "_mask", None).detach().reshape(-1)
                if isinstance(getattr(m, n + "_mask", None), Tensor)
                else _rustdl.ones(getattr(m, n).numel(), dtype=scores.dtype, device=scores.device)
                for m, n in parameters
            ]
        ).to(dtype=scores.dtype)
        container = PruningContainer()
        container._tensor_name = "temp"
        container.add_pruning_method(method)
        final = container.compute_mask(scores, default)
    offset = 0
    for m, n in parameters:
        param = getattr(m, n)
        count = param.numel()
        custom_from_mask(m, n, mask=final[offset : offset + count].reshape(*param.shape))
        offset += count


def custom_from_mask(module: Module, name: str, mask: Tensor) -> Module:
    """Prunes ``module.<name>`` where ``mask`` is zero. Returns ``module``."""
    CustomFromMask.apply(module, name, mask=mask)
    return module


def remove(module: Module, name: str) -> Module:
    """Makes the pruning of ``module.<name>`` permanent and drops the reparametrization.

    Raises:
        ValueError: ``module.<name>`` is not pruned.
    """
    hooks = module.__dict__.get("_forward_pre_hooks") or {}
    for key, hook in list(hooks.items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del hooks[key]
            return module
    raise ValueError(
        f"Parameter '{name}' of module {type(module).__name__} has to be pruned before pruning can be removed"
    )


def is_pruned(module: Module) -> bool:
    """Whether ``module`` or any submodule has a pruned tensor."""
    for _, sub in module.named_modules():
        for hook in (sub.__dict__.get("_forward_pre_hooks") or {}).values():
            if isinstance(hook, BasePruningMethod):
                return True
    return False
