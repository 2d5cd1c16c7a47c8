"""Proxies: stand-ins for values while a program is traced. Every operation on a proxy —
arithmetic, indexing, attribute access, method calls, calls of rustdl functions (through the
``__torch_function__`` protocol) — records a node in the tracer's graph and gives a new proxy."""

from __future__ import annotations

import builtins
import dis
import enum
import math
import operator
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from .. import _dispatch
from .._rustdl import Tensor
from .graph import Graph
from .node import Argument, Node, Target, map_aggregate

__all__ = ["Attribute", "GraphAppendingTracer", "ParameterProxy", "Proxy", "TraceError", "TracerBase"]


class TraceError(ValueError):
    """An operation that symbolic tracing cannot record (control flow on a traced value)."""


def _base_constant(a: Any) -> bool:
    """Values a node may hold as they are: literals, dtypes, devices, layouts, callables."""
    import rustdl

    if a is None or a is Ellipsis or isinstance(a, (str, int, float, bool, complex, range, enum.Enum)):
        return True
    plain = tuple(
        t
        for t in (getattr(rustdl, n, None) for n in ("dtype", "device", "layout", "memory_format"))
        if isinstance(t, type)
    )
    if plain and isinstance(a, plain):
        return True
    return isinstance(a, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type)) or (
        callable(a) and not isinstance(a, Tensor) and not hasattr(a, "__dict__")
    )


class TracerBase:
    """What proxies record into: a graph and the rules turning Python values into node
    arguments (:meth:`create_arg`)."""

    graph: Graph
    #: keep the Python stack of each recorded operation in ``node.stack_trace``
    record_stack_traces: bool = False
    #: the module path prefix of the call being traced (for node metadata)
    scope: str = ""

    def create_node(
        self,
        kind: str,
        target: Target,
        args: tuple[Argument, ...],
        kwargs: dict[str, Argument],
        name: str | None = None,
        type_expr: Any = None,
    ) -> Node:
        """Adds a node to the graph (subclasses may annotate it)."""
        node = self.graph.create_node(kind, target, args, kwargs, name, type_expr)
        if self.record_stack_traces:
            import traceback

            node.stack_trace = "".join(traceback.format_stack()[:-2])
        return node

    def proxy(self, node: Node) -> Proxy:
        """The proxy standing for ``node``'s value."""
        return Proxy(node, self)

    def create_proxy(
        self,
        kind: str,
        target: Target,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None = None,
        type_expr: Any = None,
        proxy_factory_fn: Callable[[Node], Proxy] | None = None,
    ) -> Proxy:
        """Records an operation whose arguments may hold proxies and gives the proxy of its result."""
        args_ = self.create_arg(args)
        kwargs_ = self.create_arg(kwargs)
        assert isinstance(args_, tuple) and isinstance(kwargs_, dict)
        node = self.create_node(kind, target, args_, kwargs_, name, type_expr)
        return self.proxy(node) if proxy_factory_fn is None else proxy_factory_fn(node)

    def create_arg(self, a: Any) -> Argument:
        """``a`` as a node argument: proxies become their nodes, containers are converted
        element by element, constants stay. Raises NotImplementedError for values a graph cannot
        hold (tensors need a :class:`~rustdl.fx.Tracer`, which stores them as attributes)."""
        if isinstance(a, Proxy):
            return a.node
        if isinstance(a, Node):
            return a
        if isinstance(a, tuple):
            items = [self.create_arg(e) for e in a]
            ctor: Any = type(a)
            if hasattr(a, "_fields"):
                return ctor(*items)
            return tuple(items) if ctor is tuple else ctor(items)
        if isinstance(a, list):
            return [self.create_arg(e) for e in a]
        if isinstance(a, dict):
            out = {}
            for k, v in a.items():
                key = self.create_arg(k)
                if isinstance(key, Node):
                    raise RuntimeError(f"keys of a dict argument cannot be traced values (got {k!r})")
                out[key] = self.create_arg(v)
            return out
        if isinstance(a, slice):
            return slice(self.create_arg(a.start), self.create_arg(a.stop), self.create_arg(a.step))
        if _base_constant(a):
            return a
        raise NotImplementedError(
            f"rustdl.fx: an argument of type {type(a).__name__} cannot be put in a graph"
        )

    def to_bool(self, obj: Proxy) -> bool:
        """Called for ``bool(proxy)`` (``if``/``while`` on a traced value): raises TraceError."""
        raise TraceError(
            "symbolically traced variables cannot be used as inputs to control flow "
            f"(bool() of {obj!r}); pass the value in concrete_args or make the code branch-free"
        )

    def iter(self, obj: Proxy) -> Iterator[Any]:
        """Called for ``iter(proxy)`` outside unpacking: raises TraceError."""
        raise TraceError(
            f"{obj!r} cannot be iterated: its length is unknown while tracing (unpacking a fixed "
            "number of values, `a, b = proxy`, is supported)"
        )

    def keys(self, obj: Proxy) -> Any:
        """Called for ``proxy.keys()`` (``**proxy``): a ``keys`` method call."""
        return Attribute(obj, "keys")()


