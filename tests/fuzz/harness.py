"""Crash isolation for the fuzz suite: every probe runs in a long-lived child process.

The parent (pytest + hypothesis) never touches rustdl. It draws a case — a snippet of Python
source plus named numpy inputs — and sends it to a worker process that imports rustdl, runs the
snippet and sends back what came out (tensors as numpy arrays with their dtype, shape and
device, or the exception's type and message). References are computed in the parent with numpy.

If the worker dies (SIGSEGV, SIGABRT, a Rust abort) or hangs, the case in flight is the culprit:
the worker is restarted, the case is re-run alone in a fresh worker to tell "crashes by itself"
from "crashes after earlier cases", and the test fails with a self-contained reproducer. A Rust
panic that reaches Python as ``pyo3_runtime.PanicException`` (a BaseException) is a failure too.

Protocol: length-prefixed pickles over the child's stdin / a dedicated pipe fd (the child's
stdout is left to the child, so stray prints never corrupt the stream).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CASE_TIMEOUT_S = float(os.environ.get("RUSTDL_FUZZ_CASE_TIMEOUT", "120"))

# Helpers every case may use; also pasted at the top of each reproducer.
PRELUDE = '''
import numpy as np
import rustdl as rd
import rustdl.nn.functional as F


def T(a, view="c", rg=False):
    """numpy array -> rustdl tensor on `dev`, as a plain ("c"), transposed ("t") or stepped ("s") view."""
    a = np.asarray(a)
    if view == "t" and a.ndim >= 2:
        t = rd.from_numpy(np.array(np.swapaxes(a, -1, -2), order="C")).to(dev).transpose(-1, -2)
    elif view == "s" and a.ndim >= 1:
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1] + 1,), a.dtype)
        big[..., 1::2] = a
        t = rd.from_numpy(big).to(dev)[..., 1::2]
    else:
        t = rd.from_numpy(np.array(a, order="C")).to(dev)
    if rg:
        t.requires_grad_(True)
    return t


def E(a, shape):
    """numpy array broadcastable to `shape` -> an expanded (stride-0) rustdl view of that shape."""
    a = np.asarray(a)
    a = a.reshape((1,) * (len(shape) - a.ndim) + a.shape)
    return rd.from_numpy(np.array(a, order="C")).to(dev).expand(*shape)
'''


# ----------------------------------------------------------------------------------- the child
def _encode(obj, depth=0):
    import rustdl

    if depth > 4:
        return ("repr", repr(obj)[:200])
    if isinstance(obj, rustdl.Tensor):
        t = obj.detach().cpu()
        return ("tensor", np.array(t.numpy(), copy=True), str(obj.dtype), tuple(obj.shape), str(obj.device))
    if hasattr(obj, "values") and hasattr(obj, "indices") and not isinstance(obj, dict):  # (values, indices)
        return ("seq", [_encode(obj.values, depth + 1), _encode(obj.indices, depth + 1)])
    if isinstance(obj, (tuple, list)):
        return ("seq", [_encode(o, depth + 1) for o in obj])
    if isinstance(obj, dict):
        return ("dict", {k: _encode(v, depth + 1) for k, v in obj.items()})
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return ("py", obj)
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj)
    return ("repr", repr(obj)[:200])


def _child_main(fd_in: int, fd_out: int) -> None:
    rin = os.fdopen(fd_in, "rb", buffering=0)
    wout = os.fdopen(fd_out, "wb", buffering=0)

    def read_exact(n):
        buf = b""
        while len(buf) < n:
            chunk = rin.read(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    while True:
        try:
            (n,) = struct.unpack("<Q", read_exact(8))
        except EOFError:
            return
        case = pickle.loads(read_exact(n))
        ns = {"dev": case.get("dev", "cpu")}
        try:
            exec(PRELUDE, ns)
            ns.update(case.get("inputs", {}))
            exec(case["code"], ns)
            reply = ("ok", _encode(ns.get("out")))
        except BaseException as e:  # noqa: BLE001 - PanicException is a BaseException, we want it reported
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            mro = [f"{c.__module__}.{c.__qualname__}" for c in type(e).__mro__]
            reply = ("exc", type(e).__name__, mro, str(e)[:2000])
        data = pickle.dumps(reply, protocol=4)
        wout.write(struct.pack("<Q", len(data)) + data)


# ---------------------------------------------------------------------------------- the parent
class WorkerDied(Exception):
    pass


class Worker:
    """A child process that runs cases one at a time."""

    def __init__(self):
        self.proc = None
        self.cases_run = 0

    def _start(self):
        import tempfile

        self._errfile = tempfile.TemporaryFile()
        r_cmd, w_cmd = os.pipe()
        r_res, w_res = os.pipe()
        env = dict(os.environ)
        env.setdefault("PYTHONFAULTHANDLER", "1")
        code = (
            f"import sys; sys.path.insert(0, {HERE!r}); import harness; harness._child_main({r_cmd}, {w_res})"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            pass_fds=(r_cmd, w_res),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._errfile,
            env=env,
        )
        os.close(r_cmd)
        os.close(w_res)
        self.w = w_cmd
        self.r = r_res

    def close(self):
        if self.proc is not None:
            try:
                os.close(self.w)
                os.close(self.r)
            except OSError:
                pass
            try:
                self.proc.kill()
                self.proc.wait(5)
            except Exception:  # noqa: BLE001
                pass
            self.proc = None
            try:
                self._errfile.close()
            except Exception:  # noqa: BLE001
                pass

    def _stderr_tail(self):
        try:
            size = self._errfile.seek(0, 2)
            self._errfile.seek(max(0, size - 3000))
            data = self._errfile.read()
        except Exception:  # noqa: BLE001
            data = b""
        return data.decode("utf-8", "replace")[-3000:]

    def _read_exact(self, n, deadline):
        buf = b""
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.r], [], [], min(left, 1.0))
            if not ready:
                if self.proc.poll() is not None:
                    raise WorkerDied
                continue
            chunk = os.read(self.r, n - len(buf))
            if not chunk:
                raise WorkerDied
            buf += chunk
        return buf

    def run(self, case, timeout=CASE_TIMEOUT_S):
        """Returns the child's reply, or ("died", how, stderr) / ("hang", ...)."""
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self._start()
        self.cases_run += 1
        data = pickle.dumps(case, protocol=4)
        try:
            os.write(self.w, struct.pack("<Q", len(data)))
            view = memoryview(data)
            while view:
                n = os.write(self.w, view)
                view = view[n:]
            deadline = time.monotonic() + timeout
            (n,) = struct.unpack("<Q", self._read_exact(8, deadline))
            return pickle.loads(self._read_exact(n, deadline))
        except (WorkerDied, BrokenPipeError):
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            rc = self.proc.returncode
            how = f"killed by signal {signal.Signals(-rc).name}" if rc < 0 else f"exited with status {rc}"
            tail = self._stderr_tail()
            self.close()
            return ("died", how, tail)
        except TimeoutError:
            tail = self._stderr_tail()
            self.close()
            return ("hang", f"no answer within {timeout:.0f}s", tail)


