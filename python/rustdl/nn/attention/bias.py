"""``torch.nn.attention.bias``: causal masks for queries and keys of different lengths.

:func:`causal_upper_left` lets query ``i`` see keys ``0..=i`` (the diagonal starts at the top
left); :func:`causal_lower_right` aligns the last query with the last key (query ``i`` sees keys
``0..=i + (kv - q)``), as a decoder's new tokens see the whole cache. Each returns the boolean
mask (True where attention is allowed) that ``scaled_dot_product_attention`` takes as
``attn_mask``; PyTorch returns a lazily materialised tensor subclass with the same meaning."""

from __future__ import annotations

import enum

import rustdl

__all__ = ["CausalVariant", "causal_lower_right", "causal_upper_left"]


class CausalVariant(enum.IntEnum):
    """Where the causal diagonal starts."""

    UPPER_LEFT = 1
    LOWER_RIGHT = 2


def _sizes(size: tuple) -> tuple[int, int]:
    if len(size) != 2 or not all(isinstance(n, int) and n >= 0 for n in size):
        raise ValueError(f"causal mask: expected two non-negative ints (seq_len_q, seq_len_kv), got {size}")
    return size[0], size[1]


def _mask(q: int, kv: int, diagonal: int, device: object = None) -> rustdl.Tensor:
    return rustdl.ones(q, kv, dtype=rustdl.bool, device=device).tril(diagonal)


def causal_upper_left(*size: int) -> rustdl.Tensor:
    """The ``(seq_len_q, seq_len_kv)`` causal mask aligned at the top left."""
    q, kv = _sizes(size)
    return _mask(q, kv, 0)


def causal_lower_right(*size: int) -> rustdl.Tensor:
    """The ``(seq_len_q, seq_len_kv)`` causal mask aligned at the bottom right."""
    q, kv = _sizes(size)
    return _mask(q, kv, kv - q)
