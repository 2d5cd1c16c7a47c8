"""Side-by-side timing of rustdl and PyTorch in ONE process, alternating the two.

Each case runs a few warm-up iterations, then alternating rounds of rustdl and torch; the
median time per iteration of each library is reported with the ratio rustdl / torch (below 1
means rustdl is faster). Import time and peak memory are measured in fresh subprocesses.

Usage:
    python benchmarks/compare.py [--device cpu|gpu] [--threads 2] [--rounds 7] [--json out.json]

PyTorch is an optional dependency (``pip install torch``); the CPU build is what the CPU goals
compare against. ``--device gpu`` compares rustdl on its wgpu adapter with torch on CUDA, each
case also timed by the devices' own timestamps (``*_device_s``, ``device_ratio``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

import numpy as np

CPU_GOALS = {
    "mlp_train_step": 0.8,
    "lenet_train_step": 1.0,
    "add_1elem": 0.6,
    "matmul_1024": 1.1,
    "lstm_train_step": 1.0,
    "gru_train_step": 1.0,
    "skipgram_step": 1.0,
    "vgg_block_step": 1.0,
    "resnet_basicblock_step": 1.0,
    "sdpa_b8h8_l256_fwd_bwd": 1.0,
    "sdpa_b1h8_l2048_fwd_bwd": 1.0,
    "transformer_encoder_step": 1.0,
    "import": 0.3,
    "peak_rss_mlp": 0.4,
}


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def timed(fn, iters: int, sync=None) -> float:
    """Seconds per call of ``fn`` over ``iters`` calls; ``sync`` (a device wait) runs before and after."""
    if sync is not None:
        sync()
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    if sync is not None:
        sync()
    return (time.perf_counter() - t) / iters


# Idle gap before each timed round. Both libraries keep their worker threads spinning for a
# while after a parallel op (PyTorch's OpenMP threads for milliseconds, rustdl's helpers for
# 0.2 ms), so a round that starts right after the other library's round shares the cores with
# those spinning threads. The gap lets them go to sleep: each round starts on a quiet machine,
# as it would in a process that uses one library.
QUIET_S = 0.02


def alternate(fr, ft, iters: int, rounds: int, sync_r=None, sync_t=None) -> tuple[float, float]:
    """Median seconds per call of fr and ft, measured in alternating rounds."""
    for _ in range(max(2, iters // 5)):
        fr()
        ft()
    rs, ts = [], []
    for _ in range(rounds):
        time.sleep(QUIET_S)
        rs.append(timed(fr, iters, sync_r))
        time.sleep(QUIET_S)
        ts.append(timed(ft, iters, sync_t))
    return statistics.median(rs), statistics.median(ts)


def event_timed(fn, iters: int, event, sync) -> float | None:
    """Seconds of device time per call of ``fn`` over ``iters`` calls, between two timing
    events (``rustdl.gpu.Event`` / ``torch.cuda.Event``); None without device timestamps."""
    sync()
    try:
        start, end = event(), event()
    except RuntimeError:
        return None
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    sync()
    return start.elapsed_time(end) / iters / 1e3


# ---------------------------------------------------------------- models, built the same way


def mlp_pair(lib, dev):
    nn = lib.nn
    return nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    ).to(dev)


def lenet_pair(lib, dev):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    ).to(dev)


def bn_cnn_pair(lib, dev):
    """A small CIFAR-shaped convolutional net with batch normalisation after every convolution
    (conv-BN-ReLU blocks, as VGG and ResNet stack them)."""
    nn = lib.nn

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(3, 16),
        *block(16, 16),
        nn.MaxPool2d(2),
        *block(16, 32),
        *block(32, 32),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 8 * 8, 10),
    ).to(dev)


def train_step_fn(lib, model, opt, x, y):
    F = lib.nn.functional

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def cases(args, torch, rustdl):
    rd = "gpu" if args.device == "gpu" else "cpu"
    td = "cuda" if args.device == "gpu" else "cpu"
    rng = np.random.default_rng(0)
    out = {}
    sync_r = rustdl.gpu.synchronize if rd == "gpu" else None
    sync_t = torch.cuda.synchronize if td == "cuda" else None

    def pair(name, fr, ft, iters):
        if args.only and not re.search(args.only, name):
            return
        r, t = alternate(fr, ft, iters, args.rounds, sync_r, sync_t)
        out[name] = {"rustdl_s": r, "torch_s": t, "ratio": r / t}
        if rd == "gpu":  # the same calls timed by the devices' own timestamps
            tevent = lambda: torch.cuda.Event(enable_timing=True)  # noqa: E731
            rdev = [event_timed(fr, iters, rustdl.gpu.Event, sync_r) for _ in range(3)]
            tdev = [event_timed(ft, iters, tevent, sync_t) for _ in range(3)]
            if None not in rdev and None not in tdev:
                rd_s, td_s = statistics.median(rdev), statistics.median(tdev)
                out[name].update(rustdl_device_s=rd_s, torch_device_s=td_s, device_ratio=rd_s / td_s)

    # per-op overhead
    a, b = rustdl.ones(1, device=rd), rustdl.ones(1, device=rd)
    ta, tb = torch.ones(1, device=td), torch.ones(1, device=td)
    pair("add_1elem", lambda: a + b, lambda: ta + tb, 20000)

    # matmul
    for n in (256, 1024):
        m = rng.standard_normal((n, n)).astype(np.float32)
        ra, rb = rustdl.tensor(m, device=rd), rustdl.tensor(m.T.copy(), device=rd)
        ta2, tb2 = torch.tensor(m, device=td), torch.tensor(m.T.copy(), device=td)
        if rd == "gpu":
            pair(f"matmul_{n}", lambda: ra @ rb, lambda: ta2 @ tb2, max(3, 2_000_000_000 // n**3 // 4))
        else:
            pair(f"matmul_{n}", lambda: ra @ rb, lambda: ta2 @ tb2, max(3, 2_000_000_000 // n**3 // 4))
        if f"matmul_{n}" in out:
            out[f"matmul_{n}"]["rustdl_gflops"] = 2 * n**3 / out[f"matmul_{n}"]["rustdl_s"] / 1e9
            out[f"matmul_{n}"]["torch_gflops"] = 2 * n**3 / out[f"matmul_{n}"]["torch_s"] / 1e9

    # elementwise and reductions on a mid-size tensor
    e = rng.standard_normal((256, 1024)).astype(np.float32)
    re_, te = rustdl.tensor(e, device=rd), torch.tensor(e, device=td)
    pair("elementwise_256k", lambda: (re_ * 2.0 + 1.0).relu(), lambda: (te * 2.0 + 1.0).relu(), 200)
    pair("sum_dim_256k", lambda: re_.sum(1), lambda: te.sum(1), 200)
    logits = rng.standard_normal((512, 1000)).astype(np.float32)
    tgt = rng.integers(0, 1000, size=512)
    rl, rt = rustdl.tensor(logits, device=rd), rustdl.tensor(tgt, device=rd)
    tl, tt = torch.tensor(logits, device=td), torch.tensor(tgt, device=td)
    pair(
        "cross_entropy_512x1000",
        lambda: rustdl.nn.functional.cross_entropy(rl, rt),
        lambda: torch.nn.functional.cross_entropy(tl, tt),
        100,
    )

    # conv2d forward + backward (a VGG-block shape)
    xc = rng.standard_normal((16, 32, 32, 32)).astype(np.float32)
    wc = (rng.standard_normal((32, 32, 3, 3)) * 0.1).astype(np.float32)
    rx, rw = rustdl.tensor(xc, device=rd), rustdl.tensor(wc, device=rd, requires_grad=True)
    tx, tw = torch.tensor(xc, device=td), torch.tensor(wc, device=td, requires_grad=True)

    def rconv():
        rustdl.nn.functional.conv2d(rx, rw, padding=1).sum().backward()

    def tconv():
        torch.nn.functional.conv2d(tx, tw, padding=1).sum().backward()

    pair("conv2d_vgg_fwd_bwd", rconv, tconv, 10)

    # full training steps
    for name, build, opt_name in (
        ("mlp_train_step", mlp_pair, "sgd"),
        ("lenet_train_step", lenet_pair, "adam"),
        ("bn_cnn_train_step", bn_cnn_pair, "adam"),
    ):
        rustdl.manual_seed(0)
        torch.manual_seed(0)
        rm, tm = build(rustdl, rd), build(torch, td)
        if opt_name == "sgd":
            ro = rustdl.optim.SGD(rm.parameters(), lr=0.01, momentum=0.9)
            to = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
        else:
            ro = rustdl.optim.Adam(rm.parameters(), lr=1e-3)
            to = torch.optim.Adam(tm.parameters(), lr=1e-3)
        shape = {"mlp": (64, 784), "lenet": (64, 1, 28, 28), "bn": (64, 3, 32, 32)}[name.split("_")[0]]
        xb = rng.standard_normal(shape).astype(np.float32)
        yb = rng.integers(0, 10, size=64)
        rs = train_step_fn(rustdl, rm, ro, rustdl.tensor(xb, device=rd), rustdl.tensor(yb, device=rd))
        ts = train_step_fn(torch, tm, to, torch.tensor(xb, device=td), torch.tensor(yb, device=td))
        pair(name, rs, ts, 50 if name.startswith("mlp") else 20)

    # sequence models: a whole train step (forward, BPTT, Adam) on (seq 32, batch 32, input 32)
    xs = rng.standard_normal((32, 32, 32)).astype(np.float32)
    ys = rng.standard_normal((32, 128)).astype(np.float32)
    for name, kind, kw in (
        ("lstm_train_step", "LSTM", {}),
        ("gru_train_step", "GRU", {}),
        ("lstm2_bidir_train_step", "LSTM", {"num_layers": 2, "bidirectional": True}),
    ):
        steps = {}
        for lib, dev in ((rustdl, rd), (torch, td)):
            lib.manual_seed(0)
            layer = getattr(lib.nn, kind)(32, 128, **kw).to(dev)
            opt = lib.optim.Adam(layer.parameters(), lr=1e-3)
            x, y = lib.tensor(xs, device=dev), lib.tensor(ys, device=dev)

            def step(layer=layer, opt=opt, x=x, y=y, lib=lib):
                opt.zero_grad()
                out, _ = layer(x)
                loss = ((out[-1][:, :128] - y) ** 2).mean()
                loss.backward()
                opt.step()

            steps[lib.__name__] = step
        pair(name, steps["rustdl"], steps["torch"], 5)

    # classic CNN blocks, batch 64 at 32x32, forward + backward + SGD step: a VGG block (two 3x3
    # convs of 64 channels with ReLU, then a 2x2 max-pool) and a ResNet BasicBlock (conv-BN-ReLU-
    # conv-BN, identity shortcut, ReLU); then one DCGAN step (D on real and fake, then G) at
    # batch 64 on 28x28 images
    xb64 = rng.standard_normal((64, 64, 32, 32)).astype(np.float32)
    for name, kind in (("vgg_block_step", "vgg"), ("resnet_basicblock_step", "basic")):
        steps = {}
        for lib, dev in ((rustdl, rd), (torch, td)):
            lib.manual_seed(0)
            nn_ = lib.nn
            if kind == "vgg":
                net = nn_.Sequential(
                    nn_.Conv2d(64, 64, 3, padding=1),
                    nn_.ReLU(),
                    nn_.Conv2d(64, 64, 3, padding=1),
                    nn_.ReLU(),
                    nn_.MaxPool2d(2),
                ).to(dev)
                fwd = net
            else:
                body = nn_.Sequential(
                    nn_.Conv2d(64, 64, 3, padding=1, bias=False),
                    nn_.BatchNorm2d(64),
                    nn_.ReLU(),
                    nn_.Conv2d(64, 64, 3, padding=1, bias=False),
                    nn_.BatchNorm2d(64),
                ).to(dev)
                net = body

                def fwd(v, body=body, lib=lib):
                    return lib.relu(body(v) + v)

            opt = lib.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
            xin = lib.tensor(xb64, device=dev)

            def cnn_step(fwd=fwd, opt=opt, xin=xin):
                opt.zero_grad()
                fwd(xin).mean().backward()
                opt.step()

            steps[lib.__name__] = cnn_step
        pair(name, steps["rustdl"], steps["torch"], 2)

    imgs = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    zs = rng.standard_normal((64, 64)).astype(np.float32)
    steps = {}
    for lib, dev in ((rustdl, rd), (torch, td)):
        lib.manual_seed(0)
        nn_ = lib.nn
        gen = nn_.Sequential(
            nn_.Linear(64, 128 * 7 * 7),
            nn_.Unflatten(1, (128, 7, 7)),
            nn_.BatchNorm2d(128),
            nn_.ReLU(),
            nn_.ConvTranspose2d(128, 64, 4, stride=2, padding=1),
            nn_.BatchNorm2d(64),
            nn_.ReLU(),
            nn_.ConvTranspose2d(64, 1, 4, stride=2, padding=1),
            nn_.Tanh(),
        ).to(dev)
        disc = nn_.Sequential(
            nn_.Conv2d(1, 64, 4, stride=2, padding=1),
            nn_.LeakyReLU(0.2),
            nn_.Conv2d(64, 128, 4, stride=2, padding=1),
            nn_.BatchNorm2d(128),
            nn_.LeakyReLU(0.2),
            nn_.Flatten(),
            nn_.Linear(128 * 7 * 7, 1),
        ).to(dev)
        og = lib.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
        od = lib.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
        real, z = lib.tensor(imgs, device=dev), lib.tensor(zs, device=dev)
        ones, zeros = lib.ones(64, 1, device=dev), lib.zeros(64, 1, device=dev)
        bce = lib.nn.functional.binary_cross_entropy_with_logits

        def gan_step(gen=gen, disc=disc, og=og, od=od, real=real, z=z, ones=ones, zeros=zeros, bce=bce):
            fake = gen(z)
            od.zero_grad()
            (bce(disc(real), ones) + bce(disc(fake.detach()), zeros)).backward()
            od.step()
            og.zero_grad()
            bce(disc(fake), ones).backward()
            og.step()

        steps[lib.__name__] = gan_step
    pair("dcgan_step", steps["rustdl"], steps["torch"], 3)

    # skip-gram with negative sampling: vocab 10k, dim 128, batch 1024, 5 negatives
    vocab, dim, batch, neg = 10_000, 128, 1024, 5
    centers = rng.integers(0, vocab, size=batch)
    contexts = rng.integers(0, vocab, size=(batch, 1 + neg))
    signs = np.concatenate([np.ones((batch, 1)), -np.ones((batch, neg))], axis=1).astype(np.float32)
    steps = {}
    for lib, dev in ((rustdl, rd), (torch, td)):
        lib.manual_seed(0)
        emb_in, emb_out = lib.nn.Embedding(vocab, dim).to(dev), lib.nn.Embedding(vocab, dim).to(dev)
        opt = lib.optim.SGD(list(emb_in.parameters()) + list(emb_out.parameters()), lr=0.05)
        c, o, sg = (lib.tensor(v, device=dev) for v in (centers, contexts, signs))

        def sg_step(emb_in=emb_in, emb_out=emb_out, opt=opt, c=c, o=o, sg=sg, lib=lib):
            opt.zero_grad()
            score = (emb_out(o) * emb_in(c).unsqueeze(1)).sum(-1)
            loss = -lib.nn.functional.logsigmoid(score * sg).mean()
            loss.backward()
            opt.step()

        steps[lib.__name__] = sg_step
    pair("skipgram_step", steps["rustdl"], steps["torch"], 10)

    # scaled dot-product attention forward + backward (q, k, v gradients), causal
    for name, shape, iters in (
        ("sdpa_b8h8_l256_fwd_bwd", (8, 8, 256, 64), 5),
        ("sdpa_b1h8_l2048_fwd_bwd", (1, 8, 2048, 64), 2),
    ):
        if args.only and not re.search(args.only, name):
            continue
        qkv = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
        gout = rng.standard_normal(shape).astype(np.float32)
        steps = {}
        for lib, dev in ((rustdl, rd), (torch, td)):
            q, k, v = (lib.tensor(a, device=dev, requires_grad=True) for a in qkv)
            g = lib.tensor(gout, device=dev)

            def attn(q=q, k=k, v=v, g=g, lib=lib):
                for t in (q, k, v):
                    t.grad = None
                lib.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).backward(g)

            steps[lib.__name__] = attn
        pair(name, steps["rustdl"], steps["torch"], iters)

    # a 4-layer Transformer encoder (d_model 256, 8 heads, ff 1024) train step, batch 16 x 128
    if not args.only or re.search(args.only, "transformer_encoder_step"):
        xe = rng.standard_normal((16, 128, 256)).astype(np.float32)
        steps = {}
        for lib, dev in ((rustdl, rd), (torch, td)):
            lib.manual_seed(0)
            layer = lib.nn.TransformerEncoderLayer(256, 8, 1024, dropout=0.0, batch_first=True)
            enc = lib.nn.TransformerEncoder(layer, 4, enable_nested_tensor=False).to(dev)
            opt = lib.optim.AdamW(enc.parameters(), lr=1e-4)
            x_in = lib.tensor(xe, device=dev)

            def enc_step(enc=enc, opt=opt, x_in=x_in):
                opt.zero_grad()
                (enc(x_in) ** 2).mean().backward()
                opt.step()

            steps[lib.__name__] = enc_step
        pair("transformer_encoder_step", steps["rustdl"], steps["torch"], 3)
    return out


IMPORT_SNIPPET = "import time; t=time.perf_counter(); import {mod}; print(time.perf_counter()-t)"

RSS_SNIPPET = """
import sys, numpy as np
lib = sys.argv[1]
if lib == "torch":
    import torch as L
    L.set_num_threads({threads})
