"""Core ops on hostile or edge inputs, against numpy and closed forms: selections from huge
broadcast views, results that must be copies, integer powers with huge exponents, random bits,
and any/all with keepdim or an empty dim list."""

from __future__ import annotations

import numpy as np
import pytest
import rustdl


def test_index_select_of_a_huge_broadcast_view_reads_only_the_selection():
    # the view is 2^31 x 3 (24 GB if copied): only the two selected rows are read
    e = rustdl.arange(3.0).expand(2**31 - 1, 3)
    np.testing.assert_array_equal(e.index_select(0, rustdl.tensor([0, 7])).numpy(), [[0, 1, 2]] * 2)
    np.testing.assert_array_equal(e[rustdl.tensor([5])].numpy(), [[0, 1, 2]])


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_index_select_of_a_strided_view_larger_than_the_selection(dim):
    a = np.arange(240.0).reshape(4, 6, 10)
    t = rustdl.tensor(a).permute(2, 0, 1)[:, 1:3]
    ids = [1, 0, 1]
    ref = np.take(a.transpose(2, 0, 1)[:, 1:3], ids, axis=dim)
    np.testing.assert_array_equal(t.index_select(dim, rustdl.tensor(ids)).numpy(), ref)


def test_flip_of_an_empty_tensor_with_a_huge_dim_is_empty():
    assert rustdl.zeros(2**62, 0).flip(0).shape == (2**62, 0)


@pytest.mark.parametrize(
    "make",
    [
        lambda b: rustdl.roll(b, 4, 0),
        lambda b: rustdl.roll(b, 0, 0),
        lambda b: rustdl.flip(b, ()),
        lambda b: b.repeat(1),
        lambda b: rustdl.tile(b, (1,)),
    ],
)
def test_results_that_move_nothing_are_still_copies(make):
    b = rustdl.arange(4.0)
    r = make(b)
    np.testing.assert_array_equal(r.numpy(), [0, 1, 2, 3])
    r.mul_(10)
    np.testing.assert_array_equal(b.numpy(), [0, 1, 2, 3])


def test_flip_of_a_scalar_is_a_copy():
    s = rustdl.tensor(2.0)
    s.flip(0).mul_(3)
    assert s.item() == 2.0


def test_integer_power_with_an_exponent_past_32_bits_wraps_as_64_bit_arithmetic():
    x = rustdl.tensor([3, -1, 2, 5, 7])
    # odd bases: x^(2^62) is 1 mod 2^64 (the odd residues' group has exponent 2^62); even: 0
    np.testing.assert_array_equal(x.pow(2**62).numpy(), [1, 1, 0, 1, 1])

    # v^(2^32 + 1) mod 2^64 by Python's modular arithmetic, as a signed 64-bit value
    def signed(w):
        return w - 2**64 if w >= 2**63 else w

    e = 2**32 + 1
    assert rustdl.tensor([3, 5, -7]).pow(e).tolist() == [signed(pow(v % 2**64, e, 2**64)) for v in (3, 5, -7)]


def test_randint_over_a_wide_range_uses_every_low_bit():
    rustdl.manual_seed(0)
    r = rustdl.randint(0, 2**31, (4000,)).numpy()
    assert r.min() >= 0 and r.max() < 2**31
    # with 24 random bits every value was a multiple of 128; about half must be odd
    assert 1800 < (r % 2).sum() < 2200
    r = rustdl.randint(0, 2**40, (4000,)).numpy()
    assert 1800 < (r % 2).sum() < 2200


def test_randint_is_uniform_over_a_small_range():
    rustdl.manual_seed(1)
    r = rustdl.randint(-5, 5, (20000,)).numpy()
    assert r.min() == -5 and r.max() == 4
    counts = np.bincount(r + 5, minlength=10)
    chi2 = ((counts - 2000) ** 2 / 2000).sum()
    assert chi2 < 30  # 9 degrees of freedom: p < 0.001 above 27.9


def test_float64_rand_has_more_than_24_random_bits():
    rustdl.manual_seed(2)
    u = rustdl.rand(10000, dtype=rustdl.float64).numpy()
    assert 0 <= u.min() and u.max() < 1
    assert np.mean((u * 2**24) % 1 != 0) > 0.99
    assert abs(u.mean() - 0.5) < 0.02


def test_any_all_keepdim_without_dim_and_with_an_empty_dim_list():
    x = rustdl.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, float("nan")]])
    n = x.numpy()
    for name in ("any", "all"):
        r = getattr(x, name)(keepdim=True)
        assert r.shape == (1, 1)
        assert r.item() == bool(getattr(n != 0, name)())
        # an empty dim list reduces nothing: each element's truth (NaN is true)
        r = getattr(x, name)(dim=())
        assert r.dtype == rustdl.bool
        np.testing.assert_array_equal(r.numpy(), n != 0)


def _available_bytes():
    try:
        with open("/proc/meminfo") as f:
            info = {ln.split(":")[0]: int(ln.split()[1]) * 1024 for ln in f if ln.split()[1:2]}
    except OSError:
        return None
    return info.get("MemAvailable", 0) + info.get("SwapFree", 0) or None


