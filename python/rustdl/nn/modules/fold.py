"""``Unfold`` (im2col) and ``Fold`` (col2im)."""

from __future__ import annotations

from ..._rustdl import Tensor
from .. import functional as F
from .module import Module


class Unfold(Module):
    """Extracts sliding blocks of an ``(N, C, H, W)`` input as columns ``(N, C·kh·kw, L)``.

    Example:
        >>> nn.Unfold(kernel_size=(2, 3))(rustdl.randn(2, 5, 3, 4)).shape
        (2, 30, 4)
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
            f"stride={self.stride}"
        )


class Fold(Module):
    """Sums columns ``(N, C·kh·kw, L)`` back into an ``(N, C, *output_size)`` image (overlaps add).

    Example:
        >>> nn.Fold(output_size=(4, 5), kernel_size=(2, 2))(rustdl.randn(1, 12, 12)).shape
        (1, 3, 4, 5)
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.output_size = output_size
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"padding={self.padding}, stride={self.stride}"
        )
