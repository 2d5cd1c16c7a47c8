"""``torch.nn.modules.flatten``: ``Flatten`` and ``Unflatten`` (defined in
:mod:`rustdl.nn.modules.linear`)."""

from .linear import Flatten, Unflatten

__all__ = ["Flatten", "Unflatten"]
