"""Complex tensors and ``rustdl.fft``: values against numpy's complex arithmetic and FFTs,
gradients against finite differences (gradcheck / gradgradcheck on the real and imaginary
parts), stft against a frame-by-frame numpy reference and istft as its inverse."""

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from rustdl.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(7)


def D(a, requires_grad=True):
    return rustdl.tensor(np.asarray(a, dtype=np.float64), dtype=rustdl.float64, requires_grad=requires_grad)


def C(a, device="cpu"):
    a = np.asarray(a, dtype=np.complex128)
    return rustdl.complex(
        rustdl.tensor(a.real.copy(), dtype=rustdl.float64, device=device),
        rustdl.tensor(a.imag.copy(), dtype=rustdl.float64, device=device),
    )


def npc(z):
    return z.detach().cpu().numpy()


def parts(z):
    """A real tensor of a possibly complex result, for gradcheck."""
    return rustdl.view_as_real(z) if rustdl.is_complex(z) else z


X = RNG.normal(size=(3, 10))
Z = RNG.normal(size=(3, 10)) + 1j * RNG.normal(size=(3, 10))


@pytest.mark.parametrize("norm", [None, "backward", "ortho", "forward"])
@pytest.mark.parametrize("n", [None, 7, 10, 13])
def test_one_dimensional_transforms_match_numpy(norm, n):
    x, z = D(X, False), C(Z)
    np.testing.assert_allclose(
        npc(rustdl.fft.fft(x, n=n, norm=norm)), np.fft.fft(X, n=n, norm=norm), atol=1e-12
    )
    np.testing.assert_allclose(
        npc(rustdl.fft.fft(z, n=n, norm=norm)), np.fft.fft(Z, n=n, norm=norm), atol=1e-12
    )
    np.testing.assert_allclose(
        npc(rustdl.fft.ifft(z, n=n, norm=norm)), np.fft.ifft(Z, n=n, norm=norm), atol=1e-12
    )
    np.testing.assert_allclose(
        npc(rustdl.fft.rfft(x, n=n, norm=norm)), np.fft.rfft(X, n=n, norm=norm), atol=1e-12
    )
    np.testing.assert_allclose(
        rustdl.fft.irfft(z, n=n, norm=norm).numpy(), np.fft.irfft(Z, n=n, norm=norm), atol=1e-12
    )
    np.testing.assert_allclose(
        rustdl.fft.hfft(z, n=n, norm=norm).numpy(), np.fft.hfft(Z, n=n, norm=norm), atol=1e-12
    )
    np.testing.assert_allclose(
        npc(rustdl.fft.ihfft(x, n=n, norm=norm)), np.fft.ihfft(X, n=n, norm=norm), atol=1e-12
    )
    np.testing.assert_allclose(npc(rustdl.fft.fft(x, dim=0)), np.fft.fft(X, axis=0), atol=1e-12)


def test_multidimensional_transforms_match_numpy():
    a = RNG.normal(size=(3, 4, 5))
    za = a + 1j * RNG.normal(size=(3, 4, 5))
    x, z = D(a, False), C(za)
    np.testing.assert_allclose(npc(rustdl.fft.fft2(x)), np.fft.fft2(a), atol=1e-12)
    np.testing.assert_allclose(
        npc(rustdl.fft.ifft2(z, norm="ortho")), np.fft.ifft2(za, norm="ortho"), atol=1e-12
    )
    np.testing.assert_allclose(npc(rustdl.fft.fftn(x)), np.fft.fftn(a), atol=1e-11)
    np.testing.assert_allclose(
        npc(rustdl.fft.ifftn(z, s=(2, 6), dim=(0, 2))), np.fft.ifftn(za, s=(2, 6), axes=(0, 2)), atol=1e-12
    )
    np.testing.assert_allclose(npc(rustdl.fft.rfft2(x)), np.fft.rfft2(a), atol=1e-12)
    np.testing.assert_allclose(npc(rustdl.fft.rfftn(x, dim=(0, 2))), np.fft.rfftn(a, axes=(0, 2)), atol=1e-12)
    np.testing.assert_allclose(
        rustdl.fft.irfft2(z, s=(4, 9)).numpy(), np.fft.irfft2(za, s=(4, 9)), atol=1e-12
    )
    np.testing.assert_allclose(rustdl.fft.irfftn(z).numpy(), np.fft.irfftn(za), atol=1e-12)
    np.testing.assert_allclose(rustdl.fft.fftfreq(7, d=0.5).numpy(), np.fft.fftfreq(7, 0.5), rtol=1e-6)
    np.testing.assert_allclose(rustdl.fft.rfftfreq(8).numpy(), np.fft.rfftfreq(8), rtol=1e-6)
    np.testing.assert_allclose(npc(rustdl.fft.fftshift(z, dim=(1, 2))), np.fft.fftshift(za, axes=(1, 2)))
    np.testing.assert_allclose(rustdl.fft.ifftshift(x).numpy(), np.fft.ifftshift(a))


