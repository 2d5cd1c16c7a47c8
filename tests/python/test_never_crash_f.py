"""Regression tests for what a hostile-input fuzz round against PyTorch found: Rust panics on 0-d
tensors, values and gradients that differed from PyTorch's, odd-but-valid inputs that were
refused, invalid inputs that were silently accepted, and in-place ops that must leave their
tensor untouched when they fail.

Cases that used to panic run in a child interpreter, so a regression is a failure with its
output instead of a dead test runner.
"""

import math
import subprocess
import sys

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
import rustdl.nn.functional as F
from conftest import assert_close, raised_builtin


def run_child(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import rustdl\nimport rustdl.nn.functional as F\n" + code],
        capture_output=True,
        text=True,
        timeout=300,
    )


# ------------------------------------------------------------------ once a Rust panic, in a child

PANIC_CASES = {
    # (code, exception name expected last in the child's stderr, or None for success)
    "cat_of_0d": ("rustdl.cat([rustdl.tensor(1.0), rustdl.tensor(2.0)])", "ValueError"),
    "cat_of_0d_dim_minus_1": ("rustdl.cat([rustdl.tensor(1.0)], -1)", "ValueError"),
    "chunk_of_0d": ("rustdl.tensor(1.5).chunk(2)", "RuntimeError"),
    "split_of_0d": ("rustdl.tensor(1.5).split(1)", "RuntimeError"),
    "split_sizes_of_0d": ("rustdl.tensor(1.5).split([1])", "RuntimeError"),
    "narrow_of_0d": ("rustdl.tensor(1.5).narrow(0, 0, 1)", "RuntimeError"),
    "select_of_0d": ("rustdl.tensor(1.5).select(0, 0)", "IndexError"),
    "flip_of_0d": ("print(rustdl.tensor(1.5).flip(0).item())", None),
    "gather_of_0d": ("print(rustdl.tensor(1.5).gather(0, rustdl.tensor(0)).item())", None),
    "scatter_add_of_0d": (
        "print(rustdl.tensor(1.5).scatter_add(0, rustdl.tensor(0), rustdl.tensor(2.0)).item())",
        None,
    ),
    "topk_negative_k": ("rustdl.ones(5).topk(-1)", "RuntimeError"),
    "multinomial_negative_count": ("rustdl.ones(2).multinomial(-1)", "RuntimeError"),
    "conv2d_negative_groups": (
        "F.conv2d(rustdl.ones(1, 2, 4, 4), rustdl.ones(2, 1, 3, 3), groups=-1)",
        "ValueError",
    ),
    "group_norm_zero_groups": ("F.group_norm(rustdl.ones(2, 6, 2), 0)", "ValueError"),
}


# sizes no machine holds: each was an abort ("memory allocation of N bytes failed") or a hang
HUGE_CASES = {
    "eye": "rustdl.eye(10**7)",
    "linspace": "rustdl.linspace(0, 1, 10**13)",
    "logspace": "rustdl.logspace(0, 1, 10**13)",
    "repeat_interleave": "rustdl.ones(10).repeat_interleave(10**12)",
    "interpolate_size": "F.interpolate(rustdl.ones(1, 1, 2, 2), size=(10**6, 10**6))",
    "interpolate_scale": "F.interpolate(rustdl.ones(1, 1, 2, 2), scale_factor=1e9)",
    "upsample": "rustdl.nn.Upsample(scale_factor=10**4)(rustdl.ones(1, 1, 10, 10))",
    "contiguous_of_expanded": "rustdl.ones(1).expand(10**13).contiguous()",
    "tolist_of_expanded": "rustdl.ones(1).expand(10**13).tolist()",
    "repr_of_expanded": "repr(rustdl.ones(1).expand(10**13))",
    "sort_of_expanded": "rustdl.ones(1).expand(10**13).sort()",
    "cumsum_of_expanded": "rustdl.ones(1).expand(10**13).cumsum(0)",
    "unique_of_expanded": "rustdl.unique(rustdl.ones(1).expand(10**13))",
    "nonzero_of_expanded": "rustdl.ones(1).expand(10**13).nonzero()",
    "combinations": "rustdl.combinations(rustdl.ones(2**16), 3)",
    "vander": "rustdl.vander(rustdl.ones(10), 10**13)",
}


def test_numpy_of_a_huge_expanded_tensor_is_a_view():
    # as PyTorch's: the array has the tensor's zero strides over its one element
    a = rustdl.ones(1).expand(10**13).numpy()
    assert a.shape == (10**13,) and a.strides == (0,) and a[10**12] == 1.0


