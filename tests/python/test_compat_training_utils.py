"""PyTorch training-script utilities: amp (autocast, GradScaler), compile, inference_mode,
anomaly detection, gradient checkpointing, module forward/backward hooks, manual_seed's return."""

import math

import numpy as np
import pytest
import rustdl
from rustdl import nn
from rustdl.gradient_checkpoint import checkpoint, checkpoint_sequential


def test_autocast_and_compile_leave_the_computation_as_it_is():
    m = nn.Linear(3, 2)
    x = rustdl.randn(4, 3)
    ref = m(x).detach().numpy()
    with rustdl.autocast("cuda", dtype=rustdl.float32):
        np.testing.assert_array_equal(m(x).detach().numpy(), ref)
    with rustdl.amp.autocast("cpu", enabled=False):
        pass
    from rustdl.compiler import OptimizedModule

    c = rustdl.compile(m)
    assert isinstance(c, OptimizedModule) and c._orig_mod is m
    np.testing.assert_array_equal(c(x).detach().numpy(), ref)
    assert rustdl.compile()(m)._orig_mod is m and rustdl.compile(m, disable=True) is m
    f = rustdl.compile(lambda v: v * 2)
    np.testing.assert_array_equal(f(x).numpy(), (x * 2).numpy())
    with pytest.raises(TypeError):
        rustdl.compile(3)


def test_grad_scaler_matches_plain_training_and_skips_non_finite_steps():
    def run(use_scaler):
        rustdl.manual_seed(0)
        m = nn.Linear(3, 1)
        opt = rustdl.optim.SGD(m.parameters(), lr=0.1)
        scaler = rustdl.amp.GradScaler(init_scale=1024.0, growth_interval=2, enabled=use_scaler)
        x, y = rustdl.randn(8, 3), rustdl.randn(8, 1)
        for _ in range(3):
            opt.zero_grad()
            loss = ((m(x) - y) ** 2).mean()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        return m.weight.detach().numpy(), scaler

    w_plain, _ = run(False)
    w_scaled, scaler = run(True)
    # scaling by a power of two and back is exact in float32
    np.testing.assert_allclose(w_scaled, w_plain, rtol=1e-6, atol=1e-7)
    assert scaler.get_scale() == 2048.0  # grew once after 2 finite steps (then 1 more)
    # an inf gradient: the step is skipped and the scale backs off
    p = nn.Parameter(rustdl.ones(2))
    opt = rustdl.optim.SGD([p], lr=1.0)
    s = rustdl.cuda.amp.GradScaler(init_scale=8.0)
    (s.scale((p * math.inf).sum())).backward()
    s.step(opt)
    s.update()
    np.testing.assert_array_equal(p.detach().numpy(), [1.0, 1.0])
    assert s.get_scale() == 4.0
    # unscale_ then clip, as scripts do; a second unscale_ is an error
    opt.zero_grad()
    s.scale((p * 3).sum()).backward()
    s.unscale_(opt)
    np.testing.assert_allclose(p.grad.numpy(), [3.0, 3.0])
    with pytest.raises(RuntimeError, match="unscale_"):
        s.unscale_(opt)
    s.step(opt)
    s.update()
    state = s.state_dict()
    s2 = rustdl.amp.GradScaler()
    s2.load_state_dict(state)
    assert s2.get_scale() == s.get_scale()


def test_inference_mode_anomaly_and_checkpoint():
    x = rustdl.randn(3, requires_grad=True)
    with rustdl.inference_mode():
        assert not (x * 2).requires_grad
    with rustdl.inference_mode(False):
        assert (x * 2).requires_grad

    @rustdl.inference_mode
    def f(v):
        return v * 2

    @rustdl.no_grad
    def g(v):
        return v * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    rustdl.autograd.set_detect_anomaly(True)
    assert rustdl.autograd.is_anomaly_enabled()
    rustdl.autograd.set_detect_anomaly(False)
    with rustdl.autograd.detect_anomaly():
        assert rustdl.autograd.is_anomaly_enabled()
    seq = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1))
    a = checkpoint(seq, x.unsqueeze(0), use_reentrant=False)
    b = checkpoint_sequential(seq, 2, x.unsqueeze(0))
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    a.sum().backward()
    assert x.grad is not None
    assert rustdl.manual_seed(3) is rustdl.default_generator and rustdl.initial_seed() == 3
    rustdl.manual_seed(-1)
    assert rustdl.initial_seed() == 2**64 - 1


