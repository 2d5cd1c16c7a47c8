"""Behaviour PyTorch programs rely on, found by running third-party programs through rustdl:
gradients of overwritten index writes, 0-d tensor indices, tensors inside data lists, checkpointed
optimizer step counts, spectral norm applied twice per step, and clean errors for bad sizes."""

import io

import numpy as np
import pytest
import rustdl
from rustdl import nn


def test_setitem_gives_every_written_value_its_gradient():
    # y[[0, 1, 1]] = v: v[1] is overwritten by v[2], yet both get the output's gradient at
    # position 1 (PyTorch's index_put backward gathers the gradient at each index)
    v = rustdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = rustdl.zeros(4)
    y[rustdl.tensor([0, 1, 1])] = v
    w = rustdl.tensor([10.0, 20.0, 30.0, 40.0])
    (y * w).sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), [1.0, 3.0, 0.0, 0.0])
    np.testing.assert_array_equal(v.grad.numpy(), [10.0, 20.0, 20.0])
    s = rustdl.tensor(2.0, requires_grad=True)
    z = rustdl.zeros(4)
    z[rustdl.tensor([0, 1, 1])] = s  # a broadcast scalar: one gradient per write
    (z * 3).sum().backward()
    assert s.grad.item() == 9.0


def test_index_put_and_scatter_gradients_gather_at_the_indices():
    w = rustdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    base = rustdl.ones(4, requires_grad=True)
    o = base.index_put((rustdl.tensor([2, 2, 0]),), w)
    (o * rustdl.arange(4.0)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0, 0.0])
    np.testing.assert_array_equal(base.grad.numpy(), [0.0, 1.0, 0.0, 3.0])
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((3, 4)).astype(np.float32)
    s0 = rng.standard_normal((2, 4)).astype(np.float32)
    idx = np.array([[0, 1, 2, 0], [0, 2, 1, 1]])
    x = rustdl.tensor(x0, requires_grad=True)
    src = rustdl.tensor(s0, requires_grad=True)
    y = x.scatter(0, rustdl.tensor(idx), src)
    gw = rng.standard_normal((3, 4)).astype(np.float32)
    (y * rustdl.tensor(gw)).sum().backward()
    want = x0.copy()
    hit = np.zeros_like(x0, bool)
    for i in range(2):
        for j in range(4):
            want[idx[i, j], j] = s0[i, j]  # the last write wins
            hit[idx[i, j], j] = True
    np.testing.assert_array_equal(y.detach().numpy(), want)
    np.testing.assert_array_equal(src.grad.numpy(), np.take_along_axis(gw, idx, 0))
    np.testing.assert_array_equal(x.grad.numpy(), np.where(hit, 0.0, gw))


def test_zero_dim_integer_tensor_indexes_as_an_integer():
    a = np.arange(24).reshape(2, 3, 4)
    x = rustdl.arange(24).view(2, 3, 4)
    t1, cols = rustdl.tensor(1), rustdl.tensor([0, 2])
    # PyTorch selects with an integer (or a 0-d tensor) first; numpy's a[1, 1:, [0, 2]] would
    # count the integer as an advanced index and put the broadcast dim first
    np.testing.assert_array_equal(x[t1, 1:, cols].numpy(), a[1][1:, [0, 2]])
    np.testing.assert_array_equal(x[1, 1:, cols].numpy(), a[1][1:, [0, 2]])
    assert tuple(x[rustdl.tensor(0), :, [1, 3]].shape) == (3, 2)
    y = x.clone()
    y[t1, 1:, cols] = rustdl.tensor([[1, 2], [3, 4]])
    b = a.copy()
    b[1][1:, [0, 2]] = np.array([[1, 2], [3, 4]])
    np.testing.assert_array_equal(y.numpy(), b)
    v = rustdl.arange(5.0)
    v[rustdl.tensor(-1)] = 7.0
    assert v[rustdl.tensor(4)].item() == 7.0
    with pytest.raises(IndexError):
        x[rustdl.tensor(5)]
    m = rustdl.tensor([1.0, 2.0])[rustdl.tensor(True)]  # a 0-d bool stays a mask
    assert tuple(m.shape) == (1, 2)


def test_tensors_inside_data_lists_are_numbers():
    t = rustdl.tensor([rustdl.tensor([1.0]), rustdl.tensor([[2.0]]), rustdl.tensor(3.0)])
    assert tuple(t.shape) == (3,)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="one element tensors"):
        rustdl.tensor([rustdl.tensor([1.0, 2.0]), rustdl.tensor([3.0, 4.0])])
    whole = rustdl.tensor(rustdl.arange(6).view(2, 3).t())
    np.testing.assert_array_equal(whole.numpy(), np.arange(6).reshape(2, 3).T)


