"""PyTorch behaviour found by differential fuzzing against PyTorch (session 2026-12-05, second
run): empty operands of ``inner``/``median``/integer division, ``gcd``/``lcm`` type promotion,
transposed convolutions whose output is empty, and in-place shape changes of a view of a leaf."""

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F


def test_inner_with_empty_operands_matches_numpy():
    for a_shape, b_shape in [((0,), (2, 0)), ((3, 0), (2, 0)), ((2, 3, 0), (4, 0)), ((0, 5), (2, 5))]:
        a = np.arange(np.prod(a_shape), dtype=np.int16).reshape(a_shape)
        b = np.arange(np.prod(b_shape), dtype=np.int16).reshape(b_shape)
        out = rustdl.inner(rustdl.tensor(a), rustdl.tensor(b))
        ref = np.inner(a, b)
        assert tuple(out.shape) == ref.shape
        assert out.dtype == rustdl.int16
        np.testing.assert_array_equal(out.numpy(), ref)


def test_median_of_an_empty_integer_tensor_keeps_its_dtype():
    for dt in (rustdl.int16, rustdl.uint8, rustdl.int32, rustdl.int64):
        m = rustdl.median(rustdl.zeros(0, 4, dtype=dt))
        assert m.dtype == dt and m.shape == ()
    assert np.isnan(rustdl.median(rustdl.zeros(0)).item())


def test_integer_division_with_an_empty_result_ignores_a_zero_divisor():
    e = rustdl.zeros(0, dtype=rustdl.int32)
    zero = rustdl.tensor(0, dtype=rustdl.int32)
    for op in (rustdl.remainder, rustdl.fmod, rustdl.floor_divide):
        out = op(e, zero)
        assert tuple(out.shape) == (0,) and out.dtype == rustdl.int32
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        rustdl.remainder(rustdl.ones(2, dtype=rustdl.int32), zero)


def test_gcd_lcm_promote_like_pytorch():
    # bool with an integer promotes to the integer type; a 0-d operand does not widen
    out = rustdl.lcm(rustdl.tensor([True, False]), rustdl.tensor(4))
    assert out.dtype == rustdl.int64 and out.tolist() == [4, 0]
    g = rustdl.gcd(rustdl.tensor([6, 4], dtype=rustdl.int16), rustdl.tensor(4, dtype=rustdl.int32))
    assert g.dtype == rustdl.int16 and g.tolist() == [2, 4]
    assert rustdl.gcd(rustdl.tensor([12, 18]), rustdl.tensor([8, 27], dtype=rustdl.int8)).tolist() == [4, 9]
    for a, b in ((rustdl.tensor([True]), rustdl.tensor([False])), (rustdl.tensor([1.0]), rustdl.tensor([2]))):
        with pytest.raises(TypeError, match="gcd: expected integer tensors"):
            rustdl.gcd(a, b)


def test_conv_transpose2d_with_an_empty_output_keeps_both_gradients():
    # H_out = (7-1)*1 - 2*1 + (3-1) + 1 = 7, W_out = 0 - 2 + 1 + 1 = 0
    x = rustdl.ones(2, 2, 7, 1, requires_grad=True)
    w = rustdl.ones(2, 2, 3, 2, requires_grad=True)
    y = F.conv_transpose2d(x, w, padding=1)
    assert tuple(y.shape) == (2, 2, 7, 0)
    y.sum().backward()
    assert tuple(x.grad.shape) == (2, 2, 7, 1) and float(x.grad.abs().sum()) == 0.0
    assert tuple(w.grad.shape) == (2, 2, 3, 2) and float(w.grad.abs().sum()) == 0.0


def test_conv_transpose_rejects_empty_spatial_input_and_negative_output():
    with pytest.raises(RuntimeError, match="only a zero batch or zero channels may be empty"):
        F.conv_transpose2d(rustdl.ones(1, 1, 0, 3), rustdl.ones(1, 1, 2, 2))
    with pytest.raises(RuntimeError, match="only a zero batch or zero channels may be empty"):
        F.conv_transpose1d(rustdl.ones(1, 1, 0), rustdl.ones(1, 1, 2))
    with pytest.raises(RuntimeError, match="negative size"):
        F.conv_transpose2d(rustdl.ones(1, 1, 1, 1), rustdl.ones(1, 1, 1, 1), padding=1)
    # an empty batch still works
    assert tuple(F.conv_transpose2d(rustdl.ones(0, 1, 3, 3), rustdl.ones(1, 2, 2, 2)).shape) == (0, 2, 4, 4)


