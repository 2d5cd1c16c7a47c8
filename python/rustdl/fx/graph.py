"""FX graphs: an ordered list of :class:`~rustdl.fx.node.Node` s, the methods that build and edit
it, and the generation of Python source that runs it (what :class:`GraphModule` executes)."""

from __future__ import annotations

import builtins
import enum
import keyword
import math
import operator
import re
import sys
import types
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from inspect import Signature
from typing import TYPE_CHECKING, Any, NamedTuple

from .node import Argument, Node, Target, _format_arg, map_arg

if TYPE_CHECKING:
    from .. import nn

__all__ = ["Graph", "PythonCode"]

_EMPTY = Signature.empty


class _PyTreeInfo(NamedTuple):
    """How a graph with flattened inputs maps to its ``forward``: the parameter names of
    ``forward``, the structure of its arguments (a tuple of them) and of its result (None: the
    output value is returned as it is)."""

    orig_args: list[str]
    in_spec: Any
    out_spec: Any


def _tree_flatten_spec(values: Any, spec: Any) -> list[Any]:
    """The leaves of ``values`` taken along ``spec`` (a TreeSpec): dicts are read by the spec's
    keys (other keys are ignored), sequences by position."""
    if spec.is_leaf():
        return [values]
    out: list[Any] = []
    ctx = spec.context
    if isinstance(spec.type, type) and issubclass(spec.type, dict):
        keys = ctx[1] if isinstance(ctx, tuple) and len(ctx) == 2 else ctx
        children = [values[k] for k in keys]
    elif isinstance(spec.type, type) and issubclass(spec.type, (list, tuple)) or spec.type is deque:
        children = list(values)
    else:
        from ..utils._pytree import tree_flatten

        children = tree_flatten(values, is_leaf=lambda v: v is not values)[0]
    if len(children) != len(spec.children_specs):
        raise ValueError(
            f"the arguments do not have the structure the graph was traced with: expected "
            f"{len(spec.children_specs)} items, got {len(children)}"
        )
    for child, child_spec in zip(children, spec.children_specs, strict=True):
        out.extend(_tree_flatten_spec(child, child_spec))
    return out


@dataclass
class PythonCode:
    """The source of a graph's ``forward`` and the globals it is run with."""

    src: str
    globals: dict[str, Any] = field(default_factory=dict)


class _NodeList:
    """The live view ``graph.nodes``: iterating follows the node links as they are at each step,
    so nodes may be erased or inserted while iterating (an erased node keeps its links; nodes
    erased before they are reached are skipped)."""

    def __init__(self, graph: Graph, direction: str = "_next") -> None:
        self._graph = graph
        self._direction = direction

    def __len__(self) -> int:
        return self._graph._len

    def __iter__(self) -> Iterator[Node]:
        root = self._graph._root
        cur = getattr(root, self._direction)
        while cur is not root:
            if not cur._erased:
                yield cur
            cur = getattr(cur, self._direction)

    def __reversed__(self) -> _NodeList:
        return _NodeList(self._graph, "_prev" if self._direction == "_next" else "_next")

    def __repr__(self) -> str:
        return repr(list(self))


class _InsertPoint(AbstractContextManager):
    """Sets where new nodes go until the ``with`` block ends (or for good, outside one)."""

    def __init__(self, graph: Graph, new_insert: Callable[[Node], None]) -> None:
        self.graph = graph
        self.orig_insert = graph._insert
        graph._insert = new_insert

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        self.graph._insert = self.orig_insert


# names the generated code reserves (besides keywords and builtins)
_RESERVED = frozenset({"self", "rustdl", "torch", "operator", "math", "inf", "nan", "NoneType"})


def _is_illegal(name: str, reserved: frozenset[str] = _RESERVED) -> bool:
    return keyword.iskeyword(name) or name in builtins.__dict__ or name in reserved


