"""Time of DistributedDataParallel's bucket pack + unpack per step, one process, no MPI.

Compares the numpy path DDP used before (a numpy copy of every gradient, ``np.concatenate``,
``flat /= n``, ``from_numpy`` per parameter) with the Rust path it uses now (``_pack_grads``
into a reused bucket array, ``_unpack_grads`` dividing in the same copy), on the gradients of
the Fashion-MNIST demo model (or a wider MLP with ``--model mlp``). Both give bit-identical
gradients (checked here). The all-reduce itself is not timed: it is the same MPI call.

Run: ``RUSTDL_NUM_THREADS=1 python benchmarks/ddp_bucket_copies.py [--model mlp] [--steps 200]``
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import rustdl
from rustdl import nn
from rustdl._rustdl import _pack_grads, _unpack_grads
from rustdl.examples.fashion_mnist import build_model


def _buckets(params: list, cap_bytes: float) -> list[list]:
    """DDP's bucketing: parameters in reverse order, at most ``cap_bytes`` each."""
    buckets: list[list] = [[]]
    size = 0.0
    for p in reversed(params):
        b = float(p.numel() * p.element_size())
        if buckets[-1] and size + b > cap_bytes:
            buckets.append([])
            size = 0.0
        buckets[-1].append(p)
        size += b
    return buckets


def _old_step(buckets: list[list], n: int) -> None:
    for bucket in buckets:
        flat = np.concatenate([np.ascontiguousarray(p.grad.detach().numpy()).reshape(-1) for p in bucket])
        flat /= n
        offset = 0
        for p in bucket:
            k = p.numel()
            p.grad = rustdl.from_numpy(flat[offset : offset + k].reshape(tuple(p.shape)))
            offset += k


def _new_step(buckets: list[list], arrays: list[np.ndarray], n: int) -> None:
    for bucket, flat in zip(buckets, arrays):
        _pack_grads(bucket, flat)
        _unpack_grads(bucket, flat, n, [True] * len(bucket))


def _time(fn, steps: int) -> float:
    fn()  # warm up
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--bucket-cap-mb", type=float, default=25.0)
    parser.add_argument("--world-size", type=int, default=2, help="the divisor of the average")
    args = parser.parse_args()

    rustdl.manual_seed(0)
    model = (
        build_model()
        if args.model == "cnn"
        else nn.Sequential(nn.Linear(1024, 2048), nn.ReLU(), nn.Linear(2048, 1024))
    )
    params = [p for p in model.parameters() if p.requires_grad]
    grads = [rustdl.randn(*p.shape) for p in params]
    buckets = _buckets(params, args.bucket_cap_mb * 1024 * 1024)
    arrays = [np.empty(sum(p.numel() for p in b), dtype=np.float32) for b in buckets]
    n = args.world_size

    def reset() -> None:
        for p, g in zip(params, grads):
            p.grad = g

    reset()
    _old_step(buckets, n)
    old = [p.grad.numpy() for p in params]
    reset()
    _new_step(buckets, arrays, n)
    new = [p.grad.numpy() for p in params]
    identical = all(np.array_equal(a, b) for a, b in zip(old, new))

    t_old = _time(lambda: (reset(), _old_step(buckets, n)), args.steps)
    t_new = _time(lambda: (reset(), _new_step(buckets, arrays, n)), args.steps)
    total = sum(p.numel() for p in params)
    print(f"machine: {platform.processor() or platform.machine()}, RUSTDL threads {rustdl.get_num_threads()}")
    print(
        f"model {args.model}: {len(params)} gradients, {total} float32 ({total * 4 / 1e6:.2f} MB), {len(buckets)} bucket(s)"
    )
    print(f"pack+unpack per step  before (numpy): {t_old * 1e6:9.1f} us")
    print(f"pack+unpack per step  after (Rust):   {t_new * 1e6:9.1f} us   ({t_old / t_new:.2f}x faster)")
    print(f"bit-identical gradients: {identical}")


if __name__ == "__main__":
    main()
