"""``torchvision.utils``: ``make_grid`` and ``save_image`` (PNG through Pillow), and the drawing
helpers ``draw_bounding_boxes``, ``draw_segmentation_masks`` and ``draw_keypoints``."""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np

import rustdl

__all__ = ["draw_bounding_boxes", "draw_keypoints", "draw_segmentation_masks", "make_grid", "save_image"]


def _to_numpy(tensor: Any) -> np.ndarray:
    if isinstance(tensor, (list, tuple)):
        return np.stack([_to_numpy(t) for t in tensor])
    if isinstance(tensor, rustdl.Tensor):
        return tensor.detach().cpu().numpy()
    return np.asarray(tensor)


def _grid(
    a: np.ndarray,
    nrow: int,
    padding: int,
    normalize: bool,
    value_range: tuple[float, float] | None,
    scale_each: bool,
    pad_value: float,
) -> np.ndarray:
    # laid out in the input's dtype, as torchvision's (an integer image grid stays integer);
    # normalizing makes floats
    out_dtype = a.dtype if not normalize or a.dtype.kind == "f" else np.dtype(np.float32)
    if out_dtype.kind not in "fiub":
        out_dtype = np.dtype(np.float32)
    a = a.astype(np.float64 if a.dtype == np.float64 else np.float32)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:  # one (C, H, W) image, whatever C is
        a = a[None]
    if a.shape[1] == 1:
        a = np.repeat(a, 3, axis=1)
    if normalize:

        def norm(x: np.ndarray) -> np.ndarray:
            lo, hi = value_range if value_range is not None else (float(x.min()), float(x.max()))
            return np.clip((x - lo) / max(hi - lo, 1e-5), 0.0, 1.0)

        a = np.stack([norm(x) for x in a]) if scale_each else norm(a)
    if a.shape[0] == 1:  # one image is returned as it is (no border), as torchvision does
        return a[0].astype(out_dtype)
    n, c, h, w = a.shape
    cols = min(nrow, n)
    rows = int(math.ceil(n / cols))
    hh, ww = h + padding, w + padding
    grid = np.full((c, rows * hh + padding, cols * ww + padding), pad_value, dtype=a.dtype)
    for k in range(n):
        r, q = divmod(k, cols)
        grid[:, r * hh + padding : r * hh + padding + h, q * ww + padding : q * ww + padding + w] = a[k]
    return grid.astype(out_dtype)


def make_grid(
    tensor: Any,
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0.0,
) -> rustdl.Tensor:
    """Tiles a batch ``(N, C, H, W)`` into one ``(3, H', W')`` image, ``nrow`` images a row."""
    return rustdl.from_numpy(
        _grid(_to_numpy(tensor), nrow, padding, normalize, value_range, scale_each, pad_value)
    )


