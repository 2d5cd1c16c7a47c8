"""``torch.nn.utils._named_member_accessor``: getting, setting and swapping a module's tensors
and submodules by dotted name, without the checks ``setattr`` applies (a plain tensor may
stand in for a parameter), as ``functional_call`` and functional libraries do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..._rustdl import Tensor
from ..modules.module import Module

__all__ = ["NamedMemberAccessor", "set_tensor", "swap_submodule", "swap_tensor"]

_MISSING: Any = object()  # the marker of "no such attribute" (in and out of swap_tensor)


def _check_name(name: Any, fn: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{fn}: the name must be a str, got {type(name).__name__}")
    if "." in name:
        raise KeyError('tensor name can\'t contain "."')
    if name == "":
        raise KeyError('tensor name can\'t be empty string ""')


def _check_args(module: Any, name: Any, tensor: Any, fn: str, missing_ok: bool = False) -> None:
    if not isinstance(module, Module):
        raise TypeError(f"{module} is not an instance of torch.nn.Module")
    if (tensor is _MISSING and not missing_ok) or (
        tensor is not _MISSING and tensor is not None and not isinstance(tensor, Tensor)
    ):
        raise TypeError(f"{tensor} is not an instance of torch.Tensor")
    _check_name(name, fn)


def set_tensor(module: Module, name: str, tensor: Tensor) -> None:
    """Puts ``tensor`` in ``module``'s own parameter or buffer ``name`` (as it is, a plain tensor
    included), else sets the attribute."""
    _check_args(module, name, tensor, "set_tensor")
    if name in module._parameters:
        module._parameters[name] = tensor
    elif name in module._buffers:
        module._buffers[name] = tensor
    else:
        setattr(module, name, tensor)


def swap_tensor(module: Module, name: str, tensor: Tensor, allow_missing: bool = False) -> Tensor:
    """Puts ``tensor`` where ``module``'s own tensor ``name`` is and returns the one that was
    there. ``tensor`` may be the module's ``_MISSING`` marker (the attribute is then removed);
    with ``allow_missing``, a missing attribute is swapped in and ``_MISSING`` returned."""
    _check_args(module, name, tensor, "swap_tensor", missing_ok=True)
    for store in (module._parameters, module._buffers):
        if name in store:
            orig = store[name]
            if tensor is _MISSING:
                del store[name]
            else:
                store[name] = tensor
            return orig
    if hasattr(module, name):
        orig = getattr(module, name)
    elif allow_missing:
        orig = _MISSING
    else:
        raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
    if orig is not _MISSING and orig is not None and not isinstance(orig, Tensor):
        raise TypeError(f"attribute `{name}`: {orig} is not an instance of torch.Tensor")
    if tensor is _MISSING:
        delattr(module, name)
    else:
        setattr(module, name, tensor)
    return orig


def swap_submodule(module: Module, name: str, submodule: Module) -> Module:
    """Puts ``submodule`` in ``module``'s child ``name`` and returns the child that was there."""
    if not isinstance(module, Module):
        raise TypeError(f"{module} is not an instance of torch.nn.Module")
    if not isinstance(submodule, Module):
        raise TypeError(f"{submodule} is not an instance of torch.nn.Module")
    _check_name(name, "swap_submodule")
    if name not in module._modules:
        raise KeyError(f"submodule {name} does not exist")
    orig = module._modules[name]
    if not isinstance(orig, Module):
        raise TypeError(f"{name} attribute is not an instance of torch.nn.Module")
    module._modules[name] = submodule
    return orig


