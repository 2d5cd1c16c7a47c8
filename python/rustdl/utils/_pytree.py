"""``torch.utils._pytree``: flattening nested containers to their leaves and back.

Lists, tuples, named tuples, dicts (``OrderedDict`` and ``defaultdict`` kept), ``deque`` and any
type given to :func:`register_pytree_node` are nodes; everything else (tensors, numbers, ``None``)
is a leaf. ``tree_flatten`` returns the leaves left to right and a :class:`TreeSpec` that
``tree_unflatten`` rebuilds the structure from.

Example:
    >>> leaves, spec = tree_flatten({"a": [1, 2], "b": (3,)})
    >>> leaves, tree_unflatten([x * 10 for x in leaves], spec)
    ([1, 2, 3], {'a': [10, 20], 'b': (30,)})
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict, deque, namedtuple
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

__all__ = [
    "LeafSpec",
    "PyTree",
    "TreeSpec",
    "register_pytree_node",
    "tree_all",
    "tree_all_only",
    "tree_any",
    "tree_any_only",
    "tree_flatten",
    "tree_is_leaf",
    "tree_iter",
    "tree_leaves",
    "tree_map",
    "tree_map_",
    "tree_map_only",
    "tree_map_only_",
    "tree_structure",
    "tree_unflatten",
]

PyTree = Any


class NodeDef(NamedTuple):
    """How a node type flattens, as PyTorch's ``SUPPORTED_NODES`` entries."""

    type: Any
    flatten_fn: Callable[[Any], tuple[list, Any]]
    unflatten_fn: Callable[[Iterable, Any], Any]
    flatten_with_keys_fn: Any = None


SUPPORTED_NODES: dict[type, NodeDef] = {}


def register_pytree_node(
    cls: type,
    flatten_fn: Callable[[Any], tuple[list, Any]],
    unflatten_fn: Callable[[Iterable, Any], Any],
    *,
    serialized_type_name: str | None = None,
    to_dumpable_context: Any = None,
    from_dumpable_context: Any = None,
    flatten_with_keys_fn: Any = None,
) -> None:
    """Makes ``cls`` a node: ``flatten_fn(x) -> (children, context)`` and
    ``unflatten_fn(children, context) -> x``."""
    if cls in SUPPORTED_NODES:
        raise ValueError(f"register_pytree_node: {cls} is already registered as a pytree node")
    SUPPORTED_NODES[cls] = NodeDef(cls, flatten_fn, unflatten_fn, flatten_with_keys_fn)


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


# the flatten / unflatten functions of the built-in node kinds, by PyTorch's private names (libraries
# register their own classes with them: a dict subclass with ``_dict_flatten``)
def _list_flatten(x):
    return list(x), None


def _list_unflatten(values, context):
    return list(values)


def _tuple_flatten(x):
    return list(x), None


def _tuple_unflatten(values, context):
    return tuple(values)


def _dict_flatten(x):
    return list(x.values()), list(x.keys())


def _dict_unflatten(values, context):
    return dict(zip(context, values))


def _odict_flatten(x):
    return list(x.values()), list(x.keys())


def _odict_unflatten(values, context):
    return OrderedDict(zip(context, values))


def _defaultdict_flatten(x):
    return list(x.values()), (x.default_factory, list(x.keys()))


def _ddict_unflatten(values, context):
    factory, keys = context
    return defaultdict(factory, zip(keys, values))


_defaultdict_unflatten = _ddict_unflatten


def _deque_flatten(x):
    return list(x), x.maxlen


def _deque_unflatten(values, context):
    return deque(values, maxlen=context)


def _namedtuple_flatten(x):
    return list(x), type(x)


def _namedtuple_unflatten(values, context):
    return context(*values)


register_pytree_node(list, _list_flatten, _list_unflatten)
register_pytree_node(tuple, _tuple_flatten, _tuple_unflatten)
register_pytree_node(dict, _dict_flatten, _dict_unflatten)
register_pytree_node(OrderedDict, _odict_flatten, _odict_unflatten)
register_pytree_node(defaultdict, _defaultdict_flatten, _ddict_unflatten)
register_pytree_node(deque, _deque_flatten, _deque_unflatten)
# every named tuple class is one node kind, registered under collections.namedtuple (as PyTorch's)
register_pytree_node(namedtuple, _namedtuple_flatten, _namedtuple_unflatten)


def _get_node_type(tree: Any) -> Any:
    """The key of ``tree``'s kind in :data:`SUPPORTED_NODES`: ``collections.namedtuple`` for a
    named tuple, else its type (which is a node kind only if registered)."""
    return namedtuple if _is_namedtuple(tree) else type(tree)


def _node_type(x: Any) -> type | None:
    if _is_namedtuple(x):
        return NamedTuple  # a marker: every named tuple class flattens the same way
    t = type(x)
    return t if t in SUPPORTED_NODES else None


