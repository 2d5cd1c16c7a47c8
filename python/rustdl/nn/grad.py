"""``torch.nn.grad``: the gradients of a convolution with respect to its input and its weight,
given the gradient of its output (``conv2d_input``, ``conv2d_weight`` and the 1-d and 3-d forms).

Each differentiates the convolution itself through autograd, so stride, padding, dilation and
groups mean what they mean for ``F.conv*d``, and the result is differentiable again when
``grad_output`` (or the given operand) requires grad.
"""

from __future__ import annotations

import rustdl

from .._rustdl import Tensor
from . import functional as F

__all__ = [
    "conv1d_input",
    "conv1d_weight",
    "conv2d_input",
    "conv2d_weight",
    "conv3d_input",
    "conv3d_weight",
]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _size(op: str, size, rank: int, what: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in size)
    except TypeError:
        raise TypeError(f"nn.grad.{op}: {what} must be a sequence of ints, got {size!r}") from None
    if len(shape) != rank + 2:
        raise ValueError(f"nn.grad.{op}: {what} must have {rank + 2} entries (N, C, spatial...), got {shape}")
    return shape


def _grad_of(op, rank, wrt_input, size, other, grad_output, stride, padding, dilation, groups):
    if not isinstance(other, Tensor) or not isinstance(grad_output, Tensor):
        raise TypeError(f"nn.grad.{op}: expected tensors for the operand and grad_output")
    shape = _size(op, size, rank, "input_size" if wrt_input else "weight_size")
    leaf = rustdl.zeros(*shape, dtype=other.dtype, device=other.device).requires_grad_()
    x, w = (leaf, other) if wrt_input else (other, leaf)
    out = _CONV[rank](x, w, None, stride, padding, dilation, groups)
    if tuple(out.shape) != tuple(grad_output.shape):
        raise ValueError(
            f"nn.grad.{op}: grad_output has shape {tuple(grad_output.shape)} but the convolution "
            f"of input {tuple(x.shape)} with weight {tuple(w.shape)} gives {tuple(out.shape)}"
        )
    create = grad_output.requires_grad or other.requires_grad
    with rustdl.enable_grad():
        (g,) = rustdl.autograd.grad(out, leaf, grad_output, create_graph=create)
    return g


def _pair_fns(rank: int):
    def conv_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
        args = (input_size, weight, grad_output, stride, padding, dilation, groups)
        return _grad_of(f"conv{rank}d_input", rank, True, *args)

    def conv_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
        args = (weight_size, input, grad_output, stride, padding, dilation, groups)
        return _grad_of(f"conv{rank}d_weight", rank, False, *args)

    conv_input.__name__ = conv_input.__qualname__ = f"conv{rank}d_input"
    conv_weight.__name__ = conv_weight.__qualname__ = f"conv{rank}d_weight"
    conv_input.__doc__ = (
        f"The gradient of ``conv{rank}d(input, weight)`` with respect to an input of shape "
        "``input_size``, given ``grad_output``."
    )
    conv_weight.__doc__ = (
        f"The gradient of ``conv{rank}d(input, weight)`` with respect to a weight of shape "
        "``weight_size``, given ``grad_output``."
    )
    return conv_input, conv_weight


conv1d_input, conv1d_weight = _pair_fns(1)
conv2d_input, conv2d_weight = _pair_fns(2)
conv3d_input, conv3d_weight = _pair_fns(3)
