"""``Upsample``: nearest or bilinear resizing of images."""

from __future__ import annotations

from ..._rustdl import Tensor
from .. import functional as F
from .module import Module


class Upsample(Module):
    """Upsamples an ``(N, C, H, W)`` input by ``size`` or ``scale_factor`` (``nearest`` or ``bilinear``).

    Example:
        >>> nn.Upsample(scale_factor=2, mode="bilinear")(rustdl.randn(1, 1, 3, 3)).shape
        (1, 1, 6, 6)
    """

    def __init__(
        self, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None
    ) -> None:
        super().__init__()
        if mode not in ("nearest", "bilinear", "linear"):
            raise ValueError(f"Upsample: mode must be 'nearest', 'linear' or 'bilinear', got '{mode}'")
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        if mode == "nearest" and align_corners:
            raise ValueError("Upsample: align_corners can only be set with mode='linear' or 'bilinear'")
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) else scale_factor
        self.mode = mode
        self.align_corners = align_corners

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self) -> str:
        what = f"scale_factor={self.scale_factor}" if self.scale_factor is not None else f"size={self.size}"
        return f"{what}, mode='{self.mode}'"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of an ``(N, C, H, W)`` input by ``size`` or ``scale_factor``."""

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling with ``align_corners=True`` (as PyTorch's) by ``size`` or ``scale_factor``."""

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
