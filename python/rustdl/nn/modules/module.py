"""``Module``: the base class of every layer, with parameter/buffer/submodule registration."""

from __future__ import annotations

import copy
from collections import OrderedDict, namedtuple
from collections.abc import Iterator, Mapping
from typing import Any, Callable, TypeVar

from ... import _complex, _rustdl
from ..._rustdl import Tensor
from ..._tensor_api import memory_format as _memory_format
from ...autograd import no_grad
from ..parameter import Buffer, Parameter
from ..utils import _zero_grads


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns; prints ``<All keys matched successfully>`` when both
    lists are empty, as PyTorch's."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _cast_floating(t: Any, dtype: Any) -> Any:
    """``t`` in ``dtype`` when it is a real floating tensor of another dtype; else ``t``."""
    return t.to(dtype) if t.is_floating_point() and t.dtype != dtype else t


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _parse_to(args: tuple, kwargs: dict) -> tuple[Any, Any]:
    """Splits ``Module.to`` arguments into ``(device, dtype)``, either possibly ``None``."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    fmt = kwargs.pop("memory_format", None)  # checked, then ignored: rustdl keeps one layout
    if fmt is not None and not isinstance(fmt, _memory_format):
        raise TypeError(f"Module.to: memory_format must be a memory_format, got {type(fmt).__name__}")
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"Module.to: unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if a is None:
            continue  # "leave unchanged", as PyTorch's to(device, None)
        if isinstance(a, bool):
            continue  # non_blocking given by position: to(device, dtype, True)
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, _rustdl.dtype):
            dtype = a
        elif isinstance(a, (str, _rustdl.device)):
            device = a
        elif isinstance(a, int) and not isinstance(a, bool):
            device = f"cuda:{a}"  # an accelerator index, as PyTorch's `.to(0)`
        else:
            raise TypeError(f"Module.to: expected a device, a dtype or a tensor, got {a!r}")
    if dtype is not None and getattr(dtype, "name", None) in ("float16", "bfloat16"):
        from ..._tensor_api import _warn_half

        _warn_half(f"Module.to({dtype})")
        dtype = _rustdl.float32  # no 16-bit storage: as Module.half()
    if dtype is not None and dtype not in (_rustdl.float32, _rustdl.float64):
        raise TypeError(f"Module.to: only floating dtypes are accepted, got {dtype}")
    return device, dtype


# Set by ``rustdl.profiler`` while a profiler runs: ``_profile_call(module, args, kwargs)`` times
# the call as a range and makes it through ``_call_unprofiled``.
_profile_call: Callable[[Any, tuple, dict], Any] | None = None


# the state_dict key (after the module's prefix) of get_extra_state()'s value
_EXTRA_STATE_KEY_SUFFIX = "_extra_state"

# Hooks on every module (``torch.nn.modules.module.register_module_forward_hook`` and friends),
# run before each module's own.
_global_forward_pre_hooks: OrderedDict = OrderedDict()
_global_forward_hooks: OrderedDict = OrderedDict()
_global_forward_hooks_with_kwargs: set = set()
# ids of forward hooks registered with ``always_call=True`` (module or global): they also run,
# with output None, when the call raises
_forward_hooks_always_called: set = set()
_global_backward_hooks: OrderedDict = OrderedDict()
_global_backward_pre_hooks: OrderedDict = OrderedDict()
# ``hook(module, name, value)`` as a parameter, buffer or submodule is registered on any module
# (a non-None result is registered instead)
_global_parameter_registration_hooks: OrderedDict = OrderedDict()
_global_buffer_registration_hooks: OrderedDict = OrderedDict()
_global_module_registration_hooks: OrderedDict = OrderedDict()


def _registered(table: OrderedDict, module: Any, name: str, value: Any) -> Any:
    for hook in list(table.values()):
        out = hook(module, name, value)
        if out is not None:
            value = out
    return value


_HOOK_TABLES = (
    "_forward_pre_hooks",
    "_forward_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks",
    "_load_state_dict_post_hooks",
)


class _IdSet(OrderedDict):
    """The ids of hooks registered ``with_kwargs``: an ``OrderedDict`` of ``id -> True`` as
    PyTorch keeps them, with a set's ``add``/``discard``."""

    def add(self, key: int) -> None:
        self[key] = True

    def discard(self, key: int) -> None:
        self.pop(key, None)

    def __reduce__(self) -> tuple:
        # pickled as the plain OrderedDict PyTorch keeps (a whole module saved by a script loads
        # under weights_only with only its own classes allowed); ``_kwargs_ids`` makes it an
        # ``_IdSet`` again when a hook is next registered
        return (OrderedDict, (), None, None, iter(self.items()))


def _has_hooks(d: dict) -> bool:
    """Whether a call of the module whose ``__dict__`` is ``d`` has any hook to run."""
    return bool(
        d.get("_forward_pre_hooks")
        or d.get("_forward_hooks")
        or d.get("_backward_hooks")
        or d.get("_backward_pre_hooks")
        or _global_forward_pre_hooks
        or _global_forward_hooks
        or _global_backward_hooks
        or _global_backward_pre_hooks
    )


def register_module_forward_pre_hook(hook) -> RemovableHandle:
    """``hook(module, args)`` before every module's ``forward`` (before its own pre-hooks); a
    non-``None`` result replaces the arguments. Returns a removable handle."""
    return _add_hook(_global_forward_pre_hooks, hook, False)


