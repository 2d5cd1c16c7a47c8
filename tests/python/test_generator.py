"""rustdl.Generator and the draws that take ``generator=``: reproducible streams of their own that
leave the global stream alone; randperm / normal / bernoulli / rng state; the data utilities and
nn.init with a generator."""

import math

import numpy as np
import pytest
import rustdl
from rustdl import nn
from rustdl.data import DataLoader, RandomSampler, TensorDataset, random_split


def draws(g):
    return [
        rustdl.randn(5, generator=g).numpy(),
        rustdl.rand(2, 3, generator=g).numpy(),
        rustdl.randint(0, 100, (4,), generator=g).numpy(),
        rustdl.randperm(9, generator=g).numpy(),
        rustdl.normal(1.0, 2.0, (3,), generator=g).numpy(),
        rustdl.zeros(4).normal_(generator=g).numpy(),
        rustdl.zeros(4).uniform_(-1, 1, generator=g).numpy(),
        rustdl.zeros(6).bernoulli_(0.5, generator=g).numpy(),
        rustdl.tensor([0.1, 0.2, 0.7]).multinomial(5, True, generator=g).numpy(),
        rustdl.bernoulli(rustdl.full((6,), 0.5), generator=g).numpy(),
    ]


def test_generators_seeded_alike_draw_alike_and_leave_the_global_stream_alone():
    rustdl.manual_seed(7)
    expected_global = rustdl.randn(3).numpy()
    rustdl.manual_seed(7)
    a = draws(rustdl.Generator().manual_seed(123))
    b = draws(rustdl.Generator().manual_seed(123))
    c = draws(rustdl.Generator().manual_seed(124))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    # none of those draws moved the global stream
    np.testing.assert_array_equal(rustdl.randn(3).numpy(), expected_global)


def test_generator_state_replays_and_default_generator_is_the_global_stream():
    g = rustdl.Generator().manual_seed(5)
    assert g.initial_seed() == 5
    rustdl.randn(3, generator=g)
    state = g.get_state()
    first = rustdl.randn(4, generator=g).numpy()
    g.set_state(state)
    np.testing.assert_array_equal(rustdl.randn(4, generator=g).numpy(), first)
    # the global stream through default_generator / get_rng_state
    rustdl.default_generator.manual_seed(11)
    assert rustdl.initial_seed() == 11
    saved = rustdl.get_rng_state()
    x = rustdl.randn(5).numpy()
    rustdl.set_rng_state(saved)
    np.testing.assert_array_equal(rustdl.randn(5).numpy(), x)
    rustdl.set_rng_state(saved)
    np.testing.assert_array_equal(rustdl.randn(5, generator=rustdl.default_generator).numpy(), x)
    s = rustdl.seed()
    assert rustdl.initial_seed() == s
    with pytest.raises(TypeError):
        rustdl.randn(3, generator="not a generator")
    with pytest.raises(TypeError):  # PyTorch: the state must be a ByteTensor
        g.set_state(rustdl.tensor([1, 2, 3]))
    with pytest.raises(RuntimeError):  # of the size get_state returns
        g.set_state(rustdl.zeros(5, dtype=rustdl.uint8))


def test_randperm_normal_bernoulli_follow_pytorch():
    rustdl.manual_seed(0)
    p = rustdl.randperm(1000)
    assert p.dtype == rustdl.int64 and sorted(p.tolist()) == list(range(1000))
    assert rustdl.randperm(0).shape == (0,)
    assert rustdl.randperm(5, dtype=rustdl.float32).dtype == rustdl.float32
    with pytest.raises(ValueError):
        rustdl.randperm(-1)
    z = rustdl.normal(3.0, 0.5, size=(20000,)).numpy()
    assert abs(z.mean() - 3.0) < 0.02 and abs(z.std() - 0.5) < 0.02
    # tensor means and stds broadcast elementwise
    m = rustdl.normal(rustdl.tensor([[0.0], [100.0]]), rustdl.full((2, 5000), 1.0))
    assert m.shape == (2, 5000)
    assert abs(m[1].mean().item() - 100.0) < 0.1 and abs(m[0].std().item() - 1.0) < 0.05
    with pytest.raises(TypeError):
        rustdl.normal(0.0, 1.0)
    b = rustdl.bernoulli(rustdl.full((20000,), 0.3)).numpy()
    assert set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.02
    with pytest.raises(ValueError):
        rustdl.bernoulli(rustdl.tensor([1.5]))


def test_data_utilities_take_a_generator():
    data = TensorDataset(rustdl.arange(20).float())

    def order(seed):
        loader = DataLoader(data, batch_size=5, shuffle=True, generator=rustdl.Generator().manual_seed(seed))
        return [int(v) for (b,) in loader for v in b.tolist()]

    assert order(3) == order(3) and sorted(order(3)) == list(range(20))
    assert order(3) != order(4)
    split = [
        list(s.indices) for s in random_split(data, [15, 5], generator=rustdl.Generator().manual_seed(1))
    ]
    again = [
        list(s.indices) for s in random_split(data, [15, 5], generator=rustdl.Generator().manual_seed(1))
    ]
    assert split == again and sorted(split[0] + split[1]) == list(range(20))
    s1 = list(
        RandomSampler(data, replacement=True, num_samples=8, generator=rustdl.Generator().manual_seed(2))
    )
    s2 = list(
        RandomSampler(data, replacement=True, num_samples=8, generator=rustdl.Generator().manual_seed(2))
    )
    assert s1 == s2 and all(0 <= i < 20 for i in s1)


def test_init_with_a_generator_and_the_new_initialisers():
    def init_all(seed):
        g = rustdl.Generator().manual_seed(seed)
        w = rustdl.empty(6, 4)
        out = []
        for f in (nn.init.uniform_, nn.init.normal_, nn.init.xavier_uniform_, nn.init.kaiming_normal_):
            out.append(f(w, generator=g).numpy().copy())
        out.append(nn.init.trunc_normal_(w, std=0.5, a=-0.3, b=0.4, generator=g).numpy().copy())
        out.append(nn.init.orthogonal_(w, generator=g).numpy().copy())
        return out

    for x, y in zip(init_all(9), init_all(9)):
        np.testing.assert_array_equal(x, y)
    big = nn.init.trunc_normal_(rustdl.empty(20000), mean=0.0, std=1.0, a=-1.0, b=2.0).numpy()
    assert big.min() >= -1.0 and big.max() <= 2.0
    # mean of N(0,1) truncated to [-1, 2]: (phi(-1) - phi(2)) / (Phi(2) - Phi(-1))
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    assert abs(big.mean() - (phi(-1) - phi(2)) / (cdf(2) - cdf(-1))) < 0.02
    for shape in [(5, 3), (3, 5), (4, 2, 3)]:
        q = nn.init.orthogonal_(rustdl.empty(*shape), gain=2.0).numpy().reshape(shape[0], -1)
        gram = q @ q.T if shape[0] <= q.shape[1] else q.T @ q
        np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-5)
    np.testing.assert_array_equal(nn.init.eye_(rustdl.empty(2, 3)).numpy(), np.eye(2, 3))
