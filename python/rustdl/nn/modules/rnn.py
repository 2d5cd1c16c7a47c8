"""Recurrent layers, as ``torch.nn``: ``RNNCell``, ``LSTMCell``, ``GRUCell``, ``RNN``, ``LSTM``, ``GRU``.

Written with rustdl tensor ops (so autograd is the core's): the input projection of a whole
sequence is one matmul per layer and direction; the recurrence is one ``h @ W_hhᵀ`` per step.
Parameter names, shapes, gate order (LSTM ``i f g o``, GRU ``r z n``) and the default
initialisation ``U(-1/√H, 1/√H)`` follow PyTorch, so state dicts carry over.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from ... import (
    _VF,  # noqa: F401  (torch.nn.modules.rnn._VF, which custom RNN code imports)
    _rustdl,
)
from ..._rustdl import Tensor
from .. import functional as F
from .. import init
from .._fused_rnn import rnn_layer
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
from .module import Module

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell", "RNNCellBase"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _cell(
    mode: str, gx: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor, b_hh: Tensor | None
) -> tuple[Tensor, Tensor | None]:
    """One step: ``gx`` is the input projection ``x W_ihᵀ + b_ih`` of this step."""
    gh = h.matmul(w_hh.t())
    if b_hh is not None:
        gh = gh + b_hh
    if mode == "LSTM":
        i, f, g, o = (gx + gh).chunk(4, -1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        return o.sigmoid() * c.tanh(), c
    if mode == "GRU":
        xr, xz, xn = gx.chunk(3, -1)
        hr, hz, hn = gh.chunk(3, -1)
        r = (xr + hr).sigmoid()
        z = (xz + hz).sigmoid()
        n = (xn + r * hn).tanh()
        return n + z * (h - n), None
    pre = gx + gh
    return (pre.tanh() if mode == "RNN_TANH" else pre.relu()), None


def _lstm_proj_layer(
    x: Tensor,
    h: Tensor,
    c: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    w_hr: Tensor,
    reverse: bool,
    lengths: list[int] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One layer and direction of a projected LSTM over ``x`` of shape ``(T, N, H_in)``."""
    return _layer_steps("LSTM", x, h, c, w_ih, w_hh, b_ih, b_hh, reverse, lengths, w_hr)


