"""PyTorch-compatibility gaps (round I): Variable as a detached leaf, float64 creation helpers
under a GPU default device, autocast state queries, Tensor.is_inference, grid_sample's nearest
grid gradient, bit shifts.

Expected values come from numpy, closed-form math or hand computation, never from rustdl.
"""

import math
import threading

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from conftest import need_gpu
from rustdl import nn
from rustdl.torchcompat.torchvision import ops as tv_ops  # the shim's box ops (no finder needed)


def t(a, **kw):
    a = np.asarray(a)
    return rustdl.tensor(a.astype(np.float32) if a.dtype == np.float64 else a, **kw)


# ---------------------------------------------------------------- 1. Variable


def test_variable_is_a_new_detached_leaf_sharing_storage():
    x = rustdl.ones(3)
    v = rustdl.autograd.Variable(x, requires_grad=True)
    assert v is not x
    assert not x.requires_grad  # PyTorch leaves the wrapped tensor alone
    assert v.requires_grad and v.is_leaf and v.grad_fn is None
    # same storage, as PyTorch's Variable (data.detach())
    with rustdl.no_grad():
        x.mul_(2.0)
    np.testing.assert_array_equal(v.detach().numpy(), [2.0, 2.0, 2.0])
    plain = rustdl.autograd.Variable(x)
    assert plain is not x and not plain.requires_grad


def test_variable_of_a_parameter_does_not_send_gradients_into_it():
    p = nn.Parameter(t([1.0, 2.0]))
    w = rustdl.autograd.Variable(p)
    assert not w.requires_grad and w.grad_fn is None
    y = rustdl.autograd.Variable(p, requires_grad=True)
    (y * 3.0).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [3.0, 3.0])
    assert p.grad is None
    # a non-leaf becomes a leaf: no graph back to its inputs
    a = t([1.0, 2.0]).requires_grad_()
    b = rustdl.autograd.Variable(a * 2, requires_grad=True)
    assert b.is_leaf and b.grad_fn is None
    (b * b).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [4.0, 8.0])
    assert a.grad is None
    with pytest.raises(TypeError):
        rustdl.autograd.Variable([1.0, 2.0])


# ---------------------------------------------------------------- 2. float64 intermediates on GPU


@pytest.fixture
def gpu_default():
    need_gpu()
    rustdl.set_default_device("gpu")
    try:
        yield
    finally:
        rustdl.set_default_device(None)


def test_logspace_and_range_under_a_gpu_default_device(gpu_default):
    out = rustdl.logspace(0, 2, 3)
    assert out.device.type == "gpu" and out.dtype == rustdl.float32
    np.testing.assert_allclose(out.cpu().numpy(), [1.0, 10.0, 100.0], rtol=1e-6)
    b2 = rustdl.logspace(-1, 3, 5, base=2.0)
    np.testing.assert_allclose(b2.cpu().numpy(), [0.5, 1.0, 2.0, 4.0, 8.0], rtol=1e-6)
    cpu = rustdl.logspace(0, 3, 4, device="cpu")
    assert cpu.device.type == "cpu"
    np.testing.assert_allclose(cpu.numpy(), 10.0 ** np.arange(4.0), rtol=1e-6)
    as_int = rustdl.logspace(0, 3, 4, base=2, dtype=rustdl.int64)
    assert as_int.device.type == "gpu" and as_int.cpu().tolist() == [1, 2, 4, 8]
    r = rustdl.range(0, 1, 0.25)
    assert r.device.type == "gpu"
    np.testing.assert_allclose(r.cpu().numpy(), [0.0, 0.25, 0.5, 0.75, 1.0])
    g = rustdl.logspace(0, 1, 2, requires_grad=True)
    assert g.requires_grad and g.is_leaf


def test_logspace_default_and_explicit_device_on_cpu_default():
    out = rustdl.logspace(1, 2, 2)
    assert out.device.type == "cpu"
    np.testing.assert_allclose(out.numpy(), [10.0, 100.0], rtol=1e-6)
    # float64 stays exact on the CPU: 10 ** linspace(0, 1, 11)
    d = rustdl.logspace(0, 1, 11, dtype=rustdl.float64)
    np.testing.assert_allclose(d.numpy(), np.logspace(0, 1, 11), rtol=1e-14)


def test_logspace_to_an_explicit_gpu_device():
    need_gpu()
    out = rustdl.logspace(0, 2, 3, device="gpu")
    assert out.device.type == "gpu"
    np.testing.assert_allclose(out.cpu().numpy(), [1.0, 10.0, 100.0], rtol=1e-6)


# ---------------------------------------------------------------- 3. autocast state


def test_autocast_state_defaults():
    assert rustdl.is_autocast_enabled() is False
    assert rustdl.is_autocast_enabled("cpu") is False
    assert rustdl.is_autocast_enabled("cuda") is False
    assert rustdl.is_autocast_cpu_enabled() is False
    # PyTorch's defaults (a tensor converted to either is float32 in rustdl: no 16-bit storage)
    assert rustdl.get_autocast_dtype("cuda") == rustdl.float16
    assert rustdl.get_autocast_dtype("cpu") == rustdl.bfloat16
    assert rustdl.get_autocast_gpu_dtype() == rustdl.float16
    assert rustdl.get_autocast_cpu_dtype() == rustdl.bfloat16
    assert rustdl.is_autocast_cache_enabled() is True
    with pytest.raises(RuntimeError):
        rustdl.is_autocast_enabled("foo")
    with pytest.raises(RuntimeError):
        rustdl.get_autocast_dtype("foo")
    with pytest.raises(RuntimeError):
        rustdl.amp.is_autocast_available("foo")
    assert rustdl.amp.is_autocast_available("cuda")


