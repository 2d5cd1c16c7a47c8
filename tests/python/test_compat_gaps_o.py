"""PyTorch behaviours found missing or different by running PyTorch programs under
``rustdl.torchcompat`` and comparing with PyTorch (one test per gap)."""

import numpy as np
import pytest
import rustdl
from rustdl.data import ChainDataset, DataLoader, Dataset, IterableDataset


class _Count(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


def test_iterable_datasets_without_len_chain_and_list():
    # list() asks len() for a size hint; a dataset without __len__ must answer TypeError
    # ("unknown"), not an exception list() passes on.
    assert list(ChainDataset([_Count(3), _Count(2)])) == [0, 1, 2, 0, 1]
    assert list(_Count(2) + _Count(3)) == [0, 1, 0, 1, 2]
    with pytest.raises(TypeError):
        len(_Count(3))
    with pytest.raises(TypeError):
        len(Dataset())
    batches = [b.tolist() for b in DataLoader(ChainDataset([_Count(3), _Count(4)]), batch_size=3)]
    assert batches == [[0, 1, 2], [0, 1, 2], [3]]
    assert rustdl.cat([rustdl.tensor(b) for b in batches]).sum().item() == 9


def test_polygamma_any_order_and_zeta_closed_forms():
    import math

    import numpy as np
    from rustdl import special

    one = rustdl.tensor([1.0], dtype=rustdl.float64)
    # psi^(n)(1) = (-1)^(n+1) n! zeta(n+1): zeta(2) = pi^2/6, zeta(4) = pi^4/90
    assert rustdl.polygamma(1, one).item() == pytest.approx(math.pi**2 / 6, rel=1e-12)
    assert rustdl.polygamma(3, one).item() == pytest.approx(6 * math.pi**4 / 90, rel=1e-12)
    x = rustdl.tensor([0.3, 1.7, 4.2, 11.5, 40.0, -0.5, -2.25], dtype=rustdl.float64)
    for n in range(1, 6):
        # recurrence psi^(n)(x + 1) = psi^(n)(x) + (-1)^n n! x^(-n-1)
        lhs = rustdl.polygamma(n, x + 1).numpy()
        rhs = rustdl.polygamma(n, x).numpy() + (-1) ** n * math.factorial(n) * x.numpy() ** (-n - 1)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10)
    assert special.zeta(2.0, rustdl.tensor([1.0], dtype=rustdl.float64)).item() == pytest.approx(
        math.pi**2 / 6
    )
    s = rustdl.tensor([1.5, 2.0, 3.5, 7.0], dtype=rustdl.float64)
    q = rustdl.tensor([0.25, 3.0, 12.5, 0.9], dtype=rustdl.float64)
    np.testing.assert_allclose(
        (special.zeta(s, q) - special.zeta(s, q + 1)).numpy(), q.numpy() ** -s.numpy(), rtol=1e-12
    )
    edge = special.zeta(rustdl.tensor([1.0, 0.5, 2.0, 2.5]), rustdl.tensor([2.0, 2.0, -3.0, -1.5])).tolist()
    assert edge[0] == math.inf and math.isnan(edge[1]) and edge[2] == math.inf and math.isnan(edge[3])
    # gradients: d/dx psi^(n) = psi^(n+1) (any order), d/dq zeta(s, q) = -s zeta(s + 1, q)
    t = rustdl.tensor([0.7, 2.5], dtype=rustdl.float64, requires_grad=True)
    assert rustdl.autograd.gradcheck(lambda v: rustdl.polygamma(2, v), (t,))
    assert rustdl.autograd.gradgradcheck(lambda v: rustdl.polygamma(1, v), (t,))
    assert rustdl.autograd.gradgradcheck(rustdl.digamma, (t,))
    assert rustdl.autograd.gradcheck(
        lambda v: special.zeta(rustdl.tensor([2.5, 3.0], dtype=rustdl.float64), v), (t,)
    )
    with pytest.raises(ValueError):
        rustdl.polygamma(-1, t)


def test_mvlgamma_and_scatter_multiply():
    import math

    x = rustdl.tensor([2.5, 4.0])
    want = [math.log(math.pi) / 2 + math.lgamma(v) + math.lgamma(v - 0.5) for v in (2.5, 4.0)]
    assert rustdl.mvlgamma(x, 2).tolist() == pytest.approx(want, rel=1e-6)
    assert x.mvlgamma(2).tolist() == pytest.approx(want, rel=1e-6)
    base = rustdl.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    idx = rustdl.tensor([[0, 0, 2], [1, 1, 1]])
    got = base.scatter(1, idx, 2.0, reduce="multiply")
    assert got.tolist() == [[4.0, 2.0, 6.0], [4.0, 40.0, 6.0]]
    src = rustdl.tensor([[3.0, 5.0, 7.0], [2.0, 2.0, 2.0]])
    assert base.scatter(1, idx, src, reduce="multiply").tolist() == [[15.0, 2.0, 21.0], [4.0, 40.0, 6.0]]


