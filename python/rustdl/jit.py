"""Placeholder for ``torch.jit``: ``script``/``trace`` return the callable unchanged (rustdl runs
eagerly, so the result computes the same thing); saving/loading TorchScript is not supported.
"""

from __future__ import annotations

from typing import Any, Callable

# ``x: torch.jit.Final[int]`` annotations in module classes: a type hint only
from typing import Final as Final


def script(obj: Any, *args: Any, **kwargs: Any) -> Any:
    """Returns ``obj`` itself: rustdl has no graph compiler, the eager code runs as is."""
    return obj


def trace(func: Callable, example_inputs: Any = None, *args: Any, **kwargs: Any) -> Callable:
    """Returns ``func`` itself (eager execution; no trace is recorded)."""
    return func


def ignore(fn: Any = None, **kwargs: Any) -> Any:
    """Decorator accepted for compatibility; returns the function unchanged."""
    return fn if fn is not None else (lambda f: f)


unused = ignore
export = ignore


def is_scripting() -> bool:
    """False: rustdl always runs eagerly."""
    return False


def is_tracing() -> bool:
    """False: nothing is ever traced."""
    return False


def save(*args: Any, **kwargs: Any) -> None:
    """Raises NotImplementedError: use ``rustdl.save(model.state_dict(), path)``."""
    raise NotImplementedError(
        "rustdl.jit.save: TorchScript archives are not supported; use "
        "rustdl.save(model.state_dict(), path) and model.load_state_dict(rustdl.load(path))"
    )


def load(*args: Any, **kwargs: Any) -> None:
    """Raises NotImplementedError: use ``rustdl.load(path)`` with a state dict."""
    raise NotImplementedError(
        "rustdl.jit.load: TorchScript archives are not supported; use rustdl.load(path) "
        "for a state dict saved with rustdl.save"
    )
