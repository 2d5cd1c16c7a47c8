"""Graph passes: :mod:`~rustdl.fx.passes.shape_prop` (shapes and dtypes of every node)."""

from . import shape_prop, utils

__all__ = ["shape_prop", "utils"]
