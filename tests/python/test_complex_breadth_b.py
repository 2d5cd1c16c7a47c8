"""Complex tensors, second round: ``view_as_real`` as a view, ``.data`` / ``normal_``, more shape
ops, and complex ``linalg`` (svd, svdvals, qr, eigh, slogdet/logdet, cholesky, pinv, lstsq,
matrix norms). Values against numpy's complex LAPACK; gradients against finite differences on
the real and imaginary parts (gradcheck) of losses independent of the factors' phases."""

import math

import numpy as np
import pytest
import rustdl
from rustdl.autograd import gradcheck

RNG = np.random.default_rng(5)


def cnp(*shape):
    return RNG.normal(size=shape) + 1j * RNG.normal(size=shape)


def C(a, requires_grad=False):
    a = np.asarray(a, dtype=np.complex128)
    z = rustdl.complex(rustdl.tensor(a.real.copy()), rustdl.tensor(a.imag.copy()))
    return z.requires_grad_(True) if requires_grad else z


def D(a, requires_grad=False):
    return rustdl.tensor(np.asarray(a, dtype=np.float64), dtype=rustdl.float64, requires_grad=requires_grad)


def npc(z):
    return z.detach().numpy()


def cgrad(fn, *arrays):
    """gradcheck of the real scalar ``fn(*complex inputs)`` over (re, im) float64 leaves."""
    leaves = []
    for a in arrays:
        leaves += [D(np.real(a), True), D(np.imag(a), True)]

    def f(*ts):
        return fn(*[rustdl.complex(ts[2 * i], ts[2 * i + 1]) for i in range(len(arrays))])

    assert gradcheck(f, tuple(leaves))


def W(*shape):
    return D(np.arange(math.prod(shape), dtype=np.float64).reshape(shape) / 7 + 0.5)


# ---------- view_as_real: a view ----------


def test_view_as_real_writes_reach_both_ways():
    cc = rustdl.zeros(2, 3, dtype=rustdl.complex64)
    rr = rustdl.view_as_real(cc)
    assert tuple(rr.shape) == (2, 3, 2) and rr.dtype == rustdl.float32
    rr[0, 0] = 5
    assert npc(cc)[0, 0] == 5 + 5j
    cc[1, 1] = 2 - 3j
    assert rr[1, 1].tolist() == [2.0, -3.0]
    cc.mul_(2)
    np.testing.assert_array_equal(rr.numpy()[..., 0] + 1j * rr.numpy()[..., 1], npc(cc))
    assert cc.stride() == (3, 1) and rr.stride() == (6, 2, 1)
    # a result of an op (parts held apart) too
    m = C(cnp(2, 3)) * 1
    rm = rustdl.view_as_real(m)
    rm[0, 1, 1] = 9
    assert npc(m)[0, 1].imag == 9


def test_view_as_real_of_view_as_complex_aliases_and_slices():
    x = rustdl.arange(12.0).reshape(3, 2, 2)
    z = rustdl.view_as_complex(x)
    rustdl.view_as_real(z)[0, 0, 1] = -7
    assert x[0, 0, 1].item() == -7 and npc(z)[0, 0] == -7j
    w = z[1:].t()  # interleaved parts, other strides
    rustdl.view_as_real(w)[0, 0, 0] = 99
    assert x[1, 0, 0].item() == 99
    assert rustdl.view_as_real(z.t()).stride() == (2, 4, 1)


def test_view_as_real_gradients():
    x = D(RNG.normal(size=(3, 2, 2)), True)
    r = rustdl.view_as_real(rustdl.view_as_complex(x))
    (r * W(3, 2, 2)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), W(3, 2, 2).numpy())
    # a complex leaf: a differentiable copy; grad = dL/dre + i dL/dim
    a = C(cnp(2, 2), True)
    (rustdl.view_as_real(a) ** 2 * W(2, 2, 2)).sum().backward()
    g = 2 * npc(a).real * W(2, 2, 2).numpy()[..., 0] + 2j * npc(a).imag * W(2, 2, 2).numpy()[..., 1]
    np.testing.assert_allclose(npc(a.grad), g)
    cgrad(lambda z: (rustdl.view_as_real(z * (1 + 2j)) * W(3, 2)).sum(), cnp(3))


def test_view_as_real_of_parameter():
    p = rustdl.nn.Parameter(rustdl.zeros(2, 2, dtype=rustdl.complex64))
    with rustdl.no_grad():
        rustdl.view_as_real(p)[0, 0, 1] = 4
    assert npc(p)[0, 0] == 4j
    (rustdl.view_as_real(p) * W(2, 2, 2).float()).sum().backward()
    w = W(2, 2, 2).numpy()
    np.testing.assert_allclose(npc(p.grad), w[..., 0] + 1j * w[..., 1], rtol=1e-6)


