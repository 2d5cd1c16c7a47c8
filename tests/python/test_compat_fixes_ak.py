"""Fixes and additions found by the 2026-12-07 (third) library and fuzzing rounds: torchmetrics,
timm, pytorch-metric-learning/e3nn, torchsde/diffusers/accelerate, and an nn/optim/serialization
fuzzer."""

from __future__ import annotations

import copy
import io
import math
import threading

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from conftest import compat_report, need_gpu, run_compat
from rustdl import nn


def _np(t):
    return t.detach().numpy()


@pytest.mark.parametrize("shapes", [((3, 4), (4,)), ((4,), (4, 3)), ((4,), (4,)), ((2, 3, 4), (4,))])
def test_products_with_a_vector_are_new_tensors_with_numpy_gradients(shapes):
    rng = np.random.default_rng(0)
    a_np, b_np = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    a = rustdl.tensor(a_np, dtype=rustdl.float64, requires_grad=True)
    b = rustdl.tensor(b_np, dtype=rustdl.float64, requires_grad=True)
    y = a @ b
    assert y._base is None and y.is_contiguous()
    np.testing.assert_allclose(_np(y), a_np @ b_np)
    g = rng.normal(size=np.shape(a_np @ b_np))
    y.backward(rustdl.tensor(g, dtype=rustdl.float64))
    # d(a·b)/da and /db by the chain rule, written out with numpy
    if len(shapes[0]) == 1 and len(shapes[1]) == 1:
        ga, gb = g * b_np, g * a_np
    elif len(shapes[1]) == 1:
        ga = np.multiply.outer(g, b_np)
        gb = (g[..., None] * a_np).reshape(-1, a_np.shape[-1]).sum(axis=0)
    else:
        ga, gb = b_np @ g, np.outer(a_np, g)
    np.testing.assert_allclose(_np(a.grad), ga)
    np.testing.assert_allclose(_np(b.grad), gb)
    z = a @ b
    z.detach_()  # not a view: detaching in place works, as PyTorch's
    assert not z.requires_grad


def test_addmm_family_refuses_an_input_of_another_dtype():
    f64, f32 = rustdl.float64, rustdl.float32
    cases = [
        (rustdl.addmm, rustdl.zeros(2, 2, dtype=f64), rustdl.ones(2, 3), rustdl.ones(3, 2)),
        (rustdl.addmv, rustdl.zeros(2, dtype=f64), rustdl.ones(2, 3), rustdl.ones(3)),
        (rustdl.baddbmm, rustdl.zeros(1, 2, 2, dtype=f64), rustdl.ones(1, 2, 3), rustdl.ones(1, 3, 2)),
        (rustdl.addbmm, rustdl.zeros(2, 2, dtype=f64), rustdl.ones(1, 2, 3), rustdl.ones(1, 3, 2)),
    ]
    for fn, inp, m1, m2 in cases:
        for beta in (1, 0):  # refused even when beta=0 ignores the input
            with pytest.raises(RuntimeError, match="same dtype"):
                fn(inp, m1, m2, beta=beta)
        out = fn(inp.to(f32), m1, m2)
        assert out.dtype == f32
        np.testing.assert_allclose(_np(out), np.full(tuple(out.shape), 3.0))


class _Wrapped(nn.Module):
    """Rebuilds a closure over its own method on unpickling, and holds an unpicklable lock."""

    def __init__(self):
        super().__init__()
        self.n = 0
        self.lin = nn.Linear(2, 2)
        self.register_buffer("b", rustdl.ones(2))
        self.lock = threading.Lock()
        self._wrap()

    def _wrap(self):
        inner = self.bump

        def bump():
            inner()

        self.bump = bump

    def bump(self):
        self.n += 1

    def __getstate__(self):
        d = dict(self.__dict__)
        d.pop("bump")
        d.pop("lock")
        return d

    def __setstate__(self, state):
        super().__setstate__(state)
        self.lock = threading.Lock()
        self._wrap()


def test_module_deepcopy_goes_through_getstate_and_setstate():
    a = _Wrapped()
    b = copy.deepcopy(a)
    b.bump()
    assert (a.n, b.n) == (0, 1)  # the copy's closure calls the copy
    assert b.lin.weight is not a.lin.weight and rustdl.equal(b.lin.weight, a.lin.weight)
    assert b.b.data_ptr() != a.b.data_ptr() and rustdl.equal(b.b, a.b)
    assert type(b.lock) is type(a.lock) and b.lock is not a.lock


