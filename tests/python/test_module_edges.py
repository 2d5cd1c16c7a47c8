"""Module-level behaviour PyTorch programs rely on: Sequential editing, RNN cell checks,
pickled Parameters, unbatched soft-target cross-entropy, CTC with empty inputs, numpy ints as
layer sizes and max_unpool's output_size check."""

import pickle

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
import rustdl.nn.functional as F


def test_sequential_insert_extend_pop_and_add():
    s = nn.Sequential(nn.ReLU(), nn.Tanh())
    s.insert(1, nn.Sigmoid())
    s.insert(-1, nn.ELU())
    assert [type(m).__name__ for m in s] == ["ReLU", "Sigmoid", "ELU", "Tanh"]
    assert list(s._modules) == ["0", "1", "2", "3"]
    s.extend([nn.ReLU()])
    popped = s.pop(0)
    assert type(popped).__name__ == "ReLU" and list(s._modules) == ["0", "1", "2", "3"]
    both = s + nn.Sequential(nn.Tanh())
    assert len(both) == 5 and len(s) == 4
    s += nn.Sequential(nn.Tanh())
    assert len(s) == 5 and isinstance(s[4], nn.Tanh)
    x = rustdl.tensor([[-1.0, 0.5]])
    ref = np.tanh(np.maximum(np.tanh(_elu(1 / (1 + np.exp(-x.numpy())))), 0))
    assert np.allclose(s(x).numpy(), ref, atol=1e-6)
    with pytest.raises(IndexError):
        s.insert(10, nn.ReLU())
    with pytest.raises(TypeError):
        s.insert(0, "relu")


def _elu(v):
    return np.where(v > 0, v, np.expm1(v))


@pytest.mark.parametrize("cell", [nn.RNNCell, nn.GRUCell, nn.LSTMCell])
def test_rnn_cells_check_input_and_state_shapes(cell):
    c = cell(3, 4)
    lstm = cell is nn.LSTMCell

    def state(*shape):
        z = rustdl.zeros(*shape)
        return (z, z) if lstm else z

    with pytest.raises(ValueError, match="batch size 2 doesn't match hidden0 batch size 1"):
        c(rustdl.randn(2, 3), state(1, 4))
    with pytest.raises(ValueError, match="Expected 2D hidden0"):
        c(rustdl.randn(2, 3), state(4))
    with pytest.raises(ValueError, match="1D or 2D, got 3D"):
        c(rustdl.randn(2, 2, 3))
    with pytest.raises(ValueError, match="input_size: got 5 expected 3"):
        c(rustdl.randn(2, 5))
    with pytest.raises(ValueError, match="hidden_size: got 5, expected 4"):
        c(rustdl.randn(2, 3), state(2, 5))
    out = c(rustdl.randn(3), state(4))  # unbatched
    assert (out[0] if lstm else out).shape == (4,)


def test_parameters_pickle_as_parameters():
    p = pickle.loads(pickle.dumps(nn.Parameter(rustdl.ones(2))))
    assert isinstance(p, nn.Parameter) and p.requires_grad and p.tolist() == [1.0, 1.0]
    frozen = pickle.loads(pickle.dumps(nn.Parameter(rustdl.ones(2), requires_grad=False)))
    assert isinstance(frozen, nn.Parameter) and not frozen.requires_grad
    m = nn.Linear(2, 3)
    m2 = pickle.loads(pickle.dumps(m))
    assert all(isinstance(q, nn.Parameter) for q in m2.parameters())
    assert np.array_equal(m2.weight.detach().numpy(), m.weight.detach().numpy())


def test_unbatched_cross_entropy_with_class_probabilities():
    x, p = rustdl.arange(3.0), rustdl.tensor([0.2, 0.8, 0.0])
    logp = x.numpy() - np.log(np.exp(x.numpy()).sum())
    ref = -(p.numpy() * logp).sum()
    assert F.cross_entropy(x, p).item() == pytest.approx(ref, rel=1e-6)
    none = F.cross_entropy(x, p, reduction="none")
    assert none.shape == () and none.item() == pytest.approx(ref, rel=1e-6)


