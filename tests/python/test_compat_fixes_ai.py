"""Fixes found by the fourth 2026-12-07 library and fuzzing rounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rustdl


@pytest.mark.parametrize("name", ["rand", "randn"])
def test_complex_random_tensors_draw_interleaved_pairs(name):
    """A complex ``rand``/``randn`` draws (re, im) pairs from one stream, as PyTorch's: the same
    seed gives the values of a real draw of shape (..., 2) (``randn`` scaled to unit variance)."""
    draw = getattr(rustdl, name)
    scale = 1 / math.sqrt(2) if name == "randn" else 1.0
    for call in (
        lambda **kw: draw(2, 3, **kw),
        lambda **kw: draw((2, 3), **kw),
        lambda **kw: draw(size=(2, 3), **kw),
    ):
        rustdl.manual_seed(7)
        z = call(dtype=rustdl.complex64)
        rustdl.manual_seed(7)
        pairs = draw(2, 3, 2).numpy() * scale
        np.testing.assert_allclose(z.real.numpy(), pairs[..., 0], rtol=1e-6)
        np.testing.assert_allclose(z.imag.numpy(), pairs[..., 1], rtol=1e-6)
    like = getattr(rustdl, name + "_like")
    rustdl.manual_seed(3)
    z = like(rustdl.zeros(4, dtype=rustdl.complex128))
    rustdl.manual_seed(3)
    pairs = draw(4, 2, dtype=rustdl.float64).numpy() * scale
    assert z.dtype == rustdl.complex128
    np.testing.assert_allclose(z.real.numpy(), pairs[:, 0])
    np.testing.assert_allclose(z.imag.numpy(), pairs[:, 1])


def test_complex_randn_like_has_unit_variance():
    z = rustdl.randn_like(rustdl.zeros(20000, dtype=rustdl.complex64))
    assert abs(z.real.numpy().var() - 0.5) < 0.03 and abs(z.imag.numpy().var() - 0.5) < 0.03
    assert abs((z.abs() ** 2).mean().item() - 1.0) < 0.05