def test_autocast_regions_set_and_restore_the_flags():
    with rustdl.autocast("cpu"):
        assert rustdl.is_autocast_enabled("cpu") and rustdl.is_autocast_cpu_enabled()
        assert not rustdl.is_autocast_enabled()  # the no-argument form asks about cuda
        with rustdl.autocast("cpu", enabled=False):
            assert not rustdl.is_autocast_enabled("cpu")
        assert rustdl.is_autocast_enabled("cpu")
        with rustdl.autocast("cuda", dtype="marker", cache_enabled=False):
            assert rustdl.is_autocast_enabled() and rustdl.is_autocast_enabled("cuda")
            assert rustdl.get_autocast_dtype("cuda") == "marker"
            assert rustdl.is_autocast_cache_enabled() is False
        assert rustdl.get_autocast_dtype("cuda") == rustdl.float16
        assert rustdl.is_autocast_cache_enabled() is True
        assert not rustdl.is_autocast_enabled("cuda")
    assert not rustdl.is_autocast_enabled("cpu")
    # the GPU is "cuda" to autocast
    with rustdl.autocast("gpu"):
        assert rustdl.is_autocast_enabled("cuda")
    # an exception inside still restores
    with pytest.raises(ValueError):
        with rustdl.autocast("cuda"):
            raise ValueError("boom")
    assert not rustdl.is_autocast_enabled("cuda")


def test_autocast_decorator_and_setters():
    @rustdl.autocast("cuda")
    def inside():
        return rustdl.is_autocast_enabled("cuda")

    assert inside() and inside()
    assert not rustdl.is_autocast_enabled("cuda")
    rustdl.set_autocast_enabled("cpu", True)
    try:
        assert rustdl.is_autocast_enabled("cpu")
    finally:
        rustdl.set_autocast_enabled("cpu", False)
    assert not rustdl.is_autocast_enabled("cpu")
    rustdl.set_autocast_enabled(True)  # the legacy one-argument form is cuda
    try:
        assert rustdl.is_autocast_enabled()
    finally:
        rustdl.set_autocast_enabled(False)
    rustdl.set_autocast_cpu_enabled(True)
    assert rustdl.is_autocast_enabled("cpu")
    rustdl.set_autocast_cpu_enabled(False)
    rustdl.set_autocast_dtype("cpu", rustdl.float64)
    try:
        assert rustdl.get_autocast_dtype("cpu") == rustdl.float64
    finally:
        rustdl.set_autocast_dtype("cpu", rustdl.bfloat16)
    # computation still in float32 inside a region
    with rustdl.autocast("cpu"):
        y = rustdl.ones(2, 2) @ rustdl.ones(2, 2)
    assert y.dtype == rustdl.float32
    np.testing.assert_array_equal(y.numpy(), np.full((2, 2), 2.0))


def test_autocast_flags_are_per_thread():
    seen = []
    with rustdl.autocast("cuda"):
        th = threading.Thread(target=lambda: seen.append(rustdl.is_autocast_enabled("cuda")))
        th.start()
        th.join()
        assert rustdl.is_autocast_enabled("cuda")
    assert seen == [False]


# ---------------------------------------------------------------- 4. is_inference


def test_is_inference_is_false_for_rustdl_tensors():
    # rustdl has no inference tensors: inference_mode only stops gradient recording, and a
    # tensor made inside it is an ordinary tensor that later autograd may use
    assert rustdl.ones(2).is_inference() is False
    with rustdl.inference_mode():
        made = rustdl.ones(2) * 2
        assert rustdl.is_inference_mode_enabled()
    assert made.is_inference() is False
    w = rustdl.ones(2, requires_grad=True)
    (w * made).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0])


# ---------------------------------------------------------------- 5. grid_sample nearest


@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_nearest_gives_grid_a_zero_gradient(device, align):
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    ga = rng.uniform(-0.9, 0.9, (2, 3, 2, 2)).astype(np.float32)
    x = t(xa, device=device).requires_grad_()
    g = t(ga, device=device).requires_grad_()
    out = F.grid_sample(x, g, mode="nearest", align_corners=align)
    # the nearest pixel by hand
    h, w = 4, 5

    def unnorm(v, size):
        return (v + 1) / 2 * (size - 1) if align else ((v + 1) * size - 1) / 2

    ix = np.rint(unnorm(ga[..., 0], w)).astype(int)
    iy = np.rint(unnorm(ga[..., 1], h)).astype(int)
    want = np.stack([xa[b][:, iy[b], ix[b]] for b in range(2)])
    np.testing.assert_array_equal(out.detach().cpu().numpy(), want)
    out.sum().backward()
    assert g.grad is not None
    assert tuple(g.grad.shape) == ga.shape
    np.testing.assert_array_equal(g.grad.cpu().numpy(), np.zeros_like(ga))
    # input's gradient: how often each pixel was picked
    counts = np.zeros_like(xa)
    for b in range(2):
        np.add.at(counts[b], (slice(None), iy[b], ix[b]), 1.0)
    np.testing.assert_array_equal(x.grad.cpu().numpy(), counts)


# ---------------------------------------------------------------- 8. bit shifts


def _np_shift(a, n, left):
    a, n = np.broadcast_arrays(np.asarray(a, np.int64), np.asarray(n, np.int64))
    out = np.empty(a.shape, np.int64)
    for i, (x, s) in enumerate(zip(a.ravel(), n.ravel())):
        x, s = int(x), int(s)
        if left:
            v = (x << s) % (1 << 64) if 0 <= s < 64 else 0
            out.ravel()[i] = v - (1 << 64) if v >= 1 << 63 else v
        else:
            out.ravel()[i] = x >> s if 0 <= s < 64 else (-1 if x < 0 else 0)
    return out


SHIFT_VALUES = [1, -7, 5, 2**62, -(2**63), 0, 12345]


@pytest.mark.parametrize("n", [0, 1, 3, 62, 63, 64, 65, -1, -64])
def test_shift_by_a_python_int(n):
    x = t(np.array(SHIFT_VALUES, np.int64))
    np.testing.assert_array_equal((x << n).numpy(), _np_shift(SHIFT_VALUES, n, True))
    np.testing.assert_array_equal((x >> n).numpy(), _np_shift(SHIFT_VALUES, n, False))
    assert (x << n).dtype == rustdl.int64


