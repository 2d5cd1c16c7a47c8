"""The ``__torch_function__`` protocol: Tensor subclasses, objects that define
``__torch_function__`` and ``TorchFunctionMode`` see every call of the public API, as in PyTorch.

How a call is handled (PyTorch's rules):

1. While a mode is active (``with MyMode():``) the innermost mode's ``__torch_function__`` gets the
   call first, with that mode taken off the stack while it runs (what it calls goes to the modes
   below it, then to plain execution).
2. Otherwise, if an argument (or an element of a list/tuple argument) is of a type that overrides
   ``__torch_function__`` — a Tensor subclass not opted out with
   ``__torch_function__ = _disabled_torch_function_impl`` (``nn.Parameter`` is), or any object
   defining it — those types are asked in turn, subclasses before their bases, until one returns
   something other than ``NotImplemented``.
3. ``Tensor.__torch_function__`` itself runs the function with subclass handling off and gives
   tensor results (also inside lists and tuples) the subclass's type, so that ``a * 2`` of a
   ``class A(Tensor)`` instance is an ``A``.

Cost: nothing until the protocol is first needed. The public functions (``rustdl.*``,
``nn.functional``, ``linalg``, ``fft``, ``special``, ``nn.init``) and the Tensor methods and
property getters are wrapped the first time a Tensor subclass that takes part is defined or a
mode is entered (:func:`activate`); module globals that hold the functions (``from torch import
cat``) are rebound then too. Afterwards a call with plain tensors pays one argument scan.
"""

from __future__ import annotations

import builtins
import functools
import sys
import threading
import types as _types
from collections.abc import Callable
from typing import Any

from . import _dispatch_names as _names
from . import _rustdl
from ._rustdl import Tensor
from ._tensor_api import _rewrap

__all__ = [
    "DisableTorchFunction",
    "DisableTorchFunctionSubclass",
    "activate",
    "active",
    "disabled_torch_function_impl",
    "dispatch",
    "mode_stack",
]


class _State(threading.local):
    """Per thread, as PyTorch's: the mode stack and the two switches."""

    def __init__(self) -> None:
        self.modes: list[Any] = []
        self.subclass_off = 0  # DisableTorchFunctionSubclass depth
        self.all_off = 0  # DisableTorchFunction depth


_state = _State()
_active = False


def disabled_torch_function_impl(func: Callable, types: Any, args: Any = (), kwargs: Any = None) -> Any:
    """The ``__torch_function__`` of a type that opts out (``torch._C._disabled_torch_function_impl``):
    instances count as plain tensors; called directly, it runs the function with subclass
    handling off."""
    with DisableTorchFunctionSubclass():
        return func(*args, **(kwargs or {}))


# type -> 0 plain, 1 overrides __torch_function__, 2 a list/tuple to look into
_KIND: dict[type, int] = {
    Tensor: 0, int: 0, float: 0, bool: 0, complex: 0, str: 0, type(None): 0, slice: 0,
    type(Ellipsis): 0, list: 2, tuple: 2,
}  # fmt: skip


def _classify(t: type) -> int:
    try:
        tf = getattr(t, "__torch_function__", None)
    except Exception:  # noqa: BLE001 - an attribute that cannot be read: no hook
        tf = None
    if tf is None:
        kind = 2 if issubclass(t, (list, tuple)) else 0
    else:
        plain = t is Tensor or getattr(tf, "__func__", tf) is disabled_torch_function_impl
        kind = 0 if plain else 1
    _KIND[t] = kind
    return kind


def kind(t: type) -> int:
    """0 for a plain type, 1 for one that overrides ``__torch_function__``, 2 for a list or tuple."""
    k = _KIND.get(t)
    return _classify(t) if k is None else k


def _forget_type(t: type) -> None:
    """A class (re)defined: its kind is worked out again on next use."""
    _KIND.pop(t, None)


def _add_type(found: list[type], t: type) -> None:
    if t in found:
        return
    # subclasses go before their bases; otherwise in argument order
    for i, f in enumerate(found):
        if issubclass(t, f):
            found.insert(i, t)
            return
    found.append(t)


