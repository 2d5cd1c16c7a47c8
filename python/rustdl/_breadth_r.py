"""The ``torch.*`` forms of functional ops with ATen's positional signatures (``torch.embedding``,
``torch.batch_norm``, ``torch.kl_div(input, target, reduction: int)``, the in-place activations
and dropouts, the ``*_copy`` variants of the view ops): the names model code written against
``torch`` directly calls. Each forwards to the ``nn.functional`` (or tensor) op it names."""

from __future__ import annotations

from typing import Any

from . import _rustdl as _rd
from ._rustdl import Tensor

__all__ = [
    "_cast_Byte",
    "_cast_Char",
    "_cast_Double",
    "_cast_Float",
    "_cast_Half",
    "_cast_Int",
    "_cast_Long",
    "_cast_Short",
    "_sample_dirichlet",
    "_standard_gamma",
    "alpha_dropout_",
    "batch_norm",
    "binary_cross_entropy_with_logits",
    "celu_",
    "channel_shuffle",
    "constant_pad_nd",
    "convolution",
    "cosine_embedding_loss",
    "ctc_loss",
    "dropout_",
    "embedding",
    "feature_alpha_dropout",
    "feature_alpha_dropout_",
    "feature_dropout_",
    "fill",
    "frobenius_norm",
    "get_device_module",
    "hinge_embedding_loss",
    "instance_norm",
    "is_storage",
    "kl_div",
    "margin_ranking_loss",
    "max_pool1d_with_indices",
    "max_pool3d",
    "norm_except_dim",
    "nuclear_norm",
    "poisson_nll_loss",
    "rms_norm",
    "rrelu_",
    "selu_",
    "slice_copy",
    "threshold_",
    "triplet_margin_loss",
]


def _F():
    from .nn import functional

    return functional


_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(op: str, r: Any) -> str:
    """ATen's integer reduction (0 none, 1 mean, 2 sum); the strings are taken too."""
    if isinstance(r, str) and r in _REDUCTIONS.values():
        return r
    if isinstance(r, int) and not isinstance(r, bool) and r in _REDUCTIONS:
        return _REDUCTIONS[r]
    raise ValueError(f"{op}: reduction must be 0 (none), 1 (mean) or 2 (sum), got {r!r}")


