"""Fixes found by the 2026-12-07 (third) library rounds: clamp's gradient with tensor bounds,
custom Functions' materialised gradients, torch's private casts and samplers, the stateless
reparametrisation context."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import rustdl
from rustdl.autograd import Function

NAN = float("nan")


def _clamp_reference(x: float, lo: float, hi: float) -> tuple[float, float, float]:
    """PyTorch's gradients of clamp(x, lo, hi) (tensor bounds) for the input and both bounds."""
    if math.isnan(x):
        return 1.0, 0.0, float(lo > hi)
    if math.isnan(lo):
        return float(not x > hi), 0.0, 0.0
    if math.isnan(hi):
        return float(not x < lo), 0.0, 0.0
    if lo > hi:
        return 0.0, 0.0, 1.0
    if x < lo:
        return 0.0, 1.0, 0.0
    if x > hi:
        return 0.0, 0.0, 1.0
    if lo == hi:
        return 1.0, 0.0, 0.0
    if x == lo:
        return 0.5, 0.5, 0.0
    if x == hi:
        return 0.5, 0.0, 0.5
    return 1.0, 0.0, 0.0


def test_clamp_with_tensor_bounds_splits_ties_as_pytorch(device):
    vals = [-1.0, 0.0, 1.0, NAN]
    cases = list(itertools.product(vals, vals, vals))
    x = rustdl.tensor([c[0] for c in cases], device=device, requires_grad=True)
    lo = rustdl.tensor([c[1] for c in cases], device=device, requires_grad=True)
    hi = rustdl.tensor([c[2] for c in cases], device=device, requires_grad=True)
    out = rustdl.clamp(x, min=lo, max=hi)
    out.sum().backward()
    want = np.array([_clamp_reference(*c) for c in cases])
    np.testing.assert_array_equal(x.grad.cpu().numpy(), want[:, 0])
    np.testing.assert_array_equal(lo.grad.cpu().numpy(), want[:, 1])
    np.testing.assert_array_equal(hi.grad.cpu().numpy(), want[:, 2])
    # the value is unchanged: min(max(x, lo), hi) with NaN propagated
    ref = np.array([NAN if any(math.isnan(v) for v in c) else min(max(c[0], c[1]), c[2]) for c in cases])
    np.testing.assert_array_equal(out.detach().cpu().numpy(), ref.astype(np.float32))


def test_clamp_with_one_tensor_bound_is_maximum_or_minimum():
    x = rustdl.tensor([0.0, 0.5, 1.0, 2.0, -1.0, NAN], requires_grad=True)
    b = rustdl.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 0.0], requires_grad=True)
    for fn, ref in (
        (lambda: x.clamp(min=b), rustdl.maximum),
        (lambda: rustdl.clamp_max(x, b), rustdl.minimum),
    ):
        x.grad = b.grad = None
        fn().sum().backward()
        got = (x.grad.clone(), b.grad.clone())
        x.grad = b.grad = None
        ref(x, b).sum().backward()
        np.testing.assert_array_equal(got[0].numpy(), x.grad.numpy())
        np.testing.assert_array_equal(got[1].numpy(), b.grad.numpy())


def test_clamp_tensor_bounds_broadcast_and_match_finite_differences():
    rustdl.manual_seed(0)
    x = rustdl.randn(3, 4, dtype=rustdl.float64, requires_grad=True)
    lo = rustdl.full((4,), -0.5, dtype=rustdl.float64, requires_grad=True)
    hi = rustdl.full((3, 1), 0.5, dtype=rustdl.float64, requires_grad=True)
    assert rustdl.autograd.gradcheck(lambda a, b, c: rustdl.clamp(a, b, c), (x, lo, hi))
    y = x.detach().clone()
    y.clamp_(min=lo.detach(), max=hi.detach())
    np.testing.assert_array_equal(y.numpy(), np.clip(x.detach().numpy(), -0.5, 0.5))


