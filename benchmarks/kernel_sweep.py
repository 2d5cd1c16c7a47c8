"""Matmul kernel and split-K sweep for a machine with a GPU, in one run: each configuration is
a shader variant (made here from the current `shaders/*.wgsl` by a named rewrite) and a split-K
policy, run in its own process. Each reports:

- parity: the largest error of products of odd shapes and layouts (and split-K shapes), each
  tile forced, against float64, relative to the product's largest entry;
- sgemm 2048/4096 in TFLOP/s with each tile forced (device timestamps);
- a VGG block's two 64->64 3x3 convolutions forward + backward (batch 32, 32x32), and its
  pieces: one forward, forward + weight gradient, forward + input gradient (device ms);
- MLP, LeNet-5 and conv-BN training steps (batch 64, Adam; device ms).

It needs a build with the kernel-tuning feature, which reads replacement shaders from
`RUSTDL_SHADER_DIR` and a split-K policy from `RUSTDL_SPLITK` (never in released builds)::

    maturin build --release -F python,shader-dev      # here, then carry the wheel
    python benchmarks/kernel_sweep.py --out DIR --config base:base:256,16,2048 \\
        --config remap:remap84:256,16,2048

A configuration is NAME:VARIANTS:SPLITK, VARIANTS joined by '+' from the rewrites below and
SPLITK as `min_workgroups,max_serial_slices,split_workgroups` ('-' for the adapter's own).
`SWEEP_SMALL=1` shrinks every case (a check on lavapipe that the variants compile and agree).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHADERS = os.path.join(HERE, "..", "shaders")

_THREADS = """    let tx = lid % 16u;
    let ty = lid / 16u;"""


def _remap(cols: int) -> str:
    """Invocations of one 32-wide warp laid out `cols` columns by 32 / cols rows."""
    rows = 32 // cols
    return f"""    let lane = lid % 32u;
    let wp = lid / 32u;
    let tx = (wp % {16 // cols}u) * {cols}u + lane % {cols}u;
    let ty = (wp / {16 // cols}u) * {rows}u + lane / {cols}u;"""


def _swizzle(src: str) -> str:
    src = src.replace(
        "fn matmul_wide(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {",
        "fn matmul_wide(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,\n"
        "               @builtin(num_workgroups) nwg: vec3<u32>) {",
    )
    return src.replace(
        "    let row0 = wid.y * WT;\n    let col0 = wid.x * WT;",
        """    let lin = wid.y * nwg.x + wid.x;
    let first = (lin / (8u * nwg.x)) * 8u;
    let gm = min(nwg.y - first, 8u);
    let within = lin % (8u * nwg.x);
    let row0 = (first + within % gm) * WT;
    let col0 = (within / gm) * WT;""",
    )


def _fma(src: str) -> str:
    src = re.sub(r"(\w+) \+= (a\d\.\w) \* (b\d);", r"\1 = fma(vec4<f32>(\2), \3, \1);", src)
    return re.sub(r"(acc\d) \+= (a\.\w) \* b;", r"\1 = fma(vec4<f32>(\2), b, \1);", src)


# rewrites by name: shader file -> function of its source
REWRITES = {
    "base": {},
    # workgroups of the wide kernel raster in groups of 8 tile rows (L2 reuse of B)
    "swz": {"matmul_wide": _swizzle},
    # a warp's invocations 8 columns x 4 rows (fewer shared-memory wavefronts per k step)
    "remap84": {
        "matmul_wide": lambda s: s.replace(_THREADS, _remap(8)),
        "matmul": lambda s: s.replace(_THREADS, _remap(8)),
    },
    "remap48": {
        "matmul_wide": lambda s: s.replace(_THREADS, _remap(4)),
        "matmul": lambda s: s.replace(_THREADS, _remap(4)),
    },
    "remap84wide": {"matmul_wide": lambda s: s.replace(_THREADS, _remap(8))},
    # explicit fused multiply-adds in both kernels' inner loops
    "fma": {"matmul_wide": _fma, "matmul": _fma},
}


def make_variant(names: list[str], folder: str) -> None:
    """Writes the rewritten shader files for `names` (applied in order) into `folder`."""
    files: dict[str, str] = {}
    for name in names:
        for shader, fn in REWRITES[name].items():
            src = files.get(shader) or open(os.path.join(SHADERS, shader + ".wgsl")).read()
            out = fn(src)
            if out == src:
                raise SystemExit(f"rewrite {name!r} changed nothing in {shader}.wgsl (the shader moved on)")
            files[shader] = out
    for shader, src in files.items():
        with open(os.path.join(folder, shader + ".wgsl"), "w") as f:
            f.write(src)


def one() -> dict:
    """The measurements of one configuration (this process's environment)."""
    import rustdl
    import rustdl.nn.functional as F

    sys.path.insert(0, HERE)
    from compare import bn_cnn_pair, lenet_pair, mlp_pair

    small = bool(os.environ.get("SWEEP_SMALL"))
    rs = rustdl.gpu.synchronize

    def dev_ms(fn, iters):
        fn()
        rs()
        start, end = rustdl.gpu.Event(), rustdl.gpu.Event()
        start.record()
        for _ in range(1 if small else iters):
            fn()
        end.record()
        rs()
        return start.elapsed_time(end) / (1 if small else iters)

    rng = np.random.default_rng(0)
    out: dict = {}
    err = 0.0
    shapes = [(67, 129, 33), (1024, 1024, 1024), (3, 1, 5), (129, 67, 257), (256, 200, 384)]
    shapes += [(6, 50176, 25), (16, 6400, 150), (64, 8192, 576), (130, 20000, 70)]
    for tile in (64, 128):
        old = rustdl.gpu.set_matmul_tile(tile)
        for m, k, n in shapes:
            a = rng.standard_normal((m, k)).astype(np.float32)
            b = rng.standard_normal((k, n)).astype(np.float32)
            ref = a.astype(np.float64) @ b.astype(np.float64)
            ga, gb = rustdl.tensor(a, device="gpu"), rustdl.tensor(b, device="gpu")
            gbt = rustdl.tensor(np.ascontiguousarray(b.T), device="gpu").t()
            gat = rustdl.tensor(np.ascontiguousarray(a.T), device="gpu").t()
            for got in (ga @ gb, ga @ gbt, gat @ gb):
                g = got.cpu().numpy().astype(np.float64)
                err = max(err, float(np.abs(g - ref).max() / np.abs(ref).max()))
        rustdl.gpu.set_matmul_tile(old)
    out["parity_max_rel"] = err
    for n in (256,) if small else (2048, 4096):
        a, b = rustdl.randn(n, n, device="gpu"), rustdl.randn(n, n, device="gpu")
        for tile in (64, 128):
            old = rustdl.gpu.set_matmul_tile(tile)
            out[f"sgemm{n}_t{tile}_tflops"] = 2 * n**3 / (dev_ms(lambda: a @ b, 20) * 1e-3) / 1e12
            rustdl.gpu.set_matmul_tile(old)
    xv = rng.standard_normal((2 if small else 32, 64, 32, 32)).astype(np.float32)
    wv = (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype(np.float32)
    x = rustdl.tensor(xv, device="gpu", requires_grad=True)
    w = rustdl.tensor(wv, device="gpu", requires_grad=True)
    xn, wn = rustdl.tensor(xv, device="gpu"), rustdl.tensor(wv, device="gpu")

    def block():
        F.conv2d(F.relu(F.conv2d(x, w, padding=1)), w, padding=1).sum().backward()

    def fwd():
        with rustdl.no_grad():
            F.conv2d(xn, wn, padding=1)

    def fwd_wgrad():
        F.conv2d(xn, w, padding=1).sum().backward()

    def fwd_igrad():
        F.conv2d(x, wn, padding=1).sum().backward()

    for name, fn in (("block", block), ("fwd", fwd), ("fwd_wgrad", fwd_wgrad), ("fwd_igrad", fwd_igrad)):
        out[f"vgg_{name}_ms"] = dev_ms(fn, 20)
    for name, build, shape in (
        ("mlp", mlp_pair, (64, 784)),
        ("lenet", lenet_pair, (64, 1, 28, 28)),
        ("bn_cnn", bn_cnn_pair, (64, 3, 32, 32)),
    ):
        rustdl.manual_seed(0)
        model = build(rustdl, "gpu")
        opt = rustdl.optim.Adam(model.parameters(), lr=1e-3)
        xs = rustdl.tensor(rng.standard_normal(shape).astype(np.float32), device="gpu")
        ys = rustdl.tensor(rng.integers(0, 10, shape[0]), device="gpu")

        def step(model=model, opt=opt, xs=xs, ys=ys):
            opt.zero_grad()
            F.cross_entropy(model(xs), ys).backward()
            opt.step()

        out[f"{name}_step_ms"] = dev_ms(step, 50)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.environ.get("OUT", "."))
    p.add_argument("--config", action="append", default=[], help="NAME:VARIANTS:SPLITK (repeatable)")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print("RESULT", json.dumps(one()), flush=True)
        return
    configs = args.config or ["base:base:-"]
    res = {}
    for cfg in configs:
        name, variants, splitk = cfg.split(":")
        folder = tempfile.mkdtemp()
        make_variant(variants.split("+"), folder)
        env = dict(os.environ, RUSTDL_SHADER_DIR=folder, RUSTDL_CACHE_DIR=tempfile.mkdtemp())
        env.pop("RUSTDL_SPLITK", None)
        if splitk != "-":
            env["RUSTDL_SPLITK"] = splitk
        proc = subprocess.run(
            [sys.executable, __file__, "--one"], env=env, capture_output=True, text=True, timeout=600
        )
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        res[name] = json.loads(line[0][7:]) if line else {"error": (proc.stdout + proc.stderr)[-2000:]}
        print(name, json.dumps(res[name]), flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "kernel_sweep.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
