"""The fused recurrent layer op (`rustdl.nn._fused_rnn.rnn_layer`) against an independent numpy
float64 reference of PyTorch's equations: forward, reverse, per-element lengths, biases, and
gradients (central finite differences of the reference) for all four modes; GPU against CPU;
bad input is a ValueError naming the op and the shapes."""

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from rustdl.nn._fused_rnn import rnn_layer

MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def ref(mode, x, h0, c0, wih, whh, bih, bhh, reverse=False, lengths=None):
    """numpy float64: (output, h_n, c_n) of one layer direction."""
    L, N, _ = x.shape
    H = whh.shape[1]
    lengths = [L] * N if lengths is None else list(lengths)
    bih = np.zeros(wih.shape[0]) if bih is None else bih
    bhh = np.zeros(whh.shape[0]) if bhh is None else bhh
    out = np.zeros((L, N, H))
    hn = np.zeros((N, H))
    cn = np.zeros((N, H))
    for b in range(N):
        h = h0[b].copy()
        c = c0[b].copy() if c0 is not None else np.zeros(H)
        steps = range(lengths[b] - 1, -1, -1) if reverse else range(lengths[b])
        for t in steps:
            gi = wih @ x[t, b] + bih
            gh = whh @ h + bhh
            if mode == "RNN_TANH":
                h = np.tanh(gi + gh)
            elif mode == "RNN_RELU":
                h = np.maximum(gi + gh, 0.0)
            elif mode == "LSTM":
                a = gi + gh
                i, f, g, o = sig(a[:H]), sig(a[H : 2 * H]), np.tanh(a[2 * H : 3 * H]), sig(a[3 * H :])
                c = f * c + i * g
                h = o * np.tanh(c)
            else:
                r = sig(gi[:H] + gh[:H])
                z = sig(gi[H : 2 * H] + gh[H : 2 * H])
                n = np.tanh(gi[2 * H :] + r * gh[2 * H :])
                h = (1 - z) * n + z * h
            out[t, b] = h
        hn[b] = h
        cn[b] = c
    return out, hn, cn


def make(mode, L=4, N=3, I=3, H=2, bias=True, seed=0):
    rng = np.random.default_rng(seed)
    G = GATES[mode]
    d = {
        "x": rng.normal(size=(L, N, I)),
        "h0": rng.normal(size=(N, H)) * 0.5,
        "c0": rng.normal(size=(N, H)) * 0.5 if mode == "LSTM" else None,
        "wih": rng.normal(size=(G * H, I)) * 0.6,
        "whh": rng.normal(size=(G * H, H)) * 0.6,
        "bih": rng.normal(size=(G * H,)) * 0.3 if bias else None,
        "bhh": rng.normal(size=(G * H,)) * 0.3 if bias else None,
    }
    return d


KEYS = ["x", "h0", "c0", "wih", "whh", "bih", "bhh"]


def to_t(d, device="cpu", dtype=rustdl.float64, requires_grad=False):
    return {
        k: None if v is None else rustdl.tensor(v, dtype=dtype, device=device, requires_grad=requires_grad)
        for k, v in d.items()
    }


