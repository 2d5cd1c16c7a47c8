"""Pooling: ``MaxPool2d``, ``AvgPool2d`` and ``AdaptiveAvgPool2d``."""

from __future__ import annotations

from ..._rustdl import Tensor
from .. import functional as F
from .module import Module


class MaxPool2d(Module):
    """2-D max pooling.

    Args:
        kernel_size: window size (int or pair).
        stride: window step; defaults to ``kernel_size``.
        padding: implicit −∞ padding on both sides.
        dilation: spacing between window elements.
        return_indices: also return the flat ``H·W`` argmax indices.
        ceil_mode: use ceil instead of floor for the output size.

    Shape:
        Input ``(N, C, H, W)``; output ``(N, C, H_out, W_out)``.

    Example:
        >>> nn.MaxPool2d(2)(rustdl.randn(1, 3, 8, 8)).shape
        (1, 3, 4, 4)
    """

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor):
        return F.max_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """2-D average pooling.

    Args:
        kernel_size: window size (int or pair).
        stride: window step; defaults to ``kernel_size``.
        padding: implicit zero padding on both sides.
        ceil_mode: use ceil instead of floor for the output size.
        count_include_pad: count the zero padding in the divisor.

    Shape:
        Input ``(N, C, H, W)``; output ``(N, C, H_out, W_out)``.
    """

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override=None,
    ) -> None:
        super().__init__()
        if divisor_override is not None:
            raise ValueError("AvgPool2d: divisor_override is not supported")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(
            input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed ``output_size`` whatever the input size (``None`` keeps a dim).

    Example:
        >>> nn.AdaptiveAvgPool2d(1)(rustdl.randn(2, 8, 7, 5)).shape
        (2, 8, 1, 1)
    """

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed ``output_size`` whatever the input size (``None`` keeps a dim);
    ``return_indices=True`` also returns each maximum's flat index in its ``H·W`` plane.

    Example:
        >>> nn.AdaptiveMaxPool2d((2, 3))(rustdl.randn(2, 8, 7, 5)).shape
        (2, 8, 2, 3)
    """

    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Tensor):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
