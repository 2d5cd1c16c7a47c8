"""``torchvision.transforms.functional`` for the shim: the functional forms of the transforms.

Images are what torchvision takes: a rustdl tensor ``(..., C, H, W)`` (given back as a tensor of the
same dtype on the same device), or a PIL image / numpy array ``(H, W[, C])`` (a PIL image comes back
as a PIL image, a numpy array as a numpy array of the same dtype). The work is done in numpy.

An integer tensor (``pil_to_tensor`` gives ``uint8``, as torchvision's) is read as an 8-bit image,
values in ``[0, 255]`` — ``convert_image_dtype`` scales it by 255 and the colour ops clamp it to 255. Integer results are truncated where torchvision truncates (the colour blends)
and rounded where it rounds (blur, resize, rotation).

Colour ops on a tensor follow torchvision's tensor code (grayscale weights 0.2989 / 0.587 / 0.114);
on a PIL image or numpy ``uint8`` array they follow PIL, as torchvision does for PIL images (ITU-R
601-2 luma ``(19595 R + 38470 G + 7471 B + 2^15) >> 16``, the contrast mean rounded to an integer).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from enum import Enum
from typing import Any, Callable

import numpy as np

import rustdl
from rustdl.data import transforms as _dt

__all__ = [
    "InterpolationMode",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_gamma",
    "adjust_hue",
    "adjust_saturation",
    "adjust_sharpness",
    "affine",
    "autocontrast",
    "center_crop",
    "convert_image_dtype",
    "crop",
    "elastic_transform",
    "equalize",
    "erase",
    "five_crop",
    "gaussian_blur",
    "get_dimensions",
    "get_image_num_channels",
    "get_image_size",
    "hflip",
    "invert",
    "normalize",
    "pad",
    "perspective",
    "pil_to_tensor",
    "posterize",
    "resize",
    "resized_crop",
    "rgb_to_grayscale",
    "rotate",
    "solarize",
    "ten_crop",
    "to_grayscale",
    "to_pil_image",
    "to_tensor",
    "vflip",
]


class InterpolationMode(str, Enum):
    """Interpolation names, as torchvision's ``InterpolationMode`` (members compare equal to their
    string values here)."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_CODES = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}


def _pil_filter_codes() -> dict[str, int]:
    return {
        "nearest": 0,
        "nearest-exact": 0,
        "bilinear": 2,
        "bicubic": 3,
        "box": 4,
        "hamming": 5,
        "lanczos": 1,
    }


_PIL_FILTERS = _pil_filter_codes()


def _interp(mode: Any) -> str:
    if isinstance(mode, InterpolationMode):
        return mode.value
    if isinstance(mode, (int, np.integer)) and int(mode) in _PIL_CODES:  # PIL's Image.BILINEAR etc.
        return _PIL_CODES[int(mode)]
    if isinstance(mode, str) and mode.lower() in {m.value for m in InterpolationMode}:
        return mode.lower()
    raise ValueError(f"unknown interpolation {mode!r} (one of {[m.value for m in InterpolationMode]})")


# ----------------------------------------------------------------------------------------------
# images in and out


def _is_pil(img: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:
        return False
    return isinstance(img, Image.Image)


def _graph(img: Any) -> bool:
    """A float tensor whose result must stay in the autograd graph (it requires grad and grad
    mode is on): the ops that support it then compute with tensor ops instead of numpy."""
    return (
        isinstance(img, rustdl.Tensor)
        and img.requires_grad
        and img.is_floating_point()
        and rustdl.is_grad_enabled()
    )


def _unpack(
    img: Any, op: str, color: bool = False, graph: bool = False
) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """``img`` as a numpy ``(..., C, H, W)`` array, and the function that turns a result array of
    that layout back into ``img``'s kind (tensor on its device, PIL image or ``(H, W[, C])`` array).

    With ``graph`` (an op whose code also runs on tensors), a tensor in the autograd graph (see
    :func:`_graph`) is handed over as itself, ``(..., C, H, W)``, so the result keeps its history
    (torchvision's tensor transforms are differentiable)."""
    if graph and _graph(img):
        flat_t = img.ndim == 2

        def pack_graph(out: rustdl.Tensor) -> rustdl.Tensor:
            return out[0] if flat_t and out.shape[0] == 1 else out

        return (img[None] if flat_t else img), pack_graph
    if isinstance(img, rustdl.Tensor):
        a = img.detach().cpu().numpy()
        flat = a.ndim == 2
        if flat:
            a = a[None]
        device = img.device

        def pack_tensor(out: np.ndarray) -> rustdl.Tensor:
            if flat and out.shape[0] == 1:
                out = out[0]
            t = rustdl.from_numpy(np.ascontiguousarray(out))
            return t if device.type == "cpu" else t.to(device)

        return a, pack_tensor
    pil = _is_pil(img)
    if pil and color and img.mode not in ("L", "RGB", "RGBA", "I", "F"):
        img = img.convert("RGB")
    a = np.asarray(img)
    if a.ndim not in (2, 3):
        raise ValueError(f"{op}: expected an (H, W) or (H, W, C) image, got shape {a.shape}")
    gray = a.ndim == 2
    chw = a[None] if gray else a.transpose(2, 0, 1)
    channels = chw.shape[0]

    def pack_image(out: np.ndarray) -> Any:
        hwc = out[0] if out.shape[0] == 1 and (gray or channels != 1) else out.transpose(1, 2, 0)
        hwc = np.ascontiguousarray(hwc)
        if not pil:
            return hwc
        from PIL import Image

        if img.mode == "P" and hwc.ndim == 2:
            res = Image.fromarray(hwc.astype(np.uint8), mode="P")
            res.putpalette(img.getpalette())
            return res
        return Image.fromarray(hwc)

    return chw, pack_image


def _is_int(a: np.ndarray) -> bool:
    if isinstance(a, rustdl.Tensor):
        return not a.is_floating_point()
    return a.dtype.kind in "iub"


def _bound(a: np.ndarray) -> float:
    return 255.0 if _is_int(a) else 1.0


def _work(a: np.ndarray) -> np.ndarray:
    """``a`` in the float dtype torchvision computes it in (its own, or float32 for integers)."""
    if isinstance(a, rustdl.Tensor):
        return a.float() if _is_int(a) else a
    return a.astype(np.float32) if _is_int(a) else a


def _pil_like(img: Any, a: np.ndarray) -> bool:
    return not isinstance(img, rustdl.Tensor) and a.dtype == np.uint8


def _pil_image_like(img: Any) -> bool:
    """A PIL image, or a ``uint8`` numpy image PIL can hold: torchvision hands these to PIL."""
    if _is_pil(img):
        return True
    try:
        import PIL  # noqa: F401
    except ImportError:
        return False
    return (
        isinstance(img, np.ndarray)
        and img.dtype == np.uint8
        and (img.ndim == 2 or (img.ndim == 3 and img.shape[-1] in (3, 4)))
    )


def _pil_apply(img: Any, fn: Callable[[Any], Any]) -> Any:
    """``fn`` on ``img`` as a PIL image; a numpy image comes back as numpy."""
    if _is_pil(img):
        return fn(img)
    from PIL import Image

    return np.asarray(fn(Image.fromarray(np.ascontiguousarray(img))))


def _parse_fill(fill: Any, im: Any) -> Any:
    """``fill`` as PIL's ``fillcolor`` for ``im``, as torchvision hands it over: None is 0, a number
    is repeated for every band, a one-element sequence too, a sequence of another length than the
    band count raises ``ValueError``; values are ints except for mode ``F`` images."""
    bands = len(im.getbands())
    if fill is None:
        fill = 0
    if isinstance(fill, (int, float)) and bands > 1:
        fill = (fill,) * bands
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = tuple(fill) * bands
        elif len(fill) != bands:
            raise ValueError(
                "The number of elements in 'fill' does not match the number of channels of the image "
                f"({len(fill)} != {bands})"
            )
        fill = tuple(fill)
    if im.mode != "F":
        fill = tuple(int(v) for v in fill) if isinstance(fill, tuple) else int(fill)
    return fill


def _pil_from_array(a: np.ndarray, mode: str) -> Any:
    """A PIL image of ``mode`` reading the bytes of the ``(H, W[, C])`` array ``a`` as that mode's
    raw pixels (what torchvision's ``to_pil_image`` does with an explicit mode)."""
    from PIL import Image

    a = np.ascontiguousarray(a)
    return Image.frombuffer(mode, (a.shape[1], a.shape[0]), a.tobytes(), "raw", mode, 0, 1)


def _pil_array(im: Any) -> np.ndarray:
    """``(C, H, W)`` numpy pixels of a PIL image, as ``pil_to_tensor`` reads them (mode ``1`` as
    bool, ``I;16`` as uint16)."""
    a = np.array(im, copy=True)
    return a.reshape(im.size[1], im.size[0], len(im.getbands())).transpose(2, 0, 1)


def get_dimensions(img: Any) -> list[int]:
    """``[channels, height, width]`` (a PIL image's channels are its bands, as torchvision's)."""
    if _is_pil(img):
        return [len(img.getbands()), img.size[1], img.size[0]]
    a, _ = _unpack(img, "get_dimensions")
    return [int(a.shape[-3]), int(a.shape[-2]), int(a.shape[-1])]


def get_image_size(img: Any) -> list[int]:
    """``[width, height]``."""
    c, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img: Any) -> int:
    return get_dimensions(img)[0]