class _TwoOut(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.set_materialize_grads(False)
        return x * 2, y * 3

    @staticmethod
    def backward(ctx, ga, gb):
        ctx.seen = (ga, gb)
        return ga * 2, (None if gb is None else gb * 3)


def test_set_materialize_grads_false_hands_none_for_unreached_outputs():
    x = rustdl.tensor([1.0], requires_grad=True)
    y = rustdl.tensor([1.0], requires_grad=True)
    a, b = _TwoOut.apply(x, y)
    a.sum().backward(retain_graph=True)
    assert x.grad.tolist() == [2.0] and y.grad is None
    (a.sum() + b.sum()).backward()  # both reached now: no flag is left over from the first call
    assert x.grad.tolist() == [4.0] and y.grad.tolist() == [3.0]


class _WithIndex(Function):
    seen: tuple = ()

    @staticmethod
    def forward(ctx, x):
        i = x.argmax()
        ctx.mark_non_differentiable(i)
        return x * 2, i, 3

    @staticmethod
    def backward(ctx, g, gi, gn):
        _WithIndex.seen = (gi, gn)
        return g * 2


def test_non_differentiable_outputs_get_materialised_zeros():
    x = rustdl.tensor([1.0, 3.0], requires_grad=True)
    y, i, n = _WithIndex.apply(x)
    y.sum().backward()
    gi, gn = _WithIndex.seen
    assert gi.dtype == rustdl.int64 and gi.shape == () and gi.item() == 0 and gn is None
    assert x.grad.tolist() == [2.0, 2.0]


def test_private_casts_and_samplers():
    assert rustdl._cast_Long(rustdl.tensor([1.7, -2.2])).tolist() == [1, -2]
    assert rustdl._cast_Byte(rustdl.tensor([3.0])).dtype == rustdl.uint8
    assert rustdl._cast_Double(rustdl.tensor([1])).dtype == rustdl.float64
    rustdl.manual_seed(3)
    a = rustdl.tensor([0.5, 2.0, 5.0], requires_grad=True)
    s = rustdl._standard_gamma(a)
    rustdl.manual_seed(3)
    ref = rustdl.distributions.Gamma(a.detach(), rustdl.ones(3)).rsample()
    np.testing.assert_allclose(s.detach().numpy(), ref.numpy(), rtol=1e-6)
    s.sum().backward()
    assert a.grad.shape == (3,) and bool((a.grad > 0).all())
    d = rustdl._sample_dirichlet(rustdl.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]]))
    np.testing.assert_allclose(d.sum(-1).numpy(), [1.0, 1.0], rtol=1e-6)
    with pytest.raises(RuntimeError, match="_standard_gamma"):
        rustdl._standard_gamma(rustdl.tensor([1, 2]))


def test_reparametrize_module_swaps_for_the_block_only():
    from rustdl.nn.utils.stateless import _reparametrize_module

    m = rustdl.nn.Linear(2, 1)
    w0 = m.weight
    with _reparametrize_module(m, {"weight": rustdl.ones(1, 2), "bias": rustdl.zeros(1)}):
        assert m(rustdl.tensor([[1.0, 2.0]])).item() == 3.0
    assert m.weight is w0
    with pytest.raises(RuntimeError, match="strict"):
        with _reparametrize_module(m, {"weight": rustdl.ones(1, 2)}, strict=True):
            pass
    assert m.weight is w0


def test_classes_name_pytorchs_modules_and_whole_models_load_with_their_classes_allowed(tmp_path):
    from conftest import compat_report, run_compat

    proc = run_compat(
        tmp_path,
        """
        import json, pickle, torch, torch.nn as nn
        import torch.distributions as D
        homes = {c.__name__: c.__module__ for c in (
            nn.BatchNorm2d, nn.LazyBatchNorm1d, nn.SyncBatchNorm, nn.InstanceNorm1d, nn.Flatten,
            nn.Unflatten, nn.ChannelShuffle, nn.LayerNorm, D.Normal, D.Gamma, D.Beta,
            D.StudentT, D.ExpTransform, D.MultivariateNormal, torch.autograd.Function,
            torch.optim.Adam)}
        m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.Flatten())
        h = m[0].register_forward_hook(lambda mod, a, k, o: o, with_kwargs=True)
        h.remove()  # the with_kwargs record stays, as PyTorch's (an empty OrderedDict)
        torch.save(m, "whole.pt")
        with torch.serialization.safe_globals([nn.Sequential, nn.Linear, nn.BatchNorm1d, nn.Flatten]):
            m2 = torch.load("whole.pt")
        # a hook registered after loading still gets its keyword arguments
        seen = []
        m2[0].register_forward_pre_hook(lambda mod, a, k: seen.append(sorted(k)), with_kwargs=True)
        m2.eval()(torch.ones(3, 2))
        d = pickle.loads(pickle.dumps(D.Normal(torch.zeros(2), torch.ones(2))))
        print(json.dumps({"homes": homes, "types": [type(x).__name__ for x in m2], "seen": seen,
                          "lp": d.log_prob(torch.zeros(2)).tolist()}))
        """,
    )
    r = compat_report(proc)
    assert r["homes"] == {
        "BatchNorm2d": "torch.nn.modules.batchnorm",
        "LazyBatchNorm1d": "torch.nn.modules.batchnorm",
        "SyncBatchNorm": "torch.nn.modules.batchnorm",
        "InstanceNorm1d": "torch.nn.modules.instancenorm",
        "Flatten": "torch.nn.modules.flatten",
        "Unflatten": "torch.nn.modules.flatten",
        "ChannelShuffle": "torch.nn.modules.channelshuffle",
        "LayerNorm": "torch.nn.modules.normalization",
        "Normal": "torch.distributions.normal",
        "Gamma": "torch.distributions.gamma",
        "Beta": "torch.distributions.beta",
        "StudentT": "torch.distributions.studentT",
        "ExpTransform": "torch.distributions.transforms",
        "MultivariateNormal": "torch.distributions.multivariate_normal",
        "Function": "torch.autograd.function",
        "Adam": "torch.optim.adam",
    }
    assert r["types"] == ["Linear", "BatchNorm1d", "Flatten"] and r["seen"] == [[]]
    assert r["lp"] == pytest.approx([-0.9189385] * 2)


