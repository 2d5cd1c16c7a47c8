"""optim.swa_utils (AveragedModel, SWALR, update_bn) and rustdl.typename, against numpy and the
closed-form schedules."""

import math

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
from rustdl.optim.swa_utils import (
    SWALR,
    AveragedModel,
    get_ema_avg_fn,
    get_ema_multi_avg_fn,
    get_swa_avg_fn,
    update_bn,
)


def _np(t):
    return t.detach().cpu().numpy()


def _net():
    return nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))


def _set(model, k):
    """Gives the model's parameters values depending on step k; runs one batch to move BN stats."""
    with rustdl.no_grad():
        model[0].weight.copy_(rustdl.arange(6.0).reshape(2, 3) * (k + 1) - k**2)
        model[0].bias.fill_(float(k) * 0.5)
    model(rustdl.arange(12.0).reshape(4, 3) * (k + 1))


def test_averaged_model_is_the_mean_of_the_updates():
    model = _net()
    avg = AveragedModel(model)
    assert avg.module is not model and int(avg.n_averaged.item()) == 0
    weights, biases = [], []
    for k in range(5):
        _set(model, k)
        avg.update_parameters(model)
        weights.append(_np(model[0].weight).copy())
        biases.append(_np(model[0].bias).copy())
    np.testing.assert_allclose(_np(avg.module[0].weight), np.mean(weights, axis=0), rtol=1e-6)
    np.testing.assert_allclose(_np(avg.module[0].bias), np.mean(biases, axis=0), rtol=1e-6)
    assert int(avg.n_averaged.item()) == 5
    # buffers are copied from the model, not averaged
    np.testing.assert_allclose(_np(avg.module[1].running_mean), _np(model[1].running_mean))
    # PyTorch's keys: the counter, then the copy's
    assert list(avg.state_dict())[:3] == ["n_averaged", "module.0.weight", "module.0.bias"]
    # calling it runs the averaged copy
    x = rustdl.ones(2, 3)
    avg.eval()
    ref = avg.module(x)
    np.testing.assert_allclose(_np(avg(x)), _np(ref))


def test_ema_multi_avg_fn_with_buffers():
    model = _net()
    decay = 0.9
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    expect_w = expect_rm = None
    for k in range(4):
        _set(model, k)
        ema.update_parameters(model)
        w, rm = _np(model[0].weight), _np(model[1].running_mean)
        if expect_w is None:
            expect_w, expect_rm = w.copy(), rm.copy()
        else:
            expect_w = decay * expect_w + (1 - decay) * w
            expect_rm = decay * expect_rm + (1 - decay) * rm
    np.testing.assert_allclose(_np(ema.module[0].weight), expect_w, rtol=1e-5)
    np.testing.assert_allclose(_np(ema.module[1].running_mean), expect_rm, rtol=1e-5)
    # the integer counter follows the model's
    assert int(ema.module[1].num_batches_tracked.item()) == int(model[1].num_batches_tracked.item())


def test_custom_avg_fn_and_factories():
    model = nn.Linear(2, 1)
    seen = []

    def avg_fn(averaged, current, n):
        seen.append(int(n.item()))
        return averaged * 0.5 + current * 0.5

    avg = AveragedModel(model, avg_fn=avg_fn)
    vals = [1.0, 3.0, 7.0]
    for v in vals:
        with rustdl.no_grad():
            model.weight.fill_(v)
        avg.update_parameters(model)
    assert seen == [1, 1, 2, 2]  # weight and bias at n = 1 and n = 2
    np.testing.assert_allclose(_np(avg.module.weight), [[(1 * 0.5 + 3 * 0.5) * 0.5 + 7 * 0.5] * 2])
    a, c = rustdl.tensor([2.0]), rustdl.tensor([4.0])
    assert float(get_ema_avg_fn(0.75)(a, c, 3).item()) == pytest.approx(0.75 * 2 + 0.25 * 4)
    assert float(get_swa_avg_fn()(a, c, rustdl.tensor(3)).item()) == pytest.approx(2 + (4 - 2) / 4)
    with pytest.raises(ValueError, match="decay"):
        get_ema_multi_avg_fn(1.5)
    with pytest.raises(ValueError, match="Only one"):
        AveragedModel(model, avg_fn=avg_fn, multi_avg_fn=get_ema_multi_avg_fn())


