"""``torchvision.models.feature_extraction``: a model rewritten (through :mod:`rustdl.fx`) to
return some of its intermediate values.

The model is traced symbolically, once in train mode and once in eval mode, by a
:class:`NodePathTracer`, which names every node by where it comes from:

- a leaf module's call by the module's qualified name (``"layer1.0.conv1"``);
- an operation inside a traced-through module by ``"<module path>.<op name>"``
  (``"layer1.0.add"``), and one at the top level by its op name (``"flatten"``);
- a repeat of a name within the same module gets ``_1``, ``_2``... (``"layer1.0.relu_1"``);
- the input by its parameter name (``"x"``).

Leaf modules are rustdl's own layers (not containers), the torchvision ops modules
(``Conv2dNormActivation``, ``SqueezeExcitation``, ``StochasticDepth``...) and those given in
``tracer_kwargs["leaf_modules"]``.

:func:`create_feature_extractor` asks for nodes by name, or by a prefix of names at a ``.``
boundary (``"layer1"``: the last node inside ``layer1``), and gives a :class:`DualGraphModule`
whose forward returns ``{output name: value}``; operations and submodules the outputs do not
need are dropped (its ``state_dict`` has only the needed entries).

Example:
    >>> m = rustdl.models.resnet18()
    >>> train_nodes, eval_nodes = get_graph_node_names(m)
    >>> fe = create_feature_extractor(m, {"layer1": "feat1", "layer3": "feat2"})
    >>> {k: v.shape for k, v in fe(rustdl.randn(1, 3, 224, 224)).items()}
    {'feat1': (1, 64, 56, 56), 'feat2': (1, 256, 14, 14)}
"""

from __future__ import annotations

import copy
import functools
import math
import re
import types
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .. import fx, nn
from ..fx.graph_module import _copy_attr

__all__ = [
    "DualGraphModule",
    "LeafModuleAwareTracer",
    "NodePathTracer",
    "create_feature_extractor",
    "get_graph_node_names",
]

# the module classes of torchvision.ops, which are leaves by default
_OPS_LEAF_NAMES = (
    "Conv2dNormActivation",
    "Conv3dNormActivation",
    "DeformConv2d",
    "DropBlock2d",
    "DropBlock3d",
    "FeaturePyramidNetwork",
    "FrozenBatchNorm2d",
    "MLP",
    "MultiScaleRoIAlign",
    "PSRoIAlign",
    "PSRoIPool",
    "Permute",
    "RoIAlign",
    "RoIPool",
    "SqueezeExcitation",
    "StochasticDepth",
)


class LeafModuleAwareTracer(fx.Tracer):
    """An :class:`rustdl.fx.Tracer` that also keeps instances of ``leaf_modules`` (classes) as
    single ``call_module`` nodes instead of tracing through them."""

    def __init__(self, *args: Any, leaf_modules: Any = (), **kwargs: Any) -> None:
        self.leaf_modules = tuple(leaf_modules or ())
        super().__init__(*args, **kwargs)

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if self.leaf_modules and isinstance(m, self.leaf_modules):
            return True
        return super().is_leaf_module(m, module_qualified_name)


_FX_SUFFIX = re.compile(r".+_[0-9]+$")


class NodePathTracer(LeafModuleAwareTracer):
    """Records, for every node made through :meth:`create_proxy` (inputs, operations, module
    calls, parameter reads), its node name in :attr:`node_to_qualname` (node → name, in the
    order of tracing): the path of the module it was made in, then the op name for anything but
    a module call, with ``_<n>`` added for repeats of a name (counted within the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current_module_qualname = ""
        self.node_to_qualname: OrderedDict[fx.Node, str] = OrderedDict()

    def call_module(
        self,
        m: nn.Module,
        forward: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        saved_qualname, saved_scope = self.current_module_qualname, self.scope
        try:
            qualname = self.path_of_module(m)
            self.current_module_qualname = qualname
            if not self.is_leaf_module(m, qualname):
                self.scope = qualname
                return forward(*args, **kwargs)
            return self.create_proxy("call_module", qualname, args, kwargs)
        finally:
            self.current_module_qualname, self.scope = saved_qualname, saved_scope

    def create_proxy(
        self,
        kind: str,
        target: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None = None,
        type_expr: Any = None,
        proxy_factory_fn: Callable[[fx.Node], fx.Proxy] | None = None,
    ) -> fx.Proxy:
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)
        self.node_to_qualname[proxy.node] = self._node_qualname(self.current_module_qualname, proxy.node)
        return proxy

    def _node_qualname(self, module_qualname: str, node: fx.Node) -> str:
        qualname = module_qualname
        if node.op != "call_module":
            qualname = f"{qualname}.{node.name}" if qualname else node.name
        # the graph numbers repeated names over the whole graph; the count here is per module:
        # drop the graph's suffix, then number after the latest node of the same name
        if _FX_SUFFIX.match(qualname):
            qualname = qualname.rsplit("_", 1)[0]
        same = re.compile(rf"{re.escape(qualname)}(_[0-9]+)?$")
        for earlier in reversed(self.node_to_qualname.values()):
            found = same.match(earlier)
            if found is not None:
                index = int(found.group(1)[1:]) + 1 if found.group(1) else 1
                return f"{qualname}_{index}"
        return qualname


def _is_subsequence(seq: list[str], sub: list[str]) -> bool:
    """Whether ``sub``'s items appear in ``seq`` in the same order."""
    it = iter(seq)
    return all(any(s == item for s in it) for item in sub)