def test_module_casts_hand_apply_lambdas_named_after_the_method():
    seen = []

    class L(nn.Linear):
        def _apply(self, fn, *args, **kwargs):
            seen.append(fn.__qualname__)
            return super()._apply(fn, *args, **kwargs)

    m = L(1, 1)
    m.double()
    assert m.weight.dtype == rustdl.float64
    m.float()
    m.type(rustdl.float64)
    assert seen == [
        "Module.double.<locals>.<lambda>",
        "Module.float.<locals>.<lambda>",
        "Module.type.<locals>.<lambda>",
    ]


def test_prelu_slope_gradient_stays_finite_beside_inf():
    x = rustdl.tensor([math.inf, -1.0, 2.0, 0.0, -3.0], requires_grad=True)
    m = nn.PReLU()
    m(x).sum().backward()
    # d/da of a·x over the non-positive inputs: their sum
    assert m.weight.grad.tolist() == [-4.0]
    assert x.grad.tolist() == [1.0, 0.25, 1.0, 0.25, 0.25]
    w = rustdl.tensor([0.25, 0.5], dtype=rustdl.float64, requires_grad=True)
    xs = rng_x = np.random.default_rng(1).normal(size=(3, 2, 4))
    x = rustdl.tensor(xs, dtype=rustdl.float64, requires_grad=True)
    F.prelu(x, w).pow(2).sum().backward()
    a = np.array([0.25, 0.5]).reshape(1, 2, 1)
    y = np.where(rng_x > 0, rng_x, a * rng_x)
    np.testing.assert_allclose(_np(w.grad), (2 * y * np.where(rng_x > 0, 0, rng_x)).sum(axis=(0, 2)))


def test_softplus_gradient_is_the_formula_including_beta_zero():
    x = rustdl.tensor([1.0, -1.0], requires_grad=True)
    F.softplus(x, beta=0, threshold=-0.1).sum().backward()  # all past the cut-off: linear
    assert x.grad.tolist() == [1.0, 1.0]
    x = rustdl.tensor([1.0, -1.0], requires_grad=True)
    F.softplus(x, beta=0).sum().backward()  # sigmoid(0·x)
    assert x.grad.tolist() == [0.5, 0.5]
    v = np.array([1.0, -1.0, 30.0, -50.0, 0.3])
    x = rustdl.tensor(v, dtype=rustdl.float64, requires_grad=True)
    y = F.softplus(x, beta=2.0, threshold=20.0)
    (g,) = rustdl.autograd.grad(y.sum(), x, create_graph=True)
    s = 1 / (1 + np.exp(-2 * v))
    np.testing.assert_allclose(_np(g), np.where(2 * v > 20, 1.0, s))
    (gg,) = rustdl.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(_np(gg), np.where(2 * v > 20, 0.0, 2 * s * (1 - s)), atol=1e-300)
    assert rustdl.autograd.gradgradcheck(
        lambda t: F.softplus(t, 1.5, 3.0), (rustdl.randn(5, dtype=rustdl.float64, requires_grad=True),)
    )


def test_hardtanh_with_a_nan_bound_is_nan():
    x = rustdl.tensor([0.5, -2.0])
    assert all(math.isnan(v) for v in F.hardtanh(x, 0.0, math.nan).tolist())
    assert all(math.isnan(v) for v in F.hardtanh(x, math.nan, 1.0).tolist())


class _Recorder:
    """An object that takes every call it is an argument of (as an FX proxy does)."""

    calls: list = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        cls.calls.append((func.__name__, len(args)))
        return "handled"


def test_assert_and_einsum_hand_their_calls_to_torch_function():
    _Recorder.calls = []
    r = _Recorder()
    assert rustdl._assert(r, "message") == "handled"
    assert rustdl.einsum("ij,jk->ik", (r, r)) == "handled"
    # the operands given as one list reach the override unpacked, as PyTorch hands them
    assert _Recorder.calls == [("_assert", 2), ("einsum", 3)]
    with pytest.raises(AssertionError, match="message"):
        rustdl._assert(False, "message")


