"""In-place autograd with PyTorch's semantics (issue 14).

Each pattern is written twice: with the in-place op / item assignment, and as an out-of-place
rewrite of the same math. Both run from the same leaves; forward values and every leaf's gradient
must agree (float32 on CPU and GPU, float64 too on CPU). Then: the errors PyTorch raises, finite
differences for a few patterns, and flat memory over a training loop that writes in place.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from conftest import peak_rss_growth_mb
from rustdl import nn
from rustdl.autograd import gradcheck

TOL = {rustdl.float32: dict(rtol=2e-4, atol=2e-5), rustdl.float64: dict(rtol=1e-9, atol=1e-11)}


class Ctx:
    """Makes constants (no grad) with the device and dtype of the run."""

    def __init__(self, device, dtype):
        self.device, self.dtype = device, dtype

    def const(self, a):
        return rustdl.tensor(np.asarray(a, dtype=np.float64), dtype=self.dtype, device=self.device)

    def zeros(self, *shape):
        return rustdl.zeros(*shape, dtype=self.dtype, device=self.device)

    def idx(self, a):
        return rustdl.tensor(np.asarray(a, dtype=np.int64), device=self.device)

    def mask(self, a):
        return rustdl.tensor(np.asarray(a, dtype=bool), device=self.device)

    def floatmask(self, m):
        """A 0/1 float tensor from a bool tensor (for arithmetic references)."""
        return m.to(self.dtype)


@dataclass
class Case:
    """``fn(ip, c, **leaves)`` returns ``out`` or ``(out, extras)``: ``ip`` picks the in-place
    spelling; ``extras`` are tensors whose ``.grad`` is compared too (retained grads, module
    parameters). ``inputs`` maps each leaf to its shape; a ``+`` prefix asks for positive data."""

    name: str
    fn: Callable
    inputs: dict
    marks: list = field(default_factory=list)


CASES: list[Case] = []


def case(inputs, name=None, marks=()):
    def deco(fn):
        CASES.append(Case(name or fn.__name__, fn, inputs, list(marks)))
        return fn

    return deco


def _onehot_cols(rows, n):
    """``P`` of shape ``(n, len(rows))`` with ``P[rows[j], j] += 1``: ``P @ v`` scatters-adds ``v``."""
    p = np.zeros((n, len(rows)))
    for j, r in enumerate(rows):
        p[r, j] += 1
    return p


# ---------------------------------------------------------------- in-place ops on a non-leaf


@case({"a": (3, 4), "b": (3, 4)})
def add_alpha(ip, c, a, b):
    y = a * 1.5
    if ip:
        y.add_(b, alpha=0.3)
        return y
    return a * 1.5 + 0.3 * b


@case({"a": (3, 4), "b": (4,)})
def sub_broadcast(ip, c, a, b):
    y = a.sin()
    if ip:
        y.sub_(b)
        return y
    return a.sin() - b


@case({"a": (3, 4)})
def mul_scalar(ip, c, a):
    y = a + 1
    if ip:
        y.mul_(3.0)
        return y
    return (a + 1) * 3.0


@case({"a": (3, 4), "b": (3, 4)})
def mul_tensor_requiring_grad(ip, c, a, b):
    # mul's rule reads the old value of y: it must survive the write
    y = a.sin()
    if ip:
        y.mul_(b)
        return y * a
    return a.sin() * b * a


@case({"a": (3, 4), "b": "+3,4"})
def div_tensor(ip, c, a, b):
    y = a * a
    if ip:
        y.div_(b)
        return y
    return a * a / b


@case({"a": "+3,4"})
def pow_scalar(ip, c, a):
    y = a * 2
    if ip:
        y.pow_(2.5)
        return y
    return (a * 2) ** 2.5


@case({"a": (3, 4)})
def clamp_(ip, c, a):
    y = a * 2
    if ip:
        y.clamp_(-0.5, 0.7)
        return y
    return (a * 2).clamp(-0.5, 0.7)


@case({"a": (3, 4)})
def clamp_min_then_max(ip, c, a):
    y = a * 2
    if ip:
        y.clamp_min_(-0.3).clamp_max_(0.9)
        return y
    return (a * 2).clamp(-0.3, 0.9)


@case({"a": (3, 4), "b": (3, 4)})
def masked_fill_(ip, c, a, b):
    m = c.mask(np.arange(12).reshape(3, 4) % 3 == 0)
    y = a * b
    if ip:
        y.masked_fill_(m, 1.5)
        return y
    keep = 1 - c.floatmask(m)
    return a * b * keep + 1.5 * (1 - keep)


@case({"a": (3, 4), "b": (3, 4)})
def zero_(ip, c, a, b):
    y = a * b
    if ip:
        y.zero_()
        return y + a
    return c.zeros(3, 4) + a


@case({"a": (3, 4), "b": (3, 4)})
def fill_(ip, c, a, b):
    y = a.sin()
    if ip:
        y.fill_(0.5)
        return y * b
    return c.const(np.full((3, 4), 0.5)) * b


@case({"a": (3, 4), "b": (3, 4)})
def copy_from_grad_tensor(ip, c, a, b):
    y = a * 2
    if ip:
        y.copy_(b.tanh())
        return y * a
    return b.tanh() * a


@case({"a": (3, 4), "b": (4,)})
def copy_broadcast(ip, c, a, b):
    y = a * 2
    if ip:
        y.copy_(b)
        return y * a
    return b.expand(3, 4) * a


@case({"a": (3, 4)})
def relu_(ip, c, a):
    y = a * 2
    if ip:
        y.relu_()
        return y
    y = a * 2
    return y * c.floatmask(y > 0)


@case({"a": (3, 4)})
def sigmoid_(ip, c, a):
    y = a * 2
    if ip:
        y.sigmoid_()
        return y * a
    return 1 / (1 + (-(a * 2)).exp()) * a


@case({"a": (3, 4)})
def tanh_(ip, c, a):
    y = a + 0.5
    if ip:
        y.tanh_()
        return y
    return (a + 0.5).tanh()


@case({"a": (3, 4)})
def exp_(ip, c, a):
    y = a * 0.5
    if ip:
        y.exp_()
        return y * y
    return (a * 0.5).exp() * (a * 0.5).exp()


@case({"a": (3, 4)})
def chained_inplace_ops(ip, c, a):
    y = a * 1
    if ip:
        # each op's saved tensors stay untouched (exp_ or tanh_ last: they save their result)
        y.mul_(2).sub_(1).exp_()
        return y
    return (a * 2 - 1).exp()


@case({"a": (3, 4), "b": (3, 4), "d": (4,)})
def addcmul_(ip, c, a, b, d):
    y = a + 0
    if ip:
        y.addcmul_(b, d, value=0.5)
        return y
    return a + 0.5 * b * d


@case({"a": (3, 4), "b": (3, 4)})
def lerp_(ip, c, a, b):
    y = a.sin()
    if ip:
        y.lerp_(b, 0.3)
        return y
    return a.sin() + 0.3 * (b - a.sin())


@case({"a": (5, 3), "s": (4, 3)})
def index_add_duplicates(ip, c, a, s):
    rows = [1, 3, 1, 0]
    y = a * 2
    if ip:
        y.index_add_(0, c.idx(rows), s)
        return y
    return a * 2 + c.const(_onehot_cols(rows, 5)) @ s


@case({"a": (5, 3), "v": (4, 3)})
def index_put_accumulate(ip, c, a, v):
    rows = [4, 0, 4, 2]
    y = a * 2
    if ip:
        y.index_put_((c.idx(rows),), v, accumulate=True)
        return y
    return a * 2 + c.const(_onehot_cols(rows, 5)) @ v


# ---------------------------------------------------------------- accumulating and buffers


@case({"a": (3, 4), "b": (4,)})
def loss_plus_equals_from_int(ip, c, a, b):
    loss = 0
    for i in range(3):
        term = ((a[i] - b) ** 2).sum()
        if ip:
            loss += term
        else:
            loss = loss + term
    return loss


@case({"a": (3, 4), "b": (4,)})
def loss_plus_equals_into_zeros(ip, c, a, b):
    # a tensor that needs no grad gets its history from the first `+=`
    loss = c.zeros(())
    for i in range(3):
        term = (a[i] * b).tanh().sum()
        if ip:
            loss += term
        else:
            loss = loss + term
    return loss


class _Block(nn.Module):
    """torchvision's BasicBlock: ReLU(inplace) after each bn and ``out += identity``."""

    def __init__(self, ip):
        super().__init__()
        self.ip = ip
        self.conv1 = nn.Conv2d(3, 3, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(3)
        self.relu = nn.ReLU(inplace=ip)
        self.conv2 = nn.Conv2d(3, 3, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(3)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.ip:
            out += identity
        else:
            out = out + identity
        return self.relu(out)


@case({"x": (2, 3, 5, 5)})
def resnet_block_out_plus_identity(ip, c, x):
    rustdl.manual_seed(7)  # the same weights for both spellings
    block = _Block(ip).to(c.device)
    if c.dtype == rustdl.float64:
        block.double()
    h = x * 1  # the block input is a graph value, as inside a network
    out = block(block(h))
    return out, list(block.parameters())


@case({"x": (4, 2, 3), "w": (3, 5), "u": (5, 5)})
def seq2seq_buffer_outputs_t(ip, c, x, w, u):
    # `outputs[t] = decoder_output`, feeding the previous output back through the buffer
    T, B, H = 4, 2, 5
    outputs = c.zeros(T, B, H)
    outs = []
    h = c.zeros(B, H)
    for t in range(T):
        prev = (outputs[t - 1] if ip else outs[t - 1]) if t else c.zeros(B, H)
        h = (x[t] @ w + h @ u + prev * 0.5).tanh()
        if ip:
            outputs[t] = h
        else:
            outs.append(h)
    return outputs if ip else rustdl.stack(outs)


@case({"a": (3, 4)})
def slice_times_equals_zero(ip, c, a):
    y = a.sin()
    if ip:
        y[:, :2] *= 0.0
        return y
    keep = np.ones((3, 4))
    keep[:, :2] = 0
    return a.sin() * c.const(keep)


_MASK = np.array([[1, 0, 0, 1], [0, 1, 0, 0], [1, 1, 0, 0]], dtype=bool)


@case({"a": (3, 4), "v": (5,)})
def bool_mask_assign_grad_value(ip, c, a, v):
    y = a * 3
    if ip:
        y[c.mask(_MASK)] = v
        return y
    pos = np.flatnonzero(_MASK)
    placed = (c.const(_onehot_cols(pos, 12)) @ v).reshape(3, 4)
    return a * 3 * c.const(~_MASK) + placed


@case({"a": (3, 4), "s": ()})
def bool_mask_assign_grad_scalar(ip, c, a, s):
    y = a * 3
    if ip:
        y[c.mask(_MASK)] = s
        return y
    return a * 3 * c.const(~_MASK) + s * c.const(_MASK)


@case({"a": (5, 3), "v": (3, 3)})
def int_index_assign(ip, c, a, v):
    rows = [3, 0, 1]
    y = a * 2
    if ip:
        y[c.idx(rows)] = v
        return y
    keep = np.ones((5, 1))
    keep[rows] = 0
    return a * 2 * c.const(keep) + c.const(_onehot_cols(rows, 5)) @ v


@case({"a": (5, 3), "v": (4, 3)})
def int_index_assign_duplicates(ip, c, a, v):
    # the write that lands last owns the element (row 0 is written by v[0], v[1], then v[3]);
    # every write gets the gradient at its row, the overwritten ones included, as PyTorch's
    # index_put backward (grad[idx]): the reference adds each overwritten write as a term of
    # value zero (v[j] - v[j]) whose gradient is the row's
    rows = [0, 0, 2, 0]
    y = a * 2
    if ip:
        y[c.idx(rows)] = v
        return y
    last = {r: j for j, r in enumerate(rows)}
    p = np.zeros((5, 4))
    for r, j in last.items():
        p[r, j] = 1
    ghost = np.zeros((5, 4))
    for j, r in enumerate(rows):
        if last[r] != j:
            ghost[r, j] = 1
    keep = np.ones((5, 1))
    keep[rows] = 0
    return a * 2 * c.const(keep) + c.const(p) @ v + c.const(ghost) @ v - c.const(ghost) @ v.detach()


@case({"a": (3, 4), "v": (3,)})
def arange_label_assign(ip, c, a, v):
    # `x[arange(n), y] = v`: one element per row
    labels = [2, 0, 3]
    y = a * 2
    if ip:
        y[rustdl.arange(3, device=c.device), c.idx(labels)] = v
        return y
    m = np.zeros((3, 4))
    m[np.arange(3), labels] = 1
    return a * 2 * c.const(1 - m) + v.reshape(3, 1) * c.const(m)


@case({"a": (3, 4), "v": (3,)})
def range_label_assign(ip, c, a, v):
    labels = [2, 0, 3]
    y = a * 2
    if ip:
        y[range(3), c.idx(labels)] = v
        return y
    m = np.zeros((3, 4))
    m[np.arange(3), labels] = 1
    return a * 2 * c.const(1 - m) + v.reshape(3, 1) * c.const(m)


@case({"a": (3, 4), "v": (3,)})
def list_label_assign(ip, c, a, v):
    labels = [2, 0, 3]
    y = a * 2
    if ip:
        y[list(range(3)), labels] = v
        return y
    m = np.zeros((3, 4))
    m[np.arange(3), labels] = 1
    return a * 2 * c.const(1 - m) + v.reshape(3, 1) * c.const(m)


# ---------------------------------------------------------------- views


def _rows(c, n, lo, hi):
    """A (n, 1) 0/1 column selecting rows lo..hi."""
    m = np.zeros((n, 1))
    m[lo:hi] = 1
    return c.const(m)


@case({"a": (4, 3), "w": (2, 3)})
def view_slice_mul_(ip, c, a, w):
    y = a.sin()
    if ip:
        v = y[1:3]
        v.mul_(w)
        return y
    wide = rustdl.cat([c.zeros(1, 3) + 1, w, c.zeros(1, 3) + 1], 0)
    return a.sin() * wide


@case({"a": (3, 4), "b": (12,)})
def view_flat_add_(ip, c, a, b):
    y = a * a
    if ip:
        y.view(-1).add_(b * 2)
        return y
    return a * a + (b * 2).reshape(3, 4)


@case({"a": (3, 4), "b": (4, 3)})
def transpose_add_(ip, c, a, b):
    y = a.sin()
    if ip:
        y.t().add_(b)
        return y * a
    return (a.sin() + b.t()) * a


@case({"a": (3, 4)})
def row_zero_(ip, c, a):
    y = a * 2
    if ip:
        y[0].zero_()
        return y
    return a * 2 * (1 - _rows(c, 3, 0, 1))


@case({"a": (4, 5), "b": (2, 2)})
def view_of_view_add_(ip, c, a, b):
    y = a * 3
    if ip:
        y[1:][1:3, 2:4].add_(b)
        return y
    pad = np.zeros((4, 5, 2, 2))
    for i in range(2):
        for j in range(2):
            pad[2 + i, 2 + j, i, j] = 1
    placed = (c.const(pad.reshape(20, 4)) @ b.reshape(4)).reshape(4, 5)
    return a * 3 + placed


@case({"a": (4, 3), "b": (3,)})
def view_copy_row(ip, c, a, b):
    y = a * 2
    if ip:
        y[2].copy_(b.exp())
        return y.sum(0) * y[2]
    keep = 1 - _rows(c, 4, 2, 3)
    z = a * 2 * keep + b.exp().reshape(1, 3) * _rows(c, 4, 2, 3)
    return z.sum(0) * z[2]


@case({"a": (4, 3)})
def view_sigmoid_(ip, c, a):
    # sigmoid_ saves its result, which lives in the base
    y = a * 2
    if ip:
        y[:, 1:].sigmoid_()
        return y * a
    z = a * 2
    s = z.sigmoid()
    m = np.zeros((1, 3))
    m[0, 1:] = 1
    return (z * c.const(1 - m) + s * c.const(m)) * a


@case({"a": (3, 4), "b": (3, 4), "d": (4,)})
def view_made_before_base_changes(ip, c, a, b, d):
    # a view taken before an in-place change of its base reads the new values and routes
    # its gradient through the new history
    y = a * 1
    if ip:
        v = y[0]
        y.mul_(b)
        return v * d + y.sum(0)
    z = a * b
    return z[0] * d + z.sum(0)


@case({"a": (4, 3), "b": (2, 3)})
def overlapping_view_sees_sibling_write(ip, c, a, b):
    # v1 and v2 share row 1; writing through v2 changes what v1 reads
    y = a.sin()
    if ip:
        v1 = y[0:2]
        v2 = y[1:3]
        v2.add_(b)
        return v1 * 2 + v2
    z = a.sin() + rustdl.cat([c.zeros(1, 3), b, c.zeros(1, 3)], 0)
    return z[0:2] * 2 + z[1:3]


@case({"a": (3, 4), "w": (4, 2)})
def inplace_then_matmul(ip, c, a, w):
    y = a * 1
    if ip:
        y.add_(1)
        y[1] = y[1] * 3
        return y @ w
    z = (a + 1) * c.const(np.array([[1.0], [3.0], [1.0]]))
    return z @ w


# ---------------------------------------------------------------- inplace=True layers


@case({"a": (3, 4)})
def nn_relu_inplace(ip, c, a):
    y = a * 2
    out = nn.ReLU(inplace=ip)(y)
    if ip:
        assert out is y
    return out * a


@case({"a": (3, 4)})
def nn_leaky_relu_inplace(ip, c, a):
    y = a * 2
    out = nn.LeakyReLU(0.1, inplace=ip)(y)
    if ip:
        assert out is y
        return out
    pos = c.floatmask(y > 0)
    return y * pos + 0.1 * y * (1 - pos)


@case({"a": (3, 4)})
def nn_elu_inplace(ip, c, a):
    y = a * 2
    out = nn.ELU(0.7, inplace=ip)(y)
    if ip:
        assert out is y
        return out * a
    pos = c.floatmask(y > 0)
    return (y * pos + 0.7 * (y.exp() - 1) * (1 - pos)) * a


@case({"a": (3, 4)})
def functional_relu_inplace(ip, c, a):
    y = a.sin()
    out = F.relu(y, inplace=ip)
    if ip:
        assert out is y
        return out * y
    z = a.sin()
    z = z * c.floatmask(z > 0)
    return z * z


@case({"a": (3, 4)})
def functional_dropout_inplace_eval_and_p0(ip, c, a):
    y = a * 2
    if ip:
        out = F.dropout(F.dropout(y, 0.5, training=False, inplace=True), 0.0, training=True, inplace=True)
        assert out is y
        out = nn.Dropout(0.5, inplace=True).eval()(out)
        return out * a
    return a * 2 * a


@case({"a": (3, 4), "b": (3, 4)})
def retain_grad_then_modified(ip, c, a, b):
    # PyTorch moves retain_grad to the new version: .grad is that of the modified tensor
    y = a * 2
    y.retain_grad()
    if ip:
        y.add_(b)
    else:
        y = a * 2 + b
        y.retain_grad()
    return y * y, [y]


# ---------------------------------------------------------------- harder view / history cases


@case({"a": (3, 4), "v": (5,)})
def bool_mask_plus_equals(ip, c, a, v):
    # `x[mask] += v`: gather, add, scatter back
    y = a * 2
    if ip:
        y[c.mask(_MASK)] += v
        return y
    pos = np.flatnonzero(_MASK)
    return a * 2 + (c.const(_onehot_cols(pos, 12)) @ v).reshape(3, 4)


@case({"a": (3, 4), "b": (3, 4)})
def earlier_consumer_keeps_old_value(ip, c, a, b):
    # z was computed from y before the write: its gradient goes to y's old history
    y = a * 2
    z = y * 3 + y.exp()  # neither rule saves y itself
    if ip:
        y.add_(b)
        return z + y * y
    y2 = a * 2 + b
    return z + y2 * y2


@case({"a": (4, 3), "b": (2, 3), "d": (2, 3)})
def two_views_written_in_turn(ip, c, a, b, d):
    # v1 was made before v2's write and is written after it: it must read (and save) the new row 1
    y = a * 2
    if ip:
        v1 = y[0:2]
        v2 = y[1:3]
        v2.add_(b)
        v1.mul_(d)
        return y
    z = a * 2 + rustdl.cat([c.zeros(1, 3), b, c.zeros(1, 3)], 0)
    return z * rustdl.cat([d, c.zeros(2, 3) + 1], 0)


@case({"x": (4, 3), "w": (3, 5)})
def column_buffer_writes(ip, c, x, w):
    # `buf[:, t] = h`: writes through non-contiguous views
    buf = c.zeros(4, 3, 5)
    outs = []
    for t in range(3):
        h = (x * (t + 1)) @ w
        if ip:
            buf[:, t] = h.sin()
        else:
            outs.append(h.sin())
    return buf if ip else rustdl.stack(outs, 1)


@case({"a": (2, 3, 4), "b": (3,)})
def permute_unsqueeze_views(ip, c, a, b):
    y = a * 1.5
    if ip:
        y.permute(2, 0, 1)[1].unsqueeze(0).mul_(b)
        return y
    m = np.ones((1, 1, 4))
    m[..., 1] = 0
    return a * 1.5 * c.const(m) + (a[..., 1] * 1.5 * b).unsqueeze(-1) * c.const(1 - m)


@case({"a": (3, 4), "s": ()})
def ellipsis_assign_scalar_grad(ip, c, a, s):
    y = a * 2
    if ip:
        y[..., 0] = s
        return y * y
    m = np.zeros((1, 4))
    m[0, 0] = 1
    z = a * 2 * c.const(1 - m) + s * c.const(m)
    return z * z


@case({"a": (6, 2), "v": (3, 2)})
def step_slice_assign(ip, c, a, v):
    y = a.sin()
    if ip:
        y[::2] = v
        return y
    keep = c.const(np.array([[0.0], [1], [0], [1], [0], [1]]))
    return a.sin() * keep + c.const(_onehot_cols([0, 2, 4], 6)) @ v


@case({"a": (4, 3), "b": (4, 3)})
def chunk_view_mul_(ip, c, a, b):
    y = a * 2
    if ip:
        top, bottom = y.chunk(2)
        bottom.mul_(b[2:])
        return y
    return a * 2 * rustdl.cat([c.zeros(2, 3) + 1, b[2:]], 0)


@case({"a": (3, 4), "v": (2,)})
def index_put_accumulate_on_view(ip, c, a, v):
    y = a * 2
    if ip:
        y[1].index_put_((c.idx([3, 3]),), v, accumulate=True)
        return y
    m = np.zeros((3, 4, 2))
    m[1, 3, :] = 1
    return a * 2 + (c.const(m.reshape(12, 2)) @ v).reshape(3, 4)


@case({"a": (3, 4), "b": (3, 4)})
def no_grad_write_is_invisible_to_autograd(ip, c, a, b):
    # under no_grad the write changes values only; the graph still sees y = a * 2
    y = a * 2
    if ip:
        with rustdl.no_grad():
            y[0] = 0.0
        return y * b
    m = np.ones((3, 1))
    m[0] = 0
    return (a * 2 * c.const(m)).detach() * b + (a * 2 - (a * 2).detach()) * b


@case({"a": (0, 3), "v": (0,)})
def zero_size_inplace(ip, c, a, v):
    y = a * 2
    if ip:
        y.add_(1)
        y[c.mask(np.zeros((0, 3), bool))] = v
        return y
    return a * 2 + 1


@case({"a": (3, 4), "b": (3, 4)})
def view_read_after_two_rebases(ip, c, a, b):
    y = a * 2
    if ip:
        v = y[1:]
        y.add_(b)
        y.mul_(3)
        return v * v
    z = (a * 2 + b) * 3
    return z[1:] * z[1:]


@case({"a": (4,), "b": (2,)})
def view_of_stale_view(ip, c, a, b):
    # w is taken from a view made before the base changed
    y = a * 1
    if ip:
        v = y.view(2, 2)
        y.add_(1)
        w = v[1]
        w.mul_(b)
        return y
    z = (a + 1).view(2, 2)
    return rustdl.cat([z[0], z[1] * b], 0)


@case({"a": (300, 400)})
def large_view_writes(ip, c, a):
    # big enough for the CPU's threaded kernels and many GPU workgroups
    y = a * 2
    if ip:
        y[:, 100:350].mul_(3)
        y[200:260] = 0.0
        return y * y
    m = np.ones((1, 400))
    m[0, 100:350] = 3
    r = np.ones((300, 1))
    r[200:260] = 0
    z = a * 2 * c.const(m) * c.const(r)
    return z * z


# ---------------------------------------------------------------- the comparison


def _gen(spec, rng):
    if isinstance(spec, str):
        positive = spec.startswith("+")
        shape = tuple(int(s) for s in spec.lstrip("+").split(",") if s)
    else:
        positive, shape = False, tuple(spec)
    if positive:
        return rng.uniform(0.5, 1.5, size=shape)
    return rng.standard_normal(size=shape)


def _run(cs: Case, device, dtype, ip):
    """Forward + backward of one spelling; returns (out, leaf grads, extra grads) as numpy."""
    rng = np.random.default_rng(zlib.crc32(cs.name.encode()))
    c = Ctx(device, dtype)
    leaves = {
        k: rustdl.tensor(_gen(s, rng), dtype=dtype, device=device, requires_grad=True)
        for k, s in cs.inputs.items()
    }
    res = cs.fn(ip, c, **leaves)
    out, extras = res if isinstance(res, tuple) else (res, [])
    w = c.const(rng.uniform(0.5, 1.5, size=tuple(out.shape)))
    (out * w).sum().backward()

    def grad(t):
        return np.zeros(tuple(t.shape)) if t.grad is None else t.grad.cpu().numpy().astype(np.float64)

    return (
        out.detach().cpu().numpy().astype(np.float64),
        {k: grad(t) for k, t in leaves.items()},
        [grad(t) for t in extras],
    )


def _dtypes(device):
    return [rustdl.float32, rustdl.float64] if device == "cpu" else [rustdl.float32]


@pytest.mark.parametrize("cs", [pytest.param(cs, id=cs.name, marks=cs.marks) for cs in CASES])
def test_inplace_pattern_matches_out_of_place(cs, device):
    for dtype in _dtypes(device):
        got_out, got_g, got_x = _run(cs, device, dtype, ip=True)
        ref_out, ref_g, ref_x = _run(cs, device, dtype, ip=False)
        tol = TOL[dtype]
        np.testing.assert_allclose(got_out, ref_out, err_msg=f"{cs.name} forward ({dtype})", **tol)
        for k in ref_g:
            np.testing.assert_allclose(got_g[k], ref_g[k], err_msg=f"{cs.name} grad of {k} ({dtype})", **tol)
        assert len(got_x) == len(ref_x)
        for i, (g, r) in enumerate(zip(got_x, ref_x)):
            np.testing.assert_allclose(g, r, err_msg=f"{cs.name} grad of extra {i} ({dtype})", **tol)


def test_table_is_large_enough():
    assert len(CASES) >= 30


# ---------------------------------------------------------------- finite differences


GRADCHECKED = [
    "mul_tensor_requiring_grad",
    "index_put_accumulate",
    "seq2seq_buffer_outputs_t",
    "view_slice_mul_",
    "view_sigmoid_",
    "bool_mask_assign_grad_value",
    "view_made_before_base_changes",
]


@pytest.mark.parametrize("name", GRADCHECKED)
def test_inplace_pattern_gradcheck_float64(name):
    """The in-place spelling against central differences (gradcheck runs it under no_grad too)."""
    cs = next(x for x in CASES if x.name == name)
    rng = np.random.default_rng(1)
    c = Ctx("cpu", rustdl.float64)
    names = list(cs.inputs)
    leaves = [rustdl.tensor(_gen(cs.inputs[k], rng), dtype=rustdl.float64, requires_grad=True) for k in names]

    def fn(*ts):
        res = cs.fn(True, c, **dict(zip(names, ts)))
        return res[0] if isinstance(res, tuple) else res

    assert gradcheck(fn, leaves, eps=1e-6, atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------- errors


def _leaf(device, shape=(3, 4), requires_grad=True):
    data = np.random.default_rng(0).standard_normal(shape)
    return rustdl.tensor(data, dtype=rustdl.float32, device=device, requires_grad=requires_grad)


def _saved_exp(x):
    y = x.exp()
    y.add_(1)
    return y.sum(), "add_"


def _saved_sigmoid(x):
    y = x.sigmoid()
    y.mul_(2)
    return y.sum(), "mul_"


def _saved_matmul_input(x):
    a = x * 1
    out = a @ x.t()
    a.add_(1)
    return out.sum(), "add_"


def _saved_mul_operand_data(x):
    # `a = w * d; d.add_(1)`: d needs no grad, but mul saved it for w's gradient
    d = rustdl.ones(3, 4, device=x.device)
    a = x * d
    d.add_(1)
    return a.sum(), "add_"


def _saved_tanh_setitem(x):
    y = x.tanh()
    y[0] = 0.0
    return y.sum(), None


def _saved_through_view(x):
    y = x.exp()
    y[1:].mul_(3)
    return y.sum(), "mul_"


def _saved_shared_with_detach(x):
    # detach() shares the version counter, as in PyTorch
    y = x.exp()
    y.detach().mul_(0.0)
    return y.sum(), "mul_"


def _saved_view_base_modified(x):
    y = x * 1
    v = y[0:2]
    z = v * v  # saves the view
    y.add_(1)
    return z.sum(), "add_"


def _saved_self_as_operand(x):
    # `y.mul_(y)`: mul saved its operand, which is y itself (PyTorch raises here too)
    y = x * 1
    y.mul_(y)
    return y.sum(), "mul_"


def _saved_after_retained_backward(x):
    y = x * 2
    z = (y * y).sum()
    z.backward(retain_graph=True)
    y.add_(1)
    return z, "add_"


SAVED = [
    _saved_shared_with_detach,
    _saved_view_base_modified,
    _saved_self_as_operand,
    _saved_after_retained_backward,
    _saved_exp,
    _saved_sigmoid,
    _saved_matmul_input,
    _saved_mul_operand_data,
    _saved_tanh_setitem,
    _saved_through_view,
]


@pytest.mark.parametrize("build", SAVED, ids=[f.__name__[1:] for f in SAVED])
def test_saved_tensor_modified_in_place_raises_and_library_recovers(build, device):
    x = _leaf(device)
    loss, op = build(x)
    pattern = "modified by an in-place operation" + (rf" \({op}\)" if op else r" \(\w+\)")
    with pytest.raises(RuntimeError, match=pattern):
        loss.backward()
    # the library keeps working: a fresh graph on the same leaf
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * x.detach().cpu().numpy(), rtol=1e-6)


NAMED_OPS = {
    "add_": lambda y: y.add_(1),
    "sub_": lambda y: y.sub_(1),
    "mul_": lambda y: y.mul_(2),
    "div_": lambda y: y.div_(2),
    "clamp_": lambda y: y.clamp_(0, 1),
    "relu_": lambda y: y.relu_(),
    "sigmoid_": lambda y: y.sigmoid_(),
    "masked_fill_": lambda y: y.masked_fill_(y > 2, 0.0),
    "copy_": lambda y: y.copy_(y.detach() * 2),
    "zero_": lambda y: y.zero_(),
    "fill_": lambda y: y.fill_(1.0),
    "index_put_": lambda y: y.index_put_((rustdl.tensor([0], device=y.device),), y.detach()[:1]),
}


@pytest.mark.parametrize("op", list(NAMED_OPS))
def test_version_error_names_the_op_the_user_called(op, device):
    x = _leaf(device, (3,))
    y = x.exp()
    NAMED_OPS[op](y)
    with pytest.raises(RuntimeError, match="modified by an in-place operation") as err:
        y.sum().backward()
    assert f"({op}" in str(err.value), str(err.value)


def test_version_error_for_item_assignment_and_augmented_assignment(device):
    x = _leaf(device, (3,))
    y = x.exp()
    y[0] = 1.0
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation \((copy_|setitem)"):
        y.sum().backward()
    y = x.exp()
    y += 1
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation \(add_"):
        y.sum().backward()


LEAF_OPS = {
    "add_": lambda x: x.add_(1),
    "mul_": lambda x: x.mul_(2),
    "zero_": lambda x: x.zero_(),
    "relu_": lambda x: x.relu_(),
    "setitem": lambda x: x.__setitem__(0, 1.0),
    "iadd": lambda x: x.__iadd__(1.0),
    "copy_": lambda x: x.copy_(rustdl.ones(3, 4, device=x.device)),
    "F.relu_inplace": lambda x: F.relu(x, inplace=True),
}


@pytest.mark.parametrize("op", list(LEAF_OPS))
def test_inplace_on_leaf_requiring_grad_raises(op, device):
    x = _leaf(device)
    before = x.detach().cpu().numpy().copy()
    with pytest.raises(RuntimeError, match="leaf"):
        LEAF_OPS[op](x)
    np.testing.assert_array_equal(x.detach().cpu().numpy(), before)  # refused before any write
    assert x.is_leaf and x.grad_fn is None


def test_inplace_on_leaf_inside_no_grad_works_and_changes_no_autograd_state(device):
    x = _leaf(device)
    ref = x.detach().cpu().numpy().astype(np.float64)
    with rustdl.no_grad():
        x.mul_(2)
        x[0] = 5.0
        x += 1
        x.clamp_(-1, 3)
    ref = ref * 2
    ref[0] = 5.0
    ref = np.clip(ref + 1, -1, 3)
    np.testing.assert_allclose(x.detach().cpu().numpy(), ref, rtol=1e-6)
    assert x.is_leaf and x.requires_grad and x.grad_fn is None and x.grad is None
    (x * x).sum().backward()  # still a usable leaf
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * ref, rtol=1e-6)


def test_view_of_leaf_made_outside_no_grad_written_inside(device):
    x = _leaf(device, (3,))
    ref = x.detach().cpu().numpy().astype(np.float64)
    v = x.view(-1)[1:]
    with rustdl.no_grad():
        v.add_(10)
    ref[1:] += 10
    np.testing.assert_allclose(x.detach().cpu().numpy(), ref, rtol=1e-6)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * ref, rtol=1e-6)


def test_view_made_in_no_grad_then_written_with_grad_raises(device):
    a = _leaf(device, (2, 2))
    b = _leaf(device, (2,))
    y = a * 2
    with rustdl.no_grad():
        v = y[0]
    with pytest.raises(RuntimeError):
        v.mul_(b)
        y.sum().backward()


VIEW_OPS = {
    "slice_add_": lambda x: x[1:].add_(1),
    "view_zero_": lambda x: x.view(-1).zero_(),
    "t_mul_": lambda x: x.t().mul_(2),
    "row_fill_": lambda x: x[0].fill_(1.0),
    "row_setitem": lambda x: x[0].__setitem__(1, 3.0),
}


@pytest.mark.parametrize("op", list(VIEW_OPS))
def test_inplace_on_view_of_leaf_requiring_grad_raises(op, device):
    x = _leaf(device)
    before = x.detach().cpu().numpy().copy()
    with pytest.raises(RuntimeError, match="view of a leaf"):
        VIEW_OPS[op](x)
    np.testing.assert_array_equal(x.detach().cpu().numpy(), before)


@pytest.mark.parametrize("requires_grad", [False, True])
def test_inplace_on_expanded_tensor_raises(requires_grad, device):
    x = _leaf(device, (1, 4), requires_grad=requires_grad)
    y = x * 1 if requires_grad else x
    before = y.detach().cpu().numpy().copy()
    with pytest.raises(RuntimeError, match="single memory location"):
        y.expand(3, 4).add_(1)
    np.testing.assert_array_equal(y.detach().cpu().numpy(), before)  # never a silent write


def test_inplace_dtype_mismatch_raises_type_error(device):
    i = rustdl.tensor([1, 2, 3], device=device)
    for op in (lambda t: t.add_(1.5), lambda t: t.mul_(0.5), lambda t: t.__iadd__(1.5)):
        with pytest.raises(TypeError, match="int64"):
            op(i)
    np.testing.assert_array_equal(i.cpu().numpy(), [1, 2, 3])
    i.add_(2)  # an integer operand is fine
    np.testing.assert_array_equal(i.cpu().numpy(), [3, 4, 5])


@pytest.mark.parametrize("op", ["add_", "mul_", "sub_", "div_", "copy_"])
def test_inplace_shape_mismatch_raises_value_error_naming_op(op, device):
    x = rustdl.ones(3, device=device)
    bigger = rustdl.ones(2, 3, device=device)
    with pytest.raises(ValueError, match=op):
        getattr(x, op)(bigger)
    np.testing.assert_array_equal(x.cpu().numpy(), [1, 1, 1])


def test_copy_over_history_gives_it_a_zero_gradient(device):
    """`y.copy_(src)` replaces y's value: the old history gets zeros (not None), src gets the
    gradient, and the node is named as PyTorch names it."""
    x = rustdl.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    s = rustdl.tensor([4.0, 5.0, 6.0], requires_grad=True, device=device)
    y = x * 2
    y.copy_(s * 3)
    assert y.grad_fn.name() == "CopyBackwards"
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [0, 0, 0])
    np.testing.assert_allclose(s.grad.cpu().numpy(), 2 * 3 * 3 * np.array([4.0, 5.0, 6.0]))


def test_version_counter_counts_inplace_writes_shared_with_views(device):
    y = rustdl.ones(4, device=device)
    v = y[1:3]
    assert y._version == 0
    y.add_(1)
    y[0] = 3
    v.mul_(2)
    assert y._version == v._version == 3
    assert y.detach()._version == 3
    assert (y + 1)._version == 0


# ---------------------------------------------------------------- memory


def test_memory_stays_flat_with_plus_equals_and_buffer_writes():
    """2,000 steps of a loop using `loss += ...` and `buf[t] = ...`: every graph is freed."""
    rustdl.manual_seed(0)
    # sized so that one leaked graph per step (buffer, saved activations: >100 KB) would add
    # hundreds of MB over the loop
    w = rustdl.randn(16, 64, requires_grad=True)
    u = rustdl.randn(64, 64, requires_grad=True)
    x = rustdl.randn(5, 32, 16)

    def step():
        buf = rustdl.zeros(5, 32, 64)
        h = rustdl.zeros(32, 64)
        loss = 0
        for t in range(5):
            h = (x[t] @ w + h @ u * 0.1).tanh()
            buf[t] = h
            loss += (h * h).mean()
        loss += buf.relu_().mean()
        loss.backward()
        with rustdl.no_grad():
            w.sub_(w.grad * 1e-3)
            u.sub_(u.grad * 1e-3)
        w.grad = None
        u.grad = None

    grown = peak_rss_growth_mb(step, warmup=200, steps=2000)
    assert grown < 20, f"peak RSS grew by {grown:.1f} MB over 2000 steps"