def test_averaged_model_rejects_a_different_model():
    avg = AveragedModel(nn.Linear(2, 1))
    with pytest.raises(ValueError):
        avg.update_parameters(nn.Linear(3, 1))
    with pytest.raises(ValueError):
        avg.update_parameters(nn.Sequential(nn.Linear(2, 1), nn.Linear(1, 1)))


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("anneal_epochs", [0, 1, 4])
def test_swalr_closed_form(strategy, anneal_epochs):
    p = nn.Parameter(rustdl.zeros(2))
    opt = rustdl.optim.SGD([p], lr=1.0)
    sched = SWALR(opt, swa_lr=0.1, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    f = (lambda t: (1 - math.cos(math.pi * t)) / 2) if strategy == "cos" else (lambda t: t)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(7):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    expect = []
    for s in range(8):
        t = 1.0 if anneal_epochs == 0 else min(1.0, s / anneal_epochs)  # 0: swa_lr at once
        a = f(t)
        expect.append(0.1 * a + 1.0 * (1 - a))
    np.testing.assert_allclose(lrs, expect, rtol=1e-12)
    assert sched.get_last_lr() == [lrs[-1]]


def test_swalr_per_group_and_errors():
    a, b = nn.Parameter(rustdl.zeros(1)), nn.Parameter(rustdl.zeros(1))
    opt = rustdl.optim.SGD([{"params": [a], "lr": 1.0}, {"params": [b], "lr": 0.5}], lr=1.0)
    sched = SWALR(opt, swa_lr=[0.2, 0.05], anneal_epochs=2, anneal_strategy="linear")
    for _ in range(3):
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.2, 0.05])
    with pytest.raises(ValueError, match="anneal_strategy"):
        SWALR(opt, swa_lr=0.1, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs"):
        SWALR(opt, swa_lr=0.1, anneal_epochs=-1)
    with pytest.raises(ValueError, match="param_groups"):
        SWALR(opt, swa_lr=[0.1, 0.2, 0.3])
    with pytest.raises(TypeError):
        SWALR(object(), swa_lr=0.1)


def test_update_bn_recomputes_running_stats():
    rs = np.random.RandomState(0)
    batches = [rs.randn(8, 3).astype(np.float32) * (i + 1) + i for i in range(3)]
    model = nn.Sequential(nn.BatchNorm1d(3, momentum=0.3))
    with rustdl.no_grad():
        model[0].running_mean.fill_(100.0)
    model.eval()
    loader = [(rustdl.tensor(b), rustdl.zeros(8)) for b in batches]  # (input, label) pairs
    update_bn(loader, model)
    # a cumulative average of the per-batch statistics (unbiased variances), as momentum=None
    np.testing.assert_allclose(
        _np(model[0].running_mean), np.mean([b.mean(0) for b in batches], 0), rtol=1e-5
    )
    np.testing.assert_allclose(
        _np(model[0].running_var), np.mean([b.var(0, ddof=1) for b in batches], 0), rtol=1e-5
    )
    assert int(model[0].num_batches_tracked.item()) == 3
    assert model[0].momentum == 0.3 and not model.training
    # one batch holding all the data: the plain numpy mean / unbiased variance
    data = np.concatenate(batches)
    update_bn([rustdl.tensor(data)], model)
    np.testing.assert_allclose(_np(model[0].running_mean), data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(_np(model[0].running_var), data.var(0, ddof=1), rtol=1e-5)
    # no BatchNorm: nothing to do
    update_bn(loader, nn.Linear(3, 3))


def test_swa_training_loop_end_to_end():
    rustdl.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    swa = AveragedModel(model)
    opt = rustdl.optim.SGD(model.parameters(), lr=0.05)
    sched = SWALR(opt, swa_lr=0.01, anneal_epochs=2)
    x = rustdl.randn(32, 4)
    y = x.sum(1, keepdim=True)
    snaps = []
    for epoch in range(6):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        if epoch >= 2:
            swa.update_parameters(model)
            sched.step()
            snaps.append(_np(model[3].weight).copy())
    np.testing.assert_allclose(_np(swa.module[3].weight), np.mean(snaps, 0), rtol=1e-5)
    update_bn([x[:16], x[16:]], swa)
    swa.eval()
    assert _np(swa(x)).shape == (32, 1)


def test_typename():
    assert rustdl.typename(rustdl.zeros(2)) == "torch.FloatTensor"
    assert rustdl.typename(rustdl.zeros(2, dtype=rustdl.float64)) == "torch.DoubleTensor"
    assert rustdl.typename(rustdl.zeros(2, dtype=rustdl.int64)) == "torch.LongTensor"
    assert rustdl.typename(nn.Linear(1, 1)) == "rustdl.nn.modules.linear.Linear"
    assert rustdl.typename(nn.Linear) == "rustdl.nn.modules.linear.Linear"
    assert rustdl.typename(3) == "int" and rustdl.typename(int) == "int"
    assert rustdl.typename(np.zeros(1)) == "numpy.ndarray"
    assert rustdl.typename(print) == "print"