def test_an_optimizer_step_count_incremented_in_place_counts():
    class MyOpt(rustdl.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, dict(lr=0.1))

        @rustdl.no_grad()
        def step(self):
            for g in self.param_groups:
                for p in g["params"]:
                    st = self.state[p]
                    if not st:
                        st["step"] = rustdl.tensor(0.0)
                    step_t = st["step"]
                    step_t += 1
                    p.add_(p.grad, alpha=-g["lr"] / step_t.item())

    p = nn.Parameter(rustdl.ones(1))
    opt = MyOpt([p])
    p.grad = rustdl.ones(1)
    opt.step()
    opt.step()
    opt2 = MyOpt([p])
    opt2.load_state_dict(opt.state_dict())
    opt2.step()
    opt2.step()
    assert opt2.state[p]["step"].item() == 4.0
    assert p.item() == pytest.approx(1 - 0.1 * (1 + 1 / 2 + 1 / 3 + 1 / 4), rel=1e-6)
    q = nn.Parameter(rustdl.ones(2))
    adam = rustdl.optim.AdamW([q])
    q.grad = rustdl.ones(2)
    adam.step()
    s = adam.state[q]["step"]
    s += 1
    assert adam.state[q]["step"].item() == 2.0
    s -= 1
    s += rustdl.tensor(2.0)
    assert adam.state[q]["step"].item() == 3.0
    adam.step()
    assert adam.state[q]["step"].item() == 4.0


def test_load_reads_the_first_of_several_saves_in_one_stream(tmp_path):
    b = io.BytesIO()
    for i in range(3):
        rustdl.save({"i": i, "t": rustdl.full((3,), float(i))}, b)
    b.seek(0)
    for i in range(3):  # each load reads one save and leaves the stream at the next
        got = rustdl.load(b)
        assert got["i"] == i and got["t"].tolist() == [float(i)] * 3
    path = tmp_path / "three.pt"
    path.write_bytes(b.getvalue())
    assert rustdl.load(path)["i"] == 0
    with open(path, "rb") as f:
        assert [rustdl.load(f)["i"] for _ in range(3)] == [0, 1, 2]


def test_dataloader_batches_take_negative_indices_from_the_end():
    ds = rustdl.data.TensorDataset(rustdl.arange(5) * 10)
    batches = list(rustdl.data.DataLoader(rustdl.data.Subset(ds, [-1, 0]), batch_size=2))
    assert batches[0][0].tolist() == [40, 0]
    batches = list(rustdl.data.DataLoader(ds, sampler=[-1, 0, -5], batch_size=3))
    assert batches[0][0].tolist() == [40, 0, 0]
    for bad in ([5], [-6]):
        with pytest.raises(IndexError, match="out of range"):
            list(rustdl.data.DataLoader(ds, sampler=bad, batch_size=2))


@pytest.mark.parametrize(
    "call",
    [
        lambda x, w: F.conv_transpose1d(x, w, padding=2**63),
        lambda x, w: F.conv_transpose1d(x, w, padding=2**63 + 1),
        lambda x, w: F.conv_transpose1d(x, w, stride=2**63),
        lambda x, w: F.conv_transpose1d(x, w, dilation=2**63),
        lambda x, w: F.conv1d(x, w.transpose(0, 1), stride=2**63),
    ],
)
def test_conv_geometry_beyond_int64_is_refused(call):
    x = rustdl.arange(14.0).reshape(1, 2, 7).requires_grad_()
    w = rustdl.ones(2, 4, 2)
    with pytest.raises(ValueError, match="int64"):
        call(x, w)