def test_grad_at_inner_nodes_of_different_depths():
    # autograd.grad walks the graph only down to the lowest wanted node; every wanted node at
    # any depth still gets its gradient, and a leaf wanted beside them walks the whole graph
    w = rustdl.tensor([1.0, 2.0], dtype=rustdl.float64, requires_grad=True)
    a = w * 3.0  # low
    b = a.exp()  # middle
    side = w.sin()  # a branch that joins above b
    c = (b * side).sum()
    gb, ga = rustdl.autograd.grad(c, [b, a], retain_graph=True)
    wv = np.array([1.0, 2.0])
    np.testing.assert_allclose(gb.numpy(), np.sin(wv))
    np.testing.assert_allclose(ga.numpy(), np.sin(wv) * np.exp(3 * wv))
    (gw,) = rustdl.autograd.grad(c, [w], retain_graph=True)
    np.testing.assert_allclose(gw.numpy(), 3 * np.exp(3 * wv) * np.sin(wv) + np.exp(3 * wv) * np.cos(wv))
    # an input below which a long history lies, and a side branch reaching it from elsewhere
    x = w
    for _ in range(2000):
        x = x * 1.0 + 0.0
    y = x * x
    (gx,) = rustdl.autograd.grad((y + x.detach() * x).sum(), [x])
    np.testing.assert_allclose(gx.numpy(), 3 * wv)


class _Scaled(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.scale = 3.0
        ctx.save_for_backward(x)
        return x * ctx.scale

    @staticmethod
    def backward(ctx, g):
        return g * ctx.scale


def test_a_functions_grad_fn_reads_as_its_ctx():
    x = rustdl.ones(2, requires_grad=True)
    y = _Scaled.apply(x)
    fn = y.grad_fn
    assert fn.scale == 3.0 and fn.needs_input_grad == (True,) and fn.saved_tensors[0] is x
    assert fn.metadata == {}
    with pytest.raises(AttributeError):
        fn.missing  # noqa: B018
    with pytest.raises(AttributeError):
        (y * 2).grad_fn.scale  # noqa: B018  (an op's own node has no ctx)
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    out = _WithIndex.apply(rustdl.ones(2, requires_grad=True))
    assert out[0].grad_fn.needs_input_grad == (True,)


def test_pytorch_objects_sent_through_plain_pickle_load(tmp_path):
    # written by real PyTorch with pickle.dump (tests/python/data/make_pytorch_pickle.py)
    from pathlib import Path

    from conftest import compat_report, run_compat

    data = Path(__file__).parent / "data" / "pytorch_plain_pickle.pkl"
    proc = run_compat(
        tmp_path,
        f"""
        import json, pickle, torch
        d = pickle.load(open({str(data)!r}, "rb"))
        base, row = d["same_storage"]
        row[0] = -1.0  # plain pickle copies each tensor's storage (PyTorch's too): base keeps 4.0
        lin = d["linear"]
        print(json.dumps({{
            "view": d["view"].tolist(), "view_stride": list(d["view"].stride()),
            "base": base.tolist(), "param": [type(d["param"]).__name__, d["param"].requires_grad,
            d["param"].tolist()], "ints": [str(d["ints"].dtype), d["ints"].tolist()],
            "f64": [str(d["f64"].dtype), d["f64"].tolist()], "linear": type(lin).__name__,
            "same_out": torch.allclose(lin(torch.tensor([[1.0, 2.0]])), d["linear_out"]),
        }}))
        """,
    )
    r = compat_report(proc)
    assert r["view"] == [[1.0, 3.0], [5.0, 7.0], [9.0, 11.0]] and r["view_stride"] == [4, 2]
    assert r["base"] == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0, 10.0, 11.0]]
    assert r["param"] == ["Parameter", True, [1.5, -2.0]]
    assert r["ints"] == ["torch.int64", [[1, 2], [3, 4]]]
    assert r["f64"] == ["torch.float64", [0.25, 1e-300]]
    assert r["linear"] == "Linear" and r["same_out"] is True


