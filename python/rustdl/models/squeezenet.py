"""SqueezeNet 1.0 and 1.1 (Iandola et al., 2016), as torchvision builds them
(``torchvision.models.squeezenet``): same modules, state-dict keys, shapes, forward and
initialisation."""

from __future__ import annotations

from typing import Any

import rustdl

from .. import nn
from .._rustdl import Tensor
from ._misc import check_weights

# torchvision's __all__: the building blocks are reached through this module
__all__ = ["SqueezeNet", "squeezenet1_0", "squeezenet1_1"]


class Fire(nn.Module):
    """The Fire module: a 1×1 ``squeeze`` conv (ReLU), then ``expand1x1`` (1×1) and
    ``expand3x3`` (3×3, padding 1) convs on its output, each with a ReLU, concatenated along
    channels. Output channels ``expand1x1_planes + expand3x3_planes``, same H×W."""

    def __init__(
        self, inplanes: int, squeeze_planes: int, expand1x1_planes: int, expand3x3_planes: int
    ) -> None:
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return rustdl.cat(
            [self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))], 1
        )


# (squeeze, expand1x1, expand3x3) of each Fire module, "M" a 3×3 stride-2 max pool (ceil mode)
_FIRES: dict[str, list[Any]] = {
    "1_0": [
        "M",
        (16, 64, 64),
        (16, 64, 64),
        (32, 128, 128),
        "M",
        (32, 128, 128),
        (48, 192, 192),
        (48, 192, 192),
        (64, 256, 256),
        "M",
        (64, 256, 256),
    ],
    "1_1": [
        "M",
        (16, 64, 64),
        (16, 64, 64),
        "M",
        (32, 128, 128),
        (32, 128, 128),
        "M",
        (48, 192, 192),
        (48, 192, 192),
        (64, 256, 256),
        (64, 256, 256),
    ],
}


class SqueezeNet(nn.Module):
    """SqueezeNet from `SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB
    model size <https://arxiv.org/abs/1602.07360>`_.

    ``version="1_0"``: a 7×7 stride-2 stem with 96 channels; ``"1_1"``: a 3×3 stride-2 stem with
    64 channels and earlier pooling (2.4× less computation, about the same accuracy). Keys as
    torchvision: ``features.{i}`` (the stem conv is ``features.0``; :class:`Fire` modules at
    the other indices that hold parameters) and ``classifier.1`` (the final 1×1 conv to
    ``num_classes``, followed by ReLU and a global average pool).

    Args:
        version: ``"1_0"`` or ``"1_1"``.
        num_classes: size of the output.
        dropout: dropout probability before the final conv.
        in_channels: channels of the input image.

    Shape:
        Input ``(N, in_channels, H, W)`` with ``H, W ≥ 21`` (1.0) or ``≥ 17`` (1.1); 224 as
        trained. Output ``(N, num_classes)``, non-negative (the final conv is followed by ReLU).
    """

    def __init__(
        self, version: str = "1_0", num_classes: int = 1000, dropout: float = 0.5, in_channels: int = 3
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        if version not in _FIRES:
            raise ValueError(f"Unsupported SqueezeNet version {version}: 1_0 or 1_1 expected")
        if version == "1_0":
            layers: list[nn.Module] = [nn.Conv2d(in_channels, 96, kernel_size=7, stride=2)]
            channels = 96
        else:
            layers = [nn.Conv2d(in_channels, 64, kernel_size=3, stride=2)]
            channels = 64
        layers.append(nn.ReLU(inplace=True))
        for item in _FIRES[version]:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True))
            else:
                squeeze, e1, e3 = item
                layers.append(Fire(channels, squeeze, e1, e3))
                channels = e1 + e3
        self.features = nn.Sequential(*layers)

        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1))
        )

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.classifier(x)
        return x.flatten(1)


def _squeezenet(version: str, weights: Any, kwargs: dict[str, Any]) -> SqueezeNet:
    check_weights(f"squeezenet{version}", weights, kwargs.pop("pretrained", False))
    return SqueezeNet(version, **kwargs)


def squeezenet1_0(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> SqueezeNet:
    """SqueezeNet 1.0; keyword arguments go to :class:`SqueezeNet`. 1,248,424 parameters for
    1000 classes."""
    return _squeezenet("1_0", weights, kwargs)


def squeezenet1_1(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> SqueezeNet:
    """SqueezeNet 1.1 (2.4× less computation than 1.0 at about the same accuracy); keyword
    arguments go to :class:`SqueezeNet`. 1,235,496 parameters for 1000 classes."""
    return _squeezenet("1_1", weights, kwargs)