@pytest.mark.parametrize("case", list(HUGE_CASES))
def test_impossible_sizes_are_memory_or_value_errors(case):
    r = run_child(HUGE_CASES[case])
    assert r.returncode == 1, f"{case}: rc={r.returncode}: {r.stderr[-800:]}"
    # a count that overflows is a ValueError (as zeros(2**32, 2**32)); one that does not fit, MemoryError
    assert raised_builtin(r.stderr) in ("MemoryError", "ValueError"), r.stderr[-800:]


@pytest.mark.parametrize("case", list(PANIC_CASES))
def test_once_panicking_inputs_are_typed_errors_or_results(case):
    code, expected = PANIC_CASES[case]
    r = run_child(code)
    assert r.returncode in (0, 1), f"{case}: the process died (rc={r.returncode}): {r.stderr[-800:]}"
    assert "PanicException" not in r.stderr, r.stderr[-800:]
    if expected is None:
        assert r.returncode == 0, r.stderr[-800:]
    else:
        assert raised_builtin(r.stderr) == expected, r.stderr[-800:]


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda x: x.chunk(2), RuntimeError, "chunk"),
        (lambda x: x.split(1), RuntimeError, "split"),
        (lambda x: x.narrow(0, 0, 1), RuntimeError, "narrow"),
        (lambda x: x.select(0, 0), IndexError, "select"),
        (lambda x: rustdl.cat([x, x]), ValueError, "cat"),
        (lambda x: x.topk(-2), RuntimeError, "topk"),
    ],
)
def test_0d_views_along_a_dim_are_errors_naming_the_op(call, exc, match, device):
    with pytest.raises(exc, match=match):
        call(rustdl.tensor(1.5, device=device))


def test_0d_index_ops_keep_a_scalar(device):
    x = rustdl.tensor(1.5, device=device)
    assert x.flip(0).item() == 1.5
    g = x.gather(0, rustdl.tensor(0, device=device))
    assert tuple(g.shape) == () and g.item() == 1.5
    s = x.index_select(0, rustdl.tensor([0], device=device))
    assert tuple(s.shape) == () and s.item() == 1.5
    a = x.scatter_add(0, rustdl.tensor(0, device=device), rustdl.tensor(2.0, device=device))
    assert tuple(a.shape) == () and a.item() == 3.5
    m = rustdl.mode(x, 0)
    assert tuple(m.values.shape) == () and tuple(m.indices.shape) == ()


# ----------------------------------------------------------------- values that differed from PyTorch


def test_all_and_any_over_nothing_are_the_identities(device):
    e = rustdl.zeros(0, 4, device=device)
    assert e.all().item() is True and e.any().item() is False
    assert e.all(0).cpu().numpy().tolist() == [True] * 4
    assert e.any(0).cpu().numpy().tolist() == [False] * 4
    assert tuple(e.all(1).shape) == (0,)


def test_chunk_of_an_empty_dim_gives_chunks_pieces(device):
    parts = rustdl.zeros(2, 0, device=device).chunk(3, 1)
    assert len(parts) == 3 and all(tuple(p.shape) == (2, 0) for p in parts)


def test_tensor_of_an_empty_list_is_float32():
    assert rustdl.tensor([]).dtype == rustdl.float32
    assert tuple(rustdl.tensor([[], []]).shape) == (2, 0)
    assert rustdl.tensor([[], []]).dtype == rustdl.float32
    assert rustdl.tensor([True, False]).dtype == rustdl.bool


def test_integer_power_with_a_negative_exponent_truncates(device):
    base = rustdl.tensor([2, 1, -1, -1, 0, 5], device=device)
    exp = rustdl.tensor([-1, -3, -1, -2, 2, 2], device=device)
    assert (base**exp).cpu().numpy().tolist() == [0, 1, -1, 1, 0, 25]


def test_cat_skips_legacy_empty_1d_tensors(device):
    a = rustdl.ones(2, 3, device=device)
    out = rustdl.cat([a, rustdl.zeros(0, device=device), a * 2])
    assert_close(out, np.concatenate([np.ones((2, 3)), 2 * np.ones((2, 3))]))
    assert tuple(rustdl.cat([rustdl.zeros(0), rustdl.zeros(0)]).shape) == (0,)


