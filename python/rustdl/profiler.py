"""A CPU profiler shaped like ``torch.profiler``: wall time and call counts of ranges.

What is measured (while a :class:`profile` is recording): every :class:`record_function` range,
every ``nn.Module`` call (``nn.Module: Linear``), ``Tensor.backward`` and each optimizer's
``step`` (``Optimizer.step#SGD.step``), and with a ``schedule`` one ``ProfilerStep#N`` range per
step. Times are host wall-clock times (``time.perf_counter_ns``); rustdl's operators run inside
its Rust core and are not listed one by one, and GPU kernels are not timed on the device.

Example:
    >>> from rustdl.profiler import profile, record_function, ProfilerActivity
    >>> with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
    ...     with record_function("model_inference"):
    ...         model(x)
    >>> print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))
"""

from __future__ import annotations

import enum
import functools
import gzip
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "EventList",
    "FunctionEvent",
    "FunctionEventAvg",
    "ProfilerAction",
    "ProfilerActivity",
    "kineto_available",
    "profile",
    "record_function",
    "schedule",
    "supported_activities",
    "tensorboard_trace_handler",
]


class ProfilerActivity(enum.Enum):
    """What to profile. rustdl times host-side (CPU) ranges for either: ``CUDA`` is accepted so
    scripts run, but device kernels are not timed on the GPU."""

    CPU = 0
    CUDA = 1
    XPU = 2
    MTIA = 3


def kineto_available() -> bool:
    """False: rustdl's profiler is its own, not PyTorch's Kineto library."""
    return False


def supported_activities() -> set[ProfilerActivity]:
    """The activities :class:`profile` accepts (it records host ranges for each)."""
    return {ProfilerActivity.CPU, ProfilerActivity.CUDA}