def test_forward_and_backward_hooks():
    lin = nn.Linear(3, 2)
    seen = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    h2 = lin.register_forward_hook(lambda m, args, out: out + 1)
    x = rustdl.randn(4, 3, requires_grad=True)
    expected = (x * 2) @ lin.weight.t() + lin.bias + 1
    np.testing.assert_allclose(lin(x).detach().numpy(), expected.detach().numpy(), rtol=1e-6)
    h1.remove()
    h2.remove()
    np.testing.assert_allclose(
        lin(x).detach().numpy(), (x @ lin.weight.t() + lin.bias).detach().numpy(), rtol=1e-6
    )

    def bhook(m, grad_input, grad_output):
        seen.append((grad_input[0].numpy().copy(), grad_output[0].numpy().copy()))
        return (grad_input[0] * 0.5,)

    with lin.register_full_backward_hook(bhook):
        out = lin(x)
        g_out = rustdl.randn(4, 2)
        out.backward(g_out)
    gi, go = seen[0]
    np.testing.assert_allclose(go, g_out.numpy())
    np.testing.assert_allclose(gi, (g_out @ lin.weight).detach().numpy(), rtol=1e-5)
    # the hook's replacement reached x
    np.testing.assert_allclose(x.grad.numpy(), 0.5 * gi, rtol=1e-5)
    # the handle was removed on leaving the with block
    x.grad = None
    lin(x).sum().backward()
    assert len(seen) == 1
    kw = []
    lin.register_forward_pre_hook(lambda m, args, kwargs: kw.append(sorted(kwargs)) or None, with_kwargs=True)
    lin(x)
    assert kw == [[]]


def test_tensor_hooks_see_and_replace_gradients(device):
    x = rustdl.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    seen = []
    h = x.register_hook(lambda g: seen.append(g.cpu().numpy().copy()))
    (x * x).sum().backward()
    np.testing.assert_allclose(seen[0], [2.0, 4.0, 6.0])
    h.remove()
    # a non-leaf: a gradient-reversal hook flips what reaches x
    x.grad = None
    y = x * 3
    y.register_hook(lambda g: -g)
    (y * 2).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [-6.0, -6.0, -6.0])
    # hooks run for autograd.grad too, in registration order
    z = x * 1
    z.register_hook(lambda g: g + 1)
    z.register_hook(lambda g: g * 10)
    (gx,) = rustdl.autograd.grad(z.sum(), [x])
    np.testing.assert_allclose(gx.cpu().numpy(), [20.0, 20.0, 20.0])
    # errors: a wrong shape, an exception in the hook, no grad, not callable
    w = x * 1
    w.register_hook(lambda g: g[:1])
    with pytest.raises(RuntimeError, match="shape"):
        w.sum().backward()
    v = x * 1
    v.register_hook(lambda g: 1 / 0)
    with pytest.raises(ZeroDivisionError):  # the hook's own exception, as PyTorch
        v.sum().backward()
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        rustdl.ones(2).register_hook(lambda g: g)
    with pytest.raises(TypeError):
        x.register_hook(3)


def test_post_accumulate_grad_hooks_fire_as_each_leaf_is_ready(device):
    rng = np.random.default_rng(0)
    x = rustdl.tensor(rng.standard_normal((4, 3)), dtype=rustdl.float32, device=device)
    w1 = rustdl.tensor(rng.standard_normal((3, 5)), dtype=rustdl.float32, device=device, requires_grad=True)
    w2 = rustdl.tensor(rng.standard_normal((5, 2)), dtype=rustdl.float32, device=device, requires_grad=True)
    events = []

    def hook(name, other):
        def h(p):
            # the leaf's .grad is already accumulated; the earlier layer's is not yet there
            events.append((name, p.grad.cpu().numpy().copy(), other.grad is None))

        return h

    h1 = w1.register_post_accumulate_grad_hook(hook("w1", w2))
    h2 = w2.register_post_accumulate_grad_hook(hook("w2", w1))
    ((x @ w1).relu() @ w2).sum().backward()
    assert [e[0] for e in events] == ["w2", "w1"]
    assert events[0][2]  # w1 had no gradient yet when w2's hook ran: leaves are handed over early
    xn, w1n, w2n = x.cpu().numpy(), w1.detach().cpu().numpy(), w2.detach().cpu().numpy()
    hid = xn @ w1n
    np.testing.assert_allclose(events[0][1], np.maximum(hid, 0).T @ np.ones((4, 2)), rtol=1e-5)
    np.testing.assert_allclose(events[1][1], xn.T @ ((hid > 0) * (np.ones((4, 2)) @ w2n.T)), rtol=1e-5)
    # a leaf used twice gets one call, with the summed gradient
    events.clear()
    w2.grad = None
    (w2 * w2 + w2).sum().backward()
    assert [e[0] for e in events] == ["w2"]
    np.testing.assert_allclose(events[0][1], 2 * w2n + 1, rtol=1e-6)
    # removed hooks stay quiet; autograd.grad fills no .grad and calls none
    h1.remove()
    h2.remove()
    events.clear()
    (x @ w1).sum().backward()
    rustdl.autograd.grad((x @ w1).sum(), [w1])
    assert events == []


