"""Behaviour that real PyTorch programs relied on and rustdl lacked (found by running them
through ``python -m rustdl.torchcompat``); each case checks values against references taken
from PyTorch's documented formulas or written out in numpy."""

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
import rustdl.nn.functional as F


def _np(t):
    return t.detach().numpy()


# --- interpolate: bicubic / linear / area / nearest-exact, 3-D and 5-D, scale_factor coordinates

# PyTorch's outputs for x = arange(12)**2 reshaped (1, 1, 3, 4).
BICUBIC_4x6 = [
    [-1.185398, -1.162964, -0.414388, 0.97819, 4.143433, 6.513089],
    [4.506226, 6.901489, 11.532371, 15.687681, 22.735229, 27.477715],
    [33.946899, 40.051636, 50.751772, 59.226092, 72.342896, 80.794854],
    [65.919773, 74.397339, 88.979782, 100.216833, 117.215942, 128.040731],
]
BICUBIC_ALIGNED_X15 = [
    [0.0, 0.288, 1.504, 3.016, 6.264, 9.0],
    [5.62963, 8.232296, 12.865185, 16.691852, 23.356741, 28.407407],
    [32.888889, 38.926222, 48.629333, 55.890667, 67.625778, 76.111111],
    [64.0, 72.352, 85.472, 95.048, 110.2, 121.0],
]


def test_interpolate_bicubic_matches_reference():
    x = (rustdl.arange(12, dtype=rustdl.float64) ** 2).reshape(1, 1, 3, 4)
    out = F.interpolate(x, size=(4, 6), mode="bicubic", align_corners=False)
    np.testing.assert_allclose(_np(out)[0, 0], BICUBIC_4x6, atol=1e-5)
    out = F.interpolate(x, scale_factor=1.5, mode="bicubic", align_corners=True)
    np.testing.assert_allclose(_np(out)[0, 0], BICUBIC_ALIGNED_X15, atol=1e-5)


def test_interpolate_bicubic_gradient_is_the_transposed_map():
    # out = Mh x Mw^T, so d(sum out)/dx = Mh^T 1 1^T Mw: rows of Mh and Mw each sum to 1 (cubic
    # weights interpolate constants), and the gradient's total is the number of outputs.
    x = rustdl.ones(1, 1, 3, 4, requires_grad=True)
    out = F.interpolate(x, size=(4, 6), mode="bicubic")
    np.testing.assert_allclose(_np(out), np.ones((1, 1, 4, 6)), atol=1e-6)
    out.sum().backward()
    g = _np(x.grad)[0, 0]
    assert g.sum() == pytest.approx(24.0, abs=1e-4)
    np.testing.assert_allclose(g[0], [1.9604, 2.0064, 2.0064, 1.9604], atol=1e-4)


def test_interpolate_scale_factor_uses_its_own_coordinates():
    # PyTorch maps output i to floor(i / scale_factor), not floor(i * in / out)
    x = rustdl.arange(5.0).reshape(1, 1, 5)
    expect = [0, 0, 1, 1, 2, 2, 3, 4]
    np.testing.assert_array_equal(_np(F.interpolate(x, scale_factor=1.7))[0, 0], expect)
    np.testing.assert_array_equal(
        _np(F.interpolate(x.reshape(1, 1, 1, 5), scale_factor=(1, 1.7)))[0, 0, 0], expect
    )
    # recompute_scale_factor=True maps through in / out instead
    np.testing.assert_array_equal(
        _np(F.interpolate(x, scale_factor=1.7, recompute_scale_factor=True))[0, 0], [0, 0, 1, 1, 2, 3, 3, 4]
    )


def test_interpolate_1d_linear_area_and_5d_trilinear():
    x = rustdl.arange(4.0).reshape(1, 1, 4)
    np.testing.assert_allclose(
        _np(F.interpolate(x, size=7, mode="linear"))[0, 0],
        [0.0, 0.357143, 0.928571, 1.5, 2.071429, 2.642857, 3.0],
        atol=1e-5,
    )
    np.testing.assert_allclose(
        _np(F.interpolate(rustdl.arange(5.0).reshape(1, 1, 5), size=3, mode="area"))[0, 0], [0.5, 2, 3.5]
    )
    # trilinear with align_corners=True on a volume linear in each axis reproduces it exactly
    d, h, w = np.meshgrid(np.arange(2.0), np.arange(3.0), np.arange(4.0), indexing="ij")
    vol = rustdl.tensor((d + 2 * h + 3 * w)[None, None])
    out = _np(F.interpolate(vol, size=(3, 5, 7), mode="trilinear", align_corners=True))[0, 0]
    dd, hh, ww = np.meshgrid(np.linspace(0, 1, 3), np.linspace(0, 2, 5), np.linspace(0, 3, 7), indexing="ij")
    np.testing.assert_allclose(out, dd + 2 * hh + 3 * ww, atol=1e-5)
    up = nn.Upsample(scale_factor=2, mode="bicubic", align_corners=False)
    assert tuple(up(rustdl.randn(2, 3, 4, 5)).shape) == (2, 3, 8, 10)
    with pytest.raises(ValueError, match="bicubic"):
        F.interpolate(x, size=7, mode="bicubic")
