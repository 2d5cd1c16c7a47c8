"""``torch.nn.utils.parametrize``: express a module's tensor as a function of other tensors.

After ``register_parametrization(module, "weight", P)`` the parameter moves to
``module.parametrizations.weight.original`` and reading ``module.weight`` computes
``P(original)`` afresh each time (so gradients reach ``original`` and optimizers update it).
The module's class is swapped for a generated subclass (``ParametrizedLinear``) that holds a
property for ``weight``; :func:`type_before_parametrizations` gives the class it had before.

Example:
    >>> class Symmetric(nn.Module):
    ...     def forward(self, X):
    ...         return X.triu() + X.triu(1).transpose(0, 1)
    >>> layer = nn.Linear(3, 3)
    >>> parametrize.register_parametrization(layer, "weight", Symmetric())
    >>> sorted(layer.state_dict())
    ['bias', 'parametrizations.weight.original']
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from contextlib import contextmanager

from ..._rustdl import Tensor
from ...autograd import no_grad
from ..modules.container import ModuleDict, ModuleList
from ..modules.module import Module
from ..parameter import Parameter

__all__ = [
    "ParametrizationList",
    "cached",
    "is_parametrized",
    "register_parametrization",
    "remove_parametrizations",
    "transfer_parametrizations_and_params",
    "type_before_parametrizations",
]

_cache_enabled = 0
_cache: dict = {}


@contextmanager
def cached():
    """Within this context each parametrized tensor is computed once, on its first use, and
    reused (e.g. a parametrized RNN weight used at every time step); the cache is cleared on
    leaving the outermost context."""
    global _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache.clear()


def _set_tensor(dst: Tensor, value: Tensor) -> Tensor:
    """Makes ``dst`` hold ``value``'s values and returns it, keeping the object (a Parameter stays
    the one an optimizer holds); a different dtype or shape (only with ``unsafe``) swaps its
    data, as PyTorch's ``dst.set_(value)``."""
    with no_grad():
        value = value.detach()
        if tuple(dst.shape) != tuple(value.shape):
            dst.data = value.clone()
        elif dst.dtype == value.dtype:
            dst.copy_(value)
        else:
            dst.data = value.clone()
    return dst


def _register_tensor(module: Module, name: str, value: Tensor) -> None:
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    else:
        module.register_buffer(name, value)


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, with the unparametrized tensor(s):
    ``original`` when the first ``right_inverse`` returns one tensor, else ``original0``,
    ``original1``, ... (one per tensor it returns).

    Args:
        modules: the parametrizations (modules).
        original: the tensor being parametrized (its Parameter object becomes ``original``).
        unsafe: skip the checks that the parametrization keeps shape and dtype.
    """

    def __init__(self, modules: Sequence[Module], original: Tensor, unsafe: bool = False) -> None:
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        shape, dtype = tuple(original.shape), original.dtype
        with no_grad():
            new = original
            for module in reversed(list(self)):
                inverse = getattr(module, "right_inverse", None)
                if inverse is None:
                    continue
                try:
                    new = inverse(new)
                except NotImplementedError:
                    pass
        if not isinstance(new, Tensor) and not (
            isinstance(new, Sequence) and all(isinstance(t, Tensor) for t in new)
        ):
            raise ValueError(
                "'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                f"Got {type(new).__name__}"
            )
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if not unsafe and new.dtype != dtype:
                raise ValueError(
                    "When `right_inverse` outputs one tensor, it may not change the dtype.\n"
                    f"original.dtype: {dtype}\nright_inverse(original).dtype: {new.dtype}"
                )
            if new is not original:
                original = _set_tensor(original, new)
            _register_tensor(self, "original", original)
        else:
            for i, t in enumerate(new):
                t = t.detach().clone()
                if isinstance(original, Parameter):
                    t = Parameter(t, original.requires_grad)
                _register_tensor(self, f"original{i}", t)
        if not unsafe:
            z = self()
            if not isinstance(z, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got {type(z).__name__}.")
            if z.dtype != dtype:
                raise ValueError(
                    "Registering a parametrization may not change the dtype of the tensor, unless "
                    f"`unsafe` flag is enabled.\nunparametrized dtype: {dtype}\nparametrized dtype: {z.dtype}"
                )
            if tuple(z.shape) != shape:
                raise ValueError(
                    "Registering a parametrization may not change the shape of the tensor, unless "
                    f"`unsafe` flag is enabled.\nunparametrized shape: {shape}\nparametrized shape: {tuple(z.shape)}"
                )

    def originals(self) -> list[Tensor]:
        """The unparametrized tensor(s), in order."""
        if self.is_tensor:
            return [self.original]
        return [getattr(self, f"original{i}") for i in range(self.ntensors)]

    def right_inverse(self, value: Tensor) -> None:
        """Sets the original tensor(s) so that the parametrization yields ``value``: each
        parametrization's ``right_inverse``, last first (a RuntimeError if one lacks it)."""
        with no_grad():
            for module in reversed(list(self)):
                inverse = getattr(module, "right_inverse", None)
                if inverse is None:
                    raise RuntimeError(
                        f"parametrization {type(module).__name__} does not implement right_inverse."
                    )
                value = inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor. Got {type(value).__name__}")
                original = self.original
                if not self.unsafe and (
                    value.dtype != original.dtype or tuple(value.shape) != tuple(original.shape)
                ):
                    raise ValueError(
                        "The tensor returned by `right_inverse` has dtype/shape "
                        f"{value.dtype}/{tuple(value.shape)} while `original` has "
                        f"{original.dtype}/{tuple(original.shape)}"
                    )
                kept = _set_tensor(original, value)
                if kept is not original:
                    _register_tensor(self, "original", kept)
            else:
                if not isinstance(value, Sequence) or len(value) != self.ntensors:
                    raise ValueError(
                        f"'right_inverse' must return a sequence of {self.ntensors} tensors. "
                        f"Got {type(value).__name__}"
                    )
                for i, t in enumerate(value):
                    old = getattr(self, f"original{i}")
                    kept = _set_tensor(old, t)
                    if kept is not old:
                        _register_tensor(self, f"original{i}", kept)

    def forward(self) -> Tensor:
        mods = list(self)
        x = mods[0](*self.originals())
        for m in mods[1:]:
            x = m(x)
        return x