GRAD_CASES = {
    "fft": lambda t: rustdl.fft.fft(t, n=12),
    "ifft_ortho": lambda t: rustdl.fft.ifft(t, norm="ortho"),
    "rfft": lambda t: rustdl.fft.rfft(t, n=7),
    "irfft_even": lambda t: rustdl.fft.irfft(rustdl.fft.fft(t), n=10),
    "irfft_odd": lambda t: rustdl.fft.irfft(rustdl.fft.fft(t) * 1.5, n=9),
    "hfft": lambda t: rustdl.fft.hfft(rustdl.fft.fft(t)[:, :6], norm="forward"),
    "ihfft": lambda t: rustdl.fft.ihfft(t),
    "fft2": lambda t: rustdl.fft.fft2(t.reshape(3, 2, 5)),
    "rfftn": lambda t: rustdl.fft.rfftn(t.reshape(3, 2, 5), dim=(0, 2)),
    "irfft2": lambda t: rustdl.fft.irfft2(rustdl.fft.rfft2(t.reshape(3, 2, 5)), s=(2, 5)),
    "abs": lambda t: rustdl.fft.rfft(t).abs(),
    "angle": lambda t: rustdl.fft.rfft(t)[:, 1:4].angle(),
    "product": lambda t: rustdl.fft.fft(t) * rustdl.fft.fft(t * t).conj(),
    "quotient": lambda t: rustdl.fft.fft(t) / rustdl.fft.fft(t * 2 + 7),
    "exp_log": lambda t: (rustdl.fft.fft(t * 0.1).exp() + 3).log(),
    "pow": lambda t: rustdl.fft.fft(t) ** 3 + (rustdl.fft.fft(t * 0.1) + 10) ** 0.5,
    "matmul_einsum": lambda t: rustdl.einsum(
        "ij,kj->ik", rustdl.fft.fft(t), rustdl.fft.fft(t) @ rustdl.ones(10, 10, dtype=rustdl.float64)
    ),
    "polar": lambda t: rustdl.polar(t.abs() + 1, t),
    "complex": lambda t: rustdl.complex(t, t * t).abs(),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients_match_finite_differences(name):
    fn = GRAD_CASES[name]
    assert gradcheck(lambda t: parts(fn(t)), (D(X),))


@pytest.mark.parametrize("name", ["fft", "irfft_odd", "abs", "product"])
def test_second_derivatives_match_finite_differences(name):
    fn = GRAD_CASES[name]
    assert gradgradcheck(lambda t: parts(fn(t)), (D(X[:2, :6]),))


def test_arithmetic_matches_numpy_complex():
    za = RNG.normal(size=(3, 4)) + 1j * RNG.normal(size=(3, 4))
    zb = RNG.normal(size=(3, 4)) + 1j * RNG.normal(size=(3, 4))
    ra = RNG.normal(size=(3, 4))
    a, b, r = C(za), C(zb), D(ra, False)
    cases = [
        (a + b, za + zb), (a - b, za - zb), (a * b, za * zb), (a / b, za / zb),
        (a * r, za * ra), (r * a, ra * za), (r + a, ra + za), (r - a, ra - za), (r / a, ra / za),
        (a * 2.5, za * 2.5), (2 - a, 2 - za), (a * (1 + 2j), za * (1 + 2j)), ((1j) / a, 1j / za),
        (-a, -za), (a.conj(), za.conj()), (a.exp(), np.exp(za)), (a.log(), np.log(za)),
        (a ** 2, za**2), (a ** 0.5, np.sqrt(za)), (a.reciprocal(), 1 / za),
        (a @ b.T, za @ zb.T), (a @ r.T, za @ ra.T), (rustdl.matmul(r, b.T), ra @ zb.T),
        (rustdl.einsum("ij,kj->ik", a, b), np.einsum("ij,kj->ik", za, zb)),
        (a.sum(1), za.sum(1)), (a.mean(), za.mean()), (a.prod(1), za.prod(1)),
        (rustdl.cat([a, r], 0), np.concatenate([za, ra], 0)), (rustdl.stack([a, b]), np.stack([za, zb])),
        (a.T.reshape(2, 6)[1:, ::2], za.T.reshape(2, 6)[1:, ::2]), (a.H, za.conj().T),
    ]  # fmt: skip
    for got, want in cases:
        np.testing.assert_allclose(npc(got), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a.abs().numpy(), np.abs(za), rtol=1e-12)
    np.testing.assert_allclose(a.angle().numpy(), np.angle(za), rtol=1e-12)
    np.testing.assert_allclose(rustdl.angle(r).numpy(), np.angle(ra))
    assert bool((a == C(za)).all()) and not bool((a != C(za)).any())
    # a real tensor with a Python complex number gives a complex tensor, as PyTorch
    for got, want in (
        (1j * r, 1j * ra),
        (r * (2 - 1j), ra * (2 - 1j)),
        (r + 2j, ra + 2j),
        (3j - r, 3j - ra),
        (r / (1 + 1j), ra / (1 + 1j)),
    ):
        assert isinstance(got, rustdl.ComplexTensor)
        np.testing.assert_allclose(npc(got), want, rtol=1e-12)
    np.testing.assert_allclose(npc(rustdl.exp(1j * r)), np.exp(1j * ra), rtol=1e-12)
    np.testing.assert_allclose(float(rustdl.linalg.norm(a)), np.linalg.norm(za), rtol=1e-12)
    np.testing.assert_allclose(
        rustdl.linalg.vector_norm(a, dim=1).numpy(), np.linalg.norm(za, axis=1), rtol=1e-12
    )
    np.testing.assert_allclose(float(rustdl.linalg.matrix_norm(a, 1)), np.linalg.norm(za, 1), rtol=1e-12)
    np.testing.assert_allclose(
        float(rustdl.linalg.matrix_norm(a, "nuc")), np.linalg.norm(za, "nuc"), rtol=1e-12
    )
    assert r.real is r
    # numpy operands on the left defer to the complex tensor
    for got, want in ((np.complex128(1j) * a, 1j * za), (np.float64(2.0) * a, 2 * za), (ra * a, ra * za)):
        assert isinstance(got, rustdl.ComplexTensor)
        np.testing.assert_allclose(npc(got), want, rtol=1e-12)


def test_abs_and_angle_have_zero_gradient_at_zero():
    re = D([0.0, 3.0])
    im = D([0.0, 4.0])
    z = rustdl.complex(re, im)
    (z.abs().sum() + z.angle().sum()).backward()
    # d|z|/dre = re/|z|, d arg/dre = -im/|z|², both 0 at z = 0
    np.testing.assert_allclose(re.grad.numpy(), [0.0, 3 / 5 - 4 / 25])
    np.testing.assert_allclose(im.grad.numpy(), [0.0, 4 / 5 + 3 / 25])


def test_creation_dtypes_and_conversions():
    z = rustdl.tensor([1 + 2j, 3 - 1j])
    assert z.dtype is rustdl.complex64 and rustdl.is_complex(z) and z.is_complex()
    assert z[0].item() == 1 + 2j
    assert rustdl.tensor(np.array([1j], dtype=np.complex128)).dtype is rustdl.complex128
    assert rustdl.zeros(2, 3, dtype=rustdl.cfloat).shape == (2, 3)
    np.testing.assert_array_equal(rustdl.ones(2, dtype=rustdl.complex64).numpy(), [1, 1])
    np.testing.assert_array_equal(rustdl.full((2,), 1 - 2j).numpy(), [1 - 2j, 1 - 2j])
    np.testing.assert_array_equal(rustdl.zeros_like(z).numpy(), [0, 0])
    np.testing.assert_array_equal(rustdl.full_like(z, 3j).numpy(), [3j, 3j])
    w = rustdl.randn(20000, dtype=rustdl.complex64)
    assert abs(float((w.abs() ** 2).mean()) - 1.0) < 0.05  # unit variance, as PyTorch
    r = rustdl.tensor([1.0, -2.0])
    assert r.to(rustdl.complex128).dtype is rustdl.complex128 and not r.is_complex()
    np.testing.assert_array_equal(r.cfloat().numpy(), [1, -2])
    assert z.numpy().dtype == np.complex64 and z.cdouble().numpy().dtype == np.complex128
    x = rustdl.view_as_real(z)
    assert tuple(x.shape) == (2, 2)
    np.testing.assert_array_equal(rustdl.view_as_complex(x).numpy(), z.numpy())
    assert repr(z) == "tensor([1.+2.j, 3.-1.j])"  # PyTorch's layout: each part formatted on its own
    with pytest.raises(RuntimeError, match="view_as_complex"):
        rustdl.view_as_complex(rustdl.ones(3))
    with pytest.raises(RuntimeError, match="real scalar"):
        z.sum().backward()


def test_writes_into_a_complex_tensor_reach_its_parts_and_gradients():
    src = D(X[:, :6])
    out = rustdl.zeros(3, 8, dtype=rustdl.complex128)
    out[:, :3] = rustdl.fft.rfft(src)[:, :3]
    out[:, 5] = 2j
    want = np.zeros((3, 8), complex)
    want[:, :3] = np.fft.rfft(X[:, :6])[:, :3]
    want[:, 5] = 2j
    np.testing.assert_allclose(npc(out), want, atol=1e-12)
    rustdl.fft.irfft(out, n=8).sum().backward()
    assert src.grad is not None and np.isfinite(src.grad.numpy()).all()
    assert gradcheck(lambda t: rustdl.fft.irfft(_written(t), n=8), (D(X[:, :6]),))


def _written(t):
    out = rustdl.zeros(3, 8, dtype=rustdl.complex128)
    out[:, :3] = rustdl.fft.rfft(t)[:, :3]
    return out


def _stft_ref(x, n_fft, hop, window, center, pad_mode="reflect"):
    if center:
        x = np.pad(x, n_fft // 2, mode=pad_mode)
    frames = [x[i : i + n_fft] * window for i in range(0, len(x) - n_fft + 1, hop)]
    return np.stack([np.fft.rfft(f) for f in frames], 1)


@pytest.mark.parametrize("center", [True, False])
def test_stft_matches_a_frame_loop_and_istft_inverts_it(center):
    sig = RNG.normal(size=40)
    # periodic windows as PyTorch's; without centring, one that is nonzero at the ends (the
    # first and last samples lie under its edges alone: a Hann window would fail NOLA there)
    if center:
        win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(8) / 8)
        w = rustdl.hann_window(8, dtype=rustdl.float64)
    else:
        win = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(8) / 8)
        w = rustdl.hamming_window(8, dtype=rustdl.float64)
    np.testing.assert_allclose(w.numpy(), win, atol=1e-12)
    x = D(sig, False)
    spec = rustdl.stft(x, n_fft=8, hop_length=2, window=w, center=center, return_complex=True)
    np.testing.assert_allclose(npc(spec), _stft_ref(sig, 8, 2, win, center), atol=1e-12)
    back = rustdl.istft(spec, n_fft=8, hop_length=2, window=w, center=center, length=40 if center else None)
    n = back.shape[-1]
    assert n == 40
    np.testing.assert_allclose(back.numpy(), sig[:n], atol=1e-10)
    with pytest.raises(RuntimeError, match="NOLA"):
        rustdl.istft(
            spec, n_fft=8, hop_length=2, window=rustdl.hann_window(8, dtype=rustdl.float64), center=False
        )
    batch = rustdl.stft(D(np.stack([sig, sig[::-1].copy()]), False), 8, 4, return_complex=True)
    assert tuple(batch.shape) == (2, 5, 11)
    assert gradcheck(
        lambda t: rustdl.view_as_real(
            rustdl.stft(
                t,
                n_fft=6,
                hop_length=3,
                window=rustdl.hann_window(6, dtype=rustdl.float64),
                return_complex=True,
            )
        ),
        (D(sig[:15]),),
    )


