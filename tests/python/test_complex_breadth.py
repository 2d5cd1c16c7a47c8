"""Breadth of complex-tensor support: predicates and metadata, ``where``/``mv``/``vdot``,
``nn.functional.pad``, indexing and scatter ops, products, reductions, more elementwise
functions and ``linalg.det``/``inv``/``solve``. Values against numpy's complex arithmetic;
gradients against finite differences on the real and imaginary parts (gradcheck) or against
closed forms in PyTorch's convention (grad = ∂L/∂re + i·∂L/∂im)."""

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from rustdl.autograd import gradcheck

RNG = np.random.default_rng(11)


def cnp(*shape):
    return RNG.normal(size=shape) + 1j * RNG.normal(size=shape)


def C(a, requires_grad=False):
    a = np.asarray(a, dtype=np.complex128)
    z = rustdl.complex(
        rustdl.tensor(a.real.copy(), dtype=rustdl.float64), rustdl.tensor(a.imag.copy(), dtype=rustdl.float64)
    )
    return z.requires_grad_(True) if requires_grad else z


def D(a, requires_grad=False):
    return rustdl.tensor(np.asarray(a, dtype=np.float64), dtype=rustdl.float64, requires_grad=requires_grad)


def npc(z):
    return z.detach().numpy()


def parts(z):
    return rustdl.view_as_real(z) if rustdl.is_complex(z) else z


def complex_gradcheck(fn, *arrays):
    """gradcheck of ``fn`` over complex inputs, each given as (re, im) float64 leaves."""
    leaves = []
    for a in arrays:
        leaves += [D(np.real(a), True), D(np.imag(a), True)]

    def f(*ts):
        zs = [rustdl.complex(ts[2 * i], ts[2 * i + 1]) for i in range(len(arrays))]
        return parts(fn(*zs))

    return gradcheck(f, tuple(leaves))


def close(z, want, atol=1e-10):
    got = npc(z) if rustdl.is_complex(z) else z.detach().numpy()
    np.testing.assert_allclose(got, want, atol=atol, rtol=1e-7)


# ---------- predicates and metadata ----------


def test_predicates_type_names_and_zero_dim_values():
    z = rustdl.tensor([1 + 2j, 3 - 1j])
    assert rustdl.is_floating_point(z) is False and z.is_floating_point() is False
    assert z.is_signed() is True and rustdl.is_signed(z) is True
    assert rustdl.isreal(rustdl.tensor([1 + 0j, 1j, 0j])).tolist() == [True, False, True]
    assert rustdl.isreal(rustdl.tensor([1.0])).tolist() == [True]  # real tensors unchanged
    base = rustdl.ones(1).type()  # 'torch.FloatTensor' under the compat layer
    assert z.type() == base.replace("FloatTensor", "ComplexFloatTensor")
    assert z.cdouble().type() == base.replace("FloatTensor", "ComplexDoubleTensor")
    assert z.type(rustdl.complex128).dtype is rustdl.complex128
    assert z.type(base.replace("FloatTensor", "ComplexDoubleTensor")).dtype is rustdl.complex128
    assert rustdl.tensor(0.5 + 0.25j).shape == ()  # a 0-d value stays 0-d
    assert rustdl.from_numpy(np.array(3j)).shape == ()


def test_strides_and_storage_offsets_count_complex_elements():
    z = rustdl.zeros(2, 3, dtype=rustdl.complex64)
    assert z.stride() == (3, 1) and z.stride(0) == 3 and z.stride(-1) == 1
    assert z.t().stride() == (1, 3)
    assert z[1].storage_offset() == 3 and z.storage_offset() == 0
    v = rustdl.view_as_complex(rustdl.zeros(3, 4, 2))  # parts interleaved in one real tensor
    assert v.stride() == (4, 1) and v.t().stride() == (1, 4)
    assert v[1, 1:].storage_offset() == 5
    p = rustdl.nn.Parameter(rustdl.zeros(3, 4, dtype=rustdl.complex64))
    assert p.stride() == (4, 1) and p[1:, 2:].storage_offset() == 6


