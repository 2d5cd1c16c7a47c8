"""``torchvision.transforms.v2`` for the shim: the classes of ``torchvision.transforms``, plus
``ToImage``, ``ToDtype`` and ``ToPureTensor``, callable as v2's are with several inputs.

Given several inputs (``t(img, label)`` or one tuple ``t((img, label))``), a transform applies to
the one image among them (a PIL image, numpy array or tensor of 2 or more dims) and passes the
others (labels) through unchanged, returning the same structure. Transforming several images
jointly (segmentation masks, bounding boxes) is not supported and raises ``NotImplementedError``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

import rustdl

from .. import __all__ as _v1_names
from .. import functional as _F
from . import functional

__all__ = sorted(
    {n for n in _v1_names if n not in ("functional", "v2")}
    | {"Identity", "ToDtype", "ToImage", "ToPureTensor", "functional", "Transform", "MixUp", "CutMix"}
    | {"GaussianNoise", "RandomChannelPermutation", "RGB"}
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
    ElasticTransform,
    FiveCrop,
    GaussianBlur,
    Grayscale,
    InterpolationMode,  # noqa: F401  (re-exported)
    Lambda,
    LinearTransformation,
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
    RandomPerspective,
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
RandomPerspective = _v2(RandomPerspective)
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
ElasticTransform = _v2(ElasticTransform)
LinearTransformation = _v2(LinearTransformation)


def _v2_only(cls: type, accepts: Callable[[Any], bool]) -> type:
    """``cls`` made to take v2's several inputs, transforming only the inputs ``accepts`` admits
    and passing any other through unchanged (v2's ``ToTensor`` leaves a tensor as it is, v2's
    ``ToPILImage`` a PIL image)."""

    def __call__(self: Any, *inputs: Any) -> Any:
        if not inputs:
            raise TypeError(f"v2.{cls.__name__}: expected at least one input")
        return _apply(lambda x: cls.__call__(self, x) if accepts(x) else x, inputs, cls.__name__)

    return type(cls.__name__, (cls,), {"__call__": __call__, "__module__": __name__, "__doc__": cls.__doc__})


ToTensor = _v2_only(ToTensor, lambda x: _F._is_pil(x) or isinstance(x, np.ndarray))
ToPILImage = _v2_only(ToPILImage, lambda x: not _F._is_pil(x))


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

    def __call__(self, *inputs: Any) -> Any:
        # v2 picks with a one-sample multinomial over the normalised weights (the tensor stream)
        p = self.p if self.p is not None else [1.0] * len(self.transforms)
        total = sum(p)
        idx = int(rustdl.multinomial(rustdl.tensor([v / total for v in p]), 1).item())
        return self.transforms[idx](*inputs)


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


# ----------------------------------------------------------------------------------------------
# v2-only transforms: the Transform base, batch MixUp / CutMix, noise, channel permutation, RGB


class Transform:
    """Base of v2 transforms. A subclass implements ``transform(inpt, params)`` (older releases:
    ``_transform``) and may implement ``make_params(flat_inputs)`` (``_get_params``): the
    parameters are drawn once per call and every image among the inputs is transformed with
    them; other inputs (labels, ints) come back unchanged."""

    def make_params(self, flat_inputs: list) -> dict:
        legacy = getattr(self, "_get_params", None)
        return legacy(flat_inputs) if legacy is not None else {}

    def transform(self, inpt: Any, params: dict) -> Any:
        legacy = getattr(self, "_transform", None)
        if legacy is None:
            raise NotImplementedError(f"{type(self).__name__} must implement transform(inpt, params)")
        return legacy(inpt, params)

    def forward(self, *inputs: Any) -> Any:
        structure = inputs if len(inputs) > 1 else inputs[0]
        flat = list(structure) if isinstance(structure, (tuple, list)) else [structure]
        images = [x for x in flat if _is_image(x)]
        params = self.make_params(images)
        out = [self.transform(x, params) if _is_image(x) else x for x in flat]
        if isinstance(structure, (tuple, list)):
            return type(structure)(out)
        return out[0]

    def __call__(self, *inputs: Any) -> Any:
        return self.forward(*inputs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class _MixBase:
    """What MixUp and CutMix share: ``(images, labels)`` in, mixed images and soft labels out."""

    def __init__(
        self, *, alpha: float = 1.0, num_classes: int | None = None, labels_getter: Any = "default"
    ) -> None:
        if not alpha > 0:
            raise ValueError(f"{type(self).__name__}: alpha must be positive, got {alpha}")
        self.alpha = float(alpha)
        self.num_classes = num_classes
        self.labels_getter = labels_getter

    def _lam(self) -> float:
        a = rustdl.tensor([self.alpha], device="cpu")
        return float(rustdl.distributions.Beta(a, a).sample().item())

    def _mix_labels(self, labels: rustdl.Tensor, lam: float) -> rustdl.Tensor:
        if labels.dim() == 1:
            labels = rustdl.nn.functional.one_hot(labels, num_classes=self.num_classes)
        if not labels.is_floating_point():
            labels = labels.float()
        return labels.roll(1, 0) * (1.0 - lam) + labels * lam

    def __call__(self, *inputs: Any) -> Any:
        pair = inputs if len(inputs) > 1 else inputs[0]
        name = type(self).__name__
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"{name}: expected (images, labels), got {type(pair).__name__}")
        images, labels = pair
        if not isinstance(images, rustdl.Tensor) or images.dim() != 4:
            raise ValueError(
                f"{name}: expected a batch of images (N, C, H, W), got {getattr(images, 'shape', images)}"
            )
        if not isinstance(labels, rustdl.Tensor):
            raise ValueError(f"{name}: the labels must be a tensor, got {type(labels).__name__}")
        if labels.dim() not in (1, 2):
            raise ValueError(
                f"{name}: labels should be class indices (batch_size,) or probabilities (batch_size, num_classes), "
                f"got shape {tuple(labels.shape)}"
            )
        if labels.dim() == 1 and self.num_classes is None:
            raise ValueError(f"{name}: num_classes must be passed if the labels are index-based (1D)")
        if labels.dim() == 2 and self.num_classes is not None and labels.shape[-1] != self.num_classes:
            raise ValueError(
                f"{name}: labels have {labels.shape[-1]} classes, not num_classes={self.num_classes}"
            )
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{name}: {images.shape[0]} images but {labels.shape[0]} labels")
        out_images, lam = self._mix_images(images)
        out = (out_images, self._mix_labels(labels, lam))
        return type(pair)(out) if isinstance(pair, list) else out

    forward = __call__


class MixUp(_MixBase):
    """MixUp on a batch: each image and its one-hot label blended with the previous one in the
    batch (``roll(1, 0)``), weight ``lam ~ Beta(alpha, alpha)``."""

    def _mix_images(self, images: rustdl.Tensor) -> tuple[rustdl.Tensor, float]:
        lam = self._lam()
        mixed = images.roll(1, 0) * (1.0 - lam) + images * lam
        return mixed.to(images.dtype), lam

    def __repr__(self) -> str:
        return f"MixUp(alpha={self.alpha}, num_classes={self.num_classes})"


class CutMix(_MixBase):
    """CutMix on a batch: a random box of each image replaced by the previous image's (area
    fraction ``1 - lam``, ``lam ~ Beta(alpha, alpha)``); the labels mix by the box's true area."""

    def _mix_images(self, images: rustdl.Tensor) -> tuple[rustdl.Tensor, float]:
        lam = self._lam()
        h, w = images.shape[-2:]
        cx, cy = int(rustdl.randint(0, w, (1,)).item()), int(rustdl.randint(0, h, (1,)).item())
        r = 0.5 * math.sqrt(1.0 - lam)
        rw, rh = int(r * w), int(r * h)
        x1, y1, x2, y2 = max(cx - rw, 0), max(cy - rh, 0), min(cx + rw, w), min(cy + rh, h)
        out = images.clone()
        out[..., y1:y2, x1:x2] = images.roll(1, 0)[..., y1:y2, x1:x2]
        return out, 1.0 - (x2 - x1) * (y2 - y1) / (w * h)

    def __repr__(self) -> str:
        return f"CutMix(alpha={self.alpha}, num_classes={self.num_classes})"


