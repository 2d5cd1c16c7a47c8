"""GoogLeNet / Inception v1 (Szegedy et al., 2014), as torchvision builds it."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import rustdl  # (the public functions: traced models record their calls)

from .. import nn
from .._rustdl import Tensor
from ..nn import functional as F
from ._misc import check_weights

__all__ = ["BasicConv2d", "GoogLeNet", "GoogLeNetOutputs", "Inception", "InceptionAux", "googlenet"]

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])
GoogLeNetOutputs.__doc__ = "What GoogLeNet returns in training mode with ``aux_logits=True``."


class BasicConv2d(nn.Module):
    """Conv2d (no bias) → BatchNorm2d (eps 0.001) → ReLU; keys ``conv.*`` and ``bn.*``."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    """The Inception module: four branches concatenated along channels.

    ``branch1`` 1×1; ``branch2`` 1×1 → 3×3; ``branch3`` 1×1 → 3×3 (torchvision's known
    deviation from the paper's 5×5, kept so that its weights load); ``branch4`` 3×3 max pool
    (stride 1) → 1×1. Output channels ``ch1x1 + ch3x3 + ch5x5 + pool_proj``, same H×W.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
    ) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        outputs = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return rustdl.cat(outputs, 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: adaptive avg pool 4×4 → 1×1 conv (128) → 2048→1024 → ``num_classes``."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = F.adaptive_avg_pool2d(x, (4, 4))
        x = self.conv(x)
        x = x.flatten(1)
        x = F.relu(self.fc1(x), inplace=True)
        x = self.dropout(x)
        return self.fc2(x)


class GoogLeNet(nn.Module):
    """GoogLeNet from `Going Deeper with Convolutions <https://arxiv.org/abs/1409.4842>`_.

    Modules and state dict keys are torchvision's ``GoogLeNet``: ``conv1..conv3`` (BasicConv2d),
    ``inception3a..inception5b``, ``aux1``/``aux2`` (only with ``aux_logits=True``) and ``fc``.
    With ``aux_logits=False`` (the default here; torchvision's default is ``True`` when
    untrained) the keys and shapes equal ``torchvision.models.googlenet(aux_logits=False)``,
    6,624,904 parameters for 1000 classes; with ``aux_logits=True`` they equal torchvision's
    default (13,004,888).

    ``small_input=True`` (28×28 / 32×32 images) makes ``conv1`` a 3×3 stride-1 conv and drops
    ``maxpool1`` (an Identity, so no key moves); only ``conv1.conv.weight``'s shape changes.

    Args:
        num_classes: size of the output.
        aux_logits: build the two auxiliary classifiers; in training mode ``forward`` then
            returns :data:`GoogLeNetOutputs` ``(logits, aux_logits2, aux_logits1)``.
        transform_input: re-normalise ImageNet-normalised input the way Google's weights expect
            (3 channels only).
        init_weights: torchvision's initialisation (N(0, 0.01) convs and linears, BatchNorm 1/0).
        dropout: dropout before ``fc``.
        dropout_aux: dropout in the auxiliary classifiers.
        in_channels: channels of the input image.
        small_input: the small-image stem above.

    Shape:
        Input ``(N, in_channels, 224, 224)`` (28×28 / 32×32 with ``small_input=True``); output
        ``(N, num_classes)``.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = False,
        transform_input: bool = False,
        init_weights: bool = True,
        dropout: float = 0.2,
        dropout_aux: float = 0.7,
        in_channels: int = 3,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        if transform_input and in_channels != 3:
            raise ValueError("GoogLeNet: transform_input needs in_channels=3")
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        if small_input:
            self.conv1 = BasicConv2d(in_channels, 64, kernel_size=3, stride=1, padding=1)
            self.maxpool1: nn.Module = nn.Identity()
        else:
            self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)

        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)

        self.aux1: InceptionAux | None
        self.aux2: InceptionAux | None
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None

        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    # torchvision draws a N(0, 0.01) truncated at ±2: with this std the cut never bites.
                    nn.init.normal_(m.weight, 0.0, 0.01)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    def _transform_input(self, x: Tensor) -> Tensor:
        if not self.transform_input:
            return x
        x_ch0 = x[:, 0:1] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
        x_ch1 = x[:, 1:2] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
        x_ch2 = x[:, 2:3] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
        return rustdl.cat([x_ch0, x_ch1, x_ch2], 1)

    def forward(self, x: Tensor):
        x = self._transform_input(x)
        x = self.conv1(x)
        x = self.maxpool1(x)
        x = self.conv2(x)
        x = self.conv3(x)
        x = self.maxpool2(x)

        x = self.inception3a(x)
        x = self.inception3b(x)
        x = self.maxpool3(x)
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4b(x)
        x = self.inception4c(x)
        x = self.inception4d(x)
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.inception4e(x)
        x = self.maxpool4(x)
        x = self.inception5a(x)
        x = self.inception5b(x)

        x = self.avgpool(x)
        x = x.flatten(1)
        x = self.dropout(x)
        x = self.fc(x)
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> GoogLeNet:
    """GoogLeNet (torchvision's ``googlenet``, no pretrained weights); arguments go to
    :class:`GoogLeNet` (``aux_logits`` defaults to ``False`` here; the torchvision shim's
    ``googlenet`` defaults it to ``True``, as torchvision does)."""
    check_weights("googlenet", weights, kwargs.pop("pretrained", False))
    return GoogLeNet(**kwargs)
