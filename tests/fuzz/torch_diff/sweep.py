import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import subprocess

from driver import W

RD = sys.executable
target = sys.argv[1]  # "F", "M", "T"
backend = sys.argv[2] if len(sys.argv) > 2 else "cpu"
names = subprocess.run(
    [
        RD,
        "-c",
        f"""
import rustdl as M, rustdl.nn.functional as F, inspect
obj = {{'F': F, 'M': M, 'T': M.Tensor, 'L': M.linalg}}['{target}']
out = []
for n in dir(obj):
    if n.startswith('_') and n not in ('__getitem__',): continue
    a = getattr(obj, n, None)
    if callable(a) and not inspect.isclass(a): out.append(n)
print(' '.join(out))
""",
    ],
    capture_output=True,
    text=True,
).stdout.split()
SKIP = {
    "manual_seed",
    "seed",
    "set_num_threads",
    "set_default_dtype",
    "set_default_tensor_type",
    "set_grad_enabled",
    "use_deterministic_algorithms",
    "set_printoptions",
    "save",
    "load",
    "compile",
    "set_flush_denormal",
    "apply_",
    "map_",
    "register_hook",
    "backward",
    "set_rng_state",
    "share_memory_",
    "pin_memory",
    "set_anomaly_enabled",
    "set_autocast_enabled",
    "set_default_device",
    "initial_seed",
    "get_rng_state",
}
ARGS = [
    "",
    "A(0, 3)",
    "L(1.5)",
    "I([1, -2])",
    "A(2, 3), A(2, 3)",
    "A(2, 3), 1",
    "A(2, 3), -1",
    "A(2, 3), 0",
    "A(2, 3), A(3)",
    "None",
    "A(2, 3), 10**12",
    "A(2, 3), 'abc'",
    "A(2, 3), float('nan')",
    "A(1, 2, 3, 4), 2",
    "A(0, 2, 3), 0",
    "(A(2, 3) > 0)",
    "A(2, 3).t(), A(3, 2)",
    "A(3), A(3), A(3)",
    "[A(2), A(2)]",
    "[]",
    "A(2, 3), dim=5",
    "A(2, 3), (1, -1)",
    "A(2, 3, dtype='float64'), A(2, 3)",
]
w = W(backend)
res = {"n": 0}
bad = []
for n in names:
    if n in SKIP:
        continue
    for a in ARGS:
        if target == "T":
            parts = a.split(", ", 1)
            balanced = parts[0].count("(") == parts[0].count(")") and "[" not in parts[0]
            recv = (
                parts[0]
                if parts[0] and balanced and parts[0] != "None" and "=" not in parts[0]
                else "A(2, 3)"
            )
            rest = parts[1] if len(parts) > 1 and recv == parts[0] else (a if recv != parts[0] else "")
            code = f"out = ({recv}).{n}({rest})"
        else:
            code = f"out = {target}.{n}({a})" if target != "L" else f"out = M.linalg.{n}({a})"
        r = w.run(code)
        res["n"] += 1
        if r[0] in ("died", "hang"):
            bad.append(("CRASH", n, a, str(r)))
            print("CRASH", n, a, r, flush=True)
        elif r[0] == "exc" and (
            "PanicException" in r[2]
            or not any(
                c in r[2]
                for c in (
                    "ValueError",
                    "TypeError",
                    "IndexError",
                    "RuntimeError",
                    "MemoryError",
                    "NotImplementedError",
                    "OverflowError",
                    "OSError",
                    "KeyError",
                    "StopIteration",
                    "ZeroDivisionError",
                )
            )
        ):
            bad.append(("UNTYPED", n, a, r[1], r[3][:150]))
            print("UNTYPED", n, "|", a, "|", r[1], r[3][:150], flush=True)
        elif r[0] == "exc" and r[1] in ("OverflowError", "ZeroDivisionError", "KeyError", "StopIteration"):
            print("ODD", n, "|", a, "|", r[1], r[3][:150], flush=True)
w.kill()
print("TOTAL", res["n"], "bad", len(bad))
