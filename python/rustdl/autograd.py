"""Autograd utilities: grad-mode context managers and a finite-difference gradient checker."""

from __future__ import annotations

import functools
import threading
import warnings
import weakref
from typing import Any, Callable, NamedTuple

import numpy as np

from . import _rustdl


class _GradMode:
    """Base for context managers / decorators that set grad mode (``@no_grad()`` and the bare
    ``@no_grad`` both decorate)."""

    mode: bool = True

    def __new__(cls, *args, **kwargs):
        if cls in (no_grad, enable_grad) and len(args) == 1 and not kwargs and callable(args[0]):
            return cls()(args[0])
        return super().__new__(cls)

    def __enter__(self):
        mode = self.mode
        if not mode:
            from ._forward_ad import _jvp_running

            # forward-mode AD ignores grad mode (as PyTorch): inside a function torch.func.jvp
            # differentiates, the graph its tangents come from keeps being recorded
            mode = _jvp_running()
        self._prev = _rustdl.set_grad_enabled(mode)
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


class inference_mode(_GradMode):
    """Context manager (or decorator) for inference, as ``torch.inference_mode``: gradient
    recording off (``mode=False`` leaves it on)."""

    def __new__(cls, mode=True):
        if callable(mode):  # the bare @inference_mode
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):
        self.mode = not bool(mode)

    def __enter__(self):
        self._prev_inference = is_inference_mode_enabled()
        _INFERENCE.on = not self.mode
        return super().__enter__()

    def __exit__(self, *exc):
        _INFERENCE.on = self._prev_inference
        return super().__exit__(*exc)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(not self.mode):
                return fn(*args, **kwargs)

        return wrapper


_INFERENCE = threading.local()  # .on: inside an inference_mode(True) block of this thread


def is_inference_mode_enabled() -> bool:
    """Whether this thread is inside an ``inference_mode()`` block, as
    ``torch.is_inference_mode_enabled`` (``no_grad`` alone does not count)."""
    return getattr(_INFERENCE, "on", False)


_ANOMALY = [False, True]  # [enabled, check_nan]


def _set_anomaly(state) -> None:
    """Sets the anomaly mode to ``[enabled, check_nan]``; with both on, every backward checks
    each gradient a rule returns for NaN and raises naming the rule, as PyTorch."""
    _ANOMALY[:] = [bool(state[0]), bool(state[1])]
    _rustdl._set_anomaly_nan_check(_ANOMALY[0] and _ANOMALY[1])


class set_detect_anomaly:
    """Switches anomaly detection on or off, as ``torch.autograd.set_detect_anomaly``: as a plain
    call it sets the mode; as a context manager (``with set_detect_anomaly(True): ...``) it also
    restores the previous mode on exit. With the mode on (and ``check_nan``), a backward rule
    that returns a gradient with a NaN raises ``RuntimeError`` naming the rule, as PyTorch.
    Other autograd errors (shape mismatches in a rule, in-place changes of saved tensors) are
    reported whether or not the mode is on."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._prev = list(_ANOMALY)
        _set_anomaly([mode, check_nan])

    def __enter__(self) -> set_detect_anomaly:
        return self

    def __exit__(self, *exc) -> bool:
        _set_anomaly(self._prev)
        return False


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on (:func:`set_detect_anomaly`, :class:`detect_anomaly`)."""
    return _ANOMALY[0]


def is_anomaly_check_nan_enabled() -> bool:
    """The ``check_nan`` of the anomaly mode in force."""
    return _ANOMALY[1]


