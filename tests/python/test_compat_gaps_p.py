"""Empty and one-element edge cases found different from PyTorch by a differential sweep of
~170 ops over the shapes (), (0,), (2, 0), (0, 3), (3, 0, 2), (1,) and (2, 3), values and
gradients compared (one test per gap; expected values worked out by hand)."""

import math

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F


def test_glu_of_an_empty_even_dimension_is_empty_with_an_empty_gradient():
    for shape in [(0,), (2, 0)]:
        x = rustdl.zeros(*shape, requires_grad=True)
        y = F.glu(x, -1)
        assert tuple(y.shape) == shape
        y.sum().backward()
        assert tuple(x.grad.shape) == shape
    x = rustdl.tensor([[1.0, 2.0, 0.0, 3.0]], requires_grad=True)
    y = F.glu(x)
    np.testing.assert_allclose(y.detach().numpy(), [[0.5, 2.0 / (1.0 + math.exp(-3.0))]], rtol=1e-6)
    with pytest.raises(ValueError):
        F.glu(rustdl.zeros(2, 3))


def test_split_size_zero_only_for_an_empty_dimension():
    parts = rustdl.zeros(0).split(0)
    assert len(parts) == 1 and tuple(parts[0].shape) == (0,)
    parts = rustdl.zeros(2, 0).split(0, 1)
    assert len(parts) == 1 and tuple(parts[0].shape) == (2, 0)
    with pytest.raises(ValueError, match="split_size can only be 0"):
        rustdl.zeros(3).split(0)
    with pytest.raises(ValueError):
        rustdl.zeros(3).split(-1)
    with pytest.raises(IndexError):
        rustdl.zeros(3).split(0, 5)
    assert [tuple(p.shape) for p in rustdl.zeros(5).split(2)] == [(2,), (2,), (1,)]


def test_nll_loss_of_one_unbatched_sample_takes_a_target_of_shape_one():
    x = rustdl.tensor([-0.7, 0.2, 0.4], requires_grad=True)
    for target in (rustdl.tensor([0]), rustdl.tensor(0)):
        x.grad = None
        loss = F.nll_loss(x, target)
        assert loss.item() == pytest.approx(0.7)
        loss.backward()
        np.testing.assert_allclose(x.grad.numpy(), [-1.0, 0.0, 0.0])
    with pytest.raises(rustdl.ShapeError, match=r"expects target of shape \[\], got \[2\]"):
        F.nll_loss(x, rustdl.tensor([0, 1]))


def test_cross_entropy_with_a_target_shaped_as_the_input_wants_probabilities():
    # a target of the input's shape holds class probabilities: integer ones are an error
    with pytest.raises(TypeError, match="must be floating point"):
        F.cross_entropy(rustdl.zeros(1), rustdl.tensor([0]))
    with pytest.raises(TypeError, match="must be floating point"):
        F.cross_entropy(rustdl.zeros(2, 3), rustdl.zeros(2, 3, dtype=rustdl.int64))
    # probabilities: -sum(p * log_softmax(x))
    x = rustdl.tensor([1.0, 2.0, 3.0])
    p = rustdl.tensor([0.2, 0.3, 0.5])
    ls = np.array([1.0, 2.0, 3.0]) - np.log(np.exp([1.0, 2.0, 3.0]).sum())
    assert F.cross_entropy(x, p).item() == pytest.approx(-(np.array([0.2, 0.3, 0.5]) * ls).sum(), rel=1e-6)
    # class indices still work for the batched and unbatched forms
    assert F.cross_entropy(x, rustdl.tensor(2)).item() == pytest.approx(-ls[2], rel=1e-6)


def test_kl_div_batchmean_of_an_empty_batch_is_nan():
    x = rustdl.zeros(0, 3, requires_grad=True)
    loss = F.kl_div(x, rustdl.zeros(0, 3), reduction="batchmean")
    assert math.isnan(loss.item())
    loss.backward()
    assert tuple(x.grad.shape) == (0, 3)
    # a 0-d input is its own batch of one; a batch of two divides the sum by 2
    t = rustdl.tensor([[0.5, 0.5], [0.25, 0.75]])
    lp = rustdl.tensor([[-1.0, -0.5], [-2.0, -0.1]])
    ref = (t.numpy() * (np.log(t.numpy()) - lp.numpy())).sum() / 2
    assert F.kl_div(lp, t, reduction="batchmean").item() == pytest.approx(ref, rel=1e-6)


