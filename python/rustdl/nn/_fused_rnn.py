"""One recurrent layer direction as a single fused op (forward and BPTT in Rust).

``rnn_layer`` runs RNN (tanh / relu), LSTM or GRU over a whole ``(L, N, H_in)`` sequence with
PyTorch's equations and gate order, recording one autograd node: the input projection of all
steps is one matrix product, only the recurrent product walks the steps.
"""

from __future__ import annotations

from collections.abc import Sequence

from rustdl import _rustdl
from rustdl._recompute import double_backward
from rustdl._rustdl import Tensor

_MODES = {"RNN_TANH", "RNN_RELU", "LSTM", "GRU"}


def rnn_layer(
    mode: str,
    x: Tensor,
    h0: Tensor | None,
    c0: Tensor | None,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    reverse: bool = False,
    lengths: Sequence[int] | Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """One layer direction: ``(output (L, N, H), h_n (N, H), c_n (N, H) or None)``.

    ``mode`` is ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or ``"GRU"``; ``reverse`` walks the
    sequence from its end; ``lengths`` (one per batch element, in ``1..L``, any order) stops each
    element's state at its own length (its later output rows are zero, and for ``reverse`` it
    starts at step ``length - 1``), as packed sequences need.
    """
    if mode.upper() not in _MODES:
        raise ValueError(f"rnn_layer: unknown mode {mode!r} (expected one of {sorted(_MODES)})")
    lens: list[int] | None
    if lengths is None:
        lens = None
    elif isinstance(lengths, Tensor):
        lens = [int(v) for v in lengths.tolist()]
    else:
        lens = [int(v) for v in lengths]
    mode = mode.upper()
    tensors = (x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    if not _rustdl.is_grad_enabled() or not any(t is not None and t.requires_grad for t in tensors):
        return _rustdl.rnn_layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, lens)
    return _recorded(mode, reverse, lens, tensors)


def _recorded(mode: str, reverse: bool, lens: list[int] | None, tensors: tuple) -> tuple:
    """The fused layer as one node of the graph, differentiable twice (step by step then; see
    :mod:`rustdl._recompute`)."""
    rule = double_backward(tensors, lambda *t: _composite(mode, *t, reverse, lens))
    return _rustdl.rnn_layer(mode, *tensors, reverse, lens, rule)


def _composite(mode, x, h, c, w_ih, w_hh, b_ih, b_hh, reverse, lens):
    """The layer from differentiable ops, one step at a time: ``(output, h_n, c_n or None)``."""
    from .modules.rnn import _layer_steps

    return _layer_steps(mode, x, h, c, w_ih, w_hh, b_ih, b_hh, reverse, lens)