class detect_anomaly:
    """Context manager (or decorator) that switches anomaly detection on (see
    :class:`set_detect_anomaly`) and restores the previous mode on exit."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = list(_ANOMALY)
        _set_anomaly([True, self.check_nan])
        return self

    def __exit__(self, *exc):
        _set_anomaly(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


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

    def __call__(self, fn):
        # as a decorator (``@set_grad_enabled(False)``) it leaves the mode as it was and sets
        # it around each call instead
        _rustdl.set_grad_enabled(self._prev)
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


def _tensor_tuple(x, what, fn):
    from . import Tensor

    if isinstance(x, Tensor):
        return (x,)
    if isinstance(x, (tuple, list)):
        return tuple(x)
    raise TypeError(f"{fn}: {what} must be a tensor or a tuple of tensors, got {type(x).__name__}")


def gradcheck(
    func: Callable,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_batched_forward_grad: bool = False,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
    fast_mode: bool = False,
    masked=None,
) -> bool:
    """Checks the analytic Jacobian of ``func`` against central finite differences, as
    ``torch.autograd.gradcheck``.

    Args:
        func: a function of ``inputs`` returning a tensor or a tuple of tensors.
        inputs: a tensor or a tuple of arguments; the tensors with ``requires_grad=True`` are
            checked (use float64 for accuracy).
        eps: finite-difference step.
        atol, rtol: tolerance ``|analytic - numeric| <= atol + rtol * |numeric|``, element by
            element of each Jacobian (output element by input element).
        raise_exception: raise ``GradcheckError`` on a mismatch instead of returning False.
        fast_mode: compare one random projection ``uᵀ J v`` per input/output pair instead of
            the whole Jacobian.
        check_backward_ad, check_forward_ad: compare the Jacobian built from reverse-mode
            products (vector-Jacobian, the default) and/or from forward-mode products
            (``forward_ad`` duals; a custom Function's ``jvp``) with the numerical one.
        The other PyTorch switches (batched and dtype checks) are accepted.

    Returns:
        True when every Jacobian matches. The inputs' ``.grad`` are left as they were.
    """
    from . import Tensor, tensor

    inputs = _tensor_tuple(inputs, "inputs", "gradcheck")
    diff_in = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff_in:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    for i in diff_in:
        if inputs[i].dtype != _rustdl.float64:
            warnings.warn(
                f"Input #{i} requires gradient and is not a double precision floating point. "
                "This check will likely fail if all the inputs are not of double precision floating point.",
                stacklevel=2,
            )

    def outputs_of(args):
        out = func(*args)
        out = _tensor_tuple(out, "the output of func", "gradcheck")
        return [o for o in out if isinstance(o, Tensor) and o.is_floating_point()]

    def fail(msg):
        if raise_exception:
            raise GradcheckError(msg)
        return False

    outs = outputs_of(inputs)
    rng = np.random.default_rng(0)
    ins = [inputs[i] for i in diff_in]
    # one random projection per output and per input in fast mode
    proj_u = [rng.standard_normal(o.numel()) for o in outs] if fast_mode else []
    proj_v = [rng.standard_normal(x.numel()) for x in ins] if fast_mode else []

    def flat64(t, n):
        return np.zeros(n) if t is None else t.detach().cpu().numpy().astype(np.float64).reshape(-1)

    def reverse_jacobians():
        # rows from vector-Jacobian products: jac[k][j] is (out_k numel or 1, in_j numel)
        jac = []
        for k, o in enumerate(outs):
            seeds = [proj_u[k]] if fast_mode else list(np.eye(o.numel())) if o.numel() else []
            rows = [[] for _ in ins]
            for sd in seeds:
                if o.requires_grad:
                    go = tensor(sd.reshape(o.shape), dtype=o.dtype, device=o.device)
                    gs = grad([o], ins, [go], retain_graph=True, allow_unused=True)
                else:
                    gs = [None] * len(ins)
                for j, (g, x) in enumerate(zip(gs, ins)):
                    rows[j].append(flat64(g, x.numel()))
            jac.append([np.array(r).reshape(len(seeds), x.numel()) for r, x in zip(rows, ins)])
        return jac

    def forward_jacobians():
        # columns from Jacobian-vector products (forward-mode AD): jac[k][j] as above
        from . import _forward_ad as fwad

        jac = [[None] * len(ins) for _ in outs]
        for j, (i, x) in enumerate(zip(diff_in, ins)):
            tangents = [proj_v[j]] if fast_mode else list(np.eye(x.numel())) if x.numel() else []
            cols = [[] for _ in outs]
            for tg in tangents:
                with fwad.dual_level():
                    args = list(inputs)
                    args[i] = fwad.make_dual(
                        x.detach(), tensor(tg.reshape(x.shape), dtype=x.dtype, device=x.device)
                    )
                    for k, o in enumerate(outputs_of(args)):
                        cols[k].append(flat64(fwad.unpack_dual(o).tangent, o.numel()))
            for k, o in enumerate(outs):
                c = np.array(cols[k]).reshape(len(tangents), o.numel()).T
                jac[k][j] = proj_u[k][None, :] @ c if fast_mode else c
        return jac

    analytic = []
    if check_backward_ad:
        analytic.append(("backward", reverse_jacobians()))
    if check_forward_ad:
        analytic.append(("forward-mode", forward_jacobians()))
    # numeric Jacobians: central differences column by column
    for j, i in enumerate(diff_in):
        x = inputs[i]
        base = x.detach().cpu().numpy().astype(np.float64)
        flat = base.reshape(-1)
        cols = [np.zeros((o.numel(), flat.size)) for o in outs]
        steps = [proj_v[j]] if fast_mode else list(np.eye(flat.size)) if flat.size else []
        for c, step in enumerate(steps):
            vals = []
            for delta in (eps, -eps):
                args = list(inputs)
                pert = (flat + delta * step).reshape(base.shape)
                # the inputs keep requires_grad: func may differentiate inside (gradgradcheck)
                args[i] = tensor(pert, dtype=x.dtype, device=x.device, requires_grad=True)
                o2 = outputs_of(args)
                vals.append([t.detach().cpu().numpy().astype(np.float64).reshape(-1) for t in o2])
            for k in range(len(outs)):
                cols[k][:, c] = (vals[0][k] - vals[1][k]) / (2 * eps)
        for k in range(len(outs)):
            for mode, jac in analytic:
                if fast_mode:
                    num = float(proj_u[k] @ cols[k][:, 0]) if outs[k].numel() else 0.0
                    a = jac[k][j]
                    ana = float(a.reshape(-1) @ proj_v[j]) if mode == "backward" else float(a.reshape(-1)[0])
                    ana = ana if outs[k].numel() and flat.size else 0.0
                    if abs(ana - num) > atol + rtol * abs(num):
                        return fail(
                            f"Jacobian mismatch for output {k} with respect to input {i} (fast mode, {mode}): "
                            f"analytic projection {ana} vs numerical {num}"
                        )
                    continue
                ana = jac[k][j].reshape(outs[k].numel(), flat.size)
                num = cols[k]
                bad = np.abs(ana - num) > atol + rtol * np.abs(num)
                if bad.any():
                    r, c = np.argwhere(bad)[0]
                    return fail(
                        f"Jacobian mismatch for output {k} with respect to input {i} ({mode} AD): "
                        f"d out[{r}] / d in[{c}]: analytic {ana[r, c]} vs numerical {num[r, c]}"
                    )
    return True


def gradgradcheck(
    func: Callable,
    inputs,
    grad_outputs=None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    gen_non_contig_grad_outputs: bool = False,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_fwd_over_rev: bool = False,
    check_rev_over_rev: bool = True,
    fast_mode: bool = False,
    masked: bool = False,
) -> bool:
    """Checks second derivatives of ``func``: :func:`gradcheck` of the map from ``(inputs,
    grad_outputs)`` to the first-order gradients (computed with ``create_graph=True``), as
    ``torch.autograd.gradgradcheck``. ``grad_outputs`` default to random tensors that require
    grad."""
    from . import Tensor, tensor

    inputs = _tensor_tuple(inputs, "inputs", "gradgradcheck")
    outs = [
        o
        for o in _tensor_tuple(func(*inputs), "the output of func", "gradgradcheck")
        if isinstance(o, Tensor) and o.is_floating_point()
    ]
    if grad_outputs is None:
        rng = np.random.default_rng(1)
        grad_outputs = tuple(
            tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=o.device, requires_grad=True)
            for o in outs
        )
    else:
        grad_outputs = _tensor_tuple(grad_outputs, "grad_outputs", "gradgradcheck")
    n_in = len(inputs)
    diff_in = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first_order(*args):
        xs, gos = args[:n_in], args[n_in:]
        os_ = [
            o
            for o in _tensor_tuple(func(*xs), "the output of func", "gradgradcheck")
            if isinstance(o, Tensor) and o.is_floating_point()
        ]
        pairs = [(o, g) for o, g in zip(os_, gos) if o.requires_grad]
        if not pairs:
            return tuple(xs[i].detach() * 0 for i in diff_in)
        gs = grad(
            [o for o, _ in pairs],
            [xs[i] for i in diff_in],
            [g for _, g in pairs],
            create_graph=True,
            allow_unused=True,
        )
        return tuple(xs[i] * 0 if g is None else g for g, i in zip(gs, diff_in))

    return gradcheck(
        first_order,
        tuple(inputs) + tuple(grad_outputs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        fast_mode=fast_mode,
    )


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when an analytic gradient disagrees with finite differences."""


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
):
    """Gradients of ``outputs`` with respect to ``inputs``, returned instead of accumulated.

    As ``torch.autograd.grad``: ``.grad`` of the inputs is left untouched, and the graph is freed
    unless ``retain_graph``. With ``create_graph=True`` the gradients returned have a history of
    their own, so they can be differentiated again (gradient penalties, Hessian-vector products,
    meta-learning); an op whose gradient cannot be differentiated again raises when a later
    backward reaches it.

    Args:
        outputs: a tensor or a sequence of tensors.
        inputs: a tensor or a sequence of tensors that require grad (leaves or not).
        grad_outputs: the vector(s) in the vector-Jacobian product; may be omitted (or None
            entries) for one-element outputs.
        retain_graph: keep the graph for another backward (default: ``create_graph``).
        allow_unused: give ``None`` for an input the outputs do not depend on, instead of an
            error.
        materialize_grads: give zeros instead of ``None`` for unused inputs.

    Returns:
        A tuple with one gradient (or ``None``) per input.

    Example:
        >>> x = rustdl.tensor([1.0, 2.0], requires_grad=True)
        >>> (g,) = rustdl.autograd.grad((x * x).sum(), x)
    """
    from . import Tensor, zeros_like

    if is_grads_batched:
        return _grad_batched(
            outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize_grads
        )
    outs = [outputs] if isinstance(outputs, (Tensor, GradientEdge)) else list(outputs)
    ins = [inputs] if isinstance(inputs, (Tensor, GradientEdge)) else list(inputs)
    if not ins or not outs:
        raise RuntimeError("autograd.grad: the inputs and outputs arguments cannot be empty")
    outs = [_edge_tensor(t) if isinstance(t, GradientEdge) else t for t in outs]
    ins = [_edge_tensor(t) if isinstance(t, GradientEdge) else t for t in ins]
    if grad_outputs is None:
        gos = [None] * len(outs)
    elif isinstance(grad_outputs, Tensor):
        gos = [grad_outputs]
    else:
        gos = list(grad_outputs)
    for name, seq in (("outputs", outs), ("inputs", ins)):
        for t in seq:
            if not isinstance(t, Tensor):
                raise TypeError(f"autograd.grad: {name} must be tensors, got {type(t).__name__}")
    if allow_unused is None:
        allow_unused = materialize_grads
    retain = create_graph if retain_graph is None else bool(retain_graph)
    if getattr(_VMAP_SAMPLES, "keep", 0):
        # under vmap, each sample's call but the last keeps the graph: PyTorch's one batched
        # backward frees it once
        retain = True
    st = _GRAD_CALLS
    st.depth = getattr(st, "depth", 0) + 1
    try:
        res = _rustdl.grad(outs, ins, gos, retain, bool(allow_unused), bool(create_graph))
    finally:
        st.depth -= 1
    if materialize_grads:
        # an unused input's zeros take part in a graph being built (create_graph), as PyTorch's
        res = [
            (zeros_like(x).requires_grad_(True) if create_graph else zeros_like(x)) if g is None else g
            for g, x in zip(res, ins)
        ]
    return tuple(res)


