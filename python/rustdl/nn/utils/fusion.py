"""Folding an eval-mode BatchNorm into the convolution or linear layer before it, as
``torch.nn.utils.fusion``: one layer computing ``bn(conv(x))``."""

from __future__ import annotations

import copy
from typing import Any

from ... import _rustdl
from ..._rustdl import Tensor
from ...autograd import no_grad
from ..parameter import Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]


def fuse_conv_bn_weights(
    conv_w: Tensor,
    conv_b: Tensor | None,
    bn_rm: Tensor,
    bn_rv: Tensor,
    bn_eps: float,
    bn_w: Tensor | None,
    bn_b: Tensor | None,
    transpose: bool = False,
) -> tuple[Parameter, Parameter]:
    """The weight and bias of one convolution equal to the convolution ``(conv_w, conv_b)``
    followed by an eval-mode BatchNorm (running mean/var ``bn_rm``/``bn_rv``, ``bn_eps``, affine
    ``bn_w``/``bn_b``; ``None`` means 0 bias / identity scale):
    ``w' = w * bn_w / sqrt(rv + eps)`` per output channel and
    ``b' = (b - rm) * bn_w / sqrt(rv + eps) + bn_b``. ``transpose`` for a ConvTranspose weight
    (output channels on dim 1).

    Returns:
        ``(weight, bias)`` as Parameters that require grad as ``conv_w`` / ``conv_b`` did.
    """
    w_dtype = conv_w.dtype
    b_dtype = conv_b.dtype if conv_b is not None else w_dtype
    b_grad = conv_b.requires_grad if conv_b is not None else False
    with no_grad():
        cb = conv_b.detach() if conv_b is not None else _rustdl.zeros_like(bn_rm)
        bw = bn_w.detach() if bn_w is not None else _rustdl.ones_like(bn_rm)
        bb = bn_b.detach() if bn_b is not None else _rustdl.zeros_like(bn_rm)
        rsqrt = (bn_rv.detach() + bn_eps).rsqrt()
        rest = [1] * (conv_w.ndim - 2)
        shape = [1, -1, *rest] if transpose else [-1, 1, *rest]
        fused_w = (conv_w.detach() * (bw * rsqrt).reshape(shape)).to(w_dtype)
        fused_b = ((cb - bn_rm.detach()) * rsqrt * bw + bb).to(b_dtype)
    return Parameter(fused_w, conv_w.requires_grad), Parameter(fused_b, b_grad)


def fuse_conv_bn_eval(conv: Any, bn: Any, transpose: bool = False) -> Any:
    """A copy of ``conv`` (Conv1d/2d/3d, or ConvTranspose with ``transpose=True``) whose weight
    and bias also apply the eval-mode BatchNorm ``bn`` (see :func:`fuse_conv_bn_weights`);
    ``conv`` and ``bn`` are left unchanged. Both must be in eval mode."""
    if conv.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("fuse_conv_bn_eval: the BatchNorm must track running statistics")
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias, transpose
    )
    return fused


def fuse_linear_bn_weights(
    linear_w: Tensor,
    linear_b: Tensor | None,
    bn_rm: Tensor,
    bn_rv: Tensor,
    bn_eps: float,
    bn_w: Tensor,
    bn_b: Tensor,
) -> tuple[Parameter, Parameter]:
    """As :func:`fuse_conv_bn_weights` for a Linear layer followed by a BatchNorm1d over its
    outputs: ``w' = w * bn_w / sqrt(rv + eps)`` per output row, ``b' = (b - rm) * bn_w /
    sqrt(rv + eps) + bn_b``."""
    b_grad = linear_b.requires_grad if linear_b is not None else False
    with no_grad():
        lb = linear_b.detach() if linear_b is not None else _rustdl.zeros_like(bn_rm)
        scale = bn_w.detach() * (bn_rv.detach() + bn_eps).rsqrt()
        fused_w = linear_w.detach() * scale.unsqueeze(-1)
        fused_b = (lb - bn_rm.detach()) * scale + bn_b.detach()
    return Parameter(fused_w, linear_w.requires_grad), Parameter(fused_b, b_grad)


def fuse_linear_bn_eval(linear: Any, bn: Any) -> Any:
    """A copy of ``linear`` that also applies the eval-mode BatchNorm1d ``bn`` over its outputs
    (see :func:`fuse_linear_bn_weights`). Both must be in eval mode, and ``bn``'s features must
    equal ``linear``'s out_features (or be 1, broadcast)."""
    if linear.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    if not (linear.out_features == bn.num_features or bn.num_features == 1):
        raise AssertionError(
            "To fuse, linear.out_features must equal bn.num_features or bn.num_features must be 1"
        )
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("fuse_linear_bn_eval: the BatchNorm must track running statistics")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
    )
    return fused
