"""The Transformer family: ``TransformerEncoderLayer``, ``TransformerDecoderLayer``,
``TransformerEncoder``, ``TransformerDecoder`` and ``Transformer``, with PyTorch's names."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ... import _rustdl
from ..._rustdl import Tensor
from .. import functional as F
from .. import init
from .activation import GELU, MultiheadAttention, ReLU
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

__all__ = [
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
]


def _activation(activation: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise F._ArgumentConflictError(f"activation should be relu/gelu, not {activation}")
    if not callable(activation):
        raise TypeError(f"activation should be 'relu', 'gelu' or a callable, got {type(activation).__name__}")
    return activation


def _clones(module: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual connection and LayerNorm,
    as ``torch.nn.TransformerEncoderLayer``.

    ``norm_first=False`` (post-norm): ``x = norm1(x + SA(x)); x = norm2(x + FF(x))``;
    ``norm_first=True`` (pre-norm): ``x = x + SA(norm1(x)); x = x + FF(norm2(x))``, with
    ``SA = dropout1 ∘ self_attn`` and ``FF = dropout2 ∘ linear2 ∘ dropout ∘ activation ∘ linear1``.

    Args:
        d_model: feature size ``E``. nhead: attention heads.
        dim_feedforward: hidden size of the feed-forward block.
        dropout: dropout probability everywhere in the layer.
        activation: ``"relu"``, ``"gelu"`` or a callable (a Module becomes a submodule).
        layer_norm_eps: LayerNorm ``eps``. batch_first: ``(N, L, E)`` inputs.
        norm_first: pre-norm instead of post-norm. bias: biases in the linears and LayerNorms.

    Shape:
        src ``(L, N, E)`` (``(N, L, E)`` with ``batch_first``, or unbatched ``(L, E)``); same out.

    Example:
        >>> layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32)
        >>> layer(rustdl.randn(7, 2, 16)).shape
        (7, 2, 16)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.self_attn(
            x,
            x,
            x,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's ``memory``, then a feed-forward block, each
    with a residual connection and LayerNorm, as ``torch.nn.TransformerDecoderLayer``.

    ``norm_first=False``: ``x = norm1(x + SA(x)); x = norm2(x + MHA(x, memory)); x = norm3(x + FF(x))``;
    ``norm_first=True``: ``x = x + SA(norm1(x)); x = x + MHA(norm2(x), memory); x = x + FF(norm3(x))``.
    Arguments as :class:`TransformerEncoderLayer`.

    Shape:
        tgt ``(T, N, E)``, memory ``(S, N, E)`` (batch first with ``batch_first``); output as tgt.

    Example:
        >>> layer = nn.TransformerDecoderLayer(d_model=16, nhead=4, dim_feedforward=32)
        >>> layer(rustdl.randn(5, 2, 16), rustdl.randn(7, 2, 16)).shape
        (5, 2, 16)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, batch_first=batch_first, bias=bias, **kw
        )
        self.multihead_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, batch_first=batch_first, bias=bias, **kw
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(
                self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal
            )
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(
                x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            )
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.self_attn(
            x,
            x,
            x,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            is_causal=is_causal,
            need_weights=False,
        )[0]
        return self.dropout1(x)

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.multihead_attn(
            x,
            mem,
            mem,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            is_causal=is_causal,
            need_weights=False,
        )[0]
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` (``layers.0``, ``layers.1``, …) run in
    turn, then an optional final ``norm``, as ``torch.nn.TransformerEncoder``.

    Padded positions: where PyTorch would take its nested-tensor fast path — eval mode, no
    gradient wanted, ``enable_nested_tensor``, ``batch_first`` 3-d input with a
    ``src_key_padding_mask`` whose padding is at the end of each row (checked with
    ``mask_check``), no ``mask``, post-norm layers with an even number of heads, ReLU/GELU,
    biases and equal LayerNorm eps — the layers' outputs at padded positions are zeros (then the
    final ``norm`` applies), as there; otherwise they are computed as at every other position.
    The unpadded positions are the same either way.

    Example:
        >>> layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32)
        >>> enc = nn.TransformerEncoder(layer, num_layers=2)
        >>> enc(rustdl.randn(7, 2, 16)).shape
        (7, 2, 16)
    """

    def __init__(
        self,
        encoder_layer: Module,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check
        why_not = _why_not_nested(encoder_layer)
        if enable_nested_tensor and why_not:
            import warnings

            warnings.warn(
                f"enable_nested_tensor is True, but self.use_nested_tensor is False because {why_not}",
                stacklevel=2,
            )
        self.use_nested_tensor = enable_nested_tensor and not why_not

    def forward(
        self,
        src: Tensor,
        mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        output = src
        # is_causal is only a hint about ``mask`` (the mask is what gets applied); True without
        # a mask is passed on, and the attention reports the missing mask, as PyTorch
        causal = bool(is_causal)
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=causal, src_key_padding_mask=src_key_padding_mask)
        padded = self._fast_path_padding(src, mask, src_key_padding_mask)
        if padded is not None:
            output = output.masked_fill(padded.unsqueeze(-1), 0.0)
        if self.norm is not None:
            output = self.norm(output)
        return output

    def _fast_path_padding(self, src: Tensor, mask: Any, pad: Any) -> Tensor | None:
        """The ``(N, L)`` bool mask of padded positions when PyTorch's nested-tensor fast path
        would run (and so return zeros there), else None."""
        from ... import amp, backends

        if pad is None or mask is not None or not self.enable_nested_tensor or not self.layers:
            return None
        first = self.layers[0]
        attn = getattr(first, "self_attn", None)
        if (
            not isinstance(first, TransformerEncoderLayer)
            or first.training
            or first.norm_first
            or not attn.batch_first
            or not attn._qkv_same_embed_dim
            or attn.in_proj_bias is None
            or attn.num_heads % 2 == 1
            or first.norm1.eps != first.norm2.eps
            or not _relu_or_gelu(first.activation)
            or not backends.mha.get_fastpath_enabled()
            or src.dim() != 3
            or amp.is_autocast_enabled()
        ):
            return None
        if _rustdl.is_grad_enabled() and (
            src.requires_grad or any(p.requires_grad for p in self.parameters())
        ):
            return None
        padded = pad if pad.dtype == _rustdl.bool else pad != 0
        if tuple(padded.shape) != tuple(src.shape[:2]):
            return None
        if self.mask_check:
            # left-aligned: once a row is padded it stays padded (cummax of the padding flags)
            ints = padded.to(_rustdl.int64)
            if not bool((ints.cummax(1).values == ints).all()):
                return None
        return padded


def _why_not_nested(layer: Any) -> str:
    """Why PyTorch's TransformerEncoder would not use nested tensors with ``layer`` ("" if it
    would), in PyTorch's words and order."""
    name = "encoder_layer"
    if not isinstance(layer, TransformerEncoderLayer):
        return f"{name} was not TransformerEncoderLayer"
    attn = layer.self_attn
    if layer.norm_first:
        return f"{name}.norm_first was True"
    if not attn.batch_first:
        return f"{name}.self_attn.batch_first was not True(use batch_first for better inference performance)"
    if not attn._qkv_same_embed_dim:
        return f"{name}.self_attn._qkv_same_embed_dim was not True"
    if attn.in_proj_bias is None:
        return f"{name}.self_attn was passed bias=False"
    if not _relu_or_gelu(layer.activation):
        return f"{name}.activation_relu_or_gelu was not True"
    if layer.norm1.eps != layer.norm2.eps:
        return f"{name}.norm1.eps was not equal to {name}.norm2.eps"
    if attn.num_heads % 2 == 1:
        return f"{name}.self_attn.num_heads is odd"
    return ""


def _relu_or_gelu(activation: Any) -> bool:
    return activation in (F.relu, F.gelu) or isinstance(activation, (ReLU, GELU))


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` run in turn over ``(tgt, memory)``, then an
    optional final ``norm``, as ``torch.nn.TransformerDecoder``.

    Example:
        >>> layer = nn.TransformerDecoderLayer(d_model=16, nhead=4, dim_feedforward=32)
        >>> dec = nn.TransformerDecoder(layer, num_layers=2)
        >>> dec(rustdl.randn(5, 2, 16), rustdl.randn(7, 2, 16)).shape
        (5, 2, 16)
    """

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        output = tgt
        causal = bool(tgt_is_causal)
        for mod in self.layers:
            output = mod(
                output,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=causal,
                memory_is_causal=memory_is_causal,
            )
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """An encoder-decoder Transformer ("Attention Is All You Need"), as ``torch.nn.Transformer``:
    ``encoder`` (``num_encoder_layers`` layers and a final LayerNorm ``encoder.norm``) and
    ``decoder`` (likewise, ``decoder.norm``). Every parameter of more than one dim is then
    re-drawn Xavier-uniform, as PyTorch does.

    ``custom_encoder``/``custom_decoder`` replace the built ones.

    Shape:
        src ``(S, N, E)``, tgt ``(T, N, E)`` (batch first with ``batch_first``); output as tgt.

    Example:
        >>> model = nn.Transformer(d_model=16, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
        ...                        dim_feedforward=32)
        >>> tgt = rustdl.randn(5, 2, 16)
        >>> mask = nn.Transformer.generate_square_subsequent_mask(5)
        >>> model(rustdl.randn(7, 2, 16), tgt, tgt_mask=mask).shape
        (5, 2, 16)
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = F.relu,
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        layer_args = (
            d_model,
            nhead,
            dim_feedforward,
            dropout,
            activation,
            layer_norm_eps,
            batch_first,
            norm_first,
            bias,
        )
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            encoder_layer = TransformerEncoderLayer(*layer_args, **kw)
            encoder_norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
            self.encoder = TransformerEncoder(encoder_layer, num_encoder_layers, encoder_norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            decoder_layer = TransformerDecoderLayer(*layer_args, **kw)
            decoder_norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
            self.decoder = TransformerDecoder(decoder_layer, num_decoder_layers, decoder_norm)
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Tensor | None = None,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        batched = src.ndim == 3
        batch_dim = 0 if self.batch_first else 1
        if batched and (tgt.ndim != 3 or src.shape[batch_dim] != tgt.shape[batch_dim]):
            raise ValueError(
                f"Transformer: the batch number of src and tgt must be equal, got src {tuple(src.shape)} "
                f"and tgt {tuple(tgt.shape)}"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(
                f"Transformer: the feature number of src and tgt must be equal to d_model={self.d_model}, "
                f"got src {tuple(src.shape)} and tgt {tuple(tgt.shape)}"
            )
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """A float ``(sz, sz)`` causal mask: ``-inf`` above the diagonal, ``0`` on and below it."""
        full = _rustdl.full((sz, sz), float("-inf"), dtype=dtype or _rustdl.float32, device=device)
        return full.triu(1)

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)


# the module-level helpers of PyTorch's transformer module, which some model code imports
_get_activation_fn = _activation
_get_clones = _clones


def _generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
    """The causal mask of ``sz`` positions (``-inf`` above the diagonal, ``0`` elsewhere)."""
    return Transformer.generate_square_subsequent_mask(sz, device=device, dtype=dtype)
