"""``torchvision.transforms`` for PIL images, numpy images (what ``np.asarray(pil_image)`` gives,
``(H, W[, C])``) and rustdl tensors (``(C, H, W)``): conversions, crops, flips, resizing, padding,
rotation and affine maps, colour jitter, grayscale, blur, random erasing and the random
containers. The functional forms are in :mod:`.functional` (``torchvision.transforms.functional``)
and the same classes, plus ``ToImage`` / ``ToDtype``, in :mod:`.v2`.

A PIL image comes back as a PIL image, a numpy image as a numpy image of the same dtype, a tensor
as a tensor. Random transforms draw from rustdl's global generator, so ``torch.manual_seed`` makes
them reproducible (``RandomChoice`` and ``RandomOrder`` too, which torchvision draws from Python's
``random``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

import rustdl
from rustdl.data import transforms as _transforms

from . import functional as F
from .functional import InterpolationMode, _unpack

__all__ = [
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "ConvertImageDtype",
    "FiveCrop",
    "GaussianBlur",
    "Grayscale",
    "InterpolationMode",
    "Lambda",
    "Normalize",
    "PILToTensor",
    "Pad",
    "RandomAffine",
    "RandomApply",
    "RandomChoice",
    "RandomCrop",
    "RandomErasing",
    "RandomGrayscale",
    "RandomHorizontalFlip",
    "RandomOrder",
    "RandomResizedCrop",
    "RandomRotation",
    "RandomVerticalFlip",
    "Resize",
    "TenCrop",
    "ToPILImage",
    "ToTensor",
    "functional",
    "v2",
]

functional = F


# ----------------------------------------------------------------------------------------------
# random draws: rustdl's global generator


def _rand() -> float:
    """One uniform draw in ``[0, 1)``."""
    return float(rustdl.rand(1).item())


def _uniform(lo: float, hi: float) -> float:
    return lo + (hi - lo) * _rand()


def _randint(lo: int, hi: int) -> int:
    """An integer uniform in ``[lo, hi)``."""
    return int(rustdl.randint(lo, hi, (1,)).item())


def _randperm(n: int) -> list[int]:
    return [int(i) for i in rustdl.randperm(n).tolist()]


def _check_p(p: float, op: str) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: probability p must lie in [0, 1], got {p}")
    return float(p)


# ----------------------------------------------------------------------------------------------
# containers


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

    def __repr__(self) -> str:
        return "Lambda()"


class RandomApply:
    """Applies the list of ``transforms`` (in order) with probability ``p``, else nothing."""

    def __init__(self, transforms: Sequence[Callable], p: float = 0.5) -> None:
        self.transforms = list(transforms)
        self.p = _check_p(p, "RandomApply")

    def __call__(self, img: Any) -> Any:
        if self.p < _rand():
            return img
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"RandomApply(\n    p={self.p}{inner}\n)"


class RandomChoice:
    """Applies one of ``transforms``, picked at random (weighted by ``p`` if given)."""

    def __init__(self, transforms: Sequence[Callable], p: Sequence[float] | None = None) -> None:
        self.transforms = list(transforms)
        if not self.transforms:
            raise ValueError("RandomChoice: transforms must not be empty")
        if p is not None:
            p = [float(v) for v in p]
            if len(p) != len(self.transforms) or any(v < 0 for v in p) or sum(p) <= 0:
                raise ValueError(
                    f"RandomChoice: p must hold {len(self.transforms)} non-negative weights, got {p}"
                )
        self.p = p

    def __call__(self, *args: Any) -> Any:
        weights = np.asarray(self.p if self.p is not None else [1.0] * len(self.transforms))
        cum = np.cumsum(weights / weights.sum())
        idx = min(int(np.searchsorted(cum, _rand(), side="right")), len(self.transforms) - 1)
        return self.transforms[idx](*args)

    def __repr__(self) -> str:
        return f"RandomChoice(transforms={self.transforms}, p={self.p})"


class RandomOrder:
    """Applies ``transforms`` in a random order."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        for i in _randperm(len(self.transforms)):
            img = self.transforms[i](img)
        return img

    def __repr__(self) -> str:
        return f"RandomOrder(transforms={self.transforms})"


# ----------------------------------------------------------------------------------------------
# conversions


class ToTensor:
    """``(H, W)`` or ``(H, W, C)`` image → float32 rustdl tensor ``(C, H, W)``; uint8 is scaled
    to ``[0, 1]``, other dtypes keep their values (as torchvision's ToTensor)."""

    def __call__(self, pic: Any) -> rustdl.Tensor:
        return F.to_tensor(pic)

    def __repr__(self) -> str:
        return "ToTensor()"


