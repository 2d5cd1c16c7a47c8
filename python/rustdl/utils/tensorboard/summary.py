"""``torch.utils.tensorboard.summary``: functions that each build one TensorBoard ``Summary``.

PyTorch returns ``tensorboard.Summary`` protobuf objects; these return the encoded message as an
:class:`EncodedSummary` (``bytes`` with a ``SerializeToString()``), which
``SummaryWriter.file_writer.add_summary`` / ``SummaryWriter._get_file_writer().add_summary``
take as PyTorch's take the objects. ``SummaryWriter``'s ``add_*`` methods build their summaries
here, so each layout is encoded in one place.

Example (as stable-baselines3 and Lightning log hyperparameters):
    >>> from rustdl.utils.tensorboard import SummaryWriter
    >>> from rustdl.utils.tensorboard.summary import hparams
    >>> w = SummaryWriter("runs/exp")
    >>> exp, ssi, sei = hparams({"lr": 0.01, "opt": "adam"}, {"rollout/ep_rew_mean": 0})
    >>> for s in (exp, ssi, sei):
    ...     w.file_writer.add_summary(s)
    >>> w.add_scalar("rollout/ep_rew_mean", 12.5, 100)
"""

from __future__ import annotations

import io
import json
import math
import numbers
import struct
import time
import warnings
import wave
from typing import Any

import numpy as np

from . import _image, _proto
from ._image import who

__all__ = [
    "audio",
    "compute_curve",
    "custom_scalars",
    "draw_boxes",
    "half_to_int",
    "histogram",
    "histogram_raw",
    "hparams",
    "image",
    "image_boxes",
    "int_to_half",
    "make_histogram",
    "make_image",
    "make_video",
    "mesh",
    "pr_curve",
    "pr_curve_raw",
    "scalar",
    "tensor_proto",
    "text",
    "video",
]


class EncodedSummary(bytes):
    """An encoded ``tensorboard.Summary`` message: give it to ``FileWriter.add_summary``;
    ``SerializeToString()`` returns the bytes, as a protobuf message's does."""

    __slots__ = ()

    def SerializeToString(self) -> bytes:  # noqa: N802 - protobuf's name
        return bytes(self)


def _summary(values: list[bytes]) -> EncodedSummary:
    return EncodedSummary(_proto.summary(values))


# ---------- checks shared with SummaryWriter ----------


def check_tag(tag: Any, method: str, what: str = "the tag") -> str:
    if not isinstance(tag, str):
        raise TypeError(f"{who(method)}: {what} must be a str, got {type(tag).__name__}")
    return tag


def number(value: Any, method: str, what: str = "scalar_value") -> float:
    """A Python number, a numpy scalar, or a one-element tensor/array as a float."""
    if isinstance(value, (bool, numbers.Real)) and not isinstance(value, np.ndarray):
        return float(value)
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{who(method)}: {what} must be a number, got {type(value).__name__}")
    arr = _image.to_numpy(value, method)
    if arr.size != 1:
        raise ValueError(f"{who(method)}: {what} must hold one value, got shape {tuple(arr.shape)}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{who(method)}: {what} must be real, got {arr.dtype}")
    return float(arr.reshape(()))


# ---------- half floats (PyTorch's helpers) ----------


def half_to_int(f: float) -> int:
    """The bits of ``f`` as a float32, read as a signed 32-bit integer (PyTorch's helper)."""
    return struct.unpack("i", struct.pack("f", f))[0]


def int_to_half(i: int) -> float:
    """The inverse of :func:`half_to_int`."""
    return struct.unpack("f", struct.pack("i", i))[0]


# ---------- scalars and tensors ----------


def scalar_value(tag: Any, value: Any, new_style: bool, double_precision: bool, method: str) -> bytes:
    tag = check_tag(tag, method)
    x = number(value, method)
    if new_style:
        return _proto.value_scalar_tensor(tag, x, double=bool(double_precision))
    return _proto.value_simple(tag, x)