class _Namespace:
    """Hands out unique Python identifiers (node names, globals of the generated code)."""

    def __init__(self) -> None:
        self._used: set[str] = set()
        self._base_count: dict[str, int] = {}

    def create_name(self, candidate: str) -> str:
        name = re.sub(r"[^0-9a-zA-Z_]+", "_", candidate) or "_unnamed"
        if name[0].isdigit():
            name = f"_{name}"
        m = re.match(r"^(.*)_(\d+)$", name)
        base = m.group(1) if m and m.group(1) else name
        if name in self._used or _is_illegal(name):
            n = self._base_count.get(base, 0)
            while True:
                n += 1
                name = f"{base}_{n}"
                if name not in self._used and not _is_illegal(name):
                    break
            self._base_count[base] = n
        self._used.add(name)
        return name

    def release(self, name: str) -> None:
        self._used.discard(name)


def _snake_case(s: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", s).lower()


def _type_repr(t: Any) -> str:
    if isinstance(t, type):
        if t.__module__ == "builtins":
            return t.__qualname__
        return f"{t.__module__}.{t.__qualname__}"
    return repr(t)


# the namespaces whose functions the generated code names by module path (checked in order)
def _public_namespaces() -> list[tuple[str, Any]]:
    import rustdl
    import rustdl.nn.functional as functional

    out: list[tuple[str, Any]] = [("rustdl", rustdl), ("rustdl.nn.functional", functional)]
    for sub in ("linalg", "fft", "special", "functional"):
        mod = getattr(rustdl, sub, None)
        if isinstance(mod, types.ModuleType):
            out.append((f"rustdl.{sub}", mod))
    return out


def _facade_path(name: str, fn: Any) -> str | None:
    """``torch.<path>.<name>`` when a ``torch`` module that is not rustdl (the compatibility
    layer's) is loaded and holds ``fn`` there, else None."""
    facade = sys.modules.get("torch")
    if facade is None or getattr(facade, "__name__", None) == "rustdl":
        return None
    for sub in ("", "nn.functional", "linalg", "fft", "special"):
        mod: Any = facade
        try:
            for part in sub.split(".") if sub else []:
                mod = vars(mod).get(part)
                if not isinstance(mod, types.ModuleType):
                    break
            else:
                if isinstance(mod, types.ModuleType) and vars(mod).get(name) is fn:
                    return ".".join(p for p in ("torch", sub, name) if p)
        except TypeError:
            continue
    return None


_OPERATOR_SYMBOLS = {
    operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/",
    operator.floordiv: "//", operator.mod: "%", operator.pow: "**", operator.matmul: "@",
    operator.lshift: "<<", operator.rshift: ">>", operator.and_: "&", operator.or_: "|",
    operator.xor: "^", operator.eq: "==", operator.ne: "!=", operator.lt: "<", operator.le: "<=",
    operator.gt: ">", operator.ge: ">=",
}  # fmt: skip
_UNARY_SYMBOLS = {operator.neg: "-", operator.pos: "+", operator.invert: "~", operator.not_: "not "}


class _CodeGen:
    """Builds the source of ``forward`` for a graph."""

    def __init__(self, graph: Graph, root_module: str) -> None:
        self.graph = graph
        self.root = root_module
        self.globals: dict[str, Any] = {"inf": math.inf, "nan": math.nan, "NoneType": type(None)}
        self._global_ns = _Namespace()
        for n in graph.nodes:  # globals never shadow a value of the graph
            self._global_ns._used.add(n.name)
        self._global_ids: dict[int, str] = {}
        self._namespaces = _public_namespaces()

    def add_global(self, hint: str, obj: Any) -> str:
        known = self._global_ids.get(id(obj))
        if known is not None:
            return known
        if getattr(builtins, hint, None) is obj and hint not in self._global_ns._used:
            self._global_ids[id(obj)] = hint
            return hint
        name = self._global_ns.create_name(hint)
        self.globals[name] = obj
        self._global_ids[id(obj)] = name
        return name

    def function_name(self, fn: Any) -> str:
        """How the code names ``fn``: ``rustdl.add``, ``rustdl.nn.functional.relu``, a builtin by
        its name, anything else as a global of its own."""
        name = getattr(fn, "__name__", None)
        if isinstance(name, str) and name.isidentifier():
            # under the compatibility layer, functions are named as the program names them
            facade_path = _facade_path(name, fn)
            if facade_path is not None:
                self.globals["torch"] = sys.modules["torch"]
                return facade_path
            for path, mod in self._namespaces:
                if getattr(mod, name, None) is fn:
                    import rustdl

                    self.globals["rustdl"] = rustdl
                    return f"{path}.{name}"
            inner = getattr(fn, "__func__", None)  # a staticmethod-like wrapper of a rustdl function
            if inner is not None and inner is not fn and getattr(inner, "__name__", None) == name:
                for path, mod in self._namespaces:
                    if getattr(mod, name, None) is inner:
                        import rustdl

                        self.globals["rustdl"] = rustdl
                        return f"{path}.{name}"
            if getattr(builtins, name, None) is fn:
                return name
            if getattr(operator, name, None) is fn or getattr(math, name, None) is fn:
                mod_name = "operator" if getattr(operator, name, None) is fn else "math"
                self.globals[mod_name] = operator if mod_name == "operator" else math
                return f"{mod_name}.{name}"
        hint = name if isinstance(name, str) else type(fn).__name__
        return self.add_global(_snake_case(hint) if isinstance(fn, type) else hint, fn)

    def arg(self, a: Argument) -> str:
        if isinstance(a, Node):
            return a.name
        if a is None or a is Ellipsis or isinstance(a, (bool, str, int)):
            return repr(a) if a is not Ellipsis else "..."
        if isinstance(a, float):
            if math.isnan(a):
                return "nan"
            if math.isinf(a):
                return "inf" if a > 0 else "-inf"
            return repr(a)
        if isinstance(a, complex):
            return f"complex({self.arg(a.real)}, {self.arg(a.imag)})"
        if isinstance(a, tuple):
            items = [self.arg(e) for e in a]
            if hasattr(a, "_fields"):
                return f"{self.add_global(type(a).__name__, type(a))}({', '.join(items)})"
            if type(a) is not tuple:
                return f"{self.add_global(type(a).__name__, type(a))}(({', '.join(items)},))"
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        if isinstance(a, list):
            return f"[{', '.join(self.arg(e) for e in a)}]"
        if isinstance(a, dict):
            return "{" + ", ".join(f"{self.arg(k)}: {self.arg(v)}" for k, v in a.items()) + "}"
        if isinstance(a, slice):
            return f"slice({self.arg(a.start)}, {self.arg(a.stop)}, {self.arg(a.step)})"
        if isinstance(a, range):
            return f"range({a.start}, {a.stop}, {a.step})"
        if callable(a) and not isinstance(a, enum.Enum):
            return self.function_name(a)
        # other constants (dtypes, devices, enum members, tensors): globals of their own
        hint = getattr(a, "name", None) if isinstance(a, enum.Enum) else None
        if not isinstance(hint, str):
            text = str(a).rsplit(".", 1)[-1]
            hint = text if text.isidentifier() and len(text) < 40 else _snake_case(type(a).__name__)
        return self.add_global(hint, a)

    def call_args(self, args: tuple[Argument, ...], kwargs: dict[str, Argument]) -> str:
        parts = [self.arg(a) for a in args]
        parts += [f"{k} = {self.arg(v)}" for k, v in kwargs.items()]
        return ", ".join(parts)

    def attr_path(self, qualname: str) -> str:
        expr = self.root
        for part in qualname.split("."):
            expr = (
                f"{expr}.{part}"
                if part.isidentifier() and not keyword.iskeyword(part)
                else f"getattr({expr}, {part!r})"
            )
        return expr

    def generate(self) -> PythonCode:
        nodes = list(self.graph.nodes)
        # free each value after its last use, so intermediates die as in eager code
        last_use: dict[Node, Node] = {}
        frees: dict[Node, list[Node]] = {}
        for n in reversed(nodes):
            for inp in n.all_input_nodes:
                if inp not in last_use:
                    last_use[inp] = n
                    frees.setdefault(n, []).append(inp)
        params: list[str] = []
        body: list[str] = []
        info = self.graph._pytree_info
        if info is not None:
            # forward takes the structured arguments and flattens them into the placeholders
            flat = [n.name for n in nodes if n.op == "placeholder"]
            if flat:
                fn = self.add_global("tree_flatten_spec", _tree_flatten_spec)
                spec = self.add_global("_in_spec", info.in_spec)
                body.append(f"{', '.join(flat)}, = {fn}([{', '.join(info.orig_args)}], {spec})")
        for n in nodes:
            line = self.node_line(n, params)
            if line is None:
                continue
            dead = [d.name for d in frees.get(n, [])]
            if dead and n.op != "output":
                line += f";  {' = '.join(dead)} = None"
            body.append(line)
        if not any(n.op == "output" for n in nodes):
            body.append("return None")
        if info is not None:
            params = list(info.orig_args)
        sig = ", ".join([self.root, *params])
        src = f"def forward({sig}):\n" + "".join(f"    {b}\n" for b in body)
        return PythonCode(src, self.globals)

    def node_line(self, n: Node, params: list[str]) -> str | None:
        if n.op == "placeholder":
            ph_target = str(n.target)
            if ph_target.startswith("*"):
                params.append(ph_target)
                bare = ph_target.lstrip("*")
                return None if bare == n.name else f"{n.name} = {bare}"
            p = n.name
            if n.type is not None and isinstance(n.type, type):
                p += f" : {self.add_global(n.type.__name__, n.type)}"
            if n.args:
                p += f" = {self.arg(n.args[0])}"
            elif any(" = " in q for q in params):
                p += " = None"  # after a parameter with a default, Python needs one
            params.append(p)
            return None
        if n.op == "get_attr":
            return f"{n.name} = {self.attr_path(str(n.target))}"
        if n.op == "call_module":
            return f"{n.name} = {self.attr_path(str(n.target))}({self.call_args(n.args, n.kwargs)})"
        if n.op == "call_method":
            if not n.args:
                raise RuntimeError(f"call_method node '{n.name}' has no object to call '{n.target}' on")
            obj = self.arg(n.args[0])
            return f"{n.name} = {obj}.{n.target}({self.call_args(n.args[1:], n.kwargs)})"
        if n.op == "call_function":
            target: Any = n.target
            if not n.kwargs:
                if target is operator.getitem and len(n.args) == 2:
                    return f"{n.name} = {self.arg(n.args[0])}[{self.arg(n.args[1])}]"
                if target in _OPERATOR_SYMBOLS and len(n.args) == 2:
                    op = _OPERATOR_SYMBOLS[target]
                    return f"{n.name} = {self.arg(n.args[0])} {op} {self.arg(n.args[1])}"
                if target in _UNARY_SYMBOLS and len(n.args) == 1:
                    return f"{n.name} = {_UNARY_SYMBOLS[target]}{self.arg(n.args[0])}"
                if target is builtins.getattr and len(n.args) == 2 and isinstance(n.args[1], str):
                    if n.args[1].isidentifier() and not keyword.iskeyword(n.args[1]):
                        return f"{n.name} = {self.arg(n.args[0])}.{n.args[1]}"
            return f"{n.name} = {self.function_name(target)}({self.call_args(n.args, n.kwargs)})"
        if n.op == "output":
            info = self.graph._pytree_info
            if info is not None and info.out_spec is not None:
                from ..utils._pytree import tree_unflatten

                fn = self.add_global("tree_unflatten", tree_unflatten)
                return f"return {fn}({self.arg(n.args[0])}, {self.add_global('_out_spec', info.out_spec)})"
            return f"return {self.arg(n.args[0])}"
        raise NotImplementedError(f"code generation for node kind '{n.op}'")


class Graph:
    """A graph of FX nodes: the program ``forward`` runs, one operation per node, in order.

    Example:
        >>> g = Graph()
        >>> x = g.placeholder("x")
        >>> y = g.call_function(rustdl.relu, (x,))
        >>> g.output(y)
    """

    def __init__(self, owning_module: nn.Module | None = None, tracer_cls: type | None = None) -> None:
        self._root = Node(self, "", "root", "", (), {})
        self._used_names = _Namespace()
        self._insert: Callable[[Node], None] = self._root.prepend
        self._len = 0
        self._owning_module = owning_module
        self._tracer_cls = tracer_cls
        #: set when the inputs (and output) were flattened (tracing with structured
        #: ``concrete_args``): forward then takes and returns the structures
        self._pytree_info: _PyTreeInfo | None = None

    # ---------- views ----------

    @property
    def owning_module(self) -> nn.Module | None:
        """The module that runs this graph (set by :class:`GraphModule`), or None."""
        return self._owning_module

    @owning_module.setter
    def owning_module(self, mod: nn.Module | None) -> None:
        self._owning_module = mod

    @property
    def nodes(self) -> _NodeList:
        """The nodes in order: a live view (``len``, iteration, ``reversed``) that tolerates
        edits while iterating."""
        return _NodeList(self)

    def find_nodes(self, *, op: str, target: Target | None = None) -> list[Node]:
        """The nodes of kind ``op`` (and of ``target`` when given), in order."""
        return [n for n in self.nodes if n.op == op and (target is None or n.target == target)]

    # ---------- building ----------

    def create_node(
        self,
        op: str,
        target: Target,
        args: tuple[Argument, ...] | None = None,
        kwargs: dict[str, Argument] | None = None,
        name: str | None = None,
        type_expr: Any = None,
    ) -> Node:
        """Makes a node of kind ``op`` at the current insertion point (the end, unless inside
        :meth:`inserting_before`/:meth:`inserting_after`) with a unique name derived from
        ``name`` or the target."""
        args = () if args is None else tuple(args)
        kwargs = {} if kwargs is None else dict(kwargs)
        candidate = name if name is not None else self._target_to_str(target)
        node = Node(self, self._used_names.create_name(candidate), op, target, args, kwargs, type_expr)
        self._insert(node)
        self._len += 1
        return node

    @staticmethod
    def _target_to_str(target: Target) -> str:
        if isinstance(target, str):
            if target.startswith("__") and target.endswith("__"):
                target = target[2:-2]
            return _snake_case(target.lstrip("*"))
        name = getattr(target, "__name__", None) or type(target).__name__
        return _snake_case(str(name) or "fn")

    def placeholder(self, name: str, type_expr: Any = None, default_value: Any = _EMPTY) -> Node:
        """An input of the graph (a parameter of ``forward``), with a default when
        ``default_value`` is given."""
        args = () if default_value is _EMPTY else (default_value,)
        return self.create_node("placeholder", name, args=args, type_expr=type_expr)

    def get_attr(self, qualified_name: str, type_expr: Any = None) -> Node:
        """The value of the owning module's attribute ``qualified_name`` (``"layer1.0.weight"``)."""
        return self.create_node("get_attr", qualified_name, type_expr=type_expr)

    def call_module(
        self,
        module_name: str,
        args: tuple[Argument, ...] | None = None,
        kwargs: dict[str, Argument] | None = None,
        type_expr: Any = None,
    ) -> Node:
        """A call of the owning module's submodule ``module_name``."""
        return self.create_node("call_module", module_name, args, kwargs, type_expr=type_expr)

    def call_method(
        self,
        method_name: str,
        args: tuple[Argument, ...] | None = None,
        kwargs: dict[str, Argument] | None = None,
        type_expr: Any = None,
    ) -> Node:
        """A call of method ``method_name`` on ``args[0]``."""
        return self.create_node("call_method", method_name, args, kwargs, type_expr=type_expr)

    def call_function(
        self,
        the_function: Callable[..., Any],
        args: tuple[Argument, ...] | None = None,
        kwargs: dict[str, Argument] | None = None,
        type_expr: Any = None,
    ) -> Node:
        """A call of ``the_function`` (any callable: ``rustdl.add``, ``operator.mul``)."""
        return self.create_node("call_function", the_function, args, kwargs, type_expr=type_expr)

    def output(self, result: Argument, type_expr: Any = None) -> Node:
        """The value ``forward`` returns (nodes, constants, or lists/tuples/dicts of them)."""
        return self.create_node("output", "output", (result,), type_expr=type_expr)

    def node_copy(self, node: Node, arg_transform: Callable[[Node], Argument] = lambda x: x) -> Node:
        """A copy of ``node`` (of another graph, usually) at the insertion point, its node
        arguments mapped through ``arg_transform``; ``meta`` is copied."""
        args = map_arg(node.args, arg_transform)
        kwargs = map_arg(node.kwargs, arg_transform)
        assert isinstance(args, tuple) and isinstance(kwargs, dict)
        new = self.create_node(node.op, node.target, args, kwargs, node.name, node.type)
        new.meta = dict(node.meta)
        return new

    def graph_copy(self, g: Graph, val_map: dict[Node, Node], return_output_node: bool = False) -> Any:
        """Copies every node of ``g`` but its output into this graph, filling ``val_map`` (node
        of ``g`` -> its copy; entries already there are used as they are). Returns the copied
        output value (with ``return_output_node``, the pair ``(value, output node of g)``)."""
        for node in g.nodes:
            if node in val_map:
                continue
            if node.op == "output":
                out = map_arg(node.args[0], lambda n: val_map[n])
                return (out, node) if return_output_node else out
            val_map[node] = self.node_copy(node, lambda n: val_map[n])
        return None

    def __deepcopy__(self, memo: dict[int, Any]) -> Graph:
        memo = memo if memo is not None else {}
        g = Graph(tracer_cls=self._tracer_cls)
        g._pytree_info = self._pytree_info
        out = g.graph_copy(self, {}, return_output_node=True)
        if out is not None:
            value, old_out = out
            g.output(value, type_expr=old_out.type).meta = dict(old_out.meta)
        memo[id(self)] = g
        return g

    # ---------- editing ----------

    def erase_node(self, to_erase: Node) -> None:
        """Removes ``to_erase`` (which nothing may use any more) from the graph."""
        if to_erase.graph is not self:
            raise RuntimeError(f"erase_node: node '{to_erase.name}' belongs to another graph")
        if to_erase._erased:
            raise RuntimeError(f"erase_node: node '{to_erase.name}' was already erased")
        if to_erase.users:
            raise RuntimeError(
                f"Tried to erase Node {to_erase.name} but it still had {len(to_erase.users)} "
                f"users in the graph: {list(to_erase.users)}!"
            )
        to_erase._remove_from_list()
        to_erase._erased = True
        self._len -= 1
        to_erase._update_args_kwargs((), {})

    def inserting_before(self, n: Node | None = None) -> _InsertPoint:
        """New nodes go just before ``n`` (at the start of the graph when None) for the duration
        of the ``with`` block."""
        if n is None:
            return self.inserting_after(self._root)
        if n.graph is not self:
            raise ValueError("inserting_before: the node belongs to another graph")
        return _InsertPoint(self, n.prepend)

    def inserting_after(self, n: Node | None = None) -> _InsertPoint:
        """New nodes go just after ``n`` (at the end of the graph when None) for the duration of
        the ``with`` block (each right after ``n``, as the insertion point does not move)."""
        if n is None:
            return _InsertPoint(self, self._root.prepend)
        if n.graph is not self:
            raise ValueError("inserting_after: the node belongs to another graph")
        return _InsertPoint(self, n.append)

    def eliminate_dead_code(self) -> bool:
        """Erases nodes whose values are unused and that have no side effects (see
        :meth:`Node.is_impure`), last first. Returns whether anything was erased."""
        changed = False
        for node in reversed(self.nodes):
            if not node.users and not node.is_impure():
                self.erase_node(node)
                changed = True
        return changed

    # ---------- checks and display ----------

    def lint(self) -> None:
        """Checks the graph's consistency: nodes belong to it, arguments are defined before use,
        names are unique, use lists match, module and attribute targets exist on the owning
        module. Raises RuntimeError on the first problem."""
        seen: set[Node] = set()
        names: set[str] = set()
        count = 0
        for node in self.nodes:
            count += 1
            if node.graph is not self:
                raise RuntimeError(f"lint: node '{node.name}' does not belong to this graph")
            if node.name in names:
                raise RuntimeError(f"lint: node name '{node.name}' is used twice")
            names.add(node.name)
            for inp in node.all_input_nodes:
                if inp not in seen:
                    raise RuntimeError(
                        f"lint: argument '{inp.name}' of node '{node.name}' is used before it is defined "
                        "(or is not in the graph)"
                    )
                if node not in inp.users:
                    raise RuntimeError(f"lint: '{node.name}' is missing from the users of '{inp.name}'")
            seen.add(node)
        if count != self._len:
            raise RuntimeError(f"lint: the graph counts {self._len} nodes but holds {count}")
        mod = self._owning_module
        if mod is None:
            return
        for node in self.nodes:
            if node.op not in ("call_module", "get_attr"):
                continue
            obj: Any = mod
            for i, part in enumerate(str(node.target).split(".")):
                if not hasattr(obj, part):
                    path = ".".join(str(node.target).split(".")[:i])
                    raise RuntimeError(
                        f"lint: node '{node.name}' target '{node.target}' references nonexistent "
                        f"attribute '{part}' of '{path or type(mod).__name__}'"
                    )
                obj = getattr(obj, part)
            if node.op == "call_module":
                from .. import nn

                if not isinstance(obj, nn.Module):
                    raise RuntimeError(f"lint: node '{node.name}' target '{node.target}' is not a module")

    def python_code(self, root_module: str = "self") -> PythonCode:
        """The source of a ``forward`` running this graph (its first parameter named
        ``root_module``) and the globals dict it needs."""
        return _CodeGen(self, root_module).generate()

    def process_inputs(self, *args: Any) -> Any:
        """The placeholders' values for ``forward``'s arguments: ``args`` as they are, or
        flattened when the graph was traced with structured inputs."""
        info = self._pytree_info
        if info is None:
            return args
        return _tree_flatten_spec(list(args), info.in_spec)

    def process_outputs(self, out: Any) -> Any:
        """``forward``'s result for the output node's value (rebuilt into its structure when the
        graph's output was flattened)."""
        info = self._pytree_info
        if info is None or info.out_spec is None:
            return out
        from ..utils._pytree import tree_unflatten

        return tree_unflatten(out, info.out_spec)

    def print_tabular(self) -> None:
        """Prints the nodes as a table (kind, name, target, args, kwargs)."""
        rows = [
            [n.op, n.name, n.target if isinstance(n.target, str) else getattr(n.target, "__name__", repr(n.target)),
             _format_arg(n.args), _format_arg(n.kwargs)]
            for n in self.nodes
        ]  # fmt: skip
        header = ["opcode", "name", "target", "args", "kwargs"]
        cells = [header] + [[str(c) for c in r] for r in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        print("\n".join(lines))

    def __str__(self) -> str:
        placeholders: list[str] = []
        lines = [n.format_node(placeholders) for n in self.nodes]
        return "graph():\n" + "".join(f"    {line}\n" for line in lines)

    def __repr__(self) -> str:
        return self.__str__()

    # ---------- pickling ----------

    def __getstate__(self) -> dict[str, Any]:
        # a flat list (a linked list of nodes would recurse once per node)
        index = {n: i for i, n in enumerate(self.nodes)}
        rows = []
        for n in self.nodes:
            rows.append(
                (n.op, n.target, map_arg(n.args, lambda m: _Ref(index[m])), map_arg(n.kwargs, lambda m: _Ref(index[m])),
                 n.name, n.type, n.meta)
            )  # fmt: skip
        return {"rows": rows, "tracer_cls": self._tracer_cls, "pytree_info": self._pytree_info}

    def __setstate__(self, state: dict[str, Any]) -> None:
        from .node import map_aggregate

        Graph.__init__(self, tracer_cls=state.get("tracer_cls"))
        self._pytree_info = state.get("pytree_info")
        made: list[Node] = []
        for op, target, args, kwargs, name, typ, meta in state["rows"]:

            def back(x: Any) -> Any:
                return made[x.index] if isinstance(x, _Ref) else x

            n = self.create_node(
                op, target, map_aggregate(args, back), map_aggregate(kwargs, back), name, typ
            )
            n.meta = meta
            made.append(n)


@dataclass(frozen=True)
class _Ref:
    """A node named by its position (in a pickled graph)."""

    index: int
