"""Functional neural-network ops, as ``torch.nn.functional``; each is one call into Rust."""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import _recompute, _rustdl
from .._rustdl import (  # noqa: F401
    group_norm,
    layer_norm,
    linear,
    softplus,
)

# ------------------------------------------------------------------ thin fronts of Rust ops
# Each adds what PyTorch accepts on top of the Rust op's (N, C, H, W) contract: an unbatched
# (C, H, W) input, padding='same'/'valid', and the argument checks PyTorch makes.


def _check_pool_nonempty(op: str, input, batched_rank: int) -> None:
    """PyTorch's pooling rule: only the batch dim may be 0 (a ``(C, ...)`` input has none)."""
    if isinstance(input, _rustdl.Tensor) and input.ndim in (batched_rank - 1, batched_rank):
        rest = input.shape[1:] if input.ndim == batched_rank else input.shape
        if any(d == 0 for d in rest):
            raise _rustdl.ShapeError(
                f"{op}: expected input with non-zero size for non-batch dimensions, got shape {tuple(input.shape)}"
            )


def _unbatched(input, fn):
    """``fn`` on a batch of one when ``input`` is a 3-D ``(C, H, W)`` tensor."""
    if isinstance(input, _rustdl.Tensor) and input.ndim == 3:
        out = fn(input.unsqueeze(0))
        if isinstance(out, tuple):
            return tuple(o.squeeze(0) for o in out)
        return out.squeeze(0)
    return fn(input)


def _same_padding(op: str, input, weight, stride, dilation):
    """'same' as symmetric padding (the odd extra on the right, pre-padded as PyTorch)."""
    s = _pair(stride if stride is not None else 1, op, "stride")
    if s != (1, 1):
        raise _rustdl.ArgumentError(
            f"{op}: padding='same' is not supported for strided convolutions, got stride={stride}"
        )
    d = _pair(dilation if dilation is not None else 1, op, "dilation")
    k = tuple(weight.shape[-2:]) if isinstance(weight, _rustdl.Tensor) and weight.ndim == 4 else (1, 1)
    total = [dd * (kk - 1) for dd, kk in zip(d, k)]
    sym = tuple(t // 2 for t in total)
    extra = [t - 2 * (t // 2) for t in total]
    if any(extra):
        input = pad(input, [0, extra[1], 0, extra[0]])
    return input, sym


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """2-D convolution of an ``(N, C_in, H, W)`` or ``(C_in, H, W)`` input with an
    ``(C_out, C_in/groups, kH, kW)`` weight; ``padding`` may be an int, a pair, 'same' or 'valid'."""
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same":
            input, padding = _same_padding_any("conv2d", input, weight, stride, dilation)
        else:
            raise _rustdl.ArgumentError(
                f"conv2d: invalid padding string {padding!r}, should be one of 'valid' or 'same'"
            )
    return _unbatched(input, lambda x: _rustdl.conv2d(x, weight, bias, stride, padding, dilation, groups))


def _same_padding_any(op: str, input, weight, stride, dilation):
    if isinstance(input, _rustdl.Tensor) and input.ndim == 3:
        x, p = _same_padding(op, input.unsqueeze(0), weight, stride, dilation)
        return x.squeeze(0), p
    return _same_padding(op, input, weight, stride, dilation)


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups: int = 1, dilation=1
):
    """Transposed 2-D convolution of an ``(N, C_in, H, W)`` or ``(C_in, H, W)`` input with an
    ``(C_in, C_out/groups, kH, kW)`` weight."""
    return _unbatched(
        input,
        lambda x: _rustdl.conv_transpose2d(
            x, weight, bias, stride, padding, output_padding, groups, dilation
        ),
    )


def max_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Max pooling over an ``(N, C, H, W)`` or ``(C, H, W)`` input (with the argmax indices when
    ``return_indices``). An integer input on the CPU is pooled as float64 (exact up to 2^53)
    and keeps its dtype, as PyTorch pools integers (on the GPU too: pooled on the CPU, exactly)."""
    return_indices = bool(return_indices)  # any truthy value, as PyTorch takes it
    _check_pool_nonempty("max_pool2d", input, 4)
    if isinstance(input, _rustdl.Tensor) and not input.is_floating_point() and input.dtype != _rustdl.bool:
        dev = input.device
        out = max_pool2d(
            input.cpu().double(), kernel_size, stride, padding, dilation, ceil_mode, return_indices
        )
        if return_indices:
            return out[0].to(input.dtype).to(dev), out[1].to(dev)
        return out.to(input.dtype).to(dev)
    return _unbatched(
        input,
        lambda x: _rustdl.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices),
    )


def _int64_avg_pool(pool, input, *args):  # noqa: A002
    """An int64 average pool, as PyTorch's (no other integer dtype is taken): windows averaged
    with truncating division, exact through float64 for sums below 2^53 (float64 on the CPU:
    the GPU has none), returned on the input's device."""
    return pool(input.cpu().double(), *args).trunc().long().to(input.device)


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override=None,
):
    """Average pooling over an ``(N, C, H, W)`` or ``(C, H, W)`` input; ``divisor_override``
    divides each window's sum by that number instead of its size."""
    if isinstance(input, _rustdl.Tensor) and input.dtype == _rustdl.int64:
        return _int64_avg_pool(
            avg_pool2d, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        )
    _check_pool_nonempty("avg_pool2d", input, 4)
    if divisor_override is None:
        return _unbatched(
            input, lambda x: _rustdl.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad)
        )
    if not isinstance(divisor_override, int) or isinstance(divisor_override, bool) or divisor_override == 0:
        raise _rustdl.ArgumentError(
            f"avg_pool2d: divisor_override must be a non-zero int, got {divisor_override!r}"
        )
    kh, kw = _pair(kernel_size, "avg_pool2d", "kernel_size")
    if ceil_mode:
        # windows at the far edge may be cut short: sum each window's elements as the 3-D
        # window path does, over a depth of one
        sh, sw = _pair(stride if stride is not None and stride != [] else (kh, kw), "avg_pool2d", "stride")
        ph, pw = _pair(padding, "avg_pool2d", "padding")
        if not (0 <= ph <= kh // 2 and 0 <= pw <= kw // 2):
            raise _rustdl.ArgumentError(
                f"avg_pool2d: padding {(ph, pw)} should be at most half of kernel size {(kh, kw)}"
            )
        if min(kh, kw, sh, sw) <= 0:
            raise _rustdl.ArgumentError(
                f"avg_pool2d: kernel_size {(kh, kw)} and stride {(sh, sw)} must be positive"
            )
        if input.ndim not in (3, 4):
            raise _rustdl.ArgumentError(
                f"avg_pool2d: expected a 3-D or 4-D input, got shape {tuple(input.shape)}"
            )
        out = _pool3d_windows(
            input.unsqueeze(-3), (1, kh, kw), (1, sh, sw), (0, ph, pw), (1, 1, 1), True, "avg",
            count_include_pad, divisor_override, False, "avg_pool2d",
        )  # fmt: skip
        return out.squeeze(-3)
    mean = _unbatched(input, lambda x: _rustdl.avg_pool2d(x, (kh, kw), stride, padding, False, True))
    return mean * (kh * kw / divisor_override)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling of an ``(N, C, H, W)`` or ``(C, H, W)`` input to ``output_size``."""
    if isinstance(input, _rustdl.Tensor) and input.ndim in (3, 4) and 0 in tuple(input.shape[-2:]):
        raise _rustdl.ArgumentError(
            f"adaptive_avg_pool2d: expected input to have non-zero size for non-batch dimensions, "
            f"got shape {tuple(input.shape)}"
        )
    size = _as_int(output_size)
    if isinstance(size, int):
        size = (size, size)
    elif isinstance(size, (tuple, list)) and len(size) == 2:
        size = tuple(_as_int(v) for v in size)
    else:
        size = ()
    if isinstance(input, _rustdl.Tensor) and input.ndim in (3, 4) and 0 in size:
        # an empty output (PyTorch allows a zero output size), still joined to the input's graph
        oh, ow = (input.shape[-2] if s is None else s for s in size)
        return (input.sum((-2, -1), keepdim=True) * 0).expand(*input.shape[:-2], oh, ow).contiguous()
    return _rustdl.adaptive_avg_pool2d(input, output_size)


def batch_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
):
    """Batch normalization over dim 1 (batch statistics when ``training``, else the running ones)."""
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("batch_norm: running_mean and running_var must be defined in evaluation mode")
    if training and not eps > 0:
        raise _rustdl.ArgumentError(f"batch_norm: eps must be positive during training, but got {eps}")
    return _rustdl.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def _pointwise_loss(op: str, fn, input, target, reduction: str, *extra):
    """A pointwise loss: the target broadcast to the input as PyTorch (which warns)."""
    if (
        isinstance(input, _rustdl.Tensor)
        and isinstance(target, _rustdl.Tensor)
        and tuple(input.shape) != tuple(target.shape)
    ):
        input, target = _broadcast_pair(input, target, op)
    return fn(input, target, reduction, *extra)


def _is_index(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _as_int(v):
    """A 0-d integer tensor as the int it holds (through ``__index__``), as PyTorch takes one
    wherever it takes an int size (``size=lengths.max()``); anything else unchanged."""
    if isinstance(v, _rustdl.Tensor) and v.ndim == 0 and not v.is_floating_point():
        try:
            return v.__index__()
        except TypeError:
            pass  # the caller's own message names what it wanted
    if isinstance(v, np.integer):  # numpy ints are ints (np.int64(3)), as PyTorch takes them
        return int(v)
    return v


def _as_ints(v):
    """:func:`_as_int` over a sequence (or of one value)."""
    if isinstance(v, (tuple, list)):
        return type(v)(_as_int(x) for x in v)
    return _as_int(v)


def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
):
    """Negative log-likelihood of class indices, with PyTorch's signature (the deprecated
    ``size_average``/``reduce`` mapped onto ``reduction``)."""
    ignore_index, reduction = _class_loss_args(size_average, ignore_index, reduce, reduction)
    return _rustdl.nll_loss(input, target, weight, ignore_index, reduction)


def _older_positional(size_average) -> bool:
    """Whether a class loss was called in rustdl's older positional form (input, target,
    weight, ignore_index, reduction, ...), which puts ``ignore_index`` or ``reduction`` where
    PyTorch has ``size_average``."""
    return _is_index(size_average) or isinstance(size_average, str)


def _class_loss_args(size_average, ignore_index, reduce, reduction) -> tuple:
    """``(ignore_index, reduction)`` of a class loss: the older positional form read back, and
    the deprecated ``size_average``/``reduce`` mapped onto ``reduction``."""
    if _older_positional(size_average):
        if isinstance(ignore_index, str):
            reduction = ignore_index
        if isinstance(size_average, str):
            reduction = size_average
        else:
            ignore_index = size_average
        size_average = None
    return ignore_index, _legacy_reduction(size_average, reduce, reduction)


class LinearCrossEntropyOptions:
    """Options of PyTorch's chunked :func:`linear_cross_entropy` (accepted for compatibility:
    rustdl computes the logits in one piece, with the same values and gradients)."""

    def __init__(
        self,
        allow_retain_graph: bool = False,
        batch_chunk_size: int | None = None,
        chunking_method: str | None = "auto",
        acc_policy: str = "auto",
        acc_dtype=None,
    ) -> None:
        self.allow_retain_graph = allow_retain_graph
        self.batch_chunk_size = batch_chunk_size
        self.chunking_method = chunking_method
        self.acc_policy = acc_policy
        self.acc_dtype = acc_dtype

    def __repr__(self) -> str:
        fields = ("allow_retain_graph", "batch_chunk_size", "chunking_method", "acc_policy", "acc_dtype")
        return "LinearCrossEntropyOptions(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in fields) + ")"


def linear_cross_entropy(
    input,
    linear_weight,
    target,
    *,
    linear_bias=None,
    weight=None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    options=None,
):
    """Cross entropy of the logits ``linear(input, linear_weight, linear_bias)``, as PyTorch's:
    ``linear_weight`` is ``(C, *out_features, in_features)``, the logits are reshaped to
    ``(*input.shape[:-1], C, *out_features)``; ``ignore_index=None`` is cross_entropy's -100."""
    if not isinstance(linear_weight, _rustdl.Tensor) or linear_weight.dim() < 2:
        raise _rustdl.ArgumentError(
            "linear_cross_entropy: linear_weight must be a tensor of shape (C, *out_features, in_features), got "
            f"{tuple(linear_weight.shape) if isinstance(linear_weight, _rustdl.Tensor) else type(linear_weight).__name__}"
        )
    c, *out_features, in_features = tuple(linear_weight.shape)
    logits = linear(
        input,
        linear_weight.reshape(-1, in_features),
        None if linear_bias is None else linear_bias.reshape(-1),
    )
    logits = logits.reshape(*tuple(input.shape)[:-1], c, *out_features)
    return cross_entropy(
        logits,
        target,
        weight=weight,
        ignore_index=-100 if ignore_index is None else ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
):
    """Softmax cross-entropy of logits against class indices or class probabilities, with
    PyTorch's signature (the deprecated ``size_average``/``reduce`` mapped onto ``reduction``)."""
    smoothing_in_reduce = isinstance(reduce, (int, float)) and not isinstance(reduce, bool)
    if _older_positional(size_average) and smoothing_in_reduce:
        # the older positional form's label_smoothing lands in PyTorch's reduce
        label_smoothing, reduce = reduce, None
    ignore_index, reduction = _class_loss_args(size_average, ignore_index, reduce, reduction)
    if (
        isinstance(input, _rustdl.Tensor)
        and isinstance(target, _rustdl.Tensor)
        and input.ndim >= 1
        and target.shape == input.shape
        and not target.is_floating_point()
    ):
        # a target shaped as the input holds class probabilities (never class indices)
        raise TypeError(
            f"cross_entropy: a target of the input's shape {tuple(input.shape)} holds class "
            f"probabilities and must be floating point, got {target.dtype}"
        )
    if (
        isinstance(input, _rustdl.Tensor)
        and isinstance(target, _rustdl.Tensor)
        and input.ndim == 1
        and target.ndim == 1
        and target.is_floating_point()
    ):
        # one unbatched sample with class probabilities: as a batch of one
        out = _rustdl.cross_entropy(
            input.unsqueeze(0), target.unsqueeze(0), weight, ignore_index, reduction, label_smoothing
        )
        return out.squeeze(0) if reduction == "none" else out
    return _rustdl.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
    """Binary cross-entropy of probabilities, with PyTorch's signature."""
    if isinstance(size_average, str):  # rustdl's older positional (input, target, weight, reduction)
        reduction, size_average = size_average, None
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _rustdl.binary_cross_entropy(input, target, weight, reduction)


def binary_cross_entropy_with_logits(
    input, target, weight=None, size_average=None, reduce=None, reduction: str = "mean", pos_weight=None
):
    """Sigmoid and binary cross-entropy in one stable op, with PyTorch's signature."""
    if isinstance(size_average, str):
        # rustdl's older positional (input, target, weight, reduction, pos_weight)
        reduction, size_average = size_average, None
        if isinstance(reduce, _rustdl.Tensor):
            pos_weight, reduce = reduce, None
    reduction = _legacy_reduction(size_average, reduce, reduction)
    out = _rustdl.binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight)
    # PyTorch's result takes the target's float dtype (its formula is built on the target)
    if (
        isinstance(target, _rustdl.Tensor)
        and target.dtype != out.dtype
        and target.dtype in (_rustdl.float32, _rustdl.float64)
        and out.dtype in (_rustdl.float32, _rustdl.float64)
    ):
        out = out.to(target.dtype)
    return out


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
    """KL divergence with ``input`` log-probabilities, with PyTorch's signature."""
    if isinstance(size_average, str):  # rustdl's older positional (input, target, reduction, log_target)
        reduction, size_average = size_average, None
        if isinstance(reduce, bool):
            log_target, reduce = reduce, None
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _pointwise_loss("kl_div", _rustdl.kl_div, input, target, reduction, log_target)


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None):
    """Mean squared error (the target broadcast to the input, as PyTorch)."""
    if isinstance(size_average, str):  # rustdl's older positional (input, target, reduction)
        reduction, size_average = size_average, None
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if weight is not None:
        raise NotImplementedError("mse_loss: weight is not supported by rustdl")
    return _pointwise_loss("mse_loss", _rustdl.mse_loss, input, target, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None):
    """Mean absolute error (the target broadcast to the input, as PyTorch)."""
    if isinstance(size_average, str):
        reduction, size_average = size_average, None
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if weight is not None:
        raise NotImplementedError("l1_loss: weight is not supported by rustdl")
    return _pointwise_loss("l1_loss", _rustdl.l1_loss, input, target, reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None):
    """Huber loss: quadratic below ``delta``, linear above (``delta`` must be positive)."""
    if not delta > 0:
        raise RuntimeError(f"huber_loss: delta must be positive, got {delta}")
    if weight is not None:
        raise NotImplementedError("huber_loss: weight is not supported by rustdl")
    return _pointwise_loss("huber_loss", _rustdl.huber_loss, input, target, reduction, delta)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
    """Smooth L1: ``0.5 d²/β`` below ``β``, ``|d| − β/2`` above (``β`` non-negative)."""
    if isinstance(size_average, str):
        reduction, size_average = size_average, None
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    return _pointwise_loss("smooth_l1_loss", _rustdl.smooth_l1_loss, input, target, reduction, beta)


def _broadcast_pair(input, target, op: str):
    """``input`` and ``target`` broadcast to one shape, as PyTorch's pointwise losses do (with
    its warning: a target shaped ``(N,)`` against an output ``(N, 1)`` is usually a mistake)."""
    if tuple(input.shape) == tuple(target.shape):
        return input, target
    import warnings

    from .._tensor_api import broadcast_shapes

    try:
        shape = broadcast_shapes(tuple(input.shape), tuple(target.shape))
    except (ValueError, RuntimeError):
        raise _rustdl.ShapeError(
            f"{op}: input of shape {list(input.shape)} and target of shape {list(target.shape)} "
            "must have the same shape (or broadcast to one)"
        ) from None
    warnings.warn(
        # PyTorch's words (tests match them), with the op's name first
        f"{op}: Using a target size (torch.Size({list(target.shape)})) that is different to the input "
        f"size (torch.Size({list(input.shape)})). This will likely lead to incorrect results due to "
        "broadcasting. Please ensure they have the same size.",
        UserWarning,
        stacklevel=3,
    )
    return input.expand(*shape), target.expand(*shape)


def gelu(input, approximate: str = "none"):
    """Gaussian error linear unit: exact ``x·Φ(x)``, or its ``tanh`` approximation."""
    if approximate == "none":
        return _rustdl.gelu(input)
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (inner.tanh() + 1.0)
    raise _rustdl.ArgumentError(f"gelu: approximate must be 'none' or 'tanh', got '{approximate}'")


def relu(input, inplace: bool = False):
    """Rectified linear unit, ``max(x, 0)``; ``inplace=True`` overwrites and returns ``input``."""
    if inplace:
        return input.relu_()
    return input.relu()


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """``x`` if ``x ≥ 0`` else ``negative_slope·x``; ``inplace=True`` overwrites and returns ``input``."""
    if inplace:
        return input.leaky_relu_(negative_slope)
    return _rustdl.leaky_relu(input, negative_slope)


def embedding(
    input,
    weight,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
):
    """The rows of ``weight`` at the int64 ids ``input``: output ``(*input.shape, D)``.

    ``padding_idx``'s row receives no gradient. With ``max_norm``, as in PyTorch, each row that
    is looked up and whose ``norm_type``-norm exceeds ``max_norm`` is first rescaled *in place*
    in ``weight`` (outside autograd) by ``max_norm / (norm + 1e-7)``; rows not looked up are left
    alone, and the gradient still flows to ``weight``. ``scale_grad_by_freq`` divides each row's
    gradient by how often its id occurs in ``input``. ``sparse=True`` is accepted, but the
    gradient is a dense tensor, zero in the rows not looked up.
    """
    if padding_idx is not None and weight.ndim >= 1:
        n = weight.shape[0]
        if not -n <= padding_idx < n:
            raise _rustdl.ArgumentError(
                f"embedding: padding_idx {padding_idx} must be within num_embeddings {n}"
            )
        padding_idx = padding_idx % n
    if max_norm is not None:
        _embedding_renorm_(input, weight, float(max_norm), float(norm_type))
    out = _rustdl.embedding(input, weight, padding_idx)
    if scale_grad_by_freq and out.requires_grad and input.numel():
        out.register_hook(_inverse_frequency_hook(input, weight.dtype))
    return out


def _inverse_frequency_hook(input, dtype):
    """A hook scaling the gradient of each looked-up vector by ``1 / count`` of its id in ``input``
    (so each row of the table receives the mean, not the sum, of its positions' gradients)."""
    import numpy as np

    ids = input.cpu().numpy().reshape(-1)
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    # the reciprocal computed in float64, then rounded once, as PyTorch's per-row scale
    scale = (1.0 / counts[inverse]).reshape(tuple(input.shape) + (1,))
    scale_t = _rustdl.tensor(scale, dtype=dtype, device=input.device)
    return lambda grad: grad * scale_t


def _embedding_renorm_(input, weight, max_norm: float, norm_type: float) -> None:
    """PyTorch's ``embedding_renorm_``: the looked-up rows of ``weight`` rescaled in place to a
    ``norm_type``-norm of at most ``max_norm``."""
    import numpy as np

    from ..autograd import no_grad

    ids = np.unique(input.cpu().numpy().reshape(-1)) if input.numel() else np.zeros(0, np.int64)
    if ids.size == 0 or weight.ndim != 2 or ids.min() < 0 or ids.max() >= weight.shape[0]:
        return  # nothing to do, or a bad index or table that the lookup itself reports
    with no_grad():
        idx = _rustdl.tensor(ids.astype(np.int64), device=weight.device)
        rows = weight[idx]
        from .._tensor_api import _vector_norm_impl

        # the row norms as vector_norm takes them (±inf a max / min, 0 a count of nonzeros)
        norm = _vector_norm_impl(rows, float(norm_type), 1, False)
        scale = _rustdl.where(norm > max_norm, (norm + 1e-7).reciprocal() * max_norm, norm * 0.0 + 1.0)
        weight[idx] = rows * scale.unsqueeze(1)


def _write_back(input, out):
    """``input.copy_(out)``: the in-place form of an op with no in-place tensor method.

    ``out`` must be computed from ``input.clone()`` when its derivative rule saves its input:
    the copy is what the rule reads, so overwriting ``input`` leaves the graph valid (PyTorch's
    in-place activations save the result instead; the clone costs one copy).

    A floating result is not written into an integer or bool tensor (PyTorch's in-place
    activations have no integer kernels): that raises ``DTypeError``.
    """
    if (out.is_floating_point() or out.is_complex()) and not (
        input.is_floating_point() or input.is_complex()
    ):
        raise _rustdl.DTypeError(
            f"in-place activation: result type {out.dtype} can't be cast to the desired output type "
            f"{input.dtype} (input of shape {tuple(input.shape)}); use the out-of-place form"
        )
    return input.copy_(out)


