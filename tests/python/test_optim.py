"""Optimizers against closed-form numpy updates, their state dicts, and the learning-rate schedulers."""

import math

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from optim_check import steps_match_reference
from rustdl import nn, optim
from rustdl.optim import lr_scheduler

# ---------------- independent numpy references (PyTorch's documented algorithms) ----------------


def np_sgd(p, g, st, t, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    if momentum:
        st["b"] = g.copy() if t == 1 else momentum * st["b"] + (1 - dampening) * g
        g = g + momentum * st["b"] if nesterov else st["b"]
    return p - lr * g


def np_adam(
    p,
    g,
    st,
    t,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    amsgrad=False,
    decoupled=False,
    maximize=False,
):
    b1, b2 = betas
    g = -g if maximize else g
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
    st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * g * g
    v = st["v"]
    if amsgrad:
        st["vmax"] = np.maximum(st.get("vmax", 0.0), v)
        v = st["vmax"]
    m_hat = st["m"] / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def np_rmsprop(p, g, st, t, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    g = g + weight_decay * p
    st["v"] = alpha * st.get("v", 0.0) + (1 - alpha) * g * g
    if centered:
        st["ga"] = alpha * st.get("ga", 0.0) + (1 - alpha) * g
        avg = np.sqrt(st["v"] - st["ga"] ** 2) + eps
    else:
        avg = np.sqrt(st["v"]) + eps
    if momentum > 0:
        st["buf"] = momentum * st.get("buf", 0.0) + g / avg
        return p - lr * st["buf"]
    return p - lr * g / avg


def np_adagrad(
    p, g, st, t, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10
):
    clr = lr / (1 + (t - 1) * lr_decay)
    g = g + weight_decay * p
    st["s"] = st.get("s", initial_accumulator_value) + g * g
    return p - clr * g / (np.sqrt(st["s"]) + eps)


CASES = [
    ("sgd", optim.SGD, np_sgd, dict(lr=0.1)),
    ("sgd_momentum", optim.SGD, np_sgd, dict(lr=0.1, momentum=0.9)),
    ("sgd_dampening_wd", optim.SGD, np_sgd, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    ("sgd_nesterov", optim.SGD, np_sgd, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd_maximize", optim.SGD, np_sgd, dict(lr=0.1, momentum=0.5, maximize=True)),
    ("adam", optim.Adam, np_adam, dict(lr=0.01)),
    (
        "adam_wd_amsgrad",
        optim.Adam,
        np_adam,
        dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True),
    ),
    ("adam_maximize", optim.Adam, np_adam, dict(lr=0.01, maximize=True)),
    ("adamw", optim.AdamW, lambda *a, **k: np_adam(*a, decoupled=True, **k), dict(lr=0.01, weight_decay=0.1)),
    (
        "adamw_amsgrad",
        optim.AdamW,
        lambda *a, **k: np_adam(*a, decoupled=True, **k),
        dict(lr=0.01, amsgrad=True, weight_decay=0.01),
    ),
    ("rmsprop", optim.RMSprop, np_rmsprop, dict(lr=0.01)),
    (
        "rmsprop_momentum_centered",
        optim.RMSprop,
        np_rmsprop,
        dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.05),
    ),
    ("rmsprop_momentum", optim.RMSprop, np_rmsprop, dict(lr=0.01, momentum=0.5, alpha=0.9)),
    (
        "adagrad",
        optim.Adagrad,
        np_adagrad,
        dict(lr=0.1, lr_decay=0.1, weight_decay=0.01, initial_accumulator_value=0.5),
    ),
]


@pytest.mark.parametrize("name,cls,ref,kw", CASES, ids=[c[0] for c in CASES])
def test_three_steps_match_numpy(device, name, cls, ref, kw):
    steps_match_reference(cls, ref, kw, device, steps=3, rtol=2e-5, atol=2e-6)


def test_float64_steps_are_exact_to_rounding():
    p = nn.Parameter(rustdl.tensor([1.0, -2.0, 0.5], dtype=rustdl.float64))
    opt = optim.Adam([p], lr=0.1, weight_decay=0.01)
    ref, st = np.array([1.0, -2.0, 0.5]), {}
    for step in range(1, 4):
        g = np.array([0.3, -1.0, 2.0]) * step
        p.grad = rustdl.tensor(g, dtype=rustdl.float64)
        opt.step()
        ref = np_adam(ref, g, st, step, lr=0.1, weight_decay=0.01)
        np.testing.assert_allclose(p.detach().numpy(), ref, rtol=1e-13, atol=1e-15)


def test_state_layout_like_pytorch():
    p = nn.Parameter(rustdl.zeros(2))
    p.grad = rustdl.ones(2)
    adam = optim.Adam([p], amsgrad=True)
    adam.step()
    adam.step()
    st = adam.state[p]
    assert st["step"] == 2 and set(st) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert st["exp_avg"].shape == (2,) and not st["exp_avg"].requires_grad
    sgd = optim.SGD([p], lr=0.1, momentum=0.9)
    sgd.step()
    assert_close(sgd.state[p]["momentum_buffer"], [1.0, 1.0])  # the first buffer is the gradient
    rms = optim.RMSprop([p], momentum=0.9, centered=True)
    rms.step()
    assert set(rms.state[p]) == {"step", "square_avg", "momentum_buffer", "grad_avg"}
    ada = optim.Adagrad([p], initial_accumulator_value=0.5)
    ada.step()
    assert_close(ada.state[p]["sum"], [1.5, 1.5])


def test_one_fused_call_per_group(monkeypatch):
    calls = []
    real = rustdl._rustdl.optim_step

    def spy(kind, params, states, hyper):
        calls.append((kind, len(params), dict(hyper)))
        return real(kind, params, states, hyper)

    monkeypatch.setattr(rustdl._rustdl, "optim_step", spy)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(
        [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.1}], lr=0.01
    )
    model(rustdl.randn(5, 3)).sum().backward()
    opt.step()
    assert [(k, n) for k, n, _ in calls] == [("adam", 2), ("adam", 2)]
    assert calls[0][2]["lr"] == 0.01 and calls[1][2]["lr"] == 0.1 and calls[1][2]["step"] == 1


def test_params_without_grad_are_skipped_and_step_counts_split():
    a = nn.Parameter(rustdl.tensor([1.0, 2.0]))
    b = nn.Parameter(rustdl.tensor([3.0]))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = rustdl.tensor([1.0, -1.0])
    opt.step()
    assert_close(b, [3.0])
    assert b not in opt.state or not opt.state[b]
    ra, sa, rb, sb = np.array([1.0, 2.0]), {}, np.array([3.0]), {}
    ra = np_adam(ra, np.array([1.0, -1.0]), sa, 1, lr=0.1)
    b.grad = rustdl.tensor([0.5])
    opt.step()  # a is at step 2, b at step 1: two fused calls in one group
    ra = np_adam(ra, np.array([1.0, -1.0]), sa, 2, lr=0.1)
    rb = np_adam(rb, np.array([0.5]), sb, 1, lr=0.1)
    assert_close(a, ra, rtol=1e-6)
    assert_close(b, rb, rtol=1e-6)
    assert opt.state[a]["step"] == 2 and opt.state[b]["step"] == 1


def test_zero_grad_and_closure():
    p = nn.Parameter(rustdl.tensor([2.0]))
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss.item()) == 4.0
    assert_close(p, [1.0])
    opt.zero_grad(set_to_none=False)
    assert_close(p.grad, [0.0])
    opt.zero_grad()
    assert p.grad is None


