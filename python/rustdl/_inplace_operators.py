"""In-place operators (``t += o``, ``t //= o``, ...) that step aside for an operand PyTorch's
operators do not take: they answer ``NotImplemented``, so Python goes on to ``t = t + o`` and
asks ``o``'s reflected method (a sympy number, a user's class), or raises ``TypeError``.

``__iadd__`` is also made a Python function here: a Python subclass of ``Tensor``
(``nn.Parameter``) would otherwise inherit the native slot as its sequence concatenation as
well, which CPython calls after ``NotImplemented``, so ``param += [1]`` returned
``NotImplemented`` as its result instead of raising.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._rustdl import Tensor

_NAMES = (
    "__iadd__",
    "__ifloordiv__",
    "__imod__",
    "__iand__",
    "__ior__",
    "__ixor__",
    "__ilshift__",
    "__irshift__",
)


def operator_operand(obj: Any) -> bool:
    """Whether an operator takes ``obj``: a tensor, a Python or numpy number, a numpy array."""
    return isinstance(obj, (Tensor, int, float, complex, np.ndarray, np.generic))


def _stepping_aside(fn: Callable[[Any, Any], Any], name: str) -> Callable[[Any, Any], Any]:
    def op(self: Any, other: Any) -> Any:
        if not operator_operand(other) and not hasattr(type(other), "__torch_function__"):
            return NotImplemented
        return fn(self, other)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = getattr(fn, "__doc__", None)
    return op


def install() -> None:
    for name in _NAMES:
        fn = Tensor.__dict__.get(name)
        if fn is not None and not getattr(fn, "_steps_aside", False):
            wrapped = _stepping_aside(fn, name)
            wrapped._steps_aside = True  # type: ignore[attr-defined]
            setattr(Tensor, name, wrapped)