def _flatten_node(x: Any) -> tuple[type, list, Any]:
    if _is_namedtuple(x):
        return type(x), list(x), type(x)
    t = type(x)
    children, context = SUPPORTED_NODES[t].flatten_fn(x)
    return t, list(children), context


def _unflatten_node(t: type, children: list, context: Any) -> Any:
    if _is_namedtuple_class(t):
        return t(*children)
    return SUPPORTED_NODES[t].unflatten_fn(children, context)


def _is_namedtuple_class(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields")


class TreeSpec:
    """The structure of a pytree: the node's type, its context (dict keys, ...) and the specs of
    its children. A leaf's spec is :class:`LeafSpec`."""

    def __init__(self, type: Any, context: Any, children_specs: list[TreeSpec]) -> None:  # noqa: A002
        self.type = type
        self.context = context
        self.children_specs = list(children_specs)
        self.num_nodes = 1 + sum(c.num_nodes for c in self.children_specs)
        self.num_leaves = sum(c.num_leaves for c in self.children_specs)
        self.num_children = len(self.children_specs)

    def is_leaf(self) -> bool:
        return False

    def unflatten(self, leaves: Iterable[Any]) -> PyTree:
        return tree_unflatten(leaves, self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TreeSpec) or self.is_leaf() != other.is_leaf():
            return NotImplemented if not isinstance(other, TreeSpec) else False
        return (
            self.type == other.type
            and self.context == other.context
            and self.children_specs == other.children_specs
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        name = getattr(self.type, "__name__", repr(self.type))
        kids = ", ".join(repr(c) for c in self.children_specs)
        return f"TreeSpec({name}, {self.context!r}, [{kids}])"


class LeafSpec(TreeSpec):
    """The spec of a leaf (``*`` in reprs)."""

    def __init__(self) -> None:
        super().__init__(None, None, [])
        self.num_nodes = 1
        self.num_leaves = 1

    def is_leaf(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "*"


def tree_is_leaf(tree: PyTree, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """True when ``tree`` is a leaf (not a registered container, or ``is_leaf`` says so)."""
    return (is_leaf is not None and is_leaf(tree)) or _node_type(tree) is None


def tree_flatten(tree: PyTree, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list[Any], TreeSpec]:
    """The leaves of ``tree`` left to right, and its :class:`TreeSpec`."""
    leaves: list[Any] = []

    def go(t: Any) -> TreeSpec:
        if tree_is_leaf(t, is_leaf):
            leaves.append(t)
            return LeafSpec()
        typ, children, context = _flatten_node(t)
        return TreeSpec(typ, context, [go(c) for c in children])

    return leaves, go(tree)


def tree_unflatten(leaves: Iterable[Any], treespec: TreeSpec) -> PyTree:
    """Rebuilds the pytree ``treespec`` describes from ``leaves`` (as many as it has)."""
    if not isinstance(treespec, TreeSpec):
        raise TypeError(
            f"tree_unflatten(leaves, treespec): Expected `treespec` to be an instance of "
            f"TreeSpec but got item of type {type(treespec)}."
        )
    leaves = list(leaves)
    if len(leaves) != treespec.num_leaves:
        raise ValueError(
            f"treespec.unflatten(leaves): `leaves` has length {len(leaves)} but the spec refers "
            f"to a pytree that holds {treespec.num_leaves} items ({treespec})."
        )
    it = iter(leaves)

    def go(s: TreeSpec) -> Any:
        if s.is_leaf():
            return next(it)
        return _unflatten_node(s.type, [go(c) for c in s.children_specs], s.context)

    return go(treespec)


def tree_iter(tree: PyTree, is_leaf: Callable[[Any], bool] | None = None):
    """The leaves of ``tree``, one at a time."""
    yield from tree_flatten(tree, is_leaf)[0]


def tree_leaves(tree: PyTree, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    """The leaves of ``tree`` left to right."""
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: PyTree, is_leaf: Callable[[Any], bool] | None = None) -> TreeSpec:
    """The :class:`TreeSpec` of ``tree``."""
    return tree_flatten(tree, is_leaf)[1]


def _leaves_of_rest(spec: TreeSpec, rests: tuple, fn: str) -> list[list[Any]]:
    out = []
    for r in rests:
        leaves, s = tree_flatten(r)
        if s != spec and len(leaves) != spec.num_leaves:
            raise ValueError(f"{fn}: the trees do not have the same structure ({spec} and {s})")
        out.append(leaves)
    return out


def tree_map(
    func: Callable[..., Any],
    tree: PyTree,
    *rests: PyTree,
    is_leaf: Callable[[Any], bool] | None = None,
) -> PyTree:
    """A tree of the same structure with ``func`` applied to each leaf (and the matching leaves
    of ``rests``)."""
    leaves, spec = tree_flatten(tree, is_leaf)
    others = _leaves_of_rest(spec, rests, "tree_map")
    return tree_unflatten([func(*xs) for xs in zip(leaves, *others)], spec)


def tree_map_(
    func: Callable[..., Any],
    tree: PyTree,
    *rests: PyTree,
    is_leaf: Callable[[Any], bool] | None = None,
) -> PyTree:
    """Calls ``func`` on each leaf for its side effect; returns ``tree`` itself."""
    leaves, spec = tree_flatten(tree, is_leaf)
    for xs in zip(leaves, *_leaves_of_rest(spec, rests, "tree_map_")):
        func(*xs)
    return tree


def _type_check(type_or_types: Any) -> Callable[[Any], bool]:
    if isinstance(type_or_types, (type, tuple)):
        return lambda x: isinstance(x, type_or_types)
    if callable(type_or_types):
        return type_or_types
    raise TypeError(f"expected a type, a tuple of types or a predicate, got {type_or_types!r}")


def tree_map_only(type_or_types: Any, func: Callable[[Any], Any], tree: PyTree, is_leaf=None) -> PyTree:
    """:func:`tree_map` applying ``func`` only to the leaves of the given type(s)."""
    ok = _type_check(type_or_types)
    return tree_map(lambda x: func(x) if ok(x) else x, tree, is_leaf=is_leaf)


def tree_map_only_(type_or_types: Any, func: Callable[[Any], Any], tree: PyTree, is_leaf=None) -> PyTree:
    """:func:`tree_map_` calling ``func`` only on the leaves of the given type(s)."""
    ok = _type_check(type_or_types)
    return tree_map_(lambda x: func(x) if ok(x) else None, tree, is_leaf=is_leaf)


def tree_all(pred: Callable[[Any], bool], tree: PyTree, is_leaf=None) -> bool:
    """True when ``pred`` holds for every leaf."""
    return all(map(pred, tree_iter(tree, is_leaf)))


def tree_any(pred: Callable[[Any], bool], tree: PyTree, is_leaf=None) -> bool:
    """True when ``pred`` holds for some leaf."""
    return any(map(pred, tree_iter(tree, is_leaf)))


def _only(type_or_types: Any, pred: Callable[[Any], bool], tree: PyTree, is_leaf) -> Iterable[bool]:
    ok = _type_check(type_or_types)
    return (pred(x) for x in tree_iter(tree, is_leaf) if ok(x))


def tree_all_only(type_or_types: Any, pred: Callable[[Any], bool], tree: PyTree, is_leaf=None):
    """True when ``pred`` holds for every leaf of the given type(s)."""
    return all(_only(type_or_types, pred, tree, is_leaf))


def tree_any_only(type_or_types: Any, pred: Callable[[Any], bool], tree: PyTree, is_leaf=None):
    """True when ``pred`` holds for some leaf of the given type(s)."""
    return any(_only(type_or_types, pred, tree, is_leaf))


# ---- key paths: where each leaf sits (``tree_flatten_with_path``, ``keystr``) -------------------

KeyEntry = Any
KeyPath = tuple
Context = Any


class SequenceKey(NamedTuple):
    """A position in a list, tuple or deque: ``[idx]``."""

    idx: int

    def __str__(self) -> str:
        return f"[{self.idx!r}]"

    def get(self, sequence: Any) -> Any:
        return sequence[self.idx]


class MappingKey(NamedTuple):
    """A key of a dict: ``[key]``."""

    key: Any

    def __str__(self) -> str:
        return f"[{self.key!r}]"

    def get(self, mapping: Any) -> Any:
        return mapping[self.key]


class GetAttrKey(NamedTuple):
    """A field of a named tuple or an attribute of an object: ``.name``."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}"

    def get(self, obj: Any) -> Any:
        return getattr(obj, self.name)


def keystr(kp: KeyPath) -> str:
    """The key path as code spells it (``[0]['a'].x``)."""
    return "".join(str(k) for k in kp)


def key_get(obj: Any, kp: KeyPath) -> Any:
    """The part of ``obj`` the key path leads to."""
    for k in kp:
        obj = k.get(obj)
    return obj


def _list_flatten_with_keys(x):
    children, context = _list_flatten(x)
    return [(SequenceKey(i), c) for i, c in enumerate(children)], context


def _tuple_flatten_with_keys(x):
    children, context = _tuple_flatten(x)
    return [(SequenceKey(i), c) for i, c in enumerate(children)], context


def _deque_flatten_with_keys(x):
    children, context = _deque_flatten(x)
    return [(SequenceKey(i), c) for i, c in enumerate(children)], context


def _dict_flatten_with_keys(x):
    children, context = _dict_flatten(x)
    return [(MappingKey(k), c) for k, c in zip(context, children)], context


def _odict_flatten_with_keys(x):
    children, context = _odict_flatten(x)
    return [(MappingKey(k), c) for k, c in zip(context, children)], context


def _defaultdict_flatten_with_keys(x):
    children, context = _defaultdict_flatten(x)
    return [(MappingKey(k), c) for k, c in zip(context[1], children)], context


def _namedtuple_flatten_with_keys(x):
    children, context = _namedtuple_flatten(x)
    return [(GetAttrKey(f), c) for f, c in zip(type(x)._fields, children)], context


for _t, _fn in (
    (list, _list_flatten_with_keys),
    (tuple, _tuple_flatten_with_keys),
    (deque, _deque_flatten_with_keys),
    (dict, _dict_flatten_with_keys),
    (OrderedDict, _odict_flatten_with_keys),
    (defaultdict, _defaultdict_flatten_with_keys),
    (namedtuple, _namedtuple_flatten_with_keys),
):
    SUPPORTED_NODES[_t] = SUPPORTED_NODES[_t]._replace(flatten_with_keys_fn=_fn)
del _t, _fn


def _keyed_children(x: Any) -> list[tuple[Any, Any]]:
    if _is_namedtuple(x):
        return _namedtuple_flatten_with_keys(x)[0]
    node = SUPPORTED_NODES[type(x)]
    if node.flatten_with_keys_fn is None:
        raise ValueError(
            f"tree_flatten_with_path: did not find a flatten_with_keys_fn for type {type(x)}; "
            "register it with register_pytree_node(..., flatten_with_keys_fn=...)"
        )
    return list(node.flatten_with_keys_fn(x)[0])


def tree_flatten_with_path(
    tree: PyTree, is_leaf: Callable[[Any], bool] | None = None
) -> tuple[list[tuple[KeyPath, Any]], TreeSpec]:
    """The (key path, leaf) pairs of ``tree`` left to right, and its :class:`TreeSpec`."""
    pairs: list[tuple[KeyPath, Any]] = []

    def go(t: Any, path: tuple) -> None:
        if tree_is_leaf(t, is_leaf):
            pairs.append((path, t))
            return
        for k, c in _keyed_children(t):
            go(c, (*path, k))

    go(tree, ())
    return pairs, tree_structure(tree, is_leaf)


def tree_leaves_with_path(
    tree: PyTree, is_leaf: Callable[[Any], bool] | None = None
) -> list[tuple[KeyPath, Any]]:
    """The (key path, leaf) pairs of ``tree`` left to right."""
    return tree_flatten_with_path(tree, is_leaf)[0]


def tree_map_with_path(
    func: Callable[..., Any], tree: PyTree, *rests: PyTree, is_leaf: Callable[[Any], bool] | None = None
) -> PyTree:
    """``tree`` with each leaf replaced by ``func(key_path, leaf, *matching leaves of rests)``."""
    pairs, spec = tree_flatten_with_path(tree, is_leaf)
    others = _leaves_of_rest(spec, rests, "tree_map_with_path")
    return tree_unflatten(
        [func(kp, leaf, *(o[i] for o in others)) for i, (kp, leaf) in enumerate(pairs)], spec
    )


def is_namedtuple(obj: Any) -> bool:
    """True for a named tuple class or instance."""
    return is_namedtuple_class(obj if isinstance(obj, type) else type(obj))


def is_namedtuple_class(cls: Any) -> bool:
    """True for a named tuple class (a structseq such as ``torch.return_types.max`` is not one)."""
    return _is_namedtuple_class(cls) and not is_structseq_class(cls)


def is_namedtuple_instance(obj: Any) -> bool:
    """True for an instance of a named tuple class."""
    return is_namedtuple_class(type(obj))


def is_structseq_class(cls: Any) -> bool:
    """True for a structseq class: a tuple type with ``n_fields``, as ``torch.return_types`` and
    ``os.stat_result``."""
    return (
        isinstance(cls, type)
        and issubclass(cls, tuple)
        and all(hasattr(cls, a) for a in ("n_fields", "n_sequence_fields", "n_unnamed_fields"))
    )


def is_structseq(obj: Any) -> bool:
    """True for a structseq class or instance."""
    return is_structseq_class(obj if isinstance(obj, type) else type(obj))


def is_structseq_instance(obj: Any) -> bool:
    """True for an instance of a structseq class."""
    return is_structseq_class(type(obj))


__all__ += [
    "GetAttrKey",
    "KeyEntry",
    "KeyPath",
    "MappingKey",
    "SequenceKey",
    "is_namedtuple",
    "is_namedtuple_class",
    "is_namedtuple_instance",
    "is_structseq",
    "is_structseq_class",
    "is_structseq_instance",
    "key_get",
    "keystr",
    "tree_flatten_with_path",
    "tree_leaves_with_path",
    "tree_map_with_path",
]