@pytest.mark.skipif(_available_bytes() is None, reason="the system does not report its free memory")
def test_an_allocation_past_the_free_memory_is_a_memory_error_not_a_kill():
    # the kernel may promise this much (overcommit) and kill the process when the zeros are
    # written; the request is refused up front instead, and the library stays usable
    n = int(_available_bytes() * 1.25) // 4
    with pytest.raises(MemoryError, match="zeros.*available"):
        rustdl.zeros(n)
    assert rustdl.ones(3).sum().item() == 3.0


def test_diag_of_a_huge_offset_fails_before_making_intermediates():
    for k in (2**31, -(2**40), 2**62):
        with pytest.raises(MemoryError, match="diag"):
            rustdl.ones(1, dtype=rustdl.int64).diag(k)
    d = rustdl.tensor([1.0, 2.0]).diag(-1).numpy()
    np.testing.assert_array_equal(d, np.diag([1.0, 2.0], -1))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_index_padding_matches_numpy_and_refuses_absurd_amounts_quickly(mode):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 6))
    ref = np.pad(
        x, ((0, 0), (0, 0), (1, 4), (2, 3)), mode={"replicate": "edge", "circular": "wrap"}.get(mode, mode)
    )
    got = rustdl.nn.functional.pad(rustdl.tensor(x), (2, 3, 1, 4), mode=mode)
    np.testing.assert_allclose(got.numpy(), ref)
    # an amount past any memory is refused at once (the padding index is not built element by
    # element in Python), and the library is usable afterwards
    with pytest.raises((MemoryError, ValueError)):
        rustdl.nn.functional.pad(rustdl.ones(1, 1, 2, 2), (2**40, 2**40, 0, 0), mode=mode)
    assert rustdl.nn.functional.pad(rustdl.ones(1, 1, 2, 2), (1, 0, 0, 1), mode=mode).shape == (1, 1, 3, 3)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_interpolating_no_images_to_a_huge_size_is_empty_not_an_abort(mode):
    # the output has no elements, but the interpolation tables follow the size alone (2^33)
    x = rustdl.ones(0, 3, 4, 4, requires_grad=True)
    y = rustdl.nn.functional.interpolate(x, scale_factor=2**31, mode=mode)
    assert y.shape == (0, 3, 2**33, 2**33)
    y.sum().backward()
    assert x.grad.shape == (0, 3, 4, 4)
    with pytest.raises((MemoryError, ValueError)):
        rustdl.nn.functional.interpolate(rustdl.ones(1, 1, 4, 4), size=(2**40, 4), mode=mode)


def test_adaptive_pooling_of_no_images_to_a_huge_size_is_empty_at_once():
    # the output has no elements: no window is listed (the list would follow the size alone)
    F = rustdl.nn.functional
    x = rustdl.zeros(0, 3, 4, 4, requires_grad=True)
    assert F.adaptive_avg_pool2d(x, (2, 2**62)).shape == (0, 3, 2, 2**62)
    assert F.adaptive_max_pool2d(x, (2**40, 3)).shape == (0, 3, 2**40, 3)
    vals, idx = F.adaptive_max_pool2d(x, (2**40, 3), return_indices=True)
    assert idx.shape == vals.shape and idx.dtype == rustdl.int64
    F.adaptive_avg_pool2d(x, (5, 7)).sum().backward()
    assert x.grad.shape == (0, 3, 4, 4)
    # and a real pooling is unchanged: windows [floor(i*4/3), ceil((i+1)*4/3))
    a = np.arange(16.0).reshape(4, 4)
    win = [(0, 2), (1, 3), (2, 4)]
    ref = np.array([[a[r0:r1, c0:c1].mean() for c0, c1 in win] for r0, r1 in win])
    got = F.adaptive_avg_pool2d(rustdl.tensor(a).reshape(1, 1, 4, 4), (3, 3))
    np.testing.assert_allclose(got.numpy()[0, 0], ref)


def test_local_response_norm_matches_the_window_sum_and_a_huge_size_is_quick():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 3)) * 10
    for size in (1, 2, 5, 8):
        c, sq = x.shape[1], x**2
        ref = np.stack(
            [
                x[:, ch]
                / (2.0 + 0.3 / size * sq[:, max(0, ch - size // 2) : min(c, ch + (size - 1) // 2 + 1)].sum(1))
                ** 0.6
                for ch in range(c)
            ],
            1,
        )
        got = rustdl.nn.functional.local_response_norm(rustdl.tensor(x), size, alpha=0.3, beta=0.6, k=2.0)
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)
    # a window of 2^20 channels is one pooling, not 2^20 additions
    y = rustdl.nn.LocalResponseNorm(2**20)(rustdl.ones(1, 3, 2, 2, 2))
    assert y.shape == (1, 3, 2, 2, 2)


def test_histogram_counts_past_memory_are_a_memory_error():
    # the counts are numpy arrays: their size is checked as a tensor's before numpy makes them
    with pytest.raises(MemoryError, match="histc"):
        rustdl.histc(rustdl.zeros(0), bins=2**40)
    with pytest.raises(MemoryError, match="bincount"):
        rustdl.bincount(rustdl.zeros(0, dtype=rustdl.int64), minlength=2**62)
    np.testing.assert_array_equal(rustdl.histc(rustdl.tensor([0.0, 1, 1, 3]), bins=4).numpy(), [1, 2, 0, 1])