def _warn_graph_differences(train_tracer: NodePathTracer, eval_tracer: NodePathTracer) -> None:
    train_nodes = list(train_tracer.node_to_qualname.values())
    eval_nodes = list(eval_tracer.node_to_qualname.values())
    if train_nodes == eval_nodes:
        return
    suggestion = (
        "When choosing nodes for feature extraction, you may need to specify "
        "output nodes for train and eval mode separately."
    )
    if _is_subsequence(train_nodes, eval_nodes):
        msg = (
            "NOTE: The nodes obtained by tracing the model in eval mode "
            "are a subsequence of those obtained in train mode. "
        )
    elif _is_subsequence(eval_nodes, train_nodes):
        msg = (
            "NOTE: The nodes obtained by tracing the model in train mode "
            "are a subsequence of those obtained in eval mode. "
        )
    else:
        msg = (
            "The nodes obtained by tracing the model in train mode are different to those "
            "obtained in eval mode. "
        )
    warnings.warn(msg + suggestion, stacklevel=3)


def _ops_module() -> types.ModuleType | None:
    """The module serving ``torchvision.ops`` (None when it cannot be imported)."""
    try:
        from ..torchcompat.torchvision import ops
    except ImportError:
        return None
    return ops


@functools.cache
def _ops_autowrap_module() -> types.ModuleType | None:
    """The ops module's public API (its ``__all__``) as a module of its own, for
    ``autowrap_modules``: the ops module also holds names such as ``Tensor`` that are no part of
    torchvision.ops, and a traced forward that tests ``isinstance(v, Tensor)`` must keep the
    class."""
    ops = _ops_module()
    if ops is None:
        return None
    api = types.ModuleType(ops.__name__, ops.__doc__)
    for name in getattr(ops, "__all__", ()):
        value = getattr(ops, name, None)
        if callable(value):
            setattr(api, name, value)
    return api


def _ops_leaf_modules() -> list[type]:
    from . import _misc

    ops = _ops_module()
    found: list[type] = []
    for name in _OPS_LEAF_NAMES:
        cls = getattr(ops, name, None) if ops is not None else None
        if cls is None:
            cls = getattr(_misc, name, None)
        if isinstance(cls, type) and issubclass(cls, nn.Module) and cls not in found:
            found.append(cls)
    return found


def _tracer_kwargs_with_defaults(given: dict[str, Any] | None) -> dict[str, Any]:
    """``given`` (updated in place, as torchvision does) with ``math`` and the ops module added to
    ``autowrap_modules`` and the ops module classes to ``leaf_modules``."""
    kwargs = {} if given is None else given
    ops = _ops_autowrap_module()
    default_autowrap: tuple[types.ModuleType, ...] = (math,) if ops is None else (math, ops)
    default_leaves = _ops_leaf_modules()
    if "autowrap_modules" in kwargs:
        mods = list(kwargs["autowrap_modules"])
        kwargs["autowrap_modules"] = tuple(mods + [m for m in default_autowrap if m not in mods])
    else:
        kwargs["autowrap_modules"] = default_autowrap
    if "leaf_modules" in kwargs:
        leaves = list(kwargs["leaf_modules"])
        kwargs["leaf_modules"] = leaves + [c for c in default_leaves if c not in leaves]
    else:
        kwargs["leaf_modules"] = default_leaves
    return kwargs


