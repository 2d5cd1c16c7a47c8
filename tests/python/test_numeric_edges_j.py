"""Edge cases found by a differential fuzzing round (rustdl against PyTorch's documented
behaviour), each checked here against numpy or a closed form: NaN in mode and searchsorted,
keepdim without a dim, views that must (and results that must not) share memory, unflatten of
empty tensors, type promotion of copysign/ldexp/true_divide, and interpolation of empty inputs."""

import math

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F

NAN = float("nan")


@pytest.mark.parametrize(
    "row, value, index",
    [
        ([NAN, 1.0, 1.0], 1.0, 2),
        ([NAN, NAN, NAN, 1.0, 1.0], 1.0, 4),  # each NaN is a value seen once
        ([2.0, NAN, NAN, 3.0, 3.0], 3.0, 4),
        ([1.0, NAN], 1.0, 0),
        ([NAN, NAN], NAN, 0),  # NaN only: NaN, at its first position
        ([NAN], NAN, 0),
    ],
)
def test_mode_with_nan_counts_each_nan_once(row, value, index):
    r = rustdl.mode(rustdl.tensor(row))
    got = r.values.item()
    assert (math.isnan(got) and math.isnan(value)) or got == value
    assert r.indices.item() == index
    rows = rustdl.tensor([[NAN, 1.0, 1.0], [NAN, NAN, NAN]])
    v, i = rowsmode = rows.mode(1)
    assert rowsmode.values[0].item() == 1.0 and math.isnan(v[1].item())
    assert i.tolist() == [2, 0]


def test_nansum_and_nanmean_keep_every_dim_without_a_dim():
    a = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    x = rustdl.tensor(a)
    s, m = rustdl.nansum(x, keepdim=True), rustdl.nanmean(x, keepdim=True)
    assert tuple(s.shape) == (1, 1) and tuple(m.shape) == (1, 1)
    assert s.item() == pytest.approx(np.nansum(a)) and m.item() == pytest.approx(np.nanmean(a))
    assert tuple(rustdl.nansum(x).shape) == () and tuple(x.nanmean(keepdim=True).shape) == (1, 1)
    assert rustdl.nansum(rustdl.tensor([1, 2]), keepdim=True).tolist() == [3]


@pytest.mark.parametrize("offset", [-2, -1, 0, 1, 2, 3])
@pytest.mark.parametrize("shape", [(2, 3), (3, 2), (3, 3), (1, 4), (4, 1)])
def test_diagonal_of_a_transposed_matrix_is_a_view(shape, offset):
    base = np.arange(float(np.prod(shape))).reshape(shape).T  # column-major storage
    t = rustdl.tensor(np.ascontiguousarray(base.T)).t()
    d = t.diagonal(offset)
    assert d.tolist() == np.diagonal(base, offset).tolist()
    d.mul_(-1)
    want = base.copy()
    for i in range(len(np.diagonal(base, offset))):
        want[i + max(-offset, 0), i + max(offset, 0)] *= -1
    assert t.tolist() == want.tolist()


def test_diagonal_of_a_transposed_batch_is_a_view_with_gradients():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = rustdl.tensor(a).permute(0, 2, 1)  # each (4, 3) plane is column-major
    d = t.diagonal(0, 1, 2)
    assert d.tolist() == np.diagonal(a.transpose(0, 2, 1), 0, 1, 2).tolist()
    d.zero_()
    assert t.tolist() == np.where(np.eye(4, 3, dtype=bool), 0.0, a.transpose(0, 2, 1)).tolist()
    x = rustdl.arange(6.0, requires_grad=True)
    y = (x * 1).reshape(3, 2).t()
    y.diagonal().mul_(10)  # y[0, 0] = x[0] and y[1, 1] = x[3]
    y.sum().backward()
    assert x.grad.tolist() == [10.0, 1.0, 1.0, 10.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "shape, dim, sizes, want",
    [
        ((2, 0), 0, (-1, 1), (2, 1, 0)),
        ((0, 3), 1, (-1,), (0, 3)),
        ((2, 0), 1, (2, -1), (2, 2, 0)),
        ((0,), 0, (5, -1), (5, 0)),
        ((2, 0), 0, (1, -1, 1), (1, 2, 1, 0)),
        ((6,), 0, (2, -1), (2, 3)),
    ],
)
def test_unflatten_reads_minus_one_from_its_dim_even_beside_a_zero(shape, dim, sizes, want):
    assert tuple(rustdl.zeros(shape).unflatten(dim, sizes).shape) == want
    assert tuple(rustdl.unflatten(rustdl.zeros(shape), dim, sizes).shape) == want


