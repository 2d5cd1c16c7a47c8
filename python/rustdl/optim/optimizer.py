"""``Optimizer``: parameter groups, per-parameter state and its (de)serialisation.

Subclasses describe their state tensors and hyper-parameters; ``step()`` makes one fused Rust
call (``_rustdl.optim_step``) per parameter group and step count, so no Python arithmetic runs
per parameter.
"""

from __future__ import annotations

import functools
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from copy import deepcopy
from typing import Any, Callable

from .. import _complex, _rustdl
from .. import gpu as _gpu
from .._dispatch import disabled_torch_function_impl
from .._rustdl import Tensor
from ..autograd import enable_grad, no_grad
from ..nn.modules.module import RemovableHandle, _add_hook
from ..nn.utils import _zero_grads

# hooks run around every optimizer's step (``register_optimizer_step_pre_hook``), before and
# after the optimizer's own ones
_GLOBAL_STEP_PRE_HOOKS: OrderedDict = OrderedDict()
_GLOBAL_STEP_POST_HOOKS: OrderedDict = OrderedDict()


def register_optimizer_step_pre_hook(hook: Callable) -> RemovableHandle:
    """``hook(optimizer, args, kwargs)`` before every optimizer's ``step``; it may return
    ``(new_args, new_kwargs)``."""
    return _add_hook(_GLOBAL_STEP_PRE_HOOKS, hook, False)


def register_optimizer_step_post_hook(hook: Callable) -> RemovableHandle:
    """``hook(optimizer, args, kwargs)`` after every optimizer's ``step``."""
    return _add_hook(_GLOBAL_STEP_POST_HOOKS, hook, False)


def _hooked_step(step: Callable) -> Callable:
    """``step`` run between the step pre- and post-hooks (global pre-hooks first, global
    post-hooks last), as PyTorch patches each optimizer class's ``step``."""

    @functools.wraps(step)
    def wrapper(*args, **kwargs):
        # as PyTorch, the hooks see the call's whole ``args``, the optimizer first:
        # ``hook(opt, (opt, *step_args), kwargs)``; a pre-hook's new args include it too
        self = args[0]
        self._opt_called = True  # what a scheduler checks to warn of lr_scheduler.step() first
        own_pre = self.__dict__.get("_optimizer_step_pre_hooks")
        if _GLOBAL_STEP_PRE_HOOKS or own_pre:
            for hook in (*_GLOBAL_STEP_PRE_HOOKS.values(), *(own_pre or {}).values()):
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            f"{step} must return None or a tuple of (new_args, new_kwargs), but got {result}."
                        )
                    args, kwargs = result
            if not args or args[0] is not self:
                args = (self, *args)  # new args without the optimizer (PyTorch would fail) get it
        out = step(*args, **kwargs)
        own_post = self.__dict__.get("_optimizer_step_post_hooks")
        if _GLOBAL_STEP_POST_HOOKS or own_post:
            for hook in (*(own_post or {}).values(), *_GLOBAL_STEP_POST_HOOKS.values()):
                hook(self, args, kwargs)
        return out

    wrapper._rustdl_hooked = True  # type: ignore[attr-defined]
    return wrapper


# an optimizer's own hook tables
_HOOK_DICTS = (
    "_optimizer_step_pre_hooks",
    "_optimizer_step_post_hooks",
    "_optimizer_state_dict_pre_hooks",
    "_optimizer_state_dict_post_hooks",
    "_optimizer_load_state_dict_pre_hooks",
    "_optimizer_load_state_dict_post_hooks",
)

_CPU = _rustdl.device("cpu")
_new_tensor = Tensor.__new__


