"""Running a graph node by node (:class:`Interpreter`), and rewriting it by running it on
proxies (:class:`Transformer`). Override the per-kind methods to change what a node does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .. import nn
from .graph import Graph
from .graph_module import GraphModule
from .node import Argument, Node, Target, map_aggregate, map_arg
from .proxy import Proxy, TracerBase

__all__ = ["Interpreter", "Transformer"]


class Interpreter:
    """Runs ``module``'s graph (or ``graph``) one node at a time: :meth:`run` calls
    :meth:`run_node` for each node, which calls the method named after the node's kind
    (:meth:`placeholder`, :meth:`get_attr`, :meth:`call_function`, :meth:`call_method`,
    :meth:`call_module`, :meth:`output`) with the node's arguments filled in.

    With ``garbage_collect_values``, each value is dropped after its last use.

    Example:
        >>> class Doubling(Interpreter):
        ...     def call_function(self, target, args, kwargs):
        ...         return super().call_function(target, args, kwargs) * 2
        >>> Doubling(gm).run(x)
    """

    def __init__(
        self, module: nn.Module, garbage_collect_values: bool = True, graph: Graph | None = None
    ) -> None:
        self.module = module
        self.submodules = dict(module.named_modules())
        if graph is None:
            graph = module.graph
            if not isinstance(graph, Graph):
                raise TypeError("Interpreter: the module has no FX graph; pass graph=")
        self.graph: Graph = graph
        self.env: dict[Node, Any] = {}
        self.name = "Interpreter"
        self.garbage_collect_values = garbage_collect_values
        self.extra_traceback = True
        # node -> the values whose last use it is
        self.user_to_last_uses: dict[Node, list[Node]] = {}
        seen: set[Node] = set()
        for node in reversed(self.graph.nodes):
            for inp in node.all_input_nodes:
                if inp not in seen:
                    seen.add(inp)
                    self.user_to_last_uses.setdefault(node, []).append(inp)

    def run(
        self, *args: Any, initial_env: dict[Node, Any] | None = None, enable_io_processing: bool = True
    ) -> Any:
        """Runs the graph on ``args`` (the placeholders' values, in order) and returns the
        output. ``initial_env`` gives values of nodes that are then not run."""
        self.env = dict(initial_env) if initial_env is not None else {}
        if enable_io_processing:
            args = tuple(self.graph.process_inputs(*args))
        self.args_iter: Iterator[Any] = iter(args)
        for node in self.graph.nodes:
            if node in self.env:
                continue
            try:
                self.env[node] = self.run_node(node)
            except Exception as e:
                if self.extra_traceback:
                    msg = f"While executing {node.format_node()}"
                    e.args = (
                        (f"{e.args[0]}\n\n{msg}",) + e.args[1:]
                        if e.args and isinstance(e.args[0], str)
                        else e.args
                    )
                raise
            if self.garbage_collect_values:
                for dead in self.user_to_last_uses.get(node, []):
                    self.env.pop(dead, None)
            if node.op == "output":
                out = self.env[node]
                return self.graph.process_outputs(out) if enable_io_processing else out
        return None

    def boxed_run(self, args_list: list[Any]) -> Any:
        """:meth:`run` with the inputs given as a list, which is emptied (so the caller holds
        no references to them while the graph runs)."""
        args_iter = iter(args_list)
        env: dict[Node, Any] = {}
        for n in self.graph.nodes:
            if n.op == "placeholder":
                env[n] = next(args_iter)
        args_list.clear()
        return self.run(initial_env=env)

    def run_node(self, n: Node) -> Any:
        """Runs one node: its arguments are looked up in the environment and the method named
        after its kind is called."""
        args, kwargs = self.fetch_args_kwargs_from_env(n)
        assert isinstance(args, tuple) and isinstance(kwargs, dict)
        return getattr(self, n.op)(n.target, args, kwargs)

    # ---------- the node kinds ----------

    def placeholder(self, target: Target, args: tuple[Argument, ...], kwargs: dict[str, Any]) -> Any:
        """The next input (``*args`` placeholders take the rest); the default when the inputs
        are used up."""
        assert isinstance(target, str)
        if target.startswith("**"):
            return {}  # run() takes positional inputs only
        if target.startswith("*"):
            return list(self.args_iter)
        try:
            return next(self.args_iter)
        except StopIteration:
            if args:
                return args[0]
            raise RuntimeError(
                f"Expected positional argument for parameter {target}, but one was not passed in!"
            ) from None

    def get_attr(self, target: Target, args: tuple[Argument, ...], kwargs: dict[str, Any]) -> Any:
        """The module's attribute ``target``."""
        assert isinstance(target, str)
        return self.fetch_attr(target)

    def call_function(self, target: Target, args: tuple[Argument, ...], kwargs: dict[str, Any]) -> Any:
        """``target(*args, **kwargs)``."""
        assert callable(target)
        return target(*args, **kwargs)

    def call_method(self, target: Target, args: tuple[Argument, ...], kwargs: dict[str, Any]) -> Any:
        """``args[0].<target>(*args[1:], **kwargs)``."""
        self_obj, *rest = args
        assert isinstance(target, str)
        return getattr(self_obj, target)(*rest, **kwargs)

    def call_module(self, target: Target, args: tuple[Argument, ...], kwargs: dict[str, Any]) -> Any:
        """The submodule ``target`` called on the arguments."""
        assert isinstance(target, str)
        return self.fetch_attr(target)(*args, **kwargs)

    def output(self, target: Target, args: tuple[Argument, ...], kwargs: dict[str, Any]) -> Any:
        """The graph's result."""
        return args[0]

    # ---------- helpers ----------

    def fetch_attr(self, target: str) -> Any:
        """The object at the dotted path ``target`` of the module."""
        obj: Any = self.module
        done: list[str] = []
        for part in target.split("."):
            if not hasattr(obj, part):
                raise RuntimeError(f"Node referenced nonexistent target {'.'.join([*done, part])}")
            obj = getattr(obj, part)
            done.append(part)
        return obj

    def fetch_args_kwargs_from_env(self, n: Node) -> tuple[Any, Any]:
        """``n``'s arguments with each node replaced by its value."""
        args = self.map_nodes_to_values(n.args, n)
        kwargs = self.map_nodes_to_values(n.kwargs, n)
        return args, kwargs

    def map_nodes_to_values(self, args: Argument, n: Node) -> Argument:
        """``args`` with each node replaced by its computed value."""

        def load(n_arg: Node) -> Any:
            if n_arg not in self.env:
                raise RuntimeError(
                    f"Node {n} referenced nonexistent value {n_arg}! Run Graph.lint() to diagnose such issues"
                )
            return self.env[n_arg]

        return map_arg(args, load)


class _TransformerTracer(TracerBase):
    def __init__(self, graph: Graph) -> None:
        super().__init__()
        self.graph = graph


class Transformer(Interpreter):
    """Builds a new graph by running the module's graph on proxies: each per-kind method records
    the node in :attr:`new_graph` (override them to record something else). :meth:`transform`
    gives the new :class:`GraphModule`."""

    def __init__(self, module: GraphModule) -> None:
        super().__init__(module)
        self.new_graph = Graph()
        self.new_graph._pytree_info = self.graph._pytree_info
        if self.graph._pytree_info is not None:
            targets = {n.target for n in self.graph.nodes if n.op == "placeholder"}
            for name in self.graph._pytree_info.orig_args:
                if name not in targets:
                    self.new_graph._used_names._used.add(name)
        self.tracer = _TransformerTracer(self.new_graph)

    def placeholder(self, target: Target, args: tuple[Argument, ...], kwargs: dict[str, Any]) -> Proxy:
        assert isinstance(target, str)
        node = (
            self.new_graph.placeholder(target, default_value=args[0])
            if args
            else self.new_graph.placeholder(target)
        )
        return Proxy(node, self.tracer)

    def get_attr(self, target: Target, args: tuple[Argument, ...], kwargs: dict[str, Any]) -> Proxy:
        assert isinstance(target, str)
        return self.tracer.create_proxy("get_attr", target, args, kwargs)

    def call_module(self, target: Target, args: tuple[Argument, ...], kwargs: dict[str, Any]) -> Any:
        assert isinstance(target, str)
        return self.tracer.create_proxy("call_module", target, args, kwargs)

    def call_function(self, target: Target, args: tuple[Argument, ...], kwargs: dict[str, Any]) -> Any:
        return self.tracer.create_proxy("call_function", target, args, kwargs)

    def call_method(self, target: Target, args: tuple[Argument, ...], kwargs: dict[str, Any]) -> Any:
        return self.tracer.create_proxy("call_method", target, args, kwargs)

    def transform(self) -> GraphModule:
        """The module whose graph is the transformed one."""
        result = self.run(enable_io_processing=False)
        if result is not None:
            new_out = self.new_graph.output(
                map_aggregate(result, lambda x: x.node if isinstance(x, Proxy) else x)
            )
            # the output node's annotations carry over
            old_out = [n for n in self.graph.nodes if n.op == "output"]
            if old_out:
                new_out.meta.update(old_out[-1].meta)
                new_out.type = old_out[-1].type
        return GraphModule(self.module, self.new_graph)
