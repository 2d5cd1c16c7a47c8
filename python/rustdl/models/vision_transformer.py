"""Vision Transformer (Dosovitskiy et al., 2020), as torchvision builds it
(``torchvision.models.vision_transformer``): same modules, state-dict keys, shapes, forward and
initialisation, so torchvision's weights load by key.

An image is cut into ``patch_size``-square patches by a strided convolution (``conv_proj``), a
learned class token is put in front, learned position embeddings are added, and a stack of
pre-norm encoder blocks (multi-head self-attention, then a GELU MLP) runs over the sequence; the
class token's final state goes through ``heads``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial
from typing import Any, Callable, NamedTuple

import rustdl

from .. import nn
from .._rustdl import Tensor
from ._misc import MLP, Conv2dNormActivation, check_weights

__all__ = [
    "ConvStemConfig",
    "Encoder",
    "EncoderBlock",
    "MLPBlock",
    "VisionTransformer",
    "vit_b_16",
    "vit_b_32",
    "vit_h_14",
    "vit_l_16",
    "vit_l_32",
]


_default_norm: Callable[..., nn.Module] = partial(nn.LayerNorm, eps=1e-6)


def _check(condition: bool, message: str) -> None:
    # torchvision checks with torch._assert, which raises AssertionError (also under ``python -O``)
    # and is recorded when the model is traced
    rustdl._assert(condition, message)


class ConvStemConfig(NamedTuple):
    """One conv → norm → activation layer of an optional convolutional stem (Xiao et al., 2021)
    that replaces the single patchifying convolution."""

    out_channels: int
    kernel_size: int
    stride: int
    norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d
    activation_layer: Callable[..., nn.Module] = nn.ReLU


class MLPBlock(MLP):
    """The encoder block's feed-forward part: ``Linear(in_dim, mlp_dim)`` → GELU → Dropout →
    ``Linear(mlp_dim, in_dim)`` → Dropout (keys ``0`` and ``3``). Weights start Xavier-uniform,
    biases N(0, 1e-6²). Checkpoints with the old ``linear_1`` / ``linear_2`` keys load too."""

    _version = 2

    def __init__(self, in_dim: int, mlp_dim: int, dropout: float) -> None:
        super().__init__(in_dim, [mlp_dim, in_dim], activation_layer=nn.GELU, inplace=None, dropout=dropout)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)

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
        version = local_metadata.get("version")
        if version is None or version < 2:
            for i, index in ((1, 0), (2, 3)):
                for name in ("weight", "bias"):
                    old = f"{prefix}linear_{i}.{name}"
                    if old in state_dict:
                        state_dict[f"{prefix}{index}.{name}"] = state_dict.pop(old)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


class EncoderBlock(nn.Module):
    """Pre-norm transformer encoder block: ``x + Dropout(SelfAttention(ln_1(x)))``, then
    ``y + mlp(ln_2(y))``. Keys ``ln_1``, ``self_attention`` (a batch-first
    :class:`~rustdl.nn.MultiheadAttention`: ``in_proj_weight``, ``in_proj_bias``, ``out_proj``),
    ``ln_2``, ``mlp``.

    Shape:
        Input and output ``(N, L, hidden_dim)``.
    """

    def __init__(
        self,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float,
        attention_dropout: float,
        norm_layer: Callable[..., nn.Module] = _default_norm,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = norm_layer(hidden_dim)
        self.self_attention = nn.MultiheadAttention(
            hidden_dim, num_heads, dropout=attention_dropout, batch_first=True
        )
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = norm_layer(hidden_dim)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        _check(input.dim() == 3, f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")
        h = self.ln_1(input)
        h, _ = self.self_attention(h, h, h, need_weights=False)
        x = self.dropout(h) + input
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Adds the learned position embedding ``pos_embedding`` ``(1, seq_length, hidden_dim)``
    (initialised N(0, 0.02²)), applies dropout, ``num_layers`` :class:`EncoderBlock` s (keys
    ``layers.encoder_layer_{i}``) and a final norm ``ln``.

    Shape:
        Input and output ``(N, seq_length, hidden_dim)``.
    """

    def __init__(
        self,
        seq_length: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float,
        attention_dropout: float,
        norm_layer: Callable[..., nn.Module] = _default_norm,
    ) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(rustdl.empty(1, seq_length, hidden_dim))
        nn.init.normal_(self.pos_embedding, std=0.02)
        self.dropout = nn.Dropout(dropout)
        blocks: OrderedDict[str, nn.Module] = OrderedDict(
            (
                f"encoder_layer_{i}",
                EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout, attention_dropout, norm_layer),
            )
            for i in range(num_layers)
        )
        self.layers = nn.Sequential(blocks)
        self.ln = norm_layer(hidden_dim)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        _check(input.dim() == 3, f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")
        return self.ln(self.layers(self.dropout(input + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """Vision Transformer from `An Image is Worth 16x16 Words
    <https://arxiv.org/abs/2010.11929>`_, with torchvision's keys: ``class_token``,
    ``conv_proj`` (a ``patch_size`` × ``patch_size`` conv of stride ``patch_size``, or with
    ``conv_stem_configs`` a ``Sequential`` of ``conv_bn_relu_{i}`` blocks and a 1×1
    ``conv_last``), ``encoder`` (:class:`Encoder`) and ``heads`` (``head``, preceded by
    ``pre_logits`` and a Tanh ``act`` when ``representation_size`` is given).

    Initialisation as torchvision: ``conv_proj`` truncated normal with std ``√(1/fan_in)`` and a
    zero bias (a conv stem's ``conv_last``: N(0, 2/out_channels)), zero class token, ``pre_logits``
    truncated normal, and a zero ``head``.

    Args:
        image_size: side of the (square) input image; a multiple of ``patch_size``.
        patch_size: side of a square patch.
        num_layers, num_heads, hidden_dim, mlp_dim: encoder depth, attention heads, token width
            and MLP width.
        dropout: dropout after the embedding, the attention and in the MLPs.
        attention_dropout: dropout on the attention weights.
        num_classes: size of the output.
        representation_size: width of an extra Tanh layer before the head (``None``: none).
        norm_layer: normalisation factory (``LayerNorm`` with eps 1e-6).
        conv_stem_configs: a list of :class:`ConvStemConfig` for a convolutional stem.

    Shape:
        Input ``(N, 3, image_size, image_size)``; output ``(N, num_classes)``.
    """

    def __init__(
        self,
        image_size: int,
        patch_size: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        num_classes: int = 1000,
        representation_size: int | None = None,
        norm_layer: Callable[..., nn.Module] = _default_norm,
        conv_stem_configs: list[ConvStemConfig] | None = None,
    ) -> None:
        super().__init__()
        _check(image_size % patch_size == 0, "Input shape indivisible by patch size!")
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.mlp_dim = mlp_dim
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.num_classes = num_classes
        self.representation_size = representation_size
        self.norm_layer = norm_layer

        self.conv_proj: nn.Module
        if conv_stem_configs is not None:
            stem = nn.Sequential()
            channels = 3
            for i, cfg in enumerate(conv_stem_configs):
                stem.add_module(
                    f"conv_bn_relu_{i}",
                    Conv2dNormActivation(
                        channels,
                        cfg.out_channels,
                        kernel_size=cfg.kernel_size,
                        stride=cfg.stride,
                        norm_layer=cfg.norm_layer,
                        activation_layer=cfg.activation_layer,
                    ),
                )
                channels = cfg.out_channels
            stem.add_module("conv_last", nn.Conv2d(channels, hidden_dim, kernel_size=1))
            self.conv_proj = stem
        else:
            self.conv_proj = nn.Conv2d(3, hidden_dim, kernel_size=patch_size, stride=patch_size)

        seq_length = (image_size // patch_size) ** 2 + 1  # the patches and the class token
        self.class_token = nn.Parameter(rustdl.zeros(1, 1, hidden_dim))
        self.encoder = Encoder(
            seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout, norm_layer
        )
        self.seq_length = seq_length

        heads: OrderedDict[str, nn.Module] = OrderedDict()
        if representation_size is None:
            heads["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads["act"] = nn.Tanh()
            heads["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads)

        if isinstance(self.conv_proj, nn.Conv2d):
            kh, kw = self.conv_proj.kernel_size
            fan_in = self.conv_proj.in_channels * kh * kw
            nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1.0 / fan_in))
            if self.conv_proj.bias is not None:
                nn.init.zeros_(self.conv_proj.bias)
        else:
            last = self.conv_proj.conv_last
            nn.init.normal_(last.weight, mean=0.0, std=math.sqrt(2.0 / last.out_channels))
            if last.bias is not None:
                nn.init.zeros_(last.bias)
        if representation_size is not None:
            pre = self.heads.pre_logits
            nn.init.trunc_normal_(pre.weight, std=math.sqrt(1.0 / pre.in_features))
            nn.init.zeros_(pre.bias)
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x: Tensor) -> Tensor:
        """``(N, 3, H, W)`` images → ``(N, (H/p)·(W/p), hidden_dim)`` patch tokens."""
        n, _, h, w = x.shape
        p = self.patch_size
        _check(h == self.image_size, f"Wrong image height! Expected {self.image_size} but got {h}!")
        _check(w == self.image_size, f"Wrong image width! Expected {self.image_size} but got {w}!")
        x = self.conv_proj(x)
        x = x.reshape(n, self.hidden_dim, (h // p) * (w // p))
        return x.permute(0, 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self._process_input(x)
        tokens = self.class_token.expand(x.shape[0], -1, -1)
        x = self.encoder(rustdl.cat([tokens, x], dim=1))
        return self.heads(x[:, 0])


def _vision_transformer(
    name: str,
    patch_size: int,
    num_layers: int,
    num_heads: int,
    hidden_dim: int,
    mlp_dim: int,
    weights: Any,
    kwargs: dict[str, Any],
) -> VisionTransformer:
    check_weights(name, weights, kwargs.pop("pretrained", False))
    image_size = kwargs.pop("image_size", 224)
    return VisionTransformer(
        image_size=image_size,
        patch_size=patch_size,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        mlp_dim=mlp_dim,
        **kwargs,
    )


def vit_b_16(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VisionTransformer:
    """ViT-B/16: patch 16, 12 layers, 12 heads, width 768, MLP 3072; other keyword arguments
    (``image_size``, default 224, ``num_classes``, ...) go to :class:`VisionTransformer`.
    86,567,656 parameters for 1000 classes at 224×224."""
    return _vision_transformer("vit_b_16", 16, 12, 12, 768, 3072, weights, kwargs)


def vit_b_32(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VisionTransformer:
    """ViT-B/32: patch 32, 12 layers, 12 heads, width 768, MLP 3072; 88,224,232 parameters for
    1000 classes at 224×224."""
    return _vision_transformer("vit_b_32", 32, 12, 12, 768, 3072, weights, kwargs)


def vit_l_16(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VisionTransformer:
    """ViT-L/16: patch 16, 24 layers, 16 heads, width 1024, MLP 4096; 304,326,632 parameters
    for 1000 classes at 224×224."""
    return _vision_transformer("vit_l_16", 16, 24, 16, 1024, 4096, weights, kwargs)


def vit_l_32(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VisionTransformer:
    """ViT-L/32: patch 32, 24 layers, 16 heads, width 1024, MLP 4096; 306,535,400 parameters
    for 1000 classes at 224×224."""
    return _vision_transformer("vit_l_32", 32, 24, 16, 1024, 4096, weights, kwargs)


def vit_h_14(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VisionTransformer:
    """ViT-H/14: patch 14, 32 layers, 16 heads, width 1280, MLP 5120; 632,045,800 parameters
    for 1000 classes at 224×224."""
    return _vision_transformer("vit_h_14", 14, 32, 16, 1280, 5120, weights, kwargs)