def _make_property(tensor_name: str) -> property:
    def getter(self: Module) -> Tensor:
        plist = self.parametrizations[tensor_name]
        if _cache_enabled:
            key = (id(self), tensor_name)
            value = _cache.get(key)
            if value is None:
                value = plist()
                _cache[key] = value
            return value
        return plist()

    def setter(self: Module, value: Tensor) -> None:
        self.parametrizations[tensor_name].right_inverse(value)

    return property(getter, setter, doc=f"``{tensor_name}``, computed by its parametrizations")


def _inject_class(module: Module) -> None:
    cls = module.__class__

    def no_pickle(self):
        raise RuntimeError("Serialization of parametrized modules is only supported through state_dict().")

    def plain_deepcopy(self, memo):
        # pickling is refused, but a deep copy is still made: of the attributes themselves
        replica = self.__new__(type(self))
        memo[id(self)] = replica
        replica.__dict__ = copy.deepcopy(self.__dict__, memo)
        return replica

    members = {"__getstate__": no_pickle}
    if getattr(cls, "__deepcopy__", None) is Module.__deepcopy__:  # no deep copy of the class's own
        members["__deepcopy__"] = plain_deepcopy
    new_cls = type(f"Parametrized{cls.__name__}", (cls,), members)
    new_cls.__module__ = cls.__module__
    new_cls.__qualname__ = f"Parametrized{cls.__qualname__}"
    module.__class__ = new_cls


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module`` has any parametrization (or, with ``tensor_name``, one on that tensor)."""
    parametrizations = module.__dict__.get("_modules", {}).get("parametrizations")
    if parametrizations is None or not isinstance(parametrizations, ModuleDict):
        return False
    if tensor_name is None:
        return len(parametrizations) > 0
    return tensor_name in parametrizations


def type_before_parametrizations(module: Module) -> type:
    """The module's class before parametrizations were registered (its own class otherwise)."""
    if is_parametrized(module):
        return module.__class__.__bases__[0]
    return type(module)


