"""Tensor creation, conversion, dtypes, devices, views and indexing against numpy."""

import numpy as np
import pytest
import rustdl
from conftest import assert_close


def test_tensor_from_lists_infers_dtype():
    assert rustdl.tensor([1, 2, 3]).dtype == rustdl.int64
    assert rustdl.tensor([1.0, 2]).dtype == rustdl.float32
    assert rustdl.tensor([True, False]).dtype == rustdl.bool
    t = rustdl.tensor([[1, 2], [3, 4]], dtype=rustdl.float64)
    assert t.dtype == rustdl.float64 and t.shape == (2, 2)
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_tensor_from_numpy_keeps_dtype_family_and_values():
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    t = rustdl.from_numpy(a)
    assert t.dtype == rustdl.float64
    np.testing.assert_array_equal(t.numpy(), a)
    assert rustdl.tensor(a.astype(np.float32)).dtype == rustdl.float32
    assert rustdl.tensor(a.astype(np.int32)).dtype == rustdl.int32
    assert rustdl.tensor(a.astype(np.uint16)).dtype == rustdl.int64
    # a transposed (non-contiguous) array converts by value
    np.testing.assert_array_equal(rustdl.tensor(a.T).numpy(), a.T)


def test_scalar_and_item():
    t = rustdl.tensor(3.5)
    assert t.shape == () and t.ndim == 0 and t.item() == 3.5
    assert rustdl.tensor(7).item() == 7 and isinstance(rustdl.tensor(7).item(), int)
    assert float(rustdl.tensor([2.0])) == 2.0
    assert f"{rustdl.tensor(0.123456):.3f}" == "0.123"


def test_creation_functions(device):
    assert_close(rustdl.zeros(2, 3, device=device), np.zeros((2, 3)))
    assert_close(rustdl.ones((2, 3), device=device), np.ones((2, 3)))
    assert_close(rustdl.full((2, 2), 7.0, device=device), np.full((2, 2), 7.0))
    assert rustdl.arange(5).dtype == rustdl.int64
    assert_close(rustdl.arange(0, 1, 0.25, device=device), np.arange(0, 1, 0.25))
    assert_close(rustdl.linspace(-1, 1, 5, device=device), np.linspace(-1, 1, 5))
    assert_close(rustdl.eye(3, 4, device=device), np.eye(3, 4))
    x = rustdl.randn(2, 3, device=device)
    assert_close(rustdl.zeros_like(x), np.zeros((2, 3)))
    assert_close(rustdl.ones_like(x), np.ones((2, 3)))
    assert str(x.device) == ("cpu" if device == "cpu" else "gpu:0")


def test_manual_seed_reproduces_every_random_op():
    def draw():
        return [rustdl.rand(5).numpy(), rustdl.randn(5).numpy(), rustdl.randint(0, 10, (5,)).numpy()]

    rustdl.manual_seed(123)
    a = draw()
    rustdl.manual_seed(123)
    b = draw()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    rustdl.manual_seed(124)
    assert not np.array_equal(rustdl.rand(5).numpy(), a[0])


def test_random_distributions_have_right_moments():
    u = rustdl.rand(200_000).numpy()
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    n = rustdl.randn(200_000).numpy()
    assert abs(n.mean()) < 0.01 and abs(n.std() - 1) < 0.01
    r = rustdl.randint(3, 7, (100_000,)).numpy()
    assert set(np.unique(r)) == {3, 4, 5, 6}


def test_dtype_conversions():
    x = rustdl.tensor([1.7, -2.2])
    assert x.long().tolist() == [1, -2]
    assert x.double().dtype == rustdl.float64
    assert x.to(rustdl.float64).dtype == rustdl.float64
    assert str(x.to("cpu").device) == "cpu"
    assert rustdl.tensor([0, 2]).bool().tolist() == [False, True]
    assert rustdl.tensor([1, 2]).float().dtype == rustdl.float32


def test_views_share_storage_and_match_numpy():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = rustdl.tensor(a)
    assert_close(t.reshape(4, 6), a.reshape(4, 6))
    assert_close(t.view(-1, 4), a.reshape(-1, 4))
    assert_close(t.permute(2, 0, 1), a.transpose(2, 0, 1))
    assert_close(t.transpose(0, 2), a.swapaxes(0, 2))
    assert_close(t[0].t(), a[0].T)
    assert_close(t.flatten(1), a.reshape(2, 12))
    assert_close(t.unsqueeze(1), a[:, None])
    assert_close(t.unsqueeze(1).squeeze(1), a)
    assert_close(t[:, :1].squeeze(), a[:, 0])
    assert_close(t[:, :1, :1].expand(2, 3, 4), np.broadcast_to(a[:, :1, :1], (2, 3, 4)))
    assert_close(t.repeat(2, 1, 3), np.tile(a, (2, 1, 3)))
    assert_close(t.permute(2, 0, 1).contiguous().reshape(4, 6), a.transpose(2, 0, 1).reshape(4, 6))
    assert_close(t.flip(0, 2), a[::-1, :, ::-1])
    # a view writes through
    v = t.view(24)
    v[0] = 100.0
    assert t[0, 0, 0].item() == 100.0


