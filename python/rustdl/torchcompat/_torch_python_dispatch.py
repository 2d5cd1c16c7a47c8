"""``torch.utils._python_dispatch``: the names library code imports for ``__torch_dispatch__``
(ATen-level) subclasses and modes. rustdl has no ATen dispatch level: no tensor is ever a wrapper
subclass and no dispatch mode is ever active, so the probes answer that, and entering a
:class:`TorchDispatchMode` raises saying so (``__torch_function__`` subclasses and
``torch.overrides.TorchFunctionMode`` work)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = [
    "TorchDispatchMode",
    "_disable_current_modes",
    "_get_current_dispatch_mode",
    "_get_current_dispatch_mode_stack",
    "is_traceable_wrapper_subclass",
    "return_and_correct_aliasing",
]


class TorchDispatchMode:
    """PyTorch's ATen-level mode. Subclassing it works (libraries define theirs at import); entering
    one raises ``NotImplementedError``, since rustdl's ops do not pass through an ATen dispatcher."""

    def __init__(self, _dispatch_key: Any = None) -> None:
        self._dispatch_key = _dispatch_key

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        raise NotImplementedError

    def __enter__(self) -> TorchDispatchMode:
        raise NotImplementedError(
            f"{type(self).__name__}: rustdl has no ATen dispatch level, so __torch_dispatch__ modes cannot "
            "run; torch.overrides.TorchFunctionMode sees every torch call instead"
        )

    def __exit__(self, *exc: Any) -> None:
        return None

    @classmethod
    def push(cls, *args: Any, **kwargs: Any) -> TorchDispatchMode:
        return cls(*args, **kwargs)


def _get_current_dispatch_mode() -> None:
    """None: no dispatch mode is ever active."""
    return None


def _get_current_dispatch_mode_stack() -> list:
    return []


@contextlib.contextmanager
def _disable_current_modes() -> Iterator[tuple]:
    """Nothing to disable (no dispatch mode is ever active)."""
    yield ()


def is_traceable_wrapper_subclass(t: Any) -> bool:
    """False: rustdl has no wrapper subclasses (``_make_wrapper_subclass``)."""
    return False


def is_traceable_wrapper_subclass_type(t: Any) -> bool:
    return False


def return_and_correct_aliasing(func: Any, args: Any, kwargs: Any, out: Any) -> Any:
    raise NotImplementedError("return_and_correct_aliasing: rustdl has no __torch_dispatch__ subclasses")
