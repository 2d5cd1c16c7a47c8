"""Fixes of the 2026-12-07 round: the fused kernels' create_graph rule kept on their own node,
and element-wise details checked against PyTorch's documented formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F


def _packed_lstm_grads(create_graph):
    rustdl.manual_seed(0)
    m = rustdl.nn.LSTM(3, 4, bidirectional=True).double()
    x = rustdl.randn(6, 3, 3, dtype=rustdl.float64, requires_grad=True)
    packed = rustdl.nn.utils.rnn.pack_padded_sequence(x, [6, 4, 2], enforce_sorted=False)
    out, _ = m(packed)
    padded, _ = rustdl.nn.utils.rnn.pad_packed_sequence(out)
    params = [x, *m.parameters()]
    return rustdl.autograd.grad(padded.pow(2).sum(), params, create_graph=create_graph)


def test_create_graph_gradient_of_a_packed_lstm_equals_the_fused_kernels():
    # the create_graph rule recomputes step by step; its first-order values must be the fused
    # kernel's (lengths, both directions), and its result must carry a history
    fused = _packed_lstm_grads(False)
    recomputed = _packed_lstm_grads(True)
    for a, b in zip(fused, recomputed):
        assert not a.requires_grad and b.requires_grad
        np.testing.assert_allclose(b.detach().numpy(), a.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "attention"])
def test_create_graph_backward_through_a_freed_or_modified_fused_node_raises(kind):
    rustdl.manual_seed(0)
    x = rustdl.randn(4, 2, 3, dtype=rustdl.float64, requires_grad=True)
    if kind == "lstm":
        m = rustdl.nn.LSTM(3, 3).double()

        def forward():
            return m(x)[0].pow(2).sum()

        weight = m.weight_hh_l0
    else:
        weight = rustdl.randn(4, 2, 3, dtype=rustdl.float64, requires_grad=True)

        def forward():
            return F.scaled_dot_product_attention(x, weight * 1.0, weight * 2.0).pow(2).sum()

    loss = forward()
    loss.backward()  # frees the graph
    with pytest.raises(RuntimeError, match="second time"):
        rustdl.autograd.grad(loss, x, create_graph=True)
    # an input changed in place after the forward: refused as PyTorch refuses a modified saved
    # tensor, rather than differentiating the new values
    loss = forward()
    with rustdl.no_grad():
        x.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        rustdl.autograd.grad(loss, x, create_graph=True)


def test_hardswish_keeps_the_sign_of_zero_below_minus_three():
    # PyTorch: x·relu6(x + 3)/6, so x <= -3 gives x·0 (-0.0 for a finite x, NaN for -inf)
    x = rustdl.tensor([-3.0, -5.0, -1e30, float("-inf"), 0.0, -0.0, 1.5, 4.0], requires_grad=True)
    y = F.hardswish(x)
    vals = y.tolist()
    for got, v in zip(vals, [-3.0, -5.0, -1e30, float("-inf"), 0.0, -0.0, 1.5, 4.0]):
        if math.isinf(v):
            assert math.isnan(got)
            continue
        want = v * min(max(v + 3.0, 0.0), 6.0) / 6.0
        assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want), (v, got)
    y.sum().backward()
    # the gradient: 0 up to -3 (infinity included), x/3 + 1/2 between, 1 from 3 on
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