def embedding(
    weight: Tensor,
    indices: Tensor,
    padding_idx: int = -1,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` at ``indices`` (ATen order: weight first; ``padding_idx=-1`` is none)."""
    pad = None if padding_idx is None or padding_idx == -1 else padding_idx
    return _F().embedding(
        indices, weight, padding_idx=pad, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse
    )


def batch_norm(
    input: Tensor,
    weight: Any,
    bias: Any,
    running_mean: Any,
    running_var: Any,
    training: bool,
    momentum: float,
    eps: float,
    cudnn_enabled: bool = True,
) -> Tensor:  # noqa: A002
    """Batch normalisation with ATen's argument order (``torch.batch_norm``)."""
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(
    input: Tensor,
    weight: Any,
    bias: Any,
    running_mean: Any,
    running_var: Any,
    use_input_stats: bool,
    momentum: float,
    eps: float,
    cudnn_enabled: bool = True,
) -> Tensor:  # noqa: A002
    """Instance normalisation with ATen's argument order (``torch.instance_norm``)."""
    return _F().instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def rms_norm(input: Tensor, normalized_shape: Any, weight: Any = None, eps: Any = None) -> Tensor:  # noqa: A002
    """RMS normalisation over the trailing ``normalized_shape`` dims (``torch.rms_norm``)."""
    return _F().rms_norm(input, normalized_shape, weight, eps)


def _inplace(op: str, input: Tensor, value: Tensor) -> Tensor:  # noqa: A002
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    return input.copy_(value)


def dropout_(input: Tensor, p: float = 0.5, train: bool = True) -> Tensor:  # noqa: A002
    """In-place dropout (``torch.dropout_``)."""
    return _inplace("dropout_", input, _F().dropout(input, p, train))


def alpha_dropout_(input: Tensor, p: float = 0.5, train: bool = True) -> Tensor:  # noqa: A002
    """In-place alpha dropout (``torch.alpha_dropout_``)."""
    return _inplace("alpha_dropout_", input, _F().alpha_dropout(input, p, train))


def feature_dropout_(input: Tensor, p: float = 0.5, train: bool = True) -> Tensor:  # noqa: A002
    """In-place channel dropout (whole feature maps; ``torch.feature_dropout_``)."""
    return _inplace("feature_dropout_", input, _channel_dropout(input, p, train))


def _channel_dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    F = _F()
    if input.dim() == 3:
        return F.dropout1d(input, p, train)
    if input.dim() == 5:
        return F.dropout3d(input, p, train)
    return F.dropout2d(input, p, train)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, train: bool = True) -> Tensor:  # noqa: A002
    """Alpha dropout of whole feature maps (``torch.feature_alpha_dropout``)."""
    return _F().feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input: Tensor, p: float = 0.5, train: bool = True) -> Tensor:  # noqa: A002
    """In-place :func:`feature_alpha_dropout`."""
    return _inplace("feature_alpha_dropout_", input, feature_alpha_dropout(input, p, train))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    """In-place CELU."""
    return _inplace("celu_", input, _F().celu(input, alpha))


def selu_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place SELU."""
    return _inplace("selu_", input, _F().selu(input))


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:  # noqa: A002
    """In-place randomized leaky ReLU."""
    return _inplace("rrelu_", input, _F().rrelu(input, lower, upper, training))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:  # noqa: A002
    """In-place threshold: elements ``<= threshold`` become ``value``."""
    return _inplace("threshold_", input, _F().threshold(input, threshold, value))


def constant_pad_nd(input: Tensor, pad: Any, value: float = 0) -> Tensor:  # noqa: A002
    """Constant padding (``F.pad(input, pad, value=value)``)."""
    return _F().pad(input, list(pad), mode="constant", value=value)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:  # noqa: A002
    """Channels regrouped as in ShuffleNet (``torch.channel_shuffle``)."""
    return _F().channel_shuffle(input, groups)


def max_pool3d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = (),
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> Tensor:  # noqa: A002
    """3-D max pooling with ATen's defaults (an empty ``stride`` is the kernel size)."""
    return _F().max_pool3d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool1d_with_indices(
    input: Tensor,
    kernel_size: Any,
    stride: Any = (),
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> tuple[Tensor, Tensor]:  # noqa: A002
    """1-D max pooling returning ``(values, indices)``."""
    return _F().max_pool1d(
        input, kernel_size, stride or None, padding, dilation, ceil_mode, return_indices=True
    )


def cosine_embedding_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: Any = 1
) -> Tensor:
    """``F.cosine_embedding_loss`` with ATen's integer ``reduction``."""
    return _F().cosine_embedding_loss(
        input1, input2, target, margin=margin, reduction=_reduction("cosine_embedding_loss", reduction)
    )


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, reduction: Any = 1) -> Tensor:  # noqa: A002
    """``F.hinge_embedding_loss`` with ATen's integer ``reduction``."""
    return _F().hinge_embedding_loss(
        input, target, margin=margin, reduction=_reduction("hinge_embedding_loss", reduction)
    )


def margin_ranking_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: Any = 1
) -> Tensor:
    """``F.margin_ranking_loss`` with ATen's integer ``reduction``."""
    return _F().margin_ranking_loss(
        input1, input2, target, margin=margin, reduction=_reduction("margin_ranking_loss", reduction)
    )


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: Any = 1,
) -> Tensor:
    """``F.triplet_margin_loss`` with ATen's integer ``reduction``."""
    return _F().triplet_margin_loss(
        anchor, positive, negative, margin=margin, p=p, eps=eps, swap=swap,
        reduction=_reduction("triplet_margin_loss", reduction),
    )  # fmt: skip


def poisson_nll_loss(
    input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float, reduction: Any
) -> Tensor:  # noqa: A002
    """``F.poisson_nll_loss`` with ATen's positional arguments and integer ``reduction``."""
    return _F().poisson_nll_loss(
        input,
        target,
        log_input=log_input,
        full=full,
        eps=eps,
        reduction=_reduction("poisson_nll_loss", reduction),
    )


def kl_div(input: Tensor, target: Tensor, reduction: Any = 1, *, log_target: bool = False) -> Tensor:  # noqa: A002
    """``F.kl_div`` with ATen's integer ``reduction`` (1, mean, is the element mean)."""
    return _F().kl_div(input, target, reduction=_reduction("kl_div", reduction), log_target=log_target)


def binary_cross_entropy_with_logits(
    input: Tensor, target: Tensor, weight: Any = None, pos_weight: Any = None, reduction: Any = 1
) -> Tensor:  # noqa: A002
    """``F.binary_cross_entropy_with_logits`` with ATen's integer ``reduction``."""
    return _F().binary_cross_entropy_with_logits(
        input, target, weight=weight, pos_weight=pos_weight,
        reduction=_reduction("binary_cross_entropy_with_logits", reduction),
    )  # fmt: skip


def fill(input: Tensor, value: Any) -> Tensor:  # noqa: A002
    """A new tensor like ``input`` filled with ``value`` (a number or a 0-d tensor)."""
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(
                f"fill only supports 0-dimension value tensor but got tensor with {value.dim()} dimensions."
            )
        value = value.item()
    return _rd.full_like(input, value)


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:  # noqa: A002
    """The ``pow``-norm over every dim but ``dim``, kept as size-1 dims (weight norm's ``‖v‖``);
    ``dim=-1`` is the norm of the whole tensor."""
    if dim == -1:
        return v.norm(pow)
    dims = [d for d in range(v.dim()) if d != dim % max(v.dim(), 1)]
    return v.norm(pow, dim=dims, keepdim=True) if dims else v.abs() if pow != 0 else (v != 0).to(v.dtype)


def frobenius_norm(input: Tensor, dim: Any = (-2, -1), keepdim: bool = False) -> Tensor:  # noqa: A002
    """The Frobenius norm over ``dim``."""
    dim = (dim,) if isinstance(dim, int) else tuple(dim)
    return input.norm(2, dim=list(dim), keepdim=keepdim)


def nuclear_norm(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The nuclear norm (sum of singular values) of a matrix, or over the two dims ``dim``."""
    from . import linalg

    if isinstance(dim, bool):  # nuclear_norm(input, keepdim)
        dim, keepdim = None, dim
    return linalg.matrix_norm(input, "nuc", dim=tuple(dim) if dim is not None else (-2, -1), keepdim=keepdim)


def _copy_variant(name: str, view: Any):
    def fn(input: Tensor, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        out = view(input, *args, **kwargs)
        if isinstance(out, (tuple, list)):
            return type(out)(o.clone() for o in out)
        return out.clone()

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``{name[:-5]}`` of ``input`` as a new tensor (a copy, not a view)."
    return fn


_VIEW_OPS = (
    "alias", "as_strided", "detach", "diagonal", "expand", "permute", "select", "split",
    "split_with_sizes", "squeeze", "t", "transpose", "unbind", "unfold", "unsqueeze", "view",
    "view_as_real", "view_as_complex", "indices", "values",
)  # fmt: skip


def copy_variants() -> dict[str, Any]:
    """``torch.view_copy``, ``torch.transpose_copy``, ...: each view op's result copied."""
    out = {}
    for name in _VIEW_OPS:
        if name == "alias":
            out["alias_copy"] = _copy_variant("alias_copy", lambda t: t)
        elif name == "view":
            out["view_copy"] = _copy_variant("view_copy", lambda t, *s, **k: t.view(*s, **k))
        elif name == "unfold":
            out["unfold_copy"] = _copy_variant("unfold_copy", lambda t, *a, **k: t.unfold(*a, **k))
        elif name in ("indices", "values"):
            out[name + "_copy"] = _copy_variant(name + "_copy", _method_caller(name))
        else:
            out[name + "_copy"] = _copy_variant(
                name + "_copy", lambda t, *a, _n=name, **k: _view(_n, t, *a, **k)
            )
    return out


def _method_caller(name: str) -> Any:
    """``t -> t.<name>()``, taking nothing else (an extra argument is a TypeError)."""

    def call(t):
        return getattr(t, name)()

    call.__name__ = call.__qualname__ = f"{name}_copy"
    return call


def _view(name: str, t: Tensor, *args: Any, **kwargs: Any) -> Any:
    import rustdl

    fn = getattr(rustdl, name, None)
    return fn(t, *args, **kwargs) if fn is not None else getattr(t, name)(*args, **kwargs)


def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Any,
    target_lengths: Any,
    blank: int = 0,
    reduction: Any = 0,
    zero_infinity: bool = False,
) -> Tensor:
    """CTC loss with ATen's integer reduction (``torch.ctc_loss``; called without one it gives
    the per-sequence losses, as PyTorch's binding does)."""
    return _F().ctc_loss(
        log_probs,
        targets,
        input_lengths,
        target_lengths,
        blank=blank,
        reduction=_reduction("ctc_loss", reduction),
        zero_infinity=zero_infinity,
    )


def convolution(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    transposed: bool,
    output_padding: Any,
    groups: int,
) -> Tensor:
    """The one convolution entry point of ATen (``torch.convolution``): 1-, 2- or 3-d by the
    weight's rank, a transposed convolution when ``transposed``."""
    spatial = weight.dim() - 2
    if spatial not in (1, 2, 3):
        raise ValueError(f"convolution: expected a 3-, 4- or 5-d weight, got shape {tuple(weight.shape)}")
    F = _F()
    if transposed:
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[spatial - 1]
        return fn(input, weight, bias, stride, padding, output_padding, groups, dilation)
    fn = (F.conv1d, F.conv2d, F.conv3d)[spatial - 1]
    return fn(input, weight, bias, stride, padding, dilation, groups)


def slice_copy(input: Tensor, dim: int = 0, start: Any = None, end: Any = None, step: int = 1) -> Tensor:  # noqa: A002
    """A copy of ``input[start:end:step]`` along ``dim`` (``torch.slice_copy``)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"slice_copy: expected a Tensor, got {type(input).__name__}")
    if input.dim() == 0:
        raise IndexError("slice_copy: cannot slice a 0-d tensor")
    if not isinstance(step, int) or step <= 0:
        raise ValueError(f"slice_copy: step must be a positive integer, got {step!r}")
    d = dim + input.dim() if dim < 0 else dim
    if not 0 <= d < input.dim():
        raise IndexError(f"slice_copy: dimension {dim} out of range for a tensor of {input.dim()} dims")
    key = (slice(None),) * d + (slice(start, end, step),)
    return input[key].clone()


def is_storage(obj: Any) -> bool:
    """Whether ``obj`` is a storage (``tensor.untyped_storage()``, ``TypedStorage``)."""
    from ._storage import _StorageBase

    return isinstance(obj, _StorageBase)


def get_device_module(device: Any = None) -> Any:
    """The module of a device type (``torch.get_device_module("cuda")`` is ``torch.cuda``); with
    no argument, that of the accelerator (``cuda``)."""
    import importlib

    kind = getattr(device, "type", device)
    kind = "cuda" if kind is None else str(kind).split(":")[0]
    names = {"cuda": "cuda", "gpu": "cuda", "cpu": "cpu", "mps": "backends.mps"}
    if kind not in names:
        raise RuntimeError(f"get_device_module: device type '{kind}' is not supported here (cpu, cuda)")
    return importlib.import_module(f"{__package__}.{names[kind]}")


def _caster(dtype_name: str):
    def cast(input: Tensor, non_blocking: bool = False) -> Tensor:  # noqa: A002
        if not isinstance(input, Tensor):
            raise TypeError(f"_cast_{dtype_name}: argument 'self' must be Tensor, not {type(input).__name__}")
        return input.to(getattr(_rd, _CASTS[dtype_name]))

    cast.__name__ = cast.__qualname__ = f"_cast_{dtype_name}"
    cast.__doc__ = f"``torch._cast_{dtype_name}``: ``input`` converted to {_CASTS[dtype_name]}."
    return cast


_CASTS = {
    "Byte": "uint8",
    "Char": "int8",
    "Double": "float64",
    "Float": "float32",
    "Half": "float16",
    "Int": "int32",
    "Long": "int64",
    "Short": "int16",
}
_cast_Byte = _caster("Byte")
_cast_Char = _caster("Char")
_cast_Double = _caster("Double")
_cast_Float = _caster("Float")
_cast_Half = _caster("Half")
_cast_Int = _caster("Int")
_cast_Long = _caster("Long")
_cast_Short = _caster("Short")


def _draw_check(op: str, t: Any, generator: Any) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: argument 'self' must be Tensor, not {type(t).__name__}")
    if not t.is_floating_point():
        raise RuntimeError(
            f"{op}: \"{op}_cpu\" not implemented for '{str(t.dtype).split('.')[-1].capitalize()}'"
        )
    if generator is not None:
        raise NotImplementedError(f"{op}: a generator argument is not supported; seed with manual_seed")


def _standard_gamma(input: Tensor, generator: Any = None) -> Tensor:  # noqa: A002
    """``torch._standard_gamma``: one ``Gamma(input, 1)`` draw per element, differentiable in
    ``input`` (implicit reparameterisation), as ``distributions.Gamma.rsample`` draws."""
    from .distributions.gamma_family import standard_gamma

    _draw_check("_standard_gamma", input, generator)
    return standard_gamma(input)


def _sample_dirichlet(input: Tensor, generator: Any = None) -> Tensor:  # noqa: A002
    """``torch._sample_dirichlet``: one ``Dirichlet(input)`` draw per row of the last dim, as
    ``distributions.Dirichlet.rsample`` draws."""
    from .distributions.gamma_family import _DirichletSample

    _draw_check("_sample_dirichlet", input, generator)
    return _DirichletSample.apply(input.contiguous())
