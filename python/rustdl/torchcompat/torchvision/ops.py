"""``torchvision.ops`` for rustdl: box utilities (``box_area``, ``box_iou``, ``generalized_box_iou``,
``distance_box_iou``, ``complete_box_iou``, ``box_convert``, ``clip_boxes_to_image``,
``remove_small_boxes``, ``masks_to_boxes``), non-maximum suppression (``nms``, ``batched_nms``)
``sigmoid_focal_loss`` / ``stochastic_depth``, and the layers of ``torchvision.ops.misc``
(``Conv2dNormActivation``, ``SqueezeExcitation``, ``MLP``, ``Permute``, ``FrozenBatchNorm2d``).

Boxes are ``(N, 4)`` tensors in ``(x1, y1, x2, y2)`` form unless a function says otherwise. The
box and loss functions are built from tensor ops, so they are differentiable where
torchvision's are; ``nms`` / ``batched_nms`` / ``remove_small_boxes`` return int64 indices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import rustdl
from rustdl import Tensor
from rustdl.models._misc import (
    MLP,
    Conv2dNormActivation,
    Conv3dNormActivation,
    FrozenBatchNorm2d,
    Permute,
    SqueezeExcitation,
    StochasticDepth,
    stochastic_depth,
)
from rustdl.nn import functional as F

__all__ = [
    "MLP",
    "Conv2dNormActivation",
    "Conv3dNormActivation",
    "FrozenBatchNorm2d",
    "Permute",
    "SqueezeExcitation",
    "StochasticDepth",
    "batched_nms",
    "box_area",
    "box_convert",
    "box_iou",
    "clip_boxes_to_image",
    "complete_box_iou",
    "distance_box_iou",
    "generalized_box_iou",
    "masks_to_boxes",
    "nms",
    "remove_small_boxes",
    "sigmoid_focal_loss",
    "stochastic_depth",
]


def _check_boxes(op: str, boxes: Any) -> Tensor:
    if not isinstance(boxes, Tensor):
        raise TypeError(f"{op}: expected boxes to be a Tensor, got {type(boxes).__name__}")
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"{op}: expected boxes of shape (N, 4), got {tuple(boxes.shape)}")
    return boxes


def _cols(boxes: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return tuple(boxes[:, i] for i in range(4))  # type: ignore[return-value]


def box_area(boxes: Tensor) -> Tensor:
    """``(x2 - x1) * (y2 - y1)`` of each ``(x1, y1, x2, y2)`` box: shape ``(N,)``."""
    _check_boxes("box_area", boxes)
    x1, y1, x2, y2 = _cols(boxes)
    return (x2 - x1) * (y2 - y1)


def _inter_union(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    area1, area2 = box_area(boxes1), box_area(boxes2)
    lt = rustdl.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = rustdl.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2[None, :] - inter
    return inter, union


def _float(t: Tensor) -> Tensor:
    return t if t.is_floating_point() else t.to(rustdl.get_default_dtype())


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Intersection over union of every pair: an ``(N, M)`` matrix for ``(N, 4)`` and ``(M, 4)``
    boxes in ``(x1, y1, x2, y2)`` form."""
    _check_boxes("box_iou", boxes1)
    _check_boxes("box_iou", boxes2)
    inter, union = _inter_union(boxes1, boxes2)
    return _float(inter) / _float(union)


