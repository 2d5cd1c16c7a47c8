"""Fixes found by the 2026-12-07 (second) library rounds: distributions built from Python numbers
take the default dtype, ``torch.Size`` is a pytree node, distributions and transforms print as
PyTorch prints them."""

from __future__ import annotations

import math

import pytest
import rustdl
from rustdl.distributions import (
    AffineTransform,
    Binomial,
    Categorical,
    ComposeTransform,
    ExpTransform,
    Independent,
    MixtureSameFamily,
    Normal,
)
from rustdl.distributions.utils import broadcast_all


@pytest.fixture
def float64_default():
    old = rustdl.get_default_dtype()
    rustdl.set_default_dtype(rustdl.float64)
    try:
        yield
    finally:
        rustdl.set_default_dtype(old)


def test_numbers_given_to_distributions_take_the_default_dtype(float64_default):
    assert [t.dtype for t in broadcast_all(0.3, 2)] == [rustdl.float64, rustdl.float64]
    m = Normal(0.0, 1.0)
    assert m.loc.dtype == rustdl.float64 and m.sample().dtype == rustdl.float64
    assert Categorical(rustdl.tensor([1, 2, 3])).probs.dtype == rustdl.float64
    # log C(10, 10) + 10 log 0.3, exactly in float64 (float32 parameters lose ~3e-7)
    lp = Binomial(10, 0.3).log_prob(rustdl.tensor(10.0)).item()
    assert lp == pytest.approx(10 * math.log(0.3), abs=1e-12)
    # a float tensor among the values decides
    a, b = broadcast_all(rustdl.zeros(2, dtype=rustdl.float32), 1.5)
    assert a.dtype == b.dtype == rustdl.float32 and b.tolist() == [1.5, 1.5]


def test_size_is_a_pytree_node_of_its_dims():
    from functools import singledispatch

    from rustdl import torchcompat

    torchcompat.install()
    try:
        import torch
        from torch.utils._pytree import tree_flatten, tree_flatten_with_path, tree_map, tree_unflatten

        leaves, spec = tree_flatten({"s": torch.Size([2, 3]), "t": (torch.Size([]),)})
        assert leaves == [2, 3]
        assert tree_unflatten([4, 5], spec) == {"s": (4, 5), "t": ((),)}
        assert [v for _, v in tree_flatten_with_path(torch.Size([7, 8]))[0]] == [7, 8]

        @singledispatch
        def wrap(x):
            return x

        @wrap.register(tuple)
        def _(x):
            return tree_map(wrap, x)

        # a Size mapped as a leaf recursed forever here
        assert wrap(torch.Size([2, 3])) == (2, 3)
        assert tree_map(lambda d: d * 2, torch.rand(2, 3).shape) == (4, 6)
    finally:
        torchcompat.uninstall()


def test_distributions_and_transforms_print_as_pytorch():
    from rustdl import torchcompat

    torchcompat.install()
    try:
        assert str(Independent(Normal(rustdl.zeros(2, 3), rustdl.ones(2, 3)), 1)) == (
            "Independent(Normal(loc: torch.Size([2, 3]), scale: torch.Size([2, 3])), 1)"
        )
        mix = MixtureSameFamily(Categorical(logits=rustdl.zeros(2)), Normal(rustdl.zeros(2), rustdl.ones(2)))
        assert str(mix) == (
            "MixtureSameFamily(\n  Categorical(logits: torch.Size([2])),\n"
            "  Normal(loc: torch.Size([2]), scale: torch.Size([2])))"
        )
    finally:
        torchcompat.uninstall()
    assert repr(ComposeTransform([ExpTransform(), AffineTransform(1.0, 2.0)])) == (
        "ComposeTransform(\n    ExpTransform(),\n    AffineTransform()\n)"
    )
