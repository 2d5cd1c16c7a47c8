"""Symbolic tracing: running a module's ``forward`` (or a function) on proxies to record its
operations as a graph.

During :meth:`Tracer.trace`, ``nn.Module.__call__`` and ``nn.Module.__getattr__`` are patched
(restored afterwards, also on error): calls of leaf modules (those of ``rustdl.nn`` other than
containers) become ``call_module`` nodes, other modules are traced through, and parameters read
as attributes become ``get_attr`` nodes. Functions marked with :func:`wrap` and the ``math``
functions the traced code names become ``call_function`` nodes when given proxies.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import math
import operator
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import _dispatch
from .._rustdl import Tensor
from .graph import Graph, _PyTreeInfo
from .node import Argument, Node, has_side_effect, map_aggregate
from .proxy import ParameterProxy, Proxy, TracerBase

if TYPE_CHECKING:
    from .. import nn
    from .graph_module import GraphModule

__all__ = ["PH", "Tracer", "symbolic_trace", "wrap"]


class PHBase:
    """The type of :data:`PH`."""

    def __repr__(self) -> str:
        return "PH"


#: in ``concrete_args``, marks an argument that stays a traced input
PH = PHBase()

# (globals dict, name) of each function marked with wrap()
_wrapped_fns_to_patch: list[tuple[dict[str, Any], str]] = []


def wrap(fn_or_name: str | Callable[..., Any]) -> str | Callable[..., Any]:
    """Marks a global function (given, or named) of the calling module as a leaf of tracing: calls
    of it with traced values become ``call_function`` nodes instead of being traced through
    (``len``, or code with control flow). Must be called at the top level of a module; returns
    its argument.

    Example:
        >>> rustdl.fx.wrap("len")   # at module scope: len(proxy) is recorded
    """
    if isinstance(fn_or_name, str):
        name = fn_or_name
    elif callable(fn_or_name) and isinstance(getattr(fn_or_name, "__name__", None), str):
        name = fn_or_name.__name__
    else:
        raise TypeError("wrap: expected a function or the name of a global function")
    if name == "<lambda>":
        raise NotImplementedError("wrap: lambdas cannot be wrapped; give the function a name")
    frame = sys._getframe(1)
    if frame.f_code.co_name != "<module>":
        raise NotImplementedError("wrap must be called at the top level of a module")
    _wrapped_fns_to_patch.append((frame.f_globals, name))
    return fn_or_name


def _find_tracer(args: Any, kwargs: Any) -> TracerBase | None:
    found: list[TracerBase] = []

    def look(a: Any) -> Any:
        if isinstance(a, Proxy) and not found:
            found.append(a.tracer)
        return a

    map_aggregate(args, look)
    map_aggregate(kwargs, look)
    return found[0] if found else None


def _recording(orig: Callable[..., Any]) -> Callable[..., Any]:
    """``orig``, recorded as a ``call_function`` node when an argument is a proxy."""

    @functools.wraps(orig)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tracer = _find_tracer(args, kwargs)
        if tracer is not None:
            return tracer.create_proxy("call_function", orig, args, kwargs)
        return orig(*args, **kwargs)

    wrapper._rustdl_fx_wrapped = orig  # type: ignore[attr-defined]
    return wrapper


class _Patcher:
    """Sets globals and class attributes for the duration of a trace, and puts them back."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def patch_global(self, globs: dict[str, Any], name: str, value: Any) -> None:
        had = name in globs
        old = globs.get(name)

        def undo() -> None:
            if had:
                globs[name] = old
            else:
                globs.pop(name, None)

        globs[name] = value
        self._undo.append(undo)

    def patch_attr(self, obj: Any, name: str, value: Any) -> None:
        old = obj.__dict__[name]

        def undo() -> None:
            setattr(obj, name, old)

        setattr(obj, name, value)
        self._undo.append(undo)

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()


