"""The host's cost of a GPU training step: main-thread CPU microseconds per dispatch of the
MLP, LeNet and conv-BN Adam steps (batch 64) on the GPU adapter, and again on wgpu's noop device
(``RUSTDL_GPU_BACKEND=noop``: every command recorded, validated and submitted, no kernel run).

Timed as ``gpu_check.host_us`` times them: thread CPU time around one step, less the time inside
the driver's submit and poll (``submit_cpu_ns``), the device idle before the step ("live": the
first step after a wait), the step following one recorded after the wait ("second"), that second
step after 64 MiB of host memory were overwritten on the CPU in between ("flushed": the caches
evicted with no device work), and one replay of the captured step. ``control_*``: a fixed GPU-free main-thread workload timed warm and
right after a step and a wait. On lavapipe the kernels run on the host's own cores, so a live
step finds the caches its kernels evicted, and the control workload shows how much of the live
time that accounts for, and "flushed" reproduces the live time without a device wait; the noop
device times the dispatch path alone. Slow adapters time fewer calls (about 20 s per column).

Usage: python benchmarks/host_path.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def measure() -> dict:
    import time

    import rustdl
    from gpu_check import TRAIN_STEPS, adam_step, host_inflation, host_us

    rs = rustdl.gpu.synchronize
    rng = np.random.default_rng(0)
    out: dict = {"adapter": rustdl.gpu.adapter_info()["name"]}
    for name, build, shape in TRAIN_STEPS:
        xb = rng.standard_normal(shape).astype(np.float32)
        yb = rng.integers(0, 10, shape[0])
        step = adam_step(build, xb, yb)
        for _ in range(3):
            step()
        rs()
        with rustdl.gpu.trace() as t:
            step()
        n = len(t)
        t0 = time.perf_counter()
        step()
        rs()
        # three rounds of `iters` timed calls (two calls each for "second"): ~20 s per column
        iters = max(3, min(30, int(20 / (6 * (time.perf_counter() - t0)))))
        row = {"dispatches": n, "iters": iters}
        row["live_us_per_dispatch"] = host_us(step, rs, iters) / n
        row["second_us_per_dispatch"] = host_us(step, rs, iters, second=True) / n
        row["flushed_us_per_dispatch"] = host_us(step, rs, iters, second=True, flush=True) / n
        replay = rustdl.gpu.capture(step)
        for _ in range(3):
            replay()
        row["replay_us_per_step"] = host_us(replay, rs, iters)
        row["live_us_per_step"] = row["live_us_per_dispatch"] * n
        warm, cold = host_inflation(step, rs, iters)
        row["control_us_warm"], row["control_us_after_step"] = warm, cold
        out[name] = row
        del replay
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", help="write both runs here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure()))
        return
    runs = {}
    for label, backend in (("adapter", os.environ.get("RUSTDL_GPU_BACKEND", "")), ("noop", "noop")):
        env = dict(os.environ, RUSTDL_GPU_BACKEND=backend)
        res = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--child"], env=env, capture_output=True, text=True
        )
        if res.returncode != 0:
            sys.exit(f"host_path ({label}) failed:\n{res.stderr}")
        runs[label] = json.loads(res.stdout.strip().splitlines()[-1])
    for label, r in runs.items():
        print(f"{label}: {r['adapter']}")
        for name in ("mlp", "lenet", "bn_cnn"):
            row = r[name]
            print(
                f"  {name:7s} {row['dispatches']:3d} dispatches  host us/dispatch live {row['live_us_per_dispatch']:5.1f}"
                f"  second {row['second_us_per_dispatch']:5.1f}  flushed {row['flushed_us_per_dispatch']:5.1f}  replay us/step {row['replay_us_per_step']:6.1f}"
                f" (live {row['live_us_per_step']:6.1f})  control us warm {row['control_us_warm']:5.1f}"
                f" after step {row['control_us_after_step']:5.1f}"
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)


if __name__ == "__main__":
    main()
