"""Variable-length batches: nn.utils.rnn packing/padding and packed input to RNN/LSTM/GRU."""

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from rustdl import nn
from rustdl.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)


def _np(t):
    return t.detach().cpu().numpy()


def _seqs(lengths, features=2, device="cpu", dtype=np.float32):
    """Sequence i has values 100 * i + (step, feature) counters, so every element is distinct."""
    out = []
    for i, n in enumerate(lengths):
        a = (100 * i + np.arange(n * features).reshape(n, features)).astype(dtype)
        out.append(rustdl.tensor(a, device=device))
    return out


# ---------------------------------------------------------------- packing and padding


def test_pack_padded_sorted_layout(device):
    # padded (T=3, B=3, 1): column b holds 10 * b + t
    padded = np.array([[[10 * b + t] for b in range(3)] for t in range(3)], dtype=np.float32)
    packed = pack_padded_sequence(rustdl.tensor(padded, device=device), [3, 2, 1])
    assert isinstance(packed, PackedSequence)
    assert packed.sorted_indices is None and packed.unsorted_indices is None
    assert packed.batch_sizes.dtype == rustdl.int64 and str(packed.batch_sizes.device) == "cpu"
    np.testing.assert_array_equal(packed.batch_sizes.numpy(), [3, 2, 1])
    np.testing.assert_array_equal(_np(packed.data)[:, 0], [0, 10, 20, 1, 11, 2])
    data, batch_sizes, sorted_indices, unsorted_indices = packed  # a 4-tuple, as PyTorch's
    assert sorted_indices is None and unsorted_indices is None


def test_pack_padded_unsorted_batch_first(device):
    lengths = [2, 4, 1, 4]
    padded = np.zeros((4, 4, 1), dtype=np.float32)  # (B, T, 1)
    for b, n in enumerate(lengths):
        padded[b, :n, 0] = 10 * b + np.arange(n)
    packed = pack_padded_sequence(
        rustdl.tensor(padded, device=device), rustdl.tensor(lengths), batch_first=True, enforce_sorted=False
    )
    # stable sort by decreasing length: 1, 3, 0, 2
    np.testing.assert_array_equal(_np(packed.sorted_indices), [1, 3, 0, 2])
    np.testing.assert_array_equal(_np(packed.unsorted_indices), [2, 0, 3, 1])
    np.testing.assert_array_equal(packed.batch_sizes.numpy(), [4, 3, 2, 2])
    expected = [10, 30, 0, 20, 11, 31, 1, 12, 32, 13, 33]
    np.testing.assert_array_equal(_np(packed.data)[:, 0], expected)
    back, lens = pad_packed_sequence(packed, batch_first=True)
    np.testing.assert_array_equal(_np(back), padded)
    np.testing.assert_array_equal(lens.numpy(), lengths)
    assert lens.dtype == rustdl.int64


def test_pad_packed_total_length_and_padding_value(device):
    packed = pack_sequence(_seqs([1, 3], device=device), enforce_sorted=False)
    padded, lens = pad_packed_sequence(packed, padding_value=-1.0, total_length=5)
    assert padded.shape == (5, 2, 2)
    out = _np(padded)
    np.testing.assert_array_equal(out[:1, 0], [[0, 1]])
    np.testing.assert_array_equal(out[1:, 0], -np.ones((4, 2)))
    np.testing.assert_array_equal(out[:3, 1], 100 + np.arange(6).reshape(3, 2))
    np.testing.assert_array_equal(out[3:, 1], -np.ones((2, 2)))
    np.testing.assert_array_equal(lens.numpy(), [1, 3])
    with pytest.raises(ValueError, match="pad_packed_sequence.*total_length"):
        pad_packed_sequence(packed, total_length=2)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence(device, side, batch_first):
    seqs = _seqs([2, 3, 0], device=device)
    out = _np(pad_sequence(seqs, batch_first=batch_first, padding_value=7.0, padding_side=side))
    expected = np.full((3, 3, 2), 7.0, dtype=np.float32)  # (T, B, F)
    for b, s in enumerate(seqs):
        n = s.shape[0]
        if n:
            if side == "right":
                expected[:n, b] = _np(s)
            else:
                expected[3 - n :, b] = _np(s)
    np.testing.assert_array_equal(out, expected.transpose(1, 0, 2) if batch_first else expected)


