"""``torch.utils.benchmark``: :class:`Timer` measures a statement, :class:`Measurement` holds the
per-run times (``mean``, ``median``, ``iqr``, ``times``).

The statement runs through :mod:`timeit`, so it is a string of Python code (with ``setup`` and
``globals``) or a callable. When a GPU is present the clock waits for queued GPU work before it
is read (as PyTorch's timer synchronises CUDA), so asynchronous kernels are counted.

Example:
    >>> t = Timer("x @ x", globals={"x": rustdl.randn(64, 64)})
    >>> m = t.blocked_autorange(min_run_time=0.1)
    >>> m.median  # seconds per run
"""

from __future__ import annotations

import math
import textwrap
import timeit as _timeit
from typing import Any, Callable

import numpy as np

__all__ = ["Measurement", "Timer"]


def _gpu_synced_clock() -> Callable[[], float]:
    from .. import gpu

    try:
        present = gpu.is_available()
    except Exception:  # noqa: BLE001 - no adapter: plain clock
        present = False
    if not present:
        return _timeit.default_timer

    def clock() -> float:
        gpu.synchronize()
        return _timeit.default_timer()

    return clock


class Measurement:
    """The result of a :class:`Timer` run: ``raw_times`` are the seconds of each block of
    ``number_per_run`` runs; ``times`` those per run; ``mean``/``median``/``iqr`` over ``times``
    (quantiles linearly interpolated, as PyTorch)."""

    def __init__(
        self,
        number_per_run: int,
        raw_times: list[float],
        task_spec: Any = None,
        metadata: dict | None = None,
        *,
        stmt: str = "",
        label: str | None = None,
        sub_label: str | None = None,
        description: str | None = None,
        num_threads: int = 1,
    ) -> None:
        self.number_per_run = int(number_per_run)
        self.raw_times = [float(t) for t in raw_times]
        self.task_spec = task_spec
        self.metadata = metadata
        self.stmt, self.label, self.sub_label = stmt, label, sub_label
        self.description, self.num_threads = description, num_threads

    @property
    def times(self) -> list[float]:
        """Seconds per run, one entry per measured block."""
        return [t / self.number_per_run for t in self.raw_times]

    def _q(self, q: float) -> float:
        if not self.raw_times:
            return math.nan
        return float(np.quantile(np.asarray(self.times, dtype=np.float64), q))

    @property
    def median(self) -> float:
        return self._q(0.5)

    @property
    def mean(self) -> float:
        return float(np.mean(self.times)) if self.raw_times else math.nan

    @property
    def iqr(self) -> float:
        """The spread between the 75th and 25th percentiles of ``times``."""
        return self._q(0.75) - self._q(0.25)

    @property
    def has_warnings(self) -> bool:
        """True when the measurement is noisy (IQR over 10% of the median) or has few blocks."""
        return len(self.raw_times) < 4 or not self.meets_confidence()

    def meets_confidence(self, threshold: float = 0.1) -> bool:
        """Whether ``iqr / median`` is below ``threshold``."""
        return self.median > 0 and self.iqr / self.median < threshold

    @property
    def significant_figures(self) -> int:
        """Digits of ``median`` the spread supports (at most 4, at least 1), as PyTorch estimates."""
        if len(self.times) < 2 or self.median <= 0:
            return 1
        n = len(self.times)
        interval_estimate = self.iqr / math.sqrt(n) * 1.645 / 1.349 if self.iqr > 0 else 0.0
        if interval_estimate <= 0:
            return 4
        relative_ci = math.log10(self.median / interval_estimate)
        return int(max(min(math.floor(relative_ci), 4), 1))

    @property
    def title(self) -> str:
        return self.label or self.stmt

    @staticmethod
    def merge(measurements: list[Measurement]) -> list[Measurement]:
        """Measurements of the same statement combined into one (times per run pooled)."""
        groups: dict[tuple, list[Measurement]] = {}
        for m in measurements:
            groups.setdefault((m.stmt, m.label, m.sub_label, m.description), []).append(m)
        out = []
        for ms in groups.values():
            times = [t for m in ms for t in m.times]
            first = ms[0]
            out.append(
                Measurement(1, times, first.task_spec, first.metadata, stmt=first.stmt, label=first.label,
                            sub_label=first.sub_label, description=first.description, num_threads=first.num_threads)
            )  # fmt: skip
        return out

    def __repr__(self) -> str:
        def fmt(sec: float) -> str:
            for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
                if sec >= scale or unit == "ns":
                    return f"{sec / scale:.2f} {unit}"
            return f"{sec} s"  # unreachable

        head = [f"<rustdl.utils.benchmark.Measurement object at {hex(id(self))}>"]
        if self.label:
            head.append(self.label + (f": {self.sub_label}" if self.sub_label else ""))
        head.append(textwrap.indent(self.stmt.strip() or "(callable)", ""))
        n = len(self.raw_times)
        if n > 1:
            head.append(f"  Median: {fmt(self.median)}")
            head.append(f"  IQR:    {fmt(self.iqr)} ({fmt(self._q(0.25))} to {fmt(self._q(0.75))})")
        else:
            head.append(f"  {fmt(self.median)}")
        head.append(
            f"  {n} measurement{'s' if n != 1 else ''}, {self.number_per_run} runs per measurement, "
            f"{self.num_threads} thread{'s' if self.num_threads != 1 else ''}"
        )
        return "\n".join(head)


