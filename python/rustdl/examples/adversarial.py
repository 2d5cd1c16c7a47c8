"""Adversarial examples against the demo classifier: FGSM and PGD, then FGSM adversarial training.

The demo CNN (:func:`rustdl.examples.fashion_mnist.build_model`) is trained on Fashion-MNIST for a
few epochs (or loaded from ``--checkpoint``, e.g. the demo's ``best.safetensors``). The attacks
work in pixel space, on images in [0, 1]: the normalisation sits inside the model
(:class:`Normalized`), so an ε-ball of radius 0.1 means 0.1 of the full pixel range.

- FGSM (Goodfellow et al., 2015): one step ``x + ε · sign(∇ₓ loss)``, clipped to [0, 1].
- PGD (Madry et al., 2018): a random start in the ε-ball, then ``steps`` signed-gradient steps of
  size α, each projected back onto the ε-ball around ``x`` and onto [0, 1].

The script prints accuracy against ε for both (a table and ``accuracy_vs_eps.png``), draws one
test image before and after the attack with the predicted labels (``example.png``), then
fine-tunes the classifier on half clean, half FGSM batches and reports the clean and robust
accuracy before and after. Plain FGSM training mostly teaches the model to mask its gradient (FGSM
accuracy rises far more than PGD accuracy); ``--random-start`` makes the training examples from a
random point of the ε-ball, which buys more robustness against PGD. Run it with::

    python -m rustdl.examples.adversarial [--epochs N] [--checkpoint best.safetensors] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

import rustdl
from rustdl import datasets, nn, optim
from rustdl.data import DataLoader, TensorDataset
from rustdl.examples.fashion_mnist import MEAN, STD, EpochLine, _images, build_model
from rustdl.nn import functional as F
from rustdl.train import fit

CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
EPSILONS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2)


class Normalized(nn.Module):
    """``net((x - MEAN) / STD)``: a classifier of pixel-space images in [0, 1].

    Shape:
        ``(N, 1, 28, 28)`` images in [0, 1] to ``(N, 10)`` class scores.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net((x - MEAN) * (1.0 / STD))


def input_gradient(model: nn.Module, x, y):
    """The gradient of the summed cross-entropy with respect to the images ``x``."""
    x = x.detach().clone().requires_grad_()
    loss = F.cross_entropy(model(x), y, reduction="sum")
    loss.backward()
    return x.grad


def fgsm(model: nn.Module, x, y, eps: float):
    """One signed-gradient step of size ``eps``, clipped to the pixel range [0, 1]."""
    if eps == 0:
        return x.detach().clone()
    return (x + eps * input_gradient(model, x, y).sign()).clamp(0.0, 1.0).detach()


def fgsm_random_start(
    model: nn.Module, x, y, eps: float, rng: np.random.Generator, alpha: float | None = None
):
    """FGSM from a uniform random point of the ε-ball, a step of ``alpha`` (``1.25 ε``), then
    projected (Wong et al., 2020: "Fast is better than free"); avoids the gradient masking that
    plain FGSM training tends to learn."""
    x = x.detach()
    if eps == 0:
        return x.clone()
    alpha = 1.25 * eps if alpha is None else alpha
    noise = rng.uniform(-eps, eps, size=tuple(x.shape)).astype(np.float32)
    start = project(x + rustdl.tensor(noise, device=x.device), x, eps)
    return project(start + alpha * input_gradient(model, start, y).sign(), x, eps).detach()


def project(x_adv, x, eps: float):
    """``x_adv`` moved to the nearest point of the ε-ball (L∞) around ``x`` inside [0, 1]."""
    lo, hi = (x - eps).clamp(0.0, 1.0), (x + eps).clamp(0.0, 1.0)
    return rustdl.minimum(rustdl.maximum(x_adv, lo), hi)