class ProfilerAction(enum.Enum):
    """What the profiler does during a step (the result of a :func:`schedule`)."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


_RECORDING = (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)


def schedule(
    *, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0
) -> Callable[[int], ProfilerAction]:
    """The step -> action function for ``profile(schedule=...)``.

    After ``skip_first`` steps, cycles of ``wait`` idle steps, ``warmup`` steps (profiler on,
    results dropped) and ``active`` recorded steps; the last active step of a cycle is
    ``RECORD_AND_SAVE`` (``on_trace_ready`` runs when it ends). ``repeat`` cycles (0: forever).
    """
    for name, v in (("wait", wait), ("warmup", warmup), ("repeat", repeat), ("skip_first", skip_first)):
        if int(v) < 0:
            raise ValueError(f"schedule: {name} must be >= 0, got {v}")
    if int(active) < 1:
        raise ValueError(f"schedule: active must be >= 1, got {active}")
    cycle = wait + warmup + active

    def action(step: int) -> ProfilerAction:
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if repeat > 0 and step >= repeat * cycle:
            return ProfilerAction.NONE
        pos = step % cycle
        if pos < wait:
            return ProfilerAction.NONE
        if pos < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if pos < cycle - 1 else ProfilerAction.RECORD_AND_SAVE

    return action


def _always_record(step: int) -> ProfilerAction:
    return ProfilerAction.RECORD


# ---------- recorded ranges ----------


class FunctionEvent:
    """One recorded range: ``name``, ``kind`` (``user_annotation``, ``python_function``),
    ``thread``, start/end (microseconds since the profiler started), ``cpu_time_total``,
    ``self_cpu_time_total`` (minus its children), ``input_shapes``, ``stack``, ``cpu_children``."""

    __slots__ = (
        "name",
        "kind",
        "thread",
        "start_ns",
        "end_ns",
        "depth",
        "cpu_parent",
        "cpu_children",
        "input_shapes",
        "stack",
        "id",
    )

    def __init__(
        self, name: str, kind: str, thread: int, start_ns: int, depth: int, parent: FunctionEvent | None
    ):
        self.name, self.kind, self.thread = name, kind, thread
        self.start_ns, self.end_ns = start_ns, None
        self.depth, self.cpu_parent = depth, parent
        self.cpu_children: list[FunctionEvent] = []
        self.input_shapes: list = []
        self.stack: list[str] = []
        self.id = 0

    @property
    def key(self) -> str:
        return self.name

    @property
    def count(self) -> int:
        return 1

    @property
    def cpu_time_total(self) -> float:
        """Microseconds from start to end."""
        return ((self.end_ns or self.start_ns) - self.start_ns) / 1000.0

    @property
    def self_cpu_time_total(self) -> float:
        """Microseconds not spent in recorded children."""
        return max(0.0, self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children))

    cpu_time = cpu_time_total
    self_cpu_time = self_cpu_time_total

    def __repr__(self) -> str:
        return f"<FunctionEvent {self.name!r} cpu_time_total={self.cpu_time_total:.3f}us depth={self.depth}>"


class FunctionEventAvg:
    """The ranges of one name (and input shapes, when grouped so) together: ``key``,
    ``count``, ``cpu_time_total``, ``self_cpu_time_total``, ``cpu_time`` (the mean)."""

    def __init__(self, key: str, input_shapes: str = "") -> None:
        self.key, self.input_shapes = key, input_shapes
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.stack: list[str] = []

    def add(self, ev: Any) -> FunctionEventAvg:
        self.count += ev.count
        self.cpu_time_total += ev.cpu_time_total
        self.self_cpu_time_total += ev.self_cpu_time_total
        return self

    @property
    def cpu_time(self) -> float:
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def self_cpu_time(self) -> float:
        return self.self_cpu_time_total / self.count if self.count else 0.0

    def __repr__(self) -> str:
        return f"<FunctionEventAvg key={self.key!r} count={self.count} cpu_time_total={self.cpu_time_total:.3f}us>"


# device and memory columns that scripts sort by: rustdl measures none of them (always 0)
_ZERO_KEYS = frozenset(
    "cuda_time cuda_time_total self_cuda_time_total device_time device_time_total self_device_time_total "
    "xpu_time_total self_xpu_time_total cpu_memory_usage self_cpu_memory_usage cuda_memory_usage "
    "self_cuda_memory_usage device_memory_usage self_device_memory_usage flops".split()
)
_TIME_KEYS = frozenset("cpu_time cpu_time_total self_cpu_time self_cpu_time_total count".split())


def _fmt_us(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


class EventList(list):
    """A list of :class:`FunctionEvent` or :class:`FunctionEventAvg` with ``table()``."""

    def key_averages(self, group_by_input_shape: bool = False) -> EventList:
        return _average(self, group_by_input_shape)

    def total_average(self) -> FunctionEventAvg:
        total = FunctionEventAvg("Total")
        for ev in self:
            total.add(ev)
        return total

    @property
    def self_cpu_time_total(self) -> float:
        return sum(ev.self_cpu_time_total for ev in self)

    def table(
        self,
        sort_by: str | None = None,
        row_limit: int = 100,
        max_src_column_width: int = 75,
        max_name_column_width: int = 55,
        max_shapes_column_width: int = 80,
        header: str | None = None,
        top_level_events_only: bool = False,
    ) -> str:
        """A text table: name, self CPU time and share, total CPU time and share, mean time,
        call count (and input shapes when grouped by them), sorted by ``sort_by`` (descending;
        ``cpu_time_total``, ``self_cpu_time_total``, ``cpu_time``, ``count``; device and memory
        keys are accepted and are all 0 in rustdl) and cut at ``row_limit`` rows."""
        rows = list(self)
        if top_level_events_only:
            rows = [ev for ev in rows if getattr(ev, "depth", 0) == 0]
        if sort_by is not None:
            if sort_by in _TIME_KEYS:
                rows.sort(key=lambda ev: getattr(ev, sort_by), reverse=True)
            elif sort_by not in _ZERO_KEYS:
                raise ValueError(
                    f"table: unknown sort_by {sort_by!r}; use one of {sorted(_TIME_KEYS | _ZERO_KEYS)}"
                )
        if row_limit is not None and row_limit > 0:
            rows = rows[:row_limit]
        all_self = self.self_cpu_time_total
        all_total = all_self  # shares are of the total self time, which counts each moment once
        with_shapes = any(getattr(ev, "input_shapes", "") for ev in rows)
        names = [
            ev.key if len(ev.key) <= max_name_column_width else ev.key[: max_name_column_width - 3] + "..."
            for ev in rows
        ]
        name_w = max([len("Name"), *map(len, names)]) + 2
        cols = ["Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls"]
        widths = [10, 10, 11, 10, 12, 10]
        if with_shapes:
            cols.append("Input Shapes")
            widths.append(min(max_shapes_column_width, max(len(str(ev.input_shapes)) for ev in rows)))
        line = "-" * (name_w + sum(w + 2 for w in widths))
        out = []
        if header:
            out.append(header)
        out.append(line)
        out.append("Name".ljust(name_w) + _row(cols, widths, with_shapes))
        out.append(line)
        for name, ev in zip(names, rows):
            cells = [
                f"{100.0 * ev.self_cpu_time_total / all_self if all_self else 0.0:.2f}%",
                _fmt_us(ev.self_cpu_time_total),
                f"{100.0 * ev.cpu_time_total / all_total if all_total else 0.0:.2f}%",
                _fmt_us(ev.cpu_time_total),
                _fmt_us(ev.cpu_time_total / max(ev.count, 1)),
                str(ev.count),
            ]
            if with_shapes:
                cells.append(str(getattr(ev, "input_shapes", ""))[:max_shapes_column_width])
            out.append(name.ljust(name_w) + _row(cells, widths, with_shapes))
        out.append(line)
        out.append(f"Self CPU time total: {_fmt_us(all_self)}")
        return "\n".join(out) + "\n"


def _row(cells: list[str], widths: list[int], with_shapes: bool) -> str:
    """Right-aligned number columns two spaces apart; the shapes column (last) left-aligned."""
    nums = cells[:-1] if with_shapes else cells
    out = "".join("  " + c.rjust(w) for c, w in zip(nums, widths))
    if with_shapes:
        out += "  " + cells[-1].ljust(widths[-1])
    return out.rstrip()


def _average(events: Iterable[Any], group_by_input_shape: bool = False) -> EventList:
    groups: dict[tuple[str, str], FunctionEventAvg] = {}
    for ev in events:
        shapes = str(ev.input_shapes) if group_by_input_shape and ev.input_shapes else ""
        key = (ev.key, shapes)
        if key not in groups:
            groups[key] = FunctionEventAvg(ev.key, shapes)
        groups[key].add(ev)
    return EventList(groups.values())


# ---------- the active profiler and its hooks ----------

_tls = threading.local()
_active: profile | None = None
_active_lock = threading.Lock()


def _stack() -> list[FunctionEvent]:
    s = getattr(_tls, "stack", None)
    if s is None:
        s = _tls.stack = []
    return s


def _caller_stack(skip: int) -> list[str]:
    frames = []
    f = sys._getframe(skip)
    while f is not None and len(frames) < 32:
        code = f.f_code
        if not code.co_filename.endswith(("rustdl/profiler.py", "nn/modules/module.py")):
            frames.append(f"{code.co_filename}({f.f_lineno}): {code.co_name}")
        f = f.f_back
    return frames


def _begin(name: str, kind: str, args: tuple | None = None) -> FunctionEvent | None:
    prof = _active
    if prof is None or not prof._recording:
        return None
    stack = _stack()
    parent = stack[-1] if stack else None
    ev = FunctionEvent(name, kind, threading.get_native_id(), time.perf_counter_ns(), len(stack), parent)
    if prof.record_shapes and args is not None:
        ev.input_shapes = [list(a.shape) if hasattr(a, "shape") and hasattr(a, "dtype") else [] for a in args]
    if prof.with_stack:
        ev.stack = _caller_stack(3)
    if parent is not None:
        parent.cpu_children.append(ev)
    stack.append(ev)
    with prof._lock:
        ev.id = len(prof._events)
        prof._events.append(ev)
    return ev


def _end(ev: FunctionEvent | None) -> None:
    if ev is None:
        return
    ev.end_ns = time.perf_counter_ns()
    stack = _stack()
    if ev in stack:  # ranges closed out of order close the ones opened inside them too
        while stack:
            top = stack.pop()
            if top.end_ns is None:
                top.end_ns = ev.end_ns
            if top is ev:
                break


def _module_call(module: Any, args: tuple, kwargs: dict) -> Any:
    from .nn.modules import module as module_mod

    ev = _begin(f"nn.Module: {type(module).__name__}", "python_function", args)
    try:
        return module_mod._call_unprofiled(module, args, kwargs)
    finally:
        _end(ev)


def _wrap_backward(orig: Callable) -> Callable:
    @functools.wraps(orig)
    def backward(self: Any, *args: Any, **kwargs: Any) -> Any:
        ev = _begin("Tensor.backward", "python_function")
        try:
            return orig(self, *args, **kwargs)
        finally:
            _end(ev)

    return backward


def _wrap_step(orig: Callable) -> Callable:
    @functools.wraps(orig)
    def step(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_tls, "in_optimizer_step", False):  # a subclass calling super().step()
            return orig(self, *args, **kwargs)
        _tls.in_optimizer_step = True
        ev = _begin(f"Optimizer.step#{type(self).__name__}.step", "python_function")
        try:
            return orig(self, *args, **kwargs)
        finally:
            _end(ev)
            _tls.in_optimizer_step = False

    return step


def _all_subclasses(cls: type) -> list[type]:
    out, todo = [], [cls]
    while todo:
        c = todo.pop()
        out.append(c)
        todo.extend(c.__subclasses__())
    return out


class _Hooks:
    """Installs the module/backward/optimizer hooks while a profiler runs; puts back what was."""

    def __init__(self) -> None:
        self._restore: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        from . import _rustdl
        from .nn.modules import module as module_mod
        from .optim.optimizer import Optimizer

        module_mod._profile_call = _module_call
        orig = _rustdl.Tensor.__dict__.get("backward")
        if orig is not None:
            self._restore.append((_rustdl.Tensor, "backward", orig))
            _rustdl.Tensor.backward = _wrap_backward(orig)
        for cls in _all_subclasses(Optimizer):
            fn = cls.__dict__.get("step")
            if fn is not None:
                self._restore.append((cls, "step", fn))
                cls.step = _wrap_step(fn)

    def remove(self) -> None:
        from .nn.modules import module as module_mod

        module_mod._profile_call = None
        for owner, name, value in reversed(self._restore):
            setattr(owner, name, value)
        self._restore.clear()


# ---------- record_function ----------


class record_function:  # noqa: N801 - the PyTorch name
    """Marks a named range for the profiler: ``with record_function("data"):`` or
    ``@record_function("forward")``. Costs almost nothing while no profiler records."""

    def __init__(self, name: str, args: str | None = None) -> None:
        if not isinstance(name, str):
            raise TypeError(f"record_function: name must be a str, got {type(name).__name__}")
        self.name, self.args = name, args
        self._ev: FunctionEvent | None = None

    def __enter__(self) -> record_function:
        self._ev = _begin(self.name, "user_annotation")
        return self

    def __exit__(self, *exc: Any) -> bool:
        _end(self._ev)
        self._ev = None
        return False

    def __call__(self, fn: Callable) -> Callable:
        name, extra = self.name, self.args

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with record_function(name, extra):
                return fn(*args, **kwargs)

        return wrapper


# ---------- the profiler ----------


class profile:  # noqa: N801 - the PyTorch name
    """Records ranges while active (see the module docstring for which).

    Args:
        activities: ``ProfilerActivity`` values (default CPU; CUDA is timed on the host).
        schedule: a step -> :class:`ProfilerAction` function (:func:`schedule`); without one,
            every step records and the trace is ready when the profiler stops.
        on_trace_ready: called with the profiler when a recorded cycle ends (e.g.
            :func:`tensorboard_trace_handler`).
        record_shapes: keep the shapes of ``nn.Module`` inputs (``key_averages(group_by_input_shape=True)``).
        profile_memory: accepted; rustdl does not measure memory per range (columns read 0).
        with_stack: keep the Python call stack of each range (in the Chrome trace).

    Use as a context manager (or ``start()`` / ``stop()``) and call ``step()`` once per
    training step.
    """

    def __init__(
        self,
        *,
        activities: Iterable[ProfilerActivity] | None = None,
        schedule: Callable[[int], ProfilerAction] | None = None,
        on_trace_ready: Callable[[profile], Any] | None = None,
        record_shapes: bool = False,
        profile_memory: bool = False,
        with_stack: bool = False,
        with_flops: bool = False,
        with_modules: bool = False,
        experimental_config: Any = None,
        execution_trace_observer: Any = None,
        acc_events: bool = False,
        use_cuda: bool | None = None,
        custom_trace_id_callback: Any = None,
    ) -> None:
        acts = set(activities) if activities is not None else {ProfilerActivity.CPU}
        for a in acts:
            if not isinstance(a, ProfilerActivity):
                raise TypeError(f"profile: activities must be ProfilerActivity values, got {a!r}")
        if use_cuda:
            acts.add(ProfilerActivity.CUDA)
        if schedule is not None and not callable(schedule):
            raise TypeError("profile: schedule must be a function of the step number")
        self.activities = acts
        self.schedule = schedule or _always_record
        self.record_steps = schedule is not None
        self.on_trace_ready = on_trace_ready
        self.record_shapes, self.profile_memory, self.with_stack = record_shapes, profile_memory, with_stack
        self.with_flops, self.with_modules = with_flops, with_modules
        self.acc_events = acc_events
        self.step_num = 0
        self.current_action = ProfilerAction.NONE
        self._recording = False
        self._events: list[FunctionEvent] = []
        self._finished: list[FunctionEvent] | None = None
        self._step_ev: FunctionEvent | None = None
        self._lock = threading.Lock()
        self._hooks = _Hooks()
        self._t0_ns = 0
        self._wall0_us = 0.0
        self._running = False

    # ----- lifetime -----

    def __enter__(self) -> profile:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> bool:
        self.stop()
        return False

    def start(self) -> None:
        global _active
        with _active_lock:
            if _active is not None:
                raise RuntimeError("profile: another profiler is already running")
            _active = self
        self._running = True
        self._t0_ns = time.perf_counter_ns()
        self._wall0_us = time.time_ns() / 1000.0
        self._hooks.install()
        self.step_num = 0
        self._enter(self.schedule(0))

    def stop(self) -> None:
        global _active
        if not self._running:
            return
        self._end_step_range()
        if self._recording:
            self._finish_cycle()
        self._hooks.remove()
        self._running = False
        self.current_action = ProfilerAction.NONE
        with _active_lock:
            if _active is self:
                _active = None

    def step(self) -> None:
        """Marks the end of a step: the schedule decides what the next one does; a recorded
        cycle that ends here is handed to ``on_trace_ready``."""
        if not self._running:
            return
        prev = self.current_action
        self._end_step_range()
        self.step_num += 1
        action = self.schedule(self.step_num)
        if prev in _RECORDING and (prev == ProfilerAction.RECORD_AND_SAVE or action not in _RECORDING):
            self._finish_cycle()
        self._enter(action)

    def _enter(self, action: ProfilerAction) -> None:
        if not isinstance(action, ProfilerAction):
            raise TypeError(f"profile: the schedule returned {action!r}, not a ProfilerAction")
        if action in _RECORDING and not self._recording:
            self._events = []
            self._recording = True
        self.current_action = action
        if self._recording and self.record_steps:
            self._step_ev = _begin(f"ProfilerStep#{self.step_num}", "user_annotation")

    def _end_step_range(self) -> None:
        if self._step_ev is not None:
            _end(self._step_ev)
            self._step_ev = None

    def _finish_cycle(self) -> None:
        self._recording = False
        now = time.perf_counter_ns()
        for ev in self._events:
            if ev.end_ns is None:
                ev.end_ns = now
        self._finished = self._events
        self._events = []
        _tls.stack = []
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    # ----- results -----

    def events(self) -> EventList:
        """The ranges of the last finished cycle (or of the one being recorded)."""
        evs = self._finished if self._finished is not None and not self._recording else self._events
        return EventList(evs)

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0) -> EventList:
        """The ranges grouped by name (and input shapes): count and total/self times."""
        return _average(self.events(), group_by_input_shape)

    @property
    def self_cpu_time_total(self) -> float:
        return self.events().self_cpu_time_total

    def table(self, *args: Any, **kwargs: Any) -> str:
        return self.key_averages().table(*args, **kwargs)

    def export_chrome_trace(self, path: str | os.PathLike) -> None:
        """Writes the ranges as Chrome trace JSON (``chrome://tracing``, Perfetto); a path
        ending in ``.gz`` is gzip-compressed."""
        pid = os.getpid()
        trace = []
        for ev in self.events():
            entry: dict[str, Any] = {
                "ph": "X",
                "cat": ev.kind,
                "name": ev.name,
                "pid": pid,
                "tid": ev.thread,
                "ts": self._wall0_us + (ev.start_ns - self._t0_ns) / 1000.0,
                "dur": ev.cpu_time_total,
                "args": {"External id": ev.id},
            }
            if ev.input_shapes:
                entry["args"]["Input Dims"] = ev.input_shapes
            if ev.stack:
                entry["args"]["Call stack"] = ";".join(ev.stack)
            trace.append(entry)
        doc = {
            "schemaVersion": 1,
            "displayTimeUnit": "ms",
            "traceName": os.fspath(path),
            "deviceProperties": [],
            "traceEvents": trace,
        }
        data = json.dumps(doc).encode("utf-8")
        path = os.fspath(path)
        if path.endswith(".gz"):
            data = gzip.compress(data)
        with open(path, "wb") as f:
            f.write(data)

    def export_stacks(self, path: str | os.PathLike, metric: str = "self_cpu_time_total") -> None:
        """Writes ``frame;frame;...;name <microseconds>`` lines (flame-graph input) for the ranges
        recorded with ``with_stack=True``."""
        with open(path, "w", encoding="utf-8") as f:
            for ev in self.events():
                if ev.stack:
                    frames = ";".join(reversed(ev.stack))
                    f.write(f"{frames};{ev.name} {int(getattr(ev, metric))}\n")


def tensorboard_trace_handler(
    dir_name: str | os.PathLike, worker_name: str | None = None, use_gzip: bool = False
) -> Callable[[profile], None]:
    """An ``on_trace_ready`` that writes each cycle's Chrome trace to
    ``<dir_name>/<worker_name>.<time_ns>.pt.trace.json[.gz]`` (TensorBoard's profile plugin layout);
    ``worker_name`` defaults to ``<host>_<pid>``."""

    def handler(prof: profile) -> None:
        os.makedirs(dir_name, exist_ok=True)
        name = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        path = os.path.join(os.fspath(dir_name), f"{name}.{time.time_ns()}.pt.trace.json")
        prof.export_chrome_trace(path + ".gz" if use_gzip else path)

    return handler


# ---------- torch.autograd.profiler ----------


class autograd_profile(profile):  # noqa: N801
    """``torch.autograd.profiler.profile``: records everything between enter and exit (no
    schedule); ``enabled=False`` records nothing."""

    def __init__(
        self,
        enabled: bool = True,
        *,
        use_cuda: bool = False,
        use_device: str | None = None,
        record_shapes: bool = False,
        with_flops: bool = False,
        profile_memory: bool = False,
        with_stack: bool = False,
        with_modules: bool = False,
        use_kineto: bool = False,
        use_cpu: bool = True,
        experimental_config: Any = None,
        acc_events: bool = False,
        custom_trace_id_callback: Any = None,
    ) -> None:
        super().__init__(
            record_shapes=record_shapes,
            profile_memory=profile_memory,
            with_stack=with_stack,
            use_cuda=use_cuda,
        )
        self.enabled = enabled

    def start(self) -> None:
        if self.enabled:
            super().start()

    @property
    def function_events(self) -> EventList:
        return self.events()

    def total_average(self) -> FunctionEventAvg:
        return self.events().total_average()


class emit_nvtx:  # noqa: N801
    """``torch.autograd.profiler.emit_nvtx``: a no-op context manager (rustdl has no NVTX)."""

    def __init__(self, enabled: bool = True, record_shapes: bool = False) -> None:
        self.enabled = enabled

    def __enter__(self) -> emit_nvtx:
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False