_GRAD_CALLS = threading.local()  # .depth: autograd.grad calls running on this thread
# .keep: vmap sample calls running on this thread that are not their batch's last
_VMAP_SAMPLES = threading.local()


class _vmap_sample:  # noqa: N801
    """``with _vmap_sample(last)``: one sample's call of a vmapped function (see :func:`grad`)."""

    def __init__(self, last: bool) -> None:
        self.keep = 0 if last else 1

    def __enter__(self) -> None:
        _VMAP_SAMPLES.keep = getattr(_VMAP_SAMPLES, "keep", 0) + self.keep

    def __exit__(self, *exc) -> None:
        _VMAP_SAMPLES.keep -= self.keep


class GradientEdge(NamedTuple):
    """``torch.autograd.graph.GradientEdge``: an output slot of a graph node; :func:`grad`
    takes one in place of the tensor it was made from (:func:`get_gradient_edge`)."""

    node: Any
    output_nr: int


# the tensor each edge made by get_gradient_edge stands for, while that tensor lives
_EDGE_TENSORS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def get_gradient_edge(tensor):
    """The :class:`GradientEdge` a gradient of ``tensor`` flows into: its ``grad_fn`` (a leaf's
    gradient accumulator), as ``torch.autograd.graph.get_gradient_edge``."""
    if not tensor.requires_grad:
        raise RuntimeError(
            "It is not possible to get the gradient edge for a Tensor that does not require gradients"
        )
    node = tensor.grad_fn
    if node is None:  # a leaf: the accumulator its gradients reach
        with enable_grad():
            node = tensor.view_as(tensor).grad_fn.next_functions[0][0]
    edge = GradientEdge(node, int(getattr(tensor, "output_nr", 0)))
    _EDGE_TENSORS[edge] = tensor
    return edge


def _edge_tensor(edge):
    """The tensor a :class:`GradientEdge` stands for in :func:`grad`."""
    t = _EDGE_TENSORS.get(edge)
    if t is None and type(edge.node).__name__ == "AccumulateGrad":
        t = edge.node.variable
    if t is None or (t.grad_fn is not None and t.grad_fn != edge.node):
        raise RuntimeError(
            "autograd.grad: this GradientEdge's tensor is gone or was changed in place since "
            "get_gradient_edge (rustdl reads an edge through the tensor it was made from)"
        )
    return t


def increment_version(tensor):
    """Bumps the version counter of ``tensor`` (or of each tensor of an iterable), as
    ``torch.autograd.graph.increment_version``: a graph that saved it then refuses backward."""
    for t in [tensor] if isinstance(tensor, _rustdl.Tensor) else tensor:
        _rustdl._mark_written(t)


def _in_autograd_grad() -> bool:
    """Whether an :func:`grad` call is running on this thread (a reentrant checkpoint's backward
    refuses it, as PyTorch)."""
    return getattr(_GRAD_CALLS, "depth", 0) > 0


def _grad_batched(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize_grads):
    """``grad(..., is_grads_batched=True)``: the first dim of every grad_output is a batch of
    vectors; one vector-Jacobian product per batch entry, the results stacked along a new first dim
    (a ``None`` gradient stays ``None``)."""
    from . import Tensor, stack, zeros_like

    gos = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs or [])
    if not gos or any(not isinstance(g, Tensor) for g in gos):
        raise RuntimeError("autograd.grad: is_grads_batched=True needs a tensor grad_output for every output")
    sizes = {g.shape[0] if g.dim() else None for g in gos}
    if None in sizes or len(sizes) != 1:
        raise RuntimeError(
            "autograd.grad: with is_grads_batched=True every grad_output needs the same batch size in dim 0,"
            f" got shapes {[tuple(g.shape) for g in gos]}"
        )
    n = sizes.pop()
    retain = create_graph if retain_graph is None else bool(retain_graph)
    per = []
    for i in range(n):
        per.append(
            grad(
                outputs,
                inputs,
                [g[i] for g in gos],
                retain_graph=True if i + 1 < n else retain,
                create_graph=create_graph,
                allow_unused=allow_unused or materialize_grads,
            )
        )
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if n == 0:
        return tuple(x.new_zeros((0, *x.shape)) for x in ins)
    out = [None if col[0] is None else stack(list(col)) for col in zip(*per)]
    if materialize_grads:
        # an unused input gets its zeros unbatched, as PyTorch's batched grad gives them
        out = [zeros_like(x) if g is None else g for g, x in zip(out, ins)]
    return tuple(out)


