"""Fixes and additions found by the 2026-12-07 (second) library and fuzzing rounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rustdl


@pytest.mark.parametrize(
    "bins, kw",
    [
        (3, {}),
        ([2, 4], {"range": [-1.0, 1.0, -2.0, 2.0]}),
        (3, {"density": True, "weighted": True}),
        ("edges", {}),
    ],
)
def test_histogramdd_matches_numpy(bins, kw):
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(60, 2))
    w = rng.random(60)
    kw = dict(kw)
    weighted = kw.pop("weighted", False)
    if bins == "edges":
        np_bins = [np.array([-3.0, 0.0, 3.0]), np.linspace(-1, 1, 5)]
        bins = [rustdl.tensor(e, dtype=rustdl.float64) for e in np_bins]
    else:
        np_bins = bins
    np_kw = dict(kw)
    if "range" in np_kw:
        r = np_kw.pop("range")
        np_kw["range"] = [(r[0], r[1]), (r[2], r[3])]
    if weighted:
        kw["weight"] = rustdl.tensor(w, dtype=rustdl.float64)
        np_kw["weights"] = w
    hist, edges = rustdl.histogramdd(rustdl.tensor(pts, dtype=rustdl.float64), bins, **kw)
    want_h, want_e = np.histogramdd(pts, np_bins, **np_kw)
    np.testing.assert_allclose(hist.numpy(), want_h)
    assert len(edges) == 2
    for e, we in zip(edges, want_e):
        np.testing.assert_allclose(e.numpy(), we)
    assert hist.dtype == rustdl.float64


def test_histogramdd_batched_points_empty_input_and_errors():
    x = rustdl.randn(4, 5, 3)
    hist, edges = rustdl.histogramdd(x, 2)
    assert tuple(hist.shape) == (2, 2, 2) and hist.sum().item() == 20
    assert all(tuple(e.shape) == (3,) for e in edges)
    hist, edges = rustdl.histogramdd(rustdl.zeros(0, 2), 2)
    assert hist.sum().item() == 0 and edges[0].tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(TypeError):
        rustdl.histogramdd(rustdl.arange(4).view(2, 2), 2)
    with pytest.raises(ValueError, match="one entry per dimension"):
        rustdl.histogramdd(x, [2])
    with pytest.raises(ValueError, match="positive"):
        rustdl.histogramdd(x, 0)


def test_deepcopy_of_a_tensor_with_history_is_refused_as_pytorch():
    import copy

    a = rustdl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(a * 2)
    c = copy.deepcopy(a)
    assert c.requires_grad and c.is_leaf and c.tolist() == [1.0, 1.0]
    d = copy.deepcopy((a * 2).detach())
    assert not d.requires_grad and d.tolist() == [2.0, 2.0]


def test_sizes_given_as_numpy_ints_or_integer_tensors():
    x = rustdl.randn(32, dtype=rustdl.float64)
    win = rustdl.hann_window(8, dtype=rustdl.float64)
    assert rustdl.hann_window(rustdl.tensor(8), dtype=rustdl.float64).tolist() == win.tolist()
    assert rustdl.hamming_window(np.int64(8)).shape == (8,)
    assert rustdl.signal.windows.hann(rustdl.tensor(8)).shape == (8,)
    np.testing.assert_allclose(rustdl.fft.rfft(x, n=np.int64(8)).real.numpy(), np.fft.rfft(x.numpy(), 8).real)
    assert rustdl.fft.fftn(x.view(4, 8), s=(np.int64(4), rustdl.tensor(4))).shape == (4, 4)
    spec = rustdl.stft(x, np.int64(8), hop_length=rustdl.tensor(4), window=win, return_complex=True)
    back = rustdl.istft(spec, np.int64(8), hop_length=np.int64(4), window=win, length=rustdl.tensor(32))
    np.testing.assert_allclose(back.numpy(), x.numpy(), atol=1e-12)
    assert x.unfold(-1, rustdl.tensor(8), np.int64(8)).shape == (4, 8)
    with pytest.raises(TypeError, match="window_length"):
        rustdl.hann_window(8.0)
    with pytest.raises(TypeError):
        rustdl.hann_window(rustdl.tensor(8.0))


def test_blackman_window_end_points_are_exactly_zero():
    for periodic in (True, False):
        w = rustdl.blackman_window(10, periodic=periodic, dtype=rustdl.float64).numpy()
        n = np.arange(10)
        m = 10 if periodic else 9
        np.testing.assert_allclose(
            w, 0.42 - 0.5 * np.cos(2 * np.pi * n / m) + 0.08 * np.cos(4 * np.pi * n / m), atol=1e-15
        )
        assert w[0] == 0.0


def test_istft_of_a_two_sided_spectrum_uses_its_non_negative_bins():
    """A real istft reads a two-sided spectrum as one-sided (bins 0..n_fft/2), as PyTorch: energy
    only in a negative-frequency bin inverts to zeros; return_complex=True inverts all bins."""
    spec = rustdl.zeros(8, 3, dtype=rustdl.complex128)
    spec[6, :] = 1
    y = rustdl.istft(
        spec, 8, hop_length=2, window=rustdl.ones(8, dtype=rustdl.float64), onesided=False, center=False
    )
    np.testing.assert_allclose(y.numpy(), np.zeros(12), atol=1e-15)
    # return_complex: the overlap-added inverse DFTs of every frame, against numpy
    rng = np.random.default_rng(1)
    full = rng.normal(size=(8, 5)) + 1j * rng.normal(size=(8, 5))
    z = rustdl.complex(rustdl.tensor(full.real), rustdl.tensor(full.imag))
    out = rustdl.istft(
        z,
        8,
        hop_length=2,
        window=rustdl.ones(8, dtype=rustdl.float64),
        onesided=False,
        center=False,
        return_complex=True,
    )
    frames = np.fft.ifft(full, axis=0)
    sig = np.zeros(8 + 2 * 4, complex)
    env = np.zeros(8 + 2 * 4)
    for t in range(5):
        sig[2 * t : 2 * t + 8] += frames[:, t]
        env[2 * t : 2 * t + 8] += 1
    np.testing.assert_allclose(out.real.numpy(), (sig / env).real, atol=1e-12)
    np.testing.assert_allclose(out.imag.numpy(), (sig / env).imag, atol=1e-12)
    with pytest.raises(RuntimeError, match="onesided"):
        rustdl.istft(z.narrow(0, 0, 5), 8, hop_length=2, onesided=True, return_complex=True)


def test_add_sub_alpha_scale_in_the_promoted_dtype():
    f32, u8, i16 = rustdl.float32, rustdl.uint8, rustdl.int16
    out = rustdl.add(rustdl.tensor([1.0, 2.0]), rustdl.tensor([3, 4], dtype=i16), alpha=0.5)
    assert out.dtype == f32 and out.tolist() == [2.5, 4.0]
    assert rustdl.add(rustdl.tensor([1.0]), rustdl.tensor([200], dtype=u8), alpha=2).tolist() == [401.0]
    t = rustdl.tensor([1.0])
    t.add_(rustdl.tensor([200], dtype=u8), alpha=2)
    assert t.tolist() == [401.0]
    assert rustdl.sub(rustdl.tensor([1.0, 2.0]), rustdl.tensor([200, 250], dtype=u8), alpha=-1).tolist() == [
        201.0,
        252.0,
    ]
    out = rustdl.add(rustdl.tensor([0], dtype=rustdl.int32), rustdl.tensor([30000], dtype=i16), alpha=2)
    assert out.dtype == rustdl.int32 and out.tolist() == [60000]
    # a float alpha with an integral result is refused (it was truncated to 0)
    for a, b in [
        (rustdl.tensor([1], dtype=i16), rustdl.tensor([3], dtype=i16)),
        (rustdl.tensor([1]), 3),
        (rustdl.tensor([True]), rustdl.tensor([True])),
    ]:
        with pytest.raises(RuntimeError, match="alpha must not be a floating point"):
            rustdl.add(a, b, alpha=0.5)
    with pytest.raises(RuntimeError, match="alpha must not be a floating point"):
        rustdl.tensor([1]).sub_(rustdl.tensor([2]), alpha=1.0)
    assert rustdl.add(rustdl.tensor([1], dtype=i16), 3.0, alpha=2).tolist() == [7.0]
    # the deprecated add_(Number alpha, Tensor other) overload still works
    p = rustdl.ones(2)
    p.add_(-0.5, rustdl.ones(2))
    assert p.tolist() == [0.5, 0.5]


def test_addcmul_addcdiv_multiply_in_the_promoted_dtype():
    u8 = rustdl.uint8
    a = rustdl.tensor([200, 7], dtype=u8)
    assert rustdl.addcmul(rustdl.zeros(2), a, a).tolist() == [40000.0, 49.0]
    assert rustdl.addcmul(rustdl.zeros(2), a, a, value=0.5).tolist() == [20000.0, 24.5]
    i8 = rustdl.tensor([100, -100], dtype=rustdl.int8)
    out = rustdl.addcmul(
        rustdl.zeros(2, dtype=rustdl.int32), i8, rustdl.tensor([100, 100], dtype=rustdl.int8)
    )
    assert out.dtype == rustdl.int32 and out.tolist() == [10000, -10000]
    t = rustdl.zeros(2, dtype=rustdl.int16)
    t.addcmul_(a, a)
    assert t.tolist() == [np.int16(np.int32(40000).astype(np.int16)), 49]
    with pytest.raises(RuntimeError, match="Integer division"):
        rustdl.addcdiv(rustdl.zeros(2), a, rustdl.tensor([3, 2], dtype=u8))
    with pytest.raises(RuntimeError, match="value must not be a floating point"):
        rustdl.addcmul(rustdl.zeros(2, dtype=rustdl.int64), a, a, value=0.5)
    x = rustdl.tensor([1.0, 2.0], requires_grad=True)
    y = rustdl.tensor([3.0, 4.0], requires_grad=True)
    rustdl.addcdiv(rustdl.zeros(2), x, y, value=2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 / 3, 0.5], rtol=1e-6)


def test_arange_with_keyword_bounds_truncates_like_positional():
    i64 = rustdl.int64
    assert rustdl.arange(start=-0.5, end=3, dtype=i64).tolist() == [0, 1, 2, 3]
    assert rustdl.arange(-0.5, 3, dtype=i64).tolist() == [0, 1, 2, 3]
    assert rustdl.arange(start=-0.5, end=3, step=1.5, dtype=i64).tolist() == [0, 1, 2]
    assert rustdl.arange(end=3).tolist() == [0, 1, 2]
    assert rustdl.arange(1, end=4).tolist() == [1, 2, 3]
    assert rustdl.arange(start=1, end=2.0, step=0.25).tolist() == [1.0, 1.25, 1.5, 1.75]


def test_index_add_on_integers_truncates_a_float_alpha():
    out = rustdl.index_add(
        rustdl.zeros(2, dtype=rustdl.int8),
        0,
        rustdl.tensor([0]),
        rustdl.tensor([4], dtype=rustdl.int8),
        alpha=0.5,
    )
    assert out.tolist() == [0, 0]
    out = rustdl.index_add(
        rustdl.zeros(2, dtype=rustdl.int64), 0, rustdl.tensor([0]), rustdl.tensor([4]), alpha=2.9
    )
    assert out.tolist() == [8, 0]
    out = rustdl.index_add(rustdl.zeros(2), 0, rustdl.tensor([0]), rustdl.tensor([4.0]), alpha=0.5)
    assert out.tolist() == [2.0, 0.0]


def test_as_tensor_of_a_0d_array_with_a_dtype():
    for arr, dt, want in [
        (np.array(2.5), rustdl.float64, 2.5),
        (np.array(3), rustdl.int64, 3),
        (np.array(3.0), rustdl.int64, 3),
        (np.array(True), rustdl.float32, 1.0),
    ]:
        t = rustdl.as_tensor(arr, dtype=dt)
        assert t.dtype == dt and tuple(t.shape) == () and t.item() == want
        t = rustdl.tensor(arr, dtype=dt)
        assert t.dtype == dt and tuple(t.shape) == () and t.item() == want


def test_svd_of_a_matrix_with_inf_gives_nan_instead_of_hanging():
    a = rustdl.tensor([[float("inf"), 1.0, 2.0], [0.0, 3.0, 4.0], [0.0, 5.0, 7.0]])
    assert bool(rustdl.linalg.svdvals(a).isnan().all())
    _, s, _ = rustdl.linalg.svd(a)
    assert bool(s.isnan().all())
    batch = rustdl.stack([a, rustdl.eye(3)])
    s = rustdl.linalg.svdvals(batch)
    assert bool(s[0].isnan().all()) and s[1].tolist() == [1.0, 1.0, 1.0]
    assert bool(rustdl.linalg.pinv(a).isnan().all())
    x = a.clone().requires_grad_()
    assert bool(rustdl.linalg.svdvals(x).isnan().all())


def test_hermitian_paths_read_the_lower_triangle():
    a = rustdl.tensor([[2.0, 5.0], [1.0, 3.0]], dtype=rustdl.float64)
    sym = np.array([[2.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(rustdl.linalg.pinv(a, hermitian=True).numpy(), np.linalg.inv(sym))
    assert rustdl.linalg.matrix_rank(rustdl.tensor([[1.0, 0.0], [1.0, 1.0]]), hermitian=True).item() == 1
    with pytest.raises(RuntimeError):
        rustdl.linalg.pinv(rustdl.ones(2, 3), hermitian=True)


def test_constant_linalg_results_keep_autograd():
    b = rustdl.randn(2, 3, 3, dtype=rustdl.float64, requires_grad=True)
    p = rustdl.linalg.matrix_power(b, 0)
    assert p.requires_grad and p[1].tolist() == np.eye(3).tolist()
    p.sum().backward()
    assert b.grad.abs().sum().item() == 0.0
    a = rustdl.ones(2, 2, 1, requires_grad=True)
    h = rustdl.linalg.householder_product(a, rustdl.zeros(2, 0))
    assert tuple(h.shape) == (2, 2, 1) and h.requires_grad
    assert h.tolist() == [[[1.0], [0.0]], [[1.0], [0.0]]]


def test_logdet_gradient_at_a_singular_matrix_is_infinite_not_an_error():
    s = rustdl.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=rustdl.float64, requires_grad=True)
    _, logabs = rustdl.linalg.slogdet(s)
    logabs.backward()
    assert not bool(s.grad.isfinite().any())
    assert rustdl.linalg.cond(rustdl.zeros(1, 0, 0)).tolist() == [0.0]


def test_inplace_clamp_and_inplace_casts_follow_pytorch():
    with pytest.raises(RuntimeError, match="300"):
        rustdl.tensor([2, -100], dtype=rustdl.int8).clamp_(min=300)
    assert rustdl.tensor([2, 100], dtype=rustdl.uint8).clamp(-1, 1).tolist() == [1, 1]
    with pytest.raises(TypeError, match="can't be cast"):
        rustdl.tensor([7], dtype=rustdl.uint8).div_(2.5, rounding_mode="floor")
    a = rustdl.tensor([True])
    with pytest.raises(TypeError, match="can't be cast"):
        a <<= rustdl.tensor(3, dtype=rustdl.uint8)
    assert rustdl.tensor([7], dtype=rustdl.uint8).div_(2, rounding_mode="floor").tolist() == [3]
    with pytest.raises(RuntimeError, match="overflow"):
        rustdl.linspace(0, 1e20, 3, dtype=rustdl.int64)
    assert rustdl.linspace(float("nan"), 3, 0, dtype=rustdl.int32).tolist() == []


def test_gcd_take_along_dim_index_copy_and_scatter_edge_values():
    g = rustdl.gcd(rustdl.tensor([1, 6], dtype=rustdl.int8), rustdl.tensor([-128, -128], dtype=rustdl.int8))
    assert g.dtype == rustdl.int8 and g.tolist() == [1, 2]
    x = rustdl.arange(5.0)
    assert rustdl.take_along_dim(x, rustdl.tensor([-1, -2]), dim=0).tolist() == [4.0, 3.0]
    assert rustdl.take_along_dim(x.view(1, 5), rustdl.tensor([[-1]])).tolist() == [4.0]
    out = rustdl.index_copy(rustdl.zeros(2, 3), 1, rustdl.tensor(1), rustdl.ones(2, 1))
    assert out.tolist() == [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    assert rustdl.tensor([5], dtype=rustdl.uint8).scatter(0, rustdl.tensor([0]), -3).tolist() == [253]


def test_complex_data_with_a_real_dtype():
    assert rustdl.tensor([1 + 2j, 0j], dtype=rustdl.bool).tolist() == [True, False]
    with pytest.raises(TypeError, match="real number"):
        rustdl.tensor([1 + 2j, 3], dtype=rustdl.float64)
    with pytest.warns(np.exceptions.ComplexWarning):
        t = rustdl.as_tensor(np.array([1 + 2j, 3], np.complex64), dtype=rustdl.float64)
    assert t.dtype == rustdl.float64 and t.tolist() == [1.0, 3.0]


def test_storage_size_counts_its_bytes():
    import sys

    empty = sys.getsizeof(rustdl.zeros(0).untyped_storage())
    assert sys.getsizeof(rustdl.zeros(100).untyped_storage()) - empty == 400
    assert sys.getsizeof(rustdl.zeros(10, dtype=rustdl.float64).untyped_storage()) - empty == 80


def test_elastic_record_distributed_autograd_and_unserved_dataset_modules(tmp_path):
    from conftest import compat_report, run_compat

    proc = run_compat(
        tmp_path,
        """
        import json, os
        from torch.distributed.elastic.multiprocessing.errors import record
        import torch.distributed.autograd as dist_autograd
        from torchvision.datasets.omniglot import Omniglot
        from torchvision.datasets.svhn import SVHN
        import torchvision

        @record
        def main(x):
            return x * 2

        path = os.path.join(os.getcwd(), "err.json")
        os.environ["TORCHELASTIC_ERROR_FILE"] = path

        @record
        def bad():
            raise ValueError("boom")

        try:
            bad()
        except ValueError:
            pass
        try:
            Omniglot("/nonexistent")
            built = True
        except RuntimeError:
            built = False
        print(json.dumps({
            "ret": main(3),
            "message": json.load(open(path))["message"]["message"],
            "dist_autograd": dist_autograd.is_available(),
            "same_class": torchvision.datasets.Omniglot is Omniglot and torchvision.datasets.SVHN is SVHN,
            "built": built,
        }))
        """,
    )
    r = compat_report(proc)
    assert r == {
        "ret": 6,
        "message": "ValueError: boom",
        "dist_autograd": False,
        "same_class": True,
        "built": False,
    }


def test_backward_runs_the_most_recently_created_ready_node_first():
    """Sibling branches run last-made first, as PyTorch's engine orders its ready queue: tensor
    hooks and module backward hooks fire in that order (grad-cam pairs gradients with layers by
    it)."""
    x = rustdl.ones(2, requires_grad=True)
    order = []
    a = x * 2
    b = x * 3
    a.register_hook(lambda g: order.append("a"))
    b.register_hook(lambda g: order.append("b"))
    (a + b).sum().backward()
    assert order == ["b", "a"]
    order.clear()
    layers = [rustdl.nn.Linear(2, 2) for _ in range(3)]
    for name, m in zip("abc", layers):
        m.register_full_backward_hook(lambda m, gi, go, name=name: order.append(name))
    v = rustdl.randn(1, 2, requires_grad=True)
    (layers[0](v) + layers[1](v) + layers[2](v)).sum().backward()
    assert order == ["c", "b", "a"]
    # gradients are unchanged by the order
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])
    want = sum(m.weight.detach().numpy().sum(0) for m in layers)
    np.testing.assert_allclose(v.grad.numpy()[0], want, rtol=1e-6)


def test_bernoulli_out_and_einsum_of_mixed_dtypes():
    o = rustdl.empty(5, dtype=rustdl.bool)
    r = rustdl.bernoulli(rustdl.ones(5), out=o)
    assert r is o and o.dtype == rustdl.bool and o.tolist() == [True] * 5
    f = rustdl.empty(3)
    rustdl.bernoulli(rustdl.zeros(3), out=f)
    assert f.tolist() == [0.0, 0.0, 0.0]
    out = rustdl.einsum("sr,rai->sai", rustdl.ones(1, 1), rustdl.ones(1, 2, 3, dtype=rustdl.float64))
    assert out.dtype == rustdl.float64 and out.sum().item() == 6.0
    # a product that really sums mixed dtypes is refused, as PyTorch's
    with pytest.raises(RuntimeError):
        rustdl.einsum("ij,jk->ik", rustdl.ones(2, 3), rustdl.ones(3, 2, dtype=rustdl.float64))


def test_writes_into_a_dtype_view_copy_are_refused_not_lost():
    """``view(dtype)`` between dtypes is a copy here (narrow integers are stored widened): an
    in-place write to it, which PyTorch would make reach the source, raises instead of being
    silently lost (schedule-free's parameter swap XORs through byte views)."""
    x = rustdl.tensor([1.0, 2.0, 3.0])
    y = rustdl.tensor([10.0, 20.0, 30.0])
    with pytest.raises(RuntimeError, match="view\\(dtype\\)"):
        x.view(rustdl.uint8).bitwise_xor_(y.view(rustdl.uint8))
    v = x.view(rustdl.int32)
    assert v.tolist() == np.array([1.0, 2.0, 3.0], np.float32).view(np.int32).tolist()
    with pytest.raises(RuntimeError, match="view\\(dtype\\)"):
        v[0] = 5
    with pytest.raises(RuntimeError, match="view\\(dtype\\)"):
        v[1:].add_(1)
    c = v.clone()
    c[0] = 5
    assert c.tolist()[0] == 5
    same = x.view(rustdl.float32)  # the same dtype: a real view
    same.add_(1)
    assert x.tolist() == [2.0, 3.0, 4.0]
    assert x.tolist() == [2.0, 3.0, 4.0] and y.tolist() == [10.0, 20.0, 30.0]


def test_kept_torch_functions_stay_patchable_and_dispatch(tmp_path):
    """The operator namespaces keep the functions they looked up (no __getattr__ on later
    lookups): mock.patch still replaces and restores them (rustdl's module gets its own function
    back), and __torch_function__ subclasses still reach them after the wrappers are installed."""
    from conftest import compat_report, run_compat

    proc = run_compat(
        tmp_path,
        """
        import json
        from unittest import mock
        import torch, torch.nn.functional as F
        import rustdl

        x = torch.tensor([-1.0, 2.0])
        before = (torch.relu, F.relu, torch.cat, torch.float32)
        with mock.patch.object(torch, "relu", lambda t: "patched"):
            patched = torch.relu(x)
        with mock.patch("torch.nn.functional.gelu", lambda t, **k: "pg"):
            patched_f = F.gelu(x)
        seen = []

        class My(torch.Tensor):
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                seen.append(func.__name__)
                return super().__torch_function__(func, types, args, kwargs or {})

        m = torch.tensor([-1.0, 2.0]).as_subclass(My)
        F.relu(m); torch.relu(m); torch.cat([m, m])
        print(json.dumps({
            "patched": [patched, patched_f],
            "restored": torch.relu(x).tolist(),
            "rustdl_relu_is_function": type(rustdl.relu).__name__ == "function",
            "same": torch.relu is before[0] and torch.cat is before[2] and torch.float32 is before[3],
            "seen": seen,
        }))
        """,
    )
    r = compat_report(proc)
    assert r["patched"] == ["patched", "pg"]
    assert r["restored"] == [0.0, 2.0]
    assert r["rustdl_relu_is_function"] and r["same"]
    assert r["seen"] == ["relu", "relu", "cat"]


def test_index_assignment_keeps_the_sign_of_negative_zero():
    x = rustdl.ones(3)
    x[rustdl.tensor([0])] = -0.0
    assert math.copysign(1.0, x[0].item()) == -1.0
    x = rustdl.ones(3)
    x.index_put_((rustdl.tensor([1]),), rustdl.tensor(-0.0))
    assert math.copysign(1.0, x[1].item()) == -1.0 and x.tolist() == [1.0, 0.0, 1.0]
    x = rustdl.ones(3)
    x[[0, 2]] = rustdl.tensor([-0.0, -0.0])
    assert [math.copysign(1.0, v) for v in x.tolist()] == [-1.0, 1.0, -1.0]
    # repeated positions: the last write wins, and every value gets the gradient of its position
    v = rustdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = rustdl.zeros(2).index_put((rustdl.tensor([0, 0, 1]),), v)
    assert y.tolist() == [2.0, 3.0]
    (y * rustdl.tensor([10.0, 100.0])).sum().backward()
    assert v.grad.tolist() == [10.0, 10.0, 100.0]


def test_tile_method_takes_repeats_one_by_one():
    x = rustdl.arange(6.0).view(2, 3)
    assert tuple(x.tile(1, 2).shape) == (2, 6)
    assert x.tile(1, 2).tolist() == np.tile(np.arange(6.0).reshape(2, 3), (1, 2)).tolist()
    assert tuple(x.tile((2,)).shape) == (2, 6) and tuple(x.tile(2).shape) == (2, 6)
    assert tuple(x.tile(2, 1, 1).shape) == (2, 2, 3)


def test_ignored_targets_do_not_carry_their_non_finite_rows_into_the_loss():
    inf, nan = float("inf"), float("nan")
    F = rustdl.nn.functional
    x = rustdl.tensor([[-inf, -inf, -inf], [1.0, 2.0, 3.0]], requires_grad=True)
    t = rustdl.tensor([-100, 2])
    want = -np.log(np.exp(3.0) / np.exp([1.0, 2.0, 3.0]).sum())
    loss = F.cross_entropy(x, t)
    np.testing.assert_allclose(loss.item(), want, rtol=1e-6)
    assert F.cross_entropy(x, t, reduction="none")[0].item() == 0.0
    np.testing.assert_allclose(F.cross_entropy(x, t, label_smoothing=0.1).item(), 0.50761, rtol=1e-4)
    loss.backward()
    soft = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(x.grad[1].numpy(), soft - np.array([0, 0, 1]), rtol=1e-5)
    y = rustdl.tensor([[nan, nan], [-1.0, -2.0]], requires_grad=True)
    loss = F.nll_loss(y, rustdl.tensor([-100, 0]))
    assert loss.item() == 1.0
    loss.backward()
    assert y.grad.tolist() == [[0.0, 0.0], [-1.0, 0.0]]
    assert F.nll_loss(y, rustdl.tensor([-100, 0]), weight=rustdl.tensor([2.0, 1.0])).item() == 1.0


def test_nearest_exact_copies_values_and_max_pool_takes_the_last_nan():
    inf, nan = float("inf"), float("nan")
    F = rustdl.nn.functional
    x = rustdl.tensor([[[1.0, inf, 2.0, 3.0, 4.0, 5.0]]])
    assert F.interpolate(x, size=3, mode="nearest-exact").tolist() == [[[inf, 3.0, 5.0]]]
    p = rustdl.tensor([1.0, nan, 3.0, nan, 0.0]).view(1, 1, 5)
    _, idx = F.max_pool1d(p, 5, return_indices=True, stride=1)
    assert idx.tolist() == [[[3]]]
    _, idx = F.adaptive_max_pool1d(p, 1, return_indices=True)
    assert idx.tolist() == [[[3]]]


def test_pdist_of_one_row_and_with_p_zero_keep_autograd():
    F = rustdl.nn.functional
    x = rustdl.tensor([[1.0, 2.0], [1.0, 5.0]], requires_grad=True)
    d = F.pdist(x, p=0)
    assert d.tolist() == [1.0]
    d.sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    y = rustdl.tensor([[1.0, 2.0]], requires_grad=True)
    d = F.pdist(y)
    assert tuple(d.shape) == (0,) and d.requires_grad
    d.sum().backward()
    assert y.grad.tolist() == [[0.0, 0.0]]


def test_a_post_accumulate_hook_changing_grad_in_place_reaches_only_its_leaf():
    w = rustdl.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=rustdl.float64, requires_grad=True)
    b = rustdl.tensor([0.5, -0.5], dtype=rustdl.float64, requires_grad=True)

    def halve(p):
        p.grad.mul_(0.5)

    b.register_post_accumulate_grad_hook(halve)
    x = rustdl.tensor([1.0, 1.0], dtype=rustdl.float64, requires_grad=True)
    (w @ x + b).sum().backward()
    assert b.grad.tolist() == [0.5, 0.5]
    assert x.grad.tolist() == [4.0, 6.0]
    assert w.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_a_leaf_that_stopped_requiring_grad_accumulates_nothing():
    a = rustdl.tensor([1.0, 2.0], requires_grad=True)
    c = rustdl.tensor([1.0, 1.0], requires_grad=True)
    y = a * a + c
    a.requires_grad_(False)
    y.sum().backward()
    assert a.grad is None and c.grad.tolist() == [1.0, 1.0]