# ---------- .data, normal_, uniform_ ----------


def test_data_and_normal():
    p = rustdl.nn.Parameter(rustdl.zeros(3, 4, dtype=rustdl.complex64))
    rustdl.manual_seed(3)
    p.data.normal_()
    rustdl.manual_seed(3)
    want = rustdl.randn(3, 4, 2).numpy() / math.sqrt(2)  # (re, im) pairs, variance 1/2 each
    np.testing.assert_allclose(npc(p), want[..., 0] + 1j * want[..., 1], rtol=1e-6)
    z = C(np.zeros(3)) * 1
    d = z.data
    d[0] = 7j
    assert npc(z)[0] == 7j and not d.requires_grad
    z.data.normal_(1.0, 2.0)  # parts held apart: written in place all the same
    assert np.all(npc(z) != 0)
    z.data = C([1 + 2j, 3 - 4j, 5j])
    np.testing.assert_array_equal(npc(z), [1 + 2j, 3 - 4j, 5j])
    big = rustdl.zeros(4000, dtype=rustdl.complex128).normal_(1.0, 2.0)
    v = npc(big)
    assert abs(v.real.mean() - 1) < 0.1 and abs(v.imag.mean() - 1) < 0.1
    assert abs(v.real.var() - 2) < 0.2 and abs(v.imag.var() - 2) < 0.2
    u = npc(rustdl.zeros(500, dtype=rustdl.complex64).uniform_(-1, 3))
    assert u.real.min() >= -1 and u.imag.max() <= 3 and u.imag.min() < 0 < u.real.max() - 2


# ---------- shape ops ----------


def test_shape_ops_match_numpy():
    a = cnp(2, 3, 4)
    z = C(a)
    close = np.testing.assert_array_equal
    close(npc(z.moveaxis(0, 2)), np.moveaxis(a, 0, 2))
    close(npc(rustdl.moveaxis(z, (0, 1), (2, 0))), np.moveaxis(a, (0, 1), (2, 0)))
    close(npc(rustdl.swapaxes(z, 0, 2)), np.swapaxes(a, 0, 2))
    close(npc(z.swapdims(1, 2)), np.swapaxes(a, 1, 2))
    close(npc(z.tile(1, 2)), np.tile(a, (1, 1, 2)))
    close(npc(rustdl.tile(z[0, 0], (2,))), np.tile(a[0, 0], 2))
    close(npc(rustdl.repeat_interleave(z, 2, dim=1)), np.repeat(a, 2, axis=1))
    for got, want in zip(rustdl.tensor_split(z, 3, dim=2), np.array_split(a, 3, axis=2)):
        close(npc(got), want)
    close(npc(rustdl.hsplit(z, 3)[1]), np.split(a, 3, axis=1)[1])
    close(npc(rustdl.rot90(z, 1, (1, 2))), np.rot90(a, 1, (1, 2)))
    close(npc(z[0].fliplr()), np.fliplr(a[0]))
    close(
        npc(rustdl.take_along_dim(z, rustdl.tensor([[[0], [1], [2]]]), 2)),
        a[..., [0, 1, 2]][:, [0, 1, 2], [0, 1, 2]][..., None],
    )
    close(npc(rustdl.hstack([z[0], z[1]])), np.hstack([a[0], a[1]]))
    close(npc(rustdl.dstack([z[0], z[1]])), np.dstack([a[0], a[1]]))
    close(npc(z.ravel()), a.ravel())
    close(npc(rustdl.diag_embed(z[0])), np.stack([np.diag(r) for r in a[0]]))
    close(npc(rustdl.masked_select(z, z.real > 0)), a[a.real > 0])
    cgrad(
        lambda t: (rustdl.view_as_real(t.moveaxis(0, 1).tile(2, 1).roll(1, 0)) * W(6, 2, 2)).sum(), cnp(2, 3)
    )