def test_round_trips(device):
    seqs = _seqs([3, 1, 4, 2], device=device)
    for s, back in zip(seqs, unpack_sequence(pack_sequence(seqs, enforce_sorted=False))):
        np.testing.assert_array_equal(_np(back), _np(s))
    padded = pad_sequence(seqs, batch_first=True)
    for s, back in zip(seqs, unpad_sequence(padded, [3, 1, 4, 2], batch_first=True)):
        np.testing.assert_array_equal(_np(back), _np(s))
    sorted_seqs = _seqs([4, 2, 2, 1], device=device)
    packed = pack_sequence(sorted_seqs)
    assert packed.sorted_indices is None
    np.testing.assert_array_equal(packed.batch_sizes.numpy(), [4, 3, 1, 1])


def test_packed_sequence_to():
    packed = pack_sequence(_seqs([2, 1, 3]), enforce_sorted=False).to(rustdl.float64)
    assert packed.data.dtype == rustdl.float64
    assert str(packed.batch_sizes.device) == "cpu"


def test_pack_gradient_reaches_real_steps_only():
    x = rustdl.tensor(np.ones((3, 2, 1)), requires_grad=True)
    packed = pack_padded_sequence(x, [3, 1])
    (packed.data * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[:, :, 0], [[2, 2], [2, 0], [2, 0]])


# ---------------------------------------------------------------- bad input


def test_pack_errors():
    x = rustdl.zeros(3, 2, 4)
    with pytest.raises(ValueError, match="pack_padded_sequence.*enforce_sorted=False"):
        pack_padded_sequence(x, [1, 3])
    with pytest.raises(ValueError, match="pack_padded_sequence.*positive"):
        pack_padded_sequence(x, [3, 0])
    with pytest.raises(ValueError, match="pack_padded_sequence.*-1"):
        pack_padded_sequence(x, [3, -1], enforce_sorted=False)
    with pytest.raises(ValueError, match=r"pack_padded_sequence.*exceed.*\(3, 2, 4\)"):
        pack_padded_sequence(x, [4, 2])
    with pytest.raises(ValueError, match="pack_padded_sequence.*2 lengths"):
        pack_padded_sequence(x, [3, 2, 1])
    with pytest.raises(ValueError, match="pack_padded_sequence.*2 dimensions"):
        pack_padded_sequence(rustdl.zeros(3), [3])
    with pytest.raises(ValueError, match="pad_sequence.*shape"):
        pad_sequence([rustdl.zeros(2, 3), rustdl.zeros(2, 4)])
    with pytest.raises(ValueError, match="pad_sequence.*empty"):
        pad_sequence([])
    with pytest.raises(ValueError, match="pad_sequence.*padding_side"):
        pad_sequence([rustdl.zeros(2, 3)], padding_side="middle")


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_layer_errors(cls):
    m = cls(4, 3, num_layers=2)
    name = cls.__name__
    with pytest.raises(ValueError, match=rf"{name}.*input_size=4.*\(5, 2, 3\)"):
        m(rustdl.zeros(5, 2, 3))
    with pytest.raises(ValueError, match=rf"{name}.*\(1, 5, 2, 4\)"):
        m(rustdl.zeros(1, 5, 2, 4))
    h = rustdl.zeros(1, 2, 3)  # needs (2, 2, 3)
    hx = (h, h) if cls is nn.LSTM else h
    with pytest.raises(ValueError, match=rf"{name}.*h0 of shape \(2, 2, 3\).*\(1, 2, 3\)"):
        m(rustdl.zeros(5, 2, 4), hx)
    packed = pack_sequence([rustdl.zeros(3, 4), rustdl.zeros(2, 4)])
    with pytest.raises(ValueError, match=rf"{name}.*h0 of shape \(2, 2, 3\)"):
        m(packed, hx)
    with pytest.raises(ValueError, match=rf"{name}.*packed data.*\(5, 2\)"):
        m(pack_sequence([rustdl.zeros(3, 2), rustdl.zeros(2, 2)]))
    if cls is nn.LSTM:
        good = rustdl.zeros(2, 2, 3)
        with pytest.raises(ValueError, match=r"LSTM.*c0 of shape \(2, 2, 3\).*\(2, 3\)"):
            m(rustdl.zeros(5, 2, 4), (good, rustdl.zeros(2, 3)))
    # sizes PyTorch refuses at construction
    for args in [(4, 0), (0, 3), (4, -2), (4, 2.5)]:
        with pytest.raises(
            ValueError, match=rf"{name}: (input|hidden)_size must be an integer greater than zero"
        ):
            cls(*args)


# ---------------------------------------------------------------- layers on packed input


