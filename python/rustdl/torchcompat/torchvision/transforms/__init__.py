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
import random
from collections.abc import Sequence
from typing import Any, Callable

import rustdl
from rustdl.data import transforms as _transforms

from . import functional as F
from .functional import InterpolationMode

__all__ = [
    "AugMix",
    "AutoAugment",
    "AutoAugmentPolicy",
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "ConvertImageDtype",
    "ElasticTransform",
    "FiveCrop",
    "GaussianBlur",
    "Grayscale",
    "InterpolationMode",
    "Lambda",
    "LinearTransformation",
    "Normalize",
    "PILToTensor",
    "Pad",
    "RandAugment",
    "RandomAdjustSharpness",
    "RandomAffine",
    "RandomAutocontrast",
    "RandomApply",
    "RandomChoice",
    "RandomCrop",
    "RandomEqualize",
    "RandomErasing",
    "RandomGrayscale",
    "RandomHorizontalFlip",
    "RandomInvert",
    "RandomOrder",
    "RandomPerspective",
    "RandomPosterize",
    "RandomResizedCrop",
    "RandomRotation",
    "RandomSolarize",
    "RandomVerticalFlip",
    "Resize",
    "TenCrop",
    "ToPILImage",
    "ToTensor",
    "TrivialAugmentWide",
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
    """A draw uniform in ``[lo, hi)`` as ``torch.empty(1).uniform_(lo, hi)`` gives it (rounded to
    float32, as torchvision's parameters are)."""
    return float(rustdl.empty(1).uniform_(lo, hi).item())


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


class _TransformModule(rustdl.nn.Module):
    """Base of the transforms that are ``nn.Module`` subclasses in torchvision (``Normalize``,
    ``Resize``, ``ColorJitter``, ...), so they go into ``nn.Sequential`` and pass
    ``isinstance(t, nn.Module)``. The module state is set up before the transform's own
    ``__init__`` runs (which does not call ``Module.__init__``); calling the transform or its
    ``forward`` applies it."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        obj = super().__new__(cls)
        rustdl.nn.Module.__init__(obj)
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def forward(self, *args: Any) -> Any:
        return type(self).__call__(self, *args)


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


class RandomApply(_TransformModule):
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
        # torchvision's v1 picks with Python's ``random`` module, not the tensor stream
        return random.choices(self.transforms, weights=self.p)[0](*args)

    def __repr__(self) -> str:
        return f"RandomChoice(transforms={self.transforms}, p={self.p})"


class RandomOrder:
    """Applies ``transforms`` in a random order."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        # torchvision's v1 shuffles with Python's ``random`` module, not the tensor stream
        order = list(range(len(self.transforms)))
        random.shuffle(order)
        for i in order:
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


class ConvertImageDtype(_TransformModule):
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


class Normalize(_TransformModule):
    """``(x - mean) / std`` per channel of a ``(C, H, W)`` or ``(N, C, H, W)`` tensor."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        # a single number stands for every channel, as torchvision's
        self.mean = [float(mean)] if isinstance(mean, (int, float)) else [float(m) for m in mean]
        self.std = [float(std)] if isinstance(std, (int, float)) else [float(s) for s in std]
        self.inplace = inplace
        self._shown = (mean, std)  # the repr shows them as given, as torchvision's
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std {self.std} contains a zero")

    def __call__(self, x: Any) -> Any:
        return F.normalize(x, self.mean, self.std, self.inplace)

    def __repr__(self) -> str:
        mean, std = getattr(self, "_shown", (self.mean, self.std))
        return f"Normalize(mean={mean}, std={std})"


# ----------------------------------------------------------------------------------------------
# geometry


class Resize(_TransformModule):
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
        return (
            f"Resize(size={self.size}, interpolation={F._interp(self.interpolation)}, "
            f"max_size={self.max_size}, antialias={self.antialias})"
        )


class CenterCrop(_TransformModule):
    """Crops the centre ``(h, w)`` of an image (numpy ``(H, W[, C])`` or tensor ``(..., H, W)``),
    padding with 0 first when the image is smaller."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = (size, size) if isinstance(size, int) else (int(size[0]), int(size[-1]))

    def __call__(self, img: Any) -> Any:
        return F.center_crop(img, self.size)

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


class FiveCrop(_TransformModule):
    """The four corner crops and the centre crop of ``size``, as a tuple."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = F._size2(size, "FiveCrop")

    def __call__(self, img: Any) -> tuple:
        return F.five_crop(img, self.size)

    def __repr__(self) -> str:
        return f"FiveCrop(size={self.size})"


class TenCrop(_TransformModule):
    """``FiveCrop`` of the image and of its flip, as a tuple of 10."""

    def __init__(self, size: int | Sequence[int], vertical_flip: bool = False) -> None:
        self.size = F._size2(size, "TenCrop")
        self.vertical_flip = vertical_flip

    def __call__(self, img: Any) -> tuple:
        return F.ten_crop(img, self.size, self.vertical_flip)

    def __repr__(self) -> str:
        return f"TenCrop(size={self.size}, vertical_flip={self.vertical_flip})"


class Pad(_TransformModule):
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


class RandomCrop(_TransformModule):
    """Pads by ``padding`` (``padding_mode``: ``constant`` with ``fill``, ``edge``, ``reflect``,
    ``symmetric``), pads further to ``size`` with ``pad_if_needed``, then crops a random
    ``size`` window, as torchvision (one window for a whole batch tensor)."""

    def __init__(
        self,
        size: int | Sequence[int],
        padding: Any = None,
        pad_if_needed: bool = False,
        fill: Any = 0,
        padding_mode: str = "constant",
    ) -> None:
        self.size = F._size2(size, "RandomCrop")
        if padding is not None:
            F._ltrb(padding, "RandomCrop")
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(
                f"RandomCrop: padding_mode must be constant, edge, reflect or symmetric, got '{padding_mode}'"
            )
        self.padding, self.pad_if_needed, self.fill, self.padding_mode = (
            padding,
            pad_if_needed,
            fill,
            padding_mode,
        )

    @staticmethod
    def get_params(img: Any, output_size: Any) -> tuple[int, int, int, int]:
        """A random ``(top, left, height, width)`` window of ``output_size`` inside ``img``."""
        _, h, w = F.get_dimensions(img)
        th, tw = F._size2(output_size, "RandomCrop")
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: crop size {(th, tw)} is larger than the input image size {(h, w)}")
        if (h, w) == (th, tw):
            return 0, 0, h, w
        return _randint(0, h - th + 1), _randint(0, w - tw + 1), th, tw

    def __call__(self, img: Any) -> Any:
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, h, w = F.get_dimensions(img)
        th, tw = self.size
        if self.pad_if_needed and (w < tw or h < th):
            img = F.pad(img, [max(tw - w, 0), max(th - h, 0)], self.fill, self.padding_mode)
        return F.crop(img, *self.get_params(img, self.size))

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class _Flip(_TransformModule):
    _impl: Any = None

    def __init__(self, p: float = 0.5) -> None:
        self.p = _check_p(p, type(self).__name__)

    def __call__(self, img: Any) -> Any:
        return type(self)._impl(img) if _rand() < self.p else img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomHorizontalFlip(_Flip):
    """Flips left-right with probability ``p`` (a whole batch tensor at once, as torchvision)."""

    _impl = staticmethod(F.hflip)


class RandomVerticalFlip(_Flip):
    """Flips up-down with probability ``p``."""

    _impl = staticmethod(F.vflip)


def _interp_arg(interpolation: Any, op: str, allowed: tuple[str, ...]) -> str:
    mode = F._interp(interpolation)
    if mode not in allowed:
        raise ValueError(f"{op}: interpolation must be one of {list(allowed)}, got '{mode}'")
    return mode


class RandomResizedCrop(_TransformModule):
    """A random crop (area fraction in ``scale``, aspect ratio in ``ratio``, drawn log-uniformly;
    10 tries, then a centre crop) resized to ``size``, as torchvision."""

    def __init__(
        self,
        size: int | Sequence[int],
        scale: Sequence[float] = (0.08, 1.0),
        ratio: Sequence[float] = (3.0 / 4.0, 4.0 / 3.0),
        interpolation: Any = InterpolationMode.BILINEAR,
        antialias: bool | None = True,
    ) -> None:
        self.size = F._size2(size, "RandomResizedCrop")
        self.scale, self.ratio = tuple(float(v) for v in scale), tuple(float(v) for v in ratio)
        if len(self.scale) != 2 or len(self.ratio) != 2:
            raise ValueError(f"RandomResizedCrop: scale and ratio must be pairs, got {scale}, {ratio}")
        if self.scale[0] > self.scale[1] or self.ratio[0] > self.ratio[1]:
            raise ValueError("RandomResizedCrop: scale and ratio should be of kind (min, max)")
        self.interpolation = interpolation
        self.antialias = antialias
        F._interp(interpolation)

    @staticmethod
    def get_params(img: Any, scale: Sequence[float], ratio: Sequence[float]) -> tuple[int, int, int, int]:
        """A random ``(top, left, height, width)`` box."""
        _, h, w = F.get_dimensions(img)
        area = h * w
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target = area * _uniform(scale[0], scale[1])
            aspect = math.exp(_uniform(*log_ratio))
            cw = int(round(math.sqrt(target * aspect)))
            ch = int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                return _randint(0, h - ch + 1), _randint(0, w - cw + 1), ch, cw
        in_ratio = w / h
        if in_ratio < min(ratio):
            cw, ch = w, int(round(w / min(ratio)))
        elif in_ratio > max(ratio):
            ch, cw = h, int(round(h * max(ratio)))
        else:
            cw, ch = w, h
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def __call__(self, img: Any) -> Any:
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, i, j, h, w, list(self.size), self.interpolation, antialias=self.antialias)

    def __repr__(self) -> str:
        return f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio})"


def _degrees(degrees: Any, op: str) -> tuple[float, float]:
    if isinstance(degrees, numbers.Number):
        if degrees < 0:
            raise ValueError(f"{op}: if degrees is a single number, it must be positive, got {degrees}")
        return -float(degrees), float(degrees)
    degrees = tuple(float(v) for v in degrees)
    if len(degrees) != 2:
        raise ValueError(f"{op}: if degrees is a sequence, it must be of len 2, got {degrees}")
    return degrees


class RandomRotation(_TransformModule):
    """Rotation by an angle drawn uniformly from ``degrees`` (counter-clockwise; see
    :func:`functional.rotate` for ``expand``, ``center`` and ``fill``)."""

    def __init__(
        self,
        degrees: Any,
        interpolation: Any = InterpolationMode.NEAREST,
        expand: bool = False,
        center: Sequence[float] | None = None,
        fill: Any = 0,
    ) -> None:
        self.degrees = _degrees(degrees, "RandomRotation")
        self.interpolation = _interp_arg(interpolation, "RandomRotation", ("nearest", "bilinear"))
        self.expand, self.center, self.fill = bool(expand), center, fill

    @staticmethod
    def get_params(degrees: Sequence[float]) -> float:
        return _uniform(float(degrees[0]), float(degrees[1]))

    def __call__(self, img: Any) -> Any:
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, self.fill)

    def __repr__(self) -> str:
        return f"RandomRotation(degrees={self.degrees}, expand={self.expand})"


class RandomPerspective(_TransformModule):
    """With probability ``p``, a random perspective warp: each corner moves inwards by up to
    ``distortion_scale`` of half the image size, as torchvision."""

    def __init__(
        self,
        distortion_scale: float = 0.5,
        p: float = 0.5,
        interpolation: Any = InterpolationMode.BILINEAR,
        fill: Any = 0,
    ) -> None:
        if not 0.0 <= distortion_scale <= 1.0:
            raise ValueError(f"RandomPerspective: distortion_scale must be in [0, 1], got {distortion_scale}")
        self.distortion_scale = float(distortion_scale)
        self.p = _check_p(p, "RandomPerspective")
        self.interpolation = interpolation
        self.fill = fill

    @staticmethod
    def get_params(
        width: int, height: int, distortion_scale: float
    ) -> tuple[list[list[int]], list[list[int]]]:
        """The image's corners and the corners they move to (``[x, y]`` each)."""
        dx, dy = int(distortion_scale * (width // 2)), int(distortion_scale * (height // 2))
        topleft = [_randint(0, dx + 1), _randint(0, dy + 1)]
        topright = [_randint(width - dx - 1, width), _randint(0, dy + 1)]
        botright = [_randint(width - dx - 1, width), _randint(height - dy - 1, height)]
        botleft = [_randint(0, dx + 1), _randint(height - dy - 1, height)]
        start = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
        return start, [topleft, topright, botright, botleft]

    def __call__(self, img: Any) -> Any:
        fill = self.fill
        channels, height, width = F.get_dimensions(img)
        if isinstance(img, rustdl.Tensor):
            fill = [float(fill)] * channels if isinstance(fill, (int, float)) else [float(f) for f in fill]
        if _rand() < self.p:
            start, end = self.get_params(width, height, self.distortion_scale)
            return F.perspective(img, start, end, self.interpolation, fill)
        return img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomAffine(_TransformModule):
    """Random rotation (``degrees``), translation (``translate`` fractions of the size), scale
    and shear (``shear``: ``s`` for x in ``(-s, s)``, ``(a, b)`` for x, or ``(a, b, c, d)`` for x
    and y), about the centre or ``center``; see :func:`functional.affine`."""

    def __init__(
        self,
        degrees: Any,
        translate: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        shear: Any = None,
        interpolation: Any = InterpolationMode.NEAREST,
        fill: Any = 0,
        center: Sequence[float] | None = None,
    ) -> None:
        self.degrees = _degrees(degrees, "RandomAffine")
        if translate is not None:
            translate = tuple(float(v) for v in translate)
            if len(translate) != 2 or not all(0.0 <= v <= 1.0 for v in translate):
                raise ValueError(
                    f"RandomAffine: translate should be a pair of values in [0, 1], got {translate}"
                )
        if scale is not None:
            scale = tuple(float(v) for v in scale)
            if len(scale) != 2 or min(scale) <= 0:
                raise ValueError(f"RandomAffine: scale should be a pair of positive values, got {scale}")
        if shear is not None:
            if isinstance(shear, numbers.Number):
                if shear < 0:
                    raise ValueError(
                        f"RandomAffine: if shear is a single number, it must be positive, got {shear}"
                    )
                shear = (-float(shear), float(shear))
            else:
                shear = tuple(float(v) for v in shear)
                if len(shear) not in (2, 4):
                    raise ValueError(
                        f"RandomAffine: shear should be a sequence of length 2 or 4, got {shear}"
                    )
        self.translate, self.scale, self.shear = translate, scale, shear
        self.interpolation = _interp_arg(interpolation, "RandomAffine", ("nearest", "bilinear"))
        self.fill, self.center = fill, center

    @staticmethod
    def get_params(
        degrees: Sequence[float],
        translate: Sequence[float] | None,
        scale_ranges: Sequence[float] | None,
        shears: Sequence[float] | None,
        img_size: Sequence[int],
    ) -> tuple[float, tuple[int, int], float, tuple[float, float]]:
        """``(angle, (tx, ty), scale, (shear_x, shear_y))`` for an image of ``img_size``
        ``(width, height)``."""
        angle = _uniform(float(degrees[0]), float(degrees[1]))
        tx = ty = 0
        if translate is not None:
            mx, my = float(translate[0] * img_size[0]), float(translate[1] * img_size[1])
            tx, ty = int(round(_uniform(-mx, mx))), int(round(_uniform(-my, my)))
        scale = _uniform(scale_ranges[0], scale_ranges[1]) if scale_ranges is not None else 1.0
        sx = sy = 0.0
        if shears is not None:
            sx = _uniform(shears[0], shears[1])
            if len(shears) == 4:
                sy = _uniform(shears[2], shears[3])
        return angle, (tx, ty), scale, (sx, sy)

    def __call__(self, img: Any) -> Any:
        w, h = F.get_image_size(img)
        angle, translate, scale, shear = self.get_params(
            self.degrees, self.translate, self.scale, self.shear, (w, h)
        )
        return F.affine(img, angle, translate, scale, shear, self.interpolation, self.fill, self.center)

    def __repr__(self) -> str:
        return f"RandomAffine(degrees={self.degrees}, translate={self.translate}, scale={self.scale}, shear={self.shear})"


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


class ColorJitter(_TransformModule):
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
    ) -> tuple[rustdl.Tensor, float | None, float | None, float | None, float | None]:
        """The order of the four adjustments (an int64 tensor, as torchvision's) and their
        factors (None where not applied)."""
        order = rustdl.randperm(4)
        b = None if brightness is None else _uniform(*brightness)
        c = None if contrast is None else _uniform(*contrast)
        s = None if saturation is None else _uniform(*saturation)
        h = None if hue is None else _uniform(*hue)
        return order, b, c, s, h

    def __call__(self, img: Any) -> Any:
        order, b, c, s, h = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        for fn_id in order.tolist():
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


class Grayscale(_TransformModule):
    """RGB → grayscale (ITU-R 601-2 luma), with 1 or 3 output channels."""

    def __init__(self, num_output_channels: int = 1) -> None:
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels must be 1 or 3, got {num_output_channels}")
        self.num_output_channels = num_output_channels

    def __call__(self, img: Any) -> Any:
        return F.rgb_to_grayscale(img, self.num_output_channels)

    def __repr__(self) -> str:
        return f"Grayscale(num_output_channels={self.num_output_channels})"


class RandomGrayscale(_TransformModule):
    """Grayscale with probability ``p``, keeping the channel count (3 gray channels for RGB)."""

    def __init__(self, p: float = 0.1) -> None:
        self.p = _check_p(p, "RandomGrayscale")

    def __call__(self, img: Any) -> Any:
        # as torchvision: as many output channels as the image has (so a 2- or 4-channel image,
        # LA or RGBA, raises ValueError when drawn)
        channels = F.get_image_num_channels(img)
        if _rand() < self.p:
            return F.rgb_to_grayscale(img, num_output_channels=channels)
        return img

    def __repr__(self) -> str:
        return f"RandomGrayscale(p={self.p})"


class GaussianBlur(_TransformModule):
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


class ElasticTransform(_TransformModule):
    """Elastic distortion, as torchvision's: a random displacement per pixel, drawn from the global
    generator as ``rand(1, 1, H, W) * 2 - 1`` for x then for y, each blurred by a Gaussian of
    ``sigma`` (kernel ``int(8 * sigma + 1)``, made odd) and scaled by ``alpha`` over the width
    (x) or height (y); the image is then sampled there (see :func:`functional.elastic_transform`).
    ``alpha`` and ``sigma`` are floats or pairs of floats; ``fill`` a number or one per channel."""

    def __init__(
        self,
        alpha: Any = 50.0,
        sigma: Any = 5.0,
        interpolation: Any = InterpolationMode.BILINEAR,
        fill: Any = 0,
    ) -> None:
        self.alpha = self._pair(alpha, "alpha")
        self.sigma = self._pair(sigma, "sigma")
        if isinstance(interpolation, int) and not isinstance(interpolation, InterpolationMode):
            interpolation = InterpolationMode(F._interp(interpolation))
        self.interpolation = interpolation
        if isinstance(fill, (int, float)):
            fill = [float(fill)]
        elif isinstance(fill, (list, tuple)):
            fill = [float(f) for f in fill]
        else:
            raise TypeError(f"fill should be int or float or a list or tuple of them. Got {type(fill)}")
        self.fill = fill

    @staticmethod
    def _pair(value: Any, name: str) -> list[float]:
        if not isinstance(value, (float, Sequence)):
            raise TypeError(f"{name} should be float or a sequence of floats. Got {type(value)}")
        if isinstance(value, Sequence) and len(value) != 2:
            raise ValueError(f"If {name} is a sequence its length should be 2. Got {len(value)}")
        if isinstance(value, Sequence):
            for element in value:
                if not isinstance(element, float):
                    raise TypeError(f"{name} should be a sequence of floats. Got {type(element)}")
            return list(value)
        return [float(value), float(value)]

    @staticmethod
    def get_params(alpha: Sequence[float], sigma: Sequence[float], size: Sequence[int]) -> rustdl.Tensor:
        """The ``(1, H, W, 2)`` displacement for an image of ``size`` ``[H, W]``."""
        h, w = int(size[0]), int(size[1])
        parts = []
        for k, extent in ((0, w), (1, h)):
            d = rustdl.rand(1, 1, h, w) * 2 - 1
            if sigma[k] > 0.0:
                ksize = int(8 * sigma[k] + 1)
                if ksize % 2 == 0:
                    ksize += 1
                d = F.gaussian_blur(d, [ksize, ksize], list(sigma))
            parts.append(d * alpha[k] / extent)
        return rustdl.cat(parts, 1).permute(0, 2, 3, 1)

    def __call__(self, img: Any) -> Any:
        _, height, width = F.get_dimensions(img)
        displacement = self.get_params(self.alpha, self.sigma, [height, width])
        return F.elastic_transform(img, displacement, self.interpolation, self.fill)

    forward = __call__

    def __repr__(self) -> str:
        mode = self.interpolation
        shown = f"InterpolationMode.{mode.name}" if isinstance(mode, InterpolationMode) else str(mode)
        return (
            f"{type(self).__name__}(alpha={self.alpha}, sigma={self.sigma}, interpolation={shown}, "
            f"fill={self.fill})"
        )


class LinearTransformation(_TransformModule):
    """``(x.flatten() - mean_vector) @ transformation_matrix`` reshaped back, per image of a
    ``(..., C, H, W)`` tensor (whitening), as torchvision's: the matrix is ``D × D`` and the mean
    ``D`` long, ``D = C·H·W``."""

    def __init__(self, transformation_matrix: rustdl.Tensor, mean_vector: rustdl.Tensor) -> None:
        if transformation_matrix.size(0) != transformation_matrix.size(1):
            raise ValueError(
                "transformation_matrix should be square. Got "
                f"{tuple(transformation_matrix.size())} rectangular matrix."
            )
        if mean_vector.size(0) != transformation_matrix.size(0):
            raise ValueError(
                f"mean_vector should have the same length {mean_vector.size(0)} as any one of the "
                f"dimensions of the transformation_matrix [{tuple(transformation_matrix.size())}]"
            )
        if transformation_matrix.device != mean_vector.device:
            raise ValueError(
                f"Input tensors should be on the same device. Got {transformation_matrix.device} "
                f"and {mean_vector.device}"
            )
        if transformation_matrix.dtype != mean_vector.dtype:
            raise ValueError(
                f"Input tensors should have the same dtype. Got {transformation_matrix.dtype} "
                f"and {mean_vector.dtype}"
            )
        self.transformation_matrix = transformation_matrix
        self.mean_vector = mean_vector

    def __call__(self, tensor: rustdl.Tensor) -> rustdl.Tensor:
        shape = tuple(tensor.shape)
        n = shape[-3] * shape[-2] * shape[-1]
        if n != self.transformation_matrix.shape[0]:
            raise ValueError(
                "Input tensor and transformation matrix have incompatible shape."
                f"[{shape[-3]} x {shape[-2]} x {shape[-1]}] != {self.transformation_matrix.shape[0]}"
            )
        if tensor.device.type != self.mean_vector.device.type:
            raise ValueError(
                "Input tensor should be on the same device as transformation matrix and mean vector. "
                f"Got {tensor.device} vs {self.mean_vector.device}"
            )
        flat = tensor.reshape(-1, n) - self.mean_vector
        out = rustdl.mm(flat, self.transformation_matrix.to(flat.dtype))
        return out.reshape(shape)

    forward = __call__

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(transformation_matrix={self.transformation_matrix.tolist()}, "
            f"mean_vector={self.mean_vector.tolist()})"
        )


class RandomErasing(_TransformModule):
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


class _RandomColourOp(_TransformModule):
    """Applies ``_op(img, *args)`` with probability ``p`` (the RandomPosterize family)."""

    _op: Any = None

    def __init__(self, *args: Any, p: float = 0.5) -> None:
        self._args = args
        self.p = _check_p(p, type(self).__name__)

    def __call__(self, img: Any) -> Any:
        return type(self)._op(img, *self._args) if _rand() < self.p else img

    forward = __call__

    _arg_names: tuple[str, ...] = ()

    def __repr__(self) -> str:
        args = "".join(f"{k}={v}," for k, v in zip(self._arg_names, self._args))
        return f"{type(self).__name__}({args}p={self.p})"


class RandomPosterize(_RandomColourOp):
    """``posterize(img, bits)`` with probability ``p`` (uint8 images)."""

    _op = staticmethod(F.posterize)

    _arg_names = ("bits",)

    def __init__(self, bits: int, p: float = 0.5) -> None:
        super().__init__(bits, p=p)
        self.bits = bits


class RandomSolarize(_RandomColourOp):
    """``solarize(img, threshold)`` with probability ``p``."""

    _op = staticmethod(F.solarize)

    _arg_names = ("threshold",)

    def __init__(self, threshold: float, p: float = 0.5) -> None:
        super().__init__(threshold, p=p)
        self.threshold = threshold


class RandomAdjustSharpness(_RandomColourOp):
    """``adjust_sharpness(img, sharpness_factor)`` with probability ``p``."""

    _op = staticmethod(F.adjust_sharpness)

    _arg_names = ("sharpness_factor",)

    def __init__(self, sharpness_factor: float, p: float = 0.5) -> None:
        super().__init__(sharpness_factor, p=p)
        self.sharpness_factor = sharpness_factor


class RandomAutocontrast(_RandomColourOp):
    """``autocontrast(img)`` with probability ``p`` (torchvision's signature: ``p`` is the only,
    and first, argument)."""

    _op = staticmethod(F.autocontrast)

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p=p)


class RandomEqualize(_RandomColourOp):
    """``equalize(img)`` with probability ``p`` (uint8 images; ``p`` first, as torchvision)."""

    _op = staticmethod(F.equalize)

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p=p)


class RandomInvert(_RandomColourOp):
    """``invert(img)`` with probability ``p`` (``p`` first, as torchvision)."""

    _op = staticmethod(F.invert)

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p=p)


from .autoaugment import AugMix, AutoAugment, AutoAugmentPolicy, RandAugment, TrivialAugmentWide  # noqa: E402, I001

from . import autoaugment, v2  # noqa: E402,F401  (v2 builds on the classes above)


def __getattr__(name: str):
    raise AttributeError(
        f"module 'torchvision.transforms' has no attribute '{name}': rustdl's torchvision shim "
        f"does not support transforms.{name} yet (see rustdl.data.transforms for augmentations)"
    )
