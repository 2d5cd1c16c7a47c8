"""Composable function transforms, as ``torch.func``: ``grad``, ``grad_and_value``, ``vjp``,
``jvp``, ``jacrev``, ``jacfwd``, ``hessian``, ``vmap``, ``functional_call`` and
``stack_module_state``.

How they work here (simply, and honestly):

* The differentiating transforms run the function on inputs that are fresh autograd leaves (or
  views of the inputs, when those already carry history that an outer computation needs) and
  differentiate with :func:`rustdl.autograd.grad`. Inside another transform they build a graph
  of their own (``create_graph=True``), so ``grad(grad(f))``, ``jacrev(jacrev(f))`` and
  ``hessian`` compose; at the outermost level the graph is kept only when the result depends on
  tensors outside the transform that require grad (then ordinary autograd can differentiate the
  result, as in PyTorch), otherwise the results are plain tensors.
* ``jvp`` uses the double-vjp trick (``J·v`` is the gradient of ``uᵀJ·v`` with respect to a
  dummy ``u``); ``jacfwd`` is computed row by row in reverse mode, the same as ``jacrev`` (the
  results are equal; only the cost differs from PyTorch's forward mode).
* ``vmap`` loops: it splits the mapped inputs along their ``in_dims``, calls the function once
  per slice (each slice without the batch dimension) and stacks the results along
  ``out_dims``. Stacking keeps the autograd graph, so ``vmap`` is differentiable and nests.

Inputs and outputs may be pytrees: tuples, lists and dicts (nested) of tensors.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from . import _forward_ad as _fwad
from . import _rustdl
from ._rustdl import Tensor
from .autograd import _vmap_sample
from .nn.utils.stateless import functional_call

__all__ = [
    "functional_call",
    "grad",
    "grad_and_value",
    "hessian",
    "jacfwd",
    "jacrev",
    "functionalize",
    "jvp",
    "linearize",
    "replace_all_batch_norm_modules_",
    "stack_module_state",
    "vjp",
    "vmap",
]


# ---------- pytrees: tuples, lists and dicts of leaves ----------


class _Spec:
    """The structure of a pytree: ``kind`` is 'leaf', 'tuple', 'list', 'dict' or 'namedtuple'."""

    __slots__ = ("kind", "keys", "children", "cls")

    def __init__(self, kind, children=(), keys=None, cls=None):
        self.kind = kind
        self.children = list(children)
        self.keys = keys
        self.cls = cls

    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(c.num_leaves() for c in self.children)

    def same(self, other: _Spec) -> bool:
        if self.kind != other.kind or len(self.children) != len(other.children):
            return False
        if self.kind == "dict" and self.keys != other.keys:
            return False
        if self.kind == "node":
            try:
                if self.cls is not other.cls or not bool(self.keys == other.keys):
                    return False
            except Exception:  # noqa: BLE001 - contexts that do not compare: take them as equal
                pass
        return all(a.same(b) for a, b in zip(self.children, other.children))

    def __repr__(self) -> str:
        if self.kind == "leaf":
            return "*"
        inner = (
            ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.keys, self.children))
            if self.kind == "dict"
            else ", ".join(repr(c) for c in self.children)
        )
        return {
            "tuple": f"({inner})",
            "namedtuple": f"({inner})",
            "list": f"[{inner}]",
            "dict": f"{{{inner}}}",
        }[self.kind]


def _registered_node_type(cls: type) -> Any:
    from .utils._pytree import SUPPORTED_NODES

    return SUPPORTED_NODES.get(cls)


def _registered_node(t: Any) -> Any:
    """The pytree registration of ``t``'s type, for types beyond the built-in containers."""
    if isinstance(t, Tensor):
        return None
    return _registered_node_type(type(t))


def _flatten(tree) -> tuple[list, _Spec]:
    leaves: list = []

    def go(t):
        if isinstance(t, tuple) and hasattr(t, "_fields"):
            return _Spec("namedtuple", [go(c) for c in t], cls=type(t))
        if isinstance(t, tuple):
            return _Spec("tuple", [go(c) for c in t])
        if isinstance(t, list):
            return _Spec("list", [go(c) for c in t])
        if isinstance(t, dict):
            keys = list(t.keys())
            return _Spec("dict", [go(t[k]) for k in keys], keys=keys, cls=type(t))
        node = _registered_node(t)
        if node is not None:
            # a type registered with torch.utils._pytree (tensordict's TensorDict)
            flat = node.flatten_fn(t)
            if not (isinstance(flat, tuple) and len(flat) == 2 and isinstance(flat[0], (list, tuple))):
                raise TypeError(
                    f"the pytree flatten function of {type(t).__name__} must return (children, context) "
                    f"with children a list, got {type(flat).__name__}"
                )
            children, context = flat
            return _Spec("node", [go(c) for c in children], keys=context, cls=type(t))
        leaves.append(t)
        return _Spec("leaf")

    spec = go(tree)
    return leaves, spec


