"""Callbacks for :func:`rustdl.train.fit`: ``EarlyStopping`` and ``ModelCheckpoint``.

A callback sees the model and, after every epoch, the epoch's logs: a dict such as
``{"loss": 0.31, "accuracy": 0.89, "val_loss": 0.29, "val_accuracy": 0.90, "lr": 0.001}``.
Setting ``self.stop_training = True`` ends training after the current epoch.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from .. import save

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint"]


def _distributed_world() -> tuple[int, int] | None:
    """``(rank, world_size)`` when ``rustdl.distributed`` is initialised with more than one rank."""
    from .. import distributed as dist

    if not dist.is_initialized():
        return None
    world = dist.get_world_size()
    return (dist.get_rank(), world) if world > 1 else None


def _is_main_rank() -> bool:
    """False on the ranks other than 0 of a ``rustdl.distributed`` job, True otherwise."""
    world = _distributed_world()
    return world is None or world[0] == 0


def _log(message: str) -> None:
    """Prints without breaking a running tqdm bar (on rank 0 only under ``rustdl.distributed``)."""
    if not _is_main_rank():
        return
    try:
        from tqdm.auto import tqdm

        tqdm.write(message)
    except ImportError:
        print(message, flush=True)


class Callback:
    """Base class: override any of the hooks."""

    model: Any = None
    stop_training: bool = False

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        pass

    def on_train_end(self, logs: dict | None = None) -> None:
        pass


class _Monitor(Callback):
    """Tracks the best value of one logged quantity."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0):
        if mode == "auto":
            mode = "max" if ("acc" in monitor or monitor.endswith("f1")) else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'min', 'max' or 'auto', got '{mode}'")
        if min_delta < 0:
            raise ValueError(f"{type(self).__name__}: min_delta must be non-negative, got {min_delta}")
        self.monitor = monitor
        self.mode = mode
        self.min_delta = float(min_delta)
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None

    def _value(self, logs: dict) -> float:
        if self.monitor not in logs:
            raise KeyError(
                f"{type(self).__name__}: monitored quantity '{self.monitor}' is not in the epoch logs {sorted(logs)}"
                + (" (val_* quantities need a val_loader)" if self.monitor.startswith("val_") else "")
            )
        return float(logs[self.monitor])

    def _improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stops training when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: the logged quantity to watch, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        patience: epochs without improvement to wait before stopping.
        min_delta: smallest change that counts as an improvement.
        mode: ``"min"`` (lower is better), ``"max"``, or ``"auto"`` (``max`` for accuracies).
        restore_best_weights: at the end of training, load the weights of the best epoch.
        verbose: print a line when stopping and when restoring.

    Attributes:
        best, best_epoch (0-based), stopped_epoch (0-based, None if training ran to the end).

    Example:
        >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
        >>> fit(model, train_loader, loss_fn, opt, epochs=100, val_loader=val_loader, callbacks=[stop])
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 3,
        min_delta: float = 0.0,
        mode: str = "min",
        restore_best_weights: bool = False,
        verbose: bool = False,
    ):
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be non-negative, got {patience}")
        self.patience = int(patience)
        self.restore_best_weights = bool(restore_best_weights)
        self.verbose = bool(verbose)
        super().__init__(monitor, mode, min_delta)

    def _reset(self) -> None:
        super()._reset()
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.stop_training = False
        self.best_weights: dict | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        value = self._value(logs)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stop_training = True
            self.stopped_epoch = epoch
            if self.verbose:
                _log(
                    f"EarlyStopping: {self.monitor} has not improved for {self.wait} epochs; stopping after epoch "
                    f"{epoch + 1} (best {self.monitor} {self.best:.4f} at epoch {self.best_epoch + 1})"
                )

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
            if self.verbose:
                _log(f"EarlyStopping: restored the weights of epoch {self.best_epoch + 1}")


class ModelCheckpoint(_Monitor):
    """Saves the model's ``state_dict`` as safetensors (through ``rustdl.save``) after an epoch.

    Args:
        path: file to write; may contain ``{epoch}`` and logged names, e.g. ``"ckpt-{epoch:02d}.safetensors"``.
        monitor: the logged quantity that decides what is best.
        save_best_only: save only when ``monitor`` improves (otherwise after every epoch).
        mode: ``"min"``, ``"max"`` or ``"auto"``, as in :class:`EarlyStopping`.
        verbose: print a line on every save.

    Attributes:
        best, best_epoch (0-based), best_path: the file holding the best weights.

    Under ``rustdl.distributed`` with several ranks only rank 0 writes the file; every rank tracks
    ``best``, ``best_epoch`` and ``best_path`` (the same everywhere, as ``fit`` averages the logs
    over the ranks). Another rank that reads the file must wait for it with ``dist.barrier()``.

    Example:
        >>> ckpt = ModelCheckpoint("best.safetensors", monitor="val_loss")
        >>> fit(..., callbacks=[ckpt]); model.load_state_dict(rustdl.load(ckpt.best_path))
    """

    def __init__(
        self,
        path: str | os.PathLike,
        monitor: str = "val_loss",
        save_best_only: bool = True,
        mode: str = "min",
        verbose: bool = False,
    ):
        self.path = os.fspath(path)
        self.save_best_only = bool(save_best_only)
        self.verbose = bool(verbose)
        self.best_path: str | None = None
        super().__init__(monitor, mode)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._reset()
        self.best_path = None

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        value = self._value(logs) if (self.save_best_only or self.monitor in logs) else math.nan
        improved = self._improved(value)
        if self.save_best_only and not improved:
            return
        path = self.path.format(epoch=epoch + 1, **logs)
        if _is_main_rank():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            save(dict(self.model.state_dict()), path)
        if improved:
            self.best, self.best_epoch, self.best_path = value, epoch, path
        if self.verbose:
            what = f"{self.monitor} {value:.4f}" if not math.isnan(value) else f"epoch {epoch + 1}"
            _log(f"ModelCheckpoint: saved {what} to {path}")
