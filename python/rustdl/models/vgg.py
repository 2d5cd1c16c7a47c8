"""VGG (Simonyan & Zisserman, 2014), as torchvision builds it."""

from __future__ import annotations

from typing import Any

from .. import nn
from .._rustdl import Tensor
from ._misc import check_weights

__all__ = [
    "VGG",
    "make_layers",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]

# torchvision's configurations: channels of each 3×3 conv, "M" for a 2×2 max pool.
cfgs: dict[str, list[str | int]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ],
}


def make_layers(
    cfg: list[str | int], batch_norm: bool = False, in_channels: int = 3, small_input: bool = False
) -> nn.Sequential:
    """torchvision's VGG feature extractor: 3×3 convs (+ BatchNorm) + ReLU, ``"M"`` = 2×2 max pool.

    ``small_input=True`` drops the final max pool (the last module, so no key moves), leaving
    four poolings: 28×28 → 1×1 and 32×32 → 2×2.
    """
    layers: list[nn.Module] = []
    c = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            v = int(v)
            layers.append(nn.Conv2d(c, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            c = v
    if small_input:
        layers.pop()
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG from `Very Deep Convolutional Networks for Large-Scale Image Recognition
    <https://arxiv.org/abs/1409.1556>`_.

    Modules and state dict keys are torchvision's: ``features.*`` (see :func:`make_layers`),
    ``avgpool`` (adaptive, to 7×7) and ``classifier.{0,3,6}`` (25088→4096→4096→``num_classes``
    with ReLU and dropout), so torchvision's weights load by key when ``small_input`` is off.

    ``small_input=True`` (28×28 / 32×32 images) drops the last max pool, pools adaptively to
    1×1 and uses a 512→512→512→``num_classes`` classifier: same keys, smaller
    ``classifier.*`` shapes.

    Args:
        features: the convolutional part, from :func:`make_layers`.
        num_classes: size of the output.
        init_weights: torchvision's initialisation (Kaiming normal convs, N(0, 0.01) linears,
            zero biases, BatchNorm 1/0); ``False`` keeps the layers' default initialisation.
        dropout: dropout probability in the classifier.
        small_input: the small-image classifier above (build ``features`` to match).

    Shape:
        Input ``(N, C, 224, 224)`` (any size ≥ 32); output ``(N, num_classes)``.
    """

    def __init__(
        self,
        features: nn.Module,
        num_classes: int = 1000,
        init_weights: bool = True,
        dropout: float = 0.5,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        self.features = features
        pooled, hidden = (1, 512) if small_input else (7, 4096)
        self.avgpool = nn.AdaptiveAvgPool2d((pooled, pooled))
        self.classifier = nn.Sequential(
            nn.Linear(512 * pooled * pooled, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = x.flatten(1)
        return self.classifier(x)


def _vgg(
    cfg: str,
    batch_norm: bool,
    num_classes: int = 1000,
    in_channels: int = 3,
    small_input: bool = False,
    weights: Any = None,
    progress: bool = True,
    pretrained: bool = False,
    **kwargs: Any,
) -> VGG:
    check_weights("vgg", weights, pretrained)
    features = make_layers(cfgs[cfg], batch_norm, in_channels=in_channels, small_input=small_input)
    return VGG(features, num_classes=num_classes, small_input=small_input, **kwargs)


def vgg11(**kwargs: Any) -> VGG:
    """VGG-11 (configuration "A"); keyword arguments: ``num_classes``, ``in_channels``,
    ``small_input``, ``init_weights``, ``dropout``. 132,863,336 parameters for 1000 classes."""
    return _vgg("A", False, **kwargs)


def vgg11_bn(**kwargs: Any) -> VGG:
    """VGG-11 with BatchNorm; arguments as :func:`vgg11`. 132,868,840 parameters."""
    return _vgg("A", True, **kwargs)


def vgg13(**kwargs: Any) -> VGG:
    """VGG-13 (configuration "B"); arguments as :func:`vgg11`. 133,047,848 parameters."""
    return _vgg("B", False, **kwargs)


def vgg13_bn(**kwargs: Any) -> VGG:
    """VGG-13 with BatchNorm; arguments as :func:`vgg11`. 133,053,736 parameters."""
    return _vgg("B", True, **kwargs)


def vgg16(**kwargs: Any) -> VGG:
    """VGG-16 (configuration "D"); arguments as :func:`vgg11`. 138,357,544 parameters."""
    return _vgg("D", False, **kwargs)


def vgg16_bn(**kwargs: Any) -> VGG:
    """VGG-16 with BatchNorm; arguments as :func:`vgg11`. 138,365,992 parameters."""
    return _vgg("D", True, **kwargs)


def vgg19(**kwargs: Any) -> VGG:
    """VGG-19 (configuration "E"); arguments as :func:`vgg11`. 143,667,240 parameters."""
    return _vgg("E", False, **kwargs)


def vgg19_bn(**kwargs: Any) -> VGG:
    """VGG-19 with BatchNorm; arguments as :func:`vgg11`. 143,678,248 parameters."""
    return _vgg("E", True, **kwargs)