@pytest.mark.parametrize("n", [0, 2, 9, 64, -1])
def test_shift_on_the_gpu_keeps_the_device(n):
    need_gpu()
    vals = [1, -7, 5, -(2**20), 0, 1234]  # the GPU's int64 holds 32-bit values
    x = t(np.array(vals, np.int64), device="gpu")
    left, right = x << n, x >> n
    assert left.device.type == "gpu" and right.device.type == "gpu"
    np.testing.assert_array_equal(left.cpu().numpy(), _np_shift(vals, n, True))
    np.testing.assert_array_equal(right.cpu().numpy(), _np_shift(vals, n, False))


def test_shift_tensor_operands_functional_and_reflected(device):
    a = t(np.array([[1, -8, 3]], np.int64), device=device)
    s = t(np.array([[0], [1], [4]], np.int64), device=device)
    np.testing.assert_array_equal(
        rustdl.bitwise_left_shift(a, s).cpu().numpy(), _np_shift([[1, -8, 3]], s.cpu().numpy(), True)
    )
    np.testing.assert_array_equal(
        a.bitwise_right_shift(s).cpu().numpy(), _np_shift([[1, -8, 3]], s.cpu().numpy(), False)
    )
    k = t(np.array([1, 2], np.int64), device=device)
    assert (3 << k).cpu().tolist() == [6, 12]
    assert (1024 >> k).cpu().tolist() == [512, 256]
    assert rustdl.bitwise_left_shift(3, k).cpu().tolist() == [6, 12]
    assert (t(np.array(5, np.int64)) << t(np.array([1, 2], np.int64))).tolist() == [10, 20]
    # bool promotes to int64
    b = rustdl.tensor([True, False]) << 1
    assert b.dtype == rustdl.int64 and b.tolist() == [2, 0]


def test_shift_in_place(device):
    y = t(np.array([1, 2, -3], np.int64), device=device)
    same = y
    y <<= 2
    assert y is same and y.cpu().tolist() == [4, 8, -12]
    y >>= 3
    assert y is same and y.cpu().tolist() == [0, 1, -2]
    assert y.bitwise_left_shift_(1) is y and y.cpu().tolist() == [0, 2, -4]
    assert y.bitwise_right_shift_(1) is y and y.cpu().tolist() == [0, 1, -2]


def test_shift_rejects_floats_as_pytorch():
    with pytest.raises(NotImplementedError):
        rustdl.tensor([1.5]) << 1
    with pytest.raises(NotImplementedError):
        rustdl.tensor([1]) >> 1.5
    with pytest.raises(NotImplementedError):
        rustdl.tensor([1]) << rustdl.tensor([1.0])
    with pytest.raises(NotImplementedError):
        2.0 << rustdl.tensor([1])
    with pytest.raises(TypeError):
        rustdl.tensor([1]) << "a"


# ---------------------------------------------------------------- 6. backward pre hooks


def _linear_12():
    lin = nn.Linear(2, 1)
    with rustdl.no_grad():
        lin.weight.copy_(t([[1.0, 2.0]]))
        lin.bias.zero_()
    return lin


def test_full_backward_pre_hook_sees_and_replaces_grad_output():
    lin = _linear_12()
    seen = []

    def pre(module, grad_output):
        assert module is lin and isinstance(grad_output, tuple)
        seen.append(("pre", grad_output[0].tolist()))
        return (grad_output[0] * 10,)

    def full(module, grad_input, grad_output):
        seen.append(("full", grad_input[0].tolist(), grad_output[0].tolist()))

    handle = lin.register_full_backward_pre_hook(pre)
    lin.register_full_backward_hook(full)
    x = rustdl.ones(1, 2, requires_grad=True)
    lin(x).sum().backward()
    # d(sum)/d(out) = 1, scaled to 10; d out / d x = w = [1, 2]; d out / d w = x = [1, 1]
    assert seen == [("pre", [[1.0]]), ("full", [[10.0, 20.0]], [[10.0]])]
    np.testing.assert_array_equal(x.grad.numpy(), [[10.0, 20.0]])
    np.testing.assert_array_equal(lin.weight.grad.numpy(), [[10.0, 10.0]])
    np.testing.assert_array_equal(lin.bias.grad.numpy(), [10.0])
    handle.remove()
    seen.clear()
    x.grad = None
    lin(x).sum().backward()
    assert seen == [("full", [[1.0, 2.0]], [[1.0]])]
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 2.0]])


def test_full_backward_pre_hook_alone_with_an_input_that_needs_no_grad():
    lin = _linear_12()
    calls = []
    with lin.register_full_backward_pre_hook(lambda m, go: calls.append(go[0].tolist())):
        (lin(t([[3.0, 4.0]])) * 2).sum().backward()
    assert calls == [[[2.0]]]
    np.testing.assert_array_equal(lin.weight.grad.numpy(), [[6.0, 8.0]])
    # the with block removed it
    lin.zero_grad()
    lin(t([[3.0, 4.0]])).sum().backward()
    assert len(calls) == 1
    # prepend puts a hook first; hooks chain
    order = []
    lin.register_full_backward_pre_hook(lambda m, go: order.append("a") or (go[0] + 1,))
    lin.register_full_backward_pre_hook(lambda m, go: order.append("b") or (go[0] * 3,), prepend=True)
    lin.zero_grad()
    lin(t([[1.0, 1.0]])).sum().backward()
    assert order == ["b", "a"]
    np.testing.assert_array_equal(lin.bias.grad.numpy(), [4.0])  # (1 * 3) + 1


