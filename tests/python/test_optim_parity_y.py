"""Optimizer, scheduler and GradScaler behaviour checked against PyTorch 2.15 (CPU).

Expected numbers are either closed-form math or were produced by running the same code under
real PyTorch and are hard-coded here (marked "PyTorch:"); PyTorch is not imported."""

import copy
import io
import math
import warnings

import numpy as np
import pytest
import rustdl
from rustdl import nn, optim
from rustdl.optim import lr_scheduler as L


def _sgd(lr=0.1, momentum=0.0):
    return optim.SGD([nn.Parameter(rustdl.zeros(1))], lr=lr, momentum=momentum)


def _two_groups(lr=0.1):
    p, q = nn.Parameter(rustdl.zeros(1)), nn.Parameter(rustdl.zeros(1))
    return optim.SGD([{"params": [p]}, {"params": [q], "lr": lr * 2}], lr=lr, momentum=0.9)


def _run(opt, scheds, n):
    """``n`` rounds of optimizer.step() then each scheduler's step(); the lr of group 0 after each."""
    out = []
    for _ in range(n):
        opt.step()
        for s in scheds:
            s.step()
        out.append(opt.param_groups[0]["lr"])
    return out


# ---------------- A1: chainable schedulers ----------------


def test_linear_warmup_composes_with_multistep():
    opt = _sgd()
    warm = L.LinearLR(opt, start_factor=0.2, total_iters=4)
    decay = L.MultiStepLR(opt, milestones=[3])
    # PyTorch: [0.04, 0.06, 0.008, 0.01, 0.01, 0.01] (the milestone's 0.1 stays applied)
    assert _run(opt, [warm, decay], 6) == pytest.approx([0.04, 0.06, 0.008, 0.01, 0.01, 0.01], abs=1e-9)


def test_cosine_carries_on_a_hand_edited_lr():
    opt = _sgd()
    sched = L.CosineAnnealingLR(opt, T_max=10)
    lrs = []
    for i in range(6):
        opt.step()
        sched.step()
        if i == 2:
            opt.param_groups[0]["lr"] *= 0.5
        lrs.append(round(opt.param_groups[0]["lr"], 6))
    # PyTorch values
    assert lrs == [0.097553, 0.090451, 0.039695, 0.032725, 0.025, 0.017275]


def test_chained_scheduler_steps_each_scheduler_in_turn():
    opt = _sgd()
    s = L.ChainedScheduler([L.ExponentialLR(opt, 0.9), L.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)])
    lrs = [round(x, 6) for x in _run(opt, [s], 5)]
    assert lrs == [0.088042, 0.074197, 0.059834, 0.046152, 0.034092]  # PyTorch
    assert sorted(s.state_dict()) == ["_last_lr", "_schedulers"]
    # a CyclicLR (closed form from its base_lr) chained with an ExponentialLR (PyTorch values)
    opt = _two_groups()
    s = L.ChainedScheduler([L.CyclicLR(opt, 0.01, 0.1, step_size_up=2), L.ExponentialLR(opt, 0.9)])
    assert _run(opt, [s], 4) == pytest.approx([0.0495, 0.09, 0.0495, 0.009], rel=1e-12)


def test_chained_scheduler_state_dict_snapshot_does_not_follow_training():
    def make():
        o = _sgd()
        return o, L.ChainedScheduler([L.ConstantLR(o, 0.5, total_iters=3), L.ExponentialLR(o, 0.9)])

    res = []
    for deep in (True, False):
        o, s = make()
        _run(o, [s], 2)
        snap = s.state_dict()
        if deep:
            snap = copy.deepcopy(snap)
        _run(o, [s], 4)
        o2, s2 = make()
        s2.load_state_dict(snap)
        o2.step()
        s2.step()
        res.append(o2.param_groups[0]["lr"])
    # PyTorch: 0.09 for both (the restored schedulers multiply the fresh optimizer's lr)
    assert res == pytest.approx([0.09, 0.09], rel=1e-12)


def test_schedules_to_float_precision():
    # PyTorch's exact floats (repr) for the first steps of each recursive form, two groups
    cases = [
        (
            lambda o: L.LinearLR(o, 0.25, 0.9, total_iters=4),
            [0.04125, 0.05750000000000001, 0.07375000000000001],
        ),
        (lambda o: L.PolynomialLR(o, total_iters=4, power=1.7), [0.061320282613276, 0.030778610333622905]),
        (
            lambda o: L.CosineAnnealingLR(o, T_max=3, eta_min=0.01),
            [0.0775, 0.032500000000000015, 0.01, 0.0325, 0.07750000000000005, 0.10000000000000007],
        ),
        (lambda o: L.ConstantLR(o, 0.3, total_iters=3), [0.03, 0.03, 0.1]),
    ]
    for make, want in cases:
        opt = _two_groups()
        s = make(opt)
        got = _run(opt, [s], len(want))
        assert got == want
        assert s.get_last_lr()[0] == want[-1]


