"""EfficientNet B0–B7 (Tan & Le, 2019) and EfficientNetV2 S/M/L (Tan & Le, 2021), as torchvision
builds them (``torchvision.models.efficientnet``): same modules, state-dict keys, shapes,
forward computation, initialisation and constructor arguments.

Norm layers: ``nn.BatchNorm2d`` with its defaults for B0–B4, ``eps=1e-3, momentum=0.01`` for
B5–B7, ``eps=1e-3`` for the V2 models. Stochastic depth (``"row"`` mode) on each residual
block grows linearly with the block's index: block ``i`` of ``n`` drops its branch with
probability ``stochastic_depth_prob * i / n`` (0.2 by default).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from functools import partial
from typing import Any, Callable

from .. import nn
from .._rustdl import Tensor
from ._misc import Conv2dNormActivation, SqueezeExcitation, StochasticDepth, check_weights, make_divisible

__all__ = [
    "EfficientNet",
    "FusedMBConv",
    "FusedMBConvConfig",
    "MBConv",
    "MBConvConfig",
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
    "efficientnet_b4",
    "efficientnet_b5",
    "efficientnet_b6",
    "efficientnet_b7",
    "efficientnet_v2_s",
    "efficientnet_v2_m",
    "efficientnet_v2_l",
]


class _MBConvConfig:
    """One stage of an EfficientNet: block expansion ratio, kernel size, first stride, input and
    output channels, number of blocks and the block class."""

    def __init__(
        self,
        expand_ratio: float,
        kernel: int,
        stride: int,
        input_channels: int,
        out_channels: int,
        num_layers: int,
        block: Callable[..., nn.Module],
    ) -> None:
        self.expand_ratio = expand_ratio
        self.kernel = kernel
        self.stride = stride
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers
        self.block = block

    @staticmethod
    def adjust_channels(channels: int, width_mult: float, min_value: int | None = None) -> int:
        """``channels * width_mult`` rounded to a multiple of 8 (see :func:`make_divisible`)."""
        return make_divisible(channels * width_mult, 8, min_value)

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.expand_ratio,
            self.kernel,
            self.stride,
            self.input_channels,
            self.out_channels,
            self.num_layers,
            self.block,
        )

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(expand_ratio={self.expand_ratio}, kernel={self.kernel}, "
            f"stride={self.stride}, input_channels={self.input_channels}, "
            f"out_channels={self.out_channels}, num_layers={self.num_layers}, "
            f"block={self.block!r})"
        )


class MBConvConfig(_MBConvConfig):
    """A stage of :class:`MBConv` blocks; channels are scaled by ``width_mult`` (rounded to
    multiples of 8) and the block count by ``depth_mult`` (rounded up), the compound scaling of
    EfficientNet B1–B7 (the paper's Table 1; EfficientNetV2's Table 4 uses no scaling)."""

    def __init__(
        self,
        expand_ratio: float,
        kernel: int,
        stride: int,
        input_channels: int,
        out_channels: int,
        num_layers: int,
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        block: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__(
            expand_ratio,
            kernel,
            stride,
            self.adjust_channels(input_channels, width_mult),
            self.adjust_channels(out_channels, width_mult),
            self.adjust_depth(num_layers, depth_mult),
            MBConv if block is None else block,
        )

    @staticmethod
    def adjust_depth(num_layers: int, depth_mult: float) -> int:
        """``num_layers * depth_mult`` rounded up."""
        return int(math.ceil(num_layers * depth_mult))


class FusedMBConvConfig(_MBConvConfig):
    """A stage of :class:`FusedMBConv` blocks (EfficientNetV2's Table 4), unscaled."""

    def __init__(
        self,
        expand_ratio: float,
        kernel: int,
        stride: int,
        input_channels: int,
        out_channels: int,
        num_layers: int,
        block: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__(
            expand_ratio,
            kernel,
            stride,
            input_channels,
            out_channels,
            num_layers,
            FusedMBConv if block is None else block,
        )


def _check_stride(stride: int) -> None:
    if not 1 <= stride <= 2:
        raise ValueError(f"illegal stride value: {stride} (expected 1 or 2)")


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-and-excitation: 1×1 expansion (absent when the
    expanded width equals the input's) → k×k depthwise conv (carrying the stride) → SE
    (squeeze width ``max(1, input_channels // 4)``, SiLU) → linear 1×1 projection; SiLU after
    the first two convs. With stride 1 and equal widths the input is added back after
    :class:`StochasticDepth`.

    Keys ``block.{i}``: the :class:`Conv2dNormActivation` layers and the SE layer
    (``fc1``, ``fc2``) in that order.
    """

    def __init__(
        self,
        cnf: _MBConvConfig,
        stochastic_depth_prob: float,
        norm_layer: Callable[..., nn.Module],
        se_layer: Callable[..., nn.Module] = SqueezeExcitation,
    ) -> None:
        super().__init__()
        _check_stride(cnf.stride)
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels

        hidden = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        layers: list[nn.Module] = []
        if hidden != cnf.input_channels:
            layers.append(
                Conv2dNormActivation(
                    cnf.input_channels, hidden, kernel_size=1, norm_layer=norm_layer, activation_layer=nn.SiLU
                )
            )
        layers.append(
            Conv2dNormActivation(
                hidden,
                hidden,
                kernel_size=cnf.kernel,
                stride=cnf.stride,
                groups=hidden,
                norm_layer=norm_layer,
                activation_layer=nn.SiLU,
            )
        )
        layers.append(
            se_layer(hidden, max(1, cnf.input_channels // 4), activation=partial(nn.SiLU, inplace=True))
        )
        layers.append(
            Conv2dNormActivation(
                hidden, cnf.out_channels, kernel_size=1, norm_layer=norm_layer, activation_layer=None
            )
        )
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        out = self.block(input)
        if self.use_res_connect:
            out = self.stochastic_depth(out) + input
        return out


class FusedMBConv(nn.Module):
    """EfficientNetV2's fused block: a k×k conv (carrying the stride) replaces MBConv's 1×1
    expansion and depthwise conv, then a linear 1×1 projection; with ``expand_ratio`` 1 only the
    k×k conv (to ``out_channels``, with SiLU) remains. No squeeze-and-excitation. The residual
    rule and :class:`StochasticDepth` are :class:`MBConv`'s.

    Keys ``block.0`` (and ``block.1`` when expanding), each a :class:`Conv2dNormActivation`.
    """

    def __init__(
        self,
        cnf: _MBConvConfig,
        stochastic_depth_prob: float,
        norm_layer: Callable[..., nn.Module],
    ) -> None:
        super().__init__()
        _check_stride(cnf.stride)
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels

        hidden = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        layers: list[nn.Module] = []
        if hidden != cnf.input_channels:
            layers.append(
                Conv2dNormActivation(
                    cnf.input_channels,
                    hidden,
                    kernel_size=cnf.kernel,
                    stride=cnf.stride,
                    norm_layer=norm_layer,
                    activation_layer=nn.SiLU,
                )
            )
            layers.append(
                Conv2dNormActivation(
                    hidden, cnf.out_channels, kernel_size=1, norm_layer=norm_layer, activation_layer=None
                )
            )
        else:
            layers.append(
                Conv2dNormActivation(
                    cnf.input_channels,
                    cnf.out_channels,
                    kernel_size=cnf.kernel,
                    stride=cnf.stride,
                    norm_layer=norm_layer,
                    activation_layer=nn.SiLU,
                )
            )
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        out = self.block(input)
        if self.use_res_connect:
            out = self.stochastic_depth(out) + input
        return out


class EfficientNet(nn.Module):
    """EfficientNet (V1: `EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks
    <https://arxiv.org/abs/1905.11946>`_; V2: `EfficientNetV2: Smaller Models and Faster Training
    <https://arxiv.org/abs/2104.00298>`_).

    Keys as torchvision: ``features.0`` (3×3 stride-2 stem conv, SiLU), ``features.1..S`` (one
    ``Sequential`` of blocks per stage), ``features.S+1`` (1×1 conv to the last width, SiLU),
    ``classifier.1`` (``Linear``; ``classifier.0`` is the dropout).

    Args:
        inverted_residual_setting: the stages, :class:`MBConvConfig` / :class:`FusedMBConvConfig`.
        dropout: dropout probability before the classifier.
        stochastic_depth_prob: the largest stochastic-depth probability; block ``i`` (counted
            over all stages from 0) of ``n`` uses ``stochastic_depth_prob * i / n``.
        num_classes: size of the output.
        norm_layer: normalisation layer factory (default ``nn.BatchNorm2d``).
        last_channel: width of the last 1×1 conv (default 4 × the last stage's width).
        in_channels: channels of the input image.

    Shape:
        Input ``(N, in_channels, H, W)``, any ``H, W ≥ 1`` (the pool is adaptive); output
        ``(N, num_classes)``.
    """

    def __init__(
        self,
        inverted_residual_setting: Sequence[_MBConvConfig],
        dropout: float,
        stochastic_depth_prob: float = 0.2,
        num_classes: int = 1000,
        norm_layer: Callable[..., nn.Module] | None = None,
        last_channel: int | None = None,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not (
            isinstance(inverted_residual_setting, Sequence)
            and all(isinstance(s, _MBConvConfig) for s in inverted_residual_setting)
        ):
            raise TypeError("The inverted_residual_setting should be List[MBConvConfig]")
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d

        layers: list[nn.Module] = [
            Conv2dNormActivation(
                in_channels,
                inverted_residual_setting[0].input_channels,
                kernel_size=3,
                stride=2,
                norm_layer=norm_layer,
                activation_layer=nn.SiLU,
            )
        ]
        total_blocks = sum(cnf.num_layers for cnf in inverted_residual_setting)
        block_id = 0
        for cnf in inverted_residual_setting:
            stage: list[nn.Module] = []
            for i in range(cnf.num_layers):
                block_cnf = copy.copy(cnf)
                if i > 0:
                    block_cnf.input_channels = block_cnf.out_channels
                    block_cnf.stride = 1
                sd_prob = stochastic_depth_prob * float(block_id) / total_blocks
                stage.append(block_cnf.block(block_cnf, sd_prob, norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*stage))

        last_in = inverted_residual_setting[-1].out_channels
        last_out = last_channel if last_channel is not None else 4 * last_in
        layers.append(
            Conv2dNormActivation(
                last_in, last_out, kernel_size=1, norm_layer=norm_layer, activation_layer=nn.SiLU
            )
        )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(last_out, num_classes))

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x).flatten(1)
        return self.classifier(x)

    def forward(self, x: Tensor) -> Tensor:
        return self._forward_impl(x)


def _efficientnet_conf(
    arch: str, width_mult: float = 1.0, depth_mult: float = 1.0
) -> tuple[list[_MBConvConfig], int | None]:
    """The stage table and last width of ``arch`` (``efficientnet_b*`` scaled by
    ``width_mult`` / ``depth_mult``, or ``efficientnet_v2_{s,m,l}``)."""
    setting: list[_MBConvConfig]
    if arch.startswith("efficientnet_b"):
        stage = partial(MBConvConfig, width_mult=width_mult, depth_mult=depth_mult)
        setting = [
            stage(1, 3, 1, 32, 16, 1),
            stage(6, 3, 2, 16, 24, 2),
            stage(6, 5, 2, 24, 40, 2),
            stage(6, 3, 2, 40, 80, 3),
            stage(6, 5, 1, 80, 112, 3),
            stage(6, 5, 2, 112, 192, 4),
            stage(6, 3, 1, 192, 320, 1),
        ]
        return setting, None
    if arch.startswith("efficientnet_v2_s"):
        setting = [
            FusedMBConvConfig(1, 3, 1, 24, 24, 2),
            FusedMBConvConfig(4, 3, 2, 24, 48, 4),
            FusedMBConvConfig(4, 3, 2, 48, 64, 4),
            MBConvConfig(4, 3, 2, 64, 128, 6),
            MBConvConfig(6, 3, 1, 128, 160, 9),
            MBConvConfig(6, 3, 2, 160, 256, 15),
        ]
    elif arch.startswith("efficientnet_v2_m"):
        setting = [
            FusedMBConvConfig(1, 3, 1, 24, 24, 3),
            FusedMBConvConfig(4, 3, 2, 24, 48, 5),
            FusedMBConvConfig(4, 3, 2, 48, 80, 5),
            MBConvConfig(4, 3, 2, 80, 160, 7),
            MBConvConfig(6, 3, 1, 160, 176, 14),
            MBConvConfig(6, 3, 2, 176, 304, 18),
            MBConvConfig(6, 3, 1, 304, 512, 5),
        ]
    elif arch.startswith("efficientnet_v2_l"):
        setting = [
            FusedMBConvConfig(1, 3, 1, 32, 32, 4),
            FusedMBConvConfig(4, 3, 2, 32, 64, 7),
            FusedMBConvConfig(4, 3, 2, 64, 96, 7),
            MBConvConfig(4, 3, 2, 96, 192, 10),
            MBConvConfig(6, 3, 1, 192, 224, 19),
            MBConvConfig(6, 3, 2, 224, 384, 25),
            MBConvConfig(6, 3, 1, 384, 640, 7),
        ]
    else:
        raise ValueError(f"Unsupported model type {arch}")
    return setting, 1280


def _efficientnet(
    arch: str,
    dropout: float,
    weights: Any,
    kwargs: dict[str, Any],
    width_mult: float = 1.0,
    depth_mult: float = 1.0,
    norm_layer: Callable[..., nn.Module] | None = None,
) -> EfficientNet:
    check_weights(arch, weights, kwargs.pop("pretrained", False))
    setting, last_channel = _efficientnet_conf(arch, width_mult, depth_mult)
    dropout = kwargs.pop("dropout", dropout)
    if norm_layer is not None:
        # a norm_layer in kwargs then clashes (TypeError), as in torchvision
        return EfficientNet(setting, dropout, last_channel=last_channel, norm_layer=norm_layer, **kwargs)
    return EfficientNet(setting, dropout, last_channel=last_channel, **kwargs)


# B5–B7 were trained with TensorFlow's BatchNorm settings; the V2 models with eps 1e-3 only
_BN_TF = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
_BN_V2 = partial(nn.BatchNorm2d, eps=1e-03)


def efficientnet_b0(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B0 (width 1.0, depth 1.0, dropout 0.2); keyword arguments go to
    :class:`EfficientNet`. 5,288,548 parameters for 1000 classes."""
    return _efficientnet("efficientnet_b0", 0.2, weights, kwargs, 1.0, 1.0)


def efficientnet_b1(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B1 (width 1.0, depth 1.1, dropout 0.2); 7,794,184 parameters for 1000 classes."""
    return _efficientnet("efficientnet_b1", 0.2, weights, kwargs, 1.0, 1.1)


def efficientnet_b2(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B2 (width 1.1, depth 1.2, dropout 0.3); 9,109,994 parameters for 1000 classes."""
    return _efficientnet("efficientnet_b2", 0.3, weights, kwargs, 1.1, 1.2)


def efficientnet_b3(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B3 (width 1.2, depth 1.4, dropout 0.3); 12,233,232 parameters for 1000 classes."""
    return _efficientnet("efficientnet_b3", 0.3, weights, kwargs, 1.2, 1.4)


def efficientnet_b4(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B4 (width 1.4, depth 1.8, dropout 0.4); 19,341,616 parameters for 1000 classes."""
    return _efficientnet("efficientnet_b4", 0.4, weights, kwargs, 1.4, 1.8)


def efficientnet_b5(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B5 (width 1.6, depth 2.2, dropout 0.4; BatchNorm eps 1e-3, momentum 0.01);
    30,389,784 parameters for 1000 classes."""
    return _efficientnet("efficientnet_b5", 0.4, weights, kwargs, 1.6, 2.2, _BN_TF)


def efficientnet_b6(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B6 (width 1.8, depth 2.6, dropout 0.5; BatchNorm eps 1e-3, momentum 0.01);
    43,040,704 parameters for 1000 classes."""
    return _efficientnet("efficientnet_b6", 0.5, weights, kwargs, 1.8, 2.6, _BN_TF)


def efficientnet_b7(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B7 (width 2.0, depth 3.1, dropout 0.5; BatchNorm eps 1e-3, momentum 0.01);
    66,347,960 parameters for 1000 classes."""
    return _efficientnet("efficientnet_b7", 0.5, weights, kwargs, 2.0, 3.1, _BN_TF)


def efficientnet_v2_s(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> EfficientNet:
    """EfficientNetV2-S (dropout 0.2; BatchNorm eps 1e-3); 21,458,488 parameters for 1000 classes."""
    return _efficientnet("efficientnet_v2_s", 0.2, weights, kwargs, norm_layer=_BN_V2)


def efficientnet_v2_m(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> EfficientNet:
    """EfficientNetV2-M (dropout 0.3; BatchNorm eps 1e-3); 54,139,356 parameters for 1000 classes."""
    return _efficientnet("efficientnet_v2_m", 0.3, weights, kwargs, norm_layer=_BN_V2)


def efficientnet_v2_l(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> EfficientNet:
    """EfficientNetV2-L (dropout 0.4; BatchNorm eps 1e-3); 118,515,272 parameters for 1000 classes."""
    return _efficientnet("efficientnet_v2_l", 0.4, weights, kwargs, norm_layer=_BN_V2)
