"""PyTorch behaviour found by differential programs (session 2026-12-05): the binary-operator
protocol (NotImplemented for foreign operands, ``t == "a"`` is False), ``in``, special-function
edge values (checked against numpy / scipy), ``nextafter`` promotion, DTypeError's classes."""

import math

import numpy as np
import pytest
import rustdl
from scipy import special as sp


class _Reflecting:
    """An object that only knows the reflected operators."""

    def __radd__(self, o):
        return "radd"

    def __rsub__(self, o):
        return "rsub"

    def __rmul__(self, o):
        return "rmul"

    def __rtruediv__(self, o):
        return "rtruediv"

    def __rfloordiv__(self, o):
        return "rfloordiv"

    def __rmod__(self, o):
        return "rmod"

    def __rpow__(self, o):
        return "rpow"

    def __rand__(self, o):
        return "rand"

    def __ror__(self, o):
        return "ror"

    def __rxor__(self, o):
        return "rxor"

    def __rlshift__(self, o):
        return "rlshift"

    def __gt__(self, o):
        return "gt"

    def __eq__(self, o):
        return "eq"

    __hash__ = object.__hash__


def test_foreign_operands_get_their_reflected_operator():
    t = rustdl.ones(2)
    i = rustdl.tensor([1, 2])
    r = _Reflecting()
    assert (t + r, t - r, t * r, t / r, t // r, t % r, t**r) == (
        "radd",
        "rsub",
        "rmul",
        "rtruediv",
        "rfloordiv",
        "rmod",
        "rpow",
    )
    assert (i & r, i | r, i ^ r, i << r) == ("rand", "ror", "rxor", "rlshift")
    assert (t < r) == "gt"  # Python swaps < for the operand's >
    assert (t == r) == "eq"


def test_comparing_with_strings_lists_and_objects_is_not_elementwise():
    t = rustdl.ones(2)
    assert (t == "a") is False and (t != "a") is True
    assert (t == [1, 1]) is False and (t != (1, 1)) is True
    assert (t == object()) is False and (t == {}) is False
    assert "a" not in [t]  # list membership compares with ==
    with pytest.raises(TypeError, match="not supported"):
        t < "a"  # noqa: B015
    with pytest.raises(TypeError, match="unsupported operand"):
        t + "a"
    # numbers, numpy values and tensors still compare elementwise
    assert (t == 1).tolist() == [True, True]
    assert (t == np.float32(1.0)).tolist() == [True, True]
    assert (t == np.array([1.0, 0.0])).tolist() == [True, False]
    assert (t == rustdl.tensor([1.0, 2.0])).tolist() == [True, False]


def test_contains():
    x = rustdl.arange(6).reshape(2, 3)
    assert 3 in x and 7 not in x
    assert np.int64(4) in x
    assert rustdl.tensor([0, 1, 2]) in x  # a row, broadcast
    assert 2.0 in rustdl.tensor(2.0)  # a 0-d tensor too
    for bad in ("a", None, [1]):
        with pytest.raises(RuntimeError, match="only supports Tensor or scalar"):
            bad in x  # noqa: B015


