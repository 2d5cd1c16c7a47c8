"""Bad input raises typed exceptions naming the op and shapes; the library keeps working after."""

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F


def test_shape_mismatch_is_value_error_naming_op_and_shapes():
    a, b = rustdl.ones(3, 2), rustdl.ones(4)
    with pytest.raises(ValueError, match=r"add.*\[3, 2\].*\[4\]"):
        a + b
    with pytest.raises(ValueError, match=r"matmul.*\(3, 2\).*\(3, 2\)|matmul.*\[3, 2\].*\[3, 2\]"):
        a @ rustdl.ones(3, 2)
    with pytest.raises(ValueError, match="reshape"):
        a.reshape(5)
    with pytest.raises(ValueError, match="cat"):
        rustdl.cat([a, rustdl.ones(3, 3)], dim=0)
    with pytest.raises(ValueError, match="linear"):
        F.linear(rustdl.ones(2, 5), rustdl.ones(3, 4))
    with pytest.raises(ValueError, match="conv2d"):
        F.conv2d(rustdl.ones(1, 3, 5, 5), rustdl.ones(2, 4, 3, 3))
    with pytest.raises(ValueError, match="mse_loss"):
        F.mse_loss(rustdl.ones(2, 3), rustdl.ones(3, 2))
    with pytest.raises(ValueError, match="cross_entropy"):
        F.cross_entropy(rustdl.ones(4, 3), rustdl.tensor([0, 1]))


def test_wrong_dtype_is_type_error():
    with pytest.raises(TypeError, match="int64"):
        rustdl.ones(3).index_select(0, rustdl.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="cross_entropy"):
        F.cross_entropy(
            rustdl.ones(2, 3), rustdl.tensor([[0.5, 0.5]]).int() if False else rustdl.tensor([True, False])
        )
    with pytest.raises(TypeError, match="embedding"):
        F.embedding(rustdl.tensor([0.0]), rustdl.ones(3, 2))
    with pytest.raises(TypeError):
        rustdl.tensor([1, 2], dtype="complex128")


def test_index_out_of_range_is_index_error():
    t = rustdl.arange(6).reshape(2, 3)
    with pytest.raises(IndexError, match="out of bounds"):
        t[2]
    with pytest.raises(IndexError):
        t[:, 5]
    with pytest.raises(IndexError):
        t[rustdl.tensor([0, 7])]
    with pytest.raises(IndexError, match="gather"):
        t.gather(1, rustdl.tensor([[0, 3]]))
    with pytest.raises(IndexError, match="embedding|index_select"):
        F.embedding(rustdl.tensor([5]), rustdl.ones(3, 2))
    with pytest.raises(IndexError):
        F.cross_entropy(rustdl.ones(2, 3), rustdl.tensor([0, 3]))
    with pytest.raises(IndexError):
        F.cross_entropy(rustdl.ones(2, 3), rustdl.tensor([0, -1]))
    with pytest.raises(IndexError, match="dimension"):
        t.sum(dim=2)


def test_ragged_lists_are_value_errors():
    with pytest.raises(ValueError, match="ragged"):
        rustdl.tensor([[1, 2], [3]])
    with pytest.raises(ValueError, match="ragged"):
        rustdl.tensor([1, [2, 3]])
    with pytest.raises(TypeError):
        rustdl.tensor(["a", "b"])


def test_backward_on_non_scalar_needs_gradient():
    x = rustdl.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    y.backward(rustdl.ones(3))
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        rustdl.ones(2).sum().backward()


def test_second_backward_without_retain_graph_errors():
    x = rustdl.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    z = (x * 3).sum()
    z.backward(retain_graph=True)
    z.backward()
    assert x.grad.tolist() == [8.0, 8.0]


def test_inplace_on_leaf_requiring_grad_refused_but_ok_under_no_grad():
    w = rustdl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w.add_(1.0)
    with rustdl.no_grad():
        w.add_(1.0)
    assert w.tolist() == [2.0, 2.0]


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError):
        F.dropout(rustdl.ones(2), p=1.5)
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(rustdl.ones(2), rustdl.ones(2), reduction="avg")
    with pytest.raises(ValueError, match="invalid device"):
        rustdl.ones(2, device="tpu")
    with pytest.raises(ValueError):
        rustdl.arange(0, 10, 0)
    with pytest.raises(ValueError, match="max_pool2d|kernel"):
        F.max_pool2d(rustdl.ones(1, 1, 2, 2), 3)


def test_library_keeps_working_after_every_error():
    bad = [
        lambda: rustdl.ones(3) + rustdl.ones(4),
        lambda: rustdl.ones(2)[5],
        lambda: rustdl.tensor([[1], [1, 2]]),
        lambda: rustdl.ones(2, 2).view(3),
    ]
    for f in bad:
        with pytest.raises((ValueError, IndexError, TypeError, RuntimeError)):
            f()
    x = rustdl.tensor(np.arange(4.0), requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 4.0, 6.0]
