"""Subgraph rewriting: :func:`replace_pattern` finds the occurrences of a pattern (a traced
function) in a graph module and replaces each with a replacement (another traced function)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .graph_module import GraphModule, _copy_attr
from .node import Node

__all__ = ["Match", "replace_pattern"]


class Match(NamedTuple):
    """One occurrence: ``anchor`` is the graph node matching the pattern's result, ``nodes_map``
    maps each pattern node to its graph node."""

    anchor: Node
    nodes_map: dict[Node, Node]


def _as_graph_module(fn: Callable[..., Any] | GraphModule) -> GraphModule:
    if isinstance(fn, GraphModule):
        return fn
    from ._symbolic_trace import symbolic_trace

    return symbolic_trace(fn)


def _match_value(p: Any, g: Any, m: dict[Node, Node]) -> bool:
    if isinstance(p, Node):
        return isinstance(g, Node) and _match_node(p, g, m)
    if isinstance(p, (list, tuple)):
        return (
            isinstance(g, (list, tuple))
            and len(p) == len(g)
            and all(_match_value(a, b, m) for a, b in zip(p, g, strict=True))
        )
    if isinstance(p, dict):
        return isinstance(g, dict) and p.keys() == g.keys() and all(_match_value(p[k], g[k], m) for k in p)
    if isinstance(g, Node):
        return False
    try:
        return bool(type(p) is type(g) and p == g)
    except Exception:  # noqa: BLE001 - values that cannot be compared do not match
        return False


def _match_node(p: Node, g: Node, m: dict[Node, Node]) -> bool:
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
    ):
        return False
    m[p] = g
    return all(_match_value(a, b, m) for a, b in zip(p.args, g.args, strict=True)) and all(
        _match_value(p.kwargs[k], g.kwargs[k], m) for k in p.kwargs
    )


def replace_pattern(
    gm: GraphModule, pattern: Callable[..., Any] | GraphModule, replacement: Callable[..., Any] | GraphModule
) -> list[Match]:
    """Replaces every non-overlapping occurrence of ``pattern`` in ``gm``'s graph with
    ``replacement`` (both traced with :func:`symbolic_trace` unless already graph modules; their
    inputs correspond by position) and recompiles ``gm``. Intermediate values of an occurrence
    must not be used outside it. Returns the occurrences replaced.

    Example:
        >>> def pattern(x): return rustdl.relu(x)
        >>> def replacement(x): return rustdl.nn.functional.gelu(x)
        >>> replace_pattern(gm, pattern, replacement)
    """
    p_gm, r_gm = _as_graph_module(pattern), _as_graph_module(replacement)
    p_nodes = list(p_gm.graph.nodes)
    p_out = [n for n in p_nodes if n.op == "output"]
    if len(p_out) != 1 or not isinstance(p_out[0].args[0], Node):
        raise NotImplementedError("replace_pattern: the pattern must return exactly one traced value")
    p_result: Node = p_out[0].args[0]
    p_inputs = [n for n in p_nodes if n.op == "placeholder"]
    r_inputs = [n for n in r_gm.graph.nodes if n.op == "placeholder"]
    if len(p_inputs) != len(r_inputs):
        raise ValueError("replace_pattern: the pattern and the replacement take different numbers of inputs")

    graph = gm.graph
    taken: set[Node] = set()
    matches: list[Match] = []
    for anchor in reversed(graph.nodes):
        if anchor in taken or anchor.op in ("placeholder", "output"):
            continue
        m: dict[Node, Node] = {}
        if not _match_node(p_result, anchor, m):
            continue
        inner = {g for p, g in m.items() if p.op != "placeholder"}
        if inner & taken:
            continue
        # an intermediate value used outside the occurrence cannot be removed
        if any(u not in inner for g in inner if g is not anchor for u in g.users):
            continue
        taken |= inner
        matches.append(Match(anchor, m))

    for match in matches:
        val_map: dict[Node, Any] = {r: match.nodes_map[p] for p, r in zip(p_inputs, r_inputs, strict=True)}
        with graph.inserting_before(match.anchor):
            out = graph.graph_copy(r_gm.graph, val_map)
        if isinstance(out, Node):
            match.anchor.replace_all_uses_with(out)
        else:
            raise NotImplementedError("replace_pattern: the replacement must return exactly one traced value")
        inner_ids = {id(g) for p, g in match.nodes_map.items() if p.op != "placeholder"}
        for g in reversed(graph.nodes):
            if id(g) in inner_ids and not g.users:
                graph.erase_node(g)
    for n in r_gm.graph.nodes:
        if n.op in ("get_attr", "call_module") and not _has_path(gm, str(n.target)):
            _copy_attr(r_gm, gm, str(n.target))
    gm.recompile()
    return matches


def _has_path(obj: Any, target: str) -> bool:
    for part in target.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True