class _Step(Tensor):
    """An optimizer's step count, ``state["step"]``: as PyTorch's, a 0-d float32 CPU tensor
    (``torch.is_tensor``, ``.item()``, saving and loading), that also keeps the count as a Python
    int (``_n``), so a step batches parameters by it and passes it to the fused kernel without
    reading the tensor back.

    A step makes a new one (``state["step"] + 1``), so a count taken earlier keeps its value;
    ``_Step ± int`` is a ``_Step``, hashed and indexed by its count. ``+=``/``-=`` change it in
    place, as on PyTorch's tensor (``step_t = state["step"]; step_t += 1`` counts). A step count
    changed in place otherwise (``.fill_()``, ``.copy_()``...) or replaced by a plain tensor or
    number is read back from its value at the next step."""

    __slots__ = ("_n", "_v")
    __torch_function__ = disabled_torch_function_impl
    _formats_as_plain = True  # PyTorch's step count is a plain tensor (f"{step:.0f}")

    def __new__(cls, n: Any = 0) -> _Step:
        n = int(n.item()) if isinstance(n, Tensor) else int(n)
        return _Step._made(Tensor.__new__(cls, _rustdl.full((), float(n), device=_CPU)), n)

    @staticmethod
    def _made(self: _Step, n: int) -> _Step:
        """``self`` holding the count ``n`` (its value already ``n``)."""
        self._n, self._v = n, self._version
        return self

    def __init__(self, n: Any = 0) -> None:
        pass

    def _count(self) -> int:
        # ``_version`` moved when the tensor was written in place other than by += / -=
        return self._n if self._version == self._v else int(self.item())

    def _shifted(self, other: Any, sign: int) -> Any:
        if isinstance(other, _Step):
            return _Step(self._count() + sign * other._count())
        if isinstance(other, int) and not isinstance(other, bool):
            return _Step(self._count() + sign * other)
        return None

    def _shift_in_place(self, other: Any, sign: int) -> _Step:
        if isinstance(other, _Step) or (isinstance(other, int) and not isinstance(other, bool)):
            n = self._count() + sign * (other._count() if isinstance(other, _Step) else other)
            Tensor.fill_(self, float(n))
            return _Step._made(self, n)
        (Tensor.add_ if sign > 0 else Tensor.sub_)(self, other)
        return self

    def __add__(self, other: Any) -> Any:
        out = self._shifted(other, 1)
        return out if out is not None else Tensor.__add__(self, other)

    __radd__ = __add__

    def __iadd__(self, other: Any) -> Any:
        return self._shift_in_place(other, 1)

    def __sub__(self, other: Any) -> Any:
        out = self._shifted(other, -1)
        return out if out is not None else Tensor.__sub__(self, other)

    def __isub__(self, other: Any) -> Any:
        return self._shift_in_place(other, -1)

    def __rsub__(self, other: Any) -> Any:
        if isinstance(other, int) and not isinstance(other, bool):
            return _Step(other - self._count())
        return Tensor.__rsub__(self, other)

    def __hash__(self) -> int:
        return hash(self._count())

    def __index__(self) -> int:
        return self._count()

    def __reduce_ex__(self, protocol: int) -> tuple:
        return Tensor.__reduce_ex__(Tensor.detach(self), protocol)  # saved as a plain tensor

    def __deepcopy__(self, memo: dict) -> _Step:
        return _Step(self._count())