def test_new_factories_take_the_complex_dtype_and_device():
    z = rustdl.tensor([1j])
    assert z.new_zeros(2, 3).shape == (2, 3) and z.new_zeros((2,)).dtype is rustdl.complex64
    np.testing.assert_array_equal(npc(z.new_ones([3])), [1, 1, 1])
    np.testing.assert_array_equal(npc(z.new_full((2,), 1 - 1j)), [1 - 1j, 1 - 1j])
    assert z.new_empty(3, 1).shape == (3, 1) and z.new_empty(3).dtype is rustdl.complex64
    np.testing.assert_array_equal(npc(z.new_tensor([[1, 2j]])), [[1, 2j]])
    assert z.new_tensor([1.0]).dtype is rustdl.complex64
    assert z.new_tensor([1.0], requires_grad=True).requires_grad
    r = z.new_full((2, 2), 2.5, dtype=rustdl.float64)
    assert r.dtype == rustdl.float64 and not rustdl.is_complex(r)
    assert z.new_zeros(2, dtype=rustdl.float32).dtype == rustdl.float32


# ---------- where, mv, vdot ----------


def test_where_with_complex_values_and_numbers():
    a, b = cnp(4), cnp(4)
    m = np.array([True, False, False, True])
    mask = rustdl.tensor(m)
    close(rustdl.where(mask, C(a), C(b)), np.where(m, a, b))
    close(rustdl.where(mask, C(a), 0), np.where(m, a, 0))
    close(rustdl.where(mask, 2 - 1j, C(b)), np.where(m, 2 - 1j, b))
    close(rustdl.where(mask, D(a.real), C(b)), np.where(m, a.real, b))
    close(C(a).where(mask, C(b)), np.where(m, a, b))
    close(rustdl.where(mask, 1j, 2), np.where(m, 1j, 2))
    # real calls are untouched
    np.testing.assert_array_equal(rustdl.where(mask, D([1, 2, 3, 4]), 0.0).numpy(), [1, 0, 0, 4])
    assert complex_gradcheck(lambda x, y: rustdl.where(mask, x, y), a, b)


def test_mv_and_vdot_match_numpy_and_vdot_conjugates_its_first_argument():
    close(rustdl.vdot(C([1 + 2j, 3 - 1j]), C([2 - 1j, 1j])), -1 - 2j)
    m, v, w = cnp(2, 3), cnp(3), cnp(3)
    close(rustdl.mv(C(m), C(v)), m @ v)
    close(C(m).mv(C(v)), m @ v)
    close(rustdl.vdot(C(v), C(w)), np.vdot(v, w))
    close(C(v).vdot(C(w)), np.vdot(v, w))
    close(rustdl.vdot(D(v.real), C(w)), np.vdot(v.real, w))
    assert rustdl.vdot(D([1, 2]), D([3, 4])).item() == 11  # real calls are untouched
    # closed form: L = Re(c·vdot(x, y)) gives dL/dx = c·y and dL/dy = conj(c)·x
    c = 0.7 - 0.4j
    x, y = C(v, True), C(w, True)
    (rustdl.vdot(x, y) * c).real.sum().backward()
    close(x.grad, c * w)
    close(y.grad, np.conj(c) * v)
    assert complex_gradcheck(lambda a, b: rustdl.mv(a, b), m, v)


# ---------- nn.functional.pad ----------


@pytest.mark.parametrize(
    "mode,np_mode",
    [("constant", "constant"), ("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")],
)
def test_pad_modes_match_numpy(mode, np_mode):
    z = cnp(1, 2, 5)
    got = F.pad(C(z), (2, 1), mode=mode)
    close(got, np.pad(z, ((0, 0), (0, 0), (2, 1)), mode=np_mode))
    z4 = cnp(1, 1, 3, 4)
    got = F.pad(C(z4), (1, 2, 2, 1), mode=mode)
    close(got, np.pad(z4, ((0, 0), (0, 0), (2, 1), (1, 2)), mode=np_mode))
    assert complex_gradcheck(lambda t: F.pad(t, (2, 1), mode=mode), z)