def test_unflatten_still_refuses_what_does_not_fit():
    for shape, sizes in [((2, 0), (0, -1)), ((0,), (0, -1)), ((6,), (4, -1))]:
        with pytest.raises(ValueError, match="unflatten"):
            rustdl.zeros(shape).unflatten(-1, sizes)


def _bisect(seq, v, right):
    """PyTorch's bisection: the first position whose element is >= v (> v with right)."""
    lo, hi = 0, len(seq)
    while lo < hi:
        mid = (lo + hi) // 2
        past = not (seq[mid] > v) if right else not (seq[mid] >= v)
        lo, hi = (mid + 1, hi) if past else (lo, mid)
    return lo


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_places_nan_as_pytorch(right):
    seq = [-1.0, 2.0, NAN, NAN]
    vals = [3.0, -2.0, NAN, 2.0, 10.0]
    got = rustdl.searchsorted(rustdl.tensor(seq), rustdl.tensor(vals), right=right).tolist()
    assert got == [_bisect(seq, v, right) for v in vals]
    assert got[2] == 4  # a NaN value goes after everything
    bounds = [1.0, 2.0, 2.0, 3.0]
    x = [0.0, 2.0, 2.5, NAN, math.inf, -math.inf]
    got = rustdl.bucketize(rustdl.tensor(x), rustdl.tensor(bounds), right=right).tolist()
    assert got == [_bisect(bounds, v, right) for v in x]


def test_searchsorted_of_empty_values_or_sequences():
    seq = rustdl.tensor([[1.0, 3.0], [2.0, 4.0]])
    out = rustdl.searchsorted(seq, rustdl.zeros(2, 0))
    assert tuple(out.shape) == (2, 0) and out.dtype == rustdl.int64
    assert rustdl.searchsorted(rustdl.zeros(2, 0), rustdl.ones(2, 3)).tolist() == [[0] * 3] * 2
    assert tuple(rustdl.searchsorted(rustdl.zeros(0, 4), rustdl.zeros(0, 2)).shape) == (0, 2)
    assert rustdl.searchsorted(rustdl.tensor([]), rustdl.tensor([1.0, 2.0])).tolist() == [0, 0]
    rng = np.random.default_rng(0)
    s = np.sort(rng.integers(-3, 4, (3, 6)).astype(np.float64), -1)
    v = rng.integers(-4, 5, (3, 5)).astype(np.float64)
    for side in ("left", "right"):
        got = rustdl.searchsorted(rustdl.tensor(s), rustdl.tensor(v), side=side).numpy()
        assert got.tolist() == [np.searchsorted(a, b, side=side).tolist() for a, b in zip(s, v)]


def test_copysign_ldexp_and_true_divide_promote_as_pytorch():
    f32, f64 = rustdl.ones(5), rustdl.ones(1, dtype=rustdl.float64)
    assert rustdl.copysign(f32, -f64).dtype == rustdl.float64
    assert rustdl.copysign(f32, -f64).tolist() == [-1.0] * 5
    assert rustdl.copysign(f32, rustdl.tensor(-2.0, dtype=rustdl.float64)).dtype == rustdl.float32  # 0-d
    assert rustdl.copysign(rustdl.tensor([3, -4]), 1.5).dtype == rustdl.float32
    out = rustdl.ldexp(f32, f64 * 3)
    assert out.dtype == rustdl.float64 and out.tolist() == [8.0] * 5
    assert rustdl.ldexp(rustdl.tensor([3]), rustdl.tensor([2])).tolist() == [12.0]
    i = rustdl.tensor([1, 2, 3])
    q = rustdl.true_divide(i, rustdl.tensor(2.0, dtype=rustdl.float64))
    assert q.dtype == rustdl.float64 and q.tolist() == [0.5, 1.0, 1.5]
    assert rustdl.true_divide(i, 2).dtype == rustdl.float32
    x = rustdl.tensor([1.0, -2.0], requires_grad=True)
    rustdl.copysign(x, -f64).sum().backward()  # d|x|/dx, negated
    assert x.grad.tolist() == [-1.0, 1.0]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_padding_nothing_gives_a_new_tensor(mode):
    t = rustdl.arange(3.0).reshape(1, 1, 3)
    v = F.pad(t, (0, 0), mode=mode)
    v.add_(100)
    assert t.tolist() == [[[0.0, 1.0, 2.0]]] and v.tolist() == [[[100.0, 101.0, 102.0]]]