def test_param_groups_and_validation():
    a, b = nn.Parameter(rustdl.zeros(1)), nn.Parameter(rustdl.zeros(1))
    opt = optim.SGD([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.5, "momentum": 0.9})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["dampening"] == 0.0
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    # PyTorch's SGD has had a default learning rate (1e-3) since 2.x
    assert optim.SGD([a]).defaults["lr"] == 1e-3
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta"):
        optim.Adam([a], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="learning rate"):
        optim.Adam([a], lr=-1)
    with pytest.raises(TypeError):
        optim.Adam(a)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.Adam([a * 2])


def test_state_dict_round_trip_continues_identically():
    def make():
        rustdl.manual_seed(1)
        m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        return m, optim.Adam(m.parameters(), lr=0.05, amsgrad=True)

    x, y = rustdl.randn(8, 3), rustdl.randn(8, 1)

    def train(m, o, n):
        for _ in range(n):
            o.zero_grad()
            nn.MSELoss()(m(x), y).backward()
            o.step()

    m1, o1 = make()
    train(m1, o1, 2)
    sd = o1.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert sd["param_groups"][0]["params"] == [0, 1, 2, 3] and sd["state"][0]["step"] == 2
    m2, o2 = make()
    m2.load_state_dict(m1.state_dict())
    o2.load_state_dict(sd)
    assert o2.state[next(m2.parameters())]["step"] == 2
    train(m1, o1, 2)
    train(m2, o2, 2)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p1.detach().numpy(), p2.detach().numpy())
    # the loaded state is a copy, not an alias of the source's tensors
    assert o2.state[next(m2.parameters())]["exp_avg"] is not o1.state[next(m1.parameters())]["exp_avg"]


