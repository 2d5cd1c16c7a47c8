"""``torch.serialization``: :func:`save`/:func:`load` and the safe-globals allowlist that
``weights_only`` loads consult (see :mod:`rustdl.io`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, Any, Union

from .io import add_safe_globals, clear_safe_globals, get_safe_globals, load, safe_globals, save

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "load", "safe_globals", "save"]

# the pickle protocol torch.save writes by default (accepted for scripts that pass it on)
DEFAULT_PROTOCOL = 2

# the types torch.serialization names for its arguments (libraries annotate with them)
FILE_LIKE = Union[str, os.PathLike, IO[bytes]]
MAP_LOCATION = Union[Callable[[Any, str], Any], Any, str, dict, None]
STORAGE = Any