def test_post_accumulate_grad_hook_steps_the_optimizer_inside_backward():
    # the "optimizer step in backward" pattern: each parameter is updated as soon as its
    # gradient is ready, then its gradient freed — the result equals a plain SGD step
    rng = np.random.default_rng(1)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    ref = [p.detach().numpy().copy() for p in net.parameters()]
    x = rustdl.tensor(rng.standard_normal((6, 4)), dtype=rustdl.float32)
    loss = (net(x) ** 2).mean()
    grads = [g.numpy() for g in rustdl.autograd.grad(loss, list(net.parameters()), retain_graph=True)]

    def sgd(p):
        with rustdl.no_grad():
            p.sub_(0.1 * p.grad)
        p.grad = None

    for p in net.parameters():
        p.register_post_accumulate_grad_hook(sgd)
    loss.backward()
    for p, r, g in zip(net.parameters(), ref, grads):
        assert p.grad is None
        np.testing.assert_allclose(p.detach().numpy(), r - 0.1 * g, rtol=1e-6, atol=1e-7)


def test_post_accumulate_grad_hook_errors():
    x = rustdl.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        rustdl.ones(2).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(TypeError):
        x.register_post_accumulate_grad_hook(3)
    x.register_post_accumulate_grad_hook(lambda p: p)
    with pytest.raises(RuntimeError, match="should return None"):
        (x * 2).sum().backward()


def test_scatter_and_index_fill_follow_pytorch(device):
    from rustdl.autograd import gradcheck

    labels = rustdl.tensor([2, 0, 1], device=device)
    onehot = rustdl.zeros(3, 4, device=device).scatter_(1, labels.unsqueeze(1), 1.0)
    np.testing.assert_array_equal(onehot.cpu().numpy(), np.eye(4)[[2, 0, 1]])
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    idx = np.array([[0, 3], [1, 2], [3, 0]])
    src = -np.ones((3, 2), np.float32)
    got = rustdl.tensor(base, device=device).scatter(
        1, rustdl.tensor(idx, device=device), rustdl.tensor(src, device=device)
    )
    ref = base.copy()
    np.put_along_axis(ref, idx, src, axis=1)
    np.testing.assert_array_equal(got.cpu().numpy(), ref)
    added = rustdl.tensor(base, device=device).scatter(
        1, rustdl.tensor(idx, device=device), rustdl.tensor(src, device=device), reduce="add"
    )
    ref_add = base.copy()
    np.add.at(ref_add, (np.arange(3)[:, None], idx), src)
    np.testing.assert_array_equal(added.cpu().numpy(), ref_add)
    filled = rustdl.tensor(base, device=device).index_fill(0, rustdl.tensor([0, 2], device=device), 7.0)
    ref_fill = base.copy()
    ref_fill[[0, 2]] = 7.0
    np.testing.assert_array_equal(filled.cpu().numpy(), ref_fill)
    if device == "cpu":
        x = rustdl.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
        s = rustdl.tensor(np.random.default_rng(1).standard_normal((3, 2)), requires_grad=True)
        i = rustdl.tensor(idx)
        assert gradcheck(lambda a, b: a.scatter(1, i, b), [x, s])
        assert gradcheck(lambda a: a.index_fill(1, rustdl.tensor([1, 3]), -2.0), [x])
    with pytest.raises(TypeError):
        rustdl.zeros(3).scatter(0, rustdl.tensor([0.0]), 1.0)


