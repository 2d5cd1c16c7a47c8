"""Image transforms and augmentations, as ``torchvision.transforms``, for a ``(C, H, W)`` image or an
``(N, C, H, W)`` batch given as a rustdl tensor or a numpy array (the output has the input's type).

Each image of a batch gets its own random parameters, drawn in one call from rustdl's generator
(so ``rustdl.manual_seed`` makes a run reproducible), and a batch is transformed without a Python
loop per image: every geometric transform (flip, crop, resized crop, rotation, affine) becomes one
index map from output pixels to input pixels, computed in numpy, and one gather — numpy fancy
indexing for arrays, ``Tensor.index_select`` in Rust (on the tensor's device) for tensors.

Example:
    >>> from rustdl.data import transforms as T
    >>> augment = T.Compose([T.RandomCrop(28, padding=2), T.RandomHorizontalFlip(), T.Normalize([0.286], [0.353])])
    >>> batch = augment(images)          # (N, 1, 28, 28) in, (N, 1, 28, 28) out
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from .. import Tensor, cat, from_numpy, full, rand, randn, where

__all__ = [
    "Compose",
    "GaussianNoise",
    "Lambda",
    "Normalize",
    "RandomAffine",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomResizedCrop",
    "RandomRotation",
    "RandomVerticalFlip",
    "ToTensor",
]

Image = Any  # a rustdl Tensor or a numpy array, (C, H, W) or (N, C, H, W)


# ----------------------------------------------------------------------------------------------
# helpers: batching, random draws, gathers


def _batched(x: Image, op: str) -> tuple[Image, bool]:
    """``x`` as an ``(N, C, H, W)`` batch, and whether it was a single ``(C, H, W)`` image."""
    if not isinstance(x, (Tensor, np.ndarray)):
        raise TypeError(f"{op}: expected a rustdl Tensor or a numpy array, got {type(x).__name__}")
    if x.ndim == 3:
        return x.reshape(1, *x.shape) if isinstance(x, Tensor) else x[None], True
    if x.ndim == 4:
        return x, False
    raise ValueError(f"{op}: expected a (C, H, W) image or an (N, C, H, W) batch, got shape {tuple(x.shape)}")


def _unbatched(x: Image, single: bool) -> Image:
    return x[0] if single else x


def _uniform(n: int, k: int = 1) -> np.ndarray:
    """``(n, k)`` uniform draws in [0, 1) from rustdl's generator, as float64 numpy."""
    return rand(n, k).numpy().astype(np.float64)


def _uniform_in(lo: float, hi: float, u: np.ndarray) -> np.ndarray:
    return lo + (hi - lo) * u