def generalized_box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Generalised IoU of every pair, ``IoU - (C - union) / C`` with ``C`` the area of the
    smallest box enclosing both: ``(N, M)``, in ``[-1, 1]``."""
    _check_boxes("generalized_box_iou", boxes1)
    _check_boxes("generalized_box_iou", boxes2)
    inter, union = _inter_union(boxes1, boxes2)
    inter, union = _float(inter), _float(union)
    iou = inter / union
    lti = rustdl.minimum(boxes1[:, None, :2], boxes2[None, :, :2])
    rbi = rustdl.maximum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    whi = _float((rbi - lti).clamp(min=0))
    areai = whi[..., 0] * whi[..., 1]
    return iou - (areai - union) / areai


def _diou_parts(boxes1: Tensor, boxes2: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    iou = box_iou(boxes1, boxes2)
    lti = rustdl.minimum(boxes1[:, None, :2], boxes2[None, :, :2])
    rbi = rustdl.maximum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    whi = _float((rbi - lti).clamp(min=0))
    diag = whi[..., 0] ** 2 + whi[..., 1] ** 2 + eps
    x1, y1, x2, y2 = _cols(_float(boxes1))
    u1, v1, u2, v2 = _cols(_float(boxes2))
    cx1, cy1 = (x1 + x2) / 2, (y1 + y2) / 2
    cx2, cy2 = (u1 + u2) / 2, (v1 + v2) / 2
    centre = (cx1[:, None] - cx2[None, :]) ** 2 + (cy1[:, None] - cy2[None, :]) ** 2
    return iou - centre / diag, iou


def distance_box_iou(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-7) -> Tensor:
    """Distance IoU of every pair: ``IoU - d² / c²`` (``d`` the distance between the centres,
    ``c`` the diagonal of the enclosing box): ``(N, M)``."""
    _check_boxes("distance_box_iou", boxes1)
    _check_boxes("distance_box_iou", boxes2)
    return _diou_parts(boxes1, boxes2, eps)[0]


def complete_box_iou(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-7) -> Tensor:
    """Complete IoU of every pair: distance IoU minus ``alpha * v``, ``v`` the aspect-ratio
    term ``4/π² (atan(w2/h2) - atan(w1/h1))²``: ``(N, M)``."""
    _check_boxes("complete_box_iou", boxes1)
    _check_boxes("complete_box_iou", boxes2)
    diou, iou = _diou_parts(boxes1, boxes2, eps)
    b1, b2 = _float(boxes1), _float(boxes2)
    w1, h1 = b1[:, None, 2] - b1[:, None, 0], b1[:, None, 3] - b1[:, None, 1]
    w2, h2 = b2[None, :, 2] - b2[None, :, 0], b2[None, :, 3] - b2[None, :, 1]
    v = (4 / (np.pi**2)) * (rustdl.atan(w1 / h1) - rustdl.atan(w2 / h2)) ** 2
    with rustdl.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou - alpha * v


_FORMATS = ("xyxy", "xywh", "cxcywh")


def box_convert(boxes: Tensor, in_fmt: str, out_fmt: str) -> Tensor:
    """Converts boxes between ``"xyxy"`` (corners), ``"xywh"`` (corner, width, height) and
    ``"cxcywh"`` (centre, width, height)."""
    _check_boxes("box_convert", boxes)
    if in_fmt not in _FORMATS or out_fmt not in _FORMATS:
        raise ValueError(
            f"Unsupported Bounding Box Conversions for given in_fmt {in_fmt} and out_fmt {out_fmt}"
        )
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = _cols(boxes)
    if in_fmt == "xywh":
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    # now (x1, y1, x2, y2)
    if out_fmt == "xywh":
        out = (a, b, c - a, d - b)
    elif out_fmt == "cxcywh":
        out = ((a + c) / 2, (b + d) / 2, c - a, d - b)
    else:
        out = (a, b, c, d)
    return rustdl.stack(list(out), dim=-1)


def clip_boxes_to_image(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Boxes ``(..., 4)`` in ``(x1, y1, x2, y2)`` form clipped to an image of ``size = (height,
    width)``: x into ``[0, width]``, y into ``[0, height]``."""
    if not isinstance(boxes, Tensor) or boxes.shape[-1] != 4:
        raise ValueError("clip_boxes_to_image: expected boxes of shape (..., 4)")
    height, width = size
    x = boxes[..., 0::2].clamp(min=0, max=width)
    y = boxes[..., 1::2].clamp(min=0, max=height)
    return rustdl.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], dim=-1)


def remove_small_boxes(boxes: Tensor, min_size: float) -> Tensor:
    """The indices (int64) of the boxes whose width and height are both at least ``min_size``."""
    _check_boxes("remove_small_boxes", boxes)
    b = boxes.detach().cpu().numpy()
    keep = np.nonzero(((b[:, 2] - b[:, 0]) >= min_size) & ((b[:, 3] - b[:, 1]) >= min_size))[0]
    return rustdl.tensor(keep.astype(np.int64), device=boxes.device)


