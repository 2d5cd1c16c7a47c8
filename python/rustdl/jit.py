"""``torch.jit`` for eager rustdl: ``script``/``trace`` return the callable unchanged (rustdl runs
eagerly, so the result computes the same thing); ``save``/``load`` round-trip a scripted or traced
module through rustdl's checkpoint format (the module pickled with its tensors, as
``torch.save(model)``). TorchScript archives written by PyTorch cannot be loaded.
"""

from __future__ import annotations

import builtins
from typing import Any, Callable

# ``x: torch.jit.Final[int]`` annotations in module classes: a type hint only
from typing import Final as Final


def _nn_module() -> type:
    return _module_class()


def _module_class() -> type:
    from .nn.modules.module import Module

    return Module


class _ScriptMethods:
    """What a scripted or traced module answers beyond its eager self: ``save`` (the TorchScript
    idiom ``torch.jit.script(model).save(path)``) and the ``code``/``graph`` descriptions."""

    def save(self, f: Any, _extra_files: Any = None) -> None:
        """Saves this module so that :func:`load` gives it back (see :func:`save`)."""
        save(self, f, _extra_files)

    @property
    def code(self) -> str:
        return f"# rustdl runs {type(self).__name__}.forward eagerly: there is no TorchScript code\n"

    @property
    def graph(self) -> str:
        return f"# rustdl runs {type(self).__name__} eagerly: there is no TorchScript graph\n"

    inlined_graph = graph


def _rebuild_scripted(base: type, state: dict) -> Any:
    """Unpickles a scripted module: the eager module of class ``base``, scripted again."""
    obj = base.__new__(base)
    obj.__dict__.update(state)
    return _scripted(obj)


_SCRIPTED_CLASSES: dict[type, type] = {}