def test_compat_modules_diffusers_accelerate_and_timm_import(tmp_path):
    src = """
    import json, functools
    import torch
    import torch.distributed._functional_collectives as fc
    from torch.distributed.fsdp.wrap import (
        transformer_auto_wrap_policy, size_based_auto_wrap_policy, lambda_auto_wrap_policy, wrap, enable_wrap,
        ModuleWrapPolicy,
    )
    from torch.utils.data.datapipes.iter.combinatorics import ShufflerIterDataPipe, SamplerIterDataPipe
    from torch.utils.data.datapipes.iter.grouping import BatcherIterDataPipe
    from torch.utils.data.datapipes.map.utils import SequenceWrapperMapDataPipe
    from torch.utils.data.datapipes.iter import IterableWrapper
    from torch.utils._foreach_utils import _has_foreach_support
    lin = torch.nn.Linear(2, 2)
    policy = functools.partial(transformer_auto_wrap_policy, transformer_layer_cls={torch.nn.Linear})
    p = torch.nn.Parameter(torch.ones(2)); p.grad = torch.ones(2); q = torch.ones(3, dtype=torch.float64)
    groups = torch.optim.Optimizer._group_tensors_by_device_and_dtype([[p, q, p], [p.grad, q, None]], True)

    class Wrapper(torch.nn.Module):
        def __init__(self, m, tag):
            super().__init__(); self.m, self.tag = m, tag

    with enable_wrap(wrapper_cls=Wrapper, tag="x"):
        wrapped = wrap(torch.nn.ReLU())
    print(json.dumps({
        "stream": isinstance(torch.cuda.Stream(), torch.Stream) and hasattr(torch, "Event"),
        "policy": [policy(lin, False, 0), policy(torch.nn.ReLU(), False, 0), policy(lin, True, 0)],
        "size": [size_based_auto_wrap_policy(lin, True, 10, min_num_params=5),
                 size_based_auto_wrap_policy(lin, False, 4, min_num_params=5)],
        "lambda": lambda_auto_wrap_policy(lin, False, 0, lambda m: isinstance(m, torch.nn.Linear)),
        "module_policy": ModuleWrapPolicy({torch.nn.Linear})(lin, False),
        "wrapped": [type(wrapped).__name__, wrapped.tag, type(wrap(lin)).__name__],
        "batches": list(BatcherIterDataPipe(IterableWrapper(range(5)), 2)),
        "names": [ShufflerIterDataPipe.__name__, SamplerIterDataPipe.__name__, SequenceWrapperMapDataPipe.__name__],
        "groups": sorted([str(k[1]), [len(l) for l in v[0]], v[1]] for k, v in groups.items()),
        "foreach": [_has_foreach_support([p], p.device), _has_foreach_support([p.grad], p.device)],
        "fc": [callable(fc.all_reduce), fc.wait_tensor(p) is p],
    }))
    """
    got = compat_report(run_compat(tmp_path, src, env={"RUSTDL_COMPAT_DEVICE": "cpu"}))
    assert got == {
        "stream": True,
        "policy": [True, False, True],
        "size": [True, False],
        "lambda": True,
        "module_policy": True,
        "wrapped": ["Wrapper", "x", "Linear"],
        "batches": [[0, 1], [2, 3], [4]],
        "names": ["Shuffler", "Sampler", "SequenceWrapper"],
        "groups": [["torch.float32", [2, 2], [0, 2]], ["torch.float64", [1, 1], [1]]],
        "foreach": [False, True],
        "fc": [True, True],
    }


def test_torchvision_random_parameters_are_float32_uniform_draws(tmp_path):
    src = """
    import json
    import torch, torchvision.transforms as T
    torch.manual_seed(0)
    b = T.ColorJitter.get_params((0.6, 1.4), None, None, None)[1]
    s = T.GaussianBlur.get_params(0.1, 2.0)
    torch.manual_seed(0)
    torch.randperm(4)  # ColorJitter's order of the four adjustments comes first
    want = [torch.empty(1).uniform_(0.6, 1.4).item(), torch.empty(1).uniform_(0.1, 2.0).item()]
    print(json.dumps({"got": [b, s], "want": want}))
    """
    got = compat_report(run_compat(tmp_path, src, env={"RUSTDL_COMPAT_DEVICE": "cpu"}))
    assert got["got"] == got["want"]
    assert all(float(np.float32(v)) == v for v in got["got"])


def test_complex_parameters_are_parameters_and_complex_tensors_take_addcmul_addcdiv_lerp():
    p = nn.Parameter(rustdl.zeros(2, dtype=rustdl.cfloat))
    assert isinstance(p, nn.Parameter)
    m = nn.Module()
    if isinstance(p, nn.Parameter):  # how tensor libraries choose parameter over buffer
        m.register_parameter("w", p)
    assert len(list(m.parameters())) == 1 and not list(m.buffers())
    a_np = np.array([[1 + 2j, 3 - 1j], [0.5j, -2]], dtype=np.complex64)
    a = rustdl.tensor(a_np)
    b = a.conj()
    np.testing.assert_allclose(rustdl.addcmul(a, a, b, value=0.5).numpy(), a_np + 0.5 * a_np * a_np.conj())
    np.testing.assert_allclose(
        rustdl.addcdiv(a, a, b, value=0.5).numpy(), a_np + 0.5 * a_np / a_np.conj(), rtol=1e-6
    )
    np.testing.assert_allclose(rustdl.lerp(a, b, 0.3).numpy(), a_np + 0.3 * (a_np.conj() - a_np), rtol=1e-6)
    c = a.clone()
    c.addcmul_(a, b)
    np.testing.assert_allclose(c.numpy(), a_np + a_np * a_np.conj())
    c = a.clone()
    c.lerp_(b, 0.3)
    np.testing.assert_allclose(c.numpy(), a_np + 0.3 * (a_np.conj() - a_np), rtol=1e-6)
    assert rustdl.ones(2, 2).type_as(a).dtype == rustdl.complex64
    assert a.nbytes == 4 * 8 and a.itemsize == 8
    # L = Σ|y|², y = x + 2·x·x̄ = x + 2|x|²: PyTorch's gradient is 2·∂L/∂x̄ = 2·(y + 4·Re(y)·x)
    xv = np.array([1 + 1j, 2 - 1j])
    x = rustdl.tensor(xv, dtype=rustdl.complex128, requires_grad=True)
    (rustdl.addcmul(x, x, x.conj(), value=2.0).abs() ** 2).sum().backward()
    y = xv + 2 * np.abs(xv) ** 2
    np.testing.assert_allclose(x.grad.numpy(), 2 * (y + 4 * y.real * xv))