def _unflatten(spec: _Spec, leaves) -> Any:
    it = iter(leaves)

    def go(s):
        if s.kind == "leaf":
            return next(it)
        kids = [go(c) for c in s.children]
        if s.kind == "node":
            return _registered_node_type(s.cls).unflatten_fn(kids, s.keys)
        if s.kind == "tuple":
            return tuple(kids)
        if s.kind == "namedtuple":
            return s.cls(*kids)
        if s.kind == "list":
            return kids
        d = dict(zip(s.keys, kids))
        try:
            return s.cls(d) if s.cls is not dict else d
        except Exception:  # noqa: BLE001 - an unusual dict subclass: give a plain dict
            return d

    return go(spec)


def _tree_map(fn, tree):
    leaves, spec = _flatten(tree)
    return _unflatten(spec, [fn(x) for x in leaves])


def _broadcast_prefix(prefix, tree, fn: str, what: str) -> list:
    """Expands ``prefix`` (an int/None at a node covers its whole subtree) over ``tree``'s
    leaves, one entry per leaf; a structure mismatch raises ValueError."""
    out: list = []

    def go(p, t):
        if p is None or isinstance(p, int) and not isinstance(p, bool):
            out.extend([p] * _flatten(t)[1].num_leaves())
            return
        if isinstance(p, (tuple, list)) and isinstance(t, (tuple, list)):
            if len(p) != len(t):
                raise ValueError(
                    f"{fn}: {what} is not compatible with the structure of the inputs: "
                    f"{what} has {len(p)} entries where the inputs have {len(t)}"
                )
            for a, b in zip(p, t):
                go(a, b)
            return
        if isinstance(p, dict) and isinstance(t, dict):
            if set(p) != set(t):
                raise ValueError(
                    f"{fn}: {what} is not compatible with the structure of the inputs: "
                    f"keys {sorted(map(str, p))} where the inputs have {sorted(map(str, t))}"
                )
            for k in t:
                go(p[k], t[k])
            return
        raise ValueError(
            f"{fn}: {what} must be an int, None, or a (nested) tuple/list/dict matching the inputs; "
            f"got {type(p).__name__} where the input is {type(t).__name__}"
        )

    go(prefix, tree)
    return out


# ---------- levels: which transform we are in, and the leaves they made ----------

_state = threading.local()


def _depth() -> int:
    return getattr(_state, "depth", 0)


def _internal() -> set:
    s = getattr(_state, "internal", None)
    if s is None:
        s = _state.internal = set()
    return s


class _Level:
    """One differentiating transform in progress; remembers whether grad mode was on outside."""

    def __enter__(self):
        self.outer_grad = _rustdl.is_grad_enabled()
        _state.depth = _depth() + 1
        self.depth = _state.depth
        return self

    def __exit__(self, *exc):
        _state.depth = _depth() - 1
        if _state.depth == 0:
            _internal().clear()


def _is_float(t: Tensor) -> bool:
    return bool(t.is_floating_point() or t.is_complex())


def _diff_input(t, fn: str, outer_grad: bool):
    """The tensor a transform differentiates with respect to: a view of ``t`` that keeps its
    history when the outer computation may need it, else a fresh leaf."""
    if not isinstance(t, Tensor):
        # ValueError, as torch.func ("Thing passed to transform API must be Tensor")
        raise ValueError(
            f"{fn}: the inputs to differentiate with respect to must be tensors (or pytrees of "
            f"them), got {type(t).__name__}"
        )
    if not _is_float(t):
        raise RuntimeError(
            f"{fn}: only Tensors of floating point dtype can require gradients (got {t.dtype})"
        )
    if outer_grad and t.requires_grad:
        return t.view_as(t)
    leaf = t.detach().requires_grad_(True)
    _internal().add(hash(leaf))
    return leaf


def _reaches_outer(tensors) -> bool:
    """True when the graph of any of ``tensors`` reaches a leaf that requires grad and was not
    made by a transform (then the caller's autograd may want to differentiate the result)."""
    inner = _internal()
    seen: set = set()
    stack = []
    for t in tensors:
        if not isinstance(t, Tensor) or not t.requires_grad:
            continue
        if t.grad_fn is None:
            if hash(t) not in inner:
                return True
            continue
        stack.append(t.grad_fn)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for nxt, _ in getattr(node, "next_functions", ()):
            if nxt is None:
                continue
            if isinstance(nxt, _rustdl.AccumulateGrad):
                if hash(nxt.variable) not in inner:
                    return True
            else:
                stack.append(nxt)
    return False


