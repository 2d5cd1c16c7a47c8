"""Autograd behaviour PyTorch programs rely on: activation checkpointing gives every tensor the
function uses its gradient (however it reaches the function) in both modes, with double backward
and without keeping activations; forward-mode AD uses a custom Function's jvp, stays connected
to the backward graph and ignores no_grad inside torch.func.jvp; Function backward gradients
summed to the input's shape; save_for_backward type checks; once_differentiable; forward hooks
with always_call. Expected values are closed-form."""

import numpy as np
import pytest
import rustdl
import rustdl.autograd.forward_ad as fwad
from rustdl import nn
from rustdl.autograd import Function, once_differentiable
from rustdl.gradient_checkpoint import checkpoint


def _t(v, grad=False):
    return rustdl.tensor(np.asarray(v, dtype=np.float64), requires_grad=grad)


def _lin(w, b):
    m = nn.Linear(len(w[0]), len(w)).double()
    with rustdl.no_grad():
        m.weight.copy_(_t(w))
        m.bias.copy_(_t(b))
    return m


W = np.array([[0.5, -1.0], [2.0, 0.25]])
B = np.array([0.1, -0.2])
X = np.array([[1.0, 2.0], [-0.5, 0.3]])


def _ref_grads(fn_np):
    """Central finite differences of sum(fn_np(W)) with respect to W."""
    g = np.zeros_like(W)
    eps = 1e-6
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            d = np.zeros_like(W)
            d[i, j] = eps
            g[i, j] = (fn_np(W + d).sum() - fn_np(W - d).sum()) / (2 * eps)
    return g


@pytest.mark.parametrize("how", ["argument", "dict", "object_method", "nonleaf_closure"])
def test_checkpoint_parameters_get_gradients_however_they_are_reached(how):
    enc = _lin(W, B)
    x = _t(X)

    class Holder:
        def __init__(self, m):
            self.m = m

        def run(self, h):
            return self.m(h).tanh()

    blocks = {"enc": enc}
    if how == "argument":
        out = checkpoint(lambda m, h: m(h).tanh(), enc, x, use_reentrant=False)
    elif how == "dict":
        out = checkpoint(lambda h: blocks["enc"](h).tanh(), x, use_reentrant=False)
    elif how == "object_method":
        out = checkpoint(Holder(enc).run, x, use_reentrant=False)
    else:
        w = _t(W, grad=True)
        w_eff = w * 2  # a non-leaf weight computed outside
        out = checkpoint(lambda h: (h @ w_eff.t()).tanh(), x, use_reentrant=False)
        out.sum().backward()
        want = _ref_grads(lambda w_: np.tanh(X @ (2 * w_).T))
        np.testing.assert_allclose(w.grad.numpy(), want, rtol=1e-6, atol=1e-8)
        return
    out.sum().backward()
    want = _ref_grads(lambda w_: np.tanh(X @ w_.T + B))
    np.testing.assert_allclose(enc.weight.grad.numpy(), want, rtol=1e-6, atol=1e-8)


def test_checkpoint_autograd_grad_to_a_parameter_and_backward_inputs():
    enc = _lin(W, B)
    x = _t(X, grad=True)
    out = checkpoint(enc, x, use_reentrant=False)
    (gw,) = rustdl.autograd.grad(out.sum(), enc.weight)
    np.testing.assert_allclose(gw.numpy(), np.tile(X.sum(0), (2, 1)))
    assert enc.weight.grad is None  # grad() accumulates nothing
    out = checkpoint(enc, x, use_reentrant=False)
    out.sum().backward(inputs=[enc.weight])
    assert x.grad is None
    np.testing.assert_allclose(enc.weight.grad.numpy(), np.tile(X.sum(0), (2, 1)))


def test_checkpoint_weight_shared_with_the_arguments_history_is_counted_once():
    # h = lin(x) outside, lin used again inside: d/dW of sum(lin(lin(x))) has two terms, each once
    lin = _lin(W, B)
    x = _t(X)
    h = lin(x)
    checkpoint(lambda a: lin(a), h, use_reentrant=False).sum().backward()

    def f(w_):
        return (X @ w_.T + B) @ w_.T + B

    np.testing.assert_allclose(lin.weight.grad.numpy(), _ref_grads(f), rtol=1e-6, atol=1e-8)


