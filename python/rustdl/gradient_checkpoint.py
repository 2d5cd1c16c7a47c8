"""Activation checkpointing, as ``torch.utils.checkpoint``.

:func:`checkpoint` keeps the function's inputs instead of its activations; the backward pass
runs the function again (with the random state it first ran with, so dropout draws the same
mask) and back-propagates through that second run.

``use_reentrant=False`` (PyTorch's recommended mode): the forward runs with grad mode on, as in
PyTorch. Its recorded graph is walked once, from the outputs down to the checkpoint's inputs
(the tensors among the arguments, and tensors the function reads that were computed outside it)
and to every leaf that requires grad (the parameters, however the function reaches them: a
module argument, a closure, a dict, a global, a bound method of any object). Those tensors become
the inputs of one node that replaces the recorded graph, which is then dropped (the activations
are not kept). The node's backward recomputes the function and returns the gradients of all
those tensors through ``autograd.grad`` on the recomputed graph, so ``backward``,
``autograd.grad(out, param)``, ``backward(inputs=...)`` and ``create_graph`` (double backward)
all see the parameters as PyTorch does.

``use_reentrant=True`` (PyTorch's default when ``use_reentrant`` is not given, with the same
warning): PyTorch's reentrant variant: the forward runs under ``no_grad``; the backward
recomputes with detached inputs and runs ``autograd.backward`` on the recomputed outputs, so the
parameters used inside accumulate their ``.grad`` directly; ``autograd.grad`` through it raises,
as in PyTorch. One difference: when no input requires grad, PyTorch's output does not require
grad (the parameters get no gradient, with a warning); here the call is checkpointed as with
``use_reentrant=False`` so the parameters get their gradients.

As in PyTorch, modules that update state in their forward (batch norm's running statistics)
update it again during the recomputation.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import warnings
from typing import Any

from . import _rustdl
from ._generator import get_rng_state, set_rng_state
from .autograd import Function, _in_autograd_grad, backward, enable_grad

__all__ = [
    "CheckpointPolicy",
    "checkpoint",
    "checkpoint_sequential",
    "create_selective_checkpoint_contexts",
    "get_device_states",
    "set_device_states",
]


def get_device_states(*args: Any) -> tuple[list, list]:
    """``(devices, rng_states)`` of the accelerator devices the tensors among ``args`` (nested
    in lists, tuples and dicts too) live on: the random states a recomputation restores with
    :func:`set_device_states`. CPU tensors contribute nothing (their stream is the CPU's)."""
    from . import cuda

    found: list = []
    _flatten(args, found)
    devices: list = []
    for t in found:
        if _is_tensor(t) and t.device.type != "cpu":
            index = t.device.index or 0
            if index not in devices:
                devices.append(index)
    return devices, [cuda.get_rng_state(d) for d in devices]


def set_device_states(devices: list, states: list, *, device_type: Any = None) -> None:
    """Restores the random states :func:`get_device_states` returned."""
    from . import cuda

    for d, state in zip(devices, states):
        cuda.set_rng_state(state, d)


def _is_tensor(v: Any) -> bool:
    return isinstance(v, _rustdl.Tensor)


# ---------- nested outputs and arguments ----------


def _flatten(obj: Any, out: list) -> Any:
    """Appends the tensors in ``obj`` (nested tuples, lists, dicts) to ``out``; returns a spec
    that :func:`_rebuild` fills back."""
    if _is_tensor(obj):
        out.append(obj)
        return ("t",)
    if isinstance(obj, (tuple, list)):
        specs = [_flatten(o, out) for o in obj]
        return ("seq", type(obj), specs)
    if isinstance(obj, dict):
        return ("dict", type(obj), [(k, _flatten(v, out)) for k, v in obj.items()])
    return ("leaf", obj)


def _rebuild(spec: Any, it: Any) -> Any:
    kind = spec[0]
    if kind == "t":
        return next(it)
    if kind == "leaf":
        return spec[1]
    if kind == "seq":
        items = [_rebuild(s, it) for s in spec[2]]
        tp = spec[1]
        if tp is list or tp is tuple:
            return tp(items)
        if hasattr(tp, "_fields"):  # a namedtuple
            return tp(*items)
        try:
            return tp(items)
        except TypeError:
            return tuple(items)
    items = {k: _rebuild(s, it) for k, s in spec[2]}
    try:
        return spec[1](items)
    except TypeError:
        return items


# ---------- tensors computed outside that the function reads ----------


def _outside_tensors(function: Any, found: list) -> None:
    """Non-leaf tensors that require grad which ``function`` reads through its closure, the
    object it is bound to, ``functools.partial`` arguments or module-level names (a weight
    computed before the call, ``w_eff = w * 2``). They become inputs of the checkpoint node, so
    the backward pass reaches their history in the right order. Leaves need no search: the
    graph walk finds every one."""
    from .nn.modules.module import Module

    seen: set[int] = set()

    def add(obj: Any, depth: int) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if _is_tensor(obj):
            if obj.requires_grad and obj.grad_fn is not None:
                found.append(obj)
            return
        if depth <= 0 or isinstance(obj, (str, bytes, int, float, bool, type(None), type)):
            return
        if isinstance(obj, (list, tuple, set, frozenset)):
            for o in list(obj)[:64]:
                add(o, depth - 1)
        elif isinstance(obj, dict):
            for o in list(obj.values())[:64]:
                add(o, depth - 1)
        elif isinstance(obj, Module):
            d = getattr(obj, "__dict__", {})
            for k, v in d.items():
                if k not in ("_parameters", "_modules", "_buffers") and not k.startswith("_forward"):
                    add(v, depth - 1)
            for m in obj._modules.values() if isinstance(getattr(obj, "_modules", None), dict) else ():
                add(m, depth - 1)
        elif callable(obj):
            add(getattr(obj, "__self__", None), depth - 1)
            if isinstance(obj, functools.partial):
                add(obj.func, depth - 1)
                add(obj.args, depth - 1)
                add(obj.keywords, depth - 1)
            for cell in getattr(obj, "__closure__", None) or ():
                try:
                    add(cell.cell_contents, depth - 1)
                except ValueError:  # an empty cell
                    pass
            code, env = getattr(obj, "__code__", None), getattr(obj, "__globals__", None)
            if code is not None and isinstance(env, dict):
                for name in code.co_names:
                    v = env.get(name)
                    if v is not None and not isinstance(v, type(functools)):
                        add(v, depth - 1)
        elif hasattr(obj, "__dict__") and not isinstance(obj, type(functools)):
            for v in list(vars(obj).values())[:64]:
                add(v, depth - 1)

    add(function, 4)


# ---------- use_reentrant=False ----------


class _State:
    """What one checkpointed call keeps for its backward pass (no activations)."""

    __slots__ = ("function", "spec_in", "n_in", "rng", "inputs", "roots", "contexts")


def _recompute(st: _State, saved: tuple) -> Any:
    """Runs the function again on the saved arguments, with the first run's random state."""
    args, kwargs = _rebuild(st.spec_in, iter(saved))
    now = None
    if st.rng is not None:
        now = get_rng_state()
        set_rng_state(st.rng)
    try:
        with enable_grad(), st.contexts[1]:
            return st.function(*args, **kwargs)
    finally:
        if now is not None:
            set_rng_state(now)


class _CheckpointRecompute(Function):
    """The node of one ``use_reentrant=False`` checkpoint: inputs are the tensors the graph walk
    found (see the module docstring); the outputs are the function's (detached) results."""

    @staticmethod
    def forward(ctx, st, outs, arg_tensors, *inputs):
        ctx.st = st
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(*arg_tensors)
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        st = ctx.st
        create_graph = _rustdl.is_grad_enabled()  # the engine runs a create_graph backward
        out = _recompute(st, ctx.saved_tensors)
        flat: list = []
        _flatten(out, flat)
        pairs = []
        for i, g in zip(st.roots, grads):
            if g is None:
                continue
            if i >= len(flat) or not flat[i].requires_grad:
                raise RuntimeError(
                    "torch.utils.checkpoint: the recomputation of the checkpointed function gave "
                    "different outputs from the first run (a tensor that required grad is missing)"
                )
            pairs.append((flat[i], g))
        none = (None, None, None, *[None] * len(st.inputs))
        if not pairs:
            return none
        # gradients flowing past an input that was computed outside (an argument's history)
        # are the caller's graph's to propagate: cut them in this inner pass
        blocks = []
        try:
            for t in st.inputs:
                node = t.grad_fn
                if node is not None:
                    blocks.append((node, node._register_hook(lambda gi, go: tuple(None for _ in gi))))
            res = _rustdl.grad(
                [o for o, _ in pairs], list(st.inputs), [g for _, g in pairs], True, True, create_graph
            )
        finally:
            for node, h in blocks:
                node._remove_hook(h)
        return (None, None, None, *res)


def _walk(outputs: list, stops: dict, leaf_objs: dict) -> list:
    """The tensors the outputs' graph ends at: a node of ``stops`` (a tensor computed outside)
    or a leaf; in the order first reached."""
    found: list = []
    have: set = set()

    def add(t: Any) -> None:
        h = hash(t)
        if h not in have:
            have.add(h)
            found.append(t)

    seen: set = set()
    stack = [o.grad_fn for o in outputs]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        hit = stops.get(node)
        if hit is not None:
            add(hit)
            continue
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            if isinstance(nxt, _rustdl.AccumulateGrad):
                v = nxt.variable
                add(leaf_objs.get(hash(v), v))
            elif nxt not in seen:
                stack.append(nxt)
    return found


def _checkpoint_graph(function, args, kwargs, preserve_rng_state, context_fn) -> Any:
    st = _State()
    st.function = function
    st.rng = get_rng_state() if preserve_rng_state else None
    contexts = (
        context_fn() if context_fn is not None else (contextlib.nullcontext(), contextlib.nullcontext())
    )
    st.contexts = contexts
    with enable_grad(), contexts[0]:
        out = function(*args, **kwargs)
    flat_out: list = []
    spec_out = _flatten(out, flat_out)
    del out
    arg_tensors: list = []
    spec_in = _flatten((tuple(args), dict(kwargs)), arg_tensors)
    outside: list = list(arg_tensors)
    _outside_tensors(function, outside)
    stops: dict = {}
    leaf_objs: dict = {}
    for t in outside:
        if t.requires_grad:
            if t.grad_fn is None:
                leaf_objs.setdefault(hash(t), t)
            else:
                stops.setdefault(t.grad_fn, t)
    # outputs with a history of their own inside the function; an input or a leaf handed back
    # as it is stays itself
    roots = [
        i
        for i, o in enumerate(flat_out)
        if o.requires_grad and o.grad_fn is not None and o.grad_fn not in stops
    ]
    if not roots:
        return _rebuild(spec_out, iter(flat_out))
    st.inputs = _walk([flat_out[i] for i in roots], stops, leaf_objs)
    st.roots = roots
    st.spec_in = spec_in
    outs = [flat_out[i].detach() for i in roots]
    for i in roots:  # drop the recorded graph: only the detached results stay
        flat_out[i] = None
    res = _CheckpointRecompute.apply(st, outs, arg_tensors, *st.inputs)
    it = iter(res)
    for i in roots:
        flat_out[i] = next(it)
    return _rebuild(spec_out, iter(flat_out))


# ---------- use_reentrant=True ----------


class CheckpointFunction(Function):
    """PyTorch's reentrant checkpoint: ``apply(run, rng_state, *args)``."""

    @staticmethod
    def forward(ctx, run, rng_state, *args):
        ctx.run = run
        ctx.rng_state = rng_state
        ctx.tensor_pos = [i for i, a in enumerate(args) if _is_tensor(a)]
        ctx.args = [None if _is_tensor(a) else a for a in args]
        ctx.save_for_backward(*[args[i] for i in ctx.tensor_pos])
        out = run(*args)
        if isinstance(out, (tuple, list)):
            # an input handed back unchanged becomes a new tensor over the same memory
            return type(out)(o.detach() if _is_tensor(o) and any(o is a for a in args) else o for o in out)
        return out.detach() if _is_tensor(out) and any(out is a for a in args) else out

    @staticmethod
    def backward(ctx, *grads):
        if _in_autograd_grad():
            raise RuntimeError(
                "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or passing "
                "an `inputs` parameter to .backward(). To resolve this error, you can either set "
                "use_reentrant=False or call .backward() without passing the `inputs` argument."
            )
        args = list(ctx.args)
        inputs = []
        for i, t in zip(ctx.tensor_pos, ctx.saved_tensors):
            x = t.detach().requires_grad_(t.requires_grad)
            args[i] = x
            inputs.append(x)
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
        outs = [out] if not isinstance(out, (tuple, list)) else list(out)
        pairs = [(o, g) for o, g in zip(outs, grads) if _is_tensor(o) and o.requires_grad and g is not None]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        with enable_grad():  # the pass's own arithmetic on several outputs is recorded too
            backward([o for o, _ in pairs], [g for _, g in pairs])
        per_arg: list = [None] * len(args)
        for i, x in zip(ctx.tensor_pos, inputs):
            per_arg[i] = x.grad if x.requires_grad else None
        return (None, None, *per_arg)


# ---------- the public API ----------


class CheckpointPolicy(enum.Enum):
    """``torch.utils.checkpoint.CheckpointPolicy`` (selective checkpointing): here every op is
    recomputed whatever the policy says (the values and gradients are the same)."""

    MUST_SAVE = 0
    PREFER_SAVE = 1
    MUST_RECOMPUTE = 2
    PREFER_RECOMPUTE = 3


def create_selective_checkpoint_contexts(policy_fn_or_list: Any, allow_cache_entry_mutation: bool = False):
    """``torch.utils.checkpoint.create_selective_checkpoint_contexts``: the two contexts for
    ``context_fn``. Accepted; every op is recomputed (same values and gradients)."""
    if not (callable(policy_fn_or_list) or isinstance(policy_fn_or_list, (list, tuple))):
        raise TypeError("policy_fn_or_list must be either a function or a list of ops.")
    return contextlib.nullcontext(), contextlib.nullcontext()


def checkpoint(
    function: Any = None,
    *args: Any,
    use_reentrant: bool | None = None,
    context_fn: Any = None,
    determinism_check: str = "default",
    debug: bool = False,
    preserve_rng_state: bool = True,
    early_stop: bool = True,
    **kwargs: Any,
) -> Any:
    """``function(*args, **kwargs)`` with its activations recomputed in the backward pass
    instead of kept, as ``torch.utils.checkpoint.checkpoint`` (see the module docstring for the
    two modes). Called with no function, returns a decorator with these settings."""
    if function is None and not args:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))

        def decorate(fn):
            @functools.wraps(fn)
            def wrapper(*a, **k):
                return checkpoint(
                    fn,
                    *a,
                    use_reentrant=use_reentrant,
                    context_fn=context_fn,
                    determinism_check=determinism_check,
                    debug=debug,
                    preserve_rng_state=preserve_rng_state,
                    **k,
                )

            return wrapper

        return decorate
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. In a future "
            "release, calling checkpoint without use_reentrant will raise an exception. use_reentrant=False "
            "is recommended, but if you need to preserve the current default behavior, you can pass "
            "use_reentrant=True. Refer to docs for more details on the differences between the two variants.",
            stacklevel=2,
        )
        use_reentrant = True
    if use_reentrant:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if context_fn is not None or debug is not False:
            raise ValueError(
                "Passing `context_fn`, `debug`, or `respect_saved_tensors_hooks` is only supported when "
                "use_reentrant=False."
            )
    if not _rustdl.is_grad_enabled():
        return function(*args, **kwargs)
    if use_reentrant and any(_is_tensor(a) and a.requires_grad for a in args):
        rng = get_rng_state() if preserve_rng_state else None
        return CheckpointFunction.apply(function, rng, *args)
    return _checkpoint_graph(function, args, kwargs, preserve_rng_state, context_fn)


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
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
            "explicitly. In a future release, calling checkpoint_sequential without use_reentrant will raise "
            "an exception. use_reentrant=False is recommended, but if you need to preserve the current default "
            "behavior, you can pass use_reentrant=True. Refer to docs for more details on the differences "
            "between the two variants.",
            stacklevel=2,
        )
        use_reentrant = True
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
