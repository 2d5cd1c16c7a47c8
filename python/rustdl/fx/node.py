"""FX graph nodes: one operation of a :class:`~rustdl.fx.Graph` each, with its arguments (which
may name other nodes) and the nodes that use its value."""

from __future__ import annotations

import builtins
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional, Union

from .immutable_collections import immutable_dict, immutable_list

if TYPE_CHECKING:
    from .graph import Graph

__all__ = ["Argument", "Node", "Target", "map_aggregate", "map_arg"]

#: what a node runs: a callable for ``call_function``, a name (method, attribute path, module
#: path, placeholder name) for the other kinds
Target = Union[Callable[..., Any], str]

#: a value a node's ``args``/``kwargs`` may hold: nodes, constants and (nested) lists, tuples,
#: dicts and slices of them
Argument = Optional[Any]

#: the node kinds a graph holds
_OPS = frozenset({"placeholder", "call_method", "call_module", "call_function", "get_attr", "output", "root"})

# calls that change state: dead-code elimination keeps them even when their value is unused
_SIDE_EFFECTS: set[Any] = {builtins.print, operator.setitem, operator.delitem}


def has_side_effect(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Marks ``fn`` as having side effects: ``call_function`` nodes of it are never removed as
    dead code. Returns ``fn`` (usable as a decorator)."""
    _SIDE_EFFECTS.add(fn)
    return fn


class Node:
    """One operation of a graph.

    ``op`` is the kind (``placeholder``, ``get_attr``, ``call_function``, ``call_method``,
    ``call_module`` or ``output``), ``target`` what it runs, ``args``/``kwargs`` its arguments
    (other nodes stand for their values), ``users`` the nodes that use its value, ``meta`` a
    free dict for passes (``ShapeProp`` fills ``meta['tensor_meta']``).

    Nodes are made by the :class:`~rustdl.fx.Graph` methods (``graph.call_function(...)``), not
    directly.
    """

    def __init__(
        self,
        graph: Graph,
        name: str,
        op: str,
        target: Target,
        args: tuple[Argument, ...],
        kwargs: dict[str, Argument],
        return_type: Any = None,
    ) -> None:
        if op not in _OPS:
            raise ValueError(f"unknown node kind '{op}' (expected one of {sorted(_OPS - {'root'})})")
        if op == "call_function" and not callable(target):
            raise ValueError(f"call_function target {target!r} is not callable")
        if op in ("placeholder", "call_method", "call_module", "get_attr", "output") and not isinstance(
            target, str
        ):
            raise ValueError(f"the target of a '{op}' node must be a string, got {target!r}")
        self.graph = graph
        self.name = name
        self.op = op
        self.target = target
        self.type = return_type
        self.meta: dict[str, Any] = {}
        self.stack_trace: str | None = None
        # the nodes this one reads (a dict used as an ordered set) and the nodes reading it
        self._input_nodes: dict[Node, None] = {}
        self.users: dict[Node, None] = {}
        self._args: tuple[Argument, ...] = ()
        self._kwargs: dict[str, Argument] = {}
        self._prev: Node = self
        self._next: Node = self
        self._erased = False
        self._update_args_kwargs(args, kwargs)

    # ---------- position in the graph ----------

    @property
    def next(self) -> Node:
        """The node after this one (the graph's root sentinel after the last node)."""
        return self._next

    @property
    def prev(self) -> Node:
        """The node before this one (the graph's root sentinel before the first node)."""
        return self._prev

    def prepend(self, x: Node) -> None:
        """Moves (or inserts) ``x`` just before this node."""
        if x is self:
            raise ValueError("a node cannot be prepended to itself")
        if x.graph is not self.graph:
            raise ValueError("prepend: the nodes belong to different graphs")
        x._remove_from_list()
        p = self._prev
        p._next, x._prev = x, p
        x._next, self._prev = self, x

    def append(self, x: Node) -> None:
        """Moves (or inserts) ``x`` just after this node."""
        self._next.prepend(x)

    def _remove_from_list(self) -> None:
        # the node keeps its own links, so that iteration standing on it can go on
        p, n = self._prev, self._next
        p._next, n._prev = n, p

    # ---------- arguments ----------

    @property
    def args(self) -> tuple[Argument, ...]:
        """The positional arguments (nodes stand for their values). Assigning updates the use
        lists of the nodes involved."""
        return self._args

    @args.setter
    def args(self, a: tuple[Argument, ...]) -> None:
        self._update_args_kwargs(a, self._kwargs)

    @property
    def kwargs(self) -> dict[str, Argument]:
        """The keyword arguments. Assigning updates the use lists of the nodes involved."""
        return self._kwargs

    @kwargs.setter
    def kwargs(self, k: dict[str, Argument]) -> None:
        self._update_args_kwargs(self._args, k)

    @property
    def all_input_nodes(self) -> list[Node]:
        """The nodes this node's arguments mention, in order of first mention."""
        return list(self._input_nodes)

    def update_arg(self, idx: int, arg: Argument) -> None:
        """Sets positional argument ``idx`` to ``arg``."""
        args = list(self.args)
        args[idx] = arg
        self.args = tuple(args)

    def insert_arg(self, idx: int, arg: Argument) -> None:
        """Inserts ``arg`` as positional argument ``idx``."""
        args = list(self.args)
        args.insert(idx, arg)
        self.args = tuple(args)

    def update_kwarg(self, key: str, arg: Argument) -> None:
        """Sets keyword argument ``key`` to ``arg``."""
        kwargs = dict(self.kwargs)
        kwargs[key] = arg
        self.kwargs = kwargs

    def _update_args_kwargs(self, new_args: Any, new_kwargs: Any) -> None:
        new_args = map_aggregate(tuple(new_args), lambda x: x)
        new_kwargs = map_aggregate(dict(new_kwargs), lambda x: x)
        for old in self._input_nodes:
            old.users.pop(self, None)
        self._input_nodes = {}
        self._args = new_args
        self._kwargs = new_kwargs

        def note(n: Node) -> Node:
            if not isinstance(n, Node):
                raise TypeError(f"expected a Node, got {type(n).__name__}")
            self._input_nodes.setdefault(n, None)
            return n

        map_arg(self._args, note)
        map_arg(self._kwargs, note)
        for n in self._input_nodes:
            n.users.setdefault(self, None)

    def replace_all_uses_with(
        self,
        replace_with: Node,
        delete_user_cb: Callable[[Node], bool] = lambda user: True,
        *,
        propagate_meta: bool = False,
    ) -> list[Node]:
        """Makes every user of this node use ``replace_with`` instead (only those for which
        ``delete_user_cb(user)`` is true). With ``propagate_meta``, ``replace_with`` gets this
        node's ``meta`` entries (it must have none). Returns the users changed."""
        if propagate_meta:
            if replace_with.meta:
                raise ValueError("propagate_meta: the replacement node already has meta entries")
            replace_with.meta.update(self.meta)
        changed = []
        for user in list(self.users):
            if user is replace_with or not delete_user_cb(user):
                continue
            user.replace_input_with(self, replace_with)
            changed.append(user)
        return changed

    def replace_input_with(self, old_input: Node, new_input: Node) -> None:
        """Replaces every mention of ``old_input`` in this node's arguments with ``new_input``."""

        def swap(n: Node) -> Node:
            return new_input if n is old_input else n

        self._update_args_kwargs(map_arg(self._args, swap), map_arg(self._kwargs, swap))

    # ---------- queries ----------

    def is_impure(self) -> bool:
        """True for nodes dead-code elimination must keep: placeholders, outputs, calls of
        functions marked with :func:`has_side_effect`, in-place method calls (``add_``) and calls
        of modules holding a ``_is_impure = True`` attribute."""
        if self.op in ("placeholder", "output"):
            return True
        if self.op == "call_function":
            return self.target in _SIDE_EFFECTS
        if self.op == "call_method":
            t = str(self.target)
            return t.endswith("_") and not t.endswith("__")
        if self.op == "call_module":
            owner = self.graph.owning_module
            if owner is None:
                return False
            try:
                mod = owner.get_submodule(str(self.target))
            except AttributeError:
                return False
            return bool(getattr(mod, "_is_impure", False))
        return False

    def format_node(
        self, placeholder_names: list[str] | None = None, maybe_return_typename: Any = None
    ) -> str:
        """One line describing the node (``%name : [num_users=1] = call_function[target=f](args
        = (%x,), kwargs = {})``)."""
        from .graph import _type_repr

        if self.op == "placeholder":
            if placeholder_names is not None:
                placeholder_names.append(str(self.target))
            default = f" = {self.args[0]!r}" if self.args else ""
            typ = f" : {_type_repr(self.type)}" if self.type is not None else ""
            return f"%{self.name}{typ}{default} [num_users={len(self.users)}] = placeholder[target={self.target}]"
        if self.op == "get_attr":
            return f"%{self.name} : [num_users={len(self.users)}] = get_attr[target={self.target}]"
        if self.op == "output":
            return f"return {_format_arg(self.args[0])}"
        return (
            f"%{self.name} : [num_users={len(self.users)}] = {self.op}[target={_pretty_target(self.target)}]"
            f"(args = {_format_arg(self.args)}, kwargs = {_format_arg(self.kwargs)})"
        )

    def __repr__(self) -> str:
        return self.name


def _pretty_target(target: Target) -> str:
    if isinstance(target, str):
        return target
    mod = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target)
    if mod in (None, "builtins", "_operator", "operator"):
        return str(name)
    return f"{mod}.{name}"


def _format_arg(arg: Any) -> str:
    if isinstance(arg, Node):
        return f"%{arg.name}"
    if isinstance(arg, tuple) and not hasattr(arg, "_fields"):
        inner = ", ".join(_format_arg(a) for a in arg)
        return f"({inner},)" if len(arg) == 1 else f"({inner})"
    if isinstance(arg, list):
        return "[" + ", ".join(_format_arg(a) for a in arg) + "]"
    if isinstance(arg, dict):
        return "{" + ", ".join(f"{k}: {_format_arg(v)}" for k, v in arg.items()) + "}"
    return repr(arg)


def map_arg(a: Argument, fn: Callable[[Node], Argument]) -> Argument:
    """``a`` with every :class:`Node` in it (also inside lists, tuples, dicts and slices)
    replaced by ``fn(node)``."""
    if not callable(fn):
        raise TypeError("map_arg: the second argument must be callable")
    return map_aggregate(a, lambda x: fn(x) if isinstance(x, Node) else x)


def map_aggregate(a: Argument, fn: Callable[[Argument], Argument]) -> Argument:
    """``a`` with every leaf value (anything that is not a list, tuple, dict or slice) replaced by
    ``fn(value)``. Lists and dicts come back as :class:`immutable_list`/:class:`immutable_dict`;
    tuples (named ones too) keep their type."""
    if isinstance(a, tuple):
        items = [map_aggregate(e, fn) for e in a]
        ctor: Any = type(a)
        if hasattr(a, "_fields"):  # a namedtuple
            return ctor(*items)
        if type(a) is tuple:
            return tuple(items)
        try:
            return type(a)(items)
        except TypeError:
            return tuple(items)
    if isinstance(a, list):
        return immutable_list(map_aggregate(e, fn) for e in a)
    if isinstance(a, dict):
        return immutable_dict((k, map_aggregate(v, fn)) for k, v in a.items())
    if isinstance(a, slice):
        return slice(map_aggregate(a.start, fn), map_aggregate(a.stop, fn), map_aggregate(a.step, fn))
    return fn(a)