def test_complex_tensor_classes_name_torch_under_the_compat_layer(tmp_path):
    src = """
    import json, pickle
    import torch
    a = torch.ones(2, dtype=torch.cfloat)
    p = torch.nn.Parameter(torch.zeros(2, dtype=torch.cfloat))
    q = pickle.loads(pickle.dumps(p))
    print(json.dumps({"mod": type(a).__module__.split(".")[0], "param": isinstance(p, torch.nn.Parameter),
                      "pickled": [type(q).__name__, q.dtype == torch.complex64, q.requires_grad]}))
    """
    got = compat_report(run_compat(tmp_path, src, env={"RUSTDL_COMPAT_DEVICE": "cpu"}))
    assert got == {"mod": "torch", "param": True, "pickled": ["ComplexParameter", True, True]}


def test_optimizer_load_state_dict_keeps_objects_shared_between_groups():
    p1, p2 = nn.Parameter(rustdl.zeros(1)), nn.Parameter(rustdl.zeros(1))
    o = rustdl.optim.SGD([{"params": [p1]}, {"params": [p2]}], lr=0.1)
    shared = [0]
    o.param_groups[0]["buf"] = o.param_groups[1]["buf"] = shared
    o2 = rustdl.optim.SGD([{"params": [p1]}, {"params": [p2]}], lr=0.1)
    o2.load_state_dict(o.state_dict())
    assert o2.param_groups[0]["buf"] is o2.param_groups[1]["buf"]
    assert o2.param_groups[0]["buf"] == [0] and o2.param_groups[0]["buf"] is not shared


def test_torch_format_keeps_containers_shared_between_entries(tmp_path):
    import collections

    from rustdl import _torch_format

    lst = [1, 2]
    d = {"a": lst}
    lst.append(d)  # a cycle through the dict
    od = collections.OrderedDict(w=rustdl.ones(2))
    path = tmp_path / "shared.pt"
    _torch_format.save({"x": lst, "y": lst, "d": d, "od": od, "od2": od, "t": (lst, lst)}, str(path))
    r = rustdl.load(path, weights_only=False)
    assert r["x"] is r["y"] and r["t"][0] is r["x"] and r["t"][1] is r["x"]
    assert r["d"] is r["x"][2] and r["d"]["a"] is r["x"] and r["x"][:2] == [1, 2]
    assert r["od"] is r["od2"] and r["od"]["w"].tolist() == [1.0, 1.0]