def _states(hx):
    return hx if isinstance(hx, tuple) else (hx,)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_matches_each_sequence_alone(device, cls, num_layers, bidirectional, batch_first):
    rng = np.random.default_rng(1)
    lengths = [2, 4, 1, 3]
    h_in, hidden = 3, 2
    m = cls(h_in, hidden, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first).to(
        device
    )
    seqs = [rustdl.tensor(rng.standard_normal((n, h_in)).astype(np.float32), device=device) for n in lengths]
    dirs = 2 if bidirectional else 1
    state_shape = (num_layers * dirs, len(lengths), hidden)
    n_states = 2 if cls is nn.LSTM else 1
    init = [
        rustdl.tensor(rng.standard_normal(state_shape).astype(np.float32), device=device)
        for _ in range(n_states)
    ]
    hx = tuple(init) if cls is nn.LSTM else init[0]

    packed = pack_padded_sequence(
        pad_sequence(seqs, batch_first=batch_first), lengths, batch_first=batch_first, enforce_sorted=False
    )
    out, h_n = m(packed, hx)
    assert isinstance(out, PackedSequence)
    np.testing.assert_array_equal(out.batch_sizes.numpy(), packed.batch_sizes.numpy())
    np.testing.assert_array_equal(_np(out.sorted_indices), _np(packed.sorted_indices))
    assert out.data.shape == (sum(lengths), dirs * hidden)
    padded, lens = pad_packed_sequence(out, batch_first=batch_first)
    np.testing.assert_array_equal(lens.numpy(), lengths)
    padded = _np(padded)
    if batch_first:
        padded = padded.transpose(1, 0, 2)
    assert np.all(padded[1:, 2] == 0)  # padding stays padding
    for i, s in enumerate(seqs):
        x = s.unsqueeze(0) if batch_first else s.unsqueeze(1)
        h_i = tuple(t.narrow(1, i, 1) for t in init)
        o_i, hn_i = m(x, h_i if cls is nn.LSTM else h_i[0])
        o_i = _np(o_i)[0] if batch_first else _np(o_i)[:, 0]
        assert_close(padded[: lengths[i], i], o_i, rtol=1e-4, atol=1e-5)
        for got, want in zip(_states(h_n), _states(hn_i)):
            assert got.shape == state_shape
            assert_close(_np(got)[:, i], _np(want)[:, 0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_packed_default_state_and_sorted_input(cls):
    m = cls(2, 3, bidirectional=True)
    seqs = _seqs([3, 2, 2], features=2)
    seqs = [s * 0.01 for s in seqs]
    out, h_n = m(pack_sequence(seqs))
    for i, s in enumerate(seqs):
        o_i, hn_i = m(s)  # the unbatched (L, H_in) form
        assert o_i.shape == (s.shape[0], 6)
        assert_close(_np(unpack_sequence(out)[i]), _np(o_i), rtol=1e-4, atol=1e-5)
        for got, want in zip(_states(h_n), _states(hn_i)):
            assert_close(_np(got)[:, i], _np(want), rtol=1e-4, atol=1e-5)


def test_gradient_through_pack_layer_pad_matches_finite_differences():
    rng = np.random.default_rng(3)
    m = nn.LSTM(2, 2, num_layers=2, bidirectional=True, dtype=rustdl.float64)
    lengths = [1, 3, 2]
    x_np = rng.standard_normal((3, 3, 2))  # (T, B, F)
    w_np = rng.standard_normal((3, 3, 4))

    def loss_of(x):
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, (h, c) = m(packed)
        padded, _ = pad_packed_sequence(out)
        return (padded * rustdl.tensor(w_np)).sum() + h.sum() * 0.5 + (c * c).sum()

    x = rustdl.tensor(x_np, requires_grad=True)
    loss_of(x).backward()
    grad = x.grad.numpy()
    eps = 1e-6
    numeric = np.zeros_like(x_np)
    with rustdl.no_grad():
        for idx in np.ndindex(*x_np.shape):
            plus, minus = x_np.copy(), x_np.copy()
            plus[idx] += eps
            minus[idx] -= eps
            numeric[idx] = (loss_of(rustdl.tensor(plus)).item() - loss_of(rustdl.tensor(minus)).item()) / (
                2 * eps
            )
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    assert np.all(grad[1:, 0] == 0)  # padding of the length-1 sequence gets no gradient
    w = m.weight_hh_l1_reverse
    assert w.grad is not None and np.isfinite(w.grad.numpy()).all() and np.abs(w.grad.numpy()).sum() > 0


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_layer_too_large_is_memory_error(cls):
    # a broadcast view is cheap; the layer's buffers (steps x batch x gates) are not
    x = rustdl.zeros(1, 1, 3).expand(10**6, 10**5, 3)
    with pytest.raises(MemoryError, match="rnn_layer"):
        cls(3, 4)(x)
