"""The convolutional autoencoder example: shapes, PCA and the ridge classifier against exact cases,
and a short run on a slice of Fashion-MNIST whose reconstructions must beat the mean image by a
wide margin (the denoiser measured on noisy inputs against the clean images)."""

import os

import numpy as np
import pytest
import rustdl
from rustdl import datasets
from rustdl.examples import autoencoder as ae

HAVE_FASHION = os.environ.get("CI") == "true" or os.path.isdir(datasets.FASHION_MNIST_DIR)


def test_shapes_of_code_and_reconstruction():
    rustdl.manual_seed(0)
    model = ae.ConvAutoencoder(code=32)
    x = rustdl.rand(3, 1, 28, 28)
    assert tuple(model.encoder(x).shape) == (3, 32)
    out = model(x)
    assert tuple(out.shape) == (3, 1, 28, 28)
    assert 0 < out.min().item() and out.max().item() < 1  # sigmoid output


def test_pca_reconstructs_rank_k_data_and_ridge_separates_separable_classes():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 6)) + 5.0  # rank 2 around a mean
    mean, comps = ae.pca(x, 2)
    np.testing.assert_allclose(((x - mean) @ comps.T) @ comps + mean, x, atol=1e-9)
    y = (x[:, 0] > np.median(x[:, 0])).astype(np.int64)
    f = x[:, :1] + 0.0
    assert ae.ridge_classifier_accuracy(f, y, f, y, lam=1e-6) > 0.9


@pytest.mark.skipif(not HAVE_FASHION, reason="Debian package dataset-fashion-mnist not installed")
def test_short_run_reconstructs_far_better_than_the_mean_image(tmp_path):
    r = ae.main(
        ["--epochs", "3", "--train-size", "2000", "--test-size", "500", "--batch-size", "32"]
        + ["--out", str(tmp_path)]
    )
    # the mean image leaves MSE ~0.088; 3 epochs on 2,000 images reach ~0.024
    assert r["mse"] < 0.4 * r["mean_image_mse"], r
    assert r["train_loss"][-1] < r["train_loss"][0]
    # noisy inputs (std 0.3) are ~0.09 from the clean images; the denoiser's outputs ~0.027
    assert r["denoise_mse"] < 0.4 * r["noisy_mse"] and r["denoise_mse"] < 0.4 * r["mean_image_mse"], r
    assert 0.5 < r["code_accuracy"] and 0.5 < r["pca_accuracy"]  # both far above chance (0.1)
    assert os.path.getsize(r["png"]) > 1000 and r["png"].startswith(str(tmp_path))
