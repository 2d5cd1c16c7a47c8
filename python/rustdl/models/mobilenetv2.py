"""MobileNet V2 (Sandler et al., 2018), as torchvision builds it (``torchvision.models.mobilenetv2``):
same modules, state-dict keys, shapes, forward and initialisation."""

from __future__ import annotations

from typing import Any, Callable

from .. import nn
from .._rustdl import Tensor
from ..nn import functional as F
from ._misc import Conv2dNormActivation, check_weights, make_divisible
from ._misc import make_divisible as _make_divisible  # noqa: F401  (torchvision's name)

# torchvision's __all__: the building blocks are reached through this module
__all__ = ["MobileNetV2", "mobilenet_v2"]

# (expansion t, output channels c, repeats n, first stride s) per stage, from the paper's Table 2
_DEFAULT_SETTING: list[list[int]] = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
]


class InvertedResidual(nn.Module):
    """MobileNet V2 bottleneck: 1×1 expansion (skipped when ``expand_ratio == 1``) → 3×3
    depthwise → linear 1×1 projection, each with a norm layer (ReLU6 after the first two);
    the input is added back when ``stride == 1`` and ``inp == oup``.

    Keys ``conv.{i}``: ``conv.0`` / ``conv.1`` are :class:`Conv2dNormActivation` blocks, then the
    projection conv and its norm layer.
    """

    def __init__(
        self,
        inp: int,
        oup: int,
        stride: int,
        expand_ratio: int,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup

        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(
                Conv2dNormActivation(
                    inp, hidden_dim, kernel_size=1, norm_layer=norm_layer, activation_layer=nn.ReLU6
                )
            )
        layers.append(
            Conv2dNormActivation(
                hidden_dim,
                hidden_dim,
                stride=stride,
                groups=hidden_dim,
                norm_layer=norm_layer,
                activation_layer=nn.ReLU6,
            )
        )
        layers.append(nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False))
        layers.append(norm_layer(oup))
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup
        self._is_cn = stride > 1

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        return x + out if self.use_res_connect else out


class MobileNetV2(nn.Module):
    """MobileNet V2 from `MobileNetV2: Inverted Residuals and Linear Bottlenecks
    <https://arxiv.org/abs/1801.04381>`_.

    Keys as torchvision: ``features.0`` (3×3 stride-2 stem), ``features.1..17``
    (:class:`InvertedResidual` blocks for the default setting), ``features.18`` (1×1 conv to
    ``last_channel``), ``classifier.1`` (``Linear``; ``classifier.0`` is the dropout).

    Args:
        num_classes: size of the output.
        width_mult: channel multiplier for every layer (the last layer is never narrowed).
        inverted_residual_setting: stages as ``[t, c, n, s]`` rows (expansion, channels,
            repeats, first stride); default the paper's.
        round_nearest: channel counts are rounded to multiples of this (1: no rounding).
        block: the bottleneck class (default :class:`InvertedResidual`).
        norm_layer: normalisation layer factory (default ``nn.BatchNorm2d``).
        dropout: dropout probability before the classifier.
        in_channels: channels of the input image.

    Shape:
        Input ``(N, in_channels, H, W)``, any ``H, W ≥ 1`` (the pool is adaptive; 224 as
        trained); output ``(N, num_classes)``.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        width_mult: float = 1.0,
        inverted_residual_setting: list[list[int]] | None = None,
        round_nearest: int = 8,
        block: Callable[..., nn.Module] | None = None,
        norm_layer: Callable[..., nn.Module] | None = None,
        dropout: float = 0.2,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if block is None:
            block = InvertedResidual
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        if inverted_residual_setting is None:
            inverted_residual_setting = _DEFAULT_SETTING
        if len(inverted_residual_setting) == 0 or len(inverted_residual_setting[0]) != 4:
            raise ValueError(
                "inverted_residual_setting should be non-empty or a 4-element list, "
                f"got {inverted_residual_setting}"
            )

        input_channel = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features: list[nn.Module] = [
            Conv2dNormActivation(
                in_channels, input_channel, stride=2, norm_layer=norm_layer, activation_layer=nn.ReLU6
            )
        ]
        for t, c, n, s in inverted_residual_setting:
            output_channel = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(
                    block(
                        input_channel,
                        output_channel,
                        s if i == 0 else 1,
                        expand_ratio=t,
                        norm_layer=norm_layer,
                    )
                )
                input_channel = output_channel
        features.append(
            Conv2dNormActivation(
                input_channel,
                self.last_channel,
                kernel_size=1,
                norm_layer=norm_layer,
                activation_layer=nn.ReLU6,
            )
        )
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)
        return self.classifier(x)

    def forward(self, x: Tensor) -> Tensor:
        return self._forward_impl(x)


def mobilenet_v2(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> MobileNetV2:
    """MobileNet V2; keyword arguments go to :class:`MobileNetV2`. 3,504,872 parameters for
    1000 classes."""
    check_weights("mobilenet_v2", weights, kwargs.pop("pretrained", False))
    return MobileNetV2(**kwargs)