def overriding_types(args: Any, kwargs: Any = None) -> list[type]:
    """The types among ``args`` (and ``kwargs``' values, and one level into lists and tuples) that
    override ``__torch_function__``, in the order they are asked."""
    found: list[type] = []
    for group in (args, kwargs.values() if kwargs else ()):
        for a in group:
            k = kind(type(a))
            if k == 1:
                _add_type(found, type(a))
            elif k == 2:
                for e in a:
                    if kind(type(e)) == 1:
                        _add_type(found, type(e))
                    elif not isinstance(e, Tensor):
                        break  # a list of numbers (data), not of tensors: not looked through
    return found


# modes pushed, over all threads: while 0, a call whose arguments are all of plain kinds runs at
# once (the thread's own state is read only otherwise). The switches need no count: they matter
# only for arguments that override (never on the quick path) or while a mode is pushed.
_busy = 0
_busy_lock = threading.Lock()


def dispatch(public: Any, impl: Callable, args: tuple, kwargs: dict) -> Any:
    """Runs ``impl(*args, **kwargs)``, first handing the call (as ``public``, the function the
    user called) to the active mode or to the overriding types among the arguments."""
    if not _busy:
        kind_of = _KIND.get
        for a in args:
            if kind_of(type(a)) != 0:
                break
        else:
            for a in kwargs.values():
                if kind_of(type(a)) != 0:
                    break
            else:
                return impl(*args, **kwargs)
    st = _state
    if st.modes and not st.all_off:
        out = _to_mode(public, impl, args, kwargs)
        if out is not NotImplemented:
            return out
        # the mode declined: the overriding types get their turn, and with none the call fails
        found = [] if st.subclass_off else overriding_types(args, kwargs)
        if not found:
            raise TypeError(
                f"Multiple dispatch failed for '{_name_of(public)}': the mode returned NotImplemented"
            )
        return _call_overrides(public, found, args, kwargs)
    if st.subclass_off or st.all_off:
        return impl(*args, **kwargs)
    found = overriding_types(args, kwargs)
    if not found:
        return impl(*args, **kwargs)
    return _call_overrides(public, found, args, kwargs)


def _name_of(public: Any) -> str:
    return str(getattr(public, "__name__", None) or repr(public))


def _count(n: int) -> None:
    global _busy
    with _busy_lock:
        _busy += n


def push_mode(mode: Any) -> None:
    """Pushes a mode on this thread's stack (installing the protocol first); None is ignored."""
    if mode is None:
        return
    activate()
    _state.modes.append(mode)
    _count(1)


def pop_mode() -> Any:
    """Takes the innermost mode off this thread's stack and returns it (a mode's exit pops the
    innermost one, as PyTorch's, whichever mode it is)."""
    modes = _state.modes
    if not modes:
        raise RuntimeError("pop_mode: the torch function mode stack is empty")
    out = modes.pop()
    _count(-1)
    return out


def _to_mode(public: Any, impl: Callable, args: tuple, kwargs: dict) -> Any:
    """The innermost mode's hook for this call, run with that mode off the stack."""
    modes = _state.modes
    mode = modes.pop()
    try:
        types_ = tuple(overriding_types(args, kwargs))
        # kwargs are handed over only when there are some, as PyTorch's (hooks may omit them)
        if kwargs:
            return mode.__torch_function__(public, types_, args, kwargs)
        return mode.__torch_function__(public, types_, args)
    finally:
        modes.append(mode)


class NoImplementation(TypeError):
    """Every ``__torch_function__`` asked returned ``NotImplemented``."""


def _hook_of(t: type) -> Callable:
    hook = t.__torch_function__
    if isinstance(hook, _types.FunctionType):
        # a plain method on the class (not a classmethod): PyTorch calls it with the class, as a
        # deprecated spelling
        import warnings

        warnings.warn(
            f"Defining your `__torch_function__` as a plain method ({t.__name__}) is deprecated; "
            "please define it as a classmethod.",
            DeprecationWarning,
            stacklevel=4,
        )
        return functools.partial(hook, t)
    return hook


