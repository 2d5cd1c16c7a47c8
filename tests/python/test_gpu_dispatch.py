"""GPU work per training step: the fused classification loss, the dispatch trace, and the
number of dispatches a step takes. Values are checked against numpy definitions and the CPU;
counts come from ``rustdl.gpu.trace()`` and ``rustdl.gpu.stats()``, never from timings."""

import collections
import itertools

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
import rustdl.nn.functional as F
from conftest import REQUIRE_GPU, gpu_available

pytestmark = pytest.mark.skipif(not gpu_available() and not REQUIRE_GPU, reason="no GPU adapter")


def ce_reference(x, t, w, reduction, smoothing, ignore=-100):
    """Cross-entropy as PyTorch defines it, in float64 numpy, with its gradient for a unit
    output gradient (per row for reduction='none')."""
    x = x.astype(np.float64)
    m, c = x.shape
    w = np.ones(c) if w is None else w.astype(np.float64)
    lse = np.log(np.exp(x - x.max(1, keepdims=True)).sum(1)) + x.max(1)
    logp = x - lse[:, None]
    valid = t != ignore
    safe = np.where(valid, t, 0)
    wt = w[safe] * valid
    nll = -logp[np.arange(m), safe] * wt
    smooth = -(logp * w).sum(1) / c * valid
    per = (1 - smoothing) * nll + smoothing * smooth
    onehot = np.zeros_like(x)
    onehot[np.arange(m), safe] = 1.0
    dlogp = -((1 - smoothing) * onehot * wt[:, None] + smoothing / c * w * valid[:, None])
    dx = dlogp - np.exp(logp) * dlogp.sum(1, keepdims=True)
    if reduction == "none":
        return per, dx
    if reduction == "sum":
        return per.sum(), dx
    total = wt.sum()
    return (per.sum() / total if total else np.nan), (dx / total if total else 0 * dx)


SHAPES = [(1, 1), (5, 3), (67, 10), (3, 129), (129, 67), (0, 4)]


@pytest.mark.parametrize(
    "shape,reduction,smoothing,weighted,ignored",
    [
        (s, r, sm, w, ig)
        for s, r, sm, w, ig in itertools.product(
            SHAPES, ["mean", "sum", "none"], [0.0, 0.3], [False, True], [False, True]
        )
    ],
)
def test_fused_cross_entropy_matches_numpy(shape, reduction, smoothing, weighted, ignored):
    rng = np.random.default_rng(sum(shape) + len(reduction))
    m, c = shape
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    t = rng.integers(0, c, m)
    if ignored:
        t[::2] = -100
    w = (rng.random(c) + 0.1).astype(np.float32) if weighted else None
    want, want_dx = ce_reference(x, t, w, reduction, smoothing)
    xt = rustdl.tensor(x, device="gpu", requires_grad=True)
    wt = None if w is None else rustdl.tensor(w, device="gpu")
    with rustdl.gpu.trace() as trace:
        loss = F.cross_entropy(
            xt, rustdl.tensor(t, device="gpu"), weight=wt, reduction=reduction, label_smoothing=smoothing
        )
        loss.sum().backward() if reduction == "none" else loss.backward()
    kernels = [k for k, _ in trace if k.startswith("class_loss")]
    # the loss is one kernel per row plus one total, its gradient one kernel
    assert len(kernels) == (2 if reduction == "none" else 3) or m == 0, kernels
    np.testing.assert_allclose(loss.detach().cpu().numpy(), want, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(xt.grad.cpu().numpy(), want_dx, rtol=2e-4, atol=2e-6)


def test_fused_nll_loss_on_log_probabilities_matches_cpu():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 7)).astype(np.float32)
    t = rng.integers(0, 7, 40)
    t[3] = 5
    g = rng.standard_normal(40).astype(np.float32)
    out = {}
    for dev in ["cpu", "gpu"]:
        xt = rustdl.tensor(x, device=dev, requires_grad=True)
        lp = F.log_softmax(xt, 1)
        w = rustdl.tensor(np.arange(1, 8, dtype=np.float32), device=dev)
        loss = F.nll_loss(lp, rustdl.tensor(t, device=dev), weight=w, ignore_index=5, reduction="none")
        (loss * rustdl.tensor(g, device=dev)).sum().backward()
        out[dev] = (loss.detach().cpu().numpy(), xt.grad.cpu().numpy())
    np.testing.assert_allclose(out["gpu"][0], out["cpu"][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["gpu"][1], out["cpu"][1], rtol=1e-4, atol=1e-6)
    assert out["gpu"][0][3] == 0.0


def test_fused_cross_entropy_edge_cases():
    x = rustdl.tensor(
        np.array([[1.0, 2.0, 3.0], [0.0, -np.inf, 1.0]], np.float32), device="gpu", requires_grad=True
    )
    # every row ignored: NaN mean, zero gradient (PyTorch's behaviour)
    loss = F.cross_entropy(x, rustdl.tensor(np.array([-100, -100]), device="gpu"))
    loss.backward()
    assert np.isnan(loss.item())
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.zeros((2, 3)))
    # a target whose probability is 0 costs inf; the other scores' gradients stay finite
    x.grad = None
    loss = F.cross_entropy(x, rustdl.tensor(np.array([2, 1]), device="gpu"))
    loss.backward()
    assert loss.item() == np.inf
    assert np.isfinite(x.grad.cpu().numpy()).all()
    for bad in [3, -1, 7]:
        with pytest.raises(IndexError, match="out of range for 3 classes"):
            F.cross_entropy(x, rustdl.tensor(np.array([0, bad]), device="gpu"))


