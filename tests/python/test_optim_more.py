"""Adamax, NAdam, RAdam and Adadelta (fused Rust updates) against closed-form numpy
implementations of PyTorch's documented algorithms; their state dicts, argument checks and a
small training run."""

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from optim_check import steps_match_reference
from rustdl import nn, optim

# ---------------- independent numpy references (PyTorch's documented algorithms) ----------------


def _decay(p, g, lr, weight_decay, decoupled, maximize):
    """The common first step: negate g to maximize, then weight decay, added to the gradient
    (L2) or applied to the parameter directly (decoupled, AdamW-style)."""
    g = -g if maximize else g
    if decoupled:
        return p - lr * weight_decay * p, g
    return p, g + weight_decay * p


def np_adamax(p, g, st, t, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False):
    b1, b2 = betas
    p, g = _decay(p, g, lr, weight_decay, False, maximize)
    st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
    st["u"] = np.maximum(b2 * st.get("u", 0.0), np.abs(g) + eps)
    return p - lr / (1 - b1**t) * st["m"] / st["u"]


def np_nadam(
    p,
    g,
    st,
    t,
    lr=2e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    momentum_decay=4e-3,
    decoupled_weight_decay=False,
    maximize=False,
):
    b1, b2 = betas
    p, g = _decay(p, g, lr, weight_decay, decoupled_weight_decay, maximize)
    mu_t = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_t1 = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    st["prod"] = st.get("prod", 1.0) * mu_t  # prod_{i<=t} mu_i
    st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
    st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * g * g
    m_hat = mu_t1 * st["m"] / (1 - st["prod"] * mu_t1) + (1 - mu_t) * g / (1 - st["prod"])
    v_hat = st["v"] / (1 - b2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def np_radam(
    p,
    g,
    st,
    t,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    decoupled_weight_decay=False,
    maximize=False,
):
    b1, b2 = betas
    p, g = _decay(p, g, lr, weight_decay, decoupled_weight_decay, maximize)
    st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
    st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * g * g
    m_hat = st["m"] / (1 - b1**t)
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
    st.setdefault("rectified", []).append(rho_t > 5)
    if rho_t > 5:
        l_t = np.sqrt(1 - b2**t) / (np.sqrt(st["v"]) + eps)
        r_t = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        return p - lr * m_hat * r_t * l_t
    return p - lr * m_hat


def np_adadelta(p, g, st, t, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    p, g = _decay(p, g, lr, weight_decay, False, maximize)
    st["v"] = rho * st.get("v", 0.0) + (1 - rho) * g * g
    delta = np.sqrt(st.get("u", 0.0) + eps) / np.sqrt(st["v"] + eps) * g
    st["u"] = rho * st.get("u", 0.0) + (1 - rho) * delta * delta
    return p - lr * delta


CASES = [
    ("adamax", optim.Adamax, np_adamax, dict(lr=0.02)),
    ("adamax_defaults", optim.Adamax, np_adamax, dict()),
    (
        "adamax_wd_maximize",
        optim.Adamax,
        np_adamax,
        dict(lr=0.05, betas=(0.8, 0.95), weight_decay=0.1, maximize=True),
    ),
    ("adamax_eps", optim.Adamax, np_adamax, dict(lr=0.01, eps=0.3)),
    ("nadam", optim.NAdam, np_nadam, dict(lr=0.02)),
    ("nadam_defaults", optim.NAdam, np_nadam, dict()),
    ("nadam_wd", optim.NAdam, np_nadam, dict(lr=0.02, weight_decay=0.1, momentum_decay=0.05)),
    (
        "nadam_decoupled_maximize",
        optim.NAdam,
        np_nadam,
        dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.2, decoupled_weight_decay=True, maximize=True),
    ),
    ("nadam_no_momentum_decay", optim.NAdam, np_nadam, dict(lr=0.01, momentum_decay=0.0, eps=1e-3)),
    ("radam", optim.RAdam, np_radam, dict(lr=0.02)),
    ("radam_beta2_09", optim.RAdam, np_radam, dict(lr=0.02, betas=(0.8, 0.9), eps=1e-4)),
    ("radam_wd", optim.RAdam, np_radam, dict(lr=0.02, betas=(0.9, 0.9), weight_decay=0.1)),
    (
        "radam_decoupled_maximize",
        optim.RAdam,
        np_radam,
        dict(lr=0.02, betas=(0.9, 0.9), weight_decay=0.3, decoupled_weight_decay=True, maximize=True),
    ),
    ("adadelta", optim.Adadelta, np_adadelta, dict()),
    (
        "adadelta_wd_maximize",
        optim.Adadelta,
        np_adadelta,
        dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1, maximize=True),
    ),
    ("adadelta_rho_edges", optim.Adadelta, np_adadelta, dict(lr=0.3, rho=0.0)),
]

