"""Trains a small CNN on the full Fashion-MNIST and reports its test accuracy (the main demo).

Everything a user touches first is in play: the real dataset from the Debian package, a
validation split, batch augmentation (random crop + horizontal flip, vectorised), a one-cycle
learning-rate schedule, early stopping, the best checkpoint as safetensors, a progress bar per
epoch and a PNG of the training curves.

Run it with ``make demo`` or::

    python -m rustdl.examples.fashion_mnist [--device gpu] [--epochs N]

It ends by printing ``test accuracy: 0.XXXX`` and the wall time.

With ``--distributed`` it trains data-parallel on the ranks of an MPI job
(``mpiexec -n 2 python -m rustdl.examples.fashion_mnist --distributed``; one process works too):
the model is wrapped in ``DistributedDataParallel``, each rank trains on its
``DistributedSampler`` share with ``--batch-size`` split between the ranks (so the steps and
the schedule are those of one process), validation and test sets are split between the ranks
and their metrics averaged, and rank 0 alone prints, writes the checkpoint and draws the curves.
"""

from __future__ import annotations

import argparse
import builtins
import os
import platform
import time
from pathlib import Path

import numpy as np

import rustdl
import rustdl.distributed as dist
from rustdl import datasets, nn, optim
from rustdl.data import DataLoader, DistributedSampler, Subset, TensorDataset, random_split
from rustdl.data import transforms as T
from rustdl.nn.parallel import DistributedDataParallel
from rustdl.train import Callback, EarlyStopping, ModelCheckpoint, evaluate, fit, plot_history

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-set pixel statistics (on the 0..1 scale)


def build_model(c1: int = 16, c2: int = 32, hidden: int = 128, dropout: float = 0.0) -> nn.Module:
    """Two conv blocks and a small classifier head (about 207 K parameters with the defaults).

    Each block is conv 3×3 → max-pool 2 → batch-norm → ReLU. Pooling before the normalisation and
    the ReLU (instead of after) gives the same kind of features on a quarter of the pixels, which
    makes the step much cheaper on the CPU.

    Shape:
        ``(N, 1, 28, 28)`` images to ``(N, 10)`` class scores.
    """
    head = [nn.Dropout(dropout)] if dropout > 0 else []
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(c1),
        nn.ReLU(),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(c2),
        nn.ReLU(),
        nn.Flatten(),
        *head,
        nn.Linear(c2 * 7 * 7, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 10),
    )


def _any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on some rank (without ``--distributed``: ``flag``)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return flag
    t = rustdl.tensor([int(flag)])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def _rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


class EpochLine(Callback):
    """Prints one line per epoch (used when the progress bars are off; rank 0 only)."""

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if _rank() != 0:
            return
        shown = "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if k not in ("lr", "time"))
        print(f"epoch {epoch + 1}: {shown}  lr {logs['lr']:.2e}  ({logs['time']:.1f} s)", flush=True)


class TimeBudget(Callback):
    """Stops training before an epoch that would end past ``seconds`` after ``start``."""

    def __init__(self, seconds: float, start: float, epochs: int):
        self.seconds, self.start, self.epochs = seconds, start, epochs

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        elapsed = time.perf_counter() - self.start
        # under --distributed the ranks must agree: stop when any rank's clock says so
        if _any_rank(epoch + 1 < self.epochs and elapsed + logs["time"] > self.seconds):
            self.stop_training = True
            if _rank() == 0:
                print(
                    f"TimeBudget: stopping after epoch {epoch + 1}: another epoch would pass the {self.seconds:.0f} s budget"
                )


