"""``torch.optim.adagrad``: :class:`Adagrad` (defined beside :class:`~rustdl.optim.RMSprop`), at
home here as in PyTorch."""

from .rmsprop import Adagrad

Adagrad.__module__ = __name__

__all__ = ["Adagrad"]
