"""Hostile and edge inputs found by differential fuzzing against PyTorch: empty views at an offset,
norms with negative orders, quantiles of infinities, shifts and truncating division in the
promoted dtype, contiguous views that stay views, and 0-d inputs of shape functions. Expected
values are closed-form or numpy's."""

import math

import numpy as np
import pytest
import rustdl

INF = math.inf


def test_empty_view_at_an_offset_reads_and_reduces():
    # a zero-element view whose storage offset lies past its storage's end (diagonal of an
    # empty tensor, as_strided at offset 2 of nothing) reads as empty on every path
    a = rustdl.zeros(2, 3, 4, 0)
    v = rustdl.diagonal(a, 2, -2, -3)
    assert tuple(v.shape) == (2, 0, 1)
    assert v.tolist() == [[], []]
    assert v.sum().item() == 0.0
    assert tuple(v.clone().shape) == (2, 0, 1)
    assert v.numpy().shape == (2, 0, 1)
    w = rustdl.zeros(0, 3).as_strided((0,), (3,), 2)
    assert w.tolist() == []
    assert w.exp().tolist() == []
    assert w.cumsum(0).tolist() == []
    w.add_(1)
    w.fill_(2)
    assert w.sort().values.tolist() == []


def test_vector_norm_negative_orders_count_zeros():
    x = rustdl.tensor([3.0, 0.0, 2.0])
    # sum |x|^p over p < 0 is inf with a zero in it, so the norm is 0
    for p in (-1, -2, -0.5):
        assert rustdl.linalg.vector_norm(x, ord=p).item() == 0.0
    y = np.array([3.0, 1.0, 2.0])
    got = rustdl.linalg.vector_norm(rustdl.tensor(y.astype(np.float32)), ord=-0.5).item()
    assert got == pytest.approx(np.sum(y**-0.5) ** -2, rel=1e-6)
    with pytest.raises(RuntimeError):
        rustdl.linalg.vector_norm(rustdl.zeros(0), ord=-1)
    # dim=() reduces over every dim
    got = rustdl.linalg.vector_norm(rustdl.tensor([1.0, 2.0]), ord=3, dim=()).item()
    assert got == pytest.approx(9 ** (1 / 3), rel=1e-6)


def test_matrix_norms_of_empty_matrices():
    for shape in [(0, 3), (3, 0), (0, 0)]:
        for p in ("fro", "nuc", 2, 1, INF):
            assert rustdl.linalg.matrix_norm(rustdl.zeros(*shape), ord=p).item() == 0.0
        with pytest.raises(IndexError):
            rustdl.linalg.matrix_norm(rustdl.zeros(*shape), ord=-2)
    out = rustdl.linalg.matrix_norm(rustdl.zeros(2, 0, 0), ord=1)
    assert out.tolist() == [0.0, 0.0]


def test_std_of_large_float32_values_is_finite():
    x = rustdl.tensor([1.1, 1e30])
    want = np.std(np.array([1.1, 1e30]), ddof=1)
    assert rustdl.std(x).item() == pytest.approx(want, rel=1e-6)
    s, m = rustdl.std_mean(x.reshape(1, 2), dim=1)
    assert s.item() == pytest.approx(want, rel=1e-6)
    assert s.dtype == rustdl.float32
    # the gradient still flows through the widened computation
    y = rustdl.tensor([1.0, 2.0, 4.0], requires_grad=True)
    rustdl.std(y).backward()
    v = np.array([1.0, 2.0, 4.0])
    want_g = (v - v.mean()) / ((len(v) - 1) * np.std(v, ddof=1))
    np.testing.assert_allclose(y.grad.numpy(), want_g, rtol=1e-5)
    assert y.grad.dtype == rustdl.float32
    # no element: NaN whatever the correction
    assert math.isnan(rustdl.std(rustdl.zeros(0), correction=-1).item())


