"""What ``torch.version`` answers under :mod:`rustdl.torchcompat`.

rustdl is not a CUDA or ROCm build: ``cuda`` and ``hip`` are ``None`` (as in a CPU build of
PyTorch) even when ``torch.cuda.is_available()`` is True on rustdl's GPU.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import rustdl


def _release(v: Any) -> tuple[int, ...]:
    """The numeric release of a version string ("2.6.0+rustdl0.1.0" -> (2, 6, 0)) or of a tuple
    or list of parts ((2, 0) -> (2, 0))."""
    if isinstance(v, str):
        parts = v.split("+", 1)[0].split(".")
    elif isinstance(v, Iterable):
        parts = [str(p) for p in v]
    else:
        raise TypeError(f"cannot compare a version with {type(v).__name__}")
    out = []
    for p in parts:
        digits = "".join(itertools.takewhile(str.isdigit, p))
        if not digits:
            break
        out.append(int(digits))
        if len(digits) != len(p):  # "0a0", "0rc1": the release ends here
            break
    while out and out[-1] == 0:
        out.pop()
    return tuple(out)


class TorchVersion(str):
    """``torch.__version__``: a string that also compares with version strings and tuples
    (``torch.__version__ >= (2, 0)``, ``>= "1.13"``) by release number, as PyTorch's."""

    def __lt__(self, other: Any) -> bool:
        return _release(self) < _release(other)

    def __le__(self, other: Any) -> bool:
        return _release(self) <= _release(other)

    def __gt__(self, other: Any) -> bool:
        return _release(self) > _release(other)

    def __ge__(self, other: Any) -> bool:
        return _release(self) >= _release(other)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, str) and str.__eq__(self, other):
            return True
        try:
            return _release(self) == _release(other)
        except TypeError:
            return False

    __hash__ = str.__hash__


__version__ = TorchVersion(rustdl.__torch_compat_version__)
git_version = "rustdl-" + rustdl.__version__
debug = False
cuda = None
hip = None
xpu = None
