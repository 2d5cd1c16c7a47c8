"""``plot_history``: training curves as a PNG (matplotlib is an optional dependency)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["plot_history"]


def plot_history(history: dict[str, list[float]], path: str | os.PathLike, title: str | None = None) -> str:
    """Writes the curves of a :func:`fit` history to a PNG: one panel for the loss, one per metric
    (train and validation together), and one for the learning rate when it changed.

    Args:
        history: the dict returned by ``fit``.
        path: the PNG file to write (its folder is created).
        title: an optional figure title.

    Returns:
        The path written.

    Raises:
        ImportError: matplotlib is missing (``pip install matplotlib``).

    Example:
        >>> plot_history(fit(...), "curves.png")
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plot_history needs matplotlib: install it with `pip install matplotlib`") from None
    if "loss" not in history or not history["loss"]:
        raise ValueError(
            f"plot_history: expected a fit() history with a non-empty 'loss', got keys {sorted(history)}"
        )
    skip = {"lr", "time"}
    bases = [k for k in history if not k.startswith("val_") and k not in skip]
    lrs = history.get("lr", [])
    panels = bases + (["lr"] if len(set(lrs)) > 1 else [])
    fig = Figure(figsize=(4.5 * len(panels), 3.6), dpi=100)
    FigureCanvasAgg(fig)
    epochs = list(range(1, len(history["loss"]) + 1))
    for i, key in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        if key == "lr":
            ax.plot(epochs, lrs, marker="o", color="tab:gray")
            ax.set_yscale("log")
        else:
            ax.plot(epochs[: len(history[key])], history[key], marker="o", label="train")
            if history.get(f"val_{key}"):
                ax.plot(
                    epochs[: len(history[f"val_{key}"])],
                    history[f"val_{key}"],
                    marker="o",
                    label="validation",
                )
            ax.legend()
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return os.fspath(path)
