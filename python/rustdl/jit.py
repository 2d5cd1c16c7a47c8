"""``torch.jit`` for eager rustdl: ``script``/``trace`` return the callable unchanged (rustdl runs
eagerly, so the result computes the same thing); ``save``/``load`` round-trip a scripted or traced
module through rustdl's checkpoint format (the module pickled with its tensors, as
``torch.save(model)``). TorchScript archives written by PyTorch cannot be loaded.
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


# the key under which jit.save stores the module in its checkpoint
_JIT_KEY = "__rustdl_jit_module__"


def save(m: Any, f: Any, _extra_files: Any = None) -> None:
    """Saves a scripted or traced module (rustdl's ``jit.script``/``trace`` return the module
    itself) so that :func:`load` gives it back: the module is pickled with its tensors, as
    ``rustdl.save(model, f)`` does, so its class must be importable where it is loaded (defined
    in a module, or in the script that loads it)."""
    from .io import save as _save

    if not callable(m):
        raise TypeError(f"rustdl.jit.save: expected a module or function, got {type(m).__name__}")
    if _extra_files:
        raise NotImplementedError("rustdl.jit.save: _extra_files is not supported")
    _save({_JIT_KEY: m}, f)


def load(f: Any, map_location: Any = None, _extra_files: Any = None) -> Any:
    """Loads a module saved with :func:`save` (its tensors placed by ``map_location``, as
    ``rustdl.load``). Like ``torch.jit.load``, only load files you trust: rebuilding the module
    runs the code its pickle names. TorchScript archives written by PyTorch are not supported:
    load their ``state_dict`` instead."""
    import pickle

    from .io import load as _load

    if _extra_files:
        raise NotImplementedError("rustdl.jit.load: _extra_files is not supported")
    try:
        obj = _load(f, map_location=map_location, weights_only=False)
    except (ValueError, pickle.UnpicklingError) as e:
        raise NotImplementedError(
            f"rustdl.jit.load: {getattr(f, 'name', f)!r} is not an archive written by "
            f"rustdl.jit.save ({type(e).__name__}: {e}); TorchScript archives from PyTorch are "
            "not supported: save and load the model's state_dict instead"
        ) from None
    if isinstance(obj, dict) and _JIT_KEY in obj:
        return obj[_JIT_KEY]
    raise NotImplementedError(
        f"rustdl.jit.load: {getattr(f, 'name', f)!r} is a checkpoint, not an archive written by "
        "rustdl.jit.save; load it with rustdl.load"
    )