# ----------------------------------------------------------------------------------------------
# conversions


def _scaled_bytes(chw: np.ndarray) -> rustdl.Tensor:
    """A ``uint8`` image as the default float dtype divided by 255 (``x.float().div(255)``)."""
    dtype = np.float64 if rustdl.get_default_dtype() == rustdl.float64 else np.float32
    return rustdl.from_numpy(np.ascontiguousarray(chw, dtype=dtype) / dtype(255))


def to_tensor(pic: Any) -> rustdl.Tensor:
    """A PIL image or ``(H, W[, C])`` numpy array → tensor ``(C, H, W)``, as torchvision's:
    ``uint8`` data (and 8-bit PIL modes; mode ``1`` as 0/255) becomes the default float dtype
    divided by 255; PIL modes ``I``, ``I;16`` and ``F`` give int32, int16 and float32; other array
    dtypes keep their values (unsigned 16/32-bit arrays give int64). Anything else (a tensor
    included) raises ``TypeError``."""
    if _is_pil(pic):
        wide = {"I": np.int32, "I;16": np.int16, "I;16B": np.int16, "F": np.float32}
        a = np.array(pic, dtype=wide.get(pic.mode, np.uint8), copy=True)
        if pic.mode == "1":
            a = a * np.uint8(255)
        chw = a.reshape(pic.size[1], pic.size[0], len(pic.getbands())).transpose(2, 0, 1)
        if chw.dtype == np.uint8:
            return _scaled_bytes(chw)
        return rustdl.from_numpy(np.ascontiguousarray(chw))
    if not isinstance(pic, np.ndarray):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if pic.ndim not in (2, 3):
        raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
    a = pic[:, :, None] if pic.ndim == 2 else pic
    a = a.transpose(2, 0, 1)
    if a.dtype == np.uint8:
        return _scaled_bytes(a)
    if a.dtype.kind == "u":
        a = a.astype(np.int64)
    elif a.dtype == np.float16:
        a = a.astype(np.float32)
    return rustdl.from_numpy(np.ascontiguousarray(a))


def pil_to_tensor(pic: Any) -> rustdl.Tensor:
    """A PIL image → tensor ``(C, H, W)`` with its values and dtype (``uint8`` for 8-bit modes,
    bool for mode ``1``; ``I;16``, which rustdl has no unsigned 16-bit type for, as int64), as
    torchvision's. A numpy ``(H, W[, C])`` array is taken too."""
    if _is_pil(pic):
        chw = _pil_array(pic)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pil_to_tensor: expected an (H, W) or (H, W, C) image, got shape {pic.shape}")
        chw = pic[None] if pic.ndim == 2 else pic.transpose(2, 0, 1)
    else:
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    if chw.dtype.kind == "u" and chw.dtype != np.uint8:
        chw = chw.astype(np.int64)
    return rustdl.from_numpy(np.ascontiguousarray(chw))


def to_pil_image(pic: Any, mode: str | None = None) -> Any:
    """A ``(C, H, W)`` tensor or ``(H, W[, C])`` array → a PIL image, as torchvision's: floats
    become ``uint8`` as ``(x * 255).astype(uint8)`` (no clamping: out-of-range values wrap as that
    cast does) unless ``mode`` is ``F``; the mode is worked out from the channel count and dtype
    (``L``, ``I;16``, ``I``, ``F``; ``LA``; ``RGB``; ``RGBA``) or checked against them, raising
    ``ValueError`` / ``TypeError`` where torchvision raises. Without Pillow a numpy ``uint8``
    image comes back."""
    if isinstance(pic, rustdl.Tensor):
        a = pic.detach().cpu().numpy()
        if a.ndim == 3:
            a = a.transpose(1, 2, 0)
    elif isinstance(pic, np.ndarray):
        a = pic
    else:
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ValueError(f"pic should be 2/3 dimensional. Got {a.ndim} dimensions.")
    if a.shape[-1] > 4:
        raise ValueError(f"pic should not have > 4 channels. Got {a.shape[-1]} channels.")
    if np.issubdtype(a.dtype, np.floating) and mode != "F":
        a = (a * 255).astype(np.uint8)
    channels = a.shape[2]
    if channels == 1:
        a = a[:, :, 0]
        expected = {
            np.dtype(np.uint8): "L",
            np.dtype(np.int16): "I;16",
            np.dtype(np.int32): "I",
            np.dtype(np.float32): "F",
        }.get(a.dtype)
        if mode is not None and mode != expected:
            raise ValueError(
                f"Incorrect mode ({mode}) supplied for input type {np.dtype}. Should be {expected}"
            )
        mode = expected
    else:
        allowed = {2: ["LA"], 4: ["RGBA", "CMYK", "RGBX"], 3: ["RGB", "YCbCr", "HSV"]}[channels]
        if mode is not None and mode not in allowed:
            raise ValueError(f"Only modes {allowed} are supported for {channels}D inputs")
        if mode is None and a.dtype == np.uint8:
            mode = allowed[0]
    if mode is None:
        raise TypeError(f"Input type {a.dtype} is not supported")
    try:
        import PIL  # noqa: F401
    except ImportError:
        return np.ascontiguousarray(a)
    return _pil_from_array(a, mode)


def convert_image_dtype(image: rustdl.Tensor, dtype: Any = None) -> rustdl.Tensor:
    """Converts a tensor image's dtype, rescaling values: integer images are ``[0, 255]`` (read as
    ``uint8``), float images ``[0, 1]``. Float → integer multiplies by ``255.999`` and truncates, as
    torchvision."""
    dtype = rustdl.float32 if dtype is None else dtype
    if not isinstance(image, rustdl.Tensor):
        raise TypeError(f"convert_image_dtype: expected a tensor, got {type(image).__name__}")
    src_float = image.is_floating_point()
    dst_float = dtype in (rustdl.float32, rustdl.float64)
    if src_float == dst_float:
        return image.to(dtype)
    if dst_float:
        return image.to(dtype) / 255.0
    return (image * (255.0 + 1.0 - 1e-3)).to(dtype)


