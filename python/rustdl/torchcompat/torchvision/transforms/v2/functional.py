"""``torchvision.transforms.v2.functional``: the functional forms of
``torchvision.transforms.functional`` plus ``to_image``, ``to_dtype`` and v2's longer names."""

from __future__ import annotations

from typing import Any

import rustdl

from ..functional import *  # noqa: F403
from ..functional import __all__ as _v1_all
from ..functional import convert_image_dtype, hflip, pil_to_tensor, vflip

__all__ = [*_v1_all, "horizontal_flip", "to_dtype", "to_image", "vertical_flip"]

horizontal_flip = hflip
vertical_flip = vflip


def to_image(inpt: Any) -> rustdl.Tensor:
    """PIL image / numpy ``(H, W[, C])`` → tensor ``(C, H, W)``, values and dtype kept (``uint8`` →
    ``int64``); a tensor comes back as is."""
    if isinstance(inpt, rustdl.Tensor):
        return inpt
    return pil_to_tensor(inpt)


def to_dtype(inpt: rustdl.Tensor, dtype: Any = None, scale: bool = False) -> rustdl.Tensor:
    """``inpt`` as ``dtype`` (default float32); ``scale`` rescales as ``convert_image_dtype``."""
    dtype = rustdl.float32 if dtype is None else dtype
    if scale:
        return convert_image_dtype(inpt, dtype)
    return inpt.to(dtype)