def elu(input, alpha: float = 1.0, inplace: bool = False):
    """``x`` if ``x > 0`` else ``alpha·(eˣ − 1)``; ``inplace=True`` overwrites and returns ``input``."""
    if inplace:
        method = getattr(input, "elu_", None)
        if method is not None:
            return method(alpha)
        return _write_back(input, _rustdl.elu(input.clone(), alpha))
    return _rustdl.elu(input, alpha)


def silu(input, inplace: bool = False):
    """``x·σ(x)`` (swish); ``inplace=True`` overwrites and returns ``input``."""
    if inplace:
        method = getattr(input, "silu_", None)
        if method is not None:
            return method()
        return _write_back(input, _rustdl.silu(input.clone()))
    return _rustdl.silu(input)


def sigmoid(input):
    """Logistic sigmoid."""
    return input.sigmoid()


def logsigmoid(input):
    """``log(1 / (1 + e⁻ˣ)) = -softplus(-x)``, stable for large ``|x|``, as
    ``torch.nn.functional.logsigmoid``."""
    return -softplus(-input)


def tanh(input):
    """Hyperbolic tangent."""
    return input.tanh()


def _softmax_dim(ndim: int) -> int:
    """PyTorch's legacy dim for a softmax given none: 0 for a 0-, 1- or 3-D input, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


def _implicit_softmax_dim(op: str, ndim: int, stacklevel: int) -> int:
    """:func:`_softmax_dim`, with PyTorch's deprecation warning for leaving ``dim`` out."""
    import warnings

    warnings.warn(
        f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X as an argument.",
        UserWarning,
        stacklevel=stacklevel,
    )
    return _softmax_dim(ndim)


def softmax(input, dim: int | None = None, _stacklevel: int = 3, dtype=None):
    """Softmax along ``dim``; ``dtype`` casts the input first. Without ``dim``, PyTorch's legacy
    choice (dim 0 for a 0-, 1- or 3-D input, else 1) with a deprecation ``UserWarning``."""
    if dim is None:
        dim = _implicit_softmax_dim("softmax", input.ndim, _stacklevel + 1)
    return input.softmax(dim, dtype)


def log_softmax(input, dim: int | None = None, _stacklevel: int = 3, dtype=None):
    """Log-softmax along ``dim``, computed stably; ``dtype`` casts the input first. Without
    ``dim``, the legacy choice of :func:`softmax` (with its warning)."""
    if dim is None:
        dim = _implicit_softmax_dim("log_softmax", input.ndim, _stacklevel + 1)
    return input.log_softmax(dim, dtype)


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zeroes elements with probability ``p`` and scales the rest by ``1/(1-p)`` when training.

    ``inplace=True`` overwrites and returns ``input``; in eval or with ``p=0`` it is returned
    untouched (as PyTorch's ``dropout_``, so even a leaf requiring grad is accepted there).
    """
    if inplace:
        if not training or p == 0:
            _rustdl.dropout(input, p, training)  # same argument checks as the out-of-place path
            return input
        # dropout's rule saves only its mask, so the write-back needs no clone
        return _write_back(input, _rustdl.dropout(input, p, training))
    return _rustdl.dropout(input, p, training)


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zeroes whole channels of an ``(N, C, H, W)`` input with probability ``p`` when training;
    ``inplace=True`` overwrites and returns ``input`` (untouched in eval or with ``p=0``)."""
    if inplace:
        out = dropout2d(input, p, training)
        if not training or p == 0:
            return input
        return _write_back(input, out)
    if input.ndim < 2:
        raise _rustdl.ArgumentError(f"dropout2d: expected a 3-D or 4-D input, got shape {tuple(input.shape)}")
    if input.ndim not in (3, 4):
        # PyTorch (deprecated, with a warning) runs its feature dropout, whose mask is
        # (N, C, 1, ...): on an (N, C) input that is one mask entry per ELEMENT, on a 5-D one
        # one per (N, C) volume.
        import warnings

        warnings.warn(
            f"dropout2d: received a {input.ndim}-D input; like PyTorch, the mask is (N, C, 1, ...) "
            "(dropout2d is for 3-D or 4-D inputs)",
            UserWarning,
            stacklevel=2,
        )
    # PyTorch's mask is (N, C, 1, ...): a 3-D input is taken as (N, C, L) (its dropout1d
    # behaviour, with a warning there), a 4-D one as (N, C, H, W).
    shape = list(input.shape[:2]) + [1] * (input.ndim - 2)
    return _rustdl.dropout(input, p, training, shape)


def gumbel_softmax(logits, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1):
    """Samples from the Gumbel-softmax distribution, as ``torch.nn.functional.gumbel_softmax``:
    ``softmax((logits + g) / tau)`` with Gumbel noise ``g``; ``hard=True`` returns one-hot samples
    whose gradient is the soft sample's (straight-through)."""
    if tau <= 0:
        raise _rustdl.ArgumentError(f"gumbel_softmax: tau must be positive, got {tau}")
    # PyTorch's noise: minus the log of standard exponential draws
    gumbels = -_rustdl.empty(*logits.shape, dtype=logits.dtype, device=logits.device).exponential_().log()
    soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return soft
    index = soft.argmax(dim, keepdim=True)
    one_hot = _rustdl.zeros_like(soft).scatter(dim, index, 1.0)
    return one_hot - soft.detach() + soft


_INTERPOLATE_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")


def _antialias_filter(kind: str, x: np.ndarray) -> np.ndarray:
    """The triangle (``bilinear``) or Keys cubic with ``a = -0.5`` (``bicubic``) kernel at ``x``."""
    x = np.abs(x)
    if kind == "bilinear":
        return np.maximum(0.0, 1.0 - x)
    a = -0.5
    return np.where(
        x < 1.0,
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0,
        np.where(x < 2.0, ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a, 0.0),
    )


@functools.lru_cache(maxsize=64)
def _antialias_matrix(n_in: int, n_out: int, kind: str, scale: float | None = None) -> np.ndarray:
    """``(n_out, n_in)`` weights of an antialiased resize (``antialias=True``): when shrinking,
    the kernel is widened by the shrink factor so every input pixel contributes; each row's
    weights are normalised over the pixels inside the image. Pixel centres sit at ``i + 0.5``;
    ``scale`` is input pixels per output pixel (``n_in / n_out`` unless given)."""
    scale = n_in / n_out if scale is None else scale
    widen = max(scale, 1.0)
    support = (1.0 if kind == "bilinear" else 2.0) * widen
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n_in)
        j = np.arange(lo, hi)
        wts = _antialias_filter(kind, (j - center + 0.5) / widen)
        total = wts.sum()
        if total != 0:
            m[i, lo:hi] = wts / total
    return m


def _resize_taps(n_in: int, n_out: int, mode: str, align_corners: bool, scale):
    """The taps that resize one axis as PyTorch's ``interpolate`` does: ``(index, weight)``
    arrays of shape ``(K, n_out)``, output ``i`` being ``Σ_k weight[k, i] · x[index[k, i]]``
    (K = 1 nearest, 2 linear, 4 cubic). Only the taps PyTorch reads are read, so a NaN or inf
    stays where PyTorch's kernels leave it (a dense resize matrix would spread it as 0 · inf)."""
    dst = np.arange(n_out, dtype=np.float64)
    if mode in ("nearest", "nearest-exact"):
        src = np.floor((dst + (0.5 if mode == "nearest-exact" else 0.0)) * scale).astype(np.int64)
        return np.minimum(src, n_in - 1)[None], np.ones((1, n_out))
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        src = (dst + 0.5) * scale - 0.5
    if mode == "linear":
        src = np.maximum(src, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        lam = src - i0
        return np.stack([i0, np.minimum(i0 + 1, n_in - 1)]), np.stack([1.0 - lam, lam])
    # cubic convolution (a = -0.75), taps at floor(src) - 1 .. floor(src) + 2, clamped to the edge
    a = -0.75
    base = np.floor(src).astype(np.int64)
    t = src - base
    idx, wts = [], []
    for k in range(-1, 3):
        d = np.abs(t - k)
        wts.append(
            np.where(d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1, ((a * d - 5 * a) * d + 8 * a) * d - 4 * a)
        )
        idx.append(np.clip(base + k, 0, n_in - 1))
    return np.stack(idx), np.stack(wts)


def _resize_axis(x, dim: int, taps, dense: bool):
    """``x`` resized along ``dim`` by :func:`_resize_taps`' taps: gathered tap by tap, or with
    ``dense`` as one product with the ``(n_out, n_in)`` matrix they make (faster on the CPU, and
    the same where every input is finite)."""
    idx, wts = taps
    if dense:
        m = np.zeros((idx.shape[1], x.shape[dim]))
        rows = np.arange(idx.shape[1])
        for k in range(idx.shape[0]):
            np.add.at(m, (rows, idx[k]), wts[k])
        mt = _rustdl.tensor(m.T, dtype=x.dtype, device=x.device)
        return (x.transpose(dim, -1) @ mt).transpose(dim, -1)
    shape = [1] * x.ndim
    shape[dim] = idx.shape[1]
    out = None
    for k in range(idx.shape[0]):
        g = x.index_select(dim, _rustdl.tensor(idx[k], device=x.device))
        if not (wts[k] == 1.0).all():
            g = g * _rustdl.tensor(wts[k], dtype=x.dtype, device=x.device).reshape(shape)
        out = g if out is None else out + g
    return out


class _InterpolateRank(ValueError, NotImplementedError):
    """An input of a rank ``interpolate`` has no mode for: the ``NotImplementedError`` PyTorch
    raises, and a ``ValueError``."""


def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias: bool = False,
):
    """Resizes the spatial dims of an ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` input,
    as ``torch.nn.functional.interpolate``.

    Modes: ``nearest``, ``nearest-exact``, ``linear`` (3-D), ``bilinear`` / ``bicubic`` (4-D),
    ``trilinear`` (5-D) and ``area``. Given ``scale_factor`` (and not ``recompute_scale_factor``),
    source coordinates use ``1 / scale_factor`` as PyTorch does.
    """
    if mode not in _INTERPOLATE_MODES:
        raise _rustdl.ArgumentError(
            f"interpolate: unsupported mode '{mode}' (one of {', '.join(_INTERPOLATE_MODES)})"
        )
    if (
        mode.startswith("nearest")
        and isinstance(input, _rustdl.Tensor)
        and not input.is_floating_point()
        and input.dtype != _rustdl.bool
    ):
        # nearest only copies values: an integer image (uint8) is resized as PyTorch does it,
        # through a float copy exact for its values, and keeps its dtype
        wide = _rustdl.float64 if input.device.type == "cpu" else _rustdl.float32
        out = interpolate(
            input.to(wide), size, scale_factor, mode, align_corners, recompute_scale_factor, antialias
        )
        return out.round().to(input.dtype)
    if isinstance(input, _rustdl.Tensor) and not input.is_floating_point():
        # as PyTorch: an image of bytes resizes (bi)linearly or cubically, rounded and kept in
        # 0..255; no other integer input has a filtering mode
        if input.dtype != _rustdl.uint8 or mode not in ("bilinear", "bicubic"):
            raise _rustdl.DTypeError(
                f"interpolate: mode '{mode}' is not implemented for {input.dtype} input "
                "(convert it to a floating dtype first)"
            )
        wide = _rustdl.float64 if input.device.type == "cpu" else _rustdl.float32
        out = interpolate(
            input.to(wide), size, scale_factor, mode, align_corners, recompute_scale_factor, antialias
        )
        return out.round().clamp(0, 255).to(input.dtype)
    if input.ndim not in (3, 4, 5):
        raise _InterpolateRank(
            f"interpolate: expected a 3-D, 4-D or 5-D input (N, C, ...), got shape {tuple(input.shape)}"
        )
    nsp = input.ndim - 2
    wanted = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(mode)
    if wanted is not None and wanted != nsp:
        raise _rustdl.ArgumentError(
            f"interpolate: mode '{mode}' expects a {wanted + 2}-D input, got {input.ndim}-D"
        )
    if align_corners and wanted is None:
        raise _rustdl.ArgumentError(
            f"interpolate: align_corners can only be set with a linear or cubic mode, not '{mode}'"
        )
    if antialias and mode not in ("bilinear", "bicubic"):
        raise _rustdl.ArgumentError(
            f"interpolate: anti-alias option is only supported for bilinear and bicubic modes, not '{mode}'"
        )
    spatial = tuple(int(s) for s in input.shape[2:])
    if 0 in spatial:  # nothing to sample from (PyTorch refuses it in every mode)
        raise _rustdl.ArgumentError(
            f"interpolate: input spatial sizes should be greater than 0, got input of shape {tuple(input.shape)}"
        )
    scales = None
    if size is not None:
        if scale_factor is not None:
            raise _rustdl.ArgumentError("interpolate: only one of size or scale_factor should be defined")
        size = _as_ints(size)
        size = (size,) * nsp if isinstance(size, int) else tuple(int(s) for s in size)
        if len(size) != nsp or any(s <= 0 for s in size):
            raise _rustdl.ArgumentError(
                f"interpolate: output sizes should be {nsp} positive ints, got size={size}"
            )
    elif scale_factor is not None:
        sf = (scale_factor,) * nsp if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
        if len(sf) != nsp or not all(isinstance(f, (int, float)) and 0 < f < float("inf") for f in sf):
            raise _rustdl.ArgumentError(
                f"interpolate: scale_factor must be positive and finite, got {scale_factor!r}"
            )
        size = tuple(int(math.floor(n * f)) for n, f in zip(spatial, sf))
        if min(size) < 1:
            raise _rustdl.ArgumentError(
                f"interpolate: scale_factor {scale_factor!r} gives an empty output {size} for input {spatial}"
            )
        if not recompute_scale_factor:
            scales = tuple(1.0 / f for f in sf)
    else:
        raise _rustdl.ArgumentError("interpolate: either size or scale_factor should be defined")
    if scales is None:
        scales = tuple(n / o for n, o in zip(spatial, size))
    exact = all(s == n / o for s, n, o in zip(scales, spatial, size))
    # A dense resize matrix reads every input of a row, so one NaN or inf would spread over the
    # row as 0 · inf; PyTorch reads only each output's taps. On the CPU the matrix product is
    # used where every input is finite (checked: cheap there), else the taps are gathered. On a
    # GPU a check would wait for the device, and gathering tap by tap is 2-7x slower there
    # (lavapipe): the matrix product is always used, so a non-finite input spreads along its
    # rows on a GPU.
    # (nearest only copies values: no check needed)
    dense = input.device.type != "cpu" or mode.startswith("nearest") or bool(input.isfinite().all())
    fused = mode == "nearest" or (mode == "bilinear" and dense)
    if nsp == 2 and exact and not antialias and fused:
        return _rustdl.interpolate_size(input, size, mode, bool(align_corners))
    if mode == "area":  # an adaptive average pool, as PyTorch's (NaN/inf stay in their windows)
        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[nsp - 1]
        return pool(input, size)
    kind = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    out = input
    # the last axis first, as PyTorch's kernels nest the weights (the same rounding)
    for axis in reversed(range(nsp)):
        n_in, n_out, scale = spatial[axis], size[axis], scales[axis]
        dim = 2 + axis
        if antialias:
            if align_corners:
                # the corners' pixels aligned: (n_in - 1) / (n_out - 1) input pixels per output
                # pixel whatever scale_factor was given, as PyTorch's antialiased kernels
                scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
            m = _antialias_matrix(n_in, n_out, mode, scale)
            mt = _rustdl.tensor(m.T, dtype=input.dtype, device=input.device)
            out = (out.transpose(dim, -1) @ mt).transpose(dim, -1)
        elif n_in != n_out or kind != "nearest" or scale != 1.0:
            taps = _resize_taps(n_in, n_out, kind, bool(align_corners), scale)
            out = _resize_axis(out, dim, taps, dense and not kind.startswith("nearest"))
    return out.contiguous() if out is not input else input.clone()


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None):
    """``input / max(‖input‖_p, eps)`` along ``dim``, as ``torch.nn.functional.normalize``.

    Shape: any; the norm is taken over ``dim`` and broadcast back.
    Example: ``F.normalize(rustdl.randn(4, 8), dim=1)`` has rows of unit length.
    """
    denom = input.norm(p, dim=dim, keepdim=True).clamp_min(eps)
    if out is not None:
        from .. import _into

        return _into(out, input / denom)
    return input / denom


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """``x1·x2 / (max(‖x1‖, eps) · max(‖x2‖, eps))`` along ``dim`` after broadcasting, as
    ``torch.nn.functional.cosine_similarity``.

    Shape: ``x1`` and ``x2`` broadcast together; the result drops ``dim``.
    """
    from .._tensor_api import broadcast_tensors

    x1, x2 = broadcast_tensors(x1, x2)
    n1 = x1.norm(2, dim=dim).clamp_min(eps)
    n2 = x2.norm(2, dim=dim).clamp_min(eps)
    return (x1 * x2).sum(dim) / (n1 * n2)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """``‖x1 − x2 + eps‖_p`` over the last dim, as ``torch.nn.functional.pairwise_distance``."""
    return (x1 - x2 + eps).norm(p, dim=-1, keepdim=keepdim)


def pdist(input, p: float = 2.0):
    """Distances ``‖x_i − x_j‖_p`` between every pair of rows ``i < j`` of an ``(N, M)`` input,
    in row-major order (``N(N−1)/2`` values), as ``torch.nn.functional.pdist``."""
    from .. import linalg, triu_indices

    if not isinstance(input, _rustdl.Tensor):
        raise TypeError(f"pdist: argument 'input' must be a Tensor, got {type(input).__name__}")
    if input.dim() != 2:
        raise _rustdl.ArgumentError(f"pdist: only supports 2D tensors, got shape {tuple(input.shape)}")
    if not input.is_floating_point():
        raise TypeError(f"pdist: only supports floating-point dtypes, got {input.dtype}")
    if p < 0:
        raise _rustdl.ArgumentError(f"pdist: only supports non-negative p values, got {p}")
    n = input.shape[0]
    if n < 2:
        # no pairs: an empty result that still has the input's history (backward gives zeros)
        return input.sum(1).narrow(0, 0, 0)
    ij = triu_indices(n, n, 1).to(input.device)
    diff = input.index_select(0, ij[0]) - input.index_select(0, ij[1])
    if p == 0:
        # the count of differing entries: a zero gradient (not none), as PyTorch's pdist
        from ..linalg import _Constant

        return _Constant.apply((diff != 0).sum(1).to(input.dtype), True, input)
    return linalg.vector_norm(diff, float(p), dim=1)


def _as_lengths(op, v, n, name):
    if isinstance(v, _rustdl.Tensor):
        v = v.detach().cpu().numpy().reshape(-1).tolist()
    v = [int(x) for x in v]
    if len(v) != n:
        raise _rustdl.ArgumentError(
            f"{op}: expected {name} to have {n} entries (the batch size), got {len(v)}"
        )
    return v


_CTC_NEG = -1e30  # "log 0" kept finite so impossible paths give zero (not NaN) gradients