def test_asinh_acosh_at_the_extremes():
    x = np.array([1e-30, -1e-30, 1e-8, 0.5, -0.5, 3.0, 1e8, 1e20, -1e20, 1e300, -1e300])
    got = rustdl.asinh(rustdl.tensor(x, dtype=rustdl.float64)).numpy()
    np.testing.assert_allclose(got, np.arcsinh(x), rtol=1e-15)
    z = rustdl.asinh(rustdl.tensor([-0.0, 0.0])).numpy()
    assert np.signbit(z).tolist() == [True, False]
    f32 = rustdl.asinh(rustdl.tensor([-1e30, 1e30])).numpy()  # x² overflows float32
    np.testing.assert_allclose(f32, np.arcsinh(np.array([-1e30, 1e30])), rtol=1e-6)
    y = np.array([1.0, 1 + 1e-12, 1.5, 2.0, 1e8, 1e30, 1e300])
    np.testing.assert_allclose(
        rustdl.acosh(rustdl.tensor(y, dtype=rustdl.float64)).numpy(), np.arccosh(y), rtol=1e-12
    )
    below = rustdl.acosh(rustdl.tensor([0.5, -2.0, -1e30, -(2.0**31)])).numpy()
    assert np.isnan(below).all()  # outside the domain, also where x² would overflow
    # gradients: 1/√(1 + x²) and 1/√(x² − 1) (inf at 1)
    a = rustdl.tensor([-0.0, 0.5, -1e30, 3.0], dtype=rustdl.float64, requires_grad=True)
    rustdl.asinh(a).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 1 / np.sqrt(1 + np.array([0.0, 0.25, 1e60, 9.0])), rtol=1e-12)
    c = rustdl.tensor([1.0, 1.5, 1e30], dtype=rustdl.float64, requires_grad=True)
    rustdl.acosh(c).sum().backward()
    assert c.grad[0].item() == math.inf
    np.testing.assert_allclose(c.grad[1:].numpy(), 1 / np.sqrt(np.array([1.25, 1e60])), rtol=1e-12)


def test_ndtri_tails_match_scipy():
    p = np.array(
        [5e-324, 1e-300, 1e-45, 1e-30, 1e-10, 1e-3, 0.02, 0.0243, 0.1, 0.5, 0.9, 0.97, 0.98, 0.999, 1 - 1e-10]
    )
    got = rustdl.special.ndtri(rustdl.tensor(p, dtype=rustdl.float64)).numpy()
    np.testing.assert_allclose(got, sp.ndtri(p), rtol=2e-15, atol=1e-15)
    edge = rustdl.special.ndtri(rustdl.tensor([0.0, 1.0, -0.5, 1.5, math.nan], dtype=rustdl.float64)).numpy()
    assert edge[0] == -math.inf and edge[1] == math.inf and np.isnan(edge[2:]).all()
    # float32: 1e-30 is far below where 2p − 1 rounds to −1
    f = rustdl.special.ndtri(rustdl.tensor([1e-30, 1e-45])).numpy()
    np.testing.assert_allclose(
        f, sp.ndtri(np.array([1e-30, 1e-45], dtype=np.float32).astype(np.float64)), rtol=1e-6
    )
    q = rustdl.tensor([1e-20, 0.3, 0.999], dtype=rustdl.float64, requires_grad=True)
    rustdl.special.ndtri(q).sum().backward()
    x = sp.ndtri(np.array([1e-20, 0.3, 0.999]))
    np.testing.assert_allclose(q.grad.numpy(), np.sqrt(2 * np.pi) * np.exp(x * x / 2), rtol=1e-12)


def test_zeta_and_digamma_edge_values_as_cephes():
    x = [0.0, 1e30, -7.0, 2.0, 3.0, 1.0, 2.5, 0.5, 4.0]
    q = [0.0, 1e-30, -3.0, -2.0, -2.5, 5.0, -1.5, 2.0, 0.5]
    got = rustdl.special.zeta(
        rustdl.tensor(x, dtype=rustdl.float64), rustdl.tensor(q, dtype=rustdl.float64)
    ).numpy()
    want = sp.zeta(np.array(x), np.array(q))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-12)
    d = rustdl.digamma(rustdl.tensor([0.0, -0.0, -1.0, 1.0])).numpy()
    assert d[0] == -math.inf and d[1] == math.inf and np.isnan(d[2])
    assert d[3] == pytest.approx(-np.euler_gamma, rel=1e-6)