def test_fused_cross_entropy_double_backward_matches_cpu():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    t = np.array([0, 1, 2, 4, -100, 3])
    out = {}
    for dev in ["cpu", "gpu"]:
        xt = rustdl.tensor(x, device=dev, requires_grad=True)
        w = rustdl.tensor(np.array([1, 2, 3, 4, 5], np.float32), device=dev)
        loss = F.cross_entropy(xt, rustdl.tensor(t, device=dev), weight=w, label_smoothing=0.1)
        (gx,) = rustdl.autograd.grad(loss, xt, create_graph=True)
        (gx * gx).sum().backward()
        out[dev] = xt.grad.cpu().numpy()
    np.testing.assert_allclose(out["gpu"], out["cpu"], rtol=1e-4, atol=1e-7)


def test_dispatch_trace_names_kernels_and_grids():
    a = rustdl.rand(300, device="gpu")
    b = rustdl.rand(300, device="gpu")
    with rustdl.gpu.trace() as t:
        (a * b).sum().item()
    # one elementwise product of 300 values (256 per workgroup), then its sum
    assert t[0] == ("binary_map", (2, 1, 1))
    assert t[-1][0].startswith("reduce")
    assert all(len(g) == 3 and min(g) >= 1 for _, g in t)
    with rustdl.gpu.trace() as t2:
        pass
    assert t2 == []
    # nested traces: the outer one gets its own dispatches and the inner one's, in order
    with rustdl.gpu.trace() as outer:
        a * b
        with rustdl.gpu.trace() as inner:
            a + b
            a - b
        a / b
    assert len(inner) == 2 and len(outer) == 4
    assert outer[1:3] == inner


# ---------- dispatches per training step ----------


def mlp(device):
    return nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    ).to(device)


def lenet(device):
    # LeNet-5 with out-of-place ReLUs (an in-place one adds a write-back per activation)
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
    ).to(device)


def train_setup(build, shape, device="gpu", seed=0, opt_kind="adam"):
    rustdl.manual_seed(seed)
    model = build(device)
    if opt_kind == "adam":
        opt = rustdl.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = rustdl.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = rustdl.zeros(*shape, device=device)
    y = rustdl.zeros(shape[0], dtype=rustdl.int64, device=device)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, opt, x, y, step


def test_mlp_step_takes_at_most_20_dispatches_with_no_copies_before_products():
    _, _, _, _, step = train_setup(mlp, (64, 784))
    step()
    with rustdl.gpu.trace() as t:
        step()
    # 59 before the fused loss, the copy-free products and the multi-parameter optimizer
    assert len(t) <= 20, collections.Counter(k for k, _ in t)
    # no transposing copies before the products, no separate bias adds
    assert not any(k == "copy_view" for k, _ in t)


def test_lenet_step_dispatches_and_matmul_grids():
    _, _, _, _, step = train_setup(lenet, (64, 1, 28, 28))
    step()
    with rustdl.gpu.trace() as t:
        step()
    # 93 before the fused loss, the copy-free products and convolutions and the
    # multi-parameter optimizer
    assert len(t) <= 45, collections.Counter(k for k, _ in t)
    # conv1's weight gradient, one 64x64 tile over K = 64 * 28 * 28 = 50,176, runs split into
    # 49 runs of at most 64 k-slices of 16 (split-K) rather than on one workgroup
    assert ("matmul", (1, 1, 49)) in t


