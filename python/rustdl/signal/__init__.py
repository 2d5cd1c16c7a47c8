"""``torch.signal``: window functions in :mod:`rustdl.signal.windows`."""

from . import windows  # noqa: F401

__all__ = ["windows"]
