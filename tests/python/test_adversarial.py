"""The adversarial-examples example: FGSM (plain and from a random start) and PGD stay inside the ε-ball and the pixel range, the
input gradient matches finite differences, and a short run on the real data where the attacks work
(FGSM far below clean accuracy, PGD at most FGSM) and adversarial training buys robustness."""

import os

import numpy as np
import pytest
import rustdl
from rustdl import datasets
from rustdl.examples import adversarial as adv
from rustdl.examples.fashion_mnist import build_model
from rustdl.nn import functional as F

HAVE_FASHION = os.environ.get("CI") == "true" or os.path.isdir(datasets.FASHION_MNIST_DIR)


def _model_and_batch(n=16):
    rustdl.manual_seed(0)
    model = adv.Normalized(build_model())
    model.eval()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(n, 1, 28, 28)).astype(np.float32)
    x[:, :, :5] = 0.0  # pixels on both edges of the range, where clipping matters
    x[:, :, -5:] = 1.0
    return model, rustdl.tensor(x), rustdl.tensor(rng.integers(0, 10, size=n))


@pytest.mark.parametrize("eps", [0.0, 0.03, 0.1, 0.3])
def test_attacks_stay_in_the_eps_ball_and_the_pixel_range(eps):
    model, x, y = _model_and_batch()
    rs = adv.fgsm_random_start(model, x, y, eps, np.random.default_rng(0))
    for x_adv in (adv.fgsm(model, x, y, eps), adv.pgd(model, x, y, eps, steps=5, seed=1), rs):
        a, x0 = x_adv.numpy(), x.numpy()
        assert np.abs(a - x0).max() <= eps + 1e-6
        assert a.min() >= 0.0 and a.max() <= 1.0
        assert not x_adv.requires_grad
        if eps == 0:
            np.testing.assert_array_equal(a, x0)
    # FGSM moves every pixel not clipped by the range by exactly ±ε
    a = adv.fgsm(model, x, y, 0.1).numpy()[:, :, 10:18]
    moved = np.abs(a - x.numpy()[:, :, 10:18])
    inside = (x.numpy()[:, :, 10:18] > 0.1) & (x.numpy()[:, :, 10:18] < 0.9)
    np.testing.assert_allclose(moved[inside], 0.1, atol=1e-6)


def test_input_gradient_matches_finite_differences():
    model, x, y = _model_and_batch(4)
    g = adv.input_gradient(model, x, y).numpy()
    assert g.shape == tuple(x.shape) and x.grad is None  # the caller's tensor is left alone
    base = x.numpy().astype(np.float64)
    for i, j in ((0, 300), (2, 420), (3, 500)):
        d = np.zeros_like(base)
        d.reshape(4, -1)[i, j] = 1e-2
        with rustdl.no_grad():
            up = F.cross_entropy(
                model(rustdl.tensor((base + d).astype(np.float32))), y, reduction="sum"
            ).item()
            dn = F.cross_entropy(
                model(rustdl.tensor((base - d).astype(np.float32))), y, reduction="sum"
            ).item()
        assert abs((up - dn) / 2e-2 - g.reshape(4, -1)[i, j]) < 2e-3 + 0.05 * abs(g.reshape(4, -1)[i, j])


@pytest.mark.skipif(not HAVE_FASHION, reason="Debian package dataset-fashion-mnist not installed")
def test_short_run_attacks_work_and_adversarial_training_helps(tmp_path):
    r = adv.main(
        ["--train-size", "5000", "--epochs", "1", "--test-size", "400", "--eps", "0", "0.05", "0.1"]
        + ["--adv-epochs", "1", "--out", str(tmp_path)]
    )
    clean, fgsm, pgd = r["clean"], r["fgsm"], r["pgd"]
    assert clean > 0.7, r  # one epoch on 5,000 images
    assert fgsm[0] == pgd[0] == clean  # ε = 0 is no attack
    assert fgsm[2] < clean - 0.25, r  # FGSM at ε = 0.1 costs far more than noise would
    for f, p in zip(fgsm, pgd):
        assert p <= f + 0.01, r  # PGD is the stronger attack
    assert fgsm[1] >= fgsm[2] and pgd[1] >= pgd[2]  # a larger ball, a lower accuracy
    # one epoch of FGSM training: robust accuracy at ε = 0.1 rises, clean accuracy holds
    assert r["fgsm_after"] > r["fgsm_before"] + 0.1, r
    assert r["pgd_after"] > r["pgd_before"], r
    assert r["adv_clean"] > clean - 0.05, r
    assert (tmp_path / "accuracy_vs_eps.png").stat().st_size > 10_000
    assert (tmp_path / "example.png").is_file()
