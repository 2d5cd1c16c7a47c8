"""Calling a module with other parameters and buffers, as ``torch.nn.utils.stateless``."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

from ..._rustdl import Tensor

__all__ = ["functional_call"]

_MISSING = object()


def _merge(parameter_and_buffer_dicts, fn: str) -> dict[str, Any]:
    if isinstance(parameter_and_buffer_dicts, Mapping):
        return dict(parameter_and_buffer_dicts)
    if isinstance(parameter_and_buffer_dicts, (tuple, list)):
        merged: dict[str, Any] = {}
        for d in parameter_and_buffer_dicts:
            if not isinstance(d, Mapping):
                raise TypeError(
                    f"{fn}: expected a dict or a tuple of dicts of tensors, got an element of type "
                    f"{type(d).__name__}"
                )
            for k, v in d.items():
                if k in merged:
                    raise ValueError(f"{fn}: {k!r} appeared in multiple dictionaries; expected each key once")
                merged[k] = v
        return merged
    raise TypeError(
        f"{fn}: parameter_and_buffer_dicts must be a dict or a tuple of dicts, "
        f"got {type(parameter_and_buffer_dicts).__name__}"
    )


def _owner(module, name: str, fn: str):
    """The submodule that holds dotted ``name`` and the attribute's last component."""
    *path, attr = name.split(".")
    mod = module
    for i, part in enumerate(path):
        sub = mod._modules.get(part) if hasattr(mod, "_modules") else None
        if sub is None:
            raise AttributeError(
                f"{fn}: {type(module).__name__} has no submodule {'.'.join(path[: i + 1])!r} (key {name!r})"
            )
        mod = sub
    return mod, attr


def _tied_names(module) -> dict[str, list[str]]:
    """name -> every name of the same parameter/buffer object (tied weights), including itself."""
    groups: dict[int, list[str]] = {}
    for n, t in list(module.named_parameters(remove_duplicate=False)) + list(
        module.named_buffers(remove_duplicate=False)
    ):
        groups.setdefault(id(t), []).append(n)
    return {n: names for names in groups.values() for n in names}


def functional_call(
    module,
    parameter_and_buffer_dicts,
    args=None,
    kwargs=None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
):
    """Calls ``module(*args, **kwargs)`` with its parameters and buffers replaced by the given
    tensors, as ``torch.func.functional_call``.

    The replacements (which may carry autograd history, so gradients flow back to them) are put
    in place for the call only: the module's own parameters and buffers come back afterwards,
    even if the call raises. Keys are dotted names as in ``state_dict`` (``"0.weight"``); names
    not given keep the module's own tensors.

    Args:
        module: the ``nn.Module`` to call.
        parameter_and_buffer_dicts: a dict ``name -> tensor``, or a tuple of such dicts (e.g.
            ``(params, buffers)``); a key may appear in only one of them.
        args: the positional arguments (a tuple; anything else is the single argument).
        kwargs: the keyword arguments.
        tie_weights: a parameter the module shares under two names (tied weights) takes the
            given value under both when only one name is given.
        strict: every parameter and buffer must be given, and nothing else.

    Returns:
        What the module returns.
    """
    from ..modules.module import Module

    fn = "functional_call"
    if not isinstance(module, Module):
        raise TypeError(f"{fn}: expected an nn.Module, got {type(module).__name__}")
    values = _merge(parameter_and_buffer_dicts, fn)
    for k, v in values.items():
        if not isinstance(k, str):
            raise TypeError(f"{fn}: keys must be str names, got {type(k).__name__}")
        if v is not None and not isinstance(v, Tensor):
            raise TypeError(f"{fn}: the value for {k!r} must be a Tensor, got {type(v).__name__}")
    if kwargs is None:
        kwargs = {}
    elif not isinstance(kwargs, Mapping):
        raise TypeError(f"{fn}: kwargs must be a dict, got {type(kwargs).__name__}")
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)

    with _swapped(module, values, tie_weights, strict, fn):
        return module(*args, **kwargs)


@contextmanager
def _swapped(module, values: dict[str, Any], tie_weights: bool, strict: bool, fn: str):
    """``values`` (dotted name -> tensor) put in place of the module's parameters, buffers or
    attributes for the ``with`` block; the module's own come back afterwards, even on an error."""
    tied = _tied_names(module)
    if strict:
        # with tie_weights, one name of a tied group stands for all of them, as PyTorch's
        missing = sorted(
            k for k in set(tied) - set(values) if not (tie_weights and any(o in values for o in tied[k]))
        )
        unexpected = sorted(set(values) - set(tied))
        if missing or unexpected:
            raise RuntimeError(
                f"{fn}: strict=True and the given names do not match the module's parameters and "
                f"buffers (missing: {missing}, unexpected: {unexpected})"
            )
    if tie_weights:
        for k in list(values):
            for other in tied.get(k, ()):
                if other == k:
                    continue
                if other in values and values[other] is not values[k]:
                    raise ValueError(
                        f"{fn}: got different values for {k!r} and {other!r}, which are tied in the "
                        "module; pass one of them or tie_weights=False"
                    )
                values.setdefault(other, values[k])

    saved: list[tuple[Any, str, str, Any]] = []  # (owner, store, attr, old value)
    try:
        for name, value in values.items():
            owner, attr = _owner(module, name, fn)
            if attr in owner._parameters:
                saved.append((owner, "_parameters", attr, owner._parameters[attr]))
                owner._parameters[attr] = value
            elif attr in owner._buffers:
                saved.append((owner, "_buffers", attr, owner._buffers[attr]))
                owner._buffers[attr] = value
            else:
                saved.append((owner, "__dict__", attr, owner.__dict__.get(attr, _MISSING)))
                owner.__dict__[attr] = value
        yield module
    finally:
        for owner, store, attr, old in reversed(saved):
            d = owner.__dict__ if store == "__dict__" else getattr(owner, store)
            if old is _MISSING:
                d.pop(attr, None)
            else:
                d[attr] = old


@contextmanager
def _reparametrize_module(
    module,
    parameters_and_buffers,
    tie_weights: bool = False,
    strict: bool = False,
    stack_weights: bool = False,
):
    """``torch.nn.utils.stateless._reparametrize_module``: within the ``with`` block the module's
    parameters and buffers named in ``parameters_and_buffers`` are the given tensors (what
    ``functional_call`` calls the module under)."""
    from ..modules.module import Module

    fn = "_reparametrize_module"
    if not isinstance(module, Module):
        raise TypeError(f"{fn}: expected an nn.Module, got {type(module).__name__}")
    values = _merge(parameters_and_buffers, fn)
    with _swapped(module, values, tie_weights, strict, fn):
        yield
