"""``torch.nn.modules.channelshuffle``: :class:`ChannelShuffle` (defined in
:mod:`rustdl.nn.modules.pixelshuffle`)."""

from .pixelshuffle import ChannelShuffle

__all__ = ["ChannelShuffle"]
