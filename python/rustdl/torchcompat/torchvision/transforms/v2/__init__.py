"""``torchvision.transforms.v2`` for the shim: the classes of ``torchvision.transforms``, plus
``ToImage``, ``ToDtype`` and ``ToPureTensor``, callable as v2's are with several inputs.

Given several inputs (``t(img, label)`` or one tuple ``t((img, label))``), a transform applies to
the one image among them (a PIL image, numpy array or tensor of 2 or more dims) and passes the
others (labels) through unchanged, returning the same structure. Transforming several images
jointly (segmentation masks, bounding boxes) is not supported and raises ``NotImplementedError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

import rustdl

from .. import __all__ as _v1_names
from .. import functional as _F
from . import functional

__all__ = sorted(
    {n for n in _v1_names if n not in ("functional", "v2")}
    | {"Identity", "ToDtype", "ToImage", "ToPureTensor", "functional"}
)


def _is_image(x: Any) -> bool:
    if isinstance(x, (rustdl.Tensor, np.ndarray)):
        return x.ndim >= 2
    return _F._is_pil(x)


def _apply(fn: Callable[[Any], Any], inputs: tuple, name: str) -> Any:
    """``fn`` on the single image among ``inputs``; the rest come back unchanged."""
    if len(inputs) == 1 and not isinstance(inputs[0], (tuple, list)):
        return fn(inputs[0])
    structure = inputs[0] if len(inputs) == 1 else inputs
    where = [k for k, x in enumerate(structure) if _is_image(x)]
    if len(where) > 1:
        raise NotImplementedError(
            f"v2.{name}: rustdl's torchvision shim transforms one image per call; joint transforms of "
            f"several images (masks, boxes) are not supported"
        )
    out = list(structure)
    for k in where:
        out[k] = fn(out[k])
    out = type(structure)(out) if isinstance(structure, (tuple, list)) else tuple(out)
    return out


def _v2(cls: type) -> type:
    """``cls`` made to take v2's several inputs."""

    def __call__(self: Any, *inputs: Any) -> Any:
        if not inputs:
            raise TypeError(f"v2.{cls.__name__}: expected at least one input")
        return _apply(lambda x: cls.__call__(self, x), inputs, cls.__name__)

    return type(cls.__name__, (cls,), {"__call__": __call__, "__module__": __name__, "__doc__": cls.__doc__})


from .. import (  # noqa: E402  # noqa: E402
    AugMix,
    AutoAugment,
    AutoAugmentPolicy,  # noqa: F401  (re-exported)
    CenterCrop,
    ColorJitter,
    ConvertImageDtype,
    FiveCrop,
    GaussianBlur,
    Grayscale,
    InterpolationMode,  # noqa: F401  (re-exported)
    Lambda,
    Normalize,
    Pad,
    PILToTensor,
    RandAugment,
    RandomAdjustSharpness,
    RandomAffine,
    RandomApply,
    RandomAutocontrast,
    RandomCrop,
    RandomEqualize,
    RandomErasing,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomInvert,
    RandomOrder,
    RandomPosterize,
    RandomResizedCrop,
    RandomRotation,
    RandomSolarize,
    RandomVerticalFlip,
    Resize,
    TenCrop,
    ToPILImage,
    ToTensor,
    TrivialAugmentWide,
)
from .. import Compose as _Compose  # noqa: E402
from .. import RandomChoice as _RandomChoice  # noqa: E402

