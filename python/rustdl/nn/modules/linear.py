"""``Identity``, ``Linear``, ``LazyLinear``, ``Bilinear``, ``Flatten`` and ``Unflatten``."""

from __future__ import annotations

import math

from ... import _rustdl
from ..._rustdl import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter, UninitializedParameter, _fill_placeholder
from .module import Module


class Identity(Module):
    """Returns its input unchanged; accepts and ignores any constructor arguments."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """Affine map ``y = x Wᵀ + b``.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive bias (default ``True``).
        device, dtype: where and how to create the parameters.

    Shape:
        Input ``(*, in_features)``; output ``(*, out_features)``.

    ``weight`` is ``(out_features, in_features)``; weight and bias start uniform in ±1/√in_features.

    Example:
        >>> fc = nn.Linear(20, 30)
        >>> fc(rustdl.randn(128, 20)).shape
        (128, 30)
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise _rustdl.ArgumentError(
                f"Linear: in_features and out_features must be non-negative, got {in_features}, {out_features}"
            )
        self.in_features = in_features
        self.out_features = out_features
        kw = {"device": device, "dtype": dtype}
        self.weight = Parameter(_rustdl.empty(out_features, in_features, **kw))
        self.bias = Parameter(_rustdl.empty(out_features, **kw)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draws weight and bias with PyTorch's default initialisation."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
        )


class Flatten(Module):
    """Flattens dims ``start_dim`` … ``end_dim`` into one.

    Shape:
        Input ``(N, *dims)``; output ``(N, prod(dims))`` with the defaults.

    Example:
        >>> nn.Flatten()(rustdl.zeros(32, 1, 5, 5)).shape
        (32, 25)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dim ``dim`` into ``unflattened_size``.

    Example:
        >>> nn.Unflatten(1, (2, 5, 5))(rustdl.zeros(2, 50)).shape
        (2, 2, 5, 5)
    """

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)) or not all(
            isinstance(s, int) for s in unflattened_size
        ):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}")
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        shape = list(input.shape)
        dim = self.dim if self.dim >= 0 else self.dim + len(shape)
        if not 0 <= dim < len(shape):
            raise IndexError(
                f"Unflatten: dim {self.dim} is out of range for input of shape {tuple(input.shape)}"
            )
        return input.reshape(*shape[:dim], *self.unflattened_size, *shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class NonDynamicallyQuantizableLinear(Linear):
    """A :class:`Linear` under another name, as PyTorch's (the output projection of
    :class:`~rustdl.nn.MultiheadAttention` is one, and its repr shows the name)."""


class Bilinear(Module):
    """Bilinear map ``y = x1ᵀ A x2 + b``.

    Args:
        in1_features, in2_features: sizes of the two inputs' last dims.
        out_features: size of the output's last dim.
        bias: learn an additive bias (default ``True``).

    Shape:
        Inputs ``(*, in1_features)`` and ``(*, in2_features)``; output ``(*, out_features)``.

    ``weight`` is ``(out_features, in1_features, in2_features)``; weight and bias start uniform
    in ±1/√in1_features.
    """

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if in1_features <= 0:
            # the initial bound is 1/sqrt(in1_features), as PyTorch's check
            raise ValueError(f"Bilinear: in1_features must be > 0, got in1_features={in1_features}")
        if min(in1_features, in2_features, out_features) < 0:
            raise ValueError(
                "Bilinear: in1_features, in2_features and out_features must be non-negative, got "
                f"{in1_features}, {in2_features}, {out_features}"
            )
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        kw = {"device": device, "dtype": dtype}
        self.weight = Parameter(_rustdl.empty(out_features, in1_features, in2_features, **kw))
        self.bias = Parameter(_rustdl.empty(out_features, **kw)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draws weight and bias uniform in ±1/√in1_features, as PyTorch."""
        bound = 1 / math.sqrt(self.in1_features) if self.in1_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


class LazyLinear(Linear):
    """A :class:`Linear` whose ``in_features`` is taken from the first input's last dim.

    Until that first call the parameters are empty placeholders (build the optimizer after a
    first forward, as with PyTorch's lazy modules); the call materialises and initialises them
    and the module then becomes a plain :class:`Linear`. Loading a state dict into a root
    ``LazyLinear`` also materialises it from the saved weight's shape.

    Example:
        >>> fc = nn.LazyLinear(10)
        >>> fc(rustdl.randn(4, 7)).shape, fc.in_features
        ((4, 10), 7)
    """

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        Module.__init__(self)
        if out_features < 0:
            raise ValueError(f"LazyLinear: out_features must be non-negative, got {out_features}")
        self.in_features = 0
        self.out_features = out_features
        self._factory = {"device": device, "dtype": dtype}
        self.weight = UninitializedParameter(**self._factory)
        self.bias = UninitializedParameter(**self._factory) if bias else None

    def has_uninitialized_params(self) -> bool:
        """True until the first forward (or a state-dict load) has fixed ``in_features``."""
        return True

    def reset_parameters(self) -> None:
        """Nothing to do before materialisation; :class:`Linear`'s initialisation afterwards."""

    def initialize_parameters(self, input: Tensor) -> None:
        """Creates ``weight (out_features, in_features)`` and ``bias`` from ``input``'s last dim."""
        if input.ndim == 0:
            raise ValueError("LazyLinear: expected an input with at least one dim, got a scalar")
        self._materialize(input.shape[-1])

    def _materialize(self, in_features: int) -> None:
        kw = self._factory
        w = self.weight
        kw = {"device": kw["device"] or w.device, "dtype": kw["dtype"] or w.dtype}
        self.in_features = in_features
        _fill_placeholder(self, "weight", _rustdl.empty(self.out_features, in_features, **kw))
        if self.bias is not None:
            _fill_placeholder(self, "bias", _rustdl.empty(self.out_features, **kw))
        del self._factory
        self.__class__ = Linear
        Linear.reset_parameters(self)

    def forward(self, input: Tensor) -> Tensor:
        self.initialize_parameters(input)
        return F.linear(input, self.weight, self.bias)

    def _load_from_state_dict(self, state_dict, prefix, *args):
        # a checkpoint's weight fixes in_features (also when this module is nested)
        weight = state_dict.get(prefix + "weight") if hasattr(state_dict, "get") else None
        if isinstance(weight, Tensor) and weight.ndim == 2:
            self._materialize(weight.shape[1])
        return Module._load_from_state_dict(self, state_dict, prefix, *args)