def test_load_state_dict_mismatches():
    a, b = nn.Parameter(rustdl.zeros(2)), nn.Parameter(rustdl.zeros(3))
    sd = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)
    opt = optim.Adam([a])
    a.grad = rustdl.ones(2)
    opt.step()
    bad = opt.state_dict()
    with pytest.raises(ValueError, match="shape"):
        optim.Adam([b]).load_state_dict(bad)


# ---------------- learning-rate schedulers ----------------


def lrs(sched, n):
    out = []
    for _ in range(n):
        out.append(sched.get_last_lr()[0])
        sched.optimizer.step()
        sched.step()
    return out


def make_opt(lr=0.1, **kw):
    p = nn.Parameter(rustdl.zeros(1))
    return optim.SGD([p], lr=lr, **kw)


def test_step_multistep_exponential():
    assert lrs(lr_scheduler.StepLR(make_opt(), step_size=3, gamma=0.5), 8) == pytest.approx(
        [0.1 * 0.5 ** (e // 3) for e in range(8)]
    )
    ms = lr_scheduler.MultiStepLR(make_opt(), milestones=[2, 5], gamma=0.1)
    assert lrs(ms, 7) == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001])
    assert lrs(lr_scheduler.ExponentialLR(make_opt(), gamma=0.9), 5) == pytest.approx(
        [0.1 * 0.9**e for e in range(5)]
    )


def test_cosine_and_linear():
    seq = lrs(lr_scheduler.CosineAnnealingLR(make_opt(), T_max=10, eta_min=0.01), 12)
    assert seq == pytest.approx([0.01 + 0.09 * (1 + math.cos(math.pi * e / 10)) / 2 for e in range(12)])
    assert seq[10] == pytest.approx(0.01)
    seq = lrs(lr_scheduler.LinearLR(make_opt(), start_factor=0.25, total_iters=4), 7)
    assert seq == pytest.approx([0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1, 0.1])


def test_scheduler_sets_group_lr_and_resumes():
    opt = make_opt()
    s = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(3):
        opt.step()
        s.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01) and opt.param_groups[0]["initial_lr"] == 0.1
    state = s.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 3
    opt2 = make_opt(lr=0.01)
    opt2.param_groups[0]["initial_lr"] = 0.1
    s2 = lr_scheduler.StepLR(opt2, step_size=2, gamma=0.1, last_epoch=2)
    s2.load_state_dict(state)
    s.step(), s2.step()
    assert s.get_last_lr() == pytest.approx(s2.get_last_lr())


