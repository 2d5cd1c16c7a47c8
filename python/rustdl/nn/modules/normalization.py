"""Normalisation: batch (1-D, 2-D, 3-D), instance, layer, group, RMS and local response norms."""

from __future__ import annotations

import warnings
from typing import Any

from ... import _rustdl
from ..._rustdl import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter, UninitializedParameter, _fill_placeholder
from .module import Module


def _affine_parameters(
    module: Module, affine: bool, shape: tuple[int, ...], bias: bool = True, device=None, dtype=None
) -> None:
    """Gives ``module`` a learnable ``weight`` (ones) and ``bias`` (zeros, unless ``bias=False``) of
    ``shape`` when ``affine``, else registers both as ``None``."""
    if affine:
        module.weight = Parameter(_rustdl.ones(*shape, device=device, dtype=dtype))
        module.bias = Parameter(_rustdl.zeros(*shape, device=device, dtype=dtype)) if bias else None
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


class _NormBase(Module):
    """What batch and instance norms share, as PyTorch's ``_NormBase``: the affine parameters and
    the running statistics. ``_BatchNorm`` (BatchNorm1d/2d/3d, SyncBatchNorm) and
    ``_InstanceNorm`` (InstanceNorm1d/2d/3d) derive from it, and an instance norm is not a
    ``_BatchNorm``, as in PyTorch."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        kw = {"device": device, "dtype": dtype}
        _affine_parameters(self, affine, (num_features,), bias, **kw)
        if track_running_stats:
            self.register_buffer("running_mean", _rustdl.zeros(num_features, **kw))
            self.register_buffer("running_var", _rustdl.ones(num_features, **kw))
            self.register_buffer("num_batches_tracked", _rustdl.tensor(0, dtype=_rustdl.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    # version 2 added num_batches_tracked
    _version = 2

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        # a checkpoint without a version (or saved before num_batches_tracked) keeps the
        # module's own count instead of reporting the key missing, as PyTorch
        version = local_metadata.get("version", None)
        key = prefix + "num_batches_tracked"
        if (version is None or version < 2) and self.track_running_stats and key not in state_dict:
            nbt = self.num_batches_tracked
            state_dict[key] = nbt if nbt is not None else _rustdl.tensor(0, dtype=_rustdl.int64)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def reset_running_stats(self) -> None:
        """Resets running mean to 0, running variance to 1 and the batch count to 0."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Resets running statistics, weight (to 1) and bias (to 0)."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    """The base class of BatchNorm1d/2d/3d and SyncBatchNorm (``torch.nn.modules.batchnorm._BatchNorm``)."""

    _dims: tuple[int, ...] = ()

    def _check_input_dim(self, input: Tensor) -> None:
        """Raises ValueError for an input of the wrong rank (PyTorch's hook: a subclass
        overrides it to accept other ranks)."""
        if input.ndim not in self._dims:
            raise ValueError(
                f"{type(self).__name__}: expected a {' or '.join(f'{d}-D' for d in self._dims)} input, got shape {tuple(input.shape)}"
            )

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        if input.shape[1] != self.num_features:
            raise _rustdl.ShapeError(
                f"{type(self).__name__}: expected {self.num_features} channels, got input of shape {tuple(input.shape)}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        keep_stats = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if keep_stats else None,
            self.running_var if keep_stats else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over a ``(N, C)`` or ``(N, C, L)`` input.

    In training it normalises with the batch statistics and updates the running ones
    (``running = (1 − momentum)·running + momentum·batch``, unbiased variance); in eval it
    uses the running statistics. ``momentum=None`` uses a cumulative average.

    Args:
        num_features: ``C``.
        eps: added to the variance.
        momentum: running-statistics factor, or ``None``.
        affine: learn ``weight`` (init 1) and ``bias`` (init 0).
        track_running_stats: keep running statistics; otherwise always use batch ones.

    Example:
        >>> nn.BatchNorm1d(100)(rustdl.randn(20, 100)).shape
        (20, 100)
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over an ``(N, C, H, W)`` input, per channel (see :class:`BatchNorm1d`).

    Example:
        >>> nn.BatchNorm2d(8)(rustdl.randn(4, 8, 5, 5)).shape
        (4, 8, 5, 5)
    """

    _dims = (4,)


class LayerNorm(Module):
    """Normalises over the last ``len(normalized_shape)`` dims, then scales and shifts elementwise.

    Args:
        normalized_shape: the trailing shape to normalise over (int or tuple).
        eps: added to the variance.
        elementwise_affine: learn ``weight`` (init 1) and ``bias`` (init 0).
        bias: learn the bias when ``elementwise_affine``.

    Example:
        >>> nn.LayerNorm(10)(rustdl.randn(20, 5, 10)).shape
        (20, 5, 10)
    """

    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, elementwise_affine, self.normalized_shape, bias, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Normalises each of ``num_groups`` channel groups of an ``(N, C, *)`` input.

    Args:
        num_groups: number of groups; must divide ``num_channels``.
        num_channels: ``C``.
        eps: added to the variance.
        affine: learn per-channel ``weight`` (init 1) and ``bias`` (init 0).

    Example:
        >>> nn.GroupNorm(2, 6)(rustdl.randn(4, 6, 3, 3)).shape
        (4, 6, 3, 3)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels {num_channels} must be divisible by num_groups {num_groups}"
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine_parameters(self, affine, (num_channels,), bias, device=device, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise _rustdl.ArgumentError(
                f"GroupNorm: expected an input with {self.num_channels} channels (dim 1), "
                f"got shape {tuple(input.shape)}"
            )
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class LocalResponseNorm(Module):
    """Local response normalisation across channels (AlexNet); see
    :func:`rustdl.nn.functional.local_response_norm`."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation over an ``(N, C, D, H, W)`` input, per channel (see :class:`BatchNorm1d`)."""

    _dims = (5,)


class SyncBatchNorm(_BatchNorm):
    """``torch.nn.SyncBatchNorm`` for an ``(N, C, ...)`` input: batch normalisation per channel
    whose statistics are this process's batch (rustdl does not all-reduce them across processes,
    so in a one-process run it is exactly BatchNorm; with ``rustdl.distributed`` each rank
    normalises with its own batch). ``process_group`` is accepted.
    """

    _dims = (2, 3, 4, 5)

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: Any = None,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        self.process_group = process_group

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """``module`` with every BatchNorm1d/2d/3d replaced by a SyncBatchNorm holding the same
        parameters and running statistics (the module itself when it is one)."""
        if isinstance(module, (BatchNorm1d, BatchNorm2d, BatchNorm3d)):
            out = cls(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                bias=module.bias is not None,
            )
            out.process_group = process_group
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.train(module.training)
            return out
        for name, child in list(module.named_children()):
            setattr(module, name, cls.convert_sync_batchnorm(child, process_group))
        return module


class _InstanceNorm(_NormBase):
    _spatial = 1

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        name, k = type(self).__name__, self._spatial
        if input.ndim not in (k + 1, k + 2):
            raise ValueError(
                f"{name}: expected a {k + 1}-D or {k + 2}-D input, got shape {tuple(input.shape)}"
            )
        unbatched = input.ndim == k + 1
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features:
            if self.affine or self.track_running_stats:
                raise _rustdl.ShapeError(
                    f"{name}: expected {self.num_features} channels, got input of shape {tuple(input.shape)}"
                )
            warnings.warn(
                f"input's size at dim={input.ndim - k - 1} does not match num_features. You can silence this "
                "warning by not passing in num_features, which is not used because affine=False",
                stacklevel=2,
            )
        out = F.instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            self.momentum if self.momentum is not None else 0.0,
            self.eps,
        )
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Normalises each channel of each sample of an ``(N, C, L)`` or ``(C, L)`` input over ``L``.

    Args as :class:`BatchNorm1d`, but ``affine`` and ``track_running_stats`` default to False;
    with tracking, eval mode uses the running statistics.
    """

    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Normalises each channel of each sample of an ``(N, C, H, W)`` or ``(C, H, W)`` input over ``H, W``.

    Example:
        >>> nn.InstanceNorm2d(3)(rustdl.randn(2, 3, 8, 8)).shape
        (2, 3, 8, 8)
    """

    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Normalises each channel of each sample of an ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input over ``D, H, W``."""

    _spatial = 3


class CrossMapLRN2d(Module):
    """Local response normalisation across the channels of an ``(N, C, H, W)`` input with
    PyTorch's ``torch.nn.CrossMapLRN2d`` window, kept exactly (trained weights expect it):
    ``x_c · (k + alpha/size · s_c)^-beta`` where, with ``p = ⌊(size − 1)/2⌋ + 1``, ``s_c`` sums
    ``x_j²`` over ``j ≤ min(c + p − 1, C − 1)`` less ``1 ≤ j ≤ c − p`` (channel 0 stays in
    every sum, as PyTorch's running-window update leaves it). The gradient is the exact
    gradient of this forward (PyTorch's hand-written backward uses another window)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() != 4:
            raise ValueError(
                f"CrossMapLRN2d: expected a 4-D (N, C, H, W) input, got shape {tuple(input.shape)}"
            )
        if not isinstance(self.size, int) or self.size <= 0:
            raise ValueError(f"CrossMapLRN2d: size must be a positive int, got {self.size!r}")
        c = input.shape[1]
        if c == 0 or input.numel() == 0:
            return input * 1
        pre = (self.size - 1) // 2 + 1
        sq = input * input
        csum = sq.cumsum(1)
        dev = input.device
        hi = _rustdl.tensor([min(ch + pre - 1, c - 1) for ch in range(c)], dtype=_rustdl.int64).to(dev)
        lo = _rustdl.tensor([max(ch - pre, 0) for ch in range(c)], dtype=_rustdl.int64).to(dev)
        drop = _rustdl.tensor([1.0 if ch - pre >= 1 else 0.0 for ch in range(c)], dtype=input.dtype).to(dev)
        removed = (csum.index_select(1, lo) - sq.narrow(1, 0, 1)) * drop.reshape(1, c, 1, 1)
        total = csum.index_select(1, hi) - removed
        return input * (total * (self.alpha / self.size) + self.k).pow(-self.beta)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class RMSNorm(Module):
    """Root-mean-square normalisation over the last ``len(normalized_shape)`` dims, times a
    learnable ``weight`` (init 1) when ``elementwise_affine``; ``eps=None`` is the dtype's
    machine epsilon.

    Example:
        >>> nn.RMSNorm([5, 10])(rustdl.randn(20, 5, 10)).shape
        (20, 5, 10)
    """

    def __init__(
        self,
        normalized_shape,
        eps: float | None = None,
        elementwise_affine: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(_rustdl.ones(*self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        """Resets ``weight`` to 1."""
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input: Tensor) -> Tensor:
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class _LazyNorm:
    """A batch or instance norm whose ``num_features`` comes from the first input's channel dim
    (dim 1), as PyTorch's ``LazyBatchNorm*d``/``LazyInstanceNorm*d``: until then the affine
    parameters are :class:`UninitializedParameter` placeholders and the running statistics empty;
    the first forward (or loading a checkpoint) creates them and the module becomes its
    non-lazy class."""

    _base: type = Module

    def __init__(
        self,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        self._base.__init__(self, 0, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        self._factory = {"device": device, "dtype": dtype}
        if affine:
            self.weight = UninitializedParameter(**self._factory)
            if bias:
                self.bias = UninitializedParameter(**self._factory)

    def has_uninitialized_params(self) -> bool:
        return True

    def reset_parameters(self) -> None:
        """Nothing to reset before materialisation."""

    def initialize_parameters(self, input: Tensor) -> None:
        if input.ndim < 2:
            raise ValueError(
                f"{type(self).__name__}: expected an input with a channel dim, got shape {tuple(input.shape)}"
            )
        channel = 0 if isinstance(self, _InstanceNorm) and input.ndim == self._spatial + 1 else 1
        self._materialize(input.shape[channel])

    def _materialize(self, n: int) -> None:
        # the placeholders follow .to()/.double()/.cuda() made before the first forward, as
        # PyTorch's uninitialized parameters and buffers do: the new tensors take their kind
        kw = dict(self._factory)
        like = self.weight if self.affine else self.running_mean if self.track_running_stats else None
        if isinstance(like, Tensor):
            kw = {"device": like.device, "dtype": like.dtype}
        self.num_features = n
        if self.affine:
            _fill_placeholder(self, "weight", _rustdl.ones(n, **kw))
            if self.bias is not None:
                _fill_placeholder(self, "bias", _rustdl.zeros(n, **kw))
        if self.track_running_stats:
            _fill_placeholder(self, "running_mean", _rustdl.zeros(n, **kw))
            _fill_placeholder(self, "running_var", _rustdl.ones(n, **kw))
        del self._factory
        self.__class__ = self._base

    def forward(self, input: Tensor) -> Tensor:
        self.initialize_parameters(input)
        return self.forward(input)

    def _load_from_state_dict(self, state_dict, prefix, *args):
        for key in ("weight", "running_mean"):
            t = state_dict.get(prefix + key) if hasattr(state_dict, "get") else None
            if isinstance(t, Tensor) and t.ndim == 1:
                self._materialize(t.shape[0])
                break
        # (materializing changed the class: the base's method is named, not found through super)
        return _NormBase._load_from_state_dict(self, state_dict, prefix, *args)


class LazyBatchNorm1d(_LazyNorm, BatchNorm1d):
    """:class:`BatchNorm1d` with ``num_features`` inferred from the first input."""

    _base = BatchNorm1d


class LazyBatchNorm2d(_LazyNorm, BatchNorm2d):
    """:class:`BatchNorm2d` with ``num_features`` inferred from the first input."""

    _base = BatchNorm2d


class LazyBatchNorm3d(_LazyNorm, BatchNorm3d):
    """:class:`BatchNorm3d` with ``num_features`` inferred from the first input."""

    _base = BatchNorm3d


class LazyInstanceNorm1d(_LazyNorm, InstanceNorm1d):
    """:class:`InstanceNorm1d` with ``num_features`` inferred from the first input; as in PyTorch,
    ``affine`` and ``track_running_stats`` default to True here (False in :class:`InstanceNorm1d`)."""

    _base = InstanceNorm1d


class LazyInstanceNorm2d(_LazyNorm, InstanceNorm2d):
    """:class:`InstanceNorm2d` with ``num_features`` inferred from the first input; as in PyTorch,
    ``affine`` and ``track_running_stats`` default to True here (False in :class:`InstanceNorm2d`)."""

    _base = InstanceNorm2d


class LazyInstanceNorm3d(_LazyNorm, InstanceNorm3d):
    """:class:`InstanceNorm3d` with ``num_features`` inferred from the first input; as in PyTorch,
    ``affine`` and ``track_running_stats`` default to True here (False in :class:`InstanceNorm3d`)."""

    _base = InstanceNorm3d
