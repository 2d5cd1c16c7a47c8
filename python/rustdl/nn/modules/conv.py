"""Convolutions: ``Conv1d``, ``Conv2d``, ``Conv3d``, ``ConvTranspose1d``, ``ConvTranspose2d`` and
``ConvTranspose3d``."""

from __future__ import annotations

import inspect
import math
from typing import Callable

from ... import _rustdl
from ..._rustdl import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter, UninitializedParameter, _fill_placeholder
from .module import Module


def _tuple(v, n: int, what: str) -> tuple[int, ...]:
    v = F._as_ints(v)
    if isinstance(v, int):
        return (v,) * n
    try:
        v = tuple(v)
    except TypeError:
        raise TypeError(f"{what} must be an int or a tuple of {n} ints, got {v!r}") from None
    if len(v) == 1 and n > 1:
        v = v * n  # a one-element list stands for every dim, as PyTorch's int-list arguments
    if len(v) != n or not all(isinstance(x, int) for x in v):
        raise ValueError(f"{what} must be an int or a tuple of {n} ints, got {v!r}")
    return v


class _ConvNd(Module):
    """Base of the convolutions: checks the arguments, builds ``weight`` (``(C_out, C_in/groups, *k)``,
    or ``(C_in, C_out/groups, *k)`` when ``transposed``) and ``bias``, and resolves the padding.

    Subclasses set ``_nd`` (the spatial dimensions) and ``transposed``.
    """

    _nd: int = 0
    transposed: bool = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        nd = self._nd
        super().__init__()
        name = type(self).__name__
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels {in_channels} and out_channels {out_channels} must be divisible by groups {groups}"
            )
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(
                f"{name}: padding_mode must be one of 'zeros', 'reflect', 'replicate' or 'circular', "
                f"got '{padding_mode}'"
            )
        if self.transposed and padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, got '{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _tuple(kernel_size, nd, "kernel_size")
        self.stride = _tuple(stride, nd, "stride")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be 'same', 'valid' or ints, got '{padding}'")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _tuple(padding, nd, "padding")
        self.dilation = _tuple(dilation, nd, "dilation")
        self.output_padding = (0,) * nd
        # zero channels build (PyTorch's layer warns that initialising it is a no-op) and are
        # refused when called
        if in_channels < 0 or out_channels < 0:
            raise ValueError(
                f"{name}: in_channels and out_channels must be non-negative, got {in_channels}, {out_channels}"
            )
        for what, vals, low in (
            ("kernel_size", self.kernel_size, 1),
            ("stride", self.stride, 1),
            ("dilation", self.dilation, 1),
        ):
            if any(v < low for v in vals):
                raise _rustdl.ArgumentError(f"{name}: {what} must be positive, got {vals}")
        if not isinstance(self.padding, str) and any(p < 0 for p in self.padding):
            raise _rustdl.ArgumentError(f"{name}: padding must be non-negative, got {self.padding}")
        self.groups = groups
        self.padding_mode = padding_mode
        kw = {"device": device, "dtype": dtype}
        if self.transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(_rustdl.empty(*shape, **kw))
        self.bias = Parameter(_rustdl.empty(out_channels, **kw)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draws weight and bias uniform in ±1/√fan_in, as PyTorch."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _padding_args(self, input: Tensor) -> tuple[Tensor, tuple[int, ...]]:
        """Resolves 'same'/'valid' into symmetric padding, pre-padding the input when uneven."""
        if self.padding == "valid":
            return input, (0,) * len(self.kernel_size)
        if self.padding != "same":
            return input, self.padding
        sym, extra = [], []
        for d, k in zip(self.dilation, self.kernel_size):
            total = d * (k - 1)
            sym.append(total // 2)
            extra.append(total - 2 * (total // 2))
        if any(extra):
            pads = []
            for e in reversed(extra):
                pads += [0, e]
            input = F.pad(input, pads)
        return input, tuple(sym)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        nd = len(self.kernel_size)
        if self.padding != (0,) * nd:
            s += (
                f", padding={self.padding!r}"
                if isinstance(self.padding, str)
                else f", padding={self.padding}"
            )
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """Base of ``Conv1d`` and ``Conv2d``: a forward through ``_conv`` (``F.conv1d`` or ``F.conv2d``)."""

    _conv: Callable[..., Tensor]

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, self.weight, self.bias)

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """The convolution of ``input`` with this layer's geometry and the given ``weight`` and
        ``bias`` (PyTorch's hook for subclasses that transform the weight first, such as
        weight-standardised convolutions)."""
        if self.padding_mode != "zeros":
            # pad with the mode first (PyTorch's order: last dim first), then convolve unpadded
            if self.padding == "same":
                amounts = [
                    (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                    for d, k in zip(self.dilation, self.kernel_size)
                ]
            elif self.padding == "valid":
                amounts = [(0, 0)] * len(self.kernel_size)
            else:
                amounts = [(p, p) for p in self.padding]
            pads = [v for pair in reversed(amounts) for v in pair]
            if any(pads):
                input = F.pad(input, pads, mode=self.padding_mode)
            zero = (0,) * len(self.kernel_size)
            return self._conv(input, weight, bias, self.stride, zero, self.dilation, self.groups)
        input, padding = self._padding_args(input)
        return self._conv(input, weight, bias, self.stride, padding, self.dilation, self.groups)


class Conv1d(_Conv):
    """1-D convolution over an ``(N, C_in, L)`` input.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size, stride, padding, dilation: an int or a 1-tuple; padding may be 'same' or 'valid'.
        groups: blocked connections from input to output channels.
        bias: learn a per-channel bias (default ``True``).

    Shape:
        Input ``(N, C_in, L_in)``; output ``(N, C_out, L_out)`` with
        ``L_out = ⌊(L_in + 2·padding − dilation·(kernel_size − 1) − 1) / stride⌋ + 1``.

    Example:
        >>> nn.Conv1d(16, 33, 3, stride=2)(rustdl.randn(20, 16, 50)).shape
        (20, 33, 24)
    """

    _nd = 1
    _conv = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution over an ``(N, C_in, H, W)`` input.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size, stride, padding, dilation: an int or a pair; padding may be 'same' or 'valid'.
        groups: blocked connections from input to output channels.
        bias: learn a per-channel bias (default ``True``).

    Shape:
        Input ``(N, C_in, H, W)``; output ``(N, C_out, H_out, W_out)`` with
        ``H_out = ⌊(H + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1``.

    Example:
        >>> nn.Conv2d(3, 8, 3, padding=1)(rustdl.randn(2, 3, 16, 16)).shape
        (2, 8, 16, 16)
    """

    _nd = 2
    _conv = staticmethod(F.conv2d)


class _ConvTransposeNd(_ConvNd):
    """The transposed convolutions' base, as PyTorch's (its ``_output_padding`` helper is called
    by libraries as a plain function of the geometry)."""

    def _output_padding(
        self, input: Tensor, output_size, stride, padding, kernel_size, num_spatial_dims, dilation=None
    ) -> list:
        """The output_padding that gives ``output_size`` (the spatial sizes, optionally after
        the batch and channel sizes), as PyTorch; a size outside the reachable range is a
        ValueError. Without ``output_size``, the module's own ``output_padding``."""
        if output_size is None:
            return list(self.output_padding)
        nd = int(num_spatial_dims)
        lead = 2 if input.dim() == nd + 2 else 1
        size = [int(n) for n in output_size]
        if len(size) == lead + nd:
            size = size[lead:]
        if len(size) != nd:
            raise ValueError(
                f"ConvTranspose{nd}D: for {input.dim()}D input, output_size must have {nd} or "
                f"{lead + nd} elements (got {len(size)})"
            )
        pads = []
        for d in range(nd):
            dl = 1 if dilation is None else dilation[d]
            least = (input.shape[lead + d] - 1) * stride[d] - 2 * padding[d] + dl * (kernel_size[d] - 1) + 1
            if not least <= size[d] <= least + stride[d] - 1:
                raise ValueError(
                    f"requested an output size of {size}, but valid sizes range from {least} to "
                    f"{least + stride[d] - 1} in dim {d} (for an input of {tuple(input.shape)[lead:]})"
                )
            pads.append(size[d] - least)
        return pads


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution (the gradient of Conv2d with respect to its input).

    Shape:
        Input ``(N, C_in, H, W)``; output ``(N, C_out, H_out, W_out)`` with
        ``H_out = (H − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1``.

    ``weight`` is ``(C_in, C_out/groups, kH, kW)``.

    Example:
        >>> nn.ConvTranspose2d(8, 3, 2, stride=2)(rustdl.randn(1, 8, 4, 4)).shape
        (1, 3, 8, 8)
    """

    _nd = 2
    transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of ints")
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )
        self.output_padding = _tuple(output_padding, self._nd, "output_padding")

    _conv_transpose = staticmethod(F.conv_transpose2d)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        output_padding = self.output_padding
        if output_size is not None:
            if input.ndim not in (self._nd + 1, self._nd + 2):
                raise ValueError(
                    f"{type(self).__name__}: expected a {self._nd + 1}-D or {self._nd + 2}-D input, "
                    f"got shape {tuple(input.shape)}"
                )
            output_padding = tuple(
                self._output_padding(
                    input, output_size, self.stride, self.padding, self.kernel_size, self._nd, self.dilation
                )
            )
        return self._conv_transpose(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
        )


class Conv3d(_Conv):
    """3-D convolution over an ``(N, C_in, D, H, W)`` input (composed of 2-D convolutions over
    depth slices, see :func:`rustdl.nn.functional.conv3d`).

    Args:
        in_channels, out_channels: channel counts.
        kernel_size, stride, padding, dilation: an int or a triple; padding may be 'same' or 'valid'.
        groups: blocked connections from input to output channels.
        bias: learn a per-channel bias (default ``True``).

    ``weight`` is ``(C_out, C_in/groups, kD, kH, kW)``.

    Example:
        >>> nn.Conv3d(2, 4, 3, padding=1)(rustdl.randn(1, 2, 5, 6, 6)).shape
        (1, 4, 5, 6, 6)
    """

    _nd = 3
    _conv = staticmethod(F.conv3d)


class ConvTranspose3d(ConvTranspose2d):
    """Transposed 3-D convolution over an ``(N, C_in, D, H, W)`` input (composed of transposed
    2-D convolutions, see :func:`rustdl.nn.functional.conv_transpose3d`).

    Shape:
        Output ``(N, C_out, D_out, H_out, W_out)`` with
        ``D_out = (D − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1``
        (likewise H and W).

    ``weight`` is ``(C_in, C_out/groups, kD, kH, kW)``.

    Example:
        >>> nn.ConvTranspose3d(4, 2, 2, stride=2)(rustdl.randn(1, 4, 3, 3, 3)).shape
        (1, 2, 6, 6, 6)
    """

    _nd = 3
    _conv_transpose = staticmethod(F.conv_transpose3d)


class ConvTranspose1d(ConvTranspose2d):
    """Transposed 1-D convolution over an ``(N, C_in, L)`` input.

    Shape:
        Output ``(N, C_out, L_out)`` with
        ``L_out = (L − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1``.

    ``weight`` is ``(C_in, C_out/groups, K)``.

    Example:
        >>> nn.ConvTranspose1d(8, 3, 2, stride=2)(rustdl.randn(1, 8, 5)).shape
        (1, 3, 10)
    """

    _nd = 1
    _conv_transpose = staticmethod(F.conv_transpose1d)


class _LazyConv:
    """A convolution whose ``in_channels`` is taken from the first input's channel dim, as
    PyTorch's lazy modules: until then ``weight`` and ``bias`` are empty placeholders (build the
    optimizer after a first forward); the first call creates and initialises them and the module
    becomes the plain convolution. Loading a state dict also materialises it from the weight."""

    _base: type

    def __init__(self, out_channels: int, kernel_size, *args, device=None, dtype=None, **kwargs) -> None:
        try:  # groups may come by position (after output_padding for the transposed ones)
            bound = inspect.signature(self._base.__init__).bind(
                self, 1, out_channels, kernel_size, *args, **kwargs
            )
            groups = bound.arguments.get("groups", 1)
        except TypeError:
            groups = kwargs.get("groups", 1)
        # a stand-in channel count that passes the checks; the real one comes with the input
        self._base.__init__(
            self,
            groups if isinstance(groups, int) and groups > 0 else 1,
            out_channels,
            kernel_size,
            *args,
            **kwargs,
        )
        self.in_channels = 0
        self._factory = {"device": device, "dtype": dtype}
        self.weight = UninitializedParameter(**self._factory)
        if self.bias is not None:
            self.bias = UninitializedParameter(**self._factory)

    def has_uninitialized_params(self) -> bool:
        """True until the first forward (or a state-dict load) has fixed ``in_channels``."""
        return True

    def reset_parameters(self) -> None:
        """Nothing to do before materialisation; the convolution's initialisation afterwards."""

    def initialize_parameters(self, input: Tensor) -> None:
        """Creates ``weight`` and ``bias`` from the channel dim of ``input`` (batched or not)."""
        nd = len(self.kernel_size)
        if input.ndim not in (nd + 1, nd + 2):
            raise ValueError(
                f"{type(self).__name__}: expected a {nd + 1}-D or {nd + 2}-D input, got shape {tuple(input.shape)}"
            )
        self._materialize(input.shape[input.ndim - nd - 1])

    def _materialize(self, in_channels: int) -> None:
        name = type(self).__name__
        if in_channels <= 0 or in_channels % self.groups:
            raise ValueError(
                f"{name}: in_channels {in_channels} must be a positive multiple of groups {self.groups}"
            )
        kw = self._factory
        kw = {"device": kw["device"] or self.weight.device, "dtype": kw["dtype"] or self.weight.dtype}
        self.in_channels = in_channels
        if self.transposed:
            shape = (in_channels, self.out_channels // self.groups, *self.kernel_size)
        else:
            shape = (self.out_channels, in_channels // self.groups, *self.kernel_size)
        _fill_placeholder(self, "weight", _rustdl.empty(*shape, **kw))
        if self.bias is not None:
            _fill_placeholder(self, "bias", _rustdl.empty(self.out_channels, **kw))
        del self._factory
        base = self._base
        self.__class__ = base
        base.reset_parameters(self)

    def forward(self, input: Tensor, *args, **kwargs) -> Tensor:
        base = self._base
        self.initialize_parameters(input)
        return base.forward(self, input, *args, **kwargs)

    def _load_from_state_dict(self, state_dict, prefix, *args):
        # a checkpoint's weight fixes the input channels (also when this module is nested)
        weight = state_dict.get(prefix + "weight") if hasattr(state_dict, "get") else None
        if isinstance(weight, Tensor) and weight.ndim == len(self.kernel_size) + 2:
            self._materialize(weight.shape[0] if self.transposed else weight.shape[1] * self.groups)
        return Module._load_from_state_dict(self, state_dict, prefix, *args)


class LazyConv1d(_LazyConv, Conv1d):
    """:class:`Conv1d` with ``in_channels`` inferred from the first input."""

    _base = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    """:class:`Conv2d` with ``in_channels`` inferred from the first input.

    Example:
        >>> conv = nn.LazyConv2d(8, 3)
        >>> conv(rustdl.randn(2, 5, 9, 9)).shape, conv.in_channels
        ((2, 8, 7, 7), 5)
    """

    _base = Conv2d


class LazyConv3d(_LazyConv, Conv3d):
    """:class:`Conv3d` with ``in_channels`` inferred from the first input."""

    _base = Conv3d


class LazyConvTranspose1d(_LazyConv, ConvTranspose1d):
    """:class:`ConvTranspose1d` with ``in_channels`` inferred from the first input."""

    _base = ConvTranspose1d


class LazyConvTranspose2d(_LazyConv, ConvTranspose2d):
    """:class:`ConvTranspose2d` with ``in_channels`` inferred from the first input."""

    _base = ConvTranspose2d


class LazyConvTranspose3d(_LazyConv, ConvTranspose3d):
    """:class:`ConvTranspose3d` with ``in_channels`` inferred from the first input."""

    _base = ConvTranspose3d