class Tracer(TracerBase):
    """Records a module's ``forward`` (or a function) as a :class:`~rustdl.fx.Graph`.

    Subclasses customise it through :meth:`is_leaf_module` (which modules stay calls),
    :meth:`call_module`, :meth:`create_arg` and :meth:`getattr`.

    Args:
        autowrap_modules: modules whose functions, when named by the traced code's globals,
            are recorded as calls (``math``: ``math.sqrt(proxy)``).
        autowrap_functions: functions recorded likewise.
        param_shapes_constant: parameter proxies answer ``.shape``/``.size()`` with the
            parameter's own shape.
    """

    def __init__(
        self,
        autowrap_modules: tuple[types.ModuleType, ...] = (math,),
        autowrap_functions: tuple[Callable[..., Any], ...] = (),
        param_shapes_constant: bool = False,
    ) -> None:
        super().__init__()
        self._autowrap_ids: set[int] = {
            id(value)
            for mod in autowrap_modules
            for name, value in vars(mod).items()
            if not name.startswith("_") and callable(value)
        }
        self._autowrap_ids.update(id(f) for f in autowrap_functions)
        self._autowrap_modules = tuple(autowrap_modules)
        self.param_shapes_constant = param_shapes_constant
        self.submodule_paths: dict[int, str] | None = None
        self.root: nn.Module | None = None
        self.graph = Graph()
        self.tensor_attrs: dict[int, str] = {}
        self.scope = ""
        self.module_stack: dict[str, Any] = {}
        self.node_name_to_scope: dict[str, tuple[str, type]] = {}

    # ---------- customisation points ----------

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        """Whether calls of ``m`` stay ``call_module`` nodes: rustdl's own layers do, containers
        (``Sequential``, ``ModuleList``, ``ModuleDict``) and user modules are traced through."""
        from .. import nn

        mod = type(m).__module__ or ""
        ours = mod.startswith(("rustdl.nn", "torch.nn"))
        return ours and not isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict))

    def path_of_module(self, mod: nn.Module) -> str:
        """The qualified name of ``mod`` within the root; NameError when it is not a submodule."""
        paths = self.submodule_paths
        if paths is not None:
            path = paths.get(id(mod))
            if path is not None:
                return path
        elif self.root is not None:
            for name, m in self.root.named_modules():
                if m is mod:
                    return name
        raise NameError(f"module {type(mod).__name__} is not installed as a submodule of the traced module")

    def call_module(
        self,
        m: nn.Module,
        forward: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """A call of submodule ``m``: a ``call_module`` node for leaves, else ``forward`` traced
        through."""
        name = self.path_of_module(m)
        if not self.is_leaf_module(m, name):
            saved = self.scope
            self.scope = name
            try:
                return forward(*args, **kwargs)
            finally:
                self.scope = saved
        return self.create_proxy("call_module", name, args, kwargs)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Any]) -> Any:
        """What reading ``module.attr`` gives while tracing: a proxy (``get_attr`` node) for the
        root's parameters, the value itself otherwise."""
        from .. import nn

        if isinstance(attr_val, nn.Parameter):
            name = self._param_names.get(id(attr_val))
            if name is not None:
                cached = parameter_proxy_cache.get(name)
                if cached is None:
                    factory = (
                        (lambda node: ParameterProxy(self, node, name, attr_val))
                        if self.param_shapes_constant
                        else None
                    )
                    cached = self.create_proxy("get_attr", name, (), {}, proxy_factory_fn=factory)
                    parameter_proxy_cache[name] = cached
                return cached
        return attr_val

    def create_arg(self, a: Any) -> Argument:
        """As :meth:`TracerBase.create_arg`, and: the root's parameters and buffers (and tensor
        attributes of its modules) become ``get_attr`` nodes; other tensors are stored on the root
        as ``_tensor_constant<i>`` attributes and read with ``get_attr``."""
        from .. import nn

        if isinstance(a, Tensor) and not isinstance(a, Proxy):
            if isinstance(a, nn.Parameter):
                pname = self._param_names.get(id(a))
                if pname is None:
                    raise NameError("a parameter that is not one of the traced module's was used")
                return self.create_node("get_attr", pname, (), {})
            path = self._buffer_names.get(id(a)) or self.tensor_attrs.get(id(a))
            if path is None:
                assert self.root is not None
                i = 0
                while hasattr(self.root, f"_tensor_constant{i}"):
                    i += 1
                path = f"_tensor_constant{i}"
                object.__setattr__(self.root, path, a)
                self.tensor_attrs[id(a)] = path
                self._keep.append(a)
            return self.create_node("get_attr", path, (), {})
        if isinstance(a, nn.Module):
            raise NotImplementedError("rustdl.fx: a module passed as an argument cannot be put in a graph")
        return super().create_arg(a)

    # ---------- tracing ----------

    def trace(
        self, root: nn.Module | Callable[..., Any], concrete_args: dict[str, Any] | None = None
    ) -> Graph:
        """Records ``root`` (a module's ``forward``, or a function) as a graph, which it returns.
        ``concrete_args`` fixes some inputs to values (control flow on them is then allowed); a
        value of :data:`PH` keeps an input traced."""
        from .. import nn

        _dispatch.activate()
        if isinstance(root, nn.Module):
            self.root = root
            fn = type(root).forward
            is_module = True
        else:
            self.root = nn.Module()
            fn = root
            is_module = False
        assert self.root is not None
        self.graph = Graph(tracer_cls=type(self))
        self.submodule_paths = {}
        for name, m in self.root.named_modules():
            self.submodule_paths.setdefault(id(m), name)
        self._param_names = {id(p): n for n, p in self.root.named_parameters(remove_duplicate=False)}
        self._buffer_names = {id(b): n for n, b in self.root.named_buffers(remove_duplicate=False)}
        self._keep: list[Any] = []
        self.tensor_attrs = {}
        for mname, m in self.root.named_modules():
            for k, v in vars(m).items():
                if isinstance(v, Tensor) and id(v) not in self._param_names:
                    self.tensor_attrs.setdefault(id(v), f"{mname}.{k}" if mname else k)
        fn, args, kwargs = self._create_args_for_root(fn, is_module, concrete_args or {})
        if is_module:
            args.insert(0, root)
        parameter_proxy_cache: dict[str, Any] = {}
        orig_call = nn.Module.__call__
        orig_getattr = nn.Module.__getattr__
        tracer = self

        def module_call_wrapper(mod: nn.Module, *a: Any, **k: Any) -> Any:
            def forward(*a2: Any, **k2: Any) -> Any:
                return orig_call(mod, *a2, **k2)

            return tracer.call_module(mod, forward, a, k)

        def module_getattr_wrapper(mod: nn.Module, attr: str) -> Any:
            return tracer.getattr(attr, orig_getattr(mod, attr), parameter_proxy_cache)

        patcher = _Patcher()
        try:
            patcher.patch_attr(nn.Module, "__call__", module_call_wrapper)
            patcher.patch_attr(nn.Module, "__getattr__", module_getattr_wrapper)
            self._patch_wrapped_functions(patcher, getattr(fn, "__globals__", {}))
            result = fn(*args, **kwargs)
            info = self.graph._pytree_info
            if info is not None:
                # the output is flattened too; forward rebuilds its structure
                from ..utils._pytree import tree_flatten

                flat_out, out_spec = tree_flatten(result)
                self.graph._pytree_info = info._replace(out_spec=out_spec)
                result = list(flat_out)
            out_type = getattr(fn, "__annotations__", {}).get("return")
            self.create_node("output", "output", (self.create_arg(result),), {}, type_expr=out_type)
        finally:
            patcher.restore()
            self.submodule_paths = None
        return self.graph

    def _patch_wrapped_functions(self, patcher: _Patcher, fn_globals: dict[str, Any]) -> None:
        done: set[tuple[int, str]] = set()
        for globs, name in _wrapped_fns_to_patch:
            if (id(globs), name) in done:
                continue
            done.add((id(globs), name))
            orig = globs.get(name, getattr(builtins, name, None))
            if orig is None or not callable(orig):
                continue
            orig = getattr(orig, "_rustdl_fx_wrapped", orig)
            patcher.patch_global(globs, name, _recording(orig))
        # rustdl._assert(cond, msg) on a traced condition is recorded (it checks the value with
        # Python's truth test, which a proxy refuses)
        import rustdl

        orig_assert = getattr(rustdl, "_assert", None)
        if orig_assert is not None:
            wrapped = _recording(getattr(orig_assert, "_rustdl_fx_wrapped", orig_assert))
            patcher.patch_global(vars(rustdl), "_assert", wrapped)
            facade = sys.modules.get("torch")
            if facade is not None and facade is not rustdl and vars(facade).get("_assert") is orig_assert:
                patcher.patch_global(vars(facade), "_assert", wrapped)
        for mod in self._autowrap_modules:
            # ``math.sqrt(proxy)``: the module's own functions are recorded too
            for name, value in list(vars(mod).items()):
                if not name.startswith("_") and id(value) in self._autowrap_ids:
                    patcher.patch_global(vars(mod), name, _recording(value))
        if self._autowrap_ids:
            for name, value in list(fn_globals.items()):
                if (
                    not name.startswith("_")
                    and id(value) in self._autowrap_ids
                    and (id(fn_globals), name) not in done
                ):
                    patcher.patch_global(fn_globals, name, _recording(value))

    def _guard_concrete(self, name: str, ph: Node, value: Any) -> None:
        """Guard nodes for an input traced with a fixed value: None must stay None, and a bool,
        number or string must equal the value (other values are not checked)."""
        msg = f"{name} has been specialized to have value {value} but got another value"
        if value is None:
            self.create_node("call_function", _assert_is_none, (ph, msg), {})
        elif isinstance(value, (bool, int, float, str)):
            import rustdl

            same = self.create_node("call_function", operator.eq, (ph, value), {})
            self.create_node("call_function", rustdl._assert, (same, msg), {})

    def _create_args_for_root(
        self, fn: Callable[..., Any], is_module: bool, concrete_args: dict[str, Any] | tuple[Any, ...]
    ) -> tuple[Callable[..., Any], list[Any], dict[str, Any]]:
        """The function to run (``fn``, or a copy of it taking ``*args``/``**kwargs`` as plain
        parameters) and the arguments to run it on: placeholders' proxies and concrete values."""
        from ..utils._pytree import tree_flatten, tree_is_leaf, tree_map

        params = list(inspect.signature(fn).parameters.values())
        if is_module:
            params = params[1:]
        if isinstance(concrete_args, tuple):
            concrete_args = {p.name: v for p, v in zip(params, concrete_args, strict=False)}
        variadic = any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)
        structured = [
            p.name for p in params if p.name in concrete_args and not tree_is_leaf(concrete_args[p.name])
        ]
        if variadic and structured:
            raise NotImplementedError(
                "rustdl.fx.symbolic_trace: structured concrete_args with *args/**kwargs is not supported"
            )
        if variadic:
            return self._variadic_root(fn, is_module, params, concrete_args)
        if structured:
            # the structures' leaves become the graph's inputs; forward flattens its arguments
            for name in structured:
                self.graph._used_names._used.add(name)
            _, in_spec = tree_flatten(tuple(concrete_args.get(p.name, PH) for p in params))
            self.graph._pytree_info = _PyTreeInfo([p.name for p in params], in_spec, None)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for p in params:
            type_expr = (
                p.annotation if isinstance(p.annotation, type) and p.annotation is not p.empty else None
            )
            value: Any
            if p.name in structured:
                value = tree_map(self._leaf_placeholder(p), concrete_args[p.name])
            elif p.name in concrete_args and concrete_args[p.name] is not PH:
                value = concrete_args[p.name]
                # the input stays a parameter of forward (with the value as its default), and a
                # call with another value fails (the graph holds the branch the value chose)
                default = self.create_arg(value) if not isinstance(value, Tensor) else None
                ph = self.create_node("placeholder", p.name, (default,), {}, type_expr=type_expr)
                self._guard_concrete(p.name, ph, value)
            else:
                value = self.create_proxy("placeholder", p.name, self._default_of(p), {}, type_expr=type_expr)
            if p.kind is p.KEYWORD_ONLY:
                kwargs[p.name] = value
            else:
                args.append(value)
        return fn, args, kwargs

    def _default_of(self, p: inspect.Parameter) -> tuple[Any, ...]:
        if p.default is p.empty:
            return ()
        try:
            return (self.create_arg(p.default),)
        except NotImplementedError:
            return (None,)

    def _leaf_placeholder(self, p: inspect.Parameter) -> Callable[[Any], Any]:
        """For one structured concrete argument: each leaf becomes a placeholder ``<name>_<i>``;
        a :data:`PH` leaf is traced, another value is used as it is (and guarded)."""
        count = 0

        def leaf(x: Any) -> Any:
            nonlocal count
            count += 1
            proxy = self.create_proxy("placeholder", f"{p.name}_{count}", self._default_of(p), {})
            if isinstance(x, PHBase):
                return proxy
            self._guard_concrete(p.name, proxy.node, x)
            return x

        return leaf

    def _variadic_root(
        self,
        fn: Callable[..., Any],
        is_module: bool,
        params: list[inspect.Parameter],
        concrete_args: dict[str, Any],
    ) -> tuple[Callable[..., Any], list[Any], dict[str, Any]]:
        """``*args`` and ``**kwargs`` become placeholders ``*args``/``**kwargs``: the function
        is run as a copy whose parameters are all positional (in the order of its code's
        variables: positional, keyword-only, ``*args``, ``**kwargs``), the starred ones given a
        proxy of the tuple / dict."""
        if not isinstance(fn, types.FunctionType):
            raise NotImplementedError("rustdl.fx.symbolic_trace: *args/**kwargs of a non-Python function")
        kinds = [
            (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD),
            (inspect.Parameter.KEYWORD_ONLY,),
            (inspect.Parameter.VAR_POSITIONAL,),
            (inspect.Parameter.VAR_KEYWORD,),
        ]
        ordered = [p for group in kinds for p in params if p.kind in group]
        args: list[Any] = []
        for p in ordered:
            if p.name in concrete_args and concrete_args[p.name] is not PH:
                raise NotImplementedError(
                    "rustdl.fx.symbolic_trace: concrete_args with *args/**kwargs is not supported"
                )
            type_expr = (
                p.annotation if isinstance(p.annotation, type) and p.annotation is not p.empty else None
            )
            if p.kind is p.VAR_POSITIONAL:
                args.append(self.create_proxy("placeholder", f"*{p.name}", (), {}))
            elif p.kind is p.VAR_KEYWORD:
                args.append(self.create_proxy("placeholder", f"**{p.name}", (), {}))
            else:
                args.append(
                    self.create_proxy("placeholder", p.name, self._default_of(p), {}, type_expr=type_expr)
                )
        code = fn.__code__
        patched = types.FunctionType(
            code.replace(
                co_argcount=len(ordered) + (1 if is_module else 0),
                co_posonlyargcount=0,
                co_kwonlyargcount=0,
                co_flags=code.co_flags & ~(inspect.CO_VARARGS | inspect.CO_VARKEYWORDS),
            ),
            fn.__globals__,
            fn.__name__,
            None,
            fn.__closure__,
        )
        return patched, args, {}


@has_side_effect
def _assert_is_none(value: Any, msg: str) -> None:
    """Raises ``AssertionError(msg)`` unless ``value`` is None (a concrete None input's guard)."""
    assert value is None, msg


def symbolic_trace(
    root: nn.Module | Callable[..., Any], concrete_args: dict[str, Any] | None = None
) -> GraphModule:
    """Traces ``root`` (a module or function) into a :class:`~rustdl.fx.GraphModule` computing
    the same thing.

    Example:
        >>> gm = symbolic_trace(model)
        >>> print(gm.code)
    """
    from .. import nn
    from .graph_module import GraphModule

    tracer = Tracer()
    graph = tracer.trace(root, concrete_args)
    name = type(root).__name__ if isinstance(root, nn.Module) else getattr(root, "__name__", "GraphModule")
    assert tracer.root is not None
    return GraphModule(tracer.root, graph, name)