def test_pad_constant_value_and_cropping():
    z = cnp(2, 3)
    close(F.pad(C(z), (1, 2), value=1.5), np.pad(z, ((0, 0), (1, 2)), constant_values=1.5))
    close(F.pad(C(z), (1, 1), value=2 - 1j), np.pad(z, ((0, 0), (1, 1)), constant_values=2 - 1j))
    close(F.pad(C(z), (-1, 1)), np.pad(z[:, 1:], ((0, 0), (0, 1))))
    assert F.pad(rustdl.ones(1, 2), (1, 1)).shape == (1, 4)  # real calls are untouched


# ---------- indexing, masking, scatter ----------


def test_unfold_gather_masked_fill():
    z = cnp(2, 5)
    got = C(z).unfold(1, 3, 2)
    want = np.stack([z[:, 0:3], z[:, 2:5]], 1)
    close(got, want)
    idx = np.array([[0, 4, 4], [1, 1, 2]])
    close(C(z).gather(1, rustdl.tensor(idx)), np.take_along_axis(z, idx, 1))
    close(rustdl.gather(C(z), 1, rustdl.tensor(idx)), np.take_along_axis(z, idx, 1))
    m = z.real > 0
    mask = rustdl.tensor(m)
    close(C(z).masked_fill(mask, 1 - 2j), np.where(m, 1 - 2j, z))
    close(rustdl.masked_fill(C(z), mask, 3.0), np.where(m, 3.0, z))
    w = C(z)
    w.masked_fill_(mask, 2j)
    close(w, np.where(m, 2j, z))
    # a tensor value keeps its gradient: L = Re(c·Σ filled) gives dL/dv = conj(c)·count
    v = rustdl.tensor(0.5 + 0.25j, dtype=rustdl.complex128, requires_grad=True)
    c = 0.3 + 1.2j
    (C(z).masked_fill(mask, v).sum() * c).real.backward()
    assert v.grad.shape == ()
    close(v.grad, np.conj(c) * m.sum())
    assert complex_gradcheck(lambda t: t.gather(1, rustdl.tensor(idx)), z)
    assert complex_gradcheck(lambda t: t.unfold(1, 3, 2), z)
    assert complex_gradcheck(lambda t: t.masked_fill(mask, 1j), z)


def test_index_put_scatter_and_index_add():
    z = cnp(2, 4)
    rows, cols = np.array([0, 1, 1]), np.array([2, 0, 0])
    vals = np.array([1j, 2, 3 - 1j])
    ind = (rustdl.tensor(rows), rustdl.tensor(cols))
    want = z.copy()
    np.add.at(want, (rows, cols), vals)
    w = C(z)
    assert w.index_put_(ind, C(vals), accumulate=True) is w
    close(w, want)
    want2 = z.copy()
    want2[[0, 1], [2, 0]] = vals[:2]
    close(rustdl.index_put(C(z), (rustdl.tensor([0, 1]), rustdl.tensor([2, 0])), C(vals[:2])), want2)
    idx = np.array([[0, 3, 3], [1, 1, 2]])
    src = cnp(2, 3)
    want3 = z.copy()
    for i in range(2):
        for j in range(3):
            want3[i, idx[i, j]] += src[i, j]
    close(C(z).scatter_add(1, rustdl.tensor(idx), C(src)), want3)
    close(rustdl.scatter_add(C(z), 1, rustdl.tensor(idx), C(src)), want3)
    w = C(z)
    w.scatter_add_(1, rustdl.tensor(idx), C(src))
    close(w, want3)
    want4 = z.copy()
    want4[0, 1], want4[1, 3] = src[0, 0], src[1, 0]
    close(C(z).scatter(1, rustdl.tensor([[1], [3]]), C(src[:, :1])), want4)
    want5 = z.copy()
    want5[0, 1] = want5[1, 3] = 1 + 1j
    close(C(z).scatter(1, rustdl.tensor([[1], [3]]), 1 + 1j), want5)
    want6 = z.copy()
    want6[:, 0] += 2 * (z[:, 1] + z[:, 2])
    close(C(z).index_add(1, rustdl.tensor([0, 0]), C(z[:, 1:3]), alpha=2), want6)
    assert complex_gradcheck(lambda t, s: t.scatter_add(1, rustdl.tensor(idx), s), z, src)
    assert complex_gradcheck(lambda t, s: t.index_put(ind, s, accumulate=True), z, vals)