def test_step_with_epoch_uses_the_closed_form_and_warns():
    opt = _two_groups()
    s = L.CosineAnnealingLR(opt, T_max=3, eta_min=0.01)
    got = []
    for e in (3, 1, 5):
        opt.step()
        with pytest.warns(UserWarning, match="epoch parameter"):
            s.step(e)
        got.append(opt.param_groups[0]["lr"])
    assert got == [0.01, 0.0775, 0.0775]  # PyTorch
    opt = _sgd()
    s = L.StepLR(opt, 3, 0.5)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        s.step(7)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**2)


def test_sequential_lr_switches_with_pytorchs_values():
    opt = _two_groups()
    s = L.SequentialLR(
        opt,
        [L.LinearLR(opt, 0.1, total_iters=2), L.ExponentialLR(opt, 0.9), L.CosineAnnealingLR(opt, 4)],
        milestones=[2, 5],
    )
    want = [0.05500000000000001, 0.1, 0.09000000000000001, 0.08100000000000002, 0.1, 0.08535533905932738]
    assert _run(opt, [s], 6) == want  # PyTorch


# ---------------- A2: resuming with last_epoch ----------------


def test_resuming_multiplicative_schedulers_applies_no_extra_decay():
    for make, want in [
        (lambda o, le: L.ExponentialLR(o, gamma=0.5, last_epoch=le), 0.025),
        (lambda o, le: L.MultiplicativeLR(o, lambda e: 0.5, last_epoch=le), 0.025),
    ]:
        opt = _sgd()
        s = make(opt, -1)
        _run(opt, [s], 2)
        opt2 = _sgd()
        opt2.load_state_dict(opt.state_dict())
        s2 = make(opt2, 1)  # resume at epoch 2: the constructing step keeps the restored lr
        assert opt2.param_groups[0]["lr"] == want and s2.last_epoch == 2
        opt2.step()
        s2.step()
        assert opt2.param_groups[0]["lr"] == pytest.approx(want * 0.5)
    # LinearLR resumed at epoch 1 of 4 (PyTorch: 0.0625, then 0.08125)
    opt = optim.SGD([nn.Parameter(rustdl.zeros(1))], lr=0.1)
    s = L.LinearLR(opt, 0.25, total_iters=4)
    _run(opt, [s], 2)
    opt2 = optim.SGD([nn.Parameter(rustdl.zeros(1))], lr=0.1)
    opt2.load_state_dict(opt.state_dict())
    s2 = L.LinearLR(opt2, 0.25, total_iters=4, last_epoch=1)
    assert opt2.param_groups[0]["lr"] == 0.06250000000000001
    assert _run(opt2, [s2], 1) == [0.08125000000000002]


# ---------------- D1: warnings, hooks ----------------