def register_module_parameter_registration_hook(hook) -> RemovableHandle:
    """``hook(module, name, param)`` whenever a parameter is registered on any module; a
    non-None result is registered instead. Returns a removable handle."""
    return _add_hook(_global_parameter_registration_hooks, hook, False)


def register_module_buffer_registration_hook(hook) -> RemovableHandle:
    """``hook(module, name, buffer)`` whenever a buffer is registered on any module; a non-None
    result is registered instead. Returns a removable handle."""
    return _add_hook(_global_buffer_registration_hooks, hook, False)


def register_module_module_registration_hook(hook) -> RemovableHandle:
    """``hook(module, name, submodule)`` whenever a submodule is registered on any module; a
    non-None result is registered instead. Returns a removable handle."""
    return _add_hook(_global_module_registration_hooks, hook, False)


def register_module_forward_hook(
    hook, *, with_kwargs: bool = False, always_call: bool = False
) -> RemovableHandle:
    """``hook(module, args, output)`` (or with ``kwargs`` before ``output``) after every module's
    ``forward`` (before its own hooks); a non-``None`` result replaces the output."""
    handle = _add_hook(
        _global_forward_hooks, hook, False, _global_forward_hooks_with_kwargs if with_kwargs else None
    )
    if always_call:
        _forward_hooks_always_called.add(handle.id)
    return handle


def register_module_full_backward_hook(hook) -> RemovableHandle:
    """``hook(module, grad_input, grad_output)`` for every module (as ``register_full_backward_hook``)."""
    return _add_hook(_global_backward_hooks, hook, False)


def register_module_full_backward_pre_hook(hook) -> RemovableHandle:
    """``hook(module, grad_output)`` for every module (as ``register_full_backward_pre_hook``)."""
    return _add_hook(_global_backward_pre_hooks, hook, False)


def _call_unprofiled(module: Module, args: tuple, kwargs: dict):
    """``Module.__call__`` without the profiler check: hooks (if any), then ``forward``."""
    if _has_hooks(module.__dict__):
        return _call_with_hooks(module, args, kwargs)
    return module.forward(*args, **kwargs)


def _size_text(shape: Any) -> str:
    """A shape as PyTorch's messages print it (``torch.Size([8, 5])``)."""
    return f"torch.Size({list(shape)})"


