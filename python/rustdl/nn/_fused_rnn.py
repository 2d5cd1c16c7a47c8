"""One recurrent layer direction as a single fused op (forward and BPTT in Rust).

``rnn_layer`` runs RNN (tanh / relu), LSTM or GRU over a whole ``(L, N, H_in)`` sequence with
PyTorch's equations and gate order, recording one autograd node: the input projection of all
steps is one matrix product, only the recurrent product walks the steps.
"""

from __future__ import annotations

from collections.abc import Sequence

from rustdl import _rustdl
from rustdl._rustdl import Tensor
from rustdl.autograd import enable_grad, grad

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


_NAMES = {"RNN_TANH": "RnnLayer", "RNN_RELU": "RnnLayer", "LSTM": "LstmLayer", "GRU": "GruLayer"}


def _recorded(mode: str, reverse: bool, lens: list[int] | None, tensors: tuple) -> tuple:
    """The fused layer as one node of the graph. Its backward is the fused kernel's own (run on an
    inner graph over detached copies of the inputs); a backward with ``create_graph`` (gradient
    penalties, second-order meta-learning) instead recomputes the layer step by step from
    differentiable ops and differentiates that, so the gradient can be differentiated again, as
    PyTorch's; so does a second backward through a retained graph (the inner one is spent)."""
    inner = tuple(None if t is None else t.detach().requires_grad_(t.requires_grad) for t in tensors)
    outs = _rustdl.rnn_layer(mode, *inner, reverse, lens)
    present = [k for k, t in enumerate(tensors) if t is not None]
    state = {"spent": False}

    def backward(*grads):
        create_graph = _rustdl.is_grad_enabled()
        if create_graph or state["spent"]:
            inputs = list(tensors)
            with enable_grad():
                produced = _composite(mode, *inputs, reverse, lens)
            keep = {"create_graph": create_graph}
        else:
            state["spent"] = True
            inputs, produced, keep = list(inner), outs, {}
        pairs = [(o, g) for o, g in zip(produced, grads) if o is not None and g is not None]
        wanted = [k for k in present if inputs[k].requires_grad]
        result: list = [None] * len(tensors)
        if pairs and wanted:
            got = grad(
                [o for o, _ in pairs],
                [inputs[k] for k in wanted],
                [g for _, g in pairs],
                allow_unused=True,
                **keep,
            )
            for k, g in zip(wanted, got):
                result[k] = g
        return tuple(result[k] for k in present)

    fresh = [o.detach() for o in outs if o is not None]
    _rustdl._attach_function(
        _NAMES[mode],
        fresh,
        [tensors[k] for k in present],
        [],
        backward,
        True,
        [],
        [False] * len(fresh),
    )
    return fresh[0], fresh[1], (fresh[2] if len(fresh) == 3 else None)


def _composite(mode, x, h, c, w_ih, w_hh, b_ih, b_hh, reverse, lens):
    """The layer from differentiable ops, one step at a time (PyTorch's equations and gate
    order, as the fused kernel): ``(output, h_n, c_n or None)``."""
    from . import functional as F
    from .modules.rnn import _cell

    steps = x.shape[0]
    gx = F.linear(x, w_ih, b_ih)
    mask = None
    if lens is not None:
        t_idx = _rustdl.arange(steps, device=x.device).unsqueeze(1)
        mask = (t_idx < _rustdl.tensor(lens, device=x.device).unsqueeze(0)).unsqueeze(-1)  # (T, N, 1)
    outs: list = [h] * steps
    for t in range(steps - 1, -1, -1) if reverse else range(steps):
        hn, cn = _cell(mode, gx[t], h, c, w_hh, b_hh)
        if mask is None:
            h, c = hn, cn
            outs[t] = hn
        else:
            m = mask[t]
            h = _rustdl.where(m, hn, h)
            c = _rustdl.where(m, cn, c) if c is not None else None
            outs[t] = hn * m
    return _rustdl.stack(outs, 0), h, c
