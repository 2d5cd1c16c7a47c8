"""PyTorch call forms real programs use that rustdl lacked: ``alpha=`` on add/sub (and the old
``add_(alpha, other)`` order), ``div(rounding_mode=...)``, ``rsub``, functional forms of Tensor
methods, and PyTorch's gradients at the kinks of clamp and the hard activations."""

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F


def _np(t):
    return t.detach().cpu().numpy()


def test_add_sub_take_alpha_in_every_form(device):
    a = rustdl.ones(3, device=device)
    b = rustdl.arange(3.0, device=device)
    np.testing.assert_allclose(_np(a.add(b, alpha=2)), [1, 3, 5])
    np.testing.assert_allclose(_np(a.sub(b, alpha=2)), [1, -1, -3])
    np.testing.assert_allclose(_np(rustdl.add(a, b, alpha=2)), [1, 3, 5])
    np.testing.assert_allclose(_np(rustdl.sub(a, b, alpha=0.5)), [1, 0.5, 0])
    np.testing.assert_allclose(_np(rustdl.add(a, 2, alpha=3)), [7, 7, 7])
    np.testing.assert_allclose(_np(a.clone().add_(b, alpha=-1)), [1, 0, -1])
    # the deprecated overload of old optimizer code: p.data.add_(-lr, grad)
    np.testing.assert_allclose(_np(a.clone().add_(-0.1, b)), [1, 0.9, 0.8], rtol=1e-6)
    np.testing.assert_allclose(_np(a.clone().sub_(2, b)), [1, -1, -3])
    with pytest.raises(TypeError, match="alpha"):
        a.add(b, alpha="x")
    # gradients flow through the scaled operand
    x = rustdl.arange(3.0, device=device).requires_grad_()
    a.add(x, alpha=-3).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [-3, -3, -3])


def test_div_rounding_modes_match_pythons_integer_and_float_rules(device):
    num = [7, -7, 7, -7, 6, 0]
    den = [2, 2, -2, -2, 3, 5]
    a = rustdl.tensor(num, device=device)
    b = rustdl.tensor(den, device=device)
    trunc = [int(x / y) for x, y in zip(num, den)]
    floor = [x // y for x, y in zip(num, den)]
    out = a.div(b, rounding_mode="trunc")
    assert out.dtype == rustdl.int64
    np.testing.assert_array_equal(_np(out), trunc)
    np.testing.assert_array_equal(_np(rustdl.div(a, b, rounding_mode="floor")), floor)
    np.testing.assert_array_equal(_np(a.div(-2, rounding_mode="trunc")), [int(x / -2) for x in num])
    f = a.float() + 0.5
    np.testing.assert_allclose(_np(f.div(b, rounding_mode="trunc")), np.trunc((np.array(num) + 0.5) / den))
    np.testing.assert_allclose(_np(f.divide(b, rounding_mode="floor")), np.floor((np.array(num) + 0.5) / den))
    np.testing.assert_allclose(_np(a.div(b)), np.array(num) / np.array(den), rtol=1e-6)
    g = f.clone()
    g.div_(2.0, rounding_mode="floor")
    np.testing.assert_allclose(_np(g), np.floor((np.array(num) + 0.5) / 2))
    with pytest.raises(ValueError, match="rounding_mode"):
        a.div(b, rounding_mode="round")


def test_rsub_and_functional_forms():
    a = rustdl.tensor([1.0, 2.0, 3.0])
    b = rustdl.tensor([0.5, -1.0, 4.0])
    np.testing.assert_allclose(_np(rustdl.rsub(a, b)), [-0.5, -3.0, 1.0])
    np.testing.assert_allclose(_np(rustdl.rsub(a, 1.0, alpha=2)), [-1.0, -3.0, -5.0])
    np.testing.assert_allclose(_np(rustdl.mul(a, b)), [0.5, -2.0, 12.0])
    np.testing.assert_allclose(_np(rustdl.addcmul(a, a, b, value=2)), [2.0, -2.0, 27.0])
    np.testing.assert_allclose(_np(rustdl.logaddexp(a, b)), np.logaddexp([1, 2, 3], [0.5, -1, 4]), rtol=1e-6)
    nan = rustdl.tensor([float("nan"), 1.0, float("nan")])
    np.testing.assert_allclose(
        _np(rustdl.fmax(nan, rustdl.tensor([2.0, 0.0, float("nan")]))), [2.0, 1.0, np.nan]
    )
    out = rustdl.empty(3)
    rustdl.sub(a, b, out=out)
    np.testing.assert_allclose(_np(out), [0.5, 3.0, -1.0])


# PyTorch 2.15's gradients at x = [-3, -1, -0.5, 0, 0.5, 1, 3, 6]: clamp passes no gradient at a
# bound itself; hardswish's is 0 at -3 and 1 at 3; celu's is 1 at 0.
KINKS = {
    "clamp01": (lambda x: x.clamp(0, 1), [0, 0, 0, 0, 1, 0, 0, 0]),
    "clamp_min": (lambda x: x.clamp(min=0.5), [0, 0, 0, 0, 0, 1, 1, 1]),
    "clamp_max": (lambda x: x.clamp(max=0.5), [1, 1, 1, 1, 0, 0, 0, 0]),
    "hardswish": (F.hardswish, [0, 1 / 6, 1 / 3, 0.5, 2 / 3, 5 / 6, 1, 1]),
    "celu": (F.celu, [np.exp(-3), np.exp(-1), np.exp(-0.5), 1, 1, 1, 1, 1]),
    "relu6": (F.relu6, [0, 0, 0, 0, 1, 1, 1, 0]),
}


@pytest.mark.parametrize("name", sorted(KINKS))
def test_gradients_at_the_kinks_are_pytorchs(name, device):
    fn, expect = KINKS[name]
    x = rustdl.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0], device=device, requires_grad=True)
    fn(x).sum().backward()
    np.testing.assert_allclose(_np(x.grad), expect, rtol=1e-5, atol=1e-7)
