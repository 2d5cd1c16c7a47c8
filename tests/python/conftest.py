"""Shared fixtures: a `device` fixture that runs each case on the CPU and on the GPU.

The GPU case is skipped when no adapter exists, unless RUSTDL_REQUIRE_GPU=1 (as in CI with
lavapipe), where a missing adapter fails instead.
"""

import gc
import os
import resource

import numpy as np
import pytest
import rustdl

REQUIRE_GPU = os.environ.get("RUSTDL_REQUIRE_GPU") == "1"


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
