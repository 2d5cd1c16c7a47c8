"""CPU random draws follow PyTorch's CPU generator draw for draw.

The reference stream is numpy's legacy ``RandomState(seed)``: an MT19937 seeded exactly as C++'s
``std::mt19937(seed)`` (and PyTorch's CPU generator). Each test rebuilds the expected values from
that raw 32-bit stream with the documented transformations (24-bit float32 uniforms, 53-bit
float64 uniforms from two draws high half first, Box–Muller, ``draw % range``, Fisher–Yates), so a
seeded program draws the same initial weights, dropout masks and shuffles as under PyTorch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import rustdl
from rustdl import nn
from rustdl.data import DataLoader, TensorDataset


class Stream:
    """The reference MT19937 stream and PyTorch's transformations of it."""

    def __init__(self, seed: int) -> None:
        self.rs = np.random.RandomState(seed & 0xFFFFFFFF)
        self.cached: float | None = None

    def r32(self) -> int:
        return int(self.rs.randint(0, 2**32, dtype=np.uint64))

    def r32s(self, n: int) -> np.ndarray:
        return self.rs.randint(0, 2**32, size=n, dtype=np.uint64)

    def r64(self) -> int:
        hi = self.r32()
        return (hi << 32) | self.r32()

    def f32s(self, n: int) -> np.ndarray:
        return ((self.r32s(n) & 0xFFFFFF).astype(np.float64) * 2.0**-24).astype(np.float32)

    def f64(self) -> float:
        return (self.r64() & ((1 << 53) - 1)) * 2.0**-53

    def normal(self) -> float:
        if self.cached is not None:
            v, self.cached = self.cached, None
            return v
        u1, u2 = self.f64(), self.f64()
        r = math.sqrt(-2.0 * math.log1p(-u2))
        self.cached = r * math.sin(2 * math.pi * u1)
        return r * math.cos(2 * math.pi * u1)


def box_muller_16(u: np.ndarray) -> np.ndarray:
    """PyTorch's fill of 16 normals from 16 uniforms: values j and j + 8 from one pair."""
    u = u.astype(np.float64)
    out = np.empty(16)
    for j in range(8):
        r = math.sqrt(-2.0 * math.log(1.0 - u[j]))
        theta = 2 * math.pi * u[j + 8]
        out[j], out[j + 8] = r * math.cos(theta), r * math.sin(theta)
    return out


def normal_fill(s: Stream, n: int) -> np.ndarray:
    v = s.f32s(n).astype(np.float64)
    for i in range(0, n - 15, 16):
        v[i : i + 16] = box_muller_16(v[i : i + 16])
    if n % 16:
        v[n - 16 :] = box_muller_16(s.f32s(16))
    return v


@pytest.mark.parametrize("seed", [0, 1234, 2**40 + 7])
def test_uniform_float32_and_float64(seed):
    rustdl.manual_seed(seed)
    s = Stream(seed)
    np.testing.assert_array_equal(rustdl.rand(1000).numpy(), s.f32s(1000))  # spans a twist
    want = [s.f64() for _ in range(7)]
    np.testing.assert_array_equal(rustdl.rand(7, dtype=rustdl.float64).numpy(), want)
    # float32 uniform_(a, b): a and b - a in float32, u * (b - a) + a in float64, rounded once
    u = s.f32s(50)
    a, b = np.float32(-0.4), np.float32(0.4)
    want = (u.astype(np.float64) * np.float64(b - a) + np.float64(a)).astype(np.float32)
    np.testing.assert_array_equal(rustdl.empty(50).uniform_(-0.4, 0.4).numpy(), want)
    # float64: u * (b - a) + a fused, one rounding (exact rationals rounded once)
    from fractions import Fraction

    u = [s.f64() for _ in range(50)]
    want = [float(Fraction(x) * Fraction(0.4 - -0.4) + Fraction(-0.4)) for x in u]
    got = rustdl.empty(50, dtype=rustdl.float64).uniform_(-0.4, 0.4).numpy()
    np.testing.assert_array_equal(got, want)


