"""ConvNeXt (Liu et al., 2022), as torchvision builds it (``torchvision.models.convnext``): same
modules, state-dict keys, shapes, forward computation, initialisation and constructor arguments.

Stochastic depth (``"row"`` mode) grows linearly over the blocks, from 0 for the first to
``stochastic_depth_prob`` for the last (0.1 tiny, 0.4 small, 0.5 base and large by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, Callable

import rustdl

from .. import nn
from .._rustdl import Tensor
from ..nn import functional as F
from ._misc import Conv2dNormActivation, Permute, StochasticDepth, check_weights

__all__ = [
    "CNBlock",
    "CNBlockConfig",
    "ConvNeXt",
    "LayerNorm2d",
    "convnext_base",
    "convnext_large",
    "convnext_small",
    "convnext_tiny",
]


class LayerNorm2d(nn.LayerNorm):
    """``nn.LayerNorm`` over the channel dim of an ``(N, C, H, W)`` input (each pixel's ``C``
    values normalised on their own); keys ``weight`` and ``bias`` of shape ``(C,)``."""

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    """ConvNeXt block: 7×7 depthwise conv → (channels-last) norm → ``Linear(dim, 4·dim)`` → GELU
    → ``Linear(4·dim, dim)``, scaled per channel by the learnt ``layer_scale`` (``(dim, 1, 1)``,
    initialised to the ``layer_scale`` argument), passed through :class:`StochasticDepth` and
    added to the input.

    Keys: ``layer_scale``, ``block.0`` (conv), ``block.2`` (norm), ``block.3`` and ``block.5``
    (the linears); ``block.1`` / ``block.6`` are the permutes and ``block.4`` the GELU.
    """

    def __init__(
        self,
        dim: int,
        layer_scale: float,
        stochastic_depth_prob: float,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = partial(nn.LayerNorm, eps=1e-6)
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            norm_layer(dim),
            nn.Linear(in_features=dim, out_features=4 * dim, bias=True),
            nn.GELU(),
            nn.Linear(in_features=4 * dim, out_features=dim, bias=True),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(rustdl.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        out = self.layer_scale * self.block(input)
        return self.stochastic_depth(out) + input


class CNBlockConfig:
    """One ConvNeXt stage: ``num_layers`` blocks of width ``input_channels``, then (unless
    ``out_channels`` is ``None``) a downsampling layer to ``out_channels``."""

    def __init__(self, input_channels: int, out_channels: int | None, num_layers: int) -> None:
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(input_channels={self.input_channels}, "
            f"out_channels={self.out_channels}, num_layers={self.num_layers})"
        )


class ConvNeXt(nn.Module):
    """ConvNeXt from `A ConvNet for the 2020s <https://arxiv.org/abs/2201.03545>`_.

    Keys as torchvision: ``features.0`` (4×4 stride-4 "patchify" conv with bias, then
    :class:`LayerNorm2d`), then per stage a ``Sequential`` of :class:`CNBlock` followed (except
    after the last stage) by a downsampling ``Sequential`` (:class:`LayerNorm2d`, 2×2 stride-2
    conv); ``classifier.0`` (:class:`LayerNorm2d`) and ``classifier.2`` (``Linear``).

    Args:
        block_setting: the stages, as :class:`CNBlockConfig`.
        stochastic_depth_prob: the last block's stochastic-depth probability; block ``i`` of
            ``n`` (counted over all stages from 0) uses ``stochastic_depth_prob * i / (n - 1)``.
        layer_scale: initial value of every block's ``layer_scale``.
        num_classes: size of the output.
        block: the block class (default :class:`CNBlock`), called as
            ``block(dim, layer_scale, stochastic_depth_prob)``.
        norm_layer: the norm of the stem, the downsampling layers and the classifier (default
            :class:`LayerNorm2d` with ``eps=1e-6``); the blocks keep their own.
        in_channels: channels of the input image.
        **kwargs: accepted and ignored, as torchvision does.

    Shape:
        Input ``(N, in_channels, H, W)`` with ``H, W ≥ 32`` (downsampled 32×); output
        ``(N, num_classes)``.
    """

    def __init__(
        self,
        block_setting: list[CNBlockConfig],
        stochastic_depth_prob: float = 0.0,
        layer_scale: float = 1e-6,
        num_classes: int = 1000,
        block: Callable[..., nn.Module] | None = None,
        norm_layer: Callable[..., nn.Module] | None = None,
        in_channels: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if not block_setting:
            raise ValueError("The block_setting should not be empty")
        if not (
            isinstance(block_setting, Sequence) and all(isinstance(s, CNBlockConfig) for s in block_setting)
        ):
            raise TypeError("The block_setting should be List[CNBlockConfig]")
        if block is None:
            block = CNBlock
        if norm_layer is None:
            norm_layer = partial(LayerNorm2d, eps=1e-6)

        layers: list[nn.Module] = [
            Conv2dNormActivation(
                in_channels,
                block_setting[0].input_channels,
                kernel_size=4,
                stride=4,
                padding=0,
                norm_layer=norm_layer,
                activation_layer=None,
                bias=True,
            )
        ]
        total_blocks = sum(cnf.num_layers for cnf in block_setting)
        block_id = 0
        for cnf in block_setting:
            stage: list[nn.Module] = []
            for _ in range(cnf.num_layers):
                sd_prob = stochastic_depth_prob * block_id / (total_blocks - 1.0)
                stage.append(block(cnf.input_channels, layer_scale, sd_prob))
                block_id += 1
            layers.append(nn.Sequential(*stage))
            if cnf.out_channels is not None:
                layers.append(
                    nn.Sequential(
                        norm_layer(cnf.input_channels),
                        nn.Conv2d(cnf.input_channels, cnf.out_channels, kernel_size=2, stride=2),
                    )
                )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)

        last = block_setting[-1]
        last_channels = last.out_channels if last.out_channels is not None else last.input_channels
        self.classifier = nn.Sequential(
            norm_layer(last_channels), nn.Flatten(1), nn.Linear(last_channels, num_classes)
        )

        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        return self.classifier(x)

    def forward(self, x: Tensor) -> Tensor:
        return self._forward_impl(x)


def _convnext(
    name: str, block_setting: list[CNBlockConfig], sd_prob: float, weights: Any, kwargs: dict[str, Any]
) -> ConvNeXt:
    check_weights(name, weights, kwargs.pop("pretrained", False))
    sd_prob = kwargs.pop("stochastic_depth_prob", sd_prob)
    return ConvNeXt(block_setting, stochastic_depth_prob=sd_prob, **kwargs)


def convnext_tiny(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ConvNeXt:
    """ConvNeXt-T (widths 96/192/384/768, depths 3/3/9/3, stochastic depth 0.1); keyword
    arguments go to :class:`ConvNeXt`. 28,589,128 parameters for 1000 classes."""
    setting = [
        CNBlockConfig(96, 192, 3),
        CNBlockConfig(192, 384, 3),
        CNBlockConfig(384, 768, 9),
        CNBlockConfig(768, None, 3),
    ]
    return _convnext("convnext_tiny", setting, 0.1, weights, kwargs)


def convnext_small(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ConvNeXt:
    """ConvNeXt-S (widths 96/192/384/768, depths 3/3/27/3, stochastic depth 0.4);
    50,223,688 parameters for 1000 classes."""
    setting = [
        CNBlockConfig(96, 192, 3),
        CNBlockConfig(192, 384, 3),
        CNBlockConfig(384, 768, 27),
        CNBlockConfig(768, None, 3),
    ]
    return _convnext("convnext_small", setting, 0.4, weights, kwargs)


def convnext_base(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ConvNeXt:
    """ConvNeXt-B (widths 128/256/512/1024, depths 3/3/27/3, stochastic depth 0.5);
    88,591,464 parameters for 1000 classes."""
    setting = [
        CNBlockConfig(128, 256, 3),
        CNBlockConfig(256, 512, 3),
        CNBlockConfig(512, 1024, 27),
        CNBlockConfig(1024, None, 3),
    ]
    return _convnext("convnext_base", setting, 0.5, weights, kwargs)


def convnext_large(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ConvNeXt:
    """ConvNeXt-L (widths 192/384/768/1536, depths 3/3/27/3, stochastic depth 0.5);
    197,767,336 parameters for 1000 classes."""
    setting = [
        CNBlockConfig(192, 384, 3),
        CNBlockConfig(384, 768, 3),
        CNBlockConfig(768, 1536, 27),
        CNBlockConfig(1536, None, 3),
    ]
    return _convnext("convnext_large", setting, 0.5, weights, kwargs)