STEPS = 8


@pytest.mark.parametrize("name,cls,ref,kw", CASES, ids=[c[0] for c in CASES])
def test_steps_match_numpy(device, name, cls, ref, kw):
    opt, params, ref_state = steps_match_reference(cls, ref, kw, device, steps=STEPS, rtol=3e-5, atol=3e-6)
    if cls is optim.RAdam:
        # both branches of the rectification were exercised
        assert set(ref_state[0]["rectified"]) == {False, True}
    st = opt.state[params[0]]
    assert st["step"] == STEPS


@pytest.mark.parametrize("name,cls,ref,kw", CASES, ids=[c[0] for c in CASES])
def test_float64_steps_are_exact_to_rounding(name, cls, ref, kw):
    rng = np.random.default_rng(1)
    p0 = rng.standard_normal((4, 3))
    p = nn.Parameter(rustdl.tensor(p0, dtype=rustdl.float64))
    opt = cls([p], **kw)
    ref_p, st = p0.copy(), {}
    for step in range(1, STEPS + 1):
        g = rng.standard_normal((4, 3)) * step
        p.grad = rustdl.tensor(g, dtype=rustdl.float64)
        opt.step()
        ref_p = ref(ref_p, g, st, step, **kw)
        np.testing.assert_allclose(p.detach().numpy(), ref_p, rtol=1e-11, atol=1e-13)


def test_large_parameter_uses_the_threaded_path(device):
    # 2^17 elements: the CPU update splits the loop over threads; every element must still match
    n = 1 << 17
    rng = np.random.default_rng(2)
    p0 = rng.standard_normal(n).astype(np.float32)
    for cls, ref, kw in [
        (optim.Adamax, np_adamax, dict(lr=0.01, weight_decay=0.01)),
        (optim.NAdam, np_nadam, dict(lr=0.01)),
        (optim.RAdam, np_radam, dict(lr=0.01, betas=(0.9, 0.9))),
        (optim.Adadelta, np_adadelta, dict(weight_decay=0.01)),
    ]:
        p = nn.Parameter(rustdl.tensor(p0, device=device))
        opt = cls([p], **kw)
        ref_p, st = p0.astype(np.float64), {}
        for step in range(1, 7):
            g = rng.standard_normal(n).astype(np.float32)
            p.grad = rustdl.tensor(g, device=device)
            opt.step()
            ref_p = ref(ref_p, g.astype(np.float64), st, step, **kw)
        assert_close(p, ref_p, rtol=3e-5, atol=3e-6)


def test_state_layout_like_pytorch():
    p = nn.Parameter(rustdl.zeros(2))
    p.grad = rustdl.ones(2)
    expected = {
        optim.Adamax: {"step", "exp_avg", "exp_inf"},
        optim.NAdam: {"step", "mu_product", "exp_avg", "exp_avg_sq"},
        optim.RAdam: {"step", "exp_avg", "exp_avg_sq"},
        optim.Adadelta: {"step", "square_avg", "acc_delta"},
    }
    for cls, keys in expected.items():
        opt = cls([p])
        opt.step()
        opt.step()
        st = opt.state[p]
        assert set(st) == keys and st["step"] == 2, cls
        for k in keys - {"step", "mu_product"}:
            assert st[k].shape == (2,) and not st[k].requires_grad
    nadam = optim.NAdam([p], momentum_decay=0.004)
    nadam.step()
    assert nadam.state[p]["mu_product"] == pytest.approx(0.9 * (1 - 0.5 * 0.96**0.004))


