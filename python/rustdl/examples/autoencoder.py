"""A convolutional autoencoder on Fashion-MNIST, and its denoising variant.

The encoder (two stride-2 convolutions and a linear layer) squeezes each 28×28 image into a 32-d
code; the decoder (a linear layer and two stride-2 transposed convolutions, sigmoid output)
rebuilds the image, trained with MSE against the input. The denoising variant sees inputs with
Gaussian noise added (``rustdl.data.transforms.GaussianNoise``) and learns to output the clean
image. It reports:

- the test reconstruction MSE of both, next to predicting the mean training image for every
  input (the denoiser measured on noisy test inputs against the clean images);
- how linearly separable the codes are: the same classifier (closed-form ridge regression on the
  one-hot labels of the training codes, numpy) on the 32-d codes and on 32 PCA components of the
  pixels (numpy SVD), by test accuracy;
- a PNG of test inputs against the reconstructions (and noisy inputs against the denoised ones).

Run it with::

    python -m rustdl.examples.autoencoder [--epochs N] [--train-size N] [--out FOLDER]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import rustdl
from rustdl import datasets, nn, optim
from rustdl.data import DataLoader, TensorDataset
from rustdl.data import transforms as T
from rustdl.train import fit


class ConvAutoencoder(nn.Module):
    """``(N, 1, 28, 28)`` in [0, 1] → 32-d code → ``(N, 1, 28, 28)`` in (0, 1).

    Encoder: conv 3×3 stride 2 (16) → ReLU → conv 3×3 stride 2 (32) → ReLU → linear to the code.
    Decoder: linear → ReLU → transposed conv stride 2 (16) → ReLU → transposed conv stride 2 (1)
    → sigmoid.
    """

    def __init__(self, code: int = 32, c1: int = 16, c2: int = 32) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1),  # 28 → 14
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),  # 14 → 7
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c2 * 7 * 7, code),
        )
        self.decoder = nn.Sequential(
            nn.Linear(code, c2 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (c2, 7, 7)),
            nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1),  # 7 → 14
            nn.ReLU(),
            nn.ConvTranspose2d(c1, 1, 3, stride=2, padding=1, output_padding=1),  # 14 → 28
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


def _images(x: np.ndarray) -> np.ndarray:
    """uint8 ``(N, 28, 28)`` to float32 ``(N, 1, 28, 28)`` in [0, 1]."""
    return (x.astype(np.float32) * np.float32(1 / 255))[:, None]


def run_batches(fn, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    """``fn`` over ``x`` in batches without gradients, as one numpy array."""
    with rustdl.no_grad():
        return np.concatenate([fn(rustdl.tensor(x[i : i + batch])).numpy() for i in range(0, len(x), batch)])


def pca(x_train: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the top-``k`` principal directions ``(k, D)`` of the rows of ``x_train``."""
    mean = x_train.mean(axis=0)
    _, _, vt = np.linalg.svd(x_train - mean, full_matrices=False)
    return mean, vt[:k]


def ridge_classifier_accuracy(
    f_train: np.ndarray, y_train: np.ndarray, f_test: np.ndarray, y_test: np.ndarray, lam: float = 1.0
) -> float:
    """Test accuracy of ridge regression on one-hot labels (features standardised on the training
    rows, an unpenalised intercept), predicting the class with the largest output."""
    mu, sd = f_train.mean(axis=0), f_train.std(axis=0) + 1e-8

    def design(f: np.ndarray) -> np.ndarray:
        return np.concatenate([(f - mu) / sd, np.ones((len(f), 1))], axis=1).astype(np.float64)

    a = design(f_train)
    penalty = lam * np.eye(a.shape[1])
    penalty[-1, -1] = 0.0
    onehot = np.eye(int(y_train.max()) + 1)[y_train]
    w = np.linalg.solve(a.T @ a + penalty, a.T @ onehot)
    return float(np.mean((design(f_test) @ w).argmax(axis=1) == y_test))


def train_autoencoder(x: np.ndarray, args: argparse.Namespace, noise: float) -> tuple[ConvAutoencoder, dict]:
    """Trains on ``x`` (input ``x`` plus N(0, noise²) when noise > 0, target the clean ``x``)."""
    rustdl.manual_seed(args.seed)
    transform = T.GaussianNoise(std=noise) if noise > 0 else None
    loader = DataLoader(
        TensorDataset(x, x, transform=transform), batch_size=args.batch_size, shuffle=True, seed=args.seed
    )
    model = ConvAutoencoder(args.code)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    history = fit(model, loader, nn.MSELoss(), opt, epochs=args.epochs, metrics=(), progress=False)
    model.eval()
    return model, history