def _non_tensor_overrides(args: tuple, kwargs: dict) -> list[type]:
    """The types among a factory's arguments (and one level into short lists and tuples: a shape)
    that override ``__torch_function__`` and are not tensors: the data a factory converts is
    not looked at."""
    found: list[type] = []
    for group in (args, kwargs.values() if kwargs else ()):
        for a in group:
            t = type(a)
            k = kind(t)
            if k == 1 and not issubclass(t, Tensor):
                _add_type(found, t)
            elif k == 2 and len(a) <= 8:
                for e in a:
                    te = type(e)
                    if kind(te) == 1 and not issubclass(te, Tensor):
                        _add_type(found, te)
    return found


def _call_overrides(public: Any, found: list[type], args: Any, kwargs: Any) -> Any:
    types_ = tuple(found)
    for t in found:
        hook = _hook_of(t)
        out = hook(public, types_, args, kwargs) if kwargs else hook(public, types_, args)
        if out is not NotImplemented:
            return out
    raise NoImplementation(
        f"no implementation found for '{_name_of(public)}' on types that implement __torch_function__: "
        f"{[t.__name__ for t in found]}"
    )


# ---------------------------------------------------------------------------------------------
# Tensor.__torch_function__ and the switches
# ---------------------------------------------------------------------------------------------


class DisableTorchFunctionSubclass:
    """Within this block, Tensor subclasses are handled as plain tensors (modes still apply):
    what ``Tensor.__torch_function__`` runs the function under. Leaving restores the state found
    on entering (a stray exit changes nothing)."""

    _field = "subclass_off"

    def __enter__(self) -> Any:
        self._saved = getattr(_state, self._field)
        setattr(_state, self._field, self._saved + 1)
        return self

    def __exit__(self, *exc: Any) -> None:
        saved = self.__dict__.pop("_saved", None)
        if saved is not None:
            setattr(_state, self._field, saved)


class DisableTorchFunction(DisableTorchFunctionSubclass):
    """Within this block, neither modes nor subclasses see calls."""

    _field = "all_off"


def is_torch_function_enabled() -> bool:
    """False inside either switch, as PyTorch's ``_is_torch_function_enabled``."""
    return not (_state.all_off or _state.subclass_off)


def mode_stack() -> list[Any]:
    """This thread's mode stack, innermost last (the list itself)."""
    return _state.modes


# the getters whose results Tensor.__torch_function__ gives back as they are (a gradient or a base
# is not converted), as PyTorch's; filled in on activation
_NOWRAP: frozenset = frozenset()


def _nowrap_functions() -> frozenset:
    out = set()
    for name in ("grad", "_base", "_grad"):
        prop = Tensor.__dict__.get(name)
        if prop is not None and hasattr(prop, "__get__"):
            out.add(prop.__get__)
    return frozenset(out)


def get_default_nowrap_functions() -> set:
    """The getters whose results ``Tensor.__torch_function__`` leaves as they are."""
    return set(_NOWRAP)


def convert(ret: Any, cls: type) -> Any:
    """``ret`` with its tensors (also inside lists and tuples) made instances of ``cls``."""
    if cls is Tensor:
        return ret
    if isinstance(ret, Tensor):
        if not isinstance(ret, cls):
            ret = _rewrap(ret, cls)
        return ret
    if isinstance(ret, (tuple, list)):
        items = [convert(r, cls) for r in ret]
        t = type(ret)
        if t is tuple or t is list:
            return t(items)
        if hasattr(ret, "_make"):  # a namedtuple
            return ret._make(items)
        try:
            return t(items)
        except TypeError:
            return ret
    return ret


def _default_torch_function(cls: type, func: Callable, types: Any, args: Any = (), kwargs: Any = None) -> Any:
    """``Tensor.__torch_function__``: runs ``func`` with subclass handling off and makes tensor
    results instances of ``cls``; ``NotImplemented`` when another type in ``types`` is not a base
    of ``cls`` (that type gets its turn)."""
    if kwargs is None:
        kwargs = {}
    if not all(issubclass(cls, t) for t in types):
        return NotImplemented
    with DisableTorchFunctionSubclass():
        ret = func(*args, **kwargs)
        if func in _NOWRAP:
            return ret
        return convert(ret, cls)


def _init_subclass(cls: type, **kwargs: Any) -> None:
    _forget_type(cls)
    if _classify(cls) == 1:
        activate()