def test_ctc_with_an_empty_input_is_infinite_or_zeroed():
    lp = rustdl.zeros(3, 2, 5).log_softmax(2).requires_grad_()
    args = (lp, rustdl.tensor([[1], [1]]), rustdl.tensor([0, 3]), rustdl.tensor([1, 1]))
    raw = F.ctc_loss(*args, reduction="none").tolist()
    assert raw[0] == float("inf") and np.isfinite(raw[1])
    zeroed = F.ctc_loss(*args, reduction="none", zero_infinity=True).tolist()
    assert zeroed == [0.0, raw[1]]
    mean = F.ctc_loss(*args, zero_infinity=True)
    assert mean.item() == pytest.approx(raw[1] / 2, rel=1e-6)
    mean.backward()
    g = lp.grad.numpy()
    assert np.isfinite(g).all() and np.abs(g[:, 0]).sum() == 0.0  # the empty sample adds nothing


def test_numpy_ints_as_layer_sizes():
    x = rustdl.randn(1, 1, 5, 5)
    assert F.pad(x, (np.int64(1), np.int64(1))).shape == (1, 1, 5, 7)
    conv = nn.Conv2d(1, 1, np.int64(3), padding=np.int32(1), stride=np.int64(1))
    assert conv(x).shape == (1, 1, 5, 5) and conv.kernel_size == (3, 3)
    assert nn.Conv2d(1, 1, (np.int64(3), 3))(x).shape == (1, 1, 3, 3)
    with pytest.raises(TypeError, match="kernel_size"):
        nn.Conv2d(1, 1, 2.5)


def test_max_unpool_checks_output_size_as_pytorch():
    x = rustdl.randn(1, 1, 4, 4)
    o, i = F.max_pool2d(x, 2, 2, return_indices=True)
    for bad in [(9, 9), (6, 6), (2, 2)]:
        with pytest.raises(ValueError, match="invalid output_size"):
            F.max_unpool2d(o, i, 2, 2, output_size=bad)
    assert F.max_unpool2d(o, i, 2, 2, output_size=(5, 5)).shape == (1, 1, 5, 5)
    x1 = rustdl.randn(1, 1, 8)
    o1, i1 = F.max_pool1d(x1, 2, 2, return_indices=True)
    with pytest.raises(ValueError, match="invalid output_size"):
        F.max_unpool1d(o1, i1, 2, 2, output_size=[10])
    assert F.max_unpool1d(o1, i1, 2, 2, output_size=[9]).shape == (1, 1, 9)


def test_load_state_dict_casts_other_dtypes_as_pytorch():
    m = nn.Linear(2, 2)
    m.load_state_dict({k: v.double() for k, v in m.state_dict().items()})
    assert m.weight.dtype is rustdl.float32
    m.load_state_dict({"weight": rustdl.ones(2, 2, dtype=rustdl.int64), "bias": rustdl.zeros(2)})
    assert m.weight.dtype is rustdl.float32 and m.weight.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    bn = nn.BatchNorm1d(2)
    sd = bn.state_dict()
    sd["num_batches_tracked"] = rustdl.tensor(3.7)
    bn.load_state_dict(sd)
    assert bn.num_batches_tracked.dtype is rustdl.int64 and bn.num_batches_tracked.item() == 3


def test_group_norm_names_a_channel_mismatch():
    with pytest.raises(ValueError, match="GroupNorm: expected an input with 4 channels"):
        nn.GroupNorm(2, 4)(rustdl.randn(2, 6, 3))


@pytest.mark.parametrize("layer", [nn.RNN, nn.GRU, nn.LSTM])
def test_recurrent_layers_reject_empty_sequences_as_pytorch(layer):
    with pytest.raises(RuntimeError, match="sequence length"):
        layer(3, 4)(rustdl.zeros(0, 2, 3))
    with pytest.raises(RuntimeError, match=r"sequence length.*\(2, 0, 3\)"):
        layer(3, 4, batch_first=True)(rustdl.zeros(2, 0, 3))
    # an empty batch is fine
    out = layer(3, 4)(rustdl.zeros(5, 0, 3))[0]
    assert tuple(out.shape) == (5, 0, 4)


def test_batch_norm_needs_positive_eps_in_training():
    x = rustdl.tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32))
    for eps in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="eps must be positive"):
            nn.BatchNorm1d(3, eps=eps)(x)
    bn = nn.BatchNorm1d(3, eps=0.0).eval()  # evaluation uses the running statistics
    assert np.allclose(bn(x).detach().numpy(), x.numpy(), atol=1e-6)


def test_linear_lr_with_zero_total_iters_keeps_the_start_factor():
    p = nn.Parameter(rustdl.zeros(2))
    opt = rustdl.optim.SGD([p], lr=1.0)
    sched = rustdl.optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=0)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(3):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [0.5, 0.5, 0.5, 0.5]