def test_saved_optimizer_step_is_a_tensor_and_resumes():
    p = nn.Parameter(rustdl.ones(2))
    opt = rustdl.optim.Adam([p], lr=0.1)
    for _ in range(3):
        p.grad = rustdl.ones(2)
        opt.step()
    buf = io.BytesIO()
    rustdl.save(opt.state_dict(), buf)
    buf.seek(0)
    sd = rustdl.load(buf)
    step = sd["state"][0]["step"]
    assert isinstance(step, rustdl.Tensor) and step.item() == 3.0
    opt2 = rustdl.optim.Adam([p], lr=0.1)
    opt2.load_state_dict(sd)
    p.grad = rustdl.ones(2)
    opt2.step()
    assert int(opt2.state[p]["step"]) == 4


def test_spectral_norm_two_training_forwards_one_backward():
    # the GAN discriminator pattern (real and fake batches through D, one loss): the power
    # iteration of the second forward updates u and v in place while the first graph holds them
    rustdl.manual_seed(0)
    lin = nn.utils.spectral_norm(nn.Linear(2, 3))
    x = rustdl.randn(4, 2)
    (lin(x).sum() + lin(x).sum()).backward()
    g = lin.weight_orig.grad.numpy()
    assert np.isfinite(g).all() and np.abs(g).sum() > 0


def test_masked_scatter_needs_enough_source_values():
    with pytest.raises(RuntimeError, match="source"):
        rustdl.zeros(3).masked_scatter(rustdl.tensor([True, True, True]), rustdl.tensor([7.0]))
    out = rustdl.zeros(3).masked_scatter(rustdl.tensor([True, False, True]), rustdl.tensor([7.0, 8.0, 9.0]))
    np.testing.assert_array_equal(out.numpy(), [7.0, 0.0, 8.0])


def test_multinomial_of_an_impossible_size_is_a_memory_error():
    with pytest.raises(MemoryError):
        rustdl.multinomial(rustdl.ones(3), 2**40, replacement=True)
    with pytest.raises(RuntimeError):  # also PyTorch's RuntimeError
        rustdl.multinomial(rustdl.ones(3), 2**40, replacement=True)


def test_view_as_another_dtype_reads_the_bytes():
    got = rustdl.arange(4.0).view(rustdl.int32)
    np.testing.assert_array_equal(got.numpy(), np.arange(4, dtype=np.float32).view(np.int32))
    assert got.dtype == rustdl.int32
    b = rustdl.tensor([1.0]).view(rustdl.uint8)
    np.testing.assert_array_equal(b.numpy(), np.array([1.0], np.float32).view(np.uint8))
    assert tuple(rustdl.arange(6).view(2, 3).view(dtype=rustdl.float64).shape) == (2, 3)
    with pytest.raises(RuntimeError):
        rustdl.arange(3.0).view(rustdl.float64)  # 12 bytes are not whole float64s


def test_a_view_knows_its_base():
    x = rustdl.zeros(4)
    y = x[1:3]
    assert x._base is None
    assert y._base is not None and y._base.data_ptr() == x.data_ptr()


def test_ctc_log_probs_gradient_is_pytorchs():
    # PyTorch's kernel returns exp(log_probs) - posterior inside each input: the exact
    # derivative (checked by finite differences of the loss) plus exp(log_probs)
    F = rustdl.nn.functional
    rng = np.random.default_rng(1)
    raw = rng.standard_normal((6, 2, 4))
    tg = rustdl.tensor([[1, 2, 1], [3, 0, 0]])
    lens, tlens = [6, 4], [3, 1]

    def loss_of(a):
        return F.ctc_loss(rustdl.tensor(a), tg, lens, tlens, reduction="sum").item()

    x = rustdl.tensor(raw, requires_grad=True)
    F.ctc_loss(x, tg, lens, tlens, reduction="sum").backward()
    eps = 1e-6
    exact = np.zeros_like(raw)
    for i in np.ndindex(raw.shape):
        hi, lo = raw.copy(), raw.copy()
        hi[i] += eps
        lo[i] -= eps
        exact[i] = (loss_of(hi) - loss_of(lo)) / (2 * eps)
    live = (np.arange(6)[:, None] < np.array(lens)[None, :])[:, :, None]
    np.testing.assert_allclose(x.grad.numpy(), exact + np.exp(raw) * live, rtol=1e-5, atol=1e-6)


