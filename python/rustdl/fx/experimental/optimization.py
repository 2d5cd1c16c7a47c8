"""Graph-level inference optimizations (see
:mod:`rustdl.torchcompat._torch_fx_experimental.optimization`, where they live)."""

from ...torchcompat._torch_fx_experimental.optimization import (
    extract_subgraph,
    fuse,
    matches_module_pattern,
    remove_dropout,
    replace_node_module,
)

__all__ = ["extract_subgraph", "fuse", "matches_module_pattern", "remove_dropout", "replace_node_module"]
