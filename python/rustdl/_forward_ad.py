"""Forward-mode AD, as ``torch.autograd.forward_ad`` (imported as ``rustdl.autograd.forward_ad``).

Tangents are not propagated op by op here. :func:`make_dual` returns a tensor that takes part in
the (reverse-mode) autograd graph and remembers its tangent; :func:`unpack_dual` of a result
computes the result's tangent from that graph with the double-vjp trick: with
``g(u) = Jᵀu`` the vector-Jacobian product of the result with respect to the dual inputs,
the tangent ``J·t`` is the gradient of ``<g(u), t>`` with respect to ``u``. So computations
between ``make_dual`` and ``unpack_dual`` must run with grad mode on, and a dual tensor reports
``requires_grad=True``.

Example:
    >>> import rustdl.autograd.forward_ad as fwAD
    >>> x, v = rustdl.tensor([1.0, 2.0]), rustdl.tensor([1.0, 0.0])
    >>> with fwAD.dual_level():
    ...     y = fwAD.make_dual(x, v) ** 2
    ...     fwAD.unpack_dual(y).tangent          # 2x·v
    tensor([2., 0.])
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

from . import _rustdl
from ._rustdl import Tensor

__all__ = [
    "UnpackedDualTensor",
    "dual_level",
    "enter_dual_level",
    "exit_dual_level",
    "make_dual",
    "unpack_dual",
]

# the duals of the open level: hash(dual) -> (dual, tangent, the primal required grad)
_duals: dict[int, tuple[Tensor, Tensor, bool]] = {}
_level: list[int] = []
_state = threading.local()  # .vjp_pass: computing g(u) = Jᵀu; .jvp_calls: torch.func.jvp running


class _Depth:
    """A per-thread nesting count of one kind of pass, entered as a context manager."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self):
        setattr(_state, self.name, getattr(_state, self.name, 0) + 1)

    def __exit__(self, *exc):
        setattr(_state, self.name, getattr(_state, self.name) - 1)

    def active(self) -> bool:
        return getattr(_state, self.name, 0) > 0


# the first pass of the double-vjp trick, and torch.func.jvp running its function
_vjp_pass = _Depth("vjp_pass")
_jvp_call = _Depth("jvp_calls")


def _in_vjp_pass() -> bool:
    """Whether the first pass of the double-vjp trick is running on this thread: a custom
    ``autograd.Function`` with a ``jvp`` then puts a node whose backward is that ``jvp`` in
    place of its ``backward`` (see ``autograd.Function.apply``)."""
    return _vjp_pass.active()


def _dummy_cotangent(out: Any) -> Any:
    """The stand-in cotangent ``u`` of the double-vjp trick (``J·t = d<Jᵀu, t>/du``): ones, not
    zeros. A backward rule is linear in its incoming gradient, so the derivative is the same at
    any ``u``, but a rule computed through a kink at zero (logcumsumexp's, which takes logs of
    the gradient's positive and negative parts) has the right derivative only away from it."""
    return _rustdl.ones_like(out).requires_grad_(True)


def _jvp_running() -> bool:
    """Whether ``torch.func.jvp`` is running the function it differentiates on this thread
    (forward-mode AD ignores grad mode: ``no_grad`` inside that function keeps recording)."""
    return _jvp_call.active()


def _reaches_outside(t: Tensor, inner: set) -> bool:
    """Whether the graph of ``t`` reaches a leaf that requires grad other than those in ``inner``
    (the stand-ins this module made): then the caller's autograd may differentiate it."""
    if not t.requires_grad:
        return False
    if t.grad_fn is None:
        return hash(t) not in inner
    seen: set = set()
    stack = [t.grad_fn]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            if isinstance(nxt, _rustdl.AccumulateGrad):
                if hash(nxt.variable) not in inner:
                    return True
            elif nxt not in seen:
                stack.append(nxt)
    return False


class UnpackedDualTensor(NamedTuple):
    """What :func:`unpack_dual` returns: ``primal`` and ``tangent`` (``None`` when the tensor
    does not depend on a dual tensor)."""

    primal: Any
    tangent: Any


# the open dual level's index, -1 when none is open (PyTorch's module attribute, which code reads
# to tell whether forward-mode AD is active)
_current_level = -1


