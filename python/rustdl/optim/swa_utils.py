"""``torch.optim.swa_utils``: weight averaging (SWA, EMA) and its learning-rate schedule.

* :class:`AveragedModel` keeps a copy of a model whose parameters (and, with
  ``use_buffers=True``, buffers) are a running average of the model's: the plain mean of every
  :meth:`~AveragedModel.update_parameters` call by default, or any ``avg_fn`` /
  ``multi_avg_fn`` (:func:`get_ema_multi_avg_fn` for an exponential moving average).
* :class:`SWALR` anneals each group's learning rate to ``swa_lr`` over ``anneal_epochs`` steps
  (cosine or linear) and then holds it.
* :func:`update_bn` recomputes BatchNorm running statistics for the averaged weights with one
  pass over a loader.

Example:
    >>> swa_model = AveragedModel(model)
    >>> swa_sched = SWALR(opt, swa_lr=0.05)
    >>> for epoch in range(epochs):
    ...     train_one_epoch(model, opt)
    ...     if epoch >= swa_start:
    ...         swa_model.update_parameters(model)
    ...         swa_sched.step()
    >>> update_bn(loader, swa_model)
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Iterable
from typing import Any

from .. import _rustdl
from .._rustdl import Tensor
from ..autograd import no_grad
from ..nn.modules.module import Module
from .lr_scheduler import LRScheduler, _warn_get_lr_called_within_step
from .optimizer import Optimizer

__all__ = [
    "SWALR",
    "AveragedModel",
    "get_ema_avg_fn",
    "get_ema_multi_avg_fn",
    "get_swa_avg_fn",
    "get_swa_multi_avg_fn",
    "update_bn",
]


def _check_decay(decay: float) -> None:
    if not 0.0 <= float(decay) <= 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """``fn(averaged_list, current_list, num_averaged)``: each ``avg = decay·avg + (1 − decay)·cur``, in place."""
    _check_decay(decay)

    def ema_update(averaged: list, current: list, num_averaged: Any) -> None:
        for a, c in zip(averaged, current):
            if a.is_floating_point():
                a.mul_(decay).add_(c.to(dtype=a.dtype), alpha=1.0 - decay)
            else:
                a.copy_(c)

    return ema_update


def get_swa_multi_avg_fn() -> Callable:
    """``fn(averaged_list, current_list, num_averaged)``: each ``avg += (cur − avg) / (n + 1)``, in place."""

    def swa_update(averaged: list, current: list, num_averaged: Any) -> None:
        n = float(num_averaged.item() if isinstance(num_averaged, Tensor) else num_averaged)
        for a, c in zip(averaged, current):
            if a.is_floating_point():
                a.add_((c.to(dtype=a.dtype) - a) / (n + 1.0))
            else:
                a.copy_(c)

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """``fn(ema, current, num_averaged)`` returning ``decay·ema + (1 − decay)·current``."""
    _check_decay(decay)

    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged: Any) -> Tensor:
        return decay * ema_param + (1.0 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> Callable:
    """``fn(averaged, current, num_averaged)`` returning ``averaged + (current − averaged) / (n + 1)``."""

    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged: Any) -> Tensor:
        n = num_averaged.item() if isinstance(num_averaged, Tensor) else num_averaged
        return averaged_param + (current_param - averaged_param) / (float(n) + 1.0)

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` holding the running average of its parameters.

    Args:
        model: the model to average (deep-copied; the copy is ``self.module``).
        device: where to keep the copy (default: where the model is).
        avg_fn: ``avg_fn(averaged, current, num_averaged) -> Tensor`` for one tensor.
        multi_avg_fn: ``multi_avg_fn(averaged_list, current_list, num_averaged)`` updating in place.
        use_buffers: average the buffers too (and ``update_parameters`` averages
            ``parameters() + buffers()``); otherwise buffers are copied from the model.

    The first :meth:`update_parameters` copies the model; the buffer ``n_averaged`` counts the
    calls. Calling the averaged model runs ``self.module``.
    """

    def __init__(
        self,
        model: Module,
        device: Any = None,
        avg_fn: Callable | None = None,
        multi_avg_fn: Callable | None = None,
        use_buffers: bool = False,
    ) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("Only one of avg_fn and multi_avg_fn should be provided")
        if not isinstance(model, Module):
            raise TypeError(f"AveragedModel: expected a Module, got {type(model).__name__}")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        n = _rustdl.tensor(0, dtype=_rustdl.int64)
        if device is not None:
            n = n.to(device)
        self.register_buffer("n_averaged", n)
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Folds ``model``'s current parameters (and buffers with ``use_buffers``) into the average."""
        if self.use_buffers:
            mine: Iterable[Tensor] = itertools.chain(self.module.parameters(), self.module.buffers())
            theirs: Iterable[Tensor] = itertools.chain(model.parameters(), model.buffers())
        else:
            mine, theirs = self.module.parameters(), model.parameters()
        from .._complex import storage_of

        mine, theirs = [storage_of(p) for p in mine], [storage_of(p) for p in theirs]
        if len(mine) != len(theirs):
            raise ValueError(
                f"AveragedModel.update_parameters: the model has {len(theirs)} tensors to average, "
                f"the averaged copy {len(mine)}"
            )
        n = int(self.n_averaged.item())
        with no_grad():
            avg = [p.detach() for p in mine]
            cur = [p.detach().to(a.device) for p, a in zip(theirs, avg)]
            for a, c in zip(avg, cur):
                if tuple(a.shape) != tuple(c.shape):
                    raise ValueError(
                        f"AveragedModel.update_parameters: shape {tuple(c.shape)} does not match the "
                        f"averaged {tuple(a.shape)}"
                    )
            if n == 0:
                for a, c in zip(avg, cur):
                    a.copy_(c)
            elif self.avg_fn is not None:
                for a, c in zip(avg, cur):
                    a.copy_(self.avg_fn(a, c, self.n_averaged.to(a.device)))
            else:
                fn = self.multi_avg_fn if self.multi_avg_fn is not None else get_swa_multi_avg_fn()
                fn(avg, cur, self.n_averaged)
            if not self.use_buffers:
                for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                    b_avg.copy_(b_model.detach().to(b_avg.device))
            self.n_averaged.add_(1)


