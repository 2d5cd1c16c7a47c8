"""``rustdl.fx.experimental``: :mod:`~rustdl.fx.experimental.optimization` (BatchNorm folding
of traced modules), what ``torch.fx.experimental`` names under the compatibility layer."""

from . import optimization

__all__ = ["optimization"]
