"""PyTorch API breadth K: the in-place forms of out-of-place ops (``log1p_``, ``remainder_``,
``logical_not_``, comparisons such as ``lt_`` ...) and a few functional spellings
(``rustdl.relu_``, ``dsplit``, ``index_put``, ``empty_strided``, ``vdot``, ``addr`` ...).

Each in-place form runs its out-of-place op through ``Tensor._inplace_apply``: the core writes
the value into the tensor and rebases its autograd history, recomputing from a copy of the old
value when the op's derivative reads it, so gradients, version checks and errors are those of
a built-in in-place op (a float result into an integer tensor is a TypeError, as PyTorch).
"""

from __future__ import annotations

from typing import Any

from . import _rustdl as _rd
from ._rustdl import Tensor

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_max_pool1d",
    "avg_pool1d",
    "bilinear",
    "celu",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "get_device",
    "group_norm",
    "hardshrink",
    "is_inference",
    "layer_norm",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "pixel_shuffle",
    "pixel_unshuffle",
    "prelu",
    "rrelu",
    "selu",
    "threshold",
    "addr",
    "alpha_dropout",
    "clamp_",
    "cosine_similarity",
    "dropout",
    "dsplit",
    "empty_strided",
    "feature_dropout",
    "index_put",
    "is_same_size",
    "nan_to_num_",
    "pairwise_distance",
    "relu_",
    "sigmoid_",
    "tanh_",
    "vdot",
]

# in-place method -> the out-of-place method it writes back
_INPLACE = {
    name + "_": name
    for name in (
        "acos arccos acosh arccosh asin arcsin asinh arcsinh atan arctan atan2 arctan2 atanh "
        "arctanh bitwise_and bitwise_not bitwise_or bitwise_xor copysign cosh cumprod cumsum "
        "deg2rad digamma eq erf erfinv exp2 expm1 fix floor_divide fmod gcd ge greater_equal gt "
        "greater heaviside hypot i0 lcm ldexp le less_equal lgamma log10 log1p log2 logical_and "
        "logical_not logical_or logical_xor logit lt less multiply nan_to_num ne not_equal "
        "nextafter polygamma rad2deg remainder renorm sgn sinc sinh subtract tan true_divide "
        "xlogy erfc addr igamma igammac addbmm addmv conj_physical"
    ).split()
}