# torch._tensor's name for it (subclasses' hooks call it on their results)
_convert = convert

Tensor.__torch_function__ = classmethod(_default_torch_function)
Tensor.__init_subclass__ = classmethod(_init_subclass)

# A class that is not a tensor but defines __torch_function__ (PyTorch's documentation's
# ScalarTensor, a lazy linear operator, a dict of tensors) is seen as it is built: until the
# protocol is installed, class statements go through this hook (one dict lookup per class).
_build_class = builtins.__build_class__


# classes that do not install it: rustdl's own, and those of a real PyTorch imported beside rustdl
# (a benchmark comparing the two), whose objects never reach rustdl's functions
_NOT_OURS = ("rustdl.", "torch.", "torchvision.", "functorch.")


def _build_class_hook(func: Any, name: str, *bases: Any, **kwds: Any) -> Any:
    # a class body that defines __torch_function__ may also key tables on torch functions
    # (`HANDLED[torch.linalg.cholesky] = ...` inside the body): the protocol is installed before
    # the body runs, so those keys are the objects its hook will be handed
    try:
        if "__torch_function__" in func.__code__.co_names and not (
            str(func.__globals__.get("__name__", "")) + "."
        ).startswith(_NOT_OURS):
            activate()
    except Exception:  # noqa: BLE001 - not a plain class body: looked at after it is built
        pass
    cls = _build_class(func, name, *bases, **kwds)
    try:
        takes_part = (
            isinstance(cls, type)
            and "__torch_function__" in type.__dict__["__dict__"].__get__(cls)
            and not (str(type.__dict__["__module__"].__get__(cls)) + ".").startswith(_NOT_OURS)
            and _classify(cls) == 1
        )
    except Exception:  # noqa: BLE001 - a class whose attributes cannot be read takes no part
        takes_part = False
    if takes_part:
        activate()
    return cls


builtins.__build_class__ = _build_class_hook


# ---------------------------------------------------------------------------------------------
# activation: the wrappers
# ---------------------------------------------------------------------------------------------

# original function -> its wrapper (what module globals holding the original are rebound to)
_WRAPPED: dict[int, tuple[Any, Any]] = {}
_lock = threading.Lock()


def active() -> bool:
    """True once the protocol's wrappers are installed (they stay for the process)."""
    return _active


def _function_wrapper(impl: Callable, name: str, modes_only: bool = False) -> Callable:
    known = _WRAPPED.get(id(impl))
    if known is not None and known[0] is impl:
        return known[1]

    if modes_only:
        # a factory: its arguments are data (`torch.tensor(sub)` is a plain tensor), so only an
        # active mode sees the call, or an argument that overrides and is not a tensor

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _busy and _state.modes and not _state.all_off:
                out = _to_mode(public[0], impl, args, kwargs)
                if out is not NotImplemented:
                    return out
                raise TypeError(
                    f"Multiple dispatch failed for '{_name_of(public[0])}': the mode returned NotImplemented"
                )
            found = _non_tensor_overrides(args, kwargs)
            if found and not _state.subclass_off and not _state.all_off:
                # an argument that overrides and is not a tensor (an FX proxy standing for a
                # shape, size, dtype or device) gets the call, as PyTorch's argument parser hands it
                return _call_overrides(public[0], found, args, kwargs)
            if args and _KIND.get(type(args[0])) == 1:
                # data given as a subclass instance: converted as a plain tensor (as_tensor(sub,
                # dtype=...) is a plain tensor, as PyTorch's)
                with DisableTorchFunctionSubclass():
                    return impl(*args, **kwargs)
            return impl(*args, **kwargs)

    elif name == "einsum":

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            # operands given as one list are handed on unpacked, as PyTorch's einsum does
            if len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], (list, tuple)):
                args = (args[0], *args[1])
            return dispatch(public[0], impl, args, kwargs)

    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return dispatch(public[0], impl, args, kwargs)

    try:
        functools.update_wrapper(wrapper, impl)
    except AttributeError:
        pass
    wrapper.__name__ = getattr(impl, "__name__", name)
    wrapper.__qualname__ = getattr(impl, "__qualname__", name)
    # the object handed to __torch_function__ as `func`: the wrapper, or what `torch.<name>` is
    # where a facade presents it otherwise (see set_public)
    public = [wrapper]
    wrapper._rustdl_public = public  # type: ignore[attr-defined]
    wrapper._rustdl_dispatch = True  # type: ignore[attr-defined]
    _WRAPPED[id(impl)] = (impl, wrapper)
    # the functions under it (`functools.wraps` layers: error typing, keyword handling) are what
    # other modules imported by name; they are rebound to the wrapper too
    inner = getattr(impl, "__wrapped__", None)
    while inner is not None and id(inner) not in _WRAPPED:
        _WRAPPED[id(inner)] = (inner, wrapper)
        inner = getattr(inner, "__wrapped__", None)
    return wrapper


