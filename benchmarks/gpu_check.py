"""GPU check, run in one go on a machine with a GPU: adapter, sgemm GFLOP/s (the automatic
kernel choice and each matmul tile forced), MLP, LeNet and
conv-BN training steps (live and captured, with dispatches per step and host time per dispatch), a VGG
block's convolutions forward + backward and cross-entropy 512x1000, each next to PyTorch CUDA
fp32 (TF32 off) when torch with CUDA is importable. Every case is timed twice after a warm-up:
on the host around a device synchronisation (``*_ms``, ``*_gflops``) and by the device's own
timestamps between two timing events (``*_device_ms``, ``*_gflops_device``).

Usage: python benchmarks/gpu_check.py [--out DIR]   (see benchmarks/gpu_check.sh)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import rustdl
import rustdl.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import bn_cnn_pair, event_timed, lenet_pair, mlp_pair, timed  # noqa: E402  (the CPU comparison's models and timer)

# the training steps timed (batch 64, Adam): name, model builder, input shape
TRAIN_STEPS = (
    ("mlp", mlp_pair, (64, 784)),
    ("lenet", lenet_pair, (64, 1, 28, 28)),
    ("bn_cnn", bn_cnn_pair, (64, 3, 32, 32)),
)


def adam_step(build, xb, yb):
    """A fresh GPU model of ``build`` (seed 0), Adam, and its training step on batch (xb, yb)
    (returns the loss)."""
    rustdl.manual_seed(0)
    model = build(rustdl, "gpu")
    opt = rustdl.optim.Adam(model.parameters(), lr=1e-3)
    x, y = rustdl.tensor(xb, device="gpu"), rustdl.tensor(yb, device="gpu")

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def warm_timed(fn, sync, iters):
    """Seconds per call of ``fn`` after one warm-up call, the device synchronised around the timing."""
    fn()
    return timed(fn, iters, sync)


def device_ms(fn, iters, event, sync):
    """Milliseconds of device time per call of ``fn`` after one warm-up call, from two timing
    events around ``iters`` calls (see ``compare.event_timed``); None where the adapter writes
    no timestamps."""
    fn()
    t = event_timed(fn, iters, event, sync)
    return None if t is None else t * 1e3


def host_us(fn, sync, iters=30, second=False, flush=False):
    """Main-thread CPU microseconds per call of ``fn``, without the time spent inside the
    driver's submit and poll (``submit_cpu_ns``); the device is synchronised between calls.
    ``second``: time the second of two calls after each synchronisation instead. The first call
    after a device wait runs with cold caches (on lavapipe the shaders ran on the same cores);
    the second shows the dispatch path's own cost. ``flush`` (with ``second``): overwrite
    64 MiB of host memory on the CPU between the two calls, which evicts the caches as a
    device wait on lavapipe does, with no device work involved."""
    best = float("inf")
    for _ in range(3):
        total = 0.0
        for _ in range(iters):
            sync()
            if second:
                fn()
                if flush:
                    flush_caches()
            d0 = rustdl.gpu.stats()["submit_cpu_ns"]
            t0 = time.thread_time()
            fn()
            total += time.thread_time() - t0 - (rustdl.gpu.stats()["submit_cpu_ns"] - d0) * 1e-9
        best = min(best, total / iters)
    return best * 1e6


_FLUSH = None


def flush_caches():
    """Writes 64 MiB of host memory (larger than the last-level cache), so what the main thread
    runs next finds its code and data out of the caches."""
    global _FLUSH
    if _FLUSH is None:
        _FLUSH = np.empty(16 << 20, dtype=np.float32)
    _FLUSH.fill(1.0)


_CONTROL_X = None


def control_work():
    """A fixed main-thread workload that touches no GPU (Python bytecode, dict and string work,
    small CPU tensor ops): ~100 us when the caches are warm."""
    global _CONTROL_X
    if _CONTROL_X is None:
        _CONTROL_X = rustdl.randn(64, 128)
    s = 0
    for i in range(300):
        s += len(str(i)) + hash((i, "a"))
    for _ in range(20):
        _CONTROL_X.relu()
    return s


def host_inflation(step, sync, iters=30):
    """How much slower the same GPU-free main-thread work runs right after ``step(); sync()``
    than back to back: the cost of the device's work to the host's caches (on lavapipe the
    shaders run on the host's own cores), which ``host_us`` counts but the dispatch path does
    not cause. Returns (warm us, after-step us)."""
    warm = host_us(control_work, lambda: None)

    def after():
        step()
        sync()

    return warm, host_us(control_work, after, iters)


def phases(lib, build, dev, xb, yb, sync, event, tag):
    """Device milliseconds of a training step's parts (batch ``xb``, Adam): the forward with its
    loss (no graph kept), forward + backward, and the whole step with the optimizer."""
    lib.manual_seed(0)
    model = build(lib, dev)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    x, y = lib.tensor(xb, device=dev), lib.tensor(yb, device=dev)
    ce = lib.nn.functional.cross_entropy

    def fwd():
        with lib.no_grad():
            ce(model(x), y)

    def fwd_bwd():
        opt.zero_grad()
        ce(model(x), y).backward()

    def step():
        fwd_bwd()
        opt.step()

    out = {}
    for part, fn in (("forward", fwd), ("fwd_bwd", fwd_bwd), ("step", step)):
        out[f"{tag}_{part}_device_ms"] = device_ms(fn, 50, event, sync)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="gpu_check_out")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    res: dict = {"adapter": rustdl.gpu.adapter_info(), "sgemm": {}}
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
    # clocks up and pipelines compiled before the first timed case
    w = rustdl.randn(2048, 2048, device="gpu")
    for _ in range(20):
        w = (w @ w) * 1e-3
    rs()
    for n in (1024, 2048, 4096):
        a = rustdl.randn(n, n, device="gpu")
        b = rustdl.randn(n, n, device="gpu")
        iters = max(3, int(2e11 // n**3))
        t = warm_timed(lambda: a @ b, rs, iters)
        row = {"rustdl_gflops": 2 * n**3 / t / 1e9}
        dm = device_ms(lambda: a @ b, iters, rustdl.gpu.Event, rs)
        if dm is not None:  # the same product timed by GPU timestamps
            row["rustdl_gflops_device"] = 2 * n**3 / (dm * 1e-3) / 1e9
        if n == 1024:  # the product itself, against a float64 reference on the host
            ref = a.cpu().numpy().astype(np.float64) @ b.cpu().numpy().astype(np.float64)
            got = (a @ b).cpu().numpy().astype(np.float64)
            row["rel_err_vs_f64"] = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
        if torch is not None:
            ta, tb = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
            tt = warm_timed(lambda: ta @ tb, torch.cuda.synchronize, iters)
            row["torch_gflops"] = 2 * n**3 / tt / 1e9
            tevent = lambda: torch.cuda.Event(enable_timing=True)  # noqa: E731
            tdm = device_ms(lambda: ta @ tb, iters, tevent, torch.cuda.synchronize)
            row["torch_gflops_device"] = 2 * n**3 / (tdm * 1e-3) / 1e9
        # each matmul kernel forced (64x64 and 128x128 output tiles); the rows above are the
        # automatic choice, measured on the first product of this shape class
        for tile in (64, 128):
            old = rustdl.gpu.set_matmul_tile(tile)
            dm = device_ms(lambda: a @ b, iters, rustdl.gpu.Event, rs)
            if dm is None:
                dm = warm_timed(lambda: a @ b, rs, iters) * 1e3
            row[f"tile{tile}_gflops"] = 2 * n**3 / (dm * 1e-3) / 1e9
            rustdl.gpu.set_matmul_tile(old)
        res["sgemm"][n] = row
        print("sgemm", n, row, flush=True)
    rng = np.random.default_rng(0)
    # training steps (batch 64, Adam), live and captured (rustdl.gpu.capture: one replay per
    # step), with the dispatches of one step and the host CPU time per dispatch
    for name, build, shape in TRAIN_STEPS:
        xb = rng.standard_normal(shape).astype(np.float32)
        yb = rng.integers(0, 10, shape[0])
        row: dict = {}
        for mode in ("live", "captured"):
            step = adam_step(build, xb, yb)
            fn = step if mode == "live" else rustdl.gpu.capture(step)
            for _ in range(3):
                fn()
            rs()
            with rustdl.gpu.trace() as t:
                fn()
            row[f"{mode}_dispatches"] = len(t)
            row[f"{mode}_ms"] = warm_timed(fn, rs, 50) * 1e3
            row[f"{mode}_device_ms"] = device_ms(fn, 50, rustdl.gpu.Event, rs)
            row[f"{mode}_host_us"] = host_us(fn, rs)
        row["host_us_per_dispatch"] = row["live_host_us"] / row["live_dispatches"]
        warm, cold = host_inflation(step, rs)
        row["control_host_us_warm"], row["control_host_us_after_step"] = warm, cold
        step2 = adam_step(build, xb, yb)
        step2()
        row["host_us_per_dispatch_second_step"] = host_us(step2, rs, second=True) / row["live_dispatches"]
        if torch is not None:
            tm = build(torch, "cuda")
            to = torch.optim.Adam(tm.parameters(), lr=1e-3)
            tx, ty = torch.tensor(xb, device="cuda"), torch.tensor(yb, device="cuda")

            def tstep(tm=tm, to=to, tx=tx, ty=ty):
                to.zero_grad()
                torch.nn.functional.cross_entropy(tm(tx), ty).backward()
                to.step()

            row["torch_ms"] = warm_timed(tstep, torch.cuda.synchronize, 50) * 1e3
            tevent = lambda: torch.cuda.Event(enable_timing=True)  # noqa: E731
            row["torch_device_ms"] = device_ms(tstep, 50, tevent, torch.cuda.synchronize)
        # where the step's device time goes: the forward alone, forward + backward, the whole step
        row.update(phases(rustdl, build, "gpu", xb, yb, rs, rustdl.gpu.Event, "rustdl"))
        if torch is not None:
            tevent = lambda: torch.cuda.Event(enable_timing=True)  # noqa: E731
            row.update(phases(torch, build, "cuda", xb, yb, torch.cuda.synchronize, tevent, "torch"))
        res[f"{name}_step"] = row
        print(name, "step", row, flush=True)

    # a VGG block's convolution forward + backward, and cross-entropy forward + backward
    xv = rng.standard_normal((32, 64, 32, 32)).astype(np.float32)
    wv = (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype(np.float32)
    logits = rng.standard_normal((512, 1000)).astype(np.float32)
    labels = rng.integers(0, 1000, 512)

    def cases(lib, dev):
        xg = lib.tensor(xv, device=dev, requires_grad=True)
        wg = lib.tensor(wv, device=dev, requires_grad=True)
        lg = lib.tensor(logits, device=dev, requires_grad=True)
        tg = lib.tensor(labels, device=dev)
        fn = lib.nn.functional

        def conv():
            fn.conv2d(fn.relu(fn.conv2d(xg, wg, padding=1)), wg, padding=1).sum().backward()

        def ce():
            fn.cross_entropy(lg, tg).backward()

        return {"vgg_block_conv_fwd_bwd": conv, "cross_entropy_512x1000": ce}

    for name, fn in cases(rustdl, "gpu").items():
        row = {
            "rustdl_ms": warm_timed(fn, rs, 20) * 1e3,
            "rustdl_device_ms": device_ms(fn, 20, rustdl.gpu.Event, rs),
        }
        with rustdl.gpu.trace() as tr:  # the dispatches of one call, by kernel
            fn()
            rs()
        row["rustdl_dispatches"] = len(tr)
        row["rustdl_kernels"] = sorted({k for k, _ in tr})
        if torch is not None:
            tfn = cases(torch, "cuda")[name]
            row["torch_ms"] = warm_timed(tfn, torch.cuda.synchronize, 20) * 1e3
            tevent = lambda: torch.cuda.Event(enable_timing=True)  # noqa: E731
            row["torch_device_ms"] = device_ms(tfn, 20, tevent, torch.cuda.synchronize)
        res[name] = row
        print(name, row, flush=True)
    res["gpu_stats"] = rustdl.gpu.stats()
    # the matmul tiles measured on this adapter (see rustdl.gpu.set_matmul_tile)
    cache = os.environ.get("RUSTDL_CACHE_DIR")
    tiles = os.path.join(cache, "gpu_matmul_tiles.tsv") if cache else None
    if tiles and os.path.exists(tiles):
        with open(tiles) as f:
            res["matmul_tiles"] = [ln.rstrip("\n").split("\t") for ln in f if not ln.startswith("#")]
    with open(os.path.join(args.out, "gpu_check.json"), "w") as f:
        json.dump(res, f, indent=2, default=str)


if __name__ == "__main__":
    main()