def test_median_of_an_empty_tensor_is_nan_and_keeps_the_graph():
    x = rustdl.zeros(2, 0, requires_grad=True)
    m = x.median()
    assert math.isnan(m.item()) and m.requires_grad
    m.backward()
    assert tuple(x.grad.shape) == (2, 0)


def test_floordiv_and_mod_assignment_write_into_the_tensor():
    a = rustdl.tensor([-7, 3, 5])
    alias = a
    a //= 2
    assert a is alias and alias.tolist() == [-4, 1, 2]
    f = rustdl.tensor([-7.5, 3.0, 5.25])
    alias = f
    f %= 2
    assert f is alias
    np.testing.assert_allclose(alias.numpy(), [0.5, 1.0, 1.25])
    # the gradient of x % c with respect to x is 1, of x // c is 0
    w = rustdl.tensor([1.0, 2.0], requires_grad=True)
    y = w * 3
    y %= 4
    y.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), [3.0, 2.0])
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_with_nothing_looked_up_still_reaches_the_weight(mode):
    bag = rustdl.nn.EmbeddingBag(5, 2, mode=mode)
    y = bag(rustdl.zeros(0, 3, dtype=rustdl.int64))
    assert tuple(y.shape) == (0, 2) and y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(bag.weight.grad.numpy(), np.zeros((5, 2)))
    # only empty bags: zeros, and a zero gradient
    bag.weight.grad = None
    y = bag(rustdl.zeros(0, dtype=rustdl.int64), rustdl.tensor([0, 0]))
    np.testing.assert_array_equal(y.detach().numpy(), np.zeros((2, 2)))
    y.sum().backward()
    np.testing.assert_array_equal(bag.weight.grad.numpy(), np.zeros((5, 2)))


def test_where_takes_a_zero_dim_cpu_tensor_next_to_gpu_tensors(device):
    # a 0-d CPU tensor counts as a scalar next to tensors on another device (PyTorch's rule for
    # binary ops, here for where too); it is copied differentiably
    g = rustdl.ones(2, 3, device=device)
    s = rustdl.tensor(2.0, requires_grad=True)
    r = rustdl.where(g < 0, g, s)
    assert r.device == g.device
    np.testing.assert_array_equal(r.detach().cpu().numpy(), np.full((2, 3), 2.0))
    r.sum().backward()
    assert s.grad.item() == 6.0
    assert rustdl.where(rustdl.tensor(True), g, 0.0).device == g.device
    if g.device.type != "cpu":
        with pytest.raises(RuntimeError, match="same device"):
            rustdl.where(g > 0, g, rustdl.ones(3))


def test_comparing_a_tensor_with_none_is_plain_false_or_true():
    v = rustdl.tensor([1.5, 2.5])
    assert (v == None) is False  # noqa: E711
    assert (v != None) is True  # noqa: E711
    assert (None == v) is False  # noqa: E711
    assert (v == 2.5).tolist() == [False, True]
    assert v not in [None]
    with pytest.raises(TypeError):
        v < None  # noqa: B015


def test_rng_state_stays_on_the_cpu_under_a_gpu_default_device():
    # the state holds 64-bit values, which GPU int64 tensors cannot; a default device set to the
    # GPU broke torch.utils.checkpoint's saved RNG state
    from rustdl.gradient_checkpoint import checkpoint

    old = rustdl.get_default_device()
    try:
        rustdl.set_default_device("gpu" if rustdl.gpu.is_available() else "cpu")
        rustdl.manual_seed(2**40 + 7)
        state = rustdl.get_rng_state()
        assert state.device.type == "cpu" and state.dtype == rustdl.uint8
        x = rustdl.tensor([0.1, 0.2, 0.3], requires_grad=True)
        y = checkpoint(lambda t: (t * 2).sin(), x, use_reentrant=False)
        y.sum().backward()
        np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * np.cos([0.2, 0.4, 0.6]), rtol=1e-5)
        rustdl.set_rng_state(state)
        assert rustdl.get_rng_state().tolist() == state.tolist()
    finally:
        rustdl.set_default_device(old)
