"""GPU device queries: availability, adapter info, counters, synchronisation, cache control."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from . import _rustdl


def is_available() -> bool:
    """True when a GPU adapter was found (``RUSTDL_GPU_BACKEND`` picks vulkan/gl/metal/dx12)."""
    return bool(_rustdl.gpu_is_available())


def device_count() -> int:
    """Number of GPU adapters found."""
    return int(_rustdl.gpu_device_count())


def adapter_info(index: int = 0) -> dict:
    """Name, backend, device type and driver of adapter ``index``."""
    return dict(_rustdl.gpu_adapter_info(index))


def stats() -> dict:
    """Counters: submits, dispatches, pipelines_compiled, pool_hits, bytes_allocated."""
    return dict(_rustdl.gpu_stats())


def synchronize() -> None:
    """Submits pending work and waits for the GPU to finish it."""
    _rustdl.gpu_synchronize()


def empty_cache() -> None:
    """Frees the buffers held by the pool."""
    _rustdl.gpu_empty_cache()


def set_matmul_tile(tile: int | None = None) -> int | None:
    """Forces every GPU matrix product (and convolution) onto one kernel: ``64`` (64x64 tiles
    of the output per workgroup, the only one that splits a long K) or ``128`` (128x128 tiles,
    8x8 outputs per invocation), or back to the automatic choice with ``None``. Returns the
    previous setting.

    The automatic choice takes the 64 tile for small products and, for a product of at least
    2**27 multiply-adds, times both kernels once per adapter and shape class and keeps the
    faster, also in ``gpu_matmul_tiles.tsv`` of the cache directory (``$RUSTDL_CACHE_DIR``,
    else ``$XDG_CACHE_HOME/rustdl``, else ``~/.cache/rustdl``) for later processes.
    ``RUSTDL_GPU_AUTOTUNE=0`` turns the timing off. Meant for benchmarks and tests.
    """
    return _rustdl.gpu_set_matmul_tile(tile)


class Event:
    """A GPU timing event, as ``torch.cuda.Event(enable_timing=True)``: ``record()`` marks the
    current point of the GPU's command stream, and ``start.elapsed_time(end)`` is the
    milliseconds of GPU time between two marks, read from timestamps the device writes when it
    gets there (so host work between the records is not counted unless the GPU waited for it)::

        start, end = rustdl.gpu.Event(), rustdl.gpu.Event()
        start.record()
        y = model(x)
        end.record()
        print(start.elapsed_time(end), "ms")

    Raises ``RuntimeError`` where the adapter cannot write timestamps between commands.
    """

    def __init__(self, enable_timing: bool = True, device: int | str | Any = 0) -> None:
        self._ev = _rustdl._GpuEvent(_device_index(device))

    def record(self, stream: Any = None) -> None:
        """Marks the point after all GPU work recorded so far (again: moves the mark)."""
        self._ev.record()

    def synchronize(self) -> None:
        """Waits until the GPU has reached the mark."""
        synchronize()

    def query(self) -> bool:
        """Whether the GPU has reached the mark (it waits for it, then answers True)."""
        synchronize()
        return True

    def elapsed_time(self, end: Event) -> float:
        """Milliseconds of GPU time from this event to ``end`` (waits for both)."""
        if not isinstance(end, Event):
            raise TypeError(f"Event.elapsed_time: expected a rustdl.gpu.Event, got {type(end).__name__}")
        return self._ev.elapsed_time(end._ev)


# the lists of the open traces, innermost last
_traces: list[list] = []


@contextlib.contextmanager
def trace() -> Iterator[list]:
    """Records every GPU dispatch made inside the block.

    The list it yields is filled when the block ends, one ``(kernel, (x, y, z))`` per dispatch:
    the shader entry point and its workgroup grid, in dispatch order (a replayed graph's
    dispatches included). Traces nest: an enclosing trace also gets the inner one's
    dispatches::

        with rustdl.gpu.trace() as t:
            step()
        print(len(t), collections.Counter(k for k, _ in t))
    """
    out: list = []
    if _traces:
        # what the enclosing trace recorded so far is its own
        _traces[-1].extend(_rustdl.gpu_trace_stop())
    _traces.append(out)
    _rustdl.gpu_trace_start()
    try:
        yield out
    finally:
        events = _rustdl.gpu_trace_stop()
        _traces.pop()
        out.extend(events)
        if _traces:
            _traces[-1].extend(events)
            _rustdl.gpu_trace_start()


# ---------- capture and replay ----------

# the graph being captured, if any (the optimizers note their steps in it)
_recording: Graph | None = None


class Graph:
    """One training step's GPU commands, captured once and replayed with a single call.

    While a capture is open the step runs as usual (so the capture itself is one real step)
    and every dispatch, copy and fill it records is kept with its buffers. ``replay()`` records
    the same commands again without running any Python, autograd or pipeline lookups: the role
    of CUDA graphs. As with them, the step must use the same tensors every time: copy each new
    batch into the captured input tensors (``x_static.copy_(batch)``) and read the captured
    outputs after a replay. Optimizer steps inside the capture advance their step counts on
    every replay (Adam's bias corrections stay right).

    Random numbers (dropout, ``randn``) drawn from the library's stream draw fresh values on
    every replay, the same ones live training would draw (a ``rustdl.Generator`` passed
    explicitly is replayed from the library's stream instead). A learning-rate schedule works:
    a replay runs at the optimizers' current learning rate when all their groups share one.

    Host data uploaded inside the captured step (a tensor made from numpy, ``.to("gpu")`` of a
    CPU tensor) is replayed as the values captured, like any constant: bring each new batch to
    the device outside the step and ``copy_`` it into the step's input tensors. Work on other
    threads of the same device while a capture is open is recorded into it.

    Not allowed inside a capture (each raises a clear error): reading values back to the host
    (``.item()``, ``.cpu()``, printing), creating optimizer state (run the step once before
    capturing) and NAdam. Changing other hyper-parameters (betas, weight decay) after the
    capture makes ``replay()`` raise; :func:`capture` re-captures instead.
    """

    def __init__(self) -> None:
        self._g: Any = None
        self._device = 0
        self._optimizers: list[tuple[Any, list[dict], list[dict], list[Any]]] = []
        self._lrs: list[Any] = []

    def capture_begin(self, device: int | str | Any = 0) -> None:
        """Starts capturing the commands of ``device`` (an index, ``"gpu:1"`` or a device)."""
        global _recording
        if _recording is not None:
            raise RuntimeError("Graph.capture_begin: another graph is being captured")
        self._device = _device_index(device)
        _rustdl.gpu_capture_begin(self._device)
        self._g = None
        self._optimizers = []
        self._lrs = []
        _recording = self

    def capture_end(self) -> None:
        """Ends the capture; the graph can be replayed from now on."""
        global _recording
        if _recording is not self:
            raise RuntimeError("Graph.capture_end: this graph is not being captured")
        _recording = None
        self._g = _rustdl.gpu_capture_end(self._device)

    def _abort(self) -> None:
        global _recording
        if _recording is self:
            _recording = None
            _rustdl.gpu_capture_abort(self._device)

    def _note_optimizer(self, opt: Any, states: list[dict]) -> None:
        steps = [st.get("step") for st in states]
        self._optimizers.append((opt, states, _hyper_but_lr(opt), steps))
        self._lrs.extend(g["lr"] for g in opt.param_groups)

    def _advance(self) -> int | None:
        """How many steps the optimizers in the graph are now past the captured one (the same
        for all, else ``-1``); ``None`` when none counts steps."""
        deltas = {
            st["step"] + 1 - t0
            for _, states, _, steps in self._optimizers
            for st, t0 in zip(states, steps)
            if t0 is not None and "step" in st
        }
        if not deltas:
            return None
        return deltas.pop() if len(deltas) == 1 else -1

    def _lr_now(self) -> tuple[bool, float | None]:
        """(whether the replay can run at the optimizers' learning rates, the one to pass)."""
        lrs = [g["lr"] for opt, _, _, _ in self._optimizers for g in opt.param_groups]
        if lrs == self._lrs:
            return True, None
        # a changed learning rate is replayed when every group shares it (one parameter block
        # per optimizer step is recomputed with it)
        if len(set(lrs)) == 1 and len(set(self._lrs)) == 1:
            return True, float(lrs[0])
        return False, None

    def _plan(self) -> tuple[int | None, float | None] | None:
        """(the steps to advance by, the learning rate to pass) for a replay now, or ``None``
        when the graph is stale."""
        if any(_hyper_but_lr(opt) != snap for opt, _, snap, _ in self._optimizers):
            return None
        lr_ok, lr = self._lr_now()
        advance = self._advance()
        if not lr_ok or advance == -1:
            return None
        return advance, lr

    def stale(self) -> bool:
        """True when an optimizer in the step changed its hyper-parameters since the capture
        (beyond a learning rate shared by all its groups), or its parameters no longer share
        one step count."""
        return self._plan() is None

    def _replay_if_current(self) -> bool:
        """Replays unless the graph is stale (then returns False and does nothing)."""
        if self._g is None:
            raise RuntimeError("Graph.replay: nothing captured yet (use rustdl.gpu.graph(g))")
        plan = self._plan()
        if plan is None:
            return False
        # the optimizer steps run with the step counts the parameters have reached (other
        # steps, live or of other graphs, may have run since the capture)
        self._g.replay(*plan)
        for _, states, _, _ in self._optimizers:
            for st in states:
                if "step" in st:
                    st["step"] = st["step"] + 1  # a new count: the captured ones stay as they were
        return True

    def replay(self) -> None:
        """Runs the captured step again (recorded into the device's open batch of work)."""
        if not self._replay_if_current():
            raise ValueError(
                "Graph.replay: an optimizer's hyper-parameters (such as its learning rate) "
                "changed since the capture, or its parameters' step counts diverged; capture "
                "the step again"
            )

    @property
    def dispatches(self) -> int:
        """GPU dispatches one replay records."""
        return 0 if self._g is None else int(self._g.dispatches)

    def kernels(self) -> list[str]:
        """The captured commands' kernels, in order."""
        return [] if self._g is None else list(self._g.kernels())


def _hyper_but_lr(opt: Any) -> list[dict]:
    return [{k: v for k, v in opt._hyper(g).items() if k != "lr"} for g in opt.param_groups]


def _device_index(device: Any) -> int:
    if isinstance(device, int) and not isinstance(device, bool):
        if device < 0:
            raise ValueError(f"expected a GPU device index >= 0, got {device}")
        return device
    text = str(device)
    if text in ("gpu", "cuda"):
        return 0
    for prefix in ("gpu:", "cuda:"):
        if text.startswith(prefix):
            return int(text[len(prefix) :])
    raise ValueError(f"expected a GPU device, got {device!r}")


@contextlib.contextmanager
def graph(g: Graph, device: int | str | Any = 0) -> Iterator[Graph]:
    """Captures the GPU commands of the block into ``g`` (see :class:`Graph`)::

    g = rustdl.gpu.Graph()
    step()                      # once before capturing: optimizer state exists
    with rustdl.gpu.graph(g):
        loss = step()           # runs, and is recorded
    for xb, yb in loader:
        x.copy_(xb); y.copy_(yb)
        g.replay()              # loss now holds this batch's loss
    """
    g.capture_begin(device)
    try:
        yield g
    except BaseException:
        g._abort()
        raise
    g.capture_end()


def capture(step: Callable[[], Any], *, warmup: int = 1, device: int | str | Any = 0) -> Callable[[], Any]:
    """A replaying version of ``step`` (a function of no arguments over fixed GPU tensors).

    The returned function runs ``step`` live ``warmup`` times, then once while capturing it,
    and from then on replays the capture, returning the captured step's result each time
    (its tensors hold the newest values). When an optimizer's hyper-parameters change beyond
    what a replay follows (see :class:`Graph`), the next call captures again. See :class:`Graph` for what a
    captured step may not do.
    """
    state: dict[str, Any] = {"calls": 0, "graph": None, "out": None}

    def run() -> Any:
        g = state["graph"]
        if g is not None and g._replay_if_current():
            return state["out"]
        if state["calls"] < warmup:
            state["calls"] += 1
            return step()
        g = Graph()
        with graph(g, device):
            out = step()
        state["graph"], state["out"] = g, out
        return out

    return run
