"""Activation checkpointing, as ``torch.utils.checkpoint``.

:func:`checkpoint` runs the function without recording its graph, keeping only its inputs;
the backward pass runs it again with gradients on (with the random state it first ran with, so
dropout draws the same mask) and back-propagates through that second run. Memory for the
activations inside the function is traded for a second forward, as in PyTorch. Parameters used
inside receive gradients even when no input requires one (PyTorch's ``use_reentrant=False``
behaviour), and, as in PyTorch, modules that update state in their forward (batch norm's running
statistics) update it again during the recomputation.
"""

from __future__ import annotations

from typing import Any

from . import _rustdl
from ._generator import get_rng_state, set_rng_state
from .autograd import Function, backward, enable_grad, no_grad

__all__ = ["checkpoint", "checkpoint_sequential"]


class _Unsupported(Exception):
    """The function returned something other than a tensor or a tuple of tensors."""


def _is_tensor(v: Any) -> bool:
    return isinstance(v, _rustdl.Tensor)


class _Checkpoint(Function):
    """One checkpointed call: ``apply(run, rng_state, dummy, *args)``."""

    @staticmethod
    def forward(ctx, run, rng_state, dummy, *args):
        ctx.run = run
        ctx.rng_state = rng_state
        ctx.tensor_pos = [i for i, a in enumerate(args) if _is_tensor(a)]
        ctx.others = [(i, a) for i, a in enumerate(args) if not _is_tensor(a)]
        ctx.n_args = len(args)
        ctx.save_for_backward(*[args[i] for i in ctx.tensor_pos])
        with no_grad():
            out = run(*args)
        single = _is_tensor(out)
        if not single and not (isinstance(out, (tuple, list)) and out and all(_is_tensor(o) for o in out)):
            raise _Unsupported
        outs = [out] if single else list(out)
        # an input handed back unchanged becomes a new tensor over the same memory, so that the
        # caller's tensor does not take this node as its history
        outs = [o.detach() if any(o is a for a in args) else o for o in outs]
        ctx.mark_non_differentiable(*[o for o in outs if not o.is_floating_point()])
        return outs[0] if single else tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        saved = ctx.saved_tensors
        args: list[Any] = [None] * ctx.n_args
        inputs = []
        for i, t in zip(ctx.tensor_pos, saved):
            x = t.detach().requires_grad_(t.requires_grad)
            args[i] = x
            inputs.append(x)
        for i, a in ctx.others:
            args[i] = a
        now = None
        if ctx.rng_state is not None:
            now = get_rng_state()
            set_rng_state(ctx.rng_state)
        try:
            with enable_grad():
                out = ctx.run(*args)
        finally:
            if now is not None:
                set_rng_state(now)
        outs = [out] if _is_tensor(out) else list(out)
        pairs = [(o, g) for o, g in zip(outs, grads) if g is not None and _is_tensor(o) and o.requires_grad]
        if pairs:
            with enable_grad():  # the pass's own arithmetic on several outputs is recorded too
                backward([o for o, _ in pairs], [g for _, g in pairs])
        in_grads = iter(x.grad if x.requires_grad else None for x in inputs)
        per_arg = [next(in_grads) if i in ctx.tensor_pos else None for i in range(ctx.n_args)]
        return (None, None, None, *per_arg)


def checkpoint(
    function: Any,
    *args: Any,
    use_reentrant: bool | None = None,
    context_fn: Any = None,
    determinism_check: str = "default",
    debug: bool = False,
    preserve_rng_state: bool = True,
    **kwargs: Any,
) -> Any:
    """``function(*args, **kwargs)`` with its activations recomputed in the backward pass
    instead of kept. ``function`` returns a tensor or a tuple of tensors; any other result (a
    dict, say) is computed directly, with the same gradients and no memory saved.
    ``use_reentrant``, ``context_fn``, ``determinism_check`` and ``debug`` are accepted as in
    PyTorch and change nothing here."""
    if not _rustdl.is_grad_enabled():
        return function(*args, **kwargs)
    run = function if not kwargs else (lambda *a: function(*a, **kwargs))
    rng = get_rng_state() if preserve_rng_state else None
    # without an input that requires a gradient, a leaf stands in so that the backward pass
    # still reaches the recomputation (and the parameters used inside)
    needs = any(_is_tensor(a) and a.requires_grad for a in args)
    dummy = None if needs else _rustdl.zeros((), requires_grad=True)
    try:
        return _Checkpoint.apply(run, rng, dummy, *args)
    except _Unsupported:
        # a result other than tensors cannot come out of the node: run it again, recorded
        if rng is not None:
            set_rng_state(rng)
        return function(*args, **kwargs)


def checkpoint_sequential(
    functions: Any,
    segments: int,
    input: Any,  # noqa: A002
    use_reentrant: bool | None = None,
    **kwargs: Any,
) -> Any:
    """Runs ``functions`` (a ``Sequential`` or a list of modules) on ``input`` in ``segments``
    chunks, checkpointing every chunk but the last, as PyTorch."""
    if segments < 1:
        raise ValueError(f"checkpoint_sequential: segments must be >= 1, got {segments}")
    mods = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = max(1, len(mods) // segments)
    out = input
    start = 0
    for _ in range(segments - 1):
        end = min(start + size, len(mods))
        if end <= start:
            break
        chunk = mods[start:end]

        def run(x, chunk=chunk):
            for m in chunk:
                x = m(x)
            return x

        out = checkpoint(run, out, use_reentrant=use_reentrant, **kwargs)
        start = end
    for m in mods[start:]:
        out = m(out)
    return out