def _randint_below(high: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Integers uniform in ``[0, high)`` from uniforms ``u``; ``high`` is an int array >= 1."""
    return np.minimum(np.floor(u * high).astype(np.int64), high - 1)


def _is_float(x: Image) -> bool:
    return x.is_floating_point() if isinstance(x, Tensor) else x.dtype.kind == "f"


def _to_device(arr: np.ndarray, like: Tensor) -> Tensor:
    t = from_numpy(np.ascontiguousarray(arr))
    return t if like.device.type == "cpu" else t.to(like.device)


def _gather(x: Image, index: np.ndarray, out_hw: tuple[int, int], fill: float) -> Image:
    """Output pixel ``p`` of image ``n`` is ``x[n, :, index[n, p]]`` over the flattened ``H*W``
    pixels, or ``fill`` where ``index == H*W``.

    Shape:
        x: ``(N, C, H, W)``; index: ``(N, Ho*Wo)`` int64 in ``[0, H*W]``; output ``(N, C, Ho, Wo)``.
    """
    n, c, h, w = x.shape
    hw1 = h * w + 1
    # one flat index into the (N, C, H*W + 1) buffer whose last column holds the fill value
    base = (np.arange(n * c, dtype=np.int64) * hw1).reshape(n, c, 1)
    flat_index = (base + index[:, None, :]).reshape(-1)
    if isinstance(x, Tensor):
        pad = full((n, c, 1), fill, dtype=x.dtype, device=x.device)
        flat = cat([x.reshape(n, c, h * w), pad], 2).reshape(-1)
        return flat.index_select(0, _to_device(flat_index, x)).reshape(n, c, *out_hw)
    flat = np.concatenate([x.reshape(n, c, h * w), np.full((n, c, 1), fill, dtype=x.dtype)], axis=2).reshape(
        -1
    )
    return flat[flat_index].reshape(n, c, *out_hw)


def _flat_index(ys: np.ndarray, xs: np.ndarray, h: int, w: int) -> np.ndarray:
    """Integer source coordinates to flat indices, ``h*w`` (the fill slot) where out of bounds."""
    inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
    return np.where(inside, ys * w + xs, h * w).reshape(ys.shape[0], -1)


def _sample(x: Image, sy: np.ndarray, sx: np.ndarray, interpolation: str, fill: float, op: str) -> Image:
    """Samples ``x`` at real source coordinates ``(sy, sx)`` of shape ``(N, Ho, Wo)``.

    ``nearest`` rounds to the closest pixel; ``bilinear`` blends the four neighbours. Points
    outside the image take ``fill``.
    """
    n, _c, h, w = x.shape
    out_hw = sy.shape[1:]
    if interpolation == "nearest":
        yi = np.floor(sy + 0.5).astype(np.int64)
        xi = np.floor(sx + 0.5).astype(np.int64)
        return _gather(x, _flat_index(yi, xi, h, w), out_hw, fill)
    if interpolation != "bilinear":
        raise ValueError(f"{op}: interpolation must be 'nearest' or 'bilinear', got '{interpolation}'")
    y0, x0 = np.floor(sy), np.floor(sx)
    fy, fx = sy - y0, sx - x0
    y0, x0 = y0.astype(np.int64), x0.astype(np.int64)
    xf = x if _is_float(x) else _as_float(x)
    out = None
    for dy, dx, wt in (
        (0, 0, (1 - fy) * (1 - fx)),
        (0, 1, (1 - fy) * fx),
        (1, 0, fy * (1 - fx)),
        (1, 1, fy * fx),
    ):
        part = _gather(xf, _flat_index(y0 + dy, x0 + dx, h, w), out_hw, fill)
        wt = wt.reshape(n, 1, *out_hw).astype(np.float32 if _dtype_is_f32(part) else np.float64)
        term = part * (_to_device(wt, part) if isinstance(part, Tensor) else wt)
        out = term if out is None else out + term
    if not _is_float(x):
        out = _round_like(out, x)
    return out


def _dtype_is_f32(x: Image) -> bool:
    return str(x.dtype).endswith("float32")


def _as_float(x: Image) -> Image:
    return x.float() if isinstance(x, Tensor) else x.astype(np.float32)


def _round_like(out: Image, like: Image) -> Image:
    if isinstance(out, Tensor):
        return (out + 0.5).floor().to(like.dtype)
    info = np.iinfo(like.dtype) if like.dtype.kind in "iu" else None
    out = np.floor(out + 0.5)
    if info is not None:
        out = np.clip(out, info.min, info.max)
    return out.astype(like.dtype)


def _pair(v: int | Sequence[int], what: str, op: str) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        v = (int(v), int(v))
    v = tuple(int(a) for a in v)
    if len(v) != 2 or min(v) <= 0:
        raise ValueError(f"{op}: {what} must be a positive int or a pair of them, got {v}")
    return v


def _range(v: float | Sequence[float], what: str, op: str, symmetric: bool = True) -> tuple[float, float]:
    if isinstance(v, (int, float, np.number)):
        if v < 0:
            raise ValueError(f"{op}: {what} must be non-negative when a single number, got {v}")
        return (-float(v), float(v)) if symmetric else (float(v), float(v))
    v = tuple(float(a) for a in v)
    if len(v) != 2 or v[0] > v[1]:
        raise ValueError(f"{op}: {what} must be a number or a (min, max) pair, got {v}")
    return v


def _check_p(p: float, op: str) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: probability p must lie in [0, 1], got {p}")
    return float(p)


# ----------------------------------------------------------------------------------------------
# transforms


class Transform:
    """Base class: subclasses implement ``forward(batch)`` on an ``(N, C, H, W)`` batch."""

    def __call__(self, x: Image) -> Image:
        batch, single = _batched(x, type(self).__name__)
        return _unbatched(self.forward(batch), single)

    def forward(self, x: Image) -> Image:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Compose:
    """Applies transforms in order.

    Example:
        >>> t = Compose([RandomHorizontalFlip(), Normalize([0.5], [0.5])])
    """

    def __init__(self, transforms: Sequence[Callable[[Image], Image]]):
        self.transforms = list(transforms)

    def __call__(self, x: Image) -> Image:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class Lambda:
    """Wraps a function as a transform."""

    def __init__(self, fn: Callable[[Image], Image]):
        if not callable(fn):
            raise TypeError(f"Lambda: fn must be callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, x: Image) -> Image:
        return self.fn(x)


class ToTensor:
    """Numpy (or tensor) images to a float32 rustdl tensor; uint8 values are scaled to [0, 1].

    Unlike torchvision the layout is kept: give it ``(C, H, W)`` or ``(N, C, H, W)``.
    """

    def __call__(self, x: Image) -> Tensor:
        if isinstance(x, Tensor):
            return x if x.is_floating_point() else x.float()
        if not isinstance(x, np.ndarray):
            raise TypeError(f"ToTensor: expected a numpy array or a tensor, got {type(x).__name__}")
        if x.dtype == np.uint8:
            return from_numpy(x.astype(np.float32) * np.float32(1 / 255))
        return from_numpy(np.ascontiguousarray(x, dtype=np.float32 if x.dtype.kind != "f" else x.dtype))

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize(Transform):
    """``(x - mean[c]) / std[c]`` per channel.

    Args:
        mean, std: one value per channel (or one value for all channels).

    Shape:
        ``(C, H, W)`` or ``(N, C, H, W)``, floating point; output has the same shape.
    """

    def __init__(self, mean: Sequence[float] | float, std: Sequence[float] | float):
        m = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        s = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if m.ndim != 1 or m.shape != s.shape:
            raise ValueError(
                f"Normalize: mean and std must be 1-D of equal length, got {m.shape} and {s.shape}"
            )
        if np.any(s == 0):
            raise ValueError(f"Normalize: std must be non-zero, got {s.tolist()}")
        self.mean, self.std = tuple(m.tolist()), tuple(s.tolist())
        self._scale, self._shift = 1.0 / s, -m / s

    def forward(self, x: Image) -> Image:
        c = x.shape[1]
        if len(self.mean) not in (1, c):
            raise ValueError(
                f"Normalize: {len(self.mean)} means for an input with {c} channels (shape {tuple(x.shape)})"
            )
        if not _is_float(x):
            x = _as_float(x)
        dt = np.float32 if _dtype_is_f32(x) else np.float64
        scale = self._scale.astype(dt).reshape(1, -1, 1, 1)
        shift = self._shift.astype(dt).reshape(1, -1, 1, 1)
        if isinstance(x, Tensor):
            return x * _to_device(scale, x) + _to_device(shift, x)
        return x * scale + shift


class _RandomFlip(Transform):
    _axis: int = -1

    def __init__(self, p: float = 0.5):
        self.p = _check_p(p, type(self).__name__)

    def forward(self, x: Image) -> Image:
        mask = _uniform(x.shape[0])[:, 0] < self.p
        if isinstance(x, Tensor):
            m = _to_device(mask.reshape(-1, 1, 1, 1), x)
            return where(m, x.flip(self._axis), x)
        return np.where(mask.reshape(-1, 1, 1, 1), np.flip(x, self._axis), x)


class RandomHorizontalFlip(_RandomFlip):
    """Flips each image left-right with probability ``p``.

    Example:
        >>> RandomHorizontalFlip(p=0.5)(batch)
    """

    _axis = -1


class RandomVerticalFlip(_RandomFlip):
    """Flips each image top-bottom with probability ``p``."""

    _axis = -2


class RandomCrop(Transform):
    """Pads each image by ``padding`` (with ``fill``), then crops a random ``size`` window from it.

    Args:
        size: output ``(h, w)`` or one int for a square.
        padding: int (all sides), ``(left/right, top/bottom)`` or ``(left, top, right, bottom)``.
        pad_if_needed: pad further when the image is smaller than ``size``.
        fill: value of padded pixels.

    Shape:
        ``(N, C, H, W)`` to ``(N, C, h, w)``.
    """

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        pad_if_needed: bool = False,
        fill: float = 0.0,
    ):
        self.size = _pair(size, "size", "RandomCrop")
        if padding is None:
            padding = 0
        if isinstance(padding, (int, np.integer)):
            padding = (int(padding),) * 4
        padding = tuple(int(v) for v in padding)
        if len(padding) == 2:
            padding = (padding[0], padding[1], padding[0], padding[1])
        if len(padding) != 4 or min(padding) < 0:
            raise ValueError(
                f"RandomCrop: padding must be a non-negative int, a pair or a 4-tuple, got {padding}"
            )
        self.padding = padding  # left, top, right, bottom
        self.pad_if_needed = bool(pad_if_needed)
        self.fill = float(fill)

    def forward(self, x: Image) -> Image:
        n, _, h, w = x.shape
        left, top, right, bottom = self.padding
        oh, ow = self.size
        hp, wp = h + top + bottom, w + left + right
        if self.pad_if_needed and hp < oh:
            top, bottom, hp = top + oh - hp, bottom + oh - hp, hp + 2 * (oh - hp)
        if self.pad_if_needed and wp < ow:
            left, right, wp = left + ow - wp, right + ow - wp, wp + 2 * (ow - wp)
        if hp < oh or wp < ow:
            raise ValueError(
                f"RandomCrop: crop size {self.size} is larger than the padded image ({hp}, {wp}) for input shape {tuple(x.shape)}"
            )
        u = _uniform(n, 2)
        oy = _randint_below(np.full(n, hp - oh + 1), u[:, 0]) - top
        ox = _randint_below(np.full(n, wp - ow + 1), u[:, 1]) - left
        ys = oy[:, None, None] + np.arange(oh)[None, :, None]
        xs = ox[:, None, None] + np.arange(ow)[None, None, :]
        ys, xs = np.broadcast_arrays(ys, xs)
        return _gather(x, _flat_index(ys, xs, h, w), (oh, ow), self.fill)


class RandomResizedCrop(Transform):
    """Crops a random region (area fraction in ``scale``, aspect ratio in ``ratio``) of each image and
    resizes it to ``size``, as torchvision (10 tries per image, then a centre crop).

    Args:
        size: output ``(h, w)`` or one int.
        scale: range of the crop's area as a fraction of the image's.
        ratio: range of the crop's width / height (drawn log-uniformly).
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.

    Shape:
        ``(N, C, H, W)`` to ``(N, C, h, w)``.
    """

    def __init__(
        self,
        size: int | Sequence[int],
        scale: Sequence[float] = (0.08, 1.0),
        ratio: Sequence[float] = (3 / 4, 4 / 3),
        interpolation: str = "bilinear",
    ):
        self.size = _pair(size, "size", "RandomResizedCrop")
        self.scale = _range(scale, "scale", "RandomResizedCrop")
        self.ratio = _range(ratio, "ratio", "RandomResizedCrop")
        if self.scale[0] <= 0 or self.ratio[0] <= 0:
            raise ValueError(
                f"RandomResizedCrop: scale and ratio must be positive, got {self.scale}, {self.ratio}"
            )
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(
                f"RandomResizedCrop: interpolation must be 'nearest' or 'bilinear', got '{interpolation}'"
            )
        self.interpolation = interpolation

    def get_params(self, n: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-image crop boxes ``(top, left, height, width)``, each an int64 array of length ``n``."""
        tries = 10
        u = _uniform(n, 4 * tries).reshape(n, tries, 4)
        area = h * w * _uniform_in(*self.scale, u[..., 0])
        log_r = _uniform_in(math.log(self.ratio[0]), math.log(self.ratio[1]), u[..., 1])
        r = np.exp(log_r)
        cw = np.round(np.sqrt(area * r)).astype(np.int64)
        ch = np.round(np.sqrt(area / r)).astype(np.int64)
        ok = (cw > 0) & (cw <= w) & (ch > 0) & (ch <= h)
        first = np.argmax(ok, axis=1)
        found = ok[np.arange(n), first]
        rows = np.arange(n)
        ch, cw = ch[rows, first], cw[rows, first]
        top = _randint_below(h - ch + 1, u[rows, first, 2])
        left = _randint_below(w - cw + 1, u[rows, first, 3])
        # fallback: a centre crop with the aspect ratio clamped into range
        in_ratio = w / h
        if in_ratio < self.ratio[0]:
            fw, fh = w, round(w / self.ratio[0])
        elif in_ratio > self.ratio[1]:
            fh, fw = h, round(h * self.ratio[1])
        else:
            fw, fh = w, h
        ch = np.where(found, ch, fh)
        cw = np.where(found, cw, fw)
        top = np.where(found, top, (h - fh) // 2)
        left = np.where(found, left, (w - fw) // 2)
        return top, left, ch, cw

    def forward(self, x: Image) -> Image:
        n, _, h, w = x.shape
        top, left, ch, cw = self.get_params(n, h, w)
        oh, ow = self.size
        i = np.arange(oh, dtype=np.float64)[None, :, None]
        j = np.arange(ow, dtype=np.float64)[None, None, :]
        top, left = top[:, None, None], left[:, None, None]
        ch, cw = ch[:, None, None].astype(np.float64), cw[:, None, None].astype(np.float64)
        if self.interpolation == "nearest":
            sy = top + np.floor(i * ch / oh)
            sx = left + np.floor(j * cw / ow)
        else:  # pixel centres (align_corners=False), clamped inside the crop like a resize of it
            sy = top + np.clip((i + 0.5) * ch / oh - 0.5, 0, ch - 1)
            sx = left + np.clip((j + 0.5) * cw / ow - 0.5, 0, cw - 1)
        sy, sx = np.broadcast_arrays(sy, sx)
        return _sample(x, sy, sx, self.interpolation, 0.0, "RandomResizedCrop")


def _affine_sources(
    n: int, h: int, w: int, angle: np.ndarray, tx: np.ndarray, ty: np.ndarray, scale: np.ndarray, center: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Source coordinates ``(sy, sx)`` of shape ``(N, H, W)`` for output pixels of images rotated
    counter-clockwise by ``angle`` degrees about ``center``, scaled by ``scale``, then shifted by
    ``(tx, ty)`` pixels (the inverse map, as torchvision's ``affine``)."""
    cy, cx = ((h - 1) / 2, (w - 1) / 2) if center is None else (float(center[1]), float(center[0]))
    a = np.deg2rad(angle)[:, None, None]
    cos, sin = np.cos(a), np.sin(a)
    dy = np.arange(h, dtype=np.float64)[None, :, None] - cy - ty[:, None, None]
    dx = np.arange(w, dtype=np.float64)[None, None, :] - cx - tx[:, None, None]
    s = scale[:, None, None]
    sx = cx + (cos * dx - sin * dy) / s
    sy = cy + (sin * dx + cos * dy) / s
    return sy, sx


class RandomRotation(Transform):
    """Rotates each image counter-clockwise by an angle drawn uniformly from ``degrees``.

    Args:
        degrees: ``d`` for ``(-d, d)``, or a ``(min, max)`` pair, in degrees.
        interpolation: ``"nearest"`` (default, as torchvision) or ``"bilinear"``.
        center: ``(x, y)`` pixel to rotate about; default the image centre.
        fill: value of pixels that come from outside the image.

    Example:
        >>> RandomRotation(10)(batch)
    """

    def __init__(
        self,
        degrees: float | Sequence[float],
        interpolation: str = "nearest",
        center: Sequence[float] | None = None,
        fill: float = 0.0,
    ):
        self.degrees = _range(degrees, "degrees", "RandomRotation")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(
                f"RandomRotation: interpolation must be 'nearest' or 'bilinear', got '{interpolation}'"
            )
        self.interpolation = interpolation
        self.center = center
        self.fill = float(fill)

    def forward(self, x: Image) -> Image:
        n, _, h, w = x.shape
        angle = _uniform_in(*self.degrees, _uniform(n)[:, 0])
        zero, one = np.zeros(n), np.ones(n)
        sy, sx = _affine_sources(n, h, w, angle, zero, zero, one, self.center)
        return _sample(x, sy, sx, self.interpolation, self.fill, "RandomRotation")


class RandomAffine(Transform):
    """Random rotation, translation and scaling of each image about its centre.

    Args:
        degrees: rotation range, ``d`` for ``(-d, d)`` or a ``(min, max)`` pair (0 for none).
        translate: ``(a, b)``: horizontal shift drawn from ``±a·W``, vertical from ``±b·H`` (rounded
            to whole pixels, as torchvision).
        scale: ``(min, max)`` zoom factor range.
        interpolation: ``"nearest"`` (default) or ``"bilinear"``.
        fill: value of pixels that come from outside the image.

    Example:
        >>> RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))(batch)
    """

    def __init__(
        self,
        degrees: float | Sequence[float],
        translate: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        interpolation: str = "nearest",
        fill: float = 0.0,
    ):
        self.degrees = _range(degrees, "degrees", "RandomAffine")
        if translate is not None:
            translate = tuple(float(v) for v in translate)
            if len(translate) != 2 or not all(0.0 <= v <= 1.0 for v in translate):
                raise ValueError(
                    f"RandomAffine: translate must be a pair of fractions in [0, 1], got {translate}"
                )
        self.translate = translate
        if scale is not None:
            scale = _range(scale, "scale", "RandomAffine", symmetric=False)
            if scale[0] <= 0:
                raise ValueError(f"RandomAffine: scale must be positive, got {scale}")
        self.scale = scale
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(
                f"RandomAffine: interpolation must be 'nearest' or 'bilinear', got '{interpolation}'"
            )
        self.interpolation = interpolation
        self.fill = float(fill)

    def forward(self, x: Image) -> Image:
        n, _, h, w = x.shape
        u = _uniform(n, 4)
        angle = _uniform_in(*self.degrees, u[:, 0])
        if self.translate is not None:
            mx, my = self.translate[0] * w, self.translate[1] * h
            tx = np.round(_uniform_in(-mx, mx, u[:, 1]))
            ty = np.round(_uniform_in(-my, my, u[:, 2]))
        else:
            tx = ty = np.zeros(n)
        s = _uniform_in(*self.scale, u[:, 3]) if self.scale is not None else np.ones(n)
        sy, sx = _affine_sources(n, h, w, angle, tx, ty, s, None)
        return _sample(x, sy, sx, self.interpolation, self.fill, "RandomAffine")


class GaussianNoise(Transform):
    """Adds ``N(mean, std²)`` noise to every pixel (floating-point images only).

    Example:
        >>> GaussianNoise(std=0.05)(batch)
    """

    def __init__(self, std: float = 0.1, mean: float = 0.0):
        if std < 0:
            raise ValueError(f"GaussianNoise: std must be non-negative, got {std}")
        self.std = float(std)
        self.mean = float(mean)

    def forward(self, x: Image) -> Image:
        if not _is_float(x):
            raise TypeError(f"GaussianNoise: expected a floating-point image, got dtype {x.dtype}")
        shape = tuple(x.shape)
        if isinstance(x, Tensor):
            return x + (randn(*shape, dtype=x.dtype, device=x.device) * self.std + self.mean)
        noise = randn(*shape).numpy().astype(x.dtype) * np.asarray(self.std, x.dtype) + np.asarray(
            self.mean, x.dtype
        )
        return x + noise