def _scripted(m: Any) -> Any:
    """The module ``m`` itself, its class switched to a subclass of it that also has the scripted
    module's methods (parameters, state-dict keys and behaviour unchanged; pickles as itself)."""
    if isinstance(m, _ScriptMethods):
        return m
    cls = type(m)
    sub = _SCRIPTED_CLASSES.get(cls)
    if sub is None:

        def __reduce_ex__(self: Any, protocol: Any) -> Any:  # noqa: N807
            return (_rebuild_scripted, (cls, dict(self.__dict__)))

        sub = type(
            cls.__name__,
            (cls, _ScriptMethods),
            {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__reduce_ex__": __reduce_ex__},
        )
        _SCRIPTED_CLASSES[cls] = sub
    m.__class__ = sub
    return m


def script(obj: Any, *args: Any, **kwargs: Any) -> Any:
    """``obj`` itself: rustdl has no graph compiler, the eager code runs as is. A module also
    gets the scripted module's ``save``/``code``/``graph``."""
    return _scripted(obj) if isinstance(obj, _module_class()) else obj


def trace(
    func: Callable,
    example_inputs: Any = None,
    optimize: Any = None,
    check_trace: bool = True,
    check_inputs: Any = None,
    check_tolerance: float = 1e-5,
    strict: bool = True,
    _force_outplace: bool = False,
    _module_class: Any = None,
    _compilation_unit: Any = None,
    example_kwarg_inputs: Any = None,
    _store_inputs: bool = True,
) -> Callable:
    """``func`` itself (eager execution; no trace is recorded); a module also gets the traced
    module's ``save``/``code``/``graph``.

    As PyTorch's tracer, it runs ``func`` on the example inputs: once to trace, and with
    ``check_trace`` three more times (PyTorch's check reruns the function and its trace), so
    random draws advance as under PyTorch."""
    if example_inputs is not None or example_kwarg_inputs is not None:
        if builtins.isinstance(example_inputs, (tuple, list)):
            # a tuple or list holds the positional arguments (PyTorch's tracer takes both)
            args = tuple(example_inputs)
        elif example_inputs is None:
            args = ()
        else:
            args = (example_inputs,)
        kwargs = dict(example_kwarg_inputs or {})
        for _ in range(4 if check_trace else 1):
            func(*args, **kwargs)
    return _scripted(func) if isinstance(func, _nn_module()) else func


def trace_module(mod: Any, inputs: Any = None, *args: Any, **kwargs: Any) -> Any:
    """``mod`` itself, as :func:`trace` (``inputs`` maps method names to example inputs; the
    module is not run)."""
    return _scripted(mod) if isinstance(mod, _nn_module()) else mod


def freeze(mod: Any, preserved_attrs: Any = None, optimize_numerics: bool = True) -> Any:
    """``mod`` itself: an eager module is already what a frozen one computes."""
    return mod


def optimize_for_inference(mod: Any, other_methods: Any = None) -> Any:
    """``mod`` itself (nothing to optimise ahead of time in eager execution)."""
    return mod


def script_method(fn: Any) -> Any:
    """Decorator of ``ScriptModule`` methods; returns the method unchanged."""
    return fn


def interface(obj: Any) -> Any:
    """Decorator of TorchScript interfaces; returns the class unchanged."""
    return obj


def annotate(the_type: Any, the_value: Any) -> Any:
    """``the_value`` (the type is a hint for the TorchScript compiler)."""
    return the_value


def Attribute(value: Any, type: Any = None) -> Any:  # noqa: N802, A002
    """``value`` (the type is a hint for the TorchScript compiler)."""
    return value


def fork(func: Callable, *args: Any, **kwargs: Any) -> Any:
    """Runs ``func(*args, **kwargs)`` now; :func:`wait` on the returned (completed)
    :class:`rustdl.futures.Future` gives its value."""
    from .futures import _completed

    return _completed(func(*args, **kwargs))


def wait(future: Any) -> Any:
    """The value of a :func:`fork` result."""
    return future.wait()


class optimized_execution:  # noqa: N801  (PyTorch's name)
    """Context manager accepted for compatibility (nothing is compiled)."""

    def __init__(self, should_optimize: bool = True) -> None:
        self.should_optimize = should_optimize

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def enable_onednn_fusion(enabled: bool) -> None:
    """Accepted for compatibility (no fusion backend)."""


def set_fusion_strategy(strategy: Any) -> list:
    """Accepted for compatibility; returns ``strategy``."""
    return strategy


class TracerWarning(Warning):
    """The warning class tracing code filters (never raised: nothing is traced)."""


class Error(RuntimeError):
    """``torch.jit.Error``."""


def _is_instance(obj: Any, target: Any) -> bool:
    """``obj`` checked against a type or a typing form (List/Dict/Tuple/Optional/Union, nested),
    element by element, as TorchScript's refinement checks a container's contents."""
    import typing

    origin = typing.get_origin(target)
    args = typing.get_args(target)
    if target is Any:
        return True
    if target is None or target is type(None):
        return obj is None
    if origin is None:
        return builtins.isinstance(obj, target)
    if origin is typing.Union:
        return any(_is_instance(obj, a) for a in args)
    if origin in (list, typing.List):  # noqa: UP006
        return builtins.isinstance(obj, list) and (not args or all(_is_instance(v, args[0]) for v in obj))
    if origin in (dict, typing.Dict):  # noqa: UP006
        return builtins.isinstance(obj, dict) and (
            not args or all(_is_instance(k, args[0]) and _is_instance(v, args[1]) for k, v in obj.items())
        )
    if origin in (tuple, typing.Tuple):  # noqa: UP006
        if not builtins.isinstance(obj, tuple):
            return False
        if not args:
            return True
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_is_instance(v, args[0]) for v in obj)
        return len(obj) == len(args) and all(_is_instance(v, a) for v, a in zip(obj, args))
    return builtins.isinstance(obj, origin)


def isinstance(obj: Any, target_type: Any) -> bool:  # noqa: A001  (PyTorch's name)
    """``torch.jit.isinstance``: whether ``obj`` is of ``target_type``, a class or a typing
    container form (``List[int]``, ``Dict[str, Tensor]``, ``Optional[...]``, ``Tuple[...]``)
    checked down to its elements."""
    return _is_instance(obj, target_type)