def update_bn(loader: Iterable, model: Module, device: Any = None) -> None:
    """Recomputes the running statistics of every BatchNorm layer in ``model``: resets them and
    runs one pass over ``loader`` in training mode with a cumulative average (``momentum=None``);
    the layers' momenta and the model's mode are restored afterwards. A batch that is a list or
    tuple contributes its first element."""
    from ..nn.modules.normalization import _BatchNorm

    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm) and module.track_running_stats:
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    try:
        with no_grad():
            for batch in loader:
                if isinstance(batch, (list, tuple)):
                    batch = batch[0]
                if device is not None:
                    batch = batch.to(device)
                model(batch)
    finally:
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)


def _per_group(name: str, optimizer: Optimizer, value: Any) -> list:
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups ({n}), got {len(value)}"
            )
        return list(value)
    return [value] * n


class SWALR(LRScheduler):
    """Anneals each group's learning rate from its value to ``swa_lr`` over ``anneal_epochs``
    steps, then keeps ``swa_lr``: after ``s`` steps ``lr = swa_lr·α + lr0·(1 − α)`` with
    ``α = f(min(1, s / anneal_epochs))``, ``f(t) = (1 − cos πt)/2`` (``"cos"``) or ``t``
    (``"linear"``).

    Args:
        optimizer: the wrapped optimizer.
        swa_lr: the target learning rate (one, or one per group).
        anneal_epochs: steps to reach it (0: at the first step).
        anneal_strategy: ``"cos"`` or ``"linear"``.
        last_epoch: as for every scheduler.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        swa_lr: float | list[float],
        anneal_epochs: int = 10,
        anneal_strategy: str = "cos",
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        for lr, group in zip(_per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must by one of 'cos' or 'linear', instead got {anneal_strategy}"
            )
        # the strategy's name is the state (PyTorch's state_dict key), not the function
        self._anneal_strategy = anneal_strategy
        if isinstance(anneal_epochs, bool) or not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t: float) -> float:
        """The annealing factor at progress ``t`` of the chosen strategy."""
        return self._cosine_anneal(t) if self._anneal_strategy == "cos" else self._linear_anneal(t)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list[float]:
        _warn_get_lr_called_within_step(self)
        # the base class counts the steps, the constructing one included, as PyTorch's
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        span = max(1, self.anneal_epochs)
        prev_alpha = self.anneal_func(max(0.0, min(1.0, (step - 1) / span)))
        groups = self.optimizer.param_groups
        start = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in groups]
        alpha = self.anneal_func(max(0.0, min(1.0, step / span)))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(groups, start)]