def _layer_steps(
    mode: str,
    x: Tensor,
    h: Tensor,
    c: Tensor | None,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    reverse: bool,
    lengths: list[int] | None = None,
    w_hr: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """One layer and direction over ``x`` of shape ``(T, N, H_in)`` from differentiable ops, one
    step at a time (PyTorch's equations and gate order, as the fused kernel); ``w_hr`` projects
    an LSTM's hidden state.

    With ``lengths`` (padded packed input, sorted) a sequence's state only advances on its own
    steps and its output past its end is zero, so the reverse walk starts at each one's last step.
    """
    steps = x.shape[0]
    gx = F.linear(x, w_ih, b_ih)
    mask = None
    if lengths is not None:
        t_idx = _rustdl.arange(steps, device=x.device).unsqueeze(1)
        mask = (t_idx < _rustdl.tensor(lengths, device=x.device).unsqueeze(0)).unsqueeze(-1)  # (T, N, 1)
    outs: list[Tensor] = [h] * steps
    for t in range(steps - 1, -1, -1) if reverse else range(steps):
        hn, cn = _cell(mode, gx[t], h, c, w_hh, b_hh)
        if w_hr is not None:
            hn = hn.matmul(w_hr.t())
        if mask is None:
            h, c = hn, cn
            outs[t] = hn
        else:
            m = mask[t]
            h = _rustdl.where(m, hn, h)
            c = _rustdl.where(m, cn, c) if c is not None else None
            outs[t] = hn * m
    return _rustdl.stack(outs, 0), h, c


class RNNCellBase(Module):
    """Base of ``RNNCell``, ``LSTMCell`` and ``GRUCell``, as PyTorch's: ``weight_ih`` of shape
    ``(num_chunks * hidden_size, input_size)``, ``weight_hh`` of ``(num_chunks * hidden_size,
    hidden_size)`` and the two biases, drawn from ``U(-1/√hidden_size, 1/√hidden_size)``. A custom
    cell subclasses it with its own ``num_chunks`` (gates) and ``forward``."""

    mode = "RNN_TANH"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        num_chunks: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        g = (_GATES[self.mode] if num_chunks is None else num_chunks) * hidden_size
        kw = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(_rustdl.empty(g, input_size, **kw))
        self.weight_hh = Parameter(_rustdl.empty(g, hidden_size, **kw))
        self.bias_ih = Parameter(_rustdl.empty(g, **kw)) if bias else None
        self.bias_hh = Parameter(_rustdl.empty(g, **kw)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draws every weight and bias from ``U(-1/√hidden_size, 1/√hidden_size)``."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _check(self, input: Tensor, states: tuple) -> None:
        """PyTorch's checks of a cell's input and states (each ``(N, H)``, or ``(H,)`` unbatched)."""
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise _rustdl.ArgumentError(
                f"{name}: input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size}"
            )
        for k, s in enumerate(states):
            if s is None:
                continue
            label = f"hidden{k}"
            if s.ndim != input.ndim:
                want = "(batch x hidden_size)" if input.ndim == 2 else "(hidden_size)"
                raise _rustdl.ArgumentError(
                    f"{name}: Expected {input.ndim}D {label} {want}, but got a {s.ndim}D tensor"
                )
            if input.ndim == 2 and s.shape[0] != input.shape[0]:
                raise _rustdl.ArgumentError(
                    f"{name}: Input batch size {input.shape[0]} doesn't match {label} batch size {s.shape[0]}"
                )
            if s.shape[-1] != self.hidden_size:
                raise _rustdl.ArgumentError(
                    f"{name}: {label} has inconsistent hidden_size: got {s.shape[-1]}, expected {self.hidden_size}"
                )

    def _step(self, input: Tensor, hx: Tensor | None, cx: Tensor | None) -> tuple[Tensor, Tensor | None]:
        self._check(input, (hx, cx))
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
            hx = hx.unsqueeze(0) if hx is not None else None
            cx = cx.unsqueeze(0) if cx is not None else None
        if hx is None:
            hx = _rustdl.zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)
        if cx is None and self.mode == "LSTM":
            cx = _rustdl.zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)
        gx = F.linear(input, self.weight_ih, self.bias_ih)
        h, c = _cell(self.mode, gx, hx, cx, self.weight_hh, self.bias_hh)
        if not batched:
            h = h.squeeze(0)
            c = c.squeeze(0) if c is not None else None
        return h, c

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        return s + ("" if nonlinearity == "tanh" else f", nonlinearity={nonlinearity}")


class RNNCell(RNNCellBase):
    """Elman cell: ``h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)`` (or ReLU)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity '{nonlinearity}' (tanh or relu)")
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, None)[0]


class LSTMCell(RNNCellBase):
    """LSTM cell; ``forward(x, (h, c))`` returns ``(h', c')``."""

    mode = "LSTM"

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError(f"LSTMCell: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
        h, c = (None, None) if hx is None else hx
        h2, c2 = self._step(input, h, c)
        return h2, c2


class GRUCell(RNNCellBase):
    """GRU cell; ``forward(x, h)`` returns ``h'``."""

    mode = "GRU"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, None)[0]