def test_full_backward_pre_hook_wrong_count_raises():
    lin = _linear_12()
    lin.register_full_backward_pre_hook(lambda m, go: (go[0], go[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_output"):
        lin(rustdl.ones(1, 2)).sum().backward()


# ---------------------------------------------------------------- 7. containers and Module helpers


def test_modulelist_add_returns_a_new_list_of_the_same_modules():
    l1, relu, tanh = nn.Linear(1, 1), nn.ReLU(), nn.Tanh()
    a, b = nn.ModuleList([l1]), nn.ModuleList([relu])
    c = a + b
    assert isinstance(c, nn.ModuleList) and c is not a and c is not b
    assert list(c) == [l1, relu] and c[0] is l1
    assert len(a) == 1 and len(b) == 1
    d = a + [tanh]
    assert list(d) == [l1, tanh]
    assert [n for n, _ in c.named_parameters()] == ["0.weight", "0.bias"]


def test_module_type_casts_parameters_and_buffers():
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    p = m[0].weight
    assert m.type(rustdl.float64) is m
    assert m[0].weight is p and p.dtype == rustdl.float64
    assert m[1].running_mean.dtype == rustdl.float64
    assert m[1].num_batches_tracked.dtype == rustdl.float64  # PyTorch casts every tensor
    m.type(rustdl.float32)
    assert p.dtype == rustdl.float32
    m.type("torch.DoubleTensor")
    assert p.dtype == rustdl.float64


def test_set_submodule():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    new = nn.Tanh()
    m.set_submodule("1.0", new)
    assert m[1][0] is new
    m.set_submodule("1.extra", nn.Identity())  # a new child of an existing parent
    assert isinstance(m[1].extra, nn.Identity)
    with pytest.raises(AttributeError):
        m.set_submodule("1.missing", nn.Identity(), strict=True)
    with pytest.raises(AttributeError):
        m.set_submodule("nope.x", nn.Identity())
    with pytest.raises(AttributeError):
        m.set_submodule("0.weight", nn.Identity())  # a parameter, not a module
    with pytest.raises(ValueError):
        m.set_submodule("", nn.Identity())
    with pytest.raises(ValueError):
        m.set_submodule("0", "not a module")
    x = t([[1.0, -2.0]])
    np.testing.assert_allclose(m(x).detach().numpy(), np.tanh(m[0](x).detach().numpy()), rtol=1e-6)


def test_to_empty_keeps_shapes_dtypes_and_parameter_objects(device):
    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    w = m[0].weight
    assert m.to_empty(device=device) is m
    assert m[0].weight is w and isinstance(w, nn.Parameter) and w.requires_grad
    assert tuple(w.shape) == (2, 3) and w.device.type == device
    assert m[1].running_var.device.type == device and tuple(m[1].running_var.shape) == (2,)
    assert m[1].num_batches_tracked.dtype == rustdl.int64
    # recurse=False: only the module's own tensors move
    outer = nn.Linear(1, 1)
    outer.inner = nn.Linear(1, 1)
    inner_w = outer.inner.weight.detach().clone()
    outer.to_empty(device="cpu", recurse=False)
    np.testing.assert_array_equal(outer.inner.weight.detach().numpy(), inner_w.numpy())


# ---------------------------------------------------------------- 9. nn.utils norms and fusion


def test_get_total_norm_matches_numpy():
    a = np.array([3.0, -4.0], np.float32)
    b = np.array([[-2.0, 1.0], [0.5, 0.0]], np.float32)
    flat = np.concatenate([a, b.ravel()])
    for p in (2.0, 1.0, 3.0, math.inf):
        got = nn.utils.get_total_norm([t(a), None, t(b)], norm_type=p)
        assert got.dim() == 0
        np.testing.assert_allclose(float(got), np.linalg.norm(flat, ord=p), rtol=1e-6)
    np.testing.assert_allclose(float(nn.utils.get_total_norm([t(a), t(b)], -math.inf)), 0.0)
    np.testing.assert_allclose(float(nn.utils.get_total_norm(t(a))), 5.0)
    assert float(nn.utils.get_total_norm([])) == 0.0
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.get_total_norm([t([1.0, np.inf])], error_if_nonfinite=True)
    assert math.isinf(float(nn.utils.get_total_norm([t([1.0, np.inf])], foreach=True)))


def test_clip_grads_with_norm_scales_by_max_over_total():
    p1 = nn.Parameter(t([0.0, 0.0]))
    p2 = nn.Parameter(t([0.0]))
    p3 = nn.Parameter(t([1.0]))  # no grad: skipped
    p1.grad, p2.grad = t([3.0, 4.0]), t([12.0])
    total = nn.utils.get_total_norm([p.grad for p in (p1, p2, p3) if p.grad is not None])
    np.testing.assert_allclose(float(total), 13.0, rtol=1e-6)
    assert nn.utils.clip_grads_with_norm_([p1, p2, p3], 1.0, total) is None
    coef = 1.0 / (13.0 + 1e-6)
    np.testing.assert_allclose(p1.grad.numpy(), [3.0 * coef, 4.0 * coef], rtol=1e-6)
    np.testing.assert_allclose(p2.grad.numpy(), [12.0 * coef], rtol=1e-6)
    assert p3.grad is None
    # below max_norm: unchanged (the coefficient is clamped at 1); a float total works too
    p1.grad = t([0.3, 0.4])
    nn.utils.clip_grads_with_norm_(p1, 10.0, 0.5, foreach=False)
    np.testing.assert_allclose(p1.grad.numpy(), [0.3, 0.4], rtol=1e-6)


def _np_conv2d(x, w, b):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    out = np.zeros((n, o, h - kh + 1, wd - kw + 1))
    for i in range(h - kh + 1):
        for j in range(wd - kw + 1):
            out[:, :, i, j] = np.einsum("nchw,ochw->no", x[:, :, i : i + kh, j : j + kw], w)
    return out + b.reshape(1, -1, 1, 1)


@pytest.mark.parametrize("bias", [True, False])
def test_fuse_conv_bn_eval_matches_conv_then_bn_by_hand(bias):
    rng = np.random.default_rng(1)
    conv = nn.Conv2d(2, 3, 3, bias=bias)
    bn = nn.BatchNorm2d(3, eps=1e-3)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    cb = rng.standard_normal(3).astype(np.float32) if bias else np.zeros(3, np.float32)
    rm, rv = rng.standard_normal(3).astype(np.float32), rng.uniform(0.5, 2, 3).astype(np.float32)
    gamma, beta = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    with rustdl.no_grad():
        conv.weight.copy_(t(w))
        if bias:
            conv.bias.copy_(t(cb))
        bn.running_mean.copy_(t(rm))
        bn.running_var.copy_(t(rv))
        bn.weight.copy_(t(gamma))
        bn.bias.copy_(t(beta))
    with pytest.raises(AssertionError):
        nn.utils.fuse_conv_bn_eval(conv, bn)  # training mode
    conv.eval()
    bn.eval()
    fused = nn.utils.fuse_conv_bn_eval(conv, bn)
    assert fused is not conv and isinstance(fused, nn.Conv2d)
    assert fused.weight.requires_grad and fused.bias.requires_grad == bias
    np.testing.assert_array_equal(conv.weight.detach().numpy(), w)  # the original is unchanged
    scale = gamma / np.sqrt(rv + 1e-3)
    np.testing.assert_allclose(fused.weight.detach().numpy(), w * scale[:, None, None, None], rtol=1e-5)
    np.testing.assert_allclose(fused.bias.detach().numpy(), (cb - rm) * scale + beta, rtol=1e-5, atol=1e-6)
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    want = (_np_conv2d(x, w, cb) - rm.reshape(1, -1, 1, 1)) * scale.reshape(1, -1, 1, 1) + beta.reshape(
        1, -1, 1, 1
    )
    np.testing.assert_allclose(fused(t(x)).detach().numpy(), want, rtol=1e-4, atol=1e-4)


def test_fuse_conv_bn_weights_transpose_and_missing_affine():
    w = np.arange(12, dtype=np.float32).reshape(2, 3, 2)  # ConvTranspose1d: (in, out, k)
    rm, rv = np.array([1.0, 2.0, 3.0], np.float32), np.array([4.0, 9.0, 16.0], np.float32)
    fw, fb = nn.utils.fuse_conv_bn_weights(t(w), None, t(rm), t(rv), 0.0, None, None, transpose=True)
    assert isinstance(fw, nn.Parameter) and isinstance(fb, nn.Parameter)
    np.testing.assert_allclose(fw.detach().numpy(), w / np.sqrt(rv)[None, :, None], rtol=1e-6)
    np.testing.assert_allclose(fb.detach().numpy(), -rm / np.sqrt(rv), rtol=1e-6)
    assert not fb.requires_grad


def test_fuse_linear_bn_eval_by_hand():
    lin = nn.Linear(2, 2).eval()
    bn = nn.BatchNorm1d(2, eps=0.0).eval()
    with rustdl.no_grad():
        lin.weight.copy_(t([[1.0, 2.0], [3.0, 4.0]]))
        lin.bias.copy_(t([1.0, -1.0]))
        bn.running_mean.copy_(t([0.5, 1.0]))
        bn.running_var.copy_(t([4.0, 0.25]))
        bn.weight.copy_(t([2.0, 1.0]))
        bn.bias.copy_(t([0.0, 3.0]))
    fused = nn.utils.fuse_linear_bn_eval(lin, bn)
    # scale = gamma / sqrt(var) = [1, 2]
    np.testing.assert_allclose(fused.weight.detach().numpy(), [[1.0, 2.0], [6.0, 8.0]])
    np.testing.assert_allclose(fused.bias.detach().numpy(), [0.5, -1.0])
    x = t([[1.0, 1.0]])
    np.testing.assert_allclose(fused(x).detach().numpy(), [[3.5, 13.0]])


# ---------------------------------------------------------------- 10. import paths and helpers


def test_batchnorm_base_classes_as_pytorch():
    from rustdl.nn.modules.batchnorm import _BatchNorm, _NormBase
    from rustdl.nn.modules.instancenorm import _InstanceNorm

    for cls in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm):
        m = cls(3)
        assert isinstance(m, _BatchNorm) and isinstance(m, _NormBase)
    for cls in (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d):
        m = cls(3, affine=True)
        # an instance norm is a _NormBase but not a _BatchNorm (PyTorch's hierarchy)
        assert isinstance(m, _InstanceNorm) and isinstance(m, _NormBase) and not isinstance(m, _BatchNorm)
    # instance norm still normalises each sample's channel by hand
    x = np.arange(8, dtype=np.float32).reshape(1, 2, 4)
    out = nn.InstanceNorm1d(2)(t(x)).numpy()
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    assert (
        repr(nn.BatchNorm1d(4))
        == "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    )


def test_update_bn_leaves_instance_norm_alone():
    from rustdl.optim.swa_utils import update_bn

    model = nn.Sequential(nn.BatchNorm1d(2), nn.InstanceNorm1d(2, track_running_stats=True))
    inorm = model[1]
    with rustdl.no_grad():
        inorm.running_mean.fill_(5.0)
    data = [t(np.array([[[1.0, 3.0], [2.0, 6.0]]]))]
    update_bn(data, model)
    np.testing.assert_allclose(model[0].running_mean.numpy(), [2.0, 4.0])
    # not a _BatchNorm: not reset, and its momentum (0.1) kept; it saw the BatchNorm's output,
    # whose per-channel mean is 0, so its running mean is 0.9 * 5 + 0.1 * 0
    np.testing.assert_allclose(inorm.running_mean.numpy(), [4.5, 4.5], rtol=1e-6)
    assert inorm.momentum == 0.1


def test_nn_modules_utils_tuple_helpers():
    from rustdl.nn.modules.utils import (
        _list_with_default,
        _ntuple,
        _pair,
        _quadruple,
        _reverse_repeat_tuple,
        _single,
        _triple,
    )

    assert _single(3) == (3,) and _pair(3) == (3, 3) and _triple(2) == (2, 2, 2) and _quadruple(0) == (0,) * 4
    assert _pair((1, 2)) == (1, 2) and _pair([4, 5]) == (4, 5) and _triple("ab") == ("a", "b")
    assert _ntuple(5)(1) == (1,) * 5 and _pair.__name__ == "_pair"
    assert _reverse_repeat_tuple((1, 2), 2) == (2, 2, 1, 1)
    assert _list_with_default([None, 3], [8, 9, 10]) == [9, 3]
    assert _list_with_default(7, [1, 2]) == 7
    with pytest.raises(ValueError):
        _list_with_default([1, 2], [1, 2])


def test_stack_dataset_tuples_and_dicts():
    from rustdl.data import DataLoader, StackDataset, TensorDataset

    a = TensorDataset(rustdl.arange(4))
    b = [10, 20, 30, 40]
    ds = StackDataset(a, b)
    assert len(ds) == 4
    first, second = ds[2]
    assert first[0].item() == 2 and second == 30
    named = StackDataset(x=b, y=["a", "b", "c", "d"])
    assert named[1] == {"x": 20, "y": "b"}
    assert named.__getitems__([0, 3]) == [{"x": 10, "y": "a"}, {"x": 40, "y": "d"}]
    assert StackDataset(b, b).__getitems__([1, 2]) == [(20, 20), (30, 30)]
    batch = next(iter(DataLoader(named, batch_size=2)))
    assert batch["x"].tolist() == [10, 20] and batch["y"] == ["a", "b"]
    with pytest.raises(ValueError):
        StackDataset(a, [1, 2])
    with pytest.raises(ValueError):
        StackDataset(a, x=b)
    with pytest.raises(ValueError):
        StackDataset()


def test_sdpa_kernel_accepts_backends_and_leaves_results_unchanged():
    from rustdl.nn.attention import SDPBackend, current_backends, sdpa_kernel

    assert int(SDPBackend.MATH) == 0 and int(SDPBackend.FLASH_ATTENTION) == 1 and int(SDPBackend.ERROR) == -1
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((1, 2, 3, 4)).astype(np.float32) for _ in range(3))
    s = q @ k.transpose(0, 1, 3, 2) / 2.0  # 1/sqrt(4)
    p = np.exp(s - s.max(-1, keepdims=True))
    want = (p / p.sum(-1, keepdims=True)) @ v
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        assert current_backends() == [SDPBackend.FLASH_ATTENTION]
        with sdpa_kernel([SDPBackend.MATH, SDPBackend.EFFICIENT_ATTENTION], set_priority=True):
            assert current_backends() == [SDPBackend.MATH, SDPBackend.EFFICIENT_ATTENTION]
            inner = F.scaled_dot_product_attention(t(q), t(k), t(v))
        outer = F.scaled_dot_product_attention(t(q), t(k), t(v))
    assert len(current_backends()) == 5
    np.testing.assert_allclose(inner.numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(outer.numpy(), inner.numpy())
    with pytest.raises(AssertionError):
        with sdpa_kernel("math"):
            pass


def test_compiler_helpers_match_eager_compile():
    from rustdl import compiler

    def f(x):
        return x * 2

    assert compiler.disable(f) is f
    assert compiler.disable(recursive=False)(f) is f
    assert compiler.allow_in_graph(f) is f
    assert compiler.is_compiling() is False and compiler.is_dynamo_compiling() is False
    assert compiler.reset() is None
    assert rustdl.compile(f) is f and compiler.compile(f) is f
    with compiler.set_stance("force_eager"):
        assert f(3) == 6


def test_benchmark_timer_measures_real_time():
    import time

    from rustdl.utils.benchmark import Measurement, Timer

    m = Timer("time.sleep(0.002)", setup="import time").timeit(number=5)
    assert isinstance(m, Measurement) and m.number_per_run == 5 and len(m.times) == 1
    assert 0.0019 <= m.mean < 0.05 and m.median == m.mean
    calls = []
    m2 = Timer(lambda: time.sleep(0.001)).blocked_autorange(
        callback=lambda n, s: calls.append((n, s)), min_run_time=0.02
    )
    assert sum(m2.raw_times) >= 0.02 and len(calls) == len(m2.raw_times)
    assert all(n == m2.number_per_run for n, _ in calls)
    assert 0.0009 <= m2.median < 0.05
    x = rustdl.ones(4)
    m3 = Timer("x + 1", globals={"x": x}, label="add").blocked_autorange(min_run_time=0.01)
    assert m3.mean > 0 and "add" in repr(m3)
    # statistics by hand on fixed raw times
    fixed = Measurement(2, [2.0, 4.0, 6.0, 8.0])
    assert fixed.times == [1.0, 2.0, 3.0, 4.0]
    assert fixed.mean == 2.5 and fixed.median == 2.5 and fixed.iqr == pytest.approx(3.25 - 1.75)


BOXES = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 40], [1, 1, 9, 9]], np.float32)


