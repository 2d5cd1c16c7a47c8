"""``torch.nn.modules.lazy``: :class:`LazyModuleMixin`, the base of user modules whose parameter
shapes are fixed by their first input."""

from __future__ import annotations

from typing import Any

from ..parameter import is_lazy

__all__ = ["LazyModuleMixin"]


class LazyModuleMixin:
    """A mixin for modules with :class:`~rustdl.nn.parameter.UninitializedParameter` placeholders.

    A subclass (``class MyLazy(LazyModuleMixin, nn.Module)``) implements
    ``initialize_parameters(*args, **kwargs)``, which materialises its placeholders from the
    arguments of the first call; that call runs it before ``forward``, after which the hook is
    gone and, when ``cls_to_become`` is set, the module becomes that class. Build the optimizer
    after the first forward.
    """

    cls_to_become: type | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(
            LazyModuleMixin._infer_parameters, with_kwargs=True
        )

    def has_uninitialized_params(self) -> bool:
        """True while a parameter or buffer of this module is still a placeholder."""
        items = list(self._parameters.values()) + list(self._buffers.values())
        return any(t is not None and is_lazy(t) for t in items)

    def initialize_parameters(self, *args: Any, **kwargs: Any) -> None:
        """Materialises the placeholders from the first call's arguments (to be overridden)."""
        raise NotImplementedError(f"initialize_parameters is not implemented for {type(self).__name__}")

    @staticmethod
    def _infer_parameters(module: Any, args: tuple, kwargs: dict | None = None) -> None:
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(
                f"module {type(module).__name__} has not been fully initialized by its initialize_parameters"
            )
        module._initialize_hook.remove()
        del module._initialize_hook
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become