class NamedMemberAccessor:
    """Gets, sets, swaps and deletes the tensors and submodules of ``module`` by dotted name
    (``"encoder.layers.0.weight"``), with the submodules looked up once and remembered."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.memo: dict[str, Module] = {}

    # ---------- submodules ----------

    def get_submodule(self, name: str) -> Module:
        """The submodule at dotted ``name`` (``""``: the module itself)."""
        if not name:
            return self.module
        if name in self.memo:
            return self.memo[name]
        prefix, _, attr = name.rpartition(".")
        parent = self.get_submodule(prefix)
        try:
            sub = getattr(parent, attr)
        except AttributeError as e:
            raise AttributeError(f"{parent._get_name()} has no attribute `{attr}`") from e
        if not isinstance(sub, Module):
            raise TypeError(f"{sub} is not an instance of torch.nn.Module")
        self.memo[name] = sub
        return sub

    def swap_submodule(self, path: str, value: Module) -> Module:
        prefix, _, attr = path.rpartition(".")
        return swap_submodule(self.get_submodule(prefix), attr, value)

    # ---------- tensors ----------

    def _split(self, name: str) -> tuple[Module, str]:
        prefix, _, attr = name.rpartition(".")
        return self.get_submodule(prefix), attr

    def get_tensor(self, name: str) -> Tensor:
        module, attr = self._split(name)
        if not hasattr(module, attr):
            raise AttributeError(f"{module._get_name()} has no attribute `{attr}`")
        tensor = getattr(module, attr)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"{tensor} is not an instance of torch.Tensor")
        return tensor

    def set_tensor(self, name: str, value: Tensor) -> None:
        module, attr = self._split(name)
        set_tensor(module, attr, value)

    def del_tensor(self, name: str) -> None:
        module, attr = self._split(name)
        if not hasattr(module, attr):
            raise AttributeError(f"{module._get_name()} has no attribute `{attr}`")
        delattr(module, attr)

    def swap_tensor(self, name: str, value: Tensor, allow_missing: bool = False) -> Tensor:
        module, attr = self._split(name)
        return swap_tensor(module, attr, value, allow_missing=allow_missing)

    def get_tensors(self, names: Iterable[str]) -> list[Tensor]:
        return [self.get_tensor(n) for n in names]

    def set_tensors(self, names: Iterable[str], values: Iterable[Tensor]) -> None:
        names, values = list(names), list(values)
        if len(names) != len(values):
            raise ValueError(f"names and values must have the same length: {len(names)} != {len(values)}")
        for n, v in zip(names, values):
            self.set_tensor(n, v)

    def set_tensors_dict(self, named_tensors: dict[str, Tensor]) -> None:
        for n, v in named_tensors.items():
            self.set_tensor(n, v)

    def del_tensors(self, names: Iterable[str]) -> None:
        for n in names:
            self.del_tensor(n)

    def swap_tensors(
        self, names: Iterable[str], values: Iterable[Tensor], allow_missing: bool = False
    ) -> list[Tensor]:
        names, values = list(names), list(values)
        if len(names) != len(values):
            raise ValueError(f"names and values must have the same length: {len(names)} != {len(values)}")
        return [self.swap_tensor(n, v, allow_missing=allow_missing) for n, v in zip(names, values)]

    def swap_tensors_dict(
        self, named_tensors: dict[str, Tensor], allow_missing: bool = False
    ) -> tuple[dict[str, Tensor], list[str]]:
        """Swaps every ``name: tensor`` in; returns the tensors swapped out and the names that
        were missing (``allow_missing``). A failure puts back what was swapped before it."""
        orig: dict[str, Tensor] = {}
        missing: list[str] = []
        try:
            for n, v in named_tensors.items():
                old = self.swap_tensor(n, v, allow_missing=True)
                if old is _MISSING:
                    missing.append(n)
                orig[n] = old
        except Exception:
            for n, old in orig.items():
                self.swap_tensor(n, old, allow_missing=True)
            raise
        if missing and not allow_missing:
            for n, old in orig.items():
                self.swap_tensor(n, old, allow_missing=True)
            raise RuntimeError(f"Missing key(s): {', '.join(map(repr, missing))}.")
        return orig, missing

    def check_keys(self, keys: Iterable[str]) -> tuple[list[str], list[str]]:
        """``(missing, unexpected)``: the module's tensor names not in ``keys``, and ``keys`` that
        are not among them."""
        keys = set(keys)
        valid = {name for name, _ in self.named_tensors(remove_duplicate=False)}
        return sorted(valid - keys), sorted(keys - valid)

    def named_parameters(self, remove_duplicate: bool = True) -> Iterable[tuple[str, Tensor]]:
        yield from self.module.named_parameters(remove_duplicate=remove_duplicate)

    def named_buffers(self, remove_duplicate: bool = True) -> Iterable[tuple[str, Tensor]]:
        yield from self.module.named_buffers(remove_duplicate=remove_duplicate)

    def named_tensors(self, remove_duplicate: bool = True) -> Iterable[tuple[str, Tensor]]:
        yield from self.module.named_parameters(remove_duplicate=remove_duplicate)
        yield from self.module.named_buffers(remove_duplicate=remove_duplicate)

    def named_modules(self, remove_duplicate: bool = True) -> Iterable[tuple[str, Module]]:
        yield from self.module.named_modules(remove_duplicate=remove_duplicate)
