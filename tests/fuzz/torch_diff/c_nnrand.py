import os
import random

rng = random.Random(int(os.environ.get("SEED", "3")))
C = []
for i in range(600):
    kind = rng.choice(
        [
            "maxpool",
            "avgpool",
            "conv",
            "convT",
            "maxpool1d",
            "avgpool1d",
            "interp",
            "unfold",
            "adaptive",
            "pad",
            "conv1d",
            "lppool",
        ]
    )
    n, c = rng.choice([1, 2]), rng.choice([1, 2, 3])
    h, w = rng.randint(1, 7), rng.randint(1, 7)
    k = rng.randint(1, 4)
    s = rng.randint(1, 3)
    p = rng.randint(0, 2)
    d = rng.randint(1, 2)
    ceil = rng.random() < 0.4
    cip = rng.random() < 0.5
    x = f"R({n}, {c}, {h}, {w}, seed={i}, rg=True)"
    if kind == "maxpool":
        e = f"F.max_pool2d(x, {k}, {s}, {p}, {d}, ceil_mode={ceil})"
    elif kind == "avgpool":
        e = f"F.avg_pool2d(x, {k}, {s}, {p}, ceil_mode={ceil}, count_include_pad={cip})"
    elif kind == "lppool":
        x = f"R({n}, {c}, {h}, {w}, seed={i}).abs().requires_grad_()"
        e = f"F.lp_pool2d(x, 2.0, {k}, {s}, ceil_mode={ceil})"
    elif kind == "maxpool1d":
        x = f"R({n}, {c}, {w}, seed={i}, rg=True)"
        e = f"F.max_pool1d(x, {k}, {s}, {p}, {d}, ceil_mode={ceil})"
    elif kind == "avgpool1d":
        x = f"R({n}, {c}, {w}, seed={i}, rg=True)"
        e = f"F.avg_pool1d(x, {k}, {s}, {p}, ceil_mode={ceil}, count_include_pad={cip})"
    elif kind == "conv":
        g = rng.choice([1, c]) if c > 1 else 1
        o = g * rng.randint(1, 2)
        e = f"F.conv2d(x, R({o}, {c // g}, {k}, {rng.randint(1, 3)}, seed={i + 1}), R({o}, seed={i + 2}), {s}, {p}, {d}, {g})"
    elif kind == "conv1d":
        x = f"R({n}, {c}, {w}, seed={i}, rg=True)"
        e = f"F.conv1d(x, R(2, {c}, {k}, seed={i + 1}), None, {s}, {rng.choice([p, 'same', 'valid']) if s == 1 else p}, {d})"
    elif kind == "convT":
        op = rng.randint(0, max(s, d) - 1)
        e = f"F.conv_transpose2d(x, R({c}, 2, {k}, {k}, seed={i + 1}), None, {s}, {p}, {op}, 1, {d})"
    elif kind == "interp":
        mode = rng.choice(["nearest", "bilinear"])
        ac = rng.choice([None, True, False]) if mode == "bilinear" else None
        sz = (rng.randint(1, 9), rng.randint(1, 9))
        e = f"F.interpolate(x, size={sz}, mode='{mode}', align_corners={ac})"
    elif kind == "unfold":
        e = f"F.unfold(x, {k}, {d}, {p}, {s})"
    elif kind == "adaptive":
        e = f"(F.adaptive_avg_pool2d(x, ({rng.randint(1, 5)}, {rng.randint(1, 5)})) + F.adaptive_max_pool2d(x, ({rng.randint(1, 5)}, {rng.randint(1, 5)})).sum())"
    else:
        mode = rng.choice(["constant", "reflect", "replicate", "circular"])
        pads = tuple(rng.randint(-1, 3) for _ in range(4))
        e = f"F.pad(x, {pads}, mode='{mode}')"
    code = f"x = {x}; y = {e}; y = y[0] if isinstance(y, tuple) else y; (y * y.detach() * 0.5 + y).sum().backward(); out = (y, x.grad)"
    C.append((f"n{i}_{kind}", code))
CASES = C
