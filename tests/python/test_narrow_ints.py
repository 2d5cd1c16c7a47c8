"""Narrow integer dtypes (uint8, int8, int16, int32): reported under their own names, wrapped
to their range by arithmetic as PyTorch's are, and kept through views, copies, numpy and files.
numpy's integer arithmetic (same two's-complement wrap, same promotion between integers) is the
reference."""

import io

import numpy as np
import pytest
import rustdl

NARROW = [
    (rustdl.uint8, np.uint8),
    (rustdl.int8, np.int8),
    (rustdl.int16, np.int16),
    (rustdl.int32, np.int32),
]


def _values(npt, n=24, seed=0):
    info = np.iinfo(npt)
    rng = np.random.default_rng(seed)
    v = rng.integers(info.min, int(info.max) + 1, size=n, dtype=np.int64)
    v[:4] = [info.min, info.max, 0, 1]
    return v.astype(npt)


def _check(t, ref, dtype):
    assert t.dtype == dtype, (t.dtype, dtype)
    got = t.cpu().numpy()
    assert got.dtype == ref.dtype, (got.dtype, ref.dtype)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize(("dt", "npt"), NARROW, ids=lambda x: str(x))
def test_arithmetic_wraps_like_numpy(device, dt, npt):
    a, b = _values(npt, seed=1), _values(npt, seed=2)
    if device != "cpu" and npt is np.int32:
        # the GPU refuses int32 results past 2^31 instead of wrapping: keep them in range
        a, b = (a // 4).astype(npt), (b // 4).astype(npt)
    ta, tb = rustdl.tensor(a, device=device), rustdl.tensor(b, device=device)
    assert ta.dtype == dt
    with np.errstate(over="ignore"):
        _check(ta + tb, a + b, dt)
        _check(ta - tb, a - b, dt)
        _check(ta + 3, a + npt(3), dt)
        _check(-ta, -a, dt)
        small = (b % 7 + 1).astype(npt)
        ts = rustdl.tensor(small, device=device)
        _check(ta // ts, a // small, dt)
        _check(ta % ts, a % small, dt)
        if device == "cpu" or npt is not np.int32:
            _check(ta * tb, a * b, dt)
    # comparisons are bool, true division float
    np.testing.assert_array_equal((ta < tb).cpu().numpy(), a < b)
    assert (ta / 2).dtype == rustdl.float32


def test_in_place_ops_wrap_and_keep_the_dtype(device):
    x = rustdl.tensor([250, 3], dtype=rustdl.uint8, device=device)
    x += 10
    assert x.dtype == rustdl.uint8
    assert x.tolist() == [4, 13]
    x.mul_(100)
    assert x.tolist() == [(4 * 100) % 256, (13 * 100) % 256]
    y = rustdl.zeros(3, dtype=rustdl.int8, device=device)
    y[1] = 7
    y.fill_(-3)
    assert y.dtype == rustdl.int8 and y.tolist() == [-3, -3, -3]


def test_promotion_between_integers_matches_numpy():
    for dt1, np1 in NARROW + [(rustdl.int64, np.int64)]:
        for dt2, np2 in NARROW + [(rustdl.int64, np.int64)]:
            a = rustdl.ones(2, dtype=dt1)
            b = rustdl.ones(2, dtype=dt2)
            want = np.result_type(np1, np2)
            assert (a + b).numpy().dtype == want, (dt1, dt2)
            assert rustdl.promote_types(dt1, dt2) == (a + b).dtype
    # a 0-d operand or a Python int does not widen a dimensioned integer tensor
    u = rustdl.tensor([200], dtype=rustdl.uint8)
    assert (u + rustdl.tensor(100)).tolist() == [44]
    assert (u + 100).dtype == rustdl.uint8
    assert (u + 0.5).dtype == rustdl.float32
    assert rustdl.result_type(u, 1) == rustdl.uint8


def test_casts_wrap_as_twos_complement(device):
    f = rustdl.tensor([250.0, -1.0, 3.7, 256.0, -129.5], device=device)
    ref = np.array([250, -1, 3, 256, -129], dtype=np.int64)
    _check(f.byte(), ref.astype(np.uint8), rustdl.uint8)
    _check(f.char(), ref.astype(np.int8), rustdl.int8)
    _check(f.to(rustdl.int16), ref.astype(np.int16), rustdl.int16)
    big = rustdl.tensor([70000, -70000, 40000], device=device)
    _check(big.short(), np.array([70000, -70000, 40000]).astype(np.int16), rustdl.int16)
    u = rustdl.tensor([250, 128], dtype=rustdl.uint8, device=device)
    _check(u.to(rustdl.int8), np.array([250, 128], np.uint8).astype(np.int8), rustdl.int8)
    assert u.long().dtype == rustdl.int64 and u.long().tolist() == [250, 128]
    assert u.int().dtype == rustdl.int32
    np.testing.assert_allclose(u.float().cpu().numpy(), [250.0, 128.0])


def test_int32_wraps_on_the_cpu():
    x = rustdl.tensor([2**31 - 1], dtype=rustdl.int32)
    assert (x + 1).tolist() == [-(2**31)]
    assert rustdl.tensor([2**31 + 5]).int().tolist() == [-(2**31) + 5]


def test_views_copies_and_selections_keep_the_dtype(device):
    a = np.arange(12, dtype=np.int16).reshape(3, 4) * 1000
    t = rustdl.tensor(a, device=device)
    _check(t.t(), a.T, rustdl.int16)
    _check(t.t().contiguous(), a.T, rustdl.int16)
    _check(t.clone(), a, rustdl.int16)
    _check(t[1], a[1], rustdl.int16)
    _check(t.flip(0), a[::-1], rustdl.int16)
    _check(rustdl.cat([t, t]), np.concatenate([a, a]), rustdl.int16)
    _check(rustdl.stack([t, t]), np.stack([a, a]), rustdl.int16)
    idx = rustdl.tensor([2, 0], device=device)
    _check(t.index_select(0, idx), a[[2, 0]], rustdl.int16)
    _check(
        t.gather(1, rustdl.tensor([[1], [0], [3]], device=device)),
        a[[0, 1, 2], [1, 0, 3]][:, None],
        rustdl.int16,
    )
    _check(t.max(), a.max(), rustdl.int16)
    _check(t.max(1).values, a.max(1), rustdl.int16)
    _check(t.amin(0), a.min(0), rustdl.int16)
    _check(t.sort(1, descending=True).values, -np.sort(-a, 1), rustdl.int16)
    cond = rustdl.tensor(a % 2000 == 0, device=device)
    _check(rustdl.where(cond, t, t * 2), np.where(a % 2000 == 0, a, a * 2), rustdl.int16)
    _check(t.to("cpu"), a, rustdl.int16)
    # reductions that sum give int64, without wrapping, as PyTorch's
    u = rustdl.tensor([200, 200, 200], dtype=rustdl.uint8, device=device)
    assert u.sum().dtype == rustdl.int64 and u.sum().item() == 600
    assert u.cumsum(0).tolist() == [200, 400, 600]
    assert u.argmax().dtype == rustdl.int64


def test_uint8_index_is_a_mask_and_int32_indices_index(device):
    x = rustdl.arange(5, device=device) * 10
    m = np.array([1, 0, 1, 0, 1], np.uint8)
    assert x[rustdl.tensor(m, device=device)].tolist() == [0, 20, 40]
    assert x[rustdl.tensor(m.astype(bool), device=device)].tolist() == [0, 20, 40]
    assert x[rustdl.tensor([4, 0], dtype=rustdl.int32, device=device)].tolist() == [40, 0]
    w = rustdl.eye(4, device=device)
    e = rustdl.nn.functional.embedding(rustdl.tensor([3, 1], dtype=rustdl.int32, device=device), w)
    np.testing.assert_array_equal(e.cpu().numpy(), np.eye(4, dtype=np.float32)[[3, 1]])


def test_cross_entropy_takes_uint8_targets(device):
    rng = np.random.default_rng(0)
    logits = rustdl.tensor(rng.standard_normal((5, 4)).astype(np.float32), device=device)
    y = np.array([0, 3, 1, 2, 3])
    a = rustdl.nn.functional.cross_entropy(logits, rustdl.tensor(y, device=device))
    b = rustdl.nn.functional.cross_entropy(logits, rustdl.tensor(y.astype(np.uint8), device=device))
    assert abs(a.item() - b.item()) < 1e-7
    with pytest.raises(TypeError):
        rustdl.nn.functional.cross_entropy(logits, rustdl.tensor(y.astype(np.int32), device=device))


def test_numpy_round_trip_and_element_sizes():
    for dt, npt in NARROW:
        v = _values(npt)
        t = rustdl.from_numpy(v)
        assert t.dtype == dt
        assert t.numpy().dtype == npt
        np.testing.assert_array_equal(t.numpy(), v)
        assert rustdl.tensor(v).dtype == dt
        assert rustdl.tensor(v.tolist(), dtype=dt).dtype == dt
        assert rustdl.as_tensor(v).dtype == dt
        assert t.element_size() == np.dtype(npt).itemsize == dt.itemsize
        assert t.nbytes == v.nbytes
        assert t.tolist() == v.tolist()
        assert isinstance(t[0].item(), int)
    assert rustdl.uint8 != rustdl.int64 and rustdl.int == rustdl.int32 and rustdl.short == rustdl.int16
    assert not rustdl.uint8.is_signed and rustdl.int8.is_signed
    # PIL and other numpy consumers see the real dtype
    img = (rustdl.rand(3, 4, 4) * 255).byte().permute(1, 2, 0).numpy()
    assert img.dtype == np.uint8 and img.shape == (4, 4, 3)


def test_legacy_types_and_printing():
    u = rustdl.tensor([1, 2], dtype=rustdl.uint8)
    assert u.type() == "torch.ByteTensor"
    assert isinstance(u, rustdl.ByteTensor) and not isinstance(u, rustdl.LongTensor)
    assert rustdl.IntTensor([1, 2]).dtype == rustdl.int32
    assert u.type("torch.CharTensor").dtype == rustdl.int8
    assert rustdl.tensor([5]).type(rustdl.ShortTensor).dtype == rustdl.int16
    assert "dtype=rustdl.uint8" in repr(u)
    assert "dtype" not in repr(rustdl.tensor([1, 2]))


def test_bitwise_ops_and_shifts_keep_the_dtype():
    u = rustdl.tensor([7, 12, 200], dtype=rustdl.uint8)
    v = np.array([7, 12, 200], np.uint8)
    _check(u & 6, v & np.uint8(6), rustdl.uint8)
    _check(u | 129, v | np.uint8(129), rustdl.uint8)
    _check(u << 1, v << np.uint8(1), rustdl.uint8)
    _check(u >> 2, v >> np.uint8(2), rustdl.uint8)
    _check(~u, ~v, rustdl.uint8)


def test_save_and_load_keep_narrow_dtypes(device, tmp_path):
    state = {name: rustdl.tensor(_values(npt), device=device) for (dt, npt), name in zip(NARROW, "abcd")}
    path = tmp_path / "ints.safetensors"
    rustdl.save(state, path)
    back = rustdl.load(path)
    for (dt, npt), name in zip(NARROW, "abcd"):
        _check(back[name], _values(npt), dt)
    buf = io.BytesIO()
    rustdl.save(state, buf)
    back = rustdl.load(io.BytesIO(buf.getvalue()))
    _check(back["a"], _values(np.uint8), rustdl.uint8)


def test_numpy_backed_ops_keep_narrow_values_and_int64_indices():
    x = rustdl.tensor([3, 250, 3, 7], dtype=rustdl.uint8)
    vals, inv, counts = rustdl.unique(x, return_inverse=True, return_counts=True)
    assert vals.dtype == rustdl.uint8
    assert inv.dtype == rustdl.int64 and counts.dtype == rustdl.int64
    np.testing.assert_array_equal(vals.numpy(), np.unique(np.array([3, 250, 3, 7], np.uint8)))
    seq = rustdl.tensor([1.0, 2.0, 4.0])
    q = rustdl.tensor([0.5, 2.0, 5.0])
    assert rustdl.searchsorted(seq, q).dtype == rustdl.int64
    i32 = rustdl.searchsorted(seq, q, out_int32=True)
    assert i32.dtype == rustdl.int32
    np.testing.assert_array_equal(i32.numpy(), np.searchsorted([1.0, 2.0, 4.0], [0.5, 2.0, 5.0]))
    assert rustdl.bucketize(q, seq, out_int32=True).dtype == rustdl.int32


@pytest.mark.parametrize(
    "make",
    [
        lambda d: rustdl.tensor([300], dtype=rustdl.uint8, device=d),
        lambda d: rustdl.tensor([[1, 2], [3, 400]], dtype=rustdl.uint8, device=d),
        lambda d: rustdl.tensor([-256], dtype=rustdl.uint8, device=d),
        lambda d: rustdl.tensor([128], dtype=rustdl.int8, device=d),
        lambda d: rustdl.tensor([-0.5], dtype=rustdl.uint8, device=d),
        lambda d: rustdl.tensor([1.5e10], dtype=rustdl.int32, device=d),
        lambda d: rustdl.tensor([1e30], dtype=rustdl.int64, device=d),
        lambda d: rustdl.full((2,), 300, dtype=rustdl.uint8, device=d),
        lambda d: rustdl.zeros(2, dtype=rustdl.int16, device=d).fill_(40000),
        lambda d: rustdl.zeros(2, dtype=rustdl.uint8, device=d).new_full((2,), 256),
        lambda d: rustdl.zeros(3, dtype=rustdl.uint8, device=d).__setitem__(0, 300),
        lambda d: rustdl.zeros(3, dtype=rustdl.int8, device=d).__setitem__(slice(0, 2), 200),
        lambda d: rustdl.zeros(3, dtype=rustdl.uint8, device=d).masked_fill(
            rustdl.ones(3, dtype=rustdl.bool, device=d), 300
        ),
        lambda d: rustdl.zeros(3, dtype=rustdl.uint8, device=d).index_fill(
            0, rustdl.tensor([1], device=d), 300
        ),
        lambda d: rustdl.where(
            rustdl.ones(2, dtype=rustdl.bool, device=d), rustdl.zeros(2, dtype=rustdl.uint8, device=d), 300
        ),
    ],
)
def test_values_an_integer_dtype_cannot_hold_raise(device, make):
    # PyTorch refuses to write such a value (arithmetic with it wraps instead, tested above)
    with pytest.raises(RuntimeError, match="cannot be converted to type .* without overflow"):
        make(device)


def test_values_at_the_edges_of_the_range_convert(device):
    u8 = rustdl.uint8
    # an unsigned type also takes negatives down to -max, read modulo 2**8 (as numpy's cast)
    vals = [-255, -1, 0, 255]
    want = np.array(vals).astype(np.uint8).tolist()
    assert rustdl.tensor(vals, dtype=u8, device=device).tolist() == want
    assert rustdl.full((1,), -1, dtype=u8, device=device).tolist() == [255]
    # floats are truncated when their integer part is in range
    assert rustdl.tensor([255.5, 0.9], dtype=u8, device=device).tolist() == [255, 0]
    assert rustdl.tensor([127.9, -128.0], dtype=rustdl.int8, device=device).tolist() == [127, -128]
    t = rustdl.zeros(3, dtype=rustdl.int16, device=device)
    t[1] = -32768
    t.masked_fill_(rustdl.tensor([True, False, False], device=device), 32767)
    assert t.tolist() == [32767, -32768, 0]
    assert rustdl.where(rustdl.tensor([True, False], device=device), t[:2], 5).dtype == rustdl.int16
    # arithmetic with an out-of-range Python int wraps, as PyTorch
    assert (rustdl.zeros(2, dtype=u8, device=device) + 300).tolist() == [44, 44]


def test_reductions_and_products_keep_a_narrow_dtype_asked_for(device):
    a = np.array([[101, 74, 58, 28], [33, 0, 4, 253]])
    x = rustdl.tensor(a, dtype=rustdl.uint8, device=device)
    # a dtype= argument of a narrow type is the result's dtype (values wrap to it)
    s = x.sum(dtype=rustdl.int8)
    assert s.dtype == rustdl.int8 and s.item() == int(np.int64(a.sum()).astype(np.int8))
    c = x.cumsum(1, dtype=rustdl.int16)
    assert c.dtype == rustdl.int16 and c.tolist() == np.cumsum(a.astype(np.uint8), 1, dtype=np.int16).tolist()
    p = x.prod(1, dtype=rustdl.int32)
    assert p.dtype == rustdl.int32 and p.tolist() == np.prod(a, 1).astype(np.int32).tolist()
    # without one, integer sums are int64 (PyTorch's rule)
    assert x.sum().dtype == rustdl.int64 and x.sum().item() == a.sum()
    # dot of narrow vectors wraps to their dtype
    d = rustdl.dot(x[0], x[1])
    assert d.dtype == rustdl.uint8 and d.item() == int(np.dot(a[0], a[1]) % 256)
    # all/any of a uint8 tensor are uint8 (PyTorch's legacy rule), of others bool
    assert x.all().dtype == rustdl.uint8 and x.all().item() == 0
    assert x.any(1).tolist() == [1, 1] and x.any(1).dtype == rustdl.uint8
    assert x.to(rustdl.int16).any().dtype == rustdl.bool


def test_rounding_gcd_and_division_of_narrow_integers(device):
    a = np.array([101, 7, 0, 253, 12, 18])
    x = rustdl.tensor(a, dtype=rustdl.uint8, device=device)
    # rounding an integer tensor is a copy in its own dtype, in place a no-op
    for name in ("floor", "ceil", "trunc", "round"):
        r = getattr(x, name)()
        assert r.dtype == rustdl.uint8 and r.tolist() == a.tolist()
    y = x.to(rustdl.int16)
    assert y.floor_().tolist() == a.tolist() and y.dtype == rustdl.int16
    assert (
        rustdl.gcd(y, rustdl.tensor(6, dtype=rustdl.int16, device=device)).tolist() == np.gcd(a, 6).tolist()
    )
    # true division by a negative int is in floats; rounded division casts it to uint8 first
    np.testing.assert_allclose((x / -3).numpy(), a / -3, rtol=1e-6)
    t = rustdl.div(x, -3, rounding_mode="trunc")
    assert t.dtype == rustdl.uint8 and t.tolist() == (a // 253).tolist()
    assert (x // -3).tolist() == (a // 253).tolist()