def pgd(model: nn.Module, x, y, eps: float, steps: int = 10, alpha: float | None = None, seed: int = 0):
    """Projected gradient descent on the loss (ascent): a uniform random start in the ε-ball, then
    ``steps`` signed-gradient steps of ``alpha`` (``2.5 ε / steps`` by default), each projected.

    Each image keeps the first iterate that the model misclassifies (so more steps never undo a
    success); the others keep the last iterate.
    """
    x = x.detach()
    if eps == 0:
        return x.clone()
    alpha = 2.5 * eps / steps if alpha is None else alpha
    noise = np.random.default_rng(seed).uniform(-eps, eps, size=tuple(x.shape)).astype(np.float32)
    x_adv = project(x + rustdl.tensor(noise, device=x.device), x, eps)
    done = rustdl.zeros(x.shape[0], dtype=rustdl.bool, device=x.device)
    keep = x_adv
    for _ in range(steps):
        step = project(x_adv + alpha * input_gradient(model, x_adv, y).sign(), x, eps)
        with rustdl.no_grad():
            wrong = model(step).argmax(1) != y
        keep = rustdl.where((done.logical_not() & wrong).reshape(-1, 1, 1, 1), step, keep)
        done = done | wrong
        keep = rustdl.where(done.reshape(-1, 1, 1, 1), keep, step)
        x_adv = step
    return keep.detach()


def robust_accuracy(
    model: nn.Module, x: np.ndarray, y: np.ndarray, attack: str, eps: float, batch: int = 500, steps: int = 10
):
    """Accuracy on ``attack`` (``"fgsm"`` or ``"pgd"``) examples at ``eps``, with the model in eval mode."""
    model.eval()
    correct = 0
    for b in range(0, len(x), batch):
        xb, yb = rustdl.tensor(x[b : b + batch]), rustdl.tensor(y[b : b + batch])
        adv = fgsm(model, xb, yb, eps) if attack == "fgsm" else pgd(model, xb, yb, eps, steps, seed=b)
        with rustdl.no_grad():
            correct += int((model(adv).argmax(1) == yb).sum().item())
    return correct / len(x)


def accuracy_table(
    model: nn.Module, x: np.ndarray, y: np.ndarray, epsilons=EPSILONS, steps: int = 10
) -> dict:
    """``{"fgsm": [...], "pgd": [...]}``: accuracy at each ε."""
    return {a: [robust_accuracy(model, x, y, a, e, steps=steps) for e in epsilons] for a in ("fgsm", "pgd")}


def adversarial_finetune(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    eps: float,
    epochs: int,
    lr: float,
    batch: int,
    seed: int,
    random_start: bool = False,
) -> None:
    """Trains on batches of clean images plus their FGSM versions (made at ``eps`` in eval mode),
    the loss being the mean of the clean and the adversarial cross-entropy (Goodfellow et al.);
    ``random_start`` makes the FGSM examples with :func:`fgsm_random_start`."""
    opt = optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    steps = epochs * (len(x) // batch)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    for epoch in range(epochs):
        start, total, order = time.perf_counter(), 0.0, rng.permutation(len(x))
        for b in range(0, len(x) - batch + 1, batch):
            i = order[b : b + batch]
            xb, yb = rustdl.tensor(x[i]), rustdl.tensor(y[i])
            model.eval()
            adv = fgsm_random_start(model, xb, yb, eps, rng) if random_start else fgsm(model, xb, yb, eps)
            model.train()
            opt.zero_grad()
            out = model(rustdl.cat([xb, adv]))
            loss = F.cross_entropy(out, rustdl.cat([yb, yb]))
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        print(
            f"adversarial epoch {epoch + 1}: mean loss {total / (len(x) // batch):.4f} ({time.perf_counter() - start:.1f} s)",
            flush=True,
        )
    model.eval()


def plot_accuracy(epsilons, before: dict, after: dict | None, path: Path) -> str:
    """Accuracy against ε for both attacks (and the adversarially trained model, when given)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(epsilons, before["fgsm"], "o-", color="C0", label="FGSM, standard training")
    ax.plot(epsilons, before["pgd"], "s--", color="C0", label="PGD, standard training")
    if after is not None:
        ax.plot(epsilons, after["fgsm"], "o-", color="C1", label="FGSM, adversarial training")
        ax.plot(epsilons, after["pgd"], "s--", color="C1", label="PGD, adversarial training")
    ax.set_xlabel("ε (L∞, pixel range 0..1)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("rustdl · Fashion-MNIST under attack")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return str(path)


def plot_example(
    x: np.ndarray, x_adv: np.ndarray, labels: tuple[str, str, str], eps: float, path: Path
) -> str:
    """Clean image, perturbation and adversarial image side by side, with the labels as titles."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    truth, before, after = labels
    fig = Figure(figsize=(7.5, 2.9))
    FigureCanvasAgg(fig)
    panels = (
        (x, f"clean: {before}\n(true: {truth})", "gray", 0, 1),
        (x_adv - x, f"perturbation (±{eps:g})", "coolwarm", -eps, eps),
        (x_adv, f"after the attack: {after}", "gray", 0, 1),
    )
    for k, (img, title, cmap, lo, hi) in enumerate(panels):
        ax = fig.add_subplot(1, 3, k + 1)
        ax.imshow(img, cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return str(path)


def train_classifier(x: np.ndarray, y: np.ndarray, epochs: int, lr: float, batch: int) -> nn.Module:
    """The demo CNN trained on pixel-space images (Adam, one-cycle schedule, no augmentation)."""
    model = Normalized(build_model())
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True, drop_last=True)
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, epochs=epochs, steps_per_epoch=len(loader), pct_start=0.25
    )
    fit(
        model,
        loader,
        nn.CrossEntropyLoss(),
        opt,
        epochs=epochs,
        scheduler=sched,
        callbacks=[EpochLine()],
        progress=False,
    )
    model.eval()
    return model