def _images(x: np.ndarray) -> np.ndarray:
    """uint8 ``(N, 28, 28)`` to float32 ``(N, 1, 28, 28)`` in [0, 1]."""
    return (x.astype(np.float32) * np.float32(1 / 255))[:, None]


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description="Train a small CNN on Fashion-MNIST with rustdl.")
    parser.add_argument("--device", default="cpu", help="cpu or gpu")
    parser.add_argument("--epochs", type=int, default=12, help="maximum number of epochs")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=4e-3, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--patience", type=int, default=3, help="early-stopping patience (epochs)")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--no-augment", action="store_true", help="train without augmentation")
    parser.add_argument("--budget", type=float, default=570.0, help="stop before passing this many seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--train-size", type=int, default=None, help="use only the first N training images (quick checks)"
    )
    parser.add_argument(
        "--test-size", type=int, default=None, help="evaluate only the first N test images (quick checks)"
    )
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over the ranks of an MPI job (mpiexec -n N ...; --batch-size is the global batch)",
    )
    parser.add_argument(
        "--out", default="runs/fashion_mnist", help="folder for the checkpoint and the curves"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    rustdl.manual_seed(args.seed)
    if args.device != "cpu" and not rustdl.gpu.is_available():
        parser.error(f"--device {args.device}: no GPU adapter found (see rustdl.gpu.is_available())")
    rank, world = 0, 1
    if args.distributed:
        dist.init_process_group("mpi")
        rank, world = dist.get_rank(), dist.get_world_size()
        if args.batch_size % world:
            parser.error(f"--batch-size {args.batch_size} must be a multiple of the {world} processes")

    def print(*values: object) -> None:  # noqa: A001 (rank 0 speaks for the job)
        if rank == 0:
            builtins.print(*values, flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"rustdl {rustdl.__version__} | device {args.device} | {os.cpu_count()} CPU cores | "
        f"{platform.processor() or platform.machine()} | Python {platform.python_version()}"
        + (f" | {world} processes (MPI)" if args.distributed else "")
    )

    (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist()
    if args.train_size is not None:
        x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    if args.test_size is not None:
        x_test, y_test = x_test[: args.test_size], y_test[: args.test_size]
    x_train, x_test = _images(x_train), _images(x_test)
    print(f"Fashion-MNIST: {len(x_train)} training and {len(x_test)} test images")

    normalize = T.Normalize([MEAN], [STD])
    augment = T.Compose([T.RandomCrop(28, padding=2), T.RandomHorizontalFlip(), normalize])
    train_transform = normalize if args.no_augment else augment
    split_train, split_val = random_split(
        TensorDataset(x_train, y_train, transform=normalize),
        [1 - args.val_fraction, args.val_fraction],
        seed=args.seed,
    )
    train_set = Subset(TensorDataset(x_train, y_train, transform=train_transform), split_train.indices)
    test_set = TensorDataset(x_test, y_test, transform=normalize)
    n_val = len(split_val)
    if args.distributed:
        # each rank: a 1/world share of every epoch's shuffle, and of the validation and test sets
        # (fit and evaluate(distributed=True) average the metrics over the ranks' samples)
        sampler = DistributedSampler(train_set, shuffle=True, seed=args.seed, drop_last=True)
        train_loader = DataLoader(
            train_set, batch_size=args.batch_size // world, sampler=sampler, drop_last=True
        )
        split_val = Subset(split_val, list(range(rank, len(split_val), world)))
        test_set = Subset(test_set, list(range(rank, len(test_set), world)))
    else:
        train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    val_loader = DataLoader(split_val, batch_size=1000)
    test_loader = DataLoader(test_set, batch_size=1000)

    model = build_model().to(args.device)
    if args.distributed:
        model = DistributedDataParallel(model)  # rank 0's initial weights on every rank
        rustdl.manual_seed(args.seed + rank)  # a different augmentation on each rank
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"model: {n_params} parameters; train {len(train_set)}, validation {n_val}; augmentation: {train_transform}"
    )
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=len(train_loader), pct_start=0.25
    )
    checkpoint = ModelCheckpoint(out / "best.safetensors", monitor="val_loss")
    callbacks = [EpochLine()] if args.no_progress else []
    callbacks += [
        EarlyStopping(monitor="val_loss", patience=args.patience, verbose=True),
        checkpoint,
        TimeBudget(args.budget, start, args.epochs),
    ]
    history = fit(
        model,
        train_loader,
        loss_fn,
        optimizer,
        epochs=args.epochs,
        val_loader=val_loader,
        callbacks=callbacks,
        device=args.device,
        scheduler=scheduler,
        progress=not args.no_progress,
        # on the GPU the training step is captured once and replayed (rustdl.gpu.Graph)
        capture=args.device != "cpu",
    )
    try:
        curves = (
            plot_history(history, out / "curves.png", title="rustdl · Fashion-MNIST") if rank == 0 else ""
        )
    except ImportError as e:
        curves = f"not drawn ({e})"

    if rank == 0:  # only rank 0 wrote the checkpoint (the folder need not be shared)
        model.load_state_dict(rustdl.load(checkpoint.best_path, device=args.device))
    if args.distributed:
        for _, t in [*model.module.named_parameters(), *model.module.named_buffers()]:
            dist.broadcast(t, src=0)
    test = evaluate(model, test_loader, loss_fn, device=args.device, distributed=args.distributed)
    wall = time.perf_counter() - start
    epoch_times = history["time"]
    print(
        f"best epoch {checkpoint.best_epoch + 1} (val_loss {checkpoint.best:.4f}); checkpoint {checkpoint.best_path}; "
        f"curves {curves}"
    )
    print(f"epochs run: {len(epoch_times)}, mean epoch time {np.mean(epoch_times):.1f} s")
    print(f"test loss: {test['loss']:.4f}")
    print(f"test accuracy: {test['accuracy']:.4f}")
    print(f"wall time: {wall:.1f} s")
    if args.distributed:
        dist.destroy_process_group()
    return test["accuracy"]


if __name__ == "__main__":
    main()