def test_checkpoint_double_backward_and_nesting():
    x = _t([1.0, 2.0], grad=True)
    out = checkpoint(lambda h: h**3, x, use_reentrant=False)
    (g,) = rustdl.autograd.grad(out.sum(), x, create_graph=True)
    assert g.requires_grad
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 12.0])
    (g2,) = rustdl.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(g2.numpy(), [6.0, 12.0])  # 6x
    # nested checkpoints: d/dx exp(2 sin x) = 2 cos x exp(2 sin x)
    x.grad = None

    def inner(h):
        return checkpoint(lambda z: z.sin() * 2, h, use_reentrant=False)

    checkpoint(lambda h: inner(h).exp(), x, use_reentrant=False).sum().backward()
    xv = np.array([1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(xv) * np.exp(2 * np.sin(xv)), rtol=1e-12)


def test_checkpoint_reentrant_mode_as_pytorch():
    enc = _lin(W, B)
    x = _t(X, grad=True)
    out = checkpoint(lambda h: enc(h).tanh(), x, use_reentrant=True)
    out.sum().backward()
    np.testing.assert_allclose(
        enc.weight.grad.numpy(), _ref_grads(lambda w_: np.tanh(X @ w_.T + B)), rtol=1e-6, atol=1e-8
    )
    with pytest.raises(ValueError, match="Unexpected keyword arguments: flag"):
        checkpoint(lambda h, flag=True: h, x, flag=False, use_reentrant=True)
    out = checkpoint(lambda h: h**3, x, use_reentrant=True)
    with pytest.raises(RuntimeError, match="use_reentrant=True"):
        rustdl.autograd.grad(out.sum(), x)


def test_checkpoint_outputs_kwargs_and_detached_results():
    x = _t([1.0, 2.0], grad=True)
    o = checkpoint(lambda h: h.detach() * 2, x, use_reentrant=False)
    assert not o.requires_grad
    y = _t([3.0, 4.0], grad=True)
    r = checkpoint(
        lambda a, b=None, s=1.0: {"v": (a * b * s).sum(), "n": 7}, x, b=y, s=2.0, use_reentrant=False
    )
    assert r["n"] == 7
    r["v"].backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 8.0])
    np.testing.assert_allclose(y.grad.numpy(), [2.0, 4.0])


def test_checkpoint_replays_the_random_state():
    rustdl.manual_seed(1)
    d = nn.Dropout(0.5)
    x = rustdl.ones(200, requires_grad=True)
    out = checkpoint(lambda h: d(h) * 3, x, use_reentrant=False)
    out.sum().backward()
    kept = out.detach().numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), kept * 6.0)  # 3 * 1/(1-p)


def test_forward_ad_uses_a_custom_jvp():
    class NpSquareOld(Function):
        @staticmethod
        def forward(ctx, i):
            ctx.save_for_forward(i)
            return rustdl.tensor(i.detach().numpy() ** 2)

        @staticmethod
        def backward(ctx, g):
            raise NotImplementedError

        @staticmethod
        def jvp(ctx, t):
            (i,) = ctx.saved_tensors
            return 2 * i * t

    class Scaled(Function):  # a jvp that differs from the backward: the jvp wins
        @staticmethod
        def forward(i):
            return i.exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, g):
            return g

        @staticmethod
        def jvp(ctx, t):
            return t * 10

    x = _t([1.0, 2.0, 3.0])
    with fwad.dual_level():
        d = fwad.make_dual(x, rustdl.ones(3, dtype=rustdl.float64))
        np.testing.assert_allclose(fwad.unpack_dual(NpSquareOld.apply(d)).tangent.numpy(), [2.0, 4.0, 6.0])
        np.testing.assert_allclose(fwad.unpack_dual(Scaled.apply(d)).tangent.numpy(), [10.0] * 3)
    _, tan = rustdl.func.jvp(Scaled.apply, (x,), (rustdl.ones(3, dtype=rustdl.float64),))
    np.testing.assert_allclose(tan.numpy(), [10.0] * 3)