@pytest.mark.parametrize("opt_kind", ["adam", "sgd"])
def test_conv_net_on_gpu_matches_cpu_after_training_steps(opt_kind):
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((3, 8, 1, 28, 28)).astype(np.float32)
    ys = rng.integers(0, 10, (3, 8))
    params = {}
    for dev in ["cpu", "gpu"]:
        model, _, x, y, step = train_setup(lenet, (8, 1, 28, 28), dev, opt_kind=opt_kind)
        for xb, yb in zip(xs, ys):
            x.copy_(rustdl.tensor(xb))
            y.copy_(rustdl.tensor(yb))
            step()
        params[dev] = [p.detach().cpu().numpy() for p in model.parameters()]
    for a, b in zip(params["cpu"], params["gpu"]):
        np.testing.assert_allclose(b, a, rtol=2e-3, atol=2e-4)


# ---------- capture and replay ----------


def batches(shape, n, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, shape[0])) for _ in range(n)]


@pytest.mark.parametrize("build,shape", [(mlp, (16, 784)), (lenet, (8, 1, 28, 28))])
@pytest.mark.parametrize("opt_kind", ["adam", "sgd"])
def test_replayed_training_equals_live_training(build, shape, opt_kind):
    data = batches(shape, 6)
    m1, _, x1, y1, live_step = train_setup(build, shape, opt_kind=opt_kind)
    live = []
    for xb, yb in data:
        x1.copy_(rustdl.tensor(xb))
        y1.copy_(rustdl.tensor(yb))
        live.append(live_step().item())
    m2, opt2, x2, y2, step2 = train_setup(build, shape, opt_kind=opt_kind)
    fast = rustdl.gpu.capture(step2)
    replayed = []
    before = rustdl.gpu.stats()["replays"]
    for xb, yb in data:
        x2.copy_(rustdl.tensor(xb))
        y2.copy_(rustdl.tensor(yb))
        replayed.append(fast().item())
    # one warm-up step, one captured step, then replays
    assert rustdl.gpu.stats()["replays"] - before == len(data) - 2
    np.testing.assert_array_equal(np.array(replayed), np.array(live))
    for a, b in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.detach().cpu().numpy(), b.detach().cpu().numpy())
    if opt_kind == "adam":
        steps = {st["step"] for st in opt2.state.values()}
        assert steps == {len(data)}


def test_graph_replay_records_the_captured_dispatches_only():
    _, _, x, y, step = train_setup(mlp, (16, 784))
    step()
    g = rustdl.gpu.Graph()
    with rustdl.gpu.graph(g):
        loss = step()
    with rustdl.gpu.trace() as t:
        g.replay()
    assert len(t) == g.dispatches > 0
    assert [k for k, _ in t] == [k for k in g.kernels() if k not in ("copy", "fill")]
    assert np.isfinite(loss.item())


def test_graph_owned_memory_is_not_handed_to_new_tensors():
    _, _, x, y, step = train_setup(mlp, (16, 784))
    step()
    g = rustdl.gpu.Graph()
    with rustdl.gpu.graph(g):
        step()
    # tensors made after the capture, then replays: their values must stay untouched
    keep = [rustdl.full((n,), float(n), device="gpu") for n in (10, 100, 1000, 16 * 256, 784 * 256)]
    for _ in range(3):
        g.replay()
    for t in keep:
        np.testing.assert_array_equal(t.cpu().numpy(), np.full(t.shape, float(t.shape[0]), np.float32))


def test_uploads_inside_a_capture_are_replayed_in_order():
    w = rustdl.ones(5, device="gpu")
    out = rustdl.zeros(5, device="gpu")

    def step():
        c = rustdl.tensor(np.arange(5, dtype=np.float32), device="gpu")
        out.copy_(w * c + out)

    step()
    g = rustdl.gpu.Graph()
    with rustdl.gpu.graph(g):
        step()
    # something else reuses freed memory between replays
    junk = [rustdl.full((5,), 7.0, device="gpu") * 3.0 for _ in range(4)]
    g.replay()
    g.replay()
    np.testing.assert_array_equal(out.cpu().numpy(), 4 * np.arange(5, dtype=np.float32))
    assert all((j.cpu().numpy() == 21.0).all() for j in junk)


