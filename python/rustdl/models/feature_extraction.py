"""``torchvision.models.feature_extraction``: a model that returns the outputs of some of another
model's modules. rustdl runs eagerly and has no FX tracer, so the nodes that can be asked for are
the model's modules by qualified name (``"layer1"``, ``"layer2.0.conv1"``): a module's node is
its output, as torchvision's is the output of the last operation inside it. The extractor shares
the model's submodules (its ``state_dict`` keys are the model's) and stops the forward once the
last wanted output is known, as torchvision's truncated graph does."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .. import nn

__all__ = ["create_feature_extractor", "get_graph_node_names"]


def get_graph_node_names(
    model: nn.Module,
    tracer_kwargs: Any = None,
    suppress_diff_warning: bool = False,
    concrete_args: Any = None,
) -> tuple[list[str], list[str]]:
    """The node names :func:`create_feature_extractor` accepts for ``model``, for train and eval
    mode: the input ``"x"`` and every submodule's qualified name, in definition order."""
    names = ["x"] + [name for name, _ in model.named_modules() if name]
    return names, list(names)


def _as_mapping(nodes: Any) -> dict[str, str] | None:
    if nodes is None:
        return None
    if isinstance(nodes, (list, tuple)):
        return {str(n): str(n) for n in nodes}
    return {str(k): str(v) for k, v in dict(nodes).items()}


class _Done(Exception):
    """Raised inside the forward once every wanted output is known."""


class FeatureExtractor(nn.Module):
    """The model's children under their own names; ``forward`` returns the wanted outputs as a
    dict ``{output name: value}`` in the order they were asked for."""

    def __init__(self, model: nn.Module, train_nodes: dict[str, str], eval_nodes: dict[str, str]) -> None:
        super().__init__()
        object.__setattr__(self, "_source", model)
        for name, child in model.named_children():
            self.add_module(name, child)
        for name, p in model.named_parameters(recurse=False):
            self.register_parameter(name, p)
        for name, b in model.named_buffers(recurse=False):
            self.register_buffer(name, b)
        self.train_return_nodes = train_nodes
        self.eval_return_nodes = eval_nodes
        self.training = model.training

    def train(self, mode: bool = True) -> FeatureExtractor:
        super().train(mode)
        self._source.train(mode)
        return self

    def forward(self, x: Any) -> dict[str, Any]:
        wanted = self.train_return_nodes if self.training else self.eval_return_nodes
        found: dict[str, Any] = {}
        if "x" in wanted:
            found["x"] = x
        modules = dict(self._source.named_modules())
        handles = []

        def keep(name: str):
            def hook(module: nn.Module, args: Any, output: Any) -> None:
                found[name] = output
                if len(found) == len(wanted):
                    raise _Done

            return hook

        for name in wanted:
            if name != "x":
                handles.append(modules[name].register_forward_hook(keep(name)))
        try:
            if len(found) < len(wanted):
                self._source(x)
        except _Done:
            pass
        finally:
            for h in handles:
                h.remove()
        missing = [n for n in wanted if n not in found]
        if missing:
            raise RuntimeError(f"create_feature_extractor: the forward never ran the module(s) {missing}")
        return OrderedDict((wanted[n], found[n]) for n in wanted)


def create_feature_extractor(
    model: nn.Module,
    return_nodes: Any = None,
    train_return_nodes: Any = None,
    eval_return_nodes: Any = None,
    tracer_kwargs: Any = None,
    suppress_diff_warning: bool = False,
    concrete_args: Any = None,
) -> FeatureExtractor:
    """A module whose forward returns ``{name: output}`` for the asked-for nodes of ``model``
    (``return_nodes`` a list of node names or a dict node name → output name; or separate
    ``train_return_nodes`` and ``eval_return_nodes``). Nodes are the input ``"x"`` and the
    model's modules by qualified name."""
    if return_nodes is not None and (train_return_nodes is not None or eval_return_nodes is not None):
        raise ValueError(
            "create_feature_extractor: give either return_nodes or train_return_nodes and eval_return_nodes"
        )
    if return_nodes is None and (train_return_nodes is None) != (eval_return_nodes is None):
        raise ValueError(
            "If any of `train_return_nodes` and `eval_return_nodes` are specified, then both should be"
        )
    if return_nodes is None and train_return_nodes is None:
        raise ValueError(
            "Either `return_nodes` or `train_return_nodes` and `eval_return_nodes` together, should be specified"
        )
    train_nodes = _as_mapping(return_nodes if return_nodes is not None else train_return_nodes)
    eval_nodes = _as_mapping(return_nodes if return_nodes is not None else eval_return_nodes)
    assert train_nodes is not None and eval_nodes is not None
    known = {name for name, _ in model.named_modules() if name} | {"x"}
    for nodes in (train_nodes, eval_nodes):
        unknown = [n for n in nodes if n not in known]
        if unknown:
            raise ValueError(
                f"create_feature_extractor: node(s) {unknown} are not in the model; rustdl (no FX "
                f"tracer) returns the outputs of modules by qualified name, or the input 'x' "
                f"(get_graph_node_names lists them)"
            )
    return FeatureExtractor(model, train_nodes, eval_nodes)
