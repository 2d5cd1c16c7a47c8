"""``fit`` and ``evaluate``: a Keras-style training loop over rustdl models, optimizers and loaders."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import Any, Callable

from .. import Tensor, gpu, no_grad
from .. import device as Device
from .callbacks import Callback, _distributed_world, _log

__all__ = ["accuracy", "evaluate", "fit"]

Metric = Callable[[Tensor, Tensor], Any]


def accuracy(output: Tensor, target: Tensor) -> Tensor:
    """Fraction of rows whose arg-max class equals ``target``.

    Shape:
        output ``(N, C)`` scores, target ``(N,)`` int64 classes; result is a 0-d tensor.
    """
    if output.ndim != 2 or target.ndim != 1 or output.shape[0] != target.shape[0]:
        raise ValueError(
            f"accuracy: expected output (N, C) and target (N,), got {tuple(output.shape)} and {tuple(target.shape)}"
        )
    return (output.argmax(1) == target).float().mean()


_METRICS: dict[str, Metric] = {"accuracy": accuracy, "acc": accuracy}


def _resolve_metrics(metrics: Iterable[str | Metric] | None) -> list[tuple[str, Metric]]:
    out = []
    for m in metrics or ():
        if isinstance(m, str):
            if m not in _METRICS:
                raise ValueError(f"unknown metric '{m}'; use one of {sorted(_METRICS)} or pass a function")
            out.append(("accuracy" if m == "acc" else m, _METRICS[m]))
        elif callable(m):
            out.append((getattr(m, "__name__", type(m).__name__), m))
        else:
            raise TypeError(
                f"a metric must be a name or a function (output, target) -> value, got {type(m).__name__}"
            )
    return out


def _to(x: Any, device: Any) -> Any:
    if device is None:
        return x
    if isinstance(x, Tensor):
        return x if x.device == device else x.to(device)
    if isinstance(x, (tuple, list)):
        return type(x)(_to(v, device) for v in x)
    return x


def _move_model(model: Any, optimizer: Any, device: Any) -> None:
    """Moves ``model`` to ``device``; if that replaced parameter objects, points the optimizer's
    param groups (and state) at the new ones, so an optimizer built before ``fit`` keeps working."""
    before = list(model.parameters())
    model.to(device)
    after = list(model.parameters())
    moved = {id(old): new for old, new in zip(before, after) if old is not new}
    if not moved:
        return
    for group in optimizer.param_groups:
        group["params"] = [moved.get(id(p), p) for p in group["params"]]
    state = getattr(optimizer, "state", None)
    if isinstance(state, dict):
        for old_id, new in moved.items():
            for key in [k for k in state if id(k) == old_id]:
                value = state.pop(key)
                if isinstance(value, dict):
                    value = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in value.items()}
                state[new] = value


def _split_batch(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise ValueError(f"fit/evaluate: each batch must be an (inputs, target) pair, got {type(batch).__name__}")


class _CapturedSteps:
    """``fit(..., capture=True)``: one captured GPU step per batch shape, replayed on copies of
    each batch in fixed input tensors (see ``rustdl.gpu.Graph``). A step that cannot be
    captured (one that reads values back to the host) makes ``fit`` train live from then on."""

    def __init__(self, model: Any, loss_fn: Any, optimizer: Any):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.steps: dict[tuple, dict[str, Any]] = {}
        self.live = False

    def _live(self, x: Any, y: Any) -> tuple[Any, Any]:
        self.optimizer.zero_grad()
        out = self.model(x)
        loss = self.loss_fn(out, y)
        loss.backward()
        self.optimizer.step()
        return out, loss

    def __call__(self, x: Any, y: Any) -> tuple[Any, Any]:
        if self.live or not (isinstance(x, Tensor) and isinstance(y, Tensor)) or x.device.type == "cpu":
            return self._live(x, y)
        key = (tuple(x.shape), x.dtype, tuple(y.shape), y.dtype)
        st = self.steps.get(key)
        if st is None:
            # the first batch of a shape runs live: the optimizer's state exists before capturing
            out = self._live(x, y)
            xs, ys = x.detach().clone(), y.detach().clone()
            self.steps[key] = {"x": xs, "y": ys, "graph": None}
            return out
        st["x"].copy_(x)
        st["y"].copy_(y)
        g = st["graph"]
        if g is not None and g._replay_if_current():
            return st["out"], st["loss"]
        g = gpu.Graph()
        try:
            with gpu.graph(g, x.device):
                out, loss = self._live(st["x"], st["y"])
        except RuntimeError as e:
            if "capture" not in str(e):
                raise
            _log(f"fit: training without capture ({e})")
            self.live = True
            self.steps.clear()
            return self._live(x, y)
        st.update(graph=g, out=out, loss=loss)
        return out, loss


class _Running:
    """Sample-weighted sums of the loss and metrics, kept as tensors on the device so that reading
    them (a host sync) happens only when the progress bar or the epoch needs a number."""

    def __init__(self, names: list[str]):
        self.names = names
        self.sums: dict[str, Any] = {k: 0.0 for k in names}
        self.count = 0

    def add(self, values: dict[str, Any], n: int) -> None:
        for k, v in values.items():
            v = v.detach() if isinstance(v, Tensor) else float(v)
            self.sums[k] = self.sums[k] + v * n
        self.count += n

    def means(self) -> dict[str, float]:
        return {k: float(v) / max(self.count, 1) for k, v in self.sums.items()}

    def global_means(self) -> dict[str, float]:
        """The means over every rank's samples when ``rustdl.distributed`` runs more than one rank
        (one all-reduce of the sample-weighted sums and the sample counts), else :meth:`means`."""
        if _distributed_world() is None:
            return self.means()
        from .. import distributed as dist
        from .. import float64, tensor

        packed = tensor([float(self.sums[k]) for k in self.names] + [float(self.count)], dtype=float64)
        dist.all_reduce(packed, op=dist.ReduceOp.SUM)
        values = packed.tolist()
        total = max(values[-1], 1.0)
        self.count = int(values[-1])
        return {k: v / total for k, v in zip(self.names, values[:-1])}


def _batch_values(
    output: Tensor, target: Any, loss: Tensor | None, metrics: list[tuple[str, Metric]]
) -> dict:
    values = {} if loss is None else {"loss": loss}
    for name, fn in metrics:
        values[name] = fn(output, target)
    return values


def evaluate(
    model: Any,
    loader: Iterable,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    metrics: Sequence[str | Metric] = ("accuracy",),
    device: Any = None,
    distributed: bool = False,
) -> dict[str, float]:
    """Mean loss and metrics of ``model`` over ``loader``, in eval mode and without gradients.

    Args:
        model: a ``rustdl.nn.Module``.
        loader: yields ``(inputs, target)`` batches.
        loss_fn: e.g. ``nn.CrossEntropyLoss()`` (mean reduction); None skips the loss.
        metrics: names (``"accuracy"``) or functions ``(output, target) -> value``.
        device: move batches there (``"cpu"``, ``"gpu"``).
        distributed: when ``rustdl.distributed`` runs more than one rank, average over every
            rank's samples (each rank passes its own share of the data, e.g.
            ``Subset(ds, range(rank, len(ds), world))``; every rank must call ``evaluate``).

    Returns:
        ``{"loss": ..., "accuracy": ...}``, each averaged over samples.

    Example:
        >>> evaluate(model, test_loader, nn.CrossEntropyLoss())["accuracy"]
    """
    device = Device(device) if isinstance(device, str) else device
    metric_fns = _resolve_metrics(metrics)
    names = (["loss"] if loss_fn is not None else []) + [n for n, _ in metric_fns]
    running = _Running(names)
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            for batch in loader:
                x, y = _split_batch(_to(batch, device))
                out = model(x)
                loss = loss_fn(out, y) if loss_fn is not None else None
                running.add(_batch_values(out, y, loss, metric_fns), len(y))
    finally:
        model.train(was_training)
    if distributed:
        means = running.global_means()  # every rank takes part, even one without batches
        if running.count == 0:
            raise ValueError("evaluate: the loaders of all ranks yielded no batches")
        return means
    if running.count == 0:
        raise ValueError("evaluate: the loader yielded no batches")
    return running.means()


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="batch", leave=True, dynamic_ncols=True)


def _set_epoch(loader: Any, epoch: int) -> None:
    """Calls ``set_epoch`` on the loader's sampler (``DistributedSampler`` reshuffles with it) or
    batch sampler, as PyTorch users do by hand before each epoch; a sampler without it is left alone."""
    for sampler in (getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
        if sampler is not None and callable(getattr(sampler, "set_epoch", None)):
            sampler.set_epoch(epoch)
            return
        inner = getattr(sampler, "sampler", None)
        if inner is not None and callable(getattr(inner, "set_epoch", None)):
            inner.set_epoch(epoch)
            return


def _fmt(values: dict[str, float]) -> dict[str, str]:
    return {k: f"{v:.4f}" for k, v in values.items()}


def _slowest(seconds: float) -> float:
    """The largest of the ranks' ``seconds`` (so every rank logs the same epoch time)."""
    from .. import distributed as dist
    from .. import float64, tensor

    t = tensor([seconds], dtype=float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def _steps_per_batch(scheduler: Any) -> bool:
    """Schedulers defined over optimizer steps (one-cycle, cyclic) step per batch, others per epoch."""
    return type(scheduler).__name__ in ("OneCycleLR", "CyclicLR")


def fit(
    model: Any,
    train_loader: Iterable,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: Any,
    epochs: int,
    val_loader: Iterable | None = None,
    callbacks: Sequence[Callback] = (),
    metrics: Sequence[str | Metric] = ("accuracy",),
    device: Any = None,
    scheduler: Any = None,
    progress: bool = True,
    capture: bool = False,
) -> dict[str, list[float]]:
    """Trains ``model`` for up to ``epochs`` epochs and returns the per-epoch history.

    Each epoch runs ``zero_grad → forward → loss → backward → step`` over ``train_loader`` (with a
    tqdm bar showing the running loss and metrics), then evaluates on ``val_loader``, steps the
    scheduler and calls the callbacks; a callback setting ``stop_training`` ends training.

    Args:
        model: a ``rustdl.nn.Module``; moved to ``device`` when given.
        train_loader: yields ``(inputs, target)`` batches.
        loss_fn: ``loss_fn(output, target)`` → scalar tensor (mean over the batch).
        optimizer: a ``rustdl.optim`` optimizer over ``model.parameters()``.
        epochs: maximum number of epochs.
        val_loader: validation batches; adds ``val_loss`` and ``val_<metric>`` to the history.
        callbacks: e.g. ``EarlyStopping``, ``ModelCheckpoint``.
        metrics: names (``"accuracy"``) or functions ``(output, target) -> value``.
        device: ``"cpu"`` or ``"gpu"``: where the model and batches go.
        scheduler: an lr scheduler; ``OneCycleLR``/``CyclicLR`` step after every batch,
            ``ReduceLROnPlateau`` after every epoch with ``val_loss`` (or ``loss``), others after every epoch.
        progress: show a progress bar per epoch (needs tqdm; otherwise one line per epoch).
        capture: on the GPU, capture the training step once per batch shape and replay it
            (``rustdl.gpu.Graph``): the step's Python, autograd and kernel setup run once
            instead of every batch. The same arithmetic as without it (dropout draws the same
            numbers, a learning-rate schedule is followed); a step that cannot be captured (one
            that reads a value back to the host) trains without capture, with a log line.

    Under ``DistributedDataParallel`` (``rustdl.distributed`` initialised with more than one rank),
    ``fit`` runs unchanged on every rank: the epoch's loss and metrics (training and validation)
    are averaged over all ranks' samples (weighted by each rank's sample count, one all-reduce), so
    every rank gets the same history and callbacks such as ``EarlyStopping`` decide the same way;
    ``time`` is the slowest rank's; the progress bar and log lines appear on rank 0 only, and
    ``ModelCheckpoint`` writes on rank 0 only. Each rank's ``val_loader`` should hold its own share
    of the validation set (or all of it). A sampler with ``set_epoch`` (``DistributedSampler``) gets
    it called with the epoch number before each epoch.

    Returns:
        ``{"loss": [...], "accuracy": [...], "val_loss": [...], "val_accuracy": [...], "lr": [...],
        "time": [...]}`` with one entry per completed epoch (``lr`` as at the epoch's start, ``time``
        in seconds).

    Example:
        >>> history = fit(model, train_loader, nn.CrossEntropyLoss(), optim.Adam(model.parameters()),
        ...               epochs=20, val_loader=val_loader, callbacks=[EarlyStopping(patience=3)])
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    device = Device(device) if isinstance(device, str) else device
    if device is not None:
        _move_model(model, optimizer, device)
    metric_fns = _resolve_metrics(metrics)
    names = ["loss"] + [n for n, _ in metric_fns]
    history: dict[str, list[float]] = {k: [] for k in names}
    if val_loader is not None:
        history.update({f"val_{k}": [] for k in names})
    history["lr"] = []
    history["time"] = []
    per_batch = scheduler is not None and _steps_per_batch(scheduler)
    callbacks = list(callbacks)
    for cb in callbacks:
        cb.set_model(model)
        cb.on_train_begin({})
    try:
        total = len(train_loader)  # type: ignore[arg-type]
    except TypeError:
        total = None
    logs: dict[str, float] = {}
    train_step = _CapturedSteps(model, loss_fn, optimizer)
    if not capture:
        train_step.live = True
    world = _distributed_world()
    main_rank = world is None or world[0] == 0
    for epoch in range(epochs):
        start = time.perf_counter()
        lr = float(optimizer.param_groups[0]["lr"])
        _set_epoch(train_loader, epoch)
        for cb in callbacks:
            cb.on_epoch_begin(epoch, {"lr": lr})
        model.train()
        running = _Running(names)
        bar = _progress_bar(total, f"epoch {epoch + 1}/{epochs}", progress and main_rank)
        refresh = max(1, (total or 100) // 50)
        for i, batch in enumerate(train_loader):
            x, y = _split_batch(_to(batch, device))
            out, loss = train_step(x, y)
            if per_batch:
                scheduler.step()
            with no_grad():
                running.add(_batch_values(out.detach(), y, loss, metric_fns), len(y))
            if bar is not None:
                bar.update(1)
                if i % refresh == 0:
                    bar.set_postfix(_fmt(running.means()), refresh=False)
        logs = running.global_means()
        if running.count == 0:
            raise ValueError("fit: the training loader yielded no batches")
        if not math.isfinite(logs["loss"]):
            _log(f"fit: the training loss is {logs['loss']} in epoch {epoch + 1}")
        if val_loader is not None:
            val = evaluate(
                model,
                val_loader,
                loss_fn,
                [fn for _, fn in metric_fns],
                device,
                distributed=world is not None,
            )
            logs.update({f"val_{k}": v for k, v in val.items()})
        logs["lr"] = lr
        logs["time"] = (
            _slowest(time.perf_counter() - start) if world is not None else time.perf_counter() - start
        )
        for k, values in history.items():
            values.append(logs[k])
        if bar is not None:
            bar.set_postfix(_fmt({k: v for k, v in logs.items() if k not in ("lr", "time")}), refresh=True)
            bar.close()
        elif progress and main_rank:
            shown = " ".join(f"{k} {v:.4f}" for k, v in logs.items() if k != "time")
            _log(f"epoch {epoch + 1}/{epochs}: {shown} ({logs['time']:.1f} s)")
        if scheduler is not None and not per_batch:
            if type(scheduler).__name__ == "ReduceLROnPlateau":
                scheduler.step(logs.get("val_loss", logs["loss"]))
            else:
                scheduler.step()
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if any(getattr(cb, "stop_training", False) for cb in callbacks):
            break
    for cb in callbacks:
        cb.on_train_end(logs)
    return history
