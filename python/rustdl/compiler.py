"""``torch.compiler`` for rustdl, consistent with :func:`rustdl.compile`: rustdl runs eagerly on
its native kernels and compiles nothing, so there is never a compiled region — ``disable`` and
``allow_in_graph`` return the function unchanged, ``is_compiling()`` is False and ``reset()``
has no cache to clear."""

from __future__ import annotations

from typing import Any, Callable

# (``OptimizedModule``, the compiled-module wrapper, is made on first use: see ``__getattr__``)
__all__ = [
    "allow_in_graph",
    "assume_constant_result",
    "compile",
    "cudagraph_mark_step_begin",
    "disable",
    "is_compiling",
    "is_dynamo_compiling",
    "is_exporting",
    "list_backends",
    "reset",
    "set_stance",
    "substitute_in_graph",
]


def _optimized_module_class():
    from .nn import Module

    class OptimizedModule(Module):
        """What ``torch.compile(module)`` returns, as PyTorch's wrapper: the module is its child
        ``_orig_mod`` (so ``state_dict`` keys carry the ``_orig_mod.`` prefix PyTorch's do and a
        checkpoint of a compiled model loads), calling it calls the module (which rustdl runs
        eagerly), and any attribute it lacks is the module's (``compiled.weight``)."""

        _is_rustdl_compiled = True

        def __init__(self, mod: Any, dynamo_ctx: Any = None) -> None:
            super().__init__()
            self._orig_mod = mod
            self.dynamo_ctx = dynamo_ctx

        def forward(self, *args: Any, **kwargs: Any) -> Any:
            return self._orig_mod(*args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            try:
                return super().__getattr__(name)
            except AttributeError:
                if name == "_orig_mod" or "_modules" not in self.__dict__:
                    raise
                return getattr(self._modules["_orig_mod"], name)

        def __repr__(self) -> str:
            return (
                f"OptimizedModule(\n  (_orig_mod): {repr(self._orig_mod).replace(chr(10), chr(10) + '  ')}\n)"
            )

    OptimizedModule.__module__ = __name__
    return OptimizedModule


def __getattr__(name: str) -> Any:
    if name == "OptimizedModule":
        cls = _optimized_module_class()
        globals()["OptimizedModule"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def compile(*args: Any, **kwargs: Any) -> Any:  # noqa: A001
    """:func:`rustdl.compile`: returns the model unchanged."""
    import rustdl

    return rustdl.compile(*args, **kwargs)


def disable(fn: Callable | None = None, recursive: bool = True, *, reason: str | None = None) -> Any:
    """Excludes ``fn`` from compilation: with nothing compiled, ``fn`` itself (a decorator when
    called without ``fn``)."""
    if fn is None:
        return lambda f: disable(f, recursive, reason=reason)
    if not callable(fn):
        raise TypeError(f"disable: expected a callable, got {type(fn).__name__}")
    return fn


def allow_in_graph(fn: Callable) -> Callable:
    """Marks ``fn`` as traceable into a compiled graph: returns ``fn`` (nothing is traced)."""
    return fn


def assume_constant_result(fn: Callable) -> Callable:
    """Marks ``fn``'s result as constant for tracing: returns ``fn`` (nothing is traced)."""
    return fn


def substitute_in_graph(
    original_fn: Callable, *, can_constant_fold_through: bool = False, skip_signature_check: bool = False
) -> Callable:
    """Registers a traceable stand-in for ``original_fn``: a decorator returning the stand-in
    unchanged (nothing is traced)."""
    return lambda fn: fn


def is_compiling() -> bool:
    """False: rustdl never runs code inside a compiled region."""
    return False


def is_dynamo_compiling() -> bool:
    """False (see :func:`is_compiling`)."""
    return False


def is_exporting() -> bool:
    """False: rustdl has no ``torch.export``."""
    return False


def reset() -> None:
    """Clears compilation caches: rustdl compiles nothing, so there are none."""


def list_backends(exclude_tags: Any = ("debug", "experimental")) -> list[str]:
    """The compiler backends ``rustdl.compile`` accepts by name; every one runs eagerly."""
    return ["inductor"]


def cudagraph_mark_step_begin() -> None:
    """Marks a CUDA-graph step: rustdl records no CUDA graphs, so there is nothing to mark."""


def set_stance(
    stance: str = "default", *, skip_guard_eval_unsafe: bool = False, force_backend: Any = None
) -> Any:
    """Sets how compiled functions behave: accepted (rustdl compiles nothing). Usable as a
    context manager or decorator, as PyTorch's."""
    import contextlib

    return contextlib.nullcontext()