def test_box_area_iou_giou_by_hand():
    b = t(BOXES)
    np.testing.assert_allclose(tv_ops.box_area(b).numpy(), [100, 100, 200, 64])
    iou = tv_ops.box_iou(b, b).numpy()
    # boxes 0 and 1 overlap in a 5x5 square: 25 / (100 + 100 - 25)
    assert iou.shape == (4, 4)
    np.testing.assert_allclose(np.diag(iou), 1.0)
    np.testing.assert_allclose(iou[0, 1], 25 / 175, rtol=1e-6)
    np.testing.assert_allclose(iou[0, 3], 64 / 100, rtol=1e-6)
    assert iou[0, 2] == 0.0
    giou = tv_ops.generalized_box_iou(b, b).numpy()
    # 0 and 2: no overlap; enclosing box (0,0)-(30,40) = 1200, union 300 -> 0 - 900/1200
    np.testing.assert_allclose(giou[0, 2], -900 / 1200, rtol=1e-6)
    # 0 and 1: enclosing 15x15 = 225 -> 25/175 - (225-175)/225
    np.testing.assert_allclose(giou[0, 1], 25 / 175 - 50 / 225, rtol=1e-6)
    # distance IoU: centres (5,5) and (10,10), enclosing diagonal² 450
    np.testing.assert_allclose(tv_ops.distance_box_iou(b, b).numpy()[0, 1], 25 / 175 - 50 / 450, rtol=1e-5)
    # complete IoU of same-aspect boxes equals distance IoU (v = 0)
    np.testing.assert_allclose(tv_ops.complete_box_iou(b, b).numpy()[0, 1], 25 / 175 - 50 / 450, rtol=1e-5)


