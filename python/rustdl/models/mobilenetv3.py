"""MobileNet V3 large and small (Howard et al., 2019), as torchvision builds them
(``torchvision.models.mobilenetv3``): same modules, state-dict keys, shapes, forward and
initialisation."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, Callable

from .. import nn
from .._rustdl import Tensor
from ._misc import Conv2dNormActivation, SqueezeExcitation, check_weights, make_divisible

# torchvision's __all__: the building blocks are reached through this module
__all__ = ["MobileNetV3", "mobilenet_v3_large", "mobilenet_v3_small"]


class InvertedResidualConfig:
    """One bottleneck row of the paper's Tables 1 and 2; channel counts are scaled by
    ``width_mult`` and rounded to multiples of 8. ``activation`` is ``"RE"`` (ReLU) or ``"HS"``
    (hard swish)."""

    def __init__(
        self,
        input_channels: int,
        kernel: int,
        expanded_channels: int,
        out_channels: int,
        use_se: bool,
        activation: str,
        stride: int,
        dilation: int,
        width_mult: float,
    ) -> None:
        self.input_channels = self.adjust_channels(input_channels, width_mult)
        self.kernel = kernel
        self.expanded_channels = self.adjust_channels(expanded_channels, width_mult)
        self.out_channels = self.adjust_channels(out_channels, width_mult)
        self.use_se = use_se
        self.use_hs = activation == "HS"
        self.stride = stride
        self.dilation = dilation

    @staticmethod
    def adjust_channels(channels: int, width_mult: float) -> int:
        """``channels * width_mult`` rounded to a multiple of 8 (:func:`make_divisible`)."""
        return make_divisible(channels * width_mult, 8)


class InvertedResidual(nn.Module):
    """MobileNet V3 bottleneck: 1×1 expansion (when the expanded width differs from the input)
    → k×k depthwise → optional squeeze-and-excitation (hard-sigmoid gate, squeeze width
    ``make_divisible(expanded // 4, 8)``) → linear 1×1 projection; the input is added back
    when ``stride == 1`` and the channel count is kept. Keys ``block.{i}``.

    With ``dilation > 1`` the depthwise conv is dilated and its stride is 1.
    """

    def __init__(
        self,
        cnf: InvertedResidualConfig,
        norm_layer: Callable[..., nn.Module],
        se_layer: Callable[..., nn.Module] = partial(SqueezeExcitation, scale_activation=nn.Hardsigmoid),
    ) -> None:
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        activation_layer = nn.Hardswish if cnf.use_hs else nn.ReLU

        layers: list[nn.Module] = []
        if cnf.expanded_channels != cnf.input_channels:
            layers.append(
                Conv2dNormActivation(
                    cnf.input_channels,
                    cnf.expanded_channels,
                    kernel_size=1,
                    norm_layer=norm_layer,
                    activation_layer=activation_layer,
                )
            )
        layers.append(
            Conv2dNormActivation(
                cnf.expanded_channels,
                cnf.expanded_channels,
                kernel_size=cnf.kernel,
                stride=1 if cnf.dilation > 1 else cnf.stride,
                dilation=cnf.dilation,
                groups=cnf.expanded_channels,
                norm_layer=norm_layer,
                activation_layer=activation_layer,
            )
        )
        if cnf.use_se:
            layers.append(se_layer(cnf.expanded_channels, make_divisible(cnf.expanded_channels // 4, 8)))
        layers.append(
            Conv2dNormActivation(
                cnf.expanded_channels,
                cnf.out_channels,
                kernel_size=1,
                norm_layer=norm_layer,
                activation_layer=None,
            )
        )
        self.block = nn.Sequential(*layers)
        self.out_channels = cnf.out_channels
        self._is_cn = cnf.stride > 1

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        result = self.block(input)
        return result + input if self.use_res_connect else result


class MobileNetV3(nn.Module):
    """MobileNet V3 from `Searching for MobileNetV3 <https://arxiv.org/abs/1905.02244>`_.

    Keys as torchvision: ``features.0`` (3×3 stride-2 stem, hard swish), ``features.1..``
    (:class:`InvertedResidual` blocks), the last ``features`` entry (1×1 conv to
    ``6 * last out_channels``, hard swish), ``classifier.0`` and ``classifier.3``
    (``Linear`` layers around hard swish and dropout).

    Args:
        inverted_residual_setting: the bottleneck rows (:class:`InvertedResidualConfig`).
        last_channel: width of the classifier's hidden layer.
        num_classes: size of the output.
        block: the bottleneck class (default :class:`InvertedResidual`).
        norm_layer: normalisation layer factory (default ``BatchNorm2d(eps=0.001, momentum=0.01)``).
        dropout: dropout probability in the classifier.
        in_channels: channels of the input image.
        **kwargs: ignored, as torchvision (the builders' ``width_mult``, ``reduced_tail`` and
            ``dilated`` arrive here too).

    Shape:
        Input ``(N, in_channels, H, W)``, any ``H, W ≥ 1`` (224 as trained); output
        ``(N, num_classes)``.
    """

    def __init__(
        self,
        inverted_residual_setting: list[InvertedResidualConfig],
        last_channel: int,
        num_classes: int = 1000,
        block: Callable[..., nn.Module] | None = None,
        norm_layer: Callable[..., nn.Module] | None = None,
        dropout: float = 0.2,
        in_channels: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not (
            isinstance(inverted_residual_setting, Sequence)
            and all(isinstance(s, InvertedResidualConfig) for s in inverted_residual_setting)
        ):
            raise TypeError("The inverted_residual_setting should be List[InvertedResidualConfig]")
        if block is None:
            block = InvertedResidual
        if norm_layer is None:
            norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)

        layers: list[nn.Module] = [
            Conv2dNormActivation(
                in_channels,
                inverted_residual_setting[0].input_channels,
                kernel_size=3,
                stride=2,
                norm_layer=norm_layer,
                activation_layer=nn.Hardswish,
            )
        ]
        layers.extend(block(cnf, norm_layer) for cnf in inverted_residual_setting)
        lastconv_input_channels = inverted_residual_setting[-1].out_channels
        lastconv_output_channels = 6 * lastconv_input_channels
        layers.append(
            Conv2dNormActivation(
                lastconv_input_channels,
                lastconv_output_channels,
                kernel_size=1,
                norm_layer=norm_layer,
                activation_layer=nn.Hardswish,
            )
        )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(lastconv_output_channels, last_channel),
            nn.Hardswish(inplace=True),
            nn.Dropout(p=dropout, inplace=True),
            nn.Linear(last_channel, num_classes),
        )

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
        x = self.avgpool(x).flatten(1)
        return self.classifier(x)

    def forward(self, x: Tensor) -> Tensor:
        return self._forward_impl(x)


def _mobilenet_v3_conf(
    arch: str, width_mult: float = 1.0, reduced_tail: bool = False, dilated: bool = False, **kwargs: Any
) -> tuple[list[InvertedResidualConfig], int]:
    """The bottleneck rows and ``last_channel`` of ``"mobilenet_v3_large"`` or
    ``"mobilenet_v3_small"``. ``reduced_tail`` halves the channels of the last stage,
    ``dilated`` dilates it (by 2) instead of striding."""
    div = 2 if reduced_tail else 1
    dil = 2 if dilated else 1
    conf = partial(InvertedResidualConfig, width_mult=width_mult)
    if arch == "mobilenet_v3_large":
        setting = [
            conf(16, 3, 16, 16, False, "RE", 1, 1),
            conf(16, 3, 64, 24, False, "RE", 2, 1),
            conf(24, 3, 72, 24, False, "RE", 1, 1),
            conf(24, 5, 72, 40, True, "RE", 2, 1),
            conf(40, 5, 120, 40, True, "RE", 1, 1),
            conf(40, 5, 120, 40, True, "RE", 1, 1),
            conf(40, 3, 240, 80, False, "HS", 2, 1),
            conf(80, 3, 200, 80, False, "HS", 1, 1),
            conf(80, 3, 184, 80, False, "HS", 1, 1),
            conf(80, 3, 184, 80, False, "HS", 1, 1),
            conf(80, 3, 480, 112, True, "HS", 1, 1),
            conf(112, 3, 672, 112, True, "HS", 1, 1),
            conf(112, 5, 672, 160 // div, True, "HS", 2, dil),
            conf(160 // div, 5, 960 // div, 160 // div, True, "HS", 1, dil),
            conf(160 // div, 5, 960 // div, 160 // div, True, "HS", 1, dil),
        ]
        last_channel = InvertedResidualConfig.adjust_channels(1280 // div, width_mult)
    elif arch == "mobilenet_v3_small":
        setting = [
            conf(16, 3, 16, 16, True, "RE", 2, 1),
            conf(16, 3, 72, 24, False, "RE", 2, 1),
            conf(24, 3, 88, 24, False, "RE", 1, 1),
            conf(24, 5, 96, 40, True, "HS", 2, 1),
            conf(40, 5, 240, 40, True, "HS", 1, 1),
            conf(40, 5, 240, 40, True, "HS", 1, 1),
            conf(40, 5, 120, 48, True, "HS", 1, 1),
            conf(48, 5, 144, 48, True, "HS", 1, 1),
            conf(48, 5, 288, 96 // div, True, "HS", 2, dil),
            conf(96 // div, 5, 576 // div, 96 // div, True, "HS", 1, dil),
            conf(96 // div, 5, 576 // div, 96 // div, True, "HS", 1, dil),
        ]
        last_channel = InvertedResidualConfig.adjust_channels(1024 // div, width_mult)
    else:
        raise ValueError(f"Unsupported model type {arch}")
    return setting, last_channel


def _mobilenet_v3(arch: str, weights: Any, kwargs: dict[str, Any]) -> MobileNetV3:
    check_weights(arch, weights, kwargs.pop("pretrained", False))
    setting, last_channel = _mobilenet_v3_conf(arch, **kwargs)
    return MobileNetV3(setting, last_channel, **kwargs)


def mobilenet_v3_large(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> MobileNetV3:
    """MobileNet V3 large; ``width_mult``, ``reduced_tail`` and ``dilated`` shape the
    configuration, other keyword arguments go to :class:`MobileNetV3`. 5,483,032 parameters
    for 1000 classes."""
    return _mobilenet_v3("mobilenet_v3_large", weights, kwargs)


def mobilenet_v3_small(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> MobileNetV3:
    """MobileNet V3 small; arguments as :func:`mobilenet_v3_large`. 2,542,856 parameters for
    1000 classes."""
    return _mobilenet_v3("mobilenet_v3_small", weights, kwargs)
