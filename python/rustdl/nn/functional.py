"""Functional neural-network ops, as ``torch.nn.functional``; each is one call into Rust."""

from __future__ import annotations

from .. import _rustdl
from .._rustdl import (  # noqa: F401
    adaptive_avg_pool2d,
    avg_pool2d,
    batch_norm,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    conv2d,
    conv_transpose2d,
    cross_entropy,
    elu,
    embedding,
    gelu,
    group_norm,
    huber_loss,
    kl_div,
    l1_loss,
    layer_norm,
    leaky_relu,
    linear,
    max_pool2d,
    mse_loss,
    nll_loss,
    silu,
    smooth_l1_loss,
    softplus,
)


def relu(input, inplace: bool = False):
    """Rectified linear unit, ``max(x, 0)``."""
    return input.relu()


def sigmoid(input):
    """Logistic sigmoid."""
    return input.sigmoid()


def tanh(input):
    """Hyperbolic tangent."""
    return input.tanh()


def softmax(input, dim: int = -1):
    """Softmax along ``dim``."""
    return input.softmax(dim)


def log_softmax(input, dim: int = -1):
    """Log-softmax along ``dim``, computed stably."""
    return input.log_softmax(dim)


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zeroes elements with probability ``p`` and scales the rest by ``1/(1-p)`` when training."""
    return _rustdl.dropout(input, p, training)


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zeroes whole channels of an ``(N, C, H, W)`` input with probability ``p`` when training."""
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-D or 4-D input, got shape {tuple(input.shape)}")
    shape = list(input.shape[:-2]) + [1, 1]
    return _rustdl.dropout(input, p, training, shape)


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None):
    """Resizes the spatial dims of an ``(N, C, H, W)`` input (``nearest`` or ``bilinear``)."""
    if input.ndim != 4:
        raise ValueError(f"interpolate: expected a 4-D input (N, C, H, W), got shape {tuple(input.shape)}")
    h, w = input.shape[2], input.shape[3]
    if size is not None:
        size = (size, size) if isinstance(size, int) else tuple(size)
    elif scale_factor is not None:
        sf = (scale_factor, scale_factor) if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
        size = (int(h * sf[0]), int(w * sf[1]))
    else:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    return _rustdl.interpolate_size(input, size, mode, bool(align_corners))


def one_hot(tensor, num_classes: int = -1):
    """``(…,)`` int64 class indices to ``(…, num_classes)`` int64 one-hot rows."""
    from .. import arange

    if num_classes < 0:
        num_classes = int(tensor.max().item()) + 1
    classes = arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).long()


def pad(input, pad, mode: str = "constant", value: float = 0.0):
    """Pads the last dims by ``pad = (left, right, top, bottom, ...)`` with a constant."""
    from .. import full

    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got '{mode}'")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: padding {pad} does not fit an input of shape {tuple(input.shape)}")
    out = input
    for i in range(len(pad) // 2):
        dim = input.ndim - 1 - i
        left, right = pad[2 * i], pad[2 * i + 1]
        parts = []
        if left:
            s = list(out.shape)
            s[dim] = left
            parts.append(full(s, value, dtype=out.dtype, device=out.device))
        parts.append(out)
        if right:
            s = list(out.shape)
            s[dim] = right
            parts.append(full(s, value, dtype=out.dtype, device=out.device))
        if len(parts) > 1:
            from .. import cat

            out = cat(parts, dim)
    return out