class _ParamState(defaultdict):
    """An optimizer's ``state``: per-parameter dicts, where a complex parameter and its real
    storage are one key (rustdl's steps look the state up by the storage, an optimizer's own
    step and the user by the complex parameter)."""

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(_complex.storage_of(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(_complex.storage_of(key), value)

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(_complex.storage_of(key))

    def __contains__(self, key: Any) -> bool:
        return super().__contains__(_complex.storage_of(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(_complex.storage_of(key), default)

    def pop(self, key: Any, *default: Any) -> Any:
        return super().pop(_complex.storage_of(key), *default)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        return super().setdefault(_complex.storage_of(key), default)

    def __reduce__(self) -> tuple:
        return (_ParamState, (dict,), None, None, iter(self.items()))


def _steps_as_real(cls: type) -> bool:
    """True when ``cls``'s ``step`` is one of rustdl's (it updates complex parameters through their
    real storage)."""
    step = getattr(cls, "step", None)
    return str(getattr(step, "__module__", "") or "").startswith("rustdl.")


def _step_count(value: Any) -> int:
    """The count of a ``state["step"]``: a :class:`_Step`, a tensor or a number."""
    if type(value) is _Step:
        return value._count()
    return int(value.item()) if isinstance(value, Tensor) else int(value)


class _ScalarState(float):
    """A per-parameter scalar that PyTorch keeps as a 0-d tensor (NAdam's ``mu_product``): a float
    (the updates use it as one) that answers ``.item()`` and saves as a 0-d tensor."""

    __slots__ = ()

    def item(self) -> float:
        return float(self)

    def tolist(self) -> float:
        return float(self)

    def __reduce__(self) -> tuple:
        return (float, (float(self),))


class _RequiredParameter:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _closure_loss(closure: Callable[[], Any] | None) -> Any:
    """What a ``step(closure)`` returns: the closure's loss, evaluated with grad enabled (the
    step itself runs without), or ``None`` without a closure."""
    if closure is None:
        return None
    with enable_grad():
        return closure()


class Optimizer:
    """Base class of optimizers.

    Args:
        params: an iterable of tensors, or of dicts (parameter groups) each with a ``params`` key
            and hyper-parameters overriding ``defaults``.
        defaults: default hyper-parameters of every group.

    Attributes:
        param_groups: list of dicts, each ``{"params": [...], "lr": ..., ...}``.
        state: per-parameter state (``state[p]`` is a dict such as ``{"step": 3, "exp_avg": ...}``).
    """

    _kind: str = ""
    #: state tensors of the fused kernel, in its order; each starts as zeros shaped like its parameter
    _state_names: tuple[str, ...] = ()
    #: group entries the fused kernel takes as hyper-parameters
    _hyper_keys: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        for name in _HOOK_DICTS:
            setattr(self, name, OrderedDict())
        self._patch_step_function()
        self.state: defaultdict = _ParamState(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors or dicts, got a Tensor"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def _patch_step_function(self) -> None:
        """Makes the class's ``step`` run the step hooks (PyTorch's hook: wrappers that build an
        optimizer without ``Optimizer.__init__`` call it themselves)."""
        cls = type(self)
        if not getattr(cls.step, "_rustdl_hooked", False):
            # the most derived step runs the hooks (a user's subclass included), as PyTorch
            cls.step = _hooked_step(cls.step)  # type: ignore[method-assign]

    @staticmethod
    def profile_hook_step(func: Callable) -> Callable:
        """PyTorch's decorator that runs ``step`` between the step hooks: here the hooks run
        through :meth:`_patch_step_function`, so ``func`` is returned as it is."""
        return func

    @property
    def _optimizer_step_code(self) -> None:
        """PyTorch's entry point for profilers (nothing to run here)."""
        return None

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restores a pickled (or copied) optimizer, filling in what an older one lacks."""
        self.__dict__.update(state)
        for name in _HOOK_DICTS:
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        self._patch_step_function()
        if isinstance(self.__dict__.get("defaults"), dict):
            self.defaults.setdefault("differentiable", False)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group of parameters (with its own hyper-parameters) to optimize.

        Example:
            >>> opt.add_param_group({"params": head.parameters(), "lr": 1e-2})
        """
        if not isinstance(param_group, dict):
            raise TypeError(
                f"add_param_group: a param group must be a dict, got {type(param_group).__name__}"
            )
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, (Tensor, _complex.ComplexParameter)):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "add_param_group: params must be an ordered collection (a set's order changes between runs)"
            )
        params = list(params) if params is not None else []
        # ``named_parameters()``: (name, tensor) pairs; the names go to ``param_names``
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are missing"
                )
            params = [p[1] for p in params]
            group["param_names"] = names
        # a complex parameter: rustdl's own steps update its real storage (as PyTorch's steps
        # work on view_as_real); an optimizer with a step of its own sees the complex parameter,
        # its complex gradient and complex state, as in PyTorch
        params = [_complex.storage_of(p) for p in params]
        if not _steps_as_real(type(self)):
            params = [_complex.public_parameter(p) for p in params]
        for p in params:
            if isinstance(p, _complex.ComplexParameter):
                continue
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor")
        group["params"] = params
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization parameter {k}"
                )
            group.setdefault(k, v)
        ids = {id(p) for p in params}
        if len(ids) != len(params):
            # kept (stepped once per occurrence), as PyTorch, which warns
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; "
                "in future, this will cause an error; "
                "see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )
        for g in self.param_groups:
            if ("param_names" in group) != ("param_names" in g):
                raise ValueError(
                    "all optimizer param groups should be with/without names. cannot add param group "
                    f"{'with names' if 'param_names' in group else 'without names'} to the optimizer"
                )
        for g in self.param_groups:
            if any(id(p) in ids for p in g["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
        _check_finite(group)
        if group.get("differentiable"):
            raise NotImplementedError(
                f"{type(self).__name__}: differentiable=True is not supported (rustdl's updates run fused "
                "in Rust, outside autograd); foreach, fused and capturable are accepted and change nothing"
            )
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validates a group's hyper-parameters (overridden by subclasses)."""

    @staticmethod
    def _group_tensors_by_device_and_dtype(
        tensorlistlist: list[list[Any]], with_indices: bool = False
    ) -> dict:
        """The tensors of a step grouped by device and dtype (see
        :func:`rustdl._foreach_utils._group_tensors_by_device_and_dtype`)."""
        from .._foreach_utils import _group_tensors_by_device_and_dtype

        return _group_tensors_by_device_and_dtype(tensorlistlist, with_indices)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets the gradients of all optimized tensors (to ``None`` by default, else to zeros).

        With ``set_to_none=False`` each gradient is first detached from any graph (one made by
        ``backward(create_graph=True)`` is no longer tracked), then zeroed in place, as PyTorch."""
        # (a complex parameter's gradient lives on its real storage)
        params = (_complex.storage_of(p) for g in self.param_groups for p in g["params"])
        if set_to_none:
            _zero_grads(params, True)
            return
        for p in params:
            grad = p.grad
            if grad is None:
                continue
            if grad.grad_fn is not None:
                grad.detach_()
            elif grad.requires_grad:
                grad.requires_grad_(False)
            grad.zero_()

    # ---------- the update ----------

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """The state of ``p`` on its first step: ``step`` and a zero tensor per ``_state_names``."""
        return {"step": _Step(0), **{name: _rustdl.zeros_like(p) for name in self._state_names}}

    def _prepare_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> bool:
        """Creates missing state; returns whether this step is the one that created it."""
        if not state:
            state.update(self._init_state(p, group))
        return False

    def _state_tensors(self, state: dict[str, Any], group: dict[str, Any]) -> list[Tensor]:
        """The state tensors the fused kernel expects, in its order (``_state_names`` by default)."""
        return [state[name] for name in self._state_names]

    def _hyper(self, group: dict[str, Any]) -> dict[str, Any]:
        """The kernel's hyper-parameters for a group (its ``_hyper_keys`` by default)."""
        return {k: group[k] for k in self._hyper_keys}

    def _group_kind(self, group: dict[str, Any]) -> str:
        """The fused kernel that steps a group (``_kind`` by default)."""
        return self._kind

    def _step_scalars(self, state: dict[str, Any], group: dict[str, Any]) -> tuple:
        """Per-parameter scalars of this step beyond the step count, as hashable ``(name, value)``
        pairs passed to the kernel; parameters are batched per distinct value. Called once per
        parameter and step, after ``state["step"]`` was advanced (overridden by optimizers with
        scalar state, such as NAdam's ``mu_product``)."""
        return ()

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None):
        """Performs one optimization step over every parameter that has a gradient.

        Args:
            closure: re-evaluates the model and returns the loss (called with grad enabled).

        Returns:
            The closure's loss, or ``None``.
        """
        loss = _closure_loss(closure)
        recording = _gpu._recording
        stepped: list[dict] = []
        # the per-parameter hooks the optimizer leaves as the base class has them are not called
        # for each parameter (no state to create once it exists, no per-parameter scalars)
        cls = type(self)
        plain_prepare = cls._prepare_state is Optimizer._prepare_state
        plain_scalars = cls._step_scalars is Optimizer._step_scalars
        state_tensors = self._state_tensors
        counts: dict[int, Tensor] = {}
        for group in self.param_groups:
            hyper = self._hyper(group)
            kind = self._group_kind(group)
            batches: dict[tuple, tuple[list, list]] = {}
            for p in map(_complex.storage_of, group["params"]):
                if p.grad is None:
                    continue
                st = self.state[p]
                before = dict(st) if recording is not None else None
                first = False if plain_prepare and st else self._prepare_state(p, st, group)
                if before is not None:
                    if first or st.keys() != before.keys():
                        st.clear()
                        st.update(before)
                        raise RuntimeError(
                            f"{type(self).__name__}.step: optimizer state was created inside a "
                            "GPU capture (a replay would reset it); run the step once before "
                            "capturing"
                        )
                    stepped.append(st)
                n = 0
                if "step" in st:
                    n = _step_count(st["step"]) + 1
                    made = counts.get(n)
                    if made is None:
                        made = counts[n] = _rustdl.full((), float(n), device=_CPU)
                    # each parameter its own count (as PyTorch's, saved separately), cloned from
                    # one made per count and step: cheaper than making each
                    st["step"] = _Step._made(_new_tensor(_Step, made.clone()), n)
                scalars = () if plain_scalars else self._step_scalars(st, group)
                ps, ss = batches.setdefault((n, first, scalars), ([], []))
                ps.append(p)
                ss.append(state_tensors(st, group))
            for (step, first, scalars), (ps, ss) in batches.items():
                _rustdl.optim_step(kind, ps, ss, {**hyper, **dict(scalars), "step": step, "first": first})
        if recording is not None:
            recording._note_optimizer(self, stepped)
        return loss

    # ---------- state dict ----------

    # ---------- hooks ----------

    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` before each ``step``; it may return
        ``(new_args, new_kwargs)``."""
        return _add_hook(self._optimizer_step_pre_hooks, hook, False)

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` after each ``step``."""
        return _add_hook(self._optimizer_step_post_hooks, hook, False)

    def register_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer)`` before :meth:`state_dict` builds the dict."""
        return _add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict)`` after; a dict it returns replaces the state dict."""
        return _add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict)`` before :meth:`load_state_dict`; a dict it returns is
        loaded instead."""
        return _add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer)`` after :meth:`load_state_dict`."""
        return _add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    def _hooks(self, name: str) -> Iterable[Callable]:
        return tuple(self.__dict__.get(name, {}).values())

    def state_dict(self) -> dict[str, Any]:
        """Returns ``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are replaced by their index over all groups, as PyTorch does, so the dict can
        be loaded into a new optimizer over a new model with the same structure.
        """
        for hook in self._hooks("_optimizer_state_dict_pre_hooks"):
            hook(self)
        index: dict[int, int] = {}
        groups = []
        start = 0
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            # a parameter listed twice in a group takes its last position there, as PyTorch
            local = {id(p): i for i, p in enumerate(g["params"], start)}
            for k, i in local.items():
                index.setdefault(k, i)
            packed["params"] = [index[id(p)] for p in g["params"]]
            start += len(g["params"])
            groups.append(packed)
        # every entry of ``state``, in its order, as PyTorch's: a parameter's (an empty one too)
        # under its index, any other key (a step count an optimizer keeps there) as it is
        by_storage = {
            id(_complex.storage_of(p)): index[id(p)] for g in self.param_groups for p in g["params"]
        }
        state = {}
        # (rustdl's own steps may leave an empty entry where PyTorch's make none)
        own = _steps_as_real(type(self))
        for k, v in self.state.items():
            if isinstance(k, Tensor):
                i = by_storage.get(id(k))
                if i is not None and not (own and not v):
                    state[i] = dict(v) if isinstance(v, dict) else v
            else:
                state[k] = v
        out = {"state": state, "param_groups": groups}
        for hook in self._hooks("_optimizer_state_dict_post_hooks"):
            replaced = hook(self, out)
            if replaced is not None:
                out = replaced
        return out

    def _load_state_value(self, p: Tensor, name: str, value: Any) -> Any:
        """Converts one loaded state entry of parameter ``p`` (overridden by optimizers whose state
        tensors are not shaped like their parameter)."""
        # rustdl's own optimizers keep their counts and state tensors in their own form; one
        # written elsewhere (a subclass with its own step) gets its values back as saved, as
        # PyTorch's load does: an int step stays an int, factored state keeps its shape
        own = getattr(type(self).step, "__module__", "").startswith("rustdl.")
        if name == "step" and not isinstance(value, bool):
            if isinstance(value, Tensor) or (own and isinstance(value, (int, float))):
                return _Step(_step_count(value))
        if isinstance(value, Tensor):
            if own and value.numel() != 1 and tuple(value.shape) != tuple(p.shape):
                raise ValueError(
                    f"load_state_dict: state '{name}' of shape {tuple(value.shape)} for a parameter of shape {tuple(p.shape)}"
                )
            dtype = p.dtype if value.is_floating_point() else value.dtype
            return value.detach().to(p.device, dtype).clone()
        return value

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Loads a dict from :meth:`state_dict` (state tensors are copied to each parameter's device).

        Raises:
            ValueError: the number or sizes of the parameter groups differ, or a state tensor's
                shape does not match its parameter.
        """
        for hook in self._hooks("_optimizer_load_state_dict_pre_hooks"):
            replaced = hook(self, state_dict)
            if replaced is not None:
                state_dict = replaced
        self._load_state_dict(state_dict)
        for hook in self._hooks("_optimizer_load_state_dict_post_hooks"):
            hook(self)

    def _load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("load_state_dict: expected a dict with 'state' and 'param_groups' keys")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has a different number of parameter groups ({len(saved_groups)} vs {len(self.param_groups)})"
            )
        for i, (g, sg) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group {i} of {len(sg['params'])} parameters "
                    f"that doesn't match the size of optimizer's group ({len(g['params'])})"
                )
        id_map = {}
        for g, sg in zip(self.param_groups, saved_groups):
            for idx, p in zip(sg["params"], g["params"]):
                id_map[idx] = p
        saved_state = state_dict["state"]
        new_state: defaultdict = _ParamState(dict)
        for k, v in saved_state.items():
            key = int(k) if isinstance(k, str) and k.isdigit() else k
            if key not in id_map:
                new_state[k] = v  # not a parameter's: kept as it is, as PyTorch's
                continue
            p = id_map[key]
            # a complex parameter's real state (what rustdl's steps keep) follows its storage
            real = _complex.storage_of(p)
            new_state[p] = {
                name: self._load_state_value(real if isinstance(value, Tensor) else p, name, value)
                for name, value in v.items()
            }
        self.state = new_state
        # one copy of all the groups' settings, so that an object the groups shared (a cache
        # list) is still shared, as PyTorch's
        memo: dict = {}
        for g, sg in zip(self.param_groups, saved_groups):
            # the saved ``param_names`` replace the group's; a group without keeps its own
            for k, v in sg.items():
                if k != "params":
                    as_tuple = isinstance(g.get(k), tuple) and isinstance(v, list)
                    g[k] = tuple(v) if as_tuple else deepcopy(v, memo)


