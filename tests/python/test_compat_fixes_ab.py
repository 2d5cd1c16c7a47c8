"""PyTorch behaviour that third-party programs (torchattacks, vit-pytorch, the VAE zoo, UNet
tutorials, generated signature sweeps) depend on: float-to-integer casts, optimizer steps on
infinite weights, numpy's keyword names, the ``std(unbiased)`` overload, differentiable
torchvision tensor transforms, transforms as modules, random ``*_like`` draws in memory order.

References are closed forms, numpy, and (for the linear transforms) the adjoint identity
``<L x, g> = <x, Lᵀ g>``, which holds only when autograd's gradient is the true transpose."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rustdl
from conftest import compat_report, run_compat

F = rustdl.nn.functional


def _x86_int64(v: float) -> int:
    """The truncating conversion of x86-64 (NaN and out-of-range values give INT64_MIN)."""
    if math.isnan(v) or not -(2.0**63) <= v < 2.0**63:
        return -(2**63)
    return int(v)


def _x86_narrow(v: float, bits: int, signed: bool) -> int:
    """A 32-bit truncating conversion (INT32_MIN where invalid) whose low ``bits`` are kept."""
    i = int(v) if not math.isnan(v) and -(2.0**31) - 1 < v < 2.0**31 else -(2**31)
    i &= (1 << bits) - 1
    return i - (1 << bits) if signed and i >= 1 << (bits - 1) else i


@pytest.mark.parametrize("src", [rustdl.float32, rustdl.float64])
def test_float_to_int_casts_convert_as_pytorchs_cpu_kernels(src):
    vals = [math.nan, math.inf, -math.inf, 1e20, -1e20, 300.5, -1.5, -300.7, 2.0**31, 70000.0, 255.9, 1e10]
    x = rustdl.tensor(vals, dtype=src)
    exact = [float(v) for v in np.asarray(vals, dtype=np.float32 if src == rustdl.float32 else np.float64)]
    assert x.long().tolist() == [_x86_int64(v) for v in exact]
    for dt, bits, signed in [
        (rustdl.int32, 32, True),
        (rustdl.int16, 16, True),
        (rustdl.int8, 8, True),
        (rustdl.uint8, 8, False),
    ]:
        assert x.to(dt).tolist() == [_x86_narrow(v, bits, signed) for v in exact], dt
    # copies into an integer tensor convert the same way
    y = rustdl.zeros(3, dtype=rustdl.int32)
    y.copy_(rustdl.tensor([1e10, math.inf, -7.9]))
    assert y.tolist() == [-(2**31), -(2**31), -7]
    # int64 to a narrow type wraps the exact integer (no detour through float64)
    assert rustdl.tensor([2**60 + 1, -(2**60) - 3]).int().tolist() == [1, -3]


@pytest.mark.parametrize(
    "make",
    [
        lambda p: rustdl.optim.SGD(p, lr=0.01),
        lambda p: rustdl.optim.SGD(p, lr=0.01, momentum=0.9),
        lambda p: rustdl.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
        lambda p: rustdl.optim.Adam(p, lr=0.01),
        lambda p: rustdl.optim.Adam(p, lr=0.01, amsgrad=True),
        lambda p: rustdl.optim.AdamW(p, lr=0.01, weight_decay=0),
    ],
)
def test_an_infinite_weight_with_zero_gradient_stays_infinite(make, device):
    w = rustdl.tensor([math.inf, -math.inf, 1.0], device=device, requires_grad=True)
    opt = make([w])
    for _ in range(2):
        w.grad = rustdl.tensor([0.0, 0.0, 0.5], device=device)
        opt.step()
    out = w.detach().cpu().tolist()
    # no weight decay: nothing multiplies the weight, so 0·inf never makes a NaN
    assert out[0] == math.inf and out[1] == -math.inf and 0.9 < out[2] < 1.0


def test_numpy_keyword_names_reach_every_dim_function():
    x = rustdl.arange(12.0).reshape(3, 4)
    a = x.numpy()
    idx = rustdl.tensor([[0, 1], [2, 3], [1, 1]])
    np.testing.assert_array_equal(
        rustdl.gather(x, axis=1, index=idx).numpy(), np.take_along_axis(a, idx.numpy(), 1)
    )
    np.testing.assert_array_equal(x.gather(axis=1, index=idx).numpy(), np.take_along_axis(a, idx.numpy(), 1))
    assert rustdl.median(x, axis=1).values.tolist() == [1.0, 5.0, 9.0]
    np.testing.assert_allclose(
        rustdl.linalg.vector_norm(x, dim=1, keepdims=True).numpy(),
        np.linalg.norm(a, axis=1, keepdims=True),
        rtol=1e-6,
    )
    assert rustdl.nansum(x, axis=0, keepdims=True).tolist() == [a.sum(0).tolist()]
    assert x.index_select(axis=0, index=rustdl.tensor([2])).tolist() == [a[2].tolist()]
    assert rustdl.narrow(x, axis=1, start=1, length=2).tolist() == a[:, 1:3].tolist()
    assert rustdl.cummax(x, axis=1).values.tolist() == np.maximum.accumulate(a, 1).tolist()
    assert rustdl.count_nonzero(x, axis=0).tolist() == (a != 0).sum(0).tolist()
    np.testing.assert_allclose(
        rustdl.var_mean(x, axis=1, keepdims=True)[0].numpy(), a.var(1, ddof=1, keepdims=True)
    )
    # linalg's parser name for the matrix, and the positional rcond / tol of the old overloads
    np.testing.assert_allclose(rustdl.linalg.norm(input=x).item(), np.linalg.norm(a), rtol=1e-6)
    np.testing.assert_allclose(rustdl.linalg.pinv(x, 1e-5).numpy(), np.linalg.pinv(a), rtol=1e-4, atol=1e-5)
    assert rustdl.linalg.matrix_rank(x, 1e-3).item() == np.linalg.matrix_rank(a)
    with pytest.raises(TypeError, match="alias"):
        x.sum(dim=0, axis=0)


def test_std_and_var_read_a_bool_first_argument_as_unbiased():
    x = rustdl.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 9.0], [2.0, 0.0, 1.0, 1.0]])
    a = x.numpy().astype(np.float64)
    np.testing.assert_allclose(x.std(False).item(), a.std(), rtol=1e-6)
    np.testing.assert_allclose(x.var(True).item(), a.var(ddof=1), rtol=1e-6)
    np.testing.assert_allclose(rustdl.std(x, False).item(), a.std(), rtol=1e-6)
    s, m = rustdl.std_mean(x, False)
    np.testing.assert_allclose([s.item(), m.item()], [a.std(), a.mean()], rtol=1e-6)
    v, m = rustdl.var_mean(x, 0, True, True)  # dim, unbiased, keepdim
    np.testing.assert_allclose(v.numpy(), a.var(0, ddof=1, keepdims=True), rtol=1e-6)
    assert m.shape == (1, 4)
    np.testing.assert_allclose(x.std(0).numpy(), a.std(0, ddof=1), rtol=1e-6)  # an int is still dim


def test_keyword_and_none_forms_pytorch_accepts():
    x = rustdl.tensor([[1.5, -2.25, 3.0], [0.5, 4.0, -1.0]])
    a = x.numpy()
    np.testing.assert_allclose(rustdl.addcmul(x, tensor1=x, tensor2=x, value=0.5).numpy(), a + 0.5 * a * a)
    np.testing.assert_allclose(x.addcmul(x, tensor2=x).numpy(), a + a * a)
    np.testing.assert_allclose(rustdl.addcdiv(input=x, tensor1=x, tensor2=x).numpy(), a + 1.0)
    m, e = rustdl.frexp(x)
    assert e.dtype == rustdl.int32
    np.testing.assert_array_equal(e.numpy(), np.frexp(a)[1])
    u = rustdl.zeros(1000).uniform_(-2.0, to=-1.5)
    assert -2.0 <= u.min().item() and u.max().item() < -1.5
    assert rustdl.tensor([1.26, -2.35]).round_(decimals=1).tolist() == pytest.approx([1.3, -2.4])
    n = rustdl.tensor([math.nan, math.inf, 1.0])
    assert rustdl.nan_to_num(n, nan=None, posinf=5.0).tolist() == [0.0, 5.0, 1.0]
    assert x.sort(stable=None).values.tolist() == np.sort(a, 1).tolist()
    assert [t.shape for t in rustdl.tensor_split(x, sections=2, dim=1)] == [(2, 2), (2, 1)]
    assert [t.shape for t in rustdl.tensor_split(x, indices=[1], dim=1)] == [(2, 1), (2, 2)]
    assert F.pad(x, (1, 1), value=None).tolist() == np.pad(a, ((0, 0), (1, 1))).tolist()
    out, ind = F.adaptive_max_pool1d_with_indices(x[None], 1, True)
    assert out.tolist() == [[[3.0], [4.0]]] and ind.tolist() == [[[2], [1]]]
    np.testing.assert_allclose(rustdl.xlogy(x.abs(), np.int64(2)).numpy(), np.abs(a) * np.log(2), rtol=1e-6)
    np.testing.assert_array_equal(rustdl.copysign(x, np.int64(-2)).numpy(), -np.abs(a))


def test_devices_equal_only_devices():
    d = rustdl.device("cpu")
    assert d == rustdl.device("cpu") and not (d == "cpu") and d != "cpu" and not (d == 0)
    assert {d: 1}[rustdl.device("cpu")] == 1


def test_random_like_draws_follow_the_inputs_memory_order():
    rustdl.manual_seed(7)
    ref = rustdl.randn(2, 3)
    rustdl.manual_seed(7)
    r = rustdl.randn_like(rustdl.zeros(2, 3).t())
    assert r.stride() == (1, 3)
    assert r.tolist() == ref.t().tolist()
    rustdl.manual_seed(3)
    ref = rustdl.rand(2, 3, 4).permute(2, 0, 1)
    rustdl.manual_seed(3)
    r = rustdl.rand_like(rustdl.zeros(2, 3, 4).permute(2, 0, 1))
    assert r.tolist() == ref.tolist() and r.stride() == (1, 12, 4)
    rustdl.manual_seed(3)
    r = rustdl.rand_like(rustdl.zeros(2, 3, 4).permute(1, 2, 0))
    rustdl.manual_seed(3)
    assert r.tolist() == rustdl.rand(2, 3, 4).permute(1, 2, 0).tolist()


def test_conv2d_groups_error_names_the_channels_expected():
    with pytest.raises(RuntimeError, match="expected input .* to have 3 channels, but got 1"):
        F.conv2d(rustdl.zeros(2, 1, 8, 8), rustdl.zeros(3, 1, 3, 3), groups=3)


def test_variable_volatile_with_requires_grad_raises():
    with pytest.warns(UserWarning, match="volatile"), pytest.raises(ValueError, match="volatile"):
        rustdl.autograd.Variable(rustdl.ones(2), requires_grad=True, volatile=True)


def test_torchvision_tensor_transforms_stay_in_the_graph(tmp_path):
    # each transform of a tensor that requires grad: its value equals the same transform of the
    # detached tensor (the numpy path), and for the linear ones the gradient of <y, g> is the
    # adjoint: <x.grad, x> == <y, g>
    src = """
    import json, torch
    import torchvision.transforms as T, torchvision.transforms.functional as TF
    torch.manual_seed(0)
    x0 = torch.rand(2, 3, 8, 10) * 0.5 + 0.2
    linear = {
        "resize": lambda x: TF.resize(x, [5, 6]),
        "resize_up": lambda x: TF.resize(x, [12, 13]),
        "resize_nearest": lambda x: TF.resize(x, [5, 6], interpolation=T.InterpolationMode.NEAREST),
        "pad": lambda x: TF.pad(x, [1, 2]),
        "pad_reflect": lambda x: TF.pad(x, [2, 1, 1, 3], padding_mode="reflect"),
        "pad_symmetric": lambda x: TF.pad(x, [2, 1], padding_mode="symmetric"),
        "rotate": lambda x: TF.rotate(x, 30.0, interpolation=T.InterpolationMode.BILINEAR),
        "affine": lambda x: TF.affine(x, 10.0, [1, 2], 1.1, [5.0, 0.0]),
        "perspective": lambda x: TF.perspective(x, [[0, 0], [9, 0], [9, 7], [0, 7]], [[1, 0], [8, 1], [9, 6], [0, 7]]),
        "gaussian_blur": lambda x: TF.gaussian_blur(x, [3, 5], [1.0, 1.5]),
        "grayscale": lambda x: TF.rgb_to_grayscale(x, 3),
        "brightness": lambda x: TF.adjust_brightness(x, 1.2),
        "saturation": lambda x: TF.adjust_saturation(x, 1.1),
        "contrast": lambda x: TF.adjust_contrast(x, 1.1),
    }
    other = {
        "gamma": lambda x: TF.adjust_gamma(x, 1.3),
        "invert": TF.invert,
        "solarize": lambda x: TF.solarize(x, 0.5),
        "rotate_fill": lambda x: TF.rotate(x, 20.0, interpolation=T.InterpolationMode.BILINEAR, fill=[0.1, 0.2, 0.3]),
    }
    out = {}
    for name, f in {**linear, **other}.items():
        x = x0.clone().requires_grad_()
        y = f(x)
        ref = f(x0)
        g = torch.linspace(-1, 1, y.numel()).reshape(y.shape)
        (y * g).sum().backward()
        row = [y.requires_grad, (y.detach() - ref).abs().max().item()]
        if name in linear:
            lhs, rhs = (x.grad * x0).sum().item(), (y.detach() * g).sum().item()
            # contrast's blend with the image mean is linear too
            row.append(abs(lhs - rhs) / max(1.0, abs(rhs)))
        else:
            row.append(float(x.grad.abs().sum() > 0))
        out[name] = row
    print(json.dumps(out))
    """
    rep = compat_report(run_compat(tmp_path, src, env={"RUSTDL_COMPAT_DEVICE": "cpu"}))
    for name, (grad, diff, check) in rep.items():
        assert grad, name
        assert diff < 1e-5, (name, diff)
        if name in ("gamma", "invert", "solarize", "rotate_fill"):
            assert check == 1.0, name
        else:
            assert check < 1e-5, (name, check)


def test_torchvision_transforms_are_modules_and_normalize_checks_channels(tmp_path):
    src = """
    import json, torch
    import torchvision.transforms as T
    seq = torch.nn.Sequential(T.RandomGrayscale(p=0.0), T.RandomHorizontalFlip(1.0), T.Normalize([0.5] * 3, [0.25] * 3))
    x = torch.rand(2, 3, 4, 5)
    y = seq(x)
    ref = (x.flip(-1) - 0.5) / 0.25
    try:
        T.Normalize((0.5,) * 3, (0.5,) * 3)(torch.rand(1, 4, 4))
        raised = "no"
    except RuntimeError:
        raised = "RuntimeError"
    order = T.ColorJitter.get_params((0.5, 1.5), None, None, None)[0]
    print(json.dumps([
        issubclass(T.Normalize, torch.nn.Module), isinstance(T.Compose([]), torch.nn.Module),
        isinstance(T.ToTensor(), torch.nn.Module), (y - ref).abs().max().item(), raised,
        isinstance(order, torch.Tensor) and sorted(order.tolist()) == [0, 1, 2, 3],
        repr(T.Normalize([0.5], [0.2])).startswith("Normalize("),
    ]))
    """
    out = compat_report(run_compat(tmp_path, src, env={"RUSTDL_COMPAT_DEVICE": "cpu"}))
    assert out[:3] == [True, False, False]
    assert out[3] < 1e-6
    assert out[4:] == ["RuntimeError", True, True]


def test_cuda_spellings_in_cpu_mode(tmp_path):
    src = """
    import json, torch
    torch.save({"a": torch.ones(2)}, "f.pt")
    res = []
    try:
        torch.load("f.pt", map_location="cuda")
        res.append("loaded")
    except RuntimeError as e:
        res.append("is_available() is False" in str(e))
    res.append(torch.load("f.pt", map_location="cpu")["a"].tolist())
    torch.cuda.random.manual_seed(0)
    res.append(callable(torch.cuda.random.get_rng_state))
    try:
        torch.ones(2).cuda("cpu")
        res.append("moved")
    except RuntimeError as e:
        res.append(str(e))
    res.append(torch.ones(2).cuda(torch.device("cuda")).tolist())
    res.append(list(torch.broadcast_shapes((3, 1), (1, 4))) + [type(torch.broadcast_shapes((2,))).__name__])
    res.append(list(torch.LongTensor(torch.Size([2, 3])).shape) + list(torch.FloatTensor(torch.zeros(3, 4).shape).shape))
    print(json.dumps(res))
    """
    out = compat_report(run_compat(tmp_path, src, env={"RUSTDL_COMPAT_DEVICE": "cpu"}))
    assert out == [
        True,
        [1.0, 1.0],
        True,
        "Invalid device, must be cuda device",
        [1.0, 1.0],
        [3, 4, "Size"],
        [2, 3, 3, 4],
    ]


def test_svd_without_uv_and_bool_add_keep_pytorchs_shapes_and_dtypes():
    x = rustdl.randn(2, 3, 4)
    u, s, v = rustdl.svd(x, compute_uv=False)
    assert u.shape == (2, 3, 3) and v.shape == (2, 4, 4)
    assert u.abs().sum().item() == 0 and v.abs().sum().item() == 0
    np.testing.assert_allclose(s.numpy(), np.linalg.svd(x.numpy(), compute_uv=False), rtol=1e-5)
    m = rustdl.tensor([True, False])
    assert m.add(True).dtype == rustdl.bool and m.add(True).tolist() == [True, True]
    assert rustdl.add(m, m).dtype == rustdl.bool


def test_attention_masks_of_other_lengths_and_mask_dtypes():
    from rustdl.nn.attention.bias import causal_lower_right, causal_upper_left

    rustdl.manual_seed(0)
    q, k = rustdl.randn(1, 2, 3, 4), rustdl.randn(1, 2, 5, 4)
    a, b = q.numpy().astype(np.float64), k.numpy().astype(np.float64)

    def ref(allowed):
        s = a @ b.swapaxes(-1, -2) / 2.0
        s = np.where(allowed, s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        return (p / p.sum(-1, keepdims=True)) @ b

    for mask, diag in ((causal_lower_right(3, 5), 2), (causal_upper_left(3, 5), 0)):
        allowed = np.tril(np.ones((3, 5), bool), diag)
        assert mask.tolist() == allowed.tolist()
        out = F.scaled_dot_product_attention(q, k, k, attn_mask=mask)
        np.testing.assert_allclose(out.numpy(), ref(allowed), rtol=1e-5, atol=1e-6)
    # PyTorch takes bool, float32 or the query's dtype; others are a RuntimeError
    for dt in (rustdl.float64, rustdl.int64):
        with pytest.raises(RuntimeError, match="attn_mask dtype"):
            F.scaled_dot_product_attention(q, q, q, attn_mask=rustdl.zeros(3, 3, dtype=dt))
    q64 = q.double()
    assert F.scaled_dot_product_attention(q64, q64, q64, attn_mask=rustdl.zeros(3, 3)).dtype == rustdl.float64


def test_gpu_tanh_and_log1p_family_keep_their_digits_near_zero(device):
    vals = [1e-4, -2e-4, 1e-3, 0.3, -0.7, 3.0, -12.0, -15.0, 0.0]
    x = rustdl.tensor(vals, device=device)
    a = np.asarray(vals, dtype=np.float32).astype(np.float64)
    cases = [
        (x.tanh(), np.tanh(a)),
        (x.abs().log1p(), np.log1p(np.abs(a))),
        (rustdl.asinh(x), np.arcsinh(a)),
        (rustdl.atanh(x * 0.01), np.arctanh(np.float32(0.01) * a)),
        (F.softplus(x), np.log1p(np.exp(a))),
        (F.logsigmoid(-x), -np.log1p(np.exp(a))),
    ]
    for got, ref in cases:
        np.testing.assert_allclose(got.cpu().numpy().astype(np.float64), ref, rtol=2e-6, atol=0)


@pytest.mark.parametrize(
    "f, grad",
    [
        (lambda L: L.tril(), [[2.0, 0.0], [2.0, 2.0]]),
        (lambda L: L.triu(1), [[0.0, 2.0], [0.0, 0.0]]),
        (lambda L: L.double(), [[2.0, 2.0], [2.0, 2.0]]),
        (lambda L: L.flip(0), [[2.0, 2.0], [2.0, 2.0]]),
        (lambda L: L.cumsum(0), [[4.0, 4.0], [2.0, 2.0]]),
        (lambda L: L.diagonal(), [[2.0, 0.0], [0.0, 2.0]]),
    ],
)
def test_second_backward_through_ops_that_save_nothing(f, grad):
    # PyTorch's nodes for these keep no tensors, so backward runs twice without retain_graph
    L = rustdl.eye(2, requires_grad=True)
    y = f(L)
    y.sum().backward()
    y.sum().backward()
    assert L.grad.tolist() == grad
    z = L * 2  # a product with a number saves it: the second backward raises, as PyTorch's
    z.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        z.sum().backward()


def test_as_tensor_takes_a_device_object_and_rpc_names_exist():
    x = rustdl.tensor([0.7])
    assert rustdl.as_tensor(x, device=x.device) is x
    assert rustdl.as_tensor(x, dtype=rustdl.float64, device=rustdl.device("cpu")).dtype == rustdl.float64
    from rustdl.distributed import rpc

    assert not isinstance(x, rpc.api.RRef) and not rpc.is_available()
    with pytest.raises(RuntimeError, match="RPC"):
        rpc.init_rpc("worker", rank=0, world_size=1)


def test_int64_values_past_two_to_the_53_stay_exact():
    big = 2**62 + 1
    assert rustdl.full((2,), 9007199254740993).tolist() == [9007199254740993] * 2
    assert rustdl.zeros(2, dtype=rustdl.int64).fill_(big).tolist() == [big, big]
    y = rustdl.zeros(3, dtype=rustdl.int64)
    y[1] = big
    y[2:] = big + 2
    assert y.tolist() == [0, big, big + 2]
    assert (rustdl.tensor([5]) + 2**60).tolist() == [2**60 + 5]
    assert rustdl.ones(2).fill_(2**63).tolist() == [float(2**63)] * 2  # past int64: the nearest float


def test_random_like_of_non_contiguous_inputs_draw_as_pytorchs_fill():
    # values recorded from PyTorch 2.15 (CPU generator, seed 0): a non-contiguous fill of 16 or
    # more normals draws them one at a time, in memory order
    rustdl.manual_seed(0)
    r = rustdl.randn_like(rustdl.zeros(20, 2).t())
    np.testing.assert_allclose(r[0, :4].numpy(), [1.5410, -2.1788, -1.0845, 0.4033], atol=1e-4)
    x = rustdl.zeros(20, 2).t()
    rustdl.manual_seed(0)
    x.normal_()
    assert x.tolist() == r.tolist()
    rustdl.manual_seed(0)
    assert rustdl.randint_like(rustdl.zeros(2, 3).t(), 10).tolist() == [[4, 0], [9, 3], [3, 9]]


def test_gpu_float_and_narrow_integer_casts_follow_cuda(gpu):
    device = gpu  # the GPU's conversion rules (the CPU's are tested above)
    f = rustdl.tensor([3.4e38, 2.0**31, -3e9, math.nan, 5.5], device=device)
    assert f.int().tolist() == [2**31 - 1, 2**31 - 1, -(2**31), 0, 5]
    i = rustdl.tensor([2**31 - 1, -(2**31), 300, -129], dtype=rustdl.int32, device=device)
    assert i.to(rustdl.int8).tolist() == [-1, 0, 44, 127]
    assert i.to(rustdl.int16).tolist() == [-1, 0, 300, -129]
    assert i.to(rustdl.uint8).tolist() == [255, 0, 44, 127]


def test_more_torchvision_and_factory_edges(tmp_path):
    src = """
    import json, warnings, torch
    import torch.nn.functional as F
    import torchvision.transforms.functional as TF
    x = torch.rand(3, 5, 6, requires_grad=True)
    y = TF.crop(x, -1, -2, 3, 3)
    (g,) = torch.autograd.grad(y.sum(), x)
    one = torch.rand(1, 4, 4)
    gray = TF.rgb_to_grayscale(one, num_output_channels=3)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        F.mse_loss(torch.ones(4, 1), torch.zeros(4))
    print(json.dumps([
        list(y.shape), g.sum().item(), y[:, :1, :].abs().sum().item(),
        list(gray.shape), torch.equal(gray, one) and gray is not one,
        torch.full_like(torch.zeros(2), 2.0, requires_grad=True).requires_grad,
        str(torch.device("meta")), torch.ones(1).device != torch.device("meta"),
        isinstance(torch.device("meta"), torch.device),
        "This will likely lead to incorrect results due to broadcasting" in str(w[0].message),
    ]))
    """
    out = compat_report(run_compat(tmp_path, src, env={"RUSTDL_COMPAT_DEVICE": "cpu"}))
    # crop at (-1, -2) of 3x3: the first row and two columns are padding, 2x1 pixels come from x
    assert out[:3] == [[3, 3, 3], 3 * 2 * 1, 0.0]
    assert out[3:] == [[1, 4, 4], True, True, "meta", True, True, True]