def _finish(tree, keep: bool):
    if keep:
        return tree
    return _tree_map(lambda t: t.detach() if isinstance(t, Tensor) else t, tree)


def _check_argnums(argnums, fn: str):
    if isinstance(argnums, int) and not isinstance(argnums, bool):
        return (argnums,), True
    if (
        isinstance(argnums, tuple)
        and argnums
        and all(isinstance(a, int) and not isinstance(a, bool) for a in argnums)
    ):
        if len(set(argnums)) != len(argnums):
            raise RuntimeError(f"{fn}: argnums must be unique, got {argnums}")
        return argnums, False
    raise RuntimeError(f"{fn}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}")


def _norm_argnums(argnums: tuple, nargs: int, fn: str) -> tuple:
    out = []
    for a in argnums:
        if not -nargs <= a < nargs:
            raise RuntimeError(f"{fn}: got argnum={a}, but only {nargs} positional inputs")
        out.append(a % nargs)
    return tuple(out)


def _split_aux(out, has_aux: bool, fn: str):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(
            f"{fn}(f, ...)(*args): output of function f should be a tuple: (output, aux) if has_aux is True"
        )
    return out[0], out[1]


def _grad_leaves(outputs, grad_outputs, inputs, keep: bool) -> list:
    """d(outputs)/d(inputs) contracted with grad_outputs; zeros for inputs not reached."""
    live = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    res: list = [None] * len(inputs)
    if live and inputs:
        res = list(
            _rustdl.grad([o for o, _ in live], list(inputs), [g for _, g in live], True, True, bool(keep))
        )
    return [_rustdl.zeros_like(x) if g is None else g for g, x in zip(res, inputs)]


def _prepare_args(args, argnums, fn, outer_grad):
    """args with the differentiated ones replaced; the flat list of those inputs and their specs."""
    args = list(args)
    flat_inputs: list = []
    specs: list = []
    for a in argnums:
        leaves, spec = _flatten(args[a])
        new = [_diff_input(t, fn, outer_grad) for t in leaves]
        args[a] = _unflatten(spec, new)
        flat_inputs.extend(new)
        specs.append((spec, len(new)))
    return args, flat_inputs, specs


def _regroup(flat, specs, single: bool):
    out, i = [], 0
    for spec, n in specs:
        out.append(_unflatten(spec, flat[i : i + n]))
        i += n
    return out[0] if single else tuple(out)


# ---------- grad, grad_and_value ----------


