"""Every example of the never-crash issue as a regression test: crashes, aborts and panics are
typed exceptions now, and the values follow PyTorch's IEEE semantics.

Cases that used to kill the process run in a child interpreter, so a regression is reported as
a failure with its output instead of taking the test runner down.
"""

import math
import subprocess
import sys

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from conftest import assert_close, raised_builtin


def run_child(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import rustdl\nimport rustdl.nn.functional as F\n" + code],
        capture_output=True,
        text=True,
        timeout=300,
    )


# ----------------------------------------------------------------- once fatal, in a child


CHILD_CASES = {
    # (code, exception name expected in the child's stderr, or None for success)
    "flatten_of_empty": ("print(tuple(rustdl.zeros(2, 0).flatten().shape))", None),
    "max_over_dim_of_empty": ("v, i = rustdl.zeros(2, 2, 0, 3).max(3); print(tuple(v.shape))", None),
    "reshape_of_empty": ("print(tuple(rustdl.zeros(2, 0).reshape(0, 5).shape))", None),
    "nested_list_20000_deep": (
        "l = []\ncur = l\nfor _ in range(20000):\n    n = []\n    cur.append(n)\n    cur = n\nrustdl.tensor(l)",
        "ValueError",
    ),
    "zeros_10_to_12": ("rustdl.zeros(10**12)", "MemoryError"),
    "outer_of_200k_vectors": ("a = rustdl.ones(200000)\na[:, None] * a[None, :]", "MemoryError"),
    "huge_linear": ("rustdl.nn.Linear(10**6, 10**6)", "MemoryError"),
    # the columns of one image alone are 274 GB (a 33x33 kernel over 1024x1024 pixels)
    "conv_with_100gb_columns": (
        "F.conv2d(rustdl.ones(2, 64, 1024, 1024), rustdl.ones(64, 64, 33, 33))",
        "MemoryError",
    ),
    "sum_dim0_of_0d": ("print(rustdl.tensor(3.0).sum(dim=0).item())", None),
    "zeros_2_31_squared": ("rustdl.zeros(2**31, 2**31)", "ValueError"),
    "zeros_2_32_squared": ("rustdl.zeros(2**32, 2**32)", "ValueError"),
    "max_pool_ceil_dilation": (
        "print(tuple(F.max_pool2d(rustdl.ones(1, 1, 5, 5), 2, stride=2, padding=1, dilation=2, ceil_mode=True).shape))",
        None,
    ),
}


@pytest.mark.parametrize("case", list(CHILD_CASES))
def test_once_fatal_inputs_are_typed_errors_or_results(case):
    code, expected = CHILD_CASES[case]
    r = run_child(code)
    assert r.returncode in (0, 1), f"{case}: the process died (rc={r.returncode}): {r.stderr[-800:]}"
    assert "PanicException" not in r.stderr, r.stderr[-800:]
    if expected is None:
        assert r.returncode == 0, r.stderr[-800:]
    else:
        assert raised_builtin(r.stderr) == expected, r.stderr[-800:]


def test_zero_size_shapes_match_numpy(device):
    z = rustdl.zeros(2, 0, device=device)
    assert z.is_contiguous()
    assert tuple(z.flatten().shape) == (0,)
    assert tuple(z.t().contiguous().shape) == (0, 2)
    v, i = rustdl.zeros(2, 2, 0, 3, device=device).max(3)
    assert tuple(v.shape) == (2, 2, 0) and tuple(i.shape) == (2, 2, 0)
    assert tuple((rustdl.ones(2, 0, device=device) @ rustdl.ones(0, 3, device=device)).shape) == (2, 3)
    assert_close(rustdl.ones(2, 0, device=device) @ rustdl.ones(0, 3, device=device), np.zeros((2, 3)))
    assert_close(rustdl.ones(0, 3, device=device).sum(0), np.zeros(3))


def test_reduction_over_dim_0_of_a_0d_tensor(device):
    t = rustdl.tensor(3.0, device=device)
    for fn in (lambda: t.sum(dim=0), lambda: t.mean(dim=0), lambda: t.sum(dim=-1, keepdim=True)):
        assert fn().item() == 3.0
    with pytest.raises(IndexError):
        t.sum(dim=1)


def test_indexing_a_zero_size_dim_is_an_index_error(device):
    with pytest.raises(IndexError, match="index 0 is out of bounds"):
        rustdl.zeros(0, 3, device=device)[0]


# ----------------------------------------------------------------- silently wrong values


def test_relu_propagates_nan(device):
    x = rustdl.tensor([float("nan"), -1.0, 2.0], device=device)
    out = x.relu().cpu().numpy()
    assert math.isnan(out[0]) and out[1] == 0.0 and out[2] == 2.0


def test_adaptive_avg_pool_with_inf_only_poisons_its_window(device):
    a = np.array([[[[1.0, np.inf, 3.0, 4.0], [2.0, 3.0, 5.0, 6.0]]]], dtype=np.float32)
    out = F.adaptive_avg_pool2d(rustdl.tensor(a, device=device), (1, 2)).cpu().numpy()
    np.testing.assert_array_equal(out, [[[[np.inf, 4.5]]]])
    b = np.arange(35, dtype=np.float32).reshape(1, 1, 5, 7)
    got = F.adaptive_avg_pool2d(rustdl.tensor(b, device=device), (3, 2)).cpu().numpy()
    want = np.zeros((3, 2))
    for i in range(3):
        for j in range(2):
            r0, r1 = (i * 5) // 3, -(-((i + 1) * 5) // 3)
            c0, c1 = (j * 7) // 2, -(-((j + 1) * 7) // 2)
            want[i, j] = b[0, 0, r0:r1, c0:c1].mean()
    np.testing.assert_allclose(got[0, 0], want, rtol=1e-6)