def normalize(tensor: Any, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> Any:
    """``(x - mean[c]) / std[c]`` per channel of a float ``(..., C, H, W)`` tensor."""
    mean = [float(m) for m in (mean if isinstance(mean, Sequence) else [mean])]
    std = [float(s) for s in (std if isinstance(std, Sequence) else [std])]
    if any(s == 0 for s in std):
        raise ValueError(f"normalize: std {std} contains a zero, which would divide by zero")
    if isinstance(tensor, np.ndarray):
        m = np.asarray(mean, dtype=tensor.dtype).reshape(-1, 1, 1)
        s = np.asarray(std, dtype=tensor.dtype).reshape(-1, 1, 1)
        return (tensor - m) / s
    if not isinstance(tensor, rustdl.Tensor) or not tensor.is_floating_point():
        raise TypeError(
            f"normalize: expected a floating-point tensor, got {getattr(tensor, 'dtype', type(tensor))}"
        )
    m = rustdl.tensor(mean, dtype=tensor.dtype, device=tensor.device).reshape(-1, 1, 1)
    s = rustdl.tensor(std, dtype=tensor.dtype, device=tensor.device).reshape(-1, 1, 1)
    # in place on a clone, as torchvision: statistics of more channels than the image has raise
    # (an out-of-place broadcast would silently make a 1-channel image 3 channels)
    return (tensor if inplace else tensor.clone()).sub_(m).div_(s)


# ----------------------------------------------------------------------------------------------
# geometry


def hflip(img: Any) -> Any:
    """Flips left-right."""
    if isinstance(img, rustdl.Tensor):
        return img.flip(-1)
    if _is_pil(img):
        from PIL import Image

        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    a, pack = _unpack(img, "hflip")
    return pack(a[..., ::-1])


def vflip(img: Any) -> Any:
    """Flips top-bottom."""
    if isinstance(img, rustdl.Tensor):
        return img.flip(-2)
    if _is_pil(img):
        from PIL import Image

        return img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    a, pack = _unpack(img, "vflip")
    return pack(a[..., ::-1, :])


def _ltrb(padding: Any, op: str) -> tuple[int, int, int, int]:
    if isinstance(padding, numbers.Number):
        p = int(padding)
        return p, p, p, p
    padding = [int(v) for v in padding]
    if len(padding) == 1:
        return (padding[0],) * 4
    if len(padding) == 2:
        return padding[0], padding[1], padding[0], padding[1]
    if len(padding) == 4:
        return tuple(padding)
    raise ValueError(f"{op}: padding must be an int or a sequence of 1, 2 or 4 ints, got {padding}")


def _pad_tensor(a: rustdl.Tensor, ltrb: Sequence[int], fill: Any, mode: str) -> rustdl.Tensor:
    """:func:`_pad_array` of a tensor (already cropped; ``ltrb`` non-negative) by tensor ops
    (differentiable): the border rows and columns are gathered by index (numpy's padding of the
    index range gives them) or filled."""
    left, top, right, bottom = ltrb
    h, w = a.shape[-2:]
    if mode != "constant":
        rows = np.pad(np.arange(h), (top, bottom), mode=mode)
        cols = np.pad(np.arange(w), (left, right), mode=mode)
        at = lambda v: rustdl.from_numpy(np.ascontiguousarray(v)).to(a.device)  # noqa: E731
        return a.index_select(-2, at(rows)).index_select(-1, at(cols))
    fills = np.atleast_1d(np.asarray(0 if fill is None else fill, dtype=np.float64))
    if fills.size != 1 and fills.size != a.shape[-3]:
        raise ValueError(f"pad: fill has {fills.size} values for an image with {a.shape[-3]} channels")
    if fills.size == 1:
        return rustdl.nn.functional.pad(a, (left, right, top, bottom), value=float(fills[0]))
    parts = [
        rustdl.nn.functional.pad(a[..., k : k + 1, :, :], (left, right, top, bottom), value=float(v))
        for k, v in enumerate(fills)
    ]
    return rustdl.cat(parts, -3)


def _pad_array(a: np.ndarray, ltrb: Sequence[int], fill: Any, mode: str) -> np.ndarray:
    left, top, right, bottom = ltrb
    h, w = a.shape[-2:]
    # negative padding crops
    a = a[..., max(0, -top) : h - max(0, -bottom), max(0, -left) : w - max(0, -right)]
    left, top, right, bottom = (max(0, v) for v in ltrb)
    if isinstance(a, rustdl.Tensor):
        return _pad_tensor(a, (left, top, right, bottom), fill, mode)
    widths = [(0, 0)] * (a.ndim - 2) + [(top, bottom), (left, right)]
    if mode != "constant":
        return np.pad(a, widths, mode=mode)
    fills = np.atleast_1d(np.asarray(0 if fill is None else fill, dtype=np.float64))
    if fills.size == 1:
        return np.pad(a, widths, mode="constant", constant_values=fills[0])
    c = a.shape[-3]
    if fills.size != c:
        raise ValueError(f"pad: fill has {fills.size} values for an image with {c} channels")
    return np.stack(
        [np.pad(a[..., k, :, :], widths[:-3] + widths[-2:], constant_values=fills[k]) for k in range(c)], -3
    )


def _pad_size_error(shape: Sequence[int], ltrb: Sequence[int], mode: str) -> Exception | None:
    """The error torch's ``F.pad`` raises for a tensor of ``shape`` (``(..., H, W)``) padded by
    ``ltrb`` in ``reflect`` mode (a side as wide as the image or wider) or torchvision's indexing
    in ``symmetric`` mode (a side wider than the image); None when the padding fits."""
    h, w = int(shape[-2]), int(shape[-1])
    left, top, right, bottom = (int(v) for v in ltrb)
    shape4 = [1] * max(0, 4 - len(shape)) + [int(v) for v in shape]
    if mode == "reflect":
        for arg, (lo, hi), size, dim in ((4, (left, right), w, 3), (6, (top, bottom), h, 2)):
            if lo >= size or hi >= size:
                return RuntimeError(
                    f"Argument #{arg}: Padding size should be less than the corresponding input dimension, "
                    f"but got: padding ({lo}, {hi}) at dimension {dim} of input {shape4}"
                )
    elif mode == "symmetric":
        for dim, (lo, hi), size in ((0, (top, bottom), h), (1, (left, right), w)):
            if lo > size:
                return IndexError(f"index {lo - 1} is out of bounds for dimension {dim} with size {size}")
            if hi > size:
                return IndexError(f"index {-hi} is out of bounds for dimension {dim} with size {size}")
    return None


def _pil_pad(img: Any, padding: Any, fill: Any, padding_mode: str) -> Any:
    """torchvision's padding of a PIL image: ``ImageOps.expand`` with the fill for ``constant``,
    numpy's padding of the pixels otherwise (a palette kept for mode ``P``)."""
    from PIL import Image, ImageOps

    if not isinstance(padding, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate padding arg")
    if fill is not None and not isinstance(fill, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate fill arg")
    if not isinstance(padding_mode, str):
        raise TypeError("Got inappropriate padding_mode arg")
    if isinstance(padding, list):
        padding = tuple(padding)
    if isinstance(padding, tuple) and len(padding) not in (1, 2, 4):
        raise ValueError(
            f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple"
        )
    if isinstance(padding, tuple) and len(padding) == 1:
        padding = padding[0]
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    palette = img.getpalette() if img.mode == "P" else None
    if padding_mode == "constant":
        out = ImageOps.expand(img, border=padding, fill=_parse_fill(fill, img))
        if palette is not None:
            out.putpalette(palette)
        return out
    left, top, right, bottom = _ltrb(padding, "pad")
    crop_l, crop_t, crop_r, crop_b = (max(0, -v) for v in (left, top, right, bottom))
    if crop_l or crop_t or crop_r or crop_b:
        img = img.crop((crop_l, crop_t, img.width - crop_r, img.height - crop_b))
    left, top, right, bottom = (max(0, v) for v in (left, top, right, bottom))
    a = np.asarray(img)
    widths = [(top, bottom), (left, right)] + [(0, 0)] * (a.ndim - 2)
    out = Image.fromarray(np.pad(a, widths, mode=padding_mode))
    if palette is not None:
        out.putpalette(palette)
    return out


def pad(img: Any, padding: Any, fill: Any = 0, padding_mode: str = "constant") -> Any:
    """Pads the borders: ``padding`` is an int (all sides), ``(left/right, top/bottom)`` or
    ``(left, top, right, bottom)``; ``padding_mode`` is ``constant`` (with ``fill``: a number or one
    per channel), ``edge``, ``reflect`` (without repeating the edge) or ``symmetric``.

    PIL images are padded as torchvision pads them (``ImageOps.expand``, numpy's padding: a side
    may be wider than the image). A tensor raises as torchvision's does where a ``reflect`` side
    is as wide as the image (``RuntimeError``) or a ``symmetric`` side wider (``IndexError``)."""
    if _is_pil(img):
        return _pil_pad(img, padding, fill, padding_mode)
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError(
            f"pad: padding_mode must be constant, edge, reflect or symmetric, got '{padding_mode}'"
        )
    ltrb = _ltrb(padding, "pad")
    if isinstance(img, rustdl.Tensor):
        error = _pad_size_error(tuple(img.shape), ltrb, padding_mode)
        if error is not None:
            raise error
    a, pack = _unpack(img, "pad", graph=True)
    return pack(_pad_array(a, ltrb, fill, padding_mode))


def crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    """The ``height × width`` window at ``(top, left)``; parts outside the image are 0. A PIL
    image gets the box as given (PIL rounds fractional coordinates, as under torchvision)."""
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    top, left, height, width = int(top), int(left), int(height), int(width)
    if isinstance(img, rustdl.Tensor):
        h, w = img.shape[-2:]
        if top >= 0 and left >= 0 and top + height <= h and left + width <= w:
            return img[..., top : top + height, left : left + width]
    a, pack = _unpack(img, "crop", graph=True)
    h, w = a.shape[-2:]
    ltrb = (max(0, -left), max(0, -top), max(0, left + width - w), max(0, top + height - h))
    if any(ltrb):
        a = _pad_array(a, ltrb, 0, "constant")
        top, left = top + ltrb[1], left + ltrb[0]
    return pack(a[..., top : top + height, left : left + width])


def _size2(size: Any, op: str) -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    size = [int(s) for s in size]
    if len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(f"{op}: size must be an int or a (height, width) pair, got {size}")
    return size[0], size[1]


def center_crop(img: Any, output_size: Any) -> Any:
    """The centre ``(h, w)`` window (offsets rounded as torchvision); an image smaller than that is
    padded with 0 first."""
    if isinstance(output_size, numbers.Number):
        th = tw = int(output_size)
    else:
        # a sequence keeps its values (fractional sizes are rounded by PIL's crop, as torchvision)
        sizes = list(output_size)
        if len(sizes) not in (1, 2):
            raise ValueError(f"center_crop: size must be an int or a (height, width) pair, got {sizes}")
        th, tw = (sizes[0], sizes[0]) if len(sizes) == 1 else sizes
    _, h, w = get_dimensions(img)
    if th > h or tw > w:
        th, tw = int(th), int(tw)
        ltrb = [
            (tw - w) // 2 if tw > w else 0,
            (th - h) // 2 if th > h else 0,
            (tw - w + 1) // 2 if tw > w else 0,
            (th - h + 1) // 2 if th > h else 0,
        ]
        img = pad(img, ltrb, fill=0)
        _, h, w = get_dimensions(img)
        if h == th and w == tw:
            return img
    return crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)


def five_crop(img: Any, size: Any) -> tuple[Any, Any, Any, Any, Any]:
    """The four corner crops and the centre crop: ``(top-left, top-right, bottom-left,
    bottom-right, centre)``."""
    ch, cw = _size2(size, "five_crop")
    _, h, w = get_dimensions(img)
    if ch > h or cw > w:
        raise ValueError(f"five_crop: requested crop size {(ch, cw)} is bigger than the image size {(h, w)}")
    return (
        crop(img, 0, 0, ch, cw),
        crop(img, 0, w - cw, ch, cw),
        crop(img, h - ch, 0, ch, cw),
        crop(img, h - ch, w - cw, ch, cw),
        center_crop(img, (ch, cw)),
    )


def ten_crop(img: Any, size: Any, vertical_flip: bool = False) -> tuple[Any, ...]:
    """``five_crop`` of the image and of its flip (horizontal, or vertical if ``vertical_flip``)."""
    flipped = vflip(img) if vertical_flip else hflip(img)
    return five_crop(img, size) + five_crop(flipped, size)


def _resized_hw(h: int, w: int, size: Any, max_size: int | None) -> tuple[int, int]:
    if isinstance(size, numbers.Number) or len(size) == 1:
        s = int(size if isinstance(size, numbers.Number) else size[0])
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = s, int(s * long / short)
        if max_size is not None:
            if max_size <= s:
                raise ValueError(f"resize: max_size {max_size} must be greater than size {s}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    if max_size is not None:
        raise ValueError("resize: max_size is only allowed when size is a single int")
    return int(size[0]), int(size[1])


def _aa_matrix(n_in: int, n_out: int, kind: str) -> np.ndarray:
    """``(n_out, n_in)`` weights of an antialiased resize (PIL's scheme, as
    ``interpolate(antialias=True)``)."""
    return rustdl.nn.functional._antialias_matrix(n_in, n_out, kind)


def resize(
    img: Any,
    size: Any,
    interpolation: Any = InterpolationMode.BILINEAR,
    max_size: int | None = None,
    antialias: bool | None = True,
) -> Any:
    """Resizes an image: an int ``size`` sets the shorter side (keeping the aspect ratio, the
    longer side capped at ``max_size``), a pair sets ``(h, w)``.

    PIL images and ``uint8`` arrays go through PIL (as torchvision). Tensors and other arrays:
    ``bilinear``/``bicubic`` with ``antialias`` use PIL's antialiased filters (torchvision's
    default), without it ``rustdl.nn.functional.interpolate``; ``nearest`` takes ``floor(i * scale)``.
    """
    mode = _interp(interpolation)
    _, h, w = get_dimensions(img)
    oh, ow = _resized_hw(h, w, size, max_size)
    if (oh, ow) == (h, w):
        return img
    if _is_pil(img) or (
        isinstance(img, np.ndarray)
        and img.dtype == np.uint8
        and (img.ndim == 2 or img.shape[-1] in (1, 3, 4))
    ):
        if _is_pil(img):
            return img.resize((ow, oh), _PIL_FILTERS[mode])
        from PIL import Image

        a = img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img
        out = np.asarray(Image.fromarray(np.ascontiguousarray(a)).resize((ow, oh), _PIL_FILTERS[mode]))
        return out.reshape(oh, ow, 1) if img.ndim == 3 and img.shape[-1] == 1 else out
    if mode not in ("nearest", "nearest-exact", "bilinear", "bicubic"):
        raise ValueError(f"resize: interpolation '{mode}' is only supported for PIL images")
    if isinstance(img, rustdl.Tensor) and not (antialias and mode in ("bilinear", "bicubic")):
        x = img if img.is_floating_point() else img.float()
        lead = tuple(x.shape[:-2])
        x4 = x.reshape(-1, *x.shape[-3:]) if x.ndim >= 3 else x.reshape(1, 1, h, w)
        out = rustdl.nn.functional.interpolate(x4, size=(oh, ow), mode=mode).reshape(*lead, oh, ow)
        if not img.is_floating_point():
            out = (
                out.round().clamp(0, 255).to(img.dtype)
                if mode in ("bilinear", "bicubic")
                else out.to(img.dtype)
            )
        return out
    a, pack = _unpack(img, "resize", graph=True)
    if mode in ("nearest", "nearest-exact"):
        off = 0.5 if mode == "nearest-exact" else 0.0
        ys = np.minimum(np.floor((np.arange(oh) + off) * h / oh).astype(np.int64), h - 1)
        xs = np.minimum(np.floor((np.arange(ow) + off) * w / ow).astype(np.int64), w - 1)
        if isinstance(a, rustdl.Tensor):
            at = lambda v: rustdl.from_numpy(v).to(a.device)  # noqa: E731
            return pack(a.index_select(-2, at(ys)).index_select(-1, at(xs)))
        return pack(a[..., ys[:, None], xs[None, :]])
    x = _work(a)
    if isinstance(x, rustdl.Tensor):  # in the autograd graph: the same products as tensor ops
        mh = rustdl.from_numpy(_aa_matrix(h, oh, mode)).to(x.device, x.dtype)
        mw = rustdl.from_numpy(_aa_matrix(w, ow, mode)).to(x.device, x.dtype)
        return pack(mh @ x @ mw.T)
    mh = _aa_matrix(h, oh, mode).astype(x.dtype)
    mw = _aa_matrix(w, ow, mode).astype(x.dtype)
    out = np.matmul(np.matmul(mh, x), mw.T)
    if _is_int(a):
        out = np.clip(np.round(out), 0, 255).astype(a.dtype)
    return pack(out)


def resized_crop(
    img: Any,
    top: int,
    left: int,
    height: int,
    width: int,
    size: Any,
    interpolation: Any = InterpolationMode.BILINEAR,
    antialias: bool | None = True,
) -> Any:
    """``crop`` then ``resize``."""
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def _rotation_sources(
    h: int, w: int, oh: int, ow: int, angle: float, center: Sequence[float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Source ``(y, x)`` for each output pixel of an image rotated counter-clockwise by ``angle``
    degrees about ``center`` (``(x, y)``, default the centre), the output being ``(oh, ow)`` and
    centred on the same point."""
    if center is None:
        cy, cx = (h - 1) / 2, (w - 1) / 2
        ocy, ocx = (oh - 1) / 2, (ow - 1) / 2
    else:  # torchvision's (x, y) counts pixel edges: pixel k's centre is at k + 0.5
        cx, cy = float(center[0]) - 0.5, float(center[1]) - 0.5
        ocy, ocx = cy + (oh - h) / 2, cx + (ow - w) / 2
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    dy = np.arange(oh, dtype=np.float64)[:, None] - ocy
    dx = np.arange(ow, dtype=np.float64)[None, :] - ocx
    sx = cx + cos * dx - sin * dy
    sy = cy + sin * dx + cos * dy
    return sy, sx


def _expanded_size(h: int, w: int, angle: float) -> tuple[int, int]:
    """``(h, w)`` of the box holding an ``h × w`` image rotated by ``angle`` degrees, computed in
    float32 and truncated to 1e-4 before rounding outwards, as torchvision (and PIL)."""
    f32 = np.float32
    r = math.radians(angle)
    rot = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]], dtype=f32)
    corners = np.array([[-w, -h], [-w, h], [w, h], [w, -h]], dtype=f32) * f32(0.5)
    pts = corners @ rot.T + np.array([w, h], dtype=f32) * f32(0.5)
    tol = f32(1e-4)
    hi = np.ceil(np.trunc(pts.max(axis=0) / tol) * tol)
    lo = np.floor(np.trunc(pts.min(axis=0) / tol) * tol)
    size = hi - lo
    return int(size[1]), int(size[0])


def rotate(
    img: Any,
    angle: float,
    interpolation: Any = InterpolationMode.NEAREST,
    expand: bool = False,
    center: Sequence[float] | None = None,
    fill: Any = None,
) -> Any:
    """Rotates counter-clockwise by ``angle`` degrees about ``center`` (``(x, y)``; default the
    image centre). ``expand`` grows the output to hold the whole rotated image; pixels from outside
    take ``fill`` (a number or one per channel, default 0). ``nearest`` or ``bilinear``. PIL
    images go through PIL's ``Image.rotate`` (also ``bicubic``), as torchvision's, with the fill
    handled as torchvision does per mode (one value per band; a sequence of another length raises
    ``ValueError``)."""
    mode = _interp(interpolation)
    if _pil_image_like(img):
        # PIL's own rotation, as torchvision: every option by keyword (the fifth positional
        # parameter of Image.rotate is `translate`, not the fill colour)
        return _pil_apply(
            img,
            lambda im: im.rotate(
                float(angle),
                resample=_PIL_FILTERS[mode],
                expand=bool(expand),
                center=None if center is None else tuple(center),
                fillcolor=_parse_fill(fill, im),
            ),
        )
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"rotate: interpolation must be nearest or bilinear, got '{mode}'")
    a, pack = _unpack(img, "rotate", graph=True)
    h, w = a.shape[-2:]
    oh, ow = h, w
    if expand:
        oh, ow = _expanded_size(h, w, float(angle))
    sy, sx = _rotation_sources(h, w, oh, ow, float(angle), None if expand else center)
    return pack(_sample_image(a, sy, sx, mode, fill, "rotate"))


def _sample_image(a: np.ndarray, sy: np.ndarray, sx: np.ndarray, mode: str, fill: Any, op: str) -> np.ndarray:
    """Images ``a`` (``(..., C, H, W)``) sampled at source pixel coordinates ``(sy, sx)`` (each
    ``(oh, ow)``): ``nearest`` (ties to even, as ``grid_sample``) or ``bilinear``; points outside
    take ``fill`` (a number or one per channel, default 0)."""
    h, w = a.shape[-2:]
    oh, ow = sy.shape
    lead = a.shape[:-3]
    x4 = a.reshape(-1, *a.shape[-3:])
    n = x4.shape[0]
    sy4, sx4 = np.broadcast_to(sy, (n, oh, ow)), np.broadcast_to(sx, (n, oh, ow))
    fills = np.atleast_1d(np.asarray(0.0 if fill is None else fill, dtype=np.float64))

    def sample(x: np.ndarray, fill_value: float) -> np.ndarray:
        if mode == "nearest":
            index = _dt._flat_index(
                np.rint(sy4[: x.shape[0]]).astype(np.int64), np.rint(sx4[: x.shape[0]]).astype(np.int64), h, w
            )
            return _dt._gather(x, index, (oh, ow), fill_value)
        return _dt._sample(x, sy4[: x.shape[0]], sx4[: x.shape[0]], mode, fill_value, op)

    if fill is None or (fills.size == 1 and mode == "nearest"):
        out = sample(x4, float(fills[0]))
    else:
        # torchvision's way with a fill: a mask sampled alongside; bilinear blends the sampled
        # image (zeros outside) times the mask with the fill times its complement
        out = sample(_work(x4), 0.0)
        if isinstance(out, rustdl.Tensor):
            inside = sample(np.ones((1, 1, h, w), np.float64), 0.0).astype(np.float32)
            inside_t = rustdl.from_numpy(inside).to(out.device, out.dtype)
            fill_t = rustdl.from_numpy(fills.reshape(1, -1, 1, 1)).to(out.device, out.dtype)
            out = (out * inside_t if mode == "bilinear" else out) + (1 - inside_t) * fill_t
            return out.reshape(*lead, *out.shape[-3:])
        inside = sample(np.ones((1, 1, h, w), out.dtype), 0.0)
        weight = inside if mode == "bilinear" else 1
        out = out * weight + (1 - inside) * fills.astype(out.dtype).reshape(1, -1, 1, 1)
        if _is_int(a):
            out = np.floor(out + 0.5).astype(a.dtype)
    return out.reshape(*lead, *out.shape[-3:])


def _pil_transform(img: Any, method: str, data: Any, mode: str, fill: Any) -> Any:
    """PIL's own ``Image.transform`` (``AFFINE`` or ``PERSPECTIVE`` coefficients taking output
    points to source points), as torchvision uses for PIL images."""
    from PIL import Image

    kind = getattr(Image, method)
    return _pil_apply(
        img, lambda im: im.transform(im.size, kind, data, _PIL_FILTERS[mode], fillcolor=_parse_fill(fill, im))
    )


def _pixel_centres(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (1, w) and ``y`` (h, 1): pixel k's centre at k + 0.5, as torchvision's grids."""
    return np.arange(w, dtype=np.float64)[None, :] + 0.5, np.arange(h, dtype=np.float64)[:, None] + 0.5


def _shear_pair(shear: Any) -> tuple[float, float]:
    if isinstance(shear, numbers.Number):
        return float(shear), 0.0
    shear = [float(v) for v in shear]
    if len(shear) not in (1, 2):
        raise ValueError(f"affine: shear must be a number or a sequence of 1 or 2 numbers, got {shear}")
    # as torchvision: a number shears along x only, a one-element sequence along both axes
    return shear[0], shear[1] if len(shear) == 2 else shear[0]


def _inverse_affine(
    center: Sequence[float], angle: float, translate: Sequence[float], scale: float, shear: Sequence[float]
) -> tuple[float, ...]:
    """Coefficients ``(a, b, c, d, e, f)`` taking an output point ``(x, y)`` to its source point
    ``(a·x + b·y + c, d·x + e·y + f)`` for torchvision's affine map: about ``center``, a clockwise
    rotation by ``angle`` degrees combined with shears ``(sx, sy)`` degrees (a map of determinant
    1), scaled by ``scale``, then shifted by ``translate``."""
    rot, shx, shy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    k = 1.0 / math.cos(shy)
    # the forward linear part [[p, q], [r, t]]
    p = math.cos(rot - shy) * k
    q = -math.cos(rot - shy) * math.tan(shx) * k - math.sin(rot)
    r = math.sin(rot - shy) * k
    t = -math.sin(rot - shy) * math.tan(shx) * k + math.cos(rot)
    # its inverse (determinant 1) over the scale: source = C + M^-1 (out - C - T)
    ia, ib, ic, id_ = t / scale, -q / scale, -r / scale, p / scale
    ox, oy = -center[0] - translate[0], -center[1] - translate[1]
    return (ia, ib, ia * ox + ib * oy + center[0], ic, id_, ic * ox + id_ * oy + center[1])


def affine(
    img: Any,
    angle: float,
    translate: Sequence[float],
    scale: float,
    shear: Any,
    interpolation: Any = InterpolationMode.NEAREST,
    fill: Any = None,
    center: Sequence[float] | None = None,
) -> Any:
    """Affine map keeping the image centre (or ``center``, ``(x, y)`` in pixels) fixed: rotation
    by ``angle`` degrees (clockwise), ``translate`` ``(dx, dy)`` pixels, ``scale`` and ``shear``
    (degrees: one number for x, or ``(x, y)``). Pixels from outside take ``fill``; ``nearest`` or
    ``bilinear``. PIL images go through PIL's own affine transform, as torchvision's do."""
    mode = _interp(interpolation)
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"affine: interpolation must be nearest or bilinear, got '{mode}'")
    translate = [float(v) for v in translate]
    if len(translate) != 2:
        raise ValueError(f"affine: translate must be a pair, got {translate}")
    if not float(scale) > 0:
        raise ValueError(f"affine: scale must be positive, got {scale}")
    shear = _shear_pair(shear)
    if _pil_image_like(img):
        w, h = get_image_size(img)
        c = (w * 0.5, h * 0.5) if center is None else (float(center[0]), float(center[1]))
        m = _inverse_affine(c, float(angle), translate, float(scale), shear)
        return _pil_transform(img, "AFFINE", m, mode, fill)
    a, pack = _unpack(img, "affine", graph=True)
    h, w = a.shape[-2:]
    # pixel k's centre is at k + 0.5, the image centre at (w/2, h/2), as torchvision's tensors
    c = (w * 0.5, h * 0.5) if center is None else (float(center[0]), float(center[1]))
    m = _inverse_affine(c, float(angle), translate, float(scale), shear)
    x, y = _pixel_centres(h, w)
    sx = m[0] * x + m[1] * y + m[2] - 0.5
    sy = m[3] * x + m[4] * y + m[5] - 0.5
    return pack(_sample_image(a, sy, sx, mode, fill, "affine"))


def _perspective_coeffs(startpoints: Any, endpoints: Any) -> list[float]:
    """The 8 coefficients taking an output point to its source point (PIL's PERSPECTIVE map),
    fitted by least squares in float64 from the four corner pairs, as torchvision."""
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError(
            f"perspective: provide exactly four corners, got {len(startpoints)} startpoints and "
            f"{len(endpoints)} endpoints"
        )
    rows, rhs = [], []
    for (ex, ey), (sx, sy) in zip(endpoints, startpoints):
        rows.append([ex, ey, 1, 0, 0, 0, -sx * ex, -sx * ey])
        rows.append([0, 0, 0, ex, ey, 1, -sy * ex, -sy * ey])
        rhs += [sx, sy]
    sol = np.linalg.lstsq(np.array(rows, dtype=np.float64), np.array(rhs, dtype=np.float64), rcond=None)[0]
    return [float(v) for v in sol.astype(np.float32)]


_get_perspective_coeffs = _perspective_coeffs  # torchvision's private name, which scripts call


def perspective(
    img: Any,
    startpoints: Any,
    endpoints: Any,
    interpolation: Any = InterpolationMode.BILINEAR,
    fill: Any = None,
) -> Any:
    """Maps the quadrilateral ``startpoints`` (four ``[x, y]`` corners) onto ``endpoints``;
    pixels from outside take ``fill``; ``nearest`` or ``bilinear``."""
    mode = _interp(interpolation)
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"perspective: interpolation must be nearest or bilinear, got '{mode}'")
    c = _perspective_coeffs(startpoints, endpoints)
    if _pil_image_like(img):
        return _pil_transform(img, "PERSPECTIVE", c, mode, fill)
    a, pack = _unpack(img, "perspective", graph=True)
    h, w = a.shape[-2:]
    x, y = _pixel_centres(h, w)
    den = c[6] * x + c[7] * y + 1.0
    sx = (c[0] * x + c[1] * y + c[2]) / den - 0.5
    sy = (c[3] * x + c[4] * y + c[5]) / den - 0.5
    return pack(_sample_image(a, sy, sx, mode, fill, "perspective"))


# ----------------------------------------------------------------------------------------------
# colour


def _split_alpha(a: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    if a.shape[-3] == 4:
        return a[..., :3, :, :], a[..., 3:, :, :]
    if a.shape[-3] not in (1, 3):
        raise ValueError(f"expected an image with 1 or 3 channels, got {a.shape[-3]}")
    return a, None


def _join_alpha(a: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    if alpha is not None and isinstance(a, rustdl.Tensor):
        return rustdl.cat([a, alpha], -3)
    return a if alpha is None else np.concatenate([a, alpha], axis=-3)


def _gray(a: np.ndarray, pil_like: bool) -> np.ndarray:
    """Luma ``(..., 1, H, W)`` of an RGB array, in ``a``'s dtype (integers: PIL rounds in fixed
    point, torchvision's tensor code truncates)."""
    r, g, b = a[..., 0:1, :, :], a[..., 1:2, :, :], a[..., 2:3, :, :]
    if pil_like:
        if _is_int(a):
            ri, gi, bi = (c.astype(np.int64) for c in (r, g, b))
            return ((ri * 19595 + gi * 38470 + bi * 7471 + 0x8000) >> 16).astype(a.dtype)
        return (0.299 * r + 0.587 * g + 0.114 * b).astype(a.dtype)
    x = _work(a)
    if isinstance(x, rustdl.Tensor):  # the weights as float32 values, as for arrays
        k = [float(np.float32(v)) for v in (0.2989, 0.587, 0.114)]
        return k[0] * x[..., 0:1, :, :] + k[1] * x[..., 1:2, :, :] + k[2] * x[..., 2:3, :, :]
    lum = np.float32(0.2989) * x[..., 0:1, :, :] + np.float32(0.587) * x[..., 1:2, :, :]
    lum = lum + np.float32(0.114) * x[..., 2:3, :, :]
    return lum.astype(a.dtype)


def _pil_grayscale(img: Any, num_output_channels: int) -> Any:
    """torchvision's grayscale of a PIL image: PIL's conversion to ``L`` (whatever the mode), its
    pixels repeated into an ``RGB`` image for 3 channels."""
    from PIL import Image

    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    gray = img.convert("L")
    if num_output_channels == 1:
        return gray
    g = np.array(gray, dtype=np.uint8)
    return Image.fromarray(np.ascontiguousarray(np.stack([g, g, g], axis=-1)))


def rgb_to_grayscale(img: Any, num_output_channels: int = 1) -> Any:
    """Luma of an RGB image, as 1 channel or repeated to 3 (a PIL image of any mode through PIL's
    conversion to ``L``, as torchvision)."""
    if _is_pil(img):
        return _pil_grayscale(img, num_output_channels)
    if num_output_channels not in (1, 3):
        raise ValueError(f"rgb_to_grayscale: num_output_channels must be 1 or 3, got {num_output_channels}")
    if isinstance(img, rustdl.Tensor) and img.ndim >= 3 and img.shape[-3] == 1:
        return img.clone()  # a 1-channel image comes back as it is (a copy), as torchvision
    a, pack = _unpack(img, "rgb_to_grayscale", color=True, graph=True)
    rgb, _ = _split_alpha(a)
    g = rgb if rgb.shape[-3] == 1 else _gray(rgb, _pil_like(img, a))
    if num_output_channels == 3:
        g = rustdl.cat([g, g, g], -3) if isinstance(g, rustdl.Tensor) else np.concatenate([g, g, g], axis=-3)
    return pack(g)


def to_grayscale(img: Any, num_output_channels: int = 1) -> Any:
    """Same as :func:`rgb_to_grayscale` (torchvision's name for PIL images)."""
    return rgb_to_grayscale(img, num_output_channels)


def _blend(a: np.ndarray, b: Any, ratio: float, pil_like: bool = False) -> np.ndarray:
    """``ratio * a + (1 - ratio) * b`` clamped to the value range, integers truncated; PIL's
    ``Image.blend`` order of operations (``b + ratio * (a - b)`` in float32) when ``pil_like``."""
    x = _work(a)
    if isinstance(x, rustdl.Tensor):
        return (x * float(ratio) + b * float(1.0 - ratio)).clamp(0, _bound(a))
    y = _work(np.asarray(b)).astype(x.dtype)
    r = x.dtype.type(ratio)
    out = y + r * (x - y) if pil_like else x * r + y * x.dtype.type(1.0 - ratio)
    return np.clip(out, 0, _bound(a)).astype(a.dtype)


def _pil_enhance(img: Any, kind: str, factor: float) -> Any:
    """PIL's ``ImageEnhance.<kind>(img).enhance(factor)``, which torchvision uses for PIL images."""
    from PIL import ImageEnhance

    return getattr(ImageEnhance, kind)(img).enhance(factor)


def _check_factor(v: float, what: str) -> float:
    if v < 0:
        raise ValueError(f"{what} ({v}) is not non-negative.")
    return float(v)


def adjust_brightness(img: Any, brightness_factor: float) -> Any:
    """Multiplies by ``brightness_factor`` (blend with black), clamped to the value range (a PIL
    image through PIL's ``ImageEnhance``, as torchvision: modes it cannot blend raise ``ValueError``)."""
    if _is_pil(img):
        return _pil_enhance(img, "Brightness", brightness_factor)
    f = _check_factor(brightness_factor, "brightness_factor")
    a, pack = _unpack(img, "adjust_brightness", color=True, graph=True)
    rgb, alpha = _split_alpha(a)
    zero = 0.0 if isinstance(rgb, rustdl.Tensor) else np.zeros((), rgb.dtype)
    return pack(_join_alpha(_blend(rgb, zero, f, _pil_like(img, a)), alpha))


def adjust_contrast(img: Any, contrast_factor: float) -> Any:
    """Blends with the mean of the image's grayscale (per image) by ``contrast_factor``."""
    if _is_pil(img):
        return _pil_enhance(img, "Contrast", contrast_factor)
    f = _check_factor(contrast_factor, "contrast_factor")
    a, pack = _unpack(img, "adjust_contrast", color=True, graph=True)
    rgb, alpha = _split_alpha(a)
    pil_like = _pil_like(img, a)
    g = rgb if rgb.shape[-3] == 1 else _gray(rgb, pil_like)
    if isinstance(g, rustdl.Tensor):
        return pack(_join_alpha(_blend(rgb, g.mean((-3, -2, -1), keepdim=True), f), alpha))
    mean = g.astype(np.float64).mean(axis=(-3, -2, -1), keepdims=True)
    if pil_like:
        mean = np.floor(mean + 0.5)
    mean = mean.astype(_work(g).dtype)
    return pack(_join_alpha(_blend(rgb, mean, f, pil_like), alpha))


def adjust_saturation(img: Any, saturation_factor: float) -> Any:
    """Blends with the grayscale image by ``saturation_factor`` (0 gives gray, 1 the image)."""
    if _is_pil(img):
        return _pil_enhance(img, "Color", saturation_factor)
    f = _check_factor(saturation_factor, "saturation_factor")
    a, pack = _unpack(img, "adjust_saturation", color=True, graph=True)
    rgb, alpha = _split_alpha(a)
    if rgb.shape[-3] == 1:
        return img
    pil_like = _pil_like(img, a)
    return pack(_join_alpha(_blend(rgb, _gray(rgb, pil_like), f, pil_like), alpha))


def _rgb_to_hsv(x: np.ndarray) -> np.ndarray:
    r, g, b = x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :]
    maxc, minc = x.max(axis=-3), x.min(axis=-3)
    delta = maxc - minc
    flat = delta == 0
    s = np.where(maxc > 0, delta / np.where(maxc > 0, maxc, 1), 0)
    d = np.where(flat, 1, delta)
    h = np.where(maxc == r, (g - b) / d, np.where(maxc == g, 2.0 + (b - r) / d, 4.0 + (r - g) / d))
    h = np.where(flat, 0.0, np.mod(h / 6.0, 1.0))
    return np.stack([h, s, maxc], axis=-3).astype(x.dtype)


def _hsv_to_rgb(x: np.ndarray) -> np.ndarray:
    h, s, v = x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :]
    h6 = h * 6.0
    i = np.floor(h6)
    f = h6 - i
    i = i.astype(np.int64) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-3).astype(x.dtype)


def adjust_hue(img: Any, hue_factor: float) -> Any:
    """Shifts the hue by ``hue_factor`` (in ``[-0.5, 0.5]``, a fraction of the colour circle) through
    RGB → HSV → RGB. Integer images are converted to ``[0, 1]`` floats and back (× 255.999,
    truncated), as torchvision does for tensors."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    if _is_pil(img):
        return _pil_hue(img, hue_factor)
    if _pil_image_like(img):
        return _pil_apply(img, lambda im: _pil_hue(im, hue_factor))
    a, pack = _unpack(img, "adjust_hue", color=True)
    rgb, alpha = _split_alpha(a)
    if rgb.shape[-3] == 1:
        return img
    x = rgb.astype(np.float32) / np.float32(255.0) if _is_int(rgb) else rgb
    hsv = _rgb_to_hsv(x)
    hsv[..., 0, :, :] = np.mod(hsv[..., 0, :, :] + hsv.dtype.type(hue_factor), 1.0)
    out = _hsv_to_rgb(hsv)
    if _is_int(rgb):
        out = (out * np.float32(255.0 + 1.0 - 1e-3)).astype(rgb.dtype)
    return pack(_join_alpha(out, alpha))


def _pil_hue(im: Any, hue_factor: float) -> Any:
    """torchvision's hue shift of a PIL image: the image through PIL's ``HSV`` conversion, the 8-bit
    hue shifted by ``int(hue_factor * 255)`` modulo 256, merged back and converted to the image's
    mode (an alpha channel comes back opaque, as PIL's HSV conversion drops it); modes ``L``,
    ``1``, ``I`` and ``F`` are returned as they are."""
    from PIL import Image

    if im.mode in ("L", "1", "I", "F"):
        return im
    h, s, v = im.convert("HSV").split()
    shift = int(hue_factor * 255) % 256  # truncated toward zero, then wrapped to 8 bits
    hue = ((np.array(h, dtype=np.uint8).astype(np.int64) + shift) % 256).astype(np.uint8)
    return Image.merge("HSV", (Image.fromarray(hue), s, v)).convert(im.mode)


def adjust_gamma(img: Any, gamma: float, gain: float = 1.0) -> Any:
    """``gain * x ** gamma`` on ``[0, 1]`` values (integer images scaled there and back)."""
    if _is_pil(img):
        if gamma < 0:
            raise ValueError("Gamma should be a non-negative real number")
        # torchvision's way: through RGB with a 256-entry table per band, back to the image's mode
        table = [int((255 + 1 - 1e-3) * gain * pow(v / 255.0, gamma)) for v in range(256)] * 3
        return img.convert("RGB").point(table).convert(img.mode)
    if gamma < 0:
        raise ValueError(f"adjust_gamma: gamma must be non-negative, got {gamma}")
    a, pack = _unpack(img, "adjust_gamma", color=True, graph=True)
    if isinstance(a, rustdl.Tensor):
        return pack((gain * a.pow(gamma)).clamp(0.0, 1.0))
    x = a.astype(np.float32) / np.float32(255.0) if _is_int(a) else a
    out = np.clip(gain * np.power(x, gamma), 0.0, 1.0).astype(x.dtype)
    if _is_int(a):
        out = (out * np.float32(255.0 + 1.0 - 1e-3)).astype(a.dtype)
    return pack(out)


def invert(img: Any) -> Any:
    """``max - x`` (255 for integer images, 1 for float; a PIL image through ``ImageOps.invert``,
    which raises ``OSError`` for modes it does not support, as torchvision)."""
    if _is_pil(img):
        from PIL import ImageOps

        return ImageOps.invert(img)
    a, pack = _unpack(img, "invert", color=True, graph=True)
    if isinstance(a, rustdl.Tensor):
        return pack(1.0 - a)
    return pack((_bound(a) - a).astype(a.dtype))


# ----------------------------------------------------------------------------------------------
# the AutoAugment family's colour ops: posterize, solarize, autocontrast, equalize, sharpness


def _uint8_tensor(a: np.ndarray, op: str) -> None:
    if a.dtype != np.uint8:
        raise TypeError(f"{op}: only uint8 image tensors are supported, got {a.dtype}")


def posterize(img: Any, bits: int) -> Any:
    """Keeps the ``bits`` highest bits of each uint8 channel value."""
    if not isinstance(bits, numbers.Integral) or not 0 <= int(bits) <= 8:
        raise ValueError(f"posterize: bits must be an int in [0, 8], got {bits!r}")
    if _pil_image_like(img):
        from PIL import ImageOps

        return _pil_apply(img, lambda im: ImageOps.posterize(im, int(bits)))
    a, pack = _unpack(img, "posterize")
    _uint8_tensor(a, "posterize")
    return pack(a & np.uint8(256 - 2 ** (8 - int(bits))))


def solarize(img: Any, threshold: float) -> Any:
    """Inverts every value at or above ``threshold`` (``bound - x``; bound 255 or 1)."""
    if _pil_image_like(img):
        from PIL import ImageOps

        return _pil_apply(img, lambda im: ImageOps.solarize(im, threshold))
    a, pack = _unpack(img, "solarize", color=True, graph=True)
    if threshold > _bound(a):
        raise TypeError(f"solarize: threshold {threshold} should be at most the image's bound {_bound(a)}")
    if isinstance(a, rustdl.Tensor):
        return pack(rustdl.where(a >= threshold, 1.0 - a, a))
    return pack(np.where(a >= threshold, (_bound(a) - a).astype(a.dtype), a))


def autocontrast(img: Any) -> Any:
    """Stretches each channel linearly so its minimum becomes 0 and its maximum the bound
    (a constant channel is left as it is)."""
    if _pil_image_like(img):
        from PIL import ImageOps

        return _pil_apply(img, ImageOps.autocontrast)
    a, pack = _unpack(img, "autocontrast", color=True)
    x = _work(a)
    bound = x.dtype.type(_bound(a))
    lo = x.min(axis=(-2, -1), keepdims=True)
    hi = x.max(axis=(-2, -1), keepdims=True)
    flat = hi == lo
    scale = np.where(flat, x.dtype.type(1), bound / np.where(flat, 1, hi - lo)).astype(x.dtype)
    lo = np.where(flat, x.dtype.type(0), lo).astype(x.dtype)
    return pack(np.clip((x - lo) * scale, 0, bound).astype(a.dtype))


def _equalize_channel(c: np.ndarray) -> np.ndarray:
    """Histogram equalisation of one uint8 channel (PIL's lookup table): the cumulative count,
    offset by half a step, in steps of (pixels not in the last occupied bin) / 255."""
    hist = np.bincount(c.reshape(-1), minlength=256)
    used = hist[hist != 0]
    step = int(used[:-1].sum()) // 255
    if step == 0:
        return c
    lut = (np.cumsum(hist) + step // 2) // step
    lut = np.clip(np.concatenate([[0], lut[:-1]]), 0, 255).astype(np.uint8)
    return lut[c]


def equalize(img: Any) -> Any:
    """Equalises the histogram of each uint8 channel."""
    if _pil_image_like(img):
        from PIL import ImageOps

        return _pil_apply(img, ImageOps.equalize)
    a, pack = _unpack(img, "equalize")
    _uint8_tensor(a, "equalize")
    flat = a.reshape(-1, *a.shape[-2:])
    return pack(np.stack([_equalize_channel(c) for c in flat]).reshape(a.shape))


def adjust_sharpness(img: Any, sharpness_factor: float) -> Any:
    """Blends with a smoothed copy (3×3 kernel, 5 in the centre and 1 around, borders kept):
    0 gives the smoothed image, 1 the image, 2 a sharpened one."""
    if _is_pil(img):
        return _pil_enhance(img, "Sharpness", sharpness_factor)
    f = _check_factor(sharpness_factor, "sharpness_factor")
    if _pil_image_like(img):
        from PIL import ImageEnhance

        return _pil_apply(img, lambda im: ImageEnhance.Sharpness(im).enhance(f))
    a, pack = _unpack(img, "adjust_sharpness", color=True)
    h, w = a.shape[-2:]
    if h <= 2 or w <= 2:
        return img
    x = _work(a)
    k = np.ones((3, 3), dtype=x.dtype)
    k[1, 1] = 5
    k /= k.sum()
    smooth = sum(k[i, j] * x[..., i : i + h - 2, j : j + w - 2] for i in range(3) for j in range(3))
    if _is_int(a):
        smooth = np.clip(np.round(smooth), 0, 255)
    degenerate = x.copy()
    degenerate[..., 1:-1, 1:-1] = smooth
    return pack(_blend(a, degenerate.astype(a.dtype), f))


# ----------------------------------------------------------------------------------------------
# blur and erase


def _gaussian_kernel1d(ksize: int, sigma: float) -> np.ndarray:
    half = (ksize - 1) * 0.5
    x = np.linspace(-half, half, ksize)
    pdf = np.exp(-0.5 * (x / sigma) ** 2)
    return pdf / pdf.sum()


def gaussian_blur(img: Any, kernel_size: Any, sigma: Any = None) -> Any:
    """Blurs with a Gaussian kernel: ``kernel_size`` and ``sigma`` are one value or ``(x, y)``
    pairs (``sigma`` defaults to ``0.15 * kernel_size + 0.35``); borders are reflected, which
    raises ``RuntimeError`` as torch's padding does when half the kernel is as wide as the image.
    Integer images are rounded back; a PIL image comes back in its mode (or raises as
    torchvision's ``to_pil_image`` does for modes ``1``, ``P`` and ``I;16``)."""
    ks = [int(kernel_size)] * 2 if isinstance(kernel_size, numbers.Number) else [int(k) for k in kernel_size]
    if len(ks) == 1:
        ks = ks * 2
    if len(ks) != 2 or any(k <= 0 or k % 2 == 0 for k in ks):
        raise ValueError(
            f"gaussian_blur: kernel_size should have odd and positive integers, got {kernel_size}"
        )
    if sigma is None:
        sig = [k * 0.15 + 0.35 for k in ks]
    elif isinstance(sigma, numbers.Number):
        sig = [float(sigma)] * 2
    else:
        sig = [float(s) for s in sigma]
        sig = sig * 2 if len(sig) == 1 else sig
    if len(sig) != 2 or any(s <= 0 for s in sig):
        raise ValueError(f"gaussian_blur: sigma should have positive values, got {sigma}")
    if _is_pil(img):
        # as torchvision: the pixels as pil_to_tensor gives them, blurred, back to the image's mode
        a = _pil_array(img)
        pack = lambda out: to_pil_image(out.transpose(1, 2, 0), mode=img.mode)  # noqa: E731
    else:
        a, pack = _unpack(img, "gaussian_blur", graph=True)
    x = _work(a)
    if isinstance(x, rustdl.Tensor):  # the kernel's float32 values as Python numbers
        kx = [float(v) for v in _gaussian_kernel1d(ks[0], sig[0]).astype(np.float32)]
        ky = [float(v) for v in _gaussian_kernel1d(ks[1], sig[1]).astype(np.float32)]
    else:
        kx = _gaussian_kernel1d(ks[0], sig[0]).astype(x.dtype)
        ky = _gaussian_kernel1d(ks[1], sig[1]).astype(x.dtype)
    px, py = ks[0] // 2, ks[1] // 2
    h, w = x.shape[-2:]
    # torchvision pads the image by reflection, which torch refuses for a side as wide as the image
    error = _pad_size_error(x.shape, (px, py, px, py), "reflect")
    if error is not None:
        raise error
    xp = _pad_array(x, (px, py, px, py), 0, "reflect")
    rows = sum(ky[k] * xp[..., k : k + h, :] for k in range(ks[1]))
    out = sum(kx[k] * rows[..., :, k : k + w] for k in range(ks[0]))
    if isinstance(out, rustdl.Tensor):
        return pack(out)
    if _is_int(a):
        out = np.clip(np.round(out), 0, 255).astype(a.dtype)
    return pack(out.astype(a.dtype))


def erase(img: rustdl.Tensor, i: int, j: int, h: int, w: int, v: Any, inplace: bool = False) -> rustdl.Tensor:
    """Sets the ``h × w`` window at ``(i, j)`` of a tensor image to ``v`` (a number or a tensor that
    broadcasts to ``(C, h, w)``)."""
    if not isinstance(img, rustdl.Tensor):
        raise TypeError(f"erase: img should be a tensor image, got {type(img).__name__}")
    out = img if inplace else img.clone()
    if isinstance(v, rustdl.Tensor):
        v = v.to(out.dtype)
        if v.device != out.device:
            v = v.to(out.device)
    out[..., i : i + h, j : j + w] = v
    return out


# ----------------------------------------------------------------------------------------------
# elastic transform


def elastic_transform(
    img: Any,
    displacement: rustdl.Tensor,
    interpolation: Any = InterpolationMode.BILINEAR,
    fill: Any = None,
) -> Any:
    """Moves every pixel by ``displacement`` (a ``(1, H, W, 2)`` tensor of ``(dx, dy)`` offsets in
    grid units, ``[-1, 1]`` spanning the image) and samples the image there, as torchvision's:
    the offsets are added to the identity grid of pixel centres and the image is sampled with
    ``grid_sample`` (``nearest``, ``bilinear`` or ``bicubic``; zeros outside). With a ``fill``
    (a number or one per channel), points from outside take it through a sampled mask, blended
    for ``bilinear``. A PIL image goes through ``pil_to_tensor`` and back to its mode; integer
    images are rounded back."""
    mode = _interp(interpolation)
    if not isinstance(displacement, rustdl.Tensor):
        raise TypeError("Argument displacement should be a Tensor")
    pil = _is_pil(img)
    if pil:
        t = pil_to_tensor(img)
    elif isinstance(img, rustdl.Tensor):
        t = img
    else:
        raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")
    expected = (1, *(int(v) for v in t.shape[-2:]), 2)
    if tuple(int(v) for v in displacement.shape) != expected:
        raise ValueError(
            f"Argument displacement shape should be {expected}, but given {tuple(displacement.shape)}"
        )
    out = _elastic_tensor(t, displacement, mode, fill)
    if pil:
        return to_pil_image(out, mode=img.mode)
    return out


def _elastic_tensor(img: rustdl.Tensor, displacement: rustdl.Tensor, mode: str, fill: Any) -> rustdl.Tensor:
    """torchvision's tensor kernel: ``(..., C, H, W)`` sampled in float32 at the identity grid plus
    ``displacement``, the fill through an extra all-ones channel."""
    if mode not in ("nearest", "bilinear", "bicubic"):
        raise ValueError(
            f"elastic_transform: interpolation must be nearest, bilinear or bicubic, got '{mode}'"
        )
    shape = tuple(img.shape)
    h, w = int(shape[-2]), int(shape[-1])
    x = img.reshape(-1, *shape[-3:]) if img.dim() >= 3 else img.reshape(1, 1, h, w)
    out_dtype = x.dtype
    if out_dtype != rustdl.float32:
        x = x.to(rustdl.float32)
    ys = rustdl.linspace((-h + 1) / h, (h - 1) / h, h)
    xs = rustdl.linspace((-w + 1) / w, (w - 1) / w, w)
    grid_y, grid_x = rustdl.meshgrid(ys, xs, indexing="ij")
    identity = rustdl.stack([grid_x, grid_y], -1).unsqueeze(0)
    grid = identity.to(x.device) + displacement.to(rustdl.float32).to(x.device)
    n = int(x.shape[0])
    if n > 1:
        grid = grid.expand(n, h, w, 2)
    if fill is not None:
        x = rustdl.cat([x, rustdl.ones(n, 1, h, w, dtype=x.dtype, device=x.device)], 1)
    y = rustdl.nn.functional.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)
    if fill is not None:
        mask = y[:, -1:, :, :]
        y = y[:, :-1, :, :]
        mask = mask.expand_as(y)
        values = [float(v) for v in fill] if isinstance(fill, (list, tuple)) else [float(fill)]
        fill_img = (
            rustdl.tensor(values, dtype=y.dtype, device=y.device).view(1, len(values), 1, 1).expand_as(y)
        )
        if mode == "nearest":
            y = rustdl.where(mask < 0.5, fill_img, y)
        else:
            y = y * mask + (1.0 - mask) * fill_img
    if out_dtype != rustdl.float32:
        if not out_dtype.is_floating_point and out_dtype != rustdl.bool:
            y = y.round()
        y = y.to(out_dtype)
    return y.reshape(shape)