def _print_table(epsilons, rows: dict[str, list[float]]) -> None:
    print("   ε    " + "  ".join(f"{name:>9}" for name in rows))
    for k, e in enumerate(epsilons):
        print(f"  {e:<5g}" + "  ".join(f"{rows[name][k]:9.4f}" for name in rows))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description="FGSM and PGD against the demo classifier, then adversarial training."
    )
    parser.add_argument("--epochs", type=int, default=4, help="epochs of standard training")
    parser.add_argument(
        "--checkpoint", default=None, help="load the demo model's weights (safetensors) instead of training"
    )
    parser.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--test-size", type=int, default=2000, help="test images attacked")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--eps", type=float, nargs="+", default=list(EPSILONS), help="the ε grid")
    parser.add_argument("--pgd-steps", type=int, default=10)
    parser.add_argument(
        "--adv-eps", type=float, default=0.1, help="ε of adversarial training and of the before/after report"
    )
    parser.add_argument(
        "--adv-epochs", type=int, default=2, help="epochs of adversarial fine-tuning (0: skip)"
    )
    parser.add_argument("--adv-lr", type=float, default=1e-3)
    parser.add_argument(
        "--random-start",
        action="store_true",
        help="adversarial training on FGSM from a random point of the ε-ball (step 1.25 ε)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="./adversarial_out", help="folder for the PNGs")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    rustdl.manual_seed(args.seed)
    out = Path(args.out)
    if not args.no_plots:
        out.mkdir(parents=True, exist_ok=True)
    print(
        f"rustdl {rustdl.__version__} | {os.cpu_count()} CPU cores | "
        f"{platform.processor() or platform.machine()} | Python {platform.python_version()}"
    )
    (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist()
    if args.train_size is not None:
        x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.permutation(len(x_test))[: args.test_size])
    x_train, x_test, y_test = _images(x_train), _images(x_test[pick]), y_test[pick]

    if args.checkpoint:
        model = Normalized(build_model())
        model.net.load_state_dict(rustdl.load(args.checkpoint))
        model.eval()
        print(f"loaded {args.checkpoint}")
    else:
        print(f"training the demo classifier on {len(x_train)} images for {args.epochs} epochs")
        model = train_classifier(x_train, y_train, args.epochs, args.lr, args.batch_size)
    trained = time.perf_counter()

    eps = [float(e) for e in args.eps]
    before = accuracy_table(model, x_test, y_test, eps, args.pgd_steps)
    clean = robust_accuracy(model, x_test, y_test, "fgsm", 0.0)
    print(f"\nstandard training: clean accuracy {clean:.4f} on {len(x_test)} test images; under attack:")
    _print_table(eps, before)

    # one image the model gets right and the attack turns: the first such one, at adv-eps
    xt, yt = rustdl.tensor(x_test[:200]), rustdl.tensor(y_test[:200])
    adv = pgd(model, xt, yt, args.adv_eps, args.pgd_steps)
    with rustdl.no_grad():
        p_clean, p_adv = model(xt).argmax(1).numpy(), model(adv).argmax(1).numpy()
    fooled = np.flatnonzero((p_clean == y_test[:200]) & (p_adv != y_test[:200]))
    example = None
    if len(fooled):
        k = int(fooled[0])
        labels = (CLASSES[y_test[k]], CLASSES[p_clean[k]], CLASSES[p_adv[k]])
        print(
            f"test image {pick[k]}: {labels[0]}, predicted {labels[1]} clean and {labels[2]} after PGD at ε={args.adv_eps:g}"
        )
        if not args.no_plots:
            example = plot_example(x_test[k, 0], adv.numpy()[k, 0], labels, args.adv_eps, out / "example.png")

    result = {
        "epsilons": eps,
        "clean": clean,
        "fgsm": before["fgsm"],
        "pgd": before["pgd"],
        "train_time": trained - start,
    }
    after = None
    e = args.adv_eps
    if args.adv_epochs > 0:
        if e in eps:
            fgsm_before, pgd_before = before["fgsm"][eps.index(e)], before["pgd"][eps.index(e)]
        else:
            fgsm_before = robust_accuracy(model, x_test, y_test, "fgsm", e)
            pgd_before = robust_accuracy(model, x_test, y_test, "pgd", e, steps=args.pgd_steps)
        print(
            f"\nadversarial fine-tuning: {args.adv_epochs} epochs, half clean, half FGSM at ε={args.adv_eps:g}"
            + (" from a random start" if args.random_start else "")
        )
        adversarial_finetune(
            model,
            x_train,
            y_train,
            args.adv_eps,
            args.adv_epochs,
            args.adv_lr,
            args.batch_size,
            args.seed,
            args.random_start,
        )
        after = accuracy_table(model, x_test, y_test, eps, args.pgd_steps)
        adv_clean = robust_accuracy(model, x_test, y_test, "fgsm", 0.0)
        print(f"adversarial training: clean accuracy {adv_clean:.4f}; under attack:")
        _print_table(eps, after)
        if e in eps:
            fgsm_after, pgd_after = after["fgsm"][eps.index(e)], after["pgd"][eps.index(e)]
        else:
            fgsm_after = robust_accuracy(model, x_test, y_test, "fgsm", e)
            pgd_after = robust_accuracy(model, x_test, y_test, "pgd", e, steps=args.pgd_steps)
        print(f"\nat ε={e:g}            before   after")
        print(f"  clean accuracy   {clean:.4f}   {adv_clean:.4f}")
        print(f"  FGSM accuracy    {fgsm_before:.4f}   {fgsm_after:.4f}")
        print(f"  PGD-{args.pgd_steps} accuracy  {pgd_before:.4f}   {pgd_after:.4f}")
        result.update(
            adv_clean=adv_clean,
            adv_fgsm=after["fgsm"],
            adv_pgd=after["pgd"],
            fgsm_before=fgsm_before,
            pgd_before=pgd_before,
            fgsm_after=fgsm_after,
            pgd_after=pgd_after,
        )
    if not args.no_plots:
        curve = plot_accuracy(eps, before, after, out / "accuracy_vs_eps.png")
        print(f"plots: {curve}" + (f", {example}" if example else ""))
    wall = time.perf_counter() - start
    result["wall"] = wall
    print(f"wall time: {wall:.1f} s")
    return result


if __name__ == "__main__":
    main()