def test_antialiased_interpolate_with_align_corners():
    # align_corners sets the scale to (n_in - 1) / (n_out - 1) = 2: output i's triangle filter,
    # widened 2x, centred at 2 (i + 0.5), over the pixels inside (worked by hand)
    x = rustdl.arange(5.0, dtype=rustdl.float64).reshape(1, 1, 1, 5)
    y = rustdl.nn.functional.interpolate(x, size=(1, 3), mode="bilinear", align_corners=True, antialias=True)
    np.testing.assert_allclose(y.flatten().numpy(), [5 / 7, 2.5, 3.75], rtol=1e-12)
    xg = rustdl.randn(1, 2, 9, 7, dtype=rustdl.float64, requires_grad=True)
    f = lambda t: rustdl.nn.functional.interpolate(  # noqa: E731
        t, size=(4, 3), mode="bicubic", align_corners=True, antialias=True
    )
    assert rustdl.autograd.gradcheck(f, (xg,))


@pytest.mark.parametrize("kind", ["hash", "file", "tcp"])
def test_distributed_stores(kind, tmp_path):
    import threading
    from datetime import timedelta

    import rustdl.distributed as dist

    if kind == "hash":
        s = dist.HashStore()
    elif kind == "file":
        s = dist.FileStore(str(tmp_path / "store"), 1)
    else:
        s = dist.TCPStore("127.0.0.1", 0, 2, True, timedelta(seconds=10))
    s.set("a", "1")
    assert s.get("a") == b"1" and s.add("n", 3) == 3 and s.add("n", -5) == -2 and s.get("n") == b"-2"
    assert s.check(["a", "n"]) and not s.check(["a", "missing"])
    assert s.compare_set("k", "", "v1") == b"v1" and s.compare_set("k", "x", "v2") == b"v1"
    assert s.delete_key("k") and not s.check(["k"])
    s.append("log", "ab")
    s.append("log", b"cd")
    assert s.get("log") == b"abcd"
    timer = threading.Timer(0.1, lambda: s.set("late", b"\x00\xff"))
    timer.start()
    assert s.get("late") == b"\x00\xff"  # get waits for the key
    p = dist.PrefixStore("run1", s)
    p.set("x", "y")
    assert p.get("x") == b"y" and s.get("run1/x") == b"y"
    s.set_timeout(timedelta(seconds=0.2))
    with pytest.raises(dist.DistStoreError, match="never"):
        s.get("never")
    if kind == "tcp":  # a second client of the same server sees the keys
        c = dist.TCPStore("127.0.0.1", s.port, 2, False, timedelta(seconds=10))
        c.set("from_client", "hi")
        assert s.get("from_client") == b"hi" and c.get("a") == b"1"


@pytest.mark.parametrize("name", ["sin", "cos", "tan", "sinh", "cosh", "tanh", "sigmoid"])
def test_complex_trigonometric_functions_match_numpy(name):
    v = np.array([1 + 2j, 3.5 - 1j, -0.3 + 0.1j, 0j])
    z = rustdl.tensor(v, dtype=rustdl.complex128)
    ref = 1 / (1 + np.exp(-v)) if name == "sigmoid" else getattr(np, name)(v)
    for got in (getattr(rustdl, name)(z), getattr(z, name)()):
        np.testing.assert_allclose(np.array(got.tolist()), ref, rtol=1e-12, atol=1e-14)
    assert rustdl.allclose(getattr(rustdl, name)(z), rustdl.tensor(ref, dtype=rustdl.complex128))
    near = rustdl.tensor(v * (1 + 1e-9), dtype=rustdl.complex128)
    assert rustdl.isclose(z, near).tolist() == [True] * 4
    assert not rustdl.allclose(z, rustdl.tensor(v + 1e-3, dtype=rustdl.complex128))