def test_split_and_chunk_return_tuples():
    x = rustdl.arange(6.0)
    parts = x.split(2) + (rustdl.zeros(1),)  # concatenating with a tuple, as PyTorch code does
    assert isinstance(parts, tuple) and len(parts) == 4
    assert isinstance(rustdl.split(x, [2, 4]), tuple)
    assert isinstance(x.chunk(4), tuple) and len(x.chunk(4)) == 3
    np.testing.assert_array_equal(rustdl.cat(x.chunk(3) + (x[:1],)).numpy(), [0, 1, 2, 3, 4, 5, 0])


def test_what_pytorch_accepts_and_refuses_at_the_edges():
    F = rustdl.nn.functional
    # a zero adaptive output size is an empty result, joined to the graph
    x = rustdl.ones(1, 2, 4, 4, requires_grad=True)
    assert tuple(F.adaptive_avg_pool2d(x, 0).shape) == (1, 2, 0, 0)
    out = nn.AdaptiveAvgPool2d((0, 2))(x)
    assert tuple(out.shape) == (1, 2, 0, 2)
    out.sum().backward()
    assert x.grad is not None and not x.grad.numpy().any()
    # kl_div broadcasts the target to the input, as the other pointwise losses
    got = F.kl_div(rustdl.zeros(2, 3), rustdl.full((3,), 0.5))
    assert abs(got.item() - 3 * 0.5 * np.log(0.5) / 3) < 1e-6
    # matrix products refuse mixed dtypes (an integer operand included), as PyTorch
    with pytest.raises(RuntimeError, match="dtype"):
        rustdl.ones(2, dtype=rustdl.int64) @ rustdl.ones(2)
    with pytest.raises(RuntimeError, match="dtype"):
        nn.Linear(2, 2)(rustdl.ones(1, 2, dtype=rustdl.int32))
    assert (rustdl.ones(2, dtype=rustdl.int64) @ rustdl.ones(2, dtype=rustdl.int64)).item() == 2
    # argmax of an empty tensor without a dim is PyTorch's IndexError
    with pytest.raises(IndexError):
        rustdl.randn(0).argmax()


@pytest.mark.parametrize(
    "call",
    [
        lambda: nn.Conv2d(1, 1, 3, stride=0)(rustdl.ones(1, 1, 5, 5)),
        lambda: nn.LSTMCell(3, 4)(rustdl.ones(2, 5)),
        lambda: nn.GroupNorm(2, 4)(rustdl.ones(2, 6, 3)),
        lambda: rustdl.bernoulli(rustdl.full((2,), 1.5)),
        lambda: rustdl.normal(0.0, -1.0, (2,)),
        lambda: rustdl.randperm(-1),
        lambda: nn.init.trunc_normal_(rustdl.empty(3), a=2, b=1),
    ],
    ids=[
        "conv_stride0",
        "lstmcell_size",
        "groupnorm_channels",
        "bernoulli_p",
        "normal_std",
        "randperm",
        "trunc_ab",
    ],
)
def test_bad_arguments_are_pytorchs_runtime_error(call):
    # `except RuntimeError` written for PyTorch catches them; they stay ValueErrors too
    with pytest.raises(RuntimeError) as e:
        call()
    assert isinstance(e.value, ValueError)


def test_detect_anomaly_names_the_rule_that_returned_nan():
    # sqrt(0) has an infinite derivative; times a zero upstream gradient it is NaN
    x = rustdl.tensor([0.0, 4.0], requires_grad=True)
    loss = (x.sqrt() * rustdl.tensor([0.0, 1.0])).sum()
    with rustdl.autograd.detect_anomaly():
        with pytest.raises(
            RuntimeError, match=r"Function 'SqrtBackward0' returned nan values in its 0th output"
        ):
            loss.backward(retain_graph=True)
    assert not rustdl.is_anomaly_enabled()
    loss.backward()  # outside the mode the NaN reaches .grad, as PyTorch
    g = x.grad.numpy()
    assert np.isnan(g[0]) and g[1] == 0.25
    # check_nan=False keeps the mode on without the check; a custom Function's backward is
    # checked under its own name
    x.grad = None
    with rustdl.autograd.detect_anomaly(check_nan=False):
        assert rustdl.is_anomaly_enabled()
        loss2 = (x.sqrt() * rustdl.tensor([0.0, 1.0])).sum()
        loss2.backward()
    assert np.isnan(x.grad.numpy()[0])

    class Bad(rustdl.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    y = rustdl.ones(3, requires_grad=True)
    rustdl.autograd.set_detect_anomaly(True)
    try:
        with pytest.raises(
            RuntimeError, match="Function 'BadBackward' returned nan values in its 0th output"
        ):
            Bad.apply(y).sum().backward()
    finally:
        rustdl.autograd.set_detect_anomaly(False)
    Bad.apply(y).sum().backward()
    assert np.isnan(y.grad.numpy()).all()