_HYPER = (
    "lr",
    "eps",
    "weight_decay",
    "momentum",
    "dampening",
    "alpha",
    "rho",
    "betas",
    "lr_decay",
    "momentum_decay",
)


def _defaults(arguments: dict[str, Any]) -> dict[str, Any]:
    """An optimizer's ``defaults`` from the ``locals()`` of its ``__init__``, taken before any other
    local is bound: every argument but ``self`` and ``params``, in signature order.

    Example:
        >>> super().__init__(params, _defaults(locals()))
    """
    return {k: v for k, v in arguments.items() if k not in ("self", "params", "__class__")}


_LABELS = {"lr": "learning rate", "eps": "epsilon value"}


def _check_nonnegative(group: dict[str, Any], *keys: str, labels: dict[str, str] = _LABELS) -> None:
    """PyTorch's ``Invalid learning rate: -1.0`` (``Invalid <key> value: ...``) for a negative entry."""
    for k in keys:
        if not 0.0 <= group[k]:
            raise ValueError(f"Invalid {labels.get(k, f'{k} value')}: {group[k]}")


class _AdamFamily(Optimizer):
    """Base of the Adam-family optimizers (Adam, AdamW, Adamax, NAdam, RAdam).

    Keeps ``betas`` a tuple, checks ``lr``, ``eps``, ``betas`` and ``weight_decay`` as PyTorch does,
    and passes the kernel ``beta1``/``beta2``, ``maximize`` and the entries named by ``_hyper_keys``.
    """

    _state_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]) -> None:
        super().__init__(params, {**defaults, "betas": tuple(defaults["betas"])})

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonnegative(group, "lr", "eps")
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Invalid betas: {betas!r} (expected a pair (beta1, beta2))")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {b}")
        _check_nonnegative(group, "weight_decay")

    def _hyper(self, group: dict[str, Any]) -> dict[str, Any]:
        b1, b2 = group["betas"]
        out = {
            "lr": group["lr"],
            "beta1": b1,
            "beta2": b2,
            "eps": group["eps"],
            "weight_decay": group["weight_decay"],
            "maximize": group["maximize"],
        }
        out.update(super()._hyper(group))
        return out