def test_view_of_non_contiguous_raises_runtime_error():
    t = rustdl.randn(3, 4).t()
    with pytest.raises(RuntimeError, match="view"):
        t.view(12)
    assert t.reshape(12).shape == (12,)


def test_indexing_matches_numpy(device):
    a = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    t = rustdl.tensor(a, device=device)
    cases = [
        (1,),
        (-1,),
        (slice(None), 2),
        (slice(0, 3, 2),),
        (Ellipsis, 1),
        (None, 1),
        (1, slice(None, None, -1 + 3), slice(1, -1)),
        (slice(None), None, slice(2, 4)),
        (Ellipsis, None),
    ]
    for key in cases:
        assert_close(t[key], a[key])
    idx = np.array([2, 0, -1])
    assert_close(t[rustdl.tensor(idx, device=device)], a[idx])
    assert_close(t[:, [1, 3]], a[:, [1, 3]])
    assert_close(
        t[rustdl.tensor([0, 2], device=device), rustdl.tensor([1, 3], device=device)], a[[0, 2], [1, 3]]
    )
    mask = a > 30
    assert_close(t[rustdl.tensor(mask, device=device)], a[mask])
    assert_close(t[t > 30], a[a > 30])


def test_setitem_matches_numpy():
    a = np.zeros((3, 4), dtype=np.float32)
    t = rustdl.zeros(3, 4)
    for key, val in [((0, 1), 5.0), ((slice(None), 2), 7.0), ((1,), np.arange(4, dtype=np.float32))]:
        a[key] = val
        t[key] = rustdl.tensor(val) if isinstance(val, np.ndarray) else val
        assert_close(t, a)
    a[a > 4] = -1.0
    t[t > 4] = -1.0
    assert_close(t, a)
    a[[0, 2]] = 9.0
    t[rustdl.tensor([0, 2])] = 9.0
    assert_close(t, a)


def test_non_adjacent_advanced_indices_match_numpy(device):
    # index arrays separated by a slice, None or ...: the broadcast index dims come first
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4, 5, 6)).astype(np.float32)
    i, j, k = np.array([0, 2, 1]), np.array([[1], [3]]), np.array([4, 0, 5])
    keys = [
        (i, slice(None), j),
        (i, slice(1, 3), j, k),
        (slice(None), i, slice(None), k),
        (i, Ellipsis, k),
        (np.array([[1], [2]]), None, slice(None), slice(None), k),
        (np.array([True, False, True]), slice(None), np.array([1, 2])),
    ]
    for key in keys:
        tkey = tuple(rustdl.tensor(p, device=device) if isinstance(p, np.ndarray) else p for p in key)
        want = a[key]
        x = rustdl.tensor(a, device=device, requires_grad=True)
        y = x[tkey]
        assert_close(y, want)
        w = np.arange(want.size, dtype=np.float32).reshape(want.shape)
        (y * rustdl.tensor(w, device=device)).sum().backward()
        g = np.zeros_like(a)
        np.add.at(g, key, w)
        assert_close(x.grad, g)
        # assignment writes the same positions
        z, t = a.copy(), rustdl.tensor(a, device=device)
        z[key] = -w
        t[tkey] = rustdl.tensor(-w, device=device)
        assert_close(t, z)
    # an int selects first, as in PyTorch (numpy would count it as an advanced index)
    t = rustdl.tensor(a, device=device)
    assert_close(t[0, :, rustdl.tensor(j), rustdl.tensor(k)], a[0][:, j, k])
    assert_close(t[rustdl.tensor(i), 1, :, rustdl.tensor(k)], a[:, 1][i, :, k])
    with pytest.raises(IndexError, match="broadcast"):
        t[rustdl.tensor([0, 1]), :, rustdl.tensor([0, 1, 2])]
    with pytest.raises(IndexError, match="out of bounds for dimension 2"):
        t[rustdl.tensor([0, 1]), :, rustdl.tensor([0, 5])]