def test_nextafter_promotes_an_integer_side():
    a = rustdl.tensor([1.0, -1.5, 0.0])
    got = rustdl.nextafter(a, rustdl.tensor([2, -3, -1]))
    assert got.dtype == rustdl.float32
    want = np.nextafter(np.array([1.0, -1.5, 0.0], np.float32), np.array([2, -3, -1], np.float32))
    np.testing.assert_array_equal(got.numpy(), want)
    got = rustdl.nextafter(rustdl.tensor([3, 0]), rustdl.tensor([0.0, 1.0], dtype=rustdl.float64))
    assert got.dtype == rustdl.float64
    np.testing.assert_array_equal(got.numpy(), np.nextafter(np.array([3.0, 0.0]), np.array([0.0, 1.0])))
    with pytest.raises(TypeError, match="nextafter"):
        rustdl.nextafter(rustdl.tensor([1, 2]), rustdl.tensor([3, 4]))


def test_dtype_error_is_pytorchs_not_implemented_error():
    assert issubclass(rustdl.DTypeError, TypeError)
    assert issubclass(rustdl.DTypeError, NotImplementedError)
    assert issubclass(rustdl.DTypeError, RuntimeError)
    with pytest.raises(NotImplementedError):
        rustdl.tensor([1, 2]).mean()


def test_nan_takes_the_gradient_of_max_min_and_maximum(device):
    nan = math.nan

    def leaf():
        return rustdl.tensor([[1.0, nan], [3.0, 2.0]], device=device, requires_grad=True)

    for reduce in (lambda x: x.max(), lambda x: x.min()):
        x = leaf()
        y = reduce(x)
        assert math.isnan(y.item())
        y.backward()
        # the NaN entry is the result, so it takes the whole gradient (not NaN everywhere)
        assert x.grad.cpu().numpy().tolist() == [[0.0, 1.0], [0.0, 0.0]]
    w = rustdl.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    for op in (rustdl.maximum, rustdl.minimum):
        x, o = leaf(), rustdl.ones(2, 2, device=device, requires_grad=True)
        (op(x, o) * w).sum().backward()
        gx, go = x.grad.cpu().numpy(), o.grad.cpu().numpy()
        # a tie (1 vs 1) splits; a NaN compares false, so neither side "loses" there
        assert gx[0, 0] == 0.5 and go[0, 0] == 0.5
        assert gx[0, 1] == 2.0 and go[0, 1] == 2.0
        if op is rustdl.maximum:
            assert gx[1].tolist() == [3.0, 4.0] and go[1].tolist() == [0.0, 0.0]
        else:
            assert gx[1].tolist() == [0.0, 0.0] and go[1].tolist() == [3.0, 4.0]


def test_set_inside_the_graph_refuses_backward():
    a = rustdl.ones(3, requires_grad=True)
    d = a * 2
    src = rustdl.zeros(3)
    d.set_(src)
    assert d.requires_grad
    d.add_(1)
    assert src.tolist() == [1.0, 1.0, 1.0]  # the data is shared
    with pytest.raises(RuntimeError, match="derivative for set_ is not implemented"):
        (d * 3).sum().backward()
    # a source that requires grad also puts the result in the graph
    c = rustdl.ones(3, requires_grad=True) * 2
    t = rustdl.zeros(3)
    t.set_(c)
    assert t.requires_grad
    with pytest.raises(RuntimeError, match="set_"):
        t.sum().backward()
    # outside autograd, set_ stays a plain data operation
    with rustdl.no_grad():
        u = rustdl.zeros(2)
        u.set_(c)
    assert not u.requires_grad and u.tolist() == [2.0, 2.0, 2.0]