def ctc_loss(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
):
    """Connectionist temporal classification loss, as ``torch.nn.functional.ctc_loss``: the
    negative log-likelihood of each target over every alignment of ``log_probs`` (the forward
    recursion over time runs in log space; its gradient comes from autograd).

    Shape:
        - log_probs: ``(T, N, C)`` or ``(T, C)``, log-softmax over ``C``.
        - targets: ``(N, S)`` padded, or the concatenated 1-D targets of every sample.
        - input_lengths, target_lengths: ``N`` ints (tensors or sequences).
        - output: a scalar, or ``(N,)`` with ``reduction='none'``. ``'mean'`` divides each loss
          by its target length, then averages over the batch.

    Impossible alignments give ``inf`` (0 with ``zero_infinity=True``). The gradient is PyTorch's:
    the one with respect to the logits of a log-softmax, ``exp(log_probs) - posterior`` inside
    each input (the exact derivative with respect to ``log_probs`` plus ``exp(log_probs)``). It is
    what flows back through ``log_softmax`` either way, and what unnormalised scores train with.
    """
    op = "ctc_loss"
    if not isinstance(log_probs, _rustdl.Tensor) or not log_probs.is_floating_point():
        raise TypeError(f"{op}: log_probs must be a floating-point Tensor")
    if reduction not in ("none", "mean", "sum"):
        raise _rustdl.ArgumentError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    unbatched = log_probs.dim() == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    if lp.dim() != 3:
        raise _rustdl.ArgumentError(
            f"{op}: expected log_probs of shape (T, N, C) or (T, C), got {tuple(log_probs.shape)}"
        )
    t_max, n, c = lp.shape
    if not 0 <= blank < c:
        raise _rustdl.ArgumentError(f"{op}: blank {blank} must be in [0, {c}) for {c} classes")
    if not isinstance(targets, _rustdl.Tensor):
        raise TypeError(f"{op}: targets must be a Tensor")
    if unbatched and targets.dim() == 1:
        targets = targets.unsqueeze(0)
    in_len = _as_lengths(op, input_lengths, n, "input_lengths")
    tg_len = _as_lengths(op, target_lengths, n, "target_lengths")
    tg = targets.detach().cpu().numpy().astype(np.int64)
    if tg.ndim == 1:
        if tg.shape[0] != sum(tg_len):
            raise _rustdl.ArgumentError(
                f"{op}: concatenated targets of length {tg.shape[0]} do not match target_lengths {tg_len}"
            )
        offs = np.cumsum([0] + tg_len)
        rows = [tg[offs[i] : offs[i + 1]] for i in range(n)]
    elif tg.ndim == 2 and tg.shape[0] == n:
        rows = [tg[i, : tg_len[i]] for i in range(n)]
        if any(len(r) != k for r, k in zip(rows, tg_len)):
            raise _rustdl.ArgumentError(
                f"{op}: target_lengths {tg_len} exceed the padded targets of shape {tg.shape}"
            )
    else:
        raise _rustdl.ArgumentError(
            f"{op}: expected targets of shape (N, S) or (sum(target_lengths),), got {tg.shape}"
        )
    for i in range(n):
        if not 0 <= in_len[i] <= t_max:
            raise _rustdl.ArgumentError(f"{op}: input_lengths[{i}] = {in_len[i]} must be in [0, {t_max}]")
    s_max = max(tg_len, default=0)
    big_l = 2 * s_max + 1
    ext = np.full((n, big_l), blank, dtype=np.int64)
    skip = np.zeros((n, big_l), dtype=bool)
    for i, r in enumerate(rows):
        if len(r) and (r.min() < 0 or r.max() >= c or (r == blank).any()):
            raise _rustdl.ArgumentError(
                f"{op}: targets of sample {i} must be classes in [0, {c}) other than the blank {blank}"
            )
        ext[i, 1 : 2 * len(r) : 2] = r
        for s in range(3, 2 * len(r), 2):
            skip[i, s] = ext[i, s] != ext[i, s - 2]
    dev, dt = lp.device, lp.dtype
    idx = _rustdl.tensor(ext).to(dev)
    emit = lp.gather(2, idx.unsqueeze(0).expand(t_max, n, big_l)) if t_max else None
    skip_t = _rustdl.tensor(skip.astype(np.float64), dtype=dt).to(dev)
    neg = _rustdl.full((n, big_l), _CTC_NEG, dtype=dt, device=dev)
    start = np.zeros((n, big_l))
    start[:, :2] = 1
    start_t = _rustdl.tensor(start, dtype=dt).to(dev)
    pad1 = _rustdl.full((n, 1), _CTC_NEG, dtype=dt, device=dev)
    pad2 = _rustdl.full((n, 2), _CTC_NEG, dtype=dt, device=dev)
    alpha = neg
    for t in range(t_max):
        e = emit[t]
        if t == 0:
            new = _rustdl.where(start_t > 0, e, neg)
        else:
            a1 = _rustdl.cat([pad1, alpha[:, :-1]], 1)
            a2 = _rustdl.cat([pad2, alpha[:, :-2]], 1) if big_l > 2 else neg
            a2 = _rustdl.where(skip_t > 0, a2, neg)
            m = _rustdl.stack([alpha, a1, a2], 0).amax(0).detach()
            total = (alpha - m).exp() + (a1 - m).exp() + (a2 - m).exp()
            new = (m + total.log()) + e
            new = new.clamp(min=_CTC_NEG)
        live = _rustdl.tensor([[1.0] if t < k else [0.0] for k in in_len], dtype=dt).to(dev)
        alpha = _rustdl.where(live > 0, new, alpha)
    last = _rustdl.tensor([[2 * k, max(2 * k - 1, 0)] for k in tg_len], dtype=_rustdl.int64).to(dev)
    ends = alpha.gather(1, last)
    ends = _rustdl.where(
        _rustdl.tensor([[1.0, 1.0 if k > 0 else 0.0] for k in tg_len], dtype=dt).to(dev) > 0,
        ends,
        _rustdl.full((n, 2), _CTC_NEG, dtype=dt, device=dev),
    )
    zero_len = _rustdl.tensor([1.0 if k == 0 else 0.0 for k in in_len], dtype=dt).to(dev)
    m = ends.amax(1, keepdim=True).detach()
    nll = -(m.squeeze(1) + (ends - m).exp().sum(1).log())
    if t_max and lp.requires_grad:
        # PyTorch's kernel returns the gradient with respect to the logits of a log-softmax,
        # exp(log_probs) - posterior, at every step inside the input: the exact gradient plus
        # exp(log_probs). A term of value zero whose gradient is exp(log_probs) there makes
        # log_probs.grad PyTorch's (and training on unnormalised scores behave as PyTorch's)
        live_t = _rustdl.tensor([[1.0 if t < k else 0.0 for k in in_len] for t in range(t_max)], dtype=dt).to(
            dev
        )
        mass = (lp.exp() * live_t.unsqueeze(2)).sum((0, 2))
        nll = nll + (mass - mass.detach())
    # an input of length 0 explains only the empty target (probability 1)
    empty_ok = _rustdl.tensor([1.0 if k == 0 else 0.0 for k in tg_len], dtype=dt).to(dev)
    # constants, not nll * 0: nll may be infinite or NaN there, and inf * 0 is NaN
    zero, inf = _rustdl.zeros_like(nll), _rustdl.full_like(nll, float("inf"))
    nll = _rustdl.where(zero_len > 0, _rustdl.where(empty_ok > 0, zero, inf), nll)
    impossible = (nll > 1e29).logical_or(nll.isnan())
    nll = _rustdl.where(impossible, zero if zero_infinity else inf, nll)
    if not zero_infinity and t_max and lp.requires_grad and _rustdl.is_grad_enabled():
        imp = [i for i, b in enumerate(impossible.tolist()) if b]
        if imp:
            # an impossible sample's infinite loss has a NaN gradient in the frames inside its
            # input, as PyTorch's: sqrt(|s - s|) is 0 with the derivative NaN (inf · 0)
            idx = _rustdl.tensor(imp, dtype=_rustdl.int64, device=dev)
            sel = lp.index_select(1, idx)
            live_sel = live_t.index_select(1, idx).unsqueeze(2) > 0
            tot = _rustdl.where(live_sel, sel, sel.detach()).sum((0, 2))
            nll = nll + _rustdl.zeros_like(nll).index_add(0, idx, (tot - tot.detach()).abs().sqrt())
    if reduction == "none":
        return nll.squeeze(0) if unbatched else nll
    if reduction == "sum":
        return nll.sum()
    denom = _rustdl.tensor([float(max(k, 1)) for k in tg_len], dtype=dt).to(dev)
    return (nll / denom).mean()


class _OneHotDTypeError(TypeError, RuntimeError):
    """one_hot of a non-integer tensor: PyTorch's RuntimeError, and a TypeError."""


def one_hot(tensor, num_classes: int = -1):
    """``(…,)`` int64 class indices to ``(…, num_classes)`` int64 one-hot rows."""
    from .. import arange

    if tensor.dtype != _rustdl.int64:
        raise _OneHotDTypeError(f"one_hot: expected an int64 tensor of class indices, got {tensor.dtype}")
    if num_classes < -1:
        raise RuntimeError(f"one_hot: num_classes should be -1 (inferred) or non-negative, got {num_classes}")
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("one_hot: can not infer the number of classes from an empty tensor")
        num_classes = int(tensor.max().item()) + 1
    if tensor.numel() > 0:
        lo, hi = int(tensor.min().item()), int(tensor.max().item())
        if lo < 0 or hi >= num_classes:
            raise RuntimeError(
                f"one_hot: class values must be in [0, {num_classes}), got values in [{lo}, {hi}]"
            )
    if tensor.numel() == 0:  # no row: nothing the size of num_classes is built
        return _rustdl.zeros(*tensor.shape, num_classes, dtype=_rustdl.int64, device=tensor.device)
    classes = arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).long()