def set_public(wrapper: Any, public: Any) -> None:
    """Makes ``public`` (``torch.add`` as a facade presents it) what ``__torch_function__`` receives
    for calls of ``wrapper``."""
    cell = getattr(wrapper, "_rustdl_public", None)
    if cell is not None:
        cell[0] = public


def _public_functions(module: _types.ModuleType) -> list[str]:
    """The names of a namespace's public functions (all of them take part)."""
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and isinstance(value, (_types.FunctionType, _types.BuiltinFunctionType))
        and str(getattr(value, "__module__", "") or "").startswith("rustdl")
    ]


def _wrap_module(module: _types.ModuleType, names: Any, modes_only: bool = False, prefix: str = "") -> None:
    for name in _public_functions(module) if names is None else names:
        value = module.__dict__.get(name)
        if value is None or isinstance(value, type) or not callable(value):
            continue
        if getattr(value, "_rustdl_dispatch", False):
            continue
        wrapper = _function_wrapper(value, name, modes_only)
        if prefix:
            # as PyTorch names them (torch.linalg.cholesky.__name__ == "linalg_cholesky")
            wrapper.__name__ = prefix + name
        setattr(module, name, wrapper)


# binary operators: when no hook implements them they give NotImplemented, so that Python tries
# the reflected operation (and `a == b` falls back to identity), as PyTorch's
_BINARY = frozenset(
    f"__{p}{op}__"
    for op in "add sub mul truediv floordiv mod pow matmul and or xor lshift rshift".split()
    for p in ("", "r", "i")
) | frozenset({"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"})


def _steps_aside_for(other: Any) -> bool:
    """An operand an operator does not take and that has no ``__torch_function__`` of its own
    (see ``_inplace_operators.operator_operand``)."""
    from ._inplace_operators import operator_operand

    return not operator_operand(other) and not hasattr(type(other), "__torch_function__")


def _method_wrapper(impl: Any, name: str) -> Callable:
    # `public` is the method itself, or for an operator the method it stands for (set by
    # _wrap_tensor_class once that one is wrapped)
    if name in _BINARY:

        def method(*args: Any, **kwargs: Any) -> Any:
            if len(args) == 2 and not kwargs and _steps_aside_for(args[1]):
                return NotImplemented  # Python asks the other operand (its reflected method)
            try:
                return dispatch(public[0], impl, args, kwargs)
            except NoImplementation:
                return NotImplemented

    else:

        def method(*args: Any, **kwargs: Any) -> Any:
            return dispatch(public[0], impl, args, kwargs)

    public = [method]
    try:
        functools.update_wrapper(method, impl)
    except AttributeError:
        pass
    method.__name__ = name
    method.__qualname__ = f"Tensor.{name}"
    method._rustdl_dispatch = True  # type: ignore[attr-defined]
    method._rustdl_public = public  # type: ignore[attr-defined]
    return method


def _iter(self: Any) -> Any:
    """``iter(t)``: under the protocol, the rows come from ``unbind(0)`` (which takes part), as
    PyTorch's; otherwise the native iterator."""
    if _busy or _KIND.get(type(self)) != 0:
        if self.dim() == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))
    return _native_iter(self)


_native_iter = Tensor.__iter__


class _DispatchingProperty(property):
    """A Tensor property whose getter takes part in the protocol: ``__torch_function__`` gets the
    property's own ``__get__`` as ``func`` (``func == Tensor.shape.__get__`` holds)."""