class Timer:
    """Times ``stmt`` (Python code or a callable) after ``setup``, as
    ``torch.utils.benchmark.Timer``.

    Args:
        stmt: the code (or callable) to time.
        setup: code run once before timing.
        global_setup: accepted (PyTorch's C++ setup); must be empty for Python statements.
        timer: the clock (default: wall time, waiting for the GPU when one is present).
        globals: the namespace ``stmt`` and ``setup`` run in.
        label, sub_label, description, env: carried into the :class:`Measurement`.
        num_threads: recorded in the Measurement (rustdl does not change its thread pool here).
    """

    def __init__(
        self,
        stmt: str | Callable[[], Any] = "pass",
        setup: str | Callable[[], Any] = "pass",
        global_setup: str = "",
        timer: Callable[[], float] | None = None,
        globals: dict[str, Any] | None = None,  # noqa: A002
        label: str | None = None,
        sub_label: str | None = None,
        description: str | None = None,
        env: str | None = None,
        num_threads: int = 1,
        language: Any = "python",
    ) -> None:
        if str(getattr(language, "name", language)).lower() not in ("python", "py"):
            raise ValueError(
                f"Timer: only Python statements can be timed in rustdl, got language={language!r}"
            )
        if global_setup:
            raise ValueError("Timer: global_setup is for C++ statements; use setup for Python")
        if isinstance(stmt, str):
            stmt = textwrap.dedent(stmt).strip() or "pass"
        if isinstance(setup, str):
            setup = textwrap.dedent(setup).strip() or "pass"
        self._stmt_text = stmt if isinstance(stmt, str) else getattr(stmt, "__name__", repr(stmt))
        self._timer = timer if timer is not None else _gpu_synced_clock()
        self._inner = _timeit.Timer(stmt=stmt, setup=setup, timer=self._timer, globals=dict(globals or {}))
        self._meta = {
            "stmt": self._stmt_text,
            "label": label,
            "sub_label": sub_label,
            "description": description,
            "num_threads": int(num_threads),
        }
        self.env = env

    def _timeit(self, number: int) -> float:
        return max(self._inner.timeit(number), 1e-9)

    def _measurement(self, number: int, times: list[float]) -> Measurement:
        return Measurement(number, times, None, None, **self._meta)

    def timeit(self, number: int = 1000000) -> Measurement:
        """Runs ``stmt`` ``number`` times (after a short warm-up) and returns one measurement."""
        number = int(number)
        if number < 1:
            raise ValueError(f"Timer.timeit: number must be positive, got {number}")
        self._timeit(max(number // 100, 2))
        return self._measurement(number, [self._timeit(number)])

    def repeat(self, repeat: int = -1, number: int = -1) -> None:
        raise NotImplementedError(
            "Timer.repeat is not supported (as in PyTorch); use timeit or blocked_autorange"
        )

    def _estimate_block_size(self, min_run_time: float) -> int:
        overhead = float(np.median([self._timeit(0) for _ in range(5)]))
        number = 1
        while True:
            taken = self._timeit(number)
            if overhead / taken <= 1e-4 and taken >= min_run_time / 1000:
                break
            if taken > min_run_time or number * 10 > 2147483647:
                break
            number *= 10
        return number

    def _loop(
        self,
        number: int,
        stop: Callable[[list[float]], bool],
        min_run_time: float,
        max_run_time: float | None,
        callback: Any,
    ) -> list[float]:
        total, times, can_stop = 0.0, [], False
        while total < min_run_time or not can_stop:
            spent = self._timeit(number)
            times.append(spent)
            total += spent
            if callback is not None:
                callback(number, spent)
            can_stop = stop(times)
            if max_run_time is not None and total > max_run_time:
                break
        return times

    def blocked_autorange(
        self, callback: Callable[[int, float], Any] | None = None, min_run_time: float = 0.2
    ) -> Measurement:
        """Picks a block size whose timer overhead is negligible, then times blocks until
        ``min_run_time`` seconds have been spent; ``callback(number, seconds)`` after each."""
        number = self._estimate_block_size(min_run_time)
        times = self._loop(number, lambda ts: True, min_run_time, None, callback)
        return self._measurement(number, times)

    def adaptive_autorange(
        self,
        threshold: float = 0.1,
        *,
        min_run_time: float = 0.01,
        max_run_time: float = 10.0,
        callback: Callable[[int, float], Any] | None = None,
    ) -> Measurement:
        """Times blocks until the IQR is below ``threshold`` of the median (at least 3 blocks and
        ``min_run_time`` seconds), stopping anyway after ``max_run_time``."""
        number = self._estimate_block_size(min_run_time=0.05)

        def stop(times: list[float]) -> bool:
            return len(times) > 3 and self._measurement(number, times).meets_confidence(threshold)

        times = self._loop(number, stop, min_run_time, max_run_time, callback)
        return self._measurement(number, times)