def backward(
    tensors,
    grad_tensors=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    grad_variables=None,
    inputs=None,
) -> None:
    """Accumulates into ``.grad`` the gradients of the sum of ``tensors`` (each weighted by its
    ``grad_tensors`` entry), as ``torch.autograd.backward``.

    One tensor is ``tensor.backward(grad, ...)``. Several are differentiated in one pass over a
    joint root ``Σ (tᵢ · gᵢ).sum()`` (the weights detached), so hooks see each gradient once and
    a shared graph is walked once. A ``None`` weight needs a one-element tensor (ones).

    Args:
        tensors: a tensor or a sequence of tensors.
        grad_tensors: one weight (or ``None``) per tensor; ``grad_variables`` is its old name.
        retain_graph: keep the graph for another backward (default: ``create_graph``).
        create_graph: record the backward pass so the gradients can be differentiated again.
        inputs: accumulate only into these tensors' ``.grad``.

    Example:
        >>> x = rustdl.tensor([1.0, 2.0], requires_grad=True)
        >>> rustdl.autograd.backward([x.sum(), (x * x).sum()])   # x.grad == 1 + 2x
    """
    from . import Tensor

    if grad_variables is not None:
        if grad_tensors is not None:
            raise RuntimeError("autograd.backward: give grad_tensors or grad_variables, not both")
        grad_tensors = grad_variables
    outs = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        gos = [grad_tensors] + [None] * (len(outs) - 1)
    else:
        gos = list(grad_tensors)
    if len(gos) != len(outs):
        raise RuntimeError(f"autograd.backward: got {len(gos)} grad_tensors for {len(outs)} tensors")
    if not outs:
        raise RuntimeError("autograd.backward: the tensors argument cannot be empty")
    for i, (t, g) in enumerate(zip(outs, gos)):
        if not isinstance(t, Tensor):
            raise TypeError(f"autograd.backward: tensors must be tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None and t.numel() != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs (element {i} has shape {tuple(t.shape)})"
            )
        if g is not None and tuple(g.shape) != tuple(t.shape):
            raise RuntimeError(
                f"autograd.backward: grad_tensors[{i}] has shape {tuple(g.shape)}, expected {tuple(t.shape)}"
            )
    if len(outs) == 1:
        outs[0].backward(gos[0], retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)
        return
    root = None
    for t, g in zip(outs, gos):
        term = t.sum() if g is None else (t * g.detach()).sum()
        root = term if root is None else root + term
    root.backward(retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)


class _VariableMeta(type):
    """Every tensor is a ``Variable`` (``isinstance(t, Variable)``), as in PyTorch."""

    def __instancecheck__(cls, other: Any) -> bool:
        return isinstance(other, _rustdl.Tensor)


class Variable(metaclass=_VariableMeta):
    """The pre-0.4 PyTorch wrapper, as PyTorch still runs it: ``Variable(data)`` is a new leaf
    sharing ``data``'s storage (``data.detach()``) that requires grad only if
    ``requires_grad``; ``data`` itself is left unchanged and no gradient flows back into it.
    ``volatile`` is ignored (PyTorch ignores it too). Every tensor is an instance."""

    def __new__(cls, data: Any, requires_grad: bool = False, volatile: bool = False) -> Any:  # type: ignore[misc]
        if not isinstance(data, _rustdl.Tensor):
            raise TypeError(f"Variable: expected a Tensor as data, got {type(data).__name__}")
        if volatile:
            import warnings

            warnings.warn(
                "volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                UserWarning,
                stacklevel=2,
            )
        if volatile and requires_grad:
            raise ValueError("Variable can't be volatile and require_grad at the same time!")
        out = data.detach()
        if requires_grad:
            out.requires_grad_(True)
        return out


class FunctionCtx:
    """The ``ctx`` of an :class:`Function`: what ``forward`` leaves for ``backward``."""

    def __init__(self) -> None:
        self._saved: tuple = ()
        self._non_differentiable: set[int] = set()
        self._dirty: tuple = ()
        self.materialize_grads = True
        self.needs_input_grad: tuple[bool, ...] = ()

    def save_for_backward(self, *tensors) -> None:
        """Keeps tensors (or None) for backward; modifying them in place afterwards makes
        backward raise. Under :class:`saved_tensors_hooks` each tensor is packed here and
        unpacked whenever ``saved_tensors`` is read."""
        for k, t in enumerate(tensors):
            if t is not None and not isinstance(t, _rustdl.Tensor):
                raise TypeError(
                    f"save_for_backward can only save variables, but argument {k} is of type {type(t).__name__}"
                )
        self._saved = tensors
        self._packed = None
        hooks = _saved_hooks_top()
        if hooks is not None:
            pack, unpack = hooks
            _saved_hooks_running(True)
            try:
                packed = tuple(pack(t) if isinstance(t, _rustdl.Tensor) else None for t in tensors)
            finally:
                _saved_hooks_running(False)
            self._packed = (unpack, packed)

    def save_for_forward(self, *tensors) -> None:
        """Keeps tensors (or None) for ``jvp`` (forward-mode AD), read back there as
        ``ctx.saved_tensors``."""
        self._saved_forward = tensors

    @property
    def saved_tensors(self) -> tuple:
        packed = getattr(self, "_packed", None)
        if packed is None:
            return self._saved
        unpack, items = packed
        _saved_hooks_running(True)
        try:
            return tuple(
                unpack(p) if isinstance(t, _rustdl.Tensor) else t for t, p in zip(self._saved, items)
            )
        finally:
            _saved_hooks_running(False)

    def mark_non_differentiable(self, *tensors) -> None:
        """Outputs that get no gradient (e.g. indices)."""
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors) -> None:
        """Inputs that ``forward`` modified in place (and returns): after ``apply`` they hold
        the Function's output, history included, and are returned as themselves."""
        self._dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """With False, ``backward`` receives ``None`` for outputs that got no gradient."""
        self.materialize_grads = bool(value)


class _FunctionMeta(type):
    pass