# ---------- products ----------


def test_diag_trace_kron_inner_outer_vecdot():
    a, b, m = cnp(3), cnp(3), cnp(3, 3)
    close(rustdl.diag(C(a)), np.diag(a))
    close(C(a).diag(1), np.diag(a, 1))
    close(C(m).diag(-1), np.diag(m, -1))
    close(C(m).trace(), np.trace(m))
    close(rustdl.trace(C(m)), np.trace(m))
    x, y = cnp(2, 3), cnp(2, 2)
    close(rustdl.kron(C(x), C(y)), np.kron(x, y))
    close(rustdl.kron(D(x.real), C(y)), np.kron(x.real, y))
    close(rustdl.inner(C(x), C(m)), np.inner(x, m))  # no conjugation
    close(rustdl.outer(C(a), C(b)), np.outer(a, b))
    close(C(a).outer(D(b.real)), np.outer(a, b.real))
    close(rustdl.linalg.vecdot(C(x), C(b)), (np.conj(x) * b).sum(-1))  # conjugates x
    close(rustdl.linalg.vecdot(C(x), C(x), dim=0), (np.conj(x) * x).sum(0))
    close(rustdl.linalg.vecdot(D(x.real), C(b)), (x.real * b).sum(-1))
    assert complex_gradcheck(lambda p, q: rustdl.kron(p, q), x, y)
    assert complex_gradcheck(lambda p, q: rustdl.linalg.vecdot(p, q), x, b)
    assert complex_gradcheck(lambda p: p.trace(), m)


# ---------- reductions ----------


def test_cumprod_matches_numpy_and_its_gradient():
    z = cnp(2, 7)
    close(C(z).cumprod(1), np.cumprod(z, 1))
    close(rustdl.cumprod(C(z), 0), np.cumprod(z, 0))
    close(rustdl.cumprod(C(z), dim=-1), np.cumprod(z, -1))
    close(C([1 + 1j, 0, 2j, 3]).cumprod(0), np.cumprod([1 + 1j, 0, 2j, 3]))
    assert complex_gradcheck(lambda t: t.cumprod(1), z[:, :5])


def test_std_and_var_are_real_as_pytorch():
    z = cnp(3, 4)

    def var(a, axis=None, ddof=1, keepdims=False):
        m = a.mean(axis=axis, keepdims=True)
        n = a.size if axis is None else a.shape[axis]
        return (np.abs(a - m) ** 2).sum(axis=axis, keepdims=keepdims) / (n - ddof)

    v = C(z).var()
    assert not rustdl.is_complex(v) and v.dtype == rustdl.float64
    close(v, var(z))
    close(C(z).var(1), var(z, 1))
    close(C(z).var(1, unbiased=False), var(z, 1, ddof=0))
    close(rustdl.var(C(z), dim=0, correction=0, keepdim=True), var(z, 0, 0, True))
    close(C(z).std(), np.sqrt(var(z)))
    close(rustdl.std(C(z), 1, keepdim=True), np.sqrt(var(z, 1, keepdims=True)))
    s, m = rustdl.std_mean(C(z), dim=1)
    close(s, np.sqrt(var(z, 1)))
    close(m, z.mean(1))
    v, m = rustdl.var_mean(C(z))
    close(v, var(z))
    close(m, z.mean())
    assert complex_gradcheck(lambda t: t.var(1), z)
    assert complex_gradcheck(lambda t: t.std(), z)


# ---------- elementwise ----------


