"""Behaviours found by running third-party programs against PyTorch's: the exception classes of
multi-head attention's shape checks, and what full backward hooks receive."""

from __future__ import annotations

import pytest
import rustdl
import rustdl.nn as nn


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: m(x, x, x, key_padding_mask=rustdl.zeros(3, 3, dtype=rustdl.bool)),
        lambda m, x: m(x, x, x, key_padding_mask=rustdl.zeros(2, 3, dtype=rustdl.uint8)),
        lambda m, x: m(rustdl.randn(3, 2, 5), x, x),
        lambda m, x: m(x, x, x[:2]),
        lambda m, x: m(x[None], x[None], x[None]),
    ],
)
def test_multihead_attention_shape_checks_are_assertion_errors(call):
    m = nn.MultiheadAttention(4, 2)
    x = rustdl.randn(3, 2, 4)
    with pytest.raises(AssertionError):
        call(m, x)


def test_full_backward_hook_gives_zeros_for_an_input_without_grad():
    class Two(nn.Module):
        def forward(self, a, b):
            return a * b, a + 1

    seen = []
    t = Two()
    t.register_full_backward_hook(lambda mod, gi, go: seen.append(gi))
    a = rustdl.ones(2, requires_grad=True)
    b = rustdl.full((2,), 3.0)
    o1, _ = t(a, b)
    o1.sum().backward()
    (gi,) = seen
    assert gi[0].tolist() == [3.0, 3.0]  # d(sum(a * b))/da = b
    assert gi[1].tolist() == [0.0, 0.0]  # b needs no gradient: zeros, as PyTorch's hook gets
    assert a.grad.tolist() == [3.0, 3.0]