class Function(metaclass=_FunctionMeta):
    """A differentiable operation with a hand-written ``backward``, as ``torch.autograd.Function``.

    Subclass it with static ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` (or the
    newer ``forward(*args)`` + ``setup_context(ctx, inputs, output)``) and call ``apply``.
    ``backward`` returns one gradient (or None) per argument of ``forward``.

    Example:
        >>> class Exp(rustdl.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         y = x.exp()
        ...         ctx.save_for_backward(y)
        ...         return y
        ...     @staticmethod
        ...     def backward(ctx, g):
        ...         (y,) = ctx.saved_tensors
        ...         return g * y
        >>> Exp.apply(rustdl.tensor([1.0], requires_grad=True))
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement forward")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("Function subclasses must implement backward")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError(
            "You must implement the jvp function for custom autograd.Function to use it with forward mode AD."
        )

    @classmethod
    def apply(cls, *args, **kwargs):
        from . import Tensor

        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        new_style = cls.setup_context is not Function.setup_context
        tangents = _forward_tangents(cls, args)
        with no_grad():
            if new_style:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        if tangents is not None:
            return _apply_jvp(cls, ctx, output, tangents)
        if not (_rustdl.is_grad_enabled() and any(ctx.needs_input_grad)):
            # nothing recorded; an input returned as it is still comes back as a new tensor
            # over its memory (as PyTorch), unless forward marked it dirty
            kept = {id(a) for a in args if isinstance(a, Tensor)} - {id(t) for t in ctx._dirty}
            if not kept:
                return output
            if isinstance(output, Tensor):
                return output.detach() if id(output) in kept else output
            if isinstance(output, (tuple, list)):
                fresh = [o.detach() if isinstance(o, Tensor) and id(o) in kept else o for o in output]
                return type(output)(fresh)
            return output
        single = not isinstance(output, (tuple, list))
        outs = [output] if single else list(output)
        diff_pos = [
            i
            for i, o in enumerate(outs)
            if isinstance(o, Tensor) and o.is_floating_point() and id(o) not in ctx._non_differentiable
        ]
        # outputs get fresh tensor objects (sharing memory) so an input returned as it is, or a
        # view, keeps its own history; an input marked dirty (modified in place by forward) and
        # returned takes the output's history itself, as PyTorch (a view through a copy_ into it)
        dirty = {id(t) for t in ctx._dirty}
        dirty_in = {id(a) for a in args if id(a) in dirty}
        for a in args:
            if id(a) in dirty_in and a.is_leaf and a.requires_grad:
                raise RuntimeError(
                    f"{cls.__name__}: a leaf tensor that requires grad was modified in place (ctx.mark_dirty); "
                    "clone it before passing it in"
                )
        rebased = [id(o) in dirty_in and not o._is_view() for o in outs]
        for i in diff_pos:
            if not rebased[i]:
                outs[i] = outs[i].detach()
        tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        in_shapes = {i: tuple(args[i].shape) for i in tensor_pos}
        in_devices = {i: args[i].device for i in tensor_pos}
        n_args = len(args)
        # every tensor output (non-differentiable ones too) gets zeros for a missing gradient
        # unless ctx.set_materialize_grads(False), as PyTorch
        zero_like = {i: (o.shape, o.dtype, o.device) for i, o in enumerate(outs) if isinstance(o, Tensor)}
        n_out = len(outs)

        has_jvp = cls.jvp is not Function.jvp

        def backward_fn(*grads):
            if has_jvp and _fwad_vjp_pass():
                # forward-mode AD by the double-vjp trick: a node whose backward is this
                # Function's jvp stands in for its backward (see _JvpAsBackward)
                return _JvpAsBackward.apply((cls, ctx, args, tensor_pos, diff_pos, n_out), *grads)
            full = [None] * n_out
            for k, i in enumerate(diff_pos):
                full[i] = grads[k]
            if ctx.materialize_grads:
                from . import zeros

                for i, (shape, dtype, device) in zero_like.items():
                    if full[i] is None:
                        full[i] = zeros(*shape, dtype=dtype, device=device)
            res = cls.backward(ctx, *full)
            if not isinstance(res, (tuple, list)):
                res = (res,)
            res = list(res)
            # trailing Nones for non-tensor arguments may be omitted, as PyTorch allows
            if len(res) > n_args and all(r is None for r in res[n_args:]):
                res = res[:n_args]
            if len(res) != n_args:
                raise RuntimeError(
                    f"function {cls.__name__}Backward returned an incorrect number of gradients "
                    f"(expected {n_args}, got {len(res)})"
                )
            for i, r in enumerate(res):
                if r is not None and isinstance(r, Tensor) and not hasattr(args[i], "shape"):
                    raise RuntimeError(
                        f"function {cls.__name__}Backward returned a gradient different than None at position "
                        f"{i + 1}, but the corresponding forward input was not a Variable"
                    )
            out = []
            for i in tensor_pos:
                g = res[i]
                if g is not None and not ctx.needs_input_grad[i]:
                    g = None
                if isinstance(g, Tensor) and g.dtype != args[i].dtype and g.is_floating_point():
                    # the gradient takes its input's dtype, as PyTorch's engine casts it
                    g = g.to(args[i].dtype)
                if isinstance(g, Tensor) and tuple(g.shape) != in_shapes[i]:
                    g = _sum_to_input(g, in_shapes[i], cls.__name__, i)
                if isinstance(g, Tensor) and g.device != in_devices[i]:
                    # a 0-d CPU input beside device tensors gets its gradient on the CPU, as
                    # PyTorch's engine moves it
                    g = g.to(in_devices[i])
                out.append(g)
            return tuple(out)

        saved_pos = [k for k, t in enumerate(ctx._saved) if isinstance(t, Tensor)]
        saved = [ctx._saved[k] for k in saved_pos]
        # a saved output is read back as the output it is: in a backward with create_graph its
        # gradient flows on through this Function (as PyTorch unpacks a saved output)
        produced = [output] if single else list(output)
        out_of = {id(produced[i]): j for j, i in enumerate(diff_pos)}
        for a in args:  # an input returned as it is stays the input when saved (unless dirty)
            if id(a) not in dirty_in:
                out_of.pop(id(a), None)
        # outputs kept on ctx as plain attributes (``ctx.y = y``, or in a tuple or list there):
        # PyTorch's attribute is the output itself, so a backward with create_graph
        # differentiates through it; each is swapped for a stand-in that does the same
        attrs = _output_attributes(ctx, out_of) if out_of else []
        _saved_hooks_running(True)  # saved_tensors_hooks already packed ctx's tensors
        try:
            replaced = _rustdl._attach_function(
                cls.__name__,
                [outs[i] for i in diff_pos],
                [args[i] for i in tensor_pos],
                saved,
                backward_fn,
                not getattr(cls.backward, "_once_differentiable", False),
                [out_of.get(id(t)) for t in saved],
                [rebased[i] for i in diff_pos],
                ctx,
                not ctx.materialize_grads,
                [j for _, j in attrs],
            )
        finally:
            _saved_hooks_running(False)
        if attrs:
            _swap_output_attributes(ctx, attrs, replaced[len(replaced) - len(attrs) :])
            replaced = replaced[: len(replaced) - len(attrs)]
        if any(r is not None for r in replaced):
            new_saved = list(ctx._saved)
            for k, r in zip(saved_pos, replaced):
                if r is not None:
                    new_saved[k] = r
            ctx._saved = tuple(new_saved)
        # an input modified in place (mark_dirty) takes the output's value and history, as an
        # in-place op's result would, and is returned as itself (as PyTorch)
        for i in diff_pos:
            p = produced[i]
            if id(p) in dirty_in and not rebased[i]:
                with enable_grad():
                    p.copy_(outs[i])
                outs[i] = p
        return outs[0] if single else type(output)(outs) if isinstance(output, tuple) else outs


def _output_attributes(ctx: FunctionCtx, out_of: dict) -> list:
    """``(where, j)`` for each output a Function's forward kept on ``ctx`` as an attribute:
    ``where`` is the attribute's name, or ``(name, position)`` inside a tuple or list there;
    ``j`` the output's place among the differentiable outputs."""
    found = []
    for name, value in vars(ctx).items():
        if name.startswith("_") or name == "needs_input_grad":
            continue
        if id(value) in out_of:
            found.append((name, out_of[id(value)]))
        elif isinstance(value, (tuple, list)):
            found.extend(((name, k), out_of[id(v)]) for k, v in enumerate(value) if id(v) in out_of)
    return found


def _swap_output_attributes(ctx: FunctionCtx, attrs: list, stand_ins: list) -> None:
    for (where, _), t in zip(attrs, stand_ins):
        if isinstance(where, str):
            setattr(ctx, where, t)
            continue
        name, k = where
        value = getattr(ctx, name)
        if isinstance(value, list):
            value[k] = t
        else:
            items = list(value)
            items[k] = t
            setattr(ctx, name, type(value)(items) if type(value) is tuple else value.__class__(*items))