def _property_wrapper(orig: Any) -> _DispatchingProperty:
    getter = orig.__get__
    public: list[Any] = [None]

    def fget(self: Any) -> Any:
        return dispatch(public[0], getter, (self,), {})

    def fset(self: Any, value: Any) -> None:
        orig.__set__(self, value)

    def fdel(self: Any) -> None:
        orig.__delete__(self)

    prop = _DispatchingProperty(fget, fset, fdel, getattr(orig, "__doc__", None))
    public[0] = prop.__get__
    return prop


# the slots that stay native (a Python `__getitem__` or `__len__` on the class would make every
# tensor a Python sequence): the core hands them to `dunder` once activated, and runs these raw
# forms at the end
_NATIVE_SLOTS = {"__getitem__": "_getitem", "__setitem__": "_setitem", "__len__": "_len"}


_SLOTS = {name: (Tensor.__dict__[name], Tensor.__dict__[raw]) for name, raw in _NATIVE_SLOTS.items()}


def dunder(name: str, args: tuple) -> Any:
    """``t[i]``, ``t[i] = v`` and ``len(t)`` under the protocol (called by the core's slots)."""
    public, impl = _SLOTS[name]
    return dispatch(public, impl, args, {})


def _tensor_method_names() -> list[str]:
    names = [n for n in Tensor.__dict__ if not n.startswith("_") and n not in _names.TENSOR_SKIP]
    return names + [n for n in _names.TENSOR_DUNDERS if n in Tensor.__dict__]


def _wrap_tensor_class() -> None:
    for name in _tensor_method_names():
        if name in _NATIVE_SLOTS:
            continue
        raw = Tensor.__dict__.get(name)
        if raw is None or getattr(raw, "_rustdl_dispatch", False):
            continue
        if isinstance(raw, (classmethod, staticmethod, property, type)) or not callable(raw):
            continue
        if type(raw).__name__ == "getset_descriptor":
            continue
        if isinstance(raw, _types.FunctionType) and not (raw.__module__ or "").startswith("rustdl"):
            # a method a program added to Tensor (fastai's set_meta) is plain Python to PyTorch:
            # called as it is, no __torch_function__
            continue
        setattr(Tensor, name, _method_wrapper(raw, name))
    # operators hand over the method they stand for (`a + 1` as Tensor.add), as PyTorch's
    for dunder, target in _names.OPERATOR_METHODS.items():
        op, method = Tensor.__dict__.get(dunder), Tensor.__dict__.get(target)
        if getattr(op, "_rustdl_dispatch", False) and getattr(method, "_rustdl_dispatch", False):
            op._rustdl_public[0] = method
    # the operators PyTorch hands over as objects of their own under the method's name (a ** b
    # as Tensor.__pow__ named 'pow'), and its Python 2 spellings of division
    for dunder, shown in (("__pow__", "pow"), ("__ipow__", "pow_"), ("__rtruediv__", "__rdiv__")):
        op = Tensor.__dict__.get(dunder)
        if getattr(op, "_rustdl_dispatch", False):
            op.__name__ = shown
    for alias, dunder in (
        ("__rdiv__", "__rtruediv__"),
        ("__idiv__", "__itruediv__"),
        ("__div__", "__truediv__"),
    ):
        if dunder in Tensor.__dict__:
            setattr(Tensor, alias, Tensor.__dict__[dunder])
    Tensor.__iter__ = _iter
    for name in _names.TENSOR_PROPERTIES:
        raw = Tensor.__dict__.get(name)
        if raw is None or isinstance(raw, _DispatchingProperty):
            continue
        if not (isinstance(raw, property) or type(raw).__name__ == "getset_descriptor"):
            continue
        setattr(Tensor, name, _property_wrapper(raw))


def _namespaces() -> list[tuple[_types.ModuleType, Any, bool]]:
    """(namespace, the names that take part — None for all its public functions, modes only)."""
    import rustdl

    from . import autograd, fft, linalg, special
    from .nn import functional, init

    return [
        (rustdl, _names.TORCH, False),
        (autograd, ("grad", "backward"), False),
        (rustdl, _names.FACTORIES, True),
        (functional, None, False),
        (linalg, None, False),
        (fft, None, False),
        (special, None, False),
        (init, None, False),
    ]


