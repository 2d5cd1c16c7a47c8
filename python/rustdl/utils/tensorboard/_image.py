"""Images for TensorBoard: tensors/arrays to HWC uint8, grids of several images, and a small
PNG encoder (zlib + struct, filter type 0 on every row)."""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np


def who(method: str) -> str:
    """The name an error message starts with: ``add_image`` is ``SummaryWriter.add_image``; a
    dotted name (``summary.image``) is kept."""
    return method if "." in method else "SummaryWriter." + method


def to_numpy(x, method: str) -> np.ndarray:
    """A tensor, numpy array, list or number as a numpy array (``method`` names the caller)."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return np.asarray(x.detach().cpu().numpy() if hasattr(x, "cpu") else x.detach().numpy())
    try:
        arr = np.asarray(x)
    except Exception as e:  # noqa: BLE001 - a value numpy cannot hold
        raise TypeError(f"{who(method)}: cannot convert {type(x).__name__} to an array") from e
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError(f"{who(method)}: expected numbers, got {type(x).__name__} of {arr.dtype}")
    return arr


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """PyTorch's conversion: ``uint8`` is taken as 0..255; anything else (floats in [0, 1], bools,
    other integers) is multiplied by 255, clipped to 0..255 and truncated (NaN gives 0)."""
    if arr.dtype == np.uint8:
        return arr
    a = np.nan_to_num(arr.astype(np.float32) * np.float32(255.0), nan=0.0)
    return np.clip(a, 0, 255).astype(np.uint8)


def to_hwc(arr: np.ndarray, dataformats: str, method: str) -> np.ndarray:
    """One image in ``dataformats`` (``CHW``, ``HWC``, ``HW`` or ``WH``) as ``HWC``, C in 1/3/4."""
    fmt = dataformats.upper()
    if sorted(fmt) not in (sorted("CHW"), sorted("HW")) or len(set(fmt)) != len(fmt):
        raise ValueError(f"{who(method)}: dataformats must be CHW, HWC, HW or WH, got {dataformats!r}")
    if arr.ndim != len(fmt):
        raise ValueError(
            f"{who(method)}: dataformats {dataformats!r} needs a {len(fmt)}-D image, "
            f"got shape {tuple(arr.shape)}"
        )
    if "C" not in fmt:
        arr, fmt = arr[..., None], fmt + "C"
    arr = np.transpose(arr, [fmt.index(c) for c in "HWC"])
    if arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"{who(method)}: an image needs 1, 3 or 4 channels, got {arr.shape[2]}")
    if arr.shape[2] == 1:  # grey images are written as RGB, as PyTorch's
        arr = np.concatenate([arr, arr, arr], 2)
    return arr


def grid(arr: np.ndarray, dataformats: str, method: str) -> np.ndarray:
    """A batch in ``NCHW``/``NHWC``/``NHW`` (or ``CHW``...) as one ``HWC`` grid: up to 8 images per
    row, no padding, unfilled cells black."""
    fmt = dataformats.upper()
    if "N" not in fmt:
        return to_hwc(arr, fmt, method)
    if arr.ndim != len(fmt):
        raise ValueError(
            f"{who(method)}: dataformats {dataformats!r} needs a {len(fmt)}-D batch, "
            f"got shape {tuple(arr.shape)}"
        )
    arr = np.moveaxis(arr, fmt.index("N"), 0)
    rest = fmt.replace("N", "")
    images = [to_hwc(a, rest, method) for a in arr]
    if not images:
        raise ValueError(f"{who(method)}: the batch is empty")
    n = len(images)
    h, w, c = images[0].shape
    ncols = min(n, 8)
    nrows = math.ceil(n / ncols)
    out = np.zeros((h * nrows, w * ncols, c), dtype=images[0].dtype)
    for i, im in enumerate(images):
        r, col = divmod(i, ncols)
        out[r * h : (r + 1) * h, col * w : (col + 1) * w] = im
    return out


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(hwc: np.ndarray) -> bytes:
    """PNG bytes of an ``HWC`` uint8 image: C = 1 grey, 3 RGB, 4 RGBA; 8 bits, no interlace."""
    h, w, c = hwc.shape
    color_type = {1: 0, 3: 2, 4: 6}[c]
    rows = np.concatenate(
        [np.zeros((h, 1), np.uint8), np.ascontiguousarray(hwc, np.uint8).reshape(h, w * c)], 1
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + _chunk(b"IEND", b"")
    )