def grad_and_value(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning ``(gradient, value)`` of ``func``, as ``torch.func.grad_and_value``.

    ``func`` must return a scalar (0-d) tensor, or ``(scalar, aux)`` with ``has_aux=True`` (then
    ``(gradient, (value, aux))`` is returned). The gradient has the structure of the argument(s)
    at ``argnums`` (an int, or a tuple giving a tuple of gradients); inputs the value does not
    depend on get zeros.
    """
    nums, single = _check_argnums(argnums, "grad_and_value")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        fn = "grad_and_value"
        idx = _norm_argnums(nums, len(args), fn)
        with _Level() as lvl:
            with _enable_grad():
                new_args, flat_in, specs = _prepare_args(args, idx, fn, lvl.outer_grad)
                out = func(*new_args, **kwargs)
            value, aux = _split_aux(out, has_aux, fn)
            if not isinstance(value, Tensor):
                raise RuntimeError(
                    f"{fn}(f)(*args): Expected f(*args) to return a scalar Tensor, got {type(value).__name__}"
                )
            if value.dim() != 0:
                raise RuntimeError(
                    f"{fn}(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor with "
                    f"{value.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs instead?"
                )
            keep = lvl.depth > 1 or (lvl.outer_grad and _reaches_outer([value]))
            with _enable_grad():
                grads = _grad_leaves([value], [None], flat_in, keep)
            g = _regroup(grads, specs, single)
            value = _finish(value, keep)
            if has_aux:
                return g, (value, _finish(aux, keep))
            return g, value

    return wrapper


def grad(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning the gradient of ``func`` with respect to the argument(s) at
    ``argnums``, as ``torch.func.grad``.

    ``func`` must return a scalar (0-d) tensor (``RuntimeError`` otherwise), or ``(scalar, aux)``
    with ``has_aux=True``, when ``(gradient, aux)`` is returned. Composes with itself and the
    other transforms: ``grad(grad(f))``, ``vmap(grad(f))``.

    Example:
        >>> x = rustdl.tensor(2.0)
        >>> rustdl.func.grad(rustdl.func.grad(lambda x: x**3))(x)   # 6x
        tensor(12.)
    """
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        if has_aux:
            return g, value[1]
        return g

    return wrapper


class _enable_grad:  # noqa: N801 - a small context manager
    def __enter__(self):
        self.prev = _rustdl.is_grad_enabled()
        _rustdl.set_grad_enabled(True)

    def __exit__(self, *exc):
        _rustdl.set_grad_enabled(self.prev)


# ---------- vjp, jvp ----------


def _tensor_leaves(tree, fn: str, what: str):
    leaves, spec = _flatten(tree)
    for t in leaves:
        if not isinstance(t, Tensor):
            raise RuntimeError(
                f"{fn}: Expected {what} to be tensors (or pytrees of them), got {type(t).__name__}"
            )
    return leaves, spec


def vjp(func: Callable, *primals, has_aux: bool = False):
    """``(func(*primals), vjp_fn)`` (and ``aux`` with ``has_aux``), as ``torch.func.vjp``.

    ``vjp_fn(cotangents)`` takes cotangents shaped like the output (a pytree for a pytree output)
    and returns a tuple with one vector-Jacobian product per primal; it may be called many times
    (e.g. under ``vmap``).
    """
    fn = "vjp"
    if not primals:
        raise RuntimeError(f"{fn}(f, *primals): expected at least one primal")
    with _Level() as lvl:
        with _enable_grad():
            ins, flat_in, specs = _prepare_args(primals, tuple(range(len(primals))), fn, lvl.outer_grad)
            out = func(*ins)
        output, aux = _split_aux(out, has_aux, fn)
        outs, out_spec = _tensor_leaves(output, fn, "the outputs of f")
        keep = lvl.depth > 1 or (lvl.outer_grad and _reaches_outer(outs))

    def vjp_fn(cotangents, retain_graph: bool = True, create_graph: bool | None = None):
        cts, ct_spec = _flatten(cotangents)
        if not ct_spec.same(out_spec):
            raise RuntimeError(
                f"{fn}: Expected pytree structure of cotangents to be the same as pytree structure "
                f"of outputs to the function: {ct_spec!r} vs {out_spec!r}"
            )
        for c, o in zip(cts, outs):
            if not isinstance(c, Tensor):
                raise TypeError(f"{fn}: cotangents must be tensors, got {type(c).__name__}")
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError(
                    f"{fn}: Mismatch in shape: a cotangent has shape {tuple(c.shape)} and the "
                    f"corresponding output has shape {tuple(o.shape)}"
                )
        # the primals' leaves count as made by a transform again (the level that made them may
        # have ended, e.g. vjp_fn called under a later grad)
        _internal().update(hash(x) for x in flat_in if x.is_leaf)
        cg = create_graph
        if cg is None:
            cg = keep or _depth() > 0 or any(c.requires_grad for c in cts)
        with _enable_grad():
            gs = _grad_leaves(outs, cts, flat_in, cg)
        return tuple(_regroup(gs, specs, False))

    output = _finish(output, keep)
    if has_aux:
        return output, vjp_fn, _finish(aux, keep)
    return output, vjp_fn


def jvp(func: Callable, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """``(func(*primals), J·tangents)`` (and ``aux`` with ``has_aux``), as ``torch.func.jvp``.

    ``primals`` and ``tangents`` are tuples with the same structure and shapes. Computed with the
    double-vjp trick through the recorded graph.
    """
    fn = "jvp"
    if not isinstance(primals, (tuple, list)):
        raise RuntimeError(
            f"{fn}(f, primals, tangents): Expected primals to be a tuple, got {type(primals).__name__}"
        )
    if not isinstance(tangents, (tuple, list)):
        raise RuntimeError(
            f"{fn}(f, primals, tangents): Expected tangents to be a tuple, got {type(tangents).__name__}"
        )
    if not primals:
        raise RuntimeError(f"{fn}(f, primals, tangents): Expected primals to be a non-empty tuple")
    p_leaves, p_spec = _tensor_leaves(tuple(primals), fn, "primals")
    t_leaves, t_spec = _tensor_leaves(tuple(tangents), fn, "tangents")
    if not p_spec.same(t_spec):
        raise RuntimeError(
            f"{fn}(f, primals, tangents): Expected primals and tangents to have the same python "
            f"structure: {p_spec!r} vs {t_spec!r}"
        )
    for p, t in zip(p_leaves, t_leaves):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError(
                f"{fn}(f, primals, tangents): Expected primals and tangents to have the same shapes, "
                f"got {tuple(p.shape)} and {tuple(t.shape)}"
            )
    with _Level() as lvl:
        with _enable_grad(), _fwad._jvp_call:
            ins, flat_in, _ = _prepare_args(tuple(primals), tuple(range(len(primals))), fn, lvl.outer_grad)
            out = func(*ins)
        output, aux = _split_aux(out, has_aux, fn)
        outs, out_spec = _tensor_leaves(output, fn, "the outputs of f")
        keep = lvl.depth > 1 or (lvl.outer_grad and _reaches_outer(outs + t_leaves))
        with _enable_grad():
            jv = _jvp_leaves(outs, flat_in, t_leaves, keep)
        output = _finish(output, keep)
        res = _unflatten(out_spec, jv)
        if has_aux:
            return output, res, _finish(aux, keep)
        return output, res


def _jvp_leaves(outs, flat_in, tangents, keep: bool) -> list:
    """J·t for each output by the double-vjp trick: with g(u) = Jᵀu, J·t = d<g(u), t>/du."""
    live = [i for i, o in enumerate(outs) if o.requires_grad]
    res: list = [_rustdl.zeros_like(o) for o in outs]
    if not live or not flat_in:
        return res
    us = []
    for i in live:
        u = _fwad._dummy_cotangent(outs[i])
        _internal().add(hash(u))
        us.append(u)
    with _fwad._vjp_pass:  # a custom Function's jvp stands in for its backward here
        gs = _rustdl.grad([outs[i] for i in live], list(flat_in), us, True, True, True)
    pairs = [(g, t) for g, t in zip(gs, tangents) if g is not None and g.requires_grad]
    if not pairs:
        return res
    jv = _rustdl.grad([g for g, _ in pairs], us, [t for _, t in pairs], True, True, bool(keep))
    for i, j in zip(live, jv):
        if j is not None:
            res[i] = j
    return res


def linearize(func: Callable, *primals):
    """``(func(*primals), jvp_fn)``, as ``torch.func.linearize``: ``jvp_fn(*tangents)`` gives
    ``J·tangents`` at ``primals`` (recomputed through :func:`jvp` on each call)."""
    if not primals:
        raise RuntimeError("linearize(func, *primals): expected at least one primal")
    output = func(*primals)

    def jvp_fn(*tangents):
        return jvp(func, primals, tangents)[1]

    return output, jvp_fn


def functionalize(func: Callable, *, remove: str = "mutations") -> Callable:
    """``torch.func.functionalize``: rustdl has no functionalization pass; the function runs as
    it is (its results are the same; in-place ops stay in place)."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(
            f"functionalize: remove must be 'mutations' or 'mutations_and_views', got {remove!r}"
        )
    return func


# ---------- jacrev, jacfwd, hessian ----------


# the most elements a Jacobian may have (as ``autograd.functional.jacobian``): past it, one
# backward pass per output element and the stacked result cannot finish, so it is refused first
_JACOBIAN_LIMIT = 2**31


def _jacobian_rows(outs, flat_in, keep: bool, fn: str = "jacrev") -> list[list]:
    """For each output, the Jacobian blocks ``out.shape + in.shape`` for each input."""
    total = sum(o.numel() for o in outs) * sum(x.numel() for x in flat_in)
    if total > _JACOBIAN_LIMIT:
        raise _rustdl.OutOfMemoryError(
            f"{fn}: outputs {[tuple(o.shape) for o in outs]} and inputs "
            f"{[tuple(x.shape) for x in flat_in]} make a Jacobian of {total} elements"
        )
    blocks = []
    for o in outs:
        n = o.numel()
        per_in: list[list] = [[] for _ in flat_in]
        if o.requires_grad and n:
            for k in range(n):
                onehot = _rustdl.zeros(n, dtype=o.dtype, device=o.device)
                onehot[k] = 1.0
                gs = _grad_leaves([o], [onehot.reshape(tuple(o.shape))], flat_in, keep)
                for j, g in enumerate(gs):
                    per_in[j].append(g)
        row = []
        for j, x in enumerate(flat_in):
            shape = tuple(o.shape) + tuple(x.shape)
            if per_in[j]:
                row.append(_rustdl.stack(per_in[j]).reshape(shape))
            else:
                row.append(
                    _rustdl.zeros(*shape, dtype=x.dtype, device=x.device) if shape else _rustdl.zeros_like(x)
                )
        blocks.append(row)
    return blocks


def _make_jac(func, argnums, has_aux, fn):
    nums, single = _check_argnums(argnums, fn)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        idx = _norm_argnums(nums, len(args), fn)
        with _Level() as lvl:
            with _enable_grad():
                new_args, flat_in, specs = _prepare_args(args, idx, fn, lvl.outer_grad)
                out = func(*new_args, **kwargs)
            output, aux = _split_aux(out, has_aux, fn)
            outs, out_spec = _tensor_leaves(output, fn, "the outputs of f")
            keep = lvl.depth > 1 or (lvl.outer_grad and _reaches_outer(outs))
            with _enable_grad():
                blocks = _jacobian_rows(outs, flat_in, keep, fn)
            jac = _unflatten(out_spec, [_regroup(row, specs, single) for row in blocks])
            if has_aux:
                return jac, _finish(aux, keep)
            return jac

    return wrapper


def jacrev(
    func: Callable,
    argnums=0,
    has_aux: bool = False,
    *,
    chunk_size: int | None = None,
    _preallocate_and_copy=False,
):
    """A function returning the Jacobian of ``func`` with respect to the argument(s) at
    ``argnums``, as ``torch.func.jacrev``: for an output of shape ``O`` and an input of shape
    ``I`` a tensor of shape ``O + I``; pytree outputs give a pytree of those, and a tuple
    ``argnums`` a tuple per output. Computed row by row in reverse mode (``chunk_size`` is
    accepted and ignored).
    """
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"jacrev: chunk_size must be None or a positive int, got {chunk_size!r}")
    return _make_jac(func, argnums, has_aux, "jacrev")


def jacfwd(func: Callable, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """The Jacobian of ``func`` as ``torch.func.jacfwd``; here computed in reverse mode, the same
    way as :func:`jacrev` (equal results)."""
    _check_randomness(randomness, "jacfwd")
    return _make_jac(func, argnums, has_aux, "jacfwd")


def hessian(func: Callable, argnums=0):
    """The Hessian of ``func`` with respect to the argument(s) at ``argnums``, as
    ``torch.func.hessian`` (the Jacobian of the Jacobian)."""
    return jacfwd(jacrev(func, argnums), argnums)


# ---------- vmap ----------


def _check_randomness(randomness, fn):
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            f"{fn}: Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness!r}"
        )


def _fname(func) -> str:
    return getattr(func, "__name__", type(func).__name__)


def vmap(
    func: Callable,
    in_dims=0,
    out_dims=0,
    randomness: str = "error",
    *,
    chunk_size: int | None = None,
) -> Callable:
    """Maps ``func`` over a batch dimension of its inputs, as ``torch.vmap`` /
    ``torch.func.vmap``.

    The result calls ``func`` once per batch element, with the mapped inputs sliced along their
    ``in_dims`` (so ``func`` sees one sample, without the batch dimension), and stacks the
    results along ``out_dims``. Stacking keeps the autograd graph, so the result is
    differentiable, and vmap nests (``vmap(vmap(f))``) and composes with ``grad``/``jacrev``.

    Args:
        func: the function; it returns a tensor, a Python number, or a pytree of them.
        in_dims: an int (every positional argument mapped along that dim), or a tuple with one
            entry per positional argument: an int, ``None`` (not mapped: passed whole to every
            call) or a nested tuple/list/dict matching that argument's structure. Keyword
            arguments are never mapped.
        out_dims: an int, or a pytree matching the output, of where the batch dimension goes.
        randomness: ``'different'`` (each call draws its own random numbers), ``'same'`` (every
            call starts from the same generator state) or ``'error'`` (the default: a function
            that draws from the generator is refused with a RuntimeError, as PyTorch's).
        chunk_size: accepted (calls are one sample at a time anyway).

    A batch of size 0 calls ``func`` once on zero-filled samples to learn the output's shape and
    returns empty results of that shape (as PyTorch does for shape-only functions).
    """
    _check_randomness(randomness, "vmap")
    if chunk_size is not None and (
        not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1
    ):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0, got {chunk_size!r}")
    if not (isinstance(in_dims, (int, tuple)) and not isinstance(in_dims, bool)):
        raise ValueError(
            f"vmap({_fname(func)}, in_dims={in_dims!r}, ...)(<inputs>): expected `in_dims` to be int or a "
            f"(potentially nested) tuple matching the structure of inputs, got: {type(in_dims)}."
        )

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        name = f"vmap({_fname(func)}, in_dims={in_dims!r}, ...)(<inputs>)"
        if isinstance(in_dims, tuple) and len(in_dims) != len(args):
            raise ValueError(
                f"{name}: in_dims is not compatible with the structure of `inputs`: in_dims has "
                f"{len(in_dims)} entries but {len(args)} positional inputs were given"
            )
        leaves, spec = _flatten(tuple(args))
        dims = _broadcast_prefix(in_dims, tuple(args), name, "in_dims")
        batch = None
        sizes = []
        norm_dims = []
        for leaf, d in zip(leaves, dims):
            if d is None:
                norm_dims.append(None)
                continue
            if not isinstance(leaf, Tensor):
                raise ValueError(
                    f"{name}: Got in_dim={d} for an input but the input is of type {type(leaf)}. We "
                    "cannot vmap over non-Tensor arguments, please use None as the respective in_dim"
                )
            nd = leaf.dim()
            if not -nd <= d < nd:
                raise ValueError(
                    f"{name}: Got in_dim={d} for some input, but that input is a Tensor of "
                    f"dimensionality {nd} so expected in_dim to satisfy {-nd} <= in_dim < {nd}."
                )
            d %= nd
            norm_dims.append(d)
            sizes.append(leaf.shape[d])
        if not sizes:
            raise ValueError(
                f"{name}: at least one input must be a Tensor mapped along a dimension (in_dims all None "
                "or no Tensor inputs)"
            )
        batch = sizes[0]
        if any(s != batch for s in sizes):
            raise ValueError(
                f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                f"{sizes} for the mapped dimension"
            )
        return _run_vmap(func, leaves, spec, norm_dims, batch, kwargs, out_dims, randomness)

    return wrapped


def _slices(leaf, d, batch):
    if d is None:
        return None
    return leaf.unbind(d)


def _run_vmap(func, leaves, spec, dims, batch, kwargs, out_dims, randomness):
    fname = _fname(func)
    results = []
    if randomness == "error":
        # PyTorch refuses random ops in this mode; here a call that moved the generator is one
        func = _refusing_randomness(func, fname)
    if batch == 0:
        sample = [
            leaf
            if d is None
            else _rustdl.zeros(
                *[s for i, s in enumerate(leaf.shape) if i != d], dtype=leaf.dtype, device=leaf.device
            )
            for leaf, d in zip(leaves, dims)
        ]
        results.append(func(*_unflatten(spec, sample), **kwargs))
    else:
        per_leaf = [_slices(leaf, d, batch) for leaf, d in zip(leaves, dims)]
        rng = _rustdl_get_rng_state() if randomness == "same" else None
        # the unmapped tensor inputs: a call that writes into one in place would do it once per
        # sample here (PyTorch refuses writing batched values into an unbatched tensor)
        unmapped = [
            (leaf, leaf._version) for leaf, d in zip(leaves, dims) if d is None and isinstance(leaf, Tensor)
        ]
        for b in range(batch):
            if rng is not None:
                _rustdl_set_rng_state(rng)
            sample = [leaf if sl is None else sl[b] for leaf, sl in zip(leaves, per_leaf)]
            with _vmap_sample(b + 1 == batch):
                results.append(func(*_unflatten(spec, sample), **kwargs))
            if b == 0 and any(leaf._version != v for leaf, v in unmapped):
                raise RuntimeError(
                    f"vmap({fname}, ...): the function modified an input that is not mapped (in_dims None) "
                    f"in place; vmap cannot write batched values into an unbatched tensor (map that input "
                    f"too, or clone it inside the function)"
                )
    flat0, out_spec = _flatten(results[0])
    columns = [flat0]
    for r in results[1:]:
        fl, sp = _flatten(r)
        if not sp.same(out_spec):
            raise ValueError(
                f"vmap({fname}, ...): the function returned differently structured outputs for different samples"
            )
        columns.append(fl)
    odims = _broadcast_prefix(out_dims, results[0], f"vmap({fname}, ...)", "out_dims")
    stacked = []
    for j, od in enumerate(odims):
        vals = [c[j] for c in columns]
        for v in vals:
            if not isinstance(v, (Tensor, int, float, bool, complex)):
                raise ValueError(
                    f"vmap({fname}, ...): `{fname}` must only return Tensors (or numbers), got type {type(v)}"
                )
        if od is None:
            stacked.append(vals[0])
            continue
        ts = [v if isinstance(v, Tensor) else _rustdl_tensor(v) for v in vals]
        nd = ts[0].dim() + 1
        if not -nd <= od < nd:
            raise IndexError(
                f"vmap({fname}, ...): out_dim={od} is out of range for an output with {nd - 1} dims "
                f"(expected {-nd} <= out_dim < {nd})"
            )
        od %= nd
        if batch == 0:
            shape = list(ts[0].shape)
            shape.insert(od, 0)
            stacked.append(_rustdl.zeros(*shape, dtype=ts[0].dtype, device=ts[0].device))
        else:
            for t in ts[1:]:
                if tuple(t.shape) != tuple(ts[0].shape):
                    raise ValueError(
                        f"vmap({fname}, ...): the function returned outputs of different shapes for different "
                        f"samples ({tuple(ts[0].shape)} and {tuple(t.shape)}); vmap needs one shape"
                    )
            stacked.append(_rustdl.stack(ts, od))
    out = _unflatten(out_spec, stacked)
    if isinstance(out_dims, int) and not isinstance(out_dims, bool):
        _batch_collections(out, out_spec, batch, out_dims)
    return out


def _batch_collections(obj, spec, batch, out_dim) -> None:
    """Tensor collections returned by the mapped function (tensordict's TensorDict, rebuilt from
    a sample's context) get the mapped dim in their batch size, as tensordict's own vmap support
    gives them under PyTorch."""
    if spec.kind == "leaf":
        return
    if spec.kind == "node":
        size = getattr(obj, "batch_size", None)
        if type(obj).__module__.startswith("tensordict") and isinstance(size, tuple):
            dims = list(size)
            d = out_dim if out_dim >= 0 else len(dims) + 1 + out_dim
            if 0 <= d <= len(dims):
                dims.insert(d, batch)
                try:
                    obj.batch_size = type(size)(dims)
                except Exception:  # noqa: BLE001 - a collection that refuses: keep its own size
                    pass
        return  # (its nested collections follow its batch size)
    items = [obj[k] for k in spec.keys] if spec.kind == "dict" else list(obj)
    for child, cspec in zip(items, spec.children):
        _batch_collections(child, cspec, batch, out_dim)


def _refusing_randomness(func, fname):
    import rustdl

    def call(*args, **kwargs):
        before = rustdl.get_rng_state()
        out = func(*args, **kwargs)
        if not rustdl.equal(before, rustdl.get_rng_state()):
            raise RuntimeError(
                f"vmap({fname}, ...): called random operation while in randomness error mode. Please "
                "either use the 'same' or 'different' randomness flags on vmap or perform the "
                "randomness operation out of vmap"
            )
        return out

    return call


def _rustdl_tensor(v):
    import rustdl

    return rustdl.tensor(v)


def _rustdl_get_rng_state():
    import rustdl

    return rustdl.get_rng_state()


def _rustdl_set_rng_state(state):
    import rustdl

    rustdl.set_rng_state(state)


# ---------- ensembles ----------


def stack_module_state(models) -> tuple[dict, dict]:
    """``(params, buffers)``: each model's parameters and buffers stacked along a new leading
    dimension, as ``torch.func.stack_module_state`` (for ``vmap`` over an ensemble with
    :func:`functional_call`). The stacked parameters are new leaves that require grad when the
    models' parameters do; the models are left unchanged."""
    import rustdl

    fn = "stack_module_state"
    models = list(models)
    if not models:
        raise RuntimeError(f"{fn}: Expected at least one model, got 0.")
    from .nn.modules.module import Module

    for m in models:
        if not isinstance(m, Module):
            raise TypeError(f"{fn}: expected nn.Module instances, got {type(m).__name__}")
    if not (all(m.training for m in models) or all(not m.training for m in models)):
        raise RuntimeError(f"{fn}: Expected all models to have the same training/eval mode.")
    if len({type(m) for m in models}) != 1:
        raise RuntimeError(f"{fn}: Expected all models to be of the same class.")

    def collect(named):
        per = [dict(named(m)) for m in models]
        names = list(per[0])
        for d in per[1:]:
            if list(d) != names:
                raise RuntimeError(f"{fn}: the models have different parameter/buffer names")
        out = {}
        for n in names:
            ts = [d[n] for d in per]
            for t in ts[1:]:
                if tuple(t.shape) != tuple(ts[0].shape):
                    raise RuntimeError(
                        f"{fn}: {n!r} has shape {tuple(ts[0].shape)} in one model and {tuple(t.shape)} in another"
                    )
            out[n] = rustdl.stack([t.detach() for t in ts])
        return out

    params = collect(lambda m: m.named_parameters())
    per_model = [dict(m.named_parameters()) for m in models]
    for n, p in params.items():
        if all(d[n].requires_grad for d in per_model) and _is_float(p):
            p.requires_grad_(True)
    buffers = collect(lambda m: m.named_buffers())
    return params, buffers


def replace_all_batch_norm_modules_(root):
    """Makes every batch-norm module under ``root`` stop tracking running statistics (in place),
    as ``torch.func.replace_all_batch_norm_modules_``; returns ``root``."""
    from .nn.modules.normalization import _BatchNorm  # type: ignore[attr-defined]

    for m in root.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean = None
            m.running_var = None
            m.num_batches_tracked = None
            m.track_running_stats = False
    return root
