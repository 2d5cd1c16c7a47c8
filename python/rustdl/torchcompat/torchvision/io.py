"""``torchvision.io``: images read from and written to files through Pillow.

``read_image`` gives a ``(C, H, W)`` ``uint8`` tensor of the image's 0-255 values, as torchvision's.
"""

from __future__ import annotations

import os
from enum import Enum
from typing import Any

import numpy as np

import rustdl

__all__ = ["ImageReadMode", "decode_image", "read_file", "read_image", "write_png"]


class ImageReadMode(Enum):
    """The channels to read: as stored, gray, gray + alpha, RGB or RGB + alpha."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4


_PIL_MODES = {
    ImageReadMode.GRAY: "L",
    ImageReadMode.GRAY_ALPHA: "LA",
    ImageReadMode.RGB: "RGB",
    ImageReadMode.RGB_ALPHA: "RGBA",
}


def _mode(mode: Any) -> ImageReadMode:
    if isinstance(mode, ImageReadMode):
        return mode
    if isinstance(mode, str) and mode.upper() in ImageReadMode.__members__:
        return ImageReadMode[mode.upper()]
    raise ValueError(f"read_image: unknown mode {mode!r} (one of {list(ImageReadMode.__members__)})")


def _decode(fp: Any, mode: Any) -> rustdl.Tensor:
    from PIL import Image

    with Image.open(fp) as im:
        m = _mode(mode)
        if m is not ImageReadMode.UNCHANGED:
            im = im.convert(_PIL_MODES[m])
        elif im.mode not in ("L", "LA", "RGB", "RGBA"):
            im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
        a = np.asarray(im)
    chw = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return rustdl.from_numpy(np.ascontiguousarray(chw, dtype=np.uint8))


def read_image(
    path: str | os.PathLike, mode: Any = ImageReadMode.UNCHANGED, apply_exif_orientation: bool = False
) -> rustdl.Tensor:
    """The image at ``path`` (PNG, JPEG, ...) as a ``(C, H, W)`` tensor of 0-255 values."""
    return _decode(os.fspath(path), mode)


def read_file(path: str | os.PathLike) -> rustdl.Tensor:
    """The file's bytes as a 1-D tensor (for :func:`decode_image`)."""
    with open(os.fspath(path), "rb") as f:
        return rustdl.from_numpy(np.frombuffer(f.read(), dtype=np.uint8).copy())


def decode_image(
    input: Any, mode: Any = ImageReadMode.UNCHANGED, apply_exif_orientation: bool = False
) -> rustdl.Tensor:  # noqa: A002
    """An encoded image (a path, or the bytes :func:`read_file` gives) as a ``(C, H, W)`` tensor."""
    import io

    if isinstance(input, (str, os.PathLike)):
        return read_image(input, mode)
    data = input.detach().cpu().numpy() if isinstance(input, rustdl.Tensor) else np.asarray(input)
    return _decode(io.BytesIO(data.astype(np.uint8).tobytes()), mode)


def write_png(input: rustdl.Tensor, filename: str | os.PathLike, compression_level: int = 6) -> None:  # noqa: A002
    """Writes a ``(C, H, W)`` tensor of 0-255 values (C = 1 or 3) as a PNG file."""
    from PIL import Image

    a = input.detach().cpu().numpy()
    if a.ndim != 3 or a.shape[0] not in (1, 3, 4):
        raise ValueError(
            f"write_png: expected a (C, H, W) image with 1, 3 or 4 channels, got shape {a.shape}"
        )
    hwc = np.clip(a, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(hwc[..., 0] if hwc.shape[2] == 1 else hwc).save(
        os.fspath(filename), compress_level=compression_level
    )