# ---------- linear algebra ----------


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4)])
def test_svd(shape):
    a = cnp(*shape)
    k = min(shape)
    for full in (False, True):
        U, S, Vh = rustdl.linalg.svd(C(a), full_matrices=full)
        assert S.dtype == rustdl.float64 and tuple(U.shape) == (shape[0], shape[0] if full else k)
        np.testing.assert_allclose(S.numpy(), np.linalg.svd(a, compute_uv=False), rtol=1e-10)
        u, vh = npc(U)[:, :k], npc(Vh)[:k]
        np.testing.assert_allclose((u * S.numpy()) @ vh, a, atol=1e-10)
        np.testing.assert_allclose(npc(U).conj().T @ npc(U), np.eye(U.shape[-1]), atol=1e-10)

        def loss(z, full=full):
            U, S, Vh = rustdl.linalg.svd(z, full_matrices=full)
            polar = ((U[:, :k] @ Vh[:k]) * W(*shape)).imag.sum()  # phases of U and V cancel
            return S.sum() + (U[:, :k].abs() ** 2 * W(shape[0], 1)).sum() + (Vh[:k].abs() ** 3).sum() + polar

        cgrad(loss, a)
    cgrad(lambda z: (rustdl.linalg.svdvals(z) ** 2).sum() + rustdl.linalg.svdvals(z)[0], a)
    old = rustdl.svd(C(a))  # torch.svd: V, not Vh
    np.testing.assert_allclose((npc(old.U) * old.S.numpy()) @ npc(old.V).conj().T, a, atol=1e-10)


def test_svd_phase_dependent_loss_raises():
    U, S, Vh = rustdl.linalg.svd(C(cnp(3, 3), True))
    with pytest.raises(RuntimeError, match="phase"):
        U[0, 0].real.backward()


def test_matrix_norms():
    a = cnp(2, 3, 4)
    z = C(a)
    for ord in ("nuc", 2, -2):
        np.testing.assert_allclose(
            rustdl.linalg.matrix_norm(z, ord).numpy(), np.linalg.norm(a, ord, axis=(-2, -1))
        )
    np.testing.assert_allclose(float(rustdl.linalg.norm(z[0], "nuc")), np.linalg.norm(a[0], "nuc"))
    np.testing.assert_allclose(
        rustdl.linalg.norm(z, 2, dim=(0, 2), keepdim=True).numpy(),
        np.linalg.norm(np.moveaxis(a, 1, 0), 2, axis=(-2, -1))[None, :, None],
    )
    cgrad(lambda t: rustdl.linalg.matrix_norm(t, "nuc") + rustdl.linalg.norm(t, 2), a[0])


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4)])
def test_qr(shape):
    a = cnp(*shape)
    for mode in ("reduced", "complete"):
        Q, R = rustdl.linalg.qr(C(a), mode=mode)
        q, r = np.linalg.qr(a, mode=mode)
        np.testing.assert_allclose(npc(Q), q, atol=1e-10)
        np.testing.assert_allclose(npc(R), r, atol=1e-10)
    np.testing.assert_allclose(npc(rustdl.linalg.qr(C(a), mode="r").R), np.linalg.qr(a, mode="r"), atol=1e-10)

    def loss(z):
        Q, R = rustdl.linalg.qr(z)
        return (Q.real * W(*Q.shape)).sum() + R.imag.sum() * 0.3 + (R.real**2).sum() + (Q @ R).abs().sum()

    cgrad(loss, a)
    R = rustdl.linalg.qr(C(a, True), mode="r").R
    with pytest.raises(RuntimeError, match="mode='r'"):
        R.abs().sum().backward()


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh(uplo):
    own = np.random.default_rng(5)  # its own draws: the phase check below needs a generic matrix
    b = own.normal(size=(4, 4)) + 1j * own.normal(size=(4, 4))
    h = b + b.conj().T
    w, V = rustdl.linalg.eigh(C(h), UPLO=uplo)
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(h), rtol=1e-10)
    np.testing.assert_allclose(npc(V) @ np.diag(w.numpy()) @ npc(V).conj().T, h, atol=1e-10)
    tri = np.tril(h) if uplo == "L" else np.triu(h)  # only that triangle is read
    np.testing.assert_allclose(rustdl.linalg.eigvalsh(C(tri), UPLO=uplo).numpy(), w.numpy(), rtol=1e-10)

    def loss(x):
        w, V = rustdl.linalg.eigh(x + x.mH, UPLO=uplo)
        return (
            (w * W(4)).sum() + (V.abs() ** 2 * W(4, 4)).sum() + (rustdl.linalg.eigvalsh(x + x.mH) ** 3).sum()
        )

    cgrad(loss, b)
    # the gradient of a Hermitian input is Hermitian: V diag(g) Vᴴ for the eigenvalues
    A = C(h, True)
    (rustdl.linalg.eigvalsh(A, UPLO=uplo) * W(4)).sum().backward()
    np.testing.assert_allclose(npc(A.grad), npc(V) @ np.diag(W(4).numpy()) @ npc(V).conj().T, atol=1e-10)
    _, V = rustdl.linalg.eigh(C(h, True))
    with pytest.raises(RuntimeError, match="phase"):  # (LAPACK's first row is real)
        V[1, 1].real.backward()


