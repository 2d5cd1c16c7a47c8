"""Moving a model keeps its Parameter objects, so an optimizer built before the move still trains it."""

import numpy as np
import rustdl
import rustdl.nn as nn


def test_to_dtype_keeps_parameter_objects_and_values():
    m = nn.Linear(3, 2)
    w = m.weight
    before = w.detach().numpy().copy()
    m.double()
    assert m.weight is w and w.dtype == rustdl.float64 and w.requires_grad
    np.testing.assert_allclose(w.detach().numpy(), before, rtol=1e-7)


def test_optimizer_built_before_move_updates_moved_parameters(device):
    rustdl.manual_seed(0)
    m = nn.Linear(4, 1)
    opt = rustdl.optim.SGD(m.parameters(), lr=0.1)
    m.to(device)
    assert str(m.weight.device) == ("cpu" if device == "cpu" else "gpu:0")
    x = rustdl.randn(8, 4, device=device)
    before = m.weight.detach().cpu().numpy().copy()
    loss = (m(x) ** 2).mean()
    loss.backward()
    g = m.weight.grad.cpu().numpy()
    opt.step()
    np.testing.assert_allclose(m.weight.detach().cpu().numpy(), before - 0.1 * g, rtol=1e-5, atol=1e-6)


def test_set_data_same_shape_copies_new_shape_shares():
    t = rustdl.zeros(2, 3)
    t.data = rustdl.ones(2, 3, dtype=rustdl.float64)
    assert t.dtype == rustdl.float64 and t.tolist() == [[1.0] * 3] * 2
    # a new shape: the tensor takes the other tensor's data, shared (PyTorch's shallow copy)
    src = rustdl.arange(6.0).reshape(3, 2)
    t.data = src
    assert t.shape == (3, 2) and t.tolist() == src.tolist()
    src.add_(1.0)
    assert t.tolist() == src.tolist()