def _fwad_vjp_pass() -> bool:
    from . import _forward_ad

    return _forward_ad._in_vjp_pass()


def _jvp_ctx(ctx):
    """``ctx`` as a Function's ``jvp`` sees it: ``saved_tensors`` are those of
    ``save_for_forward``."""
    j = FunctionCtx.__new__(FunctionCtx)
    j.__dict__.update(ctx.__dict__)
    j._saved = getattr(ctx, "_saved_forward", ())
    j._packed = None
    return j


class _JvpAsBackward(Function):
    """In the first pass of forward-mode AD's double-vjp trick (``g(u) = Jᵀu``), what a custom
    Function with a ``jvp`` gives for its inputs: zeros (``u`` is zero) whose own backward —
    run by the second pass, which differentiates ``<g(u), t>`` with respect to ``u`` — is the
    Function's ``jvp`` applied to the input tangents. So the tangent through the Function is
    the one its ``jvp`` computes, as PyTorch, even where ``backward`` is missing or differs."""

    @staticmethod
    def forward(ctx, info, *grads):
        cls, fctx, args, tensor_pos, diff_pos, n_out = info
        ctx.info = info
        return tuple(_rustdl.zeros_like(args[i]) for i in tensor_pos)

    @staticmethod
    def backward(ctx, *tangents):
        cls, fctx, args, tensor_pos, diff_pos, n_out = ctx.info
        full = [None] * len(args)
        for k, i in enumerate(tensor_pos):
            t = tangents[k]
            full[i] = _rustdl.zeros_like(args[i]) if t is None else t
        res = cls.jvp(_jvp_ctx(fctx), *full)
        res = list(res) if isinstance(res, (tuple, list)) else [res]
        if len(res) != n_out:
            raise RuntimeError(
                f"function {cls.__name__}.jvp returned an incorrect number of forward gradients "
                f"(expected {n_out}, got {len(res)})"
            )
        return (None, *[res[i] for i in diff_pos])


def _forward_tangents(cls, args):
    """The tangents of ``args`` (None for a non-tensor or one without a tangent) when a dual
    level is open, an argument carries a tangent and ``cls`` has a ``jvp`` but no ``backward``
    (with a ``backward``, forward-mode products go through it: see ``forward_ad``); else None."""
    from . import Tensor
    from . import _forward_ad as fwad

    if not fwad._level or cls.jvp is Function.jvp or cls.backward is not Function.backward:
        return None
    tangents = [fwad.unpack_dual(a).tangent if isinstance(a, Tensor) else None for a in args]
    return tangents if any(t is not None for t in tangents) else None


def _apply_jvp(cls, ctx, output, tangents):
    """Forward-mode AD through a Function's ``jvp``: its outputs become dual tensors carrying
    the tangents ``jvp`` computes from the inputs' ones."""
    from . import Tensor, zeros_like
    from . import _forward_ad as fwad

    if hasattr(ctx, "_saved_forward"):
        ctx._saved = ctx._saved_forward
    with no_grad():
        res = cls.jvp(ctx, *tangents)
    single = not isinstance(output, (tuple, list))
    outs = [output] if single else list(output)
    res = [res] if not isinstance(res, (tuple, list)) else list(res)
    if len(res) != len(outs):
        raise RuntimeError(
            f"function {cls.__name__}.jvp returned an incorrect number of forward gradients "
            f"(expected {len(outs)}, got {len(res)})"
        )
    duals = []
    for o, t in zip(outs, res):
        if not (isinstance(o, Tensor) and o.is_floating_point()) or id(o) in ctx._non_differentiable:
            duals.append(o)
            continue
        if t is None:
            t = zeros_like(o)
        if not isinstance(t, Tensor) or tuple(t.shape) != tuple(o.shape):
            raise RuntimeError(
                f"function {cls.__name__}.jvp: the forward gradient of an output of shape {tuple(o.shape)} "
                f"must be a tensor of that shape, got {getattr(t, 'shape', type(t).__name__)}"
            )
        duals.append(fwad.make_dual(o.detach(), t.detach()))
    return duals[0] if single else type(output)(duals) if isinstance(output, tuple) else duals


def _sum_to_input(g, shape: tuple, name: str, index: int):
    """A gradient a Function's backward returned with another shape than its input's: summed
    down to it when the input's shape expands to the gradient's (as PyTorch), else an error."""
    gs = tuple(g.shape)
    lead = len(gs) - len(shape)
    if lead < 0 or any(s != d and s != 1 for s, d in zip(shape, gs[lead:])):
        raise RuntimeError(
            f"Function {name}Backward returned an invalid gradient at index {index} - got {list(gs)} but "
            f"expected shape compatible with {list(shape)}"
        )
    if lead:
        g = g.sum(dim=tuple(range(lead)))
    dims = tuple(k for k, (s, d) in enumerate(zip(shape, gs[lead:])) if s == 1 and d != 1)
    if dims:
        g = g.sum(dim=dims, keepdim=True)
    return g


class _DelayedError(Function):
    """Stands in for a gradient computed by a ``once_differentiable`` backward from inputs that
    require grad: differentiating it raises, as PyTorch."""

    @staticmethod
    def forward(ctx, out, *inputs):
        return out

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(
            "trying to differentiate twice a function that was marked with @once_differentiable"
        )