def get_graph_node_names(
    model: nn.Module,
    tracer_kwargs: dict[str, Any] | None = None,
    suppress_diff_warning: bool = False,
    concrete_args: dict[str, Any] | None = None,
) -> tuple[list[str], list[str]]:
    """The node names of ``model`` in the order they run, from tracing it in train mode and in
    eval mode: the names :func:`create_feature_extractor` accepts. Warns when the two differ
    (unless ``suppress_diff_warning``). ``tracer_kwargs`` go to :class:`NodePathTracer`
    (``leaf_modules``, ``autowrap_functions``, ``autowrap_modules``); ``concrete_args`` to
    :meth:`rustdl.fx.Tracer.trace`.

    Example:
        >>> train_nodes, eval_nodes = get_graph_node_names(rustdl.models.resnet18())
        >>> train_nodes[:6]
        ['x', 'conv1', 'bn1', 'relu', 'maxpool', 'layer1.0.conv1']
    """
    tracer_kwargs = _tracer_kwargs_with_defaults(tracer_kwargs)
    was_training = model.training
    try:
        train_tracer = NodePathTracer(**tracer_kwargs)
        train_tracer.trace(model.train(), concrete_args=concrete_args)
        eval_tracer = NodePathTracer(**tracer_kwargs)
        eval_tracer.trace(model.eval(), concrete_args=concrete_args)
    finally:
        model.train(was_training)
    if not suppress_diff_warning:
        _warn_graph_differences(train_tracer, eval_tracer)
    return list(train_tracer.node_to_qualname.values()), list(eval_tracer.node_to_qualname.values())


