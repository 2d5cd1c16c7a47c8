"""MNASNet B1 (Tan et al., 2018) at depth multipliers 0.5, 0.75, 1.0 and 1.3, as torchvision
builds it (``torchvision.models.mnasnet``): same modules, state-dict keys, shapes, forward and
initialisation."""

from __future__ import annotations

import warnings
from typing import Any

from .. import nn
from .._rustdl import Tensor
from ._misc import check_weights

# torchvision's __all__: the building blocks are reached through this module
__all__ = ["MNASNet", "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"]

# PyTorch's momentum for TensorFlow's BatchNorm decay 0.9997 (the paper's)
_BN_MOMENTUM = 1 - 0.9997


class _InvertedResidual(nn.Module):
    """1×1 expansion → k×k depthwise (stride) → linear 1×1 projection, each with BatchNorm
    (ReLU after the first two); the input is added back when ``stride == 1`` and
    ``in_ch == out_ch``. Keys ``layers.{0..7}``."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int,
        stride: int,
        expansion_factor: int,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        if kernel_size not in (3, 5):
            raise ValueError(f"kernel_size should be 3 or 5 instead of {kernel_size}")
        mid_ch = in_ch * expansion_factor
        self.apply_residual = in_ch == out_ch and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(in_ch, mid_ch, 1, bias=False),
            nn.BatchNorm2d(mid_ch, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(
                mid_ch,
                mid_ch,
                kernel_size,
                padding=kernel_size // 2,
                stride=stride,
                groups=mid_ch,
                bias=False,
            ),
            nn.BatchNorm2d(mid_ch, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_ch, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch, momentum=bn_momentum),
        )

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        out = self.layers(input)
        return out + input if self.apply_residual else out


def _stack(
    in_ch: int, out_ch: int, kernel_size: int, stride: int, exp_factor: int, repeats: int, bn_momentum: float
) -> nn.Sequential:
    """``repeats`` inverted residuals; only the first changes width and stride."""
    if repeats < 1:
        raise ValueError(f"repeats should be >= 1, instead got {repeats}")
    blocks = [_InvertedResidual(in_ch, out_ch, kernel_size, stride, exp_factor, bn_momentum=bn_momentum)]
    blocks.extend(
        _InvertedResidual(out_ch, out_ch, kernel_size, 1, exp_factor, bn_momentum=bn_momentum)
        for _ in range(1, repeats)
    )
    return nn.Sequential(*blocks)


def _round_to_multiple_of(val: float, divisor: int, round_up_bias: float = 0.9) -> int:
    """``val`` rounded to the nearest multiple of ``divisor``, rounded up instead when that
    would lose more than ``1 - round_up_bias`` of ``val`` (e.g. (83, 8) → 80, (84, 8) → 88)."""
    if not 0.0 < round_up_bias < 1.0:
        raise ValueError(
            f"round_up_bias should be greater than 0.0 and smaller than 1.0 instead of {round_up_bias}"
        )
    new_val = max(divisor, int(val + divisor / 2) // divisor * divisor)
    return new_val if new_val >= round_up_bias * val else new_val + divisor


def _get_depths(alpha: float) -> list[int]:
    """Channel counts of the stem and the six stacks scaled by ``alpha`` (multiples of 8)."""
    return [_round_to_multiple_of(depth * alpha, 8) for depth in (32, 16, 24, 40, 80, 96, 192, 320)]


def _stem(in_channels: int, c0: int, c1: int) -> list[nn.Module]:
    """3×3 stride-2 conv to ``c0``, a depthwise-separable conv to ``c1`` (no skip)."""
    return [
        nn.Conv2d(in_channels, c0, 3, padding=1, stride=2, bias=False),
        nn.BatchNorm2d(c0, momentum=_BN_MOMENTUM),
        nn.ReLU(inplace=True),
        nn.Conv2d(c0, c0, 3, padding=1, stride=1, groups=c0, bias=False),
        nn.BatchNorm2d(c0, momentum=_BN_MOMENTUM),
        nn.ReLU(inplace=True),
        nn.Conv2d(c0, c1, 1, padding=0, stride=1, bias=False),
        nn.BatchNorm2d(c1, momentum=_BN_MOMENTUM),
    ]


class MNASNet(nn.Module):
    """MNASNet (the B1 variant) from `MnasNet: Platform-Aware Neural Architecture Search for
    Mobile <https://arxiv.org/abs/1807.11626>`_.

    Keys as torchvision: ``layers.0..7`` (stem), ``layers.8..13`` (stacks of inverted
    residuals, ``layers.{i}.{j}.layers.{k}``), ``layers.14/15`` (1×1 conv to 1280 and its
    BatchNorm), ``classifier.1`` (``Linear``). BatchNorm momentum is ``1 - 0.9997``.

    Args:
        alpha: depth multiplier (> 0) for every layer but the last conv (1280 channels).
        num_classes: size of the output.
        dropout: dropout probability before the classifier.
        in_channels: channels of the input image.

    Shape:
        Input ``(N, in_channels, H, W)``, any ``H, W ≥ 1`` (224 as trained); output
        ``(N, num_classes)``.

    A state dict saved with version-1 metadata (torchvision before 0.5, whose stem did not
    scale with ``alpha``) converts the stem on load; rustdl's own state dicts carry no
    metadata and load as the current version 2.
    """

    _version = 2

    def __init__(
        self, alpha: float, num_classes: int = 1000, dropout: float = 0.2, in_channels: int = 3
    ) -> None:
        super().__init__()
        if alpha <= 0.0:
            raise ValueError(f"alpha should be greater than 0.0 instead of {alpha}")
        self.alpha = alpha
        self.num_classes = num_classes
        self.in_channels = in_channels
        depths = _get_depths(alpha)
        layers = [
            *_stem(in_channels, depths[0], depths[1]),
            _stack(depths[1], depths[2], 3, 2, 3, 3, _BN_MOMENTUM),
            _stack(depths[2], depths[3], 5, 2, 3, 3, _BN_MOMENTUM),
            _stack(depths[3], depths[4], 5, 2, 6, 3, _BN_MOMENTUM),
            _stack(depths[4], depths[5], 3, 1, 6, 2, _BN_MOMENTUM),
            _stack(depths[5], depths[6], 5, 2, 6, 4, _BN_MOMENTUM),
            _stack(depths[6], depths[7], 3, 1, 6, 1, _BN_MOMENTUM),
            nn.Conv2d(depths[7], 1280, 1, padding=0, stride=1, bias=False),
            nn.BatchNorm2d(1280, momentum=_BN_MOMENTUM),
            nn.ReLU(inplace=True),
        ]
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(1280, num_classes))

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.kaiming_uniform_(m.weight, mode="fan_out", nonlinearity="sigmoid")
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layers(x)
        x = x.mean([2, 3])
        return self.classifier(x)

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        version = local_metadata.get("version", self._version)
        if version not in (1, 2):
            raise ValueError(f"version should be set to 1 or 2 instead of {version}")
        if version == 1 and self.alpha != 1.0:
            # version 1 had a fixed 32/16-channel stem; rebuild it so that the checkpoint fits
            depths = _get_depths(self.alpha)
            old = [*_stem(self.in_channels, 32, 16), _stack(16, depths[2], 3, 2, 3, 3, _BN_MOMENTUM)]
            for idx, layer in enumerate(old):
                self.layers[idx] = layer
            self._version = 1
            warnings.warn(
                f"MNASNet: the checkpoint has the version-1 layout (a 32/16-channel stem at every "
                f"alpha); the stem of this alpha={self.alpha} model was rebuilt to match it",
                UserWarning,
                stacklevel=2,
            )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


def _mnasnet(name: str, alpha: float, weights: Any, kwargs: dict[str, Any]) -> MNASNet:
    check_weights(name, weights, kwargs.pop("pretrained", False))
    return MNASNet(alpha, **kwargs)


def mnasnet0_5(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> MNASNet:
    """MNASNet with depth multiplier 0.5; keyword arguments go to :class:`MNASNet`.
    2,218,512 parameters for 1000 classes."""
    return _mnasnet("mnasnet0_5", 0.5, weights, kwargs)


def mnasnet0_75(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> MNASNet:
    """MNASNet with depth multiplier 0.75; 3,170,208 parameters for 1000 classes."""
    return _mnasnet("mnasnet0_75", 0.75, weights, kwargs)


def mnasnet1_0(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> MNASNet:
    """MNASNet with depth multiplier 1.0; 4,383,312 parameters for 1000 classes."""
    return _mnasnet("mnasnet1_0", 1.0, weights, kwargs)


def mnasnet1_3(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> MNASNet:
    """MNASNet with depth multiplier 1.3; 6,282,256 parameters for 1000 classes."""
    return _mnasnet("mnasnet1_3", 1.3, weights, kwargs)
