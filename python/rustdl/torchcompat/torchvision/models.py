"""``torchvision.models``: ResNet-18/34 (BasicBlock) with torchvision's layer names, random weights;
resnet50, the VGGs, AlexNet and GoogLeNet from ``rustdl.models`` (also torchvision's names).

Pretrained weights cannot be downloaded: ``weights``/``pretrained`` other than None/False raise.
"""

from __future__ import annotations

from typing import Any

from rustdl import nn

__all__ = [
    "ResNet",
    "alexnet",
    "googlenet",
    "resnet18",
    "resnet34",
    "resnet50",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
]


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with batch norm and an identity (or 1×1 projection) shortcut."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Any) -> Any:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet (He et al. 2015) as torchvision builds it: stem, four stages, average pool, fc."""

    def __init__(self, layers: list[int], num_classes: int = 1000, zero_init_residual: bool = False) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)
        # torchvision's initialisation: He-normal (fan out) convolutions, unit/zero batch norms,
        # and optionally each block's last batch norm zeroed (the block starts as the identity)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: Any) -> Any:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _check_weights(weights: Any, pretrained: bool) -> None:
    if weights is not None or pretrained:
        raise NotImplementedError(
            "torchvision.models (rustdl shim): pretrained weights cannot be downloaded; use "
            "weights=None, or load a state dict with model.load_state_dict(rustdl.load(path))"
        )


def resnet18(weights: Any = None, progress: bool = True, pretrained: bool = False, **kwargs: Any) -> ResNet:
    """ResNet-18 with random weights."""
    _check_weights(weights, pretrained)
    return ResNet([2, 2, 2, 2], **kwargs)


def resnet34(weights: Any = None, progress: bool = True, pretrained: bool = False, **kwargs: Any) -> ResNet:
    """ResNet-34 with random weights."""
    _check_weights(weights, pretrained)
    return ResNet([3, 4, 6, 3], **kwargs)


def _from_rustdl(name: str) -> Any:
    """``torchvision.models.<name>`` built by ``rustdl.models.<name>`` (torchvision's layer and
    state-dict names), taking torchvision's ``weights`` / ``progress`` / ``pretrained`` too."""
    from rustdl import models

    build = getattr(models, name)

    def make(weights: Any = None, progress: bool = True, pretrained: bool = False, **kwargs: Any) -> Any:
        _check_weights(weights, pretrained)
        return build(**kwargs)

    make.__name__ = make.__qualname__ = name
    make.__doc__ = f"{name} with random weights (rustdl.models.{name})."
    return make


resnet50 = _from_rustdl("resnet50")
vgg11 = _from_rustdl("vgg11")
vgg11_bn = _from_rustdl("vgg11_bn")
vgg13 = _from_rustdl("vgg13")
vgg13_bn = _from_rustdl("vgg13_bn")
vgg16 = _from_rustdl("vgg16")
vgg16_bn = _from_rustdl("vgg16_bn")
alexnet = _from_rustdl("alexnet")
googlenet = _from_rustdl("googlenet")


def __getattr__(name: str):
    raise AttributeError(
        f"module 'torchvision.models' has no attribute '{name}': rustdl's torchvision shim "
        f"has resnet18/34/50, vgg11/13/16(_bn), alexnet and googlenet"
    )
