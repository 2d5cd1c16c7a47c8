import os
import random

rng = random.Random(int(os.environ.get("SEED", "5")))
C = []


def comp(n):
    k = rng.choice(["int", "negint", "slice", "slice", "none", "ell", "list", "tensor", "bool", "oob"])
    if k == "int":
        return str(rng.randrange(0, max(n, 1)))
    if k == "negint":
        return str(-rng.randrange(1, max(n, 1) + 1))
    if k == "oob":
        return str(rng.choice([n, -n - 1, 10]))
    if k == "slice":
        a = rng.choice(["", "0", "1", "-1", "-5", "5"])
        b = rng.choice(["", "1", "-1", "2", "10", "-10"])
        s = rng.choice(["", "", ":2", ":3", ":-1"])
        return f"{a}:{b}{s}"
    if k == "none":
        return "None"
    if k == "ell":
        return "..."
    if k == "list":
        return str([rng.randrange(-n, n) if n else 0 for _ in range(rng.randint(0, 3))])
    if k == "tensor":
        return f"I({[rng.randrange(-n, n) if n else 0 for _ in range(rng.randint(1, 3))]})"
    if k == "bool":
        return f"M.tensor({[rng.random() < 0.5 for _ in range(n)]}, device=dev)"


for i in range(1500):
    nd = rng.choice([1, 2, 3])
    sh = tuple(rng.choice([0, 1, 2, 3, 4]) for _ in range(nd))
    k = rng.randint(1, nd)
    idx = ", ".join(comp(sh[j] if j < nd else 1) for j in range(k))
    x = f"A({', '.join(map(str, sh))}, dtype='float32')"
    mode = rng.choice(["get", "get", "set_scalar", "set_tensor", "set_grad", "get_grad"])
    if mode == "get":
        code = f"x = {x}; out = x[{idx}]"
    elif mode == "set_scalar":
        code = f"x = {x}; x[{idx}] = 7.0; out = x"
    elif mode == "set_tensor":
        code = f"x = {x}; v = x[{idx}]; x[{idx}] = v * 0 + A(*v.shape) if v.dim() else 2.0; out = x"
    elif mode == "set_grad":
        code = f"w = {x}.requires_grad_(); x = w * 1; x[{idx}] = 3.0; (x * A(*x.shape)).sum().backward(); out = (x, w.grad)"
    else:
        code = (
            f"w = {x}.requires_grad_(); y = w[{idx}]; (y * A(*y.shape)).sum().backward(); out = (y, w.grad)"
        )
    C.append((f"i{i}", code))
CASES = C