class Module:
    """Base class for all neural-network modules.

    Parameters, buffers and submodules assigned as attributes are registered, so that
    ``parameters()``, ``state_dict()``, ``to()`` and ``train()`` reach them.

    Example:
        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = nn.Linear(4, 2)
        ...     def forward(self, x):
        ...         return self.fc(x).relu()
        >>> [n for n, _ in Net().named_parameters()]
        ['fc.weight', 'fc.bias']
    """

    training: bool

    # the format version of this module's state dict entries (saved in ``_metadata``)
    _version: int = 1
    # PyTorch's class attributes (read by library code)
    dump_patches: bool = False
    call_super_init: bool = False
    T_destination = TypeVar("T_destination", bound=dict)

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        # every hook table PyTorch's Module makes up front (libraries walk them directly, e.g.
        # a state_dict override looping over self._state_dict_hooks)
        for name in _HOOK_TABLES:
            object.__setattr__(self, name, OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks_with_kwargs", _IdSet())
        object.__setattr__(self, "_forward_hooks_with_kwargs", _IdSet())
        object.__setattr__(self, "_forward_hooks_always_called", OrderedDict())
        object.__setattr__(self, "_is_full_backward_hook", None)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args, **kwargs):
        if _profile_call is not None:  # rustdl.profiler is recording: time this call
            return _profile_call(self, args, kwargs)
        if _has_hooks(self.__dict__):
            return _call_with_hooks(self, args, kwargs)
        return self.forward(*args, **kwargs)

    # ---------- hooks ----------

    def _hook_dict(self, name: str) -> OrderedDict:
        hooks = self.__dict__.get(name)
        if hooks is None:
            hooks = OrderedDict()
            object.__setattr__(self, name, hooks)
        return hooks

    def _kwargs_ids(self, name: str) -> _IdSet:
        ids = self.__dict__.get(name)
        if not isinstance(ids, _IdSet):
            ids = _IdSet(ids or ())
            object.__setattr__(self, name, ids)
        return ids

    def register_forward_pre_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False):
        """``hook(module, args)`` (or ``hook(module, args, kwargs)`` with ``with_kwargs``) runs
        before ``forward``; a non-``None`` result replaces the input (``(args, kwargs)`` with
        ``with_kwargs``). Returns a handle whose ``remove()`` unregisters it."""
        return _add_hook(
            self._hook_dict("_forward_pre_hooks"),
            hook,
            prepend,
            self._kwargs_ids("_forward_pre_hooks_with_kwargs") if with_kwargs else None,
        )

    def register_forward_hook(
        self, hook, *, prepend: bool = False, with_kwargs: bool = False, always_call: bool = False
    ):
        """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``) runs after
        ``forward``; a non-``None`` result replaces the output. With ``always_call`` it also runs
        (with output ``None``) when the call raises, before the error propagates. Returns a
        removable handle."""
        handle = _add_hook(
            self._hook_dict("_forward_hooks"),
            hook,
            prepend,
            self._kwargs_ids("_forward_hooks_with_kwargs") if with_kwargs else None,
        )
        if always_call:
            _forward_hooks_always_called.add(handle.id)
        return handle

    def register_full_backward_hook(self, hook, prepend: bool = False):
        """``hook(module, grad_input, grad_output)`` runs when the gradients with respect to the
        module's tensor inputs are computed (``None`` for inputs that need none); a non-``None``
        result (a tuple like ``grad_input``) replaces them. Returns a removable handle."""
        return _add_hook(self._hook_dict("_backward_hooks"), hook, prepend)

    register_backward_hook = register_full_backward_hook

    def register_full_backward_pre_hook(self, hook, prepend: bool = False):
        """``hook(module, grad_output)`` runs when the gradients with respect to the module's
        outputs are computed, before the module's own backward; a non-``None`` result (a tuple
        like ``grad_output``) replaces them for the rest of the backward pass. Returns a
        removable handle."""
        return _add_hook(self._hook_dict("_backward_pre_hooks"), hook, prepend)

    # ---------- registration ----------

    def _check_init(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Adds a parameter (or ``None``) under ``name``."""
        self._check_init("parameter")
        self._check_name(name, "parameter")
        if isinstance(param, _complex.ComplexParameter):  # registered as its real storage
            param = param._storage
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' (rustdl.nn.Parameter or None required)"
            )
        # (as PyTorch: any other attribute of that name is refused; a property whose getter
        # raises AttributeError is no attribute; assignment clears the name first)
        if name not in self._parameters and hasattr(self, name):
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and _global_parameter_registration_hooks:
            param = _registered(_global_parameter_registration_hooks, self, name, param)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Adds a buffer: state that is not a parameter (e.g. BatchNorm's ``running_mean``).

        Args:
            name: attribute name of the buffer.
            tensor: the buffer, or ``None``.
            persistent: whether it is part of ``state_dict()``.
        """
        self._check_init("buffer")
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, (Tensor, _complex.ComplexTensor)):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (Tensor or None required)"
            )
        if name not in self._buffers and hasattr(self, name):
            raise KeyError(f"attribute '{name}' already exists")
        if _global_buffer_registration_hooks:
            tensor = _registered(_global_buffer_registration_hooks, self, name, tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Adds a child module under ``name``."""
        self._check_init("module")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a str, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"module name can't be empty or contain '.', got '{name}'")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if name not in self._modules and hasattr(self, name):
            raise KeyError(f"attribute '{name}' already exists")
        if _global_module_registration_hooks:
            module = _registered(_global_module_registration_hooks, self, name, module)
        self._modules[name] = module

    register_module = add_module

    @staticmethod
    def _check_name(name: str, what: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{what} name should be a str, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{what} name can't be empty or contain '.', got '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, _complex.ComplexParameter):  # registered as its real storage
            value = value._storage
        if isinstance(value, Buffer):
            if params is None:
                raise AttributeError("cannot assign buffers before Module.__init__() call")
            self.__dict__.pop(name, None)
            params.pop(name, None)
            self._modules.pop(name, None)
            self.register_buffer(name, value, persistent=value.persistent)
            return
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self.__dict__.pop(name, None)
            self._buffers.pop(name, None)
            self._modules.pop(name, None)
            self._non_persistent_buffers_set.discard(name)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' (rustdl.nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            # an attribute, parameter or buffer of that name is replaced (add_module refuses)
            params.pop(name, None)
            self._buffers.pop(name, None)
            self._non_persistent_buffers_set.discard(name)
            self.__dict__.pop(name, None)
            if _global_module_registration_hooks:
                value = _registered(_global_module_registration_hooks, self, name, value)
            self._modules[name] = value
        elif params is not None and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' (Module or None expected)"
                )
            self._modules[name] = None
        elif params is not None and name in self._buffers:
            if value is not None and not isinstance(value, (Tensor, _complex.ComplexTensor)):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' (Tensor or None expected)"
                )
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        try:
            return _complex.public_parameter(d["_parameters"][name])
        except KeyError:
            pass
        for store in ("_buffers", "_modules"):
            try:
                return d[store][name]
            except KeyError:
                pass
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules)
        return sorted(k for k in keys if not k[:1].isdigit())  # (no attribute names, as PyTorch's)

    # ---------- traversal ----------

    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """Yields ``(name, module)`` for this module and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            # the modules themselves, as PyTorch's memo (a caller may pass some to skip)
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is None:
                continue
            sub = f"{prefix}.{name}" if prefix else name
            yield from child.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """Yields this module and every descendant."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yields ``(name, module)`` for the direct children."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        """Yields the direct children."""
        for _, m in self.named_children():
            yield m

    def _named_members(
        self, get_members_fn: Any, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ):
        """``(name, member)`` of this module and (``recurse``) its submodules, each member once
        with ``remove_duplicate``: ``get_members_fn(module)`` gives a module's own ``(name, value)``
        pairs, as PyTorch's (``lambda m: m._parameters.items()``), or names the dict to read."""
        store = get_members_fn if isinstance(get_members_fn, str) else None
        seen = set()
        mods = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for mod_prefix, mod in mods:
            members = getattr(mod, store).items() if store is not None else get_members_fn(mod)
            for name, value in members:
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                if store == "_parameters":
                    value = _complex.public_parameter(value)
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Yields ``(name, parameter)`` pairs, names dotted as in ``state_dict`` (``head.2.weight``)."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Yields the parameters (each once, even if shared)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """Yields ``(name, buffer)`` pairs."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Yields the buffers."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """Returns the submodule at the dotted path ``target`` (``""`` is this module)."""
        mod = self
        for part in target.split(".") if target else []:
            child = mod._modules.get(part)
            if child is None:
                raise AttributeError(
                    f"{type(mod).__name__} has no submodule '{part}' (looking up '{target}')"
                )
            mod = child
        return mod

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Puts ``module`` at the dotted path ``target``, as ``torch.nn.Module.set_submodule``:
        replaces an existing submodule or (unless ``strict``) adds one to an existing parent.

        Raises:
            ValueError: ``target`` is empty or ``module`` is not a Module.
            AttributeError: a parent on the path is missing, the attribute exists but is not a
                Module, or (``strict``) there is no submodule to replace.
        """
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def _get_named(self, target: str, table: str, what: str):
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{type(mod).__name__} has no attribute `{name}` (looking up '{target}')")
        entries = getattr(mod, table)
        if name not in entries or entries[name] is None:
            raise AttributeError(f"`{name}` is not {what} (looking up '{target}')")
        return entries[name]

    def get_parameter(self, target: str) -> Parameter:
        """Returns the parameter at the dotted path ``target`` (``"encoder.0.weight"``), as
        ``torch.nn.Module.get_parameter``; ``AttributeError`` if there is none."""
        return self._get_named(target, "_parameters", "an nn.Parameter")

    def get_buffer(self, target: str) -> Tensor:
        """Returns the buffer at the dotted path ``target`` (``"bn.running_mean"``), as
        ``torch.nn.Module.get_buffer``; ``AttributeError`` if there is none."""
        return self._get_named(target, "_buffers", "a buffer")

    # ---------- modes and gradients ----------

    def train(self, mode: bool = True) -> Module:
        """Sets training mode on this module and its descendants (Dropout, BatchNorm behave differently)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        # each child through its own train(), so a module that overrides it (a backbone that
        # keeps its BatchNorm frozen) is obeyed, as in PyTorch
        object.__setattr__(self, "training", mode)
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        """Sets evaluation mode; the same as ``train(False)``."""
        return self.train(False)

    def compile(self, *args: Any, **kwargs: Any) -> None:
        """``Module.compile()``, as PyTorch's (which compiles the forward in place): rustdl runs
        the module eagerly as it is; ``torch.compile``'s keyword arguments are accepted."""
        from ... import compile as _compile

        _compile(self, *args, **kwargs)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Sets ``requires_grad`` on every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets the gradients of every parameter (to ``None`` by default, else to zeros)."""
        _zero_grads(self.parameters(), set_to_none)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Calls ``fn`` on every submodule (children first) and then on this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---------- device and dtype ----------

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> Module:
        """Replaces every parameter and buffer ``t`` by ``fn(t)`` when that gives a new tensor
        (only this module's own with ``recurse=False``). Each child is converted through its
        own ``_apply``, so a module that overrides it (to convert a cached tensor too) is obeyed,
        as in PyTorch."""
        if recurse:
            for child in self.children():
                child._apply(fn)
        for m in (self,):
            for p in m._parameters.values():
                if p is None:
                    continue
                new = fn(p)
                if new is p:
                    continue
                # swap the data under the same Parameter object, so optimizers keep working
                grad = p.grad
                p.grad = None
                p.data = new.detach()
                if grad is not None:
                    p.grad = fn(grad)
            for name, b in m._buffers.items():
                if b is not None:
                    m._buffers[name] = fn(b)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Moves parameters and buffers to a device and/or casts floating ones to a dtype.

        ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` or keywords. Integer
        buffers (``num_batches_tracked``) keep their dtype. Parameters stay the same objects
        (their data is swapped), so an optimizer built before the move keeps working.

        Example:
            >>> model.to("gpu")
            >>> model.to(rustdl.float64)
        """
        device, dtype = _parse_to(args, dict(kwargs))
        return self._moved(device, dtype)

    def _moved(self, device: Any, dtype: Any = None) -> Module:
        """:meth:`to` once its arguments are parsed; ``cpu()``/``cuda()`` come here directly (not
        through ``self.to``), as PyTorch's, so a subclass's ``to`` may call them."""
        target = None if device is None else _rustdl.device(device) if isinstance(device, str) else device

        def convert(t: Tensor) -> Tensor:
            # complex buffers are cast too (to the real dtype, dropping the imaginary part with
            # a warning), as PyTorch's Module.to
            want_dtype = dtype if dtype is not None and (t.is_floating_point() or t.is_complex()) else t.dtype
            want_device = target if target is not None else t.device
            if want_dtype == t.dtype and str(want_device) == str(t.device):
                return t
            return t.to(want_device, want_dtype)

        return self._apply(convert)

    def share_memory(self) -> Module:
        """Moves every CPU parameter, gradient and buffer into shared memory, in place
        (``Tensor.share_memory_``): processes forked afterwards, or sent this module through
        ``rustdl.multiprocessing``, train the same weights (Hogwild!). Returns the module."""
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p.share_memory_()
                    if p.grad is not None:
                        p.grad.share_memory_()
            for b in m._buffers.values():
                if b is not None:
                    b.share_memory_()
        return self

    def type(self, dst_type: Any) -> Module:
        """Casts every parameter and buffer (integer buffers too) with ``Tensor.type(dst_type)``
        (a dtype or a name such as ``"torch.DoubleTensor"``), in place; returns the module."""
        return self._apply(lambda t: t.type(dst_type))

    def to_empty(self, *, device: Any, recurse: bool = True) -> Module:
        """Replaces every parameter and buffer by an uninitialised tensor of the same shape and
        dtype on ``device`` (``empty_like``: rustdl's is zero-filled), as PyTorch's
        ``to_empty`` after building on the meta device; ``recurse=False`` only this module's
        own. Parameters stay the same objects. Returns the module."""
        return self._apply(lambda t: _rustdl.empty_like(t, device=device), recurse=recurse)

    def cpu(self) -> Module:
        """Moves every parameter and buffer to the CPU."""
        return self._moved("cpu")

    def gpu(self, index: int = 0) -> Module:
        """Moves every parameter and buffer to GPU ``index``."""
        return self._moved(f"gpu:{index}" if index else "gpu")

    def float(self) -> Module:
        """Casts floating parameters and buffers to float32 (complex ones are kept)."""
        return self._apply(lambda t: _cast_floating(t, _rustdl.float32))

    def double(self) -> Module:
        """Casts floating parameters and buffers to float64 (complex ones are kept)."""
        return self._apply(lambda t: _cast_floating(t, _rustdl.float64))

    def half(self) -> Module:
        """float32: rustdl has no 16-bit storage (warns once; computation stays in float32)."""
        from ..._tensor_api import _warn_half

        _warn_half("Module.half")
        return self._apply(lambda t: _cast_floating(t, _rustdl.float32))

    def bfloat16(self) -> Module:
        """float32: rustdl has no 16-bit storage (warns once; computation stays in float32)."""
        from ..._tensor_api import _warn_half

        _warn_half("Module.bfloat16")
        return self._apply(lambda t: _cast_floating(t, _rustdl.float32))

    # ---------- state dict ----------

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        """Puts this module's own parameters, persistent buffers and extra state (not its
        children's) into ``destination``; override to change what a module saves."""
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def state_dict(self, *args, destination: dict | None = None, prefix: str = "", keep_vars: bool = False):
        """Returns an ordered dict of parameters and persistent buffers (and each module's
        ``get_extra_state()`` where it defines one), keyed by dotted name.

        The values share storage with the module's tensors (detached unless ``keep_vars``).
        ``state_dict`` pre- and post-hooks run as in PyTorch.

        Example:
            >>> nn.Sequential(nn.Linear(2, 3)).state_dict().keys()
            odict_keys(['0.weight', '0.bias'])
        """
        if args:  # the old positional form: (destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()  # type: ignore[attr-defined]
        # each module's format version, as PyTorch (``_load_from_state_dict`` reads it back as
        # ``local_metadata["version"]`` to convert older checkpoints)
        local_metadata = {"version": self._version}
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        d = self.__dict__
        for hook in list((d.get("_state_dict_pre_hooks") or {}).values()):
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook in list((d.get("_state_dict_hooks") or {}).values()):
            out = hook(self, destination, prefix, local_metadata)
            if out is not None:
                if getattr(hook, "_from_public_api", False):
                    raise RuntimeError("state_dict post-hook must return None")
                destination = out  # (the private hook's result replaces the dict)
        return destination

    def get_extra_state(self) -> Any:
        """State beyond parameters and buffers to save in ``state_dict`` (``_extra_state``);
        override together with :meth:`set_extra_state`."""
        raise RuntimeError(
            "Reached a code path in Module.get_extra_state() that should never be called; "
            "override get_extra_state() together with set_extra_state()"
        )

    def set_extra_state(self, state: Any) -> None:
        """Restores what :meth:`get_extra_state` returned."""
        raise RuntimeError(
            "Reached a code path in Module.set_extra_state() that should never be called; "
            "override set_extra_state() together with get_extra_state()"
        )

    def _load_from_state_dict(
        self,
        state_dict: Mapping[str, Any],
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list,
        unexpected_keys: list,
        error_msgs: list,
    ) -> None:
        """Loads this module's own entries of ``state_dict`` (keys under ``prefix``), noting
        missing and unexpected keys and errors; override to convert old checkpoints. The copies
        are applied only once the whole load has no error."""
        for hook in list((self.__dict__.get("_load_state_dict_pre_hooks") or {}).values()):
            hook(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        own = {n: p for n, p in self._parameters.items() if p is not None}
        own.update(
            (n, b)
            for n, b in self._buffers.items()
            if b is not None and n not in self._non_persistent_buffers_set
        )
        pending = _LOADING[-1] if _LOADING else None
        for name, dst in own.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            src = state_dict[key]
            if not isinstance(src, (Tensor, _complex.ComplexTensor)):
                error_msgs.append(
                    f'While copying the parameter named "{key}", expected a Tensor, got {type(src).__name__}.'
                )
                continue
            if len(dst.shape) == 0 and tuple(src.shape) == (1,):
                src = src[0]  # a 0-d parameter saved as one element (older checkpoints), as PyTorch's
            if tuple(src.shape) != tuple(dst.shape):
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {_size_text(src.shape)} from "
                    f"checkpoint, the shape in current model is {_size_text(dst.shape)}."
                )
                continue
            # another dtype is cast on the copy, as PyTorch
            if pending is not None:
                pending.append((self, name, dst, src))
            else:
                with no_grad():
                    dst.copy_(src.detach().to(dst.device, dst.dtype))
        extra = prefix + _EXTRA_STATE_KEY_SUFFIX
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra in state_dict:
                if pending is not None:
                    pending.append((self, None, None, state_dict[extra]))
                else:
                    self.set_extra_state(state_dict[extra])
            elif strict:
                missing_keys.append(extra)
        elif strict and extra in state_dict:
            unexpected_keys.append(extra)  # extra state for a module that takes none
        if strict:
            for key in state_dict:
                if key.startswith(prefix) and key != extra:
                    # as PyTorch's: a dotted key must name a submodule, a plain one an entry
                    parts = key[len(prefix) :].split(".", 1)
                    if (len(parts) > 1 and parts[0] not in self._modules) or (
                        len(parts) == 1 and parts[0] not in own
                    ):
                        unexpected_keys.append(key)

    def load_state_dict(
        self, state_dict: Mapping[str, Tensor], strict: bool = True, assign: bool = False
    ) -> _IncompatibleKeys:
        """Copies parameters and buffers from ``state_dict`` into this module, in place (or, with
        ``assign``, puts the given tensors in their place), each module through its
        ``_load_from_state_dict``; nothing changes unless the whole load succeeds.

        Args:
            state_dict: a mapping from dotted names to tensors, as ``state_dict()`` returns.
            strict: when ``True``, missing or unexpected keys raise.
            assign: keep the given tensors instead of copying into the module's own.

        Returns:
            ``(missing_keys, unexpected_keys)``.

        Raises:
            RuntimeError: a shape mismatch (always), or missing/unexpected keys when ``strict``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        missing: list = []
        unexpected: list = []
        errors: list = []
        pending: list = []

        post_order: list = []

        metadata = getattr(state_dict, "_metadata", None)

        def load(module: Module, local: Mapping, prefix: str) -> None:
            meta = {} if metadata is None else metadata.get(prefix[:-1], {})
            module._load_from_state_dict(local, prefix, meta, True, missing, unexpected, errors)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local.items() if k.startswith(child_prefix)}, child_prefix)
            post_order.append(module)

        _LOADING.append(pending)
        try:
            load(self, OrderedDict(state_dict), "")
        finally:
            _LOADING.pop()
        post_hooks = [
            (m, h)
            for m in post_order
            for h in list((m.__dict__.get("_load_state_dict_post_hooks") or {}).values())
        ]
        result = _IncompatibleKeys(missing, unexpected)

        def check(errors: list) -> None:
            if strict:
                if unexpected:
                    errors.insert(
                        0,
                        "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ",
                    )
                if missing:
                    errors.insert(
                        0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". "
                    )
            if errors:
                raise RuntimeError(
                    f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors)
                )

        if not post_hooks or errors:  # all or nothing: checked before anything is copied
            check(errors)
        with no_grad():
            for module, name, dst, src in pending:
                if name is None:
                    module.set_extra_state(src)
                elif assign:
                    if name in module._parameters:
                        if isinstance(src, Parameter):
                            # it takes the module's requires_grad (a frozen layer stays frozen)
                            new = src.requires_grad_(dst.requires_grad)
                        else:
                            new = Parameter(src.detach(), requires_grad=dst.requires_grad)
                        module._parameters[name] = new
                    else:
                        module._buffers[name] = src
                else:
                    dst.copy_(src.detach().to(dst.device, dst.dtype))
        if post_hooks:
            # as PyTorch: the hooks see (and may edit) the key lists before strict decides
            for module, hook in post_hooks:
                hook(module, result)
            check([])
        return result

    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` runs before ``state_dict`` collects this module."""
        return _add_hook(self._hook_dict("_state_dict_pre_hooks"), hook, False)

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` runs after ``state_dict``
        collected this module, editing the dict in place (returning anything else than ``None``
        is an error, as PyTorch's)."""
        try:
            hook._from_public_api = True
        except AttributeError:  # a bound method or builtin: wrapped to carry the mark
            inner = hook

            def hook(*args, **kwargs):
                return inner(*args, **kwargs)

            hook._from_public_api = True
        return _add_hook(self._hook_dict("_state_dict_hooks"), hook, False)

    def _register_state_dict_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` after ``state_dict`` collected
        this module; a non-``None`` result replaces the dict (PyTorch's private form)."""
        return _add_hook(self._hook_dict("_state_dict_hooks"), hook, False)

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` runs before this module loads its entries (it may edit
        ``state_dict``)."""
        return _add_hook(self._hook_dict("_load_state_dict_pre_hooks"), hook, False)

    def _register_load_state_dict_pre_hook(self, hook, with_module: bool = False):
        """The older form: ``hook(state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` (the module first with ``with_module``)."""
        if with_module:
            return self.register_load_state_dict_pre_hook(hook)
        # a picklable wrapper (gpytorch pickles modules that registered one)
        return self.register_load_state_dict_pre_hook(_WithoutModule(hook))

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` runs after ``load_state_dict``; it may edit the
        ``missing_keys``/``unexpected_keys`` lists."""
        return _add_hook(self._hook_dict("_load_state_dict_post_hooks"), hook, False)

    def __setstate__(self, state: dict) -> None:
        """Restores a pickled module's attributes (``pickle``, ``copy``); subclasses that
        customise unpickling call this through ``super().__setstate__(state)``, as PyTorch's."""
        self.__dict__.update(state)

    def __deepcopy__(self, memo: dict) -> Module:
        # As the pickle protocol copies: ``__getstate__``'s state, deep-copied, handed to the new
        # module's ``__setstate__`` (subclasses rebuild closures and drop unpicklable members
        # there). Buffers are cloned first (a computed buffer is not a leaf); Parameters copy
        # themselves.
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for b in self._buffers.values():
            if b is not None and id(b) not in memo:
                memo[id(b)] = b.detach().clone()
        state = self.__getstate__()
        if state is not None:
            new.__setstate__(copy.deepcopy(state, memo))
        return new

    # ---------- printing ----------

    def extra_repr(self) -> str:
        """Extra text shown inside this module's ``repr`` (e.g. ``in_features=2``)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, child in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(child), 2))
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


# the pending copies of the load_state_dict calls in progress (innermost last)
_LOADING: list[list] = []


class RemovableHandle:
    """What the ``register_*_hook`` methods return: ``remove()`` unregisters the hook (also on
    leaving a ``with`` block)."""

    _next_id = 0

    def __init__(self, hooks: OrderedDict, extra: set | None = None) -> None:
        self.hooks_dict_ref = hooks
        self.extra_ref = extra
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self.hooks_dict_ref.pop(self.id, None)
        if self.extra_ref is not None:
            self.extra_ref.discard(self.id)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _add_hook(hooks: OrderedDict, hook, prepend: bool, kwargs_ids: set | None = None) -> RemovableHandle:
    """Stores ``hook`` under a fresh id (hooks are kept bare, as in PyTorch, so code that walks
    ``module._forward_pre_hooks.values()`` sees them); ``kwargs_ids`` collects the ids of hooks
    registered ``with_kwargs``."""
    if not callable(hook):
        raise TypeError("register hook: the hook must be callable")
    handle = RemovableHandle(hooks, kwargs_ids)
    hooks[handle.id] = hook
    if kwargs_ids is not None:
        kwargs_ids.add(handle.id)
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def _tensors_in(value) -> list:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors_in(v)]
    return []


def _merged(global_hooks: OrderedDict, own: Any) -> OrderedDict:
    """The global hooks, then the module's own (PyTorch's order)."""
    if not global_hooks:
        return own or OrderedDict()
    return OrderedDict([*global_hooks.items(), *(own or {}).items()])


def _call_with_hooks(module: Module, args: tuple, kwargs: dict):
    called: set = set()
    try:
        return _call_hooked(module, args, kwargs, called)
    except Exception:
        # hooks registered with always_call run even so (output None), then the error goes on;
        # one that raises now is reported as a warning, as PyTorch
        d = module.__dict__
        kw_ids = set(d.get("_forward_hooks_with_kwargs") or ()) | _global_forward_hooks_with_kwargs
        for hook_id, hook in list(_merged(_global_forward_hooks, d.get("_forward_hooks")).items()):
            if hook_id not in _forward_hooks_always_called or hook_id in called:
                continue
            try:
                if hook_id in kw_ids:
                    hook(module, args, kwargs, None)
                else:
                    hook(module, args, None)
            except Exception as e:  # noqa: BLE001
                import warnings

                warnings.warn(
                    "module forward hook with ``always_call=True`` raised an exception that was silenced "
                    f"as another error was raised in forward: {e}",
                    stacklevel=2,
                )
        raise


def _call_hooked(module: Module, args: tuple, kwargs: dict, called: set):
    d = module.__dict__
    with_kwargs_ids = d.get("_forward_pre_hooks_with_kwargs") or ()
    for hook_id, hook in list(_merged(_global_forward_pre_hooks, d.get("_forward_pre_hooks")).items()):
        if hook_id in with_kwargs_ids:
            res = hook(module, args, kwargs)
            if res is not None:
                args, kwargs = res
        else:
            res = hook(module, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
    backward_hooks = _merged(_global_backward_hooks, d.get("_backward_hooks"))
    backward_pre_hooks = _merged(_global_backward_pre_hooks, d.get("_backward_pre_hooks"))
    state = None
    if backward_hooks or backward_pre_hooks:
        state = _BackwardHookState(module, backward_hooks or OrderedDict(), backward_pre_hooks)
        if backward_hooks:
            args = state.wrap_inputs(args)
    out = module.forward(*args, **kwargs)
    with_kwargs_ids = set(d.get("_forward_hooks_with_kwargs") or ()) | _global_forward_hooks_with_kwargs
    for hook_id, hook in list(_merged(_global_forward_hooks, d.get("_forward_hooks")).items()):
        if hook_id in _forward_hooks_always_called:
            called.add(hook_id)
        res = hook(module, args, kwargs, out) if hook_id in with_kwargs_ids else hook(module, args, out)
        if res is not None:
            out = res
    if state is not None:
        out = state.wrap_outputs(out)
    return out


class _BackwardHookState:
    """One call's full backward hooks: identity functions on the tensor inputs and outputs; the
    outputs' backward records ``grad_output``, the inputs' calls the hooks with ``grad_input``."""

    def __init__(self, module: Module, hooks: OrderedDict, pre_hooks: OrderedDict | None = None) -> None:
        self.module, self.hooks = module, hooks
        self.pre_hooks = pre_hooks
        self.grad_output = None
        self.n_inputs = 0
        self.inputs_need_grad = False

    def call_pre_hooks(self, grad_output: tuple) -> tuple:
        for hook in list((self.pre_hooks or {}).values()):
            res = hook(self.module, grad_output)
            if res is not None:
                res = tuple(res) if isinstance(res, (list, tuple)) else (res,)
                if len(res) != len(grad_output):
                    raise RuntimeError(
                        f"Backward pre hook returned an invalid number of grad_output, got {len(res)}, "
                        f"but expected {len(grad_output)}"
                    )
                grad_output = res
        return grad_output

    def call_hooks(self, grad_input: tuple) -> tuple:
        for hook in list(self.hooks.values()):
            res = hook(self.module, grad_input, self.grad_output)
            if res is not None:
                res = tuple(res) if isinstance(res, (list, tuple)) else (res,)
                if len(res) != len(grad_input):
                    raise RuntimeError(
                        f"backward hook returned {len(res)} gradients for {len(grad_input)} inputs"
                    )
                grad_input = res
        return grad_input

    def wrap_inputs(self, args: tuple) -> tuple:
        """The tensor arguments through an identity Function whose backward calls the hooks;
        ``grad_input`` has one entry per argument (None for a non-tensor), as PyTorch's."""
        from ...autograd import Function

        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_inputs = len(args)
        need = [args[i].requires_grad for i in idx]
        self.inputs_need_grad = any(need) and _rustdl.is_grad_enabled()
        if not self.inputs_need_grad:
            return args
        # an input that needs no gradient gets zeros in grad_input, as PyTorch's hook gives it
        blanks = [None if n else (args[i].shape, args[i].dtype, args[i].device) for i, n in zip(idx, need)]
        state = self

        class _InputHook(Function):
            @staticmethod
            def forward(ctx, *xs):
                ys = tuple(x.detach() for x in xs)
                # inputs that need no gradient stay so inside the module, as PyTorch's
                ctx.mark_non_differentiable(*[y for y, n in zip(ys, need) if not n])
                return ys if len(ys) > 1 else ys[0]

            @staticmethod
            def backward(ctx, *grads):
                if state.hooks and state.grad_output is None:
                    # reached without passing the module's outputs in this backward (a double
                    # backward through a saved tensor of the module): the hooks do not fire
                    # again, as PyTorch's fire once per gradient of the outputs
                    return grads if len(grads) > 1 else grads[0]
                gi = [
                    g if b is None else _rustdl.zeros(b[0], dtype=b[1], device=b[2])
                    for g, b in zip(grads, blanks)
                ]
                full = [None] * state.n_inputs
                for i, g in zip(idx, gi):
                    full[i] = g
                full = state.call_hooks(tuple(full))
                state.grad_output = None
                gi = tuple(full[i] if n else None for i, n in zip(idx, need))
                return gi if len(gi) > 1 else gi[0]

        wrapped = _InputHook.apply(*[args[i] for i in idx])
        wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
        out = list(args)
        for i, w in zip(idx, wrapped):
            out[i] = w
        return tuple(out)

    def wrap_outputs(self, out):
        """The tensor outputs through an identity Function whose backward records
        ``grad_output`` (one entry per output of a tuple, None for a non-tensor or an output no
        gradient reached) and runs the pre-hooks, as PyTorch's."""
        from ...autograd import Function

        if not isinstance(out, (Tensor, tuple)):
            return out
        items = [out] if isinstance(out, Tensor) else list(out)
        pos = [i for i, v in enumerate(items) if isinstance(v, Tensor)]
        need = [items[i].requires_grad for i in pos]
        if not any(need) or not _rustdl.is_grad_enabled():
            return out
        n_outputs = len(items)
        state = self

        class _OutputHook(Function):
            @staticmethod
            def forward(ctx, *ys):
                # an output no gradient reached is None in grad_output, as PyTorch's hooks see it
                ctx.set_materialize_grads(False)
                zs = tuple(y.detach() for y in ys)
                ctx.mark_non_differentiable(*[z for z, n in zip(zs, need) if not n])
                return zs if len(zs) > 1 else zs[0]

            @staticmethod
            def backward(ctx, *grads):
                full = [None] * n_outputs
                for i, g, n in zip(pos, grads, need):
                    full[i] = g if n else None
                full = state.call_pre_hooks(tuple(full))
                state.grad_output = full
                if state.hooks and not state.inputs_need_grad:
                    state.call_hooks((None,) * state.n_inputs)
                back = tuple(full[i] if n else None for i, n in zip(pos, need))
                return back if len(back) > 1 else back[0]

        wrapped = _OutputHook.apply(*[items[i] for i in pos])
        wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
        for i, w in zip(pos, wrapped):
            items[i] = w
        return items[0] if isinstance(out, Tensor) else tuple(items)


class _WithoutModule:
    """A load_state_dict pre-hook of the older form (``hook(state_dict, prefix, ...)``) called as
    the newer one (the module first); a class rather than a closure, so modules holding it pickle."""

    def __init__(self, hook):
        self.hook = hook

    def __call__(self, module, *args):
        return self.hook(*args)