def test_forward_ad_tangent_stays_connected_to_the_backward_graph():
    x, t = _t([1.0, 2.0]), _t([1.0, 0.0])
    w = _t([3.0, 4.0], grad=True)
    with fwad.dual_level():
        tan = fwad.unpack_dual(fwad.make_dual(x, t) * w).tangent
        assert tan.requires_grad
        (g,) = rustdl.autograd.grad(tan.sum(), w)
        np.testing.assert_allclose(g.numpy(), [1.0, 0.0])  # d(t·w)/dw = t
        plain = fwad.unpack_dual(fwad.make_dual(x, t).sin()).tangent
        assert not plain.requires_grad


def test_func_jvp_ignores_no_grad_inside():
    x, t = _t([1.0, 2.0, 3.0]), _t([1.0, 0.5, 2.0])

    def f(z):
        with rustdl.no_grad():
            s = z.sin()
        return s * 2

    _, tan = rustdl.func.jvp(f, (x,), (t,))
    np.testing.assert_allclose(tan.numpy(), 2 * np.cos([1.0, 2.0, 3.0]) * [1.0, 0.5, 2.0], rtol=1e-12)


def test_function_backward_gradient_is_summed_to_the_input_shape():
    x = _t([1.0, 2.0, 3.0], grad=True)

    class Bcast(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return rustdl.ones(2, 3, dtype=rustdl.float64)  # expandable from [3]: summed

    (g,) = rustdl.autograd.grad(Bcast.apply(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), [2.0, 2.0, 2.0])

    class Bad(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return rustdl.ones(4, dtype=rustdl.float64)

    with pytest.raises(
        RuntimeError, match=r"BadBackward returned an invalid gradient at index 0 - got \[4\]"
    ):
        rustdl.autograd.grad(Bad.apply(x).sum(), x)


def test_save_for_backward_refuses_non_tensors():
    class SaveInt(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a, 3)
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with pytest.raises(TypeError, match="argument 1 is of type int"):
        SaveInt.apply(_t([1.0], grad=True))


def test_once_differentiable_gradient_has_no_history():
    class Once(Function):
        @staticmethod
        def forward(ctx, i):
            ctx.save_for_backward(i)
            return i**2

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (i,) = ctx.saved_tensors
            return 2 * i * g

    x = _t([1.0, 2.0], grad=True)
    (g,) = rustdl.autograd.grad(Once.apply(x).sum(), x, create_graph=True)
    assert not g.requires_grad and g.grad_fn is None
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    # an incoming gradient that requires grad: differentiating again raises
    (g,) = rustdl.autograd.grad((Once.apply(x) * x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        rustdl.autograd.grad(g.sum(), x)


def test_forward_hook_with_always_call_runs_when_forward_raises():
    class Bad(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    seen = []
    m = Bad()
    m.register_forward_hook(lambda mod, args, out: seen.append(("always", out)), always_call=True)
    m.register_forward_hook(lambda mod, args, out: seen.append(("plain", out)))
    with pytest.raises(ValueError, match="boom"):
        m(rustdl.ones(1))
    assert seen == [("always", None)]


def test_grad_is_one_object_while_it_stays_the_same_tensor():
    p = rustdl.nn.Parameter(rustdl.ones(2))
    (p * 2).sum().backward()
    g = p.grad
    assert g is p.grad
    g.note = "seen"  # tensors take attributes, as PyTorch's
    assert p.grad.note == "seen"
    (p * 2).sum().backward()  # accumulated in place: still the same object
    assert p.grad is g and g.tolist() == [4.0, 4.0]
    mine = rustdl.zeros(2)
    p.grad = mine
    assert p.grad is mine
    p.grad = None
    assert p.grad is None
    # zero_grad(set_to_none=False) detaches a create_graph gradient before zeroing it
    (p**3).sum().backward(create_graph=True)
    assert p.grad.requires_grad
    rustdl.optim.SGD([p], lr=0.1).zero_grad(set_to_none=False)
    assert not p.grad.requires_grad and p.grad.tolist() == [0.0, 0.0]
