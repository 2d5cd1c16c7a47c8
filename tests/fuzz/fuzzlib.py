"""Strategies and comparisons shared by the fuzz tests (the parent side: numpy only, never rustdl)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from harness import is_typed_error, probe, reproducer
from hypothesis import assume, note
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Zero-size dims are drawn unless RUSTDL_FUZZ_ZERO=0 (lets a long run look past a known zero-size bug).
ZERO = os.environ.get("RUSTDL_FUZZ_ZERO", "1") != "0"
MIN_SIDE = 0 if ZERO else 1

# (device, dtype): GPU results are compared with float64 references at float32 tolerances.
CONFIGS = [("cpu", "float32"), ("cpu", "float64"), ("gpu", "float32")]
CONFIG_IDS = [f"{d}-{t}" for d, t in CONFIGS]

_GPU = None


def gpu_ok():
    global _GPU
    if _GPU is None:
        res = probe({"code": "out = bool(rd.gpu.is_available())", "dev": "cpu"})
        _GPU = res[0] == "ok" and res[1] == ("py", True)
    return _GPU


def need(dev):
    if dev == "gpu" and not gpu_ok():
        if os.environ.get("RUSTDL_REQUIRE_GPU") == "1":
            pytest.fail("RUSTDL_REQUIRE_GPU=1 but no GPU adapter was found")
        pytest.skip("no GPU adapter")


def tols(dev, dtype, scale=1.0):
    if dtype == "float64":
        return 1e-10 * scale, 1e-12 * scale
    if dev == "gpu":
        return 2e-4 * scale, 2e-5 * scale
    return 2e-5 * scale, 2e-6 * scale


FLOAT_SPECIALS = [
    np.nan,
    np.inf,
    -np.inf,
    -0.0,
    0.0,
    1e-40,
    -1e-40,
    1e30,
    -1e30,
    1e-30,
    3e38,
    -3e38,
    1.0,
    -1.0,
]


def shapes(min_dims=0, max_dims=4, max_side=5, min_side=None):
    return hnp.array_shapes(
        min_dims=min_dims,
        max_dims=max_dims,
        min_side=MIN_SIDE if min_side is None else min_side,
        max_side=max_side,
    )


def broadcast_pair(max_dims=3):
    """Two shapes that broadcast together: 0 to `max_dims` dims of MIN_SIDE to 4."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=max_dims, min_side=MIN_SIDE, max_side=4
    ).map(lambda bs: bs.input_shapes)


@st.composite
def farrays(draw, dtype, shape, lo=-10.0, hi=10.0, specials=True, dev="cpu"):
    """Float arrays of `dtype`; sometimes sprinkled with NaN, ±inf, -0.0, denormals, huge/tiny values."""
    width = 32 if dtype == "float32" else 64
    if width == 32:  # hypothesis wants bounds exactly representable at the width: round them inwards
        lo32, hi32 = np.float32(lo), np.float32(hi)
        lo = float(lo32 if lo32 >= lo else np.nextafter(lo32, np.float32(np.inf)))
        hi = float(hi32 if hi32 <= hi else np.nextafter(hi32, np.float32(-np.inf)))
    finite = st.floats(lo, hi, width=width, allow_subnormal=False)
    use_specials = specials and draw(st.integers(0, 3)) == 0
    if use_specials:
        sp = [
            v for v in FLOAT_SPECIALS if not (dev == "gpu" and v != 0 and abs(v) < 1e-37)
        ]  # GPUs may flush denormals
        elements = st.one_of(finite, st.sampled_from(sp))
    else:
        elements = finite
    return draw(hnp.arrays(np.dtype(dtype), shape, elements=elements))


@st.composite
def iarrays(draw, shape, lo=-20, hi=20):
    return draw(hnp.arrays(np.int64, shape, elements=st.integers(lo, hi)))


def views(ndim):
    opts = ["c"]
    if ndim >= 1:
        opts.append("s")
    if ndim >= 2:
        opts.append("t")
    return st.sampled_from(opts)


def rd_dtype(np_dtype) -> str:
    return {
        "float32": "rustdl.float32",
        "float64": "rustdl.float64",
        "int64": "rustdl.int64",
        "bool": "rustdl.bool",
    }[str(np.dtype(np_dtype))]


