"""Autograd semantics: leaves, accumulation, no_grad, detach, retain_grad, memory staying flat."""

import numpy as np
import rustdl
import rustdl.nn.functional as F
from conftest import peak_rss_growth_mb


def test_grad_accumulates_and_can_be_reset():
    x = rustdl.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    x.grad = None
    assert x.grad is None


def test_shared_subexpression_gradients_add_up():
    x = rustdl.tensor([2.0], requires_grad=True)
    y = x * x
    z = y * y + y  # x^4 + x^2
    z.backward(rustdl.ones(1))
    assert x.grad.item() == 4 * 8 + 2 * 2


def test_no_grad_and_detach_and_leafness():
    x = rustdl.ones(2, requires_grad=True)
    with rustdl.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf
    z = x * 2
    assert z.requires_grad and not z.is_leaf and z.grad_fn is not None
    d = z.detach()
    assert not d.requires_grad and d.is_leaf

    @rustdl.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert rustdl.is_grad_enabled()


def test_retain_grad_on_intermediate():
    x = rustdl.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    assert h.grad.tolist() == [6.0, 12.0]
    assert x.grad.tolist() == [18.0, 36.0]


def test_requires_grad_only_for_floats():
    import pytest

    with pytest.raises(RuntimeError, match="floating"):
        rustdl.tensor([1, 2]).requires_grad_()


def test_gradient_flows_through_dtype_conversion():
    x = rustdl.tensor([1.0, 2.0], dtype=rustdl.float64, requires_grad=True)
    (x.float() * 2).sum().backward()
    assert x.grad.dtype == rustdl.float64 and x.grad.tolist() == [2.0, 2.0]


def test_memory_stays_flat_over_3000_steps():
    rustdl.manual_seed(0)
    w1 = rustdl.randn(64, 32, requires_grad=True)
    w2 = rustdl.randn(10, 64, requires_grad=True)
    x = rustdl.randn(32, 32)
    y = rustdl.randint(0, 10, (32,))

    def step():
        loss = F.cross_entropy(F.linear(F.linear(x, w1).relu(), w2), y)
        loss.backward()
        with rustdl.no_grad():
            w1.sub_(w1.grad * 1e-3)
            w2.sub_(w2.grad * 1e-3)
        w1.grad = None
        w2.grad = None
        return loss

    grown = peak_rss_growth_mb(step, warmup=300, steps=3000)
    assert grown < 20, f"peak RSS grew by {grown:.1f} MB over 3000 steps"


def test_gradcheck_helper_is_public_and_detects_errors():
    import pytest
    from rustdl.autograd import GradcheckError, gradcheck

    x = rustdl.tensor(np.random.rand(3), dtype=rustdl.float64, requires_grad=True)
    assert gradcheck(lambda t: (t * t).sum(), [x])
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: t * 0 + t.detach() ** 2, [x])


def test_relu_backward_passes_the_gradient_where_the_input_is_positive(device):
    # one pass on both devices; x == 0 gives 0 (as PyTorch), NaN inputs pass the gradient
    # through (PyTorch's threshold_backward tests the output `<= 0`, false for NaN)
    xs = np.array([-2.0, -0.0, 0.0, 1e-30, 3.0, np.nan, -np.inf, np.inf], dtype=np.float32)
    gs = np.arange(1, 9, dtype=np.float32)
    x = rustdl.tensor(xs, device=device, requires_grad=True)
    x.relu().backward(rustdl.tensor(gs, device=device))
    want = np.where(np.isnan(xs) | (xs > 0), gs, 0.0)
    np.testing.assert_array_equal(x.grad.cpu().numpy(), want)
