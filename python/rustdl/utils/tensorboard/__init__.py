"""TensorBoard logging, as ``torch.utils.tensorboard``: :class:`SummaryWriter` writes genuine
event files (TFRecord frames of hand-encoded ``Event`` protobufs) that TensorBoard reads."""

from .writer import FileWriter, SummaryWriter

__all__ = ["FileWriter", "SummaryWriter"]
