"""Shows each augmentation of ``rustdl.data.transforms`` on a few Fashion-MNIST images and writes a
PNG grid (one row per transform). Every row is one vectorised call on the whole batch.

    python examples/augmentations.py [--out runs/augmentations.png]
"""

import argparse
from pathlib import Path

import numpy as np
import rustdl
from rustdl import datasets
from rustdl.data import transforms as T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/augmentations.png")
    parser.add_argument("--n", type=int, default=8, help="images per row")
    args = parser.parse_args()
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise SystemExit("this example needs matplotlib: pip install matplotlib") from None

    rustdl.manual_seed(0)
    (x, _), _ = datasets.fashion_mnist()
    batch = (x[: args.n].astype(np.float32) / 255.0)[:, None]  # (N, 1, 28, 28)
    rows = {
        "original": batch,
        "RandomHorizontalFlip": T.RandomHorizontalFlip()(batch),
        "RandomCrop(28, padding=4)": T.RandomCrop(28, padding=4)(batch),
        "RandomResizedCrop(28, (0.4, 1))": T.RandomResizedCrop(28, scale=(0.4, 1.0))(batch),
        "RandomRotation(30)": T.RandomRotation(30)(batch),
        "RandomAffine(15, (0.15, 0.15), (0.8, 1.2))": T.RandomAffine(15, (0.15, 0.15), (0.8, 1.2))(batch),
        "GaussianNoise(0.1)": np.clip(T.GaussianNoise(0.1)(batch), 0, 1),
    }
    fig = Figure(figsize=(1.2 * args.n + 2.5, 1.3 * len(rows)), dpi=100)
    FigureCanvasAgg(fig)
    for r, (name, images) in enumerate(rows.items()):
        for c in range(args.n):
            ax = fig.add_subplot(len(rows), args.n, r * args.n + c + 1)
            ax.imshow(images[c, 0], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