class _RNNBase(Module):
    """Shared body of ``RNN``, ``LSTM`` and ``GRU``.

    Shape:
        input: ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``), unbatched ``(L, H_in)``,
            or a :class:`~rustdl.nn.utils.rnn.PackedSequence`, for which the output is packed
            the same way and each sequence's state stops at its own last step.
        h0 / c0 / h_n / c_n: ``(num_layers * num_directions, N, H)`` (``(..., H)`` unbatched),
            in the caller's batch order even for a packed input built with ``enforce_sorted=False``.
    """

    mode = "RNN_TANH"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # PyTorch's RNNBase takes the mode first (`nn.RNNBase("LSTM", 3, 4)`, a subclass's
        # `super().__init__("GRU", ...)`); RNN, LSTM and GRU know theirs
        if args and isinstance(args[0], str):
            mode, *args = args
        else:
            mode = kwargs.pop("mode", None)
        if mode is not None:
            if mode not in _GATES:
                raise ValueError(f"Unrecognized RNN mode: {mode}")
            self.__dict__["mode"] = mode
        self._init(*args, **kwargs)

    def _init(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"{type(self).__name__}: num_layers must be at least 1, got {num_layers}")
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(
                    f"{type(self).__name__}: {name} must be an integer greater than zero, got {v!r}"
                )
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1], got {dropout}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=2,
            )
        if proj_size < 0 or (proj_size and proj_size >= hidden_size):
            raise ValueError(
                f"{type(self).__name__}: proj_size must be in [0, hidden_size), got {proj_size} (hidden_size={hidden_size})"
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        out = proj_size or hidden_size  # the size of h (and of the output per direction)
        g = _GATES[self.mode] * hidden_size
        dirs = 2 if bidirectional else 1
        kw = {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else out * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                setattr(self, "weight_ih" + sfx, Parameter(_rustdl.empty(g, in_size, **kw)))
                setattr(self, "weight_hh" + sfx, Parameter(_rustdl.empty(g, out, **kw)))
                if bias:
                    setattr(self, "bias_ih" + sfx, Parameter(_rustdl.empty(g, **kw)))
                    setattr(self, "bias_hh" + sfx, Parameter(_rustdl.empty(g, **kw)))
                if proj_size:
                    setattr(self, "weight_hr" + sfx, Parameter(_rustdl.empty(proj_size, hidden_size, **kw)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draws every weight and bias from ``U(-1/√hidden_size, 1/√hidden_size)``."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """No-op (cuDNN weight packing in PyTorch)."""

    @property
    def _flat_weights_names(self) -> list[str]:
        """The parameter names, layer by layer and direction by direction, each as
        ``weight_ih, weight_hh[, bias_ih, bias_hh][, weight_hr]`` (PyTorch's order)."""
        names = []
        for layer in range(self.num_layers):
            for d in range(2 if self.bidirectional else 1):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                kinds = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
                kinds += ["weight_hr"] if getattr(self, "proj_size", 0) else []
                names.append([k + sfx for k in kinds])
        return [n for group in names for n in group]

    @property
    def _all_weights(self) -> list[list[str]]:
        """The parameter names grouped per layer and direction."""
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        flat = self._flat_weights_names
        return [flat[i : i + per] for i in range(0, len(flat), per)]

    @property
    def _flat_weights(self) -> list:
        """The parameters (or whatever tensors now stand under their names), in
        :attr:`_flat_weights_names` order. Assigning a list (as functional-optimisation
        libraries do) makes ``forward`` use those tensors, until :meth:`_init_flat_weights`;
        meanwhile assigning a weight by name replaces its entry, as in PyTorch."""
        given = self.__dict__.get("_flat_weights_given")
        if given is not None:
            return given
        return [getattr(self, n, None) for n in self._flat_weights_names]

    @_flat_weights.setter
    def _flat_weights(self, weights: list) -> None:
        weights = list(weights)
        names = self._flat_weights_names
        if len(weights) != len(names):
            raise ValueError(
                f"{type(self).__name__}._flat_weights: expected {len(names)} tensors ({names}), got {len(weights)}"
            )
        self.__dict__["_flat_weights_given"] = weights

    def _init_flat_weights(self) -> None:
        """``forward`` uses the weights under their names again."""
        self.__dict__.pop("_flat_weights_given", None)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        given = self.__dict__.get("_flat_weights_given")
        if given is not None and name in (names := self._flat_weights_names):
            given[names.index(name)] = value

    def _weight(self, name: str) -> Any:
        given = self.__dict__.get("_flat_weights_given")
        if given is not None:
            names = self._flat_weights_names
            if name in names:
                return given[names.index(name)]
        return getattr(self, name)

    @property
    def all_weights(self) -> list[list]:
        """The parameters grouped per layer and direction, as PyTorch's ``all_weights``."""
        return [[getattr(self, n) for n in group] for group in self._all_weights]

    @property
    def _h_size(self) -> int:
        """The size of h: ``proj_size`` for a projected LSTM, else ``hidden_size``."""
        return getattr(self, "proj_size", 0) or self.hidden_size

    def _w_hr(self, layer: int, d: int) -> Tensor:
        return self._weight(f"weight_hr_l{layer}" + ("_reverse" if d == 1 else ""))

    def _weights(self, layer: int, d: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
        w_ih = self._weight("weight_ih" + sfx)
        w_hh = self._weight("weight_hh" + sfx)
        b_ih = self._weight("bias_ih" + sfx) if self.bias else None
        b_hh = self._weight("bias_hh" + sfx) if self.bias else None
        return w_ih, w_hh, b_ih, b_hh

    def _check_state(
        self, name: str, state: Tensor | None, shape: tuple[int, ...], input_shape: tuple
    ) -> None:
        if state is not None and tuple(state.shape) != shape:
            raise _rustdl.ShapeError(
                f"{type(self).__name__}: expected {name} of shape {shape} for input of shape {input_shape}, "
                f"got {tuple(state.shape)}"
            )

    def _check_input(self, input: Tensor, ranks: tuple[int, ...], what: str) -> None:
        if input.ndim not in ranks or input.shape[-1] != self.input_size:
            # a ShapeError: PyTorch raises ValueError for the rank, RuntimeError for the features
            raise _rustdl.ShapeError(
                f"{type(self).__name__}: expected {what} with input_size={self.input_size} features, "
                f"got shape {tuple(input.shape)}"
            )
        weight = getattr(self, "weight_ih_l0", None)
        if isinstance(weight, Tensor) and input.is_floating_point() and input.dtype != weight.dtype:
            raise _RnnDTypeError(
                f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight.dtype}). Convert input: "
                f"input.to({weight.dtype}), or convert model: model.to({input.dtype})"
            )

    def _run(self, input: Tensor | PackedSequence, h0: Tensor | None, c0: Tensor | None):
        if isinstance(input, PackedSequence):
            return self._run_packed(input, h0, c0)
        self._check_input(input, (2, 3), "input of shape (L, H_in), (L, N, H_in) or (N, L, H_in)")
        batched = input.ndim == 3
        if input.shape[1 if batched and self.batch_first else 0] == 0:
            raise RuntimeError(
                f"{type(self).__name__}: expected sequence length to be larger than 0 in RNN "
                f"(input shape {tuple(input.shape)})"
            )
        dirs = 2 if self.bidirectional else 1
        batch = (input.shape[0] if self.batch_first else input.shape[1]) if batched else None
        lead = (self.num_layers * dirs, batch) if batched else (self.num_layers * dirs,)
        self._check_state("h0", h0, (*lead, self._h_size), tuple(input.shape))
        self._check_state("c0", c0, (*lead, self.hidden_size), tuple(input.shape))
        if not batched:
            input = input.unsqueeze(1)
            h0 = h0.unsqueeze(1) if h0 is not None else None
            c0 = c0.unsqueeze(1) if c0 is not None else None
        elif self.batch_first:
            input = input.transpose(0, 1)
        batch = input.shape[1]
        shape = (self.num_layers * dirs, batch, self.hidden_size)
        if h0 is None:
            h0 = _rustdl.zeros(*shape[:2], self._h_size, dtype=input.dtype, device=input.device)
        if c0 is None and self.mode == "LSTM":
            c0 = _rustdl.zeros(*shape, dtype=input.dtype, device=input.device)
        hs, cs = [], []
        x = input
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                h = h0.select(0, k)
                c = c0.select(0, k) if c0 is not None else None
                if self.proj_size:
                    out, h, c = _lstm_proj_layer(
                        x, h, c, *self._weights(layer, d), self._w_hr(layer, d), d == 1
                    )
                    outs.append(out)
                else:  # one fused node per layer and direction: forward and BPTT in Rust
                    out, h, c = rnn_layer(self.mode, x, h, c, *self._weights(layer, d), reverse=d == 1)
                    outs.append(out)
                hs.append(h)
                if c is not None:
                    cs.append(c)
            x = outs[0] if dirs == 1 else _rustdl.cat(outs, 2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        h_n = _rustdl.stack(hs, 0)
        c_n = _rustdl.stack(cs, 0) if cs else None
        if not batched:
            x = x.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, h_n, c_n

    def _run_packed(self, packed: PackedSequence, h0: Tensor | None, c0: Tensor | None):
        """The packed path: at step ``t`` only the first ``batch_sizes[t]`` (sorted) sequences
        advance, so each sequence's state stops at its own last step; the reverse direction
        takes each sequence in as the backward walk reaches its last step."""
        data = packed.data
        self._check_input(data, (2,), "packed data of shape (sum(lengths), H_in)")
        sizes = [int(b) for b in packed.batch_sizes.tolist()]
        batch = sizes[0] if sizes else 0
        dirs = 2 if self.bidirectional else 1
        shape = (self.num_layers * dirs, batch, self.hidden_size)
        self._check_state("h0", h0, (*shape[:2], self._h_size), tuple(data.shape))
        self._check_state("c0", c0, shape, tuple(data.shape))
        if h0 is None:
            h0 = _rustdl.zeros(*shape[:2], self._h_size, dtype=data.dtype, device=data.device)
        elif packed.sorted_indices is not None:  # hx comes in the caller's batch order
            h0 = h0.index_select(1, packed.sorted_indices)
        if self.mode == "LSTM":
            if c0 is None:
                c0 = _rustdl.zeros(*shape, dtype=data.dtype, device=data.device)
            elif packed.sorted_indices is not None:
                c0 = c0.index_select(1, packed.sorted_indices)
        hs, cs = [], []
        # padded in the sorted batch order, each sequence's own length handed to the fused layer
        x, lengths = pad_packed_sequence(PackedSequence(data, packed.batch_sizes))
        lens = [int(v) for v in lengths.tolist()]
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                h = h0.select(0, k)
                c = c0.select(0, k) if c0 is not None else None
                if x.shape[0] == 0:
                    outs.append(_rustdl.zeros(0, batch, self._h_size, dtype=x.dtype, device=x.device))
                elif self.proj_size:
                    out, h, c = _lstm_proj_layer(
                        x, h, c, *self._weights(layer, d), self._w_hr(layer, d), d == 1, lengths=lens
                    )
                    outs.append(out)
                else:
                    out, h, c = rnn_layer(
                        self.mode, x, h, c, *self._weights(layer, d), reverse=d == 1, lengths=lens
                    )
                    outs.append(out)
                hs.append(h)
                if c is not None:
                    cs.append(c)
            x = outs[0] if dirs == 1 else _rustdl.cat(outs, 2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1 and lens:
                # on the packed data, as PyTorch (one draw per real step, none for padding)
                kept = F.dropout(
                    pack_padded_sequence(x, lengths, enforce_sorted=True).data, self.dropout, True
                )
                x, _ = pad_packed_sequence(PackedSequence(kept, packed.batch_sizes))
        x = pack_padded_sequence(x, lengths, enforce_sorted=True).data if lens else x.reshape(0, x.shape[-1])
        h_n = _rustdl.stack(hs, 0)
        c_n = _rustdl.stack(cs, 0) if cs else None
        if packed.unsorted_indices is not None:  # back to the caller's batch order
            h_n = h_n.index_select(1, packed.unsorted_indices)
            c_n = c_n.index_select(1, packed.unsorted_indices) if c_n is not None else None
        out = PackedSequence(x, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        return out, h_n, c_n

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if getattr(self, "proj_size", 0):  # right after the sizes, as PyTorch prints it
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(_RNNBase):
    """Multi-layer Elman RNN; ``forward(x, h0)`` returns ``(output, h_n)``."""

    def __init__(self, *args: Any, nonlinearity: str = "tanh", **kwargs: Any) -> None:
        if kwargs.get("proj_size"):
            raise ValueError("RNN: proj_size is only supported by LSTM")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity '{nonlinearity}' (tanh or relu)")
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self.nonlinearity = nonlinearity
        super().__init__(*args, **kwargs)

    def forward(
        self, input: Tensor | PackedSequence, hx: Tensor | None = None
    ) -> tuple[Tensor | PackedSequence, Tensor]:
        out, h, _ = self._run(input, hx, None)
        return out, h


class LSTM(_RNNBase):
    """Multi-layer LSTM; ``forward(x, (h0, c0))`` returns ``(output, (h_n, c_n))``.

    With ``proj_size > 0`` each step's hidden state is projected, ``h = W_hr (o ⊙ tanh c)``
    (``weight_hr_l{k}`` of shape ``(proj_size, hidden_size)``), so h, h0/h_n and the output have
    ``proj_size`` features while c keeps ``hidden_size``; that path steps in Python (one fused
    cell and one projection per step) rather than through the fused Rust layer.
    """

    mode = "LSTM"

    def forward(
        self, input: Tensor | PackedSequence, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor | PackedSequence, tuple[Tensor, Tensor]]:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError(f"LSTM: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
        h0, c0 = (None, None) if hx is None else hx
        out, h, c = self._run(input, h0, c0)
        return out, (h, c)


class GRU(_RNNBase):
    """Multi-layer GRU; ``forward(x, h0)`` returns ``(output, h_n)``."""

    mode = "GRU"

    def forward(
        self, input: Tensor | PackedSequence, hx: Tensor | None = None
    ) -> tuple[Tensor | PackedSequence, Tensor]:
        out, h, _ = self._run(input, hx, None)
        return out, h


class _RnnDTypeError(_rustdl.DTypeError, ValueError):
    """Input and weights of different float dtypes: PyTorch's ValueError, and rustdl's DTypeError."""


# PyTorch's public name for the base class of RNN, LSTM and GRU (isinstance checks, subclasses)
RNNBase = _RNNBase


def _cell_function(op, mode, input, hx, cx, w_ih, w_hh, b_ih, b_hh):
    """One step of a cell given its weights: ``torch.lstm_cell`` and the like."""
    gates = _GATES[mode]
    for name, t in (("input", input), ("hx", hx), ("w_ih", w_ih), ("w_hh", w_hh)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if w_ih.ndim != 2 or w_hh.ndim != 2 or input.ndim not in (1, 2):
        raise _rustdl.ShapeError(
            f"{op}: expected a 1-D or 2-D input and 2-D weights, got input "
            f"{tuple(input.shape)}, w_ih {tuple(w_ih.shape)}, w_hh {tuple(w_hh.shape)}"
        )
    hidden = w_hh.shape[1]
    states = [hx] + ([cx] if cx is not None else [])
    if (
        w_ih.shape[0] != gates * hidden
        or w_hh.shape[0] != gates * hidden
        or input.shape[-1] != w_ih.shape[1]
        or any(tuple(s.shape) != (*input.shape[:-1], hidden) for s in states)
    ):
        raise _rustdl.ShapeError(
            f"{op}: shapes do not fit: input {tuple(input.shape)}, states "
            f"{[tuple(s.shape) for s in states]}, w_ih {tuple(w_ih.shape)}, w_hh "
            f"{tuple(w_hh.shape)} (expected w_ih ({gates}*hidden, input), w_hh ({gates}*hidden, "
            "hidden) and states (batch, hidden))"
        )
    batched = input.ndim == 2
    if not batched:
        input, states = input.unsqueeze(0), [s.unsqueeze(0) for s in states]
    h, c = _cell(
        mode, F.linear(input, w_ih, b_ih), states[0], states[1] if cx is not None else None, w_hh, b_hh
    )
    if not batched:
        h, c = h.squeeze(0), (c.squeeze(0) if c is not None else None)
    return h, c


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):  # noqa: A002
    """One LSTM step from explicit weights: ``(h', c')`` of ``input`` and ``hx = (h, c)``."""
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"lstm_cell: hx must be a tuple (h, c), got {type(hx).__name__}")
    return _cell_function("lstm_cell", "LSTM", input, hx[0], hx[1], w_ih, w_hh, b_ih, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):  # noqa: A002
    """One GRU step from explicit weights: the next hidden state."""
    return _cell_function("gru_cell", "GRU", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):  # noqa: A002
    """One Elman step with tanh from explicit weights: the next hidden state."""
    return _cell_function("rnn_tanh_cell", "RNN_TANH", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):  # noqa: A002
    """One Elman step with ReLU from explicit weights: the next hidden state."""
    return _cell_function("rnn_relu_cell", "RNN_RELU", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


def _rnn_function(
    op, mode, input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first
):  # noqa: A002
    """A whole multi-layer RNN from explicit weights (``torch.lstm``/``gru``/``rnn_tanh``/
    ``rnn_relu``, which custom RNN code and weight-drop wrappers call): ``params`` in
    ``_flat_weights`` order (per layer and direction ``w_ih, w_hh[, b_ih, b_hh][, w_hr]``)."""
    from ... import get_rng_state, set_rng_state

    if not isinstance(hx, (Tensor, tuple, list)):
        raise TypeError(f"{op}: hx must be a tensor (or (h, c) for lstm), got {type(hx).__name__}")
    if isinstance(batch_first, Tensor) or not isinstance(input, Tensor):
        raise _rustdl.ArgumentError(f"{op}: the packed-sequence form is not supported; pass a padded input")
    params = list(params)
    dirs = 2 if bidirectional else 1
    if num_layers < 1 or not params or len(params) % (num_layers * dirs):
        raise _rustdl.ArgumentError(
            f"{op}: {len(params)} weights do not split into {num_layers} layer(s) x {dirs} direction(s)"
        )
    per = len(params) // (num_layers * dirs)
    plain = 4 if has_biases else 2
    proj = mode == "LSTM" and per == plain + 1
    if per != plain and not proj:
        raise _rustdl.ArgumentError(f"{op}: expected {plain} weights per layer and direction, got {per}")
    w_ih = params[0]
    hidden = w_ih.shape[0] // _GATES[mode]
    state = get_rng_state()  # building the module must not draw from the generator
    try:
        cls = {"LSTM": LSTM, "GRU": GRU}.get(mode, RNN)
        kwargs: dict = {} if cls is not RNN else {"nonlinearity": "relu" if mode == "RNN_RELU" else "tanh"}
        if proj:
            kwargs["proj_size"] = params[plain].shape[0]
        mod = cls(
            w_ih.shape[1],
            hidden,
            num_layers,
            bias=bool(has_biases),
            batch_first=bool(batch_first),
            dropout=float(dropout),
            bidirectional=bool(bidirectional),
            device=w_ih.device,
            dtype=w_ih.dtype,
            **kwargs,
        )
    finally:
        set_rng_state(state)
    mod._flat_weights = params
    mod.train(bool(train))
    if mode == "LSTM":
        out, (h, c) = mod(input, tuple(hx))
        return out, h, c
    return mod(input, hx)


def _functional_rnn(name: str, mode: str, returns: str):
    def fn(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):  # noqa: A002
        return _rnn_function(
            name, mode, input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first
        )

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``torch.{name}``: {returns} from the weights ``params`` (``_flat_weights`` order)."
    return fn


lstm = _functional_rnn("lstm", "LSTM", "``(output, h_n, c_n)`` of an LSTM")
gru = _functional_rnn("gru", "GRU", "``(output, h_n)`` of a GRU")
rnn_tanh = _functional_rnn("rnn_tanh", "RNN_TANH", "``(output, h_n)`` of an Elman RNN (tanh)")
rnn_relu = _functional_rnn("rnn_relu", "RNN_RELU", "``(output, h_n)`` of an Elman RNN (ReLU)")