def test_threshold_keeps_nan():
    out = F.threshold(rustdl.tensor([float("nan"), 1.0, 0.2]), 0.5, 9.0).numpy()
    assert math.isnan(out[0]) and out[1] == 1.0 and out[2] == 9.0


def test_median_propagates_nan(device):
    x = rustdl.tensor([[1.0, float("nan"), 2.0], [3.0, 1.0, 2.0]], device=device)
    assert math.isnan(rustdl.median(x).item())
    r = rustdl.median(x, 1)
    v = r.values.cpu().numpy()
    assert math.isnan(v[0]) and v[1] == 2.0
    assert r.indices.cpu().numpy().tolist() == [1, 2]


def test_atan2_of_signed_zeros_matches_ieee():
    y = rustdl.tensor([0.0, -0.0, 0.0, -0.0])
    x = rustdl.tensor([-0.0, -0.0, 0.0, 0.0])
    out = rustdl.atan2(y, x).numpy()
    np.testing.assert_allclose(out, np.arctan2(y.numpy(), x.numpy()), rtol=1e-6)
    assert np.array_equal(np.signbit(out), np.signbit(np.arctan2(y.numpy(), x.numpy())))


def test_hypot_with_an_infinite_side_is_infinite_and_digamma_has_its_pole():
    assert rustdl.hypot(rustdl.tensor([float("inf")]), rustdl.tensor([float("nan")])).item() == math.inf
    d = rustdl.digamma(rustdl.tensor([0.0, -1.0, 1.0])).numpy()
    assert d[0] == -math.inf and math.isnan(d[1])
    assert d[2] == pytest.approx(-0.5772157, rel=1e-5)


def test_index_fill_takes_negative_indices(device):
    x = rustdl.zeros(2, 3, device=device)
    assert_close(x.index_fill(1, rustdl.tensor([-1], device=device), 5.0), [[0, 0, 5], [0, 0, 5]])


def test_einsum_over_an_empty_contraction_is_zeros(device):
    out = rustdl.einsum("ij,jk->ik", rustdl.ones(2, 0, device=device), rustdl.ones(0, 3, device=device))
    assert_close(out, np.zeros((2, 3)))


def test_a_0d_float64_tensor_does_not_widen_a_float32_one():
    a = rustdl.ones(2)
    assert (a + rustdl.tensor(1.0, dtype=rustdl.float64)).dtype == rustdl.float32
    assert (rustdl.tensor(1.0, dtype=rustdl.float64) * a).dtype == rustdl.float32
    assert (a + rustdl.ones(2, dtype=rustdl.float64)).dtype == rustdl.float64


def test_numpy_scalars_are_numbers_also_for_gpu_tensors(device):
    a = rustdl.ones(2, device=device)
    out = a + np.float32(1.5)
    assert out.dtype == rustdl.float32 and str(out.device) == str(a.device)
    assert_close(out, [2.5, 2.5])
    assert_close(a * np.int64(3), [3.0, 3.0])


def test_where_with_the_condition_alone_gives_the_indices():
    (idx,) = rustdl.where(rustdl.tensor([0.0, 1.0, 2.0]) > 0.5)
    assert idx.numpy().tolist() == [1, 2]


def test_bitwise_ops_on_integers_and_masks(device):
    a = rustdl.tensor([12, 10, -1], device=device)
    b = rustdl.tensor([10, 6, 3], device=device)
    assert (a & b).cpu().numpy().tolist() == [8, 2, 3]
    assert (a | b).cpu().numpy().tolist() == [14, 14, -1]
    assert (a ^ b).cpu().numpy().tolist() == [6, 12, -4]
    assert (~a).cpu().numpy().tolist() == [-13, -11, 0]
    m = rustdl.tensor([True, False, True], device=device)
    assert (m ^ rustdl.tensor([True, True, False], device=device)).cpu().numpy().tolist() == [
        False,
        True,
        True,
    ]
    assert (m & True).dtype == rustdl.bool
    with pytest.raises(TypeError, match="bitwise_and"):
        rustdl.ones(2, device=device) & rustdl.ones(2, device=device)
    with pytest.raises(TypeError, match="bitwise_not"):
        ~rustdl.ones(2, device=device)


def test_isclose_of_int_tensors_runs_on_the_gpu(device):
    out = rustdl.isclose(rustdl.tensor([1, 2], device=device), rustdl.tensor([1, 3], device=device))
    assert out.cpu().numpy().tolist() == [True, False]