class _ComplexAdam(rustdl.optim.Optimizer):
    """An optimizer with its own step, written for complex parameters (as libraries write them):
    the second moment is g·ḡ."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, dict(lr=lr))

    @rustdl.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                st = self.state[p]
                if not st:
                    st["m"], st["v"] = rustdl.zeros_like(g), rustdl.zeros_like(g)
                st["m"].mul_(0.9).add_(g, alpha=0.1)
                st["v"].mul_(0.99).addcmul_(g, g.conj(), value=0.01)
                p.add_(st["m"] / (st["v"].abs().sqrt() + 1e-8), alpha=-group["lr"])


def test_an_optimizer_with_its_own_step_sees_complex_parameters_and_gradients():
    z0 = np.array([1 + 0.5j, 2 - 1j])
    p = nn.Parameter(rustdl.tensor(z0, dtype=rustdl.complex128))
    opt = _ComplexAdam([p])
    assert isinstance(opt.param_groups[0]["params"][0], nn.Parameter)
    assert opt.param_groups[0]["params"][0].is_complex()
    z, m, v = z0.copy(), np.zeros(2, complex), np.zeros(2, complex)
    for _ in range(3):
        opt.zero_grad()
        (p.abs() ** 2).sum().backward()
        opt.step()
        g = 2 * z  # PyTorch's gradient of Σ|z|²
        m = 0.9 * m + 0.1 * g
        v = 0.99 * v + 0.01 * g * g.conj()
        z = z - 0.1 * m / (np.sqrt(np.abs(v)) + 1e-8)
    np.testing.assert_allclose(p.detach().numpy(), z, rtol=1e-12)
    assert opt.state[p]["m"].is_complex()  # the user reads the state by the complex parameter
    # a resumed copy continues identically
    opt2 = _ComplexAdam([p])
    opt2.load_state_dict(opt.state_dict())
    np.testing.assert_allclose(opt2.state[p]["v"].numpy(), v)
    # rustdl's own optimizers (and subclasses calling their step) still step the real storage
    q = nn.Parameter(rustdl.tensor(z0, dtype=rustdl.complex128))

    class Sub(rustdl.optim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    for cls in (rustdl.optim.SGD, Sub):
        q.data = rustdl.tensor(z0, dtype=rustdl.complex128)
        sgd = cls([q], lr=0.1, momentum=0.9)
        for _ in range(2):
            sgd.zero_grad()
            (q.abs() ** 2).sum().backward()
            sgd.step()
        sgd2 = cls([q], lr=0.1, momentum=0.9)
        sgd2.load_state_dict(sgd.state_dict())
        sgd2.zero_grad()
        (q.abs() ** 2).sum().backward()
        sgd2.step()
        # momentum SGD on z with gradient 2z: buf ← 0.9·buf + 2z, z ← z − 0.1·buf
        zz, buf = z0.copy(), np.zeros(2, complex)
        for k in range(3):
            buf = 2 * zz if k == 0 else 0.9 * buf + 2 * zz
            zz = zz - 0.1 * buf
        np.testing.assert_allclose(q.detach().numpy(), zz, rtol=1e-12)


def test_pooling_and_padding_take_what_pytorch_takes():
    x = rustdl.arange(16.0).reshape(1, 1, 4, 4)
    # any truthy return_indices
    out, idx = nn.MaxPool2d(2, return_indices=1)(x)
    assert out.tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]] and idx.tolist() == [[[[5, 7], [13, 15]]]]
    _, idx = F.adaptive_max_pool1d(x[0], 2, return_indices=1)
    assert idx.dtype == rustdl.int64
    # a 2-tuple in a 2-D pad pads the last dim only
    assert nn.ZeroPad2d((2, 1))(x).shape == (1, 1, 4, 7)
    with pytest.raises(TypeError):
        nn.ZeroPad2d((2, 1, 3))
    # int64 windows: truncating division (-5/4 → -1)
    assert F.avg_pool2d(rustdl.tensor([[[[-3, -2], [0, 0]]]]), 2).tolist() == [[[[-1]]]]
    got = F.avg_pool2d(rustdl.arange(9).reshape(1, 1, 3, 3), 2, stride=1, padding=1)
    assert got.dtype == rustdl.int64
    assert got.tolist() == [[[[0, 0, 0, 0], [0, 2, 3, 1], [2, 5, 6, 3], [1, 3, 3, 2]]]]
    assert F.avg_pool1d(rustdl.arange(8).reshape(1, 1, 8), 3).tolist() == [[[1, 4]]]
    assert F.avg_pool3d(rustdl.arange(8).reshape(1, 1, 2, 2, 2), 2).tolist() == [[[[[3]]]]]
    # an adaptive pool to size 0 gives an empty result
    y = rustdl.randn(1, 2, 5, requires_grad=True)
    assert F.adaptive_avg_pool1d(y, 0).shape == (1, 2, 0)
    e, i = F.adaptive_max_pool1d(y, 0, return_indices=True)
    assert e.shape == (1, 2, 0) and i.shape == (1, 2, 0)
    with pytest.raises(ValueError):
        F.adaptive_avg_pool1d(y, -1)
    # a complex tensor compared with a string is unequal, not an error
    z = rustdl.ones(2, dtype=rustdl.cfloat)
    assert (z == "a") is False and (z != "a") is True


def test_int64_average_pooling_of_a_gpu_tensor_stays_on_the_gpu():
    need_gpu()
    x = rustdl.arange(9).reshape(1, 1, 3, 3).to("gpu")
    got = F.avg_pool2d(x, 2, stride=1, padding=1)
    assert got.device.type == "gpu" and got.dtype == rustdl.int64
    assert got.tolist() == [[[[0, 0, 0, 0], [0, 2, 3, 1], [2, 5, 6, 3], [1, 3, 3, 2]]]]