def save_grid(rows: list[tuple[str, np.ndarray]], path: Path) -> str:
    """One row of images per ``(label, (n, 1, 28, 28) array)``, written as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(rows[0][1])
    fig = Figure(figsize=(1.1 * n, 1.25 * len(rows)))
    FigureCanvasAgg(fig)
    for r, (label, images) in enumerate(rows):
        for c in range(n):
            ax = fig.add_subplot(len(rows), n, r * n + c + 1)
            ax.imshow(np.clip(images[c, 0], 0, 1), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    return str(path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Convolutional (denoising) autoencoder on Fashion-MNIST.")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train-size", type=int, default=12000, help="training images used (of 60,000)")
    parser.add_argument("--test-size", type=int, default=10000, help="test images used (of 10,000)")
    parser.add_argument("--code", type=int, default=32, help="size of the code (and of the PCA)")
    parser.add_argument("--noise", type=float, default=0.3, help="std of the denoiser's input noise")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-denoising", action="store_true", help="skip the denoising variant")
    parser.add_argument("--out", default="./autoencoder_out", help="folder for the PNG")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist()
    x_train, y_train = _images(x_train[: args.train_size]), y_train[: args.train_size]
    x_test, y_test = _images(x_test[: args.test_size]), y_test[: args.test_size]
    print(f"Fashion-MNIST: {len(x_train)} training and {len(x_test)} test images")
    result: dict = {"mean_image_mse": float(np.mean((x_test - x_train.mean(axis=0)) ** 2))}

    model, history = train_autoencoder(x_train, args, noise=0.0)
    recon = run_batches(model, x_test)
    result["mse"] = float(np.mean((recon - x_test) ** 2))
    result["train_loss"] = history["loss"]
    print(
        f"autoencoder: test reconstruction MSE {result['mse']:.4f} "
        f"(mean image {result['mean_image_mse']:.4f}; train loss by epoch "
        + " ".join(f"{v:.4f}" for v in history["loss"])
        + ")"
    )

    # linear separability: the same classifier on the codes and on as many PCA components
    code_train = run_batches(model.encoder, x_train)
    code_test = run_batches(model.encoder, x_test)
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    mean, components = pca(flat_train, args.code)
    pca_train, pca_test = (flat_train - mean) @ components.T, (flat_test - mean) @ components.T
    result["code_accuracy"] = ridge_classifier_accuracy(code_train, y_train, code_test, y_test)
    result["pca_accuracy"] = ridge_classifier_accuracy(pca_train, y_train, pca_test, y_test)
    result["pca_mse"] = float(np.mean((pca_test @ components + mean - flat_test) ** 2))
    print(
        f"linear classifier (ridge on one-hot labels) test accuracy: {args.code}-d codes "
        f"{result['code_accuracy']:.4f}, {args.code} PCA components {result['pca_accuracy']:.4f} "
        f"(PCA reconstruction MSE {result['pca_mse']:.4f})"
    )

    rows = [("input", x_test[:10]), ("autoencoder", recon[:10])]
    if not args.no_denoising:
        denoiser, history = train_autoencoder(x_train, args, noise=args.noise)
        noisy = x_test + np.random.default_rng(args.seed).normal(0, args.noise, x_test.shape).astype(
            np.float32
        )
        denoised = run_batches(denoiser, noisy)
        result["denoise_mse"] = float(np.mean((denoised - x_test) ** 2))
        result["noisy_mse"] = float(np.mean((noisy - x_test) ** 2))
        result["denoiser_clean_mse"] = float(np.mean((run_batches(denoiser, x_test) - x_test) ** 2))
        print(
            f"denoising autoencoder (noise std {args.noise}): MSE of its output on noisy test inputs against "
            f"the clean images {result['denoise_mse']:.4f} (the noisy inputs themselves {result['noisy_mse']:.4f}); "
            f"on clean inputs {result['denoiser_clean_mse']:.4f}"
        )
        rows += [("noisy input", noisy[:10]), ("denoised", denoised[:10])]
    try:
        result["png"] = save_grid(rows, Path(args.out) / "reconstructions.png")
        print(f"inputs and reconstructions: {result['png']}")
    except ImportError as e:
        print(f"no PNG: {e}")
    print(f"wall time: {time.perf_counter() - start:.1f} s")
    return result


if __name__ == "__main__":
    main()