def test_quantile_with_infinities_follows_lerp_from_the_nearer_end():
    q = rustdl.quantile
    assert q(rustdl.tensor([INF, -2.47]), 1.0, interpolation="lower").item() == INF
    assert q(rustdl.tensor([-INF, 1.0]), 0.0, interpolation="higher").item() == -INF
    # 30 %: position 0.9 between -inf and -2, taken from the -2 end: -2 - inf * 0.1
    assert q(rustdl.tensor([-INF, -2.0, 1.0, 3.5]), 0.3).item() == -INF
    out = q(rustdl.tensor([-INF, -2.0, 1.0, INF]), rustdl.tensor([0.0, 0.3, 0.5, 1.0])).tolist()
    assert math.isnan(out[0]) and out[1] == -INF and out[2] == -0.5 and math.isnan(out[3])
    # the midpoint of -2 and inf is inf - inf / 2: NaN
    assert math.isnan(rustdl.nanquantile(rustdl.tensor([INF, -2.0]), 0.5).item())
    empty_q = q(rustdl.tensor([1.0, 2.0]), rustdl.tensor([]))
    assert tuple(empty_q.shape) == (0,)
    assert tuple(q(rustdl.tensor(7.0), 1.0, dim=-1, keepdim=True).shape) == ()


def test_contiguous_of_a_contiguous_view_is_the_view():
    a = rustdl.arange(4.0)
    v = a[1:3]
    c = v.contiguous()
    assert c is v
    c.fill_(-7)
    assert a.tolist() == [0.0, -7.0, -7.0, 3.0]
    t = a.reshape(2, 2).t()
    assert t.contiguous() is not t
    assert t.contiguous().tolist() == [[0.0, -7.0], [-7.0, 3.0]]


def test_shifts_and_trunc_division_work_in_the_promoted_dtype():
    # uint8 255 beside an int8 tensor is int8 -1; -1 >> 3 is -1
    r = rustdl.tensor(255, dtype=rustdl.uint8) >> rustdl.tensor([3], dtype=rustdl.int8)
    assert r.dtype == rustdl.int8 and r.tolist() == [-1]
    # a 0-d int64 258 beside int8 is int8 2
    r = rustdl.tensor([4, 5], dtype=rustdl.int8) >> rustdl.tensor(258)
    assert r.tolist() == [1, 1]
    # a shift by the width or more: 0 (left), the sign fill (right)
    assert (rustdl.tensor([1, -8], dtype=rustdl.int8) << 8).tolist() == [0, 0]
    assert (rustdl.tensor([1, -8], dtype=rustdl.int8) >> 9).tolist() == [0, -1]
    # -2 as uint8 is 254: 4 // 254 == 0
    r = rustdl.div(rustdl.tensor([4, 5, 9, 8], dtype=rustdl.uint8), rustdl.tensor(-2), rounding_mode="trunc")
    assert r.dtype == rustdl.uint8 and r.tolist() == [0, 0, 0, 0]
    x = rustdl.tensor([1, 7], dtype=rustdl.uint8)
    x.bitwise_left_shift_(rustdl.tensor(-(2**31), dtype=rustdl.int32))  # 0 in uint8
    assert x.tolist() == [1, 7]


def test_dtype_keeping_reductions_and_widening():
    r = rustdl.nansum(rustdl.tensor([1.5, float("nan"), 2.5]), dtype=rustdl.int16)
    assert r.dtype == rustdl.int16 and r.item() == 3  # cast first: 1 + 2
    assert rustdl.nansum(rustdl.tensor([1, 2], dtype=rustdl.int8), dtype=rustdl.int16).dtype == rustdl.int16
    v = rustdl.vander(rustdl.tensor([20, 30], dtype=rustdl.uint8), N=3)
    assert v.dtype == rustdl.int64 and v.tolist() == [[400, 20, 1], [900, 30, 1]]