def test_defaults_like_pytorch():
    p = nn.Parameter(rustdl.zeros(2))
    g = optim.Adamax([p]).param_groups[0]
    assert (g["lr"], g["betas"], g["eps"], g["weight_decay"], g["maximize"]) == (
        2e-3,
        (0.9, 0.999),
        1e-8,
        0.0,
        False,
    )
    g = optim.NAdam([p]).param_groups[0]
    assert (
        g["lr"],
        g["betas"],
        g["eps"],
        g["weight_decay"],
        g["momentum_decay"],
        g["decoupled_weight_decay"],
    ) == (
        2e-3,
        (0.9, 0.999),
        1e-8,
        0.0,
        4e-3,
        False,
    )
    g = optim.RAdam([p]).param_groups[0]
    assert (g["lr"], g["betas"], g["eps"], g["weight_decay"], g["decoupled_weight_decay"]) == (
        1e-3,
        (0.9, 0.999),
        1e-8,
        0.0,
        False,
    )
    g = optim.Adadelta([p]).param_groups[0]
    assert (g["lr"], g["rho"], g["eps"], g["weight_decay"], g["maximize"]) == (1.0, 0.9, 1e-6, 0.0, False)


@pytest.mark.parametrize("cls", [optim.Adamax, optim.NAdam, optim.RAdam, optim.Adadelta])
def test_pytorch_only_keywords_are_accepted(cls):
    p = nn.Parameter(rustdl.tensor([1.0, 2.0]))
    opt = cls([p], foreach=True, capturable=False, differentiable=False, maximize=False)
    p.grad = rustdl.tensor([0.5, -0.5])
    opt.step()
    assert opt.state[p]["step"] == 1


@pytest.mark.parametrize("cls", [optim.Adamax, optim.NAdam, optim.RAdam, optim.Adadelta])
def test_one_fused_call_per_group(monkeypatch, cls):
    calls = []
    real = rustdl._rustdl.optim_step

    def spy(kind, params, states, hyper):
        calls.append((kind, len(params)))
        return real(kind, params, states, hyper)

    monkeypatch.setattr(rustdl._rustdl, "optim_step", spy)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = cls([{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.1}])
    model(rustdl.randn(5, 3)).sum().backward()
    opt.step()
    assert calls == [(cls._kind, 2), (cls._kind, 2)]


def test_nadam_mu_product_follows_each_parameters_own_steps(device):
    # b misses a step: its mu_product and step count lag a's, and each update uses its own
    kw = dict(lr=0.05, momentum_decay=0.1, weight_decay=0.01)
    a0, b0 = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.7])
    a = nn.Parameter(rustdl.tensor(a0, dtype=rustdl.float32, device=device))
    b = nn.Parameter(rustdl.tensor(b0, dtype=rustdl.float32, device=device))
    opt = optim.NAdam([a, b], **kw)
    ra, rb, sa, sb, ta, tb = a0.copy(), b0.copy(), {}, {}, 0, 0
    rng = np.random.default_rng(3)
    for k in range(5):
        ga, gb = rng.standard_normal(3), rng.standard_normal(2)
        a.grad = rustdl.tensor(ga, dtype=rustdl.float32, device=device)
        b.grad = None if k == 1 else rustdl.tensor(gb, dtype=rustdl.float32, device=device)
        opt.step()
        ta += 1
        ra = np_nadam(ra, ga.astype(np.float32).astype(np.float64), sa, ta, **kw)
        if k != 1:
            tb += 1
            rb = np_nadam(rb, gb.astype(np.float32).astype(np.float64), sb, tb, **kw)
    assert_close(a, ra, rtol=3e-5, atol=3e-6)
    assert_close(b, rb, rtol=3e-5, atol=3e-6)
    assert opt.state[a]["step"] == 5 and opt.state[b]["step"] == 4
    assert opt.state[b]["mu_product"] == pytest.approx(sb["prod"], rel=1e-12)


