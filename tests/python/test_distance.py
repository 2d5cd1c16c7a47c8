"""F.normalize, F.cosine_similarity, F.pairwise_distance and their modules against numpy, with
float64 finite-difference gradients on the CPU and the GPU compared with the CPU."""

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
import rustdl.nn.functional as F


def _np_normalize(a, p, dim, eps):
    n = np.sum(np.abs(a) ** p, axis=dim, keepdims=True) ** (1.0 / p)
    return a / np.maximum(n, eps)


def _np_cosine(a, b, dim, eps):
    a, b = np.broadcast_arrays(a, b)
    na = np.maximum(np.linalg.norm(a, axis=dim), eps)
    nb = np.maximum(np.linalg.norm(b, axis=dim), eps)
    return np.sum(a * b, axis=dim) / (na * nb)


def _np_pairwise(a, b, p, eps, keepdim):
    d = np.abs(a - b + eps)
    return np.sum(d**p, axis=-1, keepdims=keepdim) ** (1.0 / p)


def _fd_grad(f, a, h=1e-6):
    """Central differences of sum(f(a)) in float64."""
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        up, dn = a.copy(), a.copy()
        up[i] += h
        dn[i] -= h
        g[i] = (np.sum(f(up)) - np.sum(f(dn))) / (2 * h)
    return g


CASES = [
    ("normalize p=2 dim=1", lambda x, y: F.normalize(x), lambda a, b: _np_normalize(a, 2.0, 1, 1e-12)),
    (
        "normalize p=1 dim=0",
        lambda x, y: F.normalize(x, p=1, dim=0),
        lambda a, b: _np_normalize(a, 1.0, 0, 1e-12),
    ),
    (
        "normalize p=3 dim=-1",
        lambda x, y: F.normalize(x, 3, -1),
        lambda a, b: _np_normalize(a, 3.0, -1, 1e-12),
    ),
    ("cosine dim=1", lambda x, y: F.cosine_similarity(x, y), lambda a, b: _np_cosine(a, b, 1, 1e-8)),
    ("cosine dim=0", lambda x, y: F.cosine_similarity(x, y, dim=0), lambda a, b: _np_cosine(a, b, 0, 1e-8)),
    (
        "pairwise p=2",
        lambda x, y: F.pairwise_distance(x, y),
        lambda a, b: _np_pairwise(a, b, 2.0, 1e-6, False),
    ),
    (
        "pairwise p=1 keepdim",
        lambda x, y: F.pairwise_distance(x, y, p=1.0, keepdim=True),
        lambda a, b: _np_pairwise(a, b, 1.0, 1e-6, True),
    ),
]


@pytest.mark.parametrize("name,fn,ref", CASES, ids=[c[0] for c in CASES])
def test_forward_and_gradient_against_numpy(name, fn, ref):
    rng = np.random.default_rng(3)
    a = rng.uniform(-2, 2, size=(4, 5))
    b = rng.uniform(-2, 2, size=(4, 5))
    x = rustdl.tensor(a, dtype=rustdl.float64, requires_grad=True)
    y = rustdl.tensor(b, dtype=rustdl.float64, requires_grad=True)
    out = fn(x, y)
    np.testing.assert_allclose(out.detach().numpy(), ref(a, b), rtol=1e-12, atol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _fd_grad(lambda v: ref(v, b), a), rtol=1e-6, atol=1e-7)
    if y.grad is not None:
        np.testing.assert_allclose(y.grad.numpy(), _fd_grad(lambda v: ref(a, v), b), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name,fn,ref", CASES, ids=[c[0] for c in CASES])
def test_gpu_matches_cpu(name, fn, ref, gpu):
    rng = np.random.default_rng(4)
    a = rng.uniform(-2, 2, size=(4, 5)).astype(np.float32)
    b = rng.uniform(-2, 2, size=(4, 5)).astype(np.float32)
    results = []
    for dev in ("cpu", "gpu"):
        x = rustdl.tensor(a, device=dev, requires_grad=True)
        y = rustdl.tensor(b, device=dev, requires_grad=True)
        out = fn(x, y)
        out.sum().backward()
        results.append((out.detach().cpu().numpy(), x.grad.cpu().numpy()))
    for c, g in zip(results[0], results[1]):
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-5)


def test_degenerate_vectors_follow_the_eps_bounds():
    # a zero vector: normalize gives 0 with gradient 1/eps; cosine similarity gives 0
    z = rustdl.zeros(2, 3, dtype=rustdl.float64, requires_grad=True)
    F.normalize(z).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), np.full((2, 3), 1e12))
    a = rustdl.tensor([[0.0, 0.0, 0.0]], dtype=rustdl.float64)
    b = rustdl.tensor([[1.0, 2.0, 3.0]], dtype=rustdl.float64)
    assert F.cosine_similarity(a, b).item() == 0.0


def test_modules_and_broadcasting():
    x = rustdl.randn(6, 8)
    y = rustdl.randn(1, 8)
    cos = nn.CosineSimilarity(dim=1)
    assert cos(x, y).shape == (6,)
    np.testing.assert_allclose(
        cos(x, y).numpy(), _np_cosine(x.numpy(), y.numpy(), 1, 1e-8), rtol=1e-5, atol=1e-6
    )
    pd = nn.PairwiseDistance(p=2.0, keepdim=True)
    assert pd(x, y).shape == (6, 1)
    assert "dim=1" in repr(cos) and "keepdim=True" in repr(pd)


def test_clamp_min_and_clamp_max_methods():
    t = rustdl.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    np.testing.assert_allclose(t.clamp_min(0.0).detach().numpy(), [0.0, 0.5, 3.0])
    np.testing.assert_allclose(t.clamp_max(1.0).detach().numpy(), [-2.0, 0.5, 1.0])
    t.clamp_min(0.0).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), [0.0, 1.0, 1.0])