class DualGraphModule(fx.GraphModule):
    """A :class:`rustdl.fx.GraphModule` with a graph for train mode and one for eval mode:
    ``train()`` / ``eval()`` switch the graph it runs. It holds the submodules, parameters and
    buffers either graph uses, shared with ``root``.

    Args:
        root: the module the graphs were traced from.
        train_graph: the graph run in train mode.
        eval_graph: the graph run in eval mode.
        class_name: the name of this module's class.
    """

    def __init__(
        self,
        root: nn.Module,
        train_graph: fx.Graph,
        eval_graph: fx.Graph,
        class_name: str = "GraphModule",
    ) -> None:
        nn.Module.__init__(self)
        type(self).__name__ = class_name
        object.__setattr__(self, "train_graph", train_graph)
        object.__setattr__(self, "eval_graph", eval_graph)
        for graph in (train_graph, eval_graph):
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    if not isinstance(node.target, str):
                        raise TypeError(f"node.target should be of type str instead of {type(node.target)}")
                    _copy_attr(root, self, node.target)
        object.__setattr__(self, "meta", {})
        self.train()
        self.graph = train_graph
        if eval_graph._tracer_cls != train_graph._tracer_cls:
            raise TypeError(
                "Train mode and eval mode should use the same tracer class. Instead got "
                f"{eval_graph._tracer_cls} for eval vs {train_graph._tracer_cls} for train"
            )
        tracer_cls = train_graph._tracer_cls
        object.__setattr__(
            self,
            "_tracer_cls",
            tracer_cls if tracer_cls is not None and "<locals>" not in tracer_cls.__qualname__ else None,
        )

    def train(self, mode: bool = True) -> DualGraphModule:
        """Sets the mode, running :attr:`train_graph` in train mode and :attr:`eval_graph` in
        eval mode."""
        if "_graph" in self.__dict__:
            if mode and not self.training:
                self.graph = self.train_graph
            elif not mode and self.training:
                self.graph = self.eval_graph
        nn.Module.train(self, mode)
        return self

    def _state(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_graph", "_code")}

    def __deepcopy__(self, memo: dict[int, Any]) -> DualGraphModule:
        holder = nn.Module()
        memo[id(self)] = holder
        holder.__dict__.update(copy.deepcopy(self._state(), memo))
        out = _rebuild_dual(holder.__dict__, type(self).__name__)
        memo[id(self)] = out
        return out

    def __copy__(self) -> DualGraphModule:
        return _rebuild_dual(dict(self._state()), type(self).__name__)

    def __reduce__(self) -> Any:
        return (_rebuild_dual, (self._state(), type(self).__name__))


def _rebuild_dual(state: dict[str, Any], class_name: str) -> DualGraphModule:
    holder = nn.Module()
    holder.__dict__.update(state)
    training = bool(state.get("training", True))
    out = DualGraphModule(holder, state["train_graph"], state["eval_graph"], class_name)
    for k, v in state.items():
        if k not in out.__dict__:
            object.__setattr__(out, k, v)
    object.__setattr__(out, "meta", dict(state.get("meta", {})))
    out.train(training)
    return out


def _as_strdict(nodes: Any) -> dict[str, str]:
    if isinstance(nodes, (list, tuple)):
        return {str(n): str(n) for n in nodes}
    return {str(k): str(v) for k, v in dict(nodes).items()}


def _matches(query: str, name: str) -> bool:
    """Whether node ``name`` is ``query`` or lies inside it (``query`` + ``"."`` + ...)."""
    return name == query or name.startswith(query + ".")


def _unknown_node_error(query: str, mode: str, available: list[str]) -> ValueError:
    shown = ", ".join(available)
    return ValueError(
        f"node: '{query}' is not present in model ({mode} mode). Hint: use "
        "`get_graph_node_names` to make sure the `return_nodes` you specified are present. "
        "It may even be that you need to specify `train_return_nodes` and `eval_return_nodes` "
        f"separately. A node name, or a prefix of node names up to a '.', is one of: {shown}"
    )


def create_feature_extractor(
    model: nn.Module,
    return_nodes: list[str] | dict[str, str] | None = None,
    train_return_nodes: list[str] | dict[str, str] | None = None,
    eval_return_nodes: list[str] | dict[str, str] | None = None,
    tracer_kwargs: dict[str, Any] | None = None,
    suppress_diff_warning: bool = False,
    concrete_args: dict[str, Any] | None = None,
) -> DualGraphModule:
    """A module whose forward returns the values of some of ``model``'s nodes as a dict
    ``{output name: value}`` (in the order the nodes run).

    Args:
        model: the model (traced with :class:`NodePathTracer`).
        return_nodes: node names (list) or a dict node name → output name. A name may be a
            prefix of node names up to a ``.`` (``"layer1"``): it means the last node whose name
            is it or starts with it and a ``.``.
        train_return_nodes, eval_return_nodes: instead of ``return_nodes``, the nodes for
            train mode and for eval mode (both must be given).
        tracer_kwargs: for :class:`NodePathTracer`: ``leaf_modules`` (classes not traced
            through), ``autowrap_functions``, ``autowrap_modules``.
        suppress_diff_warning: no warning when the train and eval graphs differ.
        concrete_args: inputs fixed to values while tracing (see :meth:`rustdl.fx.Tracer.trace`).

    Returns:
        a :class:`DualGraphModule` (in ``model``'s mode) without the operations and submodules
        the outputs do not need.

    Raises:
        ValueError: when the node arguments are inconsistent, or a name is not a node (the
            message lists the node names).
    """
    tracer_kwargs = _tracer_kwargs_with_defaults(tracer_kwargs)
    was_training = model.training
    if return_nodes is None and train_return_nodes is None and eval_return_nodes is None:
        raise ValueError(
            "Either `return_nodes` or `train_return_nodes` and `eval_return_nodes` together, should be specified"
        )
    if (train_return_nodes is None) != (eval_return_nodes is None):
        raise ValueError(
            "If any of `train_return_nodes` and `eval_return_nodes` are specified, then both should be specified"
        )
    if (return_nodes is None) == (train_return_nodes is None):
        raise ValueError(
            "If `train_return_nodes` and `eval_return_nodes` are specified, then `return_nodes` should not be"
        )
    if train_return_nodes is None:
        wanted = {"train": _as_strdict(return_nodes), "eval": _as_strdict(return_nodes)}
    else:
        wanted = {"train": _as_strdict(train_return_nodes), "eval": _as_strdict(eval_return_nodes)}

    tracers: dict[str, NodePathTracer] = {}
    graphs: dict[str, fx.Graph] = {}
    name = type(model).__name__
    try:
        for mode in ("train", "eval"):
            model.train(mode == "train")
            tracer = NodePathTracer(**tracer_kwargs)
            graph = tracer.trace(model, concrete_args=concrete_args)
            assert tracer.root is not None
            graph_module = fx.GraphModule(tracer.root, graph, name)
            available = list(tracer.node_to_qualname.values())
            if len(set(available)) != len(available):
                raise ValueError(
                    f"create_feature_extractor: node names repeat in the {mode} graph: {available}"
                )
            queries = dict(wanted[mode])
            for query in queries:
                if not any(_matches(query, n) for n in available):
                    raise _unknown_node_error(query, mode, available)

            outputs = [n for n in graph.nodes if n.op == "output"]
            if not outputs:
                raise ValueError("No output nodes found in graph_module.graph.nodes")
            for n in outputs:
                graph.erase_node(n)

            # the last node of each query (latest first), then put back in graph order
            nodes = list(graph.nodes)
            chosen: list[tuple[str, fx.Node]] = []
            for n in reversed(nodes):
                qualname = tracer.node_to_qualname.get(n)
                if qualname is None:  # tensor constants and the like, made without a name
                    continue
                for query in queries:
                    depth = query.count(".")
                    if ".".join(qualname.split(".")[: depth + 1]) == query:
                        chosen.append((queries.pop(query), n))
                        break
            result = OrderedDict(reversed(chosen))
            with graph.inserting_after(nodes[-1]):
                graph.output(result)
            graph.eliminate_dead_code()
            graph_module.recompile()
            tracers[mode] = tracer
            graphs[mode] = graph
    finally:
        model.train(was_training)

    if not suppress_diff_warning:
        _warn_graph_differences(tracers["train"], tracers["eval"])
    extractor = DualGraphModule(model, graphs["train"], graphs["eval"], class_name=name)
    extractor.train(was_training)
    return extractor