ROUND_TRIP = [
    (optim.Adamax, dict(lr=0.05, weight_decay=0.01)),
    (optim.NAdam, dict(lr=0.05, weight_decay=0.05, decoupled_weight_decay=True)),
    (optim.RAdam, dict(lr=0.05, betas=(0.9, 0.9))),
    (optim.Adadelta, dict(lr=1.0, weight_decay=0.01)),
]


@pytest.mark.parametrize("cls,kw", ROUND_TRIP, ids=[c[0].__name__ for c in ROUND_TRIP])
def test_state_dict_round_trip_continues_identically(device, cls, kw):
    def make():
        rustdl.manual_seed(1)
        m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).to(device)
        return m, cls(m.parameters(), **kw)

    x, y = rustdl.randn(8, 3).to(device), rustdl.randn(8, 1).to(device)

    def train(m, o, n):
        for _ in range(n):
            o.zero_grad()
            nn.MSELoss()(m(x), y).backward()
            o.step()

    m1, o1 = make()
    train(m1, o1, 3)
    sd = o1.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1, 2, 3] and sd["state"][0]["step"] == 3
    m2, o2 = make()
    m2.load_state_dict(m1.state_dict())
    o2.load_state_dict(sd)
    p2 = next(m2.parameters())
    assert o2.state[p2]["step"] == 3
    train(m1, o1, 4)
    train(m2, o2, 4)
    for q1, q2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(q1.detach().cpu().numpy(), q2.detach().cpu().numpy())
    # the loaded state is a copy, not an alias of the source's tensors
    name = next(k for k, v in o2.state[p2].items() if isinstance(v, rustdl.Tensor))
    assert o2.state[p2][name] is not o1.state[next(m1.parameters())][name]