def test_inv_ex_reports_a_singular_matrix_instead_of_raising():
    a = rustdl.stack([rustdl.eye(2) * 2, rustdl.zeros(2, 2)])
    inv, info = rustdl.linalg.inv_ex(a)
    assert info.numpy().tolist() == [0, 1]
    assert_close(inv[0], np.eye(2) / 2)
    # PyTorch's values: LAPACK's solve of Z X = I with the zero pivots (0/0, then 1/0)
    got = inv[1].numpy()
    assert np.isnan(got[0]).all() and np.isnan(got[1, 0]) and got[1, 1] == np.inf
    with pytest.raises(RuntimeError, match="inv"):
        rustdl.linalg.inv_ex(a, check_errors=True)


# ---------------------------------------------------------------------------------- gradients


def test_maximum_and_minimum_split_the_gradient_of_a_tie(device):
    x = rustdl.tensor([1.0, 2.0, 0.0], device=device, requires_grad=True)
    y = rustdl.tensor([1.0, 1.0, 1.0], device=device, requires_grad=True)
    rustdl.maximum(x, y).sum().backward()
    assert_close(x.grad, [0.5, 1.0, 0.0])
    assert_close(y.grad, [0.5, 0.0, 1.0])
    x.grad, y.grad = None, None
    rustdl.minimum(x, y).sum().backward()
    assert_close(x.grad, [0.5, 0.0, 1.0])
    assert_close(y.grad, [0.5, 1.0, 0.0])


def test_power_zero_has_a_zero_gradient_at_zero(device):
    x = rustdl.tensor([0.0, 2.0], device=device, requires_grad=True)
    (x**0.0).sum().backward()
    assert_close(x.grad, [0.0, 0.0])
    b = rustdl.tensor([0.0, 2.0], device=device, requires_grad=True)
    e = rustdl.tensor([0.0, 0.0], device=device)
    (b**e).sum().backward()
    assert_close(b.grad, [0.0, 0.0])


def test_cross_entropy_with_every_target_ignored_has_a_zero_gradient(device):
    x = rustdl.ones(2, 3, device=device, requires_grad=True)
    loss = F.cross_entropy(x, rustdl.tensor([-100, -100], device=device))
    assert math.isnan(loss.item())
    loss.backward()
    assert_close(x.grad, np.zeros((2, 3)))
    x.grad = None
    F.cross_entropy(x, rustdl.tensor([1, -100], device=device)).backward()
    g = x.grad.cpu().numpy()
    assert np.isfinite(g).all() and np.all(g[1] == 0)


# ------------------------------------------------------------ valid PyTorch inputs once refused


def test_conv2d_takes_an_unbatched_input_and_same_padding(device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5, 6)).astype(np.float32)
    w = rng.standard_normal((3, 4, 2, 3)).astype(np.float32)
    xt, wt = rustdl.tensor(x, device=device), rustdl.tensor(w, device=device)
    unbatched = F.conv2d(xt, wt, padding=1)
    assert tuple(unbatched.shape) == (3, 6, 6)
    assert_close(unbatched, F.conv2d(xt.unsqueeze(0), wt, padding=1)[0], rtol=1e-4, atol=1e-5)
    same = F.conv2d(xt, wt, padding="same")
    assert tuple(same.shape) == (3, 5, 6)
    # the odd extra row/column goes on the bottom/right, as PyTorch
    ref = F.conv2d(F.pad(xt.unsqueeze(0), [1, 1, 0, 1]), wt)[0]
    assert_close(same, ref, rtol=1e-4, atol=1e-5)
    assert tuple(F.conv2d(xt, wt, padding="valid").shape) == (3, 4, 4)
    with pytest.raises(ValueError, match="conv2d"):
        F.conv2d(xt, wt, padding="same", stride=2)
    with pytest.raises(ValueError, match="padding"):
        F.conv2d(xt, wt, padding="full")
    assert tuple(
        F.conv1d(
            rustdl.ones(1, 2, 5, device=device), rustdl.ones(3, 2, 2, device=device), padding="same"
        ).shape
    ) == (1, 3, 5)


