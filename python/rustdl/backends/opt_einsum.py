"""``torch.backends.opt_einsum``: whether the ``opt_einsum`` package is there to order the
contractions of ``einsum``. rustdl's ``einsum`` folds operands left to right whatever this says;
the flags are kept for code that reads or sets them."""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["enabled", "get_opt_einsum", "is_available", "strategy"]


def is_available() -> bool:
    """Whether the ``opt_einsum`` package can be imported."""
    return importlib.util.find_spec("opt_einsum") is not None


def get_opt_einsum() -> Any:
    """The ``opt_einsum`` module, or None where it is not installed."""
    if not is_available():
        return None
    import opt_einsum

    return opt_einsum


enabled = is_available()
strategy = "auto" if enabled else None