def test_cropping_pad_and_diff_of_order_zero_give_new_tensors():
    t = rustdl.arange(4.0)
    v = F.pad(t, (-1, 0))
    v.add_(100)
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0] and v.tolist() == [101.0, 102.0, 103.0]
    d = rustdl.diff(t, n=0)
    d.mul_(2)
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0] and d.tolist() == [0.0, 2.0, 4.0, 6.0]
    x = rustdl.arange(4.0, requires_grad=True)
    (F.pad(x * 1, (-1, 0)) * rustdl.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "area", "bilinear", "bicubic"])
def test_interpolating_an_empty_input_names_interpolate(mode):
    with pytest.raises(ValueError, match="interpolate: input spatial sizes"):
        F.interpolate(rustdl.ones(1, 2, 0, 4), size=(3, 4), mode=mode)
    assert tuple(F.interpolate(rustdl.ones(0, 2, 3, 4), size=(3, 5)).shape) == (0, 2, 3, 5)


@pytest.mark.parametrize(
    "fn, shape, sections",
    [
        ("hsplit", (3,), 2),  # 3 is not divisible by 2
        ("hsplit", (2, 3), 2),
        ("hsplit", (4,), 0),
        ("hsplit", (), 1),  # hsplit needs a dim
        ("vsplit", (4,), 2),  # vsplit needs two
        ("vsplit", (4, 2), 3),
        ("tensor_split", (), 1),
        ("tensor_split", (4,), 0),
    ],
)
def test_hsplit_vsplit_need_equal_sections_as_pytorch(fn, shape, sections):
    with pytest.raises(ValueError, match=fn):
        getattr(rustdl, fn)(rustdl.zeros(shape), sections)


def test_splits_that_fit_and_impossible_section_counts():
    a = np.arange(8.0).reshape(2, 4)
    assert [p.tolist() for p in rustdl.hsplit(rustdl.tensor(a), 2)] == [q.tolist() for q in np.hsplit(a, 2)]
    assert [p.tolist() for p in rustdl.hsplit(rustdl.tensor(a), [1, 3])] == [
        q.tolist() for q in np.hsplit(a, [1, 3])
    ]
    assert [tuple(p.shape) for p in rustdl.vsplit(rustdl.zeros(0, 2), 2)] == [(0, 2), (0, 2)]
    assert [tuple(p.shape) for p in rustdl.zeros(3).tensor_split(2, -1)] == [(2,), (1,)]
    with pytest.raises(IndexError, match="tensor_split"):
        rustdl.zeros(3).tensor_split(2, 5)
    with pytest.raises(MemoryError, match="tensor_split"):
        rustdl.ones(3).tensor_split(2**40)  # one tensor per section: refused, not looped over


def test_as_strided_of_a_huge_broadcast_reads_without_materialising_it():
    big = rustdl.ones(3).expand(10**12, 3)  # 3e12 elements: only a view
    assert big.as_strided((2,), (1,)).tolist() == [1.0, 1.0]
    a = rustdl.arange(3.0).expand(4, 3)
    assert a.as_strided((2, 2), (1, 1)).tolist() == [[0.0, 1.0], [1.0, 2.0]]
    x = rustdl.arange(3.0, requires_grad=True)
    y = x.expand(4, 3).as_strided((2, 2), (1, 1), 0)  # reads x[0], x[1]; x[1], x[2]
    (y * rustdl.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert x.grad.tolist() == [1.0, 5.0, 4.0]
