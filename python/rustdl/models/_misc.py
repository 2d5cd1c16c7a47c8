"""Building blocks shared by the model zoo, with torchvision's ``torchvision.ops.misc`` /
``torchvision.ops.stochastic_depth`` names, arguments and state-dict layouts.

- :class:`ConvNormActivation` / :class:`Conv2dNormActivation` / :class:`Conv3dNormActivation`:
  a ``Sequential`` of conv (keys ``0``), norm (``1``) and activation.
- :class:`SqueezeExcitation`: global pool → ``fc1`` → activation → ``fc2`` → scale activation.
- :class:`MLP`: ``Linear`` / norm / activation / ``Dropout`` per hidden layer.
- :class:`Permute`, :class:`FrozenBatchNorm2d`, :func:`stochastic_depth` /
  :class:`StochasticDepth`.
- :func:`make_divisible` (torchvision's ``_make_divisible``) and :func:`check_weights`, which
  every constructor calls: pretrained weights cannot be downloaded here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import rustdl

from .. import nn
from .._rustdl import Tensor

__all__ = [
    "MLP",
    "Conv2dNormActivation",
    "Conv3dNormActivation",
    "ConvNormActivation",
    "FrozenBatchNorm2d",
    "Permute",
    "SqueezeExcitation",
    "StochasticDepth",
    "check_weights",
    "make_divisible",
    "stochastic_depth",
]


def check_weights(name: str, weights: Any = None, pretrained: bool = False) -> None:
    """Refuses pretrained weights (nothing is downloaded); ``None`` / ``False`` pass."""
    if weights is not None or pretrained:
        raise NotImplementedError(
            f"{name}: pretrained weights cannot be downloaded; build the model with weights=None "
            f"and load a saved state dict with model.load_state_dict(rustdl.load(path))"
        )


def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """``v`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``, default
    ``divisor``), never more than 10 % below ``v`` — the channel rule of MobileNet and
    EfficientNet."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvNormActivation(nn.Sequential):
    """Convolution, then an optional normalisation and an optional activation, as one
    ``Sequential`` (keys ``0``, ``1``, ``2``; an absent norm or activation takes no key).

    ``padding=None`` keeps the size at stride 1: ``(kernel_size - 1) // 2 * dilation`` per dim.
    ``bias=None`` means a bias only when there is no norm layer. ``inplace`` goes to the
    activation (``None``: the activation's default).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...] = 3,
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str | None = None,
        groups: int = 1,
        norm_layer: Callable[..., nn.Module] | None = nn.BatchNorm2d,
        activation_layer: Callable[..., nn.Module] | None = nn.ReLU,
        dilation: int | tuple[int, ...] = 1,
        inplace: bool | None = True,
        bias: bool | None = None,
        conv_layer: Callable[..., nn.Module] = nn.Conv2d,
    ) -> None:
        if padding is None:
            if isinstance(kernel_size, int) and isinstance(dilation, int):
                padding = (kernel_size - 1) // 2 * dilation
            else:
                dims = len(kernel_size) if isinstance(kernel_size, Sequence) else len(dilation)  # type: ignore[arg-type]
                ks = kernel_size if isinstance(kernel_size, Sequence) else (kernel_size,) * dims
                dl = dilation if isinstance(dilation, Sequence) else (dilation,) * dims
                padding = tuple((k - 1) // 2 * d for k, d in zip(ks, dl))
        if bias is None:
            bias = norm_layer is None
        layers: list[nn.Module] = [
            conv_layer(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
                dilation=dilation,
                groups=groups,
                bias=bias,
            )
        ]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            params = {} if inplace is None else {"inplace": inplace}
            layers.append(activation_layer(**params))
        super().__init__(*layers)
        self.out_channels = out_channels


class Conv2dNormActivation(ConvNormActivation):
    """:class:`ConvNormActivation` with ``nn.Conv2d`` (norm ``nn.BatchNorm2d``, activation ReLU)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str | None = None,
        groups: int = 1,
        norm_layer: Callable[..., nn.Module] | None = nn.BatchNorm2d,
        activation_layer: Callable[..., nn.Module] | None = nn.ReLU,
        dilation: int | tuple[int, int] = 1,
        inplace: bool | None = True,
        bias: bool | None = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            groups,
            norm_layer,
            activation_layer,
            dilation,
            inplace,
            bias,
            nn.Conv2d,
        )


class Conv3dNormActivation(ConvNormActivation):
    """:class:`ConvNormActivation` with ``nn.Conv3d`` (norm ``nn.BatchNorm3d``, activation ReLU)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int, int] = 3,
        stride: int | tuple[int, int, int] = 1,
        padding: int | tuple[int, int, int] | str | None = None,
        groups: int = 1,
        norm_layer: Callable[..., nn.Module] | None = nn.BatchNorm3d,
        activation_layer: Callable[..., nn.Module] | None = nn.ReLU,
        dilation: int | tuple[int, int, int] = 1,
        inplace: bool | None = True,
        bias: bool | None = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            groups,
            norm_layer,
            activation_layer,
            dilation,
            inplace,
            bias,
            nn.Conv3d,
        )


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2018): global average pool → ``fc1`` (1×1 conv,
    ``input_channels → squeeze_channels``) → ``activation`` → ``fc2`` (1×1 conv back) →
    ``scale_activation``, which scales the input channel-wise.
    Keys: ``fc1.weight``, ``fc1.bias``, ``fc2.weight``, ``fc2.bias``.

    Shape:
        Input ``(N, C, H, W)``; output the same.
    """

    def __init__(
        self,
        input_channels: int,
        squeeze_channels: int,
        activation: Callable[..., nn.Module] = nn.ReLU,
        scale_activation: Callable[..., nn.Module] = nn.Sigmoid,
    ) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, x: Tensor) -> Tensor:
        scale = self.avgpool(x)
        scale = self.fc1(scale)
        scale = self.activation(scale)
        scale = self.fc2(scale)
        return self.scale_activation(scale)

    def forward(self, x: Tensor) -> Tensor:
        return self._scale(x) * x


class MLP(nn.Sequential):
    """A multi-layer perceptron: for each hidden size but the last, ``Linear`` → optional norm
    → activation → ``Dropout``; then the last ``Linear`` and a ``Dropout``. Keys count up from
    ``0`` through those layers, as torchvision's ``MLP``.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: list[int],
        norm_layer: Callable[..., nn.Module] | None = None,
        activation_layer: Callable[..., nn.Module] | None = nn.ReLU,
        inplace: bool | None = None,
        bias: bool = True,
        dropout: float = 0.0,
    ) -> None:
        if len(hidden_channels) == 0:
            raise ValueError("MLP: hidden_channels must name at least one layer")
        params = {} if inplace is None else {"inplace": inplace}
        layers: list[nn.Module] = []
        in_dim = in_channels
        for hidden_dim in hidden_channels[:-1]:
            layers.append(nn.Linear(in_dim, hidden_dim, bias=bias))
            if norm_layer is not None:
                layers.append(norm_layer(hidden_dim))
            if activation_layer is not None:
                layers.append(activation_layer(**params))
            layers.append(nn.Dropout(dropout, **params))
            in_dim = hidden_dim
        layers.append(nn.Linear(in_dim, hidden_channels[-1], bias=bias))
        layers.append(nn.Dropout(dropout, **params))
        super().__init__(*layers)


class Permute(nn.Module):
    """``x.permute(*dims)`` as a module."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = list(dims)

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(*self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed statistics and affine parameters, all four held as buffers
    (``weight``, ``bias``, ``running_mean``, ``running_var``): ``y = (x - mean) / sqrt(var + eps)
    * weight + bias`` in training and evaluation alike. A ``num_batches_tracked`` entry in a
    loaded state dict (a BatchNorm2d checkpoint) is dropped."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.num_features = num_features
        self.register_buffer("weight", rustdl.ones(num_features))
        self.register_buffer("bias", rustdl.zeros(num_features))
        self.register_buffer("running_mean", rustdl.zeros(num_features))
        self.register_buffer("running_var", rustdl.ones(num_features))

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
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


def stochastic_depth(input: Tensor, p: float, mode: str, training: bool = True) -> Tensor:  # noqa: A002
    """Drops whole residual branches (Huang et al., 2016): in training, zeroes ``input`` per
    sample (``mode="row"``) or entirely (``mode="batch"``) with probability ``p`` and scales
    what survives by ``1/(1-p)``; the identity in evaluation or when ``p == 0``."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ("batch", "row"):
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input
    survival = 1.0 - p
    shape = [input.shape[0]] + [1] * (input.ndim - 1) if mode == "row" else [1] * input.ndim
    # bernoulli_ on an empty tensor of input's dtype, as torchvision draws it (the same stream)
    noise = rustdl.empty(*shape, dtype=input.dtype, device=input.device).bernoulli_(survival)
    if survival > 0.0:
        noise = noise.div_(survival)
    return input * noise


class StochasticDepth(nn.Module):
    """:func:`stochastic_depth` as a module (active in training mode)."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return stochastic_depth(input, self.p, self.mode, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"
