"""Parameter initialisation, as ``torch.nn.init``; each function fills a tensor in place and returns it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _rustdl
from .._rustdl import Tensor
from ..autograd import no_grad


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (``relu`` → √2, ``tanh`` → 5/3, …)."""
    linear = (
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "sigmoid",
    )
    if nonlinearity in linear:
        return 1  # an int, as PyTorch
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity '{nonlinearity}'")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(
            f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape {tuple(tensor.shape)})"
        )
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode '{mode}' is not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# PyTorch's private names, which third-party initialisers import
_calculate_correct_fan = _fan


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fills ``tensor`` from U(a, b) (from ``generator``'s stream when given)."""
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fills ``tensor`` from N(mean, std²) (from ``generator``'s stream when given)."""
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Any = None,
) -> Tensor:
    """Fills ``tensor`` from N(mean, std²) truncated to ``[a, b]`` (absolute bounds), by rejection
    as PyTorch 2.x: normal draws redrawn where outside the window when it holds more than 30 % of
    the mass, else uniform candidates accepted with the density's ratio to its peak."""
    if not a <= b:
        raise _rustdl.ArgumentError(f"trunc_normal_: expected a <= b, got a={a}, b={b}")
    if std <= 0:
        with no_grad():
            return tensor.fill_(min(max(mean, a), b))

    def norm_cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if mean < a - 2 * std or mean > b + 2 * std:
        import warnings

        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=2,
        )

    with no_grad():
        mass = norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std)
        if mass > 0.3:
            # normal draws, redrawn where outside [a, b] (bounds as the tensor's dtype holds them)
            bounds = _rustdl.tensor([a, b], dtype=tensor.dtype, device="cpu").tolist()
            result = tensor.normal_(mean, std, generator=generator)
            while True:
                outside = (result < bounds[0]) | (result > bounds[1])
                if not bool(outside.any()):
                    break
                redraw = _rustdl.empty_like(result).normal_(mean, std, generator=generator)
                result = _rustdl.where(outside, redraw, result)
            if result is not tensor:
                tensor.copy_(result)
            return tensor
        # a narrow window: uniform candidates in [a, b] accepted with the density's ratio to its
        # peak over the window (rejection sampling), the pending ones redrawn together
        mode = max(a, min(mean, b))
        log_peak = -0.5 * ((mode - mean) / std) ** 2

        def log_ratio(c: Tensor) -> Tensor:
            return c.sub(mean).div(std).pow(2).mul(-0.5).sub(log_peak)

        accept = _rustdl.empty_like(tensor)
        tensor.uniform_(a, b, generator=generator)
        pending = accept.uniform_(generator=generator).log().gt(log_ratio(tensor))
        if bool(pending.any()):
            candidates = _rustdl.empty_like(tensor)
            result = tensor.clone()
            while True:
                candidates.uniform_(a, b, generator=generator)
                result = _rustdl.where(pending, candidates, result)
                drawn = accept.uniform_(generator=generator).log().gt(log_ratio(candidates))
                pending = _rustdl.where(pending, drawn, pending)
                if not bool(pending.any()):
                    break
            tensor.copy_(result)
        return tensor