def test_nadam_loads_pytorch_shaped_state():
    # PyTorch keeps step and mu_product as 0-d tensors
    p = nn.Parameter(rustdl.tensor([1.0, -1.0]))
    opt = optim.NAdam([p], lr=0.1)
    for _ in range(2):
        p.grad = rustdl.tensor([0.3, 0.2])
        opt.step()
    sd = opt.state_dict()
    st = dict(sd["state"][0])
    st["step"] = rustdl.tensor(float(st["step"]))
    st["mu_product"] = rustdl.tensor(st["mu_product"], dtype=rustdl.float64)
    q = nn.Parameter(p.detach().clone())
    opt2 = optim.NAdam([q], lr=0.1)
    opt2.load_state_dict({"state": {0: st}, "param_groups": sd["param_groups"]})
    assert opt2.state[q]["step"] == 2 and isinstance(opt2.state[q]["mu_product"], float)
    for o, t in ((opt, p), (opt2, q)):
        t.grad = rustdl.tensor([0.1, -0.4])
        o.step()
    assert_close(q, p.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_load_state_dict_shape_mismatch():
    a, b = nn.Parameter(rustdl.zeros(2)), nn.Parameter(rustdl.zeros(3))
    for cls in (optim.Adamax, optim.NAdam, optim.RAdam, optim.Adadelta):
        opt = cls([a])
        a.grad = rustdl.ones(2)
        opt.step()
        with pytest.raises(ValueError, match="shape"):
            cls([b]).load_state_dict(opt.state_dict())


def _p():
    return [nn.Parameter(rustdl.zeros(2))]


BAD = [
    (optim.Adamax, dict(lr=-0.1), r"Invalid learning rate: -0\.1"),
    (optim.Adamax, dict(eps=-1.0), r"Invalid epsilon value: -1\.0"),
    (optim.Adamax, dict(betas=(1.0, 0.9)), r"Invalid beta parameter at index 0: 1\.0"),
    (optim.Adamax, dict(betas=(0.9, -0.1)), r"Invalid beta parameter at index 1: -0\.1"),
    (optim.Adamax, dict(weight_decay=-0.5), r"Invalid weight_decay value: -0\.5"),
    (optim.Adamax, dict(lr=float("nan")), r"Invalid lr"),
    (optim.NAdam, dict(lr=-1e-3), r"Invalid learning rate: -0\.001"),
    (optim.NAdam, dict(eps=-1e-8), r"Invalid epsilon value"),
    (optim.NAdam, dict(betas=(-0.1, 0.9)), r"Invalid beta parameter at index 0: -0\.1"),
    (optim.NAdam, dict(betas=(0.9, 1.0)), r"Invalid beta parameter at index 1: 1\.0"),
    (optim.NAdam, dict(weight_decay=-1.0), r"Invalid weight_decay value: -1\.0"),
    (optim.NAdam, dict(momentum_decay=-0.004), r"Invalid momentum_decay value: -0\.004"),
    (optim.NAdam, dict(momentum_decay=float("inf")), r"Invalid momentum_decay"),
    (optim.RAdam, dict(lr=-2.0), r"Invalid learning rate: -2\.0"),
    (optim.RAdam, dict(eps=-0.1), r"Invalid epsilon value: -0\.1"),
    (optim.RAdam, dict(betas=(0.9, 1.5)), r"Invalid beta parameter at index 1: 1\.5"),
    (optim.RAdam, dict(weight_decay=-0.1), r"Invalid weight_decay value: -0\.1"),
    (optim.Adadelta, dict(lr=-1.0), r"Invalid learning rate: -1\.0"),
    (optim.Adadelta, dict(rho=1.5), r"Invalid rho value: 1\.5"),
    (optim.Adadelta, dict(rho=-0.1), r"Invalid rho value: -0\.1"),
    (optim.Adadelta, dict(eps=-1e-6), r"Invalid epsilon value"),
    (optim.Adadelta, dict(weight_decay=-0.1), r"Invalid weight_decay value: -0\.1"),
]


@pytest.mark.parametrize("cls,kw,msg", BAD, ids=[f"{c[0].__name__}-{next(iter(c[1]))}" for c in BAD])
def test_bad_arguments_raise(cls, kw, msg):
    with pytest.raises(ValueError, match=msg):
        cls(_p(), **kw)
    # a parameter group's override is checked too
    with pytest.raises(ValueError, match=msg):
        cls([{"params": _p(), **kw}])


def test_bad_arguments_in_added_group_and_empty_params():
    opt = optim.NAdam(_p())
    with pytest.raises(ValueError, match="Invalid momentum_decay"):
        opt.add_param_group({"params": _p(), "momentum_decay": -1.0})
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.RAdam([])


def test_direct_kernel_call_with_missing_state_is_an_error():
    p = nn.Parameter(rustdl.zeros(3))
    p.grad = rustdl.ones(3)
    with pytest.raises(ValueError, match="state buffers"):
        rustdl._rustdl.optim_step("adamax", [p], [[rustdl.zeros(3)]], {"lr": 0.1, "step": 1})


@pytest.mark.parametrize(
    "cls,kw",
    [
        (optim.Adamax, dict(lr=0.02)),
        (optim.NAdam, dict(lr=0.01)),
        (optim.NAdam, dict(lr=0.01, weight_decay=1e-3, decoupled_weight_decay=True)),
        (optim.RAdam, dict(lr=0.02)),
        (optim.RAdam, dict(lr=0.02, weight_decay=1e-3, decoupled_weight_decay=True)),
        (optim.Adadelta, dict(lr=1.0)),
    ],
    ids=["adamax", "nadam", "nadamw", "radam", "radamw", "adadelta"],
)
def test_small_training_run_converges(device, cls, kw):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (128, 3))
    y = np.sin(2 * x[:, :1]) + x[:, 1:2] * x[:, 2:3]
    rustdl.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 32), nn.Tanh(), nn.Linear(32, 1)).to(device)
    opt = cls(model.parameters(), **kw)
    xt = rustdl.tensor(x, dtype=rustdl.float32, device=device)
    yt = rustdl.tensor(y, dtype=rustdl.float32, device=device)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = nn.MSELoss()(model(xt), yt)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.25 * losses[0], f"{losses[0]:.4f} -> {losses[-1]:.4f}"