def test_copy_from_a_leaf_into_a_plain_buffer_carries_the_gradient():
    w = rustdl.tensor([1.0, -2.0, 3.0], requires_grad=True)
    buf = rustdl.zeros(3)
    buf.copy_(w)
    assert buf.requires_grad and not buf.is_leaf
    (buf * rustdl.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert w.grad.tolist() == [1.0, 2.0, 3.0]
    # into a slice of a buffer, and from a leaf of another dtype
    w2 = rustdl.tensor([0.5, 0.25], dtype=rustdl.float64, requires_grad=True)
    out = rustdl.zeros(2, 3)
    out[1, :2].copy_(w2)
    (out * 4).sum().backward()
    assert w2.grad.tolist() == [4.0, 4.0]


def test_retains_grad_flag():
    a = rustdl.ones(3, requires_grad=True)
    b = a * 2
    assert not b.retains_grad
    b.retain_grad()
    assert b.retains_grad and not a.retains_grad
    a.retain_grad()  # a no-op on a leaf, as PyTorch
    assert not a.retains_grad
    (b * b).sum().backward()
    assert b.grad.tolist() == [4.0, 4.0, 4.0]


def _conv_transpose3d_np(x, w, stride, padding, output_padding, dilation, groups):
    """Direct scatter form: every input voxel adds weight · value at i·stride + k·dilation."""
    import numpy as np

    n, cin, *size = x.shape
    cout_g = w.shape[1]
    ks = w.shape[2:]
    full = [(size[a] - 1) * stride[a] + dilation[a] * (ks[a] - 1) + 1 + output_padding[a] for a in range(3)]
    out = np.zeros((n, cout_g * groups, *full))
    cin_g = cin // groups
    for g in range(groups):
        for ci in range(cin_g * g, cin_g * (g + 1)):
            for kd in range(ks[0]):
                for kh in range(ks[1]):
                    for kw in range(ks[2]):
                        d0, h0, w0 = kd * dilation[0], kh * dilation[1], kw * dilation[2]
                        sl = (
                            slice(d0, d0 + (size[0] - 1) * stride[0] + 1, stride[0]),
                            slice(h0, h0 + (size[1] - 1) * stride[1] + 1, stride[1]),
                            slice(w0, w0 + (size[2] - 1) * stride[2] + 1, stride[2]),
                        )
                        for co in range(cout_g):
                            out[(slice(None), g * cout_g + co, *sl)] += x[:, ci] * w[ci, co, kd, kh, kw]
    crop = tuple(slice(padding[a], full[a] - padding[a]) for a in range(3))
    return out[(slice(None), slice(None), *crop)]


@pytest.mark.parametrize(
    "stride,padding,output_padding,dilation,groups",
    [
        ((1, 1, 1), (0, 0, 0), (0, 0, 0), (1, 1, 1), 1),
        ((2, 1, 3), (1, 0, 1), (1, 0, 2), (1, 1, 1), 2),
        ((2, 2, 2), (1, 1, 1), (1, 1, 1), (2, 1, 2), 1),
    ],
)
def test_conv_transpose3d_against_direct_scatter(stride, padding, output_padding, dilation, groups):
    import numpy as np
    from rustdl import nn

    rustdl.manual_seed(0)
    m = nn.ConvTranspose3d(4, 6, (3, 2, 3), stride, padding, output_padding, groups, True, dilation)
    x = rustdl.randn(2, 4, 3, 4, 2, dtype=rustdl.float64)
    m = m.double()
    want = _conv_transpose3d_np(
        x.numpy(), m.weight.detach().numpy(), stride, padding, output_padding, dilation, groups
    ) + m.bias.detach().numpy().reshape(1, -1, 1, 1, 1)
    got = m(x)
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-10, atol=1e-12)
    xr = x.clone().requires_grad_()
    assert rustdl.autograd.gradcheck(lambda t: m(t), (xr,), fast_mode=True)
    lazy = nn.LazyConvTranspose3d(6, (3, 2, 3), stride, padding, output_padding, groups, True, dilation)
    assert lazy(x.float()).shape == got.shape