class GaussianNoise(Transform):
    """Adds ``N(mean, sigma²)`` noise to a float image, clamped to ``[0, 1]`` with ``clip``."""

    def __init__(self, mean: float = 0.0, sigma: float = 0.1, clip: bool = True) -> None:
        if sigma < 0:
            raise ValueError(f"GaussianNoise: sigma should be non-negative, got {sigma}")
        self.mean, self.sigma, self.clip = float(mean), float(sigma), clip

    def transform(self, inpt: Any, params: dict) -> Any:
        if not isinstance(inpt, rustdl.Tensor) or not inpt.is_floating_point():
            raise ValueError("GaussianNoise: input should be a float tensor image")
        out = inpt + rustdl.randn_like(inpt) * self.sigma + self.mean
        return out.clamp(0.0, 1.0) if self.clip else out


class RandomChannelPermutation(Transform):
    """Shuffles the channels of an image (one permutation per call)."""

    def make_params(self, flat_inputs: list) -> dict:
        c = _F.get_dimensions(flat_inputs[0])[0] if flat_inputs else 0
        return {"perm": [int(i) for i in rustdl.randperm(c).tolist()]}

    def transform(self, inpt: Any, params: dict) -> Any:
        if isinstance(inpt, rustdl.Tensor):
            idx = rustdl.tensor(params["perm"], dtype=rustdl.int64, device=inpt.device)
            return inpt.index_select(-3, idx)
        out = np.ascontiguousarray(np.asarray(inpt)[..., params["perm"]])  # (H, W, C) images
        return out if isinstance(inpt, np.ndarray) else _pil_from(out)


def _pil_from(a: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(a))


class RGB(Transform):
    """Converts an image to 3 channels (a grayscale one repeated; PIL images to mode RGB)."""

    def transform(self, inpt: Any, params: dict) -> Any:
        if _F._is_pil(inpt):
            return inpt.convert("RGB")
        if isinstance(inpt, rustdl.Tensor):
            c = inpt.shape[-3]
            if c == 3:
                return inpt
            if c == 1:
                return inpt.expand(*inpt.shape[:-3], 3, *inpt.shape[-2:]).clone()
            raise ValueError(f"RGB: expected 1 or 3 channels, got {c}")
        a = np.asarray(inpt)
        return np.repeat(a[..., None], 3, axis=-1) if a.ndim == 2 else a