def _check_finite(group: dict[str, Any]) -> None:
    """Refuses NaN or infinite hyper-parameters (a NaN learning rate would silently turn every
    parameter into NaN)."""
    import math

    for key in _HYPER:
        value = group.get(key)
        values = value if isinstance(value, (tuple, list)) else (value,)
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            if not math.isfinite(v):
                raise ValueError(f"Invalid {key} value: {value!r} (must be a finite number)")


# ---- the helpers and type names third-party optimizers import from ``torch.optim.optimizer`` --

ParamsT = Any  # (PyTorch: an iterable of tensors, of group dicts, or of (name, tensor) pairs)
StateDict = dict[str, Any]
Kwargs = dict[str, Any]
Args = tuple[Any, ...]
OptimizerPreHook = Callable[..., Any]
OptimizerPostHook = Callable[..., Any]

_foreach_doc = """foreach (bool, optional): whether foreach implementation of optimizer is used."""
_fused_doc = """fused (bool, optional): whether the fused implementation is used."""
_capturable_doc = """capturable (bool, optional): whether this instance is safe to capture in a graph."""
_differentiable_doc = (
    """differentiable (bool, optional): whether autograd should occur through the optimizer step."""
)
_maximize_doc = """maximize (bool, optional): maximize the objective with respect to the params, instead of minimizing (default: False)"""