def test_weight_norm_spectral_norm_and_gumbel_softmax():
    F = rustdl.nn.functional
    rustdl.manual_seed(0)
    lin = nn.Linear(4, 3)
    w0 = lin.weight.detach().numpy().copy()
    nn.utils.weight_norm(lin)
    assert sorted(k for k, _ in lin.named_parameters()) == ["bias", "weight_g", "weight_v"]
    assert tuple(lin.weight_g.shape) == (3, 1)
    x = rustdl.randn(5, 4)
    np.testing.assert_allclose(
        lin(x).detach().numpy(), x.numpy() @ w0.T + lin.bias.detach().numpy(), rtol=1e-5
    )
    lin(x).sum().backward()
    assert lin.weight_g.grad is not None and lin.weight_v.grad is not None
    with rustdl.no_grad():
        lin.weight_g.mul_(2.0)
    np.testing.assert_allclose(
        lin(x).detach().numpy(), x.numpy() @ (2 * w0).T + lin.bias.detach().numpy(), rtol=1e-5
    )
    nn.utils.remove_weight_norm(lin)
    np.testing.assert_allclose(lin.weight.detach().numpy(), 2 * w0, rtol=1e-5)
    # the newer API's keys
    lin2 = nn.utils.parametrizations.weight_norm(nn.Linear(4, 3))
    assert sorted(lin2.state_dict()) == [
        "bias",
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    ]
    # spectral norm: the largest singular value of the used weight approaches 1
    sn = nn.utils.spectral_norm(nn.Linear(6, 5), n_power_iterations=30)
    sn(rustdl.randn(2, 6))
    sigma = np.linalg.svd(sn.weight.detach().numpy(), compute_uv=False)[0]
    assert abs(sigma - 1.0) < 1e-3
    assert sorted(sn.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    # gumbel softmax: soft samples sum to one; hard ones are one-hot with the soft gradient
    logits = rustdl.tensor([[1.0, 2.0, 0.5]], requires_grad=True)
    y = F.gumbel_softmax(logits.expand(2000, 3), tau=0.5)
    np.testing.assert_allclose(y.detach().numpy().sum(1), 1.0, rtol=1e-5)
    h = F.gumbel_softmax(logits.expand(2000, 3), hard=True)
    hv = h.detach().numpy()
    assert set(np.unique(hv)) <= {0.0, 1.0} and (hv.sum(1) == 1).all()
    # sample frequencies follow softmax(logits)
    p = np.exp([1.0, 2.0, 0.5]) / np.exp([1.0, 2.0, 0.5]).sum()
    assert np.abs(hv.mean(0) - p).max() < 0.04
    (h * rustdl.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert logits.grad is not None


def test_backward_inputs_accumulates_only_into_the_given_tensors(device):
    # loss = sum(w1 * x) + sum(w2 * x)^2 ; backward(inputs=[w2]) fills w2.grad only
    x = rustdl.tensor([1.0, 2.0, 3.0], device=device)
    w1 = rustdl.tensor([0.5, -1.0, 2.0], device=device, requires_grad=True)
    w2 = rustdl.tensor([1.0, 1.0, -1.0], device=device, requires_grad=True)
    loss = (w1 * x).sum() + (w2 * x).sum() ** 2
    loss.backward(inputs=[w2], retain_graph=True)
    s = float((np.array([1.0, 1.0, -1.0]) * [1.0, 2.0, 3.0]).sum())
    np.testing.assert_allclose(w2.grad.cpu().numpy(), 2 * s * np.array([1.0, 2.0, 3.0]), rtol=1e-6)
    assert w1.grad is None
    # a single tensor works too, and gradients accumulate like backward's
    loss.backward(inputs=w2, retain_graph=True)
    np.testing.assert_allclose(w2.grad.cpu().numpy(), 4 * s * np.array([1.0, 2.0, 3.0]), rtol=1e-6)
    # a non-leaf input gets its .grad, and the leaves behind it get nothing
    h = w1 * x
    h.retain_grad()
    (h * h).sum().backward(inputs=[h])
    np.testing.assert_allclose(h.grad.cpu().numpy(), 2 * np.array([0.5, -2.0, 6.0]), rtol=1e-6)
    assert w1.grad is None
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (w1 * x).sum().backward(inputs=[])
    with pytest.raises(TypeError, match="inputs"):
        (w1 * x).sum().backward(inputs=[3])