def test_box_iou_is_differentiable():
    b1 = t([[0.0, 0.0, 2.0, 2.0]]).requires_grad_()
    b2 = t([[1.0, 1.0, 3.0, 3.0]])
    tv_ops.box_iou(b1, b2).sum().backward()
    # iou = I / U with I = (min(x2, 3) - max(x1, 1)) * (...) = 1 and U = area1 + 4 - I = 7.
    # d/dx2: dI = 1, dU = (y2 - y1) - 1 = 1 -> (7 - 1) / 49; d/dx1: dI = 0 (max picks 1),
    # dU = -(y2 - y1) = -2 -> (0 + 2) / 49; y likewise
    np.testing.assert_allclose(b1.grad.numpy(), [[2 / 49, 2 / 49, 6 / 49, 6 / 49]], rtol=1e-5)


def test_box_convert_round_trips_by_hand():
    b = t([[1.0, 2.0, 5.0, 10.0]])
    np.testing.assert_allclose(tv_ops.box_convert(b, "xyxy", "xywh").numpy(), [[1, 2, 4, 8]])
    np.testing.assert_allclose(tv_ops.box_convert(b, "xyxy", "cxcywh").numpy(), [[3, 6, 4, 8]])
    np.testing.assert_allclose(
        tv_ops.box_convert(t([[3.0, 6.0, 4.0, 8.0]]), "cxcywh", "xyxy").numpy(), [[1, 2, 5, 10]]
    )
    np.testing.assert_allclose(
        tv_ops.box_convert(t([[1.0, 2.0, 4.0, 8.0]]), "xywh", "cxcywh").numpy(), [[3, 6, 4, 8]]
    )
    with pytest.raises(ValueError):
        tv_ops.box_convert(b, "xyxy", "polar")