def test_normal_small_tensors_pair_and_cache_across_calls():
    rustdl.manual_seed(0)
    s = Stream(0)
    got = np.concatenate(
        [rustdl.randn(3).numpy(), rustdl.randn(1).numpy(), rustdl.randn(2, 2).numpy().ravel()]
    )
    want = [s.normal() for _ in range(8)]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # PyTorch's documented first draws for seed 0
    rustdl.manual_seed(0)
    np.testing.assert_allclose(rustdl.randn(3).numpy(), [1.5410, -0.2934, -2.1788], atol=1e-4)
    # float64 draws take the same path at full precision, with mean and std
    rustdl.manual_seed(3)
    s = Stream(3)
    np.testing.assert_allclose(
        rustdl.empty(5, dtype=rustdl.float64).normal_(2.0, 3.0).numpy(),
        [s.normal() * 3.0 + 2.0 for _ in range(5)],
        rtol=1e-12,
    )


@pytest.mark.parametrize("n", [16, 37, 64, 1000])
def test_normal_fill_of_16_or_more(n):
    rustdl.manual_seed(7)
    np.testing.assert_allclose(rustdl.randn(n).numpy(), normal_fill(Stream(7), n), rtol=2e-6, atol=2e-6)


def test_normal_fill_of_a_transposed_view_walks_memory_order():
    rustdl.manual_seed(5)
    t = rustdl.empty(3, 4).t().normal_()  # not contiguous: one draw at a time, in storage order
    s = Stream(5)
    want = np.array([s.normal() for _ in range(12)]).reshape(3, 4).T
    np.testing.assert_allclose(t.numpy(), want, rtol=1e-6)


def test_randint_randperm_and_random_():
    rustdl.manual_seed(11)
    s = Stream(11)
    np.testing.assert_array_equal(rustdl.randint(0, 10, (50,)).numpy(), [s.r32() % 10 for _ in range(50)])
    np.testing.assert_array_equal(
        rustdl.randint(-5, 2**33, (4,)).numpy(), [s.r64() % (2**33 + 5) - 5 for _ in range(4)]
    )
    perm = list(range(9))
    for i in range(8):
        z = s.r32() % (9 - i)
        perm[i], perm[z + i] = perm[z + i], perm[i]
    np.testing.assert_array_equal(rustdl.randperm(9).numpy(), perm)
    np.testing.assert_array_equal(
        rustdl.empty(3, dtype=rustdl.int64).random_().numpy(), [s.r64() % 2**63 for _ in range(3)]
    )
    np.testing.assert_array_equal(
        rustdl.empty(3).random_().numpy(), [s.r32() % (2**24 + 1) for _ in range(3)]
    )


def test_bernoulli_dropout_and_exponential():
    rustdl.manual_seed(2)
    s = Stream(2)
    np.testing.assert_array_equal(
        rustdl.empty(20).bernoulli_(0.3).numpy(), [s.f64() < 0.3 for _ in range(20)]
    )
    # a probability tensor: one uniform of its own dtype per element
    p = np.linspace(0.05, 0.95, 12).astype(np.float32)
    np.testing.assert_array_equal(rustdl.bernoulli(rustdl.tensor(p)).numpy(), s.f32s(12) < p)
    x = rustdl.ones(4, 5)
    keep = np.array([s.f64() < 0.75 for _ in range(20)]).reshape(4, 5)
    want = keep * (np.float32(1.0) / np.float32(0.75))
    np.testing.assert_array_equal(nn.functional.dropout(x, 0.25).numpy(), want.astype(np.float32))
    lam = 2.0
    want = [-1.0 / lam * math.log(1.0 - s.f64()) for _ in range(6)]
    np.testing.assert_allclose(
        rustdl.empty(6, dtype=rustdl.float64).exponential_(lam).numpy(), want, rtol=1e-12
    )