def test_small_uploads_in_one_batch_keep_program_order_and_overflow_safely():
    # small uploads are staged per batch and copied in command order: each value must be the
    # one written at that point of the program, also where freed buffers are reused at once,
    # and past the staging area's size (which submits the batch early)
    rustdl.gpu.synchronize()
    rng = np.random.default_rng(3)
    acc = rustdl.zeros(64, device="gpu")
    expect = np.zeros(64, np.float32)
    kept = []
    for i in range(200):
        n = int(rng.integers(1, 65))
        vals = rng.standard_normal(n).astype(np.float32)
        t = rustdl.tensor(vals, device="gpu")  # an upload of n floats
        s = rustdl.full((64,), float(i % 7), device="gpu")  # a small fill: also staged
        acc = acc + s
        expect = expect + np.float32(i % 7)
        acc[:n] += t
        expect[:n] += vals
        if i % 50 == 0:
            kept.append((t, vals))
        del t, s  # their buffers go back to the pool and are handed out again next round
    np.testing.assert_allclose(acc.cpu().numpy(), expect, rtol=1e-5, atol=1e-4)
    for t, vals in kept:
        np.testing.assert_array_equal(t.cpu().numpy(), vals)
    # uploads alone, no dispatch between them: 300 x 1 KiB is past one batch's staging area
    rustdl.gpu.synchronize()
    before = rustdl.gpu.stats()["submits"]
    data = [rng.standard_normal(256).astype(np.float32) for _ in range(300)]
    ts = [rustdl.tensor(d, device="gpu") for d in data]
    assert rustdl.gpu.stats()["submits"] > before  # the staging area filled and was submitted
    for t, d in zip(ts, data):
        np.testing.assert_array_equal(t.cpu().numpy(), d)


def test_timing_events_measure_device_time_between_records(monkeypatch):
    # rustdl.cuda takes a software adapter (lavapipe) for the GPU only when asked
    monkeypatch.setenv("RUSTDL_COMPAT_DEVICE", "gpu")
    a = rustdl.randn(256, 256, device="gpu")
    e = [rustdl.gpu.Event() for _ in range(3)]
    e[0].record()
    b = a @ a
    e[1].record()
    c = b @ a + 1.0
    e[2].record()
    t01, t12, t02 = e[0].elapsed_time(e[1]), e[1].elapsed_time(e[2]), e[0].elapsed_time(e[2])
    # device timestamps: non-negative, ordered, and additive over consecutive intervals
    assert all(np.isfinite(t) and t >= 0 for t in (t01, t12, t02))
    assert t02 == pytest.approx(t01 + t12, rel=1e-9, abs=1e-9)
    assert e[2].elapsed_time(e[0]) == pytest.approx(-t02, rel=1e-9, abs=1e-9)
    # recording again moves the mark; the work between the marks still computed right
    e[0].record()
    assert e[2].elapsed_time(e[0]) >= 0
    np.testing.assert_allclose(c.cpu().numpy(), b.cpu().numpy() @ a.cpu().numpy() + 1.0, rtol=1e-4, atol=1e-3)
    # the torch.cuda spelling times on the device too
    s, t = rustdl.cuda.Event(enable_timing=True), rustdl.cuda.Event(enable_timing=True)
    assert s._gpu is not None
    s.record()
    t.record()
    assert t.elapsed_time(s) <= 0 <= s.elapsed_time(t)


def test_timing_event_misuse_is_a_clear_error():
    start, end = rustdl.gpu.Event(), rustdl.gpu.Event()
    with pytest.raises(ValueError, match="recorded"):
        start.elapsed_time(end)
    start.record()
    with pytest.raises(TypeError, match="rustdl.gpu.Event"):
        start.elapsed_time(1.0)
    with pytest.raises(ValueError, match="expected a GPU device"):
        rustdl.gpu.Event(device="cpu")
    with pytest.raises(ValueError, match="expected a GPU device index"):
        rustdl.gpu.Event(device=-1)
    with pytest.raises(RuntimeError, match="gpu:5 does not exist"):
        rustdl.gpu.Event(device=5)
    w = rustdl.ones(4, device="gpu")
    g = rustdl.gpu.Graph()
    with pytest.raises(RuntimeError, match="captured"):
        with rustdl.gpu.graph(g):
            y = w * 2.0
            end.record()
    # the device is usable afterwards and the events still work
    end.record()
    assert start.elapsed_time(end) >= 0
    np.testing.assert_array_equal((w * 2.0).cpu().numpy(), np.full(4, 2.0, np.float32))
    del y


