"""Every op in op_table.OPS: forward against numpy, backward against finite differences, GPU vs CPU.

* forward: float32 and float64 on the CPU against the numpy reference computed in float64;
  float32 on the GPU against numpy as well.
* backward (CPU): the gradient of sum(f(x) * w), for a fixed random w, against float64 central
  finite differences of the same scalar, input by input and element by element.
* backward (GPU): forward and gradient of the same scalar against the CPU in float32.
"""

from __future__ import annotations

import numpy as np
import pytest
import rustdl
from op_table import OPS, OpInfo

BY_NAME = {op.name: op for op in OPS}
GRAD_OPS = sorted(op.name for op in OPS if op.grad)
EPS = 1e-6


def draw(op: OpInfo) -> list[np.ndarray]:
    rng = np.random.default_rng(sum(map(ord, op.name)))
    return [np.asarray(a) for a in op.sample(rng)]


def tensors(arrays, dtype, device, requires_grad=False):
    if dtype is None:
        return [rustdl.tensor(a, device=device) for a in arrays]
    return [rustdl.tensor(a, dtype=dtype, device=device, requires_grad=requires_grad) for a in arrays]


def check_forward(op: OpInfo, arrays, dtype, device):
    got = op.fn(*tensors(arrays, None if op.int_input else dtype, device))
    want = np.asarray(op.ref(*arrays))
    assert tuple(got.shape) == want.shape, f"{op.name}: shape {tuple(got.shape)} != {want.shape}"
    out = got.cpu().numpy()
    if op.exact:
        assert out.dtype == want.dtype, f"{op.name}: dtype {out.dtype}, expected {want.dtype}"
        np.testing.assert_array_equal(out, want, err_msg=op.name)
        return
    assert got.dtype == dtype, f"{op.name}: dtype {got.dtype}, expected {dtype}"
    rtol, atol = (op.rtol64, op.atol64) if dtype == rustdl.float64 else (op.rtol32, op.atol32)
    np.testing.assert_allclose(out.astype(np.float64), want, rtol=rtol, atol=atol, err_msg=op.name)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_forward(name, device):
    op = BY_NAME[name]
    if device == "gpu" and not op.gpu:
        pytest.skip(f"{name} has no GPU kernel")
    arrays = draw(op)
    dtypes = op.dtypes if device == "cpu" else (rustdl.float32,)
    for dtype in dtypes:
        check_forward(op, arrays, dtype, device)


def loss_and_grads(op: OpInfo, arrays, weights, dtype, device):
    """sum(f(x) * w) and its gradient with respect to every input, as numpy float64."""
    xs = tensors(arrays, dtype, device, requires_grad=True)
    out = op.fn(*xs)
    w = rustdl.tensor(weights, dtype=dtype, device=device)
    loss = (out * w).sum()
    loss.backward()
    grads = [
        np.zeros(a.shape) if x.grad is None else x.grad.cpu().numpy().astype(np.float64)
        for a, x in zip(arrays, xs)
    ]
    return float(loss.item()), grads


def scalar_loss(op: OpInfo, arrays, weights) -> float:
    with rustdl.no_grad():
        out = op.fn(*tensors(arrays, rustdl.float64, "cpu")).numpy()
    return float((out * weights).sum())


def weights_for(op: OpInfo, arrays) -> np.ndarray:
    shape = np.asarray(op.ref(*arrays)).shape
    return np.random.default_rng(1).uniform(0.5, 1.5, size=shape) * np.random.default_rng(2).choice(
        [-1, 1], size=shape
    )


@pytest.mark.parametrize("name", GRAD_OPS)
def test_backward(name, device):
    op = BY_NAME[name]
    arrays = draw(op)
    w = weights_for(op, arrays)
    if device == "gpu":
        if not op.gpu:
            pytest.skip(f"{name} has no GPU kernel")
        cpu_loss, cpu_grads = loss_and_grads(op, arrays, w, rustdl.float32, "cpu")
        gpu_loss, gpu_grads = loss_and_grads(op, arrays, w, rustdl.float32, "gpu")
        np.testing.assert_allclose(gpu_loss, cpu_loss, rtol=1e-4, atol=1e-4, err_msg=f"{name} loss")
        for i, (g, c) in enumerate(zip(gpu_grads, cpu_grads)):
            np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-5, err_msg=f"{name} grad of input {i}")
        return
    _, grads = loss_and_grads(op, arrays, w, rustdl.float64, "cpu")
    for i, a in enumerate(arrays):
        numeric = np.zeros(a.shape)
        for j in np.ndindex(a.shape):
            hi = [b.copy() for b in arrays]
            lo = [b.copy() for b in arrays]
            hi[i][j] += EPS
            lo[i][j] -= EPS
            numeric[j] = (scalar_loss(op, hi, w) - scalar_loss(op, lo, w)) / (2 * EPS)
        np.testing.assert_allclose(
            grads[i], numeric, rtol=1e-5, atol=1e-6, err_msg=f"{name} grad of input {i}"
        )


def test_table_covers_the_required_ops():
    required = [
        "neg",
        "abs",
        "exp",
        "log",
        "sqrt",
        "rsqrt",
        "sin",
        "cos",
        "tanh",
        "sigmoid",
        "relu",
        "gelu",
        "silu",
        "elu",
        "leaky_relu",
        "softplus",
        "clamp",
        "sign",
        "reciprocal",
        "square",
        "log1p",
        "expm1",
        "erf",
        "floor",
        "ceil",
        "round",
        "trunc",
        "pow_int",
        "rpow",
        "pow",
        "add",
        "sub",
        "mul",
        "div",
        "maximum",
        "minimum",
        "sum",
        "mean",
        "max",
        "min",
        "prod",
        "var",
        "std_biased",
        "softmax",
        "log_softmax",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "all",
        "any",
        "one_hot",
        "masked_select",
    ]
    assert sorted(set(required) - set(BY_NAME)) == []
    assert len(BY_NAME) == len(OPS), "duplicate op names in the table"


def test_erfinv_edges_and_tails(device):
    """erfinv near ±1 and near 0 keeps its relative accuracy; ±1 → ±inf, |y| > 1 and NaN → NaN;
    and erf(erfinv(y)) returns y."""
    from op_table import _erfinv

    ys = np.array([1e-30, 1e-6, -3e-4, 0.3, 0.5, -0.75, 0.9999, 1 - 1e-6, -(1 - 2**-20)])
    dtypes = ["float64"] if device == "cpu" else []
    dtypes.append("float32")
    for dt in dtypes:
        x = rustdl.tensor(ys, dtype=getattr(rustdl, dt), device=device)
        got = x.erfinv().cpu().numpy().astype(np.float64)
        want = _erfinv(ys.astype(dt).astype(np.float64))
        tol = 1e-13 if dt == "float64" else 3e-6
        np.testing.assert_allclose(got, want, rtol=tol, atol=0, err_msg=dt)
        np.testing.assert_allclose(
            x.erfinv().erf().cpu().numpy(), ys.astype(dt), rtol=1e-12 if dt == "float64" else 1e-5, atol=0
        )
        special = rustdl.tensor(
            [1.0, -1.0, 1.5, -2.0, float("nan"), 0.0], dtype=getattr(rustdl, dt), device=device
        )
        s = special.erfinv().cpu().numpy()
        assert s[0] == np.inf and s[1] == -np.inf, s
        assert np.isnan(s[2:5]).all(), s
        assert s[5] == 0.0
