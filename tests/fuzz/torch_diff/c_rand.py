import random

rng = random.Random(int(__import__("os").environ.get("SEED", "12345")))
C = []


def shape():
    nd = rng.choice([0, 1, 1, 2, 2, 3])
    return tuple(rng.choice([0, 1, 2, 3, 3]) for _ in range(nd))


def mk(sh, dtype):
    # value generator string with a view variant
    v = rng.choice(["c", "c", "t", "e", "s"])
    base = f"A({', '.join(map(str, sh))}, dtype='{dtype}')" if sh else f"A(dtype='{dtype}')"
    if dtype == "bool":
        base = f"(A({', '.join(map(str, sh))}) > 0)" if sh else "(A() > 0)"
    if v == "t" and len(sh) >= 2:
        sh2 = sh[:-2] + (sh[-1], sh[-2])
        b2 = mk_plain(sh2, dtype)
        return f"{b2}.transpose(-1, -2)"
    if v == "e" and len(sh) >= 1:
        sh2 = (1,) + sh[1:]
        return f"{mk_plain(sh2, dtype)}.expand({', '.join(map(str, sh))}{',' if len(sh) == 1 else ''})"
    if v == "s" and len(sh) >= 1:
        sh2 = sh[:-1] + (sh[-1] * 2,)
        return f"{mk_plain(sh2, dtype)}[..., ::2]"
    return base


def mk_plain(sh, dtype):
    if dtype == "bool":
        return f"(A({', '.join(map(str, sh))}) > 0)" if sh else "(A() > 0)"
    return f"A({', '.join(map(str, sh))}, dtype='{dtype}')" if sh else f"A(dtype='{dtype}')"


UN_DIM = [
    "sum({d})",
    "mean({d})",
    "prod({d})",
    "amax({d})",
    "amin({d})",
    "max({d})",
    "min({d})",
    "argmax({d})",
    "argmin({d})",
    "cumsum({d})",
    "cumprod({d})",
    "softmax({d})",
    "log_softmax({d})",
    "logsumexp({d})",
    "std({d})",
    "var({d})",
    "norm(dim={d})",
    "all({d})",
    "any({d})",
    "sort({d})",
    "argsort({d})",
    "flip({d})",
    "unsqueeze({d})",
    "squeeze({d})",
    "roll(1, {d})",
    "chunk(2, {d})",
    "split(1, {d})",
    "unbind({d})",
    "narrow({d}, 0, 1)",
    "select({d}, 0)",
    "topk(1, {d})",
    "flatten({d})",
    "movedim({d}, 0)",
    "transpose({d}, 0)",
    "repeat_interleave(2, {d})",
    "diff(dim={d})",
    "median({d})",
    "kthvalue(1, {d})",
    "count_nonzero({d})",
    "nansum({d})",
    "nanmean({d})",
    "sum({d}, keepdim=True)",
    "max({d}, keepdim=True)",
    "index_select({d}, I([0]))",
    "cummax({d})",
    "unfold({d}, 1, 1)",
    "mode({d})",
    "renorm(2, {d}, 1.0)",
]
UN = [
    "exp()",
    "log()",
    "sqrt()",
    "abs()",
    "neg()",
    "sign()",
    "floor()",
    "round()",
    "sigmoid()",
    "tanh()",
    "relu()",
    "reciprocal()",
    "sin()",
    "clone()",
    "contiguous()",
    "t()",
    "flatten()",
    "nonzero()",
    "tolist()",
    "float()",
    "long()",
    "bool()",
    "double()",
    "sum()",
    "mean()",
    "max()",
    "min()",
    "argmax()",
    "median()",
    "std()",
    "numel()",
    "isnan()",
    "isfinite()",
    "nan_to_num()",
    "trace()",
    "tril()",
    "triu(1)",
    "diag()",
    "logical_not()",
    "square()",
    "exp2()",
    "log1p()",
    "expm1()",
    "rsqrt()",
    "erf()",
    "frac()",
    "trunc()",
    "ceil()",
    "clamp(min=0)",
    "sum(dtype=M.float64)",
    "cumsum(0, dtype=M.float64)",
    "T",
    "mT",
    "item()",
    "unique()",
    "count_nonzero()",
    "is_contiguous()",
    "reshape(-1)",
    "view(-1)",
    "any()",
    "all()",
]
BIN = ["+", "-", "*", "/", "//", "%", "**", "==", "<", "&", "|", "^", "@"]
FN2 = [
    "M.maximum",
    "M.minimum",
    "M.atan2",
    "M.fmod",
    "M.remainder",
    "M.where({c}, {a}, {b})",
    "M.cat([{a}, {b}])",
    "M.stack([{a}, {b}])",
    "M.cat([{a}, {b}], -1)",
    "M.hypot",
    "M.copysign",
    "M.xlogy",
    "M.isclose",
    "M.dist",
    "M.lerp({a}, {b}, 0.3)",
    "M.cross({a}, {b})",
    "M.kron",
    "M.dot",
    "M.outer",
    "M.inner",
    "M.matmul",
    "M.broadcast_tensors",
    "M.cdist",
    "M.logical_and",
    "M.eq",
    "M.heaviside",
]
dtypes = ["float32", "float32", "float32", "float64", "int64", "bool"]
for i in range(2500):
    kind = rng.choice(["undim", "undim", "un", "bin", "fn2"])
    sh = shape()
    dt = rng.choice(dtypes)
    a = mk(sh, dt)
    if kind == "undim":
        d = rng.choice([-4, -3, -2, -1, -1, 0, 0, 1, 1, 2, 3])
        op = rng.choice(UN_DIM).format(d=d)
        code = f"x = {a}; out = x.{op}"
    elif kind == "un":
        op = rng.choice(UN)
        code = f"x = {a}; out = x.{op}"
    else:
        sh2 = rng.choice([sh, shape(), sh[1:] if sh else (), (1,) + sh[1:] if sh else (1,)])
        dt2 = rng.choice([dt, dt, rng.choice(dtypes)])
        b = mk(sh2, dt2)
        if kind == "bin":
            op = rng.choice(BIN)
            code = f"x = {a}; y = {b}; out = x {op} y"
        else:
            f = rng.choice(FN2)
            if "{" in f:
                code = (
                    "x = "
                    + a
                    + "; y = "
                    + b
                    + "; out = "
                    + f.format(a="x", b="y", c="(x > y)" if dt != "bool" else "x")
                )
            else:
                code = f"x = {a}; y = {b}; out = {f}(x, y)"
    C.append((f"r{i}", code))
CASES = C
