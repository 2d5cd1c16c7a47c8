"""rustdl.func (torch.func): grad / vjp / jvp / jacrev / jacfwd / hessian / vmap /
functional_call / stack_module_state, and autograd.forward_ad. References are closed-form
derivatives, numpy, finite differences and per-sample loops of plain autograd."""

import textwrap

import numpy as np
import pytest
import rustdl
import rustdl.autograd.forward_ad as fwAD
import rustdl.nn as nn
import rustdl.nn.functional as F
from conftest import compat_report, run_compat_file
from rustdl.func import (
    functional_call,
    grad,
    grad_and_value,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    stack_module_state,
    vjp,
    vmap,
)


def _np(t):
    return t.detach().numpy()


def _t(a, dtype=rustdl.float64):
    return rustdl.tensor(np.asarray(a, dtype=np.float64), dtype=dtype)


def _mlp(seed=0):
    rustdl.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))


# ---------- grad ----------


def test_grad_matches_closed_form_and_composes():
    x = _t([0.3, -1.2, 2.0])
    g = grad(lambda x: (x.sin() * x).sum())(x)
    xn = _np(x)
    np.testing.assert_allclose(_np(g), np.cos(xn) * xn + np.sin(xn), rtol=1e-12)
    assert not g.requires_grad
    s = _t(1.7)
    np.testing.assert_allclose(_np(grad(grad(lambda x: x**3))(s)), 6 * 1.7, rtol=1e-12)
    np.testing.assert_allclose(_np(grad(grad(grad(lambda x: x.sin())))(s)), -np.cos(1.7), rtol=1e-12)
    # vmap(grad): per-element derivative
    np.testing.assert_allclose(_np(vmap(grad(lambda x: x.sin()))(x)), np.cos(xn), rtol=1e-12)


def test_grad_argnums_has_aux_and_pytrees():
    x, y = _t([1.0, 2.0]), _t([3.0, -1.0])

    def f(x, y):
        return (x * y).sum() + (x**2).sum(), {"aux": x.sum()}

    gx, aux = grad(f, has_aux=True)(x, y)
    np.testing.assert_allclose(_np(gx), _np(y) + 2 * _np(x))
    assert float(aux["aux"]) == 3.0 and not aux["aux"].requires_grad
    gx2, gy = grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(_np(gx2), _np(y))
    np.testing.assert_allclose(_np(gy), _np(x))
    (gneg,) = grad(lambda x, y: (x * y).sum(), argnums=(-1,))(x, y)
    np.testing.assert_allclose(_np(gneg), _np(x))
    # a dict of parameters; an unused entry gets zeros
    params = {"w": _t([[1.0, 2.0], [3.0, 4.0]]), "b": _t([0.5, -0.5]), "unused": _t([9.0])}
    gp = grad(lambda p, v: ((p["w"] @ v + p["b"]) ** 2).sum())(params, _t([1.0, 1.0]))
    r = _np(params["w"]) @ np.ones(2) + _np(params["b"])
    np.testing.assert_allclose(_np(gp["w"]), 2 * np.outer(r, np.ones(2)))
    np.testing.assert_allclose(_np(gp["b"]), 2 * r)
    np.testing.assert_array_equal(_np(gp["unused"]), [0.0])
    # an argument the function ignores: zeros
    np.testing.assert_array_equal(_np(grad(lambda x, y: y.sum())(x, y)), [0.0, 0.0])


def test_grad_and_value():
    x = _t([1.0, 2.0])
    g, v = grad_and_value(lambda x: (x**2).sum())(x)
    np.testing.assert_allclose(_np(g), [2.0, 4.0])
    assert float(v) == 5.0 and not v.requires_grad
    g, (v, aux) = grad_and_value(lambda x: ((x**2).sum(), x * 2), has_aux=True)(x)
    np.testing.assert_allclose(_np(aux), [2.0, 4.0])


def test_grad_is_differentiable_by_outer_autograd():
    # MAML shape: the inner gradient keeps its dependence on parameters that require grad
    w = _t([0.5, -1.0]).requires_grad_(True)
    x = _t([2.0, 3.0])
    g = grad(lambda x: ((w * x) ** 2).sum())(x)  # 2 w^2 x
    assert g.requires_grad
    g.sum().backward()
    np.testing.assert_allclose(_np(w.grad), 4 * _np(w) * _np(x))