def test_softmax_over_a_leading_dim_is_contiguous_and_not_a_view(device):
    x = rustdl.tensor(np.arange(24.0).reshape(2, 3, 4) / 10 - 1, device=device)
    for fn in (
        lambda t: t.softmax(0),
        lambda t: t.log_softmax(1),
        lambda t: rustdl.nn.functional.softmin(t, 0),
    ):
        y = fn(x)
        assert y.is_contiguous() and not y._is_view()
        flat = y.view(-1)  # PyTorch's result allows this
        assert tuple(flat.shape) == (24,)
    e = np.exp(np.arange(24.0).reshape(2, 3, 4) / 10 - 1)
    np.testing.assert_allclose(x.softmax(0).view(-1).cpu().numpy(), (e / e.sum(0)).reshape(-1), rtol=1e-5)
    s = x.softmax(1)
    s.detach_()  # not a view, so it can be detached in place
    assert not s.requires_grad


def test_zero_derivative_arguments_get_zero_gradients():
    # copysign's sign source and nextafter's direction: a zero gradient, not None (as PyTorch)
    x = rustdl.tensor([1.5, -2.5, 0.3], requires_grad=True)
    y = rustdl.tensor([1.0, -1.0, 2.0], requires_grad=True)
    rustdl.copysign(x, y).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0] and y.grad.tolist() == [0.0, 0.0, 0.0]
    x.grad = y.grad = None
    n = rustdl.nextafter(x, y)
    np.testing.assert_array_equal(n.detach().numpy(), np.nextafter(x.detach().numpy(), y.detach().numpy()))
    n.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0] and y.grad.tolist() == [0.0, 0.0, 0.0]
    big = rustdl.tensor([math.inf, -math.inf], requires_grad=True)
    np.testing.assert_array_equal(
        rustdl.nextafter(big, rustdl.tensor([math.inf, 0.0])).detach().numpy(),
        np.nextafter(np.array([np.inf, -np.inf], np.float32), np.array([np.inf, 0.0], np.float32)),
    )


def test_legacy_and_backend_flags():
    x = rustdl.ones(2, requires_grad=True)
    assert (x.is_mkldnn, x.is_xla, x.is_vulkan, x.is_sparse_csr, x.name, x.output_nr) == (
        False,
        False,
        False,
        False,
        None,
        0,
    )
    with pytest.warns(UserWarning, match="volatile"):
        assert x.volatile is False
    assert x.is_set_to(x) and x.is_set_to(x.view(2))
    assert not x.is_set_to(x[:1]) and not x.is_set_to(x.clone())
    assert x.const_data_ptr() == x.data_ptr()
    a, b = rustdl.arange(3.0).unsafe_split_with_sizes([1, 2])
    assert a.tolist() == [0.0] and b.tolist() == [1.0, 2.0]


def test_subclass_hooks_of_conv_batchnorm_and_modulelist():
    nn = rustdl.nn

    class WSConv2d(nn.Conv2d):
        """A weight-standardised convolution, written as PyTorch code writes it."""

        def forward(self, x):
            w = self.weight
            w = (w - w.mean(dim=(1, 2, 3), keepdim=True)) / (w.std(dim=(1, 2, 3), keepdim=True) + 1e-5)
            return self._conv_forward(x, w, self.bias)

    c = WSConv2d(3, 4, 3, padding=1, padding_mode="reflect")
    x = rustdl.randn(2, 3, 5, 5)
    w = c.weight.detach()
    ws = (w - w.mean(dim=(1, 2, 3), keepdim=True)) / (w.std(dim=(1, 2, 3), keepdim=True) + 1e-5)
    want = rustdl.nn.functional.conv2d(
        rustdl.nn.functional.pad(x, [1, 1, 1, 1], mode="reflect"), ws, c.bias.detach()
    )
    np.testing.assert_allclose(c(x).detach().numpy(), want.numpy(), rtol=1e-5, atol=1e-5)

    class AnyRankBN(nn.BatchNorm1d):
        def _check_input_dim(self, input):
            if input.dim() not in (2, 3, 4):
                raise ValueError("bad rank")

    assert tuple(AnyRankBN(3)(rustdl.randn(2, 3, 4, 5)).shape) == (2, 3, 4, 5)
    with pytest.raises(ValueError):
        nn.BatchNorm2d(3)(rustdl.randn(2, 3, 4))
    ml = nn.ModuleList([nn.Linear(1, 1), nn.ReLU(), nn.Tanh()])
    assert isinstance(ml.pop(1), nn.ReLU)
    assert [type(m).__name__ for m in ml] == ["Linear", "Tanh"] and len(ml) == 2


