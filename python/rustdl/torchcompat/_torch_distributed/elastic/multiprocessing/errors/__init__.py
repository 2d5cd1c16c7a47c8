"""``torch.distributed.elastic.multiprocessing.errors``: ``@record`` for a worker's entry point.

A function decorated with :func:`record` runs unchanged; an exception escaping it is written, as
JSON (message, traceback, timestamp), to the file named by ``TORCHELASTIC_ERROR_FILE`` when that
variable is set (what a launcher reads to report the failing worker), then raised again."""

from __future__ import annotations

import functools
import json
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["ChildFailedError", "ErrorHandler", "ProcessFailure", "get_error_handler", "record"]

T = TypeVar("T")


class ErrorHandler:
    """Writes an uncaught exception to ``TORCHELASTIC_ERROR_FILE`` (when set)."""

    def _get_error_file_path(self) -> str | None:
        return os.environ.get("TORCHELASTIC_ERROR_FILE")

    def initialize(self) -> None:
        pass

    def record_exception(self, e: BaseException) -> None:
        path = self._get_error_file_path()
        if not path:
            return
        data = {
            "message": {
                "message": f"{type(e).__name__}: {e}",
                "extraInfo": {
                    "py_callstack": "".join(traceback.format_exception(type(e), e, e.__traceback__)),
                    "timestamp": str(int(time.time())),
                },
            }
        }
        with open(path, "w") as f:
            json.dump(data, f)

    def dump_error_file(self, rootcause_error_file: str, error_code: int = 0) -> None:
        path = self._get_error_file_path()
        if path:
            with open(rootcause_error_file) as src, open(path, "w") as dst:
                dst.write(src.read())


def get_error_handler() -> ErrorHandler:
    return ErrorHandler()


@dataclass
class ProcessFailure:
    """One failed worker: its rank, process id, exit code and error file."""

    local_rank: int
    pid: int
    exitcode: int
    error_file: str
    message: str = field(default="")
    timestamp: int = field(default=0)

    def signal_name(self) -> str:
        return ""

    def timestamp_isoformat(self) -> str:
        import datetime

        return datetime.datetime.fromtimestamp(self.timestamp).isoformat(sep="_")


class ChildFailedError(Exception):
    """Raised by a launcher when workers failed: ``failures`` maps rank to :class:`ProcessFailure`."""

    def __init__(self, name: str, failures: dict[int, ProcessFailure]) -> None:
        self.name = name
        self.failures = failures
        super().__init__(f"{name} FAILED ({len(failures)} failures)")

    def get_first_failure(self) -> tuple[int, ProcessFailure]:
        rank = min(self.failures, key=lambda r: self.failures[r].timestamp)
        return rank, self.failures[rank]


def record(fn: Callable[..., T] | None = None, error_handler: ErrorHandler | None = None) -> Any:
    """Decorates a worker's entry point: an exception escaping it is recorded (see the module)
    and raised again; its result is returned unchanged."""

    def wrap(f: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            handler = error_handler or get_error_handler()
            handler.initialize()
            try:
                return f(*args, **kwargs)
            except SystemExit as se:
                if se.code == 0 or se.code is None:
                    return None  # type: ignore[return-value]
                raise
            except Exception as e:
                handler.record_exception(e)
                raise

        return wrapper

    return wrap(fn) if fn is not None else wrap