def test_logsumexp_at_infinities(device):
    t = lambda v: rustdl.tensor(v, device=device)  # noqa: E731
    assert t([float("inf"), 1.0]).logsumexp(0).item() == math.inf
    assert t([-math.inf, -math.inf]).logsumexp(0).item() == -math.inf
    assert_close(t([1.0, 2.0]).logsumexp(0), np.log(np.exp(1) + np.exp(2)), rtol=1e-6)


@pytest.mark.parametrize("p", [math.inf, -math.inf, 0, 1, 2, 3, 0.5])
def test_norm_over_a_tuple_of_dims_matches_numpy(p, device):
    a = np.array([[[1.0, -5.0], [3.0, 0.0]], [[-2.0, 4.0], [0.5, 7.0]]], dtype=np.float32)
    x = rustdl.tensor(a, device=device)
    flat = np.abs(a).reshape(2, -1)
    if p == math.inf:
        want = flat.max(1)
    elif p == -math.inf:
        want = flat.min(1)
    elif p == 0:
        want = (flat != 0).sum(1)
    else:
        want = (flat**p).sum(1) ** (1 / p)
    assert_close(x.norm(p=p, dim=(1, 2)), want, rtol=1e-5)


def test_norm_zero_counts_nonzeros_and_2norm_gradient_at_zero(device):
    assert rustdl.tensor([1.0, 0.0, 3.0], device=device).norm(0).item() == 2.0
    x = rustdl.zeros(3, device=device, requires_grad=True)
    x.norm().backward()
    assert_close(x.grad, np.zeros(3))


def test_gpu_int64_never_wraps():
    if not rustdl.gpu.is_available():
        pytest.skip("no GPU adapter")
    big = rustdl.full((4,), 2**30, dtype=rustdl.int64, device="gpu")
    with pytest.raises(ValueError, match="overflows"):
        big.sum()
    with pytest.raises(ValueError, match="overflows"):
        big * 4
    small = rustdl.tensor([3, -4, 5], device="gpu")
    assert small.sum().item() == 4 and (small * 2).sum().item() == 8


def test_from_numpy_uint64_beyond_int64_is_refused():
    with pytest.raises(TypeError, match="uint64"):
        rustdl.from_numpy(np.array([2**63 + 5], dtype=np.uint64))
    for dt in (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32):
        info = np.iinfo(dt)
        a = np.array([info.min, 0, info.max], dtype=dt)
        np.testing.assert_array_equal(rustdl.from_numpy(a).numpy(), a.astype(np.int64))


def test_one_hot_out_of_range_is_an_error():
    with pytest.raises(RuntimeError, match="one_hot"):
        F.one_hot(rustdl.tensor([0, 5]), 3)
    with pytest.raises(RuntimeError, match="one_hot"):
        F.one_hot(rustdl.tensor([-1, 0]), 3)


def test_inplace_on_a_saved_tensor_is_an_error_not_a_wrong_gradient(device):
    x = rustdl.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x.sigmoid()
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


# ----------------------------------------------------------------- invalid arguments


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: F.avg_pool2d(rustdl.ones(1, 1, 4, 4), 2, padding=2), "avg_pool2d"),
        (
            lambda: F.conv_transpose2d(rustdl.ones(1, 1, 4, 4), rustdl.ones(1, 1, 2, 2), stride=0),
            "conv_transpose2d",
        ),
        (lambda: F.interpolate(rustdl.ones(1, 1, 4, 4), scale_factor=0), "interpolate"),
        (lambda: rustdl.optim.SGD([rustdl.nn.Parameter(rustdl.ones(2))], lr=float("nan")), "lr"),
        (lambda: rustdl.optim.Adam([rustdl.nn.Parameter(rustdl.ones(2))], lr=float("inf")), "lr"),
        (lambda: rustdl.zeros(-1), "negative dimension"),
        (lambda: rustdl.ones(3).narrow(0, 1, -2), "narrow"),
        (lambda: rustdl.ones(3).chunk(-2), "chunk"),
        (lambda: rustdl.eye(-1), "eye"),
        (lambda: rustdl.linspace(0, 1, -1), "linspace"),
        (lambda: F.pad(rustdl.ones(2, 2), (-5, -5)), "pad"),
        (lambda: rustdl.nn.Conv2d(3, 4, 0), "kernel_size"),
    ],
)
def test_invalid_arguments_are_value_or_index_errors_naming_them(call, match):
    with pytest.raises((ValueError, IndexError), match=match):
        call()


def test_negative_pad_crops_like_pytorch():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = F.pad(rustdl.tensor(a), (-1, 2, 1, -2), value=9.0).numpy()
    want = np.pad(a[:-2, 1:], ((1, 0), (0, 2)), constant_values=9.0)
    np.testing.assert_array_equal(out, want)


def test_bad_cross_entropy_target_names_cross_entropy(device):
    with pytest.raises(IndexError, match="cross_entropy"):
        F.cross_entropy(rustdl.ones(2, 3, device=device), rustdl.tensor([0, 7], device=device))


def test_out_of_range_index_names_the_index():
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        rustdl.ones(3)[5]


def test_library_keeps_working_after_errors(device):
    for bad in (lambda: rustdl.zeros(10**12), lambda: rustdl.ones(3) @ rustdl.ones(4)):
        with pytest.raises((MemoryError, ValueError)):
            bad()
    x = rustdl.ones(2, 2, device=device, requires_grad=True)
    (x * 3).sum().backward()
    assert_close(x.grad, np.full((2, 2), 3.0))
