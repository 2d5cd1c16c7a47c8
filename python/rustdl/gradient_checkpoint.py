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
from .autograd import Function, backward, enable_grad, grad, no_grad

__all__ = ["checkpoint", "checkpoint_sequential"]


class _Unsupported(Exception):
    """The function returned something other than a tensor or a tuple of tensors."""


def _is_tensor(v: Any) -> bool:
    return isinstance(v, _rustdl.Tensor)


def _module_params(function: Any) -> list:
    """The parameters (and other leaves that require grad) a checkpointed function reads through
    modules it is, is bound to, closes over or reads as globals (``checkpoint(block, x)``,
    ``checkpoint(self.block, x)``, ``checkpoint(lambda x: self.block(x), x)``,
    ``functools.partial(block, ...)``, a function using a module-level model or weight);
    duplicates removed, in first-seen order."""
    from .nn.modules.module import Module

    found: list = []
    seen: set[int] = set()

    def add(obj: Any, depth: int) -> None:
        if isinstance(obj, Module):
            for p in obj.parameters():
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    found.append(p)
        elif _is_tensor(obj):
            if obj.requires_grad and obj.is_leaf and id(obj) not in seen:
                seen.add(id(obj))
                found.append(obj)
        elif depth > 0 and isinstance(obj, (list, tuple)):
            for o in obj:
                add(o, depth - 1)
        elif depth > 0 and callable(obj):
            add(getattr(obj, "__self__", None), depth - 1)
            add(getattr(obj, "func", None), depth - 1)  # functools.partial
            for a in getattr(obj, "args", ()) or ():
                add(a, depth - 1)
            for cell in getattr(obj, "__closure__", None) or ():
                try:
                    add(cell.cell_contents, depth - 1)
                except ValueError:  # an empty cell
                    pass
            # module-level names the function's code reads (a global model or weight)
            code, env = getattr(obj, "__code__", None), getattr(obj, "__globals__", None)
            if code is not None and isinstance(env, dict):
                for name in code.co_names:
                    if name in env:
                        add(env[name], depth - 1)

    add(function, 3)
    return found


def _rerun(ctx: Any, args: list, grads: tuple) -> list:
    """Runs the checkpointed function again on ``args`` (the tensor positions filled in by the
    caller) with grad enabled and the random state of the first run; returns the
    ``(output, incoming gradient)`` pairs that carry a gradient."""
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
    return [(o, g) for o, g in zip(outs, grads) if g is not None and _is_tensor(o) and o.requires_grad]


class _Checkpoint(Function):
    """One checkpointed call: ``apply(run, rng_state, dummy, n_params, *params, *args)``.

    With the parameters found by :func:`_module_params` passed as inputs, the backward
    recomputes the function from the saved inputs and returns the gradients of the inputs and
    of those parameters through the graph (``autograd.grad``): nothing is accumulated into
    ``.grad`` on the side, so ``autograd.grad`` through a checkpoint leaves ``.grad`` alone, and
    a backward with ``create_graph`` gets gradients that can be differentiated again (the
    recomputation reads the saved inputs with their history). Without any parameters found,
    the recomputation's own backward accumulates into the leaves it reaches, as before."""

    @staticmethod
    def forward(ctx, run, rng_state, dummy, n_params, *params_and_args):
        params, args = params_and_args[:n_params], params_and_args[n_params:]
        ctx.n_params = n_params
        ctx.params = params
        # arguments that are one of the parameters: recomputed as that very tensor, with their
        # gradient returned once (in the parameter's slot)
        ctx.arg_param = {i: k for i, a in enumerate(args) for k, p in enumerate(params) if a is p}
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
        if ctx.n_params:
            return _Checkpoint._backward_through_graph(ctx, grads)
        saved = ctx.saved_tensors
        args: list[Any] = [None] * ctx.n_args
        inputs = []
        for i, t in zip(ctx.tensor_pos, saved):
            x = t.detach().requires_grad_(t.requires_grad)
            args[i] = x
            inputs.append(x)
        pairs = _rerun(ctx, args, grads)
        if pairs:
            with enable_grad():  # the pass's own arithmetic on several outputs is recorded too
                backward([o for o, _ in pairs], [g for _, g in pairs])
        in_grads = iter(x.grad if x.requires_grad else None for x in inputs)
        per_arg = [next(in_grads) if i in ctx.tensor_pos else None for i in range(ctx.n_args)]
        return (None, None, None, None, *per_arg)

    @staticmethod
    def _backward_through_graph(ctx, grads):
        saved = ctx.saved_tensors
        create_graph = _rustdl.is_grad_enabled()  # the engine runs a create_graph backward
        args: list[Any] = [None] * ctx.n_args
        for i, t in zip(ctx.tensor_pos, saved):
            # with create_graph the saved input itself (its history stays attached, so the
            # returned gradient depends on it); otherwise a detached leaf
            if i in ctx.arg_param:
                args[i] = ctx.params[ctx.arg_param[i]]
            else:
                args[i] = t if create_graph else t.detach().requires_grad_(t.requires_grad)
        pairs = _rerun(ctx, args, grads)
        own = [i for i in ctx.tensor_pos if args[i].requires_grad and i not in ctx.arg_param]
        wrt = [*ctx.params, *(args[i] for i in own)]
        got: list[Any] = [None] * len(wrt)
        if pairs and wrt:
            with enable_grad():
                got = list(
                    grad(
                        [o for o, _ in pairs],
                        wrt,
                        [g for _, g in pairs],
                        create_graph=create_graph,
                        allow_unused=True,
                    )
                )
        n = len(ctx.params)
        param_grads, in_grads = got[:n], iter(got[n:])
        per_arg = [next(in_grads) if i in own else None for i in range(ctx.n_args)]
        return (None, None, None, None, *param_grads, *per_arg)


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
    params = _module_params(function)
    needs = bool(params) or any(_is_tensor(a) and a.requires_grad for a in args)
    dummy = None if needs else _rustdl.zeros((), requires_grad=True)
    try:
        return _Checkpoint.apply(run, rng, dummy, len(params), *params, *args)
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