CenterCrop = _v2(CenterCrop)
ColorJitter = _v2(ColorJitter)
ConvertImageDtype = _v2(ConvertImageDtype)
FiveCrop = _v2(FiveCrop)
GaussianBlur = _v2(GaussianBlur)
Grayscale = _v2(Grayscale)
Lambda = _v2(Lambda)
Normalize = _v2(Normalize)
Pad = _v2(Pad)
PILToTensor = _v2(PILToTensor)
RandomAffine = _v2(RandomAffine)
RandomCrop = _v2(RandomCrop)
RandomErasing = _v2(RandomErasing)
RandomGrayscale = _v2(RandomGrayscale)
RandomHorizontalFlip = _v2(RandomHorizontalFlip)
RandomResizedCrop = _v2(RandomResizedCrop)
RandomRotation = _v2(RandomRotation)
RandomVerticalFlip = _v2(RandomVerticalFlip)
Resize = _v2(Resize)
TenCrop = _v2(TenCrop)
ToPILImage = _v2(ToPILImage)
ToTensor = _v2(ToTensor)
AugMix = _v2(AugMix)
AutoAugment = _v2(AutoAugment)
RandAugment = _v2(RandAugment)
TrivialAugmentWide = _v2(TrivialAugmentWide)
RandomAdjustSharpness = _v2(RandomAdjustSharpness)
RandomAutocontrast = _v2(RandomAutocontrast)
RandomEqualize = _v2(RandomEqualize)
RandomInvert = _v2(RandomInvert)
RandomPosterize = _v2(RandomPosterize)
RandomSolarize = _v2(RandomSolarize)


def _chain(transforms: Sequence[Callable], inputs: tuple) -> Any:
    many = len(inputs) > 1
    for t in transforms:
        out = t(*inputs)
        inputs = out if many else (out,)
    return inputs if many else inputs[0]


class Compose(_Compose):
    """Applies transforms in order; several inputs are passed through each as a tuple."""

    def __call__(self, *inputs: Any) -> Any:
        return _chain(self.transforms, inputs)


class RandomApply(RandomApply):
    __doc__ = RandomApply.__doc__

    def __call__(self, *inputs: Any) -> Any:
        if self.p < float(rustdl.rand(1).item()):
            return inputs if len(inputs) > 1 else inputs[0]
        return _chain(self.transforms, inputs)


class RandomOrder(RandomOrder):
    __doc__ = RandomOrder.__doc__

    def __call__(self, *inputs: Any) -> Any:
        order = [int(i) for i in rustdl.randperm(len(self.transforms)).tolist()]
        return _chain([self.transforms[i] for i in order], inputs)


class RandomChoice(_RandomChoice):
    __doc__ = _RandomChoice.__doc__


class Identity:
    """Returns its input(s) unchanged."""

    def __call__(self, *inputs: Any) -> Any:
        return inputs if len(inputs) > 1 else inputs[0]


class ToImage:
    """PIL image / numpy ``(H, W[, C])`` → tensor ``(C, H, W)`` with its values and dtype kept; a
    tensor is returned as is."""

    def __call__(self, *inputs: Any) -> Any:
        return _apply(functional.to_image, inputs, "ToImage")

    def __repr__(self) -> str:
        return "ToImage()"


class ToDtype:
    """Converts tensor images to ``dtype``; with ``scale=True`` rescales values between integer
    (``[0, 255]``) and float (``[0, 1]``) ranges. ``dtype`` may be a dict as in torchvision; its
    first non-None value is used for the image. PIL images pass through unchanged."""

    def __init__(self, dtype: Any, scale: bool = False) -> None:
        self.dtype = dtype
        self.scale = scale

    def _one(self, x: Any) -> Any:
        dtype = self.dtype
        if isinstance(dtype, dict):
            dtype = next((d for d in dtype.values() if d is not None), None)
            if dtype is None:
                return x
        return functional.to_dtype(x, dtype, self.scale) if isinstance(x, rustdl.Tensor) else x

    def __call__(self, *inputs: Any) -> Any:
        return _apply(self._one, inputs, "ToDtype")

    def __repr__(self) -> str:
        return f"ToDtype(dtype={self.dtype}, scale={self.scale})"


class ToPureTensor(Identity):
    """Returns its input(s) unchanged (the shim has no ``tv_tensors`` subclasses to strip)."""
