"""The in-place forms of out-of-place ops (``log1p_``, ``atan2_``, ``remainder_``, ``lt_`` ...)
and the functional spellings of breadth K, against numpy and against the out-of-place op:
values, dtypes, gradients through the written tensor and its arguments, and PyTorch's errors."""

from __future__ import annotations

import numpy as np
import pytest
import rustdl
from rustdl._breadth_k import _INPLACE

UNARY = [
    "log1p",
    "expm1",
    "tan",
    "erf",
    "sinh",
    "cosh",
    "asinh",
    "atan",
    "log2",
    "log10",
    "exp2",
    "sinc",
    "erfc",
]


@pytest.mark.parametrize("op", UNARY)
def test_unary_inplace_forms_match_the_out_of_place_op_with_gradients(op, device):
    rng = np.random.default_rng(len(op))
    v = rng.uniform(0.1, 0.9, 5)
    x = rustdl.tensor(v, device=device, requires_grad=True)
    y = x * 1
    out = getattr(y, op + "_")()
    assert out is y
    y.sum().backward()
    x2 = rustdl.tensor(v, device=device, requires_grad=True)
    ref = getattr(x2, op)()
    ref.sum().backward()
    np.testing.assert_allclose(y.detach().cpu().numpy(), ref.detach().cpu().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.cpu().numpy(), x2.grad.cpu().numpy(), rtol=1e-5)


def test_binary_inplace_form_sends_gradients_to_both_operands():
    # d/dy atan2(y, w) = w / (y^2 + w^2); d/dw = -y / (y^2 + w^2)
    x = rustdl.tensor([1.0, 2.0], dtype=rustdl.float64, requires_grad=True)
    w = rustdl.tensor([3.0, 4.0], dtype=rustdl.float64, requires_grad=True)
    y = x * 1
    y.atan2_(w)
    (y * y).sum().backward()
    xv, wv = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    a = np.arctan2(xv, wv)
    np.testing.assert_allclose(y.detach().numpy(), a)
    np.testing.assert_allclose(x.grad.numpy(), 2 * a * wv / (xv**2 + wv**2))
    np.testing.assert_allclose(w.grad.numpy(), 2 * a * -xv / (xv**2 + wv**2))


def test_inplace_form_on_a_tensor_without_grad_still_tracks_the_argument():
    y = rustdl.tensor([0.5, 1.5], dtype=rustdl.float64)
    w = rustdl.tensor([2.0, 3.0], dtype=rustdl.float64, requires_grad=True)
    y.hypot_(w)
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.array([2.0, 3.0]) / np.hypot([0.5, 1.5], [2.0, 3.0]))


def test_integer_and_comparison_inplace_forms_keep_the_tensor_dtype():
    a = rustdl.tensor([5, -3, 7])
    a.remainder_(3)
    np.testing.assert_array_equal(a.numpy(), np.remainder([5, -3, 7], 3))
    b = rustdl.tensor([5, -3])
    b.floor_divide_(2)
    np.testing.assert_array_equal(b.numpy(), [2, -2])
    assert b.dtype == rustdl.int64
    c = rustdl.tensor([1.0, 5.0, 3.0])
    c.lt_(3)
    assert c.dtype == rustdl.float32
    np.testing.assert_array_equal(c.numpy(), [1.0, 0.0, 0.0])
    d = rustdl.tensor([1.0, 0.0])
    d.logical_not_()
    np.testing.assert_array_equal(d.numpy(), [0.0, 1.0])
    e = rustdl.tensor([6, 3])
    e.bitwise_and_(rustdl.tensor([3, 1]))
    np.testing.assert_array_equal(e.numpy(), [2, 1])


def test_inplace_form_writes_through_a_view_into_its_base():
    base = rustdl.tensor([1.0, 2.0, 3.0])
    base[1:].log1p_()
    np.testing.assert_allclose(base.numpy(), [1.0, np.log1p(2.0), np.log1p(3.0)], rtol=1e-6)


def test_inplace_form_errors_as_pytorch():
    with pytest.raises(TypeError, match="log1p_"):
        rustdl.tensor([1, 2]).log1p_()  # a float result cannot go into an int64 tensor
    leaf = rustdl.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.tan_()
    np.testing.assert_array_equal(leaf.detach().numpy(), [1.0, 2.0])


def test_every_inplace_form_is_attached_where_its_op_exists():
    for name, base in _INPLACE.items():
        if hasattr(rustdl.Tensor, base):
            assert hasattr(rustdl.Tensor, name), name


def test_functional_spellings():
    v = rustdl.tensor([float("nan"), 1.0, float("inf")])
    rustdl.nan_to_num_(v)
    assert v[0].item() == 0 and v[1].item() == 1 and v[2].item() == np.finfo(np.float32).max
    r = rustdl.tensor([-1.0, 2.0])
    assert rustdl.relu_(r) is r and r.tolist() == [0.0, 2.0]
    m, a, b = np.ones((2, 3)), np.array([1.0, 2.0]), np.array([1.0, 0.0, -1.0])
    got = rustdl.addr(rustdl.tensor(m), rustdl.tensor(a), rustdl.tensor(b), beta=2, alpha=3)
    np.testing.assert_allclose(got.numpy(), 2 * m + 3 * np.outer(a, b))
    z = rustdl.zeros(3)
    put = rustdl.index_put(z, (rustdl.tensor([0, 2]),), rustdl.tensor([5.0, 6.0]))
    np.testing.assert_array_equal(put.numpy(), [5, 0, 6])
    np.testing.assert_array_equal(z.numpy(), [0, 0, 0])  # out of place
    parts = rustdl.dsplit(rustdl.arange(16.0).reshape(2, 2, 4), 2)
    np.testing.assert_array_equal(parts[1].numpy(), np.dsplit(np.arange(16.0).reshape(2, 2, 4), 2)[1])
    with pytest.raises(RuntimeError, match="dsplit"):
        rustdl.dsplit(rustdl.zeros(2, 3), 1)
    assert rustdl.vdot(rustdl.tensor([1.0, 2.0]), rustdl.tensor([3.0, 4.0])).item() == 11.0
    assert rustdl.empty_strided((2, 3), (3, 1)).shape == (2, 3)
    assert rustdl.is_same_size(rustdl.zeros(2, 3), rustdl.ones(2, 3))
    x1, x2 = np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[0.0, 1.0], [1.0, 1.0]])
    cs = rustdl.cosine_similarity(rustdl.tensor(x1), rustdl.tensor(x2))
    np.testing.assert_allclose(cs.numpy(), [0.0, 1.0], atol=1e-6)
    assert rustdl.dropout(rustdl.ones(4), 0.5, False).tolist() == [1.0] * 4