def test_transforms_under_no_grad_and_vjp_fn_under_a_later_grad():
    x = _t([1.0, 2.0])
    with rustdl.no_grad():
        g = grad(lambda x: (x**3).sum())(x)
        h = hessian(lambda x: (x**3).sum())(x)
    np.testing.assert_allclose(_np(g), 3 * _np(x) ** 2)
    np.testing.assert_allclose(_np(h), np.diag(6 * _np(x)))
    assert not g.requires_grad and not h.requires_grad
    _, vjp_fn = vjp(lambda x: x**2, x)
    gv = grad(lambda v: (vjp_fn(v)[0] ** 2).sum())(_t([1.0, 1.0]))  # d/dv |2xv|^2 = 8x^2 v
    np.testing.assert_allclose(_np(gv), 8 * _np(x) ** 2)
    assert not gv.requires_grad


def test_grad_of_inner_gradient_step_equals_plain_autograd():
    net = _mlp(1).double()
    xs, ys = rustdl.randn(5, 4, dtype=rustdl.float64), rustdl.randn(5, 3, dtype=rustdl.float64)
    xq, yq = rustdl.randn(5, 4, dtype=rustdl.float64), rustdl.randn(5, 3, dtype=rustdl.float64)

    def loss(p, x, y):
        return F.mse_loss(functional_call(net, p, (x,)), y)

    def inner(p):
        g = grad(loss)(p, xs, ys)
        return loss({k: v - 0.1 * g[k] for k, v in p.items()}, xq, yq)

    params = dict(net.named_parameters())
    inner(params).backward()
    meta = grad(inner)({k: v.detach() for k, v in params.items()})
    for k, p in net.named_parameters():
        np.testing.assert_allclose(_np(meta[k]), _np(p.grad), rtol=1e-9, atol=1e-12)


