"""``torchvision.transforms`` for numpy images (what ``np.asarray(pil_image)`` gives) and rustdl
tensors: ``Compose``, ``ToTensor``, ``ToPILImage``, ``Normalize``, ``Lambda``, ``Resize``,
``CenterCrop`` and the random crops, flips, rotation and affine of ``rustdl.data.transforms``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

import rustdl
from rustdl.data import transforms as _transforms

__all__ = [
    "CenterCrop",
    "Compose",
    "Lambda",
    "Normalize",
    "RandomAffine",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomResizedCrop",
    "RandomRotation",
    "RandomVerticalFlip",
    "Resize",
    "ToPILImage",
    "ToTensor",
]


class Compose(_transforms.Compose):
    """Applies transforms in order (rustdl's ``Compose``, with torchvision's repr)."""

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


class Lambda:
    """Applies a user function."""

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Lambda: expected a callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)


def _as_array(img: Any) -> np.ndarray:
    if isinstance(img, rustdl.Tensor):
        return img.numpy()
    return np.asarray(img)  # numpy arrays and PIL images


class ToTensor:
    """``(H, W)`` or ``(H, W, C)`` image → float32 rustdl tensor ``(C, H, W)``; uint8 is scaled
    to ``[0, 1]``, other dtypes keep their values (as torchvision's ToTensor)."""

    def __call__(self, pic: Any) -> rustdl.Tensor:
        a = _as_array(pic)
        if a.ndim == 2:
            a = a[None, :, :]
        elif a.ndim == 3:
            a = a.transpose(2, 0, 1)
        else:
            raise ValueError(f"ToTensor: expected an (H, W) or (H, W, C) image, got shape {a.shape}")
        scale = 1.0 / 255.0 if a.dtype == np.uint8 else 1.0
        return rustdl.from_numpy(np.ascontiguousarray(a, dtype=np.float32) * np.float32(scale))

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """``(x - mean) / std`` per channel of a ``(C, H, W)`` or ``(N, C, H, W)`` tensor."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std {self.std} contains a zero")

    def __call__(self, x: Any) -> Any:
        if isinstance(x, np.ndarray):
            m = np.asarray(self.mean, dtype=x.dtype).reshape(-1, 1, 1)
            s = np.asarray(self.std, dtype=x.dtype).reshape(-1, 1, 1)
            return (x - m) / s
        m = rustdl.tensor(self.mean, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
        s = rustdl.tensor(self.std, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
        return (x - m) / s

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


def _output_size(h: int, w: int, size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int) or len(size) == 1:
        s = size if isinstance(size, int) else size[0]
        return (s, max(1, int(s * w / h))) if h <= w else (max(1, int(s * h / w)), s)
    return int(size[0]), int(size[1])


class Resize:
    """Resizes an image (bilinear): an int sets the shorter side, a pair sets ``(h, w)``.

    numpy images go through PIL when it is installed (as torchvision); tensors through
    ``rustdl.nn.functional.interpolate``.
    """

    def __init__(self, size: int | Sequence[int], **kwargs: Any) -> None:
        self.size = size

    def __call__(self, img: Any) -> Any:
        if isinstance(img, rustdl.Tensor):
            h, w = img.shape[-2:]
            oh, ow = _output_size(h, w, self.size)
            x = img.reshape(-1, *img.shape[-3:]) if img.ndim >= 3 else img.reshape(1, 1, h, w)
            out = rustdl.nn.functional.interpolate(x, size=(oh, ow), mode="bilinear")
            return out.reshape(*img.shape[:-2], oh, ow)
        a = _as_array(img)
        h, w = a.shape[:2]
        oh, ow = _output_size(h, w, self.size)
        from PIL import Image

        return np.asarray(Image.fromarray(a).resize((ow, oh), Image.BILINEAR))


class CenterCrop:
    """Crops the centre ``(h, w)`` of an image (numpy ``(H, W[, C])`` or tensor ``(..., H, W)``)."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = (size, size) if isinstance(size, int) else (int(size[0]), int(size[-1]))

    def __call__(self, img: Any) -> Any:
        th, tw = self.size
        if isinstance(img, rustdl.Tensor):
            h, w = img.shape[-2:]
            top, left = max(0, (h - th) // 2), max(0, (w - tw) // 2)
            return img.narrow(-2, top, min(th, h)).narrow(-1, left, min(tw, w))
        a = _as_array(img)
        h, w = a.shape[:2]
        top, left = max(0, (h - th) // 2), max(0, (w - tw) // 2)
        return a[top : top + th, left : left + tw]


class _OnImages:
    """A rustdl augmentation (``rustdl.data.transforms``, which takes ``(C, H, W)``) made to take
    what torchvision's does: a tensor ``(C, H, W)`` as is, or a PIL / numpy image ``(H, W[, C])``,
    given back as a numpy image of the same layout and dtype."""

    _impl: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._t = self._impl(*args, **kwargs)

    def __call__(self, img: Any) -> Any:
        if isinstance(img, rustdl.Tensor):
            return self._t(img)
        a = _as_array(img)
        gray = a.ndim == 2
        chw = np.ascontiguousarray(a[None] if gray else a.transpose(2, 0, 1))
        out = self._t(chw)
        return out[0] if gray else np.ascontiguousarray(out.transpose(1, 2, 0))

    def __repr__(self) -> str:
        return repr(self._t)


class RandomCrop(_OnImages):
    """Random crop (with optional padding); see :class:`rustdl.data.transforms.RandomCrop`."""

    _impl = _transforms.RandomCrop


class RandomHorizontalFlip(_OnImages):
    """Flips left-right with probability ``p``."""

    _impl = _transforms.RandomHorizontalFlip


class RandomVerticalFlip(_OnImages):
    """Flips up-down with probability ``p``."""

    _impl = _transforms.RandomVerticalFlip


class RandomResizedCrop(_OnImages):
    """Random area/aspect crop resized to ``size``."""

    _impl = _transforms.RandomResizedCrop


class RandomRotation(_OnImages):
    """Rotation by a random angle in ``degrees``."""

    _impl = _transforms.RandomRotation


class RandomAffine(_OnImages):
    """Random affine map (rotation, translation, scale, shear)."""

    _impl = _transforms.RandomAffine


class ToPILImage:
    """A ``(C, H, W)`` tensor (floats in ``[0, 1]``) or ``(H, W[, C])`` array → a PIL image (a
    numpy ``uint8`` image when PIL is not installed)."""

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def __call__(self, pic: Any) -> Any:
        if isinstance(pic, rustdl.Tensor):
            a = pic.detach().cpu().numpy()
            a = a[None] if a.ndim == 2 else a
            if a.dtype != np.uint8:
                a = (
                    (np.clip(a, 0.0, 1.0) * 255.0).round().astype(np.uint8)
                    if a.dtype.kind == "f"
                    else a.astype(np.uint8)
                )
            a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
        else:
            a = np.asarray(pic)
        try:
            from PIL import Image
        except ImportError:
            return np.ascontiguousarray(a)
        return Image.fromarray(np.ascontiguousarray(a), mode=self.mode)

    def __repr__(self) -> str:
        return "ToPILImage()"


def __getattr__(name: str):
    raise AttributeError(
        f"module 'torchvision.transforms' has no attribute '{name}': rustdl's torchvision shim "
        f"does not support transforms.{name} yet (see rustdl.data.transforms for augmentations)"
    )