def test_nms_and_batched_nms_by_hand():
    b = t(BOXES)
    scores = t([0.9, 0.8, 0.7, 0.95])
    # order 3 (0.95), 0, 1, 2; iou(3, 0) = 0.64 > 0.5 drops 0; iou(3, 1) = 16/148 keeps 1
    keep = tv_ops.nms(b, scores, 0.5)
    assert keep.dtype == rustdl.int64 and keep.tolist() == [3, 1, 2]
    assert tv_ops.nms(b, scores, 0.1).tolist() == [3, 2]  # iou(3, 1) = 16/148 = 0.108 > 0.1
    assert tv_ops.nms(b, scores, 0.7).tolist() == [3, 0, 1, 2]
    # categories: 3 and 0 in different classes never suppress each other
    keep = tv_ops.batched_nms(b, scores, t(np.array([1, 0, 0, 0])), 0.5)
    assert keep.tolist() == [3, 0, 1, 2]
    keep = tv_ops.batched_nms(b, scores, t(np.array([0, 0, 1, 0])), 0.5)
    assert keep.tolist() == [3, 1, 2]
    empty = tv_ops.batched_nms(rustdl.zeros(0, 4), rustdl.zeros(0), rustdl.zeros(0, dtype=rustdl.int64), 0.5)
    assert empty.tolist() == []


def test_clip_and_remove_small_boxes_by_hand():
    b = t([[-5.0, -1.0, 50.0, 8.0], [2.0, 3.0, 4.0, 40.0]])
    np.testing.assert_allclose(
        tv_ops.clip_boxes_to_image(b, (20, 30)).numpy(), [[0, 0, 30, 8], [2, 3, 4, 20]]
    )
    assert tv_ops.remove_small_boxes(b, 5.0).tolist() == [0]
    assert tv_ops.remove_small_boxes(b, 1.0).tolist() == [0, 1]
    masks = rustdl.zeros(2, 5, 6)
    masks[0, 1:3, 2:5] = 1.0
    masks[1, 4, 0] = 1.0
    np.testing.assert_allclose(tv_ops.masks_to_boxes(masks).numpy(), [[2, 1, 4, 2], [0, 4, 0, 4]])