def test_what_a_capture_refuses_is_a_clear_error_and_leaves_the_device_usable():
    _, _, x, y, step = train_setup(mlp, (4, 784))
    g = rustdl.gpu.Graph()
    # the optimizer's state would be created inside the capture
    with pytest.raises(RuntimeError, match="run the step once before capturing"):
        with rustdl.gpu.graph(g):
            step()
    step()
    with pytest.raises(RuntimeError, match="not allowed while a step is being captured"):
        with rustdl.gpu.graph(g):
            step().item()
    with pytest.raises(RuntimeError, match="nothing captured"):
        rustdl.gpu.Graph().replay()
    # the device still works and captures again
    assert (rustdl.ones(3, device="gpu") * 2).cpu().numpy().tolist() == [2.0, 2.0, 2.0]
    with rustdl.gpu.graph(g):
        loss = step()
    g.replay()
    assert np.isfinite(loss.item())


def test_replays_follow_a_learning_rate_schedule_and_other_changes_need_a_new_capture():
    data = batches((8, 784), 6)
    m1, opt1, x1, y1, live_step = train_setup(mlp, (8, 784))
    sched1 = rustdl.optim.lr_scheduler.StepLR(opt1, step_size=2, gamma=0.5)
    m2, opt2, x2, y2, step2 = train_setup(mlp, (8, 784))
    sched2 = rustdl.optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    fast = rustdl.gpu.capture(step2)
    before = rustdl.gpu.stats()["replays"]
    for xb, yb in data:
        for x, y in ((x1, y1), (x2, y2)):
            x.copy_(rustdl.tensor(xb))
            y.copy_(rustdl.tensor(yb))
        live_step()
        fast()
        sched1.step()
        sched2.step()
    # one warm-up and one captured step; every later one a replay at the scheduled rate
    assert rustdl.gpu.stats()["replays"] - before == len(data) - 2
    for a, b in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.detach().cpu().numpy(), b.detach().cpu().numpy())
    # a graph whose optimizer changed refuses to replay
    g = rustdl.gpu.Graph()
    with rustdl.gpu.graph(g):
        step2()
    opt2.param_groups[0]["betas"] = (0.5, 0.9)
    with pytest.raises(ValueError, match="capture the step again"):
        g.replay()


def _fit_digits(capture, dropout=False, scheduler=False, batchnorm=False):
    from rustdl.data import DataLoader, TensorDataset
    from rustdl.train import fit
    from sklearn.datasets import load_digits

    d = load_digits()
    x = rustdl.tensor((d.data[:300] / 16.0).astype(np.float32))
    y = rustdl.tensor(d.target[:300].astype(np.int64))
    rustdl.manual_seed(0)
    layers = [nn.Linear(64, 32)] + ([nn.BatchNorm1d(32)] if batchnorm else []) + [nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(0.2))
    model = nn.Sequential(*layers, nn.Linear(32, 10))
    opt = rustdl.optim.Adam(model.parameters(), lr=1e-2)
    sched = None
    if scheduler == "step":
        sched = rustdl.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    elif scheduler == "onecycle":
        # steps after every batch (the Fashion-MNIST demo's schedule)
        sched = rustdl.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, epochs=3, steps_per_epoch=5)
    # 300 = 4 batches of 64 and one of 44: two batch shapes
    loader = DataLoader(TensorDataset(x, y), batch_size=64)
    hist = fit(
        model,
        loader,
        nn.CrossEntropyLoss(),
        opt,
        epochs=3,
        device="gpu",
        progress=False,
        capture=capture,
        scheduler=sched,
    )
    return hist, [p.detach().cpu().numpy() for p in model.parameters()]


@pytest.mark.parametrize(
    "scheduler,dropout,batchnorm",
    [(None, False, False), ("step", False, False), ("onecycle", True, True)],
)
def test_fit_with_capture_trains_exactly_like_fit_without(scheduler, dropout, batchnorm):
    kw = {"scheduler": scheduler, "dropout": dropout, "batchnorm": batchnorm}
    before = rustdl.gpu.stats()["replays"]
    h1, p1 = _fit_digits(capture=True, **kw)
    replays = rustdl.gpu.stats()["replays"] - before
    h0, p0 = _fit_digits(capture=False, **kw)
    assert replays > 0
    np.testing.assert_allclose(h1["loss"], h0["loss"], rtol=1e-6)
    for a, b in zip(p1, p0):
        np.testing.assert_array_equal(a, b)


