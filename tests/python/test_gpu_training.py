"""Training wholly on the GPU: batched submission, flat GPU memory, host transfers only when the
loss is read, and the same accuracy as the same model trained on the CPU."""

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
import rustdl.nn.functional as F
from conftest import REQUIRE_GPU, gpu_available

pytestmark = pytest.mark.skipif(not gpu_available() and not REQUIRE_GPU, reason="no GPU adapter")


def digits_split():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    return x[:1400], y[:1400], x[1400:], y[1400:]


def step(model, opt, x, y):
    """One cross-entropy training step; returns the loss, still on the device."""
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def train_mlp(device, epochs=15):
    rustdl.manual_seed(0)
    xtr, ytr, xte, yte = digits_split()
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).to(device)
    opt = rustdl.optim.Adam(model.parameters(), lr=1e-2)
    x, y = rustdl.tensor(xtr, device=device), rustdl.tensor(ytr, device=device)
    for _ in range(epochs):
        for i in range(0, len(xtr), 100):
            step(model, opt, x[i : i + 100], y[i : i + 100])
    with rustdl.no_grad():
        pred = model(rustdl.tensor(xte, device=device)).argmax(1).cpu().numpy()
    return (pred == yte).mean()


def test_gpu_present_and_values_round_trip():
    assert gpu_available(), "RUSTDL_REQUIRE_GPU=1 but no GPU adapter was found"
    a = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    g = rustdl.tensor(a, device="gpu")
    assert g.device.type == "gpu"
    np.testing.assert_array_equal(g.cpu().numpy(), a)
    np.testing.assert_array_equal((g * 2.0).cpu().numpy(), a * 2.0)


def test_chained_ops_batch_into_few_submits():
    a = rustdl.rand(64, 64, device="gpu")
    rustdl.gpu.synchronize()
    s0 = rustdl.gpu.stats()
    x = a
    for _ in range(20):
        x = x * 1.01 + 0.5
    x.cpu()
    s1 = rustdl.gpu.stats()
    assert s1["dispatches"] - s0["dispatches"] >= 20
    assert s1["submits"] - s0["submits"] <= 4


def test_training_step_memory_flat_and_no_host_transfers():
    rustdl.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10)).to("gpu")
    opt = rustdl.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = rustdl.randn(32, 32, device="gpu")
    y = rustdl.randint(0, 10, (32,), device="gpu")

    first = step(model, opt, x, y).item()
    for _ in range(20):
        step(model, opt, x, y)
    rustdl.gpu.synchronize()
    start = rustdl.gpu.stats()
    for _ in range(280):
        loss = step(model, opt, x, y)
    rustdl.gpu.synchronize()
    end = rustdl.gpu.stats()
    assert end["downloads"] == start["downloads"], "a training step read data back to the host"
    assert end["bytes_allocated"] <= start["bytes_allocated"] * 1.05 + 65536
    last = loss.item()
    assert rustdl.gpu.stats()["downloads"] == end["downloads"] + 1, "item() is one download"
    # 300 steps on one batch of 32 memorise it: the loss falls well below ln(10) ~ 2.3
    assert last < 0.25 * first, (first, last)


def test_mlp_on_gpu_reaches_cpu_accuracy():
    acc_cpu = train_mlp("cpu")
    acc_gpu = train_mlp("gpu")
    assert acc_cpu > 0.9
    assert abs(acc_gpu - acc_cpu) < 0.03, (acc_cpu, acc_gpu)


def test_cnn_training_step_reads_nothing_back():
    rustdl.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 10),
    ).to("gpu")
    opt = rustdl.optim.Adam(model.parameters(), lr=1e-3)
    x = rustdl.randn(8, 1, 8, 8, device="gpu")
    y = rustdl.randint(0, 10, (8,), device="gpu")

    first = step(model, opt, x, y).item()
    rustdl.gpu.synchronize()
    start = rustdl.gpu.stats()
    for _ in range(30):
        loss = step(model, opt, x, y)
    rustdl.gpu.synchronize()
    assert rustdl.gpu.stats()["downloads"] == start["downloads"], (
        "a CNN training step read data back to the host"
    )
    assert loss.item() < first


def test_conv_whose_columns_pass_the_buffer_limit_runs_in_batch_chunks():
    # 8 images of 64 channels at 64×64 under a 3×3 kernel: 9.4 MB of im2col columns per image,
    # 75 MB for the batch — past a quarter of lavapipe's 128 MiB buffer limit, so the GPU's
    # convolution runs chunk by chunk; values and gradients must equal the CPU's
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 64, 64, 64)).astype(np.float32)
    w = (rng.standard_normal((16, 64, 3, 3)) * 0.05).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    gy = rng.standard_normal((8, 16, 64, 64)).astype(np.float32)
    got = {}
    for dev in ("cpu", "gpu"):
        xt = rustdl.tensor(x, device=dev, requires_grad=True)
        wt = rustdl.tensor(w, device=dev, requires_grad=True)
        bt = rustdl.tensor(b, device=dev, requires_grad=True)
        y = F.conv2d(xt, wt, bt, padding=1)
        y.backward(rustdl.tensor(gy, device=dev))
        got[dev] = [t.detach().cpu().numpy() for t in (y, xt.grad, wt.grad, bt.grad)]
    for name, c, g in zip(("output", "input grad", "weight grad", "bias grad"), got["cpu"], got["gpu"]):
        scale = np.abs(c).max()
        np.testing.assert_allclose(g, c, rtol=0, atol=2e-5 * scale * 10, err_msg=name)