def np_one_cycle(total, max_lr, pct=0.3, div=25.0, final_div=1e4, three_phase=False, anneal="cos"):
    init, lo = max_lr / div, max_lr / div / final_div
    ann = (
        (lambda a, b, f: b + (a - b) / 2 * (math.cos(math.pi * f) + 1))
        if anneal == "cos"
        else (lambda a, b, f: a + (b - a) * f)
    )
    if three_phase:
        phases = [(pct * total - 1, init, max_lr), (2 * pct * total - 2, max_lr, init), (total - 1, init, lo)]
    else:
        phases = [(pct * total - 1, init, max_lr), (total - 1, max_lr, lo)]
    out = []
    for s in range(total):
        start = 0.0
        for i, (end, a, b) in enumerate(phases):
            if s <= end or i == len(phases) - 1:
                out.append(ann(a, b, (s - start) / (end - start)))
                break
            start = end
    return out


@pytest.mark.parametrize(
    "kw", [dict(), dict(three_phase=True), dict(anneal_strategy="linear", pct_start=0.4)]
)
def test_one_cycle(kw):
    opt = make_opt(momentum=0.9)
    s = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=20, **kw)
    seq = lrs(s, 20)
    ref = np_one_cycle(
        20,
        1.0,
        kw.get("pct_start", 0.3),
        three_phase=kw.get("three_phase", False),
        anneal=kw.get("anneal_strategy", "cos"),
    )
    assert seq == pytest.approx(ref)
    assert seq[0] == pytest.approx(0.04) and max(seq) == pytest.approx(1.0) and seq[-1] == pytest.approx(4e-6)
    with pytest.raises(ValueError, match="total_steps"):
        s.step()


def test_one_cycle_cycles_momentum_and_betas():
    opt = make_opt(momentum=0.9)
    s = lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=10)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.95)
    for _ in range(2):
        opt.step()
        s.step()
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.85)  # the lr peak is the momentum trough
    p = nn.Parameter(rustdl.zeros(1))
    adam = optim.Adam([p], lr=0.1)
    lr_scheduler.OneCycleLR(adam, max_lr=0.5, epochs=2, steps_per_epoch=5)
    assert adam.param_groups[0]["betas"] == pytest.approx((0.95, 0.999))
    with pytest.raises(ValueError, match="momentum"):
        lr_scheduler.OneCycleLR(optim.Adagrad([p]), max_lr=0.5, total_steps=5)


def test_reduce_on_plateau():
    opt = make_opt(lr=1.0)
    s = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
    seq = []
    for m in [10, 9, 9, 9, 9, 8, 8, 8, 8]:
        s.step(m)
        seq.append(opt.param_groups[0]["lr"])
    assert seq == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]
    opt = make_opt(lr=1.0)
    s = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=2, min_lr=0.3)
    seq = []
    for _ in range(10):
        s.step(5.0)
        seq.append(opt.param_groups[0]["lr"])
    assert seq == [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.3, 0.3]
    opt = make_opt(lr=1.0)
    s = lr_scheduler.ReduceLROnPlateau(
        opt, mode="max", factor=0.1, patience=0, threshold=0.5, threshold_mode="abs"
    )
    for m in [1.0, 1.4, 2.0]:
        s.step(m)
    assert s.get_last_lr() == pytest.approx([0.1])  # 1.4 is not 0.5 better than 1.0; 2.0 is
    with pytest.raises(ValueError):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)


# ---------------- end to end ----------------