def _no_grad_trunc_normal_(
    tensor: Tensor, mean: float, std: float, a: float, b: float, generator: Any = None
) -> Tensor:
    """PyTorch's private name for :func:`trunc_normal_` (imported by third-party initialisers)."""
    return trunc_normal_(tensor, mean, std, a, b, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Fills ``tensor`` (2-D or more; trailing dims flattened) with a (semi-)orthogonal matrix
    from the QR decomposition of a normal draw, signs fixed so the result is uniform (Haar)."""
    if tensor.dim() < 2:
        raise ValueError("orthogonal_: only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    # PyTorch's draw: a normal fill of a (rows, cols) tensor of the weight's dtype
    dtype = tensor.dtype if tensor.dtype in (_rustdl.float32, _rustdl.float64) else _rustdl.float32
    flat = _rustdl.empty(rows, cols, dtype=dtype, device="cpu").normal_(0, 1, generator=generator).numpy()
    flat = flat.astype(np.float64)
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.where(np.diag(r) == 0, 1.0, np.diag(r)))
    if rows < cols:
        q = q.T
    with no_grad():
        src = _rustdl.tensor(
            np.ascontiguousarray(q * gain).reshape(tuple(tensor.shape)), dtype=tensor.dtype, device="cpu"
        )
        return tensor.copy_(src.to(tensor.device))


def eye_(tensor: Tensor) -> Tensor:
    """Fills a 2-D ``tensor`` with the identity (ones on the diagonal)."""
    if tensor.dim() != 2:
        raise ValueError("eye_: only 2-D tensors are supported")
    n, m = tensor.shape
    with no_grad():
        return tensor.copy_(_rustdl.eye(n, m, dtype=tensor.dtype, device=tensor.device))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fills a 3-, 4- or 5-D convolution weight with the Dirac delta, as ``torch.nn.init.dirac_``:
    in each of ``groups`` groups, output channel ``d`` has a 1 at input channel ``d`` (for the
    first ``min(out_channels // groups, in_channels)``), at the kernel's centre; zeros elsewhere,
    so the convolution passes those channels through unchanged."""
    if tensor.dim() not in (3, 4, 5):
        raise ValueError("dirac_: only tensors with 3, 4, or 5 dimensions are supported")
    shape = tuple(tensor.shape)
    if groups < 1 or shape[0] % groups != 0:
        raise ValueError(f"dirac_: dim 0 ({shape[0]}) must be divisible by groups ({groups})")
    per_group = shape[0] // groups
    w = np.zeros(shape, dtype=np.float64)
    centre = tuple(s // 2 for s in shape[2:])
    for g in range(groups):
        for d in range(min(per_group, shape[1])):
            w[(g * per_group + d, d) + centre] = 1.0
    with no_grad():
        return tensor.copy_(_rustdl.tensor(w, dtype=tensor.dtype, device=tensor.device))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fills ``tensor`` with ``val``."""
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fills ``tensor`` with zeros."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fills ``tensor`` with ones."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot uniform: U(−a, a) with ``a = gain·√(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator=generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot normal: N(0, std²) with ``std = gain·√(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator=generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Tensor:
    """He uniform: U(−b, b) with ``b = gain·√(3 / fan)``, ``gain = calculate_gain(nonlinearity, a)``.

    Example:
        >>> w = rustdl.empty(8, 4)
        >>> nn.init.kaiming_uniform_(w, a=math.sqrt(5))  # Linear's default: U(±1/√4)
    """
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator=generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Tensor:
    """He normal: N(0, std²) with ``std = gain / √fan``."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator=generator)


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Any = None) -> Tensor:
    """Fills a 2-D ``tensor`` as a sparse matrix, as ``torch.nn.init.sparse_``: every entry from
    N(0, std²), then in each column ``ceil(sparsity · rows)`` entries, at rows drawn at random,
    set to zero.

    Example:
        >>> w = nn.init.sparse_(rustdl.empty(10, 4), sparsity=0.3)   # 3 zeros per column
    """
    if tensor.ndim != 2:
        raise ValueError(
            f"sparse_: only tensors with 2 dimensions are supported, got shape {tuple(tensor.shape)}"
        )
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    with no_grad():
        tensor.normal_(0.0, std, generator=generator)
        if num_zeros > 0 and cols > 0:
            # per column, the first num_zeros rows of a permutation (PyTorch's draws; PyTorch
            # takes these from the global stream even when given ``generator``, rustdl from it)
            mask = np.zeros((rows, cols), dtype=bool)
            for c in range(cols):
                mask[_rustdl._randperm_cpu(rows, generator=generator).numpy()[:num_zeros], c] = True
            tensor.masked_fill_(_rustdl.tensor(mask, device=tensor.device), 0.0)
    return tensor


def _deprecated_alias(new: Any) -> Any:
    """The old, underscore-less name of an initialiser: warns (``FutureWarning``, as PyTorch)
    and calls ``new``."""
    old = new.__name__[:-1]

    def alias(*args: Any, **kwargs: Any) -> Any:
        import warnings

        warnings.warn(
            f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new.__name__}`.",
            FutureWarning,
            stacklevel=2,
        )
        return new(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old
    alias.__doc__ = f"Deprecated alias of :func:`{new.__name__}`."
    return alias


uniform = _deprecated_alias(uniform_)
normal = _deprecated_alias(normal_)
constant = _deprecated_alias(constant_)
xavier_uniform = _deprecated_alias(xavier_uniform_)
xavier_normal = _deprecated_alias(xavier_normal_)
kaiming_uniform = _deprecated_alias(kaiming_uniform_)
kaiming_normal = _deprecated_alias(kaiming_normal_)
orthogonal = _deprecated_alias(orthogonal_)
eye = _deprecated_alias(eye_)
dirac = _deprecated_alias(dirac_)
sparse = _deprecated_alias(sparse_)
