"""``torch.fx.experimental.optimization``: graph-level inference optimizations of a module
(folding eval-mode BatchNorms into the convolution or linear layer before them, removing
dropout)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from rustdl import fx, nn
from rustdl.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

__all__ = ["extract_subgraph", "fuse", "matches_module_pattern", "remove_dropout", "replace_node_module"]


def _parent_name(target: str) -> tuple[str, str]:
    """``"a.b.c"`` -> ``("a.b", "c")``."""
    *parent, name = target.rsplit(".", 1)
    return (parent[0] if parent else ""), name


def matches_module_pattern(pattern: Iterable[type], node: fx.Node, modules: dict[str, Any]) -> bool:
    """Whether ``node`` ends a chain of ``call_module`` nodes (each the first argument of the
    next) whose modules have the types of ``pattern`` in order."""
    if len(node.args) == 0:
        return False
    nodes: tuple[Any, fx.Node] = (node.args[0], node)
    for expected_type, current in zip(pattern, nodes, strict=False):
        if not isinstance(current, fx.Node):
            return False
        if current.op != "call_module" or not isinstance(current.target, str):
            return False
        if current.target not in modules:
            return False
        if type(modules[current.target]) is not expected_type:
            return False
    return True


def replace_node_module(node: fx.Node, modules: dict[str, Any], new_module: nn.Module) -> None:
    """Installs ``new_module`` at the path ``node`` calls (in its owner and in ``modules``)."""
    assert isinstance(node.target, str)
    parent_name, name = _parent_name(node.target)
    modules[node.target] = new_module
    parent = modules[parent_name]
    setattr(parent, name, new_module)


def fuse(model: nn.Module, inplace: bool = False, no_trace: bool = False) -> nn.Module:
    """A traced copy of ``model`` (the model itself with ``inplace``) in which each Conv1d/2d/3d
    followed by a BatchNorm1d/2d/3d, and each Linear followed by a BatchNorm1d, is one layer with
    fused weights (see :func:`rustdl.nn.utils.fusion.fuse_conv_bn_eval`). The layers must be in
    eval mode; a layer whose output is used elsewhere too is left as it is. With ``no_trace``, a
    GraphModule given is used without tracing it again.

    Example:
        >>> fused = fuse(model.eval())
        >>> rustdl.allclose(fused(x), model(x), atol=1e-5)
        True
    """
    patterns = [
        (nn.Conv1d, nn.BatchNorm1d),
        (nn.Conv2d, nn.BatchNorm2d),
        (nn.Conv3d, nn.BatchNorm3d),
        (nn.Linear, nn.BatchNorm1d),
    ]
    if not inplace:
        model = copy.deepcopy(model)
    if not no_trace or not isinstance(model, fx.GraphModule):
        fx_model = fx.symbolic_trace(model)
    else:
        fx_model = model
    modules = dict(fx_model.named_modules())
    new_graph = copy.deepcopy(fx_model.graph)
    for pattern in patterns:
        for node in new_graph.nodes:
            if not matches_module_pattern(pattern, node, modules):
                continue
            first = node.args[0]
            assert isinstance(first, fx.Node)
            if len(first.users) > 1:  # the conv/linear output is used by other nodes
                continue
            layer = modules[str(first.target)]
            bn = modules[str(node.target)]
            if not bn.track_running_stats:
                continue
            if pattern[0] is nn.Linear:
                fused_layer = fuse_linear_bn_eval(layer, bn)
            else:
                fused_layer = fuse_conv_bn_eval(layer, bn)
            replace_node_module(first, modules, fused_layer)
            node.replace_all_uses_with(first)
            new_graph.erase_node(node)
    return fx.GraphModule(fx_model, new_graph)


def remove_dropout(model: nn.Module) -> nn.Module:
    """A traced copy of ``model`` without its Dropout calls (each replaced by its input)."""
    fx_model = fx.symbolic_trace(model)

    class _RemoveDropout(fx.Transformer):
        def call_module(self, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if isinstance(self.submodules[target], nn.Dropout):
                assert len(args) == 1
                return args[0]
            return super().call_module(target, args, kwargs)

    return _RemoveDropout(fx_model).transform()


def extract_subgraph(
    orig_module: nn.Module, nodes: list[fx.Node], inputs: list[fx.Node], outputs: list[fx.Node]
) -> fx.GraphModule:
    """A GraphModule computing ``outputs`` from ``inputs`` with the given ``nodes`` (all from
    ``orig_module``'s graph, in order)."""
    new_graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for inp in inputs:
        env[inp] = new_graph.placeholder(inp.name)
    for node in nodes:
        env[node] = new_graph.node_copy(node, lambda x: env[x])
    new_graph.output([env[o] for o in outputs])
    new_graph.lint()
    return fx.GraphModule(orig_module, new_graph)