def scalar(name, tensor, collections=None, new_style=False, double_precision=False):
    """One number: ``simple_value``, or with ``new_style`` the scalars plugin's tensor
    (``DT_FLOAT``; ``DT_DOUBLE`` with ``double_precision``). ``collections`` is ignored."""
    return _summary([scalar_value(name, tensor, new_style, double_precision, "summary.scalar")])


# numpy dtype name -> (tensorflow DataType, TensorProto field, how the values are written)
_TENSOR_DTYPES = {
    "float16": (19, 13, "half"),
    "bfloat16": (14, 13, "half"),
    "float32": (1, 5, "<f4"),
    "float64": (2, 6, "<f8"),
    "complex64": (8, 9, "<f4"),
    "complex128": (18, 12, "<f8"),
    "int8": (6, 7, "varint"),
    "uint8": (4, 7, "varint"),
    "int16": (5, 7, "varint"),
    "uint16": (17, 7, "varint"),
    "int32": (3, 7, "varint"),
    "uint32": (22, 16, "varint"),
    "int64": (9, 10, "varint"),
    "uint64": (23, 17, "varint"),
    "bool": (10, 11, "varint"),
}


def encode_tensor(arr: np.ndarray, method: str, tag: str = "") -> bytes:
    """``arr`` as a ``TensorProto``: its shape and its values in the ``*_val`` field of its dtype
    (half floats as their 16-bit patterns, complex numbers as interleaved real/imaginary parts)."""
    if arr.nbytes >= 1 << 31:
        raise ValueError(f"{who(method)}: the tensor is bigger than protocol buffers' 2 GB limit")
    spec = _TENSOR_DTYPES.get(arr.dtype.name)
    if spec is None:
        raise ValueError(f"{who(method)}: {tag!r} has unsupported tensor dtype {arr.dtype}")
    dtype, field, how = spec
    flat = np.ascontiguousarray(arr).reshape(-1)
    if how == "half":
        values = _proto.f_packed_varints(field, flat.view(np.uint16).tolist())
    elif how == "varint":
        values = _proto.f_packed_varints(field, flat.tolist())
    elif arr.dtype.kind == "c":
        values = _proto.f_bytes(field, flat.astype("<c8" if how == "<f4" else "<c16").view(how).tobytes())
    else:
        values = _proto.f_bytes(field, flat.astype(how).tobytes())
    return _proto.tensor_proto(dtype, arr.shape, values)


def tensor_value(tag: Any, tensor: Any, method: str) -> bytes:
    tag = check_tag(tag, method)
    arr = _image.to_numpy(tensor, method)
    return _proto.value_tensor(tag, encode_tensor(arr, method, tag), _proto.plugin_metadata("tensor"))


def tensor_proto(tag, tensor):
    """The whole tensor as a ``TensorProto`` with ``plugin_name: "tensor"``."""
    return _summary([tensor_value(tag, tensor, "summary.tensor_proto")])


# ---------- histograms ----------


def _tensorflow_bins() -> np.ndarray:
    """TensorFlow's default histogram edges: ±1e-12 growing by 10% up to 1e20, and 0."""
    pos = []
    v = 1e-12
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    pos_arr = np.array(pos)
    return np.concatenate([-pos_arr[::-1], [0.0], pos_arr])


_TF_BINS = None