def test_stft_short_window_normalized_and_errors():
    sig = RNG.normal(size=30)
    w5 = np.hamming(5)
    spec = rustdl.stft(
        D(sig, False),
        n_fft=8,
        win_length=5,
        window=rustdl.tensor(w5),
        return_complex=True,
        normalized=True,
        center=False,
    )
    padded = np.zeros(8)
    padded[1:6] = w5
    np.testing.assert_allclose(npc(spec), _stft_ref(sig, 8, 2, padded, False) / np.sqrt(8), atol=1e-6)
    with pytest.raises(RuntimeError, match="return_complex"):
        rustdl.stft(D(sig, False), 8)
    with pytest.raises(RuntimeError, match="hop_length"):
        rustdl.stft(D(sig, False), 8, hop_length=0, return_complex=True)


def test_bad_input_gets_typed_errors():
    x = D(X, False)
    with pytest.raises(RuntimeError, match="real input"):
        rustdl.fft.rfft(rustdl.fft.fft(x))
    with pytest.raises(ValueError, match="normalization"):
        rustdl.fft.fft(x, norm="sideways")
    with pytest.raises(RuntimeError, match="Invalid number of data points"):
        rustdl.fft.fft(x, n=0)
    with pytest.raises(RuntimeError, match="Invalid number of data points"):
        rustdl.fft.fft(rustdl.zeros(3, 0))
    with pytest.raises(IndexError, match="out of range"):
        rustdl.fft.fft(x, dim=2)
    with pytest.raises(IndexError):
        rustdl.fft.fft(rustdl.tensor(1.0))
    with pytest.raises(RuntimeError, match="same dtype"):
        rustdl.complex(rustdl.ones(2), rustdl.ones(2, dtype=rustdl.float64))
    with pytest.raises(TypeError):
        rustdl.fft.fft([1.0, 2.0])


