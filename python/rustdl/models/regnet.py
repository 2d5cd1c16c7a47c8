"""RegNet (Radosavovic et al., 2020), as torchvision builds it (``torchvision.models.regnet``):
same modules, state-dict keys, shapes, forward and initialisation, so torchvision's weights
load by key.

A RegNet is a stem (3×3 stride-2 conv), four stages of residual bottleneck blocks with grouped
3×3 convolutions (RegNetY adds squeeze-and-excitation), global pooling and a linear head. The
stage widths and depths follow from a few numbers (``w_0``, ``w_a``, ``w_m``, depth, group
width) through the quantised linear rule of :meth:`BlockParams.from_init_params`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from functools import partial
from typing import Any, Callable

import numpy as np

from .. import nn
from .._rustdl import Tensor
from ._misc import Conv2dNormActivation, SqueezeExcitation, check_weights, make_divisible

__all__ = [
    "AnyStage",
    "BlockParams",
    "BottleneckTransform",
    "RegNet",
    "ResBottleneckBlock",
    "SimpleStemIN",
    "regnet_x_1_6gf",
    "regnet_x_3_2gf",
    "regnet_x_8gf",
    "regnet_x_16gf",
    "regnet_x_32gf",
    "regnet_x_400mf",
    "regnet_x_800mf",
    "regnet_y_1_6gf",
    "regnet_y_3_2gf",
    "regnet_y_8gf",
    "regnet_y_16gf",
    "regnet_y_32gf",
    "regnet_y_128gf",
    "regnet_y_400mf",
    "regnet_y_800mf",
]


class SimpleStemIN(Conv2dNormActivation):
    """The ImageNet stem: 3×3 conv with stride 2 → norm → activation (keys ``0``, ``1``)."""

    def __init__(
        self,
        width_in: int,
        width_out: int,
        norm_layer: Callable[..., nn.Module],
        activation_layer: Callable[..., nn.Module],
    ) -> None:
        super().__init__(
            width_in,
            width_out,
            kernel_size=3,
            stride=2,
            norm_layer=norm_layer,
            activation_layer=activation_layer,
        )


class BottleneckTransform(nn.Sequential):
    """The residual branch: ``a`` 1×1 conv to the bottleneck width ``round(width_out ·
    bottleneck_multiplier)``, ``b`` grouped 3×3 conv (groups of ``group_width`` channels; the
    stride sits here), an optional ``se`` block (squeeze width ``round(se_ratio · width_in)``)
    and ``c`` 1×1 conv to ``width_out`` with no activation."""

    def __init__(
        self,
        width_in: int,
        width_out: int,
        stride: int,
        norm_layer: Callable[..., nn.Module],
        activation_layer: Callable[..., nn.Module],
        group_width: int,
        bottleneck_multiplier: float,
        se_ratio: float | None,
    ) -> None:
        w_b = int(round(width_out * bottleneck_multiplier))
        groups = w_b // group_width
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["a"] = Conv2dNormActivation(
            width_in, w_b, kernel_size=1, stride=1, norm_layer=norm_layer, activation_layer=activation_layer
        )
        layers["b"] = Conv2dNormActivation(
            w_b,
            w_b,
            kernel_size=3,
            stride=stride,
            groups=groups,
            norm_layer=norm_layer,
            activation_layer=activation_layer,
        )
        if se_ratio:
            layers["se"] = SqueezeExcitation(
                input_channels=w_b,
                squeeze_channels=int(round(se_ratio * width_in)),
                activation=activation_layer,
            )
        layers["c"] = Conv2dNormActivation(
            w_b, width_out, kernel_size=1, stride=1, norm_layer=norm_layer, activation_layer=None
        )
        super().__init__(layers)


class ResBottleneckBlock(nn.Module):
    """``activation(shortcut(x) + f(x))`` with ``f`` a :class:`BottleneckTransform`; the shortcut
    is the identity, or ``proj`` (1×1 conv with the block's stride → norm) when the width or
    the resolution changes."""

    def __init__(
        self,
        width_in: int,
        width_out: int,
        stride: int,
        norm_layer: Callable[..., nn.Module],
        activation_layer: Callable[..., nn.Module],
        group_width: int = 1,
        bottleneck_multiplier: float = 1.0,
        se_ratio: float | None = None,
    ) -> None:
        super().__init__()
        self.proj: nn.Module | None = None
        if width_in != width_out or stride != 1:
            self.proj = Conv2dNormActivation(
                width_in,
                width_out,
                kernel_size=1,
                stride=stride,
                norm_layer=norm_layer,
                activation_layer=None,
            )
        self.f = BottleneckTransform(
            width_in,
            width_out,
            stride,
            norm_layer,
            activation_layer,
            group_width,
            bottleneck_multiplier,
            se_ratio,
        )
        self.activation = activation_layer(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        return self.activation(shortcut + self.f(x))


class AnyStage(nn.Sequential):
    """``depth`` blocks of the same output width; only the first changes width and applies
    ``stride``. Blocks are keyed ``block{stage_index}-{i}``."""

    def __init__(
        self,
        width_in: int,
        width_out: int,
        stride: int,
        depth: int,
        block_constructor: Callable[..., nn.Module],
        norm_layer: Callable[..., nn.Module],
        activation_layer: Callable[..., nn.Module],
        group_width: int,
        bottleneck_multiplier: float,
        se_ratio: float | None = None,
        stage_index: int = 0,
    ) -> None:
        super().__init__()
        for i in range(depth):
            self.add_module(
                f"block{stage_index}-{i}",
                block_constructor(
                    width_in if i == 0 else width_out,
                    width_out,
                    stride if i == 0 else 1,
                    norm_layer,
                    activation_layer,
                    group_width,
                    bottleneck_multiplier,
                    se_ratio,
                ),
            )


class BlockParams:
    """Per-stage settings of a RegNet: ``depths``, ``widths``, ``group_widths``,
    ``bottleneck_multipliers`` and ``strides`` (one entry per stage) and the SE ratio."""

    def __init__(
        self,
        depths: list[int],
        widths: list[int],
        group_widths: list[int],
        bottleneck_multipliers: list[float],
        strides: list[int],
        se_ratio: float | None = None,
    ) -> None:
        self.depths = depths
        self.widths = widths
        self.group_widths = group_widths
        self.bottleneck_multipliers = bottleneck_multipliers
        self.strides = strides
        self.se_ratio = se_ratio

    @classmethod
    def from_init_params(
        cls,
        depth: int,
        w_0: int,
        w_a: float,
        w_m: float,
        group_width: int,
        bottleneck_multiplier: float = 1.0,
        se_ratio: float | None = None,
        **kwargs: Any,
    ) -> BlockParams:
        """The stages of a RegNet with ``depth`` blocks in all: block ``j`` gets the width
        ``w_0 · w_m^round(log(1 + j·w_a/w_0) / log(w_m))`` rounded to a multiple of 8; runs
        of equal width form the stages (each starting with stride 2); widths are then made
        divisible by the group width. Other keyword arguments are ignored.

        Raises:
            ValueError: unless ``w_a >= 0``, ``w_0 > 0``, ``w_m > 1`` and ``w_0 % 8 == 0``.
        """
        quant, stride = 8, 2
        if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % 8 != 0:
            raise ValueError("Invalid RegNet settings")
        # single precision throughout, as torchvision computes these with float32 tensors
        f32 = np.float32
        widths_cont = np.arange(depth, dtype=f32) * f32(w_a) + f32(w_0)
        capacity = np.round(np.log(widths_cont / f32(w_0)) / f32(math.log(w_m)))
        block_widths = [
            int(w) for w in np.round(f32(w_0) * np.power(f32(w_m), capacity) / f32(quant)) * f32(quant)
        ]
        num_stages = len(set(block_widths))
        # a stage starts wherever the width changes
        starts = [j for j in range(len(block_widths) + 1) if _changes(block_widths, j)]
        stage_widths = [block_widths[j] for j in starts[:-1]]
        stage_depths = [b - a for a, b in zip(starts[:-1], starts[1:])]
        strides = [stride] * num_stages
        multipliers = [bottleneck_multiplier] * num_stages
        group_widths = [group_width] * num_stages
        stage_widths, group_widths = cls._adjust_widths_groups_compatibilty(
            stage_widths, multipliers, group_widths
        )
        return cls(
            depths=stage_depths,
            widths=stage_widths,
            group_widths=group_widths,
            bottleneck_multipliers=multipliers,
            strides=strides,
            se_ratio=se_ratio,
        )

    def _get_expanded_params(self) -> Iterator[tuple[int, int, int, int, float]]:
        return zip(self.widths, self.strides, self.depths, self.group_widths, self.bottleneck_multipliers)

    @staticmethod
    def _adjust_widths_groups_compatibilty(
        stage_widths: list[int], bottleneck_ratios: list[float], group_widths: list[int]
    ) -> tuple[list[int], list[int]]:
        """Caps each group width at its bottleneck width and rounds the bottleneck width to a
        multiple of it; returns the stage widths and group widths that result."""
        bottlenecks = [int(w * b) for w, b in zip(stage_widths, bottleneck_ratios)]
        groups = [min(g, w) for g, w in zip(group_widths, bottlenecks)]
        bottlenecks = [make_divisible(w, g) for w, g in zip(bottlenecks, groups)]
        widths = [int(w / b) for w, b in zip(bottlenecks, bottleneck_ratios)]
        return widths, groups

    def __repr__(self) -> str:
        return (
            f"BlockParams(depths={self.depths}, widths={self.widths}, group_widths={self.group_widths}, "
            f"bottleneck_multipliers={self.bottleneck_multipliers}, strides={self.strides}, "
            f"se_ratio={self.se_ratio})"
        )


def _changes(widths: list[int], j: int) -> bool:
    """Whether a new stage starts before block ``j`` (``j == len(widths)`` closes the last)."""
    if j == 0 or j == len(widths):
        return True
    return widths[j] != widths[j - 1]


class RegNet(nn.Module):
    """RegNet from `Designing Network Design Spaces <https://arxiv.org/abs/2003.13678>`_, with
    torchvision's keys: ``stem``, ``trunk_output.block{s}.block{s}-{i}`` (``proj``,
    ``f.{a,b,se,c}``), ``fc``.

    Initialisation as torchvision: convolutions N(0, 2/(k·k·out_channels)), BatchNorm weight 1
    and bias 0, ``fc`` N(0, 0.01²) with a zero bias (SE biases keep ``Conv2d``'s default).

    Args:
        block_params: the per-stage settings (:class:`BlockParams`).
        num_classes: size of the output.
        stem_width: channels after the stem.
        stem_type: stem factory (:class:`SimpleStemIN`).
        block_type: block factory (:class:`ResBottleneckBlock`).
        norm_layer: normalisation factory (``nn.BatchNorm2d``).
        activation: activation factory (``nn.ReLU``).

    Shape:
        Input ``(N, 3, H, W)`` (any size; the pool is adaptive); output ``(N, num_classes)``.
    """

    def __init__(
        self,
        block_params: BlockParams,
        num_classes: int = 1000,
        stem_width: int = 32,
        stem_type: Callable[..., nn.Module] | None = None,
        block_type: Callable[..., nn.Module] | None = None,
        norm_layer: Callable[..., nn.Module] | None = None,
        activation: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        stem_type = stem_type or SimpleStemIN
        norm_layer = norm_layer or nn.BatchNorm2d
        block_type = block_type or ResBottleneckBlock
        activation = activation or nn.ReLU

        self.stem = stem_type(3, stem_width, norm_layer, activation)
        width = stem_width
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        for i, (width_out, stride, depth, group_width, multiplier) in enumerate(
            block_params._get_expanded_params()
        ):
            stages[f"block{i + 1}"] = AnyStage(
                width,
                width_out,
                stride,
                depth,
                block_type,
                norm_layer,
                activation,
                group_width,
                multiplier,
                block_params.se_ratio,
                stage_index=i + 1,
            )
            width = width_out
        self.trunk_output = nn.Sequential(stages)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_features=width, out_features=num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        x = self.trunk_output(x)
        x = self.avgpool(x)
        x = x.flatten(start_dim=1)
        return self.fc(x)


def _regnet(name: str, weights: Any, kwargs: dict[str, Any], **config: Any) -> RegNet:
    check_weights(name, weights, kwargs.pop("pretrained", False))
    params = BlockParams.from_init_params(**config, **kwargs)
    norm_layer = kwargs.pop("norm_layer", partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1))
    return RegNet(params, norm_layer=norm_layer, **kwargs)


def regnet_y_400mf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetY-400MF (depth 16, w_0 48, w_a 27.89, w_m 2.09, group width 8, SE 0.25); other
    keyword arguments go to :class:`RegNet`. 4,344,144 parameters for 1000 classes."""
    return _regnet(
        "regnet_y_400mf", weights, kwargs, depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8, se_ratio=0.25
    )


def regnet_y_800mf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetY-800MF; 6,432,512 parameters for 1000 classes."""
    return _regnet(
        "regnet_y_800mf", weights, kwargs, depth=14, w_0=56, w_a=38.84, w_m=2.4, group_width=16, se_ratio=0.25
    )


def regnet_y_1_6gf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetY-1.6GF; 11,202,430 parameters for 1000 classes."""
    return _regnet(
        "regnet_y_1_6gf",
        weights,
        kwargs,
        depth=27,
        w_0=48,
        w_a=20.71,
        w_m=2.65,
        group_width=24,
        se_ratio=0.25,
    )


def regnet_y_3_2gf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetY-3.2GF; 19,436,338 parameters for 1000 classes."""
    return _regnet(
        "regnet_y_3_2gf",
        weights,
        kwargs,
        depth=21,
        w_0=80,
        w_a=42.63,
        w_m=2.66,
        group_width=24,
        se_ratio=0.25,
    )


def regnet_y_8gf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetY-8GF; 39,381,472 parameters for 1000 classes."""
    return _regnet(
        "regnet_y_8gf", weights, kwargs, depth=17, w_0=192, w_a=76.82, w_m=2.19, group_width=56, se_ratio=0.25
    )


def regnet_y_16gf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetY-16GF; 83,590,140 parameters for 1000 classes."""
    return _regnet(
        "regnet_y_16gf",
        weights,
        kwargs,
        depth=18,
        w_0=200,
        w_a=106.23,
        w_m=2.48,
        group_width=112,
        se_ratio=0.25,
    )


def regnet_y_32gf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetY-32GF; 145,046,770 parameters for 1000 classes."""
    return _regnet(
        "regnet_y_32gf",
        weights,
        kwargs,
        depth=20,
        w_0=232,
        w_a=115.89,
        w_m=2.53,
        group_width=232,
        se_ratio=0.25,
    )


def regnet_y_128gf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetY-128GF; 644,812,894 parameters for 1000 classes."""
    return _regnet(
        "regnet_y_128gf",
        weights,
        kwargs,
        depth=27,
        w_0=456,
        w_a=160.83,
        w_m=2.52,
        group_width=264,
        se_ratio=0.25,
    )


def regnet_x_400mf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetX-400MF (depth 22, w_0 24, w_a 24.48, w_m 2.54, group width 16, no SE); other
    keyword arguments go to :class:`RegNet`. 5,495,976 parameters for 1000 classes."""
    return _regnet("regnet_x_400mf", weights, kwargs, depth=22, w_0=24, w_a=24.48, w_m=2.54, group_width=16)


def regnet_x_800mf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetX-800MF; 7,259,656 parameters for 1000 classes."""
    return _regnet("regnet_x_800mf", weights, kwargs, depth=16, w_0=56, w_a=35.73, w_m=2.28, group_width=16)


def regnet_x_1_6gf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetX-1.6GF; 9,190,136 parameters for 1000 classes."""
    return _regnet("regnet_x_1_6gf", weights, kwargs, depth=18, w_0=80, w_a=34.01, w_m=2.25, group_width=24)


def regnet_x_3_2gf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetX-3.2GF; 15,296,552 parameters for 1000 classes."""
    return _regnet("regnet_x_3_2gf", weights, kwargs, depth=25, w_0=88, w_a=26.31, w_m=2.25, group_width=48)


def regnet_x_8gf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetX-8GF; 39,572,648 parameters for 1000 classes."""
    return _regnet("regnet_x_8gf", weights, kwargs, depth=23, w_0=80, w_a=49.56, w_m=2.88, group_width=120)


def regnet_x_16gf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetX-16GF; 54,278,536 parameters for 1000 classes."""
    return _regnet("regnet_x_16gf", weights, kwargs, depth=22, w_0=216, w_a=55.59, w_m=2.1, group_width=128)


def regnet_x_32gf(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> RegNet:
    """RegNetX-32GF; 107,811,560 parameters for 1000 classes."""
    return _regnet("regnet_x_32gf", weights, kwargs, depth=23, w_0=320, w_a=69.86, w_m=2.0, group_width=168)
