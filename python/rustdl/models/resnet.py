"""ResNet (He et al., 2015), as torchvision builds it, and SE-ResNet (Hu et al., 2018)."""

from __future__ import annotations

from typing import Any, Callable

from .. import nn
from .._rustdl import Tensor
from ._misc import SqueezeExcitation, check_weights

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "SEBasicBlock",
    "SEBlock",
    "SqueezeExcitation",
    "conv1x1",
    "conv3x3",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "se_resnet18",
    "wide_resnet50_2",
    "wide_resnet101_2",
]


def conv3x3(
    in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1
) -> nn.Conv2d:
    """3×3 convolution with padding, no bias."""
    return nn.Conv2d(
        in_planes,
        out_planes,
        kernel_size=3,
        stride=stride,
        padding=dilation,
        groups=groups,
        bias=False,
        dilation=dilation,
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1×1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class SEBlock(SqueezeExcitation):
    """Squeeze-and-excitation block of `Squeeze-and-Excitation Networks
    <https://arxiv.org/abs/1709.01507>`_ (Hu, Shen, Sun, 2018) with a reduction ratio:
    ``SqueezeExcitation(channels, max(1, channels // reduction))``. It adds
    ``2·C·(C // r) + C // r + C`` parameters.

    Example:
        >>> SEBlock(64)(rustdl.randn(2, 64, 8, 8)).shape
        (2, 64, 8, 8)
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__(channels, max(1, channels // reduction))
        self.reduction = reduction


class BasicBlock(nn.Module):
    """ResNet's two-3×3-conv residual block (ResNet-18/34); ``expansion = 1``."""

    expansion: int = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def _residual(self, x: Tensor) -> Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        return self.bn2(out)

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self._residual(x)
        if self.downsample is not None:
            identity = self.downsample(x)
        out = out + identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """ResNet's 1×1 → 3×3 → 1×1 bottleneck block (ResNet-50+); ``expansion = 4``.

    The stride sits on the 3×3 conv (ResNet V1.5, as torchvision).
    """

    expansion: int = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out = out + identity
        return self.relu(out)


class SEBasicBlock(BasicBlock):
    """:class:`BasicBlock` with an :class:`SEBlock` (key ``se``) on the residual branch, after
    ``bn2`` and before the addition of the shortcut, as in SE-ResNet (Hu et al., 2018, Fig. 3).
    The reduction ratio is the class attribute ``reduction`` (16)."""

    reduction: int = 16

    def __init__(self, inplanes: int, planes: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(inplanes, planes, *args, **kwargs)
        self.se = SEBlock(planes, self.reduction)

    def _residual(self, x: Tensor) -> Tensor:
        return self.se(super()._residual(x))


class ResNet(nn.Module):
    """ResNet from `Deep Residual Learning for Image Recognition <https://arxiv.org/abs/1512.03385>`_.

    Modules and state dict keys are torchvision's ``ResNet``: ``conv1``, ``bn1``,
    ``layer1..layer4`` (blocks ``layerN.i``, shortcut ``layerN.0.downsample.{0,1}``) and ``fc``,
    so torchvision's weights load by key when ``small_input`` is off.

    ``small_input=True`` (CIFAR-style stem, for 28×28 / 32×32 images) makes ``conv1`` a 3×3
    stride-1 conv and ``maxpool`` an Identity: only ``conv1.weight``'s shape changes.

    Args:
        block: :class:`BasicBlock`, :class:`Bottleneck` or a subclass (:class:`SEBasicBlock`).
        layers: number of blocks in each of the four stages.
        num_classes: size of the output.
        zero_init_residual: zero the last BatchNorm's weight in each block.
        groups, width_per_group: ResNeXt / wide-ResNet bottleneck width (as torchvision).
        replace_stride_with_dilation: as torchvision (Bottleneck only).
        norm_layer: normalisation layer factory (``nn.BatchNorm2d``).
        in_channels: channels of the input image.
        small_input: the small-image stem above.

    Shape:
        Input ``(N, in_channels, 224, 224)`` (any size ≥ 32 works: the pool is adaptive; 28×28
        or 32×32 with ``small_input=True``); output ``(N, num_classes)``.
    """

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: list[int],
        num_classes: int = 1000,
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
        replace_stride_with_dilation: list[bool] | None = None,
        norm_layer: Callable[..., nn.Module] | None = None,
        in_channels: int = 3,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer
        self.inplanes = 64
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError(
                "replace_stride_with_dilation should be None or a 3-element tuple, "
                f"got {replace_stride_with_dilation}"
            )
        self.groups = groups
        self.base_width = width_per_group
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool: nn.Module = (
            nn.Identity() if small_input else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        )
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(
            block, 128, layers[1], stride=2, dilate=replace_stride_with_dilation[0]
        )
        self.layer3 = self._make_layer(
            block, 256, layers[2], stride=2, dilate=replace_stride_with_dilation[1]
        )
        self.layer4 = self._make_layer(
            block, 512, layers[3], stride=2, dilate=replace_stride_with_dilation[2]
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(
        self,
        block: type[BasicBlock | Bottleneck],
        planes: int,
        blocks: int,
        stride: int = 1,
        dilate: bool = False,
    ) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )
        layers = [
            block(
                self.inplanes,
                planes,
                stride,
                downsample,
                self.groups,
                self.base_width,
                previous_dilation,
                norm_layer,
            )
        ]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(
                block(
                    self.inplanes,
                    planes,
                    groups=self.groups,
                    base_width=self.base_width,
                    dilation=self.dilation,
                    norm_layer=norm_layer,
                )
            )
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = x.flatten(1)
        return self.fc(x)


def _resnet(
    name: str, block: type[BasicBlock | Bottleneck], layers: list[int], weights: Any, kwargs: dict[str, Any]
) -> ResNet:
    check_weights(name, weights, kwargs.pop("pretrained", False))
    kwargs.pop("progress", None)
    return ResNet(block, layers, **kwargs)


def resnet18(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-18 (BasicBlock, [2, 2, 2, 2]); keyword arguments go to :class:`ResNet`.
    11,689,512 parameters for 1000 classes."""
    return _resnet("resnet18", BasicBlock, [2, 2, 2, 2], weights, kwargs)


def resnet34(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-34 (BasicBlock, [3, 4, 6, 3]); 21,797,672 parameters for 1000 classes."""
    return _resnet("resnet34", BasicBlock, [3, 4, 6, 3], weights, kwargs)


def resnet50(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-50 (Bottleneck, [3, 4, 6, 3]); 25,557,032 parameters for 1000 classes."""
    return _resnet("resnet50", Bottleneck, [3, 4, 6, 3], weights, kwargs)


def resnet101(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-101 (Bottleneck, [3, 4, 23, 3]); 44,549,160 parameters for 1000 classes."""
    return _resnet("resnet101", Bottleneck, [3, 4, 23, 3], weights, kwargs)


def resnet152(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-152 (Bottleneck, [3, 8, 36, 3]); 60,192,808 parameters for 1000 classes."""
    return _resnet("resnet152", Bottleneck, [3, 8, 36, 3], weights, kwargs)


def _grouped(
    name: str, layers: list[int], groups: int, width: int, weights: Any, kwargs: dict[str, Any]
) -> ResNet:
    for key, value in (("groups", groups), ("width_per_group", width)):
        if key in kwargs and kwargs[key] != value:
            raise ValueError(f"{name}: {key} is fixed at {value} for this model, got {kwargs[key]}")
        kwargs[key] = value
    return _resnet(name, Bottleneck, layers, weights, kwargs)


def resnext50_32x4d(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNeXt-50 32×4d (Xie et al., 2017): ResNet-50 with 32 groups of width 4 in each
    bottleneck's 3×3 conv; 25,028,904 parameters for 1000 classes."""
    return _grouped("resnext50_32x4d", [3, 4, 6, 3], 32, 4, weights, kwargs)


def resnext101_32x8d(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNeXt-101 32×8d; 88,791,336 parameters for 1000 classes."""
    return _grouped("resnext101_32x8d", [3, 4, 23, 3], 32, 8, weights, kwargs)


def resnext101_64x4d(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNeXt-101 64×4d; 83,455,272 parameters for 1000 classes."""
    return _grouped("resnext101_64x4d", [3, 4, 23, 3], 64, 4, weights, kwargs)


def wide_resnet50_2(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """Wide ResNet-50-2 (Zagoruyko & Komodakis, 2016): ResNet-50 with bottlenecks twice as
    wide; 68,883,240 parameters for 1000 classes."""
    return _grouped("wide_resnet50_2", [3, 4, 6, 3], 1, 128, weights, kwargs)


def wide_resnet101_2(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """Wide ResNet-101-2; 126,886,696 parameters for 1000 classes."""
    return _grouped("wide_resnet101_2", [3, 4, 23, 3], 1, 128, weights, kwargs)


def se_resnet18(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """SE-ResNet-18: ResNet-18 whose blocks are :class:`SEBasicBlock` (an :class:`SEBlock`,
    reduction 16, after ``bn2`` of every block, key ``layerN.i.se.fc{1,2}``). No torchvision
    counterpart; every other key is resnet18's. 11,778,592 parameters for 1000 classes
    (resnet18's 11,689,512 plus 2·(580 + 2,184 + 8,464 + 33,312) for the eight SE blocks).
    """
    return _resnet("se_resnet18", SEBasicBlock, [2, 2, 2, 2], weights, kwargs)