def once_differentiable(fn):
    """Decorator for ``backward``, as PyTorch's: it runs under ``no_grad``, so a backward with
    ``create_graph=True`` gets gradients without history; when the incoming gradients require
    grad, the results carry a node that raises if a later backward reaches it."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            outputs = fn(ctx, *args)
        if not _rustdl.is_grad_enabled():
            return outputs
        req = [a for a in args if isinstance(a, _rustdl.Tensor) and a.requires_grad]
        if not req:
            return outputs
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        new = tuple(
            _DelayedError.apply(o, *req) if isinstance(o, _rustdl.Tensor) and o.is_floating_point() else o
            for o in outs
        )
        return new[0] if single else new

    return wrapper


def _function_module():
    """``rustdl.autograd.function``, where PyTorch code imports ``Function`` and
    ``once_differentiable`` from (``from torch.autograd.function import once_differentiable``)."""
    import sys
    import types

    mod = types.ModuleType(__name__ + ".function", "Custom autograd functions (as torch.autograd.function).")
    mod.Function = Function  # type: ignore[attr-defined]
    mod.FunctionCtx = FunctionCtx  # type: ignore[attr-defined]
    mod.once_differentiable = once_differentiable  # type: ignore[attr-defined]
    sys.modules[mod.__name__] = mod
    return mod


function = _function_module()


def _submodules():
    """``rustdl.autograd.grad_mode`` and ``rustdl.autograd.graph``, where PyTorch code imports
    grad-mode classes, the graph ``Node`` type and ``save_on_cpu`` from."""
    import sys
    import types

    gm = types.ModuleType(__name__ + ".grad_mode", "Grad-mode switches (as torch.autograd.grad_mode).")
    for name in ("no_grad", "enable_grad", "set_grad_enabled", "inference_mode"):
        setattr(gm, name, globals()[name])
    sys.modules[gm.__name__] = gm
    graph = types.ModuleType(__name__ + ".graph", "The autograd graph (as torch.autograd.graph).")
    graph.Node = _rustdl.Node  # type: ignore[attr-defined]
    graph.save_on_cpu = save_on_cpu  # type: ignore[attr-defined]
    graph.saved_tensors_hooks = saved_tensors_hooks  # type: ignore[attr-defined]
    graph.disable_saved_tensors_hooks = disable_saved_tensors_hooks  # type: ignore[attr-defined]
    graph.GradientEdge = GradientEdge  # type: ignore[attr-defined]
    graph.get_gradient_edge = get_gradient_edge  # type: ignore[attr-defined]
    graph.increment_version = increment_version  # type: ignore[attr-defined]
    sys.modules[graph.__name__] = graph
    variable = types.ModuleType(
        __name__ + ".variable", "The old Variable wrapper (as torch.autograd.variable)."
    )
    variable.Variable = Variable  # type: ignore[attr-defined]
    sys.modules[variable.__name__] = variable
    anomaly = types.ModuleType(
        __name__ + ".anomaly_mode", "Anomaly detection (as torch.autograd.anomaly_mode)."
    )
    anomaly.detect_anomaly = detect_anomaly  # type: ignore[attr-defined]
    anomaly.set_detect_anomaly = set_detect_anomaly  # type: ignore[attr-defined]
    sys.modules[anomaly.__name__] = anomaly
    return gm, graph, variable, anomaly


_saved_hooks_state = threading.local()


def _hooks_state():
    st = _saved_hooks_state
    if not hasattr(st, "stack"):
        st.stack, st.running, st.disabled = [], 0, []
    return st


def _saved_hooks_top():
    """The ``(pack, unpack)`` of the innermost :class:`saved_tensors_hooks` on this thread, or
    None (none open, disabled, or inside a hook: ops a hook runs are not hooked)."""
    st = _hooks_state()
    if not st.stack or st.running or st.disabled:
        return None
    return st.stack[-1]


def _saved_hooks_running(on: bool) -> None:
    _hooks_state().running += 1 if on else -1


class saved_tensors_hooks:  # noqa: N801  (PyTorch's name)
    """``torch.autograd.graph.saved_tensors_hooks(pack_hook, unpack_hook)``: while open on a
    thread, every tensor an op saves for backward there goes through ``pack_hook(tensor)`` when
    the op is recorded, and ``unpack_hook(packed)`` runs when backward needs it back (each time,
    with ``retain_graph``). Ops inside the hooks are not hooked; the innermost context wins.

    For ``autograd.Function`` s, ``ctx.saved_tensors`` returns what ``unpack_hook`` gives. For
    rustdl's own ops the tensor the op saved is what its rule reads, as PyTorch requires
    ``unpack_hook`` to return that tensor's content; what it returns is checked (a tensor of the
    saved shape), and an exception ``pack_hook`` raises for such an op surfaces when backward
    reaches it. Which tensors an op saves can differ from PyTorch's choice.

    Example:
        >>> def pack(t): return t.to("cpu")
        >>> def unpack(t): return t
        >>> with saved_tensors_hooks(pack, unpack):
        ...     loss = model(x).sum()
        >>> loss.backward()
    """

    def __init__(self, pack_hook, unpack_hook) -> None:
        if not callable(pack_hook) or not callable(unpack_hook):
            raise TypeError("saved_tensors_hooks: pack_hook and unpack_hook must be callable")
        self.pack_hook, self.unpack_hook = pack_hook, unpack_hook

    def __enter__(self):
        st = _hooks_state()
        if st.disabled:
            raise RuntimeError(st.disabled[-1])
        st.stack.append((self.pack_hook, self.unpack_hook))
        _rustdl._saved_hook_contexts(1)
        return self

    def __exit__(self, *exc):
        _hooks_state().stack.pop()
        _rustdl._saved_hook_contexts(-1)
        return False


class disable_saved_tensors_hooks:  # noqa: N801  (PyTorch's name)
    """Within it, opening :class:`saved_tensors_hooks` raises ``RuntimeError(error_message)``
    and hooks opened outside do not apply."""

    def __init__(self, error_message: str) -> None:
        self.error_message = str(error_message)

    def __enter__(self):
        _hooks_state().disabled.append(self.error_message)
        return self

    def __exit__(self, *exc):
        _hooks_state().disabled.pop()
        return False


class save_on_cpu:  # noqa: N801  (PyTorch's name)
    """``torch.autograd.graph.save_on_cpu``: accepted; tensors saved for backward stay where
    they are (the values and gradients are the same; only where they wait differs)."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda") -> None:
        self.pin_memory = pin_memory

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """``torch.set_anomaly_enabled``: anomaly detection on or off (see :class:`detect_anomaly`)."""
    set_detect_anomaly(enabled, check_nan)


class set_multithreading_enabled:  # noqa: N801  (PyTorch's name)
    """``torch.autograd.set_multithreading_enabled``: accepted as a call or a context manager.
    A backward here runs on the calling thread either way, so the flag only changes what
    :func:`is_multithreading_enabled` reports."""

    _enabled = True

    def __init__(self, mode: bool) -> None:
        self._prev = set_multithreading_enabled._enabled
        set_multithreading_enabled._enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        set_multithreading_enabled._enabled = self._prev
        return False


def is_multithreading_enabled() -> bool:
    """What :class:`set_multithreading_enabled` last set (``True`` initially)."""
    return set_multithreading_enabled._enabled


grad_mode, graph, variable, anomaly_mode = _submodules()


# ---------- torch.autograd.functional: Jacobians, Hessians and their products ----------


def _as_tuple(x, what, fn):
    from . import Tensor

    if isinstance(x, Tensor):
        return False, (x,)
    if isinstance(x, (tuple, list)) and all(isinstance(t, Tensor) for t in x):
        return True, tuple(x)
    raise TypeError(f"{fn}: {what} must be a tensor or a tuple of tensors, got {type(x).__name__}")


def _prepare(inputs, create_graph):
    # inputs that carry their history when the result must be differentiable, else fresh leaves
    return tuple(
        t.view_as(t) if create_graph and t.requires_grad else t.detach().requires_grad_(True) for t in inputs
    )


def _outputs(func, inputs, fn):
    from . import Tensor

    out = func(*inputs)
    is_tuple, outs = _as_tuple(out, "the function's output", fn)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"{fn}: the function must return tensors")
    return is_tuple, outs


