"""``torch.nn.attention.flex_attention``: attention with a user score modifier and mask.

``score_mod(score, b, h, q_idx, kv_idx)`` rewrites each attention score and
``mask_mod(b, h, q_idx, kv_idx)`` says which (query, key) pairs may attend. PyTorch compiles them
into a blocked kernel; here they are evaluated once over broadcast index tensors — ``b`` of shape
``(B, 1, 1, 1)``, ``h`` ``(1, H, 1, 1)``, ``q_idx`` ``(1, 1, L, 1)``, ``kv_idx`` ``(1, 1, 1, S)``
— and the attention is computed densely (``O(L·S)`` memory per head), differentiable as any
other composition of tensor ops. Functions written with tensor ops (``torch.where``, comparisons,
arithmetic, indexing a tensor by the indices) work unchanged; Python ``if`` on an index does not,
as under PyTorch's ``vmap``. A query whose keys are all masked gets a zero output (and a
log-sum-exp of ``-inf``), as PyTorch's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ... import _rustdl
from ..._rustdl import Tensor

__all__ = [
    "BlockMask",
    "and_masks",
    "create_block_mask",
    "create_mask",
    "flex_attention",
    "noop_mask",
    "or_masks",
]

_score_mod_signature = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]
_mask_mod_signature = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]

_DEFAULT_SPARSE_BLOCK_SIZE = 128


def _indices(batch: int, heads: int, q_len: int, kv_len: int, device: Any) -> tuple[Tensor, ...]:
    b = _rustdl.arange(batch, device=device).view(batch, 1, 1, 1)
    h = _rustdl.arange(heads, device=device).view(1, heads, 1, 1)
    q = _rustdl.arange(q_len, device=device).view(1, 1, q_len, 1)
    kv = _rustdl.arange(kv_len, device=device).view(1, 1, 1, kv_len)
    return b, h, q, kv


def noop_mask(b: Tensor, h: Tensor, q_idx: Tensor, kv_idx: Tensor) -> Tensor:
    """Every query attends to every key."""
    return _rustdl.ones_like(q_idx * 0 + kv_idx * 0, dtype=_rustdl.bool)


def and_masks(*mask_mods: Callable) -> Callable:
    """A mask allowing a pair only where every one of ``mask_mods`` does."""
    if not all(callable(m) for m in mask_mods):
        raise RuntimeError("and_masks: all inputs should be callable")

    def combined(b: Tensor, h: Tensor, q_idx: Tensor, kv_idx: Tensor) -> Tensor:
        out = noop_mask(b, h, q_idx, kv_idx)
        for m in mask_mods:
            out = out & m(b, h, q_idx, kv_idx)
        return out

    return combined


def or_masks(*mask_mods: Callable) -> Callable:
    """A mask allowing a pair where any one of ``mask_mods`` does."""
    if not all(callable(m) for m in mask_mods):
        raise RuntimeError("or_masks: all inputs should be callable")

    def combined(b: Tensor, h: Tensor, q_idx: Tensor, kv_idx: Tensor) -> Tensor:
        out = ~noop_mask(b, h, q_idx, kv_idx)
        for m in mask_mods:
            out = out | m(b, h, q_idx, kv_idx)
        return out

    return combined


def _dense_mask(mask_mod: Callable, batch: int, heads: int, q_len: int, kv_len: int, device: Any) -> Tensor:
    b, h, q, kv = _indices(batch, heads, q_len, kv_len, device)
    out = mask_mod(b, h, q, kv)
    if not isinstance(out, Tensor):
        out = _rustdl.tensor(bool(out), device=device)
    if out.dtype != _rustdl.bool:
        raise RuntimeError(f"mask_mod must return a boolean tensor, got {out.dtype}")
    return out.expand(batch, heads, q_len, kv_len)


def create_mask(
    mod_fn: Callable, B: int | None, H: int | None, Q_LEN: int, KV_LEN: int, device: Any = "cpu"
) -> Tensor:
    """The dense boolean mask ``(B, H, Q_LEN, KV_LEN)`` of a ``mask_mod`` (``None`` for B or H
    means 1)."""
    return _dense_mask(mod_fn, B or 1, H or 1, Q_LEN, KV_LEN, _device_of(device)).contiguous()


def _device_of(device: Any) -> Any:
    try:
        return _rustdl.device(device) if isinstance(device, str) else device
    except (TypeError, ValueError):
        return None


class BlockMask:
    """Which (query, key) pairs may attend, as :func:`create_block_mask` builds it. PyTorch keeps
    only the blocks of ``BLOCK_SIZE`` that hold an allowed pair; here the mask is kept whole
    (:meth:`to_dense` still gives the block view)."""

    def __init__(self, mask: Tensor, mask_mod: Callable, block_size: tuple[int, int]) -> None:
        self._mask = mask
        self.mask_mod = mask_mod
        self.BLOCK_SIZE = block_size
        self.seq_lengths = (int(mask.shape[2]), int(mask.shape[3]))

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return tuple(int(n) for n in self._mask.shape)  # type: ignore[return-value]

    def to_dense(self) -> Tensor:
        """The block mask, ``(B, H, ⌈Q/bq⌉, ⌈KV/bkv⌉)`` int32: 1 where a block holds an allowed pair."""
        bq, bk = self.BLOCK_SIZE
        B, H, Q, K = self.shape
        nq, nk = -(-Q // bq), -(-K // bk)
        m = self._mask
        pad_q, pad_k = nq * bq - Q, nk * bk - K
        if pad_q or pad_k:
            m = _rustdl.cat([m, _rustdl.zeros(B, H, pad_q, K, dtype=_rustdl.bool, device=m.device)], 2)
            m = _rustdl.cat([m, _rustdl.zeros(B, H, nq * bq, pad_k, dtype=_rustdl.bool, device=m.device)], 3)
        blocks = m.reshape(B, H, nq, bq, nk, bk).any(5).any(3)
        return blocks.to(_rustdl.int32)

    def sparsity(self) -> float:
        """The percentage of blocks with no allowed pair."""
        dense = self.to_dense()
        return 100.0 * (1.0 - float(dense.sum()) / max(dense.numel(), 1))

    def __repr__(self) -> str:
        return f"BlockMask(shape={self.shape}, sparsity={self.sparsity():.2f}%, mask_mod={getattr(self.mask_mod, '__name__', self.mask_mod)})"


def create_block_mask(
    mask_mod: Callable,
    B: int | None,
    H: int | None,
    Q_LEN: int,
    KV_LEN: int,
    device: Any = "cuda",
    BLOCK_SIZE: int | tuple[int, int] = _DEFAULT_SPARSE_BLOCK_SIZE,
    _compile: bool = False,
) -> BlockMask:
    """The :class:`BlockMask` of ``mask_mod`` for ``B`` batches and ``H`` heads (``None``: shared
    by all) of ``Q_LEN`` queries and ``KV_LEN`` keys."""
    bs = (BLOCK_SIZE, BLOCK_SIZE) if isinstance(BLOCK_SIZE, int) else tuple(BLOCK_SIZE)
    mask = _dense_mask(mask_mod, B or 1, H or 1, Q_LEN, KV_LEN, _device_of(device)).contiguous()
    return BlockMask(mask, mask_mod, bs)  # type: ignore[arg-type]


def flex_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    score_mod: Callable | None = None,
    block_mask: BlockMask | None = None,
    scale: float | None = None,
    enable_gqa: bool = False,
    return_lse: bool = False,
    kernel_options: dict | None = None,
    *,
    return_aux: Any = None,
) -> Any:
    """``softmax(score_mod(q·kᵀ·scale) masked by block_mask) · v`` for ``(B, H, L, E)`` queries
    and ``(B, H_kv, S, E)`` keys / ``(B, H_kv, S, Ev)`` values; with ``return_lse`` also the
    log-sum-exp of each query's scores ``(B, H, L)``."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor) or t.ndim != 4:
            raise ValueError(
                f"flex_attention: {name} must be a 4-D tensor (B, H, L, E), got {getattr(t, 'shape', t)}"
            )
    B, Hq, L, E = query.shape
    Bk, Hkv, S, Ek = key.shape
    if Bk != B or value.shape[0] != B or value.shape[1] != Hkv or value.shape[2] != S or Ek != E:
        raise ValueError(
            f"flex_attention: query {tuple(query.shape)}, key {tuple(key.shape)} and value "
            f"{tuple(value.shape)} do not fit (B, H, L, E) / (B, H_kv, S, E) / (B, H_kv, S, Ev)"
        )
    if Hq != Hkv:
        if not enable_gqa or Hq % Hkv:
            raise ValueError(
                f"flex_attention: query has {Hq} heads and key/value {Hkv}; different head counts need "
                "enable_gqa=True with the query heads a multiple of the key/value heads"
            )
        key = key.repeat_interleave(Hq // Hkv, dim=1)
        value = value.repeat_interleave(Hq // Hkv, dim=1)
    if scale is None:
        scale = 1.0 / math.sqrt(E)
    if L == 0 or S == 0:  # no queries, or no keys to attend to: zeros (and a log-sum-exp of -inf)
        out = query.new_zeros(B, Hq, L, value.shape[-1]) + 0 * value.sum() + 0 * query.sum()
        lse = _rustdl.full((B, Hq, L), float("-inf"), dtype=query.dtype, device=query.device)
        return (out, lse) if return_lse else out
    scores = query.matmul(key.transpose(-2, -1)) * scale
    if score_mod is not None:
        b, h, q, kv = _indices(B, Hq, L, S, query.device)
        scores = score_mod(scores, b, h, q, kv)
        if tuple(scores.shape) != (B, Hq, L, S):
            scores = scores.expand(B, Hq, L, S)
    neg_inf = _rustdl.full((), float("-inf"), dtype=scores.dtype, device=scores.device)
    if block_mask is not None:
        mask = block_mask._mask
        if mask.shape[2] != L or mask.shape[3] != S:
            raise ValueError(
                f"flex_attention: the block mask is for {mask.shape[2]} queries and {mask.shape[3]} keys, "
                f"the inputs have {L} and {S}"
            )
        if mask.device != scores.device:
            mask = mask.to(scores.device)
        scores = _rustdl.where(mask.expand(B, Hq, L, S), scores, neg_inf)
    # softmax over the keys, shifted by each row's (constant) maximum; a query with every key
    # masked has no weights (a zero output) and a log-sum-exp of -inf, with no NaN in the gradient
    top = scores.detach().amax(-1, keepdim=True)
    top = _rustdl.where(top.isfinite(), top, _rustdl.zeros_like(top))
    e = (scores - top).exp()
    total = e.sum(-1, keepdim=True)
    weights = e / _rustdl.where(total > 0, total, _rustdl.ones_like(total))
    out = weights.to(value.dtype).matmul(value)
    if return_lse:
        return out, (total.log() + top).squeeze(-1)
    return out