def test_generators_have_their_own_streams_and_states():
    rustdl.manual_seed(0)
    g = rustdl.Generator().manual_seed(9)
    s9 = Stream(9)
    np.testing.assert_array_equal(rustdl.rand(4, generator=g).numpy(), s9.f32s(4))
    # the global stream did not move
    np.testing.assert_array_equal(rustdl.rand(2).numpy(), Stream(0).f32s(2))
    state = g.get_state()
    a = rustdl.randn(5, generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(rustdl.randn(5, generator=g).numpy(), a.numpy())
    assert g.initial_seed() == 9
    # the global state round-trips too, including a cached normal
    rustdl.randn(1)
    st = rustdl.get_rng_state()
    a = rustdl.randn(3)
    rustdl.set_rng_state(st)
    np.testing.assert_array_equal(rustdl.randn(3).numpy(), a.numpy())
    with pytest.raises((TypeError, ValueError)):
        rustdl.set_rng_state(rustdl.zeros(5, dtype=rustdl.uint8))
    with pytest.raises(ValueError):  # the right size, but a state no seed reaches (all zero)
        rustdl.set_rng_state(rustdl.zeros(st.numel(), dtype=rustdl.uint8))
    rustdl.set_rng_state(st)  # a refused state changed nothing; a valid one still restores
    np.testing.assert_array_equal(rustdl.randn(3).numpy(), a.numpy())


def test_linear_initialisation_draws_weight_then_bias():
    rustdl.manual_seed(0)
    lin = nn.Linear(6, 4)
    s = Stream(0)
    bound = 1.0 / math.sqrt(6)
    lo, width = np.float32(-bound), np.float64(np.float32(bound) - np.float32(-bound))

    def uniform(n):  # the float32 uniform_ arithmetic (see test_uniform_float32_and_float64)
        return (s.f32s(n).astype(np.float64) * width + np.float64(lo)).astype(np.float32)

    w, b = uniform(24), uniform(4)
    np.testing.assert_array_equal(lin.weight.detach().numpy().ravel(), w)
    np.testing.assert_array_equal(lin.bias.detach().numpy(), b)


def test_dataloader_shuffle_draws_base_seed_then_sampler_seed():
    rustdl.manual_seed(4)
    ds = TensorDataset(rustdl.arange(10))
    order = [int(v) for (batch,) in DataLoader(ds, batch_size=3, shuffle=True) for v in batch]
    s = Stream(4)
    s.r64()  # the loader iterator's base seed
    seed = s.r64() % 2**63  # the sampler's generator seed
    sp = Stream(seed)
    perm = list(range(10))
    for i in range(9):
        z = sp.r32() % (10 - i)
        perm[i], perm[z + i] = perm[z + i], perm[i]
    assert order == perm


def test_multinomial_with_replacement_searches_the_normalised_cdf():
    rustdl.manual_seed(8)
    w = np.array([0.1, 0.9, 0.0, 0.4, 0.6], dtype=np.float32)
    got = rustdl.multinomial(rustdl.tensor(w), 40, replacement=True).numpy()
    cdf = (np.cumsum(w, dtype=np.float32) / np.float32(w.sum())).astype(np.float64)
    cdf[-1] = 1.0
    s = Stream(8)
    want = [int(np.searchsorted(cdf, s.f64(), side="left")) for _ in range(40)]
    np.testing.assert_array_equal(got, want)
    assert 2 not in got.tolist()


def test_trunc_normal_redraws_outside_the_window_from_the_stream():
    rustdl.manual_seed(1)
    w = nn.init.trunc_normal_(rustdl.empty(8, 5), 0.0, 1.0, -1.5, 1.5)
    s = Stream(1)
    result = normal_fill(s, 40)
    while True:
        outside = (result < -1.5) | (result > 1.5)
        if not outside.any():
            break
        result = np.where(outside, normal_fill(s, 40), result)
    np.testing.assert_allclose(w.numpy().ravel(), result, rtol=2e-6, atol=2e-6)
    assert w.min().item() >= -1.5 and w.max().item() <= 1.5


def test_rrelu_draws_a_slope_only_for_non_positive_inputs():
    x = rustdl.tensor([0.5, -1.0, 2.0, -0.25, 0.0, -3.0])
    rustdl.manual_seed(6)
    y = nn.functional.rrelu(x, 0.1, 0.3, training=True).numpy()
    s = Stream(6)
    want = [v if v > 0 else v * np.float32(s.f64() * 0.2 + 0.1) for v in x.numpy()]
    np.testing.assert_allclose(y, want, rtol=1e-6)


def test_gumbel_softmax_and_alpha_dropout_draws():
    logits = rustdl.tensor([[0.1, -0.4, 1.2, 0.3]])
    rustdl.manual_seed(12)
    y = nn.functional.gumbel_softmax(logits, tau=0.5).numpy()
    s = Stream(12)
    g = -np.log(np.array([-math.log(1.0 - s.f64()) for _ in range(4)], dtype=np.float32))
    z = (logits.numpy() + g) / 0.5
    want = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(y, want, rtol=1e-5)
    rustdl.manual_seed(13)
    x = rustdl.randn(3, 4)
    out = nn.functional.alpha_dropout(x, 0.2, training=True).numpy()
    s = Stream(13)
    [s.normal() for _ in range(12)]
    keep = np.array([s.f64() < 0.8 for _ in range(12)]).reshape(3, 4)
    alpha = 1.7580993408473766
    a = 1.0 / math.sqrt((alpha**2 * 0.2 + 1) * 0.8)
    want = x.numpy() * keep * a + (keep - 1.0) * alpha * a + alpha * a * 0.2
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


def test_categorical_samples_are_multinomial_draws():
    probs = rustdl.tensor([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    rustdl.manual_seed(21)
    got = rustdl.distributions.Categorical(probs=probs).sample((7,))
    rustdl.manual_seed(21)
    want = rustdl.multinomial(probs, 7, replacement=True).t()
    assert got.shape == (7, 2)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def _gamma_reference(s: Stream, alpha: float) -> float:
    """Marsaglia–Tsang as PyTorch's CPU kernel draws it (float64 arithmetic)."""
    scale = 1.0
    if alpha < 1.0:
        scale *= (1.0 - s.f64()) ** (1.0 / alpha)
        alpha += 1.0
    d = alpha - float(np.float32(1.0) / np.float32(3.0))
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        while True:
            x = s.normal()
            y = 1.0 + c * x
            if y > 0:
                break
        v, u, xx = y**3, 1.0 - s.f64(), x * x
        if u < 1.0 - float(np.float32(0.0331)) * xx * xx or math.log(u) < 0.5 * xx + d * (
            1.0 - v + math.log(v)
        ):
            return scale * d * v


def test_gamma_family_and_poisson_draws():
    alphas = [0.3, 2.0, 5.5]
    rustdl.manual_seed(17)
    got = rustdl.distributions.Gamma(rustdl.tensor(alphas, dtype=rustdl.float64), 1.0).sample((2,))
    s = Stream(17)
    want = [[_gamma_reference(s, a) for a in alphas] for _ in range(2)]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    # Poisson: products of uniforms below 10, else transformed rejection; check the small-rate
    # branch exactly and the large-rate one statistically
    rustdl.manual_seed(18)
    got = rustdl.poisson(rustdl.tensor([0.5, 3.0, 7.0], dtype=rustdl.float64)).numpy()
    s = Stream(18)
    want = []
    for lam in (0.5, 3.0, 7.0):
        k, prod = 0, 1.0
        while True:
            prod *= s.f64()
            if prod > math.exp(-lam):
                k += 1
            else:
                break
        want.append(k)
    np.testing.assert_array_equal(got, want)
    big = rustdl.poisson(rustdl.full((20000,), 40.0)).numpy()
    assert abs(big.mean() - 40.0) < 0.3 and abs(big.var() - 40.0) < 2.0


def test_random_unstructured_pruning_masks_the_largest_draws():
    rustdl.manual_seed(3)
    lin = nn.Linear(5, 4)
    u = rustdl.rand(4, 5).numpy()  # the draws pruning will make next
    rustdl.manual_seed(3)
    lin = nn.Linear(5, 4)
    nn.utils.prune.random_unstructured(lin, "weight", amount=6)
    mask = lin.weight_mask.numpy().ravel()
    assert set(np.flatnonzero(mask == 0)) == set(np.argsort(-u.ravel())[:6])


def test_dropout_of_a_transposed_input_draws_in_its_memory_order():
    rustdl.manual_seed(9)
    y = nn.functional.dropout(rustdl.ones(3, 4).t(), 0.5).numpy()
    s = Stream(9)
    keep = np.array([s.f64() < 0.5 for _ in range(12)]).reshape(3, 4).T
    np.testing.assert_array_equal(y, keep * 2.0)


def test_cuda_manual_seed_leaves_the_cpu_stream():
    rustdl.manual_seed(1)
    rustdl.cuda.manual_seed(99)
    np.testing.assert_array_equal(rustdl.rand(3).numpy(), Stream(1).f32s(3))
    assert rustdl.cuda.initial_seed() == 99 and rustdl.initial_seed() == 1


class _DrawingDataset(rustdl.data.Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        return rustdl.rand(1)


@pytest.mark.parametrize("persistent", [False, True])
def test_loader_workers_draw_from_their_own_generators(persistent):
    """Worker w draws from a generator seeded base_seed + w (PyTorch seeds each worker process
    so), batches going to the workers in turn: reproducible whatever the threads' timing."""
    rustdl.manual_seed(0)
    loader = DataLoader(_DrawingDataset(), batch_size=3, num_workers=2, persistent_workers=persistent)
    got = [b.numpy().ravel() for b in loader]
    base = Stream(0).r64() % 2**63
    streams = [Stream(base + w) for w in range(2)]
    want = [streams[k % 2].f32s(3) for k in range(4)]
    np.testing.assert_array_equal(np.concatenate(got), np.concatenate(want))


def test_packed_lstm_dropout_draws_one_mask_value_per_real_step():
    from rustdl.nn.utils.rnn import pack_padded_sequence

    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.3)
    lens = [5, 3, 2]
    x = pack_padded_sequence(rustdl.ones(5, 3, 3), rustdl.tensor(lens))
    rustdl.manual_seed(14)
    lstm(x)
    s = Stream(14)
    s.r32s(2 * sum(lens) * 4)  # one float64 uniform (two draws) per packed element of layer 1
    np.testing.assert_array_equal(rustdl.rand(2).numpy(), s.f32s(2))


def test_binomial_draws():
    # small means: geometric waiting times from float64 uniforms, counted until they pass n
    rustdl.manual_seed(19)
    got = rustdl.binomial(
        rustdl.tensor([8.0, 20.0], dtype=rustdl.float64), rustdl.tensor([0.3, 0.1], dtype=rustdl.float64)
    )
    s = Stream(19)
    want = []
    for n, p in ((8, 0.3), (20, 0.1)):
        total, k = 0.0, 0
        while True:
            total += math.ceil(math.log(s.f64()) / math.log1p(-p))
            if total > n:
                break
            k += 1
        want.append(k)
    np.testing.assert_array_equal(got.numpy(), want)
    # large means (BTRS) and p > 1/2 (the complement): the distribution's moments
    big = rustdl.binomial(rustdl.full((20000,), 80.0), rustdl.full((20000,), 0.7)).numpy()
    assert abs(big.mean() - 56.0) < 0.15 and abs(big.var() - 16.8) < 0.8
    assert big.min() >= 0 and big.max() <= 80
