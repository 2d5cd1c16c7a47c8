"""``torchvision.utils``: ``make_grid`` and ``save_image`` (PNG through Pillow)."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

import rustdl

__all__ = ["make_grid", "save_image"]


def _to_numpy(tensor: Any) -> np.ndarray:
    if isinstance(tensor, (list, tuple)):
        return np.stack([_to_numpy(t) for t in tensor])
    if isinstance(tensor, rustdl.Tensor):
        return tensor.detach().cpu().numpy()
    return np.asarray(tensor)


def _grid(
    a: np.ndarray,
    nrow: int,
    padding: int,
    normalize: bool,
    value_range: tuple[float, float] | None,
    scale_each: bool,
    pad_value: float,
) -> np.ndarray:
    a = a.astype(np.float32)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:  # one (C, H, W) image, whatever C is
        a = a[None]
    if a.shape[1] == 1:
        a = np.repeat(a, 3, axis=1)
    if normalize:

        def norm(x: np.ndarray) -> np.ndarray:
            lo, hi = value_range if value_range is not None else (float(x.min()), float(x.max()))
            return np.clip((x - lo) / max(hi - lo, 1e-5), 0.0, 1.0)

        a = np.stack([norm(x) for x in a]) if scale_each else norm(a)
    if a.shape[0] == 1:  # one image is returned as it is (no border), as torchvision does
        return a[0]
    n, c, h, w = a.shape
    cols = min(nrow, n)
    rows = int(math.ceil(n / cols))
    hh, ww = h + padding, w + padding
    grid = np.full((c, rows * hh + padding, cols * ww + padding), pad_value, dtype=np.float32)
    for k in range(n):
        r, q = divmod(k, cols)
        grid[:, r * hh + padding : r * hh + padding + h, q * ww + padding : q * ww + padding + w] = a[k]
    return grid


def make_grid(
    tensor: Any,
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0.0,
    **kwargs: Any,
) -> rustdl.Tensor:
    """Tiles a batch ``(N, C, H, W)`` into one ``(3, H', W')`` image, ``nrow`` images a row."""
    return rustdl.from_numpy(
        _grid(_to_numpy(tensor), nrow, padding, normalize, value_range, scale_each, pad_value)
    )


def save_image(tensor: Any, fp: Any, format: str | None = None, **kwargs: Any) -> None:
    """Saves a batch as one PNG grid (values in ``[0, 1]``, or rescaled with ``normalize``); the
    keywords (``nrow``, ``padding``, ``normalize``, ...) are :func:`make_grid`'s, as torchvision's."""
    grid = make_grid(tensor, **kwargs).numpy()
    img = np.clip(grid * 255.0 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    from PIL import Image

    if isinstance(fp, (str, os.PathLike)):
        Image.fromarray(img).save(os.fspath(fp), format=format)
    else:
        Image.fromarray(img).save(fp, format=format or "PNG")
