"""Overfitting and four remedies, on a small Fashion-MNIST training set.

A wide MLP (two hidden layers of ``--hidden`` units) trained on only ``--train-size`` images
(1,000 by default) memorises them: training accuracy reaches 100 % while validation accuracy
stalls far below. The same model and budget are then trained with one remedy at a time:

- ``none``: no help;
- ``dropout``: dropout after each hidden layer (``--dropout``);
- ``weight_decay``: AdamW's decoupled weight decay (``--weight-decay``);
- ``early_stopping``: ``EarlyStopping`` on the validation accuracy, best weights restored;
- ``augmentation``: random crops (padding ``--crop-padding``) and horizontal flips of every batch.

Each variant writes a PNG of its train/validation curves (``rustdl.train.plot_history``) to
``--out``; the table at the end lists the final accuracy on the (clean) training images, the
validation accuracy, their gap and the test accuracy on the 10,000 test images.

Run it with::

    python -m rustdl.examples.regularization [--epochs N] [--train-size N] [--out FOLDER]
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
from rustdl.train import EarlyStopping, evaluate, fit, plot_history

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-set pixel statistics (on the 0..1 scale)
VARIANTS = ("none", "dropout", "weight_decay", "early_stopping", "augmentation")


def build_mlp(hidden: int = 1024, dropout: float = 0.0) -> nn.Module:
    """``(N, 1, 28, 28)`` → flatten → [linear → ReLU → dropout] × 2 → linear → ``(N, 10)``."""

    def drop() -> list[nn.Module]:
        return [nn.Dropout(dropout)] if dropout > 0 else []

    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, hidden),
        nn.ReLU(),
        *drop(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        *drop(),
        nn.Linear(hidden, 10),
    )


def _images(x: np.ndarray) -> np.ndarray:
    """uint8 ``(N, 28, 28)`` to float32 ``(N, 1, 28, 28)`` in [0, 1]."""
    return (x.astype(np.float32) * np.float32(1 / 255))[:, None]


def train_variant(variant: str, data: dict, args: argparse.Namespace) -> dict:
    """Trains one variant from the same seed; returns its history and final accuracies."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    rustdl.manual_seed(args.seed)
    normalize = T.Normalize([MEAN], [STD])
    x, y = data["train"]
    transform = normalize
    if variant == "augmentation":
        transform = T.Compose(
            [T.RandomCrop(28, padding=args.crop_padding), T.RandomHorizontalFlip(), normalize]
        )
    loader = DataLoader(
        TensorDataset(x, y, transform=transform), batch_size=args.batch_size, shuffle=True, seed=args.seed
    )
    clean = {k: DataLoader(TensorDataset(*data[k], transform=normalize), batch_size=1000) for k in data}
    model = build_mlp(args.hidden, args.dropout if variant == "dropout" else 0.0)
    decay = args.weight_decay if variant == "weight_decay" else 0.0
    opt = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=decay)
    callbacks = []
    if variant == "early_stopping":
        callbacks.append(
            EarlyStopping(
                monitor="val_accuracy", mode="max", patience=args.patience, restore_best_weights=True
            )
        )
    history = fit(
        model,
        loader,
        nn.CrossEntropyLoss(),
        opt,
        epochs=args.epochs,
        val_loader=clean["val"],
        callbacks=callbacks,
        progress=False,
    )
    out = {
        "history": history,
        "train_accuracy": evaluate(model, clean["train"])["accuracy"],
        **{f"val_{k}": v for k, v in evaluate(model, clean["val"], nn.CrossEntropyLoss()).items()},
        "test_accuracy": evaluate(model, clean["test"])["accuracy"],
        "epochs_run": len(history["loss"]),
    }
    out["gap"] = out["train_accuracy"] - out["val_accuracy"]
    if callbacks:
        out["best_epoch"] = callbacks[0].best_epoch
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Overfitting and regularisation of a wide MLP with rustdl.")
    parser.add_argument("--train-size", type=int, default=1000, help="training images (the first N)")
    parser.add_argument(
        "--val-size", type=int, default=5000, help="validation images (the last N of the 60,000)"
    )
    parser.add_argument("--test-size", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--weight-decay", type=float, default=5.0, help="AdamW's decoupled weight decay")
    parser.add_argument("--patience", type=int, default=8, help="early-stopping patience (epochs)")
    parser.add_argument(
        "--crop-padding", type=int, default=1, help="augmentation: random crops of the padded image"
    )
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated subset of " + ", ".join(VARIANTS)
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="./regularization_out", help="folder for the PNGs")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist()
    n = args.train_size
    data = {
        "train": (_images(x_train[:n]), y_train[:n]),
        "val": (_images(x_train[-args.val_size :]), y_train[-args.val_size :]),
        "test": (_images(x_test[: args.test_size]), y_test[: args.test_size]),
    }
    print(
        f"Fashion-MNIST: {n} training, {args.val_size} validation, {len(data['test'][1])} test images; "
        f"MLP 784-{args.hidden}-{args.hidden}-10, {args.epochs} epochs"
    )
    results: dict = {}
    out = Path(args.out)
    for variant in args.variants.split(","):
        t0 = time.perf_counter()
        r = train_variant(variant, data, args)
        r["time"] = time.perf_counter() - t0
        try:
            r["png"] = plot_history(
                r["history"], out / f"{variant}.png", title=f"wide MLP on {n} images: {variant}"
            )
        except ImportError as e:
            r["png"] = f"not drawn ({e})"
        results[variant] = r
        print(
            f"{variant}: {r['epochs_run']} epochs, train {r['train_accuracy']:.4f}, val {r['val_accuracy']:.4f}, "
            f"test {r['test_accuracy']:.4f} ({r['time']:.0f} s; curves {r['png']})",
            flush=True,
        )
    print(
        f"\n{'variant':<16}{'train acc':>10}{'val acc':>10}{'gap':>8}{'val loss':>10}{'test acc':>10}{'epochs':>8}"
    )
    for variant, r in results.items():
        print(
            f"{variant:<16}{r['train_accuracy']:>10.4f}{r['val_accuracy']:>10.4f}{r['gap']:>8.4f}{r['val_loss']:>10.4f}"
            f"{r['test_accuracy']:>10.4f}{r['epochs_run']:>8d}"
        )
    print(f"wall time: {time.perf_counter() - start:.1f} s")
    return results


if __name__ == "__main__":
    main()
