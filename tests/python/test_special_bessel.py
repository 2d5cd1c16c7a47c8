"""``rustdl.special`` Bessel functions J0 J1 Y0 Y1, K0 K1 and their exp-scaled forms, and Airy Ai,
as ``torch.special``. References are tabulated values, closed forms (power series, Wronskians,
large-argument expansions, Ai(0)) and finite differences; no SciPy or PyTorch needed."""

import math

import numpy as np
import pytest
import rustdl
from rustdl import special as sp

F64 = rustdl.float64
NAMES = [
    "bessel_j0",
    "bessel_j1",
    "bessel_y0",
    "bessel_y1",
    "modified_bessel_k0",
    "modified_bessel_k1",
    "scaled_modified_bessel_k0",
    "scaled_modified_bessel_k1",
    "airy_ai",
]
INF, NAN = math.inf, math.nan
EULER = 0.5772156649015329


def T(a, requires_grad=False):
    return rustdl.tensor(np.asarray(a, dtype=np.float64), dtype=F64, requires_grad=requires_grad)


def ev(name, a):
    return getattr(sp, name)(T(a)).numpy()


def test_exported():
    for name in NAMES:
        assert name in sp.__all__
        assert callable(getattr(sp, name))
    # PyTorch has these under torch.special only
    assert not hasattr(rustdl, "bessel_j0") and not hasattr(rustdl.Tensor, "airy_ai")


