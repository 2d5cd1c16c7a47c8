"""``torch.optim.adamw``: :class:`AdamW` (defined beside :class:`~rustdl.optim.Adam`, which it
extends), at home here as in PyTorch."""

from .adam import AdamW

AdamW.__module__ = __name__

__all__ = ["AdamW"]