def save_image(tensor: Any, fp: Any, format: str | None = None, **kwargs: Any) -> None:
    """Saves a batch as one PNG grid (values in ``[0, 1]``, or rescaled with ``normalize``); the
    keywords (``nrow``, ``padding``, ``normalize``, ...) are :func:`make_grid`'s, as torchvision's."""
    grid = make_grid(tensor, **kwargs).numpy()
    img = np.clip(grid * 255.0 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    from PIL import Image

    if isinstance(fp, (str, os.PathLike)):
        Image.fromarray(img).save(os.fspath(fp), format=format)
    else:
        Image.fromarray(img).save(fp, format=format or "PNG")


# ---------------------------------------------------------------- drawing
def _palette(n: int) -> list[tuple[int, int, int]]:
    """torchvision's default colours: object ``i`` gets ``(i · (2²⁵−1, 2¹⁵−1, 2²¹−1)) mod 255``."""
    return [tuple(int(i * k % 255) for k in (2**25 - 1, 2**15 - 1, 2**21 - 1)) for i in range(n)]  # type: ignore[misc]


def _colors(colors: Any, n: int, floating: bool = False) -> list[tuple]:
    """One RGB tuple per object from ``None`` (the palette), one colour, or a list of colours
    (PIL names such as ``"red"`` / ``"#FF00FF"`` or RGB tuples); in ``[0, 1]`` for float images."""
    from PIL import ImageColor

    if colors is None:
        out: list = _palette(n)
    elif isinstance(colors, list):
        if len(colors) < n:
            raise ValueError(
                f"Number of colors must be equal or larger than the number of objects, but got {len(colors)} < {n}."
            )
        out = colors
    elif not isinstance(colors, (tuple, str)):
        raise ValueError(f"colors must be a tuple or a string, or a list thereof, but got {colors}.")
    elif isinstance(colors, tuple) and len(colors) != 3:
        raise ValueError(f"If passed as tuple, colors should be an RGB triplet, but got {colors}.")
    else:
        out = [colors] * n
    out = [ImageColor.getrgb(c) if isinstance(c, str) else tuple(c) for c in out]
    if floating:
        out = [tuple(v / 255 for v in c) for c in out]
    return out


def _check_image(image: Any, who: str, rgb_only: bool) -> None:
    if not isinstance(image, rustdl.Tensor):
        raise TypeError(f"{who}: Tensor expected, got {type(image)}")
    if not (image.dtype == rustdl.uint8 or image.is_floating_point()):
        raise ValueError(f"{who}: the image dtype must be uint8 or float, got {image.dtype}")
    if image.dim() != 3:
        raise ValueError(
            f"{who}: pass individual images (C, H, W), not batches; got shape {tuple(image.shape)}"
        )
    if rgb_only and image.shape[0] != 3:
        raise ValueError(f"{who}: pass an RGB image (3, H, W); got shape {tuple(image.shape)}")
    if image.shape[0] not in (1, 3):
        raise ValueError(
            f"{who}: only grayscale and RGB images are supported; got shape {tuple(image.shape)}"
        )


def _to_pil_rgb(image: rustdl.Tensor) -> Any:
    """An RGB PIL image of a ``(1 or 3, H, W)`` uint8 or float (``[0, 1]``) tensor."""
    from PIL import Image

    a = image.detach().cpu().numpy()
    if image.is_floating_point():
        a = np.clip(a * 255.0, 0, 255).astype(np.uint8)  # torchvision's to_dtype(uint8, scale=True) truncates
    if a.shape[0] == 1:
        a = np.repeat(a, 3, axis=0)
    return Image.fromarray(np.ascontiguousarray(a.transpose(1, 2, 0)), mode="RGB")


def _from_pil(img: Any, like: rustdl.Tensor) -> rustdl.Tensor:
    a = np.asarray(img.convert("RGB")).transpose(2, 0, 1).copy()
    out = rustdl.from_numpy(a)
    if like.is_floating_point():
        out = out.to(like.dtype) / 255.0
    return out


def _rotated_box(draw: Any, xy: list[int], color: tuple, fill_color: tuple | None, width: int) -> None:
    """A rotated box as torchvision draws it: the first edge dashed (5 pixels on, 5 off), the
    others solid, the inside filled without an outline."""
    corners = [(xy[i], xy[i + 1]) for i in range(0, len(xy), 2)]
    (x0, y0), (x1, y1) = corners[0], corners[1]
    length = math.hypot(x1 - x0, y1 - y0)
    ux, uy = ((x1 - x0) / length, (y1 - y0) / length) if length else (0.0, 0.0)
    pos, on = 0.0, True
    while pos < length:
        step = min(5.0, length - pos)
        if on:
            a, b = pos, pos + step
            draw.line([(x0 + ux * a, y0 + uy * a), (x0 + ux * b, y0 + uy * b)], color, width)
        pos, on = pos + step, not on
    for i in range(1, len(corners)):
        draw.line((corners[i], corners[(i + 1) % len(corners)]), width=width, fill=color)
    draw.polygon(xy, fill=fill_color, outline=None, width=0)


def draw_bounding_boxes(
    image: Any,
    boxes: Any,
    labels: list[str] | None = None,
    colors: Any = None,
    fill: bool | None = False,
    width: int = 1,
    font: str | None = None,
    font_size: int | None = None,
    label_colors: Any = None,
    label_background_colors: Any = None,
    fill_labels: bool = False,
) -> rustdl.Tensor:
    """Draws boxes (``(N, 4)`` as ``(xmin, ymin, xmax, ymax)`` pixels, or ``(N, 8)`` corner lists
    for rotated boxes) and optional text labels on a ``(C, H, W)`` uint8 or float image, as
    ``torchvision.utils.draw_bounding_boxes`` (with Pillow); returns a new 3-channel image of the
    input's dtype. ``fill=True`` fills each box with its colour at alpha 100/255."""
    from PIL import ImageDraw, ImageFont

    _check_image(image, "draw_bounding_boxes", rgb_only=False)
    b = np.asarray(boxes.detach().cpu().numpy() if isinstance(boxes, rustdl.Tensor) else boxes)
    if b.ndim != 2 or b.shape[-1] not in (4, 8):
        raise ValueError(f"draw_bounding_boxes: boxes must have shape (N, 4) or (N, 8), got {tuple(b.shape)}")
    if b.shape[-1] == 4 and ((b[:, 0] > b[:, 2]).any() or (b[:, 1] > b[:, 3]).any()):
        raise ValueError(
            "Boxes need to be in (xmin, ymin, xmax, ymax) format. Use torchvision.ops.box_convert to convert them"
        )
    n = b.shape[0]
    if n == 0:
        warnings.warn("boxes doesn't contain any box. No box was drawn", stacklevel=2)
        return image
    if labels is None:
        labels = [None] * n  # type: ignore[list-item]
    elif len(labels) != n:
        raise ValueError(
            f"Number of boxes ({n}) and labels ({len(labels)}) mismatch. Please specify labels for each box."
        )
    box_colors = _colors(colors, n)
    text_colors = _colors(label_colors or "black", n) if (label_colors or fill_labels) else list(box_colors)
    bg_colors = (
        _colors(label_background_colors, n) if (fill_labels and label_background_colors) else list(box_colors)
    )
    if font is None:
        if font_size is not None:
            warnings.warn("Argument 'font_size' will be ignored since 'font' is not set.", stacklevel=2)
        txt_font = ImageFont.load_default()
    else:
        txt_font = ImageFont.truetype(font=font, size=font_size or 10)
    img = _to_pil_rgb(image)
    draw = ImageDraw.Draw(img, "RGBA" if fill else None)
    for box, color, label, text_color, bg in zip(
        b.astype(np.int64).tolist(), box_colors, labels, text_colors, bg_colors
    ):
        fill_color = (*color, 100) if fill else None
        if len(box) > 4:
            _rotated_box(draw, box, color, fill_color, width)
        else:
            draw.rectangle(box, width=width, outline=color, fill=fill_color)
        if label is not None:
            margin = width + 1
            at = (box[0] + margin, box[1] + margin)
            if fill_labels:
                left, top, right, bottom = draw.textbbox(at, label, font=txt_font)
                draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=bg)
            draw.text(at, label, fill=text_color, font=txt_font)
    return _from_pil(img, image)


