"""``torchvision.ops`` for rustdl: box utilities (``box_area``, ``box_iou``, ``generalized_box_iou``,
``distance_box_iou``, ``complete_box_iou``, ``box_convert``, ``clip_boxes_to_image``,
``remove_small_boxes``, ``masks_to_boxes``), non-maximum suppression (``nms``, ``batched_nms``),
region pooling (``roi_align``, ``roi_pool``), the paired-box losses (``generalized_box_iou_loss``,
``distance_box_iou_loss``, ``complete_box_iou_loss``), ``sigmoid_focal_loss``,
``stochastic_depth``, ``drop_block2d`` / ``drop_block3d``, and the layers of ``torchvision.ops.misc``
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
    "DropBlock2d",
    "DropBlock3d",
    "ExtraFPNBlock",
    "FeaturePyramidNetwork",
    "LastLevelMaxPool",
    "LastLevelP6P7",
    "MultiScaleRoIAlign",
    "RoIAlign",
    "RoIPool",
    "batched_nms",
    "box_area",
    "box_convert",
    "box_iou",
    "clip_boxes_to_image",
    "complete_box_iou",
    "complete_box_iou_loss",
    "distance_box_iou",
    "distance_box_iou_loss",
    "drop_block2d",
    "drop_block3d",
    "generalized_box_iou",
    "generalized_box_iou_loss",
    "masks_to_boxes",
    "nms",
    "remove_small_boxes",
    "roi_align",
    "roi_pool",
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


# ------------------------------------------------------------------------------------------
# losses of paired boxes (element i of boxes1 against element i of boxes2)
# ------------------------------------------------------------------------------------------


def _reduce(op: str, loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(
        f"{op}: Invalid Value for arg 'reduction': '{reduction}'; supported: 'none', 'mean', 'sum'"
    )


def _paired(op: str, boxes1: Any, boxes2: Any, eps: float) -> dict[str, Tensor]:
    """The pairwise quantities of the IoU losses, box i of ``boxes1`` against box i of ``boxes2``
    (``(..., 4)`` tensors, broadcast)."""
    for b in (boxes1, boxes2):
        if not isinstance(b, Tensor) or b.shape[-1:] != (4,):
            raise ValueError(
                f"{op}: expected boxes of shape (..., 4), got {getattr(b, 'shape', type(b).__name__)}"
            )
    b1, b2 = _float(boxes1), _float(boxes2)
    x1, y1, x2, y2 = b1.unbind(-1)
    u1, v1, u2, v2 = b2.unbind(-1)
    iw = (rustdl.minimum(x2, u2) - rustdl.maximum(x1, u1)).clamp(min=0)
    ih = (rustdl.minimum(y2, v2) - rustdl.maximum(y1, v1)).clamp(min=0)
    inter = iw * ih
    union = (x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter
    iou = inter / (union + eps)
    # the smallest box enclosing both
    cw = rustdl.maximum(x2, u2) - rustdl.minimum(x1, u1)
    ch = rustdl.maximum(y2, v2) - rustdl.minimum(y1, v1)
    centre = ((x1 + x2) - (u1 + u2)) ** 2 / 4 + ((y1 + y2) - (v1 + v2)) ** 2 / 4
    return {
        "iou": iou, "union": union, "enclosing": cw * ch, "diag": cw**2 + ch**2 + eps, "centre": centre,
        "w1": x2 - x1, "h1": y2 - y1, "w2": u2 - u1, "h2": v2 - v1,
    }  # fmt: skip


def generalized_box_iou_loss(
    boxes1: Tensor, boxes2: Tensor, reduction: str = "none", eps: float = 1e-7
) -> Tensor:
    """``1 - GIoU`` of each pair of boxes (``(x1, y1, x2, y2)``, matched by position), as
    ``torchvision.ops.generalized_box_iou_loss``: 0 for identical boxes, up to 2."""
    q = _paired("generalized_box_iou_loss", boxes1, boxes2, eps)
    giou = q["iou"] - (q["enclosing"] - q["union"]) / (q["enclosing"] + eps)
    return _reduce("generalized_box_iou_loss", 1 - giou, reduction)


def distance_box_iou_loss(
    boxes1: Tensor, boxes2: Tensor, reduction: str = "none", eps: float = 1e-7
) -> Tensor:
    """``1 - IoU + d²/c²`` of each pair of boxes (``d`` the distance between the centres, ``c``
    the diagonal of the enclosing box), as ``torchvision.ops.distance_box_iou_loss``."""
    q = _paired("distance_box_iou_loss", boxes1, boxes2, eps)
    return _reduce("distance_box_iou_loss", 1 - q["iou"] + q["centre"] / q["diag"], reduction)


def complete_box_iou_loss(
    boxes1: Tensor, boxes2: Tensor, reduction: str = "none", eps: float = 1e-7
) -> Tensor:
    """The distance-IoU loss plus ``alpha * v``, ``v`` the aspect-ratio term
    ``4/π² (atan(w2/h2) - atan(w1/h1))²`` and ``alpha = v / (1 - IoU + v)`` (not differentiated),
    as ``torchvision.ops.complete_box_iou_loss``."""
    q = _paired("complete_box_iou_loss", boxes1, boxes2, eps)
    v = (4 / (np.pi**2)) * (rustdl.atan(q["w2"] / q["h2"]) - rustdl.atan(q["w1"] / q["h1"])) ** 2
    with rustdl.no_grad():
        alpha = v / (1 - q["iou"] + v + eps)
    loss = 1 - q["iou"] + q["centre"] / q["diag"] + alpha * v
    return _reduce("complete_box_iou_loss", loss, reduction)


# ------------------------------------------------------------------------------------------
# region-of-interest pooling
# ------------------------------------------------------------------------------------------


def _rois(op: str, input: Any, boxes: Any) -> np.ndarray:  # noqa: A002
    """``boxes`` as a ``(K, 5)`` float64 array of ``(batch index, x1, y1, x2, y2)``: given so, or
    as a list with one ``(L, 4)`` tensor per image."""
    if not isinstance(input, Tensor) or input.ndim != 4:
        raise ValueError(
            f"{op}: expected input of shape (N, C, H, W), got {getattr(input, 'shape', type(input).__name__)}"
        )
    if isinstance(boxes, (list, tuple)):
        parts = []
        for i, b in enumerate(boxes):
            if not isinstance(b, Tensor) or b.ndim != 2 or b.shape[1] != 4:
                raise ValueError(
                    f"{op}: expected each element of boxes to be a (L, 4) tensor, got {getattr(b, 'shape', b)}"
                )
            a = b.detach().cpu().numpy().astype(np.float64)
            parts.append(np.concatenate([np.full((len(a), 1), float(i)), a], axis=1))
        rois = np.concatenate(parts, axis=0) if parts else np.zeros((0, 5))
    elif isinstance(boxes, Tensor):
        if boxes.ndim != 2 or boxes.shape[1] != 5:
            raise ValueError(f"{op}: expected boxes of shape (K, 5), got {tuple(boxes.shape)}")
        rois = boxes.detach().cpu().numpy().astype(np.float64)
    else:
        raise TypeError(
            f"{op}: expected boxes to be a Tensor or a list of Tensors, got {type(boxes).__name__}"
        )
    if not np.isfinite(rois).all():
        raise ValueError(f"{op}: boxes must be finite")
    if (
        len(rois)
        and not (
            (rois[:, 0] >= 0) & (rois[:, 0] < input.shape[0]) & (rois[:, 0] == np.round(rois[:, 0]))
        ).all()
    ):
        raise IndexError(f"{op}: a box's batch index is not an image of the batch of {input.shape[0]}")
    return rois


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, float)) else (int(v[0]), int(v[1]))


def roi_align(
    input: Tensor,  # noqa: A002
    boxes: Any,
    output_size: Any,
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> Tensor:
    """RoI Align (Mask R-CNN), as ``torchvision.ops.roi_align``: each box (in input coordinates
    times ``spatial_scale``; half a pixel earlier with ``aligned``) is divided into
    ``output_size`` bins, and each bin is the average of ``sampling_ratio``² bilinear samples
    (``ceil(box size / bins)`` per side when ``sampling_ratio <= 0``). Returns
    ``(K, C, *output_size)``, differentiable in ``input``."""
    op = "roi_align"
    rois = _rois(op, input, boxes)
    ph, pw = _pair(output_size)
    n, c, h, w = input.shape
    if ph <= 0 or pw <= 0:
        raise ValueError(f"{op}: output_size must be positive, got {(ph, pw)}")
    k = len(rois)
    if k == 0 or h == 0 or w == 0:
        return rustdl.zeros(k, c, ph, pw, dtype=input.dtype, device=input.device) + 0 * input.sum()
    off = 0.5 if aligned else 0.0
    start = rois[:, 1:3] * spatial_scale - off  # x, y
    size = rois[:, 3:5] * spatial_scale - off - start
    if not aligned:
        size = np.maximum(size, 1.0)
    binw, binh = size[:, 0] / pw, size[:, 1] / ph
    if sampling_ratio > 0:
        gw = gh = np.full(k, int(sampling_ratio))
    else:
        gw, gh = np.ceil(size[:, 0] / pw).astype(int), np.ceil(size[:, 1] / ph).astype(int)
    gw, gh = np.maximum(gw, 1), np.maximum(gh, 1)
    out = [None] * k
    # boxes of one image sampled on grids of one size go through one grid_sample
    groups: dict[tuple[int, int, int], list[int]] = {}
    for r in range(k):
        groups.setdefault((int(rois[r, 0]), int(gh[r]), int(gw[r])), []).append(r)
    for (b, sh, sw), idx in groups.items():
        ii = np.array(idx)
        fy = (np.arange(ph)[:, None] + (np.arange(sh)[None, :] + 0.5) / sh).reshape(-1)
        fx = (np.arange(pw)[:, None] + (np.arange(sw)[None, :] + 0.5) / sw).reshape(-1)
        ys = start[ii, 1][:, None] + fy[None, :] * binh[ii][:, None]  # (R, ph*sh)
        xs = start[ii, 0][:, None] + fx[None, :] * binw[ii][:, None]  # (R, pw*sw)
        # samples beyond a pixel outside the image are 0; those within it read the border
        valid = ((ys >= -1) & (ys <= h))[:, :, None] & ((xs >= -1) & (xs <= w))[:, None, :]
        gy = 2 * np.clip(ys, 0, h - 1) / max(h - 1, 1) - 1
        gx = 2 * np.clip(xs, 0, w - 1) / max(w - 1, 1) - 1
        grid = np.stack(np.broadcast_arrays(gx[:, None, :], gy[:, :, None]), axis=-1)  # (R, ph*sh, pw*sw, 2)
        grid = grid.reshape(1, len(idx) * ph * sh, pw * sw, 2)
        g = rustdl.tensor(grid, dtype=input.dtype, device=input.device)
        samples = F.grid_sample(
            input[b : b + 1], g, mode="bilinear", padding_mode="border", align_corners=True
        )
        samples = samples.reshape(c, len(idx), ph * sh, pw * sw).transpose(0, 1)
        samples = (
            samples * rustdl.tensor(valid.astype(np.float64), dtype=input.dtype, device=input.device)[:, None]
        )
        pooled = F.avg_pool2d(samples, (sh, sw))
        for j, r in enumerate(idx):
            out[r] = pooled[j]
    return rustdl.stack(out)


def roi_pool(input: Tensor, boxes: Any, output_size: Any, spatial_scale: float = 1.0) -> Tensor:  # noqa: A002
    """RoI max pooling (Fast R-CNN), as ``torchvision.ops.roi_pool``: each box, rounded to whole
    pixels after scaling by ``spatial_scale``, is divided into ``output_size`` bins and each bin
    is the maximum of its pixels (0 for a bin with none). Returns ``(K, C, *output_size)``,
    differentiable in ``input``."""
    op = "roi_pool"
    rois = _rois(op, input, boxes)
    ph, pw = _pair(output_size)
    n, c, h, w = input.shape
    if ph <= 0 or pw <= 0:
        raise ValueError(f"{op}: output_size must be positive, got {(ph, pw)}")

    def round_half_away(v):
        return np.sign(v) * np.floor(np.abs(v) + 0.5)

    out = []
    for roi in rois:
        b = int(roi[0])
        x1, y1, x2, y2 = (int(v) for v in round_half_away(roi[1:] * spatial_scale))
        rh, rw = max(y2 - y1 + 1, 1), max(x2 - x1 + 1, 1)

        def bins(n_bins, extent, first, limit):
            lo = np.floor(np.arange(n_bins) * extent / n_bins).astype(int) + first
            hi = np.ceil((np.arange(n_bins) + 1) * extent / n_bins).astype(int) + first
            return np.clip(lo, 0, limit), np.clip(hi, 0, limit)

        hs, he = bins(ph, rh, y1, h)
        ws, we = bins(pw, rw, x1, w)
        r0, r1, c0, c1 = int(hs.min()), int(he.max()), int(ws.min()), int(we.max())
        if r1 <= r0 or c1 <= c0:
            out.append(rustdl.zeros(c, ph, pw, dtype=input.dtype, device=input.device) + 0 * input.sum())
            continue
        crop = input[b, :, r0:r1, c0:c1]  # (C, Hc, Wc)
        rows = np.arange(r0, r1)
        cols = np.arange(c0, c1)
        mh = rustdl.tensor(
            (rows[None, :] >= hs[:, None]) & (rows[None, :] < he[:, None]), device=input.device
        )
        mw = rustdl.tensor(
            (cols[None, :] >= ws[:, None]) & (cols[None, :] < we[:, None]), device=input.device
        )
        low = rustdl.tensor(float("-inf"), dtype=input.dtype, device=input.device)
        per_row = rustdl.where(mh[None, :, :, None], crop[:, None], low).amax(2)  # (C, ph, Wc)
        pooled = rustdl.where(mw[None, None], per_row[:, :, None, :], low).amax(-1)  # (C, ph, pw)
        empty = rustdl.tensor(((he <= hs)[:, None] | (we <= ws)[None, :]), device=input.device)
        out.append(rustdl.where(empty, rustdl.zeros((), dtype=input.dtype, device=input.device), pooled))
    if not out:
        return rustdl.zeros(0, c, ph, pw, dtype=input.dtype, device=input.device)
    return rustdl.stack(out)


class RoIAlign(rustdl.nn.Module):
    """Module form of :func:`roi_align`."""

    def __init__(
        self, output_size: Any, spatial_scale: float, sampling_ratio: int, aligned: bool = False
    ) -> None:
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def forward(self, input: Tensor, rois: Any) -> Tensor:  # noqa: A002
        return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
            f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned})"
        )


class RoIPool(rustdl.nn.Module):
    """Module form of :func:`roi_pool`."""

    def __init__(self, output_size: Any, spatial_scale: float) -> None:
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale

    def forward(self, input: Tensor, rois: Any) -> Tensor:  # noqa: A002
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(output_size={self.output_size}, spatial_scale={self.spatial_scale})"


# ------------------------------------------------------------------------------------------
# DropBlock (dropping square blocks of a feature map)
# ------------------------------------------------------------------------------------------


def _drop_block(
    op: str, input: Tensor, p: float, block_size: int, inplace: bool, eps: float, training: bool, nd: int
) -> Tensor:  # noqa: A002
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: drop probability has to be between 0 and 1, but got {p}")
    if not isinstance(input, Tensor) or input.ndim != nd + 2:
        raise ValueError(
            f"{op}: input should be {nd + 2} dimensional, got {getattr(input, 'shape', type(input).__name__)}"
        )
    if not training or p == 0.0:
        return input
    spatial = tuple(input.shape[2:])
    bs = min(int(block_size), *spatial)
    if bs % 2 == 0:
        raise ValueError(f"{op}: block size should be odd. Got {bs} which is even.")
    valid = [s - bs + 1 for s in spatial]
    gamma = p * float(np.prod(spatial)) / (bs**nd * float(np.prod(valid)))
    noise = rustdl.empty(*input.shape[:2], *valid, dtype=input.dtype, device=input.device).bernoulli_(gamma)
    pad = []
    for _ in range(nd):
        pad += [bs // 2, bs // 2]
    noise = F.pad(noise, pad, value=0.0)
    pool = F.max_pool2d if nd == 2 else F.max_pool3d
    noise = pool(noise, kernel_size=bs, stride=1, padding=bs // 2)
    keep = 1 - noise
    scale = keep.numel() / (eps + keep.sum())
    if inplace:
        return input.mul_(keep).mul_(scale)
    return input * keep * scale


def drop_block2d(
    input: Tensor, p: float, block_size: int, inplace: bool = False, eps: float = 1e-06, training: bool = True
) -> Tensor:  # noqa: A002
    """DropBlock on ``(N, C, H, W)``: zeroes ``block_size``² squares around random centres so that
    about a fraction ``p`` of the map is dropped, and rescales the rest, as
    ``torchvision.ops.drop_block2d``. The input itself when not ``training`` or ``p == 0``."""
    return _drop_block("drop_block2d", input, p, block_size, inplace, eps, training, 2)


def drop_block3d(
    input: Tensor, p: float, block_size: int, inplace: bool = False, eps: float = 1e-06, training: bool = True
) -> Tensor:  # noqa: A002
    """DropBlock on ``(N, C, D, H, W)`` (cubes), as ``torchvision.ops.drop_block3d``."""
    return _drop_block("drop_block3d", input, p, block_size, inplace, eps, training, 3)


class DropBlock2d(rustdl.nn.Module):
    """Module form of :func:`drop_block2d` (active in training mode)."""

    def __init__(self, p: float, block_size: int, inplace: bool = False, eps: float = 1e-06) -> None:
        super().__init__()
        self.p, self.block_size, self.inplace, self.eps = p, block_size, inplace, eps

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return drop_block2d(input, self.p, self.block_size, self.inplace, self.eps, self.training)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p}, block_size={self.block_size}, inplace={self.inplace})"


class DropBlock3d(DropBlock2d):
    """Module form of :func:`drop_block3d` (active in training mode)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return drop_block3d(input, self.p, self.block_size, self.inplace, self.eps, self.training)


