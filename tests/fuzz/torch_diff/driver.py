import importlib
import os
import pickle
import select
import struct
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PY = {"torch": os.environ.get("RUSTDL_TORCH_PYTHON", "/tmp/torchcheck/bin/python")}
RD_PY = sys.executable
TIMEOUT = float(os.environ.get("CASE_TIMEOUT", "60"))


class W:
    def __init__(self, backend):
        self.backend = backend
        self.p = None

    def start(self):
        py = PY.get(self.backend, RD_PY)
        self.err = open(
            os.path.join(os.environ.get("TMPDIR", "/tmp"), f"torch_diff_err_{self.backend}.log"), "ab"
        )
        env = dict(os.environ, PYTHONFAULTHANDLER="1", RUSTDL_NUM_THREADS="1", OMP_NUM_THREADS="1")
        self.p = subprocess.Popen(
            [py, os.path.join(HERE, "child.py"), self.backend],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.err,
            env=env,
        )

    def kill(self):
        if self.p:
            try:
                self.p.kill()
                self.p.wait(5)
            except Exception:
                pass
        self.p = None

    def rx(self, n, deadline):
        b = b""
        fd = self.p.stdout.fileno()
        while len(b) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            r, _, _ = select.select([fd], [], [], min(left, 1))
            if not r:
                if self.p.poll() is not None:
                    raise EOFError
                continue
            c = os.read(fd, n - len(b))
            if not c:
                raise EOFError
            b += c
        return b

    def run(self, code):
        if self.p is None or self.p.poll() is not None:
            self.kill()
            self.start()
        d = pickle.dumps(code)
        try:
            self.p.stdin.write(struct.pack("<Q", len(d)) + d)
            self.p.stdin.flush()
            dl = time.monotonic() + TIMEOUT
            (n,) = struct.unpack("<Q", self.rx(8, dl))
            return pickle.loads(self.rx(n, dl))
        except (EOFError, BrokenPipeError):
            try:
                self.p.wait(5)
            except Exception:
                pass
            rc = self.p.returncode
            self.kill()
            return ("died", rc)
        except TimeoutError:
            self.kill()
            return ("hang",)


def norm_vals(e):
    return e


def cmp_enc(a, b, path=""):
    """a: rustdl enc, b: torch enc. returns None or a difference string"""
    if a[0] != b[0]:
        if a[0] == "seq" and b[0] == "seq":
            pass
        return f"{path}: kind {a[0]} vs torch {b[0]}"
    k = a[0]
    if k == "tensor":
        _, x, dx, sx = a
        _, y, dy, sy = b
        if tuple(sx) != tuple(sy):
            return f"{path}: shape {sx} vs torch {sy}"
        if dx != dy:
            return f"{path}: dtype {dx} vs torch {dy}"
        if x is None or y is None:
            return None
        x = np.asarray(x)
        y = np.asarray(y)
        if x.dtype == bool or y.dtype == bool:
            ok = np.array_equal(x.astype(bool), y.astype(bool))
        else:
            ok = np.allclose(x.astype(np.float64), y.astype(np.float64), rtol=2e-4, atol=2e-5, equal_nan=True)
        if not ok:
            return f"{path}: values differ\n   rd={np.array2string(x.ravel()[:12], precision=5)}\n   th={np.array2string(y.ravel()[:12], precision=5)}"
        return None
    if k == "seq":
        if len(a[1]) != len(b[1]):
            return f"{path}: len {len(a[1])} vs {len(b[1])}"
        for i, (p, q) in enumerate(zip(a[1], b[1])):
            r = cmp_enc(p, q, f"{path}[{i}]")
            if r:
                return r
        return None
    if k == "py":
        x, y = a[1], b[1]
        if isinstance(x, float) and isinstance(y, (float, int)):
            if (x != x and y != y) or abs(x - y) <= 1e-4 * max(1, abs(y)):
                return None
        if x != y:
            return f"{path}: {x!r} vs torch {y!r}"
        return None
    if k == "dict":
        if set(a[1]) != set(b[1]):
            return f"{path}: keys differ"
        for kk in a[1]:
            r = cmp_enc(a[1][kk], b[1][kk], f"{path}.{kk}")
            if r:
                return r
    return None


SOFT = {frozenset({"ValueError", "RuntimeError"})}


def classify(rd, th):
    if rd[0] in ("died", "hang"):
        return "CRASH", str(rd)
    if rd[0] == "exc" and "PanicException" in rd[2]:
        return "PANIC", rd[3]
    if rd[0] == "exc" and not any(
        c
        in (
            "ValueError",
            "TypeError",
            "IndexError",
            "RuntimeError",
            "MemoryError",
            "NotImplementedError",
            "OverflowError",
            "ZeroDivisionError",
            "OSError",
        )
        for c in rd[2]
    ):
        return "UNTYPED", f"{rd[1]}: {rd[3]}"
    if th[0] in ("died", "hang"):
        return "torchdied", ""
    if rd[0] == "ok" and th[0] == "ok":
        d = cmp_enc(rd[1], th[1])
        return ("WRONG", d) if d else ("ok", "")
    if rd[0] == "exc" and th[0] == "exc":
        if rd[1] == th[1] or th[1] in rd[2]:
            return "ok", ""
        if {rd[1], th[1]} <= {"ValueError", "RuntimeError"}:
            return "soft", f"{rd[1]} vs torch {th[1]}: {rd[3][:150]}"
        return "EXCTYPE", f"{rd[1]} vs torch {th[1]}: rd:{rd[3][:200]} | th:{th[3][:200]}"
    if rd[0] == "exc":
        return "REFUSES", f"{rd[1]}: {rd[3][:300]}"
    return "ACCEPTS", f"torch {th[1]}: {th[3][:200]} | rd out={str(rd[1])[:200]}"


def main():
    modname = sys.argv[1]
    backends = sys.argv[2].split(",") if len(sys.argv) > 2 else ["cpu"]
    sys.path.insert(0, HERE)
    mod = importlib.import_module(modname)
    cases = mod.CASES
    only = os.environ.get("ONLY")
    ws = {b: W(b) for b in backends + ["torch"]}
    counts = {}
    lines = []
    n = 0
    for name, code in cases:
        if only and only not in name:
            continue
        th = ws["torch"].run(code)
        for b in backends:
            rd = ws[b].run(code)
            n += 1
            cls, info = classify(rd, th)
            counts[cls] = counts.get(cls, 0) + 1
            if cls != "ok":
                line = f"[{cls}] {b} {name}: {info}"
                lines.append(line)
                print(line, flush=True)
    for w in ws.values():
        w.kill()
    print("COUNTS", n, counts)


if __name__ == "__main__":
    main()
