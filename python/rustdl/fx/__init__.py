"""``rustdl.fx``: capturing and transforming programs as graphs.

- :func:`symbolic_trace` records a module's ``forward`` (or a function) as a :class:`Graph` of
  :class:`Node` s, by running it on :class:`Proxy` values;
- a :class:`GraphModule` runs a graph (Python code generated from it, :attr:`GraphModule.code`)
  and is regenerated with :meth:`GraphModule.recompile` after the graph is edited;
- :class:`Interpreter` runs a graph node by node, :class:`Transformer` rewrites one;
- :mod:`rustdl.fx.passes.shape_prop` records tensor shapes, :func:`replace_pattern` rewrites
  subgraphs.

Importing this package installs the ``__torch_function__`` protocol's wrappers (proxies rely on
it to see calls of rustdl's functions).

Example:
    >>> gm = rustdl.fx.symbolic_trace(model)
    >>> for node in gm.graph.nodes:
    ...     if node.op == "call_function" and node.target is rustdl.relu:
    ...         node.target = rustdl.nn.functional.gelu
    >>> gm.recompile()
"""

# asserts are kept by dead-code elimination (their value is unused; their check is the point)
import rustdl as _rustdl  # noqa: E402

from . import immutable_collections, node, passes, proxy
from ._symbolic_trace import PH, Tracer, symbolic_trace, wrap
from .graph import Graph, PythonCode
from .graph_module import GraphModule
from .interpreter import Interpreter, Transformer
from .node import Node, has_side_effect, map_arg
from .proxy import Proxy
from .subgraph_rewriter import replace_pattern

for _name in ("_assert", "_assert_async"):
    if hasattr(_rustdl, _name):
        has_side_effect(getattr(_rustdl, _name))

__all__ = [
    "PH",
    "Graph",
    "GraphModule",
    "Interpreter",
    "Node",
    "Proxy",
    "PythonCode",
    "Tracer",
    "Transformer",
    "has_side_effect",
    "immutable_collections",
    "map_arg",
    "node",
    "passes",
    "proxy",
    "replace_pattern",
    "symbolic_trace",
    "wrap",
]