def draw_segmentation_masks(image: Any, masks: Any, alpha: float = 0.8, colors: Any = None) -> rustdl.Tensor:
    """Blends boolean masks (``(N, H, W)`` or ``(H, W)``) in their colours over an RGB image:
    ``image·(1 − α) + painted·α``, where pixels under two or more masks are painted black, as
    ``torchvision.utils.draw_segmentation_masks``."""
    _check_image(image, "draw_segmentation_masks", rgb_only=True)
    if not isinstance(masks, rustdl.Tensor):
        raise TypeError(f"draw_segmentation_masks: masks must be a tensor, got {type(masks)}")
    if masks.dim() == 2:
        masks = masks.unsqueeze(0)
    if masks.dim() != 3:
        raise ValueError("masks must be of shape (H, W) or (batch_size, H, W)")
    if masks.dtype != rustdl.bool:
        raise ValueError(f"The masks must be of dtype bool. Got {masks.dtype}")
    if tuple(masks.shape[-2:]) != tuple(image.shape[-2:]):
        raise ValueError("The image and the masks must have the same height and width")
    n = masks.shape[0]
    if n == 0:
        warnings.warn("masks doesn't contain any mask. No mask was drawn", stacklevel=2)
        return image
    floating = image.is_floating_point()
    img = image.detach().cpu().numpy()
    m = masks.detach().cpu().numpy()
    painted = img.copy()
    for mask, color in zip(m, _colors(colors, n, floating)):
        painted[:, mask] = np.asarray(color, dtype=img.dtype)[:, None]
    painted[:, m.sum(0) > 1] = 0
    out = img.astype(np.float32) * (1 - alpha) + painted.astype(np.float32) * alpha
    if not floating:
        out = out.astype(np.uint8)  # truncation, as a float → uint8 cast
    return rustdl.from_numpy(np.ascontiguousarray(out)).to(device=image.device, dtype=image.dtype)


def draw_keypoints(
    image: Any,
    keypoints: Any,
    connectivity: list[tuple[int, int]] | None = None,
    colors: Any = None,
    radius: int = 2,
    width: int = 3,
    visibility: Any = None,
) -> rustdl.Tensor:
    """Draws keypoints (``(num_instances, K, 2)`` as ``[x, y]``) as filled circles of ``radius``,
    and the ``connectivity`` pairs as lines of ``width`` (only between visible points), on an RGB
    image, as ``torchvision.utils.draw_keypoints``."""
    from PIL import ImageDraw

    _check_image(image, "draw_keypoints", rgb_only=True)
    k = np.asarray(keypoints.detach().cpu().numpy() if isinstance(keypoints, rustdl.Tensor) else keypoints)
    if k.ndim != 3:
        raise ValueError("keypoints must be of shape (num_instances, K, 2)")
    if visibility is None:
        vis = np.ones(k.shape[:-1], dtype=bool)
    else:
        vis = np.asarray(
            visibility.detach().cpu().numpy() if isinstance(visibility, rustdl.Tensor) else visibility
        )
        if vis.ndim == 3:
            vis = vis.squeeze(-1)
        if vis.ndim != 2:
            raise ValueError(f"visibility must be of shape (num_instances, K). Got ndim={vis.ndim}")
        if vis.shape != k.shape[:-1]:
            raise ValueError(
                "keypoints and visibility must have the same dimensionality for num_instances and K. "
                f"Got visibility.shape={vis.shape} and keypoints.shape={k.shape}"
            )
        vis = vis.astype(bool)
    img = _to_pil_rgb(image)
    draw = ImageDraw.Draw(img)
    for pts, seen in zip(k.astype(np.int64).tolist(), vis.tolist()):
        for (x, y), v in zip(pts, seen):
            if v:
                draw.ellipse(
                    [x - radius, y - radius, x + radius, y + radius], fill=colors, outline=None, width=0
                )
        for a, c in connectivity or []:
            if seen[a] and seen[c]:
                draw.line((tuple(pts[a]), tuple(pts[c])), width=width)
    return _from_pil(img, image)
