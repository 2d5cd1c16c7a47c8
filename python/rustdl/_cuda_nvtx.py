"""``torch.cuda.nvtx``: profiler range markers. rustdl has no NVTX; the ranges are accepted and
mark nothing (``rustdl.profiler.record_function`` labels work for rustdl's own profiler)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_depth = 0


def range_push(msg: str) -> int:
    """Opens a range; returns its depth (0 for the outermost), as NVTX."""
    global _depth
    _depth += 1
    return _depth - 1


def range_pop() -> int:
    """Closes the innermost range; returns its depth, or -1 when none was open."""
    global _depth
    if _depth == 0:
        return -1
    _depth -= 1
    return _depth


def range_start(msg: str) -> int:
    """Starts a process-wide range; returns its id (0 here)."""
    return 0


def range_end(range_id: int) -> None:
    """Ends a range started with :func:`range_start`."""


def mark(msg: str) -> None:
    """An instantaneous marker (nothing is recorded)."""


@contextlib.contextmanager
def range(msg: str, *args: object, **kwargs: object) -> Iterator[None]:  # noqa: A001
    """``with torch.cuda.nvtx.range("step"):`` — pushes a range for the block."""
    range_push(msg.format(*args, **kwargs))
    try:
        yield
    finally:
        range_pop()