def test_fit_with_capture_and_dropout_draws_what_live_training_draws():
    before = rustdl.gpu.stats()["replays"]
    h1, p1 = _fit_digits(capture=True, dropout=True)
    assert rustdl.gpu.stats()["replays"] > before
    h0, p0 = _fit_digits(capture=False, dropout=True)
    np.testing.assert_allclose(h1["loss"], h0["loss"], rtol=1e-6)
    for a, b in zip(p1, p0):
        np.testing.assert_array_equal(a, b)


def test_fit_with_capture_trains_live_when_the_step_reads_values_back(capsys):
    from rustdl.data import DataLoader, TensorDataset
    from rustdl.train import fit

    x = rustdl.randn(96, 8)
    y = rustdl.randint(0, 3, (96,))
    model = nn.Sequential(nn.Linear(8, 3))
    opt = rustdl.optim.SGD(model.parameters(), lr=0.1)

    def loss_fn(out, target):
        loss = F.cross_entropy(out, target)
        assert np.isfinite(loss.item())  # a read-back inside the step
        return loss

    loader = DataLoader(TensorDataset(x, y), batch_size=32)
    h = fit(model, loader, loss_fn, opt, epochs=2, device="gpu", progress=False, capture=True)
    assert len(h["loss"]) == 2 and all(np.isfinite(h["loss"]))
    assert "training without capture" in capsys.readouterr().out


def test_dropout_in_a_captured_step_draws_fresh_numbers_like_live_training():
    w = rustdl.ones(1000, device="gpu")
    outs = {}
    for mode in ("live", "captured"):
        rustdl.manual_seed(3)
        out = rustdl.zeros(1000, device="gpu")

        def step(out=out):
            out.copy_(F.dropout(w, 0.5, training=True))

        fn = step if mode == "live" else rustdl.gpu.capture(step)
        seen = []
        for _ in range(4):
            fn()
            seen.append(out.cpu().numpy().copy())
        outs[mode] = seen
    for a, b in zip(outs["live"], outs["captured"]):
        np.testing.assert_array_equal(a, b)
    # and the masks differ from step to step
    assert not np.array_equal(outs["captured"][2], outs["captured"][3])


# ---------- convolutions as products ----------

CONV_CASES = [
    # (N, C, H, W), (O, kh, kw), stride, padding, dilation, bias, groups
    ((2, 3, 9, 8), (4, 3, 2), (2, 1), (1, 1), (1, 2), True, 1),
    ((3, 6, 14, 14), (16, 5, 5), (1, 1), (0, 0), (1, 1), True, 1),  # positions a multiple of 4
    ((2, 64, 8, 8), (64, 3, 3), (1, 1), (1, 1), (1, 1), False, 1),  # vec4 loads (k = 576)
    ((1, 1, 28, 28), (6, 5, 5), (1, 1), (2, 2), (1, 1), True, 1),
    ((4, 8, 7, 5), (6, 1, 1), (1, 1), (0, 0), (1, 1), True, 2),
    ((64, 1, 28, 28), (6, 5, 5), (1, 1), (2, 2), (1, 1), True, 1),  # split-K weight gradient
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("transposed_grad", [False, True])
def test_conv2d_forward_and_gradients_match_cpu(case, transposed_grad):
    (n, c, h, w), (o, kh, kw), stride, padding, dilation, bias, groups = case
    rng = np.random.default_rng(n * 100 + c)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = (rng.standard_normal((o, c // groups, kh, kw)) * 0.3).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32) if bias else None
    res = {}
    for dev in ["cpu", "gpu"]:
        xt = rustdl.tensor(x, device=dev, requires_grad=True)
        wtt = rustdl.tensor(wt, device=dev, requires_grad=True)
        bt = rustdl.tensor(b, device=dev, requires_grad=True) if bias else None
        y = F.conv2d(xt, wtt, bt, stride=stride, padding=padding, dilation=dilation, groups=groups)
        gy = rustdl.tensor(np.random.default_rng(7).standard_normal(y.shape).astype(np.float32), device=dev)
        if transposed_grad:
            # the output gradient reaches the convolution as a non-contiguous view
            (y.transpose(2, 3) * gy.transpose(2, 3)).sum().backward()
        else:
            (y * gy).sum().backward()
        res[dev] = [y.detach().cpu().numpy(), xt.grad.cpu().numpy(), wtt.grad.cpu().numpy()]
        if bias:
            res[dev].append(bt.grad.cpu().numpy())
    for a, g in zip(res["cpu"], res["gpu"]):
        np.testing.assert_allclose(g, a, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(a).max())))


# ---------- several parameters per optimizer dispatch ----------

OPTIMIZERS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1, "maximize": True}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ("Adamax", {"lr": 0.01}),
    ("NAdam", {"lr": 0.01}),
    ("RAdam", {"lr": 0.01}),
    ("Adadelta", {"lr": 1.0}),
]
SIZES = [(1,), (3, 5), (67,), (129, 3), (0,), (4, 4), (7,), (2, 3, 5), (31,)]


