"""GPU check, run in one go on a machine with a GPU: adapter, sgemm GFLOP/s, a LeNet training
step, each next to PyTorch CUDA fp32 (TF32 off) when torch with CUDA is importable.

Usage: python benchmarks/gpu_check.py [--out DIR]   (see benchmarks/gpu_check.sh)
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import rustdl
import rustdl.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import lenet_pair, timed  # noqa: E402  (the CPU comparison's LeNet-5 and timer)


def warm_timed(fn, sync, iters):
    """Seconds per call of ``fn`` after one warm-up call, the device synchronised around the timing."""
    fn()
    return timed(fn, iters, sync)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="gpu_check_out")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    res: dict = {"adapter": rustdl.gpu.adapter_info(), "sgemm": {}, "lenet_step_ms": {}}
    torch = None
    try:
        import torch as _t

        if _t.cuda.is_available():
            torch = _t
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            res["torch"] = {"version": torch.__version__, "device": torch.cuda.get_device_name(0)}
    except ImportError:
        pass
    rs = rustdl.gpu.synchronize
    for n in (1024, 2048, 4096):
        a = rustdl.randn(n, n, device="gpu")
        b = rustdl.randn(n, n, device="gpu")
        iters = max(3, int(2e11 // n**3))
        t = warm_timed(lambda: a @ b, rs, iters)
        row = {"rustdl_gflops": 2 * n**3 / t / 1e9}
        if n == 1024:  # the product itself, against a float64 reference on the host
            ref = a.cpu().numpy().astype(np.float64) @ b.cpu().numpy().astype(np.float64)
            got = (a @ b).cpu().numpy().astype(np.float64)
            row["rel_err_vs_f64"] = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
        if torch is not None:
            ta, tb = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
            tt = warm_timed(lambda: ta @ tb, torch.cuda.synchronize, iters)
            row["torch_gflops"] = 2 * n**3 / tt / 1e9
        res["sgemm"][n] = row
        print("sgemm", n, row, flush=True)
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    yb = rng.integers(0, 10, 64)
    model = lenet_pair(rustdl, "gpu")
    opt = rustdl.optim.Adam(model.parameters(), lr=1e-3)
    x, y = rustdl.tensor(xb, device="gpu"), rustdl.tensor(yb, device="gpu")

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    res["lenet_step_ms"]["rustdl"] = warm_timed(step, rs, 50) * 1e3
    if torch is not None:
        tm = lenet_pair(torch, "cuda")
        to = torch.optim.Adam(tm.parameters(), lr=1e-3)
        tx, ty = torch.tensor(xb, device="cuda"), torch.tensor(yb, device="cuda")

        def tstep():
            to.zero_grad()
            torch.nn.functional.cross_entropy(tm(tx), ty).backward()
            to.step()

        res["lenet_step_ms"]["torch"] = warm_timed(tstep, torch.cuda.synchronize, 50) * 1e3
    res["gpu_stats"] = rustdl.gpu.stats()
    print("lenet step ms", res["lenet_step_ms"], flush=True)
    with open(os.path.join(args.out, "gpu_check.json"), "w") as f:
        json.dump(res, f, indent=2, default=str)


if __name__ == "__main__":
    main()