def histogram_proto(values: Any, bins: Any, max_bins: int | None, method: str) -> bytes:
    """An encoded ``HistogramProto`` of ``values`` counted in ``bins`` (``"tensorflow"`` or
    anything ``numpy.histogram`` takes), merged down to at most ``max_bins`` buckets."""
    global _TF_BINS
    arr = _image.to_numpy(values, method).astype(np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{who(method)}: the values are empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{who(method)}: the values hold NaN or infinity")
    if isinstance(bins, str) and bins == "tensorflow":
        if _TF_BINS is None:
            _TF_BINS = _tensorflow_bins()
        bins = _TF_BINS
    try:
        counts, edges = np.histogram(arr, bins=bins)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{who(method)}: bad bins {bins!r}: {e}") from e
    if max_bins is not None and len(counts) > max_bins:
        # merge neighbouring buckets so at most max_bins remain
        k = math.ceil(len(counts) / max_bins)
        pad = (-len(counts)) % k
        counts = np.concatenate([counts, np.zeros(pad, counts.dtype)]).reshape(-1, k).sum(1)
        edges = edges[::k] if pad == 0 else np.concatenate([edges[::k], edges[-1:]])
    nz = np.nonzero(counts)[0]
    first, last = int(nz[0]), int(nz[-1])
    # a zero bucket ending at the first bucket's left edge tells the viewer where it starts
    limits = edges[first : last + 2]
    bucket = np.concatenate([[0.0], counts[first : last + 1].astype(np.float64)])
    return _proto.histogram_proto(
        float(arr.min()),
        float(arr.max()),
        float(arr.size),
        float(arr.sum()),
        float(np.dot(arr, arr)),
        limits.tolist(),
        bucket.tolist(),
    )


def histogram_raw_value(
    tag, vmin, vmax, num, vsum, sum_squares, bucket_limits, bucket_counts, method: str
) -> bytes:
    limits = [float(v) for v in _image.to_numpy(bucket_limits, method).ravel()]
    counts = [float(v) for v in _image.to_numpy(bucket_counts, method).ravel()]
    if len(limits) != len(counts):
        raise ValueError(f"{who(method)}: bucket_limits and bucket_counts differ in length")
    return _proto.value_histogram(
        check_tag(tag, method),
        number(vmin, method, "min"),
        number(vmax, method, "max"),
        number(num, method, "num"),
        number(vsum, method, "sum"),
        number(sum_squares, method, "sum_squares"),
        limits,
        counts,
    )


def histogram_raw(name, min, max, num, sum, sum_squares, bucket_limits, bucket_counts):  # noqa: A002
    """A histogram already counted: ``bucket_counts[i]`` values up to ``bucket_limits[i]``."""
    return _summary(
        [
            histogram_raw_value(
                name, min, max, num, sum, sum_squares, bucket_limits, bucket_counts, "summary.histogram_raw"
            )
        ]
    )


def make_histogram(values, bins, max_bins=None):
    """The encoded ``HistogramProto`` (min, max, num, sum, sum of squares, bucket limits and
    counts) of ``values``."""
    return histogram_proto(values, bins, max_bins, "summary.make_histogram")


def histogram(name, values, bins, max_bins=None):
    """The distribution of ``values`` as a ``histo`` value."""
    name = check_tag(name, "summary.histogram")
    return _summary([_proto.value_histo(name, histogram_proto(values, bins, max_bins, "summary.histogram"))])


# ---------- images ----------


def _pil(method: str, what: str):
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError(f"{who(method)} needs the Pillow package (PIL) {what}; pip install pillow") from e
    return Image


def _draw_box(draw, font, box, label, color="red", text_color="black", width=2) -> None:
    """One box ``(x0, y0, x1, y1)``: a ``width``-pixel outline; a label in ``text_color`` on a box
    of ``color`` inside the bottom-left corner (PyTorch's layout)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    draw.line([(x0, y0), (x0, y1), (x1, y1), (x1, y0), (x0, y0)], width=width, fill=color)
    if label is None or label == "":
        return
    label = str(label)
    left, top, right, bottom = font.getbbox(label)
    tw, th = right - left, bottom - top
    margin = math.ceil(0.05 * th)
    draw.rectangle([(x0, y1 - th - 2 * margin), (x0 + tw, y1)], fill=color)
    draw.text((x0 + margin, y1 - th - margin), label, fill=text_color, font=font)


def draw_boxes(disp_image, boxes, labels=None):
    """Draws each box ``(xmin, ymin, xmax, ymax)`` of ``boxes`` (N×4) in red on the PIL image
    ``disp_image``, with ``labels[i]`` at its bottom-left corner; returns the image."""
    from PIL import ImageDraw, ImageFont

    boxes = _image.to_numpy(boxes, "summary.draw_boxes")
    if boxes.size == 0:
        return disp_image
    boxes = boxes.reshape(-1, 4)
    font = ImageFont.load_default()
    draw = ImageDraw.Draw(disp_image)
    for i, box in enumerate(boxes):
        _draw_box(draw, font, box, labels[i] if labels is not None and i < len(labels) else None)
    return disp_image


def make_image(tensor, rescale=1, rois=None, labels=None):
    """An encoded ``Summary.Image`` (PNG) of an ``HWC`` uint8 array; with ``rois`` (N×4 boxes)
    the boxes are drawn on it, and ``rescale`` resizes it (both need Pillow)."""
    img = _image.to_numpy(tensor, "summary.make_image")
    if img.ndim == 2:
        img = img[..., None]
    img = _image.to_uint8(img)
    h, w, c = img.shape
    if rois is None and rescale == 1:
        return _proto.image(h, w, c, _image.encode_png(img))
    Image = _pil("summary.make_image", "to draw boxes or rescale an image")
    pil = Image.fromarray(img[..., 0] if c == 1 else img)
    if rois is not None:
        if pil.mode not in ("RGB", "RGBA"):
            pil = pil.convert("RGB")  # red boxes on a grey image
        pil = draw_boxes(pil, rois, labels)
    if rescale != 1:
        size = (max(1, int(w * rescale)), max(1, int(h * rescale)))
        pil = pil.resize(size, Image.Resampling.LANCZOS)
    out = np.asarray(pil)
    if out.ndim == 2:
        out = out[..., None]
    return _proto.image(out.shape[0], out.shape[1], out.shape[2], _image.encode_png(out))


def image_value(tag, tensor, dataformats, method, rescale=1, boxes=None, labels=None) -> bytes:
    tag = check_tag(tag, method)
    arr = _image.to_numpy(tensor, method)
    hwc = _image.to_uint8(_image.grid(arr, dataformats, method))
    if boxes is not None:
        _pil(method, "to draw boxes")
        boxes = _image.to_numpy(boxes, method)
        if boxes.ndim > 2 or boxes.size % 4 or (boxes.ndim == 2 and boxes.shape[1] != 4):
            raise ValueError(f"{who(method)}: the boxes must be (N, 4), got shape {tuple(boxes.shape)}")
        boxes = boxes.reshape(-1, 4)
    return _proto.value_image_proto(tag, make_image(hwc, rescale, boxes, labels))


def image(tag, tensor, rescale=1, dataformats="NCHW"):
    """An image (``CHW``/``HWC``/``HW``/``WH``) or a batch (``NCHW``/``NHWC``, as a grid of 8 per
    row): floats in [0, 1] or uint8, stored as PNG."""
    return _summary([image_value(tag, tensor, dataformats, "summary.image", rescale)])


def image_boxes(tag, tensor_image, tensor_boxes, rescale=1, dataformats="CHW", labels=None):
    """An image with the boxes ``tensor_boxes`` (N×4, ``xmin, ymin, xmax, ymax`` in pixels)
    drawn in red, labelled with ``labels``; needs Pillow."""
    return _summary(
        [image_value(tag, tensor_image, dataformats, "summary.image_boxes", rescale, tensor_boxes, labels)]
    )


# ---------- video ----------


def video_frames(tensor: Any, method: str) -> np.ndarray:
    """``(N, T, C, H, W)`` as ``(T, H', W', C)`` uint8: at each time step the N videos tiled into a
    grid of ``2**((N.bit_length() - 1) // 2)`` rows, N padded with black to a power of two."""
    v = _image.to_numpy(tensor, method)
    if v.ndim != 5:
        raise ValueError(f"{who(method)}: the video must be (N, T, C, H, W), got shape {tuple(v.shape)}")
    b, t, c, h, w = v.shape
    if b == 0 or t == 0:
        raise ValueError(f"{who(method)}: the video is empty, shape {tuple(v.shape)}")
    if c not in (1, 3, 4):
        raise ValueError(f"{who(method)}: a video frame needs 1, 3 or 4 channels, got {c}")
    v = _image.to_uint8(v)
    padded = 1 << (b - 1).bit_length()
    if padded != b:
        v = np.concatenate([v, np.zeros((padded - b, t, c, h, w), np.uint8)])
    rows = 2 ** ((b.bit_length() - 1) // 2)
    cols = padded // rows
    v = v.reshape(rows, cols, t, c, h, w).transpose(2, 0, 4, 1, 5, 3)
    return np.ascontiguousarray(v.reshape(t, rows * h, cols * w, c))


def make_video(tensor, fps):
    """An encoded ``Summary.Image`` holding an animated GIF of ``(T, H, W, C)`` uint8 frames
    shown ``fps`` frames a second, looping; None (with a warning) without Pillow."""
    try:
        from PIL import Image
    except ImportError:
        warnings.warn(
            "add_video needs package Pillow (PIL) to encode the GIF; the video is not logged", stacklevel=3
        )
        return None
    frames = _image.to_uint8(_image.to_numpy(tensor, "summary.make_video"))
    if frames.ndim != 4 or frames.shape[3] not in (1, 3, 4) or frames.shape[0] == 0:
        raise ValueError(
            f"summary.make_video: the frames must be (T, H, W, C) with C in 1/3/4, got {tuple(frames.shape)}"
        )
    fps = float(fps)
    if not fps > 0:
        raise ValueError(f"summary.make_video: fps must be positive, got {fps}")
    t, h, w, c = frames.shape
    images = [Image.fromarray(f[..., 0] if c == 1 else f) for f in frames]
    out = io.BytesIO()
    images[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=max(10, round(1000.0 / fps)),
        loop=0,
    )
    return _proto.image(h, w, c, out.getvalue())


def video(tag, tensor, fps=4):
    """A video ``(N, T, C, H, W)`` (floats in [0, 1] or uint8) as an animated GIF image; without
    Pillow, a warning and a value holding only the tag (as PyTorch without moviepy)."""
    tag = check_tag(tag, "summary.video")
    return _summary([_proto.value_image_proto(tag, make_video(video_frames(tensor, "summary.video"), fps))])


# ---------- audio ----------


def audio_value(tag: Any, tensor: Any, sample_rate: Any, method: str) -> bytes:
    tag = check_tag(tag, method)
    arr = np.squeeze(_image.to_numpy(tensor, method))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"{who(method)}: the sound must be one channel (L) or (1, L), got shape {tuple(arr.shape)}"
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{who(method)}: the sound must be real numbers, got {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if np.isnan(arr).any():
        raise ValueError(f"{who(method)}: the sound holds NaN")
    if np.abs(arr).max() > 1:
        warnings.warn(f"{who(method)}: audio amplitude out of range [-1, 1], auto clipped", stacklevel=3)
        arr = arr.clip(-1, 1)
    rate = number(sample_rate, method, "sample_rate")
    if not rate > 0:
        raise ValueError(f"{who(method)}: sample_rate must be positive, got {sample_rate!r}")
    pcm = (arr * np.iinfo(np.int16).max).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.tobytes())
    return _proto.value_audio(tag, rate, 1, pcm.shape[0], buf.getvalue(), "audio/wav")


def audio(tag, tensor, sample_rate=44100):
    """Mono sound (values in [-1, 1], clipped) as a 16-bit PCM WAV ``audio`` value."""
    return _summary([audio_value(tag, tensor, sample_rate, "summary.audio")])


# ---------- custom scalars ----------


def custom_scalars_value(layout: Any, method: str) -> bytes:
    if not isinstance(layout, dict):
        raise TypeError(f"{who(method)}: layout must be a dict, got {type(layout).__name__}")
    categories = []
    for title, charts in layout.items():
        if not isinstance(charts, dict):
            raise TypeError(f"{who(method)}: layout[{title!r}] must be a dict of charts")
        entries = []
        for chart_title, spec in charts.items():
            if not isinstance(spec, (list, tuple)) or len(spec) != 2:
                raise ValueError(
                    f'{who(method)}: layout[{title!r}][{chart_title!r}] must be ["Multiline" or "Margin", tags]'
                )
            kind, tags = spec[0], [check_tag(t, method, "a chart's tag") for t in spec[1]]
            if kind == "Margin" and len(tags) != 3:
                raise ValueError(
                    f"{who(method)}: the margin chart {chart_title!r} needs 3 tags (value, lower, upper), "
                    f"got {len(tags)}"
                )
            entries.append((str(chart_title), "Margin" if kind == "Margin" else "Multiline", tags))
        categories.append((str(title), entries))
    tensor = _proto.tensor_proto(
        _proto.DT_STRING, [], _proto.f_bytes(8, _proto.custom_scalars_layout(categories), always=True)
    )
    return _proto.value_tensor("custom_scalars__config__", tensor, _proto.plugin_metadata("custom_scalars"))


def custom_scalars(layout):
    """The custom scalars plugin's ``Layout`` (under the tag ``custom_scalars__config__``) from
    ``{category: {chart title: ["Multiline", [tags]] or ["Margin", [value, lower, upper]]}}``."""
    return _summary([custom_scalars_value(layout, "summary.custom_scalars")])


# ---------- text ----------


def text_value(tag: Any, text_string: Any, method: str) -> bytes:
    tag = check_tag(tag, method)
    if not isinstance(text_string, str):
        raise TypeError(f"{who(method)}: text_string must be a str, got {type(text_string).__name__}")
    return _proto.value_text(tag + "/text_summary", text_string)


def text(tag, text):
    """A (markdown) string for the text plugin, under the tag ``<tag>/text_summary``."""
    return _summary([text_value(tag, text, "summary.text")])


# ---------- precision-recall curves ----------


def _thresholds(num_thresholds: Any, method: str) -> int:
    if (
        not isinstance(num_thresholds, numbers.Integral)
        or isinstance(num_thresholds, bool)
        or num_thresholds < 2
    ):
        raise ValueError(f"{who(method)}: num_thresholds must be an int >= 2, got {num_thresholds!r}")
    return min(int(num_thresholds), 127)  # PyTorch caps it at 127


def compute_curve(labels, predictions, num_thresholds=None, weights=None):
    """``(6, num_thresholds)``: true/false positives, true/false negatives, precision and recall
    at the thresholds ``k / (num_thresholds - 1)`` (a prediction ``p`` counts as positive at every
    threshold index up to ``floor(p * (num_thresholds - 1))``)."""
    y = _image.to_numpy(labels, "summary.compute_curve").astype(np.float64).ravel()
    p = _image.to_numpy(predictions, "summary.compute_curve").astype(np.float64).ravel()
    w = (
        np.ones_like(p)
        if weights is None
        else np.broadcast_to(
            _image.to_numpy(weights, "summary.compute_curve").astype(np.float64).ravel(), p.shape
        )
    )
    bucket = np.floor(p * (num_thresholds - 1)).astype(np.int64)
    tp_at = np.bincount(bucket, weights=y * w, minlength=num_thresholds)
    fp_at = np.bincount(bucket, weights=(1.0 - y) * w, minlength=num_thresholds)
    tp = np.cumsum(tp_at[::-1])[::-1]
    fp = np.cumsum(fp_at[::-1])[::-1]
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(1e-7, tp + fp)
    recall = tp / np.maximum(1e-7, tp + fn)
    return np.stack([tp, fp, tn, fn, precision, recall])


def pr_curve_value(tag, labels, predictions, num_thresholds, weights, method: str) -> bytes:
    tag = check_tag(tag, method)
    n = _thresholds(num_thresholds, method)
    y = _image.to_numpy(labels, method).astype(np.float64).ravel()
    p = _image.to_numpy(predictions, method).astype(np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"{who(method)}: labels ({y.size} values) and predictions ({p.size}) differ in size")
    if p.size and (np.isnan(p).any() or p.min() < 0 or p.max() > 1):
        raise ValueError(f"{who(method)}: predictions must lie in [0, 1]")
    if weights is not None:
        weights = _image.to_numpy(weights, method).astype(np.float64).ravel()
        if weights.size not in (1, p.size):
            raise ValueError(f"{who(method)}: {weights.size} weights for {p.size} predictions")
    data = compute_curve(y, p, n, weights).astype(np.float32)
    return _proto.value_pr_curve(tag, data.ravel().tolist(), n)


def pr_curve(tag, labels, predictions, num_thresholds=127, weights=None):
    """A precision-recall curve of 0/1 ``labels`` against probabilities ``predictions`` at
    ``num_thresholds`` (at most 127) thresholds, for the PR-curves plugin."""
    return _summary([pr_curve_value(tag, labels, predictions, num_thresholds, weights, "summary.pr_curve")])


def pr_curve_raw_value(tag, tp, fp, tn, fn, precision, recall, num_thresholds, method: str) -> bytes:
    tag = check_tag(tag, method)
    n = _thresholds(num_thresholds, method)
    rows = [
        _image.to_numpy(x, method).astype(np.float32).ravel() for x in (tp, fp, tn, fn, precision, recall)
    ]
    if len({r.size for r in rows}) != 1:
        raise ValueError(f"{who(method)}: the six curves differ in length: {[r.size for r in rows]}")
    data = np.stack(rows)
    return _proto.value_pr_curve(tag, data.ravel().tolist(), n, data.shape[1])


def pr_curve_raw(tag, tp, fp, tn, fn, precision, recall, num_thresholds=127, weights=None):
    """A precision-recall curve already counted (six equal-length curves); ``weights`` is
    ignored, as in PyTorch."""
    return _summary(
        [pr_curve_raw_value(tag, tp, fp, tn, fn, precision, recall, num_thresholds, "summary.pr_curve_raw")]
    )


# ---------- meshes ----------

_MESH_PARTS = ((1, "VERTEX"), (2, "FACE"), (3, "COLOR"))


def mesh_values(
    tag, vertices, colors, faces, config_dict, display_name, description, method: str
) -> list[bytes]:
    tag = check_tag(tag, method)
    json_config = "{}" if config_dict is None else json.dumps(config_dict, sort_keys=True)
    parts = []
    for (content_type, name), data in zip(_MESH_PARTS, (vertices, faces, colors)):
        if data is None:
            continue
        arr = _image.to_numpy(data, method)
        if arr.ndim != 3 or arr.shape[-1] != 3:
            raise ValueError(
                f"{who(method)}: the mesh's {name.lower()} must be (B, N, 3), got shape {tuple(arr.shape)}"
            )
        parts.append((content_type, name, arr.astype(np.float32)))
    if not parts:
        raise ValueError(f"{who(method)}: the mesh needs vertices")
    components = 0
    for content_type, _, _ in parts:
        components |= 1 << content_type
    out = []
    for content_type, name, arr in parts:
        content = _proto.mesh_plugin_data(tag, content_type, json_config, arr.shape, components)
        meta = _proto.plugin_metadata("mesh", content, display_name or "", description or "")
        tensor = _proto.tensor_proto(
            _proto.DT_FLOAT, arr.shape, _proto.f_bytes(5, arr.astype("<f4").tobytes())
        )
        out.append(_proto.value_tensor(f"{tag}_{name}", tensor, meta))
    return out


def mesh(tag, vertices, colors, faces, config_dict, display_name=None, description=None):
    """A mesh or point cloud for the mesh plugin: one float tensor ``(B, N, 3)`` each for the
    vertices, faces and colors given, tagged ``<tag>_VERTEX``, ``<tag>_FACE``, ``<tag>_COLOR``;
    ``config_dict`` (three.js settings) is stored as JSON."""
    return _summary(
        mesh_values(tag, vertices, colors, faces, config_dict, display_name, description, "summary.mesh")
    )


# ---------- hyperparameters ----------


def _hparam_kind(v: Any) -> int | None:
    if isinstance(v, (bool, np.bool_)):
        return _proto.HP_BOOL
    if isinstance(v, str):
        return _proto.HP_STRING
    if isinstance(v, numbers.Real) or isinstance(v, np.ndarray) or hasattr(v, "numpy"):
        return _proto.HP_FLOAT64
    return None


def hparams_values(
    hparam_dict, metric_dict, hparam_domain_discrete, method: str, start_time: float | None = None
):
    """The three hparams plugin values (experiment, session start, session end)."""
    if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
        raise TypeError(
            f"{who(method)}: hparam_dict and metric_dict must be dicts, got "
            f"{type(hparam_dict).__name__} and {type(metric_dict).__name__}"
        )
    domains = hparam_domain_discrete or {}
    if not isinstance(domains, dict):
        raise TypeError(f"{who(method)}: hparam_domain_discrete must be a dict, got {type(domains).__name__}")
    for k, dom in domains.items():
        kind = _hparam_kind(hparam_dict.get(k))
        if (
            k not in hparam_dict
            or not isinstance(dom, (list, tuple))
            or not all(_hparam_kind(d) == kind for d in dom)
        ):
            raise TypeError(
                f"{who(method)}: hparam_domain_discrete[{k!r}] must be a list of values of the same type "
                f"as hparam_dict[{k!r}]"
            )
    values: dict[str, float | str | bool] = {}
    infos = []
    for k, v in hparam_dict.items():
        check_tag(k, method, "a hyperparameter's name")
        if v is None:
            continue  # as PyTorch: not logged
        kind = _hparam_kind(v)
        if kind == _proto.HP_BOOL:
            v = bool(v)
        elif kind == _proto.HP_FLOAT64:
            v = number(v, method, f"hparam_dict[{k!r}]")
        elif kind is None:
            raise TypeError(
                f"{who(method)}: hparam_dict[{k!r}] must be int, float, str, bool, None or a tensor, "
                f"got {type(v).__name__}"
            )
        values[k] = v
        domain = domains.get(k)
        if domain is not None:
            domain = [
                bool(d) if kind == _proto.HP_BOOL else d if kind == _proto.HP_STRING else float(d)
                for d in domain
            ]
        elif kind == _proto.HP_BOOL:
            domain = [True, False]
        infos.append((k, kind, domain))
    metrics = [check_tag(k, method, "a metric's name") for k in metric_dict]
    now = time.time() if start_time is None else float(start_time)
    return (
        _proto.value_plugin_only(
            "_hparams_/experiment", "hparams", _proto.hparams_experiment(infos, metrics)
        ),
        _proto.value_plugin_only(
            "_hparams_/session_start_info", "hparams", _proto.hparams_session_start(values, now)
        ),
        _proto.value_plugin_only("_hparams_/session_end_info", "hparams", _proto.hparams_session_end(now)),
    )


def hparams(hparam_dict=None, metric_dict=None, hparam_domain_discrete=None):
    """The hparams plugin's three summaries ``(experiment, session_start_info,
    session_end_info)``: the experiment lists each hyperparameter (its type, and its discrete
    domain from ``hparam_domain_discrete``; ``[True, False]`` for a bool) and the metric tags
    (the keys of ``metric_dict``; the metrics' values are logged separately, with
    ``add_scalar``); the session start holds the values (int/float/tensor as numbers, str, bool;
    None is skipped); the session end says success."""
    exp, ssi, sei = hparams_values(hparam_dict, metric_dict, hparam_domain_discrete, "summary.hparams")
    return _summary([exp]), _summary([ssi]), _summary([sei])