@pytest.mark.parametrize("name,kw", OPTIMIZERS)
def test_optimizers_update_many_parameters_per_dispatch_as_the_cpu(name, kw):
    rng = np.random.default_rng(len(name))
    init = [rng.standard_normal(s).astype(np.float32) for s in SIZES]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SIZES] for _ in range(4)]
    final = {}
    for dev in ["cpu", "gpu"]:
        ps = [rustdl.tensor(v, device=dev, requires_grad=True) for v in init]
        opt = getattr(rustdl.optim, name)(ps, **kw)
        for step, gs in enumerate(grads):
            for k, (p, g) in enumerate(zip(ps, gs)):
                if k == 2 and step == 1:
                    p.grad = None  # a parameter without a gradient this step
                elif k == 5 and g.ndim == 2:
                    # a non-contiguous gradient view
                    p.grad = rustdl.tensor(np.ascontiguousarray(g.T), device=dev).t()
                else:
                    p.grad = rustdl.tensor(g, device=dev)
            with rustdl.gpu.trace() as t:
                opt.step()
        final[dev] = [p.detach().cpu().numpy() for p in ps]
        if dev == "gpu":
            kernels = [k for k, _ in t]
            # nine parameters (one empty) in at most three dispatches of four slots
            assert kernels.count("optim_multi") >= 2, kernels
    for a, b in zip(final["cpu"], final["gpu"]):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_a_gradient_aliasing_another_parameter_is_read_safely():
    vals = [np.arange(6, dtype=np.float32) + k for k in range(3)]
    out = {}
    for dev in ["cpu", "gpu"]:
        ps = [rustdl.tensor(v, device=dev, requires_grad=True) for v in vals]
        for p in ps:
            p.grad = rustdl.ones(6, device=dev)
        ps[1].grad = ps[0].detach()  # the gradient is another parameter's memory
        rustdl.optim.SGD(ps, lr=0.5).step()
        out[dev] = [p.detach().cpu().numpy() for p in ps]
    for a, b in zip(out["cpu"], out["gpu"]):
        np.testing.assert_array_equal(b, a)


def bn_reference(x, w, b, gy, eps, momentum, rm, rv, training):
    """Batch normalisation over dim 1 as PyTorch defines it, in float64 numpy: the output, the
    input / weight / bias gradients for output gradient ``gy`` and the running statistics after
    the step."""
    x, gy = x.astype(np.float64), gy.astype(np.float64)
    c = x.shape[1]
    ax = tuple(i for i in range(x.ndim) if i != 1)
    bs = [1, c] + [1] * (x.ndim - 2)
    count = x.size // c if c else 0
    if training:
        mu = x.mean(axis=ax) if count else np.zeros(c)
        var = x.var(axis=ax) if count else np.zeros(c)
        if count:
            rm = (1 - momentum) * rm + momentum * mu
            rv = (1 - momentum) * rv + momentum * var * count / max(count - 1, 1)
    else:
        mu, var = rm, rv
    istd = 1 / np.sqrt(var + eps)
    xhat = (x - mu.reshape(bs)) * istd.reshape(bs)
    wv = np.ones(c) if w is None else w.astype(np.float64)
    y = xhat * wv.reshape(bs) + (0 if b is None else b.astype(np.float64).reshape(bs))
    if training and count:
        g = gy - gy.mean(axis=ax, keepdims=True) - xhat * (gy * xhat).mean(axis=ax, keepdims=True)
    else:
        g = gy
    dx = g * (wv * istd).reshape(bs)
    return y, dx, (gy * xhat).sum(axis=ax), gy.sum(axis=ax), rm, rv


