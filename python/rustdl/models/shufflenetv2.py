"""ShuffleNet V2 (Ma et al., 2018), as torchvision builds it (``torchvision.models.shufflenetv2``):
same modules, state-dict keys, shapes, forward and (PyTorch default) initialisation."""

from __future__ import annotations

from typing import Any, Callable

import rustdl

from .. import nn
from .._rustdl import Tensor
from ._misc import check_weights

# torchvision's __all__: the building blocks are reached through this module
__all__ = [
    "ShuffleNetV2",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0",
]


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleaves the channels of ``x`` (``(N, C, H, W)``) from ``groups`` groups: channel
    ``g * (C // groups) + i`` moves to ``i * groups + g``."""
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous()
    return x.view(n, c, h, w)


class InvertedResidual(nn.Module):
    """ShuffleNet V2 unit. With ``stride == 1`` the input's channels are split in half: the
    first half passes through, the second goes through ``branch2`` (1×1 conv → 3×3 depthwise
    → 1×1 conv, each with BatchNorm, ReLU after the 1×1 convs). With ``stride > 1`` both
    branches see the whole input and downsample (``branch1``: 3×3 depthwise → 1×1 conv).
    The halves are concatenated and channel-shuffled (2 groups). Output ``oup`` channels.
    """

    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        if not 1 <= stride <= 3:
            raise ValueError("illegal stride value")
        self.stride = stride
        branch_features = oup // 2
        if stride == 1 and inp != branch_features << 1:
            raise ValueError(
                f"Invalid combination of stride {stride}, inp {inp} and oup {oup} values. "
                "If stride == 1 then inp should be equal to oup // 2 << 1."
            )
        if stride > 1:
            self.branch1 = nn.Sequential(
                self.depthwise_conv(inp, inp, kernel_size=3, stride=stride, padding=1),
                nn.BatchNorm2d(inp),
                nn.Conv2d(inp, branch_features, kernel_size=1, stride=1, padding=0, bias=False),
                nn.BatchNorm2d(branch_features),
                nn.ReLU(inplace=True),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(
                inp if stride > 1 else branch_features,
                branch_features,
                kernel_size=1,
                stride=1,
                padding=0,
                bias=False,
            ),
            nn.BatchNorm2d(branch_features),
            nn.ReLU(inplace=True),
            self.depthwise_conv(branch_features, branch_features, kernel_size=3, stride=stride, padding=1),
            nn.BatchNorm2d(branch_features),
            nn.Conv2d(branch_features, branch_features, kernel_size=1, stride=1, padding=0, bias=False),
            nn.BatchNorm2d(branch_features),
            nn.ReLU(inplace=True),
        )

    @staticmethod
    def depthwise_conv(
        i: int, o: int, kernel_size: int, stride: int = 1, padding: int = 0, bias: bool = False
    ) -> nn.Conv2d:
        """A ``groups=i`` convolution."""
        return nn.Conv2d(i, o, kernel_size, stride, padding, bias=bias, groups=i)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = rustdl.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = rustdl.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNet V2 from `ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture
    Design <https://arxiv.org/abs/1807.11164>`_.

    Keys as torchvision: ``conv1`` (3×3 stride-2 conv, BatchNorm, ReLU), a 3×3 stride-2 max
    pool, ``stage2..stage4`` (:class:`InvertedResidual` units, the first of each with stride 2),
    ``conv5`` (1×1 conv, BatchNorm, ReLU), a global mean and ``fc``. Layers keep PyTorch's
    default initialisation, as torchvision.

    Args:
        stages_repeats: units in stages 2, 3 and 4 (3 numbers).
        stages_out_channels: output channels of ``conv1``, the three stages and ``conv5``
            (5 numbers).
        num_classes: size of the output.
        inverted_residual: the unit class (default :class:`InvertedResidual`).
        in_channels: channels of the input image.

    Shape:
        Input ``(N, in_channels, H, W)``, any ``H, W ≥ 1`` (224 as trained); output
        ``(N, num_classes)``.
    """

    def __init__(
        self,
        stages_repeats: list[int],
        stages_out_channels: list[int],
        num_classes: int = 1000,
        inverted_residual: Callable[..., nn.Module] = InvertedResidual,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if len(stages_repeats) != 3:
            raise ValueError("expected stages_repeats as list of 3 positive ints")
        if len(stages_out_channels) != 5:
            raise ValueError("expected stages_out_channels as list of 5 positive ints")
        self._stage_out_channels = stages_out_channels

        output_channels = stages_out_channels[0]
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_channels, output_channels, 3, 2, 1, bias=False),
            nn.BatchNorm2d(output_channels),
            nn.ReLU(inplace=True),
        )
        input_channels = output_channels
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        self.stage2: nn.Sequential
        self.stage3: nn.Sequential
        self.stage4: nn.Sequential
        for name, repeats, output_channels in zip(
            ("stage2", "stage3", "stage4"), stages_repeats, stages_out_channels[1:]
        ):
            units = [inverted_residual(input_channels, output_channels, 2)]
            units.extend(inverted_residual(output_channels, output_channels, 1) for _ in range(repeats - 1))
            setattr(self, name, nn.Sequential(*units))
            input_channels = output_channels

        output_channels = stages_out_channels[-1]
        self.conv5 = nn.Sequential(
            nn.Conv2d(input_channels, output_channels, 1, 1, 0, bias=False),
            nn.BatchNorm2d(output_channels),
            nn.ReLU(inplace=True),
        )
        self.fc = nn.Linear(output_channels, num_classes)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        x = self.maxpool(x)
        x = self.stage2(x)
        x = self.stage3(x)
        x = self.stage4(x)
        x = self.conv5(x)
        x = x.mean([2, 3])
        return self.fc(x)

    def forward(self, x: Tensor) -> Tensor:
        return self._forward_impl(x)


def _shufflenetv2(
    name: str, repeats: list[int], channels: list[int], weights: Any, kwargs: dict[str, Any]
) -> ShuffleNetV2:
    check_weights(name, weights, kwargs.pop("pretrained", False))
    return ShuffleNetV2(repeats, channels, **kwargs)


def shufflenet_v2_x0_5(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ShuffleNetV2:
    """ShuffleNet V2 with 0.5× output channels (stages 48, 96, 192); keyword arguments go to
    :class:`ShuffleNetV2`. 1,366,792 parameters for 1000 classes."""
    return _shufflenetv2("shufflenet_v2_x0_5", [4, 8, 4], [24, 48, 96, 192, 1024], weights, kwargs)


def shufflenet_v2_x1_0(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ShuffleNetV2:
    """ShuffleNet V2 1.0× (stages 116, 232, 464); 2,278,604 parameters for 1000 classes."""
    return _shufflenetv2("shufflenet_v2_x1_0", [4, 8, 4], [24, 116, 232, 464, 1024], weights, kwargs)


def shufflenet_v2_x1_5(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ShuffleNetV2:
    """ShuffleNet V2 1.5× (stages 176, 352, 704); 3,503,624 parameters for 1000 classes."""
    return _shufflenetv2("shufflenet_v2_x1_5", [4, 8, 4], [24, 176, 352, 704, 1024], weights, kwargs)


def shufflenet_v2_x2_0(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ShuffleNetV2:
    """ShuffleNet V2 2.0× (stages 244, 488, 976; ``conv5`` 2048); 7,393,996 parameters for
    1000 classes."""
    return _shufflenetv2("shufflenet_v2_x2_0", [4, 8, 4], [24, 244, 488, 976, 2048], weights, kwargs)