def test_cat_stack_split_chunk(device):
    a = np.random.rand(2, 3).astype(np.float32)
    b = np.random.rand(4, 3).astype(np.float32)
    ta, tb = rustdl.tensor(a, device=device), rustdl.tensor(b, device=device)
    assert_close(rustdl.cat([ta, tb]), np.concatenate([a, b]))
    assert_close(rustdl.stack([ta, ta], dim=1), np.stack([a, a], axis=1))
    parts = tb.split(3)
    assert [p.shape for p in parts] == [(3, 3), (1, 3)]
    assert_close(parts[1], b[3:])
    assert [c.shape for c in tb.chunk(2, dim=0)] == [(2, 3), (2, 3)]
    assert [p.shape for p in tb.split([1, 3])] == [(1, 3), (3, 3)]


def test_repr_and_len_and_iter():
    t = rustdl.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    r = repr(t)
    assert r.startswith("tensor(") and "requires_grad=True" in r
    assert len(t) == 2
    assert [row.tolist() for row in t.detach()] == [[1.0, 2.0], [3.0, 4.0]]
    assert "grad_fn" in repr(t * 2)


def test_numpy_on_requires_grad_raises():
    t = rustdl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()
    assert t.detach().numpy().tolist() == [1.0, 1.0]


def test_tensor_is_hashable_by_identity():
    a, b = rustdl.ones(2), rustdl.ones(2)
    d = {a: 1, b: 2}
    assert d[a] == 1 and d[b] == 2


def test_set_num_threads_changes_the_pool_and_results_stay_equal():
    a = np.random.default_rng(0).standard_normal((300, 200)).astype(np.float32)
    x = rustdl.tensor(a)
    before = rustdl.get_num_threads()
    try:
        rustdl.set_num_threads(1)
        assert rustdl.get_num_threads() == 1
        one = (x @ x.t()).numpy()
        s1 = x.sum(0).numpy()
        rustdl.set_num_threads(3)
        assert rustdl.get_num_threads() == 3
        np.testing.assert_allclose((x @ x.t()).numpy(), one, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(x.sum(0).numpy(), s1, rtol=1e-6, atol=1e-5)
        with pytest.raises(ValueError, match="set_num_threads"):
            rustdl.set_num_threads(0)
    finally:
        rustdl.set_num_threads(before)


def test_values_indices_results_are_named_tuples(device):
    import pickle

    a = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], dtype=np.float32)
    x = rustdl.tensor(a, device=device)
    for r, (v, i) in [
        (x.max(1), (a.max(1), a.argmax(1))),
        (rustdl.min(x, dim=0), (a.min(0), a.argmin(0))),
        (x.sort(dim=1, descending=True), (-np.sort(-a, 1), np.argsort(-a, 1))),
        (rustdl.topk(x, 1), (a.max(1, keepdims=True), a.argmax(1)[:, None])),
    ]:
        assert isinstance(r, tuple) and len(r) == 2
        values, indices = r
        assert_close(values, v)
        assert_close(r.indices, i)
        assert r[0] is not None and r[-1].dtype == rustdl.int64
        back = pickle.loads(pickle.dumps(r))
        assert type(back) is type(r) and back._fields == ("values", "indices")


def test_set_printoptions_changes_repr_as_pytorch():
    try:
        rustdl.set_printoptions(precision=2)
        assert repr(rustdl.tensor([1.23456, 2.5])) == "tensor([1.23, 2.50])"
        rustdl.set_printoptions(precision=4, sci_mode=False)
        assert repr(rustdl.tensor([1e-8, 1.0])) == "tensor([0.0000, 1.0000])"
        rustdl.set_printoptions(sci_mode=True, precision=3)
        assert repr(rustdl.tensor([1.5, 20.0])) == "tensor([1.500e+00, 2.000e+01])"
        rustdl.set_printoptions(threshold=5, edgeitems=2, sci_mode=None)
        r = repr(rustdl.arange(10.0))
        assert "..." in r and r.startswith("tensor([0., 1.,") and r.endswith("8., 9.])")
        with rustdl.printoptions(precision=1):
            assert repr(rustdl.tensor([0.25, 1.75])) == "tensor([0.2, 1.8])"
        assert rustdl.get_printoptions()["precision"] == 3
        with pytest.raises(ValueError, match="profile"):
            rustdl.set_printoptions(profile="long")
    finally:
        rustdl.set_printoptions(profile="default")
    assert repr(rustdl.tensor([1.23456789, 2.5])) == "tensor([1.2346, 2.5000])"
    assert "..." not in repr(rustdl.arange(10.0))


