"""``torch.testing``: :func:`assert_close` and a basic :func:`make_tensor`.

Tolerances default per dtype as PyTorch's: float32 ``rtol=1.3e-6, atol=1e-5``, float64
``rtol=1e-7, atol=1e-7``, integer and bool dtypes exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import rustdl

from ._rustdl import Tensor

__all__ = ["assert_allclose", "assert_close", "make_tensor"]

_DEFAULT_TOLERANCES = {"float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}


def _dtype_name(dtype: Any) -> str:
    return str(dtype).rsplit(".", 1)[-1]


def _as_array(value: Any) -> tuple[np.ndarray, str, str | None]:
    """(values as numpy, dtype name, device or None) of a tensor, array or Python number."""
    if isinstance(value, Tensor):
        return np.asarray(value.detach().cpu().numpy()), _dtype_name(value.dtype), str(value.device)
    arr = np.asarray(value)
    return arr, arr.dtype.name, None


def _fail(msg: str | None, default: str, path: str) -> None:
    where = f" (at {path})" if path else ""
    raise AssertionError(msg if msg is not None else default + where)


def _close_one(actual, expected, rtol, atol, equal_nan, check_dtype, msg, path) -> None:
    a, a_dtype, a_dev = _as_array(actual)
    e, e_dtype, e_dev = _as_array(expected)
    if isinstance(actual, Tensor) != isinstance(expected, Tensor):
        _fail(msg, f"assert_close: type mismatch, {type(actual).__name__} vs {type(expected).__name__}", path)
    if a.shape != e.shape:
        _fail(msg, f"assert_close: shape mismatch, {a.shape} vs {e.shape}", path)
    if a_dev is not None and e_dev is not None and a_dev.split(":")[0] != e_dev.split(":")[0]:
        _fail(msg, f"assert_close: device mismatch, {a_dev} vs {e_dev}", path)
    if check_dtype and isinstance(actual, Tensor) and a_dtype != e_dtype:
        _fail(msg, f"assert_close: dtype mismatch, {a_dtype} vs {e_dtype}", path)
    if rtol is None:
        names = (a_dtype, e_dtype)
        r_def, a_def = (0.0, 0.0)
        for name in names:
            r, t = _DEFAULT_TOLERANCES.get(name, (0.0, 0.0))
            if name.startswith("float") and name not in _DEFAULT_TOLERANCES:
                r, t = 1e-3, 1e-5  # half precision
            r_def, a_def = max(r_def, r), max(a_def, t)
        rtol, atol = r_def, a_def
    a64 = a.astype(np.float64) if a.dtype != np.bool_ else a.astype(np.int64)
    e64 = e.astype(np.float64) if e.dtype != np.bool_ else e.astype(np.int64)
    with np.errstate(invalid="ignore"):
        ok = np.abs(a64 - e64) <= atol + rtol * np.abs(e64)
        ok |= a64 == e64  # equal infinities
    if equal_nan:
        ok |= np.isnan(a64) & np.isnan(e64)
    if not ok.all():
        bad = int((~ok).sum())
        with np.errstate(invalid="ignore"):
            diff = np.abs(a64 - e64)
            rel = diff / np.abs(e64)
        max_abs = float(np.max(np.where(ok, 0.0, np.nan_to_num(diff, nan=np.inf)))) if diff.size else 0.0
        max_rel = float(np.max(np.where(ok, 0.0, np.nan_to_num(rel, nan=np.inf)))) if rel.size else 0.0
        _fail(
            msg,
            f"Tensor-likes are not close!\n\nMismatched elements: {bad} / {ok.size}\n"
            f"Greatest absolute difference: {max_abs} (up to {atol} allowed)\n"
            f"Greatest relative difference: {max_rel} (up to {rtol} allowed)",
            path,
        )


def _walk(actual, expected, rtol, atol, equal_nan, check_dtype, msg, path) -> None:
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        # keys(), not iteration: a Mapping may iterate its values (tensordict's TensorDict)
        if set(actual.keys()) != set(expected.keys()):
            _fail(
                msg,
                f"assert_close: keys differ, {sorted(map(str, actual.keys()))} vs {sorted(map(str, expected.keys()))}",
                path,
            )
        for key in expected.keys():
            _walk(actual[key], expected[key], rtol, atol, equal_nan, check_dtype, msg, f"{path}[{key!r}]")
        return
    seq = (list, tuple)
    if isinstance(expected, seq) and isinstance(actual, seq):
        if len(actual) != len(expected):
            _fail(msg, f"assert_close: lengths differ, {len(actual)} vs {len(expected)}", path)
        for i, (a, e) in enumerate(zip(actual, expected)):
            _walk(a, e, rtol, atol, equal_nan, check_dtype, msg, f"{path}[{i}]")
        return
    _close_one(actual, expected, rtol, atol, equal_nan, check_dtype, msg, path)


def assert_close(
    actual: Any,
    expected: Any,
    *,
    allow_subclasses: bool = True,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = False,
    check_device: bool = True,
    check_dtype: bool = True,
    check_layout: bool = True,
    check_stride: bool = False,
    msg: str | None = None,
) -> None:
    """Raises AssertionError unless ``|actual - expected| <= atol + rtol * |expected|`` elementwise.

    ``actual``/``expected`` are tensors, numbers, or (nested) sequences/mappings of them. Both
    ``rtol`` and ``atol`` must be given or neither; omitted, they default per dtype as PyTorch's.
    Shapes, and with ``check_dtype`` the dtypes, must match.
    """
    # tolerances given as 0-d tensors are read as numbers, as PyTorch's
    rtol = float(rtol) if hasattr(rtol, "item") else rtol
    atol = float(atol) if hasattr(atol, "item") else atol
    if (rtol is None) != (atol is None):
        raise ValueError(
            f"assert_close: both 'rtol' and 'atol' must be either specified or omitted, "
            f"but got no {'rtol' if rtol is None else 'atol'}."
        )
    _walk(actual, expected, rtol, atol, equal_nan, check_dtype, msg, "")


def assert_allclose(
    actual: Any,
    expected: Any,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = True,
    msg: str = "",
) -> None:
    """The deprecated ``torch.testing.assert_allclose``: :func:`assert_close` without the dtype
    check, NaNs equal by default, and ``expected`` converted to a tensor like ``actual``."""
    import rustdl

    if not isinstance(actual, rustdl.Tensor):
        actual = rustdl.tensor(actual)
    if not isinstance(expected, rustdl.Tensor):
        expected = rustdl.tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        rtol, atol = (1e-7, 1e-7) if actual.dtype == rustdl.float64 else (1.3e-6, 1e-5)
    elif rtol is None or atol is None:
        raise ValueError("assert_allclose: rtol and atol must both be given or both omitted")
    assert_close(
        actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=False, msg=msg or None
    )


def make_tensor(
    *shape: Any,
    dtype: Any,
    device: Any = None,
    low: float | None = None,
    high: float | None = None,
    requires_grad: bool = False,
    noncontiguous: bool = False,
    exclude_zero: bool = False,
    memory_format: Any = None,
) -> Tensor:
    """A tensor of ``shape`` with values uniform in ``[low, high)`` (default ``[-9, 9)``).

    Floating dtypes draw floats, integer dtypes integers (``[-9, 10)``), bool ``False``/``True``.
    """
    if len(shape) == 1 and isinstance(shape[0], Sequence):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    name = _dtype_name(dtype)
    if name == "bool":
        out = rustdl.randint(0, 2, shape) == 1
    elif name.startswith("int") or name.startswith("uint"):
        lo = int(-9 if low is None else np.ceil(low))
        hi = int(10 if high is None else np.ceil(high))
        if hi <= lo:
            raise ValueError(f"make_tensor: low {low} must be below high {high}")
        out = rustdl.randint(lo, hi, shape)
        if exclude_zero and lo <= 0 < hi:
            out = rustdl.where(out == 0, rustdl.ones_like(out), out)
        if name != "int64":
            out = out.to(dtype)
    else:
        lo = -9.0 if low is None else float(low)
        hi = 9.0 if high is None else float(high)
        if hi < lo:
            raise ValueError(f"make_tensor: low {low} must not be above high {high}")
        out = rustdl.rand(*shape, dtype=dtype) * (hi - lo) + lo
        if exclude_zero:
            tiny = float(np.finfo(np.float32 if name != "float64" else np.float64).eps)
            out = rustdl.where(out == 0, rustdl.full_like(out, tiny), out)
    if device is not None:
        out = out.to(device)
    if requires_grad:
        out.requires_grad_(True)
    return out