def pad(input, pad, mode: str = "constant", value: float | None = None):
    """Pads the last dims by ``pad = (left, right, top, bottom, ...)``: with ``value`` (``constant``,
    0 when None), the mirrored interior (``reflect``), the edge (``replicate``) or the wrapped input
    (``circular``); negative amounts crop."""
    from .. import cat, full

    if value is None:
        value = 0.0

    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise _rustdl.ArgumentError(
            f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got '{mode}'"
        )
    pad = tuple(_as_int(p) for p in pad)
    if any(isinstance(p, bool) or not isinstance(p, int) for p in pad):
        raise TypeError(f"pad: padding must be a sequence of ints, got {pad!r}")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise _rustdl.ArgumentError(f"pad: padding {pad} does not fit an input of shape {tuple(input.shape)}")
    if mode != "constant":
        out = _pad_indexed(input, pad, mode)
        return input.clone() if out is input else out  # all-zero padding: still a new tensor
    out, copied = input, False
    for i in range(len(pad) // 2):
        dim = input.ndim - 1 - i
        left, right = pad[2 * i], pad[2 * i + 1]
        size = out.shape[dim]
        if size + left + right < 0:
            raise _rustdl.ArgumentError(
                f"pad: padding {pad} makes dimension {dim} of input shape {tuple(input.shape)} negative"
            )
        # crop first (negative amounts), then add constant borders (positive ones)
        lo, hi = max(-left, 0), max(-right, 0)
        if lo or hi:
            out = out.narrow(dim, min(lo, size), max(size - lo - hi, 0))
        parts = []
        for amount in (left, None, right):
            if amount is None:
                parts.append(out)
            elif amount > 0:
                s = list(out.shape)
                s[dim] = amount
                parts.append(full(s, value, dtype=out.dtype, device=out.device))
        if len(parts) > 1:
            out, copied = cat(parts, dim), True
    # as PyTorch, the result never shares memory with ``input`` (nothing or only cropping done
    # would otherwise hand back ``input`` or a view of it, and writes to it would reach ``input``)
    return out if copied else out.clone()


# ---- spatial ops (breadth B) ----


class _PadModeError(ValueError, NotImplementedError):
    """A padding that the mode cannot do: a ``ValueError`` here (``NotImplementedError`` in PyTorch)."""


def _pad_indexed(input, pad: tuple, mode: str):
    """``reflect`` / ``replicate`` / ``circular`` padding as one ``index_select`` per padded dim,
    so gradients flow back to the source elements (summed where an element is reused)."""
    n = len(pad) // 2
    if input.ndim not in (n + 1, n + 2):
        raise _PadModeError(
            f"pad: mode='{mode}' with {n}-D padding {pad} expects a {n + 1}-D or {n + 2}-D input, "
            f"got shape {tuple(input.shape)}"
        )
    # an empty batch or channel dim: the padded tensor holds no element either, so no index of
    # the spatial size is built (the padding is checked all the same)
    empty_lead = any(input.shape[d] == 0 for d in range(input.ndim - n))
    out = input
    for i in range(n):
        dim = input.ndim - 1 - i
        left, right = pad[2 * i], pad[2 * i + 1]
        size = out.shape[dim]
        if left == 0 and right == 0:
            continue
        if size + left + right < 0:
            raise _rustdl.ArgumentError(
                f"pad: padding {pad} makes dimension {dim} of input shape {tuple(input.shape)} negative"
            )
        if mode == "reflect" and (left >= size or right >= size):
            raise _rustdl.ArgumentError(
                f"pad: reflect padding must be smaller than the padded dimension, got padding ({left}, {right}) "
                f"at dimension {dim} of input shape {tuple(input.shape)}"
            )
        if mode == "replicate" and size == 0:
            raise _rustdl.ArgumentError(
                f"pad: replicate padding needs a non-empty dimension {dim}, got shape {tuple(input.shape)}"
            )
        if mode == "circular" and (left > size or right > size):
            raise _rustdl.ArgumentError(
                f"pad: circular padding ({left}, {right}) at dimension {dim} of input shape {tuple(input.shape)} "
                "wraps around more than once"
            )
        # circular crops first (a negative amount) and wraps around what is left, as PyTorch
        lo, kept = max(-left, 0), size - max(-left, 0) - max(-right, 0)
        if mode == "circular" and kept <= 0 and (left > 0 or right > 0):
            raise _rustdl.ArgumentError(
                f"pad: circular padding {pad} leaves nothing to wrap at dimension {dim} of input shape {tuple(input.shape)}"
            )
        if empty_lead:
            shape = list(out.shape)
            shape[dim] = size + left + right
            out = (out.sum() * 0).expand(*shape).contiguous()  # no element; joined to the graph
            continue
        # the source element of each output position j in [-left, size + right), built on the
        # device (its size is checked against memory like any tensor's)
        j = _rustdl.arange(-left, size + right, dtype=_rustdl.int64, device=out.device)
        if mode == "reflect":
            k = j.abs()
            k = _rustdl.where(k >= size, 2 * (size - 1) - k, k)
        elif mode == "replicate":
            k = j.clamp(0, size - 1)
        else:
            k = (j - lo).remainder(kept) + lo
        out = out.index_select(dim, k)
    return out


def _single(v, op: str, name: str) -> int:
    """An int, or a 1-tuple of one, as an int."""
    v = _as_ints(v)
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise _rustdl.ArgumentError(f"{op}: {name} must be an int or a 1-tuple, got {v!r}")
        v = v[0]
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{op}: {name} must be an int, got {v!r}")
    return v


def _pair(v, op: str, name: str) -> tuple[int, int]:
    """An int or a pair of ints as a pair."""
    v = _as_ints(v)
    p = (v, v) if not isinstance(v, (tuple, list)) else tuple(v)
    if len(p) == 1:  # a one-element list stands for both dims, as PyTorch's int-list arguments
        p = (p[0], p[0])
    if len(p) != 2 or any(isinstance(e, bool) or not isinstance(e, int) for e in p):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    return p


def _as_4d_from_1d(input, op: str):
    """``(N, C, L)`` or ``(C, L)`` as ``(N, C, 1, L)``, and whether it was unbatched."""
    if input.ndim not in (2, 3):
        raise _rustdl.ArgumentError(
            f"{op}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape {tuple(input.shape)}"
        )
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    return x.unsqueeze(2), unbatched


def _check_pool1d(op: str, input, k: int, s: int, p: int, d: int = 1, ceil_mode: bool = False) -> None:
    """PyTorch's 1-D pooling argument checks, with the 1-D names and shapes."""
    _check_pool_nonempty(op, input, 3)
    if k <= 0 or s <= 0 or d <= 0:
        raise _rustdl.ArgumentError(
            f"{op}: kernel_size, stride and dilation must be positive, got kernel_size={k}, stride={s}, dilation={d}"
        )
    if p < 0 or p > k // 2:
        raise _rustdl.ArgumentError(
            f"{op}: padding should be non-negative and at most half of kernel_size {k}, got {p}"
        )
    # ceil_mode keeps one window that starts inside a too-short input (as PyTorch)
    short = d * (k - 1) + 1 - (input.shape[-1] + 2 * p) if input.ndim in (2, 3) else 0
    if short > 0 and not (ceil_mode and short < s and input.shape[-1] + p > 0):
        raise _rustdl.ShapeError(
            f"{op}: input of shape {tuple(input.shape)} padded by {p} is smaller than the kernel span {d * (k - 1) + 1}"
        )


def _from_4d_to_1d(out, unbatched: bool):
    out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out


def _as_4d(input, op: str):
    """``(N, C, H, W)`` or ``(C, H, W)`` as 4-D, and whether it was unbatched."""
    if input.ndim not in (3, 4):
        raise _rustdl.ArgumentError(
            f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {tuple(input.shape)}"
        )
    return (input.unsqueeze(0), True) if input.ndim == 3 else (input, False)


def upsample(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None):
    """Deprecated alias of :func:`interpolate`, as in PyTorch."""
    import warnings

    warnings.warn("upsample is deprecated, use interpolate instead", UserWarning, stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(input, size, scale_factor, mode="nearest")``."""
    return interpolate(input, size, scale_factor, "nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)``."""
    return interpolate(input, size, scale_factor, "bilinear", True)


def max_pool1d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """1-D max pooling of an ``(N, C, L)`` or ``(C, L)`` input (max_pool2d over a height-1 view);
    ``return_indices`` also returns each maximum's index along ``L``."""
    return_indices = bool(return_indices)  # any truthy value, as PyTorch takes it
    op = "max_pool1d"
    k = _single(kernel_size, op, "kernel_size")
    s = (
        k
        if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
        else _single(stride, op, "stride")
    )
    p, d = _single(padding, op, "padding"), _single(dilation, op, "dilation")
    x, unbatched = _as_4d_from_1d(input, op)
    _check_pool1d(op, input, k, s, p, d, ceil_mode)
    out = max_pool2d(x, (1, k), (1, s), (0, p), (1, d), ceil_mode, return_indices)
    if return_indices:
        return _from_4d_to_1d(out[0], unbatched), _from_4d_to_1d(out[1], unbatched)
    return _from_4d_to_1d(out, unbatched)


def avg_pool1d(
    input, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True
):
    """1-D average pooling of an ``(N, C, L)`` or ``(C, L)`` input (avg_pool2d over a height-1 view)."""
    op = "avg_pool1d"
    k = _single(kernel_size, op, "kernel_size")
    s = (
        k
        if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
        else _single(stride, op, "stride")
    )
    p = _single(padding, op, "padding")
    x, unbatched = _as_4d_from_1d(input, op)
    _check_pool1d(op, input, k, s, p, 1, ceil_mode)
    return _from_4d_to_1d(avg_pool2d(x, (1, k), (1, s), (0, p), ceil_mode, count_include_pad), unbatched)


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of an ``(N, C, L)`` or ``(C, L)`` input to ``output_size`` along ``L``."""
    op = "adaptive_avg_pool1d"
    o = _single(output_size, op, "output_size")
    if o < 0:
        raise _rustdl.ArgumentError(f"{op}: output_size must be non-negative, got {output_size!r}")
    x, unbatched = _as_4d_from_1d(input, op)
    if o == 0:  # an empty result, as PyTorch's
        return input[..., :0].clone()
    return _from_4d_to_1d(adaptive_avg_pool2d(x, (1, o)), unbatched)


def adaptive_max_pool1d(input, output_size, return_indices: bool = False):
    """Max pooling of an ``(N, C, L)`` or ``(C, L)`` input to ``output_size`` along ``L``;
    ``return_indices`` also returns each maximum's index along ``L``."""
    return_indices = bool(return_indices)  # any truthy value, as PyTorch takes it
    op = "adaptive_max_pool1d"
    o = _single(output_size, op, "output_size")
    if o < 0:
        raise _rustdl.ArgumentError(f"{op}: output_size must be non-negative, got {output_size!r}")
    x, unbatched = _as_4d_from_1d(input, op)
    if o == 0:  # an empty result, as PyTorch's
        empty = input[..., :0].clone()
        return (empty, _rustdl.zeros(tuple(empty.shape), dtype=_rustdl.int64)) if return_indices else empty
    out = adaptive_max_pool2d(x, (1, o), return_indices)
    if return_indices:
        return _from_4d_to_1d(out[0], unbatched), _from_4d_to_1d(out[1], unbatched)
    return _from_4d_to_1d(out, unbatched)


def _lp_finish(pooled, norm_type: float, count: int):
    return (pooled.sign() * relu(pooled.abs())).mul(count).pow(1.0 / norm_type)


def _check_norm_type(op: str, norm_type) -> None:
    if not isinstance(norm_type, (int, float)) or norm_type == 0:
        raise _rustdl.ArgumentError(f"{op}: norm_type must be a non-zero number, got {norm_type!r}")


def _lp_extreme(max_pool, input, norm_type: float, kernel, stride, ceil_mode: bool):
    """LP pooling of order ±inf: the largest (``inf``) or smallest (``-inf``) ``|x|`` of each
    window, as PyTorch."""
    stride = stride if stride is not None else kernel
    if norm_type > 0:
        return max_pool(input.abs(), kernel, stride, 0, ceil_mode=ceil_mode)
    return -max_pool(-input.abs(), kernel, stride, 0, ceil_mode=ceil_mode)


def lp_pool1d(input, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False):
    """Power-average pooling ``(Σ x^p)^(1/p)`` over windows of an ``(N, C, L)`` or ``(C, L)`` input."""
    k = _single(kernel_size, "lp_pool1d", "kernel_size")
    _check_norm_type("lp_pool1d", norm_type)
    if math.isinf(norm_type):  # the largest (inf) or smallest (-inf) magnitude in each window
        return _lp_extreme(max_pool1d, input, norm_type, k, stride, ceil_mode)
    out = avg_pool1d(input.pow(norm_type), k, stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, k)


def lp_pool2d(input, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False):
    """Power-average pooling ``(Σ x^p)^(1/p)`` over windows of an ``(N, C, H, W)`` or ``(C, H, W)`` input."""
    kh, kw = _pair(kernel_size, "lp_pool2d", "kernel_size")
    _check_norm_type("lp_pool2d", norm_type)
    if math.isinf(norm_type):
        return _lp_extreme(max_pool2d, input, norm_type, (kh, kw), stride, ceil_mode)
    x, unbatched = _as_4d(input, "lp_pool2d")
    out = avg_pool2d(x.pow(norm_type), (kh, kw), stride if stride is not None else (kh, kw), 0, ceil_mode)
    out = _lp_finish(out, norm_type, kh * kw)
    return out.squeeze(0) if unbatched else out


def instance_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
):
    """Normalises each ``(n, c)`` instance of an ``(N, C, ...)`` input over its spatial dims.

    With ``use_input_stats`` the per-instance statistics are used (and the running ones, if
    given, move towards their batch averages, unbiased variance); otherwise the running ones.
    """
    op = "instance_norm"
    if input.ndim < 3:
        raise _rustdl.ArgumentError(
            f"{op}: expected an input of 3 or more dims (N, C, ...), got shape {tuple(input.shape)}"
        )
    c = input.shape[1]
    for name, v in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if v is not None and tuple(v.shape) != (c,):
            raise _rustdl.ArgumentError(
                f"{op}: {name} must have shape ({c},) for input shape {tuple(input.shape)}, got {tuple(v.shape)}"
            )
    dims = tuple(range(2, input.ndim))
    stat_shape = (1, c) + (1,) * len(dims)
    if use_input_stats:
        count = 1
        for d in dims:
            count *= input.shape[d]
        if count == 0:  # no spatial element: nothing to normalise, as PyTorch (an empty result)
            return input * 0
        if count <= 1:
            raise _rustdl.ArgumentError(
                f"{op}: expected more than 1 spatial element when training, got input shape {tuple(input.shape)}"
            )
        mean = input.mean(dim=dims, keepdim=True)
        centred = input - mean
        var = (centred * centred).mean(dim=dims, keepdim=True)
        out = centred / (var + eps).sqrt()
        if running_mean is not None or running_var is not None:
            from ..autograd import no_grad

            with no_grad():
                if running_mean is not None:
                    bm = mean.detach().reshape(input.shape[0], c).mean(0)
                    running_mean.copy_(running_mean * (1 - momentum) + bm * momentum)
                if running_var is not None:
                    bv = var.detach().reshape(input.shape[0], c).mean(0) * (count / (count - 1))
                    running_var.copy_(running_var * (1 - momentum) + bv * momentum)
    else:
        if running_mean is None or running_var is None:
            raise _rustdl.ArgumentError(f"{op}: use_input_stats=False needs running_mean and running_var")
        out = (input - running_mean.reshape(stat_shape)) / (running_var.reshape(stat_shape) + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(stat_shape)
    if bias is not None:
        out = out + bias.reshape(stat_shape)
    return out


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """``x / sqrt(mean(x², last dims) + eps) · weight`` over the trailing ``normalized_shape``
    dims; ``eps=None`` is the machine epsilon of ``input``'s dtype, as PyTorch."""
    op = "rms_norm"
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or k > input.ndim or tuple(input.shape[input.ndim - k :]) != shape:
        raise _rustdl.ArgumentError(
            f"{op}: normalized_shape {shape} does not match the trailing dims of input shape {tuple(input.shape)}"
        )
    if weight is not None and tuple(weight.shape) != shape:
        raise _rustdl.ArgumentError(f"{op}: weight must have shape {shape}, got {tuple(weight.shape)}")
    if eps is None:
        from .. import finfo

        eps = finfo(input.dtype).eps
    dims = tuple(range(input.ndim - k, input.ndim))
    out = input * ((input * input).mean(dim=dims, keepdim=True) + eps).rsqrt()
    return out * weight if weight is not None else out


def pixel_shuffle(input, upscale_factor: int):
    """``(*, C·r², H, W)`` to ``(*, C, H·r, W·r)``, as ``torch.nn.functional.pixel_shuffle``."""
    op = "pixel_shuffle"
    r = upscale_factor
    if isinstance(r, bool) or not isinstance(r, int) or r <= 0:
        raise _rustdl.ArgumentError(f"{op}: upscale_factor must be a positive int, got {r!r}")
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise _rustdl.ArgumentError(
            f"{op}: expected an input of 3 or more dims whose channels divide by upscale_factor²={r * r}, "
            f"got shape {tuple(input.shape)}"
        )
    *b, c, h, w = input.shape
    nb = len(b)
    x = input.reshape(*b, c // (r * r), r, r, h, w)
    x = x.permute(*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)
    return x.reshape(*b, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor: int):
    """``(*, C, H·r, W·r)`` to ``(*, C·r², H, W)``, the inverse of :func:`pixel_shuffle`."""
    op = "pixel_unshuffle"
    r = downscale_factor
    if isinstance(r, bool) or not isinstance(r, int) or r <= 0:
        raise _rustdl.ArgumentError(f"{op}: downscale_factor must be a positive int, got {r!r}")
    if input.ndim < 3 or input.shape[-2] % r or input.shape[-1] % r:
        raise _rustdl.ArgumentError(
            f"{op}: expected an input of 3 or more dims whose height and width divide by downscale_factor={r}, "
            f"got shape {tuple(input.shape)}"
        )
    *b, c, h, w = input.shape
    nb = len(b)
    x = input.reshape(*b, c, h // r, r, w // r, r)
    x = x.permute(*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)
    return x.reshape(*b, c * r * r, h // r, w // r)


def channel_shuffle(input, groups: int):
    """Interleaves the channels of an ``(N, C, *)`` input: ``(N, g, C/g, *)`` → ``(N, C/g, g, *)``."""
    op = "channel_shuffle"
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
        raise _rustdl.ArgumentError(f"{op}: groups must be a positive int, got {groups!r}")
    if input.ndim < 3 or input.shape[1] % groups:
        raise _rustdl.ArgumentError(
            f"{op}: expected an input (N, C, *) of 3 or more dims with C divisible by groups={groups}, "
            f"got shape {tuple(input.shape)}"
        )
    n, c, *rest = input.shape
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)


def _unfold_geometry(op: str, h: int, w: int, kernel_size, dilation, padding, stride):
    (kh, kw), (dh, dw) = _pair(kernel_size, op, "kernel_size"), _pair(dilation, op, "dilation")
    (ph, pw), (sh, sw) = _pair(padding, op, "padding"), _pair(stride, op, "stride")
    if min(kh, kw, dh, dw, sh, sw) <= 0 or min(ph, pw) < 0:
        raise _rustdl.ArgumentError(
            f"{op}: kernel_size, dilation and stride must be positive and padding non-negative, got "
            f"kernel_size={kernel_size!r}, dilation={dilation!r}, padding={padding!r}, stride={stride!r}"
        )
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return (kh, kw), (dh, dw), (ph, pw), (sh, sw), oh, ow


def _unfold_index(kh, kw, dh, dw, sh, sw, oh, ow, wp, device):
    """Flat indices into the padded ``Hp·Wp`` plane, ordered ``(kh, kw, oh, ow)``."""
    import numpy as np

    from .. import tensor as _tensor

    rows = np.arange(kh)[:, None, None, None] * dh + np.arange(oh)[None, None, :, None] * sh
    cols = np.arange(kw)[None, :, None, None] * dw + np.arange(ow)[None, None, None, :] * sw
    idx = (rows * wp + cols).reshape(-1).astype(np.int64)
    return _tensor(idx, dtype=_rustdl.int64, device=device)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding ``kh×kw`` blocks of an ``(N, C, H, W)`` or ``(C, H, W)`` input as columns:
    ``(N, C·kh·kw, L)`` with ``L`` block positions (im2col), as ``torch.nn.functional.unfold``."""
    op = "unfold"
    x, unbatched = _as_4d(input, op)
    n, c, h, w = x.shape
    (kh, kw), (dh, dw), (ph, pw), (sh, sw), oh, ow = _unfold_geometry(
        op, h, w, kernel_size, dilation, padding, stride
    )
    if oh <= 0 or ow <= 0:
        raise _rustdl.ArgumentError(
            f"{op}: the kernel ({kh}, {kw}) with dilation ({dh}, {dw}) does not fit the padded input "
            f"({h + 2 * ph}, {w + 2 * pw}) of input shape {tuple(input.shape)}"
        )
    if x.numel() == 0:  # no element: the columns are empty, whatever the image size
        cols = x.reshape(n, c * h * w)[:, :0].sum(-1).reshape(n, 1, 1).expand(n, c * kh * kw, oh * ow)
        return (cols.squeeze(0) if unbatched else cols).contiguous()
    if ph or pw:
        x = pad(x, (pw, pw, ph, ph))
    hp, wp = h + 2 * ph, w + 2 * pw
    idx = _unfold_index(kh, kw, dh, dw, sh, sw, oh, ow, wp, x.device)
    cols = x.reshape(n, c, hp * wp).index_select(2, idx).reshape(n, c * kh * kw, oh * ow)
    return cols.squeeze(0) if unbatched else cols


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sums columns ``(N, C·kh·kw, L)`` (or ``(C·kh·kw, L)``) back into an ``(N, C, H, W)``
    image, overlapping blocks adding up: the adjoint of :func:`unfold` (col2im)."""
    op = "fold"
    if input.ndim not in (2, 3):
        raise _rustdl.ArgumentError(
            f"{op}: expected a 2-D or 3-D input (N, C·kh·kw, L), got shape {tuple(input.shape)}"
        )
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    h, w = _pair(output_size, op, "output_size")
    (kh, kw), (dh, dw), (ph, pw), (sh, sw), oh, ow = _unfold_geometry(
        op, h, w, kernel_size, dilation, padding, stride
    )
    n, ck, length = x.shape
    if ck % (kh * kw):
        raise _rustdl.ArgumentError(
            f"{op}: expected input dim 1 to be divisible by kh·kw={kh * kw}, got input shape {tuple(input.shape)}"
        )
    if oh <= 0 or ow <= 0 or length != oh * ow:
        raise _rustdl.ArgumentError(
            f"{op}: input shape {tuple(input.shape)} has {length} blocks, but output_size ({h}, {w}) with "
            f"kernel ({kh}, {kw}) gives {max(oh, 0)}×{max(ow, 0)} blocks"
        )
    c = ck // (kh * kw)
    hp, wp = h + 2 * ph, w + 2 * pw
    idx = _unfold_index(kh, kw, dh, dw, sh, sw, oh, ow, wp, x.device)
    src = x.reshape(n, c, kh * kw * length)
    idx = idx.reshape(1, 1, -1).expand(n, c, kh * kw * length)
    zeros = _rustdl.zeros(n, c, hp * wp, dtype=x.dtype, device=x.device)
    out = zeros.scatter_add(2, idx, src).reshape(n, c, hp, wp)
    if ph or pw:
        out = out.narrow(2, ph, h).narrow(3, pw, w)
    return out.squeeze(0) if unbatched else out


def _unpool_scatter(src, flat, total: int, size_text: str, op: str):
    """Scatters the values ``src (N, C, M)`` to their flat positions ``flat`` in zeros of
    ``(N, C, total)`` (indices checked; a position picked twice keeps one copy of the value while
    each copy gets the gradient at its index, as PyTorch)."""
    import numpy as np

    n, c, m = src.shape
    ids = flat.cpu().numpy()
    if ids.size and (ids.min() < 0 or ids.max() >= total):
        raise _rustdl.ArgumentError(
            f"{op}: indices must be in [0, {total}) for an output of size {size_text}, "
            f"got values in [{ids.min()}, {ids.max()}]"
        )
    zeros = _rustdl.zeros(n, c, total, dtype=src.dtype, device=src.device)
    out = zeros.scatter_add(2, flat, src)
    keyed = (ids + (np.arange(n * c).reshape(n, c, 1) * total)).reshape(-1)
    first = np.unique(keyed, return_index=True)[1]
    if first.size != keyed.size:
        dup = np.ones(keyed.size, dtype=np.float64)
        dup[first] = 0.0
        extra = _rustdl.tensor(dup.reshape(n, c, m), dtype=src.dtype, device=src.device)
        out = out - zeros.scatter_add(2, flat, src.detach() * extra)
    return out


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Places each value of an ``(N, C, H, W)`` (or ``(C, H, W)``) max-pooled input at its flat
    ``indices`` (from ``max_pool2d(..., return_indices=True)``) in a zero image, as PyTorch."""
    op = "max_unpool2d"
    x, unbatched = _as_4d(input, op)
    if tuple(indices.shape) != tuple(input.shape):
        raise _rustdl.ArgumentError(
            f"{op}: indices shape {tuple(indices.shape)} must match input shape {tuple(input.shape)}"
        )
    if indices.dtype != _rustdl.int64:
        raise TypeError(f"{op}: indices must be int64, got {indices.dtype}")
    kh, kw = _pair(kernel_size, op, "kernel_size")
    sh, sw = _pair(stride if stride is not None else (kh, kw), op, "stride")
    ph, pw = _pair(padding, op, "padding")
    n, c, h, w = x.shape
    oh, ow = (h - 1) * sh - 2 * ph + kh, (w - 1) * sw - 2 * pw + kw
    if output_size is not None:
        size = tuple(output_size)[-2:]
        if len(size) != 2:
            raise _rustdl.ArgumentError(f"{op}: output_size must give (H, W), got {output_size!r}")
        # as PyTorch: each size within one stride of the size the pooling came from
        for d, (want, got, st) in enumerate(zip((oh, ow), size, (sh, sw))):
            if kh == 1 and d == 0 and h == 1 and int(got) == 1:
                continue  # max_unpool1d's added height
            if not want - st < int(got) < want + st:
                raise _rustdl.ArgumentError(
                    f"{op}: invalid output_size {tuple(output_size)} (dim {d} must be between "
                    f"{want - st} and {want + st})"
                )
        oh, ow = int(size[0]), int(size[1])
    idx = indices.unsqueeze(0) if unbatched else indices
    out = _unpool_scatter(x.reshape(n, c, h * w), idx.reshape(n, c, h * w), oh * ow, f"({oh}, {ow})", op)
    out = out.reshape(n, c, oh, ow)
    return out.squeeze(0) if unbatched else out


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """1-D :func:`max_unpool2d` of an ``(N, C, L)`` or ``(C, L)`` input."""
    op = "max_unpool1d"
    k = _single(kernel_size, op, "kernel_size")
    s = k if stride is None else _single(stride, op, "stride")
    p = _single(padding, op, "padding")
    x, unbatched = _as_4d_from_1d(input, op)
    if tuple(indices.shape) != tuple(input.shape):
        raise _rustdl.ArgumentError(
            f"{op}: indices shape {tuple(indices.shape)} must match input shape {tuple(input.shape)}"
        )
    size = (
        None
        if output_size is None
        else (1, tuple(output_size)[-1] if not isinstance(output_size, int) else output_size)
    )
    idx = indices.unsqueeze(0) if unbatched else indices
    out = max_unpool2d(x, idx.unsqueeze(2), (1, k), (1, s), (0, p), size)
    return _from_4d_to_1d(out, unbatched)


def affine_grid(theta, size, align_corners=None):
    """Sampling grid of normalised coordinates for a batch of affine matrices: ``theta``
    ``(N, 2, 3)`` and ``size`` ``(N, C, H, W)`` give ``(N, H, W, 2)`` ``(x, y)`` points; ``theta``
    ``(N, 3, 4)`` and ``size`` ``(N, C, D, H, W)`` give ``(N, D, H, W, 3)`` ``(x, y, z)`` points."""
    op = "affine_grid"
    # sizes may be ints or 0-d integer tensors (shapes computed with tensors), as PyTorch takes them
    size = tuple(v.__index__() if isinstance(v, _rustdl.Tensor) and v.ndim == 0 else v for v in size)
    if len(size) not in (4, 5):
        raise _rustdl.ArgumentError(f"{op}: expected a size (N, C, H, W) or (N, C, D, H, W), got size={size}")
    nd = len(size) - 2
    n, spatial = size[0], size[2:]
    if any(not isinstance(v, int) or v <= 0 for v in size):
        raise _rustdl.ArgumentError(f"{op}: expected non-zero, positive output size, got {list(size)}")
    if theta.ndim != 3 or tuple(theta.shape) != (n, nd, nd + 1):
        raise _rustdl.ArgumentError(
            f"{op}: expected theta of shape ({n}, {nd}, {nd + 1}) for size {size}, got {tuple(theta.shape)}"
        )
    if not theta.is_floating_point():
        raise TypeError(f"{op}: theta must be floating point, got {theta.dtype}")
    from .. import linspace, ones, stack

    def axis(k):
        line = linspace(-1.0, 1.0, k, dtype=theta.dtype, device=theta.device)
        if k == 1:
            return line * 0.0
        # scaled as PyTorch's: times (k - 1), then divided by k (one rounding each; the
        # identity grid must land exactly where PyTorch's does, on pixel centres)
        return line if align_corners else line * (k - 1) / k

    # coordinate j varies along spatial dim nd-1-j (x along the last dim, then y, then z)
    coords = []
    for j in range(nd):
        dim = nd - 1 - j
        shape = [1] * nd
        shape[dim] = spatial[dim]
        coords.append(axis(spatial[dim]).reshape(*shape).expand(*spatial))
    coords.append(ones(*spatial, dtype=theta.dtype, device=theta.device))
    count = math.prod(spatial)
    base = stack(coords, -1).reshape(1, count, nd + 1, 1)
    # x·t0 + y·t1 + 1·t2 summed left to right with one rounding per product and sum, as the
    # product PyTorch takes (a fused multiply-add rounds differently, and align_corners puts
    # points on exact pixel positions, where the last bit picks the bilinear cell and its gradient)
    th = theta.unsqueeze(1)  # (n, 1, nd, nd + 1)
    out = base[..., 0, :] * th[..., 0]
    for k in range(1, nd + 1):
        out = out + base[..., k, :] * th[..., k]
    return out.reshape(n, *spatial, nd)


def _grid_unnormalize(coord, size: int, align_corners: bool):
    """Normalised ``[-1, 1]`` coordinates to pixel ones."""
    if align_corners:
        return ((coord + 1) / 2) * (size - 1)  # PyTorch's order of float ops
    return ((coord + 1) * size - 1) / 2


def _grid_coord(coord, size: int, padding_mode: str, align_corners: bool):
    """Normalised ``[-1, 1]`` coordinates to pixel ones, with ``border``/``reflection`` folding."""
    return _grid_pad(_grid_unnormalize(coord, size, align_corners), size, padding_mode, align_corners)


def _cubic_weights(t, a: float = -0.75):
    """The four cubic-convolution weights (Keys, ``a = -0.75`` as PyTorch) of the taps at
    ``-1, 0, 1, 2`` for a fractional offset ``t``."""

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return far(t + 1), near(t), near(1 - t), far(2 - t)


def _grid_pad(pix, size: int, padding_mode: str, align_corners: bool):
    """Pixel coordinates folded into the image by ``border`` clamping or ``reflection``."""
    from .. import where

    if padding_mode == "border":
        pix = pix.clamp(0, size - 1)
    elif padding_mode == "reflection":
        lo, hi = (0.0, 2.0 * (size - 1)) if align_corners else (-1.0, 2.0 * size - 1)
        if hi > lo:
            low, span = lo / 2, (hi - lo) / 2
            dist = (pix - low).abs()
            flips = (dist / span).floor().detach()
            extra = dist - flips * span
            even = flips.remainder(2) == 0
            pix = where(even, extra + low, span - extra + low)
        else:
            pix = pix * 0.0
        pix = pix.clamp(0, size - 1)
    if padding_mode != "zeros":  # a NaN coordinate reads the first pixel, as PyTorch's
        pix = where(pix != pix, pix.new_zeros(()), pix)
    return pix


def grid_sample(input, grid, mode: str = "bilinear", padding_mode: str = "zeros", align_corners=None):
    """Samples an ``(N, C, H, W)`` input at the normalised ``(x, y)`` points of ``grid``
    ``(N, H_out, W_out, 2)`` (``-1`` / ``1`` the edges), ``bilinear``, ``nearest`` or ``bicubic``,
    outside points read as ``zeros``, the ``border`` or the ``reflection``; differentiable in input
    and grid."""
    op = "grid_sample"
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise _rustdl.ArgumentError(f"{op}: mode must be 'bilinear', 'nearest' or 'bicubic', got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise _rustdl.ArgumentError(
            f"{op}: padding_mode must be 'zeros', 'border' or 'reflection', got {padding_mode!r}"
        )
    if (
        input.ndim not in (4, 5)
        or grid.ndim != input.ndim
        or grid.shape[-1] != input.ndim - 2
        or grid.shape[0] != input.shape[0]
    ):
        raise _rustdl.ArgumentError(
            f"{op}: expected a 4-D input (N, C, H, W) with a grid (N, H_out, W_out, 2), or a 5-D input "
            f"(N, C, D, H, W) with a grid (N, D_out, H_out, W_out, 3), got input {tuple(input.shape)} "
            f"and grid {tuple(grid.shape)}"
        )
    align = bool(align_corners)
    if input.ndim == 5:
        return _grid_sample_3d(input, grid, mode, padding_mode, align)
    n, c, h, w = input.shape
    ho, wo = grid.shape[1], grid.shape[2]
    if h == 0 or w == 0:
        raise _rustdl.ArgumentError(
            f"{op}: expected input to have non-empty spatial dimensions, got {tuple(input.shape)}"
        )
    if not input.is_floating_point() or not grid.is_floating_point():
        raise TypeError(f"{op}: expected floating-point input and grid, got {input.dtype} and {grid.dtype}")
    grid = grid.to(input.dtype)
    gx = grid.narrow(-1, 0, 1).reshape(n, ho * wo)
    gy = grid.narrow(-1, 1, 1).reshape(n, ho * wo)
    flat = input.reshape(n, c, h * w)

    def corner(xi, yi):
        """Values at integer pixel coordinates ``(xi, yi)`` (float tensors), zero outside."""
        inside = ((xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)).to(input.dtype)
        # a NaN coordinate is outside (its weight makes the value NaN, as PyTorch's)
        xi, yi = xi.nan_to_num(0.0), yi.nan_to_num(0.0)
        lin = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).long()
        vals = flat.gather(2, lin.reshape(n, 1, ho * wo).expand(n, c, ho * wo))
        return vals * inside.reshape(n, 1, ho * wo)

    if mode == "bicubic":
        # PyTorch's order: the unpadded coordinate's 4x4 taps, each folded by the padding mode
        ix, iy = _grid_unnormalize(gx, w, align), _grid_unnormalize(gy, h, align)
        x0, y0 = ix.detach().floor(), iy.detach().floor()
        wxs, wys = _cubic_weights(ix - x0), _cubic_weights(iy - y0)
        xs = [_grid_pad(x0 + (k - 1), w, padding_mode, align).detach() for k in range(4)]
        ys = [_grid_pad(y0 + (k - 1), h, padding_mode, align).detach() for k in range(4)]
        out = 0
        for yk, wy in zip(ys, wys):
            for xk, wx in zip(xs, wxs):
                out = out + corner(xk, yk) * (wx * wy).reshape(n, 1, ho * wo)
        return out.reshape(n, c, ho, wo)
    ix = _grid_coord(gx, w, padding_mode, align)
    iy = _grid_coord(gy, h, padding_mode, align)
    if mode == "nearest":
        out = corner(ix.detach().round(), iy.detach().round())
        if grid.requires_grad and _rustdl.is_grad_enabled():
            # the output is piecewise constant in grid: PyTorch gives grid a zero gradient (not
            # None). where() with an all-true mask keeps the values bit for bit and sends grid 0.
            keep = _rustdl.ones((1, 1, 1), dtype=_rustdl.bool, device=out.device)
            out = _rustdl.where(keep, out, gx.reshape(n, 1, ho * wo))
    else:
        x0, y0 = ix.detach().floor(), iy.detach().floor()
        fx, fy = ix - x0, iy - y0
        out = 0
        for dx, wx in ((0, 1 - fx), (1, fx)):
            for dy, wy in ((0, 1 - fy), (1, fy)):
                out = out + corner(x0 + dx, y0 + dy) * (wx * wy).reshape(n, 1, ho * wo)
    return out.reshape(n, c, ho, wo)


def _grid_sample_3d(input, grid, mode: str, padding_mode: str, align: bool):
    """:func:`grid_sample` of an ``(N, C, D, H, W)`` volume at ``(x, y, z)`` points:
    ``bilinear`` (trilinear, 8 taps) or ``nearest``, as PyTorch's 5-D case (no bicubic)."""
    op = "grid_sample"
    if mode == "bicubic":
        raise _rustdl.ArgumentError(
            f"{op}: bicubic interpolation only supports 4-D input, got {tuple(input.shape)}"
        )
    n, c, d, h, w = input.shape
    if d == 0 or h == 0 or w == 0:
        raise _rustdl.ArgumentError(
            f"{op}: expected input to have non-empty spatial dimensions, got {tuple(input.shape)}"
        )
    if not input.is_floating_point() or not grid.is_floating_point():
        raise TypeError(f"{op}: expected floating-point input and grid, got {input.dtype} and {grid.dtype}")
    grid = grid.to(input.dtype)
    do, ho, wo = grid.shape[1], grid.shape[2], grid.shape[3]
    p = do * ho * wo
    gx, gy, gz = (grid.narrow(-1, k, 1).reshape(n, p) for k in range(3))
    flat = input.reshape(n, c, d * h * w)

    def corner(xi, yi, zi):
        """Values at integer voxel coordinates (float tensors), zero outside."""
        inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1) & (zi >= 0) & (zi <= d - 1)
        xi, yi, zi = xi.nan_to_num(0.0), yi.nan_to_num(0.0), zi.nan_to_num(0.0)
        lin = ((zi.clamp(0, d - 1) * h + yi.clamp(0, h - 1)) * w + xi.clamp(0, w - 1)).long()
        vals = flat.gather(2, lin.reshape(n, 1, p).expand(n, c, p))
        return vals * inside.to(input.dtype).reshape(n, 1, p)

    ix = _grid_coord(gx, w, padding_mode, align)
    iy = _grid_coord(gy, h, padding_mode, align)
    iz = _grid_coord(gz, d, padding_mode, align)
    if mode == "nearest":
        out = corner(ix.detach().round(), iy.detach().round(), iz.detach().round())
        if grid.requires_grad and _rustdl.is_grad_enabled():
            # piecewise constant in grid: a zero gradient for it, values kept bit for bit
            keep = _rustdl.ones((1, 1, 1), dtype=_rustdl.bool, device=out.device)
            out = _rustdl.where(keep, out, gx.reshape(n, 1, p))
    else:
        x0, y0, z0 = ix.detach().floor(), iy.detach().floor(), iz.detach().floor()
        fx, fy, fz = ix - x0, iy - y0, iz - z0
        out = 0
        for dz, wz in ((0, 1 - fz), (1, fz)):
            for dy, wy in ((0, 1 - fy), (1, fy)):
                for dx, wx in ((0, 1 - fx), (1, fx)):
                    out = out + corner(x0 + dx, y0 + dy, z0 + dz) * (wx * wy * wz).reshape(n, 1, p)
    return out.reshape(n, c, do, ho, wo)


def embedding_bag(
    input,
    weight,
    offsets=None,
    max_norm=None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights=None,
    include_last_offset: bool = False,
    padding_idx=None,
):
    """Sums, averages or maxes bags of embeddings, as ``torch.nn.functional.embedding_bag``.

    ``input`` is ``(B, L)`` (fixed-length bags) or 1-D with ``offsets`` (each bag's start);
    ``padding_idx`` entries are left out of each bag; empty bags give zeros.
    """
    import numpy as np

    from .. import tensor as _tensor

    op = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise _rustdl.ArgumentError(f"{op}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if input.is_floating_point() or input.dtype == _rustdl.bool:
        raise TypeError(f"{op}: expected integer indices, got {input.dtype}")
    input = input.long()
    if weight.ndim != 2:
        raise _rustdl.ArgumentError(
            f"{op}: expected a 2-D weight (num_embeddings, embedding_dim), got {tuple(weight.shape)}"
        )
    if scale_grad_by_freq:
        raise _rustdl.ArgumentError(f"{op}: scale_grad_by_freq is not supported")
    # sparse=True is accepted: the gradient is dense (zero in the rows no bag looked up)
    if per_sample_weights is not None:
        if mode != "sum":
            raise _rustdl.ArgumentError(
                f"{op}: per_sample_weights is only supported for mode='sum', got mode={mode!r}"
            )
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise _rustdl.ArgumentError(
                f"{op}: per_sample_weights shape {tuple(per_sample_weights.shape)} must match input shape "
                f"{tuple(input.shape)}"
            )
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise _rustdl.ArgumentError(f"{op}: padding_idx {padding_idx} out of range for {num} embeddings")
        padding_idx %= num
    if input.ndim == 2:
        if offsets is not None:
            raise _rustdl.ArgumentError(
                f"{op}: offsets must be None for a 2-D input, got offsets of shape {tuple(offsets.shape)}"
            )
        b, length = input.shape
        starts = [i * length for i in range(b)]
        flat = input.reshape(-1)
        psw = per_sample_weights.reshape(-1) if per_sample_weights is not None else None
    elif input.ndim == 1:
        if offsets is None or offsets.ndim != 1:
            raise _rustdl.ArgumentError(
                f"{op}: a 1-D input needs 1-D offsets, got {None if offsets is None else tuple(offsets.shape)}"
            )
        starts = [int(v) for v in offsets.cpu().numpy().tolist()]
        flat, psw = input, per_sample_weights
        if include_last_offset:
            if not starts:
                raise _rustdl.ArgumentError(f"{op}: include_last_offset needs at least one offset")
            # the last offset ends the last bag: indices past it belong to no bag (PyTorch's)
            last = starts[-1]
            starts = starts[:-1]
            if not (starts[-1] if starts else 0) <= last <= flat.shape[0]:
                raise _rustdl.ArgumentError(
                    f"{op}: the last offset {last} must lie between the last bag's start and {flat.shape[0]}"
                )
            flat = flat[:last]
            psw = psw[:last] if psw is not None else None
        if not starts:  # no bags: nothing is looked up
            flat = flat[:0]
            psw = psw[:0] if psw is not None else None
    else:
        raise _rustdl.ArgumentError(f"{op}: expected a 1-D or 2-D input, got shape {tuple(input.shape)}")
    total = flat.shape[0]
    if starts and (starts[0] != 0 or any(a > c for a, c in zip(starts, starts[1:])) or starts[-1] > total):
        raise _rustdl.ArgumentError(
            f"{op}: offsets must start at 0, not decrease and not exceed {total}, got {starts}"
        )
    ids = flat.cpu().numpy().astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= num):
        raise _rustdl.ArgumentError(
            f"{op}: indices must be in [0, {num}), got values in [{ids.min()}, {ids.max()}]"
        )
    if max_norm is not None:
        _embedding_renorm_(flat, weight, max_norm, norm_type)
    ends = starts[1:] + [total]
    nb = len(starts)
    dim = weight.shape[1]
    keep = np.ones(total, dtype=bool) if padding_idx is None else ids != padding_idx
    if mode == "max":
        rows = []
        for s, e in zip(starts, ends):
            sel = [t for t in range(s, e) if keep[t]]
            if sel:
                picked = weight.index_select(0, _tensor(ids[sel], dtype=_rustdl.int64, device=weight.device))
                # the gradient of a tie goes to its first bag member, as PyTorch
                rows.append(picked.max(dim=0, keepdim=True)[0])
            else:
                rows.append(_rustdl.zeros(1, dim, dtype=weight.dtype, device=weight.device))
        if not rows:
            return _on_graph_of(_rustdl.zeros(0, dim, dtype=weight.dtype, device=weight.device), weight)
        return _on_graph_of(_rustdl.cat(rows, 0), weight)
    # sum / mean: each looked-up row, scaled (0 for padding, 1/count for mean), added into its bag
    bag_of = np.zeros(total, dtype=np.int64)
    scale = keep.astype(np.float64)
    for bag, (s, e) in enumerate(zip(starts, ends)):
        bag_of[s:e] = bag
        if mode == "mean" and keep[s:e].any():
            scale[s:e] /= keep[s:e].sum()
    rows = weight.index_select(0, _tensor(ids, dtype=_rustdl.int64, device=weight.device))
    rows = rows * _tensor(scale.reshape(total, 1), dtype=weight.dtype, device=weight.device)
    if psw is not None:
        rows = rows * psw.reshape(total, 1).to(weight.dtype)
    where = _tensor(bag_of.reshape(total, 1), dtype=_rustdl.int64, device=weight.device).expand(total, dim)
    out = _rustdl.zeros(nb, dim, dtype=weight.dtype, device=weight.device)
    return out.scatter_add(0, where, rows) if total else _on_graph_of(out, weight)


def _on_graph_of(out, weight):
    """``out``, made to depend on ``weight`` (a zero gradient) where it holds nothing looked up
    (no bags, or only empty ones), so that backward reaches the weight as in PyTorch."""
    if weight.requires_grad and not out.requires_grad and _rustdl.is_grad_enabled():
        return out + weight.narrow(0, 0, 0).sum()
    return out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """1-D convolution of an ``(N, C_in, L)`` input with an ``(C_out, C_in/groups, K)`` weight.

    Runs as a 2-D convolution over a height-1 view, so it shares conv2d's kernels and gradients.
    """
    if weight.ndim != 3:
        raise _rustdl.ArgumentError(
            f"conv1d: expected a 3-D weight (C_out, C_in/groups, K), got shape {tuple(weight.shape)}"
        )
    if input.ndim not in (2, 3):
        raise _rustdl.ArgumentError(
            f"conv1d: expected a 2-D or 3-D input (N, C, L), got shape {tuple(input.shape)}"
        )
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    one = lambda v: v[0] if isinstance(v, (tuple, list)) else v  # noqa: E731
    try:
        out = conv2d(
            x.unsqueeze(2),
            weight.unsqueeze(2),
            bias,
            stride=(1, one(stride)),
            padding=padding if isinstance(padding, str) else (0, one(padding)),
            dilation=(1, one(dilation)),
            groups=groups,
        ).squeeze(2)
    except ValueError as e:
        # the 2-D op's complaint, in the caller's terms
        raise _rustdl.ArgumentError(
            f"conv1d: {str(e).removeprefix('conv2d: ')} (input {tuple(input.shape)}, weight {tuple(weight.shape)})"
        ) from None
    return out.squeeze(0) if unbatched else out


def _adaptive_size(output_size, h: int, w: int, op: str) -> tuple[int, int]:
    """``output_size`` (an int, or a pair whose ``None`` keeps that input dim) as ``(oh, ow)``."""
    output_size = _as_ints(output_size)
    if isinstance(output_size, int):
        pair = (output_size, output_size)
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        pair = tuple(output_size)
    else:
        raise _rustdl.ArgumentError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    oh, ow = (h if pair[0] is None else pair[0]), (w if pair[1] is None else pair[1])
    for v in (oh, ow):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise _rustdl.ArgumentError(f"{op}: output sizes must be positive ints, got {output_size!r}")
    return oh, ow


def adaptive_max_pool2d(input, output_size, return_indices: bool = False):
    """Max pooling to a fixed ``(oh, ow)`` whatever the input size, with PyTorch's windows
    ``[⌊i·H/oh⌋, ⌈(i+1)·H/oh⌉)`` (and likewise along W). ``input`` is ``(N, C, H, W)`` or
    ``(C, H, W)``; ``return_indices`` also returns each maximum's flat index in its ``H·W`` plane.
    """
    return_indices = bool(return_indices)  # any truthy value, as PyTorch takes it
    op = "adaptive_max_pool2d"
    if input.ndim not in (3, 4):
        raise _rustdl.ArgumentError(
            f"{op}: expected (N, C, H, W) or (C, H, W) input, got shape {tuple(input.shape)}"
        )
    h, w = input.shape[-2], input.shape[-1]
    if h == 0 or w == 0:
        raise _rustdl.ArgumentError(f"{op}: expected non-empty spatial dims, got shape {tuple(input.shape)}")
    oh, ow = _adaptive_size(output_size, h, w, op)
    if input.numel() == 0:  # no images or channels: the empty result (no window lists)
        out = input.sum((-2, -1), keepdim=True).expand(*input.shape[:-2], oh, ow).contiguous()
        return (
            (out, _rustdl.zeros(*out.shape, dtype=_rustdl.int64, device=input.device))
            if return_indices
            else out
        )
    if oh * ow > 1 << 20:
        # the windows below are listed in Python: an output no machine holds is refused first
        _rustdl.empty(*input.shape[:-2], oh, ow, dtype=input.dtype, device=input.device)
    if h % oh == 0 and w % ow == 0:
        # equal, non-overlapping windows: an ordinary max pooling
        k = (h // oh, w // ow)
        return max_pool2d(input, k, k, 0, 1, False, return_indices)
    rows = [((i * h) // oh, -(-((i + 1) * h) // oh)) for i in range(oh)]
    cols = [((j * w) // ow, -(-((j + 1) * w) // ow)) for j in range(ow)]
    if not return_indices:
        # max over a rectangle: along each row first, then over the rows; ``max`` hands the
        # gradient to its first maximum, so a tie goes to the first in row-major order, as PyTorch
        r = _rustdl.cat([input.narrow(-1, s, e - s).max(dim=-1, keepdim=True)[0] for s, e in cols], -1)
        return _rustdl.cat([r.narrow(-2, s, e - s).max(dim=-2, keepdim=True)[0] for s, e in rows], -2)
    vals, idxs = [], []
    for hs, he in rows:
        vrow, irow = [], []
        for ws, we in cols:
            win = input.narrow(-2, hs, he - hs).narrow(-1, ws, we - ws)
            flat = win.reshape(*win.shape[:-2], -1)
            v, i = flat.max(dim=-1, keepdim=True)
            ww = we - ws
            vrow.append(v)
            irow.append((i // ww + hs) * w + (i % ww + ws))
        vals.append(_rustdl.cat(vrow, -1).unsqueeze(-2))
        idxs.append(_rustdl.cat(irow, -1).unsqueeze(-2))
    return _rustdl.cat(vals, -2), _rustdl.cat(idxs, -2)


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
    """Local response normalisation across channels (AlexNet):
    ``x_c / (k + alpha/size · Σ x_{c'}²)^beta`` over the ``size`` channels ``c'`` centred on ``c``
    (zero-padded at the edges). ``input`` is ``(N, C, ...)``."""
    if input.ndim < 3:
        raise _rustdl.ArgumentError(
            f"local_response_norm: expected input of 3 or more dims (N, C, ...), got shape {tuple(input.shape)}"
        )
    if not isinstance(size, int) or size <= 0:
        raise _rustdl.ArgumentError(f"local_response_norm: size must be a positive int, got {size!r}")
    n, c = input.shape[0], input.shape[1]
    if input.numel() == 0:  # nothing to normalise (the pooling below refuses empty positions)
        return input / (input * input * alpha + k).pow(beta)
    # the windowed channel mean of the squares as one average pooling over (channels, positions)
    # of the zero-padded squares: its cost does not grow with `size` by a Python loop
    sq = (input * input).reshape(n, 1, c, math.prod(input.shape[2:]))
    sq = pad(sq, (0, 0, size // 2, (size - 1) // 2))
    mean = avg_pool2d(sq, (size, 1), stride=1).reshape(input.shape)
    return input / (mean * alpha + k).pow(beta)


class _ArgumentConflictError(ValueError, RuntimeError):
    """Arguments that cannot be used together: a ``ValueError`` here, a ``RuntimeError`` in PyTorch."""


def _shape(t) -> tuple:
    return tuple(t.shape)


def _float_mask(mask, name: str, dtype, op: str):
    """A bool mask (True = masked out) as an additive float mask of ``dtype`` (``-inf`` where True);
    a float mask cast to ``dtype``; ``None`` stays ``None``."""
    if mask is None:
        return None
    if mask.dtype == _rustdl.bool:
        return _rustdl.zeros(*mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))
    if not mask.is_floating_point():
        raise _MaskTypeError(f"{op}: only bool and floating types of {name} are supported, got {mask.dtype}")
    return mask if mask.dtype == dtype else mask.to(dtype)


class _MaskTypeError(TypeError, AssertionError):
    """A mask of an integer dtype: the ``AssertionError`` PyTorch's attention raises, and a
    ``TypeError``."""


def _check_sdpa_inputs(query, key, value, attn_mask, is_causal: bool, enable_gqa: bool) -> None:
    op = "scaled_dot_product_attention"
    shapes = f"query {_shape(query)}, key {_shape(key)}, value {_shape(value)}"
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise _rustdl.ArgumentError(f"{op}: expected query, key and value of at least 2 dims, got {shapes}")
    if not (query.is_floating_point() and query.dtype == key.dtype == value.dtype):
        raise TypeError(
            f"{op}: expected query, key and value of one floating dtype, got "
            f"{query.dtype}, {key.dtype} and {value.dtype}"
        )
    if key.shape[-1] != query.shape[-1]:
        raise _rustdl.ArgumentError(
            f"{op}: query and key must have the same last dim (embedding size), got {shapes}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise _rustdl.ArgumentError(
            f"{op}: key and value must have the same sequence length (dim -2), got {shapes}"
        )
    if enable_gqa:
        if query.ndim < 3 or key.ndim < 3 or value.ndim < 3:
            raise _rustdl.ArgumentError(
                f"{op}: enable_gqa needs a head dim (-3) in query, key and value, got {shapes}"
            )
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hk == 0 or hv == 0 or hq % hk or hq % hv:
            raise _rustdl.ArgumentError(
                f"{op}: with enable_gqa the number of query heads must be a multiple of the key and value "
                f"heads, got {shapes}"
            )
    if attn_mask is not None:
        if is_causal:
            raise _ArgumentConflictError(
                f"{op}: an explicit attn_mask should not be set when is_causal=True "
                f"(got attn_mask of shape {_shape(attn_mask)})"
            )
        if attn_mask.dtype not in (_rustdl.bool, _rustdl.float32, query.dtype):
            # a RuntimeError as PyTorch's (rustdl's DTypeError is also a TypeError)
            raise _rustdl.DTypeError(
                f"{op}: expected attn_mask dtype to be bool or float or to match query dtype, but got "
                f"attn_mask.dtype: {attn_mask.dtype} and query.dtype: {query.dtype}"
            )


def _broadcast_shapes(*shapes):
    from .._tensor_api import broadcast_shapes

    return broadcast_shapes(*shapes)


def _batch_shape(op: str, *tensors) -> tuple:
    """The broadcast of the tensors' leading (batch) dims, or a ValueError naming their shapes."""
    try:
        return tuple(_broadcast_shapes(*(tuple(t.shape[:-2]) for t in tensors)))
    except (ValueError, RuntimeError):
        shapes = ", ".join(str(_shape(t)) for t in tensors)
        raise _rustdl.ArgumentError(f"{op}: the batch dims of {shapes} do not broadcast together") from None


def scaled_dot_product_attention(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
):
    """``softmax(Q Kᵀ · scale + mask) V``, as ``torch.nn.functional.scaled_dot_product_attention``.

    Without dropout it runs as one fused op (tiles of queries × keys with an online softmax, its
    own backward recomputing the weights from the saved log-sum-exp), so memory grows with the
    sequence lengths, not their product: on the CPU (float32 and float64) and on the GPU (a WGSL
    kernel; float32, query/key and value widths up to 128). Otherwise (dropout, a float mask that
    needs a gradient, wider GPU heads) it is composed from matmul, softmax and dropout.

    Args:
        query: ``(*, L, E)``; key: ``(*, S, E)``; value: ``(*, S, Ev)``. The batch dims ``*``
            broadcast together.
        attn_mask: broadcastable to ``(*, L, S)``. A bool mask marks with ``True`` the positions
            that take part; a float mask is added to the scores.
        dropout_p: dropout on the attention weights; applied whenever ``> 0`` (pass
            ``dropout_p=0.0`` in eval, as in PyTorch).
        is_causal: a top-left aligned lower-triangular mask (query ``i`` sees keys ``j ≤ i``);
            an error together with ``attn_mask``.
        scale: defaults to ``1/√E``.
        enable_gqa: grouped-query attention: key and value may have fewer heads (dim -3) than
            query, each repeated to match.

    A query row whose keys are all masked out (a bool row of ``False``, or a float row of
    ``-inf``) gives a zero output row and zero gradients, as PyTorch 2.x's math backend (its
    safe softmax) does, rather than NaN.

    Shape:
        Output ``(*, L, Ev)``.

    Example:
        >>> q = k = v = rustdl.randn(2, 4, 7, 8)  # (N, heads, L, E)
        >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).shape
        (2, 4, 7, 8)
    """
    op = "scaled_dot_product_attention"
    _check_sdpa_inputs(query, key, value, attn_mask, is_causal, enable_gqa)
    if enable_gqa:
        key = key.repeat_interleave(query.shape[-3] // key.shape[-3], -3)
        value = value.repeat_interleave(query.shape[-3] // value.shape[-3], -3)
    batch = _batch_shape(op, query, key, value)
    q_len, s_len, e = query.shape[-2], key.shape[-2], query.shape[-1]
    if scale is None:
        scale = 1.0 / math.sqrt(e) if e > 0 else 1.0
    if attn_mask is not None:
        target = (*batch, q_len, s_len)
        try:
            fits = tuple(_broadcast_shapes(_shape(attn_mask), target)) == target
        except (ValueError, RuntimeError):
            fits = False
        if not fits:
            raise _rustdl.ArgumentError(
                f"{op}: attn_mask of shape {_shape(attn_mask)} does not broadcast to the attention "
                f"scores' shape {target} (query {_shape(query)}, key {_shape(key)})"
            )
    if _fused_attention_fits(query, key, value, attn_mask, dropout_p):
        return _fused_attention(query, key, value, attn_mask, is_causal, scale, batch)
    # scaling the query first keeps an empty E from producing 0·inf
    scores = (query * scale).matmul(key.transpose(-2, -1))
    if is_causal:
        # top-left aligned: every query row keeps key 0, so no row is fully masked
        causal = _rustdl.ones(q_len, s_len, dtype=_rustdl.bool, device=query.device).tril()
        weights = _rustdl.where(causal, scores, float("-inf")).softmax(-1)
    elif attn_mask is not None and s_len > 0:
        if attn_mask.dtype == _rustdl.bool:
            scores = _rustdl.where(attn_mask, scores, float("-inf"))
        else:
            scores = scores + (attn_mask if attn_mask.dtype == scores.dtype else attn_mask.to(scores.dtype))
        # safe softmax: a row of all -inf gives zeros; its scores are replaced by 0 before the
        # softmax so that neither the forward nor the backward sees a NaN
        dead = scores.eq(float("-inf")).all(-1).unsqueeze(-1)
        weights = _rustdl.where(dead, 0.0, scores).softmax(-1)
        weights = _rustdl.where(dead, 0.0, weights)
    else:
        weights = scores.softmax(-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights.matmul(value)


# the widest query/key and value rows of the GPU's fused kernel (MAX_DIM of
# src/backend/wgpu/attention.rs); wider heads are composed there
_GPU_FUSED_ATTENTION_MAX_DIM = 128


def _fused_attention_fits(query, key, value, attn_mask, dropout_p) -> bool:
    """Whether the fused kernel serves this call: tensors on one device, no dropout, a mask (if
    any) that needs no gradient; on the CPU float32 or float64, on the GPU float32 with query/key
    and value widths up to 128."""
    dt, dev = query.dtype, query.device
    on_gpu = dev.type != "cpu"  # "gpu", or "cuda" as torch scripts see it
    dtypes = (_rustdl.float32,) if on_gpu else (_rustdl.float32, _rustdl.float64)
    widest = _GPU_FUSED_ATTENTION_MAX_DIM if on_gpu else None
    return (
        dropout_p == 0.0
        and dt in dtypes
        and key.dtype == dt
        and value.dtype == dt
        and key.device == dev
        and value.device == dev
        and (widest is None or (query.shape[-1] <= widest and value.shape[-1] <= widest))
        and (
            attn_mask is None
            or (attn_mask.device == dev and not (attn_mask.dtype != _rustdl.bool and attn_mask.requires_grad))
        )
    )


def _fused_attention(query, key, value, attn_mask, is_causal, scale, batch):
    """``scaled_dot_product_attention`` through the fused op (CPU or GPU): batch dims broadcast and
    flattened, a bool mask made additive (0 / -inf), a mask shared by the whole batch passed
    once as ``(L, S)``."""
    q_len, s_len, e, ev = query.shape[-2], key.shape[-2], query.shape[-1], value.shape[-1]
    n = 1
    for d in batch:
        n *= d
    q = query.expand(*batch, q_len, e).reshape(n, q_len, e)
    k = key.expand(*batch, s_len, e).reshape(n, s_len, e)
    v = value.expand(*batch, s_len, ev).reshape(n, s_len, ev)
    mask = None
    if attn_mask is not None:
        m = attn_mask
        if m.dtype == _rustdl.bool:
            m = _rustdl.zeros(*m.shape, dtype=query.dtype, device=query.device).masked_fill(~m, float("-inf"))
        elif m.dtype != query.dtype:
            m = m.to(query.dtype)
        shape = (1,) * (len(batch) + 2 - m.ndim) + tuple(m.shape)
        m = m.reshape(shape)
        if all(d == 1 for d in shape[:-2]):
            mask = m.reshape(shape[-2:]).expand(q_len, s_len)
        else:
            mask = m.expand(*batch, q_len, s_len).reshape(n, q_len, s_len)
    causal, scale = bool(is_causal), float(scale)
    if _rustdl.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad):
        # one node whose create_graph backward recomputes from matmul and softmax (twice
        # differentiable, as PyTorch's)
        rule = _recompute.double_backward(
            (q, k, v), lambda *t: (_composed_attention(*t, mask, causal, scale),)
        )
        out = _rustdl._sdpa_fused(q, k, v, mask, causal, scale, rule)
    else:
        out = _rustdl._sdpa_fused(q, k, v, mask, causal, scale)
    return out.reshape(*batch, q_len, ev)


def _composed_attention(q, k, v, mask, is_causal: bool, scale: float):
    """What the fused attention op computes, from differentiable ops: ``(N, L, E)`` inputs, an
    additive ``(L, S)`` or ``(N, L, S)`` mask (``-inf`` blocks), a top-left causal mask; a query
    that sees no key gets zeros."""
    scores = (q * scale).matmul(k.transpose(-2, -1))
    q_len, s_len = scores.shape[-2], scores.shape[-1]
    if is_causal:
        keep = _rustdl.ones(q_len, s_len, dtype=_rustdl.bool, device=q.device).tril()
        scores = _rustdl.where(keep, scores, float("-inf"))
    if mask is not None:
        scores = scores + mask
    dead = scores.eq(float("-inf")).all(-1).unsqueeze(-1)
    weights = _rustdl.where(dead, 0.0, scores).softmax(-1)
    weights = _rustdl.where(dead, 0.0, weights)
    return weights.matmul(v)


def multi_head_attention_forward(
    query,
    key,
    value,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight,
    out_proj_bias,
    training: bool = True,
    key_padding_mask=None,
    need_weights: bool = True,
    attn_mask=None,
    use_separate_proj_weight: bool = False,
    q_proj_weight=None,
    k_proj_weight=None,
    v_proj_weight=None,
    static_k=None,
    static_v=None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
):
    """Multi-head attention on sequence-first inputs, as ``torch.nn.functional.multi_head_attention_forward``
    (the body of :class:`rustdl.nn.MultiheadAttention`).

    Shape:
        query ``(L, N, E)`` or unbatched ``(L, E)``; key ``(S, N, kdim)``; value ``(S, N, vdim)``;
        key_padding_mask ``(N, S)`` (``True`` = ignore that key) or ``(S,)``; attn_mask ``(L, S)``
        or ``(N·num_heads, L, S)`` (bool: ``True`` = not allowed; float: added).
        Returns ``(L, N, E)`` and, with ``need_weights``, the weights ``(N, L, S)`` averaged over
        heads or ``(N, num_heads, L, S)`` (unbatched: without ``N``).

    ``is_causal`` is only a hint that ``attn_mask`` is causal, as in PyTorch: it needs
    ``attn_mask``, which is what gets applied. With ``need_weights=True`` the weights come from
    a plain softmax, so a query whose keys are all masked gives NaN (as PyTorch); with
    ``need_weights=False`` the attention runs through :func:`scaled_dot_product_attention`,
    where such a query gives zeros (as PyTorch).
    """
    op = "multi_head_attention_forward"
    if static_k is not None or static_v is not None:
        raise NotImplementedError(f"{op}: static_k and static_v are not supported by rustdl")
    batched = _mha_check_shapes(op, query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise _MhaAssertion(
            f"{op}: expected query of embedding size {embed_dim_to_check}, got shape {_shape(query)}"
        )
    if num_heads <= 0 or embed_dim % num_heads:
        raise _DivisibilityError(
            f"embed_dim must be divisible by num_heads (got {embed_dim} and {num_heads})"
        )
    head_dim = embed_dim // num_heads
    if key.shape[:2] != value.shape[:2] or key.shape[1] != bsz:
        raise _MhaAssertion(
            f"{op}: key and value must share (S, N) with N = the query's batch, got query {_shape(query)}, "
            f"key {_shape(key)}, value {_shape(value)}"
        )
    if key_padding_mask is not None and _shape(key_padding_mask) != (bsz, src_len):
        raise _MhaAssertion(
            f"{op}: expected key_padding_mask of shape {(bsz, src_len)}, got {_shape(key_padding_mask)}"
        )
    key_padding_mask = _float_mask(key_padding_mask, "key_padding_mask", query.dtype, op)
    if is_causal and attn_mask is None:
        raise _ArgumentConflictError(
            f"{op}: need attn_mask if specifying the is_causal hint; "
            "Transformer.generate_square_subsequent_mask builds one"
        )
    attn_mask = _float_mask(attn_mask, "attn_mask", query.dtype, op)

    if use_separate_proj_weight:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        w_q, w_k, w_v = in_proj_weight.chunk(3)
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias.chunk(3)
    q, k, v = linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)

    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if _shape(attn_mask) != (tgt_len, src_len):
                raise _MhaAssertion(
                    f"{op}: the shape of the 2D attn_mask is {_shape(attn_mask)}, but should be {(tgt_len, src_len)}"
                )
            attn_mask = attn_mask.unsqueeze(0)
        elif _shape(attn_mask) != (bsz * num_heads, tgt_len, src_len):
            raise _MhaAssertion(
                f"{op}: the shape of the 3D attn_mask is {_shape(attn_mask)}, but should be "
                f"{(bsz * num_heads, tgt_len, src_len)}"
            )
    if (bias_k is None) != (bias_v is None):
        raise _MhaAssertion(f"{op}: bias_k and bias_v must both be given or both be None")
    if bias_k is not None:
        k = _rustdl.cat([k, bias_k.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim)], 0)
        v = _rustdl.cat([v, bias_v.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim)], 0)
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        zeros = _rustdl.zeros(bsz * num_heads, 1, head_dim, dtype=q.dtype, device=q.device)
        k = _rustdl.cat([k, zeros], 1)
        v = _rustdl.cat([v, zeros], 1)
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]
    if key_padding_mask is not None:
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = (q * math.sqrt(1.0 / head_dim)).matmul(k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = scores.softmax(-1)
        if dropout_p > 0.0:
            weights = dropout(weights, dropout_p, True)
        out = weights.matmul(v)  # (N·heads, L, head_dim)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, out_proj_weight.shape[0])
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:
        if attn_mask.shape[0] == 1:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, out_proj_weight.shape[0])
    return (out if batched else out.squeeze(1)), None


class _MhaAssertion(_rustdl.ArgumentError, AssertionError):
    """A shape PyTorch's multi-head attention asserts on: an ``AssertionError``, and rustdl's
    ``ArgumentError`` (ValueError and RuntimeError)."""


class _DivisibilityError(ValueError, AssertionError):
    """``embed_dim`` not divisible by ``num_heads``: PyTorch asserts, rustdl raises a ValueError;
    either ``except`` catches it."""


def _mha_check_shapes(op: str, query, key, value, key_padding_mask, attn_mask, num_heads: int) -> bool:
    """Checks the input ranks as PyTorch does; True for a batched (3-D) query."""
    shapes = f"query {_shape(query)}, key {_shape(key)}, value {_shape(value)}"
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise _MhaAssertion(f"{op}: for a batched (3-D) query, key and value must be 3-D, got {shapes}")
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise _MhaAssertion(
                f"{op}: for a batched (3-D) query, key_padding_mask must be 2-D, got {_shape(key_padding_mask)}"
            )
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise _MhaAssertion(
                f"{op}: for a batched (3-D) query, attn_mask must be 2-D or 3-D, got {_shape(attn_mask)}"
            )
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise _MhaAssertion(
                f"{op}: for an unbatched (2-D) query, key and value must be 2-D, got {shapes}"
            )
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise _MhaAssertion(
                f"{op}: for an unbatched (2-D) query, key_padding_mask must be 1-D, got {_shape(key_padding_mask)}"
            )
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise _MhaAssertion(
                    f"{op}: for an unbatched (2-D) query, attn_mask must be 2-D or 3-D, got {_shape(attn_mask)}"
                )
            if attn_mask.ndim == 3 and attn_mask.shape[0] != num_heads:
                raise _MhaAssertion(
                    f"{op}: expected a 3-D attn_mask of shape {(num_heads, query.shape[0], key.shape[0])}, "
                    f"got {_shape(attn_mask)}"
                )
        return False
    raise _MhaAssertion(f"{op}: expected a 2-D or 3-D query, got {shapes}")


# ---- activations and losses (breadth A) ----


def _need_tensor(op: str, **tensors) -> None:
    """``TypeError`` naming ``op`` when an argument is not a tensor."""
    for name, value in tensors.items():
        if not isinstance(value, _rustdl.Tensor):
            raise TypeError(f"{op}: argument '{name}' must be a Tensor, got {type(value).__name__}")


def _const(ref, value: float):
    """``value`` as a 0-d tensor of ``ref``'s dtype and device: ``where`` takes a Python float
    through float32, which would round a value such as 0.1 in a float64 result."""
    return _rustdl.full((), float(value), dtype=ref.dtype, device=ref.device)


def _inplace(input, fn, inplace: bool):
    """``fn(input)``, or with ``inplace`` written back into ``input`` (computed from a clone)."""
    if inplace:
        return _write_back(input, fn(input.clone()))
    return fn(input)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """``clamp(x, min_val, max_val)``, as ``torch.nn.functional.hardtanh``."""
    _need_tensor("hardtanh", input=input)
    if min_val > max_val:
        raise _rustdl.ArgumentError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    if not input.is_floating_point() and not input.is_complex():
        # an integer tensor stays integer (its clamp bounds are whole), as PyTorch
        return _inplace(input, lambda x: x.clamp(math.ceil(min_val), math.floor(max_val)), inplace)
    if math.isnan(min_val) or math.isnan(max_val):  # every value becomes NaN, as PyTorch's clamp
        return _inplace(input, lambda x: x.clamp(min_val, max_val), inplace)
    return _inplace(input, lambda x: _clamp_open(x, min_val, max_val, nan_passes=True), inplace)


def _clamp_open(x, lo: float, hi: float, nan_passes: bool = False):
    """``clamp(x, lo, hi)`` whose gradient is 0 at the bounds themselves, as PyTorch's hardtanh.
    A NaN gets gradient 1 with ``nan_passes`` (hardtanh: ``x <= lo || x >= hi ? 0 : g``), else 0
    (hardsigmoid: ``lo < x < hi ? g : 0``)."""
    if nan_passes:
        outside = (x <= lo).logical_or(x >= hi)
        return _rustdl.where(outside, x.detach().clamp(lo, hi), x)
    inside = (x > lo).logical_and(x < hi)
    return _rustdl.where(inside, x, x.detach().clamp(lo, hi))


def hardtanh_(input, min_val: float = -1.0, max_val: float = 1.0):
    """In-place :func:`hardtanh`."""
    return hardtanh(input, min_val, max_val, True)


def relu6(input, inplace: bool = False):
    """``min(max(x, 0), 6)``."""
    _need_tensor("relu6", input=input)
    return hardtanh(input, 0.0, 6.0, inplace)


def mish(input, inplace: bool = False):
    """``x·tanh(softplus(x))``."""
    _need_tensor("mish", input=input)
    return _inplace(input, lambda x: x * softplus(x).tanh(), inplace)


def softsign(input):
    """``x / (1 + |x|)``."""
    _need_tensor("softsign", input=input)
    return input / (input.abs() + 1.0)


def hardsigmoid(input, inplace: bool = False):
    """``relu6(x + 3) / 6``."""
    _need_tensor("hardsigmoid", input=input)
    return _inplace(input, lambda x: _clamp_open(x + 3.0, 0.0, 6.0) / 6.0, inplace)


def hardswish(input, inplace: bool = False):
    """``x·relu6(x + 3) / 6``."""
    _need_tensor("hardswish", input=input)

    # piecewise, so an infinite input has PyTorch's finite gradient (0 up to -3, 1 from 3 on,
    # the bounds included) rather than inf · 0, and NaN takes the last branch (gradient 1), as
    # PyTorch's `x <= -3 ? 0 : x < 3 ? g·(x/3 + 1/2) : g`
    def fn(x):
        # the middle branch sees only -3 < x < 3 (0 elsewhere), so its derivative stays finite
        mid = _rustdl.where((x > -3.0).logical_and(x < 3.0), x, 0.0)
        # x·0, as PyTorch's x·relu6(x + 3)/6 there: -0 for a finite x, NaN for -inf; no
        # gradient through it (PyTorch's is 0 there, even against an infinite incoming one)
        low = x.detach() * 0.0
        return _rustdl.where(x <= -3.0, low, _rustdl.where(x < 3.0, mid * (mid + 3.0) / 6.0, x))

    return _inplace(input, fn, inplace)


def prelu(input, weight):
    """``x`` if ``x > 0`` else ``a·x``, with ``weight`` one slope (``(1,)``) or one per channel
    (``(C,)``, channel dim 1, or 0 for a 1-D input)."""
    _need_tensor("prelu", input=input, weight=weight)
    if weight.ndim > 1:
        raise _rustdl.ArgumentError(f"prelu: expected a 0-D or 1-D weight, got shape {tuple(weight.shape)}")
    n = weight.numel()
    if n == 1:
        w = weight.reshape(())
    else:
        ch = 1 if input.ndim >= 2 else 0
        if input.ndim == 0 or input.shape[ch] != n:
            raise _rustdl.ArgumentError(
                f"prelu: weight has {n} slopes but input of shape {tuple(input.shape)} has "
                f"{input.shape[ch] if input.ndim else 0} channels"
            )
        w = weight.reshape(n, *([1] * (input.ndim - ch - 1)))
    # x > 0 (not >=): the slope's side owns 0, so d/dx at 0 is the slope, as PyTorch. The
    # slope multiplies only the non-positive side (the positive values masked to 0), so its
    # gradient stays finite beside a +inf input
    pos = input > 0
    return _rustdl.where(pos, input, _rustdl.where(pos, 0.0, input) * w)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace: bool = False):
    """``scale·(max(0, x) + min(0, alpha·(eˣ − 1)))`` with PyTorch's constants."""
    _need_tensor("selu", input=input)
    return _inplace(input, lambda x: _rustdl.elu(x, _SELU_ALPHA) * _SELU_SCALE, inplace)


def celu(input, alpha: float = 1.0, inplace: bool = False):
    """``max(0, x) + min(0, alpha·(exp(x/alpha) − 1))``."""
    _need_tensor("celu", input=input)
    if alpha == 0:
        raise _rustdl.ArgumentError("celu: alpha must not be 0")

    # the exponential only sees x <= 0 (a where, not clamp(max=0), whose gradient vanishes at 0
    # itself), so +inf cannot give inf · 0 = NaN in the gradient; NaN takes the identity branch
    # (gradient 1), as PyTorch's `x <= 0 ? ... : g`
    # as alpha · elu(x / alpha), whose gradient exp(x / alpha) is taken directly (expm1's own
    # rule, result + 1, cancels to 0 for very negative x)
    def fn(x):
        below = x <= 0
        neg = _rustdl.where(below, x, 0.0)
        if alpha > 0:
            return _rustdl.where(below, elu(neg / alpha) * alpha, x)
        # a negative alpha: x / alpha >= 0 there, past elu's exponential branch
        return _rustdl.where(below, (neg / alpha).expm1() * alpha, x)

    return _inplace(input, fn, inplace)


def glu(input, dim: int = -1):
    """``a·σ(b)`` where ``a, b`` are the two halves of ``input`` along ``dim``."""
    _need_tensor("glu", input=input)
    if input.ndim == 0:
        raise _rustdl.ArgumentError("glu: does not support scalars because the halving size must be even")
    size = input.shape[dim]
    if size % 2:
        raise _rustdl.ArgumentError(
            f"glu: halving dimension must be even, but dimension {dim} is size {size}"
        )
    a, b = input.narrow(dim, 0, size // 2), input.narrow(dim, size // 2, size // 2)
    return a * b.sigmoid()


def threshold(input, threshold: float, value: float, inplace: bool = False):
    """``x`` if ``x > threshold`` else ``value``."""
    _need_tensor("threshold", input=input)
    # `value` only where x <= threshold: NaN stays NaN, as PyTorch
    return _inplace(input, lambda x: _rustdl.where(x <= threshold, _const(x, value), x), inplace)


def threshold_(input, threshold: float, value: float):
    """In-place :func:`threshold`."""
    return globals()["threshold"](input, threshold, value, True)


def softmin(input, dim: int | None = None, _stacklevel: int = 3, dtype=None):
    """``softmax(−x)`` along ``dim``."""
    _need_tensor("softmin", input=input)
    if dim is None:
        dim = _implicit_softmax_dim("softmin", input.ndim, _stacklevel + 1)
    x = input if dtype is None else input.to(dtype)
    return (-x).softmax(dim)


def tanhshrink(input):
    """``x − tanh(x)``."""
    _need_tensor("tanhshrink", input=input)
    return input - input.tanh()


def softshrink(input, lambd: float = 0.5):
    """``x − λ`` if ``x > λ``, ``x + λ`` if ``x < −λ``, else 0."""
    _need_tensor("softshrink", input=input)
    if lambd < 0:
        raise _rustdl.ArgumentError(
            f"softshrink: lambda must be greater or equal to 0, but found to be {lambd}"
        )
    # 0 inside [-λ, λ]; NaN falls to the shifted branch (NaN, gradient 1), as PyTorch's
    # `-λ <= x <= λ ? 0 : g`
    inside = (input >= -lambd).logical_and(input <= lambd)
    # (a constant 0, so an infinite incoming gradient there gives 0, not inf · 0)
    return _rustdl.where(inside, 0.0, _rustdl.where(input > lambd, input - lambd, input + lambd))


def hardshrink(input, lambd: float = 0.5):
    """``x`` if ``|x| > λ`` else 0."""
    _need_tensor("hardshrink", input=input)
    # 0 only inside [-λ, λ]: NaN stays NaN, as PyTorch
    return _rustdl.where((input >= -lambd).logical_and(input <= lambd), 0.0, input)


def rrelu(
    input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False, inplace: bool = False
):
    """Randomized leaky ReLU: negative inputs scaled by a slope drawn from ``U(lower, upper)`` per
    element in training, by ``(lower + upper) / 2`` in eval."""
    _need_tensor("rrelu", input=input)
    if lower > upper:
        raise _rustdl.ArgumentError(f"rrelu: lower bound ({lower}) must not exceed upper bound ({upper})")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)

    def fn(x):
        if x.device.type == "cpu":
            # PyTorch's draws: one float64 uniform slope per element <= 0, in order
            neg = x.detach() <= 0
            slope = _rustdl.ones_like(x.detach())
            k = int(neg.sum().item())
            if k:
                slope[neg] = _rustdl._cpu_draw("uniform64", k, float(lower), float(upper)).to(x.dtype)
            return _rustdl.where(neg, x * slope, x)
        slope = _rustdl.rand(*x.shape, dtype=x.dtype, device=x.device) * (upper - lower) + lower
        return _rustdl.where(x >= 0, x, x * slope)

    return _inplace(input, fn, inplace)


def rrelu_(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False):
    """In-place :func:`rrelu`."""
    return rrelu(input, lower, upper, training, True)


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` onto ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _reduce(op: str, loss, reduction: str):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise _rustdl.ArgumentError(f"{op}: reduction must be 'none', 'mean' or 'sum', got '{reduction}'")


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise _rustdl.ArgumentError(f"{op}: reduction must be 'none', 'mean' or 'sum', got '{reduction}'")


def _same_shape(op: str, **tensors) -> None:
    shapes = {k: tuple(v.shape) for k, v in tensors.items()}
    if len(set(shapes.values())) > 1:
        raise _rustdl.ArgumentError(
            f"{op}: expected inputs of the same shape, got "
            + ", ".join(f"{k} {s}" for k, s in shapes.items())
        )


def _broadcastable(op: str, **tensors) -> None:
    """``ValueError`` naming ``op`` and the shapes when the tensors do not broadcast together."""
    shapes = [tuple(v.shape) for v in tensors.values()]
    try:
        _broadcast_shapes(*shapes)
    except (ValueError, RuntimeError):
        listed = ", ".join(f"{k} {tuple(v.shape)}" for k, v in tensors.items())
        raise _rustdl.ArgumentError(f"{op}: the shapes do not broadcast together: {listed}") from None


def cosine_embedding_loss(
    input1, input2, target, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean"
):
    """``1 − cos(x1, x2)`` where ``y = 1``, ``max(0, cos(x1, x2) − margin)`` where ``y = −1``;
    inputs ``(N, D)`` (target ``(N,)``) or ``(D,)`` (target a scalar)."""
    op = "cosine_embedding_loss"
    _need_tensor(op, input1=input1, input2=input2, target=target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    _same_shape(op, input1=input1, input2=input2)
    if (
        input1.ndim not in (1, 2)
        or target.ndim != input1.ndim - 1
        or (input1.ndim == 2 and target.shape[0] not in (1, input1.shape[0]))  # (1,) broadcasts
    ):
        raise _rustdl.ArgumentError(
            f"{op}: expected inputs (N, D) with target (N,) or (D,) with a 0-D target, got inputs "
            f"{tuple(input1.shape)} and target {tuple(target.shape)}"
        )
    dim = input1.ndim - 1
    eps = 1e-12
    prod = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + eps
    mag2 = (input2 * input2).sum(dim) + eps
    cos = prod / (mag1 * mag2).sqrt()
    tgt = target.to(cos.dtype)
    loss = _rustdl.where(tgt == 1, 1.0 - cos, 0.0) + _rustdl.where(
        tgt == -1, (cos - margin).clamp_min(0.0), 0.0
    )
    return _reduce(op, loss, reduction)


def margin_ranking_loss(
    input1, input2, target, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean"
):
    """``max(0, −y·(x1 − x2) + margin)``."""
    op = "margin_ranking_loss"
    _need_tensor(op, input1=input1, input2=input2, target=target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if not input1.ndim == input2.ndim == target.ndim:
        raise _rustdl.ArgumentError(
            f"{op}: expected input1, input2 and target of the same number of dims, got shapes "
            f"{tuple(input1.shape)}, {tuple(input2.shape)} and {tuple(target.shape)}"
        )
    _broadcastable(op, input1=input1, input2=input2, target=target)
    loss = (-target.to(input1.dtype) * (input1 - input2) + margin).clamp_min(0.0)
    return _reduce(op, loss, reduction)


def triplet_margin_loss(
    anchor,
    positive,
    negative,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
):
    """``max(d(a, p) − d(a, n) + margin, 0)`` with ``d(x, y) = ‖x − y + eps‖_p`` over the last dim;
    ``swap`` uses ``min(d(a, n), d(p, n))`` as the negative distance."""
    op = "triplet_margin_loss"
    _need_tensor(op, anchor=anchor, positive=positive, negative=negative)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if not margin > 0:
        raise _rustdl.ArgumentError(f"{op}: margin must be greater than 0, got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim or anchor.ndim == 0:
        raise _rustdl.ArgumentError(
            f"{op}: expected anchor, positive and negative of the same number of dims (1-D or 2-D), got shapes "
            f"{tuple(anchor.shape)}, {tuple(positive.shape)}, {tuple(negative.shape)}"
        )
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(positive, negative, p, eps))
    loss = (d_pos - d_neg + margin).clamp_min(0.0)
    return _reduce(op, loss, reduction)


def hinge_embedding_loss(
    input, target, margin: float = 1.0, size_average=None, reduce=None, reduction: str = "mean"
):
    """``x`` where ``y = 1``, ``max(0, margin − x)`` where ``y = −1``."""
    op = "hinge_embedding_loss"
    _need_tensor(op, input=input, target=target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    _broadcastable(op, input=input, target=target)
    tgt = target.to(input.dtype)
    loss = _rustdl.where(tgt != 1, (margin - input).clamp_min(0.0), 0.0) + _rustdl.where(
        tgt != -1, input, 0.0
    )
    return _reduce(op, loss, reduction)


def multilabel_soft_margin_loss(
    input, target, weight=None, size_average=None, reduce=None, reduction: str = "mean"
):
    """``−mean_c(y·log σ(x) + (1 − y)·log σ(−x))`` per sample, over an ``(N, C)`` input."""
    op = "multilabel_soft_margin_loss"
    _need_tensor(op, input=input, target=target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    _broadcastable(op, input=input, target=target)
    if input.ndim == 0:
        raise _rustdl.ArgumentError(f"{op}: expected an (N, C) or (C,) input, got a scalar")
    y = target.to(input.dtype)
    loss = -(y * logsigmoid(input) + (1.0 - y) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(-1) / input.shape[-1]
    return _reduce(op, loss, reduction)


def multi_margin_loss(
    input,
    target,
    p: int = 1,
    margin: float = 1.0,
    weight=None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
):
    """Multi-class hinge: ``Σ_{i≠y} w_y·max(0, margin − x_y + x_i)^p / C`` per sample."""
    op = "multi_margin_loss"
    _need_tensor(op, input=input, target=target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if p not in (1, 2):
        raise _rustdl.ArgumentError(f"{op}: only p == 1 and p == 2 supported, got {p}")
    if input.ndim not in (1, 2):
        raise _rustdl.ArgumentError(f"{op}: expected an (N, C) or (C,) input, got shape {tuple(input.shape)}")
    x = input if input.ndim == 2 else input.unsqueeze(0)
    n, c = x.shape
    y = target.reshape(-1)
    if y.numel() != n:
        raise _rustdl.ArgumentError(
            f"{op}: expected {n} targets for input of shape {tuple(input.shape)}, got {tuple(target.shape)}"
        )
    if y.dtype != _rustdl.int64:
        raise TypeError(f"{op}: expected int64 class indices as target, got {y.dtype}")
    if n and (int(y.min().item()) < 0 or int(y.max().item()) >= c):
        raise _rustdl.ArgumentError(f"{op}: target values must be in [0, {c})")
    xy = x.gather(1, y.unsqueeze(1))
    z = (x - xy + margin).clamp_min(0.0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight.gather(0, y).unsqueeze(1)
    others = one_hot(y, c).to(x.dtype) * -1.0 + 1.0
    loss = (z * others).sum(1) / c
    if input.ndim == 1 and reduction == "none":
        loss = loss.reshape(target.shape) if target.ndim else loss.reshape(())
    return _reduce(op, loss, reduction)


def poisson_nll_loss(
    input,
    target,
    log_input: bool = True,
    full: bool = False,
    size_average=None,
    eps: float = 1e-8,
    reduce=None,
    reduction: str = "mean",
):
    """Poisson negative log-likelihood: ``eˣ − y·x`` (``log_input``) or ``x − y·log(x + eps)``;
    ``full`` adds Stirling's ``y·log y − y + ½·log(2πy)`` where ``y > 1``."""
    op = "poisson_nll_loss"
    _need_tensor(op, input=input, target=target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        safe = _rustdl.where(target > 1, target, 1.0)
        stirling = safe * safe.log() - safe + (safe * (2 * math.pi)).log() * 0.5
        loss = loss + _rustdl.where(target > 1, stirling, 0.0)
    return _reduce(op, loss, reduction)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
    """Gaussian negative log-likelihood ``½·(log max(var, eps) + (x − y)² / max(var, eps))``
    (+ ``½·log 2π`` with ``full``); ``var`` may drop the last dim or have it 1 (one variance per
    sample), or be a float. The clamp at ``eps`` does not stop ``var``'s gradient, as PyTorch."""
    op = "gaussian_nll_loss"
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        var = _rustdl.full_like(input, float(var))
    _need_tensor(op, input=input, target=target, var=var)
    _check_reduction(op, reduction)
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise _rustdl.ArgumentError(
                f"{op}: var is of incorrect size {tuple(var.shape)} for input {tuple(input.shape)}"
            )
    if var.numel() and bool((var < 0).any().item()):
        raise _rustdl.ArgumentError(f"{op}: var has negative entry/entries")
    var = var + (var.clamp_min(eps) - var).detach()
    loss = ((input - target) ** 2 / var + var.log()) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(op, loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """``log(1 + exp(−y·x))``."""
    op = "soft_margin_loss"
    _need_tensor(op, input=input, target=target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    _broadcastable(op, input=input, target=target)
    loss = softplus(-target.to(input.dtype) * input)
    return _reduce(op, loss, reduction)


def bilinear(input1, input2, weight, bias=None):
    """``y_o = x1ᵀ W_o x2 + b_o``: inputs ``(*, in1)`` and ``(*, in2)``, weight ``(out, in1, in2)``."""
    op = "bilinear"
    _need_tensor(op, input1=input1, input2=input2, weight=weight)
    if (
        weight.ndim != 3
        or input1.ndim == 0
        or input1.shape[-1] != weight.shape[1]
        or (input2.ndim == 0 or input2.shape[-1] != weight.shape[2])
        or tuple(input1.shape[:-1]) != tuple(input2.shape[:-1])
    ):
        raise _rustdl.ArgumentError(
            f"{op}: expected input1 (*, in1), input2 (*, in2) and weight (out, in1, in2), got "
            f"{tuple(input1.shape)}, {tuple(input2.shape)} and {tuple(weight.shape)}"
        )
    out, in1, in2 = weight.shape
    w = weight.permute(1, 0, 2).reshape(in1, out * in2)
    tmp = input1.matmul(w).reshape(*input1.shape[:-1], out, in2)
    y = (tmp * input2.unsqueeze(-2)).sum(-1)
    return y if bias is None else y + bias


def _feature_mask_shape(op: str, input, batched_ndim: int) -> list:
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise _rustdl.ArgumentError(
            f"{op}: expected a {batched_ndim - 1}-D or {batched_ndim}-D input, got shape {tuple(input.shape)}"
        )
    lead = 2 if input.ndim == batched_ndim else 1
    return list(input.shape[:lead]) + [1] * (input.ndim - lead)


def _check_p(op: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise _rustdl.ArgumentError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zeroes whole channels of an ``(N, C, L)`` or ``(C, L)`` input with probability ``p``."""
    _need_tensor("dropout1d", input=input)
    _check_p("dropout1d", p)
    shape = _feature_mask_shape("dropout1d", input, 3)
    if not training or p == 0:
        return input
    return _inplace(input, lambda x: _rustdl.dropout(x, p, training, shape), inplace)


def dropout3d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zeroes whole channels of an ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input with probability ``p``."""
    _need_tensor("dropout3d", input=input)
    _check_p("dropout3d", p)
    if input.ndim in (4, 5):
        shape = _feature_mask_shape("dropout3d", input, 5)
    else:
        import warnings

        # as PyTorch: a warning, then the input taken as unbatched (channels first)
        warnings.warn(
            f"dropout3d: received a {input.ndim}-D input; expected a 5-D (N, C, D, H, W) or 4-D (C, D, H, W) one",
            UserWarning,
            stacklevel=2,
        )
        shape = [input.shape[0]] + [1] * (input.ndim - 1) if input.ndim >= 2 else list(input.shape)
    if not training or p == 0:
        return input
    return _inplace(input, lambda x: _rustdl.dropout(x, p, training, shape), inplace)


_ALPHA_DROPOUT = 1.7580993408473766  # −SELU scale·alpha


def _alpha_dropout(op: str, input, p: float, training: bool, inplace: bool, mask_shape):
    _need_tensor(op, input=input)
    _check_p(op, p)
    if not training or p == 0:
        return input
    if p == 1:
        return _inplace(input, lambda x: x * 0.0, inplace)
    a = 1.0 / math.sqrt((_ALPHA_DROPOUT**2 * p + 1) * (1 - p))

    def fn(x):
        keep = _rustdl.empty(*mask_shape, dtype=x.dtype, device=x.device).bernoulli_(1 - p)
        return x * (keep * a) + ((keep - 1.0) * (_ALPHA_DROPOUT * a) + _ALPHA_DROPOUT * a * p)

    return _inplace(input, fn, inplace)


def alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Dropout that keeps SELU's self-normalising mean and variance: dropped elements are set
    to ``−scale·alpha``, then an affine map restores the statistics."""
    return _alpha_dropout("alpha_dropout", input, p, training, inplace, list(input.shape))


def feature_alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """:func:`alpha_dropout` over whole channels (dim 1) of an ``(N, C, *)`` input."""
    op = "feature_alpha_dropout"
    _need_tensor(op, input=input)
    if input.ndim < 2:
        raise _rustdl.ArgumentError(f"{op}: expected an (N, C, *) input, got shape {tuple(input.shape)}")
    shape = list(input.shape[:2]) + [1] * (input.ndim - 2)
    return _alpha_dropout(op, input, p, training, inplace, shape)


def relu_(input):
    """In-place :func:`relu`."""
    return relu(input, True)


def elu_(input, alpha: float = 1.0):
    """In-place :func:`elu`."""
    return elu(input, alpha, True)


def leaky_relu_(input, negative_slope: float = 0.01):
    """In-place :func:`leaky_relu`."""
    return leaky_relu(input, negative_slope, True)


def celu_(input, alpha: float = 1.0):
    """In-place :func:`celu`."""
    return celu(input, alpha, True)


def selu_(input):
    """In-place :func:`selu`."""
    return selu(input, True)


def triplet_margin_with_distance_loss(
    anchor,
    positive,
    negative,
    *,
    distance_function=None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
):
    """``max(d(a, p) − d(a, n) + margin, 0)`` with any ``distance_function`` (default
    :func:`pairwise_distance`); ``swap`` uses ``min(d(a, n), d(p, n))``."""
    op = "triplet_margin_with_distance_loss"
    _need_tensor(op, anchor=anchor, positive=positive, negative=negative)
    _check_reduction(op, reduction)
    if margin <= 0:
        raise _rustdl.ArgumentError(f"{op}: margin must be greater than 0, got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise _rustdl.ArgumentError(
            f"{op}: expected anchor, positive and negative of the same number of dims, got shapes "
            f"{tuple(anchor.shape)}, {tuple(positive.shape)} and {tuple(negative.shape)}"
        )
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(dist(positive, negative))
    loss = (d_pos - d_neg + margin).clamp_min(0.0)
    return _reduce(op, loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """Multi-label hinge: ``Σ_j Σ_{i ∉ targets} max(0, 1 − (x[y_j] − x[i])) / C`` per sample, where
    the int64 ``target`` lists each sample's classes and ends at its first ``−1``.

    Shape: input ``(N, C)`` or ``(C,)``; target the same shape.
    """
    op = "multilabel_margin_loss"
    _need_tensor(op, input=input, target=target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if input.ndim not in (1, 2) or tuple(target.shape) != tuple(input.shape):
        raise _rustdl.ArgumentError(
            f"{op}: expected input (N, C) or (C,) and a target of the same shape, got "
            f"{tuple(input.shape)} and {tuple(target.shape)}"
        )
    if target.dtype != _rustdl.int64:
        raise TypeError(f"{op}: expected an int64 target of class indices, got {target.dtype}")
    x = input if input.ndim == 2 else input.unsqueeze(0)
    y = target if target.ndim == 2 else target.unsqueeze(0)
    n, c = x.shape
    if y.numel() and (int(y.min().item()) < -1 or int(y.max().item()) >= c):
        raise _rustdl.ArgumentError(f"{op}: target values must be in [-1, {c})")
    valid = (y != -1).long().cumprod(1).to(x.dtype)  # the prefix before the first -1
    idx = y.clamp_min(0)
    is_target = (one_hot(idx, c).to(x.dtype) * valid.unsqueeze(-1)).sum(1).clamp_max(1.0)
    xy = x.gather(1, idx)  # (N, J)
    z = (1.0 - xy.unsqueeze(-1) + x.unsqueeze(1)).clamp_min(0.0)  # (N, J, C)
    loss = (z * valid.unsqueeze(-1) * (1.0 - is_target).unsqueeze(1)).sum((1, 2)) / c
    if input.ndim == 1:
        loss = loss.reshape(())
    return _reduce(op, loss, reduction)


# ---- 1-D transposed convolution and 3-D convolution / pooling, composed from the 2-D kernels ----


def _ntuple(v, n: int, op: str, what: str) -> tuple[int, ...]:
    v = _as_ints(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return (v,) * n
    if isinstance(v, (tuple, list)) and len(v) == 1 and n > 1:
        v = tuple(v) * n  # a one-element list stands for every dim, as PyTorch's
    if isinstance(v, (tuple, list)) and len(v) == n and all(isinstance(x, int) for x in v):
        return tuple(v)
    raise _rustdl.ArgumentError(f"{op}: {what} must be an int or a tuple of {n} ints, got {v!r}")


def conv_transpose1d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups: int = 1, dilation=1
):
    """Transposed 1-D convolution of an ``(N, C_in, L)`` input with a ``(C_in, C_out/groups, K)`` weight.

    Runs as conv_transpose2d over a height-1 view, so it shares its kernels and gradients.
    ``L_out = (L − 1)·stride − 2·padding + dilation·(K − 1) + output_padding + 1``.
    """
    op = "conv_transpose1d"
    if not isinstance(input, _rustdl.Tensor) or not isinstance(weight, _rustdl.Tensor):
        raise TypeError(f"{op}: input and weight must be Tensors")
    if weight.ndim != 3:
        raise _rustdl.ArgumentError(
            f"{op}: expected a 3-D weight (C_in, C_out/groups, K), got shape {tuple(weight.shape)}"
        )
    if input.ndim not in (2, 3):
        raise _rustdl.ArgumentError(
            f"{op}: expected a 2-D or 3-D input (N, C, L), got shape {tuple(input.shape)}"
        )
    s, p, o, d = (
        _ntuple(v, 1, op, w)[0]
        for v, w in (
            (stride, "stride"),
            (padding, "padding"),
            (output_padding, "output_padding"),
            (dilation, "dilation"),
        )
    )
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    if x.shape[1] != weight.shape[0]:
        raise _rustdl.ArgumentError(
            f"{op}: input has {x.shape[1]} channels but weight expects {weight.shape[0]}"
        )
    out = conv_transpose2d(
        x.unsqueeze(2),
        weight.unsqueeze(2),
        bias,
        stride=(1, s),
        padding=(0, p),
        output_padding=(0, o),
        groups=groups,
        dilation=(1, d),
    ).squeeze(2)
    return out.squeeze(0) if unbatched else out


def conv_transpose3d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups: int = 1, dilation=1
):
    """Transposed 3-D convolution of an ``(N, C_in, D, H, W)`` input with a
    ``(C_in, C_out/groups, kD, kH, kW)`` weight.

    Composed of one conv_transpose2d per kernel depth tap over all input depths at once; each
    tap's result is spread to depths ``i·stride + tap·dilation`` and the taps are summed, then
    ``padding`` is cropped from both ends (``output_padding`` extends the far end), so it is
    differentiable and runs wherever conv_transpose2d runs.
    ``D_out = (D − 1)·stride − 2·padding + dilation·(kD − 1) + output_padding + 1``.
    """
    op = "conv_transpose3d"
    if not isinstance(input, _rustdl.Tensor) or not isinstance(weight, _rustdl.Tensor):
        raise TypeError(f"{op}: input and weight must be Tensors")
    if weight.ndim != 5:
        raise _rustdl.ArgumentError(
            f"{op}: expected a 5-D weight (C_in, C_out/groups, kD, kH, kW), got shape {tuple(weight.shape)}"
        )
    if input.ndim not in (4, 5):
        raise _rustdl.ArgumentError(
            f"{op}: expected a 4-D or 5-D input (N, C, D, H, W), got shape {tuple(input.shape)}"
        )
    st = _ntuple(stride, 3, op, "stride")
    pd = _ntuple(padding, 3, op, "padding")
    opd = _ntuple(output_padding, 3, op, "output_padding")
    dl = _ntuple(dilation, 3, op, "dilation")
    if any(v < 1 for v in st + dl) or any(v < 0 for v in pd + opd):
        raise _rustdl.ArgumentError(
            f"{op}: stride and dilation must be positive and padding non-negative, got {st}, {dl}, {pd}"
        )
    if any(o >= max(s, d) for o, s, d in zip(opd, st, dl)):
        raise _rustdl.ArgumentError(
            f"{op}: output padding must be smaller than either stride or dilation, got output_padding={opd}, "
            f"stride={st}, dilation={dl}"
        )
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    if x.shape[1] != weight.shape[0]:
        raise _rustdl.ArgumentError(
            f"{op}: input has {x.shape[1]} channels but weight expects {weight.shape[0]}"
        )
    n, c, depth = x.shape[0], x.shape[1], x.shape[2]
    kd, s, d, p, o = weight.shape[2], st[0], dl[0], pd[0], opd[0]
    out_d = (depth - 1) * s - 2 * p + d * (kd - 1) + o + 1
    if out_d <= 0 or depth == 0:
        raise _rustdl.ArgumentError(
            f"{op}: input of shape {tuple(input.shape)} gives an empty output depth {out_d}"
        )
    # every input depth as its own image: (N·D, C, H, W)
    flat = x.permute(0, 2, 1, 3, 4).reshape(n * depth, c, x.shape[3], x.shape[4])
    span = (depth - 1) * s + 1
    full = (depth - 1) * s + d * (kd - 1) + 1 + max(0, o - p)
    total = None
    for t in range(kd):
        y = conv_transpose2d(flat, weight[:, :, t], None, st[1:], pd[1:], opd[1:], groups, dl[1:])
        y = y.reshape(n, depth, y.shape[1], y.shape[2], y.shape[3])
        if s > 1:  # depth i goes to i·s: interleave s − 1 zero slices
            y = pad(y.unsqueeze(2), [0, 0, 0, 0, 0, 0, 0, s - 1]).reshape(n, depth * s, *y.shape[2:])
            y = y[:, :span]
        y = pad(y, [0, 0, 0, 0, 0, 0, t * d, full - t * d - span])
        total = y if total is None else total + y
    out = total[:, p : p + out_d].permute(0, 2, 1, 3, 4)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1, 1)
    return out.squeeze(0) if unbatched else out


def _depth_taps(x, k: int, s: int, d: int, op: str):
    """The ``k`` depth-strided views of ``x`` (N, C, D, H, W): tap ``t`` holds depths ``t·d + i·s``."""
    depth = x.shape[2]
    out_d = (depth - d * (k - 1) - 1) // s + 1
    if out_d <= 0:
        raise _rustdl.ArgumentError(
            f"{op}: the (padded) input depth {depth} is smaller than the dilated kernel depth"
        )
    return [x[:, :, t * d : t * d + (out_d - 1) * s + 1 : s] for t in range(k)], out_d


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """3-D convolution of an ``(N, C_in, D, H, W)`` input with a ``(C_out, C_in/groups, kD, kH, kW)`` weight.

    Composed of one conv2d per kernel depth tap over all output depths at once, summed; so it is
    differentiable and runs wherever conv2d runs. ``padding`` may be ints, ``'valid'`` or ``'same'``.
    """
    op = "conv3d"
    if not isinstance(input, _rustdl.Tensor) or not isinstance(weight, _rustdl.Tensor):
        raise TypeError(f"{op}: input and weight must be Tensors")
    if weight.ndim != 5:
        raise _rustdl.ArgumentError(
            f"{op}: expected a 5-D weight (C_out, C_in/groups, kD, kH, kW), got shape {tuple(weight.shape)}"
        )
    if input.ndim not in (4, 5):
        raise _rustdl.ArgumentError(
            f"{op}: expected a 4-D or 5-D input (N, C, D, H, W), got shape {tuple(input.shape)}"
        )
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    if not isinstance(groups, int) or groups <= 0 or x.shape[1] != weight.shape[1] * groups:
        raise _rustdl.ArgumentError(
            f"{op}: input has {x.shape[1]} channels but weight expects {weight.shape[1]} x groups {groups}"
        )
    ks = tuple(weight.shape[2:])
    st = _ntuple(stride, 3, op, "stride")
    dl = _ntuple(dilation, 3, op, "dilation")
    if any(v < 1 for v in st + dl):
        raise _rustdl.ArgumentError(f"{op}: stride and dilation must be positive, got {st}, {dl}")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise _rustdl.ArgumentError(f"{op}: padding must be 'same', 'valid' or ints, got {padding!r}")
        if padding == "same" and any(v != 1 for v in st):
            raise _rustdl.ArgumentError(f"{op}: padding='same' is not supported for strided convolutions")
        totals = [0, 0, 0] if padding == "valid" else [d * (k - 1) for d, k in zip(dl, ks)]
        pairs = [(t // 2, t - t // 2) for t in totals]
    else:
        pd = _ntuple(padding, 3, op, "padding")
        if any(v < 0 for v in pd):
            raise _rustdl.ArgumentError(f"{op}: padding must be non-negative, got {pd}")
        pairs = [(v, v) for v in pd]
    pads = [v for pair in reversed(pairs) for v in pair]
    if any(pads):
        x = pad(x, pads)
    taps, out_d = _depth_taps(x, ks[0], st[0], dl[0], op)
    n, c = x.shape[0], x.shape[1]
    out = None
    for t, xt in enumerate(taps):
        # (N, C, D_out, H, W) -> (N·D_out, C, H, W): every output depth as its own image
        flat = xt.permute(0, 2, 1, 3, 4).reshape(n * out_d, c, x.shape[3], x.shape[4])
        y = conv2d(flat, weight[:, :, t], None, st[1:], 0, dl[1:], groups)
        out = y if out is None else out + y
    out = out.reshape(n, out_d, out.shape[1], out.shape[2], out.shape[3]).permute(0, 2, 1, 3, 4)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1, 1)
    return out.squeeze(0) if unbatched else out


def _pool3d_args(input, kernel_size, stride, padding, op):
    if not isinstance(input, _rustdl.Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (4, 5):
        raise _rustdl.ArgumentError(
            f"{op}: expected a 4-D or 5-D input (N, C, D, H, W), got shape {tuple(input.shape)}"
        )
    _check_pool_nonempty(op, input, 5)
    k = _ntuple(kernel_size, 3, op, "kernel_size")
    s = (
        k
        if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
        else _ntuple(stride, 3, op, "stride")
    )
    p = _ntuple(padding, 3, op, "padding")
    if any(v < 1 for v in k + s):
        raise _rustdl.ArgumentError(f"{op}: kernel_size and stride must be positive, got {k}, {s}")
    if any(2 * pv > kv for pv, kv in zip(p, k)) or any(v < 0 for v in p):
        raise _rustdl.ArgumentError(
            f"{op}: padding must be non-negative and at most half the kernel size, got {p}"
        )
    return k, s, p


def max_pool3d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Max pooling over ``(kD, kH, kW)`` windows of an ``(N, C, D, H, W)`` input: max_pool2d on each
    depth slice, then a max over the depth taps; with ``ceil_mode`` or ``return_indices`` (flat
    ``D·H·W`` indices of the first maximum) each window is gathered whole."""
    return_indices = bool(return_indices)  # any truthy value, as PyTorch takes it
    op = "max_pool3d"
    k, s, p = _pool3d_args(input, kernel_size, stride, padding, op)
    dl = _ntuple(dilation, 3, op, "dilation")
    if ceil_mode or return_indices:
        return _pool3d_windows(input, k, s, p, dl, ceil_mode, "max", True, None, return_indices, op)
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    n, c, depth, h, w = x.shape
    y = max_pool2d(x.reshape(n, c * depth, h, w), k[1:], s[1:], p[1:], dl[1:])
    y = y.reshape(n, c, depth, y.shape[2], y.shape[3])
    if p[0]:
        y = pad(y, (0, 0, 0, 0, p[0], p[0]), value=float("-inf"))
    taps, _ = _depth_taps(y, k[0], s[0], dl[0], op)
    # ``max`` over the taps (not ``maximum``, which splits a tie): the gradient goes to one
    # element, the first maximum in (depth, height, width) order, as PyTorch
    out = taps[0] if len(taps) == 1 else _rustdl.stack(taps, 2).max(dim=2)[0]
    return out.squeeze(0) if unbatched else out


def avg_pool3d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override=None,
):
    """Average pooling over ``(kD, kH, kW)`` windows of an ``(N, C, D, H, W)`` input: avg_pool2d on
    each depth slice, then a mean over the depth taps; with ``ceil_mode``, ``divisor_override``
    or ``count_include_pad=False`` (and padding) each window is gathered whole and divided as
    PyTorch does."""
    if isinstance(input, _rustdl.Tensor) and input.dtype == _rustdl.int64:
        return _int64_avg_pool(
            avg_pool3d, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        )
    op = "avg_pool3d"
    k, s, p = _pool3d_args(input, kernel_size, stride, padding, op)
    if ceil_mode or divisor_override is not None or (not count_include_pad and any(p)):
        if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override == 0):
            raise _rustdl.ArgumentError(
                f"{op}: divisor_override must be a non-zero int, got {divisor_override!r}"
            )
        return _pool3d_windows(
            input, k, s, p, (1, 1, 1), ceil_mode, "avg", count_include_pad, divisor_override, False, op
        )
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    n, c, depth, h, w = x.shape
    y = avg_pool2d(x.reshape(n, c * depth, h, w), k[1:], s[1:], p[1:], False, True)
    y = y.reshape(n, c, depth, y.shape[2], y.shape[3])
    if p[0]:
        y = pad(y, (0, 0, 0, 0, p[0], p[0]))
    taps, _ = _depth_taps(y, k[0], s[0], 1, op)
    out = taps[0]
    for t in taps[1:]:
        out = out + t
    out = out / k[0]
    return out.squeeze(0) if unbatched else out


def _pool3d_windows(
    input, k, s, p, dl, ceil_mode, mode, count_include_pad, divisor_override, return_indices, op
):
    """3-D max or average pooling by gathering each window's elements (flat ``D·H·W`` indices),
    with PyTorch's output sizes (``ceil_mode``: a last window that starts inside the input or its
    left padding) and divisors (``count_include_pad`` counts the window within the padded input;
    otherwise only the input's elements)."""
    import numpy as np

    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    n, c = x.shape[0], x.shape[1]
    sizes = tuple(x.shape[2:])
    axes = []
    for size, kk, ss, pp, dd in zip(sizes, k, s, p, dl):
        span = size + 2 * pp - dd * (kk - 1) - 1
        # PyTorch's size: with ceil_mode a window may reach past the input, so long as it
        # starts inside the input or its left padding
        o = (span + (ss - 1 if ceil_mode else 0)) // ss + 1
        if ceil_mode and (o - 1) * ss >= size + pp:
            o -= 1
        if o <= 0:
            raise _rustdl.ArgumentError(
                f"{op}: the input {sizes} is smaller than the (dilated) kernel {k} with padding {p}"
            )
        start = np.arange(o) * ss - pp
        pos = start[:, None] + np.arange(kk) * dd
        inside = (pos >= 0) & (pos < size)
        padded = pos < size + pp  # within the padded input (counts for count_include_pad)
        axes.append((o, pos, inside, padded))
    outs = tuple(a[0] for a in axes)
    D, H, W = sizes
    (od, pd, vd, qd), (oh, ph, vh, qh), (ow, pw, vw, qw) = axes
    shape6 = (od, oh, ow, k[0], k[1], k[2])

    def grid(a, b, cc):
        return (
            a[:, None, None, :, None, None] * 0 + a[:, None, None, :, None, None],
            b[None, :, None, None, :, None],
            cc[None, None, :, None, None, :],
        )

    gd, gh, gw = grid(pd, ph, pw)
    flat = np.broadcast_to(
        np.clip(gd, 0, D - 1) * (H * W) + np.clip(gh, 0, H - 1) * W + np.clip(gw, 0, W - 1), shape6
    )
    md, mh, mw = grid(vd, vh, vw)
    valid = np.broadcast_to(md & mh & mw, shape6)
    m = od * oh * ow
    kk = k[0] * k[1] * k[2]
    idx = _rustdl.tensor(
        np.ascontiguousarray(flat).reshape(1, 1, m * kk), dtype=_rustdl.int64, device=x.device
    )
    vals = x.flatten(2).gather(2, idx.expand(n, c, m * kk)).reshape(n, c, m, kk)
    mask = _rustdl.tensor(
        np.ascontiguousarray(valid).reshape(1, 1, m, kk), dtype=_rustdl.bool, device=x.device
    )
    if mode == "max":
        vals = vals.masked_fill(mask.logical_not(), float("-inf"))
        best = vals.argmax(-1, keepdim=True)
        out = vals.gather(3, best).reshape(n, c, *outs)
        if unbatched:
            out = out.squeeze(0)
        if not return_indices:
            return out
        ind = idx.reshape(1, 1, m, kk).expand(n, c, m, kk).gather(3, best).reshape(n, c, *outs)
        return out, ind.squeeze(0) if unbatched else ind
    total = (vals * mask.to(vals.dtype)).sum(-1)
    if divisor_override is not None:
        div = np.full(m, float(divisor_override))
    else:
        qd_, qh_, qw_ = grid(qd, qh, qw)
        counted = np.broadcast_to(qd_ & qh_ & qw_, shape6) if count_include_pad else valid
        div = np.ascontiguousarray(counted).reshape(m, kk).sum(-1).astype(np.float64)
    out = total / _rustdl.tensor(div, dtype=x.dtype, device=x.device)
    out = out.reshape(n, c, *outs)
    return out.squeeze(0) if unbatched else out


def _adaptive3d(input, output_size, op: str, plane, line, indices: bool = False):
    """Adaptive pooling of an ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input to ``output_size``
    (an int or a triple whose ``None`` keeps that dim). PyTorch's windows along each dim are
    ``[⌊i·L/o⌋, ⌈(i+1)·L/o⌉)``, so a 3-D window is a box and both the mean and the max over it
    factor: ``plane`` pools each depth slice over (H, W), then ``line`` pools along D."""
    if not isinstance(input, _rustdl.Tensor) or input.ndim not in (4, 5):
        shape = tuple(input.shape) if isinstance(input, _rustdl.Tensor) else type(input).__name__
        raise _rustdl.ArgumentError(f"{op}: expected (N, C, D, H, W) or (C, D, H, W) input, got {shape}")
    if 0 in tuple(input.shape[-3:]):
        raise _rustdl.ArgumentError(
            f"{op}: expected input to have non-zero size for non-batch dimensions, got shape {tuple(input.shape)}"
        )
    size = _as_ints(output_size)
    triple = (
        (size,) * 3 if isinstance(size, int) else tuple(size) if isinstance(size, (tuple, list)) else None
    )
    if triple is None or len(triple) != 3:
        raise _rustdl.ArgumentError(f"{op}: output_size must be an int or a triple, got {output_size!r}")
    dims = tuple(input.shape[-3:])
    od, oh, ow = (d if o is None else o for o, d in zip(triple, dims))
    for v in (od, oh, ow):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise _rustdl.ArgumentError(f"{op}: output sizes must be positive ints, got {output_size!r}")
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    n, c, depth, h, w = x.shape
    if x.numel() == 0:  # no images or channels
        out = x.sum((-3, -2, -1), keepdim=True).expand(n, c, od, oh, ow).contiguous()
        out = out.squeeze(0) if unbatched else out
        return (out, _rustdl.zeros(*out.shape, dtype=_rustdl.int64, device=out.device)) if indices else out
    if indices:
        # per depth slice the max of each (H, W) window and its flat index there; then the max
        # over the depth window picks a slice (the first maximum in (d, h, w) order, as PyTorch)
        v2, i2 = plane(x.reshape(n, c * depth, h, w), (oh, ow), return_indices=True)
        v2 = v2.reshape(n, c, depth, oh * ow).transpose(2, 3).reshape(n * c, oh * ow, depth)
        i2 = i2.reshape(n, c, depth, oh * ow).transpose(2, 3).reshape(n * c, oh * ow, depth)
        v, at = line(v2, od, return_indices=True)
        flat = at * (h * w) + i2.gather(2, at)
        out = [t.reshape(n, c, oh, ow, od).permute(0, 1, 4, 2, 3).contiguous() for t in (v, flat)]
        return tuple(t.squeeze(0) for t in out) if unbatched else tuple(out)
    y = plane(x.reshape(n, c * depth, h, w), (oh, ow)).reshape(n, c, depth, oh * ow)
    # D last: one row of length D per (image, channel, output pixel)
    y = y.transpose(2, 3).reshape(n * c, oh * ow, depth)
    y = line(y, od).reshape(n, c, oh, ow, od).permute(0, 1, 4, 2, 3).contiguous()
    return y.squeeze(0) if unbatched else y


def adaptive_avg_pool3d(input, output_size):
    """Average pooling of an ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input to ``output_size``."""
    return _adaptive3d(input, output_size, "adaptive_avg_pool3d", adaptive_avg_pool2d, adaptive_avg_pool1d)


def adaptive_max_pool3d(input, output_size, return_indices: bool = False):
    """Max pooling of an ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input to ``output_size``;
    ``return_indices`` also returns each maximum's flat index in its ``D·H·W`` volume."""
    return_indices = bool(return_indices)  # any truthy value, as PyTorch takes it
    return _adaptive3d(
        input,
        output_size,
        "adaptive_max_pool3d",
        adaptive_max_pool2d,
        adaptive_max_pool1d,
        bool(return_indices),
    )


# ------------------------------------------------------------------ argument types
# Every function above takes its tensors by these names. A non-tensor there (None, a list, a
# number) is a TypeError naming the function and the argument, as PyTorch's argument parser
# raises, rather than an AttributeError from deep inside.

_TENSOR_ARGS = frozenset(
    {"input", "target", "x1", "x2", "input1", "input2", "grid", "theta", "query", "anchor"}
    | {"positive", "negative", "tensor", "logits", "indices"}
)
_OPTIONAL_TENSOR_ARGS = frozenset(
    {"weight", "bias", "running_mean", "running_var", "attn_mask", "key_padding_mask"}
)


def _typed_arguments(fn):
    import functools
    import inspect

    params = list(inspect.signature(fn).parameters.values())
    # 'key' and 'value' are tensors beside a 'query' (elsewhere `value` is a fill number)
    names = _TENSOR_ARGS | ({"key", "value"} if any(p.name == "query" for p in params) else set())
    checked = [
        (i, p.name)
        for i, p in enumerate(params)
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and (p.name in names or p.name in _OPTIONAL_TENSOR_ARGS)
    ]
    if not checked:
        return fn
    tensor_type = _rustdl.Tensor

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for i, name in checked:
            if i < len(args):
                v = args[i]
            elif name in kwargs:
                v = kwargs[name]
            else:
                continue
            if not isinstance(v, tensor_type) and not (v is None and name in _OPTIONAL_TENSOR_ARGS):
                raise TypeError(f"{fn.__name__}: argument '{name}' must be a Tensor, got {type(v).__name__}")
        return fn(*args, **kwargs)

    return wrapper


def _wrap_public_functions() -> None:
    import inspect

    g = globals()
    for name, fn in list(g.items()):
        if not name.startswith("_") and inspect.isfunction(fn) and fn.__module__ == __name__:
            g[name] = _typed_arguments(fn)


_wrap_public_functions()


def lp_pool3d(input, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False):
    """Power-average pooling ``(Σ x^p)^(1/p)`` over windows of an ``(N, C, D, H, W)`` or
    ``(C, D, H, W)`` input."""
    op = "lp_pool3d"
    k = _ntuple(kernel_size, 3, op, "kernel_size")
    _check_norm_type(op, norm_type)
    if math.isinf(norm_type):
        return _lp_extreme(max_pool3d, input, norm_type, k, stride, ceil_mode)
    out = avg_pool3d(input.pow(norm_type), k, stride if stride is not None else k, 0, ceil_mode)
    return _lp_finish(out, norm_type, k[0] * k[1] * k[2])


def _fractional_starts(size: int, out: int, k: int, u):
    """The window starts of fractional max pooling (Graham's pseudo-random sequence, as
    PyTorch): ``⌊(i + u)·α⌋ − ⌊u·α⌋`` with ``α = (size − k)/(out − 1)``, the last at ``size − k``;
    ``u`` is one sample per (n, c)."""
    import numpy as np

    if out == 1:
        return np.full((*u.shape, 1), size - k, dtype=np.int64)
    alpha = (size - k) / (out - 1)
    i = np.arange(out - 1)
    starts = (np.floor((i + u[..., None]) * alpha) - np.floor(u[..., None] * alpha)).astype(np.int64)
    return np.concatenate([starts, np.full((*u.shape, 1), size - k, dtype=np.int64)], -1)


def _fractional_max_pool(input, kernel_size, output_size, output_ratio, return_indices, samples, nd: int):
    import numpy as np

    op = f"fractional_max_pool{nd}d"
    if input.ndim not in (nd + 1, nd + 2):
        raise _rustdl.ArgumentError(
            f"{op}: expected a {nd + 1}-D or {nd + 2}-D input, got shape {tuple(input.shape)}"
        )
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    n, c = x.shape[0], x.shape[1]
    sizes = tuple(x.shape[2:])
    k = _ntuple(kernel_size, nd, op, "kernel_size")
    if output_size is None:
        if output_ratio is None:
            raise _rustdl.ArgumentError(
                f"{op}: fractional_max_pool requires specifying either an output_size or an output_ratio"
            )
        ratio = (output_ratio,) * nd if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
        if len(ratio) != nd or not all(0 < r < 1 for r in ratio):
            raise _rustdl.ArgumentError(
                f"{op}: output_ratio must be {nd} numbers in (0, 1), got {output_ratio!r}"
            )
        outs = tuple(int(s * r) for s, r in zip(sizes, ratio))
    else:
        outs = _ntuple(output_size, nd, op, "output_size")
    for s, o, kk in zip(sizes, outs, k):
        if kk < 1 or o < 1 or o + kk - 1 > s:
            raise _rustdl.ArgumentError(
                f"{op}: output size {outs} with kernel {k} does not fit the input size {sizes} "
                "(each needs output + kernel - 1 <= input)"
            )
    if samples is None:
        u = _rustdl.rand(n, c, nd, dtype=_rustdl.float64).numpy()
    else:
        if tuple(samples.shape) != (n, c, nd):
            raise _rustdl.ArgumentError(
                f"{op}: _random_samples must have shape {(n, c, nd)}, got {tuple(samples.shape)}"
            )
        u = samples.detach().cpu().numpy().astype(np.float64)
    if nd == 2:  # PyTorch's 2-D samples are (width, height); its 3-D ones (depth, height, width)
        u = u[..., ::-1]
    # per (n, c): the flat index of every element of every window, then the first maximum
    starts = [_fractional_starts(sizes[d], outs[d], k[d], u[..., d]) for d in range(nd)]
    strides = [int(np.prod(sizes[d + 1 :])) for d in range(nd)]
    flat = np.zeros((n, c) + outs + k, dtype=np.int64)
    for d in range(nd):
        shape = [n, c] + [1] * (2 * nd)
        shape[2 + d] = outs[d]
        pos = starts[d].reshape(n, c, *([1] * d), outs[d], *([1] * (nd - d - 1)), *([1] * nd))
        off = np.arange(k[d]).reshape(*([1] * (2 + nd + d)), k[d], *([1] * (nd - d - 1)))
        flat = flat + (pos + off) * strides[d]
    m = int(np.prod(outs))
    kk = int(np.prod(k))
    idx = _rustdl.tensor(flat.reshape(n, c, m * kk), dtype=_rustdl.int64, device=x.device)
    vals = x.flatten(2).gather(2, idx).reshape(n, c, m, kk)
    best = vals.argmax(-1, keepdim=True)  # the first maximum of each window, as PyTorch
    out = vals.gather(3, best).reshape(n, c, *outs)
    if unbatched:
        out = out.squeeze(0)
    if not return_indices:
        return out
    indices = idx.reshape(n, c, m, kk).gather(3, best).reshape(n, c, *outs)
    return out, indices.squeeze(0) if unbatched else indices


def fractional_max_pool2d(
    input,
    kernel_size,
    output_size=None,
    output_ratio=None,
    return_indices: bool = False,
    _random_samples=None,
):
    """Fractional max pooling of an ``(N, C, H, W)`` or ``(C, H, W)`` input: ``kernel_size``
    windows at pseudo-random fractional strides (one random offset per channel, or
    ``_random_samples`` of shape ``(N, C, 2)``) giving ``output_size`` (or ``output_ratio`` of the
    input). ``return_indices`` also gives the flat ``H·W`` index of each maximum."""
    return _fractional_max_pool(
        input, kernel_size, output_size, output_ratio, return_indices, _random_samples, 2
    )


def fractional_max_pool3d(
    input,
    kernel_size,
    output_size=None,
    output_ratio=None,
    return_indices: bool = False,
    _random_samples=None,
):
    """:func:`fractional_max_pool2d` of an ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input
    (``_random_samples`` of shape ``(N, C, 3)``; indices flat in ``D·H·W``)."""
    return _fractional_max_pool(
        input, kernel_size, output_size, output_ratio, return_indices, _random_samples, 3
    )


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Places each value of an ``(N, C, D, H, W)`` (or ``(C, D, H, W)``) max-pooled input at its
    flat ``D·H·W`` ``indices`` (from ``max_pool3d(..., return_indices=True)``) in zeros."""
    op = "max_unpool3d"
    if not isinstance(input, _rustdl.Tensor) or input.ndim not in (4, 5):
        raise _rustdl.ArgumentError(
            f"{op}: expected a 4-D or 5-D input, got {getattr(input, 'shape', type(input).__name__)}"
        )
    if not isinstance(indices, _rustdl.Tensor) or tuple(indices.shape) != tuple(input.shape):
        raise _rustdl.ArgumentError(
            f"{op}: indices must be a tensor of the input's shape {tuple(input.shape)}"
        )
    if indices.dtype != _rustdl.int64:
        raise TypeError(f"{op}: indices must be int64, got {indices.dtype}")
    k = _ntuple(kernel_size, 3, op, "kernel_size")
    st = k if stride is None else _ntuple(stride, 3, op, "stride")
    pd = _ntuple(padding, 3, op, "padding")
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    idx = indices.unsqueeze(0) if unbatched else indices
    n, c, d, h, w = x.shape
    outs = [(sz - 1) * ss - 2 * pp + kk for sz, ss, pp, kk in zip((d, h, w), st, pd, k)]
    if output_size is not None:
        size = tuple(output_size)[-3:]
        if len(size) != 3:
            raise _rustdl.ArgumentError(f"{op}: output_size must give (D, H, W), got {output_size!r}")
        for i, (want, got, ss) in enumerate(zip(outs, size, st)):
            if not want - ss < int(got) < want + ss:
                raise _rustdl.ArgumentError(
                    f"{op}: invalid output_size {tuple(output_size)} (dim {i} must be between {want - ss} and {want + ss})"
                )
        outs = [int(v) for v in size]
    total = outs[0] * outs[1] * outs[2]
    m = d * h * w
    out = _unpool_scatter(x.reshape(n, c, m), idx.reshape(n, c, m), total, str(tuple(outs)), op)
    out = out.reshape(n, c, *outs)
    return out.squeeze(0) if unbatched else out


def _with_indices(pool, name: str):
    def fn(input, *args, **kwargs):
        kwargs.pop("return_indices", None)
        if args and name.startswith("adaptive") and len(args) > 1:
            args = args[:1]  # (input, output_size, return_indices): the flag is always on here
        elif len(args) > 4 and name.startswith("max_pool"):
            # (input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
            args = args[:5] + ((args[5],) if len(args) > 5 else ())
        return pool(input, *args, return_indices=True, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f":func:`{pool.__name__}` with ``return_indices=True``: ``(output, indices)``."
    return fn


max_pool1d_with_indices = _with_indices(max_pool1d, "max_pool1d_with_indices")
max_pool2d_with_indices = _with_indices(max_pool2d, "max_pool2d_with_indices")
max_pool3d_with_indices = _with_indices(max_pool3d, "max_pool3d_with_indices")
adaptive_max_pool1d_with_indices = _with_indices(adaptive_max_pool1d, "adaptive_max_pool1d_with_indices")
adaptive_max_pool2d_with_indices = _with_indices(adaptive_max_pool2d, "adaptive_max_pool2d_with_indices")
adaptive_max_pool3d_with_indices = _with_indices(adaptive_max_pool3d, "adaptive_max_pool3d_with_indices")
fractional_max_pool2d_with_indices = _with_indices(
    fractional_max_pool2d, "fractional_max_pool2d_with_indices"
)
fractional_max_pool3d_with_indices = _with_indices(
    fractional_max_pool3d, "fractional_max_pool3d_with_indices"
)