def test_scatter_into_view_functions_and_their_gradients():
    import numpy as np

    a = rustdl.arange(18.0).reshape(3, 6).requires_grad_()
    b = rustdl.full((3, 2), -1.0, requires_grad=True)
    out = rustdl.slice_scatter(a, b, 1, 1, 5, 2)
    want = np.arange(18.0).reshape(3, 6)
    want[:, 1:5:2] = -1
    assert out.tolist() == want.tolist()
    (out * rustdl.arange(18.0).reshape(3, 6)).sum().backward()
    ga = np.arange(18.0).reshape(3, 6)
    ga[:, 1:5:2] = 0
    assert a.grad.tolist() == ga.tolist()
    assert b.grad.tolist() == np.arange(18.0).reshape(3, 6)[:, 1:5:2].tolist()
    sel = rustdl.select_scatter(rustdl.zeros(2, 3), rustdl.ones(3), 0, -1)
    assert sel.tolist() == [[0, 0, 0], [1, 1, 1]]
    diag = rustdl.zeros(3, 4).diagonal_scatter(rustdl.tensor([1.0, 2.0, 3.0]), 1)
    assert diag.tolist() == [[0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 3]]
    with pytest.raises(RuntimeError, match="slice_scatter"):
        rustdl.slice_scatter(rustdl.zeros(3, 6), rustdl.zeros(3, 2), 1, 0, 6, 2)


def test_gradient_matches_numpy():
    import numpy as np

    f = np.random.default_rng(0).standard_normal((5, 6))
    t = rustdl.tensor(f, dtype=rustdl.float64)
    for got, want in zip(rustdl.gradient(t), np.gradient(f)):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    (got,) = rustdl.gradient(t, spacing=2.0, dim=1, edge_order=2)
    np.testing.assert_allclose(got.numpy(), np.gradient(f, 2.0, axis=1, edge_order=2), rtol=1e-12)
    x = np.array([0.0, 1.0, 1.5, 3.0, 7.0])
    for order in (1, 2):
        (got,) = rustdl.gradient(
            t, spacing=(rustdl.tensor(x, dtype=rustdl.float64),), dim=0, edge_order=order
        )
        np.testing.assert_allclose(got.numpy(), np.gradient(f, x, axis=0, edge_order=order), rtol=1e-12)
    with pytest.raises(RuntimeError):
        rustdl.gradient(rustdl.ones(1))


def test_small_breadth_names():
    import math

    x = rustdl.tensor([1.0, math.inf, -math.inf, math.nan])
    assert rustdl.isposinf(x).tolist() == [False, True, False, False]
    assert x.isneginf().tolist() == [False, False, True, False]
    m = rustdl.arange(12.0).reshape(2, 2, 3)
    assert m.adjoint().shape == (2, 3, 2)
    assert m.sum_to_size(1, 3).tolist() == [[18.0, 22.0, 26.0]]
    assert m.sum_to_size(2, 1, 1).reshape(-1).tolist() == [15.0, 51.0]
    with pytest.raises(RuntimeError):
        m.sum_to_size(2)
    assert m.layout == rustdl.strided and not m.is_quantized
    assert rustdl.cond(rustdl.tensor(False), lambda v: v + 1, lambda v: v - 1, (rustdl.ones(1),)).item() == 0
    assert isinstance(rustdl.nn.LSTM(2, 3), rustdl.nn.RNNBase)
    q, r = rustdl.qr(rustdl.randn(5, 3), some=False)
    assert q.shape == (5, 5) and r.shape == (5, 3)


def test_remove_spectral_norm_keeps_the_normalised_weight():
    from rustdl import nn

    rustdl.manual_seed(0)
    layer = nn.utils.spectral_norm(nn.Linear(4, 3))
    layer.train()(rustdl.randn(2, 4))  # a power-iteration step
    layer.eval()
    w = layer(rustdl.eye(4)).detach() - layer.bias.detach()  # the weight in use, transposed
    orig = layer.weight_orig.detach().numpy().astype(np.float64)
    u, v = layer.weight_u.numpy().astype(np.float64), layer.weight_v.numpy().astype(np.float64)
    nn.utils.remove_spectral_norm(layer)
    assert sorted(layer.state_dict()) == ["bias", "weight"]
    assert isinstance(layer.weight, nn.Parameter)
    assert rustdl.allclose(layer.weight.detach().t(), w, atol=1e-6)
    # the kept weight is the original over the power-iteration estimate u·Wv of its top singular value
    np.testing.assert_allclose(layer.weight.detach().numpy(), orig / (u @ orig @ v), rtol=1e-5)
    sigma_est = u @ orig @ v
    assert 0 < sigma_est <= np.linalg.norm(orig, 2) * (1 + 1e-6)
    with pytest.raises(ValueError):
        nn.utils.remove_spectral_norm(layer)


def test_deepcopy_of_a_leaf_copies_its_gradient():
    import copy

    a = rustdl.ones(2, requires_grad=True)
    (a * 3).sum().backward()
    b = copy.deepcopy(a)
    assert b.requires_grad and b.is_leaf and b.grad.tolist() == [3.0, 3.0]
    b.grad.zero_()
    assert a.grad.tolist() == [3.0, 3.0]  # its own copy