def test_pooling_takes_an_unbatched_input_and_a_divisor(device):
    x = rustdl.arange(16.0, device=device).reshape(1, 4, 4)
    assert_close(F.max_pool2d(x, 2), [[[5, 7], [13, 15]]])
    v, i = F.max_pool2d(x, 2, return_indices=True)
    assert tuple(v.shape) == (1, 2, 2) and tuple(i.shape) == (1, 2, 2)
    assert_close(F.avg_pool2d(x, 2), [[[2.5, 4.5], [10.5, 12.5]]])
    # PyTorch's values: each window sum divided by the override
    assert_close(
        F.avg_pool2d(x.unsqueeze(0), 2, divisor_override=3), [[[[10 / 3, 6], [14, 50 / 3]]]], rtol=1e-6
    )
    assert_close(
        F.avg_pool2d(x.unsqueeze(0), 3, stride=1, padding=1, divisor_override=2)[0, 0, 1],
        [13.5, 22.5, 27.0, 19.5],
    )
    with pytest.raises(ValueError, match="divisor_override"):
        F.avg_pool2d(x, 2, divisor_override=0)


def test_interpolate_takes_a_length_input(device):
    x = rustdl.arange(4.0, device=device).reshape(1, 1, 4)
    assert_close(
        F.interpolate(x, size=7, mode="linear"),
        [[[0.0, 0.35714293, 0.92857146, 1.5, 2.0714288, 2.6428573, 3.0]]],
        rtol=1e-5,
    )
    assert_close(F.interpolate(x, size=7, mode="linear", align_corners=True), [[[0, 0.5, 1, 1.5, 2, 2.5, 3]]])
    assert_close(F.interpolate(x, scale_factor=2), [[[0, 0, 1, 1, 2, 2, 3, 3]]])


def test_pointwise_losses_broadcast_the_target_as_pytorch(device):
    a = rustdl.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=device)
    t = rustdl.tensor([1.0, 1.0, 1.0], device=device)
    assert F.mse_loss(a, t).item() == pytest.approx(np.mean((a.cpu().numpy() - 1.0) ** 2))
    assert F.l1_loss(a, t, reduction="sum").item() == pytest.approx(15.0)
    assert F.mse_loss(a, a, "sum").item() == 0.0  # rustdl's older positional reduction
    with pytest.raises(ValueError, match="mse_loss"):
        F.mse_loss(a, rustdl.ones(2, device=device))