def test_scheduler_warnings_as_pytorch():
    opt = _sgd()
    s = L.StepLR(opt, 2)
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        s.step()  # before optimizer.step()
        opt.step()
        s.step(5)
        s.get_lr()
    msgs = [str(w.message) for w in ws]
    assert msgs[0].startswith("Detected call of `lr_scheduler.step()` before `optimizer.step()`")
    assert msgs[1].startswith("The epoch parameter in `scheduler.step()`")
    assert msgs[2].startswith("To get the last learning rate computed by the scheduler")
    assert len(msgs) == 3
    # the right order warns nothing
    opt = _sgd()
    s = L.CosineAnnealingLR(opt, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _run(opt, [s], 3)
        s.get_last_lr()


def test_step_hooks_get_the_call_args_with_the_optimizer():
    opt = _sgd()
    seen = []
    opt.register_step_pre_hook(lambda o, a, k: seen.append(("pre", a, dict(k))))
    opt.register_step_post_hook(lambda o, a, k: seen.append(("post", a, dict(k))))
    opt.step()
    opt.step(closure=None)
    assert seen == [
        ("pre", (opt,), {}),
        ("post", (opt,), {}),
        ("pre", (opt,), {"closure": None}),
        ("post", (opt,), {"closure": None}),
    ]


# ---------------- A4 / C3: GradScaler ----------------


def test_grad_scaler_needs_scale_first():
    p = nn.Parameter(rustdl.ones(2))
    opt = optim.SGD([p], lr=0.1)
    sc = rustdl.amp.GradScaler("cpu")
    assert sc._scale is None and sc._growth_tracker is None and sc.get_scale() == 65536.0
    (p * 2).sum().backward()
    for call, name in (
        (lambda: sc.step(opt), "step"),
        (sc.update, "update"),
        (lambda: sc.unscale_(opt), "unscale_"),
    ):
        with pytest.raises(AssertionError, match=f"Attempted {name} but _scale is None"):
            call()
    np.testing.assert_array_equal(p.detach().numpy(), [1.0, 1.0])


def test_grad_scaler_state_as_pytorch():
    p = nn.Parameter(rustdl.ones(2))
    opt = optim.SGD([p], lr=0.1)
    sc = rustdl.amp.GradScaler(
        "cpu", init_scale=3.0, growth_interval=2, growth_factor=1.7, backoff_factor=0.3
    )
    scales, trackers = [], []
    for i in range(5):
        opt.zero_grad()
        sc.scale((p * (math.inf if i == 2 else 1.3)).sum()).backward()
        sc.step(opt)
        sc.update()
        scales.append(sc.get_scale())
        trackers.append(sc.state_dict()["_growth_tracker"])
    # PyTorch (the scale is a float32 tensor)
    assert scales == [3.0, 5.099999904632568, 1.5299999713897705, 1.5299999713897705, 2.6009998321533203]
    assert trackers == [1, 0, 0, 1, 0]
    assert sc._scale.dtype == rustdl.float32 and sc._growth_tracker.dtype == rustdl.int32
    np.testing.assert_allclose(p.detach().numpy(), [0.48, 0.48], rtol=1e-6)
    with pytest.raises(AssertionError, match="No inf checks were recorded prior to update"):
        sc.update()
    with pytest.raises(AssertionError, match="growth factor"):
        rustdl.amp.GradScaler("cpu", growth_factor=1.0)


# ---------------- A7: zero_grad(set_to_none=False) ----------------


def test_zero_grad_keeping_tensors_detaches_them():
    x = rustdl.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([x], lr=0.1)
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    opt.zero_grad(set_to_none=False)
    assert not x.grad.requires_grad and x.grad.grad_fn is None
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


# ---------------- B1: named parameters ----------------


def test_optimizers_take_named_parameters():
    m = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    opt = optim.AdamW(m.named_parameters(), lr=1e-3)
    assert opt.param_groups[0]["param_names"] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    opt = optim.Adam(
        [{"params": m[0].named_parameters(), "lr": 0.1}, {"params": list(m[1].named_parameters())}], lr=0.01
    )
    m(rustdl.ones(3, 2)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    assert [(g["params"], g["param_names"]) for g in sd["param_groups"]] == [
        ([0, 1], ["weight", "bias"]),
        ([2, 3], ["weight", "bias"]),
    ]
    with pytest.raises(ValueError, match="with/without names"):
        opt.add_param_group({"params": [nn.Parameter(rustdl.ones(1))]})
    with pytest.raises(ValueError, match="Some param names are missing"):
        optim.SGD([("a", nn.Parameter(rustdl.ones(1))), nn.Parameter(rustdl.ones(1))])
    # a state dict with names loads into an optimizer without (the names come along)
    m2 = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    o2 = optim.Adam([{"params": m2[0].parameters(), "lr": 0.1}, {"params": m2[1].parameters()}], lr=0.01)
    o2.load_state_dict(sd)
    assert [g["param_names"] for g in o2.param_groups] == [["weight", "bias"], ["weight", "bias"]]


# ---------------- B2: legacy weight_norm checkpoints ----------------


def test_legacy_weight_norm_checkpoint_loads_into_parametrized_module():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = nn.utils.weight_norm(nn.Linear(3, 2))
    new = nn.utils.parametrizations.weight_norm(nn.Linear(3, 2))
    sd = old.state_dict()
    keys = list(sd)
    new.load_state_dict(sd)
    assert list(sd) == keys  # the caller's dict is left alone
    np.testing.assert_allclose(new.weight.detach().numpy(), old.weight.detach().numpy(), rtol=1e-6)
    x = rustdl.randn(4, 3)
    np.testing.assert_allclose(new(x).detach().numpy(), old(x).detach().numpy(), rtol=1e-5, atol=1e-6)


# ---------------- B3: step counts and scalar state are 0-d tensors ----------------


def test_step_counts_are_tensors():
    p = nn.Parameter(rustdl.tensor([1.0, -2.0]))
    # PyTorch's parameters after 4 steps with these gradients, and ASGD's eta after them
    want = {
        optim.Rprop: None,
        optim.ASGD: None,
        optim.NAdam: [0.992061, -1.993393],
        optim.Adam: None,
        optim.Adagrad: None,
        optim.RMSprop: None,
        optim.Adamax: None,
        optim.Adadelta: None,
        optim.RAdam: None,
    }
    for cls, params in want.items():
        q = nn.Parameter(p.detach().clone())
        opt = cls([q])
        for i in range(4):
            q.grad = rustdl.tensor([0.5 * (i + 1), -0.3])
            opt.step()
        st = opt.state[q]
        assert rustdl.is_tensor(st["step"]) and st["step"].item() == 4.0, cls
        assert st["step"].dtype == rustdl.float32 and st["step"].shape == ()
        if params is not None:
            np.testing.assert_allclose(q.detach().numpy(), params, atol=1e-6)
        # round trip through a file keeps the count
        buf = io.BytesIO()
        rustdl.save(opt.state_dict(), buf)
        buf.seek(0)
        q2 = nn.Parameter(q.detach().clone())
        o2 = cls([q2])
        o2.load_state_dict(rustdl.load(buf))
        assert o2.state[q2]["step"].item() == 4.0
        q.grad = q2.grad = rustdl.tensor([0.1, 0.2])
        opt.step()
        o2.step()
        np.testing.assert_array_equal(q.detach().numpy(), q2.detach().numpy())
    # ASGD's eta and mu, NAdam's mu_product answer .item()
    q = nn.Parameter(p.detach().clone())
    opt = optim.ASGD([q], lr=0.3, t0=2, lambd=0.1)
    for i in range(4):
        q.grad = rustdl.tensor([0.5 * (i + 1), -0.3])
        opt.step()
    st = opt.state[q]
    assert rustdl.is_tensor(st["eta"]) and rustdl.is_tensor(st["mu"])
    assert st["eta"].item() == pytest.approx(0.3 / (1 + 0.1 * 0.3 * 4) ** 0.75)
    assert st["mu"].item() == pytest.approx(0.5)  # 1 / max(1, 4 - 2)
    q = nn.Parameter(p.detach().clone())
    opt = optim.NAdam([q])
    q.grad = rustdl.tensor([1.0, 1.0])
    opt.step()
    assert opt.state[q]["mu_product"].item() == pytest.approx(0.9 * (1 - 0.5 * 0.96**0.004))


def test_step_count_behaves_as_a_number_and_a_tensor():
    p = nn.Parameter(rustdl.ones(2))
    opt = optim.Adam([p])
    for _ in range(3):
        p.grad = rustdl.ones(2)
        opt.step()
    s = opt.state[p]["step"]
    assert s == 3 and int(s) == 3 and float(s) == 3.0 and repr(s) == "tensor(3.)"
    assert (s + 1).item() == 4.0 and s.item() == 3.0  # a new value, not an in-place add
    snap = opt.state_dict()["state"][0]["step"]
    p.grad = rustdl.ones(2)
    opt.step()
    assert snap.item() == 3.0 and opt.state[p]["step"].item() == 4.0
    # a count written in place, or replaced by a plain tensor, is picked up
    opt.state[p]["step"] = rustdl.tensor(10.0)
    p.grad = rustdl.ones(2)
    opt.step()
    assert opt.state[p]["step"].item() == 11.0
    opt.state[p]["step"].fill_(0.0)
    opt.step()
    assert opt.state[p]["step"].item() == 1.0


# ---------------- B4: duplicate parameters ----------------


def test_duplicate_parameters_warn_and_stay():
    w = nn.Parameter(rustdl.ones(2))
    v = nn.Parameter(rustdl.ones(1))
    with pytest.warns(UserWarning, match="duplicate parameters"):
        opt = optim.SGD([{"params": [w, w]}, {"params": [v]}], lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 2
    w.grad, v.grad = rustdl.ones(2), rustdl.ones(1)
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 0.8], rtol=1e-6)  # stepped twice, as PyTorch
    assert [g["params"] for g in opt.state_dict()["param_groups"]] == [[1, 1], [2]]  # PyTorch's indices


# ---------------- C1: tensor lr with foreach ----------------


def test_adam_refuses_a_tensor_lr_with_foreach():
    p = nn.Parameter(rustdl.ones(2))
    with pytest.raises(
        ValueError, match="lr as a Tensor is not supported for capturable=False and foreach=True"
    ):
        optim.Adam([p], lr=rustdl.tensor(0.01), foreach=True)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        optim.Adam([p], lr=rustdl.tensor([0.01, 0.02]))
    optim.Adam([p], lr=rustdl.tensor(0.01), foreach=True, capturable=True)
