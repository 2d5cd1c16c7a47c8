"""`Tensor.numpy()` shares a dense CPU tensor's memory with the array, as PyTorch's (the "NumPy
bridge" of the PyTorch tutorials); other tensors are copied."""

import numpy as np
import pytest
import rustdl


def test_numpy_shares_memory_both_ways():
    a = rustdl.ones(5)
    b = a.numpy()
    a.add_(1)
    np.testing.assert_array_equal(b, np.full(5, 2.0, np.float32))
    b[0] = 7.0
    assert a.tolist() == [7.0, 2.0, 2.0, 2.0, 2.0]
    for dtype in (rustdl.float64, rustdl.int64):
        t = rustdl.zeros(2, 3, dtype=dtype)
        arr = t.numpy()
        arr[1, 2] = 4
        assert t[1, 2].item() == 4
    row = rustdl.arange(12.0).reshape(3, 4)[1]  # contiguous at an offset: shared too
    r = row.numpy()
    r[:] = -1.0
    assert row.tolist() == [-1.0] * 4


def test_numpy_shares_views_with_gaps_and_copies_what_it_cannot_share(gpu):
    # as PyTorch: a view with gaps (transposed, strided) gives an array with its strides over
    # the same memory, both ways; so does a bool tensor
    base = rustdl.arange(6.0).reshape(2, 3)
    arr = base.t().numpy()
    assert arr.shape == (3, 2) and arr.strides == (4, 12)
    arr[0, 1] = 99.0
    assert base[1, 0].item() == 99.0
    base[0, 2] = -7.0
    assert arr[2, 0] == -7.0
    stepped = rustdl.arange(10.0)[2:8:3].numpy()
    stepped[:] = -1.0
    m = rustdl.tensor([True, False])
    mb = m.numpy()
    mb[0] = False
    assert m.tolist() == [False, False]
    # numpy arrays: a transposed or sliced array is shared with its strides
    a = np.arange(12.0).reshape(3, 4)[:, ::2]
    v = rustdl.from_numpy(a)
    assert v.stride() == (4, 2) and not v.is_contiguous()
    v.mul_(10)
    np.testing.assert_array_equal(a, [[0.0, 20.0], [40.0, 60.0], [80.0, 100.0]])
    # what cannot be shared is copied: a GPU tensor, a narrow integer dtype (held as int64),
    # an array with negative strides
    g = rustdl.ones(3, device=gpu)
    ga = g.numpy()
    ga[0] = 5.0
    assert g.cpu().tolist() == [1.0, 1.0, 1.0]
    n = rustdl.zeros(3, dtype=rustdl.int32)
    na = n.numpy()
    assert na.dtype == np.int32
    na[0] = 4
    assert n.tolist() == [0, 0, 0]
    r = np.arange(4.0)
    rv = rustdl.from_numpy(r[::-1])
    r[0] = 9.0
    assert rv.tolist() == [3.0, 2.0, 1.0, 0.0]
    assert rustdl.zeros(0).numpy().shape == (0,)


def test_requires_grad_needs_detach_or_force():
    x = rustdl.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    np.testing.assert_array_equal(x.numpy(force=True), np.ones(3, np.float32))
    np.testing.assert_array_equal(x.detach().numpy(), np.ones(3, np.float32))


def test_data_assignment_and_moves_with_a_live_array():
    lin = rustdl.nn.Linear(2, 2)
    keep = lin.weight.detach().numpy()  # lent to numpy while it lives
    before = keep.copy()
    lin.weight.data = rustdl.zeros(2, 2)  # the tensor takes new memory; the array keeps the old
    assert lin.weight.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    np.testing.assert_array_equal(keep, before)
    lin.to(rustdl.float64)
    assert lin.weight.dtype == rustdl.float64
    out = lin(rustdl.ones(1, 2, dtype=rustdl.float64))
    assert out.shape == (1, 2)


def test_from_numpy_shares_memory_and_outlives_the_array():
    import gc

    a = np.ones(5)
    b = rustdl.from_numpy(a)
    np.add(a, 1, out=a)
    assert b.dtype == rustdl.float64 and b.tolist() == [2.0] * 5
    b.mul_(3.0)
    np.testing.assert_array_equal(a, np.full(5, 6.0))
    del a
    gc.collect()
    assert b.tolist() == [6.0] * 5  # the tensor keeps the array's memory alive
    for arr in (np.arange(4), np.array([True, False]), np.zeros((2, 3), np.float32)):
        t = rustdl.from_numpy(arr)
        arr.flat[0] = 1
        assert t.flatten()[0].item() == 1
    # a strided array is shared with its strides (as PyTorch); copied: read-only, narrower
    # integer and empty arrays; rustdl.tensor always copies
    x = np.zeros(4, np.float32)
    strided = rustdl.from_numpy(x[::2])
    x[2] = 5.0
    assert strided.tolist() == [0.0, 5.0] and strided.stride() == (2,)
    t = rustdl.tensor(x)
    x[0] = 5.0
    assert t[0].item() == 0.0
    ro = np.ones(2)
    ro.flags.writeable = False
    assert rustdl.from_numpy(ro).tolist() == [1.0, 1.0]
    i32 = np.arange(3, dtype=np.int32)
    t = rustdl.from_numpy(i32)
    i32[0] = 7
    assert t.dtype == rustdl.int32 and t.tolist() == [0, 1, 2]
    assert rustdl.from_numpy(np.zeros((0, 3))).shape == (0, 3)


def test_as_tensor_shares_numpy_memory_like_pytorch():
    a = np.zeros(3, np.float32)
    t = rustdl.as_tensor(a)
    a[1] = 2.0
    assert t.tolist() == [0.0, 2.0, 0.0]
    c = rustdl.as_tensor(a, dtype=rustdl.float64)  # another dtype: a copy
    a[2] = 3.0
    assert c.tolist() == [0.0, 2.0, 0.0]


def test_adopted_tensors_through_ops_threads_and_gc():
    import threading

    results = []

    def work():
        acc = 0.0
        for k in range(200):
            t = rustdl.from_numpy(np.full(256, float(k)))
            acc += float((t * 2).sum().item())
        results.append(acc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == [2 * 256 * sum(range(200))] * 3
    big = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    t = rustdl.from_numpy(big)
    np.testing.assert_allclose((t @ t).numpy(), big @ big, rtol=1e-4, atol=1e-4)