def test_in_place_shape_change_of_a_view_of_a_grad_leaf_is_refused():
    a = rustdl.ones(3, 4, requires_grad=True)
    for op in (lambda v: v.squeeze_(), lambda v: v.unsqueeze_(0), lambda v: v.t_()):
        v = a.view_as(a)
        with pytest.raises(RuntimeError, match="a view of a leaf tensor that requires grad"):
            op(v)
        assert tuple(v.shape) == (3, 4)
    with pytest.raises(RuntimeError, match="a view of a leaf tensor that requires grad"):
        a[0].unsqueeze_(0)
    # allowed under no_grad, and on views of tensors that are not grad leaves
    with rustdl.no_grad():
        v = a.view_as(a)
        v.unsqueeze_(0)
        assert tuple(v.shape) == (1, 3, 4)
    b = (a * 2)[0]
    b.unsqueeze_(0)
    assert tuple(b.shape) == (1, 4)
    b.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.r_[np.full((1, 4), 2.0), np.zeros((2, 4))])


def test_out_argument_is_resized_like_pytorch():
    import warnings

    x = rustdl.tensor([[1.0, 2.0], [3.0, 4.0]])
    ref = x.numpy() @ x.numpy()
    # an empty out= is the idiom: resized silently
    o = rustdl.empty(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = rustdl.matmul(x, x, out=o)
    assert r is o and tuple(o.shape) == (2, 2)
    np.testing.assert_allclose(o.numpy(), ref)
    o = rustdl.empty(5)
    with pytest.warns(UserWarning, match="was resized"):
        rustdl.cat([x, x], out=o)
    np.testing.assert_array_equal(o.numpy(), np.concatenate([x.numpy(), x.numpy()]))
    # an integer result into a float out= is cast; a float result into an integer one is refused
    o = rustdl.empty(0)
    rustdl.add(rustdl.tensor([1, 2]), 1, out=o)
    assert o.dtype == rustdl.float32 and o.tolist() == [2.0, 3.0]
    with pytest.raises(TypeError, match="can't be cast"):
        rustdl.add(x, 1, out=rustdl.empty(0, dtype=rustdl.int64))
    # where takes out= too
    o = rustdl.empty(0)
    rustdl.where(x > 2, x, rustdl.zeros(()), out=o)
    assert o.tolist() == [[0.0, 0.0], [3.0, 4.0]]


def test_pytorch_keyword_names_of_view_repeat_pow_outer_split():
    x = rustdl.arange(6.0).reshape(2, 3)
    assert tuple(x.view(size=(3, 2)).shape) == (3, 2)
    assert tuple(x.view(size=[-1]).shape) == (6,)
    assert tuple(x.repeat(repeats=(2, 1)).shape) == (4, 3)
    np.testing.assert_array_equal(x.repeat(repeats=[1, 2]).numpy(), np.tile(x.numpy(), (1, 2)))
    with pytest.raises(TypeError, match="both positionally"):
        x.view(6, size=(6,))
    np.testing.assert_array_equal(x.pow(exponent=2).numpy(), x.numpy() ** 2)
    a, b = rustdl.tensor([1.0, 2.0]), rustdl.tensor([3.0, 4.0, 5.0])
    np.testing.assert_array_equal(rustdl.outer(a, vec2=b).numpy(), np.outer(a.numpy(), b.numpy()))
    parts = rustdl.split(tensor=x, split_size_or_sections=1, dim=0)
    assert [p.tolist() for p in parts] == [[[0.0, 1.0, 2.0]], [[3.0, 4.0, 5.0]]]


def test_operator_level_functions_in_the_torch_namespace():
    rng = np.random.default_rng(0)
    x = rustdl.tensor(rng.standard_normal((2, 4, 6, 6)).astype(np.float32))
    w = rustdl.tensor(rng.standard_normal((3, 4, 3, 3)).astype(np.float32))
    np.testing.assert_allclose(
        rustdl.conv2d(x, w, None, 2, 1).numpy(), F.conv2d(x, w, stride=2, padding=1).numpy(), rtol=1e-6
    )
    # torch.max_pool2d's empty stride means the kernel size; it returns no indices
    mp = rustdl.max_pool2d(x, 2)
    assert isinstance(mp, rustdl.Tensor)
    np.testing.assert_array_equal(mp.numpy(), x.numpy().reshape(2, 4, 3, 2, 3, 2).max(axis=(3, 5)))
    # torch.adaptive_max_pool1d always returns (values, indices)
    vals, idx = rustdl.adaptive_max_pool1d(x[:, :, 0], 3)
    np.testing.assert_array_equal(vals.numpy(), x[:, :, 0].numpy().reshape(2, 4, 3, 2).max(-1))
    assert idx.dtype == rustdl.int64
    ln = rustdl.layer_norm(x, (6,), None, None, 1e-5, True)
    xn = x.numpy()
    ref = (xn - xn.mean(-1, keepdims=True)) / np.sqrt(xn.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(ln.numpy(), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(rustdl.threshold(x, 0.1, -1.0).numpy(), np.where(xn > 0.1, xn, -1.0))
    np.testing.assert_allclose(rustdl.hardshrink(x, 0.3).numpy(), np.where(np.abs(xn) > 0.3, xn, 0.0))
    np.testing.assert_allclose(
        rustdl.prelu(x, rustdl.full((4,), 0.2)).numpy(), np.where(xn > 0, xn, 0.2 * xn), rtol=1e-6
    )
    assert tuple(rustdl.pixel_shuffle(x, 2).shape) == (2, 1, 12, 12)
    assert tuple(rustdl.pixel_unshuffle(x, 2).shape) == (2, 16, 3, 3)
    assert rustdl.get_device(x) == -1 and rustdl.is_inference(x) is False


def test_pytorch_keyword_names_of_binary_methods():
    a = rustdl.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = rustdl.tensor([[2.0, 2.0], [2.0, 5.0]])
    assert a.mul(other=b).tolist() == [[2.0, 4.0], [6.0, 20.0]]
    assert a.eq(other=b).tolist() == [[False, True], [False, False]]
    assert a.maximum(other=b).tolist() == [[2.0, 2.0], [3.0, 5.0]]
    np.testing.assert_allclose(a.matmul(other=b).numpy(), a.numpy() @ b.numpy())
    np.testing.assert_allclose(a.mm(mat2=b).numpy(), a.numpy() @ b.numpy())
    np.testing.assert_allclose(a[None].bmm(mat2=b[None]).numpy(), (a.numpy() @ b.numpy())[None])
    assert a.remainder(other=2).tolist() == [[1.0, 0.0], [1.0, 0.0]]
    assert tuple(a[0].expand_as(other=a).shape) == (2, 2)
    c = a.clone()
    c.pow_(exponent=2)
    assert c.tolist() == [[1.0, 4.0], [9.0, 16.0]]


def test_gather_takes_sparse_grad():
    x = rustdl.arange(6.0).reshape(2, 3).requires_grad_()
    idx = rustdl.tensor([[0], [1]])
    y = x.gather(1, idx, sparse_grad=True)
    assert y.tolist() == [[0.0], [4.0]]
    y.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert rustdl.gather(x, 1, rustdl.tensor([[2], [0]]), sparse_grad=False).tolist() == [[2.0], [3.0]]


def test_median_of_a_slice_with_nan_sends_the_gradient_to_the_nan(device):
    nan = float("nan")
    x = rustdl.tensor([[1.0, nan, 3.0], [4.0, 2.0, 6.0]], device=device, requires_grad=True)
    r = rustdl.median(x, 1)
    v = r.values.detach().cpu().numpy()
    assert np.isnan(v[0]) and v[1] == 4.0 and r.indices.tolist() == [1, 0]
    r.values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    k = rustdl.median(x.detach(), 1, keepdim=True)
    assert tuple(k.values.shape) == (2, 1) and k.indices.tolist() == [[1], [0]]


def test_nanmedian_of_a_0d_tensor_along_a_dim_is_0d():
    x = rustdl.tensor(2.5, requires_grad=True)
    r = rustdl.nanmedian(x, -1)
    assert r.values.shape == () and r.indices.shape == () and r.values.item() == 2.5
    r.values.backward()
    assert x.grad.item() == 1.0
