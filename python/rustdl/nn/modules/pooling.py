"""Pooling: max, average, adaptive and power-average pooling (1-D and 2-D; max and average 3-D), and max unpooling."""

from __future__ import annotations

from ..._rustdl import Tensor
from .. import functional as F
from .module import Module


class _MaxPoolNd(Module):
    """What MaxPool2d and MaxPool3d share: the arguments, ``forward`` through ``_pool`` and the repr."""

    _pool = staticmethod(F.max_pool2d)

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
        return self._pool(
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


class MaxPool2d(_MaxPoolNd):
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

    _pool = staticmethod(F.max_pool2d)


class _AvgPoolNd(Module):
    """What AvgPool1d/2d/3d share: the arguments, ``forward`` through ``_pool`` and the repr."""

    _pool = staticmethod(F.avg_pool2d)

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
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        # avg_pool1d takes no divisor_override (AvgPool1d never sets one)
        extra = () if self.divisor_override is None else (self.divisor_override,)
        return self._pool(
            input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad, *extra
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptiveAvgPoolNd(Module):
    """What AdaptiveAvgPool1d/2d/3d share."""

    _pool = staticmethod(F.adaptive_avg_pool2d)

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return self._pool(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveMaxPoolNd(Module):
    """What AdaptiveMaxPool1d/2d/3d share."""

    _pool = staticmethod(F.adaptive_max_pool2d)

    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Tensor):
        return self._pool(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AvgPool2d(_AvgPoolNd):
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

    _pool = staticmethod(F.avg_pool2d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed ``output_size`` whatever the input size (``None`` keeps a dim).

    Example:
        >>> nn.AdaptiveAvgPool2d(1)(rustdl.randn(2, 8, 7, 5)).shape
        (2, 8, 1, 1)
    """

    _pool = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed ``output_size`` whatever the input size (``None`` keeps a dim);
    ``return_indices=True`` also returns each maximum's flat index in its ``H·W`` plane.

    Example:
        >>> nn.AdaptiveMaxPool2d((2, 3))(rustdl.randn(2, 8, 7, 5)).shape
        (2, 8, 2, 3)
    """

    _pool = staticmethod(F.adaptive_max_pool2d)


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling of an ``(N, C, L)`` or ``(C, L)`` input (arguments as :class:`MaxPool2d`,
    as ints); ``return_indices`` also returns each maximum's index along ``L``.

    Example:
        >>> nn.MaxPool1d(3, stride=2)(rustdl.randn(20, 16, 50)).shape
        (20, 16, 24)
    """

    _pool = staticmethod(F.max_pool1d)


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling of an ``(N, C, L)`` or ``(C, L)`` input."""

    _pool = staticmethod(F.avg_pool1d)

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling of an ``(N, C, L)`` or ``(C, L)`` input to ``output_size`` along ``L``."""

    _pool = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling of an ``(N, C, L)`` or ``(C, L)`` input to ``output_size`` along ``L``."""

    _pool = staticmethod(F.adaptive_max_pool1d)


class _LPPoolNd(Module):
    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (
            f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"ceil_mode={self.ceil_mode}"
        )


class LPPool1d(_LPPoolNd):
    """Power-average pooling ``(Σ x^p)^(1/p)`` (``p = norm_type``) over windows along ``L``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.lp_pool1d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class LPPool2d(_LPPoolNd):
    """Power-average pooling ``(Σ x^p)^(1/p)`` (``p = norm_type``) over 2-D windows."""

    def forward(self, input: Tensor) -> Tensor:
        return F.lp_pool2d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class _MaxUnpoolNd(Module):
    _unpool = staticmethod(F.max_unpool2d)

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return self._unpool(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Partial inverse of :class:`MaxPool1d`: scatters values to their ``indices``, zeros elsewhere."""

    _unpool = staticmethod(F.max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    """Partial inverse of :class:`MaxPool2d`: scatters values to their flat ``H·W`` ``indices``,
    zeros elsewhere.

    Example:
        >>> out, idx = nn.MaxPool2d(2, return_indices=True)(x)
        >>> nn.MaxUnpool2d(2)(out, idx).shape == x.shape
    """

    _unpool = staticmethod(F.max_unpool2d)


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling over an ``(N, C, D, H, W)`` input (:func:`rustdl.nn.functional.max_pool3d`).

    Args:
        kernel_size, stride, padding, dilation: an int or a triple; stride defaults to ``kernel_size``.
        return_indices: also return the flat ``D·H·W`` index of each maximum (for MaxUnpool3d).
        ceil_mode: round the output size up (a last window starting inside the input).
    """

    _pool = staticmethod(F.max_pool3d)


class AvgPool3d(_AvgPoolNd):
    """3-D average pooling over an ``(N, C, D, H, W)`` input (:func:`rustdl.nn.functional.avg_pool3d`).

    Args:
        kernel_size, stride, padding: an int or a triple; stride defaults to ``kernel_size``.
        ceil_mode, count_include_pad, divisor_override: as PyTorch's.
    """

    _pool = staticmethod(F.avg_pool3d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Average pooling of an ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input to ``output_size``
    (``None`` keeps a dim)."""

    _pool = staticmethod(F.adaptive_avg_pool3d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Max pooling of an ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input to ``output_size``
    (``None`` keeps a dim; ``return_indices`` also returns the flat ``D·H·W`` indices)."""

    _pool = staticmethod(F.adaptive_max_pool3d)


class LPPool3d(_LPPoolNd):
    """Power-average pooling ``(Σ x^p)^(1/p)`` (``p = norm_type``) over 3-D windows."""

    def forward(self, input: Tensor) -> Tensor:
        return F.lp_pool3d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class _FractionalMaxPoolNd(Module):
    _nd = 2

    def __init__(
        self,
        kernel_size,
        output_size=None,
        output_ratio=None,
        return_indices: bool = False,
        _random_samples=None,
    ) -> None:
        super().__init__()
        if output_size is None and output_ratio is None:
            raise ValueError(
                f"{type(self).__name__} requires specifying either an output size, or a pooling ratio"
            )
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        self.kernel_size = kernel_size
        self.output_size = output_size
        self.output_ratio = output_ratio
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)

    def forward(self, input: Tensor):
        fn = F.fractional_max_pool2d if self._nd == 2 else F.fractional_max_pool3d
        return fn(
            input,
            self.kernel_size,
            self.output_size,
            self.output_ratio,
            self.return_indices,
            _random_samples=self._random_samples,
        )


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """Fractional max pooling over an ``(N, C, H, W)`` input (see
    :func:`~rustdl.nn.functional.fractional_max_pool2d`)."""

    _nd = 2


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """Fractional max pooling over an ``(N, C, D, H, W)`` input."""

    _nd = 3


class MaxUnpool3d(_MaxUnpoolNd):
    """Partial inverse of :class:`MaxPool3d`: scatters values to their flat ``D·H·W``
    ``indices``, zeros elsewhere."""

    _unpool = staticmethod(F.max_unpool3d)
