"""``Tensor.register_hook``: a function run on the gradient reaching a tensor during backward.

The hook lives in the autograd core (on the leaf, or on the node that produced a non-leaf), so
it runs for ``backward`` and ``autograd.grad`` alike; it may return a replacement gradient of the
same shape (e.g. a gradient-reversal layer), or ``None`` to keep it.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

from ._rustdl import Node as _Node
from ._rustdl import Tensor


class _TensorHookHandle:
    """What ``Tensor.register_hook`` returns: ``remove()`` unregisters the hook."""

    def __init__(self, tensor: Tensor, hook_id: int) -> None:
        self._tensor, self.id = tensor, hook_id

    def remove(self) -> None:
        if self._tensor is not None:
            self._tensor._remove_hook(self.id)
            self._tensor = None

    def __enter__(self) -> _TensorHookHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def _register_hook(self: Tensor, hook: Callable[[Tensor], Tensor | None]) -> _TensorHookHandle:
    """Registers ``hook(grad)`` on this tensor's gradient, as ``torch.Tensor.register_hook``.

    Example:
        >>> x = rustdl.ones(3, requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 2)
        >>> (x * 3).sum().backward()   # x.grad == [6, 6, 6]
        >>> h.remove()
    """
    return _TensorHookHandle(self, self._register_hook(hook))


def _register_post_accumulate_grad_hook(self: Tensor, hook: Callable[[Tensor], None]) -> _TensorHookHandle:
    """Registers ``hook(tensor)``, called once ``backward`` has accumulated this leaf's ``.grad``,
    as ``torch.Tensor.register_post_accumulate_grad_hook``.

    Backward hands each leaf its gradient as soon as the last op that feeds it has run, so the
    hook fires while the rest of the graph is still running (what lets an optimizer step in
    backward, or a data-parallel wrapper start reducing ready gradients). The hook must return
    ``None``; it runs for ``backward`` only (``autograd.grad`` fills no ``.grad``).

    Example:
        >>> w = rustdl.ones(3, requires_grad=True)
        >>> h = w.register_post_accumulate_grad_hook(lambda p: print(p.grad))
        >>> (w * 2).sum().backward()   # prints the gradient [2, 2, 2]
        >>> h.remove()
    """
    # the hook gets this very object (a Parameter stays the key of an optimizer dict), held
    # weakly so the hook does not keep the tensor alive
    if not callable(hook):
        raise TypeError("register_post_accumulate_grad_hook: the hook must be callable")
    ref = weakref.ref(self)

    def call(t: Tensor) -> None:
        me = ref()
        return hook(t if me is None else me)

    return _TensorHookHandle(self, self._register_post_accumulate_grad_hook(call))


Tensor.register_hook = _register_hook


def _node_register_hook(self: Any, hook: Callable[..., Any]) -> _TensorHookHandle:
    """Registers ``hook(grad_inputs, grad_outputs)`` on this node, as PyTorch's
    ``Node.register_hook``: it runs after the node's backward rule, sees the gradients for the
    node's inputs (``None`` where none is needed) and the gradient the node received, and may
    return a tuple that replaces the former."""
    return _TensorHookHandle(self, self._register_hook(hook))


def _node_register_prehook(self: Any, hook: Callable[..., Any]) -> _TensorHookHandle:
    """Registers ``hook(grad_outputs)`` on this node, as PyTorch's ``Node.register_prehook``: it
    runs before the node's backward rule and may return a tuple that replaces the gradient."""
    return _TensorHookHandle(self, self._register_prehook(hook))


Tensor.register_post_accumulate_grad_hook = _register_post_accumulate_grad_hook
_Node.register_hook = _node_register_hook
_Node.register_prehook = _node_register_prehook


# ---- each node's class is named after its op (``type(y.grad_fn).__name__ == "SumBackward0"``,
# as PyTorch's generated node classes; graph drawers label nodes with it), a subclass of Node

_NODE_CLASSES: dict[str, type] = {}


def _named_node(node: Any) -> Any:
    """``node`` with its class switched to the Node subclass named after its op."""
    if type(node) is not _Node:
        return node
    name = node.name()
    cls = _NODE_CLASSES.get(name)
    if cls is None:
        label = name if name.isidentifier() else "Node"
        cls = type(label, (_Node,), {"__slots__": (), "__module__": _Node.__module__})
        _NODE_CLASSES[name] = cls
    node.__class__ = cls
    return node


_grad_fn_of = Tensor.grad_fn
_next_functions_of = _Node.next_functions


def _grad_fn(self: Tensor) -> Any:
    """The node that made this tensor (None for a leaf or a tensor made without grad)."""
    return _named_node(_grad_fn_of.__get__(self))


def _next_functions(self: Any) -> tuple:
    """``((node, 0), ...)`` for each input: its node, ``AccumulateGrad`` for a leaf, or None."""
    return tuple((_named_node(f), i) for f, i in _next_functions_of.__get__(self))


if _Node.__flags__ & (1 << 10):  # Py_TPFLAGS_BASETYPE: the core lets Node be subclassed
    Tensor.grad_fn = property(_grad_fn, doc=_grad_fn.__doc__)
    _Node.next_functions = property(_next_functions, doc=_next_functions.__doc__)
