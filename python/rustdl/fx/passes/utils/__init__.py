"""Helpers of graph passes: :mod:`~rustdl.fx.passes.utils.matcher_utils` (subgraph matches)."""

from . import matcher_utils

__all__ = ["matcher_utils"]
