"""The DCGAN example: output shapes, each optimizer moving only its own network (the fakes reach
the discriminator step detached), the sample-quality scores against their closed forms, and a short
seeded run on a slice of Fashion-MNIST whose discriminator beats chance and whose samples move
towards the real images."""

import math
import os

import numpy as np
import pytest
import rustdl
from rustdl import datasets
from rustdl.examples import gan

# CI installs every dataset package, so there a missing one fails the tests instead of skipping them
HAVE_FASHION = os.environ.get("CI") == "true" or os.path.isdir(datasets.FASHION_MNIST_DIR)


def _params(module):
    return [p.detach().numpy().copy() for p in module.parameters()]


def _grads(module):
    return [None if p.grad is None else p.grad.numpy().copy() for p in module.parameters()]


def _same(a, b):
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def test_generator_and_discriminator_shapes():
    rustdl.manual_seed(0)
    G, D = gan.Generator(z_dim=16, width=8), gan.Discriminator(width=8)
    gan.init_weights(G)
    x = G(rustdl.randn(5, 16))
    assert x.shape == (5, 1, 28, 28)
    assert float(x.abs().max().item()) <= 1.0  # tanh output
    assert D(x).shape == (5, 1)
    imgs = gan.sample(G, 7, seed=3, batch=4)
    assert imgs.shape == (7, 1, 28, 28) and G.training  # sampling restores the training mode
    np.testing.assert_array_equal(imgs, gan.sample(G, 7, seed=3, batch=4))  # seeded, eval-mode BN


def test_each_optimizer_moves_only_its_own_network():
    rustdl.manual_seed(0)
    G, D = gan.Generator(z_dim=16, width=8), gan.Discriminator(width=8)
    gan.init_weights(G)
    gan.init_weights(D)
    opt_g = rustdl.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = rustdl.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = rustdl.rand(8, 1, 28, 28) * 2 - 1
    g0, d0 = _params(G), _params(D)
    for _ in range(3):
        fake = G(rustdl.randn(8, 16))
        g_before, d_before, g_grads = _params(G), _params(D), _grads(G)
        gan.d_step(D, opt_d, real, fake)
        # the detached fakes: D's loss sent no gradient into G, and D's step left G bit-identical
        after = _grads(G)
        assert all((a is None and b is None) or np.array_equal(a, b) for a, b in zip(g_grads, after))
        assert _same(_params(G), g_before)
        assert not _same(_params(D), d_before)
        d_before = _params(D)
        gan.g_step(D, opt_g, fake)
        # G's step: gradients reached G through D, only G moved
        assert all(p.grad is not None for p in G.parameters())
        assert _same(_params(D), d_before)
        assert not _same(_params(G), g_before)
    changed = lambda a, b: all(not np.array_equal(x, y) for x, y in zip(a, b))  # noqa: E731
    assert changed(_params(G), g0) and changed(_params(D), d0)  # every tensor of both moved


def test_quality_scores_closed_form():
    eye = np.eye(10)
    # one-hot outputs spread evenly over 4 classes: IS = 4, coverage 4/10, confidence 1
    s = gan.quality_scores(eye[np.repeat([0, 3, 5, 9], 25)])
    assert s["inception_score"] == pytest.approx(4.0, rel=1e-9)
    assert s["coverage"] == pytest.approx(0.4) and s["confidence"] == pytest.approx(1.0)
    # one-hot with shares q: IS = exp(H(q)); a class under 1 % of the samples does not count
    labels = np.repeat([1, 2, 7, 8], [500, 300, 195, 5])
    q = np.array([0.5, 0.3, 0.195, 0.005])
    s = gan.quality_scores(eye[labels])
    assert s["inception_score"] == pytest.approx(math.exp(-(q * np.log(q)).sum()), rel=1e-6)
    assert s["coverage"] == pytest.approx(0.3)
    assert s["class_shares"][8] == pytest.approx(0.005)
    # uniform outputs: nothing is learnt, IS = 1, confidence 1/10
    s = gan.quality_scores(np.full((50, 10), 0.1))
    assert s["inception_score"] == pytest.approx(1.0) and s["confidence"] == pytest.approx(0.1)
    # the same soft output for every sample: KL to the marginal is 0 whatever its confidence
    p = np.array([0.7, 0.2, 0.1] + [0.0] * 7)
    assert gan.quality_scores(np.tile(p, (20, 1)))["inception_score"] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.skipif(not HAVE_FASHION, reason="Debian package dataset-fashion-mnist not installed")
def test_short_run_discriminator_beats_chance_and_samples_move_towards_the_data(tmp_path):
    n = 3000
    r = gan.main(
        ["--steps", "150", "--train-size", str(n), "--batch", "64", "--g-width", "32"]
        + ["--clf-epochs", "2", "--n-samples", "1000", "--log-every", "10", "--out", str(tmp_path)]
    )
    assert r["steps"] == 150
    # D separates real from fake well above chance (1/2) at some point of the run
    best = max((h["d_acc_real"] + h["d_acc_fake"]) / 2 for h in r["history"])
    assert best > 0.75, r["history"]
    # the trained generator's mean image is much closer to the data's than an untrained one's
    (x, _), _ = datasets.fashion_mnist()
    real_mean = gan.to_unit(x[:n]).mean(axis=0)
    rustdl.manual_seed(0)
    untrained = gan.Generator(64, 32)
    gan.init_weights(untrained)
    dist = lambda g: float(np.sqrt(((gan.sample(g, 500).mean(axis=0) - real_mean) ** 2).mean()))  # noqa: E731
    assert dist(r["generator"]) < 0.6 * dist(untrained), (dist(r["generator"]), dist(untrained))
    # the scores: real images are scored confidently and cover every class
    assert r["real"]["coverage"] == 1.0 and r["real"]["inception_score"] > 3.0, r["real"]
    assert r["untrained"]["inception_score"] < 1.5, r["untrained"]
    # 150 steps already spread the samples over most classes; the untrained generator's grey
    # blobs all fall in one
    assert r["scores"]["coverage"] >= r["untrained"]["coverage"] + 0.4, (r["scores"], r["untrained"])
    assert r["scores"]["inception_score"] > r["untrained"]["inception_score"], r["scores"]
    assert (tmp_path / "epoch_001.png").is_file() and (tmp_path / "final.png").is_file()
    assert (tmp_path / "classifier.safetensors").is_file()