def test_ldexp_keeps_infinities_and_avoids_an_infinite_power():
    r = rustdl.ldexp(
        rustdl.tensor([-INF, INF, 3.0, 1e-30]),
        rustdl.tensor([-2147483647, -2000, -2000, 200], dtype=rustdl.int32),
    ).tolist()
    assert r[:3] == [-INF, INF, 0.0]
    assert r[3] == pytest.approx(math.ldexp(1e-30, 200), rel=1e-6)


def test_zero_dim_shape_functions():
    assert tuple(rustdl.tensor(3.0, dtype=rustdl.float64).view(rustdl.int64).shape) == ()
    assert tuple(rustdl.tensor(False).unfold(0, 0, 1).shape) == (0,)
    assert rustdl.tensor(5.0).unfold(0, 1, 1).tolist() == [5.0]
    assert rustdl.tensordot(rustdl.tensor(2.0), rustdl.tensor(3.0), dims=0).item() == 6.0
    with pytest.raises(IndexError):
        rustdl.tensordot(rustdl.tensor(2.0), rustdl.tensor(3.0), dims=([0], [0]))
    with pytest.raises(IndexError):
        rustdl.tensor(7).unflatten(0, (1, 1))
    x = rustdl.tensor(7, dtype=rustdl.uint8)
    x.index_copy_(0, rustdl.tensor([0]), rustdl.tensor(2, dtype=rustdl.uint8))
    assert x.item() == 2
    with pytest.raises(TypeError):
        rustdl.zeros(3).index_copy_(0, rustdl.tensor([0]), rustdl.ones(1, dtype=rustdl.float64))
    with pytest.raises(RuntimeError):
        rustdl.dsplit(rustdl.ones(2, 2, 2), 0)


def test_diff_of_order_zero_ignores_prepend():
    assert rustdl.diff(rustdl.tensor([1.0, 2.0]), n=0, prepend=rustdl.tensor([5.0])).tolist() == [1.0, 2.0]


def test_out_of_place_masked_ops_broadcast_self():
    r = rustdl.tensor([1.0]).masked_fill(rustdl.tensor([[True], [False]]), 0.0)
    assert r.tolist() == [[0.0], [1.0]]
    with pytest.raises(ValueError):
        rustdl.tensor([1.0]).masked_fill_(rustdl.tensor([[True], [False]]), 0.0)
    r = rustdl.tensor(2.0).masked_scatter(rustdl.tensor([True]), rustdl.tensor([5.0, 6.0]))
    assert r.tolist() == [5.0]


def test_scatter_reduce_refuses_negative_indices():
    with pytest.raises(IndexError):
        rustdl.scatter_reduce(rustdl.tensor([1.0, 2, 3]), 0, rustdl.tensor([-1]), rustdl.tensor([9.0]), "sum")


def test_combinations_slices_and_int_devices():
    assert tuple(rustdl.combinations(rustdl.zeros(0), r=0, with_replacement=True).shape) == (0,)
    assert rustdl.ones(3)[10**30 :].tolist() == []
    assert rustdl.arange(4.0)[-(10**30) : 10**30 : 2].tolist() == [0.0, 2.0]
    # an int device is that accelerator's index, as "cuda:N"
    try:
        want = str(rustdl.ones(2).to("cuda:0").device)
    except RuntimeError:  # no adapter: the int form fails the same way
        with pytest.raises(RuntimeError):
            rustdl.ones(2).to(0)
        return
    assert str(rustdl.ones(2).to(0).device) == want
    assert str(rustdl.nn.Linear(2, 2).to(0).weight.device) == want
    assert str(rustdl.ones(2, device=0).device) == want


