"""``torch.distributed.fsdp.wrap``: the auto-wrap policies (predicates on modules, usable on
their own) and the ``enable_wrap``/``wrap`` context. Wrapping with FSDP itself raises in rustdl,
which shards nothing; ``wrap`` outside ``enable_wrap`` returns the module unchanged."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterable
from typing import Any

__all__ = [
    "CustomPolicy",
    "ModuleWrapPolicy",
    "always_wrap_policy",
    "enable_wrap",
    "lambda_auto_wrap_policy",
    "size_based_auto_wrap_policy",
    "transformer_auto_wrap_policy",
    "wrap",
]


def always_wrap_policy(*args: Any, **kwargs: Any) -> bool:
    """Wraps every module."""
    return True


def lambda_auto_wrap_policy(
    module: Any, recurse: bool, nonwrapped_numel: int, lambda_fn: Callable[..., bool]
) -> bool:
    """Descends everywhere; wraps the modules for which ``lambda_fn(module)`` is true."""
    return True if recurse else bool(lambda_fn(module))


def transformer_auto_wrap_policy(
    module: Any, recurse: bool, nonwrapped_numel: int, transformer_layer_cls: Iterable[type]
) -> bool:
    """Descends everywhere; wraps the instances of ``transformer_layer_cls``."""
    return True if recurse else isinstance(module, tuple(transformer_layer_cls))


def size_based_auto_wrap_policy(
    module: Any,
    recurse: bool,
    nonwrapped_numel: int,
    min_num_params: int = int(1e8),
    force_leaf_modules: set[type] | None = None,
    exclude_wrap_modules: set[type] | None = None,
) -> bool:
    """Wraps a module once it holds at least ``min_num_params`` parameters not yet wrapped;
    does not descend into ``force_leaf_modules`` nor wrap ``exclude_wrap_modules``."""
    from rustdl import nn

    leaves = tuple(force_leaf_modules if force_leaf_modules is not None else {nn.MultiheadAttention})
    excluded = tuple(
        exclude_wrap_modules if exclude_wrap_modules is not None else {nn.ModuleList, nn.ModuleDict}
    )
    big = nonwrapped_numel >= min_num_params
    if recurse:
        return big and not isinstance(module, leaves)
    return big and not isinstance(module, excluded)


class ModuleWrapPolicy:
    """Wraps the instances of the given module classes."""

    def __init__(self, module_classes: Iterable[type]) -> None:
        self._module_classes = tuple(set(module_classes))

    def __call__(self, module: Any, recurse: bool, *args: Any, **kwargs: Any) -> bool:
        return True if recurse else isinstance(module, self._module_classes)


class CustomPolicy:
    """Wraps the modules for which ``lambda_fn(module)`` is true (a dict result gives the wrap's
    keyword arguments)."""

    def __init__(self, lambda_fn: Callable[[Any], bool | dict[str, Any]]) -> None:
        self._lambda_fn = lambda_fn

    def __call__(self, module: Any, recurse: bool, *args: Any, **kwargs: Any) -> bool:
        return True if recurse else bool(self._lambda_fn(module))


_WRAP: list[tuple[Any, dict[str, Any]]] = []


@contextlib.contextmanager
def enable_wrap(*, wrapper_cls: Any, **wrapper_kwargs: Any) -> Generator[None, None, None]:
    """Inside the block, :func:`wrap` wraps with ``wrapper_cls(module, **wrapper_kwargs)``."""
    _WRAP.append((wrapper_cls, wrapper_kwargs))
    try:
        yield
    finally:
        _WRAP.pop()


def wrap(module: Any, **wrap_overrides: Any) -> Any:
    """``module`` wrapped by the innermost :func:`enable_wrap`'s class; unchanged outside one."""
    if not _WRAP:
        return module
    cls, kwargs = _WRAP[-1]
    return cls(module, **{**kwargs, **wrap_overrides})
