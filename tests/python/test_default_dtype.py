"""`set_default_dtype`: creation from Python floats, integer promotion and layers follow the
default float dtype, as PyTorch; checked against numpy."""

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn


@pytest.fixture
def float64_default():
    rustdl.set_default_dtype(rustdl.float64)
    try:
        yield
    finally:
        rustdl.set_default_dtype(rustdl.float32)


def test_float64_default_reaches_creation_promotion_and_layers(float64_default):
    f64 = rustdl.float64
    assert rustdl.get_default_dtype() == f64
    made = [
        rustdl.tensor([1.0, 2.5]),
        rustdl.tensor(1.5),
        rustdl.tensor([]),
        rustdl.zeros(2),
        rustdl.ones(2, 3),
        rustdl.empty(2),
        rustdl.rand(3),
        rustdl.randn(3),
        rustdl.full((2,), 1.5),
        rustdl.arange(0.5, 2.0),
        rustdl.linspace(0, 1, 5),
        rustdl.eye(2),
        rustdl.as_tensor([1.0]),
        rustdl.Tensor(2, 3),
        rustdl.scalar_tensor(2),
        nn.Linear(2, 3).weight,
        nn.Conv2d(1, 2, 3).bias,
        rustdl.tensor([1, 2]) * 1.5,
        rustdl.tensor([1, 2]) / rustdl.tensor([2, 4]),
        rustdl.tensor([1, 2]).sigmoid(),
    ]
    assert [t.dtype for t in made] == [f64] * len(made)
    # what keeps its own dtype: integers, bools, explicit dtypes, float32 data and numpy arrays
    assert rustdl.arange(3).dtype == rustdl.int64 and rustdl.full((1,), True).dtype == rustdl.bool
    assert rustdl.zeros(2, dtype=rustdl.float32).dtype == rustdl.float32
    assert rustdl.from_numpy(np.ones(2, np.float32)).dtype == rustdl.float32
    assert (rustdl.ones(2, dtype=rustdl.float32) * 2.5).dtype == rustdl.float32
    np.testing.assert_allclose(rustdl.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5), rtol=0, atol=0)
    third = rustdl.tensor(1.0) / 3
    assert third.item() == 1.0 / 3  # a double, not a float rounded to single precision


def test_float64_training_step_matches_numpy(float64_default):
    rustdl.manual_seed(0)
    lin = nn.Linear(3, 1)
    x = rustdl.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    y = rustdl.tensor([[1.0], [0.0]])
    w, b = lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().copy()
    opt = rustdl.optim.SGD(lin.parameters(), lr=0.1)
    ((lin(x) - y) ** 2).mean().backward()
    opt.step()
    xn, yn = x.numpy(), y.numpy()
    r = xn @ w.T + b - yn
    np.testing.assert_allclose(lin.weight.detach().numpy(), w - 0.1 * (r.T @ xn), rtol=1e-12)
    np.testing.assert_allclose(lin.bias.detach().numpy(), b - 0.1 * r.sum(0), rtol=1e-12)


def test_default_dtype_refusals_and_tensor_types():
    with pytest.raises(TypeError, match="floating-point"):
        rustdl.set_default_dtype(rustdl.int64)
    with pytest.raises(TypeError, match="floating-point"):
        rustdl.set_default_dtype("float64")
    assert rustdl.get_default_dtype() == rustdl.float32
    rustdl.set_default_tensor_type("torch.DoubleTensor")
    try:
        assert rustdl.zeros(1).dtype == rustdl.float64
    finally:
        rustdl.set_default_tensor_type("torch.FloatTensor")
    assert rustdl.zeros(1).dtype == rustdl.float32
    with pytest.raises(TypeError, match="set_default_tensor_type"):
        rustdl.set_default_tensor_type("torch.LongTensor")
    # Python's float as a dtype is a double, as in PyTorch
    assert rustdl.zeros(2, dtype=float).dtype == rustdl.float64