def test_linear_cross_entropy_is_linear_then_cross_entropy():
    nn, F = rustdl.nn, rustdl.nn.functional
    rng = np.random.default_rng(0)
    x = rustdl.tensor(rng.standard_normal((4, 6)), dtype=rustdl.float64, requires_grad=True)
    w = rustdl.tensor(rng.standard_normal((5, 6)), dtype=rustdl.float64, requires_grad=True)
    b = rustdl.tensor(rng.standard_normal(5), dtype=rustdl.float64)
    t = np.array([0, 4, -100, 2])
    got = F.linear_cross_entropy(x, w, rustdl.tensor(t), linear_bias=b, label_smoothing=0.1)
    logits = x.detach().numpy() @ w.detach().numpy().T + b.numpy()
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    keep = t != -100  # ignore_index=None is cross_entropy's -100
    per = -(0.9 * logp[keep, t[keep]] + 0.1 * logp[keep].mean(1))
    assert got.item() == pytest.approx(per.mean(), rel=1e-12)
    got.backward()
    assert x.grad is not None and w.grad is not None
    # out_features: logits (N, C, *out_features)
    w3 = rustdl.tensor(rng.standard_normal((3, 2, 6)), dtype=rustdl.float64)
    tgt = rustdl.tensor([[0, 1], [2, 0], [1, 1], [0, 2]])
    ref = F.cross_entropy((x.detach() @ w3.reshape(-1, 6).T).reshape(4, 3, 2), tgt)
    assert F.linear_cross_entropy(x.detach(), w3, tgt).item() == pytest.approx(ref.item(), rel=1e-12)
    head = nn.LinearCrossEntropyLoss(6, 5, bias=True, options=nn.LinearCrossEntropyOptions())
    assert sorted(k for k, _ in head.named_parameters()) == ["linear.bias", "linear.weight"]
    y = rustdl.tensor([1, 0, 4, 2])
    want = F.cross_entropy(head.linear(x.detach().float()), y)
    assert head(x.detach().float(), y).item() == pytest.approx(want.item(), rel=1e-6)


def test_linalg_ex_info_is_int32_as_lapack():
    L = rustdl.linalg
    a = rustdl.tensor([[[2.0, 0.0], [0.0, 3.0]], [[1.0, 2.0], [2.0, 4.0]]], dtype=rustdl.float64)
    for info in (L.inv_ex(a).info, L.cholesky_ex(a).info, L.solve_ex(a, rustdl.ones(2, 2, dtype=rustdl.float64)).info,
                 L.lu_factor_ex(a).info, L.inv_ex(a[:1]).info, L.cholesky_ex(a[:1]).info):  # fmt: skip
        assert info.dtype == rustdl.int32
    assert L.inv_ex(a).info.tolist()[0] == 0 and L.inv_ex(a).info.tolist()[1] > 0
    r = L.inv_ex(a[:1])
    assert r.inverse is r[0] and r.info is r[1]
    assert L.cholesky_ex(a[:1]).L.shape == (1, 2, 2) and L.solve_ex(
        a[:1], rustdl.ones(1, 2, dtype=rustdl.float64)
    ).result.shape == (1, 2)


def test_old_svd_has_named_fields():
    a = rustdl.tensor([[2.0, 1.0], [1.0, 3.0], [0.5, -1.0]], dtype=rustdl.float64)
    r = rustdl.svd(a)
    u, s, v = r
    assert r.U is u and r.S is s and r.V is v
    np.testing.assert_allclose((r.U * r.S) @ r.V.T, a.numpy(), atol=1e-12)