class GraphAppendingTracer(TracerBase):
    """A tracer that appends to a given graph (what proxies made by hand use)."""

    def __init__(self, graph: Graph) -> None:
        super().__init__()
        self.graph = graph
        self.scope = ""
        self.module_stack: dict[str, Any] = {}
        self.node_name_to_scope: dict[str, tuple[str, type]] = {}


def _tensor_method_name(func: Any) -> str | None:
    """The method name when ``func`` is a Tensor method (``Tensor.add``, an operator such as
    ``Tensor.__pow__``), else None."""
    qual = getattr(func, "__qualname__", None)
    if isinstance(qual, str) and qual.startswith("Tensor.") and "." not in qual[7:]:
        name = qual[7:]
        if (
            getattr(Tensor, name, None) is func
            or getattr(Tensor, getattr(func, "__name__", ""), None) is func
        ):
            return name
    plain = getattr(func, "__name__", None)
    if isinstance(plain, str) and plain != "__get__" and getattr(Tensor, plain, None) is func:
        return plain
    return None


def _property_name(func: Any) -> str | None:
    """The property name when ``func`` is a Tensor property getter (``Tensor.shape.__get__``)."""
    if getattr(func, "__name__", None) != "__get__":
        return None
    owner = getattr(func, "__self__", None)
    for name, value in vars(Tensor).items():
        if value is owner:
            return name
    return None


