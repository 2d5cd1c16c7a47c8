"""The CPU thread pool's size: RUSTDL_NUM_THREADS, else OMP_NUM_THREADS, read once at start;
set_num_threads/get_num_threads at run time; and results that do not depend on the count.

Each case runs in a fresh interpreter, since the pool reads the environment once per process.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import rustdl

# Ops whose CPU kernels split work across threads, on sizes big enough to be split.
_WORK = """
import json, sys
import numpy as np
import rustdl
import rustdl.nn.functional as F
report = {"start": rustdl.get_num_threads()}
if len(sys.argv) > 1:
    rustdl.set_num_threads(int(sys.argv[1]))
report["set"] = rustdl.get_num_threads()
rng = np.random.default_rng(0)
a = rustdl.tensor(rng.standard_normal((300, 200)), dtype=rustdl.float32)
b = rustdl.tensor(rng.standard_normal((200, 150)), dtype=rustdl.float32)
img = rustdl.tensor(rng.standard_normal((8, 3, 20, 20)), dtype=rustdl.float32)
k = rustdl.tensor(rng.standard_normal((5, 3, 3, 3)), dtype=rustdl.float32)
x = a.detach().requires_grad_(True)
loss = (x @ b).tanh().sum()
loss.backward()
report["results"] = {
    "matmul": (a @ b).numpy().tolist(),
    "sum_rows": a.sum(dim=1).numpy().tolist(),
    "softmax": F.softmax(a, dim=1).numpy().tolist(),
    "conv": F.conv2d(img, k, padding=1).numpy().ravel().tolist(),
    "grad": x.grad.numpy().tolist(),
}
print(json.dumps(report))
"""


def run(env: dict, *args: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in ("RUSTDL_NUM_THREADS", "OMP_NUM_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", _WORK, *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    ("env", "want"),
    [
        ({"RUSTDL_NUM_THREADS": "1"}, 1),
        ({"RUSTDL_NUM_THREADS": "3"}, 3),
        ({"OMP_NUM_THREADS": "2"}, 2),
        ({"RUSTDL_NUM_THREADS": "1", "OMP_NUM_THREADS": "4"}, 1),  # rustdl's own wins
        ({"RUSTDL_NUM_THREADS": "0", "OMP_NUM_THREADS": "2"}, 2),  # 0 is not a count
        ({"RUSTDL_NUM_THREADS": " 2 "}, 2),
    ],
)
def test_thread_count_comes_from_the_environment(env, want):
    r = run(env)
    assert r["start"] == want and r["set"] == want


def test_without_variables_the_pool_uses_the_available_cores():
    # the available parallelism: the cores this process may use (a cgroup quota can lower it)
    assert 1 <= run({})["start"] <= os.cpu_count()


def test_set_num_threads_overrides_the_environment():
    r = run({"RUSTDL_NUM_THREADS": "1"}, "2")
    assert (r["start"], r["set"]) == (1, 2)


def test_results_do_not_depend_on_the_thread_count():
    one = run({"RUSTDL_NUM_THREADS": "1"})["results"]
    two = run({"RUSTDL_NUM_THREADS": "2"})["results"]
    switched = run({"RUSTDL_NUM_THREADS": "1"}, "2")["results"]
    for name in one:
        # a split changes the order of float32 additions, so only to rounding
        np.testing.assert_allclose(two[name], one[name], rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(switched[name], two[name], rtol=1e-5, atol=1e-5, err_msg=name)


def test_set_num_threads_in_process_round_trips_and_rejects_zero():
    before = rustdl.get_num_threads()
    try:
        rustdl.set_num_threads(1)
        assert rustdl.get_num_threads() == 1
        rustdl.set_num_threads(3)
        assert rustdl.get_num_threads() == 3
        with pytest.raises(ValueError):
            rustdl.set_num_threads(0)
        assert rustdl.get_num_threads() == 3
    finally:
        rustdl.set_num_threads(before)