def register_parametrization(
    module: Module, tensor_name: str, parametrization: Module, *, unsafe: bool = False
) -> Module:
    """Parametrizes ``module.<tensor_name>`` (a parameter or buffer) by ``parametrization``.

    Registering a second one on the same tensor chains it after the first. A
    ``right_inverse(X)`` method on the parametrization, if present, initialises ``original``
    (so that the parametrized tensor starts as the old one) and serves assignments
    ``module.<tensor_name> = X``; it may return several tensors (``original0``, ...).

    Args:
        module: the module.
        tensor_name: the parameter or buffer to parametrize.
        parametrization: a module mapping the original tensor(s) to the tensor.
        unsafe: allow a parametrization that changes the shape or dtype.

    Returns:
        ``module``.

    Raises:
        ValueError: no such parameter/buffer, or the parametrization changes shape/dtype.
    """
    if not isinstance(module, Module):
        raise TypeError(f"register_parametrization: expected a Module, got {type(module).__name__}")
    if not isinstance(parametrization, Module):
        raise TypeError(
            f"register_parametrization: the parametrization must be a Module, got {type(parametrization).__name__}"
        )
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            y = getattr(module, tensor_name)
            x = parametrization(y)
            if not isinstance(x, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got {type(x).__name__}.")
            if x.dtype != y.dtype or tuple(x.shape) != tuple(y.shape):
                raise ValueError(
                    "Registering a parametrization may not change the shape or dtype of the tensor, "
                    "unless the `unsafe` flag is enabled.\n"
                    f"unparametrized: {tuple(y.shape)}, {y.dtype}; parametrized: {tuple(x.shape)}, {x.dtype}"
                )
            inverse = getattr(parametrization, "right_inverse", None)
            if inverse is not None:
                try:
                    z = inverse(x)
                except NotImplementedError:
                    z = None
                if z is not None and (
                    not isinstance(z, Tensor) or z.dtype != y.dtype or tuple(z.shape) != tuple(y.shape)
                ):
                    raise ValueError(
                        "parametrization.right_inverse must return a tensor with the shape and dtype "
                        "of the tensor it parametrizes"
                    )
        plist = module.parametrizations[tensor_name]
        plist.append(parametrization)
        plist.unsafe = plist.unsafe or unsafe
    elif tensor_name in module._parameters or tensor_name in module._buffers:
        original = getattr(module, tensor_name)
        if original is None:
            raise ValueError(f"register_parametrization: '{tensor_name}' of {type(module).__name__} is None")
        plist = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_class(module)
            module.parametrizations = ModuleDict()
        setattr(module.__class__, tensor_name, _make_property(tensor_name))
        module.parametrizations[tensor_name] = plist
    else:
        raise ValueError(
            f"Module '{type(module).__name__}' does not have a parameter, a buffer, or a "
            f"parametrized element with name '{tensor_name}'"
        )
    return module


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True) -> Module:
    """Removes the parametrizations of ``module.<tensor_name>``: it becomes a plain parameter
    (or buffer) again, the same object as ``original``, holding the parametrized value
    (``leave_parametrized=True``) or the original one.

    Raises:
        ValueError: the tensor is not parametrized, or ``leave_parametrized=False`` for a tensor
            parametrized by several originals.
    """
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {type(module).__name__} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                value = getattr(module, tensor_name)
            original = _set_tensor(original, value)
    else:
        if not leave_parametrized:
            raise ValueError(
                "Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is "
                "parametrized in terms of a sequence of tensors."
            )
        with no_grad():
            value = getattr(module, tensor_name).detach().clone()
        first = plist.original0
        original = Parameter(value, first.requires_grad) if isinstance(first, Parameter) else value
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register_tensor(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module


def transfer_parametrizations_and_params(
    from_module: Module, to_module: Module, tensor_name: str | None = None
) -> Module:
    """Registers on ``to_module`` the parametrizations ``from_module`` has (on ``tensor_name``
    or on every tensor) and copies their original tensors over."""
    if not is_parametrized(from_module):
        return to_module
    names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
    for name in names:
        src = from_module.parametrizations[name]
        if not is_parametrized(to_module, name):
            if name not in to_module._parameters and name not in to_module._buffers:
                with no_grad():
                    value = getattr(from_module, name).detach().clone()
                to_module.register_parameter(name, Parameter(value))
            for p in src:
                register_parametrization(to_module, name, p, unsafe=src.unsafe)
        dst = to_module.parametrizations[name]
        for i, (a, b) in enumerate(zip(dst.originals(), src.originals())):
            kept = _set_tensor(a, b)
            if kept is not a:
                _register_tensor(dst, "original" if dst.is_tensor else f"original{i}", kept)
    return to_module
