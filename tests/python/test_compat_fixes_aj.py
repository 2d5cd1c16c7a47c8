"""Fixes and additions found by the 2026-12-07 (second) library and fuzzing rounds."""

from __future__ import annotations

import numpy as np
import pytest
import rustdl


@pytest.mark.parametrize(
    "bins, kw",
    [
        (3, {}),
        ([2, 4], {"range": [-1.0, 1.0, -2.0, 2.0]}),
        (3, {"density": True, "weighted": True}),
        ("edges", {}),
    ],
)
def test_histogramdd_matches_numpy(bins, kw):
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(60, 2))
    w = rng.random(60)
    kw = dict(kw)
    weighted = kw.pop("weighted", False)
    if bins == "edges":
        np_bins = [np.array([-3.0, 0.0, 3.0]), np.linspace(-1, 1, 5)]
        bins = [rustdl.tensor(e, dtype=rustdl.float64) for e in np_bins]
    else:
        np_bins = bins
    np_kw = dict(kw)
    if "range" in np_kw:
        r = np_kw.pop("range")
        np_kw["range"] = [(r[0], r[1]), (r[2], r[3])]
    if weighted:
        kw["weight"] = rustdl.tensor(w, dtype=rustdl.float64)
        np_kw["weights"] = w
    hist, edges = rustdl.histogramdd(rustdl.tensor(pts, dtype=rustdl.float64), bins, **kw)
    want_h, want_e = np.histogramdd(pts, np_bins, **np_kw)
    np.testing.assert_allclose(hist.numpy(), want_h)
    assert len(edges) == 2
    for e, we in zip(edges, want_e):
        np.testing.assert_allclose(e.numpy(), we)
    assert hist.dtype == rustdl.float64


def test_histogramdd_batched_points_empty_input_and_errors():
    x = rustdl.randn(4, 5, 3)
    hist, edges = rustdl.histogramdd(x, 2)
    assert tuple(hist.shape) == (2, 2, 2) and hist.sum().item() == 20
    assert all(tuple(e.shape) == (3,) for e in edges)
    hist, edges = rustdl.histogramdd(rustdl.zeros(0, 2), 2)
    assert hist.sum().item() == 0 and edges[0].tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(TypeError):
        rustdl.histogramdd(rustdl.arange(4).view(2, 2), 2)
    with pytest.raises(ValueError, match="one entry per dimension"):
        rustdl.histogramdd(x, [2])
    with pytest.raises(ValueError, match="positive"):
        rustdl.histogramdd(x, 0)
