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
    assert set(fe.state_dict()) <= set(m.state_dict()) and "fc.weight" in fe.state_dict()
    assert "layer3.1.conv2" in get_graph_node_names(m)[0]
    with pytest.raises(ValueError, match="not in the model"):
        create_feature_extractor(m, ["layer9"])