class PILToTensor:
    """PIL / numpy image → tensor ``(C, H, W)`` with unscaled values (``int64`` for ``uint8``)."""

    def __call__(self, pic: Any) -> rustdl.Tensor:
        return F.pil_to_tensor(pic)

    def __repr__(self) -> str:
        return "PILToTensor()"


class ConvertImageDtype:
    """Converts a tensor image to ``dtype``, rescaling (integer images are ``[0, 255]``)."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def __call__(self, image: rustdl.Tensor) -> rustdl.Tensor:
        return F.convert_image_dtype(image, self.dtype)

    def __repr__(self) -> str:
        return f"ConvertImageDtype(dtype={self.dtype})"


class ToPILImage:
    """A ``(C, H, W)`` tensor (floats in ``[0, 1]``) or ``(H, W[, C])`` array → a PIL image (a
    numpy ``uint8`` image when PIL is not installed)."""

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def __call__(self, pic: Any) -> Any:
        return F.to_pil_image(pic, self.mode)

    def __repr__(self) -> str:
        return "ToPILImage()"


class Normalize:
    """``(x - mean) / std`` per channel of a ``(C, H, W)`` or ``(N, C, H, W)`` tensor."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        self.inplace = inplace
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std {self.std} contains a zero")

    def __call__(self, x: Any) -> Any:
        return F.normalize(x, self.mean, self.std, self.inplace)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


# ----------------------------------------------------------------------------------------------
# geometry


class Resize:
    """Resizes an image: an int sets the shorter side, a pair sets ``(h, w)`` (see
    :func:`functional.resize`: PIL for PIL / uint8 images, antialiased filters for tensors)."""

    def __init__(
        self,
        size: int | Sequence[int],
        interpolation: Any = InterpolationMode.BILINEAR,
        max_size: int | None = None,
        antialias: bool | None = True,
    ) -> None:
        self.size = size
        self.interpolation = interpolation
        self.max_size = max_size
        self.antialias = antialias

    def __call__(self, img: Any) -> Any:
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self) -> str:
        return f"Resize(size={self.size}, interpolation={F._interp(self.interpolation)})"


class CenterCrop:
    """Crops the centre ``(h, w)`` of an image (numpy ``(H, W[, C])`` or tensor ``(..., H, W)``),
    padding with 0 first when the image is smaller."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = (size, size) if isinstance(size, int) else (int(size[0]), int(size[-1]))

    def __call__(self, img: Any) -> Any:
        return F.center_crop(img, self.size)

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


class FiveCrop:
    """The four corner crops and the centre crop of ``size``, as a tuple."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = F._size2(size, "FiveCrop")

    def __call__(self, img: Any) -> tuple:
        return F.five_crop(img, self.size)

    def __repr__(self) -> str:
        return f"FiveCrop(size={self.size})"


class TenCrop:
    """``FiveCrop`` of the image and of its flip, as a tuple of 10."""

    def __init__(self, size: int | Sequence[int], vertical_flip: bool = False) -> None:
        self.size = F._size2(size, "TenCrop")
        self.vertical_flip = vertical_flip

    def __call__(self, img: Any) -> tuple:
        return F.ten_crop(img, self.size, self.vertical_flip)

    def __repr__(self) -> str:
        return f"TenCrop(size={self.size}, vertical_flip={self.vertical_flip})"


class Pad:
    """Pads the borders (see :func:`functional.pad`)."""

    def __init__(self, padding: Any, fill: Any = 0, padding_mode: str = "constant") -> None:
        F._ltrb(padding, "Pad")
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(
                f"Pad: padding_mode must be constant, edge, reflect or symmetric, got '{padding_mode}'"
            )
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, img: Any) -> Any:
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self) -> str:
        return f"Pad(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode})"


class _OnImages:
    """A rustdl augmentation (``rustdl.data.transforms``, which takes ``(C, H, W)``) made to take
    what torchvision's does: a tensor ``(C, H, W)`` as is, or a PIL / numpy image ``(H, W[, C])``,
    given back as the same kind of image."""

    _impl: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._t = self._impl(*args, **kwargs)

    def __call__(self, img: Any) -> Any:
        if isinstance(img, rustdl.Tensor):
            return self._t(img)
        chw, pack = _unpack(img, type(self).__name__)
        return pack(self._t(np.ascontiguousarray(chw)))

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


# ----------------------------------------------------------------------------------------------
# colour


