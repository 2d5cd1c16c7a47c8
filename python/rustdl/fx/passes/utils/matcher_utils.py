"""Subgraph matches, as :func:`rustdl.fx.subgraph_rewriter.replace_pattern_with_filters` hands
them to its filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...node import Node

__all__ = ["InternalMatch"]


@dataclass
class InternalMatch:
    """One occurrence of a pattern in a graph.

    Attributes:
        anchors: the pattern nodes the search started from (the pattern's results that only
            its output uses).
        nodes_map: pattern node -> graph node (a pattern input may map to a constant).
        placeholder_nodes: the graph values the pattern's inputs matched, in the pattern's
            input order.
        returning_nodes: the graph nodes matching the pattern's results, in order.
        name_node_map: unused (kept for compatibility).
    """

    anchors: list[Node]
    nodes_map: dict[Node, Any] = field(default_factory=dict)
    placeholder_nodes: list[Any] = field(default_factory=list)
    returning_nodes: list[Node] = field(default_factory=list)
    name_node_map: dict[str, Node] = field(default_factory=dict)

    def __copy__(self) -> InternalMatch:
        return InternalMatch(
            anchors=list(self.anchors),
            nodes_map=dict(self.nodes_map),
            placeholder_nodes=list(self.placeholder_nodes),
            returning_nodes=list(self.returning_nodes),
            name_node_map=dict(self.name_node_map),
        )