# PyTorch 2.x prints these exactly so (checked against PyTorch by hand; the layout is
# PyTorch's documented printing: widths from the finite nonzero values, `...` summaries)
_PYTORCH_REPRS = [
    ("rustdl.tensor([-0., 0.])", "tensor([-0., 0.])"),
    ("rustdl.tensor([1e10, 2.])", "tensor([1.0000e+10, 2.0000e+00])"),
    ("rustdl.zeros(2, 0)", "tensor([], size=(2, 0))"),
    ("rustdl.zeros(0)", "tensor([])"),
    ("rustdl.tensor([0., float('-inf'), float('nan')])", "tensor([0., -inf, nan])"),
    ("rustdl.tensor([float('nan'), 1.5, float('inf')])", "tensor([   nan, 1.5000,    inf])"),
    ("rustdl.tensor([1, -22, 333])", "tensor([  1, -22, 333])"),
    ("rustdl.tensor([True, False])", "tensor([ True, False])"),
    ("rustdl.tensor(3.5)", "tensor(3.5000)"),
    ("rustdl.tensor([1e-5, 1.0])", "tensor([1.0000e-05, 1.0000e+00])"),
    ("rustdl.tensor([100000.0, 1.0])", "tensor([1.0000e+05, 1.0000e+00])"),
    ("rustdl.tensor([100000.0, 200.0])", "tensor([100000.,    200.])"),
    ("rustdl.tensor([[1, 2]], dtype=rustdl.float64)", "tensor([[1., 2.]], dtype=rustdl.float64)"),
    ("rustdl.ones(2, requires_grad=True)", "tensor([1., 1.], requires_grad=True)"),
    (
        "rustdl.arange(2000.)",
        "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])",
    ),
    (
        "rustdl.arange(12.).reshape(2, 2, 3)",
        "tensor([[[ 0.,  1.,  2.],\n         [ 3.,  4.,  5.]],\n\n        [[ 6.,  7.,  8.],\n         [ 9., 10., 11.]]])",
    ),
    (
        "rustdl.arange(2000).reshape(40, 50)",
        "tensor([[   0,    1,    2,  ...,   47,   48,   49],\n        [  50,   51,   52,  ...,   97,   98,   99],\n"
        "        [ 100,  101,  102,  ...,  147,  148,  149],\n        ...,\n"
        "        [1850, 1851, 1852,  ..., 1897, 1898, 1899],\n        [1900, 1901, 1902,  ..., 1947, 1948, 1949],\n"
        "        [1950, 1951, 1952,  ..., 1997, 1998, 1999]])",
    ),
]


@pytest.mark.parametrize("expr,want", _PYTORCH_REPRS)
def test_repr_matches_pytorch(expr, want):
    assert repr(eval(expr)) == want


def test_repr_shows_pytorch_grad_fn_names():
    x = rustdl.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], requires_grad=True)
    y = rustdl.tensor([0, 2])
    w = rustdl.ones(3, 3, requires_grad=True)
    F = rustdl.nn.functional
    cases = [
        (F.cross_entropy(x, y), "NllLossBackward0"),
        (F.mse_loss(x, rustdl.zeros(2, 3)), "MseLossBackward0"),
        (x.mean(), "MeanBackward0"),
        (x.sum(1), "SumBackward1"),
        (x - 1, "SubBackward0"),
        (1 - x, "RsubBackward1"),
        (x / 3, "DivBackward0"),
        (x @ w, "MmBackward0"),
        (F.linear(x, w, w[0]), "AddmmBackward0"),
        (x.t(), "TBackward0"),
        (x[0], "SelectBackward0"),
        (x[rustdl.tensor([1, 0])], "IndexBackward0"),
        (x.max(1).values, "MaxBackward0"),
        (rustdl.stack([x, x]), "StackBackward0"),
    ]
    for out, name in cases:
        assert out.grad_fn.name() == name
        assert repr(out).endswith(f"grad_fn=<{name}>)")
    assert repr(F.cross_entropy(x, y)) == "tensor(2.1610, grad_fn=<NllLossBackward0>)"

    class Square(rustdl.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 2 * a * g

    assert Square.apply(x).grad_fn.name() == "SquareBackward"


def test_list_of_sequences_indexes_as_a_tuple_as_pytorch():
    a = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    x = rustdl.tensor(a)
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        assert_close(x[[[0, 1], [1, 2]]], a[[0, 1], [1, 2]])
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        assert_close(x[[0, slice(None)]], a[0, :])
    assert_close(x[[0, 1]], a[[0, 1]])  # a flat list of ints stays one index
    with pytest.warns(UserWarning):
        x[[[0, 1], [1, 2]]] = 5.0
    a[[0, 1], [1, 2]] = 5.0
    assert_close(x, a)


def test_return_types_print_as_pytorch():
    r = rustdl.tensor([[1.0, 3.0], [4.0, 2.0]]).max(1)
    assert type(r).__name__ == "max" and isinstance(r, rustdl.ValuesIndices)
    assert repr(r) == "rustdl.return_types.max(\nvalues=tensor([3., 4.]),\nindices=tensor([1, 0]))"
    assert type(rustdl.kthvalue(rustdl.tensor([3.0, 1.0]), 1)).__name__ == "kthvalue"
