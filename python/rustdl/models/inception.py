"""Inception v3 (Szegedy et al., 2015), as torchvision builds it: same modules, state dict keys,
parameter shapes, forward computation and initialisation as ``torchvision.models.inception``."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any, Callable

import rustdl  # (the public functions: traced models record their calls)

from .. import nn
from .._rustdl import Tensor
from ..nn import functional as F
from ._misc import check_weights
from .googlenet import BasicConv2d

# the public names of torchvision.models.inception (its blocks stay importable from here)
__all__ = ["Inception3", "InceptionOutputs", "inception_v3"]

InceptionOutputs = namedtuple("InceptionOutputs", ["logits", "aux_logits"])
InceptionOutputs.__doc__ = "What Inception3 returns in training mode with ``aux_logits=True``."
_InceptionOutputs = InceptionOutputs

ConvBlock = Callable[..., nn.Module]


def _pool3x3_same(x: Tensor) -> Tensor:
    # 3×3 average pool, stride 1, zero padding counted in the mean (size kept)
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)


class InceptionA(nn.Module):
    """35×35 module: 1×1 (64) | 1×1 (48) → 5×5 (64) | 1×1 (64) → 3×3 (96) → 3×3 (96) |
    3×3 avg pool → 1×1 (``pool_features``); ``224 + pool_features`` channels out."""

    def __init__(self, in_channels: int, pool_features: int, conv_block: ConvBlock | None = None) -> None:
        super().__init__()
        block = BasicConv2d if conv_block is None else conv_block
        self.branch1x1 = block(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = block(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = block(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = block(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = block(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = block(96, 96, kernel_size=3, padding=1)
        self.branch_pool = block(in_channels, pool_features, kernel_size=1)

    def _forward(self, x: Tensor) -> list[Tensor]:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_pool3x3_same(x))
        return [b1, b5, b3, bp]

    def forward(self, x: Tensor) -> Tensor:
        return rustdl.cat(self._forward(x), 1)


class InceptionB(nn.Module):
    """35×35 → 17×17 reduction: 3×3 stride 2 (384) | 1×1 (64) → 3×3 (96) → 3×3 stride 2 (96) |
    3×3 max pool stride 2; ``480 + in_channels`` channels out."""

    def __init__(self, in_channels: int, conv_block: ConvBlock | None = None) -> None:
        super().__init__()
        block = BasicConv2d if conv_block is None else conv_block
        self.branch3x3 = block(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = block(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = block(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = block(96, 96, kernel_size=3, stride=2)

    def _forward(self, x: Tensor) -> list[Tensor]:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return [b3, bd, bp]

    def forward(self, x: Tensor) -> Tensor:
        return rustdl.cat(self._forward(x), 1)


class InceptionC(nn.Module):
    """17×17 module with factorised 7×7 convolutions (``channels_7x7`` inner channels):
    1×1 (192) | 1×1 → 1×7 → 7×1 (192) | 1×1 → 7×1 → 1×7 → 7×1 → 1×7 (192) | 3×3 avg pool →
    1×1 (192); 768 channels out."""

    def __init__(self, in_channels: int, channels_7x7: int, conv_block: ConvBlock | None = None) -> None:
        super().__init__()
        block = BasicConv2d if conv_block is None else conv_block
        c7 = channels_7x7
        self.branch1x1 = block(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = block(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = block(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = block(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = block(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = block(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = block(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = block(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = block(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = block(in_channels, 192, kernel_size=1)

    def _forward(self, x: Tensor) -> list[Tensor]:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = conv(bd)
        bp = self.branch_pool(_pool3x3_same(x))
        return [b1, b7, bd, bp]

    def forward(self, x: Tensor) -> Tensor:
        return rustdl.cat(self._forward(x), 1)


class InceptionD(nn.Module):
    """17×17 → 8×8 reduction: 1×1 (192) → 3×3 stride 2 (320) | 1×1 → 1×7 → 7×1 → 3×3 stride 2
    (192) | 3×3 max pool stride 2; ``512 + in_channels`` channels out."""

    def __init__(self, in_channels: int, conv_block: ConvBlock | None = None) -> None:
        super().__init__()
        block = BasicConv2d if conv_block is None else conv_block
        self.branch3x3_1 = block(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = block(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = block(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = block(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = block(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = block(192, 192, kernel_size=3, stride=2)

    def _forward(self, x: Tensor) -> list[Tensor]:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for conv in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = conv(b7)
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return [b3, b7, bp]

    def forward(self, x: Tensor) -> Tensor:
        return rustdl.cat(self._forward(x), 1)


class InceptionE(nn.Module):
    """8×8 module with expanded filter banks: 1×1 (320) | 1×1 (384) → [1×3 | 3×1] (2·384) |
    1×1 (448) → 3×3 (384) → [1×3 | 3×1] (2·384) | 3×3 avg pool → 1×1 (192); 2048 channels out."""

    def __init__(self, in_channels: int, conv_block: ConvBlock | None = None) -> None:
        super().__init__()
        block = BasicConv2d if conv_block is None else conv_block
        self.branch1x1 = block(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = block(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = block(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = block(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = block(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = block(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = block(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = block(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = block(in_channels, 192, kernel_size=1)

    def _forward(self, x: Tensor) -> list[Tensor]:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = rustdl.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = rustdl.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        bp = self.branch_pool(_pool3x3_same(x))
        return [b1, b3, bd, bp]

    def forward(self, x: Tensor) -> Tensor:
        return rustdl.cat(self._forward(x), 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier on the 17×17 features: 5×5 avg pool stride 3 → 1×1 conv (128) →
    5×5 conv (768) → global average pool → ``fc``. Needs a feature map of at least 17×17."""

    def __init__(self, in_channels: int, num_classes: int, conv_block: ConvBlock | None = None) -> None:
        super().__init__()
        block = BasicConv2d if conv_block is None else conv_block
        self.conv0 = block(in_channels, 128, kernel_size=1)
        self.conv1 = block(128, 768, kernel_size=5)
        # torchvision tags both with an init std; Inception3's init only reads it on Conv2d /
        # Linear modules, so conv1's 0.01 (on the wrapper) is never used and fc's 0.001 is.
        self.conv1.stddev = 0.01
        self.fc = nn.Linear(768, num_classes)
        self.fc.stddev = 0.001

    def forward(self, x: Tensor) -> Tensor:
        x = F.avg_pool2d(x, kernel_size=5, stride=3)
        x = self.conv1(self.conv0(x))
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.fc(x.flatten(1))