def _jitter_range(
    value: Any, name: str, center: float = 1.0, bound: tuple[float, float] = (0, math.inf), clip: bool = True
) -> tuple[float, float] | None:
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(
                f"ColorJitter: if {name} is a single number, it must be non-negative, got {value}"
            )
        value = [center - float(value), center + float(value)]
        if clip:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
    else:
        raise TypeError(
            f"ColorJitter: {name} should be a single number or a list/tuple of length 2, got {value!r}"
        )
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"ColorJitter: {name} values should be between {bound}, got {value}")
    if value[0] == value[1] == center:
        return None
    return value[0], value[1]


class ColorJitter:
    """Randomly changes brightness, contrast, saturation and hue, in a random order, as torchvision:
    each factor is drawn uniformly from ``[max(0, 1 - v), 1 + v]`` (hue from ``[-v, v]``, ``v <=
    0.5``), or from a given ``(min, max)``."""

    def __init__(self, brightness: Any = 0, contrast: Any = 0, saturation: Any = 0, hue: Any = 0) -> None:
        self.brightness = _jitter_range(brightness, "brightness")
        self.contrast = _jitter_range(contrast, "contrast")
        self.saturation = _jitter_range(saturation, "saturation")
        self.hue = _jitter_range(hue, "hue", center=0.0, bound=(-0.5, 0.5), clip=False)

    @staticmethod
    def get_params(
        brightness: tuple[float, float] | None,
        contrast: tuple[float, float] | None,
        saturation: tuple[float, float] | None,
        hue: tuple[float, float] | None,
    ) -> tuple[list[int], float | None, float | None, float | None, float | None]:
        """The order of the four adjustments and their factors (None where not applied)."""
        order = _randperm(4)
        b = None if brightness is None else _uniform(*brightness)
        c = None if contrast is None else _uniform(*contrast)
        s = None if saturation is None else _uniform(*saturation)
        h = None if hue is None else _uniform(*hue)
        return order, b, c, s, h

    def __call__(self, img: Any) -> Any:
        order, b, c, s, h = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        for fn_id in order:
            if fn_id == 0 and b is not None:
                img = F.adjust_brightness(img, b)
            elif fn_id == 1 and c is not None:
                img = F.adjust_contrast(img, c)
            elif fn_id == 2 and s is not None:
                img = F.adjust_saturation(img, s)
            elif fn_id == 3 and h is not None:
                img = F.adjust_hue(img, h)
        return img

    def __repr__(self) -> str:
        return (
            f"ColorJitter(brightness={self.brightness}, contrast={self.contrast}, "
            f"saturation={self.saturation}, hue={self.hue})"
        )


class Grayscale:
    """RGB → grayscale (ITU-R 601-2 luma), with 1 or 3 output channels."""

    def __init__(self, num_output_channels: int = 1) -> None:
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels must be 1 or 3, got {num_output_channels}")
        self.num_output_channels = num_output_channels

    def __call__(self, img: Any) -> Any:
        return F.rgb_to_grayscale(img, self.num_output_channels)

    def __repr__(self) -> str:
        return f"Grayscale(num_output_channels={self.num_output_channels})"


class RandomGrayscale:
    """Grayscale with probability ``p``, keeping the channel count (3 gray channels for RGB)."""

    def __init__(self, p: float = 0.1) -> None:
        self.p = _check_p(p, "RandomGrayscale")

    def __call__(self, img: Any) -> Any:
        channels = F.get_image_num_channels(img)
        if _rand() < self.p:
            return F.rgb_to_grayscale(img, num_output_channels=3 if channels != 1 else 1)
        return img

    def __repr__(self) -> str:
        return f"RandomGrayscale(p={self.p})"


class GaussianBlur:
    """Gaussian blur with ``sigma`` drawn uniformly from ``(min, max)`` each call (or fixed)."""

    def __init__(self, kernel_size: Any, sigma: Any = (0.1, 2.0)) -> None:
        self.kernel_size = F._size2(kernel_size, "GaussianBlur")
        if any(k <= 0 or k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"GaussianBlur: kernel size should be odd and positive, got {kernel_size}")
        if isinstance(sigma, numbers.Number):
            if sigma <= 0:
                raise ValueError(f"GaussianBlur: sigma must be positive, got {sigma}")
            sigma = (float(sigma), float(sigma))
        elif isinstance(sigma, Sequence) and len(sigma) == 2:
            if not 0.0 < sigma[0] <= sigma[1]:
                raise ValueError(
                    f"GaussianBlur: sigma values should be positive and of the form (min, max), got {sigma}"
                )
            sigma = (float(sigma[0]), float(sigma[1]))
        else:
            raise ValueError(
                f"GaussianBlur: sigma should be a single number or a (min, max) pair, got {sigma!r}"
            )
        self.sigma = sigma

    @staticmethod
    def get_params(sigma_min: float, sigma_max: float) -> float:
        return _uniform(sigma_min, sigma_max)

    def __call__(self, img: Any) -> Any:
        s = self.get_params(*self.sigma)
        return F.gaussian_blur(img, self.kernel_size, [s, s])

    def __repr__(self) -> str:
        return f"GaussianBlur(kernel_size={self.kernel_size}, sigma={self.sigma})"


