"""GPU work per training step: the fused classification loss, the dispatch trace, and the
number of dispatches a step takes. Values are checked against numpy definitions and the CPU;
counts come from ``rustdl.gpu.trace()`` and ``rustdl.gpu.stats()``, never from timings."""

import collections
import itertools

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
import rustdl.nn.functional as F
from conftest import REQUIRE_GPU, gpu_available

pytestmark = pytest.mark.skipif(not gpu_available() and not REQUIRE_GPU, reason="no GPU adapter")


def ce_reference(x, t, w, reduction, smoothing, ignore=-100):
    """Cross-entropy as PyTorch defines it, in float64 numpy, with its gradient for a unit
    output gradient (per row for reduction='none')."""
    x = x.astype(np.float64)
    m, c = x.shape
    w = np.ones(c) if w is None else w.astype(np.float64)
    lse = np.log(np.exp(x - x.max(1, keepdims=True)).sum(1)) + x.max(1)
    logp = x - lse[:, None]
    valid = t != ignore
    safe = np.where(valid, t, 0)
    wt = w[safe] * valid
    nll = -logp[np.arange(m), safe] * wt
    smooth = -(logp * w).sum(1) / c * valid
    per = (1 - smoothing) * nll + smoothing * smooth
    onehot = np.zeros_like(x)
    onehot[np.arange(m), safe] = 1.0
    dlogp = -((1 - smoothing) * onehot * wt[:, None] + smoothing / c * w * valid[:, None])
    dx = dlogp - np.exp(logp) * dlogp.sum(1, keepdims=True)
    if reduction == "none":
        return per, dx
    if reduction == "sum":
        return per.sum(), dx
    total = wt.sum()
    return (per.sum() / total if total else np.nan), (dx / total if total else 0 * dx)


SHAPES = [(1, 1), (5, 3), (67, 10), (3, 129), (129, 67), (0, 4)]


@pytest.mark.parametrize(
    "shape,reduction,smoothing,weighted,ignored",
    [
        (s, r, sm, w, ig)
        for s, r, sm, w, ig in itertools.product(
            SHAPES, ["mean", "sum", "none"], [0.0, 0.3], [False, True], [False, True]
        )
    ],
)
def test_fused_cross_entropy_matches_numpy(shape, reduction, smoothing, weighted, ignored):
    rng = np.random.default_rng(sum(shape) + len(reduction))
    m, c = shape
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    t = rng.integers(0, c, m)
    if ignored:
        t[::2] = -100
    w = (rng.random(c) + 0.1).astype(np.float32) if weighted else None
    want, want_dx = ce_reference(x, t, w, reduction, smoothing)
    xt = rustdl.tensor(x, device="gpu", requires_grad=True)
    wt = None if w is None else rustdl.tensor(w, device="gpu")
    with rustdl.gpu.trace() as trace:
        loss = F.cross_entropy(
            xt, rustdl.tensor(t, device="gpu"), weight=wt, reduction=reduction, label_smoothing=smoothing
        )
        loss.sum().backward() if reduction == "none" else loss.backward()
    kernels = [k for k, _ in trace if k.startswith("class_loss")]
    # the loss is one kernel per row plus one total, its gradient one kernel
    assert len(kernels) == (2 if reduction == "none" else 3) or m == 0, kernels
    np.testing.assert_allclose(loss.detach().cpu().numpy(), want, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(xt.grad.cpu().numpy(), want_dx, rtol=2e-4, atol=2e-6)


def test_fused_nll_loss_on_log_probabilities_matches_cpu():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 7)).astype(np.float32)
    t = rng.integers(0, 7, 40)
    t[3] = 5
    g = rng.standard_normal(40).astype(np.float32)
    out = {}
    for dev in ["cpu", "gpu"]:
        xt = rustdl.tensor(x, device=dev, requires_grad=True)
        lp = F.log_softmax(xt, 1)
        w = rustdl.tensor(np.arange(1, 8, dtype=np.float32), device=dev)
        loss = F.nll_loss(lp, rustdl.tensor(t, device=dev), weight=w, ignore_index=5, reduction="none")
        (loss * rustdl.tensor(g, device=dev)).sum().backward()
        out[dev] = (loss.detach().cpu().numpy(), xt.grad.cpu().numpy())
    np.testing.assert_allclose(out["gpu"][0], out["cpu"][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["gpu"][1], out["cpu"][1], rtol=1e-4, atol=1e-6)
    assert out["gpu"][0][3] == 0.0


def test_fused_cross_entropy_edge_cases():
    x = rustdl.tensor(np.array([[1.0, 2.0, 3.0], [0.0, -np.inf, 1.0]], np.float32), device="gpu", requires_grad=True)
    # every row ignored: NaN mean, zero gradient (PyTorch's behaviour)
    loss = F.cross_entropy(x, rustdl.tensor(np.array([-100, -100]), device="gpu"))
    loss.backward()
    assert np.isnan(loss.item())
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.zeros((2, 3)))
    # a target whose probability is 0 costs inf; the other scores' gradients stay finite
    x.grad = None
    loss = F.cross_entropy(x, rustdl.tensor(np.array([2, 1]), device="gpu"))
    loss.backward()
    assert loss.item() == np.inf
    assert np.isfinite(x.grad.cpu().numpy()).all()
    for bad in [3, -1, 7]:
        with pytest.raises(IndexError, match="out of range for 3 classes"):
            F.cross_entropy(x, rustdl.tensor(np.array([0, bad]), device="gpu"))


def test_fused_cross_entropy_double_backward_matches_cpu():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    t = np.array([0, 1, 2, 4, -100, 3])
    out = {}
    for dev in ["cpu", "gpu"]:
        xt = rustdl.tensor(x, device=dev, requires_grad=True)
        w = rustdl.tensor(np.array([1, 2, 3, 4, 5], np.float32), device=dev)
        loss = F.cross_entropy(xt, rustdl.tensor(t, device=dev), weight=w, label_smoothing=0.1)
        (gx,) = rustdl.autograd.grad(loss, xt, create_graph=True)
        (gx * gx).sum().backward()
        out[dev] = xt.grad.cpu().numpy()
    np.testing.assert_allclose(out["gpu"], out["cpu"], rtol=1e-4, atol=1e-7)


def test_dispatch_trace_names_kernels_and_grids():
    a = rustdl.rand(300, device="gpu")
    b = rustdl.rand(300, device="gpu")
    with rustdl.gpu.trace() as t:
        (a * b).sum().item()
    # one elementwise product of 300 values (256 per workgroup), then its sum
    assert t[0] == ("binary_map", (2, 1, 1))
    assert t[-1][0].startswith("reduce")
    assert all(len(g) == 3 and min(g) >= 1 for _, g in t)
    with rustdl.gpu.trace() as t2:
        pass
    assert t2 == []
