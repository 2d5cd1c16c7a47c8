"""Autograd utilities: grad-mode context managers and a finite-difference gradient checker."""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np

from . import _rustdl


class _GradMode:
    """Base for context managers / decorators that set grad mode."""

    mode: bool = True

    def __enter__(self):
        self._prev = _rustdl.set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        _rustdl.set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Context manager (or decorator) that disables gradient recording.

    Example:
        >>> with rustdl.no_grad():
        ...     y = model(x)
    """

    mode = False


class enable_grad(_GradMode):
    """Context manager (or decorator) that enables gradient recording."""

    mode = True


class set_grad_enabled(_GradMode):
    """Sets grad mode on or off; usable as a function or a context manager."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._prev = _rustdl.set_grad_enabled(self.mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _rustdl.set_grad_enabled(self._prev)
        return False


def gradcheck(
    fn: Callable,
    inputs: Sequence,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Checks analytic gradients of ``fn`` against central finite differences.

    Args:
        fn: a function of the tensors in ``inputs`` returning a tensor.
        inputs: tensors; those with ``requires_grad=True`` are checked. Use float64 for accuracy.
        eps: finite-difference step.
        atol, rtol: tolerance ``|analytic - numeric| <= atol + rtol * |numeric|``.
        raise_exception: raise ``GradcheckError`` on mismatch instead of returning False.

    Returns:
        True when every gradient matches.
    """
    from . import Tensor, tensor

    inputs = list(inputs)
    out = fn(*inputs)
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.5, 1.5, size=out.shape)
    w = tensor(weights, dtype=out.dtype, device=out.device)
    for x in inputs:
        if isinstance(x, Tensor) and x.requires_grad:
            x.grad = None
    (out * w).sum().backward()
    ok = True
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        analytic = np.zeros(x.shape) if x.grad is None else x.grad.detach().numpy().astype(np.float64)
        base = x.detach().numpy().astype(np.float64)
        numeric = np.zeros_like(base)
        flat = base.reshape(-1)
        for k in range(flat.size):
            vals = []
            for delta in (eps, -eps):
                pert = flat.copy()
                pert[k] += delta
                args = list(inputs)
                args[i] = tensor(pert.reshape(base.shape), dtype=x.dtype, device=x.device)
                with no_grad():
                    o = fn(*[a.detach() if isinstance(a, Tensor) else a for a in args])
                vals.append(float((o.detach().numpy().astype(np.float64) * weights).sum()))
            numeric.reshape(-1)[k] = (vals[0] - vals[1]) / (2 * eps)
        bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            ok = False
            if raise_exception:
                k = int(np.argmax(bad.reshape(-1)))
                raise GradcheckError(
                    f"gradcheck: input {i}, element {k}: analytic {analytic.reshape(-1)[k]} "
                    f"vs numeric {numeric.reshape(-1)[k]}"
                )
    return ok


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when an analytic gradient disagrees with finite differences."""