def _inplace_method(name: str, base: str):
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return self._inplace_apply(name, getattr(Tensor, base), *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place form of :meth:`Tensor.{base}`: writes the result into this tensor."
    return method


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:  # noqa: A002
    """``beta * input + alpha * outer(vec1, vec2)``; ``input`` broadcasts to the outer product."""
    if vec1.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(
            f"addr: expected 1-D vectors, got shapes {tuple(vec1.shape)} and {tuple(vec2.shape)}"
        )
    outer = vec1.unsqueeze(1) * vec2.unsqueeze(0)
    if alpha != 1:
        outer = outer * alpha
    if beta == 0:  # input is ignored (NaN in it does not propagate), as PyTorch
        return outer + input.detach().mul(0).nan_to_num(0.0, 0.0, 0.0).expand_as(outer)
    return (input * beta if beta != 1 else input) + outer


def index_put(input: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:  # noqa: A002
    """Out-of-place ``index_put_``: a copy of ``input`` with ``values`` put at ``indices``."""
    return input.clone().index_put_(indices, values, accumulate)


def dsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:  # noqa: A002
    """Splits along dim 2 (depth) of a tensor with at least 3 dims, as ``numpy.dsplit``."""
    if input.dim() < 3:
        raise RuntimeError(
            f"torch.dsplit requires a tensor with at least 3 dimension, but got a tensor with {input.dim()} dimensions!"
        )
    if isinstance(indices_or_sections, int) and (
        indices_or_sections == 0 or input.shape[2] % indices_or_sections != 0
    ):
        raise RuntimeError(
            f"torch.dsplit attempted to split along dimension 2, but the size of the dimension "
            f"{input.shape[2]} is not divisible by the split_size {indices_or_sections}!"
        )
    return tuple(input.tensor_split(indices_or_sections, 2))


def empty_strided(size: Any, stride: Any, **kwargs: Any) -> Tensor:
    """An uninitialised tensor of ``size`` laid out with ``stride`` (rustdl fills it with zeros),
    as ``torch.empty_strided``: a view of just enough memory for the largest offset."""
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    if len(stride) != len(size):
        raise RuntimeError(
            f"empty_strided: mismatch in length of strides and shape ({len(stride)} vs {len(size)})"
        )
    if any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise RuntimeError(
            f"empty_strided: sizes {list(size)} and strides {list(stride)} must be non-negative"
        )
    requires_grad = bool(kwargs.pop("requires_grad", False))
    extent = 0 if 0 in size else 1 + sum((n - 1) * st for n, st in zip(size, stride))
    out = _rd.zeros(extent, **kwargs).as_strided(size, stride) if size else _rd.zeros((), **kwargs)
    return out.requires_grad_() if requires_grad else out


def vdot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Dot product of two 1-D tensors (real tensors: the same as ``dot``)."""
    return input.dot(other)


def is_same_size(input: Tensor, other: Tensor) -> bool:  # noqa: A002
    """Whether the two tensors have the same shape."""
    return tuple(input.shape) == tuple(other.shape)


def _functional(name: str):
    def get():
        from .nn import functional as F

        return getattr(F, name)

    return get


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """As ``nn.functional.cosine_similarity``."""
    return _functional("cosine_similarity")()(x1, x2, dim, eps)


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """As ``nn.functional.pairwise_distance``."""
    return _functional("pairwise_distance")()(x1, x2, p, eps, keepdim)


def dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """``torch.dropout(input, p, train)``: as ``nn.functional.dropout``."""
    return _functional("dropout")()(input, p, train)


def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """``torch.feature_dropout``: whole channels zeroed, as ``nn.functional.dropout2d``."""
    return _functional("dropout2d")()(input, p, train)


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """``torch.alpha_dropout``: as ``nn.functional.alpha_dropout``."""
    return _functional("alpha_dropout")()(input, p, train)


def relu_(input: Tensor) -> Tensor:  # noqa: A002
    """``torch.relu_``: ``input.relu_()``."""
    return input.relu_()


def sigmoid_(input: Tensor) -> Tensor:  # noqa: A002
    """``torch.sigmoid_``: ``input.sigmoid_()``."""
    return input.sigmoid_()


def tanh_(input: Tensor) -> Tensor:  # noqa: A002
    """``torch.tanh_``: ``input.tanh_()``."""
    return input.tanh_()


def clamp_(input: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """``torch.clamp_``: ``input.clamp_(min, max)``."""
    return input.clamp_(min, max)


def nan_to_num_(
    input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Tensor:  # noqa: A002
    """``torch.nan_to_num_``: ``input.nan_to_num_(nan, posinf, neginf)``."""
    return input.nan_to_num_(nan, posinf, neginf)


def _tensor_addr(self: Tensor, vec1: Tensor, vec2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
    return addr(self, vec1, vec2, beta=beta, alpha=alpha)


def _tensor_index_put(self: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    return index_put(self, indices, values, accumulate)


def _tensor_dsplit(self: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:
    return dsplit(self, indices_or_sections)


for _name, _fn in (("addr", _tensor_addr), ("index_put", _tensor_index_put), ("dsplit", _tensor_dsplit)):
    if not hasattr(Tensor, _name):
        _fn.__name__ = _fn.__qualname__ = _name
        setattr(Tensor, _name, _fn)
# the in-place forms replace the earlier ones composed with copy_ (erfc_), whose saved old value
# failed the version check in backward
for _name, _base in _INPLACE.items():
    if hasattr(Tensor, _base) and (not hasattr(Tensor, _name) or _name == "erfc_"):
        setattr(Tensor, _name, _inplace_method(_name, _base))


# `x //= y` and `x %= y` write into x (other names for the same tensor see the change), as
# PyTorch; without these Python would rebind x to a new tensor
def _ifloordiv(self: Tensor, other: Any) -> Tensor:
    """``self //= other``: :meth:`Tensor.floor_divide_`."""
    return self.floor_divide_(other)


def _imod(self: Tensor, other: Any) -> Tensor:
    """``self %= other``: :meth:`Tensor.remainder_`."""
    return self.remainder_(other)


for _name, _fn in (("__ifloordiv__", _ifloordiv), ("__imod__", _imod)):
    _fn.__name__ = _fn.__qualname__ = _name
    setattr(Tensor, _name, _fn)
del _name, _fn, _base


# ---- the operator-level functions PyTorch also exposes as ``torch.<name>`` (``torch.conv2d``,
# ``torch.layer_norm``, ``torch.selu`` ...): each is its ``nn.functional`` form with the
# operator's signature (``torch.max_pool2d`` returns no indices, ``torch.adaptive_max_pool1d``
# always does, ``torch.layer_norm``/``group_norm`` take and ignore the cuDNN switch)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """``torch.conv1d``: as ``nn.functional.conv1d``."""
    return _functional("conv1d")()(input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """``torch.conv2d``: as ``nn.functional.conv2d``."""
    return _functional("conv2d")()(input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """``torch.conv3d``: as ``nn.functional.conv3d``."""
    return _functional("conv3d")()(input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):  # noqa: A002
    """``torch.conv_transpose1d``: as ``nn.functional.conv_transpose1d``."""
    return _functional("conv_transpose1d")()(
        input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):  # noqa: A002
    """``torch.conv_transpose2d``: as ``nn.functional.conv_transpose2d``."""
    return _functional("conv_transpose2d")()(
        input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):  # noqa: A002
    """``torch.conv_transpose3d``: as ``nn.functional.conv_transpose3d``."""
    return _functional("conv_transpose3d")()(
        input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):  # noqa: A002
    """``torch.max_pool1d`` (no indices; an empty ``stride`` means the kernel size)."""
    return _functional("max_pool1d")()(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):  # noqa: A002
    """``torch.max_pool2d`` (no indices; an empty ``stride`` means the kernel size)."""
    return _functional("max_pool2d")()(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):  # noqa: A002
    """``torch.max_pool3d`` (no indices; an empty ``stride`` means the kernel size)."""
    return _functional("max_pool3d")()(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def avg_pool1d(input, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True):  # noqa: A002
    """``torch.avg_pool1d`` (an empty ``stride`` means the kernel size)."""
    return _functional("avg_pool1d")()(
        input, kernel_size, stride or None, padding, ceil_mode, count_include_pad
    )


def adaptive_avg_pool1d(input, output_size):  # noqa: A002
    """``torch.adaptive_avg_pool1d``: as ``nn.functional.adaptive_avg_pool1d``."""
    return _functional("adaptive_avg_pool1d")()(input, output_size)


def adaptive_max_pool1d(input, output_size):  # noqa: A002
    """``torch.adaptive_max_pool1d``: ``(values, indices)``, as the operator returns."""
    return _functional("adaptive_max_pool1d")()(input, output_size, return_indices=True)


def bilinear(input1, input2, weight, bias=None):
    """``torch.bilinear``: as ``nn.functional.bilinear``."""
    return _functional("bilinear")()(input1, input2, weight, bias)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):  # noqa: A002, ARG001
    """``torch.layer_norm``: as ``nn.functional.layer_norm`` (``cudnn_enable`` is ignored)."""
    return _functional("layer_norm")()(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):  # noqa: A002, ARG001
    """``torch.group_norm``: as ``nn.functional.group_norm`` (``cudnn_enabled`` is ignored)."""
    return _functional("group_norm")()(input, num_groups, weight, bias, eps)


def celu(input, alpha=1.0):  # noqa: A002
    """``torch.celu``: as ``nn.functional.celu``."""
    return _functional("celu")()(input, alpha)


def selu(input):  # noqa: A002
    """``torch.selu``: as ``nn.functional.selu``."""
    return _functional("selu")()(input)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):  # noqa: A002, ARG001
    """``torch.rrelu``: as ``nn.functional.rrelu`` (the fixed mean slope outside training)."""
    return _functional("rrelu")()(input, lower, upper, training)


def threshold(input, threshold, value):  # noqa: A002
    """``torch.threshold``: ``value`` where ``input <= threshold``, as ``nn.functional.threshold``."""
    return _functional("threshold")()(input, threshold, value)


def hardshrink(input, lambd=0.5):  # noqa: A002
    """``torch.hardshrink``: as ``nn.functional.hardshrink``."""
    return _functional("hardshrink")()(input, lambd)


def prelu(input, weight):  # noqa: A002
    """``torch.prelu``: as ``nn.functional.prelu``."""
    return _functional("prelu")()(input, weight)


def pixel_shuffle(input, upscale_factor):  # noqa: A002
    """``torch.pixel_shuffle``: as ``nn.functional.pixel_shuffle``."""
    return _functional("pixel_shuffle")()(input, upscale_factor)


def pixel_unshuffle(input, downscale_factor):  # noqa: A002
    """``torch.pixel_unshuffle``: as ``nn.functional.pixel_unshuffle``."""
    return _functional("pixel_unshuffle")()(input, downscale_factor)


def is_inference(input) -> bool:  # noqa: A002
    """``torch.is_inference``: whether the tensor was made under ``inference_mode``."""
    return input.is_inference()


def get_device(input) -> int:  # noqa: A002
    """``torch.get_device``: -1 for a CPU tensor, else the GPU's index."""
    return input.get_device()
