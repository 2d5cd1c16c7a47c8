"""autograd.Function, autograd.grad and grad_fn objects, against closed-form derivatives."""

import numpy as np
import pytest
import rustdl
from conftest import assert_close


class Cube(rustdl.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


class ScaleSplit(rustdl.autograd.Function):
    """Two outputs and a non-tensor argument: (x[:k] * s, x[k:] ** 2)."""

    @staticmethod
    def forward(ctx, x, k, s):
        ctx.save_for_backward(x)
        ctx.k, ctx.s = k, s
        return x[:k] * s, x[k:] * x[k:]

    @staticmethod
    def backward(ctx, ga, gb):
        (x,) = ctx.saved_tensors
        return rustdl.cat([ga * ctx.s, gb * 2 * x[ctx.k :]]), None, None


class NewStyleExp(rustdl.autograd.Function):
    @staticmethod
    def forward(x):
        return x.exp()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


def test_function_gradient_matches_the_closed_form(device):
    xs = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    x = rustdl.tensor(xs, device=device, requires_grad=True)
    y = Cube.apply(x * 2)
    assert y.grad_fn is not None and not y.is_leaf
    y.sum().backward()
    assert_close(y, (2 * xs) ** 3, rtol=1e-5)
    assert_close(x.grad, 2 * 3 * (2 * xs) ** 2, rtol=1e-5)


def test_function_with_two_outputs_and_a_non_tensor_argument(device):
    xs = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    x = rustdl.tensor(xs, device=device, requires_grad=True)
    a, b = ScaleSplit.apply(x, 1, 5.0)
    (a.sum() * 3 + (b * rustdl.tensor([1.0, 2.0, 3.0], device=device)).sum()).backward()
    want = np.array([3 * 5.0, 1 * 2 * 2.0, 2 * 2 * 3.0, 3 * 2 * 4.0])
    assert_close(x.grad, want)


def test_function_output_unused_gets_zero_gradient(device):
    x = rustdl.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    a, _ = ScaleSplit.apply(x, 2, 2.0)
    a.sum().backward()
    assert_close(x.grad, [2.0, 2.0, 0.0])


def test_new_style_setup_context(device):
    xs = np.array([0.1, 1.0], dtype=np.float32)
    x = rustdl.tensor(xs, device=device, requires_grad=True)
    NewStyleExp.apply(x).sum().backward()
    assert_close(x.grad, np.exp(xs), rtol=1e-5)


def test_needs_input_grad_and_no_graph_without_grad():
    seen = {}

    class Probe(rustdl.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, None

    a = rustdl.ones(2, requires_grad=True)
    b = rustdl.ones(2)
    out = Probe.apply(a, b)
    assert seen["needs"] == (True, False)
    out.sum().backward()
    assert_close(a.grad, [1.0, 1.0])
    with rustdl.no_grad():
        assert Probe.apply(a, b).grad_fn is None


def test_backward_with_wrong_gradient_count_is_an_error():
    class Bad(rustdl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    x = rustdl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(x).sum().backward()
    # the library keeps working
    (x * 3).sum().backward()
    assert_close(x.grad, [3.0, 3.0])


def test_saved_tensor_modified_in_place_is_refused():
    x = rustdl.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = Cube.apply(h)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_autograd_grad_returns_without_accumulating(device):
    xs = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    x = rustdl.tensor(xs, device=device, requires_grad=True)
    (g,) = rustdl.autograd.grad((x**3).sum(), x)
    assert_close(g, 3 * xs**2, rtol=1e-5)
    assert x.grad is None


def test_autograd_grad_of_non_leaf_and_several_inputs(device):
    xs = np.array([1.0, 2.0], dtype=np.float32)
    x = rustdl.tensor(xs, device=device, requires_grad=True)
    y = x * 2
    z = (y * y).sum()
    gy, gx = rustdl.autograd.grad(z, [y, x])
    assert_close(gy, 2 * (2 * xs))
    assert_close(gx, 8 * xs)


def test_autograd_grad_with_grad_outputs_and_unused_inputs(device):
    x = rustdl.tensor([1.0, 2.0], device=device, requires_grad=True)
    w = rustdl.tensor([3.0], device=device, requires_grad=True)
    y = x * x
    v = rustdl.tensor([10.0, 100.0], device=device)
    with pytest.raises(RuntimeError, match="not have been used"):
        rustdl.autograd.grad(y, [x, w], grad_outputs=v, retain_graph=True)
    gx, gw = rustdl.autograd.grad(y, [x, w], grad_outputs=v, allow_unused=True, retain_graph=True)
    assert gw is None
    assert_close(gx, [2 * 1 * 10.0, 2 * 2 * 100.0])
    gx, gw = rustdl.autograd.grad(y, [x, w], grad_outputs=v, materialize_grads=True)
    assert_close(gw, [0.0])


def test_autograd_grad_needs_a_gradient_for_non_scalar_outputs():
    x = rustdl.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar outputs"):
        rustdl.autograd.grad(x * 2, x)
    # create_graph: the gradient has a history of its own (d/dx Σx² = 2x, differentiable again)
    (g,) = rustdl.autograd.grad((x * x).sum(), x, create_graph=True)
    assert g.requires_grad


def test_grad_fn_objects_walk_the_graph():
    x = rustdl.tensor([1.0, 2.0], requires_grad=True)
    loss = ((x * 2) + 1).sum()
    fn = loss.grad_fn
    assert fn.name() == "SumBackward0"
    ((add, _),) = fn.next_functions
    assert add.name() == "AddBackward0"
    ((mul, _),) = add.next_functions
    assert mul.name() == "MulBackward0"
    ((acc, _),) = mul.next_functions
    assert acc.name() == "torch::autograd::AccumulateGrad"
    assert acc.variable.requires_grad and np.array_equal(acc.variable.detach().numpy(), [1.0, 2.0])
    assert x.grad_fn is None
    assert "grad_fn=<MulBackward0>" in repr(x * 2)


def test_variable_is_a_new_detached_leaf():
    # PyTorch: Variable(t, requires_grad=True) is a new leaf over t's storage; t is unchanged
    t = rustdl.ones(2)
    v = rustdl.autograd.Variable(t, requires_grad=True)
    assert v is not t and not t.requires_grad
    assert v.requires_grad and v.is_leaf and v.grad_fn is None
