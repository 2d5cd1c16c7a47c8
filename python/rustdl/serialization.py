"""``torch.serialization``: :func:`save`/:func:`load` and the safe-globals allowlist that
``weights_only`` loads consult (see :mod:`rustdl.io`)."""

from __future__ import annotations

from .io import add_safe_globals, clear_safe_globals, get_safe_globals, load, safe_globals, save

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "load", "safe_globals", "save"]

# the pickle protocol torch.save writes by default (accepted for scripts that pass it on)
DEFAULT_PROTOCOL = 2