class RefError(Exception):
    """Raised by a reference when PyTorch raises: the case must then end in a typed Python error."""


def _fail(case, msg):
    raise AssertionError(f"{msg}\n--- reproducer ---\n{reproducer(case)}")


def run(code, inputs, dev):
    case = {"code": code, "inputs": dict(inputs), "dev": dev}
    note(f"code: {code}")
    return case, probe(case)


def expect_error(case, res):
    if res[0] == "ok":
        _fail(case, "expected a typed error (as PyTorch raises), got a result")
    if not is_typed_error(res):
        _fail(case, f"expected a typed Python error, got {res[1]}: {res[3]}")


def check_result(case, res, expected, rtol=0.0, atol=0.0, equal_nan=True):
    """`expected` is a numpy array whose dtype is the expected result dtype (or a list of them)."""
    if res[0] != "ok":
        _fail(case, f"raised {res[1]}: {res[3]}")
    _check_enc(case, res[1], expected, rtol, atol, equal_nan, "out")


def _check_enc(case, enc, expected, rtol, atol, equal_nan, where):
    if isinstance(expected, (list, tuple)):
        if enc[0] != "seq" or len(enc[1]) != len(expected):
            _fail(
                case,
                f"{where}: expected a sequence of {len(expected)} tensors, got {enc[0]} {str(enc)[:200]}",
            )
        for i, (e, x) in enumerate(zip(enc[1], expected)):
            _check_enc(case, e, x, rtol, atol, equal_nan, f"{where}[{i}]")
        return
    expected = np.asarray(expected)
    if enc[0] != "tensor":
        _fail(case, f"{where}: expected a tensor, got {str(enc)[:200]}")
    _, got, dtype, shape, device = enc
    if tuple(shape) != tuple(expected.shape):
        _fail(case, f"{where}: shape {tuple(shape)} != expected {tuple(expected.shape)}")
    if dtype != rd_dtype(expected.dtype):
        _fail(case, f"{where}: dtype {dtype} != expected {rd_dtype(expected.dtype)}")
    if not device.startswith(case["dev"]):
        _fail(case, f"{where}: device {device}, expected {case['dev']}")
    got = np.asarray(got)
    if got.shape != expected.shape:
        _fail(case, f"{where}: numpy() shape {got.shape} != tensor shape {expected.shape}")
    if expected.dtype.kind in "biu":
        if not np.array_equal(got, expected):
            _fail(case, f"{where}: values differ\n got {got!r}\n expected {expected!r}")
        return
    g = got.astype(np.float64)
    e = expected.astype(np.float64)
    gn, en = np.isnan(g), np.isnan(e)
    if equal_nan and not np.array_equal(gn, en):
        _fail(case, f"{where}: NaN positions differ\n got {got!r}\n expected {expected!r}")
    gi, ei = np.isinf(g), np.isinf(e)
    both_inf_ok = np.array_equal(gi, ei) and np.array_equal(g[gi], e[ei])
    fin = ~(en | ei)
    close = np.isclose(g[fin], e[fin], rtol=rtol, atol=atol) if fin.any() else np.array([True])
    if not both_inf_ok or not close.all():
        err = np.abs(g - e)
        _fail(
            case,
            f"{where}: values differ (rtol={rtol}, atol={atol}, max abs err {np.nanmax(err[fin]) if fin.any() else 0})"
            f"\n got {got!r}\n expected {expected!r}",
        )


def ref64(fn, *arrays, out_dtype):
    """Runs a numpy reference in float64 and casts to the expected result dtype."""
    with np.errstate(all="ignore"):
        r = fn(*[np.asarray(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else a for a in arrays])
    if isinstance(r, (list, tuple)):
        return [np.asarray(x).astype(out_dtype) for x in r]
    return np.asarray(r).astype(out_dtype)


def numgrad(f, arrays, wrt, eps=1e-6):
    """Central finite differences of the scalar numpy function f(*arrays) w.r.t. arrays[wrt] (float64)."""
    arrays = [
        np.array(a, dtype=np.float64, copy=True) if np.asarray(a).dtype.kind == "f" else a for a in arrays
    ]
    x = arrays[wrt]
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f(*arrays)
        x[i] = old - eps
        fm = f(*arrays)
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


__all__ = ["assume", "st", "hnp", "note"]