def test_slogdet_logdet():
    a = cnp(2, 3, 3)
    sign, logabs = rustdl.linalg.slogdet(C(a))
    s, la = np.linalg.slogdet(a)
    np.testing.assert_allclose(npc(sign), s, rtol=1e-10)
    np.testing.assert_allclose(logabs.numpy(), la, rtol=1e-10)
    np.testing.assert_allclose(npc(rustdl.logdet(C(a[0]))), np.log(np.linalg.det(a[0])), rtol=1e-10)
    np.testing.assert_allclose(npc(C(a[1]).logdet()), np.log(np.linalg.det(a[1])), rtol=1e-10)
    cgrad(lambda z: rustdl.linalg.slogdet(z).logabsdet.sum(), a)
    cgrad(lambda z: (rustdl.linalg.slogdet(z).sign * (0.3 - 0.7j)).real.sum(), a)
    cgrad(lambda z: rustdl.logdet(z).imag * 2 + rustdl.logdet(z).real, a[0])


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(upper):
    b = cnp(3, 3)
    h = b @ b.conj().T + np.eye(3)
    L = rustdl.linalg.cholesky(C(h), upper=upper)
    want = np.linalg.cholesky(h)
    np.testing.assert_allclose(npc(L), want.conj().T if upper else want, atol=1e-10)
    junk = np.triu(cnp(3, 3), 1)
    np.testing.assert_allclose(
        npc(rustdl.linalg.cholesky(C(h + (junk.T if upper else junk)), upper=upper)), npc(L)
    )

    def loss(x):
        L = rustdl.linalg.cholesky(x @ x.mH + rustdl.eye(3, dtype=rustdl.complex128), upper=upper)
        return (L.real * W(3, 3)).sum() + (L.imag**2).sum()

    cgrad(loss, b)
    with pytest.raises(RuntimeError, match="leading minor of order 1"):
        rustdl.linalg.cholesky(-rustdl.eye(2, dtype=rustdl.complex64))


def test_pinv_lstsq():
    a, bm = cnp(4, 3), cnp(4, 2)
    np.testing.assert_allclose(npc(rustdl.linalg.pinv(C(a))), np.linalg.pinv(a), atol=1e-10)
    np.testing.assert_allclose(npc(C(a.T).pinverse()), np.linalg.pinv(a.T), atol=1e-10)
    cgrad(lambda z: (rustdl.linalg.pinv(z).real * W(3, 4)).sum() + (rustdl.linalg.pinv(z).imag ** 2).sum(), a)
    cgrad(lambda z: (rustdl.linalg.pinv(z).abs() ** 2).sum(), a.T)
    X = rustdl.linalg.lstsq(C(a), C(bm)).solution
    np.testing.assert_allclose(npc(X), np.linalg.lstsq(a, bm, rcond=None)[0], atol=1e-10)
    r = rustdl.linalg.lstsq(C(a), C(bm[:, 0]), driver="gelsd")
    assert tuple(r.solution.shape) == (3,) and int(r.rank) == 3
    np.testing.assert_allclose(r.singular_values.numpy(), np.linalg.svd(a, compute_uv=False))
    cgrad(lambda z, y: (rustdl.linalg.lstsq(z, y).solution.abs() ** 2).sum(), a, bm)


def test_matrix_power_solve_triangular():
    a, b = cnp(3, 3), cnp(3, 2)
    z = C(a)
    for n in (0, 1, 3, -2):
        np.testing.assert_allclose(
            npc(rustdl.linalg.matrix_power(z, n)), np.linalg.matrix_power(a, n), atol=1e-9
        )
    np.testing.assert_allclose(npc(z.matrix_power(2)), a @ a)
    t = np.triu(a)
    x = rustdl.linalg.solve_triangular(C(a), C(b), upper=True)
    np.testing.assert_allclose(npc(x), np.linalg.solve(t, b), atol=1e-10)
    x = rustdl.linalg.solve_triangular(C(a), C(b.T), upper=False, left=False, unitriangular=True)
    lu = np.tril(a, -1) + np.eye(3)
    np.testing.assert_allclose(npc(x) @ lu, b.T, atol=1e-10)
    cgrad(
        lambda p, q: (rustdl.linalg.solve_triangular(p, q, upper=True).abs() ** 2).sum(), a + 3 * np.eye(3), b
    )