def test_grad_errors():
    with pytest.raises(RuntimeError, match="scalar"):
        grad(lambda x: x * 2)(_t([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="scalar"):
        grad(lambda x: x.sum().reshape(1))(_t([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="argnum"):
        grad(lambda x: x.sum(), argnums=1)(_t([1.0]))
    with pytest.raises(RuntimeError, match="argnums"):
        grad(lambda x: x.sum(), argnums="0")
    with pytest.raises(RuntimeError, match="floating point"):
        grad(lambda x: x.sum())(rustdl.tensor([1, 2]))
    with pytest.raises(ValueError, match="grad"):
        grad(lambda x: x)(1.0)
    with pytest.raises(RuntimeError, match="has_aux"):
        grad(lambda x: x.sum(), has_aux=True)(_t([1.0]))


# ---------- vjp / jvp ----------


def test_vjp_and_jvp_closed_form():
    x = _t([0.2, 0.7, -1.1])
    xn = _np(x)
    out, vjp_fn = vjp(lambda x: x.exp() * x, x)
    np.testing.assert_allclose(_np(out), np.exp(xn) * xn)
    v = _t([1.0, -2.0, 0.5])
    (g,) = vjp_fn(v)
    np.testing.assert_allclose(_np(g), _np(v) * np.exp(xn) * (1 + xn), rtol=1e-12)
    (g2,) = vjp_fn(v * 2)  # callable again
    np.testing.assert_allclose(_np(g2), 2 * _np(g))
    # vmap(vjp_fn) over the identity gives the Jacobian
    (jac,) = vmap(vjp_fn)(rustdl.eye(3, dtype=rustdl.float64))
    np.testing.assert_allclose(_np(jac), np.diag(np.exp(xn) * (1 + xn)), rtol=1e-12)
    o, jv = jvp(lambda x: x.exp() * x, (x,), (v,))
    np.testing.assert_allclose(_np(jv), _np(v) * np.exp(xn) * (1 + xn), rtol=1e-12)
    assert not jv.requires_grad and not o.requires_grad
    with pytest.raises(RuntimeError, match="shape"):
        vjp_fn(_t([1.0]))
    with pytest.raises(RuntimeError, match="tuple"):
        jvp(lambda x: x, x, (v,))
    with pytest.raises(RuntimeError, match="shapes"):
        jvp(lambda x: x, (x,), (_t([1.0]),))


def test_jvp_matches_finite_differences_with_pytrees():
    rng = np.random.default_rng(0)
    a, b = _t(rng.standard_normal((3, 2))), _t(rng.standard_normal(2))
    ta, tb = _t(rng.standard_normal((3, 2))), _t(rng.standard_normal(2))

    def f(a, b):
        return {"y": (a @ b).tanh(), "z": (a * a).sum() * b}

    out, tan, aux = jvp(lambda a, b: (f(a, b), 7), (a, b), (ta, tb), has_aux=True)
    assert aux == 7
    eps = 1e-6
    hi = f(a + eps * ta, b + eps * tb)
    lo = f(a - eps * ta, b - eps * tb)
    for k in ("y", "z"):
        np.testing.assert_allclose(_np(tan[k]), (_np(hi[k]) - _np(lo[k])) / (2 * eps), rtol=1e-6, atol=1e-9)
    # an output independent of the input: zero tangent
    _, t0 = jvp(lambda x: (x * 0).detach() + 1.0, (a,), (ta,))
    np.testing.assert_array_equal(_np(t0), np.zeros((3, 2)))


def test_hvp_forward_over_reverse_and_reverse_over_reverse():
    x = _t(np.linspace(-1, 1, 6))
    t = _t(np.cos(np.arange(6.0)))

    def f(x):
        return x.sin().sum()

    hv = jvp(grad(f), (x,), (t,))[1]
    np.testing.assert_allclose(_np(hv), -np.sin(_np(x)) * _np(t), rtol=1e-12)
    _, vfn = vjp(grad(f), x)
    np.testing.assert_allclose(_np(vfn(t)[0]), -np.sin(_np(x)) * _np(t), rtol=1e-12)


# ---------- jacrev / jacfwd / hessian ----------


def test_jacrev_jacfwd_closed_form():
    x = _t([0.5, -0.3, 1.2])
    xn = _np(x)

    def f(x):
        return x.sin() * x.sum()

    ref = np.diag(np.cos(xn) * xn.sum()) + np.sin(xn)[:, None] * np.ones(3)[None, :]
    np.testing.assert_allclose(_np(jacrev(f)(x)), ref, rtol=1e-12)
    np.testing.assert_allclose(_np(jacfwd(f)(x)), ref, rtol=1e-12)
    # several outputs and argnums: a tuple per output
    w = _t([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
    jw, jx = jacrev(lambda w, x: w @ x, argnums=(0, 1))(w, x)
    assert tuple(jw.shape) == (2, 2, 3) and tuple(jx.shape) == (2, 3)
    np.testing.assert_allclose(_np(jx), _np(w))
    ref_w = np.zeros((2, 2, 3))
    ref_w[0, 0], ref_w[1, 1] = xn, xn
    np.testing.assert_allclose(_np(jw), ref_w)
    (j1, j2), aux = jacfwd(lambda x: ((x * 2, x.sum()), "a"), has_aux=True)(x)
    np.testing.assert_allclose(_np(j1), 2 * np.eye(3))
    np.testing.assert_allclose(_np(j2), np.ones(3))
    assert aux == "a"
    # a scalar input
    np.testing.assert_allclose(_np(jacrev(lambda s: s**2)(_t(3.0))), 6.0)


def test_hessian_and_nested_jacobians():
    x = _t([0.7, -0.4, 1.5])
    xn = _np(x)

    def f(x):
        return (x**3).sum() + x[0] * x[1] + (x[2] * x[0]).sin()

    ref = np.diag(6 * xn)
    ref[0, 1] = ref[1, 0] = 1.0
    s = np.sin(xn[2] * xn[0])
    c = np.cos(xn[2] * xn[0])
    ref[0, 0] += -s * xn[2] ** 2
    ref[2, 2] += -s * xn[0] ** 2
    ref[0, 2] = ref[2, 0] = c - s * xn[0] * xn[2]
    for h in (hessian(f)(x), jacrev(jacrev(f))(x), jacfwd(jacrev(f))(x), jacfwd(jacfwd(f))(x)):
        np.testing.assert_allclose(_np(h), ref, rtol=1e-10, atol=1e-12)
    # batched Hessians of a vector function: shape (B, out, in, in)
    xb = _t(np.linspace(0.1, 1.0, 6).reshape(2, 3))
    hb = vmap(hessian(lambda x: x.tanh()))(xb)
    assert tuple(hb.shape) == (2, 3, 3, 3)
    tn = np.tanh(_np(xb))
    for b in range(2):
        for i in range(3):
            expect = np.zeros((3, 3))
            expect[i, i] = -2 * tn[b, i] * (1 - tn[b, i] ** 2)
            np.testing.assert_allclose(_np(hb[b, i]), expect, rtol=1e-10, atol=1e-12)


def test_batched_jacobian_equals_summed_output_trick():
    rng = np.random.default_rng(1)
    w, b, x = _t(rng.standard_normal((5, 4))), _t(rng.standard_normal(5)), _t(rng.standard_normal((3, 4)))

    def predict(w, b, x):
        return F.linear(x, w, b).tanh()

    j0 = vmap(jacrev(predict, argnums=2), in_dims=(None, None, 0))(w, b, x)
    j1 = jacrev(lambda w, b, x: predict(w, b, x).sum(0), argnums=2)(w, b, x).movedim(1, 0)
    np.testing.assert_allclose(_np(j0), _np(j1), rtol=1e-12)


# ---------- vmap ----------


def test_vmap_in_dims_out_dims_and_nesting():
    x = _t(np.arange(24.0).reshape(2, 3, 4))
    xn = _np(x)
    np.testing.assert_allclose(_np(vmap(lambda s: s.sum())(x)), xn.sum((1, 2)))
    np.testing.assert_allclose(_np(vmap(lambda s: s.sum(0), in_dims=1)(x)), xn.transpose(1, 0, 2).sum(1))
    np.testing.assert_allclose(_np(vmap(lambda s: s.sum(0), in_dims=-1)(x)), xn.sum(0).T)
    out = vmap(lambda s: s * 2, in_dims=1, out_dims=1)(x)
    np.testing.assert_allclose(_np(out), 2 * xn)
    # None: not mapped; nested in_dims over a tuple and a dict argument
    y = _t([1.0, 10.0, 100.0, 1000.0])
    np.testing.assert_allclose(_np(vmap(lambda s, y: s @ y, in_dims=(0, None))(x, y)), xn @ _np(y))
    pair = (x, _t([1.0, 2.0]))
    d = {"a": _t(np.ones((4, 2))), "c": 3.0}

    def f(p, d):
        return p[0].sum() * p[1] + d["a"].sum() * d["c"]

    got = vmap(f, in_dims=((0, 0), {"a": 1, "c": None}))(pair, d)
    np.testing.assert_allclose(_np(got), xn.sum((1, 2)) * [1.0, 2.0] + 4 * 3.0)
    # pytree outputs with per-output out_dims; numbers stack to (B,)
    a, n = vmap(lambda s: (s[0], 5.0), out_dims=(1, 0))(x)
    np.testing.assert_allclose(_np(a), xn[:, 0].T)
    np.testing.assert_allclose(_np(n), [5.0, 5.0])
    # vmap(vmap(f)) maps over both dims
    np.testing.assert_allclose(_np(vmap(vmap(lambda v: v.max()))(x)), xn.max(2))
    np.testing.assert_allclose(_np(vmap(vmap(lambda v: v.max()), in_dims=2)(x)), xn.max(1).T)
    # kwargs pass through unmapped
    np.testing.assert_allclose(_np(vmap(lambda s, k=1.0: s.sum() * k)(x, k=2.0)), 2 * xn.sum((1, 2)))


def test_vmap_is_differentiable():
    x = _t([[1.0, 2.0], [3.0, 4.0]]).requires_grad_(True)
    vmap(lambda r: (r**2).sum())(x).sum().backward()
    np.testing.assert_allclose(_np(x.grad), 2 * _np(x))
    # grad of a vmapped function, and vmap of jacrev
    g = grad(lambda x: vmap(lambda r: r.sin().sum())(x).sum())(x.detach())
    np.testing.assert_allclose(_np(g), np.cos(_np(x)), rtol=1e-12)
    j = vmap(jacrev(lambda r: r * r.sum()))(x.detach())
    for b in range(2):
        r = _np(x)[b]
        np.testing.assert_allclose(_np(j[b]), np.diag(np.full(2, r.sum())) + r[:, None], rtol=1e-12)


def test_vmap_errors():
    with pytest.raises(ValueError, match="same size in the mapped dimension"):
        vmap(lambda a, b: a + b)(rustdl.ones(2, 3), rustdl.ones(3, 3))
    with pytest.raises(ValueError, match="in_dims"):
        vmap(lambda a: a, in_dims="a")
    with pytest.raises(ValueError, match="in_dims"):
        vmap(lambda a: a, in_dims=None)
    with pytest.raises(ValueError, match="in_dims"):
        vmap(lambda a: a, in_dims=(0, 0))(rustdl.ones(2))
    with pytest.raises(ValueError, match="dimensionality 1"):
        vmap(lambda a: a, in_dims=2)(rustdl.ones(2))
    with pytest.raises(ValueError, match="non-Tensor"):
        vmap(lambda a: a)(1.0)
    with pytest.raises(ValueError, match="at least one input"):
        vmap(lambda a, b: a, in_dims=(None, None))(rustdl.ones(2), rustdl.ones(2))
    with pytest.raises(ValueError, match="in_dims"):
        vmap(lambda d: d["a"], in_dims=({"b": 0},))({"a": rustdl.ones(2)})
    with pytest.raises(IndexError, match="out_dim"):
        vmap(lambda a: a.sum(), out_dims=1)(rustdl.ones(2, 3))
    with pytest.raises(ValueError, match="Tensors"):
        vmap(lambda a: "text")(rustdl.ones(2))
    with pytest.raises(ValueError, match="shape"):
        vmap(lambda a: a[: int(a[0].item())])(rustdl.tensor([[1.0, 0.0], [2.0, 0.0]]))
    with pytest.raises(RuntimeError, match="randomness"):
        vmap(lambda a: a, randomness="sometimes")
    with pytest.raises(ValueError, match="chunk_size"):
        vmap(lambda a: a, chunk_size=0)


def test_vmap_zero_batch_gives_empty_results_like_pytorch():
    # PyTorch: vmap(lambda x: x.sum())(zeros(0, 3)) -> tensor([]), vmap(lambda x: x * 2) -> (0, 3)
    assert tuple(vmap(lambda x: x.sum())(rustdl.zeros(0, 3)).shape) == (0,)
    assert tuple(vmap(lambda x: x * 2)(rustdl.zeros(0, 3)).shape) == (0, 3)
    assert tuple(vmap(lambda x: x * 2, in_dims=1, out_dims=1)(rustdl.zeros(3, 0)).shape) == (3, 0)
    a, b = vmap(lambda x, y: (x @ y, x.sum()), in_dims=(0, None))(rustdl.zeros(0, 2, 3), rustdl.ones(3, 4))
    assert tuple(a.shape) == (0, 2, 4) and tuple(b.shape) == (0,)


def test_vmap_randomness():
    rustdl.manual_seed(0)
    same = vmap(lambda x: x + rustdl.rand(()), randomness="same")(rustdl.zeros(3))
    assert len(set(_np(same).tolist())) == 1
    diff = vmap(lambda x: x + rustdl.rand(()), randomness="different")(rustdl.zeros(3))
    assert len(set(_np(diff).tolist())) == 3


# ---------- functional_call, stack_module_state ----------


def test_per_sample_gradients_equal_the_autograd_loop():
    model = _mlp(3)
    data, targets = rustdl.randn(7, 4), rustdl.randint(0, 3, (7,))

    def loss_fn(pred, tgt):
        return F.cross_entropy(pred, tgt)

    loop = []
    for i in range(7):
        loss = loss_fn(model(data[i].unsqueeze(0)), targets[i].unsqueeze(0))
        loop.append(rustdl.autograd.grad(loss, list(model.parameters())))
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def compute_loss(params, buffers, sample, target):
        pred = functional_call(model, (params, buffers), (sample.unsqueeze(0),))
        return loss_fn(pred, target.unsqueeze(0))

    per = vmap(grad(compute_loss), in_dims=(None, None, 0, 0))(params, buffers, data, targets)
    assert list(per) == [k for k, _ in model.named_parameters()]
    for j, (_, g) in enumerate(per.items()):
        assert tuple(g.shape) == (7, *loop[0][j].shape) and not g.requires_grad
        np.testing.assert_allclose(_np(g), np.stack([_np(row[j]) for row in loop]), rtol=1e-5, atol=1e-6)
    # the model's own parameters are back and untouched
    for p, q in zip(model.parameters(), params.values()):
        assert isinstance(p, nn.Parameter) and p.requires_grad
        np.testing.assert_array_equal(_np(p), _np(q))


def test_ensemble_with_stack_module_state():
    models = [_mlp(s) for s in range(4)]
    params, buffers = stack_module_state(models)
    assert all(tuple(p.shape)[0] == 4 and p.requires_grad and p.is_leaf for p in params.values())
    x = rustdl.randn(5, 4)
    xs = rustdl.randn(4, 5, 4)

    def fmodel(params, buffers, x):
        return functional_call(models[0], (params, buffers), (x,))

    same = vmap(fmodel, in_dims=(0, 0, None))(params, buffers, x)
    diff = vmap(fmodel)(params, buffers, xs)
    for i, m in enumerate(models):
        np.testing.assert_allclose(_np(same[i]), _np(m(x)), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(_np(diff[i]), _np(m(xs[i])), rtol=1e-5, atol=1e-6)
    # gradients reach the stacked parameters
    same.sum().backward()
    assert tuple(params["2.bias"].grad.shape) == (4, 3)
    np.testing.assert_allclose(_np(params["2.bias"].grad), np.full((4, 3), 5.0))
    # buffers stack too (BatchNorm running statistics)
    bns = [nn.BatchNorm1d(3) for _ in range(2)]
    _, bufs = stack_module_state(bns)
    assert tuple(bufs["running_mean"].shape) == (2, 3)
    with pytest.raises(RuntimeError, match="at least one model"):
        stack_module_state([])
    with pytest.raises(RuntimeError, match="training/eval"):
        stack_module_state([_mlp(0), _mlp(1).eval()])


def test_functional_call_swaps_and_restores():
    lin = nn.Linear(2, 2)
    w0 = lin.weight
    w = rustdl.eye(2, requires_grad=True)
    b = rustdl.zeros(2)
    x = rustdl.tensor([[1.0, 2.0]])
    out = functional_call(lin, {"weight": w, "bias": b}, x)
    np.testing.assert_allclose(_np(out), [[1.0, 2.0]])
    out.sum().backward()
    np.testing.assert_allclose(_np(w.grad), [[1.0, 2.0], [1.0, 2.0]])
    assert lin.weight is w0
    # only some names given: the rest stay the module's own
    out = functional_call(lin, {"bias": rustdl.ones(2)}, (x,))
    np.testing.assert_allclose(_np(out), _np(x @ lin.weight.t() + 1), rtol=1e-6)

    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

        def forward(self, x):
            raise ValueError("boom")

    m = Boom()
    orig = m.lin.weight
    with pytest.raises(ValueError, match="boom"):
        functional_call(m, {"lin.weight": rustdl.zeros(2, 2)}, (x,))
    assert m.lin.weight is orig
    with pytest.raises(ValueError, match="multiple"):
        functional_call(lin, ({"weight": w}, {"weight": w}), (x,))
    with pytest.raises(RuntimeError, match="strict"):
        functional_call(lin, {"weight": w}, (x,), strict=True)
    with pytest.raises(TypeError, match="functional_call"):
        functional_call(lin, {"weight": [1.0]}, (x,))
    with pytest.raises(TypeError, match="functional_call"):
        functional_call(lin, "weight", (x,))
    with pytest.raises(AttributeError, match="functional_call"):
        functional_call(lin, {"nosuch.weight": w}, (x,))
    # kwargs reach forward
    np.testing.assert_allclose(_np(functional_call(lin, {}, (), {"input": x})), _np(lin(x)))


def test_functional_call_tied_weights():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2, bias=False)
            self.b = nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    m = Tied()
    x = rustdl.tensor([[1.0, -1.0]])
    w = 2 * rustdl.eye(2)
    np.testing.assert_allclose(_np(functional_call(m, {"a.weight": w}, (x,))), [[4.0, -4.0]])
    np.testing.assert_allclose(
        _np(functional_call(m, {"a.weight": w}, (x,), tie_weights=False)), _np(m.b(x @ w.t()))
    )
    with pytest.raises(ValueError, match="tied"):
        functional_call(m, {"a.weight": w, "b.weight": rustdl.eye(2)}, (x,))


def test_stateless_module_path_linearize_functionalize_and_batch_norm():
    from rustdl.func import functionalize, linearize, replace_all_batch_norm_modules_
    from rustdl.nn.utils.stateless import functional_call as fc

    assert fc is functional_call and rustdl.vmap is vmap
    x = _t([0.4, 1.3])
    out, jvp_fn = linearize(lambda x: x.sin(), x)
    np.testing.assert_allclose(_np(out), np.sin(_np(x)))
    np.testing.assert_allclose(_np(jvp_fn(_t([1.0, 2.0]))), np.cos(_np(x)) * [1.0, 2.0], rtol=1e-12)
    f = functionalize(lambda x: x * 2)
    np.testing.assert_allclose(_np(f(x)), 2 * _np(x))
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    replace_all_batch_norm_modules_(m)
    assert m[1].running_mean is None and not m[1].track_running_stats
    m(rustdl.randn(4, 2))  # batch statistics only


def test_torch_func_import_paths_resolve_through_the_facade(tmp_path):
    script = tmp_path / "imports.py"
    script.write_text(
        "import json, torch, torch.func\n"
        "from torch.func import vmap, grad, functional_call, jacrev, hessian, stack_module_state\n"
        "import torch.autograd.forward_ad as fwAD\n"
        "from torch.nn.utils.stateless import functional_call as fc2\n"
        "x = torch.arange(6.).reshape(3, 2)\n"
        "with fwAD.dual_level():\n"
        "    t = fwAD.unpack_dual(fwAD.make_dual(x, torch.ones(3, 2)) ** 2).tangent\n"
        "print(json.dumps({'same': torch.vmap.__wrapped__ is vmap and fc2 is functional_call and torch.func.grad is grad,\n"
        "  'v': torch.vmap(lambda r: r.sum())(x).tolist(), 'g': vmap(grad(lambda r: (r ** 2).sum()))(x).tolist(),\n"
        "  't': t.tolist()}))\n"
    )
    proc = run_compat_file(script, env={"RUSTDL_NUM_THREADS": "1"}, timeout=120)
    out = compat_report(proc)
    assert out["same"] and out["v"] == [1.0, 5.0, 9.0]
    assert out["g"] == [[0.0, 2.0], [4.0, 6.0], [8.0, 10.0]] == out["t"]


# ---------- forward_ad ----------


def test_forward_ad_tangents():
    x = _t([0.3, -0.8, 1.1])
    v = _t([1.0, 0.5, -2.0])
    xn, vn = _np(x), _np(v)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        y = d.exp() * d
        p, t = fwAD.unpack_dual(y)
        np.testing.assert_allclose(_np(p), np.exp(xn) * xn)
        np.testing.assert_allclose(_np(t), vn * np.exp(xn) * (1 + xn), rtol=1e-12)
        assert not t.requires_grad
        s = fwAD.unpack_dual((d * d).sum())
        np.testing.assert_allclose(float(s.tangent), (2 * xn * vn).sum(), rtol=1e-12)
        assert fwAD.unpack_dual(_t([1.0])).tangent is None
        np.testing.assert_array_equal(_np(fwAD.unpack_dual(d).tangent), vn)
        with pytest.raises(RuntimeError, match="size"):
            fwAD.make_dual(x, _t([1.0]))
    assert fwAD.unpack_dual(y).tangent is None  # the level closed
    with pytest.raises(RuntimeError, match="dual_level"):
        fwAD.make_dual(x, v)


# ---------- torch programs through the compat runner ----------

PER_SAMPLE_TUTORIAL = """
import json
import torch
import torch.nn as nn
import torch.nn.functional as F
torch.manual_seed(0)

class SimpleCNN(nn.Module):
    def __init__(self):
        super(SimpleCNN, self).__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.conv2 = nn.Conv2d(4, 8, 3, 1)
        self.fc1 = nn.Linear(8 * 4 * 4, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), dim=1)

def loss_fn(predictions, targets):
    return F.nll_loss(predictions, targets)

device = 'cpu'
batch_size = 8
data = torch.randn(batch_size, 1, 12, 12, device=device)
targets = torch.randint(10, (batch_size,), device=device)
model = SimpleCNN().to(device=device)

def compute_grad(sample, target):
    sample = sample.unsqueeze(0)
    target = target.unsqueeze(0)
    prediction = model(sample)
    loss = loss_fn(prediction, target)
    return torch.autograd.grad(loss, list(model.parameters()))

def compute_sample_grads(data, targets):
    sample_grads = [compute_grad(data[i], targets[i]) for i in range(batch_size)]
    sample_grads = zip(*sample_grads)
    return [torch.stack(shards) for shards in sample_grads]

per_sample_grads = compute_sample_grads(data, targets)

from torch.func import functional_call, vmap, grad

params = {k: v.detach() for k, v in model.named_parameters()}
buffers = {k: v.detach() for k, v in model.named_buffers()}

def compute_loss(params, buffers, sample, target):
    batch = sample.unsqueeze(0)
    targets = target.unsqueeze(0)
    predictions = functional_call(model, (params, buffers), (batch,))
    return loss_fn(predictions, targets)

ft_compute_grad = grad(compute_loss)
ft_compute_sample_grad = vmap(ft_compute_grad, in_dims=(None, None, 0, 0))
ft_per_sample_grads = ft_compute_sample_grad(params, buffers, data, targets)
ok = all(torch.allclose(a, b, atol=3e-3, rtol=1e-5) for a, b in zip(per_sample_grads, ft_per_sample_grads.values()))

# ensembling
import copy
from torch.func import stack_module_state
models = [SimpleCNN() for _ in range(3)]
ens_params, ens_buffers = stack_module_state(models)
base_model = copy.deepcopy(models[0]).to('meta')
def fmodel(params, buffers, x):
    return functional_call(base_model, (params, buffers), (x,))
ens = torch.vmap(fmodel, in_dims=(0, 0, None))(ens_params, ens_buffers, data)
ens_ok = torch.allclose(ens, torch.stack([m(data) for m in models]), atol=1e-5)
print(json.dumps({"ok": ok, "shapes": [list(g.shape) for g in ft_per_sample_grads.values()], "ens_ok": ens_ok,
                  "ens_shape": list(ens.shape)}))
"""


def test_per_sample_gradient_tutorial_runs_through_the_compat_runner(tmp_path):
    script = tmp_path / "per_sample.py"
    script.write_text(textwrap.dedent(PER_SAMPLE_TUTORIAL))
    proc = run_compat_file(script, env={"RUSTDL_NUM_THREADS": "1"}, timeout=300)
    out = compat_report(proc)
    assert out["ok"] and out["ens_ok"]
    assert out["shapes"] == [
        [8, 4, 1, 3, 3],
        [8, 4],
        [8, 8, 4, 3, 3],
        [8, 8],
        [8, 16, 128],
        [8, 16],
        [8, 10, 16],
        [8, 10],
    ]
    assert out["ens_shape"] == [3, 8, 10]


def test_hostile_inputs_to_the_transforms():
    # a Jacobian too large to build is refused up front (it ran one backward pass per output
    # element, effectively forever, before failing to stack 2**40 elements)
    big = rustdl.zeros(2**20)
    with pytest.raises(MemoryError, match="jacrev.*Jacobian"):
        jacrev(lambda a: a.sin())(big)
    with pytest.raises(MemoryError, match="jacfwd.*Jacobian"):
        jacfwd(lambda a: a * 2.0)(big)
    with pytest.raises(MemoryError, match="Jacobian"):
        hessian(lambda a: (a * a).sum())(big)
    # the error types PyTorch uses
    _, fn = vjp(lambda a: a * 2.0, rustdl.ones(3))
    with pytest.raises(TypeError, match="cotangents"):
        fn(3.0)
    with pytest.raises(ValueError, match="must be tensors"):
        jacrev(lambda a: a)(1.0)
    # a zero-size Jacobian is fine
    assert jacrev(lambda a: a.sin())(rustdl.zeros(0)).shape == (0, 0)


def test_vmap_refuses_random_ops_in_error_mode():
    # the default randomness="error" refuses a function that draws random numbers, as PyTorch
    # (it was treated as "different")
    with pytest.raises(RuntimeError, match="randomness error mode"):
        vmap(lambda x: F.dropout(x, 0.5))(rustdl.ones(4, 3))
    with pytest.raises(RuntimeError, match="randomness error mode"):
        vmap(lambda x: x + rustdl.rand(()))(rustdl.zeros(3))
    # a deterministic function is unaffected, and dropout in eval mode draws nothing
    np.testing.assert_array_equal(_np(vmap(lambda x: x * 2.0)(rustdl.ones(2, 2))), np.full((2, 2), 2.0))
    np.testing.assert_array_equal(
        _np(vmap(lambda x: F.dropout(x, 0.5, training=False))(rustdl.ones(2, 2))), np.ones((2, 2))
    )