else:
    import rustdl as L
nn = L.nn
m = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
opt = L.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
rng = np.random.default_rng(0)
x = L.tensor(rng.standard_normal((64, 784)).astype(np.float32)); y = L.tensor(rng.integers(0, 10, 64))
for _ in range(300):
    opt.zero_grad(); loss = L.nn.functional.cross_entropy(m(x), y); loss.backward(); opt.step()
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024)
"""


def subprocess_cases(threads: int) -> dict:
    out = {}
    env = dict(os.environ, RUSTDL_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))

    def run(code, *argv):
        r = subprocess.run(
            [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, check=True
        )
        return float(r.stdout.strip().splitlines()[-1])

    imp = {}
    for mod in ("rustdl", "torch"):
        imp[mod] = min(run(IMPORT_SNIPPET.format(mod=mod)) for _ in range(5))
    out["import"] = {
        "rustdl_s": imp["rustdl"],
        "torch_s": imp["torch"],
        "ratio": imp["rustdl"] / imp["torch"],
    }
    rss = {lib: run(RSS_SNIPPET.format(threads=threads), lib) for lib in ("rustdl", "torch")}
    out["peak_rss_mlp"] = {
        "rustdl_mb": rss["rustdl"],
        "torch_mb": rss["torch"],
        "ratio": rss["rustdl"] / rss["torch"],
    }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--json", default="benchmarks/results.json")
    p.add_argument("--only", default="", help="run only the cases whose name matches this regex")
    args = p.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("compare.py needs PyTorch: pip install torch")
    import rustdl

    torch.set_num_threads(args.threads)
    rustdl.set_num_threads(args.threads)
    if args.device == "gpu" and not (torch.cuda.is_available() and rustdl.gpu.is_available()):
        sys.exit("--device gpu needs both a CUDA device for torch and a wgpu adapter for rustdl")
    results = cases(args, torch, rustdl)
    if args.device == "cpu" and not args.only:
        results.update(subprocess_cases(args.threads))
    info = {
        "machine": machine(),
        "device": args.device,
        "threads": args.threads,
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "rustdl": rustdl.__version__,
        "results": results,
    }
    if args.device == "gpu":
        info["adapter"] = rustdl.gpu.adapter_info()
    print(
        f"machine: {info['machine']['cpu']} ({info['machine']['cores']} cores), threads={args.threads}, "
        f"torch {torch.__version__}, date {info['date']}"
    )
    print(f"{'case':28s} {'rustdl':>12s} {'torch':>12s} {'ratio':>7s} {'goal':>6s}")
    for name, r in results.items():
        goal = CPU_GOALS.get(name) if args.device == "cpu" else None
        if "rustdl_mb" in r:
            a, b = f"{r['rustdl_mb']:.0f} MB", f"{r['torch_mb']:.0f} MB"
        else:
            a, b = f"{r['rustdl_s'] * 1e3:.3f} ms", f"{r['torch_s'] * 1e3:.3f} ms"
        mark = "" if goal is None else (f"≤{goal}" + (" ok" if r["ratio"] <= goal else " MISS"))
        print(f"{name:28s} {a:>12s} {b:>12s} {r['ratio']:7.2f} {mark:>6s}")
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(info, f, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