@pytest.mark.parametrize("device", ["cpu", "gpu"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
@pytest.mark.parametrize(
    "shape", [(8, 16, 5, 5), (3, 5, 7), (64, 6, 28, 28), (2, 129), (2, 1, 1, 1), (0, 4, 3)]
)
def test_batch_norm_matches_the_float64_definition(device, training, affine, shape):
    rng = np.random.default_rng(sum(shape))
    c = shape[1]
    xn = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    gyn = rng.standard_normal(shape).astype(np.float32)
    wn = rng.standard_normal(c).astype(np.float32)
    bn = rng.standard_normal(c).astype(np.float32)
    rmn = rng.standard_normal(c).astype(np.float32)
    rvn = rng.uniform(0.5, 2, c).astype(np.float32)
    eps, momentum = 1e-3, 0.3
    w = rustdl.tensor(wn, device=device, requires_grad=True) if affine != "none" else None
    b = rustdl.tensor(bn, device=device, requires_grad=True) if affine == "both" else None
    rm, rv = rustdl.tensor(rmn, device=device), rustdl.tensor(rvn, device=device)
    x = rustdl.tensor(xn, device=device, requires_grad=True)
    y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=momentum, eps=eps)
    (y * rustdl.tensor(gyn, device=device)).sum().backward()
    ref = bn_reference(
        xn,
        wn if w is not None else None,
        bn if b is not None else None,
        gyn,
        eps,
        momentum,
        rmn,
        rvn,
        training,
    )
    # one value per channel (N = 2, 1×1) makes x̂ = ±1 and the input gradient a difference of
    # nearly equal terms: compared with an absolute tolerance of the float32 inputs' size
    tol = dict(rtol=1e-4, atol=2e-4)
    np.testing.assert_allclose(y.detach().cpu().numpy(), ref[0], **tol)
    np.testing.assert_allclose(x.grad.cpu().numpy(), ref[1], **tol)
    if w is not None:
        np.testing.assert_allclose(w.grad.cpu().numpy(), ref[2], rtol=1e-4, atol=2e-3)
    if b is not None:
        np.testing.assert_allclose(b.grad.cpu().numpy(), ref[3], rtol=1e-4, atol=2e-3)
    np.testing.assert_allclose(rm.cpu().numpy(), ref[4], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rv.cpu().numpy(), ref[5], rtol=1e-5, atol=1e-6)


def test_batch_norm_takes_a_few_dispatches_per_layer():
    """Statistics, running-statistics update, coefficients and the affine map are one dispatch
    each (composed, a training layer took 25 dispatches forward and 20 backward)."""
    m = nn.BatchNorm2d(16).to("gpu")
    x = rustdl.randn(8, 16, 6, 6, device="gpu", requires_grad=True)
    gy = rustdl.randn(8, 16, 6, 6, device="gpu")
    m(x)
    with rustdl.gpu.trace() as fwd:
        y = m(x)
    with rustdl.gpu.trace() as bwd:
        y.backward(gy)
    # forward: num_batches_tracked += 1, moments, running update (moved into the buffers, no
    # copy), coefficients, affine map
    assert [k for k, _ in fwd].count("channel_moments") == 1
    assert len(fwd) <= 5, [k for k, _ in fwd]
    # backward: the two channel sums, the gradient coefficients, the input gradient's map
    assert len(bwd) <= 4, [k for k, _ in bwd]
    m.eval()
    with rustdl.gpu.trace() as ev:
        m(x)
    assert [k for k, _ in ev] == ["channel_coeffs", "channel_affine"]


def test_in_place_results_move_into_the_tensor_without_a_copy_and_views_see_them():
    x = rustdl.tensor(np.arange(6, dtype=np.float32), device="gpu")
    v = x[2:5]
    with rustdl.gpu.trace() as t:
        x.add_(1)
        x.mul_(x)
    assert [k for k, _ in t] == ["unary_map", "binary_map"]
    np.testing.assert_array_equal(x.cpu().numpy(), (np.arange(6) + 1.0) ** 2)
    np.testing.assert_array_equal(v.cpu().numpy(), (np.arange(2, 5) + 1.0) ** 2)
    # a view written in place is copied into its base's memory
    v.sub_(1)
    np.testing.assert_array_equal(x.cpu().numpy()[2:5], (np.arange(2, 5) + 1.0) ** 2 - 1)


def test_a_buffer_a_captured_graph_reads_keeps_taking_in_place_writes():
    """A captured step reads its tensors' buffers by identity: an in-place write between
    replays must land in the same buffer (copied, not moved), or replays read stale values."""
    w = rustdl.ones(4, device="gpu")
    x = rustdl.ones(4, device="gpu")
    out = rustdl.zeros(4, device="gpu")
    out.copy_(x * w)
    g = rustdl.gpu.Graph()
    with rustdl.gpu.graph(g):
        out.copy_(x * w)
    g.replay()
    with rustdl.no_grad():
        w.mul_(3)
        x.add_(1)
    g.replay()
    np.testing.assert_array_equal(out.cpu().numpy(), np.full(4, 6.0))