# ---------------------------------------------------- invalid inputs once accepted silently


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: rustdl.ones(3).clamp(), RuntimeError, "clamp"),
        (lambda: rustdl.ones(3).clamp_(), RuntimeError, "clamp_"),
        (lambda: F.interpolate(rustdl.ones(1, 1, 4, 4), size=2, scale_factor=2), ValueError, "only one"),
        (
            lambda: F.interpolate(rustdl.ones(1, 1, 4, 4), size=2, align_corners=True),
            ValueError,
            "align_corners",
        ),
        (lambda: F.batch_norm(rustdl.ones(4, 3), None, None, training=False), RuntimeError, "batch_norm"),
        (
            lambda: F.triplet_margin_loss(
                rustdl.ones(2, 3), rustdl.ones(2, 3), rustdl.ones(2, 3), margin=-1.0
            ),
            ValueError,
            "margin",
        ),
        (lambda: nn.Bilinear(0, 2, 3), ValueError, "in1_features"),
        (
            lambda: F.embedding(rustdl.tensor([0]), rustdl.ones(4, 3), padding_idx=7),
            ValueError,
            "padding_idx",
        ),
        (lambda: F.adaptive_avg_pool2d(rustdl.ones(1, 1, 0, 4), 2), ValueError, "adaptive_avg_pool2d"),
        (lambda: F.lp_pool2d(rustdl.ones(1, 1, 4, 4), 0.0, 2), ValueError, "norm_type"),
        (lambda: F.huber_loss(rustdl.ones(3), rustdl.ones(3), delta=-1.0), RuntimeError, "huber_loss"),
        (lambda: F.smooth_l1_loss(rustdl.ones(3), rustdl.ones(3), beta=-1.0), RuntimeError, "smooth_l1_loss"),
        (lambda: rustdl.renorm(rustdl.ones(3, 4), -1, 0, 1.0), RuntimeError, "renorm"),
        (lambda: rustdl.renorm(rustdl.ones(3, 4), 2, 0, -1.0), RuntimeError, "renorm"),
        (lambda: rustdl.diff(rustdl.ones(4), n=-1), RuntimeError, "diff"),
        (lambda: rustdl.meshgrid(), RuntimeError, "meshgrid"),
        (lambda: rustdl.histc(rustdl.tensor([float("inf"), 1.0]), bins=4), RuntimeError, "histc"),
        (lambda: rustdl.linalg.multi_dot([rustdl.ones(2, 3, 2), rustdl.ones(2, 2)]), ValueError, "multi_dot"),
        (lambda: rustdl.linalg.vector_norm(rustdl.ones(0), float("inf")), RuntimeError, "vector_norm"),
        (lambda: rustdl.tensor([float("nan")], dtype=rustdl.int64), RuntimeError, "int64"),
        (lambda: rustdl.tensor([float("inf"), 1.0], dtype=rustdl.int64), RuntimeError, "int64"),
        (lambda: rustdl.tensor([2**70]), ValueError, "tensor"),
        (lambda: rustdl.multinomial(rustdl.ones(2), 0), RuntimeError, "multinomial"),
        (lambda: rustdl.where(rustdl.ones(2) > 0, rustdl.ones(2)), TypeError, "where"),
    ],
)
def test_invalid_inputs_are_typed_errors_naming_the_op(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_setitem_of_nan_into_an_int_tensor_is_an_error_and_changes_nothing(device):
    x = rustdl.tensor([1, 2, 3], device=device)
    with pytest.raises(RuntimeError, match="int64"):
        x[0] = float("nan")
    assert x.cpu().numpy().tolist() == [1, 2, 3]


# ------------------------------------------------- failed in-place ops leave the tensor unchanged


@pytest.mark.parametrize(
    "name, op, exc",
    [
        (
            "scatter_",
            lambda x, d: x.scatter_(1, rustdl.tensor([[9]], device=d), 7.0),
            (IndexError, RuntimeError),
        ),
        (
            "index_add_",
            lambda x, d: x.index_add_(0, rustdl.tensor([0, 5], device=d), rustdl.ones(2, 3, device=d)),
            IndexError,
        ),
        ("put_", lambda x, d: x.put_(rustdl.tensor([0, 70], device=d), rustdl.ones(2, device=d)), IndexError),
        ("iadd_bad_shape", lambda x, d: x.__iadd__(rustdl.ones(4, 3, device=d)), ValueError),
        ("setitem_bad_shape", lambda x, d: x.__setitem__(0, rustdl.ones(4, device=d)), ValueError),
        ("index_fill_oob", lambda x, d: x.index_fill_(1, rustdl.tensor([3], device=d), 1.0), IndexError),
        ("copy_bad_shape", lambda x, d: x.copy_(rustdl.ones(4, device=d)), ValueError),
        ("clamp_none", lambda x, d: x.clamp_(), RuntimeError),
    ],
)
def test_failed_inplace_ops_leave_the_tensor_unchanged(name, op, exc, device):
    base = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = rustdl.tensor(base, device=device)
    with pytest.raises(exc):
        op(x, device)
    np.testing.assert_array_equal(x.cpu().numpy(), base, err_msg=name)
    # and the tensor still works
    assert_close(x + 1, base + 1)


def test_combinations_and_vander_match_numpy():
    x = rustdl.tensor([1.0, 2.0, -3.0, 4.0])
    assert rustdl.combinations(x, 2).numpy().tolist()[:3] == [[1, 2], [1, -3], [1, 4]]
    assert tuple(rustdl.combinations(x, 2, with_replacement=True).shape) == (10, 2)
    assert tuple(rustdl.combinations(x, 5).shape) == (0, 5)
    np.testing.assert_allclose(rustdl.vander(x, 3).numpy(), np.vander(x.numpy(), 3))
    np.testing.assert_allclose(
        rustdl.vander(x, increasing=True).numpy(), np.vander(x.numpy(), increasing=True)
    )
    assert tuple(rustdl.vander(x, 0).shape) == (4, 0)
    v = rustdl.tensor([0.0, 2.0], requires_grad=True)
    rustdl.vander(v, 3).sum().backward()  # d/dx (x^2 + x + 1) = 2x + 1
    assert_close(v.grad, [1.0, 5.0])


def test_shrinks_keep_nan_and_prelu_uses_the_slope_at_zero(device):
    x = rustdl.tensor([float("nan"), 0.2, -1.5, 2.5], device=device)
    for fn in (F.hardshrink, F.softshrink):
        out = fn(x).cpu().numpy()
        assert math.isnan(out[0]) and out[1] == 0.0, fn.__name__
    z = rustdl.tensor([0.0, 1.0, -1.0], device=device, requires_grad=True)
    F.prelu(z, rustdl.tensor([0.25], device=device)).sum().backward()
    assert_close(z.grad, [0.25, 1.0, 0.25])


def test_modules_take_pytorch_arguments(device):
    x = rustdl.arange(16.0, device=device).reshape(1, 1, 4, 4)
    assert_close(nn.AvgPool2d(2, divisor_override=3)(x), [[[[10 / 3, 6], [14, 50 / 3]]]], rtol=1e-6)
    up = nn.Upsample(scale_factor=2, mode="linear", align_corners=True)(
        rustdl.tensor([[[0.0, 3.0]]], device=device)
    )
    assert_close(up, [[[0.0, 1.0, 2.0, 3.0]]])
    ct = nn.ConvTranspose2d(2, 3, 3, stride=2).to(device)
    inp = rustdl.ones(2, 3, 3, device=device)
    assert tuple(ct(inp).shape) == (3, 7, 7)
    assert tuple(ct(inp, output_size=(8, 8)).shape) == (3, 8, 8)
    with pytest.raises(ValueError, match="output size"):
        ct(inp, output_size=(20, 20))
    with pytest.raises(ValueError, match="LSTM"):
        nn.LSTM(3, 4).to(device)(rustdl.ones(5, 2, 3, device=device), rustdl.zeros(1, 2, 4, device=device))


def test_a_scalar_takes_dims_0_and_minus_1_only(device):
    x = rustdl.tensor(1.5, device=device)
    for call in (
        lambda: x.softmax(1),
        lambda: x.log_softmax(-2),
        lambda: x.squeeze(1),
        lambda: x.transpose(0, 1),
        lambda: rustdl.median(x, 2),
        lambda: rustdl.kthvalue(x, 1, 1),
        lambda: rustdl.mode(x, -2),
        lambda: rustdl.quantile(x, 0.5, 1),
        lambda: x.unfold(1, 1, 1),
        lambda: rustdl.linalg.vector_norm(x, dim=1),
    ):
        with pytest.raises((IndexError, ValueError)):
            call()
    assert x.softmax(0).item() == 1.0 and x.squeeze(-1).item() == 1.5 and x.transpose(0, -1).item() == 1.5


def test_rounding_keeps_integers_and_inner_takes_nd(device):
    i = rustdl.tensor([1, -2], device=device)
    for name in ("floor", "ceil", "round", "trunc"):
        out = getattr(i, name)()
        assert out.dtype == rustdl.int64 and out.cpu().numpy().tolist() == [1, -2], name
    with pytest.raises(TypeError, match="floor"):
        rustdl.tensor([True], device=device).floor()
    assert rustdl.logsumexp(i, 0).dtype == rustdl.float32
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    b = np.arange(12.0, dtype=np.float32).reshape(4, 3)
    assert_close(
        rustdl.inner(rustdl.tensor(a, device=device), rustdl.tensor(b, device=device)), np.inner(a, b)
    )
    with pytest.raises(ValueError, match="inner"):
        rustdl.inner(rustdl.ones(2, 3, device=device), rustdl.ones(2, 4, device=device))


def test_cross_needs_3_vectors_in_both_inputs(device):
    with pytest.raises(ValueError, match="cross"):
        rustdl.cross(rustdl.ones(3, device=device), rustdl.ones(1, device=device))
    with pytest.raises(ValueError, match="cross"):
        rustdl.cross(rustdl.ones(3, 2, device=device), rustdl.ones(2, device=device))
    out = rustdl.linalg.cross(
        rustdl.tensor([[1.0, 0, 0]], device=device), rustdl.tensor([[0.0, 1, 0]] * 2, device=device)
    )
    assert_close(out, [[0, 0, 1], [0, 0, 1]])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: F.relu(None), "relu"),
        (lambda: F.softmax(None, 0), "softmax"),
        (lambda: F.conv1d(rustdl.ones(1, 2, 3), 1), "conv1d"),
        (lambda: F.cosine_similarity(rustdl.ones(2, 3), [1.0, 2.0, 3.0]), "cosine_similarity"),
        (lambda: F.interpolate(None, size=2), "interpolate"),
        (lambda: F.one_hot([1, 2]), "one_hot"),
        (lambda: rustdl.abs(None), "abs"),
        (lambda: rustdl.cumsum(None, 0), "cumsum"),
        (lambda: rustdl.einsum(rustdl.ones(2), rustdl.ones(2)), "einsum"),
    ],
)
def test_a_non_tensor_argument_is_a_type_error_naming_the_function(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_numbers_still_work_where_pytorch_takes_them():
    assert_close(rustdl.where(rustdl.tensor([True, False]), 2.0, rustdl.ones(2)), [2.0, 1.0])
    assert_close(rustdl.xlogy(2.0, rustdl.tensor([1.0, math.e])), [0.0, 2.0])
    assert F.gaussian_nll_loss(rustdl.zeros(2), rustdl.zeros(2), 1.0).item() == pytest.approx(0.0)


def test_numpy_scalars_in_a_list_keep_their_kind():
    assert rustdl.tensor([np.bool_(True), np.bool_(False)]).dtype == rustdl.bool
    assert rustdl.tensor([np.int64(1), np.int32(2)]).dtype == rustdl.int64
    assert rustdl.tensor([np.float32(1.5), 2]).dtype == rustdl.float32


@pytest.mark.parametrize(
    "code",
    [
        "F.adaptive_avg_pool2d(rustdl.ones(1, 1, 2, 3), 10**12)",
        "F.adaptive_avg_pool1d(rustdl.ones(2, 3), 10**12)",
        "F.adaptive_max_pool1d(rustdl.ones(2, 3), 10**12)",
        "F.adaptive_max_pool2d(rustdl.ones(1, 1, 2, 3), (10**6, 10**6))",
    ],
)
def test_adaptive_pooling_to_an_impossible_size_is_an_error_not_a_hang(code):
    r = run_child(code)
    assert r.returncode == 1, r.stderr[-800:]
    assert raised_builtin(r.stderr) in ("MemoryError", "ValueError"), r.stderr[-800:]


def test_autograd_grad_with_no_inputs_is_an_error():
    x = rustdl.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="cannot be empty"):
        rustdl.autograd.grad((x * 2).sum(), [])