class Inception3(nn.Module):
    """Inception v3 from `Rethinking the Inception Architecture for Computer Vision
    <https://arxiv.org/abs/1512.00567>`_, with torchvision's ``Inception3`` modules and keys:
    stem ``Conv2d_1a_3x3`` … ``Conv2d_4a_3x3`` (with ``maxpool1``/``maxpool2``),
    ``Mixed_5b..5d`` (A), ``Mixed_6a`` (B), ``Mixed_6b..6e`` (C), ``AuxLogits`` (only with
    ``aux_logits=True``), ``Mixed_7a`` (D), ``Mixed_7b``/``Mixed_7c`` (E), then global average
    pool, ``dropout`` and ``fc``. 27,161,264 parameters for 1000 classes with ``aux_logits``
    (23,834,568 without).

    In training mode with ``aux_logits=True``, ``forward`` returns :data:`InceptionOutputs`
    ``(logits, aux_logits)``; otherwise the logits tensor.

    Args:
        num_classes: size of the output.
        aux_logits: build the auxiliary classifier on ``Mixed_6e``'s output.
        transform_input: re-normalise ImageNet-normalised input to the [-1, 1] scaling that
            Google's weights expect.
        inception_blocks: seven callables replacing ``[BasicConv2d, InceptionA, InceptionB,
            InceptionC, InceptionD, InceptionE, InceptionAux]``.
        init_weights: torchvision's initialisation: every Conv2d / Linear weight from N(0, 0.1²)
            truncated to [-2, 2] (``AuxLogits.fc``: N(0, 0.001²)), BatchNorm weight 1 / bias 0.
            ``None`` means ``True`` (torchvision also warns that its default may change).
        dropout: dropout before ``fc``.
        in_channels: channels of the input image (not a torchvision argument; 3 for
            ``transform_input``).

    Shape:
        Input ``(N, in_channels, H, W)``, H, W ≥ 75 (≥ 299, the design size, for the auxiliary
        head, which runs in training mode); output ``(N, num_classes)``.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = True,
        transform_input: bool = False,
        inception_blocks: Sequence[Callable[..., nn.Module]] | None = None,
        init_weights: bool | None = None,
        dropout: float = 0.5,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if inception_blocks is None:
            inception_blocks = [
                BasicConv2d,
                InceptionA,
                InceptionB,
                InceptionC,
                InceptionD,
                InceptionE,
                InceptionAux,
            ]
        if init_weights is None:
            init_weights = True
        if len(inception_blocks) != 7:
            raise ValueError(f"length of inception_blocks should be 7 instead of {len(inception_blocks)}")
        if transform_input and in_channels != 3:
            raise ValueError("Inception3: transform_input needs in_channels=3")
        conv, block_a, block_b, block_c, block_d, block_e, block_aux = inception_blocks

        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.Conv2d_1a_3x3 = conv(in_channels, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = conv(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = conv(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = conv(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = conv(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = block_a(192, pool_features=32)
        self.Mixed_5c = block_a(256, pool_features=64)
        self.Mixed_5d = block_a(288, pool_features=64)
        self.Mixed_6a = block_b(288)
        self.Mixed_6b = block_c(768, channels_7x7=128)
        self.Mixed_6c = block_c(768, channels_7x7=160)
        self.Mixed_6d = block_c(768, channels_7x7=160)
        self.Mixed_6e = block_c(768, channels_7x7=192)
        self.AuxLogits: nn.Module | None = block_aux(768, num_classes) if aux_logits else None
        self.Mixed_7a = block_d(768)
        self.Mixed_7b = block_e(1280)
        self.Mixed_7c = block_e(2048)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(2048, num_classes)

        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    std = float(getattr(m, "stddev", 0.1))
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=std, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    def _transform_input(self, x: Tensor) -> Tensor:
        if not self.transform_input:
            return x
        ch0 = x[:, 0:1] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
        ch1 = x[:, 1:2] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
        ch2 = x[:, 2:3] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
        return rustdl.cat([ch0, ch1, ch2], 1)

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.maxpool1(x)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = self.maxpool2(x)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a):
            x = block(x)
        for block in (self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e):
            x = block(x)
        aux = self.AuxLogits(x) if self.AuxLogits is not None and self.training else None
        for block in (self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        x = self.avgpool(x)
        x = self.dropout(x)
        x = self.fc(x.flatten(1))
        return x, aux

    def eager_outputs(self, x: Tensor, aux: Tensor | None) -> Any:
        """``InceptionOutputs(x, aux)`` in training mode with ``aux_logits``, else ``x``."""
        if self.training and self.aux_logits:
            return InceptionOutputs(x, aux)
        return x

    def forward(self, x: Tensor) -> Any:
        x, aux = self._forward(self._transform_input(x))
        return self.eager_outputs(x, aux)


def inception_v3(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> Inception3:
    """Inception v3 (torchvision's ``inception_v3``, no pretrained weights); 27,161,264
    parameters for 1000 classes (``aux_logits=True``, the default). Arguments go to
    :class:`Inception3`."""
    check_weights("inception_v3", weights, kwargs.pop("pretrained", False))
    return Inception3(**kwargs)