def _nms_np(b: np.ndarray, s: np.ndarray, thr: float) -> np.ndarray:
    order = np.argsort(-s, kind="stable")
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    suppressed = np.zeros(len(b), dtype=bool)
    keep = []
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[pos + 1 :]
        rest = rest[~suppressed[rest]]
        if rest.size == 0:
            continue
        w = np.clip(np.minimum(b[i, 2], b[rest, 2]) - np.maximum(b[i, 0], b[rest, 0]), 0, None)
        h = np.clip(np.minimum(b[i, 3], b[rest, 3]) - np.maximum(b[i, 1], b[rest, 1]), 0, None)
        inter = w * h
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = inter / (area[i] + area[rest] - inter)
        suppressed[rest[iou > thr]] = True
    return np.asarray(keep, dtype=np.int64)


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Non-maximum suppression: repeatedly keeps the highest-scoring box and drops the boxes
    whose IoU with it exceeds ``iou_threshold``. Returns the kept indices (int64), by
    decreasing score."""
    _check_boxes("nms", boxes)
    if scores.ndim != 1 or scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"nms: expected scores of shape ({boxes.shape[0]},), got {tuple(scores.shape)}")
    b = boxes.detach().cpu().numpy().astype(np.float64)
    s = scores.detach().cpu().numpy().astype(np.float64)
    return rustdl.tensor(_nms_np(b, s, float(iou_threshold)), device=boxes.device)


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """:func:`nms` within each category ``idxs[i]`` (boxes of different categories never
    suppress each other). Returns the kept indices (int64), by decreasing score."""
    _check_boxes("batched_nms", boxes)
    if boxes.shape[0] == 0:
        return rustdl.tensor(np.zeros(0, np.int64), device=boxes.device)
    b = boxes.detach().cpu().numpy().astype(np.float64)
    s = scores.detach().cpu().numpy().astype(np.float64)
    cats = idxs.detach().cpu().numpy()
    keep = []
    for c in np.unique(cats):
        where = np.nonzero(cats == c)[0]
        keep.append(where[_nms_np(b[where], s[where], float(iou_threshold))])
    kept = np.concatenate(keep)
    kept = kept[np.argsort(-s[kept], kind="stable")]
    return rustdl.tensor(kept.astype(np.int64), device=boxes.device)


def masks_to_boxes(masks: Tensor) -> Tensor:
    """The ``(x1, y1, x2, y2)`` box around the non-zero pixels of each of ``(N, H, W)`` masks
    (float, inclusive pixel coordinates as torchvision's)."""
    if masks.numel() == 0:
        return rustdl.zeros((0, 4), device=masks.device)
    m = masks.detach().cpu().numpy()
    out = np.zeros((m.shape[0], 4), dtype=np.float32)
    for i, mask in enumerate(m):
        y, x = np.nonzero(mask)
        if x.size:
            out[i] = (x.min(), y.min(), x.max(), y.max())
    return rustdl.tensor(out, device=masks.device)


def sigmoid_focal_loss(
    inputs: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2, reduction: str = "none"
) -> Tensor:
    """The focal loss of RetinaNet on logits ``inputs`` and binary ``targets``:
    ``alpha_t * (1 - p_t)**gamma * BCE(inputs, targets)``, ``p_t`` the probability of the
    true class; ``alpha < 0`` skips the weighting. ``reduction``: ``"none"``, ``"mean"``, ``"sum"``."""
    p = rustdl.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(
        f"Invalid Value for arg 'reduction': '{reduction} \n Supported reduction modes: 'none', 'mean', 'sum'"
    )


def __getattr__(name: str):
    raise AttributeError(
        f"module 'torchvision.ops' has no attribute '{name}': rustdl's torchvision shim does not "
        f"support torchvision.ops.{name} yet (it has {', '.join(__all__)})"
    )
