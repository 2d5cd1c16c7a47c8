"""Fixes found by the fourth 2026-12-07 library and fuzzing rounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rustdl


@pytest.mark.parametrize("name", ["rand", "randn"])
def test_complex_random_tensors_draw_interleaved_pairs(name):
    """A complex ``rand``/``randn`` draws (re, im) pairs from one stream, as PyTorch's: the same
    seed gives the values of a real draw of shape (..., 2) (``randn`` scaled to unit variance)."""
    draw = getattr(rustdl, name)
    scale = 1 / math.sqrt(2) if name == "randn" else 1.0
    for call in (
        lambda **kw: draw(2, 3, **kw),
        lambda **kw: draw((2, 3), **kw),
        lambda **kw: draw(size=(2, 3), **kw),
    ):
        rustdl.manual_seed(7)
        z = call(dtype=rustdl.complex64)
        rustdl.manual_seed(7)
        pairs = draw(2, 3, 2).numpy() * scale
        np.testing.assert_allclose(z.real.numpy(), pairs[..., 0], rtol=1e-6)
        np.testing.assert_allclose(z.imag.numpy(), pairs[..., 1], rtol=1e-6)
    like = getattr(rustdl, name + "_like")
    rustdl.manual_seed(3)
    z = like(rustdl.zeros(4, dtype=rustdl.complex128))
    rustdl.manual_seed(3)
    pairs = draw(4, 2, dtype=rustdl.float64).numpy() * scale
    assert z.dtype == rustdl.complex128
    np.testing.assert_allclose(z.real.numpy(), pairs[:, 0])
    np.testing.assert_allclose(z.imag.numpy(), pairs[:, 1])


def test_complex_randn_like_has_unit_variance():
    z = rustdl.randn_like(rustdl.zeros(20000, dtype=rustdl.complex64))
    assert abs(z.real.numpy().var() - 0.5) < 0.03 and abs(z.imag.numpy().var() - 0.5) < 0.03
    assert abs((z.abs() ** 2).mean().item() - 1.0) < 0.05


def test_multi_head_attention_output_width_follows_the_out_projection():
    """An out projection (O, E) with O != E gives outputs of width O (CLIP's attention pool)."""
    rustdl.manual_seed(0)
    E, O, H, L, N = 8, 4, 2, 3, 2
    x = rustdl.randn(L, N, E, dtype=rustdl.float64)
    qw, kw, vw = (rustdl.randn(E, E, dtype=rustdl.float64) for _ in range(3))
    ow, ob = rustdl.randn(O, E, dtype=rustdl.float64), rustdl.randn(O, dtype=rustdl.float64)
    F = rustdl.nn.functional
    # reference: per-head softmax attention in numpy
    xn = x.numpy()
    q, k, v = xn @ qw.numpy().T, xn @ kw.numpy().T, xn @ vw.numpy().T
    hd = E // H
    heads = []
    for h in range(H):
        sl = slice(h * hd, (h + 1) * hd)
        s = np.einsum("lnd,snd->nls", q[..., sl], k[..., sl]) / math.sqrt(hd)
        w = np.exp(s - s.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        heads.append(np.einsum("nls,snd->lnd", w, v[..., sl]))
    ref = np.concatenate(heads, -1) @ ow.numpy().T + ob.numpy()
    for need_weights in (False, True):
        out, _ = F.multi_head_attention_forward(
            x,
            x,
            x,
            E,
            H,
            None,
            rustdl.zeros(3 * E, dtype=rustdl.float64),
            None,
            None,
            False,
            0.0,
            ow,
            ob,
            training=False,
            need_weights=need_weights,
            use_separate_proj_weight=True,
            q_proj_weight=qw,
            k_proj_weight=kw,
            v_proj_weight=vw,
        )
        assert tuple(out.shape) == (L, N, O)
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-12)


def test_padded_batches_are_laid_out_batch_major():
    """pad_sequence(batch_first=True) and the unsorting pad_packed_sequence give contiguous
    (B, T, *) tensors, as PyTorch's, so ``.view`` works on them."""
    rnn = rustdl.nn.utils.rnn
    p = rnn.pad_sequence([rustdl.arange(4), rustdl.arange(3) + 10], batch_first=True)
    assert p.is_contiguous() and p.view(-1).tolist() == [0, 1, 2, 3, 10, 11, 12, 0]
    p = rnn.pad_sequence([rustdl.arange(2), rustdl.arange(3) + 10], batch_first=True, padding_side="left")
    assert p.is_contiguous() and p.tolist() == [[0, 0, 1], [10, 11, 12]]
    x = rustdl.arange(12.0).reshape(2, 3, 2)
    pk = rnn.pack_padded_sequence(x, rustdl.tensor([2, 3]), batch_first=True, enforce_sorted=False)
    out, lengths = rnn.pad_packed_sequence(pk, batch_first=True)
    assert out.is_contiguous() and lengths.tolist() == [2, 3]
    expected = x.numpy().copy()
    expected[0, 2] = 0
    np.testing.assert_array_equal(out.view(-1).numpy(), expected.reshape(-1))


def test_einsum_products_are_contiguous_in_the_output_order():
    a, b = rustdl.randn(3, 4, 5, dtype=rustdl.float64), rustdl.randn(2, 4, dtype=rustdl.float64)
    e = rustdl.einsum("ijk,...j->...ik", a, b)
    assert e.is_contiguous()
    np.testing.assert_allclose(
        e.view(-1).numpy(), np.einsum("ijk,...j->...ik", a.numpy(), b.numpy()).reshape(-1)
    )
    q, k = rustdl.randn(2, 4, 3, 5), rustdl.randn(2, 6, 3, 5)
    assert rustdl.einsum("bqhd,bkhd->bhqk", q, k).is_contiguous()


def test_finfo_of_complex_dtypes_is_their_parts():
    assert rustdl.finfo(rustdl.complex64).dtype == "float32"
    assert rustdl.finfo(rustdl.complex128).eps == np.finfo(np.float64).eps


def test_retained_gradients_keep_their_history_under_create_graph():
    x = rustdl.tensor([0.5, -1.0, 2.0], dtype=rustdl.float64, requires_grad=True)
    a = x.tanh()
    a.retain_grad()
    (a**3).sum().backward(create_graph=True)
    assert a.grad.requires_grad
    x.grad = None
    (a.grad**2).sum().backward()
    # d/dx sum((3 tanh(x)^2)^2) = 36 tanh^3 (1 - tanh^2)
    t = np.tanh(np.array([0.5, -1.0, 2.0]))
    np.testing.assert_allclose(x.grad.numpy(), 36 * t**3 * (1 - t**2), rtol=1e-12)


def test_gradients_take_the_dtype_of_the_output_not_of_grad_outputs():
    w = rustdl.tensor([0.5, -1.5, 2.0], requires_grad=True)
    (g,) = rustdl.autograd.grad(w * 2, w, rustdl.ones(3, dtype=rustdl.float64))
    assert g.dtype == rustdl.float32 and g.tolist() == [2.0, 2.0, 2.0]


def test_forward_mode_of_logcumsumexp_matches_its_jacobian():
    """Forward mode runs through the backward rule (double vjp); logcumsumexp's rule takes logs
    of the gradient's sign parts, whose derivative at a zero gradient was lost."""
    x = rustdl.tensor([0.5, -1.0, 2.0, 0.0], dtype=rustdl.float64)
    t = rustdl.tensor([1.0, 2.0, -1.0, 0.5], dtype=rustdl.float64)
    xs, ts = x.numpy(), t.numpy()
    # J[j, i] = exp(x_i - out_j) for i <= j
    out = np.logaddexp.accumulate(xs)
    jac = np.tril(np.exp(xs[None, :] - out[:, None]))
    ref = jac @ ts
    _, jv = rustdl.func.jvp(lambda z: rustdl.logcumsumexp(z, 0), (x,), (t,))
    np.testing.assert_allclose(jv.numpy(), ref, rtol=1e-12)
    _, jv = rustdl.autograd.functional.jvp(lambda z: rustdl.logcumsumexp(z, 0), (x,), (t,))
    np.testing.assert_allclose(jv.numpy(), ref, rtol=1e-12)
    fwad = rustdl.autograd.forward_ad
    with fwad.dual_level():
        d = fwad.make_dual(x, t)
        np.testing.assert_allclose(
            fwad.unpack_dual(rustdl.logcumsumexp(d, 0)).tangent.numpy(), ref, rtol=1e-12
        )


def test_torchscript_type_objects_print_and_compare_as_pytorchs():
    L = rustdl.ListType.ofInts()
    assert L == rustdl.ListType(rustdl.IntType.get()) and repr(L) == "List[int]" and L.str() == "int[]"
    assert rustdl.OptionalType.ofTensor().annotation_str == "Optional[Tensor]"
    assert rustdl.TensorType.get() is rustdl.TensorType.get() and str(rustdl.TensorType.get()) == "Tensor"
    assert rustdl.IntType.get().isSubtypeOf(rustdl.NumberType.get())
    assert not rustdl.StringType.get().isSubtypeOf(rustdl.NumberType.get())


def test_concat_dataset_cumsum_and_the_c10d_module(tmp_path):
    assert rustdl.data.ConcatDataset.cumsum([[1, 2], [3], [4, 5, 6]]) == [2, 3, 6]
    from rustdl.distributed import distributed_c10d as c10d

    assert c10d.is_initialized is rustdl.distributed.is_initialized
    # the object collectives pickle through the module's replaceable pickler classes
    from rustdl.distributed import _from_bytes, _to_bytes

    assert _from_bytes(_to_bytes({"a": [1, 2]})) == {"a": [1, 2]}


def test_torchvision_dataset_utils_check_extract_and_never_download(tmp_path):
    import gzip
    import hashlib
    import tarfile

    from rustdl.torchcompat.torchvision import datasets
    from rustdl.torchcompat.torchvision.datasets import utils

    f = tmp_path / "a.txt"
    f.write_bytes(b"hello")
    md5 = hashlib.md5(b"hello").hexdigest()
    assert utils.check_integrity(f, md5) and not utils.check_integrity(f, "0" * 32)
    assert not utils.check_integrity(tmp_path / "missing")
    utils.download_url("https://example.org/a.txt", tmp_path, md5=md5)  # in place: no download
    with pytest.raises(RuntimeError, match="does not download"):
        utils.download_url("https://example.org/b.txt", tmp_path)
    with tarfile.open(tmp_path / "x.tar.gz", "w:gz") as tar:
        tar.add(f, arcname="inner/a.txt")
    utils.extract_archive(tmp_path / "x.tar.gz", tmp_path / "out")
    assert (tmp_path / "out" / "inner" / "a.txt").read_bytes() == b"hello"
    with gzip.open(tmp_path / "y.txt.gz", "wb") as g:
        g.write(b"zz")
    assert open(utils.extract_archive(tmp_path / "y.txt.gz"), "rb").read() == b"zz"
    assert utils.verify_str_arg("train", "split", ("train", "test")) == "train"
    with pytest.raises(ValueError, match="Unknown value 'val'"):
        utils.verify_str_arg("val", "split", ("train", "test"))
    assert sorted(utils.list_dir(tmp_path)) == ["out"]
    with pytest.raises(RuntimeError, match="does not read this dataset"):
        datasets.SVHN(str(tmp_path))


def test_feature_extractor_returns_module_outputs_and_shares_parameters():
    from rustdl.models import resnet18
    from rustdl.models.feature_extraction import create_feature_extractor, get_graph_node_names

    m = resnet18(num_classes=10).eval()
    fe = create_feature_extractor(m, {"layer1": "f1", "layer3.1.conv2": "c", "avgpool": "p"})
    x = rustdl.randn(1, 3, 32, 32)
    out = fe(x)
    assert list(out) == ["f1", "c", "p"]
    # the same values as hooks on the model itself
    seen = {}
    hs = [
        m.layer1.register_forward_hook(lambda mod, a, o: seen.__setitem__("f1", o)),
        m.avgpool.register_forward_hook(lambda mod, a, o: seen.__setitem__("p", o)),
    ]
    m(x)
    for h in hs:
        h.remove()
    np.testing.assert_allclose(out["f1"].detach().numpy(), seen["f1"].detach().numpy())
    np.testing.assert_allclose(out["p"].detach().numpy(), seen["p"].detach().numpy())
    # as torchvision's: what the outputs do not need (fc, after avgpool) is pruned
    assert set(fe.state_dict()) <= set(m.state_dict()) and "fc.weight" not in fe.state_dict()
    assert "layer3.1.conv2" in get_graph_node_names(m)[0]
    with pytest.raises(ValueError, match="not present in model"):
        create_feature_extractor(m, ["layer9"])


# ---------------------------------------------------------------- hostile-input round


def test_in_place_on_a_view_that_is_a_leaf_requiring_grad_is_refused(device):
    """A view made to require grad is a leaf: in place changes to it or to its own views are
    refused with grad on (they were taken, turning it into a non-leaf and giving the untouched
    base a history)."""
    base = rustdl.tensor([-1.0, 2.0, 3.0, -4.0], device=device)
    x = base.reshape(2, 2).requires_grad_()
    assert x.is_leaf
    for op in (lambda: x.relu_(), lambda: x.add_(1), lambda: x.__setitem__(0, 5.0), lambda: x[1].zero_()):
        with pytest.raises(RuntimeError, match="leaf"):
            op()
    assert x.is_leaf and x.grad_fn is None and base.grad_fn is None
    with rustdl.no_grad():
        x.add_(1)
    assert x.tolist() == [[0.0, 3.0], [4.0, -3.0]]


def test_polygamma_of_large_orders_is_quick_and_matches_the_series():
    import time

    start = time.perf_counter()
    for n in (5000, 2**20):
        v = rustdl.polygamma(n, rustdl.tensor([-1.25], dtype=rustdl.float64)).item()
        assert not math.isfinite(v)  # n! overflows (PyTorch's NaN: inf times a zeta that underflows)
    assert time.perf_counter() - start < 5
    # the series (-1)^(n+1) n! sum_k (x + k)^-(n+1) at a negative x, where nothing cancels
    for n, x in ((60, -1.25), (150, -3.3), (7, -1500.25)):
        ref = (-1) ** (n + 1) * math.factorial(n) * math.fsum((x + k) ** -(n + 1) for k in range(20000))
        got = rustdl.polygamma(n, rustdl.tensor([x], dtype=rustdl.float64)).item()
        assert got == pytest.approx(ref, rel=1e-9), (n, x)
    # past 170 the factorial overflows: +inf for an odd order (all terms positive), never NaN
    assert (
        rustdl.polygamma(171, rustdl.tensor([-1.25, 0.3, -7.5], dtype=rustdl.float64)).tolist()
        == [math.inf] * 3
    )


def test_conv_transpose_with_a_stride_beyond_the_address_space_is_an_error():
    F = rustdl.nn.functional
    with pytest.raises(ValueError, match="beyond the address space"):
        F.conv_transpose1d(rustdl.ones(1, 2, 5), rustdl.ones(2, 4, 2), stride=2**62)
    with pytest.raises(ValueError, match="beyond the address space"):
        F.conv_transpose2d(rustdl.ones(1, 2, 5, 5), rustdl.ones(2, 4, 2, 2), stride=(2**62, 1))
    assert (rustdl.ones(3) @ rustdl.ones(3)).item() == 3.0


def test_dropout_of_integers_and_out_of_range_clamp_bounds_are_refused():
    F = rustdl.nn.functional
    with pytest.raises(RuntimeError, match="can't be cast"):
        F.dropout(rustdl.tensor([-6, 1, -5, 2]))
    assert F.dropout(rustdl.tensor([-6, 1]), training=False).tolist() == [-6, 1]
    u = rustdl.tensor([1, 200], dtype=rustdl.uint8)
    for call in (
        lambda: u.clamp(max=-1),
        lambda: u.clamp(min=300),
        lambda: u.clamp_max(-1),
        lambda: rustdl.clamp_min(u, 300),
    ):
        with pytest.raises(RuntimeError, match="without overflow"):
            call()
    assert u.clamp(0, 255).tolist() == [1, 200]
    # a float bound promotes an integer tensor, clamp_min/clamp_max too
    r = rustdl.clamp_min(rustdl.tensor([1, 5]), 2.5)
    assert r.dtype == rustdl.float32 and r.tolist() == [2.5, 5.0]
    assert rustdl.tensor([1, 5]).clamp_max(2.5).tolist() == [1.0, 2.5]
    with pytest.raises(RuntimeError, match="can't be cast"):
        rustdl.tensor([1, 2]).mvlgamma_(1)


def test_functions_write_their_out_argument():
    o = rustdl.zeros(3)
    assert rustdl.angle(rustdl.tensor([-1.0, 1.0, 0.0]), out=o) is o
    np.testing.assert_allclose(o.numpy(), [math.pi, 0.0, 0.0])
    o = rustdl.zeros(2)
    assert rustdl.atan2(rustdl.tensor([1.0, -1.0]), rustdl.tensor([1.0, 1.0]), out=o) is o
    np.testing.assert_allclose(o.numpy(), [math.pi / 4, -math.pi / 4], rtol=1e-6)
    o = rustdl.zeros(4)
    assert rustdl.special.hermite_polynomial_h(rustdl.tensor([0.0, 1.0, 2.0, 0.5]), 2, out=o) is o
    np.testing.assert_allclose(o.numpy(), [-2.0, 2.0, 14.0, -1.0])  # H_2 = 4x^2 - 2
    o = rustdl.zeros(4, dtype=rustdl.complex64)
    assert rustdl.fft.fft(rustdl.arange(4.0), out=o) is o
    np.testing.assert_allclose(o.real.numpy() + 1j * o.imag.numpy(), np.fft.fft(np.arange(4.0)), atol=1e-5)
    o = rustdl.zeros(3)
    r = rustdl.fft.irfft(rustdl.fft.rfft(rustdl.arange(4.0)), n=4, out=rustdl.zeros(4))
    np.testing.assert_allclose(r.numpy(), np.arange(4.0), atol=1e-5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        rustdl.angle(rustdl.tensor([-1.0, 1.0]), out=rustdl.zeros(2, dtype=rustdl.int64))
    t = rustdl.ones(2, 3)
    o = rustdl.zeros(3, 2)
    assert rustdl.t_copy(t, out=o) is o


def test_edge_values_match_pytorchs_definitions():
    F = rustdl.nn.functional
    # logit with eps: below eps reads eps, else above 1 - eps reads 1 - eps (PyTorch's order)
    np.testing.assert_allclose(
        rustdl.logit(rustdl.tensor([0.3, 0.7]), eps=0.6).numpy(), [math.log(1.5), -math.log(1.5)], rtol=1e-6
    )
    # celu with a negative alpha: alpha * (exp(x / alpha) - 1) below 0
    np.testing.assert_allclose(
        F.celu(rustdl.tensor([-1.5, 0.5]), alpha=-3.0).numpy(), [-3 * (math.exp(0.5) - 1), 0.5], rtol=1e-6
    )
    assert (
        not rustdl.zeros(1, dtype=rustdl.uint8).is_signed() and rustdl.zeros(1, dtype=rustdl.int8).is_signed()
    )
    assert rustdl.special.hermite_polynomial_h(rustdl.tensor(0.5), 3).shape == ()
    x = rustdl.tensor([1.0, 2.0])
    assert (x == 1j).tolist() == [False, False] and (x == (2 + 0j)).tolist() == [False, True]
    assert (x != 1j).tolist() == [True, True]
    b = rustdl.tensor([True, False])
    assert (b**0).tolist() == [1, 1] and (b**0).dtype == rustdl.int64 and (b**1).tolist() == [1, 0]
    W = rustdl.arange(15.0).reshape(5, 3)
    bags = F.embedding_bag(
        rustdl.tensor([0, 1, 2, 3]), W, rustdl.tensor([0, 2]), mode="sum", include_last_offset=True
    )
    assert bags.tolist() == [[3.0, 5.0, 7.0]]  # the last offset ends the bag: rows 0 and 1
    assert F.embedding_bag(
        rustdl.tensor([0, 1]), W, rustdl.tensor([], dtype=rustdl.int64), mode="sum"
    ).shape == (0, 3)


def test_edge_inputs_that_were_internal_errors():
    F = rustdl.nn.functional
    img = rustdl.arange(9.0).reshape(1, 1, 3, 3)
    grid = rustdl.tensor([[[[float("nan"), 0.0], [0.5, 0.5]]]])
    out = F.grid_sample(img, grid, align_corners=False).flatten().tolist()
    assert math.isnan(out[0]) and out[1] == pytest.approx(7.0)
    assert F.grid_sample(img, grid, mode="nearest", align_corners=False).flatten().tolist() == [0.0, 8.0]
    assert F.grid_sample(img, grid, padding_mode="border", align_corners=False).flatten().tolist()[0] == 3.0
    assert F.unfold(rustdl.ones(0, 2, 4, 4), 2).shape == (0, 8, 9)
    assert rustdl.nn.LocalResponseNorm(2)(rustdl.ones(2, 4, 0, 3)).shape == (2, 4, 0, 3)
    a = rustdl.randn(3, 4, requires_grad=True)
    d = F.pairwise_distance(a, rustdl.randn(3, 4), p=0)
    assert d.requires_grad
    d.sum().backward()
    assert a.grad is None  # the 0-"norm" has no gradient, as PyTorch's
    w = rustdl.tensor([[3.0, 0.0], [0.5, 0.0], [1.0, 1.0]])
    F.embedding(rustdl.tensor([0, 2]), w, max_norm=1.0, norm_type=0)
    # norm 0 counts nonzeros: row 0 has 1 (not renormed), row 2 has 2 > 1 (halved)
    np.testing.assert_allclose(w.numpy(), [[3.0, 0.0], [0.5, 0.0], [0.5, 0.5]], rtol=1e-6)


def test_vmap_refuses_writing_into_an_unmapped_input():
    a = rustdl.zeros(3)
    with pytest.raises(RuntimeError, match="not mapped"):
        rustdl.vmap(lambda a, b: a.add_(b), in_dims=(None, 0))(a, rustdl.ones(2, 3))
    assert a.tolist() == [1.0, 1.0, 1.0]  # written by the first sample only, then refused
    out = rustdl.vmap(lambda x: x.mul_(2))(rustdl.ones(2, 3))  # a mapped input may be written
    assert out.tolist() == [[2.0] * 3] * 2


# ---------------------------------------------------------------- sequence-model round


def test_ctc_gradient_of_an_impossible_sample_is_nan_in_its_frames():
    """[1, 1] needs 3 frames (a blank between the repeats) but has 2: the loss is inf and, as
    PyTorch's, the gradient NaN in that sample's frames; a feasible sample beside it keeps its
    finite gradient, frames past the input get 0, and zero_infinity=True gives zeros."""
    F = rustdl.nn.functional
    for zero_infinity in (False, True):
        x = rustdl.zeros(3, 2, 3, dtype=rustdl.float64, requires_grad=True)
        loss = F.ctc_loss(
            x.log_softmax(2),
            rustdl.tensor([[1, 1], [1, 2]]),
            rustdl.tensor([2, 2]),
            rustdl.tensor([2, 2]),
            reduction="none",
            zero_infinity=zero_infinity,
        )
        loss.sum().backward()
        g = x.grad.numpy()
        assert loss.tolist()[0] == (0.0 if zero_infinity else math.inf)
        assert loss.tolist()[1] == pytest.approx(math.log(9))  # 1/9: one alignment of [1, 2] in 2 frames
        if zero_infinity:
            assert np.all(g[:, 0] == 0)
        else:
            assert np.all(np.isnan(g[:2, 0])) and np.all(g[2] == 0)
        # the feasible sample: softmax - posterior (one alignment, so posterior is one-hot)
        np.testing.assert_allclose(g[:2, 1], [[1 / 3, -2 / 3, 1 / 3], [1 / 3, 1 / 3, -2 / 3]], rtol=1e-9)


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_functional_rnns_match_the_modules(mode):
    nn = rustdl.nn
    rustdl.manual_seed(0)
    make = {
        "lstm": lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True),
        "gru": lambda: nn.GRU(3, 4, num_layers=2, bidirectional=True),
        "rnn_tanh": lambda: nn.RNN(3, 4, num_layers=2, bidirectional=True),
        "rnn_relu": lambda: nn.RNN(3, 4, num_layers=2, bidirectional=True, nonlinearity="relu"),
    }[mode]
    m = make().double()
    x = rustdl.randn(5, 2, 3, dtype=rustdl.float64)
    h = rustdl.randn(4, 2, 4, dtype=rustdl.float64)
    hx = (h, rustdl.randn(4, 2, 4, dtype=rustdl.float64)) if mode == "lstm" else h
    state = rustdl.get_rng_state()
    got = getattr(rustdl, mode)(x, hx, m._flat_weights, True, 2, 0.0, False, True, False)
    assert rustdl.equal(rustdl.get_rng_state(), state)  # no draw from the generator
    ref = m(x, hx)
    np.testing.assert_allclose(got[0].detach().numpy(), ref[0].detach().numpy(), rtol=1e-12)
    ref_h = ref[1][0] if mode == "lstm" else ref[1]
    np.testing.assert_allclose(got[1].detach().numpy(), ref_h.detach().numpy(), rtol=1e-12)
    # gradients reach the given weights
    got[0].sum().backward()
    assert all(w.grad is not None for w in m._flat_weights)
    from rustdl import _VF

    assert _VF.lstm is rustdl.lstm


def test_complex_tensors_print_as_pytorchs():
    assert repr(rustdl.fft.fft(rustdl.arange(4.0))) == "tensor([ 6.+0.j, -2.+2.j, -2.+0.j, -2.-2.j])"
    assert repr(rustdl.tensor([1.5 + 2j, -0.25 - 1j])) == "tensor([ 1.5000+2.j, -0.2500-1.j])"
    assert repr(
        rustdl.zeros(2, dtype=rustdl.complex128)
    ) == "tensor([0.+0.j, 0.+0.j], dtype=torch.complex128)".replace(
        "torch", repr(rustdl.float32).split(".")[0]
    )


# ---------------------------------------------------------------- in-place fuzz and repo rounds


def test_second_backward_through_in_place_overwrites():
    """zero_/fill_/copy_ keep no tensor (their gradient is zero for the old value): backward
    runs through them twice without retain_graph, as PyTorch's."""
    for op, expect_b in (
        (lambda x, b: x.zero_(), None),
        (lambda x, b: x.fill_(2.0), None),
        (lambda x, b: x.copy_(b), [2.0] * 3),
    ):
        a = rustdl.tensor([1.0, 2.0, 3.0], dtype=rustdl.float64, requires_grad=True)
        b = rustdl.tensor([4.0, 5.0, 6.0], dtype=rustdl.float64, requires_grad=True)
        x = a + 0.5
        op(x, b)
        x.sum().backward()
        x.sum().backward()
        assert a.grad.tolist() == [0.0] * 3
        assert (None if b.grad is None else b.grad.tolist()) == expect_b


def test_views_of_an_expanded_tensor_alias_its_memory():
    a = rustdl.tensor([1.0, 2.0, 3.0], dtype=rustdl.float64)
    e = a.unsqueeze(0).expand(2, 3)
    u, d, s = e.unfold(0, 1, 1), e.diagonal(), e.as_strided((2,), (1,))
    a.add_(10.0)
    assert u.flatten().tolist() == [11.0, 12.0, 13.0] * 2
    assert d.tolist() == [11.0, 12.0] and s.tolist() == [11.0, 12.0]
    # with autograd the gradient tells the shared elements apart (each read counts once)
    a = rustdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    e = a.unsqueeze(0).expand(2, 3)
    (e.diagonal().sum() + e.unfold(0, 1, 1).sum() + e.as_strided((2,), (1,)).sum()).backward()
    assert a.grad.tolist() == [4.0, 4.0, 2.0]


@pytest.mark.parametrize("p", [3, 0.5, 1.5, 4])
def test_norm_of_a_general_p_has_pytorchs_gradient_at_zeros(p):
    F = rustdl.nn.functional
    x = rustdl.zeros(3, requires_grad=True)
    rustdl.norm(x, p=p).backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    x = rustdl.tensor([[1.0, -2.0, 0.0], [0.5, 0.25, -1.0]], dtype=rustdl.float64, requires_grad=True)
    r = x.norm(p, dim=1)
    (g,) = rustdl.autograd.grad(r.sum(), x)
    xn = x.detach().numpy()
    ref = (np.abs(xn) ** p).sum(1) ** (1 / p)
    np.testing.assert_allclose(r.detach().numpy(), ref, rtol=1e-12)
    # d/dx ||x||_p = sign(x) |x|^(p-1) / ||x||^(p-1), 0 at a zero entry
    with np.errstate(divide="ignore", invalid="ignore"):
        gref = np.where(xn == 0, 0.0, np.sign(xn) * np.abs(xn) ** (p - 1) / ref[:, None] ** (p - 1))
    np.testing.assert_allclose(g.numpy(), gref, rtol=1e-10)
    z = rustdl.zeros(1, 2, requires_grad=True)
    F.normalize(z, p=3, dim=1).sum().backward()
    assert np.all(np.isfinite(z.grad.numpy()))