def test_log10_log2_atan_and_nan_to_num():
    z = cnp(2, 3)
    close(C(z).log10(), np.log10(z))
    close(rustdl.log10(C(z)), np.log10(z))
    close(rustdl.log2(C(z)), np.log2(z))
    close(C(z).atan(), np.arctan(z))
    close(rustdl.atan(C(z)), np.arctan(z))
    close(rustdl.arctan(C([0.5, -2.0, 0.0])), np.arctan([0.5, -2.0, 0.0]))
    close(C([2j, -2j, 0.5j]).atan(), np.arctan([2j, -2j, 0.5j]))
    nan, inf = float("nan"), float("inf")
    a = np.array([complex(nan, 1), complex(1, inf), complex(-inf, nan)])
    close(rustdl.nan_to_num(C(a), nan=1.0, posinf=2.0, neginf=-3.0), [1 + 1j, 1 + 2j, -3 + 1j])
    big = np.finfo(np.float64).max
    close(C(a).nan_to_num(), [1j, 1 + big * 1j, -big], atol=0)
    assert complex_gradcheck(lambda t: t.atan(), z)
    assert complex_gradcheck(lambda t: t.log10(), z)


# ---------- linear algebra ----------

PIVOT = np.array([[0, 1 + 1j, 2], [1j, 0, 1], [3, 1 - 1j, 0]])  # needs row exchanges


def test_det_matches_numpy_with_pivoting_batches_and_singular_matrices():
    close(rustdl.linalg.det(C(PIVOT)), np.linalg.det(PIVOT))
    b = cnp(2, 3, 3)
    close(rustdl.linalg.det(C(b)), np.linalg.det(b))
    close(rustdl.det(C(b)), np.linalg.det(b))
    close(C(b).det(), np.linalg.det(b))
    close(rustdl.linalg.det(C([[1 + 1j, 2 + 2j], [1, 2]])), 0)
    close(rustdl.linalg.det(C([[0j, 1], [0, 2]])), 0)
    close(rustdl.linalg.det(C([[2 - 1j]])), 2 - 1j)
    close(rustdl.linalg.det(rustdl.eye(3) * 2), 8.0)  # real calls are untouched
    # closed form: L = Re(c·det A) gives dL/dA = conj(c · det A · A⁻ᵀ)
    for m in (PIVOT, cnp(3, 3)):
        a = C(m, True)
        c = 0.4 - 1.1j
        (rustdl.linalg.det(a) * c).real.backward()
        close(a.grad, np.conj(c * np.linalg.det(m) * np.linalg.inv(m).T), atol=1e-9)


def test_inv_and_solve_match_numpy_and_finite_differences():
    a, b2 = cnp(2, 3, 3), cnp(3, 2)
    close(rustdl.linalg.inv(C(a)), np.linalg.inv(a))
    close(rustdl.inverse(C(PIVOT)), np.linalg.inv(PIVOT))
    close(C(PIVOT).inverse(), np.linalg.inv(PIVOT))
    v = cnp(3)
    close(rustdl.linalg.solve(C(a[0]), C(v)), np.linalg.solve(a[0], v))
    close(rustdl.linalg.solve(C(a[0]), C(b2)), np.linalg.solve(a[0], b2))
    close(rustdl.linalg.solve(C(a), C(b2)), np.linalg.solve(a, b2))
    bv = cnp(2, 3)  # a batch of vectors
    close(rustdl.linalg.solve(C(a), C(bv)), np.linalg.solve(a, bv[..., None])[..., 0])
    close(rustdl.linalg.solve(C(a[0]), C(b2.T), left=False), b2.T @ np.linalg.inv(a[0]))
    close(rustdl.linalg.solve(D(a[0].real), C(v)), np.linalg.solve(a[0].real, v))
    close(rustdl.linalg.solve(C(a[0]), D(v.real)), np.linalg.solve(a[0], v.real))
    assert complex_gradcheck(lambda t: rustdl.linalg.inv(t), a[0])
    assert complex_gradcheck(lambda t, r: rustdl.linalg.solve(t, r), a[0], b2)
    assert complex_gradcheck(lambda t, r: rustdl.linalg.solve(t, r), a[0], v)
