"""Python-level API added for PyTorch programs: RNN/LSTM/GRU, Adadelta, dropout2d on 2-D input,
nn.parallel, and the cuda/accelerator/backends/onnx/jit probes and placeholders.

References are independent numpy implementations of PyTorch's documented equations.
"""

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from rustdl import nn


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_lstm_layer(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """x (T, B, I); PyTorch's LSTM equations, gate order i f g o."""
    outs = []
    for t in range(x.shape[0]):
        g = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, gg, o = np.split(g, 4, axis=1)
        c = sig(f) * c + sig(i) * np.tanh(gg)
        h = sig(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs), h, c


def np_gru_layer(x, h, w_ih, w_hh, b_ih, b_hh):
    outs = []
    for t in range(x.shape[0]):
        gx = x[t] @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        xr, xz, xn = np.split(gx, 3, axis=1)
        hr, hz, hn = np.split(gh, 3, axis=1)
        r, z = sig(xr + hr), sig(xz + hz)
        n = np.tanh(xn + r * hn)
        h = (1 - z) * n + z * h
        outs.append(h)
    return np.stack(outs), h


def P(m, name):
    return getattr(m, name).detach().numpy().astype(np.float64)


def test_lstm_matches_numpy_two_layers_batch_first():
    m = nn.LSTM(3, 5, num_layers=2, batch_first=True).double()
    x = np.random.randn(4, 6, 3)  # (B, T, I)
    h0 = np.random.randn(2, 4, 5)
    c0 = np.random.randn(2, 4, 5)
    out, (hn, cn) = m(rustdl.tensor(x), (rustdl.tensor(h0), rustdl.tensor(c0)))
    seq = x.transpose(1, 0, 2)
    hs, cs = [], []
    for layer in range(2):
        s = f"_l{layer}"
        seq, h, c = np_lstm_layer(
            seq,
            h0[layer],
            c0[layer],
            P(m, "weight_ih" + s),
            P(m, "weight_hh" + s),
            P(m, "bias_ih" + s),
            P(m, "bias_hh" + s),
        )
        hs.append(h)
        cs.append(c)
    assert out.shape == (4, 6, 5)
    assert_close(out.detach().numpy(), seq.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)
    assert_close(hn.detach().numpy(), np.stack(hs), rtol=1e-10, atol=1e-12)
    assert_close(cn.detach().numpy(), np.stack(cs), rtol=1e-10, atol=1e-12)


def test_lstm_parameter_names_and_shapes_follow_pytorch():
    m = nn.LSTM(10, 20, num_layers=2, bidirectional=True)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes["weight_ih_l0"] == (80, 10)
    assert shapes["weight_hh_l0_reverse"] == (80, 20)
    assert shapes["weight_ih_l1"] == (80, 40)
    assert shapes["bias_hh_l1_reverse"] == (80,)
    assert len(shapes) == 16
    bound = 1 / np.sqrt(20)
    assert all(np.abs(v.numpy()).max() <= bound for v in m.state_dict().values())


def test_bidirectional_gru_matches_numpy():
    m = nn.GRU(3, 4, bidirectional=True).double()
    x = np.random.randn(5, 2, 3)
    out, hn = m(rustdl.tensor(x))
    z = np.zeros((2, 4))
    fwd, hf = np_gru_layer(
        x, z, P(m, "weight_ih_l0"), P(m, "weight_hh_l0"), P(m, "bias_ih_l0"), P(m, "bias_hh_l0")
    )
    bwd, hb = np_gru_layer(
        x[::-1],
        z,
        P(m, "weight_ih_l0_reverse"),
        P(m, "weight_hh_l0_reverse"),
        P(m, "bias_ih_l0_reverse"),
        P(m, "bias_hh_l0_reverse"),
    )
    assert_close(out.detach().numpy(), np.concatenate([fwd, bwd[::-1]], axis=2), rtol=1e-10, atol=1e-12)
    assert_close(hn.detach().numpy(), np.stack([hf, hb]), rtol=1e-10, atol=1e-12)


def test_rnn_relu_unbatched_and_cells():
    m = nn.RNN(2, 3, nonlinearity="relu").double()
    x = np.random.randn(4, 2)  # unbatched (T, I)
    out, hn = m(rustdl.tensor(x))
    h = np.zeros(3)
    ref = []
    for t in range(4):
        h = np.maximum(
            0,
            x[t] @ P(m, "weight_ih_l0").T
            + P(m, "bias_ih_l0")
            + h @ P(m, "weight_hh_l0").T
            + P(m, "bias_hh_l0"),
        )
        ref.append(h)
    assert out.shape == (4, 3) and hn.shape == (1, 3)
    assert_close(out.detach().numpy(), np.stack(ref), rtol=1e-10, atol=1e-12)

    cell = nn.LSTMCell(2, 3).double()
    xb, hb, cb = np.random.randn(5, 2), np.random.randn(5, 3), np.random.randn(5, 3)
    h1, c1 = cell(rustdl.tensor(xb), (rustdl.tensor(hb), rustdl.tensor(cb)))
    _, rh, rc = np_lstm_layer(
        xb[None], hb, cb, P(cell, "weight_ih"), P(cell, "weight_hh"), P(cell, "bias_ih"), P(cell, "bias_hh")
    )
    assert_close(h1.detach().numpy(), rh, rtol=1e-10, atol=1e-12)
    assert_close(c1.detach().numpy(), rc, rtol=1e-10, atol=1e-12)
    g = nn.GRUCell(2, 3).double()
    hg = g(rustdl.tensor(xb))
    _, rg = np_gru_layer(
        xb[None], np.zeros((5, 3)), P(g, "weight_ih"), P(g, "weight_hh"), P(g, "bias_ih"), P(g, "bias_hh")
    )
    assert_close(hg.detach().numpy(), rg, rtol=1e-10, atol=1e-12)


def test_lstm_gradients_pass_gradcheck():
    rustdl.manual_seed(1)
    m = nn.LSTM(2, 3, batch_first=True).double()
    x = rustdl.randn(2, 3, 2, dtype=rustdl.float64, requires_grad=True)
    assert rustdl.autograd.gradcheck(lambda inp: m(inp)[0].sum() + m(inp)[1][1].square().sum(), [x])
    out, _ = m(x)
    out.sum().backward()
    assert m.weight_hh_l0.grad is not None and m.weight_hh_l0.grad.shape == (12, 3)


def test_lstm_learns_a_sequence_sum():
    rustdl.manual_seed(0)
    m = nn.LSTM(1, 8, batch_first=True)
    head = nn.Linear(8, 1)
    opt = rustdl.optim.Adam([*m.parameters(), *head.parameters()], lr=0.05)
    x = rustdl.rand(64, 5, 1)
    y = x.sum(1)
    first = None
    for _ in range(200):
        out, _ = m(x)
        loss = ((head(out[:, -1]) - y) ** 2).mean()
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * first


def np_adadelta(p, grads, lr=1.0, rho=0.9, eps=1e-6, wd=0.0):
    v = np.zeros_like(p)
    u = np.zeros_like(p)
    for g in grads:
        g = g + wd * p
        v = rho * v + (1 - rho) * g * g
        d = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * d * d
        p = p - lr * d
    return p


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adadelta_matches_numpy(wd):
    p0 = np.random.randn(3, 4)
    grads = [np.random.randn(3, 4) for _ in range(5)]
    p = nn.Parameter(rustdl.tensor(p0))
    opt = rustdl.optim.Adadelta([p], lr=0.5, rho=0.8, weight_decay=wd)
    for g in grads:
        p.grad = rustdl.tensor(g)
        opt.step()
    assert_close(p.detach().numpy(), np_adadelta(p0, grads, lr=0.5, rho=0.8, wd=wd), rtol=1e-10, atol=1e-12)


def test_adadelta_minimises_and_scheduler_sees_lr():
    w = nn.Parameter(rustdl.tensor([3.0, -2.0]))
    opt = rustdl.optim.Adadelta([w], lr=1.0)
    sched = rustdl.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    for _ in range(200):
        opt.zero_grad()
        (w**2).sum().backward()
        opt.step()
    assert float((w**2).sum().item()) < 9.0 + 4.0
    sched.step()
    assert abs(opt.param_groups[0]["lr"] - 0.7) < 1e-12
    with pytest.raises(ValueError):
        rustdl.optim.Adadelta([w], rho=1.5)


def test_dropout2d_on_2d_input_drops_elements_as_pytorch():
    # PyTorch's feature dropout masks (N, C, 1, ...): on a 2-D (N, C) input every element has its
    # own mask entry (mnist_rnn's Dropout2d after an LSTM relies on this; whole rows dropped
    # made it learn far less than PyTorch).
    rustdl.manual_seed(0)
    x = rustdl.ones(200, 50)
    with pytest.warns(UserWarning):
        y = nn.functional.dropout2d(x, 0.5, training=True).numpy()
    assert np.all((y == 0) | (y == 2.0))
    assert 0.45 < (y == 0).mean() < 0.55
    assert (y == 0).all(axis=1).sum() == 0  # P(a row of 50 all dropped) = 2**-50
    rows = (y == 0).sum(axis=1)
    assert rows.std() > 1.0  # rows differ: not one decision per row


def test_dropout2d_on_3d_input_drops_channels_of_n_c_l():
    # A 3-D input is (N, C, L) in PyTorch: one decision per (sample, channel), shared along L.
    rustdl.manual_seed(0)
    y = nn.Dropout2d(0.5)(rustdl.ones(40, 30, 7)).numpy()
    assert np.all(y == y[:, :, :1])  # constant along L
    per_channel = y[:, :, 0]
    assert 0.4 < (per_channel == 0).mean() < 0.6
    assert 0 < (per_channel == 0).sum(axis=1).min() and (per_channel == 0).sum(axis=1).max() < 30


def test_dropout2d_on_4d_input_still_drops_whole_channels():
    rustdl.manual_seed(0)
    y = nn.Dropout2d(0.5)(rustdl.ones(20, 16, 3, 3)).numpy()
    assert np.all(y == y[:, :, :1, :1])
    assert 0.4 < (y[:, :, 0, 0] == 0).mean() < 0.6
    assert_close(nn.Dropout2d(0.5).eval()(rustdl.ones(2, 3, 4, 4)).numpy(), np.ones((2, 3, 4, 4)))


def test_data_parallel_is_transparent_and_ddp_needs_a_process_group():
    net = nn.Linear(3, 2)
    dp = nn.parallel.DataParallel(net, device_ids=[0])
    x = rustdl.randn(4, 3)
    assert_close(dp(x).detach().numpy(), net(x).detach().numpy())
    assert dp.module is net
    assert set(dp.state_dict()) == {"module.weight", "module.bias"}
    assert_close(nn.parallel.data_parallel(net, x, range(1)).detach().numpy(), net(x).detach().numpy())
    with pytest.raises(RuntimeError, match="rustdl.distributed.init_process_group"):
        nn.parallel.DistributedDataParallel(net)


def test_device_probes(monkeypatch):
    monkeypatch.setenv("RUSTDL_COMPAT_DEVICE", "gpu")
    assert rustdl.cuda.is_available() == rustdl.gpu.is_available()
    assert rustdl.accelerator.is_available() == rustdl.gpu.is_available()
    acc = rustdl.accelerator.current_accelerator()
    assert (acc is None) == (not rustdl.gpu.is_available())
    if acc is not None:
        assert acc.type == "gpu"
    # unset: a software adapter (lavapipe) is not an accelerator
    monkeypatch.delenv("RUSTDL_COMPAT_DEVICE")
    hardware = rustdl.gpu.is_available() and rustdl.gpu.adapter_info()["device_type"].lower() != "cpu"
    assert rustdl.cuda.is_available() == hardware == rustdl.accelerator.is_available()
    assert rustdl.cuda.device_count() == (rustdl.gpu.device_count() if hardware else 0)
    monkeypatch.setenv("RUSTDL_COMPAT_DEVICE", "cpu")
    assert not rustdl.cuda.is_available() and rustdl.cuda.device_count() == 0
    assert rustdl.accelerator.current_accelerator() is None
    # cuda.manual_seed seeds only the GPU kernels' stream (PyTorch's leaves the CPU generator)
    rustdl.manual_seed(4)
    rustdl.cuda.manual_seed_all(5)
    assert rustdl.cuda.initial_seed() == 5 and rustdl.initial_seed() == 4
    a = rustdl.rand(3).numpy()
    rustdl.manual_seed(4)
    assert np.array_equal(a, rustdl.rand(3).numpy())
    rustdl.cuda.synchronize()
    rustdl.backends.cudnn.benchmark = True
    rustdl.backends.cudnn.deterministic = True
    assert rustdl.backends.mps.is_available() is False
    assert rustdl.backends.cudnn.is_available() is False


def test_onnx_and_jit_placeholders(tmp_path):
    with pytest.raises(NotImplementedError, match="rustdl.save"):
        rustdl.onnx.export(nn.Linear(1, 1), rustdl.randn(1, 1), "m.onnx")
    f = lambda x: x * 2  # noqa: E731
    assert rustdl.jit.script(f) is f and rustdl.jit.trace(f, rustdl.randn(1)) is f
    # jit.save/load round-trip a (scripted = eager) module through rustdl's checkpoint format
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    x = rustdl.randn(4, 3)
    rustdl.jit.save(rustdl.jit.trace(net, x), tmp_path / "m.pt")
    back = rustdl.jit.load(tmp_path / "m.pt", map_location="cpu")
    assert back is not net and isinstance(back, nn.Sequential)
    np.testing.assert_array_equal(back(x).detach().numpy(), net(x).detach().numpy())
    with pytest.raises(TypeError, match="cannot be pickled"):
        rustdl.jit.save(f, tmp_path / "f.pt")
    rustdl.save(net.state_dict(), tmp_path / "sd.pt")
    with pytest.raises(NotImplementedError, match="rustdl.load"):
        rustdl.jit.load(tmp_path / "sd.pt")
    (tmp_path / "junk.pt").write_bytes(b"PK\x03\x04 not a real archive")
    with pytest.raises(NotImplementedError, match="TorchScript archives from PyTorch"):
        rustdl.jit.load(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        rustdl.jit.load(tmp_path / "missing.pt")