def test_ceil_mode_pooling_keeps_a_window_over_a_short_input(device):
    x = rustdl.tensor([[[1.0, -2.0]]], device=device)
    assert_close(F.avg_pool1d(x, 4, 3, 0, ceil_mode=True, count_include_pad=False), [[[-0.5]]])
    assert_close(F.avg_pool1d(x, 4, 3, 0, ceil_mode=True), [[[-0.5]]])
    assert_close(F.max_pool1d(x, 4, 3, 0, ceil_mode=True), [[[1.0]]])
    x2 = rustdl.arange(6.0, device=device).reshape(1, 1, 6, 1)
    assert_close(F.avg_pool2d(x2, 2, 3, 0, ceil_mode=True), [[[[0.5], [3.5]]]])
    x3 = rustdl.arange(14.0, device=device).reshape(1, 1, 7, 2)
    assert_close(F.max_pool2d(x3, 4, 3, 2, 2, ceil_mode=True), [[[[8.0], [10.0], [12.0]]]])
    with pytest.raises(ValueError, match="kernel span"):
        F.avg_pool1d(x, 4, 3, 0)  # without ceil_mode there is no window


def test_a_dilated_pooling_window_entirely_in_the_padding_is_minus_inf(device):
    # it used to index outside the plane (a Rust panic on the CPU)
    out = F.max_pool1d(rustdl.tensor([[[5.0]]], device=device), 2, 1, 1, 2)
    assert out.cpu().numpy().tolist() == [[[-math.inf]]]
    x = rustdl.ones(2, 1, 1, device=device, requires_grad=True)
    F.max_pool1d(x, 2, 1, 1, 2).sum().backward()
    assert x.grad is not None


def test_circular_padding_crops_before_it_wraps(device):
    x = rustdl.arange(5.0, device=device).reshape(1, 1, 5)
    # PyTorch's values
    assert_close(F.pad(x, (-1, 2), mode="circular"), [[[1, 2, 3, 4, 1, 2]]])
    assert_close(F.pad(x, (2, -1), mode="circular"), [[[2, 3, 0, 1, 2, 3]]])
    assert_close(F.pad(x, (-2, -1), mode="circular"), [[[2, 3]]])
    assert_close(F.pad(x, (3, 2), mode="circular"), [[[2, 3, 4, 0, 1, 2, 3, 4, 0, 1]]])


def test_clamp_of_an_integer_tensor_by_float_bounds_is_float32(device):
    i = rustdl.tensor([1, 5], device=device)
    out = i.clamp(0.5, 2.5)
    assert out.dtype == rustdl.float32
    assert_close(out, [1.0, 2.5])
    assert i.clamp(0, 2).dtype == rustdl.int64
    assert rustdl.clamp(i, max=2.0).dtype == rustdl.float32
