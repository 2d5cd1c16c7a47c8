"""Backs ``torch.utils``: ``torch.utils.data`` (rustdl.data); ``torch.utils.tensorboard`` maps to
rustdl.utils.tensorboard and ``torch.utils.checkpoint`` to rustdl.gradient_checkpoint."""

from .. import data  # noqa: F401