_WORKER = None
CASES = {"run": 0, "crashes": 0}


def worker() -> Worker:
    global _WORKER
    if _WORKER is None:
        _WORKER = Worker()
    return _WORKER


def shutdown():
    if _WORKER is not None:
        _WORKER.close()


def _fmt_array(name, a):
    a = np.asarray(a)
    vals = ", ".join(repr(v) for v in a.ravel().tolist())
    vals = vals.replace("nan", "float('nan')").replace("inf", "float('inf')")
    return f"{name} = np.array([{vals}], dtype=np.{a.dtype}).reshape({tuple(a.shape)})"


def reproducer(case) -> str:
    lines = ["import numpy as np", f"dev = {case.get('dev', 'cpu')!r}", PRELUDE.strip(), ""]
    for k, v in case.get("inputs", {}).items():
        if isinstance(v, np.ndarray):
            lines.append(_fmt_array(k, v))
        else:
            lines.append(f"{k} = {v!r}")
    lines.append(case["code"].strip())
    lines.append("print(out)")
    return "\n".join(lines)


class ProbeFailure(AssertionError):
    pass


def probe(case):
    """Runs one case in the worker. A crash, hang or PanicException raises ProbeFailure with a reproducer.

    Returns ("ok", encoded) or ("exc", name, mro, message).
    """
    CASES["run"] += 1
    res = worker().run(case)
    if res[0] in ("died", "hang"):
        CASES["crashes"] += 1
        alone = Worker()
        try:
            again = alone.run(case)
        finally:
            alone.close()
        alone_note = (
            "it crashes again when run alone in a fresh process"
            if again[0] in ("died", "hang")
            else f"run alone in a fresh process it does not crash (got {again[0]}): an earlier case broke state"
        )
        raise ProbeFailure(
            f"rustdl {res[0]}: {res[1]}; {alone_note}\n--- reproducer ---\n{reproducer(case)}\n"
            f"--- child stderr (tail) ---\n{textwrap.indent(res[2], '  ')}"
        )
    if res[0] == "exc" and any("PanicException" in c for c in res[2]):
        raise ProbeFailure(
            f"a Rust panic reached Python as PanicException: {res[3]}\n--- reproducer ---\n{reproducer(case)}"
        )
    return res


TYPED = ("ValueError", "TypeError", "IndexError", "RuntimeError", "MemoryError", "NotImplementedError")


def is_typed_error(res) -> bool:
    return (
        res[0] == "exc"
        and any(c.split(".")[-1] in TYPED for c in res[2])
        and not any("PanicException" in c for c in res[2])
    )