def test_float_remainders_are_exact_on_every_device(device):
    # 1 / 0.1 rounds up to 10, so x - y·trunc(x / y) gave 0 (or a tiny negative) where the exact
    # remainder is 0.0999...; math.fmod is exact (C's fmod)
    xs = [1.0, 3.5, 7.0, -1.0, 5.0, 1e30, 2.5, 100.0, -7.25]
    ys = [0.1, -0.7, 0.7, 0.1, INF, 7.0, -1e-30, 0.3, 1.5]
    xf = np.array(xs, dtype=np.float32)
    yf = np.array(ys, dtype=np.float32)
    a, b = rustdl.tensor(xf, device=device), rustdl.tensor(yf, device=device)
    want = np.array([math.fmod(float(x), float(y)) for x, y in zip(xf, yf)], dtype=np.float32)
    np.testing.assert_array_equal(rustdl.fmod(a, b).cpu().numpy(), want)
    rem = np.where((want != 0) & ((want < 0) != (yf < 0)), want + yf, want).astype(np.float32)
    np.testing.assert_array_equal(rustdl.remainder(a, b).cpu().numpy(), rem)
    # floor division from the exact remainder, as Python's: 1 // 0.1 is 9, 3.5 // -0.7 is -6
    got = (a // b).cpu().numpy()
    assert got[:4].tolist() == [float(x // y) for x, y in zip(xf[:4].tolist(), yf[:4].tolist())]
    assert got[:4].tolist() == [9.0, -6.0, 10.0, -10.0]
    # a zero quotient takes the sign of x / y
    q = rustdl.div(
        rustdl.tensor([-0.5, -0.0], device=device),
        rustdl.tensor([-0.7, 0.3], device=device),
        rounding_mode="floor",
    )
    assert [math.copysign(1, v) for v in q.cpu().tolist()] == [1.0, -1.0]


def test_sinh_and_cosh_near_zero_and_near_overflow(device):
    x = np.array([1e-8, 1e-6, 1e-2, 0.7, 1.0, 3.0, 80.0, -80.0, -2.0], dtype=np.float32)
    t = rustdl.tensor(x, device=device, requires_grad=True)
    s, c = rustdl.sinh(t), rustdl.cosh(t)
    np.testing.assert_allclose(s.detach().cpu().numpy(), np.sinh(x.astype(np.float64)), rtol=2e-5)
    np.testing.assert_allclose(c.detach().cpu().numpy(), np.cosh(x.astype(np.float64)), rtol=2e-5)
    assert math.isfinite(rustdl.sinh(rustdl.tensor([88.8], device=device)).item())  # 1.84e38
    assert math.copysign(1, rustdl.sinh(rustdl.tensor([-0.0], device=device)).item()) == -1.0
    (s.sum() + c.sum()).backward()
    # cosh + sinh: at -80 two values of 5.5e34 cancel, so the error is relative to cosh
    x64 = x.astype(np.float64)
    err = np.abs(t.grad.cpu().numpy() - (np.cosh(x64) + np.sinh(x64)))
    assert (err <= 2e-5 * np.cosh(x64)).all(), err


def test_sinh_double_backward_in_float64():
    z = rustdl.tensor([0.3, -2.0, 1.0], dtype=rustdl.float64, requires_grad=True)
    (g,) = rustdl.autograd.grad(rustdl.sinh(z).sum(), z, create_graph=True)
    (h,) = rustdl.autograd.grad(g.sum(), z)
    np.testing.assert_allclose(g.detach().numpy(), np.cosh([0.3, -2.0, 1.0]), rtol=1e-12)
    np.testing.assert_allclose(h.numpy(), np.sinh([0.3, -2.0, 1.0]), rtol=1e-12)


def test_asgd_runs_on_every_device(device):
    p = rustdl.nn.Parameter(rustdl.ones(3, device=device))
    opt = rustdl.optim.ASGD([p], lr=0.05)
    p.grad = rustdl.full((3,), 0.5, device=device)
    opt.step()
    # p·(1 - lambd·eta) - eta·g with eta = 0.05 as float32
    eta = float(np.float32(0.05))
    np.testing.assert_allclose(p.detach().cpu().numpy(), [(1 - 1e-4 * eta) - eta * 0.5] * 3, rtol=1e-6)
    assert opt.state[p]["eta"].dtype == rustdl.float32


def test_lazy_modules_fill_their_placeholders_in_place():
    # an optimizer made before the first forward holds the parameters that train
    rustdl.manual_seed(0)
    net = rustdl.nn.Sequential(
        rustdl.nn.LazyConv2d(4, 3), rustdl.nn.LazyBatchNorm2d(), rustdl.nn.Flatten(), rustdl.nn.LazyLinear(3)
    )
    before = list(net.parameters())
    opt = rustdl.optim.SGD(net.parameters(), lr=0.1)
    x = rustdl.randn(2, 3, 6, 6)
    first = net(x).square().mean()
    after = list(net.parameters())
    assert len(before) == len(after) and all(p is q for p, q in zip(before, after))
    assert type(after[0]) is rustdl.nn.Parameter and tuple(after[0].shape) == (4, 3, 3, 3)
    w0 = net[3].weight.detach().clone()
    first.backward()
    opt.step()
    assert not np.allclose(net[3].weight.detach().numpy(), w0.numpy())


def test_affine_grid_sums_in_order_and_normalize_takes_scalars():
    # x·t0 + y·t1 + t2 left to right in float32 (a fused product rounds differently)
    th = rustdl.tensor([[[0.9, 0.2, 0.1], [-0.1, 1.1, -0.2]]])
    g = rustdl.nn.functional.affine_grid(th, (1, 1, 4, 7), align_corners=True)
    f = np.float32
    xs, ys = rustdl.linspace(-1, 1, 7).numpy(), rustdl.linspace(-1, 1, 4).numpy()
    want = (xs[None, :] * f(0.9) + ys[:, None] * f(0.2)) + f(0.1)
    np.testing.assert_array_equal(g[0, :, :, 0].numpy(), want.astype(np.float32))
    from rustdl.torchcompat.torchvision import transforms

    out = transforms.Normalize(0.5, 0.5)(rustdl.arange(8.0).reshape(2, 2, 2))
    np.testing.assert_array_equal(out.numpy(), (np.arange(8.0).reshape(2, 2, 2) - 0.5) / 0.5)


def test_type_as_takes_the_other_tensors_device(gpu):
    a, g = rustdl.tensor([1, 2]), rustdl.ones(2, device=gpu)
    moved = a.type_as(g)
    assert moved.device == g.device and moved.dtype == rustdl.float32
    back = g.type_as(a)
    assert back.device == a.device and back.dtype == rustdl.int64 and back.tolist() == [1, 1]


def test_transposed_convolution_node_is_named_as_pytorchs():
    t = rustdl.nn.ConvTranspose2d(1, 1, 2, bias=False)
    assert t(rustdl.ones(1, 1, 2, 2)).grad_fn.name() == "ConvolutionBackward0"


def test_tensor_attributes_survive_deepcopy_and_pickle():
    import copy
    import pickle

    t = rustdl.ones(2)
    t.tag = {"a": [1]}
    c = copy.deepcopy(t)
    assert c.tag == {"a": [1]} and c.tag is not t.tag
    u = pickle.loads(pickle.dumps(t))
    assert u.tag == {"a": [1]} and u.tolist() == [1.0, 1.0]
    assert not hasattr(pickle.loads(pickle.dumps(rustdl.ones(1))), "tag")


def test_empty_batches_do_no_work_of_the_spatial_size():
    # pooling, unfold, reflect padding and one_hot of tensors with no element build nothing of
    # the (huge) other sizes: 2**33 floats would be 32 GiB
    F = rustdl.nn.functional
    x = rustdl.zeros(0, 1, 2**33, requires_grad=True)
    y = F.max_pool1d(x, 2)
    y.sum().backward()
    assert tuple(y.shape) == (0, 1, 2**32) and tuple(x.grad.shape) == (0, 1, 2**33)
    assert tuple(F.avg_pool1d(rustdl.zeros(0, 1, 2**62), 2).shape) == (0, 1, 2**61)
    u = rustdl.zeros(0, 1, 2**31, 3, requires_grad=True)
    cols = F.unfold(u, 2)
    cols.sum().backward()
    assert tuple(cols.shape) == (0, 4, (2**31 - 1) * 2) and tuple(u.grad.shape) == (0, 1, 2**31, 3)
    p = F.pad(rustdl.zeros(0, 1, 10**9), (1, 2), mode="reflect")
    assert tuple(p.shape) == (0, 1, 10**9 + 3)
    with pytest.raises(ValueError):  # the padding is still checked: reflect needs pad < size
        F.pad(rustdl.zeros(0, 1, 3), (3, 3), mode="reflect")
    oh = F.one_hot(rustdl.zeros(0, dtype=rustdl.int64), num_classes=2**31)
    assert tuple(oh.shape) == (0, 2**31) and oh.dtype == rustdl.int64


def test_a_scalar_index_counts_as_one_dim_beside_a_vector(device):
    z = rustdl.zeros(5, device=device)
    assert z.clone().scatter_(0, rustdl.tensor(3, device=device), value=1).tolist() == [0, 0, 0, 1, 0]
    out = z.scatter_add(0, rustdl.tensor(2, device=device), rustdl.tensor(7.0, device=device))
    assert out.tolist() == [0, 0, 7, 0, 0]
    g = rustdl.arange(5.0, device=device).gather(0, rustdl.tensor(2, device=device))
    assert tuple(g.shape) == () and g.item() == 2.0
    with pytest.raises(RuntimeError):
        rustdl.zeros(2, 3).scatter_(0, rustdl.tensor(1), value=1)


def test_affine_grid_without_align_corners_scales_as_pytorch():
    # linspace(-1, 1, W) times (W - 1), then divided by W: the identity grid lands on pixel
    # centres exactly where PyTorch's does
    th = rustdl.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    g = rustdl.nn.functional.affine_grid(th, (1, 1, 28, 28), align_corners=False)
    line = rustdl.linspace(-1, 1, 28).numpy()
    want = (line * np.float32(27)) / np.float32(28)
    np.testing.assert_array_equal(g[0, 0, :, 0].numpy(), want.astype(np.float32))


def test_three_d_and_fractional_pools_take_an_empty_batch():
    nn = rustdl.nn
    for m, x in [
        (nn.MaxPool3d(2, return_indices=True), rustdl.zeros(0, 2, 4, 4, 4, requires_grad=True)),
        (nn.AvgPool3d(2, ceil_mode=True), rustdl.zeros(0, 2, 4, 4, 4, requires_grad=True)),
        (nn.FractionalMaxPool2d(2, output_size=2), rustdl.zeros(0, 2, 4, 4, requires_grad=True)),
    ]:
        out = m(x)
        out = out[0] if isinstance(out, tuple) else out
        out.sum().backward()
        assert tuple(out.shape) == (0, 2) + (2,) * (x.dim() - 2)
        assert tuple(x.grad.shape) == tuple(x.shape)


def test_instance_norm_of_an_empty_spatial_size_is_empty():
    for shape in [(3, 2, 0), (3, 2, 0, 4)]:
        x = rustdl.zeros(*shape, requires_grad=True)
        m = rustdl.nn.InstanceNorm1d(2) if len(shape) == 3 else rustdl.nn.InstanceNorm2d(2)
        out = m(x)
        out.sum().backward()
        assert tuple(out.shape) == shape and tuple(x.grad.shape) == shape
    with pytest.raises(ValueError):  # one spatial element still has no variance to normalise by
        rustdl.nn.InstanceNorm1d(2)(rustdl.zeros(3, 2, 1))