# ------------------------------------------------------------------------------------------
# feature pyramids and pooling over them (detection heads)
# ------------------------------------------------------------------------------------------


class ExtraFPNBlock(rustdl.nn.Module):
    """Base of the extra levels a :class:`FeaturePyramidNetwork` appends: ``forward(results, x,
    names)`` takes the pyramid's maps, the input maps and the names, and returns the maps and
    names with its levels added."""

    def forward(self, results: list, x: list, names: list) -> tuple[list, list]:  # noqa: D102
        raise NotImplementedError


class LastLevelMaxPool(ExtraFPNBlock):
    """Appends ``pool``: the last map subsampled by 2 (a 1×1 max pooling with stride 2)."""

    def forward(self, results: list, x: list, names: list) -> tuple[list, list]:
        names.append("pool")
        results.append(F.max_pool2d(results[-1], kernel_size=1, stride=2, padding=0))
        return results, names


def _kaiming_a1(conv: Any) -> None:
    rustdl.nn.init.kaiming_uniform_(conv.weight, a=1)
    if conv.bias is not None:
        rustdl.nn.init.constant_(conv.bias, 0)


class LastLevelP6P7(ExtraFPNBlock):
    """Appends ``p6`` (a stride-2 3×3 conv of P5, or of C5 when the channel counts differ) and
    ``p7`` (the same on ReLU(P6)), as RetinaNet."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.p6 = rustdl.nn.Conv2d(in_channels, out_channels, 3, 2, 1)
        self.p7 = rustdl.nn.Conv2d(out_channels, out_channels, 3, 2, 1)
        _kaiming_a1(self.p6)
        _kaiming_a1(self.p7)
        self.use_P5 = in_channels == out_channels

    def forward(self, results: list, x: list, names: list) -> tuple[list, list]:
        p6 = self.p6(results[-1] if self.use_P5 else x[-1])
        p7 = self.p7(F.relu(p6))
        results.extend([p6, p7])
        names.extend(["p6", "p7"])
        return results, names


class FeaturePyramidNetwork(rustdl.nn.Module):
    """A feature pyramid (Lin et al., 2017) over maps given in increasing depth, as
    ``torchvision.ops.FeaturePyramidNetwork``: a 1×1 conv brings each map to ``out_channels``
    (``inner_blocks``), each is summed with the nearest-upsampled level above it, and a 3×3
    conv (``layer_blocks``) smooths the sum. Takes and returns an ordered dict of maps (highest
    resolution first); ``extra_blocks`` may append levels (:class:`LastLevelMaxPool`). Parameter
    names and initialisation (Kaiming uniform with ``a=1``, zero biases) are torchvision's, so its
    checkpoints load."""

    def __init__(
        self,
        in_channels_list: list[int],
        out_channels: int,
        extra_blocks: ExtraFPNBlock | None = None,
        norm_layer: Any = None,
    ) -> None:
        super().__init__()
        self.inner_blocks = rustdl.nn.ModuleList()
        self.layer_blocks = rustdl.nn.ModuleList()
        for in_channels in in_channels_list:
            if in_channels == 0:
                raise ValueError("FeaturePyramidNetwork: in_channels=0 is not supported")
            self.inner_blocks.append(
                Conv2dNormActivation(
                    in_channels, out_channels, 1, padding=0, norm_layer=norm_layer, activation_layer=None
                )
            )
            self.layer_blocks.append(
                Conv2dNormActivation(
                    out_channels, out_channels, 3, norm_layer=norm_layer, activation_layer=None
                )
            )
        for m in self.modules():
            if isinstance(m, rustdl.nn.Conv2d):
                _kaiming_a1(m)
        if extra_blocks is not None and not isinstance(extra_blocks, ExtraFPNBlock):
            raise TypeError(f"extra_blocks should be of type ExtraFPNBlock not {type(extra_blocks)}")
        self.extra_blocks = extra_blocks

    def forward(self, x: dict) -> dict:
        import collections

        names = list(x.keys())
        maps = list(x.values())
        if len(maps) != len(self.inner_blocks):
            raise ValueError(
                f"FeaturePyramidNetwork: expected {len(self.inner_blocks)} feature maps, got {len(maps)}"
            )
        last_inner = self.inner_blocks[-1](maps[-1])
        results = [self.layer_blocks[-1](last_inner)]
        for idx in range(len(maps) - 2, -1, -1):
            lateral = self.inner_blocks[idx](maps[idx])
            top_down = F.interpolate(last_inner, size=tuple(lateral.shape[-2:]), mode="nearest")
            last_inner = lateral + top_down
            results.insert(0, self.layer_blocks[idx](last_inner))
        if self.extra_blocks is not None:
            results, names = self.extra_blocks(results, maps, names)
        return collections.OrderedDict(zip(names, results))


class MultiScaleRoIAlign(rustdl.nn.Module):
    """RoI Align over a feature pyramid, as ``torchvision.ops.MultiScaleRoIAlign``: each box is
    pooled from the level ``floor(canonical_level + log2(√area / canonical_scale))`` (clamped to
    the levels present), each level's scale being the power of two nearest its size over the
    largest image's. ``forward(x, boxes, image_shapes)`` takes the ordered dict of maps (those
    named in ``featmap_names`` are used), one ``(L, 4)`` box tensor per image (image
    coordinates) and the images' ``(height, width)``; returns ``(K, C, *output_size)``."""

    def __init__(
        self,
        featmap_names: list[str],
        output_size: Any,
        sampling_ratio: int,
        *,
        canonical_scale: int = 224,
        canonical_level: int = 4,
    ) -> None:
        super().__init__()
        self.featmap_names = list(featmap_names)
        self.output_size = _pair(output_size)
        self.sampling_ratio = sampling_ratio
        self.canonical_scale = canonical_scale
        self.canonical_level = canonical_level

    def _scales(self, maps: list, image_shapes: list) -> tuple[list[float], int, int]:
        if not image_shapes:
            raise ValueError("MultiScaleRoIAlign: images list should not be empty")
        top = max(int(s[0]) for s in image_shapes)
        scales = []
        for m in maps:
            approx = np.float32(float(m.shape[-2]) / float(top))
            scales.append(float(2 ** float(np.round(np.log2(approx)))))
        lvl_min = int(-np.log2(np.float32(scales[0])))
        lvl_max = int(-np.log2(np.float32(scales[-1])))
        return scales, lvl_min, lvl_max

    def forward(self, x: dict, boxes: list, image_shapes: list) -> Tensor:
        maps = [v for k, v in x.items() if k in self.featmap_names]
        if not maps:
            raise ValueError(
                f"MultiScaleRoIAlign: none of the feature maps {self.featmap_names} is in the input"
            )
        if not isinstance(boxes, (list, tuple)) or not all(isinstance(b, Tensor) for b in boxes):
            raise TypeError("MultiScaleRoIAlign: boxes must be a list of (L, 4) tensors, one per image")
        scales, lvl_min, lvl_max = self._scales(maps, image_shapes)
        if len(maps) == 1:
            return roi_align(maps[0], list(boxes), self.output_size, scales[0], self.sampling_ratio)
        allb = rustdl.cat(list(boxes), 0) if boxes else rustdl.zeros(0, 4)
        s = box_area(allb).sqrt()
        eps = rustdl.tensor(1e-6, dtype=s.dtype, device=s.device)
        target = (self.canonical_level + (s / self.canonical_scale).log2() + eps).floor()
        levels = (target.clamp(min=lvl_min, max=lvl_max).to(rustdl.int64) - lvl_min).cpu().numpy()
        image_of = np.concatenate([np.full(len(b), i) for i, b in enumerate(boxes)]) if boxes else np.zeros(0)
        rois = rustdl.cat([rustdl.tensor(image_of, dtype=allb.dtype, device=allb.device)[:, None], allb], 1)
        c = maps[0].shape[1]
        out = rustdl.zeros(len(allb), c, *self.output_size, dtype=maps[0].dtype, device=maps[0].device)
        for level, (m, scale) in enumerate(zip(maps, scales)):
            idx = np.nonzero(levels == level)[0]
            if len(idx) == 0:
                continue
            sel = rustdl.tensor(idx, dtype=rustdl.int64, device=allb.device)
            pooled = roi_align(m, rois.index_select(0, sel), self.output_size, scale, self.sampling_ratio)
            out = out.index_copy(0, sel, pooled.to(out.dtype))
        return out

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(featmap_names={self.featmap_names}, "
            f"output_size={self.output_size}, sampling_ratio={self.sampling_ratio})"
        )


def __getattr__(name: str):
    from .. import _shim_submodule

    sub = _shim_submodule("torchvision.ops", name)  # torchvision.ops.boxes, as torchvision
    if sub is not None:
        return sub
    raise AttributeError(
        f"module 'torchvision.ops' has no attribute '{name}': rustdl's torchvision shim does not "
        f"support torchvision.ops.{name} yet (it has {', '.join(__all__)})"
    )