def test_method_spellings_and_small_names():
    import numpy as np

    t = rustdl.tensor([[1.0, 0.0], [0.0, 3.0]])
    assert t.nonzero_static(size=4).tolist() == [[0, 0], [1, 1], [-1, -1], [-1, -1]]
    assert rustdl.nonzero_static(rustdl.tensor([1, 0, 2, 3]), size=2, fill_value=9).tolist() == [[0], [2]]
    assert t.dim_order() == (0, 1) and t.t().dim_order() == (1, 0)
    assert rustdl.zeros(2, 3, 4).permute(2, 0, 1).dim_order() == (1, 2, 0)
    assert rustdl.tensor([-1.0, 0.0, 2.0]).angle().tolist() == pytest.approx([np.pi, 0.0, 0.0])
    assert t.conj() is t and not t.is_conj() and not rustdl.is_neg(t)
    with pytest.raises(TypeError, match="imag"):
        t.imag  # noqa: B018
    assert rustdl.tensor([2]).is_nonzero() and not rustdl.tensor([0.0]).is_nonzero()
    with pytest.raises(RuntimeError):
        t.is_nonzero()
    a, b = t.split_with_sizes([1, 1], 1)
    assert a.tolist() == [[1.0], [0.0]] and b.tolist() == [[0.0], [3.0]]
    with pytest.raises(RuntimeError, match="sum exactly"):
        t.split_with_sizes([1, 2])
    spd = rustdl.tensor([[4.0, 2.0], [2.0, 3.0]])
    low = spd.cholesky()
    assert rustdl.allclose(low @ low.t(), spd) and rustdl.allclose(spd.cholesky(upper=True), low.t())
    assert t.hardshrink(2.0).tolist() == [[0.0, 0.0], [0.0, 3.0]]
    u, s, v = rustdl.svd_lowrank(rustdl.tensor(np.diag([5.0, 3.0, 1.0])), q=2)
    assert s.tolist() == pytest.approx([5.0, 3.0]) and u.shape == (3, 2) and v.shape == (3, 2)
    assert issubclass(rustdl.cuda.OutOfMemoryError, RuntimeError)
    assert rustdl.GradScaler is rustdl.amp.GradScaler
    rustdl.set_num_interop_threads(3)
    assert rustdl.get_num_interop_threads() == 3


def test_pool_with_indices_spellings_and_inplace_forms():
    import math

    from rustdl.nn import functional as F

    x = rustdl.arange(16.0).reshape(1, 1, 4, 4)
    out, idx = F.max_pool2d_with_indices(x, 2)
    assert out.reshape(-1).tolist() == [5.0, 7.0, 13.0, 15.0] and idx.reshape(-1).tolist() == [5, 7, 13, 15]
    out, idx = F.adaptive_max_pool1d_with_indices(rustdl.tensor([[[3.0, 1.0, 4.0, 1.0]]]), 2)
    assert out.tolist() == [[[3.0, 4.0]]] and idx.tolist() == [[[0, 2]]]
    a = rustdl.tensor([0.5, 2.0])
    a.igamma_(rustdl.tensor([1.0, 1.0]))
    assert a.tolist() == pytest.approx([math.erf(1.0), 1 - 2 / math.e], rel=1e-6)
    m = rustdl.zeros(2)
    m.addmv_(rustdl.ones(2, 3), rustdl.tensor([1.0, 2.0, 3.0]))
    assert m.tolist() == [6.0, 6.0]


def test_hostile_orders_return_quickly():
    import time

    x = rustdl.tensor([0.5, 2.0])
    t0 = time.time()
    assert rustdl.polygamma(10**12, x)[0].item() == float("-inf")  # n! overflows to inf, as PyTorch
    with pytest.raises(ValueError):
        rustdl.mvlgamma(x + 10, 10**12)
    assert time.time() - t0 < 5.0
    v = rustdl.tensor([2.5, 4.0], requires_grad=True)
    rustdl.mvlgamma(v, 3).sum().backward()
    assert v.grad.tolist() == pytest.approx([1.1624, 3.2821], abs=1e-4)
    assert rustdl.gradient(rustdl.tensor([1, 4, 9, 16]))[0].tolist() == [3.0, 4.0, 6.0, 7.0]


def test_inplace_masked_fill_with_a_value_that_requires_grad():
    w = rustdl.tensor([0.5, -1.0], requires_grad=True)
    buf = rustdl.zeros(3)
    buf.masked_fill_(rustdl.tensor([True, False, True]), w[0])
    assert buf.requires_grad and buf.tolist() == [0.5, 0.0, 0.5]
    (buf * rustdl.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert w.grad.tolist() == [4.0, 0.0]
    # a plain number or a value without grad still fills as before
    assert rustdl.zeros(2).masked_fill_(rustdl.tensor([True, False]), rustdl.tensor(2.0)).tolist() == [
        2.0,
        0.0,
    ]