def run(mode, ts, reverse=False, lengths=None):
    return rnn_layer(
        mode,
        ts["x"],
        ts["h0"],
        ts["c0"],
        ts["wih"],
        ts["whh"],
        ts["bih"],
        ts["bhh"],
        reverse=reverse,
        lengths=lengths,
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("lengths", [None, [4, 2, 3]])
def test_forward_matches_reference(mode, reverse, bias, lengths):
    d = make(mode, bias=bias)
    out, hn, cn = run(mode, to_t(d), reverse, lengths)
    eo, eh, ec = ref(mode, *[d[k] for k in KEYS], reverse=reverse, lengths=lengths)
    assert_close(out, eo, rtol=1e-10, atol=1e-12)
    assert_close(hn, eh, rtol=1e-10, atol=1e-12)
    if mode == "LSTM":
        assert_close(cn, ec, rtol=1e-10, atol=1e-12)
    else:
        assert cn is None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
def test_lengths_equal_running_each_sequence_alone(mode, reverse):
    d = make(mode, L=5, N=3)
    lengths = [2, 5, 3]
    out, hn, cn = run(mode, to_t(d), reverse, lengths)
    for b, lb in enumerate(lengths):
        alone = dict(d)
        alone["x"] = d["x"][:lb, b : b + 1]
        alone["h0"] = d["h0"][b : b + 1]
        alone["c0"] = None if d["c0"] is None else d["c0"][b : b + 1]
        o1, h1, c1 = run(mode, to_t(alone), reverse)
        assert_close(out.detach().numpy()[:lb, b], o1.detach().numpy()[:, 0], rtol=1e-12, atol=1e-14)
        assert np.all(out.detach().numpy()[lb:, b] == 0)
        assert_close(hn.detach().numpy()[b], h1.detach().numpy()[0], rtol=1e-12, atol=1e-14)
        if mode == "LSTM":
            assert_close(cn.detach().numpy()[b], c1.detach().numpy()[0], rtol=1e-12, atol=1e-14)


def fd_grads(mode, d, reverse, lengths, wo, wh, wc, eps=1e-6):
    def loss(dd):
        o, h, c = ref(mode, *[dd[k] for k in KEYS], reverse=reverse, lengths=lengths)
        return (o * wo).sum() + (h * wh).sum() + (c * wc).sum()

    grads = {}
    for k in KEYS:
        if d[k] is None:
            continue
        g = np.zeros_like(d[k])
        for idx in np.ndindex(d[k].shape):
            dd = {kk: (None if v is None else v.copy()) for kk, v in d.items()}
            dd[k][idx] += eps
            up = loss(dd)
            dd[k][idx] -= 2 * eps
            g[idx] = (up - loss(dd)) / (2 * eps)
        grads[k] = g
    return grads


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("lengths", [None, [4, 2, 3]])
def test_gradients_match_finite_differences(mode, reverse, bias, lengths):
    d = make(mode, bias=bias, seed=1)
    if mode == "RNN_RELU":
        d["x"] = np.abs(d["x"])  # keep pre-activations away from the kink
    rng = np.random.default_rng(2)
    L, N, _ = d["x"].shape
    H = d["whh"].shape[1]
    wo, wh, wc = rng.normal(size=(L, N, H)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    if mode != "LSTM":
        wc = np.zeros((N, H))
    ts = to_t(d, requires_grad=True)
    out, hn, cn = run(mode, ts, reverse, lengths)
    loss = (out * rustdl.tensor(wo)).sum() + (hn * rustdl.tensor(wh)).sum()
    if cn is not None:
        loss = loss + (cn * rustdl.tensor(wc)).sum()
    loss.backward()
    expect = fd_grads(mode, d, reverse, lengths, wo, wh, wc)
    for k, g in expect.items():
        assert ts[k].grad is not None, k
        assert_close(ts[k].grad, g, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
def test_row_blocks_over_threads_match_reference(mode, reverse):
    """Large enough that the CPU kernel splits the batch rows over threads: the forward against
    the reference, the gradients along a random direction against a central difference of the
    reference, and the same gradients with one thread."""
    d = make(mode, L=16, N=17, I=5, H=64, seed=4)
    d["whh"] /= 8.0  # a recurrence that is not chaotic, so the central difference is accurate
    rng = np.random.default_rng(5)
    lengths = sorted(rng.integers(1, 17, size=17).tolist(), reverse=True)
    lengths[0] = 16
    eo, eh, ec = ref(mode, *[d[k] for k in KEYS], reverse=reverse, lengths=lengths)
    wo, wh, wc = (rng.normal(size=a.shape) for a in (eo, eh, ec))
    if mode != "LSTM":
        wc = np.zeros_like(wc)
    grads = {}
    before = rustdl.get_num_threads()
    try:
        for threads in (2, 1):
            rustdl.set_num_threads(threads)
            ts = to_t(d, requires_grad=True)
            out, hn, cn = run(mode, ts, reverse, lengths)
            assert_close(out, eo, rtol=1e-9, atol=1e-11)
            assert_close(hn, eh, rtol=1e-9, atol=1e-11)
            loss = (out * rustdl.tensor(wo)).sum() + (hn * rustdl.tensor(wh)).sum()
            if cn is not None:
                assert_close(cn, ec, rtol=1e-9, atol=1e-11)
                loss = loss + (cn * rustdl.tensor(wc)).sum()
            loss.backward()
            grads[threads] = {k: t.grad.numpy() for k, t in ts.items() if t is not None}
    finally:
        rustdl.set_num_threads(before)
    for k in grads[1]:
        assert_close(grads[2][k], grads[1][k], rtol=1e-12, atol=1e-13)
    direction = {k: rng.normal(size=v.shape) for k, v in grads[1].items()}

    def loss_at(eps):
        dd = {k: (None if v is None else v + eps * direction[k]) for k, v in d.items()}
        o, h, c = ref(mode, *[dd[k] for k in KEYS], reverse=reverse, lengths=lengths)
        return (o * wo).sum() + (h * wh).sum() + (c * wc).sum()

    eps = 1e-6
    numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    analytic = sum((grads[1][k] * direction[k]).sum() for k in direction)
    assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(numeric))


@pytest.mark.parametrize("mode", MODES)
def test_one_node_per_layer(mode):
    ts = to_t(make(mode), requires_grad=True)
    out, hn, _ = run(mode, ts)

    # output and h_n are views of the one fused node, which sends gradients to the inputs
    def fused(t):
        fn = t.grad_fn
        while "Layer" not in fn.name():
            fn = fn.next_functions[0][0]
        return fn

    a, b = fused(out), fused(hn)
    assert a.name() == b.name()
    assert "LayerBackward" in a.name()
    assert len(a.next_functions) == len([v for v in ts.values() if v is not None])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lengths", [None, [4, 1, 3]])
def test_float32_and_device_match_cpu_float64(mode, lengths, device):
    d = make(mode, seed=3)
    e64 = run(mode, to_t(d, requires_grad=True), True, lengths)
    ts = to_t(d, device=device, dtype=rustdl.float32, requires_grad=True)
    got = run(mode, ts, True, lengths)
    for a, e in zip(got, e64):
        if e is None:
            assert a is None
            continue
        assert str(a.device).startswith(device)
        assert_close(a, e.detach().numpy(), rtol=1e-4, atol=1e-5)
    loss = got[0].sum() + got[1].sum()
    loss.backward()
    ts64 = to_t(d, requires_grad=True)
    o, h, _ = run(mode, ts64, True, lengths)
    (o.sum() + h.sum()).backward()
    for k in KEYS:
        if ts[k] is not None:
            assert_close(ts[k].grad, ts64[k].grad.numpy(), rtol=1e-3, atol=1e-4)


def test_bad_inputs_are_value_errors():
    d = to_t(make("LSTM"))
    x, h0, c0, wih, whh = d["x"], d["h0"], d["c0"], d["wih"], d["whh"]
    cases = [
        (dict(x=x[0]), "input of shape"),
        (dict(wih=d["wih"][:, :2]), "weight_ih"),
        (dict(whh=d["whh"][:5]), "weight_hh"),
        (dict(h0=h0[:2]), "h0"),
        (dict(c0=c0[:, :1]), "c0"),
        (dict(bih=rustdl.zeros(3, dtype=rustdl.float64)), "bias_ih"),
        (dict(lengths=[4, 0, 1]), "lengths"),
        (dict(lengths=[4, 5, 1]), "lengths"),
        (dict(lengths=[4, 1]), "lengths"),
        (dict(lengths=[4, -1, 1]), "lengths"),
    ]
    for over, word in cases:
        a = dict(x=x, h0=h0, c0=c0, wih=wih, whh=whh, bih=None, bhh=None, lengths=None)
        a.update(over)
        with pytest.raises(ValueError, match="rnn_layer") as e:
            rnn_layer(
                "LSTM", a["x"], a["h0"], a["c0"], a["wih"], a["whh"], a["bih"], a["bhh"], lengths=a["lengths"]
            )
        assert word in str(e.value)
    with pytest.raises(ValueError, match="rnn_layer"):
        rnn_layer("GRU", x, h0, c0, wih[:6], whh[:6])
    with pytest.raises(ValueError, match="rnn_layer"):
        rnn_layer("nope", x, h0, c0, wih, whh)


@pytest.mark.parametrize("mode", MODES)
def test_device_path_is_one_node(mode, gpu):
    ts = to_t(make(mode), device=gpu, dtype=rustdl.float32, requires_grad=True)
    out, _, _ = run(mode, ts, lengths=[4, 2, 3])
    fn = out.grad_fn
    while "Layer" not in fn.name():
        fn = fn.next_functions[0][0]
    assert "LayerBackward" in fn.name()
    assert len(fn.next_functions) == len([v for v in ts.values() if v is not None])


def _train_step_counts(kind, steps, gpu):
    """GPU counter deltas of one train step (forward, backward, Adam) of a 2-layer
    bidirectional `kind` over `steps` time steps, up to (not including) `loss.item()`."""
    rng = np.random.default_rng(0)
    layer = getattr(rustdl.nn, kind)(8, 16, num_layers=2, bidirectional=True).to(gpu)
    opt = rustdl.optim.Adam(layer.parameters(), lr=1e-3)
    x = rustdl.tensor(rng.standard_normal((steps, 4, 8)).astype(np.float32), device=gpu)
    y = rustdl.tensor(rng.standard_normal((4, 32)).astype(np.float32), device=gpu)

    def step():
        opt.zero_grad()
        out, _ = layer(x)
        loss = ((out[-1] - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    step().item()  # compiles the pipelines and creates the optimizer state
    rustdl.gpu.synchronize()
    s0 = rustdl.gpu.stats()
    loss = step()
    s1 = rustdl.gpu.stats()
    assert np.isfinite(loss.item())
    return {k: s1[k] - s0[k] for k in ("dispatches", "downloads")}


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_gpu_train_step_is_fused_and_stays_on_device(kind, gpu):
    # Measured on lavapipe for 12 steps: the fused cell kernels need 295 (LSTM) / 279 (GRU)
    # dispatches per train step; the former per-step composition of Tensor ops needed 2631 /
    # 2527 (about 55 per layer-step). Per layer direction and step: one matmul h W_hhᵀ and one
    # cell kernel forward, one cell kernel and one matmul dG_h W_hh backward; the rest of the
    # step (input projections, weight gradients, loss, Adam) does not grow with the length.
    short = _train_step_counts(kind, 6, gpu)
    long = _train_step_counts(kind, 12, gpu)
    assert short["downloads"] == 0 and long["downloads"] == 0
    per_layer_step = (long["dispatches"] - short["dispatches"]) / (6 * 4)
    assert per_layer_step <= 4
    # well under half of the composed path's 2527..2631
    assert long["dispatches"] < 400