def _use_grad_for_differentiable(func: Callable) -> Callable:
    """Runs an optimizer's ``step`` with gradient recording on only when its group settings say
    ``differentiable`` (PyTorch's decorator)."""

    @functools.wraps(func)
    def _use_grad(self: Any, *args: Any, **kwargs: Any) -> Any:
        prev = _rustdl.is_grad_enabled()
        try:
            _rustdl.set_grad_enabled(bool(getattr(self, "defaults", {}).get("differentiable", False)))
            return func(self, *args, **kwargs)
        finally:
            _rustdl.set_grad_enabled(prev)

    return _use_grad


def _get_value(x: Any) -> Any:
    """A step count or hyper-parameter as a Python number (a tensor's item)."""
    return x.item() if isinstance(x, Tensor) else x


def _to_scalar(x: Any) -> Any:
    """A 1-element tensor hyper-parameter as a 0-d tensor; anything else as it is."""
    if isinstance(x, Tensor) and x.dim() != 0:
        if x.numel() != 1:
            raise ValueError(f"Tensor hyper-parameters must be 1-element, got shape {tuple(x.shape)}")
        return x.reshape(())
    return x


def _dispatch_sqrt(x: Any) -> Any:
    """``sqrt`` of a number or a tensor."""
    import math

    return x.sqrt() if isinstance(x, Tensor) else math.sqrt(x)


def _stack_if_compiling(x: Any) -> Any:
    return x


def _get_scalar_dtype(is_fused: bool | None = None) -> Any:
    """The dtype of step counts: float64 when that is the default dtype, else float32."""
    import rustdl

    return rustdl.float64 if rustdl.get_default_dtype() == rustdl.float64 else rustdl.float32


def _get_capturable_supported_devices(supports_xla: bool = True) -> list[str]:
    return ["cuda"]


def _default_to_fused_or_foreach(
    params: Any, differentiable: bool, use_fused: bool = False
) -> tuple[bool, bool]:
    """(fused, foreach): neither by default here (rustdl's own steps batch parameters already)."""
    return False, False


def _disable_dynamo_if_unsupported(single_tensor_fn: Callable | None = None) -> Callable:
    """PyTorch's compiler guard: the decorated function is returned as it is."""

    def wrapper(func: Callable) -> Callable:
        return func

    return wrapper


def _view_as_real(params: list, *state_and_grads: list) -> None:
    """Complex entries as their real views, in place in the lists (as PyTorch's helper)."""
    for i, p in enumerate(params):
        if _complex.is_complex(p):
            params[i] = _complex.storage_of(p)
            for s in state_and_grads:
                s[i] = _complex.storage_of(s[i])
