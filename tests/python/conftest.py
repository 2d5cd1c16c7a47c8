"""Shared fixtures: a `device` fixture that runs each case on the CPU and on the GPU.

The GPU case is skipped when no adapter exists, unless RUSTDL_REQUIRE_GPU=1 (as in CI with
lavapipe), where a missing adapter fails instead.
"""

import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest
import rustdl

REQUIRE_GPU = os.environ.get("RUSTDL_REQUIRE_GPU") == "1"

# measured GPU matmul tiles go to a cache of this run (and its subprocesses), not the user's
# (made once, by the pytest process: workers and subprocesses that import this file inherit it)
if "RUSTDL_TEST_CACHE_OWNER" not in os.environ:
    os.environ["RUSTDL_CACHE_DIR"] = tempfile.mkdtemp(prefix="rustdl-test-cache-")
    os.environ["RUSTDL_TEST_CACHE_OWNER"] = str(os.getpid())


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("RUSTDL_TEST_CACHE_OWNER") == str(os.getpid()):
        shutil.rmtree(os.environ["RUSTDL_CACHE_DIR"], ignore_errors=True)


def gpu_available() -> bool:
    try:
        return rustdl.gpu.is_available()
    except Exception:  # noqa: BLE001 - any failure to probe means "no adapter"
        return False


def need_gpu() -> None:
    """Skips the calling test without an adapter; fails it instead under RUSTDL_REQUIRE_GPU=1."""
    if not gpu_available():
        if REQUIRE_GPU:
            pytest.fail("RUSTDL_REQUIRE_GPU=1 but no GPU adapter was found")
        pytest.skip("no GPU adapter")


@pytest.fixture(params=["cpu", "gpu"])
def device(request):
    if request.param == "gpu":
        need_gpu()
    return request.param


@pytest.fixture
def gpu():
    """The GPU device name, for tests that only make sense on it."""
    need_gpu()
    return "gpu"


@pytest.fixture(autouse=True)
def _seed():
    rustdl.manual_seed(0)
    np.random.seed(0)
    yield


def assert_close(actual, expected, rtol=1e-5, atol=1e-6):
    """Compares a tensor (or array) with a numpy reference."""
    if isinstance(actual, rustdl.Tensor):
        actual = actual.detach().cpu().numpy()
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64), rtol=rtol, atol=atol
    )


def peak_rss_growth_mb(step, warmup: int, steps: int) -> float:
    """How much the process's peak resident memory grows over `steps` calls of `step`, after
    `warmup` calls that let pools and caches reach their steady size."""
    for _ in range(warmup):
        step()
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for _ in range(steps):
        step()
    gc.collect()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before


def run_compat_file(script, *args, env=None, check=True, timeout=120, cwd=None):
    """Runs the file ``script`` through ``python -m rustdl.torchcompat`` in a subprocess (2
    threads, the default device mapping); returns the CompletedProcess."""
    full_env = dict(os.environ, RUSTDL_NUM_THREADS="2")
    full_env.pop("RUSTDL_COMPAT_DEVICE", None)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "rustdl.torchcompat", str(script), *args],
        cwd=cwd if cwd is not None else os.path.dirname(str(script)),
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"script failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_compat(tmp_path, source, *args, env=None, check=True, timeout=120, name="script.py"):
    """Writes ``source`` to tmp_path/``name``, runs it through the compat runner, returns the
    CompletedProcess (stdout's last line is usually a JSON report)."""
    script = tmp_path / name
    script.write_text(textwrap.dedent(source))
    return run_compat_file(script, *args, env=env, check=check, timeout=timeout, cwd=tmp_path)


def compat_report(proc):
    """The JSON object a compat script printed on its last line."""
    return json.loads(proc.stdout.strip().splitlines()[-1])


# rustdl's argument errors print as their own classes; each is the builtin named here (and a
# RuntimeError, as PyTorch raises)
_CORE_ERRORS = {
    "rustdl.ShapeError": "ValueError",
    "rustdl.ArgumentError": "ValueError",
    "rustdl.DTypeError": "TypeError",
    "rustdl.DivisionByZeroError": "ZeroDivisionError",
    "rustdl.OutOfRangeError": "IndexError",
    "rustdl.OutOfMemoryError": "MemoryError",
}


def raised_builtin(stderr: str) -> str:
    """The builtin exception class named by the last line of a child interpreter's traceback,
    rustdl's argument errors given as the builtin they subclass."""
    last = [line for line in stderr.strip().splitlines() if line.strip()][-1]
    name = last.split(":", 1)[0].strip()
    return _CORE_ERRORS.get(name, name)