def test_custom_function_details_as_pytorch():
    class Double(rustdl.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return (g * 2).double(), None

    x = rustdl.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.dtype))
    y = Double.apply(x, 3)
    y.sum().backward()
    y.sum().backward()  # nothing saved: a second backward runs, as PyTorch allows
    assert x.grad.tolist() == [4.0, 4.0] and seen == [rustdl.float32, rustdl.float32]

    class Bad(rustdl.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g, g.sum()

    with pytest.raises(RuntimeError, match="not a Variable"):
        Bad.apply(rustdl.ones(2, requires_grad=True), 2.0).sum().backward()


def test_materialized_gradients_of_unused_inputs():
    a = rustdl.ones(3, requires_grad=True)
    b = rustdl.ones(3, requires_grad=True)
    ga, gb = rustdl.autograd.grad((a * 2).sum(), [a, b], create_graph=True, materialize_grads=True)
    assert gb.tolist() == [0.0, 0.0, 0.0] and gb.requires_grad
    ga, gb = rustdl.autograd.grad(
        a * 2, [a, b], rustdl.eye(3)[:2], is_grads_batched=True, materialize_grads=True
    )
    assert tuple(ga.shape) == (2, 3) and tuple(gb.shape) == (3,)


def test_full_backward_hook_fires_once_through_a_double_backward():
    """A double backward that reaches a hooked module's inputs through its saved tensors (not its
    outputs) does not fire the hook again, as PyTorch: the hook's scaling counts once."""
    m = rustdl.nn.Tanh()
    calls = []

    def hook(mod, gi, go):
        calls.append(1)
        return (gi[0] * 2,)

    m.register_full_backward_hook(hook)
    x = rustdl.tensor([0.5, -1.0], dtype=rustdl.float64, requires_grad=True)
    (g,) = rustdl.autograd.grad(m(x).sum(), x, create_graph=True)
    t = np.tanh(x.detach().numpy())
    np.testing.assert_allclose(g.detach().numpy(), 2 * (1 - t**2))
    (g * g).sum().backward()
    # d/dx (2(1 - t²))² = 8 (1 - t²) · (-2 t (1 - t²))
    np.testing.assert_allclose(x.grad.numpy(), 8 * (1 - t**2) * (-2 * t * (1 - t**2)), rtol=1e-12)
    assert len(calls) == 1
    # a second plain backward (retain_graph) fires it again, once
    y = m(x)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    assert len(calls) == 3


def test_a_tensor_hook_may_not_change_the_gradient_dtype():
    b = rustdl.ones(2, dtype=rustdl.float64, requires_grad=True)
    b.register_hook(lambda g: g.float())
    with pytest.raises(RuntimeError, match="changed the type of value"):
        (b * 2).sum().backward()
    c = rustdl.ones(2, requires_grad=True)
    y = c * 2
    y.register_hook(lambda g: g.double())
    with pytest.raises(RuntimeError, match="changed the type of value"):
        y.sum().backward()
    d = rustdl.ones(2, requires_grad=True)
    d.register_hook(lambda g: g * 3)
    (d * 2).sum().backward()
    assert d.grad.tolist() == [6.0, 6.0]