def test_spectral_filter_trains_on_the_device(device):
    # a learnable frequency response (complex, as two real parameters) fitted so that the filtered
    # signal matches a target filtered by a known response
    rng = np.random.default_rng(3)
    sig = rustdl.tensor(rng.normal(size=(8, 32)).astype(np.float32), device=device)
    true = np.exp(-np.arange(17) / 4.0) * np.exp(1j * np.arange(17) * 0.3)
    target = rustdl.tensor(
        np.fft.irfft(np.fft.rfft(sig.cpu().numpy()) * true, n=32).astype(np.float32), device=device
    )
    wr = rustdl.nn.Parameter(rustdl.zeros(17, device=device))
    wi = rustdl.nn.Parameter(rustdl.zeros(17, device=device))
    opt = rustdl.optim.Adam([wr, wi], lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        out = rustdl.fft.irfft(rustdl.fft.rfft(sig) * rustdl.complex(wr, wi), n=32)
        loss = F.mse_loss(out, target)
        loss.backward()
        opt.step()
    assert float(loss) < 1e-3
    got = wr.detach().cpu().numpy() + 1j * wi.detach().cpu().numpy()
    np.testing.assert_allclose(got[1:16], true[1:16], atol=0.05)


def test_transforms_on_the_gpu_match_the_cpu(gpu):
    x = rustdl.tensor(X.astype(np.float32))
    xg = x.to("gpu")
    for fn in (rustdl.fft.rfft, rustdl.fft.fft, lambda t: rustdl.fft.irfft(rustdl.fft.rfft(t) * 2, n=10)):
        a, b = fn(x), fn(xg)
        assert b.device.type == "gpu"
        np.testing.assert_allclose(np.asarray(b.cpu().numpy()), np.asarray(a.numpy()), rtol=1e-5, atol=1e-5)


class _Spectral(rustdl.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = rustdl.nn.Parameter(rustdl.tensor([[1 + 2j, -0.5j], [0.25, 3 - 1j]]))
        self.bias = rustdl.nn.Parameter(rustdl.zeros(2))

    def forward(self, a):
        return (self.w * a).abs() ** 2 + self.bias


def test_complex_parameters_register_train_and_save(tmp_path):
    m = _Spectral()
    w0 = m.w.detach().numpy().copy()
    assert m.w.is_complex() and m.w.is_leaf and m.w.requires_grad
    assert [n for n, _ in m.named_parameters()] == ["w", "bias"]
    assert sum(p.numel() for p in m.parameters()) == 6  # complex elements count once, as PyTorch
    a = rustdl.tensor([[2.0, 1.0], [0.5, 3.0]])
    m(a).sum().backward()
    # L = Σ |w a|²: ∂L/∂re + i ∂L/∂im = 2 a² w
    np.testing.assert_allclose(m.w.grad.numpy(), 2 * a.numpy() ** 2 * w0, rtol=1e-6)
    total = rustdl.nn.utils.clip_grad_norm_(m.parameters(), 1e9)
    g = 2 * a.numpy() ** 2 * w0
    np.testing.assert_allclose(
        float(total), np.sqrt((np.abs(g) ** 2).sum() + 2 * 2.0**2), rtol=1e-6
    )  # bias grad: 2, 2
    opt = rustdl.optim.Adam(m.parameters(), lr=0.1)
    opt.step()
    # the first Adam step moves each real and imaginary part by lr · sign(its gradient)
    want = w0 - 0.1 * (np.sign(g.real) + 1j * np.sign(g.imag))
    np.testing.assert_allclose(m.w.detach().numpy(), want, rtol=1e-5, atol=1e-6)
    sd = m.state_dict()
    assert tuple(sd["w"].shape) == (2, 2, 2)  # held as its real view
    rustdl.save(sd, tmp_path / "m.pt")
    m2 = _Spectral()
    m2.load_state_dict(rustdl.load(tmp_path / "m.pt"))
    np.testing.assert_array_equal(m2.w.detach().numpy(), m.w.detach().numpy())
    m2.to(rustdl.float64)
    assert m2.w.dtype is rustdl.complex128
    import copy

    m3 = copy.deepcopy(m)
    with rustdl.no_grad():
        m3.w.mul_(2)
    np.testing.assert_allclose(m3.w.detach().numpy(), 2 * m.w.detach().numpy(), rtol=1e-6)
    buf = __import__("io").BytesIO()
    rustdl.save(m, buf)  # a whole module, pickled
    buf.seek(0)
    m4 = rustdl.load(buf, weights_only=False)
    assert m4.w.is_complex()
    np.testing.assert_array_equal(m4.w.detach().numpy(), m.w.detach().numpy())
    pl = rustdl.nn.ParameterList([rustdl.nn.Parameter(rustdl.ones(2, dtype=rustdl.cfloat))])
    assert pl[0].is_complex()
    m.zero_grad()
    assert m.w.grad is None


def test_eig_reconstructs_and_differentiates():
    a = np.array([[2.0, -1.0, 0.5], [1.0, 3.0, 0.2], [0.3, -0.7, 1.0]])
    A = D(a)
    L, V = rustdl.linalg.eig(A)
    w = np.linalg.eigvals(a)
    np.testing.assert_allclose(np.sort_complex(npc(L)), np.sort_complex(w), rtol=1e-12)
    Vn, Ln = npc(V), npc(L)
    np.testing.assert_allclose(Vn @ np.diag(Ln) @ np.linalg.inv(Vn), a, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(Vn, axis=0), 1.0, rtol=1e-12)
    weights = D(np.arange(9.0).reshape(3, 3), False)

    def f(t):
        lam, vec = rustdl.linalg.eig(t)
        # a loss that does not depend on each eigenvector's phase
        return rustdl.stack([(lam.abs() ** 2).sum(), (vec.abs() ** 2 * weights).sum(), (lam.real**3).sum()])

    assert gradcheck(f, (A,))
    B = D([[1.0, 2.0], [3.0, 4.0]])
    rustdl.linalg.eigvals(B).real.sum().backward()  # d trace / dB = I
    np.testing.assert_allclose(B.grad.numpy(), np.eye(2), atol=1e-12)
    with pytest.raises(ValueError, match="square"):
        rustdl.linalg.eig(rustdl.ones(2, 3))