def __getattr__(name: str) -> Any:
    # ScriptModule / RecursiveScriptModule / ScriptFunction need nn.Module, imported lazily
    if name in ("ScriptModule", "RecursiveScriptModule", "TopLevelTracedModule", "TracedModule"):
        return _script_module_class()
    if name == "ScriptFunction":
        return type(_scripted)
    raise AttributeError(f"module 'rustdl.jit' has no attribute '{name}'")


_SCRIPT_MODULE: list[type] = []


def _script_module_class() -> type:
    """``torch.jit.ScriptModule``: an ``nn.Module`` with the scripted module's methods; user
    classes subclass it with ``@script_method`` forwards, and it is the class ``isinstance``
    checks of scripted modules expect."""
    if not _SCRIPT_MODULE:
        module = _module_class()

        class _ScriptModuleMeta(type(module)):
            def __instancecheck__(cls, obj: Any) -> bool:
                # a scripted or traced module is a ScriptModule; a user subclass checks as usual
                if cls is _SCRIPT_MODULE[0]:
                    return isinstance(obj, _ScriptMethods)
                return super().__instancecheck__(obj)

        _SCRIPT_MODULE.append(
            _ScriptModuleMeta("ScriptModule", (module, _ScriptMethods), {"__module__": __name__})
        )
    return _SCRIPT_MODULE[0]


def ignore(fn: Any = None, **kwargs: Any) -> Any:
    """Decorator accepted for compatibility; returns the function unchanged."""
    return fn if fn is not None else (lambda f: f)


unused = ignore
export = ignore


def _overload(fn: Any) -> Any:
    """TorchScript's overload declaration: returned unchanged (the undecorated definition that
    follows is the one Python calls)."""
    return fn


_overload_method = _overload


def is_scripting() -> bool:
    """False: rustdl always runs eagerly."""
    return False


def is_tracing() -> bool:
    """False: nothing is ever traced."""
    return False


def script_if_tracing(fn: Callable) -> Callable:
    """Returns ``fn`` unchanged: it would be scripted only under tracing, which never happens."""
    return fn


# the key under which jit.save stores the module in its checkpoint
_JIT_KEY = "__rustdl_jit_module__"


def save(m: Any, f: Any, _extra_files: Any = None) -> None:
    """Saves a scripted or traced module (rustdl's ``jit.script``/``trace`` return the module
    itself) so that :func:`load` gives it back: the module is pickled with its tensors, as
    ``rustdl.save(model, f)`` does, so its class must be importable where it is loaded (defined
    in a module, or in the script that loads it)."""
    from .io import save as _save

    if not callable(m):
        raise TypeError(f"rustdl.jit.save: expected a module or function, got {type(m).__name__}")
    if _extra_files:
        raise NotImplementedError("rustdl.jit.save: _extra_files is not supported")
    _save({_JIT_KEY: m}, f)


def load(f: Any, map_location: Any = None, _extra_files: Any = None) -> Any:
    """Loads a module saved with :func:`save` (its tensors placed by ``map_location``, as
    ``rustdl.load``). Like ``torch.jit.load``, only load files you trust: rebuilding the module
    runs the code its pickle names. TorchScript archives written by PyTorch are not supported:
    load their ``state_dict`` instead."""
    import pickle

    from .io import load as _load

    if _extra_files:
        raise NotImplementedError("rustdl.jit.load: _extra_files is not supported")
    try:
        obj = _load(f, map_location=map_location, weights_only=False)
    except (ValueError, pickle.UnpicklingError) as e:
        raise NotImplementedError(
            f"rustdl.jit.load: {getattr(f, 'name', f)!r} is not an archive written by "
            f"rustdl.jit.save ({type(e).__name__}: {e}); TorchScript archives from PyTorch are "
            "not supported: save and load the model's state_dict instead"
        ) from None
    if isinstance(obj, dict) and _JIT_KEY in obj:
        return obj[_JIT_KEY]
    raise NotImplementedError(
        f"rustdl.jit.load: {getattr(f, 'name', f)!r} is a checkpoint, not an archive written by "
        "rustdl.jit.save; load it with rustdl.load"
    )
