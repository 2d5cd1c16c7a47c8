"""Training utilities shaped like ``torch.utils``: :mod:`rustdl.utils.tensorboard` (``SummaryWriter``)."""