def enter_dual_level() -> int:
    """Opens the (single) dual level; returns its index. Prefer ``with dual_level():``."""
    global _current_level
    if _level:
        raise RuntimeError("forward_ad.enter_dual_level: nested forward-mode AD levels are not supported")
    _level.append(0)
    _current_level = 0
    return 0


def exit_dual_level(*, level: int | None = None) -> None:
    """Closes the dual level: the dual tensors made in it lose their tangents."""
    if not _level:
        raise RuntimeError("forward_ad.exit_dual_level: no dual level is open")
    if level is not None and level != _level[-1]:
        raise RuntimeError(f"forward_ad.exit_dual_level: level {level} is not the open level {_level[-1]}")
    global _current_level
    _level.pop()
    _duals.clear()
    _current_level = -1


class dual_level:  # noqa: N801 - PyTorch's name
    """Context manager for forward-mode AD: :func:`make_dual` works inside it, and the tangents
    are dropped when it exits."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc) -> None:
        exit_dual_level()


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """A tensor equal to ``tensor`` that carries ``tangent`` (same shape) as its forward
    derivative, as ``torch.autograd.forward_ad.make_dual``. Needs an open :class:`dual_level`."""
    fn = "forward_ad.make_dual"
    if not _level:
        raise RuntimeError(
            "Trying to create a dual Tensor for forward AD but no level exists, make sure to "
            "enter_dual_level() first."
        )
    if not isinstance(tensor, Tensor) or not isinstance(tangent, Tensor):
        raise TypeError(
            f"{fn}: expected tensor and tangent to be Tensors, got {type(tensor).__name__} and "
            f"{type(tangent).__name__}"
        )
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if tuple(tensor.shape) != tuple(tangent.shape):
        raise RuntimeError(
            "Trying to set a forward gradient that has a different size than that of the "
            f"original Tensor, this is not supported. Tensor is of size {tuple(tensor.shape)} while "
            f"the given forward gradient is of size {tuple(tangent.shape)}."
        )
    outer = tensor.requires_grad and _rustdl.is_grad_enabled()
    dual = tensor.view_as(tensor) if outer else tensor.detach().requires_grad_(True)
    _duals[hash(dual)] = (dual, tangent, outer)
    return dual


def unpack_dual(tensor: Tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of ``tensor``, as ``torch.autograd.forward_ad.unpack_dual``; the
    tangent is ``None`` when ``tensor`` does not depend on a dual tensor of the open level."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"forward_ad.unpack_dual: expected a Tensor, got {type(tensor).__name__}")
    if not _duals or not tensor.requires_grad:
        return UnpackedDualTensor(tensor, None)
    entry = _duals.get(hash(tensor))
    if entry is not None:
        dual, tangent, outer = entry
        return UnpackedDualTensor(dual if outer else dual.detach(), tangent)
    duals = list(_duals.values())
    prev = _rustdl.set_grad_enabled(True)
    try:
        u = _dummy_cotangent(tensor)
        with _vjp_pass:
            gs = _rustdl.grad([tensor], [d for d, _, _ in duals], [u], True, True, True)
        pairs = [(g, t) for g, (_, t, _) in zip(gs, duals) if g is not None]
        if not pairs:
            return UnpackedDualTensor(tensor, None)
        live = [(g, t) for g, t in pairs if g.requires_grad]
        if live:
            (tan,) = _rustdl.grad([g for g, _ in live], [u], [t for _, t in live], True, True, True)
        else:
            tan = None
        if tan is None:
            tan = _rustdl.zeros_like(tensor)
    finally:
        _rustdl.set_grad_enabled(prev)
    # the primal and tangent keep their history where it reaches a tensor that requires grad
    # other than this module's stand-ins (a weight, the primal or tangent given to make_dual)
    inner = {hash(d) for d, _, outer in duals if not outer} | {hash(u)}
    grad_on = _rustdl.is_grad_enabled()
    keep_p = grad_on and _reaches_outside(tensor, inner)
    keep_t = grad_on and _reaches_outside(tan, inner)
    return UnpackedDualTensor(tensor if keep_p else tensor.detach(), tan if keep_t else tan.detach())
