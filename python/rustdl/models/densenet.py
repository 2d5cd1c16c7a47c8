"""DenseNet-BC (Huang et al., 2016), as torchvision builds it: same modules, state dict keys,
parameter shapes, forward computation and initialisation as ``torchvision.models.densenet``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import rustdl  # (the public functions: traced models record their calls)

from .. import nn
from .._rustdl import Tensor
from ..gradient_checkpoint import checkpoint
from ..nn import functional as F
from ._misc import check_weights

__all__ = ["DenseNet", "densenet121", "densenet161", "densenet169", "densenet201"]


class _DenseLayer(nn.Module):
    """One dense layer: BN → ReLU → 1×1 conv (``bn_size · growth_rate`` channels) → BN → ReLU →
    3×3 conv (``growth_rate`` channels), then dropout with ``drop_rate``.

    ``forward`` takes the block's input tensor or the list of all earlier feature maps, which
    are concatenated along channels before the first BN. With ``memory_efficient=True`` the
    concatenation and bottleneck (BN → ReLU → 1×1 conv) are recomputed in the backward pass
    instead of kept (:func:`rustdl.gradient_checkpoint.checkpoint`).
    """

    def __init__(
        self,
        num_input_features: int,
        growth_rate: int,
        bn_size: int,
        drop_rate: float,
        memory_efficient: bool = False,
    ) -> None:
        super().__init__()
        inner = bn_size * growth_rate
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, inner, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(inner)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(inner, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        self.memory_efficient = memory_efficient

    def bn_function(self, inputs: Sequence[Tensor]) -> Tensor:
        """The bottleneck: concatenation of ``inputs`` → ``norm1`` → ``relu1`` → ``conv1``."""
        joined = rustdl.cat(list(inputs), 1)
        return self.conv1(self.relu1(self.norm1(joined)))

    def forward(self, input: Tensor | Sequence[Tensor]) -> Tensor:  # noqa: A002
        features = [input] if isinstance(input, Tensor) else list(input)
        if self.memory_efficient and any(t.requires_grad for t in features):
            bottleneck = checkpoint(lambda *ts: self.bn_function(ts), *features, use_reentrant=False)
        else:
            bottleneck = self.bn_function(features)
        out = self.conv2(self.relu2(self.norm2(bottleneck)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out


class _DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers (keys ``denselayer1``, ``denselayer2``, …); layer ``i`` sees
    the block input and every earlier layer's output. Returns all of them concatenated:
    ``num_input_features + num_layers · growth_rate`` channels."""

    _version = 2

    def __init__(
        self,
        num_layers: int,
        num_input_features: int,
        bn_size: int,
        growth_rate: int,
        drop_rate: float,
        memory_efficient: bool = False,
    ) -> None:
        super().__init__()
        for i in range(num_layers):
            self.add_module(
                f"denselayer{i + 1}",
                _DenseLayer(
                    num_input_features + i * growth_rate,
                    growth_rate=growth_rate,
                    bn_size=bn_size,
                    drop_rate=drop_rate,
                    memory_efficient=memory_efficient,
                ),
            )

    def forward(self, init_features: Tensor) -> Tensor:
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return rustdl.cat(features, 1)


class _Transition(nn.Sequential):
    """Between dense blocks: BN → ReLU → 1×1 conv → 2×2 average pool (stride 2); keys ``norm``,
    ``relu``, ``conv``, ``pool``."""

    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """DenseNet-BC from `Densely Connected Convolutional Networks
    <https://arxiv.org/abs/1608.06993>`_, with torchvision's ``DenseNet`` modules and keys.

    ``features`` is a ``Sequential`` of ``conv0`` (7×7 stride 2), ``norm0``, ``relu0``, ``pool0``
    (3×3 max pool, stride 2), then ``denseblock1``, ``transition1``, …, ``denseblock4`` and
    ``norm5``; then ReLU, global average pool and ``classifier`` (Linear).

    Initialisation (torchvision's): convolutions He-normal (fan in, gain √2), BatchNorm weight 1
    and bias 0, ``classifier`` bias 0 (its weight keeps ``nn.Linear``'s default).

    Args:
        growth_rate: channels each dense layer adds (``k`` in the paper).
        block_config: number of layers in each of the four dense blocks.
        num_init_features: channels of ``conv0``.
        bn_size: bottleneck width factor (``bn_size · growth_rate`` channels in each 1×1 conv).
        drop_rate: dropout after each dense layer.
        num_classes: size of the output.
        memory_efficient: recompute each layer's bottleneck in the backward pass (gradient
            checkpointing) to save memory; same results, slower.
        in_channels: channels of the input image (not a torchvision argument).

    Shape:
        Input ``(N, in_channels, H, W)`` with H, W ≥ 29; output ``(N, num_classes)``.
    """

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: tuple[int, int, int, int] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        drop_rate: float = 0,
        num_classes: int = 1000,
        memory_efficient: bool = False,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            OrderedDict(
                [
                    (
                        "conv0",
                        nn.Conv2d(
                            in_channels, num_init_features, kernel_size=7, stride=2, padding=3, bias=False
                        ),
                    ),
                    ("norm0", nn.BatchNorm2d(num_init_features)),
                    ("relu0", nn.ReLU(inplace=True)),
                    ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
                ]
            )
        )
        channels = num_init_features
        last = len(block_config) - 1
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(
                num_layers=num_layers,
                num_input_features=channels,
                bn_size=bn_size,
                growth_rate=growth_rate,
                drop_rate=drop_rate,
                memory_efficient=memory_efficient,
            )
            self.features.add_module(f"denseblock{i + 1}", block)
            channels += num_layers * growth_rate
            if i != last:
                self.features.add_module(f"transition{i + 1}", _Transition(channels, channels // 2))
                channels //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.features(x), inplace=True)
        out = F.adaptive_avg_pool2d(out, (1, 1))
        return self.classifier(out.flatten(1))


def _densenet(
    name: str,
    growth_rate: int,
    block_config: tuple[int, int, int, int],
    num_init_features: int,
    weights: Any,
    kwargs: dict[str, Any],
) -> DenseNet:
    check_weights(name, weights, kwargs.pop("pretrained", False))
    return DenseNet(growth_rate, block_config, num_init_features, **kwargs)


def densenet121(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> DenseNet:
    """DenseNet-121 (growth 32, blocks 6-12-24-16, 64 initial features); 7,978,856 parameters
    for 1000 classes. Arguments go to :class:`DenseNet`."""
    return _densenet("densenet121", 32, (6, 12, 24, 16), 64, weights, kwargs)


def densenet161(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> DenseNet:
    """DenseNet-161 (growth 48, blocks 6-12-36-24, 96 initial features); 28,681,000 parameters
    for 1000 classes. Arguments go to :class:`DenseNet`."""
    return _densenet("densenet161", 48, (6, 12, 36, 24), 96, weights, kwargs)


def densenet169(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> DenseNet:
    """DenseNet-169 (growth 32, blocks 6-12-32-32, 64 initial features); 14,149,480 parameters
    for 1000 classes. Arguments go to :class:`DenseNet`."""
    return _densenet("densenet169", 32, (6, 12, 32, 32), 64, weights, kwargs)


def densenet201(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> DenseNet:
    """DenseNet-201 (growth 32, blocks 6-12-48-32, 64 initial features); 20,013,928 parameters
    for 1000 classes. Arguments go to :class:`DenseNet`."""
    return _densenet("densenet201", 32, (6, 12, 48, 32), 64, weights, kwargs)