class RandomErasing:
    """With probability ``p``, sets a random rectangle of a tensor image ``(..., C, H, W)`` to
    ``value`` (a number, one per channel, or ``"random"`` for normal noise), as torchvision: its area
    fraction is drawn from ``scale`` and its aspect ratio log-uniformly from ``ratio`` (10 tries;
    then nothing is erased). Use it after ``ToTensor``."""

    def __init__(
        self,
        p: float = 0.5,
        scale: Sequence[float] = (0.02, 0.33),
        ratio: Sequence[float] = (0.3, 3.3),
        value: Any = 0,
        inplace: bool = False,
    ) -> None:
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError("RandomErasing: value should be a number, a tuple/list or 'random'")
        if isinstance(value, str) and value != "random":
            raise ValueError(f"RandomErasing: if value is a str it should be 'random', got '{value}'")
        if not isinstance(scale, Sequence) or not isinstance(ratio, Sequence):
            raise TypeError("RandomErasing: scale and ratio should be sequences")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(
                f"RandomErasing: scale and ratio should be of kind (min, max), got {scale}, {ratio}"
            )
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError(f"RandomErasing: scale should be in [0, 1], got {scale}")
        self.p = _check_p(p, "RandomErasing")
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))
        self.value = value
        self.inplace = inplace

    @staticmethod
    def get_params(
        img: rustdl.Tensor, scale: Sequence[float], ratio: Sequence[float], value: list[float] | None = None
    ) -> tuple[int, int, int, int, Any]:
        """``(top, left, h, w, v)`` of the rectangle to erase; ``value`` None draws normal noise.
        When no rectangle fits in 10 tries: the whole image, with itself as the value."""
        c, img_h, img_w = img.shape[-3], img.shape[-2], img.shape[-1]
        area = img_h * img_w
        log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
        for _ in range(10):
            erase_area = area * _uniform(scale[0], scale[1])
            aspect = math.exp(_uniform(log_lo, log_hi))
            h = int(round(math.sqrt(erase_area * aspect)))
            w = int(round(math.sqrt(erase_area / aspect)))
            if not (h < img_h and w < img_w):
                continue
            if value is None:
                v = rustdl.randn(c, h, w, dtype=rustdl.float32)
            else:
                v = rustdl.tensor([float(x) for x in value], dtype=rustdl.float32).reshape(-1, 1, 1)
            i = _randint(0, img_h - h + 1)
            j = _randint(0, img_w - w + 1)
            return i, j, h, w, v
        return 0, 0, img_h, img_w, img

    def __call__(self, img: rustdl.Tensor) -> rustdl.Tensor:
        if not isinstance(img, rustdl.Tensor):
            raise TypeError(
                f"RandomErasing: expected a tensor image (use it after ToTensor), got {type(img).__name__}"
            )
        if _rand() < self.p:
            if isinstance(self.value, numbers.Number):
                value: list[float] | None = [float(self.value)]
            elif isinstance(self.value, str):
                value = None
            else:
                value = [float(v) for v in self.value]
            c = img.shape[-3]
            if value is not None and len(value) not in (1, c):
                raise ValueError(
                    f"RandomErasing: value should be a single number or {c} numbers for an image with {c} channels"
                )
            x, y, h, w, v = self.get_params(img, self.scale, self.ratio, value)
            return F.erase(img, x, y, h, w, v, self.inplace)
        return img

    def __repr__(self) -> str:
        return (
            f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, "
            f"value={self.value}, inplace={self.inplace})"
        )


from . import v2  # noqa: E402  (v2 builds on the classes above)


def __getattr__(name: str):
    raise AttributeError(
        f"module 'torchvision.transforms' has no attribute '{name}': rustdl's torchvision shim "
        f"does not support transforms.{name} yet (see rustdl.data.transforms for augmentations)"
    )