class Proxy:
    """A traced value: operations on it are recorded as nodes of ``tracer.graph``.

    ``Proxy(graph.placeholder("x"))`` makes one by hand (then appending to that graph).
    ``bool(proxy)`` (control flow) raises :class:`TraceError`; ``len(proxy)`` raises unless
    ``len`` was marked with :func:`rustdl.fx.wrap`.
    """

    def __init__(self, node: Node, tracer: TracerBase | None = None) -> None:
        if tracer is None:
            tracer = GraphAppendingTracer(node.graph)
        self.tracer = tracer
        self.node = node

    def __repr__(self) -> str:
        return f"Proxy({self.node.name})"

    def __getattr__(self, k: str) -> Attribute:
        if k.startswith("__") and k.endswith("__"):
            raise AttributeError(k)  # protocol probes (copy, pickle, numpy) are not operations
        return Attribute(self, k)

    def __call__(self, *args: Any, **kwargs: Any) -> Proxy:
        return self.tracer.create_proxy("call_method", "__call__", (self, *args), kwargs)

    def __iter__(self) -> Iterator[Any]:
        # `a, b = proxy` unpacks a known number of items: seen in the caller's bytecode
        frame = sys._getframe(1)
        for inst in dis.get_instructions(frame.f_code):
            if inst.offset == frame.f_lasti:
                if inst.opname == "UNPACK_SEQUENCE":
                    n = int(inst.argval)
                    return (
                        self.tracer.create_proxy("call_function", operator.getitem, (self, i), {})
                        for i in range(n)
                    )
                break
        return self.tracer.iter(self)

    def __bool__(self) -> bool:
        return self.tracer.to_bool(self)

    def __len__(self) -> int:
        raise RuntimeError(
            "'len' is not supported in symbolic tracing by default; call rustdl.fx.wrap('len') at "
            "module scope to record len() calls"
        )

    def __abs__(self) -> Proxy:
        return self.tracer.create_proxy("call_function", operator.abs, (self,), {})

    def __index__(self) -> int:
        raise TraceError(f"{self!r} cannot be used as an integer while tracing")

    def keys(self) -> Any:
        """``proxy.keys()`` (as ``**proxy`` asks)."""
        return self.tracer.keys(self)

    def __hash__(self) -> int:
        return id(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Proxy:
        raise TraceError(f"{self!r} cannot be deep-copied while tracing")

    @classmethod
    def __torch_function__(
        cls, orig_method: Callable[..., Any], types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        tracers: dict[TracerBase, None] = {}

        def find(a: Any) -> Any:
            if isinstance(a, Proxy):
                tracers.setdefault(a.tracer, None)
            return a

        map_aggregate(args, find)
        map_aggregate(kwargs, find)
        tracer = next(iter(tracers))
        if any(t.graph is not tracer.graph for t in tracers):
            raise RuntimeError(f"found proxies of several graphs in one call of {orig_method!r}")
        method = _tensor_method_name(orig_method)
        if method is not None:
            return tracer.create_proxy("call_method", method, args, kwargs)
        prop = _property_name(orig_method)
        if prop is not None:
            return tracer.create_proxy("call_function", builtins.getattr, (args[0], prop), {})
        return tracer.create_proxy("call_function", orig_method, args, kwargs)


class Attribute(Proxy):
    """``proxy.name``: a ``getattr`` node made when the value is used, or a ``call_method`` node
    when it is called (``proxy.view(2, 3)``)."""

    def __init__(self, root: Proxy, attr: str) -> None:
        self.root = root
        self.attr = attr
        self.tracer = root.tracer
        self._node: Node | None = None

    @property
    def node(self) -> Node:  # type: ignore[override]
        if self._node is None:
            self._node = self.tracer.create_proxy(
                "call_function", builtins.getattr, (self.root, self.attr), {}
            ).node
        return self._node

    def __call__(self, *args: Any, **kwargs: Any) -> Proxy:
        return self.tracer.create_proxy("call_method", self.attr, (self.root, *args), kwargs)


class ParameterProxy(Proxy):
    """The proxy of a module parameter (a ``get_attr`` node): its shape and size are the
    parameter's own, known while tracing."""

    def __init__(self, tracer: TracerBase, node: Node, name: str, param: Tensor) -> None:
        super().__init__(node, tracer)
        self.name = name
        self.param = param

    def __repr__(self) -> str:
        return f"ParameterProxy({self.name})"

    @property
    def shape(self) -> Any:
        return self.param.shape

    def size(self, dim: int | None = None) -> Any:
        return self.param.size() if dim is None else self.param.size(dim)

    def dim(self) -> int:
        return self.param.dim()

    @property
    def ndim(self) -> int:
        return self.param.ndim

    def numel(self) -> int:
        return self.param.numel()

    def nelement(self) -> int:
        return self.param.numel()


def _binary(op: Callable[[Any, Any], Any], reflected: bool) -> Callable[[Proxy, Any], Proxy]:
    if reflected:

        def impl(self: Proxy, rhs: Any) -> Proxy:
            return self.tracer.create_proxy("call_function", op, (rhs, self), {})

    else:

        def impl(self: Proxy, rhs: Any) -> Proxy:
            return self.tracer.create_proxy("call_function", op, (self, rhs), {})

    return impl


def _unary(op: Callable[[Any], Any]) -> Callable[[Proxy], Proxy]:
    def impl(self: Proxy) -> Proxy:
        return self.tracer.create_proxy("call_function", op, (self,), {})

    return impl


_REFLECTABLE = ("add", "sub", "mul", "floordiv", "truediv", "mod", "pow", "lshift", "rshift", "and", "or",
                "xor", "matmul")  # fmt: skip
for _name in _REFLECTABLE:
    _op = getattr(operator, _name + "_" if _name in ("and", "or") else _name)
    setattr(Proxy, f"__{_name}__", _binary(_op, False))
    setattr(Proxy, f"__r{_name}__", _binary(_op, True))
for _name in ("eq", "ne", "lt", "le", "gt", "ge", "getitem", "contains"):
    setattr(Proxy, f"__{_name}__", _binary(getattr(operator, _name), False))
for _name in ("neg", "pos", "invert"):
    setattr(Proxy, f"__{_name}__", _unary(getattr(operator, _name)))
for _name in ("trunc", "floor", "ceil"):
    setattr(Proxy, f"__{_name}__", _unary(getattr(math, _name)))
Proxy.__round__ = _unary(builtins.round)  # type: ignore[attr-defined]

# the protocol's wrappers are installed now, so that functions recorded in graphs and the ones
# passes compare targets with (`node.target == rustdl.einsum`) are the same objects
_dispatch.activate()
