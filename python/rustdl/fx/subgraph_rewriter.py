"""Subgraph rewriting: :func:`replace_pattern` finds the occurrences of a pattern (a traced
function) in a graph module and replaces each with a replacement (another traced function);
:func:`replace_pattern_with_filters` also takes filters deciding which occurrences to replace."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Union

from .graph import Graph
from .graph_module import GraphModule, _copy_attr
from .node import Node
from .passes.utils.matcher_utils import InternalMatch

__all__ = ["Match", "ReplacedPatterns", "replace_pattern", "replace_pattern_with_filters"]

_Pattern = Union[Callable[..., Any], Graph, GraphModule]


class Match(NamedTuple):
    """One occurrence: ``anchor`` is the pattern node the search started from (its result),
    ``nodes_map`` maps each pattern node to its graph node."""

    anchor: Node
    nodes_map: dict[Node, Node]


@dataclass
class ReplacedPatterns:
    """One replaced occurrence: ``anchor`` and ``nodes_map`` as in :class:`Match`,
    ``replacements`` the nodes inserted for it."""

    anchor: Node
    nodes_map: dict[Node, Node]
    replacements: list[Node] = field(default_factory=list)


def _as_graph(fn: _Pattern) -> tuple[Graph, Any]:
    """The graph of a pattern or replacement, and the module holding its attributes (or None)."""
    if isinstance(fn, GraphModule):
        return fn.graph, fn
    if isinstance(fn, Graph):
        return fn, fn.owning_module
    from ._symbolic_trace import symbolic_trace

    gm = symbolic_trace(fn)
    return gm.graph, gm


def _flat_nodes(value: Any) -> list[Any]:
    """The leaves of an output value, in order (nodes, and constants as they are)."""
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flat_nodes(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flat_nodes(v)]
    return [value]


class _Matcher:
    """Matches a pattern graph against nodes of another graph. Pattern inputs match anything
    (a node, or a constant argument); other pattern nodes match nodes of the same kind and
    target whose arguments match."""

    def __init__(self, pattern: Graph, ignore_literals: bool) -> None:
        self.pattern = pattern
        self.ignore_literals = ignore_literals
        nodes = list(pattern.nodes)
        outs = [n for n in nodes if n.op == "output"]
        if len(outs) != 1:
            raise ValueError("replace_pattern: the pattern graph must have exactly one output")
        self.returning: list[Node] = _flat_nodes(outs[0].args[0])
        if not self.returning or not all(
            isinstance(n, Node) and n.op != "placeholder" for n in self.returning
        ):
            raise NotImplementedError(
                "replace_pattern: the pattern must return computed values (not inputs or constants)"
            )
        self.placeholders = [n for n in nodes if n.op == "placeholder"]
        anchors = [n for n in self.returning if len(n.users) == 1]
        self.anchors = anchors or list(self.returning)
        self.inner = [n for n in nodes if n.op not in ("placeholder", "output")]

    def match_value(self, p: Any, g: Any, m: dict[Node, Any]) -> bool:
        if isinstance(p, Node):
            if isinstance(g, Node):
                return self.match_node(p, g, m)
            if p.op != "placeholder":
                return False
            if p in m:  # an input bound to a constant: the same constant again
                return not isinstance(m[p], Node) and type(m[p]) is type(g) and _equal(m[p], g)
            m[p] = g
            return True
        if isinstance(g, Node):
            return False
        if isinstance(p, (list, tuple)) and isinstance(g, (list, tuple)):
            return len(p) == len(g) and all(self.match_value(a, b, m) for a, b in zip(p, g, strict=True))
        if isinstance(p, dict) and isinstance(g, dict):
            return p.keys() == g.keys() and all(self.match_value(p[k], g[k], m) for k in p)
        if self.ignore_literals:
            return True
        return type(p) is type(g) and _equal(p, g)

    def match_node(self, p: Node, g: Node, m: dict[Node, Any]) -> bool:
        if p in m:
            return m[p] is g
        if p.op == "placeholder":
            m[p] = g
            return True
        if (
            p.op != g.op
            or p.target != g.target
            or len(p.args) != len(g.args)
            or p.kwargs.keys() != g.kwargs.keys()
            or any(v is g for q, v in m.items() if q.op != "placeholder")
        ):
            return False
        m[p] = g
        return all(self.match_value(a, b, m) for a, b in zip(p.args, g.args, strict=True)) and all(
            self.match_value(p.kwargs[k], g.kwargs[k], m) for k in p.kwargs
        )

    def match_at(self, first: Node, candidates: Sequence[Node]) -> dict[Node, Any] | None:
        """A mapping with the first anchor at ``first`` (the other anchors searched among
        ``candidates``), or None."""

        def extend(i: int, m: dict[Node, Any]) -> dict[Node, Any] | None:
            if i == len(self.anchors):
                return m if all(r in m for r in self.returning) else None
            p = self.anchors[i]
            if p in m:
                return extend(i + 1, m)
            for g in [first] if i == 0 else candidates:
                trial = dict(m)
                if self.match_node(p, g, trial):
                    found = extend(i + 1, trial)
                    if found is not None:
                        return found
            return None

        return extend(0, {})


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - values that cannot be compared are different
        return False


def replace_pattern(gm: GraphModule, pattern: _Pattern, replacement: _Pattern) -> list[Match]:
    """Replaces every non-overlapping occurrence of ``pattern`` in ``gm``'s graph with
    ``replacement`` (functions are traced with :func:`symbolic_trace`; graphs and graph modules
    are used as they are; their inputs correspond by position, and their results too when they
    return tuples) and recompiles ``gm``. Values computed inside an occurrence must not be used
    outside it, except its results. Returns the occurrences replaced, in graph order.

    Example:
        >>> def pattern(x): return rustdl.relu(x)
        >>> def replacement(x): return rustdl.nn.functional.gelu(x)
        >>> replace_pattern(gm, pattern, replacement)
    """
    done = _replace_pattern(gm, pattern, replacement, None, False, None)
    return [Match(anchor=r.anchor, nodes_map=r.nodes_map) for r in done]


def replace_pattern_with_filters(
    gm: GraphModule,
    pattern: _Pattern,
    replacement: _Pattern | None = None,
    match_filters: list[Callable[[InternalMatch, Graph, Graph], bool]] | None = None,
    ignore_literals: bool = False,
    replacement_callback: Callable[[InternalMatch, Graph, Graph], Graph] | None = None,
) -> list[ReplacedPatterns]:
    """As :func:`replace_pattern`, and: an occurrence is replaced only when every filter
    ``f(match, gm.graph, pattern_graph)`` returns true (``match`` an
    :class:`~rustdl.fx.passes.utils.matcher_utils.InternalMatch`); with ``ignore_literals``,
    constant arguments of the pattern match any constant; ``replacement_callback`` gives the
    replacement graph of each occurrence (instead of ``replacement``). Returns
    :class:`ReplacedPatterns` records."""
    return _replace_pattern(gm, pattern, replacement, match_filters, ignore_literals, replacement_callback)


def _replace_pattern(
    gm: GraphModule,
    pattern: _Pattern,
    replacement: _Pattern | None,
    match_filters: list[Callable[[InternalMatch, Graph, Graph], bool]] | None,
    ignore_literals: bool,
    replacement_callback: Callable[[InternalMatch, Graph, Graph], Graph] | None,
) -> list[ReplacedPatterns]:
    if replacement is None and replacement_callback is None:
        raise ValueError("replace_pattern: give a replacement or a replacement_callback")
    p_graph, _ = _as_graph(pattern)
    matcher = _Matcher(p_graph, ignore_literals)
    graph = gm.graph
    nodes = [n for n in graph.nodes if n.op not in ("placeholder", "output")]
    anchor_target = matcher.anchors[0]
    taken: set[Node] = set()
    found: list[InternalMatch] = []
    for cand in nodes:
        if cand in taken or cand.op != anchor_target.op or cand.target != anchor_target.target:
            continue
        m = matcher.match_at(cand, [n for n in nodes if n not in taken])
        if m is None:
            continue
        inner = [m[p] for p in matcher.inner if p in m]
        if any(g in taken for g in inner):
            continue
        returning = [m[p] for p in matcher.returning]
        inner_set = set(inner)
        # values computed inside the occurrence (other than its results) cannot be removed when
        # used outside it
        if any(u not in inner_set for g in inner if g not in returning for u in g.users):
            continue
        match = InternalMatch(
            anchors=list(matcher.anchors),
            nodes_map=m,
            placeholder_nodes=[m.get(p) for p in matcher.placeholders],
            returning_nodes=returning,
        )
        if match_filters and not all(f(match, graph, p_graph) for f in match_filters):
            continue
        taken |= inner_set
        found.append(match)

    r_fixed = _as_graph(replacement) if replacement is not None else None
    done: list[ReplacedPatterns] = []
    for match in found:
        if replacement_callback is not None:
            r_graph, r_owner = replacement_callback(match, graph, p_graph), None
        else:
            assert r_fixed is not None
            r_graph, r_owner = r_fixed
        r_inputs = [n for n in r_graph.nodes if n.op == "placeholder"]
        if len(r_inputs) != len(matcher.placeholders):
            raise ValueError(
                "replace_pattern: the pattern and the replacement take different numbers of inputs"
            )
        val_map: dict[Node, Any] = {}
        for p, r in zip(matcher.placeholders, r_inputs, strict=True):
            if p not in match.nodes_map:
                raise ValueError(f"replace_pattern: the pattern's input '{p.name}' is unused")
            val_map[r] = match.nodes_map[p]
        # the replacement goes before the first use of the occurrence's results
        order = {n: i for i, n in enumerate(graph.nodes)}
        inner_set = {g for p, g in match.nodes_map.items() if p.op != "placeholder"}
        users = [u for g in match.returning_nodes for u in g.users if u not in inner_set]
        if users:
            with graph.inserting_before(min(users, key=order.__getitem__)):
                out = graph.graph_copy(r_graph, val_map)
        else:
            with graph.inserting_after(max(inner_set, key=order.__getitem__)):
                out = graph.graph_copy(r_graph, val_map)
        outs = _flat_nodes(out)
        if len(outs) != len(match.returning_nodes):
            raise ValueError(
                f"replace_pattern: the pattern returns {len(match.returning_nodes)} values, the "
                f"replacement {len(outs)}"
            )
        for old, new in zip(match.returning_nodes, outs, strict=True):
            if not isinstance(new, Node):
                raise NotImplementedError("replace_pattern: the replacement must return computed values")
            old.replace_all_uses_with(new)
        for g in reversed(list(graph.nodes)):
            if g in inner_set and not g.users:
                graph.erase_node(g)
        replacements = [val_map[n] for n in r_graph.nodes if n.op not in ("placeholder", "output")]
        done.append(ReplacedPatterns(match.anchors[0], match.nodes_map, replacements))
        owner = r_owner if r_owner is not None else r_graph.owning_module
        for n in r_graph.nodes:
            if n.op in ("get_attr", "call_module") and not _has_path(gm, str(n.target)):
                if owner is None:
                    raise RuntimeError(f"replace_pattern: the replacement's '{n.target}' has no module")
                _copy_attr(owner, gm, str(n.target))
    gm.recompile()
    return done


def _has_path(obj: Any, target: str) -> bool:
    for part in target.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True