# tabulated values (30-digit references, rounded to 17 digits)
TABLE = {
    "bessel_j0": [0.9384698072408129, 0.76519768655796655, -0.26005195490193344, -0.24593576445134834],
    "bessel_j1": [0.24226845767487389, 0.44005058574493352, 0.33905895852593646, 0.043472746168861437],
    "bessel_y0": [-0.44451873350670656, 0.088256964215676958, 0.37685001001279038, 0.055671167283599391],
    "bessel_y1": [-1.4714723926702431, -0.78121282130028872, 0.32467442479179998, 0.24901542420695388],
    "modified_bessel_k0": [
        0.92441907122766586,
        0.42102443824070833,
        0.034739504386279248,
        1.7780062316167652e-5,
    ],
    "modified_bessel_k1": [
        1.6564411200033009,
        0.60190723019723457,
        0.040156431128194184,
        1.8648773453825585e-5,
    ],
    "airy_ai": [0.23169360648083349, 0.13529241631288142, 0.0065911393574607191, 1.1047532552898686e-10],
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_tabulated_values(name):
    np.testing.assert_allclose(ev(name, [0.5, 1.0, 3.0, 10.0]), TABLE[name], rtol=4e-15, atol=0)


def test_values_at_zero_and_symmetry():
    assert ev("bessel_j0", [0.0, -0.0]).tolist() == [1.0, 1.0]
    j1 = ev("bessel_j1", [0.0, -0.0])
    assert j1.tolist() == [0.0, 0.0] and not np.signbit(j1[0]) and np.signbit(j1[1])
    x = np.concatenate([np.linspace(0.01, 40, 301), np.logspace(2, 6, 50)])
    assert np.array_equal(ev("bessel_j0", -x), ev("bessel_j0", x))
    assert np.array_equal(ev("bessel_j1", -x), -ev("bessel_j1", x))
    a0 = 1 / (3 ** (2 / 3) * math.gamma(2 / 3))
    assert ev("airy_ai", [0.0])[0] == pytest.approx(a0, rel=1e-15, abs=0)
    assert ev("airy_ai", [0.0])[0] == ev("airy_ai", [-0.0])[0]


def test_power_series_small_argument():
    """J0, J1, Y0, K0 and K1 against their power series (summed exactly enough with fsum)."""
    x = np.linspace(1e-3, 3.0, 61)
    hk = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, 40))])  # harmonic numbers H_k

    def series(xi, order, weight=lambda k: 1.0, sign=-1):
        q = xi * xi / 4
        terms = [
            sign**k * weight(k) * q**k / (math.factorial(k) * math.factorial(k + order)) for k in range(40)
        ]
        return math.fsum(terms) * (xi / 2) ** order

    j0 = np.array([series(v, 0) for v in x])
    j1 = np.array([series(v, 1) for v in x])
    np.testing.assert_allclose(ev("bessel_j0", x), j0, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(ev("bessel_j1", x), j1, rtol=1e-14, atol=1e-16)
    # Y0 = (2/π)(ln(x/2) + γ) J0 + (2/π) Σ (-1)^(k+1) H_k (x²/4)^k / (k!)²
    y0 = [2 / math.pi * ((math.log(v / 2) + EULER) * series(v, 0) - series(v, 0, lambda k: hk[k])) for v in x]
    np.testing.assert_allclose(ev("bessel_y0", x), y0, rtol=1e-14, atol=1e-15)
    # K0 = -(ln(x/2) + γ) I0 + Σ H_k (x²/4)^k / (k!)²;  K1 via the Wronskian I0 K1 + I1 K0 = 1/x
    i0 = np.array([series(v, 0, sign=1) for v in x])
    i1 = np.array([series(v, 1, sign=1) for v in x])
    k0 = np.array([-(math.log(v / 2) + EULER) * a + series(v, 0, lambda k: hk[k], 1) for v, a in zip(x, i0)])
    np.testing.assert_allclose(ev("modified_bessel_k0", x), k0, rtol=2e-14)
    np.testing.assert_allclose(ev("modified_bessel_k1", x), (1 / x - i1 * k0) / i0, rtol=2e-14)


def test_zeros():
    # first zeros (double nearest): the value there is J'(j) times the rounding of j
    assert ev("bessel_j0", [2.404825557695773])[0] == pytest.approx(-6.1087652597367304e-17, rel=1e-12)
    assert ev("bessel_j1", [3.8317059702075125])[0] == pytest.approx(-6.1498073569949061e-17, rel=1e-12)
    assert abs(ev("bessel_j0", [30.634606468431975])[0]) < 1e-15  # 10th zero of J0
    assert abs(ev("bessel_y0", [0.89357696627916752])[0]) < 1e-15
    assert abs(ev("bessel_y1", [2.197141326031017])[0]) < 1e-15
    assert abs(ev("airy_ai", [-2.338107410459767])[0]) < 2e-16
    assert abs(ev("airy_ai", [-4.0879494441309706])[0]) < 4e-16


def test_wronskians():
    x = np.concatenate([np.logspace(-3, 6, 400), np.linspace(0.5, 60, 400)])
    j0, j1, y0, y1 = (ev(n, x) for n in ("bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1"))
    np.testing.assert_allclose(j1 * y0 - j0 * y1, 2 / (np.pi * x), rtol=1e-14)
    # I0 K1 + I1 K0 = 1/x (i0 / i1 are rustdl's own), and the same in exp-scaled form to 1e5
    xs = np.linspace(0.01, 40, 300)
    w = sp.i0(T(xs)).numpy() * ev("modified_bessel_k1", xs) + sp.i1(T(xs)).numpy() * ev(
        "modified_bessel_k0", xs
    )
    np.testing.assert_allclose(w, 1 / xs, rtol=1e-14)
    xl = np.logspace(-2, 5, 300)
    w = sp.i0e(T(xl)).numpy() * ev("scaled_modified_bessel_k1", xl) + sp.i1e(T(xl)).numpy() * ev(
        "scaled_modified_bessel_k0", xl
    )
    np.testing.assert_allclose(w, 1 / xl, rtol=1e-14)


def test_scaled_k_is_k_times_exp():
    x = np.concatenate([np.linspace(0.01, 700, 500), [1e-5, 1.999, 2.0, 2.001]])
    for k, ke in (
        ("modified_bessel_k0", "scaled_modified_bessel_k0"),
        ("modified_bessel_k1", "scaled_modified_bessel_k1"),
    ):
        np.testing.assert_allclose(ev(k, x) * np.exp(x), ev(ke, x), rtol=1e-14)
        np.testing.assert_allclose(ev(ke, x) * np.exp(-x), ev(k, x), rtol=1e-14)


def _hankel_pq(mu, x):
    """Hankel's expansions of P and Q (terms to x^-6) for J/Y of order sqrt(mu)/2."""
    with np.errstate(over="ignore"):
        return _hankel_terms(mu, 8.0 * x)


def _hankel_terms(mu, z):
    p = 1 - (mu - 1) * (mu - 9) / (2 * z**2) + (mu - 1) * (mu - 9) * (mu - 25) * (mu - 49) / (24 * z**4)
    p -= (mu - 1) * (mu - 9) * (mu - 25) * (mu - 49) * (mu - 81) * (mu - 121) / (720 * z**6)
    q = (mu - 1) / z - (mu - 1) * (mu - 9) * (mu - 25) / (6 * z**3)
    q += (mu - 1) * (mu - 9) * (mu - 25) * (mu - 49) * (mu - 81) / (120 * z**5)
    return p, q


def test_large_argument_asymptotics():
    x = np.array([1e3, 12345.678, 1e5, 987654.321, 1e6, 1e10, 3e15, 1e100, 1e300, 1.7e308])
    c, s = np.cos(x), np.sin(x)  # exact argument reduction; the phase x - π/4 from them
    amp = math.sqrt(2 / math.pi) / np.sqrt(x)
    for order, cos_chi, sin_chi in (
        (0, (c + s) / 2**0.5, (s - c) / 2**0.5),
        (1, (s - c) / 2**0.5, -(s + c) / 2**0.5),
    ):
        p, q = _hankel_pq(4.0 * order * order, x)
        j = amp * (p * cos_chi - q * sin_chi)
        y = amp * (p * sin_chi + q * cos_chi)
        assert np.all(np.abs(ev(f"bessel_j{order}", x) - j) <= 2e-15 * amp)
        assert np.all(np.abs(ev(f"bessel_y{order}", x) - y) <= 2e-15 * amp)
    # K_n(x) ~ sqrt(π / 2x) e^-x (1 + (μ-1)/8x + (μ-1)(μ-9)/(2!(8x)²) + ...)
    xk = np.array([200.0, 500.0, 700.0, 1e3, 1e6, 1e100])
    for order in (0, 1):
        mu, term, total = 4.0 * order * order, np.ones_like(xk), np.ones_like(xk)
        for k in range(1, 12):
            term = term * (mu - (2 * k - 1) ** 2) / (k * 8.0 * xk)
            total = total + term
        scaled = np.sqrt(np.pi / (2 * xk)) * total
        np.testing.assert_allclose(ev(f"scaled_modified_bessel_k{order}", xk), scaled, rtol=2e-15)
        np.testing.assert_allclose(
            ev(f"modified_bessel_k{order}", xk[:3]), scaled[:3] * np.exp(-xk[:3]), rtol=3e-15
        )
        assert ev(f"modified_bessel_k{order}", [1e3, 1e6]).tolist() == [0.0, 0.0]  # underflow


def _airy_u(n):
    u = [1.0]
    for k in range(1, n):
        u.append(u[-1] * (6 * k - 5) * (6 * k - 3) * (6 * k - 1) / ((2 * k - 1) * 216 * k))
    return u


def test_airy_asymptotics():
    u = _airy_u(16)
    # x > 0: Ai = e^-ζ / (2 √π x^¼) Σ (-1)^k u_k / ζ^k (x^1.5 exact here, so ζ is)
    for x in (9.0, 36.0, 81.0):
        zeta = 2 * x**1.5 / 3
        ser = math.fsum((-1) ** k * u[k] / zeta**k for k in range(12))
        expect = math.exp(-zeta) / (2 * math.sqrt(math.pi) * x**0.25) * ser
        assert ev("airy_ai", [x])[0] == pytest.approx(expect, rel=3e-15)
    # x < 0: Ai(-x) = (sin(ζ + π/4) Σ(-1)^k u_2k/ζ^2k − cos(ζ + π/4) Σ(-1)^k u_2k+1/ζ^2k+1) / (√π x^¼)
    for x in (36.0, 81.0, 8100.0, 90000.0, 9e6):
        zeta = 2 * x**1.5 / 3  # exact for these x
        f = math.fsum((-1) ** k * u[2 * k] / zeta ** (2 * k) for k in range(8))
        g = math.fsum((-1) ** k * u[2 * k + 1] / zeta ** (2 * k + 1) for k in range(7))
        sn, cs = math.sin(zeta), math.cos(zeta)
        amp = 1 / (math.sqrt(math.pi) * x**0.25)
        expect = amp * ((sn + cs) / 2**0.5 * f - (cs - sn) / 2**0.5 * g)
        assert abs(ev("airy_ai", [-x])[0] - expect) <= 2e-15 * amp
    # deep underflow, as PyTorch
    assert ev("airy_ai", [200.0, 1e6, 1e300]).tolist() == [0.0, 0.0, 0.0]


def test_derivatives_by_finite_differences():
    x = np.concatenate([np.linspace(0.2, 30, 150), [60.0, 123.4]])
    h = 1e-5

    def d(name, x):
        return (ev(name, x + h) - ev(name, x - h)) / (2 * h)

    j0, j1, y0, y1 = (ev(n, x) for n in ("bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1"))
    np.testing.assert_allclose(d("bessel_j0", x), -j1, atol=1e-9)
    np.testing.assert_allclose(d("bessel_j1", x), j0 - j1 / x, atol=1e-9)
    np.testing.assert_allclose(d("bessel_y0", x), -y1, atol=1e-9)
    np.testing.assert_allclose(d("bessel_y1", x), y0 - y1 / x, atol=1e-9)
    xk = np.linspace(0.2, 20, 100)
    k0, k1 = ev("modified_bessel_k0", xk), ev("modified_bessel_k1", xk)
    np.testing.assert_allclose(d("modified_bessel_k0", xk), -k1, rtol=1e-8)
    np.testing.assert_allclose(d("modified_bessel_k1", xk), -k0 - k1 / xk, rtol=1e-8)
    # Ai'' = x Ai (second differences) and Ai'(0) = -1/(3^(1/3) Γ(1/3)), across every piece
    xa = np.linspace(-12, 12, 481)
    h = 1e-2
    f = [ev("airy_ai", xa + k * h) for k in (-2, -1, 0, 1, 2)]
    dd = (-f[0] + 16 * f[1] - 30 * f[2] + 16 * f[3] - f[4]) / (12 * h * h)
    np.testing.assert_allclose(dd, xa * f[2], atol=1e-7)
    h = 1e-5
    d0 = (ev("airy_ai", [h])[0] - ev("airy_ai", [-h])[0]) / (2 * h)
    assert d0 == pytest.approx(-1 / (3 ** (1 / 3) * math.gamma(1 / 3)), rel=1e-9)
    # continuity where the approximations switch (|x| = 5 for J/Y, 2 for K, 0.8 1.4 2.09 for Ai)
    for name, b in [("bessel_j0", 5.0), ("bessel_j1", 5.0), ("bessel_y0", 5.0), ("bessel_y1", 5.0)]:
        lo, hi = ev(name, [np.nextafter(b, 0), np.nextafter(b, 9)])
        assert abs(hi - lo) < 3e-15
    for name in (
        "modified_bessel_k0",
        "modified_bessel_k1",
        "scaled_modified_bessel_k0",
        "scaled_modified_bessel_k1",
    ):
        lo, hi = ev(name, [np.nextafter(2.0, 0), np.nextafter(2.0, 9)])
        assert hi == pytest.approx(lo, rel=2e-15)
    for b in (0.8, 1.4, 2.09, -2.09):
        lo, hi = ev("airy_ai", [np.nextafter(b, -9), np.nextafter(b, 9)])
        assert hi == pytest.approx(lo, rel=2e-15)


def test_special_values():
    x = [0.0, -0.0, -1.0, INF, -INF, NAN]

    def same(got, want):  # NaN where NaN, infinities exact
        np.testing.assert_allclose(got, want, rtol=4e-15, atol=0)

    same(ev("bessel_j0", x), [1.0, 1.0, 0.7651976865579666, NAN, NAN, NAN])
    same(ev("bessel_j1", x), [0.0, -0.0, -0.44005058574493355, NAN, NAN, NAN])
    for n in ("bessel_y0", "bessel_y1"):
        same(ev(n, x), [-INF, -INF, NAN, NAN, NAN, NAN])
    for n in NAMES[4:8]:
        same(ev(n, x), [INF, INF, NAN, 0.0, NAN, NAN])
    same(ev("airy_ai", x[:2] + x[3:]), [0.3550280538878172, 0.3550280538878172, NAN, NAN, NAN])
    # tiny and huge arguments
    assert ev("bessel_y1", [1e-300])[0] == pytest.approx(-2 / (math.pi * 1e-300), rel=1e-15)
    assert ev("bessel_y1", [5e-324])[0] == -INF
    assert ev("bessel_y0", [1e-300])[0] == pytest.approx(2 / math.pi * (math.log(5e-301) + EULER), rel=1e-15)
    assert ev("modified_bessel_k1", [1e-300])[0] == pytest.approx(1e300, rel=1e-15)
    assert ev("modified_bessel_k1", [5e-324])[0] == INF
    assert ev("modified_bessel_k0", [5e-324])[0] == pytest.approx(
        -(math.log(5e-324) - math.log(2) + EULER), rel=1e-15
    )
    assert ev("bessel_j1", [1e-300])[0] == 5e-301
    assert ev("airy_ai", [1e-300])[0] == ev("airy_ai", [0.0])[0]


@pytest.mark.parametrize("name", NAMES)
def test_dtypes_and_shapes(name):
    fn = getattr(sp, name)
    x = np.array([[0.3, 1.7, 4.9], [7.5, 12.0, 30.0]])
    x32 = rustdl.tensor(x.astype(np.float32), dtype=rustdl.float32)
    out32 = fn(x32)
    assert out32.dtype == rustdl.float32 and tuple(out32.shape) == (2, 3)
    # float32 is the float64 value rounded once
    assert np.array_equal(out32.numpy(), fn(x32.double()).numpy().astype(np.float32))
    assert fn(T(x)).dtype == F64
    assert fn(rustdl.tensor([1, 2, 3])).dtype == rustdl.get_default_dtype()
    scalar = fn(T(2.5))
    assert tuple(scalar.shape) == () and scalar.item() == fn(T([2.5])).numpy()[0]
    out = rustdl.empty(2, 3, dtype=F64)
    res = fn(T(x), out=out)
    assert res is out and np.array_equal(out.numpy(), fn(T(x)).numpy())
    with pytest.raises(TypeError, match=name):
        fn(2.5)


def test_gradients():
    x0 = np.array([0.0, 0.3, 1.7, 4.9, 5.1, 12.0, 100.0])

    def grad(name, x):
        t = T(x, requires_grad=True)
        getattr(sp, name)(t).sum().backward()
        return t.grad.numpy()

    xp = x0[1:]
    j0, j1, y0, y1 = (ev(n, xp) for n in ("bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1"))
    np.testing.assert_allclose(grad("bessel_j0", xp), -j1, rtol=1e-15)
    np.testing.assert_allclose(grad("bessel_j1", xp), j0 - j1 / xp, rtol=1e-15)
    np.testing.assert_allclose(grad("bessel_y0", xp), -y1, rtol=1e-15)
    np.testing.assert_allclose(grad("bessel_y1", xp), y0 - y1 / xp, rtol=1e-15)
    k0, k1 = ev("modified_bessel_k0", xp), ev("modified_bessel_k1", xp)
    np.testing.assert_allclose(grad("modified_bessel_k0", xp), -k1, rtol=1e-15)
    np.testing.assert_allclose(grad("modified_bessel_k1", xp), -k0 - k1 / xp, rtol=1e-15)
    # at the origin (PyTorch's values): J1' = 1/2, Y1' = +inf, K' = -inf
    assert grad("bessel_j0", [0.0]).tolist() == [0.0]
    assert grad("bessel_j1", [0.0, -0.0, 1e-300]).tolist() == [0.5, 0.5, 0.5]
    assert grad("bessel_y0", [0.0]).tolist() == [INF]
    assert grad("bessel_y1", [0.0]).tolist() == [INF]
    assert grad("modified_bessel_k0", [0.0]).tolist() == [-INF]
    assert grad("modified_bessel_k1", [0.0]).tolist() == [-INF]
    # second derivative: J0'' = -(J0 - J1/x)
    t = T([1.5, 7.0], requires_grad=True)
    (g,) = rustdl.autograd.grad(sp.bessel_j0(t).sum(), t, create_graph=True)
    (g2,) = rustdl.autograd.grad(g.sum(), t)
    xs = np.array([1.5, 7.0])
    np.testing.assert_allclose(g2.numpy(), -(ev("bessel_j0", xs) - ev("bessel_j1", xs) / xs), rtol=1e-14)
    # non-differentiable in PyTorch: the result does not require grad
    for name in ("scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "airy_ai"):
        y = getattr(sp, name)(T([1.0, 2.0], requires_grad=True))
        assert not y.requires_grad


def test_device(device):
    x = np.array([0.5, 2.0, 6.0, 40.0])
    t = rustdl.tensor(x.astype(np.float32), dtype=rustdl.float32).to(device)
    for name in NAMES:
        y = getattr(sp, name)(t)
        assert y.device.type == t.device.type
        np.testing.assert_array_equal(y.cpu().numpy(), ev(name, x.astype(np.float32)).astype(np.float32))
    t.requires_grad_(True)
    sp.bessel_j0(t).sum().backward()
    np.testing.assert_allclose(t.grad.cpu().numpy(), -ev("bessel_j1", x.astype(np.float32)), rtol=1e-6)