def two_spirals(n=200, seed=0):
    """A nonlinear 2-class problem: two interleaved half-moons with noise."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, math.pi, n)
    upper = np.stack([np.cos(a), np.sin(a)], 1)
    lower = np.stack([1 - np.cos(a), 0.5 - np.sin(a)], 1)
    x = np.concatenate([upper, lower]) + rng.normal(0, 0.1, (2 * n, 2))
    y = np.concatenate([np.zeros(n), np.ones(n)]).astype(np.int64)
    return x, y


def test_mlp_learns_nonlinear_problem_with_adam(device):
    x, y = two_spirals()
    assert (((x[:, 1] > 0.25) == (y == 0)).mean()) < 0.9  # not linearly trivial
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2)).to(
        device
    )
    opt = optim.Adam(model.parameters(), lr=0.02)
    xt = rustdl.tensor(x, dtype=rustdl.float32, device=device)
    yt = rustdl.tensor(y, device=device)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
    with rustdl.no_grad():
        acc = (model(xt).argmax(1).cpu().numpy() == y).mean()
    assert acc >= 0.97, f"training accuracy {acc:.3f}"


def _f32_adam_reference(p, grads, lr, betas, eps, amsgrad=False):
    """Adam in float32 as PyTorch's CPU step orders it: 1 − β in double, rounded once;
    ``m.lerp_(g, 1 − β₁)`` (one rounding for ``m + w·(g − m)``, float64 then rounded, which is
    exact for float32 operands), ``v·β₂ + ((1 − β₂)·g)·g``, ``denom = √v / √(1 − β₂ᵗ) + eps``,
    ``p + (−step_size·m) / denom``."""
    f = np.float32
    b1, b2 = betas
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    vmax = np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        w = f(1 - b1)
        m = (m.astype(np.float64) + np.float64(w) * (g - m).astype(np.float64)).astype(f)
        v = v * f(b2) + (f(1 - b2) * g) * g
        if amsgrad:
            vmax = np.maximum(vmax, v)
        step_size = f(lr / (1 - b1**t))
        denom = np.sqrt(vmax if amsgrad else v) / f(math.sqrt(1 - b2**t)) + f(eps)
        p = p + (-step_size * m) / denom
    return p, v


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_float32_rounding_follows_pytorch(device, amsgrad):
    # 1 − 0.9999 rounded to float32 after the subtraction is 1.6e-4 too large: the second
    # moment and every step drifted systematically from PyTorch's (p moved by −0.99992, not −1)
    rng = np.random.default_rng(3)
    p0 = rng.standard_normal(41).astype(np.float32)
    grads = [rng.standard_normal(41).astype(np.float32) for _ in range(4)]
    p = rustdl.tensor(p0.copy(), device=device, requires_grad=True)
    opt = optim.Adam([p], lr=0.5, betas=(0.9, 0.9999), eps=1e-8, amsgrad=amsgrad)
    for g in grads:
        p.grad = rustdl.tensor(g, device=device)
        opt.step()
    want_p, want_v = _f32_adam_reference(p0, grads, 0.5, (0.9, 0.9999), 1e-8, amsgrad)
    got_v = opt.state[p]["exp_avg_sq"].cpu().numpy()
    got_p = p.detach().cpu().numpy()
    if device == "cpu":
        np.testing.assert_array_max_ulp(got_v, want_v, maxulp=0)
        np.testing.assert_array_max_ulp(got_p, want_p, maxulp=1)
    else:  # WGSL's division and sqrt may be a few ulp off
        np.testing.assert_allclose(got_v, want_v, rtol=2e-6)
        np.testing.assert_allclose(got_p, want_p, rtol=2e-6, atol=1e-7)
    # the first step of a unit gradient from zero moves by exactly lr
    q = rustdl.zeros(1, device=device, requires_grad=True)
    o = optim.Adam([q], lr=1.0, betas=(0.9, 0.9999))
    q.grad = rustdl.ones(1, device=device)
    o.step()
    assert abs(q.item() + 1.0) < 1e-6
    assert o.state[q]["exp_avg_sq"].item() == np.float32(1 - 0.9999)


def test_rmsprop_weight_is_rounded_once():
    p = rustdl.zeros(1, requires_grad=True)
    opt = optim.RMSprop([p], lr=0.01, alpha=0.9999)
    p.grad = rustdl.ones(1)
    opt.step()
    assert opt.state[p]["square_avg"].item() == np.float32(1 - 0.9999)