def _swapped(value: Any) -> Any:
    """The wrapper of ``value`` if it is an original function, else None."""
    hit = _WRAPPED.get(id(value))
    return hit[1] if hit is not None and hit[0] is value else None


def _rebind_defaults(fn: Any) -> None:
    # default arguments captured when a function was defined (`activation=F.relu`)
    defaults = getattr(fn, "__defaults__", None)
    if defaults and any(_swapped(v) is not None for v in defaults):
        fn.__defaults__ = tuple(_swapped(v) or v for v in defaults)
    kwdefaults = getattr(fn, "__kwdefaults__", None)
    if kwdefaults:
        for k, v in list(kwdefaults.items()):
            w = _swapped(v)
            if w is not None:
                kwdefaults[k] = w


def _rebind_globals() -> None:
    """Module globals (and facade attributes) that hold an original function now hold its
    wrapper: ``from torch import cat`` made before activation dispatches too; so do the default
    arguments of functions and rustdl's class attributes that hold one."""
    seen: set[int] = {id(Tensor)}
    for mod in list(sys.modules.values()):
        try:
            d = vars(mod)
        except TypeError:
            continue
        if mod is sys.modules[__name__]:
            continue
        try:
            items = list(d.items())
        except RuntimeError:
            continue
        name = str(d.get("__name__", ""))
        ours = name.startswith("rustdl")
        for key, value in items:
            if isinstance(value, type):
                if id(value) not in seen and (ours or getattr(value, "__module__", None) == name):
                    seen.add(id(value))
                    _rebind_class(value, ours)
                continue
            if not callable(value):
                continue
            w = _swapped(value)
            if w is not None:
                d[key] = w
            elif isinstance(value, _types.FunctionType):
                _rebind_defaults(value)


def _rebind_class(cls: type, ours: bool) -> None:
    # methods' default arguments; in rustdl's classes also attributes holding a public function
    # (`_conv = staticmethod(F.conv2d)`)
    for key, value in list(vars(cls).items()):
        inner = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
        if not callable(inner) or isinstance(inner, type):
            continue
        w = _swapped(inner) if ours else None
        if w is None:
            if isinstance(inner, _types.FunctionType):
                _rebind_defaults(inner)
            continue
        try:
            setattr(cls, key, staticmethod(w) if isinstance(value, staticmethod) else w)
        except (TypeError, AttributeError):
            pass


def activate() -> None:
    """Installs the wrappers (once per process). Called when a Tensor subclass that takes part is
    defined, a mode is entered, or an override is handled explicitly."""
    global _active, _NOWRAP
    if _active:
        return
    with _lock:
        if _active:
            return
        for module, names, modes_only in _namespaces():
            prefix = {"rustdl.linalg": "linalg_", "rustdl.fft": "fft_", "rustdl.special": "special_"}
            _wrap_module(module, names, modes_only, prefix.get(module.__name__, ""))
        _wrap_tensor_class()
        _rebind_globals()
        _NOWRAP = _nowrap_functions()
        _active = True
        _rustdl._torch_function_dunders(True)
        if builtins.__build_class__ is _build_class_hook:
            builtins.__build_class__ = _build_class
    compat = sys.modules.get("rustdl.torchcompat")
    if compat is not None:
        compat._dispatch_activated()


def _rebuild_from_type_v2(func: Callable, new_type: Any, args: tuple, state: Any) -> Any:
    """``torch._tensor._rebuild_from_type_v2``, what a pickled PyTorch tensor names: ``func(*args)``
    made an instance of ``new_type`` with its Python attributes (``state``) set."""
    ret = func(*args)
    if isinstance(new_type, type) and issubclass(new_type, Tensor) and type(ret) is not new_type:
        ret = ret.as_subclass(new_type)
    if state:
        setstate = getattr(type(ret), "__setstate__", None)
        if setstate is not None and setstate is not getattr(Tensor, "__setstate__", None):
            ret.__setstate__(state)
        elif isinstance(state, dict):
            ret.__dict__.update(state)
    return ret