def _grads(outputs, inputs, grad_outputs, create_graph, strict, fn):
    from . import zeros_like

    live = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not live:
        if strict:
            raise RuntimeError(f"{fn}: the output of the function does not require gradients (strict=True)")
        return tuple(zeros_like(x) for x in inputs)
    res = grad(
        [o for o, _ in live],
        list(inputs),
        [g for _, g in live],
        retain_graph=True,
        create_graph=create_graph,
        allow_unused=True,
    )
    out = []
    for i, (g, x) in enumerate(zip(res, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(
                    f"{fn}: the output of the function is independent of input {i} (strict=True)"
                )
            g = zeros_like(x)
        out.append(g if create_graph else g.detach())
    return tuple(out)


def _check_v(v, like, fn, what):
    is_tuple, vs = _as_tuple(v, "v", fn)
    if len(vs) != len(like):
        raise RuntimeError(f"{fn}: v has {len(vs)} tensors but the {what} has {len(like)}")
    for a, b in zip(vs, like):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(
                f"{fn}: v of shape {tuple(a.shape)} does not match the {what}'s {tuple(b.shape)}"
            )
    return vs


def _scalar_v(outs, fn):
    from . import ones_like

    if len(outs) != 1 or outs[0].numel() != 1:
        raise RuntimeError(f"{fn}: v may be omitted only for a function with a single one-element output")
    return (ones_like(outs[0]),)


def _finish(outs, create_graph):
    return tuple(o if create_graph else o.detach() for o in outs)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), vᵀ·J)``, as ``torch.autograd.functional.vjp``."""
    in_tuple, ins = _as_tuple(inputs, "inputs", "vjp")
    ins = _prepare(ins, create_graph)
    with enable_grad():
        out_tuple, outs = _outputs(func, ins, "vjp")
        vs = _scalar_v(outs, "vjp") if v is None else _check_v(v, outs, "vjp", "output")
        g = _grads(outs, ins, vs, create_graph, strict, "vjp")
    outs = _finish(outs, create_graph)
    return (outs if out_tuple else outs[0]), (g if in_tuple else g[0])


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J·v)``, as ``torch.autograd.functional.jvp`` (by the double-vjp trick:
    J·v is the gradient of uᵀJ·v with respect to a dummy u)."""

    in_tuple, ins = _as_tuple(inputs, "inputs", "jvp")
    ins = _prepare(ins, create_graph)
    if v is None:
        if len(ins) != 1 or ins[0].numel() != 1:
            raise RuntimeError("jvp: v may be omitted only for a single one-element input")
        from . import ones_like

        vs = (ones_like(ins[0]),)
    else:
        vs = _check_v(v, ins, "jvp", "input")
    from ._forward_ad import _dummy_cotangent

    with enable_grad():
        out_tuple, outs = _outputs(func, ins, "jvp")
        us = tuple(_dummy_cotangent(o) for o in outs)
        g = _grads(outs, ins, us, True, strict, "jvp")
        jv = _grads(g, us, vs, create_graph, False, "jvp")
    outs = _finish(outs, create_graph)
    jv = _finish(jv, create_graph)
    return (outs if out_tuple else outs[0]), (jv if out_tuple else jv[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``, as ``torch.autograd.functional.jacobian``: for one
    output and one input a tensor of shape ``output.shape + input.shape``; tuples of them (output
    first) otherwise. Computed row by row with reverse mode (``vectorize`` is accepted and
    ignored; ``strategy="forward-mode"`` is computed the same way)."""
    from . import stack, zeros

    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', got {strategy!r}")
    in_tuple, ins = _as_tuple(inputs, "inputs", "jacobian")
    ins = _prepare(ins, create_graph)
    with enable_grad():
        out_tuple, outs = _outputs(func, ins, "jacobian")
        total = sum(o.numel() for o in outs) * sum(x.numel() for x in ins)
        if total > 2**31:
            shapes = [tuple(o.shape) for o in outs], [tuple(x.shape) for x in ins]
            raise _rustdl.OutOfMemoryError(
                f"jacobian: outputs {shapes[0]} and inputs {shapes[1]} make a Jacobian of {total} elements"
            )
        rows = []
        for o in outs:
            flat = o.reshape(-1)
            per_input = [[] for _ in ins]
            for k in range(flat.numel()):
                g = _grads([flat[k]], ins, [None], create_graph, strict, "jacobian")
                for j, gj in enumerate(g):
                    per_input[j].append(gj)
            blocks = []
            for j, x in enumerate(ins):
                shape = tuple(o.shape) + tuple(x.shape)
                if per_input[j]:
                    blocks.append(stack(per_input[j]).reshape(shape))
                else:
                    blocks.append(zeros(*shape, dtype=x.dtype, device=x.device))
            rows.append(tuple(blocks))
    if not out_tuple and not in_tuple:
        return rows[0][0]
    if not out_tuple:
        return rows[0]
    if not in_tuple:
        return tuple(r[0] for r in rows)
    return tuple(rows)


def hessian(
    func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"
):
    """The Hessian of a scalar ``func`` at ``inputs``, as ``torch.autograd.functional.hessian``:
    shape ``input.shape + input.shape`` for one input, a tuple of tuples for several."""
    in_tuple, ins = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        _, outs = _outputs(func, xs, "hessian")
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError("hessian: the function must return a single one-element tensor")
        return _grads(outs, xs, [None], True, strict, "hessian")

    h = jacobian(gradient, ins, create_graph=create_graph, strict=strict, strategy=outer_jacobian_strategy)
    if not in_tuple:
        return h[0][0]
    return h


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H·v)`` for a scalar ``func``, as ``torch.autograd.functional.hvp``."""
    in_tuple, ins = _as_tuple(inputs, "inputs", "hvp")
    ins = _prepare(ins, create_graph)
    vs = _check_v(v, ins, "hvp", "input") if v is not None else _scalar_v(ins, "hvp")
    with enable_grad():
        _, outs = _outputs(func, ins, "hvp")
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError("hvp: the function must return a single one-element tensor")
        g = _grads(outs, ins, [None], True, strict, "hvp")
        hv = _grads(g, ins, vs, create_graph, strict, "hvp")
    out = outs[0] if create_graph else outs[0].detach()
    return out, (hv if in_tuple else hv[0])


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), vᵀ·H)`` for a scalar ``func``, as ``torch.autograd.functional.vhp``
    (the Hessian is symmetric, so it equals ``hvp``)."""
    return hvp(func, inputs, v, create_graph, strict)


def _functional_module():
    import sys
    import types

    mod = types.ModuleType(
        __name__ + ".functional", "Jacobians, Hessians and their products (as torch.autograd.functional)."
    )
    for name in ("vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"):
        setattr(mod, name, globals()[name])
    sys.modules[mod.__name__] = mod
    return mod


functional = _functional_module()


def _forward_ad_module():
    """``rustdl.autograd.forward_ad`` (as ``torch.autograd.forward_ad``)."""
    import sys

    from . import _forward_ad

    sys.modules[__name__ + ".forward_ad"] = _forward_ad
    return _forward_ad


forward_ad = _forward_ad_module()


def _profiler_module():
    """``rustdl.autograd.profiler`` (as ``torch.autograd.profiler``): the legacy ``profile``
    (no schedule, ``enabled=``), ``record_function`` and ``emit_nvtx`` over :mod:`rustdl.profiler`."""
    import sys
    import types

    from . import profiler as _prof

    mod = types.ModuleType(__name__ + ".profiler", "The autograd profiler (as torch.autograd.profiler).")
    mod.profile = _prof.autograd_profile  # type: ignore[attr-defined]
    for name in ("record_function", "emit_nvtx", "EventList", "FunctionEvent", "FunctionEventAvg"):
        setattr(mod, name, getattr(_prof, name))
    sys.modules[mod.__name__] = mod
    return mod


profiler = _profiler_module()
