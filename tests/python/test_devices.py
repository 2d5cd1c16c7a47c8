"""Across devices: mixing a CPU and a GPU tensor is a typed error, and the GPU's two-pass
reductions (a few rows of 16,384 or more elements) match the CPU and numpy."""

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
import rustdl.nn.functional as F
from conftest import assert_close, need_gpu

MIXED = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "sub": lambda a, b: a - b,
    "div": lambda a, b: a / b,
    "maximum": rustdl.maximum,
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
    "matmul": lambda a, b: a @ b,
    "where": lambda a, b: rustdl.where(a > 0, a, b),
    "mse_loss": F.mse_loss,
}


@pytest.mark.parametrize("name", sorted(MIXED))
@pytest.mark.parametrize("cpu_first", [True, False])
def test_mixing_devices_is_an_error_naming_both(name, cpu_first, gpu):
    a = rustdl.ones(3, 3)
    b = rustdl.ones(3, 3, device=gpu)
    x, y = (a, b) if cpu_first else (b, a)
    with pytest.raises(RuntimeError) as e:
        MIXED[name](x, y)
    msg = str(e.value)
    assert "cpu" in msg and "gpu:0" in msg, msg


LONG = 20_000  # > 16,384 elements a row: the GPU reduces chunks, then the chunks


@pytest.mark.parametrize(
    ("name", "fn", "ref"),
    [
        ("sum", lambda t: t.sum(dim=0), lambda a: a.sum(axis=0)),
        ("mean", lambda t: t.mean(dim=0), lambda a: a.mean(axis=0)),
        ("sum_all", lambda t: t.sum(), lambda a: a.sum()),
        ("max", lambda t: t.max(dim=0).values, lambda a: a.max(axis=0)),
        ("min", lambda t: t.min(dim=0).values, lambda a: a.min(axis=0)),
        ("argmax", lambda t: t.argmax(dim=0), lambda a: a.argmax(axis=0)),
        ("argmin", lambda t: t.argmin(dim=0), lambda a: a.argmin(axis=0)),
        ("row_sum", lambda t: t.t().sum(dim=1), lambda a: a.T.sum(axis=1)),
    ],
)
def test_two_pass_reductions_match_numpy_and_cpu(name, fn, ref, gpu):
    rng = np.random.default_rng(0)
    # distinct values (a shuffled grid) so that argmax/argmin have one answer, the extreme in the tail
    a = np.stack([rng.permutation(np.linspace(-1, 1, LONG)) for _ in range(3)], axis=1).astype(np.float32)
    a[LONG - 3, 0], a[LONG - 2, 1] = 5.0, -5.0
    got = fn(rustdl.tensor(a, device=gpu))
    cpu = fn(rustdl.tensor(a))
    want = ref(a.astype(np.float64))
    if name.startswith("arg"):
        np.testing.assert_array_equal(got.cpu().numpy(), want)
        np.testing.assert_array_equal(got.cpu().numpy(), cpu.numpy())
        return
    assert_close(got, want, rtol=1e-4, atol=1e-3)
    assert_close(got, cpu.numpy(), rtol=1e-4, atol=1e-3)


def test_batchnorm_at_batch_128_matches_cpu_forward_and_backward(gpu):
    # 128 x 12 x 12 = 18,432 values per channel: the statistics take the two-pass path
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((128, 3, 12, 12)) * 2 + 0.5).astype(np.float32)
    w = rng.standard_normal((128, 3, 12, 12)).astype(np.float32)
    results = {}
    for dev in ("cpu", gpu):
        rustdl.manual_seed(0)
        bn = nn.BatchNorm2d(3).to(dev)
        x = rustdl.tensor(a, device=dev, requires_grad=True)
        y = bn(x)
        (y * rustdl.tensor(w, device=dev)).sum().backward()
        results[dev] = [
            t.detach().cpu().numpy()
            for t in (y, x.grad, bn.weight.grad, bn.bias.grad, bn.running_mean, bn.running_var)
        ]
    # the CPU against closed form: normalised per channel over (N, H, W), biased variance
    mean, var = a.mean(axis=(0, 2, 3), keepdims=True), a.var(axis=(0, 2, 3), keepdims=True)
    assert_close(results["cpu"][0], (a - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-4)
    n = 128 * 12 * 12
    assert_close(results["cpu"][4], 0.9 * 0 + 0.1 * mean.ravel(), rtol=1e-4, atol=1e-5)
    assert_close(results["cpu"][5], 0.9 * 1 + 0.1 * var.ravel() * n / (n - 1), rtol=1e-4, atol=1e-5)
    names = ["output", "input grad", "weight grad", "bias grad", "running_mean", "running_var"]
    for what, c, g in zip(names, results["cpu"], results[gpu]):
        np.testing.assert_allclose(g, c, rtol=1e-3, atol=1e-3, err_msg=what)


def test_default_device_for_creation_functions():
    need_gpu()
    assert str(rustdl.get_default_device()) == "cpu"
    try:
        rustdl.set_default_device("gpu")
        made = [
            rustdl.zeros(2),
            rustdl.tensor([1, 2]),
            rustdl.randn(2),
            rustdl.arange(3),
            rustdl.full((2,), 3.0),
            rustdl.linspace(0, 1, 3),
            rustdl.eye(2),
            rustdl.nn.Linear(2, 2).weight,
        ]
        assert all(str(t.device) == "gpu:0" for t in made)
        assert str(rustdl.zeros(2, device="cpu").device) == "cpu"  # an explicit device wins
        assert str(rustdl.from_numpy(np.ones(2)).device) == "cpu"
    finally:
        rustdl.set_default_device(None)
    assert str(rustdl.zeros(2).device) == "cpu"
    with rustdl.device("gpu"):
        assert str(rustdl.ones(2).device) == "gpu:0"
        with rustdl.device("cpu"):
            assert str(rustdl.ones(2).device) == "cpu"
        assert str(rustdl.ones(2).device) == "gpu:0"
    assert str(rustdl.ones(2).device) == "cpu" and str(rustdl.get_default_device()) == "cpu"
    with pytest.raises(ValueError, match="invalid device"), rustdl.device("gpu"):
        rustdl.set_default_device("tpu")
    assert str(rustdl.get_default_device()) == "cpu"