def test_sigmoid_focal_loss_closed_form():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    y = (rng.uniform(size=(3, 4)) > 0.5).astype(np.float32)
    p = 1 / (1 + np.exp(-x.astype(np.float64)))
    ce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    p_t = p * y + (1 - p) * (1 - y)
    alpha_t = 0.25 * y + 0.75 * (1 - y)
    want = alpha_t * ce * (1 - p_t) ** 2
    xt = t(x).requires_grad_()
    np.testing.assert_allclose(
        tv_ops.sigmoid_focal_loss(xt, t(y)).detach().numpy(), want, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        float(tv_ops.sigmoid_focal_loss(xt, t(y), reduction="mean")), want.mean(), rtol=1e-5
    )
    loss = tv_ops.sigmoid_focal_loss(xt, t(y), alpha=-1, gamma=0, reduction="sum")
    np.testing.assert_allclose(float(loss), ce.sum(), rtol=1e-5)
    loss.backward()  # gamma 0, no alpha: plain BCE, gradient p - y
    np.testing.assert_allclose(xt.grad.numpy(), p - y, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        tv_ops.sigmoid_focal_loss(xt, t(y), reduction="avg")


def test_torch_import_paths_resolve_under_torchcompat(tmp_path):
    from conftest import compat_report, run_compat

    proc = run_compat(
        tmp_path,
        """
        import json
        import torch, torch.nn as nn
        from torch.nn.modules.batchnorm import _BatchNorm
        from torch.nn.modules.utils import _pair, _single, _triple, _quadruple
        import torch.types
        from torch.types import Number, Device
        from torch.utils.data import StackDataset
        from torch.nn.attention import sdpa_kernel, SDPBackend
        import torch.compiler, torch._dynamo, torch._dynamo.config
        from torch.utils.benchmark import Timer
        import torchvision.ops
        from torchvision.ops import box_iou, nms
        torch._dynamo.config.suppress_errors = True
        with sdpa_kernel([SDPBackend.MATH]):
            pass
        print(json.dumps({
            "bn": isinstance(nn.BatchNorm2d(2), _BatchNorm) and not isinstance(nn.InstanceNorm2d(2), _BatchNorm),
            "pair": list(_pair(3)) + list(_quadruple(1)),
            "types": torch.types.Number is Number,
            "stack": len(StackDataset([1, 2], [3, 4])),
            "compiler": [torch.compiler.is_compiling(), torch._dynamo.config.suppress_errors],
            "disable": torch._dynamo.disable(len)([1]) + torch.compiler.disable(len)([1, 2]),
            "timer": Timer("1 + 1").timeit(10).number_per_run,
            "iou": box_iou(torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 0.0, 3.0, 2.0]])).tolist(),
            "nms": torchvision.ops.nms(torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([1.0]), 0.5).tolist(),
            "autocast": [torch.is_autocast_enabled(), torch.get_autocast_dtype("cuda") == torch.float16],
            "shift": (torch.tensor([1, 2]) << 2).tolist(),
            "variable": torch.autograd.Variable(torch.ones(1), requires_grad=True).is_leaf,
        }))
        """,
    )
    assert compat_report(proc) == {
        "bn": True,
        "pair": [3, 3, 1, 1, 1, 1],
        "types": True,
        "stack": 2,
        "compiler": [False, True],
        "disable": 3,
        "timer": 10,
        "iou": [[pytest.approx(2.0 / 6.0)]],
        "nms": [0],
        "autocast": [False, True],
        "shift": [4, 8],
        "variable": True,
    }


# ---------------------------------------------------------------- 11. Adafactor


def _np_adafactor(
    params, grads_fn, steps, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, wd=0.0, maximize=False
):
    """Adafactor as PyTorch's documentation states it, in float64 numpy."""
    ps = [p.astype(np.float64).copy() for p in params]
    st = [{} for _ in ps]
    eps1 = eps[0] if eps[0] is not None else float(np.finfo(np.float32).eps)
    for t_ in range(1, steps + 1):
        grads = grads_fn(ps)
        for p, g, s in zip(ps, grads, st):
            g = -g if maximize else g
            beta = t_**beta2_decay
            rho = min(lr, 1 / math.sqrt(t_))
            alpha = max(eps[1], np.sqrt(np.mean(p * p))) * rho
            p *= 1 - lr * wd
            if g.ndim > 1:
                r = s.setdefault("r", np.zeros(g.shape[:-1] + (1,)))
                c = s.setdefault("c", np.zeros(g.shape[:-2] + (1, g.shape[-1])))
                r += ((g * g).mean(-1, keepdims=True) - r) * beta
                c += ((g * g).mean(-2, keepdims=True) - c) * beta
                v = (r @ c) / np.maximum(r.mean(-2, keepdims=True), eps1)
            else:
                v = s.setdefault("v", np.zeros_like(g))
                v += (g * g - v) * beta
                v = v.copy()
            u = g / np.sqrt(np.maximum(v, eps1 * eps1))
            p -= alpha / max(1.0, np.sqrt(np.mean(u * u)) / d) * u
    return ps


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"lr": 0.05, "weight_decay": 0.1, "d": 2.0},
        {"maximize": True, "eps": (1e-30, 1e-3), "beta2_decay": -0.5},
    ],
)
def test_adafactor_matches_the_documented_update(kw):
    rng = np.random.default_rng(5)
    W0 = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b0 = rng.standard_normal(4).astype(np.float32)
    X = rng.standard_normal((5, 4)).astype(np.float32)

    # loss = sum((X @ W.sum(0).T)**2)/10 + sum(X @ b)**2 / 10, with hand-derived gradients
    def grads(ps):
        w, b = ps
        ws = w.sum(0)  # (3, 4)
        gw = 2 * (X.astype(np.float64) @ ws.T).T @ X / 10  # (3, 4)
        s = (X @ b).sum()
        return [np.broadcast_to(gw, w.shape).copy(), 2 * s * X.sum(0) / 10]

    W = nn.Parameter(t(W0))
    b = nn.Parameter(t(b0))
    opt = rustdl.optim.Adafactor([W, b], **kw)
    for _ in range(4):
        opt.zero_grad()
        x = t(X)
        loss = ((x @ W.sum(0).t()) ** 2).sum() / 10 + ((x @ b).sum() ** 2) / 10
        loss.backward()
        opt.step()
    np_kw = {("wd" if k == "weight_decay" else k): v for k, v in kw.items()}
    want_w, want_b = _np_adafactor([W0, b0], grads, 4, **np_kw)
    np.testing.assert_allclose(W.detach().numpy(), want_w, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(b.detach().numpy(), want_b, rtol=2e-5, atol=2e-6)
    state = opt.state[W]
    assert (
        state["step"] == 4
        and tuple(state["row_var"].shape) == (2, 3, 1)
        and tuple(state["col_var"].shape) == (2, 1, 4)
    )
    assert tuple(opt.state[b]["variance"].shape) == (4,)


def test_adafactor_state_dict_round_trip_and_argument_checks():
    p = nn.Parameter(t(np.ones((2, 3), np.float32)))
    opt = rustdl.optim.Adafactor([p])
    p.grad = t(np.full((2, 3), 0.5, np.float32))
    opt.step()
    q = nn.Parameter(t(np.ones((2, 3), np.float32)))
    opt2 = rustdl.optim.Adafactor([q])
    opt2.load_state_dict(opt.state_dict())
    np.testing.assert_array_equal(opt2.state[q]["row_var"].numpy(), opt.state[p]["row_var"].numpy())
    # first step by hand: rho = min(0.01, 1) = 0.01, alpha = max(1e-3, RMS(p) = 1) * 0.01;
    # v = g² exactly (beta = 1 at t = 1), so u = sign(g) = 1 and RMS(u) = 1: p = 1 - 0.01
    np.testing.assert_allclose(p.detach().numpy(), np.full((2, 3), 0.99), rtol=1e-6)
    for bad in (
        {"lr": -1.0},
        {"beta2_decay": 0.5},
        {"d": 0.5},
        {"eps": (-1.0, 1e-3)},
        {"weight_decay": -0.1},
    ):
        with pytest.raises(ValueError):
            rustdl.optim.Adafactor([p], **bad)
